"""CLIENT TRACKING on a 3-node Flin cluster (one cluster for the module).

Every replica applies every write, and each node invalidates its own tracking clients once the
write is readable there (server/tracking.h):
- a client tracking on a key's leader gets `invalidate [key]` for a write made by another
  client through that leader;
- a READONLY client reading the key on a follower gets it too, from the follower's own apply;
- a BCAST client on each node hears of a write of a matching key once, whoever leads it;
- a FLUSHALL on one node (which empties the slots that node leads on every replica) reaches
  the tracking clients of every node as `invalidate _`.

Flin only (Redis is not run as a cluster here).  Helpers: cluster_helpers.py, flinproc.RawConn.
"""

import pytest

from cluster_helpers import slot_owner_map, slot_of, start_balanced_or_fail
from flinproc import Push, RawConn, wait_until

pytestmark = pytest.mark.flin_only

IO = 30.0  # a cluster's write may wait an election out on a slow machine


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cl = start_balanced_or_fail(tmp_path_factory.mktemp("trackcluster"))
    yield cl
    cl.stop()


def leader_of(cluster, key):
    return wait_until(lambda: slot_owner_map(cluster.ports()[0])[slot_of(key)], 30,
                      what=f"a leader for {key}")


def tracker(port, *options):
    c = RawConn(port, timeout=IO)
    c.call("HELLO", "3")
    assert c.call("CLIENT", "TRACKING", "on", *options) == "OK"
    return c


def next_push(c):
    """The next push on `c` (replies to nothing else are expected meanwhile)."""
    m = c.read_reply()
    assert isinstance(m, Push), m
    return list(m)


def quiet(c):
    """Nothing is pending on `c`: a PING answers PONG before any push."""
    assert c.call("PING") == "PONG"


def test_leader_and_readonly_follower_clients_are_invalidated(cluster):
    key = "trk-key"
    leader = leader_of(cluster, key)
    followers = [p for p in cluster.ports() if p != leader]
    writer = RawConn(leader, timeout=IO)
    assert writer.call("SET", key, "v0") == "OK"
    on_leader = tracker(leader)
    assert on_leader.call("GET", key) == b"v0"
    on_follower = tracker(followers[0])
    assert on_follower.call("READONLY") == "OK"
    # Once the follower has applied v0 (an untracked connection waits for it: a tracked read
    # before then would get an invalidation for v0 itself), one tracked read.
    wait_until(lambda: _readonly_get(followers[0], key) == b"v0", 30, what="v0 on the follower")
    assert on_follower.call("GET", key) == b"v0"
    try:
        assert writer.call("SET", key, "v1") == "OK"
        assert next_push(on_leader) == [b"invalidate", [key.encode()]]
        assert next_push(on_follower) == [b"invalidate", [key.encode()]]
        # Sent once: the key is forgotten until read again.
        assert writer.call("SET", key, "v2") == "OK"
        quiet(on_leader)
        wait_until(lambda: _readonly_get(followers[0], key) == b"v2", 30,
                   what="v2 on the follower")
        quiet(on_follower)
        # A non-READONLY read on the follower is redirected, and tracks nothing there.
        plain = tracker(followers[0])
        reply = plain.call("GET", key)
        assert str(reply).startswith("MOVED"), reply
        assert writer.call("SET", key, "v3") == "OK"
        quiet(plain)
        plain.close()
    finally:
        for c in (writer, on_leader, on_follower):
            c.close()


def _readonly_get(port, key):
    c = RawConn(port, timeout=IO)
    try:
        c.call("READONLY")
        return c.call("GET", key)
    finally:
        c.close()


def test_bcast_on_every_node_and_a_flush_reaches_them_all(cluster):
    bcast = [tracker(p, "BCAST", "PREFIX", "bc:") for p in cluster.ports()]
    try:
        key = "bc:one"
        leader = leader_of(cluster, key)
        writer = RawConn(leader, timeout=IO)
        assert writer.call("SET", key, "1") == "OK"
        for c in bcast:
            assert next_push(c) == [b"invalidate", [key.encode()]]
            quiet(c)  # once
        # FLUSHALL on one node empties the slots it leads, on every replica: every node's
        # tracking clients hear "everything" (once per partition applied there at least).
        assert writer.call("FLUSHALL") == "OK"
        for c in bcast:
            assert next_push(c) == [b"invalidate", None]
        writer.close()
    finally:
        for c in bcast:
            c.close()
