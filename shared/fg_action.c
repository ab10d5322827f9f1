/* fg_action.c - the action driver: routing, the Redis/hash step protocol and response building. */
#include "fg_action_impl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------ */
/* logging */

void fg_act_log(fg_action_t *a, fg_log_level_t lvl, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (a->log == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    a->log(a->log_ud, lvl, msg);
}

/* ------------------------------------------------------------------------ */
/* Redis batches */

void fg_act_batch(fg_action_t *a)
{
    a->ncmds = 0;
    a->nreplies = 0;
    a->replies = NULL;
    a->use_eval = 0;
}

static fg_cmd_slot_t *slot_next(fg_action_t *a)
{
    if (a->ncmds >= FG_MAX_CMDS) {
        abort(); /* a programming error in a handler, never input-driven */
    }
    fg_cmd_slot_t *s = &a->slots[a->ncmds++];
    memset(s, 0, sizeof(*s));
    return s;
}

static void slot_arg(fg_cmd_slot_t *s, const char *arg)
{
    if (s->argc >= FG_MAX_ARGS) {
        abort();
    }
    s->argv[s->argc] = arg ? arg : "";
    s->argvlen[s->argc] = strlen(s->argv[s->argc]);
    s->argc++;
}

void fg_act_cmd(fg_action_t *a, const char *arg0, ...)
{
    fg_cmd_slot_t *s = slot_next(a);
    va_list ap;

    slot_arg(s, arg0);
    va_start(ap, arg0);
    for (const char *arg; (arg = va_arg(ap, const char *)) != NULL;) {
        slot_arg(s, arg);
    }
    va_end(ap);
}

void fg_act_eval(fg_action_t *a, fg_script_id_t id, int nkeys, ...)
{
    fg_cmd_slot_t *s = slot_next(a);
    va_list ap;

    s->script = (int)id + 1;
    slot_arg(s, "EVALSHA");
    slot_arg(s, fg_script_get(id)->sha);
    slot_arg(s, fg_act_num(a, nkeys));
    va_start(ap, nkeys);
    for (const char *arg; (arg = va_arg(ap, const char *)) != NULL;) {
        slot_arg(s, arg);
    }
    va_end(ap);
}

size_t fg_action_commands(fg_action_t *a, const fg_cmd_t **cmds)
{
    for (size_t i = 0; i < a->ncmds; i++) {
        fg_cmd_slot_t *s = &a->slots[i];
        if (s->script && a->use_eval) {
            const fg_script_t *sc = fg_script_get((fg_script_id_t)(s->script - 1));
            s->argv[0] = "EVAL";
            s->argvlen[0] = 4;
            s->argv[1] = sc->body;
            s->argvlen[1] = strlen(sc->body);
        }
        a->cmds[i].argc = s->argc;
        a->cmds[i].argv = s->argv;
        a->cmds[i].argvlen = s->argvlen;
    }
    *cmds = a->cmds;
    return a->ncmds;
}

static fg_reply_t *reply_copy(fg_arena_t *ar, const fg_reply_t *r)
{
    fg_reply_t *c = fg_arena_alloc(ar, sizeof(*c));
    if (c == NULL || r == NULL) {
        return c; /* zeroed: FG_R_NIL */
    }
    *c = *r;
    if (r->type == FG_R_ARRAY) {
        c->elem = fg_arena_alloc(ar, sizeof(fg_reply_t *) * (r->n + 1));
        for (size_t i = 0; c->elem && i < r->n; i++) {
            c->elem[i] = reply_copy(ar, r->elem[i]);
        }
        c->n = c->elem ? r->n : 0;
    } else if (r->str != NULL) {
        c->str = fg_arena_memdup(ar, r->str, r->len);
    }
    return c;
}

static int reply_noscript(const fg_reply_t *r)
{
    return r && r->type == FG_R_ERR && r->len >= 8 && memcmp(r->str, "NOSCRIPT", 8) == 0;
}

void fg_action_feed(fg_action_t *a, fg_reply_t *const *replies, size_t n)
{
    int noscript = 0;
    const fg_reply_t *error = NULL;

    a->replies = fg_arena_alloc(a->arena, sizeof(fg_reply_t *) * (n + 1));
    a->nreplies = a->replies ? n : 0;
    for (size_t i = 0; i < a->nreplies; i++) {
        a->replies[i] = reply_copy(a->arena, replies[i]);
        if (reply_noscript(a->replies[i])) {
            noscript = 1;
        } else if (a->replies[i] && a->replies[i]->type == FG_R_ERR && error == NULL) {
            error = a->replies[i];
        }
    }
    if (noscript && !a->use_eval) {
        /* Redis restarted or flushed its script cache: the handler never sees this. */
        a->use_eval = 1;
        a->nreplies = 0;
        a->replies = NULL;
        return;
    }
    if (error != NULL || a->replies == NULL) {
        /* LOADING, READONLY, NOAUTH, a script error...: Redis cannot answer, which is not
         * the same as "no such session" - fail closed with 503, touch no cookie. */
        fg_act_log(a, FG_LOG_ERR, "Redis error reply: %.200s", error ? error->str : "out of memory");
        a->redis_err = FG_ERR_REDIS;
    }
}

void fg_action_fail(fg_action_t *a, int err)
{
    a->redis_err = err ? err : FG_ERR_REDIS_DOWN;
}

const fg_reply_t *fg_act_reply(fg_action_t *a, size_t i)
{
    static const fg_reply_t nil = {FG_R_NIL, 0, NULL, 0, 0, NULL};
    if (i >= a->nreplies || a->replies[i] == NULL) {
        return &nil;
    }
    return a->replies[i];
}

const char *fg_act_elem(fg_action_t *a, const fg_reply_t *r, size_t j)
{
    if (r->type != FG_R_ARRAY || j >= r->n || r->elem[j] == NULL) {
        return NULL;
    }
    const fg_reply_t *e = r->elem[j];
    if (e->type == FG_R_STR || e->type == FG_R_STATUS) {
        return e->str;
    }
    if (e->type == FG_R_INT) {
        return fg_act_num(a, e->integer);
    }
    return NULL;
}

long long fg_act_elem_int(fg_action_t *a, const fg_reply_t *r, size_t j)
{
    const char *s = fg_act_elem(a, r, j);
    return s ? strtoll(s, NULL, 10) : 0;
}

const char *fg_act_key(fg_action_t *a, const char *customer, const char *suffix)
{
    if (customer == NULL) {
        return fg_arena_printf(a->arena, "%s%s", a->cfg->key_prefix, suffix);
    }
    return fg_arena_printf(a->arena, "%s{%s}:%s", a->cfg->key_prefix, customer, suffix);
}

const char *fg_act_num(fg_action_t *a, long long v)
{
    return fg_arena_printf(a->arena, "%lld", v);
}

/* ------------------------------------------------------------------------ */
/* hash jobs and sleeping */

fg_hash_job_t *fg_action_hash_job(fg_action_t *a)
{
    return a->job;
}

void fg_action_hash_refused(fg_action_t *a, int err)
{
    a->hash_err = err ? err : FG_ERR_BUSY;
}

int fg_action_sleep_ms(const fg_action_t *a)
{
    return a->sleep_ms;
}

void fg_action_set_now(fg_action_t *a, int64_t now)
{
    a->req.now = now;
}

void fg_action_stop_waiting(fg_action_t *a)
{
    a->stop_waiting = 1;
}

/* ------------------------------------------------------------------------ */
/* responses */

void fg_act_header(fg_action_t *a, const char *name, const char *value)
{
    if (a->resp.nheaders >= FG_MAX_HEADERS) {
        fg_act_log(a, FG_LOG_ERR, "too many response headers; dropped %s", name);
        return;
    }
    a->headers[a->resp.nheaders].name = name;
    a->headers[a->resp.nheaders].value = value;
    a->resp.nheaders++;
}

static fg_step_t respond_body(fg_action_t *a, int status, const char *ctype, const char *body)
{
    a->resp.status = status;
    a->resp.body = body ? body : "";
    a->resp.body_len = strlen(a->resp.body);
    fg_act_header(a, "Content-Type", ctype);
    return FG_STEP_DONE;
}

/* "de"/"en" when the person picked the language with ?lang= (the pages keep it in their own
 * links, forms and redirects), else NULL: Accept-Language decides. */
static const char *explicit_lang(fg_action_t *a)
{
    const char *l = fg_act_query(a, "lang");
    if (l != NULL && (strcmp(l, "de") == 0 || strcmp(l, "en") == 0)) {
        return strcmp(l, "en") == 0 ? "en" : "de";
    }
    return NULL;
}

void fg_act_page_args(fg_action_t *a, fg_page_args_t *args)
{
    memset(args, 0, sizeof(*args));
    args->lang = a->lang;
    args->lang_param = explicit_lang(a);
    args->prefix = a->cfg->prefix;
    args->brand = a->cfg->branding;
    args->interval = a->cfg->poll_interval;
    args->total = a->cfg->challenge_timeout;
}

fg_step_t fg_act_page(fg_action_t *a, int status, fg_page_t page, fg_page_args_t *args)
{
    for (const fg_header_t *h = fg_security_headers; h->name != NULL; h++) {
        fg_act_header(a, h->name, h->value);
    }
    fg_act_header(a, "Content-Language", a->lang);
    return respond_body(a, status, "text/html; charset=utf-8", fg_page_render(a->arena, page, args));
}

fg_step_t fg_act_json(fg_action_t *a, int status, json_t *obj)
{
    if (obj == NULL) {
        /* json_pack refused a value (not UTF-8) or memory ran out: never "200 {}" */
        fg_act_log(a, FG_LOG_ERR, "cannot build the JSON answer for %s", a->req.path);
        status = 500;
        obj = json_pack("{s:s}", "error", "internal_error");
    }
    char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    const char *body = fg_arena_printf(a->arena, "%s\n", s ? s : "{}");

    free(s);
    json_decref(obj);
    fg_act_header(a, "Cache-Control", "no-store");
    fg_act_header(a, "X-Content-Type-Options", "nosniff");
    return respond_body(a, status, "application/json", body);
}

fg_step_t fg_act_json_error(fg_action_t *a, int status, const char *error, const char *msg)
{
    json_t *o = json_pack("{s:s}", "error", error);
    if (msg != NULL) {
        json_object_set_new(o, "message", json_string(msg));
    }
    return fg_act_json(a, status, o);
}

fg_step_t fg_act_redirect(fg_action_t *a, int status, const char *location)
{
    const char *lang = explicit_lang(a);
    size_t plen = strlen(a->cfg->prefix);

    /* A language chosen on one page stays for the next one of the flow. */
    if (lang != NULL && strncmp(location, a->cfg->prefix, plen) == 0 && location[plen] == '/') {
        location = fg_arena_printf(a->arena, "%s%slang=%s", location,
                                   strchr(location, '?') ? "&" : "?", lang);
    }
    fg_act_header(a, "Location", location);
    fg_act_header(a, "Cache-Control", "no-store");
    return respond_body(a, status, "text/plain; charset=utf-8", "");
}

/* The JSON error word for an HTTP status of the browser endpoints. */
static const char *error_word(int status)
{
    switch (status) {
    case 400: return "invalid_request";
    case 401: return "login_required";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 413: return "too_large";
    case 429: return "too_many_requests";
    case 503: return "unavailable";
    default: return "error";
    }
}

/* Pages for people (a browser asking for HTML), JSON for scripts and the app. */
static int wants_html(const fg_action_t *a)
{
    size_t plen = strlen(a->cfg->prefix);
    if (a->req.accept == NULL || strstr(a->req.accept, "text/html") == NULL ||
        a->req.x_requested_with != NULL) {
        return 0;
    }
    return strncmp(a->req.path, a->cfg->prefix, plen) != 0 ||
           strncmp(a->req.path + plen, "/app/", 5) != 0;
}

fg_step_t fg_act_fail(fg_action_t *a, int status, const char *msgkey)
{
    if (!wants_html(a)) {
        return fg_act_json_error(a, status, error_word(status), fg_msg("en", msgkey));
    }
    fg_page_args_t args;
    fg_act_page_args(a, &args);
    args.title_key = status >= 500 ? "unavailable_title" : "error_title";
    args.message_key = msgkey;
    args.link_href = fg_arena_printf(a->arena, "%s/login", a->cfg->prefix);
    args.link_key = "to_login";
    return fg_act_page(a, status, FG_PAGE_ERROR, &args);
}

fg_step_t fg_act_unavailable(fg_action_t *a)
{
    fg_act_log(a, FG_LOG_ERR, "Redis unavailable (%s): failing closed with 503",
               fg_strerror(a->redis_err));
    fg_act_header(a, "Retry-After", "5");
    return fg_act_fail(a, 503, "unavailable");
}

/* ------------------------------------------------------------------------ */
/* cookies and small request helpers */

int fg_act_secure(const fg_action_t *a)
{
    return a->cfg->secure_cookies == 2 ? a->req.https != 0 : a->cfg->secure_cookies == 1;
}

static const char *cookie_name(fg_action_t *a, const char *base)
{
    return fg_act_secure(a) ? fg_arena_printf(a->arena, "__Host-%s", base) : base;
}

const char *fg_act_cookie_get(fg_action_t *a, const char *base)
{
    return fg_cookie_get(a->arena, a->req.cookie, cookie_name(a, base));
}

void fg_act_cookie_set(fg_action_t *a, const char *base, const char *value, const char *samesite,
                       int max_age)
{
    const char *age = max_age > 0 ? fg_arena_printf(a->arena, "; Max-Age=%d", max_age)
                      : max_age < 0 ? "; Max-Age=0"
                                    : "";
    fg_act_header(a, "Set-Cookie",
                  fg_arena_printf(a->arena, "%s=%s; Path=/; HttpOnly; SameSite=%s%s%s",
                                  cookie_name(a, base), value, samesite, age,
                                  fg_act_secure(a) ? "; Secure" : ""));
}

void fg_act_cookie_clear(fg_action_t *a, const char *base, const char *samesite)
{
    fg_act_cookie_set(a, base, "", samesite, -1);
}

int fg_act_customer_ok(const char *c)
{
    size_t n = c ? strlen(c) : 0;
    if (n == 0 || n > 64) {
        return 0;
    }
    return strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

const char *fg_act_form(fg_action_t *a, const char *name)
{
    return fg_form_get(a->arena, (const char *)a->req.body, a->req.body_len, name);
}

const char *fg_act_query(fg_action_t *a, const char *name)
{
    const char *q = a->req.query;
    return q ? fg_form_get(a->arena, q, strlen(q), name) : NULL;
}

const char *fg_act_browser(fg_action_t *a)
{
    static const char *const browsers[][2] = {
        {"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"},
        {"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"}};
    static const char *const systems[][2] = {
        {"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"},
        {"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"Linux", "Linux"}};
    const char *ua = a->req.user_agent ? a->req.user_agent : "";
    const char *b = NULL, *s = NULL;

    for (size_t i = 0; b == NULL && i < sizeof(browsers) / sizeof(browsers[0]); i++) {
        b = strstr(ua, browsers[i][0]) ? browsers[i][1] : NULL;
    }
    for (size_t i = 0; s == NULL && i < sizeof(systems) / sizeof(systems[0]); i++) {
        s = strstr(ua, systems[i][0]) ? systems[i][1] : NULL;
    }
    if (b == NULL) {
        return *ua ? "unknown browser" : "unknown";
    }
    return s ? fg_arena_printf(a->arena, "%s on %s", b, s) : b;
}

const char *fg_act_time(fg_action_t *a, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[32];

    gmtime_r(&tt, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return fg_arena_strdup(a->arena, buf);
}

/* ------------------------------------------------------------------------ */
/* small endpoints: jwks, health, metrics, static assets, index */

static fg_step_t h_jwks(fg_action_t *a)
{
    fg_act_header(a, "Cache-Control", "public, max-age=300");
    fg_act_header(a, "Access-Control-Allow-Origin", "*");
    return respond_body(a, 200, "application/json", fg_jwks_json(a->arena, a->keys));
}

static fg_step_t h_health(fg_action_t *a)
{
    if (a->state++ == 0) {
        /* a write, not a PING: a Redis that became a read-only replica (failover) cannot
         * hold logins, and says so with READONLY here */
        fg_act_batch(a);
        fg_act_cmd(a, "SET", fg_act_key(a, NULL, "health"), fg_act_num(a, a->req.now), "EX", "60",
                   NULL);
        return FG_STEP_REDIS;
    }
    if (a->redis_err || fg_act_reply(a, 0)->type != FG_R_STATUS) {
        fg_act_header(a, "Retry-After", "5");
        return fg_act_json(a, 503, json_pack("{s:s,s:s,s:s}", "status", "unavailable", "redis",
                                             "down", "message",
                                             a->redis_err ? fg_strerror(a->redis_err)
                                                          : "unexpected reply to the health write"));
    }
    return fg_act_json(a, 200, json_pack("{s:s,s:s}", "status", "ok", "redis", "ok"));
}

static int metrics_allowed(fg_action_t *a)
{
    const char *ip = a->req.remote_ip ? a->req.remote_ip : "";
    size_t n = strlen(ip);
    const char *p = a->cfg->metrics_allow;

    while (n > 0 && p && *p) {
        p += strspn(p, " ");
        size_t m = strcspn(p, " ");
        if (m == n && strncmp(p, ip, n) == 0) {
            return 1;
        }
        p += m;
    }
    return 0;
}

static fg_step_t h_metrics(fg_action_t *a)
{
    if (!metrics_allowed(a)) {
        return fg_act_fail(a, 403, "forbidden");
    }
    if (a->state++ == 0) {
        fg_act_batch(a);
        fg_act_cmd(a, "HGETALL", fg_act_key(a, NULL, "metrics"), NULL);
        return FG_STEP_REDIS;
    }
    fg_buf_t b;
    fg_buf_init(&b, a->arena);
    fg_buf_puts(&b, "# HELP freigabe_redis_up Whether Redis answered this scrape.\n"
                    "# TYPE freigabe_redis_up gauge\n");
    fg_buf_printf(&b, "freigabe_redis_up %d\n", a->redis_err ? 0 : 1);
    fg_buf_puts(&b, "# HELP freigabe_events_total Login events across all frontends.\n"
                    "# TYPE freigabe_events_total counter\n");
    const fg_reply_t *r = fg_act_reply(a, 0);
    for (size_t i = 0; !a->redis_err && r->type == FG_R_ARRAY && i + 1 < r->n; i += 2) {
        const char *k = fg_act_elem(a, r, i);
        if (k && fg_act_customer_ok(k)) { /* metric labels: same safe alphabet */
            fg_buf_printf(&b, "freigabe_events_total{event=\"%s\"} %lld\n", k,
                          fg_act_elem_int(a, r, i + 1));
        }
    }
    fg_act_header(a, "Cache-Control", "no-store");
    return respond_body(a, 200, "text/plain; version=0.0.4; charset=utf-8", fg_buf_cstr(&b));
}

static fg_step_t h_static(fg_action_t *a)
{
    const char *sub = a->req.path + strlen(a->cfg->prefix);
    const char *body = NULL, *ctype = NULL;
    size_t len = 0;

    if (strcmp(sub, "/static/freigabe.js") != 0 && strcmp(sub, "/static/freigabe.css") != 0 &&
        !fg_branding_asset(a->cfg->branding, sub, &body, &len, &ctype)) {
        return fg_act_fail(a, 404, "not_found");
    }
    fg_act_header(a, "Cache-Control", "public, max-age=3600");
    fg_act_header(a, "X-Content-Type-Options", "nosniff");
    if (strcmp(sub, "/static/freigabe.js") == 0) {
        return respond_body(a, 200, "text/javascript; charset=utf-8", fg_static_js);
    }
    if (body == NULL) {
        return respond_body(a, 200, "text/css; charset=utf-8", fg_static_css);
    }
    /* An admin's SVG opened directly must not run anything in this origin. */
    fg_act_header(a, "Content-Security-Policy",
                  "default-src 'none'; style-src 'unsafe-inline'; sandbox");
    respond_body(a, 200, ctype, "");
    a->resp.body = body; /* may be binary (PNG): its own length */
    a->resp.body_len = len;
    return FG_STEP_DONE;
}

static fg_step_t h_index(fg_action_t *a)
{
    return fg_act_redirect(a, 302, fg_arena_printf(a->arena, "%s/login", a->cfg->prefix));
}

/* ------------------------------------------------------------------------ */
/* routing */

typedef struct {
    const char *path;
    const char *method; /* "GET" also admits HEAD */
    fg_handler_fn fn;
} route_t;

static const route_t routes[] = {
    {"", "GET", h_index},
    {"/", "GET", h_index},
    {"/login", "GET", fg_h_login_get},
    {"/login", "POST", fg_h_login_post},
    {"/approve", "GET", fg_h_approve_get},
    {"/approve", "POST", fg_h_approve_post},
    {"/wait", "GET", fg_h_wait},
    {"/status", "GET", fg_h_status},
    {"/finish", "POST", fg_h_finish},
    {"/logout", "POST", fg_h_logout},
    {"/whoami", "GET", fg_h_whoami},
    {"/jwks.json", "GET", h_jwks},
    {"/health", "GET", h_health},
    {"/metrics", "GET", h_metrics},
    {"/static/freigabe.js", "GET", h_static},
    {"/static/freigabe.css", "GET", h_static},
    {"/static/brand.css", "GET", h_static},
    {"/static/logo.svg", "GET", h_static},
    {"/static/logo.png", "GET", h_static},
    {"/app/enroll", "POST", fg_h_app_enroll},
    {"/app/pending", "GET", fg_h_app_pending},
    {"/app/respond", "POST", fg_h_app_respond},
};

static fg_step_t h_not_found(fg_action_t *a)
{
    return fg_act_fail(a, 404, "not_found");
}

static fg_step_t h_bad_method(fg_action_t *a)
{
    return fg_act_fail(a, 405, "bad_request");
}

static fg_handler_fn route(fg_action_t *a)
{
    const char *prefix = a->cfg->prefix;
    size_t plen = strlen(prefix);
    const char *m = a->req.method;
    int path_known = 0;

    if (strncmp(a->req.path, prefix, plen) != 0) {
        return h_not_found;
    }
    const char *sub = a->req.path + plen;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(sub, routes[i].path) != 0) {
            continue;
        }
        path_known = 1;
        if (strcmp(m, routes[i].method) == 0 ||
            (strcmp(m, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
            return routes[i].fn;
        }
    }
    return path_known ? h_bad_method : h_not_found;
}

/* ------------------------------------------------------------------------ */
/* life cycle */

static const char *dup_or_null(fg_arena_t *ar, const char *s)
{
    return s ? fg_arena_strdup(ar, s) : NULL;
}

static void copy_request(fg_action_t *a, const fg_request_t *r)
{
    fg_arena_t *ar = a->arena;
    a->req = *r;
    a->req.method = r->method ? fg_arena_strdup(ar, r->method) : "GET";
    a->req.path = r->path ? fg_arena_strdup(ar, r->path) : "/";
    const char **fields[] = {&a->req.query, &a->req.host, &a->req.remote_ip, &a->req.cookie,
                             &a->req.accept, &a->req.accept_language, &a->req.content_type,
                             &a->req.origin, &a->req.referer, &a->req.sec_fetch_site,
                             &a->req.sec_fetch_mode, &a->req.x_requested_with,
                             &a->req.user_agent, &a->req.authorization,
                             &a->req.freigabe_client};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        *fields[i] = dup_or_null(ar, *fields[i]);
    }
    if (a->req.remote_ip == NULL) {
        a->req.remote_ip = "";
    }
    if (r->body != NULL) {
        char *b = fg_arena_alloc(ar, r->body_len + 1);
        if (b != NULL) {
            memcpy(b, r->body, r->body_len);
        }
        a->req.body = (const unsigned char *)b;
    }
}

fg_action_t *fg_action_new(const fg_config_t *cfg, fg_kind_t kind, const fg_request_t *req)
{
    fg_arena_t *ar = fg_arena_new();
    fg_action_t *a = ar ? fg_arena_alloc(ar, sizeof(*a)) : NULL;

    if (a == NULL) {
        fg_arena_free(ar);
        return NULL;
    }
    a->arena = ar;
    a->cfg = cfg;
    a->keys = cfg->keys;
    a->kind = kind;
    copy_request(a, req);
    a->started = req->now;
    a->lang = fg_lang_pick(a->req.accept_language, fg_act_query(a, "lang"), cfg->lang);
    a->resp.headers = a->headers;
    a->resp.upstream = a->upstream;
    a->handler = kind == FG_KIND_PROTECT ? fg_h_protect : route(a);
    return a;
}

void fg_action_free(fg_action_t *a)
{
    if (a == NULL) {
        return;
    }
    if (a->job != NULL) {
        fg_hash_job_wipe(a->job);
    }
    if (a->req.body != NULL && a->req.body_len > 0) {
        sodium_memzero((void *)a->req.body, a->req.body_len); /* it may hold a password */
    }
    if (a->json != NULL) {
        json_decref(a->json);
    }
    fg_arena_free(a->arena);
}

void fg_action_set_session_cache(fg_action_t *a, const fg_session_cache_t *cache)
{
    a->cache = cache;
}

void fg_action_set_log(fg_action_t *a, fg_log_fn fn, void *ud)
{
    a->log = fn;
    a->log_ud = ud;
}

fg_step_t fg_action_step(fg_action_t *a)
{
    if (a->resp.status != 0) {
        return FG_STEP_DONE;
    }
    if (a->use_eval && a->replies == NULL && !a->redis_err) {
        return FG_STEP_REDIS; /* resend the batch as EVAL after a NOSCRIPT */
    }
    fg_step_t st = a->handler(a);
    if (st == FG_STEP_DONE && a->resp.status == 0) {
        fg_act_log(a, FG_LOG_ERR, "handler ended without a response");
        return fg_act_fail(a, 500, "unavailable");
    }
    if (st == FG_STEP_REDIS) {
        a->redis_err = 0;
    }
    return st;
}

const fg_response_t *fg_action_response(const fg_action_t *a)
{
    return &a->resp;
}

fg_arena_t *fg_action_arena(fg_action_t *a)
{
    return a->arena;
}
