/* freigabe_redis.h - per-process pool of synchronous hiredis connections for mod_freigabe. */
#ifndef FREIGABE_REDIS_H
#define FREIGABE_REDIS_H

#include "httpd.h"
#include "fg.h"

/* Internal to mod_freigabe.so: keep these out of the module's exported symbols. */
#define FGR_API __attribute__((visibility("hidden")))

typedef struct fgr_pool fgr_pool_t;

/*
 * Creates a pool of connections to cfg's Redis (fg_config_redis_url, with
 * fg_config_redis_timeout_ms as connect and command timeout). Call in child_init: the
 * pool lives in `p` (the child pool); idle connections are closed when `p` is destroyed.
 * Up to `max` connections (one per worker thread). Nothing is connected yet.
 * Returns NULL (after logging on `s`) when the URL cannot be parsed or APR fails.
 */
FGR_API fgr_pool_t *fgr_pool_create(apr_pool_t *p, server_rec *s, const fg_config_t *cfg,
                                    int max);

/*
 * Runs `n` commands pipelined on one pooled connection (all appended, then all replies
 * read), converting each reply into `arena` at out[i] (out has room for n pointers).
 * Returns FG_OK, FG_ERR_TIMEOUT (Redis did not answer in time) or FG_ERR_REDIS_DOWN
 * (no connection, lost connection, out of memory, or a READONLY / LOADING / MASTERDOWN
 * reply: the server is no master now). On an error the connection is destroyed, every
 * older idle connection is retired, and out[] must not be used. The pipeline is sent a
 * second time (on a fresh connection) only when not a byte of it went out the first
 * time: a lost reply is a 503, never a command run twice. `r` is only used for logging.
 * A NULL pool counts as Redis down.
 */
FGR_API int fgr_exec(fgr_pool_t *pool, request_rec *r, const fg_cmd_t *cmds, size_t n,
                     fg_arena_t *arena, fg_reply_t **out);

/* Same URL and timeout as cfg: the pool can be shared with cfg's server. */
FGR_API int fgr_pool_matches(const fgr_pool_t *pool, const fg_config_t *cfg);

#endif
