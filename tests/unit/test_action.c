/* test_action.c - drives the engine's state machines with canned Redis replies (no server). */
#include "fg_action_impl.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOW 1767225600LL

static fg_config_t *cfg;
static char keypath[64];

/* ---- canned replies */
static fg_reply_t *r_str(const char *s)
{
    fg_reply_t *r = calloc(1, sizeof(*r));
    r->type = FG_R_STR;
    r->str = s;
    r->len = strlen(s);
    return r;
}
static fg_reply_t *r_int(long long v)
{
    fg_reply_t *r = calloc(1, sizeof(*r));
    r->type = FG_R_INT;
    r->integer = v;
    return r;
}
static fg_reply_t *r_nil(void)
{
    return calloc(1, sizeof(fg_reply_t));
}
static fg_reply_t *r_err(const char *s)
{
    fg_reply_t *r = r_str(s);
    r->type = FG_R_ERR;
    return r;
}
static fg_reply_t *r_status(const char *s)
{
    fg_reply_t *r = r_str(s);
    r->type = FG_R_STATUS;
    return r;
}
/* Array of strings; NULL entries become NIL. */
static fg_reply_t *r_arr(int n, ...)
{
    fg_reply_t *r = calloc(1, sizeof(*r));
    va_list ap;
    r->type = FG_R_ARRAY;
    r->n = (size_t)n;
    r->elem = calloc((size_t)n + 1, sizeof(fg_reply_t *));
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        const char *s = va_arg(ap, const char *);
        r->elem[i] = s ? r_str(s) : r_nil();
    }
    va_end(ap);
    return r;
}
static void r_free(fg_reply_t *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->n; i++) {
        r_free(r->elem[i]);
    }
    free(r->elem);
    free(r);
}

/* Feeds `n` replies (and frees them: the action copies). */
static void feed(fg_action_t *a, size_t n, ...)
{
    fg_reply_t *rs[16];
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        rs[i] = va_arg(ap, fg_reply_t *);
    }
    va_end(ap);
    fg_action_feed(a, rs, n);
    for (size_t i = 0; i < n; i++) {
        r_free(rs[i]);
    }
}

static const char *cmd_arg(fg_action_t *a, size_t i, int j)
{
    const fg_cmd_t *c;
    size_t n = fg_action_commands(a, &c);
    ck_assert_uint_lt(i, n);
    ck_assert_int_lt(j, c[i].argc);
    return c[i].argv[j];
}

static size_t ncmds(fg_action_t *a)
{
    const fg_cmd_t *c;
    return fg_action_commands(a, &c);
}

static const char *header(const fg_response_t *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, name) == 0) {
            return r->headers[i].value;
        }
    }
    return NULL;
}

static const char *upstream(const fg_response_t *r, const char *name)
{
    for (size_t i = 0; i < r->nupstream; i++) {
        if (strcasecmp(r->upstream[i].name, name) == 0) {
            return r->upstream[i].value;
        }
    }
    return NULL;
}

static fg_request_t req(const char *method, const char *path)
{
    fg_request_t r;
    memset(&r, 0, sizeof(r));
    r.method = method;
    r.path = path;
    r.host = "portal.example";
    r.remote_ip = "192.0.2.7";
    r.now = NOW;
    r.accept = "text/html,application/xhtml+xml";
    r.sec_fetch_mode = "navigate";
    r.user_agent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0";
    return r;
}

/* A sealed cookie as the engine would mint it. */
static const char *seal(fg_arena_t *ar, const char *purpose, const char *plain)
{
    return fg_token_seal(ar, cfg->keys, purpose, plain, strlen(plain));
}

static void setup(void)
{
    char err[256];
    int fd;
    strcpy(keypath, "/tmp/fgtestkeyXXXXXX");
    fd = mkstemp(keypath);
    char *text = fg_keyring_generate_text("t1");
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    free(text);
    cfg = fg_config_new();
    ck_assert_int_eq(fg_config_set(cfg, "key_file", keypath, err, sizeof(err)), FG_OK);
    ck_assert_int_eq(fg_config_set(cfg, "argon2_ops", "1", err, sizeof(err)), FG_OK);
    ck_assert_int_eq(fg_config_set(cfg, "argon2_mem", "64k", err, sizeof(err)), FG_OK);
    ck_assert_msg(fg_config_finalize(cfg, err, sizeof(err)) == FG_OK, "%s", err);
}

static void teardown(void)
{
    fg_config_free(cfg);
    unlink(keypath);
}

/* ------------------------------------------------------------------------ */

START_TEST(protect_no_cookie_navigation_redirects)
{
    fg_request_t r = req("GET", "/portal/x");
    r.query = "a=1&b=<x>";
    fg_action_t *a = fg_action_new(cfg, FG_KIND_PROTECT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    ck_assert_str_eq(cmd_arg(a, 0, 0), "PING");
    feed(a, 1, r_status("PONG"));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    const fg_response_t *resp = fg_action_response(a);
    ck_assert_int_eq(resp->status, 302);
    ck_assert_int_ne(resp->decision, FG_GRANTED);
    ck_assert_str_eq(header(resp, "Location"), "/freigabe/login?rd=%2Fportal%2Fx%3Fa%3D1%26b%3D%3Cx%3E");
    ck_assert_uint_eq(resp->nupstream, 0);
    fg_action_free(a);
}
END_TEST

START_TEST(protect_no_cookie_api_gets_401_json)
{
    fg_request_t r = req("GET", "/portal/api");
    r.accept = "application/json";
    r.sec_fetch_mode = "cors";
    fg_action_t *a = fg_action_new(cfg, FG_KIND_PROTECT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 1, r_status("PONG"));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    const fg_response_t *resp = fg_action_response(a);
    ck_assert_int_eq(resp->status, 401);
    ck_assert_ptr_nonnull(strstr(resp->body, "\"error\":\"login_required\""));
    ck_assert_ptr_nonnull(strstr(resp->body, "\"login\":\"/freigabe/login\""));
    fg_action_free(a);
}
END_TEST

static fg_action_t *protect_with_session(fg_arena_t *ar, const char *accept)
{
    fg_request_t r = req("GET", "/portal/");
    const char *tok = seal(ar, "session", "v1\n1234567890\nSESSIONTOKEN\n1767225000");
    r.cookie = fg_arena_printf(ar, "theme=dark; freigabe=%s; freigabe-pre=zzz; lang=de", tok);
    if (accept) {
        r.accept = accept;
    }
    fg_action_t *a = fg_action_new(cfg, FG_KIND_PROTECT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    ck_assert_str_eq(cmd_arg(a, 0, 0), "EVALSHA");
    ck_assert_str_eq(cmd_arg(a, 0, 2), "2");
    ck_assert_ptr_nonnull(strstr(cmd_arg(a, 0, 3), "freigabe:{1234567890}:sess:"));
    ck_assert_str_eq(cmd_arg(a, 0, 4), "freigabe:{1234567890}:user"); /* disabled? */
    /* the raw session token never reaches Redis */
    ck_assert_ptr_null(strstr(cmd_arg(a, 0, 3), "SESSIONTOKEN"));
    return a;
}

START_TEST(protect_valid_session_grants_identity)
{
    fg_arena_t *ar = fg_arena_new();
    fg_action_t *a = protect_with_session(ar, NULL);
    feed(a, 1, r_arr(4, "ok", "J\xc3\xbcrgen M\xc3\xbc\xc3\x9fig", "1767225100", "900"));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    const fg_response_t *resp = fg_action_response(a);
    ck_assert_int_eq(resp->decision, FG_GRANTED);
    ck_assert_str_eq(upstream(resp, "X-Freigabe-User"), "1234567890");
    ck_assert_str_eq(upstream(resp, "X-Freigabe-Name"), "J%C3%BCrgen%20M%C3%BC%C3%9Fig");
    ck_assert_str_eq(upstream(resp, "X-Freigabe-Auth-Time"), "1767225100");
    ck_assert_int_eq(strlen(upstream(resp, "X-Freigabe-Session")), 64);
    const char *jwt = upstream(resp, "X-Freigabe-Assertion");
    ck_assert_ptr_nonnull(jwt);
    ck_assert_ptr_nonnull(strchr(strchr(jwt, '.') + 1, '.'));
    ck_assert_str_eq(resp->upstream_cookie, "theme=dark; lang=de");
    ck_assert_str_eq(resp->identity->customer, "1234567890");
    fg_action_free(a);
    fg_arena_free(ar);
}
END_TEST

/* The assertion of one session in one second is remembered; anything else is signed anew. */
static const char *granted_assertion(fg_arena_t *ar, const char *token, const char *name,
                                     int64_t now)
{
    fg_request_t r = req("GET", "/portal/");
    r.now = now;
    r.cookie = fg_arena_printf(ar, "freigabe=%s", seal(ar, "session",
                                   fg_arena_printf(ar, "v1\n1234567890\n%s\n1767225000", token)));
    fg_action_t *a = fg_action_new(cfg, FG_KIND_PROTECT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 1, r_arr(4, "ok", name, "1767225100", "900"));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    const char *jwt = fg_arena_strdup(ar, upstream(fg_action_response(a), "X-Freigabe-Assertion"));
    fg_action_free(a);
    return jwt;
}

START_TEST(assertion_memo_is_exact)
{
    fg_arena_t *ar = fg_arena_new();
    const char *a1 = granted_assertion(ar, "TOKEN-A", "Erika", NOW);
    ck_assert_str_eq(granted_assertion(ar, "TOKEN-A", "Erika", NOW), a1);
    ck_assert_str_ne(granted_assertion(ar, "TOKEN-A", "Erika", NOW + 1), a1);
    ck_assert_str_ne(granted_assertion(ar, "TOKEN-B", "Erika", NOW), a1);
    ck_assert_str_ne(granted_assertion(ar, "TOKEN-A", "Erika Neu", NOW), a1);
    /* and the remembered one is still the right one for session A */
    ck_assert_str_eq(granted_assertion(ar, "TOKEN-A", "Erika", NOW), a1);
    fg_arena_free(ar);
}
END_TEST

/* After a rotation (a new key first, the old one kept) a session minted under the old
 * key is looked up under the same Redis key as before. */
START_TEST(rotation_keeps_sessions)
{
    char err[256], path2[64];
    fg_arena_t *ar = fg_arena_new();
    fg_request_t r = req("GET", "/portal/");
    r.cookie = fg_arena_printf(ar, "freigabe=%s",
                               seal(ar, "session", "v1\n1234567890\nTOKEN\n1767225000"));
    fg_action_t *a = fg_action_new(cfg, FG_KIND_PROTECT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    const char *before = fg_arena_strdup(ar, cmd_arg(a, 0, 3));
    fg_action_free(a);

    /* new key file: a fresh key first, then the old one */
    FILE *in = fopen(keypath, "r");
    char old[512] = "", line[256];
    while (in && fgets(line, sizeof line, in)) {
        if (strncmp(line, "key ", 4) == 0) strcat(old, line);
    }
    fclose(in);
    char *fresh = fg_keyring_generate_text("t2");
    snprintf(path2, sizeof path2, "%s.rot", keypath);
    FILE *out = fopen(path2, "w");
    fputs(fresh, out);
    fputs(old, out);
    fclose(out);
    free(fresh);
    fg_config_t *c2 = fg_config_new();
    ck_assert_int_eq(fg_config_set(c2, "key_file", path2, err, sizeof err), FG_OK);
    ck_assert_int_eq(fg_config_set(c2, "argon2_ops", "1", err, sizeof err), FG_OK);
    ck_assert_int_eq(fg_config_set(c2, "argon2_mem", "64k", err, sizeof err), FG_OK);
    ck_assert_msg(fg_config_finalize(c2, err, sizeof err) == FG_OK, "%s", err);
    a = fg_action_new(c2, FG_KIND_PROTECT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    ck_assert_str_eq(cmd_arg(a, 0, 3), before);
    fg_action_free(a);
    fg_config_free(c2);
    unlink(path2);
    fg_arena_free(ar);
}
END_TEST

START_TEST(protect_revoked_session_is_denied)
{
    fg_arena_t *ar = fg_arena_new();
    fg_action_t *a = protect_with_session(ar, NULL);
    feed(a, 1, r_arr(1, "none"));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    const fg_response_t *resp = fg_action_response(a);
    ck_assert_int_eq(resp->status, 302);
    ck_assert_int_eq(resp->decision, FG_EXPIRED);
    ck_assert_uint_eq(resp->nupstream, 0);
    ck_assert_ptr_nonnull(strstr(header(resp, "Set-Cookie"), "Max-Age=0"));
    fg_action_free(a);
    fg_arena_free(ar);
}
END_TEST

START_TEST(protect_redis_down_fails_closed)
{
    fg_arena_t *ar = fg_arena_new();
    fg_action_t *a = protect_with_session(ar, NULL);
    fg_action_fail(a, FG_ERR_REDIS_DOWN);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    const fg_response_t *resp = fg_action_response(a);
    ck_assert_int_eq(resp->status, 503);
    ck_assert_int_ne(resp->decision, FG_GRANTED);
    ck_assert_ptr_null(header(resp, "Location"));
    ck_assert_ptr_nonnull(header(resp, "Retry-After"));
    ck_assert_uint_eq(resp->nupstream, 0);
    fg_action_free(a);
    fg_arena_free(ar);
}
END_TEST

START_TEST(redis_error_reply_is_unavailable_not_logout)
{
    fg_arena_t *ar = fg_arena_new();
    fg_action_t *a = protect_with_session(ar, NULL);
    feed(a, 1, r_err("LOADING Redis is loading the dataset in memory"));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    const fg_response_t *resp = fg_action_response(a);
    ck_assert_int_eq(resp->status, 503);
    ck_assert_ptr_null(header(resp, "Set-Cookie")); /* the session survives the restart */
    ck_assert_ptr_null(header(resp, "Location"));
    fg_action_free(a);
    fg_arena_free(ar);
}
END_TEST

/* a one-entry session cache, as a host would provide it */
static char cache_key[128], cache_val[512];
static size_t cache_len;
static int64_t cache_stamp;
static int cache_get(void *ud, const char *key, char *buf, size_t max, int64_t now)
{
    if (strcmp(key, cache_key) != 0 || now - cache_stamp >= 5 || cache_len > max) {
        return -1;
    }
    memcpy(buf, cache_val, cache_len);
    return (int)cache_len;
}
static void cache_put(void *ud, const char *key, const char *v, size_t len, int64_t now)
{
    snprintf(cache_key, sizeof cache_key, "%s", key);
    memcpy(cache_val, v, len);
    cache_len = len;
    cache_stamp = now;
}
static void cache_del(void *ud, const char *key)
{
    if (strcmp(key, cache_key) == 0) {
        cache_key[0] = '\0';
    }
}
static const fg_session_cache_t test_cache = {cache_get, cache_put, cache_del, NULL};

START_TEST(session_cache_spares_redis_within_recheck)
{
    fg_arena_t *ar = fg_arena_new();
    cache_key[0] = '\0';
    fg_action_t *a = protect_with_session(ar, NULL);
    fg_action_free(a);
    /* first check: Redis confirms, the cache remembers */
    fg_request_t r = req("GET", "/portal/");
    const char *tok = seal(ar, "session", "v1\n1234567890\nSESSIONTOKEN\n1767225000");
    r.cookie = fg_arena_printf(ar, "freigabe=%s", tok);
    a = fg_action_new(cfg, FG_KIND_PROTECT, &r);
    fg_action_set_session_cache(a, &test_cache);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 1, r_arr(4, "ok", "Erika M\xc3\xbcller", "1767225100", "900"));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->decision, FG_GRANTED);
    fg_action_free(a);
    /* second check 2 s later: no Redis, same identity */
    r.now = NOW + 2;
    a = fg_action_new(cfg, FG_KIND_PROTECT, &r);
    fg_action_set_session_cache(a, &test_cache);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->decision, FG_GRANTED);
    ck_assert_str_eq(upstream(fg_action_response(a), "X-Freigabe-Name"), "Erika%20M%C3%BCller");
    ck_assert_str_eq(upstream(fg_action_response(a), "X-Freigabe-Auth-Time"), "1767225100");
    fg_action_free(a);
    /* after the recheck interval Redis is asked again, and a revoked session is denied */
    r.now = NOW + 6;
    a = fg_action_new(cfg, FG_KIND_PROTECT, &r);
    fg_action_set_session_cache(a, &test_cache);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 1, r_arr(1, "none"));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_ne(fg_action_response(a)->decision, FG_GRANTED);
    ck_assert_str_eq(cache_key, "");
    fg_action_free(a);
    fg_arena_free(ar);
}
END_TEST

START_TEST(forged_session_cookie_never_reaches_redis)
{
    fg_request_t r = req("GET", "/portal/");
    r.cookie = "freigabe=t1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    fg_action_t *a = fg_action_new(cfg, FG_KIND_PROTECT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    ck_assert_str_eq(cmd_arg(a, 0, 0), "PING"); /* only a liveness check, no lookup */
    feed(a, 1, r_status("PONG"));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 302);
    fg_action_free(a);

    /* Redis down and no session: fail closed, never a redirect */
    r = req("GET", "/portal/");
    a = fg_action_new(cfg, FG_KIND_PROTECT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    fg_action_fail(a, FG_ERR_REDIS_DOWN);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 503);
    ck_assert_ptr_null(header(fg_action_response(a), "Location"));
    fg_action_free(a);
}
END_TEST

START_TEST(noscript_is_retried_with_eval)
{
    fg_arena_t *ar = fg_arena_new();
    fg_action_t *a = protect_with_session(ar, NULL);
    feed(a, 1, r_err("NOSCRIPT No matching script. Please use EVAL."));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    ck_assert_str_eq(cmd_arg(a, 0, 0), "EVAL");
    ck_assert_ptr_nonnull(strstr(cmd_arg(a, 0, 1), "redis.call"));
    feed(a, 1, r_arr(4, "ok", "Erika", "1767225100", "900"));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->decision, FG_GRANTED);
    fg_action_free(a);
    fg_arena_free(ar);
}
END_TEST

/* ---- login */

static const char *login_cookie(fg_arena_t *ar, const char *csrf)
{
    return fg_arena_printf(ar, "freigabe-pre=%s",
                           seal(ar, "pre", fg_arena_printf(ar, "L\n%s\n/portal/", csrf)));
}

START_TEST(login_get_sets_csrf_cookie)
{
    fg_request_t r = req("GET", "/freigabe/login");
    r.query = "rd=%2F%2Fevil.example";
    fg_action_t *a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    const fg_response_t *resp = fg_action_response(a);
    ck_assert_int_eq(resp->status, 200);
    const char *sc = header(resp, "Set-Cookie");
    ck_assert_ptr_nonnull(strstr(sc, "freigabe-pre="));
    ck_assert_ptr_nonnull(strstr(sc, "SameSite=Strict"));
    ck_assert_ptr_nonnull(strstr(sc, "HttpOnly"));
    ck_assert_ptr_null(strstr(sc, "Secure"));
    ck_assert_ptr_nonnull(strstr(resp->body, "name=\"csrf\""));
    ck_assert_ptr_null(strstr(resp->body, "evil.example"));
    ck_assert_ptr_nonnull(header(resp, "Content-Security-Policy"));
    fg_action_free(a);
}
END_TEST

/* A second login page in the same browser keeps what the browser has going: the form
 * carries the existing csrf token, and an accepted password's cookie is left alone. */
START_TEST(login_get_keeps_a_login_in_progress)
{
    fg_arena_t *ar = fg_arena_new();
    fg_request_t r = req("GET", "/freigabe/login");
    r.query = "rd=%2Fportal%2F";
    r.cookie = fg_arena_printf(
        ar, "freigabe-pre=%s", seal(ar, "pre", "P\nCSRF0123456789\n1234567890\nPRETOKEN"));
    fg_action_t *a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    const fg_response_t *resp = fg_action_response(a);
    ck_assert_int_eq(resp->status, 200);
    ck_assert_ptr_null(header(resp, "Set-Cookie"));
    ck_assert_ptr_nonnull(strstr(resp->body, "CSRF0123456789"));
    fg_action_free(a);
    /* a login form's cookie is renewed with the same token (two tabs, both forms work) */
    r.cookie = login_cookie(ar, "CSRFTOKEN1234567890");
    a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    resp = fg_action_response(a);
    ck_assert_ptr_nonnull(header(resp, "Set-Cookie"));
    ck_assert_ptr_nonnull(strstr(resp->body, "CSRFTOKEN1234567890"));
    fg_action_free(a);
    /* a forged cookie gets a fresh token */
    r.cookie = "freigabe-pre=k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_ptr_nonnull(header(fg_action_response(a), "Set-Cookie"));
    ck_assert_ptr_null(strstr(fg_action_response(a)->body, "AAAAAAAAAAAAAAAA"));
    fg_action_free(a);
    fg_arena_free(ar);
}
END_TEST

static fg_action_t *login_post(fg_arena_t *ar, const char *customer, const char *pw,
                               const char *csrf_form, const char *origin)
{
    fg_request_t r = req("POST", "/freigabe/login");
    const char *body = fg_arena_printf(ar, "customer=%s&password=%s&csrf=%s&rd=%%2Fportal%%2F",
                                       customer, pw, csrf_form);
    r.sec_fetch_mode = "navigate";
    r.sec_fetch_site = "same-origin";
    r.origin = origin;
    r.cookie = login_cookie(ar, "CSRFTOKEN1234567890");
    r.body = (const unsigned char *)body;
    r.body_len = strlen(body);
    r.content_type = "application/x-www-form-urlencoded";
    return fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
}

static char *hash_pw(const char *pw)
{
    static char out[crypto_pwhash_STRBYTES];
    ck_assert_int_eq(crypto_pwhash_str(out, pw, strlen(pw), 1, 65536), 0);
    return out;
}

START_TEST(login_success_goes_to_approve)
{
    fg_arena_t *ar = fg_arena_new();
    fg_action_t *a = login_post(ar, "1234567890", "geheim", "CSRFTOKEN1234567890",
                                "http://portal.example");
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    ck_assert_uint_eq(ncmds(a), 4);
    ck_assert_str_eq(cmd_arg(a, 0, 1), "freigabe:{1234567890}:user");
    /* the attempt is counted (address and account) before anything is hashed */
    ck_assert_str_eq(cmd_arg(a, 2, 0), "EVALSHA");
    ck_assert_str_eq(cmd_arg(a, 2, 3), "freigabe:ipfail:192.0.2.7");
    ck_assert_str_eq(cmd_arg(a, 2, 4), "1");
    ck_assert_str_eq(cmd_arg(a, 3, 3), "freigabe:{1234567890}:fail");
    ck_assert_str_eq(cmd_arg(a, 3, 4), "1");
    feed(a, 4, r_arr(3, "Erika M\xc3\xbcller", hash_pw("geheim"), "0"), r_int(1), r_int(3),
         r_int(5));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_HASH);
    fg_hash_job_run(fg_action_hash_job(a));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    /* the pre-login state is stored under a keyed hash; the password nowhere */
    for (size_t i = 0; i < ncmds(a); i++) {
        const fg_cmd_t *c;
        fg_action_commands(a, &c);
        for (int j = 0; j < c[i].argc; j++) {
            ck_assert_ptr_null(strstr(c[i].argv[j], "geheim"));
        }
    }
    ck_assert_str_eq(cmd_arg(a, 0, 0), "DEL");
    ck_assert_str_eq(cmd_arg(a, 0, 1), "freigabe:{1234567890}:fail");
    /* a correct password takes its attempt back from the address */
    ck_assert_str_eq(cmd_arg(a, 1, 3), "freigabe:ipfail:192.0.2.7");
    ck_assert_str_eq(cmd_arg(a, 1, 4), "-1");
    ck_assert_uint_eq(ncmds(a), 5); /* no rehash: the hash has the configured limits */
    feed(a, 5, r_int(1), r_int(2), r_int(2), r_int(1), r_int(1));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    const fg_response_t *resp = fg_action_response(a);
    ck_assert_int_eq(resp->status, 303);
    ck_assert_str_eq(header(resp, "Location"), "/freigabe/approve");
    ck_assert_ptr_nonnull(strstr(header(resp, "Set-Cookie"), "freigabe-pre="));
    fg_action_free(a);
    fg_arena_free(ar);
}
END_TEST

/* Runs a failing login to the end and returns the body (arena). */
static const char *login_fail_body(fg_arena_t *ar, const char *customer, fg_reply_t *user,
                                   int *status)
{
    fg_action_t *a = login_post(ar, customer, "falsch", "CSRFTOKEN1234567890", NULL);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    /* the account (known or not) and the address are counted alike */
    ck_assert_uint_eq(ncmds(a), 4);
    ck_assert_str_eq(cmd_arg(a, 2, 3), "freigabe:ipfail:192.0.2.7");
    ck_assert_str_eq(cmd_arg(a, 3, 3), "freigabe:{1234567890}:fail");
    feed(a, 4, user, r_int(0), r_int(1), r_int(1));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_HASH);
    fg_hash_job_run(fg_action_hash_job(a));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    for (size_t i = 0; i < ncmds(a); i++) { /* counted already: no second count */
        ck_assert_str_ne(cmd_arg(a, i, 0), "EVALSHA");
        ck_assert_str_ne(cmd_arg(a, i, 0), "INCR");
    }
    feed(a, 2, r_str("1-0"), r_int(1));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    const fg_response_t *resp = fg_action_response(a);
    *status = resp->status;
    const char *body = fg_arena_strdup(ar, resp->body);
    fg_action_free(a);
    return body;
}

START_TEST(unknown_customer_and_wrong_password_look_the_same)
{
    fg_arena_t *ar = fg_arena_new();
    int s1, s2;
    const char *b1 = login_fail_body(ar, "1234567890",
                                     r_arr(3, "Erika", hash_pw("geheim"), "0"), &s1);
    const char *b2 = login_fail_body(ar, "1234567890", r_arr(3, NULL, NULL, NULL), &s2);
    ck_assert_int_eq(s1, 401);
    ck_assert_int_eq(s2, 401);
    ck_assert_str_eq(b1, b2);
    fg_arena_free(ar);
}
END_TEST

START_TEST(login_throttled_before_hashing)
{
    fg_arena_t *ar = fg_arena_new();
    fg_action_t *a = login_post(ar, "1234567890", "geheim", "CSRFTOKEN1234567890", NULL);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    /* the 6th attempt on the account within the window (limit 5) */
    feed(a, 4, r_arr(3, "Erika", hash_pw("geheim"), "0"), r_int(1), r_int(6), r_int(6));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 429);
    ck_assert_ptr_nonnull(header(fg_action_response(a), "Retry-After"));
    fg_action_free(a);
    /* the 21st from the address (limit 20), the account's 1st */
    a = login_post(ar, "1234567890", "geheim", "CSRFTOKEN1234567890", NULL);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 4, r_arr(3, "Erika", hash_pw("geheim"), "0"), r_int(1), r_int(21), r_int(1));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 429);
    fg_action_free(a);
    /* the 5th attempt is still allowed */
    a = login_post(ar, "1234567890", "geheim", "CSRFTOKEN1234567890", NULL);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 4, r_arr(3, "Erika", hash_pw("geheim"), "0"), r_int(1), r_int(20), r_int(5));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_HASH);
    fg_action_free(a);
    /* a counter that could not be counted (not an integer) fails closed, unhashed */
    a = login_post(ar, "1234567890", "geheim", "CSRFTOKEN1234567890", NULL);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 4, r_arr(3, "Erika", hash_pw("geheim"), "0"), r_int(1), r_nil(), r_int(1));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 503);
    fg_action_free(a);
    fg_arena_free(ar);
}
END_TEST

START_TEST(login_rehash_refused_still_logs_in)
{
    fg_arena_t *ar = fg_arena_new();
    static char old[crypto_pwhash_STRBYTES]; /* stronger limits than configured: rehash */
    ck_assert_int_eq(crypto_pwhash_str(old, "geheim", 6, 2, 131072), 0);
    fg_action_t *a = login_post(ar, "1234567890", "geheim", "CSRFTOKEN1234567890", NULL);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 4, r_arr(3, "Erika", old, "0"), r_int(1), r_int(1), r_int(1));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_HASH);
    fg_hash_job_run(fg_action_hash_job(a));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_HASH); /* the rehash */
    fg_action_hash_refused(a, FG_ERR_BUSY);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    ck_assert_uint_eq(ncmds(a), 5); /* no rehash written */
    feed(a, 5, r_int(1), r_int(0), r_int(2), r_int(1), r_int(1));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 303);
    fg_action_free(a);
    fg_arena_free(ar);
}
END_TEST

/* The rehash replaces the stored hash only if it is still the one just verified: an
 * admin's `user passwd` in the meantime wins. */
START_TEST(login_rehash_is_compare_and_set)
{
    fg_arena_t *ar = fg_arena_new();
    static char old[crypto_pwhash_STRBYTES];
    ck_assert_int_eq(crypto_pwhash_str(old, "geheim", 6, 2, 131072), 0);
    fg_action_t *a = login_post(ar, "1234567890", "geheim", "CSRFTOKEN1234567890", NULL);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 4, r_arr(3, "Erika", old, "0"), r_int(1), r_int(1), r_int(1));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_HASH);
    fg_hash_job_run(fg_action_hash_job(a));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_HASH);
    fg_hash_job_run(fg_action_hash_job(a));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    ck_assert_uint_eq(ncmds(a), 6);
    ck_assert_str_eq(cmd_arg(a, 5, 0), "EVALSHA");
    ck_assert_str_eq(cmd_arg(a, 5, 3), "freigabe:{1234567890}:user");
    ck_assert_str_eq(cmd_arg(a, 5, 4), old);                 /* expected */
    ck_assert_int_eq(strncmp(cmd_arg(a, 5, 5), "$argon2id$", 10), 0); /* new */
    ck_assert_str_ne(cmd_arg(a, 5, 5), old);
    feed(a, 6, r_int(1), r_int(0), r_int(2), r_int(1), r_int(1), r_int(0));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 303);
    fg_action_free(a);
    fg_arena_free(ar);
}
END_TEST

START_TEST(login_csrf_and_origin_enforced)
{
    fg_arena_t *ar = fg_arena_new();
    fg_action_t *a = login_post(ar, "1234567890", "geheim", "WRONG", NULL);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 403);
    fg_action_free(a);
    a = login_post(ar, "1234567890", "geheim", "CSRFTOKEN1234567890", "https://evil.example");
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 403);
    fg_action_free(a);
    fg_arena_free(ar);
}
END_TEST

START_TEST(login_hash_cap_gives_503)
{
    fg_arena_t *ar = fg_arena_new();
    fg_action_t *a = login_post(ar, "1234567890", "geheim", "CSRFTOKEN1234567890", NULL);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 4, r_arr(3, "Erika", hash_pw("geheim"), "0"), r_int(1), r_int(1), r_int(1));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_HASH);
    fg_action_hash_refused(a, FG_ERR_BUSY);
    /* no password was checked: the attempt goes back to both counters */
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    ck_assert_uint_eq(ncmds(a), 2);
    ck_assert_str_eq(cmd_arg(a, 0, 3), "freigabe:ipfail:192.0.2.7");
    ck_assert_str_eq(cmd_arg(a, 0, 4), "-1");
    ck_assert_str_eq(cmd_arg(a, 1, 3), "freigabe:{1234567890}:fail");
    ck_assert_str_eq(cmd_arg(a, 1, 4), "-1");
    feed(a, 2, r_int(0), r_int(0));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 503);
    ck_assert_ptr_nonnull(header(fg_action_response(a), "Retry-After"));
    fg_action_free(a);
    fg_arena_free(ar);
}
END_TEST

/* ---- approval, status, finish */

static fg_request_t pre_req(fg_arena_t *ar, const char *method, const char *path)
{
    fg_request_t r = req(method, path);
    r.cookie = fg_arena_printf(
        ar, "freigabe-pre=%s", seal(ar, "pre", "P\nCSRF0123456789\n1234567890\nPRETOKEN"));
    r.sec_fetch_site = "same-origin";
    r.body = (const unsigned char *)"csrf=CSRF0123456789";
    r.body_len = strlen((const char *)r.body);
    return r;
}

START_TEST(approve_creates_challenge_atomically)
{
    fg_arena_t *ar = fg_arena_new();
    fg_request_t r = pre_req(ar, "POST", "/freigabe/approve");
    fg_action_t *a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    ck_assert_uint_eq(ncmds(a), 1);
    ck_assert_str_eq(cmd_arg(a, 0, 0), "EVALSHA");
    ck_assert_str_eq(cmd_arg(a, 0, 2), "9");
    for (int k = 3; k < 3 + 7; k++) { /* the customer's keys share one hash tag */
        ck_assert_ptr_nonnull(strstr(cmd_arg(a, 0, k), "{1234567890}"));
    }
    ck_assert_ptr_null(strstr(cmd_arg(a, 0, 3), "PRETOKEN"));
    feed(a, 1, r_arr(2, "ok", "1"));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 303);
    ck_assert_str_eq(header(fg_action_response(a), "Location"), "/freigabe/wait");
    fg_action_free(a);

    r = pre_req(ar, "POST", "/freigabe/approve");
    a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 1, r_arr(2, "cooldown", "250"));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 429);
    ck_assert_str_eq(header(fg_action_response(a), "Retry-After"), "250");
    fg_action_free(a);
    fg_arena_free(ar);
}
END_TEST

static const char *status_json(fg_arena_t *ar, fg_reply_t *reply, int *status)
{
    fg_request_t r = pre_req(ar, "GET", "/freigabe/status");
    r.accept = "application/json";
    r.sec_fetch_mode = "cors";
    fg_action_t *a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 1, reply);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    *status = fg_action_response(a)->status;
    const char *body = fg_arena_strdup(ar, fg_action_response(a)->body);
    fg_action_free(a);
    return body;
}

START_TEST(status_vocabulary)
{
    fg_arena_t *ar = fg_arena_new();
    int st;
    ck_assert_str_eq(status_json(ar, r_arr(5, "pending", "97", "", "2", "0"), &st),
                     "{\"status\":\"authorization_pending\",\"expires_in\":97,\"interval\":2}\n");
    ck_assert_ptr_nonnull(strstr(status_json(ar, r_arr(5, "pending", "90", "", "3", "1"), &st),
                                 "\"status\":\"slow_down\""));
    ck_assert_ptr_nonnull(strstr(status_json(ar, r_arr(5, "approved", "80", "", "2", "0"), &st),
                                 "\"status\":\"approved\""));
    ck_assert_ptr_nonnull(strstr(status_json(ar, r_arr(5, "denied", "80", "", "2", "0"), &st),
                                 "\"status\":\"access_denied\""));
    const char *sup = status_json(ar, r_arr(5, "superseded", "80", "", "2", "0"), &st);
    ck_assert_ptr_nonnull(strstr(sup, "\"status\":\"expired_token\""));
    ck_assert_ptr_nonnull(strstr(sup, "\"reason\":\"superseded\""));
    status_json(ar, r_arr(1, "nopre"), &st);
    ck_assert_int_eq(st, 401);
    fg_arena_free(ar);
}
END_TEST

START_TEST(finish_sets_session_and_safe_location)
{
    fg_arena_t *ar = fg_arena_new();
    fg_request_t r = pre_req(ar, "POST", "/freigabe/finish");
    fg_action_t *a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 1, r_arr(3, "ok", "Erika", "//evil.example/x"));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    const fg_response_t *resp = fg_action_response(a);
    ck_assert_int_eq(resp->status, 303);
    ck_assert_str_eq(header(resp, "Location"), "/");
    int session = 0, cleared = 0;
    for (size_t i = 0; i < resp->nheaders; i++) {
        if (strcmp(resp->headers[i].name, "Set-Cookie") == 0) {
            session += strncmp(resp->headers[i].value, "freigabe=", 9) == 0 &&
                       strstr(resp->headers[i].value, "SameSite=Lax") != NULL;
            cleared += strncmp(resp->headers[i].value, "freigabe-pre=;", 14) == 0;
        }
    }
    ck_assert_int_eq(session, 1);
    ck_assert_int_eq(cleared, 1);
    fg_action_free(a);

    r = pre_req(ar, "POST", "/freigabe/finish");
    a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 1, r_arr(2, "state", "redeemed"));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 409);
    ck_assert_ptr_null(header(fg_action_response(a), "Set-Cookie"));
    fg_action_free(a);
    fg_arena_free(ar);
}
END_TEST

/* ---- app API */

static unsigned char dev_pk[32], dev_sk[64];

static fg_request_t app_req(fg_arena_t *ar, const char *method, const char *path,
                            const char *query, const char *body, const char *device,
                            int64_t ts, const char *nonce)
{
    fg_request_t r = req(method, path);
    const char *pq = query ? fg_arena_printf(ar, "%s?%s", path, query) : path;
    const char *msg = fg_devauth_message(ar, method, pq, fg_arena_printf(ar, "%lld", (long long)ts),
                                         nonce, (const unsigned char *)body, strlen(body));
    unsigned char sig[64];
    crypto_sign_detached(sig, NULL, (const unsigned char *)msg, strlen(msg), dev_sk);
    r.query = query;
    r.accept = "application/json";
    r.sec_fetch_mode = NULL;
    r.body = (const unsigned char *)body;
    r.body_len = strlen(body);
    r.freigabe_client = "platform=android, os=13, app=2.4.0";
    r.authorization = fg_arena_printf(
        ar, "Freigabe-Device device=\"%s\", ts=\"%lld\", nonce=\"%s\", sig=\"%s\"", device,
        (long long)ts, nonce, fg_b64url_encode(ar, sig, 64));
    return r;
}

START_TEST(app_pending_verifies_and_long_polls)
{
    fg_arena_t *ar = fg_arena_new();
    crypto_sign_keypair(dev_pk, dev_sk);
    const char *pk = fg_b64url_encode(ar, dev_pk, 32);
    fg_request_t r = app_req(ar, "GET", "/freigabe/app/pending", "wait=5", "", "d_abc", NOW,
                             "bm9uY2Vub25jZW5vbmNlMTIz");
    fg_action_t *a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    ck_assert_str_eq(cmd_arg(a, 0, 1), "freigabe:device:d_abc");
    feed(a, 1, r_arr(2, "1234567890", pk));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    ck_assert_ptr_nonnull(strstr(cmd_arg(a, 0, 3), "{1234567890}:nonce:d_abc:"));
    feed(a, 1, r_arr(1, "none"));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_SLEEP);
    ck_assert_int_eq(fg_action_sleep_ms(a), 1000);
    fg_action_set_now(a, NOW + 1);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    ck_assert_str_eq(cmd_arg(a, 0, 8), "0"); /* the nonce is checked only once */
    char *enc = fg_token_seal(ar, cfg->keys, "code", "482913", 6);
    feed(a, 1, r_arr(8, "ok", "CHID", "compare", enc, "99", "192.0.2.7", "Firefox on Linux",
                     "2026-01-01T00:00:00Z"));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    const char *body = fg_action_response(a)->body;
    ck_assert_int_eq(fg_action_response(a)->status, 200);
    ck_assert_ptr_nonnull(strstr(body, "\"code\":\"482913\""));
    ck_assert_ptr_nonnull(strstr(body, "\"id\":\"CHID\""));
    ck_assert_ptr_nonnull(strstr(body, "\"browser\":\"Firefox on Linux\""));
    fg_action_free(a);
    fg_arena_free(ar);
}
END_TEST

START_TEST(app_bad_signature_and_old_client)
{
    fg_arena_t *ar = fg_arena_new();
    crypto_sign_keypair(dev_pk, dev_sk);
    unsigned char other_pk[32], other_sk[64];
    crypto_sign_keypair(other_pk, other_sk);
    const char *body = "{\"id\":\"CHID\",\"decision\":\"approve\",\"code\":\"482913\"}";
    fg_request_t r = app_req(ar, "POST", "/freigabe/app/respond", NULL, body, "d_abc", NOW,
                             "bm9uY2Vub25jZW5vbmNlMTIz");
    fg_action_t *a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 1, r_arr(2, "1234567890", fg_b64url_encode(ar, other_pk, 32)));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 401);
    fg_action_free(a);

    r = app_req(ar, "POST", "/freigabe/app/respond", NULL, body, "d_abc", NOW - 120,
                "bm9uY2Vub25jZW5vbmNlMTIz");
    a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 1, r_arr(2, "1234567890", fg_b64url_encode(ar, dev_pk, 32)));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 401);
    ck_assert_ptr_nonnull(strstr(fg_action_response(a)->body, "stale_request"));
    fg_action_free(a);

    r = app_req(ar, "POST", "/freigabe/app/respond", NULL, body, "d_abc", NOW,
                "bm9uY2Vub25jZW5vbmNlMTIz");
    r.freigabe_client = "platform=android, os=10, app=2.4.0";
    a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 426);
    ck_assert_ptr_nonnull(strstr(fg_action_response(a)->body, "update_required"));
    fg_action_free(a);
    fg_arena_free(ar);
}
END_TEST

START_TEST(app_respond_sends_code_hash_not_code)
{
    fg_arena_t *ar = fg_arena_new();
    crypto_sign_keypair(dev_pk, dev_sk);
    const char *body = "{\"id\":\"CHID\",\"decision\":\"approve\",\"code\":\"482913\"}";
    fg_request_t r = app_req(ar, "POST", "/freigabe/app/respond", NULL, body, "d_abc", NOW,
                             "bm9uY2Vub25jZW5vbmNlMTIz");
    fg_action_t *a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 1, r_arr(2, "1234567890", fg_b64url_encode(ar, dev_pk, 32)));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    const fg_cmd_t *c;
    ck_assert_uint_eq(fg_action_commands(a, &c), 1);
    for (int j = 0; j < c[0].argc; j++) {
        ck_assert_ptr_null(strstr(c[0].argv[j], "482913"));
    }
    ck_assert_str_eq(cmd_arg(a, 0, 4), "freigabe:{1234567890}:ch:CHID");
    feed(a, 1, r_arr(2, "badcode", "2"));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 400);
    ck_assert_ptr_nonnull(strstr(fg_action_response(a)->body, "\"attempts_left\":2"));
    fg_action_free(a);
    fg_arena_free(ar);
}
END_TEST

START_TEST(routing_and_small_endpoints)
{
    fg_request_t r = req("GET", "/freigabe/jwks.json");
    fg_action_t *a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 200);
    ck_assert_ptr_nonnull(strstr(fg_action_response(a)->body, "\"OKP\""));
    fg_action_free(a);

    r = req("GET", "/freigabe/nope");
    a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 404);
    fg_action_free(a);

    r = req("GET", "/freigabe/finish");
    a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 405);
    fg_action_free(a);

    r = req("GET", "/freigabe/health");
    a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 1, r_status("PONG"));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 200);
    fg_action_free(a);

    r = req("GET", "/freigabe/health");
    a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    fg_action_fail(a, FG_ERR_TIMEOUT);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 503);
    fg_action_free(a);

    r = req("GET", "/freigabe/metrics");
    a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r); /* 192.0.2.7 is not allowed */
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 403);
    fg_action_free(a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("action");
    TCase *tc = tcase_create("core");
    if (fg_init() != FG_OK) {
        fprintf(stderr, "fg_init failed\n");
        return 1;
    }
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, protect_no_cookie_navigation_redirects);
    tcase_add_test(tc, protect_no_cookie_api_gets_401_json);
    tcase_add_test(tc, protect_valid_session_grants_identity);
    tcase_add_test(tc, protect_revoked_session_is_denied);
    tcase_add_test(tc, assertion_memo_is_exact);
    tcase_add_test(tc, rotation_keeps_sessions);
    tcase_add_test(tc, protect_redis_down_fails_closed);
    tcase_add_test(tc, redis_error_reply_is_unavailable_not_logout);
    tcase_add_test(tc, forged_session_cookie_never_reaches_redis);
    tcase_add_test(tc, session_cache_spares_redis_within_recheck);
    tcase_add_test(tc, login_rehash_refused_still_logs_in);
    tcase_add_test(tc, noscript_is_retried_with_eval);
    tcase_add_test(tc, login_get_sets_csrf_cookie);
    tcase_add_test(tc, login_get_keeps_a_login_in_progress);
    tcase_add_test(tc, login_success_goes_to_approve);
    tcase_add_test(tc, unknown_customer_and_wrong_password_look_the_same);
    tcase_add_test(tc, login_throttled_before_hashing);
    tcase_add_test(tc, login_rehash_is_compare_and_set);
    tcase_add_test(tc, login_csrf_and_origin_enforced);
    tcase_add_test(tc, login_hash_cap_gives_503);
    tcase_add_test(tc, approve_creates_challenge_atomically);
    tcase_add_test(tc, status_vocabulary);
    tcase_add_test(tc, finish_sets_session_and_safe_location);
    tcase_add_test(tc, app_pending_verifies_and_long_polls);
    tcase_add_test(tc, app_bad_signature_and_old_client);
    tcase_add_test(tc, app_respond_sends_code_hash_not_code);
    tcase_add_test(tc, routing_and_small_endpoints);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
