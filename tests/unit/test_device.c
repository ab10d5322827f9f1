/* test_device.c - unit tests for shared/fg_device.c (device signatures with the shared vectors, Freigabe-Client gating). */
#include "fg_internal.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef FG_SRCDIR
#define FG_SRCDIR "."
#endif
#define VECTORS FG_SRCDIR "/tests/vectors/device-auth.json"
#define DEVAUTH_CHECK FG_SRCDIR "/tests/unit/devauth_check.py"

static fg_arena_t *A;
static json_t *V; /* the vectors file */

static void setup(void)
{
    ck_assert_int_eq(fg_init(), FG_OK);
    A = fg_arena_new();
    json_error_t e;
    V = json_load_file(VECTORS, 0, &e);
    ck_assert_msg(V != NULL, "cannot load %s: %s", VECTORS, e.text);
    ck_assert_uint_ge(json_array_size(json_object_get(V, "cases")), 3);
}

static void teardown(void)
{
    json_decref(V);
    fg_arena_free(A);
}

typedef struct {
    const char *name, *method, *path, *ts, *nonce, *body, *device, *message, *signature, *auth;
} vcase_t;

static vcase_t vcase(size_t i)
{
    json_t *c = json_array_get(json_object_get(V, "cases"), i);
#define S(k) json_string_value(json_object_get(c, k))
    vcase_t v = {S("name"), S("method"), S("path"), S("ts"), S("nonce"), S("body"),
                 S("device"), S("message"), S("signature"), S("authorization")};
#undef S
    ck_assert_ptr_nonnull(v.auth);
    return v;
}

static const char *pk(void)
{
    return json_string_value(json_object_get(V, "public_key"));
}

static int64_t ts_of(const vcase_t *v)
{
    return (int64_t)strtoll(v->ts, NULL, 10);
}

static fg_decision_t verify(const fg_devauth_t *h, const char *method, const char *path,
                            const char *body, size_t blen, int64_t now)
{
    return fg_devauth_verify(A, h, pk(), method, path, (const unsigned char *)body, blen, now);
}

START_TEST(test_vectors_parse_message_verify)
{
    for (size_t i = 0; i < json_array_size(json_object_get(V, "cases")); i++) {
        vcase_t v = vcase(i);
        fg_devauth_t h;
        ck_assert_int_eq(fg_devauth_parse(A, v.auth, &h), FG_OK);
        ck_assert_str_eq(h.device, v.device);
        ck_assert_str_eq(h.ts, v.ts);
        ck_assert_str_eq(h.nonce, v.nonce);
        ck_assert_str_eq(h.sig, v.signature);
        ck_assert_str_eq(fg_devauth_message(A, v.method, v.path, v.ts, v.nonce,
                                            (const unsigned char *)v.body, strlen(v.body)),
                         v.message);
        int64_t t = ts_of(&v);
        ck_assert_msg(verify(&h, v.method, v.path, v.body, strlen(v.body), t) == FG_GRANTED,
                      "case %s", v.name);
        ck_assert_int_eq(verify(&h, v.method, v.path, v.body, strlen(v.body), t - 60), FG_GRANTED);
        ck_assert_int_eq(verify(&h, v.method, v.path, v.body, strlen(v.body), t + 60), FG_GRANTED);
        ck_assert_int_eq(verify(&h, v.method, v.path, v.body, strlen(v.body), t - 61), FG_EXPIRED);
        ck_assert_int_eq(verify(&h, v.method, v.path, v.body, strlen(v.body), t + 61), FG_EXPIRED);
        ck_assert_int_eq(verify(&h, v.method, v.path, v.body, strlen(v.body), 0), FG_EXPIRED);
    }
}
END_TEST

START_TEST(test_vectors_signer_reproduces)
{
    unsigned char seed[32], pkb[32], sk[64], sig[64];
    size_t n;
    const char *seed_hex = json_string_value(json_object_get(V, "seed_hex"));
    ck_assert_int_eq(sodium_hex2bin(seed, 32, seed_hex, 64, NULL, &n, NULL), 0);
    crypto_sign_seed_keypair(pkb, sk, seed);
    ck_assert_str_eq(fg_b64url_encode(A, pkb, 32), pk());
    for (size_t i = 0; i < json_array_size(json_object_get(V, "cases")); i++) {
        vcase_t v = vcase(i);
        crypto_sign_detached(sig, NULL, (const unsigned char *)v.message, strlen(v.message), sk);
        ck_assert_str_eq(fg_b64url_encode(A, sig, 64), v.signature);
    }
    sodium_memzero(sk, sizeof sk);
}
END_TEST

/* Returns a copy of s with byte i changed (to another byte of the same class when it
 * is a digit, so ts stays numeric and the signature check is what fails). */
static char *flip(const char *s, size_t i)
{
    char *c = fg_arena_strdup(A, s);
    if (c[i] >= '0' && c[i] <= '9')
        c[i] = (char)('0' + (c[i] - '0' + 1) % 10);
    else
        c[i] ^= 0x01;
    return c;
}

START_TEST(test_vectors_any_change_fails)
{
    for (size_t i = 0; i < json_array_size(json_object_get(V, "cases")); i++) {
        vcase_t v = vcase(i);
        fg_devauth_t h, m;
        ck_assert_int_eq(fg_devauth_parse(A, v.auth, &h), FG_OK);
        int64_t t = ts_of(&v);
        size_t bl = strlen(v.body);
        for (size_t j = 0; j < strlen(v.method); j++)
            ck_assert_int_eq(verify(&h, flip(v.method, j), v.path, v.body, bl, t), FG_INVALID);
        for (size_t j = 0; j < strlen(v.path); j++)
            ck_assert_int_eq(verify(&h, v.method, flip(v.path, j), v.body, bl, t), FG_INVALID);
        for (size_t j = 0; j < strlen(v.ts); j++) {
            m = h;
            m.ts = flip(v.ts, j);
            ck_assert_int_eq(verify(&m, v.method, v.path, v.body, bl, t), FG_INVALID);
        }
        for (size_t j = 0; j < strlen(v.nonce); j++) {
            m = h;
            m.nonce = flip(v.nonce, j);
            ck_assert_int_eq(verify(&m, v.method, v.path, v.body, bl, t), FG_INVALID);
        }
        for (size_t j = 0; j < bl; j++)
            ck_assert_int_eq(verify(&h, v.method, v.path, flip(v.body, j), bl, t), FG_INVALID);
        /* body added, removed, extended; query dropped */
        ck_assert_int_eq(verify(&h, v.method, v.path, "x", 1, t), FG_INVALID);
        if (bl)
            ck_assert_int_eq(verify(&h, v.method, v.path, v.body, bl - 1, t), FG_INVALID);
        ck_assert_int_eq(verify(&h, v.method, fg_arena_printf(A, "%s?", v.path), v.body, bl, t),
                         FG_INVALID);
        for (size_t j = 0; j < strlen(v.signature); j++) {
            m = h;
            m.sig = flip(v.signature, j);
            ck_assert_int_eq(verify(&m, v.method, v.path, v.body, bl, t), FG_INVALID);
        }
    }
}
END_TEST

START_TEST(test_verify_bad_values)
{
    vcase_t v = vcase(1);
    fg_devauth_t h, m;
    ck_assert_int_eq(fg_devauth_parse(A, v.auth, &h), FG_OK);
    int64_t t = ts_of(&v);
    static const char *const bad_ts[] = {"+1767225660", " 1767225660", "1767225660 ", "-1",
                                         "1767225660.0", "", "0x69", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad_ts / sizeof bad_ts[0]; i++) {
        m = h;
        m.ts = bad_ts[i];
        ck_assert_int_eq(verify(&m, v.method, v.path, v.body, 0, t), FG_INVALID);
    }
    m = h;
    m.nonce = "AAAAAAAAAAAAAAAAAAAA"; /* 15 bytes: too short even if it were signed */
    ck_assert_int_eq(verify(&m, v.method, v.path, v.body, 0, t), FG_INVALID);
    m.nonce = "yMnKy8zNzs_Q0dLT1NXW1w==";
    ck_assert_int_eq(verify(&m, v.method, v.path, v.body, 0, t), FG_INVALID);
    m = h;
    m.sig = "AAAA";
    ck_assert_int_eq(verify(&m, v.method, v.path, v.body, 0, t), FG_INVALID);
    m.sig = NULL;
    ck_assert_int_eq(verify(&m, v.method, v.path, v.body, 0, t), FG_INVALID);
    /* another key, a short key, a non-base64url key, no key */
    const char *other = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    ck_assert_int_eq(fg_devauth_verify(A, &h, other, v.method, v.path, NULL, 0, t), FG_INVALID);
    ck_assert_int_eq(fg_devauth_verify(A, &h, "AAAA", v.method, v.path, NULL, 0, t), FG_INVALID);
    ck_assert_int_eq(fg_devauth_verify(A, &h, "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg",
                                       v.method, v.path, NULL, 0, t), FG_INVALID);
    ck_assert_int_eq(fg_devauth_verify(A, &h, NULL, v.method, v.path, NULL, 0, t), FG_INVALID);
    ck_assert_int_eq(fg_devauth_verify(A, NULL, pk(), v.method, v.path, NULL, 0, t), FG_INVALID);
    ck_assert_int_eq(fg_devauth_verify(A, &h, pk(), NULL, v.path, NULL, 0, t), FG_INVALID);
    /* body NULL with length 0 is the empty body */
    ck_assert_int_eq(fg_devauth_verify(A, &h, pk(), v.method, v.path, NULL, 0, t), FG_GRANTED);
    /* expired only when the signature is right; forged + old stays INVALID */
    m = h;
    m.sig = vcase(0).signature;
    ck_assert_int_eq(verify(&m, v.method, v.path, v.body, 0, t + 1000), FG_INVALID);
}
END_TEST

START_TEST(test_parse_variants_ok)
{
    static const char *const ok[] = {
        "Freigabe-Device device=\"d1\", ts=\"1\", nonce=\"n\", sig=\"s\"",
        "freigabe-device sig=\"s\",nonce=\"n\",ts=\"1\",device=\"d1\"",
        "FREIGABE-DEVICE   device = \"d1\" ,\tts=\"1\" , nonce=\"n\",   sig=\"s\"  ",
        "  Freigabe-Device\tDevice=\"d1\", TS=\"1\", Nonce=\"n\", SIG=\"s\"",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        fg_devauth_t h;
        ck_assert_msg(fg_devauth_parse(A, ok[i], &h) == FG_OK, "rejected: %s", ok[i]);
        ck_assert_str_eq(h.device, "d1");
        ck_assert_str_eq(h.ts, "1");
        ck_assert_str_eq(h.nonce, "n");
        ck_assert_str_eq(h.sig, "s");
    }
}
END_TEST

START_TEST(test_parse_hostile)
{
    char huge[6000];
    snprintf(huge, sizeof huge, "Freigabe-Device device=\"%0600d\", ts=\"1\", nonce=\"n\", sig=\"s\"", 7);
    const char *const bad[] = {
        "",
        " ",
        "Freigabe-Device",
        "Freigabe-Device ",
        "Bearer abc",
        "Basic ZGV2aWNlOnB3",
        "Freigabe-Devicedevice=\"d\", ts=\"1\", nonce=\"n\", sig=\"s\"",
        "Freigabe-Device2 device=\"d\", ts=\"1\", nonce=\"n\", sig=\"s\"",
        "Freigabe-Device device=d, ts=\"1\", nonce=\"n\", sig=\"s\"",
        "Freigabe-Device device=\"d, ts=\"1\", nonce=\"n\", sig=\"s\"",
        "Freigabe-Device device=\"d\", ts=\"1\", nonce=\"n\", sig=\"s",
        "Freigabe-Device device=\"d\" ts=\"1\", nonce=\"n\", sig=\"s\"",
        "Freigabe-Device device=\"d\", ts=\"1\", nonce=\"n\", sig=\"s\",",
        "Freigabe-Device device=\"d\", ts=\"1\", nonce=\"n\", sig=\"s\" x",
        "Freigabe-Device , device=\"d\", ts=\"1\", nonce=\"n\", sig=\"s\"",
        "Freigabe-Device device=\"d\",, ts=\"1\", nonce=\"n\", sig=\"s\"",
        "Freigabe-Device device=\"d\", ts=\"1\", nonce=\"n\"",
        "Freigabe-Device device=\"d\", device=\"e\", ts=\"1\", nonce=\"n\", sig=\"s\"",
        "Freigabe-Device device=\"d\", ts=\"1\", nonce=\"n\", sig=\"s\", sig=\"s\"",
        "Freigabe-Device device=\"d\", ts=\"1\", nonce=\"n\", sig=\"s\", extra=\"x\"",
        "Freigabe-Device device=\"\", ts=\"1\", nonce=\"n\", sig=\"s\"",
        "Freigabe-Device device=\"a\\\"b\", ts=\"1\", nonce=\"n\", sig=\"s\"",
        "Freigabe-Device device=\"a b\", ts=\"1\", nonce=\"n\", sig=\"s\"",
        "Freigabe-Device device=\"a\rb\", ts=\"1\", nonce=\"n\", sig=\"s\"",
        "Freigabe-Device device=\"\xc3\xa4\", ts=\"1\", nonce=\"n\", sig=\"s\"",
        "Freigabe-Device device='d', ts=\"1\", nonce=\"n\", sig=\"s\"",
        "Freigabe-Device =\"d\", ts=\"1\", nonce=\"n\", sig=\"s\"",
        "Freigabe-Device device:\"d\", ts=\"1\", nonce=\"n\", sig=\"s\"",
        "Freigabe-Device devic\xe9=\"d\", ts=\"1\", nonce=\"n\", sig=\"s\"",
        huge,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fg_devauth_t h = {"x", "x", "x", "x"};
        ck_assert_msg(fg_devauth_parse(A, bad[i], &h) == FG_ERR_INVAL, "accepted #%zu: %s", i,
                      bad[i]);
        ck_assert_ptr_null(h.device);
        ck_assert_ptr_null(h.sig);
    }
    fg_devauth_t h;
    ck_assert_int_eq(fg_devauth_parse(A, NULL, &h), FG_ERR_INVAL);
    ck_assert_int_eq(fg_devauth_parse(A, "x", NULL), FG_ERR_INVAL);
    /* a megabyte of header is refused quickly */
    char *big = fg_arena_alloc(A, 1 << 20);
    memset(big, 'a', (1 << 20) - 1);
    memcpy(big, "Freigabe-Device device=\"", 24);
    ck_assert_int_eq(fg_devauth_parse(A, big, &h), FG_ERR_INVAL);
}
END_TEST

START_TEST(test_parse_random_mutations)
{
    vcase_t v = vcase(0);
    size_t n = strlen(v.auth);
    static const char alphabet[] = "\"=, \t\\aZ0-_\x01\x7f\xff";
    for (int round = 0; round < 20000; round++) {
        char *c = fg_arena_strdup(A, v.auth);
        int edits = 1 + (int)randombytes_uniform(4);
        for (int e = 0; e < edits; e++) {
            size_t at = randombytes_uniform((uint32_t)n);
            uint32_t op = randombytes_uniform(3);
            if (op == 0)
                c[at] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
            else if (op == 1)
                c[at] = '\0';
            else
                memmove(c + at, c + at + 1, n - at);
        }
        fg_devauth_t h;
        if (fg_devauth_parse(A, c, &h) == FG_OK) {
            ck_assert_ptr_nonnull(h.device);
            ck_assert_ptr_nonnull(h.sig);
            ck_assert_ptr_null(strchr(h.device, '"'));
            fg_devauth_verify(A, &h, pk(), v.method, v.path, NULL, 0, ts_of(&v));
        }
        if (round % 1000 == 999) { /* keep the arena small */
            fg_arena_free(A);
            A = fg_arena_new();
        }
    }
}
END_TEST

START_TEST(test_pynacl_independent)
{
    if (access("/usr/bin/python3", X_OK) != 0 || access(DEVAUTH_CHECK, R_OK) != 0 ||
        system("/usr/bin/python3 -c 'import nacl.signing' >/dev/null 2>&1") != 0) {
        printf("NOTE: /usr/bin/python3 with PyNaCl (or " DEVAUTH_CHECK ") not found; skipping the PyNaCl cross-check\n");
        return;
    }
    int st = system("/usr/bin/python3 '" DEVAUTH_CHECK "' '" VECTORS "' >/dev/null");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "devauth_check.py failed (%d)", st);
}
END_TEST

/* ---- Freigabe-Client ---- */

START_TEST(test_client_parse)
{
    fg_client_t cl;
    ck_assert_int_eq(fg_client_parse(A, "platform=android, os=13, app=2.4.0", &cl), FG_OK);
    ck_assert_str_eq(cl.platform, "android");
    ck_assert_str_eq(cl.os, "13");
    ck_assert_str_eq(cl.app, "2.4.0");
    ck_assert_int_eq(fg_client_parse(A, " app=3.0.1-beta,os = 17.2 ,platform=iOS ", &cl), FG_OK);
    ck_assert_str_eq(cl.platform, "ios");
    ck_assert_str_eq(cl.os, "17.2");
    ck_assert_str_eq(cl.app, "3.0.1-beta");
    ck_assert_int_eq(fg_client_parse(A, "platform=android, os=13, app=2.4.0, model=Pixel8", &cl),
                     FG_OK);
    static const char *const bad[] = {
        "", "platform=android", "platform=android, os=13", "os=13, app=2.4.0",
        "platform=windows, os=11, app=2.4.0", "platform=android, os=13, app=2.4.0, os=14",
        "platform=android, os=13, app=", "platform=android, os=13, app=\"2.4.0\"",
        "platform=android; os=13; app=2.4.0", "platform=android, os=13, app=2.4.0,",
        "platform=android os=13 app=2.4.0", "platform=android, os=13, app=2.4.0 x",
        "platform=android, os=1<3, app=2.4.0",
        "platform=android, os=13, app=123456789012345678901234567890123",
        "=android, os=13, app=2.4.0", "platform=android, , os=13, app=2.4.0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(fg_client_parse(A, bad[i], &cl) == FG_ERR_INVAL, "accepted: %s", bad[i]);
        ck_assert_ptr_null(cl.platform);
    }
    ck_assert_int_eq(fg_client_parse(A, NULL, &cl), FG_ERR_INVAL);
}
END_TEST

static struct fg_config cfg(int android, int ios, const char *app)
{
    struct fg_config c;
    memset(&c, 0, sizeof c);
    c.min_android = android;
    c.min_ios = ios;
    c.min_app = (char *)app;
    return c;
}

static const char *too_old(const struct fg_config *c, const char *header, const char **what)
{
    fg_client_t cl;
    ck_assert_int_eq(fg_client_parse(A, header, &cl), FG_OK);
    return fg_client_too_old(A, c, &cl, what);
}

START_TEST(test_client_too_old)
{
    struct fg_config c = cfg(11, 15, "2.4");
    const char *what = "unchanged";
    ck_assert_ptr_null(too_old(&c, "platform=android, os=13, app=2.4.0", &what));
    ck_assert_ptr_null(what);
    ck_assert_ptr_null(too_old(&c, "platform=android, os=11, app=2.4", &what));
    ck_assert_ptr_null(too_old(&c, "platform=ios, os=15.0.1, app=2.10", &what));
    ck_assert_str_eq(too_old(&c, "platform=android, os=10, app=2.4.0", &what),
                     "android 10 is older than 11");
    ck_assert_str_eq(what, "os");
    ck_assert_str_eq(too_old(&c, "platform=ios, os=14.8, app=9.0", &what),
                     "ios 14.8 is older than 15");
    ck_assert_str_eq(what, "os");
    ck_assert_str_eq(too_old(&c, "platform=android, os=14, app=2.3.9", &what),
                     "app 2.3.9 is older than 2.4");
    ck_assert_str_eq(what, "app");
    /* OS is reported first when both are too old */
    ck_assert_str_eq(too_old(&c, "platform=ios, os=12, app=1.0", &what), "ios 12 is older than 15");
    ck_assert_str_eq(what, "os");
    /* no limits configured */
    struct fg_config none = cfg(-1, -1, NULL);
    ck_assert_ptr_null(too_old(&none, "platform=android, os=4, app=0.1", &what));
    ck_assert_ptr_null(too_old(&none, "platform=ios, os=4, app=0.1", NULL));
    ck_assert_ptr_nonnull(too_old(&c, "platform=ios, os=4, app=0.1", NULL));
}
END_TEST

static Suite *device_suite(void)
{
    Suite *s = suite_create("fg_device");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_vectors_parse_message_verify);
    tcase_add_test(tc, test_vectors_signer_reproduces);
    tcase_add_test(tc, test_vectors_any_change_fails);
    tcase_add_test(tc, test_verify_bad_values);
    tcase_add_test(tc, test_parse_variants_ok);
    tcase_add_test(tc, test_parse_hostile);
    tcase_add_test(tc, test_parse_random_mutations);
    tcase_add_test(tc, test_pynacl_independent);
    tcase_add_test(tc, test_client_parse);
    tcase_add_test(tc, test_client_too_old);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(device_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
