"""nginx's freigabe_session_recheck: sessions confirmed by Redis are trusted from shared
memory for the interval; revocations elsewhere land within it, a logout here at once."""
import time

import pytest

import fgtest
from fgtest import Browser

pytestmark = pytest.mark.skipif("nginx" not in fgtest.SERVER_KINDS, reason="nginx not tested")


@pytest.fixture
def recheck_server(key_file, upstream):
    r = fgtest.Redis().start()
    srv = fgtest.Server("nginx", "main", r, key_file, upstream.port,
                        options={"session_recheck": "3s"})
    try:
        srv.start()
    except Exception as e:
        r.stop()
        pytest.fail("nginx with freigabe_session_recheck failed to start:\n%s" % e)
    yield srv
    srv.stop()
    r.stop()


def _api(b):
    return b.get("/portal/api/echo", headers={"Accept": "application/json"},
                 allow_redirects=False)


def test_revocation_lands_within_the_interval(recheck_server):
    srv = recheck_server
    cust = fgtest.create_customer(srv, "Erika Müller", app="cli")
    b = Browser(srv)
    b.login_fully(cust)
    assert _api(b).status_code == 200
    fgtest.Ctl(srv.redis.url).session_revoke_all(cust.number)
    t0 = time.time()
    while _api(b).status_code == 200:
        assert time.time() - t0 < 5, "revoked session still accepted after 5 s (recheck 3 s)"
        time.sleep(0.2)
    assert _api(b).status_code == 401


def test_cached_sessions_survive_a_redis_outage_only_for_the_interval(recheck_server):
    srv = recheck_server
    cust = fgtest.create_customer(srv, "Erika Müller", app="cli")
    b = Browser(srv)
    b.login_fully(cust)
    assert _api(b).status_code == 200
    srv.redis.stop()                  # the process is gone: any 200 now comes from memory
    try:
        t0 = time.time()
        seen = []
        while time.time() - t0 < 5:
            seen.append((round(time.time() - t0, 1), _api(b).status_code))
            time.sleep(0.3)
        # within the interval the memory answers; after it the check fails closed
        assert seen[0][1] == 200, "the cache did not answer while Redis was down: %r" % seen
        assert _api(b).status_code == 503, seen
        assert all(code == 503 for t, code in seen if t >= 3.5), seen
    finally:
        srv.redis.start()


def test_logout_through_this_server_is_immediate(recheck_server):
    srv = recheck_server
    cust = fgtest.create_customer(srv, "Erika Müller", app="cli")
    b = Browser(srv)
    b.login_fully(cust)
    assert _api(b).status_code == 200
    old = b.session_cookie
    r = b.logout()
    assert r.status_code in (200, 303), r.status_code
    b.s.cookies.set(fgtest.SESSION_COOKIE, old, domain="127.0.0.1", path="/")
    assert _api(b).status_code == 401


def _nginx(key_file, upstream, options=None, extra_server=""):
    r = fgtest.Redis().start()
    srv = fgtest.Server("nginx", "main", r, key_file, upstream.port, options=options or {})
    srv.kind_args = {"extra_server": extra_server % {"up": upstream.port}}
    try:
        srv.start()
    except Exception as e:
        r.stop()
        pytest.fail("nginx failed to start:\n%s" % e)
    return srv


def test_cache_never_vouches_across_deployments(key_file, upstream):
    """Two tenants in one nginx (same key file, other key prefix): a session confirmed for
    one is unknown to the other, cache or not."""
    srv = _nginx(key_file, upstream, {"session_recheck": "30s"},
                 '        location /tenantb { freigabe on; freigabe_key_prefix "tenantb:";'
                 ' proxy_pass http://127.0.0.1:%(up)d/open/tb; }')
    try:
        cust = fgtest.create_customer(srv, "Erika Müller", app="cli")
        b = Browser(srv)
        b.login_fully(cust)
        assert _api(b).status_code == 200          # now in the cache
        r = b.get("/tenantb", headers={"Accept": "application/json"}, allow_redirects=False)
        assert r.status_code == 401, (r.status_code, r.text[:200])
    finally:
        srv.stop()
        srv.redis.stop()


def test_logout_clears_the_cache_of_other_locations(key_file, upstream):
    """The recheck interval only on one location; logout runs in the endpoints location."""
    srv = _nginx(key_file, upstream, {},
                 "        location /cached { freigabe on; freigabe_session_recheck 30s;"
                 " proxy_pass http://127.0.0.1:%(up)d/open/cached; }")
    try:
        cust = fgtest.create_customer(srv, "Erika Müller", app="cli")
        b = Browser(srv)
        b.login_fully(cust)
        hdr = {"Accept": "application/json"}
        assert b.get("/cached", headers=hdr, allow_redirects=False).status_code == 200
        old = b.session_cookie
        assert b.logout().status_code in (200, 303)
        b.s.cookies.set(fgtest.SESSION_COOKIE, old, domain="127.0.0.1", path="/")
        assert b.get("/cached", headers=hdr, allow_redirects=False).status_code == 401
    finally:
        srv.stop()
        srv.redis.stop()


def test_recheck_below_a_second_is_refused(key_file):
    rc, out = fgtest.NginxKind.configtest({"key_file": key_file, "session_recheck": "3s"})
    assert rc == 0, out                 # the same configuration with a valid interval passes
    rc, out = fgtest.NginxKind.configtest({"key_file": key_file, "session_recheck": "500ms"})
    assert rc != 0
    assert "freigabe_session_recheck" in out, out
    # a value that is no time at all is refused with what the directive takes
    rc, out = fgtest.NginxKind.configtest({"key_file": key_file, "session_recheck": "abc"})
    assert rc != 0
    assert "freigabe_session_recheck" in out and "expected a time like 5s" in out, out
