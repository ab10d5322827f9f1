"""naclapp.py - an independent Freigabe app client in Python (PyNaCl), written from product.md section 3 alone.

It signs every request with the device's Ed25519 key:
    FREIGABE-DEVICE-V1\\n<METHOD>\\n<path with query>\\n<ts>\\n<nonce>\\n<sha256 hex of body>
and sends
    Authorization: Freigabe-Device device="<id>", ts="<unix>", nonce="<b64url>", sig="<b64url>"
    Freigabe-Client: platform=android, os=14, app=1.0.0
Binary values are base64url without padding. Enrollment is signed with the new key, device="new".
"""
import base64
import hashlib
import json
import os
import time
import urllib.parse

import nacl.signing
import requests

TIMEOUT = 10
MESSAGE_TAG = "FREIGABE-DEVICE-V1"


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signing_message(method, path, ts, nonce, body):
    """The exact UTF-8 text a device signs (body: bytes or str)."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    return "%s\n%s\n%s\n%s\n%s\n%s" % (MESSAGE_TAG, method.upper(), path, ts, nonce,
                                       hashlib.sha256(body).hexdigest())


def authorization(device, ts, nonce, sig):
    return 'Freigabe-Device device="%s", ts="%s", nonce="%s", sig="%s"' % (device, ts, nonce, sig)


def parse_authorization(value):
    """The key="value" pairs of a Freigabe-Device Authorization header (dict)."""
    import re
    value = value.strip()
    if value.lower().startswith("authorization:"):
        value = value.split(":", 1)[1].strip()
    scheme, _, rest = value.partition(" ")
    out = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    out["_scheme"] = scheme
    return out


class NaclApp:
    """A phone: a key (random or from a 32-byte seed), a device id after enrollment."""

    def __init__(self, server_url=None, seed=None, platform="android", os_version="14",
                 app_version="1.0.0"):
        self.server_url = server_url.rstrip("/") if server_url else None
        self.key = nacl.signing.SigningKey(seed if seed is not None else os.urandom(32))
        self.device_id = None
        self.customer = None
        self.name = None
        self.client = "platform=%s, os=%s, app=%s" % (platform, os_version, app_version)
        self.http = requests.Session()
        # a kept-alive connection closed by the server just as it is reused: retry idempotent
        # requests once (a signed GET carries the same nonce, so only a connection that never
        # delivered the request can succeed on retry)
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry
        self.http.mount("http://", HTTPAdapter(max_retries=Retry(
            total=1, connect=1, read=1, status=0, redirect=0,
            allowed_methods=frozenset({"GET", "HEAD"}), raise_on_status=False)))
        self.last_pending = None

    @property
    def public_key(self):
        return b64u(bytes(self.key.verify_key))

    # --- signing
    def sign(self, method, path, body=b"", ts=None, nonce=None, device=None):
        """-> (authorization header value, message) for this request."""
        ts = str(int(time.time()) if ts is None else ts)
        nonce = nonce or b64u(os.urandom(18))
        msg = signing_message(method, path, ts, nonce, body)
        sig = b64u(self.key.sign(msg.encode("utf-8")).signature)
        return authorization(device or self.device_id or "new", ts, nonce, sig), msg

    # --- HTTP
    def _prefix_path(self):
        return urllib.parse.urlsplit(self.server_url).path.rstrip("/")

    def request(self, method, path, body=None, ts=None, ts_offset=0, nonce=None, device=None,
                client=None, headers=None):
        """Signed request to {prefix}{path}; body: dict (sent as JSON), bytes or None."""
        if isinstance(body, dict):
            data = json.dumps(body, separators=(",", ":")).encode("utf-8")
        else:
            data = body or b""
        full_path = self._prefix_path() + path
        if ts is None:
            ts = int(time.time()) + ts_offset
        auth, _ = self.sign(method, full_path, data, ts=ts, nonce=nonce, device=device)
        h = {"Authorization": auth, "Freigabe-Client": client or self.client,
             "Accept": "application/json", "User-Agent": "naclapp/1.0"}
        if data:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        base = urllib.parse.urlsplit(self.server_url)
        url = "%s://%s%s" % (base.scheme, base.netloc, full_path)
        return self.http.request(method, url, data=data if data else None, headers=h,
                                 timeout=TIMEOUT, allow_redirects=False)

    def send_raw(self, method, path, data, auth, client=None):
        """Send a request with a given Authorization header (for replays)."""
        base = urllib.parse.urlsplit(self.server_url)
        h = {"Authorization": auth, "Freigabe-Client": client or self.client,
             "Accept": "application/json"}
        if data:
            h["Content-Type"] = "application/json"
        url = "%s://%s%s%s" % (base.scheme, base.netloc, self._prefix_path(), path)
        return self.http.request(method, url, data=data or None, headers=h, timeout=TIMEOUT,
                                 allow_redirects=False)

    # --- the API
    def enroll(self, activation_code, device_name="naclapp pytest"):
        r = self.request("POST", "/app/enroll", {"activation_code": activation_code,
                                                 "public_key": self.public_key,
                                                 "device_name": device_name}, device="new")
        if r.status_code == 201:
            doc = r.json()
            self.device_id = doc["device_id"]
            self.customer = doc.get("customer")
            self.name = doc.get("name")
        return r

    def pending(self, wait=None, **kw):
        path = "/app/pending" + ("?wait=%d" % wait if wait is not None else "")
        r = self.request("GET", path, **kw)
        if r.status_code == 200:
            self.last_pending = r.json()
        return r

    def pending_requests(self, wait=None):
        r = self.pending(wait)
        assert r.status_code == 200, "pending: %s %s" % (r.status_code, r.text)
        return r.json()["requests"]

    def respond(self, req_id, decision, code, reason=None, **kw):
        body = {"id": req_id, "decision": decision, "code": code}
        if reason:
            body["reason"] = reason
        return self.request("POST", "/app/respond", body, **kw)

    def approve_pending(self, code=None):
        """Approve the first pending request (code: from the request, or given for enter mode)."""
        reqs = self.pending_requests()
        assert reqs, "no pending request for device %s" % self.device_id
        req = reqs[0]
        return self.respond(req["id"], "approve", code or req.get("code"))

    def deny_pending(self, not_me=False):
        reqs = self.pending_requests()
        assert reqs, "no pending request for device %s" % self.device_id
        req = reqs[0]
        return self.respond(req["id"], "deny", req.get("code") or "",
                            reason="not_me" if not_me else None)
