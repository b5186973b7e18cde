"""Key-space commands: DEL ... FLUSHALL, EXPIRE family, SCAN, KEYS."""
import os
import re
import time

import pytest

from flinproc import error_of, wait_until

NOT_INT = "ERR value is not an integer or out of range"
SYNTAX = "ERR syntax error"


def test_del_unlink_exists(r):
    r.mset({"a": 1, "b": 2, "c": 3})
    assert r.exists("a", "b", "missing") == 2
    assert r.exists("a", "a", "a") == 3  # duplicates count
    assert r.delete("a", "missing", "a") == 1
    assert r.exists("a") == 0
    assert r.execute_command("UNLINK", "b", "c", "missing") == 2
    assert r.dbsize() == 0
    assert r.delete("nothing") == 0


def test_type(r):
    r.set("s", "v")
    assert r.type("s") == b"string"
    assert r.type("missing") == b"none"


def test_rename(raw, r):
    r.set("a", "1", ex=100)
    assert r.execute_command("RENAME", "a", "b") is True
    assert r.exists("a") == 0 and r.get("b") == b"1"
    assert 98 <= r.ttl("b") <= 100  # the TTL moves with the value
    r.set("c", "3")
    r.execute_command("RENAME", "b", "c")  # overwrites
    assert r.get("c") == b"1"
    r.execute_command("RENAME", "c", "c")  # same name: OK, unchanged
    assert r.get("c") == b"1"
    assert error_of(raw, "RENAME", "nokey", "x") == "ERR no such key"
    assert error_of(raw, "RENAME", "a") == "ERR wrong number of arguments for 'rename' command"


def test_renamenx(raw, r):
    r.set("a", "1")
    r.set("b", "2")
    assert r.execute_command("RENAMENX", "a", "b") == 0
    assert r.get("a") == b"1" and r.get("b") == b"2"
    assert r.execute_command("RENAMENX", "a", "c") == 1
    assert r.exists("a") == 0 and r.get("c") == b"1"
    assert error_of(raw, "RENAMENX", "nokey", "x") == "ERR no such key"


def test_copy(raw, r):
    r.set("src", "v", ex=100)
    assert r.execute_command("COPY", "src", "dst") == 1
    assert r.get("dst") == b"v" and r.get("src") == b"v"
    assert 98 <= r.ttl("dst") <= 100  # COPY keeps the TTL
    r.set("dst", "other")
    assert r.execute_command("COPY", "src", "dst") == 0
    assert r.get("dst") == b"other"
    assert r.execute_command("COPY", "src", "dst", "REPLACE") == 1
    assert r.get("dst") == b"v"
    assert r.execute_command("COPY", "missing", "x") == 0
    assert r.execute_command("COPY", "src", "d0", "DB", "0") == 1
    assert r.get("d0") == b"v"
    # Flin has db 0 only; Redis is started with --databases 1 to match.
    assert error_of(raw, "COPY", "src", "d1", "DB", "1") == "ERR DB index is out of range"
    assert error_of(raw, "COPY", "src", "d1", "DB", "x") == NOT_INT
    assert error_of(raw, "COPY", "src", "d1", "FOO") == SYNTAX


def test_expire_ttl_persist(r):
    r.set("k", "v")
    assert r.ttl("k") == -1 and r.pttl("k") == -1
    assert r.ttl("missing") == -2 and r.pttl("missing") == -2
    assert r.expiretime("k") == -1 and r.pexpiretime("k") == -1
    assert r.expiretime("missing") == -2 and r.pexpiretime("missing") == -2
    assert r.execute_command("EXPIRE", "k", 100) == 1
    assert 98 <= r.ttl("k") <= 100
    assert 98000 <= r.pttl("k") <= 100000
    assert r.execute_command("PEXPIRE", "k", 50000) == 1
    assert 48000 <= r.pttl("k") <= 50000
    at = int(time.time()) + 200
    assert r.execute_command("EXPIREAT", "k", at) == 1
    assert r.expiretime("k") == at
    assert r.pexpiretime("k") == at * 1000
    assert r.execute_command("PEXPIREAT", "k", at * 1000 + 123) == 1
    assert r.pexpiretime("k") == at * 1000 + 123
    assert r.expiretime("k") == at
    assert r.execute_command("PERSIST", "k") == 1
    assert r.ttl("k") == -1
    assert r.execute_command("PERSIST", "k") == 0
    assert r.execute_command("PERSIST", "missing") == 0
    assert r.execute_command("EXPIRE", "missing", 100) == 0
    assert r.exists("missing") == 0


def test_expire_nx_xx_gt_lt(raw, r):
    r.set("k", "v")
    assert r.execute_command("EXPIRE", "k", 100, "XX") == 0  # no TTL yet
    assert r.execute_command("EXPIRE", "k", 100, "GT") == 0  # no TTL = infinite
    assert r.execute_command("EXPIRE", "k", 100, "LT") == 1
    assert r.execute_command("EXPIRE", "k", 200, "NX") == 0
    assert r.execute_command("EXPIRE", "k", 200, "XX") == 1
    assert r.execute_command("EXPIRE", "k", 100, "GT") == 0
    assert r.execute_command("EXPIRE", "k", 300, "GT") == 1
    assert r.execute_command("EXPIRE", "k", 400, "LT") == 0
    assert r.execute_command("EXPIRE", "k", 50, "LT") == 1
    assert 48 <= r.ttl("k") <= 50
    r.persist("k")
    assert r.execute_command("PEXPIRE", "k", 100000, "NX") == 1
    assert r.execute_command("PEXPIRE", "k", 200000, "nx") == 0
    at = int(time.time()) + 1000
    assert r.execute_command("EXPIREAT", "k", at, "GT") == 1
    assert r.execute_command("PEXPIREAT", "k", at * 1000 - 1, "GT") == 0
    assert r.execute_command("PEXPIREAT", "k", at * 1000 - 1, "LT") == 1
    assert r.pexpiretime("k") == at * 1000 - 1
    for cmd in ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"):
        assert error_of(raw, cmd, "k", "100", "NX", "XX") == \
            "ERR NX and XX, GT or LT options at the same time are not compatible"
        assert error_of(raw, cmd, "k", "100", "NX", "GT") == \
            "ERR NX and XX, GT or LT options at the same time are not compatible"
        assert error_of(raw, cmd, "k", "100", "GT", "LT") == \
            "ERR GT and LT options at the same time are not compatible"
        assert error_of(raw, cmd, "k", "100", "FOO").startswith("ERR Unsupported option FOO")
        assert error_of(raw, cmd, "k", "abc") == NOT_INT
        # The options are judged before the time (Redis's order).
        assert error_of(raw, cmd, "k", "abc", "FOO").startswith("ERR Unsupported option FOO")
        assert error_of(raw, cmd, "k", "", "GT", "NX") == \
            "ERR NX and XX, GT or LT options at the same time are not compatible"
    assert error_of(raw, "EXPIRE", "k", "9223372036854775807") == \
        "ERR invalid expire time in 'expire' command"
    assert error_of(raw, "PEXPIRE", "k", "9223372036854775807") == \
        "ERR invalid expire time in 'pexpire' command"
    assert error_of(raw, "EXPIRE", "k") == "ERR wrong number of arguments for 'expire' command"


@pytest.mark.parametrize("cmd,arg", [
    ("EXPIRE", "0"), ("EXPIRE", "-10"), ("PEXPIRE", "0"), ("PEXPIRE", "-1"),
    ("EXPIREAT", "1"), ("PEXPIREAT", "1000"),
])
def test_non_positive_expire_deletes(r, cmd, arg):
    r.set("k", "v")
    assert r.execute_command(cmd, "k", arg) == 1
    assert r.exists("k") == 0
    assert r.get("k") is None
    assert r.ttl("k") == -2
    assert r.dbsize() == 0


def test_keys_glob(r):
    names = ["hello", "hallo", "hxllo", "hllo", "heeeello", "hbllo", "hcllo",
             "a*b", "a?b", "axb", "x[y]", "other"]
    r.mset({n: "1" for n in names})

    def keys(pattern):
        return sorted(k.decode() for k in r.keys(pattern))

    assert keys("*") == sorted(names)
    assert keys("h?llo") == ["hallo", "hbllo", "hcllo", "hello", "hxllo"]
    assert keys("h*llo") == ["hallo", "hbllo", "hcllo", "heeeello", "hello", "hllo", "hxllo"]
    assert keys("h[ae]llo") == ["hallo", "hello"]
    assert keys("h[^e]llo") == ["hallo", "hbllo", "hcllo", "hxllo"]
    assert keys("h[a-c]llo") == ["hallo", "hbllo", "hcllo"]
    assert keys(r"a\*b") == ["a*b"]
    assert keys(r"a\?b") == ["a?b"]
    assert keys("a?b") == ["a*b", "a?b", "axb"]
    assert keys(r"x\[y\]") == ["x[y]"]
    assert keys("nomatch*") == []
    assert keys("hello") == ["hello"]


def test_glob_with_many_stars_answers(r):
    # A matcher trying every split of the key among the stars takes ~3^25 steps here: the
    # server stalled, PING and SIGTERM included. One that backtracks to the last star only
    # answers at once.
    r.set("a" * 60, "v")
    pattern = "*a" * 25 + "b"
    assert r.keys(pattern) == []
    assert r.scan(0, match=pattern, count=10) == (0, [])
    assert r.keys("*a" * 25) == [b"a" * 60]
    assert r.ping()


def _sst_bytes(srv):
    info = srv.info_text("persistence")
    return int(re.search(r"rocksdb_sst_files_size:(\d+)", info).group(1))


@pytest.mark.flin_only
def test_flushall_gives_the_disk_space_back(make_server):
    # A range deletion leaves the values in their SST files until a compaction reaches them,
    # which with no further writes never happened: the disk stayed full after FLUSHALL, and
    # every SCAN still read and decompressed the deleted blocks to skip them.
    srv = make_server()
    c = srv.client()
    value = os.urandom(1 << 20)  # incompressible
    for i in range(48):  # more than a memtable holds: most of it in SST files
        c.set(f"big{i}", value)
    wait_until(lambda: _sst_bytes(srv) > (16 << 20), 60, what="values flushed to SST files")
    assert c.flushall() is True
    wait_until(lambda: _sst_bytes(srv) < (4 << 20), 120, interval=0.2,
               what="the deleted values compacted away")
    assert c.dbsize() == 0
    c.set("after", "1")
    assert c.get("after") == b"1"
    c.close()


def test_randomkey_dbsize_flush(r):
    assert r.randomkey() is None
    assert r.dbsize() == 0
    r.mset({"a": 1, "b": 2, "c": 3})
    assert r.dbsize() == 3
    seen = {r.randomkey() for _ in range(50)}
    assert seen <= {b"a", b"b", b"c"} and seen
    assert r.flushdb() is True
    assert r.dbsize() == 0 and r.randomkey() is None
    r.set("x", "1")
    assert r.execute_command("FLUSHALL") is True
    assert r.dbsize() == 0
    r.set("y", "1")
    assert r.execute_command("FLUSHALL", "SYNC") is True
    assert r.execute_command("FLUSHDB", "ASYNC") is True
    assert r.dbsize() == 0


def test_scan_full_iteration(raw, r):
    n = 1000
    with r.pipeline(transaction=False) as p:
        for i in range(n):
            p.set(f"key:{i}", i)
        p.execute()
    assert {k.decode() for k in r.scan_iter(count=37)} == {f"key:{i}" for i in range(n)}
    # Raw cursors: the reply is [cursor, [keys...]]; cursor "0" ends.
    seen, cursor, rounds = set(), b"0", 0
    while True:
        cursor, keys = raw.call("SCAN", cursor, "COUNT", 100)
        assert isinstance(cursor, bytes) and isinstance(keys, list)
        seen.update(keys)
        rounds += 1
        assert rounds < 10 * n, "SCAN never returned cursor 0"
        if cursor == b"0":
            break
    assert seen == {f"key:{i}".encode() for i in range(n)}


def test_scan_match_count_type(raw, r):
    r.mset({f"user:{i}": i for i in range(100)})
    r.mset({f"item:{i}": i for i in range(100)})
    assert {k.decode() for k in r.scan_iter(match="user:1*")} == \
        {f"user:{i}" for i in range(100) if str(i).startswith("1")}
    assert len(set(r.scan_iter(match="*", count=1000))) == 200
    assert len(set(r.scan_iter(_type="string"))) == 200
    assert list(r.scan_iter(_type="hash")) == []
    assert list(r.scan_iter(match="nomatch*")) == []
    assert error_of(raw, "SCAN", "abc") == "ERR invalid cursor"
    assert error_of(raw, "SCAN", "0", "COUNT", "0") == SYNTAX
    assert error_of(raw, "SCAN", "0", "COUNT", "x") == NOT_INT
    assert error_of(raw, "SCAN", "0", "FOO", "x") == SYNTAX
    assert error_of(raw, "SCAN", "0", "MATCH") == SYNTAX


def test_scan_match_empty_pattern_is_the_empty_key(r):
    r.mset({"": "empty", "a": "1", "b": "2"})
    assert r.scan(0, match="", count=100) == (0, [b""])
    assert r.keys("") == [b""]


def _scan_all(r, cursor=0, count=10):
    """Follows a SCAN to its end from `cursor`: every key returned, as a set."""
    seen = set()
    for _ in range(100000):
        cursor, keys = r.scan(cursor, count=count)
        seen.update(keys)
        if cursor == 0:
            return seen
    raise AssertionError("SCAN never returned cursor 0")


def test_scan_cursor_outlives_other_scans(r):
    # Cursors live on the server (keys are ordered byte strings, not hash buckets), in a
    # bounded table. One pushed out by other clients' scans must not fail: Redis's cursors
    # never do, and redis-py's scan_iter would raise halfway. It resumes at the start of the
    # partition it was in (keys there may come twice; none is missed).
    names = {f"k{i}".encode() for i in range(500)}
    r.mset({n: "v" for n in names})
    cursor, first = r.scan(0, count=100)
    assert cursor != 0
    with r.pipeline(transaction=False) as p:
        for _ in range(70000):
            p.scan(0, count=1)
        p.execute()
    assert set(first) | _scan_all(r, cursor) == names


@pytest.mark.flin_only
def test_scan_cursor_survives_a_restart(make_server):
    srv = make_server()
    c = srv.client()
    names = {f"k{i}".encode() for i in range(500)}
    c.mset({n: "v" for n in names})
    cursor, first = c.scan(0, count=100)
    c.close()
    srv.stop()
    srv.start()
    c = srv.client()
    assert set(first) | _scan_all(c, cursor) == names
    c.close()


@pytest.mark.flin_only
def test_scan_cursors_do_not_hoard_memory(make_server):
    # Each cursor holds the key to resume from: 300 scans that stop before an 8 MB key used
    # to keep 300 copies of it (2.4 GB). The table is bounded in bytes as well.
    srv = make_server()
    c = srv.client()
    big = [bytes([ord("a") + i]) * (8 << 20) for i in range(3)]
    for k in big:
        c.set(k, "v")
    before = srv.rss_kb()
    for _ in range(300):
        cursor, keys = c.scan(0, count=1)
        assert cursor != 0 and len(keys) == 1
    grown_mb = (srv.rss_kb() - before) / 1024
    assert grown_mb < 512, f"RSS grew by {grown_mb:.0f} MB"
    assert _scan_all(c, cursor, count=1) >= set(big[1:])
    c.close()


def test_scan_empty(raw):
    cursor, keys = raw.call("SCAN", 0)
    assert cursor == b"0" and keys == []


def test_scan_reads_cursors_as_redis_does(raw, r):
    r.set("k", "v")
    # strtoul: every spelling of 0 starts a scan; spaces, signs of other numbers, trailing text
    # and overflow do not parse.
    for zero in ("", "00", "+0", "-0"):
        cursor, keys = raw.call("SCAN", zero, "COUNT", 100)
        assert cursor == b"0" and keys == [b"k"], zero
    for bad in (" 0", "0x", "1.5", "18446744073709551616"):
        assert error_of(raw, "SCAN", bad) == "ERR invalid cursor", bad


def test_expiretime_rounds_without_overflow(r):
    # PXAT accepts times up to INT64_MAX; EXPIRETIME rounds them to the nearest second.
    r.execute_command("SET", "k", "v", "PXAT", "9223372036854775807")
    assert r.execute_command("PEXPIRETIME", "k") == 9223372036854775807
    assert r.execute_command("EXPIRETIME", "k") == 9223372036854776
    assert r.ttl("k") > 0
