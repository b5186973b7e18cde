"""Large writes in a cluster (issue 4).

A write is one Raft entry, which each replica's raft thread encodes, stores and fsyncs in one
round; that thread drives all of the node's partitions, so a round spent on megabytes holds up
the heartbeats and election timers of every other partition on it. One 16 MiB SET held a
node's raft thread long enough for every partition on it to lose its leader. So a cluster
refuses a write over --raft-entry-max-bytes (8 MiB by default, as TiKV's raft-entry-max-size),
and what fits replicates whole: concurrent writes of several MiB to partitions one node leads
(the node's messages to a peer in one round then exceed one 16 MiB bus payload and are split).

Each test starts a fresh 3-node cluster (scratch ports and dirs, stopped by PID).
"""
import threading
import time

import pytest
import redis
from redis.cluster import RedisCluster, ClusterNode

from test_cluster import make_cluster  # noqa: F401 (a fixture)

pytestmark = pytest.mark.flin_only

MIB = 1 << 20


def client(cl):
    return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", p) for p in cl.ports()],
                        socket_timeout=60)


def keys_led_by_one_node(c, n):
    """n keys of different slots whose partitions one node leads (the first node found)."""
    by_node = {}
    for i in range(5000):
        key = f"big:{i}"
        node = c.get_node_from_key(key)
        keys = by_node.setdefault(node.name, [])
        if all(c.keyslot(k) != c.keyslot(key) for k in keys):
            keys.append(key)
        if len(keys) == n:
            return keys
    pytest.fail("no node leads enough partitions")


def test_concurrent_writes_of_megabytes_replicate_whole(make_cluster):
    cl = make_cluster()
    c = client(cl)
    keys = keys_led_by_one_node(c, 4)
    results = {}

    def write(i, key):
        # A slow machine (a sanitizer build) may answer -TIMEOUT (outcome unknown) or lose a
        # leader meanwhile: the SET is idempotent, so it is sent again, within a deadline.
        w = client(cl)
        deadline = time.monotonic() + 90
        try:
            while True:
                try:
                    results[key] = w.set(key, bytes([65 + i]) * (6 * MIB))
                    return
                except redis.RedisError as e:
                    results[key] = e
                    if time.monotonic() > deadline:
                        return
        finally:
            w.close()

    threads = [threading.Thread(target=write, args=(i, k)) for i, k in enumerate(keys)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results == {k: True for k in keys}, results
    try:
        for i, key in enumerate(keys):
            assert c.get(key) == bytes([65 + i]) * (6 * MIB), key
        # Every replica holds them: READONLY reads from each node.
        for port in cl.ports():
            r = redis.Redis(port=port, socket_timeout=60)
            r.execute_command("READONLY")
            for i, key in enumerate(keys):
                deadline = time.monotonic() + 30
                while r.strlen(key) != 6 * MIB and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert r.get(key) == bytes([65 + i]) * (6 * MIB), (port, key)
            r.close()
    finally:
        c.close()


def test_a_write_over_the_entry_limit_is_refused_and_one_under_it_applies(make_cluster):
    cl = make_cluster(extra=["--raft-entry-max-bytes", "2mb"])
    c = client(cl)
    try:
        with pytest.raises(redis.ResponseError, match="raft-entry-max-bytes"):
            c.set("too-big", b"x" * (2 * MIB))
        with pytest.raises(redis.ResponseError, match="raft-entry-max-bytes"):
            c.execute_command("MSET", "{t}a", b"y" * MIB, "{t}b", b"y" * MIB,
                              target_nodes=c.get_node_from_key("{t}a"))
        assert c.get("too-big") is None
        assert c.set("fits", b"z" * (2 * MIB - 4096)) is True
        assert c.get("fits") == b"z" * (2 * MIB - 4096)
        assert c.config_get("raft-entry-max-bytes", target_nodes=RedisCluster.RANDOM) == \
            {"raft-entry-max-bytes": str(2 * MIB)}
    finally:
        c.close()
