/* test_parse.c - unit tests for fg_parse.c: cookies, forms, return paths, headers. */
#include "fg_internal.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>

static fg_arena_t *A;

static void setup(void)
{
    A = fg_arena_new();
    ck_assert_ptr_nonnull(A);
}

static void teardown(void)
{
    fg_arena_free(A);
    A = NULL;
}

static int reserved(const fg_config_t *c, const char *name)
{
    return fg_header_is_reserved(c, name, strlen(name));
}

/* ---------------------------------------------------------------- headers */

START_TEST(header_default_prefix)
{
    ck_assert_int_eq(reserved(NULL, "X-Freigabe-User"), 1);
    ck_assert_int_eq(reserved(NULL, "X-FREIGABE-USER"), 1);
    ck_assert_int_eq(reserved(NULL, "x_freigabe_user"), 1);
    ck_assert_int_eq(reserved(NULL, "x-freigabe_assertion"), 1);
    ck_assert_int_eq(reserved(NULL, "X-Freigabe-"), 1);
    ck_assert_int_eq(reserved(NULL, "X-Freigabe"), 1);
    ck_assert_int_eq(reserved(NULL, "x_freigabe"), 1);
    ck_assert_int_eq(reserved(NULL, "X-Freigabe-Anything-Else"), 1);
    ck_assert_int_eq(reserved(NULL, "X-Freigab"), 0);
    ck_assert_int_eq(reserved(NULL, "X-FreigabeUser"), 0);
    ck_assert_int_eq(reserved(NULL, "Freigabe-Client"), 0);
    ck_assert_int_eq(reserved(NULL, "Cookie"), 0);
    ck_assert_int_eq(reserved(NULL, ""), 0);
    ck_assert_int_eq(reserved(NULL, "X-Freigabe-User-Agent-Extra"), 1);
}
END_TEST

START_TEST(header_length_not_nul_terminated)
{
    const char buf[] = "X-Freigabe-UserGARBAGE";
    ck_assert_int_eq(fg_header_is_reserved(NULL, buf, 10), 1); /* "X-Freigabe" */
    ck_assert_int_eq(fg_header_is_reserved(NULL, buf, 9), 0);  /* "X-Freigab" */
    ck_assert_int_eq(fg_header_is_reserved(NULL, buf, 15), 1);
}
END_TEST

START_TEST(header_configured_prefix)
{
    fg_config_t *c = fg_config_new();
    char err[256];
    ck_assert_int_eq(fg_config_set(c, "header_prefix", "X-Portal-Auth-", err, sizeof err), FG_OK);
    ck_assert_int_eq(reserved(c, "x_portal_auth_user"), 1);
    ck_assert_int_eq(reserved(c, "X-PORTAL-AUTH"), 1);
    ck_assert_int_eq(reserved(c, "X-Portal-Auth-Name"), 1);
    ck_assert_int_eq(reserved(c, "X-Freigabe-User"), 0);
    ck_assert_int_eq(reserved(c, "X-Portal-Other"), 0);
    fg_config_free(c);
}
END_TEST

/* ---------------------------------------------------------------- cookies */

START_TEST(cookie_get_basic)
{
    const char *h = "a=1; __Host-freigabe=abc.def; b=2";
    ck_assert_str_eq(fg_cookie_get(A, h, "__Host-freigabe"), "abc.def");
    ck_assert_str_eq(fg_cookie_get(A, h, "a"), "1");
    ck_assert_str_eq(fg_cookie_get(A, h, "b"), "2");
    ck_assert_ptr_null(fg_cookie_get(A, h, "c"));
    ck_assert_ptr_null(fg_cookie_get(A, NULL, "a"));
    ck_assert_ptr_null(fg_cookie_get(A, "", "a"));
}
END_TEST

START_TEST(cookie_get_spacing_and_quotes)
{
    ck_assert_str_eq(fg_cookie_get(A, "  a = 1 ;b=2", "a"), "1");
    ck_assert_str_eq(fg_cookie_get(A, "a=1;b=2", "b"), "2");
    ck_assert_str_eq(fg_cookie_get(A, "a=1;\tb =\t2\t", "b"), "2");
    ck_assert_str_eq(fg_cookie_get(A, "x=\"quoted value\"", "x"), "quoted value");
    ck_assert_str_eq(fg_cookie_get(A, "x=\"", "x"), "\"");
    ck_assert_str_eq(fg_cookie_get(A, "x=", "x"), "");
    ck_assert_str_eq(fg_cookie_get(A, ";;; x=1;;", "x"), "1");
    ck_assert_str_eq(fg_cookie_get(A, "x=a=b=c", "x"), "a=b=c");
}
END_TEST

START_TEST(cookie_get_first_wins_and_exact_name)
{
    ck_assert_str_eq(fg_cookie_get(A, "s=first; s=second", "s"), "first");
    /* names are case-sensitive and must match exactly */
    ck_assert_ptr_null(fg_cookie_get(A, "S=1", "s"));
    ck_assert_ptr_null(fg_cookie_get(A, "freigabe-pre=1", "freigabe"));
    ck_assert_str_eq(fg_cookie_get(A, "freigabe-pre=1; freigabe=2", "freigabe"), "2");
    ck_assert_str_eq(fg_cookie_get(A, "freigabe=2; freigabe-pre=1", "freigabe-pre"), "1");
    /* a pair without '=' is not a cookie named like its text */
    ck_assert_ptr_null(fg_cookie_get(A, "freigabe; x=1", "freigabe"));
}
END_TEST

START_TEST(cookie_strip)
{
    const char *names[] = {"__Host-freigabe", "__Host-freigabe-pre"};
    ck_assert_ptr_null(fg_cookie_strip(A, "a=1; b=2", names, 2));
    ck_assert_ptr_null(fg_cookie_strip(A, NULL, names, 2));
    ck_assert_str_eq(fg_cookie_strip(A, "a=1; __Host-freigabe=x; b=2", names, 2), "a=1; b=2");
    ck_assert_str_eq(fg_cookie_strip(A, "__Host-freigabe=x", names, 2), "");
    ck_assert_str_eq(fg_cookie_strip(A, "__Host-freigabe=x;__Host-freigabe-pre=y", names, 2), "");
    /* other cookies byte-exact, odd spacing normalised only between pairs */
    ck_assert_str_eq(fg_cookie_strip(A, "  theme=\"dark mode\" ;__Host-freigabe=x;  lang = de ", names, 2),
                     "theme=\"dark mode\"; lang = de");
    /* duplicates all removed */
    ck_assert_str_eq(fg_cookie_strip(A, "__Host-freigabe=1; k=v; __Host-freigabe=2", names, 2), "k=v");
    /* look-alikes stay */
    ck_assert_str_eq(fg_cookie_strip(A, "__host-freigabe=1; __Host-freigabe=2", names, 2),
                     "__host-freigabe=1");
    /* nameless pieces are kept as they are */
    ck_assert_str_eq(fg_cookie_strip(A, "flag; __Host-freigabe=2", names, 2), "flag");
    /* spaces around the name still identify our cookie */
    ck_assert_str_eq(fg_cookie_strip(A, "a=1;  __Host-freigabe =2", names, 2), "a=1");
}
END_TEST

/* fg_upstream_cookie: all four names of the module's cookies, nothing else */
START_TEST(upstream_cookie)
{
    ck_assert_ptr_null(fg_upstream_cookie(A, "theme=dark"));
    ck_assert_ptr_null(fg_upstream_cookie(A, NULL));
    ck_assert_str_eq(fg_upstream_cookie(A, "freigabe=s; theme=dark; freigabe-pre=p"), "theme=dark");
    ck_assert_str_eq(fg_upstream_cookie(A, "__Host-freigabe=s; __Host-freigabe-pre=p"), "");
    ck_assert_str_eq(fg_upstream_cookie(A, "freigabex=1; freigabe=2"), "freigabex=1");
}
END_TEST

/* ---------------------------------------------------------------- forms */

static const char *form(const char *body, const char *name)
{
    return fg_form_get(A, body, strlen(body), name);
}

START_TEST(form_basic)
{
    ck_assert_str_eq(form("customer=12345&password=secret", "customer"), "12345");
    ck_assert_str_eq(form("customer=12345&password=secret", "password"), "secret");
    ck_assert_ptr_null(form("customer=12345", "csrf"));
    ck_assert_str_eq(form("a=&b=2", "a"), "");
    ck_assert_str_eq(form("flag&b=2", "flag"), "");
    ck_assert_str_eq(form("&&a=1&&", "a"), "1");
    ck_assert_ptr_null(fg_form_get(A, NULL, 0, "a"));
}
END_TEST

START_TEST(form_decoding)
{
    ck_assert_str_eq(form("name=J%C3%BCrgen+M%c3%bc%C3%9Fig", "name"), "J\xc3\xbcrgen M\xc3\xbc\xc3\x9fig");
    ck_assert_str_eq(form("rd=%2Fportal%3Fx%3D1%26y%3D2", "rd"), "/portal?x=1&y=2");
    ck_assert_str_eq(form("p=a%2Bb+c", "p"), "a+b c");
    ck_assert_str_eq(form("p=%25", "p"), "%");
    ck_assert_str_eq(form("my+key=v", "my key"), "v");
    ck_assert_str_eq(form("my%20key=v", "my key"), "v");
}
END_TEST

START_TEST(form_invalid)
{
    ck_assert_ptr_null(form("p=%", "p"));
    ck_assert_ptr_null(form("p=%4", "p"));
    ck_assert_ptr_null(form("p=%zz", "p"));
    ck_assert_ptr_null(form("p=%G1", "p"));
    ck_assert_ptr_null(form("p=ab%00cd", "p"));
    ck_assert_ptr_null(form("p=abc%", "p"));
    /* a raw NUL byte inside the length */
    ck_assert_ptr_null(fg_form_get(A, "p=a\0b", 5, "p"));
    /* an invalid first occurrence is not rescued by a later one */
    ck_assert_ptr_null(form("p=%zz&p=ok", "p"));
    /* other fields are unaffected */
    ck_assert_str_eq(form("p=%zz&q=ok", "q"), "ok");
}
END_TEST

START_TEST(form_duplicates_and_length)
{
    ck_assert_str_eq(form("csrf=first&csrf=second", "csrf"), "first");
    ck_assert_str_eq(form("csrfx=1&csrf=2", "csrf"), "2");
    /* length is respected: the body is not NUL-terminated where it ends */
    ck_assert_str_eq(fg_form_get(A, "a=12345&b=2", 4, "a"), "12");
    ck_assert_ptr_null(fg_form_get(A, "a=12345&b=2", 4, "b"));
    ck_assert_ptr_null(fg_form_get(A, "a=%41", 4, "a"));
}
END_TEST

/* ---------------------------------------------------------------- return path */

static const char *rp(const char *rd)
{
    return fg_return_path(A, rd, "/FALLBACK");
}

START_TEST(return_path_accepts_site_paths)
{
    ck_assert_str_eq(rp("/"), "/");
    ck_assert_str_eq(rp("/portal"), "/portal");
    ck_assert_str_eq(rp("/portal/contracts?id=7&view=full#top"), "/portal/contracts?id=7&view=full#top");
    ck_assert_str_eq(rp("/search?q=https://example.org"), "/search?q=https://example.org");
    ck_assert_str_eq(rp("/m%C3%BCller"), "/m%C3%BCller");
    ck_assert_str_eq(rp("/a%20b"), "/a%20b");
    ck_assert_str_eq(rp("/100%25"), "/100%25");
    ck_assert_str_eq(rp("/a/./b/../c"), "/a/./b/../c");
}
END_TEST

START_TEST(return_path_rejects_offsite)
{
    static const char *bad[] = {
        "//evil.example",       "//evil.example/path", "/\\evil.example",  "\\\\evil",
        "/%2F%2Fevil",          "/%2f/evil",           "/%5Cevil",         "/%5cevil",
        "https://evil",         "http://evil/",        "javascript:alert(1)",
        "JavaScript:alert(1)",  "data:text/html,x",    "evil.example",     "",
        "/a\\b",                "/%09/evil",           "/\t/evil",         "/\n/evil",
        "/\r\nLocation: x",     "/a%0d%0aSet-Cookie:x", "/%00",            "/%252F%252Fevil",
        "/%25252F%25252Fevil",  "/x://evil",           "/%3A//evil",       "/a b",
        "/\x7f",                "/\xc3\xbc",           "/%zz",             "/a%",
        "/\"onmouseover=",      "/<script>",           " /portal",         "/%255Cevil",
        "/ %2F/evil",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(strcmp(rp(bad[i]), "/FALLBACK") == 0, "accepted: %s", bad[i]);
    }
    ck_assert_ptr_null(fg_return_path(A, "//evil", NULL));
    ck_assert_str_eq(fg_return_path(A, NULL, "/d"), "/d");
}
END_TEST

START_TEST(return_path_length)
{
    char *s = malloc(2050);
    memset(s, 'a', 2049);
    s[0] = '/';
    s[2048] = '\0';
    ck_assert_str_eq(rp(s), s); /* exactly 2048 */
    s[2048] = 'a';
    s[2049] = '\0';
    ck_assert_str_eq(rp(s), "/FALLBACK");
    free(s);
}
END_TEST

/* ---------------------------------------------------------------- classification */

static fg_request_t nav(void)
{
    fg_request_t r;
    memset(&r, 0, sizeof r);
    r.method = "GET";
    r.path = "/portal";
    r.host = "portal.example";
    r.https = 1;
    r.accept = "text/html,application/xhtml+xml,*/*;q=0.8";
    return r;
}

START_TEST(navigation)
{
    fg_request_t r = nav();
    ck_assert_int_eq(fg_request_is_navigation(&r), 1);
    r.method = "HEAD";
    ck_assert_int_eq(fg_request_is_navigation(&r), 1);
    r.sec_fetch_mode = "navigate";
    ck_assert_int_eq(fg_request_is_navigation(&r), 1);
    r.sec_fetch_mode = "cors";
    ck_assert_int_eq(fg_request_is_navigation(&r), 0);
    r = nav();
    r.method = "POST";
    ck_assert_int_eq(fg_request_is_navigation(&r), 0);
    r = nav();
    r.accept = "application/json";
    ck_assert_int_eq(fg_request_is_navigation(&r), 0);
    r.accept = NULL;
    ck_assert_int_eq(fg_request_is_navigation(&r), 0);
    r = nav();
    r.accept = "TEXT/HTML";
    ck_assert_int_eq(fg_request_is_navigation(&r), 1);
    r.x_requested_with = "XMLHttpRequest";
    ck_assert_int_eq(fg_request_is_navigation(&r), 0);
}
END_TEST

START_TEST(same_origin)
{
    fg_request_t r = nav();
    r.method = "POST";
    ck_assert_int_eq(fg_request_same_origin(&r), 1); /* nothing to judge by */
    r.origin = "https://portal.example";
    ck_assert_int_eq(fg_request_same_origin(&r), 1);
    r.origin = "https://PORTAL.example:443";
    ck_assert_int_eq(fg_request_same_origin(&r), 1);
    r.origin = "http://portal.example";
    ck_assert_int_eq(fg_request_same_origin(&r), 0);
    r.origin = "https://portal.example.evil";
    ck_assert_int_eq(fg_request_same_origin(&r), 0);
    r.origin = "https://evil.example";
    ck_assert_int_eq(fg_request_same_origin(&r), 0);
    r.origin = "null";
    ck_assert_int_eq(fg_request_same_origin(&r), 0);
    r.origin = "https://portal.example:8443";
    ck_assert_int_eq(fg_request_same_origin(&r), 0);
    r.origin = "https://portal.example/";
    ck_assert_int_eq(fg_request_same_origin(&r), 0);
    r.origin = NULL;
    r.sec_fetch_site = "same-origin";
    ck_assert_int_eq(fg_request_same_origin(&r), 1);
    r.sec_fetch_site = "same-site";
    ck_assert_int_eq(fg_request_same_origin(&r), 0);
    r.sec_fetch_site = "cross-site";
    ck_assert_int_eq(fg_request_same_origin(&r), 0);
    r.origin = "https://portal.example";
    ck_assert_int_eq(fg_request_same_origin(&r), 0);
}
END_TEST

START_TEST(same_origin_ports_and_referer)
{
    fg_request_t r = nav();
    r.method = "POST";
    r.https = 0;
    r.host = "localhost:8080";
    r.origin = "http://localhost:8080";
    ck_assert_int_eq(fg_request_same_origin(&r), 1);
    r.origin = "http://localhost";
    ck_assert_int_eq(fg_request_same_origin(&r), 0);
    r.origin = NULL;
    r.referer = "http://localhost:8080/freigabe/login?rd=/";
    ck_assert_int_eq(fg_request_same_origin(&r), 1);
    r.referer = "http://localhost:8080";
    ck_assert_int_eq(fg_request_same_origin(&r), 1);
    r.referer = "http://localhost:8080.evil/x";
    ck_assert_int_eq(fg_request_same_origin(&r), 0);
    r.referer = "https://localhost:8080/"; /* TLS ended in front of the server */
    ck_assert_int_eq(fg_request_same_origin(&r), 1);
    r.referer = "http://evil/?http://localhost:8080/";
    ck_assert_int_eq(fg_request_same_origin(&r), 0);
    r.host = NULL;
    r.referer = "http://localhost:8080/";
    ck_assert_int_eq(fg_request_same_origin(&r), 0);
}
END_TEST

/* Behind a TLS-terminating proxy the server sees plain HTTP while the browser's origin is
 * https://host: accepted, with https' default port; the reverse never is. */
START_TEST(same_origin_behind_tls_proxy)
{
    fg_request_t r = nav();
    r.method = "POST";
    r.https = 0;
    r.host = "portal.example";
    r.origin = "https://portal.example";
    ck_assert_int_eq(fg_request_same_origin(&r), 1);
    r.origin = "https://portal.example:443";
    ck_assert_int_eq(fg_request_same_origin(&r), 1);
    r.origin = "http://portal.example";
    ck_assert_int_eq(fg_request_same_origin(&r), 1);
    r.origin = "https://evil.example";
    ck_assert_int_eq(fg_request_same_origin(&r), 0);
    r.origin = "https://portal.example:8443";
    ck_assert_int_eq(fg_request_same_origin(&r), 0);
    r.https = 1; /* over TLS: only the https origin */
    r.origin = "http://portal.example";
    ck_assert_int_eq(fg_request_same_origin(&r), 0);
    r.origin = "https://portal.example";
    ck_assert_int_eq(fg_request_same_origin(&r), 1);
}
END_TEST

/* ---------------------------------------------------------------- language */

START_TEST(lang_pick)
{
    ck_assert_str_eq(fg_lang_pick(NULL, NULL, NULL), "de");
    ck_assert_str_eq(fg_lang_pick(NULL, NULL, "en"), "en");
    ck_assert_str_eq(fg_lang_pick("en-US,en;q=0.9", NULL, "de"), "en");
    ck_assert_str_eq(fg_lang_pick("de-DE,de;q=0.9,en;q=0.8", NULL, "en"), "de");
    ck_assert_str_eq(fg_lang_pick("fr, en;q=0.5, de;q=0.7", NULL, "en"), "de");
    ck_assert_str_eq(fg_lang_pick("de;q=0.1, en", NULL, "de"), "en");
    ck_assert_str_eq(fg_lang_pick("de;q=0, en;q=0.001", NULL, "de"), "en");
    ck_assert_str_eq(fg_lang_pick("fr-FR, it", NULL, "en"), "en");
    ck_assert_str_eq(fg_lang_pick("fr-FR, it", NULL, "xx"), "de");
    ck_assert_str_eq(fg_lang_pick("EN-gb", NULL, "de"), "en");
    ck_assert_str_eq(fg_lang_pick("en;q=0.5,de;q=0.5", NULL, "de"), "en"); /* tie: first */
    ck_assert_str_eq(fg_lang_pick("english, deutsch", NULL, "de"), "de");
    ck_assert_str_eq(fg_lang_pick("en;q=bogus, de;q=0.2", NULL, "en"), "de");
    ck_assert_str_eq(fg_lang_pick("de", "en", "de"), "en");
    ck_assert_str_eq(fg_lang_pick("en", "de", "en"), "de");
    ck_assert_str_eq(fg_lang_pick("en", "fr", "de"), "en");
    ck_assert_str_eq(fg_lang_pick(",,;;,", NULL, "de"), "de");
}
END_TEST

static Suite *parse_suite(void)
{
    Suite *s = suite_create("parse");
    TCase *t = tcase_create("core");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, header_default_prefix);
    tcase_add_test(t, header_length_not_nul_terminated);
    tcase_add_test(t, header_configured_prefix);
    tcase_add_test(t, cookie_get_basic);
    tcase_add_test(t, cookie_get_spacing_and_quotes);
    tcase_add_test(t, cookie_get_first_wins_and_exact_name);
    tcase_add_test(t, cookie_strip);
    tcase_add_test(t, upstream_cookie);
    tcase_add_test(t, form_basic);
    tcase_add_test(t, form_decoding);
    tcase_add_test(t, form_invalid);
    tcase_add_test(t, form_duplicates_and_length);
    tcase_add_test(t, return_path_accepts_site_paths);
    tcase_add_test(t, return_path_rejects_offsite);
    tcase_add_test(t, return_path_length);
    tcase_add_test(t, navigation);
    tcase_add_test(t, same_origin);
    tcase_add_test(t, same_origin_ports_and_referer);
    tcase_add_test(t, same_origin_behind_tls_proxy);
    tcase_add_test(t, lang_pick);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(parse_suite());
    int failed;

    if (sodium_init() < 0) {
        return 1;
    }
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
