"""Bit commands (GETBIT SETBIT BITCOUNT BITPOS BITOP): semantics on known bit patterns and
Redis's error texts. Bit i of a string is 0x80 >> (i % 8) of byte i / 8. Runs against
redis-server too (FLIN_TARGET=redis); test_differential.py compares random sequences."""
import time

from flinproc import error_of

NOT_INT = "ERR value is not an integer or out of range"
SYNTAX = "ERR syntax error"
BAD_OFFSET = "ERR bit offset is not an integer or out of range"
BAD_BIT = "ERR bit is not an integer or out of range"


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
