/* fg_hiredis.h - converts hiredis replies into the engine's fg_reply_t (no I/O). */
#ifndef FG_HIREDIS_H
#define FG_HIREDIS_H
#include "fg.h"
#include <hiredis/hiredis.h>

/* Deep-copies a hiredis reply into the arena. Returns NULL on OOM. */
fg_reply_t *fg_reply_from_hiredis(fg_arena_t *a, const redisReply *r);

/* 1 when, after this reply, the connection must not be used again: its server has become
 * a replica (READONLY, as after a failover behind a virtual IP, where a new connection
 * reaches the new master), is loading its data (LOADING) or has lost its master
 * (MASTERDOWN). Nothing else would ever retire such a connection, since it answers. */
int fg_hiredis_retires(const redisReply *r);

#endif
