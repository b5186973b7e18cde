"""SLOWLOG GET / LEN / RESET / HELP and the slowlog-* settings, against Flin and Redis alike;
what Flin records for commands applied from its log (no client) is Flin-only."""
import pytest

import flinproc


@pytest.fixture
def slow(r):
    """Every command recorded (threshold 0), the log emptied; the settings restored after."""
    assert r.config_set("slowlog-log-slower-than", 0)
    assert r.config_set("slowlog-max-len", 128)
    r.execute_command("SLOWLOG", "RESET")
    yield r
    r.config_set("slowlog-log-slower-than", 10000)
    r.config_set("slowlog-max-len", 128)


def entries(r, count=-1):
    return r.execute_command("SLOWLOG", "GET", count)


def find(log, *args):
    want = [a.encode() for a in args]
    return [e for e in log if e[3][:len(want)] == want]


def test_help_and_errors(r, raw):
    help_ = r.execute_command("SLOWLOG", "HELP")
    assert help_[0] == b"SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert b"GET [<count>]" in help_ and b"RESET" in help_
    assert flinproc.error_of(raw, "SLOWLOG") == \
        "ERR wrong number of arguments for 'slowlog' command"
    assert flinproc.error_of(raw, "SLOWLOG", "LEN", "1") == \
        "ERR wrong number of arguments for 'slowlog|len' command"
    assert flinproc.error_of(raw, "SLOWLOG", "RESET", "1") == \
        "ERR wrong number of arguments for 'slowlog|reset' command"
    for bad in ("-2", "x"):
        assert flinproc.error_of(raw, "SLOWLOG", "GET", bad) == \
            "ERR count should be greater than or equal to -1"
    assert flinproc.error_of(raw, "SLOWLOG", "GET", "1", "2") == \
        "ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP."
    assert flinproc.error_of(raw, "SLOWLOG", "FOO") == \
        "ERR unknown subcommand 'FOO'. Try SLOWLOG HELP."


def test_settings(r):
    assert r.config_get("slowlog-*") == {"slowlog-log-slower-than": "10000",
                                         "slowlog-max-len": "128"} or \
        set(r.config_get("slowlog-*")) == {"slowlog-log-slower-than", "slowlog-max-len"}
    with pytest.raises(Exception):
        r.config_set("slowlog-max-len", -1)
    with pytest.raises(Exception):
        r.config_set("slowlog-log-slower-than", -5)
    with pytest.raises(Exception):
        r.config_set("slowlog-log-slower-than", "x")


def test_records_a_read_with_its_client_and_cut_arguments(slow, server):
    c = server.client()
    try:
        c.client_setname("slowpoke")
        keys = ["k" * 200] + [f"key{i}" for i in range(39)]
        c.execute_command("MGET", *keys)
        port = c.connection_pool.get_connection("x").\
            _sock.getsockname()[1]
    finally:
        c.close()
    mine = find(entries(slow), "MGET")
    assert len(mine) == 1, entries(slow)
    e = mine[0]
    assert isinstance(e[0], int) and e[1] > 1_600_000_000 and e[2] >= 0
    args = e[3]
    assert len(args) == 32
    assert args[1] == b"k" * 128 + b"... (72 more bytes)"
    assert args[2:31] == [f"key{i}".encode() for i in range(29)]
    assert args[31] == b"... (10 more arguments)"  # 41 sent, 31 kept
    assert e[4] == f"127.0.0.1:{port}".encode()
    assert e[5] == b"slowpoke"


def test_passwords_are_redacted(slow, raw):
    raw.call("AUTH", "secret")
    raw.call("AUTH", "user", "secret")
    raw.call("HELLO", "2", "AUTH", "default", "secret")
    log = entries(slow)
    assert [e[3] for e in find(log, "AUTH")] == [[b"AUTH", b"(redacted)", b"(redacted)"],
                                                 [b"AUTH", b"(redacted)"]]
    assert [e[3] for e in find(log, "HELLO")] == [[b"HELLO", b"2", b"AUTH", b"(redacted)",
                                                   b"(redacted)"]]
    assert b"secret" not in repr(log).encode()


def test_max_len_keeps_the_newest_and_ids_grow(slow):
    slow.config_set("slowlog-max-len", 3)
    for i in range(10):
        slow.echo(f"e{i}")
    assert slow.execute_command("SLOWLOG", "LEN") == 3
    log = entries(slow)
    assert len(log) == 3
    assert log[0][0] > log[1][0] > log[2][0]
    assert len(entries(slow, 1)) == 1
    assert slow.execute_command("SLOWLOG", "RESET") == b"OK"
    assert slow.execute_command("SLOWLOG", "LEN") <= 1  # RESET itself may be recorded after


def test_nothing_is_recorded_when_off_or_fast(r):
    for threshold in (-1, 10_000_000):
        r.config_set("slowlog-log-slower-than", threshold)
        r.execute_command("SLOWLOG", "RESET")
        for i in range(20):
            r.set(f"s{i}", i)
            r.get(f"s{i}")
        assert r.execute_command("SLOWLOG", "LEN") == 0
    r.config_set("slowlog-log-slower-than", 10000)


@pytest.mark.flin_only
def test_writes_are_recorded_once_when_applied_from_the_log(slow):
    slow.set("w", "v")
    slow.execute_command("INCR", "n")
    with slow.pipeline(transaction=True) as p:
        p.set("t", "1").get("t")
        p.execute()
    log = entries(slow)
    # Applied from the log: once each, with no client (it is not known where they apply).
    sets = find(log, "SET", "w")
    assert len(sets) == 1 and sets[0][3] == [b"SET", b"w", b"v"], log
    assert sets[0][4] == b"" and sets[0][5] == b""
    assert len(find(log, "INCR", "n")) == 1
    # A transaction is one entry of the log, shown by its name.
    assert [e[3] for e in find(log, "flin.exec")] == [[b"flin.exec"]], log
