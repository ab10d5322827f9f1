"""test_both_servers.py - an Apache and an nginx frontend sharing one Redis and one key file are
one system: a login started on one is finished on the other, a session minted by one is accepted
by the other (same identity, same session id), a logout on one ends the session on both.

The servers come from conftest's session pool, which starts every kind on the same Redis with
the same key file. Each server is its own origin (127.0.0.1:port): a browser moving between them
carries its cookie values over explicitly and sends the Origin of the server it posts to.
"""
import copy
import urllib.parse

import pytest
import requests

from fgtest import (API_HEADERS, NAV_HEADERS, SESSION_COOKIE, TIMEOUT, Browser, app_approve,
                    header_values, upstream_json)

KINDS = ("apache", "nginx")


@pytest.fixture
def servers(pool):
    """{"apache": Server, "nginx": Server}, both on the pool's shared Redis and key file."""
    out = {k: pool.get(k, "main") for k in KINDS}
    assert out["apache"].redis is out["nginx"].redis
    assert out["apache"].key_file == out["nginx"].key_file
    return out


def other(kind):
    return "nginx" if kind == "apache" else "apache"


def move(browser, server):
    """A Browser on `server` carrying the same cookie values (and the saved return path)."""
    nb = Browser(server)
    for c in browser.s.cookies:
        nb.s.cookies.set_cookie(copy.copy(c))
    nb.rd = browser.rd
    nb.csrf = None          # a form token is fetched from the new server's own page
    return nb


def cookie_value(browser, name=SESSION_COOKIE):
    vals = [c.value for c in browser.s.cookies if c.name == name]
    assert len(vals) == 1, "cookie %s: %r" % (name, vals)
    return vals[0]


def protected(server, session, api=True, path="/portal/api/echo"):
    """A protected request carrying only the session cookie (no jar)."""
    h = dict(API_HEADERS if api else NAV_HEADERS)
    h["Cookie"] = "%s=%s" % (SESSION_COOKIE, session)
    return requests.get(server.u(path), headers=h, timeout=TIMEOUT, allow_redirects=False)


def identity(resp):
    doc = upstream_json(resp)
    return (header_values(doc, "X-Freigabe-User"), header_values(doc, "X-Freigabe-Session"),
            header_values(doc, "X-Freigabe-Name"))


# --------------------------------------------------------------------------- cross-server login

@pytest.mark.parametrize("start_kind", KINDS)
def test_login_started_on_one_finished_on_other(servers, make_customer, start_kind):
    start, finish = servers[start_kind], servers[other(start_kind)]
    cust = make_customer(start, "Jürgen Müßig", app="nacl")
    # the app talks to the finishing server: the challenge is in the shared Redis
    cust.app.server_url = finish.app_url
    b = Browser(start)
    b.start(cust, rd="/portal/api/echo?from=" + start_kind)
    w = b.wait_page()
    assert w.status_code == 200, w.text[:300]
    st = b.status(respect_interval=False)
    assert st["status"] == "authorization_pending", st
    app_approve(cust.app, b)
    st = b.wait_status("approved", timeout=20)   # the start server sees the approval
    assert st["status"] == "approved", st

    fb = move(b, finish)
    fb.last_poll, fb.interval = b.last_poll, b.interval   # polls at the announced interval
    st = fb.wait_status("approved", timeout=20)
    assert st["status"] == "approved", ("status on %s: %r" % (finish.kind, st))
    r = fb.finish()                               # Origin: the finishing server
    assert r.status_code == 303, "finish on %s: %s %s\n%s" % (finish.kind, r.status_code,
                                                            r.text[:300], fb.explain())
    loc = urllib.parse.urlsplit(r.headers["Location"])
    assert loc.path == "/portal/api/echo" and loc.query == "from=" + start_kind, \
        r.headers["Location"]
    user, sid, name = identity(fb.get(r.headers["Location"]))
    assert user == [cust.number] and len(sid) == 1
    assert urllib.parse.unquote(name[0]) == "Jürgen Müßig"
    # the challenge was redeemed once: the start server cannot finish it again
    b.wait_page()
    again = b.post(b.p("/finish"), {"csrf": b.csrf or ""})
    assert again.status_code != 303, "the challenge was redeemed twice"
    # and the new session works on the start server too
    session = cookie_value(fb)
    assert identity(protected(start, session))[:2] == (user, sid)


def test_finish_on_other_server_needs_its_origin(servers, make_customer):
    """Same-origin means the origin of the server posted to, not of the one that started."""
    start, finish = servers["nginx"], servers["apache"]
    cust = make_customer(start, app="nacl")
    b = Browser(start)
    b.start(cust)
    app_approve(cust.app, b)
    fb = move(b, finish)
    fb.wait_page()
    r = fb.post(fb.p("/finish"), {"csrf": fb.csrf or ""}, origin=start.origin)
    assert r.status_code == 403, (r.status_code, r.text[:200])
    assert fb.session_cookie is None
    r = fb.finish()
    assert r.status_code == 303, (r.status_code, r.text[:300])


# --------------------------------------------------------------------------- sessions

@pytest.mark.parametrize("mint_kind", KINDS)
def test_session_accepted_by_both(servers, make_customer, upstream, mint_kind):
    mint, other_srv = servers[mint_kind], servers[other(mint_kind)]
    cust = make_customer(mint, app="nacl")
    b = Browser(mint)
    first = identity(b.login_fully(cust))
    session = cookie_value(b)
    here = identity(protected(mint, session))
    there = identity(protected(other_srv, session))
    assert first[0] == here[0] == there[0] == [cust.number]
    assert first[1] == here[1] == there[1] and len(here[1]) == 1, (first, here, there)
    assert here[2] == there[2]
    # whoami agrees, and both frontends sign assertions for the same session
    for srv in (mint, other_srv):
        w = requests.get(srv.u(srv.prefix + "/whoami"), timeout=TIMEOUT,
                         headers={"Accept": "application/json",
                                  "Cookie": "%s=%s" % (SESSION_COOKIE, session)})
        assert w.status_code == 200 and w.json()["customer"] == cust.number, (srv, w.text)
    import jwt
    sids = set()
    for srv in (mint, other_srv):
        doc = upstream_json(protected(srv, session))
        tok = header_values(doc, "X-Freigabe-Assertion")
        assert len(tok) == 1
        claims = jwt.decode(tok[0], options={"verify_signature": False})
        assert claims["sub"] == cust.number
        sids.add(claims["sid"])
    assert len(sids) == 1, sids
    # a navigation on the other server is let through as well (no login redirect)
    r = protected(other_srv, session, api=False)
    assert r.status_code == 200, (r.status_code, r.headers.get("Location"))


@pytest.mark.parametrize("logout_kind", KINDS)
def test_logout_on_one_ends_session_on_both(servers, make_customer, logout_kind):
    out_srv, other_srv = servers[logout_kind], servers[other(logout_kind)]
    cust = make_customer(other_srv, app="nacl")
    b = Browser(other_srv)           # minted by the server that does not log out
    b.login_fully(cust)
    session = cookie_value(b)
    for srv in (out_srv, other_srv):
        assert protected(srv, session).status_code == 200

    ob = move(b, out_srv)
    r = ob.logout()                  # Origin: the server that logs out
    assert r.status_code in (200, 303), (r.status_code, r.text[:300])
    assert ob.session_cookie in (None, ""), "session cookie not cleared by the logout"
    for srv in (out_srv, other_srv):
        api = protected(srv, session)
        assert api.status_code == 401, "%s still accepts the session: %s" % (srv.kind,
                                                                            api.status_code)
        assert api.json()["error"] == "login_required"
        nav = protected(srv, session, api=False)
        assert nav.status_code == 302, (srv.kind, nav.status_code)
        assert urllib.parse.urlsplit(nav.headers["Location"]).path == srv.prefix + "/login"
        w = requests.get(srv.u(srv.prefix + "/whoami"), timeout=TIMEOUT,
                         headers={"Accept": "application/json",
                                  "Cookie": "%s=%s" % (SESSION_COOKIE, session)})
        assert w.status_code == 401, (srv.kind, w.status_code, w.text)
