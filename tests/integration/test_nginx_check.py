"""freigabe_check: the module as the target of nginx's auth_request."""
import pytest

import fgtest
from fgtest import Browser

pytestmark = pytest.mark.skipif("nginx" not in fgtest.SERVER_KINDS, reason="nginx not tested")


@pytest.fixture
def nginx_server(pool):
    return pool.get("nginx", "main")


def test_auth_request_denies_without_session(nginx_server):
    b = Browser(nginx_server)
    r = b.get("/open-ar/x", headers={"Accept": "application/json"}, allow_redirects=False)
    assert r.status_code == 401, (r.status_code, r.text[:200])


def test_auth_request_passes_identity(nginx_server):
    cust = fgtest.create_customer(nginx_server, "Jürgen Müßig", app="cli")
    b = Browser(nginx_server)
    b.login_fully(cust)
    r = b.get("/open-ar/x", headers={"Accept": "application/json", "X-AR-User": "forged"},
              allow_redirects=False)
    assert r.status_code == 200, (r.status_code, r.text[:200])
    seen = {k.lower(): v for k, v in r.json()["headers"]}
    assert seen["x-ar-user"] == cust.number
    # the session cookie is a bearer token: it never reaches the upstream
    assert fgtest.SESSION_COOKIE + "=" not in seen.get("cookie", ""), seen.get("cookie")


def test_auth_request_fails_closed_when_redis_is_down(key_file, upstream):
    r = fgtest.Redis().start()
    srv = fgtest.Server("nginx", "main", r, key_file, upstream.port).start()
    try:
        cust = fgtest.create_customer(srv, "Erika Müller", app="cli")
        b = Browser(srv)
        b.login_fully(cust)
        assert b.get("/open-ar/x", allow_redirects=False).status_code == 200
        r.stop()
        # the check answers 503, and nginx's auth_request passes only 401 and 403 on: the
        # client gets a 500 (docs/nginx.md says so), denied, without identity headers
        resp = b.get("/open-ar/x", allow_redirects=False)
        assert resp.status_code == 500, resp.status_code
        assert "Location" not in resp.headers
        assert not any(k.lower().startswith("x-freigabe-") for k in resp.headers)
        log = srv.error_log.read_text("utf-8", "replace")
        assert "auth request unexpected status: 503" in log, log[-2000:]
    finally:
        srv.stop()
        r.stop()
