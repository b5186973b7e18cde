"""Restart recovery and the --fsync modes."""
import signal
import time

import pytest

N = 3000


def _load(c):
    """Write N keys: a third persistent, a third with a long TTL, a third with
    a 300 ms TTL; plus overwrites, deletes, counters and binary keys."""
    at_ms = int(time.time() * 1000) + 3_600_000
    with c.pipeline(transaction=False) as p:
        for i in range(N):
            if i % 3 == 0:
                p.set(f"plain:{i}", f"value-{i}")
            elif i % 3 == 1:
                p.set(f"ttl:{i}", f"value-{i}", ex=1000)
            else:
                p.set(f"short:{i}", f"value-{i}", px=300)
        p.set("abs", "x")
        p.pexpireat("abs", at_ms)
        for i in range(0, N, 3):
            if i % 2:
                p.delete(f"plain:{i}")
        p.set("over", "first")
        p.set("over", "second")
        for _ in range(25):
            p.incr("counter")
        p.set(b"bin\x00key\r\n", b"\x00\xff\r\n")
        p.append("appended", "a")
        p.append("appended", "b")
        p.setrange("ranged", 3, "x")
        p.execute()
    return at_ms, time.monotonic() + 0.3


def _verify(c, at_ms):
    plain = [f"plain:{i}" for i in range(0, N, 3)]
    got = c.mget(plain)
    for i, v in zip(range(0, N, 3), got):
        assert v == (None if i % 2 else f"value-{i}".encode()), f"plain:{i} -> {v!r}"
    ttl = [f"ttl:{i}" for i in range(1, N, 3)]
    assert c.mget(ttl) == [f"value-{i}".encode() for i in range(1, N, 3)]
    with c.pipeline(transaction=False) as p:
        for k in ttl:
            p.ttl(k)
        ttls = p.execute()
    assert all(900 <= t <= 1000 for t in ttls), sorted(ttls)[:5]
    assert c.mget([f"short:{i}" for i in range(2, N, 3)]) == [None] * len(range(2, N, 3))
    assert c.pexpiretime("abs") == at_ms
    assert c.get("over") == b"second"
    assert c.get("counter") == b"25"
    assert c.get(b"bin\x00key\r\n") == b"\x00\xff\r\n"
    assert c.get("appended") == b"ab"
    assert c.get("ranged") == b"\x00\x00\x00x"
    expected = len(plain) - len(plain) // 2 + len(ttl) + 6
    deadline = time.monotonic() + 5
    while c.dbsize() != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert c.dbsize() == expected


def test_restart_recovers_everything(make_server):
    srv = make_server()
    c = srv.client()
    at_ms, short_end = _load(c)
    c.close()
    assert srv.stop(signal.SIGTERM) == 0, srv.log_tail()
    time.sleep(max(0.0, short_end - time.monotonic()) + 0.05)
    srv.start()
    c = srv.client()
    _verify(c, at_ms)
    # Write more, restart again (SIGINT this time), and all of it is there.
    c.set("after", "restart")
    c.delete("over")
    c.close()
    assert srv.stop(signal.SIGINT) == 0, srv.log_tail()
    srv.start()
    c = srv.client()
    assert c.get("after") == b"restart"
    assert c.get("over") is None
    assert c.get("counter") == b"25"
    c.close()


def test_expiry_while_down(make_server):
    """Keys whose TTL ends while the server is down are gone after restart."""
    srv = make_server()
    c = srv.client()
    c.set("soon", "v", px=200)
    c.set("later", "v", ex=100)
    c.close()
    srv.stop()
    time.sleep(0.3)
    srv.start()
    c = srv.client()
    assert c.get("soon") is None
    assert c.exists("soon") == 0
    assert c.keys("*") == [b"later"]
    assert c.dbsize() == 1
    assert 95 <= c.ttl("later") <= 100
    c.close()


def test_flushall_persists(make_server):
    srv = make_server()
    c = srv.client()
    c.mset({"a": 1, "b": 2})
    c.flushall()
    c.set("c", 3)
    c.close()
    srv.restart()
    c = srv.client()
    assert c.keys("*") == [b"c"]
    c.close()


@pytest.mark.parametrize("mode", ["always", "everysec", "no"])
def test_fsync_modes(make_server, mode):
    srv = make_server(fsync=mode)
    c = srv.client()
    with c.pipeline(transaction=False) as p:
        for i in range(500):
            p.set(f"k{i}", i)
        p.execute()
    assert c.get("k499") == b"499"
    assert c.dbsize() == 500
    c.close()
    assert srv.stop() == 0, srv.log_tail()
    srv.start()
    c = srv.client()
    assert c.dbsize() == 500
    assert c.get("k0") == b"0"
    c.close()


@pytest.mark.flin_only
def test_fsync_mode_visible_in_config(make_server):
    srv = make_server(fsync="everysec")
    with srv.raw() as c:
        assert c.call("CONFIG", "GET", "fsync") == [b"fsync", b"everysec"]


def _info_persistence(c):
    return c.info("persistence")


def _wait_backup_done(c, previous_path):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info = _info_persistence(c)
        if info["rdb_bgsave_in_progress"] == 0 and info.get("backup_last_path") != previous_path:
            return info
        time.sleep(0.02)
    raise AssertionError(f"BGSAVE did not finish: {_info_persistence(c)}")


@pytest.mark.flin_only
def test_backups_are_data_dirs_as_they_were(make_server, tmp_path):
    """SAVE and BGSAVE copy the data directory while it serves (RocksDB checkpoints in
    <dir>-backups): a server started on a copy of a backup has what was acknowledged
    before it (under --fsync everysec too, before any fsync) and nothing written after;
    the newest --backup-keep are kept."""
    import os
    import shutil
    srv = make_server(fsync="everysec", flin_args=["--backup-keep", "2"])
    c = srv.client()
    at_ms, _ = _load(c)
    before = int(time.time())
    assert c.save() is True
    info = _info_persistence(c)
    first = info["backup_last_path"]
    assert os.path.dirname(first) == os.path.realpath(srv.dir) + "-backups"
    assert c.config_get("backup-dir")["backup-dir"] == os.path.dirname(first)
    assert info["rdb_last_save_time"] >= before and info["rdb_saves"] == 1
    assert int(c.lastsave().timestamp()) == info["rdb_last_save_time"]
    assert info["rdb_changes_since_last_save"] == 0
    c.set("after", "first backup")
    assert _info_persistence(c)["rdb_changes_since_last_save"] == 1
    assert c.bgsave() is True
    info = _wait_backup_done(c, first)
    second = info["backup_last_path"]
    assert info["rdb_last_bgsave_status"] == "ok" and info["rdb_current_bgsave_time_sec"] == -1
    c.set("later", "not in the second")
    assert c.save() is True
    third = _info_persistence(c)["backup_last_path"]
    assert sorted(os.listdir(os.path.dirname(first))) == [os.path.basename(second),
                                                           os.path.basename(third)]
    with pytest.raises(Exception, match="syntax"):
        c.execute_command("BGSAVE", "NOW")

    restored_dir = str(tmp_path / "restored")
    shutil.copytree(second, restored_dir)
    restored = make_server(name="restored", datadir=restored_dir)
    r = restored.client()
    assert r.get("after") == b"first backup"
    assert r.get("later") is None
    assert r.get("over") == b"second" and r.get("counter") == b"25"
    assert r.pexpiretime("abs") == at_ms
    r.set("restored", "writable")
    assert r.get("restored") == b"writable"
    r.close()
    restored.stop()
    # The original goes on, untouched by the backups and the restore.
    assert c.get("later") == b"not in the second"
    assert c.get("restored") is None

    # A server started on a backup in place (not a copy): it is live data from then on, and
    # neither its own backups nor the original's retention delete it.
    in_place = make_server(name="in-place", datadir=third, flin_args=["--backup-keep", "1"])
    p = in_place.client()
    p.set("in-place", "1")
    assert p.save() is True and p.save() is True
    for _ in range(3):
        assert c.save() is True
    assert os.path.isdir(third)
    assert p.get("in-place") == b"1" and p.get("later") == b"not in the second"
    p.close()
    c.close()


@pytest.mark.flin_only
def test_a_backup_taken_under_writes_is_one_point_in_time(make_server, tmp_path):
    """A writer sets c:0 .. c:199 to its round number, in order, round after round, while
    BGSAVE and SAVE run. A copy of one point in time holds a prefix of some round and the
    rest at the round before: non-increasing along the keys, first and last at most one
    apart, and at least the last round acknowledged before the backup started."""
    import shutil
    import threading
    srv = make_server(fsync="everysec")
    keys = [f"c:{i}" for i in range(200)]
    acked = [0]
    stop = threading.Event()

    def writer():
        w = srv.client()
        n = 0
        while not stop.is_set():
            n += 1
            with w.pipeline(transaction=False) as p:
                for k in keys:
                    p.set(k, n)
                p.execute()
            acked[0] = n
        w.close()

    t = threading.Thread(target=writer)
    t.start()
    try:
        wait = time.monotonic() + 10
        while acked[0] < 3 and time.monotonic() < wait:
            time.sleep(0.01)
        c = srv.client()
        taken = []
        for i in range(6):
            floor = acked[0]
            if i % 2:
                assert c.save() is True
                path = _info_persistence(c)["backup_last_path"]
            else:
                previous = _info_persistence(c).get("backup_last_path")
                assert c.bgsave() is True
                path = _wait_backup_done(c, previous)["backup_last_path"]
            taken.append((floor, path))
            time.sleep(0.05)
        c.close()
    finally:
        stop.set()
        t.join(30)
    assert acked[0] > 3, "the writer made no progress"
    for i, (floor, path) in enumerate(taken[-3:]):  # the others were pruned (keep 3)
        copy = str(tmp_path / f"copy{i}")
        shutil.copytree(path, copy)
        restored = make_server(name=f"copy{i}", datadir=copy)
        r = restored.client()
        got = [int(v) for v in r.mget(keys)]
        r.close()
        restored.stop()
        assert all(a >= b for a, b in zip(got, got[1:])), (path, got)
        assert got[0] - got[-1] <= 1, (path, got[0], got[-1])
        assert got[-1] >= floor, (path, got[-1], floor)
