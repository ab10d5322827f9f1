/* ngx_http_freigabe_module.c - nginx wrapper: directives, phases and variables around the engine. */
#include "ngx_http_freigabe.h"

/* the variables, in the order of their indexes */
typedef enum {
    NGX_HTTP_FREIGABE_VAR_USER,
    NGX_HTTP_FREIGABE_VAR_NAME,
    NGX_HTTP_FREIGABE_VAR_AUTH_TIME,
    NGX_HTTP_FREIGABE_VAR_SESSION,
    NGX_HTTP_FREIGABE_VAR_ASSERTION,
    NGX_HTTP_FREIGABE_NVARS
} ngx_http_freigabe_var_e;

static ngx_str_t ngx_http_freigabe_var_names[] = {
    ngx_string("freigabe_user"), ngx_string("freigabe_name"),
    ngx_string("freigabe_auth_time"), ngx_string("freigabe_session"),
    ngx_string("freigabe_assertion")
};

/* Per configuration cycle: a reload that fails after reading its configuration must
 * leave nothing behind for the workers of the cycle that stays (so no statics here). */
typedef struct {
    ngx_array_t redis;                      /* of ngx_http_freigabe_redis_t * */
    ngx_shm_zone_t *cache_zone;             /* session checks, shared by the workers */
    ngx_int_t var_index[NGX_HTTP_FREIGABE_NVARS];
} ngx_http_freigabe_main_conf_t;

typedef struct {
    fg_config_t *raw;                       /* directive values as written here */
    fg_config_t *fg;                        /* merged and finalized, when used */
    ngx_flag_t enable;                      /* freigabe on */
    ngx_flag_t endpoints;                   /* freigabe_endpoints */
    ngx_flag_t check;                       /* freigabe_check (auth_request target) */
    ngx_str_t thread_pool_name;
    ngx_thread_pool_t *thread_pool;
    ngx_http_freigabe_redis_t *redis;
    ngx_msec_t session_recheck;             /* 0: ask Redis on every request */
    fg_session_cache_t cache;               /* the shared-memory session cache */
    ngx_http_freigabe_main_conf_t *fmcf;    /* where the cache zone is, if any */
} ngx_http_freigabe_loc_conf_t;

/* The session-check cache: a fixed, direct-mapped table in shared memory. Entries are
 * small and short-lived, so a colliding session simply evicts another (which then asks
 * Redis again); no allocation happens at request time. */
#define NGX_HTTP_FREIGABE_CACHE_ENTRIES 8192
#define NGX_HTTP_FREIGABE_CACHE_VALUE 240

typedef struct {
    u_char key[96];                          /* session hash ":" deployment tag */
    time_t stamp;
    u_short len;
    u_char value[NGX_HTTP_FREIGABE_CACHE_VALUE];
} ngx_http_freigabe_cache_entry_t;

typedef struct {
    ngx_slab_pool_t *shpool;
    ngx_http_freigabe_cache_entry_t *entries;
} ngx_http_freigabe_cache_t;

/* What the module keeps of a request beyond its context, which internal redirects clear:
 * found through its pool cleanup (as ngx_http_realip_module finds its context), and so
 * also by subrequests, which share the pool. */
typedef struct {
    const char *cookie;                     /* the Cookie header as the client sent it */
} ngx_http_freigabe_sent_t;

typedef struct {
    ngx_http_freigabe_op_t *op;             /* in flight, or NULL */
    ngx_uint_t done;
    ngx_uint_t waiting;                     /* the access handler returned NGX_AGAIN */
    const fg_response_t *resp;              /* valid while op lives */
} ngx_http_freigabe_ctx_t;

static ngx_uint_t ngx_http_freigabe_hashing; /* Argon2id jobs of this worker */

static char *ngx_http_freigabe_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_freigabe_flag(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_freigabe_msec(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_freigabe_handler_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_freigabe_endpoint_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_freigabe_check_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_freigabe_preconf(ngx_conf_t *cf);
static ngx_int_t ngx_http_freigabe_init(ngx_conf_t *cf);
static void *ngx_http_freigabe_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_freigabe_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_freigabe_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child);
static ngx_int_t ngx_http_freigabe_init_module(ngx_cycle_t *cycle);
static void ngx_http_freigabe_exit_process(ngx_cycle_t *cycle);

#define NGX_HTTP_FREIGABE_CONF (NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF)
#define NGX_HTTP_FREIGABE_DIRECTIVE(name, args)                                    \
    { ngx_string("freigabe_" name), NGX_HTTP_FREIGABE_CONF|args,                    \
      ngx_http_freigabe_set, NGX_HTTP_LOC_CONF_OFFSET, 0, (void *) name }

static ngx_command_t ngx_http_freigabe_commands[] = {
    { ngx_string("freigabe"), NGX_HTTP_FREIGABE_CONF|NGX_CONF_FLAG,
      ngx_http_freigabe_flag, NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_freigabe_loc_conf_t, enable), NULL },
    { ngx_string("freigabe_endpoints"), NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_freigabe_handler_directive, NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_freigabe_loc_conf_t, endpoints), ngx_http_freigabe_endpoint_handler },
    { ngx_string("freigabe_check"), NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_freigabe_handler_directive, NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_freigabe_loc_conf_t, check), ngx_http_freigabe_check_handler },
    { ngx_string("freigabe_thread_pool"), NGX_HTTP_FREIGABE_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot, NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_freigabe_loc_conf_t, thread_pool_name), NULL },
    { ngx_string("freigabe_session_recheck"), NGX_HTTP_FREIGABE_CONF|NGX_CONF_TAKE1,
      ngx_http_freigabe_msec, NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_freigabe_loc_conf_t, session_recheck), NULL },
    NGX_HTTP_FREIGABE_DIRECTIVE("redis", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("key_file", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("prefix", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("code_mode", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("code_length", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("challenge_timeout", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("session_idle", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("session_max", NGX_CONF_TAKE1),
    /* http and server only: POST_READ strips look-alikes with the server's prefix before
     * any location is known, so a location's own prefix would protect nothing elsewhere */
    { ngx_string("freigabe_header_prefix"), NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_freigabe_set, NGX_HTTP_LOC_CONF_OFFSET, 0, (void *) "header_prefix" },
    NGX_HTTP_FREIGABE_DIRECTIVE("min_client", NGX_CONF_1MORE),
    NGX_HTTP_FREIGABE_DIRECTIVE("key_prefix", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("default_path", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("lang", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("argon2_ops", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("argon2_mem", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("hash_concurrency", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("redis_timeout", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("issuer", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("audience", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("metrics_allow", NGX_CONF_1MORE),
    NGX_HTTP_FREIGABE_DIRECTIVE("secure_cookies", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("login_max_fail", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("login_ip_max_fail", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("fail_window", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("challenge_max", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("notme_cooldown", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("poll_interval", NGX_CONF_TAKE1),
    NGX_HTTP_FREIGABE_DIRECTIVE("branding_dir", NGX_CONF_TAKE1),
    ngx_null_command
};

static ngx_http_module_t ngx_http_freigabe_module_ctx = {
    ngx_http_freigabe_preconf,              /* preconfiguration */
    ngx_http_freigabe_init,                 /* postconfiguration */
    ngx_http_freigabe_create_main_conf,     /* create main configuration */
    NULL,                                   /* init main configuration */
    NULL,                                   /* create server configuration */
    NULL,                                   /* merge server configuration */
    ngx_http_freigabe_create_loc_conf,      /* create location configuration */
    ngx_http_freigabe_merge_loc_conf        /* merge location configuration */
};

ngx_module_t ngx_http_freigabe_module = {
    NGX_MODULE_V1,
    &ngx_http_freigabe_module_ctx,          /* module context */
    ngx_http_freigabe_commands,             /* module directives */
    NGX_HTTP_MODULE,                        /* module type */
    NULL,                                   /* init master */
    ngx_http_freigabe_init_module,          /* init module */
    NULL,                                   /* init process */
    NULL,                                   /* init thread */
    NULL,                                   /* exit thread */
    ngx_http_freigabe_exit_process,         /* exit process */
    NULL,                                   /* exit master */
    NGX_MODULE_V1_PADDING
};

/* ======================================================================== */
/* configuration */

static void
ngx_http_freigabe_config_cleanup(void *data)
{
    fg_config_free(data);
}

/* Ties an engine configuration to the configuration pool's life. */
static fg_config_t *
ngx_http_freigabe_config_keep(ngx_conf_t *cf, fg_config_t *c)
{
    ngx_pool_cleanup_t *cln;

    if (c == NULL) {
        return NULL;
    }
    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        fg_config_free(c);
        return NULL;
    }
    cln->handler = ngx_http_freigabe_config_cleanup;
    cln->data = c;
    return c;
}

/* Every freigabe_* engine directive: the engine parses and validates the value. */
static char *
ngx_http_freigabe_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_freigabe_loc_conf_t *flcf = conf;
    ngx_str_t *args = cf->args->elts;
    char err[256], *value, *p;
    size_t len = 0;
    ngx_uint_t i;

    for (i = 1; i < cf->args->nelts; i++) {
        len += args[i].len + 1;
    }
    value = (char *) ngx_pnalloc(cf->pool, len + 1);
    if (value == NULL) {
        return NGX_CONF_ERROR;
    }
    p = value;
    for (i = 1; i < cf->args->nelts; i++) {
        p = (char *) ngx_cpymem(p, args[i].data, args[i].len);
        *p++ = (i + 1 < cf->args->nelts) ? ' ' : '\0';
    }
    if (fg_config_set(flcf->raw, cmd->post, value, err, sizeof(err)) != FG_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" directive: %s", &cmd->name, err);
        return NGX_CONF_ERROR;
    }
    if (ngx_strcmp(cmd->post, "key_file") == 0) {
        /* read it now as well, so that nginx -t points at this line */
        fg_keyring_t *k = fg_keyring_load(value, err, sizeof(err));
        if (k == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" directive: %s", &cmd->name, err);
            return NGX_CONF_ERROR;
        }
        fg_keyring_free(k);
    }
    return NGX_CONF_OK;
}

static ngx_int_t ngx_http_freigabe_endpoint_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_freigabe_check_handler(ngx_http_request_t *r);

/* The location that serves the endpoints or the check is never protected (an inherited
 * "freigabe on" is ignored there, or the login page would redirect to itself); writing
 * both into one location is a mistake nginx -t names, whichever comes first. */
static char *
ngx_http_freigabe_exclusive(ngx_conf_t *cf, ngx_http_freigabe_loc_conf_t *flcf)
{
    if (flcf->enable == 1 && (flcf->endpoints == 1 || flcf->check == 1)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"freigabe on\" and \"%s\" in one "
                           "location: the location that serves %s is never protected",
                           flcf->endpoints == 1 ? "freigabe_endpoints" : "freigabe_check",
                           flcf->endpoints == 1 ? "the endpoints" : "the check");
        return NGX_CONF_ERROR;
    }
    return NGX_CONF_OK;
}

/* nginx's time slot, with a message that says what the directive takes */
static char *
ngx_http_freigabe_msec(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char *rv = ngx_conf_set_msec_slot(cf, cmd, conf);

    if (rv != NGX_CONF_OK && ngx_strcmp(rv, "invalid value") == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": expected a time like 5s or 1m, "
                           "or 0", &cmd->name);
        return NGX_CONF_ERROR;
    }
    return rv;
}

static char *
ngx_http_freigabe_flag(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char *rv = ngx_conf_set_flag_slot(cf, cmd, conf);

    return rv != NGX_CONF_OK ? rv : ngx_http_freigabe_exclusive(cf, conf);
}

/* freigabe_endpoints and freigabe_check: the location's content handler (cmd->post) and
 * its flag (cmd->offset). freigabe_check answers 204 (valid session, identity in the
 * response headers) or 401: the target of auth_request, since nginx runs no access
 * handlers for subrequests and "freigabe on" cannot serve there. */
static char *
ngx_http_freigabe_handler_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = (ngx_http_handler_pt) cmd->post;
    *(ngx_flag_t *) ((char *) conf + cmd->offset) = 1;
    return ngx_http_freigabe_exclusive(cf, conf);
}

static void *
ngx_http_freigabe_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_freigabe_main_conf_t *fmcf;

    fmcf = ngx_pcalloc(cf->pool, sizeof(*fmcf));
    if (fmcf == NULL
        || ngx_array_init(&fmcf->redis, cf->pool, 2, sizeof(ngx_http_freigabe_redis_t *))
           != NGX_OK)
    {
        return NULL;
    }
    return fmcf;
}

static void *
ngx_http_freigabe_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_freigabe_loc_conf_t *flcf;

    flcf = ngx_pcalloc(cf->pool, sizeof(*flcf));
    if (flcf == NULL) {
        return NULL;
    }
    flcf->raw = ngx_http_freigabe_config_keep(cf, fg_config_new());
    if (flcf->raw == NULL) {
        return NULL;
    }
    flcf->enable = NGX_CONF_UNSET;
    flcf->endpoints = NGX_CONF_UNSET;
    flcf->check = NGX_CONF_UNSET;
    flcf->session_recheck = NGX_CONF_UNSET_MSEC;
    return flcf;
}

/* The nginx spelling of an engine directive name ("key_file" -> "freigabe_key_file"). */
static const char *
ngx_http_freigabe_spell(const char *word, void *ud)
{
    ngx_command_t *c;

    for (c = ngx_http_freigabe_commands; c->name.len; c++) {
        if (c->set == ngx_http_freigabe_set && ngx_strcmp(c->post, word) == 0) {
            return (const char *) c->name.data;
        }
    }
    return NULL;
}

/* Errors found when a location is merged: the engine names directives neutrally. */
static void
ngx_http_freigabe_conf_error(ngx_conf_t *cf, const char *err)
{
    char msg[1024];

    fg_config_spell(err, ngx_http_freigabe_spell, NULL, msg, sizeof(msg));
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s (in the block that ends here)", msg);
}

/* One connection object per Redis URL, command timeout and worker (the timeout is the
 * connection's: when it fires the connection is dropped, so locations with different
 * timeouts must not share one); the address is resolved now. */
static ngx_http_freigabe_redis_t *
ngx_http_freigabe_redis_get(ngx_conf_t *cf, fg_config_t *fg)
{
    ngx_http_freigabe_main_conf_t *fmcf;
    ngx_http_freigabe_redis_t **all, *rd;
    const char *url = fg_config_redis_url(fg);
    ngx_msec_t timeout = fg_config_redis_timeout_ms(fg);
    char err[256];
    ngx_url_t u;
    ngx_uint_t i;

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_freigabe_module);
    all = fmcf->redis.elts;
    for (i = 0; i < fmcf->redis.nelts; i++) {
        if (ngx_strcmp(all[i]->url.data, url) == 0 && all[i]->timeout == timeout) {
            return all[i];
        }
    }
    rd = ngx_pcalloc(cf->pool, sizeof(*rd));
    if (rd == NULL) {
        return NULL;
    }
    if (fg_redis_url_parse(url, &rd->target, err, sizeof(err)) != FG_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "freigabe_redis: %s", err);
        return NULL;
    }
    rd->url.len = ngx_strlen(url);
    rd->url.data = ngx_pnalloc(cf->pool, rd->url.len + 1);
    if (rd->url.data == NULL) {
        return NULL;
    }
    ngx_memcpy(rd->url.data, url, rd->url.len + 1);
    (void) fg_redis_url_redact(url, err, sizeof(err));
    rd->display.len = ngx_strlen(err);
    rd->display.data = ngx_pnalloc(cf->pool, rd->display.len);
    if (rd->display.data == NULL) {
        return NULL;
    }
    ngx_memcpy(rd->display.data, err, rd->display.len);
    rd->timeout = timeout;
    rd->backoff = 100;
    ngx_queue_init(&rd->waiting);
    rd->log = &cf->cycle->new_log;
    if (rd->target.unix_path[0] == '\0') {
        ngx_memzero(&u, sizeof(ngx_url_t));
        u.url.len = ngx_strlen(rd->target.host);
        u.url.data = ngx_pnalloc(cf->pool, u.url.len + 2);
        if (u.url.data == NULL) {
            return NULL;
        }
        if (ngx_strlchr((u_char *) rd->target.host, (u_char *) rd->target.host + u.url.len,
                        ':') != NULL)
        {
            /* an IPv6 literal: the engine took the URL's brackets off, nginx needs them */
            u.url.len = ngx_sprintf(u.url.data, "[%s]", rd->target.host) - u.url.data;
        } else {
            ngx_memcpy(u.url.data, rd->target.host, u.url.len);
        }
        u.default_port = (in_port_t) rd->target.port;
        if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "freigabe_redis: cannot resolve \"%s\"%s%s",
                               rd->target.host, u.err ? ": " : "", u.err ? u.err : "");
            return NULL;
        }
        /* hiredis gets the numeric address: no DNS lookups on a worker, ever */
        (void) ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, (u_char *) rd->addr,
                             NGX_SOCKADDR_STRLEN, 0);
    }
    all = ngx_array_push(&fmcf->redis);
    if (all == NULL) {
        return NULL;
    }
    *all = rd;
    return rd;
}

/* ---- the session-check cache (engine decides, nginx stores) */

static ngx_http_freigabe_cache_entry_t *
ngx_http_freigabe_cache_slot(ngx_http_freigabe_cache_t *c, const char *key, size_t *klen)
{
    *klen = ngx_strlen(key);
    if (*klen > sizeof(c->entries[0].key)) {
        *klen = sizeof(c->entries[0].key);
    }
    return &c->entries[ngx_crc32_short((u_char *) key, *klen)
                       % NGX_HTTP_FREIGABE_CACHE_ENTRIES];
}

/* The zone of this http block, or NULL when no location uses freigabe_session_recheck.
 * Every freigabe location gets the cache (a logout anywhere forgets the session); only
 * locations with a recheck interval answer from it. */
static ngx_http_freigabe_cache_t *
ngx_http_freigabe_cache_of(ngx_http_freigabe_loc_conf_t *flcf)
{
    ngx_shm_zone_t *zone = flcf->fmcf ? flcf->fmcf->cache_zone : NULL;

    return zone != NULL ? zone->data : NULL;
}

static int
ngx_http_freigabe_cache_get(void *ud, const char *key, char *buf, size_t max, int64_t now)
{
    ngx_http_freigabe_loc_conf_t *flcf = ud;
    ngx_http_freigabe_cache_t *c = ngx_http_freigabe_cache_of(flcf);
    ngx_http_freigabe_cache_entry_t *e;
    size_t klen;
    int n = -1;

    if (c == NULL || flcf->session_recheck < 1000) {
        return -1;
    }
    e = ngx_http_freigabe_cache_slot(c, key, &klen);
    ngx_shmtx_lock(&c->shpool->mutex);
    if (ngx_memcmp(e->key, key, klen) == 0 && e->len <= max && now >= e->stamp
        && now - e->stamp < (time_t) (flcf->session_recheck / 1000))
    {
        ngx_memcpy(buf, e->value, e->len);
        n = e->len;
    }
    ngx_shmtx_unlock(&c->shpool->mutex);
    return n;
}

static void
ngx_http_freigabe_cache_put(void *ud, const char *key, const char *value, size_t len,
    int64_t now)
{
    ngx_http_freigabe_loc_conf_t *flcf = ud;
    ngx_http_freigabe_cache_t *c = ngx_http_freigabe_cache_of(flcf);
    ngx_http_freigabe_cache_entry_t *e;
    size_t klen;

    if (c == NULL || flcf->session_recheck < 1000 || len > NGX_HTTP_FREIGABE_CACHE_VALUE) {
        return; /* no cache here, or an unusually long name: simply not cached */
    }
    e = ngx_http_freigabe_cache_slot(c, key, &klen);
    ngx_shmtx_lock(&c->shpool->mutex);
    ngx_memzero(e->key, sizeof(e->key));
    ngx_memcpy(e->key, key, klen);
    ngx_memcpy(e->value, value, len);
    e->len = (u_short) len;
    e->stamp = (time_t) now;
    ngx_shmtx_unlock(&c->shpool->mutex);
}

static void
ngx_http_freigabe_cache_del(void *ud, const char *key)
{
    ngx_http_freigabe_loc_conf_t *flcf = ud;
    ngx_http_freigabe_cache_t *c = ngx_http_freigabe_cache_of(flcf);
    ngx_http_freigabe_cache_entry_t *e;
    size_t klen;

    if (c == NULL) {
        return;
    }
    e = ngx_http_freigabe_cache_slot(c, key, &klen);
    ngx_shmtx_lock(&c->shpool->mutex);
    if (ngx_memcmp(e->key, key, klen) == 0) {
        ngx_memzero(e->key, sizeof(e->key));
    }
    ngx_shmtx_unlock(&c->shpool->mutex);
}

static ngx_int_t
ngx_http_freigabe_cache_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_http_freigabe_cache_t *c = zone->data, *old = data;
    ngx_slab_pool_t *shpool = (ngx_slab_pool_t *) zone->shm.addr;

    c->shpool = shpool;
    if (old != NULL) {
        c->entries = old->entries; /* reload: keep what the workers knew */
        return NGX_OK;
    }
    if (zone->shm.exists) {
        c->entries = shpool->data;
        return NGX_OK;
    }
    c->entries = ngx_slab_calloc(shpool, sizeof(ngx_http_freigabe_cache_entry_t)
                                         * NGX_HTTP_FREIGABE_CACHE_ENTRIES);
    if (c->entries == NULL) {
        return NGX_ERROR;
    }
    shpool->data = c->entries;
    return NGX_OK;
}

/* One zone for the whole http block, made the first time a location wants it. */
static ngx_shm_zone_t *
ngx_http_freigabe_cache_zone(ngx_conf_t *cf)
{
    static ngx_str_t name = ngx_string("freigabe_sessions");
    ngx_http_freigabe_main_conf_t *fmcf;
    ngx_http_freigabe_cache_t *c;
    ngx_shm_zone_t *zone;

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_freigabe_module);
    if (fmcf->cache_zone != NULL) {
        return fmcf->cache_zone;
    }
    c = ngx_pcalloc(cf->pool, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    zone = ngx_shared_memory_add(cf, &name, sizeof(ngx_http_freigabe_cache_entry_t)
                                 * NGX_HTTP_FREIGABE_CACHE_ENTRIES + 16 * ngx_pagesize,
                                 &ngx_http_freigabe_module);
    if (zone == NULL) {
        return NULL;
    }
    zone->init = ngx_http_freigabe_cache_init_zone;
    zone->data = c;
    fmcf->cache_zone = zone;
    return zone;
}

static char *
ngx_http_freigabe_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_freigabe_loc_conf_t *prev = parent, *conf = child;
    ngx_http_core_loc_conf_t *clcf;
    char err[512];

    /* the content handler goes on into "if" and "limit_except" blocks (noname), never
     * into nested locations: so do the flags that say which one it is */
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    if (conf->endpoints == NGX_CONF_UNSET) {
        conf->endpoints = clcf->noname && prev->endpoints == 1;
    }
    if (conf->check == NGX_CONF_UNSET) {
        conf->check = clcf->noname && prev->check == 1;
    }
    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    if (conf->endpoints || conf->check) {
        conf->enable = 0; /* see ngx_http_freigabe_exclusive */
    }
    ngx_conf_merge_str_value(conf->thread_pool_name, prev->thread_pool_name, "default");
    ngx_conf_merge_msec_value(conf->session_recheck, prev->session_recheck, 0);
    conf->raw = ngx_http_freigabe_config_keep(cf, fg_config_merge(prev->raw, conf->raw));
    if (conf->raw == NULL) {
        return NGX_CONF_ERROR;
    }
    if (!conf->enable && !conf->endpoints && !conf->check) {
        return NGX_CONF_OK;
    }
    conf->fg = ngx_http_freigabe_config_keep(cf, fg_config_merge(conf->raw, NULL));
    if (conf->fg == NULL) {
        return NGX_CONF_ERROR;
    }
    if (fg_config_finalize(conf->fg, err, sizeof(err)) != FG_OK) {
        ngx_http_freigabe_conf_error(cf, err);
        return NGX_CONF_ERROR;
    }
    conf->redis = ngx_http_freigabe_redis_get(cf, conf->fg);
    if (conf->redis == NULL) {
        return NGX_CONF_ERROR;
    }
    conf->thread_pool = ngx_thread_pool_add(cf, &conf->thread_pool_name);
    if (conf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }
    if (conf->session_recheck != 0 && conf->session_recheck < 1000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "freigabe_session_recheck: 0 (always ask Redis) or at least 1s");
        return NGX_CONF_ERROR;
    }
    if (conf->session_recheck / 1000 >= (ngx_msec_t) fg_config_session_idle(conf->fg)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "freigabe_session_recheck: must be shorter "
                           "than freigabe_session_idle (%d s)", fg_config_session_idle(conf->fg));
        return NGX_CONF_ERROR;
    }
    if (conf->session_recheck >= 1000 && ngx_http_freigabe_cache_zone(cf) == NULL) {
        return NGX_CONF_ERROR;
    }
    conf->fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_freigabe_module);
    conf->cache.get = ngx_http_freigabe_cache_get;
    conf->cache.put = ngx_http_freigabe_cache_put;
    conf->cache.del = ngx_http_freigabe_cache_del;
    conf->cache.ud = conf;
    return NGX_CONF_OK;
}

static ngx_int_t
ngx_http_freigabe_init_module(ngx_cycle_t *cycle)
{
    return fg_init() == FG_OK ? NGX_OK : NGX_ERROR;
}

static void
ngx_http_freigabe_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_freigabe_main_conf_t *fmcf;
    ngx_http_freigabe_redis_t **all;
    ngx_uint_t i;

    fmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_freigabe_module);
    if (fmcf == NULL) {
        return;
    }
    all = fmcf->redis.elts;
    for (i = 0; i < fmcf->redis.nelts; i++) {
        ngx_http_freigabe_redis_close(all[i]);
    }
}

/* ======================================================================== */
/* translating requests and responses */

static const char *
ngx_http_freigabe_cstr(ngx_http_request_t *r, ngx_str_t *s)
{
    u_char *p;

    if (s == NULL || s->data == NULL) {
        return NULL;
    }
    p = ngx_pnalloc(r->pool, s->len + 1);
    if (p == NULL) {
        return NULL;
    }
    ngx_memcpy(p, s->data, s->len);
    p[s->len] = '\0';
    return (const char *) p;
}

/* Copies an engine string into the request pool: the engine's arena dies with the op,
 * long before nginx is done with the request. */
static ngx_int_t
ngx_http_freigabe_pstr(ngx_http_request_t *r, const char *s, ngx_str_t *out)
{
    out->len = s ? ngx_strlen(s) : 0;
    out->data = ngx_pnalloc(r->pool, out->len + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }
    ngx_memcpy(out->data, s ? s : "", out->len + 1);
    return NGX_OK;
}

/* Several Cookie headers (HTTP/2) are one cookie string to the engine. */
static const char *
ngx_http_freigabe_cookies(ngx_http_request_t *r)
{
    ngx_table_elt_t **h = r->headers_in.cookies.elts;
    ngx_uint_t i, n = r->headers_in.cookies.nelts;
    size_t len = 0;
    u_char *buf, *p;

    if (n == 0) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        len += h[i]->value.len + 2;
    }
    buf = ngx_pnalloc(r->pool, len + 1);
    if (buf == NULL) {
        return NULL;
    }
    p = buf;
    for (i = 0; i < n; i++) {
        if (i > 0) {
            *p++ = ';';
            *p++ = ' ';
        }
        p = ngx_cpymem(p, h[i]->value.data, h[i]->value.len);
    }
    *p = '\0';
    return (const char *) buf;
}

static void
ngx_http_freigabe_sent_cleanup(void *data)
{
    ngx_http_freigabe_sent_t *sent = data;

    sent->cookie = NULL;
}

static ngx_http_freigabe_sent_t *
ngx_http_freigabe_sent(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t *cln;

    for (cln = r->pool->cleanup; cln != NULL; cln = cln->next) {
        if (cln->handler == ngx_http_freigabe_sent_cleanup) {
            return cln->data;
        }
    }
    return NULL;
}

/* The Cookie header as the engine must see it: as the client sent it, even once nginx
 * passes it on without the module's cookies and after internal redirects. */
static const char *
ngx_http_freigabe_sent_cookie(ngx_http_request_t *r)
{
    ngx_http_freigabe_sent_t *sent = ngx_http_freigabe_sent(r);

    return sent != NULL ? sent->cookie : ngx_http_freigabe_cookies(r);
}

/* No upstream ever needs the module's cookies (the session cookie is a bearer token): the
 * Cookie header loses them on every request, protected or not, and the header as sent is
 * kept for the module's own checks. *upstream: the Cookie value to pass on ("" for none),
 * or NULL to leave the header alone. */
static ngx_int_t
ngx_http_freigabe_keep_cookie(ngx_http_request_t *r, const char **upstream)
{
    ngx_http_freigabe_sent_t *sent;
    ngx_pool_cleanup_t *cln;
    const char *all, *rest;
    ngx_str_t copy;
    fg_arena_t *a;
    ngx_int_t rc = NGX_OK;

    *upstream = NULL;
    if (r->headers_in.cookies.nelts == 0 || ngx_http_freigabe_sent(r) != NULL) {
        return NGX_OK;
    }
    all = ngx_http_freigabe_cookies(r);
    a = fg_arena_new();
    if (all == NULL || a == NULL) {
        if (a != NULL) {
            fg_arena_free(a);
        }
        return NGX_ERROR;
    }
    rest = fg_upstream_cookie(a, all);
    if (rest != NULL) {
        cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_freigabe_sent_t));
        if (cln == NULL || ngx_http_freigabe_pstr(r, rest, &copy) != NGX_OK) {
            rc = NGX_ERROR;
        } else {
            sent = cln->data;
            sent->cookie = all;
            cln->handler = ngx_http_freigabe_sent_cleanup;
            *upstream = (const char *) copy.data;
        }
    }
    fg_arena_free(a);
    return rc;
}

/* Fills the engine's request from nginx's (raw path and query, both from the request
 * line: the device signature covers them exactly as sent, whatever a rewrite made of
 * r->uri and r->args since). */
static void
ngx_http_freigabe_request(ngx_http_request_t *r, fg_request_t *fr)
{
    ngx_list_part_t *part = &r->headers_in.headers.part;
    ngx_table_elt_t *h = part->elts;
    const fg_request_header_t *m;
    ngx_str_t path, query;
    ngx_uint_t i;
    u_char *q;

    ngx_memzero(fr, sizeof(*fr));
    fr->method = ngx_http_freigabe_cstr(r, &r->method_name);
    path = r->unparsed_uri;
    query.len = 0;
    q = ngx_strlchr(path.data, path.data + path.len, '?');
    if (q != NULL) {
        query.data = q + 1;
        query.len = path.data + path.len - query.data;
        path.len = q - path.data;
    }
    fr->path = ngx_http_freigabe_cstr(r, &path);
    fr->query = query.len ? ngx_http_freigabe_cstr(r, &query) : NULL;
    fr->remote_ip = ngx_http_freigabe_cstr(r, &r->connection->addr_text);
#if (NGX_HTTP_SSL)
    fr->https = r->connection->ssl != NULL;
#endif
    for (i = 0; /* void */; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part = part->next;
            h = part->elts;
            i = 0;
        }
        for (m = fg_request_headers; m->name != NULL; m++) {
            if (h[i].key.len == ngx_strlen(m->name)
                && ngx_strncasecmp(h[i].key.data, (u_char *) m->name, h[i].key.len) == 0)
            {
                *(const char **) ((char *) fr + m->offset) =
                    ngx_http_freigabe_cstr(r, &h[i].value);
            }
        }
    }
    fr->cookie = ngx_http_freigabe_sent_cookie(r);
    fr->now = ngx_time();
}

/* Rebuilds the inbound header list without look-alikes of the identity headers (and,
 * when asked, with a new Cookie value, "" meaning none), then adds `add`. */
static ngx_int_t
ngx_http_freigabe_rewrite_headers(ngx_http_request_t *r, const fg_config_t *fg,
    const char *cookie, const fg_header_t *add, size_t nadd)
{
    ngx_list_part_t *part = &r->headers_in.headers.part;
    ngx_table_elt_t *h = part->elts, *n;
    ngx_list_t old;
    ngx_uint_t i, cookie_done = 0, changed = (cookie != NULL || nadd > 0);
    size_t k;

    for (i = 0; !changed; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part = part->next;
            h = part->elts;
            i = 0;
        }
        changed = fg_header_is_reserved(fg, (const char *) h[i].key.data, h[i].key.len);
    }
    if (!changed) {
        return NGX_OK;
    }
    /* ngx_list_t points into itself: copy the old one aside, build in place */
    old = r->headers_in.headers;
    if (ngx_list_init(&r->headers_in.headers, r->pool, 20, sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }
    part = &old.part;
    h = part->elts;
    for (i = 0; /* void */; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part = part->next;
            h = part->elts;
            i = 0;
        }
        if (fg_header_is_reserved(fg, (const char *) h[i].key.data, h[i].key.len)) {
            continue;
        }
        if (cookie != NULL && h[i].key.len == 6
            && ngx_strncasecmp(h[i].key.data, (u_char *) "cookie", 6) == 0)
        {
            if (cookie_done++ || *cookie == '\0') {
                h[i].value.len = 0; /* keep $http_cookie consistent */
                continue;
            }
            if (ngx_http_freigabe_pstr(r, cookie, &h[i].value) != NGX_OK) {
                return NGX_ERROR;
            }
        }
        n = ngx_list_push(&r->headers_in.headers);
        if (n == NULL) {
            return NGX_ERROR;
        }
        *n = h[i];
    }
    for (k = 0; k < nadd; k++) {
        n = ngx_list_push(&r->headers_in.headers);
        if (n == NULL) {
            return NGX_ERROR;
        }
        if (ngx_http_freigabe_pstr(r, add[k].name, &n->key) != NGX_OK
            || ngx_http_freigabe_pstr(r, add[k].value, &n->value) != NGX_OK)
        {
            return NGX_ERROR;
        }
        n->lowcase_key = ngx_pnalloc(r->pool, n->key.len);
        if (n->lowcase_key == NULL) {
            return NGX_ERROR;
        }
        n->hash = ngx_hash_strlow(n->lowcase_key, n->key.data, n->key.len);
    }
    return NGX_OK;
}

/* Sends an engine response (status, headers, body); returns what finalize wants. */
static ngx_int_t
ngx_http_freigabe_send(ngx_http_request_t *r, const fg_response_t *resp)
{
    ngx_table_elt_t *h;
    ngx_buf_t *b;
    ngx_chain_t out;
    ngx_int_t rc;
    size_t i;

    r->headers_out.status = resp->status;
    r->headers_out.content_length_n = resp->body_len;
    for (i = 0; i < resp->nheaders; i++) {
        if (ngx_strcasecmp((u_char *) resp->headers[i].name, (u_char *) "Content-Type") == 0) {
            if (ngx_http_freigabe_pstr(r, resp->headers[i].value,
                                       &r->headers_out.content_type) != NGX_OK)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
            r->headers_out.content_type_len = r->headers_out.content_type.len;
            continue;
        }
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL
            || ngx_http_freigabe_pstr(r, resp->headers[i].name, &h->key) != NGX_OK
            || ngx_http_freigabe_pstr(r, resp->headers[i].value, &h->value) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        h->hash = 1;
    }
    if (resp->body_len == 0 || r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
    }
    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }
    b = ngx_create_temp_buf(r->pool, resp->body_len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    b->last = ngx_cpymem(b->last, resp->body, resp->body_len);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;
    out.buf = b;
    out.next = NULL;
    return ngx_http_output_filter(r, &out);
}

/* ======================================================================== */
/* running actions: ops live off the request pool and may outlive the request */

static void
ngx_http_freigabe_log_sink(void *ud, fg_log_level_t level, const char *msg)
{
    static const ngx_uint_t levels[] = { NGX_LOG_ERR, NGX_LOG_WARN, NGX_LOG_INFO,
                                         NGX_LOG_DEBUG };

    ngx_log_error(levels[level], (ngx_log_t *) ud, 0, "freigabe: %s", msg);
}

void
ngx_http_freigabe_op_free(ngx_http_freigabe_op_t *op)
{
    if (op->sleep.timer_set) {
        ngx_del_timer(&op->sleep);
    }
    fg_action_free(op->action);
    ngx_free(op);
}

static void
ngx_http_freigabe_request_gone(void *data)
{
    ngx_http_freigabe_ctx_t *ctx = data;
    ngx_http_freigabe_op_t *op = ctx->op;

    if (op == NULL) {
        return;
    }
    ctx->op = NULL;
    op->request = NULL;
    op->ctx = NULL;
    /* the connection's log dies with the connection: everything still running logs to
     * the cycle's from now on */
    op->log = ngx_cycle->log;
    op->timer.log = ngx_cycle->log;
    op->task.event.log = ngx_cycle->log;
    fg_action_set_log(op->action, ngx_http_freigabe_log_sink, ngx_cycle->log);
    if (!op->in_redis && !op->in_hash) {
        ngx_http_freigabe_op_free(op); /* idle or sleeping: nothing will call back */
    }
    /* otherwise the Redis reply or the thread's completion frees it */
}

static ngx_http_freigabe_op_t *
ngx_http_freigabe_op_new(ngx_http_request_t *r, ngx_http_freigabe_loc_conf_t *flcf,
    ngx_http_freigabe_ctx_t *ctx, fg_kind_t kind, const u_char *body, size_t len)
{
    ngx_http_freigabe_op_t *op;
    ngx_pool_cleanup_t *cln;
    fg_request_t fr;

    ngx_http_freigabe_request(r, &fr);
    fr.body = body; /* the engine copies it into its own arena */
    fr.body_len = len;
    op = ngx_calloc(sizeof(*op), r->connection->log);
    if (op == NULL) {
        return NULL;
    }
    op->action = fg_action_new(flcf->fg, kind, &fr);
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (op->action == NULL || cln == NULL) {
        if (op->action != NULL) {
            fg_action_free(op->action);
        }
        ngx_free(op);
        return NULL;
    }
    op->request = r;
    op->ctx = ctx;
    op->redis = flcf->redis;
    op->pool = flcf->thread_pool;
    op->log = r->connection->log;
    fg_action_set_log(op->action, ngx_http_freigabe_log_sink, r->connection->log);
    if (flcf->fmcf != NULL && flcf->fmcf->cache_zone != NULL) {
        fg_action_set_session_cache(op->action, &flcf->cache);
    }
    ctx->op = op;
    cln->handler = ngx_http_freigabe_request_gone;
    cln->data = ctx;
    return op;
}

static void
ngx_http_freigabe_hash_thread(void *data, ngx_log_t *log)
{
    fg_hash_job_run(data);
}

/* A non-cancelable timer while a hash runs: without one, a worker that is shutting down
 * (reload) sees no timers left and exits under the request. It never fires in practice. */
static void
ngx_http_freigabe_hash_guard(ngx_event_t *ev)
{
    ngx_http_freigabe_op_t *op = ev->data;

    ngx_log_error(NGX_LOG_WARN, op->log, 0, "freigabe: Argon2id job still running");
    ngx_add_timer(&op->timer, 60000);
}

static void
ngx_http_freigabe_hash_done(ngx_event_t *ev)
{
    ngx_http_freigabe_op_t *op = ev->data;

    if (op->timer.timer_set) {
        ngx_del_timer(&op->timer);
    }
    op->in_hash = 0;
    ngx_http_freigabe_hashing--;
    ngx_http_freigabe_op_run(op);
}

/* Argon2id goes to the thread pool; a full pool or queue is a 503, never a wait. */
static ngx_int_t
ngx_http_freigabe_hash_post(ngx_http_freigabe_op_t *op)
{
    const fg_config_t *fg;

    fg = op->request ? ((ngx_http_freigabe_loc_conf_t *) ngx_http_get_module_loc_conf(
                            op->request, ngx_http_freigabe_module))->fg : NULL;
    if (fg == NULL || ngx_http_freigabe_hashing >= (ngx_uint_t) fg_config_hash_concurrency(fg)) {
        fg_action_hash_refused(op->action, FG_ERR_BUSY);
        return NGX_ERROR;
    }
    ngx_memzero(&op->task, sizeof(op->task));
    op->task.ctx = fg_action_hash_job(op->action);
    op->task.handler = ngx_http_freigabe_hash_thread;
    op->task.event.handler = ngx_http_freigabe_hash_done;
    op->task.event.data = op;
    op->task.event.log = op->log;
    if (ngx_thread_task_post(op->pool, &op->task) != NGX_OK) {
        fg_action_hash_refused(op->action, FG_ERR_BUSY);
        return NGX_ERROR;
    }
    op->in_hash = 1;
    ngx_http_freigabe_hashing++;
    op->timer.handler = ngx_http_freigabe_hash_guard;
    op->timer.data = op;
    op->timer.log = op->log;
    ngx_add_timer(&op->timer, 60000);
    return NGX_OK;
}

static void
ngx_http_freigabe_wake(ngx_event_t *ev)
{
    ngx_http_freigabe_op_t *op = ev->data;

    fg_action_set_now(op->action, ngx_time());
    if (ngx_exiting || ngx_quit || ngx_terminate) {
        fg_action_stop_waiting(op->action); /* reload: answer now, the app polls again */
    }
    ngx_http_freigabe_op_run(op);
}

void
ngx_http_freigabe_op_run(ngx_http_freigabe_op_t *op)
{
    fg_step_t step;

    for (;;) {
        step = fg_action_step(op->action);
        if (op->request == NULL) {
            ngx_http_freigabe_op_free(op); /* nobody waits for the answer */
            return;
        }
        switch (step) {
        case FG_STEP_REDIS:
            if (ngx_http_freigabe_redis_send(op) == NGX_OK) {
                return;
            }
            break;
        case FG_STEP_HASH:
            if (ngx_http_freigabe_hash_post(op) == NGX_OK) {
                return;
            }
            break;
        case FG_STEP_SLEEP:
            op->sleep.handler = ngx_http_freigabe_wake;
            op->sleep.data = op;
            op->sleep.log = op->log;
            /* not cancelable: an exiting worker answers the poll at the next wake-up
             * (at most a second) instead of leaving the connection behind */
            ngx_add_timer(&op->sleep, (ngx_msec_t) fg_action_sleep_ms(op->action));
            return;
        case FG_STEP_DONE:
            op->done(op);
            return;
        }
    }
}

/* ======================================================================== */
/* variables */

static ngx_int_t
ngx_http_freigabe_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data)
{
    v->not_found = 1; /* set only by a granted session, into the indexed slot */
    return NGX_OK;
}

static ngx_int_t
ngx_http_freigabe_preconf(ngx_conf_t *cf)
{
    ngx_http_variable_t *var;
    ngx_uint_t i;

    for (i = 0; i < NGX_HTTP_FREIGABE_NVARS; i++) {
        var = ngx_http_add_variable(cf, &ngx_http_freigabe_var_names[i], 0);
        if (var == NULL) {
            return NGX_ERROR;
        }
        var->get_handler = ngx_http_freigabe_variable;
        var->data = i;
    }
    return NGX_OK;
}

/* Writes the identity into the request's variable slots (they survive internal
 * redirects, unlike the module context). */
static void
ngx_http_freigabe_set_variables(ngx_http_request_t *r, const fg_identity_t *id)
{
    ngx_http_freigabe_main_conf_t *fmcf;
    const char *values[NGX_HTTP_FREIGABE_NVARS];
    ngx_http_variable_value_t *v;
    ngx_uint_t i;

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_freigabe_module);

    values[NGX_HTTP_FREIGABE_VAR_USER] = id->customer;
    values[NGX_HTTP_FREIGABE_VAR_NAME] = id->name_pct;
    values[NGX_HTTP_FREIGABE_VAR_AUTH_TIME] = NULL;
    values[NGX_HTTP_FREIGABE_VAR_SESSION] = id->session_id;
    values[NGX_HTTP_FREIGABE_VAR_ASSERTION] = id->assertion;
    for (i = 0; i < NGX_HTTP_FREIGABE_NVARS; i++) {
        v = &r->variables[fmcf->var_index[i]];
        if (i == NGX_HTTP_FREIGABE_VAR_AUTH_TIME) {
            v->data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
            if (v->data == NULL) {
                continue;
            }
            v->len = ngx_sprintf(v->data, "%L", (int64_t) id->auth_time) - v->data;
        } else {
            ngx_str_t copy;
            if (ngx_http_freigabe_pstr(r, values[i], &copy) != NGX_OK) {
                continue;
            }
            v->data = copy.data;
            v->len = copy.len;
        }
        v->valid = 1;
        v->no_cacheable = 0;
        v->not_found = 0;
    }
}

/* ======================================================================== */
/* phases */

/* POST_READ: look-alikes of the identity headers never get past this, on any path, and
 * neither do the module's cookies where the module is used (any location of this http
 * block: the cookies are the host's, whatever port or server they come in through). */
static ngx_int_t
ngx_http_freigabe_strip_handler(ngx_http_request_t *r)
{
    ngx_http_freigabe_main_conf_t *fmcf;
    ngx_http_freigabe_loc_conf_t *flcf;
    const char *cookie = NULL;

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_freigabe_module);
    flcf = ngx_http_get_module_loc_conf(r, ngx_http_freigabe_module);
    if ((fmcf->redis.nelts > 0 && ngx_http_freigabe_keep_cookie(r, &cookie) != NGX_OK)
        || ngx_http_freigabe_rewrite_headers(r, flcf->raw, cookie, NULL, 0) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    return NGX_DECLINED;
}

static void
ngx_http_freigabe_protect_done(ngx_http_freigabe_op_t *op)
{
    ngx_http_freigabe_ctx_t *ctx = op->ctx;
    ngx_http_request_t *r = op->request;

    ngx_connection_t *c = r->connection;

    ctx->done = 1;
    ctx->resp = fg_action_response(op->action);
    if (ctx->waiting) {
        /* finished asynchronously: resume the phases where the access handler waits;
         * the request may be gone afterwards, the connection is not */
        ctx->waiting = 0;
        ngx_http_core_run_phases(r);
        ngx_http_run_posted_requests(c);
    }
}

/* Applies a finished protect decision; the op is freed here. */
static ngx_int_t
ngx_http_freigabe_protect_result(ngx_http_request_t *r, ngx_http_freigabe_loc_conf_t *flcf,
    ngx_http_freigabe_ctx_t *ctx)
{
    const fg_response_t *resp = ctx->resp;
    ngx_http_freigabe_op_t *op = ctx->op;
    ngx_int_t rc;

    if (resp->decision == FG_GRANTED) {
        rc = ngx_http_freigabe_rewrite_headers(r, flcf->fg, resp->upstream_cookie,
                                               resp->upstream, resp->nupstream);
        ngx_http_freigabe_set_variables(r, resp->identity);
        if (ngx_http_freigabe_pstr(r, resp->identity->customer, &r->headers_in.user) != NGX_OK) {
            rc = NGX_ERROR;
        }
        ctx->op = NULL;
        ngx_http_freigabe_op_free(op);
        return rc == NGX_OK ? NGX_OK : NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ctx->op = NULL;
    /* an unread body must not be taken for the next request on this connection */
    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }
    rc = ngx_http_freigabe_send(r, resp); /* copies what it needs before the op goes */
    ngx_http_freigabe_op_free(op);
    ngx_http_finalize_request(r, rc);
    return NGX_DONE;
}

/* ACCESS: a protected location requires a valid session. Re-entered after async work. */
static ngx_int_t
ngx_http_freigabe_access_handler(ngx_http_request_t *r)
{
    ngx_http_freigabe_loc_conf_t *flcf;
    ngx_http_freigabe_ctx_t *ctx;
    ngx_http_freigabe_op_t *op;

    flcf = ngx_http_get_module_loc_conf(r, ngx_http_freigabe_module);
    if (!flcf->enable || flcf->fg == NULL) {
        return NGX_DECLINED;
    }
    ctx = ngx_http_get_module_ctx(r, ngx_http_freigabe_module);
    if (ctx != NULL) {
        return ctx->done ? ngx_http_freigabe_protect_result(r, flcf, ctx) : NGX_AGAIN;
    }
    ctx = ngx_pcalloc(r->pool, sizeof(*ctx));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ngx_http_set_ctx(r, ctx, ngx_http_freigabe_module);
    op = ngx_http_freigabe_op_new(r, flcf, ctx, FG_KIND_PROTECT, NULL, 0);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    op->done = ngx_http_freigabe_protect_done;
    r->read_event_handler = ngx_http_test_reading; /* notice a client that goes away */
    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_freigabe_op_run(op);
    if (ctx->done) {
        return ngx_http_freigabe_protect_result(r, flcf, ctx);
    }
    ctx->waiting = 1;
    return NGX_AGAIN;
}

/* Content handler of the endpoints, after the body is in. */
static void
ngx_http_freigabe_endpoint_done(ngx_http_freigabe_op_t *op)
{
    ngx_http_request_t *r = op->request;
    ngx_http_freigabe_ctx_t *ctx = op->ctx;
    ngx_connection_t *c = r->connection;
    ngx_uint_t waiting = ctx->waiting;  /* ctx may go with the request */
    ngx_int_t rc;

    rc = ngx_http_freigabe_send(r, fg_action_response(op->action));
    ctx->op = NULL;
    ngx_http_freigabe_op_free(op);
    ngx_http_finalize_request(r, rc);
    if (waiting) {
        ngx_http_run_posted_requests(c); /* we are in a Redis or thread callback */
    }
}

#define NGX_HTTP_FREIGABE_MAX_BODY 65536

/* The request body as one NUL-terminated string, or NULL if it is too large or in a file. */
static u_char *
ngx_http_freigabe_body(ngx_http_request_t *r, size_t *len)
{
    ngx_chain_t *cl;
    u_char *buf, *p;
    size_t n = 0;

    *len = 0;
    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return (u_char *) "";
    }
    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        if (cl->buf->in_file || n > NGX_HTTP_FREIGABE_MAX_BODY) {
            return NULL;
        }
        n += cl->buf->last - cl->buf->pos;
    }
    if (n > NGX_HTTP_FREIGABE_MAX_BODY) {
        return NULL;
    }
    buf = ngx_pnalloc(r->pool, n + 1);
    if (buf == NULL) {
        return NULL;
    }
    p = buf;
    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }
    *p = '\0';
    *len = n;
    return buf;
}

/* The body may hold a password: wiped in nginx's buffers and in the joined copy as soon
 * as the engine has taken its own (which it wipes when the action ends). */
static void
ngx_http_freigabe_body_wipe(ngx_http_request_t *r, u_char *body, size_t len)
{
    ngx_chain_t *cl;

    if (len > 0) {
        ngx_explicit_memzero(body, len);
    }
    if (r->request_body == NULL) {
        return;
    }
    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        if (!cl->buf->in_file && cl->buf->last > cl->buf->pos) {
            ngx_explicit_memzero(cl->buf->pos, cl->buf->last - cl->buf->pos);
        }
    }
}

static void
ngx_http_freigabe_body_read(ngx_http_request_t *r)
{
    ngx_http_freigabe_loc_conf_t *flcf;
    ngx_http_freigabe_ctx_t *ctx;
    ngx_http_freigabe_op_t *op;
    u_char *body;
    size_t len;

    flcf = ngx_http_get_module_loc_conf(r, ngx_http_freigabe_module);
    body = ngx_http_freigabe_body(r, &len);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE);
        return;
    }
    ctx = ngx_pcalloc(r->pool, sizeof(*ctx));
    if (ctx == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    ngx_http_set_ctx(r, ctx, ngx_http_freigabe_module);
    op = ngx_http_freigabe_op_new(r, flcf, ctx, FG_KIND_ENDPOINT, body, len);
    ngx_http_freigabe_body_wipe(r, body, len); /* the engine has its own copy now */
    if (op == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    op->done = ngx_http_freigabe_endpoint_done;
    r->read_event_handler = ngx_http_test_reading; /* an app that hangs up a long poll */
    /* A body that arrived after the headers brings us here with the request's last
     * reference (count 1): an answer given at once (404, 405, 403, 503) finalizes and frees
     * it inside op_run. Our own reference keeps it, and ctx, alive until we let go. */
    r->main->count++;
    ngx_http_freigabe_op_run(op);
    if (ctx->op != NULL) {
        ctx->waiting = 1;
    }
    ngx_http_finalize_request(r, NGX_DONE);
}

static ngx_int_t
ngx_http_freigabe_endpoint_handler(ngx_http_request_t *r)
{
    ngx_http_freigabe_loc_conf_t *flcf;
    ngx_int_t rc;

    flcf = ngx_http_get_module_loc_conf(r, ngx_http_freigabe_module);
    if (flcf->fg == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    r->request_body_in_single_buf = 1;
    rc = ngx_http_read_client_request_body(r, ngx_http_freigabe_body_read);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }
    return NGX_DONE;
}

/* freigabe_check: the protect decision as a status: 204 + identity headers, 401, 503. */
static void
ngx_http_freigabe_check_done(ngx_http_freigabe_op_t *op)
{
    ngx_http_request_t *r = op->request;
    ngx_http_freigabe_ctx_t *ctx = op->ctx;
    const fg_response_t *resp = fg_action_response(op->action);
    ngx_http_freigabe_loc_conf_t *flcf = ngx_http_get_module_loc_conf(r, ngx_http_freigabe_module);
    ngx_connection_t *c = r->connection;
    ngx_uint_t waiting = ctx->waiting;
    ngx_table_elt_t *h;
    ngx_int_t rc;
    size_t i;

    if (resp->decision == FG_GRANTED) {
        ngx_http_freigabe_set_variables(r, resp->identity);
        for (i = 0; i < resp->nupstream; i++) {
            h = ngx_list_push(&r->headers_out.headers);
            if (h == NULL
                || ngx_http_freigabe_pstr(r, resp->upstream[i].name, &h->key) != NGX_OK
                || ngx_http_freigabe_pstr(r, resp->upstream[i].value, &h->value) != NGX_OK)
            {
                break;
            }
            h->hash = 1;
        }
        r->headers_out.status = NGX_HTTP_NO_CONTENT;
        r->headers_out.content_length_n = 0;
        r->header_only = 1;
        rc = ngx_http_send_header(r);
    } else {
        rc = resp->status == 503 ? NGX_HTTP_SERVICE_UNAVAILABLE : NGX_HTTP_UNAUTHORIZED;
    }
    /* what auth_request lets through must not carry look-alikes of this location's
     * identity headers upstream (nor the session cookie, which POST_READ took out already
     * unless the request skipped it) */
    if (ngx_http_freigabe_rewrite_headers(r->main, flcf->fg, resp->upstream_cookie, NULL, 0)
        != NGX_OK)
    {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ctx->op = NULL;
    ngx_http_freigabe_op_free(op);
    ngx_http_finalize_request(r, rc);
    if (waiting) {
        ngx_http_run_posted_requests(c);
    }
}

static ngx_int_t
ngx_http_freigabe_check_handler(ngx_http_request_t *r)
{
    ngx_http_freigabe_loc_conf_t *flcf;
    ngx_http_freigabe_ctx_t *ctx;
    ngx_http_freigabe_op_t *op;

    flcf = ngx_http_get_module_loc_conf(r, ngx_http_freigabe_module);
    if (flcf->fg == NULL || ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ctx = ngx_pcalloc(r->pool, sizeof(*ctx));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ngx_http_set_ctx(r, ctx, ngx_http_freigabe_module);
    op = ngx_http_freigabe_op_new(r, flcf, ctx, FG_KIND_PROTECT, NULL, 0);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    op->done = ngx_http_freigabe_check_done;
    r->main->count++;
    ngx_http_freigabe_op_run(op);
    if (ctx->op != NULL) {
        ctx->waiting = 1;
    }
    return NGX_DONE;
}

static ngx_int_t
ngx_http_freigabe_init(ngx_conf_t *cf)
{
    ngx_http_freigabe_main_conf_t *fmcf;
    ngx_http_core_main_conf_t *cmcf;
    ngx_http_handler_pt *h;
    ngx_uint_t i;

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_freigabe_module);
    for (i = 0; i < NGX_HTTP_FREIGABE_NVARS; i++) {
        fmcf->var_index[i] = ngx_http_get_variable_index(cf, &ngx_http_freigabe_var_names[i]);
        if (fmcf->var_index[i] == NGX_ERROR) {
            return NGX_ERROR;
        }
    }
    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    h = ngx_array_push(&cmcf->phases[NGX_HTTP_POST_READ_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }
    *h = ngx_http_freigabe_strip_handler;
    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }
    *h = ngx_http_freigabe_access_handler;
    return NGX_OK;
}
