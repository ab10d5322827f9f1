/* test_page.c - unit tests for fg_page.c: pages, escaping, texts, script, style, headers. */
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

static fg_page_args_t args(const char *lang)
{
    fg_page_args_t g;
    memset(&g, 0, sizeof g);
    g.lang = lang;
    g.prefix = "/freigabe";
    g.csrf = "CSRF-TOKEN-123";
    g.rd = "/portal/start";
    return g;
}

#define HAS(html, s) ck_assert_msg(strstr((html), (s)) != NULL, "missing: %s", (s))
#define LACKS(html, s) ck_assert_msg(strstr((html), (s)) == NULL, "unexpected: %s", (s))

/* Markup every page shares: doctype, language, viewport, external style, no inline code. */
static void common(const char *html, const char *lang)
{
    char tag[32];
    ck_assert_ptr_nonnull(html);
    ck_assert_int_eq(strncmp(html, "<!DOCTYPE html>", 15), 0);
    snprintf(tag, sizeof tag, "<html lang=\"%s\">", lang);
    HAS(html, tag);
    HAS(html, "<meta charset=\"utf-8\">");
    HAS(html, "name=\"viewport\"");
    HAS(html, "<link rel=\"stylesheet\" href=\"/freigabe/static/freigabe.css\">");
    LACKS(html, "<style");
    LACKS(html, "<script>");
    LACKS(html, " style=");
    LACKS(html, " onclick");
    LACKS(html, " onload");
    HAS(html, "</html>");
}

/* ---------------------------------------------------------------- login */

START_TEST(login_de)
{
    fg_page_args_t g = args("de");
    char *html = fg_page_render(A, FG_PAGE_LOGIN, &g);
    common(html, "de");
    HAS(html, "Versicherungsnummer");
    HAS(html, "Passwort");
    HAS(html, ">Anmelden</button>");
    HAS(html, "action=\"/freigabe/login\"");
    HAS(html, "method=\"post\"");
    HAS(html, "name=\"customer\"");
    HAS(html, "autocomplete=\"username\"");
    HAS(html, "type=\"password\" id=\"fg-password\" name=\"password\"");
    HAS(html, "autocomplete=\"current-password\"");
    HAS(html, "<input type=\"hidden\" name=\"csrf\" value=\"CSRF-TOKEN-123\">");
    HAS(html, "<input type=\"hidden\" name=\"rd\" value=\"/portal/start\">");
    HAS(html, "<label for=\"fg-customer\">");
    HAS(html, "<label for=\"fg-password\">");
    LACKS(html, "fg-error");
    LACKS(html, "freigabe.js");
}
END_TEST

START_TEST(login_en_with_error)
{
    fg_page_args_t g = args("en");
    char *html;
    g.error = "login_failed";
    g.customer = "12345";
    html = fg_page_render(A, FG_PAGE_LOGIN, &g);
    common(html, "en");
    HAS(html, "Customer number");
    HAS(html, "Password");
    HAS(html, ">Log in</button>");
    HAS(html, "role=\"alert\"");
    HAS(html, fg_msg("en", "login_failed"));
    HAS(html, "value=\"12345\"");
    LACKS(html, "Versicherungsnummer");
}
END_TEST

START_TEST(login_escapes)
{
    fg_page_args_t g = args("de");
    char *html;
    g.customer = "\"><script>alert(1)</script>";
    g.rd = "/x\"><script>alert(2)</script>&'";
    g.csrf = "a\"b";
    g.prefix = "/p\"<x>";
    g.error = "<b>not-a-key</b>";
    html = fg_page_render(A, FG_PAGE_LOGIN, &g);
    ck_assert_ptr_nonnull(html);
    LACKS(html, "<script>");
    LACKS(html, "<b>");
    HAS(html, "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
    HAS(html, "/x&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;&amp;&#39;");
    HAS(html, "value=\"a&quot;b\"");
    HAS(html, "action=\"/p&quot;&lt;x&gt;/login\"");
    HAS(html, "&lt;b&gt;not-a-key&lt;/b&gt;");
}
END_TEST

START_TEST(unknown_lang_is_german)
{
    fg_page_args_t g = args("fr");
    char *html = fg_page_render(A, FG_PAGE_LOGIN, &g);
    common(html, "de");
    HAS(html, "Versicherungsnummer");
    g = args(NULL);
    g.prefix = NULL;
    html = fg_page_render(A, FG_PAGE_LOGIN, &g);
    common(html, "de");
    ck_assert_ptr_null(fg_page_render(A, FG_PAGE_LOGIN, NULL));
}
END_TEST

/* ---------------------------------------------------------------- approve */

START_TEST(approve_pages)
{
    fg_page_args_t g = args("de");
    char *html = fg_page_render(A, FG_PAGE_APPROVE, &g);
    common(html, "de");
    HAS(html, "Öffnen Sie die App");
    HAS(html, "action=\"/freigabe/approve\"");
    HAS(html, "method=\"post\"");
    HAS(html, "name=\"csrf\" value=\"CSRF-TOKEN-123\"");
    HAS(html, ">Freigabe anfordern</button>");
    g = args("en");
    g.error = "no_device";
    html = fg_page_render(A, FG_PAGE_APPROVE, &g);
    common(html, "en");
    HAS(html, ">Request approval</button>");
    HAS(html, "Open the app");
    HAS(html, fg_msg("en", "no_device"));
}
END_TEST

/* ---------------------------------------------------------------- wait */

START_TEST(wait_pending)
{
    fg_page_args_t g = args("de");
    char *html;
    g.code = "482913";
    g.expires_in = 120;
    g.interval = 2;
    g.status = "authorization_pending";
    g.refresh = 5;
    html = fg_page_render(A, FG_PAGE_WAIT, &g);
    common(html, "de");
    HAS(html, ">482 913<");
    HAS(html, ">2:00</span>");
    HAS(html, "aria-live=\"polite\"");
    HAS(html, "<script src=\"/freigabe/static/freigabe.js\" defer></script>");
    HAS(html, "<meta http-equiv=\"refresh\" content=\"5\">");
    HAS(html, "data-prefix=\"/freigabe\"");
    HAS(html, "data-interval=\"2\"");
    HAS(html, "data-expires-in=\"120\"");
    HAS(html, "data-status=\"authorization_pending\"");
    HAS(html, "id=\"fg-wait\"");
    HAS(html, "id=\"fg-countdown\"");
    HAS(html, "id=\"fg-status\"");
    HAS(html, "action=\"/freigabe/finish\" id=\"fg-finish\" hidden>");
    HAS(html, "action=\"/freigabe/approve\" id=\"fg-retry\" hidden>");
    HAS(html, ">Weiter</button>");
    HAS(html, "Neue Freigabe anfordern");
    HAS(html, fg_msg("de", "pending"));
    HAS(html, "name=\"csrf\" value=\"CSRF-TOKEN-123\"");
    HAS(html, "data-msg-approved=\"");
    HAS(html, "data-msg-expired=\"");
}
END_TEST

START_TEST(wait_approved_and_final)
{
    fg_page_args_t g = args("en");
    char *html;
    g.code = "482913";
    g.expires_in = 61;
    g.interval = 3;
    g.status = "approved";
    g.refresh = 5;
    html = fg_page_render(A, FG_PAGE_WAIT, &g);
    common(html, "en");
    HAS(html, "id=\"fg-finish\">");
    HAS(html, "id=\"fg-retry\" hidden>");
    HAS(html, ">Continue</button>");
    HAS(html, fg_msg("en", "approved"));
    LACKS(html, "http-equiv=\"refresh\"");
    HAS(html, ">1:01</span>");

    g.status = "expired_token";
    html = fg_page_render(A, FG_PAGE_WAIT, &g);
    HAS(html, "id=\"fg-finish\" hidden>");
    HAS(html, "id=\"fg-retry\">");
    HAS(html, ">Request a new approval</button>");
    HAS(html, fg_msg("en", "approval_expired"));
    LACKS(html, "http-equiv=\"refresh\"");

    g.status = "access_denied";
    g.lang = "de";
    html = fg_page_render(A, FG_PAGE_WAIT, &g);
    HAS(html, fg_msg("de", "approval_denied"));
    HAS(html, "id=\"fg-retry\">");

    g.status = "expired_token";
    g.error = "superseded";
    html = fg_page_render(A, FG_PAGE_WAIT, &g);
    HAS(html, fg_msg("de", "superseded"));
    HAS(html, "data-reason=\"superseded\"");
}
END_TEST

static const char *grouped(const char *code)
{
    fg_page_args_t g = args("de");
    char *html, *p, *end;
    g.code = code;
    g.status = "authorization_pending";
    html = fg_page_render(A, FG_PAGE_WAIT, &g);
    p = strstr(html, "id=\"fg-code\">");
    ck_assert_ptr_nonnull(p);
    p += strlen("id=\"fg-code\">");
    end = strchr(p, '<');
    return fg_arena_strndup(A, p, (size_t)(end - p));
}

START_TEST(wait_code_grouping)
{
    ck_assert_str_eq(grouped("4827"), "48 27");
    ck_assert_str_eq(grouped("48291"), "482 91");
    ck_assert_str_eq(grouped("482913"), "482 913");
    ck_assert_str_eq(grouped("4829135"), "482 91 35");
    ck_assert_str_eq(grouped("48291357"), "482 913 57");
    ck_assert_str_eq(grouped("<s>&"), "&lt;s &gt;&amp;");
}
END_TEST

START_TEST(wait_escapes)
{
    fg_page_args_t g = args("de");
    char *html;
    g.code = "<img>";
    g.status = "\"><script>x</script>";
    html = fg_page_render(A, FG_PAGE_WAIT, &g);
    LACKS(html, "<script>");
    LACKS(html, "<img>");
    HAS(html, "data-status=\"&quot;&gt;&lt;script&gt;");
}
END_TEST

/* ---------------------------------------------------------------- others */

START_TEST(logged_out)
{
    fg_page_args_t g = args("de");
    char *html;
    g.rd = NULL;
    html = fg_page_render(A, FG_PAGE_LOGGED_OUT, &g);
    common(html, "de");
    HAS(html, fg_msg("de", "logged_out"));
    HAS(html, "<a href=\"/freigabe/login\">");
    g = args("en");
    g.rd = "/portal?a=1&b=<x>";
    html = fg_page_render(A, FG_PAGE_LOGGED_OUT, &g);
    common(html, "en");
    HAS(html, "You have been logged out.");
    HAS(html, "href=\"/freigabe/login?rd=%2Fportal%3Fa%3D1%26b%3D%3Cx%3E\"");
}
END_TEST

START_TEST(error_page)
{
    fg_page_args_t g = args("de");
    char *html;
    g.title_key = "page_title_error";
    g.message_key = "unavailable";
    g.link_href = "/freigabe/login";
    g.link_key = "link_back";
    html = fg_page_render(A, FG_PAGE_ERROR, &g);
    common(html, "de");
    HAS(html, fg_msg("de", "page_title_error"));
    HAS(html, fg_msg("de", "unavailable"));
    HAS(html, "<a href=\"/freigabe/login\">");
    HAS(html, fg_msg("de", "link_back"));
    /* unsafe link targets are replaced by the login page */
    g.link_href = "javascript:alert(1)";
    html = fg_page_render(A, FG_PAGE_ERROR, &g);
    LACKS(html, "javascript:");
    HAS(html, "href=\"/freigabe/login\"");
    g.link_href = "//evil.example/";
    html = fg_page_render(A, FG_PAGE_ERROR, &g);
    LACKS(html, "evil.example");
    /* defaults */
    g = args("en");
    html = fg_page_render(A, FG_PAGE_ERROR, &g);
    common(html, "en");
    HAS(html, fg_msg("en", "bad_request"));
    HAS(html, "href=\"/freigabe/login\"");
}
END_TEST

/* ---------------------------------------------------------------- texts */

START_TEST(messages_complete)
{
    static const char *keys[] = {
        "login_failed", "too_many",        "unavailable",    "busy",
        "csrf",         "session_expired", "no_device",      "account_locked",
        "approval_denied", "approval_expired", "superseded", "logged_out",
        "not_found",    "bad_request",     "challenge_limit", "cooldown",
        "approved",     "pending",         "page_title_login", "page_title_error",
        "link_login",   "link_back",       "button_approve", "button_finish",
        "button_retry", "status_error",
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *de = fg_msg("de", keys[i]), *en = fg_msg("en", keys[i]);
        ck_assert_msg(strcmp(de, keys[i]) != 0, "no German text for %s", keys[i]);
        ck_assert_msg(strcmp(en, keys[i]) != 0, "no English text for %s", keys[i]);
        ck_assert_msg(strcmp(de, en) != 0, "untranslated %s", keys[i]);
        ck_assert_msg(strchr(de, '<') == NULL && strchr(en, '<') == NULL, "markup in %s", keys[i]);
    }
    ck_assert_str_eq(fg_msg("de", "no_such_key"), "no_such_key");
    ck_assert_str_eq(fg_msg(NULL, "login_failed"), fg_msg("de", "login_failed"));
    ck_assert_str_eq(fg_msg("en", NULL), "");
    ck_assert_str_eq(fg_msg("de", "button_approve"), "Freigabe anfordern");
    ck_assert_str_eq(fg_msg("de", "button_finish"), "Weiter");
}
END_TEST

START_TEST(security_headers)
{
    const char *want[][2] = {
        {"Content-Security-Policy",
         "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
         "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"},
        {"Cache-Control", "no-store"},
        {"X-Content-Type-Options", "nosniff"},
        {"Referrer-Policy", "same-origin"},
        {"X-Frame-Options", "DENY"},
    };
    size_t n = 0;
    for (; fg_security_headers[n].name != NULL; n++) {
        ck_assert_ptr_nonnull(fg_security_headers[n].value);
    }
    ck_assert_uint_eq(n, 5);
    for (size_t i = 0; i < 5; i++) {
        int found = 0;
        for (size_t j = 0; j < n; j++) {
            if (strcmp(fg_security_headers[j].name, want[i][0]) == 0) {
                ck_assert_str_eq(fg_security_headers[j].value, want[i][1]);
                found = 1;
            }
        }
        ck_assert_msg(found, "missing header %s", want[i][0]);
    }
}
END_TEST

START_TEST(static_assets)
{
    ck_assert_uint_gt(strlen(fg_static_js), 500);
    HAS(fg_static_js, "/status");
    HAS(fg_static_js, "slow_down");
    HAS(fg_static_js, "access_denied");
    HAS(fg_static_js, "expired_token");
    HAS(fg_static_js, "superseded");
    HAS(fg_static_js, "fg-finish");
    HAS(fg_static_js, "submit()");
    HAS(fg_static_js, "data-expires-in");
    LACKS(fg_static_js, "eval(");
    LACKS(fg_static_js, "innerHTML");
    ck_assert_uint_gt(strlen(fg_static_css), 200);
    HAS(fg_static_css, ":focus");
    HAS(fg_static_css, "[hidden]");
    LACKS(fg_static_css, "url(");
}
END_TEST

static Suite *page_suite(void)
{
    Suite *s = suite_create("page");
    TCase *t = tcase_create("core");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, login_de);
    tcase_add_test(t, login_en_with_error);
    tcase_add_test(t, login_escapes);
    tcase_add_test(t, unknown_lang_is_german);
    tcase_add_test(t, approve_pages);
    tcase_add_test(t, wait_pending);
    tcase_add_test(t, wait_approved_and_final);
    tcase_add_test(t, wait_code_grouping);
    tcase_add_test(t, wait_escapes);
    tcase_add_test(t, logged_out);
    tcase_add_test(t, error_page);
    tcase_add_test(t, messages_complete);
    tcase_add_test(t, security_headers);
    tcase_add_test(t, static_assets);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(page_suite());
    int failed;

    if (sodium_init() < 0) {
        return 1;
    }
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
