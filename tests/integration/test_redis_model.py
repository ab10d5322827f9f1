"""test_redis_model.py - every key the product writes is documented in docs/redis.md, with the TTL the document gives.

A private Redis sees the whole life of a customer: enrollment, wrong passwords, a denied
("not me") request, an approved login, a logout. Afterwards each key in Redis must match
a row of the table in docs/redis.md, and carry a TTL exactly when that row says so: keys
that should expire but do not are how a login service fills its Redis over the months.
"""
import re
from pathlib import Path

import fgtest
from fgtest import Browser, app_approve, upstream_json

DOC = Path(__file__).resolve().parents[2] / "docs" / "redis.md"
PREFIX = "freigabe:"


def documented_keys():
    """[(regex, row text, has_ttl)] from the key table of docs/redis.md."""
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`P"):
            continue
        pattern = cells[0].strip("`")
        rx = re.escape(pattern[1:])
        rx = rx.replace(re.escape("{C}"), r"\{[^}]+\}")
        rx = re.sub(r"<[^>]+>", "[^:]+", rx.replace(r"\<", "<").replace(r"\>", ">"))
        rows.append((re.compile("^" + re.escape(PREFIX) + rx + "$"), pattern,
                     cells[3].lower() != "none"))
    return rows


def test_document_has_a_key_table():
    rows = documented_keys()
    assert len(rows) >= 15, [r[1] for r in rows]
    assert any(p == "P{C}:sess:<hash>" for _, p, _ in rows)


def test_every_key_is_documented_with_its_ttl(kind, key_file, upstream):
    r = fgtest.Redis().start()
    srv = fgtest.Server(kind, "main", r, key_file, upstream.port)
    try:
        srv.start()
        _whole_life(srv)
        _check_keys(r.client())
    finally:
        srv.stop()
        r.stop()


def _whole_life(srv):
    cust = fgtest.create_customer(srv, app="nacl")
    # an approved login, a protected request, a logout
    b = Browser(srv)
    upstream_json(b.login_fully(cust))
    assert b.logout().status_code == 200
    # a second session stays alive; an activation code stays unused
    b2 = Browser(srv)
    upstream_json(b2.login_fully(cust))
    fgtest.Ctl(srv.redis.url).device_activate(cust.number)
    # a request refused as "not me" (cool-down), then a wrong password (failure counters)
    b3 = Browser(srv)
    b3.start(cust)
    assert cust.app.deny_pending(not_me=True).status_code == 200
    b4 = Browser(srv)
    b4.open_login()
    assert b4.login(cust.number, "falsch").status_code == 401
    # another customer's request that nobody answers
    other = fgtest.create_customer(srv, app="nacl")
    Browser(srv).start(other)


def _check_keys(client):
    rows = documented_keys()
    undocumented, wrong_ttl, seen = [], [], set()
    for key in client.scan_iter(count=1000):
        k = key.decode("utf-8", "replace")
        match = [(p, has_ttl) for rx, p, has_ttl in rows if rx.match(k)]
        if not match:
            undocumented.append(k)
            continue
        pattern, has_ttl = match[0]
        seen.add(pattern)
        ttl = client.ttl(key)
        if has_ttl != (ttl > 0):
            wrong_ttl.append("%s (%s): TTL %d, docs/redis.md says %s" % (
                k, pattern, ttl, "one" if has_ttl else "none"))
    assert not undocumented, "keys missing from docs/redis.md: %s" % undocumented
    assert not wrong_ttl, "\n".join(wrong_ttl)
    # the life above touched the important kinds of key (the test would pass vacuously
    # if the patterns matched nothing)
    for p in ("P{C}:user", "P{C}:sess:<hash>", "P{C}:pre:<hash>", "P{C}:ch:<challenge_id>",
              "P{C}:fail", "Pipfail:<ip>", "P{C}:chcount", "Pact:<sha256hex(code)>",
              "P{C}:nonce:<device>:<nonce>", "P{C}:pending", "Pdevice:<device_id>",
              "P{C}:cooldown", "P{C}:sessions", "Paudit", "Pmetrics"):
        assert p in seen, "no %s key seen; seen: %s" % (p, sorted(seen))
