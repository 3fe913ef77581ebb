"""test_api.py - every operation of protets.Table and Connection, and the
exception each error code raises."""
import collections.abc
import os

import pytest

import protets


def test_mapping_set(conn, name):
    t = conn.get(name)
    assert isinstance(t, protets.Table)
    assert isinstance(t, collections.abc.MutableMapping)
    assert (t.name, t.type, t.access, t.writable) == \
        (name, "set", "protected", True)
    t["a"] = b"1"                       # str key, UTF-8
    t[b"b"] = "zwei"                    # str value, UTF-8
    t[bytearray(b"c")] = memoryview(b"3")
    t["é"] = "ü"
    assert t["a"] == b"1" and t[b"a"] == b"1"
    assert t["b"] == b"zwei" and t[b"c"] == b"3"
    assert t["é".encode()] == "ü".encode()
    with pytest.raises(KeyError):
        t["missing"]
    assert "a" in t and "missing" not in t
    assert len(t) == 4 and t.count() == 4
    assert t.get("a") == b"1" and t.get("x") is None and t.get("x", 7) == 7
    assert sorted(t) == sorted([b"a", b"b", b"c", "é".encode()])
    assert sorted(t.items()) == sorted(zip(t.keys(), t.values()))
    t["a"] = b"one"
    assert t["a"] == b"one" and len(t) == 4
    del t["a"]
    with pytest.raises(KeyError):
        del t["a"]
    assert t.setdefault("s", b"first") == b"first"
    assert t.setdefault("s", b"second") == b"first"
    assert t.pop("s") == b"first" and t.pop("s", None) is None
    with pytest.raises(KeyError):
        t.pop("s")
    t.update({"u1": b"1", "u2": b"2"})
    assert t["u2"] == b"2"
    assert dict(t.items()) == {k: t[k] for k in t}
    t.clear()
    assert len(t) == 0 and list(t) == [] and t.first() is None
    with pytest.raises(TypeError):
        t["k"] = 5
    with pytest.raises(TypeError):
        t[None]
    t.close()
    assert t.closed
    with pytest.raises(ValueError):
        t["a"]
    conn.drop(name)


def test_big_values(conn, name):
    t = conn.get(name)
    for n in (0, 511, 512, 513, 4096, protets.VALUE_MAX):
        v = bytes([n % 251]) * n
        t["k%d" % n] = v
        assert t["k%d" % n] == v
        assert t.lookup_all("k%d" % n) == [v]
    with pytest.raises(protets.TooBig) as e:
        t["big"] = b"x" * (protets.VALUE_MAX + 1)
    assert e.value.errmsg == "the value has 1048577 bytes, above " \
        "VALUE_MAX (1048576)"
    with pytest.raises(protets.TooBig) as e:
        t[b"k" * (protets.KEY_MAX + 1)] = b"v"
    assert e.value.errmsg == "the key has 4097 bytes, above KEY_MAX (4096)"
    with pytest.raises(protets.TooBig) as e:
        t.insert_many([("a", "b"), ("c", b"x" * (protets.VALUE_MAX + 1))])
    assert e.value.errmsg.startswith("entry 1: the value has 1048577 bytes")
    with pytest.raises(protets.InvalidArgument) as e:
        t[b""] = b"v"
    assert str(e.value).endswith(": the key is empty")
    assert isinstance(protets.TooBig("x"), ValueError)


def test_ets_operations(conn, name):
    t = conn.get(name, "set", "public")
    assert t.insert_new("k", "v") is True
    assert t.insert_new("k", "w") is False
    assert t["k"] == b"v"
    t.insert("k2", "v2")
    assert t.take("k2") == [b"v2"] and t.take("k2") == []
    assert t.delete("k") == 1 and t.delete("k") == 0
    t["o"] = b"1"
    t.delete_object("o", b"2")
    assert "o" in t
    t.delete_object("o", b"1")
    assert "o" not in t
    assert t.update_counter("c", default=0) == 1
    assert t.update_counter("c", 10) == 11
    assert t["c"] == b"11"
    assert t.update_counter("c", -20) == -9
    assert t.update_counter("c", 100, threshold=50, setvalue=0) == 0
    assert t.update_counter("d", -1, default=5, threshold=3,
                            setvalue=3) == 4
    with pytest.raises(KeyError):
        t.update_counter("nope")
    t["text"] = b"abc"
    with pytest.raises(protets.InvalidArgument):
        t.update_counter("text")
    t["max"] = str(2 ** 63 - 1)
    with pytest.raises(protets.RangeError):
        t.update_counter("max")
    with pytest.raises(OverflowError):
        t.update_counter("max")
    assert t["max"] == str(2 ** 63 - 1).encode()
    with pytest.raises(TypeError):
        t.update_counter("c", threshold=1)


def test_insert_many_atomic(conn, name):
    t = conn.get(name)
    t.insert_many([("a", "1"), (b"b", b"2")])
    t.insert_many({"c": "3"})
    assert dict(t.items()) == {b"a": b"1", b"b": b"2", b"c": b"3"}
    # a bad entry anywhere: nothing written
    with pytest.raises(protets.TooBig):
        t.insert_many([("d", "4"), ("e", b"x" * (protets.VALUE_MAX + 1))])
    with pytest.raises(TypeError):
        t.insert_many([("d", "4"), ("e", 5)])
    with pytest.raises(ValueError):
        t.insert_many([("d", "4", "5")])
    assert "d" not in t and len(t) == 3
    assert t.insert_many([("d", "4"), ("a", "9")], new=True) is False
    assert "d" not in t and t["a"] == b"1"
    assert t.insert_many([("d", "4"), ("e", "5")], new=True) is True
    assert len(t) == 5
    with pytest.raises(protets.LimitReached):
        t.insert_many([("big%05d" % i, "v") for i in range(20000)])
    assert len(t) == 5


def test_bags(conn, name):
    b = conn.get(name, type="bag")
    b["k"] = "1"
    b["k"] = "2"
    b["k"] = "1"                         # equal entry: no-op
    assert b["k"] == b"1"
    assert b.lookup_all("k") == [b"1", b"2"]
    assert b.lookup_all("none") == []
    assert len(b) == 2
    b.delete_object("k", "1")
    assert b.lookup_all("k") == [b"2"]
    d = conn.get(name + "-dup", type="duplicate_bag")
    for v in ("x", "x", "y"):
        d.insert("k", v)
    assert d.lookup_all("k") == [b"x", b"x", b"y"]
    assert d.take("k") == [b"x", b"x", b"y"] and len(d) == 0
    d.insert_many([("k", "1"), ("k", "1")])
    assert d.delete("k") == 2
    with pytest.raises(protets.InvalidArgument):
        d.update_counter("k", default=0)


def test_ordered_walks_and_select(conn, name):
    t = conn.get(name, type="ordered_set")
    keys = [b"a", b"ab", b"b", b"ba", b"bb", b"c"]
    for i, k in enumerate(reversed(keys)):
        t[k] = b"%d" % i
    assert list(t) == keys
    assert t.keys() == keys
    assert [k for k, _ in t.items()] == keys
    assert t.first() == b"a" and t.last() == b"c"
    assert t.next(b"a") == b"ab" and t.next(b"az") == b"b"
    assert t.prev(b"b") == b"ab" and t.prev(b"a") is None
    assert t.next(b"c") is None
    assert [k for k, _ in t.select(prefix=b"b")] == [b"b", b"ba", b"bb"]
    assert [k for k, _ in t.select(start=b"ab", stop=b"bb")] == \
        [b"ab", b"b", b"ba"]
    assert [k for k, _ in t.select(start="b")] == [b"b", b"ba", b"bb", b"c"]
    assert [k for k, _ in t.select(limit=2)] == [b"a", b"ab"]
    assert t.select(prefix=b"b", limit=1) == [(b"b", t[b"b"])]
    assert t.select_count(prefix=b"b", stop=b"bb") == 2
    assert t.select_count() == 6
    assert t.select_delete(prefix=b"b") == 3
    assert list(t) == [b"a", b"ab", b"c"]
    with pytest.raises(ValueError):
        t.select(limit=-1)
    with pytest.raises(TypeError):
        t.select(b"a")        # keyword-only


def test_iteration_of_a_set(conn, name):
    t = conn.get(name)
    want = {b"k%d" % i for i in range(500)}
    t.insert_many([(k, k) for k in sorted(want)][:30])
    for k in sorted(want)[30:]:
        t[k] = k
    got = list(t)
    assert len(got) == len(want) and set(got) == want
    # first/next give the same order as iteration
    walk, k = [], t.first()
    while k is not None:
        walk.append(k)
        k = t.next(k)
    assert walk == got


def test_connection(daemon, conn, name):
    assert conn.socket == daemon.sock
    t = conn.get(name, access="public", max_size=1 << 20,
                 write_concurrency=2)
    t["k"] = "v"
    i = conn.info(name)
    assert (i["name"], i["type"], i["access"], i["entries"],
            i["write_concurrency"]) == (name, "set", "public", 1, 2)
    assert i == t.info()
    assert name in [x["name"] for x in conn.list()]
    roles = sorted(p["role"] for p in conn.procs())
    assert roles == ["monitor", "supervisor", "worker", "worker"]
    assert conn.open(name)["k"] == b"v"
    conn.set_access(name, "protected")
    assert conn.info(name)["access"] == "protected"
    with pytest.raises(protets.Busy):
        conn.drop(name)
    t.close()
    conn.drop(name)
    with pytest.raises(protets.NotFound):
        conn.open(name)
    with pytest.raises(LookupError):
        conn.info(name)
    with daemon.connect() as c2:
        assert not c2.closed
        t2 = c2.get(name, access="public")
    assert c2.closed
    t2["still"] = "mapped"               # a table outlives its connection
    assert t2.info()["entries"] == 1
    t2.close()
    conn.drop(name)
    with pytest.raises(ValueError):
        c2.get(name)


def test_save_load(conn, name, tmp_path):
    t = conn.get(name, type="ordered_set", access="public")
    t.insert_many([(b"k%03d" % i, b"v%d" % i) for i in range(30)])
    p = tmp_path / "t.save"
    t.save(str(p))
    t2 = conn.load(p, name + "-copy")
    assert (t2.type, t2.access) == ("ordered_set", "public")
    assert t2.items() == t.items()
    with pytest.raises(protets.Exists):
        conn.load(p, name + "-copy")
    bad = tmp_path / "bad"
    bad.write_bytes(b"not a saved table" * 10)
    with pytest.raises(protets.BadFile):
        conn.load(bad, name + "-bad")
    with pytest.raises(FileNotFoundError):
        conn.load(tmp_path / "none", name + "-none")
    with pytest.raises(OSError):
        t.save(str(tmp_path / "no" / "dir" / "t"))


def test_get_options(conn, name):
    t = conn.get(name, type="bag", access="public")
    assert conn.get(name).type == "bag"           # None: no constraint
    with pytest.raises(protets.Mismatch) as e:
        conn.get(name, type="set")
    assert "bag" in e.value.errmsg
    with pytest.raises(protets.Mismatch):
        conn.get(name, access="private")
    with pytest.raises(protets.Exists):
        conn.get(name, create_only=True)
    with pytest.raises(ValueError):
        conn.get(name, type="tree")
    with pytest.raises(ValueError):
        conn.get(name, access="open")
    with pytest.raises(protets.InvalidArgument):
        conn.get("bad\nname")
    with pytest.raises(protets.InvalidArgument):
        conn.get(name + "-o", type="ordered_set", write_concurrency=4)
    t.close()


def test_limits_reach_the_caller(conn, name):
    with pytest.raises(protets.LimitReached) as e:
        conn.get(name, max_size=1 << 40)
    assert "max_size" in e.value.errmsg
    assert str(e.value) == "%s: %s" % (
        "a configured limit was reached", e.value.errmsg)
    with pytest.raises(protets.InvalidArgument) as e:
        conn.get(name, max_size=4096)
    assert e.value.errmsg


def test_full(conn, name):
    t = conn.get(name, max_size=256 << 10)
    with pytest.raises(protets.Full):
        for i in range(100000):
            t[b"k%d" % i] = b"v" * 100
    n = len(t)
    assert n > 0 and "k%d" % n not in t     # the failed insert left nothing
    with pytest.raises(protets.Full):
        t.insert_many([("x", "y"), ("k%d" % (n + 1), b"v" * 100000)])
    assert "x" not in t and len(t) == n
    del t["k0"]
    t["x"] = "y"                  # room again
    assert len(t) == n and t.check() is None


def test_unreachable(tmp_path, monkeypatch):
    monkeypatch.setenv("PROTETS_CONNECT_TIMEOUT_MS", "0")
    with pytest.raises(protets.Unreachable) as e:
        protets.connect(str(tmp_path / "nothing"))
    assert isinstance(e.value, ConnectionError)
    assert "nothing" in e.value.errmsg
    with pytest.raises(protets.InvalidArgument):
        protets.connect("/" + "x" * 200)


def test_exception_classes():
    assert issubclass(protets.Locked, TimeoutError)
    assert issubclass(protets.AccessDenied, PermissionError)
    assert issubclass(protets.NotFound, LookupError)
    codes = {c.code for c in protets._errors.BY_CODE.values()}
    assert codes == set(range(-30819, -30799))
    for c in protets._errors.BY_CODE.values():
        assert issubclass(c, protets.Error)
        assert getattr(protets, c.__name__) is c


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to be another uid")
def test_access_denied_to_another_uid(conn, name):
    prot = conn.get(name, access="protected")
    prot["k"] = "v"
    priv = conn.get(name + "-p", access="private")
    sock = conn.socket
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            c = protets.connect(sock)
            t = c.open(name)
            ok = not t.writable and t["k"] == b"v"
            try:
                t["k"] = "w"
                ok = False
            except PermissionError:
                pass
            try:
                c.open(name + "-p")
                ok = False
            except protets.AccessDenied:
                pass
            try:
                c.drop(name)
                ok = False
            except protets.AccessDenied:
                pass
            code = 0 if ok else 2
        finally:
            os._exit(code)
    _, st = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(st) == 0
    priv.close()


def test_stale_after_the_daemon_stopped(monkeypatch):
    from conftest import Daemon
    d = Daemon(workers=1, extra="state_dir = state")   # a stop retires
    try:
        with d.connect() as c:
            t = c.get("gone", access="public")
        t["k"] = "v"
        assert d.term() == 0
        monkeypatch.setenv("PROTETS_CONNECT_TIMEOUT_MS", "0")
        with pytest.raises(protets.Stale):
            t["k"] = "w"
        with pytest.raises(protets.Stale):
            t["k"]
        t.close()
    finally:
        d.stop()


def test_small_things(daemon, conn, name):
    t = conn.get(name)
    assert repr(t) == "<protets.Table '%s' set protected>" % name
    assert repr(conn).startswith("<protets.Connection ")
    t.lock_timeout = 0.25
    assert t.lock_timeout == 0.25 and t.lock_holder == 0
    with pytest.raises(ValueError):
        t.lock_timeout = -1
    t["k"] = "v"
    assert t.lookup_all("k") == [b"v"] and t.lookup_all("x") == []
    t.delete_all_objects()
    assert len(t) == 0
    with t:
        pass
    assert t.closed and repr(t) == "<protets.Table closed>"
    with pytest.raises(ValueError):
        t.name
    with pytest.raises(ValueError):
        list(t)
    os.environ["PROTETS_SOCKET"] = daemon.sock
    try:
        assert protets.default_socket() == daemon.sock
        with protets.connect() as c:
            assert c.socket == daemon.sock
    finally:
        del os.environ["PROTETS_SOCKET"]
