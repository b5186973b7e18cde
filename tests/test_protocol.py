"""The wire: malformed RESP, inline commands, pipelining, generic errors."""
import socket
import time

import pytest

from flinproc import encode_command, error_of, is_redis


def _protocol_error_then_close(server, payload):
    """Send payload on a fresh connection; return the error line the server
    sent before closing it.  Other clients must still be served."""
    with server.raw() as c:
        c.send(payload)
        rest = c.expect_eof(10)
    assert rest.startswith(b"-ERR Protocol error: ") and rest.endswith(b"\r\n"), rest
    assert rest.count(b"\r\n") == 1, rest
    with server.raw() as other:
        assert other.call("PING") == "PONG"
    return rest[1:-2].decode()


@pytest.mark.parametrize("payload,msg", [
    (b"*1\r\n+PING\r\n", "ERR Protocol error: expected '$', got '+'"),
    (b"*1\r\n:1\r\n", "ERR Protocol error: expected '$', got ':'"),
    (b"*2\r\n$4\r\nECHO\r\nxyz\r\n", "ERR Protocol error: expected '$', got 'x'"),
    (b"*1\r\n$-1\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$-5\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$abc\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$9999999999\r\n", "ERR Protocol error: invalid bulk length"),  # 10 GB
    (b"*1\r\n$99999999999999999999999\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*abc\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*99999999999\r\n", "ERR Protocol error: invalid multibulk length"),
    # A header line ended by a bare LF (CR missing) is not a number.
    (b"*1\n$4\r\nPING\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*1\r\n$4\nPING\r\n", "ERR Protocol error: invalid bulk length"),
    (b'SET "a b\r\n', "ERR Protocol error: unbalanced quotes in request"),
    (b"SET 'a b\r\n", "ERR Protocol error: unbalanced quotes in request"),
    (b'SET "a"b c\r\n', "ERR Protocol error: unbalanced quotes in request"),
])
def test_malformed_resp_closes_connection(server, payload, msg):
    assert _protocol_error_then_close(server, payload) == msg


def test_protocol_error_after_good_commands(server):
    """Replies to the good commands before the bad one arrive first."""
    with server.raw() as c:
        c.send(encode_command("SET", "pe", "1") + encode_command("GET", "pe") + b"*1\r\n+X\r\n"
               + encode_command("PING"))
        assert c.read_reply() == "OK"
        assert c.read_reply() == b"1"
        assert c.expect_eof(10) == b"-ERR Protocol error: expected '$', got '+'\r\n"


def test_negative_multibulk_length(server):
    """Redis skips '*-5' (a null array) and serves the next command; a server
    may instead reject it with a protocol error.  Either way: no crash."""
    with server.raw() as c:
        c.send(b"*-5\r\n*1\r\n$4\r\nPING\r\n")
        try:
            first = c.read_reply()
        except (EOFError, ConnectionResetError):
            first = None
        if first != "PONG":
            assert isinstance(first, str) and first.startswith("ERR Protocol error"), first
            c.expect_eof(10)
    with server.raw() as other:
        assert other.call("PING") == "PONG"


def _send_until_answered(conn, chunk, limit):
    """Send chunk repeatedly (up to limit bytes) until the server answers or
    closes; return what it sent."""
    conn.sock.setblocking(False)
    sent, got = 0, b""
    try:
        while sent < limit:
            try:
                got = conn.sock.recv(65536)
                if got is not None:
                    break
            except BlockingIOError:
                pass
            try:
                sent += conn.sock.send(chunk)
            except BlockingIOError:
                time.sleep(0.001)
            except (BrokenPipeError, ConnectionResetError):
                break
    finally:
        conn.sock.setblocking(True)
        conn.sock.settimeout(10)
    if not got:
        try:
            got = conn.expect_eof(10)
        except ConnectionResetError:
            got = b""
    return got


@pytest.mark.parametrize("start,msg", [
    (b"", "ERR Protocol error: too big inline request"),
    (b"*", "ERR Protocol error: too big mbulk count string"),
    (b"*1\r\n$", "ERR Protocol error: too big bulk count string"),
])
def test_request_over_the_limit(server, start, msg):
    """A line that never ends (64 KB in Redis; here up to 8 MiB) is refused."""
    with server.raw() as c:
        c.send(start)
        filler = b"1" * 65536 if start else b"x" * 65536
        got = _send_until_answered(c, filler, 8 << 20)
        assert got.startswith(f"-{msg}\r\n".encode()), got[:200]
    with server.raw() as other:
        assert other.call("PING") == "PONG"


def test_wrong_arity_unknown_command_syntax(raw):
    assert error_of(raw, "GET") == "ERR wrong number of arguments for 'get' command"
    assert error_of(raw, "get") == "ERR wrong number of arguments for 'get' command"
    assert error_of(raw, "STRLEN", "a", "b") == "ERR wrong number of arguments for 'strlen' command"
    assert error_of(raw, "foo", "a", "b") == \
        "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
    assert error_of(raw, "FOO") == "ERR unknown command 'FOO', with args beginning with: "
    assert error_of(raw, "CONFIG", "NOPE") == "ERR unknown subcommand 'NOPE'. Try CONFIG HELP."
    assert error_of(raw, "SET", "k", "v", "BOGUS") == "ERR syntax error"
    # The connection stays usable after every one of them.
    assert raw.call("SET", "k", "v") == "OK"
    assert raw.call("GET", "k") == b"v"


def test_command_names_ignore_ascii_case_only(raw):
    assert raw.call("PiNg") == "PONG"
    assert raw.call("sEt", "k", "v") == "OK"
    assert raw.call("gET", "k") == b"v"
    # The neighbours of A-Z and bytes beyond ASCII are not letters: no command matches.
    for name in ("@ET", "[ET", "G\u00c9T"):
        assert error_of(raw, name).startswith(f"ERR unknown command '{name}'"), name
    assert raw.call("PING") == "PONG"


def test_empty_command_name(raw):
    assert error_of(raw, "") == "ERR unknown command '', with args beginning with: "
    assert raw.call("PING") == "PONG"


def test_inline_commands(raw):
    raw.send(b"SET a b\r\n")
    assert raw.read_reply() == "OK"
    raw.send(b"GET a\r\n")
    assert raw.read_reply() == b"b"
    raw.send(b'SET "key with space" "val\\x41\\n"\r\nGET "key with space"\r\n')
    assert raw.read_reply() == "OK"
    assert raw.read_reply() == b"valA\n"


def test_inline_details(server):
    with server.raw() as c:
        c.send(b"SET 'single q' 'x y'\r\nGET 'single q'\r\n")
        assert c.read_reply() == "OK"
        assert c.read_reply() == b"x y"
        c.send(b"PING\n")  # a bare LF ends an inline command too
        assert c.read_reply() == "PONG"
        c.send(b"\r\n\r\n   \r\nPING\r\n")  # empty lines are ignored
        assert c.read_reply() == "PONG"
        c.send(b"  ECHO    spaced   \r\n")
        assert c.read_reply() == b"spaced"
        c.send(b"GET\r\n")
        assert c.read_reply() == "ERR wrong number of arguments for 'get' command"
        c.send(b"ping\r\n")
        assert c.read_reply() == "PONG"


def test_pipeline_10000_in_one_write(raw):
    n = 10000
    parts = []
    for i in range(n):
        if i % 3 == 0:
            parts.append(encode_command("SET", f"p:{i}", f"v{i}"))
        elif i % 3 == 1:
            parts.append(encode_command("GET", f"p:{i - 1}"))
        else:
            parts.append(encode_command("INCR", "counter"))
    raw.send(b"".join(parts))
    incr = 0
    for i in range(n):
        reply = raw.read_reply()
        if i % 3 == 0:
            assert reply == "OK", (i, reply)
        elif i % 3 == 1:
            assert reply == f"v{i - 1}".encode(), (i, reply)
        else:
            incr += 1
            assert reply == incr, (i, reply)
    assert raw.call("GET", "counter") == str(incr).encode()


def _fsyncs(raw):
    info = raw.call("INFO", "persistence").decode()
    for line in info.splitlines():
        if line.startswith("log_fsyncs:"):
            return int(line.split(":")[1])
    return None


def test_pipeline_mixed_reads_and_writes_share_fsyncs(raw):
    """10,000 pipelined commands alternating SET and GET, in one write.
    Redis (appendfsync always) runs the batch and fsyncs once before replying.
    A server that waits for an fsync at every write-then-read step of a
    pipeline needs one fsync per pair.  Counted, not timed: on Flin the number
    of log fsyncs (INFO persistence) must stay far below the number of SETs."""
    n = 5000
    before = None if is_redis() else _fsyncs(raw)
    payload = b"".join(encode_command("SET", f"mx:{i}", "v") + encode_command("GET", f"mx:{i}")
                       for i in range(n))
    raw.send(payload)
    for i in range(n):
        assert raw.read_reply() == "OK"
        assert raw.read_reply() == b"v"
    if before is not None:
        used = _fsyncs(raw) - before
        assert used < n / 10, f"{n} pipelined SET+GET pairs took {used} fsyncs"


def test_pipeline_inline_mixed(raw):
    raw.send(b"PING\r\n" + encode_command("ECHO", "x") + b"ECHO y\r\n" * 100 + encode_command("PING"))
    assert raw.read_reply() == "PONG"
    assert raw.read_reply() == b"x"
    for _ in range(100):
        assert raw.read_reply() == b"y"
    assert raw.read_reply() == "PONG"


def test_request_split_byte_by_byte(raw):
    payload = encode_command("SET", "split", "a\r\nb") + encode_command("GET", "split")
    raw.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(len(payload)):
        raw.send(payload[i:i + 1])
    assert raw.read_reply() == "OK"
    assert raw.read_reply() == b"a\r\nb"


def test_large_multibulk_value_in_pieces(raw):
    value = bytes(range(256)) * 4096  # 1 MiB
    payload = encode_command("SET", "big", value)
    for i in range(0, len(payload), 7777):
        raw.send(payload[i:i + 7777])
    assert raw.read_reply() == "OK"
    assert raw.call("GET", "big") == value


def test_many_args(raw):
    keys = [f"m:{i}" for i in range(5000)]
    args = []
    for k in keys:
        args += [k, k]
    assert raw.call("MSET", *args) == "OK"
    assert raw.call("MGET", *keys) == [k.encode() for k in keys]
    assert raw.call("DEL", *keys) == 5000
