/* fg_session.c - sessions: the protected-location check, whoami and logout. */
#include "fg_action_impl.h"
#include <string.h>

#define ASSERTION_LIFETIME 60

int fg_act_session_open(fg_action_t *a)
{
    const char *c = fg_act_cookie_get(a, "freigabe");
    char *plain = NULL;
    size_t len = 0;

    if (c == NULL || *c == '\0') {
        return FG_ERR_INVAL;
    }
    int rc = fg_token_open(a->arena, a->keys, "session", c, &plain, &len);
    if (rc != FG_OK) {
        fg_act_log(a, FG_LOG_INFO, "session cookie rejected: %s", fg_strerror(rc));
        return rc;
    }
    /* "v1\n<customer>\n<token>\n<created>" */
    char *save = NULL;
    const char *v = strtok_r(plain, "\n", &save);
    const char *cust = strtok_r(NULL, "\n", &save);
    const char *tok = strtok_r(NULL, "\n", &save);
    const char *created = strtok_r(NULL, "\n", &save);
    long long t = 0;
    if (v == NULL || strcmp(v, "v1") != 0 || !fg_act_customer_ok(cust) || tok == NULL ||
        created == NULL || fg_parse_int(created, 0, a->req.now + 300, &t) != FG_OK) {
        /* a session cannot have been created in the future (beyond the clock skew between
         * frontends the nonces allow for); this keeps created + session_max from overflowing */
        return FG_ERR_INVAL;
    }
    a->customer = cust;
    a->token = tok;
    a->sealed = c;
    a->created = t;
    return FG_OK;
}

const char *fg_act_session_hash(fg_action_t *a)
{
    return fg_token_hash_by(a->arena, a->keys, a->sealed, "session", a->token, strlen(a->token));
}

/* Seconds the session may still live by its absolute limit. */
static long long remaining_max(fg_action_t *a)
{
    return a->created + a->cfg->session_max - a->req.now;
}

/* Queues the touch script; returns 0 when the cookie is missing, forged or too old. */
static int session_touch(fg_action_t *a)
{
    if (fg_act_session_open(a) != FG_OK || remaining_max(a) <= 0) {
        return 0;
    }
    fg_act_batch(a);
    fg_act_eval(a, FG_SCRIPT_TOUCH, 2,
                fg_act_key(a, a->customer, fg_arena_printf(a->arena, "sess:%s",
                                                           fg_act_session_hash(a))),
                fg_act_key(a, a->customer, "user"), fg_act_num(a, a->req.now), fg_act_num(a, a->cfg->session_idle),
                fg_act_num(a, remaining_max(a)), NULL);
    return 1;
}

static const char *module_cookie_names[] = {"freigabe", "freigabe-pre", "__Host-freigabe",
                                            "__Host-freigabe-pre"};

const char *fg_upstream_cookie(fg_arena_t *a, const char *cookie_header)
{
    return fg_cookie_strip(a, cookie_header, module_cookie_names,
                           sizeof(module_cookie_names) / sizeof(module_cookie_names[0]));
}

static fg_step_t protect_deny(fg_action_t *a, fg_decision_t why)
{
    const char *login = fg_arena_printf(a->arena, "%s/login", a->cfg->prefix);

    a->resp.decision = why;
    if (why == FG_EXPIRED) {
        fg_act_cookie_clear(a, "freigabe", "Lax");
    }
    if (fg_request_is_navigation(&a->req)) {
        const char *rd = a->req.query
                             ? fg_arena_printf(a->arena, "%s?%s", a->req.path, a->req.query)
                             : a->req.path;
        return fg_act_redirect(
            a, 302, fg_arena_printf(a->arena, "%s?rd=%s", login, fg_pct_encode(a->arena, rd)));
    }
    return fg_act_json(a, 401, json_pack("{s:s,s:s}", "error", "login_required", "login", login));
}

static void upstream_header(fg_action_t *a, const char *suffix, const char *value)
{
    size_t i = a->resp.nupstream++;
    a->upstream[i].name = fg_arena_printf(a->arena, "%s%s", a->cfg->header_prefix, suffix);
    a->upstream[i].value = value;
}

/*
 * Ed25519 signing is most of a protected request's CPU, and a page load asks for the same
 * session's assertion many times within one second (the page, its scripts, its API
 * calls) - when the claims are byte-identical, so is the JWT (Ed25519 is deterministic).
 * A small table per thread (an Apache thread, an nginx worker) remembers the last
 * assertions; no locks, no I/O, nothing that outlives the second it was made in.
 */
#define JWT_MEMO_SLOTS 32
#define JWT_MEMO_MAX 1024

typedef struct {
    const fg_keyring_t *keys;
    int64_t iat, auth_time;
    char sid[65];
    char name[256];
    char jwt[JWT_MEMO_MAX];
} jwt_memo_t;

static __thread jwt_memo_t jwt_memo[JWT_MEMO_SLOTS];

static jwt_memo_t *jwt_memo_slot(const char *sid)
{
    unsigned h = 0;
    for (int i = 0; i < 8 && sid[i] != '\0'; i++) {
        h = h * 31u + (unsigned char)sid[i];
    }
    return &jwt_memo[h % JWT_MEMO_SLOTS];
}

static const char *assertion(fg_action_t *a, const fg_claims_t *cl)
{
    if (cl->sid == NULL || cl->name == NULL) {
        return fg_jwt_sign(a->arena, a->keys, cl);
    }
    jwt_memo_t *m = jwt_memo_slot(cl->sid);
    if (m->keys == a->keys && m->iat == cl->iat && m->auth_time == cl->auth_time &&
        strcmp(m->sid, cl->sid) == 0 && strcmp(m->name, cl->name) == 0) {
        return fg_arena_strdup(a->arena, m->jwt);
    }
    char *jwt = fg_jwt_sign(a->arena, a->keys, cl);
    if (jwt != NULL && strlen(jwt) < JWT_MEMO_MAX && strlen(cl->sid) < sizeof(m->sid) &&
        strlen(cl->name) < sizeof(m->name)) {
        m->keys = a->keys;
        m->iat = cl->iat;
        m->auth_time = cl->auth_time;
        strcpy(m->sid, cl->sid);
        strcpy(m->name, cl->name);
        strcpy(m->jwt, jwt);
    }
    return jwt;
}

/* Fills the identity of a granted session. */
static void session_identity(fg_action_t *a, const char *name, int64_t auth_time)
{
    fg_identity_t *id = &a->identity;
    fg_claims_t cl;

    id->customer = a->customer;
    id->name = FG_S(name);
    id->name_pct = fg_pct_encode(a->arena, id->name);
    id->auth_time = auth_time;
    id->session_id = fg_act_session_hash(a);
    memset(&cl, 0, sizeof(cl));
    cl.iss = a->cfg->issuer;
    cl.aud = a->cfg->audience;
    cl.sub = id->customer;
    cl.name = id->name;
    cl.sid = id->session_id;
    cl.auth_time = id->auth_time;
    cl.iat = a->req.now;
    cl.exp = a->req.now + ASSERTION_LIFETIME;
    id->assertion = assertion(a, &cl);
    a->resp.identity = id;
}

/* Without a usable cookie there is nothing to check, but Redis is still asked (PING):
 * when it is down every protected route fails closed with 503, as product.md §6 says,
 * instead of sending people to a login that cannot work. */
static fg_step_t ping(fg_action_t *a, fg_decision_t why)
{
    a->flag = why;
    fg_act_batch(a);
    fg_act_cmd(a, "PING", NULL);
    return FG_STEP_REDIS;
}

static fg_step_t protect_grant(fg_action_t *a, const char *name, int64_t auth_time)
{
    session_identity(a, name, auth_time);
    if (a->identity.assertion == NULL || a->identity.name_pct == NULL) {
        /* e.g. a display name that is not UTF-8 (JSON cannot carry it): never pass a
         * request upstream with half an identity */
        fg_act_log(a, FG_LOG_ERR, "cannot sign the assertion for customer %s (is the display "
                   "name valid UTF-8?): refusing the request", a->customer);
        a->resp.identity = NULL;
        a->resp.decision = FG_INVALID;
        return fg_act_fail(a, 500, "unavailable");
    }
    upstream_header(a, "User", a->identity.customer);
    upstream_header(a, "Name", a->identity.name_pct);
    upstream_header(a, "Auth-Time", fg_act_num(a, a->identity.auth_time));
    upstream_header(a, "Session", a->identity.session_id);
    upstream_header(a, "Assertion", a->identity.assertion);
    a->resp.decision = FG_GRANTED;
    a->resp.status = 200;
    return FG_STEP_DONE;
}

/* The cache key: the session hash plus a tag of the deployment it was confirmed in (Redis
 * URL, key prefix), so that a cache shared by several configurations (one nginx, two
 * tenants) never vouches for a session another one has never seen. */
static const char *cache_key(fg_action_t *a)
{
    const char *scope = fg_arena_printf(a->arena, "%s\n%s", fg_config_redis_url(a->cfg),
                                        a->cfg->key_prefix);
    const char *tag = fg_token_hash(a->arena, a->keys, "cache-scope", scope, strlen(scope));
    return fg_arena_printf(a->arena, "%s:%.16s", fg_act_session_hash(a), FG_S(tag));
}

/* Cache entries are "<auth_time>\n<name>" under cache_key(). */
static int protect_from_cache(fg_action_t *a)
{
    char buf[512];
    long long t = 0;

    if (a->cache == NULL) {
        return 0;
    }
    int n = a->cache->get(a->cache->ud, cache_key(a), buf, sizeof(buf) - 1,
                          a->req.now);
    if (n <= 0 || n >= (int)sizeof(buf)) {
        return 0;
    }
    buf[n] = '\0';
    char *nl = strchr(buf, '\n');
    if (nl == NULL) {
        return 0;
    }
    *nl = '\0';
    if (fg_parse_int(buf, 0, INT64_MAX, &t) != FG_OK) {
        return 0;
    }
    protect_grant(a, fg_arena_strdup(a->arena, nl + 1), t);
    return 1;
}

static void protect_remember(fg_action_t *a, const char *name, long long auth_time)
{
    if (a->cache != NULL) {
        const char *v = fg_arena_printf(a->arena, "%lld\n%s", auth_time, FG_S(name));
        a->cache->put(a->cache->ud, cache_key(a), v, strlen(v), a->req.now);
    }
}

fg_step_t fg_h_protect(fg_action_t *a)
{
    if (a->state++ == 0) {
        a->resp.upstream_cookie = fg_upstream_cookie(a->arena, a->req.cookie);
        int had_cookie = fg_act_cookie_get(a, "freigabe") != NULL;
        if (!session_touch(a)) {
            return ping(a, had_cookie ? FG_EXPIRED : FG_DENIED);
        }
        if (protect_from_cache(a)) {
            return FG_STEP_DONE; /* confirmed by Redis moments ago */
        }
        return FG_STEP_REDIS;
    }
    if (a->redis_err) {
        return fg_act_unavailable(a);
    }
    if (a->flag != 0) {
        return protect_deny(a, (fg_decision_t)a->flag);
    }
    const fg_reply_t *r = fg_act_reply(a, 0);
    const char *st = fg_act_elem(a, r, 0);
    if (st == NULL || strcmp(st, "ok") != 0) {
        if (a->cache != NULL) {
            a->cache->del(a->cache->ud, cache_key(a));
        }
        return protect_deny(a, FG_EXPIRED);
    }
    protect_remember(a, fg_act_elem(a, r, 1), fg_act_elem_int(a, r, 2));
    return protect_grant(a, fg_act_elem(a, r, 1), fg_act_elem_int(a, r, 2));
}

fg_step_t fg_h_whoami(fg_action_t *a)
{
    if (a->state++ == 0) {
        return session_touch(a) ? FG_STEP_REDIS : ping(a, FG_DENIED);
    }
    if (a->redis_err) {
        return fg_act_unavailable(a);
    }
    if (a->flag != 0) {
        return fg_act_json_error(a, 401, "login_required", NULL);
    }
    const fg_reply_t *r = fg_act_reply(a, 0);
    const char *st = fg_act_elem(a, r, 0);
    if (st == NULL || strcmp(st, "ok") != 0) {
        return fg_act_json_error(a, 401, "login_required", NULL);
    }
    json_t *o = json_pack("{s:s,s:s,s:I,s:I}", "customer", a->customer, "name",
                          FG_S(fg_act_elem(a, r, 1)), "auth_time",
                          (json_int_t)fg_act_elem_int(a, r, 2), "expires_in",
                          (json_int_t)fg_act_elem_int(a, r, 3));
    if (o == NULL) {
        fg_act_log(a, FG_LOG_ERR, "whoami: the display name of %s is not valid UTF-8",
                   a->customer);
        return fg_act_fail(a, 500, "unavailable");
    }
    return fg_act_json(a, 200, o);
}

static fg_step_t logout_done(fg_action_t *a)
{
    fg_act_cookie_clear(a, "freigabe", "Lax");
    fg_act_cookie_clear(a, "freigabe-pre", "Strict");
    const char *rd = fg_act_form(a, "rd");
    if (rd != NULL && *rd != '\0') {
        return fg_act_redirect(a, 303, fg_return_path(a->arena, rd, a->cfg->default_path));
    }
    fg_page_args_t args;
    fg_act_page_args(a, &args);
    args.rd = fg_return_path(a->arena, NULL, a->cfg->default_path);
    return fg_act_page(a, 200, FG_PAGE_LOGGED_OUT, &args);
}

fg_step_t fg_h_logout(fg_action_t *a)
{
    if (a->state++ == 0) {
        if (!fg_request_same_origin(&a->req)) {
            fg_act_log(a, FG_LOG_WARN, "logout refused: cross-site request from %s",
                       a->req.remote_ip ? a->req.remote_ip : "?");
            return fg_act_fail(a, 403, "cross_site");
        }
        if (fg_act_session_open(a) != FG_OK) {
            return logout_done(a);
        }
        fg_act_batch(a);
        const char *h = fg_act_session_hash(a);
        fg_act_eval(a, FG_SCRIPT_LOGOUT, 4,
                    fg_act_key(a, a->customer, fg_arena_printf(a->arena, "sess:%s", h)),
                    fg_act_key(a, a->customer, "sessions"), fg_act_key(a, NULL, "audit"),
                    fg_act_key(a, NULL, "metrics"), h, a->customer, a->req.remote_ip, NULL);
        return FG_STEP_REDIS;
    }
    if (a->redis_err) {
        return fg_act_unavailable(a);
    }
    if (a->cache != NULL) {
        a->cache->del(a->cache->ud, cache_key(a));
    }
    fg_act_log(a, FG_LOG_INFO, "logout of customer %s", a->customer);
    return logout_done(a);
}
