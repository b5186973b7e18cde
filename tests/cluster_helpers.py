"""Helpers of the cluster black-box tests (test_cluster.py): a local cluster of
flin-server processes (each a flinproc.Server, so start/stop by PID, scratch
dirs and log tails are the suite's own), INFO cluster parsing, and a small
MOVED-following client that records which writes were acknowledged.

Every wait has a deadline and every socket a timeout: a hung cluster fails a
test, it never hangs the suite.
"""
import os
import random
import re
import socket
import threading
import time

from redis.crc import key_slot

import flinproc
from flinproc import RawConn, Error, Server, wait_until

SLOTS = 16384
PARTITIONS = 64


def slot_of(key):
    return key_slot(key.encode() if isinstance(key, str) else key)


def partition_of_slot(slot, partitions=PARTITIONS):
    return slot * partitions // SLOTS


def _bindable(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_cluster_ports(n):
    """n client ports whose bus ports (client + 10000) are free too.  Drawn
    below the kernel's ephemeral range (32768-) so that neither collides with
    an outgoing connection's port."""
    rng = random.Random()
    picked = []
    while len(picked) < n:
        p = rng.randrange(20000, 22700)
        if p in picked or p + 10000 in picked:
            continue
        if _bindable(p) and _bindable(p + 10000):
            picked.append(p)
    return picked


def parse_info_cluster(text):
    """INFO cluster (a report the server refreshes every 500 ms) -> {"partitions": {p: {field: value}}, "peers": {id: {...}}, ...}."""
    out = {"partitions": {}, "peers": {}, "fields": {}}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        name, _, value = line.partition(":")
        m = re.fullmatch(r"partition_(\d+)", name)
        m2 = re.fullmatch(r"peer_(\d+)", name)
        if m or m2:
            d = {}
            for kv in value.split(","):
                k, _, v = kv.partition("=")
                d[k] = int(v) if re.fullmatch(r"-?\d+", v) else v
            if m:
                out["partitions"][int(m.group(1))] = d
            else:
                out["peers"][int(m2.group(1))] = d
        else:
            out["fields"][name] = value
    return out


class Node(Server):
    """One cluster node: a flinproc.Server with the cluster flags."""

    def __init__(self, workdir, node_id, port, initial_cluster, extra=(), **kw):
        self.node_id = node_id
        self.initial_cluster = initial_cluster
        self.extra = list(extra)
        super().__init__(workdir, port=port, name=f"node{node_id}", **kw)
        self._set_args()

    def _set_args(self):
        self.flin_args = ["--node-id", str(self.node_id),
                          "--initial-cluster", self.initial_cluster] + self.extra

    def set_initial_cluster(self, initial_cluster):
        self.initial_cluster = initial_cluster
        self._set_args()

    def info_cluster(self):
        return parse_info_cluster(self.info_text("cluster"))

    def log_count(self, needle):
        return self.log_text().count(needle)


class Cluster:
    """n nodes on loopback; node ids 1..n; bus port = client port + 10000."""

    def __init__(self, workdir, n=3, tick_ms=None, snapshot_entries=None, fsync="always",
                 threads=1, extra=(), env=None):
        self.workdir = str(workdir)
        self.n = n
        args = list(extra)
        if tick_ms is not None:
            args += ["--raft-tick-ms", str(tick_ms)]
        if snapshot_entries is not None:
            args += ["--snapshot-entries", str(snapshot_entries)]
        self.args = args
        self.fsync = fsync
        self.threads = threads
        self.env = dict(env or {})  # extra environment of every node (e.g. LD_PRELOAD)
        self.nodes = {}

    # ---- life cycle ----
    def start(self, attempts=3):
        """Start all nodes and wait until every partition has a leader.  Ports
        are re-picked if another process turns out to hold one of them."""
        last = None
        for _ in range(attempts):
            ports = free_cluster_ports(self.n)
            self.initial_cluster = ",".join(f"{i + 1}@127.0.0.1:{p}" for i, p in enumerate(ports))
            self._prepare(ports)
            self.nodes = {}
            for i, p in enumerate(ports):
                node = Node(f"{self.workdir}", i + 1, p, self._initial_cluster_of(i + 1, ports),
                            extra=self.args, fsync=self.fsync, threads=self.threads,
                            datadir=f"{self.workdir}/data{i + 1}-{p}")
                node.env = dict(self.env)
                self.nodes[i + 1] = node
            try:
                for node in self.nodes.values():
                    node.start(wait=False)
                for node in self.nodes.values():
                    node.wait_ready()
                self.wait_all_leaders(timeout=60)
                return self
            except flinproc.PortTaken as e:
                last = e
                self.stop()
                self._abandon()
        raise last

    # Hooks for subclasses that route the bus differently (tests/jepsen's ProxiedCluster).
    def _prepare(self, ports):
        """Called with the chosen client ports before the nodes are made."""

    def _initial_cluster_of(self, node_id, ports):
        """The --initial-cluster list node `node_id` is started with."""
        return self.initial_cluster

    def _abandon(self):
        """Called when an attempt is given up (a port was taken)."""

    def stop(self):
        for node in self.nodes.values():
            node.stop()

    def alive(self):
        return [n for n in self.nodes.values() if n.alive()]

    def log_tails(self, n=40):
        return "\n".join(node.log_tail(n) for node in self.nodes.values())

    def ports(self):
        return [n.port for n in self.nodes.values()]

    def node_by_port(self, port):
        for n in self.nodes.values():
            if n.port == int(port):
                return n
        return None

    # ---- views ----
    def infos(self, nodes=None):
        """{node_id: parsed INFO cluster} of the given (default: live) nodes;
        a node that does not answer is left out."""
        out = {}
        for node in nodes or self.alive():
            try:
                out[node.node_id] = node.info_cluster()
            except (OSError, EOFError, AssertionError):
                pass
        return out

    def leaders(self, nodes=None):
        """{partition: node_id} of partitions with a live node claiming to
        lead them (the highest term wins if two claim it)."""
        best = {}
        for nid, info in self.infos(nodes).items():
            for p, d in info["partitions"].items():
                if d.get("role") == "leader":
                    if p not in best or d["term"] > best[p][1]:
                        best[p] = (nid, d["term"])
        return {p: v[0] for p, v in best.items()}

    def all_led(self, nodes=None, partitions=PARTITIONS):
        """Every partition has a leader among the live nodes, and CLUSTER SLOTS
        on every live node names a live node first for every slot."""
        nodes = nodes or self.alive()
        led = self.leaders(nodes)
        if len(led) != partitions:
            return False
        live_ports = {n.port for n in nodes}
        for node in nodes:
            try:
                slots = cluster_slots(node.port)
            except (OSError, EOFError):
                return False
            covered = 0
            for start, end, master, _ in slots:
                if master[1] not in live_ports:
                    return False
                covered += end - start + 1
            if covered != SLOTS:
                return False
        return led

    def wait_all_leaders(self, timeout=60, nodes=None):
        return wait_until(lambda: self.all_led(nodes), timeout, interval=0.05,
                          what="every partition to have a live leader\n" + self.log_tails(15))

    def caught_up(self, node):
        """node's applied index equals its partition leader's commit index for
        every partition it hosts (leaders read from the other live nodes).
        Returns the number of partitions checked, or False."""
        try:
            mine = node.info_cluster()["partitions"]
        except (OSError, EOFError, AssertionError):
            return False
        infos = self.infos()
        checked = 0
        for p, d in mine.items():
            leader = d.get("leader")
            if not leader or leader not in infos:
                return False
            ld = infos[leader]["partitions"].get(p)
            if ld is None or ld.get("role") != "leader":
                return False
            if d.get("applied") != ld.get("commit"):
                return False
            checked += 1
        return checked

    def wait_caught_up(self, node, timeout=120):
        """Wait until caught_up(node) holds on two looks more than 0.6 s apart:
        INFO cluster is a report the server refreshes every 500 ms."""
        def stable():
            first = self.caught_up(node)
            if not first:
                return False
            time.sleep(0.6)
            return self.caught_up(node)
        return wait_until(stable, timeout, interval=0.1,
                          what=f"node {node.node_id} to catch up\n" + self.log_tails(20))


def start_or_fail(cl):
    """Make cl's work dir and start it; a cluster that does not start fails the test (not
    an error in the test's own code), with its nodes stopped."""
    import pytest
    os.makedirs(cl.workdir, exist_ok=True)
    try:
        cl.start()
    except (flinproc.ServerError, AssertionError) as e:
        cl.stop()
        pytest.fail(f"cluster did not start: {e}", pytrace=False)
    return cl


def start_balanced_or_fail(workdir, n=3):
    """A cluster of n nodes (3: 64 partitions led 22, 21, 21), returned once the leaders sit on
    their preferred nodes, after which they move only on faults; one that does not get there
    fails the test, with its nodes stopped."""
    import pytest
    cl = Cluster(workdir, n=n)
    os.makedirs(cl.workdir, exist_ok=True)
    want = sorted([PARTITIONS // n + (1 if i < PARTITIONS % n else 0) for i in range(n)])
    try:
        cl.start()

        def balanced():
            led = {}
            for _, _, master, _ in cluster_slots(cl.ports()[0]):
                led[master[1]] = led.get(master[1], 0) + 1
            return sorted(led.values()) == want
        wait_until(balanced, 60, interval=0.1, what="leaders balanced over the nodes")
    except (flinproc.ServerError, AssertionError, OSError) as e:
        cl.stop()
        pytest.fail(f"cluster did not start: {e}\n{cl.log_tails(20)}", pytrace=False)
    return cl


def cluster_slots(port, timeout=5):
    """CLUSTER SLOTS as [(start, end, (host, port, id), [replicas...])]."""
    with RawConn(port, timeout=timeout) as c:
        reply = c.call("CLUSTER", "SLOTS")
    assert isinstance(reply, list), f"CLUSTER SLOTS replied {reply!r}"
    out = []
    for r in reply:
        nodes = [(n[0].decode(), int(n[1]), n[2].decode() if len(n) > 2 else None) for n in r[2:]]
        out.append((int(r[0]), int(r[1]), nodes[0], nodes[1:]))
    return out


def slot_owner_map(port):
    """A list of 16384 client ports: the leader of each slot per CLUSTER SLOTS."""
    m = [None] * SLOTS
    for start, end, master, _ in cluster_slots(port):
        for s in range(start, end + 1):
            m[s] = master[1]
    return m


# ---------------------------------------------------------------------------
# A MOVED-following client that records outcomes.

class Outcome:
    ACK = "ack"            # +OK: the write is acknowledged
    UNKNOWN = "unknown"    # error, timeout or connection lost: may or may not have applied


class RoutingClient:
    """Routes each key by slot (map from CLUSTER SLOTS), follows -MOVED, and on
    connection errors / CLUSTERDOWN / TRYAGAIN refreshes the map from another
    seed.  One RawConn per node port; every socket has a timeout."""

    def __init__(self, seeds, io_timeout=10.0):
        self.seeds = list(seeds)
        self.io_timeout = io_timeout
        self.conns = {}
        self.map = None
        self.errors = {}      # error kind -> count (for the report)
        self.moved = 0

    def close(self):
        for c in self.conns.values():
            c.close()
        self.conns = {}

    def _note(self, kind):
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def refresh(self):
        seeds = self.seeds[:]
        random.shuffle(seeds)
        for p in seeds:
            try:
                self.map = slot_owner_map(p)
                return True
            except (OSError, EOFError, AssertionError, IndexError):
                continue
        return False

    def _conn(self, port):
        c = self.conns.get(port)
        if c is None:
            c = RawConn(port, timeout=self.io_timeout)
            self.conns[port] = c
        return c

    def _drop(self, port):
        c = self.conns.pop(port, None)
        if c:
            c.close()

    def call(self, *args, key=None, port=None):
        """One attempt: send to the slot owner (or port), follow up to 5 MOVEDs.
        Returns the reply (an Error for error replies); raises OSError/EOFError."""
        if port is None:
            if self.map is None and not self.refresh():
                raise ConnectionError("no seed answers CLUSTER SLOTS")
            port = self.map[slot_of(key)]
        for _ in range(5):
            try:
                reply = self._conn(port).call(*args)
            except (OSError, EOFError):
                self._drop(port)
                raise
            if isinstance(reply, Error) and reply.startswith("MOVED "):
                self.moved += 1
                _, slot, addr = reply.split()
                port = int(addr.rsplit(":", 1)[1])
                if self.map is not None:
                    self.map[int(slot)] = port
                continue
            return reply
        return reply

    def set_until_acked(self, key, value, deadline):
        """SET key value, retrying (SET of the same value is idempotent) until
        +OK or the deadline.  Returns Outcome.ACK or Outcome.UNKNOWN."""
        while time.monotonic() < deadline:
            try:
                reply = self.call("SET", key, value, key=key)
            except (OSError, EOFError):
                self._note("connection")
                self.refresh()
                time.sleep(0.05)
                continue
            if reply == "OK":
                return Outcome.ACK
            kind = str(reply).split(" ", 1)[0] if isinstance(reply, Error) else repr(reply)
            self._note(kind)
            self.refresh()
            time.sleep(0.05)
        return Outcome.UNKNOWN

    def get(self, key, deadline):
        """GET following MOVED, retrying transient errors until the deadline."""
        last = None
        while time.monotonic() < deadline:
            try:
                reply = self.call("GET", key, key=key)
            except (OSError, EOFError) as e:
                last = e
                self.refresh()
                time.sleep(0.05)
                continue
            if isinstance(reply, Error):
                last = reply
                self.refresh()
                time.sleep(0.05)
                continue
            return reply
        raise AssertionError(f"GET {key!r} got no answer before the deadline (last: {last!r})")


class Writers:
    """Threads writing unique keys through RoutingClients, recording which
    writes were acknowledged.  Keys: f"{prefix}:{thread}:{i}", value derived."""

    def __init__(self, seeds, threads=4, prefix="w", op_deadline=15.0):
        self.seeds = seeds
        self.nthreads = threads
        self.prefix = prefix
        self.op_deadline = op_deadline
        self.acked = {}          # key -> value
        self.unknown = {}
        self.ack_times = []      # monotonic time of each ack
        self.errors = {}
        self.moved = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = []
        self.failures = []

    @staticmethod
    def value_of(key):
        return f"v-{key}-{len(key) * 7919 % 1000}"

    def _run(self, t):
        client = RoutingClient(self.seeds)
        i = 0
        try:
            while not self._stop.is_set():
                key = f"{self.prefix}:{t}:{i}"
                i += 1
                value = self.value_of(key)
                outcome = client.set_until_acked(key, value,
                                                 time.monotonic() + self.op_deadline)
                with self._lock:
                    if outcome == Outcome.ACK:
                        self.acked[key] = value
                        self.ack_times.append(time.monotonic())
                    else:
                        self.unknown[key] = value
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.failures.append(repr(e))
        finally:
            with self._lock:
                for k, v in client.errors.items():
                    self.errors[k] = self.errors.get(k, 0) + v
                self.moved += client.moved
            client.close()

    def start(self):
        for t in range(self.nthreads):
            th = threading.Thread(target=self._run, args=(t,), daemon=True)
            th.start()
            self._threads.append(th)
        return self

    def acks_after(self, t0):
        with self._lock:
            return sum(1 for t in self.ack_times if t > t0)

    def count(self):
        with self._lock:
            return len(self.acked)

    def stop(self, timeout=60):
        self._stop.set()
        for th in self._threads:
            th.join(timeout)
        assert not any(th.is_alive() for th in self._threads), "a writer thread hung"


def pipelined_sets(cluster_ports, items, batch=200):
    """SET many keys fast: group by slot owner, pipeline each batch; retry the
    keys whose reply was not +OK (MOVED, TRYAGAIN...) until all are acked or
    60 s pass.  Returns the number of round trips."""
    pending = dict(items)
    deadline = time.monotonic() + 60
    rounds = 0
    while pending:
        assert time.monotonic() < deadline, f"{len(pending)} SETs not acknowledged within 60s"
        rounds += 1
        owner = None
        for p in cluster_ports:
            try:
                owner = slot_owner_map(p)
                break
            except (OSError, EOFError):
                continue
        assert owner is not None, "no node answers CLUSTER SLOTS"
        by_port = {}
        for k, v in pending.items():
            by_port.setdefault(owner[slot_of(k)], []).append((k, v))
        for port, kvs in by_port.items():
            try:
                with RawConn(port, timeout=30) as c:
                    for i in range(0, len(kvs), batch):
                        chunk = kvs[i:i + batch]
                        c.send(b"".join(flinproc.encode_command("SET", k, v) for k, v in chunk))
                        for k, _ in chunk:
                            if c.read_reply() == "OK":
                                pending.pop(k, None)
            except (OSError, EOFError):
                pass
        if pending:
            time.sleep(0.1)
    return rounds


def readonly_get_all(port, keys, timeout=30):
    """READONLY then pipelined GETs of keys on one node: {key: value}."""
    out = {}
    with RawConn(port, timeout=timeout) as c:
        assert c.call("READONLY") == "OK"
        keys = list(keys)
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            c.send(b"".join(flinproc.encode_command("GET", k) for k in chunk))
            for k in chunk:
                out[k] = c.read_reply()
    return out
