"""Timer-jump nemesis (issue 5, item 3: "clock or timer jumps on one node, if
any guarantee depends on time").  The guarantee that does: a leader serves
reads from its lease, counted in Raft ticks, because the followers refuse to
elect anyone else for an election timeout after they last heard from it.  If
the leader's ticks fall behind the clock (its Raft thread stalled: a slow
fsync, a starved CPU), a lease counted in ticks outlives that window.

The scenario, deterministic: node L leads key k's partition; L is cut off from
its peers and its Raft thread frozen at once (its client threads keep
running); the other two elect a new leader and k is overwritten there; then
L's Raft thread is thawed and k is read from L again and again.  Any value but
the new one, or any answer other than a redirect or an error, is a stale read.

Wall-clock jumps need no nemesis of their own: nothing in Raft reads the wall
clock (ticks and leases use the monotonic clock), and entry timestamps are
made monotonic along the log (see docs/RELIABILITY.md).
"""
import time

import pytest

from flinproc import Error, RawConn, wait_until
from cluster_helpers import slot_of, partition_of_slot, start_or_fail
from freeze import FrozenThread
from harness import ProxiedCluster

pytestmark = pytest.mark.flin_only


def key_led_by(cl, node_id):
    led = cl.leaders()
    for i in range(10000):
        k = f"tk{i}"
        if led.get(partition_of_slot(slot_of(k))) == node_id:
            return k
    raise AssertionError(f"no key led by node {node_id}")


def overwrite(cl, nid, key, value, timeout=30):
    """SET key value on the connected side (nodes 2 and 3), following MOVED between them and
    retrying while leadership settles (INFO's view of who leads lags by up to 500 ms).
    Returns the node that acknowledged it."""
    ports = {cl.nodes[i].port: i for i in (2, 3)}
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        with RawConn(cl.nodes[nid].port, timeout=10) as c:
            last = c.call("SET", key, value)
        if last == "OK":
            return nid
        if isinstance(last, Error) and last.startswith("MOVED "):
            port = int(last.rsplit(":", 1)[1])
            if port in ports:
                nid = ports[port]
                continue
        nid = 5 - nid if nid in (2, 3) else 2    # the other connected node
        time.sleep(0.05)
    raise AssertionError(f"could not overwrite {key} on nodes 2/3: last reply {last!r}")


@pytest.mark.parametrize("freeze_s", [1.5, 3.0])
def test_leader_with_a_frozen_raft_thread_serves_no_stale_read(tmp_path, freeze_s):
    cl = ProxiedCluster(tmp_path / "cluster", n=3)
    start_or_fail(cl)
    try:
        old = cl.nodes[1]
        key = key_led_by(cl, 1)
        part = partition_of_slot(slot_of(key))
        with RawConn(old.port, timeout=10) as c:
            assert c.call("SET", key, "before") == "OK"
            # Leases are held while a quorum acknowledges heartbeats: read once locally.
            assert c.call("GET", key) == b"before"
        others = [n for n in cl.nodes.values() if n is not old]

        links = [(1, j) for j in (2, 3)] + [(j, 1) for j in (2, 3)]
        frozen = FrozenThread(old.pid, "flin-raft")
        try:
            frozen.freeze()
        except OSError as e:
            pytest.skip(f"cannot stop a thread with ptrace here ({e}): needs CAP_SYS_PTRACE")
        with frozen:
            cl.block(links)
            t0 = time.monotonic()

            def new_leader():
                led = cl.leaders(nodes=others)
                return led.get(part) in (2, 3) and led.get(part)
            nid = wait_until(new_leader, 30, interval=0.05,
                             what="a new leader among the two connected nodes")
            nid = overwrite(cl, nid, key, "after")
            rest = freeze_s - (time.monotonic() - t0)
            if rest > 0:
                time.sleep(rest)
        # Thawed, still cut off: whatever L answers must not be the overwritten value.
        stale = []
        answers = {}
        with RawConn(old.port, timeout=10) as c:
            end = time.monotonic() + 1.5
            while time.monotonic() < end:
                r = c.call("GET", key)
                kind = r.split(" ", 1)[0] if isinstance(r, Error) else repr(r)
                answers[kind] = answers.get(kind, 0) + 1
                if r == b"before":
                    stale.append(time.monotonic())
        assert not stale, (f"node 1 served {len(stale)} stale reads of {key!r} after its Raft "
                           f"thread was frozen {freeze_s}s; answers {answers}")
        print(f"\nfrozen {freeze_s}s: new leader node {nid}; node 1 answered {answers}")
    finally:
        cl.heal()
        cl.stop()
        cl.close_proxies()
