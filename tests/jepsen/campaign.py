"""The long campaign behind `make jepsen`: each nemesis on its own on 3 nodes
(kill, pause, partition, oneway, flap, slow, freeze), flap on 5 nodes (where its shapes
include the bridge), the mixed nemesis on 3 and 5 nodes, kill and mixed again with logs
compacted beyond 20 entries (catch-up from snapshots; kill once more installing them as
ingested SST files), nodes losing their data directories
(on 3 nodes, and on 5 with compacted logs), going back to backups of their own, and power
cuts (kill -9 and what the node had not fsynced taken back: powercut.py; on 3 nodes, and on 5
with compacted logs), then durability rounds (--fsync always, kill -9 of every node, then
again with every kill a power cut) for a single node and a 3-node cluster.  After the
register runs, the bank workload (transfers in MULTI/EXEC and multi-key reads, bank.py)
under each nemesis on 3 nodes and mixed on 5 with compacted logs, JEPSEN_BANK_SECONDS each
(default: half of JEPSEN_SECONDS).

    JEPSEN_SECONDS=120 JEPSEN_ROUNDS=10 python3 tests/jepsen/campaign.py [--out report.jsonl]

Prints each run's figures and a total; exits non-zero on any anomaly."""
import argparse
import collections
import json
import os
import shutil
import sys
import tempfile

import harness
import powercut


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("JEPSEN_SECONDS", 60)))
    ap.add_argument("--bank-seconds", type=float,
                    default=float(os.environ.get("JEPSEN_BANK_SECONDS", 0)) or None,
                    help="each bank run (default: half of --seconds)")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("JEPSEN_ROUNDS", 5)))
    ap.add_argument("--out", default=os.environ.get("JEPSEN_OUT", "jepsen-report.jsonl"))
    a = ap.parse_args()
    # (nodes, nemesis, --snapshot-entries[, flags]): those with 20 compact logs beyond 20
    # entries, so nodes the nemesis held back catch up from snapshots (one run installing
    # every snapshot as an ingested SST file, as large partitions are).
    ingest = ("--snapshot-ingest-bytes", "0")
    plan = [(3, "kill", None), (3, "pause", None), (3, "partition", None), (3, "oneway", None),
            (3, "flap", None), (3, "slow", None), (3, "freeze", None), (5, "flap", None),
            (3, "mixed", None), (5, "mixed", None), (3, "kill", 20), (3, "mixed", 20),
            (3, "kill", 20, ingest), (3, "wipe", None), (5, "wipe", 20), (3, "restore", None),
            (5, "restore", 20), (3, "powercut", None), (5, "powercut", 20)]
    bank_plan = [(3, n, None) for n in ("kill", "pause", "partition", "oneway", "flap", "slow",
                                        "freeze", "mixed", "wipe", "restore", "powercut")]
    bank_plan.append((5, "mixed", 20))
    bank_seconds = a.bank_seconds or a.seconds / 2
    total_ops, faults, anomalies = collections.Counter(), collections.Counter(), []
    bank_totals = collections.Counter()
    with open(a.out, "a") as out:
        runs = [("register", a.seconds, p) for p in plan] + \
               [("bank", bank_seconds, p) for p in bank_plan]
        for workload, seconds, (nodes, nemesis, snapshot_entries, *flags) in runs:
            rep = harness.run(nodes=nodes, seconds=seconds, nemesis=nemesis, verbose=False,
                              snapshot_entries=snapshot_entries, workload=workload,
                              server_flags=flags[0] if flags else ())
            rep.pop("log")
            out.write(json.dumps(rep) + "\n")
            out.flush()
            faults.update(rep["faults"])
            ok = (rep["valid"] and rep["replicas_converged"] and not rep["stuck"] and
                  "powercut-untracked-files" not in rep["faults"])  # the cut's model broke
            if not ok:
                anomalies.append(f"{workload} {nemesis}/{nodes} seed {rep['seed']}: "
                                 f"{rep['verdict']}\n{rep['checker']}\n{rep['stuck']}")
            if workload == "bank":
                bank_totals.update({f"transfers {k}": v for k, v in rep["transfers"].items()})
                for d in rep["reads"].values():
                    bank_totals.update({f"reads {k}": v for k, v in d.items()})
                what = f"transfers {rep['transfers']}; reads {rep['reads']}"
            else:
                total_ops.update(rep["by_outcome"])
                what = f"ops {rep['ops']} {rep['by_outcome']}"
            print(f"{workload:8s} {nodes} nodes, {nemesis:9s} {seconds:.0f}s seed {rep['seed']}: "
                  f"{rep['verdict']}; {what}; "
                  f"snapshots installed {rep['snapshots_installed']}; "
                  f"faults {rep['faults']}; errors {rep['errors']}", flush=True)
        lib_dir = tempfile.mkdtemp(prefix="flin-powercut-")
        lib = powercut.build(lib_dir)
        for nodes, cut in ((1, False), (3, False), (1, True), (3, True)):
            if cut and lib is None:
                continue
            rep = harness.durability(nodes=nodes, rounds=a.rounds, verbose=False,
                                     powercut_lib=lib if cut else None, tail="mixed")
            out.write(json.dumps(rep) + "\n")
            out.flush()
            how = "power cut" if cut else "kill -9"
            faults[f"durability-{'powercut' if cut else 'kill9'}"] += rep["kills"]
            if rep["lost_count"]:
                anomalies.append(f"durability/{nodes} ({how}) seed {rep['seed']}: "
                                 f"lost {rep['lost']}")
            print(f"durability {nodes} node(s), {how}, {rep['rounds']} rounds seed "
                  f"{rep['seed']}: {rep['acked']} acked writes, {rep['unknown']} unknown, "
                  f"{rep['kills']} kills, {rep['lost_count']} lost", flush=True)
        shutil.rmtree(lib_dir, ignore_errors=True)
    print(f"TOTAL register ops by outcome {dict(total_ops)}; bank {dict(bank_totals)}; "
          f"faults {dict(faults)}; "
          f"anomalies {len(anomalies)}")
    for x in anomalies:
        print("ANOMALY:", x)
    sys.exit(1 if anomalies else 0)


if __name__ == "__main__":
    main()
