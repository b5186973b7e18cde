"""Connection commands: PING ECHO HELLO AUTH SELECT QUIT RESET CLIENT."""
import re
import socket

import pytest

from flinproc import Error, Map, Status, encode_command, error_of

NO_PASSWORD = ("ERR AUTH <password> called without any password configured for the default "
               "user. Are you sure your configuration is correct?")
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
NOAUTH = "NOAUTH Authentication required."


def test_ping_echo(raw):
    assert raw.call("PING") == Status("PONG")
    assert isinstance(raw.call("PING"), Status)
    assert raw.call("PING", "hello") == b"hello"  # a bulk string, not a status
    assert raw.call("ECHO", b"a\x00b\r\n") == b"a\x00b\r\n"
    assert error_of(raw, "ECHO") == "ERR wrong number of arguments for 'echo' command"
    assert error_of(raw, "PING", "a", "b") == "ERR wrong number of arguments for 'ping' command"
    assert raw.call("ping") == "PONG"  # commands are case-insensitive


def _hello_fields(reply):
    if isinstance(reply, Map):
        return {k.decode(): v for k, v in reply}
    assert isinstance(reply, list) and len(reply) % 2 == 0, reply
    return {reply[i].decode(): reply[i + 1] for i in range(0, len(reply), 2)}


def test_hello_2(raw):
    reply = raw.call("HELLO", "2")
    assert isinstance(reply, list) and not isinstance(reply, Map)
    f = _hello_fields(reply)
    assert f["proto"] == 2
    assert isinstance(f["id"], int)
    assert f["id"] == raw.call("CLIENT", "ID")
    for field in ("server", "version", "mode", "role"):
        assert field in f
    assert raw.call("GET", "missing") is None
    raw.send_command("GET", "missing")
    assert raw.read_bytes(len(b"$-1\r\n")) == b"$-1\r\n"


def test_hello_3_switches_to_resp3(raw):
    raw.send_command("HELLO", "3")
    head = raw.read_reply()
    assert isinstance(head, Map), head  # a RESP3 map
    raw.send_command("GET", "missing")
    assert raw.read_bytes(len(b"_\r\n")) == b"_\r\n"  # RESP3 null
    raw.send_command("PING")
    assert raw.read_bytes(len(b"+PONG\r\n")) == b"+PONG\r\n"
    f = _hello_fields(raw.call("HELLO", "3"))
    assert f["proto"] == 3
    # HELLO without a version reports the current protocol.
    assert _hello_fields(raw.call("HELLO"))["proto"] == 3
    # Back to RESP2.
    assert _hello_fields(raw.call("HELLO", "2"))["proto"] == 2
    raw.send_command("GET", "missing")
    assert raw.read_bytes(len(b"$-1\r\n")) == b"$-1\r\n"


def test_hello_errors(raw):
    assert error_of(raw, "HELLO", "4") == "NOPROTO unsupported protocol version"
    assert error_of(raw, "HELLO", "1") == "NOPROTO unsupported protocol version"
    assert error_of(raw, "HELLO", "abc") == "ERR Protocol version is not an integer or out of range"
    # The connection stays in RESP2 and usable.
    assert raw.call("PING") == "PONG"


def test_auth_without_password(raw):
    assert error_of(raw, "AUTH", "secret") == NO_PASSWORD
    assert raw.call("PING") == "PONG"


def test_select(raw):
    assert raw.call("SELECT", "0") == "OK"
    # Flin has db 0 only; Redis is started with --databases 1 to match.
    assert error_of(raw, "SELECT", "1") == "ERR DB index is out of range"
    assert error_of(raw, "SELECT", "-1") == "ERR DB index is out of range"
    assert error_of(raw, "SELECT", "x") == "ERR value is not an integer or out of range"
    assert raw.call("PING") == "PONG"


def test_quit(server):
    with server.raw() as c:
        assert c.call("QUIT") == "OK"
        assert c.expect_eof(5) == b""


def test_reset(raw):
    raw.call("CLIENT", "SETNAME", "before")
    raw.call("HELLO", "3")
    raw.send_command("RESET")
    assert raw.read_bytes(len(b"+RESET\r\n")) == b"+RESET\r\n"
    assert raw.call("CLIENT", "GETNAME") is None
    raw.send_command("GET", "missing")
    assert raw.read_bytes(len(b"$-1\r\n")) == b"$-1\r\n"  # back to RESP2


def test_client_id_name_info_list(server, raw):
    my_id = raw.call("CLIENT", "ID")
    assert isinstance(my_id, int)
    with server.raw() as other:
        other_id = other.call("CLIENT", "ID")
        assert other_id != my_id
        assert raw.call("CLIENT", "GETNAME") is None
        assert raw.call("CLIENT", "SETNAME", "tester") == "OK"
        assert raw.call("CLIENT", "GETNAME") == b"tester"
        assert error_of(raw, "CLIENT", "SETNAME", "has space") == \
            "ERR Client names cannot contain spaces, newlines or special characters."
        info = raw.call("CLIENT", "INFO").decode()
        assert info.endswith("\n") and info.count("\n") == 1
        assert f"id={my_id} " in info and " name=tester " in info
        host, port = raw.sock.getsockname()
        assert f" addr={host}:{port} " in info
        listing = raw.call("CLIENT", "LIST").decode()
        lines = [line for line in listing.split("\n") if line]
        assert any(line.startswith(f"id={my_id} ") and " name=tester " in line for line in lines)
        assert any(line.startswith(f"id={other_id} ") for line in lines)
        # An empty name clears it.
        assert raw.call("CLIENT", "SETNAME", "") == "OK"
        assert raw.call("CLIENT", "GETNAME") is None


def _client_fields(conn, client_id):
    listing = conn.call("CLIENT", "LIST").decode()
    line = next(line for line in listing.split("\n") if line.startswith(f"id={client_id} "))
    return dict(field.split("=", 1) for field in line.split(" "))


def test_client_list_shows_multi(server, raw):
    with server.raw() as other:
        other_id = other.call("CLIENT", "ID")
        fields = _client_fields(raw, other_id)
        assert fields["multi"] == "-1" and fields["flags"] == "N"
        assert other.call("MULTI") == "OK"
        assert _client_fields(raw, other_id)["multi"] == "0"
        assert other.call("SET", "cl-multi", "v" * 100) == "QUEUED"
        assert other.call("GET", "cl-multi") == "QUEUED"
        fields = _client_fields(raw, other_id)
        assert fields["multi"] == "2" and "x" in fields["flags"]
        assert int(fields["multi-mem"]) > 0
        assert other.call("EXEC") == ["OK", b"v" * 100]
        fields = _client_fields(raw, other_id)
        assert fields["multi"] == "-1" and fields["flags"] == "N"


def test_client_kill_by_id(server, raw):
    with server.raw() as victim:
        vid = victim.call("CLIENT", "ID")
        assert raw.call("CLIENT", "KILL", "ID", vid) == 1
        victim.expect_eof(5)
    assert raw.call("CLIENT", "KILL", "ID", "999999999") == 0
    assert raw.call("PING") == "PONG"


def test_client_kill_by_addr(server, raw):
    with server.raw() as victim:
        assert victim.call("PING") == "PONG"
        host, port = victim.sock.getsockname()
        assert raw.call("CLIENT", "KILL", "ADDR", f"{host}:{port}") == 1
        victim.expect_eof(5)
    with server.raw() as victim:
        assert victim.call("PING") == "PONG"
        host, port = victim.sock.getsockname()
        # The old form: CLIENT KILL ip:port answers +OK.
        assert raw.call("CLIENT", "KILL", f"{host}:{port}") == "OK"
        victim.expect_eof(5)
    assert error_of(raw, "CLIENT", "KILL", "127.0.0.1:1") == "ERR No such client"
    assert raw.call("CLIENT", "KILL", "ADDR", "127.0.0.1:1") == 0


@pytest.mark.parametrize("how", ["type", "id", "addr", "old"])
def test_a_connection_that_kills_itself_runs_nothing_after_it(server, raw, how):
    """CLIENT KILL of the connection itself (SKIPME no, or by its own address): the commands it
    pipelined after the kill must not run (as in Redis), nor answer. Found by a probe in
    session 22: SET b and SET c, sent in the same write after the kill, were applied."""
    with server.raw() as victim:
        vid = victim.call("CLIENT", "ID")
        host, port = victim.sock.getsockname()
        kill = {"type": [b"TYPE", b"normal", b"SKIPME", b"no"],
                "id": [b"ID", str(vid).encode(), b"SKIPME", b"no"],
                "addr": [b"ADDR", f"{host}:{port}".encode(), b"SKIPME", b"no"],
                "old": [f"{host}:{port}".encode()]}[how]
        victim.send(b"".join(encode_command(*c) for c in (
            [b"SET", b"self-a", b"1"], [b"CLIENT", b"KILL"] + kill,
            [b"SET", b"self-b", b"2"], [b"SET", b"self-c", b"3"])))
        got = victim.expect_eof(5)
        # The SET's reply and the kill's (TYPE normal kills every client connection), no more.
        assert re.fullmatch(rb"\+OK\r\n" + (rb"\+OK" if how == "old" else rb":[1-9]\d*") + rb"\r\n",
                            got), got
    with server.raw() as check:  # (TYPE normal SKIPME no killed `raw` too)
        assert check.call("GET", "self-a") == b"1"
        assert check.call("EXISTS", "self-b", "self-c") == 0
        check.call("DEL", "self-a")


def test_client_errors(raw):
    assert error_of(raw, "CLIENT", "FOO") == "ERR unknown subcommand 'FOO'. Try CLIENT HELP."
    assert error_of(raw, "CLIENT") == "ERR wrong number of arguments for 'client' command"
    assert raw.call("PING") == "PONG"


def test_auth_and_hello_auth(make_server):
    srv = make_server(requirepass="s3cret")
    with srv.raw() as c:
        assert error_of(c, "GET", "k") == NOAUTH
        assert error_of(c, "SET", "k", "v") == NOAUTH
        assert error_of(c, "PING") == NOAUTH
        assert error_of(c, "AUTH", "wrong") == WRONGPASS
        assert error_of(c, "AUTH", "default", "wrong") == WRONGPASS
        assert error_of(c, "GET", "k") == NOAUTH
        # The arity is judged first (Redis's order), and a refused EXEC says EXECABORT.
        assert error_of(c, "GET") == "ERR wrong number of arguments for 'get' command"
        assert error_of(c, "EXEC") == \
            "EXECABORT Transaction discarded because of: NOAUTH Authentication required."
        assert c.call("AUTH", "s3cret") == "OK"
        assert c.call("SET", "k", "v") == "OK"
        assert c.call("GET", "k") == b"v"
        # RESET drops the authentication.
        assert c.call("RESET") == "RESET"
        assert error_of(c, "GET", "k") == NOAUTH
        assert c.call("AUTH", "default", "s3cret") == "OK"
        assert c.call("GET", "k") == b"v"
    with srv.raw() as c:
        assert error_of(c, "HELLO", "2", "AUTH", "default", "wrong") == WRONGPASS
        assert error_of(c, "GET", "k") == NOAUTH
        assert error_of(c, "HELLO", "3").startswith("NOAUTH ")
        assert _hello_fields(c.call("HELLO", "2", "AUTH", "default", "s3cret"))["proto"] == 2
        assert c.call("GET", "k") == b"v"
    with srv.raw() as c:
        c.send_command("HELLO", "3", "AUTH", "default", "s3cret")
        assert isinstance(c.read_reply(), Map)
        assert c.call("GET", "k") == b"v"
    # QUIT is allowed before AUTH; SHUTDOWN is not (any client could stop the server).
    with srv.raw() as c:
        assert error_of(c, "SHUTDOWN") == NOAUTH
        assert error_of(c, "SHUTDOWN", "NOW") == NOAUTH
        assert c.call("QUIT") == "OK"
        c.expect_eof(5)
    assert srv.alive(), "SHUTDOWN before AUTH stopped the server"
    # And redis-py with a password just works.
    client = srv.client()
    assert client.get("k") == b"v"
    client.close()


def test_hello_auth_without_a_password(raw):
    # Without requirepass the default user takes any password, in HELLO as in AUTH (clients
    # such as Lettuce, or redis-py with protocol=3, send their credentials in HELLO).
    assert _hello_fields(raw.call("HELLO", "2", "AUTH", "default", "anything"))["proto"] == 2
    assert raw.call("AUTH", "default", "anything") == "OK"
    assert error_of(raw, "HELLO", "2", "AUTH", "someone", "anything") == WRONGPASS
    assert error_of(raw, "AUTH", "someone", "anything") == WRONGPASS
    assert raw.call("PING") == "PONG"


@pytest.mark.flin_only
@pytest.mark.parametrize("cmd", [["BLPOP", "k", "0"], ["ZADD", "k", "1", "m"],
                                 ["XADD", "k", "*", "f", "v"]])
def test_other_data_types_are_unknown_commands(raw, cmd):
    args = " ".join(f"'{a}'" for a in cmd[1:])
    assert error_of(raw, *cmd) == \
        f"ERR unknown command '{cmd[0]}', with args beginning with: {args} "
    assert raw.call("PING") == "PONG"


def test_error_reply_is_error_type(raw):
    assert isinstance(raw.call("NOSUCHCOMMAND"), Error)


RESP3_REPLIES = [
    (("MGET", "a", "missing"), b"*2\r\n$1\r\n1\r\n_\r\n"),
    (("SET", "a", "2", "NX"), b"_\r\n"),
    (("GETEX", "missing"), b"_\r\n"),
    (("GETDEL", "missing"), b"_\r\n"),
    (("GET", "missing"), b"_\r\n"),
    (("CLIENT", "GETNAME"), b"_\r\n"),
    (("CONFIG", "GET", "timeout"), b"%1\r\n$7\r\ntimeout\r\n$1\r\n0\r\n"),
    (("INCRBYFLOAT", "f", "1.5"), b"$3\r\n1.5\r\n"),
    (("TTL", "a"), b":-1\r\n"),
    (("EXISTS", "a"), b":1\r\n"),
    (("KEYS", "nomatch"), b"*0\r\n"),
    (("SET", "a", "3", "GET"), b"$1\r\n1\r\n"),
    (("COMMAND", "INFO", "nosuchcmd"), b"*1\r\n_\r\n"),
    (("SET", "a", "4"), b"+OK\r\n"),
    (("FOO",), b"-ERR unknown command 'FOO', with args beginning with: \r\n"),
]


def test_resp3_reply_types(raw):
    raw.call("HELLO", "3")
    raw.send_command("SET", "a", "1")
    assert raw.read_bytes(len(b"+OK\r\n")) == b"+OK\r\n"
    for cmd, expected in RESP3_REPLIES:
        raw.send_command(*cmd)
        assert raw.read_bytes(len(expected)) == expected, cmd
    raw.send_command("INFO", "keyspace")
    assert raw.read_bytes(1) == b"="  # a verbatim string
    assert raw._exact(int(raw._line())).startswith(b"txt:# Keyspace")
    cursor, keys = raw.call("SCAN", "0")
    assert cursor == b"0" and sorted(keys) == [b"a", b"f"]


def _nothing_yet(conn, wait=0.3):
    """True if no reply arrived within `wait` s: a held command (no threshold on an answer's
    speed: only that none came while the pause lasts)."""
    conn.sock.settimeout(wait)
    try:
        conn.sock.recv(1, socket.MSG_PEEK)
        return False
    except TimeoutError:
        return True
    finally:
        conn.sock.settimeout(10)


def test_client_pause_write_holds_writes_until_unpause(server, raw):
    with server.raw() as writer, server.raw() as reader:
        assert raw.call("SET", "pk", "before") == "OK"
        assert raw.call("CLIENT", "PAUSE", "60000", "WRITE") == "OK"
        try:
            writer.send_command("SET", "pk", "after")
            assert _nothing_yet(writer)               # held
            assert reader.call("GET", "pk") == b"before"  # reads go on
            assert reader.call("PING") == "PONG"
        finally:
            assert reader.call("CLIENT", "UNPAUSE") == "OK"  # not a write: it runs
        assert writer.read_reply() == "OK"            # released, in order
        assert reader.call("GET", "pk") == b"after"


def test_client_pause_all_holds_everything_until_it_ends(server, raw):
    with server.raw() as other:
        assert raw.call("CLIENT", "PAUSE", "300") == "OK"
        other.send_command("PING")
        assert other.read_reply() == "PONG"  # answered once the 300 ms are over
        # A second, weaker pause keeps the stricter kind (ALL) and the later end (3 s).
        assert raw.call("CLIENT", "PAUSE", "3000", "WRITE") == "OK"
        assert raw.call("CLIENT", "PAUSE", "10", "ALL") == "OK"
        other.send_command("GET", "x")
        assert _nothing_yet(other)  # even a read waits
        raw.send_command("CLIENT", "UNPAUSE")  # held too, as in Redis, until the end
        assert _nothing_yet(raw)
        assert other.read_reply() is None
        assert raw.read_reply() == "OK"


def test_client_pause_errors(raw):
    assert error_of(raw, "CLIENT", "PAUSE", "x") == "ERR timeout is not an integer or out of range"
    assert error_of(raw, "CLIENT", "PAUSE", "-1") == "ERR timeout is negative"
    assert error_of(raw, "CLIENT", "PAUSE", "10", "foo") == \
        "ERR CLIENT PAUSE mode must be WRITE or ALL"
    assert error_of(raw, "CLIENT", "PAUSE", "10", "write", "x") == \
        "ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP."
    assert error_of(raw, "CLIENT", "UNPAUSE", "x") == \
        "ERR wrong number of arguments for 'client|unpause' command"


def test_client_reply_off_skip_on(server, raw):
    raw.send(encode_command("CLIENT", "REPLY", "SKIP") + encode_command("SET", "rk", "1") +
             encode_command("GET", "rk") +
             encode_command("CLIENT", "REPLY", "OFF") + encode_command("INCR", "rk") +
             encode_command("GET", "rk") + encode_command("NOSUCHCMD") +
             encode_command("CLIENT", "REPLY", "ON") + encode_command("GET", "rk"))
    # Only GET (after the skipped SET), ON's OK and the last GET answer.
    assert raw.read_reply() == b"1"
    assert raw.read_reply() == "OK"
    assert raw.read_reply() == b"2"
    assert error_of(raw, "CLIENT", "REPLY", "MAYBE") == "ERR syntax error"
    assert error_of(raw, "CLIENT", "REPLY") == \
        "ERR wrong number of arguments for 'client|reply' command"
    # A skipped write still runs, and a transaction's replies go too.
    raw.send(encode_command("CLIENT", "REPLY", "SKIP") + encode_command("DEL", "rk") +
             encode_command("CLIENT", "REPLY", "OFF") + encode_command("MULTI") +
             encode_command("SET", "rk", "3") + encode_command("EXEC") +
             encode_command("CLIENT", "REPLY", "ON") + encode_command("GET", "rk"))
    assert raw.read_reply() == "OK"
    assert raw.read_reply() == b"3"
