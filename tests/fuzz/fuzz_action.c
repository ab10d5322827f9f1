/* fuzz_action.c - the whole engine through its public API: a request (every header, the
 * body, sealed cookies the harness mints, a signed app request) drives an action through
 * its state machine with Redis replies, hash results and sleeps taken from the input.
 * This reaches the JSON bodies of the app API, the cookie/form/query/return-path use of
 * every handler, the sealed cookies' plaintext parsing, reply handling and page rendering.
 *
 * Input layout:
 *   byte  route   (route index into `routes`, or PROTECT / raw path, see pick_route)
 *   byte  flags   bit0 https, bit1 second configuration, bit2 session cache, bit3 mint
 *                 the freigabe-pre cookie, bit4 mint the session cookie, bit5 append
 *                 "&csrf=<csrf of the pre cookie>" to the body, bit6 sign the request as a
 *                 device (Authorization built by the harness), bit7 same-origin Origin
 *   byte  flags2  bit0 HEAD for GET, bit1 Accept: application/json, bit2 X-Requested-With,
 *                 bit3 Sec-Fetch-Site cross-site, bit4 no Freigabe-Client
 *   '\n'-separated fields ("-" = absent): query, cookie (raw, prepended), accept-language,
 *     origin, referer, user-agent, authorization (or the device id when signing),
 *     freigabe-client, pre plaintext ('|' = newline), session plaintext ('|' = newline),
 *     cache entry ('|' = newline), body ("@PK@" is replaced by the device public key)
 *   the rest: the "host" stream, read as needed: replies (see read_reply), hash/sleep choices.
 * Invariants: the action ends (<= 48 steps) with a status in 200..599; response and upstream
 * header values contain no CR/LF/NUL unless a Redis reply carried CR/LF (Redis is trusted);
 * a granted PROTECT has an identity and 5 upstream headers named with the header prefix.
 */
#include "fuzz_common.h"

#define NOW 1767225600LL
#define NONCE "ZGVmZ2hpamtsbW5vcHFyc3R1"

static fg_config_t *cfgs[2];
static unsigned char dev_pk[crypto_sign_PUBLICKEYBYTES], dev_sk[crypto_sign_SECRETKEYBYTES];
static char dev_pk_b64[64];
static char pw_hash[crypto_pwhash_STRBYTES], pw_hash_old[crypto_pwhash_STRBYTES];
static fg_keyring_t *keys;

static const struct {
    const char *sub, *method;
} routes[] = {
    {"", "GET"},          {"/", "GET"},           {"/login", "GET"},        {"/login", "POST"},
    {"/approve", "GET"},  {"/approve", "POST"},   {"/wait", "GET"},         {"/status", "GET"},
    {"/finish", "POST"},  {"/logout", "POST"},    {"/whoami", "GET"},       {"/jwks.json", "GET"},
    {"/health", "GET"},   {"/metrics", "GET"},    {"/static/freigabe.js", "GET"},
    {"/static/freigabe.css", "GET"}, {"/static/brand.css", "GET"}, {"/static/logo.svg", "GET"},
    {"/static/logo.png", "GET"}, {"/app/enroll", "POST"}, {"/app/pending", "GET"},
    {"/app/respond", "POST"}, {"/login", "PUT"},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const second[] = {
        "secure_cookies", "on",  "code_mode", "enter", "header_prefix", "Remote-",
        "lang", "en", "prefix", "/auth/fg/", "min_client", "android=12 ios=16 app=2.4.0",
        "default_path", "/portal/", "key_prefix", "fz:", NULL};
    unsigned char seed[crypto_sign_SEEDBYTES];
    (void)argc;
    (void)argv;
    fg_init();
    for (size_t i = 0; i < sizeof seed; i++) {
        seed[i] = (unsigned char)(i + 1);
    }
    crypto_sign_seed_keypair(dev_pk, dev_sk, seed);
    sodium_bin2base64(dev_pk_b64, sizeof dev_pk_b64, dev_pk, sizeof dev_pk,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    /* "pw" at the configured limits, and at older ones (login then rehashes) */
    if (crypto_pwhash_str(pw_hash, "pw", 2, 1, 8192) != 0 ||
        crypto_pwhash_str(pw_hash_old, "pw", 2, 2, 8192) != 0) {
        abort();
    }
    cfgs[0] = fz_config(NULL);
    cfgs[1] = fz_config(second);
    keys = (fg_keyring_t *)fg_config_keys(cfgs[0]);
    fz_unlink_keyfile();
    return 0;
}

/* ---- the host stream: replies and decisions */

typedef struct {
    fg_reply_t pool[256];
    fg_reply_t *ptrs[512];
    size_t npool, nptrs;
    int crlf; /* a reply string carried CR or LF */
    fg_arena_t *ar;
} replies_t;

static fg_reply_t *new_reply(replies_t *R)
{
    if (R->npool >= sizeof(R->pool) / sizeof(R->pool[0])) {
        return NULL;
    }
    fg_reply_t *r = &R->pool[R->npool++];
    memset(r, 0, sizeof *r);
    return r;
}

static const char *const words[] = {
    "ok", "replay", "nochal", "nopre", "pending", "approved", "denied", "superseded",
    "cooldown", "limit", "disabled", "nodevice", "state", "badcode", "final", "compare",
    "enter", "1", "0", "C1", "PONG", "NOSCRIPT No matching script", "none", "expired",
    "login_failed", "900", "1767225100", "-5", "9223372036854775807", "/portal/next?x=1",
    "//evil.example", "J\xc3\xbcrgen", "\xff\xfe", "a\nb", "2147483647",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static fg_reply_t *read_reply(fz_t *f, replies_t *R, int depth)
{
    fg_reply_t *r = new_reply(R);
    if (r == NULL) {
        return NULL;
    }
    if (f->n == 0) {
        return r; /* NIL */
    }
    uint8_t t = fz_u8(f);
    switch (t % 10) {
    case 0:
        break; /* NIL */
    case 1:
        r->type = FG_R_INT;
        r->integer = (long long)(((uint64_t)fz_u32(f) << 32) | fz_u32(f));
        break;
    case 2:
    case 3:
    case 4: {
        size_t len;
        r->type = t % 10 == 2 ? FG_R_STR : t % 10 == 3 ? FG_R_STATUS : FG_R_ERR;
        r->str = fz_bytes(f, fz_u8(f), &len);
        r->len = len;
        if (memchr(r->str, '\r', len) || memchr(r->str, '\n', len)) {
            R->crlf = 1;
        }
        break;
    }
    case 5:
    case 6: {
        size_t n = depth < 3 ? fz_u8(f) % 9 : 0;
        r->type = FG_R_ARRAY;
        r->n = n;
        r->elem = &R->ptrs[R->nptrs];
        if (R->nptrs + n > sizeof(R->ptrs) / sizeof(R->ptrs[0])) {
            r->n = 0;
            break;
        }
        R->nptrs += n;
        for (size_t i = 0; i < n; i++) {
            r->elem[i] = read_reply(f, R, depth + 1);
        }
        break;
    }
    case 7: { /* a word the handlers look for */
        const char *w = words[fz_u8(f) % NWORDS];
        r->type = FG_R_STR;
        r->str = w;
        r->len = strlen(w);
        R->crlf |= strchr(w, '\n') != NULL;
        break;
    }
    case 8: { /* device public key, password hash (current/old limits), or a sealed token */
        uint8_t k = fz_u8(f) % 5;
        r->type = FG_R_STR;
        if (k == 0) {
            r->str = dev_pk_b64;
        } else if (k == 1) {
            r->str = pw_hash;
        } else if (k == 4) {
            r->str = pw_hash_old;
        } else {
            size_t len;
            const char *digits = fz_bytes(f, fz_u8(f) % 12, &len);
            r->str = fg_token_seal(R->ar, keys, k == 2 ? "code" : "session", digits, len);
            if (r->str == NULL) {
                r->str = "";
            }
        }
        r->len = strlen(r->str);
        break;
    }
    case 9: { /* an integer as a string (what Redis scripts return for numbers) */
        r->type = FG_R_STR;
        r->str = fg_arena_printf(R->ar, "%d", (int)fz_u32(f));
        r->len = strlen(r->str);
        break;
    }
    }
    return r;
}

/* ---- helpers */

static char *unbar(fg_arena_t *ar, const char *s)
{
    char *c = fg_arena_strdup(ar, s);
    for (char *p = c; p && *p; p++) {
        if (*p == '|') {
            *p = '\n';
        }
    }
    return c;
}

static const char *replace_pk(fg_arena_t *ar, const char *s)
{
    fg_buf_t b;
    fg_buf_init(&b, ar);
    for (const char *p = s; *p;) {
        const char *at = strstr(p, "@PK@");
        if (at == NULL) {
            fg_buf_puts(&b, p);
            break;
        }
        fg_buf_add(&b, p, (size_t)(at - p));
        fg_buf_puts(&b, dev_pk_b64);
        p = at + 4;
    }
    return fg_buf_cstr(&b);
}

static const char *cache_entry;

static int cache_get(void *ud, const char *key, char *buf, size_t max, int64_t now)
{
    (void)ud;
    (void)now;
    fz_touch(key);
    if (cache_entry == NULL) {
        return -1;
    }
    size_t n = strlen(cache_entry);
    if (n > max) {
        n = max;
    }
    memcpy(buf, cache_entry, n);
    return (int)n;
}

static void cache_put(void *ud, const char *key, const char *value, size_t len, int64_t now)
{
    (void)ud;
    (void)now;
    fz_touch(key);
    fz_touch_mem(value, len);
}

static void cache_del(void *ud, const char *key)
{
    (void)ud;
    fz_touch(key);
}

static void log_sink(void *ud, fg_log_level_t level, const char *msg)
{
    (void)ud;
    (void)level;
    fz_touch(msg);
}

static int clean(const char *s)
{
    return s != NULL && strpbrk(s, "\r\n") == NULL;
}

static void check_response(const fg_config_t *cfg, fg_kind_t kind, const fg_response_t *r,
                           int crlf)
{
    if (r->status < 200 || r->status > 599) {
        abort();
    }
    fz_touch_mem(r->body, r->body_len);
    for (size_t i = 0; i < r->nheaders; i++) {
        if (!clean(r->headers[i].name) || (!crlf && !clean(r->headers[i].value))) {
            fprintf(stderr, "bad response header %s: %s\n", r->headers[i].name,
                    r->headers[i].value ? r->headers[i].value : "(null)");
            abort();
        }
    }
    fz_touch(r->upstream_cookie);
    if (kind == FG_KIND_PROTECT && r->decision == FG_GRANTED) {
        if (r->identity == NULL || r->nupstream != 5) {
            abort();
        }
        fz_touch(r->identity->customer);
        fz_touch(r->identity->name);
        fz_touch(r->identity->session_id);
        for (size_t i = 0; i < r->nupstream; i++) {
            const char *n = r->upstream[i].name, *v = r->upstream[i].value;
            if (n == NULL || strncmp(n, cfg->header_prefix, strlen(cfg->header_prefix)) != 0 ||
                (v != NULL && !clean(v))) {
                fprintf(stderr, "bad upstream header %s: %s\n", n ? n : "(null)",
                        v ? v : "(null)");
                abort();
            }
        }
    } else if (r->nupstream != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_t f;
    static replies_t R;
    fg_request_t req;
    fg_session_cache_t cache = {cache_get, cache_put, cache_del, NULL};

    if (size < 3) {
        return 0;
    }
    fz_init(&f, data, size);
    uint8_t route = fz_u8(&f), flags = fz_u8(&f), flags2 = fz_u8(&f);
    const fg_config_t *cfg = cfgs[(flags >> 1) & 1];
    fg_arena_t *ar = fg_arena_new();
    fg_kind_t kind = FG_KIND_ENDPOINT;
    const char *method = "GET", *path;

    memset(&req, 0, sizeof req);
    const char *query = fz_field_or_null(&f);
    const char *cookie = fz_field_or_null(&f);
    const char *al = fz_field_or_null(&f);
    const char *origin = fz_field_or_null(&f);
    const char *referer = fz_field_or_null(&f);
    const char *ua = fz_field_or_null(&f);
    const char *authz = fz_field_or_null(&f);
    const char *client = fz_field_or_null(&f);
    const char *pre = fz_field_or_null(&f);
    const char *sess = fz_field_or_null(&f);
    const char *centry = fz_field_or_null(&f);
    const char *body = fz_field_or_null(&f);

    /* route */
    size_t ri = route % (NROUTES + 2);
    if (ri < NROUTES) {
        path = fg_arena_printf(ar, "%s%s", fg_config_prefix(cfg), routes[ri].sub);
        method = routes[ri].method;
    } else if (ri == NROUTES) {
        kind = FG_KIND_PROTECT;
        path = "/portal/page";
        method = (route & 0x80) ? "POST" : "GET";
    } else {
        path = query != NULL ? query : "/";
        query = NULL;
        method = (route & 0x80) ? "POST" : "GET";
    }
    if ((flags2 & 1) && strcmp(method, "GET") == 0) {
        method = "HEAD";
    }

    /* cookies the harness mints (the fuzzer cannot forge XChaCha20-Poly1305) */
    const char *secure_prefix =
        (cfg->secure_cookies == 1 || (cfg->secure_cookies == 2 && (flags & 1))) ? "__Host-" : "";
    fg_buf_t ck;
    fg_buf_init(&ck, ar);
    if (cookie != NULL) {
        fg_buf_puts(&ck, cookie);
    }
    const char *csrf = NULL;
    if ((flags & 8) && pre != NULL) {
        char *plain = unbar(ar, pre);
        char *tok = fg_token_seal(ar, keys, "pre", plain, strlen(plain));
        fg_buf_printf(&ck, "%s%sfreigabe-pre=%s", ck.len ? "; " : "", secure_prefix, tok);
        const char *nl = strchr(plain, '\n');
        if (nl != NULL) {
            size_t n = strcspn(nl + 1, "\n");
            csrf = fg_arena_strndup(ar, nl + 1, n);
        }
    }
    if ((flags & 16) && sess != NULL) {
        char *plain = unbar(ar, sess);
        char *tok = fg_token_seal(ar, keys, "session", plain, strlen(plain));
        fg_buf_printf(&ck, "%s%sfreigabe=%s", ck.len ? "; " : "", secure_prefix, tok);
    }
    req.cookie = ck.len ? fg_buf_cstr(&ck) : NULL;

    /* body */
    const char *b = body != NULL ? replace_pk(ar, body) : NULL;
    if ((flags & 32) && csrf != NULL) {
        b = fg_arena_printf(ar, "%s%scsrf=%s", b ? b : "", b && *b ? "&" : "",
                            fg_pct_encode(ar, csrf));
    }
    if (b != NULL) {
        req.body = (const unsigned char *)b;
        req.body_len = strlen(b);
    }

    req.method = method;
    req.path = path;
    req.query = query;
    req.host = "portal.example";
    req.remote_ip = "127.0.0.1";
    req.https = flags & 1;
    req.now = NOW;
    req.accept = (flags2 & 2) ? "application/json" : "text/html,application/xhtml+xml";
    req.accept_language = al;
    req.content_type = "application/x-www-form-urlencoded";
    req.origin = (flags & 128) ? ((flags & 1) ? "https://portal.example" : "http://portal.example")
                               : origin;
    req.referer = referer;
    req.sec_fetch_site = (flags2 & 8) ? "cross-site" : NULL;
    req.sec_fetch_mode = (flags2 & 2) ? "cors" : "navigate";
    req.x_requested_with = (flags2 & 4) ? "XMLHttpRequest" : NULL;
    req.user_agent = ua;
    req.freigabe_client = (flags2 & 16) ? NULL : (client ? client : "platform=android, os=14, app=2.5.0");
    if (flags & 64) {
        const char *pwq = query ? fg_arena_printf(ar, "%s?%s", path, query) : path;
        const char *ts = fg_arena_printf(ar, "%lld", NOW);
        char *msg = fg_devauth_message(ar, method, pwq, ts, NONCE, req.body, req.body_len);
        unsigned char sig[crypto_sign_BYTES];
        crypto_sign_detached(sig, NULL, (const unsigned char *)msg, strlen(msg), dev_sk);
        req.authorization = fg_arena_printf(ar,
                                            "Freigabe-Device device=\"%s\", ts=\"%s\", "
                                            "nonce=\"%s\", sig=\"%s\"",
                                            authz ? authz : "new", ts, NONCE,
                                            fg_b64url_encode(ar, sig, sizeof sig));
    } else {
        req.authorization = authz;
    }

    fg_action_t *a = fg_action_new(cfg, kind, &req);
    if (a == NULL) {
        abort();
    }
    fg_action_set_log(a, log_sink, NULL);
    cache_entry = centry != NULL ? unbar(ar, centry) : NULL;
    if (flags & 4) {
        fg_action_set_session_cache(a, &cache);
    }
    R.npool = R.nptrs = 0;
    R.crlf = 0;
    R.ar = ar;

    int steps = 0;
    for (;; steps++) {
        if (steps > 48) {
            fprintf(stderr, "action does not finish\n");
            abort();
        }
        fg_step_t st = fg_action_step(a);
        if (st == FG_STEP_DONE) {
            break;
        }
        if (st == FG_STEP_REDIS) {
            const fg_cmd_t *cmds;
            size_t n = fg_action_commands(a, &cmds);
            if (getenv("FUZZ_DEBUG") != NULL) {
                for (size_t i = 0; i < n; i++) {
                    fprintf(stderr, "  redis:");
                    for (int j = 0; j < cmds[i].argc; j++) {
                        fprintf(stderr, " %.40s", j == 1 && cmds[i].argc > 2 &&
                                                          strncmp(cmds[i].argv[0], "EVAL", 4) == 0
                                                      ? "<script>"
                                                      : cmds[i].argv[j]);
                    }
                    fprintf(stderr, "\n");
                }
            }
            if (n == 0 || n > 8) {
                abort();
            }
            for (size_t i = 0; i < n; i++) {
                if (cmds[i].argc < 1) {
                    abort();
                }
                for (int j = 0; j < cmds[i].argc; j++) {
                    if (cmds[i].argv[j] == NULL || strlen(cmds[i].argv[j]) != cmds[i].argvlen[j]) {
                        abort();
                    }
                }
            }
            uint8_t how = fz_u8(&f);
            if (how % 16 == 15) {
                fg_action_fail(a, (how & 16) ? FG_ERR_TIMEOUT : FG_ERR_REDIS_DOWN);
                continue;
            }
            fg_reply_t *rs[9];
            size_t nr = how % 16 == 14 ? (n > 0 ? n - 1 : 0) : n; /* sometimes one short */
            for (size_t i = 0; i < nr; i++) {
                rs[i] = read_reply(&f, &R, 0);
            }
            fg_action_feed(a, rs, nr);
        } else if (st == FG_STEP_HASH) {
            fg_hash_job_t *job = fg_action_hash_job(a);
            if (job == NULL) {
                abort();
            }
            if (fz_u8(&f) % 8 == 7) {
                fg_action_hash_refused(a, FG_ERR_BUSY);
            } else {
                fg_hash_job_run(job);
            }
        } else if (st == FG_STEP_SLEEP) {
            int ms = fg_action_sleep_ms(a);
            if (ms <= 0 || ms > 60000) {
                abort();
            }
            uint8_t how = fz_u8(&f);
            if (how % 4 == 3) {
                fg_action_stop_waiting(a);
            }
            fg_action_set_now(a, NOW + steps * ((ms + 999) / 1000) + (how >> 4));
        } else {
            abort();
        }
    }
    if (getenv("FUZZ_DEBUG") != NULL) { /* FUZZ_DEBUG=1 ./fuzz_action FILE: what happened */
        const fg_response_t *r = fg_action_response(a);
        fprintf(stderr, "%s %s -> %d after %d steps, decision %d\n", method, path, r->status,
                steps, (int)r->decision);
        for (size_t i = 0; i < r->nheaders; i++) {
            fprintf(stderr, "  %s: %.160s\n", r->headers[i].name, r->headers[i].value);
        }
        fprintf(stderr, "  body: %.300s\n", r->body);
    }
    check_response(cfg, kind, fg_action_response(a), R.crlf);
    fg_action_free(a);
    fg_arena_free(ar);
    fz_free_all(&f);
    return 0;
}
