"""A short Jepsen-style campaign CI can afford: each nemesis on its own for
JEPSEN_CI_SECONDS (default 10 s) on a 3-node cluster, the mixed nemesis on 5
nodes, and durability rounds with --fsync always (single node and cluster).
`make jepsen` runs the long version (tests/jepsen/campaign.py)."""
import copy
import os

import pytest

import checker
import harness

pytestmark = pytest.mark.flin_only

SECONDS = float(os.environ.get("JEPSEN_CI_SECONDS", "10"))


def _assert_clean(rep):
    assert rep["verdict"] == checker.LINEARIZABLE, (
        f"seed {rep['seed']} ({rep['nemesis']}, {rep['nodes']} nodes): {rep['verdict']}\n"
        f"{rep['checker']}\n" + "\n".join(rep["log"][-40:]))
    assert rep["replicas_converged"]
    assert rep["by_outcome"].get("ok", 0) > 100, rep["by_outcome"]


@pytest.mark.parametrize("nemesis", ["kill", "pause", "partition"])
def test_three_nodes_under_nemesis(nemesis, tmp_path):
    rep = harness.run(nodes=3, seconds=SECONDS, nemesis=nemesis, clients=5,
                      workdir=str(tmp_path), verbose=False)
    _assert_clean(rep)
    assert sum(v for k, v in rep["faults"].items() if not k.startswith("error")) > 0


def test_five_nodes_mixed(tmp_path):
    rep = harness.run(nodes=5, seconds=SECONDS, nemesis="mixed", clients=5,
                      workdir=str(tmp_path), verbose=False)
    _assert_clean(rep)


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
