/* test_util.c - unit tests for shared/fg_util.c (arena, buffers, encodings, hashes, helpers). */
#include "fg_internal.h"

#include <check.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static fg_arena_t *A;

static void setup(void)
{
    ck_assert_int_eq(fg_init(), FG_OK);
    A = fg_arena_new();
    ck_assert_ptr_nonnull(A);
}

static void teardown(void)
{
    fg_arena_free(A);
    A = NULL;
}

START_TEST(test_strerror)
{
    ck_assert_str_eq(fg_strerror(FG_OK), "success");
    ck_assert_str_eq(fg_strerror(FG_ERR_NOMEM), "out of memory");
    for (int e = FG_ERR_BUSY; e <= FG_OK; e++)
        ck_assert_ptr_nonnull(fg_strerror(e));
    ck_assert_str_eq(fg_strerror(-999), "unknown error");
}
END_TEST

START_TEST(test_arena_small_and_zeroed)
{
    for (int i = 0; i < 5000; i++) {
        size_t n = (size_t)(i % 97) + 1;
        unsigned char *p = fg_arena_alloc(A, n);
        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq((uintptr_t)p % 16, 0);
        for (size_t j = 0; j < n; j++)
            ck_assert_int_eq(p[j], 0);
        memset(p, 0xAB, n);
    }
    ck_assert_ptr_nonnull(fg_arena_alloc(A, 0));
}
END_TEST

START_TEST(test_arena_large)
{
    char *small1 = fg_arena_strdup(A, "before");
    unsigned char *big = fg_arena_alloc(A, 1 << 20);
    ck_assert_ptr_nonnull(big);
    for (size_t j = 0; j < (1 << 20); j += 4096)
        ck_assert_int_eq(big[j], 0);
    memset(big, 0x55, 1 << 20);
    char *small2 = fg_arena_strdup(A, "after");
    ck_assert_str_eq(small1, "before");
    ck_assert_str_eq(small2, "after");
    /* the small allocation after a big one still comes from the shared block */
    ck_assert_int_lt((size_t)(small2 > small1 ? small2 - small1 : small1 - small2), 8192);
    ck_assert_ptr_null(fg_arena_alloc(A, SIZE_MAX));
    ck_assert_ptr_null(fg_arena_alloc(NULL, 1));
}
END_TEST

START_TEST(test_arena_strings)
{
    ck_assert_str_eq(fg_arena_strdup(A, "hallo"), "hallo");
    ck_assert_ptr_null(fg_arena_strdup(A, NULL));
    ck_assert_str_eq(fg_arena_strndup(A, "hallo", 3), "hal");
    ck_assert_str_eq(fg_arena_strndup(A, "hi", 10), "hi");
    const char *m = fg_arena_memdup(A, "a\0b", 3); /* binary: NULs kept, NUL added */
    ck_assert_int_eq(memcmp(m, "a\0b", 4), 0);
    ck_assert_ptr_null(fg_arena_memdup(A, NULL, 3));
    ck_assert_str_eq(fg_arena_printf(A, "%s-%d-%lld", "x", 42, -7LL), "x-42--7");
    char longfmt[10001];
    memset(longfmt, 'z', 10000);
    longfmt[10000] = '\0';
    char *p = fg_arena_printf(A, "<%s>", longfmt);
    ck_assert_uint_eq(strlen(p), 10002);
    ck_assert_int_eq(p[10001], '>');
}
END_TEST

START_TEST(test_arena_free_null)
{
    fg_arena_free(NULL);
    fg_arena_t *b = fg_arena_new();
    fg_arena_free(b);
}
END_TEST

START_TEST(test_buf)
{
    fg_buf_t b;
    fg_buf_init(&b, A);
    ck_assert_str_eq(fg_buf_cstr(&b), "");
    fg_buf_puts(&b, "a");
    fg_buf_add(&b, "bcdef", 2);
    fg_buf_printf(&b, "[%d]", 12);
    fg_buf_puts(&b, NULL);
    ck_assert_str_eq(fg_buf_cstr(&b), "abc[12]");
    ck_assert_uint_eq(b.len, 7);
    for (int i = 0; i < 3000; i++)
        fg_buf_puts(&b, "0123456789");
    ck_assert_uint_eq(strlen(fg_buf_cstr(&b)), 30007);
    ck_assert_int_eq(fg_buf_cstr(&b)[30006], '9');
}
END_TEST

START_TEST(test_buf_html)
{
    fg_buf_t b;
    fg_buf_init(&b, A);
    fg_buf_html(&b, "<a href=\"x\">Tom & Jerry's</a>");
    ck_assert_str_eq(fg_buf_cstr(&b),
                     "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
    fg_buf_init(&b, A);
    fg_buf_html(&b, "Jürgen");
    ck_assert_str_eq(fg_buf_cstr(&b), "Jürgen");
}
END_TEST

START_TEST(test_b64url_vectors)
{
    /* RFC 4648 test vectors, URL alphabet, no padding */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        ck_assert_str_eq(fg_b64url_encode(A, (const unsigned char *)plain[i], strlen(plain[i])),
                         enc[i]);
        unsigned char out[16];
        size_t n = 99;
        ck_assert_int_eq(fg_b64url_decode(enc[i], strlen(enc[i]), out, sizeof out, &n), FG_OK);
        ck_assert_uint_eq(n, strlen(plain[i]));
        ck_assert(memcmp(out, plain[i], n) == 0);
    }
    const unsigned char url[] = {0xfb, 0xff, 0xbf};
    ck_assert_str_eq(fg_b64url_encode(A, url, 3), "-_-_");
}
END_TEST

START_TEST(test_b64url_edges)
{
    unsigned char out[64];
    size_t n;
    ck_assert_int_eq(fg_b64url_decode("Zg==", 4, out, sizeof out, &n), FG_ERR_INVAL); /* padding */
    ck_assert_int_eq(fg_b64url_decode("Zm+v", 4, out, sizeof out, &n), FG_ERR_INVAL); /* std alphabet */
    ck_assert_int_eq(fg_b64url_decode("Zm/v", 4, out, sizeof out, &n), FG_ERR_INVAL);
    ck_assert_int_eq(fg_b64url_decode("Zm9vY", 5, out, sizeof out, &n), FG_ERR_INVAL); /* 4k+1 */
    ck_assert_int_eq(fg_b64url_decode("Zh", 2, out, sizeof out, &n), FG_ERR_INVAL);   /* bits */
    ck_assert_int_eq(fg_b64url_decode("Zm9 v", 5, out, sizeof out, &n), FG_ERR_INVAL);
    ck_assert_int_eq(fg_b64url_decode("Zm\n9v", 5, out, sizeof out, &n), FG_ERR_INVAL);
    ck_assert_int_eq(fg_b64url_decode("Zm\0v", 4, out, sizeof out, &n), FG_ERR_INVAL);
    /* bytes >= 0x80 are not '_' (libsodium 1.0.18 would read them so) */
    ck_assert_int_eq(fg_b64url_decode("AAA\x80", 4, out, sizeof out, &n), FG_ERR_INVAL);
    ck_assert_int_eq(fg_b64url_decode("AAA\xff", 4, out, sizeof out, &n), FG_ERR_INVAL);
    ck_assert_int_eq(fg_b64url_decode("AAA_", 4, out, sizeof out, &n), FG_OK);
    ck_assert_int_eq(fg_b64url_decode("Zm9vYmFy", 8, out, 5, &n), FG_ERR_INVAL); /* too long */
    ck_assert_int_eq(fg_b64url_decode("Zm9vYmFy", 8, out, 6, &n), FG_OK);
    ck_assert_uint_eq(n, 6);
    ck_assert_int_eq(fg_b64url_decode("", 0, out, 0, &n), FG_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(fg_b64url_decode(NULL, 0, out, 1, &n), FG_ERR_INVAL);
    /* only a prefix of a longer string is decoded when inlen says so */
    ck_assert_int_eq(fg_b64url_decode("Zm9v!!!", 4, out, sizeof out, &n), FG_OK);
    ck_assert_uint_eq(n, 3);
    /* round trip of every length 0..40 with all byte values */
    unsigned char raw[40];
    for (int i = 0; i < 40; i++)
        raw[i] = (unsigned char)(i * 37 + 200);
    for (size_t len = 0; len <= 40; len++) {
        char *e = fg_b64url_encode(A, raw, len);
        ck_assert_ptr_null(strpbrk(e, "+/="));
        ck_assert_int_eq(fg_b64url_decode(e, strlen(e), out, sizeof out, &n), FG_OK);
        ck_assert_uint_eq(n, len);
        ck_assert(memcmp(out, raw, len) == 0);
    }
}
END_TEST

START_TEST(test_hex_sha256)
{
    const unsigned char b[] = {0x00, 0x0f, 0xab, 0xff};
    ck_assert_str_eq(fg_hex_encode(A, b, 4), "000fabff");
    ck_assert_str_eq(fg_hex_encode(A, b, 0), "");
    ck_assert_str_eq(fg_sha256_hex(A, (const unsigned char *)"", 0),
                     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ck_assert_str_eq(fg_sha256_hex(A, NULL, 0),
                     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ck_assert_str_eq(fg_sha256_hex(A, (const unsigned char *)"abc", 3),
                     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(test_sha1)
{
    char out[41];
    fg_sha1_hex("abc", 3, out);
    ck_assert_str_eq(out, "a9993e364706816aba3e25717850c26c9cd0d89d");
    fg_sha1_hex("", 0, out);
    ck_assert_str_eq(out, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* 56 bytes */
    fg_sha1_hex(m, strlen(m), out);
    ck_assert_str_eq(out, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    char *million = malloc(1000000);
    memset(million, 'a', 1000000);
    fg_sha1_hex(million, 1000000, out);
    free(million);
    ck_assert_str_eq(out, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    /* lengths around the padding boundary: 55, 63, 64 'a' */
    fg_sha1_hex("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 64, out);
    ck_assert_str_eq(out, "0098ba824b5c16427bd7a1122a5a442a25ec644d");
    fg_sha1_hex("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 55, out);
    ck_assert_str_eq(out, "c1c8bbdc22796e28c0e15163d20899b65621d65a");
    /* the id Redis gives to `SCRIPT LOAD "return 1"` */
    fg_sha1_hex("return 1", 8, out);
    ck_assert_str_eq(out, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}
END_TEST

START_TEST(test_pct_encode)
{
    ck_assert_str_eq(fg_pct_encode(A, "Jürgen Müßig"), "J%C3%BCrgen%20M%C3%BC%C3%9Fig");
    ck_assert_str_eq(fg_pct_encode(A, "A-z_0.9~"), "A-z_0.9~");
    ck_assert_str_eq(fg_pct_encode(A, "a/b?c=d&e%\r\n"), "a%2Fb%3Fc%3Dd%26e%25%0D%0A");
    ck_assert_str_eq(fg_pct_encode(A, ""), "");
    ck_assert_ptr_null(fg_pct_encode(A, NULL));
}
END_TEST

START_TEST(test_random)
{
    char *t1 = fg_random_token(A, 32), *t2 = fg_random_token(A, 32);
    ck_assert_uint_eq(strlen(t1), 43);
    ck_assert_str_ne(t1, t2);
    unsigned char out[32];
    size_t n;
    ck_assert_int_eq(fg_b64url_decode(t1, strlen(t1), out, sizeof out, &n), FG_OK);
    ck_assert_uint_eq(n, 32);
    int count[10] = {0};
    for (int i = 0; i < 200; i++) {
        char *d = fg_random_digits(A, 6);
        ck_assert_uint_eq(strlen(d), 6);
        for (int j = 0; j < 6; j++) {
            ck_assert(d[j] >= '0' && d[j] <= '9');
            count[d[j] - '0']++;
        }
    }
    for (int i = 0; i < 10; i++) /* 1200 digits: each about 120; far outside is a bug */
        ck_assert_int_gt(count[i], 40);
    ck_assert_str_eq(fg_random_digits(A, 0), "");
    ck_assert_ptr_null(fg_random_digits(A, -1));
}
END_TEST

START_TEST(test_strncasecmp)
{
    ck_assert_int_eq(fg_strncasecmp("X-Freigabe-User", "x-freigabe-", 11), 0);
    ck_assert_int_ne(fg_strncasecmp("abc", "abd", 3), 0);
    ck_assert_int_eq(fg_strncasecmp("abc", "abd", 2), 0);
    ck_assert_int_eq(fg_strncasecmp("ABC", "abc", 10), 0);
    ck_assert_int_lt(fg_strncasecmp("ab", "abc", 3), 0);
    ck_assert_int_gt(fg_strncasecmp("b", "A", 1), 0);
    ck_assert_int_ne(fg_strncasecmp("\xc4", "\xe4", 1), 0); /* ASCII only */
    ck_assert_int_eq(fg_strncasecmp("x", "y", 0), 0);
}
END_TEST

START_TEST(test_parse_int)
{
    long long v = 0;
    ck_assert_int_eq(fg_parse_int("120", 0, 1000, &v), FG_OK);
    ck_assert_int_eq(v, 120);
    ck_assert_int_eq(fg_parse_int("-5", -10, 10, &v), FG_OK);
    ck_assert_int_eq(v, -5);
    ck_assert_int_eq(fg_parse_int("9223372036854775807", 0, LLONG_MAX, &v), FG_OK);
    ck_assert(v == LLONG_MAX);
    ck_assert_int_eq(fg_parse_int("-9223372036854775808", LLONG_MIN, 0, &v), FG_OK);
    ck_assert(v == LLONG_MIN);
    ck_assert_int_eq(fg_parse_int("9223372036854775808", 0, LLONG_MAX, &v), FG_ERR_INVAL);
    ck_assert_int_eq(fg_parse_int("99999999999999999999999", 0, LLONG_MAX, &v), FG_ERR_INVAL);
    static const char *const bad[] = {"", "-", "+1", " 1", "1 ", "1s", "0x10", "1.0", "--1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(fg_parse_int(bad[i], LLONG_MIN, LLONG_MAX, &v), FG_ERR_INVAL);
    ck_assert_int_eq(fg_parse_int(NULL, 0, 1, &v), FG_ERR_INVAL);
    ck_assert_int_eq(fg_parse_int("11", 0, 10, &v), FG_ERR_INVAL);
    ck_assert_int_eq(fg_parse_int("3", 4, 8, &v), FG_ERR_INVAL);
}
END_TEST

START_TEST(test_text_ok)
{
    ck_assert_int_eq(fg_text_ok("Erika M\xc3\xbcller", 200), 1);
    ck_assert_int_eq(fg_text_ok("J\xc3\xbcrgen M\xc3\xbc\xc3\x9fig \xf0\x9f\x98\x80", 200), 1);
    ck_assert_int_eq(fg_text_ok("", 200), 0);
    ck_assert_int_eq(fg_text_ok(NULL, 200), 0);
    ck_assert_int_eq(fg_text_ok("abcd", 3), 0);             /* too long */
    ck_assert_int_eq(fg_text_ok("a\x1b[31mb", 200), 0);      /* terminal escape */
    ck_assert_int_eq(fg_text_ok("a\nb", 200), 0);
    ck_assert_int_eq(fg_text_ok("a\x7f", 200), 0);           /* DEL */
    ck_assert_int_eq(fg_text_ok("a\xc2\x9b", 200), 0);       /* C1 CSI */
    ck_assert_int_eq(fg_text_ok("\xc2\xa0x", 200), 1);       /* NBSP is text */
    ck_assert_int_eq(fg_text_ok("\xed\xa0\x80x", 200), 0);   /* surrogate */
    ck_assert_int_eq(fg_text_ok("\xc0\xafx", 200), 0);       /* overlong '/' */
    ck_assert_int_eq(fg_text_ok("\xf4\x90\x80\x80", 200), 0); /* above U+10FFFF */
    ck_assert_int_eq(fg_text_ok("\xc3", 200), 0);           /* truncated */
}
END_TEST

static Suite *util_suite(void)
{
    Suite *s = suite_create("fg_util");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_strerror);
    tcase_add_test(tc, test_arena_small_and_zeroed);
    tcase_add_test(tc, test_arena_large);
    tcase_add_test(tc, test_arena_strings);
    tcase_add_test(tc, test_arena_free_null);
    tcase_add_test(tc, test_buf);
    tcase_add_test(tc, test_buf_html);
    tcase_add_test(tc, test_b64url_vectors);
    tcase_add_test(tc, test_b64url_edges);
    tcase_add_test(tc, test_hex_sha256);
    tcase_add_test(tc, test_sha1);
    tcase_add_test(tc, test_pct_encode);
    tcase_add_test(tc, test_random);
    tcase_add_test(tc, test_strncasecmp);
    tcase_add_test(tc, test_parse_int);
    tcase_add_test(tc, test_text_ok);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(util_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
