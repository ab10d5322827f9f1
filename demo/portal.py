#!/usr/bin/python3
"""portal.py - the demo (and test) upstream portal behind Freigabe: greets the customer from the identity headers.

Pages:
  text/html navigations outside /portal/api/ and /open/ -> "Willkommen, <name>" page with the
  customer number, the auth time and an "Abmelden" button (POST {prefix}/logout).
  /portal/api/me, /portal/api/*, /open/*, and any non-HTML request -> JSON with method, path,
  every received header (raw names, duplicates kept, in order) and the decoded identity.

Run standalone:  /usr/bin/python3 demo/portal.py --port 8090 [--host 127.0.0.1] [--prefix /freigabe]
Tests import it and run Portal(...) in a thread; Portal.log keeps every request it received.
"""
import argparse
import html
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEADER_PREFIX = "X-Freigabe-"


def _decode_name(value):
    if value is None:
        return None
    try:
        return urllib.parse.unquote(value, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return value


def identity(headers, header_prefix=HEADER_PREFIX):
    """The identity the module forwarded, from a list of (name, value) pairs; None if absent."""
    want = {
        "user": header_prefix + "User",
        "name": header_prefix + "Name",
        "auth_time": header_prefix + "Auth-Time",
        "session": header_prefix + "Session",
        "assertion": header_prefix + "Assertion",
    }
    out = {}
    for key, hname in want.items():
        for k, v in headers:
            if k.lower() == hname.lower():
                out[key] = v
                break
    if "user" not in out:
        return None
    out["name_raw"] = out.get("name")
    out["name"] = _decode_name(out.get("name"))
    return out


# The demo portal's look: plain, readable, in the colours of the login pages.
_STYLE = (
    "body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1a1a1a;background:#f4f6f8}"
    "main{max-width:36rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:8px;"
    "box-shadow:0 1px 3px rgba(0,0,0,.15)}"
    "h1{margin-top:0;color:#0a4a85;font-size:1.6rem}"
    "dt{font-weight:600}dd{margin:0 0 .8rem}"
    "a{color:#0a4a85}"
    "button{font:inherit;padding:.6rem 1.4rem;border:0;border-radius:6px;background:#0a4a85;"
    "color:#fff;cursor:pointer}button:focus-visible{outline:3px solid #f0a500;outline-offset:2px}"
)


class _Handler(BaseHTTPRequestHandler):
    server_version = "FreigabeDemoPortal/1.0"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if self.server.portal.verbose:
            sys.stderr.write("portal: " + (fmt % args) + "\n")

    def _handle(self):
        portal = self.server.portal
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = list(self.headers.items())
        path = self.path
        entry = {
            "time": time.time(),
            "method": self.command,
            "path": path,
            "headers": [[k, v] for k, v in headers],
            "body": body.decode("utf-8", "replace"),
        }
        with portal.lock:
            portal.log.append(entry)
        ident = identity(headers, portal.header_prefix)
        accept = self.headers.get("Accept") or ""
        bare = urllib.parse.urlsplit(path).path
        want_json = (bare.startswith("/portal/api/") or bare.startswith("/open/")
                     or bare in ("/portal/api", "/open") or "text/html" not in accept)
        if want_json:
            doc = dict(entry)
            doc["identity"] = ident
            data = json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")
            ctype = "application/json; charset=utf-8"
        else:
            data = self._page(ident).encode("utf-8")
            ctype = "text/html; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _page(self, ident):
        prefix = self.server.portal.prefix
        if ident is None:
            body = ("<h1>Nicht angemeldet</h1><p>Diese Seite hat keine Identit\u00e4t erhalten.</p>"
                    '<p><a href="/portal/">Zum Portal</a></p>')
        else:
            name = ident.get("name") or ident["user"]
            try:
                at = time.strftime("%d.%m.%Y %H:%M:%S",
                                   time.localtime(int(ident.get("auth_time") or 0)))
            except ValueError:
                at = ident.get("auth_time") or "?"
            body = (
                "<h1>Willkommen, {name}</h1>"
                "<dl><dt>Versicherungsnummer</dt><dd id=\"customer\">{user}</dd>"
                "<dt>Angemeldet seit</dt><dd id=\"auth-time\">{at}</dd></dl>"
                "<p><a href=\"/portal/api/me\">Meine Daten (JSON)</a></p>"
                "<form method=\"post\" action=\"{prefix}/logout\">"
                "<button type=\"submit\">Abmelden</button></form>"
            ).format(name=html.escape(name), user=html.escape(ident["user"]),
                     at=html.escape(at), prefix=html.escape(prefix))
        return ("<!doctype html><html lang=\"de\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                "<title>Kundenportal</title>"
                "<link rel=\"icon\" href=\"" + html.escape(prefix) + "/static/logo.svg\">"
                "<style>" + _STYLE + "</style></head><body><main>" + body
                + "</main></body></html>")

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _handle


class Portal:
    """A running portal; .port, .log (list of request dicts), .stop()."""

    def __init__(self, host="127.0.0.1", port=0, prefix="/freigabe",
                 header_prefix=HEADER_PREFIX, verbose=False):
        self.prefix = prefix
        self.header_prefix = header_prefix
        self.verbose = verbose
        self.log = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer((host, port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.portal = self
        self.host, self.port = self.httpd.server_address[:2]
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self):
        self.httpd.serve_forever()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def requests_matching(self, marker):
        """Every logged request whose path contains marker."""
        with self.lock:
            return [e for e in self.log if marker in e["path"]]


def main(argv=None):
    ap = argparse.ArgumentParser(description="Freigabe demo portal (upstream)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8090)
    ap.add_argument("--prefix", default="/freigabe")
    ap.add_argument("--header-prefix", default=HEADER_PREFIX)
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    p = Portal(a.host, a.port, a.prefix, a.header_prefix, verbose=not a.quiet)
    print("portal: listening on http://%s:%d/portal/" % (p.host, p.port), flush=True)
    try:
        p.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
