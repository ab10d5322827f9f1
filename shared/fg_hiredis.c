/* fg_hiredis.c - converts hiredis replies into the engine's fg_reply_t (no I/O). */
#include "fg_hiredis.h"
#include <string.h>

fg_reply_t *fg_reply_from_hiredis(fg_arena_t *a, const redisReply *r)
{
    fg_reply_t *out = fg_arena_alloc(a, sizeof(*out));
    if (out == NULL || r == NULL) {
        return out;
    }
    switch (r->type) {
    case REDIS_REPLY_INTEGER:
        out->type = FG_R_INT;
        out->integer = r->integer;
        return out;
    case REDIS_REPLY_NIL:
        out->type = FG_R_NIL;
        return out;
    case REDIS_REPLY_ARRAY:
        out->type = FG_R_ARRAY;
        out->n = r->elements;
        out->elem = fg_arena_alloc(a, sizeof(fg_reply_t *) * (r->elements + 1));
        if (out->elem == NULL) {
            return NULL;
        }
        for (size_t i = 0; i < r->elements; i++) {
            out->elem[i] = fg_reply_from_hiredis(a, r->element[i]);
            if (out->elem[i] == NULL) {
                return NULL;
            }
        }
        return out;
    case REDIS_REPLY_STATUS:
        out->type = FG_R_STATUS;
        break;
    case REDIS_REPLY_ERROR:
        out->type = FG_R_ERR;
        break;
    default:
        out->type = FG_R_STR;
        break;
    }
    out->str = fg_arena_memdup(a, r->str ? r->str : "", r->str ? r->len : 0);
    out->len = r->str ? r->len : 0;
    return out->str ? out : NULL;
}

int fg_hiredis_retires(const redisReply *r)
{
    static const char *const words[] = {"READONLY", "LOADING", "MASTERDOWN"};
    if (r == NULL || r->type != REDIS_REPLY_ERROR || r->str == NULL) {
        return 0;
    }
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t n = strlen(words[i]);
        if (r->len >= n && strncmp(r->str, words[i], n) == 0 &&
            (r->len == n || r->str[n] == ' ')) {
            return 1;
        }
    }
    return 0;
}
