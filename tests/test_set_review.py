"""Review of the SET data type (commit fb928d6): behaviours test_set.py does not pin.

Every test passes against redis-server 7.0.15 (FLIN_TARGET=redis) unless marked flin_only.
Each finding below failed on Flin at that commit and was fixed in session 29:

- random picks inside one script are all the same (PickRng seeds from the entry, the command
  and the value only, so identical calls in one EVAL draw identical picks);
- SPOP with a count close to the set's size rebuilds the set in Redis 7.0 (its "case 3"), an
  intset again when the rest can be one;
- COMMAND GETKEYS SINTERCARD answers the keys from numkeys alone in Redis, whatever follows,
  and a bad numkeys is "Invalid arguments specified for command";
- COMMAND INFO flags of SREM, SPOP, SMOVE: Redis has no "denyoom" there;
- SINTERCARD / SUNION etc. of one key named many times: Redis reads the key in place, Flin
  copies its payload once per name (memory in keys x size, on every replica for a *STORE);
- RESTORE of a type-2 set: the decoder allocated 32 bytes a declared member before reading.

The comments in the tests describe the code as the review found it.

Memory checks read the server's peak RSS (VmHWM in /proc) on a server of their own, so the
module server's history does not hide the growth.  No sleeps.
"""
import struct

import pytest

from flinproc import error_of
from rdb_payload import rdb_len, with_footer


def encoding(raw, key):
    return raw.call("OBJECT", "ENCODING", key)


def peak_rss_kb(srv):
    with open(f"/proc/{srv.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


# ---------------------------------------------------------------------------
# Random picks in a script

def test_script_srandmember_calls_draw_independently(raw):
    # Redis draws every call afresh: 60 picks among 20 members are not all the same one.
    # Flin seeds each applied call from (entry time, args, payload), identical for every
    # call of one script, so all 60 picks are the same member.
    raw.call("SADD", "s", *range(20))
    n = raw.call("EVAL", "local seen, n = {}, 0 "
                 "for i = 1, 60 do local m = redis.call('SRANDMEMBER', KEYS[1]) "
                 "if not seen[m] then seen[m] = true; n = n + 1 end end return n", "1", "s")
    assert n > 1


def test_script_srandmember_with_count_calls_draw_independently(raw):
    raw.call("SADD", "s", *range(20))
    n = raw.call("EVAL", "local seen, n = {}, 0 "
                 "for i = 1, 60 do local m = redis.call('SRANDMEMBER', KEYS[1], 2) "
                 "local k = m[1] .. ',' .. m[2] "
                 "if not seen[k] then seen[k] = true; n = n + 1 end end return n", "1", "s")
    assert n > 1


def test_script_hrandfield_calls_draw_independently(raw):
    # The same seeding, shared through collection.h's PickRng.
    args = []
    for i in range(20):
        args += [f"f{i}", "v"]
    raw.call("HSET", "h", *args)
    n = raw.call("EVAL", "local seen, n = {}, 0 "
                 "for i = 1, 60 do local m = redis.call('HRANDFIELD', KEYS[1]) "
                 "if not seen[m] then seen[m] = true; n = n + 1 end end return n", "1", "h")
    assert n > 1


def test_script_spop_calls_still_differ(raw):
    # SPOP changes the payload between calls, so its picks differ: a control that passes.
    raw.call("SADD", "s", *range(20))
    got = raw.call("EVAL", "local t = {} for i = 1, 5 do t[i] = redis.call('SPOP', KEYS[1]) end "
                   "return t", "1", "s")
    assert len(set(got)) == 5 and raw.call("SCARD", "s") == 15


# ---------------------------------------------------------------------------
# Encoding after SPOP

def test_spop_count_near_the_size_rebuilds_an_intset(raw):
    # Redis 7.0 spopWithCountCommand, when size - count <= count / 5 ("case 3"), draws the
    # members that stay into a new set (setTypeCreate + setTypeAdd) and dbOverwrite()s the key
    # with it: an intset again when the rest are integers, whatever the old encoding.
    raw.call("SADD", "h", "a", *range(1, 11))
    raw.call("SREM", "h", "a")
    raw.call("EXPIRE", "h", "1000")
    assert encoding(raw, "h") == b"hashtable"
    popped = raw.call("SPOP", "h", "9")
    assert len(popped) == 9
    assert raw.call("SCARD", "h") == 1
    assert encoding(raw, "h") == b"intset"
    assert 0 < raw.call("TTL", "h") <= 1000          # dbOverwrite keeps the TTL


def test_spop_count_far_from_the_size_keeps_the_hashtable(raw):
    # "case 2" (size - count > count / 5) removes members one by one: no conversion.
    raw.call("SADD", "h", "a", *range(1, 11))
    raw.call("SREM", "h", "a")
    raw.call("SPOP", "h", "2")
    assert encoding(raw, "h") == b"hashtable"


def test_spop_case_3_of_a_large_set_of_integers_becomes_an_intset(raw):
    # 600 integers (a hashtable: more than 512), 550 popped: 50 stay, rebuilt as an intset
    # and answered in ascending order.
    raw.call("SADD", "s", *range(600))
    assert encoding(raw, "s") == b"hashtable"
    popped = raw.call("SPOP", "s", "550")
    assert len(set(popped)) == 550
    assert encoding(raw, "s") == b"intset"
    left = raw.call("SMEMBERS", "s")
    assert left == sorted(left, key=int) and len(left) == 50


# ---------------------------------------------------------------------------
# SINTERCARD keys

def test_command_getkeys_sintercard_ignores_what_follows_the_keys(raw):
    # Redis finds the keys from its key spec (keynum at 1, keys from 2): LIMIT's value is
    # not looked at. Flin's SInterCardKeys (set_family.cc) answers no keys if the handler
    # would refuse the options.
    assert raw.call("COMMAND", "GETKEYS", "SINTERCARD", "2", "a", "b") == [b"a", b"b"]
    assert raw.call("COMMAND", "GETKEYS", "SINTERCARD", "1", "a", "LIMIT", "-1") == [b"a"]
    assert raw.call("COMMAND", "GETKEYS", "SINTERCARD", "2", "a", "b", "LIMIT") == [b"a", b"b"]
    assert raw.call("COMMAND", "GETKEYS", "SINTERCARD", "1", "a", "x", "y") == [b"a"]


def test_command_getkeys_sintercard_bad_numkeys(raw):
    # Redis's getkeys: "Invalid arguments specified for command"; Flin answers "The command
    # has no key arguments" (SInterCardKeys returns no keys for any error).
    assert error_of(raw, "COMMAND", "GETKEYS", "SINTERCARD", "3", "a", "b") == \
        "ERR Invalid arguments specified for command"


# ---------------------------------------------------------------------------
# COMMAND INFO flags

def _flags(raw, name):
    info = raw.call("COMMAND", "INFO", name)[0]
    return {f.decode() if isinstance(f, bytes) else str(f) for f in info[2]}


@pytest.mark.parametrize("name,flags", [
    ("sadd", {"write", "denyoom", "fast"}),
    ("srem", {"write", "fast"}),
    ("spop", {"write", "fast"}),
    ("smove", {"write", "fast"}),
    ("sinterstore", {"write", "denyoom"}),
    ("scard", {"readonly", "fast"}),
    ("smembers", {"readonly"}),
    ("sintercard", {"readonly", "movablekeys"}),
])
def test_command_info_flags_of_set_commands(raw, name, flags):
    # Redis 7.0: SREM, SPOP and SMOVE cannot grow memory, so they are not "denyoom" (HDEL
    # neither). Flin's WriteFlags (server_family.cc) adds "denyoom" to every write.
    assert _flags(raw, name) == flags


# ---------------------------------------------------------------------------
# Memory of multi-key reads and of RESTORE

BIG_SET = [b"%060d" % i for i in range(20000)]   # about 1.3 MB of members


def _fill(c, key):
    for i in range(0, len(BIG_SET), 5000):
        c.call("SADD", key, *BIG_SET[i:i + 5000])


def test_multi_key_read_of_one_key_many_times_is_not_copied_per_name(make_server):
    # SINTERCARD 300 s s ... s: Redis looks the key up 300 times (pointers). Flin's ReadSets
    # (set_family.cc) keeps a copy of the payload for each name: about 400 MB here, and with
    # a 64 MiB set and 1 Mi arguments unbounded (SUNIONSTORE does it on every replica).
    srv = make_server()
    with srv.raw(timeout=60) as c:
        _fill(c, "s")
        before = peak_rss_kb(srv)
        assert c.call("SINTERCARD", "300", *(["s"] * 300), "LIMIT", "1") == 1
        assert c.call("SUNIONSTORE", "d", *(["s"] * 300)) == len(BIG_SET)
        grown_mb = (peak_rss_kb(srv) - before) / 1024
    assert grown_mb < 100, f"peak RSS grew by {grown_mb:.0f} MB"


def test_restore_of_a_set_does_not_allocate_per_declared_member(make_server):
    # A type-2 set declaring 4 Mi members, each an empty string (one byte each): both servers
    # refuse it (a member twice). Flin's LoadCollection (dump_payload.cc) first does
    # elements.resize(n): 32 bytes a declared member, 128 MB for a 4 MB payload (2 GB for a
    # 64 MiB one), on every replica.
    n = 4 << 20
    payload = with_footer(b"\x02" + rdb_len(n) + b"\x00" * n)
    srv = make_server()
    with srv.raw(timeout=60) as c:
        before = peak_rss_kb(srv)
        err = error_of(c, "RESTORE", "k", "0", payload)
        assert err == "ERR Bad data format", err
        grown_mb = (peak_rss_kb(srv) - before) / 1024
        assert c.call("EXISTS", "k") == 0
    assert grown_mb < 64, f"peak RSS grew by {grown_mb:.0f} MB"
