"""WAIT numreplicas timeout: how many replicas hold the connection's writes.

A single node (and Redis without replicas) counts 0: at once when numreplicas <= 0, else after
the timeout.  On a 3-node cluster every partition has 2 followers; WAIT counts those holding
every write the connection made before it, at once when enough do, else at the timeout; a
killed follower is not counted, and is again once it has caught up.  Flin's design:
src/server/replication_family.cc.
"""
import os

import pytest
import redis

import flinproc
from cluster_helpers import Cluster, cluster_slots, slot_owner_map, slot_of
from flinproc import error_of, wait_until


def test_errors(raw):
    assert error_of(raw, "WAIT") == "ERR wrong number of arguments for 'wait' command"
    assert error_of(raw, "WAIT", "1") == "ERR wrong number of arguments for 'wait' command"
    assert error_of(raw, "WAIT", "x", "0") == "ERR value is not an integer or out of range"
    assert error_of(raw, "WAIT", "0", "x") == "ERR timeout is not an integer or out of range"
    assert error_of(raw, "WAIT", "0", "1.5") == "ERR timeout is not an integer or out of range"
    assert error_of(raw, "WAIT", "0", "-1") == "ERR timeout is negative"


def test_without_replicas(raw):
    raw.call("SET", "k", "v")
    assert raw.call("WAIT", "0", "0") == 0
    assert raw.call("WAIT", "-1", "0") == 0
    # Nobody can acknowledge: it answers 0 once the timeout has passed.
    assert raw.call("WAIT", "1", "50") == 0
    # The connection goes on normally after a WAIT that waited.
    assert raw.call("GET", "k") == b"v"


def test_pipelined_behind_writes(raw):
    raw.send(flinproc.encode_command("SET", "a", "1") + flinproc.encode_command("WAIT", "0", "0")
             + flinproc.encode_command("INCR", "a") + flinproc.encode_command("WAIT", "1", "20")
             + flinproc.encode_command("GET", "a"))
    assert [raw.read_reply() for _ in range(5)] == [flinproc.Status("OK"), 0, 2, 0, b"2"]


# ---- a 3-node cluster ----

@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if flinproc.is_redis():
        pytest.skip("Flin cluster only")
    cl = Cluster(tmp_path_factory.mktemp("waitcluster"), n=3)
    os.makedirs(cl.workdir, exist_ok=True)
    try:
        cl.start()

        def balanced():  # leaders on their preferred nodes: they move only on faults from now
            led = {}
            for _, _, master, _ in cluster_slots(cl.ports()[0]):
                led[master[1]] = led.get(master[1], 0) + 1
            return sorted(led.values()) == [21, 21, 22]
        wait_until(balanced, 60, interval=0.1, what="leaders balanced over the three nodes")
    except (flinproc.ServerError, AssertionError, OSError) as e:
        cl.stop()
        pytest.fail(f"cluster did not start: {e}\n{cl.log_tails(20)}", pytrace=False)
    yield cl
    cl.stop()


def leader_of(cluster, key):
    """The port of the node leading `key`'s slot now."""
    return slot_owner_map(cluster.ports()[0])[slot_of(key)]


@pytest.mark.flin_only
def test_cluster_counts_followers_and_a_dead_one(cluster):
    key = "wait-key"
    port = wait_until(lambda: leader_of(cluster, key), 30, what="a leader for the key")
    c = redis.Redis(port=port, socket_timeout=30)
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
        # Back, it catches up, and WAIT counts it again (leadership may have moved meanwhile:
        # follow it, keeping the connection's writes on one connection).
        assert c.execute_command("WAIT", 2, 60000) == 2
    finally:
        c.close()
        fresh.close()
