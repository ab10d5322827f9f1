/* test_hiredis.c - unit tests for shared/fg_hiredis.c: RESP bytes parsed by hiredis' own reader, converted to fg_reply_t. */
#include "fg_hiredis.h"

#include <check.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fg_arena_t *A;

static void setup(void)
{
    A = fg_arena_new();
}

static void teardown(void)
{
    fg_arena_free(A);
}

/* What a host does: hiredis reads the wire bytes, the engine gets a deep copy. The
 * hiredis reply is freed before the copy is looked at, so the copy must own its bytes. */
static const fg_reply_t *convert(const char *wire, size_t len)
{
    redisReader *rd = redisReaderCreate();
    void *out = NULL;
    ck_assert_ptr_nonnull(rd);
    ck_assert_int_eq(redisReaderFeed(rd, wire, len), REDIS_OK);
    ck_assert_int_eq(redisReaderGetReply(rd, &out), REDIS_OK);
    ck_assert_ptr_nonnull(out);
    redisReaderFree(rd);
    fg_reply_t *r = fg_reply_from_hiredis(A, out);
    /* scribble over the hiredis buffers before freeing them: nothing may point there */
    redisReply *h = out;
    if (h->str != NULL) {
        memset(h->str, '#', h->len);
    }
    freeReplyObject(out);
    ck_assert_ptr_nonnull(r);
    return r;
}
#define CONVERT(lit) convert(lit, sizeof(lit) - 1)

START_TEST(scalars)
{
    const fg_reply_t *r = CONVERT(":-42\r\n");
    ck_assert_int_eq(r->type, FG_R_INT);
    ck_assert_int_eq(r->integer, -42);

    r = CONVERT("$-1\r\n");
    ck_assert_int_eq(r->type, FG_R_NIL);

    r = CONVERT("+OK\r\n");
    ck_assert_int_eq(r->type, FG_R_STATUS);
    ck_assert_str_eq(r->str, "OK");
    ck_assert_uint_eq(r->len, 2);

    r = CONVERT("-NOSCRIPT No matching script.\r\n");
    ck_assert_int_eq(r->type, FG_R_ERR);
    ck_assert_str_eq(r->str, "NOSCRIPT No matching script.");

    r = CONVERT("$5\r\nhello\r\n");
    ck_assert_int_eq(r->type, FG_R_STR);
    ck_assert_str_eq(r->str, "hello");
    ck_assert_uint_eq(r->len, 5);
}
END_TEST

START_TEST(binary_and_empty_strings)
{
    /* a bulk string with NUL and CRLF inside keeps its length and bytes */
    const fg_reply_t *r = CONVERT("$6\r\na\0b\r\nc\r\n");
    ck_assert_int_eq(r->type, FG_R_STR);
    ck_assert_uint_eq(r->len, 6);
    ck_assert_int_eq(memcmp(r->str, "a\0b\r\nc", 6), 0);
    ck_assert_int_eq(r->str[6], '\0'); /* and is NUL-terminated for C string use */

    r = CONVERT("$0\r\n\r\n");
    ck_assert_int_eq(r->type, FG_R_STR);
    ck_assert_uint_eq(r->len, 0);
    ck_assert_str_eq(r->str, "");

    /* UTF-8 names arrive byte for byte */
    r = CONVERT("$13\r\nJ\xc3\xbcrgen M\xc3\xbc\xc3\x9f\r\n");
    ck_assert_uint_eq(r->len, 13);
    ck_assert_str_eq(r->str, "J\xc3\xbcrgen M\xc3\xbc\xc3\x9f");
}
END_TEST

START_TEST(nested_arrays)
{
    /* the shape the Lua scripts answer: a status word, numbers, nil, a nested array */
    const fg_reply_t *r = CONVERT("*5\r\n$7\r\npending\r\n:97\r\n$-1\r\n"
                                  "*2\r\n$1\r\na\r\n:2\r\n*0\r\n");
    ck_assert_int_eq(r->type, FG_R_ARRAY);
    ck_assert_uint_eq(r->n, 5);
    ck_assert_int_eq(r->elem[0]->type, FG_R_STR);
    ck_assert_str_eq(r->elem[0]->str, "pending");
    ck_assert_int_eq(r->elem[1]->type, FG_R_INT);
    ck_assert_int_eq(r->elem[1]->integer, 97);
    ck_assert_int_eq(r->elem[2]->type, FG_R_NIL);
    ck_assert_int_eq(r->elem[3]->type, FG_R_ARRAY);
    ck_assert_uint_eq(r->elem[3]->n, 2);
    ck_assert_str_eq(r->elem[3]->elem[0]->str, "a");
    ck_assert_int_eq(r->elem[3]->elem[1]->integer, 2);
    ck_assert_int_eq(r->elem[4]->type, FG_R_ARRAY);
    ck_assert_uint_eq(r->elem[4]->n, 0);

    /* an error inside an array (EXEC, scripts) stays an error */
    r = CONVERT("*2\r\n+OK\r\n-WRONGTYPE Operation against a key\r\n");
    ck_assert_int_eq(r->elem[0]->type, FG_R_STATUS);
    ck_assert_int_eq(r->elem[1]->type, FG_R_ERR);
    ck_assert_str_eq(r->elem[1]->str, "WRONGTYPE Operation against a key");

    /* a nil multi-bulk (e.g. a timed-out BLPOP) is NIL, not an empty array */
    r = CONVERT("*-1\r\n");
    ck_assert_int_eq(r->type, FG_R_NIL);
}
END_TEST

START_TEST(null_reply_is_nil)
{
    /* a command that failed before any reply (connection lost) hands the host NULL */
    fg_reply_t *r = fg_reply_from_hiredis(A, NULL);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->type, FG_R_NIL);
}
END_TEST

START_TEST(large_array)
{
    /* HGETALL of a big metrics hash: 2000 elements, each converted */
    char *wire = malloc(2000 * 16 + 16);
    size_t n = (size_t)sprintf(wire, "*2000\r\n");
    for (int i = 0; i < 2000; i++) {
        n += (size_t)sprintf(wire + n, ":%d\r\n", i);
    }
    const fg_reply_t *r = convert(wire, n);
    free(wire);
    ck_assert_uint_eq(r->n, 2000);
    ck_assert_int_eq(r->elem[1999]->integer, 1999);
    ck_assert_ptr_null(r->elem[2000]); /* NULL-terminated like the engine's own copies */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hiredis");
    TCase *tc = tcase_create("convert");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, scalars);
    tcase_add_test(tc, binary_and_empty_strings);
    tcase_add_test(tc, nested_arrays);
    tcase_add_test(tc, null_reply_is_nil);
    tcase_add_test(tc, large_array);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
