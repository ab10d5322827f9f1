"""test_nginx.py - nginx only: one worker stays responsive while Redis hangs or Argon2id hashes,
client aborts during async work, reload under traffic, and valgrind (FG_VALGRIND=1; scripts/test.sh sets it).

Every test gets its own Redis and its own nginx (worker_processes 1) through the function-scoped
`solo` factory, so breaking Redis or exhausting the hash slots never touches another test.
"""
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest
import requests

import fgtest
from fgtest import TIMEOUT, Browser, app_approve, header_values, upstream_json

REDIS_TIMEOUT = 1.0                 # seconds; freigabe_redis_timeout in the Redis-stall test
BIG_ARGON2 = {"argon2_ops": "3", "argon2_mem": "256M"}   # ~0.5 s per hash on the test box

# error_log lines that mean a worker crashed or nginx hit an internal inconsistency
CRASH_PATTERNS = ("[alert]", "[emerg]", "signal 11", "signal 6", "exited on signal",
                  "core dumped", "segmentation")


# --------------------------------------------------------------------------- helpers

@pytest.fixture
def solo(key_file, upstream):
    """Factory: solo(options=None, workers=1, ..., redis=None) -> a started nginx Server with
    its own Redis (a started fgtest.Redis passed as `redis` is used, and stopped, instead).
    Everything it started is stopped at the end of the test (Redis is SIGCONTed first)."""
    started = []

    def make(options=None, workers=1, extra_http="", extra_server="", extra_main="", redis=None):
        r = redis if redis is not None else fgtest.Redis().start()
        srv = fgtest.Server("nginx", "solo", r, key_file, upstream.port, options=options)
        srv.kind_args = {"workers": workers, "extra_http": extra_http,
                         "extra_server": extra_server, "extra_main": extra_main}
        started.append(srv)
        try:
            srv.start()
        except Exception as e:
            pytest.fail("solo nginx failed to start:\n%s" % e)
        return srv

    yield make
    for srv in started:
        try:
            redis_cont(srv.redis)
            srv.stop()
        finally:
            srv.redis.stop()


def redis_stop(redis):
    os.kill(redis.proc.pid, signal.SIGSTOP)


def redis_cont(redis):
    if redis.proc is not None and redis.proc.poll() is None:
        os.kill(redis.proc.pid, signal.SIGCONT)


def children(pid):
    """Pids of the direct children of pid (nginx's workers and cache helpers)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may contain spaces and parentheses
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            out.append(int(d))
    return sorted(out)


def worker_pids(srv):
    return children(srv.proc.pid)


def log_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def log_since(path, offset=0):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


def crash_lines(text):
    return [ln for ln in text.splitlines()
            if any(p in ln.lower() for p in CRASH_PATTERNS)]


def assert_no_crash(srv, offset=0):
    bad = crash_lines(log_since(srv.error_log, offset))
    assert not bad, "error_log:\n  " + "\n  ".join(bad[:20])


def wait_health(srv, timeout=10.0):
    """Polls {prefix}/health until 200; -> (last response, seconds waited)."""
    t0 = time.monotonic()
    r = None
    while time.monotonic() - t0 < timeout:
        try:
            r = requests.get(srv.u(srv.prefix + "/health"), timeout=3)
            if r.status_code == 200:
                break
        except requests.RequestException:
            pass
        time.sleep(0.2)
    return r, time.monotonic() - t0


def cookie_header(browser):
    return "; ".join("%s=%s" % (c.name, c.value) for c in browser.s.cookies)


def raw_send(srv, data, timeout=TIMEOUT):
    """Opens a connection to srv, sends data (bytes); -> the socket (the caller closes it)."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    s.sendall(data)
    return s


def raw_http(srv, method, path, headers, body=b""):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1:%d" % srv.port]
    for k, v in headers.items():
        lines.append("%s: %s" % (k, v))
    if body or method == "POST":
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def raw_protected(srv, browser, path="/portal/api/echo"):
    """A protected GET carrying browser's cookies."""
    return raw_http(srv, "GET", path, {"Accept": "application/json",
                                       "Cookie": cookie_header(browser)})


def raw_login(srv, browser, customer, password):
    """The login POST a Browser that opened the login page would send, as raw bytes."""
    body = urllib.parse.urlencode({"customer": customer, "password": password,
                                   "csrf": browser.csrf or "", "rd": browser.rd or "/"}).encode()
    return raw_http(srv, "POST", srv.prefix + "/login", {
        "Content-Type": "application/x-www-form-urlencoded", "Origin": srv.origin,
        "Accept": "text/html", "Cookie": cookie_header(browser)}, body)


def raw_long_poll(srv, app, wait=10):
    """A signed GET {prefix}/app/pending?wait=N from a NaclApp, as raw bytes."""
    path = srv.prefix + "/app/pending?wait=%d" % wait
    auth, _ = app.sign("GET", path, b"")
    return raw_http(srv, "GET", path, {"Authorization": auth, "Freigabe-Client": app.client,
                                  "Accept": "application/json"})


def slow_body_status(srv, method, path, body=b"x=1", gap=0.3, timeout=TIMEOUT):
    """Sends the request head, waits `gap` seconds, then the body (so nginx reads the body
    after the content handler returned); -> the answer's status code."""
    head = ("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: application/json\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n"
            "Connection: close\r\n\r\n" % (method, path, srv.port, len(body))).encode()
    with raw_send(srv, head, timeout) as s:
        time.sleep(gap)
        s.sendall(body)
        return read_status(s)


def h2c_slow_body_status(port, path, body=b"x=1", gap=0.3):
    """The same over HTTP/2 without TLS (prior knowledge), with curl streaming the body from
    a pipe that gets it only after `gap` seconds; -> the answer's status code."""
    p = subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                          "--http2-prior-knowledge", "-X", "POST", "-T", "-",
                          "-H", "Content-Type: application/x-www-form-urlencoded",
                          "-H", "Accept: application/json",
                          "http://127.0.0.1:%d%s" % (port, path)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(gap)
    out, err = p.communicate(body, timeout=60)
    assert p.returncode == 0, (p.returncode, err)
    return int(out.decode() or 0)


def read_status(s):
    """Reads an answer's status line from socket s; -> status code (int)."""
    buf = b""
    while b"\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", buf)
    assert m, "no status line: %r" % buf[:200]
    return int(m.group(1))


def raw_status(srv, data, timeout=TIMEOUT):
    """Sends data, reads the answer's status line; -> status code (int)."""
    with raw_send(srv, data, timeout) as s:
        return read_status(s)


def abort_after(sock, delay):
    """Sleeps, then hangs up without reading (RST if the server wrote, else FIN)."""
    time.sleep(delay)
    sock.close()


def timed(fn, *a, **kw):
    """-> (result or exception, start, end) with time.monotonic() stamps."""
    t0 = time.monotonic()
    try:
        res = fn(*a, **kw)
    except Exception as e:  # noqa: BLE001 - reported by the caller
        res = e
    return res, t0, time.monotonic()


class Bg(threading.Thread):
    """Runs fn in a thread; .result, .start_t, .end_t once joined."""

    def __init__(self, fn, *a, **kw):
        super().__init__(daemon=True)
        self.fn, self.a, self.kw = fn, a, kw
        self.result = self.start_t = self.end_t = None

    def run(self):
        self.result, self.start_t, self.end_t = timed(self.fn, *self.a, **self.kw)

    def done(self):
        return self.end_t is not None


def static_ok(srv, timeout=5):
    """GET /static-ok on a fresh connection; -> (status, seconds)."""
    t0 = time.monotonic()
    r = requests.get(srv.u("/static-ok"), timeout=timeout, headers={"Connection": "close"})
    return r.status_code, time.monotonic() - t0


def reload(srv, timeout=90):
    """`nginx -s reload` (it parses the configuration, Argon2id dummy hash included: on a busy
    box that takes a while, hence the generous timeout)."""
    p = subprocess.run([fgtest.NGINX_BIN, "-p", str(srv.dir) + "/", "-c", str(srv.conf), "-s",
                        "reload"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    assert p.returncode == 0, p.stdout.decode("utf-8", "replace")


def access_statuses(srv, needle):
    """Status codes of access_log lines containing needle (nginx's combined format)."""
    try:
        text = (srv.dir / "access_log").read_text("utf-8", "replace")
    except OSError:
        return []
    out = []
    for ln in text.splitlines():
        if needle in ln:
            m = re.search(r'" (\d{3}) ', ln)
            if m:
                out.append(int(m.group(1)))
    return out


# --------------------------------------------------------------------------- 1. Redis stall

def test_redis_stall_does_not_block_worker(solo, make_customer, upstream):
    srv = solo({"redis_timeout": "1s"})
    cust = make_customer(srv, app="nacl")
    b = Browser(srv)
    doc = upstream_json(b.login_fully(cust))
    assert header_values(doc, "X-Freigabe-User") == [cust.number]
    workers = worker_pids(srv)
    assert len(workers) == 1, workers
    b2 = Browser(srv)
    b2.open_login()          # the pre-login state is in Redis before it stalls
    log_off = log_size(srv.error_log)

    redis_stop(srv.redis)
    try:
        login = Bg(b2.login, cust.number, cust.password)
        login.start()
        time.sleep(0.2)
        st, st_secs = static_ok(srv)
        login_pending_during_static = not login.done()
        prot = Bg(b.get, "/portal/api/echo", headers={"Accept": "application/json"})
        prot.start()
        login.join(REDIS_TIMEOUT + 8)
        prot.join(REDIS_TIMEOUT + 8)
    finally:
        redis_cont(srv.redis)

    assert st == 200 and st_secs < 0.5, \
        "GET /static-ok took %.3fs (status %s) while a login waited on Redis" % (st_secs, st)
    assert login_pending_during_static, "the login was answered before Redis could time out"
    assert login.done() and not isinstance(login.result, Exception), login.result
    login_secs = login.end_t - login.start_t
    assert login.result.status_code == 503, (login.result.status_code, login.result.text[:300])
    assert REDIS_TIMEOUT * 0.8 <= login_secs <= REDIS_TIMEOUT + 1.5, \
        "login 503 after %.2fs, freigabe_redis_timeout is %.1fs" % (login_secs, REDIS_TIMEOUT)
    # the protected request with a valid session was answered (fail closed), not stuck
    assert prot.done() and not isinstance(prot.result, Exception), prot.result
    prot_secs = prot.end_t - prot.start_t
    assert prot.result.status_code == 503, (prot.result.status_code, prot.result.text[:300])
    assert prot_secs <= REDIS_TIMEOUT + 1.5, "protected request answered after %.2fs" % prot_secs
    assert "Location" not in prot.result.headers

    # recovery: health is back within a few seconds, the session and the login work again
    h, waited = wait_health(srv, 5)
    assert h is not None and h.status_code == 200, "no recovery within 5 s: %r" % (
        h and (h.status_code, h.text))
    doc = upstream_json(b.get("/portal/api/echo"))
    assert header_values(doc, "X-Freigabe-User") == [cust.number]
    r = b2.login(cust.number, cust.password)
    assert r.status_code == 303, (r.status_code, r.text[:300])
    assert worker_pids(srv) == workers, "the worker changed"
    text = log_since(srv.error_log, log_off)
    assert "timed out" in text, "no Redis timeout logged:\n" + text[-2000:]
    assert_no_crash(srv)


class RedisWith(fgtest.Redis):
    """A redis-server with extra command-line arguments (a password, fewer databases, other
    addresses); `url` is a template for the URL nginx gets ({port} is filled in)."""

    def __init__(self, extra=(), url="redis://127.0.0.1:{port}/0", password=None):
        super().__init__()
        self.extra, self.url_template, self.password = list(extra), url, password

    @property
    def url(self):
        return self.url_template.format(port=self.port)

    def client(self, db=0):
        import redis
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, password=self.password,
                           socket_timeout=5, socket_connect_timeout=2)

    def start(self, timeout=10.0):
        logf = open(self.dir / "redis.log", "ab")
        self.proc = subprocess.Popen(
            [fgtest.REDIS_BIN, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.dir), "--save", "", "--appendonly", "no", "--daemonize", "no"]
            + self.extra, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited: " + fgtest.tail(self.dir / "redis.log"))
            try:
                if self.client().ping():
                    fgtest.RUNNING.append(self)
                    return self
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING on %d" % self.port)


def test_redis_select_failure_fails_closed(solo):
    """A SELECT that Redis refuses must not leave the connection on database 0 (another
    deployment's data): the module logs why and answers 503, and writes nothing."""
    r = RedisWith(["--databases", "4"], url="redis://127.0.0.1:{port}/15").start()
    srv = solo(redis=r)
    for _ in range(3):
        h = requests.get(srv.u(srv.prefix + "/health"), timeout=TIMEOUT)
        assert h.status_code == 503, (h.status_code, h.text[:300])
    b = Browser(srv)
    b.open_login()
    lg = b.login("7000000001", "irgendwas-123")
    assert lg.status_code == 503, (lg.status_code, lg.text[:300])
    text = log_since(srv.error_log)
    assert re.search(r"SELECT 15.*DB index is out of range", text), text[-3000:]
    assert r.client(0).dbsize() == 0, r.client(0).keys("*")[:20]
    assert_no_crash(srv)


def test_redis_auth_failure_fails_closed(solo):
    """A refused AUTH is logged by name (without the password), and answered with 503."""
    r = RedisWith(["--requirepass", "richtig-pw-1"], password="richtig-pw-1",
                  url="redis://:falsch-pw-2@127.0.0.1:{port}/0").start()
    srv = solo(redis=r)
    h = requests.get(srv.u(srv.prefix + "/health"), timeout=TIMEOUT)
    assert h.status_code == 503, (h.status_code, h.text[:300])
    text = log_since(srv.error_log)
    assert re.search(r"AUTH.*(WRONGPASS|invalid)", text), text[-3000:]
    assert "closing the connection" in text, text[-3000:]
    assert "falsch-pw-2" not in text and "richtig-pw-1" not in text
    assert_no_crash(srv)


def test_redis_auth_and_select_reach_the_database(solo, make_customer):
    """With a password and a database, everything the module writes is in that database."""
    r = RedisWith(["--databases", "4", "--requirepass", "geheim-pw-3"], password="geheim-pw-3",
                  url="redis://:geheim-pw-3@127.0.0.1:{port}/3").start()
    srv = solo(redis=r)
    cust = make_customer(srv, app="nacl")
    r.client(3).delete(*r.client(3).keys("*audit*") or ["-"])
    b = Browser(srv)
    doc = upstream_json(b.login_fully(cust))
    assert header_values(doc, "X-Freigabe-User") == [cust.number]
    assert r.client(3).keys("*audit*"), "the login wrote no audit record into db 3"
    assert r.client(0).dbsize() == 0, r.client(0).keys("*")[:20]
    assert "geheim-pw-3" not in log_since(srv.error_log)
    assert_no_crash(srv)


def test_redis_timeout_is_per_location(solo, make_customer):
    """freigabe_redis_timeout set in one location applies there, not to every location that
    shares the Redis URL (one connection object per URL and timeout)."""
    srv = solo({"redis_timeout": "1s"}, extra_server="\n".join([
        "        location /slow/ {",
        "            freigabe on; freigabe_redis_timeout 3s;",
        "            proxy_pass http://portal;",
        "        }"]))
    cust = make_customer(srv, app="nacl")
    b = Browser(srv)
    upstream_json(b.login_fully(cust))
    assert b.get("/slow/x", headers={"Accept": "application/json"}).status_code == 200
    redis_stop(srv.redis)
    try:
        slow = Bg(b.get, "/slow/x", headers={"Accept": "application/json"})
        fast = Bg(requests.get, srv.u("/portal/api/echo"), timeout=TIMEOUT,
                  headers={"Accept": "application/json", "Cookie": cookie_header(b)})
        slow.start()
        fast.start()
        slow.join(10)
        fast.join(10)
    finally:
        redis_cont(srv.redis)
    for t in (slow, fast):
        assert t.done() and not isinstance(t.result, Exception), t.result
        assert t.result.status_code == 503, (t.result.status_code, t.result.text[:200])
    fast_secs, slow_secs = fast.end_t - fast.start_t, slow.end_t - slow.start_t
    assert 0.8 <= fast_secs <= 2.0, "freigabe_redis_timeout 1s took %.2f s" % fast_secs
    assert 2.7 <= slow_secs <= 4.5, "freigabe_redis_timeout 3s took %.2f s" % slow_secs
    assert_no_crash(srv)


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_redis_ipv6_literal_is_accepted(key_file):
    rc, out = nginx_t(key_file, redis_url="redis://[::1]:6391/0")
    assert rc == 0, out


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here")
def test_redis_over_ipv6(solo, make_customer):
    r = RedisWith(["--bind", "127.0.0.1 ::1"], url="redis://[::1]:{port}/0").start()
    srv = solo(redis=r)
    h, _ = wait_health(srv, 5)
    assert h is not None and h.status_code == 200, h and h.text
    assert "[::1]" in log_since(srv.error_log), "connected to what?"
    assert_no_crash(srv)


def test_redis_reconnects_under_steady_traffic(solo):
    """A busy worker reconnects after Redis restarts: requests refused inside the back-off
    window must not push the next attempt further out (with a request every 20 ms, shorter
    than the shortest back-off, the worker would otherwise never try again)."""
    srv = solo()
    h, _ = wait_health(srv, 5)
    assert h is not None and h.status_code == 200
    health = srv.u(srv.prefix + "/health")
    sess = requests.Session()

    def poke():
        try:
            return sess.get(health, timeout=3).status_code
        except requests.RequestException as e:
            return repr(e)

    srv.redis.stop()
    t_end = time.monotonic() + 1.0
    down = []
    while time.monotonic() < t_end:
        down.append(poke())
        time.sleep(0.02)
    assert down and all(c == 503 for c in down), down[:20]
    srv.redis.start()                           # the same port, back at once
    t0 = time.monotonic()
    codes = []
    while time.monotonic() - t0 < 10:
        codes.append(poke())
        if codes[-1] == 200:
            break
        time.sleep(0.02)
    waited = time.monotonic() - t0
    # the back-off grows to 5 s at most, so the worker must be back well within 7 s
    assert codes[-1] == 200, "still %r after %.1f s of steady traffic (%d requests)" % (
        codes[-1], waited, len(codes))
    assert waited < 7, "reconnected only after %.1f s" % waited
    assert_no_crash(srv)


# --------------------------------------------------------------------------- 2. Argon2id

def test_hashing_does_not_block_worker(solo, make_customer, monkeypatch):
    monkeypatch.setattr(fgtest, "TIMEOUT", 60)   # four big hashes on a shared, busy box
    srv = solo(dict(BIG_ARGON2))      # freigabe_hash_concurrency 4 (default), 4 pool threads
    n = 4
    custs = [make_customer(srv, app="nacl") for _ in range(n)]
    holder = make_customer(srv, app="nacl")
    hb = Browser(srv)
    upstream_json(hb.login_fully(holder))
    browsers = []
    for c in custs:
        br = Browser(srv)
        br.open_login()
        browsers.append(br)
    go = threading.Barrier(n + 1)

    def login(br, c):
        go.wait(5)
        return br.login(c.number, c.password)

    threads = [Bg(login, br, c) for br, c in zip(browsers, custs)]
    for t in threads:
        t.start()
    go.wait(5)
    t_go = time.monotonic()
    time.sleep(0.15)
    st, st_secs = static_ok(srv)
    st_end = time.monotonic()
    pr, pr_t0, pr_end = timed(hb.get, "/portal/api/echo", headers={"Accept": "application/json"})
    for t in threads:
        t.join(60)
    results = [t.result for t in threads]
    assert all(not isinstance(r, Exception) for r in results), results
    assert [r.status_code for r in results] == [303] * n, \
        [(r.status_code, r.text[:200]) for r in results]
    first_login_end = min(t.end_t for t in threads)
    assert first_login_end - t_go > 0.4, \
        "hashes finished after %.2fs: too fast to show anything" % (first_login_end - t_go)
    assert st == 200 and st_secs < 0.5, "static took %.3fs during hashing" % st_secs
    assert st_end < first_login_end, \
        "static answered %.3fs after the first hash finished" % (st_end - first_login_end)
    assert not isinstance(pr, Exception), pr
    assert pr.status_code == 200 and pr_end < first_login_end, \
        "protected request %s after %.3fs (first hash done after %.3fs)" % (
            pr.status_code, pr_end - pr_t0, first_login_end - t_go)
    assert_no_crash(srv)


def test_hash_concurrency_cap_answers_503(solo, make_customer, monkeypatch):
    monkeypatch.setattr(fgtest, "TIMEOUT", 60)
    srv = solo(dict(BIG_ARGON2, hash_concurrency="1"))
    n = 4
    custs = [make_customer(srv, app="nacl") for _ in range(n)]
    browsers = []
    for c in custs:
        br = Browser(srv)
        br.open_login()
        browsers.append(br)
    go = threading.Barrier(n)

    def login(br, c):
        go.wait(5)
        return br.login(c.number, c.password)

    threads = [Bg(login, br, c) for br, c in zip(browsers, custs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    results = [t.result for t in threads]
    assert all(not isinstance(r, Exception) for r in results), results
    codes = sorted(r.status_code for r in results)
    assert set(codes) <= {303, 503} and 303 in codes and 503 in codes, \
        [(r.status_code, r.text[:200]) for r in results]
    for t in threads:
        r = t.result
        if r.status_code == 503:
            ra = r.headers.get("Retry-After", "")
            assert ra.isdigit() and int(ra) > 0, "503 without Retry-After: %r" % dict(r.headers)
            ok_end = max(u.end_t for u in threads if u.result.status_code == 303)
            assert t.end_t < ok_end, \
                "the refused login waited %.2fs, for the running hash (refuse at once)" % (
                    t.end_t - t.start_t)
    # the slot is given back: the refused ones succeed one after another
    for t, br, c in zip(threads, browsers, custs):
        if t.result.status_code == 503:
            r = br.login(c.number, c.password)
            assert r.status_code == 303, (r.status_code, r.text[:300])
    assert_no_crash(srv)


# --------------------------------------------------------------------------- 3. client aborts

def test_client_aborts_leave_worker_intact(solo, make_customer):
    # every login counts as an attempt before its hash, and an aborted one never takes it
    # back: this test aborts seven logins of one customer on purpose, so the throttles are
    # raised far above what it needs (they are not what it tests)
    srv = solo(dict(BIG_ARGON2, redis_timeout="2s", hash_concurrency="3",
                    login_max_fail="100", login_ip_max_fail="1000"))
    cust = make_customer(srv, app="nacl")
    b = Browser(srv)
    upstream_json(b.login_fully(cust))
    workers = worker_pids(srv)
    assert len(workers) == 1, workers

    def login_browser():
        br = Browser(srv)
        br.open_login()
        return br

    # the raw requests below are well-formed: answered normally when nobody hangs up
    assert raw_status(srv, raw_protected(srv, b)) == 200
    assert raw_status(srv, raw_login(srv, login_browser(), cust.number, cust.password)) == 303
    assert raw_status(srv, raw_long_poll(srv, cust.app, wait=1)) == 200

    # (a) during a Redis wait: replies arriving for requests that are gone (SIGCONT before the
    # timeout), then the timeout firing for requests that are gone (SIGCONT after it)
    for cont_after in (0.6, 3.0):
        lb = login_browser()
        redis_stop(srv.redis)
        try:
            socks = [raw_send(srv, raw_protected(srv, b)),
                     raw_send(srv, raw_login(srv, lb, cust.number, cust.password))]
            time.sleep(0.2)
            for s in socks:
                s.close()
            time.sleep(cont_after)
        finally:
            redis_cont(srv.redis)
        h, waited = wait_health(srv, 8)
        assert h is not None and h.status_code == 200, "no recovery after abort (a, %.1f)" % (
            cont_after)

    # (b) during Argon2id: right and wrong passwords, an unknown customer (dummy hash)
    socks = [raw_send(srv, raw_login(srv, login_browser(), who, pw))
             for who, pw in ((cust.number, cust.password), (cust.number, "falsch-123456"),
                             ("7999999999", "irgendwas-123"))]
    time.sleep(0.2)
    for s in socks:
        s.close()
    # the hashes finish for nobody and give their slots back: three logins at once succeed
    # (a leaked slot would make one of them a 503 for ever)
    deadline = time.monotonic() + 20
    while True:
        lbs = [login_browser() for _ in range(3)]
        ths = [Bg(br.login, cust.number, cust.password) for br in lbs]
        for t in ths:
            t.start()
        for t in ths:
            t.join(30)
        codes = [getattr(t.result, "status_code", t.result) for t in ths]
        if codes == [303] * 3 or time.monotonic() > deadline or \
                any(c not in (303, 503) for c in codes):
            break
        time.sleep(1)
    assert codes == [303] * 3, codes

    # (c) during an app long poll: the op sleeps between Redis checks
    for delay in (0.5, 1.3):
        s = raw_send(srv, raw_long_poll(srv, cust.app, wait=10))
        abort_after(s, delay)
    time.sleep(0.5)
    # and a long poll that is not aborted still works and ends on time
    r, t0, t1 = timed(cust.app.pending, 2)
    assert not isinstance(r, Exception) and r.status_code == 200, r
    assert 1.5 <= t1 - t0 <= 4.5, "wait=2 long poll took %.2fs" % (t1 - t0)

    # afterwards: the same single worker serves everything
    assert worker_pids(srv) == workers, "worker changed: %s -> %s" % (workers, worker_pids(srv))
    assert static_ok(srv)[0] == 200
    doc = upstream_json(b.get("/portal/api/echo"))
    assert header_values(doc, "X-Freigabe-User") == [cust.number]
    b3 = Browser(srv)
    doc = upstream_json(b3.login_fully(cust))
    assert header_values(doc, "X-Freigabe-User") == [cust.number]
    # every hang-up happened while nginx was still working on the request
    for needle, want in (("GET /portal/api/echo", 2), ("POST %s/login" % srv.prefix, 5),
                         ("GET %s/app/pending?wait=10" % srv.prefix, 2)):
        got = access_statuses(srv, needle).count(499)
        assert got == want, "%s: %d requests logged 499, expected %d: %s" % (
            needle, got, want, access_statuses(srv, needle))
    assert_no_crash(srv)


# --------------------------------------------------------------------------- 4. reload

def test_reload_under_traffic(solo, make_customer):
    srv = solo(workers=1)
    cust = make_customer(srv, app="nacl")
    b = Browser(srv)
    upstream_json(b.login_fully(cust))
    session = b.session_cookie
    workers_before = worker_pids(srv)
    log_off = log_size(srv.error_log)
    stop = threading.Event()
    failures, counts = [], {"protected": 0, "login": 0}

    def protected_loop():
        while not stop.is_set():
            try:
                r = requests.get(srv.u("/portal/api/echo"), timeout=TIMEOUT,
                                 headers={"Accept": "application/json", "Connection": "close",
                                          "Cookie": "%s=%s" % (fgtest.SESSION_COOKIE, session)},
                                 allow_redirects=False)
                if r.status_code != 200 or \
                        header_values(r.json(), "X-Freigabe-User") != [cust.number]:
                    failures.append("protected: %s %s" % (r.status_code, r.text[:200]))
            except Exception as e:  # noqa: BLE001
                failures.append("protected: %r" % e)
            counts["protected"] += 1

    def login_loop():
        while not stop.is_set():
            try:
                br = Browser(srv)
                br.s.headers["Connection"] = "close"
                step = "GET login page"
                br.open_login()
                step = "POST login"
                t0 = time.time()
                r = br.login(cust.number, cust.password)
                if r.status_code != 303:
                    failures.append("login: %s %s" % (r.status_code, r.text[:200]))
            except Exception as e:  # noqa: BLE001
                failures.append("%s (sent at %s): %r" % (
                    step, time.strftime("%H:%M:%S", time.localtime(t0)) if step == "POST login"
                    else "?", e))
            counts["login"] += 1

    threads = [threading.Thread(target=f, daemon=True)
               for f in (protected_loop, protected_loop, login_loop)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.8)
        reload(srv)
        time.sleep(1.2)
        reload(srv)
        time.sleep(1.2)
    finally:
        stop.set()
        for t in threads:
            t.join(TIMEOUT + 5)
    text = log_since(srv.error_log, log_off)
    assert not failures, "%d failed of %s:\n  %s\nerror_log:\n  %s" % (
        len(failures), counts, "\n  ".join(failures[:20]),
        "\n  ".join(ln for ln in text.splitlines() if "[info]" not in ln)[-4000:])
    assert counts["protected"] > 20 and counts["login"] > 5, counts
    # two reloads happened, the old workers are gone, nothing crashed
    deadline = time.time() + 10
    while time.time() < deadline and len(worker_pids(srv)) != 1:
        time.sleep(0.2)
    after = worker_pids(srv)
    assert len(after) == 1 and after != workers_before, (workers_before, after)
    assert text.count("(SIGHUP) received") == 2, text[-3000:]
    bad = crash_lines(text)
    assert not bad, "error_log:\n  " + "\n  ".join(bad[:20])
    doc = upstream_json(b.get("/portal/api/echo"))
    assert header_values(doc, "X-Freigabe-User") == [cust.number]


def test_failed_reload_keeps_the_variable_slots(solo, make_customer):
    """A reload that fails after the new configuration was read (here: its listen port is
    taken) leaves the master on the old cycle. The module must not keep anything of the
    failed one: variable indexes from it, used by a worker the master forks later for the
    old cycle, write the identity into the wrong slots (or past the end of them)."""
    vars_loc = "\n".join([
        "        location /vars/ {",
        "            freigabe on;",
        "            proxy_set_header X-Via-User $freigabe_user;",
        "            proxy_pass http://portal;",
        "        }"])
    srv = solo(extra_server=vars_loc)
    cust = make_customer(srv, app="nacl")
    b = Browser(srv)
    upstream_json(b.login_fully(cust))
    doc = upstream_json(b.get("/vars/x", headers={"Accept": "application/json"}))
    assert header_values(doc, "X-Via-User") == [cust.number]
    busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    busy.bind(("127.0.0.1", fgtest.free_port()))
    busy.listen(1)
    try:
        # the failed configuration: 40 more indexed variables, read before ours get theirs
        pad = "        location /pad/ { %s return 204; }" % " ".join(
            "set $fgpad%d 1;" % i for i in range(40))
        listen = "        listen 127.0.0.1:%d;" % busy.getsockname()[1]
        good = srv.conf.read_text()
        fgtest.NginxKind.write_config(srv.dir, srv.port, srv.upstream_port, srv.options,
                                      **dict(srv.kind_args, extra_server="\n".join(
                                          [pad, vars_loc, listen])))
        off = log_size(srv.error_log)
        os.kill(srv.proc.pid, signal.SIGHUP)
        deadline = time.time() + 20
        while time.time() < deadline and "still could not bind" not in log_since(
                srv.error_log, off):
            time.sleep(0.2)
        assert "still could not bind" in log_since(srv.error_log, off), \
            log_since(srv.error_log, off)[-2000:]
        srv.conf.write_text(good)
    finally:
        busy.close()
    old = worker_pids(srv)
    assert len(old) == 1, old
    os.kill(old[0], signal.SIGKILL)        # the master forks a new worker for the old cycle
    deadline = time.time() + 10
    while time.time() < deadline and (not worker_pids(srv) or worker_pids(srv) == old):
        time.sleep(0.1)
    assert worker_pids(srv) and worker_pids(srv) != old, "no new worker"
    off = log_size(srv.error_log)
    doc = upstream_json(b.get("/vars/x", headers={"Accept": "application/json"}))
    assert header_values(doc, "X-Via-User") == [cust.number], doc["headers"]
    doc = upstream_json(b.get("/portal/api/echo"))
    assert header_values(doc, "X-Freigabe-User") == [cust.number]
    assert_no_crash(srv, off)


def test_graceful_shutdown_finishes_logins_in_hash(solo, make_customer, monkeypatch):
    """Logins whose Argon2id jobs run while the worker shuts down gracefully are answered
    (docs/nginx.md, reload: "old workers finish their requests"). The worker gets SIGQUIT
    directly, which is what the master sends old workers on a reload: `nginx -s reload`
    itself takes longer than a hash (it computes the dummy hash twice), so a real reload
    reaches the worker too late to test this reliably. The master then starts a new worker."""
    monkeypatch.setattr(fgtest, "TIMEOUT", 60)
    srv = solo(dict(BIG_ARGON2))
    n = 4
    custs = [make_customer(srv, app="nacl") for _ in range(n)]
    old = worker_pids(srv)
    assert len(old) == 1, old
    log_off = log_size(srv.error_log)
    logins = []
    for c in custs:
        br = Browser(srv)
        br.open_login()
        logins.append(Bg(br.login, c.number, c.password))
    for t in logins:
        t.start()
    time.sleep(0.15)
    in_flight = sum(1 for t in logins if not t.done())
    os.kill(old[0], signal.SIGQUIT)
    for t in logins:
        t.join(60)
    text = log_since(srv.error_log, log_off)
    assert in_flight, "every login was answered before the shutdown; the test proves nothing"
    results = [t.result for t in logins]
    assert all(not isinstance(r, Exception) and r.status_code == 303 for r in results), \
        "logins during graceful shutdown: %r\nerror_log:\n  %s" % (
            [getattr(r, "status_code", r) for r in results],
            "\n  ".join(ln for ln in text.splitlines() if "[info]" not in ln)[-3000:])
    bad = crash_lines(text)
    assert not bad, "error_log:\n  " + "\n  ".join(bad[:20])
    deadline = time.time() + 15
    while time.time() < deadline and (worker_pids(srv) == old or not worker_pids(srv)):
        time.sleep(0.2)
    assert worker_pids(srv) and worker_pids(srv) != old, "no new worker"
    assert static_ok(srv)[0] == 200


def test_worker_shutdown_timeout_ends_waits_on_a_silent_redis(solo, make_customer):
    """With worker_shutdown_timeout, a worker shutting down gracefully while requests wait
    on a Redis that does not answer exits when that timeout closes its connections, not
    when freigabe_redis_timeout (30 s here) would have ended the waits."""
    srv = solo({"redis_timeout": "30s"}, extra_main="worker_shutdown_timeout 1s;")
    cust = make_customer(srv, app="nacl")
    b = Browser(srv)
    upstream_json(b.login_fully(cust))
    waiting = []
    for _ in range(2):
        br = Browser(srv)
        br.open_login()
        waiting.append(br)
    log_off = log_size(srv.error_log)
    redis_stop(srv.redis)
    try:
        calls = [Bg(w.login, cust.number, cust.password) for w in waiting]
        calls.append(Bg(b.get, "/portal/api/echo", headers={"Accept": "application/json"}))
        for c in calls:
            c.start()
        time.sleep(0.5)
        assert not any(c.done() for c in calls), "answered although Redis is stopped"
        t0 = time.time()
        srv.proc.send_signal(signal.SIGQUIT)           # graceful shutdown of the whole server
        srv.proc.wait(20)
        took = time.time() - t0
        for c in calls:
            c.join(5)
    finally:
        redis_cont(srv.redis)
    assert took < 5, "nginx took %.1f s to shut down (worker_shutdown_timeout 1s)" % took
    for c in calls:
        assert c.done(), "a client still waits after nginx exited"
        # the connection is closed by the shutdown timeout: an error, or a 503 if answered
        r = c.result
        assert isinstance(r, Exception) or r.status_code == 503, (r.status_code, r.text[:200])
    text = log_since(srv.error_log, log_off)
    bad = crash_lines(text)
    assert not bad, "error_log:\n  " + "\n  ".join(bad[:20])


def test_reload_cuts_long_poll_short(solo, make_customer):
    """docs/nginx.md: on reload "long polls of the app API are cut short (the app simply
    polls again)". The old worker must neither hold the poll for its full wait nor leave the
    socket behind at exit (nginx logs that as "[alert] open socket ... left in connection")."""
    srv = solo(workers=1)
    cust = make_customer(srv, app="nacl")
    log_off = log_size(srv.error_log)
    got = {}

    def long_poll():
        # raw socket: no client-side retry (a signed request cannot be replayed anyway)
        with raw_send(srv, raw_long_poll(srv, cust.app, wait=20), timeout=30) as sock:
            buf = b""
            try:
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
                    if b"\r\n\r\n" in buf and b'"requests"' in buf:
                        break
            except OSError as e:
                got["error"] = repr(e)
        got["answer"] = buf[:200]

    poll = Bg(long_poll)
    poll.start()
    time.sleep(1.0)
    old = worker_pids(srv)
    reload(srv)
    poll.join(30)
    assert poll.done(), "long poll still running"
    secs = poll.end_t - poll.start_t
    deadline = time.time() + 10
    while time.time() < deadline and any(p in worker_pids(srv) for p in old):
        time.sleep(0.2)
    assert not any(p in worker_pids(srv) for p in old), "old worker did not exit"
    assert secs < 8, "the long poll was held %.1fs across the reload" % secs
    # the app polls again and is served by the new worker
    r = cust.app.pending(1)
    assert r.status_code == 200, (r.status_code, r.text)
    bad = crash_lines(log_since(srv.error_log, log_off))
    assert not bad, "long poll got %r after %.2fs; error_log:\n  %s" % (
        got, secs, "\n  ".join(bad[:20]))
    # cut short means answered (an empty list, the app polls again), not hung up on
    assert got.get("answer", b"").startswith(b"HTTP/1.1 200"), got


def test_fast_shutdown_does_not_resume_waiting_requests(solo, make_customer):
    """SIGTERM: the exiting worker closes its Redis connection, and hiredis calls back every
    command in flight. Those callbacks may only free the operations: resuming their requests
    (a 503 written from a worker half torn down) is what they must not do."""
    srv = solo({"redis_timeout": "30s"})
    cust = make_customer(srv, app="nacl")
    b = Browser(srv)
    upstream_json(b.login_fully(cust))
    lb = Browser(srv)
    lb.open_login()
    log_off = log_size(srv.error_log)
    redis_stop(srv.redis)
    answers = []
    try:
        socks = [raw_send(srv, raw_protected(srv, b)),
                 raw_send(srv, raw_login(srv, lb, cust.number, cust.password))]
        time.sleep(0.5)
        srv.proc.terminate()                  # the master passes SIGTERM to the worker
        srv.proc.wait(15)
        for s in socks:
            buf = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
            except OSError:
                pass
            s.close()
            answers.append(buf)
    finally:
        redis_cont(srv.redis)
    assert answers == [b"", b""], [a[:80] for a in answers]
    bad = crash_lines(log_since(srv.error_log, log_off))
    assert not bad, "error_log:\n  " + "\n  ".join(bad[:20])


# --------------------------------------------------------------------------- 5. valgrind

VALGRIND_BIN = "/usr/bin/valgrind"


class ValgrindNginxKind(fgtest.NginxKind):
    """nginx as one process (master_process off) under valgrind's memcheck."""

    @classmethod
    def config_text(cls, directory, port, upstream_port, options, **kw):
        text = super().config_text(directory, port, upstream_port, options, **kw)
        return text.replace("master_process on;", "master_process off;")

    @classmethod
    def start(cls, server):
        conf = cls.write_config(server.dir, server.port, server.upstream_port, server.options,
                                **getattr(server, "kind_args", {}))
        server.conf = conf
        server.error_log = server.dir / "error_log"
        server.vg_log = server.dir / "valgrind.log"
        out = open(server.dir / "stdout.log", "ab")
        server.proc = subprocess.Popen(
            [VALGRIND_BIN, "--leak-check=full", "--errors-for-leak-kinds=definite",
             "--error-exitcode=99", "--trace-children=no", "--num-callers=30",
             "--keep-debuginfo=yes",   # the module is dlclose()d before the leak check
             "--log-file=%s" % server.vg_log,
             fgtest.NGINX_BIN, "-p", str(server.dir) + "/", "-c", str(conf)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=str(server.dir))
        out.close()
        try:
            fgtest.wait_port(server.port, 120, server.proc, "nginx under valgrind")
        except RuntimeError as e:
            cls.stop(server)
            raise RuntimeError("%s\n--- valgrind ---\n%s\n--- error_log ---\n%s" % (
                e, fgtest.tail(server.vg_log, 40), fgtest.tail(server.error_log, 40)))

    @classmethod
    def stop(cls, server):
        if server.proc is None:
            return
        if server.proc.poll() is None:
            server.proc.send_signal(signal.SIGQUIT)
            try:
                server.proc.wait(120)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait(10)
        server.rc = server.proc.returncode
        server.proc = None
        fgtest.wait_port_closed(server.port, 10)

    @classmethod
    def log_files(cls, server):
        return super().log_files(server) + [("valgrind", server.dir / "valgrind.log")]


def valgrind_blocks(text):
    """Valgrind's report split into error blocks (list of lists of lines, '==pid== ' cut)."""
    blocks, cur = [], []
    for ln in text.splitlines():
        ln = re.sub(r"^==\d+== ?", "", ln)
        if not ln.strip():
            if cur:
                blocks.append(cur)
            cur = []
        else:
            cur.append(ln)
    if cur:
        blocks.append(cur)
    return blocks


OUR_FRAMES = re.compile(r"\b(ngx_http_freigabe\w*|fg_\w+)")


def valgrind_problems(text):
    """-> (memory errors anywhere, definite leaks with a frame of ours, other definite leaks)."""
    errors, ours, theirs = [], [], []
    for blk in valgrind_blocks(text):
        head = blk[0]
        if re.match(r"(Invalid (read|write|free)|Conditional jump|Use of uninitialised|"
                    r"Syscall param|Mismatched free|Source and destination overlap)", head):
            errors.append("\n".join(blk))
        elif "definitely lost" in head and "LEAK SUMMARY" not in head:
            (ours if any(OUR_FRAMES.search(ln) for ln in blk) else theirs).append("\n".join(blk))
    return errors, ours, theirs


@pytest.mark.skipif(os.environ.get("FG_VALGRIND") != "1", reason="opt-in: FG_VALGRIND=1")
def test_valgrind(key_file, upstream, monkeypatch):
    """The journey, client aborts, bodies that arrive after the headers (HTTP/1.1 and h2c)
    and a Redis stall and restart, with nginx under memcheck."""
    import naclapp
    monkeypatch.setattr(fgtest, "TIMEOUT", 60)
    monkeypatch.setattr(naclapp, "TIMEOUT", 60)
    r = fgtest.Redis().start()
    srv = fgtest.Server("nginx", "valgrind", r, key_file, upstream.port,
                        options={"redis_timeout": "3s", "argon2_ops": "2",
                                 "argon2_mem": "32M"})   # ~1 s per hash under memcheck
    srv.impl = ValgrindNginxKind
    h2_port = fgtest.free_port()
    srv.kind_args = {"extra_server": "        listen 127.0.0.1:%d http2;" % h2_port}
    try:
        srv.start()
        # bodies that arrive 300 ms after the headers, answered without waiting for Redis
        # (unknown path 404, wrong method 405, no pre-login state 403)
        for path, want in (("/nope", 404), ("/whoami", 405), ("/login", 403)):
            got = slow_body_status(srv, "POST", srv.prefix + path, timeout=60)
            assert got == want, (path, got)
            got = h2c_slow_body_status(h2_port, srv.prefix + path)
            assert got == want, ("h2c", path, got)
        # the journey
        cust = fgtest.create_customer(srv, app="nacl")
        b = Browser(srv)
        b.start(cust)
        app_approve(cust.app, b)
        f = b.finish()
        assert f.status_code == 303, (f.status_code, f.text[:300])
        doc = upstream_json(b.get("/portal/api/echo"))
        assert header_values(doc, "X-Freigabe-User") == [cust.number]
        for p in ("/whoami", "/jwks.json", "/health", "/metrics", "/status"):
            requests.get(srv.u(srv.prefix + p), timeout=60, cookies=b.s.cookies)
        cust.app.pending(1)
        # client aborts: Redis wait, hash, long poll
        lb = Browser(srv)
        lb.open_login()
        redis_stop(srv.redis)
        try:
            socks = [raw_send(srv, raw_protected(srv, b), timeout=60),
                     raw_send(srv, raw_login(srv, lb, cust.number, cust.password), timeout=60)]
            time.sleep(0.5)
            for s in socks:
                s.close()
            time.sleep(4)      # the timeout fires for requests that are gone
        finally:
            redis_cont(srv.redis)
        wait_health(srv, 60)
        lb = Browser(srv)
        lb.open_login()
        s = raw_send(srv, raw_login(srv, lb, cust.number, cust.password), timeout=60)
        time.sleep(0.3)
        s.close()
        s = raw_send(srv, raw_long_poll(srv, cust.app, wait=10), timeout=60)
        abort_after(s, 1.5)
        time.sleep(3)
        # a Redis stall answered by the timeout for a live request, then a restart
        redis_stop(srv.redis)
        try:
            st = b.get("/portal/api/echo", headers={"Accept": "application/json"})
            assert st.status_code == 503, st.status_code
        finally:
            redis_cont(srv.redis)
        wait_health(srv, 60)
        srv.redis.stop()
        assert b.get("/portal/api/echo").status_code == 503
        srv.redis.start()
        h, _ = wait_health(srv, 60)
        assert h.status_code == 200, h.text
        # Redis came back empty: a whole new journey, then logout
        cust = fgtest.create_customer(srv, app="nacl")
        b = Browser(srv)
        b.login_fully(cust)
        assert b.get("/portal/api/echo").status_code == 200
        lo = b.logout()
        assert lo.status_code in (200, 303), lo.status_code
        assert b.get("/portal/api/echo").status_code == 302
    finally:
        srv.stop()
        r.stop()
    # the hang-ups hit requests nginx was still working on
    assert access_statuses(srv, "GET /portal/api/echo").count(499) == 1
    assert access_statuses(srv, "POST %s/login" % srv.prefix).count(499) == 2
    assert access_statuses(srv, "/app/pending?wait=10").count(499) == 1
    text = srv.vg_log.read_text("utf-8", "replace")
    errors, ours, theirs = valgrind_problems(text)
    summary = "\n".join(ln for ln in text.splitlines() if "ERROR SUMMARY" in ln
                        or "definitely lost:" in ln or "indirectly lost:" in ln)
    print("valgrind (exit %s):\n%s\nleaks outside our frames: %d" % (srv.rc, summary,
                                                                      len(theirs)))
    assert not errors, "memory errors:\n\n" + "\n\n".join(errors[:10])
    assert not ours, "definite leaks in module frames:\n\n" + "\n\n".join(ours[:10])
    assert_no_crash(srv)


# --------------------------------------------------------------------------- cookies, redirects

def test_internal_redirects_keep_the_login(solo, make_customer, tmp_path):
    """A logged-in request that try_files / error_page send on to another protected
    location (or to one behind auth_request) is granted there too: the module's checks
    read the Cookie header as the client sent it, although nginx passes it on without the
    module's cookies."""
    empty = tmp_path / "empty"
    empty.mkdir()
    srv = solo(extra_server="\n".join([
        "        location /via-try/ { freigabe on; root %s; try_files $uri @prot; }" % empty,
        "        location /via-err/ {",
        "            freigabe on; root %s; error_page 404 = @prot;" % empty,
        "        }",
        "        location @prot { freigabe on; proxy_pass http://portal; }",
        "        location /ar-try/ { auth_request /_fgcheck; root %s; try_files $uri @ar; }"
        % empty,
        "        location @ar {",
        "            auth_request /_fgcheck;",
        "            auth_request_set $fgu2 $freigabe_user;",
        "            proxy_set_header X-AR-User $fgu2;",
        "            proxy_pass http://portal;",
        "        }",
    ]))
    cust = make_customer(srv, app="nacl")
    anon = Browser(srv)
    for path in ("/via-try/x", "/via-err/x", "/ar-try/x"):
        r = anon.get(path, headers={"Accept": "application/json"})
        assert r.status_code == 401, (path, r.status_code)
    b = Browser(srv)
    upstream_json(b.login_fully(cust))
    b.s.cookies.set("theme", "dunkel", domain="127.0.0.1", path="/")
    for path, who in (("/via-try/x", "X-Freigabe-User"), ("/via-err/x", "X-Freigabe-User"),
                      ("/ar-try/x", "X-AR-User")):
        r = b.get(path, headers={"Accept": "application/json"})
        doc = upstream_json(r)
        assert header_values(doc, who) == [cust.number], (path, doc["headers"])
        cookies = header_values(doc, "Cookie")
        assert cookies == ["theme=dunkel"], (path, cookies)
    assert_no_crash(srv)


def test_module_cookies_never_reach_any_upstream(solo, make_customer):
    """The session cookie is a bearer token: no upstream gets it, protected or not, while
    every other cookie arrives as sent."""
    srv = solo()
    cust = make_customer(srv, app="nacl")
    b = Browser(srv)
    upstream_json(b.login_fully(cust))
    sess = b.session_cookie
    assert sess
    for cookie, want in (
            ("a=1; %s=%s; b=2" % (fgtest.SESSION_COOKIE, sess), ["a=1; b=2"]),
            ("%s=%s" % (fgtest.SESSION_COOKIE, sess), []),
            ("__Host-freigabe=x; freigabe-pre=y; __Host-freigabe-pre=z; c=3", ["c=3"]),
            ("freigabe_other=4; d=5", ["freigabe_other=4; d=5"])):
        for path in ("/open/x", "/portal/api/echo"):
            r = requests.get(srv.u(path), timeout=TIMEOUT,
                             headers={"Accept": "application/json", "Cookie": cookie})
            if path.startswith("/portal") and fgtest.SESSION_COOKIE + "=" + sess not in cookie:
                continue           # not logged in: no upstream to ask
            doc = upstream_json(r)
            assert header_values(doc, "Cookie") == want, (path, cookie,
                                                          header_values(doc, "Cookie"))
    assert_no_crash(srv)


# --------------------------------------------------------------------------- configuration

def nginx_t(key_file, redis_url="redis://127.0.0.1:9/0", options=None, **kw):
    """`nginx -t` on the test configuration with extras; -> (returncode, output)."""
    opts = dict(fgtest.DEFAULT_OPTIONS, key_file=str(key_file), redis=redis_url)
    opts.update(options or {})
    return fgtest.NginxKind.configtest(opts, **kw)


def test_server_level_freigabe_on_leaves_the_endpoints_open(solo, make_customer):
    """`freigabe on` at server level protects every location except the ones that serve
    the endpoints or the check: the login page must not redirect to itself."""
    srv = solo(extra_server="        freigabe on;")
    r = requests.get(srv.u(srv.prefix + "/login?rd=/portal/"), timeout=TIMEOUT,
                     headers={"Accept": "text/html"}, allow_redirects=False)
    assert r.status_code == 200, (r.status_code, r.headers.get("Location"))
    h = requests.get(srv.u(srv.prefix + "/health"), timeout=TIMEOUT)
    assert h.status_code == 200, h.status_code
    anon = Browser(srv)
    r = anon.get("/open/x", headers={"Accept": "application/json"})
    assert r.status_code == 401, "the server-level freigabe on does not protect /open"
    cust = make_customer(srv, app="nacl")
    b = Browser(srv)
    doc = upstream_json(b.login_fully(cust))
    assert header_values(doc, "X-Freigabe-User") == [cust.number]
    doc = upstream_json(b.get("/open/x", headers={"Accept": "application/json"}))
    assert header_values(doc, "X-Freigabe-User") == [cust.number]
    # auth_request in a location "freigabe on" protects too: the check after the grant
    # still sees the session cookie
    r = b.get("/open-ar/x", headers={"Accept": "application/json"})
    assert r.status_code == 200, r.status_code
    assert_no_crash(srv)


@pytest.mark.parametrize("block", [
    "freigabe on; freigabe_endpoints;",
    "freigabe_endpoints; freigabe on;",
    "internal; freigabe on; freigabe_check;",
    "internal; freigabe_check; freigabe on;",
])
def test_freigabe_on_next_to_endpoints_is_a_configuration_error(key_file, block):
    rc, out = nginx_t(key_file, extra_server="        location /x/ { %s }" % block)
    handler = "freigabe_check" if "check" in block else "freigabe_endpoints"
    assert rc != 0, out
    assert '"freigabe on"' in out and '"%s"' % handler in out, out
    assert "nginx.conf:" in out, out            # points at the line
    # "freigabe off" there is fine, and so is the usual layout
    rc, out = nginx_t(key_file, extra_server="        location /x/ { %s }" % block.replace(
        "freigabe on;", "freigabe off;"))
    assert rc == 0, out


def test_header_prefix_is_a_server_setting(key_file):
    """The look-alike strip at the start of every request uses the server's prefix, so a
    location cannot have another one (its look-alikes would reach other locations)."""
    rc, out = nginx_t(key_file, extra_server="        location /p/ { freigabe on; "
                      "freigabe_header_prefix X-Other-; proxy_pass http://portal; }")
    assert rc != 0, out
    assert '"freigabe_header_prefix" directive is not allowed here' in out, out
    rc, out = nginx_t(key_file, extra_server="        freigabe_header_prefix X-Other-;")
    assert rc == 0, out


def test_signed_app_request_survives_a_rewrite_of_its_query(solo, make_customer):
    """The device signature covers the path and query as sent: a rewrite that adds
    arguments (r->args) before the endpoint location must not break it."""
    srv = solo(extra_server="        rewrite ^(%s/app/pending)$ $1?via=rewrite;" % fgtest.PREFIX)
    cust = make_customer(srv, app="nacl")
    r = cust.app.pending(1)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert "requests" in r.json()
    assert_no_crash(srv)


# --------------------------------------------------------------------------- variables

def test_variables_survive_internal_redirects_and_reach_the_log(solo, make_customer, tmp_path):
    """$freigabe_* set by the check in a `freigabe on` location are still there after
    try_files / error_page send the request to a named location, in proxy_set_header and
    in log_format."""
    empty = tmp_path / "empty"
    empty.mkdir()
    log = tmp_path / "fg_access.log"
    fmt = ('log_format fgvars "$uri $status user=$freigabe_user name=$freigabe_name '
           'time=$freigabe_auth_time session=$freigabe_session";')
    srv = solo(extra_http="    " + fmt, extra_server="\n".join([
        "        location /via-try/ {",
        "            freigabe on; root %s; try_files $uri @via_up;" % empty,
        "            access_log %s fgvars;" % log,
        "        }",
        "        location /via-err/ {",
        "            freigabe on; root %s; error_page 404 = @via_up;" % empty,
        "            access_log %s fgvars;" % log,
        "        }",
        "        location @via_up {",
        "            access_log %s fgvars;" % log,
        "            proxy_set_header X-Via-User $freigabe_user;",
        "            proxy_set_header X-Via-Name $freigabe_name;",
        "            proxy_set_header X-Via-Time $freigabe_auth_time;",
        "            proxy_set_header X-Via-Session $freigabe_session;",
        "            proxy_set_header X-Via-Assertion $freigabe_assertion;",
        "            proxy_pass http://portal;",
        "        }",
    ]))
    cust = make_customer(srv, app="nacl")

    # without a session the check refuses before any redirect; the log says no user
    anon = Browser(srv)
    r = anon.get("/via-try/api/x", headers={"Accept": "application/json"})
    assert r.status_code == 401, (r.status_code, r.text[:300])

    b = Browser(srv)
    before = int(time.time())
    upstream_json(b.login_fully(cust))
    for path in ("/via-try/api/x", "/via-err/api/y"):
        doc = upstream_json(b.get(path, headers={"Accept": "application/json"}))
        assert doc["path"] == path, doc["path"]
        assert header_values(doc, "X-Via-User") == [cust.number], doc["headers"]
        name, = header_values(doc, "X-Via-Name")
        assert urllib.parse.unquote(name) == cust.name, name
        t, = header_values(doc, "X-Via-Time")
        assert before - 5 <= int(t) <= time.time() + 5, t
        sess, = header_values(doc, "X-Via-Session")
        assert re.fullmatch(r"[A-Za-z0-9_-]{8,}", sess), sess
        assertion, = header_values(doc, "X-Via-Assertion")
        assert assertion.count(".") == 2, assertion
        # the module's own identity headers went along too, and agree
        assert header_values(doc, "X-Freigabe-User") == [cust.number]

    deadline = time.time() + 5
    while time.time() < deadline:
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        if len(lines) >= 3:
            break
        time.sleep(0.1)
    assert lines[0].startswith("/via-try/api/x 401 user=- "), lines[0]
    for line, path in zip(lines[1:], ("/via-try/api/x", "/via-err/api/y")):
        # the log line is written in the location the request ended in (@via_up)
        assert re.match(r"^%s 200 user=%s name=\S+ time=\d+ session=\S+$"
                        % (re.escape(path), re.escape(cust.number)), line), line
        assert "session=-" not in line
    assert_no_crash(srv)


# --------------------------------------------------------------------------- failover

def test_failover_retires_the_connection_to_the_old_master(key_file, upstream, make_customer):
    """A failover behind a virtual IP: the worker's connection still reaches the old master,
    now a replica that answers READONLY. That request fails closed and the connection is
    dropped; the next ones reach the new master through the VIP without a reload (the
    Apache counterpart is in test_apache.py)."""
    from test_apache import TcpProxy, _RedisAt, _replication_up
    a = fgtest.Redis().start()
    bk = fgtest.Redis().start()
    vip = None
    srv = None
    try:
        bk.client().replicaof("127.0.0.1", a.port)
        _replication_up(bk.client())
        vip = TcpProxy(a.port)
        srv = fgtest.Server("nginx", "solo", _RedisAt(vip.port), key_file, upstream.port)
        srv.start()
        cust = make_customer(srv, app="nacl")
        b = Browser(srv)
        b.login_fully(cust)
        assert b.get("/portal/api/echo").status_code == 200
        bk.client().replicaof("NO", "ONE")
        a.client().replicaof("127.0.0.1", bk.port)
        vip.target = bk.port
        codes = []
        for _ in range(6):
            codes.append(b.get("/portal/api/echo").status_code)
            time.sleep(0.3)   # past the reconnect back-off
        assert codes[0] == 503 and codes[1:] == [200] * 5, codes
        assert "READONLY" in fgtest.tail(srv.error_log, 40)
    finally:
        if srv is not None:
            srv.stop()
        if vip is not None:
            vip.stop()
        a.stop()
        bk.stop()
