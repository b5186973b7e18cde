"""The HASH data type, as Redis 7.0 does it.

Covered: HSET (several pairs, the count of new fields, a field repeated in one call, odd
arguments), HSETNX, HMSET, HGET, HMGET (nil for a missing field or key), HDEL (the count,
repeated fields, the key deleted with its last field), HLEN, HSTRLEN, HEXISTS, HKEYS, HVALS,
HGETALL, HINCRBY (its three error texts, the 64-bit limits), HINCRBYFLOAT (Redis's number
formatting, its error texts, a stored "inf" and a long-double overflow), HRANDFIELD (no count,
positive, negative, 0, WITHVALUES, a missing key, the count's range checks), HSCAN (a small hash
in one call, a large one over its cursors, MATCH, COUNT, bad cursors, NOVALUES refused by 7.0);
the arity error of each command; the order of fields in a small (listpack) hash; the encodings
and Redis 7.0's thresholds (hash-max-listpack-entries 512, hash-max-listpack-value 64, for a
field name as for a value, reached through any writing command); WRONGTYPE both ways (every hash
command on a string, every string/bit/HyperLogLog command on a hash; LCS's own text), what the
string writers that overwrite do to a hash (SET, MSET, SETEX, BITOP's destination), a refused
command changing nothing; the generic commands on a hash (TYPE EXISTS DEL UNLINK, the EXPIRE
family and a TTL kept across hash writes, RENAME RENAMENX COPY, DUMP/RESTORE, OBJECT ENCODING,
SCAN TYPE, KEYS DBSIZE TOUCH FLUSHALL); RESP3 bytes of HGETALL, HRANDFIELD, HINCRBYFLOAT,
HSCAN, HMGET; MULTI/EXEC and WATCH (which hash writes touch a watched key); EVAL with
redis.call/redis.pcall; keyspace events (KEA, Kh, Eg, m); binary-safe names and values and a
1,000-field hash.

Exact-wire checks use raw sockets (flinproc.RawConn); waits are on events (a subscriber reads
up to a marker it PUBLISHed itself, with the socket timeout as the deadline), never on a sleep.

What is left out, or kept loose, and why:
- Field order of a large (hashtable) hash, and of any hash after it has become one (Redis
  does not convert back to listpack on HDEL): compared as dicts/sets only.
- HRANDFIELD's choices: only membership, counts, distinctness and field/value pairing are
  checked.  Where it must return the whole hash (count >= size) the set is checked, not the
  order, except for one-field hashes whose replies are fully determined.
- HSCAN cursors: Redis answers a small (listpack) hash in one call whatever the cursor (a
  cursor of 5 gets everything back); that is an encoding artefact and is not pinned.  Only
  cursor 0 on a small hash, and full iterations following the cursors given back, are.
- HRANDFIELD key -4611686018427387903 WITHVALUES (the most negative count 7.0 accepts with
  WITHVALUES) makes Redis 7.0 try to build a reply of 9.2e18 elements; it hangs the server, so
  only the range check just past it is tested.
- CONFIG SET hash-max-listpack-*: the module's server is shared, and Flin need not have these
  settings; only the defaults' thresholds are tested.
"""
import pytest

from event_helpers import kea
from flinproc import TARGET, Error, error_of, reply_bytes
from redis_texts import (
    arity, BAD_CURSOR, BUSY, EXECABORT, LLONG_MAX, LLONG_MIN, NOT_INT, OK, SYNTAX, WRONGTYPE)

NOT_FLOAT = "ERR value is not a valid float"
HASH_NOT_INT = "ERR hash value is not an integer"
HASH_NOT_FLOAT = "ERR hash value is not a float"
OVERFLOW = "ERR increment or decrement would overflow"
NAN_OR_INF = "ERR increment would produce NaN or Infinity"
INCR_NAN_OR_INF = "ERR value is NaN or Infinity"


def hset(raw, key, pairs):
    """HSET key with a dict or list of (field, value); returns the reply."""
    items = pairs.items() if isinstance(pairs, dict) else pairs
    args = [x for fv in items for x in fv]
    return raw.call("HSET", key, *args)


def as_dict(flat):
    """A flat [f1, v1, f2, v2...] reply as a dict."""
    assert len(flat) % 2 == 0, flat
    return dict(zip(flat[0::2], flat[1::2]))


def big_hash(n, prefix="f", value="v"):
    return {f"{prefix}{i}".encode(): f"{value}{i}".encode() for i in range(n)}


# ---------------------------------------------------------------------------
# HSET HSETNX HMSET HGET HMGET

def test_hset_counts_new_fields_only(raw):
    assert raw.call("HSET", "h", "a", "1", "b", "2") == 2
    assert raw.call("HSET", "h", "a", "10", "c", "3") == 1   # a updated, c new
    assert raw.call("HSET", "h", "a", "10") == 0
    assert raw.call("HGETALL", "h") == [b"a", b"10", b"b", b"2", b"c", b"3"]


def test_hset_same_field_twice_in_one_call_last_wins(raw):
    assert raw.call("HSET", "h", "a", "1", "a", "2") == 1
    assert raw.call("HGET", "h", "a") == b"2"
    assert raw.call("HLEN", "h") == 1


def test_hset_odd_arguments_is_arity_error(raw):
    for args in (("h",), ("h", "a"), ("h", "a", "1", "b")):
        assert error_of(raw, "HSET", *args) == arity("hset"), args
    assert raw.call("EXISTS", "h") == 0
    raw.call("HSET", "h", "a", "1")
    assert error_of(raw, "HSET", "h", "a", "2", "b") == arity("hset")
    assert raw.call("HGETALL", "h") == [b"a", b"1"]


def test_hsetnx(raw):
    assert raw.call("HSETNX", "h", "a", "1") == 1     # creates the key
    assert raw.call("HSETNX", "h", "a", "2") == 0
    assert raw.call("HGET", "h", "a") == b"1"
    assert raw.call("HSETNX", "h", "b", "2") == 1
    assert raw.call("HGETALL", "h") == [b"a", b"1", b"b", b"2"]


def test_hmset_replies_ok(raw):
    assert raw.call("HMSET", "h", "a", "1", "b", "2") == OK
    assert raw.call("HMSET", "h", "a", "3") == OK
    assert raw.call("HGETALL", "h") == [b"a", b"3", b"b", b"2"]
    assert error_of(raw, "HMSET", "h", "a", "1", "b") == arity("hmset")
    assert error_of(raw, "HMSET", "h") == arity("hmset")


def test_hget(raw):
    raw.call("HSET", "h", "a", "1")
    assert raw.call("HGET", "h", "a") == b"1"
    assert raw.call("HGET", "h", "nofield") is None
    assert raw.call("HGET", "nokey", "a") is None


def test_hmget_nil_for_missing_fields_and_keys(raw):
    raw.call("HSET", "h", "a", "1", "b", "2")
    assert raw.call("HMGET", "h", "a", "nofield", "b", "a") == [b"1", None, b"2", b"1"]
    assert raw.call("HMGET", "nokey", "a", "b") == [None, None]


# ---------------------------------------------------------------------------
# HDEL HLEN HSTRLEN HEXISTS HKEYS HVALS HGETALL

def test_hdel_counts_deleted_fields(raw):
    raw.call("HSET", "h", "a", "1", "b", "2", "c", "3")
    assert raw.call("HDEL", "h", "a", "nofield", "a") == 1   # a repeated counts once
    assert raw.call("HDEL", "h", "nofield") == 0
    assert raw.call("HGETALL", "h") == [b"b", b"2", b"c", b"3"]
    assert raw.call("HDEL", "nokey", "a") == 0


def test_hdel_of_last_field_deletes_the_key(raw):
    raw.call("HSET", "h", "a", "1", "b", "2")
    assert raw.call("HDEL", "h", "a", "b") == 2
    assert raw.call("EXISTS", "h") == 0
    assert raw.call("TYPE", "h") == "none"
    assert raw.call("HLEN", "h") == 0
    assert raw.call("DBSIZE") == 0


def test_hlen(raw):
    assert raw.call("HLEN", "nokey") == 0
    raw.call("HSET", "h", "a", "1", "b", "2")
    assert raw.call("HLEN", "h") == 2


def test_hstrlen(raw):
    raw.call("HSET", "h", "s", "hello", "n", "-123", "e", "", "big", "12345678901234567890")
    assert raw.call("HSTRLEN", "h", "s") == 5
    assert raw.call("HSTRLEN", "h", "n") == 4       # an integer-looking value: its text's length
    assert raw.call("HSTRLEN", "h", "e") == 0
    assert raw.call("HSTRLEN", "h", "big") == 20
    assert raw.call("HSTRLEN", "h", "nofield") == 0
    assert raw.call("HSTRLEN", "nokey", "a") == 0


def test_hexists(raw):
    raw.call("HSET", "h", "a", "1")
    assert raw.call("HEXISTS", "h", "a") == 1
    assert raw.call("HEXISTS", "h", "b") == 0
    assert raw.call("HEXISTS", "nokey", "a") == 0


def test_hkeys_hvals_hgetall(raw):
    raw.call("HSET", "h", "x", "1", "y", "2", "z", "3")
    assert raw.call("HKEYS", "h") == [b"x", b"y", b"z"]
    assert raw.call("HVALS", "h") == [b"1", b"2", b"3"]
    assert raw.call("HGETALL", "h") == [b"x", b"1", b"y", b"2", b"z", b"3"]


def test_hkeys_hvals_hgetall_of_missing_key_are_empty(raw):
    assert raw.call("HKEYS", "nokey") == []
    assert raw.call("HVALS", "nokey") == []
    assert raw.call("HGETALL", "nokey") == []


# ---------------------------------------------------------------------------
# HINCRBY

def test_hincrby(raw):
    assert raw.call("HINCRBY", "h", "n", "5") == 5       # creates key and field
    assert raw.call("HINCRBY", "h", "n", "-7") == -2
    assert raw.call("HINCRBY", "h", "n", "0") == -2
    assert raw.call("HGET", "h", "n") == b"-2"


def test_hincrby_hash_value_not_an_integer(raw):
    for v in ("abc", "", " 1", "1.5", "007", "-0", "12345678901234567890",
              "9223372036854775808"):
        raw.call("HSET", "h", "f", v)
        assert error_of(raw, "HINCRBY", "h", "f", "1") == HASH_NOT_INT, v
        assert raw.call("HGET", "h", "f") == v.encode()


def test_hincrby_bad_increment(raw):
    raw.call("HSET", "h", "f", "1")
    for inc in ("x", "1.5", "", " 1", "+5", "010", "99999999999999999999"):
        assert error_of(raw, "HINCRBY", "h", "f", inc) == NOT_INT, inc
    # The increment is parsed before the key is looked at.
    assert error_of(raw, "HINCRBY", "nokey", "f", "x") == NOT_INT
    assert raw.call("EXISTS", "nokey") == 0
    assert raw.call("HGET", "h", "f") == b"1"


def test_hincrby_overflow(raw):
    raw.call("HSET", "h", "max", str(LLONG_MAX), "min", str(LLONG_MIN), "one", "1")
    assert error_of(raw, "HINCRBY", "h", "max", "1") == OVERFLOW
    assert error_of(raw, "HINCRBY", "h", "min", "-1") == OVERFLOW
    assert error_of(raw, "HINCRBY", "h", "one", str(LLONG_MAX)) == OVERFLOW
    assert raw.call("HINCRBY", "h", "max", "0") == LLONG_MAX
    assert raw.call("HINCRBY", "h", "min", str(LLONG_MAX)) == -1
    assert raw.call("HINCRBY", "h", "new", str(LLONG_MIN)) == LLONG_MIN
    assert raw.call("HGET", "h", "one") == b"1"


# ---------------------------------------------------------------------------
# HINCRBYFLOAT

def test_hincrbyfloat_formats_like_redis(raw):
    assert raw.call("HINCRBYFLOAT", "h", "f", "10.5") == b"10.5"
    assert raw.call("HINCRBYFLOAT", "h", "f", "0.1") == b"10.6"
    assert raw.call("HINCRBYFLOAT", "h", "g", "5.0e3") == b"5000"
    assert raw.call("HINCRBYFLOAT", "h", "g", "-5000") == b"0"
    assert raw.call("HINCRBYFLOAT", "h", "p", "0.1") == b"0.1"
    assert raw.call("HINCRBYFLOAT", "h", "p", "0.2") == b"0.3"   # long double arithmetic
    assert raw.call("HINCRBYFLOAT", "h", "q", "1.50") == b"1.5"
    assert raw.call("HINCRBYFLOAT", "h", "r", "-1.5") == b"-1.5"
    assert raw.call("HINCRBYFLOAT", "h", "s", "3.14e-2") == b"0.0314"
    assert raw.call("HINCRBYFLOAT", "h", "t", "1e17") == b"100000000000000000"
    assert raw.call("HINCRBYFLOAT", "h", "u", "-0.0") == b"0"
    assert raw.call("HINCRBYFLOAT", "h", "w", "0x10") == b"16"      # strtold reads hex
    assert raw.call("HGET", "h", "f") == b"10.6"


def test_hincrbyfloat_tiny_result_prints_as_zero(raw):
    # Surprising but Redis: the result is printed with 17 fixed decimals and trimmed, so 1e-20
    # is stored (and answered) as "0".
    assert raw.call("HINCRBYFLOAT", "h", "f", "1e-20") == b"0"
    assert raw.call("HGET", "h", "f") == b"0"


def test_hincrbyfloat_on_integer_value_stores_its_text(raw):
    raw.call("HSET", "h", "n", "10")
    assert raw.call("HINCRBYFLOAT", "h", "n", "1") == b"11"
    assert raw.call("HINCRBYFLOAT", "h", "n", "1.5") == b"12.5"
    assert error_of(raw, "HINCRBY", "h", "n", "1") == HASH_NOT_INT
    # A value HINCRBY refuses as too big is a fine float.
    raw.call("HSET", "h", "big", "9223372036854775808")
    assert raw.call("HINCRBYFLOAT", "h", "big", "0") == b"9223372036854775808"


def test_hincrbyfloat_hash_value_not_a_float(raw):
    for v in ("abc", "", " 1", "2  ", "nan"):
        raw.call("HSET", "h", "f", v)
        assert error_of(raw, "HINCRBYFLOAT", "h", "f", "1") == HASH_NOT_FLOAT, v
        assert raw.call("HGET", "h", "f") == v.encode()


def test_hincrbyfloat_bad_increment(raw):
    raw.call("HSET", "h", "f", "1")
    for inc in ("abc", "", "1e", " 1.5", "1.5 ", "nan", "1e4933"):
        assert error_of(raw, "HINCRBYFLOAT", "h", "f", inc) == NOT_FLOAT, inc
    # An infinite increment has its own text (nan above does not).
    for inc in ("inf", "+inf", "-inf"):
        assert error_of(raw, "HINCRBYFLOAT", "h", "f", inc) == INCR_NAN_OR_INF, inc
    assert error_of(raw, "HINCRBYFLOAT", "nokey", "f", "x") == NOT_FLOAT
    assert raw.call("HGET", "h", "f") == b"1"
    assert raw.call("EXISTS", "nokey") == 0


def test_hincrbyfloat_nan_or_infinity_result(raw):
    # A stored "inf" parses as a float, so it is the result that is refused.
    raw.call("HSET", "h", "inf", "inf", "big", "1e4932", "neg", "-1e4932")
    assert error_of(raw, "HINCRBYFLOAT", "h", "inf", "1") == NAN_OR_INF
    assert error_of(raw, "HINCRBYFLOAT", "h", "big", "1e4932") == NAN_OR_INF
    assert error_of(raw, "HINCRBYFLOAT", "h", "neg", "-1e4932") == NAN_OR_INF
    assert raw.call("HMGET", "h", "inf", "big", "neg") == [b"inf", b"1e4932", b"-1e4932"]


def test_hincrbyfloat_beyond_double_range_uses_long_double(raw):
    raw.call("HSET", "h", "f", "1e308")
    got = raw.call("HINCRBYFLOAT", "h", "f", "1e308")
    assert isinstance(got, bytes) and len(got) == 309 and got.startswith(b"19999999999999999")


# ---------------------------------------------------------------------------
# HRANDFIELD

def test_hrandfield_missing_key(raw):
    assert raw.call("HRANDFIELD", "nokey") is None
    assert raw.call("HRANDFIELD", "nokey", "3") == []
    assert raw.call("HRANDFIELD", "nokey", "-3") == []
    assert raw.call("HRANDFIELD", "nokey", "3", "WITHVALUES") == []


def test_hrandfield_without_count_is_one_field(raw):
    raw.call("HSET", "h", "a", "1", "b", "2", "c", "3")
    for _ in range(20):
        assert raw.call("HRANDFIELD", "h") in (b"a", b"b", b"c")
    raw.call("HSET", "one", "only", "v")
    assert raw.call("HRANDFIELD", "one") == b"only"


def test_hrandfield_count_zero(raw):
    raw.call("HSET", "h", "a", "1")
    assert raw.call("HRANDFIELD", "h", "0") == []
    assert raw.call("HRANDFIELD", "h", "0", "WITHVALUES") == []


def test_hrandfield_positive_count_distinct(raw):
    fields = {b"a", b"b", b"c", b"d", b"e"}
    raw.call("HSET", "h", *[x for f in sorted(fields) for x in (f, b"v" + f)])
    for count in (1, 2, 3, 4):
        got = raw.call("HRANDFIELD", "h", count)
        assert len(got) == count and len(set(got)) == count and set(got) <= fields
    for count in (5, 6, 100, LLONG_MAX):     # the whole hash, once each
        got = raw.call("HRANDFIELD", "h", count)
        assert sorted(got) == sorted(fields), count


def test_hrandfield_negative_count_repeats(raw):
    raw.call("HSET", "h", "a", "1", "b", "2")
    for count in (1, 2, 3, 10, 50):
        got = raw.call("HRANDFIELD", "h", -count)
        assert len(got) == count and set(got) <= {b"a", b"b"}
    raw.call("HSET", "one", "only", "v")
    assert raw.call("HRANDFIELD", "one", "-4") == [b"only"] * 4


def test_hrandfield_withvalues_pairs(raw):
    h = big_hash(10)
    hset(raw, "h", h)
    for count in (3, -3, 10, 20, -20):
        got = raw.call("HRANDFIELD", "h", count, "WITHVALUES")
        assert len(got) == 2 * min(abs(count), 10 if count > 0 else abs(count))
        pairs = list(zip(got[0::2], got[1::2]))
        assert all(h[f] == v for f, v in pairs), pairs
        if count > 0:
            assert len({f for f, _ in pairs}) == len(pairs)
    assert as_dict(raw.call("HRANDFIELD", "h", 10, "WITHVALUES")) == h


def test_hrandfield_large_hash(raw):
    h = big_hash(1000)
    hset(raw, "h", h)
    for count in (10, 400, 900, 999):    # Redis picks differently for small and large counts
        got = raw.call("HRANDFIELD", "h", count)
        assert len(got) == count and len(set(got)) == count and set(got) <= set(h)
    got = raw.call("HRANDFIELD", "h", -2000, "WITHVALUES")
    assert len(got) == 4000 and all(h[f] == v for f, v in zip(got[0::2], got[1::2]))


def test_hrandfield_errors(raw):
    raw.call("HSET", "h", "a", "1")
    assert error_of(raw, "HRANDFIELD", "h", "x") == NOT_INT
    assert error_of(raw, "HRANDFIELD", "h", "1", "FOO") == SYNTAX
    assert error_of(raw, "HRANDFIELD", "h", "1", "WITHVALUES", "x") == SYNTAX
    # The count's range: -LONG_MAX..LONG_MAX, and half that with WITHVALUES.
    assert error_of(raw, "HRANDFIELD", "h", str(LLONG_MIN)) == \
        ("ERR value is out of range, value must between -9223372036854775807 and "
         "9223372036854775807")
    assert error_of(raw, "HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES") == \
        "ERR value is out of range"
    assert error_of(raw, "HRANDFIELD", "h", "4611686018427387904", "WITHVALUES") == \
        "ERR value is out of range"
    # Argument errors come before the key is looked at.
    assert error_of(raw, "HRANDFIELD", "nokey", "x") == NOT_INT
    assert error_of(raw, "HRANDFIELD", "nokey", "1", "FOO") == SYNTAX


# ---------------------------------------------------------------------------
# HSCAN

def test_hscan_small_hash_in_one_call(raw):
    raw.call("HSET", "h", "a", "1", "b", "2", "c", "3")
    assert raw.call("HSCAN", "h", "0") == [b"0", [b"a", b"1", b"b", b"2", b"c", b"3"]]
    assert raw.call("HSCAN", "h", "0", "COUNT", "1") == \
        [b"0", [b"a", b"1", b"b", b"2", b"c", b"3"]]


def test_hscan_match(raw):
    raw.call("HSET", "h", "apple", "1", "banana", "2", "avocado", "3")
    assert raw.call("HSCAN", "h", "0", "MATCH", "a*") == \
        [b"0", [b"apple", b"1", b"avocado", b"3"]]
    assert raw.call("HSCAN", "h", "0", "MATCH", "nothing*") == [b"0", []]
    # The last MATCH wins.
    assert raw.call("HSCAN", "h", "0", "MATCH", "*", "COUNT", "100", "MATCH", "b*") == \
        [b"0", [b"banana", b"2"]]


def test_hscan_missing_key(raw):
    assert raw.call("HSCAN", "nokey", "0") == [b"0", []]


def test_hscan_large_hash_full_iteration(raw):
    h = big_hash(1000)
    hset(raw, "h", h)
    seen = {}
    cursor, calls = b"0", 0
    while True:
        cursor, items = raw.call("HSCAN", "h", cursor, "COUNT", "50")
        calls += 1
        seen.update(as_dict(items))
        if cursor == b"0":
            break
        assert calls < 10000
    assert seen == h
    assert calls > 1   # COUNT 50 does not return 1000 fields at once from a hashtable


def test_hscan_large_hash_match(raw):
    h = big_hash(1000)
    hset(raw, "h", h)
    seen = {}
    cursor = b"0"
    while True:
        cursor, items = raw.call("HSCAN", "h", cursor, "MATCH", "f1*", "COUNT", "100")
        seen.update(as_dict(items))
        if cursor == b"0":
            break
    assert seen == {f: v for f, v in h.items() if f.startswith(b"f1")}


def test_hscan_errors(raw):
    raw.call("HSET", "h", "a", "1")
    for bad in ("x", " 0", "1.5", "18446744073709551616"):
        assert error_of(raw, "HSCAN", "h", bad) == BAD_CURSOR, bad
    assert error_of(raw, "HSCAN", "h", "0", "COUNT", "0") == SYNTAX
    assert error_of(raw, "HSCAN", "h", "0", "COUNT", "-1") == SYNTAX
    assert error_of(raw, "HSCAN", "h", "0", "COUNT", "x") == NOT_INT
    assert error_of(raw, "HSCAN", "h", "0", "MATCH") == SYNTAX
    assert error_of(raw, "HSCAN", "h", "0", "TYPE", "hash") == SYNTAX   # SCAN's option only
    assert error_of(raw, "HSCAN", "nokey", "x") == BAD_CURSOR


def test_hscan_novalues_is_a_syntax_error_in_7_0(raw):
    # NOVALUES came with Redis 7.4.  7.0 refuses it as an unknown option, but (surprising)
    # only once it has found the key: a missing key answers the empty scan first.
    raw.call("HSET", "h", "a", "1")
    assert error_of(raw, "HSCAN", "h", "0", "NOVALUES") == SYNTAX
    assert raw.call("HSCAN", "nokey", "0", "NOVALUES") == [b"0", []]
    hset(raw, "big", big_hash(600))
    assert error_of(raw, "HSCAN", "big", "0", "NOVALUES") == SYNTAX


# ---------------------------------------------------------------------------
# Arity

ARITY = [
    ("HSET", ["h"]), ("HSET", ["h", "f"]),
    ("HSETNX", ["h", "f"]), ("HSETNX", ["h", "f", "v", "x"]),
    ("HMSET", ["h"]), ("HMSET", ["h", "f"]),
    ("HGET", ["h"]), ("HGET", ["h", "f", "x"]),
    ("HMGET", ["h"]),
    ("HDEL", ["h"]),
    ("HLEN", []), ("HLEN", ["h", "x"]),
    ("HSTRLEN", ["h"]), ("HSTRLEN", ["h", "f", "x"]),
    ("HEXISTS", ["h"]), ("HEXISTS", ["h", "f", "x"]),
    ("HKEYS", []), ("HKEYS", ["h", "x"]),
    ("HVALS", []), ("HVALS", ["h", "x"]),
    ("HGETALL", []), ("HGETALL", ["h", "x"]),
    ("HINCRBY", ["h", "f"]), ("HINCRBY", ["h", "f", "1", "x"]),
    ("HINCRBYFLOAT", ["h", "f"]), ("HINCRBYFLOAT", ["h", "f", "1", "x"]),
    ("HRANDFIELD", []),
    ("HSCAN", ["h"]),
]


def test_arity_errors_of_every_hash_command(raw):
    raw.call("HSET", "h", "f", "v")
    for cmd, args in ARITY:
        assert error_of(raw, cmd, *args) == arity(cmd.lower()), (cmd, args)
    # Also in lower case, and before the key's type is looked at.
    raw.call("SET", "s", "v")
    assert error_of(raw, "hget", "s") == arity("hget")
    assert error_of(raw, "HSET", "s", "f") == arity("hset")
    assert raw.call("HGETALL", "h") == [b"f", b"v"]


# ---------------------------------------------------------------------------
# Field order and encodings

def test_small_hash_keeps_insertion_order(raw):
    fields = [f"field-{(i * 37) % 101}" for i in range(100)]   # not sorted
    raw.call("HSET", "h", *[x for f in fields for x in (f, f"v{f}")])
    assert raw.call("HKEYS", "h") == [f.encode() for f in fields]
    assert raw.call("HVALS", "h") == [f"v{f}".encode() for f in fields]
    # Updating a field keeps its place; a deleted and re-added field goes to the end.
    raw.call("HSET", "h", fields[0], "new")
    raw.call("HDEL", "h", fields[1])
    raw.call("HSET", "h", fields[1], "back")
    keys = raw.call("HKEYS", "h")
    assert keys[0] == fields[0].encode() and keys[-1] == fields[1].encode()
    assert keys[1:-1] == [f.encode() for f in fields[2:]]


def test_order_kept_up_to_512_fields(raw):
    fields = [f"k{(i * 7919) % 512}" for i in range(512)]
    raw.call("HSET", "h", *[x for f in fields for x in (f, "v")])
    assert raw.call("OBJECT", "ENCODING", "h") == b"listpack"
    assert raw.call("HKEYS", "h") == [f.encode() for f in fields]


def test_encoding_listpack_then_hashtable_at_513_fields(raw):
    hset(raw, "h", big_hash(512))
    assert raw.call("OBJECT", "ENCODING", "h") == b"listpack"
    raw.call("HSET", "h", "f0", "updated")               # no new field: stays
    assert raw.call("OBJECT", "ENCODING", "h") == b"listpack"
    raw.call("HSET", "h", "f512", "v")
    assert raw.call("OBJECT", "ENCODING", "h") == b"hashtable"
    hset(raw, "h2", big_hash(513))
    assert raw.call("OBJECT", "ENCODING", "h2") == b"hashtable"


def test_encoding_value_or_field_over_64_bytes(raw):
    raw.call("HSET", "v64", "f", "a" * 64)
    assert raw.call("OBJECT", "ENCODING", "v64") == b"listpack"
    raw.call("HSET", "v64", "g", "a" * 65)
    assert raw.call("OBJECT", "ENCODING", "v64") == b"hashtable"
    raw.call("HSET", "f64", "f" * 64, "1")
    assert raw.call("OBJECT", "ENCODING", "f64") == b"listpack"
    raw.call("HSET", "f65", "f" * 65, "1")
    assert raw.call("OBJECT", "ENCODING", "f65") == b"hashtable"


def test_encoding_never_goes_back_to_listpack(raw):
    raw.call("HSET", "h", "a", "1", "long", "x" * 65)
    assert raw.call("HDEL", "h", "long") == 1
    assert raw.call("OBJECT", "ENCODING", "h") == b"hashtable"
    assert raw.call("HGETALL", "h") == [b"a", b"1"]


def test_every_writer_converts_to_hashtable(raw):
    long_name = "f" * 65
    raw.call("HSET", "a", "x", "1")
    raw.call("HINCRBY", "a", long_name, "1")
    raw.call("HSET", "b", "x", "1")
    raw.call("HINCRBYFLOAT", "b", long_name, "1")
    raw.call("HSETNX", "c", "x", "v" * 65)
    raw.call("HMSET", "d", "x", "v" * 65)
    raw.call("HSET", "e", "x", "1e308")
    raw.call("HINCRBYFLOAT", "e", "x", "1e308")    # a 309-character result
    for key in "abcde":
        assert raw.call("OBJECT", "ENCODING", key) == b"hashtable", key
    hset(raw, "g", big_hash(512, value="1"))
    raw.call("HINCRBY", "g", "new", "1")           # the 513th field
    assert raw.call("OBJECT", "ENCODING", "g") == b"hashtable"


# ---------------------------------------------------------------------------
# WRONGTYPE: hash commands on a string

HASH_ON_STRING = [
    ("HSET", "s", "a", "1"), ("HSETNX", "s", "a", "1"), ("HMSET", "s", "a", "1"),
    ("HGET", "s", "a"), ("HMGET", "s", "a", "b"), ("HDEL", "s", "a"), ("HLEN", "s"),
    ("HSTRLEN", "s", "a"), ("HEXISTS", "s", "a"), ("HKEYS", "s"), ("HVALS", "s"),
    ("HGETALL", "s"), ("HINCRBY", "s", "a", "1"), ("HINCRBYFLOAT", "s", "a", "1"),
    ("HRANDFIELD", "s"), ("HRANDFIELD", "s", "2"), ("HRANDFIELD", "s", "-2", "WITHVALUES"),
    ("HSCAN", "s", "0"), ("HSCAN", "s", "0", "NOVALUES"),
]


def test_hash_commands_on_a_string_are_wrongtype(raw):
    raw.call("SET", "s", "value")
    for cmd in HASH_ON_STRING:
        assert error_of(raw, *cmd) == WRONGTYPE, cmd
    assert raw.call("GET", "s") == b"value"
    assert raw.call("TYPE", "s") == "string"


def test_hash_command_argument_errors_come_before_wrongtype(raw):
    raw.call("SET", "s", "value")
    assert error_of(raw, "HINCRBY", "s", "a", "x") == NOT_INT
    assert error_of(raw, "HINCRBYFLOAT", "s", "a", "x") == NOT_FLOAT
    assert error_of(raw, "HRANDFIELD", "s", "x") == NOT_INT
    assert error_of(raw, "HRANDFIELD", "s", "1", "FOO") == SYNTAX
    assert error_of(raw, "HSCAN", "s", "x") == BAD_CURSOR


# ---------------------------------------------------------------------------
# WRONGTYPE: string commands on a hash

STRING_ON_HASH = [
    ("GET", "h"), ("GETSET", "h", "x"), ("SET", "h", "x", "GET"),
    ("SET", "h", "x", "XX", "GET"), ("SET", "h", "x", "NX", "GET"),
    ("GETDEL", "h"), ("GETEX", "h"), ("GETEX", "h", "PERSIST"), ("GETEX", "h", "EX", "0"),
    ("GETRANGE", "h", "0", "1"), ("SUBSTR", "h", "0", "1"), ("STRLEN", "h"),
    ("APPEND", "h", "x"), ("APPEND", "h", ""), ("SETRANGE", "h", "0", "x"),
    ("SETRANGE", "h", "0", ""),
    ("INCR", "h"), ("INCRBY", "h", "2"), ("DECR", "h"), ("DECRBY", "h", "2"),
    ("INCRBYFLOAT", "h", "1.5"), ("INCRBYFLOAT", "h", "x"),
    ("GETBIT", "h", "0"), ("SETBIT", "h", "0", "1"), ("BITCOUNT", "h"),
    ("BITCOUNT", "h", "0", "-1"), ("BITPOS", "h", "1"),
    ("BITFIELD", "h", "GET", "u8", "0"), ("BITFIELD", "h"),
    ("BITFIELD_RO", "h", "GET", "u8", "0"),
    ("BITOP", "AND", "dest", "h"), ("BITOP", "OR", "dest", "s", "h"),
    ("BITOP", "OR", "h", "h"),
    ("PFADD", "h", "a"), ("PFADD", "h"), ("PFCOUNT", "h"), ("PFCOUNT", "hll", "h"),
    ("PFMERGE", "dest", "h"), ("PFMERGE", "h", "hll"),
]


def test_string_commands_on_a_hash_are_wrongtype(raw):
    raw.call("HSET", "h", "f", "v")
    raw.call("SET", "s", "abc")
    raw.call("PFADD", "hll", "x")
    for cmd in STRING_ON_HASH:
        assert error_of(raw, *cmd) == WRONGTYPE, cmd
    # A failed command changes nothing.
    assert raw.call("HGETALL", "h") == [b"f", b"v"]
    assert raw.call("TTL", "h") == -1
    assert raw.call("EXISTS", "dest") == 0
    assert raw.call("GET", "s") == b"abc"


def test_string_command_checks_order_against_a_hash(raw):
    # Some commands parse their arguments first, some look at the key first.
    raw.call("HSET", "h", "f", "v")
    assert error_of(raw, "INCRBY", "h", "x") == NOT_INT
    assert error_of(raw, "INCRBYFLOAT", "h", "x") == WRONGTYPE
    assert error_of(raw, "SETBIT", "h", "x", "1") == "ERR bit offset is not an integer or out of range"
    assert error_of(raw, "GETBIT", "h", "-1") == "ERR bit offset is not an integer or out of range"
    assert error_of(raw, "BITPOS", "h", "2") == "ERR The bit argument must be 1 or 0."
    assert error_of(raw, "GETEX", "h", "FOO") == SYNTAX
    assert error_of(raw, "BITFIELD", "h", "GET", "x", "0") == \
        ("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not "
         "supported but i64 is.")
    assert raw.call("HGETALL", "h") == [b"f", b"v"]


def test_lcs_on_a_hash_has_its_own_error(raw):
    # Not WRONGTYPE: LCS answers with its own text, whichever key is the hash.
    raw.call("HSET", "h", "f", "v")
    raw.call("SET", "s", "abc")
    assert error_of(raw, "LCS", "h", "s") == "ERR The specified keys must contain string values"
    assert error_of(raw, "LCS", "s", "h") == "ERR The specified keys must contain string values"


def test_bitop_overwrites_a_hash_destination(raw):
    raw.call("HSET", "h", "f", "v")
    raw.call("SET", "s", "ab")
    assert raw.call("BITOP", "OR", "h", "s") == 2
    assert raw.call("TYPE", "h") == "string"
    assert raw.call("GET", "h") == b"ab"


def test_bitop_empty_result_deletes_a_hash_destination(raw):
    raw.call("HSET", "h", "f", "v")
    assert raw.call("BITOP", "AND", "h", "nokey") == 0
    assert raw.call("EXISTS", "h") == 0


def test_mget_returns_nil_for_a_hash(raw):
    raw.call("HSET", "h", "f", "v")
    raw.call("SET", "s", "x")
    assert raw.call("MGET", "s", "h", "nokey") == [b"x", None, None]


def test_set_overwrites_a_hash(raw):
    raw.call("HSET", "h", "f", "v")
    assert raw.call("SET", "h", "str") == OK
    assert raw.call("TYPE", "h") == "string"
    assert raw.call("GET", "h") == b"str"
    assert error_of(raw, "HGET", "h", "f") == WRONGTYPE


def test_set_xx_nx_and_setex_on_a_hash(raw):
    raw.call("HSET", "h", "f", "v")
    assert raw.call("SET", "h", "x", "NX") is None     # the hash counts as existing
    assert raw.call("TYPE", "h") == "hash"
    assert raw.call("SET", "h", "x", "XX") == OK
    assert raw.call("GET", "h") == b"x"
    raw.call("HSET", "h2", "f", "v")
    assert raw.call("SETEX", "h2", "100", "y") == OK
    assert raw.call("GET", "h2") == b"y"
    assert 0 < raw.call("TTL", "h2") <= 100


def test_setnx_and_msetnx_see_the_hash(raw):
    raw.call("HSET", "h", "f", "v")
    assert raw.call("SETNX", "h", "x") == 0
    assert raw.call("MSETNX", "h", "x", "new", "y") == 0
    assert raw.call("EXISTS", "new") == 0
    assert raw.call("HGETALL", "h") == [b"f", b"v"]


def test_mset_overwrites_a_hash(raw):
    raw.call("HSET", "h", "f", "v")
    assert raw.call("MSET", "h", "str", "k", "v") == OK
    assert raw.call("TYPE", "h") == "string"
    assert raw.call("MGET", "h", "k") == [b"str", b"v"]


# ---------------------------------------------------------------------------
# Generic commands on a hash

def test_type_exists_del_unlink(raw):
    raw.call("HSET", "h", "f", "v")
    raw.call("HSET", "h2", "f", "v")
    assert raw.call("TYPE", "h") == "hash"
    assert raw.call("EXISTS", "h", "h", "h2", "nokey") == 3
    assert raw.call("DEL", "h", "nokey") == 1
    assert raw.call("UNLINK", "h2", "h") == 1
    assert raw.call("EXISTS", "h", "h2") == 0
    assert raw.call("HGETALL", "h") == []


def test_expire_family_keeps_the_hash(raw):
    raw.call("HSET", "h", "a", "1", "b", "2")
    assert raw.call("EXPIRE", "h", "100") == 1
    assert 0 < raw.call("TTL", "h") <= 100
    assert raw.call("PEXPIRE", "h", "200000") == 1
    assert 100000 < raw.call("PTTL", "h") <= 200000
    assert raw.call("EXPIREAT", "h", "4000000000") == 1
    assert raw.call("EXPIRETIME", "h") == 4000000000
    assert raw.call("PEXPIRETIME", "h") == 4000000000000
    assert raw.call("PERSIST", "h") == 1
    assert raw.call("TTL", "h") == -1
    assert raw.call("HGETALL", "h") == [b"a", b"1", b"b", b"2"]


def test_hash_writes_keep_the_ttl(raw):
    raw.call("HSET", "h", "a", "1", "b", "2")
    raw.call("EXPIREAT", "h", "4000000000")
    for cmd in (("HSET", "h", "c", "3"), ("HSET", "h", "a", "9"), ("HSETNX", "h", "d", "4"),
                ("HMSET", "h", "e", "5"), ("HDEL", "h", "e"), ("HINCRBY", "h", "a", "1"),
                ("HINCRBYFLOAT", "h", "a", "0.5")):
        assert not isinstance(raw.call(*cmd), Error), cmd
        assert raw.call("EXPIRETIME", "h") == 4000000000, cmd
    assert as_dict(raw.call("HGETALL", "h")) == \
        {b"a": b"10.5", b"b": b"2", b"c": b"3", b"d": b"4"}


def test_ttl_goes_with_the_last_field(raw):
    raw.call("HSET", "h", "a", "1")
    raw.call("EXPIRE", "h", "100")
    raw.call("HDEL", "h", "a")
    assert raw.call("TTL", "h") == -2
    raw.call("HSET", "h", "a", "1")        # a new key: no TTL
    assert raw.call("TTL", "h") == -1


def test_non_positive_expire_deletes_the_hash(raw):
    raw.call("HSET", "h", "a", "1")
    assert raw.call("EXPIRE", "h", "0") == 1
    assert raw.call("EXISTS", "h") == 0


def test_rename_and_renamenx(raw):
    raw.call("HSET", "h", "a", "1", "b", "2")
    raw.call("EXPIRE", "h", "100")
    assert raw.call("RENAME", "h", "h2") == OK
    assert raw.call("EXISTS", "h") == 0
    assert raw.call("HGETALL", "h2") == [b"a", b"1", b"b", b"2"]
    assert 0 < raw.call("TTL", "h2") <= 100
    raw.call("SET", "s", "x")
    assert raw.call("RENAMENX", "h2", "s") == 0
    assert raw.call("RENAMENX", "h2", "h3") == 1
    assert raw.call("HGETALL", "h3") == [b"a", b"1", b"b", b"2"]
    assert raw.call("RENAME", "h3", "s") == OK      # overwrites the string
    assert raw.call("TYPE", "s") == "hash"


def test_copy_and_copy_replace(raw):
    raw.call("HSET", "h", "a", "1", "b", "2")
    assert raw.call("COPY", "h", "c") == 1
    assert raw.call("COPY", "h", "c") == 0
    raw.call("HSET", "h", "x", "3")
    assert raw.call("COPY", "h", "c", "REPLACE") == 1
    assert raw.call("HGETALL", "c") == [b"a", b"1", b"b", b"2", b"x", b"3"]
    # The copy is its own hash.
    raw.call("HSET", "c", "a", "changed")
    assert raw.call("HGET", "h", "a") == b"1"
    raw.call("SET", "s", "str")
    assert raw.call("COPY", "h", "s") == 0
    assert raw.call("COPY", "h", "s", "REPLACE") == 1
    assert raw.call("TYPE", "s") == "hash"


def test_copy_large_hash(raw):
    h = big_hash(1000)
    hset(raw, "h", h)
    assert raw.call("COPY", "h", "c") == 1
    assert as_dict(raw.call("HGETALL", "c")) == h
    assert raw.call("OBJECT", "ENCODING", "c") == b"hashtable"


def test_dump_restore_round_trip(raw):
    raw.call("HSET", "h", "a", "1", "b", "", "", "x", "n", "12345")
    payload = raw.call("DUMP", "h")
    assert isinstance(payload, bytes)
    assert raw.call("RESTORE", "copy", "0", payload) == OK
    assert raw.call("HGETALL", "copy") == raw.call("HGETALL", "h")
    assert raw.call("OBJECT", "ENCODING", "copy") == b"listpack"
    assert raw.call("DUMP", "nokey") is None


def test_restore_replace_and_busykey(raw):
    raw.call("HSET", "h", "a", "1")
    payload = raw.call("DUMP", "h")
    raw.call("SET", "s", "str")
    assert error_of(raw, "RESTORE", "s", "0", payload) == BUSY
    assert raw.call("RESTORE", "s", "0", payload, "REPLACE") == OK
    assert raw.call("TYPE", "s") == "hash"
    assert raw.call("HGETALL", "s") == [b"a", b"1"]
    assert raw.call("RESTORE", "t", "100000", payload) == OK
    assert 0 < raw.call("PTTL", "t") <= 100000


def test_dump_restore_large_hash(raw):
    h = big_hash(1000)
    hset(raw, "h", h)
    payload = raw.call("DUMP", "h")
    assert raw.call("RESTORE", "copy", "0", payload) == OK
    assert as_dict(raw.call("HGETALL", "copy")) == h
    assert raw.call("OBJECT", "ENCODING", "copy") == b"hashtable"


def test_scan_type_filters(r):
    for i in range(20):
        r.hset(f"h{i}", "f", "v")
        r.set(f"s{i}", "v")
    assert set(r.scan_iter(_type="hash")) == {f"h{i}".encode() for i in range(20)}
    assert set(r.scan_iter(_type="string")) == {f"s{i}".encode() for i in range(20)}
    assert set(r.scan_iter(match="h1*", _type="hash")) == \
        {b"h1"} | {f"h1{i}".encode() for i in range(10)}


def test_keys_dbsize_touch_flushall(raw):
    raw.call("HSET", "h1", "f", "v")
    raw.call("HSET", "h2", "f", "v")
    raw.call("SET", "s", "v")
    assert sorted(raw.call("KEYS", "h*")) == [b"h1", b"h2"]
    assert raw.call("DBSIZE") == 3
    assert raw.call("TOUCH", "h1", "h2", "nokey") == 2
    assert raw.call("FLUSHALL") == OK
    assert raw.call("DBSIZE") == 0
    assert raw.call("HGETALL", "h1") == []


def test_object_encoding_of_missing_key(raw):
    assert raw.call("OBJECT", "ENCODING", "nokey") is None


# ---------------------------------------------------------------------------
# RESP3

def test_resp3_hgetall_is_a_map(conn):
    c = conn(3)
    c.call("HSET", "h", "a", "1", "b", "2")
    assert reply_bytes(c, "HGETALL", "h") == \
        b"%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
    assert reply_bytes(c, "HGETALL", "nokey") == b"%0\r\n"


def test_resp3_hrandfield_withvalues_is_array_of_pairs(conn):
    c = conn(3)
    c.call("HSET", "h", "a", "1")
    assert reply_bytes(c, "HRANDFIELD", "h", "1", "WITHVALUES") == \
        b"*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    assert reply_bytes(c, "HRANDFIELD", "h", "-2", "WITHVALUES") == \
        b"*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    assert reply_bytes(c, "HRANDFIELD", "h", "0", "WITHVALUES") == b"*0\r\n"
    assert reply_bytes(c, "HRANDFIELD", "nokey", "2", "WITHVALUES") == b"*0\r\n"
    # Without WITHVALUES: a flat array, or a bulk string, or null.
    assert reply_bytes(c, "HRANDFIELD", "h", "-2") == b"*2\r\n$1\r\na\r\n$1\r\na\r\n"
    assert reply_bytes(c, "HRANDFIELD", "h") == b"$1\r\na\r\n"
    assert reply_bytes(c, "HRANDFIELD", "nokey") == b"_\r\n"


def test_resp3_hrandfield_withvalues_pairs_on_larger_hash(conn):
    c = conn(3)
    h = big_hash(5)
    hset(c, "h", h)
    got = c.call("HRANDFIELD", "h", "-7", "WITHVALUES")
    assert len(got) == 7 and all(isinstance(p, list) and len(p) == 2 for p in got)
    assert all(h[f] == v for f, v in got)


def test_resp3_hincrbyfloat_is_bulk_string(conn):
    c = conn(3)
    assert reply_bytes(c, "HINCRBYFLOAT", "h", "a", "1.5") == b"$3\r\n1.5\r\n"
    assert reply_bytes(c, "HINCRBY", "h", "n", "2") == b":2\r\n"


def test_resp3_hscan_shape(conn):
    c = conn(3)
    c.call("HSET", "h", "a", "1", "b", "2")
    assert reply_bytes(c, "HSCAN", "h", "0") == \
        b"*2\r\n$1\r\n0\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
    assert reply_bytes(c, "HSCAN", "nokey", "0") == b"*2\r\n$1\r\n0\r\n*0\r\n"


def test_resp3_nulls_of_hget_and_hmget(conn):
    c = conn(3)
    c.call("HSET", "h", "a", "1")
    assert reply_bytes(c, "HGET", "h", "x") == b"_\r\n"
    assert reply_bytes(c, "HMGET", "h", "a", "x") == b"*2\r\n$1\r\n1\r\n_\r\n"
    assert reply_bytes(c, "HKEYS", "h") == b"*1\r\n$1\r\na\r\n"
    assert reply_bytes(c, "HMSET", "h", "a", "1") == b"+OK\r\n"


# ---------------------------------------------------------------------------
# Transactions

def test_multi_exec_with_hash_commands(raw):
    assert raw.call("MULTI") == OK
    assert raw.call("HSET", "h", "a", "1", "b", "2") == "QUEUED"
    assert raw.call("HGET", "h", "a") == "QUEUED"
    assert raw.call("HINCRBY", "h", "a", "x") == "QUEUED"
    assert raw.call("HINCRBY", "h", "b", "3") == "QUEUED"
    assert raw.call("HGETALL", "h") == "QUEUED"
    got = raw.call("EXEC")
    assert got[:2] == [2, b"1"]
    assert isinstance(got[2], Error) and got[2] == NOT_INT
    assert got[3:] == [5, [b"a", b"1", b"b", b"5"]]


def test_multi_queued_arity_error_aborts(raw):
    assert raw.call("MULTI") == OK
    assert raw.call("HSET", "h", "a", "1") == "QUEUED"
    assert error_of(raw, "HSET", "h", "a") == arity("hset")
    assert error_of(raw, "EXEC") == EXECABORT
    assert raw.call("EXISTS", "h") == 0


def test_multi_wrongtype_is_that_commands_reply(raw):
    raw.call("SET", "s", "x")
    raw.call("MULTI")
    raw.call("HSET", "s", "a", "1")
    raw.call("HSET", "h", "a", "1")
    got = raw.call("EXEC")
    assert got[0] == WRONGTYPE and isinstance(got[0], Error) and got[1] == 1


def test_watch_hash_changed_by_another_client(conn):
    a, b = conn(), conn()
    a.call("HSET", "h", "a", "1")
    assert a.call("WATCH", "h") == OK
    assert b.call("HSET", "h", "b", "2") == 1
    a.call("MULTI")
    a.call("HGET", "h", "a")
    assert a.call("EXEC") is None


# A write that changes the hash aborts EXEC. One that leaves it as it was: Redis aborts too
# (it signals every write), Flin compares what the key holds and runs EXEC (docs/DESIGN.md,
# "Transactions are one log entry").
@pytest.mark.parametrize("write,changes", [
    (("HSET", "h", "a", "2"), True),
    (("HINCRBY", "h", "n", "1"), True),
    (("HDEL", "h", "a"), True),
    (("HSETNX", "h", "new", "v"), True),
    (("HINCRBYFLOAT", "h", "n", "0.5"), True),
    (("HSET", "h", "a", "1"), False),
    (("HINCRBY", "h", "n", "0"), False),
    (("HINCRBYFLOAT", "h", "n", "0"), False),
])
def test_watch_and_hash_writes(conn, write, changes):
    a, b = conn(), conn()
    a.call("HSET", "h", "a", "1", "n", "5")
    a.call("WATCH", "h")
    assert not isinstance(b.call(*write), Error)
    a.call("MULTI")
    a.call("HLEN", "h")
    aborted = changes or TARGET == "redis"
    assert a.call("EXEC") == (None if aborted else [2]), write


@pytest.mark.parametrize("write", [
    ("HDEL", "h", "nofield"),          # deletes nothing
    ("HSETNX", "h", "a", "other"),     # sets nothing
    ("HGET", "h", "a"),
])
def test_watch_not_aborted_by_no_op_hash_commands(conn, write):
    a, b = conn(), conn()
    a.call("HSET", "h", "a", "1")
    a.call("WATCH", "h")
    b.call(*write)
    a.call("MULTI")
    a.call("HGET", "h", "a")
    assert a.call("EXEC") == [b"1"], write


# ---------------------------------------------------------------------------
# Scripts

def test_eval_hset_and_hgetall_flat_array(raw):
    assert raw.call("EVAL", "return redis.call('HSET', KEYS[1], 'a', '1', 'b', '2')",
                    "1", "h") == 2
    assert raw.call("EVAL", "return redis.call('HGETALL', KEYS[1])", "1", "h") == \
        [b"a", b"1", b"b", b"2"]
    assert raw.call("EVAL", "return redis.call('HMGET', KEYS[1], 'a', 'zz')", "1", "h") == \
        [b"1", None]
    assert raw.call("EVAL", "return redis.call('HGET', KEYS[1], 'zz') == false",
                    "1", "h") == 1
    assert raw.call("EVAL", "return redis.call('HINCRBYFLOAT', KEYS[1], 'a', '1.5')",
                    "1", "h") == b"2.5"


def test_eval_resp3_hgetall_is_a_map_table(raw):
    raw.call("HSET", "h", "a", "1", "b", "2")
    assert raw.call("EVAL", "redis.setresp(3); local t = redis.call('HGETALL', KEYS[1]); "
                    "return t['map']['b']", "1", "h") == b"2"
    # Returned to a RESP2 client, the map is flattened.
    assert raw.call("EVAL", "redis.setresp(3); return redis.call('HGETALL', KEYS[1])",
                    "1", "h") == [b"a", b"1", b"b", b"2"]


def test_eval_pcall_wrongtype_returns_error_table(raw):
    raw.call("SET", "s", "x")
    assert raw.call("EVAL", "local r = redis.pcall('HSET', KEYS[1], 'a', '1'); "
                    "return {type(r), r['err']}", "1", "s") == [b"table", WRONGTYPE.encode()]
    got = raw.call("EVAL", "return redis.pcall('HGET', KEYS[1], 'a')", "1", "s")
    assert isinstance(got, Error) and got == WRONGTYPE
    assert raw.call("GET", "s") == b"x"


def test_eval_call_errors_carry_script_location(raw):
    raw.call("SET", "s", "x")
    raw.call("HSET", "h", "a", "x")
    e = error_of(raw, "EVAL", "return redis.call('HGET', KEYS[1], 'a')", "1", "s")
    assert e.startswith(WRONGTYPE + " script: ") and e.endswith(", on @user_script:1."), e
    assert raw.call("EVAL", "return redis.pcall('HINCRBY', KEYS[1], 'a', '1')", "1", "h") == \
        HASH_NOT_INT
    assert raw.call("EVAL", "return redis.pcall('HSET', KEYS[1], 'a')", "1", "h") == \
        "ERR Wrong number of args calling Redis command from script"


def test_eval_ro_refuses_hash_writes(raw):
    raw.call("HSET", "h", "a", "1")
    e = error_of(raw, "EVAL_RO", "return redis.call('HSET', KEYS[1], 'a', '2')", "1", "h")
    assert e.startswith("ERR Write commands are not allowed from read-only scripts."), e
    assert raw.call("EVAL_RO", "return redis.call('HGET', KEYS[1], 'a')", "1", "h") == b"1"


# ---------------------------------------------------------------------------
# Keyspace notifications

def test_events_hset_hsetnx_hmset(events):
    ev = events("KEA")
    assert ev.run("HSET", "h", "a", "1", "b", "2") == (2, kea("hset", "h"))
    assert ev.run("HSETNX", "h", "c", "3") == (1, kea("hset", "h"))
    assert ev.run("HMSET", "h", "a", "5") == (OK, kea("hset", "h"))


def test_event_hset_fires_even_when_nothing_changes(events):
    ev = events("KEA")
    ev.run("HSET", "h", "a", "1")
    assert ev.run("HSET", "h", "a", "1") == (0, kea("hset", "h"))


def test_no_event_for_hsetnx_or_hdel_that_do_nothing(events):
    ev = events("KEA")
    ev.run("HSET", "h", "a", "1")
    assert ev.run("HSETNX", "h", "a", "2") == (0, [])
    assert ev.run("HDEL", "h", "nofield") == (0, [])
    assert ev.run("HDEL", "nokey", "a") == (0, [])


def test_events_hdel_and_del_of_last_field(events):
    ev = events("KEA")
    ev.run("HSET", "h", "a", "1", "b", "2")
    assert ev.run("HDEL", "h", "a", "zz") == (1, kea("hdel", "h"))
    assert ev.run("HDEL", "h", "b") == (1, kea("hdel", "h") + kea("del", "h"))


def test_events_hincrby_hincrbyfloat(events):
    ev = events("KEA")
    assert ev.run("HINCRBY", "h", "n", "1") == (1, kea("hincrby", "h"))
    assert ev.run("HINCRBY", "h", "n", "0") == (1, kea("hincrby", "h"))   # even by 0
    assert ev.run("HINCRBYFLOAT", "h", "f", "1.5") == (b"1.5", kea("hincrbyfloat", "h"))
    reply, got = ev.run("HINCRBY", "h", "n", "x")
    assert reply == NOT_INT and got == []


def test_events_reads_raise_none(events):
    ev = events("KEA")
    ev.run("HSET", "h", "a", "1")
    for cmd in (("HGET", "h", "a"), ("HGETALL", "h"), ("HLEN", "h"), ("HSCAN", "h", "0"),
                ("HRANDFIELD", "h"), ("HGET", "h", "nofield")):
        assert ev.run(*cmd)[1] == [], cmd


def test_events_class_h_only(events):
    # Kh: hash events on the keyspace channel only; the generic del is not in class h.
    ev = events("Kh")
    assert ev.run("HSET", "h", "a", "1") == (1, [("__keyspace@0__:h", "hset")])
    assert ev.run("HDEL", "h", "a") == (1, [("__keyspace@0__:h", "hdel")])
    ev.run("HSET", "h", "a", "1")
    assert ev.run("DEL", "h") == (1, [])


def test_events_generic_commands_on_a_hash(events):
    ev = events("Eg")
    ev.run("HSET", "h", "a", "1")        # class h is off: nothing
    assert ev.run("RENAME", "h", "h2") == \
        (OK, [("__keyevent@0__:rename_from", "h"), ("__keyevent@0__:rename_to", "h2")])
    assert ev.run("COPY", "h2", "h3") == (1, [("__keyevent@0__:copy_to", "h3")])
    assert ev.run("EXPIRE", "h3", "100") == (1, [("__keyevent@0__:expire", "h3")])
    assert ev.run("HDEL", "h2", "a") == (1, [("__keyevent@0__:del", "h2")])


def test_events_keymiss_of_hash_reads(events):
    ev = events("Km")
    for cmd in (("HGET", "nokey", "f"), ("HGETALL", "nokey"), ("HLEN", "nokey"),
                ("HEXISTS", "nokey", "f"), ("HMGET", "nokey", "f"), ("HSTRLEN", "nokey", "f"),
                ("HRANDFIELD", "nokey"), ("HSCAN", "nokey", "0")):
        assert ev.run(*cmd)[1] == [("__keyspace@0__:nokey", "keymiss")], cmd
    ev.run("HSET", "h", "a", "1")
    assert ev.run("HGET", "h", "nofield")[1] == []     # a missing field is not a keymiss
    assert ev.run("HDEL", "nokey", "a")[1] == []       # writes raise no keymiss


# ---------------------------------------------------------------------------
# Binary safety and a large hash

def test_binary_fields_and_values(raw):
    pairs = [(b"\x00", b"nul"), (b"a\x00b", b"\x00\x01\xff"), (b"\r\n", b"\r\n"),
             (b"", b"empty-field"), (b"empty-value", b""), (b"\xff\xfe", b"x\x00")]
    assert hset(raw, b"k\x00ey", pairs) == len(pairs)
    assert raw.call("HGETALL", b"k\x00ey") == [x for p in pairs for x in p]
    for f, v in pairs:
        assert raw.call("HGET", b"k\x00ey", f) == v
        assert raw.call("HSTRLEN", b"k\x00ey", f) == len(v)
        assert raw.call("HEXISTS", b"k\x00ey", f) == 1
    assert raw.call("HGET", b"k\x00ey", b"a") is None
    assert raw.call("HGET", b"k\x00ey", b"a\x00") is None
    assert raw.call("HDEL", b"k\x00ey", b"") == 1
    assert raw.call("HEXISTS", b"k\x00ey", b"") == 0


def test_empty_field_and_value(raw):
    assert raw.call("HSET", "h", "", "") == 1
    assert raw.call("HGETALL", "h") == [b"", b""]
    assert raw.call("HLEN", "h") == 1
    assert raw.call("HGET", "h", "") == b""


def test_large_hash_round_trip(raw):
    h = {f"field:{i}".encode(): (f"value-{i}-" + "x" * (i % 100)).encode() for i in range(1000)}
    assert hset(raw, "big", h) == 1000
    assert raw.call("HLEN", "big") == 1000
    assert as_dict(raw.call("HGETALL", "big")) == h
    assert sorted(raw.call("HKEYS", "big")) == sorted(h)
    assert sorted(raw.call("HVALS", "big")) == sorted(h.values())
    assert raw.call("OBJECT", "ENCODING", "big") == b"hashtable"
    assert raw.call("HDEL", "big", *list(h)[:500]) == 500
    assert as_dict(raw.call("HGETALL", "big")) == dict(list(h.items())[500:])


def test_large_hash_with_redis_py(r):
    h = {f"f{i}".encode(): f"v{i}".encode() for i in range(1000)}
    assert r.hset("big", mapping=h) == 1000
    assert r.hgetall("big") == h
    assert r.hmget("big", ["f0", "f999", "nope"]) == [b"v0", b"v999", None]
    assert r.hincrby("big", "counter", 3) == 3
    assert r.hincrbyfloat("big", "counter", 0.5) == 3.5
