/* fg_hiredis.h - converts hiredis replies into the engine's fg_reply_t (no I/O). */
#ifndef FG_HIREDIS_H
#define FG_HIREDIS_H
#include "fg.h"
#include <hiredis/hiredis.h>

/* Deep-copies a hiredis reply into the arena. Returns NULL on OOM. */
fg_reply_t *fg_reply_from_hiredis(fg_arena_t *a, const redisReply *r);

#endif
