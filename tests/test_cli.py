"""Clients we did not write: redis-cli and redis-benchmark."""
import re
import shutil
import subprocess

import pytest

CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
BENCH = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"


def cli(server, *args, stdin=None, timeout=30):
    p = subprocess.run([CLI, "-p", str(server.port), *args], input=stdin,
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def test_redis_cli_set_get(server, r):
    assert cli(server, "set", "a", "1") == (0, "OK\n", "")
    assert cli(server, "get", "a") == (0, "1\n", "")
    assert cli(server, "--no-raw", "get", "a") == (0, '"1"\n', "")
    assert cli(server, "--no-raw", "incr", "n") == (0, "(integer) 1\n", "")
    assert cli(server, "--no-raw", "get", "missing") == (0, "(nil)\n", "")
    assert cli(server, "--no-raw", "mget", "a", "missing") == (0, '1) "1"\n2) (nil)\n', "")
    rc, out, _ = cli(server, "--no-raw", "get")
    assert out == "(error) ERR wrong number of arguments for 'get' command\n"
    assert cli(server, "ping") == (0, "PONG\n", "")


def test_redis_cli_binary_and_stdin(server, r):
    r.set("bin", b"a\x00b\r\n")
    assert cli(server, "--no-raw", "get", "bin")[1] == '"a\\x00b\\r\\n"\n'
    rc, out, _ = cli(server, stdin=b"set x 10\nincrby x 5\nget x\n")
    assert rc == 0 and out.split() == ["OK", "15", "15"]
    # -x reads the last argument from stdin.
    rc, out, _ = cli(server, "-x", "set", "fromstdin", stdin=b"hello")
    assert rc == 0 and r.get("fromstdin") == b"hello"


def test_redis_cli_scan_and_info(server, r):
    r.mset({f"cli:{i}": i for i in range(100)})
    rc, out, _ = cli(server, "--scan", "--pattern", "cli:*")
    assert rc == 0 and sorted(out.split()) == sorted(f"cli:{i}" for i in range(100))
    rc, out, _ = cli(server, "info", "keyspace")
    assert rc == 0 and "db0:keys=100" in out
    rc, out, _ = cli(server, "dbsize")
    assert out == "100\n"


def test_redis_cli_with_password(make_server):
    srv = make_server(requirepass="pw")
    p = subprocess.run([CLI, "-p", str(srv.port), "--no-auth-warning", "-a", "pw", "set", "k", "v"],
                       capture_output=True, timeout=30)
    assert p.stdout == b"OK\n"
    p = subprocess.run([CLI, "-p", str(srv.port), "--no-raw", "get", "k"], capture_output=True, timeout=30)
    assert p.stdout.startswith(b"(error) NOAUTH")


def test_redis_benchmark(server, r):
    p = subprocess.run([BENCH, "-p", str(server.port), "-t", "ping,set,get,incr,mset",
                        "-n", "2000", "-q"], capture_output=True, timeout=120)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert p.returncode == 0, out
    bad = [line for line in out.splitlines() if "error" in line.lower() or "ERR" in line]
    assert not bad, out
    for test in ("PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET"):
        assert re.search(rf"(^|\r){test}( \(10 keys\))?: [\d.]+ requests per second", out, re.M), out
    assert int(r.get("counter:__rand_int__")) >= 1  # INCR did its work


@pytest.mark.parametrize("extra", [["-P", "16"], ["-c", "20", "-d", "1000"]])
def test_redis_benchmark_pipelined_and_concurrent(server, r, extra):
    p = subprocess.run([BENCH, "-p", str(server.port), "-t", "set,get", "-n", "5000", "-q", *extra],
                       capture_output=True, timeout=120)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert p.returncode == 0 and "error" not in out.lower(), out
