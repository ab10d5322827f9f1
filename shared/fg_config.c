/* fg_config.c - the configuration model: parse and validate directives, merge, defaults. */
#include "fg_internal.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#define FG_DEFAULT_REDIS "redis://127.0.0.1:6379/0"
#define FG_DEFAULT_PREFIX "/freigabe"
#define FG_DEFAULT_HEADER_PREFIX "X-Freigabe-"
#define FG_DEFAULT_TIMEOUT_MS 2000
#define FG_DEFAULT_HASH_CONCURRENCY 4
#define FG_MAX_PATH 1024
#define FG_MAX_NAME 256

/* ------------------------------------------------------------------------ */
/* Small helpers.                                                            */

/* Writes a message into err (if any) and returns FG_ERR_INVAL. */
static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return FG_ERR_INVAL;
}

/* A printable, bounded copy of a user value for messages (control bytes become '?'). */
static const char *shown(const char *v, char *tmp, size_t n)
{
    size_t i = 0;

    for (; v[i] != '\0' && i + 1 < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        tmp[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    tmp[i] = '\0';
    if (v[i] != '\0' && n > 4) {
        memcpy(tmp + n - 4, "...", 4);
    }
    return tmp;
}

/* "invalid value "<v>": expected <what>" */
static int bad_value(char *err, size_t errlen, const char *v, const char *what)
{
    char tmp[80];
    return fail(err, errlen, "invalid value \"%s\": expected %s", shown(v, tmp, sizeof tmp),
                what);
}

/* Replaces *slot with a copy of v. */
static int set_str(char **slot, const char *v)
{
    char *copy = strdup(v);

    if (copy == NULL) {
        return FG_ERR_NOMEM;
    }
    free(*slot);
    *slot = copy;
    return FG_OK;
}

/* Unsigned decimal with nothing after it; returns 0 on success. */
static int parse_digits(const char *s, size_t n, long long *out)
{
    long long v = 0;

    if (n == 0 || n > 15) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Number followed by a unit from `units` (suffix -> multiplier, "" = bare number).
 * Returns 0 and the scaled value, or -1. */
typedef struct {
    const char *suffix;
    long long mul;
} unit_t;

static int parse_scaled(const char *v, const unit_t *units, long long *out)
{
    size_t digits = strspn(v, "0123456789");
    long long n;

    if (parse_digits(v, digits, &n) != 0) {
        return -1;
    }
    for (const unit_t *u = units; u->suffix != NULL; u++) {
        if (strcmp(v + digits, u->suffix) == 0) {
            if (n > 0 && u->mul > 0 && n > (long long)(9e18 / (double)u->mul)) {
                return -1;
            }
            *out = n * u->mul;
            return 0;
        }
    }
    return -1;
}

static const unit_t duration_units[] = {
    {"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}, {NULL, 0}};
static const unit_t ms_units[] = {{"", 1000}, {"s", 1000}, {"ms", 1}, {"m", 60000}, {NULL, 0}};
static const unit_t size_units[] = {
    {"", 1}, {"k", 1024}, {"K", 1024}, {"M", 1024 * 1024}, {"G", 1024LL * 1024 * 1024},
    {NULL, 0}};

/* Duration in seconds within [min,max] into *slot. */
static int set_duration(int *slot, const char *v, long long min, long long max, char *err,
                        size_t errlen)
{
    long long n;

    if (parse_scaled(v, duration_units, &n) != 0) {
        return bad_value(err, errlen, v, "a duration like 120s or 2m");
    }
    if (n < min || n > max) {
        return fail(err, errlen, "invalid value \"%s\": must be between %llds and %llds", v,
                    min, max);
    }
    *slot = (int)n;
    return FG_OK;
}

/* Plain integer within [min,max] into *slot. */
static int set_int(int *slot, const char *v, long long min, long long max, char *err,
                   size_t errlen)
{
    long long n;
    char tmp[80];

    if (parse_digits(v, strlen(v), &n) != 0 || n < min || n > max) {
        return fail(err, errlen, "invalid value \"%s\": expected a number from %lld to %lld",
                    shown(v, tmp, sizeof tmp), min, max);
    }
    *slot = (int)n;
    return FG_OK;
}

static int is_path_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_' || ch == '~' || ch == '/';
}

/* tchar of RFC 9110 §5.6.2. */
static int is_tchar(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Printable ASCII without spaces, quotes and backslashes (safe in JSON, keys, logs). */
static int is_plain_text(const char *v, size_t max)
{
    size_t n = strlen(v);

    if (n == 0 || n > max) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Lifecycle.                                                                */

/* fg_config_new: a configuration with every value unset (ints -1, strings NULL).
 * Returns NULL on OOM; free with fg_config_free. */
fg_config_t *fg_config_new(void)
{
    fg_config_t *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        return NULL;
    }
    c->code_mode = c->code_length = c->challenge_timeout = -1;
    c->session_idle = c->session_max = -1;
    c->min_android = c->min_ios = -1;
    c->argon2_ops = c->argon2_mem = -1;
    c->hash_concurrency = c->redis_timeout_ms = c->secure_cookies = -1;
    c->login_max_fail = c->login_ip_max_fail = c->fail_window = -1;
    c->challenge_max = c->notme_cooldown = c->poll_interval = -1;
    return c;
}

/* fg_config_free: frees the strings, the keyring (wiping secrets) and c. NULL is fine. */
void fg_config_free(fg_config_t *c)
{
    if (c == NULL) {
        return;
    }
    free(c->redis_url);
    free(c->key_file);
    free(c->prefix);
    free(c->header_prefix);
    free(c->min_app);
    free(c->key_prefix);
    free(c->default_path);
    free(c->lang);
    free(c->issuer);
    free(c->audience);
    free(c->metrics_allow);
    free(c->branding_dir);
    fg_keyring_free(c->keys);
    fg_branding_free(c->branding);
    free(c);
}

/* ------------------------------------------------------------------------ */
/* Directive setters.                                                        */

static int set_redis(fg_config_t *c, const char *v, char *err, size_t errlen)
{
    fg_redis_target_t t;

    if (fg_redis_url_parse(v, &t, err, errlen) != FG_OK) {
        return FG_ERR_INVAL;
    }
    sodium_memzero(&t, sizeof(t));
    return set_str(&c->redis_url, v);
}

/* A file system path: 1..FG_MAX_PATH bytes without control characters. */
static int is_path(const char *v)
{
    size_t n = strlen(v);

    if (n == 0 || n > FG_MAX_PATH) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static int set_key_file(fg_config_t *c, const char *v, char *err, size_t errlen)
{
    if (!is_path(v)) {
        return bad_value(err, errlen, v, "the path of a key file");
    }
    return set_str(&c->key_file, v);
}

/* Only recorded here; the directory is read and checked by finalize. */
static int set_branding_dir(fg_config_t *c, const char *v, char *err, size_t errlen)
{
    if (!is_path(v) || v[0] != '/') {
        return bad_value(err, errlen, v, "the absolute path of a directory");
    }
    return set_str(&c->branding_dir, v);
}

/* prefix: "/freigabe" style, one trailing slash stripped, safe characters only, no empty,
 * "." or ".." segments. */
static int set_prefix(fg_config_t *c, const char *v, char *err, size_t errlen)
{
    const char *what = "a path like /freigabe (letters, digits, - . _ ~ /)";
    size_t n = strlen(v);

    if (n > 1 && v[n - 1] == '/') {
        n--;
    }
    if (n < 2 || n > 128 || v[0] != '/' || v[n - 1] == '/') {
        return bad_value(err, errlen, v, what);
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_path_char(v[i]) || (v[i] == '/' && i + 1 < n && v[i + 1] == '/')) {
            return bad_value(err, errlen, v, what);
        }
        if (v[i] == '/' && v[i + 1] == '.' &&
            (i + 2 >= n || v[i + 2] == '/' || (v[i + 2] == '.' && (i + 3 >= n || v[i + 3] == '/')))) {
            return bad_value(err, errlen, v, what);
        }
    }
    char *copy = strndup(v, n);
    if (copy == NULL) {
        return FG_ERR_NOMEM;
    }
    free(c->prefix);
    c->prefix = copy;
    return FG_OK;
}

static int set_code_mode(fg_config_t *c, const char *v, char *err, size_t errlen)
{
    if (strcmp(v, "compare") == 0) {
        c->code_mode = FG_CODE_COMPARE;
    } else if (strcmp(v, "enter") == 0) {
        c->code_mode = FG_CODE_ENTER;
    } else {
        return bad_value(err, errlen, v, "compare or enter");
    }
    return FG_OK;
}

static int set_header_prefix(fg_config_t *c, const char *v, char *err, size_t errlen)
{
    size_t n = strlen(v);

    if (n < 2 || n > 64 || v[n - 1] != '-') {
        return bad_value(err, errlen, v, "a header name prefix ending in '-', like X-Freigabe-");
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_tchar(v[i])) {
            return bad_value(err, errlen, v, "a header name prefix ending in '-', like X-Freigabe-");
        }
    }
    /* Inbound headers under the prefix are removed on every request: a prefix that also
     * covers headers the app, the proxies or HTTP itself need would silently drop them. */
    static const char *const also[] = {"Cookie", "Content-Length", "X-Forwarded-For",
                                       "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-IP"};
    size_t nr = 0;
    while (fg_request_headers[nr].name != NULL) {
        nr++;
    }
    for (size_t i = 0; i < nr + sizeof(also) / sizeof(also[0]); i++) {
        const char *h = i < nr ? fg_request_headers[i].name : also[i - nr];
        if (strlen(h) >= n && fg_strncasecmp(h, v, n) == 0) {
            return fail(err, errlen, "invalid value \"%s\": it would also remove the %s header "
                        "from every request; choose a prefix of your own, like X-Freigabe-",
                        v, h);
        }
    }
    return set_str(&c->header_prefix, v);
}

/* "X.Y[.Z[.W]]" with numeric parts. */
static int is_version(const char *v, size_t n)
{
    int parts = 1, digits = 0;

    if (n == 0 || n > 32) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '.') {
            if (digits == 0) {
                return 0;
            }
            parts++;
            digits = 0;
        } else if (v[i] >= '0' && v[i] <= '9') {
            digits++;
        } else {
            return 0;
        }
    }
    return digits > 0 && parts <= 4;
}

/* One "key=value" item of min_client; `seen` guards duplicates. */
static int min_client_item(fg_config_t *c, const char *it, size_t n, int *seen, char **app,
                           char *err, size_t errlen)
{
    const char *eq = memchr(it, '=', n);
    size_t kl = eq != NULL ? (size_t)(eq - it) : n;
    const char *val = eq != NULL ? eq + 1 : "";
    size_t vl = eq != NULL ? n - kl - 1 : 0;
    long long num;
    int idx;

    if (kl == 7 && memcmp(it, "android", 7) == 0) {
        idx = 0;
    } else if (kl == 3 && memcmp(it, "ios", 3) == 0) {
        idx = 1;
    } else if (kl == 3 && memcmp(it, "app", 3) == 0) {
        idx = 2;
    } else {
        return fail(err, errlen, "unknown item \"%.*s\": expected android=N, ios=N or app=X.Y.Z",
                    (int)(kl > 40 ? 40 : kl), it);
    }
    if (seen[idx]++) {
        return fail(err, errlen, "\"%.*s\" given twice", (int)kl, it);
    }
    if (idx == 2) {
        if (!is_version(val, vl)) {
            return fail(err, errlen, "invalid app version \"%.*s\": expected X.Y or X.Y.Z",
                        (int)(vl > 40 ? 40 : vl), val);
        }
        *app = strndup(val, vl);
        return *app != NULL ? FG_OK : FG_ERR_NOMEM;
    }
    if (parse_digits(val, vl, &num) != 0 || num > 99) {
        return fail(err, errlen, "invalid %.*s version \"%.*s\": expected a number from 0 to 99",
                    (int)kl, it, (int)(vl > 40 ? 40 : vl), val);
    }
    *(idx == 0 ? &c->min_android : &c->min_ios) = (int)num;
    return FG_OK;
}

/* min_client: "android=11 ios=15 app=2.4.0", any subset, any order, spaces or commas. */
static int set_min_client(fg_config_t *c, const char *v, char *err, size_t errlen)
{
    fg_config_t tmp = *c;
    int seen[3] = {0, 0, 0};
    char *app = NULL;
    const char *p = v;
    int rc = FG_OK;

    while (rc == FG_OK && *p != '\0') {
        size_t n;
        p += strspn(p, " \t,");
        n = strcspn(p, " \t,");
        if (n > 0) {
            rc = min_client_item(&tmp, p, n, seen, &app, err, errlen);
        }
        p += n;
    }
    if (rc == FG_OK && !seen[0] && !seen[1] && !seen[2]) {
        rc = bad_value(err, errlen, v, "items like android=11 ios=15 app=2.4.0");
    }
    if (rc != FG_OK) {
        free(app);
        return rc;
    }
    c->min_android = tmp.min_android;
    c->min_ios = tmp.min_ios;
    if (app != NULL) {
        free(c->min_app);
        c->min_app = app;
    }
    return FG_OK;
}

static int set_key_prefix(fg_config_t *c, const char *v, char *err, size_t errlen)
{
    if (!is_plain_text(v, 64) || strpbrk(v, "{}") != NULL) {
        return bad_value(err, errlen, v, "up to 64 printable characters without spaces or {}");
    }
    return set_str(&c->key_prefix, v);
}

static int set_default_path(fg_config_t *c, const char *v, char *err, size_t errlen)
{
    fg_arena_t *a = fg_arena_new();
    const char *ok;

    if (a == NULL) {
        return FG_ERR_NOMEM;
    }
    ok = fg_return_path(a, v, NULL);
    fg_arena_free(a);
    if (ok == NULL || strlen(v) > FG_MAX_PATH) {
        return bad_value(err, errlen, v, "a path on this site, like /portal/");
    }
    return set_str(&c->default_path, v);
}

static int set_lang(fg_config_t *c, const char *v, char *err, size_t errlen)
{
    if (strcmp(v, "de") != 0 && strcmp(v, "en") != 0) {
        return bad_value(err, errlen, v, "de or en");
    }
    return set_str(&c->lang, v);
}

#define FG_ARGON2_OPS_MAX 10
#define FG_ARGON2_MEM_MAX (4LL * 1024 * 1024 * 1024)

static int set_argon2_ops(fg_config_t *c, const char *v, char *err, size_t errlen)
{
    long long n;
    char tmp[80];

    /* libsodium's SENSITIVE limit is 4 passes; beyond 10 a login costs seconds of CPU (and
     * the start-up check, which hashes once with these limits, would seem to hang) */
    if (parse_digits(v, strlen(v), &n) != 0 || n < (long long)crypto_pwhash_OPSLIMIT_MIN ||
        n > FG_ARGON2_OPS_MAX) {
        return fail(err, errlen, "invalid value \"%s\": expected a number of passes from %llu to %d",
                    shown(v, tmp, sizeof tmp), (unsigned long long)crypto_pwhash_OPSLIMIT_MIN,
                    FG_ARGON2_OPS_MAX);
    }
    c->argon2_ops = n;
    return FG_OK;
}

static int set_argon2_mem(fg_config_t *c, const char *v, char *err, size_t errlen)
{
    long long n;
    char tmp[80];

    /* every password check at once holds this much (FreigabeHashConcurrency of them per
     * process): more than 4G per check is a typo, not a policy */
    if (parse_scaled(v, size_units, &n) != 0 || n < (long long)crypto_pwhash_MEMLIMIT_MIN ||
        n > FG_ARGON2_MEM_MAX) {
        return fail(err, errlen,
                    "invalid value \"%s\": expected a memory size like 64M (%lluk to 4G)",
                    shown(v, tmp, sizeof tmp),
                    (unsigned long long)crypto_pwhash_MEMLIMIT_MIN / 1024);
    }
    c->argon2_mem = n;
    return FG_OK;
}

static int set_redis_timeout(fg_config_t *c, const char *v, char *err, size_t errlen)
{
    long long ms;

    if (parse_scaled(v, ms_units, &ms) != 0) {
        return bad_value(err, errlen, v, "a timeout like 2s, 500ms or 1m");
    }
    if (ms < 10 || ms > 60000) {
        return fail(err, errlen, "invalid value \"%s\": must be between 10ms and 60s", v);
    }
    c->redis_timeout_ms = (int)ms;
    return FG_OK;
}

static int set_jwt_name(char **slot, const char *v, char *err, size_t errlen)
{
    if (!is_plain_text(v, FG_MAX_NAME)) {
        return bad_value(err, errlen, v, "a name without spaces or quotes");
    }
    return set_str(slot, v);
}

/* metrics_allow: IPv4/IPv6 addresses separated by spaces or commas; stored normalized
 * as one space-separated list. */
static int set_metrics_allow(fg_config_t *c, const char *v, char *err, size_t errlen)
{
    char out[1024] = "";
    const char *p = v;
    size_t used = 0;

    while (*p != '\0') {
        char ip[INET6_ADDRSTRLEN + 1];
        unsigned char bin[16];
        size_t n;
        p += strspn(p, " \t,");
        n = strcspn(p, " \t,");
        if (n == 0) {
            break;
        }
        memcpy(ip, p, n < sizeof ip ? n : sizeof ip - 1);
        ip[n < sizeof ip ? n : sizeof ip - 1] = '\0';
        if (n >= sizeof ip || (inet_pton(AF_INET, ip, bin) != 1 && inet_pton(AF_INET6, ip, bin) != 1)) {
            return fail(err, errlen, "invalid address \"%.*s\": expected IP addresses like 127.0.0.1 ::1",
                        (int)(n > 40 ? 40 : n), p);
        }
        if (used + n + 2 > sizeof out) {
            return fail(err, errlen, "too many addresses");
        }
        used += (size_t)snprintf(out + used, sizeof out - used, "%s%s", used ? " " : "", ip);
        p += n;
    }
    if (used == 0) {
        return bad_value(err, errlen, v, "IP addresses like 127.0.0.1 ::1");
    }
    return set_str(&c->metrics_allow, out);
}

static int set_secure_cookies(fg_config_t *c, const char *v, char *err, size_t errlen)
{
    if (strcmp(v, "off") == 0) {
        c->secure_cookies = 0;
    } else if (strcmp(v, "on") == 0) {
        c->secure_cookies = 1;
    } else if (strcmp(v, "auto") == 0) {
        c->secure_cookies = 2;
    } else {
        return bad_value(err, errlen, v, "on, off or auto");
    }
    return FG_OK;
}

/* Dispatch for the directives whose value is one integer or duration. */
static int set_number(fg_config_t *c, const char *name, const char *v, char *err,
                      size_t errlen, int *handled)
{
    *handled = 1;
    if (strcmp(name, "code_length") == 0) {
        return set_int(&c->code_length, v, 4, 8, err, errlen);
    }
    if (strcmp(name, "challenge_timeout") == 0) {
        return set_duration(&c->challenge_timeout, v, 10, 3600, err, errlen);
    }
    if (strcmp(name, "session_idle") == 0) {
        return set_duration(&c->session_idle, v, 60, 86400, err, errlen);
    }
    if (strcmp(name, "session_max") == 0) {
        return set_duration(&c->session_max, v, 60, 30 * 86400, err, errlen);
    }
    if (strcmp(name, "hash_concurrency") == 0) {
        return set_int(&c->hash_concurrency, v, 1, 256, err, errlen);
    }
    if (strcmp(name, "login_max_fail") == 0) {
        return set_int(&c->login_max_fail, v, 1, 1000, err, errlen);
    }
    if (strcmp(name, "login_ip_max_fail") == 0) {
        return set_int(&c->login_ip_max_fail, v, 1, 100000, err, errlen);
    }
    if (strcmp(name, "fail_window") == 0) {
        return set_duration(&c->fail_window, v, 10, 86400, err, errlen);
    }
    if (strcmp(name, "challenge_max") == 0) {
        return set_int(&c->challenge_max, v, 1, 1000, err, errlen);
    }
    if (strcmp(name, "notme_cooldown") == 0) {
        return set_duration(&c->notme_cooldown, v, 0, 86400, err, errlen);
    }
    if (strcmp(name, "poll_interval") == 0) {
        return set_duration(&c->poll_interval, v, 1, 60, err, errlen);
    }
    *handled = 0;
    return FG_OK;
}

/* Dispatch for the directives with their own syntax. */
static int set_other(fg_config_t *c, const char *name, const char *v, char *err,
                     size_t errlen)
{
    static const struct {
        const char *name;
        int (*fn)(fg_config_t *, const char *, char *, size_t);
    } table[] = {
        {"redis", set_redis},
        {"key_file", set_key_file},
        {"branding_dir", set_branding_dir},
        {"prefix", set_prefix},
        {"code_mode", set_code_mode},
        {"header_prefix", set_header_prefix},
        {"min_client", set_min_client},
        {"key_prefix", set_key_prefix},
        {"default_path", set_default_path},
        {"lang", set_lang},
        {"argon2_ops", set_argon2_ops},
        {"argon2_mem", set_argon2_mem},
        {"redis_timeout", set_redis_timeout},
        {"metrics_allow", set_metrics_allow},
        {"secure_cookies", set_secure_cookies},
    };
    char tmp[80];

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (strcmp(name, table[i].name) == 0) {
            return table[i].fn(c, v, err, errlen);
        }
    }
    if (strcmp(name, "issuer") == 0) {
        return set_jwt_name(&c->issuer, v, err, errlen);
    }
    if (strcmp(name, "audience") == 0) {
        return set_jwt_name(&c->audience, v, err, errlen);
    }
    return fail(err, errlen, "unknown directive \"%s\"", shown(name, tmp, sizeof tmp));
}

/* fg_config_set: sets directive `name` (neutral name, see fg.h) from `value`. Returns
 * FG_OK, FG_ERR_INVAL with a message naming the bad value in err (not the directive),
 * or FG_ERR_NOMEM. On error c is unchanged. */
int fg_config_set(fg_config_t *c, const char *name, const char *value, char *err,
                  size_t errlen)
{
    int handled, rc;

    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }
    if (c == NULL || name == NULL || value == NULL) {
        return fail(err, errlen, "missing value");
    }
    rc = set_number(c, name, value, err, errlen, &handled);
    return handled ? rc : set_other(c, name, value, err, errlen);
}

/* ------------------------------------------------------------------------ */
/* Merge and finalize.                                                       */

static int merge_str(char **dst, const char *parent, const char *child)
{
    const char *v = child != NULL ? child : parent;

    if (v == NULL) {
        return FG_OK;
    }
    *dst = strdup(v);
    return *dst != NULL ? FG_OK : FG_ERR_NOMEM;
}

#define MERGE_NUM(f) m->f = (ch->f != -1 ? ch->f : pa->f)

/* fg_config_merge: a new configuration where each value set in `child` wins over
 * `parent` (either may be NULL). Strings are copied; keys are not (NULL in the result).
 * Returns NULL on OOM; free with fg_config_free. */
fg_config_t *fg_config_merge(const fg_config_t *parent, const fg_config_t *child)
{
    fg_config_t *empty = fg_config_new();
    fg_config_t *m = fg_config_new();
    const fg_config_t *pa = parent != NULL ? parent : empty;
    const fg_config_t *ch = child != NULL ? child : empty;
    int rc = FG_OK;

    if (empty == NULL || m == NULL) {
        fg_config_free(empty);
        fg_config_free(m);
        return NULL;
    }
    MERGE_NUM(code_mode);
    MERGE_NUM(code_length);
    MERGE_NUM(challenge_timeout);
    MERGE_NUM(session_idle);
    MERGE_NUM(session_max);
    MERGE_NUM(min_android);
    MERGE_NUM(min_ios);
    MERGE_NUM(argon2_ops);
    MERGE_NUM(argon2_mem);
    MERGE_NUM(hash_concurrency);
    MERGE_NUM(redis_timeout_ms);
    MERGE_NUM(secure_cookies);
    MERGE_NUM(login_max_fail);
    MERGE_NUM(login_ip_max_fail);
    MERGE_NUM(fail_window);
    MERGE_NUM(challenge_max);
    MERGE_NUM(notme_cooldown);
    MERGE_NUM(poll_interval);
    rc |= merge_str(&m->redis_url, pa->redis_url, ch->redis_url);
    rc |= merge_str(&m->key_file, pa->key_file, ch->key_file);
    rc |= merge_str(&m->prefix, pa->prefix, ch->prefix);
    rc |= merge_str(&m->header_prefix, pa->header_prefix, ch->header_prefix);
    rc |= merge_str(&m->min_app, pa->min_app, ch->min_app);
    rc |= merge_str(&m->key_prefix, pa->key_prefix, ch->key_prefix);
    rc |= merge_str(&m->default_path, pa->default_path, ch->default_path);
    rc |= merge_str(&m->lang, pa->lang, ch->lang);
    rc |= merge_str(&m->issuer, pa->issuer, ch->issuer);
    rc |= merge_str(&m->audience, pa->audience, ch->audience);
    rc |= merge_str(&m->metrics_allow, pa->metrics_allow, ch->metrics_allow);
    rc |= merge_str(&m->branding_dir, pa->branding_dir, ch->branding_dir);
    fg_config_free(empty);
    if (rc != FG_OK) {
        fg_config_free(m);
        return NULL;
    }
    return m;
}

#define DEFAULT_NUM(f, v)                                                                  \
    do {                                                                                   \
        if (c->f == -1) {                                                                  \
            c->f = (v);                                                                    \
        }                                                                                  \
    } while (0)

static int default_str(char **slot, const char *v)
{
    if (*slot != NULL) {
        return FG_OK;
    }
    *slot = strdup(v);
    return *slot != NULL ? FG_OK : FG_ERR_NOMEM;
}

/* Fills every unset value; min_app stays NULL (any app version). */
static int apply_defaults(fg_config_t *c)
{
    int rc = FG_OK;

    DEFAULT_NUM(code_mode, FG_CODE_COMPARE);
    DEFAULT_NUM(code_length, 6);
    DEFAULT_NUM(challenge_timeout, 120);
    DEFAULT_NUM(session_idle, 900);
    DEFAULT_NUM(session_max, 28800);
    DEFAULT_NUM(min_android, 11);
    DEFAULT_NUM(min_ios, 15);
    DEFAULT_NUM(argon2_ops, (long long)crypto_pwhash_OPSLIMIT_INTERACTIVE);
    DEFAULT_NUM(argon2_mem, (long long)crypto_pwhash_MEMLIMIT_INTERACTIVE);
    DEFAULT_NUM(hash_concurrency, FG_DEFAULT_HASH_CONCURRENCY);
    DEFAULT_NUM(redis_timeout_ms, FG_DEFAULT_TIMEOUT_MS);
    DEFAULT_NUM(secure_cookies, 2);
    DEFAULT_NUM(login_max_fail, 5);
    DEFAULT_NUM(login_ip_max_fail, 20);
    DEFAULT_NUM(fail_window, 900);
    DEFAULT_NUM(challenge_max, 5);
    DEFAULT_NUM(notme_cooldown, 300);
    DEFAULT_NUM(poll_interval, 2);
    rc |= default_str(&c->redis_url, FG_DEFAULT_REDIS);
    rc |= default_str(&c->prefix, FG_DEFAULT_PREFIX);
    rc |= default_str(&c->header_prefix, FG_DEFAULT_HEADER_PREFIX);
    rc |= default_str(&c->key_prefix, "freigabe:");
    rc |= default_str(&c->default_path, "/");
    rc |= default_str(&c->lang, "de");
    rc |= default_str(&c->issuer, "freigabe");
    rc |= default_str(&c->audience, "portal");
    rc |= default_str(&c->metrics_allow, "127.0.0.1 ::1");
    return rc != FG_OK ? FG_ERR_NOMEM : FG_OK;
}

static int cross_check(const fg_config_t *c, char *err, size_t errlen)
{
    if (c->session_idle > c->session_max) {
        return fail(err, errlen, "session_idle: %ds is longer than session_max (%ds)",
                    c->session_idle, c->session_max);
    }
    if (c->poll_interval >= c->challenge_timeout) {
        return fail(err, errlen, "poll_interval: %ds must be shorter than challenge_timeout (%ds)",
                    c->poll_interval, c->challenge_timeout);
    }
    return FG_OK;
}

/* fg_config_finalize: fills defaults, checks cross-field rules, loads the key file and the
 * branding directory (the only I/O in this file). Returns FG_OK, FG_ERR_INVAL (bad combination, key_file
 * unset), FG_ERR_IO (key file or branding could not be loaded) or FG_ERR_NOMEM; err then holds
 * "<directive>: <problem>". Calling it again reloads the keys. */
int fg_config_finalize(fg_config_t *c, char *err, size_t errlen)
{
    char msg[512] = "";
    int rc;

    if (c == NULL) {
        return fail(err, errlen, "no configuration");
    }
    rc = apply_defaults(c);
    if (rc != FG_OK) {
        fail(err, errlen, "out of memory");
        return rc;
    }
    rc = cross_check(c, err, errlen);
    if (rc != FG_OK) {
        return rc;
    }
    if (c->key_file == NULL) {
        return fail(err, errlen, "key_file: not set (create one with freigabectl keygen)");
    }
    fg_keyring_free(c->keys);
    c->keys = fg_keyring_load(c->key_file, msg, sizeof msg);
    if (c->keys == NULL) {
        fail(err, errlen, "key_file: %s", msg[0] != '\0' ? msg : "cannot load the key file");
        return FG_ERR_IO;
    }
    /* Read now, once: requests only ever see the copy in memory. */
    fg_branding_free(c->branding);
    c->branding = NULL;
    if (c->branding_dir != NULL) {
        c->branding = fg_branding_load(c->branding_dir, err, errlen);
        if (c->branding == NULL) {
            return FG_ERR_IO;
        }
    }
    /* Made now, at start-up (Apache's children inherit it), so the first login with an
     * unknown customer number is not the one that pays for it. */
    if (fg_hash_dummy(c->argon2_ops, c->argon2_mem) == NULL) {
        return fail(err, errlen, "argon2_mem: cannot compute an Argon2id hash with these limits");
    }
    return FG_OK;
}

void fg_config_spell(const char *msg, const char *(*spell)(const char *word, void *ud),
                     void *ud, char *out, size_t outlen)
{
    size_t o = 0;

    if (outlen == 0) {
        return;
    }
    while (msg != NULL && *msg != '\0' && o + 1 < outlen) {
        size_t n = strspn(msg, "abcdefghijklmnopqrstuvwxyz0123456789_");
        const char *rep = NULL;
        char word[64];
        if (n > 0 && n < sizeof(word)) {
            memcpy(word, msg, n);
            word[n] = '\0';
            rep = spell(word, ud);
        }
        const char *src = rep != NULL ? rep : msg;
        size_t len = rep != NULL ? strlen(rep) : (n > 0 ? n : 1);
        for (size_t i = 0; i < len && o + 1 < outlen; i++) {
            out[o++] = src[i];
        }
        msg += n > 0 ? n : 1;
    }
    out[o] = '\0';
}

/* The '@' that ends the user info of an authority ("user:pass@host:port", up to the first
 * '/'): the last one, since a password may contain '@' itself. NULL when there is none.
 * The parser and the redaction for logs must agree on it. */
static const char *userinfo_end(const char *auth)
{
    const char *at = NULL;
    for (const char *p = auth; p != NULL && *p != '\0' && *p != '/'; p++) {
        if (*p == '@') {
            at = p;
        }
    }
    return at;
}

const char *fg_redis_url_redact(const char *url, char *buf, size_t len)
{
    const char *scheme = url ? strstr(url, "://") : NULL;
    const char *auth = scheme ? scheme + 3 : NULL;
    const char *at = userinfo_end(auth);

    if (len == 0) {
        return buf;
    }
    if (at == NULL) {
        snprintf(buf, len, "%s", url ? url : "");
    } else {
        snprintf(buf, len, "%.*s***%s", (int)(auth - url), url, at);
    }
    return buf;
}

/* ------------------------------------------------------------------------ */
/* Accessors: defaults apply even before finalize, so wrappers can use them early.  */

/* fg_config_session_idle: the idle timeout in seconds (after finalize). */
int fg_config_session_idle(const fg_config_t *c)
{
    return c != NULL && c->session_idle > 0 ? c->session_idle : 900;
}

/* fg_config_prefix: endpoint prefix without trailing slash (owned by c). */
const char *fg_config_prefix(const fg_config_t *c)
{
    return c != NULL && c->prefix != NULL ? c->prefix : FG_DEFAULT_PREFIX;
}

/* fg_config_redis_url: the Redis URL (owned by c). */
const char *fg_config_redis_url(const fg_config_t *c)
{
    return c != NULL && c->redis_url != NULL ? c->redis_url : FG_DEFAULT_REDIS;
}

/* fg_config_redis_timeout_ms: command/connect timeout in milliseconds. */
int fg_config_redis_timeout_ms(const fg_config_t *c)
{
    return c != NULL && c->redis_timeout_ms > 0 ? c->redis_timeout_ms : FG_DEFAULT_TIMEOUT_MS;
}

/* fg_config_hash_concurrency: how many Argon2id jobs may run at once. */
int fg_config_hash_concurrency(const fg_config_t *c)
{
    return c != NULL && c->hash_concurrency > 0 ? c->hash_concurrency
                                                 : FG_DEFAULT_HASH_CONCURRENCY;
}

/* fg_config_keys: the loaded keyring (owned by c), NULL before finalize. */
const fg_keyring_t *fg_config_keys(const fg_config_t *c)
{
    return c != NULL ? c->keys : NULL;
}

/* ------------------------------------------------------------------------ */
/* Redis URL.                                                                */

/* Percent-decodes s[0..n) into dst (size cap); rejects bad escapes, NUL and overflow. */
static int url_decode(const char *s, size_t n, char *dst, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)s[i];
        if (ch == '%') {
            unsigned int x;
            if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
                !isxdigit((unsigned char)s[i + 2]) || sscanf(s + i + 1, "%2x", &x) != 1) {
                return -1;
            }
            ch = (int)x;
            i += 2;
        }
        if (ch == 0 || o + 1 >= cap) {
            return -1;
        }
        dst[o++] = (char)ch;
    }
    dst[o] = '\0';
    return 0;
}

static int parse_db(const char *s, int *db, char *err, size_t errlen)
{
    long long n;

    if (*s == '\0') {
        *db = 0;
        return FG_OK;
    }
    if (parse_digits(s, strlen(s), &n) != 0 || n > 15) {
        return fail(err, errlen, "invalid database \"%.20s\": expected a number from 0 to 15", s);
    }
    *db = (int)n;
    return FG_OK;
}

/* unix:/path[?db=N] */
static int parse_unix(const char *rest, fg_redis_target_t *out, char *err, size_t errlen)
{
    const char *q = strchr(rest, '?');
    size_t n = q != NULL ? (size_t)(q - rest) : strlen(rest);
    struct sockaddr_un sun;

    if (n < 2 || rest[0] != '/') {
        return fail(err, errlen, "invalid unix socket URL: expected unix:/path/to/redis.sock");
    }
    if (n >= sizeof(sun.sun_path) || n >= sizeof(out->unix_path)) {
        return fail(err, errlen, "unix socket path is too long (at most %zu characters)",
                    sizeof(sun.sun_path) - 1);
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)rest[i] < 0x20 || rest[i] == 0x7f) {
            return fail(err, errlen, "invalid character in the unix socket path");
        }
    }
    memcpy(out->unix_path, rest, n);
    out->unix_path[n] = '\0';
    if (q == NULL) {
        return FG_OK;
    }
    if (strncmp(q, "?db=", 4) != 0) {
        return fail(err, errlen, "invalid option \"%.20s\": only ?db=N is understood", q);
    }
    return parse_db(q + 4, &out->db, err, errlen);
}

/* user:pass (or just pass) before '@', percent-decoded. */
static int parse_userinfo(const char *s, size_t n, fg_redis_target_t *out, char *err,
                          size_t errlen)
{
    const char *colon = memchr(s, ':', n);
    const char *pw = s;
    size_t pwl = n;

    if (colon != NULL) {
        if (url_decode(s, (size_t)(colon - s), out->user, sizeof(out->user)) != 0) {
            return fail(err, errlen, "invalid user name in the Redis URL");
        }
        pw = colon + 1;
        pwl = n - (size_t)(colon - s) - 1;
    }
    if (url_decode(pw, pwl, out->password, sizeof(out->password)) != 0) {
        return fail(err, errlen, "invalid password in the Redis URL (percent-encode special characters)");
    }
    return FG_OK;
}

static int valid_hostname(const char *h, size_t n, int bracketed)
{
    if (n == 0) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = h[i];
        int ok = isalnum((unsigned char)ch) || ch == '.' || (bracketed ? ch == ':' : ch == '-' || ch == '_');
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

/* host[:port] or [v6][:port] */
static int parse_hostport(const char *s, size_t n, fg_redis_target_t *out, char *err,
                          size_t errlen)
{
    const char *host = s, *port = NULL;
    size_t hl = n;
    int br = n > 0 && s[0] == '[';

    if (br) {
        const char *close = memchr(s, ']', n);
        if (close == NULL) {
            return fail(err, errlen, "invalid host: missing ']'");
        }
        host = s + 1;
        hl = (size_t)(close - host);
        if (close + 1 < s + n) {
            if (close[1] != ':') {
                return fail(err, errlen, "invalid host: expected ':' after ']'");
            }
            port = close + 2;
        }
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon != NULL) {
            hl = (size_t)(colon - s);
            port = colon + 1;
        }
    }
    if (!valid_hostname(host, hl, br) || hl >= sizeof(out->host)) {
        return fail(err, errlen, "invalid host \"%.*s\"", (int)(hl > 60 ? 60 : hl), host);
    }
    memcpy(out->host, host, hl);
    out->host[hl] = '\0';
    if (port != NULL) {
        long long p;
        size_t pl = (size_t)(s + n - port);
        if (parse_digits(port, pl, &p) != 0 || p < 1 || p > 65535) {
            return fail(err, errlen, "invalid port \"%.*s\": expected 1 to 65535",
                        (int)(pl > 20 ? 20 : pl), port);
        }
        out->port = (int)p;
    }
    return FG_OK;
}

/* fg_redis_url_parse: parses redis://[user:pass@]host[:port][/db] (port 6379 and db 0 by
 * default, db 0..15, userinfo percent-decoded) or unix:/path[?db=N] into *out.
 * Returns FG_OK or FG_ERR_INVAL with a message in err. */
int fg_redis_url_parse(const char *url, fg_redis_target_t *out, char *err, size_t errlen)
{
    const char *rest, *slash, *at;
    size_t alen;
    int rc;

    if (out == NULL || url == NULL) {
        return fail(err, errlen, "missing Redis URL");
    }
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (fg_strncasecmp(url, "unix:", 5) == 0) {
        rest = url + 5;
        if (strncmp(rest, "//", 2) == 0) {
            rest += 2; /* unix:///path */
        }
        return parse_unix(rest, out, err, errlen);
    }
    if (fg_strncasecmp(url, "rediss://", 9) == 0) {
        return fail(err, errlen, "rediss:// (TLS) is not supported; use redis:// or unix:");
    }
    if (fg_strncasecmp(url, "redis://", 8) != 0) {
        char shown[512];
        return bad_value(err, errlen, fg_redis_url_redact(url, shown, sizeof(shown)),
                         "redis://host:port/db or unix:/path");
    }
    rest = url + 8;
    slash = strchr(rest, '/');
    alen = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
    at = userinfo_end(rest);
    if (at != NULL) {
        rc = parse_userinfo(rest, (size_t)(at - rest), out, err, errlen);
        if (rc != FG_OK) {
            return rc;
        }
        alen -= (size_t)(at + 1 - rest);
        rest = at + 1;
    }
    rc = parse_hostport(rest, alen, out, err, errlen);
    if (rc != FG_OK) {
        return rc;
    }
    return slash != NULL ? parse_db(slash + 1, &out->db, err, errlen) : FG_OK;
}

/* ------------------------------------------------------------------------ */
/* Versions.                                                                 */

/* Leading number of a dotted part (0 when it has none), capped; advances *p past it. */
static long long version_part(const char **p)
{
    long long v = 0;
    const char *s = *p;

    while (*s >= '0' && *s <= '9') {
        if (v < 1000000000LL) {
            v = v * 10 + (*s - '0');
        }
        s++;
    }
    while (*s != '\0' && *s != '.') {
        s++;
    }
    if (*s == '.') {
        s++;
    }
    *p = s;
    return v;
}

/* fg_version_cmp: compares dotted versions part by part ("2.4" == "2.4.0"; missing and
 * non-numeric parts are 0; NULL is "0"). Returns <0, 0 or >0. */
int fg_version_cmp(const char *a, const char *b)
{
    const char *pa = a != NULL ? a : "";
    const char *pb = b != NULL ? b : "";

    while (*pa != '\0' || *pb != '\0') {
        long long x = version_part(&pa);
        long long y = version_part(&pb);
        if (x != y) {
            return x < y ? -1 : 1;
        }
    }
    return 0;
}
