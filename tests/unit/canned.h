/* canned.h - what the engine's state-machine tests share: canned Redis replies, requests, a test configuration (no server). */
#ifndef FG_TEST_CANNED_H
#define FG_TEST_CANNED_H
#include "fg_action_impl.h"
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define NOW 1767225600LL

static fg_config_t *cfg;
static char keypath[64];

/* ---- canned replies */
static inline fg_reply_t *r_str(const char *s)
{
    fg_reply_t *r = calloc(1, sizeof(*r));
    r->type = FG_R_STR;
    r->str = s;
    r->len = strlen(s);
    return r;
}
static inline fg_reply_t *r_int(long long v)
{
    fg_reply_t *r = calloc(1, sizeof(*r));
    r->type = FG_R_INT;
    r->integer = v;
    return r;
}
static inline fg_reply_t *r_nil(void)
{
    return calloc(1, sizeof(fg_reply_t));
}
static inline fg_reply_t *r_err(const char *s)
{
    fg_reply_t *r = r_str(s);
    r->type = FG_R_ERR;
    return r;
}
static inline fg_reply_t *r_status(const char *s)
{
    fg_reply_t *r = r_str(s);
    r->type = FG_R_STATUS;
    return r;
}
/* Array of strings; NULL entries become NIL. */
static inline fg_reply_t *r_arr(int n, ...)
{
    fg_reply_t *r = calloc(1, sizeof(*r));
    va_list ap;
    r->type = FG_R_ARRAY;
    r->n = (size_t)n;
    r->elem = calloc((size_t)n + 1, sizeof(fg_reply_t *));
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        const char *s = va_arg(ap, const char *);
        r->elem[i] = s ? r_str(s) : r_nil();
    }
    va_end(ap);
    return r;
}
static inline void r_free(fg_reply_t *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->n; i++) {
        r_free(r->elem[i]);
    }
    free(r->elem);
    free(r);
}

/* Feeds `n` replies (and frees them: the action copies). */
static inline void feed(fg_action_t *a, size_t n, ...)
{
    fg_reply_t *rs[16];
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        rs[i] = va_arg(ap, fg_reply_t *);
    }
    va_end(ap);
    fg_action_feed(a, rs, n);
    for (size_t i = 0; i < n; i++) {
        r_free(rs[i]);
    }
}

static inline const char *cmd_arg(fg_action_t *a, size_t i, int j)
{
    const fg_cmd_t *c;
    size_t n = fg_action_commands(a, &c);
    ck_assert_uint_lt(i, n);
    ck_assert_int_lt(j, c[i].argc);
    return c[i].argv[j];
}

static inline size_t ncmds(fg_action_t *a)
{
    const fg_cmd_t *c;
    return fg_action_commands(a, &c);
}

static inline const char *header(const fg_response_t *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, name) == 0) {
            return r->headers[i].value;
        }
    }
    return NULL;
}

static inline const char *upstream(const fg_response_t *r, const char *name)
{
    for (size_t i = 0; i < r->nupstream; i++) {
        if (strcasecmp(r->upstream[i].name, name) == 0) {
            return r->upstream[i].value;
        }
    }
    return NULL;
}

static inline fg_request_t req(const char *method, const char *path)
{
    fg_request_t r;
    memset(&r, 0, sizeof(r));
    r.method = method;
    r.path = path;
    r.host = "portal.example";
    r.remote_ip = "192.0.2.7";
    r.now = NOW;
    r.accept = "text/html,application/xhtml+xml";
    r.sec_fetch_mode = "navigate";
    r.user_agent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0";
    return r;
}

/* A sealed cookie as the engine would mint it. */
static inline const char *seal(fg_arena_t *ar, const char *purpose, const char *plain)
{
    return fg_token_seal(ar, cfg->keys, purpose, plain, strlen(plain));
}

static inline void setup(void)
{
    char err[256];
    int fd;
    strcpy(keypath, "/tmp/fgtestkeyXXXXXX");
    fd = mkstemp(keypath);
    char *text = fg_keyring_generate_text("t1");
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    free(text);
    cfg = fg_config_new();
    ck_assert_int_eq(fg_config_set(cfg, "key_file", keypath, err, sizeof(err)), FG_OK);
    ck_assert_int_eq(fg_config_set(cfg, "argon2_ops", "1", err, sizeof(err)), FG_OK);
    ck_assert_int_eq(fg_config_set(cfg, "argon2_mem", "64k", err, sizeof(err)), FG_OK);
    ck_assert_msg(fg_config_finalize(cfg, err, sizeof(err)) == FG_OK, "%s", err);
}

static inline void teardown(void)
{
    fg_config_free(cfg);
    unlink(keypath);
}

/* A protected request with a valid session cookie, stepped to its Redis batch. */
static inline fg_action_t *protect_with_session(fg_arena_t *ar, const char *accept)
{
    fg_request_t r = req("GET", "/portal/");
    const char *tok = seal(ar, "session", "v1\n1234567890\nSESSIONTOKEN\n1767225000");
    r.cookie = fg_arena_printf(ar, "theme=dark; freigabe=%s; freigabe-pre=zzz; lang=de", tok);
    if (accept) {
        r.accept = accept;
    }
    fg_action_t *a = fg_action_new(cfg, FG_KIND_PROTECT, &r);
    ck_assert_int_eq(fg_action_step(a), FG_STEP_REDIS);
    ck_assert_str_eq(cmd_arg(a, 0, 0), "EVALSHA");
    ck_assert_str_eq(cmd_arg(a, 0, 2), "2");
    ck_assert_ptr_nonnull(strstr(cmd_arg(a, 0, 3), "freigabe:{1234567890}:sess:"));
    ck_assert_str_eq(cmd_arg(a, 0, 4), "freigabe:{1234567890}:user"); /* disabled? */
    /* the raw session token never reaches Redis */
    ck_assert_ptr_null(strstr(cmd_arg(a, 0, 3), "SESSIONTOKEN"));
    return a;
}

/* Runs the tests given as a NULL-terminated list of TTest pointers in one suite `name`
 * with the fixture above; returns the exit status for main. */
static inline int run_suite(const char *name, const TTest **tests)
{
    Suite *s = suite_create(name);
    TCase *tc = tcase_create("core");
    if (fg_init() != FG_OK) {
        fprintf(stderr, "fg_init failed\n");
        return 1;
    }
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    for (size_t i = 0; tests[i] != NULL; i++) {
        _tcase_add_test(tc, tests[i], 0, 0, 0, 1);
    }
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

#endif
