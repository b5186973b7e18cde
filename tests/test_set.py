"""The SET data type, as Redis 7.0 does it.

Covered: SADD (the count of new members, a member repeated in one call), SREM (the count, the
key deleted with its last member), SCARD, SISMEMBER, SMISMEMBER, SMEMBERS, SPOP (no count;
count 0, positive, larger than the set, Redis's two pick strategies on a large set, the count's
error text; the key deleted when emptied), SRANDMEMBER (no count, positive, negative with
repeats, 0, a missing key, the count's range checks), SMOVE (src == dst, a missing source, an
absent member, a wrong-typed destination, the source deleted when emptied, a member the
destination already has), SINTER SUNION SDIFF (missing keys as empty sets, repeated keys),
SINTERCARD (numkeys' and LIMIT's error texts, LIMIT 0, a key named LIMIT), SINTERSTORE
SUNIONSTORE SDIFFSTORE (an empty result deletes the destination and answers 0, the destination
overwritten whatever its type and losing its TTL, a source that is also the destination, a
wrong-typed source changing nothing), SSCAN (a small set in one call, a 1,000-member set
iterated to completion with every member once, MATCH, COUNT, bad cursors, option errors found
only after the key); the arity error of each command; the order of integer sets (intset: sorted
ascending, negatives and the 64-bit extremes too); OBJECT ENCODING (intset while every member
is an integer in string2ll's canonical form and there are at most 512 of them, hashtable
otherwise, no listpack in 7.0, no way back after SREM, a *STORE result or a RESTOREd payload
built afresh); WRONGTYPE both ways (every set command on a string and on a hash, one wrong key
among several, SMOVE's destination, a *STORE source; the string, bit, HyperLogLog and hash
commands on a set, LCS's own text, MGET's nil) and which argument errors come before it; SET /
SETNX / MSETNX over a set; the generic commands on a set (TYPE EXISTS DEL UNLINK, the EXPIRE
family and a TTL kept across set writes, RENAME RENAMENX COPY, DUMP/RESTORE and RESTORE of
payloads Redis 7.0.15 DUMPed (intsets of each width, hashtable sets, one LZF-compressed of each),
the DUMP bytes of an intset and of a small hashtable set, SCAN TYPE, KEYS DBSIZE); RESP3 bytes
of SMEMBERS SINTER SUNION SDIFF SPOP SRANDMEMBER SMISMEMBER SSCAN SINTERCARD; MULTI/EXEC and
WATCH (which set writes touch a watched key, and that no-ops do not); EVAL (redis.call results
as Lua tables, RESP3's set table, SPOP in a script, pcall errors, EVAL_RO); keyspace events (KEA,
Ks, Eg, Km: sadd srem spop, smove's srem and sadd, the *store events, del when a set is emptied
and its place among the others, none for a no-op); binary-safe members, the empty member and a
1,000-member set.

Exact-wire checks use raw sockets (flinproc.RawConn); waits are on events (a subscriber reads
up to a marker it PUBLISHed itself, with the socket timeout as the deadline), never on a sleep.

What is left out, or kept loose, and why:
- The member order of a hashtable-encoded set (any set with a non-integer member, more than
  512 members, or one that has been either): Redis's order there comes from its hash function
  and a per-process seed.  Such replies are compared as sets (with no duplicates).  Only intset
  order (sorted ascending) is pinned, and RESP3 bytes are pinned on single-member sets.
- SPOP's and SRANDMEMBER's choices: only membership, counts, distinctness (positive counts) and
  that SPOP removes what it answers are checked.  Where the whole set comes back, as a set.
- SSCAN cursors other than 0 on a small set: Redis answers an intset in one call whatever the
  cursor; that is an encoding artefact and is not pinned.  A cursor of "-1" is accepted by
  7.0 (strtoul) and not pinned either.
- SRANDMEMBER key -9223372036854775807 (the most negative count 7.0 accepts) makes Redis try to
  build a reply of 9.2e18 elements and hangs it; only the range check just past it is tested.
- CONFIG SET/GET set-max-intset-entries: the module's server is shared, and Flin need not have
  the setting; only the default threshold (512) is tested, through OBJECT ENCODING.
- The DUMP bytes of a hashtable set of several members (their order is the hash table's) and of
  a 64-bit intset (LZF-compressed: another compressor may compress differently): those payloads
  are only RESTOREd, not compared with a DUMP.
"""
import pytest

from event_helpers import kea
from flinproc import TARGET, Error, error_of, reply_bytes
from redis_texts import (
    arity, BAD_CURSOR, BUSY, EXECABORT, LLONG_MAX, LLONG_MIN, NOT_INT, OK, SYNTAX, WRONGTYPE)


# SPOP's count is read by getPositiveLongFromObjectOrReply: one text for "not a number" and
# for "negative".
SPOP_COUNT = "ERR value is out of range, must be positive"
SRANDMEMBER_RANGE = ("ERR value is out of range, value must between -9223372036854775807 and "
                     "9223372036854775807")
NUMKEYS = "ERR numkeys should be greater than 0"
NUMKEYS_ARGS = "ERR Number of keys can't be greater than number of args"
LIMIT_NEG = "ERR LIMIT can't be negative"


def members(raw, key):
    """SMEMBERS key as a Python set (asserting it has no duplicates)."""
    got = raw.call("SMEMBERS", key)
    assert isinstance(got, list), got
    assert len(got) == len(set(got)), got
    return set(got)


def as_set(reply):
    assert isinstance(reply, list), reply
    assert len(reply) == len(set(reply)), reply
    return set(reply)


def encoding(raw, key):
    return raw.call("OBJECT", "ENCODING", key)


def strs(n, prefix="m"):
    return [f"{prefix}{i}".encode() for i in range(n)]


def ints(n, start=0):
    return [str(i).encode() for i in range(start, start + n)]


# ---------------------------------------------------------------------------
# SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS

def test_sadd_counts_new_members_only(raw):
    assert raw.call("SADD", "s", "a", "b") == 2
    assert raw.call("SADD", "s", "a", "c") == 1
    assert raw.call("SADD", "s", "a") == 0
    assert members(raw, "s") == {b"a", b"b", b"c"}
    assert raw.call("SCARD", "s") == 3


def test_sadd_same_member_repeated_in_one_call_counts_once(raw):
    assert raw.call("SADD", "s", "x", "y", "x", "z", "y") == 3
    assert raw.call("SCARD", "s") == 3
    assert raw.call("SADD", "i", "1", "1", "1") == 1
    assert raw.call("SMEMBERS", "i") == [b"1"]


def test_srem_counts_removed_members(raw):
    raw.call("SADD", "s", "a", "b", "c")
    assert raw.call("SREM", "s", "a", "zz", "a") == 1     # a repeated counts once
    assert raw.call("SREM", "s", "zz") == 0
    assert members(raw, "s") == {b"b", b"c"}
    assert raw.call("SREM", "nokey", "a") == 0
    assert raw.call("EXISTS", "nokey") == 0


def test_srem_of_last_member_deletes_the_key(raw):
    raw.call("SADD", "s", "a", "b")
    assert raw.call("SREM", "s", "a", "b", "c") == 2
    assert raw.call("EXISTS", "s") == 0
    assert raw.call("TYPE", "s") == "none"
    assert raw.call("SCARD", "s") == 0
    assert raw.call("DBSIZE") == 0


def test_scard(raw):
    assert raw.call("SCARD", "nokey") == 0
    raw.call("SADD", "s", "a", "b", "1")
    assert raw.call("SCARD", "s") == 3


def test_sismember(raw):
    raw.call("SADD", "s", "a", "1")
    assert raw.call("SISMEMBER", "s", "a") == 1
    assert raw.call("SISMEMBER", "s", "1") == 1
    assert raw.call("SISMEMBER", "s", "b") == 0
    assert raw.call("SISMEMBER", "nokey", "a") == 0


def test_integer_spellings_are_different_members(raw):
    # In an intset too, "01", "+1" and " 1" are not the member "1".
    raw.call("SADD", "i", "1", "2")
    assert encoding(raw, "i") == b"intset"
    for other in ("01", "+1", " 1", "1 ", "1.0"):
        assert raw.call("SISMEMBER", "i", other) == 0, other
        assert raw.call("SREM", "i", other) == 0, other
    assert raw.call("SMEMBERS", "i") == [b"1", b"2"]
    assert raw.call("SADD", "i", "01") == 1
    assert members(raw, "i") == {b"1", b"01", b"2"}


def test_smismember(raw):
    raw.call("SADD", "s", "a", "c")
    assert raw.call("SMISMEMBER", "s", "a", "zz", "c", "a") == [1, 0, 1, 1]
    assert raw.call("SMISMEMBER", "s", "zz") == [0]
    assert raw.call("SMISMEMBER", "nokey", "a", "b") == [0, 0]


def test_smembers(raw):
    raw.call("SADD", "s", "x", "y", "z")
    assert members(raw, "s") == {b"x", b"y", b"z"}
    assert raw.call("SMEMBERS", "nokey") == []


# ---------------------------------------------------------------------------
# SPOP

def test_spop_without_count(raw):
    assert raw.call("SPOP", "nokey") is None
    raw.call("SADD", "s", "a", "b", "c")
    got = raw.call("SPOP", "s")
    assert got in (b"a", b"b", b"c")
    assert members(raw, "s") == {b"a", b"b", b"c"} - {got}
    raw.call("SADD", "one", "only")
    assert raw.call("SPOP", "one") == b"only"
    assert raw.call("EXISTS", "one") == 0     # emptied: deleted


def test_spop_count_zero(raw):
    raw.call("SADD", "s", "a")
    assert raw.call("SPOP", "s", "0") == []
    assert raw.call("SPOP", "nokey", "0") == []
    assert members(raw, "s") == {b"a"}
    assert raw.call("SPOP", "nokey", "5") == []
    assert raw.call("EXISTS", "nokey") == 0


def test_spop_positive_count_removes_what_it_answers(raw):
    original = {b"a", b"b", b"c", b"d", b"e"}
    raw.call("SADD", "s", *sorted(original))
    got = raw.call("SPOP", "s", "2")
    assert len(got) == 2 and len(set(got)) == 2 and set(got) <= original
    left = members(raw, "s")
    assert left == original - set(got)
    got2 = raw.call("SPOP", "s", "1")
    assert len(got2) == 1 and got2[0] in left
    assert raw.call("SCARD", "s") == 2


@pytest.mark.parametrize("count", ["3", "4", "100", str(LLONG_MAX)])
def test_spop_count_at_least_the_size_pops_all_and_deletes(raw, count):
    raw.call("SADD", "s", "a", "b", "1")
    assert as_set(raw.call("SPOP", "s", count)) == {b"a", b"b", b"1"}
    assert raw.call("EXISTS", "s") == 0
    raw.call("SADD", "i", "3", "1", "2")
    assert as_set(raw.call("SPOP", "i", count)) == {b"1", b"2", b"3"}
    assert raw.call("EXISTS", "i") == 0


@pytest.mark.parametrize("count", [1, 10, 150, 199, 200, 700, 999])
def test_spop_count_on_large_set(raw, count):
    # Redis 7.0 pops a few members one by one, but for count * 5 > size keeps the rest in a
    # new set instead; both must answer distinct members and leave exactly the others.
    original = strs(1000)
    raw.call("SADD", "s", *original)
    got = raw.call("SPOP", "s", count)
    assert len(got) == count and len(set(got)) == count and set(got) <= set(original)
    assert members(raw, "s") == set(original) - set(got)


def test_spop_count_on_large_intset(raw):
    original = ints(500, start=-250)
    raw.call("SADD", "i", *original)
    got = raw.call("SPOP", "i", "300")
    assert len(set(got)) == 300 and set(got) <= set(original)
    left = raw.call("SMEMBERS", "i")
    assert left == sorted(set(original) - set(got), key=int)   # still sorted
    assert encoding(raw, "i") == b"intset"


def test_spop_count_errors(raw):
    raw.call("SADD", "s", "a")
    for bad in ("-1", "x", "1.5", "", "+1", " 1", "9223372036854775808", str(LLONG_MIN)):
        assert error_of(raw, "SPOP", "s", bad) == SPOP_COUNT, bad
    assert error_of(raw, "SPOP", "s", "1", "2") == SYNTAX       # not an arity error
    # The count is checked before the key is looked at.
    assert error_of(raw, "SPOP", "nokey", "-1") == SPOP_COUNT
    assert members(raw, "s") == {b"a"}


# ---------------------------------------------------------------------------
# SRANDMEMBER

def test_srandmember_missing_key(raw):
    assert raw.call("SRANDMEMBER", "nokey") is None
    assert raw.call("SRANDMEMBER", "nokey", "3") == []
    assert raw.call("SRANDMEMBER", "nokey", "-3") == []
    assert raw.call("SRANDMEMBER", "nokey", "0") == []
    assert raw.call("EXISTS", "nokey") == 0


def test_srandmember_without_count(raw):
    raw.call("SADD", "s", "a", "b", "c")
    for _ in range(20):
        assert raw.call("SRANDMEMBER", "s") in (b"a", b"b", b"c")
    assert raw.call("SCARD", "s") == 3      # nothing removed
    raw.call("SADD", "one", "only")
    assert raw.call("SRANDMEMBER", "one") == b"only"


def test_srandmember_count_zero(raw):
    raw.call("SADD", "s", "a")
    assert raw.call("SRANDMEMBER", "s", "0") == []


def test_srandmember_positive_count_distinct(raw):
    mem = {b"a", b"b", b"c", b"d", b"e"}
    raw.call("SADD", "s", *sorted(mem))
    for count in (1, 2, 3, 4):
        got = raw.call("SRANDMEMBER", "s", count)
        assert len(got) == count and len(set(got)) == count and set(got) <= mem
    for count in (5, 6, 100, LLONG_MAX):       # the whole set, once each
        assert as_set(raw.call("SRANDMEMBER", "s", count)) == mem, count
    assert members(raw, "s") == mem


def test_srandmember_negative_count_repeats(raw):
    raw.call("SADD", "s", "a", "b")
    for count in (1, 2, 3, 10, 50):
        got = raw.call("SRANDMEMBER", "s", -count)
        assert len(got) == count and set(got) <= {b"a", b"b"}
    raw.call("SADD", "one", "only")
    assert raw.call("SRANDMEMBER", "one", "-4") == [b"only"] * 4
    raw.call("SADD", "i", "7")
    assert raw.call("SRANDMEMBER", "i", "-3") == [b"7"] * 3


def test_srandmember_large_sets(raw):
    # Redis 7.0 picks differently for small and large counts (count * 3 > size).
    s = strs(1000)
    raw.call("SADD", "s", *s)
    for count in (10, 300, 400, 900, 999):
        got = raw.call("SRANDMEMBER", "s", count)
        assert len(got) == count and len(set(got)) == count and set(got) <= set(s), count
    got = raw.call("SRANDMEMBER", "s", "-2000")
    assert len(got) == 2000 and set(got) <= set(s)
    i = ints(500)
    raw.call("SADD", "i", *i)
    for count in (10, 400):
        got = raw.call("SRANDMEMBER", "i", count)
        assert len(got) == count and len(set(got)) == count and set(got) <= set(i), count
    assert raw.call("SCARD", "s") == 1000 and raw.call("SCARD", "i") == 500


def test_srandmember_errors(raw):
    raw.call("SADD", "s", "a")
    for bad in ("x", "+1", " 1", "1.5", "", "9223372036854775808"):
        assert error_of(raw, "SRANDMEMBER", "s", bad) == NOT_INT, bad
    # The count's range is -LONG_MAX..LONG_MAX (LLONG_MIN cannot be negated).
    assert error_of(raw, "SRANDMEMBER", "s", str(LLONG_MIN)) == SRANDMEMBER_RANGE
    assert error_of(raw, "SRANDMEMBER", "s", "1", "2") == SYNTAX
    # Argument errors come before the key is looked at.
    assert error_of(raw, "SRANDMEMBER", "nokey", "x") == NOT_INT
    assert error_of(raw, "SRANDMEMBER", "nokey", str(LLONG_MIN)) == SRANDMEMBER_RANGE


# ---------------------------------------------------------------------------
# SMOVE

def test_smove_moves_and_creates_destination(raw):
    raw.call("SADD", "src", "a", "b")
    assert raw.call("SMOVE", "src", "dst", "a") == 1
    assert members(raw, "src") == {b"b"}
    assert members(raw, "dst") == {b"a"}
    assert raw.call("TYPE", "dst") == "set"


def test_smove_source_deleted_when_emptied(raw):
    raw.call("SADD", "src", "a")
    raw.call("SADD", "dst", "x")
    assert raw.call("SMOVE", "src", "dst", "a") == 1
    assert raw.call("EXISTS", "src") == 0
    assert members(raw, "dst") == {b"a", b"x"}


def test_smove_member_already_in_destination(raw):
    raw.call("SADD", "src", "a", "b")
    raw.call("SADD", "dst", "a")
    assert raw.call("SMOVE", "src", "dst", "a") == 1     # removed from src all the same
    assert members(raw, "src") == {b"b"}
    assert members(raw, "dst") == {b"a"}


def test_smove_same_source_and_destination(raw):
    raw.call("SADD", "s", "a", "b")
    assert raw.call("SMOVE", "s", "s", "a") == 1
    assert raw.call("SMOVE", "s", "s", "zz") == 0
    assert members(raw, "s") == {b"a", b"b"}
    raw.call("SADD", "one", "a")
    assert raw.call("SMOVE", "one", "one", "a") == 1     # not emptied, not deleted
    assert members(raw, "one") == {b"a"}
    raw.call("SET", "str", "x")
    assert error_of(raw, "SMOVE", "str", "str", "a") == WRONGTYPE


def test_smove_missing_source_or_member(raw):
    assert raw.call("SMOVE", "nokey", "dst", "a") == 0
    assert raw.call("EXISTS", "dst") == 0
    raw.call("SADD", "src", "a")
    assert raw.call("SMOVE", "src", "dst", "zz") == 0
    assert raw.call("EXISTS", "dst") == 0
    assert members(raw, "src") == {b"a"}


def test_smove_missing_source_answers_0_before_checking_destination_type(raw):
    # Surprising but Redis 7.0: a missing source answers 0 even when the destination is a
    # string; an existing source with a wrong-typed destination is WRONGTYPE, even for a member
    # that is not there.
    raw.call("SET", "str", "x")
    assert raw.call("SMOVE", "nokey", "str", "a") == 0
    raw.call("SADD", "src", "a")
    assert error_of(raw, "SMOVE", "src", "str", "zz") == WRONGTYPE


@pytest.mark.parametrize("make_other", [("SET", "o", "x"), ("HSET", "o", "f", "v")])
def test_smove_wrong_types(raw, make_other):
    raw.call(*make_other)
    raw.call("SADD", "src", "a")
    assert error_of(raw, "SMOVE", "src", "o", "a") == WRONGTYPE
    assert error_of(raw, "SMOVE", "o", "src", "a") == WRONGTYPE
    assert error_of(raw, "SMOVE", "o", "nokey", "a") == WRONGTYPE
    assert members(raw, "src") == {b"a"}
    assert raw.call("TYPE", "o") == ("string" if make_other[0] == "SET" else "hash")


def test_smove_keeps_both_ttls(raw):
    raw.call("SADD", "src", "a", "b")
    raw.call("SADD", "dst", "x")
    raw.call("EXPIREAT", "src", "4000000000")
    raw.call("EXPIREAT", "dst", "4100000000")
    assert raw.call("SMOVE", "src", "dst", "a") == 1
    assert raw.call("EXPIRETIME", "src") == 4000000000
    assert raw.call("EXPIRETIME", "dst") == 4100000000


# ---------------------------------------------------------------------------
# SINTER SUNION SDIFF

def test_sinter_sunion_sdiff(raw):
    raw.call("SADD", "a", "1", "2", "3", "x")
    raw.call("SADD", "b", "2", "3", "4", "x")
    raw.call("SADD", "c", "3", "x", "y")
    assert as_set(raw.call("SINTER", "a", "b")) == {b"2", b"3", b"x"}
    assert as_set(raw.call("SINTER", "a", "b", "c")) == {b"3", b"x"}
    assert as_set(raw.call("SUNION", "a", "b")) == {b"1", b"2", b"3", b"4", b"x"}
    assert as_set(raw.call("SUNION", "a", "b", "c")) == {b"1", b"2", b"3", b"4", b"x", b"y"}
    assert as_set(raw.call("SDIFF", "a", "b")) == {b"1"}
    assert as_set(raw.call("SDIFF", "b", "a")) == {b"4"}
    assert as_set(raw.call("SDIFF", "a", "b", "c")) == {b"1"}
    assert raw.call("SDIFF", "c", "a", "b") == [b"y"]


def test_single_key_and_repeated_keys(raw):
    raw.call("SADD", "a", "1", "2", "z")
    for cmd in ("SINTER", "SUNION", "SDIFF"):
        assert as_set(raw.call(cmd, "a")) == {b"1", b"2", b"z"}, cmd
    assert as_set(raw.call("SINTER", "a", "a", "a")) == {b"1", b"2", b"z"}
    assert as_set(raw.call("SUNION", "a", "a")) == {b"1", b"2", b"z"}
    assert raw.call("SDIFF", "a", "a") == []


def test_missing_keys_are_empty_sets(raw):
    raw.call("SADD", "a", "1", "2")
    assert raw.call("SINTER", "a", "nokey") == []
    assert raw.call("SINTER", "nokey", "a") == []
    assert raw.call("SINTER", "nokey") == []
    assert as_set(raw.call("SUNION", "a", "nokey")) == {b"1", b"2"}
    assert as_set(raw.call("SUNION", "nokey", "a")) == {b"1", b"2"}
    assert raw.call("SUNION", "nokey", "nokey2") == []
    assert as_set(raw.call("SDIFF", "a", "nokey")) == {b"1", b"2"}
    assert raw.call("SDIFF", "nokey", "a") == []
    assert raw.call("SDIFF", "nokey") == []


def test_intset_results_are_sorted(raw):
    # Results built from integer sets are intsets themselves: sorted.
    raw.call("SADD", "a", "5", "-3", "1", "9")
    raw.call("SADD", "b", "9", "1", "-7")
    assert raw.call("SUNION", "a", "b") == [b"-7", b"-3", b"1", b"5", b"9"]
    assert raw.call("SDIFF", "a", "b") == [b"-3", b"5"]


# ---------------------------------------------------------------------------
# SINTERCARD

def test_sintercard(raw):
    raw.call("SADD", "a", "1", "2", "3", "x")
    raw.call("SADD", "b", "2", "3", "x", "y")
    assert raw.call("SINTERCARD", "2", "a", "b") == 3
    assert raw.call("SINTERCARD", "1", "a") == 4
    assert raw.call("SINTERCARD", "2", "a", "a") == 4
    assert raw.call("SINTERCARD", "2", "a", "nokey") == 0
    assert raw.call("SINTERCARD", "1", "nokey") == 0


def test_sintercard_limit(raw):
    raw.call("SADD", "a", "1", "2", "3", "x")
    raw.call("SADD", "b", "2", "3", "x", "y")
    assert raw.call("SINTERCARD", "2", "a", "b", "LIMIT", "1") == 1
    assert raw.call("SINTERCARD", "2", "a", "b", "LIMIT", "2") == 2
    assert raw.call("SINTERCARD", "2", "a", "b", "LIMIT", "3") == 3
    assert raw.call("SINTERCARD", "2", "a", "b", "LIMIT", "100") == 3
    assert raw.call("SINTERCARD", "2", "a", "b", "LIMIT", "0") == 3      # 0: no limit
    assert raw.call("SINTERCARD", "2", "a", "b", "limit", "1") == 1
    assert raw.call("SINTERCARD", "1", "a", "LIMIT", str(LLONG_MAX)) == 4
    assert raw.call("SINTERCARD", "2", "a", "b", "LIMIT", "5", "LIMIT", "1") == 1  # last wins


def test_sintercard_key_named_limit(raw):
    # numkeys decides what is a key: "LIMIT" right after numkeys is a key name.
    assert raw.call("SINTERCARD", "1", "LIMIT") == 0
    raw.call("SADD", "LIMIT", "a", "b")
    assert raw.call("SINTERCARD", "1", "LIMIT") == 2
    assert raw.call("SINTERCARD", "1", "LIMIT", "LIMIT", "1") == 1


def test_sintercard_errors(raw):
    raw.call("SADD", "a", "1")
    for bad in ("0", "-1", "x", "01", "1.0", ""):
        assert error_of(raw, "SINTERCARD", bad, "a") == NUMKEYS, bad
    for big in ("2", "3", "2147483647", "2147483648", str(LLONG_MAX)):
        assert error_of(raw, "SINTERCARD", big, "a") == NUMKEYS_ARGS, big
    for bad in ("-1", "x", "9223372036854775808"):
        assert error_of(raw, "SINTERCARD", "1", "a", "LIMIT", bad) == LIMIT_NEG, bad
    assert error_of(raw, "SINTERCARD", "1", "a", "LIMIT") == SYNTAX
    assert error_of(raw, "SINTERCARD", "1", "a", "FOO") == SYNTAX
    assert error_of(raw, "SINTERCARD", "1", "a", "nokey") == SYNTAX   # one key too many
    # Argument errors come before the keys are looked at.
    assert error_of(raw, "SINTERCARD", "2", "nokey", "nokey2", "LIMIT", "x") == LIMIT_NEG


# ---------------------------------------------------------------------------
# SINTERSTORE SUNIONSTORE SDIFFSTORE

def test_store_commands(raw):
    raw.call("SADD", "a", "1", "2", "3", "x")
    raw.call("SADD", "b", "2", "3", "y")
    assert raw.call("SINTERSTORE", "d1", "a", "b") == 2
    assert members(raw, "d1") == {b"2", b"3"}
    assert raw.call("SUNIONSTORE", "d2", "a", "b") == 5
    assert members(raw, "d2") == {b"1", b"2", b"3", b"x", b"y"}
    assert raw.call("SDIFFSTORE", "d3", "a", "b") == 2
    assert members(raw, "d3") == {b"1", b"x"}
    assert raw.call("SUNIONSTORE", "d4", "a", "nokey") == 4
    assert members(raw, "d4") == members(raw, "a")
    # The sources are untouched; the destination is a set of its own.
    raw.call("SADD", "d4", "new")
    assert members(raw, "a") == {b"1", b"2", b"3", b"x"}


@pytest.mark.parametrize("cmd,args", [
    ("SINTERSTORE", ["a", "nokey"]),
    ("SINTERSTORE", ["nokey"]),
    ("SUNIONSTORE", ["nokey", "nokey2"]),
    ("SDIFFSTORE", ["a", "a"]),
    ("SDIFFSTORE", ["nokey", "a"]),
])
def test_store_of_empty_result_deletes_the_destination(raw, cmd, args):
    raw.call("SADD", "a", "1", "2")
    assert raw.call(cmd, "gone", *args) == 0                # a missing destination stays so
    assert raw.call("EXISTS", "gone") == 0
    raw.call("SADD", "dset", "old")
    raw.call("SET", "dstr", "old")
    raw.call("HSET", "dhash", "f", "v")
    for dst in ("dset", "dstr", "dhash"):                   # whatever its type
        assert raw.call(cmd, dst, *args) == 0, dst
        assert raw.call("EXISTS", dst) == 0, dst
    assert members(raw, "a") == {b"1", b"2"}


@pytest.mark.parametrize("make_dst", [("SET", "d", "str"), ("HSET", "d", "f", "v"),
                                      ("SADD", "d", "old", "1")])
def test_store_overwrites_destination_of_any_type_and_drops_its_ttl(raw, make_dst):
    raw.call("SADD", "a", "1", "2")
    raw.call("SADD", "b", "2", "3")
    for cmd, want in (("SINTERSTORE", {b"2"}), ("SUNIONSTORE", {b"1", b"2", b"3"}),
                      ("SDIFFSTORE", {b"1"})):
        raw.call("DEL", "d")
        raw.call(*make_dst)
        raw.call("EXPIRE", "d", "1000")
        assert raw.call(cmd, "d", "a", "b") == len(want), cmd
        assert raw.call("TYPE", "d") == "set"
        assert members(raw, "d") == want, cmd
        assert raw.call("TTL", "d") == -1, cmd


def test_store_source_is_also_destination(raw):
    raw.call("SADD", "a", "1", "2", "3")
    raw.call("SADD", "b", "2", "3", "4")
    assert raw.call("SDIFFSTORE", "a", "a", "b") == 1
    assert members(raw, "a") == {b"1"}
    assert raw.call("SUNIONSTORE", "a", "a", "b") == 4
    assert members(raw, "a") == {b"1", b"2", b"3", b"4"}
    assert raw.call("SINTERSTORE", "b", "a", "b") == 3
    assert members(raw, "b") == {b"2", b"3", b"4"}
    assert raw.call("SUNIONSTORE", "b", "b") == 3
    assert members(raw, "b") == {b"2", b"3", b"4"}
    assert raw.call("SDIFFSTORE", "b", "b", "b") == 0
    assert raw.call("EXISTS", "b") == 0


@pytest.mark.parametrize("make_other", [("SET", "o", "x"), ("HSET", "o", "f", "v")])
def test_store_with_wrong_typed_source_changes_nothing(raw, make_other):
    raw.call(*make_other)
    raw.call("SADD", "a", "1")
    raw.call("SADD", "d", "keep")
    for cmd in ("SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"):
        assert error_of(raw, cmd, "d", "a", "o") == WRONGTYPE, cmd
        assert error_of(raw, cmd, "d", "o", "a") == WRONGTYPE, cmd
        assert error_of(raw, cmd, "d", "nokey", "o") == WRONGTYPE, cmd
        assert error_of(raw, cmd, "new", "o") == WRONGTYPE, cmd
        # The wrong-typed source is the destination too: refused, not overwritten.
        assert error_of(raw, cmd, "o", "o", "a") == WRONGTYPE, cmd
    assert members(raw, "d") == {b"keep"}
    assert raw.call("EXISTS", "new") == 0
    assert raw.call("TYPE", "o") == ("string" if make_other[0] == "SET" else "hash")


# ---------------------------------------------------------------------------
# SSCAN

def test_sscan_small_set_in_one_call(raw):
    raw.call("SADD", "s", "a", "b", "c")
    cursor, items = raw.call("SSCAN", "s", "0")
    assert cursor == b"0" and as_set(items) == {b"a", b"b", b"c"}
    raw.call("SADD", "i", "10", "-2", "3")
    assert raw.call("SSCAN", "i", "0") == [b"0", [b"-2", b"3", b"10"]]
    assert raw.call("SSCAN", "i", "0", "COUNT", "1") == [b"0", [b"-2", b"3", b"10"]]


def test_sscan_missing_key(raw):
    assert raw.call("SSCAN", "nokey", "0") == [b"0", []]


def test_sscan_spellings_of_cursor_zero(raw):
    raw.call("SADD", "i", "1", "2")
    for zero in ("", "00", "+0", "-0"):     # strtoul
        assert raw.call("SSCAN", "i", zero) == [b"0", [b"1", b"2"]], zero


def test_sscan_match(raw):
    raw.call("SADD", "s", "apple", "banana", "avocado")
    cursor, items = raw.call("SSCAN", "s", "0", "MATCH", "a*")
    assert cursor == b"0" and as_set(items) == {b"apple", b"avocado"}
    assert raw.call("SSCAN", "s", "0", "MATCH", "nothing*") == [b"0", []]
    # The last MATCH wins; options in any case.
    assert raw.call("SSCAN", "s", "0", "match", "*", "COUNT", "100", "MATCH", "b*") == \
        [b"0", [b"banana"]]
    raw.call("SADD", "i", "1", "2", "3", "10", "11")
    assert raw.call("SSCAN", "i", "0", "MATCH", "1*") == [b"0", [b"1", b"10", b"11"]]


def scan_all(raw, key, *opts):
    """Follow SSCAN's cursors to the end; return (every item in order got, calls)."""
    got, cursor, calls = [], b"0", 0
    while True:
        cursor, items = raw.call("SSCAN", key, cursor, *opts)
        got += items
        calls += 1
        if cursor == b"0":
            return got, calls
        assert calls < 10000


def test_sscan_large_set_full_iteration(raw):
    s = strs(1000)
    raw.call("SADD", "s", *s)
    got, calls = scan_all(raw, "s", "COUNT", "50")
    assert len(got) == 1000 and set(got) == set(s)     # every member exactly once
    assert calls > 1   # COUNT 50 does not return 1000 members at once from a hashtable
    got, _ = scan_all(raw, "s")                        # the default COUNT (10)
    assert len(got) == 1000 and set(got) == set(s)


def test_sscan_large_set_match(raw):
    s = strs(1000)
    raw.call("SADD", "s", *s)
    got, _ = scan_all(raw, "s", "MATCH", "m1*", "COUNT", "100")
    assert len(got) == len(set(got)) and set(got) == {m for m in s if m.startswith(b"m1")}


def test_sscan_errors(raw):
    raw.call("SADD", "s", "a")
    for bad in ("x", " 0", "0x", "1.5", "18446744073709551616"):
        assert error_of(raw, "SSCAN", "s", bad) == BAD_CURSOR, bad
    assert error_of(raw, "SSCAN", "s", "0", "COUNT", "0") == SYNTAX
    assert error_of(raw, "SSCAN", "s", "0", "COUNT", "-1") == SYNTAX
    assert error_of(raw, "SSCAN", "s", "0", "COUNT", "x") == NOT_INT
    assert error_of(raw, "SSCAN", "s", "0", "COUNT") == SYNTAX
    assert error_of(raw, "SSCAN", "s", "0", "MATCH") == SYNTAX
    assert error_of(raw, "SSCAN", "s", "0", "MATCH", "a*", "COUNT") == SYNTAX
    assert error_of(raw, "SSCAN", "s", "0", "TYPE", "set") == SYNTAX      # SCAN's option only
    assert error_of(raw, "SSCAN", "s", "0", "NOVALUES") == SYNTAX
    assert error_of(raw, "SSCAN", "nokey", "x") == BAD_CURSOR


def test_sscan_options_are_checked_only_for_an_existing_set(raw):
    # Surprising but Redis 7.0: the cursor is parsed first, then the key looked up, and only
    # then the options: a missing key answers the empty scan whatever they are, and a string
    # key is WRONGTYPE before COUNT 0 is refused.
    assert raw.call("SSCAN", "nokey", "0", "COUNT", "0") == [b"0", []]
    assert raw.call("SSCAN", "nokey", "0", "FOO") == [b"0", []]
    raw.call("SET", "str", "x")
    assert error_of(raw, "SSCAN", "str", "0", "COUNT", "0") == WRONGTYPE
    assert error_of(raw, "SSCAN", "str", "x") == BAD_CURSOR


# ---------------------------------------------------------------------------
# Arity

ARITY = [
    ("SADD", []), ("SADD", ["s"]),
    ("SREM", []), ("SREM", ["s"]),
    ("SCARD", []), ("SCARD", ["s", "x"]),
    ("SISMEMBER", ["s"]), ("SISMEMBER", ["s", "a", "b"]),
    ("SMISMEMBER", ["s"]),
    ("SMEMBERS", []), ("SMEMBERS", ["s", "x"]),
    ("SPOP", []),
    ("SRANDMEMBER", []),
    ("SMOVE", ["s", "d"]), ("SMOVE", ["s", "d", "a", "b"]),
    ("SINTER", []),
    ("SINTERCARD", []), ("SINTERCARD", ["1"]),
    ("SINTERSTORE", ["d"]),
    ("SUNION", []),
    ("SUNIONSTORE", ["d"]),
    ("SDIFF", []),
    ("SDIFFSTORE", ["d"]),
    ("SSCAN", []), ("SSCAN", ["s"]),
]


def test_arity_errors_of_every_set_command(raw):
    raw.call("SADD", "s", "a")
    for cmd, args in ARITY:
        assert error_of(raw, cmd, *args) == arity(cmd.lower()), (cmd, args)
    # Also in lower case, and before the key's type is looked at.
    raw.call("SET", "str", "v")
    assert error_of(raw, "sadd", "str") == arity("sadd")
    assert error_of(raw, "SMOVE", "str", "d") == arity("smove")
    assert members(raw, "s") == {b"a"}


# ---------------------------------------------------------------------------
# Order and encodings

def test_intset_is_sorted(raw):
    raw.call("SADD", "s", "3", "1", "2")
    assert raw.call("SMEMBERS", "s") == [b"1", b"2", b"3"]
    raw.call("SADD", "n", "-5", "10", "-100", "0", "7")
    assert raw.call("SMEMBERS", "n") == [b"-100", b"-5", b"0", b"7", b"10"]
    raw.call("SADD", "x", str(LLONG_MAX), "0", str(LLONG_MIN), "70000", "-3")
    assert raw.call("SMEMBERS", "x") == \
        [str(LLONG_MIN).encode(), b"-3", b"0", b"70000", str(LLONG_MAX).encode()]
    raw.call("SREM", "x", "0")
    assert raw.call("SMEMBERS", "x") == \
        [str(LLONG_MIN).encode(), b"-3", b"70000", str(LLONG_MAX).encode()]


def test_intset_of_512_members_is_sorted(raw):
    order = [str((i * 7919) % 512 - 256).encode() for i in range(512)]    # not sorted
    assert raw.call("SADD", "s", *order) == 512
    assert encoding(raw, "s") == b"intset"
    assert raw.call("SMEMBERS", "s") == [str(i).encode() for i in range(-256, 256)]


@pytest.mark.parametrize("member", ["0", "1", "-1", "123456", str(LLONG_MAX), str(LLONG_MIN)])
def test_canonical_integers_make_an_intset(raw, member):
    raw.call("SADD", "s", member)
    assert encoding(raw, "s") == b"intset"
    assert raw.call("SMEMBERS", "s") == [member.encode()]


@pytest.mark.parametrize("member", ["01", "+1", " 1", "1 ", "-0", "1.0", "", "0x10", "1e3",
                                    "9223372036854775808", "-9223372036854775809", "a"])
def test_other_spellings_make_a_hashtable(raw, member):
    # Redis's string2ll takes only the canonical form: no leading zero, no "+", no spaces,
    # no "-0", within 64 bits.
    raw.call("SADD", "s", member)
    assert encoding(raw, "s") == b"hashtable"
    assert raw.call("SMEMBERS", "s") == [member.encode()]


def test_no_listpack_encoding_in_7_0(raw):
    # Redis 7.2 keeps small sets of strings as a listpack; 7.0 has intset and hashtable only.
    raw.call("SADD", "s", "a")
    assert encoding(raw, "s") == b"hashtable"
    raw.call("SADD", "t", "a", "b", "c", "1")
    assert encoding(raw, "t") == b"hashtable"


def test_intset_up_to_512_members_then_hashtable(raw):
    raw.call("SADD", "s", *ints(512))
    assert encoding(raw, "s") == b"intset"
    raw.call("SADD", "s", "0")                    # no new member: stays
    assert encoding(raw, "s") == b"intset"
    raw.call("SADD", "s", "512")
    assert encoding(raw, "s") == b"hashtable"
    assert raw.call("SCARD", "s") == 513
    raw.call("SADD", "t", *ints(513))
    assert encoding(raw, "t") == b"hashtable"


def test_non_integer_member_converts_intset(raw):
    raw.call("SADD", "s", "1", "2")
    raw.call("SADD", "s", "x")
    assert encoding(raw, "s") == b"hashtable"
    assert members(raw, "s") == {b"1", b"2", b"x"}


def test_encoding_never_goes_back_to_intset(raw):
    raw.call("SADD", "s", "1", "2", "x")
    assert raw.call("SREM", "s", "x") == 1
    assert encoding(raw, "s") == b"hashtable"
    assert members(raw, "s") == {b"1", b"2"}
    raw.call("SADD", "big", *ints(513))
    raw.call("SREM", "big", *ints(500))
    assert encoding(raw, "big") == b"hashtable"
    assert members(raw, "big") == set(ints(13, start=500))


def test_smove_converts_an_intset_destination(raw):
    raw.call("SADD", "src", "a", "5")
    raw.call("SADD", "dst", "1")
    raw.call("SMOVE", "src", "dst", "5")
    assert encoding(raw, "dst") == b"intset"
    assert raw.call("SMEMBERS", "dst") == [b"1", b"5"]
    raw.call("SMOVE", "src", "dst", "a")
    assert encoding(raw, "dst") == b"hashtable"
    assert raw.call("EXISTS", "src") == 0


def test_store_results_are_built_afresh(raw):
    # A *STORE result is a new set: an intset when every member is an integer, even when the
    # sources are hashtables; a hashtable past 512 members.
    raw.call("SADD", "h", "1", "2", "x", "3")
    raw.call("SADD", "g", "3", "2", "y")
    assert encoding(raw, "h") == b"hashtable"
    assert raw.call("SINTERSTORE", "d", "h", "g") == 2
    assert encoding(raw, "d") == b"intset"
    assert raw.call("SMEMBERS", "d") == [b"2", b"3"]
    assert raw.call("SDIFFSTORE", "d", "h", "g") == 2
    assert encoding(raw, "d") == b"hashtable"
    raw.call("SREM", "h", "x")
    assert raw.call("SUNIONSTORE", "d", "h") == 3
    assert encoding(raw, "d") == b"intset"
    raw.call("SADD", "u", *ints(300))
    raw.call("SADD", "v", *ints(300, start=300))
    assert raw.call("SUNIONSTORE", "w", "u", "v") == 600
    assert encoding(raw, "w") == b"hashtable"
    assert raw.call("SDIFFSTORE", "w2", "w", "u") == 300
    assert encoding(raw, "w2") == b"intset"


def test_copy_keeps_the_encoding(raw):
    raw.call("SADD", "h", "1", "2", "x")
    raw.call("SREM", "h", "x")
    assert raw.call("COPY", "h", "c") == 1
    assert encoding(raw, "c") == b"hashtable"
    raw.call("SADD", "i", "1", "2")
    assert raw.call("COPY", "i", "c2") == 1
    assert encoding(raw, "c2") == b"intset"


def test_object_encoding_of_missing_key(raw):
    assert raw.call("OBJECT", "ENCODING", "nokey") is None


# ---------------------------------------------------------------------------
# WRONGTYPE: set commands on a string or a hash

SET_ON_OTHER = [
    ("SADD", "k", "a"), ("SADD", "k", "1"), ("SREM", "k", "a"), ("SCARD", "k"),
    ("SISMEMBER", "k", "a"), ("SMISMEMBER", "k", "a", "b"), ("SMEMBERS", "k"),
    ("SPOP", "k"), ("SPOP", "k", "0"), ("SPOP", "k", "2"),
    ("SRANDMEMBER", "k"), ("SRANDMEMBER", "k", "0"), ("SRANDMEMBER", "k", "2"),
    ("SRANDMEMBER", "k", "-2"),
    ("SMOVE", "k", "s", "a"), ("SMOVE", "k", "nokey", "zz"), ("SMOVE", "s", "k", "a"),
    ("SMOVE", "s", "k", "zz"), ("SMOVE", "k", "k", "a"),
    ("SINTER", "k"), ("SINTER", "s", "k"), ("SINTER", "k", "s"), ("SINTER", "nokey", "k"),
    ("SINTER", "k", "nokey"),
    ("SUNION", "k"), ("SUNION", "s", "k"), ("SUNION", "nokey", "k"),
    ("SDIFF", "k"), ("SDIFF", "s", "k"), ("SDIFF", "k", "s"), ("SDIFF", "nokey", "k"),
    ("SDIFF", "k", "nokey"),
    ("SINTERCARD", "1", "k"), ("SINTERCARD", "2", "s", "k"), ("SINTERCARD", "2", "nokey", "k"),
    ("SINTERCARD", "2", "s", "k", "LIMIT", "1"),
    ("SINTERSTORE", "d", "k"), ("SINTERSTORE", "d", "s", "k"), ("SINTERSTORE", "d", "nokey", "k"),
    ("SUNIONSTORE", "d", "k"), ("SUNIONSTORE", "d", "s", "k"),
    ("SDIFFSTORE", "d", "k"), ("SDIFFSTORE", "d", "s", "k"), ("SDIFFSTORE", "d", "nokey", "k"),
    ("SINTERSTORE", "k", "k"), ("SUNIONSTORE", "k", "k", "s"), ("SDIFFSTORE", "k", "k"),
    ("SSCAN", "k", "0"), ("SSCAN", "k", "0", "MATCH", "*", "COUNT", "10"),
]


@pytest.mark.parametrize("make_other", [("SET", "k", "value"), ("HSET", "k", "f", "v")],
                         ids=["string", "hash"])
def test_set_commands_on_other_types_are_wrongtype(raw, make_other):
    raw.call(*make_other)
    raw.call("SADD", "s", "a")
    for cmd in SET_ON_OTHER:
        assert error_of(raw, *cmd) == WRONGTYPE, cmd
    # A refused command changes nothing.
    if make_other[0] == "SET":
        assert raw.call("GET", "k") == b"value"
    else:
        assert raw.call("HGETALL", "k") == [b"f", b"v"]
    assert raw.call("TTL", "k") == -1
    assert members(raw, "s") == {b"a"}
    assert raw.call("EXISTS", "d", "nokey") == 0


def test_set_command_argument_errors_come_before_wrongtype(raw):
    raw.call("SET", "str", "value")
    assert error_of(raw, "SPOP", "str", "-1") == SPOP_COUNT
    assert error_of(raw, "SPOP", "str", "1", "x") == SYNTAX
    assert error_of(raw, "SRANDMEMBER", "str", "x") == NOT_INT
    assert error_of(raw, "SRANDMEMBER", "str", str(LLONG_MIN)) == SRANDMEMBER_RANGE
    assert error_of(raw, "SRANDMEMBER", "str", "1", "x") == SYNTAX
    assert error_of(raw, "SSCAN", "str", "x") == BAD_CURSOR
    assert error_of(raw, "SINTERCARD", "0", "str") == NUMKEYS
    assert error_of(raw, "SINTERCARD", "2", "str") == NUMKEYS_ARGS
    assert error_of(raw, "SINTERCARD", "1", "str", "LIMIT", "-1") == LIMIT_NEG
    assert error_of(raw, "SINTERCARD", "1", "str", "FOO") == SYNTAX
    assert raw.call("GET", "str") == b"value"


# ---------------------------------------------------------------------------
# WRONGTYPE: string, bit, HyperLogLog and hash commands on a set

OTHER_ON_SET = [
    ("GET", "s"), ("GETSET", "s", "x"), ("SET", "s", "x", "GET"), ("SET", "s", "x", "XX", "GET"),
    ("GETDEL", "s"), ("GETEX", "s"), ("GETEX", "s", "PERSIST"),
    ("GETRANGE", "s", "0", "1"), ("SUBSTR", "s", "0", "1"), ("STRLEN", "s"),
    ("APPEND", "s", "x"), ("SETRANGE", "s", "0", "x"),
    ("INCR", "s"), ("INCRBY", "s", "2"), ("DECR", "s"), ("DECRBY", "s", "2"),
    ("INCRBYFLOAT", "s", "1.5"),
    ("GETBIT", "s", "0"), ("SETBIT", "s", "0", "1"), ("BITCOUNT", "s"), ("BITPOS", "s", "1"),
    ("BITFIELD", "s", "GET", "u8", "0"), ("BITFIELD_RO", "s", "GET", "u8", "0"),
    ("BITOP", "AND", "dest", "s"), ("BITOP", "OR", "dest", "str", "s"),
    ("PFADD", "s", "a"), ("PFCOUNT", "s"), ("PFMERGE", "dest", "s"),
    ("HSET", "s", "f", "v"), ("HSETNX", "s", "f", "v"), ("HMSET", "s", "f", "v"),
    ("HGET", "s", "f"), ("HMGET", "s", "f"), ("HDEL", "s", "f"), ("HLEN", "s"),
    ("HSTRLEN", "s", "f"), ("HEXISTS", "s", "f"), ("HKEYS", "s"), ("HVALS", "s"),
    ("HGETALL", "s"), ("HINCRBY", "s", "f", "1"), ("HINCRBYFLOAT", "s", "f", "1"),
    ("HRANDFIELD", "s"), ("HRANDFIELD", "s", "2", "WITHVALUES"), ("HSCAN", "s", "0"),
]


@pytest.mark.parametrize("members_", [("a", "b"), ("1", "2")], ids=["hashtable", "intset"])
def test_other_commands_on_a_set_are_wrongtype(raw, members_):
    raw.call("SADD", "s", *members_)
    raw.call("SET", "str", "abc")
    for cmd in OTHER_ON_SET:
        assert error_of(raw, *cmd) == WRONGTYPE, cmd
    assert members(raw, "s") == {m.encode() for m in members_}
    assert raw.call("TYPE", "s") == "set"
    assert raw.call("TTL", "s") == -1
    assert raw.call("EXISTS", "dest") == 0
    assert raw.call("GET", "str") == b"abc"


def test_lcs_on_a_set_has_its_own_error(raw):
    raw.call("SADD", "s", "a")
    raw.call("SET", "str", "abc")
    assert error_of(raw, "LCS", "s", "str") == "ERR The specified keys must contain string values"
    assert error_of(raw, "LCS", "str", "s") == "ERR The specified keys must contain string values"


def test_mget_returns_nil_for_a_set(raw):
    raw.call("SADD", "s", "a")
    raw.call("SET", "str", "x")
    assert raw.call("MGET", "str", "s", "nokey") == [b"x", None, None]


def test_set_overwrites_a_set(raw):
    raw.call("SADD", "s", "a")
    assert raw.call("SET", "s", "x", "NX") is None     # the set counts as existing
    assert raw.call("SETNX", "s", "x") == 0
    assert raw.call("MSETNX", "s", "x", "new", "y") == 0
    assert raw.call("EXISTS", "new") == 0
    assert raw.call("TYPE", "s") == "set"
    assert raw.call("SET", "s", "str") == OK
    assert raw.call("TYPE", "s") == "string"
    assert raw.call("GET", "s") == b"str"
    assert error_of(raw, "SMEMBERS", "s") == WRONGTYPE


# ---------------------------------------------------------------------------
# Generic commands on a set

def test_type_exists_del_unlink(raw):
    raw.call("SADD", "s", "a")
    raw.call("SADD", "i", "1")
    assert raw.call("TYPE", "s") == "set"
    assert raw.call("TYPE", "i") == "set"
    assert raw.call("EXISTS", "s", "s", "i", "nokey") == 3
    assert raw.call("DEL", "s", "nokey") == 1
    assert raw.call("UNLINK", "i", "s") == 1
    assert raw.call("EXISTS", "s", "i") == 0
    assert raw.call("SMEMBERS", "s") == []


def test_expire_ttl_on_a_set(raw):
    raw.call("SADD", "s", "a", "b")
    assert raw.call("EXPIRE", "s", "100") == 1
    assert 0 < raw.call("TTL", "s") <= 100
    assert raw.call("PERSIST", "s") == 1
    assert raw.call("TTL", "s") == -1
    assert raw.call("EXPIRE", "s", "0") == 1          # non-positive: deleted
    assert raw.call("EXISTS", "s") == 0


def test_set_writes_keep_the_ttl(raw):
    raw.call("SADD", "s", "a", "b", "c", "d")
    raw.call("EXPIREAT", "s", "4000000000")
    raw.call("SADD", "other", "z")
    for cmd in (("SADD", "s", "e"), ("SADD", "s", "a"), ("SREM", "s", "e"), ("SREM", "s", "zz"),
                ("SPOP", "s"), ("SPOP", "s", "1"), ("SMOVE", "other", "s", "z"),
                ("SMOVE", "s", "other", "z")):
        assert not isinstance(raw.call(*cmd), Error), cmd
        assert raw.call("EXPIRETIME", "s") == 4000000000, cmd
    assert raw.call("SCARD", "s") == 2


def test_ttl_goes_with_the_last_member(raw):
    raw.call("SADD", "s", "a")
    raw.call("EXPIRE", "s", "100")
    raw.call("SREM", "s", "a")
    assert raw.call("TTL", "s") == -2
    raw.call("SADD", "s", "a")        # a new key: no TTL
    assert raw.call("TTL", "s") == -1
    raw.call("EXPIRE", "s", "100")
    raw.call("SPOP", "s")
    assert raw.call("TTL", "s") == -2


def test_rename_and_renamenx(raw):
    raw.call("SADD", "s", "a", "b")
    raw.call("EXPIRE", "s", "100")
    assert raw.call("RENAME", "s", "s2") == OK
    assert raw.call("EXISTS", "s") == 0
    assert members(raw, "s2") == {b"a", b"b"}
    assert 0 < raw.call("TTL", "s2") <= 100
    raw.call("SET", "str", "x")
    assert raw.call("RENAMENX", "s2", "str") == 0
    assert raw.call("RENAMENX", "s2", "s3") == 1
    assert raw.call("RENAME", "s3", "str") == OK      # overwrites the string
    assert raw.call("TYPE", "str") == "set"
    assert members(raw, "str") == {b"a", b"b"}


def test_copy_and_copy_replace(raw):
    raw.call("SADD", "s", "a", "b")
    assert raw.call("COPY", "s", "c") == 1
    assert raw.call("COPY", "s", "c") == 0
    raw.call("SADD", "s", "x")
    assert raw.call("COPY", "s", "c", "REPLACE") == 1
    assert members(raw, "c") == {b"a", b"b", b"x"}
    # The copy is its own set.
    raw.call("SREM", "c", "a")
    assert members(raw, "s") == {b"a", b"b", b"x"}
    raw.call("HSET", "h", "f", "v")
    assert raw.call("COPY", "s", "h") == 0
    assert raw.call("COPY", "s", "h", "REPLACE") == 1
    assert raw.call("TYPE", "h") == "set"


def test_copy_large_set(raw):
    s = strs(1000)
    raw.call("SADD", "s", *s)
    assert raw.call("COPY", "s", "c") == 1
    assert members(raw, "c") == set(s)
    assert encoding(raw, "c") == b"hashtable"


@pytest.mark.parametrize("values", [
    ["3", "-1", "2", "100000"], ["a", "", "b\x00c", "12", "\r\n"], [str(i) for i in range(600)],
    [f"m{i}" for i in range(1000)]], ids=["intset", "strings", "600-ints", "1000-strings"])
def test_dump_restore_round_trip(raw, values):
    raw.call("SADD", "s", *values)
    payload = raw.call("DUMP", "s")
    assert isinstance(payload, bytes)
    assert raw.call("RESTORE", "copy", "0", payload) == OK
    assert members(raw, "copy") == {v.encode() for v in values}
    assert encoding(raw, "copy") == encoding(raw, "s")
    assert raw.call("TTL", "copy") == -1
    if encoding(raw, "s") == b"intset":
        assert raw.call("SMEMBERS", "copy") == raw.call("SMEMBERS", "s")
    assert raw.call("DUMP", "nokey") is None


def test_restore_replace_busykey_and_ttl(raw):
    raw.call("SADD", "s", "a")
    payload = raw.call("DUMP", "s")
    raw.call("SET", "str", "x")
    assert error_of(raw, "RESTORE", "str", "0", payload) == BUSY
    assert raw.call("RESTORE", "str", "0", payload, "REPLACE") == OK
    assert raw.call("TYPE", "str") == "set"
    assert members(raw, "str") == {b"a"}
    assert raw.call("RESTORE", "t", "100000", payload) == OK
    assert 0 < raw.call("PTTL", "t") <= 100000


# DUMP replies of redis-server 7.0.15.  Type 11 is RDB_TYPE_SET_INTSET (the intset's own
# bytes), type 2 RDB_TYPE_SET (a count, then each member as an RDB string).
REDIS_SET_PAYLOADS = {
    # SADD k 3 -1 2: an int16 intset.
    "int16": ("0b0e0200000003000000ffff020003000a00c87a922a3d7de78c", [b"-1", b"2", b"3"]),
    # SADD k 100000 -7 5: an int32 intset.
    "int32": ("0b140400000003000000f9ffffff05000000a08601000a00e27745471b5b16ab",
              [b"-7", b"5", b"100000"]),
    # SADD k LLONG_MAX LLONG_MIN 0: an int64 intset, its 32 bytes LZF-compressed.
    "int64": ("0bc316200408000000032003a0000080a0070100ff600001ff7f0a005ad47b373d832c0a",
              [str(LLONG_MIN).encode(), b"0", str(LLONG_MAX).encode()]),
    # SADD k x
    "one": ("020101780a00ffe880ba760c2f09", [b"x"]),
    # SADD k ""
    "empty-member": ("0201000a00674268fb7bdc4a3c", [b""]),
    # SADD k a "b\0c" "" 12 "\r\n" (12 as an RDB integer string)
    "strings": ("020503620063c00c000161020d0a0a00501a5d29dd2dfdd0",
                [b"a", b"b\x00c", b"", b"12", b"\r\n"]),
    # SADD k (100 x's): an LZF-compressed member
    "lzf-member": ("0201c3094064017878e057000178780a00ac13cf5388d05c8e", [b"x" * 100]),
}


@pytest.mark.parametrize("name", sorted(REDIS_SET_PAYLOADS))
def test_restore_of_sets_as_redis_dumps_them(raw, name):
    hex_payload, want = REDIS_SET_PAYLOADS[name]
    assert raw.call("RESTORE", "k", "0", bytes.fromhex(hex_payload)) == OK
    assert raw.call("TYPE", "k") == "set"
    assert members(raw, "k") == set(want)
    if name.startswith("int"):
        assert encoding(raw, "k") == b"intset"
        assert raw.call("SMEMBERS", "k") == want        # sorted
    else:
        assert encoding(raw, "k") == b"hashtable"


def test_restore_of_a_hashtable_of_integers_makes_an_intset(raw):
    # Surprising but Redis 7.0: SREM never converts a hashtable set back to an intset, but a
    # RESTORE (as an RDB load) builds the set afresh, an intset when every member is an integer.
    # This payload is Redis's DUMP of SADD k 1 2 x; SREM k x (still a hashtable).
    payload = bytes.fromhex("0202c002c0010a000b850052aea91fa1")
    assert raw.call("RESTORE", "k", "0", payload) == OK
    assert encoding(raw, "k") == b"intset"
    assert raw.call("SMEMBERS", "k") == [b"1", b"2"]
    raw.call("SADD", "h", "1", "2", "x")
    raw.call("SREM", "h", "x")
    assert raw.call("RESTORE", "h2", "0", raw.call("DUMP", "h")) == OK
    assert encoding(raw, "h") == b"hashtable" and encoding(raw, "h2") == b"intset"


def test_dump_bytes_of_an_intset_are_redis_s(raw):
    # Deterministic payloads (no hash-table order, no compression) are byte for byte Redis's.
    raw.call("SADD", "a", "3", "-1", "2")
    assert raw.call("DUMP", "a").hex() == REDIS_SET_PAYLOADS["int16"][0]
    raw.call("SADD", "b", "5", "100000", "-7")
    assert raw.call("DUMP", "b").hex() == REDIS_SET_PAYLOADS["int32"][0]
    raw.call("SADD", "c", "x")
    assert raw.call("DUMP", "c").hex() == REDIS_SET_PAYLOADS["one"][0]
    raw.call("SADD", "d", "")
    assert raw.call("DUMP", "d").hex() == REDIS_SET_PAYLOADS["empty-member"][0]


def test_scan_type_set(r):
    for i in range(20):
        r.sadd(f"s{i}", "m")
        r.set(f"k{i}", "v")
        r.hset(f"h{i}", "f", "v")
    r.sadd("ints", 1, 2)
    assert set(r.scan_iter(_type="set")) == {f"s{i}".encode() for i in range(20)} | {b"ints"}
    assert set(r.scan_iter(_type="string")) == {f"k{i}".encode() for i in range(20)}
    assert set(r.scan_iter(match="s1*", _type="set")) == \
        {b"s1"} | {f"s1{i}".encode() for i in range(10)}


def test_keys_dbsize(raw):
    raw.call("SADD", "s1", "a")
    raw.call("SADD", "s2", "1")
    raw.call("SET", "x", "v")
    assert sorted(raw.call("KEYS", "s*")) == [b"s1", b"s2"]
    assert raw.call("DBSIZE") == 3
    raw.call("SPOP", "s2")
    assert raw.call("KEYS", "s*") == [b"s1"]
    assert raw.call("DBSIZE") == 2


# ---------------------------------------------------------------------------
# RESP3

def test_resp3_smembers_sinter_sunion_sdiff_are_sets(conn):
    c = conn(3)
    c.call("SADD", "s", "a")
    for cmd in (("SMEMBERS", "s"), ("SINTER", "s"), ("SINTER", "s", "s"), ("SUNION", "s"),
                ("SUNION", "s", "nokey"), ("SDIFF", "s"), ("SDIFF", "s", "nokey")):
        assert reply_bytes(c, *cmd) == b"~1\r\n$1\r\na\r\n", cmd
    for cmd in (("SMEMBERS", "nokey"), ("SINTER", "s", "nokey"), ("SUNION", "nokey"),
                ("SDIFF", "s", "s"), ("SDIFF", "nokey", "s")):
        assert reply_bytes(c, *cmd) == b"~0\r\n", cmd
    c.call("SADD", "i", "3", "1", "2")
    assert reply_bytes(c, "SMEMBERS", "i") == b"~3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"


def test_resp3_spop(conn):
    # SPOP with a count answers a set (~), even an empty one; without, a bulk string or null.
    c = conn(3)
    c.call("SADD", "s", "a")
    assert reply_bytes(c, "SPOP", "s", "0") == b"~0\r\n"
    assert reply_bytes(c, "SPOP", "s", "1") == b"~1\r\n$1\r\na\r\n"
    assert reply_bytes(c, "SPOP", "nokey", "1") == b"~0\r\n"
    assert reply_bytes(c, "SPOP", "nokey", "0") == b"~0\r\n"
    c.call("SADD", "s", "a")
    assert reply_bytes(c, "SPOP", "s", "5") == b"~1\r\n$1\r\na\r\n"
    c.call("SADD", "s", "7")
    assert reply_bytes(c, "SPOP", "s") == b"$1\r\n7\r\n"
    assert reply_bytes(c, "SPOP", "s") == b"_\r\n"


def test_resp3_srandmember_is_an_array(conn):
    # Unlike SPOP, SRANDMEMBER with a count answers an array (*): it may repeat members.
    c = conn(3)
    c.call("SADD", "s", "a")
    assert reply_bytes(c, "SRANDMEMBER", "s", "1") == b"*1\r\n$1\r\na\r\n"
    assert reply_bytes(c, "SRANDMEMBER", "s", "5") == b"*1\r\n$1\r\na\r\n"
    assert reply_bytes(c, "SRANDMEMBER", "s", "-2") == b"*2\r\n$1\r\na\r\n$1\r\na\r\n"
    assert reply_bytes(c, "SRANDMEMBER", "s", "0") == b"*0\r\n"
    assert reply_bytes(c, "SRANDMEMBER", "nokey", "2") == b"*0\r\n"
    assert reply_bytes(c, "SRANDMEMBER", "s") == b"$1\r\na\r\n"
    assert reply_bytes(c, "SRANDMEMBER", "nokey") == b"_\r\n"


def test_resp3_smismember_sismember_scard_sintercard(conn):
    c = conn(3)
    c.call("SADD", "s", "a")
    assert reply_bytes(c, "SMISMEMBER", "s", "a", "b") == b"*2\r\n:1\r\n:0\r\n"
    assert reply_bytes(c, "SMISMEMBER", "nokey", "a") == b"*1\r\n:0\r\n"
    assert reply_bytes(c, "SISMEMBER", "s", "a") == b":1\r\n"
    assert reply_bytes(c, "SCARD", "s") == b":1\r\n"
    assert reply_bytes(c, "SINTERCARD", "1", "s") == b":1\r\n"
    assert reply_bytes(c, "SMOVE", "s", "d", "a") == b":1\r\n"
    assert reply_bytes(c, "SINTERSTORE", "e", "d") == b":1\r\n"


def test_resp3_sscan_is_an_array(conn):
    c = conn(3)
    c.call("SADD", "s", "a")
    assert reply_bytes(c, "SSCAN", "s", "0") == b"*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n"
    c.call("SADD", "i", "2", "1")
    assert reply_bytes(c, "SSCAN", "i", "0") == \
        b"*2\r\n$1\r\n0\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    assert reply_bytes(c, "SSCAN", "nokey", "0") == b"*2\r\n$1\r\n0\r\n*0\r\n"


def test_resp2_empty_and_null_replies(raw):
    raw.call("SADD", "s", "a")
    assert reply_bytes(raw, "SPOP", "nokey", "1") == b"*0\r\n"
    assert reply_bytes(raw, "SMEMBERS", "s") == b"*1\r\n$1\r\na\r\n"
    assert reply_bytes(raw, "SPOP", "nokey") == b"$-1\r\n"
    assert reply_bytes(raw, "SRANDMEMBER", "nokey") == b"$-1\r\n"


# ---------------------------------------------------------------------------
# Transactions

def test_multi_exec_with_set_commands(raw):
    assert raw.call("MULTI") == OK
    assert raw.call("SADD", "s", "3", "1", "2") == "QUEUED"
    assert raw.call("SMEMBERS", "s") == "QUEUED"
    assert raw.call("SPOP", "s", "-1") == "QUEUED"      # an argument error: at EXEC
    assert raw.call("SREM", "s", "2") == "QUEUED"
    assert raw.call("SINTERSTORE", "d", "s") == "QUEUED"
    assert raw.call("SCARD", "d") == "QUEUED"
    got = raw.call("EXEC")
    assert got[:2] == [3, [b"1", b"2", b"3"]]
    assert isinstance(got[2], Error) and got[2] == SPOP_COUNT
    assert got[3:] == [1, 2, 2]


def test_multi_queued_arity_error_aborts(raw):
    assert raw.call("MULTI") == OK
    assert raw.call("SADD", "s", "a") == "QUEUED"
    assert error_of(raw, "SADD", "s") == arity("sadd")
    assert error_of(raw, "EXEC") == EXECABORT
    assert raw.call("EXISTS", "s") == 0


def test_multi_wrongtype_is_that_commands_reply(raw):
    raw.call("SET", "str", "x")
    raw.call("MULTI")
    raw.call("SADD", "str", "a")
    raw.call("SADD", "s", "a")
    got = raw.call("EXEC")
    assert got[0] == WRONGTYPE and isinstance(got[0], Error) and got[1] == 1


def test_watch_set_changed_by_another_client(conn):
    a, b = conn(), conn()
    a.call("SADD", "s", "a")
    assert a.call("WATCH", "s") == OK
    assert b.call("SADD", "s", "b") == 1
    a.call("MULTI")
    a.call("SCARD", "s")
    assert a.call("EXEC") is None


# A write that changes the watched set aborts EXEC.  One that leaves it as it was but still
# rewrites it (a *STORE of the same members): Redis aborts (it signals every such write), Flin
# compares what the key holds and runs EXEC (docs/DESIGN.md, "Transactions are one log entry").
@pytest.mark.parametrize("write,changes", [
    (("SADD", "s", "c"), True),
    (("SADD", "s", "a", "c"), True),
    (("SREM", "s", "a"), True),
    (("SPOP", "s"), True),
    (("SPOP", "s", "1"), True),
    (("SMOVE", "s", "other", "a"), True),              # watched key is the source
    (("SMOVE", "other", "s", "x"), True),              # the destination, gaining a member
    (("SINTERSTORE", "s", "other"), True),
    (("SDIFFSTORE", "s", "s", "s"), True),             # emptied: deleted
    (("EXPIRE", "s", "100"), True),
    (("SUNIONSTORE", "s", "s"), False),
])
def test_watch_and_set_writes(conn, write, changes):
    a, b = conn(), conn()
    a.call("SADD", "s", "a", "b")
    a.call("SADD", "other", "a", "x")
    a.call("WATCH", "s")
    assert not isinstance(b.call(*write), Error)
    a.call("MULTI")
    a.call("EXISTS", "nokey")  # (Flin refuses PING in MULTI: it does not go through the log)
    aborted = changes or TARGET == "redis"
    assert a.call("EXEC") == (None if aborted else [0]), write


# Writes that change nothing: Redis 7.0 signals no modification, so EXEC runs.
@pytest.mark.parametrize("write,watched", [
    (("SADD", "s", "a"), "s"),                 # an existing member
    (("SREM", "s", "zz"), "s"),                # an absent member
    (("SREM", "nokey", "a"), "s"),
    (("SPOP", "s", "0"), "s"),
    (("SMOVE", "s", "s", "a"), "s"),           # src == dst
    (("SMOVE", "s", "other", "zz"), "s"),      # member absent
    (("SMOVE", "other", "s", "a"), "s"),       # the destination already has it
    (("SINTERSTORE", "gone", "nokey"), "gone"),  # empty result, no destination to delete
    (("SDIFFSTORE", "gone", "s", "s"), "gone"),
    (("SMEMBERS", "s"), "s"),
    (("SRANDMEMBER", "s", "-5"), "s"),
    (("SINTERCARD", "1", "s"), "s"),
    (("SSCAN", "s", "0"), "s"),
])
def test_watch_not_aborted_by_set_no_ops(conn, write, watched):
    a, b = conn(), conn()
    a.call("SADD", "s", "a", "b")
    a.call("SADD", "other", "a", "x")
    a.call("WATCH", watched)
    assert not isinstance(b.call(*write), Error)
    a.call("MULTI")
    a.call("EXISTS", "nokey")
    assert a.call("EXEC") == [0], write


# ---------------------------------------------------------------------------
# Scripts

def test_eval_sadd_and_smembers_as_lua_table(raw):
    assert raw.call("EVAL", "return redis.call('SADD', KEYS[1], '3', '1', '2', '1')",
                    "1", "s") == 3
    assert raw.call("EVAL", "return redis.call('SMEMBERS', KEYS[1])", "1", "s") == \
        [b"1", b"2", b"3"]
    assert raw.call("EVAL", "local t = redis.call('SMEMBERS', KEYS[1]); "
                    "return {type(t), #t, t[1], t[3]}", "1", "s") == [b"table", 3, b"1", b"3"]
    assert raw.call("EVAL", "return redis.call('SISMEMBER', KEYS[1], '2')", "1", "s") == 1
    assert raw.call("EVAL", "return redis.call('SMISMEMBER', KEYS[1], '2', 'x')",
                    "1", "s") == [1, 0]
    assert raw.call("EVAL", "return #redis.call('SMEMBERS', KEYS[1])", "1", "nokey") == 0


def test_eval_resp3_smembers_is_a_set_table(raw):
    raw.call("SADD", "s", "a", "b")
    # Under RESP3 a set reply is a Lua table {set = {member = true, ...}}.
    assert raw.call("EVAL", "redis.setresp(3); local t = redis.call('SMEMBERS', KEYS[1]); "
                    "return {type(t['set']), tostring(t['set']['a']), tostring(t['set']['z'])}",
                    "1", "s") == [b"table", b"true", b"nil"]
    # Returned to a RESP2 client, the set is an array of its members.
    assert as_set(raw.call("EVAL", "redis.setresp(3); return redis.call('SMEMBERS', KEYS[1])",
                           "1", "s")) == {b"a", b"b"}
    assert raw.call("EVAL", "redis.setresp(3); local t = redis.call('SPOP', KEYS[1], 5); "
                    "return {tostring(t['set']['a']), tostring(t['set']['b'])}", "1", "s") == \
        [b"true", b"true"]
    assert raw.call("EXISTS", "s") == 0


def test_eval_spop(raw):
    raw.call("SADD", "s", "1", "2", "3")
    got = raw.call("EVAL", "local m = redis.call('SPOP', KEYS[1]); "
                   "return {m, redis.call('SCARD', KEYS[1])}", "1", "s")
    assert got[0] in (b"1", b"2", b"3") and got[1] == 2
    assert members(raw, "s") == {b"1", b"2", b"3"} - {got[0]}
    rest = raw.call("EVAL", "return redis.call('SPOP', KEYS[1], 5)", "1", "s")
    assert as_set(rest) == {b"1", b"2", b"3"} - {got[0]}
    assert raw.call("EXISTS", "s") == 0
    assert raw.call("EVAL", "return redis.call('SPOP', KEYS[1]) == false", "1", "s") == 1
    assert raw.call("EVAL", "return redis.call('SPOP', KEYS[1])", "1", "s") is None


def test_eval_errors(raw):
    raw.call("SET", "str", "x")
    raw.call("SADD", "s", "a")
    got = raw.call("EVAL", "return redis.pcall('SADD', KEYS[1], 'a')", "1", "str")
    assert isinstance(got, Error) and got == WRONGTYPE
    e = error_of(raw, "EVAL", "return redis.call('SADD', KEYS[1], 'a')", "1", "str")
    assert e.startswith(WRONGTYPE + " script: ") and e.endswith(", on @user_script:1."), e
    assert raw.call("EVAL", "return redis.pcall('SPOP', KEYS[1], -1)", "1", "s") == SPOP_COUNT
    assert raw.call("EVAL", "return redis.pcall('SADD', KEYS[1])", "1", "s") == \
        "ERR Wrong number of args calling Redis command from script"
    assert members(raw, "s") == {b"a"}


def test_eval_ro_refuses_set_writes(raw):
    raw.call("SADD", "s", "a")
    for script in ("return redis.call('SADD', KEYS[1], 'b')",
                   "return redis.call('SPOP', KEYS[1])",
                   "return redis.call('SREM', KEYS[1], 'a')"):
        e = error_of(raw, "EVAL_RO", script, "1", "s")
        assert e.startswith("ERR Write commands are not allowed from read-only scripts."), e
    assert raw.call("EVAL_RO", "return redis.call('SRANDMEMBER', KEYS[1])", "1", "s") == b"a"
    assert raw.call("EVAL_RO", "return redis.call('SMEMBERS', KEYS[1])", "1", "s") == [b"a"]


# ---------------------------------------------------------------------------
# Keyspace notifications

def test_events_sadd_srem(events):
    ev = events("KEA")
    assert ev.run("SADD", "s", "a", "b") == (2, kea("sadd", "s"))
    assert ev.run("SADD", "s", "a", "c") == (1, kea("sadd", "s"))
    assert ev.run("SREM", "s", "a", "zz") == (1, kea("srem", "s"))


def test_no_event_for_set_no_ops(events):
    ev = events("KEA")
    ev.run("SADD", "s", "a")
    assert ev.run("SADD", "s", "a") == (0, [])
    assert ev.run("SREM", "s", "zz") == (0, [])
    assert ev.run("SREM", "nokey", "a") == (0, [])
    assert ev.run("SPOP", "s", "0") == ([], [])
    assert ev.run("SPOP", "nokey") == (None, [])
    assert ev.run("SPOP", "nokey", "1") == ([], [])
    assert ev.run("SMOVE", "s", "s", "a") == (1, [])
    assert ev.run("SMOVE", "s", "d", "zz") == (0, [])
    assert ev.run("SMOVE", "nokey", "d", "a") == (0, [])
    assert ev.run("SINTERSTORE", "d", "nokey") == (0, [])   # nothing to delete


def test_events_del_after_the_emptying_event(events):
    ev = events("KEA")
    ev.run("SADD", "s", "a", "b")
    assert ev.run("SREM", "s", "a", "b") == (2, kea("srem", "s") + kea("del", "s"))
    ev.run("SADD", "s", "a")
    assert ev.run("SPOP", "s") == (b"a", kea("spop", "s") + kea("del", "s"))


def test_events_spop_with_count(events):
    ev = events("KEA")
    ev.run("SADD", "s", "a", "b", "c", "d", "e", "f", "g", "h")
    reply, got = ev.run("SPOP", "s", "2")
    assert len(reply) == 2 and got == kea("spop", "s")
    reply, got = ev.run("SPOP", "s", "5")     # count * 5 > size: the other strategy
    assert len(reply) == 5 and got == kea("spop", "s")
    reply, got = ev.run("SPOP", "s", "1")     # the last one
    assert len(reply) == 1 and got == kea("spop", "s") + kea("del", "s")
    ev.run("SADD", "s", "a", "b")
    reply, got = ev.run("SPOP", "s", "10")    # the whole set at once
    assert as_set(reply) == {b"a", b"b"} and got == kea("spop", "s") + kea("del", "s")


def test_events_smove(events):
    ev = events("KEA")
    ev.run("SADD", "src", "a", "b", "c")
    assert ev.run("SMOVE", "src", "dst", "a") == (1, kea("srem", "src") + kea("sadd", "dst"))
    ev.run("SADD", "dst", "b")
    # The destination already has the member: no sadd.
    assert ev.run("SMOVE", "src", "dst", "b") == (1, kea("srem", "src"))
    # The source emptied: its del comes between its srem and the destination's sadd.
    assert ev.run("SMOVE", "src", "dst", "c") == \
        (1, kea("srem", "src") + kea("del", "src") + kea("sadd", "dst"))


def test_events_store_commands(events):
    ev = events("KEA")
    ev.run("SADD", "a", "1", "2")
    ev.run("SADD", "b", "2", "3")
    assert ev.run("SINTERSTORE", "d", "a", "b") == (1, kea("sinterstore", "d"))
    assert ev.run("SUNIONSTORE", "d", "a", "b") == (3, kea("sunionstore", "d"))
    assert ev.run("SDIFFSTORE", "d", "a", "b") == (1, kea("sdiffstore", "d"))
    ev.run("SET", "str", "x")
    # Overwriting another type: the store event only, no del first.
    assert ev.run("SUNIONSTORE", "str", "a") == (2, kea("sunionstore", "str"))
    # An empty result deletes the destination: del, not the store event.
    assert ev.run("SINTERSTORE", "d", "a", "nokey") == (0, kea("del", "d"))
    assert ev.run("SDIFFSTORE", "str", "a", "a") == (0, kea("del", "str"))


def test_events_reads_raise_none(events):
    ev = events("KEA")
    ev.run("SADD", "s", "a", "b")
    for cmd in (("SMEMBERS", "s"), ("SISMEMBER", "s", "a"), ("SMISMEMBER", "s", "a"),
                ("SCARD", "s"), ("SRANDMEMBER", "s"), ("SRANDMEMBER", "s", "-3"),
                ("SSCAN", "s", "0"), ("SINTER", "s", "s"), ("SUNION", "s"), ("SDIFF", "s"),
                ("SINTERCARD", "1", "s")):
        assert ev.run(*cmd)[1] == [], cmd


def test_events_class_s_only(events):
    # Ks: set events on the keyspace channel only; the generic del is not in class s.
    ev = events("Ks")
    assert ev.run("SADD", "s", "a") == (1, [("__keyspace@0__:s", "sadd")])
    assert ev.run("SREM", "s", "a") == (1, [("__keyspace@0__:s", "srem")])
    ev.run("SADD", "s", "a", "b")
    assert ev.run("DEL", "s") == (1, [])
    ev.run("SADD", "s", "a", "b")
    reply, got = ev.run("SPOP", "s", "5")
    assert got == [("__keyspace@0__:s", "spop")]
    ev.run("SADD", "s", "a")
    assert ev.run("SMOVE", "s", "d", "a") == \
        (1, [("__keyspace@0__:s", "srem"), ("__keyspace@0__:d", "sadd")])
    assert ev.run("SINTERSTORE", "e", "d") == (1, [("__keyspace@0__:e", "sinterstore")])
    assert ev.run("SINTERSTORE", "e", "nokey") == (0, [])


def test_events_generic_commands_on_a_set(events):
    ev = events("Eg")
    ev.run("SADD", "s", "a")          # class s is off: nothing
    assert ev.run("RENAME", "s", "s2") == \
        (OK, [("__keyevent@0__:rename_from", "s"), ("__keyevent@0__:rename_to", "s2")])
    assert ev.run("COPY", "s2", "s3") == (1, [("__keyevent@0__:copy_to", "s3")])
    assert ev.run("EXPIRE", "s3", "100") == (1, [("__keyevent@0__:expire", "s3")])
    assert ev.run("SREM", "s2", "a") == (1, [("__keyevent@0__:del", "s2")])
    assert ev.run("SPOP", "s3") == (b"a", [("__keyevent@0__:del", "s3")])
    ev.run("SADD", "s", "a")
    assert ev.run("SINTERSTORE", "s", "nokey") == (0, [("__keyevent@0__:del", "s")])


def test_events_keymiss_of_set_reads(events):
    ev = events("Km")
    for cmd in (("SMEMBERS", "nokey"), ("SCARD", "nokey"), ("SISMEMBER", "nokey", "a"),
                ("SMISMEMBER", "nokey", "a"), ("SRANDMEMBER", "nokey"), ("SSCAN", "nokey", "0"),
                ("SINTER", "nokey"), ("SDIFF", "nokey"), ("SINTERCARD", "1", "nokey"),
                ("SINTERSTORE", "d", "nokey")):
        assert ev.run(*cmd)[1] == [("__keyspace@0__:nokey", "keymiss")], cmd
    assert ev.run("SUNION", "nokey", "n2")[1] == \
        [("__keyspace@0__:nokey", "keymiss"), ("__keyspace@0__:n2", "keymiss")]
    # Writes raise no keymiss.
    for cmd in (("SPOP", "nokey"), ("SMOVE", "nokey", "x", "a"), ("SREM", "nokey", "a")):
        assert ev.run(*cmd)[1] == [], cmd


# ---------------------------------------------------------------------------
# Binary safety and a large set

def test_binary_members(raw):
    mem = [b"\x00", b"a\x00b", b"\r\n", b"", b"\xff\xfe", b"x\r\ny", b"$3\r\nabc"]
    assert raw.call("SADD", b"k\x00ey", *mem) == len(mem)
    assert members(raw, b"k\x00ey") == set(mem)
    for m in mem:
        assert raw.call("SISMEMBER", b"k\x00ey", m) == 1, m
    assert raw.call("SISMEMBER", b"k\x00ey", b"a") == 0
    assert raw.call("SISMEMBER", b"k\x00ey", b"a\x00") == 0
    assert raw.call("SMISMEMBER", b"k\x00ey", b"\x00", b"\x00\x00") == [1, 0]
    assert raw.call("SREM", b"k\x00ey", b"\r\n", b"") == 2
    assert members(raw, b"k\x00ey") == set(mem) - {b"\r\n", b""}
    assert as_set(raw.call("SSCAN", b"k\x00ey", "0")[1]) == set(mem) - {b"\r\n", b""}


def test_empty_member(raw):
    assert raw.call("SADD", "s", "") == 1
    assert raw.call("SMEMBERS", "s") == [b""]
    assert raw.call("SCARD", "s") == 1
    assert raw.call("SISMEMBER", "s", "") == 1
    assert raw.call("SMOVE", "s", "d", "") == 1
    assert raw.call("SMEMBERS", "d") == [b""]
    assert raw.call("EXISTS", "s") == 0


def test_large_set(raw):
    s = [f"member:{i}:".encode() + b"x" * (i % 50) for i in range(1000)]
    assert raw.call("SADD", "big", *s) == 1000
    assert raw.call("SCARD", "big") == 1000
    assert members(raw, "big") == set(s)
    assert encoding(raw, "big") == b"hashtable"
    assert raw.call("SMISMEMBER", "big", s[0], s[999], b"nope") == [1, 1, 0]
    assert raw.call("SREM", "big", *s[:500]) == 500
    assert members(raw, "big") == set(s[500:])
    raw.call("SADD", "half", *s[250:750])
    assert as_set(raw.call("SINTER", "big", "half")) == set(s[500:750])
    assert as_set(raw.call("SDIFF", "half", "big")) == set(s[250:500])
    assert raw.call("SUNIONSTORE", "all", "big", "half") == 750
    assert raw.call("SINTERCARD", "2", "big", "half", "LIMIT", "100") == 100


def test_large_set_with_redis_py(r):
    s = {f"m{i}".encode() for i in range(1000)}
    assert r.sadd("big", *s) == 1000
    assert r.smembers("big") == s
    assert r.scard("big") == 1000
    assert r.sismember("big", "m5") in (1, True)
    assert set(r.sscan_iter("big", count=100)) == s
    popped = r.spop("big", 10)
    assert len(set(popped)) == 10 and r.scard("big") == 990
