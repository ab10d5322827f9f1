/* ngx_http_freigabe.h - types shared by the nginx wrapper's request side and its Redis side. */
#ifndef NGX_HTTP_FREIGABE_H_INCLUDED_
#define NGX_HTTP_FREIGABE_H_INCLUDED_

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "fg.h"
#include "fg_hiredis.h"

#define NGX_HTTP_FREIGABE_MAX_CMDS 16

typedef struct ngx_http_freigabe_op_s ngx_http_freigabe_op_t;

/* One Redis server as seen by one worker: a single persistent async connection. */
typedef struct {
    ngx_str_t url;                      /* as configured (may carry a password) */
    ngx_str_t display;                  /* for logs: the password replaced by *** */
    fg_redis_target_t target;
    char addr[NGX_SOCKADDR_STRLEN + 1]; /* numeric address, resolved at configuration */
    ngx_msec_t timeout;
    redisAsyncContext *ac;              /* NULL when not connected */
    ngx_connection_t *conn;             /* nginx's view of ac's socket */
    ngx_msec_t backoff;                 /* current reconnect back-off */
    ngx_msec_t next_attempt;            /* no connect before this (ngx_current_msec) */
    ngx_queue_t waiting;                /* ops waiting for AUTH/SELECT to succeed */
    ngx_uint_t hello;                   /* AUTH/SELECT replies still expected */
    char select[32];                    /* "SELECT <db>", for the log */
    unsigned ready:1;                   /* AUTH/SELECT done: commands may go out */
    unsigned exiting:1;                 /* the worker exits: callbacks only free ops */
    ngx_log_t *log;
} ngx_http_freigabe_redis_t;

typedef struct {
    ngx_http_freigabe_op_t *op;
    ngx_uint_t index;
} ngx_http_freigabe_slot_t;

/* One engine action in flight; lives off the request pool so the request may die first. */
struct ngx_http_freigabe_op_s {
    ngx_http_request_t *request;        /* NULL once the request is gone */
    void *ctx;                          /* the request's module context */
    fg_action_t *action;
    ngx_http_freigabe_redis_t *redis;
    ngx_thread_pool_t *pool;
    ngx_log_t *log;
    ngx_uint_t pending;                 /* replies still expected */
    ngx_uint_t nreplies;
    fg_reply_t *replies[NGX_HTTP_FREIGABE_MAX_CMDS];
    ngx_http_freigabe_slot_t slots[NGX_HTTP_FREIGABE_MAX_CMDS];
    int error;                          /* FG_ERR_* seen in this batch */
    ngx_event_t timer;                  /* Redis command timeout */
    ngx_event_t sleep;                  /* long-poll pause */
    ngx_thread_task_t task;             /* Argon2id on the thread pool */
    ngx_queue_t queue;                  /* in redis->waiting */
    unsigned queued:1;
    unsigned in_redis:1;
    unsigned in_hash:1;
    unsigned sleeping:1;
    void (*done)(ngx_http_freigabe_op_t *op);
};

/* Runs the op's action until it waits for Redis, a hash, a timer, or is done. */
void ngx_http_freigabe_op_run(ngx_http_freigabe_op_t *op);
/* Frees the op and its action (only when nothing of it is in flight). */
void ngx_http_freigabe_op_free(ngx_http_freigabe_op_t *op);

/* Sends the action's current Redis batch; on failure calls fg_action_fail and returns
 * NGX_ERROR (the caller steps on). */
ngx_int_t ngx_http_freigabe_redis_send(ngx_http_freigabe_op_t *op);
/* Closes the worker's connection (exit, reload). */
void ngx_http_freigabe_redis_close(ngx_http_freigabe_redis_t *rd);

#endif
