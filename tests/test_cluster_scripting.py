"""Lua scripts on a 3-node Flin cluster (one cluster for the module), as Redis Cluster runs
them: a script runs on the leader of its declared keys' slot; keys of two slots answer
-CROSSSLOT; a script with no keys runs on any node; a key a script did not declare, of a slot
another node leads, is refused with Redis Cluster's error; SCRIPT LOAD / EXISTS / FLUSH through
redis-py's RedisCluster reach every node.

Flin only (Redis is not run as a cluster here).  Helpers: cluster_helpers.py.
"""
import hashlib

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

from cluster_helpers import slot_of, slot_owner_map, start_balanced_or_fail
from flinproc import Error, RawConn

pytestmark = pytest.mark.flin_only

CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot"
NON_LOCAL = "ERR Script attempted to access a non local key in a cluster node"

WRITE_AND_READ = """
redis.call('SET', KEYS[1], ARGV[1])
redis.call('INCR', KEYS[2])
return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}
"""


def sha1(script):
    return hashlib.sha1(script.encode()).hexdigest()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Started, and used once the leaders sit on their preferred nodes (64 partitions over 3
    nodes: 22, 21, 21), after which they move only on faults."""
    cl = start_balanced_or_fail(tmp_path_factory.mktemp("scriptcluster"))
    yield cl
    cl.stop()


@pytest.fixture
def rc(cluster):
    c = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", p) for p in cluster.ports()],
                     decode_responses=True, socket_timeout=10, socket_connect_timeout=10)
    yield c
    c.close()


def tags_by_leader(cluster, per_node=2):
    """{port: [hash tags whose slot that node leads]}, per_node of them for each node."""
    owner = slot_owner_map(cluster.ports()[0])
    out = {p: [] for p in cluster.ports()}
    i = 0
    while any(len(v) < per_node for v in out.values()):
        tag = f"s{i}"
        port = owner[slot_of("{" + tag + "}")]
        if len(out[port]) < per_node:
            out[port].append(tag)
        i += 1
    return out


def key_led_by(cluster, port, prefix, other_than=()):
    """A key whose slot `port` leads (and not the slot of any key in other_than)."""
    owner = slot_owner_map(cluster.ports()[0])
    avoid = {slot_of(k) for k in other_than}
    return next(k for k in (f"{prefix}{i}" for i in range(100_000))
                if owner[slot_of(k)] == port and slot_of(k) not in avoid)


def test_registered_script_runs_on_the_slots_of_every_node(cluster, rc):
    script = rc.register_script(WRITE_AND_READ)
    for port, tags in tags_by_leader(cluster).items():
        for tag in tags:
            keys = [f"{{{tag}}}.name", f"{{{tag}}}.count"]
            assert script(keys=keys, args=[f"v-{tag}"]) == [f"v-{tag}", "1"], (port, tag)
            assert script(keys=keys, args=[f"w-{tag}"]) == [f"w-{tag}", "2"], (port, tag)
            assert rc.mget(keys) == [f"w-{tag}", "2"]
            # On the leader itself, also read-only, and an undeclared key of the same slot.
            with RawConn(port) as c:
                assert c.call("EVAL_RO", "return redis.call('GET', KEYS[1])", "1",
                              keys[0]) == f"w-{tag}".encode()
                assert c.call("EVAL", "return redis.call('GET', ARGV[1])", "1", keys[0],
                              keys[1]) == b"2"


def test_keys_of_two_slots_answer_crossslot(cluster):
    for port in cluster.ports():
        a = key_led_by(cluster, port, "cs:a")
        b = key_led_by(cluster, port, "cs:b", other_than=[a])
        with RawConn(port) as c:
            for cmd in (("EVAL", WRITE_AND_READ, "2", a, b, "x"),
                        ("EVALSHA", sha1(WRITE_AND_READ), "2", a, b, "x"),
                        ("EVAL_RO", "return 1", "2", a, b)):
                reply = c.call(*cmd)
                assert isinstance(reply, Error) and reply == CROSSSLOT, (port, cmd[0], reply)
            assert c.call("EXISTS", a) == 0


def test_a_declared_key_of_another_nodes_slot_answers_moved(cluster):
    ports = cluster.ports()
    key = key_led_by(cluster, ports[1], "mv:")
    with RawConn(ports[0]) as c:
        reply = c.call("EVAL", "return redis.call('SET', KEYS[1], 'x')", "1", key)
    assert isinstance(reply, Error) and reply.startswith("MOVED "), reply
    assert reply.split()[2] == f"127.0.0.1:{ports[1]}", reply


def test_a_script_without_keys_runs_on_any_node(cluster, rc):
    for port in cluster.ports():
        with RawConn(port) as c:
            assert c.call("EVAL", "return {ARGV[1], #KEYS}", "0", "x") == [b"x", 0]
            assert c.call("EVAL", "return redis.sha1hex('')", "0") == \
                b"da39a3ee5e6b4b0d3255bfef95601890afd80709"
    assert rc.eval("return 'hi'", 0) == "hi"


def test_an_undeclared_key_of_another_nodes_slot_is_refused(cluster, rc):
    ports = cluster.ports()
    for here, there in ((ports[0], ports[1]), (ports[1], ports[2]), (ports[2], ports[0])):
        key = key_led_by(cluster, there, "nl:")
        with RawConn(here) as c:
            for script in ("return redis.call('SET', ARGV[1], 'x')",
                           "return redis.call('GET', ARGV[1])"):
                assert c.call("EVAL", script, "0", key) == \
                    Error(f"{NON_LOCAL} script: {sha1(script)}, on @user_script:1.")
            assert c.call("EVAL", "return redis.pcall('GET', ARGV[1])", "0", key) == \
                Error(NON_LOCAL)
            # With a declared key of this node's slots, the same.
            local = key_led_by(cluster, here, "nl:own:")
            script = "redis.call('SET', KEYS[1], 'x'); return redis.call('SET', ARGV[1], 'x')"
            reply = c.call("EVAL", script, "1", local, key)
            assert isinstance(reply, Error) and reply.startswith(NON_LOCAL), reply
        assert rc.get(key) is None


def test_script_load_on_every_node_then_evalsha(cluster, rc):
    script = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
    rc.script_flush()
    sha = rc.script_load(script)           # redis-py sends it to every primary
    assert sha == sha1(script)
    for port in cluster.ports():
        with RawConn(port) as c:
            assert c.call("SCRIPT", "EXISTS", sha) == [1], port
    assert rc.script_exists(sha) == [True]
    for port, tags in tags_by_leader(cluster, per_node=1).items():
        key = f"{{{tags[0]}}}.n"
        assert rc.evalsha(sha, 1, key, 5) == 5, port
        assert rc.evalsha(sha, 1, key, 2) == 7, port
    rc.script_flush()
    for port in cluster.ports():
        with RawConn(port) as c:
            assert c.call("SCRIPT", "EXISTS", sha) == [0], port
    with pytest.raises(redis.exceptions.NoScriptError):
        rc.evalsha(sha, 1, "{s0}.n", 1)
