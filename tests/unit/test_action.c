/* test_action.c - unit tests for shared/fg_action.c: the step protocol (NOSCRIPT retry), routing and the small endpoints, with canned Redis replies. */
#include "canned.h"

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
    ck_assert_str_eq(cmd_arg(a, 0, 0), "SET"); /* a write: replicas answer READONLY */
    ck_assert_str_eq(cmd_arg(a, 0, 1), "freigabe:health");
    feed(a, 1, r_status("OK"));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 200);
    fg_action_free(a);

    r = req("GET", "/freigabe/health");
    a = fg_action_new(cfg, FG_KIND_ENDPOINT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    feed(a, 1, r_err("READONLY You can't write against a read only replica."));
    ck_assert_int_eq(fg_action_step(a), FG_STEP_DONE);
    ck_assert_int_eq(fg_action_response(a)->status, 503);
    ck_assert_ptr_nonnull(strstr(fg_action_response(a)->body, "\"redis\":\"down\""));
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
    const TTest *tests[] = {
        noscript_is_retried_with_eval,
        routing_and_small_endpoints,
        NULL};
    return run_suite("fg_action", tests);
}
