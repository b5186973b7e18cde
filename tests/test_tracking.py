"""Client-side caching (CLIENT TRACKING), as Redis 7.0 does it.

Covered: CLIENT TRACKING ON/OFF with REDIRECT, BCAST, PREFIX (repeated), OPTIN, OPTOUT, NOLOOP
and every error reply with Redis's text (PREFIX without BCAST, OPTIN with OPTOUT, OPTIN/OPTOUT
with BCAST, switching BCAST or OPTIN/OPTOUT while tracking is on, overlapping prefixes among
themselves and with the client's own, REDIRECT to nobody, two REDIRECTs, a bad ON/OFF word,
unknown options, arity); the default mode over RESP3: the `>2 invalidate [key]` push byte for
byte, one push per key read (GET MGET EXISTS STRLEN GETRANGE TTL PTTL TYPE, and a script that
reads its declared key) and written (SET DEL INCR APPEND EXPIRE PERSIST RENAME's two names
SETRANGE GETDEL MSET, a script's write), a key forgotten once invalidated, a key only written by
the tracking client not tracked, the client's own write invalidating after that write's reply
(also after EXEC), NOLOOP, many trackers of one key, binary key names; FLUSHALL and FLUSHDB as
`>2 invalidate _`; active expiry of a tracked key; OPTIN with CLIENT CACHING yes (one command
only; a MULTI/EXEC right after it has all its reads tracked), OPTOUT with CLIENT CACHING no,
CLIENT CACHING's errors; BCAST with and without prefixes, NOLOOP in BCAST; REDIRECT to a RESP2
subscriber of __redis__:invalidate (message framing), to a RESP3 client (push), to a RESP2
client that is not subscribed (nothing), several clients to one target, a redirect target that
is gone (`>2 tracking-redir-broken <id>`, TRACKINGINFO broken_redirect, CLIENT LIST flag R); a
RESP2 client with no redirect receives nothing; CLIENT GETREDIR, CLIENT TRACKINGINFO in every
mode, CLIENT LIST / CLIENT INFO flags t B R (after P and x) and redir=; CLIENT TRACKING OFF and
RESET ending invalidations; INFO tracking_clients (clients) and tracking_total_keys / _items /
_prefixes (stats); CONFIG tracking-table-max-keys and the invalidation of keys the server stops
tracking when over it; redis-py as applications use it.

Exact-wire checks use raw sockets (flinproc.RawConn frames RESP2 and RESP3, Push included;
`push()`, `message()` below build the bytes expected).  Waits are on events: a push is read with
a socket timeout, a server-side change (a closed client gone) is polled with a deadline.  That
nothing was sent is shown by a PING round trip: the server queues an invalidation to a client
before it answers the write that caused it, so once the writer has its reply, the tracking
client's next reply comes after any invalidation due.  test_invalidation_precedes_later_replies
checks that order itself.

What is left out, or kept loose, because Flin differs by design or Redis leaves it open (no test
here needs a flin_only or Redis-only mark: each one is written so both servers agree):
- Scripts: Flin tracks every key an EVAL/EVALSHA declares; Redis 7.0 tracks the declared keys
  once the script calls a read command.  Only a script that reads its declared key is tested.
- Expiry: only active expiry (the key deleted with nobody reading it) is tested, never the
  invalidation caused by reading an already expired key.
- Flin has db 0 only: no SELECT, SWAPDB, MOVE.
- BCAST: Redis gathers the keys written in one event-loop turn into one push per prefix; how
  keys are grouped into pushes is not pinned, only which keys arrive (and that nothing else does).
- Eviction over tracking-table-max-keys: Redis drops random keys; only what is deterministic is
  pinned (every read key is either invalidated once by eviction or still tracked, at most the
  limit stay tracked).
- Redis keeps a client's entries in the tracking table after it turns tracking off or leaves
  (cleaned lazily); tracking_total_keys is not checked at such points.
- Redis 7.0 bug not pinned: a FLUSHALL invalidation redirected across protocols carries the
  tracking client's null (`_` to a RESP2 subscriber, `$-1` to a RESP3 target); only
  same-protocol redirects of FLUSHALL are tested.
- redis-py: Debian's python3-redis is 4.3, without RESP3 or its client-side cache (CacheConfig
  needs redis-py >= 5.1); that part is skipped.  The RESP2 way applications use with 4.3 (a
  PubSub on __redis__:invalidate as REDIRECT target, client_tracking_on, client_trackinginfo,
  client_getredir) is tested.
"""
import pytest

from flinproc import Error, Map, Push, error_of, next_pubsub_message, wait_until

IO = 5.0   # socket timeout of the connections here: a push that never comes fails in 5 s

SYNTAX = "ERR syntax error"
NO_SUCH_REDIRECT = "ERR The client ID you want redirect to does not exist"
TWO_REDIRECTS = "ERR A client can only redirect to a single other client"
NOT_INTEGER = "ERR value is not an integer or out of range"
PREFIX_NEEDS_BCAST = "ERR PREFIX option requires BCAST mode to be enabled"
OPTIN_AND_OPTOUT = "ERR You can't specify both OPTIN mode and OPTOUT mode"
OPT_WITH_BCAST = "ERR OPTIN and OPTOUT are not compatible with BCAST"
SWITCH_BCAST = ("ERR You can't switch BCAST mode on/off before disabling tracking for this "
                "client, and then re-enabling it with a different mode.")
SWITCH_OPT = ("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this "
              "client, and then re-enabling it with a different mode.")
OVERLAP_PROVIDED = ("ERR Prefix '{}' overlaps with another provided prefix '{}'. "
                    "Prefixes for a single client must not overlap.")
OVERLAP_EXISTING = ("ERR Prefix '{}' overlaps with an existing prefix '{}'. "
                    "Prefixes for a single client must not overlap.")
CACHING_NOT_TRACKING = ("ERR CLIENT CACHING can be called only when the client is in tracking "
                        "mode with OPTIN or OPTOUT mode enabled")
CACHING_YES_NOT_OPTIN = ("ERR CLIENT CACHING YES is only valid when tracking is enabled in "
                         "OPTIN mode.")
CACHING_NO_NOT_OPTOUT = ("ERR CLIENT CACHING NO is only valid when tracking is enabled in "
                         "OPTOUT mode.")
CHANNEL = "__redis__:invalidate"
PONG = b"+PONG\r\n"


# ---------------------------------------------------------------------------
# Helpers

def _b(x):
    return x.encode() if isinstance(x, str) else x


def _bulk(x):
    x = _b(x)
    return b"$%d\r\n%s\r\n" % (len(x), x)


def _keys(keys, resp3):
    """The array of key names of an invalidation, or its null (keys=None: everything)."""
    if keys is None:
        return b"_\r\n" if resp3 else b"$-1\r\n"
    return b"*%d\r\n" % len(keys) + b"".join(_bulk(k) for k in keys)


def push(*keys, null=False):
    """The exact bytes of a RESP3 `invalidate` push of keys (null=True: FLUSHALL's null)."""
    return b">2\r\n" + _bulk("invalidate") + _keys(None if null else keys, True)


def message(*keys, null=False):
    """The exact bytes of a RESP2 message on __redis__:invalidate (null=True: `$-1`)."""
    return (b"*3\r\n" + _bulk("message") + _bulk(CHANNEL)
            + _keys(None if null else keys, False))


def redir_broken(client_id):
    return b">2\r\n" + _bulk("tracking-redir-broken") + b":%d\r\n" % client_id


def expect(c, data):
    """The next bytes on c are exactly `data` (read with the connection's timeout)."""
    got = c.read_bytes(len(data))
    assert got == data, f"expected {data[:300]!r}, got {got[:300]!r}"


def quiet(c, pong=PONG):
    """Nothing is pending on c: a PING's reply is the next thing it receives."""
    c.send_command("PING")
    expect(c, pong)


SUB_PONG = b"*2\r\n" + _bulk("pong") + _bulk("")   # PING's reply in RESP2 subscribed mode


def call_collect(c, *args):
    """Send a command; return (its reply, the pushes that came before it)."""
    c.send_command(*args)
    pushes = []
    while True:
        reply = c.read_reply()
        if isinstance(reply, Push):
            pushes.append(reply)
            continue
        return reply, pushes


def keys_of(pushes):
    """The key names of a list of `invalidate` pushes, in order (a null push: None)."""
    out = []
    for p in pushes:
        assert len(p) == 2 and p[0] == b"invalidate", p
        if p[1] is None:
            out.append(None)
        else:
            out.extend(p[1])
    return out


def read_invalidated(c, want):
    """Read `invalidate` pushes on c until every key of `want` (a set) has come; return the
    keys received, as a list (however the server grouped them into pushes)."""
    want = {_b(k) for k in want}
    got = []
    while not want <= set(got):
        p = c.read_reply()
        assert isinstance(p, Push), f"expected an invalidate push, got {p!r}"
        got.extend(keys_of([p]))
    return got


def tracking_info(c):
    """CLIENT TRACKINGINFO as a dict (RESP2 flat array or RESP3 map)."""
    reply = c.call("CLIENT", "TRACKINGINFO")
    assert not isinstance(reply, Error), reply
    if isinstance(reply, Map):
        return reply.as_dict()
    return {reply[i]: reply[i + 1] for i in range(0, len(reply), 2)}


def info_fields(c, section=None):
    text = c.call("INFO", *([section] if section else []))
    assert isinstance(text, bytes), text
    out = {}
    for line in text.decode().split("\r\n"):
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def tracking_counts(c):
    f = info_fields(c)
    return {k: int(f[k]) for k in ("tracking_clients", "tracking_total_keys",
                                    "tracking_total_items", "tracking_total_prefixes")}


def client_fields(admin, client_id):
    listing = admin.call("CLIENT", "LIST").decode()
    for ln in listing.split("\n"):
        if ln.startswith(f"id={client_id} "):
            return dict(f.split("=", 1) for f in ln.split(" "))
    return None


def gone(admin, client_id):
    """Wait (bounded) until the server has dropped a closed client."""
    wait_until(lambda: client_fields(admin, client_id) is None, 10,
               what=f"client {client_id} to be gone")




def tracker(conn, *options, proto=3):
    """A connection with CLIENT TRACKING ON options."""
    c = conn(proto)
    assert c.call("CLIENT", "TRACKING", "on", *options) == "OK"
    return c


@pytest.fixture(autouse=True)
def no_leftover_tracking(server):
    """Every test closes its connections; wait (bounded) until the server has dropped them, so
    that INFO's tracking counts start from zero."""
    if not server.alive():
        yield
        return
    with server.raw(timeout=IO) as c:
        if "tracking_clients" in info_fields(c, "clients"):
            wait_until(lambda: info_fields(c, "clients")["tracking_clients"] == "0", 10,
                       what="tracking clients of earlier tests to go")
    yield


# ---------------------------------------------------------------------------
# 1. CLIENT TRACKING's options and errors

def test_tracking_option_errors(conn):
    c, other, other2 = conn(3), conn(), conn()
    oid, oid2 = other.call("CLIENT", "ID"), other2.call("CLIENT", "ID")
    cases = [
        (("on", "PREFIX", "a"), PREFIX_NEEDS_BCAST),
        (("on", "OPTIN", "OPTOUT"), OPTIN_AND_OPTOUT),
        (("on", "BCAST", "OPTIN"), OPT_WITH_BCAST),
        (("on", "BCAST", "OPTOUT"), OPT_WITH_BCAST),
        (("on", "BCAST", "PREFIX", "a", "PREFIX", "ab"), OVERLAP_PROVIDED.format("a", "ab")),
        (("on", "BCAST", "PREFIX", "ab", "PREFIX", "a"), OVERLAP_PROVIDED.format("ab", "a")),
        (("on", "BCAST", "PREFIX", "x", "PREFIX", "y", "PREFIX", "x"),
         OVERLAP_PROVIDED.format("x", "x")),
        (("on", "REDIRECT", "99999999"), NO_SUCH_REDIRECT),
        (("on", "REDIRECT", "0"), NO_SUCH_REDIRECT),
        (("on", "REDIRECT", "abc"), NOT_INTEGER),
        (("on", "REDIRECT", oid, "REDIRECT", oid2), TWO_REDIRECTS),
        (("on", "REDIRECT", oid, "REDIRECT", oid), TWO_REDIRECTS),
        (("maybe",), SYNTAX),
        (("", ), SYNTAX),
        (("on", "FOO"), SYNTAX),
        (("off", "FOO"), SYNTAX),
        (("on", "REDIRECT"), SYNTAX),           # an option missing its value
        (("on", "BCAST", "PREFIX"), SYNTAX),
        # Options are read before the ON/OFF word; then the checks, in this order.
        (("maybe", "REDIRECT", "99999999"), NO_SUCH_REDIRECT),
        (("on", "OPTIN", "OPTOUT", "FOO"), SYNTAX),
        (("on", "PREFIX", "a", "OPTIN", "OPTOUT"), PREFIX_NEEDS_BCAST),
        (("on", "BCAST", "OPTIN", "OPTOUT"), OPT_WITH_BCAST),
        (("on", "BCAST", "PREFIX", "x", "PREFIX", "xy", "OPTIN"), OPT_WITH_BCAST),
    ]
    for args, want in cases:
        assert error_of(c, "CLIENT", "TRACKING", *args) == want, args
    assert error_of(c, "CLIENT", "TRACKING") == \
        "ERR wrong number of arguments for 'client|tracking' command"
    # None of them turned tracking on.
    assert tracking_info(c) == {b"flags": [b"off"], b"redirect": -1, b"prefixes": []}
    assert c.call("CLIENT", "GETREDIR") == -1


def test_tracking_words_and_options_are_case_insensitive(conn):
    c = conn(3)
    assert c.call("CLIENT", "TRACKING", "On", "bcast", "prefix", "Ab:", "NoLoop") == "OK"
    assert tracking_info(c) == {b"flags": [b"on", b"bcast", b"noloop"], b"redirect": 0,
                                b"prefixes": [b"Ab:"]}
    assert c.call("CLIENT", "TRACKING", "OFF") == "OK"
    assert tracking_info(c)[b"flags"] == [b"off"]
    # OFF takes (and ignores) the options ON takes; tracking off again is fine.
    assert c.call("CLIENT", "TRACKING", "off", "BCAST", "PREFIX", "x", "OPTIN", "OPTOUT") == "OK"
    assert c.call("CLIENT", "TRACKING", "off") == "OK"
    assert tracking_info(c)[b"flags"] == [b"off"]


def test_switching_modes_while_tracking_is_refused(conn):
    c = conn(3)
    assert c.call("CLIENT", "TRACKING", "on") == "OK"
    assert error_of(c, "CLIENT", "TRACKING", "on", "BCAST") == SWITCH_BCAST
    assert tracking_info(c)[b"flags"] == [b"on"]
    assert c.call("CLIENT", "TRACKING", "off") == "OK"

    assert c.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a:") == "OK"
    assert error_of(c, "CLIENT", "TRACKING", "on") == SWITCH_BCAST
    assert error_of(c, "CLIENT", "TRACKING", "on", "OPTIN") == SWITCH_BCAST
    assert tracking_info(c)[b"flags"] == [b"on", b"bcast"]
    assert c.call("CLIENT", "TRACKING", "off") == "OK"

    assert c.call("CLIENT", "TRACKING", "on", "OPTOUT") == "OK"
    assert error_of(c, "CLIENT", "TRACKING", "on", "OPTIN") == SWITCH_OPT
    assert tracking_info(c)[b"flags"] == [b"on", b"optout"]
    # The same mode again, with another option, is fine.
    assert c.call("CLIENT", "TRACKING", "on", "OPTOUT", "NOLOOP") == "OK"
    assert tracking_info(c)[b"flags"] == [b"on", b"optout", b"noloop"]
    assert c.call("CLIENT", "TRACKING", "off") == "OK"

    assert c.call("CLIENT", "TRACKING", "on", "OPTIN") == "OK"
    assert error_of(c, "CLIENT", "TRACKING", "on", "OPTOUT") == SWITCH_OPT
    assert tracking_info(c)[b"flags"] == [b"on", b"optin"]
    # ON again replaces the options: without OPTIN it is the default mode.
    assert c.call("CLIENT", "TRACKING", "on") == "OK"
    assert tracking_info(c)[b"flags"] == [b"on"]
    assert c.call("CLIENT", "TRACKING", "on", "OPTIN") == "OK"
    assert tracking_info(c)[b"flags"] == [b"on", b"optin"]


def test_bcast_prefixes_add_up_and_must_not_overlap_existing_ones(conn):
    c = conn(3)
    assert c.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a:", "PREFIX", "b:") == "OK"
    assert sorted(tracking_info(c)[b"prefixes"]) == [b"a:", b"b:"]
    # ON BCAST again adds prefixes to the client's.
    assert c.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "c:") == "OK"
    assert sorted(tracking_info(c)[b"prefixes"]) == [b"a:", b"b:", b"c:"]
    for new, held in (("a:x", "a:"), ("a", "a:"), ("b:", "b:")):
        assert error_of(c, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", new) == \
            OVERLAP_EXISTING.format(new, held)
    # Checked against the held ones first, then among the given ones.
    assert error_of(c, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "d", "PREFIX", "c:1") == \
        OVERLAP_EXISTING.format("c:1", "c:")
    assert error_of(c, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "d", "PREFIX", "d1") == \
        OVERLAP_PROVIDED.format("d", "d1")
    assert sorted(tracking_info(c)[b"prefixes"]) == [b"a:", b"b:", b"c:"]
    # After OFF, the prefixes are gone.
    assert c.call("CLIENT", "TRACKING", "off") == "OK"
    assert c.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a") == "OK"
    assert tracking_info(c)[b"prefixes"] == [b"a"]


# ---------------------------------------------------------------------------
# 2. The default mode over RESP3

def test_invalidate_push_wire_and_key_forgotten_after_it(conn, r):
    t = tracker(conn)
    assert t.call("GET", "k") is None            # a missing key is tracked too
    assert r.set("k", "1")
    expect(t, push("k"))
    # Invalidated once, the key is no longer tracked: the next write sends nothing.
    assert r.set("k", "2")
    quiet(t)
    # Read again, tracked again.
    assert t.call("GET", "k") == b"2"
    assert r.set("k", "3")
    expect(t, push("k"))
    quiet(t)


def test_invalidation_precedes_later_replies(conn, r):
    """Once a write is answered, every tracking client has the invalidation before the reply
    to its next command: a client cannot read a stale cached value after the write is done."""
    t = tracker(conn)
    b = tracker(conn, "BCAST", "PREFIX", "k")
    for i in range(20):
        assert t.call("GET", "k") in (None, str(i - 1).encode())
        assert r.set("k", str(i))
        t.send_command("PING")
        expect(t, push("k") + PONG)
        b.send_command("PING")
        expect(b, push("k") + PONG)


@pytest.mark.parametrize("read", [
    ("MGET", "nothing", "k"), ("EXISTS", "k"), ("STRLEN", "k"), ("GETRANGE", "k", "0", "1"),
    ("TTL", "k"), ("PTTL", "k"), ("TYPE", "k"), ("GET", "k"),
], ids=lambda a: a[0])
def test_read_commands_track_their_keys(conn, r, read):
    r.set("k", "value")
    t = tracker(conn)
    assert not isinstance(t.call(*read), Error)
    assert r.set("k", "other")
    expect(t, push("k"))
    quiet(t)


def test_mget_tracks_every_key_one_push_each(conn, r):
    t = tracker(conn)
    assert t.call("MGET", "a", "b", "c") == [None, None, None]
    assert r.mset({"c": 1, "a": 2, "zz": 3})
    expect(t, push("c") + push("a"))            # in the order the write touched them
    quiet(t)
    assert r.set("b", 1)
    expect(t, push("b"))
    quiet(t)


def test_a_key_only_written_by_the_tracking_client_is_not_tracked(conn, r):
    t = tracker(conn)
    assert t.call("SET", "w", "1") == "OK"
    assert t.call("INCR", "w") == 2
    assert r.set("w", "x")
    quiet(t)
    # Nor do commands that read no key's value track anything.
    for cmd in (("DBSIZE",), ("KEYS", "*"), ("SCAN", "0"), ("RANDOMKEY",)):
        assert not isinstance(t.call(*cmd), Error), cmd
    assert r.set("w", "y")
    quiet(t)


# (setup on r, keys the tracker reads, the write on r, the keys invalidated in order)
WRITES = [
    ("SET", [("SET", "k", "1")], ["k"], ("SET", "k", "2"), ["k"]),
    ("DEL", [("SET", "k", "1")], ["k"], ("DEL", "k"), ["k"]),
    ("DEL-many", [("MSET", "k", "1", "j", "2")], ["k", "j"], ("DEL", "j", "nothing", "k"),
     ["j", "k"]),
    ("INCR", [("SET", "k", "1")], ["k"], ("INCR", "k"), ["k"]),
    ("APPEND", [("SET", "k", "1")], ["k"], ("APPEND", "k", "x"), ["k"]),
    ("EXPIRE", [("SET", "k", "1")], ["k"], ("EXPIRE", "k", "100"), ["k"]),
    ("PERSIST", [("SET", "k", "1", "EX", "100")], ["k"], ("PERSIST", "k"), ["k"]),
    ("RENAME", [("SET", "k", "1"), ("SET", "j", "2")], ["k", "j"], ("RENAME", "k", "j"),
     ["k", "j"]),
    ("SETRANGE", [("SET", "k", "hello")], ["k"], ("SETRANGE", "k", "1", "EY"), ["k"]),
    ("GETDEL", [("SET", "k", "1")], ["k"], ("GETDEL", "k"), ["k"]),
    ("MSET", [], ["k", "j", "i"], ("MSET", "i", "1", "x", "2", "k", "3"), ["i", "k"]),
]


@pytest.mark.parametrize("setup,reads,write,invalidated", [w[1:] for w in WRITES],
                         ids=[w[0] for w in WRITES])
def test_writes_invalidate_tracked_keys(conn, r, setup, reads, write, invalidated):
    for cmd in setup:
        r.execute_command(*cmd)
    t = tracker(conn)
    for k in reads:
        t.call("GET", k)
    assert not isinstance(r.execute_command(*write), Error)
    expect(t, b"".join(push(k) for k in invalidated))
    quiet(t)


def test_rename_invalidates_the_new_name_even_if_only_it_was_read(conn, r):
    r.set("src", "1")
    t = tracker(conn)
    assert t.call("GET", "dst") is None
    assert r.rename("src", "dst")
    expect(t, push("dst"))
    quiet(t)


def test_own_write_invalidates_after_its_reply(conn, r):
    t = tracker(conn)
    assert t.call("GET", "k") is None
    t.send_command("SET", "k", "1")
    expect(t, b"+OK\r\n" + push("k"))
    assert t.call("GET", "k") == b"1"
    t.send_command("INCR", "k")
    expect(t, b":2\r\n" + push("k"))
    # In a transaction: after EXEC's reply, not among the queued commands' replies.
    assert t.call("GET", "k") == b"2"
    t.send_command("MULTI")
    t.send_command("INCR", "k")
    t.send_command("GET", "other")
    t.send_command("EXEC")
    expect(t, b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:3\r\n_\r\n" + push("k"))
    # Another tracking client is told too.
    u = tracker(conn)
    assert u.call("GET", "k") == b"3"
    assert t.call("GET", "k") == b"3"
    t.send_command("DEL", "k")
    expect(t, b":1\r\n" + push("k"))
    expect(u, push("k"))
    quiet(t)
    quiet(u)


def test_noloop_skips_the_clients_own_writes(conn, r):
    t = tracker(conn, "NOLOOP")
    assert t.call("MGET", "mine", "theirs") == [None, None]
    assert t.call("SET", "mine", "1") == "OK"
    quiet(t)
    assert r.set("theirs", "1")
    expect(t, push("theirs"))
    quiet(t)
    # Another (looping) tracker of the same key is told of the NOLOOP client's write.
    u = tracker(conn)
    assert u.call("GET", "k") is None
    assert t.call("GET", "k") is None
    t.send_command("SET", "k", "2")
    expect(t, b"+OK\r\n")
    expect(u, push("k"))
    quiet(t)
    quiet(u)


def test_scripts_track_a_key_they_read_and_invalidate_keys_they_write(conn, r):
    t = tracker(conn)
    read = "return redis.call('GET', KEYS[1])"
    sha = r.script_load(read)
    r.mset({"s1": "1", "s2": "2"})
    assert t.call("EVAL", read, "1", "s1") == b"1"
    assert t.call("EVALSHA", sha, "1", "s2") == b"2"
    assert r.mset({"s2": "x", "s1": "y"})
    expect(t, push("s2") + push("s1"))
    quiet(t)
    # A script's write invalidates; the script's own client gets it after the reply.
    assert t.call("GET", "s1") == b"y"
    assert r.eval("return redis.call('SET', KEYS[1], ARGV[1])", 1, "s1", "z")
    expect(t, push("s1"))
    assert t.call("GET", "s1") == b"z"
    e = t.call("EVAL", "return redis.call('INCR', KEYS[1])", "1", "s1")
    assert isinstance(e, Error) and e.startswith(NOT_INTEGER), e
    quiet(t)                                      # a failed write changes nothing
    t.send_command("EVAL", "return redis.call('APPEND', KEYS[1], 'z')", "1", "s1")
    expect(t, b":2\r\n" + push("s1"))
    quiet(t)


def test_many_tracking_clients_each_get_the_invalidation(conn, r):
    ts = [tracker(conn) for _ in range(8)]
    for t in ts:
        assert t.call("GET", "shared") is None
    assert r.set("shared", "1")
    for t in ts:
        expect(t, push("shared"))
        quiet(t)


def test_binary_key_names(conn, r):
    t = tracker(conn)
    key = b"bin\x00\r\n\xff key"
    assert t.call("GET", key) is None
    assert r.set(key, "1")
    expect(t, push(key))
    quiet(t)


# ---------------------------------------------------------------------------
# 3. FLUSHALL / FLUSHDB

def test_flushall_and_flushdb_invalidate_everything_with_a_null(conn, r):
    plain = tracker(conn)
    reader = tracker(conn)
    bcast = tracker(conn, "BCAST", "PREFIX", "p:")
    optin = tracker(conn, "OPTIN")
    assert reader.call("GET", "k") is None
    assert r.flushall()
    for t in (plain, reader, bcast, optin):      # every tracking client, whatever it read
        expect(t, push(null=True))
        quiet(t)
    assert r.flushdb()
    for t in (plain, reader, bcast, optin):
        expect(t, push(null=True))
        quiet(t)
    # FLUSHALL forgets every tracked key: a later write sends nothing.
    assert r.set("k", "1")
    quiet(reader)
    # The flushing client's own invalidation comes after its reply.
    plain.send_command("FLUSHALL")
    expect(plain, b"+OK\r\n" + push(null=True))
    expect(reader, push(null=True))
    quiet(plain)
    # A client not tracking (or tracking in RESP2 without redirect) is told nothing.
    off = conn(3)
    resp2 = tracker(conn, proto=2)
    assert r.flushall()
    quiet(off)
    quiet(resp2)
    expect(plain, push(null=True))


def test_flushall_reaches_redirect_targets_of_the_same_protocol(conn, r):
    sub = conn()
    sub_id = sub.call("CLIENT", "ID")
    assert sub.call("SUBSCRIBE", CHANNEL) == [b"subscribe", CHANNEL.encode(), 1]
    target = conn(3)
    target_id = target.call("CLIENT", "ID")
    tracker(conn, "REDIRECT", sub_id, proto=2)
    tracker(conn, "REDIRECT", target_id, proto=3)
    assert r.flushall()
    expect(sub, message(null=True))
    expect(target, push(null=True))
    quiet(sub, SUB_PONG)
    quiet(target)


# ---------------------------------------------------------------------------
# 4. Expiry

def test_active_expiry_invalidates_a_tracked_key(conn, r):
    t = tracker(conn)
    b = tracker(conn, "BCAST", "PREFIX", "e")
    assert r.set("e", "v", px=300)
    expect(b, push("e"))                          # the SET itself
    assert t.call("GET", "e") == b"v"
    # Nobody touches it again: the server deletes it when it expires and says so (both the
    # reader and the BCAST client); read with a 5 s timeout.
    expect(t, push("e"))
    expect(b, push("e"))
    assert r.exists("e") == 0
    quiet(t)
    quiet(b)


# ---------------------------------------------------------------------------
# 5. OPTIN / OPTOUT and CLIENT CACHING

def test_optin_tracks_only_the_command_after_caching_yes(conn, r):
    t = tracker(conn, "OPTIN")
    assert t.call("GET", "k1") is None            # not tracked
    assert r.set("k1", "x")
    quiet(t)
    assert t.call("CLIENT", "CACHING", "yes") == "OK"
    assert t.call("GET", "k1") == b"x"            # tracked
    assert t.call("GET", "k2") is None            # the flag is spent: not tracked
    assert r.mset({"k1": "1", "k2": "2"})
    expect(t, push("k1"))
    quiet(t)
    # Any other command spends it as well.
    assert t.call("CLIENT", "CACHING", "YES") == "OK"
    assert t.call("PING") == "PONG"
    assert t.call("GET", "k1") == b"1"
    assert r.set("k1", "3")
    quiet(t)
    # MGET after CACHING yes: all its keys.
    assert t.call("CLIENT", "CACHING", "yes") == "OK"
    assert t.call("MGET", "k1", "k2") == [b"3", b"2"]
    assert r.mset({"k2": "a", "k1": "b"})
    expect(t, push("k2") + push("k1"))
    quiet(t)


def test_optin_caching_yes_before_multi_tracks_every_read_of_the_transaction(conn, r):
    t = tracker(conn, "OPTIN")
    assert t.call("CLIENT", "CACHING", "yes") == "OK"
    assert t.call("MULTI") == "OK"
    assert t.call("GET", "m1") == "QUEUED"
    assert t.call("GET", "m2") == "QUEUED"
    assert t.call("EXEC") == [None, None]
    assert t.call("GET", "m3") is None            # after EXEC the flag is spent
    assert r.mset({"m1": 1, "m2": 2, "m3": 3})
    expect(t, push("m1") + push("m2"))
    quiet(t)


def test_optout_tracks_all_but_the_command_after_caching_no(conn, r):
    t = tracker(conn, "OPTOUT")
    assert t.call("GET", "o1") is None            # tracked
    assert r.set("o1", "x")
    expect(t, push("o1"))
    quiet(t)
    assert t.call("CLIENT", "CACHING", "no") == "OK"
    assert t.call("GET", "o1") == b"x"            # not tracked
    assert t.call("GET", "o2") is None            # tracked again
    assert r.mset({"o1": "1", "o2": "2"})
    expect(t, push("o2"))
    quiet(t)


def test_caching_flag_shows_in_trackinginfo_until_the_next_command(conn):
    t = tracker(conn, "OPTIN")
    assert t.call("CLIENT", "CACHING", "yes") == "OK"
    assert tracking_info(t)[b"flags"] == [b"on", b"optin", b"caching-yes"]
    assert t.call("GET", "k") is None
    assert tracking_info(t)[b"flags"] == [b"on", b"optin"]
    u = tracker(conn, "OPTOUT")
    assert u.call("CLIENT", "CACHING", "no") == "OK"
    assert tracking_info(u)[b"flags"] == [b"on", b"optout", b"caching-no"]
    assert u.call("GET", "k") is None
    assert tracking_info(u)[b"flags"] == [b"on", b"optout"]


def test_client_caching_errors(conn):
    c = conn(3)
    # Not tracking: this error whatever the argument.
    for arg in ("yes", "no", "maybe"):
        assert error_of(c, "CLIENT", "CACHING", arg) == CACHING_NOT_TRACKING, arg
    assert error_of(c, "CLIENT", "CACHING") == \
        "ERR wrong number of arguments for 'client|caching' command"
    assert error_of(c, "CLIENT", "CACHING", "yes", "no") == \
        "ERR wrong number of arguments for 'client|caching' command"
    assert c.call("CLIENT", "TRACKING", "on") == "OK"
    assert error_of(c, "CLIENT", "CACHING", "yes") == CACHING_YES_NOT_OPTIN
    assert error_of(c, "CLIENT", "CACHING", "no") == CACHING_NO_NOT_OPTOUT
    assert error_of(c, "CLIENT", "CACHING", "maybe") == SYNTAX
    assert c.call("CLIENT", "TRACKING", "off") == "OK"
    assert c.call("CLIENT", "TRACKING", "on", "OPTIN") == "OK"
    assert error_of(c, "CLIENT", "CACHING", "no") == CACHING_NO_NOT_OPTOUT
    assert error_of(c, "CLIENT", "CACHING", "maybe") == SYNTAX
    assert c.call("CLIENT", "TRACKING", "off") == "OK"
    assert c.call("CLIENT", "TRACKING", "on", "OPTOUT") == "OK"
    assert error_of(c, "CLIENT", "CACHING", "yes") == CACHING_YES_NOT_OPTIN
    assert c.call("CLIENT", "CACHING", "No") == "OK"
    assert c.call("CLIENT", "TRACKING", "off") == "OK"
    assert c.call("CLIENT", "TRACKING", "on", "BCAST") == "OK"
    assert error_of(c, "CLIENT", "CACHING", "yes") == CACHING_YES_NOT_OPTIN
    assert error_of(c, "CLIENT", "CACHING", "no") == CACHING_NO_NOT_OPTOUT


# ---------------------------------------------------------------------------
# 6. BCAST

def test_bcast_prefixes_get_writes_without_reads(conn, r):
    b = tracker(conn, "BCAST", "PREFIX", "a:", "PREFIX", "b:")
    assert r.set("a:1", "x")
    expect(b, push("a:1"))
    assert r.set("c:1", "x")
    quiet(b)
    assert r.set("b:zz", "x")
    expect(b, push("b:zz"))
    quiet(b)
    # Reading does not track in BCAST mode: a read key of another prefix stays silent.
    assert b.call("GET", "c:1") == b"x"
    assert r.set("c:1", "y")
    quiet(b)
    # One write of several keys: the keys under the prefixes, however grouped into pushes.
    assert r.mset({"a:1": 1, "b:2": 2, "a:3": 3, "c:3": 4})
    got = read_invalidated(b, {"a:1", "a:3", "b:2"})
    assert sorted(got) == [b"a:1", b"a:3", b"b:2"]
    quiet(b)
    # Each write invalidates again (nothing is forgotten as in the default mode).
    for i in range(3):
        assert r.incr("a:counter")
        expect(b, push("a:counter"))
    quiet(b)


def test_bcast_without_prefix_gets_every_key(conn, r):
    b = tracker(conn, "BCAST")
    assert tracking_info(b)[b"prefixes"] == [b""]
    for key in ("x", "a:1", "", "zzz"):
        assert r.set(key, "v")
        expect(b, push(key))
    assert r.delete("x") == 1
    expect(b, push("x"))
    quiet(b)


def test_bcast_own_writes_and_noloop(conn, r):
    b = tracker(conn, "BCAST")
    b.send_command("SET", "own", "1")
    expect(b, b"+OK\r\n" + push("own"))           # its own write, after the reply
    quiet(b)
    n = tracker(conn, "BCAST", "NOLOOP")
    assert n.call("SET", "mine", "1") == "OK"
    expect(b, push("mine"))
    quiet(n)                                      # not told of its own write
    assert r.set("other", "1")
    expect(n, push("other"))
    expect(b, push("other"))
    # A write by n of two keys, one of them written by someone else after: only that one.
    n.send_command("MSET", "mine", "2", "mine2", "2")
    expect(n, b"+OK\r\n")
    assert r.set("mine2", "3")
    got = read_invalidated(n, {"mine2"})
    assert got == [b"mine2"]
    quiet(n)
    assert sorted(read_invalidated(b, {"mine", "mine2"})) == [b"mine", b"mine2"]


# ---------------------------------------------------------------------------
# 7. REDIRECT

@pytest.mark.parametrize("proto", [2, 3])
def test_redirect_to_a_resp2_subscriber(conn, r, proto):
    sub = conn()
    sub_id = sub.call("CLIENT", "ID")
    assert sub.call("SUBSCRIBE", CHANNEL) == [b"subscribe", CHANNEL.encode(), 1]
    t = tracker(conn, "REDIRECT", sub_id, proto=proto)
    assert t.call("CLIENT", "GETREDIR") == sub_id
    assert t.call("GET", "k") is None
    assert r.set("k", "1")
    expect(sub, message("k"))
    quiet(sub, SUB_PONG)
    quiet(t)                                      # nothing on the tracking client itself
    # Its own write: the message goes to the subscriber too.
    assert t.call("GET", "k") == b"1"
    assert t.call("SET", "k", "2") == "OK"
    expect(sub, message("k"))
    quiet(t)
    # BCAST redirected as well.
    assert t.call("CLIENT", "TRACKING", "off") == "OK"
    assert t.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "b:", "REDIRECT",
                  sub_id) == "OK"
    assert r.set("b:1", "1")
    expect(sub, message("b:1"))
    quiet(sub, SUB_PONG)


def test_redirect_to_a_resp3_client_is_a_push(conn, r):
    target = conn(3)
    target_id = target.call("CLIENT", "ID")
    t = tracker(conn, "REDIRECT", target_id, proto=2)
    assert t.call("GET", "k") is None
    assert r.set("k", "1")
    expect(target, push("k"))
    quiet(target)
    quiet(t)
    # Subscribed or not, a RESP3 target gets the push form.
    target.send_command("SUBSCRIBE", CHANNEL)
    assert target.read_reply() == [b"subscribe", CHANNEL.encode(), 1]
    assert t.call("GET", "k") == b"1"
    assert r.set("k", "2")
    expect(target, push("k"))
    quiet(target)


def test_redirect_to_a_resp2_client_not_subscribed_sends_nothing(conn, r):
    target = conn()
    target_id = target.call("CLIENT", "ID")
    t = tracker(conn, "REDIRECT", target_id, proto=2)
    assert t.call("GET", "k") is None
    assert r.set("k", "1")
    quiet(target)
    quiet(t)


def test_resp2_tracking_without_redirect_receives_nothing(conn, r):
    t = tracker(conn, proto=2)
    assert t.call("GET", "k") is None
    assert r.set("k", "1")
    quiet(t)
    assert t.call("GET", "k") == b"1"
    t.send_command("SET", "k", "2")
    expect(t, b"+OK\r\n")
    quiet(t)
    assert r.flushall()
    quiet(t)


def test_several_clients_redirect_to_one_target(conn, r):
    sub = conn()
    sub_id = sub.call("CLIENT", "ID")
    assert sub.call("SUBSCRIBE", CHANNEL) == [b"subscribe", CHANNEL.encode(), 1]
    t1 = tracker(conn, "REDIRECT", sub_id, proto=2)
    t2 = tracker(conn, "REDIRECT", sub_id, proto=2)
    assert t1.call("GET", "k1") is None
    assert t2.call("GET", "k2") is None
    assert r.incr("k1") == 1
    assert r.incr("k2") == 1
    expect(sub, message("k1") + message("k2"))
    quiet(sub, SUB_PONG)


def test_broken_redirect(conn, r):
    admin = conn()
    target = conn()
    target_id = target.call("CLIENT", "ID")
    t = tracker(conn, "REDIRECT", target_id)
    t_id = t.call("CLIENT", "ID")
    assert t.call("GET", "k") is None
    assert client_fields(admin, t_id)["flags"] == "t"
    target.close()
    gone(admin, target_id)
    # Not yet known to be broken: nothing was to be sent.
    assert tracking_info(t) == {b"flags": [b"on"], b"redirect": target_id, b"prefixes": []}
    assert r.set("k", "1")
    expect(t, redir_broken(target_id))
    quiet(t)
    assert tracking_info(t) == {b"flags": [b"on", b"broken_redirect"],
                                b"redirect": target_id, b"prefixes": []}
    assert t.call("CLIENT", "GETREDIR") == target_id
    fields = client_fields(admin, t_id)
    assert (fields["flags"], fields["redir"]) == ("tR", str(target_id))
    # Each invalidation that cannot be delivered says so again.
    assert t.call("GET", "k") == b"1"
    assert r.set("k", "2")
    expect(t, redir_broken(target_id))
    quiet(t)
    # Tracking on again (no redirect) clears it.
    assert t.call("CLIENT", "TRACKING", "on") == "OK"
    assert tracking_info(t) == {b"flags": [b"on"], b"redirect": 0, b"prefixes": []}
    assert client_fields(admin, t_id)["flags"] == "t"


def test_broken_redirect_in_bcast_mode(conn, r):
    admin = conn()
    target = conn()
    target_id = target.call("CLIENT", "ID")
    t = tracker(conn, "BCAST", "NOLOOP", "REDIRECT", target_id)
    t_id = t.call("CLIENT", "ID")
    target.close()
    gone(admin, target_id)
    assert r.set("x", "1")
    expect(t, redir_broken(target_id))
    quiet(t)
    assert tracking_info(t) == {b"flags": [b"on", b"bcast", b"noloop", b"broken_redirect"],
                                b"redirect": target_id, b"prefixes": [b""]}
    assert client_fields(admin, t_id)["flags"] == "tRB"


def test_broken_redirect_tells_a_resp2_client_nothing(conn, r):
    admin = conn()
    target = conn()
    target_id = target.call("CLIENT", "ID")
    t = tracker(conn, "REDIRECT", target_id, proto=2)
    assert t.call("GET", "k") is None
    target.close()
    gone(admin, target_id)
    assert r.set("k", "1")
    quiet(t)
    assert tracking_info(t)[b"flags"] == [b"on", b"broken_redirect"]


# ---------------------------------------------------------------------------
# 8. GETREDIR, TRACKINGINFO, CLIENT LIST / INFO

def test_getredir_and_trackinginfo_in_every_mode(conn):
    other = conn()
    oid = other.call("CLIENT", "ID")
    c = conn(3)

    def mode(*options):
        assert c.call("CLIENT", "TRACKING", "off") == "OK"
        if options:
            assert c.call("CLIENT", "TRACKING", "on", *options) == "OK"
        return tracking_info(c), c.call("CLIENT", "GETREDIR")

    assert mode() == ({b"flags": [b"off"], b"redirect": -1, b"prefixes": []}, -1)
    assert mode("REDIRECT", oid) == ({b"flags": [b"on"], b"redirect": oid, b"prefixes": []}, oid)
    assert mode("NOLOOP") == ({b"flags": [b"on", b"noloop"], b"redirect": 0, b"prefixes": []},
                              0)
    info, redir = mode("BCAST", "PREFIX", "foo", "PREFIX", "bar")
    assert (info[b"flags"], info[b"redirect"], sorted(info[b"prefixes"]), redir) == \
        ([b"on", b"bcast"], 0, [b"bar", b"foo"], 0)
    assert mode("BCAST")[0] == {b"flags": [b"on", b"bcast"], b"redirect": 0, b"prefixes": [b""]}
    assert mode("OPTIN")[0] == {b"flags": [b"on", b"optin"], b"redirect": 0, b"prefixes": []}
    assert c.call("CLIENT", "CACHING", "yes") == "OK"
    assert tracking_info(c)[b"flags"] == [b"on", b"optin", b"caching-yes"]
    assert mode("OPTOUT", "NOLOOP", "REDIRECT", oid)[0] == \
        {b"flags": [b"on", b"optout", b"noloop"], b"redirect": oid, b"prefixes": []}
    assert c.call("CLIENT", "CACHING", "no") == "OK"
    assert tracking_info(c)[b"flags"] == [b"on", b"optout", b"caching-no", b"noloop"]
    assert mode("BCAST", "NOLOOP", "PREFIX", "p")[0] == \
        {b"flags": [b"on", b"bcast", b"noloop"], b"redirect": 0, b"prefixes": [b"p"]}
    # RESP2: the same, as a flat array.
    c2 = conn()
    assert c2.call("CLIENT", "TRACKINGINFO") == [b"flags", [b"off"], b"redirect", -1,
                                                 b"prefixes", []]
    assert c2.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "q") == "OK"
    assert c2.call("CLIENT", "TRACKINGINFO") == [b"flags", [b"on", b"bcast"], b"redirect", 0,
                                                 b"prefixes", [b"q"]]
    assert error_of(c, "CLIENT", "GETREDIR", "x") == \
        "ERR wrong number of arguments for 'client|getredir' command"
    assert error_of(c, "CLIENT", "TRACKINGINFO", "x") == \
        "ERR wrong number of arguments for 'client|trackinginfo' command"


def test_client_list_and_info_flags(conn):
    admin = conn()
    other = conn()
    oid = other.call("CLIENT", "ID")
    c = conn(3)
    cid = c.call("CLIENT", "ID")

    def fields():
        f = client_fields(admin, cid)
        return f["flags"], f["redir"]

    def own_info():
        text = c.call("CLIENT", "INFO")     # RESP3: a verbatim string, "txt:" first
        text = text[4:] if text.startswith(b"txt:") else text
        f = dict(x.split("=", 1) for x in text.decode().strip().split(" "))
        return f["flags"], f["redir"]

    assert fields() == ("N", "-1") == own_info()
    assert c.call("CLIENT", "TRACKING", "on") == "OK"
    assert fields() == ("t", "0") == own_info()
    assert c.call("CLIENT", "TRACKING", "on", "REDIRECT", oid) == "OK"
    assert fields() == ("t", str(oid)) == own_info()
    assert c.call("CLIENT", "TRACKING", "off") == "OK"
    assert c.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a") == "OK"
    assert fields() == ("tB", "0") == own_info()
    # After P (subscribed) and x (in MULTI).
    assert c.call("MULTI") == "OK"
    assert fields() == ("xtB", "0")
    assert c.call("DISCARD") == "OK"
    c.send_command("SUBSCRIBE", "ch")
    assert c.read_reply() == [b"subscribe", b"ch", 1]
    assert fields() == ("PtB", "0") == own_info()
    assert c.call("CLIENT", "TRACKING", "off") == "OK"
    assert fields() == ("P", "-1")


# ---------------------------------------------------------------------------
# 9. Turning tracking off; RESET

def test_tracking_off_ends_invalidations(conn, r):
    t = tracker(conn)
    assert t.call("MGET", "k", "j") == [None, None]
    assert t.call("CLIENT", "TRACKING", "off") == "OK"
    assert r.mset({"k": 1, "j": 2})
    quiet(t)
    assert r.flushall()
    quiet(t)
    b = tracker(conn, "BCAST")
    assert b.call("CLIENT", "TRACKING", "off") == "OK"
    assert r.set("k", "1")
    quiet(b)


def test_reset_turns_tracking_off(conn, r):
    t = tracker(conn, "OPTIN")
    assert t.call("CLIENT", "CACHING", "yes") == "OK"
    assert t.call("GET", "k") is None
    assert t.call("RESET") == "RESET"
    assert tracking_info(t) == {b"flags": [b"off"], b"redirect": -1, b"prefixes": []}
    assert t.call("CLIENT", "GETREDIR") == -1
    assert r.set("k", "1")
    quiet(t)                                      # (RESET also went back to RESP2)
    b = tracker(conn, "BCAST", "PREFIX", "p")
    assert b.call("RESET") == "RESET"
    assert r.set("p1", "1")
    quiet(b)
    assert tracking_info(b)[b"flags"] == [b"off"]


# ---------------------------------------------------------------------------
# 10. INFO

def test_info_tracking_fields(conn, r):
    admin = conn()
    assert "tracking_clients" in info_fields(admin, "clients")
    stats = info_fields(admin, "stats")
    for name in ("tracking_total_keys", "tracking_total_items", "tracking_total_prefixes"):
        assert name in stats, name

    def counts():
        return tuple(tracking_counts(admin).values())   # clients, keys, items, prefixes

    assert counts() == (0, 0, 0, 0)
    t1 = tracker(conn)
    assert t1.call("CLIENT", "TRACKING", "on") == "OK"     # on again: still one client
    assert counts() == (1, 0, 0, 0)
    assert t1.call("GET", "a") is None
    assert t1.call("MGET", "b", "c", "a") == [None, None, None]
    assert counts() == (1, 3, 3, 0)
    t2 = tracker(conn)
    assert t2.call("GET", "a") is None
    assert counts() == (2, 3, 4, 0)               # one more (key, client) pair
    assert r.set("a", "1")                        # a is forgotten for both
    expect(t1, push("a"))
    expect(t2, push("a"))
    assert counts() == (2, 2, 2, 0)
    b1 = tracker(conn, "BCAST", "PREFIX", "p:", "PREFIX", "q:")
    assert counts() == (3, 2, 2, 2)
    b2 = tracker(conn, "BCAST", "PREFIX", "p:")
    assert counts() == (4, 2, 2, 2)               # prefixes are counted once
    assert b2.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "r:") == "OK"
    assert counts() == (4, 2, 2, 3)
    assert b1.call("CLIENT", "TRACKING", "off") == "OK"
    assert counts()[0] == 3 and counts()[3] == 2  # p: r: of b2
    b2_id = b2.call("CLIENT", "ID")
    b2.close()
    gone(admin, b2_id)
    assert counts()[0] == 2 and counts()[3] == 0
    assert t2.call("RESET") == "RESET"
    assert counts()[0] == 1
    assert r.flushall()
    expect(t1, push(null=True))
    assert counts() == (1, 0, 0, 0)
    assert t1.call("CLIENT", "TRACKING", "off") == "OK"
    assert counts()[0] == 0


# ---------------------------------------------------------------------------
# 11. tracking-table-max-keys

def test_tracking_table_max_keys_config(conn):
    admin = conn()
    assert admin.call("CONFIG", "GET", "tracking-table-max-keys") == \
        [b"tracking-table-max-keys", b"1000000"]
    try:
        assert admin.call("CONFIG", "SET", "tracking-table-max-keys", "10") == "OK"
        assert admin.call("CONFIG", "GET", "tracking-table-max-keys") == \
            [b"tracking-table-max-keys", b"10"]
        assert admin.call("CONFIG", "SET", "tracking-table-max-keys", "0") == "OK"  # no limit
        assert admin.call("CONFIG", "GET", "tracking-table-max-keys") == \
            [b"tracking-table-max-keys", b"0"]
        for bad in ("-1", "abc", ""):
            e = error_of(admin, "CONFIG", "SET", "tracking-table-max-keys", bad)
            assert e.startswith("ERR CONFIG SET failed (possibly related to argument "
                                "'tracking-table-max-keys')"), (bad, e)
        assert admin.call("CONFIG", "GET", "tracking-table-max-keys") == \
            [b"tracking-table-max-keys", b"0"]
    finally:
        admin.call("CONFIG", "SET", "tracking-table-max-keys", "1000000")


def test_keys_over_the_limit_are_invalidated(conn, r):
    admin = conn()
    limit, n = 10, 50
    assert admin.call("CONFIG", "SET", "tracking-table-max-keys", str(limit)) == "OK"
    try:
        t = tracker(conn)
        names = [f"ev:{i}".encode() for i in range(n)]
        evicted = []
        for name in names:
            reply, pushes = call_collect(t, "GET", name)
            assert reply is None
            evicted += keys_of(pushes)
        wait_until(lambda: tracking_counts(admin)["tracking_total_keys"] <= limit, 10,
                   what=f"tracking_total_keys <= {limit}")
        reply, pushes = call_collect(t, "PING")
        assert reply == "PONG"
        evicted += keys_of(pushes)
        # Each key the server stopped tracking was invalidated once; the others are tracked.
        assert len(evicted) == len(set(evicted)), evicted
        assert set(evicted) <= set(names), evicted
        kept = [k for k in names if k not in set(evicted)]
        assert len(kept) == tracking_counts(admin)["tracking_total_keys"] <= limit
        assert len(evicted) >= n - limit
        # A write of every key invalidates exactly the kept ones.
        assert r.mset({k: "v" for k in names})
        reply, pushes = call_collect(t, "PING")
        assert reply == "PONG"
        assert sorted(keys_of(pushes)) == sorted(kept)
        assert tracking_counts(admin)["tracking_total_keys"] == 0
    finally:
        admin.call("CONFIG", "SET", "tracking-table-max-keys", "1000000")


# ---------------------------------------------------------------------------
# 12. redis-py as applications use it (4.3: RESP2, invalidations redirected to a PubSub)

def test_redis_py_cache_with_a_redirected_pubsub(server, r):
    admin = server.client(decode_responses=True)
    listener = server.client(client_name="csc-invalidations")
    ps = listener.pubsub()
    app = server.client(single_connection_client=True)   # tracking is per connection
    try:
        ps.subscribe(CHANNEL)
        assert next_pubsub_message(ps, IO)["type"] == "subscribe"
        ps_id = next(c["id"] for c in admin.client_list()
                     if c["name"] == "csc-invalidations")
        assert app.client_tracking_on(clientid=ps_id)
        assert app.client_getredir() == int(ps_id)
        info = app.client_trackinginfo()
        assert info[:2] == ["flags", [b"on"]] and info[2:4] == ["redirect", int(ps_id)]

        cache = {}

        def cached_get(key):
            if key not in cache:
                cache[key] = app.get(key)
            return cache[key]

        def invalidated():
            """The next invalidation, applied to the cache (null: FLUSHALL, everything)."""
            m = next_pubsub_message(ps, IO)
            assert (m["type"], m["channel"]) == ("message", CHANNEL.encode()), m
            if m["data"] is None:
                cache.clear()
            else:
                for k in m["data"]:
                    cache.pop(k.decode(), None)
            return m["data"]

        r.mset({"user:1": "ann", "user:2": "bob"})
        assert cached_get("user:1") == b"ann" and cached_get("user:2") == b"bob"
        r.set("user:1", "anna")
        assert invalidated() == [b"user:1"]
        assert cached_get("user:1") == b"anna" and cached_get("user:2") == b"bob"
        r.flushall()
        assert invalidated() is None
        assert cache == {}
        assert cached_get("user:1") is None
        r.set("user:1", "x")
        assert invalidated() == [b"user:1"]
        assert cached_get("user:1") == b"x"
        r.delete("user:2")                         # not read since FLUSHALL: not tracked
        r.set("user:1", "y")
        assert invalidated() == [b"user:1"]
        app.client_tracking_off()
        assert app.client_getredir() == -1
    finally:
        ps.close()
        app.close()
        listener.close()
        admin.close()
