"""Redis 7.0's reply texts and limits that several command suites pin (test_hash.py,
test_set.py, test_list.py, ...): one spelling of each, so a suite reads as what it tests."""
from flinproc import Status

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_INT = "ERR value is not an integer or out of range"
BAD_CURSOR = "ERR invalid cursor"
BUSY = "BUSYKEY Target key name already exists."
EXECABORT = "EXECABORT Transaction discarded because of previous errors."
OK = Status("OK")
LLONG_MAX = 9223372036854775807
LLONG_MIN = -9223372036854775808


def arity(cmd):
    """The arity error of `cmd` (lower case, as Redis names it)."""
    return f"ERR wrong number of arguments for '{cmd}' command"
