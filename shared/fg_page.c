/* fg_page.c - the browser pages in German and English, their script, style and headers. */
#include "fg_internal.h"
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Texts: one table per language, same keys in both.                         */

typedef struct {
    const char *key;
    const char *text;
} fg_text_t;

static const fg_text_t texts_de[] = {
    /* messages */
    {"login_failed", "Versicherungsnummer oder Passwort ist nicht korrekt."},
    {"too_many", "Zu viele Versuche. Bitte warten Sie einige Minuten und versuchen Sie es dann erneut."},
    {"unavailable", "Die Anmeldung ist vorübergehend nicht verfügbar. Bitte versuchen Sie es in Kürze erneut."},
    {"busy", "Gerade melden sich sehr viele Personen an. Bitte versuchen Sie es in wenigen Sekunden erneut."},
    {"csrf", "Das Formular ist abgelaufen. Bitte laden Sie die Seite neu und versuchen Sie es erneut."},
    {"session_expired", "Ihre Anmeldung ist abgelaufen. Bitte melden Sie sich erneut an."},
    {"no_device", "Für Ihr Konto ist noch keine Freigabe-App eingerichtet. Bitte richten Sie zuerst die App ein."},
    {"account_locked", "Ihr Zugang ist gesperrt. Bitte wenden Sie sich an unseren Kundenservice."},
    {"approval_denied", "Die Anmeldung wurde in der App abgelehnt."},
    {"approval_expired", "Die Freigabe ist abgelaufen. Sie können eine neue Freigabe anfordern."},
    {"superseded", "Diese Freigabe wurde durch eine neuere Anforderung ersetzt."},
    {"logged_out", "Sie wurden abgemeldet."},
    {"not_found", "Diese Seite gibt es nicht."},
    {"bad_request", "Die Anfrage war ungültig."},
    {"challenge_limit", "Sie haben zu viele Freigaben angefordert. Bitte warten Sie einige Minuten."},
    {"cooldown", "Eine Anmeldung wurde eben mit „Das war ich nicht“ abgelehnt. Bitte warten Sie einige Minuten, bevor Sie eine neue Freigabe anfordern."},
    {"approved", "Freigegeben. Sie werden weitergeleitet …"},
    {"pending", "Warten auf Ihre Bestätigung in der App …"},
    {"status_error", "Der Status kann gerade nicht abgefragt werden. Neuer Versuch läuft …"},
    {"method_not_allowed", "Diese Aktion ist hier nicht möglich."},
    {"forbidden", "Diese Anfrage ist nicht erlaubt."},
    {"update_required", "Bitte aktualisieren Sie die App."},
    /* page texts */
    {"page_title_login", "Anmelden"},
    {"label_customer", "Versicherungsnummer"},
    {"label_password", "Passwort"},
    {"button_login", "Anmelden"},
    {"page_title_approve", "Anmeldung mit der App bestätigen"},
    {"approve_intro", "Ihr Passwort ist bestätigt. Zum Schutz Ihres Kontos bestätigen Sie die Anmeldung zusätzlich in der Freigabe-App."},
    {"approve_next", "Öffnen Sie die App auf Ihrem Smartphone, nachdem Sie die Freigabe angefordert haben. Dort sehen Sie die Anfrage und bestätigen sie mit Ihrem App-Code."},
    {"button_approve", "Freigabe anfordern"},
    {"link_cancel", "Abbrechen"},
    {"page_title_wait", "Freigabe in der App"},
    {"wait_intro", "Öffnen Sie jetzt die Freigabe-App. Prüfen Sie, dass dort derselbe Code steht (oder geben Sie ihn dort ein), und geben Sie die Anmeldung frei."},
    {"code_label", "Ihr Code"},
    {"countdown_label", "Gültig noch"},
    {"button_finish", "Weiter"},
    {"button_retry", "Neue Freigabe anfordern"},
    {"noscript_hint", "Diese Seite aktualisiert sich automatisch."},
    {"page_title_logged_out", "Abgemeldet"},
    {"link_login", "Erneut anmelden"},
    {"page_title_error", "Das hat nicht geklappt"},
    {"link_back", "Zurück zur Anmeldung"},
    {NULL, NULL}};

static const fg_text_t texts_en[] = {
    /* messages */
    {"login_failed", "The customer number or password is not correct."},
    {"too_many", "Too many attempts. Please wait a few minutes and try again."},
    {"unavailable", "Login is temporarily unavailable. Please try again shortly."},
    {"busy", "Many people are logging in right now. Please try again in a few seconds."},
    {"csrf", "The form has expired. Please reload the page and try again."},
    {"session_expired", "Your login has expired. Please log in again."},
    {"no_device", "No approval app is set up for your account yet. Please set up the app first."},
    {"account_locked", "Your access is locked. Please contact our customer service."},
    {"approval_denied", "The login was declined in the app."},
    {"approval_expired", "The approval request has expired. You can request a new one."},
    {"superseded", "This approval request was replaced by a newer one."},
    {"logged_out", "You have been logged out."},
    {"not_found", "This page does not exist."},
    {"bad_request", "The request was not valid."},
    {"challenge_limit", "You have requested too many approvals. Please wait a few minutes."},
    {"cooldown", "A login was just declined with \"This was not me\". Please wait a few minutes before requesting a new approval."},
    {"approved", "Approved. Redirecting …"},
    {"pending", "Waiting for your confirmation in the app …"},
    {"status_error", "The status cannot be checked right now. Retrying …"},
    {"method_not_allowed", "This action is not possible here."},
    {"forbidden", "This request is not allowed."},
    {"update_required", "Please update the app."},
    /* page texts */
    {"page_title_login", "Log in"},
    {"label_customer", "Customer number"},
    {"label_password", "Password"},
    {"button_login", "Log in"},
    {"page_title_approve", "Confirm the login in the app"},
    {"approve_intro", "Your password is confirmed. To protect your account, please also confirm this login in the approval app."},
    {"approve_next", "Open the app on your smartphone after requesting the approval. It shows the request, which you confirm with your app code."},
    {"button_approve", "Request approval"},
    {"link_cancel", "Cancel"},
    {"page_title_wait", "Approve in the app"},
    {"wait_intro", "Open the approval app now. Check that it shows the same code (or enter the code there) and approve the login."},
    {"code_label", "Your code"},
    {"countdown_label", "Valid for"},
    {"button_finish", "Continue"},
    {"button_retry", "Request a new approval"},
    {"noscript_hint", "This page refreshes automatically."},
    {"page_title_logged_out", "Logged out"},
    {"link_login", "Log in again"},
    {"page_title_error", "Something went wrong"},
    {"link_back", "Back to login"},
    {NULL, NULL}};

static int is_en(const char *lang)
{
    return lang != NULL && strcmp(lang, "en") == 0;
}

/* fg_msg: the text for `key` in `lang` ("en", anything else is German). Returns a static
 * string; never NULL: an unknown key returns the key itself, NULL returns "". */
const char *fg_msg(const char *lang, const char *key)
{
    const fg_text_t *t = is_en(lang) ? texts_en : texts_de;

    if (key == NULL) {
        return "";
    }
    for (; t->key != NULL; t++) {
        if (strcmp(t->key, key) == 0) {
            return t->text;
        }
    }
    return key;
}

/* ------------------------------------------------------------------------ */
/* Headers, script and style.                                                */

const fg_header_t fg_security_headers[] = {
    {"Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"},
    {"Cache-Control", "no-store"},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "same-origin"},
    {"X-Frame-Options", "DENY"},
    {NULL, NULL}};

/* The wait page's behaviour: countdown, polling {prefix}/status, auto-finish. */
const char fg_static_js[] =
    "/* freigabe.js - live countdown and status polling for the Freigabe wait page. */\n"
    "(function () {\n"
    "  \"use strict\";\n"
    "  var root = document.getElementById(\"fg-wait\");\n"
    "  if (!root || !window.XMLHttpRequest) { return; }\n"
    "  var prefix = root.getAttribute(\"data-prefix\") || \"\";\n"
    "  var interval = Math.max(1, parseInt(root.getAttribute(\"data-interval\"), 10) || 2);\n"
    "  var left = Math.max(0, parseInt(root.getAttribute(\"data-expires-in\"), 10) || 0);\n"
    "  var status = root.getAttribute(\"data-status\") || \"authorization_pending\";\n"
    "  var statusEl = document.getElementById(\"fg-status\");\n"
    "  var countEl = document.getElementById(\"fg-countdown\");\n"
    "  var finish = document.getElementById(\"fg-finish\");\n"
    "  var retry = document.getElementById(\"fg-retry\");\n"
    "  var deadline = Date.now() + left * 1000;\n"
    "  var ticker = null, poller = null, done = false, busy = false, failures = 0;\n"
    "\n"
    "  function msg(name) { return root.getAttribute(\"data-msg-\" + name) || \"\"; }\n"
    "  function say(text) { if (statusEl && text && statusEl.textContent !== text) { statusEl.textContent = text; } }\n"
    "  function show(el, on) { if (el) { el.hidden = !on; } }\n"
    "  function fmt(s) { var m = Math.floor(s / 60), r = s % 60; return m + \":\" + (r < 10 ? \"0\" : \"\") + r; }\n"
    "\n"
    "  function tick() {\n"
    "    left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));\n"
    "    if (countEl) { countEl.textContent = fmt(left); }\n"
    "    if (left === 0 && !done) { schedule(0); }\n"
    "  }\n"
    "\n"
    "  function stop() {\n"
    "    done = true;\n"
    "    if (ticker) { clearInterval(ticker); }\n"
    "    if (poller) { clearTimeout(poller); }\n"
    "  }\n"
    "\n"
    "  function settle(st, reason) {\n"
    "    status = st;\n"
    "    root.setAttribute(\"data-status\", st);\n"
    "    if (st === \"approved\") {\n"
    "      stop();\n"
    "      say(msg(\"approved\"));\n"
    "      show(retry, false);\n"
    "      show(finish, true);\n"
    "      if (finish && !finish.getAttribute(\"data-sent\")) {\n"
    "        finish.setAttribute(\"data-sent\", \"1\");\n"
    "        finish.submit();\n"
    "      }\n"
    "    } else if (st === \"access_denied\" || st === \"expired_token\") {\n"
    "      stop();\n"
    "      if (countEl) { countEl.textContent = fmt(0); }\n"
    "      say(st === \"access_denied\" ? msg(\"denied\") : (reason === \"superseded\" ? msg(\"superseded\") : msg(\"expired\")));\n"
    "      show(finish, false);\n"
    "      show(retry, true);\n"
    "    } else {\n"
    "      say(msg(\"pending\"));\n"
    "    }\n"
    "  }\n"
    "\n"
    "  function schedule(seconds) {\n"
    "    if (done) { return; }\n"
    "    if (poller) { clearTimeout(poller); }\n"
    "    poller = setTimeout(poll, seconds * 1000);\n"
    "  }\n"
    "\n"
    "  function onAnswer(xhr) {\n"
    "    var data = null;\n"
    "    busy = false;\n"
    "    try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }\n"
    "    if (!data || typeof data.status !== \"string\") {\n"
    "      failures++;\n"
    "      say(msg(\"error\"));\n"
    "      schedule(Math.min(30, interval * Math.pow(2, failures)));\n"
    "      return;\n"
    "    }\n"
    "    failures = 0;\n"
    "    if (typeof data.expires_in === \"number\" && data.expires_in >= 0) {\n"
    "      deadline = Date.now() + data.expires_in * 1000;\n"
    "    }\n"
    "    var next = (typeof data.interval === \"number\" && data.interval > 0) ? data.interval : interval;\n"
    "    if (data.status === \"slow_down\") {\n"
    "      interval = Math.max(next, interval + 1);\n"
    "    } else {\n"
    "      interval = Math.max(1, next);\n"
    "    }\n"
    "    settle(data.status === \"slow_down\" ? \"authorization_pending\" : data.status, data.reason);\n"
    "    schedule(interval);\n"
    "  }\n"
    "\n"
    "  function poll() {\n"
    "    if (done || busy) { return; }\n"
    "    busy = true;\n"
    "    var xhr = new XMLHttpRequest();\n"
    "    xhr.open(\"GET\", prefix + \"/status\", true);\n"
    "    xhr.setRequestHeader(\"Accept\", \"application/json\");\n"
    "    xhr.timeout = 30000;\n"
    "    xhr.onload = function () { onAnswer(xhr); };\n"
    "    xhr.onerror = xhr.ontimeout = function () {\n"
    "      busy = false;\n"
    "      failures++;\n"
    "      say(msg(\"error\"));\n"
    "      schedule(Math.min(30, interval * Math.pow(2, failures)));\n"
    "    };\n"
    "    xhr.send();\n"
    "  }\n"
    "\n"
    "  if (status === \"authorization_pending\" || status === \"slow_down\") {\n"
    "    tick();\n"
    "    ticker = setInterval(tick, 1000);\n"
    "    schedule(interval);\n"
    "  } else {\n"
    "    settle(status, root.getAttribute(\"data-reason\"));\n"
    "  }\n"
    "})();\n";

const char fg_static_css[] =
    "/* freigabe.css - plain, accessible styling for the Freigabe pages. */\n"
    "*, *::before, *::after { box-sizing: border-box; }\n"
    "html { font-size: 100%; -webkit-text-size-adjust: 100%; }\n"
    "body {\n"
    "  margin: 0; padding: 1rem;\n"
    "  font-family: system-ui, -apple-system, \"Segoe UI\", Roboto, \"Helvetica Neue\", Arial, sans-serif;\n"
    "  font-size: 1rem; line-height: 1.5;\n"
    "  color: #1a1a1a; background: #f3f4f6;\n"
    "}\n"
    "main {\n"
    "  max-width: 28rem; margin: 2rem auto; padding: 1.5rem;\n"
    "  background: #ffffff; border: 1px solid #d1d5db; border-radius: 0.5rem;\n"
    "}\n"
    "h1 { font-size: 1.5rem; line-height: 1.25; margin: 0 0 1rem; }\n"
    "p { margin: 0 0 1rem; }\n"
    "label { display: block; font-weight: 600; margin: 1rem 0 0.25rem; }\n"
    "input[type=\"text\"], input[type=\"password\"] {\n"
    "  display: block; width: 100%; padding: 0.625rem 0.75rem;\n"
    "  font: inherit; color: inherit; background: #ffffff;\n"
    "  border: 1px solid #6b7280; border-radius: 0.25rem;\n"
    "}\n"
    "button {\n"
    "  display: inline-block; margin-top: 1.25rem; padding: 0.75rem 1.25rem; min-height: 44px;\n"
    "  font: inherit; font-weight: 600; color: #ffffff; background: #1d4ed8;\n"
    "  border: 2px solid #1d4ed8; border-radius: 0.25rem; cursor: pointer;\n"
    "}\n"
    "button:hover { background: #1e40af; border-color: #1e40af; }\n"
    ".fg-secondary { color: #1d4ed8; background: #ffffff; }\n"
    ".fg-secondary:hover { color: #ffffff; }\n"
    "a { color: #1d4ed8; text-decoration: underline; }\n"
    "a:hover { color: #1e3a8a; }\n"
    ":focus-visible, input:focus, button:focus, a:focus {\n"
    "  outline: 3px solid #b45309; outline-offset: 2px;\n"
    "}\n"
    ".fg-error {\n"
    "  padding: 0.75rem; color: #7f1d1d; background: #fef2f2;\n"
    "  border: 1px solid #b91c1c; border-left-width: 4px; border-radius: 0.25rem;\n"
    "}\n"
    ".fg-code {\n"
    "  margin: 1rem 0; font-size: 2.5rem; font-weight: 700; letter-spacing: 0.08em;\n"
    "  font-variant-numeric: tabular-nums; text-align: center; white-space: nowrap;\n"
    "}\n"
    ".fg-timer { text-align: center; color: #374151; }\n"
    ".fg-countdown { font-weight: 700; font-variant-numeric: tabular-nums; }\n"
    ".fg-status { min-height: 1.5em; text-align: center; font-weight: 600; }\n"
    ".fg-small { font-size: 0.875rem; color: #374151; }\n"
    "[hidden] { display: none !important; }\n"
    "@media (max-width: 30rem) {\n"
    "  body { padding: 0; }\n"
    "  main { margin: 0; border: 0; border-radius: 0; min-height: 100vh; }\n"
    "  .fg-code { font-size: 2rem; }\n"
    "  button { width: 100%; }\n"
    "}\n"
    "@media (prefers-color-scheme: dark) {\n"
    "  body { color: #f3f4f6; background: #111827; }\n"
    "  main { background: #1f2937; border-color: #374151; }\n"
    "  input[type=\"text\"], input[type=\"password\"] { color: #f9fafb; background: #111827; border-color: #9ca3af; }\n"
    "  a { color: #93c5fd; }\n"
    "  a:hover { color: #bfdbfe; }\n"
    "  .fg-secondary { color: #93c5fd; background: transparent; border-color: #93c5fd; }\n"
    "  .fg-timer, .fg-small { color: #d1d5db; }\n"
    "  .fg-error { color: #fee2e2; background: #450a0a; border-color: #f87171; }\n"
    "  :focus-visible, input:focus, button:focus, a:focus { outline-color: #fbbf24; }\n"
    "}\n"
    "@media (prefers-reduced-motion: reduce) { * { transition: none !important; } }\n";

/* ------------------------------------------------------------------------ */
/* Building blocks.                                                          */

typedef struct {
    fg_buf_t b;
    const char *lang;
    const char *prefix;
} page_t;

static void text(page_t *p, const char *key)
{
    fg_buf_html(&p->b, fg_msg(p->lang, key));
}

/* Opens the document: head with title, stylesheet, optional script and refresh. */
static void page_open(page_t *p, const char *title_key, int script, int refresh)
{
    fg_buf_printf(&p->b, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n",
                  is_en(p->lang) ? "en" : "de");
    fg_buf_puts(&p->b, "<meta charset=\"utf-8\">\n"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                       "<meta name=\"robots\" content=\"noindex, nofollow\">\n");
    if (refresh > 0) {
        fg_buf_printf(&p->b, "<noscript><meta http-equiv=\"refresh\" content=\"%d\"></noscript>\n",
                      refresh);
    }
    fg_buf_puts(&p->b, "<title>");
    text(p, title_key);
    fg_buf_puts(&p->b, "</title>\n<link rel=\"stylesheet\" href=\"");
    fg_buf_html(&p->b, p->prefix);
    fg_buf_puts(&p->b, "/static/freigabe.css\">\n");
    if (script) {
        fg_buf_puts(&p->b, "<script src=\"");
        fg_buf_html(&p->b, p->prefix);
        fg_buf_puts(&p->b, "/static/freigabe.js\" defer></script>\n");
    }
    fg_buf_puts(&p->b, "</head>\n<body>\n<main>\n<h1>");
    text(p, title_key);
    fg_buf_puts(&p->b, "</h1>\n");
}

static char *page_close(page_t *p)
{
    fg_buf_puts(&p->b, "</main>\n</body>\n</html>\n");
    return (char *)fg_buf_cstr(&p->b);
}

static void para(page_t *p, const char *cls, const char *key)
{
    fg_buf_printf(&p->b, "<p class=\"%s\">", cls);
    text(p, key);
    fg_buf_puts(&p->b, "</p>\n");
}

static void error_box(page_t *p, const char *key)
{
    if (key != NULL && *key != '\0') {
        fg_buf_puts(&p->b, "<p class=\"fg-error\" role=\"alert\">");
        text(p, key);
        fg_buf_puts(&p->b, "</p>\n");
    }
}

static void hidden(page_t *p, const char *name, const char *value)
{
    fg_buf_printf(&p->b, "<input type=\"hidden\" name=\"%s\" value=\"", name);
    fg_buf_html(&p->b, value != NULL ? value : "");
    fg_buf_puts(&p->b, "\">\n");
}

/* <form method="post" action="{prefix}{path}" id=... [hidden]> with the csrf field. */
static void form_open(page_t *p, const char *path, const char *id, int is_hidden,
                      const char *csrf)
{
    fg_buf_puts(&p->b, "<form method=\"post\" action=\"");
    fg_buf_html(&p->b, p->prefix);
    fg_buf_printf(&p->b, "%s\"", path);
    if (id != NULL) {
        fg_buf_printf(&p->b, " id=\"%s\"", id);
    }
    fg_buf_puts(&p->b, is_hidden ? " hidden>\n" : ">\n");
    hidden(p, "csrf", csrf);
}

static void form_close(page_t *p, const char *button_key, const char *cls)
{
    fg_buf_printf(&p->b, "<button type=\"submit\"%s%s%s>", cls ? " class=\"" : "",
                  cls ? cls : "", cls ? "\"" : "");
    text(p, button_key);
    fg_buf_puts(&p->b, "</button>\n</form>\n");
}

/* <a href="{href}">{text}</a> in a paragraph. */
static void link_para(page_t *p, const char *href, const char *key)
{
    fg_buf_puts(&p->b, "<p><a href=\"");
    fg_buf_html(&p->b, href);
    fg_buf_puts(&p->b, "\">");
    text(p, key);
    fg_buf_puts(&p->b, "</a></p>\n");
}

/* ------------------------------------------------------------------------ */
/* Pages.                                                                    */

static char *render_login(page_t *p, const fg_page_args_t *g)
{
    page_open(p, "page_title_login", 0, 0);
    error_box(p, g->error);
    form_open(p, "/login", "fg-login", 0, g->csrf);
    hidden(p, "rd", g->rd);
    fg_buf_puts(&p->b, "<label for=\"fg-customer\">");
    text(p, "label_customer");
    fg_buf_puts(&p->b, "</label>\n<input type=\"text\" id=\"fg-customer\" name=\"customer\" "
                       "autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" "
                       "required maxlength=\"64\" value=\"");
    fg_buf_html(&p->b, g->customer != NULL ? g->customer : "");
    fg_buf_puts(&p->b, "\">\n<label for=\"fg-password\">");
    text(p, "label_password");
    fg_buf_puts(&p->b, "</label>\n<input type=\"password\" id=\"fg-password\" name=\"password\" "
                       "autocomplete=\"current-password\" required maxlength=\"1024\">\n");
    form_close(p, "button_login", NULL);
    return page_close(p);
}

static char *render_approve(page_t *p, const fg_page_args_t *g)
{
    page_open(p, "page_title_approve", 0, 0);
    error_box(p, g->error);
    para(p, "fg-intro", "approve_intro");
    para(p, "fg-next", "approve_next");
    form_open(p, "/approve", "fg-approve", 0, g->csrf);
    form_close(p, "button_approve", NULL);
    fg_buf_puts(&p->b, "<p class=\"fg-small\"><a href=\"");
    fg_buf_html(&p->b, p->prefix);
    fg_buf_puts(&p->b, "/login\">");
    text(p, "link_cancel");
    fg_buf_puts(&p->b, "</a></p>\n");
    return page_close(p);
}

/* Digits grouped in threes from the left; a lone last digit borrows one ("48 27"). */
static void code_grouped(page_t *p, const char *code)
{
    size_t n = code != NULL ? strlen(code) : 0;
    size_t pos = 0;

    while (pos < n) {
        size_t rest = n - pos;
        size_t take = (rest == 4) ? 2 : (rest < 3 ? rest : 3);
        char part[4] = {0};
        memcpy(part, code + pos, take);
        if (pos > 0) {
            fg_buf_puts(&p->b, " ");
        }
        fg_buf_html(&p->b, part);
        pos += take;
    }
}

static int status_final(const char *st)
{
    return st != NULL && (strcmp(st, "approved") == 0 || strcmp(st, "access_denied") == 0 ||
                          strcmp(st, "expired_token") == 0);
}

static const char *status_key(const char *st)
{
    if (st == NULL) {
        return "pending";
    }
    if (strcmp(st, "approved") == 0) {
        return "approved";
    }
    if (strcmp(st, "access_denied") == 0) {
        return "approval_denied";
    }
    if (strcmp(st, "expired_token") == 0) {
        return "approval_expired";
    }
    return "pending";
}

/* The element the script drives: its settings and its texts as data attributes. */
static void wait_root(page_t *p, const fg_page_args_t *g, const char *status)
{
    static const char *const msgs[][2] = {
        {"pending", "pending"},       {"approved", "approved"},
        {"denied", "approval_denied"}, {"expired", "approval_expired"},
        {"superseded", "superseded"}, {"error", "status_error"}};

    fg_buf_puts(&p->b, "<div id=\"fg-wait\" class=\"fg-wait\" data-prefix=\"");
    fg_buf_html(&p->b, p->prefix);
    fg_buf_printf(&p->b, "\" data-interval=\"%d\" data-expires-in=\"%d\" data-status=\"",
                  g->interval > 0 ? g->interval : 2, g->expires_in > 0 ? g->expires_in : 0);
    fg_buf_html(&p->b, status);
    fg_buf_puts(&p->b, "\"");
    if (g->error != NULL && strcmp(g->error, "superseded") == 0) {
        fg_buf_puts(&p->b, " data-reason=\"superseded\"");
    }
    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        fg_buf_printf(&p->b, " data-msg-%s=\"", msgs[i][0]);
        text(p, msgs[i][1]);
        fg_buf_puts(&p->b, "\"");
    }
    fg_buf_puts(&p->b, ">\n");
}

static char *render_wait(page_t *p, const fg_page_args_t *g)
{
    const char *status = g->status != NULL ? g->status : "authorization_pending";
    int final = status_final(status);
    int approved = strcmp(status, "approved") == 0;
    int left = g->expires_in > 0 ? g->expires_in : 0;

    page_open(p, "page_title_wait", 1, final ? 0 : g->refresh);
    wait_root(p, g, status);
    para(p, "fg-intro", "wait_intro");
    fg_buf_puts(&p->b, "<p class=\"fg-small\">");
    text(p, "code_label");
    fg_buf_puts(&p->b, ":</p>\n<p class=\"fg-code\" id=\"fg-code\">");
    code_grouped(p, g->code);
    fg_buf_puts(&p->b, "</p>\n<p class=\"fg-timer\">");
    text(p, "countdown_label");
    fg_buf_printf(&p->b, " <span id=\"fg-countdown\" class=\"fg-countdown\">%d:%02d</span></p>\n",
                  final && !approved ? 0 : left / 60, final && !approved ? 0 : left % 60);
    fg_buf_puts(&p->b, "<p id=\"fg-status\" class=\"fg-status\" role=\"status\" aria-live=\"polite\">");
    text(p, g->error != NULL && *g->error != '\0' ? g->error : status_key(status));
    fg_buf_puts(&p->b, "</p>\n");
    form_open(p, "/finish", "fg-finish", !approved, g->csrf);
    form_close(p, "button_finish", NULL);
    form_open(p, "/approve", "fg-retry", !(final && !approved), g->csrf);
    form_close(p, "button_retry", "fg-secondary");
    if (!final && g->refresh > 0) {
        fg_buf_puts(&p->b, "<noscript><p class=\"fg-small\">");
        text(p, "noscript_hint");
        fg_buf_puts(&p->b, "</p></noscript>\n");
    }
    fg_buf_puts(&p->b, "</div>\n");
    return page_close(p);
}

/* {prefix}/login, with ?rd= when a return path is known. */
static const char *login_href(page_t *p, const char *rd)
{
    fg_arena_t *a = p->b.arena;

    if (rd == NULL || *rd == '\0') {
        return fg_arena_printf(a, "%s/login", p->prefix);
    }
    return fg_arena_printf(a, "%s/login?rd=%s", p->prefix, fg_pct_encode(a, rd));
}

static char *render_logged_out(page_t *p, const fg_page_args_t *g)
{
    page_open(p, "page_title_logged_out", 0, 0);
    para(p, "fg-intro", "logged_out");
    link_para(p, login_href(p, g->rd), "link_login");
    return page_close(p);
}

/* Only site-relative links are rendered; anything else falls back to the login page. */
static int href_is_local(const char *h)
{
    if (h == NULL || h[0] != '/' || h[1] == '/' || h[1] == '\\') {
        return 0;
    }
    for (; *h != '\0'; h++) {
        if ((unsigned char)*h < 0x20 || *h == 0x7f || *h == '\\') {
            return 0;
        }
    }
    return 1;
}

static char *render_error(page_t *p, const fg_page_args_t *g)
{
    const char *title = g->title_key != NULL ? g->title_key : "page_title_error";
    const char *msg = g->message_key != NULL ? g->message_key
                      : g->error != NULL     ? g->error
                                             : "bad_request";
    const char *href = href_is_local(g->link_href) ? g->link_href : login_href(p, NULL);

    page_open(p, title, 0, 0);
    fg_buf_puts(&p->b, "<p class=\"fg-error\" role=\"alert\">");
    text(p, msg);
    fg_buf_puts(&p->b, "</p>\n");
    link_para(p, href, g->link_key != NULL ? g->link_key : "link_back");
    return page_close(p);
}

/* fg_page_render: the complete UTF-8 HTML document for `page`. Every value from `args`
 * is HTML-escaped. Returns an arena string (freed with the arena), NULL for bad args. */
char *fg_page_render(fg_arena_t *a, fg_page_t page, const fg_page_args_t *args)
{
    page_t p;

    if (a == NULL || args == NULL) {
        return NULL;
    }
    fg_buf_init(&p.b, a);
    p.lang = is_en(args->lang) ? "en" : "de";
    p.prefix = args->prefix != NULL ? args->prefix : "/freigabe";
    switch (page) {
    case FG_PAGE_LOGIN:
        return render_login(&p, args);
    case FG_PAGE_APPROVE:
        return render_approve(&p, args);
    case FG_PAGE_WAIT:
        return render_wait(&p, args);
    case FG_PAGE_LOGGED_OUT:
        return render_logged_out(&p, args);
    case FG_PAGE_ERROR:
        return render_error(&p, args);
    }
    return NULL;
}
