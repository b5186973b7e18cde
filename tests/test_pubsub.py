"""Pub/sub on one server, as Redis 7.0 does it: SUBSCRIBE / UNSUBSCRIBE / PSUBSCRIBE /
PUNSUBSCRIBE / SSUBSCRIBE / SUNSUBSCRIBE confirmations, PUBLISH and SPUBLISH (their receiver
counts), message / pmessage / smessage framing in RESP2 and RESP3, glob patterns, binary-safe
channels and messages, the commands a RESP2 subscriber may send (and the error for the rest),
PUBSUB CHANNELS / NUMSUB / NUMPAT / SHARDCHANNELS / SHARDNUMSUB / HELP, RESET and closing a
subscriber, fan-out to many subscribers and message order (also over 4 I/O threads), MULTI and
EVAL, CLIENT LIST's sub= psub= ssub= and INFO's pubsub fields; redis-py's PubSub the way
applications use it.  Flin only: a subscriber that never reads is dropped at
client-output-hard-limit while PUBLISH keeps answering.

Exact-wire checks use raw sockets (flinproc.RawConn, which frames RESP2 and RESP3 replies;
`wire()` below builds the bytes expected).  Waits are on events (a read with a socket timeout,
or a bounded poll), never on a sleep.

Orders Redis leaves to its hash tables (UNSUBSCRIBE with no argument, the pmessages of one
publish for several patterns of one client, PUBSUB CHANNELS) are compared as sets; orders
Redis fixes (a publish's message before its pmessages, a RESP3 client's own message pushed
before PUBLISH's reply, one publisher's messages in publish order) are checked exactly.
"""
import hashlib
import socket
import threading

import pytest

import flinproc
from flinproc import (Error, Map, Push, RawConn, Status, encode_command, error_of,
                      next_pubsub_message, wait_until)

IO = 5.0   # socket timeout of the connections here: a message that never comes fails in 5 s

SUBMODE = ("ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
           "RESET are allowed in this context")
NOT_FROM_SCRIPT = "ERR This Redis command is not allowed from script"

HELP = [
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
]


# ---------------------------------------------------------------------------
# Helpers

def _b(x):
    return x.encode() if isinstance(x, str) else x


def wire(*items, resp3=False):
    """The exact bytes of a pub/sub reply: an array (RESP2) or push (RESP3) of bulk strings
    (str/bytes), integers and nulls (None: $-1 in RESP2, _ in RESP3)."""
    out = [(b">%d\r\n" if resp3 else b"*%d\r\n") % len(items)]
    for it in items:
        if it is None:
            out.append(b"_\r\n" if resp3 else b"$-1\r\n")
        elif isinstance(it, int):
            out.append(b":%d\r\n" % it)
        else:
            it = _b(it)
            out.append(b"$%d\r\n%s\r\n" % (len(it), it))
    return b"".join(out)


def expect(c, data):
    """The next bytes on c are exactly `data`."""
    got = c.read_bytes(len(data))
    assert got == data, f"expected {data[:300]!r}, got {got[:300]!r}"




def sub(c, cmd, *names):
    """Send a (P|S)SUBSCRIBE-family command with names; read and return one confirmation
    per name (or one, for an unsubscribe with no names)."""
    c.send_command(cmd, *names)
    return [c.read_reply() for _ in range(max(1, len(names)))]


def pubsub_state(c):
    """(channels, patterns count, shard channels) the server has: from PUBSUB."""
    return (c.call("PUBSUB", "CHANNELS"), c.call("PUBSUB", "NUMPAT"),
            c.call("PUBSUB", "SHARDCHANNELS"))


@pytest.fixture(autouse=True)
def no_leftover_subscriptions(server):
    """Every test closes its subscribers; wait (bounded) until the server has dropped their
    subscriptions, so that global counts (NUMPAT, CHANNELS, INFO) start from zero."""
    if not server.alive():
        yield
        return
    with server.raw(timeout=IO) as c:
        state = pubsub_state(c)
        if not any(isinstance(x, Error) for x in state):
            wait_until(lambda: pubsub_state(c) == ([], 0, []), 10,
                       what="subscriptions of earlier tests to go")
    yield


def client_fields(admin, client_id):
    listing = admin.call("CLIENT", "LIST").decode()
    line = next(ln for ln in listing.split("\n") if ln.startswith(f"id={client_id} "))
    return dict(f.split("=", 1) for f in line.split(" "))


def sha1(text):
    return hashlib.sha1(text.encode()).hexdigest()


# ---------------------------------------------------------------------------
# 1. Confirmations, PUBLISH's count, message formats, patterns, binary safety

def test_subscribe_confirmations_one_per_channel_with_the_running_count(conn):
    c = conn()
    c.send_command("SUBSCRIBE", "a", "b", "a")
    expect(c, wire("subscribe", "a", 1) + wire("subscribe", "b", 2) + wire("subscribe", "a", 2))
    c.send_command("PSUBSCRIBE", "p*", "p*", "q?")
    expect(c, wire("psubscribe", "p*", 3) + wire("psubscribe", "p*", 3)
           + wire("psubscribe", "q?", 4))
    # Unsubscribing from what it is not subscribed to confirms with the count unchanged.
    c.send_command("UNSUBSCRIBE", "zz", "a")
    expect(c, wire("unsubscribe", "zz", 4) + wire("unsubscribe", "a", 3))
    c.send_command("PUNSUBSCRIBE", "zz*", "p*")
    expect(c, wire("punsubscribe", "zz*", 3) + wire("punsubscribe", "p*", 2))
    # Shard channels are counted apart: their count starts from 1.
    c.send_command("SSUBSCRIBE", "s1", "s2", "s1")
    expect(c, wire("ssubscribe", "s1", 1) + wire("ssubscribe", "s2", 2)
           + wire("ssubscribe", "s1", 2))
    c.send_command("SUNSUBSCRIBE", "s1", "zz")
    expect(c, wire("sunsubscribe", "s1", 1) + wire("sunsubscribe", "zz", 1))
    c.send_command("UNSUBSCRIBE", "b")
    expect(c, wire("unsubscribe", "b", 1))
    c.send_command("PUNSUBSCRIBE", "q?")
    expect(c, wire("punsubscribe", "q?", 0))
    # Still subscribed (to s2): PING answers in the subscribed form.
    c.send_command("PING")
    expect(c, wire("pong", ""))
    c.send_command("SUNSUBSCRIBE", "s2")
    expect(c, wire("sunsubscribe", "s2", 0))
    c.send_command("PING")
    expect(c, b"+PONG\r\n")


def test_unsubscribe_without_arguments_leaves_every_channel(conn):
    c = conn()
    sub(c, "SUBSCRIBE", "u1", "u2", "u3")
    sub(c, "PSUBSCRIBE", "up*")
    replies = sub(c, "UNSUBSCRIBE") + [c.read_reply() for _ in range(2)]
    # One confirmation per channel, in any order, the count going down (the pattern stays).
    assert [r[0] for r in replies] == [b"unsubscribe"] * 3
    assert sorted(r[1] for r in replies) == [b"u1", b"u2", b"u3"]
    assert [r[2] for r in replies] == [3, 2, 1]
    c.send_command("PING")
    expect(c, wire("pong", ""))            # still subscribed to the pattern
    sub(c, "PSUBSCRIBE", "up2*", "up3*")
    replies = sub(c, "PUNSUBSCRIBE") + [c.read_reply() for _ in range(2)]
    assert sorted(r[1] for r in replies) == [b"up*", b"up2*", b"up3*"]
    assert [r[2] for r in replies] == [2, 1, 0]
    c.send_command("PING")
    expect(c, b"+PONG\r\n")
    sub(c, "SSUBSCRIBE", "us1", "us2")
    replies = sub(c, "SUNSUBSCRIBE") + [c.read_reply()]
    assert sorted(r[1] for r in replies) == [b"us1", b"us2"]
    assert [(r[0], r[2]) for r in replies] == [(b"sunsubscribe", 1), (b"sunsubscribe", 0)]
    assert c.call("GET", "nothing") is None


def test_unsubscribe_when_subscribed_to_nothing_answers_a_null_channel(conn):
    c = conn()
    for cmd in ("UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"):
        c.send_command(cmd)
        expect(c, wire(cmd.lower(), None, 0))
        # It does not put the connection in subscribed mode.
        c.send_command("GET", "nothing")
        expect(c, b"$-1\r\n")
    # With only patterns, UNSUBSCRIBE answers null with the count of channels + patterns (1),
    # SUNSUBSCRIBE with the count of shard channels (0).
    sub(c, "PSUBSCRIBE", "nothing-here*")
    c.send_command("UNSUBSCRIBE")
    expect(c, wire("unsubscribe", None, 1))
    c.send_command("SUNSUBSCRIBE")
    expect(c, wire("sunsubscribe", None, 0))
    # And with only shard channels, the others answer 0.
    sub(c, "PUNSUBSCRIBE")
    sub(c, "SSUBSCRIBE", "nothing-shard")
    c.send_command("UNSUBSCRIBE")
    expect(c, wire("unsubscribe", None, 0))
    c.send_command("PUNSUBSCRIBE")
    expect(c, wire("punsubscribe", None, 0))
    c.send_command("PING")
    expect(c, wire("pong", ""))            # the shard channel keeps it subscribed
    sub(c, "SUNSUBSCRIBE")
    # RESP3: the null is RESP3's.
    c3 = conn(3)
    for cmd in ("UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"):
        c3.send_command(cmd)
        expect(c3, wire(cmd.lower(), None, 0, resp3=True))


def test_publish_counts_channel_subscribers_and_pattern_matches(conn):
    a, b, d, s, p = conn(), conn(), conn(), conn(), conn()
    sub(a, "SUBSCRIBE", "news")
    sub(a, "PSUBSCRIBE", "n*", "ne?s", "x*")
    sub(b, "SUBSCRIBE", "news", "other")
    sub(d, "PSUBSCRIBE", "*")
    sub(s, "SSUBSCRIBE", "news")           # shard subscribers do not count for PUBLISH
    # a: its channel and two of its patterns; b: its channel; d: its pattern.
    assert p.call("PUBLISH", "news", "hello") == 5
    expect(a, wire("message", "news", "hello"))
    got = sorted(tuple(a.read_reply()) for _ in range(2))
    assert got == [(b"pmessage", b"n*", b"news", b"hello"),
                   (b"pmessage", b"ne?s", b"news", b"hello")]
    expect(b, wire("message", "news", "hello"))
    expect(d, wire("pmessage", "*", "news", "hello"))
    assert p.call("PUBLISH", "nobody", "x") == 2           # n* of a, * of d
    assert p.call("PUBLISH", "other", "y") == 2            # b, and * of d
    assert p.call("PUBLISH", "zzz", "z") == 1              # * of d
    d.close()
    wait_until(lambda: p.call("PUBSUB", "NUMPAT") == 3, 10, what="d's pattern to go")
    assert p.call("PUBLISH", "zzz", "z") == 0
    # What a received since, in publish order: nobody's pmessage by n*.
    expect(a, wire("pmessage", "n*", "nobody", "x"))
    expect(b, wire("message", "other", "y"))


def test_message_and_pmessage_wire(conn):
    s, p = conn(), conn()
    sub(s, "SUBSCRIBE", "chan")
    sub(s, "PSUBSCRIBE", "ch*")
    assert p.call("PUBLISH", "chan", "payload") == 2
    # The channel's message first, then the pattern's.
    expect(s, wire("message", "chan", "payload") + wire("pmessage", "ch*", "chan", "payload"))
    assert p.call("PUBLISH", "chx", "p2") == 1
    expect(s, wire("pmessage", "ch*", "chx", "p2"))


GLOB_PATTERNS = ["h?llo", "h*llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "h\\*llo", "h[!e]llo",
                 "[z-a]", "\\?", "a\\", "h[\\]]llo", "*"]
# Which patterns of GLOB_PATTERNS match each channel (as Redis 7.0 answers: `!` is no negation,
# a reversed range matches as the range, a trailing backslash matches a backslash).
GLOB_MATCHES = {
    "hello": {"h?llo", "h*llo", "h[ae]llo", "h[!e]llo", "*"},
    "hallo": {"h?llo", "h*llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "*"},
    "hxllo": {"h?llo", "h*llo", "h[^e]llo", "*"},
    "hllo": {"h*llo", "*"},
    "heeeello": {"h*llo", "*"},
    "h*llo": {"h?llo", "h*llo", "h[^e]llo", "h\\*llo", "*"},
    "h]llo": {"h?llo", "h*llo", "h[^e]llo", "h[\\]]llo", "*"},
    "?": {"\\?", "*"},
    "x": {"[z-a]", "*"},
    "b": {"[z-a]", "*"},
    "a\\": {"a\\", "*"},
}


def test_glob_patterns(conn):
    s, p = conn(), conn()
    sub(s, "PSUBSCRIBE", *GLOB_PATTERNS)
    for channel, matching in GLOB_MATCHES.items():
        n = p.call("PUBLISH", channel, "m")
        got = [s.read_reply() for _ in range(n)]
        assert all(m[0] == b"pmessage" and m[2] == channel.encode() for m in got), (channel, got)
        assert {m[1].decode() for m in got} == matching, channel
        assert n == len(matching), channel
    # PUBSUB CHANNELS / SHARDCHANNELS take the same globs.
    sub(s, "PUNSUBSCRIBE")
    sub(s, "SUBSCRIBE", "hello", "hallo", "hxllo", "h*llo")
    sub(s, "SSUBSCRIBE", "hello", "h*llo")
    assert sorted(p.call("PUBSUB", "CHANNELS", "h[^e]llo")) == [b"h*llo", b"hallo", b"hxllo"]
    assert p.call("PUBSUB", "CHANNELS", "h\\*llo") == [b"h*llo"]
    assert p.call("PUBSUB", "SHARDCHANNELS", "h\\*llo") == [b"h*llo"]
    assert sorted(p.call("PUBSUB", "SHARDCHANNELS", "h?llo")) == [b"h*llo", b"hello"]


def test_no_pattern_matches_the_empty_channel_but_the_empty_one(conn):
    """Redis's matcher needs a character to match a star: "*" does not match "" (nor does
    PUBSUB CHANNELS *, though CHANNELS without a pattern lists it)."""
    s, p = conn(), conn()
    sub(s, "PSUBSCRIBE", "*", "**", "*?", "?*")
    assert p.call("PUBLISH", "", "m") == 0
    sub(s, "PSUBSCRIBE", "")
    assert p.call("PUBLISH", "", "m") == 1
    expect(s, wire("pmessage", "", "", "m"))    # the next thing s gets
    sub(s, "SUBSCRIBE", "", "a")
    assert sorted(p.call("PUBSUB", "CHANNELS")) == [b"", b"a"]
    assert p.call("PUBSUB", "CHANNELS", "*") == [b"a"]
    assert p.call("PUBSUB", "CHANNELS", "") == [b""]
    sub(s, "SSUBSCRIBE", "")
    assert p.call("PUBSUB", "SHARDCHANNELS") == [b""]
    assert p.call("PUBSUB", "SHARDCHANNELS", "*") == []


def test_binary_channels_and_messages(conn):
    s, p = conn(), conn()
    every_byte = bytes(range(256))
    crlf = b"\r\n\x00$3\r\n*1\r\n"
    pattern = b"\x00*\xff"
    sub(s, "SUBSCRIBE", every_byte, b"", crlf)
    sub(s, "PSUBSCRIBE", pattern)
    assert p.call("PUBLISH", every_byte, crlf) == 2
    expect(s, wire("message", every_byte, crlf) + wire("pmessage", pattern, every_byte, crlf))
    assert p.call("PUBLISH", b"", b"") == 1
    expect(s, wire("message", b"", b""))
    assert p.call("PUBLISH", crlf, every_byte) == 1
    expect(s, wire("message", crlf, every_byte))
    assert sorted(p.call("PUBSUB", "CHANNELS")) == sorted([every_byte, b"", crlf])
    assert p.call("PUBSUB", "NUMSUB", every_byte, b"", crlf) == [every_byte, 1, b"", 1, crlf, 1]
    # A 1 MiB message, to a channel and a pattern.
    big = bytes(i * 7 % 256 for i in range(1 << 20))
    assert p.call("PUBLISH", every_byte, big) == 2
    expect(s, wire("message", every_byte, big) + wire("pmessage", pattern, every_byte, big))
    sub(s, "SSUBSCRIBE", every_byte)
    assert p.call("SPUBLISH", every_byte, big) == 1
    expect(s, wire("smessage", every_byte, big))
    assert p.call("PUBSUB", "SHARDNUMSUB", every_byte) == [every_byte, 1]


# ---------------------------------------------------------------------------
# 2. RESP2 subscribed mode

def test_resp2_subscribed_mode_allows_the_subscribe_family_ping_quit_reset_only(conn):
    c, p = conn(), conn()
    sub(c, "SUBSCRIBE", "m")
    refused = {
        ("GET", "k"): "get", ("SET", "k", "v"): "set", ("PUBLISH", "m", "x"): "publish",
        ("SPUBLISH", "m", "x"): "spublish", ("ECHO", "x"): "echo", ("MULTI",): "multi",
        ("EVAL", "return 1", "0"): "eval", ("HELLO", "3"): "hello", ("HELLO",): "hello",
        ("SELECT", "0"): "select", ("DBSIZE",): "dbsize", ("INFO",): "info",
        ("FLUSHALL",): "flushall",
    }
    for args, name in refused.items():
        assert error_of(c, *args) == SUBMODE.format(name), args
    # Unknown commands and wrong arities are answered as such first.
    assert error_of(c, "FOO", "x") == "ERR unknown command 'FOO', with args beginning with: 'x' "
    assert error_of(c, "GET") == "ERR wrong number of arguments for 'get' command"
    assert error_of(c, "PUBLISH", "m") == "ERR wrong number of arguments for 'publish' command"
    assert error_of(c, "PSUBSCRIBE") == "ERR wrong number of arguments for 'psubscribe' command"
    # The subscribe family works.
    c.send_command("PSUBSCRIBE", "m*")
    expect(c, wire("psubscribe", "m*", 2))
    c.send_command("SSUBSCRIBE", "sm")
    expect(c, wire("ssubscribe", "sm", 1))
    c.send_command("SUNSUBSCRIBE", "sm")
    expect(c, wire("sunsubscribe", "sm", 0))
    c.send_command("PUNSUBSCRIBE", "m*")
    expect(c, wire("punsubscribe", "m*", 1))
    # Messages still arrive after the refusals.
    assert p.call("PUBLISH", "m", "after") == 1
    expect(c, wire("message", "m", "after"))
    # Out of subscribed mode, normal commands again.
    c.send_command("UNSUBSCRIBE", "m")
    expect(c, wire("unsubscribe", "m", 0))
    assert c.call("SET", "k", "v") == "OK"
    assert c.call("GET", "k") == b"v"
    assert isinstance(c.call("CLIENT", "ID"), int)


def test_resp2_subscribed_mode_error_names_the_subcommand(conn):
    c = conn()
    sub(c, "SUBSCRIBE", "m")
    for args, name in {("CLIENT", "ID"): "client|id", ("client", "list"): "client|list",
                       ("PUBSUB", "NUMSUB", "m"): "pubsub|numsub",
                       ("PUBSUB", "CHANNELS"): "pubsub|channels",
                       ("CONFIG", "GET", "maxclients"): "config|get",
                       ("COMMAND", "COUNT"): "command|count",
                       ("SCRIPT", "FLUSH"): "script|flush"}.items():
        assert error_of(c, *args) == SUBMODE.format(name), args
    # An unknown subcommand is answered as such first.
    assert error_of(c, "PUBSUB", "FOO") == "ERR unknown subcommand 'FOO'. Try PUBSUB HELP."
    assert error_of(c, "CLIENT", "FOO") == "ERR unknown subcommand 'FOO'. Try CLIENT HELP."
    c.send_command("PING")
    expect(c, wire("pong", ""))


def test_ping_in_resp2_subscribed_mode(conn):
    c = conn()
    sub(c, "PSUBSCRIBE", "p*")
    c.send_command("PING")
    expect(c, wire("pong", ""))
    c.send_command("ping", "hello")
    expect(c, wire("pong", "hello"))
    c.send_command("PING", b"bin\x00\r\n")
    expect(c, wire("pong", b"bin\x00\r\n"))
    assert error_of(c, "PING", "a", "b") == "ERR wrong number of arguments for 'ping' command"
    sub(c, "PUNSUBSCRIBE")
    c.send_command("PING")
    expect(c, b"+PONG\r\n")
    c.send_command("PING", "hello")
    expect(c, b"$5\r\nhello\r\n")


def test_quit_in_subscribed_mode(conn):
    c = conn()
    sub(c, "SUBSCRIBE", "q")
    c.send_command("QUIT")
    assert c.expect_eof(IO) == b"+OK\r\n"


def test_reset_leaves_subscribed_state(conn):
    c, p = conn(), conn()
    sub(c, "SUBSCRIBE", "r1", "r2")
    sub(c, "PSUBSCRIBE", "r*")
    sub(c, "SSUBSCRIBE", "rs")
    c.send_command("RESET")
    expect(c, b"+RESET\r\n")
    # RESET is answered once the subscriptions are gone.
    assert p.call("PUBSUB", "NUMSUB", "r1", "r2") == [b"r1", 0, b"r2", 0]
    assert p.call("PUBSUB", "NUMPAT") == 0
    assert p.call("PUBSUB", "SHARDNUMSUB", "rs") == [b"rs", 0]
    assert p.call("PUBLISH", "r1", "x") == 0
    assert p.call("SPUBLISH", "rs", "x") == 0
    c.send_command("GET", "nothing")
    expect(c, b"$-1\r\n")
    c.send_command("PING")
    expect(c, b"+PONG\r\n")
    # RESET of a RESP3 subscriber: back to RESP2, unsubscribed.
    c3 = conn(3)
    sub(c3, "SUBSCRIBE", "r3")
    c3.send_command("RESET")
    expect(c3, b"+RESET\r\n")
    assert p.call("PUBLISH", "r3", "x") == 0
    c3.send_command("GET", "nothing")
    expect(c3, b"$-1\r\n")


# ---------------------------------------------------------------------------
# 3. RESP3

def test_resp3_confirmations_and_messages_are_pushes(conn):
    c, p = conn(3), conn()
    c.send_command("SUBSCRIBE", "r3", "r3b")
    expect(c, wire("subscribe", "r3", 1, resp3=True) + wire("subscribe", "r3b", 2, resp3=True))
    c.send_command("PSUBSCRIBE", "r*")
    expect(c, wire("psubscribe", "r*", 3, resp3=True))
    c.send_command("SSUBSCRIBE", "r3")
    expect(c, wire("ssubscribe", "r3", 1, resp3=True))
    assert p.call("PUBLISH", "r3", "from-p") == 2
    expect(c, wire("message", "r3", "from-p", resp3=True)
           + wire("pmessage", "r*", "r3", "from-p", resp3=True))
    assert p.call("SPUBLISH", "r3", "sh") == 1
    expect(c, wire("smessage", "r3", "sh", resp3=True))
    # Normal commands are allowed while subscribed, and answer in RESP3.
    c.send_command("SET", "k3", "v")
    expect(c, b"+OK\r\n")
    c.send_command("GET", "k3")
    expect(c, b"$1\r\nv\r\n")
    c.send_command("GET", "missing")
    expect(c, b"_\r\n")
    c.send_command("PING")
    expect(c, b"+PONG\r\n")
    c.send_command("PING", "x")
    expect(c, b"$1\r\nx\r\n")
    c.send_command("ECHO", "e")
    expect(c, b"$1\r\ne\r\n")
    assert c.call("PUBSUB", "NUMSUB", "r3") == [b"r3", 1]
    # Its own messages reach it, pushed before PUBLISH's reply.
    c.send_command("PUBLISH", "r3", "me")
    expect(c, wire("message", "r3", "me", resp3=True)
           + wire("pmessage", "r*", "r3", "me", resp3=True) + b":2\r\n")
    c.send_command("SPUBLISH", "r3", "me2")
    expect(c, wire("smessage", "r3", "me2", resp3=True) + b":1\r\n")
    c.send_command("PUBLISH", "nobody-here", "x")
    expect(c, b":0\r\n")
    # A MULTI while subscribed.
    assert c.call("MULTI") == "OK"
    assert c.call("GET", "k3") == "QUEUED"
    assert c.call("EXEC") == [b"v"]
    # Unsubscribing: pushes too.
    c.send_command("UNSUBSCRIBE", "r3b")
    expect(c, wire("unsubscribe", "r3b", 2, resp3=True))
    c.send_command("PUNSUBSCRIBE")
    expect(c, wire("punsubscribe", "r*", 1, resp3=True))
    c.send_command("SUNSUBSCRIBE")
    expect(c, wire("sunsubscribe", "r3", 0, resp3=True))
    c.send_command("UNSUBSCRIBE")
    expect(c, wire("unsubscribe", "r3", 0, resp3=True))
    c.send_command("UNSUBSCRIBE")
    expect(c, wire("unsubscribe", None, 0, resp3=True))
    assert p.call("PUBLISH", "r3", "gone") == 0
    c.send_command("DEL", "k3")
    expect(c, b":1\r\n")


def test_resp3_subscriber_switching_to_resp2_is_in_resp2_subscribed_mode(conn):
    c = conn(3)
    sub(c, "SUBSCRIBE", "sw")
    hello = c.call("HELLO", "2")
    assert isinstance(hello, list) and not isinstance(hello, Map)
    assert error_of(c, "GET", "k") == SUBMODE.format("get")
    assert error_of(c, "HELLO", "3") == SUBMODE.format("hello")
    c.send_command("PING")
    expect(c, wire("pong", ""))
    c.send_command("UNSUBSCRIBE")
    expect(c, wire("unsubscribe", "sw", 0))


# ---------------------------------------------------------------------------
# 4. Sharded channels on one node

def test_sharded_pubsub_on_one_node(conn):
    s, t, p = conn(), conn(), conn()
    # On a server that is not a cluster, shard channels of any slots go together.
    s.send_command("SSUBSCRIBE", "sa", "sb", "{sa}c")
    expect(s, wire("ssubscribe", "sa", 1) + wire("ssubscribe", "sb", 2)
           + wire("ssubscribe", "{sa}c", 3))
    sub(t, "SSUBSCRIBE", "sa")
    assert p.call("SPUBLISH", "sa", "one") == 2
    expect(s, wire("smessage", "sa", "one"))
    expect(t, wire("smessage", "sa", "one"))
    assert p.call("SPUBLISH", "sb", "two") == 1
    expect(s, wire("smessage", "sb", "two"))
    assert p.call("SPUBLISH", "nobody", "x") == 0
    assert sorted(p.call("PUBSUB", "SHARDCHANNELS")) == [b"sa", b"sb", b"{sa}c"]
    assert p.call("PUBSUB", "SHARDNUMSUB", "sa", "sb", "zz") == [b"sa", 2, b"sb", 1, b"zz", 0]
    assert p.call("PUBSUB", "CHANNELS") == []
    assert p.call("PUBSUB", "NUMSUB", "sa") == [b"sa", 0]

    # PUBLISH does not reach shard subscribers (nor counts them)...
    sub(s, "SUBSCRIBE", "ctl")
    assert p.call("PUBLISH", "sa", "not-for-shards") == 0
    assert p.call("PUBLISH", "ctl", "marker") == 1
    expect(s, wire("message", "ctl", "marker"))   # the next thing s gets
    # ... and SPUBLISH reaches neither channel nor pattern subscribers.
    sub(t, "SUBSCRIBE", "sb")
    sub(t, "PSUBSCRIBE", "*")
    assert p.call("SPUBLISH", "sb", "not-for-channels") == 1   # s's shard subscription
    expect(s, wire("smessage", "sb", "not-for-channels"))
    assert p.call("SPUBLISH", "sa", "marker") == 2
    expect(t, wire("smessage", "sa", "marker"))  # the next thing t gets
    expect(s, wire("smessage", "sa", "marker"))

    # Counts: the shard count is apart from the channel + pattern count.
    s.send_command("UNSUBSCRIBE", "ctl")
    expect(s, wire("unsubscribe", "ctl", 0))
    s.send_command("PING")
    expect(s, wire("pong", ""))                 # still subscribed, to shard channels
    s.send_command("SUNSUBSCRIBE", "sb")
    expect(s, wire("sunsubscribe", "sb", 2))
    replies = sub(s, "SUNSUBSCRIBE") + [s.read_reply()]
    assert sorted(r[1] for r in replies) == [b"sa", b"{sa}c"]
    assert [r[2] for r in replies] == [1, 0]
    s.send_command("PING")
    expect(s, b"+PONG\r\n")
    assert p.call("PUBSUB", "SHARDNUMSUB", "sa", "sb") == [b"sa", 1, b"sb", 0]


def test_sharded_pubsub_resp3_and_arity(conn):
    c = conn(3)
    c.send_command("SSUBSCRIBE", "s3")
    expect(c, wire("ssubscribe", "s3", 1, resp3=True))
    c.send_command("SPUBLISH", "s3", "own")
    expect(c, wire("smessage", "s3", "own", resp3=True) + b":1\r\n")
    for args in (("SSUBSCRIBE",), ("SPUBLISH", "s3"), ("SPUBLISH", "s3", "a", "b")):
        assert error_of(c, *args) == \
            f"ERR wrong number of arguments for '{args[0].lower()}' command"
    c.send_command("SUNSUBSCRIBE", "s3", "s4")
    expect(c, wire("sunsubscribe", "s3", 0, resp3=True) + wire("sunsubscribe", "s4", 0, resp3=True))


# ---------------------------------------------------------------------------
# 5. PUBSUB

def test_pubsub_channels_numsub_numpat(conn):
    a, b, p = conn(), conn(), conn()
    assert pubsub_state(p) == ([], 0, [])
    sub(a, "SUBSCRIBE", "news", "sport", "x")
    sub(b, "SUBSCRIBE", "news")
    sub(a, "PSUBSCRIBE", "n*", "*")
    sub(b, "PSUBSCRIBE", "n*")
    sub(b, "SSUBSCRIBE", "sh1", "sh2")
    sub(a, "SSUBSCRIBE", "sh1")
    assert sorted(p.call("PUBSUB", "CHANNELS")) == [b"news", b"sport", b"x"]
    assert sorted(p.call("pubsub", "channels", "*")) == [b"news", b"sport", b"x"]
    assert p.call("PUBSUB", "CHANNELS", "n*") == [b"news"]
    assert p.call("PUBSUB", "CHANNELS", "zz*") == []
    assert p.call("PUBSUB", "NUMSUB") == []
    assert p.call("PUBSUB", "NUMSUB", "news", "sport", "none", "news") == \
        [b"news", 2, b"sport", 1, b"none", 0, b"news", 2]
    # NUMPAT counts distinct patterns, not subscriptions to them.
    assert p.call("PUBSUB", "NUMPAT") == 2
    assert sorted(p.call("PUBSUB", "SHARDCHANNELS")) == [b"sh1", b"sh2"]
    assert p.call("PUBSUB", "SHARDCHANNELS", "*2") == [b"sh2"]
    assert p.call("PUBSUB", "SHARDNUMSUB") == []
    assert p.call("PUBSUB", "SHARDNUMSUB", "sh1", "sh2", "news") == \
        [b"sh1", 2, b"sh2", 1, b"news", 0]
    # As they leave.
    sub(a, "UNSUBSCRIBE", "news")
    assert p.call("PUBSUB", "NUMSUB", "news") == [b"news", 1]
    sub(b, "UNSUBSCRIBE", "news")
    assert sorted(p.call("PUBSUB", "CHANNELS")) == [b"sport", b"x"]
    assert p.call("PUBSUB", "NUMSUB", "news") == [b"news", 0]
    sub(a, "PUNSUBSCRIBE", "n*")
    assert p.call("PUBSUB", "NUMPAT") == 2            # b still has n*
    sub(b, "PUNSUBSCRIBE", "n*")
    assert p.call("PUBSUB", "NUMPAT") == 1
    # RESP3 shapes: arrays and integers as in RESP2.
    c3 = conn(3)
    c3.send_command("PUBSUB", "NUMSUB", "sport")
    expect(c3, b"*2\r\n$5\r\nsport\r\n:1\r\n")
    c3.send_command("PUBSUB", "SHARDNUMSUB", "sh2")
    expect(c3, b"*2\r\n$3\r\nsh2\r\n:1\r\n")
    c3.send_command("PUBSUB", "NUMPAT")
    expect(c3, b":1\r\n")
    c3.send_command("PUBSUB", "CHANNELS", "s*")
    expect(c3, b"*1\r\n$5\r\nsport\r\n")


def test_pubsub_help_and_errors(conn):
    c = conn()
    reply = c.call("PUBSUB", "HELP")
    assert reply == HELP
    assert all(isinstance(line, Status) for line in reply)    # status strings, not bulks
    assert c.call("pubsub", "help") == HELP
    assert error_of(c, "PUBSUB") == "ERR wrong number of arguments for 'pubsub' command"
    assert error_of(c, "PUBSUB", "FOO") == "ERR unknown subcommand 'FOO'. Try PUBSUB HELP."
    assert error_of(c, "PUBSUB", "foo", "bar") == "ERR unknown subcommand 'foo'. Try PUBSUB HELP."
    assert error_of(c, "PUBSUB", "HELP", "x") == \
        "ERR wrong number of arguments for 'pubsub|help' command"
    assert error_of(c, "PUBSUB", "NUMPAT", "x") == \
        "ERR wrong number of arguments for 'pubsub|numpat' command"
    # CHANNELS and SHARDCHANNELS with two patterns: the subcommand as the client spelt it.
    assert error_of(c, "PUBSUB", "channels", "*", "x") == \
        "ERR unknown subcommand or wrong number of arguments for 'channels'. Try PUBSUB HELP."
    assert error_of(c, "PUBSUB", "SHARDCHANNELS", "a", "b") == ("ERR unknown subcommand or wrong "
                                                                "number of arguments for "
                                                                "'SHARDCHANNELS'. Try PUBSUB HELP.")
    assert c.call("PING") == "PONG"


# ---------------------------------------------------------------------------
# 6. Subscribers leaving, fan-out and order

def test_closing_a_subscriber_removes_its_subscriptions(server, conn):
    p = conn()
    a, b = conn(), conn()
    bid = b.call("CLIENT", "ID")
    sub(a, "SUBSCRIBE", "bye", "bye2")
    sub(a, "PSUBSCRIBE", "bye*")
    sub(a, "SSUBSCRIBE", "sbye")
    sub(b, "SUBSCRIBE", "bye")
    assert p.call("PUBSUB", "NUMSUB", "bye", "bye2") == [b"bye", 2, b"bye2", 1]
    a.close()
    wait_until(lambda: p.call("PUBSUB", "NUMSUB", "bye", "bye2") == [b"bye", 1, b"bye2", 0],
               10, what="the closed subscriber's channels to go")
    wait_until(lambda: p.call("PUBSUB", "NUMPAT") == 0, 10, what="its pattern to go")
    wait_until(lambda: p.call("PUBSUB", "SHARDCHANNELS") == [], 10,
               what="its shard channel to go")
    assert p.call("PUBLISH", "bye", "x") == 1
    expect(b, wire("message", "bye", "x"))
    # CLIENT KILL of a subscriber: the same.
    assert p.call("CLIENT", "KILL", "ID", bid) == 1
    b.expect_eof(IO)
    wait_until(lambda: p.call("PUBSUB", "CHANNELS") == [], 10, what="the killed one's channel")
    assert p.call("PUBLISH", "bye", "x") == 0


def test_many_subscribers_each_get_every_message_in_order(conn):
    n_subs, n_msgs = 50, 200
    subs = [conn() for _ in range(n_subs)]
    for i, s in enumerate(subs):
        if i % 2:
            sub(s, "SUBSCRIBE", "fan")
        else:
            sub(s, "PSUBSCRIBE", "fa?")
    p = conn()
    for i in range(n_msgs):
        assert p.call("PUBLISH", "fan", f"m{i}") == n_subs
    for i, s in enumerate(subs):
        for j in range(n_msgs):
            if i % 2:
                expect(s, wire("message", "fan", f"m{j}"))
            else:
                expect(s, wire("pmessage", "fa?", "fan", f"m{j}"))


def test_many_messages_to_one_subscriber_arrive_in_publish_order(conn):
    s = conn()
    sub(s, "SUBSCRIBE", "ord")
    p = conn()
    n = 10_000
    p.send(b"".join(encode_command("PUBLISH", "ord", f"msg-{i}") for i in range(n)))
    assert [p.read_reply() for _ in range(n)] == [1] * n
    for i in range(n):
        expect(s, wire("message", "ord", f"msg-{i}"))
    # Two publishers at once: each one's messages in its own order.
    p2 = conn()
    m = 3000
    p.send(b"".join(encode_command("PUBLISH", "ord", f"a-{i}") for i in range(m)))
    p2.send(b"".join(encode_command("PUBLISH", "ord", f"b-{i}") for i in range(m)))
    assert [p.read_reply() for _ in range(m)] == [1] * m
    assert [p2.read_reply() for _ in range(m)] == [1] * m
    got = [s.read_reply() for _ in range(2 * m)]
    assert all(r[:2] == [b"message", b"ord"] for r in got)
    data = [r[2].decode() for r in got]
    assert [d for d in data if d.startswith("a-")] == [f"a-{i}" for i in range(m)]
    assert [d for d in data if d.startswith("b-")] == [f"b-{i}" for i in range(m)]


def test_fan_out_across_io_threads(make_server):
    """With several I/O threads (Flin's --threads; Redis ignores it), subscribers and
    publishers on different threads: every PUBLISH counts every receiver, and each subscriber
    gets each publisher's messages in that publisher's order."""
    srv = make_server(threads=4)
    conns = []
    try:
        subs = []
        for i in range(24):
            c = srv.raw(timeout=IO)
            conns.append(c)
            if i % 3 == 2:
                assert isinstance(c.call("HELLO", "3"), Map)
            if i % 2:
                sub(c, "SUBSCRIBE", "t")
            else:
                sub(c, "PSUBSCRIBE", "t*")
            subs.append(c)
        pubs = [srv.raw(timeout=IO) for _ in range(4)]
        conns += pubs
        m = 300
        for k, p in enumerate(pubs):
            p.send(b"".join(encode_command("PUBLISH", "t", f"{k}-{i}") for i in range(m)))
        for p in pubs:
            assert [p.read_reply() for _ in range(m)] == [len(subs)] * m
        for c in subs:
            got = [c.read_reply() for _ in range(len(pubs) * m)]
            assert all(r[-2] == b"t" for r in got)
            data = [r[-1].decode() for r in got]
            for k in range(len(pubs)):
                assert [d for d in data if d.startswith(f"{k}-")] == [f"{k}-{i}" for i in range(m)]
        # A RESP3 subscriber's own message, before PUBLISH's reply, on any thread.
        for i in range(2, len(subs), 3):
            c = subs[i]
            c.send_command("PUBLISH", "t", f"own-{i}")
            pushed = []
            reply = c.read_reply()
            while isinstance(reply, Push):    # (and the own-j of those before it)
                pushed.append(reply[-1])
                reply = c.read_reply()
            assert reply == len(subs)
            assert pushed[-1] == f"own-{i}".encode(), pushed
    finally:
        for c in conns:
            c.close()


# ---------------------------------------------------------------------------
# 7. Errors, MULTI, scripts, CLIENT LIST, INFO

def test_arity_errors(conn):
    c = conn()
    for args in (("SUBSCRIBE",), ("PSUBSCRIBE",), ("SSUBSCRIBE",), ("PUBLISH",),
                 ("PUBLISH", "ch"), ("PUBLISH", "ch", "a", "b"), ("SPUBLISH", "ch"),
                 ("SPUBLISH",), ("PUBSUB",)):
        assert error_of(c, *args) == \
            f"ERR wrong number of arguments for '{args[0].lower()}' command", args
    assert c.call("PING") == "PONG"        # none of them subscribed it


# Flin runs a transaction from its log, and scripts on every replica (DESIGN.md, "Pub/sub"):
# the subscribe family cannot be queued in MULTI, and no pub/sub command runs from a script.
# These pin Redis's behavior; Flin's is pinned by the flin_only tests after them.
redis_only = pytest.mark.skipif(not flinproc.is_redis(),
                                reason="Redis only: Flin refuses it by design")
NOT_IN_MULTI = ("ERR '{}' cannot be used inside MULTI: Flin runs a transaction from its log, "
                "and this command does not go through the log")


@redis_only
def test_subscribe_inside_multi(conn):
    c, p = conn(), conn()
    assert c.call("MULTI") == "OK"
    assert c.call("SUBSCRIBE", "m1") == "QUEUED"
    assert c.call("PING") == "QUEUED"
    c.send_command("EXEC")
    # The PING queued after it answers in the subscribed form.
    expect(c, b"*2\r\n" + wire("subscribe", "m1", 1) + wire("pong", ""))
    assert error_of(c, "GET", "k") == SUBMODE.format("get")
    assert p.call("PUBLISH", "m1", "hi") == 1
    expect(c, wire("message", "m1", "hi"))
    c.send_command("RESET")
    expect(c, b"+RESET\r\n")


@redis_only
def test_ssubscribe_refused_inside_multi_psubscribe_and_unsubscribe_run(conn):
    c, p = conn(), conn()
    assert c.call("MULTI") == "OK"
    assert c.call("SSUBSCRIBE", "m1") == "QUEUED"
    assert c.call("PSUBSCRIBE", "m*") == "QUEUED"
    assert c.call("UNSUBSCRIBE") == "QUEUED"
    c.send_command("EXEC")
    # Redis 7.0's text for SSUBSCRIBE in a transaction.
    expect(c, b"*3\r\n-ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client\r\n"
           + wire("psubscribe", "m*", 1) + wire("unsubscribe", None, 1))
    assert p.call("PUBSUB", "SHARDCHANNELS") == []
    assert p.call("PUBLISH", "m1", "p") == 1
    expect(c, wire("pmessage", "m*", "m1", "p"))
    sub(c, "PUNSUBSCRIBE")
    assert c.call("MULTI") == "OK"
    assert c.call("UNSUBSCRIBE") == "QUEUED"
    c.send_command("EXEC")
    expect(c, b"*1\r\n" + wire("unsubscribe", None, 0))
    assert c.call("GET", "nothing") is None


@redis_only
def test_publish_and_pubsub_inside_multi(conn):
    c, p = conn(), conn()
    sub(c, "SUBSCRIBE", "m2")
    assert p.call("MULTI") == "OK"
    assert p.call("PUBLISH", "m2", "in-multi") == "QUEUED"
    assert p.call("SPUBLISH", "m2", "nobody") == "QUEUED"
    assert p.call("PUBSUB", "NUMSUB", "m2") == "QUEUED"
    assert p.call("EXEC") == [1, 0, [b"m2", 1]]
    expect(c, wire("message", "m2", "in-multi"))


def test_publish_inside_multi(conn):
    c, p = conn(), conn()
    sub(c, "SUBSCRIBE", "m3")
    sub(c, "SSUBSCRIBE", "m3")
    assert p.call("MULTI") == "OK"
    assert p.call("SET", "k3", "v") == "QUEUED"
    assert p.call("PUBLISH", "m3", "in-multi") == "QUEUED"
    assert p.call("SPUBLISH", "m3", "shard") == "QUEUED"
    assert p.call("PUBLISH", "nobody", "x") == "QUEUED"
    assert p.call("EXEC") == [Status("OK"), 1, 1, 0]
    expect(c, wire("message", "m3", "in-multi") + wire("smessage", "m3", "shard"))
    # A transaction of PUBLISHes alone, and one whose WATCH broke: nothing published.
    assert p.call("MULTI") == "OK"
    assert p.call("PUBLISH", "m3", "alone") == "QUEUED"
    assert p.call("EXEC") == [1]
    expect(c, wire("message", "m3", "alone"))
    w = conn()
    assert p.call("WATCH", "k3") == "OK"
    assert w.call("SET", "k3", "changed") == "OK"
    assert p.call("MULTI") == "OK"
    assert p.call("PUBLISH", "m3", "never") == "QUEUED"
    assert p.call("EXEC") is None
    assert p.call("PUBLISH", "m3", "after") == 1
    expect(c, wire("message", "m3", "after"))  # "never" did not come first


@pytest.mark.flin_only
def test_subscribe_family_and_pubsub_refused_inside_multi(conn):
    c = conn()
    for args in (("SUBSCRIBE", "m"), ("PSUBSCRIBE", "m*"), ("SSUBSCRIBE", "m"),
                 ("UNSUBSCRIBE",), ("PUBSUB", "NUMSUB", "m")):
        assert c.call("MULTI") == "OK"
        assert error_of(c, *args) == NOT_IN_MULTI.format(args[0])
        assert error_of(c, "EXEC") == \
            "EXECABORT Transaction discarded because of previous errors."
    assert c.call("PUBSUB", "CHANNELS") == []
    assert c.call("GET", "nothing") is None  # not subscribed


def test_subscribe_commands_refused_in_scripts(conn):
    c = conn()
    for cmd in ("SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE",
                "SUNSUBSCRIBE"):
        call = f"return redis.call('{cmd}', 'e')"
        assert error_of(c, "EVAL", call, "0") == \
            f"{NOT_FROM_SCRIPT} script: {sha1(call)}, on @user_script:1."
        assert error_of(c, "EVAL", f"return redis.pcall('{cmd}', 'e')", "0") == NOT_FROM_SCRIPT
    assert c.call("PUBSUB", "CHANNELS") == []
    assert c.call("GET", "nothing") is None     # not subscribed


@redis_only
def test_publish_from_scripts(conn):
    c, s = conn(), conn()
    sub(s, "SUBSCRIBE", "e")
    sub(s, "SSUBSCRIBE", "e")
    assert c.call("EVAL", "return redis.call('PUBLISH', ARGV[1], 'x')", "0", "nobody") == 0
    assert c.call("EVAL", "return redis.call('PUBLISH', ARGV[1], ARGV[2])", "0", "e",
                  "from-lua") == 1
    expect(s, wire("message", "e", "from-lua"))
    assert c.call("EVAL", "return redis.pcall('SPUBLISH', ARGV[1], ARGV[2])", "0", "e",
                  "shard-lua") == 1
    expect(s, wire("smessage", "e", "shard-lua"))


@redis_only
def test_pubsub_introspection_from_scripts(conn):
    c, s = conn(), conn()
    sub(s, "SUBSCRIBE", "e")
    assert c.call("EVAL", "return redis.call('PUBSUB', 'NUMSUB', 'e')", "0") == [b"e", 1]
    assert c.call("EVAL", "return redis.call('PUBSUB', 'CHANNELS')", "0") == [b"e"]
    assert c.call("EVAL_RO", "return redis.call('PUBSUB', 'NUMPAT')", "0") == 0


@pytest.mark.flin_only
def test_publish_and_pubsub_refused_in_scripts(conn):
    # Each replica runs the script, and PUBLISH's answer counts each node's own subscribers:
    # a script branching on it would write differently on each replica.
    c, s = conn(), conn()
    sub(s, "SUBSCRIBE", "e")
    for script in ("return redis.call('PUBLISH', 'e', 'x')",
                   "return redis.call('SPUBLISH', 'e', 'x')",
                   "return redis.call('PUBSUB', 'NUMSUB', 'e')"):
        for cmd in ("EVAL", "EVAL_RO"):
            assert error_of(c, cmd, script, "0") == \
                f"{NOT_FROM_SCRIPT} script: {sha1(script)}, on @user_script:1."
    assert c.call("PUBLISH", "e", "after") == 1
    expect(s, wire("message", "e", "after"))  # nothing from the refused ones came first


@redis_only
def test_read_only_scripts_refuse_publish(conn):
    c, s = conn(), conn()
    sub(s, "SUBSCRIBE", "e")
    # PUBLISH and SPUBLISH count as writes for EVAL_RO.
    for cmd in ("PUBLISH", "SPUBLISH"):
        script = f"return redis.call('{cmd}', 'e', 'x')"
        assert error_of(c, "EVAL_RO", script, "0") == ("ERR Write commands are not allowed from "
                                                       f"read-only scripts. script: "
                                                       f"{sha1(script)}, on @user_script:1.")
        assert error_of(c, "EVAL_RO", f"return redis.pcall('{cmd}', 'e', 'x')", "0") == \
            "ERR Write commands are not allowed from read-only scripts."
    assert c.call("PUBLISH", "e", "after") == 1
    expect(s, wire("message", "e", "after"))    # nothing from the refused ones came first


def test_client_list_and_kill_by_type(conn):
    admin, s, n = conn(), conn(), conn()
    sid, nid, aid = s.call("CLIENT", "ID"), n.call("CLIENT", "ID"), admin.call("CLIENT", "ID")
    sub(s, "PSUBSCRIBE", "t*")

    def ids(*args):
        listing = admin.call("CLIENT", "LIST", *args).decode()
        return {int(ln.split(" ")[0][3:]) for ln in listing.split("\n") if ln}
    assert ids("TYPE", "pubsub") == {sid}
    assert {nid, aid} <= ids("TYPE", "normal") and sid not in ids("TYPE", "normal")
    assert ids("TYPE", "replica") == set()
    assert admin.call("CLIENT", "KILL", "TYPE", "pubsub", "SKIPME", "no") == 1
    with pytest.raises((EOFError, OSError)):
        s.read_reply()  # closed
    assert admin.call("PUBSUB", "NUMPAT") == 0
    assert n.call("PING") == "PONG"  # the normal one stays


def test_client_list_sub_psub_ssub_fields(conn):
    admin, c = conn(), conn()
    cid = c.call("CLIENT", "ID")
    f = client_fields(admin, cid)
    assert (f["flags"], f["sub"], f["psub"], f["ssub"]) == ("N", "0", "0", "0")
    sub(c, "SUBSCRIBE", "c1", "c2")
    sub(c, "PSUBSCRIBE", "c*")
    f = client_fields(admin, cid)
    assert (f["flags"], f["sub"], f["psub"], f["ssub"]) == ("P", "2", "1", "0")
    sub(c, "SSUBSCRIBE", "cs")
    f = client_fields(admin, cid)
    assert (f["flags"], f["sub"], f["psub"], f["ssub"]) == ("P", "2", "1", "1")
    assert list(f)[list(f).index("sub"):list(f).index("sub") + 4] == \
        ["sub", "psub", "ssub", "multi"]
    sub(c, "UNSUBSCRIBE")
    c.read_reply()         # (its second confirmation: two channels)
    sub(c, "PUNSUBSCRIBE")
    f = client_fields(admin, cid)
    assert (f["flags"], f["sub"], f["psub"], f["ssub"]) == ("P", "0", "0", "1")
    sub(c, "SUNSUBSCRIBE")
    f = client_fields(admin, cid)
    assert (f["flags"], f["sub"], f["psub"], f["ssub"]) == ("N", "0", "0", "0")
    # A RESP3 subscriber is flagged P as well.
    c3 = conn(3)
    cid3 = c3.call("CLIENT", "ID")
    sub(c3, "SUBSCRIBE", "c3")
    f = client_fields(admin, cid3)
    assert (f["flags"], f["sub"], f["resp"]) == ("P", "1", "3")


def _info_pubsub(c):
    fields = {}
    for line in c.call("INFO", "stats").decode().splitlines():
        name, _, value = line.partition(":")
        if name.startswith("pubsub"):
            fields[name] = int(value)
    return fields


def test_info_pubsub_fields(conn):
    admin, a, b = conn(), conn(), conn()
    assert _info_pubsub(admin) == {"pubsub_channels": 0, "pubsub_patterns": 0,
                                   "pubsubshard_channels": 0}
    sub(a, "SUBSCRIBE", "i1", "i2")
    sub(b, "SUBSCRIBE", "i2", "i3")
    sub(a, "PSUBSCRIBE", "i*")
    sub(b, "PSUBSCRIBE", "i*", "j*")
    sub(b, "SSUBSCRIBE", "is1", "is2")
    sub(a, "SSUBSCRIBE", "is1")
    # Distinct channels and patterns.
    assert _info_pubsub(admin) == {"pubsub_channels": 3, "pubsub_patterns": 2,
                                   "pubsubshard_channels": 2}
    full = admin.call("INFO").decode()
    assert "\r\npubsub_channels:3\r\npubsub_patterns:2\r\npubsubshard_channels:2\r\n" in full
    a.close()
    b.close()
    wait_until(lambda: _info_pubsub(admin) == {"pubsub_channels": 0, "pubsub_patterns": 0,
                                               "pubsubshard_channels": 0}, 10,
               what="INFO's pubsub counts to drop")


# ---------------------------------------------------------------------------
# 8. redis-py's PubSub

def next_message(ps, timeout=IO):
    return next_pubsub_message(ps, timeout)


def test_redis_py_pubsub_get_message(server, r):
    ps = r.pubsub()
    try:
        ps.subscribe("py-news", "py-sport")
        assert next_message(ps) == {"type": "subscribe", "pattern": None,
                                    "channel": b"py-news", "data": 1}
        assert next_message(ps) == {"type": "subscribe", "pattern": None,
                                    "channel": b"py-sport", "data": 2}
        ps.psubscribe("py-*")
        assert next_message(ps) == {"type": "psubscribe", "pattern": None,
                                    "channel": b"py-*", "data": 3}
        assert r.publish("py-news", "hello") == 2
        assert next_message(ps) == {"type": "message", "pattern": None,
                                    "channel": b"py-news", "data": b"hello"}
        assert next_message(ps) == {"type": "pmessage", "pattern": b"py-*",
                                    "channel": b"py-news", "data": b"hello"}
        assert r.pubsub_channels("py-*") in ([b"py-news", b"py-sport"], [b"py-sport", b"py-news"])
        assert r.pubsub_numsub("py-news", "py-none") == [(b"py-news", 1), (b"py-none", 0)]
        assert r.pubsub_numpat() == 1
        # PubSub.ping in subscribed mode.
        ps.ping()
        assert next_message(ps) == {"type": "pong", "pattern": None, "channel": None,
                                    "data": b""}
        ps.unsubscribe("py-news")
        assert next_message(ps) == {"type": "unsubscribe", "pattern": None,
                                    "channel": b"py-news", "data": 2}
        ps.unsubscribe()
        ps.punsubscribe()
        rest = [next_message(ps) for _ in range(2)]
        assert sorted((m["type"], m["channel"], m["data"]) for m in rest) == \
            [("punsubscribe", b"py-*", 0), ("unsubscribe", b"py-sport", 1)]
        assert ps.subscribed is False
    finally:
        ps.close()


def test_redis_py_pubsub_handlers_and_run_in_thread(server, r):
    got = []
    done = threading.Event()

    def handler(message):
        got.append((message["type"], message.get("pattern"), message["channel"],
                    message["data"]))
        if len(got) == 100:
            done.set()

    ps = r.pubsub(ignore_subscribe_messages=True)
    ps.psubscribe(**{"ev.*": handler})
    ps.subscribe(**{"ev.direct": handler})
    worker = ps.run_in_thread(sleep_time=0.05, daemon=True)
    try:
        wait_until(lambda: r.pubsub_numpat() == 1
                   and r.pubsub_numsub("ev.direct") == [(b"ev.direct", 1)], 10,
                   what="the thread's subscriptions")
        for i in range(50):
            assert r.publish("ev.direct", f"d{i}") == 2
        assert done.wait(IO), f"{len(got)} of 100 messages handled"
        direct = [g for g in got if g[0] == "message"]
        by_pattern = [g for g in got if g[0] == "pmessage"]
        assert direct == [("message", None, b"ev.direct", f"d{i}".encode()) for i in range(50)]
        assert by_pattern == [("pmessage", b"ev.*", b"ev.direct", f"d{i}".encode())
                              for i in range(50)]
    finally:
        worker.stop()
        worker.join(IO)
        ps.close()
    assert not worker.is_alive()


def test_redis_py_pubsub_listen_and_health_checks(server, r, rs):
    ps = server.client(decode_responses=True, health_check_interval=1e-9).pubsub()
    try:
        ps.subscribe("listen-ch")
        assert next_message(ps)["type"] == "subscribe"   # (a health check runs before each)
        for i in range(5):
            assert rs.publish("listen-ch", f"v{i}") == 1
        assert rs.publish("listen-ch", "stop") == 1
        seen = []
        for m in ps.listen():
            if m["type"] == "message":
                if m["data"] == "stop":
                    break
                seen.append(m["data"])
        assert seen == [f"v{i}" for i in range(5)]
        ps.unsubscribe()
        assert next_message(ps) == {"type": "unsubscribe", "pattern": None,
                                    "channel": "listen-ch", "data": 0}
        # Out of subscribed mode the health check's PING is a plain one; still parsed.
        assert ps.get_message(timeout=0.1) is None
    finally:
        ps.close()


# ---------------------------------------------------------------------------
# 9. A subscriber that does not read (Flin's own limit settings)

@pytest.mark.flin_only
def test_subscriber_that_never_reads_is_disconnected(make_server):
    srv = make_server()
    admin = srv.raw(timeout=IO)
    try:
        assert admin.call("CONFIG", "GET", "client-output-hard-limit")[0] == \
            b"client-output-hard-limit"
        assert admin.call("CONFIG", "SET", "client-output-hard-limit", "1mb") == "OK"
        slow = socket.create_connection(("127.0.0.1", srv.port), timeout=IO)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.sendall(encode_command("CLIENT", "ID"))
        slow_id = int(slow.recv(100).strip()[1:])
        slow.sendall(encode_command("SUBSCRIBE", "flood"))
        with RawConn(srv.port, timeout=IO) as fast, RawConn(srv.port, timeout=IO) as p:
            sub(fast, "SUBSCRIBE", "flood")
            wait_until(lambda: p.call("PUBSUB", "NUMSUB", "flood") == [b"flood", 2], 10,
                       what="both subscribers")
            chunk = b"x" * (64 << 10)
            published = 0
            # Publish until the slow one is gone: at most 64 MiB, far over its 1 MiB limit
            # plus what the kernel buffers; every PUBLISH answers meanwhile.
            while published < 1024:
                reply = p.call("PUBLISH", "flood", chunk)
                assert reply in (1, 2), reply
                published += 1
                expect(fast, wire("message", "flood", chunk))    # the reader keeps up
                if reply == 1 and p.call("PUBSUB", "NUMSUB", "flood") == [b"flood", 1]:
                    break
            assert p.call("PUBSUB", "NUMSUB", "flood") == [b"flood", 1], \
                f"the slow subscriber still subscribed after {published} 64 KiB messages"
            assert f"id={slow_id} " not in admin.call("CLIENT", "LIST").decode()
            # The server keeps serving: PUBLISH, the reader, other commands.
            assert p.call("PUBLISH", "flood", "after") == 1
            expect(fast, wire("message", "flood", "after"))
            assert admin.call("SET", "k", "v") == "OK"
            assert admin.call("GET", "k") == b"v"
        slow.close()   # (draining what the kernel holds through a 4 KiB window takes minutes)
    finally:
        admin.close()
