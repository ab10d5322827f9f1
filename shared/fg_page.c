/* fg_page.c - the browser pages in German and English, their script, style, headers and branding. */
#include "fg_internal.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Texts: one table per language, same keys in both.                         */

typedef struct {
    const char *key;
    const char *text;
} fg_text_t;

/* Both tables hold the same keys; test_page.c checks it. Admins override any of them with
 * texts-de.txt / texts-en.txt in branding_dir. */
static const fg_text_t texts_de[] = {
    /* messages */
    {"login_failed", "Versicherungsnummer oder Passwort ist nicht korrekt."},
    {"too_many", "Zu viele Versuche. Bitte warten Sie einige Minuten und versuchen Sie es dann erneut."},
    {"unavailable", "Die Anmeldung ist vorübergehend nicht verfügbar. Bitte versuchen Sie es in Kürze erneut."},
    {"busy", "Gerade melden sich sehr viele Personen an. Bitte versuchen Sie es in wenigen Sekunden erneut."},
    {"csrf", "Das Formular ist abgelaufen. Bitte laden Sie die Seite neu und versuchen Sie es erneut."},
    {"cross_site", "Diese Anfrage kam nicht von unserer Seite und wurde deshalb nicht ausgeführt. Bitte verwenden Sie die Schaltflächen im Portal."},
    {"session_expired", "Ihre Anmeldung ist abgelaufen. Bitte melden Sie sich erneut an."},
    {"no_device", "Für Ihr Konto ist noch keine Freigabe-App eingerichtet. Bitte richten Sie zuerst die App ein."},
    {"account_locked", "Ihr Zugang ist gesperrt. Bitte wenden Sie sich an unseren Kundenservice."},
    {"approval_denied", "Die Anmeldung wurde in der App abgelehnt. Wenn Sie das nicht selbst waren, wenden Sie sich bitte an unseren Kundenservice."},
    {"approval_expired", "Die Freigabe ist abgelaufen. Sie können eine neue Freigabe anfordern."},
    {"superseded", "Diese Freigabe wurde durch eine neuere Anforderung ersetzt, zum Beispiel in einem anderen Fenster."},
    {"logged_out", "Sie wurden abgemeldet."},
    {"not_found", "Diese Seite gibt es nicht."},
    {"bad_request", "Die Anfrage war ungültig."},
    {"challenge_limit", "Sie haben zu viele Freigaben angefordert. Bitte warten Sie einige Minuten."},
    {"cooldown", "Eine Anmeldung wurde eben mit „Das war ich nicht“ abgelehnt. Bitte warten Sie einige Minuten, bevor Sie eine neue Freigabe anfordern."},
    {"approved", "Freigegeben. Sie werden weitergeleitet …"},
    {"approved_continue", "Freigegeben. Bitte klicken Sie auf „Weiter“."},
    {"pending", "Warten auf Ihre Bestätigung in der App …"},
    {"status_error", "Der Status kann gerade nicht abgefragt werden. Neuer Versuch läuft …"},
    {"method_not_allowed", "Diese Aktion ist hier nicht möglich."},
    {"forbidden", "Diese Anfrage ist nicht erlaubt."},
    {"update_required", "Bitte aktualisieren Sie die App."},
    /* frame */
    {"brand_name", "Kundenportal"},
    {"footer_text", ""},
    {"lang_nav", "Sprache"},
    {"lang_other", "English"},
    {"step_1", "Schritt 1 von 3"},
    {"step_2", "Schritt 2 von 3"},
    {"step_3", "Schritt 3 von 3"},
    /* login */
    {"page_title_login", "Anmelden"},
    {"login_intro", "Melden Sie sich mit Ihrer Versicherungsnummer und Ihrem Passwort an."},
    {"label_customer", "Versicherungsnummer"},
    {"hint_customer", "Sie finden sie auf Ihrem Versicherungsschein."},
    {"label_password", "Passwort"},
    {"button_login", "Anmelden"},
    /* approval request */
    {"page_title_approve", "Anmeldung mit der App bestätigen"},
    {"approve_intro", "Ihr Passwort ist bestätigt. Zum Schutz Ihres Kontos bestätigen Sie die Anmeldung zusätzlich in der Freigabe-App."},
    {"approve_next", "Öffnen Sie die App auf Ihrem Smartphone, nachdem Sie die Freigabe angefordert haben. Dort sehen Sie die Anfrage und bestätigen sie mit Ihrer App-PIN."},
    {"button_approve", "Freigabe anfordern"},
    {"link_cancel", "Abbrechen"},
    /* waiting */
    {"page_title_wait", "Freigabe in der App"},
    {"wait_intro", "Öffnen Sie jetzt die Freigabe-App. Prüfen Sie, dass dort derselbe Code steht, und geben Sie die Anmeldung frei."},
    {"wait_intro_enter", "Öffnen Sie jetzt die Freigabe-App, geben Sie dort diesen Code ein und geben Sie die Anmeldung frei."},
    {"code_label", "Ihr Code"},
    {"countdown_label", "Gültig noch"},
    {"button_finish", "Weiter"},
    {"button_retry", "Neue Freigabe anfordern"},
    {"noscript_hint", "Diese Seite aktualisiert sich automatisch."},
    /* logged out, errors */
    {"page_title_logged_out", "Abgemeldet"},
    {"link_login", "Erneut anmelden"},
    {"page_title_error", "Das hat nicht geklappt"},
    {"error_title", "Das hat nicht geklappt"},
    {"unavailable_title", "Vorübergehend nicht verfügbar"},
    {"title_too_many", "Zu viele Versuche"},
    {"title_denied", "Anmeldung abgelehnt"},
    {"title_expired", "Freigabe abgelaufen"},
    {"title_session", "Anmeldung abgelaufen"},
    {"title_locked", "Zugang gesperrt"},
    {"title_no_device", "Freigabe-App fehlt"},
    {"title_not_found", "Seite nicht gefunden"},
    {"title_csrf", "Formular abgelaufen"},
    {"title_cross_site", "Anfrage abgewiesen"},
    {"link_back", "Zurück zur Anmeldung"},
    {"to_login", "Zur Anmeldung"},
    {"link_retry", "Erneut versuchen"},
    {NULL, NULL}};

static const fg_text_t texts_en[] = {
    /* messages */
    {"login_failed", "The customer number or password is not correct."},
    {"too_many", "Too many attempts. Please wait a few minutes and try again."},
    {"unavailable", "Login is temporarily unavailable. Please try again shortly."},
    {"busy", "Many people are logging in right now. Please try again in a few seconds."},
    {"csrf", "The form has expired. Please reload the page and try again."},
    {"cross_site", "This request did not come from our site and was not carried out. Please use the buttons in the portal."},
    {"session_expired", "Your login has expired. Please log in again."},
    {"no_device", "No approval app is set up for your account yet. Please set up the app first."},
    {"account_locked", "Your access is locked. Please contact our customer service."},
    {"approval_denied", "The login was declined in the app. If that was not you, please contact our customer service."},
    {"approval_expired", "The approval request has expired. You can request a new one."},
    {"superseded", "This approval request was replaced by a newer one, for example in another window."},
    {"logged_out", "You have been logged out."},
    {"not_found", "This page does not exist."},
    {"bad_request", "The request was not valid."},
    {"challenge_limit", "You have requested too many approvals. Please wait a few minutes."},
    {"cooldown", "A login was just declined with \"This was not me\". Please wait a few minutes before requesting a new approval."},
    {"approved", "Approved. Redirecting …"},
    {"approved_continue", "Approved. Please select \"Continue\"."},
    {"pending", "Waiting for your confirmation in the app …"},
    {"status_error", "The status cannot be checked right now. Retrying …"},
    {"method_not_allowed", "This action is not possible here."},
    {"forbidden", "This request is not allowed."},
    {"update_required", "Please update the app."},
    /* frame */
    {"brand_name", "Customer portal"},
    {"footer_text", ""},
    {"lang_nav", "Language"},
    {"lang_other", "Deutsch"},
    {"step_1", "Step 1 of 3"},
    {"step_2", "Step 2 of 3"},
    {"step_3", "Step 3 of 3"},
    /* login */
    {"page_title_login", "Log in"},
    {"login_intro", "Log in with your customer number and your password."},
    {"label_customer", "Customer number"},
    {"hint_customer", "You will find it on your insurance policy."},
    {"label_password", "Password"},
    {"button_login", "Log in"},
    /* approval request */
    {"page_title_approve", "Confirm the login in the app"},
    {"approve_intro", "Your password is confirmed. To protect your account, please also confirm this login in the approval app."},
    {"approve_next", "Open the app on your smartphone after requesting the approval. It shows the request, which you confirm with your app PIN."},
    {"button_approve", "Request approval"},
    {"link_cancel", "Cancel"},
    /* waiting */
    {"page_title_wait", "Approve in the app"},
    {"wait_intro", "Open the approval app now. Check that it shows the same code and approve the login."},
    {"wait_intro_enter", "Open the approval app now, enter this code there and approve the login."},
    {"code_label", "Your code"},
    {"countdown_label", "Valid for"},
    {"button_finish", "Continue"},
    {"button_retry", "Request a new approval"},
    {"noscript_hint", "This page refreshes automatically."},
    /* logged out, errors */
    {"page_title_logged_out", "Logged out"},
    {"link_login", "Log in again"},
    {"page_title_error", "Something went wrong"},
    {"error_title", "Something went wrong"},
    {"unavailable_title", "Temporarily unavailable"},
    {"title_too_many", "Too many attempts"},
    {"title_denied", "Login declined"},
    {"title_expired", "Approval expired"},
    {"title_session", "Login expired"},
    {"title_locked", "Access locked"},
    {"title_no_device", "Approval app missing"},
    {"title_not_found", "Page not found"},
    {"title_csrf", "Form expired"},
    {"title_cross_site", "Request refused"},
    {"link_back", "Back to login"},
    {"to_login", "Go to login"},
    {"link_retry", "Try again"},
    {NULL, NULL}};

_Static_assert(sizeof(texts_de) == sizeof(texts_en), "texts_de and texts_en differ in length");
#define FG_NTEXTS (sizeof(texts_de) / sizeof(texts_de[0]) - 1)

static int is_en(const char *lang)
{
    return lang != NULL && strcmp(lang, "en") == 0;
}

/* Index of `key` in the language's table, or -1. */
static int text_index(const fg_text_t *t, const char *key)
{
    for (int i = 0; t[i].key != NULL; i++) {
        if (strcmp(t[i].key, key) == 0) {
            return i;
        }
    }
    return -1;
}

/* fg_msg: the built-in text for `key` in `lang` ("en", anything else is German). Returns a
 * static string; never NULL: an unknown key returns the key itself, NULL returns "". */
const char *fg_msg(const char *lang, const char *key)
{
    return fg_page_text(NULL, lang, key);
}

/* ------------------------------------------------------------------------ */
/* Branding: the admin's logo, colours and texts, read once at start-up.     */

#define FG_LOGO_MAX (256 * 1024)
#define FG_CSS_MAX (64 * 1024)
#define FG_TEXTS_MAX (64 * 1024)
#define FG_TEXT_VALUE_MAX 1000

struct fg_branding {
    char *logo;            /* file contents (PNG is binary) */
    size_t logo_len;
    const char *logo_sub;  /* "/static/logo.svg" or "/static/logo.png" */
    const char *logo_type;
    char *css;
    size_t css_len;
    char logo_ver[17], css_ver[17]; /* content hashes, appended as ?v= (cache busting) */
    char *text[2][FG_NTEXTS];       /* [0] German, [1] English; NULL: built-in text */
};

/* Keys whose override may be empty (the brand name when the logo carries it). */
static int may_be_empty(const char *key)
{
    return strcmp(key, "brand_name") == 0 || strcmp(key, "footer_text") == 0;
}

static int bfail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bfail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(err, errlen, "branding_dir: ");

    if (n >= 0 && (size_t)n < errlen) {
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return FG_ERR_INVAL;
}

/* 0 when data is valid UTF-8 without NUL, else the 1-based line of the first bad byte. */
static size_t utf8_bad_line(const char *data, size_t len)
{
    const unsigned char *s = (const unsigned char *)data;
    size_t line = 1;

    for (size_t i = 0; i < len;) {
        size_t k = s[i] == 0 ? 0 : fg_utf8_seq(s + i, len - i);
        if (k == 0) {
            return line;
        }
        line += s[i] == '\n';
        i += k;
    }
    return 0;
}

/* Reads dir/name (a regular file of at most max bytes) into malloc'd *out (NUL-terminated). */
static int read_small(const char *path, size_t max, char **out, size_t *len, char *err,
                      size_t errlen)
{
    struct stat st;
    /* read as root at start-up and then served to everyone: no symlinks (a link to the
     * key file would publish it), no FIFOs or devices (they would block the start) */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    size_t n;

    *out = NULL;
    if (f == NULL) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
        }
        return bfail(err, errlen, "cannot read %s: %s", path,
                     e == ELOOP ? "symbolic links are not accepted" : strerror(e));
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return bfail(err, errlen, "%s is not a regular file", path);
    }
    if (st.st_mode & S_IWOTH) {
        fclose(f);
        return bfail(err, errlen, "%s is writable by everyone", path);
    }
    if ((unsigned long long)st.st_size > max) {
        fclose(f);
        return bfail(err, errlen, "%s is too large (%lld bytes, at most %zu KiB)", path,
                     (long long)st.st_size, max / 1024);
    }
    *out = malloc((size_t)st.st_size + 1);
    if (*out == NULL) {
        fclose(f);
        return bfail(err, errlen, "out of memory reading %s", path);
    }
    n = fread(*out, 1, (size_t)st.st_size, f);
    fclose(f);
    if (n != (size_t)st.st_size) {
        free(*out);
        *out = NULL;
        return bfail(err, errlen, "cannot read %s: short read", path);
    }
    (*out)[n] = '\0';
    *len = n;
    return FG_OK;
}

static void content_version(const char *data, size_t len, char out[17])
{
    unsigned char h[8];
    static const char hex[] = "0123456789abcdef";

    crypto_generichash(h, sizeof h, (const unsigned char *)data, len, NULL, 0);
    for (size_t i = 0; i < sizeof h; i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 15];
    }
    out[16] = '\0';
}

/* Case-insensitive search for needle in data[0..len). Returns the offset or -1. */
static long find_ci(const char *data, size_t len, const char *needle)
{
    size_t m = strlen(needle);

    for (size_t i = 0; i + m <= len; i++) {
        if (fg_strncasecmp(data + i, needle, m) == 0) {
            return (long)i;
        }
    }
    return -1;
}

static size_t line_of(const char *data, long off)
{
    size_t line = 1;
    for (long i = 0; i < off; i++) {
        line += data[i] == '\n';
    }
    return line;
}

/* An SVG logo is shown through <img> (where scripts never run) and served with a sandbox
 * CSP; still, a logo has no business carrying scripts or event handlers. */
static int check_svg(const char *path, const char *d, size_t n, char *err, size_t errlen)
{
    static const char *const banned[] = {"<script", "<foreignobject", "javascript:", "<!entity"};
    size_t bad = utf8_bad_line(d, n);

    if (bad != 0) {
        return bfail(err, errlen, "%s line %zu: not valid UTF-8", path, bad);
    }
    if (find_ci(d, n, "<svg") < 0) {
        return bfail(err, errlen, "%s: no <svg> element: not an SVG image", path);
    }
    for (size_t i = 0; i < sizeof(banned) / sizeof(banned[0]); i++) {
        long at = find_ci(d, n, banned[i]);
        if (at >= 0) {
            return bfail(err, errlen, "%s line %zu: \"%s\" is not allowed in a logo", path,
                         line_of(d, at), banned[i]);
        }
    }
    for (size_t i = 1; i + 3 < n; i++) { /* event handler attributes: on...= */
        if (strchr(" \t\r\n", d[i - 1]) != NULL && fg_strncasecmp(d + i, "on", 2) == 0 &&
            isalpha((unsigned char)d[i + 2])) {
            size_t j = i + 2;
            while (j < n && isalpha((unsigned char)d[j])) {
                j++;
            }
            while (j < n && strchr(" \t\r\n", d[j]) != NULL) {
                j++;
            }
            if (j < n && d[j] == '=') {
                return bfail(err, errlen, "%s line %zu: event handler attributes are not allowed "
                             "in a logo", path, line_of(d, (long)i));
            }
        }
    }
    return FG_OK;
}

/* brand.css may only restyle: the pages load nothing from elsewhere (and the CSP would
 * block it anyway, leaving a broken look instead of an error at start-up). */
static int check_css(const char *path, const char *d, size_t n, char *err, size_t errlen)
{
    size_t bad = utf8_bad_line(d, n);
    long at;

    if (bad != 0) {
        return bfail(err, errlen, "%s line %zu: not valid UTF-8", path, bad);
    }
    if ((at = find_ci(d, n, "@import")) >= 0) {
        return bfail(err, errlen, "%s line %zu: @import is not allowed (put all rules in "
                     "brand.css)", path, line_of(d, at));
    }
    for (long from = 0; (at = find_ci(d + from, n - (size_t)from, "url(")) >= 0;) {
        const char *u = d + from + at + 4;
        u += strspn(u, " \t\r\n\"'");
        if (strncmp(u, "data:", 5) != 0) {
            return bfail(err, errlen, "%s line %zu: url() may only hold data: URLs (the pages "
                         "load nothing from elsewhere)", path, line_of(d, from + at));
        }
        from += at + 4;
    }
    return FG_OK;
}

static void trim(char **s, char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t')) {
        (*s)++;
    }
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r')) {
        (*e)--;
    }
}

/* One "key = value" line of a texts file into slots (indexes of `table`). */
static int text_line(fg_branding_t *b, int l, const fg_text_t *table, const char *path,
                     size_t line, char *s, char *e, char *err, size_t errlen)
{
    char *eq = memchr(s, '=', (size_t)(e - s));
    char key[64];
    int idx;

    if (eq == NULL) {
        return bfail(err, errlen, "%s line %zu: expected key = value", path, line);
    }
    char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;
    trim(&ks, &ke);
    trim(&vs, &ve);
    if (ke == ks || (size_t)(ke - ks) >= sizeof key) {
        return bfail(err, errlen, "%s line %zu: expected key = value", path, line);
    }
    memcpy(key, ks, (size_t)(ke - ks));
    key[ke - ks] = '\0';
    idx = text_index(table, key);
    if (idx < 0) {
        return bfail(err, errlen, "%s line %zu: unknown key \"%.40s\"", path, line, key);
    }
    if (b->text[l][idx] != NULL) {
        return bfail(err, errlen, "%s line %zu: \"%s\" is set twice", path, line, key);
    }
    if (ve == vs && !may_be_empty(key)) {
        return bfail(err, errlen, "%s line %zu: empty text for \"%s\"", path, line, key);
    }
    if ((size_t)(ve - vs) > FG_TEXT_VALUE_MAX) {
        return bfail(err, errlen, "%s line %zu: text longer than %d bytes", path, line,
                     FG_TEXT_VALUE_MAX);
    }
    for (char *p = vs; p < ve; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            return bfail(err, errlen, "%s line %zu: control character in the text", path, line);
        }
    }
    b->text[l][idx] = strndup(vs, (size_t)(ve - vs));
    return b->text[l][idx] != NULL ? FG_OK : bfail(err, errlen, "out of memory");
}

/* texts-de.txt / texts-en.txt: UTF-8, "key = value" per line, '#' comments, blank lines. */
static int load_texts(fg_branding_t *b, int l, const char *path, char *err, size_t errlen)
{
    const fg_text_t *table = l ? texts_en : texts_de;
    char *data, *p, *end;
    size_t len, bad, line = 0;
    int rc = read_small(path, FG_TEXTS_MAX, &data, &len, err, errlen);

    if (rc != FG_OK) {
        return rc;
    }
    if ((bad = utf8_bad_line(data, len)) != 0) {
        free(data);
        return bfail(err, errlen, "%s line %zu: not valid UTF-8", path, bad);
    }
    p = data;
    end = data + len;
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
        p += 3; /* byte order mark */
    }
    while (rc == FG_OK && p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl != NULL ? nl : end, *ls = p, *lt = le;
        line++;
        trim(&ls, &lt);
        if (ls < lt && *ls != '#') {
            rc = text_line(b, l, table, path, line, ls, lt, err, errlen);
        }
        p = nl != NULL ? nl + 1 : end;
    }
    free(data);
    return rc;
}

static int load_logo(fg_branding_t *b, const char *path, int png, char *err, size_t errlen)
{
    int rc;

    if (b->logo != NULL) {
        return bfail(err, errlen, "%s: only one of logo.svg and logo.png may be present", path);
    }
    rc = read_small(path, FG_LOGO_MAX, &b->logo, &b->logo_len, err, errlen);
    if (rc != FG_OK) {
        return rc;
    }
    if (png && (b->logo_len < 8 || memcmp(b->logo, "\x89PNG\r\n\x1a\n", 8) != 0)) {
        return bfail(err, errlen, "%s: not a PNG image", path);
    }
    if (!png && (rc = check_svg(path, b->logo, b->logo_len, err, errlen)) != FG_OK) {
        return rc;
    }
    b->logo_sub = png ? "/static/logo.png" : "/static/logo.svg";
    b->logo_type = png ? "image/png" : "image/svg+xml";
    content_version(b->logo, b->logo_len, b->logo_ver);
    return FG_OK;
}

/* One directory entry: a known file is loaded, dot files and README* are ignored, anything
 * else is an error (a misspelt "Logo.SVG" would otherwise be silently ignored). */
static int load_entry(fg_branding_t *b, const char *dir, const char *name, char *err,
                      size_t errlen)
{
    char path[2048];
    int rc;

    if (name[0] == '.' || strncmp(name, "README", 6) == 0) {
        return FG_OK;
    }
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        return bfail(err, errlen, "%s: path too long", dir);
    }
    if (strcmp(name, "logo.svg") == 0 || strcmp(name, "logo.png") == 0) {
        return load_logo(b, path, name[5] == 'p', err, errlen);
    }
    if (strcmp(name, "brand.css") == 0) {
        rc = read_small(path, FG_CSS_MAX, &b->css, &b->css_len, err, errlen);
        if (rc == FG_OK) {
            rc = check_css(path, b->css, b->css_len, err, errlen);
            content_version(b->css, b->css_len, b->css_ver);
        }
        return rc;
    }
    if (strcmp(name, "texts-de.txt") == 0 || strcmp(name, "texts-en.txt") == 0) {
        return load_texts(b, name[6] == 'e', path, err, errlen);
    }
    return bfail(err, errlen, "%s: unknown file (expected logo.svg or logo.png, brand.css, "
                 "texts-de.txt, texts-en.txt)", path);
}

/* fg_branding_load: see fg_internal.h. */
fg_branding_t *fg_branding_load(const char *dir, char *err, size_t errlen)
{
    fg_branding_t *b = calloc(1, sizeof(*b));
    DIR *d;
    struct dirent *de;
    int rc = FG_OK;

    if (b == NULL) {
        bfail(err, errlen, "out of memory");
        return NULL;
    }
    d = dir != NULL ? opendir(dir) : NULL;
    if (d == NULL) {
        bfail(err, errlen, "cannot open directory %s: %s", dir ? dir : "(none)", strerror(errno));
        fg_branding_free(b);
        return NULL;
    }
    while (rc == FG_OK && (de = readdir(d)) != NULL) {
        rc = load_entry(b, dir, de->d_name, err, errlen);
    }
    closedir(d);
    if (rc != FG_OK) {
        fg_branding_free(b);
        return NULL;
    }
    return b;
}

void fg_branding_free(fg_branding_t *b)
{
    if (b == NULL) {
        return;
    }
    free(b->logo);
    free(b->css);
    for (int l = 0; l < 2; l++) {
        for (size_t i = 0; i < FG_NTEXTS; i++) {
            free(b->text[l][i]);
        }
    }
    free(b);
}

/* fg_branding_asset: see fg_internal.h. */
/* The built-in mark as a file of its own (favicon, /static/logo.svg): colours inline, since
 * no stylesheet applies to it. */
static const char icon_svg[] =
    "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 40 40\" width=\"40\" height=\"40\">"
    "<path fill=\"#0a4a85\" d=\"M20 2.5 5.5 8v10.6c0 9.3 6.1 16.3 14.5 18.9 8.4-2.6 14.5-9.6 "
    "14.5-18.9V8L20 2.5z\"/><path fill=\"none\" stroke=\"#fff\" stroke-width=\"3.2\" "
    "stroke-linecap=\"round\" stroke-linejoin=\"round\" d=\"m12.8 20.2 5 5 9.4-10\"/></svg>\n";

int fg_branding_asset(const fg_branding_t *b, const char *sub, const char **body, size_t *len,
                      const char **ctype)
{
    if (sub == NULL) {
        return 0;
    }
    if ((b == NULL || b->logo == NULL) && strcmp(sub, "/static/logo.svg") == 0) {
        *body = icon_svg;
        *len = sizeof(icon_svg) - 1;
        *ctype = "image/svg+xml";
        return 1;
    }
    if (b == NULL) {
        return 0;
    }
    if (b->logo != NULL && strcmp(sub, b->logo_sub) == 0) {
        *body = b->logo;
        *len = b->logo_len;
        *ctype = b->logo_type;
        return 1;
    }
    if (b->css != NULL && strcmp(sub, "/static/brand.css") == 0) {
        *body = b->css;
        *len = b->css_len;
        *ctype = "text/css; charset=utf-8";
        return 1;
    }
    return 0;
}

/* fg_page_text: the admin's text for `key` in `lang` if there is one, else the built-in
 * text, else the key itself ("" for NULL). Owned by b or static. */
const char *fg_page_text(const fg_branding_t *b, const char *lang, const char *key)
{
    const fg_text_t *t = is_en(lang) ? texts_en : texts_de;
    int i;

    if (key == NULL) {
        return "";
    }
    i = text_index(t, key);
    if (i < 0) {
        return key;
    }
    if (b != NULL && b->text[is_en(lang)][i] != NULL) {
        return b->text[is_en(lang)][i];
    }
    return t[i].text;
}

/* ------------------------------------------------------------------------ */
/* Headers, script and style.                                                */

const fg_header_t fg_security_headers[] = {
    {"Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "connect-src 'self'; "
     "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"},
    {"Cache-Control", "no-store"},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "same-origin"},
    {"X-Frame-Options", "DENY"},
    {NULL, NULL}};

/* The wait page's behaviour: countdown, polling {prefix}/status, auto-finish. Plain ES5,
 * no inline code anywhere, so the strict CSP above holds. */
const char fg_static_js[] =
    "/* freigabe.js - the wait page comes alive: countdown, status polling, automatic finish. */\n"
    "(function () {\n"
    "  \"use strict\";\n"
    "  var root = document.getElementById(\"fg-wait\");\n"
    "  if (!root || !window.XMLHttpRequest) { return; }\n"
    "  function el(id) { return document.getElementById(id); }\n"
    "  function attr(name) { return root.getAttribute(name); }\n"
    "  var prefix = attr(\"data-prefix\") || \"\";\n"
    "  var interval = Math.max(1, parseInt(attr(\"data-interval\"), 10) || 2);\n"
    "  var left = Math.max(0, parseInt(attr(\"data-expires-in\"), 10) || 0);\n"
    "  var total = Math.max(left, parseInt(attr(\"data-total\"), 10) || 0, 1);\n"
    "  var status = attr(\"data-status\") || \"authorization_pending\";\n"
    "  var statusEl = el(\"fg-status\"), countEl = el(\"fg-countdown\");\n"
    "  var finish = el(\"fg-finish\"), retry = el(\"fg-retry\"), relogin = el(\"fg-relogin\");\n"
    "  var meter = el(\"fg-meter\"), fill = el(\"fg-meter-fill\");\n"
    "  var deadline = Date.now() + left * 1000;\n"
    "  var ticker = null, poller = null, done = false, busy = false, failures = 0;\n"
    "\n"
    "  function msg(name) { return attr(\"data-msg-\" + name) || \"\"; }\n"
    "  function say(text) { if (statusEl && text && statusEl.textContent !== text) { statusEl.textContent = text; } }\n"
    "  function show(node, on) { if (node) { node.hidden = !on; } }\n"
    "  function fmt(s) { var m = Math.floor(s / 60), r = s % 60; return m + \":\" + (r < 10 ? \"0\" : \"\") + r; }\n"
    "\n"
    "  function draw() {\n"
    "    if (countEl) { countEl.textContent = fmt(left); }\n"
    "    if (fill) { fill.style.width = Math.min(100, Math.round(left * 100 / total)) + \"%\"; }\n"
    "    if (left <= 30) { root.setAttribute(\"data-low\", \"1\"); }\n"
    "  }\n"
    "\n"
    "  function tick() {\n"
    "    left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));\n"
    "    draw();\n"
    "    if (left === 0 && !done) { schedule(0); }\n"
    "  }\n"
    "\n"
    "  function stop() {\n"
    "    done = true;\n"
    "    if (ticker) { clearInterval(ticker); }\n"
    "    if (poller) { clearTimeout(poller); }\n"
    "  }\n"
    "\n"
    "  /* One place decides what the page shows for a state; CSS follows data-status. */\n"
    "  function settle(st, reason) {\n"
    "    status = st;\n"
    "    root.setAttribute(\"data-status\", st);\n"
    "    if (reason) { root.setAttribute(\"data-reason\", reason); }\n"
    "    if (st === \"authorization_pending\") { say(msg(\"pending\")); return; }\n"
    "    stop();\n"
    "    show(finish, st === \"approved\");\n"
    "    show(retry, st === \"expired_token\");\n"
    "    show(relogin, st === \"access_denied\" || st === \"login_required\");\n"
    "    show(meter, false);\n"
    "    if (st === \"approved\") {\n"
    "      say(msg(\"approved\"));\n"
    "      if (finish && !finish.getAttribute(\"data-sent\")) {\n"
    "        finish.setAttribute(\"data-sent\", \"1\");\n"
    "        finish.submit();\n"
    "      }\n"
    "      return;\n"
    "    }\n"
    "    left = 0;\n"
    "    if (countEl) { countEl.textContent = fmt(0); }\n"
    "    if (st === \"access_denied\") { say(msg(\"denied\")); }\n"
    "    else if (st === \"expired_token\") { say(reason === \"superseded\" ? msg(\"superseded\") : msg(\"expired\")); }\n"
    "    else { say(msg(\"session\")); }\n"
    "  }\n"
    "\n"
    "  function schedule(seconds) {\n"
    "    if (done) { return; }\n"
    "    if (poller) { clearTimeout(poller); }\n"
    "    poller = setTimeout(poll, seconds * 1000);\n"
    "  }\n"
    "\n"
    "  function failed() {\n"
    "    busy = false;\n"
    "    failures++;\n"
    "    say(msg(\"error\"));\n"
    "    schedule(Math.min(30, interval * Math.pow(2, failures)));\n"
    "  }\n"
    "\n"
    "  function onAnswer(xhr) {\n"
    "    var data = null;\n"
    "    busy = false;\n"
    "    if (xhr.status === 401 || xhr.status === 404) { settle(\"login_required\"); return; }\n"
    "    try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }\n"
    "    if (!data || typeof data.status !== \"string\") { failed(); return; }\n"
    "    failures = 0;\n"
    "    if (typeof data.expires_in === \"number\" && data.expires_in >= 0) {\n"
    "      deadline = Date.now() + data.expires_in * 1000;\n"
    "    }\n"
    "    var next = (typeof data.interval === \"number\" && data.interval > 0) ? data.interval : interval;\n"
    "    /* slow_down: the server wants fewer polls; never poll faster than it says. */\n"
    "    interval = data.status === \"slow_down\" ? Math.max(next, interval + 1) : Math.max(1, next);\n"
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
    "    xhr.onerror = xhr.ontimeout = failed;\n"
    "    xhr.send();\n"
    "  }\n"
    "\n"
    "  if (status === \"authorization_pending\" || status === \"slow_down\") {\n"
    "    show(meter, true);\n"
    "    tick();\n"
    "    ticker = setInterval(tick, 1000);\n"
    "    schedule(interval);\n"
    "  } else {\n"
    "    settle(status, attr(\"data-reason\"));\n"
    "  }\n"
    "})();\n";

/* The look. Colours and radii are custom properties a brand.css overrides; contrast
 * ratios of the defaults are noted next to them (WCAG 2.1 AA). */
const char fg_static_css[] =
    "/* freigabe.css - the Freigabe pages' look. Brands override the --fg-* properties in brand.css. */\n"
    ":root {\n"
    "  --fg-primary: #0a4a85;        /* buttons, links, logo: 9.1:1 on white */\n"
    "  --fg-primary-hover: #073763;\n"
    "  --fg-on-primary: #ffffff;\n"
    "  --fg-text: #17212b;           /* 15.9:1 on white */\n"
    "  --fg-muted: #4a5765;          /* 7.4:1 on white, 6.8:1 on --fg-bg */\n"
    "  --fg-bg: #eef2f6;\n"
    "  --fg-surface: #ffffff;\n"
    "  --fg-header-bg: #ffffff;\n"
    "  --fg-line: #d5dde5;           /* decorative lines */\n"
    "  --fg-input-border: #66727f;   /* 4.8:1 on white (non-text contrast >= 3:1) */\n"
    "  --fg-focus: var(--fg-primary); /* focus ring, 2px away from the element */\n"
    "  --fg-code-bg: #f3f7fb;\n"
    "  --fg-info-bg: #eaf2fb;   --fg-info-fg: #0b3a66;    --fg-info-line: #0a4a85;\n"
    "  --fg-ok-bg: #e9f7ef;     --fg-ok-fg: #14532d;      --fg-ok-line: #15803d;\n"
    "  --fg-warn-bg: #fff7e6;   --fg-warn-fg: #6b3a07;    --fg-warn-line: #b45309;\n"
    "  --fg-error-bg: #fdeeee;  --fg-error-fg: #7f1d1d;   --fg-error-line: #b91c1c;\n"
    "  --fg-radius: 0.75rem;\n"
    "  --fg-font: system-ui, -apple-system, \"Segoe UI\", Roboto, \"Noto Sans\", \"Helvetica Neue\", Arial, sans-serif;\n"
    "  color-scheme: light;\n"
    "}\n"
    "*, *::before, *::after { box-sizing: border-box; }\n"
    "html { font-size: 100%; -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }\n"
    "body {\n"
    "  margin: 0; min-height: 100vh; display: flex; flex-direction: column;\n"
    "  font-family: var(--fg-font); font-size: 1rem; line-height: 1.5;\n"
    "  color: var(--fg-text); background: var(--fg-bg);\n"
    "}\n"
    ".fg-header { background: var(--fg-header-bg); border-bottom: 1px solid var(--fg-line); }\n"
    ".fg-header-inner {\n"
    "  max-width: 60rem; margin: 0 auto; padding: 0.75rem 1.25rem;\n"
    "  display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 0.5rem 1rem;\n"
    "}\n"
    ".fg-brand { display: flex; align-items: center; gap: 0.625rem; color: var(--fg-primary); }\n"
    ".fg-logo { display: block; height: 2.5rem; width: auto; max-width: 14rem; }\n"
    ".fg-logo-mark { fill: var(--fg-primary); }\n"
    ".fg-logo-check { fill: none; stroke: var(--fg-on-primary); stroke-width: 3.2; stroke-linecap: round; stroke-linejoin: round; }\n"
    ".fg-brand-name { font-size: 1.25rem; font-weight: 700; letter-spacing: 0.01em; color: var(--fg-text); }\n"
    ".fg-lang a { display: inline-block; padding: 0.5rem 0.25rem; font-weight: 600; }\n"
    ".fg-main { flex: 1 0 auto; width: 100%; padding: 2.5rem 1rem 2rem; }\n"
    ".fg-card {\n"
    "  max-width: 30rem; margin: 0 auto; padding: 2rem 2rem 1.75rem;\n"
    "  background: var(--fg-surface); border: 1px solid var(--fg-line); border-radius: var(--fg-radius);\n"
    "  box-shadow: 0 1px 2px rgba(16, 32, 48, 0.06), 0 8px 24px rgba(16, 32, 48, 0.06);\n"
    "}\n"
    ".fg-progress { display: flex; gap: 0.375rem; margin: 0 0 0.5rem; }\n"
    ".fg-progress span { flex: 1; height: 0.25rem; border-radius: 0.125rem; background: var(--fg-line); }\n"
    ".fg-progress .fg-on { background: var(--fg-primary); }\n"
    ".fg-stepinfo { margin: 0 0 0.25rem; font-size: 0.875rem; font-weight: 600; color: var(--fg-muted); }\n"
    "h1 { font-size: 1.625rem; line-height: 1.25; margin: 0 0 1rem; font-weight: 700; }\n"
    "p { margin: 0 0 1rem; }\n"
    ".fg-lead { color: var(--fg-muted); }\n"
    "label { display: block; font-weight: 600; margin: 1.25rem 0 0.375rem; }\n"
    ".fg-hint { margin: -0.125rem 0 0.375rem; font-size: 0.875rem; color: var(--fg-muted); }\n"
    "input[type=\"text\"], input[type=\"password\"] {\n"
    "  display: block; width: 100%; min-height: 3rem; padding: 0.625rem 0.875rem;\n"
    "  font: inherit; font-size: 1.0625rem; color: var(--fg-text); background: var(--fg-surface);\n"
    "  border: 1px solid var(--fg-input-border); border-radius: 0.5rem;\n"
    "}\n"
    "input[aria-invalid=\"true\"] { border-color: var(--fg-error-line); border-width: 2px; }\n"
    "button, .fg-button {\n"
    "  display: block; width: 100%; margin: 1.5rem 0 0; padding: 0.75rem 1.25rem; min-height: 3rem;\n"
    "  font: inherit; font-weight: 600; font-size: 1.0625rem; line-height: 1.4; text-align: center; text-decoration: none;\n"
    "  color: var(--fg-on-primary); background: var(--fg-primary);\n"
    "  border: 2px solid var(--fg-primary); border-radius: 0.5rem; cursor: pointer;\n"
    "}\n"
    "button:hover, .fg-button:hover { color: var(--fg-on-primary); background: var(--fg-primary-hover); border-color: var(--fg-primary-hover); }\n"
    ".fg-secondary, a.fg-secondary { color: var(--fg-primary); background: var(--fg-surface); }\n"
    ".fg-secondary:hover, a.fg-secondary:hover { color: var(--fg-on-primary); }\n"
    "a { color: var(--fg-primary); text-decoration: underline; text-underline-offset: 0.15em; }\n"
    "a:hover { color: var(--fg-primary-hover); text-decoration-thickness: 2px; }\n"
    ":focus-visible { outline: 3px solid var(--fg-focus); outline-offset: 2px; }\n"
    "input:focus { outline: 3px solid var(--fg-focus); outline-offset: 1px; border-color: var(--fg-primary); }\n"
    ".fg-cancel { margin: 1.25rem 0 0; text-align: center; }\n"
    ".fg-note {\n"
    "  margin: 1.25rem 0 0; padding: 0.875rem 1rem; border-radius: 0.5rem;\n"
    "  background: var(--fg-info-bg); color: var(--fg-info-fg);\n"
    "}\n"
    ".fg-error {\n"
    "  padding: 0.75rem 1rem; color: var(--fg-error-fg); background: var(--fg-error-bg);\n"
    "  border: 1px solid var(--fg-error-line); border-left-width: 0.3rem; border-radius: 0.5rem;\n"
    "}\n"
    ".fg-codebox {\n"
    "  margin: 1.25rem 0 1rem; padding: 1rem 0.75rem 1.125rem; text-align: center;\n"
    "  background: var(--fg-code-bg); border: 1px solid var(--fg-line); border-radius: var(--fg-radius);\n"
    "}\n"
    ".fg-codelabel { margin: 0; font-size: 0.875rem; font-weight: 600; color: var(--fg-muted); text-transform: uppercase; letter-spacing: 0.06em; }\n"
    ".fg-code {\n"
    "  margin: 0.25rem 0 0; font-size: 2.75rem; line-height: 1.15; font-weight: 700; letter-spacing: 0.1em;\n"
    "  font-variant-numeric: tabular-nums lining-nums; white-space: nowrap; color: var(--fg-text);\n"
    "}\n"
    ".fg-timer { display: flex; justify-content: space-between; align-items: baseline; gap: 1rem; margin: 0 0 0.375rem; color: var(--fg-muted); }\n"
    ".fg-countdown { font-weight: 700; font-size: 1.25rem; font-variant-numeric: tabular-nums; color: var(--fg-text); }\n"
    ".fg-meter { height: 0.375rem; margin: 0 0 1rem; border-radius: 0.1875rem; background: var(--fg-line); overflow: hidden; }\n"
    ".fg-meter-fill { width: 100%; height: 100%; background: var(--fg-primary); transition: width 1s linear; }\n"
    "[data-low] .fg-meter-fill { background: var(--fg-warn-line); }\n"
    ".fg-status {\n"
    "  min-height: 1.5em; margin: 0 0 0.5rem; padding: 0.75rem 1rem;\n"
    "  color: var(--fg-info-fg); background: var(--fg-info-bg);\n"
    "  border: 1px solid var(--fg-info-line); border-left-width: 0.3rem; border-radius: 0.5rem;\n"
    "}\n"
    "[data-status=\"authorization_pending\"] .fg-status::before, [data-status=\"slow_down\"] .fg-status::before {\n"
    "  content: \"\"; display: inline-block; width: 0.625rem; height: 0.625rem; margin-right: 0.625rem;\n"
    "  border-radius: 50%; background: var(--fg-info-line); vertical-align: 0.05em;\n"
    "  animation: fg-pulse 1.6s ease-in-out infinite;\n"
    "}\n"
    "[data-status=\"authorization_pending\"] .fg-status, [data-status=\"approved\"] .fg-status { font-weight: 600; }\n"
    "@keyframes fg-pulse { 0%, 100% { opacity: 1; } 50% { opacity: 0.25; } }\n"
    "[data-status=\"approved\"] .fg-status { color: var(--fg-ok-fg); background: var(--fg-ok-bg); border-color: var(--fg-ok-line); }\n"
    "[data-status=\"expired_token\"] .fg-status { color: var(--fg-warn-fg); background: var(--fg-warn-bg); border-color: var(--fg-warn-line); }\n"
    "[data-status=\"access_denied\"] .fg-status, [data-status=\"login_required\"] .fg-status {\n"
    "  color: var(--fg-error-fg); background: var(--fg-error-bg); border-color: var(--fg-error-line);\n"
    "}\n"
    "[data-status=\"access_denied\"] .fg-live, [data-status=\"expired_token\"] .fg-live,\n"
    "[data-status=\"login_required\"] .fg-live, [data-status=\"approved\"] .fg-timer,\n"
    "[data-status=\"approved\"] .fg-meter { display: none; }\n"
    ".fg-small { font-size: 0.875rem; color: var(--fg-muted); }\n"
    ".fg-footer { padding: 0 1rem 1.5rem; text-align: center; font-size: 0.875rem; color: var(--fg-muted); }\n"
    ".fg-footer p { margin: 0; }\n"
    "[hidden] { display: none !important; }\n"
    "@media (max-width: 30rem) {\n"
    "  body { background: var(--fg-surface); }\n"
    "  .fg-header-inner { padding: 0.625rem 1rem; }\n"
    "  .fg-logo { height: 2rem; }\n"
    "  .fg-brand-name { font-size: 1.125rem; }\n"
    "  .fg-main { padding: 0; }\n"
    "  .fg-card { border: 0; border-radius: 0; box-shadow: none; padding: 1.5rem 1.125rem 1.75rem; }\n"
    "  h1 { font-size: 1.5rem; }\n"
    "  .fg-code { font-size: 2.5rem; }\n"
    "}\n"
    "@media (forced-colors: active) {\n"
    "  .fg-progress .fg-on, .fg-meter-fill { background: Highlight; }\n"
    "  .fg-status, .fg-error, .fg-codebox { border-color: CanvasText; }\n"
    "}\n"
    "@media (prefers-reduced-motion: reduce) {\n"
    "  *, *::before { animation: none !important; transition: none !important; }\n"
    "}\n";

/* ------------------------------------------------------------------------ */
/* Building blocks.                                                          */

typedef struct {
    fg_buf_t b;
    const char *lang;
    const char *lang_param; /* kept in our own links and forms when the person chose it */
    const char *prefix;
    const fg_branding_t *brand;
} page_t;

static const char *txt(page_t *p, const char *key)
{
    return fg_page_text(p->brand, p->lang, key);
}

static void text(page_t *p, const char *key)
{
    fg_buf_html(&p->b, txt(p, key));
}

/* "{prefix}{path}" plus "?lang=xx" when the language was chosen explicitly, escaped. */
static void href(page_t *p, const char *path)
{
    fg_buf_html(&p->b, p->prefix);
    fg_buf_html(&p->b, path);
    if (p->lang_param != NULL) {
        fg_buf_printf(&p->b, "%slang=%s", strchr(path, '?') ? "&amp;" : "?", p->lang_param);
    }
}

/* The built-in mark: a shield with a check, coloured by the stylesheet (--fg-primary). */
static const char logo_svg[] =
    "<svg class=\"fg-logo\" viewBox=\"0 0 40 40\" width=\"40\" height=\"40\" aria-hidden=\"true\" "
    "focusable=\"false\"><path class=\"fg-logo-mark\" d=\"M20 2.5 5.5 8v10.6c0 9.3 6.1 16.3 "
    "14.5 18.9 8.4-2.6 14.5-9.6 14.5-18.9V8L20 2.5z\"/><path class=\"fg-logo-check\" "
    "d=\"m12.8 20.2 5 5 9.4-10\"/></svg>";

/* Header: logo and brand name; the other language's link where the page can be re-read. */
static void page_header(page_t *p, const char *switch_path)
{
    fg_buf_puts(&p->b, "<header class=\"fg-header\"><div class=\"fg-header-inner\">\n"
                       "<div class=\"fg-brand\">");
    if (p->brand != NULL && p->brand->logo != NULL) {
        fg_buf_puts(&p->b, "<img class=\"fg-logo\" src=\"");
        fg_buf_html(&p->b, p->prefix);
        fg_buf_printf(&p->b, "%s?v=%s\" alt=\"", p->brand->logo_sub, p->brand->logo_ver);
        text(p, "brand_name");
        fg_buf_puts(&p->b, "\">");
    } else {
        fg_buf_puts(&p->b, logo_svg);
        if (*txt(p, "brand_name") != '\0') {
            fg_buf_puts(&p->b, "<span class=\"fg-brand-name\">");
            text(p, "brand_name");
            fg_buf_puts(&p->b, "</span>");
        }
    }
    fg_buf_puts(&p->b, "</div>\n");
    if (switch_path != NULL) {
        const char *other = is_en(p->lang) ? "de" : "en";
        fg_buf_puts(&p->b, "<nav class=\"fg-lang\" aria-label=\"");
        text(p, "lang_nav");
        fg_buf_puts(&p->b, "\"><a href=\"");
        fg_buf_html(&p->b, p->prefix);
        fg_buf_html(&p->b, switch_path);
        fg_buf_printf(&p->b, "%slang=%s\" lang=\"%s\" hreflang=\"%s\">",
                      strchr(switch_path, '?') ? "&amp;" : "?", other, other, other);
        text(p, "lang_other");
        fg_buf_puts(&p->b, "</a></nav>\n");
    }
    fg_buf_puts(&p->b, "</div></header>\n");
}

/* Opens the document up to the card: head (title, styles, optional script and no-script
 * refresh), header, the step indicator (step 1..3, 0 for none) and the heading. */
static void page_open(page_t *p, const char *title_key, int script, int refresh, int step,
                      const char *switch_path)
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
    if (*txt(p, "brand_name") != '\0') {
        fg_buf_puts(&p->b, " – ");
        text(p, "brand_name");
    }
    fg_buf_puts(&p->b, "</title>\n<link rel=\"icon\" href=\"");
    fg_buf_html(&p->b, p->prefix);
    if (p->brand != NULL && p->brand->logo != NULL) {
        fg_buf_printf(&p->b, "%s?v=%s\">\n", p->brand->logo_sub, p->brand->logo_ver);
    } else {
        fg_buf_puts(&p->b, "/static/logo.svg\">\n");
    }
    fg_buf_puts(&p->b, "<link rel=\"stylesheet\" href=\"");
    fg_buf_html(&p->b, p->prefix);
    fg_buf_puts(&p->b, "/static/freigabe.css\">\n");
    if (p->brand != NULL && p->brand->css != NULL) {
        fg_buf_puts(&p->b, "<link rel=\"stylesheet\" href=\"");
        fg_buf_html(&p->b, p->prefix);
        fg_buf_printf(&p->b, "/static/brand.css?v=%s\">\n", p->brand->css_ver);
    }
    if (script) {
        fg_buf_puts(&p->b, "<script src=\"");
        fg_buf_html(&p->b, p->prefix);
        fg_buf_puts(&p->b, "/static/freigabe.js\" defer></script>\n");
    }
    fg_buf_puts(&p->b, "</head>\n<body>\n");
    page_header(p, switch_path);
    fg_buf_puts(&p->b, "<main class=\"fg-main\" id=\"fg-main\">\n<div class=\"fg-card\">\n");
    if (step > 0) {
        fg_buf_puts(&p->b, "<div class=\"fg-progress\" aria-hidden=\"true\">");
        for (int i = 1; i <= 3; i++) {
            fg_buf_puts(&p->b, i <= step ? "<span class=\"fg-on\"></span>" : "<span></span>");
        }
        fg_buf_puts(&p->b, "</div>\n<p class=\"fg-stepinfo\">");
        text(p, step == 1 ? "step_1" : step == 2 ? "step_2" : "step_3");
        fg_buf_puts(&p->b, "</p>\n");
    }
    fg_buf_puts(&p->b, "<h1>");
    text(p, title_key);
    fg_buf_puts(&p->b, "</h1>\n");
}

static char *page_close(page_t *p)
{
    fg_buf_puts(&p->b, "</div>\n</main>\n");
    if (*txt(p, "footer_text") != '\0') {
        fg_buf_puts(&p->b, "<footer class=\"fg-footer\"><p>");
        text(p, "footer_text");
        fg_buf_puts(&p->b, "</p></footer>\n");
    }
    fg_buf_puts(&p->b, "</body>\n</html>\n");
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
        fg_buf_puts(&p->b, "<p class=\"fg-error\" id=\"fg-error\" role=\"alert\">");
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
    href(p, path);
    fg_buf_puts(&p->b, "\"");
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

/* "/login" or "/login?rd=<pct-encoded rd>", below the prefix (for href()). */
static const char *login_path(page_t *p, const char *rd)
{
    if (rd == NULL || *rd == '\0') {
        return "/login";
    }
    return fg_arena_printf(p->b.arena, "/login?rd=%s", fg_pct_encode(p->b.arena, rd));
}

/* {prefix}/login[?rd=...] as a plain string (links that are not kept in the language). */
static const char *login_href(page_t *p, const char *rd)
{
    return fg_arena_printf(p->b.arena, "%s%s", p->prefix, login_path(p, rd));
}

/* ------------------------------------------------------------------------ */
/* Pages.                                                                    */

static char *render_login(page_t *p, const fg_page_args_t *g)
{
    int failed = g->error != NULL && *g->error != '\0';
    const char *invalid = failed ? " aria-invalid=\"true\" aria-describedby=\"fg-error\"" : "";

    page_open(p, "page_title_login", 0, 0, 1, login_path(p, g->rd));
    error_box(p, g->error);
    para(p, "fg-lead", "login_intro");
    form_open(p, "/login", "fg-login", 0, g->csrf);
    hidden(p, "rd", g->rd);
    fg_buf_puts(&p->b, "<label for=\"fg-customer\">");
    text(p, "label_customer");
    fg_buf_puts(&p->b, "</label>\n<p class=\"fg-hint\" id=\"fg-customer-hint\">");
    text(p, "hint_customer");
    fg_buf_printf(&p->b, "</p>\n<input type=\"text\" id=\"fg-customer\" name=\"customer\" "
                         "autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" "
                         "required maxlength=\"64\" aria-describedby=\"fg-customer-hint%s\"%s%s "
                         "value=\"",
                  failed ? " fg-error" : "", failed ? " aria-invalid=\"true\"" : "",
                  failed ? "" : " autofocus");
    fg_buf_html(&p->b, g->customer != NULL ? g->customer : "");
    fg_buf_puts(&p->b, "\">\n<label for=\"fg-password\">");
    text(p, "label_password");
    fg_buf_printf(&p->b, "</label>\n<input type=\"password\" id=\"fg-password\" name=\"password\" "
                         "autocomplete=\"current-password\" required maxlength=\"1024\"%s%s>\n",
                  invalid, failed ? " autofocus" : "");
    form_close(p, "button_login", NULL);
    return page_close(p);
}

static char *render_approve(page_t *p, const fg_page_args_t *g)
{
    page_open(p, "page_title_approve", 0, 0, 2, "/approve");
    error_box(p, g->error);
    para(p, "fg-lead", "approve_intro");
    para(p, "fg-note", "approve_next");
    form_open(p, "/approve", "fg-approve", 0, g->csrf);
    form_close(p, "button_approve", NULL);
    fg_buf_puts(&p->b, "<p class=\"fg-cancel\"><a href=\"");
    href(p, "/login");
    fg_buf_puts(&p->b, "\">");
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

/* The page's state: the status words of product.md §2; "superseded" is an expired request
 * with a reason. */
typedef struct {
    const char *status; /* authorization_pending, approved, access_denied, expired_token */
    int superseded;
    const char *msg;    /* message key for the live region */
} wait_state_t;

static wait_state_t wait_state(const fg_page_args_t *g)
{
    wait_state_t w = {"authorization_pending", 0, "pending"};
    const char *st = g->status != NULL ? g->status : "authorization_pending";

    w.superseded = strcmp(st, "superseded") == 0 ||
                   (g->error != NULL && strcmp(g->error, "superseded") == 0);
    if (strcmp(st, "approved") == 0) {
        w.status = "approved";
        w.msg = "approved_continue"; /* the script, if any, redirects and says so */
    } else if (strcmp(st, "access_denied") == 0) {
        w.status = "access_denied";
        w.msg = "approval_denied";
    } else if (strcmp(st, "expired_token") == 0 || w.superseded) {
        w.status = "expired_token";
        w.msg = w.superseded ? "superseded" : "approval_expired";
    } else if (strcmp(st, "authorization_pending") != 0 && strcmp(st, "slow_down") != 0) {
        w.status = st; /* unknown: shown as waiting, the script asks the server */
    }
    if (g->error != NULL && *g->error != '\0' && !w.superseded) {
        w.msg = g->error;
    }
    return w;
}

/* The element the script drives: its settings and its texts as data attributes. */
static void wait_root(page_t *p, const fg_page_args_t *g, const wait_state_t *w)
{
    static const char *const msgs[][2] = {
        {"pending", "pending"},        {"approved", "approved"},
        {"denied", "approval_denied"}, {"expired", "approval_expired"},
        {"superseded", "superseded"},  {"error", "status_error"},
        {"session", "session_expired"}};
    int left = g->expires_in > 0 ? g->expires_in : 0;

    fg_buf_puts(&p->b, "<div id=\"fg-wait\" class=\"fg-wait\" data-prefix=\"");
    fg_buf_html(&p->b, p->prefix);
    fg_buf_printf(&p->b, "\" data-interval=\"%d\" data-expires-in=\"%d\" data-total=\"%d\" "
                         "data-status=\"",
                  g->interval > 0 ? g->interval : 2, left, g->total > left ? g->total : left);
    fg_buf_html(&p->b, w->status);
    fg_buf_puts(&p->b, "\"");
    if (w->superseded) {
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
    wait_state_t w = wait_state(g);
    int approved = strcmp(w.status, "approved") == 0;
    int denied = strcmp(w.status, "access_denied") == 0;
    int expired = strcmp(w.status, "expired_token") == 0;
    int final = approved || denied || expired;
    int left = g->expires_in > 0 && !denied && !expired ? g->expires_in : 0;

    page_open(p, "page_title_wait", 1, final ? 0 : g->refresh, 3, "/wait");
    wait_root(p, g, &w);
    fg_buf_puts(&p->b, "<div class=\"fg-live\">\n");
    para(p, "fg-lead", g->enter_mode ? "wait_intro_enter" : "wait_intro");
    fg_buf_puts(&p->b, "<div class=\"fg-codebox\">\n<p class=\"fg-codelabel\">");
    text(p, "code_label");
    fg_buf_puts(&p->b, "</p>\n<p class=\"fg-code\" id=\"fg-code\">");
    code_grouped(p, g->code);
    fg_buf_puts(&p->b, "</p>\n</div>\n<p class=\"fg-timer\"><span>");
    text(p, "countdown_label");
    fg_buf_printf(&p->b, "</span> <span id=\"fg-countdown\" class=\"fg-countdown\" "
                         "role=\"timer\">%d:%02d</span></p>\n",
                  left / 60, left % 60);
    fg_buf_puts(&p->b, "<div class=\"fg-meter\" id=\"fg-meter\" aria-hidden=\"true\" hidden>"
                       "<div class=\"fg-meter-fill\" id=\"fg-meter-fill\"></div></div>\n</div>\n");
    fg_buf_puts(&p->b, "<p id=\"fg-status\" class=\"fg-status\" role=\"status\" aria-live=\"polite\">");
    text(p, w.msg);
    fg_buf_puts(&p->b, "</p>\n");
    form_open(p, "/finish", "fg-finish", !approved, g->csrf);
    form_close(p, "button_finish", NULL);
    form_open(p, "/approve", "fg-retry", !expired, g->csrf);
    form_close(p, "button_retry", NULL);
    fg_buf_printf(&p->b, "<p id=\"fg-relogin\"%s><a class=\"fg-button\" href=\"",
                  denied ? "" : " hidden");
    href(p, "/login");
    fg_buf_puts(&p->b, "\">");
    text(p, "link_login");
    fg_buf_puts(&p->b, "</a></p>\n");
    if (!final && g->refresh > 0) {
        fg_buf_puts(&p->b, "<noscript><p class=\"fg-small\">");
        text(p, "noscript_hint");
        fg_buf_puts(&p->b, "</p></noscript>\n");
    }
    fg_buf_puts(&p->b, "</div>\n");
    return page_close(p);
}

static char *render_logged_out(page_t *p, const fg_page_args_t *g)
{
    page_open(p, "page_title_logged_out", 0, 0, 0, NULL);
    para(p, "fg-lead", "logged_out");
    fg_buf_puts(&p->b, "<p><a class=\"fg-button\" href=\"");
    fg_buf_html(&p->b, login_href(p, g->rd));
    fg_buf_puts(&p->b, "\">");
    text(p, "link_login");
    fg_buf_puts(&p->b, "</a></p>\n");
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

/* Error pages get a title and a way forward that fit the message, unless the caller
 * chose a specific title (the engine's generic ones do not count). */
static void error_words(const char *msg, const char **title, const char **link)
{
    static const char *const map[][3] = {
        {"too_many", "title_too_many", NULL},
        {"challenge_limit", "title_too_many", NULL},
        {"cooldown", "title_too_many", NULL},
        {"unavailable", "unavailable_title", "link_retry"},
        {"busy", "unavailable_title", "link_retry"},
        {"approval_denied", "title_denied", NULL},
        {"approval_expired", "title_expired", NULL},
        {"session_expired", "title_session", NULL},
        {"account_locked", "title_locked", NULL},
        {"no_device", "title_no_device", NULL},
        {"not_found", "title_not_found", NULL},
        {"csrf", "title_csrf", "link_retry"},
        {"cross_site", "title_cross_site", NULL},
    };
    const char *t = *title;
    int generic = t == NULL || strcmp(t, "page_title_error") == 0 ||
                  strcmp(t, "error_title") == 0 || strcmp(t, "unavailable_title") == 0;

    if (generic) {
        *title = t != NULL && strcmp(t, "unavailable_title") == 0 ? t : "page_title_error";
    }
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(msg, map[i][0]) != 0) {
            continue;
        }
        *title = generic ? map[i][1] : *title;
        if (map[i][2] != NULL && (*link == NULL || strcmp(*link, "to_login") == 0)) {
            *link = map[i][2];
        }
    }
    if (*link == NULL) {
        *link = "link_back";
    }
}

static char *render_error(page_t *p, const fg_page_args_t *g)
{
    const char *title = g->title_key, *link = g->link_key;
    const char *msg = g->message_key != NULL ? g->message_key
                      : g->error != NULL     ? g->error
                                             : "bad_request";
    const char *target = href_is_local(g->link_href) ? g->link_href : login_href(p, NULL);

    error_words(msg, &title, &link);
    page_open(p, title, 0, 0, 0, NULL);
    fg_buf_puts(&p->b, "<p class=\"fg-error\" role=\"alert\">");
    text(p, msg);
    fg_buf_puts(&p->b, "</p>\n");
    fg_buf_puts(&p->b, "<p><a class=\"fg-button\" href=\"");
    fg_buf_html(&p->b, target);
    fg_buf_puts(&p->b, "\">");
    text(p, link);
    fg_buf_puts(&p->b, "</a></p>\n");
    return page_close(p);
}

/* fg_page_render: the complete UTF-8 HTML document for `page`. Every value from `args`
 * and every admin text is HTML-escaped. Returns an arena string (freed with the arena),
 * NULL for bad args. */
char *fg_page_render(fg_arena_t *a, fg_page_t page, const fg_page_args_t *args)
{
    page_t p;

    if (a == NULL || args == NULL) {
        return NULL;
    }
    fg_buf_init(&p.b, a);
    p.lang = is_en(args->lang) ? "en" : "de";
    p.lang_param = NULL;
    if (args->lang_param != NULL && (strcmp(args->lang_param, "de") == 0 || is_en(args->lang_param))) {
        p.lang_param = is_en(args->lang_param) ? "en" : "de";
    }
    p.prefix = args->prefix != NULL ? args->prefix : "/freigabe";
    p.brand = args->brand;
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
