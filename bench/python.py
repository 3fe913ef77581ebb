"""python.py - the Python phase of `make bench`: the standard workload
(bench/README.md) from one Python process, through the protets package,
beside a dict, multiprocessing.Manager().dict() and redis-py.

    PYTHONPATH=build/python/lib python3 bench/python.py -n N -r RUNS \\
        -d build/protetsd [-m MANAGER_N] [--redis-n REDIS_N]

Prints "NAME PHASE VALUE" lines (operations per second, the median of
RUNS runs): py_protets, py_dict, py_manager, py_redis, each with insert
(keys in order), lookup_hit (random order, xorshift64 seeded 42, each
value's first byte read), lookup_miss (the miss keys, in order); and
py_protets counter (N update_counter +1 on the 1000 hot keys).  A peer
that is not installed (redis-server, python3-redis) is skipped with a
note on stderr.  The Manager and Redis make one round trip per
operation: they run on the first MANAGER_N / REDIS_N keys (default
20,000), the hot loop otherwise the same.  The loops are plain Python
`for` loops, what a program does: the figures include the interpreter's
own cost per operation, which is most of it.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import protets

MASK = (1 << 64) - 1


def note(msg):
    print("bench: python: " + msg, file=sys.stderr, flush=True)


def order(n):
    """The random order of the workload: xorshift64 (13, 7, 17), seed 42."""
    x, out = 42, []
    for _ in range(n):
        x ^= (x << 13) & MASK
        x ^= x >> 7
        x ^= (x << 17) & MASK
        out.append(x % n)
    return out


class Workload:
    def __init__(self, n):
        self.n = n
        self.keys = [b"key:%010d" % i for i in range(n)]
        self.vals = [b"val:%028d" % i for i in range(n)]
        self.rand = [self.keys[i] for i in order(n)]
        self.miss = [b"nokey:%08d" % i for i in range(n)]
        self.ctrs = [b"ctr:%04d" % (i % 1000) for i in order(n)]
        # what the lookups read: the sum of the first bytes ("v")
        self.hit_sum = ord("v") * n


def timed(fn):
    t0 = time.perf_counter()
    r = fn()
    return time.perf_counter() - t0, r


def phases(w, put, get, n=None):
    """insert, lookup_hit, lookup_miss through put/get; ops per second."""
    n = n or w.n
    keys, vals = w.keys[:n], w.vals[:n]
    rand = w.rand if n == w.n else [k for k in w.rand if int(k[4:]) < n]
    miss = w.miss[:n]

    def ins():
        for k, v in zip(keys, vals):
            put(k, v)

    def hit():
        s = 0
        for k in rand:
            s += get(k)[0]
        return s

    def mis():
        m = 0
        for k in miss:
            if get(k) is None:
                m += 1
        return m
    ti, _ = timed(ins)
    th, s = timed(hit)
    tm, m = timed(mis)
    if s != ord("v") * len(rand) or m != n:
        raise SystemExit("bench: python: wrong results (%d, %d)" % (s, m))
    return {"insert": n / ti, "lookup_hit": len(rand) / th,
            "lookup_miss": n / tm}


class Daemon:
    """A private protetsd in a temporary directory, as bench.c starts one."""

    def __init__(self, protetsd, size):
        self.dir = tempfile.mkdtemp(prefix="protets-bench-py.")
        conf = os.path.join(self.dir, "protets.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\nsocket = sock\npidfile = pid\nworkers = 1\n"
                    "[tables]\nmax_size = %d\n" % size)
        self.sock = os.path.join(self.dir, "sock")
        self.log = open(os.path.join(self.dir, "log"), "wb")
        self.proc = subprocess.Popen([protetsd, "-d", "-c", conf],
                                     stdout=self.log, stderr=self.log)
        end = time.monotonic() + 30
        while True:
            try:
                protets.connect(self.sock).close()
                return
            except protets.Error:
                if self.proc.poll() is not None or time.monotonic() > end:
                    raise SystemExit("bench: python: protetsd did not start")
                time.sleep(0.01)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_protets(w, sock, size, r):
    with protets.connect(sock) as c:
        t = c.get("pybench%d" % r, access="public", max_size=size)
    res = phases(w, t.__setitem__, t.get)
    upd = t.update_counter

    def ctr():
        for k in w.ctrs:
            upd(k, 1, default=0)
    tc, _ = timed(ctr)
    if sum(int(t[b"ctr:%04d" % i]) for i in range(min(1000, w.n))) != w.n:
        raise SystemExit("bench: python: counters do not sum to N")
    res["counter"] = w.n / tc
    t.close()
    with protets.connect(sock) as c:
        c.drop("pybench%d" % r)
    return res


def run_dict(w, _r):
    d = {}
    return phases(w, d.__setitem__, d.get)


def run_manager(w, n, _r):
    import multiprocessing
    with multiprocessing.Manager() as m:
        d = m.dict()
        return phases(w, d.__setitem__, d.get, n)


def redis_server():
    if shutil.which("redis-server") is None:
        note("py_redis skipped: redis-server is not installed")
        return None
    try:
        import redis  # noqa: F401
    except ImportError:
        note("py_redis skipped: python3-redis is not installed")
        return None
    d = tempfile.mkdtemp(prefix="protets-bench-pyredis.")
    sock = os.path.join(d, "sock")
    p = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", sock,
                          "--unixsocketperm", "700", "--save", "",
                          "--appendonly", "no", "--dir", d,
                          "--logfile", os.path.join(d, "log")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.monotonic() + 10
    while not os.path.exists(sock):
        if p.poll() is not None or time.monotonic() > end:
            note("py_redis skipped: redis-server did not start")
            p.kill()
            p.wait()
            shutil.rmtree(d, ignore_errors=True)
            return None
        time.sleep(0.01)
    return p, d, sock


def run_redis(w, n, sock, _r):
    import redis
    c = redis.Redis(unix_socket_path=sock)
    c.flushall()
    return phases(w, c.set, c.get, n)


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def report(name, runs):
    for ph in runs[0]:
        print("%s %s %d" % (name, ph, median([r[ph] for r in runs])),
              flush=True)


def main():
    a = argparse.ArgumentParser()
    a.add_argument("-n", type=int, default=1000000)
    a.add_argument("-r", type=int, default=3)
    a.add_argument("-d", default="build/protetsd")
    a.add_argument("-m", type=int, default=20000)
    a.add_argument("--redis-n", type=int, default=20000)
    o = a.parse_args()
    note("generating the workload (N = %d)" % o.n)
    w = Workload(o.n)
    size = (o.n * 200 + (64 << 20) + 4095) & ~4095
    d = Daemon(o.d, size)
    rs = redis_server()
    res = {"py_protets": [], "py_dict": [], "py_manager": [], "py_redis": []}
    try:
        # each round runs every peer: a shared machine's drift over the
        # minutes of the run falls on all alike (their ratios are the
        # targets)
        for r in range(o.r):
            note("round %d/%d: protets, dict, Manager().dict() (%d keys)%s"
                 % (r + 1, o.r, min(o.m, o.n), ", redis-py (%d keys)" %
                    min(o.redis_n, o.n) if rs else ""))
            res["py_protets"].append(run_protets(w, d.sock, size, r))
            res["py_dict"].append(run_dict(w, r))
            res["py_manager"].append(run_manager(w, min(o.m, o.n), r))
            if rs is not None:
                res["py_redis"].append(run_redis(w, min(o.redis_n, o.n),
                                                 rs[2], r))
    finally:
        d.stop()
        if rs is not None:
            rs[0].terminate()
            rs[0].wait()
            shutil.rmtree(rs[1], ignore_errors=True)
    for name, runs in res.items():
        if runs:
            report(name, runs)


if __name__ == "__main__":
    main()
