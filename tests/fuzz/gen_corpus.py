#!/usr/bin/env python3
"""gen_corpus.py - (re)writes the seed corpora in tests/fuzz/corpus/<target>/.

Each seed follows the input layout documented at the top of the matching fuzz_<target>.c.
Run from anywhere: python3 tests/fuzz/gen_corpus.py
"""
import hashlib
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def write(target, seeds):
    d = os.path.join(CORPUS, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for s in seeds:
        if isinstance(s, str):
            s = s.encode()
        name = hashlib.sha1(s).hexdigest()[:16]
        with open(os.path.join(d, name), "wb") as f:
            f.write(s)


def lines(*fields):
    return "\n".join(fields).encode()


# ---- parse
write("parse", [
    b"\x00" + lines("theme=dark; freigabe=k1.abc; x=\"q\"", "freigabe"),
    b"\x00" + lines(" ;; a = \"\" ;freigabe=;freigabe=2", "a"),
    b"\x01" + lines("a=1; freigabe=x; __Host-freigabe=y;b; freigabe-pre=z", "freigabe",
                    "__Host-freigabe", "freigabe-pre"),
    b"\x01" + lines("freigabe=1", "freigabe"),
    b"\x02" + lines("rd", "rd=%2Fportal%2F&csrf=abc+def&x&rd=2"),
    b"\x02" + lines("customer", "customer=C%31&password=p%ZZ&customer=2"),
    b"\x03/portal/x?a=1&b=%2F",
    b"\x03/%252F%252Fevil.example",
    b"\x03/a%2F%2Fb/%5c",
    b"\x03/x?next=http://evil",
    b"\x03/%25%32%46x",
    b"\x04" + lines("en-US,en;q=0.9,de;q=0.8", "-", "de"),
    b"\x04" + lines("fr, de-CH;q=0.5, en;q=0.50", "xx", "en"),
    b"\x05" + lines("GET", "portal.example", "text/html", "same-origin", "navigate",
                    "http://portal.example", "-", "-"),
    b"\x85" + lines("POST", "portal.example:443", "*/*", "-", "cors", "-",
                    "https://portal.example/login?x", "-"),
    b"\x06X-Freigabe-User",
    b"\x06remote_user",
    b"\x06x_freigabe",
    b"\x07theme=dark; freigabe=k1.x; __Host-freigabe-pre=\"y\"; freigabe-pre; lang=de",
    b"\x07 freigabe = 1 ;freigabe=2",
    b"\x07a=b",
])

# ---- device (vectors from tests/vectors/device-auth.json)
PK = "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"
AUTH = ('Freigabe-Device device="new", ts="1767225600", nonce="ZGVmZ2hpamtsbW5vcHFyc3R1", '
        'sig="DmKLtwBdIuN-68sMbNi46MLndnAyYg8XjRzHzSw2dcgSYnHBG-3HzfRZxuCA7zLVXDgPV0nk-Li29m0jX4E-AA"')
BODY = ('{"activation_code":"K7QX-2M9P-4TLD","public_key":"A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg",'
        '"device_name":"Pixel 8"}')
write("device", [
    b"\x00" + AUTH.encode(),
    b"\x00freigabe-device   sig=\"a\" ,nonce = \"b\",ts=\"1\",  device=\"d\"",
    b"\x00Freigabe-Device device=\"x\", device=\"y\"",
    b"\x01" + lines(AUTH, PK, "POST", "/freigabe/app/enroll", BODY),
    b"\x81" + lines('Freigabe-Device device="d_8f3k2m", ts="1767225660", nonce="yMnKy8zNzs_Q0dLT1NXW1w", sig="x"',
                    PK, "GET", "/freigabe/app/pending?wait=25", ""),
    b"\x02platform=android, os=13, app=2.4.0",
    b"\x02platform=iOS,os=15.1,app=2.4,build=77",
    b"\x02 os = 99 , app=1.0.0-beta+5, platform=ANDROID",
])

# ---- config: [selector][value]\n ; selector = index in fuzz_config.c `names`, 28 = custom
NAMES = ["redis", "key_file", "prefix", "code_mode", "code_length", "challenge_timeout",
         "session_idle", "session_max", "header_prefix", "min_client", "key_prefix",
         "default_path", "lang", "argon2_ops", "argon2_mem", "hash_concurrency", "redis_timeout",
         "issuer", "audience", "metrics_allow", "secure_cookies", "branding_dir",
         "login_max_fail", "login_ip_max_fail", "fail_window", "challenge_max",
         "notme_cooldown", "poll_interval"]


def d(name, value, child=False):
    sel = NAMES.index(name) if name in NAMES else 28
    if child:
        sel |= 0x80
    if sel & 0x7f == 28:
        value = name + "=" + value
    return bytes([sel]) + value.encode() + b"\n"


write("config", [
    d("redis", "redis://user:p%40ss@[::1]:6380/3") + d("redis", "unix:///run/redis.sock?db=2", True),
    d("redis", "redis://127.0.0.1") + d("redis", "rediss://x") + d("redis", "redis://h:0/16"),
    d("prefix", "/freigabe/") + d("prefix", "/a/./b", True) + d("prefix", "/a..b/c"),
    d("code_mode", "enter") + d("code_length", "8") + d("challenge_timeout", "2m"),
    d("session_idle", "1h") + d("session_max", "60s", True) + d("poll_interval", "1"),
    d("session_idle", "900000000000000h") + d("fail_window", "1d"),
    d("header_prefix", "Remote-") + d("header_prefix", "X-Bad Name-", True),
    d("min_client", "android=11 ios=15 app=2.4.0") + d("min_client", "app=1,ios=1,ios=2", True),
    d("key_prefix", "fz:") + d("default_path", "/portal/") + d("lang", "en"),
    d("argon2_ops", "3") + d("argon2_mem", "64M") + d("argon2_mem", "8k", True),
    d("hash_concurrency", "256") + d("redis_timeout", "500ms") + d("redis_timeout", "61s"),
    d("issuer", "https://id.example") + d("audience", "portal", True),
    d("metrics_allow", "127.0.0.1, ::1 10.0.0.1") + d("metrics_allow", "::ffff:1.2.3.4", True),
    d("secure_cookies", "auto") + d("branding_dir", "/nonexistent") + d("key_file", "/x"),
    d("login_max_fail", "5") + d("login_ip_max_fail", "100000") + d("challenge_max", "1000"),
    d("notme_cooldown", "0") + d("unknown_thing", "1") + d("session_idle", "120", True),
])

# ---- keyfile
K1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
K0 = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8"
write("keyfile", [
    "# freigabe key file v1\nkey k1 %s\n" % K1,
    "# freigabe key file v1\r\nkey k1 %s\r\n\r\nkey old-key_2 %s\n# end\n" % (K1, K0),
    "key k1 %s\nkey k1 %s\n" % (K1, K0),
    "key a %s extra\n" % K1,
    "\tkey\tk\t%s" % K1,
    "# only a comment\n",
])

# ---- token
write("token", [
    b"\x00session\nk1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    b"\x00-\nk0.",
    b"\x01session\nv1\nC1\ntok\n1767225000",
    b"\x01-\n",
    b"\x02$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
    b"\x02$argon2i$v=19$m=4096,t=3,p=1$c2FsdA$aGFzaA",
    b"\x03" + lines("freigabe", "portal", "C1", "J\xc3\xbcrgen".encode().decode("latin1"), "sid") + b"\n" + b"\x00" * 13,
    b"\x03" + lines("-", "-", "C1", "\xff", "-") + b"\n" + b"\x7f\xff\xff\xff" * 3 + b"\x05",
])

# ---- util
write("util", [
    b"\x00AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
    b"\x00Zm9v",
    b"\x00Zm9vYg",
    b"\x01" + struct.pack(">q", -100) + struct.pack(">q", 100) + b"-042",
    b"\x01" + struct.pack(">q", -2**63) + struct.pack(">q", 2**63 - 1) + b"-9223372036854775808",
    b"\x02J\xc3\xbcrgen <b>&\"'~._-",
    b"\x03Hello\nhELLO\n\x05",
    b"\x03abc\nab\n\x09",
    b"\x04\x40J\xc3\xbcrgen M\xc3\xbc\xc3\x9fig \xf0\x9f\x98\x80",
    b"\x04\x10Pixel\xc2\x9b8",
    b"\x04\x10a\xed\xa0\x80\xe0\x80\xaf",
])

# ---- page: sel, 4 x int32, fields
def page(sel, ints, *fields):
    return bytes([sel]) + b"".join(struct.pack(">i", i) for i in ints) + lines(*fields)


X = "<x-fz>\"'&"
write("page", [
    page(0, [0, 0, 0, 0], "-", "/freigabe", "csrf" + X, "/portal/" + X, "C1" + X, "login_failed",
         "-", "-", "-", "-", "-", "-"),
    page(0x81, [0, 0, 0, 0], "en", "/p" + X, "c", "-", "-", "-", "-", "-", "-", "-", "-", "-"),
    page(2, [90, 2, 120, 3], "de", "/freigabe", "c", "-", "-", "-", "1234567", "authorization_pending",
         "-", "-", "-", "-"),
    page(0x82, [-5, -1, 2**31 - 1, 2**31 - 1], "-", "-", "-", "-", "-", "superseded", "12" + X,
         "x" + X, "-", "-", "-", "-"),
    page(3, [0, 0, 0, 0], "-", "-", "-", "/after" + X, "-", "-", "-", "-", "-", "-", "-", "-"),
    page(4, [0, 0, 0, 0], "-", "-", "-", "-", "-", "-", "-", "-", "error_title", "csrf",
         "/freigabe/login" + X, "to_login"),
    page(0x84, [0, 0, 0, 0], "en", "-", "-", "-", "-", "-", "-", "-", "t" + X, "m" + X,
         "//evil", "l" + X),
])

# ---- branding: [which][len16][content]; which: 0 texts-de 1 texts-en 2 brand.css 3 logo.svg
# 4 logo.png 5 README.md 6 .hidden 7 Logo.SVG
def bfile(which, content):
    if isinstance(content, str):
        content = content.encode()
    return bytes([which]) + struct.pack(">H", len(content)) + content


write("branding", [
    bfile(0, b"\xef\xbb\xbf" + "# Texte\nbrand_name = Musterversicherung\nfooter_text =\n"
             "login_intro = Bitte <anmelden> & \"los\"\n".encode()),
    bfile(1, "brand_name = Example\r\nlink_back=Back\n\n") + bfile(2, ":root { --fg-primary: #036; }\n"),
    bfile(2, "a { background: url( \"data:image/png;base64,AAAA\" ) }\n@import 'x';"),
    bfile(3, '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect onload ="x"/></svg>'),
    bfile(3, '<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0"/></svg>') + bfile(5, "hi"),
    bfile(4, b"\x89PNG\r\n\x1a\n" + b"\x00" * 16),
    bfile(0, "unknown_key = x\n"),
    bfile(7, "x") + bfile(6, "y"),
])

# ---- hiredis: RESP
write("hiredis", [
    b"*4\r\n$2\r\nok\r\n$7\r\nJ\xc3\xbcrgen\r\n:1767225100\r\n$3\r\n900\r\n",
    b"+PONG\r\n",
    b"-NOSCRIPT No matching script.\r\n+PONG\r\n",
    b"*4\r\n$12\r\nlogin_failed\r\n$1\r\n3\r\n$11\r\npassword_ok\r\n:7\r\n",
    b"$-1\r\n*-1\r\n*0\r\n$0\r\n\r\n",
    b"*2\r\n*1\r\n$3\r\na\x00b\r\n$1\r\n\n\r\n",
])

# ---- action
W = {w: i for i, w in enumerate([
    "ok", "replay", "nochal", "nopre", "pending", "approved", "denied", "superseded",
    "cooldown", "limit", "disabled", "nodevice", "state", "badcode", "final", "compare",
    "enter", "1", "0", "C1", "PONG", "NOSCRIPT No matching script", "none", "expired",
    "login_failed", "900", "1767225100", "-5", "9223372036854775807", "/portal/next?x=1",
    "//evil.example", "J\xc3\xbcrgen", "\xff\xfe", "a\nb", "2147483647"])}
ROUTES = ["", "/", "/login", "/login", "/approve", "/approve", "/wait", "/status", "/finish",
          "/logout", "/whoami", "/jwks.json", "/health", "/metrics", "/static/freigabe.js",
          "/static/freigabe.css", "/static/brand.css", "/static/logo.svg", "/static/logo.png",
          "/app/enroll", "/app/pending", "/app/respond", "/login PUT"]
PROTECT, RAWPATH = len(ROUTES), len(ROUTES) + 1


def nil():
    return b"\x00"


def integer(v):
    return b"\x01" + struct.pack(">q", v)


def s(v):
    v = v.encode() if isinstance(v, str) else v
    return b"\x02" + bytes([len(v)]) + v


def status(v):
    v = v.encode()
    return b"\x03" + bytes([len(v)]) + v


def arr(*elems):
    return b"\x05" + bytes([len(elems)]) + b"".join(elems)


def word(w):
    return b"\x07" + bytes([W[w]])


def devpk():
    return b"\x08\x00"


def pwhash():
    return b"\x08\x01"


def sealed_code(digits):
    return b"\x08\x02" + bytes([len(digits)]) + digits.encode()


def num(v):
    return b"\x09" + struct.pack(">i", v)


def batch(*replies):
    return b"\x00" + b"".join(replies)


def act(route, flags, flags2, query="-", cookie="-", al="-", origin="-", referer="-",
        ua="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", authz="-", client="-", pre="-",
        sess="-", cache="-", body="-", stream=b""):
    return bytes([route, flags, flags2]) + lines(query, cookie, al, origin, referer, ua, authz,
                                                 client, pre, sess, cache, body) + b"\n" + stream


HTTPS, CFG2, CACHE, PRE, SESS, CSRF, SIGN, ORIGIN = 1, 2, 4, 8, 16, 32, 64, 128
HEAD, JSON, XRW, XSITE, NOCLIENT = 1, 2, 4, 8, 16
P = "P|csrf1|C1|tok1"
hmget_user = arr(s("Erika"), pwhash(), word("0"))
def pwhash_old():
    return b"\x08\x04"


write("action", [
    act(3, PRE | CSRF | ORIGIN, 0, pre="L|csrfTOKEN|/portal/", body="customer=C1&password=pw",
        stream=batch(arr(s("Erika"), pwhash_old(), word("0")), integer(1), integer(1), integer(1)) +
        b"\x00" + b"\x00" + batch(integer(1), integer(0), integer(1), integer(1), integer(1),
                                    integer(1))),
    act(PROTECT, SESS, 0, cookie="theme=dark", sess="v1|C1|TOKEN|1767225000",
        stream=batch(arr(word("ok"), s("J\xc3\xbcrgen M"), word("1767225100"), word("900")))),
    act(PROTECT, SESS | CACHE, 0, sess="v1|C1|TOKEN|1767225000", cache="1767225100|Erika",
        stream=batch(arr(word("ok"), s("Erika"), word("1767225100"), word("900")))),
    act(PROTECT, SESS | CFG2 | HTTPS, JSON, sess="v1|C1|TOKEN|1",
        stream=batch(arr(word("none")))),
    act(PROTECT, 0, 0, query="a=1&b=<x>", stream=batch(status("PONG"))),
    act(2, 0, 0, query="rd=%2Fportal%2F&lang=en"),
    act(3, PRE | CSRF | ORIGIN, 0, pre="L|csrfTOKEN|/portal/",
        body="customer=C1&password=pw&rd=%2Fportal%2F",
        stream=batch(hmget_user, integer(1), integer(1), integer(1)) + b"\x00" +
        batch(integer(1), integer(0), integer(1), integer(1), integer(1))),
    act(3, PRE | CSRF | ORIGIN, 0, pre="L|csrfTOKEN|/portal/", body="customer=C1&password=bad",
        stream=batch(hmget_user, integer(1), integer(2), integer(2)) + b"\x00" +
        batch(s("1-0"), integer(1))),
    act(4, PRE, 0, pre=P, stream=batch(integer(1))),
    act(5, PRE | CSRF | ORIGIN, 0, pre=P, stream=batch(arr(word("ok"), word("1")))),
    act(5, PRE | CSRF | ORIGIN, JSON, pre=P, stream=batch(arr(word("cooldown"), s("30")))),
    act(6, PRE, 0, pre=P, query="lang=en",
        stream=batch(arr(word("pending"), num(90), sealed_code("123456"), num(2)))),
    act(7, PRE, JSON, pre=P,
        stream=batch(arr(word("superseded"), num(0), sealed_code("1234"), num(2), word("1")))),
    act(8, PRE | CSRF | ORIGIN, 0, pre=P,
        stream=batch(arr(word("ok"), s("x"), word("/portal/next?x=1")))),
    act(9, SESS | ORIGIN | CACHE, 0, sess="v1|C1|TOKEN|1767225000", body="rd=%2Fportal%2F",
        stream=batch(status("OK"))),
    act(10, SESS, JSON, sess="v1|C1|TOKEN|1767225000",
        stream=batch(arr(word("ok"), s("Erika"), word("1767225100"), word("900")))),
    act(11, 0, 0),
    act(12, 0, JSON, stream=batch(status("PONG"))),
    act(13, 0, 0, stream=batch(arr(s("login_failed"), s("3"), s("password_ok"), integer(7)))),
    act(14, 0, 0), act(15, CFG2, 0), act(17, 0, 0), act(18, 0, 0),
    act(19, SIGN, JSON, authz="new",
        body='{"activation_code":"K7QX-2M9P-4TLD","public_key":"@PK@","device_name":"Pixel 8"}',
        stream=batch(arr(word("ok"), word("C1"))) +
        batch(integer(1), integer(1), s("Erika"), s("1-0"))),
    act(20, SIGN, JSON, authz="d_abc", query="wait=5",
        stream=batch(arr(word("C1"), devpk())) + batch(arr(word("none"))) +
        b"\x00" + batch(arr(word("ok"), s("id1"), word("compare"), sealed_code("123456"), num(90),
                            s("192.0.2.7"), s("Firefox on Linux"), s("2026-01-01T00:00:00Z")))),
    act(21, SIGN, JSON, authz="d_abc", body='{"id":"abc","decision":"approve","code":"123456"}',
        stream=batch(arr(word("C1"), devpk())) + batch(arr(word("ok"), word("approved")))),
    act(21, SIGN | CFG2, JSON, authz="d_abc", client="platform=ios, os=15, app=2.3.9",
        body='{"id":"abc","decision":"deny","reason":"not_me"}'),
    act(RAWPATH, 0, 0, query="/freigabe/../freigabe/login"),
    act(22, 0, 0),
])
print("seeds written to", CORPUS)
