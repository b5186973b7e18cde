"""A linearizability checker for Flin's histories, written here.

The model is one Redis string key used as a register that INCR can count on
(GET, SET, SET NX, GETSET, INCR, DEL).  Keys are independent (P-compositionality:
a history is linearizable iff each key's sub-history is), so the search runs per key.

The search is Wing & Gong's, with Lowe's improvement as in Porcupine and Knossos's
"wgl": call/return events in one list ordered by time; repeatedly linearize the
first pending call whose operation the model accepts, remembering
(set of linearized operations, model state) pairs already explored, and
backtrack when a return is reached whose operation has not been linearized.

Outcomes:
  ok      - the reply is known; the operation took effect once, between its
            invocation and its completion, and produced that reply;
  fail    - it certainly did not happen (MOVED, CLUSTERDOWN, TRYAGAIN): dropped;
  unknown - it may or may not have happened (TIMEOUT, lost connection): its
            completion is +infinity and its reply is unconstrained.  An unknown
            read has no effect and is dropped.

The search has a budget (steps per key); past it the verdict is "unknown"
(too complex) rather than a hang.
"""
import math
from dataclasses import dataclass, field

OK, FAIL, UNKNOWN = "ok", "fail", "unknown"
LINEARIZABLE, NOT_LINEARIZABLE, TOO_COMPLEX = "linearizable", "not linearizable", "unknown"

# Operation kinds and what the reply ("output") of each is:
#   get     -> the value (str) or None
#   set     -> "OK"
#   setnx   -> True (set) or False (key existed)       [SET key value NX]
#   getset  -> the old value (str) or None
#   incr    -> the new value (int), or "ERR" (the value is not an integer)
#   del     -> 1 or 0
#   cas     -> True (the value was arg[0]: now arg[1]) or False (it was not: unchanged)
#              [EVAL of a compare-and-set script: harness.CAS_SCRIPT]
READS = {"get"}


def _as_int(v):
    if v is None:
        return 0
    try:
        if v != str(int(v)):   # Redis accepts only canonical integers
            return None
        return int(v)
    except (TypeError, ValueError):
        return None


def step(state, f, arg, out, known=True):
    """The model: (accepted, new state).  state is the value (str) or None."""
    if f == "get":
        return (not known or out == state), state
    if f == "set":
        return (not known or out == "OK"), arg
    if f == "setnx":
        if state is None:
            return (not known or out is True), arg
        return (not known or out is False), state
    if f == "getset":
        return (not known or out == state), arg
    if f == "del":
        return (not known or out == (0 if state is None else 1)), None
    if f == "cas":
        expected, new = arg
        if state == expected:
            return (not known or out is True), new
        return (not known or out is False), state
    if f == "incr":
        n = _as_int(state)
        if n is None:
            return (not known or out == "ERR"), state
        return (not known or out == n + 1), str(n + 1)
    raise ValueError(f"unknown operation {f!r}")


@dataclass
class Op:
    key: str
    f: str
    arg: object = None          # value written (set, setnx, getset); (expected, new) for cas
    out: object = None          # reply (ok outcome only)
    invoke: float = 0.0
    complete: float = math.inf  # +inf for unknown outcomes
    outcome: str = OK
    client: object = None
    id: int = field(default=-1)

    def __str__(self):
        end = "inf" if self.complete == math.inf else f"{self.complete:.4f}"
        arg = "" if self.arg is None else f" {self.arg!r}"
        out = "?" if self.outcome == UNKNOWN else repr(self.out)
        return (f"[{self.invoke:.4f} .. {end}] c{self.client} {self.f.upper()} {self.key}{arg}"
                f" -> {out} ({self.outcome})")


@dataclass
class Result:
    verdict: str
    key: object = None
    ops: int = 0
    steps: int = 0
    detail: str = ""

    @property
    def ok(self):
        return self.verdict == LINEARIZABLE


class _Entry:
    __slots__ = ("op", "is_call", "match", "prev", "next", "time")

    def __init__(self, op, is_call, time):
        self.op, self.is_call, self.time = op, is_call, time
        self.match = self.prev = self.next = None


def _prepare(ops):
    """Drop failed operations and unknown reads; number the rest."""
    kept = []
    for op in ops:
        if op.outcome == FAIL:
            continue
        if op.outcome == UNKNOWN:
            if op.f in READS:
                continue
            op.complete = math.inf
        elif op.complete < op.invoke:
            raise ValueError(f"operation completes before it is invoked: {op}")
        kept.append(op)
    for i, op in enumerate(kept):
        op.id = i
    return kept


def check_key(ops, initial=None, budget=2_000_000, key=None):
    """Check one key's operations.  Returns a Result."""
    ops = _prepare(list(ops))
    if not ops:
        return Result(LINEARIZABLE, key, 0, 0)
    events = []
    for op in ops:
        call, ret = _Entry(op, True, op.invoke), _Entry(op, False, op.complete)
        call.match, ret.match = ret, call
        events.append(call)
        events.append(ret)
    # Time order; at equal times calls come first (the operations overlap: lenient).
    events.sort(key=lambda e: (e.time, 0 if e.is_call else 1, e.op.id))
    head = _Entry(None, False, -math.inf)
    prev = head
    for e in events:
        prev.next, e.prev = e, prev
        prev = e

    def lift(e):
        e.prev.next = e.next
        if e.next:
            e.next.prev = e.prev
        m = e.match
        m.prev.next = m.next
        if m.next:
            m.next.prev = m.prev

    def unlift(e):
        m = e.match
        m.prev.next = m
        if m.next:
            m.next.prev = m
        e.prev.next = e
        if e.next:
            e.next.prev = e

    state = initial
    linearized = 0
    cache = set()
    calls = []           # stack of (entry, state before it)
    entry = head.next
    steps = 0
    deepest, stuck_at, deepest_state = -1, None, None
    while head.next is not None:
        steps += 1
        if steps > budget:
            return Result(TOO_COMPLEX, key, len(ops), steps,
                          f"search budget of {budget} steps exhausted")
        if entry.is_call:
            op = entry.op
            accepted, new_state = step(state, op.f, op.arg, op.out, op.outcome == OK)
            if accepted:
                new_lin = linearized | (1 << op.id)
                if (new_lin, new_state) not in cache:
                    cache.add((new_lin, new_state))
                    calls.append((entry, state))
                    state, linearized = new_state, new_lin
                    lift(entry)
                    entry = head.next
                    continue
            entry = entry.next
        else:
            if entry.time == math.inf:
                # Every operation with a known completion is linearized; the
                # pending unknown ones may all be placed at the end.
                return Result(LINEARIZABLE, key, len(ops), steps)
            if len(calls) > deepest:
                deepest, stuck_at, deepest_state = len(calls), entry.op, state
            if not calls:
                return Result(NOT_LINEARIZABLE, key, len(ops), steps,
                              _explain(ops, stuck_at, deepest, deepest_state))
            entry, state = calls.pop()
            linearized &= ~(1 << entry.op.id)
            unlift(entry)
            entry = entry.next
    return Result(LINEARIZABLE, key, len(ops), steps)


def _explain(ops, stuck, deepest, state):
    lines = [f"at best {deepest} of {len(ops)} operations linearize; then the model "
             f"(value {state!r}) cannot explain: {stuck}",
             "operations overlapping it:"]
    near = [o for o in ops if o.invoke <= stuck.complete and o.complete >= stuck.invoke
            and o is not stuck]
    near.sort(key=lambda o: o.invoke)
    for o in near[-12:]:
        lines.append(f"  {o}")
    before = [o for o in ops if o.complete < stuck.invoke and o.f not in READS]
    before.sort(key=lambda o: o.complete)
    if before:
        lines.append("last writes completed before it:")
        for o in before[-4:]:
            lines.append(f"  {o}")
    return "\n".join(lines)


def check(ops, budget=2_000_000):
    """Check a history of many keys: {key: Result}."""
    by_key = {}
    for op in ops:
        by_key.setdefault(op.key, []).append(op)
    return {k: check_key(v, budget=budget, key=k) for k, v in sorted(by_key.items())}


def summarize(results):
    """(overall verdict, text).  Any failing key makes the history not linearizable;
    otherwise any key over budget makes the verdict unknown."""
    verdicts = [r.verdict for r in results.values()]
    if NOT_LINEARIZABLE in verdicts:
        overall = NOT_LINEARIZABLE
    elif TOO_COMPLEX in verdicts:
        overall = TOO_COMPLEX
    else:
        overall = LINEARIZABLE
    lines = [f"{k}: {r.verdict} ({r.ops} ops, {r.steps} steps)" for k, r in results.items()]
    for k, r in results.items():
        if r.detail:
            lines.append(f"--- {k}: {r.detail}")
    return overall, "\n".join(lines)
