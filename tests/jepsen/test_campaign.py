"""A short Jepsen-style campaign CI can afford: kill, pause and partition on their
own for JEPSEN_CI_SECONDS (default 10 s) on a 3-node cluster (kill also with logs compacted
beyond 20 entries; nodes losing their data directories, or going back to a backup of
their own; power cuts), the one-way, flapping and slow-link nemeses for JEPSEN_CI_SHORT_SECONDS (default 7 s), the mixed nemesis
on 5 nodes, and durability rounds with --fsync always (single node and cluster); the bank
workload (transactions and multi-key reads, bank.py) under kill, partition and freeze for
JEPSEN_CI_BANK_SECONDS (default 6 s) each.
`make jepsen` runs the long version (tests/jepsen/campaign.py)."""
import copy
import os
import socket
import threading
import time

import pytest

import checker
import harness

pytestmark = pytest.mark.flin_only

SECONDS = float(os.environ.get("JEPSEN_CI_SECONDS", "10"))
SHORT_SECONDS = float(os.environ.get("JEPSEN_CI_SHORT_SECONDS", "7"))
BANK_SECONDS = float(os.environ.get("JEPSEN_CI_BANK_SECONDS", "6"))


def _assert_clean(rep):
    assert rep["verdict"] == checker.LINEARIZABLE, (
        f"seed {rep['seed']} ({rep['nemesis']}, {rep['nodes']} nodes): {rep['verdict']}\n"
        f"{rep['checker']}\n" + "\n".join(rep["log"][-40:]))
    assert rep["replicas_converged"]
    assert not rep["stuck"], f"seed {rep['seed']}: {rep['stuck']}"
    assert rep["by_outcome"].get("ok", 0) > 100, rep["by_outcome"]
    assert not rep["client_crashes"], rep["client_crashes"]


@pytest.mark.parametrize("nemesis", ["kill", "pause", "partition", "oneway", "flap", "slow",
                                     "freeze"])
def test_three_nodes_under_nemesis(nemesis, tmp_path):
    seconds = SECONDS if nemesis in ("kill", "pause", "partition") else SHORT_SECONDS
    rep = harness.run(nodes=3, seconds=seconds, nemesis=nemesis, clients=5,
                      workdir=str(tmp_path), verbose=False)
    _assert_clean(rep)
    assert sum(v for k, v in rep["faults"].items() if not k.startswith("error")) > 0


def _assert_bank_clean(rep):
    """A clean bank run that did something: no anomaly, converged replicas, faults
    injected, and enough acknowledged transfers, leader reads and READONLY reads."""
    assert rep["valid"], (
        f"seed {rep['seed']} (bank, {rep['nemesis']}, {rep['nodes']} nodes): {rep['verdict']}\n"
        f"{rep['checker']}\n" + "\n".join(rep["log"][-40:]))
    assert rep["replicas_converged"], f"seed {rep['seed']}: {rep['checker']}"
    assert not rep["stuck"], f"seed {rep['seed']}: {rep['stuck']}"
    assert sum(v for k, v in rep["faults"].items() if not k.startswith("error")) > 0
    ok = {f: d.get(checker.OK, 0) for f, d in rep["reads"].items()}
    assert rep["transfers"].get(checker.OK, 0) > 100, rep["transfers"]
    assert ok.get("mget", 0) + ok.get("multi-get", 0) > 50, rep["reads"]
    assert ok.get("readonly-mget", 0) > 20, rep["reads"]


def _corrupted_bank_checks_fail(history):
    """The same checker on the run's own history, corrupted twice, must fail: a leader
    read shown one unit moved between two accounts (sum unchanged, so only the comparison
    with the state at its seq can see it), and an acknowledged transfer's marker removed
    from the final state."""
    wl, ops, finals = history["workload"], history["ops"], history["finals"]
    bad = copy.deepcopy(ops)
    read = next(o for o in bad if o.f == "mget" and o.outcome == checker.OK and o.seq)
    read.balances[0] += 1
    read.balances[1] -= 1
    res = wl.check(bad, finals, {}, history["t0"])
    assert not res["valid"] and "snapshot: " in res["checker"], res["checker"]
    acked = next(o for o in ops if o.f == "transfer" and o.outcome == checker.OK)
    lost = dict(finals)
    lost[next(b for b in wl.banks if b.tag == acked.bank).marker(acked.tid)] = None
    res = wl.check(ops, lost, {}, history["t0"])
    assert not res["valid"] and f"t:{acked.tid}" in res["checker"], res["checker"]


@pytest.mark.parametrize("nemesis", ["kill", "partition", "freeze"])
def test_bank_three_nodes_under_nemesis(nemesis, tmp_path):
    """Transfers in MULTI/EXEC and multi-key reads (bank.py) under kill -9 and clean stops,
    partitions, and a frozen Raft thread: no torn or stale read, nothing acknowledged lost,
    nothing failed applied, nothing applied twice, replicas converge.  6 clients, so that
    two of them only read (bank.BankWorkload.client).  The kill run's history is also
    checked again corrupted: the checks are not vacuous."""
    rep = harness.run(nodes=3, seconds=BANK_SECONDS, nemesis=nemesis, clients=6,
                      workload="bank", workdir=str(tmp_path), verbose=False,
                      keep_history=nemesis == "kill")
    _assert_bank_clean(rep)
    if nemesis == "kill":
        _corrupted_bank_checks_fail(rep["history"])


def test_three_nodes_killed_catch_up_from_snapshots(tmp_path):
    """Logs compacted beyond 20 entries: a node back from a kill catches up from snapshots
    (streamed to a file, then installed) while the history is checked."""
    rep = harness.run(nodes=3, seconds=SECONDS, nemesis="kill", clients=5, snapshot_entries=20,
                      workdir=str(tmp_path), verbose=False)
    _assert_clean(rep)
    assert rep["snapshots_installed"] > 0, "no node caught up from a snapshot"


def test_three_nodes_power_cuts_with_compacted_logs(tmp_path):
    """Power cuts of one node at a time (kill -9, and what it had not fsynced taken back from
    its files: powercut.py) while clients run, logs compacted beyond 20 entries: a replica
    that acknowledged what it had not persisted would lose committed entries here."""
    rep = harness.run(nodes=3, seconds=SECONDS, nemesis="powercut", clients=5,
                      snapshot_entries=20, workdir=str(tmp_path), verbose=False)
    _assert_clean(rep)
    assert sum(v for k, v in rep["faults"].items() if k.startswith("powercut")) > 0
    assert "powercut-untracked-files" not in rep["faults"], rep["faults"]


def test_three_nodes_losing_data_directories(tmp_path):
    """A node's data directory deleted under it (kill -9, then restarted empty): it rejoins
    recovering, and nothing acknowledged is lost while clients run."""
    rep = harness.run(nodes=3, seconds=SECONDS, nemesis="wipe", clients=5,
                      workdir=str(tmp_path), verbose=False)
    _assert_clean(rep)
    assert sum(v for k, v in rep["faults"].items() if k.startswith("wipe-") and
               k != "wipe-skipped") > 0, rep["faults"]


def test_three_nodes_restored_from_backups(tmp_path):
    """A node's data directory replaced by a backup of its own that SAVE made a moment
    earlier (kill -9, then restarted on the copy): it forgot what it acknowledged since,
    rejoins recovering, and nothing acknowledged is lost while clients run."""
    rep = harness.run(nodes=3, seconds=SECONDS, nemesis="restore", clients=5,
                      workdir=str(tmp_path), verbose=False)
    _assert_clean(rep)
    assert sum(v for k, v in rep["faults"].items() if k.startswith("restore-") and
               k != "restore-skipped") > 0, rep["faults"]


def test_five_nodes_mixed(tmp_path):
    rep = harness.run(nodes=5, seconds=SECONDS, nemesis="mixed", clients=5,
                      workdir=str(tmp_path), verbose=False)
    _assert_clean(rep)


def test_proxy_block_and_slow():
    """What the one-way and slow nemeses rely on: blocking the proxy of i -> j kills
    its connections and refuses new ones while j -> i's proxy still carries data; a
    slowed proxy delivers late, in order; heal() restores both."""
    got = []                      # (arrival time, bytes) at the "bus port"
    srv = socket.create_server(("127.0.0.1", 0))

    def read(conn):
        with conn:
            while data := conn.recv(100):
                got.append((time.monotonic(), data))

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=read, args=(conn,), daemon=True).start()

    def arrived():
        return b"".join(d for _, d in got)

    threading.Thread(target=serve, daemon=True).start()
    ij, ji = harness.Proxy(srv.getsockname()[1]), harness.Proxy(srv.getsockname()[1])
    conns = []

    def dial(proxy):
        conns.append(socket.create_connection(("127.0.0.1", proxy.port), timeout=5))
        return conns[-1]
    try:
        a, b = dial(ij), dial(ji)
        a.sendall(b"1")
        b.sendall(b"2")
        harness.wait_until(lambda: len(arrived()) == 2, 5)
        ij.block()
        b.sendall(b"3")
        harness.wait_until(lambda: b"3" in arrived(), 5)
        assert a.recv(10) == b""                  # the open connection was closed
        try:
            assert dial(ij).recv(10) == b""       # and a new one refused
        except ConnectionResetError:
            pass
        ij.heal()
        ji.slow(0.3)
        t = time.monotonic()
        b.sendall(b"4")
        time.sleep(0.05)
        b.sendall(b"5")
        harness.wait_until(lambda: arrived().endswith(b"5"), 5)
        assert arrived()[2:] == b"345" and got[3][0] - t >= 0.29   # 1 and 2: either order
        dial(ij).sendall(b"6")                    # healed: new connections pass
        harness.wait_until(lambda: arrived().endswith(b"6"), 5)
    finally:
        for c in conns:
            c.close()
        ij.close()
        ji.close()
        srv.close()


def test_checker_catches_a_corrupted_real_history(tmp_path):
    """The same pipeline on a real history with one read turned stale must fail:
    the campaign's checks are not vacuous."""
    h = harness.History()
    cluster = harness.Cluster(str(tmp_path), n=3).start()
    try:
        c = harness.Client(0, cluster.ports(), ["a"], h, harness.random.Random(1))
        first = c.unique_value()
        assert c.execute("a", "set", first).outcome == checker.OK
        for _ in range(20):
            c.execute("a", "set", c.unique_value())
        c.execute("a", "get", None)
        c.close()
    finally:
        cluster.stop()
    ops = h.ops
    assert checker.check_key(copy.deepcopy(ops)).verdict == checker.LINEARIZABLE
    bad = copy.deepcopy(ops)
    assert bad[-1].f == "get" and bad[-1].outcome == checker.OK
    bad[-1].out = first
    assert checker.check_key(bad).verdict == checker.NOT_LINEARIZABLE


@pytest.mark.parametrize("nodes", [1, 3])
def test_durability_kill_every_node(nodes, tmp_path):
    rep = harness.durability(nodes=nodes, rounds=3, workdir=str(tmp_path), verbose=False)
    assert rep["acked"] > 0
    assert rep["lost_count"] == 0, f"acknowledged writes lost (seed {rep['seed']}): {rep['lost']}"
