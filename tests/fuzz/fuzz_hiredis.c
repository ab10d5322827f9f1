/* fuzz_hiredis.c - shared/fg_hiredis.c fg_reply_from_hiredis and the engine's reply copy
 * (fg_action_feed) with whatever a Redis server (or a man in the middle) could send.
 *
 * Input: raw RESP bytes. hiredis' own reader parses up to 8 replies; each is converted to an
 * fg_reply_t (hiredis buffers are scribbled over and freed right after, as a host does) and
 * compared with the original; then the converted replies are fed to a /metrics and a
 * /health action (the selector is the first reply count parity) and the response is read.
 * Invariants: the copy has the same type, length, bytes and shape as the hiredis reply.
 */
#include "fuzz_common.h"
#include "fg_hiredis.h"

#include <hiredis/hiredis.h>

static fg_config_t *cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fg_init();
    cfg = fz_config(NULL);
    fz_unlink_keyfile();
    return 0;
}

static void same(const redisReply *h, const fg_reply_t *r, int depth)
{
    if (r == NULL) {
        abort();
    }
    switch (h->type) {
    case REDIS_REPLY_INTEGER:
        if (r->type != FG_R_INT || r->integer != h->integer) {
            abort();
        }
        return;
    case REDIS_REPLY_NIL:
        if (r->type != FG_R_NIL) {
            abort();
        }
        return;
    case REDIS_REPLY_ARRAY:
        if (r->type != FG_R_ARRAY || r->n != h->elements || (r->n > 0 && r->elem == NULL)) {
            abort();
        }
        for (size_t i = 0; i < h->elements; i++) {
            same(h->element[i], r->elem[i], depth + 1);
        }
        return;
    default:
        if (r->str == NULL || r->len != (h->str ? h->len : 0) ||
            (h->str && memcmp(r->str, h->str, h->len) != 0) || r->str[r->len] != '\0') {
            abort();
        }
        if ((h->type == REDIS_REPLY_STATUS) != (r->type == FG_R_STATUS) ||
            (h->type == REDIS_REPLY_ERROR) != (r->type == FG_R_ERR)) {
            abort();
        }
    }
}

static void scribble(redisReply *h)
{
    if (h->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < h->elements; i++) {
            scribble(h->element[i]);
        }
    } else if (h->str != NULL) {
        memset(h->str, '#', h->len);
    }
}

static void drive(const char *path, fg_reply_t **rs, size_t n, int noscript_retry)
{
    fg_request_t req;
    memset(&req, 0, sizeof req);
    req.method = "GET";
    req.path = path;
    req.host = "portal.example";
    req.remote_ip = "127.0.0.1";
    req.now = 1767225600;
    fg_action_t *a = fg_action_new(cfg, FG_KIND_ENDPOINT, &req);
    for (int i = 0; i < 4; i++) {
        fg_step_t st = fg_action_step(a);
        if (st == FG_STEP_DONE) {
            break;
        }
        if (st != FG_STEP_REDIS) {
            abort();
        }
        const fg_cmd_t *cmds;
        size_t nc = fg_action_commands(a, &cmds);
        for (size_t c = 0; c < nc; c++) {
            for (int j = 0; j < cmds[c].argc; j++) {
                fz_touch_mem(cmds[c].argv[j], cmds[c].argvlen[j]);
            }
        }
        fg_action_feed(a, rs, noscript_retry ? n : (n < nc ? n : nc));
    }
    const fg_response_t *resp = fg_action_response(a);
    fz_touch_mem(resp->body, resp->body_len);
    for (size_t i = 0; i < resp->nheaders; i++) {
        fz_touch(resp->headers[i].name);
        fz_touch(resp->headers[i].value);
    }
    fg_action_free(a);
}

/* hiredis 0.14 (Debian 12) callocs the whole element array a multi-bulk header announces
 * ("*911111111\r\n" = 7 GB) before any element arrives; hiredis >= 1.0 caps it with
 * reader->maxelements. That is the library's (and the host's) limit, not the engine's, so such
 * inputs are skipped. */
static int huge_multibulk(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        if (data[i] == '*') {
            unsigned long long n = 0;
            for (size_t j = i + 1; j < size && data[j] >= '0' && data[j] <= '9'; j++) {
                n = n * 10 + (data[j] - '0');
                if (n > 100000) {
                    return 1;
                }
            }
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (huge_multibulk(data, size)) {
        return 0;
    }
    redisReader *rd = redisReaderCreate();
    redisReply *h[8];
    fg_reply_t *rs[8];
    size_t n = 0;
    fg_arena_t *a = fg_arena_new();

    if (rd == NULL || a == NULL) {
        abort();
    }
    if (redisReaderFeed(rd, (const char *)data, size) == REDIS_OK) {
        while (n < 8) {
            void *out = NULL;
            if (redisReaderGetReply(rd, &out) != REDIS_OK || out == NULL) {
                break;
            }
            h[n] = out;
            rs[n] = fg_reply_from_hiredis(a, h[n]);
            same(h[n], rs[n], 0);
            n++;
        }
    }
    redisReaderFree(rd);
    for (size_t i = 0; i < n; i++) {
        scribble(h[i]);
        freeReplyObject(h[i]);
    }
    if (n > 0) {
        drive("/freigabe/metrics", rs, n, 0);
        drive("/freigabe/health", rs, n, 1);
    }
    fg_arena_free(a);
    return 0;
}
