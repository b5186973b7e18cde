"""The LIST data type, as Redis 7.0 does it (the non-blocking commands).

Covered: LPUSH RPUSH (several elements and their order, the new length), LPUSHX RPUSHX (0 and no
key on a missing key), LPOP RPOP (no count; count 0, positive, larger than the list; the count's
one error text for "negative" and "not a number"; count on a missing key: RESP2 *-1, RESP3 _;
the key deleted when emptied), LLEN, LINDEX (negative and out-of-range indexes as nil, the index
parsed only after the key is found), LSET ("ERR index out of range", "ERR no such key" before the
index is even parsed), LRANGE and LTRIM (start > end, negative, huge and 64-bit extreme ranges;
LTRIM emptying the list deletes it), LREM (count > 0 from the head, < 0 from the tail, 0 all),
LINSERT (BEFORE/AFTER in any case, the first pivot, a missing pivot -1, a missing key 0, a bad
position before the key), LPOS (RANK, COUNT, MAXLEN in any combination and order, the last of a
repeated option winning, their error texts, checked before the key), LMOVE (the four LEFT/RIGHT
combinations, source == destination rotating, a missing source answering nil before the
destination's type is looked at, a wrong-typed destination changing nothing), RPOPLPUSH, LMPOP
(numkeys' and COUNT's error texts, a key named LEFT, the first non-empty key winning, the reply
[key, [elements]], nil when every key is empty, WRONGTYPE only for a key reached before a
non-empty one); the arity error of each command; element comparison by bytes (an integer
element is not matched by another spelling); OBJECT ENCODING (quicklist whatever the size, also
after shrinking, after RESTORE and COPY; no listpack in 7.0); WRONGTYPE both ways (every list
command on a string, a hash and a set; every string/bit/HyperLogLog/hash/set command on a list;
LCS's own text; MGET's nil), which argument errors come before it, SET/SETNX/MSETNX over a list;
the generic commands on a list (TYPE EXISTS DEL UNLINK, EXPIRE/TTL kept across every list write
and gone with the last element, LMOVE's TTLs, RENAME COPY, DUMP/RESTORE round trips and RESTORE
of payloads redis-server 7.0.15 DUMPed: a small list, integers of every listpack width, near-
integers, binary elements, an LZF-compressed long element, and two lists of thousands of
elements in two quicklist nodes; the DUMP bytes of small uncompressed lists; SCAN TYPE list,
KEYS, DBSIZE); RESP3 and RESP2 bytes of LRANGE, LPOP/RPOP with count, LMPOP, LPOS with COUNT,
LINDEX, LMOVE/RPOPLPUSH of a missing source; MULTI/EXEC (argument errors at EXEC, arity errors
abort) and WATCH (which list writes abort EXEC, which no-ops do not); EVAL (redis.call results
as Lua tables, a missing key's nil as false, RESP3 in a script, pcall errors, EVAL_RO); keyspace
events (KEA, Kl, El, Eg, Em: every list event, LMOVE's and RPOPLPUSH's push-then-pop order, del
after the emptying event, keymiss of the reads, none for no-ops, an LTRIM that keeps everything
still raising ltrim); binary-safe elements, the empty element, and a 10,000-element list.
Flin only: the blocking commands are unknown commands.

Exact-wire checks use raw sockets (flinproc.RawConn); waits are on events (a subscriber reads
up to a marker it PUBLISHed itself, with the socket timeout as the deadline), never on a sleep.

What is left out, or kept loose, and why:
- BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP: Flin does not implement the blocking commands (this
  session); only that they are unknown commands is tested, on Flin.
- LPOS ... RANK -9223372036854775808: Redis 7.0 negates the rank (signed overflow, undefined
  behaviour) and answers as for a negative rank; 7.2 refuses it.  Not pinned.
- Quicklist internals: node sizes (list-max-listpack-size -2: 8 KB), compression depth and
  DEBUG QUICKLIST-PACKED-THRESHOLD are not observable without DEBUG, which the tests do not
  use; CONFIG SET of list settings is left alone (the module's server is shared).  Only the
  DUMP payloads show the node count, and only payloads Redis itself produced are RESTOREd.
- The DUMP bytes of LZF-compressed lists (a long element, multi-node lists): another
  compressor may compress differently; those payloads are only RESTOREd.  Payloads of older
  RDB list types (ziplist quicklists of Redis 6, linked lists) are not tested.
- Writes that rewrite a watched list without changing it (LSET to the same value, LTRIM keeping
  everything, LMOVE of an element back to where it was): Redis aborts EXEC (it signals every
  such write); Flin compares what the key holds and runs EXEC (docs/DESIGN.md, "Transactions are
  one log entry").  The expectation depends on TARGET there.
"""
import pytest

from event_helpers import kea
from flinproc import TARGET, Error, error_of, reply_bytes
from redis_texts import (
    arity, BUSY, EXECABORT, LLONG_MAX, LLONG_MIN, NOT_INT, OK, SYNTAX, WRONGTYPE)


# LPOP/RPOP's count is read by getPositiveLongFromObjectOrReply: one text for "not a number"
# and for "negative".
POP_COUNT = "ERR value is out of range, must be positive"
INDEX_RANGE = "ERR index out of range"
NO_SUCH_KEY = "ERR no such key"
RANK_ZERO = ("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second "
             "... or use negative to start from the end of the list")
COUNT_NEG = "ERR COUNT can't be negative"
MAXLEN_NEG = "ERR MAXLEN can't be negative"
NUMKEYS = "ERR numkeys should be greater than 0"
LMPOP_COUNT = "ERR count should be greater than 0"


def lrange(raw, key):
    got = raw.call("LRANGE", key, "0", "-1")
    assert isinstance(got, list), got
    return got


def encoding(raw, key):
    return raw.call("OBJECT", "ENCODING", key)


def bs(*items):
    return [i.encode() if isinstance(i, str) else i for i in items]


ABCDE = ["a", "b", "c", "d", "e"]


# ---------------------------------------------------------------------------
# LPUSH RPUSH LPUSHX RPUSHX LLEN

def test_lpush_rpush_order_and_length(raw):
    assert raw.call("LPUSH", "l", "a", "b", "c") == 3
    assert lrange(raw, "l") == bs("c", "b", "a")         # each pushed to the head in turn
    assert raw.call("RPUSH", "l", "x", "y") == 5
    assert lrange(raw, "l") == bs("c", "b", "a", "x", "y")
    assert raw.call("LPUSH", "l", "a") == 6              # duplicates are kept
    assert lrange(raw, "l") == bs("a", "c", "b", "a", "x", "y")
    assert raw.call("TYPE", "l") == "list"
    assert raw.call("LLEN", "l") == 6


def test_pushx_only_on_an_existing_list(raw):
    assert raw.call("LPUSHX", "nokey", "a") == 0
    assert raw.call("RPUSHX", "nokey", "a", "b") == 0
    assert raw.call("EXISTS", "nokey") == 0
    raw.call("RPUSH", "l", "m")
    assert raw.call("LPUSHX", "l", "p1", "p2") == 3
    assert raw.call("RPUSHX", "l", "r1", "r2") == 5
    assert lrange(raw, "l") == bs("p2", "p1", "m", "r1", "r2")


def test_llen(raw):
    assert raw.call("LLEN", "nokey") == 0
    raw.call("RPUSH", "l", "a", "b", "")
    assert raw.call("LLEN", "l") == 3


# ---------------------------------------------------------------------------
# LPOP RPOP

def test_lpop_rpop_without_count(raw):
    raw.call("RPUSH", "l", "a", "b", "c")
    assert raw.call("LPOP", "l") == b"a"
    assert raw.call("RPOP", "l") == b"c"
    assert lrange(raw, "l") == [b"b"]
    assert raw.call("RPOP", "l") == b"b"
    assert raw.call("EXISTS", "l") == 0                   # emptied: deleted
    assert raw.call("LPOP", "l") is None
    assert raw.call("RPOP", "nokey") is None


def test_pop_with_count(raw):
    raw.call("RPUSH", "l", "a", "b", "c", "d", "e")
    assert raw.call("LPOP", "l", "2") == [b"a", b"b"]
    assert raw.call("RPOP", "l", "2") == [b"e", b"d"]      # from the tail, tail first
    assert raw.call("LPOP", "l", "1") == [b"c"]            # an array even for one
    assert raw.call("EXISTS", "l") == 0


def test_pop_count_zero(raw):
    raw.call("RPUSH", "l", "a")
    assert raw.call("LPOP", "l", "0") == []
    assert raw.call("RPOP", "l", "0") == []
    assert lrange(raw, "l") == [b"a"]
    # On a missing key, count 0 answers the null array like any count.
    assert raw.call("LPOP", "nokey", "0") is None
    assert raw.call("RPOP", "nokey", "0") is None


@pytest.mark.parametrize("count", ["3", "4", "100", str(LLONG_MAX)])
def test_pop_count_larger_than_the_list(raw, count):
    raw.call("RPUSH", "l", "a", "b", "c")
    assert raw.call("LPOP", "l", count) == [b"a", b"b", b"c"]
    assert raw.call("EXISTS", "l") == 0
    raw.call("RPUSH", "l", "a", "b", "c")
    assert raw.call("RPOP", "l", count) == [b"c", b"b", b"a"]
    assert raw.call("EXISTS", "l") == 0


def test_pop_count_on_missing_key_is_a_null_array(raw, conn):
    assert raw.call("LPOP", "nokey", "1") is None
    assert reply_bytes(raw, "LPOP", "nokey", "1") == b"*-1\r\n"
    assert reply_bytes(raw, "RPOP", "nokey", "5") == b"*-1\r\n"
    assert reply_bytes(raw, "LPOP", "nokey", "0") == b"*-1\r\n"
    assert reply_bytes(raw, "LPOP", "nokey") == b"$-1\r\n"     # without count: a null bulk
    c3 = conn(3)
    assert reply_bytes(c3, "LPOP", "nokey", "1") == b"_\r\n"
    assert reply_bytes(c3, "RPOP", "nokey", "0") == b"_\r\n"
    assert reply_bytes(c3, "LPOP", "nokey") == b"_\r\n"


@pytest.mark.parametrize("cmd", ["LPOP", "RPOP"])
def test_pop_count_errors(raw, cmd):
    raw.call("RPUSH", "l", "a")
    raw.call("SET", "str", "x")
    for bad in ("-1", "x", "1.5", "", "+1", " 1", "01", "-0", "9223372036854775808",
                str(LLONG_MIN)):
        assert error_of(raw, cmd, "l", bad) == POP_COUNT, bad
    # The count is checked before the key is looked at: missing or wrong-typed.
    assert error_of(raw, cmd, "nokey", "-1") == POP_COUNT
    assert error_of(raw, cmd, "str", "-1") == POP_COUNT
    assert error_of(raw, cmd, "str", "0") == WRONGTYPE
    assert error_of(raw, cmd, "str", "1") == WRONGTYPE
    assert error_of(raw, cmd, "l", "1", "2") == arity(cmd.lower())
    assert lrange(raw, "l") == [b"a"]


# ---------------------------------------------------------------------------
# LINDEX LSET

def test_lindex(raw):
    raw.call("RPUSH", "l", *ABCDE)
    assert raw.call("LINDEX", "l", "0") == b"a"
    assert raw.call("LINDEX", "l", "4") == b"e"
    assert raw.call("LINDEX", "l", "-1") == b"e"
    assert raw.call("LINDEX", "l", "-5") == b"a"
    for out in ("5", "100", "-6", "-100", str(LLONG_MAX), str(LLONG_MIN)):
        assert raw.call("LINDEX", "l", out) is None, out
    assert raw.call("LINDEX", "nokey", "0") is None


def test_lindex_index_errors_only_after_the_key(raw):
    raw.call("RPUSH", "l", "a")
    raw.call("SET", "str", "x")
    for bad in ("x", "1.5", "", "+1", "01", "-0", " 1", "9223372036854775808"):
        assert error_of(raw, "LINDEX", "l", bad) == NOT_INT, bad
    # Surprising but Redis 7.0: LINDEX looks the key up first; a missing key answers nil and a
    # wrong-typed one WRONGTYPE whatever the index.
    assert raw.call("LINDEX", "nokey", "x") is None
    assert error_of(raw, "LINDEX", "str", "x") == WRONGTYPE


def test_lset(raw):
    raw.call("RPUSH", "l", *ABCDE)
    assert raw.call("LSET", "l", "0", "A") == OK
    assert raw.call("LSET", "l", "-1", "E") == OK
    assert raw.call("LSET", "l", "2", "") == OK
    assert raw.call("LSET", "l", "-4", "B" * 100) == OK
    assert lrange(raw, "l") == bs("A", "B" * 100, "", "d", "E")
    assert raw.call("LLEN", "l") == 5


def test_lset_errors(raw):
    raw.call("RPUSH", "l", *ABCDE)
    raw.call("SET", "str", "x")
    for out in ("5", "-6", "100", str(LLONG_MAX), str(LLONG_MIN)):
        assert error_of(raw, "LSET", "l", out, "Z") == INDEX_RANGE, out
    assert error_of(raw, "LSET", "l", "x", "Z") == NOT_INT
    assert error_of(raw, "LSET", "l", "9223372036854775808", "Z") == NOT_INT
    # The key comes first: "no such key" or WRONGTYPE whatever the index.
    assert error_of(raw, "LSET", "nokey", "0", "v") == NO_SUCH_KEY
    assert error_of(raw, "LSET", "nokey", "x", "v") == NO_SUCH_KEY
    assert error_of(raw, "LSET", "str", "x", "v") == WRONGTYPE
    assert error_of(raw, "LSET", "str", "0", "v") == WRONGTYPE
    assert raw.call("EXISTS", "nokey") == 0
    assert lrange(raw, "l") == bs(*ABCDE)


# ---------------------------------------------------------------------------
# LRANGE LTRIM

RANGES = [
    ("0", "-1", ABCDE), ("1", "3", ["b", "c", "d"]), ("3", "1", []), ("-2", "-1", ["d", "e"]),
    ("-100", "100", ABCDE), ("5", "10", []), ("4", "100", ["e"]), ("-1", "-2", []),
    ("0", "0", ["a"]), ("-1", "-1", ["e"]), ("-5", "-5", ["a"]), ("-6", "-6", []),
    ("-6", "0", ["a"]), ("2", "-3", ["c"]), ("2", "-4", []), ("0", "-6", []), ("10", "-1", []),
    (str(LLONG_MIN), str(LLONG_MAX), ABCDE), (str(LLONG_MAX), str(LLONG_MAX), []),
    (str(LLONG_MIN), str(LLONG_MIN), []), ("0", str(LLONG_MIN), []),
]


@pytest.mark.parametrize("start,stop,want", RANGES)
def test_lrange(raw, start, stop, want):
    raw.call("RPUSH", "l", *ABCDE)
    assert raw.call("LRANGE", "l", start, stop) == bs(*want)


@pytest.mark.parametrize("start,stop,want", RANGES)
def test_ltrim(raw, start, stop, want):
    raw.call("RPUSH", "l", *ABCDE)
    assert raw.call("LTRIM", "l", start, stop) == OK
    assert lrange(raw, "l") == bs(*want)
    assert raw.call("EXISTS", "l") == (1 if want else 0)     # emptied: deleted


def test_lrange_ltrim_missing_key(raw):
    assert raw.call("LRANGE", "nokey", "0", "-1") == []
    assert raw.call("LTRIM", "nokey", "0", "1") == OK
    assert raw.call("EXISTS", "nokey") == 0


def test_lrange_ltrim_errors(raw):
    raw.call("RPUSH", "l", "a")
    raw.call("SET", "str", "x")
    for cmd in ("LRANGE", "LTRIM"):
        for bad in ("x", "1.5", "", "-0", "+1", "01", "9223372036854775808"):
            assert error_of(raw, cmd, "l", bad, "1") == NOT_INT, (cmd, bad)
            assert error_of(raw, cmd, "l", "0", bad) == NOT_INT, (cmd, bad)
        # Unlike LINDEX/LSET, the indexes are parsed before the key is looked at.
        assert error_of(raw, cmd, "nokey", "x", "1") == NOT_INT
        assert error_of(raw, cmd, "str", "x", "1") == NOT_INT
        assert error_of(raw, cmd, "str", "0", "1") == WRONGTYPE
    assert lrange(raw, "l") == [b"a"]


# ---------------------------------------------------------------------------
# LREM

@pytest.mark.parametrize("count,removed,left", [
    ("0", 4, "bcb"), ("1", 1, "bacaba"), ("2", 2, "bcaba"), ("-1", 1, "abacab"),
    ("-2", 2, "abacb"), ("100", 4, "bcb"), ("-100", 4, "bcb"), (str(LLONG_MAX), 4, "bcb"),
    (str(LLONG_MIN), 4, "bcb"),
])
def test_lrem(raw, count, removed, left):
    raw.call("RPUSH", "l", *"abacaba")
    assert raw.call("LREM", "l", count, "a") == removed
    assert lrange(raw, "l") == bs(*left)


def test_lrem_nothing_to_remove(raw):
    raw.call("RPUSH", "l", "a", "b")
    assert raw.call("LREM", "l", "0", "zz") == 0
    assert raw.call("LREM", "l", "1", "") == 0
    assert raw.call("LREM", "nokey", "0", "a") == 0
    assert lrange(raw, "l") == [b"a", b"b"]
    assert raw.call("EXISTS", "nokey") == 0


def test_lrem_of_every_element_deletes_the_key(raw):
    raw.call("RPUSH", "l", "x", "x", "x")
    assert raw.call("LREM", "l", "0", "x") == 3
    assert raw.call("EXISTS", "l") == 0
    raw.call("RPUSH", "l", "x", "x")
    assert raw.call("LREM", "l", "-2", "x") == 2
    assert raw.call("EXISTS", "l") == 0


def test_lrem_errors(raw):
    raw.call("RPUSH", "l", "a")
    raw.call("SET", "str", "x")
    for bad in ("x", "1.5", "", "9223372036854775808"):
        assert error_of(raw, "LREM", "l", bad, "a") == NOT_INT, bad
    assert error_of(raw, "LREM", "nokey", "x", "a") == NOT_INT    # before the key
    assert error_of(raw, "LREM", "str", "x", "a") == NOT_INT
    assert error_of(raw, "LREM", "str", "0", "a") == WRONGTYPE
    assert lrange(raw, "l") == [b"a"]


# ---------------------------------------------------------------------------
# LINSERT

def test_linsert(raw):
    raw.call("RPUSH", "l", "a", "b", "c", "b")
    assert raw.call("LINSERT", "l", "BEFORE", "b", "X") == 5      # the first pivot
    assert raw.call("LINSERT", "l", "after", "b", "Y") == 6
    assert lrange(raw, "l") == bs("a", "X", "b", "Y", "c", "b")
    assert raw.call("LINSERT", "l", "Before", "a", "H") == 7      # at the head
    assert raw.call("LINSERT", "l", "AFTER", "c", "Z") == 8
    assert raw.call("LINSERT", "l", "AFTER", "b", "") == 9
    assert lrange(raw, "l") == bs("H", "a", "X", "b", "", "Y", "c", "Z", "b")
    raw.call("RPUSH", "t", "x")
    assert raw.call("LINSERT", "t", "AFTER", "x", "tail") == 2   # at the tail
    assert lrange(raw, "t") == [b"x", b"tail"]


def test_linsert_missing_pivot_or_key(raw):
    raw.call("RPUSH", "l", "a")
    assert raw.call("LINSERT", "l", "BEFORE", "zz", "X") == -1
    assert raw.call("LINSERT", "l", "AFTER", "", "X") == -1
    assert lrange(raw, "l") == [b"a"]
    assert raw.call("LINSERT", "nokey", "BEFORE", "a", "X") == 0
    assert raw.call("EXISTS", "nokey") == 0
    raw.call("RPUSH", "l", "")
    assert raw.call("LINSERT", "l", "AFTER", "", "E") == 3        # an empty pivot, found
    assert lrange(raw, "l") == [b"a", b"", b"E"]


def test_linsert_errors(raw):
    raw.call("RPUSH", "l", "a")
    raw.call("SET", "str", "x")
    for where in ("MIDDLE", "", "BEFOREX", "B"):
        assert error_of(raw, "LINSERT", "l", where, "a", "X") == SYNTAX, where
    # The position is checked before the key is looked at.
    assert error_of(raw, "LINSERT", "nokey", "MIDDLE", "a", "X") == SYNTAX
    assert error_of(raw, "LINSERT", "str", "MIDDLE", "a", "X") == SYNTAX
    assert error_of(raw, "LINSERT", "str", "BEFORE", "zz", "X") == WRONGTYPE
    assert lrange(raw, "l") == [b"a"]


# ---------------------------------------------------------------------------
# LPOS

LPOS_LIST = ["a", "b", "c", "1", "2", "3", "c", "c"]


@pytest.mark.parametrize("args,want", [
    ([], 2), (["RANK", "1"], 2), (["RANK", "2"], 6), (["RANK", "3"], 7), (["RANK", "4"], None),
    (["RANK", "-1"], 7), (["RANK", "-3"], 2), (["RANK", "-4"], None),
    (["RANK", str(LLONG_MAX)], None), (["RANK", str(LLONG_MIN + 1)], None),
    (["COUNT", "0"], [2, 6, 7]), (["COUNT", "1"], [2]), (["COUNT", "2"], [2, 6]),
    (["COUNT", "10"], [2, 6, 7]), (["COUNT", str(LLONG_MAX)], [2, 6, 7]),
    (["RANK", "2", "COUNT", "0"], [6, 7]), (["RANK", "4", "COUNT", "0"], []),
    (["RANK", "-1", "COUNT", "2"], [7, 6]), (["COUNT", "0", "RANK", "-2"], [6, 2]),
    (["MAXLEN", "0"], 2), (["MAXLEN", "2"], None), (["MAXLEN", "3"], 2),
    (["MAXLEN", "7", "COUNT", "0"], [2, 6]), (["MAXLEN", "100", "COUNT", "0"], [2, 6, 7]),
    (["RANK", "-1", "MAXLEN", "1"], 7), (["RANK", "-1", "MAXLEN", "2", "COUNT", "0"], [7, 6]),
    (["RANK", "-2", "COUNT", "5", "MAXLEN", "3"], [6]),
    (["rank", "2", "count", "1", "maxlen", "0"], [6]),
    # A repeated option: the last one wins.
    (["RANK", "1", "RANK", "2"], 6), (["COUNT", "0", "COUNT", "1"], [2]),
    (["MAXLEN", "1", "MAXLEN", "0"], 2),
])
def test_lpos(raw, args, want):
    raw.call("RPUSH", "l", *LPOS_LIST)
    assert raw.call("LPOS", "l", "c", *args) == want


def test_lpos_no_match_and_missing_key(raw):
    raw.call("RPUSH", "l", *LPOS_LIST)
    assert raw.call("LPOS", "l", "zz") is None
    assert raw.call("LPOS", "l", "zz", "COUNT", "0") == []
    assert raw.call("LPOS", "l", "") is None
    assert raw.call("LPOS", "nokey", "c") is None
    assert raw.call("LPOS", "nokey", "c", "COUNT", "2") == []
    assert raw.call("LPOS", "nokey", "c", "RANK", "-1", "COUNT", "0", "MAXLEN", "1") == []


@pytest.mark.parametrize("opts,err", [
    (["RANK", "0"], RANK_ZERO), (["RANK", "x"], NOT_INT), (["RANK", ""], NOT_INT),
    (["RANK", "9223372036854775808"], NOT_INT), (["RANK", "1.5"], NOT_INT),
    (["COUNT", "-1"], COUNT_NEG), (["COUNT", "x"], COUNT_NEG),
    (["COUNT", "9223372036854775808"], COUNT_NEG), (["COUNT", str(LLONG_MIN)], COUNT_NEG),
    (["MAXLEN", "-1"], MAXLEN_NEG), (["MAXLEN", "x"], MAXLEN_NEG),
    (["MAXLEN", "9223372036854775808"], MAXLEN_NEG),
    (["FOO"], SYNTAX), (["RANK"], SYNTAX), (["COUNT"], SYNTAX), (["MAXLEN"], SYNTAX),
    (["RANK", "1", "FOO"], SYNTAX), (["COUNT", "1", "MAXLEN"], SYNTAX),
    (["RANK", "0", "COUNT", "-1"], RANK_ZERO), (["COUNT", "-1", "RANK", "0"], COUNT_NEG),
])
def test_lpos_errors_come_before_the_key(raw, opts, err):
    raw.call("RPUSH", "l", *LPOS_LIST)
    raw.call("SET", "str", "x")
    assert error_of(raw, "LPOS", "l", "c", *opts) == err
    assert error_of(raw, "LPOS", "nokey", "c", *opts) == err
    assert error_of(raw, "LPOS", "str", "c", *opts) == err


def test_lpos_wrongtype(raw):
    raw.call("SET", "str", "x")
    assert error_of(raw, "LPOS", "str", "c") == WRONGTYPE
    assert error_of(raw, "LPOS", "str", "c", "RANK", "-1", "COUNT", "0", "MAXLEN", "5") == \
        WRONGTYPE


def test_elements_compare_as_bytes(raw):
    # Integers stored compactly are still matched by their exact spelling only.
    raw.call("RPUSH", "l", "1", "01", "-0", "10", "1")
    assert raw.call("LPOS", "l", "1", "COUNT", "0") == [0, 4]
    assert raw.call("LPOS", "l", "01", "COUNT", "0") == [1]
    assert raw.call("LPOS", "l", "+1", "COUNT", "0") == []
    assert raw.call("LPOS", "l", "-0", "COUNT", "0") == [2]
    assert raw.call("LPOS", "l", "0") is None
    assert raw.call("LREM", "l", "0", "01") == 1
    assert raw.call("LINSERT", "l", "AFTER", "1.0", "x") == -1
    assert raw.call("LINSERT", "l", "AFTER", "10", "x") == 5
    assert lrange(raw, "l") == bs("1", "-0", "10", "x", "1")


# ---------------------------------------------------------------------------
# LMOVE RPOPLPUSH

@pytest.mark.parametrize("wherefrom,whereto,moved,src,dst", [
    ("LEFT", "LEFT", "a", "bc", "axy"),
    ("LEFT", "RIGHT", "a", "bc", "xya"),
    ("RIGHT", "LEFT", "c", "ab", "cxy"),
    ("RIGHT", "RIGHT", "c", "ab", "xyc"),
    ("left", "Right", "a", "bc", "xya"),
])
def test_lmove(raw, wherefrom, whereto, moved, src, dst):
    raw.call("RPUSH", "s", "a", "b", "c")
    raw.call("RPUSH", "d", "x", "y")
    assert raw.call("LMOVE", "s", "d", wherefrom, whereto) == moved.encode()
    assert lrange(raw, "s") == bs(*src)
    assert lrange(raw, "d") == bs(*dst)


@pytest.mark.parametrize("wherefrom,whereto,moved,after", [
    ("LEFT", "LEFT", "a", "abc"), ("LEFT", "RIGHT", "a", "bca"),
    ("RIGHT", "LEFT", "c", "cab"), ("RIGHT", "RIGHT", "c", "abc"),
])
def test_lmove_same_key_rotates(raw, wherefrom, whereto, moved, after):
    raw.call("RPUSH", "l", "a", "b", "c")
    assert raw.call("LMOVE", "l", "l", wherefrom, whereto) == moved.encode()
    assert lrange(raw, "l") == bs(*after)


def test_lmove_single_element_onto_itself_keeps_the_key(raw):
    raw.call("RPUSH", "l", "a")
    assert raw.call("LMOVE", "l", "l", "LEFT", "RIGHT") == b"a"
    assert lrange(raw, "l") == [b"a"]
    assert raw.call("RPOPLPUSH", "l", "l") == b"a"
    assert lrange(raw, "l") == [b"a"]


def test_lmove_creates_destination_and_deletes_emptied_source(raw):
    raw.call("RPUSH", "s", "a")
    assert raw.call("LMOVE", "s", "new", "RIGHT", "LEFT") == b"a"
    assert raw.call("EXISTS", "s") == 0
    assert raw.call("TYPE", "new") == "list"
    assert lrange(raw, "new") == [b"a"]


def test_lmove_missing_source(raw):
    assert raw.call("LMOVE", "nokey", "d", "LEFT", "RIGHT") is None
    assert raw.call("EXISTS", "d") == 0
    # Surprising but Redis 7.0: a missing source answers nil even when the destination is a
    # string; with an existing source, a wrong-typed destination is WRONGTYPE.
    raw.call("SET", "str", "x")
    assert raw.call("LMOVE", "nokey", "str", "LEFT", "RIGHT") is None
    assert raw.call("RPOPLPUSH", "nokey", "str") is None


@pytest.mark.parametrize("make_other", [("SET", "o", "x"), ("HSET", "o", "f", "v"),
                                        ("SADD", "o", "m")], ids=["string", "hash", "set"])
def test_lmove_wrong_types_change_nothing(raw, make_other):
    raw.call(*make_other)
    raw.call("RPUSH", "l", "a", "b")
    assert error_of(raw, "LMOVE", "l", "o", "LEFT", "RIGHT") == WRONGTYPE
    assert error_of(raw, "LMOVE", "o", "l", "LEFT", "RIGHT") == WRONGTYPE
    assert error_of(raw, "LMOVE", "o", "nokey", "LEFT", "RIGHT") == WRONGTYPE
    assert error_of(raw, "LMOVE", "o", "o", "LEFT", "RIGHT") == WRONGTYPE
    assert error_of(raw, "RPOPLPUSH", "l", "o") == WRONGTYPE
    assert error_of(raw, "RPOPLPUSH", "o", "l") == WRONGTYPE
    assert lrange(raw, "l") == [b"a", b"b"]
    assert raw.call("TYPE", "o") == {"SET": "string", "HSET": "hash", "SADD": "set"}[
        make_other[0]]


def test_lmove_direction_errors_come_first(raw):
    raw.call("RPUSH", "l", "a")
    raw.call("SET", "str", "x")
    for a, b in (("UP", "RIGHT"), ("LEFT", "DOWN"), ("", "LEFT"), ("LEFTX", "LEFT")):
        assert error_of(raw, "LMOVE", "l", "d", a, b) == SYNTAX, (a, b)
    assert error_of(raw, "LMOVE", "nokey", "d", "UP", "RIGHT") == SYNTAX
    assert error_of(raw, "LMOVE", "str", "d", "UP", "RIGHT") == SYNTAX
    assert error_of(raw, "LMOVE", "l", "str", "LEFT", "UP") == SYNTAX
    assert lrange(raw, "l") == [b"a"]


def test_rpoplpush(raw):
    raw.call("RPUSH", "q", "a", "b", "c")
    assert raw.call("RPOPLPUSH", "q", "q2") == b"c"
    assert raw.call("RPOPLPUSH", "q", "q") == b"b"            # rotation
    assert lrange(raw, "q") == [b"b", b"a"]
    assert raw.call("RPOPLPUSH", "nokey", "q") is None
    assert raw.call("RPOPLPUSH", "q", "q2") == b"a"
    assert raw.call("RPOPLPUSH", "q", "q2") == b"b"
    assert raw.call("EXISTS", "q") == 0
    assert lrange(raw, "q2") == [b"b", b"a", b"c"]


def test_lmove_ttls(raw):
    raw.call("RPUSH", "s", "a", "b")
    raw.call("RPUSH", "d", "x")
    raw.call("EXPIREAT", "s", "4000000000")
    raw.call("EXPIREAT", "d", "4100000000")
    assert raw.call("LMOVE", "s", "d", "LEFT", "LEFT") == b"a"
    assert raw.call("EXPIRETIME", "s") == 4000000000
    assert raw.call("EXPIRETIME", "d") == 4100000000
    assert raw.call("LMOVE", "s", "s", "LEFT", "RIGHT") == b"b"
    assert raw.call("EXPIRETIME", "s") == 4000000000
    assert raw.call("LMOVE", "s", "new", "LEFT", "LEFT") == b"b"   # a new key: no TTL
    assert raw.call("TTL", "new") == -1
    assert raw.call("TTL", "s") == -2


# ---------------------------------------------------------------------------
# LMPOP

def test_lmpop_first_non_empty_key_wins(raw):
    raw.call("RPUSH", "a", "1", "2", "3")
    raw.call("RPUSH", "b", "x", "y")
    assert raw.call("LMPOP", "2", "nokey", "a", "LEFT") == [b"a", [b"1"]]
    assert raw.call("LMPOP", "2", "a", "b", "RIGHT") == [b"a", [b"3"]]
    assert raw.call("LMPOP", "2", "b", "a", "RIGHT", "COUNT", "5") == [b"b", [b"y", b"x"]]
    assert raw.call("EXISTS", "b") == 0
    assert raw.call("LMPOP", "1", "a", "left", "count", "1") == [b"a", [b"2"]]
    assert raw.call("EXISTS", "a") == 0
    assert raw.call("LMPOP", "2", "a", "b", "LEFT") is None
    assert raw.call("LMPOP", "2", "nokey", "n2", "LEFT", "COUNT", "3") is None


def test_lmpop_count(raw):
    raw.call("RPUSH", "a", *ABCDE)
    assert raw.call("LMPOP", "1", "a", "LEFT", "COUNT", "2") == [b"a", [b"a", b"b"]]
    assert raw.call("LMPOP", "1", "a", "RIGHT", "COUNT", "2") == [b"a", [b"e", b"d"]]
    assert raw.call("LMPOP", "1", "a", "RIGHT", "COUNT", str(LLONG_MAX)) == [b"a", [b"c"]]
    assert raw.call("EXISTS", "a") == 0


def test_lmpop_keys_named_like_options(raw):
    # numkeys decides what is a key: "LEFT" as a key name, then the direction.
    raw.call("RPUSH", "LEFT", "v")
    assert raw.call("LMPOP", "1", "LEFT", "LEFT") == [b"LEFT", [b"v"]]
    raw.call("RPUSH", "COUNT", "w")
    assert raw.call("LMPOP", "2", "nokey", "COUNT", "RIGHT", "COUNT", "1") == [b"COUNT", [b"w"]]


@pytest.mark.parametrize("args,err", [
    (["0", "a", "LEFT"], NUMKEYS), (["-1", "a", "LEFT"], NUMKEYS), (["x", "a", "LEFT"], NUMKEYS),
    (["01", "a", "LEFT"], NUMKEYS), (["", "a", "LEFT"], NUMKEYS),
    # More keys announced than given: a syntax error (not SINTERCARD's text).
    (["2", "a", "LEFT"], SYNTAX), (["3", "a", "LEFT"], SYNTAX),
    (["2147483648", "a", "LEFT"], SYNTAX), ([str(LLONG_MAX), "a", "LEFT"], SYNTAX),
    (["1", "a", "UP"], SYNTAX), (["1", "a", "LEFT", "FOO"], SYNTAX),
    (["1", "a", "LEFT", "COUNT"], SYNTAX), (["1", "a", "LEFT", "COUNT", "1", "FOO"], SYNTAX),
    # COUNT given twice is refused (LPOS takes the last).
    (["1", "a", "LEFT", "COUNT", "1", "COUNT", "2"], SYNTAX),
    (["1", "a", "LEFT", "COUNT", "0"], LMPOP_COUNT),
    (["1", "a", "LEFT", "COUNT", "-1"], LMPOP_COUNT),
    (["1", "a", "LEFT", "COUNT", "x"], LMPOP_COUNT),
    (["1", "a", "LEFT", "COUNT", "9223372036854775808"], LMPOP_COUNT),
])
def test_lmpop_errors_come_before_the_keys(raw, args, err):
    raw.call("RPUSH", "a", "1")
    assert error_of(raw, "LMPOP", *args) == err
    raw.call("DEL", "a")
    assert error_of(raw, "LMPOP", *args) == err
    raw.call("SET", "a", "str")
    assert error_of(raw, "LMPOP", *args) == err


def test_lmpop_wrongtype_only_until_a_non_empty_key(raw):
    raw.call("SET", "s", "x")
    assert error_of(raw, "LMPOP", "1", "s", "LEFT") == WRONGTYPE
    assert error_of(raw, "LMPOP", "2", "nokey", "s", "LEFT") == WRONGTYPE
    assert error_of(raw, "LMPOP", "2", "s", "nokey", "LEFT", "COUNT", "2") == WRONGTYPE
    raw.call("RPUSH", "a", "1", "2")
    assert error_of(raw, "LMPOP", "2", "s", "a", "LEFT") == WRONGTYPE
    assert lrange(raw, "a") == [b"1", b"2"]
    # The first non-empty key answers; the string after it is never looked at.
    assert raw.call("LMPOP", "2", "a", "s", "LEFT") == [b"a", [b"1"]]


# ---------------------------------------------------------------------------
# Arity

ARITY = [
    ("LPUSH", []), ("LPUSH", ["l"]), ("RPUSH", []), ("RPUSH", ["l"]),
    ("LPUSHX", []), ("LPUSHX", ["l"]), ("RPUSHX", []), ("RPUSHX", ["l"]),
    ("LPOP", []), ("LPOP", ["l", "1", "2"]), ("RPOP", []), ("RPOP", ["l", "1", "2"]),
    ("LLEN", []), ("LLEN", ["l", "x"]),
    ("LINDEX", ["l"]), ("LINDEX", ["l", "0", "1"]),
    ("LSET", ["l", "0"]), ("LSET", ["l", "0", "v", "w"]),
    ("LRANGE", ["l", "0"]), ("LRANGE", ["l", "0", "1", "2"]),
    ("LTRIM", ["l", "0"]), ("LTRIM", ["l", "0", "1", "2"]),
    ("LREM", ["l", "0"]), ("LREM", ["l", "0", "a", "b"]),
    ("LINSERT", ["l", "BEFORE", "a"]), ("LINSERT", ["l", "BEFORE", "a", "X", "Y"]),
    ("LPOS", ["l"]),
    ("LMOVE", ["l", "d", "LEFT"]), ("LMOVE", ["l", "d", "LEFT", "RIGHT", "x"]),
    ("RPOPLPUSH", ["l"]), ("RPOPLPUSH", ["l", "d", "x"]),
    ("LMPOP", []), ("LMPOP", ["1"]), ("LMPOP", ["1", "l"]),
]


def test_arity_errors_of_every_list_command(raw):
    raw.call("RPUSH", "l", "a")
    for cmd, args in ARITY:
        assert error_of(raw, cmd, *args) == arity(cmd.lower()), (cmd, args)
    # Also in lower case, and before the key's type is looked at.
    raw.call("SET", "str", "v")
    assert error_of(raw, "lpush", "str") == arity("lpush")
    assert error_of(raw, "LSET", "str", "0") == arity("lset")
    assert lrange(raw, "l") == [b"a"]


# ---------------------------------------------------------------------------
# Encodings

def test_object_encoding_is_always_quicklist(raw):
    raw.call("RPUSH", "one", "a")
    assert encoding(raw, "one") == b"quicklist"        # 7.2 would say listpack
    raw.call("RPUSH", "ints", "1", "2", "3")
    assert encoding(raw, "ints") == b"quicklist"
    raw.call("RPUSH", "long", "x" * 100)
    assert encoding(raw, "long") == b"quicklist"
    raw.call("RPUSH", "big", *[str(i) for i in range(10000)])
    assert encoding(raw, "big") == b"quicklist"
    raw.call("LTRIM", "big", "0", "2")                 # shrunk: still quicklist
    assert encoding(raw, "big") == b"quicklist"
    raw.call("LTRIM", "long", "1", "0")
    assert encoding(raw, "long") is None               # gone
    assert raw.call("COPY", "one", "c") == 1
    assert encoding(raw, "c") == b"quicklist"
    assert encoding(raw, "nokey") is None


# ---------------------------------------------------------------------------
# WRONGTYPE: list commands on a string, a hash, a set

LIST_ON_OTHER = [
    ("LPUSH", "k", "a"), ("RPUSH", "k", "a"), ("LPUSHX", "k", "a"), ("RPUSHX", "k", "a"),
    ("LPOP", "k"), ("RPOP", "k"), ("LPOP", "k", "2"), ("RPOP", "k", "0"), ("LLEN", "k"),
    ("LINDEX", "k", "0"), ("LINDEX", "k", "99"), ("LSET", "k", "0", "v"),
    ("LSET", "k", "99", "v"), ("LRANGE", "k", "0", "-1"), ("LREM", "k", "0", "a"),
    ("LTRIM", "k", "0", "-1"), ("LTRIM", "k", "1", "0"), ("LINSERT", "k", "BEFORE", "a", "b"),
    ("LPOS", "k", "a"), ("LPOS", "k", "a", "COUNT", "0"),
    ("LMOVE", "k", "l", "LEFT", "RIGHT"), ("LMOVE", "l", "k", "LEFT", "RIGHT"),
    ("LMOVE", "k", "k", "LEFT", "RIGHT"), ("LMOVE", "k", "nokey", "LEFT", "LEFT"),
    ("RPOPLPUSH", "k", "l"), ("RPOPLPUSH", "l", "k"), ("RPOPLPUSH", "k", "k"),
    ("LMPOP", "1", "k", "LEFT"), ("LMPOP", "2", "nokey", "k", "RIGHT"),
    ("LMPOP", "2", "k", "l", "LEFT", "COUNT", "2"),
]


@pytest.mark.parametrize("make_other", [("SET", "k", "value"), ("HSET", "k", "f", "v"),
                                        ("SADD", "k", "m")], ids=["string", "hash", "set"])
def test_list_commands_on_other_types_are_wrongtype(raw, make_other):
    raw.call(*make_other)
    raw.call("RPUSH", "l", "a", "b")
    for cmd in LIST_ON_OTHER:
        assert error_of(raw, *cmd) == WRONGTYPE, cmd
    # A refused command changes nothing.
    assert raw.call("TYPE", "k") == {"SET": "string", "HSET": "hash", "SADD": "set"}[
        make_other[0]]
    assert raw.call("TTL", "k") == -1
    assert lrange(raw, "l") == [b"a", b"b"]
    assert raw.call("EXISTS", "nokey") == 0


def test_list_argument_errors_against_wrongtype(raw):
    # Which argument errors a wrong-typed key hides, and which it does not.
    raw.call("SET", "str", "value")
    assert error_of(raw, "LPOP", "str", "-1") == POP_COUNT
    assert error_of(raw, "LRANGE", "str", "x", "0") == NOT_INT
    assert error_of(raw, "LTRIM", "str", "0", "x") == NOT_INT
    assert error_of(raw, "LREM", "str", "x", "a") == NOT_INT
    assert error_of(raw, "LINSERT", "str", "NEAR", "a", "b") == SYNTAX
    assert error_of(raw, "LPOS", "str", "a", "RANK", "0") == RANK_ZERO
    assert error_of(raw, "LMOVE", "str", "d", "UP", "LEFT") == SYNTAX
    assert error_of(raw, "LMPOP", "1", "str", "LEFT", "COUNT", "0") == LMPOP_COUNT
    # LINDEX and LSET look the key up first.
    assert error_of(raw, "LINDEX", "str", "x") == WRONGTYPE
    assert error_of(raw, "LSET", "str", "x", "v") == WRONGTYPE
    assert raw.call("GET", "str") == b"value"


# ---------------------------------------------------------------------------
# WRONGTYPE: string, bit, HyperLogLog, hash and set commands on a list

OTHER_ON_LIST = [
    ("GET", "l"), ("GETSET", "l", "x"), ("SET", "l", "x", "GET"), ("GETDEL", "l"),
    ("GETEX", "l"), ("GETEX", "l", "PERSIST"), ("GETRANGE", "l", "0", "1"),
    ("SUBSTR", "l", "0", "1"), ("STRLEN", "l"), ("APPEND", "l", "x"),
    ("SETRANGE", "l", "0", "x"), ("INCR", "l"), ("INCRBY", "l", "2"), ("DECR", "l"),
    ("DECRBY", "l", "2"), ("INCRBYFLOAT", "l", "1.5"),
    ("GETBIT", "l", "0"), ("SETBIT", "l", "0", "1"), ("BITCOUNT", "l"), ("BITPOS", "l", "1"),
    ("BITFIELD", "l", "GET", "u8", "0"), ("BITFIELD_RO", "l", "GET", "u8", "0"),
    ("BITOP", "AND", "dest", "l"), ("PFADD", "l", "a"), ("PFCOUNT", "l"),
    ("PFMERGE", "dest", "l"),
    ("HSET", "l", "f", "v"), ("HSETNX", "l", "f", "v"), ("HGET", "l", "f"), ("HMGET", "l", "f"),
    ("HDEL", "l", "f"), ("HLEN", "l"), ("HGETALL", "l"), ("HKEYS", "l"), ("HEXISTS", "l", "f"),
    ("HINCRBY", "l", "f", "1"), ("HRANDFIELD", "l"), ("HSCAN", "l", "0"),
    ("SADD", "l", "a"), ("SREM", "l", "a"), ("SMEMBERS", "l"), ("SCARD", "l"),
    ("SISMEMBER", "l", "a"), ("SPOP", "l"), ("SRANDMEMBER", "l"), ("SINTER", "l"),
    ("SUNIONSTORE", "dest", "l"), ("SMOVE", "l", "dest", "a"), ("SSCAN", "l", "0"),
    ("SINTERCARD", "1", "l"),
]


def test_other_commands_on_a_list_are_wrongtype(raw):
    raw.call("RPUSH", "l", "a", "b")
    raw.call("SET", "str", "abc")
    for cmd in OTHER_ON_LIST:
        assert error_of(raw, *cmd) == WRONGTYPE, cmd
    assert lrange(raw, "l") == [b"a", b"b"]
    assert raw.call("TYPE", "l") == "list"
    assert raw.call("TTL", "l") == -1
    assert raw.call("EXISTS", "dest") == 0


def test_lcs_and_mget_on_a_list(raw):
    raw.call("RPUSH", "l", "a")
    raw.call("SET", "str", "abc")
    assert error_of(raw, "LCS", "l", "str") == "ERR The specified keys must contain string values"
    assert raw.call("MGET", "str", "l", "nokey") == [b"abc", None, None]


def test_set_overwrites_a_list(raw):
    raw.call("RPUSH", "l", "a")
    assert raw.call("SET", "l", "x", "NX") is None        # the list counts as existing
    assert raw.call("SETNX", "l", "x") == 0
    assert raw.call("MSETNX", "l", "x", "new", "y") == 0
    assert raw.call("EXISTS", "new") == 0
    assert raw.call("TYPE", "l") == "list"
    assert raw.call("SET", "l", "str") == OK
    assert raw.call("TYPE", "l") == "string"
    assert error_of(raw, "LLEN", "l") == WRONGTYPE


# ---------------------------------------------------------------------------
# Generic commands on a list

def test_type_exists_del_unlink(raw):
    raw.call("RPUSH", "l", "a")
    raw.call("LPUSH", "m", "1")
    assert raw.call("TYPE", "l") == "list"
    assert raw.call("EXISTS", "l", "l", "m", "nokey") == 3
    assert raw.call("DEL", "l", "nokey") == 1
    assert raw.call("UNLINK", "m", "l") == 1
    assert raw.call("EXISTS", "l", "m") == 0
    assert raw.call("LLEN", "l") == 0


def test_expire_ttl_on_a_list(raw):
    raw.call("RPUSH", "l", "a", "b")
    assert raw.call("EXPIRE", "l", "100") == 1
    assert 0 < raw.call("TTL", "l") <= 100
    assert raw.call("PERSIST", "l") == 1
    assert raw.call("TTL", "l") == -1
    assert raw.call("EXPIRE", "l", "0") == 1               # non-positive: deleted
    assert raw.call("EXISTS", "l") == 0


def test_list_writes_keep_the_ttl(raw):
    raw.call("RPUSH", "l", *"abcdefgh")
    raw.call("EXPIREAT", "l", "4000000000")
    raw.call("RPUSH", "other", "z")
    for cmd in (("LPUSH", "l", "x"), ("RPUSH", "l", "y"), ("LPUSHX", "l", "x"),
                ("RPUSHX", "l", "y"), ("LPOP", "l"), ("RPOP", "l"), ("LPOP", "l", "1"),
                ("RPOP", "l", "1"), ("LSET", "l", "0", "Z"), ("LINSERT", "l", "AFTER", "Z", "i"),
                ("LREM", "l", "0", "i"), ("LTRIM", "l", "0", "-2"),
                ("LMOVE", "l", "l", "LEFT", "RIGHT"),
                ("LMOVE", "other", "l", "LEFT", "LEFT"), ("RPOPLPUSH", "l", "other"),
                ("LMPOP", "1", "l", "LEFT")):
        assert not isinstance(raw.call(*cmd), Error), cmd
        assert raw.call("EXPIRETIME", "l") == 4000000000, cmd
    assert raw.call("LLEN", "l") == 6


def test_ttl_goes_with_the_last_element(raw):
    for emptying in (("LPOP", "l"), ("RPOP", "l", "5"), ("LREM", "l", "0", "a"),
                     ("LTRIM", "l", "1", "0"), ("LMOVE", "l", "d", "LEFT", "LEFT"),
                     ("LMPOP", "1", "l", "RIGHT")):
        raw.call("RPUSH", "l", "a")
        raw.call("EXPIRE", "l", "100")
        assert not isinstance(raw.call(*emptying), Error), emptying
        assert raw.call("TTL", "l") == -2, emptying
        raw.call("RPUSH", "l", "a")                        # a new key: no TTL
        assert raw.call("TTL", "l") == -1, emptying
        raw.call("DEL", "l")


def test_rename_and_copy(raw):
    raw.call("RPUSH", "l", "a", "b")
    raw.call("EXPIRE", "l", "100")
    assert raw.call("RENAME", "l", "l2") == OK
    assert raw.call("EXISTS", "l") == 0
    assert lrange(raw, "l2") == [b"a", b"b"]
    assert 0 < raw.call("TTL", "l2") <= 100
    raw.call("SET", "str", "x")
    assert raw.call("RENAMENX", "l2", "str") == 0
    assert raw.call("RENAME", "l2", "str") == OK           # overwrites the string
    assert raw.call("TYPE", "str") == "list"
    assert raw.call("COPY", "str", "c") == 1
    assert raw.call("COPY", "str", "c") == 0
    assert 0 < raw.call("TTL", "c") <= 100                 # COPY keeps the TTL
    raw.call("RPUSH", "str", "x")
    assert raw.call("COPY", "str", "c", "REPLACE") == 1
    assert lrange(raw, "c") == [b"a", b"b", b"x"]
    raw.call("LPOP", "c")                                  # the copy is its own list
    assert lrange(raw, "str") == [b"a", b"b", b"x"]


@pytest.mark.parametrize("values", [
    ["a", "b", "c"], ["1", "-1", "300", "70000", str(LLONG_MAX), "", "x" * 100],
    [str(i) for i in range(5000)], [f"e{i % 100}" for i in range(3000)],
], ids=["small", "mixed", "5000-ints", "3000-strings"])
def test_dump_restore_round_trip(raw, values):
    raw.call("RPUSH", "l", *values)
    payload = raw.call("DUMP", "l")
    assert isinstance(payload, bytes)
    assert raw.call("RESTORE", "copy", "0", payload) == OK
    assert lrange(raw, "copy") == bs(*values)
    assert encoding(raw, "copy") == b"quicklist"
    assert raw.call("TTL", "copy") == -1
    assert raw.call("DUMP", "nokey") is None


def test_restore_replace_busykey_and_ttl(raw):
    raw.call("RPUSH", "l", "a")
    payload = raw.call("DUMP", "l")
    raw.call("SET", "str", "x")
    assert error_of(raw, "RESTORE", "str", "0", payload) == BUSY
    assert raw.call("RESTORE", "str", "0", payload, "REPLACE") == OK
    assert raw.call("TYPE", "str") == "list"
    assert lrange(raw, "str") == [b"a"]
    assert raw.call("RESTORE", "t", "100000", payload) == OK
    assert 0 < raw.call("PTTL", "t") <= 100000


INTS = ["0", "1", "-1", "127", "128", "-128", "4095", "-4096", "32767", "-32768", "8388607",
        "-8388608", "2147483647", "-2147483648", str(LLONG_MAX), str(LLONG_MIN), "12345678901"]

# DUMP replies of redis-server 7.0.15: type 18 (RDB_TYPE_LIST_QUICKLIST_2), the node count, then
# each node's container (2: packed) and its listpack as an RDB string (LZF-compressed when that
# is shorter), then RDB version 10 and the CRC64.
REDIS_LIST_PAYLOADS = {
    # RPUSH k a b c
    "small": ("12010210100000000300816102816202816302ff0a00c818b90c9533529e",
              bs("a", "b", "c")),
    # RPUSH k x
    "one": ("1201020a0a0000000100817802ff0a00d17b3fb85c03060e", [b"x"]),
    # RPUSH k ""
    "empty-element": ("120102090900000001008001ff0a008dee15cfb3e28035", [b""]),
    # RPUSH k (INTS): every listpack integer width, 7-bit to 64-bit
    "ints": (
        "120102405858000000110000010101dfff027f01c08002df8002cfff02d00002f1ff7f03f1008003f2ffff7f"
        "04f200008004f3ffffff7f05f30000008005f4ffffffffffffff7f09f4000000000000008009f4351cdcdf02"
        "00000009ff0a003231a088fa390e7f", bs(*INTS)),
    # RPUSH k 01 +1 -0 1.5 " 1" 9223372036854775808: strings, not integers
    "near-ints": (
        "1201023131000000060082303103822b3103822d300383312e35048220310393393232333337323033363835"
        "3437373538303814ff0a000e4387588d250aee",
        bs("01", "+1", "-0", "1.5", " 1", "9223372036854775808")),
    # RPUSH k "\0" "a\0b" "\r\n" "" "\xff"
    "binary": ("120102181800000005008100028361006204820d0a03800181ff02ff0a008bdede0eb55086da",
               [b"\x00", b"a\x00b", b"\r\n", b"", b"\xff"]),
    # RPUSH k (100 x's): the node LZF-compressed
    "lzf-element": ("120102c310406e086e0000000100e06478e05a000166ff0a006e306adf62fb8b26",
                    [b"x" * 100]),
    # RPUSH k a (200 y's) b
    "lzf-middle": ("120102c31740d90bd90000000300816102e0c879e0be000501ca816202ff0a00112b333a45"
                   "dc7958",
                   [b"a", b"y" * 200, b"b"]),
    # RPUSH k (i % 100 for i in range(5000)): two nodes, both LZF-compressed
    "5000-ints": (
        "120202c341355ff71ff71f0000f80f00010101020103010401050106010701080109010a010b010c011f0d01"
        "0e010f0110011101120113011401150116011701180119011a011b011c011f1d011e011f0120012101220123"
        "012401250126012701280129012a012b012c011f2d012e012f01300131013201330134013501360137013801"
        "39013a013b013c011f3d013e013f0140014101420143014401450146014701480149014a014b014c011f4d01"
        "4e014f0150015101520153015401550156015701580159015a015b015c010d5d015e015f0160016101620163"
        "01e0ffc7e1ff8fe2ff57e3ff1fe4ffafe5ff77e6ff3fe7ffcfe8ff97e9ff5feaffefebffb7ecff7feeff0fee"
        "ffd7efff9ff1ff2ff1fff7f2ffbff4ff4ff5ff17f5ffdff7ff6ff8ff37f8fffff9ffc7f9ffc7f9ffc7f9ffc7"
        "f9ffc7f92ec70101ff02c340ed47271f270700009003580159015a015b015c015d015e015f01600161016201"
        "630100011f0101020103010401050106010701080109010a010b010c010d010e010f0110011f110112011301"
        "1401150116011701180119011a011b011c011d011e011f0120011f2101220123012401250126012701280129"
        "012a012b012c012d012e012f0130011f3101320133013401350136013701380139013a013b013c013d013e01"
        "3f0140011f4101420143014401450146014701480149014a014b014c014d014e014f0150010d510152015301"
        "5401550156015701e0ffc7e1ff8fe2ff57e3ff1fe4ffafe5ff77e61e3f0101ff0a000407c189fa33af68",
        [str(i % 100).encode() for i in range(5000)]),
    # RPUSH k (f"e{i % 100}" for i in range(3000)): two nodes, both LZF-compressed
    "3000-strings": (
        "120202c342225ff60cf61f000085068265300382653120030032200300332003003420030035200300362003"
        "0037200300382003063903836531300420040031400400324004003340040034400400354004003640040037"
        "4004003840040039200400324031003240310032403100324031003240310032403100324031003240310032"
        "4031003240310033403100334031003340310033403100334031003340310033403100334031003340310033"
        "4031003440310034403100344031003440310034403100344031003440310034403100344031003440310035"
        "4031003540310035403100354031003540310035403100354031003540310035403100354031003640310036"
        "4031003640310036403100364031003640310036403100364031003640310036403100374031003740310037"
        "4031003740310037403100374031003740310037403100374031003740310038403100384031003840310038"
        "4031003840310038403100384031003840310038403100384031003940310039403100394031003940310039"
        "40310039403100394031003940310039403102393904e1ffe92298e1ffe9e3ffd323b5433de3ffd3e5ffbd25"
        "9a421be5ffbde7ffa7277f421be7ffa7e9ff912964421be9ff91ebff7b2211ebff7bebff7befff4f2b71495f"
        "ebff7bf1ff392b71421bebff7bf3ff232b71421bebff7bf5ff0d2211421bebff7bf6fff72211421bebff7beb"
        "ff7bebff7b2211ebff7bfcffb52b71495febff7bfecc9f0104ff02c3420359840e8419000033058365363904"
        "8365373040040031400400324004003340040034400400354004003640040037400400384004403100384031"
        "0038403100384031003840310038403100384031003840310038403100384031003840310039403100394031"
        "0039403100394031003940310039403100394031003940310039403109393904826530038265312003003220"
        "0300332003003420030035200300362003003720030038200304390383653140590031405900314059003140"
        "5900314059003140590031405900314059003140590031408b00324031003240310032403100324031003240"
        "3100324031003240310032403100324031003240310033403100334031003340310033403100334031003340"
        "3100334031003340310033403100334031003440310034403100344031003440310034403100344031003440"
        "3100344031003440310034403100354031003540310035403100354031003540310035403100354031003540"
        "3100354031003540310036403100364031003640310036403100364031003640310036403100364031003640"
        "31e1ffe9e1ffe923f6421be3ffd3e3ffd325ae421be5ffbde5ffbd2793421be7ffa7e7ffa7e9ff914211e9ff"
        "91ebff7bebff7b2b714c9dedff65efff4f2b71421befff4ff1ff392b71421bf1ff39f3ff232211421bf3ff23"
        "f5ff0d2211421bebff7bebff7beb9b7b0104ff0a00e9a267d2df8209a2",
        [f"e{i % 100}".encode() for i in range(3000)]),
}


@pytest.mark.parametrize("name", list(REDIS_LIST_PAYLOADS))
def test_restore_of_lists_as_redis_dumps_them(raw, name):
    hex_payload, want = REDIS_LIST_PAYLOADS[name]
    assert raw.call("RESTORE", "k", "0", bytes.fromhex(hex_payload)) == OK
    assert raw.call("TYPE", "k") == "list"
    assert encoding(raw, "k") == b"quicklist"
    assert raw.call("LLEN", "k") == len(want)
    assert lrange(raw, "k") == want
    assert raw.call("LINDEX", "k", "-1") == want[-1]
    assert raw.call("LINDEX", "k", str(len(want) // 2)) == want[len(want) // 2]
    # The restored list is an ordinary one.
    assert raw.call("RPUSH", "k", "tail") == len(want) + 1
    assert raw.call("LPOP", "k") == want[0]


def test_dump_bytes_of_small_lists_are_redis_s(raw):
    # Deterministic payloads (one listpack node, no compression) are byte for byte Redis's.
    for name, elements in (("small", ["a", "b", "c"]), ("one", ["x"]), ("empty-element", [""]),
                           ("ints", INTS),
                           ("near-ints", ["01", "+1", "-0", "1.5", " 1", "9223372036854775808"]),
                           ("binary", [b"\x00", b"a\x00b", b"\r\n", b"", b"\xff"])):
        raw.call("DEL", "k")
        raw.call("RPUSH", "k", *elements)
        assert raw.call("DUMP", "k").hex() == REDIS_LIST_PAYLOADS[name][0], name
    # Built by LPUSH, or with a TTL, the payload is the same.
    raw.call("DEL", "k")
    raw.call("LPUSH", "k", "c", "b", "a")
    raw.call("EXPIRE", "k", "100")
    assert raw.call("DUMP", "k").hex() == REDIS_LIST_PAYLOADS["small"][0]


def test_scan_type_list(r):
    for i in range(20):
        r.rpush(f"l{i}", "e")
        r.set(f"k{i}", "v")
        r.sadd(f"s{i}", "m")
    assert set(r.scan_iter(_type="list")) == {f"l{i}".encode() for i in range(20)}
    assert set(r.scan_iter(match="l1*", _type="list")) == \
        {b"l1"} | {f"l1{i}".encode() for i in range(10)}
    assert set(r.scan_iter(_type="string")) == {f"k{i}".encode() for i in range(20)}


def test_keys_dbsize(raw):
    raw.call("RPUSH", "l1", "a")
    raw.call("LPUSH", "l2", "1")
    raw.call("SET", "x", "v")
    assert sorted(raw.call("KEYS", "l*")) == [b"l1", b"l2"]
    assert raw.call("DBSIZE") == 3
    raw.call("RPOP", "l2")
    assert raw.call("KEYS", "l*") == [b"l1"]
    assert raw.call("DBSIZE") == 2


# ---------------------------------------------------------------------------
# RESP3 (and the RESP2 counterparts)

def test_resp3_list_replies(conn):
    c = conn(3)
    c.call("RPUSH", "l", "a", "bc", "")
    assert reply_bytes(c, "LRANGE", "l", "0", "-1") == b"*3\r\n$1\r\na\r\n$2\r\nbc\r\n$0\r\n\r\n"
    assert reply_bytes(c, "LRANGE", "l", "5", "9") == b"*0\r\n"
    assert reply_bytes(c, "LRANGE", "nokey", "0", "-1") == b"*0\r\n"
    assert reply_bytes(c, "LPOS", "l", "", "COUNT", "0") == b"*1\r\n:2\r\n"
    assert reply_bytes(c, "LPOS", "l", "zz", "COUNT", "0") == b"*0\r\n"
    assert reply_bytes(c, "LPOS", "nokey", "a", "COUNT", "2") == b"*0\r\n"
    assert reply_bytes(c, "LPOS", "l", "bc") == b":1\r\n"
    assert reply_bytes(c, "LPOS", "l", "zz") == b"_\r\n"
    assert reply_bytes(c, "LINDEX", "l", "5") == b"_\r\n"
    assert reply_bytes(c, "LINDEX", "nokey", "0") == b"_\r\n"
    assert reply_bytes(c, "LINDEX", "l", "-1") == b"$0\r\n\r\n"
    assert reply_bytes(c, "LMOVE", "nokey", "d", "LEFT", "LEFT") == b"_\r\n"
    assert reply_bytes(c, "RPOPLPUSH", "nokey", "d") == b"_\r\n"
    assert reply_bytes(c, "LLEN", "l") == b":3\r\n"
    assert reply_bytes(c, "LINSERT", "l", "BEFORE", "zz", "x") == b":-1\r\n"
    assert reply_bytes(c, "LSET", "l", "0", "z") == b"+OK\r\n"
    assert reply_bytes(c, "LTRIM", "l", "0", "-1") == b"+OK\r\n"
    assert reply_bytes(c, "LPOP", "l", "0") == b"*0\r\n"
    assert reply_bytes(c, "LPOP", "l", "2") == b"*2\r\n$1\r\nz\r\n$2\r\nbc\r\n"
    assert reply_bytes(c, "RPOP", "l") == b"$0\r\n\r\n"
    assert reply_bytes(c, "RPOP", "l") == b"_\r\n"


def test_resp3_lmpop(conn):
    c = conn(3)
    c.call("RPUSH", "l", "a", "b", "c")
    assert reply_bytes(c, "LMPOP", "1", "l", "LEFT") == b"*2\r\n$1\r\nl\r\n*1\r\n$1\r\na\r\n"
    assert reply_bytes(c, "LMPOP", "2", "nokey", "l", "RIGHT", "COUNT", "5") == \
        b"*2\r\n$1\r\nl\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n"
    assert reply_bytes(c, "LMPOP", "1", "l", "LEFT") == b"_\r\n"
    assert reply_bytes(c, "LMPOP", "2", "l", "nokey", "LEFT", "COUNT", "3") == b"_\r\n"


def test_resp2_list_replies(raw):
    raw.call("RPUSH", "l", "a", "bc", "")
    assert reply_bytes(raw, "LRANGE", "l", "0", "-1") == b"*3\r\n$1\r\na\r\n$2\r\nbc\r\n$0\r\n\r\n"
    assert reply_bytes(raw, "LINDEX", "l", "5") == b"$-1\r\n"
    assert reply_bytes(raw, "LPOS", "nokey", "a") == b"$-1\r\n"
    assert reply_bytes(raw, "LMOVE", "nokey", "d", "LEFT", "LEFT") == b"$-1\r\n"
    assert reply_bytes(raw, "LMPOP", "1", "l", "LEFT", "COUNT", "5") == \
        b"*2\r\n$1\r\nl\r\n*3\r\n$1\r\na\r\n$2\r\nbc\r\n$0\r\n\r\n"
    assert reply_bytes(raw, "LMPOP", "1", "l", "LEFT") == b"*-1\r\n"
    assert reply_bytes(raw, "RPOP", "nokey", "1") == b"*-1\r\n"


# ---------------------------------------------------------------------------
# Transactions

def test_multi_exec_with_list_commands(raw):
    assert raw.call("MULTI") == OK
    assert raw.call("RPUSH", "m", "a", "b", "c") == "QUEUED"
    assert raw.call("LPOP", "m", "-1") == "QUEUED"           # an argument error: at EXEC
    assert raw.call("LRANGE", "m", "0", "-1") == "QUEUED"
    assert raw.call("LMOVE", "m", "m", "LEFT", "RIGHT") == "QUEUED"
    assert raw.call("LSET", "m", "9", "x") == "QUEUED"
    assert raw.call("LPOP", "m", "5") == "QUEUED"
    assert raw.call("EXISTS", "m") == "QUEUED"
    got = raw.call("EXEC")
    assert got[0] == 3
    assert isinstance(got[1], Error) and got[1] == POP_COUNT
    assert got[2:4] == [[b"a", b"b", b"c"], b"a"]
    assert isinstance(got[4], Error) and got[4] == INDEX_RANGE
    assert got[5:] == [[b"b", b"c", b"a"], 0]


def test_multi_queued_arity_error_aborts(raw):
    assert raw.call("MULTI") == OK
    assert raw.call("RPUSH", "l", "a") == "QUEUED"
    assert error_of(raw, "LPUSH", "l") == arity("lpush")
    assert error_of(raw, "EXEC") == EXECABORT
    assert raw.call("EXISTS", "l") == 0


def test_multi_wrongtype_is_that_commands_reply(raw):
    raw.call("SET", "str", "x")
    raw.call("MULTI")
    raw.call("RPUSH", "str", "a")
    raw.call("RPUSH", "l", "a")
    got = raw.call("EXEC")
    assert got[0] == WRONGTYPE and isinstance(got[0], Error) and got[1] == 1


# A write that changes the watched list aborts EXEC.  One that rewrites it without changing it:
# Redis aborts (it signals every such write), Flin compares what the key holds and runs EXEC.
@pytest.mark.parametrize("write,changes", [
    (("LPUSH", "l", "x"), True), (("RPUSH", "l", "x"), True),
    (("LPUSHX", "l", "x"), True), (("RPUSHX", "l", "x"), True),
    (("LPOP", "l"), True), (("RPOP", "l"), True), (("LPOP", "l", "1"), True),
    (("LSET", "l", "0", "x"), True), (("LREM", "l", "0", "a"), True),
    (("LTRIM", "l", "1", "-1"), True), (("LINSERT", "l", "BEFORE", "b", "x"), True),
    (("LMOVE", "l", "other", "LEFT", "RIGHT"), True),          # the watched key is the source
    (("LMOVE", "other", "l", "LEFT", "RIGHT"), True),          # the destination
    (("LMOVE", "l", "l", "LEFT", "RIGHT"), True),              # a rotation
    (("RPOPLPUSH", "l", "other"), True), (("RPOPLPUSH", "other", "l"), True),
    (("LMPOP", "1", "l", "LEFT"), True),
    (("LMPOP", "2", "nokey", "l", "RIGHT", "COUNT", "9"), True),   # emptied: deleted
    (("EXPIRE", "l", "100"), True),
    (("LSET", "l", "0", "a"), False),                          # the same value
    (("LTRIM", "l", "0", "-1"), False),                        # keeps everything
    (("LTRIM", "l", "-100", "100"), False),
    (("LMOVE", "l", "l", "LEFT", "LEFT"), False),              # back where it was
])
def test_watch_and_list_writes(conn, write, changes):
    a, b = conn(), conn()
    a.call("RPUSH", "l", "a", "b", "c")
    a.call("RPUSH", "other", "o")
    assert a.call("WATCH", "l") == OK
    assert not isinstance(b.call(*write), Error)
    a.call("MULTI")
    a.call("EXISTS", "nokey")  # (Flin refuses PING in MULTI: it does not go through the log)
    aborted = changes or TARGET == "redis"
    assert a.call("EXEC") == (None if aborted else [0]), write


# Commands that change nothing and say so: Redis 7.0 signals no modification, so EXEC runs.
@pytest.mark.parametrize("write,watched", [
    (("LREM", "l", "0", "zz"), "l"),                  # an absent element
    (("LREM", "nokey", "0", "a"), "l"),
    (("LPUSHX", "w", "x"), "w"), (("RPUSHX", "w", "x"), "w"),   # a missing key
    (("LMOVE", "w", "l", "LEFT", "RIGHT"), "l"),      # a missing source
    (("LMOVE", "w", "w", "LEFT", "RIGHT"), "w"),
    (("RPOPLPUSH", "w", "l"), "w"),
    (("LPOP", "l", "0"), "l"),
    (("LPOP", "w"), "w"), (("RPOP", "w", "3"), "w"),
    (("LMPOP", "1", "w", "LEFT"), "w"),
    (("LINSERT", "l", "BEFORE", "zz", "x"), "l"),     # a missing pivot
    (("LINSERT", "w", "BEFORE", "a", "x"), "w"),      # a missing key
    (("LTRIM", "w", "0", "1"), "w"),
    (("LSET", "l", "9", "x"), "l"),                   # errors
    (("LSET", "w", "0", "x"), "w"),
    (("LMOVE", "l", "str", "LEFT", "LEFT"), "l"),
    (("LRANGE", "l", "0", "-1"), "l"), (("LINDEX", "l", "0"), "l"),
    (("LPOS", "l", "a", "COUNT", "0"), "l"), (("LLEN", "l"), "l"),
])
def test_watch_not_aborted_by_list_no_ops(conn, write, watched):
    a, b = conn(), conn()
    a.call("RPUSH", "l", "a", "b", "c")
    a.call("SET", "str", "x")
    assert a.call("WATCH", watched) == OK
    b.call(*write)
    a.call("MULTI")
    a.call("EXISTS", "nokey")
    assert a.call("EXEC") == [0], write


# ---------------------------------------------------------------------------
# Scripts

def test_eval_rpush_and_lrange(raw):
    assert raw.call("EVAL", "return redis.call('RPUSH', KEYS[1], 'a', 'b', 'c')",
                    "1", "l") == 3
    assert raw.call("EVAL", "return redis.call('LRANGE', KEYS[1], 0, -1)", "1", "l") == \
        [b"a", b"b", b"c"]
    assert raw.call("EVAL", "local t = redis.call('LRANGE', KEYS[1], 1, -1); "
                    "return {type(t), #t, t[1], t[2]}", "1", "l") == [b"table", 2, b"b", b"c"]
    assert raw.call("EVAL", "return redis.call('LPOP', KEYS[1], 2)", "1", "l") == [b"a", b"b"]
    assert raw.call("EVAL", "return redis.call('LMPOP', 1, KEYS[1], 'LEFT')", "1", "l") == \
        [b"l", [b"c"]]
    assert raw.call("EXISTS", "l") == 0
    assert raw.call("EVAL", "return #redis.call('LRANGE', KEYS[1], 0, -1)", "1", "l") == 0


def test_eval_missing_key_replies_are_false(raw):
    # RESP2's nil and null array both reach Lua as false; under RESP3 the null is nil.
    for call in ("redis.call('LPOP', KEYS[1])", "redis.call('LPOP', KEYS[1], 2)",
                 "redis.call('LMPOP', 1, KEYS[1], 'LEFT')", "redis.call('LPOS', KEYS[1], 'a')",
                 "redis.call('LINDEX', KEYS[1], 0)",
                 "redis.call('LMOVE', KEYS[1], 'd', 'LEFT', 'LEFT')"):
        assert raw.call("EVAL", f"return type({call})", "1", "nokey") == b"boolean", call
        assert raw.call("EVAL", f"return {call}", "1", "nokey") is None, call
    assert raw.call("EVAL", "redis.setresp(3); return type(redis.call('LPOP', KEYS[1], 2))",
                    "1", "nokey") == b"nil"
    assert raw.call("EVAL", "return redis.call('LINSERT', KEYS[1], 'BEFORE', 'a', 'x')",
                    "1", "nokey") == 0


def test_eval_errors(raw):
    raw.call("SET", "str", "x")
    raw.call("RPUSH", "l", "a")
    got = raw.call("EVAL", "return redis.pcall('LPUSH', KEYS[1], 'a')", "1", "str")
    assert isinstance(got, Error) and got == WRONGTYPE
    e = error_of(raw, "EVAL", "return redis.call('LPUSH', KEYS[1], 'a')", "1", "str")
    assert e.startswith(WRONGTYPE + " script: ") and e.endswith(", on @user_script:1."), e
    assert raw.call("EVAL", "return redis.pcall('LSET', KEYS[1], 9, 'x')", "1", "l") == \
        INDEX_RANGE
    assert raw.call("EVAL", "return redis.pcall('LSET', KEYS[1], 0, 'x')", "1", "nokey") == \
        NO_SUCH_KEY
    assert raw.call("EVAL", "return redis.pcall('LPOP', KEYS[1], -1)", "1", "l") == POP_COUNT
    assert raw.call("EVAL", "return redis.pcall('LPUSH', KEYS[1])", "1", "l") == \
        "ERR Wrong number of args calling Redis command from script"
    assert lrange(raw, "l") == [b"a"]


def test_eval_ro_refuses_list_writes(raw):
    raw.call("RPUSH", "l", "a")
    for script in ("return redis.call('LPUSH', KEYS[1], 'b')",
                   "return redis.call('LPOP', KEYS[1])",
                   "return redis.call('LMOVE', KEYS[1], KEYS[1], 'LEFT', 'RIGHT')"):
        e = error_of(raw, "EVAL_RO", script, "1", "l")
        assert e.startswith("ERR Write commands are not allowed from read-only scripts."), e
    assert raw.call("EVAL_RO", "return redis.call('LRANGE', KEYS[1], 0, -1)", "1", "l") == [b"a"]
    assert raw.call("EVAL_RO", "return redis.call('LPOS', KEYS[1], 'a')", "1", "l") == 0


# ---------------------------------------------------------------------------
# Keyspace notifications

def test_events_pushes(events):
    ev = events("KEA")
    assert ev.run("LPUSH", "l", "a", "b") == (2, kea("lpush", "l"))   # one event per command
    assert ev.run("RPUSH", "l", "c") == (3, kea("rpush", "l"))
    assert ev.run("LPUSHX", "l", "z") == (4, kea("lpush", "l"))        # the same names
    assert ev.run("RPUSHX", "l", "y", "x") == (6, kea("rpush", "l"))


def test_events_pops_and_del(events):
    ev = events("KEA")
    ev.run("RPUSH", "l", "a", "b", "c", "d", "e")
    assert ev.run("LPOP", "l") == (b"a", kea("lpop", "l"))
    assert ev.run("RPOP", "l") == (b"e", kea("rpop", "l"))
    assert ev.run("LPOP", "l", "1") == ([b"b"], kea("lpop", "l"))
    assert ev.run("RPOP", "l", "1") == ([b"d"], kea("rpop", "l"))
    assert ev.run("RPOP", "l") == (b"c", kea("rpop", "l") + kea("del", "l"))
    ev.run("RPUSH", "l", "a", "b")
    assert ev.run("LPOP", "l", "5") == ([b"a", b"b"], kea("lpop", "l") + kea("del", "l"))


def test_events_lset_lrem_ltrim_linsert(events):
    ev = events("KEA")
    ev.run("RPUSH", "l", "a", "b", "c", "d")
    assert ev.run("LSET", "l", "0", "A") == (OK, kea("lset", "l"))
    assert ev.run("LSET", "l", "0", "A") == (OK, kea("lset", "l"))        # the same value
    assert ev.run("LREM", "l", "0", "A") == (1, kea("lrem", "l"))
    assert ev.run("LINSERT", "l", "BEFORE", "c", "X") == (4, kea("linsert", "l"))
    assert ev.run("LTRIM", "l", "1", "-1") == (OK, kea("ltrim", "l"))
    # Surprising but Redis 7.0: an LTRIM that keeps everything still raises ltrim.
    assert ev.run("LTRIM", "l", "0", "-1") == (OK, kea("ltrim", "l"))
    assert ev.run("LTRIM", "l", "-100", "100") == (OK, kea("ltrim", "l"))
    assert ev.run("LRANGE", "l", "0", "-1") == ([b"X", b"c", b"d"], [])
    assert ev.run("LREM", "l", "1", "X") == (1, kea("lrem", "l"))
    assert ev.run("LTRIM", "l", "5", "10") == (OK, kea("ltrim", "l") + kea("del", "l"))
    ev.run("RPUSH", "l", "x", "x")
    assert ev.run("LREM", "l", "0", "x") == (2, kea("lrem", "l") + kea("del", "l"))


def test_events_lmove_push_before_pop(events):
    # LMOVE and RPOPLPUSH raise the destination's push first, then the source's pop, then the
    # source's del if it was emptied.
    ev = events("KEA")
    ev.run("RPUSH", "s", "a", "b", "c", "d")
    assert ev.run("LMOVE", "s", "d", "LEFT", "RIGHT") == \
        (b"a", kea("rpush", "d") + kea("lpop", "s"))
    assert ev.run("LMOVE", "s", "d", "RIGHT", "LEFT") == \
        (b"d", kea("lpush", "d") + kea("rpop", "s"))
    assert ev.run("LMOVE", "s", "s", "LEFT", "RIGHT") == \
        (b"b", kea("rpush", "s") + kea("lpop", "s"))
    assert ev.run("LMOVE", "s", "s", "LEFT", "LEFT") == \
        (b"c", kea("lpush", "s") + kea("lpop", "s"))
    assert ev.run("RPOPLPUSH", "s", "d") == (b"b", kea("lpush", "d") + kea("rpop", "s"))
    assert ev.run("RPOPLPUSH", "s", "s") == (b"c", kea("lpush", "s") + kea("rpop", "s"))
    assert ev.run("LMOVE", "s", "new", "LEFT", "LEFT") == \
        (b"c", kea("lpush", "new") + kea("lpop", "s") + kea("del", "s"))
    ev.run("RPUSH", "s", "z")
    assert ev.run("RPOPLPUSH", "s", "d") == \
        (b"z", kea("lpush", "d") + kea("rpop", "s") + kea("del", "s"))


def test_events_lmpop(events):
    ev = events("KEA")
    ev.run("RPUSH", "l", "a", "b", "c")
    assert ev.run("LMPOP", "2", "nokey", "l", "LEFT") == ([b"l", [b"a"]], kea("lpop", "l"))
    assert ev.run("LMPOP", "1", "l", "RIGHT") == ([b"l", [b"c"]], kea("rpop", "l"))
    assert ev.run("LMPOP", "1", "l", "RIGHT", "COUNT", "5") == \
        ([b"l", [b"b"]], kea("rpop", "l") + kea("del", "l"))


def test_no_event_for_list_no_ops(events):
    ev = events("KEA")
    ev.run("RPUSH", "l", "a")
    ev.run("SET", "str", "x")
    for cmd, reply in ((("LPUSHX", "nokey", "z"), 0), (("RPUSHX", "nokey", "z"), 0),
                       (("LPOP", "l", "0"), []), (("RPOP", "l", "0"), []),
                       (("LPOP", "nokey"), None), (("RPOP", "nokey", "2"), None),
                       (("LREM", "l", "0", "zz"), 0), (("LREM", "nokey", "0", "a"), 0),
                       (("LTRIM", "nokey", "0", "1"), OK),
                       (("LINSERT", "l", "BEFORE", "zz", "X"), -1),
                       (("LINSERT", "nokey", "BEFORE", "a", "X"), 0),
                       (("LSET", "l", "9", "Q"), INDEX_RANGE),
                       (("LSET", "nokey", "0", "Q"), NO_SUCH_KEY),
                       (("LMOVE", "nokey", "d", "LEFT", "RIGHT"), None),
                       (("RPOPLPUSH", "nokey", "d"), None),
                       (("LMOVE", "l", "str", "LEFT", "LEFT"), WRONGTYPE),
                       (("LMPOP", "2", "nokey", "n2", "LEFT"), None),
                       (("LRANGE", "l", "0", "-1"), [b"a"]), (("LINDEX", "l", "0"), b"a"),
                       (("LPOS", "l", "a"), 0), (("LLEN", "l"), 1)):
        assert ev.run(*cmd) == (reply, []), cmd


def test_events_class_l_only(events):
    # Kl: list events on the keyspace channel only; the generic del is not in class l.
    ev = events("Kl")
    assert ev.run("RPUSH", "l", "a", "b") == (2, [("__keyspace@0__:l", "rpush")])
    assert ev.run("LMOVE", "l", "d", "LEFT", "RIGHT") == \
        (b"a", [("__keyspace@0__:d", "rpush"), ("__keyspace@0__:l", "lpop")])
    assert ev.run("LPOP", "l") == (b"b", [("__keyspace@0__:l", "lpop")])      # no del
    assert ev.run("DEL", "d") == (1, [])
    assert ev.run("EXPIRE", "nokey", "100") == (0, [])


def test_events_class_l_keyevent(events):
    ev = events("El")
    assert ev.run("RPUSH", "l", "a", "b") == (2, [("__keyevent@0__:rpush", "l")])
    assert ev.run("LMOVE", "l", "d", "LEFT", "RIGHT") == \
        (b"a", [("__keyevent@0__:rpush", "d"), ("__keyevent@0__:lpop", "l")])
    assert ev.run("LTRIM", "l", "1", "0") == (OK, [("__keyevent@0__:ltrim", "l")])
    assert ev.run("LINSERT", "d", "AFTER", "a", "b") == (2, [("__keyevent@0__:linsert", "d")])
    assert ev.run("LSET", "d", "0", "z") == (OK, [("__keyevent@0__:lset", "d")])
    assert ev.run("LREM", "d", "0", "z") == (1, [("__keyevent@0__:lrem", "d")])


def test_events_generic_commands_on_a_list(events):
    ev = events("Eg")
    ev.run("RPUSH", "l", "a", "b")            # class l is off: nothing
    assert ev.run("RPUSH", "l", "c") == (3, [])
    assert ev.run("RENAME", "l", "l2") == \
        (OK, [("__keyevent@0__:rename_from", "l"), ("__keyevent@0__:rename_to", "l2")])
    assert ev.run("COPY", "l2", "l3") == (1, [("__keyevent@0__:copy_to", "l3")])
    assert ev.run("EXPIRE", "l3", "100") == (1, [("__keyevent@0__:expire", "l3")])
    assert ev.run("LTRIM", "l2", "1", "0") == (OK, [("__keyevent@0__:del", "l2")])
    assert ev.run("LPOP", "l3", "9") == ([b"a", b"b", b"c"], [("__keyevent@0__:del", "l3")])


def test_events_keymiss_of_list_reads(events):
    ev = events("Km")
    for cmd in (("LRANGE", "nokey", "0", "1"), ("LINDEX", "nokey", "0"), ("LLEN", "nokey"),
                ("LPOS", "nokey", "a")):
        assert ev.run(*cmd)[1] == [("__keyspace@0__:nokey", "keymiss")], cmd
    # Writes raise no keymiss.
    for cmd in (("LPOP", "nokey"), ("RPOP", "nokey", "2"), ("LMPOP", "2", "nokey", "n2", "LEFT"),
                ("LMOVE", "nokey", "d", "LEFT", "LEFT"), ("LREM", "nokey", "0", "a"),
                ("LPUSHX", "nokey", "a"), ("LTRIM", "nokey", "0", "1")):
        assert ev.run(*cmd)[1] == [], cmd


# ---------------------------------------------------------------------------
# Binary safety and a large list

def test_binary_elements(raw):
    elements = [b"\x00", b"a\x00b", b"\r\n", b"", b"\xff\xfe", b"x\r\ny", b"$3\r\nabc"]
    assert raw.call("RPUSH", b"k\x00ey", *elements) == len(elements)
    assert lrange(raw, b"k\x00ey") == elements
    for i, e in enumerate(elements):
        assert raw.call("LINDEX", b"k\x00ey", i) == e, e
        assert raw.call("LPOS", b"k\x00ey", e) == i, e
    assert raw.call("LPOS", b"k\x00ey", b"a") is None
    assert raw.call("LREM", b"k\x00ey", "0", b"\r\n") == 1
    assert raw.call("LINSERT", b"k\x00ey", "AFTER", b"\x00", b"\x00\x00") == len(elements)
    assert raw.call("LSET", b"k\x00ey", "-1", b"\n\r") == OK
    assert lrange(raw, b"k\x00ey") == \
        [b"\x00", b"\x00\x00", b"a\x00b", b"", b"\xff\xfe", b"x\r\ny", b"\n\r"]
    assert raw.call("LMOVE", b"k\x00ey", b"d\r\n", "LEFT", "LEFT") == b"\x00"
    assert lrange(raw, b"d\r\n") == [b"\x00"]


def test_empty_element(raw):
    assert raw.call("RPUSH", "l", "") == 1
    assert raw.call("LLEN", "l") == 1
    assert lrange(raw, "l") == [b""]
    assert raw.call("LPOS", "l", "") == 0
    assert raw.call("LPUSH", "l", "", "") == 3
    assert raw.call("LREM", "l", "2", "") == 2
    assert raw.call("LPOP", "l") == b""
    assert raw.call("EXISTS", "l") == 0


def test_large_list(raw):
    n = 10000
    elements = [f"e{i}".encode() for i in range(n)]
    assert raw.call("RPUSH", "big", *elements) == n
    assert raw.call("LLEN", "big") == n
    assert lrange(raw, "big") == elements
    assert raw.call("LRANGE", "big", "4990", "5009") == elements[4990:5010]
    assert raw.call("LRANGE", "big", "-10", "-1") == elements[-10:]
    assert raw.call("LRANGE", "big", "9990", "20000") == elements[9990:]
    assert raw.call("LINDEX", "big", "5000") == b"e5000"
    assert raw.call("LINDEX", "big", "-5001") == b"e4999"
    assert raw.call("LINDEX", "big", "10000") is None
    assert raw.call("LPOS", "big", "e9999") == 9999
    assert raw.call("LPOS", "big", "e9999", "MAXLEN", "9999") is None
    assert raw.call("LPOS", "big", "e0", "RANK", "-1", "MAXLEN", "100") is None
    assert raw.call("LSET", "big", "5000", "mid") == OK
    assert raw.call("LINSERT", "big", "BEFORE", "mid", "before-mid") == n + 1
    assert raw.call("LRANGE", "big", "4999", "5002") == [b"e4999", b"before-mid", b"mid",
                                                        b"e5001"]
    assert raw.call("LREM", "big", "0", "before-mid") == 1
    assert raw.call("LPOP", "big", "1000") == elements[:1000]
    assert raw.call("RPOP", "big", "1000") == elements[:-1001:-1]
    assert raw.call("LLEN", "big") == 8000
    assert raw.call("LTRIM", "big", "3000", "3999") == OK
    assert lrange(raw, "big") == elements[4000:5000]        # "mid" was just past the end
    assert encoding(raw, "big") == b"quicklist"


def test_large_list_with_redis_py(r):
    elements = [f"m{i}".encode() for i in range(10000)]
    assert r.lpush("big", *elements) == 10000
    assert r.lrange("big", 0, -1) == elements[::-1]
    assert r.lindex("big", 5000) == b"m4999"
    assert r.lmove("big", "other", "LEFT", "RIGHT") == b"m9999"
    assert r.llen("big") == 9999


# ---------------------------------------------------------------------------
# Flin only

@pytest.mark.flin_only
def test_blocking_list_commands_are_unknown(raw):
    for cmd in (["BLPOP", "k", "0"], ["BRPOP", "k", "0"],
                ["BLMOVE", "s", "d", "LEFT", "RIGHT", "0"], ["BRPOPLPUSH", "s", "d", "0"],
                ["BLMPOP", "0", "1", "k", "LEFT"]):
        args = " ".join(f"'{a}'" for a in cmd[1:])
        assert error_of(raw, *cmd) == \
            f"ERR unknown command '{cmd[0]}', with args beginning with: {args} ", cmd
    assert raw.call("EXISTS", "nokey") == 0
