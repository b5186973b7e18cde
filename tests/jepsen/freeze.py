"""Freeze one thread of a running process (a "timer jump" for that thread alone).

SIGSTOP stops a whole process, so its clock-based deadlines all pass together.
Stopping only flin-server's Raft thread ("flin-raft") while its client threads
go on is what a long fsync, a starved CPU or a descheduled thread does: for that
thread time jumps forward at once, and whatever it published earlier (a leader
lease as a monotonic deadline) must not be trusted beyond what it promised.

Uses ptrace (PTRACE_SEIZE + PTRACE_INTERRUPT stop just the one thread; DETACH
lets it run).  Needs root or CAP_SYS_PTRACE.  Every ptrace call must come from
the thread that seized, so freeze() and thaw() must be called from one thread;
if that thread exits, the kernel detaches and the frozen thread runs again.
"""
import ctypes
import os

PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
WALL = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
_libc.ptrace.restype = ctypes.c_long


def _ptrace(req, tid):
    if _libc.ptrace(req, tid, None, None) == -1:
        e = ctypes.get_errno()
        raise OSError(e, f"ptrace({req:#x}, {tid}): {os.strerror(e)}")


def thread_id(pid, name):
    """The kernel thread id of pid's thread called `name` (its comm)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() == name:
                    return int(tid)
        except OSError:
            continue
    raise LookupError(f"process {pid} has no thread named {name}")


class FrozenThread:
    """with FrozenThread(pid, "flin-raft"): ... -- the thread is stopped inside
    (freeze() first to handle a refusal, then `with` to thaw for sure)."""

    def __init__(self, pid, name):
        self.tid = thread_id(pid, name)
        self.frozen = False

    def freeze(self):
        _ptrace(PTRACE_SEIZE, self.tid)
        _ptrace(PTRACE_INTERRUPT, self.tid)
        os.waitpid(self.tid, WALL)     # returns once the thread is in its ptrace stop
        self.frozen = True

    def thaw(self):
        if self.frozen:
            self.frozen = False
            _ptrace(PTRACE_DETACH, self.tid)

    def __enter__(self):
        if not self.frozen:
            self.freeze()
        return self

    def __exit__(self, *exc):
        self.thaw()
