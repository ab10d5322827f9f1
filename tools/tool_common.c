/* tool_common.c - helpers for freigabectl and freigabe-app: options, secrets, files, Redis. */
#include "tool_common.h"
#include "fg.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <termios.h>
#include <unistd.h>

static const char *progname = "freigabe";
volatile int tc_interrupted = 0;

void tc_set_progname(const char *name)
{
    progname = name;
}

const char *tc_progname(void)
{
    return progname;
}

void tc_err(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s: ", progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- option parsing ----------------------------------------------------- */

static const tc_opt_t *find_opt(const tc_opt_t *opts, const char *arg, size_t namelen)
{
    for (const tc_opt_t *o = opts; o && o->name; o++) {
        if (strlen(o->name) == namelen && strncmp(o->name, arg, namelen) == 0) {
            return o;
        }
    }
    return NULL;
}

/* Handles one option argument at argv[*i]; returns 0 or -1 after a message. */
static int take_opt(int argc, char **argv, int *i, const tc_opt_t *opts, int *help)
{
    const char *arg = argv[*i];
    const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
    size_t namelen = eq ? (size_t)(eq - arg) : strlen(arg);
    const tc_opt_t *o = find_opt(opts, arg, namelen);
    if (o == NULL && help && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
        *help = 1;
        return 0;
    }
    if (o == NULL) {
        tc_err("unknown option '%.*s' (see --help)", (int)namelen, arg);
        return -1;
    }
    if (!o->has_arg) {
        if (eq) {
            tc_err("option '%s' takes no value", o->name);
            return -1;
        }
        *o->flag = 1;
        return 0;
    }
    if (eq) {
        *o->val = eq + 1;
    } else if (*i + 1 < argc) {
        *o->val = argv[++*i];
    } else {
        tc_err("option '%s' needs a value (see --help)", o->name);
        return -1;
    }
    return 0;
}

int tc_parse_opts(int argc, char **argv, const tc_opt_t *opts, const char **pos, int maxpos,
                  int *npos, int *help)
{
    int n = 0, only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!only_pos && strcmp(arg, "--") == 0) {
            only_pos = 1;
        } else if (!only_pos && arg[0] == '-' && arg[1] != '\0') {
            if (take_opt(argc, argv, &i, opts, help) != 0) {
                return -1;
            }
        } else if (n < maxpos) {
            pos[n++] = arg;
        } else {
            tc_err("unexpected argument '%s' (see --help)", arg);
            return -1;
        }
    }
    if (npos) {
        *npos = n;
    }
    return 0;
}

int tc_parse_long(const char *s, long long min, long long max, long long *out)
{
    char *end;
    long long v;
    if (s == NULL || *s == '\0') {
        return -1;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

int tc_parse_size(const char *s, unsigned long long *out)
{
    char *end;
    unsigned long long v, mul = 1;
    if (s == NULL || *s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0) {
        return -1;
    }
    switch (*end) {
    case 'K': case 'k': mul = 1ULL << 10; end++; break;
    case 'M': case 'm': mul = 1ULL << 20; end++; break;
    case 'G': case 'g': mul = 1ULL << 30; end++; break;
    default: break;
    }
    if (*end != '\0' || (v != 0 && v > ULLONG_MAX / mul)) {
        return -1;
    }
    *out = v * mul;
    return 0;
}

/* ---- secrets ------------------------------------------------------------ */

static void on_sigint(int sig)
{
    (void)sig;
    tc_interrupted = 1;
}

void tc_install_sigint(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: blocking reads return EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int tc_stdin_is_tty(void)
{
    return isatty(STDIN_FILENO);
}

int tc_stdout_is_tty(void)
{
    return isatty(STDOUT_FILENO);
}

static void strip_eol(char *buf, size_t *len)
{
    while (*len > 0 && (buf[*len - 1] == '\n' || buf[*len - 1] == '\r')) {
        buf[--*len] = '\0';
    }
}

static int read_secret_stdin(char *buf, size_t buflen)
{
    size_t len;
    if (fgets(buf, (int)buflen, stdin) == NULL) {
        tc_err("no secret on standard input");
        return -1;
    }
    len = strlen(buf);
    if (len == buflen - 1 && buf[len - 1] != '\n') {
        tc_err("secret on standard input is too long (max %zu bytes)", buflen - 2);
        return -1;
    }
    strip_eol(buf, &len);
    return (int)len;
}

/* Reads a line from fd byte by byte; -1 on EOF/error/interrupt/overflow. */
static int read_fd_line(int fd, char *buf, size_t buflen)
{
    size_t len = 0;
    for (;;) {
        char ch;
        ssize_t r = read(fd, &ch, 1);
        if (r < 0 && errno == EINTR && !tc_interrupted) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        if (ch == '\n') {
            break;
        }
        if (len + 1 >= buflen) {
            return -2;
        }
        buf[len++] = ch;
    }
    buf[len] = '\0';
    strip_eol(buf, &len);
    return (int)len;
}

/* Reads one line from /dev/tty, echo as given; restores terminal and signal handler. */
static int read_tty(const char *prompt, int echo, char *buf, size_t buflen)
{
    struct termios old, raw;
    struct sigaction sa, oldsa;
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC), n, had_old;
    if (fd < 0) {
        tc_err("no terminal to ask on (use the --*-stdin option)");
        return -1;
    }
    had_old = tcgetattr(fd, &old) == 0;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &oldsa);
    if (write(fd, prompt, strlen(prompt)) < 0) { /* best effort */ }
    if (had_old && !echo) {
        raw = old;
        raw.c_lflag &= ~(tcflag_t)ECHO;
        raw.c_lflag |= ECHONL;
        tcsetattr(fd, TCSAFLUSH, &raw);
    }
    n = read_fd_line(fd, buf, buflen);
    if (had_old && !echo) {
        tcsetattr(fd, TCSAFLUSH, &old);
    }
    if (n < 0 && tc_interrupted && write(fd, "\n", 1) < 0) { /* best effort */ }
    close(fd);
    sigaction(SIGINT, &oldsa, NULL);
    if (n == -2) {
        tc_err("input is too long (max %zu bytes)", buflen - 2);
    } else if (n < 0 && tc_interrupted && oldsa.sa_handler == SIG_DFL) {
        raise(SIGINT); /* terminal restored: now die as the user asked */
    } else if (n < 0) {
        tc_err(tc_interrupted ? "interrupted" : "no input");
    }
    return n < 0 ? -1 : n;
}

int tc_read_secret(const char *prompt, int from_stdin, char *buf, size_t buflen)
{
    if (from_stdin) {
        return read_secret_stdin(buf, buflen);
    }
    return read_tty(prompt, 0, buf, buflen);
}

int tc_read_new_secret(const char *prompt, const char *again, int from_stdin, char *buf,
                       size_t buflen)
{
    char *second;
    int n, m;
    n = tc_read_secret(prompt, from_stdin, buf, buflen);
    if (n < 0 || from_stdin) {
        return n;
    }
    second = malloc(buflen);
    if (second == NULL) {
        tc_err("out of memory");
        return -1;
    }
    m = tc_read_secret(again, 0, second, buflen);
    if (m >= 0 && (m != n || memcmp(buf, second, (size_t)n) != 0)) {
        tc_err("the two entries do not match; nothing changed");
        m = -1;
    }
    memset(second, 0, buflen);
    free(second);
    return m < 0 ? -1 : n;
}

int tc_read_line_tty(const char *prompt, char *buf, size_t buflen)
{
    return read_tty(prompt, 1, buf, buflen);
}

/* ---- files -------------------------------------------------------------- */

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Creates path exclusively and writes it (fallback where hard links are unsupported). */
static int write_exclusive_direct(const char *path, const void *data, size_t len, int mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode), e;
    if (fd < 0) {
        return -1;
    }
    if (fchmod(fd, (mode_t)mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        e = errno;
        close(fd);
        unlink(path);
        errno = e;
        return -1;
    }
    return close(fd);
}

int tc_write_file(const char *path, const void *data, size_t len, int mode, int exclusive)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    int fd, e = 0, rc;
    if (tmp == NULL) {
        errno = ENOMEM;
        return -1;
    }
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        free(tmp);
        return -1;
    }
    if (fchmod(fd, (mode_t)mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        e = errno;
    }
    if (close(fd) != 0 && e == 0) {
        e = errno;
    }
    if (e == 0 && exclusive) {
        rc = link(tmp, path);
        if (rc != 0 && errno != EEXIST) {
            rc = write_exclusive_direct(path, data, len, mode);
        }
        e = rc != 0 ? errno : 0;
        unlink(tmp);
    } else if (e == 0) {
        e = rename(tmp, path) != 0 ? errno : 0;
    }
    if (e != 0) {
        unlink(tmp);
    }
    free(tmp);
    errno = e;
    return e == 0 ? 0 : -1;
}

char *tc_read_file(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    size_t cap = 4096, n = 0;
    char *buf;
    if (f == NULL) {
        return NULL;
    }
    buf = malloc(cap);
    while (buf != NULL) {
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) {
            break;
        }
        if (cap - n - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (buf != NULL && ferror(f)) {
        free(buf);
        buf = NULL;
        errno = EIO;
    }
    if (f != stdin) {
        fclose(f);
    }
    if (buf == NULL) {
        return NULL;
    }
    buf[n] = '\0';
    if (len) {
        *len = n;
    }
    return buf;
}

/* ---- Redis -------------------------------------------------------------- */

static redisContext *redis_open(const fg_redis_target_t *t, struct timeval tv)
{
    redisContext *c;
    if (t->unix_path[0]) {
        c = redisConnectUnixWithTimeout(t->unix_path, tv);
    } else {
        c = redisConnectWithTimeout(t->host, t->port, tv);
    }
    if (c == NULL) {
        tc_err("cannot connect to Redis: out of memory");
        return NULL;
    }
    if (c->err) {
        if (t->unix_path[0]) {
            tc_err("cannot connect to Redis at %s: %s (check --redis and that Redis runs)",
                   t->unix_path, c->errstr);
        } else {
            tc_err("cannot connect to Redis at %s:%d: %s (check --redis and that Redis runs)",
                   t->host, t->port, c->errstr);
        }
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

/* AUTH and SELECT as the URL asks; 0, or TC_REDIS_DOWN / TC_REDIS_REFUSED after a
 * message. */
static int redis_login(redisContext *c, const fg_redis_target_t *t)
{
    redisReply *r = NULL;
    int rc = 0;
    if (t->user[0]) {
        r = redisCommand(c, "AUTH %s %s", t->user, t->password);
    } else if (t->password[0]) {
        r = redisCommand(c, "AUTH %s", t->password);
    }
    if ((t->user[0] || t->password[0]) && (r == NULL || r->type == REDIS_REPLY_ERROR)) {
        tc_err("Redis refused the credentials in --redis: %s",
               r ? r->str : c->errstr);
        rc = r ? TC_REDIS_REFUSED : TC_REDIS_DOWN;
    } else if (t->db != 0) {
        if (r) {
            freeReplyObject(r);
        }
        r = redisCommand(c, "SELECT %d", t->db);
        rc = r == NULL ? TC_REDIS_DOWN : r->type == REDIS_REPLY_ERROR ? TC_REDIS_REFUSED : 0;
        if (rc != 0) {
            tc_err("Redis SELECT %d failed: %s", t->db, r ? r->str : c->errstr);
        }
    }
    if (r) {
        freeReplyObject(r);
    }
    return rc;
}

redisContext *tc_redis_connect(const char *url, int timeout_ms, int *why)
{
    fg_redis_target_t t;
    char err[256] = "";
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    redisContext *c;
    int rc = 0;
    if (fg_redis_url_parse(url, &t, err, sizeof(err)) != FG_OK) {
        tc_err("bad --redis URL: %s", err[0] ? err : "cannot parse");
        rc = TC_REDIS_BAD_URL;
        c = NULL;
    } else if ((c = redis_open(&t, tv)) == NULL) {
        rc = TC_REDIS_DOWN;
    } else if ((rc = redis_login(c, &t)) != 0) {
        redisFree(c);
        c = NULL;
    }
    memset(t.password, 0, sizeof(t.password));
    if (why) {
        *why = rc;
    }
    return c;
}
