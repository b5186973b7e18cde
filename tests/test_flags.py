"""flin-server's command line and config file (Flin only)."""
import os
import re
import subprocess
import threading

import pytest

import flinproc
from flinproc import FLIN_SERVER, free_port

pytestmark = pytest.mark.flin_only

FLAGS = ["--bind", "--port", "--dir", "--threads", "--fsync", "--requirepass", "--maxclients",
         "--max-value-bytes", "--timeout", "--log-level", "--config"]


def run(args, cwd, timeout=10):
    """Run flin-server expecting it to exit by itself; a server that starts
    serving instead is killed and reported."""
    p = subprocess.Popen([FLIN_SERVER, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, cwd=cwd)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate(timeout=10)
        pytest.fail(f"flin-server {' '.join(args)} did not exit within {timeout}s "
                    f"(it accepted the arguments?); output:\n{out.decode(errors='replace')}")
    return p.returncode, out.decode("utf-8", "replace")


def test_help_lists_every_flag_with_default(tmp_path):
    rc, out = run(["--help"], tmp_path)
    assert rc == 0, out
    for flag in FLAGS:
        assert flag in out, f"--help does not mention {flag}:\n{out}"
    for default in ("6380", "127.0.0.1", "flin-data", "always"):
        assert default in out, f"--help does not show the default {default}:\n{out}"
    assert re.search(r"67108864|64\s*Mi?B", out, re.I), f"--help lacks the 64 MiB default:\n{out}"
    assert not os.path.exists(tmp_path / "flin-data"), "--help must not create the data dir"


@pytest.mark.parametrize("args,name", [
    (["--bogus-flag"], "bogus-flag"),
    (["--port", "abc"], "port"),
    (["--port", "70000"], "port"),
    (["--fsync", "sometimes"], "fsync"),
    (["--maxclients", "-1"], "maxclients"),
    (["--max-value-bytes", "lots"], "max-value-bytes"),
    (["--timeout", "soon"], "timeout"),
    (["--threads", "many"], "threads"),
    (["--row-cache", "lots"], "row-cache"),
    (["--log-level", "shouting"], "log-level"),
    (["--config", "/nonexistent/flin.conf"], "/nonexistent/flin.conf"),
])
def test_bad_flag_or_value_stops_startup(tmp_path, args, name):
    base = ["--port", str(free_port()), "--dir", str(tmp_path / "data")]
    if args[0] == "--port":
        base = ["--dir", str(tmp_path / "data")]
    rc, out = run(base + args, tmp_path)
    assert rc != 0, out
    assert name in out, f"the message does not name {name!r}:\n{out}"


def test_missing_flag_value(tmp_path):
    rc, out = run(["--dir", str(tmp_path / "data"), "--port"], tmp_path)
    assert rc != 0 and "port" in out, out


def test_config_file(make_server, tmp_path):
    port = free_port()
    conf = tmp_path / "flin.conf"
    conf.write_text("# Flin test configuration\n"
                    f"port {port}\n"
                    "bind 127.0.0.1\n"
                    f"dir {tmp_path / 'confdata'}\n"
                    "\n"
                    "   # an indented comment\n"
                    "fsync everysec\n"
                    "requirepass confpw\n"
                    "maxclients 50\n"
                    "timeout 0\n")
    srv = make_server(port=port, requirepass="confpw",
                      argv=[FLIN_SERVER, "--config", str(conf)])
    with srv.raw() as c:
        assert c.call("GET", "k").startswith("NOAUTH")
        assert c.call("AUTH", "confpw") == "OK"
        assert c.call("CONFIG", "GET", "fsync") == [b"fsync", b"everysec"]
        assert c.call("CONFIG", "GET", "maxclients") == [b"maxclients", b"50"]
        assert c.call("SET", "k", "v") == "OK"
    assert srv.stop() == 0
    assert os.path.isdir(tmp_path / "confdata") and os.listdir(tmp_path / "confdata")


def test_config_file_bad_key(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text(f"port {free_port()}\ndir {tmp_path / 'd'}\nbogus-setting 1\n")
    rc, out = run(["--config", str(conf)], tmp_path)
    assert rc != 0 and "bogus-setting" in out, out


def test_default_data_dir(make_server, tmp_path):
    work = tmp_path / "cwd"
    work.mkdir()
    port = free_port()
    srv = make_server(port=port, argv=[FLIN_SERVER, "--bind", "127.0.0.1", "--port", str(port)],
                      name="defaultdir")
    srv.workdir = str(work)
    srv.stop()
    srv.start()  # now with cwd = work
    c = srv.client()
    c.set("k", "v")
    c.close()
    assert srv.stop() == 0
    assert os.path.isdir(work / "flin-data"), os.listdir(work)


@pytest.mark.parametrize("threads", [1, 4])
def test_threads(make_server, threads):
    srv = make_server(threads=threads)
    errors = []

    def worker(n):
        try:
            c = srv.client()
            for i in range(200):
                c.set(f"t{n}:{i}", i)
                assert c.get(f"t{n}:{i}") == str(i).encode()
            c.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    ts = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors, errors
    c = srv.client()
    assert c.dbsize() == 8 * 200
    c.close()


@pytest.mark.parametrize("value", [None, "auto", "0", "32mb"])
def test_row_cache_size(make_server, value):
    srv = make_server(flin_args=[] if value is None else ["--row-cache", value])
    c = srv.client()
    got = int(c.config_get("row-cache")["row-cache"])
    c.close()
    if value in (None, "auto"):
        # 1/8 of the memory the server may use, at least 64 MiB: never more than the machine's.
        phys = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        assert 64 << 20 <= got <= max(64 << 20, phys // 8), got
    else:
        assert got == {"0": 0, "32mb": 32 << 20}[value]


def test_log_level_debug_starts(make_server):
    srv = make_server(flin_args=["--log-level", "debug"])
    c = srv.client()
    assert c.ping() is True
    c.close()


def test_target_is_flin():
    assert not flinproc.is_redis()
