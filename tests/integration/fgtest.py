#!/usr/bin/python3
"""fgtest.py - helpers for Freigabe's integration tests and demo: Redis, server configs, tools, browser.

Used by conftest.py (pytest fixtures) and by scripts/demo.sh (through the command line:
`/usr/bin/python3 tests/integration/fgtest.py apache-conf ...`), so the Apache configuration
the demo runs is the one the tests run.

Server kinds: KINDS maps a kind name ("apache"; "nginx" later) to a class with
write_config / start / stop / configtest. Adding nginx means writing NginxKind with the same
four methods and adding it to KINDS and SERVER_KINDS; every test then runs against both.
Options are logical names (code_mode, challenge_timeout, ...) that each kind maps to its own
directive names (DIRECTIVES), so tests never spell a directive.
"""
import argparse
import html.parser
import itertools
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FREIGABECTL = REPO / "tools" / "freigabectl"
FREIGABE_APP = REPO / "tools" / "freigabe-app"
APACHE_MODULE = REPO / "mod_freigabe" / "mod_freigabe.so"
APACHE_BIN = "/usr/sbin/apache2"
APACHE_MODDIR = "/usr/lib/apache2/modules"
NGINX_MODULE = REPO / "nginx_module" / "ngx_http_freigabe_module.so"
NGINX_BIN = "/usr/sbin/nginx"
REDIS_BIN = "/usr/bin/redis-server"

TIMEOUT = 10          # seconds, for every HTTP request the tests make
TOOL_TIMEOUT = 60     # seconds, for every freigabectl / freigabe-app run
PREFIX = "/freigabe"

# The app versions the tests' normal app reports; servers require app >= 0.1.
APP_PLATFORM, APP_OS, APP_VERSION = "android", "14", "1.0.0"

# Options every test server gets unless a variant overrides them; None = directive omitted.
DEFAULT_OPTIONS = {
    "prefix": PREFIX,
    "code_mode": "compare",
    "challenge_timeout": "120",
    "session_idle": "900",
    "session_max": "28800",
    "header_prefix": "X-Freigabe-",
    "min_client": "android=11 ios=15 app=0.1",
    "argon2_ops": "1",
    "argon2_mem": "8M",
    "language": None,
    "secure_cookies": "off",
}

# Test server variants: name -> option overrides.
VARIANTS = {
    "main": {},
    "short": {"challenge_timeout": "10"},
    "enter": {"code_mode": "enter"},
    "brief": {"session_idle": "60", "session_max": "75"},   # the smallest the config allows
}

# Every server process this module started and has not stopped (for error_log tails).
RUNNING = []


# --------------------------------------------------------------------------- basics

_used_ports = set()


def free_port():
    """A free loopback TCP port below 32768 (above is the ephemeral range)."""
    for _ in range(500):
        p = random.randint(20000, 32000)
        if p in _used_ports:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                continue
        _used_ports.add(p)
        return p
    raise RuntimeError("no free port below 32768")


# Temporary directories made here; cleanup_tempdirs() removes them (unless FG_KEEP_TMP=1).
TEMPDIRS = []


def make_tempdir(tag):
    """A fresh temporary directory, mode 755 (Apache's children run as www-data)."""
    d = tempfile.mkdtemp(prefix="freigabe-%s-" % tag)
    os.chmod(d, 0o755)
    TEMPDIRS.append(d)
    return Path(d)


def cleanup_tempdirs():
    if os.environ.get("FG_KEEP_TMP") == "1":
        return
    while TEMPDIRS:
        shutil.rmtree(TEMPDIRS.pop(), ignore_errors=True)


def wait_port(port, timeout=15.0, proc=None, what="server"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited with status %s before listening on %d"
                               % (what, proc.returncode, port))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("%s did not listen on port %d within %.0fs" % (what, port, timeout))


def wait_port_closed(port, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.3):
                pass
        except OSError:
            return True
        time.sleep(0.1)
    return False


def tail(path, n=60, offset=0):
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)
    lines = data.decode("utf-8", "replace").splitlines()
    return "\n".join(lines[-n:])


def b64u(data):
    import base64
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(s):
    import base64
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


# --------------------------------------------------------------------------- Redis

class Redis:
    """A redis-server on a loopback port, in its own directory; restartable on the same port."""

    def __init__(self, port=None, directory=None):
        self.port = port or free_port()
        self.dir = Path(directory) if directory else make_tempdir("redis")
        self.proc = None

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def __repr__(self):
        return "<redis :%d>" % self.port

    def start(self, timeout=10.0):
        logf = open(self.dir / "redis.log", "ab")
        self.proc = subprocess.Popen(
            [REDIS_BIN, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited (%s):\n%s"
                                   % (self.proc.returncode, tail(self.dir / "redis.log", 20)))
            try:
                if self.client().ping():
                    RUNNING.append(self)
                    return self
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING on %d" % self.port)

    def client(self):
        import redis
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5,
                           socket_connect_timeout=2, decode_responses=False)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if self in RUNNING:
            RUNNING.remove(self)
        wait_port_closed(self.port, 5)

    def log_files(self):
        return [("redis.log", self.dir / "redis.log")]


# --------------------------------------------------------------------------- server kinds

class ApacheKind:
    """Apache httpd (Debian's binary) with mod_freigabe, from a temporary ServerRoot."""

    name = "apache"
    DIRECTIVES = {
        "redis": "FreigabeRedis",
        "key_file": "FreigabeKeyFile",
        "prefix": "FreigabePrefix",
        "code_mode": "FreigabeCodeMode",
        "challenge_timeout": "FreigabeChallengeTimeout",
        "session_idle": "FreigabeSessionIdle",
        "session_max": "FreigabeSessionMax",
        "header_prefix": "FreigabeHeaderPrefix",
        "min_client": "FreigabeMinClient",
        "argon2_ops": "FreigabeArgon2Ops",
        "argon2_mem": "FreigabeArgon2Mem",
        "language": "FreigabeLanguage",
        "secure_cookies": "FreigabeSecureCookies",
        "notme_cooldown": "FreigabeNotMeCooldown",
    }
    LIST_OPTIONS = {"min_client"}
    STD_MODULES = [
        ("mpm_event_module", "mod_mpm_event.so"),
        ("authn_core_module", "mod_authn_core.so"),
        ("authz_core_module", "mod_authz_core.so"),
        ("authz_user_module", "mod_authz_user.so"),
        ("proxy_module", "mod_proxy.so"),
        ("proxy_http_module", "mod_proxy_http.so"),
    ]

    @classmethod
    def directive(cls, option):
        return cls.DIRECTIVES[option]

    @staticmethod
    def _q(value):
        return '"%s"' % str(value).replace("\\", "\\\\").replace('"', '\\"')

    # MPM sizing of the test server; kind_args={"mpm": {...}} overrides single values.
    MPM = {"StartServers": 2, "ServerLimit": 4, "ThreadsPerChild": 25, "MaxRequestWorkers": 100,
           "MinSpareThreads": 10, "MaxSpareThreads": 75}

    @classmethod
    def config_text(cls, directory, port, upstream_port, options, module=APACHE_MODULE,
                    mpm=None, layout="test", extra=""):
        """layout "test": the endpoints at the prefix, /portal protected, /open plain proxied;
        layout "root": README's setup, <Location /> protected (proxied to the upstream) and
        the endpoint location inside it without a Require of its own. `extra`: more lines."""
        d = Path(directory)
        prefix = options.get("prefix") or PREFIX
        lines = [
            "# httpd.conf - generated by tests/integration/fgtest.py (Freigabe test/demo server)",
            "ServerRoot %s" % cls._q(d),
            "ServerName 127.0.0.1",
            "Listen 127.0.0.1:%d" % port,
            "PidFile %s" % cls._q(d / "httpd.pid"),
            "DefaultRuntimeDir %s" % cls._q(d / "run"),
            "ErrorLog %s" % cls._q(d / "error_log"),
            "LogLevel warn freigabe:info",
        ]
        for mod, so in cls.STD_MODULES:
            lines.append("LoadModule %s %s" % (mod, cls._q(Path(APACHE_MODDIR) / so)))
        lines.append("LoadModule freigabe_module %s" % cls._q(module))
        lines += [
            "User www-data",
            "Group www-data",
        ]
        sizing = dict(cls.MPM, **(mpm or {}))
        lines += ["%s %s" % (k, v) for k, v in sizing.items()]
        lines += [
            "Timeout 60",
            "KeepAlive On",
            "KeepAliveTimeout 5",
            'LogFormat "%h %u %t \\"%r\\" %>s %b %D" freigabetest',
            "CustomLog %s freigabetest" % cls._q(d / "access_log"),
            "",
        ]
        for opt, value in options.items():
            if value is None:
                continue
            # list-valued directives take their items as separate words
            v = value if opt in cls.LIST_OPTIONS else cls._q(value)
            lines.append("%s %s" % (cls.directive(opt), v))
        if layout == "root":
            lines += [
                "",
                '<Location "/">',
                "    AuthType Freigabe",
                "    Require valid-user",
                '    ProxyPass "http://127.0.0.1:%d/"' % upstream_port,
                "</Location>",
                "<Location %s>" % cls._q(prefix),
                "    SetHandler freigabe",
                "    ProxyPass !",
                "</Location>",
                "",
                extra,
            ]
            return "\n".join(lines)
        lines += [
            "",
            "<Location %s>" % cls._q(prefix),
            "    SetHandler freigabe",
            "</Location>",
            "",
            '<Location "/portal">',
            "    AuthType Freigabe",
            '    AuthName "Freigabe"',
            "    Require valid-user",
            '    ProxyPass "http://127.0.0.1:%d/portal"' % upstream_port,
            '    ProxyPassReverse "http://127.0.0.1:%d/portal"' % upstream_port,
            "</Location>",
            "",
            "# unprotected, proxied: the module must still strip forged identity headers here",
            '<Location "/open">',
            '    ProxyPass "http://127.0.0.1:%d/open"' % upstream_port,
            "</Location>",
            "",
            extra,
        ]
        return "\n".join(lines)

    @classmethod
    def write_config(cls, directory, port, upstream_port, options, **kw):
        d = Path(directory)
        (d / "run").mkdir(exist_ok=True)
        os.chmod(d / "run", 0o755)
        conf = d / "httpd.conf"
        conf.write_text(cls.config_text(d, port, upstream_port, options, **kw), encoding="utf-8")
        os.chmod(conf, 0o644)
        return conf

    @classmethod
    def start(cls, server):
        conf = cls.write_config(server.dir, server.port, server.upstream_port, server.options,
                                **getattr(server, "kind_args", {}))
        server.conf = conf
        server.error_log = server.dir / "error_log"
        out = open(server.dir / "stdout.log", "ab")
        server.proc = subprocess.Popen([APACHE_BIN, "-f", str(conf), "-DFOREGROUND"],
                                       stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT, cwd=str(server.dir))
        out.close()
        try:
            wait_port(server.port, 20, server.proc, "apache2")
        except RuntimeError as e:
            cls.stop(server)
            raise RuntimeError("%s\n--- stdout/stderr ---\n%s\n--- error_log ---\n%s" % (
                e, tail(server.dir / "stdout.log", 30), tail(server.error_log, 40)))

    @classmethod
    def stop(cls, server):
        if server.proc is None:
            return
        if server.proc.poll() is None:
            subprocess.run([APACHE_BIN, "-f", str(server.conf), "-k", "stop"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=20)
            try:
                server.proc.wait(15)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait(5)
        server.proc = None
        wait_port_closed(server.port, 10)

    @classmethod
    def configtest(cls, options, upstream_port=9):
        """Run `apache2 -t` on a config with these options; -> (returncode, output)."""
        d = make_tempdir("apache-t")
        try:
            conf = cls.write_config(d, free_port(), upstream_port, options)
            p = subprocess.run([APACHE_BIN, "-t", "-f", str(conf)], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
            return p.returncode, p.stdout.decode("utf-8", "replace")
        finally:
            shutil.rmtree(d, ignore_errors=True)

    @classmethod
    def log_files(cls, server):
        return [("error_log", server.dir / "error_log"), ("stdout", server.dir / "stdout.log")]


class NginxKind:
    """nginx with the dynamic module, from a temporary prefix (debian-facts.md)."""
    name = "nginx"
    # every engine option is spelled freigabe_<neutral name> in nginx
    SPELLING = {"language": "lang"}
    LIST_OPTIONS = {"min_client"}

    @classmethod
    def directive(cls, option):
        return "freigabe_" + cls.SPELLING.get(option, option)

    @staticmethod
    def _q(value):
        return '"%s"' % str(value).replace("\\", "\\\\").replace('"', '\\"')

    @classmethod
    def config_text(cls, directory, port, upstream_port, options, module=NGINX_MODULE,
                    workers=1, extra_http="", extra_server="", extra_main=""):
        d = Path(directory)
        prefix = options.get("prefix") or PREFIX
        lines = [
            "# nginx.conf - generated by tests/integration/fgtest.py (Freigabe test/demo server)",
            "load_module %s;" % cls._q(module),
            "daemon off;",
            "master_process on;",
            "worker_processes %d;" % workers,
            "user root;",
            "pid %s;" % cls._q(d / "nginx.pid"),
            "error_log %s info;" % cls._q(d / "error_log"),
            "thread_pool default threads=4 max_queue=64;",
            extra_main,
            "events { worker_connections 1024; }",
            "http {",
            "    access_log %s;" % cls._q(d / "access_log"),
        ]
        for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            lines.append("    %s_temp_path %s;" % (t, cls._q(d / ("tmp_" + t))))
        for opt, value in options.items():
            if value is None:
                continue
            v = value if opt in cls.LIST_OPTIONS else cls._q(value)
            lines.append("    %s %s;" % (cls.directive(opt), v))
        lines += [
            "    upstream portal { server 127.0.0.1:%d; keepalive 16; }" % upstream_port,
            extra_http,
            "    server {",
            "        listen 127.0.0.1:%d;" % port,
            "        location %s/ { freigabe_endpoints; }" % prefix,
            "        location /portal {",
            "            freigabe on;",
            "            proxy_http_version 1.1;",
            '            proxy_set_header Connection "";',
            "            proxy_pass http://portal;",
            "        }",
            "        # unprotected, proxied: forged identity headers must be stripped here too",
            "        location /open { proxy_pass http://127.0.0.1:%d; }" % upstream_port,
            '        location = /static-ok { return 200 "static ok\\n"; }',
            "        # auth_request: nginx skips access handlers in subrequests -> freigabe_check",
            "        location = /_fgcheck { internal; freigabe_check; }",
            "        location /open-ar/ {",
            "            auth_request /_fgcheck;",
            "            auth_request_set $fgu $freigabe_user;",
            "            proxy_set_header X-AR-User $fgu;",
            "            proxy_pass http://127.0.0.1:%d/open/ar/;" % upstream_port,
            "        }",
            extra_server,
            "    }",
            "}",
            "",
        ]
        return "\n".join(lines)

    @classmethod
    def write_config(cls, directory, port, upstream_port, options, **kw):
        d = Path(directory)
        conf = d / "nginx.conf"
        conf.write_text(cls.config_text(d, port, upstream_port, options, **kw), encoding="utf-8")
        return conf

    @classmethod
    def start(cls, server):
        conf = cls.write_config(server.dir, server.port, server.upstream_port, server.options,
                                **getattr(server, "kind_args", {}))
        server.conf = conf
        server.error_log = server.dir / "error_log"
        out = open(server.dir / "stdout.log", "ab")
        server.proc = subprocess.Popen([NGINX_BIN, "-p", str(server.dir) + "/", "-c", str(conf)],
                                       stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT, cwd=str(server.dir))
        out.close()
        try:
            wait_port(server.port, 20, server.proc, "nginx")
        except RuntimeError as e:
            cls.stop(server)
            raise RuntimeError("%s\n--- stdout/stderr ---\n%s\n--- error_log ---\n%s" % (
                e, tail(server.dir / "stdout.log", 30), tail(server.error_log, 40)))

    @classmethod
    def signal(cls, server, sig):
        subprocess.run([NGINX_BIN, "-p", str(server.dir) + "/", "-c", str(server.conf), "-s", sig],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=20)

    @classmethod
    def stop(cls, server):
        if server.proc is None:
            return
        if server.proc.poll() is None:
            server.proc.terminate()
            try:
                server.proc.wait(15)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait(5)
        server.proc = None
        wait_port_closed(server.port, 10)

    @classmethod
    def configtest(cls, options, upstream_port=9, **kw):
        """Run `nginx -t` on a config with these options (kw: config_text's extra_http,
        extra_server, ...); -> (returncode, output)."""
        d = make_tempdir("nginx-t")
        try:
            conf = cls.write_config(d, free_port(), upstream_port, options, **kw)
            p = subprocess.run([NGINX_BIN, "-t", "-p", str(d) + "/", "-c", str(conf)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=30)
            return p.returncode, p.stdout.decode("utf-8", "replace")
        finally:
            shutil.rmtree(d, ignore_errors=True)

    @classmethod
    def log_files(cls, server):
        return [("error_log", server.dir / "error_log"), ("stdout", server.dir / "stdout.log")]


KINDS = {"apache": ApacheKind, "nginx": NginxKind}
# The kinds every server-parametrized test runs against (nginx: add NginxKind to KINDS and
# its name here). FG_SERVER_KINDS=apache,nginx narrows or reorders the list.
SERVER_KINDS = ["apache", "nginx"]
if os.environ.get("FG_SERVER_KINDS"):
    SERVER_KINDS = [k.strip() for k in os.environ["FG_SERVER_KINDS"].split(",")
                    if k.strip() in KINDS]


class Server:
    """One running web server with the module: .url, .prefix, .redis, .options, .kind."""

    def __init__(self, kind, variant, redis, key_file, upstream_port, options=None, port=None):
        self.kind = kind
        self.impl = KINDS[kind]
        self.variant = variant
        self.redis = redis
        self.key_file = Path(key_file)
        self.upstream_port = upstream_port
        self.port = port or free_port()
        self.dir = make_tempdir("%s-%s" % (kind, variant))
        opts = dict(DEFAULT_OPTIONS)
        opts.update(VARIANTS.get(variant, {}))
        opts.update(options or {})
        opts["redis"] = redis.url
        opts["key_file"] = str(self.key_file)
        self.options = opts
        self.proc = None
        self.conf = None
        self.error_log = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def origin(self):
        return self.url

    @property
    def prefix(self):
        return self.options.get("prefix") or PREFIX

    @property
    def app_url(self):
        """What freigabe-app --server takes: the server URL including the prefix."""
        return self.url + self.prefix

    def u(self, path):
        return self.url + path

    def start(self):
        self.impl.start(self)
        RUNNING.append(self)
        return self

    def stop(self):
        try:
            self.impl.stop(self)
        finally:
            if self in RUNNING:
                RUNNING.remove(self)

    def log_files(self):
        return self.impl.log_files(self)

    def __repr__(self):
        return "<%s %s :%d>" % (self.kind, self.variant, self.port)


# --------------------------------------------------------------------------- tools

def run_tool(argv, input_text=None, check=True, timeout=TOOL_TIMEOUT, env=None):
    """Run a tool; -> CompletedProcess with text stdout/stderr. check=True raises with output."""
    p = subprocess.run([str(a) for a in argv],
                       input=(input_text if input_text is not None else "").encode("utf-8"),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, env=env)
    p.stdout = p.stdout.decode("utf-8", "replace")
    p.stderr = p.stderr.decode("utf-8", "replace")
    if check and p.returncode != 0:
        raise AssertionError("%s exited %d\nstdout: %s\nstderr: %s"
                             % (" ".join(str(a) for a in argv), p.returncode, p.stdout, p.stderr))
    return p


def require_built():
    missing = [str(p.relative_to(REPO)) for p in (FREIGABECTL, FREIGABE_APP, APACHE_MODULE)
               if not p.exists()]
    if missing:
        raise RuntimeError("not built: %s (run scripts/build.sh)" % ", ".join(missing))


def keygen(path):
    """Make a key file with freigabectl keygen, readable by www-data."""
    path = Path(path)
    run_tool([FREIGABECTL, "keygen", "--out", path])
    os.chmod(path, 0o644)
    return path


class Ctl:
    """freigabectl against one Redis."""

    _argon2_flags = None

    def __init__(self, redis_url, argon2_ops="1", argon2_mem="8M"):
        self.redis_url = redis_url
        self.argon2_ops = argon2_ops
        self.argon2_mem = argon2_mem

    def run(self, *args, input_text=None, check=True):
        return run_tool([FREIGABECTL, "--redis", self.redis_url] + list(args),
                        input_text=input_text, check=check)

    @classmethod
    def argon2_flags(cls):
        """The --argon2* options freigabectl's help mentions (empty if none)."""
        if cls._argon2_flags is None:
            text = ""
            for args in (["--help"], ["user", "--help"], ["user", "add", "--help"]):
                try:
                    p = run_tool([FREIGABECTL] + args, check=False, timeout=10)
                    text += p.stdout + p.stderr
                except Exception:
                    pass
            cls._argon2_flags = set(re.findall(r"--argon2[-\w]*", text))
        return cls._argon2_flags

    def user_add(self, customer, name, password):
        args = ["user", "add", customer, "--name", name, "--password-stdin"]
        flags = self.argon2_flags()
        if "--argon2-ops" in flags:
            args += ["--argon2-ops", self.argon2_ops]
        if "--argon2-mem" in flags:
            args += ["--argon2-mem", self.argon2_mem]
        return self.run(*args, input_text=password + "\n")

    def device_activate(self, customer):
        p = self.run("device", "activate", customer)
        lines = p.stdout.splitlines()
        assert lines and lines[0].strip(), "device activate printed no code: %r" % p.stdout
        return lines[0].strip()

    def session_list(self, customer):
        return self.run("session", "list", customer)

    def session_revoke_all(self, customer):
        return self.run("session", "revoke", customer, "--all")


class AppCli:
    """tools/freigabe-app with its own state directory (plays the smartphone)."""

    def __init__(self, server_url, state_dir=None, pin="135790", platform=APP_PLATFORM,
                 os_version=APP_OS, app_version=APP_VERSION):
        self.server_url = server_url
        self.state = Path(state_dir) if state_dir else make_tempdir("app")
        self.pin = pin
        self.platform, self.os_version, self.app_version = platform, os_version, app_version

    def run(self, *args, pin=None, check=False, timeout=TOOL_TIMEOUT):
        argv = [FREIGABE_APP, "--server", self.server_url, "--state", self.state,
                "--platform", self.platform, "--os", self.os_version,
                "--app-version", self.app_version] + list(args)
        inp = None
        if pin is not None:
            argv.append("--pin-stdin")
            inp = pin + "\n"
        return run_tool(argv, input_text=inp, check=check, timeout=timeout)

    def enroll(self, code, check=True):
        return self.run("enroll", "--code", code, pin=self.pin, check=check)

    def pending(self, check=False):
        return self.run("pending", pin=self.pin, check=check)

    def approve(self, code=None, pin=None, check=False):
        args = ["approve"] + (["--code", code] if code else [])
        return self.run(*args, pin=pin or self.pin, check=check)

    def deny(self, not_me=False, pin=None, check=False):
        args = ["deny"] + (["--not-me"] if not_me else [])
        return self.run(*args, pin=pin or self.pin, check=check)

    def with_client(self, platform=None, os_version=None, app_version=None):
        """The same phone state, reporting another platform / OS / app version."""
        return AppCli(self.server_url, self.state, self.pin, platform or self.platform,
                      os_version or self.os_version, app_version or self.app_version)


_customer_counter = itertools.count(1)


def new_customer_number():
    """A fresh 10-digit customer number, unique within this test run."""
    return "7%03d%06d" % (os.getpid() % 1000, next(_customer_counter))


class Customer:
    def __init__(self, number, name, password, app=None):
        self.number, self.name, self.password, self.app = number, name, password, app

    def __repr__(self):
        return "<Customer %s %r>" % (self.number, self.name)


def create_customer(server, name="Erika Müller", app="cli", password=None, number=None):
    """A customer in the server's Redis, with an enrolled app ("cli": freigabe-app,
    "nacl": the Python client from naclapp.py, None: none)."""
    number = number or new_customer_number()
    password = password or "pw-%s-geheim" % number
    ctl = Ctl(server.redis.url, server.options.get("argon2_ops") or "1",
              server.options.get("argon2_mem") or "8M")
    ctl.user_add(number, name, password)
    c = Customer(number, name, password)
    if app == "cli":
        c.app = AppCli(server.app_url)
        c.app.enroll(ctl.device_activate(number))
    elif app == "nacl":
        from naclapp import NaclApp
        c.app = NaclApp(server.app_url)
        r = c.app.enroll(ctl.device_activate(number))
        assert r.status_code == 201, "nacl enroll: %s %s" % (r.status_code, r.text)
    return c


# --------------------------------------------------------------------------- HTML parsing

class _PageParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self.text = []
        self._skip = 0
        self._form = None
        self.code_texts = []
        self._code_depth = []   # stack: True where the open element is a "code" element

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "form":
            self._form = {"action": a.get("action"), "method": (a.get("method") or "get").lower(),
                          "fields": {}}
            self.forms.append(self._form)
        if tag in ("input", "button", "textarea", "select") and self._form is not None:
            if a.get("name") is not None and tag in ("input",):
                self._form["fields"].setdefault(a["name"], a.get("value") or "")
        if tag not in ("input", "br", "img", "meta", "link", "hr"):
            cls = (a.get("class") or "") + " " + (a.get("id") or "")
            is_code = bool(re.search(r"(^|[\s_-])code($|[\s_-])", cls))
            self._code_depth.append(is_code)
            if is_code:
                self.code_texts.append("")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        if tag == "form":
            self._form = None
        if tag not in ("input", "br", "img", "meta", "link", "hr") and self._code_depth:
            self._code_depth.pop()

    def handle_data(self, data):
        if self._skip:
            return
        self.text.append(data)
        if any(self._code_depth) and self.code_texts:
            self.code_texts[-1] += data


def parse_page(text):
    p = _PageParser()
    p.feed(text or "")
    p.close()
    return p


def page_forms(text):
    return parse_page(text).forms


def page_csrf(text):
    """The csrf token of the first form that has one, else None."""
    for f in page_forms(text):
        if "csrf" in f["fields"]:
            return f["fields"]["csrf"]
    return None


def page_text(text):
    return " ".join(parse_page(text).text)


def page_code(text):
    """The comparison code shown on a wait page (digits only), else None."""
    p = parse_page(text)
    for t in p.code_texts:
        digits = re.sub(r"\D", "", t)
        if 4 <= len(digits) <= 8:
            return digits
    txt = " ".join(p.text)
    m = re.search(r"(?<![\d:.,/])(\d{2,4})[ \u00a0\u202f](\d{2,4})(?![\d:.,/])", txt)
    if m and 4 <= len(m.group(1) + m.group(2)) <= 8:
        return m.group(1) + m.group(2)
    m = re.search(r"(?<![\d:.,/])(\d{4,8})(?![\d:.,/])", txt)
    return m.group(1) if m else None


# --------------------------------------------------------------------------- the browser

NAV_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "de-DE,de;q=0.9,en;q=0.5",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) FreigabeTest/1.0",
}
API_HEADERS = {"Accept": "application/json", "User-Agent": "FreigabeTest-API/1.0"}

SESSION_COOKIE = "freigabe"
PRE_COOKIE = "freigabe-pre"


class Browser:
    """A requests.Session that walks the customer's journey like a browser without JS."""

    def __init__(self, server):
        import requests
        self.server = server
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry
        self.s = requests.Session()
        # A kept-alive connection the server closes just as we reuse it (idle gap ==
        # KeepAliveTimeout) is retried once, for idempotent methods only.
        retry = Retry(total=1, connect=1, read=1, status=0, redirect=0,
                      allowed_methods=frozenset({"GET", "HEAD"}), raise_on_status=False)
        self.s.mount("http://", HTTPAdapter(max_retries=retry))
        self.s.headers.update(NAV_HEADERS)
        self.csrf = None
        self.rd = None
        self.last_poll = 0.0
        self.interval = 2.0
        self.trace = []

    # --- plumbing
    def _req(self, method, path, **kw):
        kw.setdefault("timeout", TIMEOUT)
        kw.setdefault("allow_redirects", False)
        url = path if path.startswith("http") else self.server.u(path)
        r = self.s.request(method, url, **kw)
        self.trace.append("%s %s -> %s %s" % (method, path, r.status_code,
                                              r.headers.get("Location", "")))
        if "text/html" in r.headers.get("Content-Type", ""):
            c = page_csrf(r.text)
            if c:
                self.csrf = c
        return r

    def get(self, path, **kw):
        return self._req("GET", path, **kw)

    def post(self, path, data=None, origin=True, **kw):
        headers = dict(kw.pop("headers", {}) or {})
        if origin is True:
            headers["Origin"] = self.server.origin
        elif origin:
            headers["Origin"] = origin
        return self._req("POST", path, data=data, headers=headers, **kw)

    def p(self, path):
        return self.server.prefix + path

    def cookie(self, name):
        for c in self.s.cookies:
            if c.name == name:
                return c.value
        return None

    @property
    def session_cookie(self):
        return self.cookie(SESSION_COOKIE)

    def explain(self):
        return "browser trace:\n  " + "\n  ".join(self.trace[-20:])

    # --- journey steps
    def open_login(self, rd="/portal/api/echo"):
        """GET {prefix}/login?rd=... -> response (the login page)."""
        q = urllib.parse.quote(rd, safe="")
        r = self.get(self.p("/login") + "?rd=" + q)
        assert r.status_code == 200, "login page: %s %s\n%s" % (r.status_code, r.text[:300],
                                                                self.explain())
        self.rd = rd
        for f in page_forms(r.text):
            if "rd" in f["fields"] and f["fields"]["rd"]:
                self.rd = f["fields"]["rd"]
        return r

    def login(self, customer, password, rd=None, csrf=None, origin=True, with_csrf=True):
        """POST {prefix}/login -> response (303 to {prefix}/approve on success)."""
        data = {"customer": customer, "password": password}
        if with_csrf:
            data["csrf"] = csrf if csrf is not None else (self.csrf or "")
        if rd is not None or self.rd is not None:
            data["rd"] = rd if rd is not None else self.rd
        return self.post(self.p("/login"), data, origin=origin)

    def request_approval(self, origin=True, with_csrf=True):
        """GET then POST {prefix}/approve -> the POST's response (303 to {prefix}/wait)."""
        g = self.get(self.p("/approve"))
        assert g.status_code == 200, "approve page: %s %s\n%s" % (g.status_code, g.text[:300],
                                                                 self.explain())
        data = {"csrf": self.csrf or ""} if with_csrf else {}
        r = self.post(self.p("/approve"), data, origin=origin)
        self.last_poll = 0.0
        return r

    def wait_page(self):
        return self.get(self.p("/wait"))

    def status(self, respect_interval=True):
        """GET {prefix}/status as JSON (waits out the polling interval first)."""
        if respect_interval:
            gap = self.interval - (time.time() - self.last_poll)
            if gap > 0:
                time.sleep(gap + 0.1)
        r = self.get(self.p("/status"), headers={"Accept": "application/json"})
        self.last_poll = time.time()
        assert r.headers.get("Content-Type", "").startswith("application/json"), \
            "status not JSON: %s %r" % (r.status_code, r.text[:300])
        doc = r.json()
        if isinstance(doc.get("interval"), (int, float)) and doc["interval"] > 0:
            self.interval = float(doc["interval"])
        doc["_http"] = r.status_code
        return doc

    def wait_status(self, wanted, timeout=30):
        """Poll status until it is in wanted (a str or a set); -> last status dict."""
        wanted = {wanted} if isinstance(wanted, str) else set(wanted)
        deadline = time.time() + timeout
        doc = None
        while time.time() < deadline:
            doc = self.status()
            if doc.get("status") in wanted:
                return doc
            if doc.get("status") not in ("authorization_pending", "slow_down"):
                return doc
        return doc

    def finish(self, origin=True, with_csrf=True):
        """POST {prefix}/finish -> response (303 to the return path on success)."""
        self.wait_page()   # refreshes the csrf token the finish form carries
        data = {"csrf": self.csrf or ""} if with_csrf else {}
        return self.post(self.p("/finish"), data, origin=origin)

    def logout(self, origin=True):
        return self.post(self.p("/logout"), {}, origin=origin)

    def start(self, customer, rd="/portal/api/echo"):
        """Login page, password, request approval; asserts each step."""
        self.open_login(rd)
        r = self.login(customer.number, customer.password)
        assert r.status_code == 303, "login POST: %s %s\n%s" % (r.status_code, r.text[:300],
                                                               self.explain())
        assert urllib.parse.urlsplit(r.headers["Location"]).path == self.p("/approve"), \
            r.headers["Location"]
        r = self.request_approval()
        assert r.status_code == 303, "approve POST: %s %s\n%s" % (r.status_code, r.text[:300],
                                                                 self.explain())
        assert urllib.parse.urlsplit(r.headers["Location"]).path == self.p("/wait"), \
            r.headers["Location"]
        return r

    def login_fully(self, customer, rd="/portal/api/echo", follow=True):
        """The whole journey with the customer's app approving; -> the finish response
        (follow=False) or the response of following its Location (follow=True)."""
        self.start(customer, rd)
        app_approve(customer.app, self)
        r = self.finish()
        assert r.status_code == 303, "finish: %s %s\n%s" % (r.status_code, r.text[:300],
                                                           self.explain())
        if not follow:
            return r
        return self.get(r.headers["Location"])


def app_approve(app, browser=None, code=None):
    """Approve the pending request with either kind of app; in enter mode the code is read
    from the browser's wait page. Asserts success."""
    from naclapp import NaclApp
    if code is None and browser is not None and \
            browser.server.options.get("code_mode") == "enter":
        code = page_code(browser.wait_page().text)
    if isinstance(app, NaclApp):
        r = app.approve_pending(code=code)
        assert r.status_code == 200, "app respond: %s %s" % (r.status_code, r.text)
        return r
    p = app.approve(code=code)
    assert p.returncode == 0, "freigabe-app approve exited %d\nstdout: %s\nstderr: %s" % (
        p.returncode, p.stdout, p.stderr)
    return p


def upstream_json(resp):
    """The portal's JSON echo from a response (asserting it is one)."""
    assert resp.status_code == 200, "upstream: %s %s" % (resp.status_code, resp.text[:300])
    doc = resp.json()
    assert "headers" in doc and "path" in doc, doc
    return doc


def header_values(doc, name):
    """All values of header name (case-insensitive, '_' == '-') in a portal echo."""
    norm = name.lower().replace("_", "-")
    return [v for k, v in doc["headers"] if k.lower().replace("_", "-") == norm]


def forged_identity_headers(doc, header_prefix="X-Freigabe-"):
    """(name, value) pairs in a portal echo that look like identity headers."""
    p = header_prefix.lower().replace("_", "-")
    return [(k, v) for k, v in doc["headers"] if k.lower().replace("_", "-").startswith(p)]


# --------------------------------------------------------------------------- command line

def _cli(argv=None):
    ap = argparse.ArgumentParser(description="Freigabe test/demo helpers")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("conf", help="write a server config (prints its path)")
    c.add_argument("--kind", default="apache", choices=sorted(KINDS))
    c.add_argument("--dir", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--upstream-port", type=int, required=True)
    c.add_argument("--redis", required=True)
    c.add_argument("--key-file", required=True)
    c.add_argument("--variant", default="main", choices=sorted(VARIANTS))
    c.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE",
                   help="override an option (%s)" % ", ".join(DEFAULT_OPTIONS))
    a = ap.parse_args(argv)
    if a.cmd == "conf":
        opts = dict(DEFAULT_OPTIONS)
        opts.update(VARIANTS[a.variant])
        for kv in a.set:
            k, _, v = kv.partition("=")
            if k not in DEFAULT_OPTIONS:
                ap.error("unknown option %s" % k)
            opts[k] = v or None
        opts["redis"] = a.redis
        opts["key_file"] = a.key_file
        print(KINDS[a.kind].write_config(a.dir, a.port, a.upstream_port, opts))
    return 0


if __name__ == "__main__":
    sys.exit(_cli())
