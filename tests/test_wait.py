"""WAIT numreplicas timeout: how many replicas hold the connection's writes.

A single node (and Redis without replicas) counts 0: at once when numreplicas <= 0, else after
the timeout.  On a 3-node cluster every partition has 2 followers; WAIT counts those holding
every write the connection made before it, at once when enough do, else at the timeout; a
killed follower is not counted, and is again once it has caught up (that part:
test_cluster_notifications.py).  Flin's design: src/server/replication_family.cc.
"""
import flinproc
from flinproc import error_of


def test_errors(raw):
    assert error_of(raw, "WAIT") == "ERR wrong number of arguments for 'wait' command"
    assert error_of(raw, "WAIT", "1") == "ERR wrong number of arguments for 'wait' command"
    assert error_of(raw, "WAIT", "x", "0") == "ERR value is not an integer or out of range"
    assert error_of(raw, "WAIT", "0", "x") == "ERR timeout is not an integer or out of range"
    assert error_of(raw, "WAIT", "0", "1.5") == "ERR timeout is not an integer or out of range"
    assert error_of(raw, "WAIT", "0", "-1") == "ERR timeout is negative"


def test_without_replicas(raw):
    raw.call("SET", "k", "v")
    assert raw.call("WAIT", "0", "0") == 0
    assert raw.call("WAIT", "-1", "0") == 0
    # Nobody can acknowledge: it answers 0 once the timeout has passed.
    assert raw.call("WAIT", "1", "50") == 0
    # The connection goes on normally after a WAIT that waited.
    assert raw.call("GET", "k") == b"v"


def test_pipelined_behind_writes(raw):
    raw.send(flinproc.encode_command("SET", "a", "1") + flinproc.encode_command("WAIT", "0", "0")
             + flinproc.encode_command("INCR", "a") + flinproc.encode_command("WAIT", "1", "20")
             + flinproc.encode_command("GET", "a"))
    assert [raw.read_reply() for _ in range(5)] == [flinproc.Status("OK"), 0, 2, 0, b"2"]
