"""Hashes, sets and lists on a 3-node Flin cluster.

- redis-py's RedisCluster writes and reads hashes spread over every slot's leader
  (HSET HINCRBY HDEL HGETALL HMGET HLEN), and gets WRONGTYPE and -MOVED as from Redis Cluster;
- a READONLY client reads every hash from a follower once it has applied them;
- a node restarted after the survivors truncated their logs catches up from snapshots that
  carry hashes (each value checked as it arrives: cluster/snapshot_data.h), and reads them
  back whole;
- the same client writes and reads sets (SADD SREM SMEMBERS SCARD SISMEMBER), and the
  multi-key set commands over keys of one slot (hash tags: SMOVE SINTERSTORE SUNIONSTORE
  SDIFF); keys of two slots answer -CROSSSLOT;
- SPOP, and SRANDMEMBER in a script, pick randomly, yet every replica applies the same picks
  (they are drawn from the log entry): READONLY reads on every node then give the leader's
  sets exactly;
- lists pushed and popped over every slot, LMOVE and RPOPLPUSH within a hash tag, read back
  alike on every node;
- a restarted node catches up sets (and their intset flag) and lists from snapshots.

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
        path = tmp_path / f"cluster{len(made)}"
        c = start_balanced_or_fail(path) if balanced else start_or_fail(Cluster(path, **kw))
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()


def client(cluster, ports=None):
    ports = ports or cluster.ports()
    return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", p) for p in ports],
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


def readonly_sets(port, keys):
    """{key: (members, encoding)} as one node holds them, read locally."""
    out = {}
    with RawConn(port, timeout=IO) as c:
        assert c.call("READONLY") == "OK"
        for k in keys:
            members = c.call("SMEMBERS", k)
            enc = c.call("OBJECT", "ENCODING", k) if members else None
            out[k] = ({m.decode() for m in members}, enc and enc.decode())
    return out


def test_cluster_client_hashes_sets_and_follower_reads(make_cluster):
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

    # Sets.
    want = {}
    for i in range(150):
        members = {str(j) for j in range(i % 9 + 1)} | ({f"m{i}"} if i % 2 else set())
        assert rc.sadd(f"set:{i}", *members) == len(members)
        want[f"set:{i}"] = members
    for i in range(0, 150, 3):
        assert rc.srem(f"set:{i}", "0") == 1
        want[f"set:{i}"].discard("0")
    for k, members in want.items():
        assert rc.smembers(k) == members
        assert rc.scard(k) == len(members)
        assert rc.sismember(k, "1") == ("1" in members)

    # Keys of one slot (a hash tag) combine; keys of two slots do not.
    rc.sadd("{g}a", "x", "y", "z")
    rc.sadd("{g}b", "y", "z", "w")
    assert rc.smove("{g}a", "{g}b", "x") is True
    assert rc.sinterstore("{g}i", "{g}a", "{g}b") == 2
    assert rc.sunionstore("{g}u", "{g}a", "{g}b") == 4
    assert rc.sdiff("{g}b", "{g}a") == {"x", "w"}
    assert rc.smembers("{g}i") == {"y", "z"}
    with RawConn(cl.ports()[0], timeout=IO) as c:
        reply = c.call("SINTER", "set:1", "set:2")
        assert isinstance(reply, Error) and str(reply).startswith("CROSSSLOT"), reply

    # Random picks applied from the log: SPOP as a write, SRANDMEMBER in a script that
    # writes what it drew. Each node must hold what the leader holds.
    for i in range(0, 150, 2):
        k = f"set:{i}"
        popped = rc.spop(k)
        if popped is not None:
            want[k].discard(popped)
        drawn = rc.eval("local m = redis.call('SRANDMEMBER', KEYS[1]) "
                        "if m then redis.call('SREM', KEYS[1], m) end return m", 1, k)
        if drawn is not None:
            want[k].discard(drawn)
    want = {k: m for k, m in want.items() if m}
    for k in list(want):
        assert rc.smembers(k) == want[k], k
    keys = [f"set:{i}" for i in range(150)]
    leader_view = {k: want.get(k, set()) for k in keys}
    for port in cl.ports():
        def agrees():
            return {k: m for k, (m, _) in readonly_sets(port, keys).items()} == leader_view
        wait_until(agrees, 30, what=f"the sets on node :{port}")

    # Lists: pushes and pops over every slot's leader, moves within a hash tag, and every
    # replica holding the leader's lists.
    lists = {}
    for i in range(100):
        k = f"list:{i}"
        assert rc.rpush(k, *[f"e{j}" for j in range(i % 6 + 1)]) == i % 6 + 1
        lists[k] = [f"e{j}" for j in range(i % 6 + 1)]
        if i % 2:
            assert rc.lpop(k) == "e0"
            lists[k].pop(0)
    rc.rpush("{q}in", "a", "b", "c")
    assert rc.lmove("{q}in", "{q}out", "LEFT", "RIGHT") == "a"
    assert rc.rpoplpush("{q}in", "{q}out") == "c"
    assert rc.lrange("{q}out", 0, -1) == ["c", "a"]  # (RPOPLPUSH pushes at the head)
    for port in cl.ports():
        wait_until(lambda: readonly_lists(port, lists) == lists, 30,
                   what=f"the lists on node :{port}")
    rc.close()


def readonly_lists(port, keys):
    with RawConn(port, timeout=IO) as c:
        assert c.call("READONLY") == "OK"
        return {k: [e.decode() for e in c.call("LRANGE", k, 0, -1)] for k in keys}


def test_restart_catches_up_hashes_sets_and_lists_from_snapshot(make_cluster):
    cl = make_cluster(snapshot_entries=50)
    victim = cl.nodes[3]
    survivors = [cl.nodes[1], cl.nodes[2]]
    rc = client(cl)
    want = expected_hashes(300)
    for k, h in want.items():
        rc.hset(k, mapping=h)
    set_keys = [f"s:{i}" for i in range(100)]
    for i, k in enumerate(set_keys):
        rc.sadd(k, *range(i % 5 + 1))
    lists = {f"l:{i}": [str(i)] for i in range(100)}
    for k, elements in lists.items():
        rc.rpush(k, *elements)
    cl.wait_caught_up(victim)
    victim.kill9()
    cl.wait_all_leaders(timeout=60, nodes=survivors)
    rc.close()
    rc = client(cl, [n.port for n in survivors])
    # ~50 writes per partition, each a new field, member or element: past 50 entries, so logs are
    # compacted. Odd sets get members that are no integers (hashtable), even ones stay
    # intsets.
    for round_ in range(7):
        for k in want:
            rc.hset(k, f"r{round_}", round_)
            want[k][f"r{round_}"] = str(round_)
        for i, k in enumerate(set_keys):
            rc.sadd(k, f"r{round_}" if i % 2 else 100 + round_)
        for k in lists:
            rc.lpush(k, f"r{round_}")
            lists[k].insert(0, f"r{round_}")
    want_sets = {k: (rc.smembers(k), "hashtable" if i % 2 else "intset")
                 for i, k in enumerate(set_keys)}
    rc.close()
    victim.start()
    cl.wait_caught_up(victim)
    assert victim.log_count("installed snapshot") > 0, victim.log_tail(30)
    got = readonly_hgetall(victim.port, want)
    wrong = {k: (want[k], got[k]) for k in want if got[k] != want[k]}
    assert not wrong, f"{len(wrong)} hashes differ on node 3: {list(wrong.items())[:3]}"
    got = readonly_sets(victim.port, set_keys)
    wrong = {k: (want_sets[k], got[k]) for k in set_keys if got[k] != want_sets[k]}
    assert not wrong, f"{len(wrong)} sets differ on node 3: {list(wrong.items())[:3]}"
    got = readonly_lists(victim.port, lists)
    wrong = {k: (lists[k], got[k]) for k in lists if got[k] != lists[k]}
    assert not wrong, f"{len(wrong)} lists differ on node 3: {list(wrong.items())[:3]}"
