/* fg_parse.c - parsers for what browsers send: cookies, forms, return paths, headers. */
#include "fg_internal.h"
#include <stddef.h>
#include <string.h>

#define FG_RD_MAX 2048
#define FG_RD_DECODE_ROUNDS 3

static int is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

static int hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    if (ch >= 'A' && ch <= 'F') {
        return ch - 'A' + 10;
    }
    return -1;
}

static char lower(char ch)
{
    return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
}

/* Header-name character folding: case-insensitive, '_' is '-' (CGI/nginx spelling). */
static char fold_header_char(char ch)
{
    return ch == '_' ? '-' : lower(ch);
}

/* fg_header_is_reserved: `name` (len bytes, need not be NUL-terminated) against the
 * configured header prefix (default "X-Freigabe-"). Matches the prefix followed by
 * anything, and the bare prefix without its trailing '-'. Returns 1 reserved, 0 not. */
int fg_header_is_reserved(const fg_config_t *c, const char *name, size_t len)
{
    const char *prefix = (c != NULL && c->header_prefix != NULL) ? c->header_prefix
                                                                    : "X-Freigabe-";
    size_t plen = strlen(prefix);
    size_t cmp = plen;

    if (name == NULL || plen == 0) {
        return 0;
    }
    if (len < plen) {
        /* the bare prefix, e.g. "X-Freigabe" */
        if (prefix[plen - 1] != '-' || len != plen - 1) {
            return 0;
        }
        cmp = plen - 1;
    }
    for (size_t i = 0; i < cmp; i++) {
        if (fold_header_char(name[i]) != fold_header_char(prefix[i])) {
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Cookies (RFC 6265 §5.2, tolerant).                                        */

typedef struct {
    const char *name, *value, *raw; /* raw: the trimmed pair as it appeared */
    size_t name_len, value_len, raw_len;
    int has_eq;
} cookie_pair_t;

/* Reads the pair starting at *p (up to ';' or end) and advances *p past it.
 * Returns 0 when the header is exhausted. */
static int cookie_next(const char **p, cookie_pair_t *out)
{
    const char *s = *p;
    const char *end, *eq, *nend, *vstart, *vend;

    while (*s == ';' || is_ows(*s)) {
        s++;
    }
    if (*s == '\0') {
        *p = s;
        return 0;
    }
    end = strchr(s, ';');
    if (end == NULL) {
        end = s + strlen(s);
    }
    *p = end;
    size_t rl = (size_t)(end - s);
    while (rl > 0 && is_ows(s[rl - 1])) {
        rl--;
    }
    vend = s + rl;
    out->raw = s;
    out->raw_len = rl;
    eq = memchr(s, '=', rl);
    out->has_eq = eq != NULL;
    nend = eq != NULL ? eq : vend;
    while (nend > s && is_ows(nend[-1])) {
        nend--;
    }
    out->name = s;
    out->name_len = (size_t)(nend - s);
    vstart = eq != NULL ? eq + 1 : vend;
    while (vstart < vend && is_ows(*vstart)) {
        vstart++;
    }
    if (vend - vstart >= 2 && *vstart == '"' && vend[-1] == '"') {
        vstart++;
        vend--;
    }
    out->value = vstart;
    out->value_len = vstart <= vend ? (size_t)(vend - vstart) : 0;
    return 1;
}

static int cookie_name_is(const cookie_pair_t *cp, const char *name)
{
    size_t n = strlen(name);
    return cp->has_eq && cp->name_len == n && memcmp(cp->name, name, n) == 0;
}

/* fg_cookie_get: value of the first cookie called `name` (exact, case-sensitive) in a
 * Cookie header; surrounding spaces and one pair of double quotes are removed.
 * Returns an arena string, or NULL when absent (or header/name NULL). */
const char *fg_cookie_get(fg_arena_t *a, const char *cookie_header, const char *name)
{
    const char *p = cookie_header;
    cookie_pair_t cp;

    if (cookie_header == NULL || name == NULL || *name == '\0') {
        return NULL;
    }
    while (cookie_next(&p, &cp)) {
        if (cookie_name_is(&cp, name)) {
            return fg_arena_strndup(a, cp.value, cp.value_len);
        }
    }
    return NULL;
}

static int cookie_in_list(const cookie_pair_t *cp, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (names[i] != NULL && cookie_name_is(cp, names[i])) {
            return 1;
        }
    }
    return 0;
}

/* fg_cookie_strip: the Cookie header without the cookies named in `names`. Other pairs
 * are kept byte-exact (minus surrounding whitespace), joined with "; ". Returns an arena
 * string, "" when nothing remains, or NULL when none of the names was present. */
const char *fg_cookie_strip(fg_arena_t *a, const char *cookie_header,
                            const char *const *names, size_t nnames)
{
    const char *p = cookie_header;
    cookie_pair_t cp;
    fg_buf_t out;
    const char *kept;
    int removed = 0;

    if (cookie_header == NULL) {
        return NULL;
    }
    fg_buf_init(&out, a);
    while (cookie_next(&p, &cp)) {
        if (cookie_in_list(&cp, names, nnames)) {
            removed = 1;
            continue;
        }
        if (out.len > 0) {
            fg_buf_add(&out, "; ", 2);
        }
        fg_buf_add(&out, cp.raw, cp.raw_len);
    }
    if (!removed) {
        return NULL;
    }
    /* on OOM the buffer is lost: dropping the whole header is the safe direction */
    kept = out.len > 0 ? fg_buf_cstr(&out) : NULL;
    return kept != NULL ? kept : "";
}

/* ------------------------------------------------------------------------ */
/* Forms (application/x-www-form-urlencoded).                                */

/* Decodes s[0..n) into dst (room for n+1). '+' becomes space when `plus`. Returns the
 * decoded length, or -1 for an invalid escape or a NUL byte (raw or encoded). */
static long pct_decode(const char *s, size_t n, char *dst, int plus)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '%') {
            int hi, lo;
            if (i + 2 >= n) {
                return -1;
            }
            hi = hexval((unsigned char)s[i + 1]);
            lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0) {
                return -1;
            }
            ch = (unsigned char)(hi * 16 + lo);
            i += 2;
        } else if (ch == '+' && plus) {
            ch = ' ';
        }
        if (ch == '\0') {
            return -1;
        }
        dst[o++] = (char)ch;
    }
    dst[o] = '\0';
    return (long)o;
}

/* Decoded copy in the arena, or NULL when invalid. */
static char *form_decode(fg_arena_t *a, const char *s, size_t n)
{
    char *dst = fg_arena_alloc(a, n + 1);

    if (dst == NULL || pct_decode(s, n, dst, 1) < 0) {
        return NULL;
    }
    return dst;
}

/* fg_form_get: the decoded value of the first field `name` in a urlencoded body or query
 * (`len` bytes, need not be NUL-terminated). '+' is space. A field without '=' has the
 * value "". Returns an arena string, or NULL when absent or when the first occurrence
 * has an invalid escape or a NUL byte. */
const char *fg_form_get(fg_arena_t *a, const char *body, size_t len, const char *name)
{
    size_t i = 0;

    if (body == NULL || name == NULL) {
        return NULL;
    }
    while (i < len) {
        const char *field = body + i;
        const char *amp = memchr(field, '&', len - i);
        size_t flen = amp != NULL ? (size_t)(amp - field) : len - i;
        const char *eq = memchr(field, '=', flen);
        size_t klen = eq != NULL ? (size_t)(eq - field) : flen;
        char *key;

        i += flen + 1;
        if (flen == 0) {
            continue;
        }
        key = form_decode(a, field, klen);
        if (key == NULL || strcmp(key, name) != 0) {
            continue;
        }
        if (eq == NULL) {
            return fg_arena_strdup(a, "");
        }
        return form_decode(a, eq + 1, flen - klen - 1);
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Return path.                                                              */

static int is_ctl(unsigned char ch)
{
    return ch < 0x20 || ch == 0x7f;
}

/* Raw characters allowed in a return path: printable ASCII without space, quotes,
 * angle brackets and backslash. */
static int rd_raw_ok(unsigned char ch)
{
    if (is_ctl(ch) || ch >= 0x80) {
        return 0;
    }
    return ch != ' ' && ch != '"' && ch != '<' && ch != '>' && ch != '\\';
}

/* Checks one (decoded or raw) form of the path: absolute, not network-path, no
 * backslash, no control bytes, no scheme before the query. */
static int rd_form_ok(const char *s, size_t n)
{
    const char *q;
    size_t plen;

    if (n == 0 || s[0] != '/') {
        return 0;
    }
    if (n > 1 && (s[1] == '/' || s[1] == '\\')) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' || is_ctl((unsigned char)s[i])) {
            return 0;
        }
    }
    q = memchr(s, '?', n);
    plen = q != NULL ? (size_t)(q - s) : n;
    for (size_t i = 0; i + 2 < plen; i++) {
        if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
            return 0;
        }
    }
    return 1;
}

/* True when every layer of percent-decoding (up to FG_RD_DECODE_ROUNDS, to catch double
 * encoding like %252F) still passes rd_form_ok: servers and browsers disagree on how
 * often they decode, so any layer that leaves the site counts. */
static int rd_decoded_ok(fg_arena_t *a, const char *rd, size_t n)
{
    char *cur = fg_arena_strndup(a, rd, n);
    char *next;

    if (cur == NULL) {
        return 0;
    }
    for (int round = 0; round < FG_RD_DECODE_ROUNDS; round++) {
        long m;
        if (strchr(cur, '%') == NULL) {
            return 1;
        }
        next = fg_arena_alloc(a, strlen(cur) + 1);
        if (next == NULL) {
            return 0;
        }
        m = pct_decode(cur, strlen(cur), next, 0);
        if (m < 0) {
            /* the raw form must be well-formed; a later layer may hold a literal '%' */
            return round > 0;
        }
        if (!rd_form_ok(next, (size_t)m)) {
            return 0;
        }
        cur = next;
    }
    return 1;
}

/* fg_return_path: `rd` when it is a safe same-site absolute path (see fg_internal.h for
 * the rules), else `fallback`. Returns an arena copy of rd, or fallback as given. */
const char *fg_return_path(fg_arena_t *a, const char *rd, const char *fallback)
{
    size_t n;

    if (rd == NULL) {
        return fallback;
    }
    n = strlen(rd);
    if (n == 0 || n > FG_RD_MAX) {
        return fallback;
    }
    for (size_t i = 0; i < n; i++) {
        if (!rd_raw_ok((unsigned char)rd[i])) {
            return fallback;
        }
    }
    if (!rd_form_ok(rd, n) || !rd_decoded_ok(a, rd, n)) {
        return fallback;
    }
    const char *copy = fg_arena_strndup(a, rd, n);
    return copy != NULL ? copy : fallback;
}

/* ------------------------------------------------------------------------ */
/* Request classification.                                                   */

/* Case-insensitive substring search. */
static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    for (; *hay != '\0'; hay++) {
        if (fg_strncasecmp(hay, needle, n) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Header value equals `want` (case-insensitive, surrounding whitespace ignored). */
static int value_is(const char *v, const char *want)
{
    size_t n = strlen(want);
    size_t vl;

    while (is_ows(*v)) {
        v++;
    }
    vl = strlen(v);
    while (vl > 0 && is_ows(v[vl - 1])) {
        vl--;
    }
    return vl == n && fg_strncasecmp(v, want, n) == 0;
}

/* fg_request_is_navigation: 1 when the request is a top-level page navigation
 * (GET/HEAD, Accept with text/html, no X-Requested-With, Sec-Fetch-Mode absent or
 * "navigate"), else 0. */
int fg_request_is_navigation(const fg_request_t *r)
{
    if (r == NULL || r->method == NULL) {
        return 0;
    }
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        return 0;
    }
    if (r->accept == NULL || !contains_ci(r->accept, "text/html")) {
        return 0;
    }
    if (r->x_requested_with != NULL) {
        return 0;
    }
    return r->sec_fetch_mode == NULL || value_is(r->sec_fetch_mode, "navigate");
}

/* Length of the authority in "host[:port]" with a default port for the scheme removed. */
static size_t authority_len(const char *s, size_t n, int https)
{
    const char *dflt = https ? ":443" : ":80";
    size_t dl = strlen(dflt);

    if (n > dl && memcmp(s + n - dl, dflt, dl) == 0) {
        return n - dl;
    }
    return n;
}

/* True when `url` is scheme://host of the request with that scheme, followed by end, '/',
 * '?' or '#' (end only when `exact`); default ports count as absent. */
static int url_same_origin_as(const fg_request_t *r, const char *url, int exact, int https)
{
    const char *scheme = https ? "https://" : "http://";
    size_t sl = strlen(scheme);
    size_t hl, ul, al;
    const char *auth;

    if (r->host == NULL || *r->host == '\0' || fg_strncasecmp(url, scheme, sl) != 0) {
        return 0;
    }
    auth = url + sl;
    ul = strcspn(auth, "/?#");
    if (exact && auth[ul] != '\0') {
        return 0;
    }
    hl = authority_len(r->host, strlen(r->host), https);
    al = authority_len(auth, ul, https);
    return al == hl && al > 0 && fg_strncasecmp(auth, r->host, hl) == 0 &&
           (auth[ul] == '\0' || auth[ul] == '/' || auth[ul] == '?' || auth[ul] == '#');
}

/* A request that arrived over TLS must come from the https origin. One that arrived in
 * plain HTTP may come from either: behind a TLS-terminating proxy the browser's origin is
 * https://host although the server sees http (an https origin of our own host is never an
 * attacker's). */
static int url_same_origin(const fg_request_t *r, const char *url, int exact)
{
    return url_same_origin_as(r, url, exact, 1) ||
           (!r->https && url_same_origin_as(r, url, exact, 0));
}

/* fg_request_same_origin: 1 when a state-changing request comes from our own origin
 * (rules in fg_internal.h), else 0. */
int fg_request_same_origin(const fg_request_t *r)
{
    if (r == NULL) {
        return 0;
    }
    if (r->sec_fetch_site != NULL && !value_is(r->sec_fetch_site, "same-origin")) {
        return 0;
    }
    if (r->origin != NULL && !url_same_origin(r, r->origin, 1)) {
        return 0;
    }
    if (r->origin == NULL && r->sec_fetch_site == NULL && r->referer != NULL) {
        return url_same_origin(r, r->referer, 0);
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Language.                                                                 */

static const char *lang_known(const char *s, size_t n)
{
    if (n == 2 && fg_strncasecmp(s, "de", 2) == 0) {
        return "de";
    }
    if (n == 2 && fg_strncasecmp(s, "en", 2) == 0) {
        return "en";
    }
    return NULL;
}

/* q-value in thousandths from ";q=0.8"-style parameters; 1000 when absent, -1 invalid. */
static int lang_q(const char *params, size_t n)
{
    const char *q = NULL;
    int val = 0, digits = 0;

    for (size_t i = 0; i + 1 < n; i++) {
        if ((params[i] == 'q' || params[i] == 'Q') && params[i + 1] == '=') {
            q = params + i + 2;
            break;
        }
    }
    if (q == NULL) {
        return 1000;
    }
    if (*q != '0' && *q != '1') {
        return -1;
    }
    val = (*q - '0') * 1000;
    q++;
    if (*q == '.') {
        for (q++; *q >= '0' && *q <= '9' && digits < 3; q++, digits++) {
            val += (*q - '0') * (digits == 0 ? 100 : digits == 1 ? 10 : 1);
        }
    }
    return val > 1000 ? 1000 : val;
}

/* fg_lang_pick: "de" or "en" (static strings). `override` wins when it names one of
 * them; else the best Accept-Language entry by q-value (ties: first listed); else
 * `dflt` when it is "de"/"en"; else "de". */
const char *fg_lang_pick(const char *accept_language, const char *override,
                         const char *dflt)
{
    const char *best = NULL, *p = accept_language;
    int best_q = 0;

    if (override != NULL && lang_known(override, strlen(override)) != NULL) {
        return lang_known(override, strlen(override));
    }
    while (p != NULL && *p != '\0') {
        size_t n = strcspn(p, ",");
        size_t tl, sub;
        const char *tag = p, *semi, *lang;
        int q;

        while (tag < p + n && is_ows(*tag)) {
            tag++;
        }
        semi = memchr(tag, ';', (size_t)(p + n - tag));
        tl = semi != NULL ? (size_t)(semi - tag) : (size_t)(p + n - tag);
        while (tl > 0 && is_ows(tag[tl - 1])) {
            tl--;
        }
        sub = strcspn(tag, "-_;, \t");
        lang = lang_known(tag, sub < tl ? sub : tl);
        q = semi != NULL ? lang_q(semi, (size_t)(p + n - semi)) : 1000;
        if (lang != NULL && q > best_q) {
            best = lang;
            best_q = q;
        }
        p += n;
        if (*p == ',') {
            p++;
        }
    }
    if (best != NULL) {
        return best;
    }
    if (dflt != NULL && lang_known(dflt, strlen(dflt)) != NULL) {
        return lang_known(dflt, strlen(dflt));
    }
    return "de";
}

/* ------------------------------------------------------------------------ */
/* The request headers the engine reads (fg.h).                              */

#define FG_RH(n, f) {n, offsetof(fg_request_t, f)}
const fg_request_header_t fg_request_headers[] = {
    FG_RH("Host", host),
    FG_RH("Accept", accept),
    FG_RH("Accept-Language", accept_language),
    FG_RH("Content-Type", content_type),
    FG_RH("Origin", origin),
    FG_RH("Referer", referer),
    FG_RH("Sec-Fetch-Site", sec_fetch_site),
    FG_RH("Sec-Fetch-Mode", sec_fetch_mode),
    FG_RH("X-Requested-With", x_requested_with),
    FG_RH("User-Agent", user_agent),
    FG_RH("Authorization", authorization),
    FG_RH("Freigabe-Client", freigabe_client),
    {NULL, 0},
};
