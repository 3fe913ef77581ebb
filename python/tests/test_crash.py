"""test_crash.py - Python writers while the daemon's processes die: a
worker killed with SIGKILL, the whole daemon stopped and started again
(its state directory keeps the table), and a Python writer itself killed
with SIGKILL mid-write.  Nothing written is lost, no writer sees an
exception, and the table passes `protets check`."""
import faulthandler
import multiprocessing
import os
import signal
import subprocess

import pytest

import protets

from conftest import BUILD, Daemon, wait_for

WRITERS = 3


@pytest.fixture
def sdaemon(monkeypatch):
    # the writers' clients ride out a restart: dial for up to 30 s
    monkeypatch.setenv("PROTETS_CONNECT_TIMEOUT_MS", "30000")
    d = Daemon(workers=2, extra="state_dir = state")
    yield d
    d.stop()


def _writer(sock, name, p):
    """Insert p:i and bump c<p> until the table has "stop"; then report
    in done<p> the n written, or the exception raised (no Queue: its
    feeder thread, started in a forked child, hung under ASan)."""
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    with protets.connect(sock) as c:
        t = c.get(name, access="public")
    n = 0
    try:
        while "stop" not in t:
            t.insert_many([(b"%d:%d" % (p, n), b"v%d" % n)])
            t.update_counter(b"c%d" % p, 1, default=0)
            n += 1
        t[b"done%d" % p] = b"%d" % n
    except BaseException as e:   # noqa: BLE001 - the parent reports it
        t[b"done%d" % p] = "error: %r" % e
        raise


def _progress(t):
    """Every writer's count so far."""
    return [int(t.get(b"c%d" % p, b"0")) for p in range(WRITERS)]


def _all_past(t, mark):
    return all(n > m for n, m in zip(_progress(t), mark))


def _results(t, procs):
    """What every writer reported: [(p, n)]."""
    def reported():
        return all(b"done%d" % p in t for p in range(WRITERS))
    try:
        wait_for(reported, "writers to report")
    finally:
        for p in procs:     # where a silent one is, on stderr
            if p.exitcode is None and not reported():
                os.kill(p.pid, signal.SIGUSR1)
    out = [(p, t[b"done%d" % p]) for p in range(WRITERS)]
    assert all(v.isdigit() for _, v in out), out
    return [(p, int(v)) for p, v in out]


def _run_writers(d, name, event):
    """Start the writers, run event() once they wrote, stop, verify."""
    ctx = multiprocessing.get_context("fork")
    with d.connect() as c:
        t = c.get(name, access="public")
    procs = [ctx.Process(target=_writer, args=(d.sock, name, p))
             for p in range(WRITERS)]
    for p in procs:
        p.start()
    try:
        wait_for(lambda: _all_past(t, [100] * WRITERS), "writers to write")
        t = event(t)
        after = [n + 100 for n in _progress(t)]
        wait_for(lambda: _all_past(t, after), "every writer to go on")
        t["stop"] = "1"
        results = _results(t, procs)
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.exitcode is None:
                p.kill()
                p.join()
    assert [p.exitcode for p in procs] == [0] * WRITERS
    for p, n in results:
        assert int(t[b"c%d" % p]) == n
        assert t.select_count(prefix=b"%d:" % p) == n
        assert all(b"%d:%d" % (p, i) in t for i in range(n))
    # c<p>, done<p> and the p:i of every writer, and stop
    assert len(t) == 1 + sum(n + 2 for _, n in results)
    check = subprocess.run([os.path.join(BUILD, "protets"), "-s", d.sock,
                            "check", name], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_worker_killed_while_writing(sdaemon, name):
    def kill_owner(t):
        sdaemon.kill_worker(t.info()["worker"])
        return t
    _run_writers(sdaemon, name, kill_owner)


def test_daemon_restart_while_writing(sdaemon, name):
    def restart(t):
        old = t.info()["id"]
        assert sdaemon.term() == 0
        sdaemon.launch()
        t.close()
        with sdaemon.connect() as c:
            t = c.get(name, access="public")
        assert t.info()["id"] == old
        return t
    _run_writers(sdaemon, name, restart)


GROUPS = 200     # a writer rewrites its batches in turn: the table stays small


def _groups(t, r):
    """Round r's batches as {group: {values}}: one value if the batch that
    last wrote the group is whole."""
    seen = {}
    for k, v in t.select(prefix=b"b%d." % r):
        seen.setdefault(k.split(b":")[0], set()).add(v)
    return seen


def test_python_writer_killed_mid_write(daemon, conn, name):
    t = conn.get(name, access="public", type="ordered_set")
    for r in range(5):
        pid = os.fork()
        if pid == 0:
            try:
                n = 0
                while True:
                    t.insert_many([(b"b%d.%03d:%02d" % (r, n % GROUPS, j),
                                    b"%064d" % n) for j in range(32)])
                    t.update_counter("batches%d" % r, 1, default=0)
                    n += 1
            except BaseException as e:   # noqa: BLE001 - shown, exit 1
                os.write(2, b"writer: %r\n" % e)
            finally:
                os._exit(1)

        def wrote():
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                pytest.fail("the writer exited (its stderr says why)")
            return int(t.get("batches%d" % r, b"0")) > GROUPS + 20
        wait_for(wrote, "the writer to write")
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        assert t.check() is None
        t["after"] = "kill"                 # the lock is free again
        groups = _groups(t, r)
        # every batch whole: its 32 entries, all of one batch's value
        assert len(groups) == GROUPS
        assert all(len(v) == 1 for v in groups.values()), groups
        assert t.select_count(prefix=b"b%d." % r) == 32 * GROUPS
        # update_counter came after each batch: the last may lack it
        last = max(int(v.pop()) for v in groups.values())
        assert int(t["batches%d" % r]) in (last, last + 1)
    check = subprocess.run([os.path.join(BUILD, "protets"), "-s",
                            conn.socket, "check", name],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
