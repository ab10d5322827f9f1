/* ngx_http_freigabe_redis.c - hiredis' async API on nginx's event loop, with our own timeouts. */
#include "ngx_http_freigabe.h"

#define NGX_HTTP_FREIGABE_BACKOFF_MIN 100
#define NGX_HTTP_FREIGABE_BACKOFF_MAX 5000

static void ngx_http_freigabe_redis_drop(ngx_http_freigabe_redis_t *rd, const char *why);
static void ngx_http_freigabe_redis_lost(ngx_http_freigabe_redis_t *rd);
static void ngx_http_freigabe_redis_shut(ngx_http_freigabe_redis_t *rd);
static void ngx_http_freigabe_redis_issue(ngx_http_freigabe_op_t *op);
static void ngx_http_freigabe_batch_done(ngx_http_freigabe_op_t *op);

/* A connect attempt failed (at once or later): no new attempt before the back-off has
 * passed, and the next back-off is twice as long. Requests refused meanwhile leave both
 * alone, or steady traffic would postpone the next attempt for ever. */
static void
ngx_http_freigabe_redis_failed(ngx_http_freigabe_redis_t *rd)
{
    rd->next_attempt = ngx_current_msec + rd->backoff;
    rd->backoff = ngx_min(rd->backoff * 2, NGX_HTTP_FREIGABE_BACKOFF_MAX);
}

/* ---- the event adapter: hiredis asks, nginx's event module does it */

/* hiredis' hooks return nothing: a socket nginx cannot watch is logged, and the command
 * timeout of whatever waits on it drops the connection (fail closed, then reconnect). */
static void
ngx_http_freigabe_ev_failed(ngx_connection_t *c, const char *what)
{
    ngx_http_freigabe_redis_t *rd = c->data;

    ngx_log_error(NGX_LOG_ALERT, rd->log, ngx_socket_errno,
                  "freigabe: cannot %s events of the connection to Redis %V", what,
                  &rd->display);
}

static void
ngx_http_freigabe_ev_add_read(void *data)
{
    ngx_connection_t *c = data;

    if (!c->read->active && ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
        ngx_http_freigabe_ev_failed(c, "add read");
    }
}

static void
ngx_http_freigabe_ev_del_read(void *data)
{
    ngx_connection_t *c = data;

    if (c->read->active && ngx_del_event(c->read, NGX_READ_EVENT, 0) != NGX_OK) {
        ngx_http_freigabe_ev_failed(c, "delete read");
    }
}

static void
ngx_http_freigabe_ev_add_write(void *data)
{
    ngx_connection_t *c = data;

    if (!c->write->active
        && ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT) != NGX_OK)
    {
        ngx_http_freigabe_ev_failed(c, "add write");
    }
}

static void
ngx_http_freigabe_ev_del_write(void *data)
{
    ngx_connection_t *c = data;

    if (c->write->active && ngx_del_event(c->write, NGX_WRITE_EVENT, 0) != NGX_OK) {
        ngx_http_freigabe_ev_failed(c, "delete write");
    }
}

/* hiredis frees its context: forget the events and give the connection slot back. The
 * socket itself is closed by hiredis (redisFree), exactly once; nginx must not close it.
 * The order is ngx_close_connection's: free the slot, then mark it as having no socket. */
static void
ngx_http_freigabe_ev_cleanup(void *data)
{
    ngx_connection_t *c = data;
    ngx_http_freigabe_redis_t *rd = c->data; /* ngx_free_connection reuses c->data */

    if (c->read->active) {
        ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
    }
    if (c->write->active) {
        ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
    }
    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }
    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }
    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }
    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }
    if (rd->conn == c) {
        rd->conn = NULL;
    }
    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;
}

static void
ngx_http_freigabe_ev_read(ngx_event_t *ev)
{
    ngx_connection_t *c = ev->data;
    ngx_http_freigabe_redis_t *rd = c->data;
    redisAsyncContext *ac = rd->ac;

    if (ac == NULL) {
        return;
    }
    if (c->close) {
        /* worker_shutdown_timeout closes every connection of an exiting worker: commands
         * in flight fail now instead of holding the worker until their own timeout */
        ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                      "freigabe: closing the connection to Redis %V: worker shutdown timeout",
                      &rd->display);
        rd->next_attempt = ngx_current_msec + rd->backoff;
        ngx_http_freigabe_redis_shut(rd);
        return;
    }
    redisAsyncHandleRead(ac);
}

static void
ngx_http_freigabe_ev_write(ngx_event_t *ev)
{
    ngx_connection_t *c = ev->data;
    ngx_http_freigabe_redis_t *rd = c->data;

    if (rd->ac != NULL) {
        redisAsyncHandleWrite(rd->ac);
    }
}

/* ---- connection life cycle */

static void
ngx_http_freigabe_on_connect(const redisAsyncContext *ac, int status)
{
    ngx_http_freigabe_redis_t *rd = ac->data;

    if (status != REDIS_OK) {
        /* hiredis frees the context itself after this callback */
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "freigabe: cannot connect to Redis %V: %s", &rd->display,
                      ac->errstr);
        ngx_http_freigabe_redis_failed(rd);
        ngx_http_freigabe_redis_lost(rd);
        return;
    }
    ngx_log_error(NGX_LOG_INFO, rd->log, 0, "freigabe: connected to Redis %V",
                  &rd->display);
    if (rd->ready) {
        rd->backoff = NGX_HTTP_FREIGABE_BACKOFF_MIN; /* else when AUTH/SELECT succeeded */
    }
}

static void
ngx_http_freigabe_on_disconnect(const redisAsyncContext *ac, int status)
{
    ngx_http_freigabe_redis_t *rd = ac->data;

    if (rd->ac == ac) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "freigabe: lost the connection to Redis %V: %s", &rd->display,
                      status == REDIS_OK ? "closed" : ac->errstr);
        rd->next_attempt = ngx_current_msec + rd->backoff;
        ngx_http_freigabe_redis_lost(rd);
    }
}

/* Sends (connection ready) or fails (connection gone) every request that waits for the
 * connection to become ready. */
static void
ngx_http_freigabe_redis_flush(ngx_http_freigabe_redis_t *rd)
{
    ngx_http_freigabe_op_t *op;
    ngx_queue_t waiting, *q;

    if (ngx_queue_empty(&rd->waiting)) {
        return;
    }
    /* taken aside: what runs below may already queue requests on a new connection */
    ngx_queue_init(&waiting);
    ngx_queue_add(&waiting, &rd->waiting);
    ngx_queue_init(&rd->waiting);
    while (!ngx_queue_empty(&waiting)) {
        q = ngx_queue_head(&waiting);
        ngx_queue_remove(q);
        op = ngx_queue_data(q, ngx_http_freigabe_op_t, queue);
        op->queued = 0;
        if (rd->ac != NULL && rd->ready && !rd->exiting) {
            ngx_http_freigabe_redis_issue(op);
            continue;
        }
        if (op->error == 0) {
            op->error = FG_ERR_REDIS_DOWN;
        }
        ngx_http_freigabe_batch_done(op);
    }
}

/* The connection is gone (hiredis frees or has freed the context): forget it, and fail
 * what waited for it to become ready (hiredis never saw those commands). */
static void
ngx_http_freigabe_redis_lost(ngx_http_freigabe_redis_t *rd)
{
    rd->ac = NULL;
    rd->ready = 0;
    rd->hello = 0;
    ngx_http_freigabe_redis_flush(rd);
}

/* Frees the connection; every command in flight fails now (hiredis calls back with NULL
 * replies). */
static void
ngx_http_freigabe_redis_shut(ngx_http_freigabe_redis_t *rd)
{
    redisAsyncContext *ac = rd->ac;

    if (ac != NULL) {
        ngx_http_freigabe_redis_lost(rd); /* ops failing now must not queue on it */
        redisAsyncFree(ac);               /* deferred by hiredis inside its callbacks */
    }
}

/* The reply to AUTH or SELECT. A connection is ready only when all of them succeeded:
 * no request's command is sent before, so a refused SELECT can never let one run in
 * database 0 (another deployment's data). A refusal closes the connection and counts as
 * a failed connect (it will not heal by itself: the back-off grows). */
static void
ngx_http_freigabe_hello_reply(redisAsyncContext *ac, void *reply, void *data)
{
    ngx_http_freigabe_redis_t *rd = ac->data;
    redisReply *r = reply;

    if (r == NULL || rd->ac != ac) {
        return; /* the connection is going away; that path fails the waiting requests */
    }
    if (r->type != REDIS_REPLY_STATUS || r->len != 2 || ngx_strncasecmp(
            (u_char *) r->str, (u_char *) "OK", 2) != 0)
    {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "freigabe: Redis %V refused %s: %*s; closing the connection "
                      "(check freigabe_redis)", &rd->display, (char *) data,
                      r->str != NULL ? (size_t) r->len : (size_t) 0,
                      r->str != NULL ? r->str : "");
        ngx_http_freigabe_redis_failed(rd);
        ngx_http_freigabe_redis_shut(rd);
        return;
    }
    if (--rd->hello == 0) {
        rd->ready = 1;
        rd->backoff = NGX_HTTP_FREIGABE_BACKOFF_MIN;
        ngx_http_freigabe_redis_flush(rd);
    }
}

/* Queues AUTH and SELECT first: hiredis sends them before anything else, and requests
 * wait in rd->waiting until they succeeded. The password is never part of a log line
 * (data names the command, nothing more). NGX_ERROR: one could not be queued. */
static ngx_int_t
ngx_http_freigabe_redis_hello(ngx_http_freigabe_redis_t *rd)
{
    fg_redis_target_t *t = &rd->target;
    int rc = REDIS_OK;

    rd->hello = 0;
    if (t->password[0] != '\0' && t->user[0] != '\0') {
        rc = redisAsyncCommand(rd->ac, ngx_http_freigabe_hello_reply, "AUTH",
                               "AUTH %s %s", t->user, t->password);
        rd->hello++;
    } else if (t->password[0] != '\0') {
        rc = redisAsyncCommand(rd->ac, ngx_http_freigabe_hello_reply, "AUTH",
                               "AUTH %s", t->password);
        rd->hello++;
    }
    if (t->db != 0 && rc == REDIS_OK) {
        ngx_snprintf((u_char *) rd->select, sizeof(rd->select) - 1, "SELECT %d%Z", t->db);
        rc = redisAsyncCommand(rd->ac, ngx_http_freigabe_hello_reply, rd->select,
                               "SELECT %d", t->db);
        rd->hello++;
    }
    rd->ready = (rd->hello == 0);
    return rc == REDIS_OK ? NGX_OK : NGX_ERROR;
}

/* Opens the connection (non-blocking; numeric address, so no DNS at request time). */
static ngx_int_t
ngx_http_freigabe_redis_connect(ngx_http_freigabe_redis_t *rd)
{
    redisAsyncContext *ac;
    ngx_connection_t *c;

    if (rd->target.unix_path[0] != '\0') {
        ac = redisAsyncConnectUnix(rd->target.unix_path);
    } else {
        ac = redisAsyncConnect(rd->addr, rd->target.port);
    }
    if (ac == NULL) {
        ngx_http_freigabe_redis_failed(rd);
        return NGX_ERROR;
    }
    if (ac->err) {
        /* refused at once (a unix socket, a local port nobody listens on) */
        ngx_log_error(NGX_LOG_ERR, rd->log, 0, "freigabe: cannot connect to Redis %V: %s",
                      &rd->display, ac->errstr);
        redisAsyncFree(ac);
        ngx_http_freigabe_redis_failed(rd);
        return NGX_ERROR;
    }
    c = ngx_get_connection(ac->c.fd, rd->log);
    if (c == NULL) {
        redisAsyncFree(ac);
        ngx_http_freigabe_redis_failed(rd);
        return NGX_ERROR;
    }
    c->data = rd;
    c->read->handler = ngx_http_freigabe_ev_read;
    c->write->handler = ngx_http_freigabe_ev_write;
    c->read->log = rd->log;
    c->write->log = rd->log;
    ac->data = rd;
    ac->ev.data = c;
    ac->ev.addRead = ngx_http_freigabe_ev_add_read;
    ac->ev.delRead = ngx_http_freigabe_ev_del_read;
    ac->ev.addWrite = ngx_http_freigabe_ev_add_write;
    ac->ev.delWrite = ngx_http_freigabe_ev_del_write;
    ac->ev.cleanup = ngx_http_freigabe_ev_cleanup;
    redisAsyncSetConnectCallback(ac, ngx_http_freigabe_on_connect);
    redisAsyncSetDisconnectCallback(ac, ngx_http_freigabe_on_disconnect);
    rd->ac = ac;
    rd->conn = c;
    if (ngx_http_freigabe_redis_hello(rd) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "freigabe: cannot queue AUTH/SELECT for Redis %V", &rd->display);
        ngx_http_freigabe_redis_shut(rd); /* nothing waits on it yet */
        ngx_http_freigabe_redis_failed(rd);
        return NGX_ERROR;
    }
    return NGX_OK;
}

/* Tears the connection down: every command in flight fails now (hiredis calls back with
 * NULL replies), the next request after the back-off reconnects. */
static void
ngx_http_freigabe_redis_drop(ngx_http_freigabe_redis_t *rd, const char *why)
{
    redisAsyncContext *ac = rd->ac;

    if (ac == NULL) {
        return;
    }
    ngx_log_error(NGX_LOG_ERR, rd->log, 0, "freigabe: dropping the connection to Redis %V: %s",
                  &rd->display, why);
    rd->next_attempt = ngx_current_msec + rd->backoff;
    ngx_http_freigabe_redis_shut(rd);
}

/* The worker exits: hiredis calls back every command in flight, and those callbacks only
 * free their operations (resuming a request now would run it in a worker that is being
 * torn down; its client simply sees the connection close). */
void
ngx_http_freigabe_redis_close(ngx_http_freigabe_redis_t *rd)
{
    rd->exiting = 1;
    ngx_http_freigabe_redis_shut(rd);
}

/* ---- commands */

static void
ngx_http_freigabe_batch_done(ngx_http_freigabe_op_t *op)
{
    op->in_redis = 0;
    if (op->timer.timer_set) {
        ngx_del_timer(&op->timer);
    }
    if (op->redis->exiting) {
        ngx_http_freigabe_op_free(op);
        return;
    }
    if (op->error) {
        fg_action_fail(op->action, op->error);
    } else {
        fg_action_feed(op->action, op->replies, op->nreplies);
    }
    ngx_http_freigabe_op_run(op);
}

static void
ngx_http_freigabe_on_reply(redisAsyncContext *ac, void *reply, void *data)
{
    ngx_http_freigabe_slot_t *slot = data;
    ngx_http_freigabe_op_t *op = slot->op;

    if (reply == NULL || op->redis->exiting) {
        if (op->error == 0) {
            op->error = FG_ERR_REDIS_DOWN;
        }
    } else {
        op->replies[slot->index] = fg_reply_from_hiredis(fg_action_arena(op->action), reply);
        if (op->replies[slot->index] == NULL) {
            op->error = FG_ERR_NOMEM;
        }
        if (fg_hiredis_retires(reply) && op->redis->ac == ac) {
            /* this request fails closed on the error reply; the next ones reconnect */
            ngx_http_freigabe_redis_drop(op->redis, ((redisReply *) reply)->str);
        }
    }
    if (--op->pending == 0) {
        ngx_http_freigabe_batch_done(op);
    }
}

static void
ngx_http_freigabe_on_timeout(ngx_event_t *ev)
{
    ngx_http_freigabe_op_t *op = ev->data;

    op->error = FG_ERR_TIMEOUT;
    /* A Redis that does not answer one command answers none: drop the connection so
     * every waiting request gets its 503 now, and reconnect later. */
    ngx_http_freigabe_redis_drop(op->redis, "command timed out");
}

/* Hands the op's batch to hiredis (the connection is ready). */
static void
ngx_http_freigabe_redis_issue(ngx_http_freigabe_op_t *op)
{
    ngx_http_freigabe_redis_t *rd = op->redis;
    const fg_cmd_t *cmds;
    size_t n = fg_action_commands(op->action, &cmds);
    size_t i;

    for (i = 0; i < n; i++) {
        if (redisAsyncCommandArgv(rd->ac, ngx_http_freigabe_on_reply, &op->slots[i],
                                  cmds[i].argc, cmds[i].argv, cmds[i].argvlen)
            != REDIS_OK)
        {
            op->error = FG_ERR_REDIS_DOWN;
            break;
        }
        op->pending++;
    }
    if (op->pending == 0) {
        ngx_http_freigabe_batch_done(op);
    }
}

ngx_int_t
ngx_http_freigabe_redis_send(ngx_http_freigabe_op_t *op)
{
    ngx_http_freigabe_redis_t *rd = op->redis;
    const fg_cmd_t *cmds;
    size_t n = fg_action_commands(op->action, &cmds);
    size_t i;

    if (rd->ac == NULL) {
        if (rd->exiting) {
            fg_action_fail(op->action, FG_ERR_REDIS_DOWN);
            return NGX_ERROR;
        }
        /* inside the back-off window: refuse, and leave the window as it is */
        if ((ngx_msec_int_t) (ngx_current_msec - rd->next_attempt) < 0
            || ngx_http_freigabe_redis_connect(rd) != NGX_OK)
        {
            fg_action_fail(op->action, FG_ERR_REDIS_DOWN);
            return NGX_ERROR;
        }
    }
    if (n == 0 || n > NGX_HTTP_FREIGABE_MAX_CMDS) {
        fg_action_fail(op->action, FG_ERR_REDIS);
        return NGX_ERROR;
    }
    op->error = 0;
    op->nreplies = n;
    op->pending = 0;
    for (i = 0; i < n; i++) {
        op->replies[i] = NULL;
        op->slots[i].op = op;
        op->slots[i].index = i;
    }
    op->in_redis = 1;
    op->timer.handler = ngx_http_freigabe_on_timeout;
    op->timer.data = op;
    op->timer.log = op->log;
    ngx_add_timer(&op->timer, rd->timeout); /* also while it waits for AUTH/SELECT */
    if (!rd->ready) {
        ngx_queue_insert_tail(&rd->waiting, &op->queue);
        op->queued = 1;
        return NGX_OK;
    }
    ngx_http_freigabe_redis_issue(op);
    return NGX_OK;
}
