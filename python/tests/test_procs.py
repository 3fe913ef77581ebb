"""test_procs.py - tables across os.fork() and multiprocessing, from
threads, and the GIL released while a write waits for a lock."""
import multiprocessing
import os
import signal
import threading

import pytest

import protets

from conftest import wait_for


def child(fn):
    """Run fn() in a forked child; its exit status (0: fn returned True)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if fn() else 2
        finally:
            os._exit(code)
    _, st = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(st)


def test_table_across_fork(conn, name):
    t = conn.get(name, access="public")
    t["before"] = "fork"

    def work():
        assert t["before"] == b"fork"
        t["child"] = str(os.getpid())
        t.update_counter("n", 1, default=0)
        return True
    assert child(work) == 0
    assert t["child"] != str(os.getpid()).encode()
    assert t["n"] == b"1"


def test_connection_across_fork(conn, name):
    conn.get(name, access="public")["k"] = "v"

    def work():
        # the inherited connection reconnects in the child
        t2 = conn.get(name + "-child", access="public")
        t2["x"] = "y"
        return conn.open(name)["k"] == b"v"
    assert child(work) == 0
    assert child(work) == 0            # a second child: the table exists
    assert conn.open(name + "-child")["x"] == b"y"   # parent's still works
    assert conn.info(name)["entries"] == 1


def _pool_work(args):
    sock, name, n = args
    with protets.connect(sock) as c:
        t = c.get(name, access="public")
        for _ in range(n):
            t.update_counter("hits", 1, default=0)
    return n


def test_multiprocessing_pool(daemon, conn, name):
    t = conn.get(name, access="public")
    for method in ("fork", "spawn"):
        ctx = multiprocessing.get_context(method)
        with ctx.Pool(3) as pool:
            done = sum(pool.map(_pool_work, [(daemon.sock, name, 2000)] * 6))
        assert done == 12000
    assert t["hits"] == b"24000"


def test_inherited_table_in_pool(conn, name):
    t = conn.get(name, access="public")
    ctx = multiprocessing.get_context("fork")

    def worker(i):
        t.insert_many([(b"p%d:%d" % (i, j), b"v") for j in range(20)])
        t.update_counter("total", 20, default=0)
    procs = [ctx.Process(target=worker, args=(i,)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    assert t["total"] == b"80" and len(t) == 81


def _spawned(t):
    t.update_counter("spawned", 1, default=0)


def test_table_pickled_to_a_spawned_process(conn, name):
    t = conn.get(name, access="public")
    p = multiprocessing.get_context("spawn").Process(target=_spawned,
                                                     args=(t,))
    p.start()
    p.join()
    assert p.exitcode == 0 and t["spawned"] == b"1"


def test_threads(conn, name):
    t = conn.get(name, access="public", write_concurrency=4)
    errors = []

    def work(i):
        try:
            for j in range(3000):
                t.update_counter(b"c%d" % (j % 7), 1, default=0)
                t[b"t%d:%d" % (i, j % 50)] = b"%d" % j
                assert t.get(b"t%d:%d" % (i, j % 50)) is not None
            tables = conn.list()
            assert any(x["name"] == name for x in tables)
        except Exception as e:   # noqa: BLE001 - reported below
            errors.append(e)
    th = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for x in th:
        x.start()
    for x in th:
        x.join()
    assert not errors
    assert sum(int(t[b"c%d" % k]) for k in range(7)) == 12000
    assert len(t) == 7 + 4 * 50


def _writer_loop(t, batch):
    while True:
        t.insert_many(batch)


def stopped_holder(t, writer_pid):
    """SIGSTOP the writer until it is stopped holding t's write lock."""
    t.lock_timeout = 0
    while True:
        os.kill(writer_pid, signal.SIGSTOP)
        wait_for(lambda: _state(writer_pid) == "T", "writer stopped")
        try:
            t["probe"] = "x"
        except protets.Locked as e:
            assert isinstance(e, TimeoutError)
            assert e.holder == writer_pid == t.lock_holder
            return
        os.kill(writer_pid, signal.SIGCONT)


def _state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def _segment(name):
    """The address range of table name's mapping in this process."""
    with open("/proc/self/maps") as f:
        for line in f:
            if line.rstrip().endswith("/memfd:protets:%s (deleted)" % name):
                lo, hi = line.split()[0].split("-")
                return int(lo, 16), int(hi, 16)
    raise AssertionError("no mapping of " + name)


def _futex_in(tid, lo, hi):
    """Is thread tid asleep in futex(2) on a word in [lo, hi)?"""
    try:
        with open("/proc/self/task/%d/syscall" % tid) as f:
            a = f.read().split()
    except FileNotFoundError:
        return False
    return a[0] == "202" and lo <= int(a[1], 16) < hi   # x86_64 futex


def test_locked_and_gil_released(conn, name):
    t = conn.get(name, access="public")
    batch = [(b"w%03d" % i, b"x" * 200) for i in range(32)]
    pid = os.fork()
    if pid == 0:
        try:
            _writer_loop(t, batch)
        finally:
            os._exit(1)
    try:
        wait_for(lambda: "w000" in t, "the writer's first batch")
        stopped_holder(t, pid)
        # A write that waits for the stopped holder, in a thread.  This
        # thread sees it asleep on the table's lock word, inside the
        # library, and continues the holder: it could not if the waiting
        # thread held the GIL (the write would end in Locked after 20 s).
        t.lock_timeout = 20
        result = []

        def write():
            try:
                t["waiting"] = "done"
                result.append("ok")
            except protets.Error as e:
                result.append(e)
        th = threading.Thread(target=write)
        th.start()
        lo, hi = _segment(name)
        wait_for(lambda: th.native_id and _futex_in(th.native_id, lo, hi),
                 "the writer asleep on the lock word")
        assert t["w000"] == b"x" * 200          # reads go on meanwhile
        os.kill(pid, signal.SIGCONT)
        th.join()
        assert result == ["ok"]
        assert t["waiting"] == b"done"
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert t.check() is None
