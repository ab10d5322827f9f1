/* freigabe-app.c - reference app client: enrolls a device key, approves logins via the app API. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strptime, timegm */
#endif
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

#include "fg_internal.h"
#include "tool_common.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define EX_OK 0
#define EX_USAGE 1
#define EX_REFUSED 2 /* the server said no (4xx) */
#define EX_NET 3     /* network error or 5xx */
#define EX_UPDATE 4  /* 426 update_required */
#define EX_PIN 5     /* wrong PIN or no usable key */

#define MAX_WRONG_PINS 10
#define PIN_MAX 64
#define CODE_MAX 64
#define BODY_MAX (1 << 20)
#define NONCE_BYTES 18
#define KEY_AD_PREFIX "freigabe-app-key-v1:"
#define DEVICE_NAME_MAX 64 /* what the server keeps; the engine's rule is fg_text_ok */

static const char act_alphabet[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

static struct {
    const char *server;    /* --server (overrides the state) */
    const char *state_dir; /* --state */
    const char *platform, *os, *app_version;
    char *state_path;
    json_t *state; /* loaded state, or NULL */
    fg_arena_t *arena;
} g = { NULL, NULL, "android", "14", PACKAGE_VERSION, NULL, NULL, NULL };

/* The unlocked device key: sodium_malloc'd (guarded, locked), wiped on free. */
typedef struct {
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
} devkey_t;

typedef struct {
    long status;
    char *body;
    size_t len;
} http_resp_t;

#define GLOBAL_OPTS                                                                    \
    { "--server", 1, &g.server, NULL }, { "--state", 1, &g.state_dir, NULL },          \
    { "--platform", 1, &g.platform, NULL }, { "--os", 1, &g.os, NULL },                \
    { "--app-version", 1, &g.app_version, NULL }
#define OPTS_END { NULL, 0, NULL, NULL }

static const char main_usage[] =
    "usage: freigabe-app [GLOBAL OPTIONS] COMMAND [ARGS]\n"
    "\n"
    "Reference app client for Freigabe: plays the customer's smartphone.\n"
    "\n"
    "commands:\n"
    "  enroll --code CODE [--pin-stdin] [--device-name NAME] [--force]\n"
    "  pending [--wait N] [--pin-stdin] [--json]\n"
    "  approve [--id ID] [--code CODE] [--pin-stdin]\n"
    "  deny [--id ID] [--not-me] [--pin-stdin]\n"
    "  watch                 interactive: waits for requests and asks you\n"
    "\n"
    "global options:\n"
    "  --server URL          endpoint base with prefix, e.g. http://127.0.0.1:8080/freigabe\n"
    "                        (default: the one saved at enrollment)\n"
    "  --state DIR           where the device key lives (default $HOME/.freigabe-app)\n"
    "  --platform android|ios  --os N  --app-version X   reported in Freigabe-Client\n"
    "                        (defaults android, 14, " PACKAGE_VERSION ")\n"
    "  --help                this text; 'freigabe-app COMMAND --help' for one command\n"
    "\n"
    "The PIN (4-12 digits) unlocks the device key; after 10 wrong PINs the key is wiped.\n"
    "Each try is counted in the state file before the PIN is checked (a state that\n"
    "cannot be written allows no tries), and the right PIN resets the count. This stops\n"
    "guessing on the device; the sealed key in the state file must never leave it: a\n"
    "copy can be attacked offline, where no counter applies and a short PIN falls fast.\n"
    "exit codes: 0 ok, 1 usage, 2 refused by the server, 3 network/server error,\n"
    "            4 update required, 5 wrong PIN or no key\n";

/* ---- small helpers ------------------------------------------------------ */

static void *xcheck(void *p)
{
    if (p == NULL) {
        tc_err("out of memory");
        exit(EX_USAGE);
    }
    return p;
}

#define APRINTF(...) ((char *)xcheck(fg_arena_printf(g.arena, __VA_ARGS__)))

/* Parses a command's options; prints usage on --help. Returns -1 to go on, else exit code. */
static int parse_cmd(int argc, char **argv, const tc_opt_t *opts, const char *usage)
{
    int help = 0;
    if (tc_parse_opts(argc, argv, opts, NULL, 0, NULL, &help) != 0) {
        return EX_USAGE;
    }
    if (help) {
        fputs(usage, stdout);
        return EX_OK;
    }
    return -1;
}

/* Copies a server-provided string for the terminal: control characters become '?'. */
static const char *clean(const char *s)
{
    char *o;
    if (s == NULL) {
        return "-";
    }
    o = APRINTF("%s", s);
    for (char *p = o; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = '?';
        }
    }
    return o;
}

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int valid_pin(const char *pin, int n)
{
    return n >= 4 && n <= 12 && (int)strspn(pin, "0123456789") == n;
}

/* Digits grouped in threes from the left; a lone last digit borrows one (as the page). */
static const char *group_code(const char *code)
{
    size_t n = strlen(code), pos = 0, j = 0;
    char *o = xcheck(fg_arena_alloc(g.arena, n * 2 + 1));
    while (pos < n) {
        size_t rest = n - pos, take = rest == 4 ? 2 : (rest < 3 ? rest : 3);
        if (pos > 0) {
            o[j++] = ' ';
        }
        memcpy(o + j, code + pos, take);
        j += take;
        pos += take;
    }
    return o;
}

/* ---- state file --------------------------------------------------------- */

static int state_path_init(void)
{
    const char *home = getenv("HOME");
    if (g.state_dir == NULL) {
        if (home == NULL || home[0] == '\0') {
            tc_err("HOME is not set; give --state DIR");
            return EX_USAGE;
        }
        g.state_dir = APRINTF("%s/.freigabe-app", home);
    }
    g.state_path = APRINTF("%s/state.json", g.state_dir);
    return EX_OK;
}

/* Loads the state if present. need: 1 = an enrolled device is required. */
static int state_load(int need)
{
    json_error_t je;
    int rc = state_path_init(); /* after the command's options: --state may follow it */
    if (rc != EX_OK) {
        return rc;
    }
    if (access(g.state_path, F_OK) != 0) {
        if (need) {
            tc_err("not enrolled (no %s); run 'freigabe-app enroll --code CODE' first",
                   g.state_path);
            return EX_PIN;
        }
        return EX_OK;
    }
    g.state = json_load_file(g.state_path, 0, &je);
    if (g.state == NULL || !json_is_object(g.state)) {
        tc_err("cannot read %s: %s", g.state_path, g.state ? "not a JSON object" : je.text);
        return EX_USAGE;
    }
    if (need && (jstr(g.state, "device_id") == NULL || jstr(g.state, "server") == NULL)) {
        tc_err("%s holds no enrolled device; enroll again", g.state_path);
        return EX_PIN;
    }
    return EX_OK;
}

static int state_save(void)
{
    char *text;
    int rc = 0;
    if (mkdir(g.state_dir, 0700) != 0 && errno != EEXIST) {
        tc_err("cannot create %s: %s", g.state_dir, strerror(errno));
        return EX_USAGE;
    }
    text = json_dumps(g.state, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text != NULL) {
        char *nl = realloc(text, strlen(text) + 2);
        text = nl ? strcat(nl, "\n") : text;
    }
    if (text == NULL || tc_write_file(g.state_path, text, strlen(text), 0600, 0) != 0) {
        tc_err("cannot write %s: %s", g.state_path, text ? strerror(errno) : "out of memory");
        rc = EX_USAGE;
    }
    free(text);
    return rc;
}

/* The server base: --server, else the enrolled one; without trailing '/'. */
static const char *server_base(void)
{
    const char *s = g.server ? g.server : (g.state ? jstr(g.state, "server") : NULL);
    char *o;
    size_t n;
    if (s == NULL) {
        return NULL;
    }
    o = APRINTF("%s", s);
    n = strlen(o);
    while (n > 0 && o[n - 1] == '/') {
        o[--n] = '\0';
    }
    return o;
}

/* The path part of the server base (what the server sees before "/app/..."). */
static const char *server_path(const char *base)
{
    const char *p = strstr(base, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    return p ? p : "";
}

/* ---- key sealing -------------------------------------------------------- */

static char *b64(const unsigned char *in, size_t len)
{
    return xcheck(fg_b64url_encode(g.arena, in, len));
}

/* Decodes base64url of exactly `want` bytes; 0 or -1. */
static int unb64(const char *s, unsigned char *out, size_t want)
{
    size_t n = 0;
    if (s == NULL || fg_b64url_decode(s, strlen(s), out, want, &n) != FG_OK || n != want) {
        return -1;
    }
    return 0;
}

static int derive(unsigned char k[crypto_aead_xchacha20poly1305_ietf_KEYBYTES], const char *pin,
                  const unsigned char *salt, unsigned long long ops, size_t mem)
{
    return crypto_pwhash(k, crypto_aead_xchacha20poly1305_ietf_KEYBYTES, pin, strlen(pin), salt,
                         ops, mem, crypto_pwhash_ALG_ARGON2ID13);
}

static const char *key_ad(void)
{
    const char *pk = jstr(g.state, "public_key");
    return APRINTF(KEY_AD_PREFIX "%s", pk ? pk : "");
}

/* Seals the secret key under the PIN into state["key"]; 0 or -1. */
static int seal_key(const devkey_t *dk, const char *pin)
{
    unsigned char salt[crypto_pwhash_SALTBYTES], k[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    unsigned char ct[crypto_sign_SECRETKEYBYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES];
    const char *ad = key_ad();
    unsigned long long ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    size_t mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    randombytes_buf(salt, sizeof(salt));
    randombytes_buf(nonce, sizeof(nonce));
    if (derive(k, pin, salt, ops, mem) != 0) {
        return -1;
    }
    crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL, dk->sk, sizeof(dk->sk),
                                               (const unsigned char *)ad, strlen(ad), NULL,
                                               nonce, k);
    sodium_memzero(k, sizeof(k));
    json_object_set_new(g.state, "key",
                        json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:s}", "kdf", "argon2id13",
                                  "ops", (json_int_t)ops, "mem", (json_int_t)mem, "salt",
                                  b64(salt, sizeof(salt)), "aead", "xchacha20poly1305-ietf",
                                  "nonce", b64(nonce, sizeof(nonce)), "ct", b64(ct, sizeof(ct))));
    json_object_set_new(g.state, "wrong_pins", json_integer(0));
    return 0;
}

/* Opens the sealed key: 0 ok, 1 wrong PIN, -1 damaged/missing. */
static int open_key(const char *pin, devkey_t *dk)
{
    const json_t *kj = json_object_get(g.state, "key");
    unsigned char salt[crypto_pwhash_SALTBYTES], k[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    unsigned char ct[crypto_sign_SECRETKEYBYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES];
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    json_int_t ops = json_integer_value(json_object_get(kj, "ops"));
    json_int_t mem = json_integer_value(json_object_get(kj, "mem"));
    const char *ad = key_ad();
    int rc;
    if (!json_is_object(kj) || unb64(jstr(kj, "salt"), salt, sizeof(salt)) != 0 ||
        unb64(jstr(kj, "nonce"), nonce, sizeof(nonce)) != 0 ||
        unb64(jstr(kj, "ct"), ct, sizeof(ct)) != 0 || ops < 1 || mem < 8192 ||
        unb64(jstr(g.state, "public_key"), pk, sizeof(pk)) != 0 ||
        derive(k, pin, salt, (unsigned long long)ops, (size_t)mem) != 0) {
        return -1;
    }
    rc = crypto_aead_xchacha20poly1305_ietf_decrypt(dk->sk, NULL, NULL, ct, sizeof(ct),
                                                    (const unsigned char *)ad, strlen(ad),
                                                    nonce, k) == 0 ? 0 : 1;
    sodium_memzero(k, sizeof(k));
    if (rc == 0 && sodium_memcmp(dk->sk + 32, pk, sizeof(pk)) != 0) {
        rc = -1; /* the key does not belong to this enrollment */
    }
    return rc;
}

static void set_wrong_pins(json_int_t n)
{
    json_object_set_new(g.state, "wrong_pins", json_integer(n));
}

/* Wipes the key after the last wrong PIN. Returns EX_PIN. */
static int wipe_key(void)
{
    json_object_set_new(g.state, "key", json_null());
    json_object_set_new(g.state, "wiped", json_true());
    state_save();
    tc_err("wrong PIN %d times: the device key has been wiped; ask for a new activation "
           "code and enroll again", MAX_WRONG_PINS);
    return EX_PIN;
}

/*
 * Counts the attempt as wrong in the state file before the PIN is tried, so that an
 * attempt cut short during the KDF (Ctrl-C, kill) still counts, and a state that cannot
 * be written (read-only directory, full disk) allows no tries at all instead of
 * unlimited ones. *n is the attempt's number. EX_OK, or EX_PIN after a message.
 */
static int count_attempt(json_int_t *n)
{
    *n = json_integer_value(json_object_get(g.state, "wrong_pins")) + 1;
    if (*n > MAX_WRONG_PINS) {
        return wipe_key(); /* the last attempt was counted, its wipe did not happen */
    }
    set_wrong_pins(*n);
    if (state_save() != EX_OK) {
        tc_err("cannot record the PIN attempt, so not trying the PIN (the count of wrong "
               "PINs must be saved first)");
        return EX_PIN;
    }
    return EX_OK;
}

/* Unlocks the device key with an already read PIN. EX_OK or EX_PIN. */
static int unlock_with(const char *pin, devkey_t *dk)
{
    int r;
    json_int_t n;
    const json_t *key = json_object_get(g.state, "key");
    if (json_is_true(json_object_get(g.state, "wiped")) || !json_is_object(key)) {
        tc_err("the device key was wiped; ask for a new activation code and enroll again");
        return EX_PIN;
    }
    if (!valid_pin(pin, (int)strlen(pin))) {
        tc_err("the PIN has 4 to 12 digits");
        return EX_PIN;
    }
    if (count_attempt(&n) != EX_OK) {
        return EX_PIN;
    }
    r = open_key(pin, dk);
    if (r < 0) {
        tc_err("the key in %s is damaged; enroll again", g.state_path);
        return EX_PIN;
    }
    if (r == 1 && n >= MAX_WRONG_PINS) {
        return wipe_key();
    }
    if (r == 1) {
        tc_err("wrong PIN; %lld tr%s left before the device key is wiped",
               (long long)(MAX_WRONG_PINS - n), MAX_WRONG_PINS - n == 1 ? "y" : "ies");
        return EX_PIN;
    }
    set_wrong_pins(0);
    if (state_save() != EX_OK) {
        tc_err("warning: the right PIN could not reset the count of wrong PINs");
    }
    return EX_OK;
}

/* Asks the PIN (terminal, or one line of stdin) and unlocks. EX_OK or an exit code. */
static int unlock(int from_stdin, const char *prompt, devkey_t *dk)
{
    char pin[PIN_MAX];
    int n, rc;
    n = tc_read_secret(prompt, from_stdin, pin, sizeof(pin));
    rc = n < 0 ? EX_PIN : unlock_with(pin, dk);
    sodium_memzero(pin, sizeof(pin));
    return rc;
}

static devkey_t *devkey_new(void)
{
    return xcheck(sodium_malloc(sizeof(devkey_t)));
}

/* ---- signing ------------------------------------------------------------ */

/* The Authorization header value of product.md §3 (arena string). */
static char *auth_header(const devkey_t *dk, const char *device, const char *method,
                         const char *path, const char *ts, const char *nonce,
                         const unsigned char *body, size_t len)
{
    unsigned char sig[crypto_sign_BYTES];
    char *msg = xcheck(fg_devauth_message(g.arena, method, path, ts, nonce,
                                          len ? body : NULL, len));
    crypto_sign_detached(sig, NULL, (const unsigned char *)msg, strlen(msg), dk->sk);
    return APRINTF("Freigabe-Device device=\"%s\", ts=\"%s\", nonce=\"%s\", sig=\"%s\"",
                   device, ts, nonce, b64(sig, sizeof(sig)));
}

static int check_client(void)
{
    if (strcmp(g.platform, "android") != 0 && strcmp(g.platform, "ios") != 0) {
        tc_err("--platform is android or ios");
        return EX_USAGE;
    }
    if (g.os[0] == '\0' || strspn(g.os, "0123456789.") != strlen(g.os) ||
        g.app_version[0] == '\0' || strspn(g.app_version, "0123456789.") != strlen(g.app_version)) {
        tc_err("--os and --app-version are dotted numbers like 14 or 2.4.0");
        return EX_USAGE;
    }
    return EX_OK;
}

/* ---- HTTP --------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    http_resp_t *r = ud;
    size_t n = size * nmemb;
    char *nb;
    if (r->len + n > BODY_MAX) {
        return 0;
    }
    nb = realloc(r->body, r->len + n + 1);
    if (nb == NULL) {
        return 0;
    }
    memcpy(nb + r->len, data, n);
    r->body = nb;
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    return tc_interrupted ? 1 : 0;
}

static struct curl_slist *make_headers(const char *auth, int has_body)
{
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, APRINTF("Authorization: %s", auth));
    h = curl_slist_append(h, APRINTF("Freigabe-Client: platform=%s, os=%s, app=%s", g.platform,
                                     g.os, g.app_version));
    h = curl_slist_append(h, "Accept: application/json");
    h = curl_slist_append(h, "Expect:");
    if (has_body) {
        h = curl_slist_append(h, "Content-Type: application/json");
    }
    return xcheck(h);
}

static void curl_setup(CURL *c, const char *url, const char *method, const char *body,
                       long timeout_s, http_resp_t *out)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect would break the signature */
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_USERAGENT, APRINTF("freigabe-app/%s", g.app_version));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
}

/*
 * Sends one signed request: rel is "/app/..." (with query). body NULL for GET. Returns
 * EX_OK when an HTTP answer arrived (any status, in *out; caller frees out->body), else
 * EX_NET after a message (or quietly when interrupted).
 */
static int http_call(const devkey_t *dk, const char *device, const char *method,
                     const char *rel, const char *body, long timeout_s, http_resp_t *out)
{
    const char *base = server_base();
    char ts[24], nonce_raw[NONCE_BYTES];
    const char *auth, *url;
    struct curl_slist *hdr;
    CURL *c;
    CURLcode cc;
    if (base == NULL) {
        tc_err("no server known; give --server URL");
        return EX_USAGE;
    }
    if (check_client() != EX_OK) {
        return EX_USAGE;
    }
    url = APRINTF("%s%s", base, rel);
    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    randombytes_buf(nonce_raw, sizeof(nonce_raw));
    auth = auth_header(dk, device, method, APRINTF("%s%s", server_path(base), rel), ts,
                       b64((unsigned char *)nonce_raw, sizeof(nonce_raw)),
                       (const unsigned char *)(body ? body : ""), body ? strlen(body) : 0);
    memset(out, 0, sizeof(*out));
    c = xcheck(curl_easy_init());
    hdr = make_headers(auth, body != NULL);
    curl_setup(c, url, method, body, timeout_s, out);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK) {
        if (!tc_interrupted) {
            tc_err("cannot reach %s: %s", url, curl_easy_strerror(cc));
        }
        free(out->body);
        out->body = NULL;
        return EX_NET;
    }
    return EX_OK;
}

/* Prints the server's JSON error and maps the status to an exit code (2xx: EX_OK). */
static int http_result(const http_resp_t *r)
{
    json_t *j;
    const char *err, *msg;
    int rc;
    if (r->status >= 200 && r->status < 300) {
        return EX_OK;
    }
    rc = r->status == 426 ? EX_UPDATE : (r->status >= 400 && r->status < 500) ? EX_REFUSED : EX_NET;
    j = r->body ? json_loads(r->body, 0, NULL) : NULL;
    err = jstr(j, "error");
    msg = jstr(j, "message") ? jstr(j, "message") : jstr(j, "error_description");
    if (rc == EX_UPDATE) {
        char *all = j ? json_dumps(j, JSON_COMPACT) : NULL;
        tc_err("update required (HTTP 426): %s", clean(msg ? msg : all ? all : "the server "
                                                        "refuses this platform or app version"));
        free(all);
    } else if (err != NULL) {
        tc_err("server refused (HTTP %ld): %s%s%s", r->status, clean(err), msg ? ": " : "",
               msg ? clean(msg) : "");
    } else {
        tc_err("server answered HTTP %ld%s", r->status,
               rc == EX_NET ? " (server error; try again later)" : "");
    }
    json_decref(j);
    return rc;
}

/* A signed request as the enrolled device; on 2xx *json is the parsed answer. */
static int api(const devkey_t *dk, const char *method, const char *rel, const char *body,
               long timeout_s, json_t **json)
{
    http_resp_t r;
    int rc = http_call(dk, jstr(g.state, "device_id"), method, rel, body, timeout_s, &r);
    if (rc != EX_OK) {
        return rc;
    }
    rc = http_result(&r);
    *json = NULL;
    if (rc == EX_OK && (*json = json_loads(r.body ? r.body : "", 0, NULL)) == NULL) {
        tc_err("server sent an answer that is not JSON (is --server the endpoint base?)");
        rc = EX_NET;
    }
    free(r.body);
    return rc;
}

/* ---- enroll ------------------------------------------------------------- */

static const char enroll_usage[] =
    "usage: freigabe-app [--server URL] enroll --code CODE [--pin-stdin]\n"
    "                    [--device-name NAME] [--force]\n"
    "\n"
    "Creates this device's Ed25519 key, registers it with the one-time activation code\n"
    "from 'freigabectl device activate', and saves it sealed under your new PIN.\n"
    "  --code CODE         activation code (XXXX-XXXX-XXXX; case and dashes do not matter)\n"
    "  --pin-stdin         read the new PIN (4-12 digits) as one line from standard input\n"
    "                      (otherwise it is asked twice on the terminal)\n"
    "  --device-name NAME  shown to the admin (default: freigabe-app on <hostname>)\n"
    "  --force             replace an existing enrollment in --state\n";

/* Normalises an activation code (upper case, no '-' or spaces) and formats it
 * XXXX-XXXX-XXXX. The server applies the same normalisation before hashing. */
static const char *format_act_code(const char *in)
{
    char raw[16];
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        char ch = (*p >= 'a' && *p <= 'z') ? (char)(*p - 32) : *p;
        if (ch == '-' || ch == ' ') {
            continue;
        }
        if (n >= 12 || strchr(act_alphabet, ch) == NULL || ch == '\0') {
            return NULL;
        }
        raw[n++] = ch;
    }
    return n == 12 ? APRINTF("%.4s-%.4s-%.4s", raw, raw + 4, raw + 8) : NULL;
}

static const char *default_device_name(void)
{
    char host[128] = "";
    const char *name;
    if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
        return "freigabe-app";
    }
    name = APRINTF("freigabe-app on %.40s", host);
    return fg_text_ok(name, DEVICE_NAME_MAX) ? name : "freigabe-app";
}

/* Saves the enrollment answered by the server. */
static int enroll_save(const json_t *ans, const devkey_t *dk, const char *pk_b64,
                       const char *dev_name, const char *pin)
{
    const char *id = jstr(ans, "device_id"), *cust = jstr(ans, "customer");
    if (id == NULL || cust == NULL) {
        tc_err("the server's enrollment answer lacks device_id/customer");
        return EX_NET;
    }
    json_decref(g.state);
    g.state = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "version", 1, "server",
                        server_base(), "device_id", id, "customer", cust, "name",
                        jstr(ans, "name") ? jstr(ans, "name") : "", "device_name", dev_name,
                        "public_key", pk_b64, "enrolled", (json_int_t)time(NULL));
    if (g.state == NULL || seal_key(dk, pin) != 0) {
        tc_err("cannot seal the device key (out of memory?)");
        return EX_USAGE;
    }
    return state_save();
}

static int enroll_send(const devkey_t *dk, const char *code, const char *dev_name,
                       const char *pin)
{
    const char *pk_b64 = b64(dk->sk + 32, crypto_sign_PUBLICKEYBYTES);
    json_t *req = json_pack("{s:s, s:s, s:s}", "activation_code", code, "public_key", pk_b64,
                            "device_name", dev_name), *ans = NULL;
    char *body = json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER);
    http_resp_t r;
    int rc = http_call(dk, "new", "POST", "/app/enroll", xcheck(body), 20, &r);
    free(body);
    json_decref(req);
    if (rc != EX_OK || (rc = http_result(&r)) != EX_OK) {
        free(r.body);
        return rc;
    }
    ans = json_loads(r.body ? r.body : "", 0, NULL);
    free(r.body);
    rc = enroll_save(ans, dk, pk_b64, dev_name, pin);
    if (rc == EX_OK) {
        printf("enrolled: device %s for customer %s (%s)\n", clean(jstr(ans, "device_id")),
               clean(jstr(ans, "customer")), clean(jstr(g.state, "name")));
    }
    json_decref(ans);
    return rc;
}

static int enroll_precheck(const char *code_in, const char *dev_name, int force,
                           const char **code)
{
    int rc;
    if (code_in == NULL) {
        tc_err("enroll needs --code CODE (from 'freigabectl device activate')");
        return EX_USAGE;
    }
    if (dev_name != NULL && !fg_text_ok(dev_name, DEVICE_NAME_MAX)) {
        tc_err("--device-name must be 1 to %d bytes of UTF-8 without control characters",
               DEVICE_NAME_MAX);
        return EX_USAGE;
    }
    if ((*code = format_act_code(code_in)) == NULL) {
        tc_err("the activation code has 12 characters like K7QX-2M9P-4TLD; check for typos");
        return EX_USAGE;
    }
    if ((rc = state_load(0)) != EX_OK) {
        return rc;
    }
    if (g.state && jstr(g.state, "device_id") && !force) {
        tc_err("%s already holds device %s; use --force to replace it or another --state",
               g.state_path, clean(jstr(g.state, "device_id")));
        return EX_USAGE;
    }
    if (g.server == NULL && g.state && jstr(g.state, "server")) {
        g.server = APRINTF("%s", jstr(g.state, "server")); /* re-enroll at the same server */
    }
    if (g.server == NULL) {
        tc_err("enroll needs --server URL (e.g. https://portal.example/freigabe)");
        return EX_USAGE;
    }
    if (strncmp(g.server, "http://", 7) != 0 && strncmp(g.server, "https://", 8) != 0) {
        tc_err("--server must start with http:// or https://");
        return EX_USAGE;
    }
    return EX_OK;
}

static int cmd_enroll(int argc, char **argv)
{
    const char *code_in = NULL, *code, *dev_name = NULL;
    int pin_stdin = 0, force = 0, rc, n;
    char pin[PIN_MAX];
    devkey_t *dk;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    const tc_opt_t opts[] = { { "--code", 1, &code_in, NULL },
                              { "--pin-stdin", 0, NULL, &pin_stdin },
                              { "--device-name", 1, &dev_name, NULL },
                              { "--force", 0, NULL, &force },
                              GLOBAL_OPTS, OPTS_END };
    if ((rc = parse_cmd(argc, argv, opts, enroll_usage)) >= 0 ||
        (rc = enroll_precheck(code_in, dev_name, force, &code)) != EX_OK) {
        return rc;
    }
    n = tc_read_new_secret("New app PIN (4-12 digits): ", "Repeat the PIN: ", pin_stdin, pin,
                           sizeof(pin));
    if (n < 0 || !valid_pin(pin, n)) {
        if (n >= 0) {
            tc_err("the PIN must have 4 to 12 digits");
        }
        sodium_memzero(pin, sizeof(pin));
        return EX_USAGE;
    }
    dk = devkey_new();
    crypto_sign_keypair(pk, dk->sk);
    rc = enroll_send(dk, code, dev_name ? dev_name : default_device_name(), pin);
    sodium_memzero(pin, sizeof(pin));
    sodium_free(dk);
    return rc;
}

/* ---- pending / approve / deny ------------------------------------------- */

/* Fetches the pending requests (array owned by *ans). */
static int fetch_pending(const devkey_t *dk, int wait, json_t **ans, json_t **reqs)
{
    const char *rel = wait > 0 ? APRINTF("/app/pending?wait=%d", wait) : "/app/pending";
    int rc = api(dk, "GET", rel, NULL, wait + 15, ans);
    if (rc != EX_OK) {
        return rc;
    }
    *reqs = json_object_get(*ans, "requests");
    if (!json_is_array(*reqs)) {
        tc_err("the server's pending answer lacks \"requests\"");
        json_decref(*ans);
        *ans = NULL;
        return EX_NET;
    }
    return EX_OK;
}

/* context.time: unix seconds (number or digit string) shown as local time, else as text. */
static const char *ctx_time(const json_t *ctx)
{
    const json_t *t = json_object_get(ctx, "time");
    const char *s = json_string_value(t);
    static char buf[32];
    long long v = 0;
    struct tm tm;
    const char *end;
    memset(&tm, 0, sizeof(tm));
    if (s && (end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) != NULL && *end == '\0') {
        v = (long long)timegm(&tm); /* ISO 8601 UTC from the server: show local time */
    }
    if (v > 0 || json_is_integer(t) || (s && tc_parse_long(s, 1, 99999999999LL, &v) == 0)) {
        time_t tt = (time_t)(s ? v : json_integer_value(t));
        localtime_r(&tt, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
        return buf;
    }
    return clean(s);
}

static const char *req_code(const json_t *rq)
{
    return jstr(rq, "code");
}

static int is_enter_mode(const json_t *rq)
{
    const char *m = jstr(rq, "mode");
    return (m && strcmp(m, "enter") == 0) || req_code(rq) == NULL;
}

/* What people see of a request: its code, where it comes from and its countdown. The
 * challenge id is for machines only (product.md: never shown to people; --json). */
static void print_request(const json_t *rq)
{
    const json_t *ctx = json_object_get(rq, "context");
    const char *code = req_code(rq);
    printf("code:       %s\n", is_enter_mode(rq) ? "(enter mode)" : clean(group_code(code)));
    printf("expires in: %lld s\n",
           (long long)json_integer_value(json_object_get(rq, "expires_in")));
    printf("ip:         %s\n", clean(jstr(ctx, "ip")));
    printf("browser:    %s\n", clean(jstr(ctx, "browser")));
    printf("time:       %s\n", ctx_time(ctx));
}

static const char pending_usage[] =
    "usage: freigabe-app pending [--wait N] [--pin-stdin] [--json]\n"
    "\n"
    "Lists the login requests waiting for this device: code, time left, IP address,\n"
    "browser and time. Signing needs the device key, so the PIN is asked (or read from\n"
    "standard input with --pin-stdin).\n"
    "  --wait N   long-poll up to N seconds (0-30, the server's limit) for a request\n"
    "             to appear\n"
    "  --json     print the server's answer as one line of JSON instead, with the\n"
    "             request ids (for scripts: approve/deny --id take them)\n";

static int cmd_pending(int argc, char **argv)
{
    const char *wait_s = NULL;
    long long wait = 0;
    int pin_stdin = 0, as_json = 0, rc;
    json_t *ans = NULL, *reqs = NULL;
    devkey_t *dk;
    const tc_opt_t opts[] = { { "--wait", 1, &wait_s, NULL },
                              { "--pin-stdin", 0, NULL, &pin_stdin },
                              { "--json", 0, NULL, &as_json }, GLOBAL_OPTS, OPTS_END };
    if ((rc = parse_cmd(argc, argv, opts, pending_usage)) >= 0) {
        return rc;
    }
    if (wait_s && tc_parse_long(wait_s, 0, 30, &wait) != 0) {
        tc_err("--wait needs seconds from 0 to 30 (the server answers after 30 s at most)");
        return EX_USAGE;
    }
    if ((rc = state_load(1)) != EX_OK) {
        return rc;
    }
    dk = devkey_new();
    if ((rc = unlock(pin_stdin, "App PIN: ", dk)) == EX_OK &&
        (rc = fetch_pending(dk, (int)wait, &ans, &reqs)) == EX_OK && as_json) {
        char *text = xcheck(json_dumps(ans, JSON_COMPACT | JSON_PRESERVE_ORDER));
        printf("%s\n", text);
        free(text);
    } else if (rc == EX_OK) {
        for (size_t i = 0; i < json_array_size(reqs); i++) {
            printf("%s", i ? "\n" : "");
            print_request(json_array_get(reqs, i));
        }
        if (json_array_size(reqs) == 0) {
            fprintf(stderr, "no pending requests\n");
        }
    }
    json_decref(ans);
    sodium_free(dk);
    return rc;
}

/* Picks the request with the given id, or the first one. */
static const json_t *pick_request(const json_t *reqs, const char *id)
{
    for (size_t i = 0; i < json_array_size(reqs); i++) {
        const json_t *rq = json_array_get(reqs, i);
        if (id == NULL || (jstr(rq, "id") && strcmp(jstr(rq, "id"), id) == 0)) {
            return rq;
        }
    }
    tc_err(id ? "no pending request with id %s" : "no pending request%s", id ? id : "");
    return NULL;
}

/* Sends the decision; prints the result. reason may be NULL, code may be NULL. */
static int respond(const devkey_t *dk, const char *id, const char *decision, const char *code,
                   const char *reason, const char **status)
{
    json_t *req = json_pack("{s:s, s:s}", "id", id, "decision", decision), *ans = NULL;
    char *body;
    int rc;
    if (code) {
        json_object_set_new(req, "code", json_string(code));
    }
    if (reason) {
        json_object_set_new(req, "reason", json_string(reason));
    }
    body = xcheck(json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER));
    rc = api(dk, "POST", "/app/respond", body, 20, &ans);
    *status = rc == EX_OK ? APRINTF("%s", jstr(ans, "status") ? jstr(ans, "status") : "?") : NULL;
    free(body);
    json_decref(req);
    json_decref(ans);
    return rc;
}

/* Keeps only digits of a typed code ("482 913" -> "482913"). */
static char *digits_only(const char *s)
{
    char *o = APRINTF("%s", s), *w = o;
    for (const char *p = s; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            *w++ = *p;
        }
    }
    *w = '\0';
    return o;
}

/* The code to send for approve: from the request (compare) or typed (enter). */
static int approve_code(const json_t *rq, const char *given, const char **code)
{
    char line[CODE_MAX];
    if (!is_enter_mode(rq)) {
        *code = req_code(rq);
        if (given && strcmp(digits_only(given), *code) != 0) {
            tc_err("--code does not match the code of the pending request; not approving");
            return EX_REFUSED;
        }
        return EX_OK;
    }
    if (given == NULL) {
        int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            tc_err("this request needs the code the browser shows: give --code CODE");
            return EX_USAGE;
        }
        close(fd);
        if (tc_read_line_tty("  Code aus dem Browser: ", line, sizeof(line)) < 0) {
            return EX_USAGE;
        }
        given = line;
    }
    *code = digits_only(given);
    if (**code == '\0') {
        tc_err("the code consists of digits");
        return EX_USAGE;
    }
    return EX_OK;
}

static const char approve_usage[] =
    "usage: freigabe-app approve [--id ID] [--code CODE] [--pin-stdin]\n"
    "\n"
    "Approves a pending login (the one with --id, else the first). In compare mode the\n"
    "code comes from the server (a given --code must match it); in enter mode type the\n"
    "code the browser shows (--code, or asked on the terminal).\n";

static const char deny_usage[] =
    "usage: freigabe-app deny [--id ID] [--not-me] [--pin-stdin]\n"
    "\n"
    "Denies a pending login (the one with --id, else the first). --not-me reports that\n"
    "you did not try to log in (the server then pauses new requests for a while).\n";

typedef struct {
    const char *id, *code;
    int pin_stdin, not_me, approve;
} decide_t;

static int decide(const decide_t *d)
{
    json_t *ans = NULL, *reqs = NULL;
    const json_t *rq;
    const char *code = NULL, *status = NULL;
    devkey_t *dk = devkey_new();
    int rc;
    if ((rc = unlock(d->pin_stdin, "App PIN: ", dk)) != EX_OK ||
        (rc = fetch_pending(dk, 0, &ans, &reqs)) != EX_OK) {
        sodium_free(dk);
        return rc;
    }
    if ((rq = pick_request(reqs, d->id)) == NULL) {
        rc = EX_REFUSED;
    } else if (!d->approve) {
        rc = respond(dk, jstr(rq, "id"), "deny", is_enter_mode(rq) ? NULL : req_code(rq),
                     d->not_me ? "not_me" : NULL, &status);
    } else if ((rc = approve_code(rq, d->code, &code)) == EX_OK) {
        rc = respond(dk, jstr(rq, "id"), "approve", code, NULL, &status);
    }
    if (rc == EX_OK) {
        const json_t *ctx = json_object_get(rq, "context");
        printf("%s: ", clean(status));
        if (code || !is_enter_mode(rq)) {
            printf("code %s, ", clean(group_code(code ? code : req_code(rq))));
        }
        printf("from %s (%s), %s\n", clean(jstr(ctx, "ip")), clean(jstr(ctx, "browser")),
               ctx_time(ctx));
    }
    json_decref(ans);
    sodium_free(dk);
    return rc;
}

static int cmd_approve(int argc, char **argv)
{
    decide_t d = { NULL, NULL, 0, 0, 1 };
    int rc;
    const tc_opt_t opts[] = { { "--id", 1, &d.id, NULL }, { "--code", 1, &d.code, NULL },
                              { "--pin-stdin", 0, NULL, &d.pin_stdin }, GLOBAL_OPTS, OPTS_END };
    if ((rc = parse_cmd(argc, argv, opts, approve_usage)) >= 0 || (rc = state_load(1)) != EX_OK) {
        return rc;
    }
    return decide(&d);
}

static int cmd_deny(int argc, char **argv)
{
    decide_t d = { NULL, NULL, 0, 0, 0 };
    int rc;
    const tc_opt_t opts[] = { { "--id", 1, &d.id, NULL }, { "--not-me", 0, NULL, &d.not_me },
                              { "--pin-stdin", 0, NULL, &d.pin_stdin }, GLOBAL_OPTS, OPTS_END };
    if ((rc = parse_cmd(argc, argv, opts, deny_usage)) >= 0 || (rc = state_load(1)) != EX_OK) {
        return rc;
    }
    return decide(&d);
}

/* ---- watch -------------------------------------------------------------- */

/* 3x5 digit font, drawn with two block characters per pixel. */
static const char *const font[10][5] = {
    { "###", "# #", "# #", "# #", "###" }, { " # ", "## ", " # ", " # ", "###" },
    { "###", "  #", "###", "#  ", "###" }, { "###", "  #", "###", "  #", "###" },
    { "# #", "# #", "###", "  #", "  #" }, { "###", "#  ", "###", "  #", "###" },
    { "###", "#  ", "###", "# #", "###" }, { "###", "  #", "  #", "  #", "  #" },
    { "###", "# #", "###", "# #", "###" }, { "###", "# #", "###", "  #", "###" },
};

static void print_big(const char *grouped)
{
    for (int row = 0; row < 5; row++) {
        fputs("    ", stdout);
        for (const char *p = grouped; *p; p++) {
            if (*p == ' ') {
                fputs("    ", stdout);
                continue;
            }
            for (const char *q = font[*p - '0'][row]; *q; q++) {
                fputs(*q == '#' ? "\xe2\x96\x88\xe2\x96\x88" : "  ", stdout);
            }
            fputs("  ", stdout);
        }
        putchar('\n');
    }
}

static void show_request(const json_t *rq)
{
    const json_t *ctx = json_object_get(rq, "context");
    const char *code = req_code(rq);
    printf("\n\033[1mAnmeldeanfrage\033[0m\n");
    printf("  von IP:   %s\n  Browser:  %s\n  Zeit:     %s\n", clean(jstr(ctx, "ip")),
           clean(jstr(ctx, "browser")), ctx_time(ctx));
    if (is_enter_mode(rq)) {
        printf("  Geben Sie gleich den Code ein, den Ihr Browser zeigt.\n\n");
        return;
    }
    printf("  Stimmt dieser Code mit dem im Browser überein?\n\n");
    if (strspn(code, "0123456789") == strlen(code) && strlen(code) <= 12) {
        print_big(group_code(code));
    }
    printf("\n    %s\n\n", clean(group_code(code)));
}

/* Waits for one key (j/n/x/q) with a live countdown. Returns the key, 0 on timeout,
 * -1 on interrupt. */
static int ask_key(time_t deadline)
{
    struct termios old, raw;
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC), key = 0;
    if (fd < 0 || tcgetattr(fd, &old) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    raw = old;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    tcsetattr(fd, TCSAFLUSH, &raw);
    while (!tc_interrupted && key == 0) {
        long left = (long)(deadline - time(NULL));
        struct pollfd pfd = { fd, POLLIN, 0 };
        char ch;
        if (left <= 0) break;
        printf("\r\033[K  noch %3ld s   Anmeldung freigeben? [j/n/x=Das war ich nicht] ", left);
        fflush(stdout);
        if (poll(&pfd, 1, 1000) > 0 && read(fd, &ch, 1) == 1 && strchr("jJnNxXqQyY", ch)) {
            key = ch | 0x20;
        }
    }
    tcsetattr(fd, TCSAFLUSH, &old);
    close(fd);
    putchar('\n');
    return tc_interrupted ? -1 : key;
}

/* Asks the PIN again before an approval (counts wrong PINs). */
static int confirm_pin(void)
{
    devkey_t *tmp = devkey_new();
    int rc = unlock(0, "  App-PIN: ", tmp);
    sodium_free(tmp);
    return rc;
}

static int watch_decide(const devkey_t *dk, const json_t *rq, int key)
{
    const char *code = NULL, *status = NULL, *id = jstr(rq, "id");
    int rc;
    if (key == 'n' || key == 'x') {
        rc = respond(dk, id, "deny", is_enter_mode(rq) ? NULL : req_code(rq),
                     key == 'x' ? "not_me" : NULL, &status);
    } else {
        if ((rc = approve_code(rq, NULL, &code)) != EX_OK || (rc = confirm_pin()) != EX_OK) {
            return rc;
        }
        rc = respond(dk, id, "approve", code, NULL, &status);
    }
    if (rc == EX_OK) {
        printf("  %s\n", strcmp(status, "approved") == 0 ? "\033[32mFreigegeben.\033[0m"
                       : strcmp(status, "denied") == 0 ? "\033[33mAbgelehnt.\033[0m"
                                                        : clean(status));
    }
    return rc;
}

/* Handles one request; returns an exit code that ends watch, or -1 to continue. */
static int watch_one(const devkey_t *dk, const json_t *rq)
{
    time_t deadline = time(NULL) + (time_t)json_integer_value(json_object_get(rq, "expires_in"));
    int key, rc;
    show_request(rq);
    for (;;) {
        key = ask_key(deadline);
        if (key < 0 || key == 'q') {
            return EX_OK;
        }
        if (key == 0) {
            printf("  Abgelaufen.\n");
            return -1;
        }
        rc = watch_decide(dk, rq, key == 'y' ? 'j' : key);
        if (rc == EX_PIN && !json_is_true(json_object_get(g.state, "wiped"))) {
            /* a mistyped PIN must not lose the request: ask again while it is valid */
            printf("  Falsche App-PIN - bitte noch einmal.\n");
            continue;
        }
        break;
    }
    if (rc == EX_UPDATE || (rc == EX_PIN && json_is_true(json_object_get(g.state, "wiped")))) {
        return rc;
    }
    return -1; /* a refused answer (expired, wrong code) does not end watching */
}

/* Remembers handled request ids so a request still listed is not asked twice. */
static int seen(json_t *ids, const char *id, int add)
{
    for (size_t i = 0; i < json_array_size(ids); i++) {
        if (strcmp(json_string_value(json_array_get(ids, i)), id) == 0) {
            return 1;
        }
    }
    if (add) {
        json_array_append_new(ids, json_string(id));
        if (json_array_size(ids) > 64) {
            json_array_remove(ids, 0);
        }
    }
    return 0;
}

/* One long poll; returns -1 to continue or an exit code. */
static int watch_round(const devkey_t *dk, json_t *ids)
{
    json_t *ans = NULL, *reqs = NULL;
    time_t started = time(NULL);
    int rc = fetch_pending(dk, 25, &ans, &reqs), out = -1;
    if (rc == EX_OK && json_array_size(reqs) == 0 && time(NULL) - started < 2) {
        /* the server cut the long poll short (busy or restarting; it says Retry-After):
         * never poll again at once */
        for (int i = 0; i < 2 && !tc_interrupted; i++) sleep(1);
    }
    if (tc_interrupted) {
        json_decref(ans);
        return EX_OK;
    }
    if (rc == EX_UPDATE || rc == EX_REFUSED) {
        return rc; /* too old, or the device was revoked */
    }
    if (rc != EX_OK) {
        fprintf(stderr, "  neuer Versuch in 5 s ...\n");
        for (int i = 0; i < 5 && !tc_interrupted; i++) sleep(1);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(reqs) && out < 0; i++) {
        const json_t *rq = json_array_get(reqs, i);
        const char *id = jstr(rq, "id");
        if (id != NULL && !seen(ids, id, 1)) {
            out = watch_one(dk, rq);
            if (out < 0) {
                printf("\nWarte auf Anmeldeanfragen ... (Strg-C beendet)\n");
            }
        }
    }
    json_decref(ans);
    return out;
}

static const char watch_usage[] =
    "usage: freigabe-app watch\n"
    "\n"
    "Interactive (needs a terminal): unlocks the device key with your PIN, waits for\n"
    "login requests, shows where each comes from and its code, and asks\n"
    "\"Anmeldung freigeben? [j/n/x=Das war ich nicht]\" (q at that question quits).\n"
    "Approving asks the PIN again. Ctrl-C ends it at any time, also while it waits.\n";

static int cmd_watch(int argc, char **argv)
{
    const tc_opt_t opts[] = { GLOBAL_OPTS, OPTS_END };
    devkey_t *dk;
    json_t *ids;
    int rc;
    if ((rc = parse_cmd(argc, argv, opts, watch_usage)) >= 0 || (rc = state_load(1)) != EX_OK) {
        return rc;
    }
    if (!tc_stdout_is_tty() || access("/dev/tty", R_OK | W_OK) != 0) {
        tc_err("watch needs a terminal; use 'pending' and 'approve' in scripts");
        return EX_USAGE;
    }
    dk = devkey_new();
    if ((rc = unlock(0, "App-PIN: ", dk)) != EX_OK) {
        sodium_free(dk);
        return rc;
    }
    tc_install_sigint();
    printf("Angemeldet als %s (%s). Warte auf Anmeldeanfragen ... (Strg-C beendet)\n",
           clean(jstr(g.state, "customer")), clean(jstr(g.state, "name")));
    ids = json_array();
    while ((rc = watch_round(dk, ids)) < 0 && !tc_interrupted) {
    }
    if (tc_interrupted) {
        printf("\nBeendet.\n");
        rc = EX_OK;
    }
    json_decref(ids);
    sodium_free(dk);
    return rc;
}

/* ---- sign-vector (hidden, for the integration tests) -------------------- */

static const char sign_vector_usage[] =
    "usage: freigabe-app sign-vector --seed HEX --method M --path P --ts T --nonce N\n"
    "                                [--body-file F] [--device ID]\n"
    "\n"
    "Debug: prints the Authorization header value this client would send for the given\n"
    "Ed25519 seed (32 bytes hex), method, path with query, ts, nonce and body file\n"
    "('-' = stdin; default empty body), device (default \"new\"). Checks\n"
    "tests/vectors/device-auth.json.\n";

static int cmd_sign_vector(int argc, char **argv)
{
    const char *seed_hex = NULL, *method = NULL, *path = NULL, *ts = NULL, *nonce = NULL;
    const char *body_file = NULL, *device = "new";
    unsigned char seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES];
    size_t n = 0, blen = 0;
    char *body = NULL;
    devkey_t *dk;
    int rc;
    const tc_opt_t opts[] = { { "--seed", 1, &seed_hex, NULL }, { "--method", 1, &method, NULL },
                              { "--path", 1, &path, NULL }, { "--ts", 1, &ts, NULL },
                              { "--nonce", 1, &nonce, NULL },
                              { "--body-file", 1, &body_file, NULL },
                              { "--device", 1, &device, NULL }, GLOBAL_OPTS, OPTS_END };
    if ((rc = parse_cmd(argc, argv, opts, sign_vector_usage)) >= 0) {
        return rc;
    }
    if (!seed_hex || !method || !path || !ts || !nonce ||
        sodium_hex2bin(seed, sizeof(seed), seed_hex, strlen(seed_hex), NULL, &n, NULL) != 0 ||
        n != sizeof(seed)) {
        tc_err("sign-vector needs --seed (64 hex digits) --method --path --ts --nonce");
        return EX_USAGE;
    }
    if (body_file && (body = tc_read_file(body_file, &blen)) == NULL) {
        tc_err("cannot read %s: %s", body_file, strerror(errno));
        return EX_USAGE;
    }
    dk = devkey_new();
    crypto_sign_seed_keypair(pk, dk->sk, seed);
    printf("%s\n", auth_header(dk, device, method, path, ts, nonce, (unsigned char *)body, blen));
    sodium_memzero(seed, sizeof(seed));
    sodium_free(dk);
    free(body);
    return EX_OK;
}

/* ---- dispatch ----------------------------------------------------------- */

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} command_t;

static const command_t commands[] = {
    { "enroll", cmd_enroll }, { "pending", cmd_pending }, { "approve", cmd_approve },
    { "deny", cmd_deny },     { "watch", cmd_watch },     { "sign-vector", cmd_sign_vector },
};

/* Global options before the command; returns the command's index or -(exit code)-1. */
static int parse_globals(int argc, char **argv)
{
    const tc_opt_t one[] = { GLOBAL_OPTS, OPTS_END };
    int i;
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(main_usage, stdout);
            return -EX_OK - 1;
        }
        int used = strchr(argv[i], '=') == NULL && i + 1 < argc ? 2 : 1;
        char *sub[3] = { argv[0], argv[i], used == 2 ? argv[i + 1] : NULL };
        if (tc_parse_opts(used + 1, sub, one, NULL, 0, NULL, NULL) != 0) {
            return -EX_USAGE - 1;
        }
        i += used - 1;
    }
    if (i >= argc) {
        fputs(main_usage, stderr);
        return -EX_USAGE - 1;
    }
    return i;
}

static int run(int argc, char **argv)
{
    for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
        if (strcmp(commands[k].name, argv[0]) == 0) {
            return commands[k].fn(argc, argv);
        }
    }
    tc_err("unknown command '%s' (see --help)", argv[0]);
    return EX_USAGE;
}

int main(int argc, char **argv)
{
    int i, rc;
    tc_set_progname("freigabe-app");
    if (fg_init() != FG_OK || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        tc_err("cannot initialise libsodium/libcurl");
        return EX_USAGE;
    }
    g.arena = xcheck(fg_arena_new());
    i = parse_globals(argc, argv);
    if (i < 0) {
        rc = -i - 1;
    } else {
        rc = run(argc - i, argv + i);
    }
    json_decref(g.state);
    fg_arena_free(g.arena);
    curl_global_cleanup();
    return rc;
}
