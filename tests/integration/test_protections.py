"""test_protections.py - product.md section 6 and the header/cookie rules of section 4, against real servers."""
import http.client
import json
import re
import threading
import time
import urllib.parse

import pytest
import requests

import fgtest
from fgtest import (API_HEADERS, NAV_HEADERS, TIMEOUT, Browser, forged_identity_headers,
                    header_values, upstream_json)

FORGED = [
    ("X-Freigabe-User", "admin"),
    ("x_freigabe_user", "admin"),
    ("X-FREIGABE-NAME", "Admin%20Istrator"),
    ("x-freigabe-user", "root"),
    ("X_Freigabe_Assertion", "eyJhbGciOiJub25lIn0.e30."),
    ("X-Freigabe-Session", "forged"),
    ("X-Freigabe-Auth-Time", "1"),
]


def _raw_get(server, path, headers, cookie=None):
    """GET with exact header names (underscores, duplicates) via http.client."""
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    try:
        c.putrequest("GET", path, skip_accept_encoding=True)
        for k, v in headers:
            c.putheader(k, v)
        if cookie:
            c.putheader("Cookie", cookie)
        c.endheaders()
        r = c.getresponse()
        body = r.read()
        return r.status, dict(r.getheaders()), body
    finally:
        c.close()


def _mask(text):
    text = re.sub(r'(name="csrf"[^>]*value=")[^"]*', r"\1X", text)
    text = re.sub(r'(value=")[^"]*("[^>]*name="csrf")', r"\1X\2", text)
    return text


# ---- login answers

def test_unknown_customer_and_wrong_password_look_the_same(server, make_customer):
    cust = make_customer(server, app="cli")
    answers = []
    for number, password in ((cust.number, "falsch-" + cust.password),
                             (fgtest.new_customer_number(), cust.password)):
        b = Browser(server)
        b.open_login()
        t0 = time.time()
        r = b.login(number, password)
        # the form may echo the typed customer number back: that is not a difference
        answers.append((r.status_code, _mask(r.text).replace(number, "CUSTOMER"),
                        time.time() - t0, r.headers.get("Content-Type")))
    (s1, body1, t1, ct1), (s2, body2, t2, ct2) = answers
    assert s1 == s2 == 401, (s1, s2)
    assert ct1 == ct2
    assert body1 == body2, "wrong password and unknown customer answer differently"


def test_unknown_customer_costs_a_password_hash_too(isolated, make_customer):
    """An unknown customer number is checked against a dummy Argon2id hash, so it is not
    answered measurably faster than a wrong password (product.md §6: similar timing).
    Without the dummy hash the unknown number takes a fraction of the time (no hash at
    all); minima over a few tries keep scheduling noise out. Own Redis: the failures
    count towards the IP throttle."""
    cust = make_customer(isolated, app=None)
    times = {"wrong": [], "unknown": []}
    for _ in range(3):
        for what, number in (("wrong", cust.number), ("unknown", fgtest.new_customer_number())):
            b = Browser(isolated)
            b.open_login()
            t0 = time.perf_counter()
            r = b.login(number, "falsch-" + cust.password)
            times[what].append(time.perf_counter() - t0)
            assert r.status_code == 401, (what, r.status_code)
    wrong, unknown = min(times["wrong"]), min(times["unknown"])
    assert unknown >= 0.5 * wrong, "unknown customer answered in %.1f ms, wrong password " \
        "in %.1f ms: no dummy hash?" % (unknown * 1e3, wrong * 1e3)
    assert unknown <= 3 * wrong + 0.05, "unknown customer much slower: %.1f vs %.1f ms" % (
        unknown * 1e3, wrong * 1e3)


def test_disabled_account_revealed_only_after_correct_password(server, make_customer, ctl):
    cust = make_customer(server, app="cli")
    ctl.run("user", "disable", cust.number)
    bodies = []
    for number, password in ((cust.number, "falsch"), (fgtest.new_customer_number(), "falsch")):
        b = Browser(server)
        b.open_login()
        r = b.login(number, password)
        bodies.append((r.status_code, _mask(r.text).replace(number, "CUSTOMER")))
    assert bodies[0] == bodies[1], "a disabled account is revealed by a wrong password"
    b = Browser(server)
    b.open_login()
    r = b.login(cust.number, cust.password)
    assert r.status_code != 303 or "approve" not in r.headers.get("Location", ""), \
        "a disabled account can log in"


def test_login_needs_csrf_and_same_origin(server, make_customer):
    cust = make_customer(server, app="cli")
    b = Browser(server)
    b.open_login()
    r = b.login(cust.number, cust.password, with_csrf=False)
    assert 400 <= r.status_code < 500, r.status_code
    r = b.login(cust.number, cust.password, csrf="A" * 43)
    assert 400 <= r.status_code < 500, r.status_code
    b.open_login()
    r = b.login(cust.number, cust.password, origin="https://evil.example")
    assert 400 <= r.status_code < 500, r.status_code
    # a clean attempt still works
    b.open_login()
    assert b.login(cust.number, cust.password).status_code == 303


def test_approve_and_finish_need_csrf_and_same_origin(server, nacl_customer):
    b = Browser(server)
    b.open_login()
    assert b.login(nacl_customer.number, nacl_customer.password).status_code == 303
    assert 400 <= b.request_approval(with_csrf=False).status_code < 500
    assert 400 <= b.request_approval(origin="https://evil.example").status_code < 500
    assert b.request_approval().status_code == 303
    fgtest.app_approve(nacl_customer.app, b)
    assert 400 <= b.finish(with_csrf=False).status_code < 500
    assert 400 <= b.finish(origin="https://evil.example").status_code < 500
    assert b.session_cookie is None
    assert b.finish().status_code == 303


def test_logout_same_origin_only(server, nacl_customer):
    b = Browser(server)
    b.login_fully(nacl_customer)
    r = b.logout(origin="https://evil.example")
    assert 400 <= r.status_code < 500, r.status_code
    assert b.get("/portal/api/echo").status_code == 200, "cross-site logout ended the session"
    assert b.logout().status_code in (200, 303)
    assert b.get("/portal/api/echo").status_code == 302


# ---- page headers

def test_page_security_headers(server, nacl_customer):
    b = Browser(server)
    pages = [("login", b.open_login())]
    b.login(nacl_customer.number, nacl_customer.password)
    pages.append(("approve", b.get(server.prefix + "/approve")))
    b.request_approval()
    pages.append(("wait", b.wait_page()))
    pages.append(("status", b.get(server.prefix + "/status",
                                  headers={"Accept": "application/json"})))
    for name, r in pages:
        assert r.status_code == 200, (name, r.status_code)
        csp = r.headers.get("Content-Security-Policy", "")
        if name != "status":
            assert "frame-ancestors 'none'" in csp, (name, csp)
            script_src = [d for d in csp.split(";") if d.strip().startswith(("script-src",
                                                                              "default-src"))]
            assert script_src, (name, csp)
            assert not any("unsafe-inline" in d for d in script_src), (name, csp)
            assert r.headers.get("Referrer-Policy"), name
        assert "no-store" in r.headers.get("Cache-Control", ""), (name, r.headers)
        assert r.headers.get("X-Content-Type-Options", "").lower() == "nosniff", name


def test_cookie_attributes(server, nacl_customer):
    b = Browser(server)
    b.open_login()
    r = b.login(nacl_customer.number, nacl_customer.password)
    pre = [c for c in r.raw.headers.getlist("Set-Cookie") if c.startswith(fgtest.PRE_COOKIE + "=")]
    assert pre, r.headers
    attrs = pre[0].lower()
    assert "httponly" in attrs and "path=/" in attrs and "samesite=strict" in attrs, pre[0]
    assert "domain=" not in attrs
    b.request_approval()
    fgtest.app_approve(nacl_customer.app, b)
    r = b.finish()
    sess = [c for c in r.raw.headers.getlist("Set-Cookie")
            if c.startswith(fgtest.SESSION_COOKIE + "=")]
    assert sess, r.headers
    attrs = sess[0].lower()
    assert "httponly" in attrs and "path=/" in attrs and "samesite=lax" in attrs, sess[0]
    assert "domain=" not in attrs
    assert len(sess[0].split(";")[0].split("=", 1)[1]) >= 22, "session cookie too short"


# ---- identity headers

def test_forged_identity_headers_dropped_unauthenticated(server, upstream):
    marker = "forge-open-%d" % time.time_ns()
    status, _, body = _raw_get(server, "/open/echo?m=" + marker, FORGED)
    assert status == 200, (status, body[:300])
    doc = json.loads(body)
    assert forged_identity_headers(doc) == [], doc["headers"]
    # protected path without a session: never reaches the upstream at all
    marker2 = "forge-prot-%d" % time.time_ns()
    status, _, _ = _raw_get(server, "/portal/api/echo?m=" + marker2,
                            FORGED + [("Accept", "application/json")])
    assert status == 401
    assert upstream.requests_matching(marker2) == []


def test_forged_identity_headers_replaced_when_authenticated(server, nacl_customer):
    b = Browser(server)
    b.login_fully(nacl_customer)
    cookie = "%s=%s" % (fgtest.SESSION_COOKIE, b.session_cookie)
    status, _, body = _raw_get(server, "/portal/api/echo", FORGED + [("Accept", "text/html")],
                               cookie=cookie)
    assert status == 200, (status, body[:300])
    doc = json.loads(body)
    got = forged_identity_headers(doc)
    names = sorted(k.lower() for k, _ in got)
    assert names == sorted(set(names)), "duplicate identity headers: %r" % got
    assert not any("_" in k for k, _ in got), got
    assert header_values(doc, "X-Freigabe-User") == [nacl_customer.number]
    assert "admin" not in [v for _, v in got] and "root" not in [v for _, v in got]
    assert header_values(doc, "X-Freigabe-Session") != ["forged"]
    # an unprotected path with a valid session: forged headers are still removed
    status, _, body = _raw_get(server, "/open/echo", FORGED, cookie=cookie)
    assert status == 200
    got = forged_identity_headers(json.loads(body))
    assert all(v not in ("admin", "root", "forged", "1") for _, v in got), got
    assert not any("_" in k for k, _ in got), got


def test_module_cookies_not_sent_upstream(server, nacl_customer):
    b = Browser(server)
    b.login_fully(nacl_customer)
    b.s.cookies.set("portalpref", "dunkel")
    doc = upstream_json(b.get("/portal/api/echo"))
    cookies = "; ".join(header_values(doc, "Cookie"))
    names = [c.split("=", 1)[0].strip() for c in cookies.split(";") if c.strip()]
    assert "portalpref" in names, cookies
    assert fgtest.SESSION_COOKIE not in names and fgtest.PRE_COOKIE not in names, cookies
    assert b.session_cookie not in cookies


# ---- return path

EVIL_RD = ["//evil.example", "/\\evil.example", "https://evil.example", "/%2F%2Fevil.example",
           "/%5Cevil.example", "javascript:alert(1)", "/\t/evil.example", "\\\\evil.example",
           "http:evil.example", "/%09/evil.example"]


def _same_site(location, server):
    if location.startswith(server.url + "/"):
        location = location[len(server.url):]
    return (location.startswith("/") and not location.startswith("//")
            and not location.startswith("/\\") and "\t" not in location
            and "\n" not in location)


@pytest.mark.parametrize("rd", EVIL_RD)
def test_open_redirect_refused(server, nacl_customer, rd):
    b = Browser(server)
    r = b.get(server.prefix + "/login?rd=" + urllib.parse.quote(rd, safe=""))
    assert r.status_code == 200
    r = b.login(nacl_customer.number, nacl_customer.password, rd=rd)
    assert r.status_code == 303
    assert _same_site(r.headers["Location"], server), r.headers["Location"]
    b.request_approval()
    fgtest.app_approve(nacl_customer.app, b)
    r = b.finish()
    assert r.status_code == 303
    loc = r.headers["Location"]
    assert loc.startswith("/") and not loc.startswith("//") and not loc.startswith("/\\"), loc
    decoded = urllib.parse.unquote(loc)
    assert not re.match(r"^/[\s]*[\\/]", decoded), loc
    assert not any(ord(ch) < 0x20 for ch in decoded), loc


def test_good_return_path_kept(server, nacl_customer):
    b = Browser(server)
    rd = "/portal/api/echo?a=1&b=%C3%BC#frag"
    r = b.get(rd.split("#")[0])
    assert r.status_code == 302
    b.get(r.headers["Location"])
    b.rd = None
    r = b.login(nacl_customer.number, nacl_customer.password)
    assert r.status_code == 303
    b.request_approval()
    fgtest.app_approve(nacl_customer.app, b)
    r = b.finish()
    assert r.headers["Location"] in ("/portal/api/echo?a=1&b=%C3%BC",
                                     server.u("/portal/api/echo?a=1&b=%C3%BC")), \
        r.headers["Location"]


# ---- endpoints

def test_health(server):
    r = requests.get(server.u(server.prefix + "/health"), timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "redis": "ok"}


def test_unknown_endpoint_is_404(server):
    r = requests.get(server.u(server.prefix + "/nonexistent"), timeout=TIMEOUT,
                     allow_redirects=False)
    assert r.status_code == 404


def test_no_secrets_in_redis(server, customer, redis_client):
    b = Browser(server)
    b.login_fully(customer)
    secrets = [customer.password, b.session_cookie]
    pre = b.cookie(fgtest.PRE_COOKIE)
    if pre:
        secrets.append(pre)
    for key in redis_client.scan_iter(match=b"freigabe:*", count=1000):
        t = redis_client.type(key)
        if t == b"string":
            vals = [redis_client.get(key) or b""]
        elif t == b"hash":
            vals = [k + b"=" + v for k, v in redis_client.hgetall(key).items()]
        elif t == b"set":
            vals = list(redis_client.smembers(key))
        elif t == b"stream":
            vals = [json.dumps({k.decode(): v.decode("utf-8", "replace")
                                for k, v in e[1].items()}).encode()
                    for e in redis_client.xrange(key, count=10000)]
        else:
            vals = []
        blob = key + b" " + b" ".join(vals)
        for s in secrets:
            if s and len(s) >= 6:
                assert s.encode() not in blob, "secret found in Redis key %r" % key


def test_password_throttling(isolated, make_customer):
    server = isolated   # own Redis: the per-address counts must not touch other tests
    cust = make_customer(server, app=None)
    codes = []
    for i in range(12):
        b = Browser(server)
        b.open_login()
        codes.append(b.login(cust.number, "falsch%d" % i).status_code)
        if codes[-1] in (429, 503):
            break
    assert all(c in (401, 429, 503) for c in codes), codes
    b = Browser(server)
    b.open_login()
    right = b.login(cust.number, cust.password).status_code
    assert 429 in codes or right != 303, \
        "12 wrong passwords in a row and neither throttled nor locked: %r" % codes
    # the admin lifts the throttle: the right password works again at once
    fgtest.Ctl(server.redis.url).run("user", "unlock", cust.number, "--ip", "127.0.0.1")
    b = Browser(server)
    b.open_login()
    r = b.login(cust.number, cust.password)
    assert r.status_code in (303, 403), (r.status_code, r.text[:200])  # 403: no app enrolled


# ---- Redis failure: fail closed, recover by itself

def test_redis_down_fails_closed_and_recovers(isolated, upstream, make_customer):
    srv = isolated
    cust = make_customer(srv, app="nacl")
    b = Browser(srv)
    b.login_fully(cust)
    assert b.get("/portal/api/echo").status_code == 200

    srv.redis.stop()
    problems = []   # collected, so that recovery is checked even when one answer is wrong

    def expect(what, resp, want=503):
        if resp.status_code != want:
            problems.append("%s: expected %s, got %s (Location: %s)" % (
                what, want, resp.status_code, resp.headers.get("Location")))

    marker = "redis-down-%d" % time.time_ns()
    expect("GET protected page with a session cookie", b.get("/portal/api/echo?m=" + marker))
    expect("GET protected page, navigation without cookie",
           requests.get(srv.u("/portal/api/echo?m=" + marker), headers=NAV_HEADERS,
                        timeout=TIMEOUT, allow_redirects=False))
    expect("GET protected API without cookie",
           requests.get(srv.u("/portal/api/echo?m=" + marker), headers=API_HEADERS,
                        timeout=TIMEOUT, allow_redirects=False))
    if upstream.requests_matching(marker):
        problems.append("a request reached the upstream while Redis was down")
    h = requests.get(srv.u(srv.prefix + "/health"), timeout=TIMEOUT)
    expect("GET health", h)
    if not h.headers.get("Content-Type", "").startswith("application/json") or \
            h.json().get("status") != "unavailable" or h.json().get("redis") != "down" or \
            not h.json().get("message"):
        problems.append("health while Redis is down: %s" % h.text)
    b2 = Browser(srv)
    lp = b2.get(srv.prefix + "/login?rd=%2Fportal%2F")
    if lp.status_code == 200:
        expect("POST login", b2.login(cust.number, cust.password))
    else:
        expect("GET login page", lp)

    srv.redis.start()
    deadline = time.time() + 15
    while time.time() < deadline:
        h = requests.get(srv.u(srv.prefix + "/health"), timeout=TIMEOUT)
        if h.status_code == 200:
            break
        time.sleep(0.5)
    assert h.status_code == 200 and h.json() == {"status": "ok", "redis": "ok"}, \
        "no recovery after Redis restart: %s %s; earlier: %s" % (h.status_code, h.text,
                                                                  problems)
    # Redis came back empty: the old session is gone, a new customer can log in
    assert b.get("/portal/api/echo").status_code == 302
    again = make_customer(srv, app="nacl")
    doc = upstream_json(Browser(srv).login_fully(again))
    assert header_values(doc, "X-Freigabe-User") == [again.number]
    assert not problems, "while Redis was down:\n  " + "\n  ".join(problems)


# ---- configuration errors stop the server at start-up

def test_configtest_good(kind, key_file, redis_server):
    impl = fgtest.KINDS[kind]
    opts = dict(fgtest.DEFAULT_OPTIONS, redis=redis_server.url, key_file=str(key_file))
    rc, out = impl.configtest(opts)
    assert rc == 0, out


@pytest.mark.parametrize("option, value", [
    ("code_mode", "bogus"),
    ("key_file", None),
    ("key_file", "/nonexistent/freigabe.key"),
    ("challenge_timeout", "-5"),
    ("min_client", "android=eleven"),
    ("redis", "http://not-redis"),
])
def test_configtest_bad(kind, key_file, redis_server, option, value):
    impl = fgtest.KINDS[kind]
    opts = dict(fgtest.DEFAULT_OPTIONS, redis=redis_server.url, key_file=str(key_file))
    opts[option] = value
    rc, out = impl.configtest(opts)
    assert rc != 0, "config test accepted %s=%r:\n%s" % (option, value, out)
    assert impl.directive(option) in out, "message does not name %s:\n%s" % (
        impl.directive(option), out)


# ---- fixes from review: races and edges of the rules above

def test_parallel_wrong_passwords_cannot_outrun_the_throttle(isolated, make_customer):
    """Twelve wrong passwords sent at once: each attempt is counted before its hash, so no
    more than FreigabeLoginMaxFail (5) of them get a password check; the rest get 429 (or
    503 when the hash cap is full). A check-then-count would let all twelve be hashed."""
    srv = isolated
    cust = make_customer(srv, app=None)
    browsers = []
    for _ in range(12):
        b = Browser(srv)
        b.open_login()
        browsers.append(b)
    results = [None] * len(browsers)

    def attempt(i):
        results[i] = browsers[i].login(cust.number, "falsch%d" % i).status_code

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(browsers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(r in (401, 429, 503) for r in results), results
    assert results.count(401) <= 5, "more password checks than the limit: %r" % results
    assert 429 in results, results
    # the account stays throttled for the right password too, until the admin lifts it
    b = Browser(srv)
    b.open_login()
    assert b.login(cust.number, cust.password).status_code == 429
    fgtest.Ctl(srv.redis.url).run("user", "unlock", cust.number, "--ip", "127.0.0.1")
    b = Browser(srv)
    b.open_login()
    assert b.login(cust.number, cust.password).status_code == 403  # right password, no app


def test_correct_passwords_do_not_fill_the_address_counter(isolated, make_customer):
    """Attempts are counted per address before the hash; a correct password takes its
    attempt back, so many customers behind one address (an office NAT) are not throttled
    by their own successful logins (the address limit is 20)."""
    srv = isolated
    cust = make_customer(srv, app="nacl")
    for _ in range(24):
        b = Browser(srv)
        b.open_login()
        r = b.login(cust.number, cust.password)
        assert r.status_code == 303, (r.status_code, r.text[:200])


def test_disabled_account_cannot_finish_a_login_or_keep_its_session(server, make_customer,
                                                                    ctl, redis_client):
    cust = make_customer(server, app="nacl")
    old = Browser(server)
    upstream_json(old.login_fully(cust))
    # the account is disabled in the middle of a login: the password was accepted and the
    # app approves afterwards, but the login must not be completed
    b = Browser(server)
    b.start(cust)
    ctl.run("user", "disable", cust.number)
    assert cust.app.approve_pending().status_code in (200, 409)
    r = b.finish()
    assert r.status_code == 403, (r.status_code, r.text[:300])
    assert b.session_cookie is None
    ctl.run("user", "enable", cust.number)
    # a session the disable did not reach (flag set directly, sessions left in place) ends
    # at its next request
    live = Browser(server)
    upstream_json(live.login_fully(cust))
    redis_client.hset("freigabe:{%s}:user" % cust.number, "disabled", "1")
    r = live.get("/portal/api/echo", headers=API_HEADERS)
    assert r.status_code == 401, (r.status_code, r.text[:200])
    assert old.get("/portal/api/echo", headers=API_HEADERS).status_code == 401


def test_login_behind_a_tls_terminating_proxy(server, nacl_customer):
    """A TLS proxy in front forwards plain HTTP while the browser sends
    Origin: https://host - the same site, so the login works."""
    https_origin = "https://127.0.0.1:%d" % server.port
    b = Browser(server)
    b.open_login()
    r = b.login(nacl_customer.number, nacl_customer.password, origin=https_origin)
    assert r.status_code == 303, (r.status_code, r.text[:300])
    assert b.request_approval(origin=https_origin).status_code == 303
    fgtest.app_approve(nacl_customer.app, b)
    assert b.finish(origin=https_origin).status_code == 303
    # another host's https origin is still refused
    b2 = Browser(server)
    b2.open_login()
    r = b2.login(nacl_customer.number, nacl_customer.password,
                 origin="https://evil.example:%d" % server.port)
    assert r.status_code == 403, r.status_code
