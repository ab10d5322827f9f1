/* test_scripts.c - unit tests for shared/fg_scripts.c: each Lua script run in a real redis-server (the only place Lua runs). */
#include "fg_action_impl.h"

#include <check.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef REDIS_SERVER
#define REDIS_SERVER "/usr/bin/redis-server"
#endif
#define NOW 1767225600LL

/*
 * The scripts are the atomic state changes of the product ("first final state wins"), so
 * they are tested where they run: a redis-server this test starts on a loopback port in a
 * temporary directory (make check needs Debian's redis-server; without it the test fails,
 * it is never skipped). Each test starts from an empty database and calls the script
 * with exactly the KEYS/ARGV layout its comment in fg_scripts.c gives.
 */

static pid_t server_pid;
static int port;
static char dir[64];
static redisContext *R;

static redisContext *try_connect(void)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c != NULL && c->err) {
        redisFree(c);
        return NULL;
    }
    return c;
}

static void server_start(void)
{
    strcpy(dir, "/tmp/fg-test-scripts.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("test_scripts: mkdtemp");
        exit(1);
    }
    srand((unsigned)(time(NULL) ^ getpid()));
    for (int attempt = 0; attempt < 20 && server_pid == 0; attempt++) {
        port = 20000 + rand() % 10000;
        redisContext *busy = try_connect();
        if (busy != NULL) { /* someone listens there already */
            redisFree(busy);
            continue;
        }
        char portstr[16];
        snprintf(portstr, sizeof portstr, "%d", port);
        pid_t pid = fork();
        if (pid == 0) {
            if (freopen("/dev/null", "w", stdout) == NULL) {
                _exit(126);
            }
            execl(REDIS_SERVER, "redis-server", "--port", portstr, "--bind", "127.0.0.1",
                  "--dir", dir, "--save", "", "--appendonly", "no", (char *)NULL);
            _exit(127);
        }
        for (int i = 0; i < 100; i++) {
            int st;
            if (waitpid(pid, &st, WNOHANG) == pid) {
                pid = 0; /* exited: port taken meanwhile, or no redis-server */
                break;
            }
            redisContext *c = try_connect();
            if (c != NULL) {
                redisFree(c);
                server_pid = pid;
                break;
            }
            usleep(50000);
        }
    }
    if (server_pid == 0) {
        fprintf(stderr, "test_scripts: could not start %s\n", REDIS_SERVER);
        exit(1);
    }
}

static void server_stop(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "test_scripts: could not remove %s\n", dir);
    }
}

static void setup(void)
{
    ck_assert_int_eq(fg_init(), FG_OK);
    R = try_connect();
    ck_assert_ptr_nonnull(R);
    freeReplyObject(redisCommand(R, "FLUSHALL"));
}

static void teardown(void)
{
    redisFree(R);
}

/* ---- helpers */

/* Runs script `id` by EVALSHA (loading it once): nkeys keys then args, NULL-terminated. */
static redisReply *script(fg_script_id_t id, int nkeys, ...)
{
    const char *argv[48];
    size_t argvlen[48];
    int argc = 0;
    char nk[8];
    va_list ap;

    snprintf(nk, sizeof nk, "%d", nkeys);
    argv[argc++] = "EVALSHA";
    argv[argc++] = fg_script_get(id)->sha;
    argv[argc++] = nk;
    va_start(ap, nkeys);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL && argc < 48;) {
        argv[argc++] = s;
    }
    va_end(ap);
    for (int i = 0; i < argc; i++) {
        argvlen[i] = strlen(argv[i]);
    }
    redisReply *r = redisCommandArgv(R, argc, argv, argvlen);
    if (r != NULL && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        const char *body = fg_script_get(id)->body;
        freeReplyObject(redisCommand(R, "SCRIPT LOAD %s", body));
        r = redisCommandArgv(R, argc, argv, argvlen);
    }
    ck_assert_ptr_nonnull(r);
    ck_assert_msg(r->type != REDIS_REPLY_ERROR, "%s: %s", fg_script_get(id)->name, r->str);
    return r;
}

/* Element i of an array reply as text ("" for nil, the number for integers). */
static const char *el(redisReply *r, size_t i)
{
    static char num[8][32];
    static int k;
    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    ck_assert_uint_lt(i, r->elements);
    redisReply *e = r->element[i];
    if (e->type == REDIS_REPLY_INTEGER) {
        k = (k + 1) % 8;
        snprintf(num[k], sizeof num[k], "%lld", e->integer);
        return num[k];
    }
    return e->type == REDIS_REPLY_NIL ? "" : e->str;
}

static void cmd(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(R, fmt, ap);
    va_end(ap);
    ck_assert_ptr_nonnull(r);
    ck_assert_msg(r->type != REDIS_REPLY_ERROR, "%s", r->str);
    freeReplyObject(r);
}

static char *get(const char *fmt, ...) /* malloc'd string, NULL for nil */
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(R, fmt, ap);
    va_end(ap);
    ck_assert_ptr_nonnull(r);
    char *s = NULL;
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
        s = strdup(r->str);
    } else if (r->type == REDIS_REPLY_INTEGER) {
        s = malloc(32);
        snprintf(s, 32, "%lld", r->integer);
    }
    freeReplyObject(r);
    return s;
}

static long long num(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(R, fmt, ap);
    va_end(ap);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

#define ASSERT_FIELD(key, field, want)                                                        \
    do {                                                                                      \
        char *v_ = get("HGET %s %s", key, field);                                             \
        ck_assert_msg(v_ != NULL && strcmp(v_, want) == 0, "%s %s = %s, want %s", key, field, \
                      v_ ? v_ : "(nil)", want);                                               \
        free(v_);                                                                             \
    } while (0)

/* ---- the script ids the engine sends are the ones Redis computes */

START_TEST(sha_matches_redis)
{
    for (int i = 0; i < FG_SCRIPT_COUNT; i++) {
        const fg_script_t *s = fg_script_get((fg_script_id_t)i);
        char *sha = get("SCRIPT LOAD %s", s->body);
        ck_assert_ptr_nonnull(sha);
        ck_assert_msg(strcmp(sha, s->sha) == 0, "%s: engine %s, Redis %s", s->name, s->sha, sha);
        free(sha);
    }
}
END_TEST

/* ---- attempt: counted before the hash, never a key without a TTL */

START_TEST(attempt_counts_with_a_fixed_window)
{
    redisReply *r = script(FG_SCRIPT_ATTEMPT, 1, "t:fail", "1", "900", NULL);
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
    long long ttl = num("TTL t:fail");
    ck_assert(ttl > 890 && ttl <= 900);
    cmd("EXPIRE t:fail 5");
    r = script(FG_SCRIPT_ATTEMPT, 1, "t:fail", "1", "900", NULL);
    ck_assert_int_eq(r->integer, 2);
    freeReplyObject(r);
    ck_assert_int_le(num("TTL t:fail"), 5); /* a new attempt does not extend the window */
    r = script(FG_SCRIPT_ATTEMPT, 1, "t:fail", "-1", "900", NULL);
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
    /* taking back an attempt whose window has ended creates nothing */
    r = script(FG_SCRIPT_ATTEMPT, 1, "t:none", "-1", "900", NULL);
    ck_assert_int_eq(r->integer, 0);
    freeReplyObject(r);
    ck_assert_int_eq(num("EXISTS t:none"), 0);
    /* a counter that lost its TTL gets the window again */
    cmd("SET t:old 7");
    r = script(FG_SCRIPT_ATTEMPT, 1, "t:old", "1", "60", NULL);
    ck_assert_int_eq(r->integer, 8);
    freeReplyObject(r);
    ck_assert_int_gt(num("TTL t:old"), 0);
}
END_TEST

/* ---- rehash: compare-and-set against the verified hash */

START_TEST(rehash_only_replaces_the_verified_hash)
{
    cmd("HSET t:user pw old-hash name Erika");
    redisReply *r = script(FG_SCRIPT_REHASH, 1, "t:user", "old-hash", "new-hash", NULL);
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
    ASSERT_FIELD("t:user", "pw", "new-hash");
    /* an admin changed the password meanwhile: the login's rehash must not undo it */
    cmd("HSET t:user pw admin-set");
    r = script(FG_SCRIPT_REHASH, 1, "t:user", "new-hash", "stale-rehash", NULL);
    ck_assert_int_eq(r->integer, 0);
    freeReplyObject(r);
    ASSERT_FIELD("t:user", "pw", "admin-set");
}
END_TEST

/* ---- respond: the first final state wins */

static void pending_challenge(const char *key, long long expires)
{
    char e[32];
    snprintf(e, sizeof e, "%lld", expires);
    cmd("HSET %s state pending expires %s code_h right bad 0", key, e);
    cmd("SET t:pending c1");
}

static redisReply *respond(const char *nonce, const char *decision, const char *code_h,
                           const char *not_me, const char *cooldown)
{
    return script(FG_SCRIPT_RESPOND, 6, nonce, "t:ch:c1", "t:pending", "t:cooldown", "t:audit",
                  "t:metrics", decision, code_h, "d_1", "1767225600", not_me, cooldown, "300",
                  "4711", "c1", "3", "198.51.100.4", NULL);
}

START_TEST(respond_first_final_state_wins)
{
    pending_challenge("t:ch:c1", NOW + 100);
    redisReply *r = respond("t:n1", "approve", "wrong", "0", "300");
    ck_assert_str_eq(el(r, 0), "badcode");
    ck_assert_str_eq(el(r, 1), "2");
    freeReplyObject(r);
    r = respond("t:n1", "approve", "right", "0", "300"); /* the same nonce again */
    ck_assert_str_eq(el(r, 0), "replay");
    freeReplyObject(r);
    r = respond("t:n2", "deny", "", "0", "300");
    ck_assert_str_eq(el(r, 0), "ok");
    ck_assert_str_eq(el(r, 1), "denied");
    freeReplyObject(r);
    ASSERT_FIELD("t:ch:c1", "decided", "1767225600");
    ASSERT_FIELD("t:ch:c1", "device", "d_1");
    ck_assert_int_eq(num("EXISTS t:pending"), 0);
    ck_assert_int_eq(num("EXISTS t:cooldown"), 0); /* a plain deny has no cooldown */
    /* a later approval with the right code changes nothing */
    r = respond("t:n3", "approve", "right", "0", "300");
    ck_assert_str_eq(el(r, 0), "final");
    ck_assert_str_eq(el(r, 1), "denied");
    freeReplyObject(r);
    ASSERT_FIELD("t:ch:c1", "state", "denied");
    /* the audit names the deciding device and the app's address, no trailing blanks */
    redisReply *a = redisCommand(R, "XRANGE t:audit - +");
    ck_assert_uint_eq(a->elements, 1);
    redisReply *f = a->element[0]->element[1];
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        if (strcmp(f->element[i]->str, "ip") == 0) {
            ck_assert_str_eq(f->element[i + 1]->str, "198.51.100.4");
        }
        if (strcmp(f->element[i]->str, "detail") == 0) {
            ck_assert_str_eq(f->element[i + 1]->str, "device d_1 (denied)");
        }
    }
    freeReplyObject(a);
}
END_TEST

START_TEST(respond_three_wrong_codes_deny)
{
    pending_challenge("t:ch:c1", NOW + 100);
    const char *nonces[] = {"t:a", "t:b", "t:c"};
    for (int i = 0; i < 3; i++) {
        redisReply *r = respond(nonces[i], "approve", "wrong", "0", "300");
        ck_assert_str_eq(el(r, 0), i < 2 ? "badcode" : "final");
        freeReplyObject(r);
    }
    ASSERT_FIELD("t:ch:c1", "state", "denied");
    ASSERT_FIELD("t:ch:c1", "reason", "wrong_code");
}
END_TEST

START_TEST(respond_after_expiry_is_final)
{
    pending_challenge("t:ch:c1", NOW); /* expires the second it is answered */
    redisReply *r = respond("t:n1", "approve", "right", "0", "300");
    ck_assert_str_eq(el(r, 0), "final");
    ck_assert_str_eq(el(r, 1), "expired");
    freeReplyObject(r);
    ASSERT_FIELD("t:ch:c1", "state", "expired");
}
END_TEST

START_TEST(not_me_cooldown)
{
    pending_challenge("t:ch:c1", NOW + 100);
    redisReply *r = respond("t:n1", "deny", "", "1", "300");
    ck_assert_str_eq(el(r, 1), "denied");
    freeReplyObject(r);
    long long ttl = num("TTL t:cooldown");
    ck_assert(ttl > 290 && ttl <= 300);
    ASSERT_FIELD("t:ch:c1", "reason", "not_me");
    /* FreigabeNotMeCooldown 0: denied all the same, no cooldown (and no script error) */
    cmd("DEL t:cooldown");
    pending_challenge("t:ch:c1", NOW + 100);
    r = respond("t:n2", "deny", "", "1", "0");
    ck_assert_str_eq(el(r, 0), "ok");
    freeReplyObject(r);
    ck_assert_int_eq(num("EXISTS t:cooldown"), 0);
}
END_TEST

/* ---- create: one pending approval per customer */

static redisReply *create(const char *id)
{
    return script(FG_SCRIPT_CREATE, 9, "t:pre", "t:pending", "t:chcount", "t:cooldown",
                  "t:devices", "t:user", id[0] == 'A' ? "t:ch:A" : "t:ch:B", "t:audit",
                  "t:metrics", "t:ch:", id, "codeh", "codeenc", "192.0.2.7", "Firefox",
                  "2026-01-01T00:00:00Z", "1767225600", "120", "compare", "900", "5", "t:push",
                  "4711", "prehash", NULL);
}

START_TEST(create_supersedes_and_limits)
{
    redisReply *r = create("A");
    ck_assert_str_eq(el(r, 0), "nopre");
    freeReplyObject(r);
    cmd("HSET t:pre rd / interval 5 short 1 poll 1767225590");
    r = create("A");
    ck_assert_str_eq(el(r, 0), "nodevice");
    freeReplyObject(r);
    cmd("SADD t:devices d_1 d_2");
    r = create("A");
    ck_assert_str_eq(el(r, 0), "ok");
    ck_assert_str_eq(el(r, 1), "2");
    freeReplyObject(r);
    ASSERT_FIELD("t:ch:A", "state", "pending");
    ASSERT_FIELD("t:ch:A", "pre", "prehash");
    /* a new challenge starts with the configured poll interval again */
    ck_assert_int_eq(num("HEXISTS t:pre interval"), 0);
    ck_assert_int_eq(num("HEXISTS t:pre short"), 0);
    r = create("B");
    ck_assert_str_eq(el(r, 0), "ok");
    freeReplyObject(r);
    ASSERT_FIELD("t:ch:A", "state", "superseded");
    ASSERT_FIELD("t:ch:B", "state", "pending");
    char *p = get("GET t:pending");
    ck_assert_str_eq(p, "B");
    free(p);
    ck_assert_int_gt(num("TTL t:ch:B"), 120);
    /* the cap per window */
    for (int i = 0; i < 3; i++) {
        freeReplyObject(create("B"));
    }
    r = create("B");
    ck_assert_str_eq(el(r, 0), "limit");
    freeReplyObject(r);
    /* disabled accounts and the cooldown stop new requests */
    cmd("DEL t:chcount");
    cmd("HSET t:user disabled 1");
    r = create("B");
    ck_assert_str_eq(el(r, 0), "disabled");
    freeReplyObject(r);
    cmd("SET t:cooldown 1 EX 100");
    r = create("B");
    ck_assert_str_eq(el(r, 0), "cooldown");
    freeReplyObject(r);
}
END_TEST

/* ---- redeem: once, by the browser that asked, never for a disabled account */

static redisReply *redeem(const char *pre_hash)
{
    return script(FG_SCRIPT_REDEEM, 6, "t:pre", "t:sess:S1", "t:sessions", "t:user", "t:audit",
                  "t:metrics", "t:ch:", "1767225630", "900", "S1", pre_hash, "4711", "192.0.2.7",
                  "60", NULL);
}

START_TEST(redeem_once_by_its_browser)
{
    cmd("HSET t:user name %s", "Erika M\xc3\xbcller");
    cmd("HSET t:pre rd /portal/ chal c1");
    cmd("HSET t:ch:c1 state pending expires %lld pre prehash", NOW + 100);
    redisReply *r = redeem("prehash");
    ck_assert_str_eq(el(r, 0), "state");
    ck_assert_str_eq(el(r, 1), "pending");
    freeReplyObject(r);
    cmd("HSET t:ch:c1 state approved decided 1767225610");
    r = redeem("otherbrowser");
    ck_assert_str_eq(el(r, 1), "foreign");
    freeReplyObject(r);
    cmd("HSET t:user disabled 1");
    r = redeem("prehash");
    ck_assert_str_eq(el(r, 1), "disabled");
    freeReplyObject(r);
    ck_assert_int_eq(num("EXISTS t:sess:S1"), 0);
    cmd("HSET t:user disabled 0");
    /* a stale session hash in the set is dropped, the new one added */
    cmd("SADD t:sessions OLD");
    r = redeem("prehash");
    ck_assert_str_eq(el(r, 0), "ok");
    ck_assert_str_eq(el(r, 1), "Erika M\xc3\xbcller");
    ck_assert_str_eq(el(r, 2), "/portal/");
    freeReplyObject(r);
    ASSERT_FIELD("t:sess:S1", "auth_time", "1767225610"); /* when the app approved */
    ASSERT_FIELD("t:ch:c1", "state", "redeemed");
    ck_assert_int_eq(num("SISMEMBER t:sessions OLD"), 0);
    ck_assert_int_eq(num("SISMEMBER t:sessions S1"), 1);
    long long ttl = num("TTL t:sess:S1");
    ck_assert(ttl > 890 && ttl <= 900);
    /* the pre-login state is gone: a second redeem finds nothing */
    r = redeem("prehash");
    ck_assert_str_eq(el(r, 0), "nopre");
    freeReplyObject(r);
}
END_TEST

START_TEST(redeem_too_late)
{
    cmd("HSET t:pre rd / chal c1");
    /* expired 61 s ago, grace 60 s */
    cmd("HSET t:ch:c1 state approved expires %lld pre prehash", NOW + 30 - 61);
    redisReply *r = redeem("prehash");
    ck_assert_str_eq(el(r, 1), "expired");
    freeReplyObject(r);
    ASSERT_FIELD("t:ch:c1", "state", "expired");
}
END_TEST

/* ---- touch: idle renewal, absolute end, disabled accounts */

START_TEST(touch_sessions)
{
    cmd("HSET t:sess:S1 name Erika auth_time 1767225610");
    redisReply *r = script(FG_SCRIPT_TOUCH, 2, "t:sess:S1", "t:user", "1767225700", "900",
                           "300", NULL);
    ck_assert_str_eq(el(r, 0), "ok");
    ck_assert_str_eq(el(r, 3), "300"); /* the absolute limit comes first */
    freeReplyObject(r);
    ck_assert_int_le(num("TTL t:sess:S1"), 300);
    ASSERT_FIELD("t:sess:S1", "seen", "1767225700");
    cmd("HSET t:user disabled 1");
    r = script(FG_SCRIPT_TOUCH, 2, "t:sess:S1", "t:user", "1767225701", "900", "300", NULL);
    ck_assert_str_eq(el(r, 0), "none");
    freeReplyObject(r);
    ck_assert_int_eq(num("EXISTS t:sess:S1"), 0);
}
END_TEST

/* ---- status: expiry is decided when asked */

START_TEST(status_expires_and_slows_down)
{
    cmd("HSET t:pre chal c1");
    cmd("HSET t:ch:c1 state pending expires %lld code_enc X", NOW + 10);
    redisReply *r = script(FG_SCRIPT_STATUS, 1, "t:pre", "t:ch:", "1767225600", "1", "2", NULL);
    ck_assert_str_eq(el(r, 0), "pending");
    ck_assert_str_eq(el(r, 1), "10");
    freeReplyObject(r);
    /* two polls in a row within the interval: slow_down, the interval grows */
    for (int i = 0; i < 2; i++) {
        r = script(FG_SCRIPT_STATUS, 1, "t:pre", "t:ch:", "1767225600", "1", "2", NULL);
        if (i == 1) {
            ck_assert_str_eq(el(r, 4), "1");
            ck_assert_str_eq(el(r, 3), "3");
        }
        freeReplyObject(r);
    }
    r = script(FG_SCRIPT_STATUS, 1, "t:pre", "t:ch:", "1767225610", "0", "2", NULL);
    ck_assert_str_eq(el(r, 0), "expired");
    ck_assert_str_eq(el(r, 1), "0");
    freeReplyObject(r);
    ASSERT_FIELD("t:ch:c1", "state", "expired");
}
END_TEST

int main(void)
{
    server_start();
    Suite *s = suite_create("fg_scripts");
    TCase *tc = tcase_create("redis");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, sha_matches_redis);
    tcase_add_test(tc, attempt_counts_with_a_fixed_window);
    tcase_add_test(tc, rehash_only_replaces_the_verified_hash);
    tcase_add_test(tc, respond_first_final_state_wins);
    tcase_add_test(tc, respond_three_wrong_codes_deny);
    tcase_add_test(tc, respond_after_expiry_is_final);
    tcase_add_test(tc, not_me_cooldown);
    tcase_add_test(tc, create_supersedes_and_limits);
    tcase_add_test(tc, redeem_once_by_its_browser);
    tcase_add_test(tc, redeem_too_late);
    tcase_add_test(tc, touch_sessions);
    tcase_add_test(tc, status_expires_and_slows_down);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    server_stop();
    return failed ? 1 : 0;
}
