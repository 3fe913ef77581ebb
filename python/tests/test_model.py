"""test_model.py - random operations on a set and an ordered_set, each
checked against a dict doing the same (PROTETS_SEED replays a run,
PROTETS_PY_MODEL_OPS sets its length)."""
import os
import random

import pytest

import protets

SEED = int(os.environ.get("PROTETS_SEED", random.randrange(1 << 30)))
OPS = int(os.environ.get("PROTETS_PY_MODEL_OPS", "6000"))


def key(r):
    # few enough keys that operations meet each other, and prefixes
    return b"k%d" % r.randrange(300)


def val(r):
    return b"v" * r.randrange(0, 40) + b"%d" % r.randrange(1000)


def in_range(k, prefix, start, stop):
    return k.startswith(prefix or b"") and (start is None or k >= start) \
        and (stop is None or k < stop)


def step(r, t, m, ordered):
    op = r.randrange(16)
    k = key(r)
    if op == 0:
        v = val(r)
        t[k] = v
        m[k] = v
    elif op == 1:
        v = val(r)
        assert t.insert_new(k, v) == (k not in m)
        m.setdefault(k, v)
    elif op == 2:
        if k in m:
            del t[k]
            del m[k]
        else:
            with pytest.raises(KeyError):
                del t[k]
    elif op == 3:
        assert t.take(k) == ([m.pop(k)] if k in m else [])
    elif op == 4:
        assert t.get(k) == m.get(k)
        assert (k in t) == (k in m)
    elif op == 5:
        d = r.choice([b"0", b"17"])
        v = t.setdefault(k, d)
        assert v == m.setdefault(k, d)
    elif op == 6:
        incr = r.randrange(-5, 6)
        cur = m.get(k, b"0")
        if cur.lstrip(b"-").isdigit():
            n = t.update_counter(k, incr, default=0)
            assert n == int(cur) + incr
            m[k] = b"%d" % n
        else:
            with pytest.raises(protets.InvalidArgument):
                t.update_counter(k, incr, default=0)
    elif op == 7:
        batch = [(key(r), val(r)) for _ in range(r.randrange(1, 20))]
        t.insert_many(batch)
        m.update(batch)
    elif op == 8:
        assert t.delete(k) == (1 if m.pop(k, None) is not None else 0)
    elif op == 9:
        v = r.choice([m.get(k, b"x"), b"other"])
        t.delete_object(k, v)
        if m.get(k) == v:
            del m[k]
    elif op == 10:
        prefix = r.choice([None, b"k1", b"k2"])
        start = r.choice([None, key(r)])
        stop = r.choice([None, key(r)])
        want = sorted((kk, vv) for kk, vv in m.items()
                      if in_range(kk, prefix, start, stop))
        got = t.select(prefix=prefix, start=start, stop=stop)
        assert (got if ordered else sorted(got)) == want
        assert t.select_count(prefix=prefix, start=start, stop=stop) == \
            len(want)
    elif op == 11:
        assert len(t) == len(m)
    elif op == 12 and r.randrange(10) == 0:
        got = list(t)
        assert (got if ordered else sorted(got)) == sorted(m)
    elif op == 13 and ordered:
        nk = t.next(k)
        after = [kk for kk in sorted(m) if kk > k]
        assert nk == (after[0] if after else None)
        pk = t.prev(k)
        before = [kk for kk in sorted(m) if kk < k]
        assert pk == (before[-1] if before else None)
    elif op == 14:
        assert t.pop(k, None) == m.pop(k, None)
    elif op == 15 and r.randrange(50) == 0:
        prefix = b"k%d" % r.randrange(10)
        n = t.select_delete(prefix=prefix)
        gone = [kk for kk in m if kk.startswith(prefix)]
        assert n == len(gone)
        for kk in gone:
            del m[kk]


@pytest.mark.parametrize("type_", ["set", "ordered_set"])
def test_model(conn, name, type_):
    r = random.Random(SEED)
    t = conn.get(name, type=type_)
    m = {}
    for i in range(OPS):
        try:
            step(r, t, m, type_ == "ordered_set")
        except AssertionError as e:
            raise AssertionError("PROTETS_SEED=%d, step %d: %s" %
                                 (SEED, i, e)) from e
    assert dict(t.items()) == m
    if type_ == "ordered_set":
        assert t.keys() == sorted(m)
    assert t.check() is None
