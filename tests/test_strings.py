"""String commands: semantics, reply types and Redis's exact error texts."""
import os
import time

import pytest

from flinproc import error_of

NOT_INT = "ERR value is not an integer or out of range"
SYNTAX = "ERR syntax error"


def test_get_set(r):
    assert r.execute_command("SET", "k", "v") is True
    assert r.get("k") == b"v"
    assert r.get("missing") is None
    assert r.set("k", "v2") is True
    assert r.get("k") == b"v2"


def test_set_expire_options(r):
    now = time.time()
    r.execute_command("SET", "ex", "v", "EX", 100)
    assert 98 <= r.ttl("ex") <= 100
    r.execute_command("SET", "px", "v", "PX", 100000)
    assert 98000 <= r.pttl("px") <= 100000
    r.execute_command("SET", "exat", "v", "EXAT", int(now) + 100)
    assert 97 <= r.ttl("exat") <= 100
    assert r.expiretime("exat") == int(now) + 100
    r.execute_command("SET", "pxat", "v", "PXAT", int(now * 1000) + 100000)
    assert r.pexpiretime("pxat") == int(now * 1000) + 100000
    # A plain SET clears the TTL.
    r.execute_command("SET", "ex", "w")
    assert r.ttl("ex") == -1


def test_pipelined_getex_sees_the_write_before_it(r):
    """Commands of one connection run in order: a GETEX without options behind a SET of the
    same key in one pipeline answers the new value (it was answered from the store while the
    SET waited for its fsync)."""
    r.set("k", "old")
    for i in range(50):
        p = r.pipeline(transaction=False)
        p.set("k", f"v{i}")
        p.execute_command("GETEX", "k")
        assert p.execute() == [True, f"v{i}".encode()], i


def test_set_nx_xx(r):
    assert r.execute_command("SET", "k", "1", "NX") is True
    assert r.execute_command("SET", "k", "2", "NX") is None
    assert r.get("k") == b"1"
    assert r.execute_command("SET", "k", "3", "XX") is True
    assert r.get("k") == b"3"
    assert r.execute_command("SET", "other", "3", "XX") is None
    assert r.exists("other") == 0
    # Options are case-insensitive.
    assert r.execute_command("set", "k2", "1", "nx", "ex", "100") is True
    assert r.ttl("k2") > 0


def test_set_keepttl(r):
    r.set("k", "v", ex=100)
    r.execute_command("SET", "k", "v2", "KEEPTTL")
    assert r.get("k") == b"v2"
    assert 98 <= r.ttl("k") <= 100
    r.execute_command("SET", "k", "v3")
    assert r.ttl("k") == -1


def test_set_get_option(raw, r):
    assert raw.call("SET", "k", "a", "GET") is None
    assert raw.call("SET", "k", "b", "GET") == b"a"
    assert r.get("k") == b"b"
    # NX GET (Redis >= 7.0): returns the old value and does not set.
    assert raw.call("SET", "k", "c", "NX", "GET") == b"b"
    assert r.get("k") == b"b"
    assert raw.call("SET", "new", "c", "XX", "GET") is None
    assert r.exists("new") == 0
    assert raw.call("SET", "k", "d", "GET", "EX", "100") == b"b"
    assert r.ttl("k") > 0


@pytest.mark.parametrize("args,msg", [
    (["NX", "XX"], SYNTAX),
    (["EX", "10", "PX", "100"], SYNTAX),
    (["EX", "10", "EXAT", "2000000000"], SYNTAX),
    (["PX", "10", "PXAT", "2000000000000"], SYNTAX),
    (["KEEPTTL", "EX", "10"], SYNTAX),
    (["EX", "10", "KEEPTTL"], SYNTAX),
    (["EX"], SYNTAX),
    (["FOO"], SYNTAX),
    (["EX", "abc"], NOT_INT),
    (["PX", "1.5"], NOT_INT),
    (["EX", "0"], "ERR invalid expire time in 'set' command"),
    (["EX", "-5"], "ERR invalid expire time in 'set' command"),
    (["PX", "0"], "ERR invalid expire time in 'set' command"),
    (["EXAT", "0"], "ERR invalid expire time in 'set' command"),
    (["PXAT", "-1"], "ERR invalid expire time in 'set' command"),
    (["EX", "9223372036854775807"], "ERR invalid expire time in 'set' command"),
])
def test_set_errors(raw, r, args, msg):
    r.set("k", "old")
    assert error_of(raw, "SET", "k", "v", *args) == msg
    assert r.get("k") == b"old"
    assert r.ttl("k") == -1


def test_set_arity(raw):
    assert error_of(raw, "SET", "k") == "ERR wrong number of arguments for 'set' command"
    assert error_of(raw, "GET") == "ERR wrong number of arguments for 'get' command"
    assert error_of(raw, "GET", "a", "b") == "ERR wrong number of arguments for 'get' command"


def test_setnx_setex_psetex(raw, r):
    assert r.execute_command("SETNX", "k", "1") == 1
    assert r.execute_command("SETNX", "k", "2") == 0
    assert r.get("k") == b"1"
    assert r.execute_command("SETEX", "k", 100, "v") is True
    assert r.get("k") == b"v" and 98 <= r.ttl("k") <= 100
    assert r.execute_command("PSETEX", "p", 100000, "v") is True
    assert 98000 <= r.pttl("p") <= 100000
    assert error_of(raw, "SETEX", "k", "0", "v") == "ERR invalid expire time in 'setex' command"
    assert error_of(raw, "SETEX", "k", "-1", "v") == "ERR invalid expire time in 'setex' command"
    assert error_of(raw, "PSETEX", "k", "0", "v") == "ERR invalid expire time in 'psetex' command"
    assert error_of(raw, "SETEX", "k", "x", "v") == NOT_INT
    assert error_of(raw, "SETEX", "k", "10") == "ERR wrong number of arguments for 'setex' command"


def test_getset_getdel(r):
    assert r.execute_command("GETSET", "k", "1") is None
    assert r.execute_command("GETSET", "k", "2") == b"1"
    r.expire("k", 100)
    assert r.execute_command("GETSET", "k", "3") == b"2"
    assert r.ttl("k") == -1  # GETSET discards the TTL
    assert r.execute_command("GETDEL", "k") == b"3"
    assert r.exists("k") == 0
    assert r.execute_command("GETDEL", "k") is None


def test_getex(raw, r):
    r.set("k", "v")
    assert r.execute_command("GETEX", "k") == b"v"
    assert r.ttl("k") == -1
    assert r.execute_command("GETEX", "k", "EX", 100) == b"v"
    assert 98 <= r.ttl("k") <= 100
    assert r.execute_command("GETEX", "k", "PX", 200000) == b"v"
    assert 198000 <= r.pttl("k") <= 200000
    at = int(time.time()) + 300
    assert r.execute_command("GETEX", "k", "EXAT", at) == b"v"
    assert r.expiretime("k") == at
    assert r.execute_command("GETEX", "k", "PXAT", at * 1000 + 5) == b"v"
    assert r.pexpiretime("k") == at * 1000 + 5
    assert r.execute_command("GETEX", "k", "PERSIST") == b"v"
    assert r.ttl("k") == -1
    assert r.execute_command("GETEX", "missing", "EX", 10) is None
    assert r.exists("missing") == 0
    assert error_of(raw, "GETEX", "k", "EX", "0") == "ERR invalid expire time in 'getex' command"
    assert error_of(raw, "GETEX", "k", "PXAT", "-1") == "ERR invalid expire time in 'getex' command"
    assert error_of(raw, "GETEX", "k", "PERSIST", "EX", "10") == SYNTAX
    assert error_of(raw, "GETEX", "k", "EX", "10", "PX", "10") == SYNTAX
    assert error_of(raw, "GETEX", "k", "FOO") == SYNTAX
    assert error_of(raw, "GETEX", "k", "EX", "x") == NOT_INT
    # The time is judged only once the key is found: a missing key answers nil (Redis's order).
    for amount in ("x", "0", "-1", "9223372036854775807"):
        assert raw.call("GETEX", "missing", "EX", amount) is None
    assert error_of(raw, "GETEX", "missing", "EX", "10", "FOO") == SYNTAX  # syntax first


def test_mget_mset_msetnx(raw, r):
    assert r.execute_command("MSET", "a", "1", "b", "2") is True
    assert r.execute_command("MGET", "a", "missing", "b", "a") == [b"1", None, b"2", b"1"]
    assert r.execute_command("MSETNX", "c", "3", "a", "x") == 0
    assert r.exists("c") == 0 and r.get("a") == b"1"
    assert r.execute_command("MSETNX", "c", "3", "d", "4") == 1
    assert r.mget("c", "d") == [b"3", b"4"]
    # Later pairs win within one MSET.
    r.execute_command("MSET", "e", "1", "e", "2")
    assert r.get("e") == b"2"
    assert error_of(raw, "MSET", "a") == "ERR wrong number of arguments for 'mset' command"
    assert error_of(raw, "MSET", "a", "1", "b") == "ERR wrong number of arguments for 'mset' command"
    assert error_of(raw, "MSETNX", "a", "1", "b") == "ERR wrong number of arguments for 'msetnx' command"
    assert error_of(raw, "MGET") == "ERR wrong number of arguments for 'mget' command"


def test_append_strlen(r):
    assert r.append("k", "Hello") == 5
    assert r.append("k", " World") == 11
    assert r.get("k") == b"Hello World"
    assert r.strlen("k") == 11
    assert r.strlen("missing") == 0
    r.set("t", "v", ex=100)
    r.append("t", "w")
    assert r.ttl("t") > 0  # APPEND keeps the TTL


def test_getrange(r):
    r.set("k", "This is a string")
    assert r.getrange("k", 0, 3) == b"This"
    assert r.getrange("k", -3, -1) == b"ing"
    assert r.getrange("k", 0, -1) == b"This is a string"
    assert r.getrange("k", 10, 100) == b"string"
    assert r.getrange("k", 5, 3) == b""
    assert r.getrange("k", -100, 3) == b"This"
    assert r.getrange("k", 100, 200) == b""
    assert r.getrange("missing", 0, -1) == b""


def test_getrange_errors(raw, r):
    r.set("k", "abc")
    assert error_of(raw, "GETRANGE", "k", "a", "1") == NOT_INT
    assert error_of(raw, "GETRANGE", "k", "0") == "ERR wrong number of arguments for 'getrange' command"


def test_setrange(raw, r):
    assert r.setrange("k", 5, "x") == 6
    assert r.get("k") == b"\x00\x00\x00\x00\x00x"
    r.set("h", "Hello World")
    assert r.setrange("h", 6, "Redis") == 11
    assert r.get("h") == b"Hello Redis"
    assert r.setrange("h", 20, "!") == 21
    assert r.get("h") == b"Hello Redis" + b"\x00" * 9 + b"!"
    # An empty value on a missing key creates nothing.
    assert r.setrange("e", 0, "") == 0
    assert r.exists("e") == 0
    assert r.setrange("h", 3, "") == 21
    assert error_of(raw, "SETRANGE", "k", "-1", "x") == "ERR offset is out of range"
    assert error_of(raw, "SETRANGE", "k", "a", "x") == NOT_INT
    # Beyond Redis's proto-max-bulk-len (512 MB), hence beyond Flin's 64 MiB too.
    # Redis names its limit: "... (proto-max-bulk-len)"; Flin's is another.
    assert error_of(raw, "SETRANGE", "k", "536870912", "x").startswith(
        "ERR string exceeds maximum allowed size")
    # offset + length beyond INT64_MAX: once an overflow that let the write through, and the
    # server aborted applying it (in a cluster, every replica, again after each restart).
    for offset in ("9223372036854775807", "9223372036854775806"):
        assert error_of(raw, "SETRANGE", "k", offset, "xy").startswith(
            "ERR string exceeds maximum allowed size")
    assert r.get("k") == b"\x00\x00\x00\x00\x00x"


def test_incr_decr(raw, r):
    assert r.incr("n") == 1
    assert r.incrby("n", 10) == 11
    assert r.decr("n") == 10
    assert r.decrby("n", 20) == -10
    assert r.get("n") == b"-10"
    assert r.execute_command("INCRBY", "n", "-5") == -15
    r.set("n", "  5")
    assert error_of(raw, "INCR", "n") == NOT_INT
    for bad in ["abc", "1.5", "", "5 ", "99999999999999999999", "0x10"]:
        r.set("n", bad)
        assert error_of(raw, "INCR", "n") == NOT_INT, bad
    r.set("n", "5")
    assert error_of(raw, "INCRBY", "n", "x") == NOT_INT
    assert error_of(raw, "INCRBY", "n", "1.0") == NOT_INT
    assert error_of(raw, "DECRBY", "n", "") == NOT_INT
    r.set("t", "1", ex=100)
    r.incr("t")
    assert r.ttl("t") > 0  # INCR keeps the TTL


def test_incr_overflow(raw, r):
    r.set("n", "9223372036854775807")
    assert error_of(raw, "INCR", "n") == "ERR increment or decrement would overflow"
    assert error_of(raw, "INCRBY", "n", "1") == "ERR increment or decrement would overflow"
    assert r.decr("n") == 9223372036854775806
    r.set("m", "-9223372036854775808")
    assert error_of(raw, "DECR", "m") == "ERR increment or decrement would overflow"
    assert error_of(raw, "INCRBY", "m", "-1") == "ERR increment or decrement would overflow"
    assert r.get("m") == b"-9223372036854775808"
    r.set("z", "0")
    assert error_of(raw, "DECRBY", "z", "-9223372036854775808") == "ERR decrement would overflow"


def test_incrbyfloat(raw, r):
    r.set("f", "10.50")
    assert raw.call("INCRBYFLOAT", "f", "0.1") == b"10.6"
    assert r.get("f") == b"10.6"
    r.set("e", "5.0e3")
    assert raw.call("INCRBYFLOAT", "e", "2.0e2") == b"5200"
    assert raw.call("INCRBYFLOAT", "e", "-5200") == b"0"
    assert raw.call("INCRBYFLOAT", "new", "3.0e3") == b"3000"
    assert raw.call("INCRBYFLOAT", "new", "1.5") == b"3001.5"
    assert raw.call("INCRBYFLOAT", "i", "7") == b"7"
    assert raw.call("INCRBYFLOAT", "i", "-0.25") == b"6.75"
    r.set("s", "abc")
    assert error_of(raw, "INCRBYFLOAT", "s", "1") == "ERR value is not a valid float"
    assert error_of(raw, "INCRBYFLOAT", "f", "abc") == "ERR value is not a valid float"
    assert error_of(raw, "INCRBYFLOAT", "f", "inf") == "ERR increment would produce NaN or Infinity"
    # Out of long double's range is not a valid float (Redis's string2ld), as increment or value.
    for bad in ("1e5000", "-1e5000", "1e-5000"):
        assert error_of(raw, "INCRBYFLOAT", "f", bad) == "ERR value is not a valid float"
    r.set("huge", "1e5000")
    assert error_of(raw, "INCRBYFLOAT", "huge", "1") == "ERR value is not a valid float"
    assert r.get("f") == b"10.6"
    r.set("t", "1", ex=100)
    raw.call("INCRBYFLOAT", "t", "1")
    assert r.ttl("t") > 0


def test_binary_safe_keys_and_values(r):
    key = b"k\x00ey\r\nwith\xff bytes"
    val = b"\x00\r\n\xfe\xff*1\r\n$3\r\nfoo\r\n"
    r.set(key, val)
    assert r.get(key) == val
    assert r.strlen(key) == len(val)
    assert r.exists(key) == 1
    assert r.get(b"k") is None
    assert key in r.keys("*")
    r.append(key, b"\x00")
    assert r.get(key) == val + b"\x00"
    assert r.getrange(key, 0, 2) == b"\x00\r\n"


def test_one_mib_values(r):
    big = os.urandom(1 << 20)
    r.set("big", big)
    assert r.get("big") == big
    assert r.strlen("big") == 1 << 20
    r.append("big", big)
    assert r.strlen("big") == 2 << 20
    assert r.get("big") == big + big
    assert r.mget("big", "missing") == [big + big, None]


def test_lcs(r):
    r.mset({"key1": "ohmytext", "key2": "mynewtext"})
    assert r.execute_command("LCS", "key1", "key2") == b"mytext"
    assert r.execute_command("LCS", "key1", "key2", "LEN") == 6
    assert r.execute_command("LCS", "key1", "key2", "IDX", "MINMATCHLEN", 4, "WITHMATCHLEN") == \
        [b"matches", [[[4, 7], [5, 8], 4]], b"len", 6]
    assert r.execute_command("LCS", "key1", "missing") == b""
    # Past a million cells the table is built off the I/O thread: the same answer.
    a = "".join("ab"[(i * 7) % 3 % 2] for i in range(1200))
    b = "".join("ab"[(i * 5) % 4 % 2] for i in range(1100))
    r.mset({"a": a, "b": b})
    n = r.execute_command("LCS", "a", "b", "LEN")
    assert len(r.execute_command("LCS", "a", "b")) == n
    r.mset({"a2": a[:900], "b2": b[:900]})
    assert len(r.execute_command("LCS", "a2", "b2")) == r.execute_command("LCS", "a2", "b2", "LEN")


def test_lcs_table_is_bounded_by_proto_max_bulk_len(raw, r):
    # (12,001 x 12,001 cells of 4 bytes: past 512 MiB, as in Redis.) Not by max-value-bytes:
    # a 7 KB string's LCS with itself (200 MB) answers, as in Redis.
    r.set("x", "a" * 12000)
    assert error_of(raw, "LCS", "x", "x") == \
        "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
    r.set("y", "ab" * 3600)
    assert r.execute_command("LCS", "y", "y", "LEN") == 7200
