/* test_crypto.c - unit tests for shared/fg_crypto.c (key file, sealed tokens, token hashes, Argon2id jobs). */
#include "fg_internal.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Master secret 00 01 .. 1f and what crypto_kdf("freigabe") must derive from it
 * (computed independently with Python's hashlib.blake2b and PyNaCl). */
#define KAT_MASTER "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
#define KAT_SEAL "10d942894f3da442eb5058cea1132d2ad09f27ad038c3b9f16fbcc4df0dbf11b"
#define KAT_HASH "cc32d040df35eb41297515fde4c21a2c687fa65c4882ac01c0d73df3d5915234"
#define KAT_PK "f11c9e7257289b6d7ca12334cd2a3d0f31529ed7e13d0d9b0db8ffe6c82dc25d"
/* BLAKE2b-256 keyed with KAT_HASH over "session\0abc" */
#define KAT_TOKEN_HASH "a8e34635653ce278d50f33f4963858292fe7154fa5fecb2b00ce886267740ee2"
#define OTHER_MASTER "__________________________________________8"

static fg_arena_t *A;
static char dir[64];
static char err[256];

static void setup(void)
{
    ck_assert_int_eq(fg_init(), FG_OK);
    A = fg_arena_new();
    strcpy(dir, "/tmp/fg_test_crypto.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    err[0] = '\0';
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    fg_arena_free(A);
}

/* Writes text to a fresh file in the temp dir and returns its path (static buffer). */
static const char *write_file(const char *text)
{
    static char path[128];
    static int n;
    snprintf(path, sizeof path, "%s/keys%d", dir, n++);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static fg_keyring_t *load_text(const char *text)
{
    return fg_keyring_load(write_file(text), err, sizeof err);
}

static const char *hex(const unsigned char *p, size_t n)
{
    return fg_hex_encode(A, p, n);
}

START_TEST(test_load_kat)
{
    fg_keyring_t *k = load_text("# freigabe key file v1\n\nkey k1 " KAT_MASTER "\n");
    ck_assert_msg(k != NULL, "%s", err);
    ck_assert_uint_eq(k->n, 1);
    ck_assert_str_eq(k->keys[0].kid, "k1");
    ck_assert_str_eq(hex(k->keys[0].seal_key, 32), KAT_SEAL);
    ck_assert_str_eq(hex(k->keys[0].hash_key, 32), KAT_HASH);
    ck_assert_str_eq(hex(k->keys[0].sign_pk, 32), KAT_PK);
    ck_assert_str_eq(fg_token_hash(A, k, "session", "abc", 3), KAT_TOKEN_HASH);
    fg_keyring_free(k);
}
END_TEST

START_TEST(test_load_several_crlf_comments)
{
    fg_keyring_t *k = load_text("# comment\r\n   \r\n\tkey  new-2026_a\t" OTHER_MASTER "  \r\n"
                                "  # another\n"
                                "key old " KAT_MASTER);
    ck_assert_msg(k != NULL, "%s", err);
    ck_assert_uint_eq(k->n, 2);
    ck_assert_str_eq(k->keys[0].kid, "new-2026_a");
    ck_assert_str_eq(k->keys[1].kid, "old");
    ck_assert_str_eq(hex(k->keys[1].sign_pk, 32), KAT_PK);
    fg_keyring_free(k);
}
END_TEST

static void expect_load_error(const char *text, const char *needle)
{
    err[0] = '\0';
    fg_keyring_t *k = load_text(text);
    ck_assert_ptr_null(k);
    ck_assert_msg(strstr(err, needle) != NULL, "error '%s' lacks '%s'", err, needle);
    ck_assert_msg(strstr(err, KAT_MASTER) == NULL, "secret leaked into error");
}

START_TEST(test_load_errors)
{
    ck_assert_ptr_null(fg_keyring_load("/nonexistent/freigabe.keys", err, sizeof err));
    ck_assert_str_eq(err, "cannot read /nonexistent/freigabe.keys: No such file or directory");
    expect_load_error("", "no keys");
    expect_load_error("# only a comment\n\n", "no keys");
    expect_load_error("key k1 " KAT_MASTER "\nkex k2 " KAT_MASTER "\n", "bad line 2");
    expect_load_error("key k1\n", "bad line 1");
    expect_load_error("key k1 " KAT_MASTER " extra\n", "bad line 1");
    expect_load_error("\n\nkey k/1 " KAT_MASTER "\n", "bad line 3: bad kid");
    expect_load_error("key 0123456789012345678901234567890123 " KAT_MASTER "\n", "bad kid");
    expect_load_error("key k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "bad base64url");
    expect_load_error("key k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh\n", "bad base64url");
    expect_load_error("key k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8AAA\n", "bad base64url");
    expect_load_error("key k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYX+BkaGxwdHh8\n", "bad base64url");
    expect_load_error("key k1 " KAT_MASTER "\nkey k1 " OTHER_MASTER "\n", "bad line 2: duplicate kid");
    char *big = malloc(5000);
    memset(big, 'x', 4999);
    big[4999] = '\0';
    expect_load_error(big, "line 1");
    free(big);
    /* a NULL err buffer must not crash */
    ck_assert_ptr_null(fg_keyring_load("/nonexistent", NULL, 0));
    fg_keyring_free(NULL);
}
END_TEST

START_TEST(test_generate_text)
{
    char *t1 = fg_keyring_generate_text("main"), *t2 = fg_keyring_generate_text("main");
    ck_assert_ptr_nonnull(t1);
    ck_assert_str_ne(t1, t2);
    ck_assert(strncmp(t1, "# freigabe key file v1\nkey main ", 32) == 0);
    ck_assert_uint_eq(strlen(t1), 32 + 43 + 1);
    fg_keyring_t *k = load_text(t1);
    ck_assert_msg(k != NULL, "%s", err);
    ck_assert_str_eq(k->keys[0].kid, "main");
    fg_keyring_free(k);
    free(t1);
    free(t2);
    ck_assert_ptr_null(fg_keyring_generate_text("bad kid"));
    ck_assert_ptr_null(fg_keyring_generate_text(""));
    ck_assert_ptr_null(fg_keyring_generate_text(NULL));
}
END_TEST

START_TEST(test_seal_open_roundtrip)
{
    fg_keyring_t *k = load_text("key k1 " KAT_MASTER "\n");
    const char msg[] = "customer=4711\0binary";
    char *t = fg_token_seal(A, k, "session", msg, sizeof msg);
    ck_assert_ptr_nonnull(t);
    ck_assert(strncmp(t, "k1.", 3) == 0);
    ck_assert_ptr_null(strpbrk(t + 3, "+/=. "));
    ck_assert_str_ne(t, fg_token_seal(A, k, "session", msg, sizeof msg)); /* random nonce */
    char *plain = NULL;
    size_t len = 0;
    ck_assert_int_eq(fg_token_open(A, k, "session", t, &plain, &len), FG_OK);
    ck_assert_uint_eq(len, sizeof msg);
    ck_assert(memcmp(plain, msg, len) == 0);
    ck_assert_int_eq(plain[len], '\0');
    /* empty plaintext */
    t = fg_token_seal(A, k, "pre", "", 0);
    ck_assert_int_eq(fg_token_open(A, k, "pre", t, &plain, &len), FG_OK);
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(plain, "");
    fg_keyring_free(k);
}
END_TEST

START_TEST(test_open_wrong_purpose_and_tamper)
{
    fg_keyring_t *k = load_text("key k1 " KAT_MASTER "\n");
    char *t = fg_token_seal(A, k, "session", "hello", 5), *plain = (char *)"x";
    size_t len;
    ck_assert_int_eq(fg_token_open(A, k, "pre", t, &plain, &len), FG_ERR_CRYPTO);
    ck_assert_ptr_null(plain);
    ck_assert_int_eq(fg_token_open(A, k, "", t, &plain, &len), FG_ERR_CRYPTO);
    ck_assert_int_eq(fg_token_open(A, k, NULL, t, &plain, &len), FG_ERR_CRYPTO);
    /* every single-character change anywhere in the token is rejected */
    size_t n = strlen(t);
    for (size_t i = 0; i < n; i++) {
        char *c = fg_arena_strdup(A, t);
        c[i] = c[i] == 'A' ? 'B' : 'A';
        ck_assert_int_ne(fg_token_open(A, k, "session", c, &plain, &len), FG_OK);
        ck_assert_ptr_null(plain);
    }
    /* truncation and extension */
    for (size_t i = 0; i < n; i++)
        ck_assert_int_ne(fg_token_open(A, k, "session", fg_arena_strndup(A, t, i), &plain, &len),
                         FG_OK);
    ck_assert_int_ne(fg_token_open(A, k, "session", fg_arena_printf(A, "%sAA", t), &plain, &len),
                     FG_OK);
    fg_keyring_free(k);
}
END_TEST

START_TEST(test_open_malformed)
{
    fg_keyring_t *k = load_text("key k1 " KAT_MASTER "\n");
    char *plain;
    size_t len;
    char *t = fg_token_seal(A, k, "session", "hello", 5);
    char *body = strchr(t, '.') + 1;
    ck_assert_int_eq(fg_token_open(A, k, "session", fg_arena_printf(A, "k2.%s", body), &plain, &len),
                     FG_ERR_CRYPTO); /* unknown kid */
    ck_assert_int_eq(fg_token_open(A, k, "session", body, &plain, &len), FG_ERR_INVAL); /* no kid */
    ck_assert_int_eq(fg_token_open(A, k, "session", fg_arena_printf(A, ".%s", body), &plain, &len),
                     FG_ERR_INVAL);
    ck_assert_int_eq(fg_token_open(A, k, "session", fg_arena_printf(A, "k1.%s=", body), &plain, &len),
                     FG_ERR_INVAL); /* padding */
    ck_assert_int_eq(fg_token_open(A, k, "session", "k1.", &plain, &len), FG_ERR_INVAL);
    ck_assert_int_eq(fg_token_open(A, k, "session", "k1.AAAA", &plain, &len), FG_ERR_INVAL); /* short */
    ck_assert_int_eq(fg_token_open(A, k, "session", "k1.!!!!", &plain, &len), FG_ERR_INVAL);
    ck_assert_int_eq(fg_token_open(A, k, "session", "", &plain, &len), FG_ERR_INVAL);
    ck_assert_int_eq(fg_token_open(A, k, "session", ".", &plain, &len), FG_ERR_INVAL);
    ck_assert_int_eq(fg_token_open(A, k, "session", NULL, &plain, &len), FG_ERR_INVAL);
    /* 40 bytes of zeros: right length, fails authentication */
    unsigned char z[40] = {0};
    char *zt = fg_arena_printf(A, "k1.%s", fg_b64url_encode(A, z, sizeof z));
    ck_assert_int_eq(fg_token_open(A, k, "session", zt, &plain, &len), FG_ERR_CRYPTO);
    /* huge input is refused without trouble */
    char *huge = fg_arena_alloc(A, 200001);
    memcpy(huge, "k1.", 3);
    memset(huge + 3, 'A', 199996);
    ck_assert_int_ne(fg_token_open(A, k, "session", huge, &plain, &len), FG_OK);
    fg_keyring_free(k);
}
END_TEST

START_TEST(test_rotation)
{
    fg_keyring_t *old = load_text("key old " KAT_MASTER "\n");
    fg_keyring_t *both = load_text("key new " OTHER_MASTER "\nkey old " KAT_MASTER "\n");
    fg_keyring_t *onlynew = load_text("key new " OTHER_MASTER "\n");
    char *t = fg_token_seal(A, old, "session", "cookie", 6), *plain;
    size_t len;
    ck_assert_int_eq(fg_token_open(A, both, "session", t, &plain, &len), FG_OK);
    ck_assert_str_eq(plain, "cookie");
    ck_assert_int_eq(fg_token_open(A, onlynew, "session", t, &plain, &len), FG_ERR_CRYPTO);
    char *t2 = fg_token_seal(A, both, "session", "fresh", 5);
    ck_assert(strncmp(t2, "new.", 4) == 0);
    ck_assert_int_eq(fg_token_open(A, onlynew, "session", t2, &plain, &len), FG_OK);
    ck_assert_int_eq(fg_token_open(A, old, "session", t2, &plain, &len), FG_ERR_CRYPTO);
    /* a token relabelled with the other kid does not open */
    char *swapped = fg_arena_printf(A, "new.%s", strchr(t, '.') + 1);
    ck_assert_int_eq(fg_token_open(A, both, "session", swapped, &plain, &len), FG_ERR_CRYPTO);
    fg_keyring_free(old);
    fg_keyring_free(both);
    fg_keyring_free(onlynew);
}
END_TEST

START_TEST(test_token_hash)
{
    fg_keyring_t *k = load_text("key k1 " KAT_MASTER "\n");
    fg_keyring_t *k2 = load_text("key k2 " OTHER_MASTER "\nkey k1 " KAT_MASTER "\n");
    char *h = fg_token_hash(A, k, "session", "abc", 3);
    ck_assert_uint_eq(strlen(h), 64);
    ck_assert_str_eq(h, fg_token_hash(A, k, "session", "abc", 3));
    ck_assert_str_ne(h, fg_token_hash(A, k, "pre", "abc", 3));
    ck_assert_str_ne(h, fg_token_hash(A, k2, "session", "abc", 3)); /* active key only */
    ck_assert_str_ne(fg_token_hash(A, k, "ab", "c", 1), fg_token_hash(A, k, "a", "bc", 2));
    ck_assert_uint_eq(strlen(fg_token_hash(A, k, NULL, "", 0)), 64);
    fg_keyring_free(k);
    fg_keyring_free(k2);
}
END_TEST

#define OPS crypto_pwhash_OPSLIMIT_MIN
#define MEM crypto_pwhash_MEMLIMIT_MIN

START_TEST(test_hash_jobs)
{
    fg_hash_job_t *c = fg_hash_job_create(A, "geheim", 6, OPS, MEM);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_null(fg_hash_job_result(c));
    fg_hash_job_run(c);
    ck_assert_int_eq(fg_hash_job_ok(c), 1);
    const char *stored = fg_hash_job_result(c);
    ck_assert(strncmp(stored, "$argon2id$", 10) == 0);
    fg_hash_job_run(c); /* second run is a no-op */
    ck_assert_str_eq(fg_hash_job_result(c), stored);

    fg_hash_job_t *v = fg_hash_job_verify(A, stored, "geheim", 6);
    ck_assert_int_eq(fg_hash_job_ok(v), 0); /* not run yet */
    fg_hash_job_run(v);
    ck_assert_int_eq(fg_hash_job_ok(v), 1);
    ck_assert_ptr_null(fg_hash_job_result(v));
    fg_hash_job_wipe(v);
    fg_hash_job_wipe(v);

    fg_hash_job_t *w = fg_hash_job_verify(A, stored, "geheiM", 6);
    fg_hash_job_run(w);
    ck_assert_int_eq(fg_hash_job_ok(w), 0);
    /* passwords with NUL bytes use their full length */
    fg_hash_job_t *w2 = fg_hash_job_verify(A, stored, "geheim\0x", 8);
    fg_hash_job_run(w2);
    ck_assert_int_eq(fg_hash_job_ok(w2), 0);
    fg_hash_job_t *bad = fg_hash_job_verify(A, "not a hash", "geheim", 6);
    fg_hash_job_run(bad);
    ck_assert_int_eq(fg_hash_job_ok(bad), 0);
    fg_hash_job_t *nul = fg_hash_job_verify(A, NULL, "geheim", 6);
    fg_hash_job_run(nul);
    ck_assert_int_eq(fg_hash_job_ok(nul), 0);
    fg_hash_job_t *empty = fg_hash_job_create(A, "", 0, OPS, MEM);
    fg_hash_job_run(empty);
    ck_assert_int_eq(fg_hash_job_ok(empty), 1);
}
END_TEST

START_TEST(test_needs_rehash)
{
    fg_hash_job_t *c = fg_hash_job_create(A, "pw", 2, OPS, MEM);
    fg_hash_job_run(c);
    const char *stored = fg_hash_job_result(c);
    ck_assert_int_eq(fg_hash_needs_rehash(stored, OPS, MEM), 0);
    ck_assert_int_eq(fg_hash_needs_rehash(stored, OPS + 1, MEM), 1);
    ck_assert_int_eq(fg_hash_needs_rehash(stored, OPS, MEM * 2), 1);
    ck_assert_int_eq(fg_hash_needs_rehash("garbage", OPS, MEM), 1);
    ck_assert_int_eq(fg_hash_needs_rehash(NULL, OPS, MEM), 1);
}
END_TEST

static void *dummy_thread(void *arg)
{
    return (void *)fg_hash_dummy(OPS, MEM + 4096);
}

START_TEST(test_hash_dummy)
{
    const char *d1 = fg_hash_dummy(OPS, MEM);
    ck_assert_ptr_nonnull(d1);
    ck_assert(strncmp(d1, "$argon2id$", 10) == 0);
    ck_assert_ptr_eq(fg_hash_dummy(OPS, MEM), d1);
    ck_assert_int_eq(fg_hash_needs_rehash(d1, OPS, MEM), 0);
    const char *d2 = fg_hash_dummy(OPS + 1, MEM);
    ck_assert_ptr_ne(d2, d1);
    ck_assert_int_eq(fg_hash_needs_rehash(d2, OPS + 1, MEM), 0);
    fg_hash_job_t *v = fg_hash_job_verify(A, d1, "", 0);
    fg_hash_job_run(v);
    ck_assert_int_eq(fg_hash_job_ok(v), 0);
    pthread_t th[8];
    void *res[8];
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, dummy_thread, NULL), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], &res[i]);
    for (int i = 0; i < 8; i++) {
        ck_assert_ptr_nonnull(res[i]);
        ck_assert_ptr_eq(res[i], res[0]);
    }
    ck_assert_ptr_null(fg_hash_dummy(0, MEM));
}
END_TEST

static Suite *crypto_suite(void)
{
    Suite *s = suite_create("fg_crypto");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_load_kat);
    tcase_add_test(tc, test_load_several_crlf_comments);
    tcase_add_test(tc, test_load_errors);
    tcase_add_test(tc, test_generate_text);
    tcase_add_test(tc, test_seal_open_roundtrip);
    tcase_add_test(tc, test_open_wrong_purpose_and_tamper);
    tcase_add_test(tc, test_open_malformed);
    tcase_add_test(tc, test_rotation);
    tcase_add_test(tc, test_token_hash);
    tcase_add_test(tc, test_hash_jobs);
    tcase_add_test(tc, test_needs_rehash);
    tcase_add_test(tc, test_hash_dummy);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(crypto_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
