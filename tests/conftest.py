"""Fixtures of the black-box suite.  See tests/README.md."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import flinproc  # noqa: E402
from flinproc import Server  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "flin_only: Flin's own behavior (flags, Flin settings, db 0 only...); "
                   "skipped when FLIN_TARGET=redis")


def pytest_report_header(config):
    where = flinproc.REDIS_SERVER if flinproc.is_redis() else flinproc.FLIN_SERVER
    return f"flin black-box target: {flinproc.TARGET} ({where})"


def pytest_collection_modifyitems(config, items):
    if not flinproc.is_redis():
        return
    skip = pytest.mark.skip(reason="Flin-only behavior (FLIN_TARGET=redis)")
    for item in items:
        if "flin_only" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(request):
    for when in ("setup", "call"):
        rep = getattr(request.node, "rep_" + when, None)
        if rep is not None and rep.failed:
            return True
    return False


def _module_server(tmp_path_factory, dirname, **kw):
    srv = Server(tmp_path_factory.mktemp(dirname), **kw)
    try:
        srv.start()
    except flinproc.ServerError as e:
        pytest.fail(str(e), pytrace=False)
    return srv


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for a whole module of command tests."""
    srv = _module_server(tmp_path_factory, "srv", name="module-server")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    """A real redis-server (Debian's 7.0) beside the server under test, whatever the target,
    for tests that move data between the two: on a scratch port, --save '', stopped by PID."""
    srv = _module_server(tmp_path_factory, "redis", target="redis", name="other-redis")
    yield srv
    srv.stop()


@pytest.fixture
def r(server, request):
    """A redis-py client (bytes replies) on the module server, FLUSHALL'd."""
    if not server.alive():
        pytest.fail(f"module server is not running (exit {server.proc.returncode})\n"
                    + server.log_tail(), pytrace=False)
    c = server.client()
    c.flushall()
    yield c
    c.close()
    if _failed(request):
        print(server.log_tail())


@pytest.fixture
def rs(server):
    """The same, decoding replies to str."""
    c = server.client(decode_responses=True)
    yield c
    c.close()


@pytest.fixture
def raw(server, r):
    """A raw RESP socket to the module server (after r's FLUSHALL)."""
    c = server.raw()
    yield c
    c.close()


@pytest.fixture
def conn(server, r):
    """A factory of raw RESP sockets to the module server, after r's FLUSHALL (socket timeout
    5 s: a message or push that never comes fails in 5 s; conn(3): after HELLO 3), closed at
    the test's end."""
    made = []

    def make(proto=2):
        c = server.raw(timeout=5.0)
        made.append(c)
        if proto == 3:
            assert isinstance(c.call("HELLO", "3"), flinproc.Map)
        return c
    yield make
    for c in made:
        c.close()


@pytest.fixture
def make_server(tmp_path, request):
    """Factory of function-scoped servers: make_server(**options) starts one
    (see flinproc.Server); all are stopped by PID at teardown."""
    started = []

    def make(start=True, **kw):
        kw.setdefault("name", f"server{len(started)}")
        srv = Server(tmp_path / kw["name"], **kw)
        os.makedirs(srv.workdir, exist_ok=True)
        started.append(srv)
        if start:
            try:
                srv.start()
            except flinproc.ServerError as e:
                pytest.fail(str(e), pytrace=False)
        return srv

    yield make
    for srv in started:
        srv.stop()
    if _failed(request):
        for srv in started:
            print(srv.log_tail())


@pytest.fixture
def events(server, raw):
    """A factory: events(flags) sets notify-keyspace-events and returns an
    event_helpers.Events; the setting is put back to '' afterwards whatever happens (the
    server is shared by the module)."""
    from event_helpers import Events
    made = []

    def make(flags):
        assert raw.call("CONFIG", "SET", "notify-keyspace-events", flags) == "OK"
        e = Events(server, raw)
        made.append(e)
        return e
    yield make
    for e in made:
        e.sub.close()
    with server.raw() as c:
        assert c.call("CONFIG", "SET", "notify-keyspace-events", "") == "OK"
