#!/usr/bin/python3
"""bench.py - throughput of a Freigabe-protected location against a bare proxy (issue 3).

Not part of the pass/fail suite: it measures, it does not judge (exit status 0 unless the
set-up itself fails; a location that does not really check the cookie is flagged loudly).

One run, all on 127.0.0.1 (ports < 32768), everything in temporary directories:
  - Redis, a key file, an upstream that is a second nginx (`return 200`, no module: a
    Python upstream would be the bottleneck);
  - the frontend nginx with the module (worker_processes 1, then 2) and these locations:
      A  /a/   bare proxy_pass (keepalive upstream, HTTP/1.1, Connection "")
      B  /b/   the same with `freigabe on;`
      C  /c/   the same with `auth_request /_auth;` and
               `location = /_auth { internal; freigabe_check; }` (the module's 204/401
               answer for auth_request: nginx runs no access handlers in subrequests, so
               `freigabe on; return 204;` there would check nothing)
    (There is no "auth_request proxied to a check service" case: an nginx that uses the
    module removes its cookies from everything it proxies, so a check reached through
    proxy_pass would never see the session; C is the local endpoint that set-up is for.)
  - optionally Apache (mod_freigabe, fgtest.ApacheKind's config):
      D  /portal/  AuthType Freigabe + ProxyPass to the same upstream
      E  /open/    bare ProxyPass
One customer logs in through the real flow (freigabectl user add + device activate,
freigabe-app enroll, the browser journey, freigabe-app approve); every wrk run sends that
`freigabe` cookie. Before measuring, curl checks that every location answers 200 from the
upstream with the cookie and that the protected ones deny without it.

Columns: req/s, p50/p99 latency (wrk --latency), non-200 (counted by the server: nginx logs
only non-200 answers, Apache's access log is parsed; wrk's own "Non-2xx or 3xx" would miss
a 302), socket errors, CPU microseconds per request of the frontend's worker processes and
of Redis (from /proc, 10 ms tick resolution), Redis commands per request.

Usage: /usr/bin/python3 tests/bench/bench.py [--duration 10] [--connections 50]
       [--threads 2] [--warmup 2] [--workers 1,2] [--no-apache] [--keep]
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

import fgtest  # noqa: E402

WRK = "/usr/bin/wrk"
CURL = "/usr/bin/curl"
CLK_TCK = os.sysconf("SC_CLK_TCK")
UPSTREAM_MARK = "X-Bench-Upstream"


# --------------------------------------------------------------------------- processes

def proc_cpu_ticks(pid):
    """utime + stime of one process, in clock ticks (0 if it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def children(pid):
    out = []
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def cpu_of_children(pid):
    return sum(proc_cpu_ticks(c) for c in children(pid))


class Nginx:
    """An nginx from a temporary prefix, with a config text we write ourselves."""

    def __init__(self, tag, port=None):
        self.dir = fgtest.make_tempdir(tag)
        self.port = port or fgtest.free_port()
        self.proc = None
        self.conf = self.dir / "nginx.conf"
        self.error_log = self.dir / "error_log"

    def common_head(self, workers, module=False, level="info"):
        q = fgtest.NginxKind._q
        lines = []
        if module:
            lines.append("load_module %s;" % q(fgtest.NGINX_MODULE))
        lines += [
            "daemon off;",
            "master_process on;",
            "worker_processes %d;" % workers,
            "user root;",
            "pid %s;" % q(self.dir / "nginx.pid"),
            "error_log %s %s;" % (q(self.error_log), level),
            "events { worker_connections 4096; }",
            "http {",
        ]
        for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            lines.append("    %s_temp_path %s;" % (t, q(self.dir / ("tmp_" + t))))
        return lines

    def start(self, text):
        self.conf.write_text(text, encoding="utf-8")
        out = open(self.dir / "stdout.log", "ab")
        self.proc = subprocess.Popen([fgtest.NGINX_BIN, "-p", str(self.dir) + "/", "-c",
                                      str(self.conf)], stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, cwd=str(self.dir))
        out.close()
        try:
            fgtest.wait_port(self.port, 20, self.proc, "nginx")
        except RuntimeError as e:
            self.stop()
            raise RuntimeError("%s\n%s\n%s" % (e, fgtest.tail(self.dir / "stdout.log", 20),
                                               fgtest.tail(self.error_log, 20)))
        return self

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)    # graceful: let requests finish
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        fgtest.wait_port_closed(self.port, 10)

    def worker_cpu(self):
        return cpu_of_children(self.proc.pid) if self.proc else 0


class BenchApacheKind(fgtest.ApacheKind):
    """fgtest's Apache config (/portal protected, /open bare, both ProxyPass), with kept-alive
    client connections unlimited like the nginx side (Apache's default closes every 100)."""

    @classmethod
    def config_text(cls, *args, **kw):
        return super().config_text(*args, **kw) + "\nMaxKeepAliveRequests 0\n"


def upstream_config(ng):
    lines = ng.common_head(1, module=False, level="warn") + [
        "    access_log off;",
        "    keepalive_requests 1000000;",
        "    keepalive_timeout 75s;",
        "    server {",
        "        listen 127.0.0.1:%d backlog=1024;" % ng.port,
        '        location / { add_header %s 1; return 200 "ok\\n"; }' % UPSTREAM_MARK,
        "    }",
        "}",
        "",
    ]
    return "\n".join(lines)


def frontend_config(ng, workers, upstream_port, options):
    q = fgtest.NginxKind._q
    prefix = options.get("prefix") or fgtest.PREFIX
    proxy = ('proxy_http_version 1.1; proxy_set_header Connection ""; '
             'proxy_pass http://bench_upstream;')
    lines = ng.common_head(workers, module=True, level="info")
    lines += [
        "    thread_pool_placeholder",
        # only answers other than 200 are logged: the non-200 count of each run
        "    map $status $bench_not_200 { 200 0; default 1; }",
        "    log_format bench '$status $request_uri';",
        "    access_log %s bench if=$bench_not_200;" % q(ng.dir / "not200.log"),
        "    keepalive_requests 1000000;",
    ]
    for opt, value in options.items():
        if value is None:
            continue
        v = value if opt in fgtest.NginxKind.LIST_OPTIONS else q(value)
        lines.append("    %s %s;" % (fgtest.NginxKind.directive(opt), v))
    lines += [
        "    upstream bench_upstream { server 127.0.0.1:%d; keepalive 64; "
        "keepalive_requests 1000000; }" % upstream_port,
        "    server {",
        "        listen 127.0.0.1:%d backlog=1024;" % ng.port,
        "        location %s/ { freigabe_endpoints; }" % prefix,
        "        location /a/ { %s }" % proxy,
        "        location /b/ { freigabe on; %s }" % proxy,
        "        location /c/ { auth_request /_auth; %s }" % proxy,
        "        location = /_auth { internal; freigabe_check; }",
        "    }",
        "}",
        "",
    ]
    text = "\n".join(lines)
    # the thread pool is a main-context directive: move it in front of http {
    text = text.replace("    thread_pool_placeholder\n", "")
    return text.replace("events {", "thread_pool default threads=4 max_queue=64;\nevents {", 1)


# --------------------------------------------------------------------------- login

class FrontendView:
    """What fgtest.Browser / create_customer need to know about a server."""

    def __init__(self, port, redis, options):
        self.port, self.redis, self.options = port, redis, options

    url = property(lambda self: "http://127.0.0.1:%d" % self.port)
    origin = property(lambda self: self.url)
    prefix = property(lambda self: self.options.get("prefix") or fgtest.PREFIX)
    app_url = property(lambda self: self.url + self.prefix)

    def u(self, path):
        return self.url + path


def log_in(view):
    """The real flow; -> the value of the freigabe session cookie."""
    customer = fgtest.create_customer(view, "Bench Benutzer", app="cli")
    browser = fgtest.Browser(view)
    browser.login_fully(customer, rd="/b/", follow=False)
    cookie = browser.session_cookie
    if not cookie:
        raise RuntimeError("no session cookie after the login\n" + browser.explain())
    return cookie


# --------------------------------------------------------------------------- checks

def curl(url, cookie=None):
    """-> (status, headers lower-cased dict) of one GET through curl."""
    argv = [CURL, "-s", "-o", "/dev/null", "-D", "-", "--max-time", "10", url]
    if cookie:
        argv[1:1] = ["-H", "Cookie: %s=%s" % (fgtest.SESSION_COOKIE, cookie)]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    text = p.stdout.decode("latin-1")
    m = re.match(r"HTTP/\S+ (\d{3})", text)
    headers = {}
    for line in text.splitlines()[1:]:
        k, sep, v = line.partition(":")
        if sep:
            headers[k.strip().lower()] = v.strip()
    return (int(m.group(1)) if m else 0), headers


def verify(case, cookie):
    """Checks a case before it is measured; -> list of problems (empty: fine)."""
    problems = []
    st, h = curl(case["url"], cookie)
    if st != 200 or UPSTREAM_MARK.lower() not in h:
        problems.append("with the cookie: %s%s (want 200 from the upstream)"
                        % (st, "" if UPSTREAM_MARK.lower() in h else ", not from the upstream"))
    if case["protected"]:
        st, h = curl(case["url"])
        case["denied_status"] = st
        if st in (200, 204) or UPSTREAM_MARK.lower() in h:
            problems.append("WITHOUT the cookie: %s%s - the location does not check the "
                            "session" % (st, " from the upstream" if UPSTREAM_MARK.lower() in h
                                         else ""))
    return problems


# --------------------------------------------------------------------------- wrk

def parse_duration(s):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", s)
    if not m:
        return None
    v = float(m.group(1))
    return v * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[m.group(2)]   # -> ms


def run_wrk(url, cookie, a, duration):
    argv = [WRK, "-t%d" % a.threads, "-c%d" % a.connections, "-d%ds" % duration, "--latency",
            "-H", "Cookie: %s=%s" % (fgtest.SESSION_COOKIE, cookie), url]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=duration + 30)
    out = p.stdout.decode("utf-8", "replace")
    r = {"raw": out, "rps": 0.0, "p50": None, "p99": None, "requests": 0, "sock_err": 0,
         "wrk_non2xx3xx": 0}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in", out)
    if m:
        r["requests"] = int(m.group(1))
    for pct, key in (("50", "p50"), ("99", "p99")):
        m = re.search(r"^\s+%s(?:\.0+)?%%\s+(\S+)" % pct, out, re.M)
        if m:
            r[key] = parse_duration(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        r["sock_err"] = sum(int(x) for x in m.groups())
        r["sock_detail"] = m.group(0)
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        r["wrk_non2xx3xx"] = int(m.group(1))
    return r


# --------------------------------------------------------------------------- Redis stats

def redis_stats(client):
    """-> (commands processed including those run inside scripts, EVALSHA + EVAL calls)."""
    total = int(client.info("stats").get("total_commands_processed", 0))
    cs = client.info("commandstats")
    scripts = sum(int(v.get("calls", 0)) for k, v in cs.items()
                  if k in ("cmdstat_evalsha", "cmdstat_eval"))
    return total, scripts


# --------------------------------------------------------------------------- status counts

def status_counts(path, offset, kind, prefix):
    """{status: count} of the answers logged after offset: nginx's not-200 log
    ('$status $request_uri') or fgtest's Apache access log ('... "%r" %>s %b %D'); only
    requests whose path starts with prefix."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return {}
    counts = {}
    for line in data.splitlines():
        if kind == "nginx":
            m = re.match(r"(\d{3}) (\S+)", line)
            uri = m.group(2) if m else ""
        else:
            m = re.search(r'"\S+ (\S+) [^"]*" (\d{3}) ', line)
            uri = m.group(1) if m else ""
            m = re.search(r'" (\d{3}) ', line)
        if m and uri.startswith(prefix):
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    counts.pop("200", None)
    return counts


def fsize(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def measure(case, cookie, a, redis, redis_client):
    srv = case["server"]
    run_wrk(case["url"], cookie, a, a.warmup)          # warm-up (connections, caches)
    nlog, noff = case["non200_log"], fsize(case["non200_log"])
    cpu0, rcpu0, cmd0 = srv_cpu(srv), proc_cpu_ticks(redis.proc.pid), redis_stats(redis_client)
    r = run_wrk(case["url"], cookie, a, a.duration)
    cpu1, rcpu1, cmd1 = srv_cpu(srv), proc_cpu_ticks(redis.proc.pid), redis_stats(redis_client)
    n = max(r["requests"], 1)
    r["cpu_us"] = (cpu1 - cpu0) / CLK_TCK / n * 1e6
    r["redis_us"] = (rcpu1 - rcpu0) / CLK_TCK / n * 1e6
    r["redis_cmds"] = (cmd1[0] - cmd0[0] - 2) / n      # minus our own two INFOs
    r["redis_scripts"] = (cmd1[1] - cmd0[1]) / n
    prefix = re.sub(r"^https?://[^/]+", "", case["url"]).rsplit("/", 1)[0] + "/"
    counts = status_counts(nlog, noff, case["kind"], prefix)
    # 499: wrk closed the connection of a request still in flight when its time was up
    r["closed"] = counts.pop("499", 0)
    r["non200"] = sum(counts.values())
    r["statuses"] = counts
    return r


def srv_cpu(srv):
    if isinstance(srv, Nginx):
        return srv.worker_cpu()
    return cpu_of_children(srv.proc.pid) if srv.proc else 0


def fmt_ms(v):
    return "-" if v is None else ("%.2f" % v if v < 10 else "%.1f" % v)


def print_table(rows):
    hdr = ("case", "what", "req/s", "p50ms", "p99ms", "non200", "sockerr", "srv-us/req",
           "redis-us/req", "evalsha/req", "redis-cmd/req")
    table = [hdr]
    for c, r in rows:
        table.append((c["label"], c["what"] + ("  [NO CHECK!]" if c.get("invalid") else ""),
                      "%.0f" % r["rps"], fmt_ms(r["p50"]), fmt_ms(r["p99"]), str(r["non200"]),
                      str(r["sock_err"]), "%.1f" % r["cpu_us"], "%.1f" % r["redis_us"],
                      "%.2f" % r["redis_scripts"], "%.2f" % r["redis_cmds"]))
    widths = [max(len(row[i]) for row in table) for i in range(len(hdr))]
    for i, row in enumerate(table):
        print("  " + "  ".join(cell.ljust(widths[j]) if j < 2 else cell.rjust(widths[j])
                               for j, cell in enumerate(row)))
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths))


def print_ratios(results):
    """results: {(name, workers): (case, result)}; Apache cases have workers 0."""
    def rps(name, w):
        v = results.get((name, w))
        return (v[1]["rps"], v[0].get("invalid", False)) if v else (None, False)

    def ratio(x, wx, y, wy):
        (rx, ix), (ry, iy) = rps(x, wx), rps(y, wy)
        if not rx or not ry:
            return None
        return "%s/%s = %.2f%s" % (x, y, rx / ry, "  (C checks nothing!)" if ix or iy else "")

    for w in sorted({k[1] for k in results if k[1]}):
        out = [ratio(x, w, y, w) for x, y in (("B", "A"), ("C", "A"), ("B", "C"))]
        out = [o for o in out if o]
        if out:
            print("  nginx workers=%d: %s" % (w, ";  ".join(out)))
    out = [o for o in (ratio("D", 0, "E", 0), ratio("B", 1, "D", 0), ratio("E", 0, "A", 1)) if o]
    if out:
        print("  Apache: %s   (B, A: nginx with 1 worker)" % ";  ".join(out))


def scan_errors(label, path):
    """-> lines of an nginx/Apache error log at warn level or worse."""
    bad = []
    try:
        text = Path(path).read_text("utf-8", "replace")
    except OSError:
        return ["(%s: cannot read %s)" % (label, path)]
    for line in text.splitlines():
        if re.search(r"\[(warn|error|crit|alert|emerg)\]|:(warn|error|crit|alert|emerg)\]",
                     line):
            bad.append(line)
    return bad


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    ap.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per case")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--workers", default="1,2", help="nginx worker counts, e.g. 1 or 1,2")
    ap.add_argument("--cases", default="A,B,C",
                    help="nginx cases for the first worker count (later ones: A,B)")
    ap.add_argument("--no-apache", action="store_true", help="skip D and E")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    a = ap.parse_args(argv)
    workers = [int(x) for x in a.workers.split(",") if x.strip()]
    first_cases = [x.strip() for x in a.cases.split(",") if x.strip()]
    for tool in (WRK, CURL, fgtest.NGINX_BIN, fgtest.REDIS_BIN):
        if not os.path.exists(tool):
            print("bench: %s is missing" % tool, file=sys.stderr)
            return 2
    fgtest.require_built()
    if not fgtest.NGINX_MODULE.exists():
        print("bench: %s is not built" % fgtest.NGINX_MODULE, file=sys.stderr)
        return 2

    def on_signal(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)

    t_start = time.time()
    load_start = os.getloadavg()[0]
    started = []
    error_logs = []
    results = {}
    order = []
    try:
        redis = fgtest.Redis().start()
        started.append(redis)
        rc = redis.client()
        key_file = fgtest.keygen(fgtest.make_tempdir("bench-keys") / "freigabe.key")
        options = dict(fgtest.DEFAULT_OPTIONS)
        options["redis"] = redis.url
        options["key_file"] = str(key_file)

        up = Nginx("bench-upstream")
        up.start(upstream_config(up))
        started.append(up)
        error_logs.append(("upstream nginx", up.error_log))

        cookie = None
        for wi, w in enumerate(workers):
            fe = Nginx("bench-nginx-w%d" % w)
            fe.start(frontend_config(fe, w, up.port, options))
            started.append(fe)
            error_logs.append(("frontend nginx (workers=%d)" % w, fe.error_log))
            if cookie is None:
                t0 = time.time()
                cookie = log_in(FrontendView(fe.port, redis, options))
                print("bench: logged in through the real flow in %.1fs (cookie %d bytes)"
                      % (time.time() - t0, len(cookie)), flush=True)
            names = first_cases if wi == 0 else [c for c in ("A", "B") if c in first_cases]
            cases = {
                "A": ("bare proxy_pass", "/a/x", False),
                "B": ("freigabe on", "/b/x", True),
                "C": ("auth_request -> freigabe_check", "/c/x", True),
            }
            for name in names:
                what, path, protected = cases[name]
                case = {"label": "%s w%d" % (name, w), "what": what, "protected": protected,
                        "url": "http://127.0.0.1:%d%s" % (fe.port, path), "server": fe,
                        "kind": "nginx", "non200_log": fe.dir / "not200.log", "key": (name, w)}
                order.append(case)
            run_cases([c for c in order if c["server"] is fe], cookie, a, redis, rc, results)
            fe.stop()
            started.remove(fe)

        if not a.no_apache:
            ap_srv = fgtest.Server("apache", "main", redis, key_file, up.port)
            ap_srv.impl = BenchApacheKind
            try:
                ap_srv.start()
            except RuntimeError as e:   # the nginx results are still worth printing
                print("bench: Apache did not start, D and E skipped:\n%s" % e, flush=True)
                ap_srv = None
        if not a.no_apache and ap_srv is not None:
            started.append(ap_srv)
            error_logs.append(("apache", ap_srv.error_log))
            acases = []
            for name, what, path, protected in (
                    ("D", "Apache mod_freigabe + ProxyPass", "/portal/x", True),
                    ("E", "Apache bare ProxyPass", "/open/x", False)):
                acases.append({"label": name, "what": what, "protected": protected,
                               "url": "http://127.0.0.1:%d%s" % (ap_srv.port, path),
                               "server": ap_srv, "kind": "apache",
                               "non200_log": ap_srv.dir / "access_log", "key": (name, 0)})
            order += acases
            run_cases(acases, cookie, a, redis, rc, results)
            ap_srv.stop()
            started.remove(ap_srv)

        print()
        print("Freigabe benchmark: wrk -t%d -c%d -d%ds --latency, loopback, %d CPUs, "
              "%s" % (a.threads, a.connections, a.duration, os.cpu_count(),
                      time.strftime("%Y-%m-%d %H:%M:%S")))
        load_end = os.getloadavg()[0]
        print("load average (1 min) before %.1f, after %.1f%s" % (
            load_start, load_end, "  - other work shares these CPUs: req/s and latencies are "
            "unreliable, srv-us/req less so" if load_start > 1.0 else ""))
        print_table([(c, results[c["key"]][1]) for c in order if c["key"] in results])
        print("  non200: answers other than 200 as logged by the server (499 = wrk closed "
              "a request in flight at the end: not counted)\n  srv-us/req: CPU time of the "
              "frontend's workers (Apache: all children) per request\n  redis-cmd/req "
              "includes the commands run inside the script")
        for c in order:
            r = results.get(c["key"], (None, {}))[1]
            if r.get("sock_err"):
                print("  %s: wrk %s" % (c["label"], r["sock_detail"]))
            st = r.get("statuses")
            if st:
                print("  %s: non-200 answers: %s" % (c["label"], ", ".join(
                    "%d x %s" % (v, k) for k, v in sorted(st.items()))))
        print()
        print("Ratios (req/s):")
        print_ratios(results)
        invalid = [c for c in order if c.get("invalid")]
        for c in invalid:
            print("\nWARNING: %s (%s) is NOT a measurement of the check:\n  %s"
                  % (c["label"], c["what"], "\n  ".join(c["problems"])))
        print()
        total_bad = 0
        for label, path in error_logs:
            bad = scan_errors(label, path)
            total_bad += len(bad)
            if bad:
                print("error_log %s: %d lines at warn or worse, e.g.:" % (label, len(bad)))
                for l in bad[:5]:
                    print("    " + l[:300])
        if not total_bad:
            print("error logs: no lines at warn level or worse")
        print("total time %.0fs" % (time.time() - t_start))
        return 0
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    finally:
        for s in reversed(started):
            try:
                s.stop()
            except Exception as e:  # keep stopping the others
                print("bench: stopping %r: %s" % (s, e), file=sys.stderr)
        if a.keep:
            print("bench: kept %s" % " ".join(fgtest.TEMPDIRS))
        else:
            fgtest.cleanup_tempdirs()


def run_cases(cases, cookie, a, redis, rc, results):
    for case in cases:
        problems = verify(case, cookie)
        if problems:
            case["problems"] = problems
            if any("WITHOUT" in p for p in problems) and \
                    not any("with the cookie" in p for p in problems):
                case["invalid"] = True      # still measured, but flagged everywhere
            else:
                print("bench: %s skipped: %s" % (case["label"], "; ".join(problems)), flush=True)
                continue
        r = measure(case, cookie, a, redis, rc)
        results[case["key"]] = (case, r)
        print("bench: %-6s %-42s %8.0f req/s  p50 %s ms  p99 %s ms  non-200 %d%s"
              % (case["label"], case["what"], r["rps"], fmt_ms(r["p50"]), fmt_ms(r["p99"]),
                 r["non200"], "  [NO CHECK]" if case.get("invalid") else ""), flush=True)
        # let the answers to requests wrk abandoned drain before the next run / a stop
        time.sleep(0.3)


if __name__ == "__main__":
    sys.exit(main())
