#!/usr/bin/python3
"""stack.py - the servers for the browser tests: Redis, the demo portal, Apache and nginx with the module.

Started by the node tests (lib.js). Prints one JSON line describing the servers, then reads
one JSON command per line from stdin and answers each with one JSON line on stdout:

  {"cmd": "customer", "server": "apache-main", "name": "Erika Müller"[, "number": "..."]}
      -> {"ok": true, "number", "password", "id"}   (customer with an enrolled freigabe-app)
  {"cmd": "approve", "id": ID, "code": "482913"}    -> {"ok": true|false, "out"}
  {"cmd": "deny", "id": ID[, "not_me": true]}       -> {"ok": true|false, "out"}

Everything stops when stdin closes or on SIGTERM. Servers per kind (FG_BROWSER_KINDS, default
"apache,nginx"), each kind with its own Redis so the failure counters of one do not throttle
the other: "main" (defaults), "short" (10 s approvals), "brand" (a branding directory with
logo, colours and texts) and "down" (Redis unreachable: every page answers 503).
"""
import json
import os
import signal
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO / "demo"))

import fgtest  # noqa: E402
from portal import Portal  # noqa: E402

# fgtest's Apache kind spells the options the integration tests use; add ours here.
fgtest.ApacheKind.DIRECTIVES.setdefault("branding_dir", "FreigabeBrandingDir")

BRAND_SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 230 40" width="230" height="40">
<rect x="0" y="4" width="32" height="32" rx="7" fill="#0f5c4c"/>
<path d="M9 21l5 5 10-11" fill="none" stroke="#fff" stroke-width="3.5" stroke-linecap="round" stroke-linejoin="round"/>
<text x="42" y="27" font-family="Arial, sans-serif" font-size="19" font-weight="700" fill="#0f2f28">Muster Versicherung</text>
</svg>
"""
BRAND_CSS = """/* brand.css - test brand: green instead of blue. */
:root {
  --fg-primary: #0f5c4c;
  --fg-primary-hover: #0a4237;
  --fg-info-line: #0f5c4c;
  --fg-info-bg: #e8f4f1;
  --fg-info-fg: #0a3a30;
}
"""
BRAND_TEXTS_DE = """# texts-de.txt - test brand texts
brand_name = Muster <Versicherung> & Co
button_login = Jetzt anmelden
footer_text = Fragen? Kundenservice 0800 123 456 (kostenlos)
"""
BRAND_TEXTS_EN = """button_login = Sign in now
"""


class _Unreachable:
    """Stands in for a Redis nobody listens on."""

    def __init__(self):
        self.port = fgtest.free_port()
        self.url = "redis://127.0.0.1:%d/0" % self.port


def make_branding():
    d = fgtest.make_tempdir("branding")
    (d / "logo.svg").write_text(BRAND_SVG, encoding="utf-8")
    (d / "brand.css").write_text(BRAND_CSS, encoding="utf-8")
    (d / "texts-de.txt").write_text(BRAND_TEXTS_DE, encoding="utf-8")
    (d / "texts-en.txt").write_text(BRAND_TEXTS_EN, encoding="utf-8")
    for f in d.iterdir():
        os.chmod(f, 0o644)
    return d


class Stack:
    def __init__(self, kinds):
        self.kinds = kinds
        self.redis = {}
        self.servers = {}
        self.customers = {}
        self.portal = None

    def start(self):
        fgtest.require_built()
        self.portal = Portal(port=fgtest.free_port()).start()
        key = fgtest.keygen(fgtest.make_tempdir("keys") / "freigabe.key")
        brand = make_branding()
        variants = {
            "main": {},
            "short": {"challenge_timeout": "10"},
            "brand": {"branding_dir": str(brand)},
        }
        for kind in self.kinds:
            r = fgtest.Redis().start()
            self.redis[kind] = r
            for variant, opts in variants.items():
                s = fgtest.Server(kind, variant, r, key, self.portal.port, options=opts)
                self.servers["%s-%s" % (kind, variant)] = s.start()
            down = fgtest.Server(kind, "down", _Unreachable(), key, self.portal.port)
            self.servers["%s-down" % kind] = down.start()
        return self

    def describe(self):
        return {
            "ready": True,
            "prefix": fgtest.PREFIX,
            "kinds": self.kinds,
            "servers": {name: {"url": s.url, "kind": s.kind, "variant": s.variant,
                               "dir": str(s.dir)}
                        for name, s in self.servers.items()},
        }

    def stop(self):
        for s in list(self.servers.values()):
            try:
                s.stop()
            except Exception as e:  # keep stopping the rest
                print("stack.py: stopping %r: %s" % (s, e), file=sys.stderr)
        for r in self.redis.values():
            r.stop()
        if self.portal is not None:
            self.portal.stop()
        fgtest.cleanup_tempdirs()

    # --- commands
    def cmd_customer(self, c):
        server = self.servers[c["server"]]
        cust = fgtest.create_customer(server, name=c.get("name", "Erika Müller"),
                                      number=c.get("number"))
        cid = str(len(self.customers) + 1)
        self.customers[cid] = cust
        return {"ok": True, "id": cid, "number": cust.number, "password": cust.password}

    def cmd_approve(self, c):
        p = self.customers[c["id"]].app.approve(code=c.get("code"))
        return {"ok": p.returncode == 0, "out": (p.stdout + p.stderr)[-500:]}

    def cmd_deny(self, c):
        p = self.customers[c["id"]].app.deny(not_me=bool(c.get("not_me")))
        return {"ok": p.returncode == 0, "out": (p.stdout + p.stderr)[-500:]}

    def handle(self, line):
        try:
            c = json.loads(line)
            fn = getattr(self, "cmd_" + c.get("cmd", ""), None)
            if fn is None:
                return {"ok": False, "error": "unknown command"}
            return fn(c)
        except Exception as e:
            return {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}


def main():
    kinds = [k.strip() for k in os.environ.get("FG_BROWSER_KINDS", "apache,nginx").split(",")
             if k.strip() in fgtest.KINDS]
    stack = Stack(kinds)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        stack.start()
        print(json.dumps(stack.describe()), flush=True)
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(stack.handle(line)), flush=True)
    except Exception as e:
        print(json.dumps({"ready": False, "error": "%s: %s" % (type(e).__name__, e)}), flush=True)
        raise
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
