"""Start, talk to and stop a server under test: flin-server, or redis-server.

The same tests run against either target (env FLIN_TARGET=flin|redis), so
every expectation is first checked against Redis itself.  Everything here
waits with a deadline: a hung server fails a test, it never hangs the suite.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import redis

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("FLIN_TARGET", "flin").strip().lower()
FLIN_SERVER = os.environ.get("FLIN_SERVER", os.path.join(REPO, "build", "flin-server"))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

START_TIMEOUT = 20.0   # seconds for a server to answer PING
STOP_TIMEOUT = 10.0    # seconds after SIGTERM before SIGKILL
IO_TIMEOUT = 10.0      # socket timeout of every client


def is_redis():
    return TARGET == "redis"


def free_port():
    """A TCP port that was free a moment ago (bind port 0, read it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def next_pubsub_message(ps, timeout):
    """The next message of a redis-py PubSub (get_message polled until a deadline)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = ps.get_message(timeout=0.5)
        if m is not None:
            return m
    raise AssertionError(f"no pub/sub message within {timeout}s")


def wait_until(predicate, timeout, interval=0.02, what="condition"):
    """Poll predicate() until it is truthy; return its value or raise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class ServerError(Exception):
    pass


class PortTaken(ServerError):
    """Another process answers on our port (or holds it)."""


class Server:
    """One server process.  Options use Flin's names; for Redis they are
    mapped onto the equivalent redis-server settings.

    fsync: always|everysec|no; requirepass, maxclients, timeout (seconds),
    threads, max_value_bytes (Flin only); flin_args / redis_args: extra argv;
    argv: the whole command line instead (port must still say where it listens).
    """

    def __init__(self, workdir, target=None, port=None, datadir=None,
                 fsync="always", requirepass=None, maxclients=None,
                 timeout=None, threads=None, max_value_bytes=None,
                 flin_args=(), redis_args=(), argv=None, name="server"):
        self.target = target or TARGET
        self.workdir = str(workdir)
        self.auto_port = port is None
        self.port = port or free_port()
        self.dir = str(datadir or os.path.join(self.workdir, "data"))
        self.fsync = fsync
        self.requirepass = requirepass
        self.maxclients = maxclients
        self.timeout = timeout
        self.threads = threads
        self.max_value_bytes = max_value_bytes
        self.flin_args = list(flin_args)
        self.redis_args = list(redis_args)
        self.argv_override = list(argv) if argv else None
        self.name = name
        self.env = {}          # extra environment of the process (e.g. LD_PRELOAD)
        self.proc = None
        self.returncode = None
        self.log_path = os.path.join(self.workdir, f"{name}-{self.port}.log")
        self.starts = 0

    # ---- command line -------------------------------------------------
    def argv(self):
        if self.argv_override:
            return self.argv_override
        if self.target == "redis":
            a = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                 "--dir", self.dir, "--save", "", "--appendonly", "yes",
                 "--appendfsync", self.fsync, "--daemonize", "no",
                 "--databases", "1",  # Flin has db 0 only
                 # Flin always limits a client's pending replies; Redis's
                 # default for normal clients is no limit at all.
                 "--client-output-buffer-limit", "normal 64mb 32mb 10",
                 "--loglevel", "notice", "--logfile", ""]
            return a + self._common_flags() + self.redis_args
        a = [FLIN_SERVER, "--bind", "127.0.0.1", "--port", str(self.port),
             "--dir", self.dir, "--fsync", self.fsync]
        if self.threads is not None:
            a += ["--threads", str(self.threads)]
        if self.max_value_bytes is not None:
            a += ["--max-value-bytes", str(self.max_value_bytes)]
        return a + self._common_flags() + self.flin_args

    def _common_flags(self):
        """Flags spelled the same by flin-server and redis-server."""
        a = []
        for flag in ("requirepass", "maxclients", "timeout"):
            value = getattr(self, flag)
            if value is not None:
                a += ["--" + flag, str(value)]
        return a

    # ---- life cycle ---------------------------------------------------
    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, wait=True):
        """Start and (by default) wait until it answers.  A first start on a
        port we picked is retried on a new port if another process turns out
        to hold or share it (other test runs may share this machine)."""
        for attempt in range(3):
            self._spawn()
            if not wait:
                return self
            try:
                self.wait_ready()
                return self
            except PortTaken:
                if not (self.auto_port and self.starts == attempt + 1) or attempt == 2:
                    raise
                self.stop()
                self.port = free_port()
        return self

    def _spawn(self):
        if self.target != "redis" and not os.access(FLIN_SERVER, os.X_OK):
            raise ServerError(f"flin-server binary not found or not executable: {FLIN_SERVER} "
                              "(set FLIN_SERVER, or FLIN_TARGET=redis)")
        os.makedirs(self.workdir, exist_ok=True)
        if self.target == "redis":
            os.makedirs(self.dir, exist_ok=True)  # flin-server makes its own, durably
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(f"==== start #{self.starts}: {' '.join(self.argv())}\n".encode())
        log.flush()
        env = dict(os.environ, **self.env) if self.env else None
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, cwd=self.workdir, env=env)
        log.close()
        self.returncode = None

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.alive():
                cls = PortTaken if "in use" in self.log_text().lower() else ServerError
                raise cls(f"{self.name} exited with {self.proc.returncode} during start-up\n"
                          + self.log_tail())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as s:
                    s.settimeout(2.0)
                    s.sendall(b"*1\r\n$4\r\nPING\r\n")
                    data = s.recv(100)
                    # A password-protected server answers -NOAUTH: it is up.
                    if data.startswith(b"+PONG") or data.startswith(b"-NOAUTH"):
                        self._check_identity()
                        return
                    last = data
            except OSError as e:
                last = e
            time.sleep(0.02)
        raise ServerError(f"{self.name} did not answer PING within {timeout}s (last: {last!r})\n"
                          + self.log_tail())

    def _check_identity(self, probes=4):
        """The process answering on our port is ours (INFO's process_id):
        guards against a port picked by, or shared with, another process."""
        for _ in range(probes):
            with RawConn(self.port, timeout=5) as c:
                if self.requirepass is not None:
                    c.call("AUTH", self.requirepass)
                info = c.call("INFO", "server")
            if not isinstance(info, bytes):
                return
            m = re.search(rb"^process_id:(\d+)", info, re.M)
            if m and int(m.group(1)) != self.proc.pid:
                raise PortTaken(f"port {self.port} is answered by pid {int(m.group(1))}, "
                                f"not by {self.name} (pid {self.proc.pid})\n" + self.log_tail())

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Wait for the process to exit; return its code or None on timeout."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Signal the process by PID, wait, SIGKILL if it hangs.  Returns the
        exit code (negative = killed by that signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            if self.wait_exit(timeout) is None:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=timeout)
                self.returncode = "hung-then-SIGKILL"
                return self.returncode
        self.returncode = self.proc.returncode
        return self.returncode

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.returncode = self.proc.wait(timeout=STOP_TIMEOUT)
        return self.returncode

    def restart(self):
        self.stop()
        return self.start()

    # ---- clients ------------------------------------------------------
    def client(self, password=None, **kw):
        if password is None:
            password = self.requirepass
        kw.setdefault("socket_timeout", IO_TIMEOUT)
        kw.setdefault("socket_connect_timeout", IO_TIMEOUT)
        return redis.Redis(host="127.0.0.1", port=self.port, password=password, **kw)

    def raw(self, timeout=IO_TIMEOUT):
        return RawConn(self.port, timeout=timeout)

    # ---- inspection ---------------------------------------------------
    def info_text(self, *sections):
        """INFO [sections] as the server's own text (redis-py parses it)."""
        with self.raw() as c:
            if self.requirepass is not None:
                assert c.call("AUTH", self.requirepass) == "OK"
            reply = c.call("INFO", *sections)
        assert isinstance(reply, bytes), f"INFO replied {reply!r}"
        return reply.decode()

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=60):
        lines = self.log_text().splitlines()[-n:]
        return f"---- {self.name} log ({self.log_path}) ----\n" + "\n".join(lines)


# ---------------------------------------------------------------------------
# A raw RESP connection: for malformed input, inline commands, pipelining and
# RESP3 replies (Debian's redis-py 4.3 speaks RESP2 only).

class Status(str):
    """A simple-string reply (+OK)."""


class Error(str):
    """An error reply (-ERR ...); returned, not raised."""


class Push(list):
    """A RESP3 push reply (>)."""


class Map(list):
    """A RESP3 map reply (%) as a list of (key, value) pairs."""

    def as_dict(self):
        return dict(self)


class RawConn:
    def __init__(self, port, timeout=IO_TIMEOUT, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout)
        self.buf = bytearray()
        self.pos = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def send_command(self, *args):
        self.send(encode_command(*args))

    def call(self, *args):
        self.send_command(*args)
        return self.read_reply()

    # -- reading --
    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("connection closed by server")
        if self.pos > (1 << 20):
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += data

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = bytes(self.buf[self.pos:self.pos + n])
        if self.buf[self.pos + n:self.pos + n + 2] != b"\r\n":
            raise AssertionError("bulk reply not terminated by CRLF")
        self.pos += n + 2
        return data

    def read_reply(self):
        line = self._line()
        if not line:
            raise AssertionError("empty reply line")
        t, rest = line[:1], line[1:]
        if t == b"+":
            return Status(rest.decode())
        if t == b"-":
            return Error(rest.decode("utf-8", "replace"))
        if t == b":":
            return int(rest)
        if t in (b"$", b"=", b"!"):
            n = int(rest)
            if n < 0:
                return None
            data = self._exact(n)
            return Error(data.decode()) if t == b"!" else data
        if t in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return None
            items = [self.read_reply() for _ in range(n)]
            return Push(items) if t == b">" else items
        if t == b"%":
            n = int(rest)
            return Map((self.read_reply(), self.read_reply()) for _ in range(n))
        if t == b"|":   # attribute: read and ignore, then the real reply
            n = int(rest)
            for _ in range(2 * n):
                self.read_reply()
            return self.read_reply()
        if t == b"_":
            return None
        if t == b"#":
            return rest == b"t"
        if t == b",":
            return float(rest)
        if t == b"(":
            return int(rest)
        raise AssertionError(f"unknown reply type byte {t!r} in {line!r}")

    def read_bytes(self, n):
        """Exactly n raw bytes of reply stream (for byte-exact checks)."""
        while len(self.buf) - self.pos < n:
            self._fill()
        data = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return data

    def read_all_available(self, timeout=0.5):
        """Whatever bytes arrive within timeout (b'' if none); EOF ends early."""
        self.sock.settimeout(timeout)
        out = bytes(self.buf[self.pos:])
        self.pos = len(self.buf)
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    break
                out += d
        except socket.timeout:
            pass
        finally:
            self.sock.settimeout(IO_TIMEOUT)
        return out

    def expect_eof(self, timeout=IO_TIMEOUT):
        """Assert the server closes this connection within timeout; return
        whatever unread bytes came first."""
        deadline = time.monotonic() + timeout
        rest = bytes(self.buf[self.pos:])
        self.pos = len(self.buf)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"server did not close the connection within {timeout}s; "
                                     f"got {rest[:200]!r}")
            self.sock.settimeout(left)
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                return rest
            if not d:
                return rest
            rest += d


def encode_command(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def reply_bytes(conn, *cmd):
    """Send cmd on a RawConn and return exactly one reply's bytes, as the server sent them
    (the reply is framed by RawConn, then its bytes are taken from the buffer)."""
    start = conn.pos
    conn.send_command(*cmd)
    conn.read_reply()
    return bytes(conn.buf[start:conn.pos])


def error_of(conn, *args):
    """Send one command on a RawConn; assert the reply is an error and return
    its full text (e.g. "ERR syntax error"); the connection stays usable."""
    reply = conn.call(*args)
    assert isinstance(reply, Error), f"expected an error reply to {args!r}, got {reply!r}"
    return str(reply)
