"""Keyspace notifications (CONFIG SET notify-keyspace-events), Redis 7.0's semantics.

A subscriber connection PSUBSCRIBEs `__key*__:*` and SUBSCRIBEs a private marker
channel.  After each command (run on another connection, its reply read), that
connection PUBLISHes a numbered marker; the subscriber reads until the marker
arrives, so it has exactly the events the command raised, in order, without
sleeping: a server publishes a command's events before it answers it, and the
marker's PUBLISH comes after.

Each event E on key k is two messages under "KE": `__keyspace@0__:k` -> E,
then `__keyevent@0__:E` -> k.  Expected lists below are written as (event, key)
pairs and expanded for the class set in force.

Classes: K keyspace, E keyevent, g generic (del expire rename_* copy_to restore
persist), $ string (set setrange append incrby incrbyfloat setbit pfadd), x
expired, n new (a key added; not part of A), m keymiss (not part of A).
"""
import itertools

import pytest

import flinproc
from flinproc import Error, Status, error_of
from rdb_payload import raw_string, string_payload

PATTERN = "__key*__:*"
EXPIRE_WAIT = 30.0   # seconds a subscriber waits for an 'expired' event (no sleeping)
FUTURE_S = 4000000000          # EXAT in 2096
FUTURE_MS = FUTURE_S * 1000
PAYLOAD = string_payload(raw_string(b"restored"))

_marks = itertools.count()


class Fails:
    """An expected error reply whose text starts with prefix."""

    def __init__(self, prefix):
        self.prefix = prefix

    def __repr__(self):
        return f"Fails({self.prefix!r})"


ANY = object()


def _check_reply(got, want, what):
    if want is ANY:
        return
    if isinstance(want, Fails):
        assert isinstance(got, Error) and got.startswith(want.prefix), (what, got)
    else:
        assert not isinstance(got, Error), (what, got)
        assert got == want, (what, got, want)


class Subscriber:
    """A raw connection subscribed to every keyspace/keyevent channel and to a
    marker channel of its own."""

    def __init__(self, server):
        self.conn = server.raw()
        self.mark = f"kev-mark-{next(_marks)}"
        self.n = 0
        assert self.conn.call("PSUBSCRIBE", PATTERN) == [b"psubscribe", PATTERN.encode(), 1]
        assert self.conn.call("SUBSCRIBE", self.mark) == [b"subscribe", self.mark.encode(), 2]

    def close(self):
        self.conn.close()

    def read_event(self):
        """The next keyspace/keyevent message as (channel, message)."""
        m = self.conn.read_reply()
        assert isinstance(m, list) and m[0] == b"pmessage" and m[1] == PATTERN.encode(), m
        return m[2].decode(), m[3].decode()

    def collect(self, cmd):
        """PUBLISH the next marker on cmd (a RawConn) and return every event read before it."""
        self.n += 1
        assert cmd.call("PUBLISH", self.mark, str(self.n)) == 1
        events = []
        while True:
            m = self.conn.read_reply()
            assert isinstance(m, list), m
            if m[0] == b"message":
                assert m[1:] == [self.mark.encode(), str(self.n).encode()], m
                return events
            assert m[0] == b"pmessage" and m[1] == PATTERN.encode(), m
            events.append((m[2].decode(), m[3].decode()))


def set_flags(conn, flags):
    assert conn.call("CONFIG", "SET", "notify-keyspace-events", flags) == "OK"


def get_flags(conn):
    reply = conn.call("CONFIG", "GET", "notify-keyspace-events")
    assert isinstance(reply, list) and reply[0] == b"notify-keyspace-events", reply
    assert len(reply) == 2, reply
    return reply[1].decode()


@pytest.fixture
def ev(server, raw):
    """(cmd, sub): raw is the command connection; notifications are set back
    to '' afterwards whatever happens (the server is shared by the module)."""
    sub = Subscriber(server)
    yield raw, sub
    sub.close()
    with server.raw() as c:
        set_flags(c, "")


def expand(pairs, keyspace=True, keyevent=True):
    """(event, key) pairs -> the (channel, message) messages published for them."""
    out = []
    for event, key in pairs:
        if keyspace:
            out.append((f"__keyspace@0__:{key}", event))
        if keyevent:
            out.append((f"__keyevent@0__:{event}", key))
    return out


def run(cmd, sub, setup, command, reply=ANY):
    """Run setup, drop its events, run command; return the events it raised."""
    for c in setup:
        r = cmd.call(*c)
        assert not isinstance(r, Error), (c, r)
    sub.collect(cmd)
    got = cmd.call(*command)
    _check_reply(got, reply, command)
    return sub.collect(cmd)


# ---------------------------------------------------------------------------
# The table: id, setup, command, its reply, the (event, key) pairs under KEA.

OK = Status("OK")

CASES = [
    # -- SET and its options
    ("set-new", [], ("SET", "k", "v"), OK, [("set", "k")]),
    ("set-existing", [("SET", "k", "a")], ("SET", "k", "v"), OK, [("set", "k")]),
    ("set-ex", [], ("SET", "k", "v", "EX", "100"), OK, [("set", "k"), ("expire", "k")]),
    ("set-px", [], ("SET", "k", "v", "PX", "100000"), OK, [("set", "k"), ("expire", "k")]),
    ("set-exat-future", [], ("SET", "k", "v", "EXAT", FUTURE_S), OK,
     [("set", "k"), ("expire", "k")]),
    ("set-pxat-future", [], ("SET", "k", "v", "PXAT", FUTURE_MS), OK,
     [("set", "k"), ("expire", "k")]),
    ("set-ex-0-error", [("SET", "k", "a")], ("SET", "k", "v", "EX", "0"),
     Fails("ERR invalid expire time"), []),
    ("set-keepttl", [("SET", "k", "a", "EX", "100")], ("SET", "k", "v", "KEEPTTL"), OK,
     [("set", "k")]),
    ("set-drops-ttl", [("SET", "k", "a", "EX", "100")], ("SET", "k", "v"), OK, [("set", "k")]),
    ("set-nx-refused", [("SET", "k", "a")], ("SET", "k", "v", "NX"), None, []),
    ("set-nx-refused-ex", [("SET", "k", "a")], ("SET", "k", "v", "NX", "EX", "10"), None, []),
    ("set-xx-refused", [], ("SET", "k", "v", "XX"), None, []),
    ("set-nx", [], ("SET", "k", "v", "NX"), OK, [("set", "k")]),
    ("set-xx", [("SET", "k", "a")], ("SET", "k", "v", "XX", "PX", "5000"), OK,
     [("set", "k"), ("expire", "k")]),
    ("set-get", [("SET", "k", "a")], ("SET", "k", "v", "GET"), b"a", [("set", "k")]),
    ("set-get-missing", [], ("SET", "k", "v", "GET"), None, [("set", "k")]),
    ("set-xx-get-refused", [], ("SET", "k", "v", "XX", "GET"), None, []),
    ("set-same-value", [("SET", "k", "v")], ("SET", "k", "v"), OK, [("set", "k")]),
    ("set-key-with-space", [], ("SET", "a b:c", "v"), OK, [("set", "a b:c")]),
    ("setnx", [], ("SETNX", "k", "v"), 1, [("set", "k")]),
    ("setnx-refused", [("SET", "k", "a")], ("SETNX", "k", "v"), 0, []),
    ("setex", [], ("SETEX", "k", "100", "v"), OK, [("set", "k"), ("expire", "k")]),
    ("setex-existing", [("SET", "k", "a")], ("SETEX", "k", "100", "v"), OK,
     [("set", "k"), ("expire", "k")]),
    ("setex-0-error", [], ("SETEX", "k", "0", "v"), Fails("ERR invalid expire time"), []),
    ("psetex", [], ("PSETEX", "k", "100000", "v"), OK, [("set", "k"), ("expire", "k")]),
    ("getset", [("SET", "k", "a")], ("GETSET", "k", "v"), b"a", [("set", "k")]),
    ("getset-new", [], ("GETSET", "k", "v"), None, [("set", "k")]),
    ("getdel", [("SET", "k", "a")], ("GETDEL", "k"), b"a", [("del", "k")]),
    ("getdel-missing", [], ("GETDEL", "k"), None, []),
    # -- GETEX
    ("getex-plain", [("SET", "k", "a", "EX", "100")], ("GETEX", "k"), b"a", []),
    ("getex-ex", [("SET", "k", "a")], ("GETEX", "k", "EX", "100"), b"a", [("expire", "k")]),
    ("getex-pxat", [("SET", "k", "a")], ("GETEX", "k", "PXAT", FUTURE_MS), b"a",
     [("expire", "k")]),
    ("getex-persist", [("SET", "k", "a", "EX", "100")], ("GETEX", "k", "PERSIST"), b"a",
     [("persist", "k")]),
    ("getex-persist-no-ttl", [("SET", "k", "a")], ("GETEX", "k", "PERSIST"), b"a", []),
    ("getex-exat-past", [("SET", "k", "a")], ("GETEX", "k", "EXAT", "1"), b"a", [("del", "k")]),
    ("getex-pxat-past", [("SET", "k", "a", "EX", "100")], ("GETEX", "k", "PXAT", "1"), b"a",
     [("del", "k")]),
    ("getex-missing", [], ("GETEX", "k", "EX", "100"), None, []),
    # -- MSET MSETNX
    ("mset", [("SET", "b", "x")], ("MSET", "a", "1", "b", "2", "c", "3"), OK,
     [("set", "a"), ("set", "b"), ("set", "c")]),
    ("mset-same-key-twice", [], ("MSET", "k", "1", "k", "2"), OK, [("set", "k"), ("set", "k")]),
    ("msetnx", [], ("MSETNX", "a", "1", "b", "2"), 1, [("set", "a"), ("set", "b")]),
    ("msetnx-refused", [("SET", "b", "x")], ("MSETNX", "a", "1", "b", "2"), 0, []),
    # -- counters
    ("incr", [("SET", "k", "1")], ("INCR", "k"), 2, [("incrby", "k")]),
    ("incr-new", [], ("INCR", "k"), 1, [("incrby", "k")]),
    ("decr", [], ("DECR", "k"), -1, [("incrby", "k")]),
    ("incrby", [("SET", "k", "1")], ("INCRBY", "k", "5"), 6, [("incrby", "k")]),
    ("incrby-0", [("SET", "k", "1")], ("INCRBY", "k", "0"), 1, [("incrby", "k")]),
    ("decrby", [("SET", "k", "1")], ("DECRBY", "k", "5"), -4, [("incrby", "k")]),
    ("incr-not-integer", [("SET", "k", "x")], ("INCR", "k"),
     Fails("ERR value is not an integer"), []),
    ("incr-overflow", [("SET", "k", "9223372036854775807")], ("INCR", "k"),
     Fails("ERR increment or decrement would overflow"), []),
    ("incrbyfloat", [("SET", "k", "1")], ("INCRBYFLOAT", "k", "0.5"), b"1.5",
     [("incrbyfloat", "k")]),
    ("incrbyfloat-new", [], ("INCRBYFLOAT", "k", "2"), b"2", [("incrbyfloat", "k")]),
    ("incrbyfloat-error", [("SET", "k", "x")], ("INCRBYFLOAT", "k", "1"),
     Fails("ERR value is not a valid float"), []),
    # -- SETRANGE APPEND
    ("setrange", [("SET", "k", "hello")], ("SETRANGE", "k", "1", "a"), 5, [("setrange", "k")]),
    ("setrange-new", [], ("SETRANGE", "k", "3", "a"), 4, [("setrange", "k")]),
    ("setrange-empty-existing", [("SET", "k", "hello")], ("SETRANGE", "k", "10", ""), 5, []),
    ("setrange-empty-missing", [], ("SETRANGE", "k", "0", ""), 0, []),
    ("append", [("SET", "k", "a")], ("APPEND", "k", "bc"), 3, [("append", "k")]),
    ("append-new", [], ("APPEND", "k", "bc"), 2, [("append", "k")]),
    ("append-empty", [("SET", "k", "a")], ("APPEND", "k", ""), 1, [("append", "k")]),
    ("append-empty-new", [], ("APPEND", "k", ""), 0, [("append", "k")]),
    # -- DEL UNLINK
    ("del", [("SET", "k", "a")], ("DEL", "k"), 1, [("del", "k")]),
    ("del-some-missing", [("MSET", "a", "1", "c", "3")], ("DEL", "x", "c", "b", "a"), 2,
     [("del", "c"), ("del", "a")]),
    ("del-duplicate", [("SET", "a", "1")], ("DEL", "a", "a"), 1, [("del", "a")]),
    ("del-missing", [], ("DEL", "a", "b"), 0, []),
    ("unlink", [("MSET", "a", "1", "b", "2")], ("UNLINK", "b", "x", "a"), 2,
     [("del", "b"), ("del", "a")]),
    # -- EXPIRE family
    ("expire", [("SET", "k", "a")], ("EXPIRE", "k", "100"), 1, [("expire", "k")]),
    ("expire-missing", [], ("EXPIRE", "k", "100"), 0, []),
    ("expire-0", [("SET", "k", "a")], ("EXPIRE", "k", "0"), 1, [("del", "k")]),
    ("expire-negative", [("SET", "k", "a", "EX", "100")], ("EXPIRE", "k", "-5"), 1,
     [("del", "k")]),
    ("pexpire", [("SET", "k", "a")], ("PEXPIRE", "k", "100000"), 1, [("expire", "k")]),
    ("pexpire-negative", [("SET", "k", "a")], ("PEXPIRE", "k", "-1"), 1, [("del", "k")]),
    ("expireat", [("SET", "k", "a")], ("EXPIREAT", "k", FUTURE_S), 1, [("expire", "k")]),
    ("expireat-past", [("SET", "k", "a")], ("EXPIREAT", "k", "1"), 1, [("del", "k")]),
    ("pexpireat", [("SET", "k", "a")], ("PEXPIREAT", "k", FUTURE_MS), 1, [("expire", "k")]),
    ("pexpireat-past", [("SET", "k", "a")], ("PEXPIREAT", "k", "1000"), 1, [("del", "k")]),
    ("expire-nx", [("SET", "k", "a")], ("EXPIRE", "k", "100", "NX"), 1, [("expire", "k")]),
    ("expire-nx-refused", [("SET", "k", "a", "EX", "100")], ("EXPIRE", "k", "200", "NX"), 0, []),
    ("expire-xx-refused", [("SET", "k", "a")], ("EXPIRE", "k", "100", "XX"), 0, []),
    ("expire-xx", [("SET", "k", "a", "EX", "100")], ("EXPIRE", "k", "200", "XX"), 1,
     [("expire", "k")]),
    ("expire-gt-refused", [("SET", "k", "a", "EX", "100")], ("EXPIRE", "k", "50", "GT"), 0, []),
    ("expire-gt-no-ttl-refused", [("SET", "k", "a")], ("EXPIRE", "k", "50", "GT"), 0, []),
    ("expire-gt", [("SET", "k", "a", "EX", "100")], ("EXPIRE", "k", "200", "GT"), 1,
     [("expire", "k")]),
    ("expire-lt-refused", [("SET", "k", "a", "EX", "100")], ("EXPIRE", "k", "200", "LT"), 0, []),
    ("expire-lt-no-ttl", [("SET", "k", "a")], ("EXPIRE", "k", "50", "LT"), 1, [("expire", "k")]),
    ("expire-xx-refused-past", [("SET", "k", "a")], ("EXPIRE", "k", "-1", "XX"), 0, []),
    ("expire-nx-past", [("SET", "k", "a")], ("EXPIRE", "k", "-1", "NX"), 1, [("del", "k")]),
    ("expire-bad-option", [("SET", "k", "a")], ("EXPIRE", "k", "10", "NX", "XX"),
     Fails("ERR NX and XX, GT or LT options at the same time are not compatible"), []),
    ("persist", [("SET", "k", "a", "EX", "100")], ("PERSIST", "k"), 1, [("persist", "k")]),
    ("persist-no-ttl", [("SET", "k", "a")], ("PERSIST", "k"), 0, []),
    ("persist-missing", [], ("PERSIST", "k"), 0, []),
    # -- RENAME RENAMENX COPY RESTORE
    ("rename", [("SET", "a", "1")], ("RENAME", "a", "b"), OK,
     [("rename_from", "a"), ("rename_to", "b")]),
    ("rename-onto-existing", [("SET", "a", "1"), ("SET", "b", "2", "EX", "100")],
     ("RENAME", "a", "b"), OK, [("rename_from", "a"), ("rename_to", "b")]),
    ("rename-with-ttl", [("SET", "a", "1", "EX", "100")], ("RENAME", "a", "b"), OK,
     [("rename_from", "a"), ("rename_to", "b")]),
    ("rename-same-name", [("SET", "a", "1")], ("RENAME", "a", "a"), OK, []),
    ("rename-missing", [], ("RENAME", "a", "b"), Fails("ERR no such key"), []),
    ("renamenx", [("SET", "a", "1")], ("RENAMENX", "a", "b"), 1,
     [("rename_from", "a"), ("rename_to", "b")]),
    ("renamenx-refused", [("SET", "a", "1"), ("SET", "b", "2")], ("RENAMENX", "a", "b"), 0, []),
    ("renamenx-same-name", [("SET", "a", "1")], ("RENAMENX", "a", "a"), 0, []),
    ("copy", [("SET", "a", "1")], ("COPY", "a", "b"), 1, [("copy_to", "b")]),
    ("copy-with-ttl", [("SET", "a", "1", "EX", "100")], ("COPY", "a", "b"), 1, [("copy_to", "b")]),
    ("copy-refused", [("SET", "a", "1"), ("SET", "b", "2")], ("COPY", "a", "b"), 0, []),
    ("copy-replace", [("SET", "a", "1"), ("SET", "b", "2")], ("COPY", "a", "b", "REPLACE"), 1,
     [("copy_to", "b")]),
    ("copy-missing", [], ("COPY", "a", "b"), 0, []),
    ("copy-same", [("SET", "a", "1")], ("COPY", "a", "a"),
     Fails("ERR source and destination objects are the same"), []),
    ("restore", [], ("RESTORE", "k", "0", PAYLOAD), OK, [("restore", "k")]),
    ("restore-ttl", [], ("RESTORE", "k", "100000", PAYLOAD), OK, [("restore", "k")]),
    ("restore-busykey", [("SET", "k", "a")], ("RESTORE", "k", "0", PAYLOAD),
     Fails("BUSYKEY"), []),
    ("restore-replace", [("SET", "k", "a")], ("RESTORE", "k", "0", PAYLOAD, "REPLACE"), OK,
     [("restore", "k")]),
    ("restore-absttl-past", [], ("RESTORE", "k", "1000", PAYLOAD, "ABSTTL"), OK, []),
    ("restore-replace-absttl-past", [("SET", "k", "a")],
     ("RESTORE", "k", "1000", PAYLOAD, "REPLACE", "ABSTTL"), OK, [("del", "k")]),
    ("restore-bad-payload", [], ("RESTORE", "k", "0", b"junk"),
     Fails("ERR DUMP payload version or checksum are wrong"), []),
    # -- bits, HyperLogLog
    ("setbit", [("SET", "k", "a")], ("SETBIT", "k", "0", "1"), 0, [("setbit", "k")]),
    ("setbit-new", [], ("SETBIT", "k", "7", "1"), 0, [("setbit", "k")]),
    ("setbit-unchanged", [("SETBIT", "k", "7", "1")], ("SETBIT", "k", "7", "1"), 1, []),
    ("setbit-new-zero", [], ("SETBIT", "k", "9", "0"), 0, [("setbit", "k")]),
    ("setbit-grows-zero", [("SET", "k", "a")], ("SETBIT", "k", "100", "0"), 0, [("setbit", "k")]),
    ("setbit-clears", [("SET", "k", "a")], ("SETBIT", "k", "7", "0"), 1, [("setbit", "k")]),
    ("bitop", [("SET", "a", "ab"), ("SET", "b", "c")], ("BITOP", "AND", "d", "a", "b"), 2,
     [("set", "d")]),
    ("bitop-not", [("SET", "a", "ab")], ("BITOP", "NOT", "a", "a"), 2, [("set", "a")]),
    ("bitop-empty-result-deletes", [("SET", "d", "x")], ("BITOP", "OR", "d", "a", "b"), 0,
     [("del", "d")]),
    ("bitop-empty-result-missing", [], ("BITOP", "OR", "d", "a", "b"), 0, []),
    ("bitop-empty-source", [("SET", "a", ""), ("SET", "d", "x")], ("BITOP", "NOT", "d", "a"), 0,
     [("del", "d")]),
    ("bitfield-set", [("SET", "k", "a")], ("BITFIELD", "k", "SET", "u8", "0", "98"), [97],
     [("setbit", "k")]),
    ("bitfield-set-new", [], ("BITFIELD", "k", "SET", "u8", "0", "98", "INCRBY", "u8", "8", "1"),
     [0, 1], [("setbit", "k")]),
    ("bitfield-set-same-value", [("SET", "k", "a")], ("BITFIELD", "k", "SET", "u8", "0", "97"),
     [97], []),
    ("bitfield-incrby-0", [("SET", "k", "a")], ("BITFIELD", "k", "INCRBY", "u8", "0", "0"),
     [97], []),
    ("bitfield-overflow-fail-grows", [("SET", "k", "a")],
     ("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u8", "16", "256"), [None], []),
    ("bitfield-get-only", [("SET", "k", "a")], ("BITFIELD", "k", "GET", "u8", "0"), [97], []),
    ("bitfield-get-only-missing", [], ("BITFIELD", "k", "GET", "u8", "0"), [0], []),
    ("bitfield-no-ops", [("SET", "k", "a")], ("BITFIELD", "k"), [], []),
    ("bitfield-overflow-fail", [("SET", "k", b"\xff")],
     ("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "1"), [None], []),
    ("bitfield-overflow-fail-missing", [],
     ("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "256"), [None], []),
    ("bitfield-ro", [("SET", "k", "a")], ("BITFIELD_RO", "k", "GET", "u8", "0"), [97], []),
    ("pfadd-new", [], ("PFADD", "h", "x", "y"), 1, [("pfadd", "h")]),
    ("pfadd-changes", [("PFADD", "h", "x")], ("PFADD", "h", "y"), 1, [("pfadd", "h")]),
    ("pfadd-unchanged", [("PFADD", "h", "x", "y")], ("PFADD", "h", "x", "y"), 0, []),
    ("pfadd-no-elements-new", [], ("PFADD", "h"), 1, [("pfadd", "h")]),
    ("pfadd-no-elements-existing", [("PFADD", "h", "x")], ("PFADD", "h"), 0, []),
    ("pfmerge", [("PFADD", "a", "x"), ("PFADD", "b", "y")], ("PFMERGE", "d", "a", "b"), OK,
     [("pfadd", "d")]),
    ("pfmerge-unchanged", [("PFADD", "a", "x"), ("PFMERGE", "d", "a")], ("PFMERGE", "d", "a"), OK,
     [("pfadd", "d")]),
    ("pfmerge-no-sources", [], ("PFMERGE", "d"), OK, [("pfadd", "d")]),
    ("pfmerge-wrongtype", [("SET", "a", "x")], ("PFMERGE", "d", "a"),
     Fails("WRONGTYPE Key is not a valid HyperLogLog string value."), []),
    # -- reads raise nothing; FLUSHALL raises nothing in 7.0
    ("get", [("SET", "k", "a")], ("GET", "k"), b"a", []),
    ("get-missing", [], ("GET", "k"), None, []),
    ("mget", [("SET", "k", "a")], ("MGET", "k", "x"), [b"a", None], []),
    ("flushall", [("MSET", "a", "1", "b", "2")], ("FLUSHALL",), OK, []),
    ("flushall-async", [("MSET", "a", "1", "b", "2")], ("FLUSHALL", "ASYNC"), OK, []),
    ("flushdb", [("MSET", "a", "1", "b", "2")], ("FLUSHDB",), OK, []),
]


@pytest.mark.parametrize("setup,command,reply,events",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_events_kea(ev, setup, command, reply, events):
    cmd, sub = ev
    set_flags(cmd, "KEA")
    assert run(cmd, sub, setup, command, reply) == expand(events)


def test_set_exat_past_then_expired(ev):
    """Redis 7.0 stores SET ... EXAT <past> (set, expire); the key then goes
    with 'expired', by active expiry or when GET finds it: either way after
    the command's own events."""
    cmd, sub = ev
    set_flags(cmd, "KEA")
    for i, opt in enumerate((("EXAT", "1"), ("PXAT", "1"))):
        k = f"k{i}"
        assert cmd.call("SET", k, "v", *opt) == "OK"
        assert cmd.call("GET", k) is None
        assert sub.collect(cmd) == expand([("set", k), ("expire", k), ("expired", k)])


def test_bitfield_fail_on_missing_key_leaves_it(ev):
    """BITFIELD with a write that OVERFLOW FAIL refuses still creates the key
    (a zero byte): 'new' only, no 'setbit'."""
    cmd, sub = ev
    set_flags(cmd, "KEAn")
    assert cmd.call("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "256") == [None]
    assert sub.collect(cmd) == expand([("new", "k")])
    assert cmd.call("GET", "k") == b"\x00"


def test_case_ids_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


# ---------------------------------------------------------------------------
# Transactions and scripts: each command's events, in order, as it runs.

def test_multi_exec(ev):
    cmd, sub = ev
    set_flags(cmd, "KEA")
    cmd.call("SET", "old", "x")
    sub.collect(cmd)
    assert cmd.call("MULTI") == "OK"
    for c in (("SET", "a", "1"), ("INCR", "a"), ("EXPIRE", "a", "100"), ("SET", "b", "v", "NX"),
              ("SET", "old", "y", "NX"), ("RENAME", "a", "c"), ("DEL", "old", "missing"),
              ("APPEND", "b", "w")):
        assert cmd.call(*c) == "QUEUED"
    assert cmd.call("EXEC") == [OK, 2, 1, OK, None, OK, 1, 2]
    assert sub.collect(cmd) == expand([
        ("set", "a"), ("incrby", "a"), ("expire", "a"), ("set", "b"),
        ("rename_from", "a"), ("rename_to", "c"), ("del", "old"), ("append", "b")])


def test_multi_exec_with_failing_command(ev):
    cmd, sub = ev
    set_flags(cmd, "KEA")
    cmd.call("SET", "s", "text")
    sub.collect(cmd)
    assert cmd.call("MULTI") == "OK"
    for c in (("SET", "a", "1"), ("INCR", "s"), ("INCR", "a")):
        assert cmd.call(*c) == "QUEUED"
    replies = cmd.call("EXEC")
    assert replies[0] == "OK" and isinstance(replies[1], Error) and replies[2] == 2
    assert sub.collect(cmd) == expand([("set", "a"), ("incrby", "a")])


def test_multi_execabort_discard_publish_nothing(ev):
    cmd, sub = ev
    set_flags(cmd, "KEA")
    assert cmd.call("MULTI") == "OK"
    assert cmd.call("SET", "a", "1") == "QUEUED"
    assert isinstance(cmd.call("SET", "a"), Error)
    assert error_of(cmd, "EXEC").startswith("EXECABORT")
    assert cmd.call("MULTI") == "OK"
    assert cmd.call("SET", "a", "1") == "QUEUED"
    assert cmd.call("DISCARD") == "OK"
    assert sub.collect(cmd) == []
    assert cmd.call("EXISTS", "a") == 0


SCRIPT = """
redis.call('set', KEYS[1], 'v')
redis.call('incrbyfloat', KEYS[2], '1.5')
redis.call('pexpire', KEYS[1], 100000)
redis.call('set', KEYS[2], 'x', 'XX', 'GET')
redis.call('copy', KEYS[1], KEYS[3])
redis.call('persist', KEYS[1])
redis.call('persist', KEYS[1])
redis.call('getdel', KEYS[3])
redis.call('expire', KEYS[2], -1)
return redis.call('exists', KEYS[1], KEYS[2], KEYS[3])
"""


def test_eval(ev):
    cmd, sub = ev
    set_flags(cmd, "KEA")
    assert cmd.call("EVAL", SCRIPT, "3", "a", "b", "c") == 1
    assert sub.collect(cmd) == expand([
        ("set", "a"), ("incrbyfloat", "b"), ("expire", "a"), ("set", "b"), ("copy_to", "c"),
        ("persist", "a"), ("del", "c"), ("del", "b")])


def test_eval_error_keeps_earlier_events(ev):
    cmd, sub = ev
    set_flags(cmd, "KEA")
    script = "redis.call('set', KEYS[1], 'x'); redis.call('incr', KEYS[1]); " \
             "redis.call('set', KEYS[1], 'y')"
    assert error_of(cmd, "EVAL", script, "1", "k").startswith("ERR value is not an integer")
    assert sub.collect(cmd) == expand([("set", "k")])
    # redis.pcall: the script goes on.
    script = "redis.pcall('incr', KEYS[1]); return redis.call('setrange', KEYS[1], 0, 'z')"
    assert cmd.call("EVAL", script, "1", "k") == 1
    assert sub.collect(cmd) == expand([("setrange", "k")])


def test_evalsha_and_read_only_script(ev):
    cmd, sub = ev
    set_flags(cmd, "KEA")
    sha = cmd.call("SCRIPT", "LOAD", "return redis.call('append', KEYS[1], ARGV[1])")
    assert cmd.call("EVALSHA", sha, "1", "k", "ab") == 2
    assert cmd.call("EVAL_RO", "return redis.call('get', KEYS[1])", "1", "k") == b"ab"
    assert sub.collect(cmd) == expand([("append", "k")])


# ---------------------------------------------------------------------------
# Other class sets.

SEQUENCE = [
    ("SET", "k", "1"), ("EXPIRE", "k", "100"), ("APPEND", "k", "2"), ("INCR", "k"),
    ("PERSIST", "k"), ("RENAME", "k", "j"), ("DEL", "j"), ("SET", "k", "v", "EX", "100"),
    ("INCRBYFLOAT", "f", "1"), ("SETBIT", "b", "1", "1"), ("PFADD", "h", "x"),
]
SEQUENCE_EVENTS = [
    ("set", "k"), ("expire", "k"), ("append", "k"), ("incrby", "k"), ("persist", "k"),
    ("rename_from", "k"), ("rename_to", "j"), ("del", "j"), ("set", "k"), ("expire", "k"),
    ("incrbyfloat", "f"), ("setbit", "b"), ("pfadd", "h"),
]
GENERIC = {"del", "expire", "rename_from", "rename_to", "persist", "copy_to", "restore"}


def _run_sequence(cmd, sub, flags):
    set_flags(cmd, flags)
    for c in SEQUENCE:
        assert not isinstance(cmd.call(*c), Error), c
    return sub.collect(cmd)


@pytest.mark.parametrize("flags,keyspace,keyevent,classes", [
    ("KEA", True, True, None),
    ("AKE", True, True, None),
    ("KEg$", True, True, None),
    ("Kg", True, False, "g"),
    ("Eg", False, True, "g"),
    ("E$", False, True, "$"),
    ("K$", True, False, "$"),
    ("KA", True, False, None),
    ("EA", False, True, None),
    ("KEx", True, True, "x"),
    ("KEm", True, True, "m"),
    ("KEe", True, True, "e"),
    ("KElshzt", True, True, "lshzt"),
    ("A", False, False, None),
    ("g$", False, False, None),
    ("K", True, False, ""),
    ("E", False, True, ""),
    ("", False, False, None),
])
def test_class_sets(ev, flags, keyspace, keyevent, classes):
    cmd, sub = ev
    want = []
    for event, key in SEQUENCE_EVENTS:
        kind = "g" if event in GENERIC else "$"
        if classes is None or kind in classes:
            want.append((event, key))
    assert _run_sequence(cmd, sub, flags) == expand(want, keyspace, keyevent)


def test_kg_only_order(ev):
    cmd, sub = ev
    assert _run_sequence(cmd, sub, "Kg") == [
        ("__keyspace@0__:k", "expire"), ("__keyspace@0__:k", "persist"),
        ("__keyspace@0__:k", "rename_from"), ("__keyspace@0__:j", "rename_to"),
        ("__keyspace@0__:j", "del"), ("__keyspace@0__:k", "expire")]


def test_e_dollar_only(ev):
    cmd, sub = ev
    assert _run_sequence(cmd, sub, "E$") == [
        ("__keyevent@0__:set", "k"), ("__keyevent@0__:append", "k"),
        ("__keyevent@0__:incrby", "k"), ("__keyevent@0__:set", "k"),
        ("__keyevent@0__:incrbyfloat", "f"), ("__keyevent@0__:setbit", "b"),
        ("__keyevent@0__:pfadd", "h")]


def test_flags_change_takes_effect_at_once(ev):
    cmd, sub = ev
    set_flags(cmd, "KEA")
    cmd.call("SET", "a", "1")
    set_flags(cmd, "")
    cmd.call("SET", "b", "1")
    set_flags(cmd, "E$")
    cmd.call("SET", "c", "1")
    assert sub.collect(cmd) == expand([("set", "a")]) + expand([("set", "c")], keyspace=False)


# ---------------------------------------------------------------------------
# Expired events: both servers delete expired keys actively, so a key with
# PX 1 raises 'expired' without being touched.  Waited for by reading the
# subscriber with a long socket timeout, no sleeping.

def _wait_event(sub, timeout=EXPIRE_WAIT):
    sub.conn.sock.settimeout(timeout)
    try:
        return sub.read_event()
    finally:
        sub.conn.sock.settimeout(flinproc.IO_TIMEOUT)


def test_expired_event_ex(ev):
    cmd, sub = ev
    set_flags(cmd, "Ex")
    assert cmd.call("SET", "k", "v", "PX", "1") == "OK"
    assert _wait_event(sub) == ("__keyevent@0__:expired", "k")
    assert cmd.call("EXISTS", "k") == 0
    assert sub.collect(cmd) == []


def test_expired_event_kx(ev):
    cmd, sub = ev
    set_flags(cmd, "Kx")
    assert cmd.call("SET", "k", "v") == "OK"
    assert cmd.call("PEXPIRE", "k", "1") == 1
    assert _wait_event(sub) == ("__keyspace@0__:k", "expired")
    assert sub.collect(cmd) == []


def test_expired_event_kea(ev):
    cmd, sub = ev
    set_flags(cmd, "KEA")
    assert cmd.call("SET", "k", "v", "PX", "1") == "OK"
    got = [_wait_event(sub) for _ in range(6)]
    assert got == expand([("set", "k"), ("expire", "k"), ("expired", "k")])
    assert sub.collect(cmd) == []


# ---------------------------------------------------------------------------
# 'new' events (class n, not part of A): raised when a key is added, before the
# command's own event.

NEW_CASES = [
    ("set-new", [], ("SET", "k", "v"), [("new", "k"), ("set", "k")]),
    ("set-existing", [("SET", "k", "a")], ("SET", "k", "v"), [("set", "k")]),
    ("set-ex-new", [], ("SET", "k", "v", "EX", "100"),
     [("new", "k"), ("set", "k"), ("expire", "k")]),
    ("set-nx-refused", [("SET", "k", "a")], ("SET", "k", "v", "NX"), []),
    ("setnx", [], ("SETNX", "k", "v"), [("new", "k"), ("set", "k")]),
    ("setex", [], ("SETEX", "k", "10", "v"), [("new", "k"), ("set", "k"), ("expire", "k")]),
    ("getset-new", [], ("GETSET", "k", "v"), [("new", "k"), ("set", "k")]),
    ("mset", [("SET", "b", "x")], ("MSET", "a", "1", "b", "2", "c", "3"),
     [("new", "a"), ("set", "a"), ("set", "b"), ("new", "c"), ("set", "c")]),
    ("mset-same-key-twice", [], ("MSET", "k", "1", "k", "2"),
     [("new", "k"), ("set", "k"), ("set", "k")]),
    ("msetnx", [], ("MSETNX", "a", "1", "b", "2"),
     [("new", "a"), ("set", "a"), ("new", "b"), ("set", "b")]),
    ("incr-new", [], ("INCR", "k"), [("new", "k"), ("incrby", "k")]),
    ("incr-existing", [("SET", "k", "1")], ("INCR", "k"), [("incrby", "k")]),
    ("incrbyfloat-new", [], ("INCRBYFLOAT", "k", "1"), [("new", "k"), ("incrbyfloat", "k")]),
    ("setrange-new", [], ("SETRANGE", "k", "2", "x"), [("new", "k"), ("setrange", "k")]),
    ("setrange-empty-missing", [], ("SETRANGE", "k", "0", ""), []),
    ("append-new", [], ("APPEND", "k", "x"), [("new", "k"), ("append", "k")]),
    ("append-existing", [("SET", "k", "a")], ("APPEND", "k", "x"), [("append", "k")]),
    ("rename", [("SET", "a", "1")], ("RENAME", "a", "b"),
     [("new", "b"), ("rename_from", "a"), ("rename_to", "b")]),
    ("rename-onto-existing", [("SET", "a", "1"), ("SET", "b", "2")], ("RENAME", "a", "b"),
     [("new", "b"), ("rename_from", "a"), ("rename_to", "b")]),
    ("renamenx", [("SET", "a", "1")], ("RENAMENX", "a", "b"),
     [("new", "b"), ("rename_from", "a"), ("rename_to", "b")]),
    ("copy", [("SET", "a", "1")], ("COPY", "a", "b"), [("new", "b"), ("copy_to", "b")]),
    ("copy-replace", [("SET", "a", "1"), ("SET", "b", "2")], ("COPY", "a", "b", "REPLACE"),
     [("new", "b"), ("copy_to", "b")]),
    ("restore", [], ("RESTORE", "k", "0", PAYLOAD), [("new", "k"), ("restore", "k")]),
    ("restore-replace", [("SET", "k", "a")], ("RESTORE", "k", "0", PAYLOAD, "REPLACE"),
     [("new", "k"), ("restore", "k")]),
    ("setbit-new", [], ("SETBIT", "k", "3", "1"), [("new", "k"), ("setbit", "k")]),
    ("bitop-new", [("SET", "a", "x")], ("BITOP", "NOT", "d", "a"), [("new", "d"), ("set", "d")]),
    ("bitop-existing", [("SET", "a", "x"), ("SET", "d", "y")], ("BITOP", "NOT", "d", "a"),
     [("set", "d")]),
    ("bitfield-new", [], ("BITFIELD", "k", "SET", "u8", "0", "1"),
     [("new", "k"), ("setbit", "k")]),
    ("bitfield-overflow-fail-new", [],
     ("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "256"), [("new", "k")]),
    ("bitfield-get-only-missing", [], ("BITFIELD", "k", "GET", "u8", "0"), []),
    ("pfadd-new", [], ("PFADD", "h", "x"), [("new", "h"), ("pfadd", "h")]),
    ("pfmerge-new", [("PFADD", "a", "x")], ("PFMERGE", "d", "a"), [("new", "d"), ("pfadd", "d")]),
    ("del", [("SET", "k", "a")], ("DEL", "k"), [("del", "k")]),
]


@pytest.mark.parametrize("setup,command,events",
                         [c[1:] for c in NEW_CASES], ids=[c[0] for c in NEW_CASES])
def test_new_events_kean(ev, setup, command, events):
    cmd, sub = ev
    set_flags(cmd, "KEAn")
    assert run(cmd, sub, setup, command) == expand(events)


@pytest.mark.parametrize("setup,command,events",
                         [c[1:] for c in NEW_CASES], ids=[c[0] for c in NEW_CASES])
def test_new_events_ken(ev, setup, command, events):
    cmd, sub = ev
    set_flags(cmd, "KEn")
    assert run(cmd, sub, setup, command) == expand([e for e in events if e[0] == "new"])


def test_new_events_en_in_multi(ev):
    cmd, sub = ev
    set_flags(cmd, "En")
    assert cmd.call("MULTI") == "OK"
    for c in (("SET", "a", "1"), ("SET", "a", "2"), ("INCR", "b"), ("DEL", "a"), ("SET", "a", "3")):
        assert cmd.call(*c) == "QUEUED"
    cmd.call("EXEC")
    assert sub.collect(cmd) == [("__keyevent@0__:new", "a"), ("__keyevent@0__:new", "b"),
                                ("__keyevent@0__:new", "a")]


@pytest.mark.parametrize("command,reply,events", [
    (("SET", "k", "w"), OK, [("new", "k"), ("set", "k")]),
    (("INCR", "k"), 1, [("new", "k"), ("incrby", "k")]),
    (("APPEND", "k", "ab"), 2, [("new", "k"), ("append", "k")]),
    (("SET", "k", "w", "NX"), OK, [("new", "k"), ("set", "k")]),
    (("DEL", "k"), 0, []),
    (("EXPIRE", "k", "100"), 0, []),
    (("PERSIST", "k"), 0, []),
    (("GET", "k"), None, []),
], ids=["set", "incr", "append", "set-nx", "del", "expire", "persist", "get"])
def test_command_on_expired_key(ev, command, reply, events):
    """A key stored already expired (SET ... PXAT 1) goes with 'expired' before
    the next command on it acts (or sooner, by active expiry: the order of
    events is the same)."""
    cmd, sub = ev
    set_flags(cmd, "KEAn")
    assert cmd.call("SET", "k", "v", "PXAT", "1") == "OK"
    _check_reply(cmd.call(*command), reply, command)
    assert sub.collect(cmd) == expand(
        [("new", "k"), ("set", "k"), ("expire", "k"), ("expired", "k")] + events)


def test_ane_still_raises_new(ev):
    """CONFIG GET shows 'AnE' as 'AE', but n is in force."""
    cmd, sub = ev
    set_flags(cmd, "AnE")
    assert get_flags(cmd) == "AE"
    assert run(cmd, sub, [], ("SET", "k", "v")) == [
        ("__keyevent@0__:new", "k"), ("__keyevent@0__:set", "k")]


# ---------------------------------------------------------------------------
# CONFIG SET / GET of the flags string.

@pytest.mark.parametrize("given,shown", [
    ("", ""),
    ("KEA", "AKE"),
    ("AKE", "AKE"),
    ("E$gxn", "g$xnE"),
    ("AnE", "AE"),
    ("Kg", "gK"),
    ("E$", "$E"),
    ("Ex", "xE"),
    ("KEn", "nKE"),
    ("EK", "KE"),
    ("K", "K"),
    ("A", "A"),
    ("g$lshzxetd", "A"),
    ("KEg$lshzxetd", "AKE"),
    ("KEg$lshzxetdn", "AKE"),
    ("g$lshzxet", "g$lshzxet"),
    ("dtexzhsl$g", "A"),
    ("gg$$KK", "g$K"),
    ("Km", "Km"),
    ("mEAK", "AKEm"),
    ("nm", "nm"),
    ("x", "x"),
])
def test_config_round_trip(ev, given, shown):
    cmd, _ = ev
    set_flags(cmd, given)
    assert get_flags(cmd) == shown
    set_flags(cmd, shown)
    assert get_flags(cmd) == shown


INVALID = ("ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - "
           "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")


@pytest.mark.parametrize("value", ["KEQ", "a", "k", "G", "1", " ", "KE A", "N", "M", "\xe9"])
def test_config_invalid_character(ev, value):
    cmd, _ = ev
    set_flags(cmd, "KEA")
    assert error_of(cmd, "CONFIG", "SET", "notify-keyspace-events", value) == INVALID
    assert get_flags(cmd) == "AKE"   # unchanged


def test_config_get_glob_and_default(ev):
    cmd, _ = ev
    set_flags(cmd, "")
    assert cmd.call("CONFIG", "GET", "notify-keyspace-*") == [b"notify-keyspace-events", b""]
    set_flags(cmd, "Kx")
    assert cmd.call("CONFIG", "GET", "notify-keyspace-events") == [b"notify-keyspace-events",
                                                                   b"xK"]
    # Redis 7.0 answers with the name as it was asked for.
    assert cmd.call("CONFIG", "GET", "Notify-Keyspace-Events") == [b"Notify-Keyspace-Events",
                                                                   b"xK"]


def test_config_set_with_other_parameter_all_or_none(ev):
    cmd, _ = ev
    set_flags(cmd, "Kg")
    reply = cmd.call("CONFIG", "SET", "notify-keyspace-events", "KEA", "maxclients", "x")
    assert isinstance(reply, Error)
    assert get_flags(cmd) == "gK"


def test_default_is_empty(server):
    """Notifications are off: by default, and after every test here."""
    with server.raw() as c:
        assert get_flags(c) == ""


# ---------------------------------------------------------------------------
# Subscribers in RESP3, and several subscribers.

def test_resp3_subscriber_gets_push(server, ev):
    cmd, _ = ev
    with server.raw() as s:
        assert s.call("HELLO", "3")
        ack = s.call("PSUBSCRIBE", "__keyevent@0__:*")
        assert ack == [b"psubscribe", b"__keyevent@0__:*", 1] and isinstance(ack, flinproc.Push)
        assert s.call("SUBSCRIBE", "kev-resp3-mark") == [b"subscribe", b"kev-resp3-mark", 2]
        set_flags(cmd, "E$")
        cmd.call("SET", "k", "v")
        cmd.call("PUBLISH", "kev-resp3-mark", "1")
        m = s.read_reply()
        assert isinstance(m, flinproc.Push)
        assert m == [b"pmessage", b"__keyevent@0__:*", b"__keyevent@0__:set", b"k"]
        assert s.read_reply() == [b"message", b"kev-resp3-mark", b"1"]


def test_channel_subscription_and_pattern(server, ev):
    """An exact SUBSCRIBE to an event channel and a narrower pattern both get it."""
    cmd, sub = ev
    with server.raw() as s:
        assert s.call("SUBSCRIBE", "__keyspace@0__:k") == [b"subscribe", b"__keyspace@0__:k", 1]
        assert s.call("PSUBSCRIBE", "__keyevent@0__:s*") == [
            b"psubscribe", b"__keyevent@0__:s*", 2]
        set_flags(cmd, "KEA")
        cmd.call("SET", "k", "v")
        cmd.call("SET", "other", "v")
        cmd.call("DEL", "k")
        assert s.read_reply() == [b"message", b"__keyspace@0__:k", b"set"]
        assert s.read_reply() == [b"pmessage", b"__keyevent@0__:s*", b"__keyevent@0__:set", b"k"]
        assert s.read_reply() == [b"pmessage", b"__keyevent@0__:s*", b"__keyevent@0__:set",
                                  b"other"]
        assert s.read_reply() == [b"message", b"__keyspace@0__:k", b"del"]
    assert sub.collect(cmd) == expand([("set", "k"), ("set", "other"), ("del", "k")])


def test_binary_key(ev):
    cmd, sub = ev
    set_flags(cmd, "KEA")
    key = b"k\x00\xff\r\n"
    assert cmd.call("SET", key, "v") == "OK"
    sub.n += 1
    assert cmd.call("PUBLISH", sub.mark, str(sub.n)) == 1
    m1 = sub.conn.read_reply()
    m2 = sub.conn.read_reply()
    assert m1 == [b"pmessage", PATTERN.encode(), b"__keyspace@0__:" + key, b"set"]
    assert m2 == [b"pmessage", PATTERN.encode(), b"__keyevent@0__:set", key]
    assert sub.conn.read_reply() == [b"message", sub.mark.encode(), str(sub.n).encode()]


# ---------------------------------------------------------------------------
# Redis 7.0 behavior that Flin may deliberately not match (keymiss events on
# reads): checked against Redis; see the report of the session that added it.

KEYMISS_CASES = [
    ("get-missing", ("GET", "k"), ["k"]),
    ("get-existing", ("GET", "x"), []),
    ("mget", ("MGET", "a", "x", "b"), ["a", "b"]),
    ("strlen", ("STRLEN", "k"), ["k"]),
    ("getrange", ("GETRANGE", "k", "0", "1"), ["k"]),
    ("getex", ("GETEX", "k", "EX", "10"), ["k"]),
    ("getdel", ("GETDEL", "k"), ["k"]),
    ("getbit", ("GETBIT", "k", "1"), ["k"]),
    ("bitcount", ("BITCOUNT", "k"), ["k"]),
    ("bitpos", ("BITPOS", "k", "1"), ["k"]),
    ("bitfield-get", ("BITFIELD", "k", "GET", "u8", "0"), ["k"]),
    ("bitfield-ro", ("BITFIELD_RO", "k", "GET", "u8", "0"), ["k"]),
    ("bitop-sources", ("BITOP", "AND", "d", "a", "x", "b"), ["a", "b"]),
    ("pfcount", ("PFCOUNT", "k"), ["k"]),
    ("pfmerge-dest-and-source", ("PFMERGE", "d", "k"), ["d", "k"]),
    ("exists", ("EXISTS", "k", "x"), ["k"]),
    ("ttl", ("TTL", "k"), ["k"]),
    ("pttl", ("PTTL", "k"), ["k"]),
    ("expiretime", ("EXPIRETIME", "k"), ["k"]),
    ("pexpiretime", ("PEXPIRETIME", "k"), ["k"]),
    ("type", ("TYPE", "k"), ["k"]),
    ("dump", ("DUMP", "k"), ["k"]),
    ("copy-missing-source", ("COPY", "k", "d"), ["k"]),
    ("getset-new", ("GETSET", "k", "v"), ["k"]),
    ("set-get-new", ("SET", "k", "v", "GET"), ["k"]),
    ("eval-get", ("EVAL", "return redis.call('get', KEYS[1])", "1", "k"), ["k"]),
    # Writes that look the key up for writing raise no keymiss.
    ("incr", ("INCR", "k"), []),
    ("append", ("APPEND", "k", "a"), []),
    ("setrange", ("SETRANGE", "k", "0", "a"), []),
    ("setbit", ("SETBIT", "k", "1", "0"), []),
    ("del", ("DEL", "k"), []),
    ("unlink", ("UNLINK", "k"), []),
    ("expire", ("EXPIRE", "k", "10"), []),
    ("persist", ("PERSIST", "k"), []),
    ("rename", ("RENAME", "k", "d"), []),
    ("setnx-refused", ("SETNX", "x", "2"), []),
    ("object-encoding", ("OBJECT", "ENCODING", "k"), []),
]


@pytest.mark.parametrize("command,missed", [c[1:] for c in KEYMISS_CASES],
                         ids=[c[0] for c in KEYMISS_CASES])
def test_keymiss(ev, command, missed):
    """'keymiss' (class m) when a read finds no key, as Redis 7.0 raises it."""
    cmd, sub = ev
    cmd.call("SET", "x", "1")
    set_flags(cmd, "KEm")
    assert run(cmd, sub, [], command) == expand([("keymiss", k) for k in missed])


def test_keymiss_before_write_event(ev):
    """SET ... GET and GETSET on a new key raise keymiss, then new, then set."""
    cmd, sub = ev
    set_flags(cmd, "KEAmn")
    assert run(cmd, sub, [], ("SET", "k", "v", "GET"), None) == expand(
        [("keymiss", "k"), ("new", "k"), ("set", "k")])
    assert run(cmd, sub, [], ("GETSET", "j", "v"), None) == expand(
        [("keymiss", "j"), ("new", "j"), ("set", "j")])


def test_config_nul_ends_flags(ev):
    """Redis reads the value as a C string (and so does Flin), so
    whatever follows a NUL byte is ignored, invalid characters included."""
    cmd, _ = ev
    set_flags(cmd, "KE\x00")
    assert get_flags(cmd) == "KE"
    set_flags(cmd, "Kg\x00Q")
    assert get_flags(cmd) == "gK"
    set_flags(cmd, "\x00KEA")
    assert get_flags(cmd) == ""
