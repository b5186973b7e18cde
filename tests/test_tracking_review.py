"""Review of CLIENT TRACKING: cases where a tracking client was left with a stale cached value.

Each test states a property Redis 7.0 keeps (run with FLIN_TARGET=redis: they pass there) and
that the first version of Flin's tracking broke: a read queued in MULTI remembered at queue
time, keys evicted over tracking-table-max-keys invalidated ahead of the reply carrying them
(or dropped with a CLIENT REPLY OFF command's reply), PFCOUNT neither tracked nor invalidating
when it stores its cached cardinality.  Helpers and fixtures come from test_tracking.py.
"""
from test_tracking import call_collect, keys_of, no_leftover_tracking, tracker  # noqa: F401


def test_multi_read_invalidated_before_exec_stays_tracked(conn, r):
    """A read queued in MULTI is tracked by what EXEC returns.  Flin remembers the key when
    the GET is queued; a write between the queueing and EXEC invalidates (and forgets) it
    before EXEC runs, so the value EXEC returns (which the client caches) is never
    invalidated: the next write leaves the client with a stale value."""
    r.set("mk", "1")
    t = tracker(conn)
    assert t.call("MULTI") == "OK"
    assert t.call("GET", "mk") == "QUEUED"
    assert r.set("mk", "2")
    reply, _ = call_collect(t, "EXEC")       # Flin: a push for mk comes before this reply
    assert reply == [b"2"]                    # the client caches mk = 2
    assert r.set("mk", "3")
    reply, pushes = call_collect(t, "PING")
    assert reply == "PONG"
    assert b"mk" in keys_of(pushes), "mk = 2 cached by EXEC is never invalidated"


def test_a_key_read_is_not_evicted_before_the_reply_that_carries_it(conn, r):
    """Over tracking-table-max-keys, Redis invalidates keys to make room before a command runs
    (processCommand), so a key evicted is invalidated after the reply that carried its value.
    Flin evicts inside Remember, while MGET registers its own keys: MGET a b with a limit of 1
    invalidates `a` before the reply carrying a's value, and a's later write sends nothing."""
    admin = conn()
    r.mset({"ea": "1", "eb": "1"})
    assert admin.call("CONFIG", "SET", "tracking-table-max-keys", "1") == "OK"
    try:
        t = tracker(conn)
        reply, before = call_collect(t, "MGET", "ea", "eb")
        assert reply == [b"1", b"1"]
        assert keys_of(before) == [], f"invalidated before the reply carrying them: {before}"
        # Every key of the reply must be invalidated later, by eviction or by its write.
        assert r.mset({"ea": "2", "eb": "2"})
        reply, after = call_collect(t, "PING")
        assert reply == "PONG"
        assert sorted(set(keys_of(after))) == [b"ea", b"eb"], after
    finally:
        admin.call("CONFIG", "SET", "tracking-table-max-keys", "1000000")


def test_pfcount_storing_its_cached_cardinality_invalidates(conn, r):
    """PFCOUNT of one key whose cached cardinality is stale rewrites the key's bytes (Flin does
    it as Redis, through the log) and Redis signals the key modified.  Flin raises no event for
    that write: a client that cached GET h keeps bytes GET no longer returns."""
    assert r.pfadd("h", "a", "b", "c") == 1     # leaves the cached cardinality invalid
    t = tracker(conn)
    cached = t.call("GET", "h")
    assert r.pfcount("h") == 3                  # stores the cardinality in the key
    assert r.get("h") != cached                 # the bytes changed
    reply, pushes = call_collect(t, "PING")
    assert reply == "PONG"
    assert keys_of(pushes) == [b"h"], "GET h cached, PFCOUNT rewrote h, no invalidation"


def test_pfcount_tracks_its_key(conn, r):
    """PFCOUNT is a read-only command in Redis: a tracking client's PFCOUNT h tracks h, and a
    PFADD that changes h invalidates it.  Flin registers PFCOUNT as a write (hll_family.cc), so
    TrackRead skips it: a cached PFCOUNT answer is never invalidated."""
    r.pfadd("h2", "a")
    t = tracker(conn)
    assert t.call("PFCOUNT", "h2") == 1
    assert r.pfadd("h2", "b", "c") == 1
    reply, pushes = call_collect(t, "PING")
    assert reply == "PONG"
    assert keys_of(pushes) == [b"h2"]


def test_an_eviction_during_a_silent_command_is_not_lost(conn, r):
    """With CLIENT REPLY OFF, the reply of a command is dropped, but not an invalidation of a
    key cached earlier.  Flin's Dispatch truncates what was written to the connection during a
    silent command (sink->resize, or the slots marked discard): the eviction's invalidation of
    k1, made inside GET k2's Remember, goes with it, and k1 is no longer tracked."""
    admin = conn()
    r.mset({"sk1": "1", "sk2": "1"})
    assert admin.call("CONFIG", "SET", "tracking-table-max-keys", "1") == "OK"
    try:
        t = tracker(conn)
        assert t.call("GET", "sk1") == b"1"          # cached
        t.send_command("CLIENT", "REPLY", "OFF")
        t.send_command("GET", "sk2")
        assert admin.call("PING") == "PONG"          # Redis evicts here, before a command
        reply, pushes = call_collect(t, "CLIENT", "REPLY", "ON")
        assert reply == "OK"
        got = keys_of(pushes)
        assert r.mset({"sk1": "2", "sk2": "2"})
        reply, pushes = call_collect(t, "PING")
        assert reply == "PONG"
        got += keys_of(pushes)
        assert b"sk1" in got, "sk1 cached, then neither evicted with a message nor invalidated"
    finally:
        admin.call("CONFIG", "SET", "tracking-table-max-keys", "1000000")
