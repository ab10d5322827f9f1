/* fg_device.c - the app's signed requests (Authorization: Freigabe-Device) and client version gating. */
#include "fg_internal.h"

#include <stdio.h>
#include <string.h>

#define FG_DEVAUTH_SCHEME "Freigabe-Device"
#define FG_HEADER_MAX 4096 /* longer Authorization / Freigabe-Client headers are refused */
#define FG_VALUE_MAX 512   /* one attribute value */
#define FG_TS_SKEW 60      /* seconds either side of the server clock */
#define FG_NONCE_MIN 16
#define FG_NONCE_MAX 64

static int fg_is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static const char *fg_skip_ows(const char *p)
{
    while (fg_is_ows(*p))
        p++;
    return p;
}

static int fg_is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

/* Reads `name = "value"` at *pp. Fills name/value spans and advances *pp past it.
 * Values are printable ASCII without '"' and '\\' (no escapes). 0 ok, -1 malformed. */
static int fg_param_read(const char **pp, const char **name, size_t *nlen,
                         const char **val, size_t *vlen)
{
    const char *p = *pp;
    *name = p;
    while (fg_is_name_char(*p))
        p++;
    *nlen = (size_t)(p - *name);
    p = fg_skip_ows(p);
    if (*nlen == 0 || *p != '=')
        return -1;
    p = fg_skip_ows(p + 1);
    if (*p != '"')
        return -1;
    *val = ++p;
    while (*p >= 0x21 && *p <= 0x7e && *p != '"' && *p != '\\')
        p++;
    *vlen = (size_t)(p - *val);
    if (*p != '"' || *vlen == 0 || *vlen > FG_VALUE_MAX)
        return -1;
    *pp = p + 1;
    return 0;
}

/* Stores a parsed value in its slot; -1 for unknown or duplicate names. */
static int fg_devauth_store(fg_arena_t *a, fg_devauth_t *out, const char *name, size_t nlen,
                            const char *val, size_t vlen)
{
    static const char *const names[] = {"device", "ts", "nonce", "sig"};
    const char **slots[] = {&out->device, &out->ts, &out->nonce, &out->sig};
    for (size_t i = 0; i < 4; i++) {
        if (strlen(names[i]) != nlen || fg_strncasecmp(names[i], name, nlen) != 0)
            continue;
        if (*slots[i] != NULL)
            return -1;
        *slots[i] = fg_arena_strndup(a, val, vlen);
        return *slots[i] != NULL ? 0 : -1;
    }
    return -1;
}

/* Parses `Freigabe-Device device="..", ts="..", nonce="..", sig=".."` (scheme any case,
 * parameters in any order, optional whitespace around '=' and ',', all four required,
 * no duplicates, no unknown parameters, no escapes). Values are copied into the arena.
 * Returns FG_OK or FG_ERR_INVAL (out is then cleared). */
int fg_devauth_parse(fg_arena_t *a, const char *header, fg_devauth_t *out)
{
    size_t slen = strlen(FG_DEVAUTH_SCHEME);
    if (out == NULL)
        return FG_ERR_INVAL;
    memset(out, 0, sizeof *out);
    if (header == NULL || strnlen(header, FG_HEADER_MAX + 1) > FG_HEADER_MAX)
        return FG_ERR_INVAL;
    const char *p = fg_skip_ows(header);
    if (fg_strncasecmp(p, FG_DEVAUTH_SCHEME, slen) != 0 || !fg_is_ows(p[slen]))
        return FG_ERR_INVAL;
    p = fg_skip_ows(p + slen);
    for (;;) {
        const char *name, *val;
        size_t nlen, vlen;
        if (fg_param_read(&p, &name, &nlen, &val, &vlen) != 0 ||
            fg_devauth_store(a, out, name, nlen, val, vlen) != 0)
            goto bad;
        p = fg_skip_ows(p);
        if (*p == '\0')
            break;
        if (*p != ',')
            goto bad;
        p = fg_skip_ows(p + 1);
    }
    if (out->device && out->ts && out->nonce && out->sig)
        return FG_OK;
bad:
    memset(out, 0, sizeof *out);
    return FG_ERR_INVAL;
}

/* The signed message of product.md §3:
 * "FREIGABE-DEVICE-V1\n<METHOD>\n<path with query>\n<ts>\n<nonce>\n<hex sha256(body)>"
 * (no trailing newline). body may be NULL when body_len is 0. Arena string, NULL on OOM
 * or NULL arguments. */
char *fg_devauth_message(fg_arena_t *a, const char *method, const char *path_with_query,
                         const char *ts, const char *nonce, const unsigned char *body,
                         size_t body_len)
{
    if (method == NULL || path_with_query == NULL || ts == NULL || nonce == NULL ||
        (body == NULL && body_len > 0))
        return NULL;
    char *h = fg_sha256_hex(a, body, body_len);
    if (h == NULL)
        return NULL;
    return fg_arena_printf(a, "FREIGABE-DEVICE-V1\n%s\n%s\n%s\n%s\n%s", method, path_with_query,
                           ts, nonce, h);
}

/* ts: 1 to 12 decimal digits, nothing else. */
static int fg_ts_parse(const char *ts, int64_t *out)
{
    size_t n = strlen(ts);
    long long v;
    if (n == 0 || n > 12 || strspn(ts, "0123456789") != n ||
        fg_parse_int(ts, 0, 999999999999LL, &v) != FG_OK)
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* Decodes base64url s into out, requiring a length in [min,max]. */
static int fg_b64_exact(const char *s, unsigned char *out, size_t min, size_t max)
{
    size_t got = 0;
    return fg_b64url_decode(s, strlen(s), out, max, &got) == FG_OK && got >= min ? 0 : -1;
}

/* Verifies a parsed device header h against the request (method, path with query, body)
 * with the device's raw Ed25519 public key (base64url, 32 bytes) in pk_b64.
 * Returns FG_GRANTED; FG_INVALID for any malformed value or a bad signature; FG_EXPIRED
 * for a correctly signed request whose ts is more than 60 s away from now. The caller
 * still has to reject a replayed (device, nonce). */
fg_decision_t fg_devauth_verify(fg_arena_t *a, const fg_devauth_t *h, const char *pk_b64,
                                const char *method, const char *path_with_query,
                                const unsigned char *body, size_t body_len, int64_t now)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES], nonce[FG_NONCE_MAX];
    int64_t ts;
    if (h == NULL || h->ts == NULL || h->nonce == NULL || h->sig == NULL || pk_b64 == NULL ||
        fg_ts_parse(h->ts, &ts) != 0 ||
        fg_b64_exact(h->nonce, nonce, FG_NONCE_MIN, sizeof nonce) != 0 ||
        fg_b64_exact(h->sig, sig, sizeof sig, sizeof sig) != 0 ||
        fg_b64_exact(pk_b64, pk, sizeof pk, sizeof pk) != 0)
        return FG_INVALID;
    char *msg = fg_devauth_message(a, method, path_with_query, h->ts, h->nonce, body, body_len);
    if (msg == NULL ||
        crypto_sign_verify_detached(sig, (const unsigned char *)msg, strlen(msg), pk) != 0)
        return FG_INVALID;
    if (ts < now - FG_TS_SKEW || ts > now + FG_TS_SKEW)
        return FG_EXPIRED;
    return FG_GRANTED;
}

/* ------------------------------------------------------------------------ */
/* Freigabe-Client                                                           */

/* Version-ish values: 1-32 chars of [A-Za-z0-9.+_-]. */
static int fg_client_value_ok(const char *v, size_t n)
{
    if (n == 0 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!fg_is_name_char(v[i]) && v[i] != '.' && v[i] != '+')
            return 0;
    return 1;
}

/* Stores one key=value of the client header. Unknown keys are ignored (future fields);
 * duplicates of known keys are errors. */
static int fg_client_store(fg_arena_t *a, fg_client_t *out, const char *k, size_t klen,
                           const char *v, size_t vlen)
{
    static const char *const names[] = {"platform", "os", "app"};
    const char **slots[] = {&out->platform, &out->os, &out->app};
    if (!fg_client_value_ok(v, vlen))
        return -1;
    for (size_t i = 0; i < 3; i++) {
        if (strlen(names[i]) != klen || fg_strncasecmp(names[i], k, klen) != 0)
            continue;
        if (*slots[i] != NULL)
            return -1;
        *slots[i] = fg_arena_strndup(a, v, vlen);
        return *slots[i] != NULL ? 0 : -1;
    }
    return 0;
}

/* Normalises the platform to "android" / "ios" (any case accepted); -1 otherwise. */
static int fg_client_platform(fg_client_t *out)
{
    if (fg_strncasecmp(out->platform, "android", 8) == 0)
        out->platform = "android";
    else if (fg_strncasecmp(out->platform, "ios", 4) == 0)
        out->platform = "ios";
    else
        return -1;
    return 0;
}

/* Parses `platform=android, os=13, app=2.4.0` (any order, optional whitespace; unknown
 * keys ignored). platform must be android or ios (returned lowercase); all three are
 * required. Strings live in the arena. FG_OK or FG_ERR_INVAL (out cleared). */
int fg_client_parse(fg_arena_t *a, const char *header, fg_client_t *out)
{
    if (out == NULL)
        return FG_ERR_INVAL;
    memset(out, 0, sizeof *out);
    if (header == NULL || strnlen(header, FG_HEADER_MAX + 1) > FG_HEADER_MAX)
        return FG_ERR_INVAL;
    const char *p = fg_skip_ows(header);
    for (;;) {
        const char *k = p;
        while (fg_is_name_char(*p))
            p++;
        size_t klen = (size_t)(p - k);
        p = fg_skip_ows(p);
        if (klen == 0 || *p != '=')
            goto bad;
        p = fg_skip_ows(p + 1);
        const char *v = p;
        p += strcspn(p, " \t,");
        if (fg_client_store(a, out, k, klen, v, (size_t)(p - v)) != 0)
            goto bad;
        p = fg_skip_ows(p);
        if (*p == '\0')
            break;
        if (*p != ',')
            goto bad;
        p = fg_skip_ows(p + 1);
    }
    if (out->platform && out->os && out->app && fg_client_platform(out) == 0)
        return FG_OK;
bad:
    memset(out, 0, sizeof *out);
    return FG_ERR_INVAL;
}

/* Compares the client with the configured minimums (min_android / min_ios: major OS
 * version, <= 0 means no limit; min_app: dotted version, NULL means any). Returns NULL
 * when the client is recent enough, else a JSON-safe reason in the arena such as
 * "android 10 is older than 11", with *what (if what is not NULL) set to "os" or "app". */
const char *fg_client_too_old(fg_arena_t *a, const fg_config_t *c, const fg_client_t *cl,
                              const char **what)
{
    const char *dummy;
    if (what == NULL)
        what = &dummy;
    *what = NULL;
    if (c == NULL || cl == NULL || cl->platform == NULL || cl->os == NULL || cl->app == NULL)
        return NULL;
    int min = strcmp(cl->platform, "ios") == 0 ? c->min_ios : c->min_android;
    char minbuf[24];
    snprintf(minbuf, sizeof minbuf, "%d", min);
    if (min > 0 && fg_version_cmp(cl->os, minbuf) < 0) {
        *what = "os";
        return fg_arena_printf(a, "%s %s is older than %d", cl->platform, cl->os, min);
    }
    if (c->min_app != NULL && *c->min_app != '\0' && fg_version_cmp(cl->app, c->min_app) < 0) {
        *what = "app";
        return fg_arena_printf(a, "app %s is older than %s", cl->app, c->min_app);
    }
    return NULL;
}
