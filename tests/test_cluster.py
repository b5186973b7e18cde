"""Cluster black-box tests (issue 4, item 7): real flin-server processes on
loopback forming a 3-node cluster (64 partitions, 3 replicas each).

- redis-py's RedisCluster and `redis-benchmark --cluster` work; CLUSTER SLOTS /
  NODES / KEYSLOT, MOVED from a non-leader, CROSSSLOT, READONLY follower reads;
- kill -9 of a node holding leaders during a stream of writes: the survivors
  elect leaders, clients follow MOVED, no acknowledged write is lost;
- the killed node restarted on its dir catches up, once from the log and once
  from a snapshot (--snapshot-entries 50, after the survivors truncated their log;
  each survivor builds and streams at most 4 snapshots at a time);
- with 2 of 3 nodes down READONLY reads answer and writes fail promptly;
- cluster identity: a node of another cluster is refused, and a data dir
  restarted with another --initial-cluster refuses to start.

No timing thresholds are asserted: waits have generous deadlines, and the
measured failover / catch-up times are printed (run with -s to see them).
Helpers: cluster_helpers.py.  Kept to a few minutes on a loaded 2-core machine.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest
import redis
from redis.cluster import RedisCluster, ClusterNode
from redis.crc import key_slot

import flinproc
from flinproc import RawConn, Error, error_of, wait_until
from cluster_helpers import (SLOTS, PARTITIONS, Cluster, Node, RoutingClient, Writers,
                             cluster_slots, slot_of, partition_of_slot, pipelined_sets,
                             readonly_get_all, free_cluster_ports)

pytestmark = pytest.mark.flin_only

# A shorter Raft tick than the default 50 ms makes failover tests quicker;
# elections still time out after 10-20 ticks (0.3-0.6 s here).
TICK_MS = 30
MAX_SNAPSHOTS_IN_FLIGHT = 4  # MultiRaftOptions::max_snapshots_in_flight


@pytest.fixture
def make_cluster(tmp_path, request):
    made = []

    def make(**kw):
        c = Cluster(tmp_path / f"cluster{len(made)}", **kw)
        os.makedirs(c.workdir, exist_ok=True)
        made.append(c)
        try:
            c.start()
        except (flinproc.ServerError, AssertionError) as e:
            pytest.fail(f"cluster did not start: {e}\n{c.log_tails()}", pytrace=False)
        return c

    yield make
    failed = any(getattr(request.node, "rep_" + w, None) is not None
                 and getattr(request.node, "rep_" + w).failed for w in ("setup", "call"))
    for c in made:
        c.stop()
        if failed:
            print(c.log_tails(80))


def rc_client(cluster, **kw):
    kw.setdefault("socket_timeout", 10)
    kw.setdefault("socket_connect_timeout", 10)
    return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", p) for p in cluster.ports()],
                        decode_responses=True, **kw)


def leader_port_of(cluster, key):
    slots = cluster_slots(cluster.ports()[0])
    s = slot_of(key)
    for start, end, master, _ in slots:
        if start <= s <= end:
            return master[1]
    raise AssertionError(f"slot {s} not in CLUSTER SLOTS")


# ---------------------------------------------------------------------------
# 1. Redis Cluster compatibility

def test_redis_py_cluster_client_and_routing(make_cluster):
    cl = make_cluster()
    rc = rc_client(cl)
    try:
        keys = [f"key:{i}" for i in range(600)]
        for k in keys:
            assert rc.set(k, f"val-{k}") is True
        for k in keys[:100]:
            assert rc.get(k) == f"val-{k}"
        assert [rc.incr("counter:a") for _ in range(5)] == [1, 2, 3, 4, 5]
        assert rc.incrby("counter:b", 10) == 10
        # Multi-key commands within one slot, by hash tags.
        for u in range(20):
            tagged = {f"{{user{u}}}.name": f"n{u}", f"{{user{u}}}.mail": f"m{u}",
                      f"{{user{u}}}.age": str(u)}
            assert rc.mset(tagged) is True
            assert rc.mget(list(tagged)) == list(tagged.values())
        # DEL of many keys (redis-py splits them by slot).
        assert rc.delete(*keys[:200]) == 200
    finally:
        rc.close()

    # Every key readable from a fresh client.
    fresh = rc_client(cl)
    try:
        for k in keys[:200]:
            assert fresh.get(k) is None
        for k in keys[200:]:
            assert fresh.get(k) == f"val-{k}", k
        assert fresh.get("counter:a") == "5"
        for u in range(20):
            assert fresh.get(f"{{user{u}}}.age") == str(u)
    finally:
        fresh.close()

    # redis-benchmark in cluster mode.
    out = subprocess.run(["redis-benchmark", "--cluster", "-p", str(cl.ports()[0]),
                          "-t", "set,get", "-n", "2000", "-q"],
                         capture_output=True, text=True, timeout=180)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    assert "error" not in text.lower(), text
    finals = [ln.rsplit("\r", 1)[-1] for ln in text.splitlines()]
    assert any(ln.startswith("SET:") and "requests per second" in ln for ln in finals), text
    assert any(ln.startswith("GET:") and "requests per second" in ln for ln in finals), text


def test_multi_exec_runs_in_one_slot_on_its_leader(make_cluster):
    """A transaction is one entry of its partition's log: keys of one slot, queued on that
    slot's leader; a key of another slot, or a node that does not lead the slot, aborts it."""
    cl = make_cluster()
    leader = leader_port_of(cl, "{t}a")
    other = next(p for p in cl.ports() if p != leader)
    with RawConn(leader) as c:
        assert c.call("MULTI") == "OK"
        for cmd in (("SET", "{t}a", "1"), ("INCR", "{t}a"), ("GET", "{t}b"),
                    ("MSET", "{t}b", "x", "{t}c", "y")):
            assert c.call(*cmd) == "QUEUED"
        assert c.call("EXEC") == ["OK", 2, None, "OK"]
        assert c.call("MGET", "{t}a", "{t}b", "{t}c") == [b"2", b"x", b"y"]
        # Another slot in the same transaction.
        assert c.call("MULTI") == "OK"
        assert c.call("SET", "{t}a", "3") == "QUEUED"
        # (MOVED first if another node leads {u}'s slot, as Redis Cluster answers: a client
        # can follow it.)
        reply = str(c.call("SET", "{u}a", "3"))
        assert reply.startswith(("CROSSSLOT", "MOVED")), reply
        assert str(c.call("EXEC")).startswith("EXECABORT")
        # A keyless write cannot join one.
        assert c.call("MULTI") == "OK"
        assert "cannot be used inside MULTI" in str(c.call("FLUSHALL"))
        assert str(c.call("EXEC")).startswith("EXECABORT")
        # Nothing that names a slot: answered here.
        assert c.call("MULTI") == "OK"
        assert c.call("UNWATCH") == "QUEUED"
        assert c.call("EXEC") == ["OK"]
        assert c.call("GET", "{t}a") == b"2"
        # WATCH: check-and-set within the slot; a key of another slot cannot be watched with it.
        assert c.call("WATCH", "{t}a") == "OK"
        # (MOVED first if another node leads {u}'s slot, as Redis Cluster answers.)
        assert str(c.call("WATCH", "{u}a")).startswith(("CROSSSLOT", "MOVED"))
        assert c.call("MULTI") == "OK"
        assert c.call("INCR", "{t}a") == "QUEUED"
        assert c.call("EXEC") == [3]
        assert c.call("WATCH", "{t}a") == "OK"
        assert c.call("SET", "{t}a", "changed") == "OK"
        assert c.call("MULTI") == "OK"
        assert c.call("SET", "{t}c", "lost") == "QUEUED"
        assert c.call("EXEC") is None
    with RawConn(other) as c:
        assert c.call("MULTI") == "OK"
        reply = c.call("SET", "{t}a", "4")
        assert isinstance(reply, Error) and str(reply).startswith("MOVED"), reply
        assert str(c.call("EXEC")).startswith("EXECABORT")
    # Every replica applied the transaction (followers answer READONLY reads once caught up).
    for port in cl.ports():
        with RawConn(port) as c:
            assert c.call("READONLY") == "OK"
            wait_until(lambda: c.call("GET", "{t}c") == b"y", timeout=10,
                       what=f"the transaction's writes on the replica at {port}")


def test_active_expiry_deletes_on_every_replica(make_cluster):
    """Keys with a TTL that nobody reads again: each partition's leader finds them and its
    deletion reaches every replica (each node hosts every partition here), so each node's
    expired_keys counts every key exactly once."""
    cl = make_cluster()
    rc = rc_client(cl)
    n = 300
    try:
        before = [redis.Redis(port=p).info("stats")["expired_keys"] for p in cl.ports()]
        for i in range(n):
            assert rc.set(f"ttl:{i}", "v", px=300) is True
        assert rc.set("kept", "v") is True
    finally:
        rc.close()
    for port, b in zip(cl.ports(), before):
        node = redis.Redis(port=port)
        wait_until(lambda: node.info("stats")["expired_keys"] - b >= n, 30,
                   what=f"node {port}: expired_keys +{n}")
        assert node.info("stats")["expired_keys"] - b == n
        node.close()
    fresh = rc_client(cl)
    try:
        assert fresh.get("kept") == "v"
    finally:
        fresh.close()


def test_cluster_slots_nodes_keyslot(make_cluster):
    cl = make_cluster()
    port = cl.ports()[0]
    ports = set(cl.ports())

    # CLUSTER SLOTS: all 16384 slots once, leader first, every replica listed but in the
    # first ranges (a node that leads is listed as a replica only after its own first range:
    # test_redis_py_sees_every_node_as_a_primary).
    def leaders_first():
        slots = cluster_slots(port)
        covered = [0] * SLOTS
        for start, end, master, replicas in slots:
            for s in range(start, end + 1):
                covered[s] += 1
            assert master[1] in ports and all(r[1] in ports for r in replicas)
            assert master[1] not in {r[1] for r in replicas}, (start, end, master, replicas)
        assert covered == [1] * SLOTS, "CLUSTER SLOTS must cover each slot exactly once"
        full = sum(len({m[1]} | {r[1] for r in reps}) == 3 for _, _, m, reps in slots)
        if full < len(slots) - 2:
            return False
        infos = {n.port: n.info_cluster()["partitions"] for n in cl.nodes.values()}
        for start, end, master, _ in slots:
            p = partition_of_slot(start)
            assert partition_of_slot(end) == p
            if infos[master[1]][p]["role"] != "leader":
                return False
        return True

    wait_until(leaders_first, 30, interval=0.1, what="CLUSTER SLOTS naming each leader first")

    # CLUSTER NODES: one line per node, Redis's format.
    with RawConn(port) as c:
        nodes_text = c.call("CLUSTER", "NODES").decode()
        myid = c.call("CLUSTER", "MYID").decode()
        info = c.call("CLUSTER", "INFO").decode()
    lines = [ln for ln in nodes_text.splitlines() if ln.strip()]
    assert len(lines) == 3, nodes_text
    seen_ports, myself, owned = set(), 0, [0] * SLOTS
    for ln in lines:
        f = ln.split()
        assert len(f) >= 8, ln
        assert len(f[0]) == 40 and all(ch in "0123456789abcdef" for ch in f[0]), ln
        hostport, _, bus = f[1].partition("@")
        host, p = hostport.rsplit(":", 1)
        assert host == "127.0.0.1" and int(bus) == int(p) + 10000, ln
        seen_ports.add(int(p))
        flags = f[2].split(",")
        assert "master" in flags, ln
        if "myself" in flags:
            myself += 1
            assert f[0] == myid and int(p) == port
        assert f[7] == "connected", ln
        for rng in f[8:]:
            a, _, b = rng.partition("-")
            for s in range(int(a), int(b or a) + 1):
                owned[s] += 1
    assert seen_ports == ports and myself == 1
    assert owned == [1] * SLOTS, "CLUSTER NODES slot ranges must cover each slot once"
    assert "cluster_state:ok" in info and "cluster_slots_assigned:16384" in info, info

    # CLUSTER KEYSLOT matches Redis (redis-py's CRC16, and known values).
    known = {"123456789": 12739, "foo": 12182, "{user1000}.following": 3443,
             "{user1000}.followers": 3443, "foo{}{bar}": key_slot(b"foo{}{bar}"),
             "foo{{bar}}zap": key_slot(b"{bar"), "foo{bar}{zap}": key_slot(b"bar"), "": 0}
    with RawConn(port) as c:
        for k, v in known.items():
            assert c.call("CLUSTER", "KEYSLOT", k) == v, k
        for i in range(300):
            k = f"k{i}:{{t{i % 7}}}x" if i % 3 == 0 else f"key-{i * 7919}"
            assert c.call("CLUSTER", "KEYSLOT", k) == key_slot(k.encode()), k
        # COUNTKEYSINSLOT / GETKEYSINSLOT answer for a key we write.
        assert c.call("CLUSTER", "COUNTKEYSINSLOT", 0) == 0

    # MOVED from a non-leader names the leader of CLUSTER SLOTS.
    rclient = RoutingClient(cl.ports())
    try:
        for i in range(30):
            key = f"moved:{i}"
            leader = leader_port_of(cl, key)
            assert rclient.set_until_acked(key, "x", time.monotonic() + 30) == "ack"
            expect = b"x"
            for other in ports - {leader}:
                with RawConn(other) as c:
                    reply = c.call("GET", key)
                    reply2 = c.call("SET", key, "y")
                leader_now = leader_port_of(cl, key)
                if leader_now == other and not (isinstance(reply, Error) and
                                                reply.startswith("MOVED")):
                    # Balancing moved the slot to the node asked while it held the requests
                    # (an election under way): it served them as the leader.
                    assert reply == b"x", reply
                    if not isinstance(reply2, Error):
                        expect = b"y"
                    continue
                assert reply == f"MOVED {slot_of(key)} 127.0.0.1:{leader_now}", reply
                assert reply2 == reply, reply2
            # The leader serves the value. Leaders still move to their preferred nodes in the
            # first seconds (balancing): ask whoever leads now, until one answers.
            deadline = time.monotonic() + 10
            while True:
                leader = leader_port_of(cl, key)
                with RawConn(leader) as c:
                    reply = c.call("GET", key)
                if reply == expect or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert reply == expect, reply
            with RawConn(leader) as c:
                s = slot_of(key)
                assert c.call("CLUSTER", "COUNTKEYSINSLOT", s) >= 1
                assert key.encode() in c.call("CLUSTER", "GETKEYSINSLOT", s, 100)
    finally:
        rclient.close()

    # CROSSSLOT: multi-key commands over different slots, on every node.
    assert slot_of("a") != slot_of("b")
    for p in ports:
        with RawConn(p) as c:
            for cmd in (("MSET", "a", "1", "b", "2"), ("MGET", "a", "b"), ("DEL", "a", "b")):
                reply = c.call(*cmd)
                assert isinstance(reply, Error) and reply.startswith("CROSSSLOT"), (cmd, reply)

    # READONLY on a follower allows GET there; READWRITE goes back to MOVED.
    key = "readonly:key"
    rclient = RoutingClient(cl.ports())
    try:
        assert rclient.set_until_acked(key, "ro-value", time.monotonic() + 30) == "ack"
    finally:
        rclient.close()
    follower = next(iter(ports - {leader_port_of(cl, key)}))
    with RawConn(follower) as c:
        assert c.call("GET", key).startswith("MOVED")
        assert c.call("READONLY") == "OK"
        assert " flags=r " in c.call("CLIENT", "INFO").decode()
        wait_until(lambda: c.call("GET", key) == b"ro-value", 30,
                   what="the follower to apply the write")
        reply = c.call("SET", key, "no")
        assert isinstance(reply, Error) and reply.startswith("MOVED"), reply
        # BITFIELD of GETs only is a read (as BITFIELD_RO), with a SET or INCRBY a write.
        assert c.call("BITFIELD", key, "GET", "u8", "0", "GET", "i4", "#1") == [ord("r"), 2]
        assert c.call("BITFIELD_RO", key, "GET", "u8", "#1") == [ord("o")]
        reply = c.call("BITFIELD", key, "GET", "u8", "0", "SET", "u8", "0", "1")
        assert isinstance(reply, Error) and reply.startswith("MOVED"), reply
        assert c.call("READWRITE") == "OK"
        assert c.call("GET", key).startswith("MOVED")
        assert c.call("BITFIELD", key, "GET", "u8", "0").startswith("MOVED")


def wait_balanced(port):
    """Until CLUSTER SLOTS names every partition's preferred leader (64 over 3 nodes:
    22, 21, 21), after which leaders move only on faults."""
    def balanced():
        led = {}
        for _, _, m, _ in cluster_slots(port):
            led[m[1]] = led.get(m[1], 0) + 1
        return sorted(led.values()) == [21, 21, 22]
    wait_until(balanced, 60, interval=0.1, what="leaders balanced over the three nodes")


def test_redis_py_sees_every_node_as_a_primary(make_cluster):
    # redis-py takes a node's role from its first appearance in CLUSTER SLOTS. With the
    # ranges in slot order two of the three nodes came first as replicas, and commands for
    # all primaries (DBSIZE, KEYS, SCAN, FLUSHALL) reached the keys of one node only:
    # FLUSHALL answered OK and left two thirds of the keys.
    cl = make_cluster()
    wait_balanced(cl.ports()[0])
    rc = rc_client(cl)
    try:
        assert len(rc.get_primaries()) == 3
        keys = {f"p:{i}" for i in range(300)}
        for k in keys:
            assert rc.set(k, "v") is True
        primaries = RedisCluster.PRIMARIES
        # Each node counts the partitions it leads: polled, as a partition in hand-over is
        # counted by neither node for a moment.
        wait_until(lambda: rc.dbsize(target_nodes=primaries) == 300, 30, interval=0.2,
                   what="DBSIZE over the primaries to count every key")
        wait_until(lambda: set(rc.keys(target_nodes=primaries)) == keys, 30, interval=0.2,
                   what="KEYS over the primaries to list every key")
        wait_until(lambda: set(rc.scan_iter(count=50)) == keys, 30, interval=0.2,
                   what="SCAN over the primaries to return every key")
        flushed = rc.flushall()  # {node: True} from each primary
        assert len(flushed) == 3 and all(v is True for v in flushed.values()), flushed
        wait_until(lambda: rc.dbsize(target_nodes=primaries) == 0, 30, interval=0.2,
                   what="nothing left after FLUSHALL")
    finally:
        rc.close()


def test_a_node_caches_the_writes_of_the_partitions_it_leads_only(make_cluster):
    # A replica applying its leader's writes keeps the keys it has cached current but adds
    # none: only READONLY clients read them there. With every write cached on all three
    # replicas the cluster held each key three times, for a third of the nodes' row-cache work.
    cl = make_cluster()
    wait_balanced(cl.ports()[0])
    rc = rc_client(cl)
    try:
        for i in range(300):
            assert rc.set(f"c:{i}", "v") is True
    finally:
        rc.close()
    for node in cl.nodes.values():
        cl.wait_caught_up(node)
    entries = {n.node_id: n.client().info()["row_cache_entries"] for n in cl.nodes.values()}
    assert sum(entries.values()) == 300, entries
    # A follower's READONLY read caches the key, and its next apply updates it there.
    key = "c:7"
    follower = next(n for n in cl.nodes.values() if n.port != leader_port_of(cl, key))
    r = follower.client(decode_responses=True)
    try:
        r.execute_command("READONLY")
        assert r.get(key) == "v"
        rc = rc_client(cl)
        try:
            assert rc.set(key, "v2") is True
        finally:
            rc.close()
        wait_until(lambda: r.get(key) == "v2", 30, interval=0.05, what="the follower to apply")
        assert r.info()["row_cache_hits"] >= 1
    finally:
        r.close()


def test_cluster_mode_answers_as_redis_cluster_does(make_cluster):
    cl = make_cluster()
    with RawConn(cl.ports()[0]) as c:
        assert "redis_mode:cluster" in c.call("INFO", "server").decode()
        assert error_of(c, "SELECT", "1") == "ERR SELECT is not allowed in cluster mode"
        assert c.call("SELECT", "0") == "OK"
        help_lines = c.call("CLUSTER", "HELP")
        assert help_lines[0].startswith("CLUSTER <subcommand>")
        assert any(line.startswith("SLOTS") for line in help_lines), help_lines
        for args in (["KEYSLOT"], ["KEYSLOT", "a", "b"], ["SLOTS", "x"], ["HELP", "x"],
                     ["GETKEYSINSLOT", "1"]):
            assert error_of(c, "CLUSTER", *args) == \
                f"ERR wrong number of arguments for 'cluster|{args[0].lower()}' command", args
        assert error_of(c, "CLUSTER", "COUNTKEYSINSLOT", "abc") == \
            "ERR value is not an integer or out of range"
        assert error_of(c, "CLUSTER", "COUNTKEYSINSLOT", "16384") == "ERR Invalid slot"
        assert error_of(c, "CLUSTER", "GETKEYSINSLOT", "1", "-1") == \
            "ERR Invalid slot or number of keys"
        assert error_of(c, "CLUSTER", "MEET", "127.0.0.1", "1") == \
            "ERR unknown subcommand 'MEET'. Try CLUSTER HELP."
        # Each node of CLUSTER SLOTS: ip, port, id and (Redis 7) networking metadata.
        assert all(len(n) == 4 and n[3] == [] for r in c.call("CLUSTER", "SLOTS")
                   for n in r[2:])
    # In a transaction, a command of a slot another node leads answers MOVED (Redis routes
    # each queued command on its own first); CROSSSLOT is for another slot led here.
    port = cl.ports()[0]
    wait_balanced(port)
    keys = [f"txn:{i}" for i in range(200)]
    here = [k for k in keys if leader_port_of(cl, k) == port]
    elsewhere = [k for k in keys if leader_port_of(cl, k) != port]
    local_other_slot = next(k for k in here[1:] if slot_of(k) != slot_of(here[0]))
    with RawConn(port) as c:
        assert c.call("MULTI") == "OK"
        assert c.call("SET", here[0], "1") == "QUEUED"
        reply = str(c.call("SET", elsewhere[0], "1"))
        assert reply.startswith("MOVED"), reply
        assert str(c.call("SET", local_other_slot, "1")).startswith("CROSSSLOT")
        assert str(c.call("EXEC")).startswith("EXECABORT")


def nodes_line(port, of_port):
    with RawConn(port) as c:
        text = c.call("CLUSTER", "NODES").decode()
    return next(ln for ln in text.splitlines() if f":{of_port}@" in ln).split()


def shard_health(port, of_port):
    """{health of of_port's entry in each CLUSTER SHARDS shard}."""
    with RawConn(port) as c:
        shards = c.call("CLUSTER", "SHARDS")
    seen = set()
    for shard in shards:
        shard = dict(zip(shard[::2], shard[1::2]))
        for n in shard[b"nodes"]:
            n = dict(zip(n[::2], n[1::2]))
            if int(n[b"port"]) == of_port:
                seen.add(n[b"health"].decode())
    return seen


def test_a_dead_node_is_marked_failed_and_left_out_of_cluster_slots(make_cluster):
    # Redis Cluster flags a node it cannot reach (fail?), says its link is disconnected,
    # leaves it out of CLUSTER SLOTS as a replica and reports it failed in SHARDS. Without
    # that, redis-py reading from replicas kept picking the dead node: 300 GETs took 153 s.
    cl = make_cluster(tick_ms=TICK_MS)
    port, victim = cl.nodes[1].port, cl.nodes[2]
    f = nodes_line(port, victim.port)
    assert "fail?" not in f[2] and f[7] == "connected", f
    victim.kill9()
    wait_until(lambda: "fail?" in nodes_line(port, victim.port)[2].split(","), 30,
               interval=0.1, what="the dead node flagged fail?")
    assert nodes_line(port, victim.port)[7] == "disconnected"
    assert shard_health(port, victim.port) == {"failed"}

    def dead_left_out():
        for _, _, master, replicas in cluster_slots(port):
            if victim.port in {master[1]} | {r[1] for r in replicas}:
                return False
        return True
    wait_until(dead_left_out, 30, interval=0.1, what="CLUSTER SLOTS without the dead node")

    victim.start()
    wait_until(lambda: "fail?" not in nodes_line(port, victim.port)[2].split(","), 60,
               interval=0.1, what="the node back, no longer flagged")
    assert nodes_line(port, victim.port)[7] == "connected"
    wait_until(lambda: shard_health(port, victim.port) == {"online"}, 30, interval=0.1,
               what="SHARDS to say the node is online")
    wait_until(lambda: not dead_left_out(), 30, interval=0.1,
               what="CLUSTER SLOTS listing the node again")


# ---------------------------------------------------------------------------
# 2 + 3a. kill -9 during writes; failover; restart catches up from the log

def most_leaders(cl):
    led = cl.leaders()
    counts = {}
    for nid in led.values():
        counts[nid] = counts.get(nid, 0) + 1
    nid = max(counts, key=counts.get)
    return cl.nodes[nid], counts[nid]


def verify_acked(cl, acked, what):
    """Every acknowledged key reads back its value (linearizable reads via the
    leaders, following MOVED)."""
    client = RoutingClient([n.port for n in cl.alive()])
    try:
        deadline = time.monotonic() + 120
        wrong = {}
        for k, v in acked.items():
            got = client.get(k, deadline)
            if got != v.encode():
                wrong[k] = (v, got)
        assert not wrong, (f"{len(wrong)} of {len(acked)} acknowledged writes lost or wrong "
                           f"({what}); e.g. {list(wrong.items())[:5]}")
    finally:
        client.close()


def test_kill9_failover_no_acked_write_lost_then_catch_up_from_log(make_cluster):
    cl = make_cluster(tick_ms=TICK_MS)
    victim, nled = most_leaders(cl)
    survivors = [n for n in cl.nodes.values() if n is not victim]

    writers = Writers(cl.ports(), threads=4, prefix="fo").start()
    try:
        wait_until(lambda: writers.count() >= 300, 60, what="writes before the kill")
        before = writers.count()
        t_kill = time.monotonic()
        victim.kill9()
        led = cl.wait_all_leaders(timeout=60, nodes=survivors)
        failover_s = time.monotonic() - t_kill
        assert set(led.values()) <= {n.node_id for n in survivors}
        wait_writes_continue(writers, "after the failover")  # clients follow MOVED
    finally:
        writers.stop()
    assert not writers.failures, writers.failures
    print(f"\nfailover: node {victim.node_id} (leader of {nled} partitions) killed; every "
          f"partition had a live leader after {failover_s:.2f}s (tick {TICK_MS} ms, election "
          f"timeout {10 * TICK_MS}-{20 * TICK_MS} ms); acked {before} before, "
          f"{len(writers.acked)} total, {len(writers.unknown)} unknown; "
          f"client errors {writers.errors}, MOVED followed {writers.moved}")
    verify_acked(cl, writers.acked, "after the failover")

    # 3a. Restart on the same dir: catches up from the log.
    t0 = time.monotonic()
    victim.start()
    n = cl.wait_caught_up(victim)
    print(f"restarted node {victim.node_id} caught up on {n} partitions in "
          f"{time.monotonic() - t0:.2f}s")
    assert n == PARTITIONS
    assert victim.log_count("installed snapshot") == 0, \
        "with the default --snapshot-entries the log should suffice (no snapshot expected)"
    got = readonly_get_all(victim.port, writers.acked)
    missing = {k: (v, got[k]) for k, v in writers.acked.items() if got[k] != v.encode()}
    assert not missing, (f"{len(missing)} acknowledged keys not on the restarted node: "
                         f"{list(missing.items())[:5]}")
    verify_acked(cl, writers.acked, "after the restart")


def wait_writes_continue(writers, when):
    """Until the writers have 300 more acknowledgements."""
    t0 = time.monotonic()
    wait_until(lambda: writers.acks_after(t0) >= 300, 60, what=f"writes to continue {when}")


def unplanned_events(nodes):
    """Election timers that fired, check-quorum step-downs and transfers given up, summed over
    `nodes`' INFO (each must answer)."""
    return sum(node_events(node) for node in nodes)


def node_events(node):
    f = node.info_cluster()["fields"]
    return (int(f["raft_election_timeouts"]) + int(f["raft_quorum_losses"]) +
            int(f["raft_transfers_aborted"]))


def test_shutdown_hands_leadership_over_without_an_election(make_cluster):
    """SIGTERM (a rolling restart's stop) first hands the partitions the node leads to its
    peers: clients see MOVED, not the -TRYAGAIN of elections, and no election timer fires.
    Killed instead, each partition it led would wait out an election timeout on both
    survivors (at least one timer per partition). Once the node is back it leads partitions
    again (leader balancing); SHUTDOWN NOW skips the hand-over."""
    cl = make_cluster(tick_ms=TICK_MS)
    victim, nled = most_leaders(cl)
    survivors = [n for n in cl.nodes.values() if n is not victim]

    writers = Writers(cl.ports(), threads=4, prefix="sd").start()
    try:
        wait_until(lambda: writers.count() >= 300, 60, what="writes before the shutdown")
        before = unplanned_events(survivors)
        t_stop = time.monotonic()
        assert victim.stop() == 0, victim.log_tail()
        stop_s = time.monotonic() - t_stop
        cl.wait_all_leaders(timeout=60, nodes=survivors)
        # Events counted over the stop and one election timeout past it only: a loaded machine
        # can still let a timer fire now and then, but not one per partition the node led.
        time.sleep(20 * TICK_MS / 1000)
        unplanned = unplanned_events(survivors) - before
        wait_writes_continue(writers, "after the shutdown")
    finally:
        writers.stop()
    assert not writers.failures, writers.failures
    print(f"\nnode {victim.node_id} (leader of {nled} partitions) stopped in {stop_s:.2f}s; "
          f"unplanned leadership events on the survivors {unplanned}; client errors "
          f"{writers.errors}, MOVED followed {writers.moved}")
    assert victim.log_count("leads no partition now") == 1, victim.log_tail()
    assert unplanned < nled / 2, (unplanned, nled)
    assert "CLUSTERDOWN" not in writers.errors, writers.errors
    if unplanned == 0:
        assert "TRYAGAIN" not in writers.errors, writers.errors
    verify_acked(cl, writers.acked, "after the shutdown")

    victim.start()
    wait_until(lambda: list(cl.leaders().values()).count(victim.node_id) >= 2, 60,
               what="the restarted node to lead partitions again")
    with RawConn(victim.port) as c:
        c.send_command("SHUTDOWN", "NOW")
    victim.proc.wait(timeout=30)
    assert victim.log_count("handing this node's partitions") == 1  # the first stop only


def test_transaction_queued_while_its_partition_elects_is_held_not_refused(make_cluster):
    """A command queued in MULTI while its partition elects a leader is QUEUED, and EXEC's
    proposal is held until there is a leader, as a plain write's is (DESIGN.md, "No known
    leader: hold"): the transaction runs if this node won, or EXEC answers -MOVED (certainly not
    run). Before, the queued command got -TRYAGAIN at once and the transaction aborted.

    The leader of the most partitions is frozen (SIGSTOP, so no hand-over): for each partition
    it led, a survivor whose election timer fires first knows no leader until the other's fires
    too and the vote completes, a good part of an election timeout. Transactions are sent to
    both survivors for keys of each such partition throughout."""
    cl = make_cluster(tick_ms=TICK_MS)
    victim, nled = most_leaders(cl)
    survivors = [n for n in cl.nodes.values() if n is not victim]
    led = [p for p, nid in cl.leaders().items() if nid == victim.node_id]
    tag_of = {}  # partition -> a hash tag of one of its slots
    i = 0
    while len(tag_of) < PARTITIONS:
        tag = f"q{i}"
        tag_of.setdefault(partition_of_slot(slot_of(tag)), tag)
        i += 1
    conns = {n.port: RawConn(n.port, timeout=30) for n in survivors}
    queued_replies, exec_replies = {}, {}
    acked = {}
    n = 0

    def note(d, reply):
        kind = str(reply).split(" ", 1)[0] if isinstance(reply, Error) else type(reply).__name__
        d[kind] = d.get(kind, 0) + 1

    os.kill(victim.pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 60
        done = False
        while not done:
            assert time.monotonic() < deadline, "the survivors elected no leaders within 60 s"
            # One sweep: a transaction per (partition, survivor), all sent before any is read.
            sent = []
            for p in led:
                for port, c in conns.items():
                    key = f"{{{tag_of[p]}}}:{n}"
                    value = f"v{n}"
                    n += 1
                    c.send(b"".join(flinproc.encode_command(*cmd) for cmd in
                                    (("MULTI",), ("SET", key, value), ("EXEC",))))
                    sent.append((c, key, value))
            for c, key, value in sent:
                assert c.read_reply() == "OK"  # MULTI
                queued = c.read_reply()
                reply = c.read_reply()
                note(queued_replies, queued)
                note(exec_replies, reply)
                if reply == ["OK"]:
                    acked[key] = value
            done = set(cl.leaders(nodes=survivors)) >= set(led)
    finally:
        os.kill(victim.pid, signal.SIGCONT)
        for c in conns.values():
            c.close()
    print(f"\nnode {victim.node_id} (leader of {nled} partitions) frozen; {n} transactions on "
          f"the survivors: queued commands answered {queued_replies}, EXEC {exec_replies}")
    assert "TRYAGAIN" not in queued_replies, queued_replies
    assert acked, "no transaction ran on a survivor"
    verify_acked(cl, acked, "after the election")


# ---------------------------------------------------------------------------
# 3b. catch up from a snapshot after the survivors truncated their log

@pytest.mark.parametrize("ingest", [False, True], ids=["batch", "ingest"])
def test_restart_catches_up_from_snapshot(make_cluster, ingest):
    """ingest: every received snapshot installed as an ingested SST file (large partitions'
    way), not through the Raft log's write (small ones')."""
    cl = make_cluster(tick_ms=TICK_MS, snapshot_entries=50,
                      extra=["--snapshot-ingest-bytes", "0"] if ingest else [])
    victim = cl.nodes[3]
    survivors = [cl.nodes[1], cl.nodes[2]]
    first = {f"s1:{i}": f"a{i}" for i in range(500)}
    pipelined_sets(cl.ports(), first)
    cl.wait_caught_up(victim)
    dead_applied = {p: d["applied"] for p, d in victim.info_cluster()["partitions"].items()}
    victim.kill9()
    cl.wait_all_leaders(timeout=60, nodes=survivors)

    # ~90 writes per partition: well past 50 entries, so the log is compacted.
    second = {f"s2:{i}": f"b{i}" for i in range(6000)}
    pipelined_sets([n.port for n in survivors], second)

    def truncated_past_dead():
        led = cl.leaders(survivors)
        infos = cl.infos(survivors)
        behind = [p for p, nid in led.items()
                  if infos[nid]["partitions"][p]["first_index"] <= dead_applied[p] + 1]
        return not behind and len(led) == PARTITIONS

    wait_until(truncated_past_dead, 60, interval=0.1,
               what="the leaders' first_index to pass the dead node's log")
    led = cl.leaders(survivors)
    infos = cl.infos(survivors)
    firsts = {p: infos[nid]["partitions"][p]["first_index"] for p, nid in led.items()}

    # Every partition needs a snapshot at once: each survivor builds and streams at most
    # MAX_SNAPSHOTS_IN_FLIGHT of them at a time (the rest wait for a later probe), so node 3
    # never holds every partition in memory at once.
    t0 = time.monotonic()
    victim.start()
    n = cl.wait_caught_up(victim)
    installed = victim.log_count("installed snapshot")
    fields = [i["fields"] for i in cl.infos(survivors).values()]
    peak = max(int(f["raft_snapshots_in_flight_peak"]) for f in fields)
    deferred = sum(int(f["raft_snapshots_deferred"]) for f in fields)
    print(f"\nsnapshot catch-up: node 3 caught up on {n} partitions in "
          f"{time.monotonic() - t0:.2f}s, {installed} snapshots installed; snapshots in "
          f"flight per survivor at most {peak}, {deferred} deferred")
    assert n == PARTITIONS
    assert peak <= MAX_SNAPSHOTS_IN_FLIGHT, peak
    assert deferred > 0, "all partitions needed a snapshot at once, yet none waited its turn"
    allkeys = {**first, **second}
    got = readonly_get_all(victim.port, allkeys)
    wrong = {k: (v, got[k]) for k, v in allkeys.items() if got[k] != v.encode()}
    wrong_parts = sorted({partition_of_slot(slot_of(k)) for k in wrong})
    assert not wrong, (f"{len(wrong)} keys wrong on node 3 (partitions {wrong_parts}): "
                       f"{list(wrong.items())[:5]}")
    snap_groups = {int(m) for m in re.findall(r"group (\d+): installed snapshot",
                                               victim.log_text())}
    no_snap = sorted(set(range(PARTITIONS)) - snap_groups)
    print(f"partitions caught up with an 'installed snapshot' line: {len(snap_groups)}; "
          f"without one: {no_snap} (leader first_index vs node 3's applied at the kill: "
          f"{ {p: (firsts[p], dead_applied[p]) for p in no_snap[:8]} })")
    assert snap_groups, "no snapshot was installed although the log was truncated\n" + \
        victim.log_tail(30)
    # A write after the catch-up replicates to it as usual.
    pipelined_sets(cl.ports(), {"after:snap": "z"})
    with RawConn(victim.port) as c:
        assert c.call("READONLY") == "OK"
        wait_until(lambda: c.call("GET", "after:snap") == b"z", 30, what="replication to node 3")


# ---------------------------------------------------------------------------
# 4. Two of three down

def test_two_nodes_down_readonly_reads_answer_writes_fail_promptly(make_cluster):
    cl = make_cluster(tick_ms=TICK_MS)
    data = {f"q:{i}": f"val{i}" for i in range(640)}
    pipelined_sets(cl.ports(), data)
    survivor = cl.nodes[2]
    cl.wait_caught_up(survivor)
    cl.nodes[1].kill9()
    cl.nodes[3].kill9()

    got = readonly_get_all(survivor.port, data)
    assert all(got[k] == v.encode() for k, v in data.items())

    # Writes (and linearizable reads) fail with an error, never hang.  The server
    # confirms or fails a write within 5 s (TIMEOUT); allow 20 s per request.
    outcomes = {}
    keys = [f"w:{i}" for i in range(200)]
    by_part = {}
    for k in keys:
        by_part.setdefault(partition_of_slot(slot_of(k)), k)
    sample = list(by_part.values())[:12]
    started = time.monotonic()
    for k in sample:
        for cmd in (("SET", k, "x"), ("GET", k)):
            t0 = time.monotonic()
            try:
                with RawConn(survivor.port, timeout=20) as c:
                    reply = c.call(*cmd)
            except socket.timeout:
                pytest.fail(f"{cmd} hung for 20 s with 2 of 3 nodes down")
            except (ConnectionError, EOFError) as e:
                reply = Error(f"connection: {e}")
            took = time.monotonic() - t0
            assert isinstance(reply, Error), f"{cmd} answered {reply!r} with 2 of 3 nodes down"
            kind = reply.split(" ", 1)[0]
            if kind == "MOVED":
                target = int(reply.rsplit(":", 1)[1])
                assert target in (cl.nodes[1].port, cl.nodes[3].port), reply
                try:
                    socket.create_connection(("127.0.0.1", target), timeout=5).close()
                    pytest.fail(f"MOVED to {target}, which should be dead")
                except ConnectionRefusedError:
                    kind = "MOVED-to-dead(refused)"
            assert kind in ("CLUSTERDOWN", "TRYAGAIN", "TIMEOUT", "MOVED-to-dead(refused)"), reply
            outcomes.setdefault((cmd[0], kind), []).append(round(took, 2))
    summary = {f"{c} {k}": f"{len(v)}x, max {max(v)}s" for (c, k), v in outcomes.items()}
    print(f"\n2 of 3 down: error replies {summary} "
          f"(total {time.monotonic() - started:.1f}s)")
    # READONLY reads still answer after the leaders stepped down.
    got = readonly_get_all(survivor.port, list(data)[:100])
    assert all(got[k] == data[k].encode() for k in got)


# ---------------------------------------------------------------------------
# 5. Cluster identity

def test_foreign_cluster_node_is_refused_and_dir_keeps_its_cluster(make_cluster, tmp_path):
    cl = make_cluster()
    target = cl.nodes[2]
    refusals_before = target.log_text().count("is of cluster")

    # A node of another cluster (a different --initial-cluster) that names
    # node 2's address as its peer: node 2 must refuse its connection.
    (fport,) = free_cluster_ports(1)
    foreign = Node(tmp_path / "foreign", 1,
                   fport, f"1@127.0.0.1:{fport},2@127.0.0.1:{target.port}",
                   extra=["--replicas", "2", "--raft-tick-ms", "20"], threads=1)
    os.makedirs(foreign.workdir, exist_ok=True)
    try:
        foreign.start()
        wait_until(lambda: target.log_text().count("is of cluster") > refusals_before, 30,
                   what="node 2 to log the refused foreign peer\n" + target.log_tail(20))
        time.sleep(1.0)   # let the foreign node campaign for a while
        refusal = [ln for ln in target.log_text().splitlines() if "is of cluster" in ln][-1]
        print(f"\nrefusal logged: {refusal}")
        # The existing cluster is unaffected: leaders among its nodes, reads and writes work.
        led = cl.wait_all_leaders(timeout=30)
        assert set(led.values()) <= {1, 2, 3}
        info = target.info_cluster()
        assert set(info["peers"]) == {1, 3}
        for pid in (1, 3):
            assert info["peers"][pid]["connected"] == 1, info["peers"]
        client = RoutingClient(cl.ports())
        try:
            for i in range(50):
                assert client.set_until_acked(f"id:{i}", "v", time.monotonic() + 30) == "ack"
            assert client.get("id:7", time.monotonic() + 30) == b"v"
        finally:
            client.close()
        # And the foreign node leads nothing of node 2's (it cannot win a vote there).
        fled = [d for d in foreign.info_cluster()["partitions"].values()
                if d.get("role") == "leader"]
        assert not fled, f"foreign node became leader with node 2's help: {fled[:3]}"
    finally:
        foreign.stop()

    # A data dir restarted with another --initial-cluster refuses to start.
    node3 = cl.nodes[3]
    assert node3.stop() == 0
    good = node3.initial_cluster
    other = good.replace(f"2@127.0.0.1:{target.port}", f"2@127.0.0.1:{target.port + 1}")
    assert other != good
    node3.set_initial_cluster(other)
    with pytest.raises(flinproc.ServerError):
        node3.start()
    assert node3.wait_exit(10) not in (None, 0)
    tail = node3.log_text().rsplit("==== start", 1)[-1]
    assert "belongs to" in tail and "cluster" in tail, tail
    print(f"restart with another --initial-cluster: "
          f"{[ln for ln in tail.splitlines() if 'belongs to' in ln][0]}")
    # With its own list it rejoins.
    node3.set_initial_cluster(good)
    node3.start()
    cl.wait_caught_up(node3)


# ---------------------------------------------------------------------------
# 6. A node back on an empty data directory (its disk replaced, its dir deleted)

def restart_wiped(node):
    """kill -9 `node`, delete its data directory, start it again on the same id."""
    node.kill9()
    shutil.rmtree(node.dir)
    node.start()


def test_node_back_on_an_empty_data_dir_rejoins_recovering_and_catches_up(make_cluster):
    cl = make_cluster(tick_ms=TICK_MS)
    data = {f"wipe:{i}": f"v{i}" for i in range(300)}
    pipelined_sets(cl.ports(), data)
    n3 = cl.nodes[3]
    restart_wiped(n3)
    # Its peers knew it with another data directory: it lost its Raft state, and says so.
    wait_until(lambda: "knew this node with another data directory" in n3.log_text(), 30,
               what="node 3 to learn it lost its state\n" + n3.log_tail(20))
    for peer in (cl.nodes[1], cl.nodes[2]):
        assert "runs on a new data directory" in peer.log_text()
    # Each partition recovers once it holds a committed entry of its leader's term.
    wait_until(lambda: n3.info_cluster()["fields"].get("raft_recovering_partitions") == "0", 60,
               what="node 3's partitions to recover\n" + n3.log_tail(20))
    cl.wait_caught_up(n3)
    got = readonly_get_all(n3.port, data)
    assert all(got[k] == v.encode() for k, v in data.items())
    # An ordinary replica again: leaders are balanced back onto it.
    wait_until(lambda: 3 in cl.leaders().values(), 30, what="node 3 to lead a partition again")


def test_node_back_on_an_empty_data_dir_cannot_help_lose_acknowledged_writes(make_cluster):
    """Writes acknowledged by nodes 1 and 3 while 2 was down; then 3 loses its data directory
    and 1 goes down. Node 3's earlier self acknowledged those writes and node 2 never saw
    them, so 2 and 3 must not elect leaders together (they would serve the past, and a new
    leader's log would overwrite the writes): the cluster answers errors until 1 is back,
    then every write is there, on 3 as well."""
    cl = make_cluster(tick_ms=TICK_MS)
    n1, n2, n3 = cl.nodes[1], cl.nodes[2], cl.nodes[3]
    n2.stop()
    data = {f"acked:{i}": f"v{i}" for i in range(300)}
    pipelined_sets([n1.port, n3.port], data)
    n3.kill9()
    shutil.rmtree(n3.dir)
    n1.kill9()
    n2.start()
    n3.start()
    wait_until(lambda: "knew this node with another data directory" in n3.log_text(), 30,
               what="node 3 to learn it lost its state\n" + n3.log_tail(20))
    # Several election timeouts (10-20 ticks of 30 ms each): node 2 campaigns, node 3 refuses.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        led = cl.leaders([n2, n3])
        assert not led, f"nodes 2 and 3 elected leaders without node 1: {sorted(led)[:10]}"
        time.sleep(0.1)
    with RawConn(n2.port, timeout=20) as c:
        for k in list(data)[:20]:
            reply = c.call("GET", k)
            assert isinstance(reply, Error), f"GET {k} answered {reply!r} without node 1"
    # Node 3 lost everything: a READONLY read may be stale, not answered from nothing. Its
    # partitions are recovering and none has a leader, so it answers errors.
    with RawConn(n3.port, timeout=20) as c:
        assert c.call("READONLY") == "OK"
        for k in list(data)[:20]:
            reply = c.call("GET", k)
            assert isinstance(reply, Error), f"READONLY GET {k} on the wiped node: {reply!r}"
    n1.start()
    cl.wait_all_leaders(timeout=60)
    cl.wait_caught_up(n3)
    got = readonly_get_all(n3.port, data)
    missing = [k for k, v in data.items() if got[k] != v.encode()]
    assert not missing, f"node 3 lacks {len(missing)} acknowledged writes: {missing[:5]}"
    client = RoutingClient(cl.ports())
    try:
        for k in list(data)[:50]:
            assert client.get(k, time.monotonic() + 30) == data[k].encode(), k
    finally:
        client.close()


def test_two_wiped_nodes_accepting_the_loss_follow_the_survivor(make_cluster):
    """Nodes 2 and 3 lose their data directories at once. Node 1 cannot vouch for what they
    acknowledged, so nobody is elected; restarted with --accept-data-loss yes, they grant
    only unanimous elections, node 1 (no flag) refuses their empty logs and campaigns
    unanimously itself, and every partition follows it with everything it held."""
    cl = make_cluster(tick_ms=TICK_MS)
    n1, n2, n3 = cl.nodes[1], cl.nodes[2], cl.nodes[3]
    data = {f"kept:{i}": f"v{i}" for i in range(300)}
    pipelined_sets(cl.ports(), data)
    cl.wait_caught_up(n1)
    for n in (n2, n3):
        n.kill9()
        shutil.rmtree(n.dir)
    n1.kill9()  # forgets its leaderships: it must campaign again
    for n in (n1, n2, n3):
        n.start()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        led = cl.leaders()
        assert not led, f"a survivor and two wiped nodes elected leaders: {sorted(led)[:10]}"
        time.sleep(0.1)
    for n in (n2, n3):
        n.stop()
        n.extra += ["--accept-data-loss", "yes"]
        n._set_args()
        n.start()
    cl.wait_all_leaders(timeout=60)
    for n in (n2, n3):
        wait_until(lambda: n.info_cluster()["fields"].get("raft_recovering_partitions") == "0",
                   60, what=f"node {n.node_id}'s partitions to recover\n" + n.log_tail(20))
        cl.wait_caught_up(n)
        got = readonly_get_all(n.port, data)
        missing = [k for k, v in data.items() if got[k] != v.encode()]
        assert not missing, f"node {n.node_id} lacks {len(missing)} writes: {missing[:5]}"


# ---------------------------------------------------------------------------
# 7. A node moved to another address (--announce)

def place(node, port):
    """Make `node`'s next start be at client port `port` (bus port + 10000) under the
    cluster's original --initial-cluster, saying where it is with --announce; port None:
    at its listed address, without --announce."""
    node.extra = [a for i, a in enumerate(node.extra)
                  if a != "--announce" and (i == 0 or node.extra[i - 1] != "--announce")]
    if port is None:
        node.port = node.listed_port
    else:
        node.port = port
        node.extra += ["--announce", f"127.0.0.1:{port}"]
    node._set_args()


def move(node, port, wipe=False):
    """Stop `node` (SIGTERM) and start it placed at `port` (place). wipe: on an empty data
    dir."""
    node.stop()
    if wipe:
        shutil.rmtree(node.dir)
    place(node, port)
    node.start()


def restart_both(a, b, ports, what):
    """Stop `a` and `b`, start both (placed at `ports`, a pair for place), and wait until
    each reaches the other over the bus (INFO cluster's peer line)."""
    a.stop()
    b.stop()
    for n, port in zip((a, b), ports):
        place(n, port)
    a.start(wait=False)
    b.start()
    a.wait_ready()
    for x, y in ((a, b), (b, a)):
        wait_until(lambda: x.info_cluster()["peers"].get(y.node_id, {}).get("connected") == 1,
                   30, what=f"node {x.node_id} to reach node {y.node_id} {what}\n" +
                   x.log_tail(20))


def addresses_of(port, node_id):
    """The client ports CLUSTER SLOTS on `port` and CLUSTER NODES give node `node_id`
    (by its Redis node id, which a move does not change)."""
    with RawConn(port) as c:
        nodes = c.call("CLUSTER", "NODES").decode().splitlines()
    ids = {}
    for line in nodes:
        rid, addr = line.split()[:2]
        ids[rid] = int(addr.split("@")[0].rsplit(":", 1)[1])
    return ids


def test_node_moved_to_another_address_is_found_there(make_cluster):
    """Node 2 moves (its data dir with it) to new ports and says so with --announce; nodes 1
    and 3 keep running on the original list. They dial it there, clients are sent there,
    it catches up and leads again. Node 1 moves too, and both restart: they find each other
    where they were last heard to be. Both move back (no --announce), and node 3 is
    replaced by a machine at a new address with an empty disk: it rejoins recovering."""
    cl = make_cluster(tick_ms=TICK_MS)
    n1, n2, n3 = cl.nodes[1], cl.nodes[2], cl.nodes[3]
    for n in (n1, n2, n3):
        n.listed_port = n.port
    with RawConn(n2.port) as c:
        n2_rid = c.call("CLUSTER", "MYID").decode()
    data = {f"move:{i}": f"v{i}" for i in range(300)}
    pipelined_sets(cl.ports(), data)
    taken = set(cl.ports())
    new1, new2, new3 = [p for p in free_cluster_ports(6) if p not in taken][:3]

    move(n2, new2)
    # Nodes 1 and 3 learn the new address from its handshake: the bus reaches it there (it
    # catches up on what was written while it was away) and clients are sent there.
    more = {f"moved:{i}": f"w{i}" for i in range(300)}
    pipelined_sets([n1.port, n3.port], more)
    for peer in (n1, n3):
        wait_until(lambda: addresses_of(peer.port, 2).get(n2_rid) == new2, 30,
                   what=f"node {peer.node_id} to learn node 2's new address\n" + peer.log_tail(20))
        wait_until(lambda: "node 2 is at 127.0.0.1:%d" % new2 in peer.log_text(), 10,
                   what=f"node {peer.node_id} to log node 2's new address")
        assert (peer.info_cluster()["peers"][2]["address"] ==
                f"127.0.0.1:{new2}@{new2 + 10000}")
    cl.wait_caught_up(n2)
    got = readonly_get_all(n2.port, {**data, **more})
    assert all(got[k] == v.encode() for k, v in {**data, **more}.items())
    wait_until(lambda: 2 in cl.leaders().values(), 30, what="node 2 to lead a partition again")
    cl.wait_all_leaders(timeout=60)  # CLUSTER SLOTS everywhere names live ports only
    rc = rc_client(cl)
    try:
        for k in list(more)[:100]:
            rc.set(k, "x" + k)
            assert rc.get(k) == "x" + k
    finally:
        rc.close()

    # Node 1 moves too; then both restart. Each dials the other where it was last heard to
    # be (remembered across restarts): with only their lists they would never meet again.
    move(n1, new1)
    with RawConn(n1.port) as c:
        n1_rid = c.call("CLUSTER", "MYID").decode()
    wait_until(lambda: addresses_of(n2.port, 1).get(n1_rid) == new1, 30,
               what="node 2 to learn node 1's new address\n" + n2.log_tail(20))
    restart_both(n1, n2, (new1, new2), "after both restarted")
    cl.wait_all_leaders(timeout=60)

    # Back at their listed addresses, without --announce, both while both are down: each
    # first dials where it last heard the other to be, then, alternately, the listed address.
    restart_both(n1, n2, (None, None), "back at their listed addresses")
    for peer in (n1, n3):
        wait_until(lambda: addresses_of(peer.port, 2).get(n2_rid) == n2.listed_port, 30,
                   what=f"node {peer.node_id} to find node 2 at its listed address again")
    wait_until(lambda: addresses_of(n3.port, 1).get(n1_rid) == n1.listed_port, 30,
               what="node 3 to find node 1 at its listed address again")
    cl.wait_caught_up(n2)

    # An announced client port must be the one the node listens on (clients are sent there).
    n3.stop()
    n3.extra += ["--announce", f"127.0.0.1:{new3}"]
    n3._set_args()
    with pytest.raises(flinproc.ServerError):
        n3.start()
    assert n3.wait_exit(10) not in (None, 0)
    assert "but this node listens on --port" in n3.log_text().rsplit("==== start", 1)[-1]

    # A replacement machine for node 3: new address, empty disk.
    move(n3, new3, wipe=True)
    wait_until(lambda: "knew this node with another data directory" in n3.log_text(), 30,
               what="node 3 to learn it lost its state\n" + n3.log_tail(20))
    wait_until(lambda: n3.info_cluster()["fields"].get("raft_recovering_partitions") == "0", 60,
               what="node 3's partitions to recover\n" + n3.log_tail(20))
    cl.wait_caught_up(n3)
    got = readonly_get_all(n3.port, more)
    assert all(got[k] == ("x" + k).encode() if i < 100 else got[k] == v.encode()
               for i, (k, v) in enumerate(more.items()))
    cl.wait_all_leaders(timeout=60)


# ---------------------------------------------------------------------------
# 8. A node restored from its backup (SAVE)

def backup_of(node):
    """SAVE on `node`: the path of the backup it made."""
    with RawConn(node.port) as c:
        assert c.call("SAVE") == "OK"
        info = c.call("INFO", "persistence").decode()
    return re.search(r"backup_last_path:(\S+)", info).group(1)


def test_node_restored_from_its_backup_cannot_help_lose_acknowledged_writes(make_cluster):
    """As the empty-data-dir case above, with node 3 started on a backup (SAVE) taken before
    the writes instead of an empty directory: its copy forgot acknowledging them. Its
    backup's marker tells it so: it takes a new incarnation and its partitions recover, so
    nodes 2 and 3 elect nobody until node 1 is back. (Started on the backup as if it were
    current, node 3 would vote with node 2 and the writes would be lost.)"""
    cl = make_cluster(tick_ms=TICK_MS)
    n1, n2, n3 = cl.nodes[1], cl.nodes[2], cl.nodes[3]
    backup = backup_of(n3)
    n2.stop()
    data = {f"acked:{i}": f"v{i}" for i in range(300)}
    pipelined_sets([n1.port, n3.port], data)
    n3.kill9()
    shutil.rmtree(n3.dir)
    shutil.copytree(backup, n3.dir)
    n1.kill9()
    n2.start()
    n3.start()
    # Several election timeouts (10-20 ticks of 30 ms each) once both run.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        led = cl.leaders([n2, n3])
        assert not led, f"nodes 2 and 3 elected leaders without node 1: {sorted(led)[:10]}"
        time.sleep(0.1)
    assert "started on a backup" in n3.log_text()
    assert "runs on a new data directory" in n2.log_text()  # node 3's new incarnation
    n1.start()
    cl.wait_all_leaders(timeout=60)
    # Restarted again, it is an ordinary replica: the marker is gone.
    recovers_holding(cl, n3, data, once="started on a backup")


def recovers_holding(cl, node, data, once):
    """`node`'s partitions recover, it catches up holding every write of `data`, and
    restarted it is an ordinary replica: the log line `once` does not come back."""
    wait_until(lambda: node.info_cluster()["fields"].get("raft_recovering_partitions") == "0",
               60, what=f"node {node.node_id}'s partitions to recover\n" + node.log_tail(20))
    cl.wait_caught_up(node)
    got = readonly_get_all(node.port, data)
    missing = [k for k, v in data.items() if got[k] != v.encode()]
    assert not missing, (f"node {node.node_id} lacks {len(missing)} acknowledged writes: "
                         f"{missing[:5]}")
    node.stop()
    node.start()
    cl.wait_caught_up(node)
    assert node.log_text().count(once) == 1


def restart_all_on_backups(cl):
    """Nodes 1 and 2 are backed up after the writes `before`, node 3 after `mid` too (which it
    has applied); then come the writes `after`, every node dies and starts on its own backup.
    Returns (before, mid, after)."""
    nodes = list(cl.nodes.values())
    before = {f"before:{i}": f"v{i}" for i in range(100)}
    mid = {f"mid:{i}": f"m{i}" for i in range(100)}
    after = {f"after:{i}": "x" for i in range(100)}
    pipelined_sets(cl.ports(), before)
    backups = {n.node_id: backup_of(n) for n in nodes[:2]}
    pipelined_sets(cl.ports(), mid)
    cl.wait_caught_up(nodes[2])
    backups[3] = backup_of(nodes[2])
    pipelined_sets(cl.ports(), after)
    for n in nodes:
        n.kill9()
    for n in nodes:
        shutil.rmtree(n.dir)
        shutil.copytree(backups[n.node_id], n.dir)
        n.start()
    return before, mid, after


def test_cluster_whose_nodes_all_came_back_on_backups_elects_nobody(make_cluster):
    """Every node loses its data and comes back on its own backup (SAVE): each forgot what it
    promised since, so nobody can vouch for anybody and no partition elects a leader: the
    cluster answers errors rather than serve a past that may have lost acknowledged writes,
    until the operator accepts the loss (the next test)."""
    cl = make_cluster(tick_ms=TICK_MS)
    nodes = list(cl.nodes.values())
    restart_all_on_backups(cl)
    # Several election timeouts (10-20 ticks of 30 ms each): nobody may vote.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        led = cl.leaders()
        assert not led, f"nodes restored from backups elected leaders: {sorted(led)[:10]}"
        time.sleep(0.1)
    with RawConn(nodes[0].port, timeout=20) as c:
        reply = c.call("GET", "before:0")
        assert isinstance(reply, Error), f"GET answered {reply!r} with every node recovering"
    assert all(n.info_cluster()["fields"].get("raft_recovering_partitions") == str(PARTITIONS)
               for n in nodes)


def test_cluster_restored_from_backups_serves_the_newest_copy_once_the_loss_is_accepted(
        make_cluster):
    """As above, then every node restarts with --accept-data-loss yes. Each partition elects,
    with every replica's vote, the replica holding the newest state: node 3's, the only copy
    with `mid` (a majority could have elected node 1 or 2 without it; leaderships move to
    their preferred nodes afterwards). The writes after the backups are lost, everything any
    copy held is served by every replica, and restarted without the flag the nodes are
    ordinary ones."""
    cl = make_cluster(tick_ms=TICK_MS)
    nodes = list(cl.nodes.values())
    before, mid, after = restart_all_on_backups(cl)
    for n in nodes:
        n.stop()
    for n in nodes:
        n.extra += ["--accept-data-loss", "yes"]
        n._set_args()
        n.start()
    cl.wait_all_leaders(timeout=60)
    assert all("accept-data-loss" in n.log_text() for n in nodes)
    pipelined_sets(cl.ports(), {"new": "1"})
    for n in nodes:
        wait_until(lambda: n.info_cluster()["fields"].get("raft_recovering_partitions") == "0",
                   60, what=f"node {n.node_id}'s partitions to recover\n" + n.log_tail(20))
        cl.wait_caught_up(n)
        got = readonly_get_all(n.port, list(before) + list(mid) + list(after) + ["new"])
        wrong = [k for k, v in {**before, **mid, "new": "1"}.items() if got[k] != v.encode()]
        assert not wrong, f"node {n.node_id} lacks {len(wrong)} writes: {wrong[:5]}"
        kept = [k for k in after if got[k] is not None]
        assert not kept, f"node {n.node_id} has writes no backup held: {kept[:5]}"
    for n in nodes:
        n.stop()
        n.extra = [a for a in n.extra if a not in ("--accept-data-loss", "yes")]
        n._set_args()
    for n in nodes:
        n.start()
    cl.wait_all_leaders(timeout=60)
    assert all(n.info_cluster()["fields"].get("raft_recovering_partitions") == "0"
               for n in nodes)


def test_node_started_on_a_raw_copy_of_its_data_learns_it_and_recovers(make_cluster):
    """A raw copy of a node's data directory (cp, no backup marker) looks current to the node
    started on it. Its peers' leaders, still in the terms in which it acknowledged writes
    after the copy, tell it to commit past the end of its log: it learns that its data went
    back in time and every partition recovers (no votes until each holds its leader's log
    again), then it catches up. Before, the leaders' probes at what it had acknowledged were
    refused forever and those partitions never caught up."""
    cl = make_cluster(tick_ms=TICK_MS)
    n3 = cl.nodes[3]
    n3.stop()
    raw = str(n3.dir) + "-raw-copy"
    shutil.copytree(n3.dir, raw)
    n3.start()
    cl.wait_caught_up(n3)
    data = {f"raw:{i}": f"v{i}" for i in range(300)}
    pipelined_sets(cl.ports(), data)
    cl.wait_caught_up(n3)  # node 3 acknowledged them all
    n3.kill9()
    shutil.rmtree(n3.dir)
    shutil.copytree(raw, n3.dir)
    n3.start()
    went_back = "this node's data went back in time"
    wait_until(lambda: went_back in n3.log_text(), 30,
               what="node 3 to learn its data went back\n" + n3.log_tail(20))
    wait_until(lambda: n3.info_cluster()["fields"].get("raft_data_went_back") == "1", 10,
               what="INFO cluster to show it")
    assert cl.nodes[1].info_cluster()["fields"].get("raft_data_went_back") == "0"
    # The marks went with the recovery: a restart is an ordinary one.
    recovers_holding(cl, n3, data, once=went_back)


def test_single_replica_partitions_serve_a_node_started_on_its_backup(make_cluster):
    """With --replicas 1 a partition's only voter has nobody to recover from: started on its
    backup it serves the backup's data at once (it used to wait, recovering, for a leader
    that could only be itself)."""
    cl = make_cluster(tick_ms=TICK_MS, extra=["--replicas", "1"])
    n1 = cl.nodes[1]
    data = {f"one:{i}": f"v{i}" for i in range(200)}
    pipelined_sets(cl.ports(), data)
    backup = backup_of(n1)
    n1.kill9()
    shutil.rmtree(n1.dir)
    shutil.copytree(backup, n1.dir)
    n1.start()
    assert "started on a backup" in n1.log_text()
    cl.wait_all_leaders(timeout=60)
    assert n1.info_cluster()["fields"].get("raft_recovering_partitions") == "0"
    client = RoutingClient(cl.ports())
    try:
        for k, v in data.items():
            assert client.get(k, time.monotonic() + 30) == v.encode(), k
    finally:
        client.close()


# 3c. the Raft log's segment files stay bounded

def test_the_raft_logs_segments_are_deleted_and_the_data_survives_a_restart(make_cluster):
    """The Raft log lives in segment files (DESIGN.md, "Log storage"); once every partition
    compacted its entries in a segment it goes, oldest first (an idle partition's entries
    pinning the oldest are written again at the end). With 64 KiB segments and compaction
    every 50 entries, 12,000 SETs (~2 MB of log per node, ~30 segments) must leave a few
    segments per node and have deleted the rest; a restarted node reads what remains of its
    log and holds every key."""
    cl = make_cluster(tick_ms=TICK_MS, snapshot_entries=50, extra=["--raft-log-segment", "64kb"])
    data = {f"seg:{i}": f"v{i}-" + "x" * 100 for i in range(12000)}
    pipelined_sets(cl.ports(), data)
    # Then only one partition is written: the other 63 fall idle with a few entries each,
    # which Relocate has to move out of the oldest segments.
    busy = {}
    for i in range(40000):
        k = f"{{busy}}{i % 500}"
        busy[k] = f"w{i}"
        if len(busy) == 500:
            pipelined_sets(cl.ports(), busy)
            busy = {}

    def bounded():
        fields = [i["fields"] for i in cl.infos().values()]
        return all(int(f["raft_log_segments"]) <= 8 and int(f["raft_log_segments_deleted"]) > 0
                   for f in fields)

    wait_until(bounded, 60, interval=0.5, what="each node's Raft log down to a few segments")
    for node in cl.nodes.values():
        files = os.listdir(os.path.join(node.dir, "raft-log"))
        assert len(files) <= 8, (node.node_id, sorted(files))
    victim = cl.nodes[3]
    victim.stop()
    victim.start()
    cl.wait_caught_up(victim)
    got = readonly_get_all(victim.port, data)
    wrong = {k: got[k] for k, v in data.items() if got[k] != v.encode()}
    assert not wrong, f"{len(wrong)} keys wrong on node 3 after its restart: {list(wrong)[:5]}"
