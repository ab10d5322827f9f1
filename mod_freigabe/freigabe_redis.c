/* freigabe_redis.c - per-process pool of synchronous hiredis connections for mod_freigabe. */
#include "freigabe_redis.h"
#include "fg_hiredis.h"

#include "http_log.h"
#include "apr_atomic.h"
#include "apr_reslist.h"
#include "apr_strings.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

APLOG_USE_MODULE(freigabe);

/* Idle connections older than this are closed (Redis' own `timeout` may drop them). */
#define IDLE_TTL apr_time_from_sec(60)

struct fgr_pool {
    apr_reslist_t *list;
    server_rec *s;
    const char *url;
    const char *display; /* url without its password, for logs */
    int timeout_ms, max;
    fg_redis_target_t target;
    /* Bumped after every error: connections made before it are not trusted again. */
    volatile apr_uint32_t gen;
    /* Failed connects since the last one logged, and when that was (racy by design: at
     * worst a line more or less). */
    volatile apr_uint32_t dial_failures;
    apr_time_t dial_logged;
};

/* Seconds between two log lines about failed connects. */
#define DIAL_LOG_EVERY 5

typedef struct {
    redisContext *c;
    apr_uint32_t gen;
    unsigned uses; /* pipelines run on it: 0 = fresh */
} conn_t;

static struct timeval tv_ms(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

/* Runs one setup command (AUTH/SELECT); 0 when Redis accepted it. */
static int setup_cmd(fgr_pool_t *p, redisContext *c, int argc, const char **argv)
{
    redisReply *rep = redisCommandArgv(c, argc, argv, NULL);
    int bad = rep == NULL || rep->type == REDIS_REPLY_ERROR;
    if (bad) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, p->s, "Redis %s failed: %s", argv[0],
                     rep ? rep->str : c->errstr);
    }
    if (rep) {
        freeReplyObject(rep);
    }
    return bad;
}

static int login(fgr_pool_t *p, redisContext *c)
{
    const fg_redis_target_t *t = &p->target;
    char db[16];
    if (t->user[0]) {
        const char *argv[] = {"AUTH", t->user, t->password};
        if (setup_cmd(p, c, 3, argv)) {
            return 1;
        }
    } else if (t->password[0]) {
        const char *argv[] = {"AUTH", t->password};
        if (setup_cmd(p, c, 2, argv)) {
            return 1;
        }
    }
    if (t->db != 0) {
        const char *argv[] = {"SELECT", db};
        apr_snprintf(db, sizeof(db), "%d", t->db);
        return setup_cmd(p, c, 2, argv);
    }
    return 0;
}

static redisContext *dial(fgr_pool_t *p)
{
    struct timeval tv = tv_ms(p->timeout_ms);
    const fg_redis_target_t *t = &p->target;
    redisContext *c = t->unix_path[0] ? redisConnectUnixWithTimeout(t->unix_path, tv)
                                      : redisConnectWithTimeout(t->host, t->port, tv);
    if (c == NULL || c->err) {
        /* while Redis is down every request tries again: one line per few seconds, the
         * requests themselves are logged as 503 by the engine */
        apr_time_t now = apr_time_now();
        apr_uint32_t n = apr_atomic_inc32(&p->dial_failures);
        if (now - p->dial_logged >= apr_time_from_sec(DIAL_LOG_EVERY)) {
            char more[64] = "";
            p->dial_logged = now;
            apr_atomic_set32(&p->dial_failures, 0);
            if (n > 0) {
                apr_snprintf(more, sizeof(more), " (and %u failed attempts before)", n);
            }
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, p->s, "cannot connect to Redis %s: %s%s",
                         p->display, c ? c->errstr : "out of memory", more);
        }
    } else if (redisSetTimeout(c, tv) != REDIS_OK) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, p->s, "Redis %s: cannot set timeout: %s",
                     p->display, c->errstr);
    } else if (login(p, c) == 0) {
        return c;
    }
    if (c) {
        redisFree(c);
    }
    return NULL;
}

/* apr_reslist constructor: malloc, not the reslist's pool (it is never cleared). */
static apr_status_t make(void **res, void *params, apr_pool_t *pool)
{
    fgr_pool_t *p = params;
    conn_t *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        return APR_ENOMEM;
    }
    k->gen = apr_atomic_read32(&p->gen);
    k->c = dial(p);
    if (k->c == NULL) {
        free(k);
        apr_atomic_inc32(&p->gen); /* the idle ones are likely dead as well */
        return APR_ECONNREFUSED;
    }
    *res = k;
    return APR_SUCCESS;
}

static apr_status_t unmake(void *res, void *params, apr_pool_t *pool)
{
    conn_t *k = res;
    redisFree(k->c);
    free(k);
    return APR_SUCCESS;
}

fgr_pool_t *fgr_pool_create(apr_pool_t *pool, server_rec *s, const fg_config_t *cfg, int max)
{
    char err[256];
    fgr_pool_t *p = apr_pcalloc(pool, sizeof(*p));
    p->s = s;
    p->url = apr_pstrdup(pool, fg_config_redis_url(cfg));
    p->display = apr_pstrdup(pool, fg_redis_url_redact(p->url, err, sizeof(err)));
    p->timeout_ms = fg_config_redis_timeout_ms(cfg);
    p->max = max > 0 ? max : 1;
    if (fg_redis_url_parse(p->url, &p->target, err, sizeof(err)) != FG_OK) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "FreigabeRedis: %s", err);
        return NULL;
    }
    apr_status_t rv = apr_reslist_create(&p->list, 0, p->max, p->max, IDLE_TTL, make, unmake,
                                         p, pool);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "cannot create the Redis pool");
        return NULL;
    }
    apr_reslist_timeout_set(p->list, apr_time_from_msec(p->timeout_ms));
    return p;
}

int fgr_pool_matches(const fgr_pool_t *p, const fg_config_t *cfg)
{
    return p && p->timeout_ms == fg_config_redis_timeout_ms(cfg) &&
           strcmp(p->url, fg_config_redis_url(cfg)) == 0;
}

/* True when Redis has closed an idle connection (a restart, Redis' own `timeout`): the
 * EOF or reset is waiting on the socket. Checked before anything is sent, so that such a
 * connection is replaced without a request ever being sent twice. Data waiting on an
 * idle connection means it is out of step: not trusted either. */
static int gone(const conn_t *k)
{
    char b;
    if (k->uses == 0) {
        return 0;
    }
    ssize_t n = recv(k->c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* A live connection of the current generation; stale and closed ones are destroyed on
 * the way. */
static int take(fgr_pool_t *p, request_rec *r, conn_t **out)
{
    for (int i = 0; i <= p->max + 1; i++) {
        void *res;
        apr_status_t rv = apr_reslist_acquire(p->list, &res);
        if (rv != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, "no Redis connection");
            return APR_STATUS_IS_TIMEUP(rv) ? FG_ERR_TIMEOUT : FG_ERR_REDIS_DOWN;
        }
        conn_t *k = res;
        if (k->gen == apr_atomic_read32(&p->gen) && !gone(k)) {
            *out = k;
            return FG_OK;
        }
        apr_reslist_invalidate(p->list, k);
    }
    return FG_ERR_REDIS_DOWN;
}

/* Destroys a broken connection and retires every idle one made before the error. */
static int drop(fgr_pool_t *p, request_rec *r, conn_t *k, const char *why)
{
    int err = FG_ERR_REDIS_DOWN;
    if (k->c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK ||
                                      errno == ETIMEDOUT)) {
        err = FG_ERR_TIMEOUT;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "Redis %s: %s", p->display,
                  why ? why
                  : err == FG_ERR_TIMEOUT
                      ? apr_psprintf(r->pool, "no answer within %d ms (FreigabeRedisTimeout)",
                                     p->timeout_ms)
                      : k->c->errstr);
    apr_atomic_inc32(&p->gen);
    apr_reslist_invalidate(p->list, k);
    return err;
}

/* Sends what is appended. *again is set when the very first write failed: then nothing
 * of the pipeline has reached Redis and it may be sent again on another connection. Once
 * a byte is out, Redis may have run the commands (an INCR must not count twice). */
static int flush(redisContext *c, int *again)
{
    int done = 0, first = 1;
    do {
        if (redisBufferWrite(c, &done) != REDIS_OK) {
            *again = first;
            return -1;
        }
        first = 0;
    } while (!done);
    return 0;
}

/* One attempt; *again as flush() sets it. */
static int attempt(fgr_pool_t *p, request_rec *r, const fg_cmd_t *cmds, size_t n,
                   fg_arena_t *arena, fg_reply_t **out, int *again)
{
    conn_t *k;
    int rv = take(p, r, &k);
    if (rv != FG_OK) {
        return rv;
    }
    for (size_t i = 0; i < n; i++) {
        if (redisAppendCommandArgv(k->c, cmds[i].argc, cmds[i].argv, cmds[i].argvlen) !=
            REDIS_OK) {
            return drop(p, r, k, NULL);
        }
    }
    if (flush(k->c, again) != 0) {
        return drop(p, r, k, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        void *rep = NULL;
        if (redisGetReply(k->c, &rep) != REDIS_OK) {
            return drop(p, r, k, NULL);
        }
        if (fg_hiredis_retires(rep)) {
            const char *why = apr_pstrdup(r->pool, ((redisReply *)rep)->str);
            freeReplyObject(rep);
            return drop(p, r, k, why);
        }
        out[i] = fg_reply_from_hiredis(arena, rep);
        freeReplyObject(rep);
        if (out[i] == NULL) {
            return drop(p, r, k, "out of memory");
        }
    }
    k->uses++;
    apr_reslist_release(p->list, k);
    return FG_OK;
}

int fgr_exec(fgr_pool_t *p, request_rec *r, const fg_cmd_t *cmds, size_t n,
             fg_arena_t *arena, fg_reply_t **out)
{
    int again = 0;
    if (n == 0) {
        return FG_OK;
    }
    if (p == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "no Redis pool in this process");
        return FG_ERR_REDIS_DOWN;
    }
    int rv = attempt(p, r, cmds, n, arena, out, &again);
    if (rv != FG_OK && again) {
        rv = attempt(p, r, cmds, n, arena, out, &again);
    }
    return rv;
}
