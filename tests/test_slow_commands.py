"""Commands that walk every key (DBSIZE, KEYS, INFO keyspace): they run on a background
worker, so the other clients of the I/O thread they arrived on are not held up while they
walk, and their answer is the store as of the command's place among its connection's
commands."""
import pytest

from flinproc import RawConn, encode_command

KEYS = 200_000


def _load(r, n, prefix="k"):
    """n keys in MSETs of 1000 (one log entry each)."""
    with r.pipeline(transaction=False) as p:
        for start in range(0, n, 1000):
            p.mset({f"{prefix}:{i:07d}": "v" for i in range(start, min(n, start + 1000))})
        p.execute()


def test_a_pipelined_write_after_a_walk_is_not_counted_by_it(make_server):
    srv = make_server(threads=1)
    r = srv.client()
    _load(r, KEYS)
    with RawConn(srv.port) as busy, RawConn(srv.port) as c:
        # Another client's KEYS keeps the worker busy, so c's DBSIZE walks only after c's
        # SET, pipelined behind it, was applied: it must not count it all the same.
        # ("zz" sorts last.)
        busy.send_command("KEYS", "*")
        assert c.call("PING") == "PONG"  # the KEYS arrived first (same I/O thread)
        c.send(encode_command("DBSIZE") + encode_command("SET", "zz:new", "v") +
               encode_command("DBSIZE") + encode_command("KEYS", "zz*"))
        assert c.read_reply() == KEYS
        assert c.read_reply() == "OK"
        assert c.read_reply() == KEYS + 1
        assert c.read_reply() == [b"zz:new"]
        assert len(busy.read_reply()) == KEYS
    r.close()


@pytest.mark.flin_only  # Redis runs KEYS on its one thread
def test_other_clients_are_answered_while_a_walk_runs(make_server):
    srv = make_server(threads=1)  # every connection on the same I/O thread
    r = srv.client()
    _load(r, KEYS)
    with RawConn(srv.port) as slow, RawConn(srv.port) as quick:
        assert quick.call("PING") == "PONG"  # connected and served
        slow.send_command("KEYS", "*")  # walks 200 K keys and builds a 4 MB reply
        # Answered while the walk goes on: the KEYS reply is not complete before the PONG.
        assert quick.call("PING") == "PONG"
        slow.sock.setblocking(False)
        try:
            early = slow.sock.recv(1 << 24)
        except BlockingIOError:
            early = b""
        slow.sock.setblocking(True)
        # Held on the I/O thread, the walk (a hundred milliseconds or more) and its reply
        # would have come first, and some of the reply would be waiting here.
        assert early == b"", "KEYS answered before the PING: it held the I/O thread"
        slow.buf += early
        keys = slow.read_reply()
        assert len(keys) == KEYS
        assert quick.call("DBSIZE") == KEYS
    r.close()
