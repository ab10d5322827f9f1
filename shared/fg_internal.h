/* fg_internal.h - declarations shared between the engine's own files (not for wrappers). */
#ifndef FG_INTERNAL_H
#define FG_INTERNAL_H

#include "fg.h"
#include <sodium.h>
#include <stdarg.h>

/* ======================= fg_util.c ======================================= */

/* Growable byte buffer in an arena. */
typedef struct {
    fg_arena_t *arena;
    char *data;
    size_t len, cap;
} fg_buf_t;
void fg_buf_init(fg_buf_t *b, fg_arena_t *a);
void fg_buf_add(fg_buf_t *b, const char *s, size_t n);
void fg_buf_puts(fg_buf_t *b, const char *s);
void fg_buf_printf(fg_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fg_buf_html(fg_buf_t *b, const char *s);   /* HTML-escapes & < > " ' */
const char *fg_buf_cstr(fg_buf_t *b);            /* NUL-terminated view */

/* base64url without padding. enc: returns arena string. dec: returns FG_OK and fills out
 * (up to outmax, *outlen set) or FG_ERR_INVAL for bad characters/length/padding. */
char *fg_b64url_encode(fg_arena_t *a, const unsigned char *in, size_t len);
int fg_b64url_decode(const char *in, size_t inlen, unsigned char *out, size_t outmax,
                     size_t *outlen);
/* Lowercase hex. */
char *fg_hex_encode(fg_arena_t *a, const unsigned char *in, size_t len);
/* SHA-256 lowercase hex of data (64 chars). */
char *fg_sha256_hex(fg_arena_t *a, const unsigned char *in, size_t len);
/* SHA-1 lowercase hex (only for Redis script ids; not security relevant). */
void fg_sha1_hex(const char *in, size_t len, char out[41]);
/* Percent-encodes every byte outside [A-Za-z0-9-._~]. */
char *fg_pct_encode(fg_arena_t *a, const char *s);
/* Random token: n random bytes as base64url. */
char *fg_random_token(fg_arena_t *a, size_t nbytes);
/* n random decimal digits (uniform). */
char *fg_random_digits(fg_arena_t *a, int n);
/* ASCII case-insensitive compare of n bytes. */
int fg_strncasecmp(const char *a, const char *b, size_t n);
/* Length of the valid UTF-8 sequence at s (no overlongs, surrogates or > U+10FFFF), or 0. */
size_t fg_utf8_seq(const unsigned char *s, size_t n);
/* Parses a decimal integer in [min,max]; returns FG_OK or FG_ERR_INVAL. */
int fg_parse_int(const char *s, long long min, long long max, long long *out);

/* ======================= fg_parse.c ====================================== */

/* Value of cookie `name` in a Cookie header, or NULL. Last one wins? No: first one. */
const char *fg_cookie_get(fg_arena_t *a, const char *cookie_header, const char *name);
/* The Cookie header without the named cookies; NULL if none of them were present,
 * "" if nothing remains. */
const char *fg_cookie_strip(fg_arena_t *a, const char *cookie_header,
                            const char *const *names, size_t nnames);

/* application/x-www-form-urlencoded (also query strings): decoded field, or NULL.
 * '+' is space; invalid %-escapes make the field invalid (NULL). First occurrence wins. */
const char *fg_form_get(fg_arena_t *a, const char *body, size_t len, const char *name);

/* The return path: `rd` if it is a safe same-site absolute path, else `fallback`.
 * Rejected: not starting with '/', "//", "/\\", any '\\', control chars or bytes >= 0x7f
 * raw, any percent-escape that decodes to '/', '\\' or a control char at the start,
 * anything with "://" before the first '?'. Max 2048 bytes. */
const char *fg_return_path(fg_arena_t *a, const char *rd, const char *fallback);

/* True when the request is a top-level page navigation (GET/HEAD; Accept contains
 * text/html; no X-Requested-With; Sec-Fetch-Mode absent or "navigate"). */
int fg_request_is_navigation(const fg_request_t *r);

/* Same-origin check for state-changing POSTs: Sec-Fetch-Site "same-origin" or absent,
 * and Origin (if present) equal to scheme://host of the request (https:// for a request
 * over TLS; http:// or https:// without TLS, which is what a TLS-terminating proxy forwards).
 * If both Origin and Sec-Fetch-Site are absent, Referer (if present) must be same-origin.
 * Returns 1 same-origin, 0 not. */
int fg_request_same_origin(const fg_request_t *r);

/* Preferred language "de" or "en" from Accept-Language (q-values honoured),
 * with `override` ("de"/"en" from a ?lang= parameter) taking precedence; default "de". */
const char *fg_lang_pick(const char *accept_language, const char *override,
                         const char *dflt);

/* ======================= fg_config.c (internal view) ===================== */

typedef enum { FG_CODE_COMPARE = 1, FG_CODE_ENTER = 2 } fg_code_mode_t;

struct fg_config {
    /* every int field: -1 = unset; every string: NULL = unset */
    char *redis_url;
    char *key_file;
    char *prefix;         /* no trailing slash */
    int code_mode;
    int code_length;      /* 4..8, default 6 */
    int challenge_timeout;/* seconds, default 120 */
    int session_idle;     /* 900 */
    int session_max;      /* 28800 */
    char *header_prefix;  /* "X-Freigabe-" */
    int min_android, min_ios; /* default 11 / 15 */
    char *min_app;        /* "X.Y[.Z]" or NULL = any */
    char *key_prefix;     /* Redis key prefix, default "freigabe:" */
    char *default_path;   /* "/" */
    char *lang;           /* "de" */
    long long argon2_ops; /* crypto_pwhash_OPSLIMIT_INTERACTIVE */
    long long argon2_mem; /* crypto_pwhash_MEMLIMIT_INTERACTIVE */
    int hash_concurrency; /* 4 */
    int redis_timeout_ms; /* 2000 */
    char *issuer;         /* "freigabe" */
    char *audience;       /* "portal" */
    char *metrics_allow;  /* space-separated IPs allowed for /metrics, default "127.0.0.1 ::1" */
    int secure_cookies;   /* 0 off, 1 on, 2 auto (default: from request https) */
    int login_max_fail;   /* failures per account per window before 429 (5) */
    int login_ip_max_fail;/* per client address (20) */
    int fail_window;      /* seconds (900) */
    int challenge_max;    /* approval requests per customer per window (5) */
    int notme_cooldown;   /* seconds after "not me" (300) */
    int poll_interval;    /* status interval seconds (2) */
    char *branding_dir;   /* logo, brand.css, texts-*.txt; NULL = built-in look */
    fg_keyring_t *keys;   /* loaded by finalize */
    struct fg_branding *branding; /* loaded by finalize from branding_dir, else NULL */
};

/* Dotted version compare: <0, 0, >0. Non-numeric parts compare as 0. */
int fg_version_cmp(const char *a, const char *b);

/* ======================= fg_crypto.c ===================================== */

#define FG_KID_MAX 32
typedef struct {
    char kid[FG_KID_MAX + 1];
    unsigned char seal_key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    unsigned char hash_key[crypto_generichash_KEYBYTES];
    unsigned char sign_pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sign_sk[crypto_sign_SECRETKEYBYTES];
} fg_key_t;

struct fg_keyring {
    fg_key_t *keys; /* keys[0] is active */
    size_t n;
};

/* Seals plaintext under the active key: returns "<kid>.<base64url(nonce||ciphertext)>"
 * with additional data `purpose` (e.g. "session", "pre") so tokens cannot be swapped. */
char *fg_token_seal(fg_arena_t *a, const fg_keyring_t *k, const char *purpose,
                    const char *plain, size_t len);
/* Opens a sealed token with the key named by its kid. Returns FG_OK and a NUL-terminated
 * plaintext in *plain (arena), or FG_ERR_CRYPTO / FG_ERR_INVAL. */
int fg_token_open(fg_arena_t *a, const fg_keyring_t *k, const char *purpose,
                  const char *token, char **plain, size_t *len);
/* Keyed BLAKE2b-256 of data under the active key's hash_key, as lowercase hex (64). Used
 * for every token stored in Redis. Always the active key (rotation invalidates stored
 * tokens, which are short-lived). */
char *fg_token_hash(fg_arena_t *a, const fg_keyring_t *k, const char *purpose,
                    const char *data, size_t len);

/* The same under the key that sealed `sealed` (its kid), falling back to the active key:
 * tokens stored before a key rotation are found again after it. */
char *fg_token_hash_by(fg_arena_t *a, const fg_keyring_t *k, const char *sealed,
                       const char *purpose, const char *data, size_t len);

/* Argon2id job constructors (job allocated in arena; host runs fg_hash_job_run). */
fg_hash_job_t *fg_hash_job_verify(fg_arena_t *a, const char *stored_hash,
                                  const char *password, size_t pwlen);
/* Hash job that creates a new hash (for rehash and user add). */
fg_hash_job_t *fg_hash_job_create(fg_arena_t *a, const char *password, size_t pwlen,
                                  long long ops, long long mem);
/* Results after run: verify -> 1 match / 0 mismatch; create -> the hash string. */
int fg_hash_job_ok(const fg_hash_job_t *j);
const char *fg_hash_job_result(const fg_hash_job_t *j);
/* 1 if the stored hash needs rehash for these limits (crypto_pwhash_str_needs_rehash). */
int fg_hash_needs_rehash(const char *stored, long long ops, long long mem);
/* A fixed dummy Argon2id hash (made once per process at the given limits) for unknown
 * customers, so both paths cost the same. */
const char *fg_hash_dummy(long long ops, long long mem);
/* Wipes the password copy inside a job (called by the action after use). */
void fg_hash_job_wipe(fg_hash_job_t *j);

/* ======================= fg_jwt.c ======================================== */

typedef struct {
    const char *iss, *aud, *sub, *name, *sid;
    int64_t auth_time, iat, exp;
} fg_claims_t;
/* Compact JWS, header {"alg":"EdDSA","typ":"JWT","kid":<active kid>}, claims + "amr":
 * ["pwd","app"], signed with the active key's Ed25519 key. */
char *fg_jwt_sign(fg_arena_t *a, const fg_keyring_t *k, const fg_claims_t *c);
/* {"keys":[{"kty":"OKP","crv":"Ed25519","x":...,"kid":...,"use":"sig","alg":"EdDSA"},...]} */
char *fg_jwks_json(fg_arena_t *a, const fg_keyring_t *k);

/* ======================= fg_device.c ===================================== */

typedef struct {
    const char *device, *ts, *nonce, *sig; /* raw attribute values */
} fg_devauth_t;
/* Parses `Freigabe-Device device="..", ts="..", nonce="..", sig=".."` (any order, optional
 * whitespace, all four required, no duplicates). FG_OK or FG_ERR_INVAL. */
int fg_devauth_parse(fg_arena_t *a, const char *header, fg_devauth_t *out);
/* The canonical message of product.md §3 (path includes query). */
char *fg_devauth_message(fg_arena_t *a, const char *method, const char *path_with_query,
                         const char *ts, const char *nonce, const unsigned char *body,
                         size_t body_len);
/* Verifies sig (base64url, 64 bytes) over the message with the raw 32-byte public key
 * (base64url in pk_b64). Returns FG_GRANTED or FG_INVALID. Checks ts within +-60s of now
 * (FG_EXPIRED when outside), nonce is base64url of >= 16 bytes. */
fg_decision_t fg_devauth_verify(fg_arena_t *a, const fg_devauth_t *h, const char *pk_b64,
                                const char *method, const char *path_with_query,
                                const unsigned char *body, size_t body_len, int64_t now);

typedef struct {
    const char *platform; /* "android" / "ios" */
    const char *os;       /* "13" */
    const char *app;      /* "2.4.0" */
} fg_client_t;
/* Parses `platform=android, os=13, app=2.4.0`. FG_OK or FG_ERR_INVAL. */
int fg_client_parse(fg_arena_t *a, const char *header, fg_client_t *out);
/* Checks against min_android/min_ios/min_app. Returns NULL if fine, else a JSON-safe
 * reason like "android 10 is older than 11" (arena) and sets *what to "os" or "app". */
const char *fg_client_too_old(fg_arena_t *a, const fg_config_t *c, const fg_client_t *cl,
                              const char **what);

/* ======================= fg_page.c ======================================= */

typedef enum {
    FG_PAGE_LOGIN,      /* form: customer, password, csrf, rd; optional error */
    FG_PAGE_APPROVE,    /* "Freigabe anfordern" form (csrf) */
    FG_PAGE_WAIT,       /* code, countdown, status, finish form (csrf) */
    FG_PAGE_LOGGED_OUT,
    FG_PAGE_ERROR       /* generic: title + message + link */
} fg_page_t;

/* An admin's logo, colours and texts (branding_dir), loaded once at start-up and read-only
 * afterwards, so pages never touch the disk. */
typedef struct fg_branding fg_branding_t;

typedef struct {
    const char *lang;        /* "de"/"en" */
    const char *lang_param;  /* "de"/"en" when chosen with ?lang= (kept in links), else NULL */
    const char *prefix;      /* endpoint prefix */
    const fg_branding_t *brand; /* NULL: built-in logo and texts */
    const char *csrf;
    const char *rd;
    const char *customer;    /* echo on the login form */
    const char *error;       /* message key, see fg_msg */
    const char *code;        /* WAIT: raw digits, rendered grouped */
    int enter_mode;          /* WAIT: the customer types the code into the app */
    int expires_in;          /* WAIT */
    int interval;            /* WAIT */
    int total;               /* WAIT: the challenge's full validity (for the progress bar) */
    const char *status;      /* WAIT: "authorization_pending", "approved", ... */
    int refresh;             /* WAIT: seconds for <meta http-equiv=refresh> without JS */
    const char *title_key, *message_key, *link_href, *link_key; /* ERROR */
} fg_page_args_t;

/* Full HTML document (UTF-8) for a page. */
char *fg_page_render(fg_arena_t *a, fg_page_t page, const fg_page_args_t *args);
/* A localized message by key (e.g. "login_failed", "too_many", "unavailable"). Never NULL:
 * unknown keys return the key itself. */
const char *fg_msg(const char *lang, const char *key);
/* fg_msg with the admin's override from `b` (may be NULL) taking precedence. */
const char *fg_page_text(const fg_branding_t *b, const char *lang, const char *key);

/* fg_branding_load: reads and checks the branding directory `dir` (start-up only):
 * logo.svg or logo.png (<= 256 KiB), brand.css (<= 64 KiB), texts-de.txt / texts-en.txt
 * (UTF-8 "key = value" lines overriding fg_msg texts). Returns a malloc'd branding to free
 * with fg_branding_free, or NULL with "branding_dir: <file> line N: <problem>" in err. */
fg_branding_t *fg_branding_load(const char *dir, char *err, size_t errlen);
void fg_branding_free(fg_branding_t *b);
/* The branding's file for a static path below the prefix ("/static/logo.svg",
 * "/static/logo.png", "/static/brand.css"), or the built-in logo for "/static/logo.svg"
 * when the admin has none. Returns 1 and sets body/len/ctype (owned by b or static), or 0. */
int fg_branding_asset(const fg_branding_t *b, const char *sub, const char **body, size_t *len,
                      const char **ctype);
/* The script served at {prefix}/static/freigabe.js and style at {prefix}/static/freigabe.css */
extern const char fg_static_js[];
extern const char fg_static_css[];
/* Security headers every page carries (CSP, no-store, nosniff, Referrer-Policy,
 * X-Frame-Options), NULL-terminated name/value pairs. */
extern const fg_header_t fg_security_headers[];

#endif
