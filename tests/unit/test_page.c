/* test_page.c - unit tests for fg_page.c: pages, escaping, texts, script, style, headers. */
#include "fg_internal.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    HAS(html, "Prüfen Sie, dass dort derselbe Code steht");
    LACKS(html, "geben Sie dort diesen Code ein");
    g.enter_mode = 1; /* number matching: the page says to type the code in the app */
    html = fg_page_render(A, FG_PAGE_WAIT, &g);
    HAS(html, "geben Sie dort diesen Code ein");
    LACKS(html, "Prüfen Sie, dass dort derselbe Code steht");
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
    HAS(html, "id=\"fg-retry\" hidden>"); /* denied: a new login, not a new request */
    HAS(html, "<p id=\"fg-relogin\"><a class=\"fg-button\" href=\"/freigabe/login\">");
    HAS(html, ">0:00</span>");

    g.status = "expired_token";
    g.error = "superseded";
    html = fg_page_render(A, FG_PAGE_WAIT, &g);
    HAS(html, fg_msg("de", "superseded"));
    HAS(html, "data-reason=\"superseded\"");

    /* fg_flow.c reports a superseded request as status "superseded" */
    g.status = "superseded";
    g.error = NULL;
    html = fg_page_render(A, FG_PAGE_WAIT, &g);
    HAS(html, "data-status=\"expired_token\" data-reason=\"superseded\"");
    HAS(html, "id=\"fg-retry\">");
    HAS(html, "id=\"fg-relogin\" hidden>");
    HAS(html, "role=\"status\" aria-live=\"polite\">" "Diese Freigabe wurde durch eine neuere");
    LACKS(html, "http-equiv=\"refresh\"");

    /* approved without a script: the page asks for the click the script would make */
    g.status = "approved";
    html = fg_page_render(A, FG_PAGE_WAIT, &g);
    HAS(html, fg_msg("de", "approved_continue"));
    HAS(html, "data-msg-approved=\"Freigegeben. Sie werden weitergeleitet");
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
    HAS(html, "<a class=\"fg-button\" href=\"/freigabe/login\">");
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
    HAS(html, "<h1>Vorübergehend nicht verfügbar</h1>"); /* generic title: one that fits */
    HAS(html, fg_msg("de", "unavailable"));
    HAS(html, "<a class=\"fg-button\" href=\"/freigabe/login\">");
    HAS(html, fg_msg("de", "link_back")); /* a caller's own link text stays */
    /* what fg_act_fail passes: generic title and link */
    g.title_key = "error_title";
    g.message_key = "too_many";
    g.link_key = "to_login";
    html = fg_page_render(A, FG_PAGE_ERROR, &g);
    HAS(html, "<h1>Zu viele Versuche</h1>");
    HAS(html, ">Zur Anmeldung</a>");
    g.title_key = "unavailable_title";
    g.message_key = "busy";
    html = fg_page_render(A, FG_PAGE_ERROR, &g);
    HAS(html, "<h1>Vorübergehend nicht verfügbar</h1>");
    HAS(html, ">Erneut versuchen</a>");
    g.title_key = "page_title_logged_out"; /* a specific title is kept */
    html = fg_page_render(A, FG_PAGE_ERROR, &g);
    HAS(html, "<h1>Abgemeldet</h1>");
    g.title_key = "page_title_error";
    g.message_key = "unavailable";
    g.link_key = "link_back";
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
        "button_retry", "status_error",    "approved_continue", "brand_name",
        "lang_other",   "step_1",          "title_too_many", "unavailable_title",
        "error_title",  "to_login",        "link_retry",     "hint_customer",
        "login_intro",  "title_denied",    "title_expired",  "title_session",
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
         "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"},
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
    /* the built-in mark as a file of its own: the favicon of every page */
    const char *body = NULL, *ctype = NULL;
    size_t len = 0;
    ck_assert_int_eq(fg_branding_asset(NULL, "/static/logo.svg", &body, &len, &ctype), 1);
    ck_assert_str_eq(ctype, "image/svg+xml");
    ck_assert_uint_eq(len, strlen(body));
    HAS(body, "xmlns=\"http://www.w3.org/2000/svg\"");
    ck_assert_int_eq(fg_branding_asset(NULL, "/static/logo.png", &body, &len, &ctype), 0);
    fg_arena_t *ar = fg_arena_new();
    fg_page_args_t args = {.lang = "de", .prefix = "/fg", .csrf = "c", .rd = "/"};
    HAS(fg_page_render(ar, FG_PAGE_LOGIN, &args), "<link rel=\"icon\" href=\"/fg/static/logo.svg\">");
    fg_arena_free(ar);
}
END_TEST


/* ---------------------------------------------------------------- language choice */

START_TEST(language_switch_and_kept_choice)
{
    fg_page_args_t g = args("de");
    char *html = fg_page_render(A, FG_PAGE_LOGIN, &g);
    /* the switch re-opens the same login (with its return path) in English */
    HAS(html, "<a href=\"/freigabe/login?rd=%2Fportal%2Fstart&amp;lang=en\" lang=\"en\" hreflang=\"en\">English</a>");
    HAS(html, "action=\"/freigabe/login\""); /* no explicit choice: nothing added */
    g = args("en");
    g.lang_param = "en";
    html = fg_page_render(A, FG_PAGE_LOGIN, &g);
    HAS(html, "action=\"/freigabe/login?lang=en\"");
    HAS(html, ">Deutsch</a>");
    html = fg_page_render(A, FG_PAGE_APPROVE, &g);
    HAS(html, "action=\"/freigabe/approve?lang=en\"");
    HAS(html, "href=\"/freigabe/login?lang=en\"");
    HAS(html, "href=\"/freigabe/approve?lang=de\"");
    g.status = "authorization_pending";
    html = fg_page_render(A, FG_PAGE_WAIT, &g);
    HAS(html, "action=\"/freigabe/finish?lang=en\"");
    HAS(html, "href=\"/freigabe/wait?lang=de\"");
    g.lang_param = "\"><x>"; /* only de/en are ever kept */
    html = fg_page_render(A, FG_PAGE_WAIT, &g);
    LACKS(html, "<x>");
    HAS(html, "action=\"/freigabe/finish\"");
    /* error pages have no switch (they answer a POST that cannot be repeated) */
    html = fg_page_render(A, FG_PAGE_ERROR, &g);
    LACKS(html, "fg-lang");
}
END_TEST

START_TEST(login_marks_errors_and_steps)
{
    fg_page_args_t g = args("de");
    char *html = fg_page_render(A, FG_PAGE_LOGIN, &g);
    HAS(html, "Schritt 1 von 3");
    HAS(html, "aria-describedby=\"fg-customer-hint\" autofocus");
    LACKS(html, "aria-invalid");
    g.error = "login_failed";
    g.customer = "12345";
    html = fg_page_render(A, FG_PAGE_LOGIN, &g);
    HAS(html, "<p class=\"fg-error\" id=\"fg-error\" role=\"alert\">");
    HAS(html, "aria-describedby=\"fg-customer-hint fg-error\" aria-invalid=\"true\"");
    HAS(html, "autocomplete=\"current-password\" required maxlength=\"1024\" aria-invalid=\"true\" "
              "aria-describedby=\"fg-error\" autofocus>");
    html = fg_page_render(A, FG_PAGE_APPROVE, &g);
    HAS(html, "Schritt 2 von 3");
    g.status = "authorization_pending";
    g.error = NULL;
    html = fg_page_render(A, FG_PAGE_WAIT, &g);
    HAS(html, "Schritt 3 von 3");
    HAS(html, "role=\"timer\"");
    HAS(html, "id=\"fg-meter\" aria-hidden=\"true\" hidden>");
}
END_TEST

/* ---------------------------------------------------------------- branding */

static char bdir[256];

/* A fresh branding directory for one test. */
static void brand_dir(void)
{
    const char *tmp = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
    snprintf(bdir, sizeof bdir, "%s/fgbrandXXXXXX", tmp);
    ck_assert_ptr_nonnull(mkdtemp(bdir));
}

static void brand_file(const char *name, const char *data, size_t len)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", bdir, name);
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void brand_text(const char *name, const char *text)
{
    brand_file(name, text, strlen(text));
}

static void brand_rm(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", bdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Loads bdir, expecting failure with exactly `want` after the directory path. */
static void brand_fails(const char *want)
{
    char err[512] = "", full[600];
    fg_branding_t *b = fg_branding_load(bdir, err, sizeof err);
    ck_assert_ptr_null(b);
    snprintf(full, sizeof full, want, bdir);
    ck_assert_str_eq(err, full);
}

START_TEST(branding_loads_and_renders_escaped)
{
    static const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    char err[512] = "";
    const char *body, *ctype;
    size_t len;
    fg_branding_t *b;
    fg_page_args_t g = args("de");
    char *html;

    brand_dir();
    brand_text("texts-de.txt", "\xef\xbb\xbf# Kommentar\n\n  brand_name =  Muster <Versicherung> & Co  \r\n"
                               "button_login=Jetzt \"anmelden\"\nfooter_text = Hilfe: 0800 <b>1</b>\n");
    brand_text("texts-en.txt", "button_login = Sign in\n");
    brand_text("brand.css", ":root { --fg-primary: #0f5c4c; }\n.x { background: url(data:image/png;base64,AAAA); }\n");
    brand_file("logo.png", png, sizeof png - 1);
    brand_text("README.md", "ignored\n");
    b = fg_branding_load(bdir, err, sizeof err);
    ck_assert_msg(b != NULL, "%s", err);

    ck_assert_str_eq(fg_page_text(b, "de", "button_login"), "Jetzt \"anmelden\"");
    ck_assert_str_eq(fg_page_text(b, "en", "button_login"), "Sign in");
    ck_assert_str_eq(fg_page_text(b, "en", "brand_name"), fg_msg("en", "brand_name"));
    ck_assert_str_eq(fg_page_text(b, "de", "label_password"), "Passwort");
    ck_assert_str_eq(fg_msg("de", "button_login"), "Anmelden"); /* built-ins untouched */

    ck_assert_int_eq(fg_branding_asset(b, "/static/logo.png", &body, &len, &ctype), 1);
    ck_assert_uint_eq(len, sizeof png - 1); /* binary, NUL bytes included */
    ck_assert_str_eq(ctype, "image/png");
    ck_assert_int_eq(fg_branding_asset(b, "/static/logo.svg", &body, &len, &ctype), 0);
    ck_assert_int_eq(fg_branding_asset(b, "/static/brand.css", &body, &len, &ctype), 1);
    ck_assert_str_eq(ctype, "text/css; charset=utf-8");
    ck_assert_int_eq(fg_branding_asset(NULL, "/static/brand.css", &body, &len, &ctype), 0);

    g.brand = b;
    html = fg_page_render(A, FG_PAGE_LOGIN, &g);
    common(html, "de");
    HAS(html, "<img class=\"fg-logo\" src=\"/freigabe/static/logo.png?v=");
    HAS(html, "alt=\"Muster &lt;Versicherung&gt; &amp; Co\">");
    HAS(html, "<link rel=\"stylesheet\" href=\"/freigabe/static/brand.css?v=");
    HAS(html, ">Jetzt &quot;anmelden&quot;</button>");
    HAS(html, "<footer class=\"fg-footer\"><p>Hilfe: 0800 &lt;b&gt;1&lt;/b&gt;</p></footer>");
    HAS(html, "<title>Anmelden – Muster &lt;Versicherung&gt; &amp; Co</title>");
    LACKS(html, "<b>");
    LACKS(html, "<Versicherung>");
    fg_branding_free(b);
    brand_rm();

    /* no branding: the built-in mark and name, no footer */
    g.brand = NULL;
    html = fg_page_render(A, FG_PAGE_LOGIN, &g);
    HAS(html, "<svg class=\"fg-logo\"");
    HAS(html, "<span class=\"fg-brand-name\">Kundenportal</span>");
    LACKS(html, "<footer");
    LACKS(html, "brand.css");
}
END_TEST

START_TEST(branding_svg_logo)
{
    char err[512] = "";
    const char *body, *ctype;
    size_t len;
    fg_branding_t *b;

    brand_dir();
    brand_text("logo.svg", "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
                           "viewBox=\"0 0 10 10\"><rect width=\"10\" height=\"10\"/></svg>\n");
    b = fg_branding_load(bdir, err, sizeof err);
    ck_assert_msg(b != NULL, "%s", err);
    ck_assert_int_eq(fg_branding_asset(b, "/static/logo.svg", &body, &len, &ctype), 1);
    ck_assert_str_eq(ctype, "image/svg+xml");
    ck_assert_int_eq(strncmp(body, "<?xml", 5), 0);
    fg_branding_free(b);
    brand_rm();
}
END_TEST

START_TEST(branding_refuses_links_and_fifos)
{
    char target[300], link[300];

    brand_dir();
    snprintf(target, sizeof target, "%s/../fgsecret-%d", bdir, (int)getpid());
    FILE *f = fopen(target, "w");
    ck_assert_ptr_nonnull(f);
    fputs("key k1 c2VjcmV0\n", f);
    fclose(f);
    snprintf(link, sizeof link, "%s/brand.css", bdir);
    ck_assert_int_eq(symlink(target, link), 0);
    brand_fails("branding_dir: cannot read %s/brand.css: symbolic links are not accepted");
    unlink(link);
    unlink(target);
    ck_assert_int_eq(mkfifo(link, 0644), 0);
    brand_fails("branding_dir: %s/brand.css is not a regular file");
    brand_rm();
}
END_TEST

START_TEST(branding_errors_name_file_and_line)
{
    char big[300 * 1024];

    brand_dir();
    brand_text("texts-de.txt", "brand_name = A\n\nfoo = bar\n");
    brand_fails("branding_dir: %s/texts-de.txt line 3: unknown key \"foo\"");
    brand_text("texts-de.txt", "brand_name = A\nbutton_login = B \xff\n");
    brand_fails("branding_dir: %s/texts-de.txt line 2: not valid UTF-8");
    brand_text("texts-de.txt", "button_login = \xc0\xaf\n"); /* overlong '/' */
    brand_fails("branding_dir: %s/texts-de.txt line 1: not valid UTF-8");
    brand_text("texts-de.txt", "button_login = A\nbutton_login = B\n");
    brand_fails("branding_dir: %s/texts-de.txt line 2: \"button_login\" is set twice");
    brand_text("texts-de.txt", "button_login =\n");
    brand_fails("branding_dir: %s/texts-de.txt line 1: empty text for \"button_login\"");
    brand_text("texts-de.txt", "just text\n");
    brand_fails("branding_dir: %s/texts-de.txt line 1: expected key = value");
    brand_text("texts-de.txt", "button_login = a\tb\n");
    brand_fails("branding_dir: %s/texts-de.txt line 1: control character in the text");
    brand_text("texts-de.txt", "footer_text =\nbrand_name=\n"); /* these may be empty */
    brand_text("texts-en.txt", "# nothing\n");
    {
        char err[512];
        fg_branding_t *b = fg_branding_load(bdir, err, sizeof err);
        ck_assert_msg(b != NULL, "%s", err);
        ck_assert_str_eq(fg_page_text(b, "de", "brand_name"), "");
        fg_branding_free(b);
    }
    brand_text("Logo.SVG", "<svg/>");
    brand_fails("branding_dir: %s/Logo.SVG: unknown file (expected logo.svg or logo.png, "
                "brand.css, texts-de.txt, texts-en.txt)");
    brand_rm();

    brand_dir();
    brand_text("logo.svg", "<svg>\n<script>alert(1)</script></svg>");
    brand_fails("branding_dir: %s/logo.svg line 2: \"<script\" is not allowed in a logo");
    brand_text("logo.svg", "<svg\n onload = \"x()\"></svg>");
    brand_fails("branding_dir: %s/logo.svg line 2: event handler attributes are not allowed in a logo");
    brand_text("logo.svg", "<html></html>");
    brand_fails("branding_dir: %s/logo.svg: no <svg> element: not an SVG image");
    memset(big, ' ', sizeof big);
    memcpy(big, "<svg>", 5);
    brand_file("logo.svg", big, sizeof big);
    brand_fails("branding_dir: %s/logo.svg is too large (307200 bytes, at most 256 KiB)");
    brand_rm();

    brand_dir();
    brand_text("logo.png", "GIF89a");
    brand_fails("branding_dir: %s/logo.png: not a PNG image");
    brand_rm();

    brand_dir();
    brand_text("brand.css", ":root{}\n\n.a { background: url( 'https://evil.example/x.png'); }\n");
    brand_fails("branding_dir: %s/brand.css line 3: url() may only hold data: URLs (the pages "
                "load nothing from elsewhere)");
    brand_text("brand.css", "@import \"x.css\";\n");
    brand_fails("branding_dir: %s/brand.css line 1: @import is not allowed (put all rules in brand.css)");
    brand_rm();

    brand_dir();
    brand_rm();
    brand_fails("branding_dir: cannot open directory %s: No such file or directory");
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
    tcase_add_test(t, language_switch_and_kept_choice);
    tcase_add_test(t, login_marks_errors_and_steps);
    tcase_add_test(t, branding_loads_and_renders_escaped);
    tcase_add_test(t, branding_svg_logo);
    tcase_add_test(t, branding_errors_name_file_and_line);
    tcase_add_test(t, branding_refuses_links_and_fifos);
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
