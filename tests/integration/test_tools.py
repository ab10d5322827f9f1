"""test_tools.py - freigabectl and freigabe-app: names, terminal output, the PIN counter, challenge ids, exit codes.

freigabectl runs against a Redis of this module's own (its tests break key types and
the audit stream on purpose); freigabe-app runs against the shared Apache test server.
"""
import json
import os
import re
import subprocess
import time

import pytest

import fgtest
from fgtest import FREIGABE_APP, FREIGABECTL, Browser, app_approve


@pytest.fixture(scope="module")
def own_redis():
    r = fgtest.Redis().start()
    yield r
    r.stop()


def ctl(redis_url, *args, stdin=b""):
    """freigabectl with byte-exact arguments and output (names may be any bytes)."""
    argv = [os.fsencode(str(FREIGABECTL)), b"--redis", redis_url.encode()] + [
        a if isinstance(a, bytes) else str(a).encode() for a in args]
    return subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=fgtest.TOOL_TIMEOUT)


def add_user(redis_url, number, name):
    return ctl(redis_url, "user", "add", number, "--name", name, "--password-stdin",
               "--argon2-ops", "1", "--argon2-mem", "8M", stdin=b"pw-geheim-123\n")


# ---- freigabectl: names are valid UTF-8 without control characters

BAD_NAMES = [
    b"\xed\xa0\x80",              # a UTF-16 surrogate (U+D800)
    b"Erika \xed\xbf\xbf",        # another one (U+DFFF)
    b"\xe0\x80\xaf",              # overlong '/' (three bytes)
    b"\xf0\x80\x80\xaf",          # overlong '/' (four bytes)
    b"\xf4\x90\x80\x80",          # U+110000, beyond Unicode
    b"\xf5\x80\x80\x80",          # no such lead byte
    b"Erika\xc2\x9b31m",          # C1 control CSI (terminal escape)
    b"Erika\x1b[2J",              # ESC
]


@pytest.mark.parametrize("name", BAD_NAMES, ids=lambda n: n.hex())
def test_user_add_refuses_invalid_names(own_redis, name):
    number = fgtest.new_customer_number()
    p = add_user(own_redis.url, number, name)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert ctl(own_redis.url, "user", "show", number).returncode == 2, "created anyway"


@pytest.mark.parametrize("name", ["Jürgen Müßig", "Łukasz Żółć", "李小龙", "Zoë 😀"])
def test_user_add_accepts_unicode_names(own_redis, name):
    number = fgtest.new_customer_number()
    p = add_user(own_redis.url, number, name.encode())
    assert p.returncode == 0, p.stderr
    show = ctl(own_redis.url, "user", "show", number)
    assert ("name:      %s\n" % name).encode() in show.stdout, show.stdout


# ---- freigabectl: names from Redis reach the terminal only when harmless

EVIL = b"\x1b]0;pwned\x07 \xc2\x9b2J\x1b[31m\xff\x7f!"


def _terminal_safe(out):
    """Problems in bytes meant for a terminal: controls other than tab/newline, C1, bad UTF-8."""
    problems = []
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError as e:
        return ["invalid UTF-8: %s" % e]
    for ch in text:
        if (ord(ch) < 0x20 and ch not in "\t\n") or 0x7f <= ord(ch) <= 0x9f:
            problems.append(repr(ch))
    return problems


def test_listings_escape_names_from_redis(own_redis):
    number = fgtest.new_customer_number()
    assert add_user(own_redis.url, number, b"Erika").returncode == 0
    rc = own_redis.client()
    # as if written by an older version or straight into Redis
    rc.hset("freigabe:{%s}:user" % number, "name", b"Erika" + EVIL)
    for dev, name in (("devevil0123456789", b"Phone" + EVIL),
                      ("devgood0123456789", "Jürgens Telefon 📱".encode())):
        rc.hset("freigabe:device:" + dev, mapping={"customer": number, "created": "1700000000",
                                                   "name": name})
        rc.sadd("freigabe:{%s}:devices" % number, dev)
    rc.xadd("freigabe:audit", {"event": "test", "customer": number, "ip": "-",
                               "detail": b"x" + EVIL})
    outputs = {}
    for args in (("device", "list", number), ("user", "show", number), ("user", "list"),
                 ("audit", "tail", "-n", "5")):
        p = ctl(own_redis.url, *args)
        assert p.returncode == 0, (args, p.stderr)
        outputs[" ".join(args[:2])] = p.stdout
        assert _terminal_safe(p.stdout) == [], (args, p.stdout)
    assert "Jürgens Telefon 📱".encode() in outputs["device list"], outputs["device list"]
    assert b"devevil0123456789" in outputs["device list"]
    assert b"Erika" in outputs["user show"] and b"Erika" in outputs["user list"]


# ---- freigabectl: exit codes - 3 only when Redis cannot be reached


def test_exit_code_unreachable_redis():
    p = ctl("redis://127.0.0.1:%d/0" % fgtest.free_port(), "user", "list")
    assert p.returncode == 3, (p.returncode, p.stderr)


def test_exit_code_error_reply_is_not_unreachable(own_redis):
    rc = own_redis.client()
    prefix = "broken%d:" % time.time_ns()
    rc.set(prefix + "users", "not a set")
    p = ctl(own_redis.url, "--key-prefix", prefix, "user", "list")
    assert p.returncode == 4, (p.returncode, p.stderr)
    assert b"WRONGTYPE" in p.stderr, p.stderr
    # help and README name it
    h = subprocess.run([str(FREIGABECTL), "--help"], stdout=subprocess.PIPE, timeout=10)
    assert re.search(rb"4 Redis refused", h.stdout), h.stdout


def test_exit_code_read_only_replica(own_redis):
    rep = fgtest.Redis().start()
    try:
        rep.client().replicaof("127.0.0.1", own_redis.port)
        p = add_user(rep.url, fgtest.new_customer_number(), b"Erika")
        assert p.returncode == 4, (p.returncode, p.stderr)
        assert b"READONLY" in p.stderr, p.stderr
    finally:
        rep.stop()


def test_failed_audit_after_the_action_is_a_warning(own_redis):
    rc = own_redis.client()
    prefix = "noaudit%d:" % time.time_ns()
    rc.set(prefix + "audit", "not a stream")   # every XADD now fails with WRONGTYPE
    number = fgtest.new_customer_number()
    p = ctl(own_redis.url, "--key-prefix", prefix, "user", "add", number, "--name", "Erika",
            "--password-stdin", "--argon2-ops", "1", "--argon2-mem", "8M",
            stdin=b"pw-geheim-123\n")
    assert p.returncode == 0, (p.returncode, p.stderr)
    assert b"warning" in p.stderr and b"audit" in p.stderr, p.stderr
    assert rc.hget(prefix + "{%s}:user" % number, "name") == b"Erika"
    p = ctl(own_redis.url, "--key-prefix", prefix, "user", "disable", number)
    assert p.returncode == 0, (p.returncode, p.stderr)
    assert rc.hget(prefix + "{%s}:user" % number, "disabled") == b"1"
    p = ctl(own_redis.url, "--key-prefix", prefix, "device", "activate", number)
    assert p.returncode == 0, (p.returncode, p.stderr)
    assert re.match(rb"^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}\n", p.stdout), p.stdout


# ---- freigabe-app: device names


def test_enroll_refuses_bad_device_name(pool):
    srv = pool.get("apache", "main")
    cust = fgtest.create_customer(srv, app=None)
    code = fgtest.Ctl(srv.redis.url).device_activate(cust.number)
    app = fgtest.AppCli(srv.app_url)
    p = app.run("enroll", "--code", code, "--device-name", "Phone\x1b]0;x\x07", pin=app.pin)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    p = app.run("enroll", "--code", code, "--device-name", "Jürgens Telefon", pin=app.pin)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)


# ---- freigabe-app: the wrong-PIN counter


def _state(app):
    return json.loads((app.state / "state.json").read_text())


def _reseal_slow(app, ops):
    """Seals the app's key again with a slower Argon2id (same PIN), so that a test can
    watch the state file while one PIN attempt is being checked."""
    import nacl.bindings as nb
    import nacl.pwhash
    st = _state(app)
    k = st["key"]
    ad = ("freigabe-app-key-v1:" + st["public_key"]).encode()
    key = nacl.pwhash.argon2id.kdf(32, app.pin.encode(), fgtest.b64u_decode(k["salt"]),
                                   opslimit=k["ops"], memlimit=k["mem"])
    sk = nb.crypto_aead_xchacha20poly1305_ietf_decrypt(
        fgtest.b64u_decode(k["ct"]), ad, fgtest.b64u_decode(k["nonce"]), key)
    salt, nonce = os.urandom(16), os.urandom(24)
    key = nacl.pwhash.argon2id.kdf(32, app.pin.encode(), salt, opslimit=ops, memlimit=k["mem"])
    k.update(ops=ops, salt=fgtest.b64u(salt), nonce=fgtest.b64u(nonce),
             ct=fgtest.b64u(nb.crypto_aead_xchacha20poly1305_ietf_encrypt(sk, ad, nonce, key)))
    (app.state / "state.json").write_text(json.dumps(st, indent=2))


@pytest.fixture
def enrolled_app(pool):
    srv = pool.get("apache", "main")
    cust = fgtest.create_customer(srv, app="cli")
    return srv, cust


def test_pin_attempt_counted_before_the_kdf(enrolled_app):
    srv, cust = enrolled_app
    app = cust.app
    _reseal_slow(app, 12)
    argv = [str(FREIGABE_APP), "--server", app.server_url, "--state", str(app.state),
            "pending", "--pin-stdin"]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdin.write((app.pin + "\n").encode())
    proc.stdin.close()
    seen = False
    deadline = time.time() + 30
    while time.time() < deadline and proc.poll() is None:
        try:
            seen = _state(app).get("wrong_pins") == 1
        except ValueError:
            seen = False   # caught between write and rename: try again
        if seen:
            proc.kill()   # the attempt is on its way and already counted
            break
        time.sleep(0.005)
    proc.wait(10)
    out, err = proc.stdout.read(), proc.stderr.read()
    assert seen, "the right PIN was tried without counting the attempt first: rc %s %r" % (
        proc.returncode, err)
    assert _state(app)["wrong_pins"] == 1, "an interrupted attempt did not count"
    # the right PIN then resets the counter
    p = app.pending()
    assert p.returncode == 0, p.stderr
    assert _state(app)["wrong_pins"] == 0


def test_read_only_state_gives_no_pin_tries(enrolled_app):
    srv, cust = enrolled_app
    app = cust.app
    state = app.state
    nobody = 65534
    for path in (state, state / "state.json"):
        os.chown(path, nobody, nobody)
    os.chmod(state, 0o500)   # nobody can read its state but not write it
    try:
        argv = ["setpriv", "--reuid=%d" % nobody, "--regid=%d" % nobody, "--clear-groups",
                str(FREIGABE_APP), "--server", app.server_url, "--state", str(state),
                "pending", "--pin-stdin"]
        codes = []
        for pin in ["000000"] * 11 + [app.pin]:
            p = subprocess.run(argv, input=(pin + "\n").encode(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=fgtest.TOOL_TIMEOUT)
            codes.append(p.returncode)
        assert codes[-1] != 0, "12th PIN guess accepted with a read-only state: %r" % codes
        assert set(codes) == {5}, (codes, p.stderr)
        assert b"not trying the PIN" in p.stderr, p.stderr
    finally:
        os.chmod(state, 0o700)
    assert _state(app).get("wrong_pins", 0) == 0 and not _state(app).get("wiped")
    assert app.pending().returncode == 0, "the key suffered from refused attempts"


def test_ten_wrong_pins_wipe_the_key(enrolled_app):
    srv, cust = enrolled_app
    app = cust.app
    for _ in range(9):
        assert app.run("pending", pin="000000").returncode == 5
    assert _state(app)["wrong_pins"] == 9
    assert app.pending().returncode == 0, "the right PIN after 9 wrong ones"
    assert _state(app)["wrong_pins"] == 0
    for _ in range(10):
        p = app.run("pending", pin="000000")
        assert p.returncode == 5
    assert "wiped" in p.stderr, p.stderr
    st = _state(app)
    assert st.get("wiped") is True and st.get("key") is None
    assert app.pending().returncode == 5


def test_help_explains_what_the_pin_counter_protects():
    h = subprocess.run([str(FREIGABE_APP), "--help"], stdout=subprocess.PIPE, timeout=10)
    text = h.stdout.decode()
    assert "offline" in text and "10 wrong PINs" in text, text


# ---- freigabe-app: challenge ids are never shown to people


def _challenge_id_of(srv, browser, customer):
    """Starts a login and returns its challenge id, read from the push notice."""
    ps = srv.redis.client().pubsub()
    ps.subscribe("freigabe:push")
    ps.get_message(timeout=2)   # the subscribe confirmation
    browser.start(customer)
    deadline = time.time() + 10
    while time.time() < deadline:
        m = ps.get_message(timeout=1)
        if m and m["type"] == "message":
            doc = json.loads(m["data"])
            if doc.get("customer") == customer.number:
                ps.close()
                return doc["challenge"]
    raise AssertionError("no push notice for the challenge")


def test_app_never_prints_challenge_ids(enrolled_app):
    srv, cust = enrolled_app
    b = Browser(srv)
    cid = _challenge_id_of(srv, b, cust)
    assert len(cid) >= 22
    code = fgtest.page_code(b.wait_page().text)
    p = cust.app.pending()
    assert p.returncode == 0, p.stderr
    assert cid not in p.stdout + p.stderr, p.stdout
    grouped = "%s %s" % (code[:3], code[3:])
    assert grouped in p.stdout and "127.0.0.1" in p.stdout, p.stdout
    assert re.search(r"expires in:? +\d+ s", p.stdout), p.stdout
    # machines may ask for the ids
    j = cust.app.run("pending", "--json", pin=cust.app.pin)
    assert j.returncode == 0 and cid in j.stdout, (j.returncode, j.stdout, j.stderr)
    a = cust.app.approve()
    assert a.returncode == 0, a.stderr
    assert cid not in a.stdout + a.stderr, a.stdout
    assert "approved" in a.stdout and grouped in a.stdout and "127.0.0.1" in a.stdout, a.stdout
    # deny too
    b2 = Browser(srv)
    cid2 = _challenge_id_of(srv, b2, cust)
    d = cust.app.deny()
    assert d.returncode == 0, d.stderr
    assert cid2 not in d.stdout + d.stderr and "denied" in d.stdout, d.stdout
