"""The bank checker (bank.py) on hand-made histories: each anomaly it exists for must be
reported (a read that sees half a transfer, balances that are not the state at the read's
seq, an acknowledged transfer missing from the final state, a failed one present, a double
application, a stale leader read, seqs going back across realtime-ordered transfers,
replicas diverging), and legal histories, unknown transfers that did or did not apply
included, must pass.  Pure Python, no server, well under a second."""
import math

import harness
from bank import GENESIS, INVALID, VALID, Bank, BankOp, check, check_bank
from checker import FAIL, OK, UNKNOWN

INF = math.inf


def bank():
    return Bank("b", [100, 50, 10])


def tr(tid, src, dst, amt, t, outcome=OK, seq=None, bal=None):
    """A transfer of amt from account src to dst over t = (invoke, complete); an ok one's
    INCRBY replies default to what they would be were it the only transfer."""
    if outcome == OK and bal is None:
        start = bank().initial
        bal = {src: start[src] - amt, dst: start[dst] + amt}
    return BankOp(bank="b", f="transfer", tid=tid, src=src, dst=dst, amt=amt, seq=seq,
                  balances=bal if outcome == OK else {}, outcome=outcome, invoke=t[0],
                  complete=INF if outcome == UNKNOWN else t[1])


def rd(seq, balances, t, f="mget"):
    return BankOp(bank="b", f=f, seq=seq, balances=dict(enumerate(balances)), outcome=OK,
                  invoke=t[0], complete=t[1])


def final(order, ops, b=None, **override):
    """The final state the transfers of `order` (ids, in serial order) leave; override:
    {key: value} to corrupt it."""
    b = b or bank()
    by_id = {o.tid: o for o in ops if o.f == "transfer"}
    bal = list(b.initial)
    out, prev = {}, GENESIS
    for tid in order:
        t = by_id[tid]
        bal[t.src] -= t.amt
        bal[t.dst] += t.amt
        out[b.marker(tid)] = prev
        prev = tid
    out.update({k: str(v) for k, v in zip(b.accounts, bal)})
    out[b.seq_key] = str(len(order))
    out[b.last_key] = prev
    out.update({b.key(k): v for k, v in override.items()})
    return out


def anomalies(ops, fin, **kw):
    return check_bank(bank(), ops, fin, **kw)[0]


def assert_caught(ops, fin, check_name, **kw):
    found = anomalies(ops, fin, **kw)
    assert any(f" {check_name}: " in a for a in found), found
    return found


# ---- histories that must pass --------------------------------------------------

def test_sequential_transfers_and_reads_pass():
    ops = [tr("x", 0, 1, 5, (0, 1), seq=1),
           rd(1, [95, 55, 10], (2, 3)),
           tr("y", 1, 2, 7, (4, 5), seq=2, bal={1: 48, 2: 17}),
           rd(2, [95, 48, 17], (6, 7), f="multi-get"),
           rd(0, [100, 50, 10], (8, 9), f="readonly-mget"),   # stale, but a snapshot
           rd(2, [95, 48, 17], (10, 11), f="final-mget")]
    assert anomalies(ops, final(["x", "y"], ops)) == []


def test_concurrent_transfers_in_either_order_pass():
    for first, second in (("x", "y"), ("y", "x")):
        ops = [tr("x", 0, 1, 5, (0, 3), seq=1 if first == "x" else 2),
               tr("y", 0, 2, 3, (1, 2), seq=1 if first == "y" else 2)]
        s1 = [95, 55, 10] if first == "x" else [97, 50, 13]
        ops[0].balances = {0: 95 if first == "x" else 92, 1: 55}
        ops[1].balances = {0: 97 if first == "y" else 92, 2: 13}
        ops.append(rd(1, s1, (0.5, 2.5)))
        assert anomalies(ops, final([first, second], ops)) == [], (first, second)


def test_unknown_transfer_that_applied_is_placed_by_the_chain():
    """z timed out but applied (its marker is in the chain, at seq 1): reads at seq 1 must
    show it, and they do."""
    ops = [tr("z", 0, 1, 9, (0, None), outcome=UNKNOWN),
           rd(1, [91, 59, 10], (1, 2)),
           tr("x", 2, 0, 4, (3, 4), seq=2, bal={2: 6, 0: 95})]
    assert anomalies(ops, final(["z", "x"], ops)) == []


def test_unknown_transfer_that_did_not_apply_and_failed_ones_pass():
    ops = [tr("z", 0, 1, 9, (0, None), outcome=UNKNOWN),
           tr("f", 0, 2, 3, (0, 1), outcome=FAIL),
           tr("x", 2, 0, 4, (3, 4), seq=1, bal={2: 6, 0: 104}),
           rd(1, [104, 50, 6], (5, 6))]
    assert anomalies(ops, final(["x"], ops)) == []


def test_check_of_several_banks_reports_valid():
    ops = [tr("x", 0, 1, 5, (0, 1), seq=1)]
    verdict, text, found, stats = check([bank()], ops, final(["x"], ops))
    assert verdict == VALID and found == [] and stats["b"]["transfers"][OK] == 1
    assert "transfers" in text


# ---- histories that must fail -------------------------------------------------------

def test_read_of_half_a_transfer_fails():
    ops = [tr("x", 0, 1, 5, (0, 1), seq=1), rd(1, [95, 50, 10], (2, 3))]
    found = assert_caught(ops, final(["x"], ops), "snapshot")
    assert "torn read" in found[0] and "sums to 155" in found[0]


def test_read_whose_balances_are_not_its_seq_fails():
    """Sums right, but the balances are those after transfer 2 while the seq says 1."""
    ops = [tr("x", 0, 1, 5, (0, 1), seq=1),
           tr("y", 1, 2, 7, (0, 1.5), seq=2, bal={1: 48, 2: 17}),
           rd(1, [95, 48, 17], (2, 3), f="readonly-mget")]
    found = assert_caught(ops, final(["x", "y"], ops), "snapshot")
    assert "not the state after transfers 1..1" in found[0]


def test_transfer_reply_not_its_seq_state_fails():
    ops = [tr("x", 0, 1, 5, (0, 1), seq=1, bal={0: 95, 1: 56})]
    assert_caught(ops, final(["x"], ops), "snapshot")


def test_acknowledged_transfer_missing_from_final_state_fails():
    ops = [tr("x", 0, 1, 5, (0, 1), seq=1)]
    found = assert_caught(ops, final([], ops), "final")
    assert any("acknowledged transfer t:x" in a and "no marker" in a for a in found)


def test_failed_transfer_present_fails():
    ops = [tr("f", 0, 1, 5, (0, 1), outcome=FAIL)]
    found = assert_caught(ops, final(["f"], ops), "final")
    assert any("failed transfer t:f" in a for a in found)


def test_double_application_fails():
    """x applied twice: balances moved twice, seq 2, and the second RENAME left t:x
    pointing at x itself (the chain cycles)."""
    ops = [tr("x", 0, 1, 5, (0, 1), seq=1)]
    fin = final(["x"], ops, a0="90", a1="60", seq="2", **{"t:x": "x"})
    found = assert_caught(ops, fin, "final")
    text = "\n".join(found)
    assert "seq is '2' but 1 transfers' markers" in text
    assert "balances [90, 60, 10] != [95, 55, 10]" in text
    assert "cycle" in text


def test_partial_application_fails():
    """The marker is there but only the source was debited."""
    ops = [tr("z", 0, 1, 5, (0, None), outcome=UNKNOWN)]
    assert_caught(ops, final(["z"], ops, a1="50"), "final")


def test_acknowledged_seq_not_its_place_in_the_chain_fails():
    ops = [tr("x", 0, 1, 5, (0, 1), seq=2), tr("z", 0, 2, 1, (0, None), outcome=UNKNOWN)]
    ops[0].balances = {0: 94, 1: 55}
    found = assert_caught(ops, final(["x", "z"], ops), "final")
    assert any("is number 1 in the chain" in a for a in found)


def test_broken_chain_fails_and_falls_back_to_acknowledged_seqs():
    ops = [tr("x", 0, 1, 5, (0, 1), seq=1), rd(1, [95, 55, 10], (2, 3)),
           rd(2, [90, 60, 10], (2, 3))]
    fin = final(["x"], ops, last="nobody")
    found, stats = check_bank(bank(), ops, fin)
    assert any("chain broken" in a for a in found)
    assert stats["undetermined_reads"] == 1      # seq 2: no transfer known there


def test_duplicate_acknowledged_seqs_fail():
    ops = [tr("x", 0, 1, 5, (0, 1), seq=1), tr("y", 0, 1, 5, (0, 1), seq=1)]
    assert_caught(ops, final(["x", "y"], ops), "final")


def test_stale_leader_read_fails():
    ops = [tr("x", 0, 1, 5, (0, 1), seq=1), rd(0, [100, 50, 10], (2, 3))]
    found = assert_caught(ops, final(["x"], ops), "realtime")
    assert "stale read: mget" in found[0] and "transfer t:x" in found[0]


def test_stale_multi_read_and_read_going_back_fail():
    ops = [tr("x", 0, 1, 5, (0, 1), seq=1), rd(1, [95, 55, 10], (2, 3), f="final-mget"),
           rd(0, [100, 50, 10], (4, 5), f="multi-get")]
    assert_caught(ops, final(["x"], ops), "realtime")


def test_readonly_read_of_an_empty_replica_passes_and_a_leader_one_fails():
    """A replica still before the initial MSET (wiped, recovering) has none of the keys: a
    state of the database READONLY may show, but a leader read must not."""
    ops = [tr("x", 0, 1, 5, (0, 1), seq=1), rd(None, [None] * 3, (2, 3), f="readonly-mget")]
    found, stats = check_bank(bank(), ops, final(["x"], ops))
    assert found == [] and stats["readonly_empty"] == 1
    ops[1].f = "mget"
    assert_caught(ops, final(["x"], ops), "snapshot")
    ops[1].f = "readonly-mget"
    ops[1].balances[0] = 100                     # one key there, not the others: torn
    assert_caught(ops, final(["x"], ops), "snapshot")


def test_stale_readonly_read_is_exempt_from_realtime():
    ops = [tr("x", 0, 1, 5, (0, 1), seq=1), rd(0, [100, 50, 10], (2, 3), f="readonly-mget")]
    assert anomalies(ops, final(["x"], ops)) == []


def test_seq_decreasing_across_realtime_ordered_transfers_fails():
    ops = [tr("x", 0, 1, 5, (0, 1), seq=2, bal={0: 92, 1: 55}),
           tr("y", 0, 2, 3, (2, 3), seq=1, bal={0: 97, 2: 13})]
    found = assert_caught(ops, final(["y", "x"], ops), "realtime")
    assert "transfer t:y" in found[0] and "not greater" in found[0]


def test_transfer_seen_by_a_read_before_it_was_invoked_fails():
    """A leader read completed at 1 saw seq 1; the transfer placed at seq 1 (an unknown
    one, by the chain) was invoked only at 2."""
    ops = [rd(1, [91, 59, 10], (0, 1)), tr("z", 0, 1, 9, (2, None), outcome=UNKNOWN)]
    found = assert_caught(ops, final(["z"], ops), "realtime")
    assert "transfer t:z" in found[0] and "mget" in found[0]


def test_diverging_replicas_fail():
    ops = [tr("x", 0, 1, 5, (0, 1), seq=1)]
    fin = final(["x"], ops)
    replica = {k: v.encode() for k, v in fin.items()}
    replica["{b}a0"] = b"100"
    replica.pop("{b}t:x")
    diffs = harness.replica_diffs(fin, replica)
    assert sorted(diffs) == [("{b}a0", "95", "100"), ("{b}t:x", GENESIS, None)]
    verdict, text, found, _ = check([bank()], ops, fin, {2: diffs})
    assert verdict == INVALID and "node 2 has {b}a0 = '100'" in text
    assert harness.replica_diffs(fin, {k: v.encode() for k, v in fin.items()}) == []


def test_report_lists_the_first_anomaly_of_each_check_first():
    """Thousands of stale reads must not hide the one lost transfer from the report."""
    ops = [tr("x", 0, 1, 5, (0, 1), seq=1)] + \
          [rd(0, [100, 50, 10], (2 + i, 3 + i)) for i in range(20)] + \
          [tr("y", 0, 1, 1, (30, 31), seq=2, bal={0: 94, 1: 56})]
    verdict, text, found, stats = check([bank()], ops, final(["x"], ops))
    assert stats["b"]["anomalies"] == {"final": 2, "realtime": 20}
    assert [a.split(":")[0] for a in found[:2]] == ["bank {b} final", "bank {b} realtime"]
    assert "acknowledged transfer t:y" in found[0]
