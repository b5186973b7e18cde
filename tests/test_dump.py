"""DUMP, RESTORE and OBJECT, with Redis 7.0's payloads and errors; values moved both ways
between the server under test and a real redis-server (cross tests)."""
import random
import time

import pytest

from flinproc import Error, error_of
from rdb_payload import (int_string, lzf_string, raw_string, rdb_len, string_payload,
                         with_footer)

BUSY = "BUSYKEY Target key name already exists."
CHECKSUM = "ERR DUMP payload version or checksum are wrong"
BAD = "ERR Bad data format"
SYNTAX = "ERR syntax error"
NOT_INT = "ERR value is not an integer or out of range"
TOO_BIG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"

_rnd = random.Random(5)
INCOMPRESSIBLE = bytes(_rnd.randrange(256) for _ in range(5000))
VALUES = {
    "short": b"hello",
    "integer": b"12345",
    "negative": b"-2147483648",
    "int64": b"9223372036854775807",
    "not canonical": b"007",
    "long compressible": b"abc" * 3000,
    "long incompressible": INCOMPRESSIBLE,
    "empty": b"",
    "binary": b"\x00\xff\r\n\x00" * 9,
    "two megabytes": (b"flin" * 300 + INCOMPRESSIBLE[:100]) * 1500,
}


@pytest.fixture
def rr(redis_server):
    """A client of the real redis-server (conftest's redis_server), FLUSHALL'd."""
    c = redis_server.client()
    c.flushall()
    yield c
    c.close()


def test_dump_missing_key_is_nil(r):
    assert r.dump("missing") is None
    r.set("k", "v", px=1)
    time.sleep(0.01)
    assert r.dump("k") is None  # expired


@pytest.mark.parametrize("name", sorted(VALUES))
def test_dump_restore_round_trip(r, name):
    value = VALUES[name]
    r.set("src", value)
    payload = r.dump("src")
    assert r.restore("dst", 0, payload) == b"OK"
    assert r.get("dst") == value
    assert r.ttl("dst") == -1
    assert r.restore("ttl", 100_000, payload) == b"OK"
    assert 99_000 <= r.pttl("ttl") <= 100_000
    assert r.get("ttl") == value
    assert r.dump("dst") == payload  # a restored value dumps to the same bytes


def test_dump_bytes_are_redis_s(r):
    # Captured from redis-server 7.0.15 (`DUMP` after `SET`).
    cases = {
        b"hello": "000568656c6c6f0a006372df766534200a",
        b"": "00000a005d9b5c400f7fa2da",
        b"123": "00c07b0a0048e253e1007a67b9",
        b"2147483648": "000a323134373438333634380a00e7b129a34c1d76ee",
        b"a" * 100: "00c3094064016161e057000161610a00e8a3b507b06df271",
    }
    for value, hex_payload in cases.items():
        r.set("k", value)
        assert r.dump("k").hex() == hex_payload, value


def test_restore_reads_every_string_encoding(r):
    hello = b"hello"
    objects = {
        "6-bit length": (raw_string(hello, 6), hello),
        "14-bit length": (raw_string(hello, 14), hello),
        "32-bit length": (raw_string(hello, 32), hello),
        "64-bit length": (raw_string(hello, 64), hello),
        "int8": (int_string(-128), b"-128"),
        "int16": (int_string(32767), b"32767"),
        "int32": (int_string(-2147483648), b"-2147483648"),
        "lzf literal runs": (lzf_string(b"x" * 100, literal_only=True), b"x" * 100),
        "lzf back-references": (lzf_string(b"hello world " * 50), b"hello world " * 50),
        "lzf of nothing": (b"\xc3\x00\x00", b""),
        "bytes after the string": (raw_string(hello) + b"junk", hello),
    }
    for i, (name, (obj, value)) in enumerate(objects.items()):
        assert r.restore(f"k{i}", 0, string_payload(obj)) == b"OK", name
        assert r.get(f"k{i}") == value, name
    # Older RDB versions are accepted, as by Redis.
    for version in (0, 6, 9):
        assert r.restore(f"v{version}", 0, string_payload(raw_string(hello), version)) == b"OK"


def test_restore_errors_in_redis_order(raw, r):
    payload = string_payload(raw_string(b"v"))
    r.set("k", "old")
    # The options first, then BUSYKEY, then the TTL, then the payload.
    assert error_of(raw, "RESTORE", "k", "-1", "junk", "FOO") == SYNTAX
    assert error_of(raw, "RESTORE", "k", "-1", "junk") == BUSY
    assert error_of(raw, "RESTORE", "n", "abc", "junk") == NOT_INT
    assert error_of(raw, "RESTORE", "n", "-1", "junk") == "ERR Invalid TTL value, must be >= 0"
    assert error_of(raw, "RESTORE", "n", "0", "junk") == CHECKSUM
    assert error_of(raw, "RESTORE", "k", "-1", "junk", "REPLACE") == \
        "ERR Invalid TTL value, must be >= 0"
    assert error_of(raw, "RESTORE", "k", "0", "junk", "REPLACE") == CHECKSUM
    assert error_of(raw, "RESTORE", "n", "0", payload, "IDLETIME") == SYNTAX
    assert error_of(raw, "RESTORE", "n", "0", payload, "IDLETIME", "-1") == \
        "ERR Invalid IDLETIME value, must be >= 0"
    assert error_of(raw, "RESTORE", "n", "0", payload, "IDLETIME", "x") == NOT_INT
    for bad in ("256", "-1"):
        assert error_of(raw, "RESTORE", "n", "0", payload, "FREQ", bad) == \
            "ERR Invalid FREQ value, must be >= 0 and <= 255"
    # IDLETIME and FREQ exclude each other (the second is a syntax error).
    assert error_of(raw, "RESTORE", "n", "0", payload, "FREQ", "1", "IDLETIME", "1") == SYNTAX
    assert error_of(raw, "RESTORE", "n", "0", payload, "IDLETIME", "0", "FREQ", "1") == SYNTAX
    assert error_of(raw, "RESTORE", "n", "0") == \
        "ERR wrong number of arguments for 'restore' command"
    assert error_of(raw, "DUMP", "n", "x") == "ERR wrong number of arguments for 'dump' command"
    assert r.get("k") == b"old" and r.exists("n") == 0
    # Accepted and ignored: Flin tracks neither; Redis sets them.
    assert raw.call("RESTORE", "n", "0", payload, "REPLACE", "ABSTTL", "IDLETIME", "5",
                    "IDLETIME", "7") == "OK"
    assert raw.call("RESTORE", "f", "0", payload, "freq", "255") == "OK"
    assert r.get("n") == b"v" and r.get("f") == b"v"


def test_restore_refuses_bad_footers_and_bad_data(raw, r):
    hello = raw_string(b"hello")
    good = string_payload(hello)
    flipped = bytearray(good)
    flipped[3] ^= 1
    for payload in (b"", b"123456789", bytes(flipped), good[:-1],
                    string_payload(hello, 11), string_payload(hello, 65535)):
        assert error_of(raw, "RESTORE", "k", "0", payload) == CHECKSUM
    bad = {
        "footer alone": with_footer(b""),
        "unknown type 8": with_footer(b"\x08\x01a"),
        "type 20 (Redis 7.2)": with_footer(b"\x14\x01a"),
        "type 255": with_footer(b"\xff\x01a"),
        "unknown string encoding": string_payload(b"\xc4\x00"),
        "unknown length form": string_payload(b"\x82\x00"),
        "length past the end": string_payload(rdb_len(40) + b"he"),
        "64-bit length of 2^62": string_payload(rdb_len(1 << 62, 64) + b"hello"),
        "lzf length claimed longer": string_payload(lzf_string(b"hello" * 9, declared=46)),
        "lzf length claimed shorter": string_payload(lzf_string(b"hello" * 9, declared=44)),
        "lzf compressed length past the end": string_payload(b"\xc3\x30\x05\x04hello"),
        "lzf back-reference before the start": string_payload(b"\xc3\x05\x0a\x00a\xc0\x05\x00"),
    }
    for name, payload in bad.items():
        assert error_of(raw, "RESTORE", "k", "0", payload) == BAD, name
    assert r.exists("k") == 0
    # As Redis's reader, a string may run into the footer (it reads from the whole payload);
    # the footer alone of version 0 is an empty string (its version bytes: type 0, length 0).
    assert raw.call("RESTORE", "z", "0", with_footer(b"", 0)) == "OK"
    assert r.get("z") == b""
    assert raw.call("RESTORE", "k", "0", string_payload(rdb_len(5) + b"he")) == "OK"
    assert r.strlen("k") == 5


@pytest.mark.flin_only
def test_restore_of_another_type_says_which_types_flin_stores(raw, r):
    # A stream, a sorted set (listpack) and a sorted set (skiplist), as Redis 7.0 dumps them:
    # Redis would restore them; Flin has strings, hashes, sets and lists only.
    for type_byte, name in ((15, "stream"), (17, "zset"), (5, "zset")):
        reply = error_of(raw, "RESTORE", "k", "0", with_footer(bytes([type_byte]) + b"\x01\x02ab"))
        assert reply == f"ERR Bad data format: the payload holds a {name}, and Flin stores " \
                        "strings, hashes, sets and lists only", reply
    assert r.exists("k") == 0


def test_restore_of_hashes_as_redis_dumps_them(raw, r):
    # DUMP replies of redis-server 7.0.15: a small hash (a listpack, with integer encodings),
    # and one with a 65-byte value (RDB_TYPE_HASH, an LZF string inside).
    small = bytes.fromhex("1032320000000a0081610201018162028568656c6c6f06816302f178ec03816402f2"
                          "a0860104816502f4351cdcdf0200000009ff0a00b50ebe0dc5f62776")
    big = bytes.fromhex("04020166c3094041017878e034000178780167c0070a00a34fc69256428a53")
    assert raw.call("RESTORE", "small", "0", small) == "OK"
    assert raw.call("RESTORE", "big", "0", big) == "OK"
    assert r.hgetall("small") == {b"a": b"1", b"b": b"hello", b"c": b"-5000", b"d": b"100000",
                                  b"e": b"12345678901"}
    assert raw.call("HKEYS", "small") == [b"a", b"b", b"c", b"d", b"e"]  # in order
    assert r.hgetall("big") == {b"f": b"x" * 65, b"g": b"7"}
    assert r.object("encoding", "small") == b"listpack"
    assert r.object("encoding", "big") == b"hashtable"
    assert r.type("big") == b"hash"


def test_restore_replace_and_ttls(raw, r):
    payload = string_payload(raw_string(b"new"))
    r.set("k", "old", ex=1000)
    assert raw.call("RESTORE", "k", "0", payload, "REPLACE") == "OK"
    assert r.get("k") == b"new" and r.ttl("k") == -1
    now_ms = int(time.time() * 1000)
    assert raw.call("RESTORE", "a", str(now_ms + 500_000), payload, "ABSTTL") == "OK"
    assert abs(r.pexpiretime("a") - (now_ms + 500_000)) == 0
    # An absolute time in the past: nothing created, and REPLACE deletes the old key.
    assert raw.call("RESTORE", "p", "1", payload, "ABSTTL") == "OK"
    assert r.exists("p") == 0
    assert raw.call("RESTORE", "k", str(now_ms - 1000), payload, "ABSTTL", "REPLACE") == "OK"
    assert r.exists("k") == 0
    # A relative TTL that overflows is in the past too (Redis's sum wraps negative).
    assert raw.call("RESTORE", "o", "9223372036854775807", payload) == "OK"
    assert r.exists("o") == 0
    assert raw.call("RESTORE", "m", "9223372036854775807", payload, "ABSTTL") == "OK"
    assert r.pttl("m") > 10 ** 18
    assert raw.call("RESTORE", "s", "50", payload) == "OK"
    time.sleep(0.1)
    assert r.exists("s") == 0


def test_restore_inside_multi(raw, r):
    payload = string_payload(raw_string(b"v"))
    r.set("taken", "x")
    assert raw.call("MULTI") == "OK"
    assert raw.call("RESTORE", "k", "0", payload) == "QUEUED"
    assert raw.call("RESTORE", "k", "0", payload) == "QUEUED"
    assert raw.call("RESTORE", "j", "0", b"junk") == "QUEUED"
    assert raw.call("RESTORE", "taken", "0", payload, "REPLACE") == "QUEUED"
    assert raw.call("DUMP", "k") == "QUEUED"
    assert raw.call("OBJECT", "ENCODING", "taken") == "QUEUED"
    assert raw.call("EXEC") == ["OK", Error(BUSY), Error(CHECKSUM), "OK", payload, b"embstr"]
    assert raw.call("MULTI") == "OK"
    assert raw.call("RESTORE", "j", "0", payload, "FOO") == "QUEUED"  # errors come at EXEC
    assert raw.call("EXEC") == [Error(SYNTAX)]


def test_object_encoding(raw, r):
    cases = {
        "12345": b"int", "-9223372036854775808": b"int", "9223372036854775807": b"int",
        "9223372036854775808": b"embstr", "007": b"embstr", "-0": b"embstr", "+1": b"embstr",
        " 1": b"embstr", "1.5": b"embstr", "": b"embstr", "x" * 44: b"embstr", "x" * 45: b"raw",
        "y" * 1000: b"raw",
    }
    for i, (value, encoding) in enumerate(cases.items()):
        r.set(f"k{i}", value)
        assert raw.call("OBJECT", "ENCODING", f"k{i}") == encoding, value
        assert raw.call("object", "encoding", f"k{i}") == encoding
    # RESTORE encodes the value as SET does.
    assert raw.call("RESTORE", "r", "0", string_payload(lzf_string(b"1" * 19))) == "OK"
    assert raw.call("OBJECT", "ENCODING", "r") == b"int"
    assert raw.call("OBJECT", "ENCODING", "missing") is None
    assert raw.call("OBJECT", "REFCOUNT", "missing") is None
    assert raw.call("OBJECT", "FREQ", "missing") is None
    assert raw.call("OBJECT", "IDLETIME", "missing") is None
    r.set("s", "not shared")
    assert raw.call("OBJECT", "REFCOUNT", "s") == 1


def test_object_help_and_errors(raw):
    help_lines = raw.call("OBJECT", "HELP")
    assert help_lines[0] == "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert help_lines[-2:] == ["HELP", "    Prints this help."]
    assert "REFCOUNT <key>" in help_lines and "FREQ <key>" in help_lines
    assert raw.call("object", "help") == help_lines
    assert error_of(raw, "OBJECT", "FOO", "k") == "ERR unknown subcommand 'FOO'. Try OBJECT HELP."
    assert error_of(raw, "OBJECT", "ENCODING") == \
        "ERR wrong number of arguments for 'object|encoding' command"
    assert error_of(raw, "OBJECT", "freq", "a", "b") == \
        "ERR wrong number of arguments for 'object|freq' command"
    assert error_of(raw, "OBJECT", "HELP", "x") == \
        "ERR wrong number of arguments for 'object|help' command"
    assert error_of(raw, "OBJECT") == "ERR wrong number of arguments for 'object' command"
    assert raw.call("COMMAND", "GETKEYS", "OBJECT", "ENCODING", "k") == [b"k"]
    assert raw.call("COMMAND", "GETKEYS", "RESTORE", "k", "0", "p") == [b"k"]
    assert raw.call("COMMAND", "GETKEYS", "DUMP", "k") == [b"k"]


@pytest.mark.flin_only
def test_object_freq_and_idletime_say_flin_tracks_neither(raw, r):
    r.set("k", "v")
    assert error_of(raw, "OBJECT", "IDLETIME", "k") == \
        "ERR idle time not tracked: Flin keeps no access times (it has no LRU maxmemory policy)"
    assert error_of(raw, "OBJECT", "FREQ", "k") == \
        "ERR access frequency not tracked: Flin keeps no access counters (it has no LFU " \
        "maxmemory policy)"
    # Redis shares the integers 0-9999 (REFCOUNT 2147483647); Flin shares nothing.
    r.set("n", "5")
    assert raw.call("OBJECT", "REFCOUNT", "n") == 1


@pytest.mark.flin_only
def test_restore_is_bounded_by_max_value_bytes(make_server):
    srv = make_server(max_value_bytes=1 << 20)
    with srv.raw() as raw:
        # 100 KB of payload that expands to 2 MB: refused before it is decompressed.
        big = string_payload(lzf_string(b"z" * (2 << 20)))
        assert len(big) < 100_000
        assert error_of(raw, "RESTORE", "k", "0", big) == TOO_BIG
        assert error_of(raw, "RESTORE", "k", "0", big, "REPLACE") == TOO_BIG
        # A claimed length far beyond any limit: the same, at once.
        huge = string_payload(b"\xc3\x06" + rdb_len(1 << 40, 64) + b"\x04hello")
        assert error_of(raw, "RESTORE", "k", "0", huge) == TOO_BIG
        ok = string_payload(lzf_string(b"z" * (1 << 20)))
        assert raw.call("RESTORE", "k", "0", ok) == "OK"
        assert raw.call("STRLEN", "k") == 1 << 20
        assert raw.call("PING") == "PONG"


def test_corrupt_payloads_never_hurt_the_server(raw, r):
    rnd = random.Random(17)
    bodies = [b"\x00" + raw_string(b"hello world"), b"\x00" + int_string(-5000),
              b"\x00" + lzf_string(b"abcabcabc" * 40)]
    for _ in range(1500):
        body = bytearray(rnd.choice(bodies))
        for _ in range(rnd.randint(1, 4)):
            op = rnd.random()
            if not body:
                body.append(0)
            if op < 0.5:
                body[rnd.randrange(len(body))] = rnd.randrange(256)
            elif op < 0.8:
                del body[rnd.randrange(len(body)):]
            else:
                body.insert(rnd.randrange(len(body) + 1), rnd.randrange(256))
        if body[:1] != b"\x00":
            body[:1] = b"\x00"  # a string, so that Redis and Flin answer alike
        reply = raw.call("RESTORE", "k", "0", with_footer(bytes(body)), "REPLACE")
        assert reply == "OK" or reply == BAD, reply
    assert raw.call("PING") == "PONG"


# ---- cross tests: the other server is a real redis-server 7.0 -------------------------------

def _move(src, dst, key, ttl_ms):
    payload = src.dump(key)
    assert payload is not None
    assert dst.restore(key, ttl_ms, payload, replace=True) == b"OK"
    return payload


@pytest.mark.parametrize("name", sorted(VALUES))
def test_redis_dump_restores_here_and_back(r, rr, name):
    value = VALUES[name]
    for ttl_ms in (0, 300_000):
        rr.set("k", value)
        from_redis = _move(rr, r, "k", ttl_ms)
        assert r.get("k") == value
        if ttl_ms:
            assert ttl_ms - 2_000 <= r.pttl("k") <= ttl_ms
        else:
            assert r.ttl("k") == -1
        here = r.dump("k")
        if here[1] != 0xC3:  # LZF may compress differently; every other encoding is Redis's
            assert here == from_redis
        rr.delete("k")
        _move(r, rr, "k", ttl_ms)
        assert rr.get("k") == value
        if ttl_ms:
            assert ttl_ms - 2_000 <= rr.pttl("k") <= ttl_ms


HASHES = {
    "small": {b"a": b"1", b"b": b"hello", b"neg": b"-5000", b"big": b"12345678901", b"": b""},
    "binary": {b"\x00f": b"\x00\xff" * 10, b"x" * 64: b"y" * 64},
    "long_value": {b"f": b"z" * 65, b"n": b"7"},            # a hashtable in Redis
    "many_fields": {f"f{i}".encode(): str(i).encode() for i in range(600)},  # one too
    "compressible": {f"k{i}".encode(): b"a" * 40 for i in range(30)},  # an LZF listpack
}


@pytest.mark.parametrize("name", sorted(HASHES))
def test_redis_hash_dump_restores_here_and_back(r, rr, name):
    h = HASHES[name]
    rr.hset("h", mapping=h)
    _move(rr, r, "h", 0)
    assert r.hgetall("h") == h
    assert r.object("encoding", "h") == rr.object("encoding", "h")
    if len(h) <= 512 and max(len(x) for kv in h.items() for x in kv) <= 64:
        assert r.hkeys("h") == rr.hkeys("h")  # a listpack's order, kept
    rr.delete("h")
    _move(r, rr, "h", 300_000)
    assert rr.hgetall("h") == h
    assert 298_000 <= rr.pttl("h") <= 300_000
    assert rr.object("encoding", "h") == r.object("encoding", "h")


def test_crafted_payloads_are_answered_as_redis_answers_them(server, redis_server, r, rr):
    """Random string objects, valid and corrupt, with valid footers: RESTORE into each server
    must give the same reply, and the same value when it succeeds."""
    rnd = random.Random(23)
    with redis_server.raw() as red, server.raw() as here:
        for i in range(600):
            value = bytes(rnd.choice(b"ab0-1 ") for _ in range(rnd.randint(0, 80)))
            kind = rnd.random()
            if kind < 0.3:
                obj = lzf_string(value, literal_only=rnd.random() < 0.3)
            elif kind < 0.5:
                obj = raw_string(value, rnd.choice([None, 14, 32, 64]))
            elif kind < 0.65:
                obj = int_string(rnd.randint(-2 ** 31, 2 ** 31 - 1))
            else:
                obj = bytearray(rnd.choice([lzf_string(value), raw_string(value)]))
                for _ in range(rnd.randint(1, 3)):
                    if obj and rnd.random() < 0.6:
                        obj[rnd.randrange(len(obj))] = rnd.randrange(256)
                    else:
                        del obj[rnd.randrange(len(obj) + 1):]
            payload = string_payload(bytes(obj))
            args = ("RESTORE", f"c{i}", "0", payload)
            expected, got = red.call(*args), here.call(*args)
            assert got == expected, (i, payload.hex())
            if expected == "OK":
                assert here.call("GET", f"c{i}") == red.call("GET", f"c{i}")
