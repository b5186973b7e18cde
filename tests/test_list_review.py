"""Review of the LIST data type (commit cd83cdf): behaviours test_list.py does not pin.

Every test passes against redis-server 7.0.15 (FLIN_TARGET=redis).  The ones named in the
findings below FAIL on Flin at cd83cdf; the others pin what the review found correct.

Findings (the comments in the tests describe the code as the review found it):

- RESTORE counts 64 bytes a decoded element against the size limit (dump_payload.cc,
  kElementOverhead in LoadList / LoadStrings): a list of a million one-byte elements (2 MB
  stored) that Flin built itself cannot be RESTOREd from its own DUMP ("string exceeds
  maximum allowed size"); Redis restores it.
- RESTORE of one listpack node decodes every entry into a std::string of a vector
  (ParseListpack) before any bound is applied: an 8 MB listpack of one-byte entries, sent as
  ~90 KB of LZF, costs Flin's I/O thread ~200 MB even when the listpack is refused at its
  last byte (Redis refuses it from its header and terminator alone).
- LMPOP with a bad numkeys inside MULTI aborts the whole transaction, and inside a script
  is "not allowed from script": KeysAfterNumKeys (collection.h) answers no keys, and keyless
  commands are refused there.  Redis queues it and answers its own error at EXEC / to the
  script.  (SINTERCARD shares the helper and the fault.)
- RESTORE accepts a quicklist node of kind PLAIN holding the empty string; Redis 7.0.15
  refuses it ("Bad data format").
- RESTORE refuses the list payloads Redis 3.2-6.2 DUMP (RDB_TYPE_LIST_QUICKLIST, 14: a
  quicklist of ziplists; RDB_TYPE_LIST_ZIPLIST, 10), which Redis 7.0 restores: a list cannot
  be MIGRATEd or DUMP/RESTOREd from a Redis 6 into Flin.

Memory checks read the server's peak RSS (VmHWM in /proc) on a server of their own.  No sleeps.
"""
import struct

import pytest

from event_helpers import kea
from flinproc import Error, error_of, is_redis
from rdb_payload import int_string, lzf_compress, raw_string, rdb_len, with_footer

BAD = "ERR Bad data format"
I64MIN, I64MAX = -9223372036854775808, 9223372036854775807


def peak_rss_kb(srv):
    with open(f"/proc/{srv.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def lrange(c, key):
    return c.call("LRANGE", key, "0", "-1")


# ---------------------------------------------------------------------------
# Hand-built payloads

def listpack(entries, count=None, total=None, end=b"\xff"):
    body = b"".join(entries)
    t = 6 + len(body) + len(end) if total is None else total
    return struct.pack("<IH", t, len(entries) if count is None else count) + body + end


def lp_uint7(v):
    return bytes([v, 1])


def lp_str(s):
    assert len(s) < 64
    return bytes([0x80 | len(s)]) + s + bytes([1 + len(s)])


def quicklist2(nodes, declared=None):
    """RDB_TYPE_LIST_QUICKLIST_2 (18): node count, then (container kind, string) a node."""
    b = b"\x12" + rdb_len(len(nodes) if declared is None else declared)
    for kind, data in nodes:
        b += rdb_len(kind) + data
    return with_footer(b)


def ziplist(strings):
    """A ziplist (Redis <= 6.2) of short strings: zlbytes, zltail, zllen, entries, 0xff."""
    entries, prev, tail = b"", 0, 10
    for s in strings:
        assert len(s) < 64
        e = bytes([prev, len(s)]) + s
        tail = 10 + len(entries)
        entries += e
        prev = len(e)
    return struct.pack("<IIH", 10 + len(entries) + 1, tail, len(strings)) + entries + b"\xff"


GOOD_LP = listpack([lp_uint7(1), lp_str(b"ab")])


@pytest.fixture
def sanitized(raw):
    """Redis's deep payload checks (sanitize-dump-payload yes) when the target is Redis: with
    the default "no" a lying listpack is accepted, then crashes the server when read.  Flin
    always checks deeply (and has no such setting)."""
    if is_redis():
        assert raw.call("CONFIG", "SET", "sanitize-dump-payload", "yes") == "OK"
    yield raw
    if is_redis():
        raw.call("CONFIG", "SET", "sanitize-dump-payload", "no")


# ---------------------------------------------------------------------------
# Finding: RESTORE of a list with many small elements

def test_restore_of_its_own_dump_of_a_million_small_elements(raw):
    # 1.1 M elements "1": 2.2 MB in Flin's payload, one 2-byte listpack entry each in the
    # DUMP. Flin's LoadList (dump_payload.cc) adds kElementOverhead (64) per element to what
    # it counts against the limit (max-value-bytes, 64 MiB, on the I/O thread): past ~1 M
    # elements RESTORE answers "ERR string exceeds maximum allowed size
    # (proto-max-bulk-len)", so a list Flin holds cannot go through its own DUMP/RESTORE.
    n = 1_100_000
    for i in range(0, n, 100_000):
        raw.call("RPUSH", "big", *(["1"] * 100_000))
    payload = raw.call("DUMP", "big")
    assert raw.call("RESTORE", "copy", "0", payload) == "OK"
    assert raw.call("LLEN", "copy") == n
    assert raw.call("LINDEX", "copy", "-1") == b"1"


def test_restore_of_a_type_1_list_of_a_million_small_elements(raw):
    # The same through RDB_TYPE_LIST (1): LoadStrings counts the same 64 bytes an element.
    n = 1_100_000
    payload = with_footer(b"\x01" + rdb_len(n) + int_string(7) * n)
    assert raw.call("RESTORE", "k", "0", payload) == "OK"
    assert raw.call("LLEN", "k") == n


# ---------------------------------------------------------------------------
# Finding: memory of RESTORE of one large listpack node

def _lzf_of_repeated_pair(prefix, pair, n_pairs):
    """LZF of prefix + pair * n_pairs: a literal, then back-references of 264 bytes at
    distance 2 (3 bytes each), without compressing anything in Python."""
    assert len(pair) == 2 and len(prefix) + 2 <= 32
    out = bytearray([len(prefix) + 1]) + prefix + pair
    left = 2 * (n_pairs - 1)
    while left >= 264:
        out += bytes([0xE0, 255, 1])
        left -= 264
    if left >= 9:
        out += bytes([0xE0, left - 9, 1])
    elif left >= 3:
        out += bytes([(left - 2) << 5, 1])
    elif left:
        out += bytes([left - 1]) + pair[:left]
    return bytes(out)


def test_restore_of_a_listpack_node_is_not_decoded_entry_by_entry_into_memory(make_server):
    # One quicklist node: a listpack of 4 Mi one-byte integers (8 MB) whose last byte is not
    # the terminator, sent LZF-compressed (~90 KB). Redis checks the header and the
    # terminator before it keeps anything (lpValidateIntegrity) and refuses it. Flin's
    # ParseListpack (dump_payload.cc) first pushes every entry into a vector<std::string>
    # (32 bytes each and the vector's doublings: ~200 MB) and only fails at the end; the
    # per-element bound of LoadList is applied after the whole node is decoded. With the
    # default 64 MiB max-value-bytes a 730 KB payload costs ~1.5 GB per connection.
    n = 4 << 20
    size = 6 + 2 * n
    lp = struct.pack("<IH", size, 65535)
    data = _lzf_of_repeated_pair(lp, b"\x01\x01", n)
    payload = quicklist2([(2, b"\xc3" + rdb_len(len(data)) + rdb_len(size) + data)])
    srv = make_server()
    with srv.raw(timeout=60) as c:
        before = peak_rss_kb(srv)
        assert error_of(c, "RESTORE", "k", "0", payload) == BAD
        grown_mb = (peak_rss_kb(srv) - before) / 1024
        assert c.call("EXISTS", "k") == 0
    assert grown_mb < 64, f"peak RSS grew by {grown_mb:.0f} MB"


# ---------------------------------------------------------------------------
# Finding: LMPOP with a bad numkeys in MULTI and in scripts

@pytest.mark.parametrize("args,err", [
    (["0", "l", "LEFT"], "ERR numkeys should be greater than 0"),
    (["-1", "l", "LEFT"], "ERR numkeys should be greater than 0"),
    (["x", "l", "LEFT"], "ERR numkeys should be greater than 0"),
    (["3", "l", "LEFT"], "ERR syntax error"),
])
def test_lmpop_bad_numkeys_in_multi_is_its_reply_at_exec(raw, args, err):
    # Redis queues it (arity is fine) and answers its error inside EXEC's array; the rest
    # runs. Flin's QueueInTransaction refuses a command whose KeyPositions are empty, and
    # KeysAfterNumKeys (collection.h) answers none for a bad numkeys: "ERR 'LMPOP' cannot be
    # used inside MULTI", then EXECABORT.
    raw.call("RPUSH", "l", "a")
    assert raw.call("MULTI") == "OK"
    assert raw.call("LMPOP", *args) == "QUEUED"
    assert raw.call("LPOP", "l") == "QUEUED"
    got = raw.call("EXEC")
    assert isinstance(got, list), got
    assert got[0] == Error(err) and got[1] == b"a"


def test_lmpop_bad_numkeys_in_a_script_is_its_own_error(raw):
    # lua_script.cc refuses a command with no key positions: "This Redis command is not
    # allowed from script".
    raw.call("RPUSH", "l", "a")
    for numkeys, err in (("0", "numkeys should be greater than 0"), ("5", "syntax error")):
        got = raw.call("EVAL", "local r = redis.pcall('LMPOP', ARGV[1], KEYS[1], 'LEFT') "
                       "return r['err']", "1", "l", numkeys)
        assert err in got.decode(), got
    assert lrange(raw, "l") == [b"a"]


# ---------------------------------------------------------------------------
# Finding: RESTORE payloads Redis and Flin judge differently

@pytest.mark.parametrize("nodes", [
    [(1, raw_string(b""))],
    [(1, raw_string(b"")), (2, raw_string(GOOD_LP))],
    [(2, raw_string(GOOD_LP)), (1, raw_string(b""))],
], ids=["alone", "first", "last"])
def test_restore_refuses_an_empty_plain_node(sanitized, nodes):
    # Redis 7.0.15 answers "Bad data format" for a PLAIN quicklist node of 0 bytes (with
    # or without sanitizing); Flin's LoadList keeps it as an empty element.
    assert error_of(sanitized, "RESTORE", "k", "0", quicklist2(nodes)) == BAD
    assert sanitized.call("EXISTS", "k") == 0


@pytest.mark.parametrize("type_byte,body", [
    (14, rdb_len(1) + raw_string(ziplist([b"ab", b"cd", b"x"]))),
    (10, raw_string(ziplist([b"ab", b"cd", b"x"]))),
], ids=["quicklist-of-ziplists", "ziplist"])
def test_restore_of_list_payloads_of_redis_6(raw, type_byte, body):
    # What Redis 3.2-6.2 DUMP for a list (RDB 9): Redis 7.0 converts them on load; Flin's
    # LoadDumpPayload refuses every older encoding of a type it has as bad data.
    payload = with_footer(bytes([type_byte]) + body, version=9)
    assert raw.call("RESTORE", "k", "0", payload) == "OK"
    assert lrange(raw, "k") == [b"ab", b"cd", b"x"]
    assert raw.call("OBJECT", "ENCODING", "k") == b"quicklist"


# ---------------------------------------------------------------------------
# Checked and found correct

INTS = [0, 1, 127, 128, -1, -4096, 4095, 4096, -4097, 32767, -32768, 32768, -32769,
        8388607, -8388608, 8388608, -8388609, 2147483647, -2147483648, 2147483648,
        -2147483649, I64MAX, I64MIN]
NEAR_INTS = ["-0", "+1", "01", " 1", "1 ", "9223372036854775808", "-9223372036854775809",
             "1.5", "00", "-", ""]


def _seq(name):
    import random
    rnd = random.Random(7)
    if name == "ints":
        return [str(i).encode() for i in INTS]
    if name == "near-ints":
        return [s.encode() for s in NEAR_INTS]
    if name == "string-widths":
        return [b"a" * 63, b"b" * 64, b"c" * 4095, b"d" * 4096, b"", b"x"]
    if name == "many-ints":
        return [str(i).encode() for i in range(20000)]
    if name == "node-edges":
        return [b"q" * s for s in range(8170, 8195)] + [b"w", b"e"]
    return [rnd.choice([b"a" * rnd.randint(0, 200), str(rnd.randint(-10**12, 10**12)).encode(),
                        rnd.randbytes(rnd.randint(0, 100))]) for _ in range(5000)]


@pytest.mark.parametrize("name", ["ints", "near-ints", "string-widths", "many-ints",
                                  "node-edges", "mixed"])
def test_dump_bytes_and_cross_restore_with_redis(raw, redis_server, name):
    # The same RPUSHes on both: identical DUMP bytes (every listpack integer width, string
    # headers of 6/12/32 bits, quicklist nodes split at 8 KB, LZF'd nodes), and each
    # payload RESTOREs into the other with the same elements.
    elements = _seq(name)
    with redis_server.raw() as red:
        red.call("FLUSHALL")
        for c in (raw, red):
            for i in range(0, len(elements), 1000):
                c.call("RPUSH", "k", *elements[i:i + 1000])
        ours, theirs = raw.call("DUMP", "k"), red.call("DUMP", "k")
        assert ours == theirs
        assert red.call("RESTORE", "x", "0", ours) == "OK"
        assert raw.call("RESTORE", "x", "0", theirs) == "OK"
        assert lrange(red, "x") == lrange(raw, "x") == elements


@pytest.mark.parametrize("nodes,declared", [
    ([(0, raw_string(GOOD_LP))], None),
    ([(3, raw_string(GOOD_LP))], None),
    ([(2, raw_string(listpack([])))], None),
    ([], None),
    ([(2, raw_string(GOOD_LP))], 2),
    ([(2, raw_string(listpack([lp_uint7(1), lp_str(b"ab")], count=3)))], None),
    ([(2, raw_string(listpack([lp_uint7(1), lp_str(b"ab")], total=100)))], None),
    ([(2, raw_string(listpack([lp_uint7(1), lp_str(b"ab")], end=b"")))], None),
    ([(2, raw_string(listpack([bytes([1, 2]), lp_str(b"ab")])))], None),
    ([(2, int_string(5))], None),
], ids=["kind-0", "kind-3", "only-empty-listpack", "no-nodes", "fewer-nodes-than-declared",
        "count-lies", "total-lies", "no-terminator", "bad-backlen", "int-node"])
def test_restore_refuses_hostile_quicklists(sanitized, nodes, declared):
    assert error_of(sanitized, "RESTORE", "k", "0", quicklist2(nodes, declared)) == BAD
    assert sanitized.call("EXISTS", "k") == 0


def test_restore_accepts_what_redis_accepts(sanitized):
    lz = lzf_compress(GOOD_LP)
    cases = [
        (quicklist2([(2, raw_string(listpack([])), ), (2, raw_string(GOOD_LP))]), [b"1", b"ab"]),
        (quicklist2([(1, raw_string(b"xyz")), (2, raw_string(GOOD_LP))]), [b"xyz", b"1", b"ab"]),
        (quicklist2([(1, int_string(-5))]), [b"-5"]),
        (quicklist2([(2, raw_string(listpack([lp_uint7(1), lp_str(b"ab")], count=65535)))]),
         [b"1", b"ab"]),
        (quicklist2([(2, b"\xc3" + rdb_len(len(lz)) + rdb_len(len(GOOD_LP)) + lz)]),
         [b"1", b"ab"]),
        (with_footer(b"\x01" + rdb_len(2) + raw_string(b"a") + int_string(300)), [b"a", b"300"]),
    ]
    for payload, want in cases:
        sanitized.call("DEL", "k")
        assert sanitized.call("RESTORE", "k", "0", payload) == "OK"
        assert lrange(sanitized, "k") == want
    for bad in (b"\x01" + rdb_len(0), b"\x01" + rdb_len(3) + raw_string(b"a")):
        assert error_of(sanitized, "RESTORE", "k2", "0", with_footer(bad)) == BAD


def test_events_new_on_list_creation(events):
    # Class n: "new" before the push on a created key (LPUSH, RPUSH, LMOVE's and RPOPLPUSH's
    # destination, RESTORE), none for a push onto an existing list or LMOVE onto itself.
    ev = events("KEAn")
    assert ev.run("LPUSH", "a", "1", "2") == (2, kea("new", "a") + kea("lpush", "a"))
    assert ev.run("RPUSH", "a", "3") == (3, kea("rpush", "a"))
    assert ev.run("LMOVE", "a", "b", "LEFT", "RIGHT") == \
        (b"2", kea("new", "b") + kea("rpush", "b") + kea("lpop", "a"))
    assert ev.run("LMOVE", "b", "b", "LEFT", "RIGHT") == \
        (b"2", kea("rpush", "b") + kea("lpop", "b"))
    assert ev.run("RPOPLPUSH", "b", "c") == \
        (b"2", kea("new", "c") + kea("lpush", "c") + kea("rpop", "b") + kea("del", "b"))
    payload = ev.cmd.call("DUMP", "c")
    assert ev.run("RESTORE", "d", "0", payload) == ("OK", kea("new", "d") + kea("restore", "d"))


def test_lmove_single_element_onto_itself_keeps_ttl(raw):
    raw.call("RPUSH", "l", "x")
    raw.call("EXPIRE", "l", "1000")
    assert raw.call("LMOVE", "l", "l", "RIGHT", "LEFT") == b"x"
    assert lrange(raw, "l") == [b"x"] and 0 < raw.call("TTL", "l") <= 1000


def test_extreme_integer_arguments(raw):
    raw.call("RPUSH", "l", "a", "b", "c", "a", "b", "c")
    assert raw.call("LRANGE", "l", str(I64MAX), str(I64MIN)) == []
    assert raw.call("LRANGE", "l", "-100", str(I64MIN)) == []
    assert raw.call("LPOS", "l", "b", "RANK", str(-I64MAX)) is None
    assert raw.call("LPOS", "l", "b", "MAXLEN", str(I64MAX), "COUNT", "0") == [1, 4]
    assert raw.call("LPOS", "l", "b", "RANK", "-1", "COUNT", "0", "MAXLEN", "1") == []
    assert raw.call("LREM", "l", str(I64MIN), "a") == 2
    assert raw.call("LMPOP", "1", "l", "RIGHT", "COUNT", str(I64MAX)) == \
        [b"l", [b"c", b"b", b"c", b"b"]]
    assert raw.call("EXISTS", "l") == 0


def test_command_getkeys_lmpop(raw):
    assert raw.call("COMMAND", "GETKEYS", "LMPOP", "2", "a", "b", "LEFT") == [b"a", b"b"]
    assert raw.call("COMMAND", "GETKEYS", "LMPOP", "3", "a", "b", "LEFT") == [b"a", b"b", b"LEFT"]
    assert raw.call("COMMAND", "GETKEYS", "LMPOP", "1", "a", "LEFT", "COUNT", "-5") == [b"a"]
    for bad in ("0", "-1", "x", "5"):
        assert error_of(raw, "COMMAND", "GETKEYS", "LMPOP", bad, "a", "b") == \
            "ERR Invalid arguments specified for command"
    info = raw.call("COMMAND", "INFO", "LMPOP")[0]
    assert info[1] == -4 and sorted(str(f) for f in info[2]) == ["movablekeys", "write"]
    assert info[3:6] == [0, 0, 0]
