"""Hashes on a 3-node Flin cluster.

- redis-py's RedisCluster writes and reads hashes spread over every slot's leader
  (HSET HINCRBY HDEL HGETALL HMGET HLEN), and gets WRONGTYPE and -MOVED as from Redis Cluster;
- a READONLY client reads every hash from a follower once it has applied them;
- a node restarted after the survivors truncated their logs catches up from snapshots that
  carry hashes (each value checked as it arrives: cluster/snapshot_data.h), and reads them
  back whole.

Flin only (Redis is not run as a cluster here).  Helpers: cluster_helpers.py.
"""

import pytest
from redis.cluster import ClusterNode, RedisCluster

from cluster_helpers import (Cluster, cluster_slots, slot_of, start_balanced_or_fail,
                             start_or_fail)
from flinproc import Error, RawConn, wait_until

pytestmark = pytest.mark.flin_only

IO = 30.0  # a cluster's write may wait an election out on a slow machine


@pytest.fixture
def make_cluster(tmp_path):
    made = []

    def make(balanced=False, **kw):
        path = tmp_path / f"hashcluster{len(made)}"
        c = start_balanced_or_fail(path) if balanced else start_or_fail(Cluster(path, **kw))
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()


def client(cluster):
    return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", p) for p in cluster.ports()],
                        decode_responses=True, socket_timeout=IO, socket_connect_timeout=IO)


def expected_hashes(n):
    return {f"user:{i}": {"name": f"n{i}", "visits": str(i), "tag": "t" * (i % 7)}
            for i in range(n)}


def readonly_hgetall(port, keys):
    out = {}
    with RawConn(port, timeout=IO) as c:
        assert c.call("READONLY") == "OK"
        for k in keys:
            flat = c.call("HGETALL", k)
            out[k] = {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}
    return out


def test_cluster_client_hashes_and_follower_reads(make_cluster):
    cl = make_cluster(balanced=True)
    rc = client(cl)
    want = expected_hashes(200)
    for k, h in want.items():
        assert rc.hset(k, mapping=h) == len(h)
    for i, k in enumerate(want):
        assert rc.hincrby(k, "visits", 1) == i + 1
        want[k]["visits"] = str(i + 1)
        if i % 2:
            assert rc.hdel(k, "tag") == 1
            del want[k]["tag"]
    for k, h in want.items():
        assert rc.hgetall(k) == h
        assert rc.hlen(k) == len(h)
        assert rc.hmget(k, "name", "nosuch") == [h["name"], None]
    rc.set("plain", "v")
    with pytest.raises(Exception, match="WRONGTYPE"):
        rc.hget("plain", "f")
    with pytest.raises(Exception, match="WRONGTYPE"):
        rc.get("user:0")

    # A node that does not lead the key's slot redirects a hash command as any other.
    key = "user:1"
    s = slot_of(key)

    def moved_from_a_follower():
        leader = next(master for start, end, master, _ in cluster_slots(cl.ports()[0])
                      if start <= s <= end)
        other = next(p for p in cl.ports() if p != leader[1])
        with RawConn(other, timeout=IO) as c:
            reply = c.call("HGETALL", key)
        return isinstance(reply, Error) and str(reply) == f"MOVED {s} {leader[0]}:{leader[1]}"
    wait_until(moved_from_a_follower, 30, what="-MOVED for HGETALL from a follower")

    # Every node holds every hash (3 replicas on 3 nodes): READONLY reads them locally.
    for port in cl.ports():
        wait_until(lambda: readonly_hgetall(port, want) == want, 30,
                   what=f"the hashes on node :{port}")
    rc.close()


def test_restart_catches_up_hashes_from_snapshot(make_cluster):
    cl = make_cluster(snapshot_entries=50)
    victim = cl.nodes[3]
    survivors = [cl.nodes[1], cl.nodes[2]]
    rc = client(cl)
    want = expected_hashes(300)
    for k, h in want.items():
        rc.hset(k, mapping=h)
    cl.wait_caught_up(victim)
    victim.kill9()
    cl.wait_all_leaders(timeout=60, nodes=survivors)
    rc.close()
    rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", n.port) for n in survivors],
                      decode_responses=True, socket_timeout=IO, socket_connect_timeout=IO)
    # ~30 writes per partition, each a new field: past 50 entries, so logs are compacted.
    for round_ in range(7):
        for k in want:
            rc.hset(k, f"r{round_}", round_)
            want[k][f"r{round_}"] = str(round_)
    rc.close()
    victim.start()
    cl.wait_caught_up(victim)
    assert victim.log_count("installed snapshot") > 0, victim.log_tail(30)
    got = readonly_hgetall(victim.port, want)
    wrong = {k: (want[k], got[k]) for k in want if got[k] != want[k]}
    assert not wrong, f"{len(wrong)} hashes differ on node 3: {list(wrong.items())[:3]}"
