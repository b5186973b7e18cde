"""Pub/sub on a 3-node Flin cluster (one cluster for the module), as Redis Cluster does it:
PUBLISH on any node reaches channel and pattern subscribers on every node, and answers the
number of receivers on that node only; PUBSUB CHANNELS / NUMSUB / NUMPAT are per node; SPUBLISH
goes to the leader of the channel's slot (other nodes answer -MOVED), and its smessage reaches
shard subscribers on every node holding a replica of that partition (all three here);
SSUBSCRIBE on a follower needs READONLY, else -MOVED; SSUBSCRIBE of channels of two slots
answers -CROSSSLOT; redis-py's RedisCluster pubsub.

Flin only (Redis is not run as a cluster here).  Helpers: cluster_helpers.py.  Waits are reads
with a socket timeout: a message that never comes fails the test in IO seconds.
"""

import pytest
from redis.cluster import ClusterNode, RedisCluster

from cluster_helpers import slot_of, slot_owner_map, start_balanced_or_fail
from flinproc import Error, RawConn, encode_command, next_pubsub_message

pytestmark = pytest.mark.flin_only

IO = 10.0
CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Started, and used once the leaders sit on their preferred nodes (64 partitions over 3
    nodes: 22, 21, 21), after which they move only on faults."""
    cl = start_balanced_or_fail(tmp_path_factory.mktemp("pubsubcluster"))
    yield cl
    cl.stop()


@pytest.fixture
def conn(cluster, request):
    """A factory of raw connections to a node's port, closed at the test's end."""
    made = []

    def make(port):
        c = RawConn(port, timeout=IO)
        made.append(c)
        return c
    yield make
    for c in made:
        c.close()
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print(cluster.log_tails(40))


def wire(*items):
    """The exact bytes of a RESP2 pub/sub reply (an array of bulks, integers and nulls)."""
    out = [b"*%d\r\n" % len(items)]
    for it in items:
        if it is None:
            out.append(b"$-1\r\n")
        elif isinstance(it, int):
            out.append(b":%d\r\n" % it)
        else:
            it = it.encode() if isinstance(it, str) else it
            out.append(b"$%d\r\n%s\r\n" % (len(it), it))
    return b"".join(out)


def expect(c, data):
    got = c.read_bytes(len(data))
    assert got == data, f"expected {data[:300]!r}, got {got[:300]!r}"


def sub(c, cmd, *names):
    c.send_command(cmd, *names)
    return [c.read_reply() for _ in range(max(1, len(names)))]


def channel_led_by(cluster, port, prefix, avoid_slots=()):
    """A channel name whose slot the node on `port` leads (per CLUSTER SLOTS)."""
    owner = slot_owner_map(cluster.ports()[0])
    return next(ch for ch in (f"{prefix}{i}" for i in range(100_000))
                if owner[slot_of(ch)] == port and slot_of(ch) not in avoid_slots)


def keyslot(port, channel):
    with RawConn(port, timeout=IO) as c:
        slot = c.call("CLUSTER", "KEYSLOT", channel)
    assert slot == slot_of(channel), (channel, slot)
    return slot


# ---------------------------------------------------------------------------

def test_publish_reaches_subscribers_on_every_node(cluster, conn):
    ports = cluster.ports()
    a = ports[0]
    subs = {p: conn(p) for p in ports}
    for p, c in subs.items():
        c.send_command("SUBSCRIBE", "bcast")
        expect(c, wire("subscribe", "bcast", 1))
    # On A also a second subscriber and a pattern: A's local receivers are 3.
    a2 = conn(a)
    sub(a2, "SUBSCRIBE", "bcast")
    sub(a2, "PSUBSCRIBE", "bc*")
    for i, src in enumerate(ports):
        with RawConn(src, timeout=IO) as pub:
            assert pub.call("PUBLISH", "bcast", f"m{i}") == (3 if src == a else 1), src
        for p, c in subs.items():
            expect(c, wire("message", "bcast", f"m{i}"))
        expect(a2, wire("message", "bcast", f"m{i}") + wire("pmessage", "bc*", "bcast", f"m{i}"))
    # Many messages from one publisher arrive on another node in publish order.
    n = 500
    with RawConn(ports[1], timeout=IO) as pub:
        pub.send(b"".join(encode_command("PUBLISH", "bcast", f"o{i}") for i in range(n)))
        assert [pub.read_reply() for _ in range(n)] == [1] * n
    for p in (ports[0], ports[2]):
        for i in range(n):
            expect(subs[p], wire("message", "bcast", f"o{i}"))
    # Binary-safe across the bus; a 1 MiB message too.
    every_byte = bytes(range(256))
    big = bytes(i * 13 % 256 for i in range(1 << 20))
    sub(subs[ports[2]], "SUBSCRIBE", every_byte)
    with RawConn(ports[0], timeout=IO) as pub:
        assert pub.call("PUBLISH", every_byte, big) == 0
    expect(subs[ports[2]], wire("message", every_byte, big))


def test_patterns_across_nodes(cluster, conn):
    ports = cluster.ports()
    b, c = conn(ports[1]), conn(ports[2])
    sub(b, "PSUBSCRIBE", "pat.*")
    sub(c, "PSUBSCRIBE", "pat.?", "p*")
    with RawConn(ports[0], timeout=IO) as pub:
        assert pub.call("PUBLISH", "pat.x", "one") == 0       # no receiver on A
    expect(b, wire("pmessage", "pat.*", "pat.x", "one"))
    got = sorted(tuple(c.read_reply()) for _ in range(2))
    assert got == [(b"pmessage", b"p*", b"pat.x", b"one"),
                   (b"pmessage", b"pat.?", b"pat.x", b"one")]
    with RawConn(ports[1], timeout=IO) as pub:
        assert pub.call("PUBLISH", "pat.long", "two") == 1    # B's own pattern
    expect(b, wire("pmessage", "pat.*", "pat.long", "two"))
    expect(c, wire("pmessage", "p*", "pat.long", "two"))


def test_pubsub_introspection_is_per_node(cluster, conn):
    ports = cluster.ports()
    a1, a2, b = conn(ports[0]), conn(ports[0]), conn(ports[1])
    sub(a1, "SUBSCRIBE", "intro")
    sub(a2, "SUBSCRIBE", "intro", "intro2")
    sub(b, "SUBSCRIBE", "intro")
    sub(b, "PSUBSCRIBE", "intro*")
    counts = {ports[0]: (2, 0), ports[1]: (1, 1), ports[2]: (0, 0)}
    for p, (numsub, numpat) in counts.items():
        with RawConn(p, timeout=IO) as c:
            assert c.call("PUBSUB", "NUMSUB", "intro") == [b"intro", numsub], p
            assert c.call("PUBSUB", "NUMPAT") == numpat, p
    with RawConn(ports[0], timeout=IO) as c:
        assert sorted(c.call("PUBSUB", "CHANNELS", "intro*")) == [b"intro", b"intro2"]
    with RawConn(ports[2], timeout=IO) as c:
        assert c.call("PUBSUB", "CHANNELS", "intro*") == []


def test_spublish_is_answered_by_the_slot_leader_only(cluster, conn):
    ports = cluster.ports()
    for leader in ports:
        ch = channel_led_by(cluster, leader, "sp:")
        slot = keyslot(leader, ch)
        for p in ports:
            c = conn(p)
            reply = c.call("SPUBLISH", ch, "x")
            if p == leader:
                assert reply == 0, (p, reply)
            else:
                assert reply == Error(f"MOVED {slot} 127.0.0.1:{leader}"), (p, reply)
            # A hash tag routes by the tag.
            reply = c.call("SPUBLISH", "{" + ch + "}.tail", "x")
            assert reply == (0 if p == leader else Error(f"MOVED {slot} 127.0.0.1:{leader}"))


def test_smessage_reaches_shard_subscribers_on_every_replica(cluster, conn):
    ports = cluster.ports()
    leader = ports[1]
    ch = channel_led_by(cluster, leader, "sm:")
    subs = {}
    for p in ports:
        c = conn(p)
        if p != leader:
            assert c.call("READONLY") == "OK"
        c.send_command("SSUBSCRIBE", ch)
        expect(c, wire("ssubscribe", ch, 1))
        sub(c, "SUBSCRIBE", "ctl")        # (a marker channel, below)
        subs[p] = c
    pub = conn(leader)
    assert pub.call("SPUBLISH", ch, "hello") == 1   # the leader's local shard subscriber
    for p, c in subs.items():
        expect(c, wire("smessage", ch, "hello"))
    # In publish order on every replica.
    n = 300
    pub.send(b"".join(encode_command("SPUBLISH", ch, f"s{i}") for i in range(n)))
    assert [pub.read_reply() for _ in range(n)] == [1] * n
    for p, c in subs.items():
        for i in range(n):
            expect(c, wire("smessage", ch, f"s{i}"))
    # PUBLISH of the same name does not reach shard subscribers, on any node.
    for p in ports:
        with RawConn(p, timeout=IO) as other:
            assert other.call("PUBLISH", ch, "not-sharded") == 0
    assert pub.call("PUBLISH", "ctl", "marker") == 1
    for p, c in subs.items():
        expect(c, wire("message", "ctl", "marker"))   # the next thing each gets
    # A follower's shard subscription is gone once it unsubscribes.
    follower = ports[0]
    subs[follower].send_command("SUNSUBSCRIBE", ch)
    expect(subs[follower], wire("sunsubscribe", ch, 0))
    assert pub.call("SPUBLISH", ch, "last") == 1
    for p in (leader, ports[2]):
        expect(subs[p], wire("smessage", ch, "last"))
    assert pub.call("PUBLISH", "ctl", "marker2") == 1
    expect(subs[follower], wire("message", "ctl", "marker2"))


def test_ssubscribe_on_a_follower_needs_readonly(cluster, conn):
    ports = cluster.ports()
    leader = ports[2]
    ch = channel_led_by(cluster, leader, "ro:")
    slot = keyslot(leader, ch)
    for follower in ports[:2]:
        c = conn(follower)
        assert c.call("SSUBSCRIBE", ch) == Error(f"MOVED {slot} 127.0.0.1:{leader}")
        assert c.call("PING") == "PONG"                  # not subscribed
        assert c.call("READONLY") == "OK"
        c.send_command("SSUBSCRIBE", ch)
        expect(c, wire("ssubscribe", ch, 1))
        c.send_command("SUNSUBSCRIBE")
        expect(c, wire("sunsubscribe", ch, 0))
        assert c.call("READWRITE") == "OK"
        assert c.call("SSUBSCRIBE", ch) == Error(f"MOVED {slot} 127.0.0.1:{leader}")
    # On the leader, without READONLY.
    c = conn(leader)
    c.send_command("SSUBSCRIBE", ch)
    expect(c, wire("ssubscribe", ch, 1))


def test_ssubscribe_of_two_slots_answers_crossslot(cluster, conn):
    ports = cluster.ports()
    leader = ports[0]
    a = channel_led_by(cluster, leader, "cs:a")
    b = channel_led_by(cluster, leader, "cs:b", avoid_slots={slot_of(a)})
    for p in ports:
        c = conn(p)
        if p != leader:
            assert c.call("READONLY") == "OK"
        assert c.call("SSUBSCRIBE", a, b) == Error(CROSSSLOT), p
        assert c.call("PING") == "PONG", p              # nothing subscribed
        # Channels of one slot (a hash tag) go together; plain SUBSCRIBE takes any channels.
        c.send_command("SSUBSCRIBE", "{" + a + "}.1", "{" + a + "}.2")
        expect(c, wire("ssubscribe", "{" + a + "}.1", 1) + wire("ssubscribe", "{" + a + "}.2", 2))
        c.send_command("SUBSCRIBE", a, b)
        expect(c, wire("subscribe", a, 1) + wire("subscribe", b, 2))
    with RawConn(leader, timeout=IO) as c:
        assert c.call("SPUBLISH", a, "x") == 0          # nobody on a itself
        assert c.call("PUBSUB", "SHARDNUMSUB", "{" + a + "}.1") == [("{" + a + "}.1").encode(), 1]


def next_message(ps, timeout=IO):
    return next_pubsub_message(ps, timeout)


def test_redis_py_cluster_pubsub(cluster):
    """redis-py's RedisCluster (4.3: subscribe and psubscribe; no ssubscribe yet): a pubsub
    goes to the node of its first channel's slot, or to a node named; PUBLISH goes to the
    channel's slot's node; PUBSUB NUMSUB / NUMPAT / CHANNELS asked of every node are summed."""
    rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", p) for p in cluster.ports()],
                      decode_responses=True, socket_timeout=IO, socket_connect_timeout=IO)
    ps = ps2 = None
    try:
        ps = rc.pubsub()
        ps.subscribe("rc-news")
        assert next_message(ps) == {"type": "subscribe", "pattern": None,
                                    "channel": "rc-news", "data": 1}
        home = ps.get_pubsub_node()
        assert home.port == slot_owner_map(cluster.ports()[0])[slot_of("rc-news")]
        assert rc.publish("rc-news", "hi") == 1          # sent to home, its one receiver
        assert next_message(ps) == {"type": "message", "pattern": None,
                                    "channel": "rc-news", "data": "hi"}
        # A pubsub on another node, by pattern.
        other = next(p for p in cluster.ports() if p != home.port)
        ps2 = rc.pubsub(node=rc.get_node(host="127.0.0.1", port=other))
        ps2.psubscribe("rc-*")
        assert next_message(ps2) == {"type": "psubscribe", "pattern": None,
                                     "channel": "rc-*", "data": 1}
        assert rc.publish("rc-news", "two") == 1         # only home's receiver counts
        assert next_message(ps) == {"type": "message", "pattern": None,
                                    "channel": "rc-news", "data": "two"}
        assert next_message(ps2) == {"type": "pmessage", "pattern": "rc-*",
                                     "channel": "rc-news", "data": "two"}
        # (redis-py sends PUBSUB to its default node unless told to ask every node.)
        every = RedisCluster.ALL_NODES
        assert rc.pubsub_numsub("rc-news", target_nodes=every) == [("rc-news", 1)]
        assert rc.pubsub_numpat(target_nodes=every) == 1
        assert rc.pubsub_channels("rc-*", target_nodes=every) == ["rc-news"]
        assert rc.pubsub_numsub("rc-news", target_nodes=home) == [("rc-news", 1)]
        assert rc.pubsub_numpat(target_nodes=rc.get_node(host="127.0.0.1", port=other)) == 1
        ps.unsubscribe()
        assert next_message(ps)["type"] == "unsubscribe"
        assert rc.publish("rc-news", "three") == 0
        assert next_message(ps2)["data"] == "three"
    finally:
        for p in (ps, ps2):
            if p is not None:
                p.close()
        rc.close()
