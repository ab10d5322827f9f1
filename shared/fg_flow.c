/* fg_flow.c - the browser's login flow: login, approval request, waiting, status and finish. */
#include "fg_action_impl.h"
#include <string.h>

#define PRE_COOKIE_AGE 1800
#define PRE_TTL 600
#define REDEEM_GRACE 60
#define MAX_PASSWORD 1024

/* ------------------------------------------------------------------------ */
/* the pre-login cookie: sealed "L\n<csrf>\n<rd>" (login form) or
 * "P\n<csrf>\n<customer>\n<token>" (password accepted, state in Redis) */

int fg_act_pre_open(fg_action_t *a, char *kind)
{
    const char *c = fg_act_cookie_get(a, "freigabe-pre");
    char *plain = NULL, *save = NULL;
    size_t len = 0;

    *kind = 0;
    if (c == NULL || fg_token_open(a->arena, a->keys, "pre", c, &plain, &len) != FG_OK) {
        return FG_ERR_INVAL;
    }
    a->sealed = c;
    const char *k = strtok_r(plain, "\n", &save);
    a->csrf = strtok_r(NULL, "\n", &save);
    if (k == NULL || a->csrf == NULL) {
        return FG_ERR_INVAL;
    }
    if (strcmp(k, "L") == 0) {
        a->rd = strtok_r(NULL, "\n", &save);
        *kind = 'L';
        return FG_OK;
    }
    a->customer = strtok_r(NULL, "\n", &save);
    a->token = strtok_r(NULL, "\n", &save);
    if (strcmp(k, "P") != 0 || !fg_act_customer_ok(a->customer) || a->token == NULL) {
        return FG_ERR_INVAL;
    }
    *kind = 'P';
    return FG_OK;
}

static void pre_cookie_set(fg_action_t *a, const char *plain)
{
    fg_act_cookie_set(a, "freigabe-pre", fg_token_seal(a->arena, a->keys, "pre", plain, strlen(plain)),
                      "Strict", PRE_COOKIE_AGE);
}

static const char *pre_hash(fg_action_t *a)
{
    return fg_token_hash_by(a->arena, a->keys, a->sealed, "pre", a->token, strlen(a->token));
}

static const char *pre_key(fg_action_t *a)
{
    return fg_act_key(a, a->customer, fg_arena_printf(a->arena, "pre:%s", pre_hash(a)));
}

static const char *chal_prefix(fg_action_t *a)
{
    return fg_act_key(a, a->customer, "ch:");
}

/* NULL when the form's csrf field matches the sealed cookie's and the request is
 * same-origin, else the message key of the refusal. */
static const char *csrf_refusal(fg_action_t *a)
{
    const char *f = fg_act_form(a, "csrf");
    size_t n = a->csrf ? strlen(a->csrf) : 0;

    if (!fg_request_same_origin(&a->req)) {
        fg_act_log(a, FG_LOG_WARN, "%s %s refused: cross-site request", a->req.method,
                   a->req.path);
        return "cross_site";
    }
    if (f == NULL || n == 0 || strlen(f) != n || sodium_memcmp(f, a->csrf, n) != 0) {
        fg_act_log(a, FG_LOG_WARN, "%s %s refused: missing or wrong csrf token", a->req.method,
                   a->req.path);
        return "csrf";
    }
    return NULL;
}

/* Back to the login page (GET handlers: 302; POST handlers: 303). */
static fg_step_t to_login(fg_action_t *a)
{
    int st = strcmp(a->req.method, "POST") == 0 ? 303 : 302;
    return fg_act_redirect(a, st, fg_arena_printf(a->arena, "%s/login", a->cfg->prefix));
}

static fg_step_t to_page(fg_action_t *a, const char *sub)
{
    return fg_act_redirect(a, 303, fg_arena_printf(a->arena, "%s%s", a->cfg->prefix, sub));
}

/* ------------------------------------------------------------------------ */
/* login */

static fg_step_t login_page(fg_action_t *a, int status, const char *error)
{
    fg_page_args_t args;
    fg_act_page_args(a, &args);
    args.csrf = a->csrf;
    args.rd = a->rd;
    args.error = error;
    if (error != NULL) {
        args.customer = fg_act_form(a, "customer");
    }
    return fg_act_page(a, status, FG_PAGE_LOGIN, &args);
}

/* Opening the login page again (a second tab, the portal redirecting there while the
 * first tab waits for the app) must not break what this browser has going: the form
 * reuses the pre-login cookie's csrf token, and a cookie from an accepted password stays
 * until a new password is accepted. */
fg_step_t fg_h_login_get(fg_action_t *a)
{
    char kind;
    int have = fg_act_pre_open(a, &kind) == FG_OK;

    a->rd = fg_return_path(a->arena, fg_act_query(a, "rd"), a->cfg->default_path);
    a->csrf = have ? a->csrf : fg_random_token(a->arena, 24);
    if (!have || kind == 'L') {
        pre_cookie_set(a, fg_arena_printf(a->arena, "L\n%s\n%s", a->csrf, a->rd));
    }
    return login_page(a, 200, NULL);
}

static const char *ipfail_key(fg_action_t *a)
{
    return fg_act_key(a, NULL, fg_arena_printf(a->arena, "ipfail:%s", a->req.remote_ip));
}

/* Counts this attempt against the account and the address before anything is hashed:
 * each INCR is atomic, so of N parallel attempts only those within the limit get a hash
 * (a check first and a count after the hash would let all N through). */
static void count_attempt(fg_action_t *a, const char *key, const char *delta)
{
    fg_act_eval(a, FG_SCRIPT_ATTEMPT, 1, key, delta, fg_act_num(a, a->cfg->fail_window), NULL);
}

/* Takes this login's counted attempt back (adds to the current batch). A correct password
 * is no failure: it clears the account's count and leaves the address's as it was before;
 * an attempt whose password was never checked (the hash cap was full) undoes both. */
static void attempt_back(fg_action_t *a, int password_ok)
{
    if (password_ok) {
        fg_act_cmd(a, "DEL", fg_act_key(a, a->customer, "fail"), NULL);
        count_attempt(a, ipfail_key(a), "-1");
        return;
    }
    count_attempt(a, ipfail_key(a), "-1");
    if (a->wellformed) {
        count_attempt(a, fg_act_key(a, a->customer, "fail"), "-1");
    }
}

static fg_step_t login_start(fg_action_t *a)
{
    char kind;
    const char *refusal = fg_act_pre_open(a, &kind) != FG_OK ? "csrf" : csrf_refusal(a);
    if (refusal != NULL) {
        return fg_act_fail(a, 403, refusal);
    }
    const char *form_rd = fg_act_form(a, "rd");
    a->rd = fg_return_path(a->arena, form_rd ? form_rd : a->rd, a->cfg->default_path);
    a->customer = fg_act_form(a, "customer");
    a->wellformed = fg_act_customer_ok(a->customer);
    fg_act_batch(a);
    const char *c = a->wellformed ? a->customer : "-";
    fg_act_cmd(a, "HMGET", fg_act_key(a, c, "user"), "name", "pw", "disabled", NULL);
    fg_act_cmd(a, "SCARD", fg_act_key(a, c, "devices"), NULL);
    count_attempt(a, ipfail_key(a), "1");
    if (a->wellformed) { /* known or not: the same count, so throttling reveals nothing */
        count_attempt(a, fg_act_key(a, a->customer, "fail"), "1");
    }
    return FG_STEP_REDIS;
}

/* Passwords longer than MAX_PASSWORD count by their first MAX_PASSWORD bytes, for the
 * check and the rehash alike. */
static size_t password_len(const char *pw)
{
    size_t n = pw ? strlen(pw) : 0;
    return n > MAX_PASSWORD ? MAX_PASSWORD : n;
}

static fg_step_t login_verify(fg_action_t *a)
{
    const fg_reply_t *user = fg_act_reply(a, 0);
    const fg_reply_t *ipcount = fg_act_reply(a, 2), *count = fg_act_reply(a, 3);
    long long nip = ipcount->type == FG_R_INT ? ipcount->integer : 0;
    long long nfail = a->wellformed && count->type == FG_R_INT ? count->integer : 0;

    if (ipcount->type != FG_R_INT || (a->wellformed && count->type != FG_R_INT)) {
        a->redis_err = FG_ERR_REDIS; /* the attempt could not be counted: fail closed */
        return fg_act_unavailable(a);
    }
    if (nfail > a->cfg->login_max_fail || nip > a->cfg->login_ip_max_fail) {
        fg_act_log(a, FG_LOG_WARN, "login throttled for %s from %s",
                   a->wellformed ? a->customer : "(invalid customer number)", a->req.remote_ip);
        fg_act_header(a, "Retry-After", fg_act_num(a, a->cfg->fail_window));
        return fg_act_fail(a, 429, "too_many");
    }
    const char *stored = fg_act_elem(a, user, 1);
    const char *disabled = fg_act_elem(a, user, 2);
    a->name = fg_act_elem(a, user, 0);
    a->disabled = disabled != NULL && strcmp(disabled, "1") == 0;
    a->ndevices = fg_act_reply(a, 1)->integer;
    a->flag = a->wellformed && stored != NULL; /* a known customer */
    if (!a->flag) {
        stored = fg_hash_dummy(a->cfg->argon2_ops, a->cfg->argon2_mem);
    }
    const char *pw = fg_act_form(a, "password");
    a->job = fg_hash_job_verify(a->arena, stored, FG_S(pw), password_len(pw));
    if (pw != NULL) {
        sodium_memzero((void *)pw, strlen(pw));
    }
    a->rd = a->rd ? a->rd : a->cfg->default_path;
    a->csrf = a->csrf ? a->csrf : "";
    a->token = stored; /* remembered for the rehash check */
    return FG_STEP_HASH;
}

/* The attempt is counted already (count_attempt); what is left is the record. */
static fg_step_t login_failed(fg_action_t *a)
{
    fg_act_batch(a);
    fg_act_cmd(a, "XADD", fg_act_key(a, NULL, "audit"), "MAXLEN", "~", "10000", "*", "event",
               "login_failed", "customer", a->wellformed ? a->customer : "-", "ip", a->req.remote_ip,
               "detail", "", NULL);
    fg_act_cmd(a, "HINCRBY", fg_act_key(a, NULL, "metrics"), "login_failed", "1", NULL);
    return FG_STEP_REDIS;
}

static fg_step_t login_accept(fg_action_t *a, const char *newhash)
{
    const char *verified = a->token;

    a->token = fg_random_token(a->arena, 32);
    a->sealed = NULL; /* the new pre cookie is sealed with the active key: hash with it */
    fg_act_batch(a);
    attempt_back(a, 1);
    fg_act_cmd(a, "HSET", pre_key(a), "rd", a->rd, "created", fg_act_num(a, a->req.now), NULL);
    fg_act_cmd(a, "EXPIRE", pre_key(a), fg_act_num(a, PRE_TTL), NULL);
    fg_act_cmd(a, "HINCRBY", fg_act_key(a, NULL, "metrics"), "password_ok", "1", NULL);
    if (newhash != NULL) {
        fg_act_eval(a, FG_SCRIPT_REHASH, 1, fg_act_key(a, a->customer, "user"), verified, newhash,
                    NULL);
    }
    return FG_STEP_REDIS;
}

/* After a correct password: locked and app-less accounts are revealed only now. */
static fg_step_t login_checked(fg_action_t *a)
{
    if (a->hash_err) {
        a->state = 40;
        fg_act_batch(a);
        attempt_back(a, 0);
        return FG_STEP_REDIS;
    }
    int ok = a->flag && fg_hash_job_ok(a->job);
    fg_hash_job_wipe(a->job);
    if (!ok) {
        a->state = 10;
        return login_failed(a);
    }
    if (a->disabled || a->ndevices <= 0) {
        /* revealed only now, after a correct password (which is no failure) */
        a->state = a->disabled ? 41 : 42;
        fg_act_batch(a);
        attempt_back(a, 1);
        return FG_STEP_REDIS;
    }
    if (fg_hash_needs_rehash(a->token, a->cfg->argon2_ops, a->cfg->argon2_mem)) {
        const char *pw = fg_act_form(a, "password");
        a->job = fg_hash_job_create(a->arena, FG_S(pw), password_len(pw), a->cfg->argon2_ops,
                                    a->cfg->argon2_mem);
        a->state = 20;
        return FG_STEP_HASH;
    }
    a->state = 30;
    return login_accept(a, NULL);
}

fg_step_t fg_h_login_post(fg_action_t *a)
{
    if (a->redis_err) {
        return fg_act_unavailable(a);
    }
    switch (a->state++) {
    case 0:
        return login_start(a);
    case 1:
        return login_verify(a);
    case 2:
        return login_checked(a);
    case 10: /* failure counted */
        fg_act_log(a, FG_LOG_INFO, "login failed from %s", a->req.remote_ip);
        return login_page(a, 401, "login_failed");
    case 20: /* rehashed with the current limits (or not, if the pool was full) */
        a->state = 30;
        if (a->hash_err) {
            a->hash_err = 0;
            return login_accept(a, NULL);
        }
        return login_accept(a, fg_hash_job_result(a->job));
    case 41:
        return fg_act_fail(a, 403, "account_locked");
    case 42:
        return fg_act_fail(a, 403, "no_device");
    case 40: /* the hash cap was full */
        fg_act_header(a, "Retry-After", "2");
        return fg_act_fail(a, 503, "busy");
    case 30:
        pre_cookie_set(a, fg_arena_printf(a->arena, "P\n%s\n%s\n%s", a->csrf, a->customer,
                                          a->token));
        fg_act_log(a, FG_LOG_INFO, "password accepted for %s", a->customer);
        return to_page(a, "/approve");
    default:
        return fg_act_fail(a, 500, "unavailable");
    }
}

/* ------------------------------------------------------------------------ */
/* approval request */

fg_step_t fg_h_approve_get(fg_action_t *a)
{
    char kind;
    if (a->state++ == 0) {
        if (fg_act_pre_open(a, &kind) != FG_OK || kind != 'P') {
            return to_login(a);
        }
        fg_act_batch(a);
        fg_act_cmd(a, "EXISTS", pre_key(a), NULL);
        return FG_STEP_REDIS;
    }
    if (a->redis_err) {
        return fg_act_unavailable(a);
    }
    if (fg_act_reply(a, 0)->integer != 1) {
        return to_login(a);
    }
    fg_page_args_t args;
    fg_act_page_args(a, &args);
    args.csrf = a->csrf;
    return fg_act_page(a, 200, FG_PAGE_APPROVE, &args);
}

static fg_step_t approve_create(fg_action_t *a)
{
    char kind;
    if (fg_act_pre_open(a, &kind) != FG_OK || kind != 'P') {
        return to_login(a);
    }
    const char *refusal = csrf_refusal(a);
    if (refusal != NULL) {
        return fg_act_fail(a, 403, refusal);
    }
    const char *id = fg_random_token(a->arena, 16);
    const char *code = fg_random_digits(a->arena, a->cfg->code_length);
    const char *ch = fg_arena_printf(a->arena, "%s:%s", id, code);
    const char *mode = a->cfg->code_mode == FG_CODE_ENTER ? "enter" : "compare";
    const char *C = a->customer;

    fg_act_batch(a);
    fg_act_eval(a, FG_SCRIPT_CREATE, 9, pre_key(a), fg_act_key(a, C, "pending"),
                fg_act_key(a, C, "chcount"), fg_act_key(a, C, "cooldown"),
                fg_act_key(a, C, "devices"), fg_act_key(a, C, "user"),
                fg_arena_printf(a->arena, "%s%s", chal_prefix(a), id),
                fg_act_key(a, NULL, "audit"), fg_act_key(a, NULL, "metrics"),
                chal_prefix(a), id, fg_token_hash(a->arena, a->keys, "code", ch, strlen(ch)),
                fg_token_seal(a->arena, a->keys, "code", code, strlen(code)), a->req.remote_ip,
                fg_act_browser(a), fg_act_time(a, a->req.now), fg_act_num(a, a->req.now),
                fg_act_num(a, a->cfg->challenge_timeout), mode,
                fg_act_num(a, a->cfg->fail_window), fg_act_num(a, a->cfg->challenge_max),
                fg_act_key(a, NULL, "push"), C, pre_hash(a), NULL);
    sodium_memzero((void *)code, strlen(code));
    return FG_STEP_REDIS;
}

fg_step_t fg_h_approve_post(fg_action_t *a)
{
    if (a->state++ == 0) {
        return approve_create(a);
    }
    if (a->redis_err) {
        return fg_act_unavailable(a);
    }
    const fg_reply_t *r = fg_act_reply(a, 0);
    const char *st = FG_S(fg_act_elem(a, r, 0));
    if (strcmp(st, "ok") == 0) {
        long long n = fg_act_elem_int(a, r, 1);
        fg_act_log(a, FG_LOG_INFO, "approval requested for %s (%lld device%s notified)",
                   a->customer, n, n == 1 ? "" : "s");
        return to_page(a, "/wait");
    }
    if (strcmp(st, "cooldown") == 0 || strcmp(st, "limit") == 0) {
        fg_act_header(a, "Retry-After", FG_S(fg_act_elem(a, r, 1)));
        return fg_act_fail(a, 429, st[0] == 'c' ? "cooldown" : "challenge_limit");
    }
    if (strcmp(st, "disabled") == 0) {
        return fg_act_fail(a, 403, "account_locked");
    }
    if (strcmp(st, "nodevice") == 0) {
        return fg_act_fail(a, 403, "no_device");
    }
    if (r->type == FG_R_ERR) {
        fg_act_log(a, FG_LOG_ERR, "create script failed: %s", r->str);
        a->redis_err = FG_ERR_REDIS;
        return fg_act_unavailable(a);
    }
    return to_login(a); /* nopre: the pre-login state timed out */
}

/* ------------------------------------------------------------------------ */
/* waiting page and status */

/* Numbers from Redis kept to what the pages can show (a bad value must not overflow). */
static long long clamp(long long v, long long lo, long long hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* The status vocabulary of product.md §2 for a challenge state. */
static const char *status_word(const char *state)
{
    if (strcmp(state, "pending") == 0) {
        return "authorization_pending";
    }
    if (strcmp(state, "approved") == 0) {
        return "approved";
    }
    if (strcmp(state, "denied") == 0) {
        return "access_denied";
    }
    return "expired_token";
}

static fg_step_t status_query(fg_action_t *a, const char *count_poll)
{
    char kind;
    if (fg_act_pre_open(a, &kind) != FG_OK || kind != 'P') {
        return FG_STEP_DONE; /* caller answers */
    }
    fg_act_batch(a);
    fg_act_eval(a, FG_SCRIPT_STATUS, 1, pre_key(a), chal_prefix(a), fg_act_num(a, a->req.now),
                count_poll, fg_act_num(a, a->cfg->poll_interval), NULL);
    return FG_STEP_REDIS;
}

fg_step_t fg_h_wait(fg_action_t *a)
{
    if (a->state++ == 0) {
        return status_query(a, "0") == FG_STEP_REDIS ? FG_STEP_REDIS : to_login(a);
    }
    if (a->redis_err) {
        return fg_act_unavailable(a);
    }
    const fg_reply_t *r = fg_act_reply(a, 0);
    const char *st = FG_S(fg_act_elem(a, r, 0));
    if (strcmp(st, "nochal") == 0) {
        return fg_act_redirect(a, 302, fg_arena_printf(a->arena, "%s/approve", a->cfg->prefix));
    }
    if (strcmp(st, "nopre") == 0 || r->type != FG_R_ARRAY) {
        return to_login(a);
    }
    fg_page_args_t args;
    char *code = NULL;
    size_t len;
    fg_act_page_args(a, &args);
    args.csrf = a->csrf;
    args.status = strcmp(st, "superseded") == 0 ? "superseded" : status_word(st);
    args.expires_in = (int)clamp(fg_act_elem_int(a, r, 1), 0, a->cfg->challenge_timeout);
    args.interval = (int)clamp(fg_act_elem_int(a, r, 3), 1, 60);
    if (fg_token_open(a->arena, a->keys, "code", FG_S(fg_act_elem(a, r, 2)), &code, &len) == FG_OK) {
        args.code = code;
        args.enter_mode = a->cfg->code_mode == FG_CODE_ENTER;
    }
    args.refresh = strcmp(st, "pending") == 0 ? args.interval + 1 : 0;
    return fg_act_page(a, 200, FG_PAGE_WAIT, &args);
}

fg_step_t fg_h_status(fg_action_t *a)
{
    if (a->state++ == 0) {
        if (status_query(a, "1") == FG_STEP_REDIS) {
            return FG_STEP_REDIS;
        }
        return fg_act_json_error(a, 401, "login_required", "no pending login in this browser");
    }
    if (a->redis_err) {
        return fg_act_unavailable(a);
    }
    const fg_reply_t *r = fg_act_reply(a, 0);
    const char *st = FG_S(fg_act_elem(a, r, 0));
    if (strcmp(st, "nopre") == 0 || r->type != FG_R_ARRAY) {
        return fg_act_json_error(a, 401, "login_required", "the login state has expired");
    }
    if (strcmp(st, "nochal") == 0) {
        return fg_act_json_error(a, 404, "no_challenge", "no approval has been requested");
    }
    int slow = fg_act_elem_int(a, r, 4) == 1;
    json_t *o = json_pack("{s:s,s:I,s:I}", "status", slow ? "slow_down" : status_word(st),
                          "expires_in",
                          (json_int_t)clamp(fg_act_elem_int(a, r, 1), 0, a->cfg->challenge_timeout),
                          "interval", (json_int_t)clamp(fg_act_elem_int(a, r, 3), 1, 60));
    if (strcmp(st, "superseded") == 0) {
        json_object_set_new(o, "reason", json_string("superseded"));
    }
    return fg_act_json(a, 200, o);
}

/* ------------------------------------------------------------------------ */
/* finish: redeem the approved challenge once, mint the session */

static fg_step_t finish_redeem(fg_action_t *a)
{
    char kind;
    if (fg_act_pre_open(a, &kind) != FG_OK || kind != 'P') {
        return fg_act_fail(a, 400, "session_expired");
    }
    const char *refusal = csrf_refusal(a);
    if (refusal != NULL) {
        return fg_act_fail(a, 403, refusal);
    }
    const char *sid = fg_random_token(a->arena, 32);
    const char *sh = fg_token_hash(a->arena, a->keys, "session", sid, strlen(sid));
    const char *C = a->customer;

    a->device = sid; /* the new session token, kept for the cookie */
    fg_act_batch(a);
    fg_act_eval(a, FG_SCRIPT_REDEEM, 6, pre_key(a),
                fg_act_key(a, C, fg_arena_printf(a->arena, "sess:%s", sh)),
                fg_act_key(a, C, "sessions"), fg_act_key(a, C, "user"),
                fg_act_key(a, NULL, "audit"), fg_act_key(a, NULL, "metrics"), chal_prefix(a),
                fg_act_num(a, a->req.now), fg_act_num(a, a->cfg->session_idle), sh, pre_hash(a),
                C, a->req.remote_ip, fg_act_num(a, REDEEM_GRACE), NULL);
    return FG_STEP_REDIS;
}

fg_step_t fg_h_finish(fg_action_t *a)
{
    if (a->state++ == 0) {
        return finish_redeem(a);
    }
    if (a->redis_err) {
        return fg_act_unavailable(a);
    }
    const fg_reply_t *r = fg_act_reply(a, 0);
    const char *st = FG_S(fg_act_elem(a, r, 0));
    if (strcmp(st, "ok") == 0) {
        const char *plain = fg_arena_printf(a->arena, "v1\n%s\n%s\n%lld", a->customer, a->device,
                                            (long long)a->req.now);
        fg_act_cookie_set(a, "freigabe",
                          fg_token_seal(a->arena, a->keys, "session", plain, strlen(plain)), "Lax", 0);
        fg_act_cookie_clear(a, "freigabe-pre", "Strict");
        fg_act_log(a, FG_LOG_INFO, "login completed for %s", a->customer);
        return fg_act_redirect(
            a, 303, fg_return_path(a->arena, fg_act_elem(a, r, 2), a->cfg->default_path));
    }
    const char *why = FG_S(fg_act_elem(a, r, 1));
    if (strcmp(st, "state") == 0 && strcmp(why, "pending") == 0) {
        return to_page(a, "/wait");
    }
    if (strcmp(st, "nochal") == 0) {
        return to_page(a, "/approve");
    }
    if (strcmp(st, "nopre") == 0) {
        return fg_act_fail(a, 400, "session_expired");
    }
    if (strcmp(st, "state") == 0 && strcmp(why, "disabled") == 0) {
        fg_act_log(a, FG_LOG_WARN, "finish refused for %s: the account is disabled", a->customer);
        return fg_act_fail(a, 403, "account_locked");
    }
    fg_act_log(a, FG_LOG_INFO, "finish refused for %s: challenge %s", a->customer, why);
    return fg_act_fail(a, 409, strcmp(why, "denied") == 0 ? "approval_denied" : "approval_expired");
}
