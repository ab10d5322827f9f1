"""test_journey.py - the customer's journey end to end: protected URL, login, approval in the app, portal, logout."""
import time
import urllib.parse

import jwt
import pytest
import requests

import fgtest
from fgtest import (API_HEADERS, NAV_HEADERS, TIMEOUT, Browser, app_approve, header_values,
                    page_code, page_text, upstream_json)


def _location_path(resp):
    return urllib.parse.urlsplit(resp.headers["Location"]).path


def _verify_assertion(server, token, customer):
    jwks = requests.get(server.u(server.prefix + "/jwks.json"), timeout=TIMEOUT)
    assert jwks.status_code == 200, jwks.text
    keys = jwks.json()["keys"]
    assert keys, "empty jwks"
    for k in keys:
        assert k["kty"] == "OKP" and k["crv"] == "Ed25519", k
        assert "d" not in k, "private key material in jwks.json"
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA", header
    candidates = [k for k in keys if "kid" not in header or k.get("kid") == header["kid"]]
    assert candidates, "no jwks key for kid %r" % header.get("kid")
    last_err = None
    for k in candidates:
        try:
            claims = jwt.decode(token, jwt.PyJWK(k, algorithm="EdDSA").key,
                                algorithms=["EdDSA"],
                                audience=server.options.get("audience", "portal"),
                                issuer=server.options.get("issuer", "freigabe"))
            break
        except jwt.InvalidTokenError as e:
            last_err = e
    else:
        raise AssertionError("assertion does not verify against jwks: %s" % last_err)
    now = time.time()
    assert claims["iss"], claims
    assert claims["aud"], claims
    assert claims["sub"] == customer.number
    assert claims["name"] == customer.name
    assert claims["amr"] == ["pwd", "app"]
    assert claims["exp"] > now
    assert claims["exp"] - now < 3600, "assertion lifetime should be short: %r" % claims
    assert abs(claims["iat"] - now) < 120
    assert claims["auth_time"] <= now + 5
    assert claims["sid"]
    return claims


def test_protected_navigation_redirects_to_login(server):
    b = Browser(server)
    r = b.get("/portal/api/echo?x=1&y=%C3%A4")
    assert r.status_code == 302, r.text[:300]
    loc = urllib.parse.urlsplit(r.headers["Location"])
    assert loc.netloc in ("", "127.0.0.1:%d" % server.port), r.headers["Location"]
    assert loc.path == server.prefix + "/login"
    rd = urllib.parse.parse_qs(loc.query)["rd"][0]
    assert rd == "/portal/api/echo?x=1&y=%C3%A4"


@pytest.mark.parametrize("headers, method", [
    ({"Accept": "application/json"}, "GET"),
    ({"Accept": "text/html", "X-Requested-With": "XMLHttpRequest"}, "GET"),
    ({"Accept": "text/html", "Sec-Fetch-Mode": "cors"}, "GET"),
    ({"Accept": "text/html"}, "POST"),
], ids=["json", "xhr", "fetch", "post"])
def test_api_request_without_session_gets_401_json(server, headers, method):
    r = requests.request(method, server.u("/portal/api/me"), headers=headers, timeout=TIMEOUT,
                         allow_redirects=False)
    assert r.status_code == 401, (r.status_code, r.headers, r.text[:300])
    assert r.headers.get("Content-Type", "").startswith("application/json")
    assert r.json() == {"error": "login_required", "login": server.prefix + "/login"}


def test_full_journey(server, customer, upstream):
    b = Browser(server)
    rd = "/portal/api/echo?step=journey"
    r = b.get(rd)
    assert r.status_code == 302
    assert _location_path(r) == server.prefix + "/login"

    page = b.get(r.headers["Location"])
    assert page.status_code == 200
    assert b.csrf, "login page has no hidden csrf input"
    text = page_text(page.text)
    assert "Anmelden" in page.text, text[:500]
    b.rd = rd

    r = b.login(customer.number, customer.password)
    assert r.status_code == 303, (r.status_code, r.text[:500])
    assert _location_path(r) == server.prefix + "/approve"
    assert b.cookie(fgtest.PRE_COOKIE), "no %s cookie after login" % fgtest.PRE_COOKIE
    assert b.session_cookie is None, "session cookie before approval"

    approve_page = b.get(server.prefix + "/approve")
    assert approve_page.status_code == 200
    assert "Freigabe anfordern" in approve_page.text
    r = b.post(server.prefix + "/approve", {"csrf": b.csrf})
    assert r.status_code == 303, (r.status_code, r.text[:500])
    assert _location_path(r) == server.prefix + "/wait"

    wait = b.wait_page()
    assert wait.status_code == 200
    st = b.status(respect_interval=False)
    assert st["status"] == "authorization_pending", st
    assert 0 < st["expires_in"] <= 120
    assert st["interval"] >= 1

    # the app shows the same code as the browser (compare mode)
    app_pending = customer.app.pending()
    assert app_pending.returncode == 0, app_pending.stderr
    code = page_code(wait.text)
    assert code and len(code) == 6, "no code on the wait page:\n" + page_text(wait.text)[:500]
    assert code in app_pending.stdout.replace(" ", ""), (code, app_pending.stdout)

    # nothing works before approval
    early = b.post(server.prefix + "/finish", {"csrf": b.csrf})
    assert early.status_code != 303 or _location_path(early) != rd.split("?")[0]
    assert b.session_cookie is None

    app_approve(customer.app, b)
    st = b.wait_status("approved", timeout=20)
    assert st["status"] == "approved", st

    r = b.finish()
    assert r.status_code == 303, (r.status_code, r.text[:500])
    assert r.headers["Location"] in (rd, server.u(rd)), r.headers["Location"]
    assert b.session_cookie, "no session cookie after finish"
    set_cookie = r.headers.get("Set-Cookie", "")
    assert "httponly" in set_cookie.lower()

    doc = upstream_json(b.get(rd))
    assert doc["path"] == rd
    assert header_values(doc, "X-Freigabe-User") == [customer.number]
    [name] = header_values(doc, "X-Freigabe-Name")
    assert urllib.parse.unquote(name, errors="strict") == "Erika Müller"
    assert all(ord(ch) < 128 for ch in name), "name header must be percent-encoded: %r" % name
    [auth_time] = header_values(doc, "X-Freigabe-Auth-Time")
    assert abs(int(auth_time) - time.time()) < 120
    [sid] = header_values(doc, "X-Freigabe-Session")
    assert sid and sid != b.session_cookie and b.session_cookie not in sid
    [assertion] = header_values(doc, "X-Freigabe-Assertion")
    claims = _verify_assertion(server, assertion, customer)
    assert claims["sid"] == sid, (claims["sid"], sid)

    # the session id is stable across requests
    doc2 = upstream_json(b.get("/portal/api/echo?again=1"))
    assert header_values(doc2, "X-Freigabe-Session") == [sid]

    who = b.get(server.prefix + "/whoami", headers={"Accept": "application/json"})
    assert who.status_code == 200, who.text
    w = who.json()
    assert w["customer"] == customer.number
    assert w["name"] == "Erika Müller"
    assert int(w["auth_time"]) == int(auth_time)
    assert 0 < w["expires_in"] <= 28800

    old_cookie = b.session_cookie
    out = b.logout()
    assert out.status_code in (200, 303), (out.status_code, out.text[:300])
    assert b.get(rd).status_code == 302

    # replaying the old cookie value does not work either
    c = requests.Session()
    c.cookies.set(fgtest.SESSION_COOKIE, old_cookie)
    r = c.get(server.u(rd), headers=NAV_HEADERS, timeout=TIMEOUT, allow_redirects=False)
    assert r.status_code == 302, r.status_code
    r = c.get(server.u(rd), headers=API_HEADERS, timeout=TIMEOUT, allow_redirects=False)
    assert r.status_code == 401
    r = c.get(server.u(server.prefix + "/whoami"), headers=API_HEADERS, timeout=TIMEOUT)
    assert r.status_code == 401


def test_portal_page_greets_by_name(server, make_customer):
    cust = make_customer(server, "Jürgen Müßig", app="cli")
    b = Browser(server)
    r = b.login_fully(cust, rd="/portal/")
    assert r.status_code == 200
    assert "Willkommen, Jürgen Müßig" in r.text, r.text[:500]
    assert cust.number in r.text
    assert 'action="%s/logout"' % server.prefix in r.text
    doc = upstream_json(b.get("/portal/api/me"))
    [name] = header_values(doc, "X-Freigabe-Name")
    assert urllib.parse.unquote(name, errors="strict") == "Jürgen Müßig"
    assert doc["identity"]["name"] == "Jürgen Müßig"
    # the portal's plain logout form works (same-origin POST)
    out = b.logout()
    assert out.status_code in (200, 303)
    assert b.get("/portal/").status_code == 302


def test_journey_with_python_app(server, nacl_customer):
    b = Browser(server)
    doc = upstream_json(b.login_fully(nacl_customer, rd="/portal/api/me"))
    assert header_values(doc, "X-Freigabe-User") == [nacl_customer.number]
    assert nacl_customer.app.customer in (None, nacl_customer.number)


def test_deny(server, customer):
    b = Browser(server)
    b.start(customer)
    p = customer.app.deny()
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    st = b.wait_status("access_denied", timeout=20)
    assert st["status"] == "access_denied", st
    r = b.finish()
    assert r.status_code != 303 or "/portal" not in r.headers.get("Location", "")
    assert b.session_cookie is None
    assert b.get("/portal/api/echo").status_code == 302


def test_deny_not_me(server, customer):
    b = Browser(server)
    b.start(customer)
    p = customer.app.deny(not_me=True)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    st = b.wait_status("access_denied", timeout=20)
    assert st["status"] == "access_denied", st
    assert b.session_cookie is None
    # "Das war ich nicht" pauses new requests (FreigabeNotMeCooldown, 300 s by default)
    r = b.request_approval()
    assert r.status_code == 429, (r.status_code, r.text[:200])
    assert int(r.headers["Retry-After"]) > 250


def test_not_me_without_cooldown(kind, key_file, upstream, redis_server):
    """FreigabeNotMeCooldown 0: "not me" still denies, and a new request works at once."""
    srv = fgtest.Server(kind, "nocool", redis_server, key_file, upstream.port,
                        options={"notme_cooldown": "0"})
    srv.start()
    try:
        cust = fgtest.create_customer(srv, app="nacl")
        b = Browser(srv)
        b.start(cust)
        r = cust.app.deny_pending(not_me=True)
        assert r.status_code == 200 and r.json()["status"] == "denied", (r.status_code, r.text)
        assert b.wait_status("access_denied", timeout=20)["status"] == "access_denied"
        assert b.request_approval().status_code == 303
    finally:
        srv.stop()


def test_auth_time_is_the_time_of_approval(server, nacl_customer):
    """X-Freigabe-Auth-Time says when the app approved, not when the browser finished."""
    b = Browser(server)
    b.start(nacl_customer)
    t0 = int(time.time())
    app_approve(nacl_customer.app, b)
    t1 = int(time.time())
    time.sleep(2.2)
    r = b.finish()
    assert r.status_code == 303
    doc = upstream_json(b.get(r.headers["Location"]))
    [auth_time] = header_values(doc, "X-Freigabe-Auth-Time")
    assert t0 <= int(auth_time) <= t1, (t0, auth_time, t1)


def test_expiry_then_new_request(short_server, make_customer):
    cust = make_customer(short_server, app="cli")
    b = Browser(short_server)
    b.start(cust)
    st = b.status(respect_interval=False)
    assert st["status"] == "authorization_pending" and st["expires_in"] <= 10, st
    time.sleep(11)
    st = b.wait_status("expired_token", timeout=10)
    assert st["status"] == "expired_token", st
    # the app can no longer approve it
    p = cust.app.approve()
    assert p.returncode != 0, "approving an expired request succeeded"
    assert b.finish().status_code != 303
    # a new request works
    r = b.request_approval()
    assert r.status_code == 303, (r.status_code, r.text[:300])
    app_approve(cust.app, b)
    r = b.finish()
    assert r.status_code == 303, (r.status_code, r.text[:300])
    doc = upstream_json(b.get(r.headers["Location"]))
    assert header_values(doc, "X-Freigabe-User") == [cust.number]


def test_second_request_supersedes_first(server, customer):
    first, second = Browser(server), Browser(server)
    first.start(customer)
    second.start(customer)
    st = first.status(respect_interval=False)
    assert st["status"] == "expired_token", st
    pending = customer.app.pending()
    assert pending.returncode == 0
    app_approve(customer.app, second)
    assert first.status()["status"] == "expired_token"
    assert first.finish().status_code != 303
    assert first.session_cookie is None
    r = second.finish()
    assert r.status_code == 303
    assert second.get("/portal/api/echo").status_code == 200


def test_finish_twice(server, customer, redis_client):
    b = Browser(server)
    b.start(customer)
    app_approve(customer.app, b)
    r = b.finish()
    assert r.status_code == 303
    cookie = b.session_cookie
    again = b.post(server.prefix + "/finish", {"csrf": b.csrf})
    assert 400 <= again.status_code < 500, (again.status_code, again.headers)
    assert b.session_cookie == cookie, "finishing twice replaced the session cookie"
    n = redis_client.scard("freigabe:{%s}:sessions" % customer.number)
    assert n == 1, "sessions of the customer after finishing twice: %d" % n
    # the first session still works
    b2 = requests.Session()
    b2.cookies.set(fgtest.SESSION_COOKIE, cookie)
    r = b2.get(server.u("/portal/api/echo"), headers=NAV_HEADERS, timeout=TIMEOUT,
               allow_redirects=False)
    assert r.status_code == 200


def test_login_drops_expired_sessions_from_the_set(server, make_customer, redis_client):
    """Sessions that ended by their TTL leave the customer's session set at the next login."""
    cust = make_customer(server, app="nacl")
    setkey = "freigabe:{%s}:sessions" % cust.number
    first, second = Browser(server), Browser(server)
    first.login_fully(cust)
    second.login_fully(cust)
    members = redis_client.smembers(setkey)
    assert len(members) == 2, members
    gone = sorted(members)[0]
    # what the TTL would do: the session record disappears, the set keeps its hash
    assert redis_client.delete(b"freigabe:{%s}:sess:" % cust.number.encode() + gone) == 1
    assert gone in redis_client.smembers(setkey)
    third = Browser(server)
    third.login_fully(cust)
    after = redis_client.smembers(setkey)
    assert gone not in after, "expired session still listed"
    assert len(after) == 2 and (members - {gone}) <= after, (members, after)
    # the two live sessions still work, the deleted one does not
    assert sum(b.get("/portal/api/echo", headers={"Accept": "application/json"}).status_code == 200
               for b in (first, second, third)) == 2


def test_finish_from_another_browser_fails(server, customer):
    b = Browser(server)
    b.start(customer)
    app_approve(customer.app, b)
    thief = Browser(server)
    thief.open_login()
    r = thief.finish()
    assert r.status_code != 303
    assert thief.session_cookie is None
    assert b.finish().status_code == 303


def test_slow_down(server, nacl_customer):
    b = Browser(server)
    b.start(nacl_customer)
    first = b.status(respect_interval=False)
    assert first["status"] == "authorization_pending"
    # one short gap may be rounding (times are whole seconds); two in a row are not
    b.status(respect_interval=False)
    second = b.status(respect_interval=False)
    assert second["status"] == "slow_down", second
    assert second["interval"] > first["interval"], (first, second)
    # waiting the (grown) interval gives the normal answer again
    third = b.status()
    assert third["status"] == "authorization_pending", third


def test_wait_page_without_javascript(server, nacl_customer):
    b = Browser(server)
    b.start(nacl_customer)
    w = b.wait_page()
    assert w.status_code == 200
    req = nacl_customer.app.pending_requests()[0]
    assert req["code"] and len(req["code"]) == 6 and req["code"].isdigit(), req
    assert req["code"] in page_text(w.text).replace(" ", "").replace("\u00a0", "") \
        .replace("\u202f", ""), page_text(w.text)[:500]
    assert "2:00" in w.text or "1:5" in w.text, "no countdown on the wait page"
    ctx = req["context"]
    assert ctx["ip"] == "127.0.0.1"
    assert ctx["browser"] and ctx["time"]
    assert 0 < req["expires_in"] <= 120
    assert req["mode"] == "compare"


def test_admin_revokes_sessions(server, customer, ctl):
    b = Browser(server)
    b.login_fully(customer)
    assert b.get("/portal/api/echo").status_code == 200
    ctl.session_revoke_all(customer.number)
    assert b.get("/portal/api/echo").status_code == 302
    r = b.get("/portal/api/echo", headers={"Accept": "application/json"})
    assert r.status_code == 401


def test_two_sessions_are_distinct(server, customer):
    a, b = Browser(server), Browser(server)
    da = upstream_json(a.login_fully(customer))
    db = upstream_json(b.login_fully(customer))
    assert a.session_cookie != b.session_cookie
    assert header_values(da, "X-Freigabe-Session") != header_values(db, "X-Freigabe-Session")
    a.logout()
    assert a.get("/portal/api/echo").status_code == 302
    assert b.get("/portal/api/echo").status_code == 200


@pytest.mark.slow
def test_session_idle_and_absolute_lifetime(brief_server, make_customer, redis_client):
    """idle 60 s, max 75 s: an unused session ends after 60 s, a busy one after 75 s."""
    cust = make_customer(brief_server, app="nacl")
    busy, idle = Browser(brief_server), Browser(brief_server)
    t0 = time.time()
    busy.login_fully(cust)
    idle.login_fully(cust)
    keys = list(redis_client.scan_iter(match=("freigabe:{%s}:sess:*" % cust.number).encode()))
    assert len(keys) == 2, keys
    assert all(0 < redis_client.ttl(k) <= 60 for k in keys), [redis_client.ttl(k) for k in keys]
    codes = []
    for at in (20, 40, 58):
        time.sleep(max(0, t0 + at - time.time()))
        codes.append(busy.get("/portal/api/echo").status_code)
    assert codes == [200, 200, 200], "busy session ended early: %r" % codes
    time.sleep(max(0, t0 + 63 - time.time()))
    assert idle.get("/portal/api/echo").status_code == 302, "session survived 63 s idle"
    assert busy.get("/portal/api/echo").status_code == 200, "busy session ended at 63 s"
    time.sleep(max(0, t0 + 78 - time.time()))
    assert busy.get("/portal/api/echo").status_code == 302, \
        "session outlived its 75 s maximum despite activity"


def test_head_navigation_redirects(server):
    r = requests.head(server.u("/portal/"), headers=NAV_HEADERS, timeout=TIMEOUT,
                      allow_redirects=False)
    assert r.status_code == 302
    assert _location_path(r) == server.prefix + "/login"
