"""flin-bench --cluster drives a changing cluster (issue 3): it follows -MOVED
(and -ASK) instead of counting them as errors, and a node lost mid-run does
not end the run.

One run against a fresh 3-node cluster (started here on scratch ports and
dirs, stopped by PID): flin-bench starts as soon as every partition has a
leader — before the servers move leaders to their preferred nodes — then the
node leading the most partitions is killed with SIGKILL, and restarted on its
dir a few seconds later (leadership moves back to it: more MOVED).  The bench
must report the redirects it followed (--json "redirects"), count no MOVED/ASK
among its errors, and keep completing requests after the kill.  About 20 s.
A second run (6 s) drives a fresh cluster through its leader balancing and
counts no error at all: a node holds a request while a partition's leadership
moves on purpose, then proposes it or answers -MOVED. A third restarts every
node in turn with SIGTERM under load: no error replies, as each stopping node hands its
partitions over first.
flin-bench is looked for next to flin-server (or FLIN_BENCH).
"""
import json
import os
import signal
import subprocess
import time

import pytest

import flinproc
from flinproc import wait_until
from cluster_helpers import PARTITIONS
from test_cluster import (TICK_MS, make_cluster, most_leaders,  # noqa: F401 (a fixture)
                          node_events)

pytestmark = pytest.mark.flin_only

FLIN_BENCH = os.environ.get(
    "FLIN_BENCH", os.path.join(os.path.dirname(flinproc.FLIN_SERVER), "flin-bench"))

DURATION = 12         # seconds of load
KILL_AT = 3           # seconds into the run
RESTART_AT = 8
SETTLE = 3            # seconds after the kill by which requests must flow again


def test_bench_follows_moved_and_survives_a_killed_node(make_cluster, tmp_path):
    cluster = make_cluster(tick_ms=TICK_MS)
    assert os.access(FLIN_BENCH, os.X_OK), \
        f"flin-bench not found at {FLIN_BENCH} (build it, or set FLIN_BENCH)"
    seeds = ",".join(f"127.0.0.1:{p}" for p in cluster.ports())
    out_path = tmp_path / "bench.json"
    err_path = tmp_path / "bench.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        bench = subprocess.Popen(
            [FLIN_BENCH, "--cluster", seeds, "--duration", str(DURATION), "--mix",
             "set=50,get=50", "--connections", "8", "--pipeline", "4", "--keyspace", "10000",
             "--value-size", "32", "--json", "--quiet"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    t0 = time.monotonic()
    try:
        time.sleep(KILL_AT)
        assert bench.poll() is None, "flin-bench ended before the kill"
        victim, nled = most_leaders(cluster)
        victim.kill9()
        t_kill = time.monotonic() - t0
        time.sleep(max(0.0, RESTART_AT - (time.monotonic() - t0)))
        # A bench that gave up on the killed node's connections would be done by now.
        still_running = bench.poll() is None
        victim.start()
        t_restart = time.monotonic() - t0
        rc = bench.wait(timeout=DURATION + 30)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
    stderr = err_path.read_text()
    assert rc == 0, f"flin-bench exited {rc}: {stderr}"
    lines = out_path.read_text().strip().splitlines()
    assert lines, f"flin-bench printed nothing: {stderr}"
    r = json.loads(lines[-1])
    ops = {k: v for k, v in r["results"].items() if k != "total"}
    ok = sum(v["requests"] for v in ops.values())
    errors = r.get("error_kinds", {})
    per_second = r.get("ok_per_second", [])
    print(f"\nnode {victim.node_id} (leader of {nled} partitions) killed at {t_kill:.1f}s, "
          f"restarted at {t_restart:.1f}s; ok {ok}, redirects {r['redirects']}, "
          f"lost {r['lost']}, reconnects {r.get('reconnects')}, map reloads {r.get('refreshes')}, "
          f"parked {r.get('parked')}, "
          f"error replies {errors}, first of each {r.get('first_error_of_kind')}; ok per second "
          f"{per_second}")

    # Redirections were followed and none was counted as an error.
    assert r["redirects"] > 0, "no MOVED was followed (did leadership not move?)"
    assert not r["first_error"].startswith(("MOVED", "ASK")), r["first_error"]
    assert "MOVED" not in errors and "ASK" not in errors, errors
    assert still_running, f"flin-bench ended after the kill, before {RESTART_AT}s: {r}"
    # The kill did not end the run: requests kept completing after it, in every second once
    # the survivors lead (a failover takes well under SETTLE s) until the restart. (After the
    # restart leadership moves back to the victim: requests on the moving partitions wait on
    # the servers, so those seconds are not judged here.)
    assert len(per_second) >= DURATION - 1, per_second
    survivors = per_second[int(t_kill) + SETTLE:int(t_restart)]
    assert survivors and all(n > 0 for n in survivors), \
        f"seconds without a successful request after the kill at {t_kill:.1f}s: {per_second}"
    # Errors are only those the issue allows: lost with the killed node's connections, or
    # the cluster's own transient answers; never most of the run.
    assert set(errors) <= {"TRYAGAIN", "CLUSTERDOWN", "TIMEOUT"}, errors
    total_errors = sum(v["errors"] for v in ops.values())
    assert total_errors < ok / 4, (total_errors, ok)


def unplanned_leadership_events(cluster):
    """Leadership lost without a plan, summed over the live nodes' INFO: election timers that
    fired and check-quorum step-downs (a planned move that completes within an election
    timeout counts nothing)."""
    total = 0
    for info in cluster.infos().values():
        f = info["fields"]
        total += int(f["raft_election_timeouts"]) + int(f["raft_quorum_losses"])
    return total


def test_planned_leader_moves_cost_clients_no_errors(make_cluster):
    """Leaders move on purpose after start-up (each partition's to its preferred node): the
    old leader refuses proposals while it hands over, and the nodes in between (the old leader
    that stepped down, a follower that granted the transfer its vote) briefly know no leader.
    That is an election under way, not an outage, and it lasts milliseconds: the node holds
    such a request until the partition has a leader again, then proposes it or answers -MOVED.
    A client sees no -TRYAGAIN and never -CLUSTERDOWN (Redis Cluster clients treat CLUSTERDOWN
    as the cluster being down: redis-benchmark sleeps a second on each, and the cluster test's
    redis-benchmark run failed on them). Load starts as soon as the cluster is up, through the
    balancing.

    The promise holds for planned moves only: if an election timer fired during the run (a
    machine so loaded or a disk so slow that a move or a heartbeat took an election timeout),
    leadership was lost, not moved, and a client may be told to try again; the nodes' INFO
    counts such events, and the test then only requires the errors to be of those kinds."""
    cluster = make_cluster(tick_ms=TICK_MS, extra=["--log-level", "debug"])
    unplanned_before = unplanned_leadership_events(cluster)
    seeds = ",".join(f"127.0.0.1:{p}" for p in cluster.ports())
    out = subprocess.run(
        [FLIN_BENCH, "--cluster", seeds, "--duration", "6", "--mix", "set=100",
         "--connections", "16", "--keyspace", "10000", "--value-size", "16", "--json",
         "--quiet"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    errors = r.get("error_kinds", {})
    unplanned = unplanned_leadership_events(cluster) - unplanned_before
    firsts = r.get("first_error_of_kind", {})
    print(f"\nredirects {r['redirects']}, error replies {errors}, first of each {firsts}, "
          f"unplanned leadership events {unplanned}")
    assert r["redirects"] > 0, "no MOVED was followed: leadership did not move during the run"
    if unplanned:
        assert set(errors) <= {"TRYAGAIN", "CLUSTERDOWN"}, (errors, firsts)
    else:
        assert not errors, (errors, firsts)


def test_rolling_restart_costs_clients_no_errors(make_cluster, tmp_path):
    """A rolling restart under load: each node in turn stopped cleanly (SIGTERM), restarted on
    its directory, and given its partitions back. A stopping node hands the partitions it
    leads over first (DESIGN.md), so clients see MOVED and lose only the requests in flight on
    its connections: no -TRYAGAIN, -CLUSTERDOWN or -TIMEOUT, unless leadership was lost
    without a plan meanwhile (an election timer fired, a transfer was given up: a machine so
    loaded that a heartbeat took an election timeout), in which case only those kinds."""
    cluster = make_cluster(tick_ms=TICK_MS)
    seeds = ",".join(f"127.0.0.1:{p}" for p in cluster.ports())
    out_path = tmp_path / "bench.json"
    with open(out_path, "wb") as out, open(tmp_path / "bench.err", "wb") as err:
        bench = subprocess.Popen(
            [FLIN_BENCH, "--cluster", seeds, "--duration", "600", "--mix", "set=50,get=50",
             "--connections", "8", "--pipeline", "4", "--keyspace", "10000", "--value-size",
             "32", "--json", "--quiet"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    # Unplanned leadership events: on the other nodes over each stop (the hand-over's part),
    # and transfers given up or quorums lost on any node over the whole run (a restarted
    # node's election timers may fire before its leaders' heartbeats reach it: pre-votes that
    # change nothing, not counted).
    def lost_moves(node):
        f = node.info_cluster()["fields"]
        return int(f["raft_transfers_aborted"]) + int(f["raft_quorum_losses"])

    base = {n.node_id: lost_moves(n) for n in cluster.nodes.values()}
    at_stops = elsewhere = 0
    try:
        time.sleep(2)
        for node in cluster.nodes.values():
            others = [n for n in cluster.nodes.values() if n is not node]
            before = sum(node_events(n) for n in others)
            elsewhere += lost_moves(node) - base[node.node_id]
            assert node.stop() == 0, node.log_tail()
            cluster.wait_all_leaders(timeout=60, nodes=others)
            time.sleep(20 * TICK_MS / 1000)  # an election timeout for a timer to fire, if any
            at_stops += sum(node_events(n) for n in others) - before
            node.start()
            base[node.node_id] = 0  # a new process counts from zero
            wait_until(lambda: node.node_id in cluster.leaders().values(), 60,
                       what=f"node {node.node_id} to lead partitions again")
        assert bench.poll() is None, "flin-bench ended early: " + (tmp_path / "bench.err").read_text()
        elsewhere += sum(lost_moves(n) - base[n.node_id] for n in cluster.nodes.values())
        bench.send_signal(signal.SIGINT)  # ends the run and reports it
        rc = bench.wait(timeout=60)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
    assert rc == 0, (tmp_path / "bench.err").read_text()
    r = json.loads(out_path.read_text().strip().splitlines()[-1])
    errors = r.get("error_kinds", {})
    assert r["interrupted"], r
    print(f"\nrolling restart: ok "
          f"{r['results']['total']['requests']}, redirects {r['redirects']}, lost {r['lost']}, "
          f"error replies {errors}, unplanned leadership events at the stops {at_stops}, "
          f"transfers given up or quorums lost {elsewhere}")
    assert "MOVED" not in errors and "ASK" not in errors, errors
    # Stopped without the hand-over every partition would wait for an election timer, at least
    # one per partition over the three stops (87 fired in such a run); a loaded machine may
    # still fire a few.
    assert at_stops < PARTITIONS / 2, at_stops
    if at_stops or elsewhere:
        assert set(errors) <= {"TRYAGAIN", "CLUSTERDOWN", "TIMEOUT"}, errors
    else:
        assert not errors, (errors, r.get("first_error_of_kind"))
