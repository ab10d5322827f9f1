/* fg.h - the Freigabe engine's public API: configuration, keys, and the sans-I/O actions. */
#ifndef FG_H
#define FG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Error codes (FG_OK or negative). Decisions are a separate enum below.     */

#define FG_OK 0
#define FG_ERR_NOMEM -1
#define FG_ERR_INVAL -2      /* bad input (client or configuration) */
#define FG_ERR_CRYPTO -3     /* libsodium failure / authentication failed */
#define FG_ERR_REDIS_DOWN -4 /* no connection, connection lost */
#define FG_ERR_TIMEOUT -5    /* Redis did not answer in time */
#define FG_ERR_REDIS -6      /* Redis answered with an unexpected reply */
#define FG_ERR_IO -7         /* file could not be read/written (key file) */
#define FG_ERR_BUSY -8       /* hash concurrency cap reached */

/* Returns a static English text for an FG_ERR_* code. */
const char *fg_strerror(int err);

/* Decisions (never negative, never mixed with error codes). */
typedef enum {
    FG_GRANTED = 1, /* valid; proceed */
    FG_DENIED,      /* no/invalid credentials */
    FG_EXPIRED,     /* was valid, timed out */
    FG_INVALID      /* malformed, forged or replayed */
} fg_decision_t;

/* Must be called once per process before anything else (calls sodium_init). */
int fg_init(void);

/* ------------------------------------------------------------------------ */
/* Arena: every object an action creates lives in one arena, freed at once. */

typedef struct fg_arena fg_arena_t;
fg_arena_t *fg_arena_new(void);
void fg_arena_free(fg_arena_t *a);
void *fg_arena_alloc(fg_arena_t *a, size_t n); /* zeroed; NULL on OOM */
char *fg_arena_strdup(fg_arena_t *a, const char *s);
char *fg_arena_strndup(fg_arena_t *a, const char *s, size_t n); /* stops at a NUL */
/* Copies exactly n bytes (NULs included) and adds a NUL: for binary-safe Redis strings. */
char *fg_arena_memdup(fg_arena_t *a, const void *s, size_t n);
char *fg_arena_printf(fg_arena_t *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------------------ */
/* Keys (key file from `freigabectl keygen`).                                */
/*
 * File format, text, one key per line, first line is the active key:
 *     # freigabe key file v1
 *     key <kid> <base64url of 32 random bytes>
 * kid: 1-32 chars [A-Za-z0-9_-]. From each 32-byte master secret the engine derives
 * (crypto_kdf, context "freigabe"): subkey 1 = XChaCha20-Poly1305 seal key,
 * subkey 2 = keyed-hash (BLAKE2b) key for tokens stored in Redis,
 * subkey 3 = Ed25519 seed for assertions. Older keys open old cookies and stay in jwks.
 */
typedef struct fg_keyring fg_keyring_t;

/* Loads a key file. On error returns NULL and writes a message into err. Caller frees
 * with fg_keyring_free (wipes secrets). */
fg_keyring_t *fg_keyring_load(const char *path, char *err, size_t errlen);
void fg_keyring_free(fg_keyring_t *k);
/* Writes a new key file text (one fresh key with the given kid) into a malloc'd string. */
char *fg_keyring_generate_text(const char *kid);

/* ------------------------------------------------------------------------ */
/* Configuration: parsed and validated once by the engine.                   */

typedef struct fg_config fg_config_t;

/* A fresh configuration with every value unset. Free with fg_config_free. */
fg_config_t *fg_config_new(void);
void fg_config_free(fg_config_t *c);

/*
 * Sets one directive from its string value. `name` is the engine's neutral name:
 *   redis, key_file, prefix, code_mode, code_length, challenge_timeout, session_idle,
 *   session_max, header_prefix, min_client, key_prefix, default_path, lang,
 *   argon2_ops, argon2_mem, hash_concurrency, redis_timeout, issuer, audience,
 *   metrics_allow, secure_cookies (on|off|auto), branding_dir, login_max_fail,
 *   login_ip_max_fail, fail_window, challenge_max, notme_cooldown, poll_interval
 * Durations accept "120", "120s", "2m", "1h". Returns FG_OK or FG_ERR_INVAL with a
 * message (without the directive name; the wrapper adds its own spelling) in err.
 * Nothing is read from disk here (key_file is only recorded).
 */
int fg_config_set(fg_config_t *c, const char *name, const char *value, char *err, size_t errlen);

/* Copies an engine message into out (always NUL-terminated), replacing every word made of
 * [a-z0-9_] for which spell(word, ud) returns non-NULL with what it returns: the wrappers
 * turn "session_idle: 900s is longer than session_max (60s)" into their own directive
 * names (FreigabeSessionIdle / freigabe_session_idle) everywhere in the message. */
void fg_config_spell(const char *msg, const char *(*spell)(const char *word, void *ud),
                     void *ud, char *out, size_t outlen);

/* A new configuration: child's set values over parent's. Free with fg_config_free. */
fg_config_t *fg_config_merge(const fg_config_t *parent, const fg_config_t *child);

/* Fills defaults for unset values, checks cross-field rules and loads the key file.
 * Returns FG_OK, or an error with a message in err (naming the neutral directive name
 * in the form "key_file: cannot read /x: No such file"). */
int fg_config_finalize(fg_config_t *c, char *err, size_t errlen);

/* Accessors the wrappers need. */
const char *fg_config_prefix(const fg_config_t *c);         /* "/freigabe" */
const char *fg_config_redis_url(const fg_config_t *c);
int fg_config_redis_timeout_ms(const fg_config_t *c);
int fg_config_hash_concurrency(const fg_config_t *c);
int fg_config_session_idle(const fg_config_t *c);         /* seconds */
const fg_keyring_t *fg_config_keys(const fg_config_t *c); /* NULL before finalize */

/* Parsed Redis URL: redis://[user:pass@]host:port/db or unix:/path[?db=N]. */
typedef struct {
    char host[256];
    int port;
    char unix_path[256]; /* non-empty for unix sockets */
    char user[128];
    char password[256];
    int db;
} fg_redis_target_t;
int fg_redis_url_parse(const char *url, fg_redis_target_t *out, char *err, size_t errlen);
/* The URL with any user:password replaced by "***", for logs. Writes into buf (always
 * NUL-terminated) and returns buf. */
const char *fg_redis_url_redact(const char *url, char *buf, size_t len);

/* ------------------------------------------------------------------------ */
/* Requests as the host sees them.                                           */

typedef struct {
    const char *method;       /* "GET" */
    const char *path;         /* decoded? no: raw path without query, e.g. "/freigabe/login" */
    const char *query;        /* raw query without '?', or NULL */
    const char *host;         /* Host header */
    const char *remote_ip;    /* client address as text */
    int https;                /* request arrived over TLS */
    /* Request headers the engine looks at (NULL when absent). */
    const char *cookie, *accept, *accept_language, *content_type, *origin, *referer,
        *sec_fetch_site, *sec_fetch_mode, *x_requested_with, *user_agent, *authorization,
        *freigabe_client;
    const unsigned char *body; /* request body (endpoints only); may be NULL */
    size_t body_len;
    int64_t now;               /* unix seconds, from the host's clock */
} fg_request_t;

/* The Cookie header to send upstream with the module's own cookies (session and pre-login,
 * with and without __Host-) removed: NULL when it holds none of them (leave the header
 * alone), "" when nothing remains (remove the header). Result in the arena. Wrappers apply
 * it to every request they pass on, protected or not: the session cookie is a bearer
 * token that no upstream needs. */
const char *fg_upstream_cookie(fg_arena_t *a, const char *cookie_header);

/* 1 when s is 1..maxlen bytes of valid UTF-8 without control characters (C0, DEL, C1):
 * the rule for display names and device names, which end up in headers, JSON and
 * terminals. */
int fg_text_ok(const char *s, size_t maxlen);

/* The request headers the engine reads, each with the fg_request_t field it goes into
 * (a const char * at `offset`); NULL-terminated. Both wrappers fill fg_request_t from it,
 * so a header the engine needs is named once. Cookie is not in it: the wrappers pass the
 * Cookie header as the client sent it (before they strip the module's cookies). */
typedef struct {
    const char *name;
    size_t offset;
} fg_request_header_t;
extern const fg_request_header_t fg_request_headers[];

/* True when `name` (any case, '_' for '-') could be mistaken for one of the identity
 * headers (header_prefix followed by anything). Wrappers remove such inbound headers
 * on every request. */
int fg_header_is_reserved(const fg_config_t *c, const char *name, size_t len);

/* ------------------------------------------------------------------------ */
/* Redis replies fed back to an action (the host converts from hiredis).     */

typedef enum { FG_R_NIL, FG_R_INT, FG_R_STR, FG_R_STATUS, FG_R_ERR, FG_R_ARRAY } fg_reply_type_t;

typedef struct fg_reply {
    fg_reply_type_t type;
    long long integer;
    const char *str; /* STR, STATUS, ERR */
    size_t len;
    size_t n;        /* ARRAY */
    struct fg_reply **elem;
} fg_reply_t;

/* One Redis command as an argv vector. */
typedef struct {
    int argc;
    const char **argv;
    const size_t *argvlen;
} fg_cmd_t;

/* ------------------------------------------------------------------------ */
/* Argon2id jobs: pure CPU, touch nothing but the job; safe on any thread.   */

typedef struct fg_hash_job fg_hash_job_t;
/* Runs the job (crypto_pwhash_str_verify or _str). Call exactly once. */
void fg_hash_job_run(fg_hash_job_t *job);

/* ------------------------------------------------------------------------ */
/* Actions: the sans-I/O state machines.                                     */

typedef enum {
    FG_KIND_PROTECT,  /* a protected location: check the session */
    FG_KIND_ENDPOINT  /* a request under the prefix: the engine routes it */
} fg_kind_t;

typedef enum {
    FG_STEP_REDIS, /* run fg_action_commands() pipelined, then fg_action_feed() */
    FG_STEP_HASH,  /* run fg_hash_job_run(fg_action_hash_job()), then step again */
    FG_STEP_SLEEP, /* wait fg_action_sleep_ms(), set the clock, step again (long poll) */
    FG_STEP_DONE   /* fg_action_response() is ready */
} fg_step_t;

typedef struct {
    const char *name;
    const char *value;
} fg_header_t;

/* What the customer's session says about them (valid when decision is FG_GRANTED). */
typedef struct {
    const char *customer;
    const char *name;        /* UTF-8 */
    const char *name_pct;    /* percent-encoded UTF-8 */
    int64_t auth_time;
    const char *session_id;  /* opaque, stable, not the cookie */
    const char *assertion;   /* compact JWT */
} fg_identity_t;

typedef struct {
    fg_decision_t decision;  /* PROTECT: FG_GRANTED means "proxy on" */
    int status;              /* HTTP status when not proxying (or 0) */
    fg_header_t *headers;    /* response headers: Set-Cookie, Location, Content-Type, ... */
    size_t nheaders;
    const char *body;
    size_t body_len;
    /* PROTECT + GRANTED only: */
    const fg_identity_t *identity;
    fg_header_t *upstream;   /* identity headers to set on the proxied request */
    size_t nupstream;
    /* Cookie header for upstream with the module's cookies removed; NULL when the
     * request had none of them (leave Cookie alone); "" means remove the header. */
    const char *upstream_cookie;
} fg_response_t;

typedef enum { FG_LOG_ERR, FG_LOG_WARN, FG_LOG_INFO, FG_LOG_DEBUG } fg_log_level_t;
/* Log sink the wrapper installs per action; messages never contain secrets. */
typedef void (*fg_log_fn)(void *ud, fg_log_level_t level, const char *msg);

typedef struct fg_action fg_action_t;

/* Creates an action for one request. The request's strings are copied into the action's
 * arena, so the host may free them. `cfg` must be finalized and outlive the action.
 * Returns NULL on OOM. Free with fg_action_free. */
fg_action_t *fg_action_new(const fg_config_t *cfg, fg_kind_t kind, const fg_request_t *req);
void fg_action_free(fg_action_t *a);
void fg_action_set_log(fg_action_t *a, fg_log_fn fn, void *ud);

/* A host-provided memory store for session checks (no I/O). With one installed, a
 * protected request whose session was confirmed by Redis less than the host's recheck
 * interval ago is granted from memory: revocation and logouts on other frontends then
 * take effect within that interval. The engine decides what is kept and under which key
 * (the session's opaque id); the host only stores bytes. */
typedef struct {
    /* Copies the entry for key into buf (at most max bytes) and returns its length, or
     * -1 when there is none or it is older than the recheck interval. */
    int (*get)(void *ud, const char *key, char *buf, size_t max, int64_t now);
    /* Stores value under key, stamped with now (too long a value may be dropped). */
    void (*put)(void *ud, const char *key, const char *value, size_t len, int64_t now);
    /* Forgets key (after a logout through this host). */
    void (*del)(void *ud, const char *key);
    void *ud;
} fg_session_cache_t;

/* Installs a session cache for this action (PROTECT and logout use it); the struct must
 * outlive the action. Without one, every check asks Redis. */
void fg_action_set_session_cache(fg_action_t *a, const fg_session_cache_t *cache);

/* Advances the state machine until it needs the host. */
fg_step_t fg_action_step(fg_action_t *a);

/* FG_STEP_REDIS: the commands to run in order (pipelined, one round trip). Valid until
 * the next step/feed. */
size_t fg_action_commands(fg_action_t *a, const fg_cmd_t **cmds);
/* Feeds the replies (same count and order). Replies are copied; host frees its own. */
void fg_action_feed(fg_action_t *a, fg_reply_t *const *replies, size_t n);
/* Tells the action that Redis failed (FG_ERR_REDIS_DOWN or FG_ERR_TIMEOUT); the next
 * step ends with a fail-closed 503 response. */
void fg_action_fail(fg_action_t *a, int err);

/* FG_STEP_HASH: the job to run (owned by the action). */
fg_hash_job_t *fg_action_hash_job(fg_action_t *a);
/* Tells the action that the hash could not be scheduled (FG_ERR_BUSY -> 503 + Retry-After). */
void fg_action_hash_refused(fg_action_t *a, int err);

/* FG_STEP_SLEEP: milliseconds to wait before stepping again. */
int fg_action_sleep_ms(const fg_action_t *a);
void fg_action_set_now(fg_action_t *a, int64_t now);
/* FG_STEP_SLEEP: answer at the next step instead of sleeping again (the server is going
 * away: a long poll returns what it has now, the app polls again). */
void fg_action_stop_waiting(fg_action_t *a);

/* FG_STEP_DONE: the response (owned by the action). */
const fg_response_t *fg_action_response(const fg_action_t *a);

/* The arena of the action (hosts may allocate request-lifetime data in it). */
fg_arena_t *fg_action_arena(fg_action_t *a);

#ifdef __cplusplus
}
#endif
#endif
