"""TTL expiry as clients see it: expired keys show up nowhere."""
import re
import time

import pytest

from flinproc import wait_until

DEADLINE = 5.0  # seconds for the active expiry cycle to remove keys


@pytest.fixture
def keyspace(server):
    return lambda: server.info_text("keyspace")


def _set_short_lived(r, prefix, n, px=100):
    with r.pipeline(transaction=False) as p:
        for i in range(n):
            p.set(f"{prefix}:{i}", "v", px=px)
        p.execute()
    return time.monotonic() + px / 1000.0


def _sleep_until(t):
    left = t - time.monotonic()
    if left > 0:
        time.sleep(left)


def test_ttl_counts_down(r):
    r.set("k", "v", px=1000)
    assert 0 < r.pttl("k") <= 1000
    assert r.ttl("k") in (0, 1)  # rounded
    r.set("s", "v", ex=2)
    assert r.ttl("s") in (1, 2)


def test_lazy_expiry_on_access(r):
    r.set("keep", "v")
    end = _set_short_lived(r, "short", 20, px=300)
    assert r.exists(*[f"short:{i}" for i in range(20)]) == 20
    _sleep_until(end + 0.05)
    assert r.get("short:0") is None
    assert r.exists("short:1") == 0
    assert r.exists(*[f"short:{i}" for i in range(20)]) == 0
    assert r.ttl("short:2") == -2
    assert r.pttl("short:3") == -2
    assert r.mget("short:4", "keep") == [None, b"v"]
    assert r.strlen("short:5") == 0
    assert r.type("short:6") == b"none"
    assert r.getrange("short:7", 0, -1) == b""
    assert r.append("short:8", "x") == 1          # a fresh key, no old value
    assert r.ttl("short:8") == -1
    assert r.incr("short:9") == 1
    assert r.execute_command("SET", "short:10", "n", "NX") is True
    assert r.execute_command("SET", "short:11", "n", "XX") is None
    assert r.execute_command("EXPIRE", "short:12", 100) == 0
    assert r.execute_command("PERSIST", "short:13") == 0
    assert r.execute_command("GETDEL", "short:14") is None
    assert r.execute_command("COPY", "short:15", "dst") == 0
    assert r.execute_command("RENAMENX", "keep", "short:16") == 1  # target is free
    assert r.get("short:16") == b"v"


def test_expired_keys_hidden_from_listing(r, keyspace):
    r.set("keep", "v")
    end = _set_short_lived(r, "short", 50, px=300)
    assert r.dbsize() == 51
    _sleep_until(end + 0.05)
    # KEYS and SCAN must not return expired keys at all...
    assert r.keys("*") == [b"keep"]
    assert r.keys("short*") == []
    assert set(r.scan_iter(count=1000)) == {b"keep"}
    assert set(r.scan_iter(match="short:*")) == set()
    # ...and within the active-expiry deadline DBSIZE, RANDOMKEY and INFO
    # keyspace agree.
    wait_until(lambda: r.dbsize() == 1, DEADLINE, what="DBSIZE == 1")
    for _ in range(20):
        assert r.randomkey() == b"keep"
    wait_until(lambda: re.search(r"^db0:keys=1,expires=0,avg_ttl=\d+", keyspace(), re.M),
               DEADLINE, what="INFO keyspace db0:keys=1,expires=0")


def test_active_expiry_without_access(r, keyspace):
    """Nothing touches the keys: the server's own expiry cycle removes them. (DBSIZE alone
    would not show it: it does not count expired keys either way; expired_keys counts the
    keys the cycle deleted.)"""
    before = r.info("stats")["expired_keys"]
    r.set("keep", "v")
    _set_short_lived(r, "short", 200, px=500)
    assert re.search(r"^db0:keys=201,expires=200,avg_ttl=\d+", keyspace(), re.M), keyspace()
    wait_until(lambda: r.info("stats")["expired_keys"] - before == 200, DEADLINE,
               what="active expiry: expired_keys +200")
    wait_until(lambda: r.dbsize() == 1, DEADLINE, what="active expiry: DBSIZE == 1")
    assert re.search(r"^db0:keys=1,expires=0,avg_ttl=\d+", keyspace(), re.M), keyspace()


def test_all_expired_empty_keyspace(r, keyspace):
    end = _set_short_lived(r, "short", 10)
    _sleep_until(end + 0.05)
    wait_until(lambda: r.randomkey() is None, DEADLINE, what="RANDOMKEY nil")
    wait_until(lambda: r.dbsize() == 0, DEADLINE, what="DBSIZE 0")
    wait_until(lambda: "db0:" not in keyspace(), DEADLINE, what="no db0 line in INFO keyspace")


def test_expire_then_persist_survives(r):
    r.set("k", "v", px=200)
    assert r.persist("k") == 1
    time.sleep(0.3)
    assert r.get("k") == b"v"


def test_overwrite_clears_ttl(r):
    r.set("k", "v", px=150)
    r.set("k", "w")
    time.sleep(0.25)
    assert r.get("k") == b"w"


def test_pexpire_short(r):
    r.set("k", "v")
    assert r.pexpire("k", 100) == 1
    wait_until(lambda: r.exists("k") == 0, 2.0, what="key gone after PEXPIRE 100")
    assert r.get("k") is None
