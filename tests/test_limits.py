"""Limits: --maxclients, output buffers of slow readers, --timeout,
--max-value-bytes."""
import socket
import time

import pytest

from flinproc import RawConn, encode_command, error_of, wait_until

MAXCLIENTS = b"-ERR max number of clients reached\r\n"


def _rejected(srv):
    c = RawConn(srv.port)
    try:
        return c.expect_eof(10)
    finally:
        c.close()


def _reply_or_eof(c, *args):
    """Sends a command and reads its reply: None if the server closed the connection instead
    (as Redis may after an oversized bulk)."""
    c.send_command(*args)
    try:
        return c.read_reply()
    except (EOFError, ConnectionResetError):
        return None


def test_maxclients(make_server):
    srv = make_server(maxclients=3)

    def admitted_conn():
        # The start-up probes' connections may not be released yet: a refusal then is retried.
        c = srv.raw()
        try:
            if c.call("PING") == "PONG":
                return c
        except OSError:
            pass
        c.close()
        return None
    conns = [wait_until(admitted_conn, 10, what="a connection to be admitted") for _ in range(3)]
    for _ in range(20):
        assert _rejected(srv) == MAXCLIENTS
    # A flood of refused connections is one warning (a minute), not a line each.
    assert srv.log_text().count("rejected a client") == 1, srv.log_tail()
    stats = conns[0].call("INFO", "stats").decode()
    assert "rejected_connections:" in stats and "rejected_connections:0\r" not in stats
    # The ones in keep working; a freed slot can be taken again.
    assert conns[0].call("SET", "k", "v") == "OK"
    conns.pop().close()

    def admitted():
        c = RawConn(srv.port)
        try:
            c.send_command("PING")
            return c.read_all_available(1.0) == b"+PONG\r\n"
        except OSError:      # still full: refused, and the reset can beat the error reply
            return False
        finally:
            c.close()

    wait_until(admitted, 10, what="a slot to free up after a client left")
    for c in conns:
        c.close()


def test_config_set_maxclients(make_server):
    srv = make_server()
    admin = srv.raw()
    assert admin.call("CONFIG", "SET", "maxclients", "2") == "OK"
    other = srv.raw()
    assert other.call("PING") == "PONG"
    assert _rejected(srv) == MAXCLIENTS
    assert admin.call("CONFIG", "SET", "maxclients", "100") == "OK"
    with srv.raw() as third:
        assert third.call("PING") == "PONG"
    admin.close()
    other.close()


def test_slow_reader_is_disconnected_and_memory_bounded(make_server):
    """A client pipelines 2000 GETs of a 1 MiB value (2 GiB of replies) and
    never reads.  The server must cap what it buffers for it, drop it, and
    keep serving everyone else."""
    srv = make_server()
    admin = srv.raw()
    value = b"v" * (1 << 20)
    assert admin.call("SET", "big", value) == "OK"
    rss_before = srv.rss_kb()

    slow = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(encode_command("CLIENT", "ID"))
    slow_id = int(slow.recv(100).strip()[1:])
    slow.sendall(encode_command("GET", "big") * 2000)

    peak = rss_before
    deadline = time.monotonic() + 30
    gone = False
    while time.monotonic() < deadline:
        peak = max(peak, srv.rss_kb())
        listing = admin.call("CLIENT", "LIST").decode()
        if f"id={slow_id} " not in listing:
            gone = True
            break
        time.sleep(0.05)
    peak = max(peak, srv.rss_kb())
    slow.close()
    growth_mib = (peak - rss_before) / 1024
    assert gone, f"slow client still connected after 30s; RSS grew by {growth_mib:.0f} MiB"
    assert growth_mib < 512, f"server RSS grew by {growth_mib:.0f} MiB for one slow reader"
    # Everyone else is still served.
    assert admin.call("PING") == "PONG"
    with srv.raw() as c:
        assert c.call("GET", "big") == value
    admin.close()


def _info_int(conn, field):
    for line in conn.call("INFO", "stats").decode().splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1])
    raise AssertionError(f"{field} not in INFO")


def test_many_slow_readers_are_bounded_together(make_server):
    """64 clients each pipeline 100 GETs of a 256 KiB value and never read. Each alone is
    held at its soft limit (1 MiB and a reply: 4 MiB of buffer), but 64 of them held 256 MiB,
    and 10,000 would hold 40 GiB. With client-output-total-limit at 4 MiB the node holds
    about that and one reply's buffer per client (36 MiB); a client that reads is still
    served, and the count goes back to 0."""
    srv = make_server()
    admin = srv.raw()
    assert admin.call("CONFIG", "SET", "client-output-total-limit", "4mb") == "OK"
    assert admin.call("CONFIG", "SET", "client-output-stall-timeout", "120") == "OK"
    value = b"v" * (256 << 10)
    assert admin.call("SET", "big", value) == "OK"
    slow = []
    for _ in range(64):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(encode_command("GET", "big") * 100)
        slow.append(s)

    def settled(state={"last": -1, "since": time.monotonic()}):
        now = _info_int(admin, "client_output_bytes")
        if now != state["last"]:
            state["last"], state["since"] = now, time.monotonic()
        return time.monotonic() - state["since"] > 1.0
    wait_until(settled, 30, interval=0.1, what="the slow readers' buffered replies to settle")
    peak = _info_int(admin, "client_output_bytes_peak")
    assert peak > 4 << 20, "the test did not reach the limit"
    assert peak < 64 << 20, f"{peak / (1 << 20):.0f} MiB of unsent replies held for 64 clients"
    # Clients that read are served meanwhile.
    assert admin.call("PING") == "PONG"
    with srv.raw() as c:
        for _ in range(5):
            assert c.call("GET", "big") == value
    for s in slow:
        s.close()
    wait_until(lambda: _info_int(admin, "client_output_bytes") == 0, 30, interval=0.1,
               what="the closed clients' replies to be forgotten")
    admin.close()


def test_idle_timeout(make_server):
    srv = make_server(timeout=1)
    idle = srv.raw()
    busy = srv.raw()
    assert idle.call("PING") == "PONG"
    start = time.monotonic()
    # The busy client talks every 200 ms and must survive the idle one.
    while time.monotonic() - start < 2.5:
        assert busy.call("PING") == "PONG"
        time.sleep(0.2)
    idle.expect_eof(10)
    assert busy.call("PING") == "PONG"
    idle.close()
    busy.close()


def test_idle_timeout_config_set(make_server):
    srv = make_server()
    with srv.raw() as admin:
        assert admin.call("CONFIG", "SET", "timeout", "1") == "OK"
        with srv.raw() as idle:
            assert idle.call("PING") == "PONG"
            idle.expect_eof(10)


@pytest.mark.flin_only
def test_max_value_bytes(make_server):
    srv = make_server(max_value_bytes=1024)
    with srv.raw() as c:
        assert c.call("SET", "ok", b"x" * 1024) == "OK"
        assert c.call("GET", "ok") == b"x" * 1024
    # One byte over the limit is refused (an error reply; the connection may
    # then be closed, as Redis does for a bulk over proto-max-bulk-len).
    with srv.raw() as c:
        reply = _reply_or_eof(c, "SET", "big", b"x" * 1025)
        assert isinstance(reply, str) and reply.startswith("ERR"), reply
    # So is a key over the limit.
    with srv.raw() as c:
        reply = _reply_or_eof(c, "SET", b"k" * 1025, "v")
        assert isinstance(reply, str) and reply.startswith("ERR"), reply
    with srv.raw() as c:
        assert c.call("DBSIZE") == 1
        assert c.call("EXISTS", "big") == 0
        # Growing a value past the limit is refused too.
        e = error_of(c, "APPEND", "ok", "y")
        assert e.startswith("ERR"), e
        e = error_of(c, "SETRANGE", "ok", "2000", "y")
        assert e.startswith("ERR"), e
        assert c.call("STRLEN", "ok") == 1024
        assert c.call("PING") == "PONG"
    # CONFIG SET takes effect on connections already open, the one that sets it included.
    with srv.raw() as c, srv.raw() as other:
        assert other.call("PING") == "PONG"
        assert c.call("CONFIG", "SET", "max-value-bytes", "2048") == "OK"
        assert c.call("SET", "ok2", b"x" * 2048) == "OK"
        assert other.call("SET", "ok3", b"x" * 2048) == "OK"
        assert c.call("CONFIG", "SET", "max-value-bytes", "1024") == "OK"
        reply = _reply_or_eof(other, "SET", "big", b"x" * 1025)
        assert isinstance(reply, str) and reply.startswith("ERR"), reply
