/* test_jwt.c - unit tests for shared/fg_jwt.c (EdDSA assertion and JWKS), incl. RFC 8032 vectors and a PyJWT cross-check. */
#include "fg_internal.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef FG_SRCDIR
#define FG_SRCDIR "."
#endif
#define JWT_CHECK FG_SRCDIR "/tests/unit/jwt_check.py"

/* RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte 0x72). */
static const struct {
    const char *seed, *pk, *msg, *sig;
} rfc8032[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e397"
     "01cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f361"
     "3d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
};

static fg_arena_t *A;

static void setup(void)
{
    ck_assert_int_eq(fg_init(), FG_OK);
    A = fg_arena_new();
}

static void teardown(void)
{
    fg_arena_free(A);
}

static void unhex(const char *h, unsigned char *out, size_t n)
{
    size_t got = 0;
    ck_assert_int_eq(sodium_hex2bin(out, n, h, strlen(h), NULL, &got, NULL), 0);
    ck_assert_uint_eq(got, n);
}

/* A keyring whose keys sign with the given RFC 8032 seeds (kids "rfc1", "rfc2", ...). */
static fg_keyring_t *ring_from_seeds(const int *idx, size_t n)
{
    fg_keyring_t *k = calloc(1, sizeof *k);
    k->keys = calloc(n, sizeof(fg_key_t));
    k->n = n;
    for (size_t i = 0; i < n; i++) {
        unsigned char seed[32];
        unhex(rfc8032[idx[i]].seed, seed, 32);
        crypto_sign_seed_keypair(k->keys[i].sign_pk, k->keys[i].sign_sk, seed);
        snprintf(k->keys[i].kid, sizeof k->keys[i].kid, "rfc%d", idx[i] + 1);
    }
    return k;
}

static fg_claims_t sample_claims(int64_t now)
{
    fg_claims_t c = {.iss = "freigabe", .aud = "portal", .sub = "4711-0815",
                     .name = "Jürgen Müßig", .sid = "s_abc123",
                     .auth_time = now - 10, .iat = now, .exp = now + 60};
    return c;
}

/* Splits a compact JWS into its three parts (arena copies). */
static void jws_split(const char *jwt, char **h, char **p, char **s)
{
    const char *d1 = strchr(jwt, '.');
    ck_assert_ptr_nonnull(d1);
    const char *d2 = strchr(d1 + 1, '.');
    ck_assert_ptr_nonnull(d2);
    ck_assert_ptr_null(strchr(d2 + 1, '.'));
    *h = fg_arena_strndup(A, jwt, (size_t)(d1 - jwt));
    *p = fg_arena_strndup(A, d1 + 1, (size_t)(d2 - d1 - 1));
    *s = fg_arena_strdup(A, d2 + 1);
}

static json_t *b64_json(const char *b64)
{
    unsigned char buf[2048];
    size_t n = 0;
    ck_assert_int_eq(fg_b64url_decode(b64, strlen(b64), buf, sizeof buf - 1, &n), FG_OK);
    json_error_t e;
    json_t *j = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, &e);
    ck_assert_msg(j != NULL, "bad JSON: %s", e.text);
    return j;
}

/* Decodes base64url JSON without asserting (NULL when anything is wrong). */
static json_t *b64_json_try(const char *b64)
{
    unsigned char buf[2048];
    size_t n = 0;
    if (fg_b64url_decode(b64, strlen(b64), buf, sizeof buf - 1, &n) != FG_OK)
        return NULL;
    return json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
}

/* The x of the JWKS entry with this kid (arena), or NULL. */
static const char *jwks_x(const char *jwks, const char *kid)
{
    json_t *set = json_loads(jwks, 0, NULL), *key;
    const char *x = NULL;
    size_t i;
    json_array_foreach(json_object_get(set, "keys"), i, key)
        if (kid != NULL && strcmp(json_string_value(json_object_get(key, "kid")), kid) == 0)
            x = fg_arena_strdup(A, json_string_value(json_object_get(key, "x")));
    json_decref(set);
    return x;
}

/* Verifies the JWS signature with the x of the JWKS entry named by the header's kid.
 * 1 valid, 0 anything wrong (never asserts: used on tampered tokens). */
static int jws_verify_with_jwks(const char *jwt, const char *jwks)
{
    char *h, *p, *s;
    jws_split(jwt, &h, &p, &s);
    json_t *hdr = b64_json_try(h);
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    const char *x = (alg && strcmp(alg, "EdDSA") == 0)
                        ? jwks_x(jwks, json_string_value(json_object_get(hdr, "kid")))
                        : NULL;
    json_decref(hdr);
    unsigned char pk[32], sig[64];
    size_t n;
    if (x == NULL || fg_b64url_decode(x, strlen(x), pk, 32, &n) != FG_OK || n != 32 ||
        fg_b64url_decode(s, strlen(s), sig, 64, &n) != FG_OK || n != 64)
        return 0;
    char *input = fg_arena_printf(A, "%s.%s", h, p);
    return crypto_sign_verify_detached(sig, (unsigned char *)input, strlen(input), pk) == 0;
}

START_TEST(test_rfc8032_vectors)
{
    int idx[] = {0, 1};
    fg_keyring_t *k = ring_from_seeds(idx, 2);
    for (int i = 0; i < 2; i++) {
        unsigned char pk[32], sig[64], msg[1], got[64];
        size_t mlen = strlen(rfc8032[i].msg) / 2;
        unhex(rfc8032[i].pk, pk, 32);
        unhex(rfc8032[i].sig, sig, 64);
        if (mlen)
            unhex(rfc8032[i].msg, msg, mlen);
        ck_assert(memcmp(k->keys[i].sign_pk, pk, 32) == 0);
        crypto_sign_detached(got, NULL, msg, mlen, k->keys[i].sign_sk);
        ck_assert(memcmp(got, sig, 64) == 0);
        ck_assert_int_eq(crypto_sign_verify_detached(sig, msg, mlen, pk), 0);
    }
    /* the JWKS publishes exactly the RFC public keys */
    json_t *set = json_loads(fg_jwks_json(A, k), 0, NULL);
    json_t *keys = json_object_get(set, "keys");
    ck_assert_uint_eq(json_array_size(keys), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(keys, 0), "x")),
                     "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(keys, 1), "x")),
                     "PUAXw-hDiVqStwqnTRt-vJyYLM8uxJaMwM1V8Sr0Zgw");
    json_decref(set);
    fg_keyring_free(k);
}
END_TEST

START_TEST(test_jwt_structure)
{
    int idx[] = {0};
    fg_keyring_t *k = ring_from_seeds(idx, 1);
    fg_claims_t c = sample_claims(1767225600);
    char *jwt = fg_jwt_sign(A, k, &c), *h, *p, *s;
    ck_assert_ptr_nonnull(jwt);
    jws_split(jwt, &h, &p, &s);
    ck_assert_uint_eq(strlen(s), 86);
    json_t *hdr = b64_json(h), *cl = b64_json(p);
    ck_assert_uint_eq(json_object_size(hdr), 3);
    ck_assert_str_eq(json_string_value(json_object_get(hdr, "alg")), "EdDSA");
    ck_assert_str_eq(json_string_value(json_object_get(hdr, "typ")), "JWT");
    ck_assert_str_eq(json_string_value(json_object_get(hdr, "kid")), "rfc1");
    ck_assert_str_eq(json_string_value(json_object_get(cl, "iss")), "freigabe");
    ck_assert_str_eq(json_string_value(json_object_get(cl, "aud")), "portal");
    ck_assert_str_eq(json_string_value(json_object_get(cl, "sub")), "4711-0815");
    ck_assert_str_eq(json_string_value(json_object_get(cl, "name")), "Jürgen Müßig");
    ck_assert_str_eq(json_string_value(json_object_get(cl, "sid")), "s_abc123");
    ck_assert_int_eq(json_integer_value(json_object_get(cl, "auth_time")), 1767225590);
    ck_assert_int_eq(json_integer_value(json_object_get(cl, "iat")), 1767225600);
    ck_assert_int_eq(json_integer_value(json_object_get(cl, "exp")), 1767225660);
    json_t *amr = json_object_get(cl, "amr");
    ck_assert_uint_eq(json_array_size(amr), 2);
    ck_assert_str_eq(json_string_value(json_array_get(amr, 0)), "pwd");
    ck_assert_str_eq(json_string_value(json_array_get(amr, 1)), "app");
    ck_assert_uint_eq(json_object_size(cl), 9);
    json_decref(hdr);
    json_decref(cl);
    /* Ed25519 is deterministic: same claims, same token */
    ck_assert_str_eq(jwt, fg_jwt_sign(A, k, &c));
    fg_keyring_free(k);
}
END_TEST

START_TEST(test_jwt_verifies_with_jwks)
{
    int idx[] = {1, 0};
    fg_keyring_t *k = ring_from_seeds(idx, 2);
    fg_claims_t c = sample_claims(1767225600);
    char *jwt = fg_jwt_sign(A, k, &c), *jwks = fg_jwks_json(A, k);
    ck_assert(strstr(jwt, ".") != NULL);
    ck_assert_int_eq(jws_verify_with_jwks(jwt, jwks), 1);
    /* tampering with any character of header, payload or signature breaks it */
    size_t n = strlen(jwt);
    for (size_t i = 0; i < n; i += 3) {
        char *t = fg_arena_strdup(A, jwt);
        if (t[i] == '.')
            continue;
        t[i] = t[i] == 'A' ? 'B' : 'A';
        ck_assert_int_eq(jws_verify_with_jwks(t, jwks), 0);
    }
    fg_keyring_free(k);
}
END_TEST

START_TEST(test_jwks_fields)
{
    int idx[] = {0, 1};
    fg_keyring_t *k = ring_from_seeds(idx, 2);
    json_t *set = json_loads(fg_jwks_json(A, k), JSON_REJECT_DUPLICATES, NULL);
    ck_assert_ptr_nonnull(set);
    ck_assert_uint_eq(json_object_size(set), 1);
    json_t *key;
    size_t i;
    json_array_foreach(json_object_get(set, "keys"), i, key) {
        ck_assert_str_eq(json_string_value(json_object_get(key, "kty")), "OKP");
        ck_assert_str_eq(json_string_value(json_object_get(key, "crv")), "Ed25519");
        ck_assert_str_eq(json_string_value(json_object_get(key, "use")), "sig");
        ck_assert_str_eq(json_string_value(json_object_get(key, "alg")), "EdDSA");
        ck_assert_str_eq(json_string_value(json_object_get(key, "kid")), i ? "rfc2" : "rfc1");
        ck_assert_ptr_null(json_object_get(key, "d"));
        ck_assert_uint_eq(json_object_size(key), 6);
    }
    json_decref(set);
    fg_keyring_free(k);
}
END_TEST

START_TEST(test_jwt_edge_cases)
{
    int idx[] = {0};
    fg_keyring_t *k = ring_from_seeds(idx, 1);
    fg_claims_t c = sample_claims(1767225600);
    c.name = "\xff\xfe not utf-8";
    ck_assert_ptr_null(fg_jwt_sign(A, k, &c));
    c = sample_claims(1767225600);
    c.sub = NULL;
    ck_assert_ptr_null(fg_jwt_sign(A, k, &c));
    c = sample_claims(1767225600);
    c.name = NULL; /* optional strings are omitted */
    char *h, *p, *s;
    jws_split(fg_jwt_sign(A, k, &c), &h, &p, &s);
    json_t *cl = b64_json(p);
    ck_assert_ptr_null(json_object_get(cl, "name"));
    json_decref(cl);
    c = sample_claims(1767225600);
    c.name = "\"quoted\" \\ </script>";
    jws_split(fg_jwt_sign(A, k, &c), &h, &p, &s);
    cl = b64_json(p);
    ck_assert_str_eq(json_string_value(json_object_get(cl, "name")), "\"quoted\" \\ </script>");
    json_decref(cl);
    ck_assert_ptr_null(fg_jwt_sign(A, NULL, &c));
    ck_assert_ptr_null(fg_jwks_json(A, NULL));
    fg_keyring_free(k);
}
END_TEST

/* Runs jwt_check.py; returns its exit status, or -1 when PyJWT is not available. */
static int pyjwt_check(const char *jwt, const char *jwks, const char *aud, char *out,
                       size_t outlen)
{
    if (access("/usr/bin/python3", X_OK) != 0 || access(JWT_CHECK, R_OK) != 0 ||
        system("/usr/bin/python3 -c 'import jwt' >/dev/null 2>&1") != 0)
        return -1;
    ck_assert_ptr_null(strchr(jwt, '\''));
    ck_assert_ptr_null(strchr(jwks, '\''));
    char *cmd = fg_arena_printf(A, "/usr/bin/python3 '%s' '%s' '%s' '%s' freigabe 2>&1",
                                JWT_CHECK, jwt, jwks, aud);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(out, 1, outlen - 1, f);
    out[n] = '\0';
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

START_TEST(test_pyjwt_independent)
{
    int idx[] = {1, 0};
    fg_keyring_t *k = ring_from_seeds(idx, 2);
    fg_claims_t c = sample_claims((int64_t)time(NULL));
    char *jwt = fg_jwt_sign(A, k, &c), *jwks = fg_jwks_json(A, k), out[4096];
    int rc = pyjwt_check(jwt, jwks, "portal", out, sizeof out);
    if (rc == -1) {
        printf("NOTE: /usr/bin/python3 with PyJWT (or " JWT_CHECK ") not found; skipping the PyJWT cross-check\n");
        fg_keyring_free(k);
        return;
    }
    ck_assert_msg(rc == 0, "PyJWT rejected the assertion: %s", out);
    ck_assert_msg(strstr(out, "\"sub\": \"4711-0815\"") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "Jürgen Müßig") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "\"amr\": [\"pwd\", \"app\"]") != NULL, "%s", out);
    /* and PyJWT rejects what it should */
    ck_assert_int_ne(pyjwt_check(jwt, jwks, "other", out, sizeof out), 0);
    char *bad = fg_arena_strdup(A, jwt);
    bad[strlen(bad) - 5] = bad[strlen(bad) - 5] == 'A' ? 'B' : 'A';
    ck_assert_int_ne(pyjwt_check(bad, jwks, "portal", out, sizeof out), 0);
    c.exp = c.iat - 120;
    ck_assert_int_ne(pyjwt_check(fg_jwt_sign(A, k, &c), jwks, "portal", out, sizeof out), 0);
    fg_keyring_free(k);
}
END_TEST

static Suite *jwt_suite(void)
{
    Suite *s = suite_create("fg_jwt");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_rfc8032_vectors);
    tcase_add_test(tc, test_jwt_structure);
    tcase_add_test(tc, test_jwt_verifies_with_jwks);
    tcase_add_test(tc, test_jwks_fields);
    tcase_add_test(tc, test_jwt_edge_cases);
    tcase_add_test(tc, test_pyjwt_independent);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(jwt_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
