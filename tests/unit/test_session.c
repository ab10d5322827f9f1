/* test_session.c - unit tests for shared/fg_session.c: protected locations, the assertion, the session cache, with canned Redis replies. */
#include "canned.h"

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

/* A genuine cookie (sealed with the key) claiming a creation time in the future is not a
 * session: no lookup, and no overflow in created + session_max. */
START_TEST(session_from_the_future_is_refused)
{
    static const char *const created[] = {"9223372036854775807", "1767226000"};
    for (size_t i = 0; i < 2; i++) {
        fg_arena_t *ar = fg_arena_new();
        fg_request_t r = req("GET", "/portal/");
        r.cookie = fg_arena_printf(ar, "freigabe=%s",
                                   seal(ar, "session", fg_arena_printf(ar, "v1\n1234567890\nTOK\n%s",
                                                                       created[i])));
        fg_action_t *a = fg_action_new(cfg, FG_KIND_PROTECT, &r);
        ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
        ck_assert_str_eq(cmd_arg(a, 0, 0), "PING");
        feed(a, 1, r_status("PONG"));
        ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
        ck_assert_int_eq(fg_action_response(a)->status, 302);
        fg_action_free(a);
        fg_arena_free(ar);
    }
}
END_TEST

int main(void)
{
    const TTest *tests[] = {
        protect_no_cookie_navigation_redirects,
        protect_no_cookie_api_gets_401_json,
        protect_valid_session_grants_identity,
        assertion_memo_is_exact,
        rotation_keeps_sessions,
        protect_revoked_session_is_denied,
        protect_redis_down_fails_closed,
        redis_error_reply_is_unavailable_not_logout,
        session_cache_spares_redis_within_recheck,
        forged_session_cookie_never_reaches_redis,
        session_from_the_future_is_refused,
        NULL};
    return run_suite("fg_session", tests);
}
