"""Review of the HASH change on a 3-node cluster: replica determinism of scripts.

A script runs on every replica as it comes out of the log (lua_script.h: math.random is
seeded from the entry, TIME is the entry's time, PUBLISH is refused, all so that every replica
writes the same). HRANDFIELD has a key and an apply function, so redis.call may use it, and
its apply version picked with a generator seeded from std::random_device on each replica: a
script that writes what it picked (here: HDEL of the picked field) left different hashes on
different replicas. Its apply version now draws from the entry (hash_family.cc).

Flin only.  Helpers: cluster_helpers.py.
"""
import pytest
from redis.cluster import ClusterNode, RedisCluster

from cluster_helpers import Cluster, start_or_fail
from flinproc import RawConn, wait_until

pytestmark = pytest.mark.flin_only

IO = 30.0

POP_RANDOM_FIELD = """
local f = redis.call('HRANDFIELD', KEYS[1])
redis.call('HDEL', KEYS[1], f)
return f
"""


@pytest.fixture
def cluster(tmp_path):
    c = start_or_fail(Cluster(tmp_path / "hashreview"))
    yield c
    c.stop()


def readonly_hkeys(port, key):
    with RawConn(port, timeout=IO) as c:
        assert c.call("READONLY") == "OK"
        return sorted(c.call("HKEYS", key))


def readonly_hget(port, key, field):
    with RawConn(port, timeout=IO) as c:
        assert c.call("READONLY") == "OK"
        return c.call("HGET", key, field)


def test_script_writing_what_hrandfield_picked_leaves_replicas_equal(cluster):
    rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", p) for p in cluster.ports()],
                      decode_responses=True, socket_timeout=IO, socket_connect_timeout=IO)
    key = "bag"
    rc.hset(key, mapping={f"f{i}": i for i in range(200)})
    pop = rc.register_script(POP_RANDOM_FIELD)
    for _ in range(40):
        pop(keys=[key])
    rc.hset(key, "done", 1)  # after every script in the key's log
    rc.close()
    for port in cluster.ports():
        wait_until(lambda: readonly_hget(port, key, "done") == b"1", 30,
                   what=f"the marker on node :{port}")
    held = {port: readonly_hkeys(port, key) for port in cluster.ports()}
    assert all(len(v) == 161 for v in held.values()), {p: len(v) for p, v in held.items()}
    first = next(iter(held.values()))
    assert all(v == first for v in held.values()), (
        "replicas hold different hashes after the same scripts: "
        + str({p: len(set(v) ^ set(first)) for p, v in held.items()}))
