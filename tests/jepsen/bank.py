"""The bank workload: transactions (MULTI/EXEC) and multi-key reads under faults.

    python3 tests/jepsen/harness.py --workload bank --nodes 3 --seconds 20 --nemesis mixed

Banks.  A few banks (3 by default), each NACCOUNTS accounts in ONE slot by a hash tag
({b7}a0..{b7}a4) with a sequence counter {b7}seq and a chain head {b7}last, placed in
different partitions led, when the run starts, by different nodes.  The initial balances
(random, per seed) are written in one MSET a bank, acknowledged before clients start.
Banks are checked independently.

Transfer (one round trip, pipelined):

    MULTI
    INCRBY {b}a<src> -amt        -> the source's balance after the transfer
    INCRBY {b}a<dst> +amt        -> the destination's
    INCR {b}seq                  -> the transfer's position s in the bank's serial order
    RENAME {b}last {b}t:<id>     -> the marker t:<id>: present iff the transfer applied,
    SET {b}last <id>                holding the id of the transfer applied just before it
    EXEC

The markers chain every applied transfer to its predecessor (from {b}last back to
"genesis"), so the final state gives the exact serial order of all applied transfers, those
whose outcome the client never learned included: the seq of an applied-unknown transfer is
its position in the chain, not a guess.  (Only when the chain itself is broken, which is
reported, does the checker fall back to the seqs acknowledged transfers carry, and checks a
read against a state only where every transfer up to its seq is known; such reads are
counted "undetermined".)

Outcomes of a transaction: ok, EXEC answered the array; fail (certainly not run), EXEC
answered -EXECABORT (a queued command was refused: MOVED, TRYAGAIN, CLUSTERDOWN, CROSSSLOT)
or itself -MOVED, -TRYAGAIN or -CLUSTERDOWN, or no connection could be opened; unknown,
anything else (-TIMEOUT, a socket timeout, a connection lost after sending, odd replies).
A transaction refused with MOVED is recorded as failed and tried again, as a NEW transfer
(a new id), on the node MOVED names.

Reads: "mget" MGET of the accounts and seq on the slot's leader (a RocksDB snapshot on the
leader: linearizable); "multi-get" MULTI, the same GETs, EXEC (read through the log);
"readonly-mget" READONLY and MGET on a random replica (maybe stale, still one snapshot);
"final-mget" the final state after healing (accounts, seq, chain head and the marker of
every transfer ever attempted) on the leader.

Checks (check_bank; each has a unit test in test_bank.py that makes it fail):
  snapshot   every ok read (READONLY ones too) has balances summing to the bank's total and
             equal to the initial balances plus the deltas of exactly the transfers with
             seq <= the read's seq; an acknowledged transfer's INCRBY replies equal that
             state at its own seq.  One state before the initial one is allowed to READONLY
             reads only: every key missing (a replica that lost its data directory and is
             recovering, or still behind the MSET, serves the empty database it has);
  final      every ok transfer's marker is present and no failed one's; the markers form
             one chain from {b}last to genesis; seq == the number of markers; each
             acknowledged seq is distinct, within 1..seq and its position in the chain;
             final balances == initial + the deltas of the transfers whose marker is
             present (no partial, no double application);
  realtime   a leader read (mget, multi-get, final-mget) invoked after a transfer was
             acknowledged, or after another leader read completed, has seq >= theirs; a
             transfer (acknowledged, or applied-unknown placed by the chain) invoked after
             a transfer was acknowledged or a leader read completed has a greater seq.
             READONLY reads are exempt;
  replicas   every replica (READONLY GETs, harness.check_replicas) ends with the leader's
             accounts, seq, chain head and markers.
"""
import dataclasses
import itertools
import math
import socket
import time
from dataclasses import dataclass, field

import harness
from checker import FAIL, OK, UNKNOWN
from cluster_helpers import partition_of_slot, slot_of
from flinproc import Error, RawConn, encode_command

VALID, INVALID = "valid", "anomalies found"
GENESIS = "genesis"
NACCOUNTS = 5
LEADER_READS = ("mget", "multi-get", "final-mget")
REFUSED = ("MOVED", "TRYAGAIN", "CLUSTERDOWN")   # the request certainly did not run


@dataclass
class Bank:
    tag: str
    initial: list

    def key(self, name):
        return "{%s}%s" % (self.tag, name)

    @property
    def accounts(self):
        return [self.key(f"a{i}") for i in range(len(self.initial))]

    @property
    def seq_key(self):
        return self.key("seq")

    @property
    def last_key(self):
        return self.key("last")

    def marker(self, tid):
        return self.key(f"t:{tid}")

    @property
    def total(self):
        return sum(self.initial)

    def initial_items(self):
        return dict(zip(self.accounts, map(str, self.initial)),
                    **{self.seq_key: "0", self.last_key: GENESIS})


@dataclass
class BankOp:
    bank: str                   # the bank's tag
    f: str                      # "transfer", or a read: mget, multi-get, readonly-mget, final-mget
    tid: str = ""               # transfer id (its marker is {bank}t:<tid>)
    src: int = 0
    dst: int = 0
    amt: int = 0
    seq: object = None          # ok: the seq the reply carries
    balances: dict = field(default_factory=dict)   # ok: account index -> balance seen
    outcome: str = UNKNOWN
    invoke: float = 0.0
    complete: float = math.inf
    client: object = None
    port: object = None         # the node asked

    def describe(self, t0=0.0):
        end = "?" if self.complete == math.inf else f"{self.complete - t0:.3f}"
        when = f"[{self.invoke - t0:.3f}-{end}]"
        if self.f == "transfer":
            what = f"transfer t:{self.tid} {self.amt} a{self.src}->a{self.dst}"
        else:
            what = f"{self.f} on port {self.port}"
        seq = "" if self.seq is None else f" seq {self.seq}"
        bal = ""
        if self.balances:
            bal = " balances {" + ", ".join(f"a{i}: {v}" for i, v in sorted(self.balances.items())) + "}"
        return f"{what} by client {self.client} {when} {self.outcome}{seq}{bal}"


# ---------------------------------------------------------------------------
# The checker (pure: hand-made histories in test_bank.py).

def _int(v):
    if isinstance(v, bytes):
        v = v.decode()
    try:
        return int(v) if v is not None and str(int(v)) == v else None
    except (TypeError, ValueError):
        return None


def _delta(t, n):
    d = [0] * n
    d[t.src] -= t.amt
    d[t.dst] += t.amt
    return d


def _chain(final, bank, markers):
    """The serial order the markers spell (from the chain head back to genesis), and the
    anomalies of the chain."""
    out, order, seen = [], [], set()
    cur = final.get(bank.last_key)
    while cur != GENESIS:
        if cur is None or cur not in markers:
            out.append(f"chain broken: {bank.last_key} leads to transfer {cur!r}, which has "
                       f"no marker (after {len(order)} links)")
            return None, out
        if cur in seen:
            out.append(f"chain has a cycle at t:{cur} (a transfer applied twice?)")
            return None, out
        seen.add(cur)
        order.append(cur)
        cur = markers[cur]
    order.reverse()
    stray = sorted(set(markers) - seen)
    if stray:
        out.append(f"{len(stray)} markers outside the chain (applied twice, or a write lost): "
                   + ", ".join(f"t:{t}" for t in stray[:5]))
        return None, out
    return order, out


def _prefix_states(bank, seq_to_t):
    """states[s]: the balances after the transfers of seq 1..s, as far as every one of
    them is known."""
    n = len(bank.initial)
    states = [list(bank.initial)]
    for s in itertools.count(1):
        t = seq_to_t.get(s)
        if t is None:
            return states
        states.append([a + d for a, d in zip(states[-1], _delta(t, n))])


class _Anomalies:
    """Anomalies by check, in the order found: a list that a person can act on."""

    def __init__(self, tag):
        self.tag = tag
        self.by_check = {}

    def add(self, check, text):
        self.by_check.setdefault(check, []).append(f"bank {{{self.tag}}} {check}: {text}")

    def all(self):
        """The first anomaly of each check, then the others."""
        return [v[0] for v in self.by_check.values()] + \
            [a for v in self.by_check.values() for a in v[1:]]


def _realtime(ops, anomalies, t0):
    """Sweep by invocation: the highest seq among operations completed before each
    invocation bounds it (>= for a leader read, > for a transfer)."""
    done = sorted((o for o in ops if o.complete != math.inf), key=lambda o: o.complete)
    best, i = None, 0
    for o in sorted(ops, key=lambda o: o.invoke):
        while i < len(done) and done[i].complete < o.invoke:
            if best is None or done[i].seq > best.seq:
                best = done[i]
            i += 1
        if best is None:
            continue
        if o.f == "transfer" and o.seq <= best.seq:
            anomalies.add("realtime", f"{o.describe(t0)} was invoked after "
                                      f"{best.describe(t0)} completed, yet its seq is not greater")
        elif o.f != "transfer" and o.seq < best.seq:
            anomalies.add("realtime", f"stale read: {o.describe(t0)} was invoked after "
                                      f"{best.describe(t0)} completed")


def check_bank(bank, ops, final, replica_diffs=None, t0=0.0):
    """One bank's history (its BankOps), its final state ({key: str or None}: the
    accounts, seq, last and the marker of every transfer attempted, read on the leader
    after healing) and the replicas that did not converge ({node: [(key, leader's value,
    replica's value)]}).  Returns (anomalies: [str], stats: dict)."""
    n = len(bank.initial)
    an = _Anomalies(bank.tag)
    transfers = [o for o in ops if o.f == "transfer"]
    acked = [t for t in transfers if t.outcome == OK]
    reads = [o for o in ops if o.f != "transfer" and o.outcome == OK]
    by_id = {t.tid: t for t in transfers}

    # -- the final state
    fin_bal = [_int(final.get(k)) for k in bank.accounts]
    fin_seq = _int(final.get(bank.seq_key))
    markers = {tid: final.get(bank.marker(tid)) for tid in by_id}
    markers = {tid: (v.decode() if isinstance(v, bytes) else v)
               for tid, v in markers.items() if v is not None}
    for t in transfers:
        if t.outcome == OK and t.tid not in markers:
            an.add("final", f"acknowledged {t.describe(t0)} has no marker in the final state")
        if t.outcome == FAIL and t.tid in markers:
            an.add("final", f"failed {t.describe(t0)} has a marker: it applied")
    if fin_seq != len(markers):
        an.add("final", f"{bank.seq_key} is {final.get(bank.seq_key)!r} but {len(markers)} "
                        "transfers' markers are present")
    want = list(bank.initial)
    for tid in markers:
        want = [a + d for a, d in zip(want, _delta(by_id[tid], n))]
    if fin_bal != want:
        an.add("final", f"balances {fin_bal} != {want}, the initial {bank.initial} plus the "
                        f"{len(markers)} transfers whose marker is present")
    order, chain_anomalies = _chain(final, bank, markers)
    for a in chain_anomalies:
        an.add("final", a)
    seqs = {}
    for t in acked:
        if t.seq in seqs:
            an.add("final", f"{t.describe(t0)} and {seqs[t.seq].describe(t0)} have the same seq")
        seqs[t.seq] = t
        if fin_seq is not None and not 1 <= t.seq <= fin_seq:
            an.add("final", f"{t.describe(t0)} has a seq outside 1..{fin_seq}")
    if order is not None:
        pos = {tid: i + 1 for i, tid in enumerate(order)}
        for t in acked:
            if t.tid in pos and pos[t.tid] != t.seq:
                an.add("final", f"{t.describe(t0)} is number {pos[t.tid]} in the chain of markers")
        seq_to_t = {i + 1: by_id[tid] for i, tid in enumerate(order)}
    else:
        seq_to_t = {t.seq: t for t in acked}

    # -- snapshots
    states = _prefix_states(bank, seq_to_t)
    undetermined = before = 0
    for r in reads:
        bal = [r.balances.get(i) for i in range(n)]
        if r.f == "readonly-mget" and r.seq is None and bal == [None] * n:
            before += 1       # a replica still empty (wiped, recovering): before the MSET
            continue
        if None in bal or r.seq is None:
            an.add("snapshot", f"{r.describe(t0)} misses an account or the seq")
            continue
        if sum(bal) != bank.total:
            an.add("snapshot", f"torn read: {r.describe(t0)} sums to {sum(bal)}, not {bank.total}")
        elif r.seq >= len(states):
            undetermined += 1
        elif bal != states[r.seq]:
            an.add("snapshot", f"{r.describe(t0)} is not the state after transfers 1..{r.seq}: "
                               f"{states[r.seq]}")
        if fin_seq is not None and r.seq > fin_seq:
            an.add("snapshot", f"{r.describe(t0)} saw a seq beyond the final {fin_seq}")
    for t in acked:
        if t.seq < len(states):
            s = states[t.seq]
            if t.balances != {t.src: s[t.src], t.dst: s[t.dst]}:
                an.add("snapshot", f"{t.describe(t0)}: its INCRBY replies are not the state "
                                   f"after transfers 1..{t.seq}: a{t.src} {s[t.src]}, "
                                   f"a{t.dst} {s[t.dst]}")

    # -- realtime: acknowledged transfers, applied-unknown ones placed by the chain, leader reads
    placed = [dataclasses.replace(t, seq=s) for s, t in seq_to_t.items() if t.outcome == UNKNOWN]
    _realtime(acked + placed + [r for r in reads if r.f in LEADER_READS and r.seq is not None],
              an, t0)

    # -- replicas
    for node, diffs in sorted((replica_diffs or {}).items()):
        for key, leader, replica in diffs[:5]:
            an.add("replicas", f"node {node} has {key} = {replica!r}, the leader {leader!r}")

    outcomes = {o: sum(1 for t in transfers if t.outcome == o) for o in (OK, FAIL, UNKNOWN)}
    stats = {"transfers": outcomes, "applied_unknown": len(placed),
             "reads": {f: sum(1 for r in reads if r.f == f) for f in sorted({r.f for r in reads})},
             "undetermined_reads": undetermined, "readonly_empty": before,
             "final_seq": fin_seq, "anomalies": {k: len(v) for k, v in an.by_check.items()}}
    return an.all(), stats


def check(banks, ops, finals, replica_diffs=None, t0=0.0):
    """Every bank on its own.  replica_diffs: {node: [(key, leader's, replica's)]} of the
    replicas that did not converge.  Returns (verdict, text, anomalies, stats by bank)."""
    firsts, rest, stats = [], [], {}
    for bank in banks:
        mine = {node: [d for d in diffs if d[0].startswith("{%s}" % bank.tag)]
                for node, diffs in (replica_diffs or {}).items()}
        a, s = check_bank(bank, [o for o in ops if o.bank == bank.tag], finals, mine, t0)
        firsts += a[:len(s["anomalies"])]      # the first of each check of each bank first
        rest += a[len(s["anomalies"]):]
        stats[bank.tag] = s
    anomalies = firsts + rest
    verdict = INVALID if anomalies else VALID
    lines = [f"bank {{{tag}}}: transfers {s['transfers']} ({s['applied_unknown']} unknown "
             f"applied), ok reads {s['reads']}, final seq {s['final_seq']}"
             + (f", {s['undetermined_reads']} reads undetermined" if s["undetermined_reads"] else "")
             + (f", {s['readonly_empty']} READONLY reads of an empty replica"
                if s["readonly_empty"] else "")
             + (f"; ANOMALIES by check {s['anomalies']}" if s["anomalies"] else "")
             for tag, s in stats.items()]
    if anomalies:
        lines.append(f"{len(anomalies)} anomalies; the first ones:")
        lines += ["  " + a for a in anomalies[:12]]
    return verdict, "\n".join(lines), anomalies, stats


# ---------------------------------------------------------------------------
# Clients.

class BankClient(harness.Client):
    """A harness.Client (one connection per node, the slot map, refresh and run loop)
    whose operations are transfers and reads of banks."""

    WEIGHTS = {"transfer": 50, "mget": 20, "multi-get": 15, "readonly-mget": 15}
    # A client that sends a transfer (or a read through the log) to a leader that cannot
    # commit (frozen, cut off) waits for it and reads nothing meanwhile: readers send
    # neither, and keep reading from such a leader while another one commits.
    READER_WEIGHTS = {"mget": 85, "readonly-mget": 15}
    READER_GAP = 0.002   # seconds between a reader's reads: a local MGET takes ~0.1 ms, and
                         # unpaced readers took most of the CPU and filled the history

    def __init__(self, cid, ports, banks, hosts, history, rng, io_timeout=8.0,
                 weights=WEIGHTS):
        super().__init__(cid, ports, [], history, rng, io_timeout)
        self.weights = weights
        self.banks = banks
        self.hosts = hosts            # bank tag -> ports of the nodes holding a replica
        self.ro_conns = {}            # port -> a READONLY connection

    def close(self):
        super().close()
        for c in self.ro_conns.values():
            c.close()
        self.ro_conns = {}

    def random_op(self):
        bank = self.rng.choice(self.banks)
        f = self.rng.choices(list(self.weights), weights=list(self.weights.values()))[0]
        arg = None
        if f == "transfer":
            src, dst = self.rng.sample(range(len(bank.initial)), 2)
            arg = (src, dst, self.rng.randint(1, 20))
        return bank, f, arg

    def execute(self, bank, f, arg):
        """One operation; a transfer or read refused with MOVED is recorded as failed and
        made again (a new transfer) on the node named, up to 5 times.  Returns the last Op."""
        for _ in range(6):
            op = BankOp(bank=bank.tag, f=f, client=self.cid, invoke=time.monotonic())
            if f == "transfer":
                op.src, op.dst, op.amt = arg
                op.tid = self.unique_value()
            kind, moved = self._attempt_bank(bank, op)
            if op.outcome != UNKNOWN:
                op.complete = time.monotonic()
            if op.outcome != OK:
                self.history.note(f"{f}:{op.outcome}:{kind}")
            self.history.add(op)
            if self.weights is self.READER_WEIGHTS:
                time.sleep(self.READER_GAP)
            if not moved:
                return op
        return op

    def _conn(self, port, readonly):
        conns = self.ro_conns if readonly else self.conns
        conn = conns.get(port)
        if conn is None:
            conn = RawConn(port, timeout=self.io_timeout)
            if readonly and conn.call("READONLY") != "OK":
                conn.close()
                raise ConnectionError("READONLY refused")
            conns[port] = conn
        return conn

    def _commands(self, bank, op):
        keys = bank.accounts + [bank.seq_key]
        if op.f == "transfer":
            return [("MULTI",), ("INCRBY", bank.accounts[op.src], -op.amt),
                    ("INCRBY", bank.accounts[op.dst], op.amt), ("INCR", bank.seq_key),
                    ("RENAME", bank.last_key, bank.marker(op.tid)),
                    ("SET", bank.last_key, op.tid), ("EXEC",)]
        if op.f == "multi-get":
            return [("MULTI",)] + [("GET", k) for k in keys] + [("EXEC",)]
        return [("MGET",) + tuple(keys)]

    def _attempt_bank(self, bank, op):
        """Send op's commands in one round trip and classify the replies: sets op.outcome
        (and seq, balances when ok); returns (kind of failure, whether MOVED)."""
        if self.map is None and not self.refresh():
            op.outcome = FAIL
            return "no-slot-map", False
        readonly = op.f == "readonly-mget"
        port = self.rng.choice(self.hosts[bank.tag]) if readonly else self.map[slot_of(bank.tag)]
        op.port = port
        cmds = self._commands(bank, op)
        conns = self.ro_conns if readonly else self.conns
        try:
            conn = self._conn(port, readonly)
        except (OSError, EOFError):
            self.refresh()
            op.outcome = FAIL
            return "connect", False           # nothing was sent
        try:
            conn.send(b"".join(encode_command(*c) for c in cmds))
            replies = [conn.read_reply() for _ in cmds]
        except (OSError, EOFError, AssertionError) as e:
            conns.pop(port, None)
            conn.close()
            self.refresh()
            op.outcome = UNKNOWN
            return "timeout" if isinstance(e, socket.timeout) else "conn-lost", False
        kind, moved = self._classify(bank, op, replies)
        if op.outcome == UNKNOWN:             # the connection may be left inside MULTI
            conns.pop(port, None)
            conn.close()
        if moved:
            _, slot, addr = moved.split()
            self.map[int(slot)] = int(addr.rsplit(":", 1)[1])
        elif kind in REFUSED:
            self.refresh()
        return kind, moved

    def _classify(self, bank, op, replies):
        last = replies[-1]
        errors = [r for r in replies if isinstance(r, Error)]
        moved = next((e for e in errors if e.startswith("MOVED ")), None)
        if len(replies) > 1 and replies[0] != "OK":   # MULTI refused: the rest ran alone?
            op.outcome = UNKNOWN
            return f"multi:{replies[0]!r}"[:40], None
        if isinstance(last, Error):
            head = last.split(" ", 1)[0]
            if head == "EXECABORT" or head in REFUSED:
                op.outcome = FAIL
                why = errors[0].split(" ", 1)[0] if head == "EXECABORT" else head
                return why, moved if why == "MOVED" else None
            op.outcome = UNKNOWN
            return head, None
        values = self._parse(bank, op, last)
        if values is None:
            op.outcome = UNKNOWN
            return f"odd-reply:{last!r}"[:60], None
        op.outcome = OK
        return None, None

    @staticmethod
    def _parse(bank, op, reply):
        """Fill op.seq and op.balances from an ok reply; None if it is not one."""
        if op.f == "transfer":
            if not (isinstance(reply, list) and len(reply) == 5 and reply[3] == "OK"
                    and reply[4] == "OK" and all(isinstance(v, int) for v in reply[:3])):
                return None
            op.balances = {op.src: reply[0], op.dst: reply[1]}
            op.seq = reply[2]
            return reply
        n = len(bank.initial)
        if not (isinstance(reply, list) and len(reply) == n + 1
                and all(v is None or isinstance(v, bytes) for v in reply)):
            return None
        op.balances = {i: _int(v) for i, v in enumerate(reply[:n])}
        op.seq = _int(reply[n])
        return reply

    def final_state(self, bank, tids, deadline, chunk=10000):
        """The bank's final state on its leader: {key: str or None} of the accounts, seq,
        chain head and the marker of every id in tids (MGETs of up to `chunk` keys; clients
        are stopped, so nothing changes between them).  The first MGET joins the history as a
        final-mget read."""
        op = None
        while op is None or op.outcome != OK:
            if time.monotonic() > deadline:
                raise AssertionError(f"final read of bank {bank.tag} got no answer")
            if op is not None:
                time.sleep(0.1)
            op = self.execute(bank, "final-mget", None)
        out = {k: (None if v is None else str(v)) for k, v in
               zip(bank.accounts, (op.balances.get(i) for i in range(len(bank.initial))))}
        out[bank.seq_key] = None if op.seq is None else str(op.seq)
        keys = [bank.last_key] + [bank.marker(t) for t in tids]
        for i in range(0, len(keys), chunk):
            out.update(self._mget_until(bank, keys[i:i + chunk], deadline))
        return out

    def _mget_until(self, bank, keys, deadline):
        while time.monotonic() < deadline:
            port = self.map[slot_of(bank.tag)] if self.map else None
            try:
                reply = self._conn(port, False).call("MGET", *keys) if port else None
            except (OSError, EOFError):
                self._drop(port)
                reply = None
            if isinstance(reply, list) and len(reply) == len(keys):
                return {k: None if v is None else v.decode() for k, v in zip(keys, reply)}
            self.refresh()
            time.sleep(0.1)
        raise AssertionError(f"final MGET of bank {bank.tag}'s markers got no answer")


# ---------------------------------------------------------------------------
# The workload (harness.run(workload="bank")).

def place_banks(leaders, count, rng, accounts=NACCOUNTS):
    """count banks: tags b<i> in different partitions led by different nodes where
    possible (leaders: {partition: node}); random initial balances."""
    tags, parts, nodes = [], set(), set()
    for distinct_nodes in (True, False):
        for i in range(5000):
            if len(tags) == count:
                break
            tag = f"b{i}"
            p = partition_of_slot(slot_of(tag))
            if p in parts or (distinct_nodes and leaders.get(p) in nodes):
                continue
            tags.append(tag)
            parts.add(p)
            nodes.add(leaders.get(p))
    return [Bank(tag, [rng.randint(50, 150) for _ in range(accounts)]) for tag in tags]


def mset_until_acked(router, bank, deadline):
    """The bank's initial state in one MSET (one log entry: a replica is either before it,
    all keys missing, or past it), retried (the same values) until +OK."""
    items = [x for kv in bank.initial_items().items() for x in kv]
    reply = None
    while time.monotonic() < deadline:
        try:
            reply = router.call("MSET", *items, key=bank.tag)
        except (OSError, EOFError) as e:
            reply = e
        if reply == "OK":
            return
        router.refresh()
        time.sleep(0.1)
    raise AssertionError(f"bank {bank.tag}'s MSET was not acknowledged: {reply!r}")


class BankWorkload:
    """harness.run's workload interface: setup, client, final, check."""

    name = "bank"
    VALID = VALID

    def __init__(self, banks=3):
        self.nbanks = banks
        self.banks = []
        self.hosts = {}

    def describe(self):
        return f"{self.nbanks} banks of {NACCOUNTS} accounts"

    def setup(self, cluster, rng, replicas, log):
        ids = sorted(cluster.nodes)
        self.banks = place_banks(cluster.leaders(), self.nbanks, rng)
        for b in self.banks:
            p = partition_of_slot(slot_of(b.tag))
            self.hosts[b.tag] = [cluster.nodes[i].port for i in ids
                                 if (ids.index(i) - p) % len(ids) < replicas]
        router = harness.cluster_helpers.RoutingClient(cluster.ports())
        try:
            for b in self.banks:
                mset_until_acked(router, b, time.monotonic() + 60)
        finally:
            router.close()
        leaders = cluster.leaders()
        log("banks " + ", ".join(
            f"{{{b.tag}}} (partition {partition_of_slot(slot_of(b.tag))}, led by node "
            f"{leaders.get(partition_of_slot(slot_of(b.tag)))}) {b.initial}" for b in self.banks))

    def client(self, cid, ports, history, rng):
        """Every third client (cid 2, 5, ...) only reads (MGET)."""
        readers = isinstance(cid, int) and cid % 3 == 2
        return BankClient(cid, ports, self.banks, self.hosts, history, rng,
                          weights=BankClient.READER_WEIGHTS if readers else BankClient.WEIGHTS)

    def final(self, ports, history, rng, log):
        reader = self.client("final", ports, history, rng)
        finals = {}
        try:
            deadline = time.monotonic() + 60
            for b in self.banks:
                tids = [o.tid for o in history.ops if o.bank == b.tag and o.f == "transfer"]
                finals.update(reader.final_state(b, tids, deadline))
        finally:
            reader.close()
        log("final state " + "; ".join(
            f"{{{b.tag}}} seq {finals[b.seq_key]} balances "
            f"{[finals[k] for k in b.accounts]}" for b in self.banks))
        return finals

    def check(self, ops, finals, diffs, t0):
        """check() of every bank; diffs: harness.check_replicas's diverging replicas."""
        verdict, text, anomalies, stats = check(self.banks, ops, finals, diffs, t0)
        transfers, reads = {}, {}
        for o in ops:
            d = transfers if o.f == "transfer" else reads.setdefault(o.f, {})
            d[o.outcome] = d.get(o.outcome, 0) + 1
        return {"verdict": verdict, "valid": verdict == VALID, "checker": text,
                "anomalies": anomalies[:50], "transfers": transfers, "reads": reads,
                "banks": stats}

