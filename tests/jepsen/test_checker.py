"""The linearizability checker on hand-made histories: it must reject each
anomaly and accept every legal interleaving.  Pure Python, well under a second."""
import math
import random

import pytest

from checker import (FAIL, LINEARIZABLE, NOT_LINEARIZABLE, OK, TOO_COMPLEX, UNKNOWN, Op,
                     check, check_key, summarize)

INF = math.inf


def op(f, arg=None, out=None, t=(0, 1), outcome=OK, key="k", client=0):
    return Op(key=key, f=f, arg=arg, out=out, invoke=t[0],
              complete=INF if outcome == UNKNOWN else t[1], outcome=outcome, client=client)


def verdict(ops, **kw):
    return check_key(ops, **kw).verdict


# ---- histories that must fail ------------------------------------------------

def test_stale_read_fails():
    h = [op("set", "1", "OK", (0, 1)), op("set", "2", "OK", (2, 3)),
         op("get", out="1", t=(4, 5))]
    r = check_key(h)
    assert r.verdict == NOT_LINEARIZABLE
    assert "GET" in r.detail


def test_lost_acknowledged_write_fails():
    h = [op("set", "a", "OK", (0, 1)), op("get", out=None, t=(2, 3))]
    assert verdict(h) == NOT_LINEARIZABLE


def test_read_of_value_never_written_fails():
    h = [op("set", "a", "OK", (0, 1)), op("get", out="zzz", t=(0.5, 3))]
    assert verdict(h) == NOT_LINEARIZABLE


def test_double_applied_incr_fails():
    h = [op("set", "10", "OK", (0, 1)), op("incr", out=11, t=(2, 3)),
         op("get", out="12", t=(4, 5))]
    assert verdict(h) == NOT_LINEARIZABLE


def test_two_incrs_same_result_fail():
    h = [op("incr", out=1, t=(0, 2)), op("incr", out=1, t=(1, 3), client=1)]
    assert verdict(h) == NOT_LINEARIZABLE


def test_read_of_failed_write_fails():
    h = [op("set", "a", "OK", (0, 1)), op("set", "b", None, (2, 3), outcome=FAIL),
         op("get", out="b", t=(4, 5))]
    assert verdict(h) == NOT_LINEARIZABLE


def test_read_going_back_in_time_fails():
    # A write overlaps two reads; once the second read sees the new value,
    # a later read may not see the old one.
    h = [op("set", "1", "OK", (0, 1)), op("set", "2", "OK", (2, 10), client=1),
         op("get", out="2", t=(3, 4)), op("get", out="1", t=(5, 6))]
    assert verdict(h) == NOT_LINEARIZABLE


def test_setnx_succeeding_twice_fails():
    h = [op("setnx", "a", True, (0, 1)), op("setnx", "b", True, (2, 3), client=1)]
    assert verdict(h) == NOT_LINEARIZABLE


def test_getset_old_value_must_match():
    h = [op("set", "1", "OK", (0, 1)), op("getset", "2", "9", (2, 3))]
    assert verdict(h) == NOT_LINEARIZABLE


def test_cas_must_see_the_value_it_compared():
    # A script's compare-and-set succeeded against a value that was already overwritten.
    h = [op("set", "1", "OK", (0, 1)), op("set", "2", "OK", (2, 3)),
         op("cas", ("1", "3"), True, (4, 5))]
    assert verdict(h) == NOT_LINEARIZABLE
    # ... or failed although the value was the one it expected.
    h = [op("set", "1", "OK", (0, 1)), op("cas", ("1", "3"), False, (2, 3))]
    assert verdict(h) == NOT_LINEARIZABLE
    # A successful cas is a write later reads must see.
    h = [op("set", "1", "OK", (0, 1)), op("cas", ("1", "3"), True, (2, 3)),
         op("get", out="1", t=(4, 5))]
    assert verdict(h) == NOT_LINEARIZABLE


def test_cas_interleavings_are_accepted():
    h = [op("set", "1", "OK", (0, 1)), op("cas", ("1", "3"), True, (2, 6)),
         op("cas", ("1", "4"), False, (3, 7), client=1), op("get", out="3", t=(8, 9))]
    assert verdict(h) == LINEARIZABLE


def test_del_count_must_match():
    h = [op("del", out=1, t=(0, 1))]
    assert verdict(h) == NOT_LINEARIZABLE


def test_unknown_write_cannot_be_seen_before_invocation():
    h = [op("get", out="x", t=(0, 1)), op("set", "x", t=(2, None), outcome=UNKNOWN)]
    assert verdict(h) == NOT_LINEARIZABLE


def test_unknown_write_applies_at_most_once():
    h = [op("set", "5", "OK", (0, 1)), op("incr", t=(2, None), outcome=UNKNOWN),
         op("get", out="6", t=(3, 4)), op("get", out="7", t=(5, 6))]
    assert verdict(h) == NOT_LINEARIZABLE


def test_one_bad_key_fails_the_history():
    h = [op("set", "a", "OK", (0, 1), key="x"), op("get", out="a", t=(2, 3), key="x"),
         op("set", "b", "OK", (0, 1), key="y"), op("get", out=None, t=(2, 3), key="y")]
    overall, text = summarize(check(h))
    assert overall == NOT_LINEARIZABLE
    assert "y: not linearizable" in text and "x: linearizable" in text


# ---- histories that must pass --------------------------------------------------

def test_sequential_history_passes():
    h = [op("get", out=None, t=(0, 1)), op("set", "1", "OK", (2, 3)),
         op("incr", out=2, t=(4, 5)), op("getset", "7", "2", (6, 7)),
         op("setnx", "8", False, (8, 9)), op("del", out=1, t=(10, 11)),
         op("setnx", "9", True, (12, 13)), op("get", out="9", t=(14, 15)),
         op("set", "x", "OK", (16, 17)), op("incr", out="ERR", t=(18, 19)),
         op("get", out="x", t=(20, 21))]
    assert verdict(h) == LINEARIZABLE


@pytest.mark.parametrize("seen", ["1", "2"])
def test_overlapping_writes_in_either_order(seen):
    h = [op("set", "1", "OK", (0, 5)), op("set", "2", "OK", (1, 4), client=1),
         op("get", out=seen, t=(6, 7))]
    assert verdict(h) == LINEARIZABLE


@pytest.mark.parametrize("seen", [None, "1"])
def test_read_concurrent_with_write_sees_either(seen):
    h = [op("set", "1", "OK", (1, 5)), op("get", out=seen, t=(0, 6), client=1)]
    assert verdict(h) == LINEARIZABLE


@pytest.mark.parametrize("seen", ["5", "6"])
def test_unknown_write_either_way(seen):
    h = [op("set", "5", "OK", (0, 1)), op("incr", t=(2, None), outcome=UNKNOWN),
         op("get", out=seen, t=(3, 4)), op("get", out=seen, t=(5, 6))]
    assert verdict(h) == LINEARIZABLE


def test_unknown_write_may_take_effect_late():
    h = [op("set", "a", "OK", (0, 1)), op("set", "b", t=(2, None), outcome=UNKNOWN),
         op("get", out="a", t=(3, 4)), op("get", out="a", t=(10, 11)),
         op("get", out="b", t=(100, 101))]
    assert verdict(h) == LINEARIZABLE


def test_failed_ops_take_no_effect():
    h = [op("set", "a", "OK", (0, 1)), op("set", "b", None, (2, 3), outcome=FAIL),
         op("incr", None, (2, 3), outcome=FAIL), op("del", None, (2, 3), outcome=FAIL),
         op("get", out="a", t=(4, 5))]
    assert verdict(h) == LINEARIZABLE


def test_unknown_read_is_ignored():
    h = [op("set", "a", "OK", (0, 1)), op("get", t=(2, None), outcome=UNKNOWN)]
    assert verdict(h) == LINEARIZABLE


def test_concurrent_incrs_any_order():
    h = [op("incr", out=2, t=(0, 3)), op("incr", out=1, t=(1, 4), client=1),
         op("incr", out=3, t=(2, 5), client=2), op("get", out="3", t=(6, 7))]
    assert verdict(h) == LINEARIZABLE


def test_equal_timestamps_count_as_concurrent():
    h = [op("set", "1", "OK", (0, 2)), op("get", out="1", t=(2, 3), client=1),
         op("get", out=None, t=(1, 2), client=2)]
    assert verdict(h) == LINEARIZABLE


def test_random_linearizable_histories_pass():
    """Simulated clients against a real (atomic) register: each operation takes
    effect at a random instant inside its interval; some are then reported
    unknown or, if they did not take effect, failed."""
    rng = random.Random(7)
    for trial in range(20):
        events, ops, value, n = [], [], None, 0
        for c in range(4):
            t = rng.random()
            for _ in range(12):
                start = t
                t += rng.random()
                point = rng.uniform(start, t)
                events.append((point, c, start, t))
                t += rng.random() * 0.2
        events.sort()
        for point, c, start, end in events:
            f = rng.choice(["get", "set", "setnx", "getset", "incr", "del"])
            n += 1
            arg = str(n * 100) if f in ("set", "setnx", "getset") else None
            fate = rng.random()
            if fate < 0.1 and f != "get":      # failed: did not take effect
                ops.append(op(f, arg, None, (start, end), FAIL, client=c))
                continue
            from checker import step
            _, value2 = step(value, f, arg, None, known=False)
            out = {"get": value, "set": "OK", "setnx": value is None, "getset": value,
                   "del": 0 if value is None else 1}.get(f)
            if f == "incr":
                out = value2 if value2 is value else int(value2)
                if value2 is value:
                    out = "ERR"
            value = value2
            outcome = UNKNOWN if fate < 0.2 else OK
            ops.append(op(f, arg, out, (start, end), outcome, client=c))
        r = check_key(ops)
        assert r.verdict == LINEARIZABLE, (trial, r.detail)


def test_budget_reports_unknown_instead_of_hanging():
    # Many concurrent unknown writes and a read no linearization explains.
    h = [op("set", str(i), t=(0, None), outcome=UNKNOWN, client=i) for i in range(18)]
    h.append(op("get", out="nope", t=(1, 2), client=99))
    r = check_key(h, budget=500)
    assert r.verdict == TOO_COMPLEX, r
