"""Nothing a client sends crashes the server; concurrent clients see atomic
commands."""
import random
import socket
import threading
import time

from flinproc import encode_command

SEED_COMMANDS = [
    encode_command("SET", "fz", "value"),
    encode_command("GET", "fz"),
    encode_command("INCRBY", "fz:n", "5"),
    encode_command("ECHO", "x" * 40),
    encode_command("MSET", "a", "1", "b", "2"),
    encode_command("GETRANGE", "fz", "-3", "-1"),
    encode_command("EXPIRE", "fz", "100", "GT"),
    encode_command("SCAN", "0", "MATCH", "f*", "COUNT", "10"),
    b"SET 'inline' \"q\\x41\"\r\n",
]


def _mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        i = rng.randrange(len(data))
        if op == 0:
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            data[i] = rng.choice(b"*$+-:\r\n0123456789-\x00\"'\\")
        elif op == 2:
            del data[i]
        else:
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(data)


def test_fuzzed_requests_do_not_crash(make_server):
    seed = int(time.time_ns() % 1_000_000)
    print(f"fuzz seed {seed}")
    rng = random.Random(seed)
    srv = make_server()
    for batch in range(10):
        conns = []
        for _ in range(40):
            payload = b"".join(_mutate(rng, rng.choice(SEED_COMMANDS)) for _ in range(rng.randint(1, 5)))
            if rng.random() < 0.2:
                payload = bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            try:
                s.sendall(payload)
            except OSError:
                pass
            conns.append(s)
        time.sleep(0.05)
        for s in conns:
            s.close()
        assert srv.alive(), f"server died on fuzz batch {batch} (seed {seed})\n" + srv.log_tail()
        with srv.raw() as c:
            assert c.call("PING") == "PONG", f"seed {seed}"
            assert c.call("SET", "sane", "1") == "OK"
            assert c.call("GET", "sane") == b"1"


def test_half_sent_requests_then_disconnect(make_server):
    srv = make_server()
    payload = encode_command("SET", "half", "x" * 100000)
    for cut in (1, 3, 10, 50, 1000, len(payload) - 1):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(payload[:cut])
        s.close()
    with srv.raw() as c:
        assert c.call("EXISTS", "half") == 0
        assert c.call("PING") == "PONG"


def test_concurrent_incr_is_atomic(server, r):
    threads, per = 8, 300
    errors = []

    def worker():
        try:
            c = server.client()
            with c.pipeline(transaction=False) as p:
                for _ in range(per):
                    p.incr("ctr")
                    p.incrbyfloat("fctr", 0.5)
                    p.append("log", "x")
                p.execute()
            c.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors, errors
    assert r.get("ctr") == str(threads * per).encode()
    assert float(r.get("fctr")) == threads * per * 0.5
    assert r.strlen("log") == threads * per


def test_concurrent_setnx_single_winner(server, r):
    winners = []
    barrier = threading.Barrier(8)

    def worker(n):
        c = server.client()
        barrier.wait(10)
        for i in range(100):
            if c.setnx(f"lock:{i}", n):
                winners.append(i)
        c.close()

    ts = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert sorted(winners) == list(range(100))


def test_multi_key_reads_see_multi_key_writes_whole(server):
    # MSET and DEL of several keys are atomic (one log entry, one RocksDB batch); MGET and
    # EXISTS over those keys must see each such write entirely or not at all, as in Redis.
    # (Hash tags keep the keys in one slot, so the test means the same on a cluster.)
    keys = ["{t}a", "{t}b", "{t}c"]
    stop = threading.Event()
    torn, errors, reads = [], [], [0]

    def writer():
        try:
            c = server.client()
            n = 0
            while not stop.is_set():
                with c.pipeline(transaction=False) as p:
                    for _ in range(20):
                        n += 1
                        if n % 7 == 0:
                            p.delete(*keys)
                        else:
                            p.mset({k: n for k in keys})
                    p.execute()
            c.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    def reader():
        try:
            c = server.client()
            while not stop.is_set():
                with c.pipeline(transaction=False) as p:
                    for _ in range(20):
                        p.mget(keys)
                        p.exists(*keys)
                    out = p.execute()
                for i in range(0, len(out), 2):
                    values, exists = out[i], out[i + 1]
                    if len(set(values)) != 1 or exists not in (0, len(keys)):
                        torn.append((values, exists))
                reads[0] += len(out)
            c.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    ts = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(2)]
    for t in ts:
        t.start()
    time.sleep(3)
    stop.set()
    for t in ts:
        t.join(30)
    assert not errors, errors
    assert reads[0] > 1000
    assert not torn, f"{len(torn)} of {reads[0]} reads saw part of a write: {torn[:5]}"
