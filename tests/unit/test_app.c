/* test_app.c - unit tests for shared/fg_app.c: the signed app API (pending, respond, client gating), with canned Redis replies. */
#include "canned.h"

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
    ck_assert_ptr_null(header(fg_action_response(a), "Retry-After"));
    fg_action_free(a);

    /* a long poll the host cuts short (busy, going away) with nothing found tells the
     * app to wait before it asks again */
    r = app_req(ar, "GET", "/freigabe/app/pending", "wait=5", "", "d_abc", NOW,
                "bm9uY2Vub25jZW5vbmNlMTIz");
    a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 1, r_arr(2, "1234567890", pk));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 1, r_arr(1, "none"));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_SLEEP);
    fg_action_stop_waiting(a);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 1, r_arr(1, "none"));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 200);
    ck_assert_str_eq(header(fg_action_response(a), "Retry-After"), "2");
    ck_assert_ptr_nonnull(strstr(fg_action_response(a)->body, "\"requests\":[]"));
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

int main(void)
{
    const TTest *tests[] = {
        app_pending_verifies_and_long_polls,
        app_bad_signature_and_old_client,
        app_respond_sends_code_hash_not_code,
        NULL};
    return run_suite("fg_app", tests);
}
