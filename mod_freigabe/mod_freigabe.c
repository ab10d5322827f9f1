/* mod_freigabe.c - Apache wrapper: directives, header hygiene, endpoints and AuthType Freigabe. */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "http_ssl.h"
#include "ap_mpm.h"
#include "util_cfgtree.h"
#include "apr_atomic.h"
#include "apr_strings.h"

#include "fg.h"
#include "freigabe_redis.h"

#include <sodium.h>
#include <string.h>

#define BODY_MAX (64 * 1024)
#define AUTH_TYPE "Freigabe"
#define HANDLER "freigabe"

module AP_MODULE_DECLARE_DATA freigabe_module;
APLOG_USE_MODULE(freigabe);

typedef struct {
    fg_config_t *cfg;   /* engine configuration (malloc'd; freed with pconf) */
    int set;            /* a Freigabe directive applies to this server */
    int ready;          /* cfg is finalized */
    fgr_pool_t *redis;  /* per process, from child_init */
} srv_t;

static volatile apr_uint32_t hashing; /* Argon2id jobs running in this process */
static volatile apr_uint32_t waiting; /* long polls asleep in this process */
/* A long poll holds its thread while it sleeps: at most this many at once per process
 * (a quarter of the threads, set in child_init), so that one device's parallel polls
 * cannot take every thread. Beyond it a poll answers at once and the app polls again. */
static apr_uint32_t max_waiting = 1;

static srv_t *conf(server_rec *s)
{
    return ap_get_module_config(s->module_config, &freigabe_module);
}

/* ---- configuration ---------------------------------------------------- */

static apr_status_t free_cfg(void *c)
{
    fg_config_free(c);
    return APR_SUCCESS;
}

static srv_t *wrap(apr_pool_t *p, fg_config_t *c)
{
    srv_t *sc = apr_pcalloc(p, sizeof(*sc));
    sc->cfg = c;
    if (c) {
        apr_pool_cleanup_register(p, c, free_cfg, apr_pool_cleanup_null);
    }
    return sc;
}

static void *create_srv(apr_pool_t *p, server_rec *s)
{
    return wrap(p, fg_config_new());
}

static void *merge_srv(apr_pool_t *p, void *base, void *add)
{
    srv_t *b = base, *a = add;
    srv_t *sc = wrap(p, fg_config_merge(b->cfg, a->cfg));
    sc->set = b->set || a->set;
    return sc;
}

static const char *set_value(cmd_parms *cmd, void *dummy, const char *arg)
{
    char err[512];
    srv_t *sc = conf(cmd->server);
    if (sc->cfg == NULL) {
        return "Freigabe: out of memory";
    }
    sc->set = 1;
    if (fg_config_set(sc->cfg, cmd->info, arg, err, sizeof(err)) != FG_OK) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
    }
    return NULL;
}

/* Multi-word directives (FreigabeMinClient, FreigabeMetricsAllow): words as Apache
 * tokenizes them (quotes allowed), joined by single spaces for the engine. */
static const char *set_words(cmd_parms *cmd, void *dummy, const char *args)
{
    const char *joined = "";
    while (*args) {
        const char *w = ap_getword_conf(cmd->pool, &args);
        if (*w) {
            joined = *joined ? apr_pstrcat(cmd->pool, joined, " ", w, NULL) : w;
        }
    }
    return set_value(cmd, dummy, joined);
}

/* Loads the key file right away, so that `apache2 -t` reports a bad one. */
static const char *set_key_file(cmd_parms *cmd, void *dummy, const char *arg)
{
    char err[512] = "";
    const char *path = ap_server_root_relative(cmd->pool, arg);
    fg_keyring_t *k = path ? fg_keyring_load(path, err, sizeof(err)) : NULL;
    if (k == NULL) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, path ? err : "bad path");
    }
    fg_keyring_free(k);
    return set_value(cmd, dummy, path);
}

#define DIR1(n, key, help) AP_INIT_TAKE1(n, set_value, key, RSRC_CONF, help)
#define DIRN(n, key, help) AP_INIT_RAW_ARGS(n, set_words, key, RSRC_CONF, help)

static const command_rec cmds[] = {
    DIR1("FreigabeRedis", "redis", "redis://[user:pass@]host:port/db or unix:/path"),
    AP_INIT_TAKE1("FreigabeKeyFile", set_key_file, "key_file", RSRC_CONF,
                  "key file from freigabectl keygen"),
    DIR1("FreigabePrefix", "prefix", "where the endpoints live"),
    DIR1("FreigabeCodeMode", "code_mode", "compare or enter"),
    DIR1("FreigabeCodeLength", "code_length", "digits of the comparison code (4-8)"),
    DIR1("FreigabeChallengeTimeout", "challenge_timeout", "approval validity"),
    DIR1("FreigabeSessionIdle", "session_idle", "session idle timeout"),
    DIR1("FreigabeSessionMax", "session_max", "absolute session lifetime"),
    DIR1("FreigabeHeaderPrefix", "header_prefix", "prefix of the identity headers"),
    DIRN("FreigabeMinClient", "min_client", "android=N ios=N app=X.Y"),
    DIR1("FreigabeKeyPrefix", "key_prefix", "Redis key prefix"),
    DIR1("FreigabeDefaultPath", "default_path", "return path when rd is unsafe"),
    DIR1("FreigabeLanguage", "lang", "default page language (de or en)"),
    DIR1("FreigabeArgon2Ops", "argon2_ops", "Argon2id opslimit for new hashes"),
    DIR1("FreigabeArgon2Mem", "argon2_mem", "Argon2id memlimit for new hashes"),
    DIR1("FreigabeHashConcurrency", "hash_concurrency", "Argon2id jobs per process"),
    DIR1("FreigabeRedisTimeout", "redis_timeout", "Redis connect and command timeout"),
    DIR1("FreigabeIssuer", "issuer", "iss of the identity assertion"),
    DIR1("FreigabeAudience", "audience", "aud of the identity assertion"),
    DIRN("FreigabeMetricsAllow", "metrics_allow", "addresses allowed to read /metrics"),
    DIR1("FreigabeSecureCookies", "secure_cookies", "on, off or auto"),
    DIR1("FreigabeLoginMaxFail", "login_max_fail", "password failures per account and window"),
    DIR1("FreigabeLoginIpMaxFail", "login_ip_max_fail", "password failures per address and window"),
    DIR1("FreigabeFailWindow", "fail_window", "window of the failure counters"),
    DIR1("FreigabeChallengeMax", "challenge_max", "approval requests per customer and window"),
    DIR1("FreigabeNotMeCooldown", "notme_cooldown", "pause after \"Das war ich nicht\""),
    DIR1("FreigabePollInterval", "poll_interval", "status polling interval"),
    DIR1("FreigabeBrandingDir", "branding_dir", "directory with logo, brand.css and texts"),
    {NULL}};

/* The Apache spelling of an engine directive name, or NULL. */
static const char *spell_word(const char *word, void *ud)
{
    for (const command_rec *c = cmds; c->name; c++) {
        if (strcmp(word, c->cmd_data) == 0) {
            return c->name;
        }
    }
    return NULL;
}

/* "session_idle: 900s is longer than session_max" -> "FreigabeSessionIdle: ... FreigabeSessionMax" */
static const char *spell(apr_pool_t *p, const char *msg)
{
    char out[1024];
    fg_config_spell(msg, spell_word, NULL, out, sizeof(out));
    return apr_pstrdup(p, out);
}

/* ---- where is Freigabe used? (AuthType Freigabe / SetHandler freigabe) -- */

static int is_word(const char *args, const char *word)
{
    size_t n = strlen(word);
    args += args[0] == '"';
    return !strncasecmp(args, word, n) && strchr("\" \t", args[n]) != NULL;
}

static int is_use(const ap_directive_t *d)
{
    const char *a = d->args ? d->args : "";
    return (!strcasecmp(d->directive, "AuthType") && is_word(a, AUTH_TYPE)) ||
           (!strcasecmp(d->directive, "SetHandler") && is_word(a, HANDLER));
}

/* True when the tree below d uses Freigabe in the scope of server s (sections of the
 * main server also apply to every virtual host). */
static int tree_uses(const ap_directive_t *d, server_rec *s)
{
    for (; d; d = d->next) {
        if (!strcasecmp(d->directive, "<VirtualHost")) {
            int mine = s->defn_name && (unsigned)d->line_num == s->defn_line_number &&
                       !strcmp(d->filename, s->defn_name);
            if (mine && tree_uses(d->first_child, s)) {
                return 1;
            }
        } else if (is_use(d) || tree_uses(d->first_child, s)) {
            return 1;
        }
    }
    return 0;
}

/* Finalizes one server's configuration; on error logs it, unless it is the very message
 * already logged for the main server (a virtual host inheriting the same bad value), and
 * returns it in *shown. */
static int finalize(apr_pool_t *p, server_rec *s, const char **shown)
{
    char err[512] = "Freigabe: out of memory";
    srv_t *sc = conf(s);
    if (sc->ready || (!sc->set && !tree_uses(ap_conftree, s))) {
        return OK;
    }
    if (sc->cfg == NULL || fg_config_finalize(sc->cfg, err, sizeof(err)) != FG_OK) {
        const char *msg = spell(p, err);
        if (*shown == NULL || strcmp(*shown, msg) != 0) {
            const char *where = s->defn_name ? apr_psprintf(p, " (virtual host at %s:%u)",
                                                            s->defn_name, s->defn_line_number)
                                             : "";
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "%s%s", msg, where);
        }
        if (*shown == NULL) {
            *shown = msg;
        }
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    sc->ready = 1;
    return OK;
}

static int finalize_all(apr_pool_t *p, server_rec *s)
{
    int rv = OK;
    const char *shown = NULL;
    for (; s; s = s->next) {
        if (finalize(p, s, &shown) != OK) {
            rv = HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return rv;
}

static int pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    if (fg_init() != FG_OK) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, NULL, "Freigabe: libsodium init failed");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* check_config runs for `apache2 -t` as well as for every start (test_config cannot
 * fail the test); post_config finalizes whatever is left. */
static int check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                        server_rec *s)
{
    return finalize_all(ptemp, s);
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                       server_rec *s)
{
    return finalize_all(ptemp, s);
}

static void child_init(apr_pool_t *p, server_rec *main)
{
    int threads = 1;
    fgr_pool_t *last = NULL;
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    max_waiting = threads / 4 > 1 ? (apr_uint32_t)(threads / 4) : 1;
    for (server_rec *s = main; s; s = s->next) {
        srv_t *sc = conf(s);
        if (!sc->ready) {
            continue;
        }
        /* vhosts that inherit FreigabeRedis share the pool */
        sc->redis = fgr_pool_matches(last, sc->cfg)
                        ? last : fgr_pool_create(p, s, sc->cfg, threads);
        last = sc->redis ? sc->redis : last;
    }
}

/* ---- driving an action ---------------------------------------------------- */

static void sink(void *ud, fg_log_level_t level, const char *msg)
{
    static const int map[] = {APLOG_ERR, APLOG_WARNING, APLOG_INFO, APLOG_DEBUG};
    int l = (unsigned)level <= FG_LOG_DEBUG ? map[level] : APLOG_DEBUG;
    ap_log_rerror(APLOG_MARK, l, 0, (request_rec *)ud, "%s", msg);
}

static apr_status_t free_action(void *a)
{
    fg_action_free(a);
    return APR_SUCCESS;
}

static void run_redis(request_rec *r, srv_t *sc, fg_action_t *a)
{
    const fg_cmd_t *cmds = NULL;
    size_t n = fg_action_commands(a, &cmds);
    fg_arena_t *arena = fg_action_arena(a);
    fg_reply_t **out = fg_arena_alloc(arena, (n + 1) * sizeof(*out));
    int rv = out ? fgr_exec(sc->redis, r, cmds, n, arena, out) : FG_ERR_REDIS_DOWN;
    if (rv == FG_OK) {
        fg_action_feed(a, out, n);
    } else {
        fg_action_fail(a, rv == FG_ERR_TIMEOUT ? rv : FG_ERR_REDIS_DOWN);
    }
}

static void run_hash(srv_t *sc, fg_action_t *a)
{
    if (apr_atomic_inc32(&hashing) >= (apr_uint32_t)fg_config_hash_concurrency(sc->cfg)) {
        apr_atomic_dec32(&hashing);
        fg_action_hash_refused(a, FG_ERR_BUSY);
        return;
    }
    fg_hash_job_run(fg_action_hash_job(a));
    apr_atomic_dec32(&hashing);
}

/* True once this child is asked to stop (graceful restart, stop): long polls end early. */
static int stopping(void)
{
    int state = AP_MPMQ_RUNNING;
    return ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS && state == AP_MPMQ_STOPPING;
}

/* One long-poll sleep. *asleep tells whether this request holds a `waiting` slot; the
 * first sleep takes one, or, with none left, the poll answers now (the app polls again). */
static void run_sleep(fg_action_t *a, int *asleep)
{
    if (!*asleep) {
        if (apr_atomic_inc32(&waiting) >= max_waiting) {
            apr_atomic_dec32(&waiting);
            fg_action_stop_waiting(a);
            return;
        }
        *asleep = 1;
    }
    apr_sleep(apr_time_from_msec(fg_action_sleep_ms(a)));
    fg_action_set_now(a, apr_time_sec(apr_time_now()));
    if (stopping()) {
        fg_action_stop_waiting(a);
    }
}

/* The step loop: executes what the engine asks for until the response is ready. */
static const fg_response_t *drive(request_rec *r, srv_t *sc, fg_action_t *a)
{
    fg_step_t st;
    int asleep = 0;
    while ((st = fg_action_step(a)) != FG_STEP_DONE) {
        if (st == FG_STEP_REDIS) {
            run_redis(r, sc, a);
        } else if (st == FG_STEP_HASH) {
            run_hash(sc, a);
        } else if (st == FG_STEP_SLEEP) {
            run_sleep(a, &asleep);
        } else {
            break;
        }
    }
    if (asleep) {
        apr_atomic_dec32(&waiting);
    }
    return st == FG_STEP_DONE ? fg_action_response(a) : NULL;
}

static const char *hdr(request_rec *r, const char *name)
{
    return apr_table_get(r->headers_in, name);
}

#define SENT_COOKIE_NOTE "freigabe-sent-cookie"

/* The Cookie header as the client sent it. strip_cookies keeps it in a note before it
 * takes the module's cookies out; an internal redirect (mod_rewrite, ErrorDocument) shares
 * the stripped headers_in but starts with fresh notes, so the note is looked for along
 * r->prev and r->main too. */
static const char *sent_cookie(request_rec *r)
{
    for (request_rec *q = r; q != NULL; q = q->prev ? q->prev : q->main) {
        const char *c = apr_table_get(q->notes, SENT_COOKIE_NOTE);
        if (c != NULL) {
            return c;
        }
    }
    return hdr(r, "Cookie");
}

static void fill(request_rec *r, fg_request_t *q)
{
    memset(q, 0, sizeof(*q));
    q->method = r->method;
    /* path and query as the request line has them (the device signature covers them as
     * sent; mod_rewrite may have changed r->args since) */
    q->path = r->parsed_uri.path ? r->parsed_uri.path : r->uri;
    const char *qm = r->unparsed_uri ? strchr(r->unparsed_uri, '?') : NULL;
    q->query = qm ? qm + 1 : NULL;
    q->remote_ip = r->useragent_ip;
    q->https = !strcasecmp(ap_http_scheme(r), "https") || ap_ssl_conn_is_ssl(r->connection);
    for (const fg_request_header_t *h = fg_request_headers; h->name != NULL; h++) {
        *(const char **)((char *)q + h->offset) = hdr(r, h->name);
    }
    q->cookie = sent_cookie(r);
    q->now = apr_time_sec(apr_time_now());
}

/* Runs one action for r; NULL (logged) when it could not run. */
static const fg_response_t *act(request_rec *r, srv_t *sc, fg_kind_t kind,
                                const fg_request_t *q)
{
    fg_action_t *a = fg_action_new(sc->cfg, kind, q);
    if (a == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "Freigabe: out of memory");
        return NULL;
    }
    apr_pool_cleanup_register(r->pool, a, free_action, apr_pool_cleanup_null);
    fg_action_set_log(a, sink, r);
    return drive(r, sc, a);
}

/* ---- responses ---------------------------------------------------------- */

/* Sends the engine's response (status, headers, body) itself; returns `done`. */
static int reply(request_rec *r, const fg_response_t *resp, int done)
{
    if (resp->status < 100) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (r->main) {
        return resp->status; /* a subrequest never writes into the main response */
    }
    r->status = resp->status;
    for (size_t i = 0; i < resp->nheaders; i++) {
        const char *n = resp->headers[i].name;
        const char *v = apr_pstrdup(r->pool, resp->headers[i].value);
        if (!strcasecmp(n, "Content-Type")) {
            ap_set_content_type(r, v);
        } else {
            apr_table_add(r->headers_out, apr_pstrdup(r->pool, n), v);
        }
    }
    ap_set_content_length(r, resp->body_len);
    if (!r->header_only && resp->body_len > 0) {
        ap_rwrite(resp->body, resp->body_len, r);
    }
    return done;
}

/* Lets the request through to the upstream as the session's customer. */
static int grant(request_rec *r, const fg_response_t *resp)
{
    if (resp->identity == NULL || resp->identity->customer == NULL) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    r->user = apr_pstrdup(r->pool, resp->identity->customer);
    r->ap_auth_type = AUTH_TYPE;
    for (size_t i = 0; i < resp->nheaders; i++) { /* e.g. a refreshed cookie */
        apr_table_add(r->err_headers_out, apr_pstrdup(r->pool, resp->headers[i].name),
                      apr_pstrdup(r->pool, resp->headers[i].value));
    }
    for (size_t i = 0; i < resp->nupstream; i++) {
        apr_table_set(r->headers_in, resp->upstream[i].name, resp->upstream[i].value);
    }
    return OK; /* the module's cookies leave the Cookie header in fixups (strip_cookies) */
}

/* The one place where an engine decision becomes an Apache result. */
static int outcome(request_rec *r, fg_kind_t kind, const fg_response_t *resp)
{
    if (resp == NULL) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    switch (resp->decision) {
    case FG_GRANTED:
        if (kind == FG_KIND_PROTECT) {
            return grant(r, resp);
        }
        return reply(r, resp, OK); /* an endpoint answers by itself */
    case FG_DENIED:
    case FG_EXPIRED:
    case FG_INVALID:
    default:
        return reply(r, resp, kind == FG_KIND_PROTECT ? DONE : OK);
    }
}

/* ---- hooks ---------------------------------------------------------------- */

/* Removes inbound headers that could pass for identity headers, on every request of
 * every server (an unconfigured one uses the default header prefix). */
static int hygiene(request_rec *r)
{
    srv_t *sc = conf(r->server);
    const apr_array_header_t *arr = apr_table_elts(r->headers_in);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    apr_array_header_t *bad = NULL;
    for (int i = 0; i < arr->nelts; i++) {
        if (e[i].key && fg_header_is_reserved(sc->cfg, e[i].key, strlen(e[i].key))) {
            bad = bad ? bad : apr_array_make(r->pool, 2, sizeof(const char *));
            APR_ARRAY_PUSH(bad, const char *) = e[i].key;
        }
    }
    for (int i = 0; bad && i < bad->nelts; i++) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "removed inbound header %s",
                      APR_ARRAY_IDX(bad, i, const char *));
        apr_table_unset(r->headers_in, APR_ARRAY_IDX(bad, i, const char *));
    }
    return DECLINED;
}

/* True when r is served by the endpoints (SetHandler freigabe). During the access checks
 * r->handler is not set yet (core sets it from SetHandler in fixups), so the location's
 * SetHandler is read as well. */
static int for_endpoints(request_rec *r)
{
    const core_dir_config *d = ap_get_core_module_config(r->per_dir_config);
    const char *h = r->handler;
    if (h == NULL && d->expr_handler) {
        const char *err = NULL;
        h = ap_expr_str_exec(r, d->expr_handler, &err);
        h = err ? NULL : h;
    } else if (h == NULL) {
        h = d->handler;
    }
    return h != NULL && strcasecmp(h, HANDLER) == 0;
}

/* The endpoints are never behind AuthType Freigabe: a location inside a protected one
 * (<Location /> AuthType Freigabe, <Location /freigabe> SetHandler freigabe) inherits it,
 * and the login page would then redirect to itself. Runs after mod_authz_core's userless
 * check (APR_HOOK_LAST), i.e. only when every Require in force could pass with a user:
 * a Require that denies without one (Require ip ...) still denies. */
static int endpoints_open(request_rec *r)
{
    const char *type = ap_auth_type(r);
    if (type && strcasecmp(type, AUTH_TYPE) == 0 && for_endpoints(r)) {
        return OK;
    }
    return DECLINED;
}

/* Removes the module's cookies from the Cookie header of every request of a server that
 * uses Freigabe, protected or not (a plain ProxyPass location too): the session cookie is
 * a bearer token no upstream needs. Only the endpoints, which read them, keep them. */
static int strip_cookies(request_rec *r)
{
    const char *cookie = hdr(r, "Cookie");
    if (cookie == NULL || !conf(r->server)->ready || for_endpoints(r)) {
        return DECLINED;
    }
    fg_arena_t *arena = fg_arena_new();
    if (arena == NULL) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    const char *rest = fg_upstream_cookie(arena, cookie);
    if (rest) {
        apr_table_set(r->notes, SENT_COOKIE_NOTE, cookie); /* copied: for sent_cookie() */
    }
    if (rest && rest[0]) {
        apr_table_set(r->headers_in, "Cookie", rest);
    } else if (rest) {
        apr_table_unset(r->headers_in, "Cookie");
    }
    fg_arena_free(arena);
    return DECLINED;
}

static srv_t *ready(request_rec *r)
{
    srv_t *sc = conf(r->server);
    if (!sc->ready) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "Freigabe is used here but not configured for this server "
                      "(FreigabeKeyFile missing)");
    }
    return sc->ready ? sc : NULL;
}

static int authn(request_rec *r)
{
    const char *type = ap_auth_type(r);
    fg_request_t q;
    if (type == NULL || strcasecmp(type, AUTH_TYPE)) {
        return DECLINED;
    }
    srv_t *sc = ready(r);
    if (sc == NULL) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    fill(r, &q);
    return outcome(r, FG_KIND_PROTECT, act(r, sc, FG_KIND_PROTECT, &q));
}

/* The request body holds passwords: wiped when the request ends, whatever the path. */
typedef struct {
    char *buf;
    size_t len;
} body_t;

static apr_status_t wipe_body(void *data)
{
    body_t *b = data;
    sodium_memzero(b->buf, b->len);
    return APR_SUCCESS;
}

/* Reads the request body (at most BODY_MAX) into *buf. */
static int read_body(request_rec *r, char **buf, size_t *len)
{
    int rv = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK);
    *buf = NULL;
    *len = 0;
    if (rv != OK || !ap_should_client_block(r)) {
        return rv;
    }
    if (r->remaining > BODY_MAX) {
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    }
    body_t *b = apr_palloc(r->pool, sizeof(*b));
    b->len = 0; /* what was read, not the whole buffer */
    b->buf = *buf = apr_palloc(r->pool, BODY_MAX + 1);
    apr_pool_cleanup_register(r->pool, b, wipe_body, apr_pool_cleanup_null);
    long n;
    while ((n = ap_get_client_block(r, *buf + *len, BODY_MAX + 1 - *len)) > 0) {
        *len += n;
        b->len = *len;
        if (*len > BODY_MAX) {
            return HTTP_REQUEST_ENTITY_TOO_LARGE;
        }
    }
    return n < 0 ? HTTP_BAD_REQUEST : OK;
}

static int handler(request_rec *r)
{
    fg_request_t q;
    char *body;
    size_t len;
    if (r->handler == NULL || strcmp(r->handler, HANDLER)) {
        return DECLINED;
    }
    srv_t *sc = ready(r);
    if (sc == NULL) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    int rv = read_body(r, &body, &len);
    if (rv != OK) {
        return rv;
    }
    fill(r, &q);
    q.body = (const unsigned char *)body;
    q.body_len = len;
    const fg_response_t *resp = act(r, sc, FG_KIND_ENDPOINT, &q);
    if (body) {
        sodium_memzero(body, len); /* done with it: not kept while the answer is sent */
    }
    return outcome(r, FG_KIND_ENDPOINT, resp);
}

static void register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(hygiene, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_check_authn(authn, NULL, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_access_ex(endpoints_open, NULL, NULL, APR_HOOK_REALLY_LAST,
                            AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_fixups(strip_cookies, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(handler, NULL, NULL, APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA freigabe_module = {
    STANDARD20_MODULE_STUFF,
    NULL,          /* per-directory config */
    NULL,          /* merge per-directory */
    create_srv,    /* per-server config */
    merge_srv,     /* merge per-server */
    cmds,
    register_hooks,
    AP_MODULE_FLAG_NONE,
};
