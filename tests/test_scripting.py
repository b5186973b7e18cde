"""Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD / EXISTS / FLUSH / HELP,
with Redis 7.0's semantics and texts.

Every expectation was taken from Debian's redis-server 7.0 (FLIN_TARGET=redis runs them all
against it), except the flin_only tests at the end: Flin stops a script after a fixed
instruction budget and a memory cap (Redis has neither; it has SCRIPT KILL, which Flin has not).

What Redis 7.0 does, in short (the tests pin each):
- An error *raised* in a script (redis.call's error, error(), a runtime error) is answered with
  " script: <sha1 of the body>, on @user_script:<line>." appended; an error *returned* (the
  table redis.pcall gives, {err=...}, redis.error_reply) is answered as it is; a compile error
  is "ERR Error compiling script (new function): user_script:<line>: ..." with no suffix.
- Lua -> RESP: numbers truncated to integers (through a double: 2^53 and up lose precision),
  strings bulk, tables arrays cut at the first nil, true 1, false and nil a null, {ok=s} a status,
  {err=s} an error. RESP -> Lua: null -> false, integer -> number, status -> {ok=s},
  error (pcall) -> {err=s}.
- Time stands still while a script runs: a key it sets with PX 1 does not expire before it ends.
"""
import hashlib
import threading

import pytest
import redis

from flinproc import Error, Map, Status, error_of

NOT_INT = "ERR value is not an integer or out of range"
NOSCRIPT = "NOSCRIPT No matching script. Please use EVAL."
NEGATIVE_KEYS = "ERR Number of keys can't be negative"
TOO_MANY_KEYS = "ERR Number of keys can't be greater than number of args"
UNKNOWN_FROM_SCRIPT = "ERR Unknown Redis command called from script"
ARITY_FROM_SCRIPT = "ERR Wrong number of args calling Redis command from script"
NOT_ALLOWED = "ERR This Redis command is not allowed from script"
BAD_ARG_TYPE = "ERR Lua redis lib command arguments must be strings or integers"
READONLY_WRITE = "ERR Write commands are not allowed from read-only scripts."
READONLY_TABLE = "Attempt to modify a readonly table"
COMPILE = "ERR Error compiling script (new function): "

# A script that runs any command given as its arguments (the differential test's wrapper).
RUN_ARGV_CALL = "return redis.call(unpack(ARGV))"
RUN_ARGV_PCALL = "return redis.pcall(unpack(ARGV))"


def sha1(script):
    return hashlib.sha1(script.encode() if isinstance(script, str) else script).hexdigest()


def raised(message, script, line=1):
    """The reply to a script that raised `message` at `line`."""
    return f"{message} script: {sha1(script)}, on @user_script:{line}."


def eval_error(raw, script, *args):
    """EVAL script with numkeys 0 (unless args start with one) and return its error text."""
    return error_of(raw, "EVAL", script, *(args or ("0",)))


def reply_bytes(raw, *args):
    """The exact bytes of the reply to one command (sent with a PING after it, so that the
    end of the reply is known without waiting)."""
    raw.send_command(*args)
    raw.send_command("PING")
    out = b""
    while not out.endswith(b"+PONG\r\n"):
        out += raw.read_bytes(1)
    return out[:-len(b"+PONG\r\n")]


# ---------------------------------------------------------------------------------------------
# EVAL's arguments

def test_keys_and_argv_are_split_by_numkeys(raw):
    script = "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}"
    assert raw.call("EVAL", script, "2", "k1", "k2", "a1", "a2") == \
        [b"k1", b"k2", b"a1", b"a2", 2, 2]
    assert raw.call("EVAL", "return {#KEYS, #ARGV}", "0", "a", "b", "c") == [0, 3]
    assert raw.call("EVAL", "return KEYS", "2", "", "b") == [b"", b"b"]
    assert raw.call("EVAL", "return ARGV", "0", "a", "", "c") == [b"a", b"", b"c"]
    # Nothing given: KEYS and ARGV are empty tables.
    assert raw.call("EVAL", "return {KEYS[1], ARGV[1]}", "0") == []
    binary = b"\x00\xff\r\nbin"
    assert raw.call("EVAL", "return ARGV[1]", "0", binary) == binary
    assert raw.call("EVAL", "return string.len(ARGV[1])", "0", binary) == 7


@pytest.mark.parametrize("cmd", ["EVAL", "EVAL_RO"])
@pytest.mark.parametrize("numkeys,args,expected", [
    ("-1", [], NEGATIVE_KEYS),
    ("2", ["k"], TOO_MANY_KEYS),
    ("1", [], TOO_MANY_KEYS),
    ("9223372036854775807", [], TOO_MANY_KEYS),
    ("abc", [], NOT_INT),
    ("1.0", ["k"], NOT_INT),
    (" 1", ["k"], NOT_INT),
    ("01", ["k"], NOT_INT),
    ("", [], NOT_INT),
    ("99999999999999999999", [], NOT_INT),
])
def test_bad_numkeys(raw, cmd, numkeys, args, expected):
    assert error_of(raw, cmd, "return 1", numkeys, *args) == expected


@pytest.mark.parametrize("cmd", ["EVALSHA", "EVALSHA_RO"])
def test_evalsha_checks_numkeys_before_looking_up_the_script(raw, cmd):
    unknown = "f" * 40
    assert error_of(raw, cmd, unknown, "-1") == NEGATIVE_KEYS
    assert error_of(raw, cmd, unknown, "1") == TOO_MANY_KEYS
    assert error_of(raw, cmd, unknown, "x") == NOT_INT
    assert error_of(raw, cmd, unknown, "0") == NOSCRIPT


def test_numkeys_is_checked_before_the_script_is_compiled(raw):
    assert error_of(raw, "EVAL", "return +", "-1") == NEGATIVE_KEYS
    assert error_of(raw, "EVAL", "return +", "5") == TOO_MANY_KEYS


@pytest.mark.parametrize("args", [["EVAL"], ["EVAL", "return 1"], ["EVALSHA", "f" * 40],
                                  ["EVAL_RO", "return 1"], ["EVALSHA_RO"]])
def test_wrong_arity(raw, args):
    assert error_of(raw, *args) == \
        f"ERR wrong number of arguments for '{args[0].lower()}' command"


def test_an_empty_script_or_a_bare_return_answers_nil(raw):
    for script in ("", "-- only a comment", "return"):
        assert raw.call("EVAL", script, "0") is None


def test_redis_py_eval(r):
    assert r.eval("return redis.call('SET', KEYS[1], ARGV[1])", 1, "k", "v") == b"OK"
    assert r.eval("return redis.call('GET', KEYS[1])", 1, "k") == b"v"
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.eval("return redis.call('INCR', KEYS[1])", 1, "k")


# ---------------------------------------------------------------------------------------------
# Lua values -> RESP

def test_lua_numbers_are_truncated_to_integers(raw):
    for script, expected in [("return 3.99", 3), ("return -3.99", -3), ("return 0", 0),
                             ("return math.pi", 3), ("return {1.9, -2.9}", [1, -2]),
                             ("return 7 / 2", 3), ("return '3.5'", b"3.5")]:
        assert raw.call("EVAL", script, "0") == expected, script


def test_integers_pass_through_a_lua_double(raw):
    """A command's integer reply becomes a Lua number (a double): past 2^53 it is rounded,
    and 2^63 - 1 rounds to 2^63, which x86-64 converts back to -2^63 (Redis 7.0 on amd64)."""
    assert raw.call("EVAL", "return 9007199254740993", "0") == 9007199254740992
    raw.call("SET", "n", "12345678901234567")
    assert raw.call("EVAL", "return redis.call('INCRBY', KEYS[1], '0')", "1", "n") == \
        12345678901234568
    raw.call("SET", "n", "9223372036854775807")
    assert raw.call("EVAL", "return redis.call('INCRBY', KEYS[1], '0')", "1", "n") == \
        -9223372036854775808
    assert raw.call("GET", "n") == b"9223372036854775807"


def test_tables_become_arrays_cut_at_the_first_nil(raw):
    assert raw.call("EVAL", "return {1, 2, 3, 'ciao', {1, 2}, nil, 4}", "0") == \
        [1, 2, 3, b"ciao", [1, 2]]
    assert raw.call("EVAL", "return {1, 2, {3, nil, 5}}", "0") == [1, 2, [3]]
    assert raw.call("EVAL", "return {1, {2, {3, {4}}}}", "0") == [1, [2, [3, [4]]]]
    assert raw.call("EVAL", "local t = {}; t[1] = 'a'; t[3] = 'c'; return t", "0") == [b"a"]
    # Only the array part counts; a table with none is an empty array.
    assert raw.call("EVAL", "return {1, 2, x = 'y'}", "0") == [1, 2]
    assert raw.call("EVAL", "return {a = 1}", "0") == []
    assert raw.call("EVAL", "return {}", "0") == []
    # Only the first value of several is the reply.
    assert raw.call("EVAL", "return 1, 2", "0") == 1


def test_booleans_and_nil(raw):
    assert raw.call("EVAL", "return true", "0") == 1
    assert raw.call("EVAL", "return false", "0") is None
    assert raw.call("EVAL", "return nil", "0") is None
    assert raw.call("EVAL", "return {true, false, 'x'}", "0") == [1, None, b"x"]
    assert raw.call("EVAL", "return redis.call", "0") is None   # a function: nil
    assert reply_bytes(raw, "EVAL", "return false", "0") == b"$-1\r\n"
    assert reply_bytes(raw, "EVAL", "return {false}", "0") == b"*1\r\n$-1\r\n"


def test_status_and_error_tables(raw):
    fine = raw.call("EVAL", "return {ok = 'fine'}", "0")
    assert isinstance(fine, Status) and fine == "fine"
    # An error table is answered as it is: no "ERR" added, no script suffix.
    for script, expected in [("return {err = 'My Error'}", "My Error"),
                             ("return {err = 'no prefix'}", "no prefix"),
                             ("local a = 1\nreturn {err = 'x'}", "x")]:
        assert eval_error(raw, script) == expected
    # Inside an array, each becomes an element of its type.
    reply = raw.call("EVAL", "return {1, {err = 'x'}, {ok = 'fine'}, 3}", "0")
    assert reply == [1, "x", "fine", 3]
    assert isinstance(reply[1], Error) and isinstance(reply[2], Status)


def test_status_reply_and_error_reply(raw):
    pongy = raw.call("EVAL", "return redis.status_reply('PONGY')", "0")
    assert isinstance(pongy, Status) and pongy == "PONGY"
    # error_reply: the first word is the error code; a single word gets "ERR" as its code.
    for message, expected in [("CUSTOM boom", "CUSTOM boom"), ("My Error", "My Error"),
                              ("boom", "ERR boom"), ("ERR x", "ERR x"), ("-ERR x", "ERR x")]:
        assert eval_error(raw, f"return redis.error_reply('{message}')") == expected, message
    assert eval_error(raw, "return redis.error_reply(5)") == \
        "ERR wrong number or type of arguments"
    assert eval_error(raw, "return redis.status_reply()") == \
        "ERR wrong number or type of arguments"


INCR_K = "return redis.call('INCR', 'k')"


def test_resp3_replies(raw):
    """On a RESP3 connection (HELLO 3) the script's reply is encoded in RESP3: nil and false
    are RESP3 nulls, true still the integer 1 (the script's own protocol is RESP2)."""
    assert isinstance(raw.call("HELLO", "3"), Map)
    raw.call("SET", "k", "v")
    for script, expected in [
            ("return true", b":1\r\n"),
            ("return false", b"_\r\n"),
            ("return nil", b"_\r\n"),
            ("return {1, false, 'x'}", b"*3\r\n:1\r\n_\r\n$1\r\nx\r\n"),
            ("return 3.7", b":3\r\n"),
            ("return {ok = 'fine'}", b"+fine\r\n"),
            ("return {err = 'X y'}", b"-X y\r\n"),
            ("return redis.call('GET', 'nokey')", b"_\r\n"),
            ("return redis.call('GET', 'k')", b"$1\r\nv\r\n"),
            ("return type(redis.call('GET', 'nokey'))", b"$7\r\nboolean\r\n"),
            ("return redis.pcall('INCR', 'k')", f"-{NOT_INT}\r\n".encode()),
            (INCR_K, f"-{raised(NOT_INT, INCR_K)}\r\n".encode())]:
        assert reply_bytes(raw, "EVAL", script, "0") == expected, script


def test_setresp_3_gives_resp3_types(raw):
    """redis.setresp(3): the script speaks RESP3 (a null is nil, not false) and may return
    RESP3 types, which a RESP2 caller gets in their RESP2 form."""
    assert raw.call("EVAL", "redis.setresp(3); return type(redis.call('GET', 'nokey'))",
                    "0") == b"nil"
    for script, resp2 in [("return true", b":1\r\n"), ("return false", b":0\r\n"),
                          ("return {double = 3.5}", b"$3\r\n3.5\r\n"),
                          ("return {map = {a = 1}}", b"*2\r\n$1\r\na\r\n:1\r\n"),
                          ("return nil", b"$-1\r\n")]:
        assert reply_bytes(raw, "EVAL", "redis.setresp(3); " + script, "0") == resp2, script
    script = "redis.setresp(4)"
    assert eval_error(raw, script) == raised("ERR RESP version must be 2 or 3.", script)
    assert isinstance(raw.call("HELLO", "3"), Map)
    for script, resp3 in [("return true", b"#t\r\n"), ("return false", b"#f\r\n"),
                          ("return {double = 3.5}", b",3.5\r\n"),
                          ("return {map = {a = 1}}", b"%1\r\n$1\r\na\r\n:1\r\n")]:
        assert reply_bytes(raw, "EVAL", "redis.setresp(3); " + script, "0") == resp3, script


# ---------------------------------------------------------------------------------------------
# RESP replies -> Lua values

def test_command_replies_as_lua_sees_them(raw):
    raw.call("SET", "s", "abc")
    script = """
        local out = {}
        local function add(x) out[#out + 1] = type(x) end
        add(redis.call('GET', 'nokey'))              -- a null: false
        add(redis.call('GET', 's'))                  -- bulk: string
        add(redis.call('INCR', 'n'))                 -- integer: number
        add(redis.call('SET', 'x', '1'))             -- status: table {ok = 'OK'}
        add(redis.call('SET', 'x', '1', 'NX'))       -- a null again
        add(redis.call('MGET', 's', 'nokey'))        -- array: table
        add(redis.pcall('INCR', 's'))                -- error: table {err = ...}
        return out
    """
    assert raw.call("EVAL", script, "0") == [b"boolean", b"string", b"number", b"table",
                                             b"boolean", b"table", b"table"]
    checks = """
        local mget = redis.call('MGET', 's', 'nokey')
        return {
            redis.call('GET', 'nokey') == false,
            redis.call('SET', 'x', '2').ok,
            redis.call('PING').ok,
            mget[1], mget[2] == false, #mget,
            redis.pcall('INCR', 's').err,
            redis.call('INCR', 'n') + 10,
        }
    """
    assert raw.call("EVAL", checks, "0") == [1, b"OK", b"PONG", b"abc", 1, 2, NOT_INT.encode(),
                                             12]


def test_a_status_reply_returned_as_it_is_stays_a_status(raw):
    ok = raw.call("EVAL", "return redis.call('SET', KEYS[1], 'v')", "1", "k")
    assert isinstance(ok, Status) and ok == "OK"
    assert raw.call("EVAL", "return redis.call('TYPE', KEYS[1])", "1", "k") == "string"
    pong = raw.call("EVAL", "return {redis.call('PING')}", "0")
    assert pong == ["PONG"] and isinstance(pong[0], Status)
    assert raw.call("EVAL", "return redis.call('MGET', 'k', 'nokey')", "0") == [b"v", None]


# ---------------------------------------------------------------------------------------------
# Errors

def test_redis_call_raises_and_redis_pcall_returns_the_error(raw):
    raw.call("SET", "s", "abc")
    call = "return redis.call('INCR', KEYS[1])"
    assert eval_error(raw, call, "1", "s") == raised(NOT_INT, call)
    assert eval_error(raw, "return redis.pcall('INCR', KEYS[1])", "1", "s") == NOT_INT
    # The line is the one of the failing call, also inside a function.
    multi = "local a = 1\nlocal b = 2\nreturn redis.call('INCR', KEYS[1])"
    assert eval_error(raw, multi, "1", "s") == raised(NOT_INT, multi, line=3)
    nested = "local function f()\n return redis.call('INCR', KEYS[1])\nend\n\nf()"
    assert eval_error(raw, nested, "1", "s") == raised(NOT_INT, nested, line=2)
    # The script may go on after a pcall's error.
    script = "local e = redis.pcall('INCR', KEYS[1]); redis.call('SET', KEYS[2], e.err); " \
             "return 'went on'"
    assert raw.call("EVAL", script, "2", "s", "t") == b"went on"
    assert raw.call("GET", "t") == NOT_INT.encode()


def test_lua_pcall_catches_redis_call_errors_as_strings(raw):
    raw.call("SET", "s", "abc")
    for call, expected in [("'INCR', 's'", NOT_INT), ("'INCR', 'x', 'y'", ARITY_FROM_SCRIPT),
                           ("'NOSUCH'", UNKNOWN_FROM_SCRIPT)]:
        script = f"local ok, e = pcall(redis.call, {call}); return {{tostring(ok), e}}"
        assert raw.call("EVAL", script, "0") == [b"false", expected.encode()], call


@pytest.mark.parametrize("command,expected", [
    ("'NOSUCH', 'k'", UNKNOWN_FROM_SCRIPT),
    ("1", UNKNOWN_FROM_SCRIPT),
    ("'GET'", ARITY_FROM_SCRIPT),
    ("'GET', 'a', 'b'", ARITY_FROM_SCRIPT),
    ("'SET', 'k'", ARITY_FROM_SCRIPT),
    ("'EVAL', 'return 1', '0'", NOT_ALLOWED),
    ("'EVALSHA', '" + "f" * 40 + "', '0'", NOT_ALLOWED),
    ("'EVAL_RO', 'return 1', '0'", NOT_ALLOWED),
    ("'SCRIPT', 'FLUSH'", NOT_ALLOWED),
    ("'SCRIPT', 'LOAD', 'return 1'", NOT_ALLOWED),
    ("'MULTI'", NOT_ALLOWED),
    ("'EXEC'", NOT_ALLOWED),
    ("'DISCARD'", NOT_ALLOWED),
    ("'WATCH', 'k'", NOT_ALLOWED),
    ("'UNWATCH'", NOT_ALLOWED),
    ("'AUTH', 'x'", NOT_ALLOWED),
    ("'HELLO', '3'", NOT_ALLOWED),
    ("'CLIENT', 'ID'", NOT_ALLOWED),
    ("'RESET'", NOT_ALLOWED),
    ("'QUIT'", NOT_ALLOWED),
    ("'SHUTDOWN'", NOT_ALLOWED),
])
def test_commands_a_script_cannot_run(raw, command, expected):
    call = f"return redis.call({command})"
    assert eval_error(raw, call) == raised(expected, call)
    assert eval_error(raw, f"return redis.pcall({command})") == expected
    assert raw.call("PING") == "PONG"  # the connection is as it was


def test_bad_arguments_of_redis_call(raw):
    for args, expected in [
            ("", "ERR Please specify at least one argument for this redis lib call"),
            ("'SET', 'k', {}", BAD_ARG_TYPE),
            ("'SET', 'k', nil", BAD_ARG_TYPE),
            ("'SET', 'k', true", BAD_ARG_TYPE),
            ("'GET', KEYS[1]", BAD_ARG_TYPE)]:   # (no KEYS given)
        call = f"return redis.call({args})"
        assert eval_error(raw, call) == raised(expected, call), args
        assert eval_error(raw, f"return redis.pcall({args})") == expected, args
    assert raw.call("EXISTS", "k") == 0


def test_lua_numbers_as_command_arguments_are_formatted_as_lua_does(raw):
    """A number argument is sent as printf's %.17g makes it (not as Lua's tostring, %.14g)."""
    for number, stored in [("3.5", b"3.5"), ("42", b"42"), ("10000000000000", b"10000000000000"),
                           ("1e16", b"10000000000000000"), ("1e17", b"1e+17"),
                           ("1e20", b"1e+20"), ("0.1 + 0.2", b"0.30000000000000004"),
                           ("1/3", b"0.33333333333333331"), ("1e-7", b"9.9999999999999995e-08"),
                           ("-0", b"-0"), ("1/0", b"inf"), ("-1/0", b"-inf")]:
        assert raw.call("EVAL", f"return redis.call('SET', KEYS[1], {number})", "1", "k") == "OK"
        assert raw.call("GET", "k") == stored, number


@pytest.mark.parametrize("script,message,line", [
    ("error('boom')", "ERR user_script:1: boom", 1),
    ("error('boom', 0)", "ERR boom", 1),                         # no position added
    ("local a = 1\n\nerror('boom')", "ERR user_script:3: boom", 3),
    ("local function f()\n error('deep')\nend\n\nf()", "ERR user_script:2: deep", 2),
    ("error({err = 'MY table'})", "MY table", 1),                # an error table: as it is
    ("local t = nil; return t.x", "ERR user_script:1: attempt to index local 't' (a nil value)", 1),
    ("return 'a' + 1", "ERR user_script:1: attempt to perform arithmetic on a string value", 1),
])
def test_runtime_errors(raw, script, message, line):
    assert eval_error(raw, script) == raised(message, script, line)


def test_compile_errors_have_no_script_suffix_and_are_not_cached(raw):
    assert raw.call("SCRIPT", "FLUSH") == "OK"
    for script, message in [
            ("return +", "user_script:1: unexpected symbol near '+'"),
            ("return 1 +", "user_script:1: unexpected symbol near '<eof>'"),
            ("local a = 1\nreturn 1 +", "user_script:2: unexpected symbol near '<eof>'"),
            ("\\nreturn 1", "user_script:1: unexpected symbol near '\\'"),
            ("if true then", "user_script:1: 'end' expected near '<eof>'")]:
        assert eval_error(raw, script) == COMPILE + message, script
        assert error_of(raw, "SCRIPT", "LOAD", script) == COMPILE + message, script
        assert error_of(raw, "EVAL_RO", script, "0") == COMPILE + message, script
        assert raw.call("SCRIPT", "EXISTS", sha1(script)) == [0]


@pytest.mark.parametrize("script", ["x = 5", "function f() end", "_G.x = 1", "KEYS = {}",
                                    "redis.call = nil", "string.upper = nil", "math.pi = 3"])
def test_globals_cannot_be_written(raw, script):
    assert eval_error(raw, script) == raised(f"ERR user_script:1: {READONLY_TABLE}", script)


@pytest.mark.parametrize("script", ["rawset(_G, 'x', 1)", "setmetatable(_G, nil)"])
def test_globals_cannot_be_written_behind_the_metatable(raw, script):
    assert eval_error(raw, script) == raised(f"ERR {READONLY_TABLE}", script)


def test_keys_and_argv_tables_may_be_changed(raw):
    assert raw.call("EVAL", "KEYS[1] = 'x'; ARGV[2] = 'y'; return {KEYS[1], ARGV[2]}",
                    "1", "k", "a") == [b"x", b"y"]


@pytest.mark.parametrize("name", ["undefinedvar", "os", "io", "debug", "require", "dofile",
                                  "loadfile", "package", "module", "newproxy", "print"])
def test_undefined_globals_and_what_the_sandbox_leaves_out(raw, name):
    script = f"return type({name})"
    assert eval_error(raw, script) == raised(
        f"ERR user_script:1: Script attempted to access nonexistent global variable '{name}'",
        script)


def test_the_libraries_a_script_has(raw):
    script = "local t = {}; for _, n in ipairs(ARGV) do t[#t + 1] = type(_G[n]) end; return t"
    names = ["string", "table", "math", "redis", "pcall", "error", "tostring", "tonumber",
             "pairs", "ipairs", "select", "unpack", "type", "setmetatable", "getmetatable",
             "rawget", "rawequal", "next", "assert"]
    assert raw.call("EVAL", script, "0", *names) == \
        [b"table"] * 4 + [b"function"] * (len(names) - 4)


# ---------------------------------------------------------------------------------------------
# EVALSHA and SCRIPT

def test_eval_caches_the_script_for_evalsha(raw):
    script = "return {KEYS[1], ARGV[1]}"
    sha = sha1(script)
    assert raw.call("SCRIPT", "FLUSH") == "OK"
    assert error_of(raw, "EVALSHA", sha, "0") == NOSCRIPT
    assert raw.call("SCRIPT", "EXISTS", sha) == [0]
    assert raw.call("EVAL", script, "1", "k", "a") == [b"k", b"a"]
    assert raw.call("SCRIPT", "EXISTS", sha) == [1]
    assert raw.call("EVALSHA", sha, "1", "k2", "a2") == [b"k2", b"a2"]
    assert raw.call("EVALSHA", sha.upper(), "1", "k3", "a3") == [b"k3", b"a3"]
    # A script that fails when run is cached all the same.
    failing = "error('boom')"
    assert eval_error(raw, failing).startswith("ERR user_script:1: boom")
    assert raw.call("SCRIPT", "EXISTS", sha1(failing)) == [1]


@pytest.mark.parametrize("sha", ["f" * 40, "0" * 40, "nope", "", sha1("return 1")[:-1],
                                 sha1("return 1") + "b"])
def test_evalsha_of_an_unknown_script(raw, sha):
    assert raw.call("SCRIPT", "FLUSH") == "OK"
    assert raw.call("EVAL", "return 1", "0") == 1   # cached: sha1("return 1")
    assert error_of(raw, "EVALSHA", sha, "0") == NOSCRIPT
    assert error_of(raw, "EVALSHA_RO", sha, "0") == NOSCRIPT


def test_script_load_answers_the_sha1_of_the_body(raw):
    assert raw.call("SCRIPT", "FLUSH") == "OK"
    script = "return redis.call('GET', KEYS[1])"
    assert raw.call("SCRIPT", "LOAD", script) == sha1(script).encode()
    assert raw.call("SCRIPT", "LOAD", script) == sha1(script).encode()   # again: the same
    assert raw.call("SCRIPT", "LOAD", "return 1") == b"e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
    raw.call("SET", "k", "v")
    assert raw.call("EVALSHA", sha1(script), "1", "k") == b"v"
    # Loading compiles, it does not run: a script that would fail when run loads.
    assert raw.call("SCRIPT", "LOAD", "x = 1") == sha1("x = 1").encode()
    binary = b"return '\x00\xff'"
    assert raw.call("SCRIPT", "LOAD", binary) == sha1(binary).encode()
    assert raw.call("EVALSHA", sha1(binary), "0") == b"\x00\xff"
    # An error raised by a script run by EVALSHA names the same sha.
    raw.call("SET", "s", "abc")
    incr = "return redis.call('INCR', KEYS[1])"
    assert raw.call("SCRIPT", "LOAD", incr) == sha1(incr).encode()
    assert error_of(raw, "EVALSHA", sha1(incr), "1", "s") == raised(NOT_INT, incr)


def test_script_exists(raw):
    assert raw.call("SCRIPT", "FLUSH") == "OK"
    one = sha1("return 1")
    assert raw.call("SCRIPT", "LOAD", "return 1") == one.encode()
    assert raw.call("SCRIPT", "EXISTS", one, one.upper(), "f" * 40, "nope", one) == \
        [1, 1, 0, 0, 1]
    assert error_of(raw, "SCRIPT", "EXISTS") == \
        "ERR wrong number of arguments for 'script|exists' command"


@pytest.mark.parametrize("mode", [[], ["ASYNC"], ["SYNC"], ["async"], ["sync"]])
def test_script_flush_forgets_every_script(raw, mode):
    shas = [raw.call("SCRIPT", "LOAD", f"return {i}") for i in range(3)]
    assert raw.call("SCRIPT", "EXISTS", *shas) == [1, 1, 1]
    assert raw.call("SCRIPT", "FLUSH", *mode) == "OK"
    assert raw.call("SCRIPT", "EXISTS", *shas) == [0, 0, 0]
    assert error_of(raw, "EVALSHA", shas[0], "0") == NOSCRIPT
    # EVAL caches it again.
    assert raw.call("EVAL", "return 0", "0") == 0
    assert raw.call("EVALSHA", shas[0], "0") == 0


def test_script_subcommand_errors(raw):
    assert error_of(raw, "SCRIPT", "FLUSH", "foo") == \
        "ERR SCRIPT FLUSH only support SYNC|ASYNC option"
    assert error_of(raw, "SCRIPT", "FLUSH", "SYNC", "ASYNC") == \
        "ERR SCRIPT FLUSH only support SYNC|ASYNC option"
    assert error_of(raw, "SCRIPT", "foo") == "ERR unknown subcommand 'foo'. Try SCRIPT HELP."
    assert error_of(raw, "SCRIPT", "NOPE", "x") == \
        "ERR unknown subcommand 'NOPE'. Try SCRIPT HELP."
    assert error_of(raw, "SCRIPT") == "ERR wrong number of arguments for 'script' command"
    for args in (["LOAD"], ["LOAD", "return 1", "extra"], ["HELP", "x"]):
        assert error_of(raw, "SCRIPT", *args) == \
            f"ERR wrong number of arguments for 'script|{args[0].lower()}' command"


def test_script_help(raw):
    lines = raw.call("SCRIPT", "HELP")
    assert isinstance(lines, list) and all(isinstance(x, Status) for x in lines)
    assert lines[0] == "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    for sub in ("EXISTS <sha1> [<sha1> ...]", "FLUSH [ASYNC|SYNC]", "LOAD <script>", "HELP"):
        assert sub in lines, sub
    assert raw.call("script", "help") == lines


def test_redis_py_script_commands(r):
    r.script_flush()
    sha = r.script_load("return ARGV[1]")
    assert sha == sha1("return ARGV[1]")
    assert r.script_exists(sha, "f" * 40) == [True, False]
    assert r.evalsha(sha, 0, "x") == b"x"
    r.script_flush()
    with pytest.raises(redis.exceptions.NoScriptError):
        r.evalsha(sha, 0, "x")
    # register_script: EVALSHA, and after NOSCRIPT a SCRIPT LOAD and EVALSHA again.
    incr_by = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert incr_by(keys=["n"], args=[5]) == 5
    r.script_flush()
    assert incr_by(keys=["n"], args=[2]) == 7


# ---------------------------------------------------------------------------------------------
# EVAL_RO / EVALSHA_RO

def test_read_only_scripts_read(raw):
    raw.call("SET", "k", "v")
    script = "return {redis.call('GET', KEYS[1]), redis.call('EXISTS', KEYS[1]), " \
             "redis.call('TTL', KEYS[1]), redis.call('STRLEN', KEYS[1])}"
    assert raw.call("EVAL_RO", script, "1", "k") == [b"v", 1, -1, 1]
    assert raw.call("SCRIPT", "LOAD", script) == sha1(script).encode()
    assert raw.call("EVALSHA_RO", sha1(script), "1", "k") == [b"v", 1, -1, 1]
    assert raw.call("EVAL_RO", "return redis.call('GET', 'k')", "0") == b"v"


@pytest.mark.parametrize("write", ["'SET', KEYS[1], 'w'", "'DEL', KEYS[1]", "'INCR', 'n'",
                                   "'EXPIRE', KEYS[1], '10'", "'APPEND', KEYS[1], 'x'"])
def test_read_only_scripts_cannot_write(raw, write):
    raw.call("SET", "k", "v")
    call = f"return redis.call({write})"
    assert error_of(raw, "EVAL_RO", call, "1", "k") == raised(READONLY_WRITE, call)
    assert error_of(raw, "EVAL_RO", f"return redis.pcall({write})", "1", "k") == READONLY_WRITE
    assert raw.call("SCRIPT", "LOAD", call) == sha1(call).encode()
    assert error_of(raw, "EVALSHA_RO", sha1(call), "1", "k") == raised(READONLY_WRITE, call)
    assert raw.call("GET", "k") == b"v" and raw.call("EXISTS", "n") == 0
    assert raw.call("TTL", "k") == -1
    # The same script by EVALSHA may write.
    assert not isinstance(raw.call("EVALSHA", sha1(call), "1", "k"), Error)


def test_redis_py_eval_ro(r):
    r.set("k", "v")
    assert r.eval_ro("return redis.call('GET', KEYS[1])", 1, "k") == b"v"
    with pytest.raises(redis.ResponseError, match="read-only scripts"):
        r.eval_ro("return redis.call('SET', KEYS[1], 'x')", 1, "k")


# ---------------------------------------------------------------------------------------------
# The usual patterns, and atomicity

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
else
    return 0
end
"""


def test_compare_and_delete_lock_release(r):
    assert r.set("lock", "token-1", nx=True, px=30000) is True
    assert r.set("lock", "token-2", nx=True, px=30000) is None
    release = r.register_script(RELEASE)
    assert release(keys=["lock"], args=["token-2"]) == 0   # not the owner
    assert r.get("lock") == b"token-1"
    assert release(keys=["lock"], args=["token-1"]) == 1
    assert r.exists("lock") == 0
    assert release(keys=["lock"], args=["token-1"]) == 0   # already gone


def test_redis_py_lock(server, r):
    lock = r.lock("resource", timeout=30, blocking_timeout=0)
    assert lock.acquire() is True
    assert lock.locked() and lock.owned()
    other = server.client().lock("resource", timeout=30, blocking_timeout=0)
    assert other.acquire() is False
    assert 0 < r.pttl("resource") <= 30000
    assert lock.extend(100) is True                  # adds to the TTL left
    assert 30000 < r.pttl("resource") <= 130000
    assert lock.extend(60, replace_ttl=True) is True
    assert 0 < r.pttl("resource") <= 60000
    assert lock.reacquire() is True                  # back to the lock's timeout
    assert 0 < r.pttl("resource") <= 30000
    lock.release()
    assert not lock.locked()
    assert other.acquire() is True
    # The lock expired and someone else took the key: its scripts leave it alone.
    r.set("resource", "someone-else", px=30000)
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        other.extend(10)
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        other.reacquire()
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        other.release()
    assert r.get("resource") == b"someone-else"
    r.delete("resource")
    with r.lock("resource", timeout=10):
        assert r.exists("resource") == 1
    assert r.exists("resource") == 0


RATE_LIMIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then
    redis.call('EXPIRE', KEYS[1], ARGV[1])
end
if n > tonumber(ARGV[2]) then
    return 0
end
return 1
"""


def test_rate_limiter(r):
    limit = r.register_script(RATE_LIMIT)
    assert [limit(keys=["rate:user1"], args=[60, 3]) for _ in range(5)] == [1, 1, 1, 0, 0]
    assert r.get("rate:user1") == b"5"
    assert 0 < r.ttl("rate:user1") <= 60
    assert limit(keys=["rate:user2"], args=[60, 3]) == 1


def test_a_script_that_fails_keeps_the_writes_made_before(raw):
    script = "redis.call('SET', KEYS[1], '1'); redis.call('INCR', KEYS[1]); error('late')"
    assert eval_error(raw, script, "1", "w") == raised("ERR user_script:1: late", script)
    assert raw.call("GET", "w") == b"2"
    script = "redis.call('SET', KEYS[1], 'abc'); redis.call('SET', KEYS[2], 'x'); " \
             "return redis.call('INCR', KEYS[1])"
    assert eval_error(raw, script, "2", "w2", "w3") == raised(NOT_INT, script)
    assert raw.call("MGET", "w2", "w3") == [b"abc", b"x"]


def test_a_script_reads_its_own_writes(raw):
    script = """
        redis.call('SET', KEYS[1], 'v1')
        local a = redis.call('GET', KEYS[1])
        redis.call('APPEND', KEYS[1], '2')
        redis.call('DEL', KEYS[2])
        return {a, redis.call('GET', KEYS[1]), redis.call('STRLEN', KEYS[1]),
                redis.call('EXISTS', KEYS[2])}
    """
    raw.call("SET", "gone", "x")
    assert raw.call("EVAL", script, "2", "r", "gone") == [b"v1", b"v12", 3, 0]


def test_time_stands_still_while_a_script_runs(raw):
    """A key set with PX 1 stays alive until the script ends, however long the script runs
    (here a few million Lua instructions, milliseconds)."""
    script = """
        redis.call('SET', KEYS[1], 'v', 'PX', 1)
        local x = 0
        for i = 1, 3000000 do x = x + i end
        return {redis.call('GET', KEYS[1]), redis.call('EXISTS', KEYS[1])}
    """
    assert raw.call("EVAL", script, "1", "e") == [b"v", 1]
    assert raw.call("GET", "e") is None


def test_scripts_are_atomic(server, r):
    """A read-modify-write in a script (no INCR) from several clients at once loses no
    update, and a reader never sees a half-done script."""
    bump = "local v = tonumber(redis.call('GET', KEYS[1]) or '0') + 1; " \
           "redis.call('SET', KEYS[1], v); redis.call('SET', KEYS[2], v); return v"
    errors, mixed = [], []
    stop = threading.Event()

    def writer():
        c = server.client()
        try:
            script = c.register_script(bump)
            for _ in range(150):
                script(keys=["a", "b"])
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        finally:
            c.close()

    def reader():
        c = server.client()
        try:
            while not stop.is_set():
                a, b = c.eval("return redis.call('MGET', KEYS[1], KEYS[2])", 2, "a", "b")
                if a != b:
                    mixed.append((a, b))
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        finally:
            c.close()

    writers = [threading.Thread(target=writer) for _ in range(4)]
    readers = [threading.Thread(target=reader)]
    for t in writers + readers:
        t.start()
    for t in writers:
        t.join(timeout=120)
    stop.set()
    for t in readers:
        t.join(timeout=30)
    assert not errors, errors
    assert not mixed, mixed[:5]
    assert r.mget("a", "b") == [b"600", b"600"]


def test_redis_sha1hex(raw):
    assert raw.call("EVAL", "return redis.sha1hex('')", "0") == \
        b"da39a3ee5e6b4b0d3255bfef95601890afd80709"
    assert raw.call("EVAL", "return redis.sha1hex(ARGV[1])", "0", b"\x00hello\xff") == \
        sha1(b"\x00hello\xff").encode()
    assert raw.call("EVAL", "return redis.sha1hex(1)", "0") == sha1("1").encode()
    script = "return redis.sha1hex()"
    assert eval_error(raw, script) == raised("ERR wrong number of arguments", script)


def test_redis_log(raw):
    assert raw.call("EVAL", "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, "
                            "redis.LOG_WARNING}", "0") == [0, 1, 2, 3]
    assert raw.call("EVAL", "redis.log(redis.LOG_WARNING, 'from a test'); return 1", "0") == 1
    assert raw.call("EVAL", "redis.log(redis.LOG_DEBUG, 'several', 'parts', 3); return 1",
                    "0") == 1
    script = "redis.log(99, 'x')"
    assert eval_error(raw, script) == raised("ERR Invalid debug level.", script)
    script = "redis.log(redis.LOG_WARNING)"
    assert eval_error(raw, script) == raised("ERR redis.log() requires two arguments or more.",
                                             script)


def test_math_random(raw):
    """Redis 7.0 does not reseed the generator per script (scripts replicate their effects),
    so only the ranges are checked."""
    values = raw.call("EVAL", "local t = {}; for i = 1, 200 do t[i] = math.random(10) end; "
                              "return t", "0")
    assert len(values) == 200 and all(1 <= v <= 10 for v in values)
    assert len(set(values)) > 1
    assert raw.call("EVAL", "local x = math.random(); return x >= 0 and x < 1", "0") == 1
    assert raw.call("EVAL", "local x = math.random(5, 7); return x >= 5 and x <= 7", "0") == 1
    assert raw.call("EVAL", "math.randomseed(42); return 1", "0") == 1


def test_string_table_and_math_libraries(raw):
    cases = [
        ("return string.format('%d %s %5.2f', 42, 'x', 3.14159)", b"42 x  3.14"),
        ("return {string.find('hello world', 'wor')}", [7, 9]),
        ("return (string.gsub('hello world', 'o', '0'))", b"hell0 w0rld"),
        ("return {string.byte('A'), string.char(72, 105), string.upper('abc'), "
         "string.len('abcd'), string.sub('hello', 2, 4), string.rep('ab', 3), "
         "string.reverse('abc'), string.lower('XY')}",
         [65, b"Hi", b"ABC", 4, b"ell", b"ababab", b"cba", b"xy"]),
        ("return {string.match('key:123', '(%a+):(%d+)')}", [b"key", b"123"]),
        ("local n = 0; for w in string.gmatch('a b c', '%a') do n = n + 1 end; return n", 3),
        ("return ('x'):rep(3)", b"xxx"),
        ("return table.concat({'a', 'b', 'c'}, '-')", b"a-b-c"),
        ("local t = {3, 1, 2}; table.sort(t); return t", [1, 2, 3]),
        ("local t = {3, 1, 2}; table.sort(t, function(a, b) return a > b end); return t",
         [3, 2, 1]),
        ("local t = {}; table.insert(t, 'x'); table.insert(t, 1, 'y'); return t", [b"y", b"x"]),
        ("local t = {1, 2, 3}; table.remove(t, 1); return t", [2, 3]),
        ("return {math.floor(3.7), math.ceil(3.2), math.max(1, 5, 3), math.min(4, 2), "
         "math.abs(-4), math.fmod(7, 3), math.huge > 0, math.sqrt(16)}",
         [3, 4, 5, 2, 4, 1, 1, 4]),
        ("return tonumber('0x10')", 16),
        ("return tonumber('abc')", None),
        ("return tostring(1/3)", b"0.33333333333333"),
        ("return tostring(1e15)", b"1e+15"),
        ("return tostring(12345678901234567)", b"1.2345678901235e+16"),
        ("return select('#', 1, 2, 3)", 3),
        ("return {unpack({1, 2, 3})}", [1, 2, 3]),
        ("local s = 0; for i = 1, 100 do s = s + i end; return s", 5050),
        ("local n = 0; for k, v in pairs({a = 1, b = 2, c = 3}) do n = n + v end; return n", 6),
        ("local ok, err = pcall(error, 'x'); return {tostring(ok), err}", [b"false", b"x"]),
        ("local ok, err = pcall(function() error({code = 7}) end); return err.code", 7),
        ("return string.format('%q', 'a\"b')", b'"a\\"b"'),
        ("return _VERSION", b"Lua 5.1"),
    ]
    for script, expected in cases:
        assert raw.call("EVAL", script, "0") == expected, script


# ---------------------------------------------------------------------------------------------
# Scripts in transactions

def test_eval_inside_multi_runs_at_exec(server, raw):
    assert raw.call("MULTI") == "OK"
    assert raw.call("EVAL", "return redis.call('INCR', KEYS[1])", "1", "c") == "QUEUED"
    assert raw.call("EVAL", "return 1", "-1") == "QUEUED"       # numkeys checked at EXEC
    assert raw.call("EVAL", "return +", "0") == "QUEUED"        # compiled at EXEC
    assert raw.call("EVAL", "return redis.call('GET', KEYS[1])", "1", "c") == "QUEUED"
    other = server.raw()
    assert other.call("GET", "c") is None                        # nothing ran yet
    reply = raw.call("EXEC")
    assert reply[0] == 1 and reply[3] == b"1"
    assert [str(x) for x in reply[1:3]] == [NEGATIVE_KEYS,
                                            COMPILE + "user_script:1: unexpected symbol near '+'"]
    assert other.call("GET", "c") == b"1"
    other.close()


def test_evalsha_inside_multi_runs_at_exec(raw):
    assert raw.call("SCRIPT", "FLUSH") == "OK"
    script = "return redis.call('INCR', KEYS[1])"
    assert raw.call("SCRIPT", "LOAD", script) == sha1(script).encode()
    assert raw.call("MULTI") == "OK"
    assert raw.call("EVALSHA", sha1(script), "1", "c") == "QUEUED"
    assert raw.call("EVALSHA", "f" * 40, "0") == "QUEUED"        # looked up at EXEC
    assert raw.call("EVALSHA_RO", sha1(script), "1", "c") == "QUEUED"
    reply = raw.call("EXEC")
    assert reply[0] == 1
    assert [str(x) for x in reply[1:]] == [NOSCRIPT, raised(READONLY_WRITE, script)]
    assert raw.call("GET", "c") == b"1"


def test_eval_of_the_wrong_arity_aborts_the_transaction(raw):
    assert raw.call("MULTI") == "OK"
    assert raw.call("EVAL", "return redis.call('SET', KEYS[1], 'x')", "1", "k") == "QUEUED"
    assert error_of(raw, "EVAL") == "ERR wrong number of arguments for 'eval' command"
    assert error_of(raw, "EXEC") == "EXECABORT Transaction discarded because of previous errors."
    assert raw.call("EXISTS", "k") == 0


def test_a_script_write_aborts_a_watching_transaction(server, raw):
    raw.call("SET", "w", "1")
    assert raw.call("WATCH", "w") == "OK"
    other = server.raw()
    assert other.call("EVAL", "return redis.call('SET', KEYS[1], '2')", "1", "w") == "OK"
    other.close()
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "w", "3") == "QUEUED"
    assert raw.call("EXEC") is None
    assert raw.call("GET", "w") == b"2"


def test_redis_py_pipeline_with_a_registered_script(r):
    r.script_flush()
    bump = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    pipe = r.pipeline()      # loads the script first (SCRIPT EXISTS / LOAD), then MULTI
    pipe.set("n", 10)
    bump(keys=["n"], args=[5], client=pipe)
    pipe.get("n")
    assert pipe.execute() == [True, 15, b"15"]


# ---------------------------------------------------------------------------------------------
# String and key commands from scripts

def test_string_and_key_commands_from_a_script(raw):
    script = """
        local out = {}
        local function add(x) out[#out + 1] = x end
        add(redis.call('SET', 'x', 'y', 'GET'))               -- nil (was absent)
        add(redis.call('SET', 'x', 'z', 'GET'))               -- y
        add(redis.call('SET', 'x', 'w', 'NX'))                -- nil
        add(redis.call('SET', 'x', 'w', 'XX', 'EX', 100))     -- OK
        add(redis.call('TTL', 'x'))                           -- 100
        add(redis.call('SET', 'x', 'v', 'KEEPTTL'))           -- OK
        add(redis.call('TTL', 'x'))                           -- 100
        add(redis.call('PERSIST', 'x'))                       -- 1
        add(redis.call('MSET', 'a', 1, 'b', 2))               -- OK
        add(redis.call('MGET', 'a', 'b', 'nokey'))            -- {1, 2, nil}
        add(redis.call('INCRBY', 'a', 41))                    -- 42
        add(redis.call('DECR', 'b'))                          -- 1
        add(redis.call('INCRBYFLOAT', 'f', '1.5'))            -- 1.5
        add(redis.call('APPEND', 'x', 'xyz'))                 -- 4
        add(redis.call('SETRANGE', 'x', 1, 'AB'))             -- 4
        add(redis.call('GETRANGE', 'x', 0, -2))               -- vAB
        add(redis.call('STRLEN', 'x'))                        -- 4
        add(redis.call('EXPIRE', 'a', 50))                    -- 1
        add(redis.call('EXPIRE', 'a', 10, 'GT'))              -- 0
        add(redis.call('TTL', 'a'))                           -- 50
        add(redis.call('EXISTS', 'a', 'b', 'nokey', 'a'))     -- 3
        add(redis.call('GETDEL', 'f'))                        -- 1.5
        add(redis.call('DEL', 'a', 'f', 'nokey'))             -- 1
        add(redis.call('TYPE', 'x'))                          -- string
        add(redis.call('SETBIT', 'bits', 7, 1))               -- 0
        add(redis.call('GET', 'bits'))                        -- \\1
        add(redis.call('BITCOUNT', 'bits'))                   -- 1
        add(redis.call('GETEX', 'x', 'PX', 100000))           -- vABz
        add(redis.call('RENAME', 'x', 'x2'))                  -- OK
        add(redis.call('COPY', 'x2', 'x3'))                   -- 1
        add(redis.call('GET', 'x3'))                          -- vABz
        return out
    """
    reply = raw.call("EVAL", script, "0")
    assert reply == [None, b"y", None, "OK", 100, "OK", 100, 1, "OK", [b"1", b"2", None], 42,
                     1, b"1.5", 4, 4, b"vAB", 4, 1, 0, 50, 3, b"1.5", 1, "string", 0, b"\x01",
                     1, b"vABz", "OK", 1, b"vABz"]
    assert raw.call("MGET", "x2", "x3", "b", "a") == [b"vABz", b"vABz", b"1", None]
    assert 0 < raw.call("PTTL", "x2") <= 100000


BAD_COMMANDS = [
    (["SET", "k", "v", "EX", "0"], "ERR invalid expire time in 'set' command"),
    (["SET", "k", "v", "EX", "abc"], NOT_INT),
    (["SET", "k", "v", "NX", "XX"], "ERR syntax error"),
    (["SET", "k", "v", "FOO"], "ERR syntax error"),
    (["SET", "k", "v", "KEEPTTL", "EX", "1"], "ERR syntax error"),
    (["SETRANGE", "s", "-1", "x"], "ERR offset is out of range"),
    (["SETRANGE", "s", "abc", "x"], NOT_INT),
    (["GETRANGE", "s", "a", "1"], NOT_INT),
    (["INCR", "s"], NOT_INT),
    (["INCRBY", "n", "abc"], NOT_INT),
    (["INCRBY", "n", "9223372036854775807"], "ERR increment or decrement would overflow"),
    (["DECRBY", "n", "-9223372036854775808"], "ERR decrement would overflow"),
    (["INCRBYFLOAT", "s", "1"], "ERR value is not a valid float"),
    (["EXPIRE", "s", "abc"], NOT_INT),
    (["EXPIRE", "s", "10", "FOO"], "ERR Unsupported option FOO"),
    (["EXPIRE", "s", "10", "NX", "XX"],
     "ERR NX and XX, GT or LT options at the same time are not compatible"),
    (["MSET", "a", "1", "b"], "ERR wrong number of arguments for 'mset' command"),
    (["GETEX", "s", "EX", "0"], "ERR invalid expire time in 'getex' command"),
    (["GETEX", "s", "FOO"], "ERR syntax error"),
    (["SETEX", "k", "0", "v"], "ERR invalid expire time in 'setex' command"),
    (["PSETEX", "k", "-5", "v"], "ERR invalid expire time in 'psetex' command"),
    (["RENAME", "nokey", "x"], "ERR no such key"),
    (["COPY", "s", "d", "DB", "1"], "ERR DB index is out of range"),
    (["SETBIT", "s", "-1", "1"], "ERR bit offset is not an integer or out of range"),
    (["SETBIT", "s", "1", "2"], "ERR bit is not an integer or out of range"),
    (["BITPOS", "s", "2"], "ERR The bit argument must be 1 or 0."),
    (["BITOP", "FOO", "d", "s"], "ERR syntax error"),
    (["RESTORE", "r", "0", "junk"], "ERR DUMP payload version or checksum are wrong"),
]


@pytest.mark.parametrize("cmd,expected", BAD_COMMANDS, ids=[" ".join(c) for c, _ in BAD_COMMANDS])
def test_a_commands_error_from_a_script_is_its_own(raw, cmd, expected):
    raw.call("SET", "s", "abc")
    raw.call("SET", "n", "10")
    assert error_of(raw, *cmd) == expected
    assert error_of(raw, "EVAL", RUN_ARGV_PCALL, "0", *cmd) == expected
    assert error_of(raw, "EVAL", RUN_ARGV_CALL, "0", *cmd) == raised(expected, RUN_ARGV_CALL)
    assert raw.call("MGET", "s", "n", "k", "d", "r") == [b"abc", b"10", None, None, None]


@pytest.mark.parametrize("cmd", [["GET", "s", "x"], ["SET", "k"], ["STRLEN"], ["TTL", "a", "b"],
                                 ["MSETNX", "a"], ["GETRANGE", "s", "0"]])
def test_a_wrong_arity_from_a_script_has_the_scripts_text(raw, cmd):
    assert error_of(raw, *cmd) == \
        f"ERR wrong number of arguments for '{cmd[0].lower()}' command"
    assert error_of(raw, "EVAL", RUN_ARGV_PCALL, "0", *cmd) == ARITY_FROM_SCRIPT


def test_replies_through_the_differential_wrapper(raw):
    """What test_differential sends wrapped: the command's reply, converted to Lua and back."""
    assert raw.call("EVAL", RUN_ARGV_PCALL, "0", "SET", "k", "v") == "OK"
    assert raw.call("EVAL", RUN_ARGV_PCALL, "0", "GET", "k") == b"v"
    assert raw.call("EVAL", RUN_ARGV_PCALL, "0", "GET", "nokey") is None
    assert raw.call("EVAL", RUN_ARGV_PCALL, "0", "MGET", "k", "nokey") == [b"v", None]
    assert raw.call("EVAL", RUN_ARGV_PCALL, "0", "DUMP", "k") == raw.call("DUMP", "k")
    assert raw.call("EVAL", RUN_ARGV_PCALL, "0", "NOSUCH", "k") == UNKNOWN_FROM_SCRIPT
    assert raw.call("EVAL", RUN_ARGV_PCALL, "1", "k", "GET", "k") == b"v"
    assert raw.call("EVAL_RO", RUN_ARGV_PCALL, "0", "STRLEN", "k") == 1


# ---- "#!lua" shebangs (Redis 7) ----

@pytest.mark.parametrize("script,expected", [
    ("#!lua\nreturn 1", 1),
    ("#!lua flags=\nreturn 2", 2),
    ("#!lua  flags=no-writes,allow-oom  \nreturn 3", 3),
    ("#!lua flags=allow-cross-slot-keys,allow-stale\nreturn 4", 4),
])
def test_shebang_scripts_run(raw, script, expected):
    assert raw.call("EVAL", script, "0") == expected


@pytest.mark.parametrize("script,expected", [
    ("#!lua flags=bogus\nreturn 1", "ERR Unexpected flag in script shebang: bogus"),
    ("#!python\nreturn 1", "ERR Unexpected engine in script shebang: #!python"),
    ("#!lua name=x\nreturn 1", "ERR Unknown lua shebang option: name=x"),
    ("#!lua", "ERR Invalid script shebang"),
])
def test_bad_shebangs_are_refused(raw, script, expected):
    assert eval_error(raw, script) == expected
    assert error_of(raw, "SCRIPT", "LOAD", script) == expected


def test_shebang_flags_decide_what_a_script_may_do(raw):
    no_writes = "#!lua flags=no-writes\nreturn redis.call('SET', 'a', 'b')"
    assert eval_error(raw, no_writes) == raised(
        "ERR Write commands are not allowed from read-only scripts.", no_writes, line=2)
    assert raw.call("GET", "a") is None
    # A declared script without no-writes may not run as EVAL_RO; its lines count from 1.
    assert error_of(raw, "EVAL_RO", "#!lua\nreturn 1", "0") == \
        "ERR Can not execute a script with write flag using *_ro command."
    assert raw.call("EVAL_RO", "#!lua flags=no-writes\nreturn 5", "0") == 5
    assert eval_error(raw, "#!lua\nerror('x')") == raised("ERR user_script:2: x",
                                                          "#!lua\nerror('x')", line=2)


# ---------------------------------------------------------------------------------------------
# Flin only: a script that would never end, or would take all the memory, is stopped.
# (Redis runs the loop until SCRIPT KILL and lets the allocation grow without bound.)

@pytest.mark.flin_only
@pytest.mark.parametrize("loop", [
    "while true do end",
    "local i = 0; while true do i = i + 1 end",
    "local function f() return f() end; return f()",     # a tail call: no stack growth
    "while true do pcall(function() while true do end end) end",   # pcall cannot catch it
    "while true do redis.call('GET', KEYS[1]) end",
])
def test_an_endless_script_is_stopped_after_its_instruction_budget(server, raw, loop):
    script = "redis.call('SET', KEYS[1], 'before'); " + loop
    reply = raw.call("EVAL", script, "1", "k")
    assert isinstance(reply, Error) and "instructions" in reply, reply
    assert raw.call("GET", "k") == b"before"     # the write before the error is kept
    other = server.raw()
    assert other.call("PING") == "PONG"
    assert other.call("EVAL", "return 1", "0") == 1
    other.close()
    # By EVALSHA, and with Lua's pcall around the loop, the same.
    reply = raw.call("EVALSHA", sha1(script), "1", "k2")
    assert isinstance(reply, Error) and "instructions" in reply, reply
    assert raw.call("GET", "k2") == b"before"


@pytest.mark.flin_only
def test_the_budget_error_cannot_be_caught_by_lua_pcall(raw):
    script = "local ok = pcall(function() while true do end end); " \
             "redis.call('SET', KEYS[1], 'escaped'); return 'escaped'"
    reply = raw.call("EVAL", script, "1", "k")
    assert isinstance(reply, Error) and "instructions" in reply, reply
    assert raw.call("EXISTS", "k") == 0


@pytest.mark.flin_only
@pytest.mark.parametrize("grow", [
    "return string.rep('x', 300 * 1024 * 1024)",
    "local t = {}; for i = 1, 300 do t[i] = string.rep('x', 1024 * 1024) .. i end; return #t",
    "local s = 'x'; for i = 1, 29 do s = s .. s end; return #s",
])
def test_a_script_that_takes_too_much_memory_is_stopped(server, raw, grow):
    script = "redis.call('SET', KEYS[1], 'before'); " + grow
    reply = raw.call("EVAL", script, "1", "k")
    assert isinstance(reply, Error) and "memory" in reply, reply
    assert raw.call("GET", "k") == b"before"
    other = server.raw()
    assert other.call("PING") == "PONG"
    assert other.call("EVAL", "return string.len(string.rep('x', 1024))", "0") == 1024
    other.close()
    assert raw.call("SET", "after", "1") == "OK"
