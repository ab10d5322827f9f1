"""conftest.py - pytest fixtures for Freigabe's integration tests: Redis, upstream portal, servers, customers.

Every server-using test runs once per server kind (fgtest.SERVER_KINDS: "apache" now,
"nginx" once its kind exists). Servers are started lazily per (kind, variant) and shared by
the session; tests stay independent by using a fresh customer each (fresh customer number).
On a failure the tail of each running server's logs is attached to the report.
"""
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "demo"))

import fgtest  # noqa: E402
from portal import Portal  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a minute (FG_SKIP_SLOW=1 skips)")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("FG_SKIP_SLOW") == "1":
        skip = pytest.mark.skip(reason="FG_SKIP_SLOW=1")
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(skip)


class ServerPool:
    """Starts servers on demand, one per (kind, variant), all sharing Redis, key, upstream."""

    def __init__(self, redis, key_file, upstream):
        self.redis = redis
        self.key_file = key_file
        self.upstream = upstream
        self.servers = {}
        self.failed = {}

    def get(self, kind, variant="main"):
        k = (kind, variant)
        if k in self.failed:
            pytest.fail("%s server (%s) failed to start earlier:\n%s" % (kind, variant,
                                                                         self.failed[k]))
        if k not in self.servers:
            srv = fgtest.Server(kind, variant, self.redis, self.key_file, self.upstream.port)
            try:
                srv.start()
            except Exception as e:
                self.failed[k] = str(e)
                pytest.fail("%s server (%s) failed to start:\n%s" % (kind, variant, e))
            self.servers[k] = srv
        return self.servers[k]

    def stop_all(self):
        for srv in self.servers.values():
            try:
                srv.stop()
            except Exception as e:  # keep stopping the others
                print("stopping %r: %s" % (srv, e))


@pytest.fixture(scope="session")
def built():
    try:
        fgtest.require_built()
    except RuntimeError as e:
        pytest.fail(str(e))
    return True


@pytest.fixture(scope="session")
def key_file(built):
    d = fgtest.make_tempdir("keys")
    return fgtest.keygen(d / "freigabe.key")


@pytest.fixture(scope="session")
def upstream():
    p = Portal(port=fgtest.free_port()).start()
    yield p
    p.stop()


@pytest.fixture(scope="session")
def redis_server():
    r = fgtest.Redis().start()
    yield r
    r.stop()


@pytest.fixture(scope="session")
def pool(redis_server, key_file, upstream):
    p = ServerPool(redis_server, key_file, upstream)
    yield p
    p.stop_all()


@pytest.fixture(scope="session", params=fgtest.SERVER_KINDS)
def kind(request):
    return request.param


@pytest.fixture
def server(pool, kind):
    """The main server of this kind: compare mode, 120 s challenges, app >= 0.1."""
    return pool.get(kind, "main")


@pytest.fixture
def short_server(pool, kind):
    """A server of this kind whose challenges expire after 10 s."""
    return pool.get(kind, "short")


@pytest.fixture
def enter_server(pool, kind):
    """A server of this kind in code mode "enter"."""
    return pool.get(kind, "enter")


@pytest.fixture
def brief_server(pool, kind):
    """A server of this kind whose sessions idle out after 60 s and end after 75 s."""
    return pool.get(kind, "brief")


@pytest.fixture
def redis_client(redis_server):
    return redis_server.client()


@pytest.fixture
def ctl(redis_server, built):
    return fgtest.Ctl(redis_server.url)


@pytest.fixture
def customer(server):
    """A fresh customer "Erika Müller" with a freigabe-app enrolled on the main server."""
    return fgtest.create_customer(server, "Erika Müller", app="cli")


@pytest.fixture
def nacl_customer(server):
    """A fresh customer "Erika Müller" whose app is the Python client (naclapp)."""
    return fgtest.create_customer(server, "Erika Müller", app="nacl")


@pytest.fixture
def make_customer():
    """Factory: make_customer(server, name=..., app="cli"|"nacl"|None)."""
    return fgtest.create_customer


@pytest.fixture
def browser(server):
    return fgtest.Browser(server)


@pytest.fixture
def isolated(kind, key_file, upstream):
    """A private Redis + server pair (main variant) for tests that break Redis."""
    r = fgtest.Redis().start()
    srv = fgtest.Server(kind, "main", r, key_file, upstream.port)
    try:
        srv.start()
    except Exception as e:
        r.stop()
        pytest.fail("isolated %s server failed to start:\n%s" % (kind, e))
    yield srv
    srv.stop()
    srv.redis.stop()


def pytest_sessionfinish(session, exitstatus):
    for proc in list(fgtest.RUNNING):   # anything a fixture could not stop
        try:
            proc.stop()
        except Exception:
            pass
    fgtest.cleanup_tempdirs()


# ---- attach server logs to failing tests

def _log_marks():
    marks = {}
    for proc in list(fgtest.RUNNING):
        for label, path in proc.log_files():
            try:
                marks[str(path)] = os.path.getsize(path)
            except OSError:
                marks[str(path)] = 0
    return marks


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item._fg_log_marks = _log_marks()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed or rep.when not in ("setup", "call"):
        return
    marks = getattr(item, "_fg_log_marks", {})
    for proc in list(fgtest.RUNNING):
        for label, path in proc.log_files():
            text = fgtest.tail(path, 40, marks.get(str(path), 0))
            if text.strip():
                rep.sections.append(("%r %s (tail, this test)" % (proc, label), text))
