"""test_app_api.py - the signed app API (product.md section 3): vectors, enrollment, pending, respond, replay, clock, versions, code modes."""
import json
import threading
import time

import nacl.signing
import pytest

import fgtest
from fgtest import Browser, app_approve, page_code, upstream_json, header_values
from naclapp import NaclApp, parse_authorization, signing_message

VECTORS = json.loads((fgtest.REPO / "tests" / "vectors" / "device-auth.json").read_text())


# ---- vectors (no server)

@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["name"] for c in VECTORS["cases"]])
def test_python_client_reproduces_vectors(case):
    app = NaclApp(seed=bytes.fromhex(VECTORS["seed_hex"]))
    assert app.public_key == VECTORS["public_key"]
    msg = signing_message(case["method"], case["path"], case["ts"], case["nonce"], case["body"])
    assert msg == case["message"]
    auth, msg2 = app.sign(case["method"], case["path"], case["body"].encode("utf-8"),
                          ts=case["ts"], nonce=case["nonce"], device=case["device"])
    assert msg2 == case["message"]
    assert parse_authorization(auth)["sig"] == case["signature"]
    assert auth == case["authorization"]
    # and the signature verifies, and breaks after any change
    vk = nacl.signing.VerifyKey(fgtest.b64u_decode(VECTORS["public_key"]))
    sig = fgtest.b64u_decode(case["signature"])
    vk.verify(case["message"].encode(), sig)
    with pytest.raises(Exception):
        vk.verify(case["message"].replace("FREIGABE", "FREIGABF").encode(), sig)


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["name"] for c in VECTORS["cases"]])
def test_freigabe_app_sign_vector(case, built, tmp_path):
    body = tmp_path / "body"
    body.write_bytes(case["body"].encode("utf-8"))
    base = [fgtest.FREIGABE_APP, "sign-vector", "--seed", VECTORS["seed_hex"],
            "--method", case["method"], "--path", case["path"], "--ts", case["ts"],
            "--nonce", case["nonce"], "--body-file", body]
    p = fgtest.run_tool(base + ["--device", case["device"]], check=False)
    with_device = p.returncode == 0
    if not with_device:
        p = fgtest.run_tool(base, check=False)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    out = p.stdout.strip().splitlines()[-1].strip()
    got = parse_authorization(out)
    want = parse_authorization(case["authorization"])
    assert got["_scheme"] == "Freigabe-Device", out
    for k in ("ts", "nonce", "sig"):
        assert got.get(k) == want[k], (k, out)
    if with_device:
        value = out.split(":", 1)[1].strip() if out.lower().startswith("authorization:") else out
        assert value == case["authorization"]


# ---- against the server

def test_enroll_pending_approve_with_python_client(server, ctl, make_customer):
    cust = make_customer(server, "Erika Müller", app=None)
    app = NaclApp(server.app_url)
    r = app.enroll(ctl.device_activate(cust.number), device_name="Pixel 8")
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["customer"] == cust.number
    assert doc["name"] == "Erika Müller"
    assert doc["device_id"] and doc["device_id"] != "new"

    assert app.pending_requests() == []

    b = Browser(server)
    b.s.headers["User-Agent"] = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"
                                 " (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
    b.start(cust)
    [req] = app.pending_requests()
    assert req["mode"] == "compare"
    assert len(req["code"]) == 6 and req["code"].isdigit()
    assert set(req["context"]) >= {"ip", "browser", "time"}
    assert req["context"]["browser"] == "Chrome on Windows", req["context"]
    assert req["context"]["ip"] == "127.0.0.1", req["context"]
    r = app.respond(req["id"], "approve", req["code"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    assert app.pending_requests() == []
    # deciding twice: the first final state wins
    again = app.respond(req["id"], "deny", req["code"])
    assert 400 <= again.status_code < 500, again.text
    f = b.finish()
    assert f.status_code == 303
    doc = upstream_json(b.get(f.headers["Location"]))
    assert header_values(doc, "X-Freigabe-User") == [cust.number]


def test_activation_code_is_one_time(server, ctl, make_customer):
    cust = make_customer(server, app=None)
    code = ctl.device_activate(cust.number)
    assert NaclApp(server.app_url).enroll(code).status_code == 201
    r = NaclApp(server.app_url).enroll(code)
    assert 400 <= r.status_code < 500, r.text
    assert "error" in r.json()


def test_enroll_with_bad_signature_or_code(server, ctl, make_customer):
    cust = make_customer(server, app=None)
    code = ctl.device_activate(cust.number)
    app = NaclApp(server.app_url)
    body = json.dumps({"activation_code": code, "public_key": app.public_key,
                       "device_name": "x"}).encode()
    auth, _ = NaclApp().sign("POST", server.prefix + "/app/enroll", body, device="new")
    r = app.send_raw("POST", "/app/enroll", body, auth)   # signed by another key
    assert 400 <= r.status_code < 500, r.text
    r = NaclApp(server.app_url).enroll("AAAA-BBBB-CCCC")
    assert 400 <= r.status_code < 500, r.text
    assert NaclApp(server.app_url).enroll(code).status_code == 201   # still usable


def test_unsigned_and_unknown_device_refused(server, nacl_customer):
    import requests
    r = requests.get(server.u(server.prefix + "/app/pending"), timeout=fgtest.TIMEOUT)
    assert r.status_code == 401 or 400 <= r.status_code < 500
    stranger = NaclApp(server.app_url)
    stranger.device_id = nacl_customer.app.device_id   # right id, wrong key
    r = stranger.pending()
    assert 400 <= r.status_code < 500, r.text
    stranger.device_id = "d_doesnotexist"
    assert 400 <= stranger.pending().status_code < 500


def test_replayed_request_refused(server, nacl_customer):
    app = nacl_customer.app
    path = server.prefix + "/app/pending"
    auth, _ = app.sign("GET", path, b"")
    first = app.send_raw("GET", "/app/pending", b"", auth)
    assert first.status_code == 200, first.text
    replay = app.send_raw("GET", "/app/pending", b"", auth)
    assert 400 <= replay.status_code < 500, replay.text


def test_replayed_respond_refused(server, nacl_customer):
    app = nacl_customer.app
    b = Browser(server)
    b.start(nacl_customer)
    [req] = app.pending_requests()
    body = json.dumps({"id": req["id"], "decision": "deny", "code": req["code"]}).encode()
    auth, _ = app.sign("POST", server.prefix + "/app/respond", body)
    r1 = app.send_raw("POST", "/app/respond", body, auth)
    assert r1.status_code == 200, r1.text
    r2 = app.send_raw("POST", "/app/respond", body, auth)
    assert 400 <= r2.status_code < 500


@pytest.mark.parametrize("offset", [120, -120])
def test_clock_skew_refused(server, nacl_customer, offset):
    r = nacl_customer.app.pending(ts_offset=offset)
    assert 400 <= r.status_code < 500, r.text
    ok = nacl_customer.app.pending(ts_offset=offset // 4)    # 30 s is within +-60 s
    assert ok.status_code == 200, ok.text


def test_tampered_body_refused(server, nacl_customer):
    app = nacl_customer.app
    b = Browser(server)
    b.start(nacl_customer)
    [req] = app.pending_requests()
    signed = json.dumps({"id": req["id"], "decision": "deny", "code": req["code"]}).encode()
    sent = json.dumps({"id": req["id"], "decision": "approve", "code": req["code"]}).encode()
    auth, _ = app.sign("POST", server.prefix + "/app/respond", signed)
    r = app.send_raw("POST", "/app/respond", sent, auth)
    assert 400 <= r.status_code < 500, r.text
    assert b.status(respect_interval=False)["status"] == "authorization_pending"


def test_wrong_code_in_compare_mode(server, nacl_customer):
    app = nacl_customer.app
    b = Browser(server)
    b.start(nacl_customer)
    [req] = app.pending_requests()
    wrong = "%06d" % ((int(req["code"]) + 1) % 1000000)
    r = app.respond(req["id"], "approve", wrong)
    assert 400 <= r.status_code < 500, r.text
    assert "error" in r.json()
    assert b.status(respect_interval=False)["status"] != "approved"


def test_other_customers_device_cannot_decide(server, make_customer):
    alice = make_customer(server, "Alice", app="nacl")
    mallory = make_customer(server, "Mallory", app="nacl")
    b = Browser(server)
    b.start(alice)
    [req] = alice.app.pending_requests()
    assert mallory.app.pending_requests() == []
    r = mallory.app.respond(req["id"], "approve", req["code"])
    assert 400 <= r.status_code < 500, r.text
    assert b.status(respect_interval=False)["status"] == "authorization_pending"


def test_long_poll_wakes_up(server, nacl_customer):
    result = {}

    def poll():
        t0 = time.time()
        result["r"] = nacl_customer.app.pending(wait=8)
        result["t"] = time.time() - t0

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(1.0)
    Browser(server).start(nacl_customer)
    th.join(15)
    r = result["r"]
    assert r.status_code == 200, r.text
    assert len(r.json()["requests"]) == 1, r.text
    assert result["t"] < 7, "long poll did not return when the request appeared (%.1fs)" \
        % result["t"]


def test_push_notice_published(server, nacl_customer, redis_client):
    ps = redis_client.pubsub()
    ps.subscribe("freigabe:push")
    deadline = time.time() + 5
    while time.time() < deadline:   # the subscribe confirmation
        m = ps.get_message(timeout=1)
        if m and m["type"] == "subscribe":
            break
    Browser(server).start(nacl_customer)
    notice = None
    deadline = time.time() + 5
    while time.time() < deadline:
        m = ps.get_message(timeout=1)
        if m and m["type"] == "message":
            doc = json.loads(m["data"])
            if doc.get("customer") == nacl_customer.number:
                notice = doc
                break
    ps.close()
    assert notice, "no push notice on freigabe:push"
    assert nacl_customer.app.device_id in notice["devices"]
    assert notice["challenge"] and 0 < notice["expires_in"] <= 120
    [req] = nacl_customer.app.pending_requests()
    assert notice["challenge"] == req["id"]
    assert "code" not in notice and req["code"] not in json.dumps(notice)


# ---- client gating (426)

def test_outdated_app_version_python(server, nacl_customer):
    old = NaclApp(server.app_url, app_version="0.0.1")
    old.key, old.device_id = nacl_customer.app.key, nacl_customer.app.device_id
    r = old.pending()
    assert r.status_code == 426, (r.status_code, r.text)
    doc = r.json()
    assert doc["error"] == "update_required"
    assert "app" in json.dumps(doc)


def test_outdated_android_python(server, nacl_customer):
    old = NaclApp(server.app_url, os_version="10")
    old.key, old.device_id = nacl_customer.app.key, nacl_customer.app.device_id
    r = old.pending()
    assert r.status_code == 426, (r.status_code, r.text)
    assert r.json()["error"] == "update_required"
    assert "android" in json.dumps(r.json())
    ios_old = NaclApp(server.app_url, platform="ios", os_version="14")
    ios_old.key, ios_old.device_id = nacl_customer.app.key, nacl_customer.app.device_id
    assert ios_old.pending().status_code == 426
    ios_ok = NaclApp(server.app_url, platform="ios", os_version="17.2")
    ios_ok.key, ios_ok.device_id = nacl_customer.app.key, nacl_customer.app.device_id
    assert ios_ok.pending().status_code == 200


def test_outdated_enroll_refused(server, ctl, make_customer):
    cust = make_customer(server, app=None)
    code = ctl.device_activate(cust.number)
    r = NaclApp(server.app_url, app_version="0.0.1").enroll(code)
    assert r.status_code == 426, r.text


def test_outdated_freigabe_app_exit_code(server, customer):
    old = customer.app.with_client(app_version="0.0.1")
    p = old.pending()
    assert p.returncode == 4, (p.returncode, p.stdout, p.stderr)
    p = customer.app.with_client(os_version="10").pending()
    assert p.returncode == 4, (p.returncode, p.stdout, p.stderr)
    assert customer.app.pending().returncode == 0


def test_freigabe_app_wrong_pin(server, customer):
    b = Browser(server)
    b.start(customer)
    p = customer.app.approve(pin="000000")
    assert p.returncode == 5, (p.returncode, p.stdout, p.stderr)
    assert b.status(respect_interval=False)["status"] == "authorization_pending"
    app_approve(customer.app, b)
    assert b.finish().status_code == 303


# ---- code mode "enter"

def test_enter_mode(enter_server, make_customer):
    cust = make_customer(enter_server, app="nacl")
    b = Browser(enter_server)
    b.start(cust)
    [req] = cust.app.pending_requests()
    assert req["mode"] == "enter"
    assert not req.get("code"), "enter mode must not show the code: %r" % req
    code = page_code(b.wait_page().text)
    assert code and len(code) == 6, "no code on the wait page"
    wrong = "%06d" % ((int(code) + 1) % 1000000)
    r = cust.app.respond(req["id"], "approve", wrong)
    assert 400 <= r.status_code < 500, r.text
    r = cust.app.respond(req["id"], "approve", code)
    assert r.status_code == 200, r.text
    f = b.finish()
    assert f.status_code == 303
    assert header_values(upstream_json(b.get(f.headers["Location"])),
                         "X-Freigabe-User") == [cust.number]


def test_enter_mode_freigabe_app(enter_server, make_customer):
    cust = make_customer(enter_server, app="cli")
    b = Browser(enter_server)
    b.start(cust)
    code = page_code(b.wait_page().text)
    wrong = "%06d" % ((int(code) + 1) % 1000000)
    p = cust.app.approve(code=wrong)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    p = cust.app.approve(code=code)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    assert b.finish().status_code == 303
