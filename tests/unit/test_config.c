/* test_config.c - unit tests for fg_config.c: directives, merge, finalize, Redis URLs. */
#include "fg_internal.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static fg_config_t *C;
static char err[512];

static void setup(void)
{
    C = fg_config_new();
    ck_assert_ptr_nonnull(C);
    err[0] = '\0';
}

static void teardown(void)
{
    fg_config_free(C);
    C = NULL;
}

static int set(const char *name, const char *value)
{
    err[0] = '\0';
    return fg_config_set(C, name, value, err, sizeof err);
}

/* Asserts that name=value is rejected with a message quoting the value. */
static void reject(const char *name, const char *value)
{
    int rc = set(name, value);
    ck_assert_msg(rc == FG_ERR_INVAL, "%s=\"%s\" accepted", name, value);
    ck_assert_msg(err[0] != '\0', "%s=\"%s\": empty message", name, value);
}

/* Writes text into a fresh temporary file; returns its malloc'd path. */
static char *temp_file(const char *text)
{
    const char *dir = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
    size_t len = strlen(dir) + 32;
    char *path = malloc(len);
    int fd;

    ck_assert_ptr_nonnull(path);
    snprintf(path, len, "%s/fgcfgXXXXXX", dir);
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

/* 32 bytes 00..1f, base64url */
#define KEYTEXT "# freigabe key file v1\nkey k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n"

/* ---------------------------------------------------------------- basics */

START_TEST(new_is_unset)
{
    ck_assert_int_eq(C->code_mode, -1);
    ck_assert_int_eq(C->code_length, -1);
    ck_assert_int_eq(C->session_max, -1);
    ck_assert_int_eq(C->secure_cookies, -1);
    ck_assert_int_eq(C->poll_interval, -1);
    ck_assert(C->argon2_mem == -1 && C->argon2_ops == -1);
    ck_assert_ptr_null(C->prefix);
    ck_assert_ptr_null(C->redis_url);
    ck_assert_ptr_null(C->keys);
    ck_assert_ptr_null(fg_config_keys(C));
    /* accessors already answer with defaults */
    ck_assert_str_eq(fg_config_prefix(C), "/freigabe");
    ck_assert_str_eq(fg_config_redis_url(C), "redis://127.0.0.1:6379/0");
    ck_assert_int_eq(fg_config_redis_timeout_ms(C), 2000);
    ck_assert_int_eq(fg_config_hash_concurrency(C), 4);
    fg_config_free(NULL);
}
END_TEST

START_TEST(unknown_and_null)
{
    ck_assert_int_eq(set("no_such_thing", "1"), FG_ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "no_such_thing"));
    ck_assert_int_eq(fg_config_set(C, "prefix", NULL, err, sizeof err), FG_ERR_INVAL);
    ck_assert_int_eq(fg_config_set(C, NULL, "x", err, sizeof err), FG_ERR_INVAL);
    ck_assert_int_eq(fg_config_set(C, "prefix", "/x", NULL, 0), FG_OK);
    ck_assert_int_eq(fg_config_set(C, "prefix", "x", NULL, 0), FG_ERR_INVAL);
}
END_TEST

/* ---------------------------------------------------------------- directives */

START_TEST(prefix)
{
    ck_assert_int_eq(set("prefix", "/freigabe"), FG_OK);
    ck_assert_str_eq(C->prefix, "/freigabe");
    ck_assert_int_eq(set("prefix", "/auth/login-2fa/"), FG_OK);
    ck_assert_str_eq(C->prefix, "/auth/login-2fa");
    ck_assert_str_eq(fg_config_prefix(C), "/auth/login-2fa");
    reject("prefix", "freigabe");
    reject("prefix", "/");
    reject("prefix", "");
    reject("prefix", "//evil");
    reject("prefix", "/a//b");
    reject("prefix", "/a b");
    reject("prefix", "/a\"b");
    reject("prefix", "/a<b>");
    reject("prefix", "/a?b");
    reject("prefix", "/a%2Fb");
    reject("prefix", "/a/../b");
    reject("prefix", "/..");
    reject("prefix", "/.");
    reject("prefix", "/x//");
    ck_assert_str_eq(C->prefix, "/auth/login-2fa"); /* unchanged after errors */
}
END_TEST

START_TEST(code_mode_and_length)
{
    ck_assert_int_eq(set("code_mode", "compare"), FG_OK);
    ck_assert_int_eq(C->code_mode, FG_CODE_COMPARE);
    ck_assert_int_eq(set("code_mode", "enter"), FG_OK);
    ck_assert_int_eq(C->code_mode, FG_CODE_ENTER);
    reject("code_mode", "Compare");
    reject("code_mode", "show");
    ck_assert_ptr_nonnull(strstr(err, "\"show\""));
    for (int n = 4; n <= 8; n++) {
        char v[16];
        snprintf(v, sizeof v, "%d", n);
        ck_assert_int_eq(set("code_length", v), FG_OK);
        ck_assert_int_eq(C->code_length, n);
    }
    reject("code_length", "3");
    reject("code_length", "9");
    reject("code_length", "six");
    reject("code_length", "-6");
    reject("code_length", "6 ");
    reject("code_length", "");
}
END_TEST

START_TEST(durations)
{
    ck_assert_int_eq(set("challenge_timeout", "120"), FG_OK);
    ck_assert_int_eq(C->challenge_timeout, 120);
    ck_assert_int_eq(set("challenge_timeout", "90s"), FG_OK);
    ck_assert_int_eq(C->challenge_timeout, 90);
    ck_assert_int_eq(set("challenge_timeout", "2m"), FG_OK);
    ck_assert_int_eq(C->challenge_timeout, 120);
    ck_assert_int_eq(set("challenge_timeout", "1h"), FG_OK);
    ck_assert_int_eq(C->challenge_timeout, 3600);
    ck_assert_int_eq(set("challenge_timeout", "10s"), FG_OK);
    reject("challenge_timeout", "9s");
    reject("challenge_timeout", "2h");
    reject("challenge_timeout", "abc");
    ck_assert_str_eq(err, "invalid value \"abc\": expected a duration like 120s or 2m");
    reject("challenge_timeout", "2 m");
    reject("challenge_timeout", "2min");
    reject("challenge_timeout", "-5");
    reject("challenge_timeout", "");
    reject("challenge_timeout", "99999999999999999999");
    ck_assert_int_eq(set("session_idle", "15m"), FG_OK);
    ck_assert_int_eq(C->session_idle, 900);
    ck_assert_int_eq(set("session_idle", "1d"), FG_OK);
    reject("session_idle", "59");
    reject("session_idle", "2d");
    ck_assert_int_eq(set("session_max", "8h"), FG_OK);
    ck_assert_int_eq(C->session_max, 28800);
    ck_assert_int_eq(set("session_max", "30d"), FG_OK);
    reject("session_max", "31d");
    reject("session_max", "30s");
    ck_assert_int_eq(set("fail_window", "15m"), FG_OK);
    ck_assert_int_eq(C->fail_window, 900);
    reject("fail_window", "5");
    ck_assert_int_eq(set("notme_cooldown", "0"), FG_OK);
    ck_assert_int_eq(set("notme_cooldown", "5m"), FG_OK);
    ck_assert_int_eq(C->notme_cooldown, 300);
    reject("notme_cooldown", "2d");
    ck_assert_int_eq(set("poll_interval", "3"), FG_OK);
    ck_assert_int_eq(C->poll_interval, 3);
    reject("poll_interval", "0");
    reject("poll_interval", "2m");
}
END_TEST

START_TEST(counters)
{
    ck_assert_int_eq(set("login_max_fail", "5"), FG_OK);
    ck_assert_int_eq(C->login_max_fail, 5);
    reject("login_max_fail", "0");
    reject("login_max_fail", "five");
    ck_assert_int_eq(set("login_ip_max_fail", "50"), FG_OK);
    ck_assert_int_eq(C->login_ip_max_fail, 50);
    reject("login_ip_max_fail", "-1");
    ck_assert_int_eq(set("challenge_max", "3"), FG_OK);
    ck_assert_int_eq(C->challenge_max, 3);
    reject("challenge_max", "0");
    ck_assert_int_eq(set("hash_concurrency", "1"), FG_OK);
    ck_assert_int_eq(set("hash_concurrency", "256"), FG_OK);
    ck_assert_int_eq(fg_config_hash_concurrency(C), 256);
    reject("hash_concurrency", "0");
    reject("hash_concurrency", "257");
}
END_TEST

START_TEST(header_prefix)
{
    ck_assert_int_eq(set("header_prefix", "X-Portal-"), FG_OK);
    ck_assert_str_eq(C->header_prefix, "X-Portal-");
    reject("header_prefix", "X-Portal");
    reject("header_prefix", "X Portal-");
    reject("header_prefix", "X:Portal-");
    reject("header_prefix", "X-Pörtal-");
    reject("header_prefix", "-");
    reject("header_prefix", "");
    reject("header_prefix", "X-\r\nEvil-");
    /* prefixes that would swallow headers the app and the proxies need */
    reject("header_prefix", "Freigabe-");
    reject("header_prefix", "X-");
    reject("header_prefix", "x-forwarded-");
    reject("header_prefix", "Sec-");
    ck_assert_ptr_nonnull(strstr(err, "Sec-Fetch-Site"));
    ck_assert_int_eq(set("header_prefix", "X-Freigabe-"), FG_OK);
    ck_assert_int_eq(set("header_prefix", "Portal-User-"), FG_OK);
}
END_TEST

START_TEST(min_client)
{
    ck_assert_int_eq(set("min_client", "android=11 ios=15 app=2.4.0"), FG_OK);
    ck_assert_int_eq(C->min_android, 11);
    ck_assert_int_eq(C->min_ios, 15);
    ck_assert_str_eq(C->min_app, "2.4.0");
    ck_assert_int_eq(set("min_client", "app=3.1  ios=16"), FG_OK);
    ck_assert_int_eq(C->min_ios, 16);
    ck_assert_int_eq(C->min_android, 11);
    ck_assert_str_eq(C->min_app, "3.1");
    ck_assert_int_eq(set("min_client", "android=12, ios=17"), FG_OK);
    ck_assert_int_eq(C->min_android, 12);
    ck_assert_int_eq(set("min_client", "android=13"), FG_OK);
    ck_assert_int_eq(C->min_android, 13);
    reject("min_client", "windows=10");
    ck_assert_ptr_nonnull(strstr(err, "windows"));
    reject("min_client", "android=11 android=12");
    reject("min_client", "android=eleven");
    reject("min_client", "android=");
    reject("min_client", "android");
    reject("min_client", "app=2.x");
    reject("min_client", "app=.2");
    reject("min_client", "app=2.");
    reject("min_client", "app=1.2.3.4.5");
    reject("min_client", "");
    reject("min_client", "   ");
    reject("min_client", "ios=15 Android=11");
    /* a rejected value changes nothing */
    ck_assert_int_eq(C->min_android, 13);
    ck_assert_int_eq(C->min_ios, 17);
    ck_assert_str_eq(C->min_app, "3.1");
}
END_TEST

START_TEST(redis_directive)
{
    ck_assert_int_eq(set("redis", "redis://127.0.0.1:6379/0"), FG_OK);
    ck_assert_str_eq(fg_config_redis_url(C), "redis://127.0.0.1:6379/0");
    ck_assert_int_eq(set("redis", "unix:/run/redis/redis.sock?db=2"), FG_OK);
    reject("redis", "http://127.0.0.1");
    reject("redis", "redis://host:99999");
    reject("redis", "redis://host/16");
    ck_assert_str_eq(fg_config_redis_url(C), "unix:/run/redis/redis.sock?db=2");
}
END_TEST

START_TEST(strings)
{
    ck_assert_int_eq(set("key_file", "/etc/freigabe/keys"), FG_OK);
    ck_assert_str_eq(C->key_file, "/etc/freigabe/keys");
    reject("key_file", "");
    reject("key_file", "/etc/\nkeys");
    ck_assert_int_eq(set("key_prefix", "fg:prod:"), FG_OK);
    ck_assert_str_eq(C->key_prefix, "fg:prod:");
    reject("key_prefix", "");
    reject("key_prefix", "a b");
    reject("key_prefix", "{tag}");
    ck_assert_int_eq(set("default_path", "/portal/"), FG_OK);
    ck_assert_str_eq(C->default_path, "/portal/");
    reject("default_path", "//evil");
    reject("default_path", "https://evil/");
    reject("default_path", "portal");
    reject("default_path", "/%2F%2Fevil");
    ck_assert_int_eq(set("lang", "en"), FG_OK);
    ck_assert_str_eq(C->lang, "en");
    ck_assert_int_eq(set("lang", "de"), FG_OK);
    reject("lang", "fr");
    reject("lang", "DE");
    ck_assert_int_eq(set("issuer", "https://login.example"), FG_OK);
    ck_assert_str_eq(C->issuer, "https://login.example");
    reject("issuer", "");
    reject("issuer", "a\"b");
    ck_assert_int_eq(set("audience", "portal-prod"), FG_OK);
    reject("audience", "two words");
}
END_TEST

START_TEST(argon2)
{
    char v[64];
    ck_assert_int_eq(set("argon2_ops", "3"), FG_OK);
    ck_assert(C->argon2_ops == 3);
    snprintf(v, sizeof v, "%llu", (unsigned long long)crypto_pwhash_OPSLIMIT_MIN);
    ck_assert_int_eq(set("argon2_ops", v), FG_OK);
    if (crypto_pwhash_OPSLIMIT_MIN > 0) {
        snprintf(v, sizeof v, "%llu", (unsigned long long)crypto_pwhash_OPSLIMIT_MIN - 1);
        reject("argon2_ops", v);
    }
    reject("argon2_ops", "many");
    ck_assert_int_eq(set("argon2_ops", "10"), FG_OK);
    reject("argon2_ops", "11");        /* seconds per login: a typo, not a policy */
    reject("argon2_ops", "100000000"); /* the start-up check would hash for hours */
    ck_assert_int_eq(set("argon2_mem", "64M"), FG_OK);
    ck_assert(C->argon2_mem == 64LL * 1024 * 1024);
    ck_assert_int_eq(set("argon2_mem", "65536k"), FG_OK);
    ck_assert(C->argon2_mem == 64LL * 1024 * 1024);
    ck_assert_int_eq(set("argon2_mem", "1G"), FG_OK);
    ck_assert(C->argon2_mem == 1024LL * 1024 * 1024);
    ck_assert_int_eq(set("argon2_mem", "67108864"), FG_OK);
    ck_assert(C->argon2_mem == 67108864LL);
    reject("argon2_mem", "1k"); /* below libsodium's minimum */
    reject("argon2_mem", "64MB");
    reject("argon2_mem", "M");
    reject("argon2_mem", "99999999G");
    ck_assert_int_eq(set("argon2_mem", "4G"), FG_OK);
    reject("argon2_mem", "5G");
}
END_TEST

START_TEST(redis_timeout)
{
    ck_assert_int_eq(set("redis_timeout", "2s"), FG_OK);
    ck_assert_int_eq(fg_config_redis_timeout_ms(C), 2000);
    ck_assert_int_eq(set("redis_timeout", "500ms"), FG_OK);
    ck_assert_int_eq(fg_config_redis_timeout_ms(C), 500);
    ck_assert_int_eq(set("redis_timeout", "3"), FG_OK);
    ck_assert_int_eq(fg_config_redis_timeout_ms(C), 3000);
    reject("redis_timeout", "5ms");
    ck_assert_int_eq(set("redis_timeout", "1m"), FG_OK); /* durations take m everywhere */
    ck_assert_int_eq(fg_config_redis_timeout_ms(C), 60000);
    reject("redis_timeout", "2m");
    reject("redis_timeout", "fast");
    reject("redis_timeout", "120");
}
END_TEST

START_TEST(metrics_and_cookies)
{
    ck_assert_int_eq(set("metrics_allow", "10.0.0.1, ::1  192.168.1.7"), FG_OK);
    ck_assert_str_eq(C->metrics_allow, "10.0.0.1 ::1 192.168.1.7");
    ck_assert_int_eq(set("metrics_allow", "2001:db8::1"), FG_OK);
    reject("metrics_allow", "localhost");
    reject("metrics_allow", "10.0.0.256");
    reject("metrics_allow", "10.0.0.0/8");
    reject("metrics_allow", "");
    ck_assert_int_eq(set("secure_cookies", "on"), FG_OK);
    ck_assert_int_eq(C->secure_cookies, 1);
    ck_assert_int_eq(set("secure_cookies", "off"), FG_OK);
    ck_assert_int_eq(C->secure_cookies, 0);
    ck_assert_int_eq(set("secure_cookies", "auto"), FG_OK);
    ck_assert_int_eq(C->secure_cookies, 2);
    reject("secure_cookies", "yes");
}
END_TEST

/* ---------------------------------------------------------------- Redis URL */

START_TEST(redis_url_tcp)
{
    fg_redis_target_t t;
    ck_assert_int_eq(fg_redis_url_parse("redis://127.0.0.1:6379/0", &t, err, sizeof err), FG_OK);
    ck_assert_str_eq(t.host, "127.0.0.1");
    ck_assert_int_eq(t.port, 6379);
    ck_assert_int_eq(t.db, 0);
    ck_assert_str_eq(t.unix_path, "");
    ck_assert_int_eq(fg_redis_url_parse("redis://cache.internal", &t, err, sizeof err), FG_OK);
    ck_assert_str_eq(t.host, "cache.internal");
    ck_assert_int_eq(t.port, 6379);
    ck_assert_int_eq(t.db, 0);
    ck_assert_int_eq(fg_redis_url_parse("redis://h:7000/15", &t, err, sizeof err), FG_OK);
    ck_assert_int_eq(t.port, 7000);
    ck_assert_int_eq(t.db, 15);
    ck_assert_int_eq(fg_redis_url_parse("redis://h/", &t, err, sizeof err), FG_OK);
    ck_assert_int_eq(t.db, 0);
    ck_assert_int_eq(fg_redis_url_parse("redis://[::1]:6380/3", &t, err, sizeof err), FG_OK);
    ck_assert_str_eq(t.host, "::1");
    ck_assert_int_eq(t.port, 6380);
    ck_assert_int_eq(t.db, 3);
}
END_TEST

START_TEST(redis_url_auth)
{
    fg_redis_target_t t;
    ck_assert_int_eq(fg_redis_url_parse("redis://app:s%40cr%3At@h:1/2", &t, err, sizeof err), FG_OK);
    ck_assert_str_eq(t.user, "app");
    ck_assert_str_eq(t.password, "s@cr:t");
    ck_assert_str_eq(t.host, "h");
    ck_assert_int_eq(fg_redis_url_parse("redis://:onlypass@h", &t, err, sizeof err), FG_OK);
    ck_assert_str_eq(t.user, "");
    ck_assert_str_eq(t.password, "onlypass");
    ck_assert_int_eq(fg_redis_url_parse("redis://secret@h", &t, err, sizeof err), FG_OK);
    ck_assert_str_eq(t.password, "secret");
    ck_assert_int_eq(fg_redis_url_parse("redis://u:p%zz@h", &t, err, sizeof err), FG_ERR_INVAL);
    ck_assert_int_eq(fg_redis_url_parse("redis://u:p%00@h", &t, err, sizeof err), FG_ERR_INVAL);
}
END_TEST

START_TEST(redis_url_unix)
{
    fg_redis_target_t t;
    ck_assert_int_eq(fg_redis_url_parse("unix:/run/redis.sock", &t, err, sizeof err), FG_OK);
    ck_assert_str_eq(t.unix_path, "/run/redis.sock");
    ck_assert_int_eq(t.db, 0);
    ck_assert_int_eq(fg_redis_url_parse("unix:/run/redis.sock?db=7", &t, err, sizeof err), FG_OK);
    ck_assert_str_eq(t.unix_path, "/run/redis.sock");
    ck_assert_int_eq(t.db, 7);
    ck_assert_int_eq(fg_redis_url_parse("unix:///run/r.sock", &t, err, sizeof err), FG_OK);
    ck_assert_str_eq(t.unix_path, "/run/r.sock");
    ck_assert_int_eq(fg_redis_url_parse("unix:relative.sock", &t, err, sizeof err), FG_ERR_INVAL);
    ck_assert_int_eq(fg_redis_url_parse("unix:/r.sock?db=16", &t, err, sizeof err), FG_ERR_INVAL);
    ck_assert_int_eq(fg_redis_url_parse("unix:/r.sock?timeout=1", &t, err, sizeof err), FG_ERR_INVAL);
    char longp[300] = "unix:/";
    memset(longp + 6, 'a', 200);
    longp[206] = '\0';
    ck_assert_int_eq(fg_redis_url_parse(longp, &t, err, sizeof err), FG_ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "too long"));
}
END_TEST

START_TEST(redis_url_bad)
{
    static const char *bad[] = {
        "",                   "127.0.0.1:6379",   "http://h",      "redis://",
        "redis://:6379",      "redis://h:0",      "redis://h:65536", "redis://h:abc",
        "redis://h/16",       "redis://h/-1",     "redis://h/x",   "redis://h/0/extra",
        "redis://h h",        "redis://[::1",     "redis://[::1]x", "rediss://h",
        "redis://h:6379?x=1", "redis://@",
    };
    fg_redis_target_t t;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(fg_redis_url_parse(bad[i], &t, err, sizeof err) == FG_ERR_INVAL,
                      "accepted %s", bad[i]);
        ck_assert_msg(err[0] != '\0', "no message for %s", bad[i]);
    }
    ck_assert_int_eq(fg_redis_url_parse(NULL, &t, err, sizeof err), FG_ERR_INVAL);
}
END_TEST

/* ---------------------------------------------------------------- merge */

START_TEST(merge)
{
    fg_config_t *parent = fg_config_new(), *child = fg_config_new(), *m;
    ck_assert_int_eq(fg_config_set(parent, "prefix", "/p", err, sizeof err), FG_OK);
    ck_assert_int_eq(fg_config_set(parent, "code_length", "8", err, sizeof err), FG_OK);
    ck_assert_int_eq(fg_config_set(parent, "min_client", "android=12 app=1.0", err, sizeof err), FG_OK);
    ck_assert_int_eq(fg_config_set(parent, "lang", "en", err, sizeof err), FG_OK);
    ck_assert_int_eq(fg_config_set(child, "prefix", "/c", err, sizeof err), FG_OK);
    ck_assert_int_eq(fg_config_set(child, "session_idle", "10m", err, sizeof err), FG_OK);
    ck_assert_int_eq(fg_config_set(child, "min_client", "ios=16", err, sizeof err), FG_OK);
    ck_assert_int_eq(fg_config_set(child, "secure_cookies", "off", err, sizeof err), FG_OK);
    m = fg_config_merge(parent, child);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m->prefix, "/c");
    ck_assert_ptr_ne(m->prefix, child->prefix); /* copied */
    ck_assert_int_eq(m->code_length, 8);
    ck_assert_int_eq(m->session_idle, 600);
    ck_assert_int_eq(m->min_android, 12);
    ck_assert_int_eq(m->min_ios, 16);
    ck_assert_str_eq(m->min_app, "1.0");
    ck_assert_str_eq(m->lang, "en");
    ck_assert_int_eq(m->secure_cookies, 0); /* a set 0 is a value, not "unset" */
    ck_assert_int_eq(m->challenge_timeout, -1);
    ck_assert_ptr_null(m->redis_url);
    ck_assert_ptr_null(m->keys);
    fg_config_free(parent);
    fg_config_free(child);
    ck_assert_str_eq(m->prefix, "/c"); /* independent of its sources */
    fg_config_free(m);
    m = fg_config_merge(NULL, NULL);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->code_length, -1);
    fg_config_free(m);
}
END_TEST

START_TEST(merge_does_not_copy_keys)
{
    char *path = temp_file(KEYTEXT);
    fg_config_t *m;
    ck_assert_int_eq(set("key_file", path), FG_OK);
    ck_assert_int_eq(fg_config_finalize(C, err, sizeof err), FG_OK);
    ck_assert_ptr_nonnull(C->keys);
    m = fg_config_merge(C, NULL);
    ck_assert_ptr_null(m->keys);
    ck_assert_str_eq(m->key_file, path);
    fg_config_free(m);
    unlink(path);
    free(path);
}
END_TEST

/* ---------------------------------------------------------------- finalize */

START_TEST(finalize_defaults)
{
    char *path = temp_file(KEYTEXT);
    ck_assert_int_eq(set("key_file", path), FG_OK);
    ck_assert_int_eq(fg_config_finalize(C, err, sizeof err), FG_OK);
    ck_assert_int_eq(C->code_mode, FG_CODE_COMPARE);
    ck_assert_int_eq(C->code_length, 6);
    ck_assert_int_eq(C->challenge_timeout, 120);
    ck_assert_int_eq(C->session_idle, 900);
    ck_assert_int_eq(C->session_max, 28800);
    ck_assert_str_eq(C->header_prefix, "X-Freigabe-");
    ck_assert_int_eq(C->min_android, 11);
    ck_assert_int_eq(C->min_ios, 15);
    ck_assert_ptr_null(C->min_app);
    ck_assert_str_eq(C->key_prefix, "freigabe:");
    ck_assert_str_eq(C->default_path, "/");
    ck_assert_str_eq(C->lang, "de");
    ck_assert(C->argon2_ops == (long long)crypto_pwhash_OPSLIMIT_INTERACTIVE);
    ck_assert(C->argon2_mem == (long long)crypto_pwhash_MEMLIMIT_INTERACTIVE);
    ck_assert_int_eq(C->hash_concurrency, 4);
    ck_assert_int_eq(C->redis_timeout_ms, 2000);
    ck_assert_str_eq(C->issuer, "freigabe");
    ck_assert_str_eq(C->audience, "portal");
    ck_assert_str_eq(C->metrics_allow, "127.0.0.1 ::1");
    ck_assert_int_eq(C->secure_cookies, 2);
    ck_assert_int_eq(C->login_max_fail, 5);
    ck_assert_int_eq(C->login_ip_max_fail, 20);
    ck_assert_int_eq(C->fail_window, 900);
    ck_assert_int_eq(C->challenge_max, 5);
    ck_assert_int_eq(C->notme_cooldown, 300);
    ck_assert_int_eq(C->poll_interval, 2);
    ck_assert_str_eq(C->redis_url, "redis://127.0.0.1:6379/0");
    ck_assert_str_eq(C->prefix, "/freigabe");
    ck_assert_ptr_nonnull(fg_config_keys(C));
    ck_assert_uint_eq(fg_config_keys(C)->n, 1);
    ck_assert_str_eq(fg_config_keys(C)->keys[0].kid, "k1");
    /* finalize twice is harmless (keys reloaded, no leak) */
    ck_assert_int_eq(fg_config_finalize(C, err, sizeof err), FG_OK);
    ck_assert_ptr_nonnull(fg_config_keys(C));
    unlink(path);
    free(path);
}
END_TEST

START_TEST(finalize_keeps_set_values)
{
    char *path = temp_file(KEYTEXT);
    ck_assert_int_eq(set("key_file", path), FG_OK);
    ck_assert_int_eq(set("code_length", "8"), FG_OK);
    ck_assert_int_eq(set("secure_cookies", "off"), FG_OK);
    ck_assert_int_eq(set("notme_cooldown", "0"), FG_OK);
    ck_assert_int_eq(fg_config_finalize(C, err, sizeof err), FG_OK);
    ck_assert_int_eq(C->code_length, 8);
    ck_assert_int_eq(C->secure_cookies, 0);
    ck_assert_int_eq(C->notme_cooldown, 0);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(finalize_missing_key_file)
{
    ck_assert_int_ne(fg_config_finalize(C, err, sizeof err), FG_OK);
    ck_assert_str_eq(err, "key_file: not set (create one with freigabectl keygen)");
    ck_assert_int_eq(set("key_file", "/nonexistent/freigabe/keys"), FG_OK);
    ck_assert_int_ne(fg_config_finalize(C, err, sizeof err), FG_OK);
    ck_assert_msg(strncmp(err, "key_file: ", 10) == 0, "message: %s", err);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/freigabe/keys"));
    ck_assert_ptr_null(fg_config_keys(C));
}
END_TEST

START_TEST(finalize_bad_key_file)
{
    char *path = temp_file("# freigabe key file v1\nkey k1 not-base64!\n");
    ck_assert_int_eq(set("key_file", path), FG_OK);
    ck_assert_int_ne(fg_config_finalize(C, err, sizeof err), FG_OK);
    ck_assert_msg(strncmp(err, "key_file: ", 10) == 0, "message: %s", err);
    ck_assert_ptr_null(fg_config_keys(C));
    unlink(path);
    free(path);
}
END_TEST

START_TEST(finalize_cross_checks)
{
    char *path = temp_file(KEYTEXT);
    ck_assert_int_eq(set("key_file", path), FG_OK);
    ck_assert_int_eq(set("session_idle", "2h"), FG_OK);
    ck_assert_int_eq(set("session_max", "1h"), FG_OK);
    ck_assert_int_eq(fg_config_finalize(C, err, sizeof err), FG_ERR_INVAL);
    ck_assert_msg(strncmp(err, "session_idle: ", 14) == 0, "message: %s", err);
    ck_assert_int_eq(set("session_max", "2h"), FG_OK);
    ck_assert_int_eq(fg_config_finalize(C, err, sizeof err), FG_OK);
    /* session_idle alone above the default session_max */
    fg_config_free(C);
    C = fg_config_new();
    ck_assert_int_eq(set("key_file", path), FG_OK);
    ck_assert_int_eq(set("session_idle", "1d"), FG_OK);
    ck_assert_int_eq(fg_config_finalize(C, err, sizeof err), FG_ERR_INVAL);
    /* poll interval must be shorter than the challenge */
    fg_config_free(C);
    C = fg_config_new();
    ck_assert_int_eq(set("key_file", path), FG_OK);
    ck_assert_int_eq(set("challenge_timeout", "10"), FG_OK);
    ck_assert_int_eq(set("poll_interval", "30"), FG_OK);
    ck_assert_int_eq(fg_config_finalize(C, err, sizeof err), FG_ERR_INVAL);
    ck_assert_msg(strncmp(err, "poll_interval: ", 15) == 0, "message: %s", err);
    unlink(path);
    free(path);
}
END_TEST

/* ---------------------------------------------------------------- versions */

START_TEST(redis_url_redacted_for_logs)
{
    char buf[128];
    ck_assert_str_eq(fg_redis_url_redact("redis://app:s3cret@db.example:6380/2", buf, sizeof buf),
                     "redis://***@db.example:6380/2");
    ck_assert_str_eq(fg_redis_url_redact("redis://:s3cret@db:6379", buf, sizeof buf),
                     "redis://***@db:6379");
    ck_assert_str_eq(fg_redis_url_redact("redis://127.0.0.1:6379/0", buf, sizeof buf),
                     "redis://127.0.0.1:6379/0");
    ck_assert_str_eq(fg_redis_url_redact("unix:/run/redis.sock?db=1", buf, sizeof buf),
                     "unix:/run/redis.sock?db=1");
    ck_assert_ptr_null(strstr(fg_redis_url_redact("redis://u:p@h/0", buf, 8), "p@"));
    /* a password with '@' in it: hidden up to the '@' the parser takes as the end */
    fg_redis_target_t t;
    ck_assert_int_eq(fg_redis_url_parse("redis://default:s3cr@tPw@db:6379/0", &t, err,
                                        sizeof err), FG_OK);
    ck_assert_str_eq(t.password, "s3cr@tPw");
    ck_assert_str_eq(fg_redis_url_redact("redis://default:s3cr@tPw@db:6379/0", buf, sizeof buf),
                     "redis://***@db:6379/0");
    /* nor does an error about a wrong scheme repeat the password */
    ck_assert_int_eq(fg_redis_url_parse("http://u:s3cret@db/0", &t, err, sizeof err),
                     FG_ERR_INVAL);
    ck_assert_ptr_null(strstr(err, "s3cret"));
}
END_TEST

static const char *spell_apache(const char *w, void *ud)
{
    if (strcmp(w, "session_idle") == 0) return "FreigabeSessionIdle";
    if (strcmp(w, "session_max") == 0) return "FreigabeSessionMax";
    return NULL;
}

START_TEST(messages_spelled_by_the_wrapper)
{
    char out[128];
    fg_config_spell("session_idle: 900s is longer than session_max (60s)", spell_apache, NULL,
                    out, sizeof out);
    ck_assert_str_eq(out, "FreigabeSessionIdle: 900s is longer than FreigabeSessionMax (60s)");
    fg_config_spell("session_idle_x and xsession_max stay", spell_apache, NULL, out, sizeof out);
    ck_assert_str_eq(out, "session_idle_x and xsession_max stay");
    fg_config_spell("session_max: abc", spell_apache, NULL, out, 8);
    ck_assert_str_eq(out, "Freigab");
}
END_TEST

START_TEST(version_cmp)
{
    ck_assert_int_eq(fg_version_cmp("2.4.0", "2.4.0"), 0);
    ck_assert_int_eq(fg_version_cmp("2.4", "2.4.0"), 0);
    ck_assert_int_lt(fg_version_cmp("2.3.9", "2.4.0"), 0);
    ck_assert_int_gt(fg_version_cmp("2.10", "2.9"), 0);
    ck_assert_int_gt(fg_version_cmp("3", "2.99.99"), 0);
    ck_assert_int_lt(fg_version_cmp("1.0.0", "1.0.1"), 0);
    ck_assert_int_eq(fg_version_cmp("x.y", "0.0"), 0);
    ck_assert_int_eq(fg_version_cmp(NULL, "0"), 0);
    ck_assert_int_lt(fg_version_cmp("", "0.1"), 0);
    ck_assert_int_gt(fg_version_cmp("99999999999999999999", "1"), 0);
}
END_TEST


/* ---------------------------------------------------------------- branding_dir */

START_TEST(branding_dir_set_merge_finalize)
{
    char *key = temp_file(KEYTEXT);
    char dir[256], path[300];
    const char *tmp = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
    fg_config_t *child, *m;
    FILE *f;

    reject("branding_dir", "relative/dir");
    reject("branding_dir", "");
    reject("branding_dir", "/x\ny");
    ck_assert_ptr_null(C->branding_dir);

    snprintf(dir, sizeof dir, "%s/fgcfgbrandXXXXXX", tmp);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/texts-en.txt", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("button_login = Sign in\n", f);
    fclose(f);

    ck_assert_int_eq(set("key_file", key), FG_OK);
    ck_assert_int_eq(set("branding_dir", dir), FG_OK);
    /* merged into a child that does not set it; the child's own value wins */
    child = fg_config_new();
    m = fg_config_merge(C, child);
    ck_assert_str_eq(m->branding_dir, dir);
    ck_assert_ptr_null(m->branding); /* loaded by finalize only */
    ck_assert_int_eq(fg_config_finalize(m, err, sizeof err), FG_OK);
    ck_assert_ptr_nonnull(m->branding);
    ck_assert_str_eq(fg_page_text(m->branding, "en", "button_login"), "Sign in");
    ck_assert_int_eq(fg_config_finalize(m, err, sizeof err), FG_OK); /* reload, no leak */
    fg_config_free(m);
    ck_assert_int_eq(fg_config_set(child, "branding_dir", "/nonexistent/brand", err, sizeof err),
                     FG_OK);
    m = fg_config_merge(C, child);
    ck_assert_str_eq(m->branding_dir, "/nonexistent/brand");
    ck_assert_int_eq(fg_config_finalize(m, err, sizeof err), FG_ERR_IO);
    ck_assert_str_eq(err, "branding_dir: cannot open directory /nonexistent/brand: "
                          "No such file or directory");
    fg_config_free(m);
    fg_config_free(child);

    /* a bad file stops start-up with file and line */
    f = fopen(path, "w");
    fputs("# ok\nbutton_logn = Sign in\n", f);
    fclose(f);
    ck_assert_int_ne(fg_config_finalize(C, err, sizeof err), FG_OK);
    ck_assert_msg(strstr(err, "branding_dir: ") == err && strstr(err, "/texts-en.txt line 2: "
                  "unknown key \"button_logn\"") != NULL, "%s", err);
    unlink(path);
    rmdir(dir);
    unlink(key);
    free(key);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *t = tcase_create("core");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, new_is_unset);
    tcase_add_test(t, unknown_and_null);
    tcase_add_test(t, prefix);
    tcase_add_test(t, code_mode_and_length);
    tcase_add_test(t, durations);
    tcase_add_test(t, counters);
    tcase_add_test(t, header_prefix);
    tcase_add_test(t, min_client);
    tcase_add_test(t, redis_directive);
    tcase_add_test(t, strings);
    tcase_add_test(t, argon2);
    tcase_add_test(t, redis_timeout);
    tcase_add_test(t, metrics_and_cookies);
    tcase_add_test(t, redis_url_tcp);
    tcase_add_test(t, redis_url_auth);
    tcase_add_test(t, redis_url_unix);
    tcase_add_test(t, redis_url_bad);
    tcase_add_test(t, merge);
    tcase_add_test(t, merge_does_not_copy_keys);
    tcase_add_test(t, finalize_defaults);
    tcase_add_test(t, finalize_keeps_set_values);
    tcase_add_test(t, finalize_missing_key_file);
    tcase_add_test(t, finalize_bad_key_file);
    tcase_add_test(t, finalize_cross_checks);
    tcase_add_test(t, version_cmp);
    tcase_add_test(t, redis_url_redacted_for_logs);
    tcase_add_test(t, messages_spelled_by_the_wrapper);
    tcase_add_test(t, branding_dir_set_merge_finalize);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    int failed;

    if (sodium_init() < 0) {
        return 1;
    }
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
