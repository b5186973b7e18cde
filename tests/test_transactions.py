"""MULTI / EXEC / DISCARD: queueing, Redis's replies and errors, and atomicity.

The same tests run against redis-server (FLIN_TARGET=redis), except those marked flin_only.
"""
import threading

import pytest

from flinproc import Error, error_of

EXECABORT = "EXECABORT Transaction discarded because of previous errors."
NOT_INT = "ERR value is not an integer or out of range"


def test_exec_runs_the_queued_commands_and_answers_an_array(raw):
    assert raw.call("MULTI") == "OK"
    for cmd in (("SET", "a", "1"), ("INCR", "a"), ("GET", "a"), ("MGET", "a", "nope"),
                ("DEL", "nope"), ("EXPIRE", "a", "100"), ("TTL", "a")):
        assert raw.call(*cmd) == "QUEUED"
    assert raw.call("EXEC") == ["OK", 2, b"2", [b"2", None], 0, 1, 100]
    assert raw.call("GET", "a") == b"2"


def test_a_command_that_fails_when_run_is_its_reply_and_the_others_still_run(raw):
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "s", "abc") == "QUEUED"
    assert raw.call("INCR", "s") == "QUEUED"          # not an integer: fails when run
    assert raw.call("SET", "x", "1", "EX", "abc") == "QUEUED"  # a syntax error, as in Redis
    assert raw.call("SET", "t", "done") == "QUEUED"
    reply = raw.call("EXEC")
    assert reply[0] == "OK"
    assert isinstance(reply[1], Error) and str(reply[1]) == NOT_INT
    assert isinstance(reply[2], Error) and str(reply[2]) == NOT_INT
    assert reply[3] == "OK"
    assert raw.call("GET", "t") == b"done"
    assert raw.call("GET", "x") is None


@pytest.mark.parametrize("bad", [("NOSUCHCOMMAND", "x"), ("SET", "only-a-key"), ("GET",)])
def test_a_command_refused_while_queueing_aborts_the_whole_transaction(raw, bad):
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "before", "1") == "QUEUED"
    assert isinstance(raw.call(*bad), Error)
    assert raw.call("SET", "after", "1") == "QUEUED"
    assert error_of(raw, "EXEC") == EXECABORT
    assert raw.call("EXISTS", "before", "after") == 0
    # The connection is out of MULTI again.
    assert raw.call("SET", "k", "v") == "OK"


def test_discard_drops_the_queue(raw):
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "k", "v") == "QUEUED"
    assert raw.call("DISCARD") == "OK"
    assert raw.call("GET", "k") is None
    assert error_of(raw, "DISCARD") == "ERR DISCARD without MULTI"


def test_misuse_errors(raw):
    assert error_of(raw, "EXEC") == "ERR EXEC without MULTI"
    assert error_of(raw, "DISCARD") == "ERR DISCARD without MULTI"
    assert raw.call("MULTI") == "OK"
    assert error_of(raw, "MULTI") == "ERR MULTI calls can not be nested"
    assert raw.call("SET", "k", "v") == "QUEUED"   # a nested MULTI does not abort
    assert raw.call("EXEC") == ["OK"]
    assert raw.call("MULTI") == "OK"
    assert raw.call("EXEC") == []


def test_exec_refused_for_its_arguments_discards_the_transaction(server, raw):
    # As Redis: EXECABORT naming the error, the queue and the watched keys dropped, with or
    # without MULTI.
    abort = "EXECABORT Transaction discarded because of: wrong number of arguments for " \
            "'exec' command"
    assert error_of(raw, "EXEC", "x") == abort
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "k", "v") == "QUEUED"
    assert error_of(raw, "EXEC", "x") == abort
    assert error_of(raw, "EXEC") == "ERR EXEC without MULTI"
    assert raw.call("GET", "k") is None
    raw.call("SET", "w", "1")
    assert raw.call("WATCH", "w") == "OK"
    assert error_of(raw, "EXEC", "x") == abort
    other = server.client()
    other.set("w", "2")  # no longer watched: the next transaction runs
    other.close()
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "x", "1") == "QUEUED"
    assert raw.call("EXEC") == ["OK"]


def test_reset_leaves_multi(raw):
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "k", "v") == "QUEUED"
    assert raw.call("RESET") == "RESET"
    assert error_of(raw, "EXEC") == "ERR EXEC without MULTI"
    assert raw.call("GET", "k") is None


@pytest.mark.flin_only
def test_flushall_is_refused_inside_a_transaction(raw):
    """A flush is a range deletion written apart from the transaction's batch (readers would
    see the flush without the writes after it), so it cannot join one (Redis allows it)."""
    raw.call("SET", "old", "1")
    assert raw.call("MULTI") == "OK"
    assert "cannot be used inside MULTI" in error_of(raw, "FLUSHALL")
    assert raw.call("SET", "new", "1") == "QUEUED"
    assert error_of(raw, "EXEC") == EXECABORT
    assert raw.call("DBSIZE") == 1


@pytest.mark.flin_only
def test_queued_bytes_count_against_the_pending_write_limit(server, raw):
    """What MULTI queues is held by the server until EXEC: all connections' transactions
    together stay within pending-write-limit, so that many cannot queue without bound, and
    apart from the writes in flight, which an idle transaction must not block."""
    limit = raw.call("CONFIG", "GET", "pending-write-limit")[1]
    assert raw.call("CONFIG", "SET", "pending-write-limit", "1mb") == "OK"
    try:
        assert raw.call("MULTI") == "OK"
        assert raw.call("SET", "a", "x" * 600_000) == "QUEUED"
        other = server.raw()
        assert other.call("MULTI") == "OK"
        reply = other.call("SET", "b", "y" * 600_000)
        assert isinstance(reply, Error) and str(reply).startswith("TRYAGAIN"), reply
        assert error_of(other, "EXEC") == EXECABORT
        assert other.call("SET", "plain", "y" * 600_000) == "OK"  # not blocked by raw's
        other.close()
        assert raw.call("EXEC") == ["OK"]   # and its bytes are given back:
        assert raw.call("MULTI") == "OK"
        assert raw.call("SET", "b", "y" * 600_000) == "QUEUED"
        assert raw.call("EXEC") == ["OK"]
    finally:
        raw.call("CONFIG", "SET", "pending-write-limit", limit)


@pytest.mark.flin_only
def test_commands_that_do_not_go_through_the_log_are_refused_inside_multi(raw):
    """Flin runs a transaction as one log entry; KEYS, SCAN, DBSIZE, PING... are not applied
    from the log, so they cannot be part of one (Redis queues them)."""
    raw.call("SET", "k", "v")
    assert raw.call("MULTI") == "OK"
    assert "cannot be used inside MULTI" in error_of(raw, "KEYS", "*")
    assert error_of(raw, "EXEC") == EXECABORT
    # And the internal entry EXEC makes cannot be sent by a client.
    assert error_of(raw, "flin.exec", "x").startswith("ERR unknown command")


def test_redis_py_pipeline_is_a_transaction(r):
    p = r.pipeline()  # transaction=True: MULTI ... EXEC
    p.set("k", "v").incr("n").get("k").mget("k", "n")
    assert p.execute() == [True, 1, b"v", [b"v", b"1"]]
    p = r.pipeline()
    p.set("s", "text").incr("s").set("after", "1")
    res = p.execute(raise_on_error=False)
    assert res[0] is True and res[2] is True
    assert "value is not an integer or out of range" in str(res[1])


def test_a_transaction_is_atomic_to_other_clients(server, r):
    """Writers set a and b to the same number in one transaction, readers MGET both: a reader
    must never see them differ (it would if EXEC ran its commands one by one)."""
    stop = threading.Event()
    bad = []
    errors = []

    def writer(wid):
        c = server.client()
        try:
            for i in range(150):
                p = c.pipeline()
                p.set("a", f"{wid}-{i}").set("b", f"{wid}-{i}")
                p.execute()
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        finally:
            c.close()

    def reader():
        c = server.client()
        try:
            while not stop.is_set():
                a, b = c.mget("a", "b")
                if a != b:
                    bad.append((a, b))
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        finally:
            c.close()

    readers = [threading.Thread(target=reader) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(timeout=120)
    stop.set()
    for t in readers:
        t.join(timeout=30)
    assert not errors
    assert not bad, bad[:5]
    assert r.get("a") == r.get("b")


def test_an_executed_transaction_survives_a_restart(make_server):
    srv = make_server()
    c = srv.client()
    p = c.pipeline()
    p.set("x", "1").incrby("x", 41).set("y", "z")
    assert p.execute() == [True, 42, True]
    c.close()
    srv.restart()
    c = srv.client()
    assert c.mget("x", "y") == [b"42", b"z"]
    c.close()


# ---------------------------------------------------------------------------
# WATCH

def test_watch_aborts_exec_when_another_client_changed_the_key(server, raw):
    raw.call("SET", "k", "1")
    assert raw.call("WATCH", "k", "absent") == "OK"
    other = server.client()
    other.set("k", "2")
    other.close()
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "x", "1") == "QUEUED"
    assert raw.call("EXEC") is None          # a null array: nothing ran
    assert raw.call("GET", "x") is None
    # EXEC forgot the watch: the next transaction runs.
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "x", "1") == "QUEUED"
    assert raw.call("EXEC") == ["OK"]


def test_watch_of_a_missing_key_aborts_when_it_appears(server, raw):
    assert raw.call("WATCH", "absent") == "OK"
    raw.call("SET", "absent", "now")       # the watching client's own write counts too
    assert raw.call("MULTI") == "OK"
    assert raw.call("INCR", "n") == "QUEUED"
    assert raw.call("EXEC") is None
    assert raw.call("GET", "n") is None


def test_watch_without_changes_lets_exec_run(raw):
    raw.call("SET", "k", "v")
    raw.call("SET", "t", "v", "EX", "100")
    assert raw.call("WATCH", "k", "t", "absent") == "OK"
    assert raw.call("GET", "k") == b"v"
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "k", "w") == "QUEUED"
    assert raw.call("EXEC") == ["OK"]
    assert raw.call("GET", "k") == b"w"


def test_exec_without_multi_keeps_the_watched_keys(server, raw):
    raw.call("SET", "k", "1")
    assert raw.call("WATCH", "k") == "OK"
    assert error_of(raw, "EXEC") == "ERR EXEC without MULTI"
    other = server.client()
    other.set("k", "2")
    other.close()
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "x", "1") == "QUEUED"
    assert raw.call("EXEC") is None


def test_unwatch_and_discard_forget_the_watched_keys(server, raw):
    raw.call("SET", "k", "1")
    assert raw.call("WATCH", "k") == "OK"
    assert raw.call("UNWATCH") == "OK"
    raw.call("SET", "k", "2")
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "x", "1") == "QUEUED"
    assert raw.call("EXEC") == ["OK"]
    assert raw.call("WATCH", "k") == "OK"
    assert raw.call("MULTI") == "OK"
    assert raw.call("DISCARD") == "OK"
    raw.call("SET", "k", "3")
    assert raw.call("MULTI") == "OK"
    assert raw.call("UNWATCH") == "QUEUED"   # queued, as in Redis: +OK inside EXEC's reply
    assert raw.call("SET", "y", "1") == "QUEUED"
    assert raw.call("EXEC") == ["OK", "OK"]


def test_watch_inside_multi_is_an_error_that_does_not_abort(raw):
    assert raw.call("MULTI") == "OK"
    assert error_of(raw, "WATCH", "k") == "ERR WATCH inside MULTI is not allowed"
    assert raw.call("SET", "k", "v") == "QUEUED"
    assert raw.call("EXEC") == ["OK"]


def test_watch_makes_concurrent_read_modify_write_exact(server, r):
    """The optimistic-locking loop of redis-py's docs, from several clients at once: every
    increment lands exactly once (without WATCH's check some would be lost)."""
    import redis
    per_client, clients = 40, 4
    r.set("counter", 0)
    errors, retries = [], []

    def work():
        c = server.client()
        try:
            for _ in range(per_client):
                with c.pipeline() as pipe:
                    while True:
                        try:
                            pipe.watch("counter")
                            value = int(pipe.get("counter"))
                            pipe.multi()
                            pipe.set("counter", value + 1)
                            pipe.execute()
                            break
                        except redis.WatchError:
                            retries.append(1)
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=work) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert int(r.get("counter")) == per_client * clients
    assert retries, "the clients never conflicted: the test did not exercise WATCH"


def test_watch_aborts_when_the_client_saw_a_change_even_if_it_was_undone(server, raw):
    """WATCH k; k changes; the client reads the new value (and would compute from it); k
    changes back; EXEC must not commit what was computed from a state that is gone. (Flin
    compares what watched keys hold, so this needs the check of the client's own reads.)"""
    raw.call("SET", "k", "v1")
    raw.call("SET", "t", "v1")
    assert raw.call("WATCH", "k", "gone") == "OK"
    other = server.client()
    other.set("k", "v2")
    other.set("gone", "here")
    assert raw.call("GET", "k") == b"v2"
    assert raw.call("EXISTS", "gone") == 1
    other.set("k", "v1")
    other.delete("gone")
    other.close()
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "k", "computed-from-v2") == "QUEUED"
    assert raw.call("EXEC") is None
    assert raw.call("GET", "k") == b"v1"


@pytest.mark.parametrize("seen_by", [
    ("GETEX", "k"), ("GETEX", "k", "PERSIST"), ("INCRBY", "n", "0"), ("SETRANGE", "k", "0", ""),
    ("SET", "k", "x", "GET"), ("GETSET", "k", "v1"), ("PERSIST", "k"), ("SETNX", "k", "x"),
    ("COPY", "k", "elsewhere"), ("APPEND", "k", ""), ("EXPIRE", "k", "100", "GT"),
])
def test_a_write_by_the_watching_client_to_a_watched_key_aborts_exec(server, raw, seen_by):
    """Write commands answer with what a key holds too (GETEX, SET ... GET, INCRBY 0): a client
    that watched k, saw through one that k changed, and commits after k changed back, must be
    refused as after a read (found by a probe in session 22: GETEX, INCRBY 0, SET GET, COPY,
    ... let EXEC commit). Redis aborts here because k was written at all."""
    raw.call("SET", "k", "v1")
    raw.call("SET", "n", "5")
    assert raw.call("WATCH", "k", "n") == "OK"
    other = server.client()
    other.set("k", "v2")
    other.set("n", "6")
    raw.call(*seen_by)
    other.set("k", "v1")
    other.set("n", "5")
    other.persist("k")
    other.close()
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "k", "computed") == "QUEUED"
    assert raw.call("EXEC") is None


def test_watching_many_keys_costs_each_read_little(server, raw):
    """Each read by a watching connection is checked against its watched keys: by a lookup,
    not a scan of all of them (a probe in session 22: 100 K watched keys took WATCH itself 81 s,
    quadratic, and stalled every other client's PING for seconds). Counted in work, not
    time: 100 K keys watched in 100 WATCH commands, then an MGET of them all, must each answer
    within the I/O timeout (10 s); the scan made that 5 G key comparisons for the WATCHes and
    10 G for the MGET, minutes on any machine, where lookups take well under a second."""
    keys = [f"w{i}" for i in range(100000)]
    for i in range(0, len(keys), 1000):
        raw.call("MSET", *[x for k in keys[i:i + 1000] for x in (k, "v")])
    for i in range(0, len(keys), 1000):
        assert raw.call("WATCH", *keys[i:i + 1000]) == "OK"
    assert raw.call("MGET", *keys) == [b"v"] * len(keys)
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "w0", "x") == "QUEUED"
    assert raw.call("EXEC") == ["OK"]


def test_a_write_that_changes_nothing_on_an_unchanged_watched_key_lets_exec_run(raw):
    """As in Redis: SETNX on a key that exists, or GETEX without options, changes nothing and
    shows the value WATCH recorded, so EXEC runs (the differential test found the first
    version of the check above aborting here)."""
    raw.call("SET", "k", "v1")
    assert raw.call("WATCH", "k") == "OK"
    assert raw.call("SETNX", "k", "x") == 0
    assert raw.call("GETEX", "k") == b"v1"
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "k", "v2") == "QUEUED"
    assert raw.call("EXEC") == ["OK"]
