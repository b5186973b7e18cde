"""WAIT and keyspace notifications on a 3-node Flin cluster (one cluster for the module).

- WAIT counts the followers holding the connection's writes: both once they have them, one
  while the other is killed, both again once it is back and caught up.
- Keyspace notifications are raised where each replica applies the entry, so a client
  subscribed on any node hosting the key's partition (here: every node) gets the events of a
  write made through the leader, once, after the write is readable there.

Flin only (Redis is not run as a cluster here).  Helpers: cluster_helpers.py.
"""

import pytest
import redis

from cluster_helpers import slot_owner_map, slot_of, start_balanced_or_fail
from flinproc import wait_until

pytestmark = pytest.mark.flin_only


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cl = start_balanced_or_fail(tmp_path_factory.mktemp("notifycluster"))
    yield cl
    cl.stop()


def leader_of(cluster, key):
    """The port of the node leading `key`'s slot now."""
    return slot_owner_map(cluster.ports()[0])[slot_of(key)]


def test_keyspace_events_on_every_replica(cluster):
    key = "kev-key"
    leader = wait_until(lambda: leader_of(cluster, key), 30, what="a leader for the key")
    clients, subs = [], []
    try:
        for port in cluster.ports():
            c = redis.Redis(port=port, socket_timeout=30)
            c.config_set("notify-keyspace-events", "KE$g")
            clients.append(c)
            p = c.pubsub()
            p.psubscribe("__key*__:" + "*")
            p.subscribe("marker")
            subs.append(p)
        for p in subs:  # both confirmations
            for _ in range(2):
                assert p.get_message(timeout=10) is not None
        w = redis.Redis(port=leader, socket_timeout=30)
        w.set(key, "1")
        w.incrby(key, 5)
        w.delete(key)
        expected = [(b"__keyspace@0__:" + key.encode(), b"set"),
                    (b"__keyevent@0__:set", key.encode()),
                    (b"__keyspace@0__:" + key.encode(), b"incrby"),
                    (b"__keyevent@0__:incrby", key.encode()),
                    (b"__keyspace@0__:" + key.encode(), b"del"),
                    (b"__keyevent@0__:del", key.encode())]
        for port, p in zip(cluster.ports(), subs):
            got = []
            while len(got) < len(expected):
                m = p.get_message(timeout=30)
                assert m is not None, (port, got)
                if m["type"] == "pmessage":
                    got.append((m["channel"], m["data"]))
            assert got == expected, port
            # Nothing more: a PUBLISH to the marker (which every node forwards) comes next.
            redis.Redis(port=port).publish("marker", "end")
            while True:
                m = p.get_message(timeout=30)
                assert m is not None, port
                if m["type"] == "message":
                    break
                assert m["type"] != "pmessage", (port, m)
        w.close()
    finally:
        for p in subs:
            p.close()
        for c in clients:
            c.config_set("notify-keyspace-events", "")
            c.close()


def test_wait_counts_followers_and_a_dead_one(cluster):
    key = "wait-key"
    port = wait_until(lambda: leader_of(cluster, key), 30, what="a leader for the key")
    c = redis.Redis(port=port, socket_timeout=90)
    fresh = redis.Redis(port=port, socket_timeout=30)
    try:
        # Nothing written: every follower holds all of it.
        assert fresh.execute_command("WAIT", 2, 0) == 2
        c.set(key, "1")
        # Both followers get it within the timeout (generous: a loaded machine).
        assert c.execute_command("WAIT", 2, 20000) == 2
        assert c.execute_command("WAIT", 5, 10) == 2  # more than there are: the count at timeout

        follower = next(n for n in cluster.nodes.values() if n.port != port)
        follower.kill9()
        try:
            c.set(key, "2")  # committed by the leader and the other follower
            assert c.get(key) == b"2"
            assert c.execute_command("WAIT", 1, 0) == 1
            assert c.execute_command("WAIT", 2, 100) == 1  # the dead one cannot acknowledge
        finally:
            follower.start()
        # Back, it catches up, and WAIT counts it again.
        assert c.execute_command("WAIT", 2, 60000) == 2
    finally:
        c.close()
        fresh.close()


def test_publish_inside_multi_reaches_every_node(cluster):
    """A transaction's PUBLISH runs from the log on every replica, each publishing to its own
    node's subscribers: with 3 replicas on 3 nodes, every subscriber gets it once."""
    key = "multi-pub-key"
    leader = wait_until(lambda: leader_of(cluster, key), 30, what="a leader for the key")
    subs = []
    try:
        for port in cluster.ports():
            p = redis.Redis(port=port, socket_timeout=30).pubsub()
            p.subscribe("multi-chan")
            assert p.get_message(timeout=10)["type"] == "subscribe"
            subs.append(p)
        c = redis.Redis(port=leader, socket_timeout=30)
        with c.pipeline(transaction=True) as pipe:
            pipe.set(key, "v")
            pipe.publish("multi-chan", "with-a-key")
            assert pipe.execute() == [True, 1]  # the leader's own subscriber
        with c.pipeline(transaction=True) as pipe:  # PUBLISH alone: no slot named
            pipe.publish("multi-chan", "alone")
            assert pipe.execute() == [1]
        for p in subs:
            got = []
            while len(got) < 2:
                m = p.get_message(timeout=30)
                assert m is not None, got
                if m["type"] == "message":
                    got.append(m["data"])
            # (Two partitions' logs: a node may apply them in either order.)
            assert sorted(got) == [b"alone", b"with-a-key"]
        c.close()
    finally:
        for p in subs:
            p.close()
