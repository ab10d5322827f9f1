/* test_flow.c - unit tests for shared/fg_flow.c: login, approval request, status and finish, with canned Redis replies. */
#include "canned.h"

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

/* A login POST of "geheim" stepped through its first batch: the user record (stored hash,
 * NULL for one of "geheim"; disabled flag), its devices, and the address's and the
 * account's attempt counts. */
static fg_action_t *login_counted(fg_arena_t *ar, const char *stored, const char *disabled,
                                  long long ndev, fg_reply_t *nip, fg_reply_t *nfail)
{
    fg_action_t *a = login_post(ar, "1234567890", "geheim", "CSRFTOKEN1234567890", NULL);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 4, r_arr(3, "Erika", stored ? stored : hash_pw("geheim"), disabled), r_int(ndev),
         nip, nfail);
    return a;
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
    /* the 6th attempt on the account within the window (limit 5) */
    fg_action_t *a = login_counted(ar, NULL, "0", 1, r_int(6), r_int(6));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 429);
    ck_assert_ptr_nonnull(header(fg_action_response(a), "Retry-After"));
    fg_action_free(a);
    /* the 21st from the address (limit 20), the account's 1st */
    a = login_counted(ar, NULL, "0", 1, r_int(21), r_int(1));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 429);
    fg_action_free(a);
    /* the 5th attempt is still allowed */
    a = login_counted(ar, NULL, "0", 1, r_int(20), r_int(5));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_HASH);
    fg_action_free(a);
    /* a counter that could not be counted (not an integer) fails closed, unhashed */
    a = login_counted(ar, NULL, "0", 1, r_nil(), r_int(1));
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
    fg_action_t *a = login_counted(ar, old, "0", 1, r_int(1), r_int(1));
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
    fg_action_t *a = login_counted(ar, old, "0", 1, r_int(1), r_int(1));
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

/* A correct password on an account without an app (or a disabled one) is no failure:
 * the attempt goes back before the account's state is revealed. */
START_TEST(correct_password_without_app_is_no_failure)
{
    static const char *const disabled[] = {"0", "1"};
    for (int i = 0; i < 2; i++) {
        fg_arena_t *ar = fg_arena_new();
        fg_action_t *a = login_counted(ar, NULL, disabled[i], i, r_int(1), r_int(1));
        ck_assert_int_eq(fg_action_step(a), FG_STEP_HASH);
        fg_hash_job_run(fg_action_hash_job(a));
        ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
        ck_assert_uint_eq(ncmds(a), 2);
        ck_assert_str_eq(cmd_arg(a, 0, 0), "DEL");
        ck_assert_str_eq(cmd_arg(a, 0, 1), "freigabe:{1234567890}:fail");
        ck_assert_str_eq(cmd_arg(a, 1, 3), "freigabe:ipfail:192.0.2.7");
        ck_assert_str_eq(cmd_arg(a, 1, 4), "-1");
        feed(a, 2, r_int(1), r_int(0));
        ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
        ck_assert_int_eq(fg_action_response(a)->status, 403);
        ck_assert_ptr_nonnull(strstr(fg_action_response(a)->body,
                                     fg_msg("de", i ? "account_locked" : "no_device")));
        fg_action_free(a);
        fg_arena_free(ar);
    }
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
    fg_action_t *a = login_counted(ar, NULL, "0", 1, r_int(1), r_int(1));
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

/* Numbers from Redis are kept to what a page can show: no overflow, no endless refresh. */
START_TEST(wait_page_clamps_redis_numbers)
{
    fg_arena_t *ar = fg_arena_new();
    fg_request_t r = pre_req(ar, "GET", "/freigabe/wait");
    fg_action_t *a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 1, r_arr(5, "pending", "99999999999", "", "2147483647", "0"));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    const char *body = fg_action_response(a)->body;
    ck_assert_ptr_nonnull(strstr(body, "content=\"61\""));       /* refresh: interval 60 + 1 */
    ck_assert_ptr_nonnull(strstr(body, "data-expires-in=\"120\"")); /* at most the timeout */
    fg_action_free(a);
    fg_arena_free(ar);
}
END_TEST

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

int main(void)
{
    const TTest *tests[] = {
        login_get_sets_csrf_cookie,
        login_get_keeps_a_login_in_progress,
        login_success_goes_to_approve,
        unknown_customer_and_wrong_password_look_the_same,
        login_throttled_before_hashing,
        login_rehash_refused_still_logs_in,
        login_rehash_is_compare_and_set,
        correct_password_without_app_is_no_failure,
        login_csrf_and_origin_enforced,
        login_hash_cap_gives_503,
        approve_creates_challenge_atomically,
        wait_page_clamps_redis_numbers,
        status_vocabulary,
        finish_sets_session_and_safe_location,
        NULL};
    return run_suite("fg_flow", tests);
}
