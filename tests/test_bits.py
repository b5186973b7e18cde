"""Bit commands (GETBIT SETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO): semantics on known
bit patterns and Redis's error texts. Bit i of a string is 0x80 >> (i % 8) of byte i / 8. Runs against
redis-server too (FLIN_TARGET=redis); test_differential.py compares random sequences."""
import time

import pytest

from flinproc import Error, error_of

NOT_INT = "ERR value is not an integer or out of range"
SYNTAX = "ERR syntax error"
BAD_OFFSET = "ERR bit offset is not an integer or out of range"
BAD_BIT = "ERR bit is not an integer or out of range"
BAD_TYPE = ("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not "
            "supported but i64 is.")
BAD_OVERFLOW = "ERR Invalid OVERFLOW type specified"
RO_ONLY_GET = "ERR BITFIELD_RO only supports the GET subcommand"


def test_setbit_grows_the_string_and_answers_the_old_bit(r):
    assert r.setbit("k", 7, 1) == 0
    assert r.get("k") == b"\x01"
    assert r.setbit("k", 7, 1) == 1
    assert r.setbit("k", 0, 1) == 0
    assert r.get("k") == b"\x81"
    assert r.setbit("k", 20, 1) == 0  # grows by zero bytes up to the bit's byte
    assert r.get("k") == b"\x81\x00\x08"
    assert r.setbit("k", 7, 0) == 1
    assert r.get("k") == b"\x80\x00\x08"
    assert r.setbit("new", 9, 0) == 0  # clearing a bit of a missing key still creates it
    assert r.get("new") == b"\x00\x00"
    assert [r.getbit("k", i) for i in (0, 1, 7, 20, 21, 23, 24, 10_000)] == [1, 0, 0, 1, 0, 0, 0, 0]
    assert r.getbit("missing", 3) == 0


def test_setbit_keeps_the_expiry(r):
    r.set("k", "a", ex=100)
    r.setbit("k", 0, 1)
    assert r.get("k") == b"\xe1"
    assert 90 < r.ttl("k") <= 100


def test_bit_errors(raw, r):
    r.set("k", "a")
    for offset in ("-1", "abc", "", "4294967296", "1.5"):
        assert error_of(raw, "SETBIT", "k", offset, "1") == BAD_OFFSET, offset
        assert error_of(raw, "GETBIT", "k", offset) == BAD_OFFSET, offset
    for bit in ("2", "-1", "x", ""):
        assert error_of(raw, "SETBIT", "k", "1", bit) == BAD_BIT, bit
    assert error_of(raw, "SETBIT", "k", "1") == "ERR wrong number of arguments for 'setbit' command"
    assert error_of(raw, "BITPOS", "k", "2") == "ERR The bit argument must be 1 or 0."
    assert error_of(raw, "BITPOS", "k", "x") == NOT_INT
    assert error_of(raw, "BITCOUNT", "k", "0") == SYNTAX
    assert error_of(raw, "BITCOUNT", "k", "0", "x") == NOT_INT
    assert error_of(raw, "BITCOUNT", "k", "0", "1", "WORD") == SYNTAX
    assert error_of(raw, "BITPOS", "k", "1", "0", "1", "WORD") == SYNTAX
    assert error_of(raw, "BITOP", "FOO", "d", "k") == SYNTAX
    assert error_of(raw, "BITOP", "NOT", "d", "k", "k") == \
        "ERR BITOP NOT must be called with a single source key."
    assert r.get("k") == b"a"


def test_bitcount_ranges(r):
    r.set("k", b"\xff\xf0\x00\x01")  # 8 + 4 + 0 + 1 ones
    assert r.bitcount("k") == 13
    assert r.bitcount("k", 0, 0) == 8
    assert r.bitcount("k", 1, -1) == 5
    assert r.bitcount("k", -2, -1) == 1
    assert r.bitcount("k", 2, 1) == 0
    assert r.bitcount("k", 0, 100) == 13
    assert r.execute_command("BITCOUNT", "k", 4, 11, "BIT") == 8
    assert r.execute_command("BITCOUNT", "k", -1, -1, "bit") == 1
    assert r.execute_command("BITCOUNT", "k", 12, 30, "BIT") == 0
    assert r.execute_command("BITCOUNT", "k", 0, -1, "BYTE") == 13
    assert r.bitcount("missing") == 0
    big = bytes(range(256)) * 41  # word-sized steps and their ragged ends
    r.set("big", big)
    ones = sum(bin(b).count("1") for b in big)
    assert r.bitcount("big") == ones
    assert r.execute_command("BITCOUNT", "big", 3, 8 * len(big) - 6, "BIT") == \
        ones - sum(bin(b).count("1") for b in (big[0] >> 5, big[-1] & 0x1f))


def test_bitpos(r):
    r.set("k", b"\x00\x0f\xff")
    assert r.bitpos("k", 1) == 12
    assert r.bitpos("k", 0) == 0
    assert r.bitpos("k", 1, 2) == 16
    assert r.bitpos("k", 0, 2) == 24  # no end given: the bits past the end count as clear
    assert r.bitpos("k", 0, 2, -1) == -1  # an end given: only the range
    assert r.execute_command("BITPOS", "k", 1, 5, 11, "BIT") == -1
    assert r.execute_command("BITPOS", "k", 1, 5, 12, "BIT") == 12
    assert r.execute_command("BITPOS", "k", 0, 12, -1, "BIT") == -1
    assert r.bitpos("missing", 0) == 0
    assert r.bitpos("missing", 1) == -1
    r.set("empty", "")
    assert r.bitpos("empty", 0) == -1
    r.set("ones", b"\xff" * 100)
    assert r.bitpos("ones", 0) == 800
    assert r.bitpos("ones", 1, 50) == 400


def test_bitop(r):
    r.set("a", b"\xf0\x0f\xaa")
    r.set("b", b"\xff\x00")
    assert r.bitop("AND", "d", "a", "b") == 3
    assert r.get("d") == b"\xf0\x00\x00"  # the shorter source is padded with zeros
    assert r.bitop("OR", "d", "a", "b") == 3
    assert r.get("d") == b"\xff\x0f\xaa"
    assert r.bitop("XOR", "d", "a", "b", "missing") == 3
    assert r.get("d") == b"\x0f\x0f\xaa"
    assert r.bitop("NOT", "d", "b") == 2
    assert r.get("d") == b"\x00\xff"
    r.expire("d", 100)
    assert r.bitop("AND", "d", "a", "a") == 3
    assert r.ttl("d") == -1  # the result replaces the key, without its expiry
    assert r.bitop("OR", "d", "missing", "missing2") == 0
    assert r.exists("d") == 0  # an empty result deletes the destination
    assert r.bitop("AND", "a", "a", "b") == 3  # the destination may be a source
    assert r.get("a") == b"\xf0\x00\x00"


def test_bits_of_a_value_about_to_expire(r):
    r.set("k", b"\xff", px=50)
    time.sleep(0.1)
    assert r.getbit("k", 0) == 0
    assert r.bitcount("k") == 0
    assert r.setbit("k", 7, 1) == 0
    assert r.get("k") == b"\x01"
    assert r.ttl("k") == -1


def bitfield(r, key, *ops):
    return r.execute_command("BITFIELD", key, *ops)


def test_bitfield_get_reads_fields_of_any_width_and_alignment(r):
    r.set("k", b"\x12\x34\xff")
    assert bitfield(r, "k", "GET", "u4", 0, "GET", "u4", 4, "GET", "u8", 4, "GET", "u16", 0,
                    "GET", "i8", 16, "GET", "u1", 3, "GET", "i4", 20, "get", "u8", "#1") == \
        [1, 2, 0x23, 0x1234, -1, 1, -1, 0x34]
    # Bits past the end are zeros; #N is the N-th field of the type's width.
    assert bitfield(r, "k", "GET", "u16", 16, "GET", "i64", 0, "GET", "u63", 1, "GET", "u8", "#3",
                    "GET", "i3", "#7") == [0xff00, 0x1234ff0000000000, 0x1234ff0000000000, 0, -1]
    assert bitfield(r, "missing", "GET", "i64", 4294967295, "GET", "u8", 0) == [0, 0]
    assert r.exists("missing") == 0  # only GETs: a read, nothing created
    assert bitfield(r, "k") == []  # no subcommand: an empty array
    assert r.execute_command("BITFIELD_RO", "k", "GET", "u8", 0, "GET", "i4", "#1") == [0x12, 2]
    assert r.execute_command("BITFIELD_RO", "missing") == []


def test_bitfield_set_and_incrby_grow_the_string_and_keep_the_expiry(r):
    assert bitfield(r, "k", "SET", "u8", "#2", 255) == [0]  # SET answers the old value
    assert r.get("k") == b"\x00\x00\xff"
    assert bitfield(r, "k", "SET", "i4", 4, -2, "GET", "u8", 0, "INCRBY", "u4", 0, 3,
                    "GET", "u8", 0) == [0, 0x0e, 3, 0x3e]  # INCRBY answers the new value
    assert bitfield(r, "k", "INCRBY", "i16", 12, -1) == [0x0ff0 - 1]  # unaligned, over 3 bytes
    assert r.get("k") == b"\x3e\x00\xfe\xf0"
    r.expire("k", 100)
    assert bitfield(r, "k", "SET", "u1", 39, 1, "INCRBY", "i5", 40, 7) == [0, 7]
    assert r.get("k") == b"\x3e\x00\xfe\xf0\x01\x38"
    assert 90 < r.ttl("k") <= 100


def test_bitfield_overflow_wrap_sat_fail(r):
    # WRAP (the default) wraps at the type's width; SAT stops at its bounds; FAIL refuses
    # (a nil) and leaves the field. OVERFLOW applies to the SET and INCRBY after it.
    assert bitfield(r, "k", "SET", "u8", 0, 250, "INCRBY", "u8", 0, 10,
                    "OVERFLOW", "SAT", "INCRBY", "u8", 0, 300, "INCRBY", "u8", 0, -1000,
                    "OVERFLOW", "FAIL", "INCRBY", "u8", 0, -1, "INCRBY", "u8", 0, 255,
                    "overflow", "wrap", "INCRBY", "u8", 0, -1) == [0, 4, 255, 0, None, 255, 254]
    assert bitfield(r, "s", "SET", "i8", 0, 127, "INCRBY", "i8", 0, 1,
                    "OVERFLOW", "SAT", "INCRBY", "i8", 0, -1000, "INCRBY", "i8", 0, 1000,
                    "OVERFLOW", "FAIL", "INCRBY", "i8", 0, 1, "INCRBY", "i8", 0, -255,
                    "INCRBY", "i8", 0, -127) == [0, -128, -128, 127, None, -128, None]
    # SET's value is checked too: a value the type cannot hold wraps, saturates or fails; a
    # negative value for an unsigned type is above its maximum.
    assert bitfield(r, "v", "SET", "u8", 0, 256 + 7, "SET", "u8", 0, -1, "SET", "i8", 8, 200,
                    "OVERFLOW", "SAT", "SET", "u8", 0, -1, "SET", "u8", 0, 1000,
                    "SET", "i8", 8, -1000, "OVERFLOW", "FAIL", "SET", "u8", 0, 256,
                    "SET", "u8", 0, -1, "SET", "i8", 8, 127) == \
        [0, 7, 0, 255, 255, -56, None, None, -128]
    assert r.get("v") == b"\xff\x7f"
    # Redis's bound check wraps for a signed SET this far below the minimum (max - value past
    # 2^63): it counts as above the maximum, and SAT stores the maximum.
    assert bitfield(r, "q", "OVERFLOW", "SAT", "SET", "i8", 0, -2**63, "GET", "i8", 0,
                    "SET", "i8", 0, 127 - 2**63 + 1 - 2, "SET", "i8", 0, 127 - 2**63 + 1,
                    "GET", "i8", 0, "SET", "i1", 8, -2**63, "GET", "i1", 8,
                    "OVERFLOW", "WRAP", "SET", "i8", 0, -2**63, "GET", "i8", 0,
                    "OVERFLOW", "FAIL", "SET", "i63", 1, -2**63, "SET", "i64", 8, -2**63) == \
        [0, 127, 127, 127, -128, 0, 0, -128, 0, None, 0]


def test_bitfield_64_bit_edges(r):
    imax, imin = 2**63 - 1, -2**63
    assert bitfield(r, "k", "SET", "i64", 0, imax, "INCRBY", "i64", 0, 1,
                    "INCRBY", "i64", 0, -1, "OVERFLOW", "SAT", "INCRBY", "i64", 0, imin,
                    "INCRBY", "i64", 0, imin, "INCRBY", "i64", 0, -1, "INCRBY", "i64", 0, imax,
                    "INCRBY", "i64", 0, imax, "INCRBY", "i64", 0, imax,
                    "OVERFLOW", "FAIL", "INCRBY", "i64", 0, 1, "INCRBY", "i64", 0, imin,
                    "GET", "i64", 0, "INCRBY", "i64", 0, imin) == \
        [0, imin, imax, -1, imin, imin, -1, imax - 1, imax, None, -1, -1, None]
    umax = 2**63 - 1
    assert bitfield(r, "u", "SET", "u63", 1, umax, "INCRBY", "u63", 1, 1,
                    "OVERFLOW", "SAT", "INCRBY", "u63", 1, imin, "INCRBY", "u63", 1, imax,
                    "INCRBY", "u63", 1, imax, "OVERFLOW", "FAIL", "INCRBY", "u63", 1, 1,
                    "SET", "u63", 1, -1, "GET", "u63", 1, "GET", "i64", 0) == \
        [0, 0, 0, umax, umax, None, None, umax, umax]
    assert bitfield(r, "w", "SET", "i1", 0, 1, "GET", "u1", 0, "INCRBY", "i1", 0, 1,
                    "SET", "u1", 1, 3) == [0, 1, 0, 0]


def test_bitfield_overflow_fail_still_grows_the_string(r):
    # As Redis: the key is created, and grown to the last bit a SET or INCRBY covers, before
    # the operations run, whether or not FAIL lets them write.
    assert bitfield(r, "k", "OVERFLOW", "FAIL", "SET", "u8", 0, 300, "INCRBY", "u8", 100, -1,
                    "GET", "u8", 0) == [None, None, 0]
    assert r.get("k") == b"\x00" * 14


def test_bitfield_errors(raw, r):
    r.set("k", b"\x01")
    cases = [
        (("GET",), SYNTAX), (("GET", "u8"), SYNTAX), (("SET", "u8", "0"), SYNTAX),
        (("INCRBY", "u8", "0"), SYNTAX), (("FOO", "u8", "0"), SYNTAX), (("OVERFLOW",), SYNTAX),
        (("GET", "u8", "0", "junk"), SYNTAX),
        (("OVERFLOW", "WRAPS", "GET", "u8", "0"), BAD_OVERFLOW),
        (("OVERFLOW", "", "GET", "u8", "0"), BAD_OVERFLOW),
        (("GET", "u64", "0"), BAD_TYPE), (("GET", "i65", "0"), BAD_TYPE),
        (("GET", "i0", "0"), BAD_TYPE), (("GET", "u", "0"), BAD_TYPE),
        (("GET", "I8", "0"), BAD_TYPE), (("GET", "x8", "0"), BAD_TYPE),
        (("GET", "i08", "0"), BAD_TYPE), (("GET", "i-1", "0"), BAD_TYPE),
        (("GET", "", "0"), BAD_TYPE), (("GET", "u8 ", "0"), BAD_TYPE),
        (("GET", "u8", "-1"), BAD_OFFSET), (("GET", "u8", "x"), BAD_OFFSET),
        (("GET", "u8", ""), BAD_OFFSET), (("GET", "u8", "#"), BAD_OFFSET),
        (("GET", "u8", "#-1"), BAD_OFFSET), (("GET", "u8", "##1"), BAD_OFFSET),
        (("GET", "u8", "4294967296"), BAD_OFFSET), (("GET", "u8", "#536870912"), BAD_OFFSET),
        (("GET", "u8", "9223372036854775808"), BAD_OFFSET),
        # #N times the width past 2^63: an error (Redis 7.0 gets there by wrapping below 0)
        (("GET", "i64", "#9223372036854775807"), BAD_OFFSET),
        (("GET", "i64", "#144115188075855872"), BAD_OFFSET),
        (("SET", "u8", "0", "x"), NOT_INT), (("SET", "u8", "0", "1.5"), NOT_INT),
        (("INCRBY", "i8", "0", "9223372036854775808"), NOT_INT),
        (("INCRBY", "i8", "0", ""), NOT_INT),
        # The first error found is the one answered, whatever follows it.
        (("GET", "u8", "-1", "GET", "u64", "0"), BAD_OFFSET),
        (("SET", "u8", "0", "1", "OVERFLOW", "NONE"), BAD_OVERFLOW),
        (("OVERFLOW", "SAT", "GET", "u99", "0", "FOO"), BAD_TYPE),
    ]
    for ops, msg in cases:
        assert error_of(raw, "BITFIELD", "k", *ops) == msg, ops
        assert error_of(raw, "BITFIELD_RO", "k", *ops) == msg, ops
    assert error_of(raw, "BITFIELD", "k", "SET", "u8", "0", "2", "GET", "u8", "x") == BAD_OFFSET
    assert r.get("k") == b"\x01"  # nothing of a BITFIELD with an error is done
    assert error_of(raw, "BITFIELD", "new", "INCRBY", "u8", "0", "1", "OVERFLOW") == SYNTAX
    assert r.exists("new") == 0
    assert error_of(raw, "BITFIELD_RO", "k", "GET", "u8", "0", "SET", "u8", "0", "1") == \
        RO_ONLY_GET
    assert error_of(raw, "BITFIELD_RO", "k", "OVERFLOW", "SAT", "INCRBY", "u8", "0", "1") == \
        RO_ONLY_GET
    assert raw.call("BITFIELD_RO", "k", "OVERFLOW", "SAT") == []
    assert error_of(raw, "BITFIELD") == "ERR wrong number of arguments for 'bitfield' command"
    assert error_of(raw, "BITFIELD_RO") == \
        "ERR wrong number of arguments for 'bitfield_ro' command"
    assert r.get("k") == b"\x01"


def test_bitfield_many_subcommands(r):
    ops = []
    for i in range(5000):
        ops += ["INCRBY", "u8", f"#{i % 100}", 1]
    assert bitfield(r, "k", *ops) == [1 + i // 100 for i in range(5000)]
    assert r.get("k") == b"\x32" * 100
    gets = ["GET", "u8", "#7"] * 20000
    assert r.execute_command("BITFIELD_RO", "k", *gets) == [0x32] * 20000


def test_bitfield_in_a_transaction(raw, r):
    r.set("k", b"\x0f")
    assert raw.call("MULTI") == "OK"
    for cmd in (("BITFIELD", "k", "INCRBY", "u8", "0", "1"), ("BITFIELD", "k", "GET", "u8", "0"),
                ("BITFIELD_RO", "k", "GET", "u4", "4"), ("BITFIELD", "k", "SET", "u8", "0", "x"),
                ("BITFIELD_RO", "k", "SET", "u8", "0", "1"),
                ("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u4", "4", "-1", "GET", "u8", "0"),
                ("BITFIELD", "k", "SET", "i8", "#1", "-1")):
        assert raw.call(*cmd) == "QUEUED"
    reply = raw.call("EXEC")
    assert reply[:3] == [[16], [16], [0]]
    assert isinstance(reply[3], Error) and str(reply[3]) == NOT_INT
    assert isinstance(reply[4], Error) and str(reply[4]) == RO_ONLY_GET
    assert reply[5:] == [[None, 16], [0]]
    assert r.get("k") == b"\x10\xff"


@pytest.mark.flin_only
def test_bitfield_write_offsets_are_bounded_as_setbits(make_server):
    # As SETBIT: a SET or INCRBY must end within max-value-bytes (Redis: 512 MiB); a GET may
    # read anywhere up to 512 MiB. A field may run up to 63 bits past the limit, as in Redis.
    srv = make_server(max_value_bytes=1 << 20)
    c = srv.client()
    last = (1 << 23) - 1
    assert c.execute_command("BITFIELD", "k", "SET", "i64", last, -1) == [0]
    assert c.strlen("k") == (1 << 20) + 8
    assert c.execute_command("BITFIELD", "k", "GET", "i64", last, "GET", "u8", last + 64) == [-1, 0]
    raw = srv.raw()
    assert error_of(raw, "BITFIELD", "k", "INCRBY", "i64", str(last + 1), "1") == BAD_OFFSET
    assert error_of(raw, "SETBIT", "k", str(last + 1), "1") == BAD_OFFSET
    assert c.execute_command("BITFIELD", "k", "GET", "u8", 4294967295) == [0]
    # Redis 7.0 wraps #N times the width and may land on an unrelated offset (here 64): Flin
    # refuses the product past 2^63.
    assert error_of(raw, "BITFIELD", "k", "SET", "i64", "#288230376151711745", "1") == BAD_OFFSET
    assert c.strlen("k") == (1 << 20) + 8
