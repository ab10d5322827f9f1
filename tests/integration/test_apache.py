"""test_apache.py - Apache-only behaviour of mod_freigabe: threads, auth hooks, cookies, the Redis pool.

Each test starts its own Apache (kind "apache") with the configuration it needs: a small
MPM, the README's <Location /> layout, or a Redis reached through a TCP proxy that can
play a failover or lose a reply.
"""
import os
import re
import socket
import threading
import time

import pytest
import requests

import fgtest
from fgtest import API_HEADERS, NAV_HEADERS, TIMEOUT, Browser, header_values, upstream_json

# One child with 8 threads: the long-poll cap is then 8/4 = 2.
ONE_SMALL_CHILD = {"StartServers": 1, "ServerLimit": 1, "ThreadsPerChild": 8,
                   "MaxRequestWorkers": 8, "MinSpareThreads": 1, "MaxSpareThreads": 16}
# One child with the usual threads: every request meets the same connection pool.
ONE_CHILD = {"StartServers": 1, "ServerLimit": 1, "ThreadsPerChild": 25,
             "MaxRequestWorkers": 25, "MinSpareThreads": 1, "MaxSpareThreads": 50}


@pytest.fixture
def apache(key_file, upstream):
    """Factory: apache(redis, kind_args=..., options=...) -> a started Apache server."""
    started = []

    def start(redis, kind_args=None, options=None):
        srv = fgtest.Server("apache", "main", redis, key_file, upstream.port, options=options)
        srv.kind_args = kind_args or {}
        srv.start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


def _health(srv, timeout=TIMEOUT):
    return requests.get(srv.u(srv.prefix + "/health"), timeout=timeout)


# ---- 1. long polls cannot take every thread


def test_parallel_long_polls_leave_threads_for_others(apache, redis_server, make_customer):
    srv = apache(redis_server, {"mpm": ONE_SMALL_CHILD})
    cust = make_customer(srv, app="nacl")
    app = cust.app
    path = app._prefix_path() + "/app/pending?wait=12"
    results = []

    def poll():
        auth, _ = app.sign("GET", path)
        t0 = time.monotonic()
        try:
            r = requests.get(srv.u(path), timeout=30,
                             headers={"Authorization": auth, "Freigabe-Client": app.client,
                                      "Accept": "application/json"})
            results.append((r.status_code, r.text, time.monotonic() - t0))
        except requests.RequestException as e:
            results.append((None, str(e), time.monotonic() - t0))

    polls = [threading.Thread(target=poll) for _ in range(16)]   # twice the threads
    for t in polls:
        t.start()
    time.sleep(1.5)
    t0 = time.monotonic()
    try:
        h = _health(srv, timeout=6)
        status, took = h.status_code, time.monotonic() - t0
    except requests.RequestException as e:
        status, took = str(e), time.monotonic() - t0
    for t in polls:
        t.join(40)
    assert status == 200 and took < 2, \
        "a normal request waited %.1f s behind 16 long polls (%s)" % (took, status)
    assert all(s == 200 and '"requests":[]' in body.replace(" ", "")
               for s, body, _ in results), results
    slept = [d for _, _, d in results if d > 8]
    assert len(slept) <= 2, "%d long polls slept at once (cap: 8 threads / 4)" % len(slept)
    assert len(slept) >= 1, "no long poll waited at all: %r" % results


# ---- 2. the endpoints are never behind AuthType Freigabe


def test_endpoints_inside_a_protected_location(apache, redis_server, make_customer, upstream):
    extra = "\n".join([
        "<Location %s/jwks.json>" % fgtest.PREFIX,
        "    Require method POST",
        "</Location>",
    ])
    srv = apache(redis_server, {"layout": "root", "extra": extra})
    r = requests.get(srv.u(srv.prefix + "/login?rd=%2Fportal%2F"), headers=NAV_HEADERS,
                     timeout=TIMEOUT, allow_redirects=False)
    assert r.status_code == 200, "login page: %s %s" % (r.status_code, r.headers.get("Location"))
    assert _health(srv).status_code == 200
    # the rest of the site is protected as before
    r = requests.get(srv.u("/portal/api/echo"), headers=NAV_HEADERS, timeout=TIMEOUT,
                     allow_redirects=False)
    assert r.status_code == 302 and "/login?rd=" in r.headers["Location"], r.status_code
    # a Require that denies without a user still denies at the endpoints
    r = requests.get(srv.u(srv.prefix + "/jwks.json"), timeout=TIMEOUT)
    assert r.status_code == 403, r.status_code
    # and the whole journey works
    cust = make_customer(srv, app="nacl")
    doc = upstream_json(Browser(srv).login_fully(cust))
    assert header_values(doc, "X-Freigabe-User") == [cust.number]


# ---- 3. the module's cookies never go upstream, protected location or not


def test_module_cookies_removed_on_plain_proxy_location(pool, make_customer):
    server = pool.get("apache", "main")   # its /open location is a plain ProxyPass
    nacl_customer = make_customer(server, app="nacl")
    b = Browser(server)
    b.login_fully(nacl_customer)
    session = b.session_cookie
    cookie = "portalpref=dunkel; %s=%s; %s=vorher; __Host-freigabe=%s; theme=hell" % (
        fgtest.SESSION_COOKIE, session, fgtest.PRE_COOKIE, session)
    r = requests.get(server.u("/open/echo"), headers={"Cookie": cookie, **API_HEADERS},
                     timeout=TIMEOUT)
    doc = upstream_json(r)
    got = "; ".join(header_values(doc, "Cookie"))
    names = [c.split("=", 1)[0].strip() for c in got.split(";") if c.strip()]
    assert names == ["portalpref", "theme"], got
    assert "portalpref=dunkel" in got and "theme=hell" in got, got
    assert session not in got
    # only module cookies: no Cookie header at all
    r = requests.get(server.u("/open/echo"), timeout=TIMEOUT,
                     headers={"Cookie": "%s=%s" % (fgtest.SESSION_COOKIE, session),
                              **API_HEADERS})
    assert header_values(upstream_json(r), "Cookie") == []
    # the endpoints still get them: the session is alive
    w = b.get(server.prefix + "/whoami", headers={"Accept": "application/json"})
    assert w.status_code == 200 and w.json()["customer"] == nacl_customer.number


# ---- 4. a failover behind a virtual IP: connections to the old master are retired


class _RedisAt:
    """What fgtest.Server needs of a Redis: its URL (here: the proxy in front of one)."""

    def __init__(self, port):
        self.port = port

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port


class TcpProxy:
    """A loopback TCP forwarder in front of Redis. New connections go to `target` (a virtual
    IP: a failover moves it, established connections stay where they are).
    lose_reply_to(marker): the next client chunk containing marker reaches Redis, then the
    connection breaks before Redis' answer gets back."""

    def __init__(self, target):
        self.target = target
        self.port = fgtest.free_port()
        self.marker = None
        self.lost = threading.Event()
        self.lock = threading.Lock()
        self.pairs = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def lose_reply_to(self, marker):
        self.lost.clear()
        self.marker = marker

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                backend = socket.create_connection(("127.0.0.1", self.target), timeout=2)
                backend.settimeout(None)
            except OSError:
                client.close()
                continue
            pair = {"c": client, "b": backend, "swallow": False}
            with self.lock:
                self.pairs.append(pair)
            threading.Thread(target=self._up, args=(pair,), daemon=True).start()
            threading.Thread(target=self._down, args=(pair,), daemon=True).start()

    @staticmethod
    def _close(pair):
        for s in (pair["c"], pair["b"]):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _up(self, pair):
        while True:
            try:
                data = pair["c"].recv(65536)
            except OSError:
                data = b""
            if not data:
                return self._close(pair)
            marker = self.marker
            if marker is not None and marker in data:
                self.marker = None
                pair["swallow"] = True   # before Redis can answer
            try:
                pair["b"].sendall(data)
            except OSError:
                return self._close(pair)

    def _down(self, pair):
        while True:
            try:
                data = pair["b"].recv(65536)
            except OSError:
                data = b""
            if not data:
                return self._close(pair)
            if pair["swallow"]:
                self.lost.set()   # Redis has run the commands; the answer never arrives
                return self._close(pair)
            try:
                pair["c"].sendall(data)
            except OSError:
                return self._close(pair)

    def stop(self):
        self.sock.close()
        with self.lock:
            for pair in self.pairs:
                self._close(pair)


@pytest.fixture
def tcp_proxy():
    made = []

    def make(target):
        p = TcpProxy(target)
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()


def _replication_up(client, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        info = client.info("replication")
        if info.get("master_link_status") == "up":
            return
        time.sleep(0.1)
    raise AssertionError("replica did not sync: %r" % info)


def test_failover_retires_connections_to_the_old_master(apache, tcp_proxy, make_customer):
    a = fgtest.Redis().start()
    bk = fgtest.Redis().start()
    try:
        bk.client().replicaof("127.0.0.1", a.port)
        _replication_up(bk.client())
        vip = tcp_proxy(a.port)
        srv = apache(_RedisAt(vip.port), {"mpm": ONE_CHILD})
        cust = make_customer(srv, app="nacl")
        b = Browser(srv)
        b.login_fully(cust)
        for _ in range(3):   # pooled connections to A (through the VIP)
            assert b.get("/portal/api/echo").status_code == 200
        # failover: B becomes the master, A its replica, the VIP moves to B
        bk.client().replicaof("NO", "ONE")
        a.client().replicaof("127.0.0.1", bk.port)
        vip.target = bk.port
        codes = []
        for _ in range(6):
            codes.append(b.get("/portal/api/echo").status_code)
        # the first request meets A's READONLY: fail closed, and the connection is retired;
        # the next ones reach B through the VIP without a restart
        assert codes[0] == 503 and codes[1:] == [200] * 5, codes
        assert "READONLY" in fgtest.tail(srv.error_log, 40)
    finally:
        a.stop()
        bk.stop()


def test_server_on_a_replica_fails_closed_until_promoted(apache, make_customer, redis_server):
    dead_master = fgtest.free_port()   # nothing listens there
    rep = fgtest.Redis().start()
    try:
        rep.client().replicaof("127.0.0.1", dead_master)
        srv = apache(rep, {"mpm": ONE_CHILD})
        b = Browser(srv)
        b.open_login()
        r = b.login("7000000001", "irgendwas-123")
        assert r.status_code == 503, (r.status_code, r.text[:200])
        rep.client().replicaof("NO", "ONE")
        cust = make_customer(srv, app="nacl")
        doc = upstream_json(Browser(srv).login_fully(cust))
        assert header_values(doc, "X-Freigabe-User") == [cust.number]
    finally:
        rep.stop()


# ---- 5. the request body (the password) does not stay in the child's memory


@pytest.fixture
def private_redis():
    """A Redis of this test's own (wrong passwords from 127.0.0.1 count per address)."""
    r = fgtest.Redis().start()
    yield r
    r.stop()


def _children(srv):
    """PIDs of the Apache children of srv (the parent's pid is in httpd.pid)."""
    parent = int((srv.dir / "httpd.pid").read_text().split()[0])
    kids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                stat = open("/proc/%s/stat" % pid).read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                kids.append(int(pid))
    return kids


def _memory_hits(pid, needle):
    """Places where needle occurs in the writable memory of process pid."""
    hits = []
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if "rw" not in fields[1] or (len(fields) > 5 and fields[5].startswith("[v")):
                continue
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except (OSError, ValueError, OverflowError):
                continue
            hits += [lo + m.start() for m in re.finditer(re.escape(needle), data)]
    return hits


def test_password_not_left_in_child_memory(apache, private_redis, make_customer):
    srv = apache(private_redis, {"mpm": ONE_CHILD})
    cust = make_customer(srv, app="nacl")
    secret = "Geheim-%s" % os.urandom(12).hex()
    b = Browser(srv)
    b.open_login()
    r = b.login(cust.number, secret)   # a wrong password: the whole body is read and parsed
    assert r.status_code == 401, r.status_code
    [child] = _children(srv)
    # Apache's own input buffers may still hold the raw request; the module's copy (the form
    # body starting at "customer=") must be gone
    body = ("customer=%s&password=%s" % (cust.number, secret)).encode()
    hits = _memory_hits(child, body)
    assert hits == [], "the form body with the password is still in memory at %s" % [
        hex(h) for h in hits]


# ---- 6. a pipeline whose reply is lost is not sent again (an INCR counts once)


def _fail_count(redis, customer):
    v = redis.client().get("freigabe:{%s}:fail" % customer)
    return int(v) if v is not None else 0


def test_lost_reply_is_not_sent_again(apache, private_redis, tcp_proxy, make_customer):
    proxy = tcp_proxy(private_redis.port)
    srv = apache(_RedisAt(proxy.port), {"mpm": ONE_CHILD})
    cust = make_customer(srv, app=None)
    # one wrong password first: Redis then knows the scripts (no NOSCRIPT round trip), and
    # the child's pooled connection has been used: the next login reuses it
    b = Browser(srv)
    b.open_login()
    assert b.login(cust.number, "falsch-000000").status_code == 401
    assert _fail_count(private_redis, cust.number) == 1
    # the login's first pipeline (HMGET, SCARD, the two attempt counters) reaches Redis,
    # then the connection breaks before the answer comes back
    proxy.lose_reply_to(b"SCARD")
    b = Browser(srv)
    b.open_login()
    r = b.login(cust.number, "falsch-123456")
    assert proxy.lost.is_set(), "the proxy did not see the login's pipeline"
    assert _fail_count(private_redis, cust.number) == 2, \
        "one attempt was counted %d times (pipeline sent again)" % (
            _fail_count(private_redis, cust.number) - 1)
    assert r.status_code == 503, r.status_code
    # the next attempt works on a fresh connection and counts once
    b = Browser(srv)
    b.open_login()
    assert b.login(cust.number, "falsch-654321").status_code == 401
    assert _fail_count(private_redis, cust.number) == 3


def test_redis_restart_while_idle_costs_no_request(apache, private_redis, make_customer):
    srv = apache(private_redis, {"mpm": ONE_CHILD})
    for _ in range(3):
        assert _health(srv).status_code == 200
    private_redis.stop()
    private_redis.start()
    time.sleep(0.3)   # the pooled connection now has Redis' EOF waiting on it
    codes = [_health(srv).status_code for _ in range(3)]
    assert codes == [200] * 3, codes


# ---- the login survives internal redirects (mod_rewrite, ErrorDocument)


def test_internal_redirect_to_a_protected_location_keeps_the_login(apache, redis_server,
                                                                   make_customer):
    """The module's cookies leave the Cookie header in fixups; an internal redirect made
    after that (a per-directory RewriteRule, as PHP portals have in .htaccess) shares the
    stripped header, and the protected target must still see the session."""
    docroot = fgtest.make_tempdir("docroot")
    os.chmod(docroot, 0o755)
    extra = "\n".join([
        "LoadModule rewrite_module %s/mod_rewrite.so" % fgtest.APACHE_MODDIR,
        'DocumentRoot "%s"' % docroot,
        '<Directory "%s">' % docroot,
        "    Require all granted",
        "    RewriteEngine On",
        "    RewriteRule ^go$ /portal/api/echo [PT,L]",
        "</Directory>",
    ])
    srv = apache(redis_server, {"extra": extra})
    cust = make_customer(srv, app="nacl")
    b = Browser(srv)
    upstream_json(b.login_fully(cust))
    r = b.get("/go", headers={"Accept": "application/json"})
    assert r.status_code == 200, (r.status_code, r.headers.get("Location"), r.text[:200])
    doc = upstream_json(r)
    assert header_values(doc, "X-Freigabe-User") == [cust.number]
    # and the session cookie still does not reach the upstream
    sent = " ".join(v for k, v in doc["headers"] if k.lower() == "cookie")
    assert "freigabe=" not in sent, sent
