"""Review of the HASH change: cases where Flin differed from Redis 7.0 (each passes against
Redis: FLIN_TARGET=redis), each failing before its fix: HRANDFIELD's order and bound,
SETRANGE's WRONGTYPE, the listpack back-length, COMMAND INFO's flags, INCRBYFLOAT in MULTI (the
error was decided when queueing; now at apply) and the encoding of a restored listpack.

- HRANDFIELD parses its count before its other arguments, and accepts WITHVALUES counts up to
  LONG_MAX/2 inclusive (Redis: `l < -LONG_MAX/2 || l > LONG_MAX/2` is out of range);
- SETRANGE on a hash answers WRONGTYPE even when the offset would make the string too large
  (Redis looks the key up and checks its type before checkStringLength);
- INCRBYFLOAT with a bad increment, queued in MULTI, on a hash answers WRONGTYPE in EXEC's
  array (Redis checks the type first at execution); Flin decided the error when queueing;
- RESTORE of a RDB_TYPE_HASH_LISTPACK whose entry is exactly 16383 bytes long: Redis writes
  (and reads) a 3-byte back-length for it (lpEncodeBacklen: `l < 16383` is the 2-byte case);
  Flin's ParseListpack wants 2 bytes and refuses Redis's payload as bad data;
- RESTORE of a listpack hash holding a value over 64 bytes stays a listpack in Redis 7.0
  (rdbLoad converts it only past 512 entries); Flin marked it hashtable (OBJECT ENCODING);
- COMMAND INFO: HKEYS HVALS HGETALL HRANDFIELD HSCAN are not "fast" in Redis.
"""
import struct

import pytest

from flinproc import Error, error_of
from rdb_payload import raw_string, with_footer

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INT = "ERR value is not an integer or out of range"


def test_hrandfield_count_is_parsed_before_the_syntax(raw):
    raw.call("HSET", "h", "a", "1")
    assert error_of(raw, "HRANDFIELD", "h", "x", "FOO") == NOT_INT
    assert error_of(raw, "HRANDFIELD", "h", "x", "WITHVALUES", "y") == NOT_INT
    assert error_of(raw, "HRANDFIELD", "nokey", "x", "FOO") == NOT_INT


def test_hrandfield_withvalues_accepts_half_of_long_max(raw):
    raw.call("HSET", "h", "a", "1", "b", "2")
    got = raw.call("HRANDFIELD", "h", "4611686018427387903", "WITHVALUES")
    assert not isinstance(got, Error), got
    assert dict(zip(got[0::2], got[1::2])) == {b"a": b"1", b"b": b"2"}


def test_setrange_past_the_size_limit_on_a_hash_is_wrongtype(raw):
    raw.call("HSET", "h", "f", "v")
    assert error_of(raw, "SETRANGE", "h", "536870911", "ab") == WRONGTYPE
    assert raw.call("HGETALL", "h") == [b"f", b"v"]


def test_incrbyfloat_bad_increment_on_a_hash_in_multi_is_wrongtype(raw):
    raw.call("HSET", "h", "f", "v")
    assert raw.call("MULTI") == "OK"
    assert raw.call("INCRBYFLOAT", "h", "abc") == "QUEUED"
    got = raw.call("EXEC")
    assert [str(e) for e in got] == [WRONGTYPE]


def test_incrbyfloat_bad_increment_on_a_hash_made_in_the_same_multi(raw):
    assert raw.call("MULTI") == "OK"
    assert raw.call("HSET", "n", "f", "v") == "QUEUED"
    assert raw.call("INCRBYFLOAT", "n", "abc") == "QUEUED"
    got = raw.call("EXEC")
    assert got[0] == 1 and str(got[1]) == WRONGTYPE, got


def listpack(elements):
    """A listpack as Redis's listpack.c writes it (strings only), back-lengths included."""
    def backlen(n):  # lpEncodeBacklen
        if n <= 127:
            return bytes([n])
        if n < 16383:
            return bytes([n >> 7, (n & 127) | 128])
        if n < 2097151:
            return bytes([n >> 14, ((n >> 7) & 127) | 128, (n & 127) | 128])
        raise ValueError(n)
    body = b""
    for e in elements:
        if len(e) <= 63:
            enc = bytes([0x80 | len(e)]) + e
        elif len(e) <= 4095:
            enc = bytes([0xE0 | (len(e) >> 8), len(e) & 0xFF]) + e
        else:
            enc = b"\xf0" + struct.pack("<I", len(e)) + e
        body += enc + backlen(len(enc))
    total = 6 + len(body) + 1
    return struct.pack("<IH", total, len(elements)) + body + b"\xff"


@pytest.mark.parametrize("value_len", [16377, 16378, 16379])
def test_restore_redis_listpack_hash_around_a_16383_byte_entry(raw, value_len):
    # value_len 16378: a 5-byte header + 16378 = an entry of 16383 bytes, 3-byte back-length.
    value = bytes(i % 251 for i in range(value_len))
    payload = with_footer(b"\x10" + raw_string(listpack([b"f", value])))
    assert raw.call("RESTORE", "h", "0", payload) == "OK"
    assert raw.call("HGET", "h", "f") == value


@pytest.mark.parametrize("cmd", ["hkeys", "hvals", "hgetall", "hrandfield", "hscan"])
def test_command_info_of_hash_walks_is_not_fast(raw, cmd):
    info = raw.call("COMMAND", "INFO", cmd)[0]
    flags = {f.decode() if isinstance(f, bytes) else str(f) for f in info[2]}
    assert "readonly" in flags and "fast" not in flags, flags


def test_restore_listpack_with_a_long_value_stays_listpack(raw):
    # Redis 7.0's rdbLoad converts a RDB_TYPE_HASH_LISTPACK only past hash-max-listpack-entries:
    # a 100-byte value restored in a listpack stays one (and HSCAN answers it whole).
    payload = with_footer(b"\x10" + raw_string(listpack([b"f", b"v" * 100])))
    assert raw.call("RESTORE", "h", "0", payload) == "OK"
    assert raw.call("OBJECT", "ENCODING", "h") == b"listpack"
