"""HyperLogLog (PFADD PFCOUNT PFMERGE): Redis 7.0's replies, errors and stored bytes. Runs
against redis-server too (FLIN_TARGET=redis). The cross checks start a real redis-server
beside the target ("peer") and move values between the two with GET/SET: both must then
answer alike and store the same bytes, sparse and dense, cached cardinality included.
test_differential.py compares random sequences; src/server/hyperloglog_test.cc the
representation itself."""
import random

import pytest

import flinproc
from flinproc import error_of

WRONGTYPE = "WRONGTYPE Key is not a valid HyperLogLog string value."
CORRUPT = "INVALIDOBJ Corrupted HLL object detected"
EMPTY = b"HYLL\x01" + b"\x00" * 10 + b"\x80\x7f\xff"  # cache invalid, as PFADD leaves it
HEADER = b"HYLL\x01" + b"\x00" * 10 + b"\x80"  # sparse, cache invalid
DENSE_BYTES = 16 + 16384 * 6 // 8


@pytest.fixture(scope="module")
def peer(tmp_path_factory):
    """A real redis-server on a scratch port (no RDB saves), stopped by PID at the end."""
    srv = flinproc.Server(tmp_path_factory.mktemp("peer"), target="redis", name="redis-peer",
                          fsync="no", redis_args=["--appendonly", "no"])
    srv.start()
    c = srv.client()
    yield c
    c.close()
    srv.stop()


@pytest.fixture
def p(peer):
    peer.flushall()
    return peer


def add_many(c, key, prefix, n, batch=1000):
    pipe = c.pipeline(transaction=False)
    for i in range(0, n, batch):
        pipe.pfadd(key, *[f"{prefix}{j}" for j in range(i, min(n, i + batch))])
    return pipe.execute()


def test_pfadd_creates_and_answers_whether_registers_changed(r):
    assert r.pfadd("h") == 1  # no elements: creates the key
    assert r.get("h") == EMPTY
    assert r.pfadd("h") == 0
    assert r.pfcount("h") == 0
    assert r.pfadd("h", "a", "b", "c") == 1
    assert r.pfadd("h", "a", "c") == 0
    assert r.pfcount("h") == 3
    assert r.get("h") == (b"HYLL\x01\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00"
                          b"\x60\xf3\x80\x50\xb1\x84\x4b\xfb\x80\x42\x5a")
    assert r.pfcount("missing") == 0
    assert r.exists("missing") == 0


def test_cached_cardinality_is_answered_as_stored(r):
    r.pfadd("h", "a", "b", "c")
    assert r.pfcount("h") == 3
    v = bytearray(r.get("h"))
    v[8] = 42  # a valid cache is believed, as Redis does
    r.set("h", bytes(v))
    assert r.pfcount("h") == 42
    assert r.pfcount("h", "missing") == 3  # a union is computed
    v[15] |= 0x80  # invalid: recomputed and stored
    r.set("h", bytes(v))
    assert r.pfcount("h") == 3
    assert r.get("h")[8:16] == b"\x03" + b"\x00" * 7


def test_pfmerge(r):
    add_many(r, "a", "x", 200)
    add_many(r, "b", "y", 300)
    assert r.pfmerge("m", "a", "b") is True
    assert r.pfcount("m") == r.pfcount("a", "b")
    assert r.pfmerge("only") is True  # no sources: an empty HLL
    assert r.get("only") == EMPTY
    assert r.pfmerge("a") is True  # dest is a source too
    assert 195 <= r.pfcount("a") <= 205
    add_many(r, "d", "z", 5000)
    assert r.pfmerge("m", "d") is True  # a dense source makes dest dense
    assert len(r.get("m")) == DENSE_BYTES


def test_expiry_is_kept(r):
    r.pfadd("h", "a")
    r.expire("h", 100)
    r.pfadd("h", "b")
    r.pfmerge("h", "missing")
    r.pfcount("h")
    assert 90 < r.ttl("h") <= 100


def test_errors(raw, r):
    r.set("s", "not an hll")
    r.set("n", "12345")
    for key in ("s", "n"):
        assert error_of(raw, "PFADD", key, "a") == WRONGTYPE
        assert error_of(raw, "PFCOUNT", key) == WRONGTYPE
        assert error_of(raw, "PFCOUNT", "missing", key) == WRONGTYPE
        assert error_of(raw, "PFMERGE", "d", key) == WRONGTYPE
        assert error_of(raw, "PFMERGE", key, "missing") == WRONGTYPE
    assert r.exists("d") == 0
    r.set("bad", b"HYLL\x02" + b"\x00" * 11 + b"\x7f\xff")  # unknown encoding
    assert error_of(raw, "PFCOUNT", "bad") == WRONGTYPE
    r.set("short", b"HYLL\x00" + b"\x00" * 100)  # dense of the wrong size
    assert error_of(raw, "PFADD", "short", "x") == WRONGTYPE
    for name in ("PFADD", "PFCOUNT", "PFMERGE"):
        assert error_of(raw, name) == f"ERR wrong number of arguments for '{name.lower()}' command"


def test_corrupt_sparse_data(raw, r):
    r.set("c", HEADER + b"\x7f\xfe")  # 16383 registers
    assert error_of(raw, "PFCOUNT", "c") == CORRUPT
    assert error_of(raw, "PFCOUNT", "c", "missing") == CORRUPT
    assert error_of(raw, "PFMERGE", "d", "c") == CORRUPT
    assert r.exists("d") == 0
    r.set("e", HEADER)  # no registers at all
    assert error_of(raw, "PFADD", "e", "x") == CORRUPT
    r.set("v", EMPTY + b"\x80")  # a VAL past the last register
    assert error_of(raw, "PFCOUNT", "v", "missing") == CORRUPT
    r.set("v", EMPTY + b"\x80" * 2981)  # PFADD needs it dense: corrupt
    assert error_of(raw, "PFADD", "v", "zzz") == CORRUPT


def test_inside_multi(r):
    pipe = r.pipeline(transaction=True)
    pipe.pfadd("h", "a", "b")
    pipe.pfcount("h")
    pipe.pfmerge("m", "h")
    pipe.pfcount("h", "m")
    pipe.get("h")
    replies = pipe.execute()
    assert replies[:4] == [1, 2, True, 2]
    assert replies[4][8] == 2  # the cardinality PFCOUNT cached inside the transaction


# ---- cross checks with a real redis-server ----

def same_state(r, p, *keys):
    for k in keys:
        assert r.get(k) == p.get(k), k


@pytest.mark.parametrize("n", [1, 3, 100, 1000, 1500, 5000, 100_000])
def test_same_bytes_and_counts_as_redis(r, p, n):
    for c in (r, p):
        add_many(c, "h", "e", n)
    same_state(r, p, "h")
    assert r.pfcount("h") == p.pfcount("h")
    same_state(r, p, "h")  # the cached cardinality too
    for c in (r, p):
        add_many(c, "h", "f", n // 2 + 1)
    same_state(r, p, "h")


@pytest.mark.parametrize("n", [50, 1000, 20_000])
def test_values_moved_between_redis_and_flin(r, p, n):
    add_many(p, "fromredis", "a", n)
    add_many(r, "fromflin", "b", n)
    r.set("fromredis", p.get("fromredis"))
    p.set("fromflin", r.get("fromflin"))
    for c in (r, p):
        add_many(c, "fromredis", "c", 100)
        add_many(c, "fromflin", "d", 100)
    same_state(r, p, "fromredis", "fromflin")
    assert r.pfcount("fromredis", "fromflin") == p.pfcount("fromredis", "fromflin")
    for c in (r, p):
        assert c.pfmerge("m", "fromredis", "fromflin") is True
        assert c.pfmerge("fromflin", "fromredis") is True
    same_state(r, p, "m", "fromflin")
    assert r.pfcount("m") == p.pfcount("m")
    assert r.pfcount("fromflin") == p.pfcount("fromflin")
    same_state(r, p, "m", "fromflin")


def test_merges_of_sparse_values_as_redis(r, p):
    rng = random.Random(5)
    for c in (r, p):
        c.flushall()
    for i in range(8):
        n = rng.choice([0, 5, 50, 300, 700])
        for c in (r, p):
            add_many(c, f"s{i}", f"{i}-", n)
    for _ in range(10):
        keys = [f"s{rng.randrange(8)}" for _ in range(rng.randint(1, 4))]
        dest = f"s{rng.randrange(10)}"
        assert r.pfmerge(dest, *keys) == p.pfmerge(dest, *keys)
        assert r.pfcount(*keys) == p.pfcount(*keys)
        same_state(r, p, dest)


def corrupt_values(rng):
    """Values with a valid header and random opcodes, some covering 16384 registers."""
    out = []
    for _ in range(150):
        body = bytearray()
        for _ in range(rng.randrange(0, 40)):
            kind = rng.randrange(4)
            if kind == 0:
                body.append(0x40 | rng.randrange(64))
                if rng.randrange(8):
                    body.append(rng.randrange(256))
            elif kind == 1:
                body.append(rng.randrange(64))
            else:
                body.append(0x80 | rng.randrange(128))
        if rng.randrange(2):  # pad towards exactly 16384 registers
            out.append(b"HYLL\x01" + b"\x00" * 11 + bytes(body) + b"\x7f\xff")
        out.append(b"HYLL\x01" + bytes(rng.randrange(256) for _ in range(11)) + bytes(body))
    return out


def reply_of(c, *args):
    try:
        return c.execute_command(*args)
    except Exception as e:  # noqa: BLE001 - the error text is what is compared
        return f"error: {e}"


def test_arbitrary_bytes_answer_as_redis(r, p):
    rng = random.Random(11)
    for v in corrupt_values(rng):
        for c in (r, p):
            c.flushall()
            c.set("k", v)
            c.pfadd("ok", "x", "y")
        for cmd in (("PFCOUNT", "k"), ("PFCOUNT", "k", "ok"), ("PFADD", "k", "a", "b", "c"),
                    ("PFMERGE", "ok", "k"), ("PFMERGE", "k", "ok"), ("PFCOUNT", "k")):
            assert reply_of(r, *cmd) == reply_of(p, *cmd), (v, cmd)
            same_state(r, p, "k", "ok")
