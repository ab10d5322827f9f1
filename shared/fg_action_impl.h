/* fg_action_impl.h - the action object and the helpers its handlers share (engine-private). */
#ifndef FG_ACTION_IMPL_H
#define FG_ACTION_IMPL_H

#include "fg_internal.h"
#include <jansson.h>

/* ---- Lua scripts (fg_scripts.c) */
typedef enum {
    FG_SCRIPT_CREATE,
    FG_SCRIPT_STATUS,
    FG_SCRIPT_REDEEM,
    FG_SCRIPT_TOUCH,
    FG_SCRIPT_LOGOUT,
    FG_SCRIPT_PENDING,
    FG_SCRIPT_RESPOND,
    FG_SCRIPT_ENROLL,
    FG_SCRIPT_ATTEMPT,
    FG_SCRIPT_REHASH,
    FG_SCRIPT_COUNT
} fg_script_id_t;

typedef struct {
    const char *name;
    const char *body;
    char sha[41];
} fg_script_t;

const fg_script_t *fg_script_get(fg_script_id_t id);

/* ---- the action */
#define FG_MAX_CMDS 8
#define FG_MAX_ARGS 40
#define FG_MAX_HEADERS 24

typedef fg_step_t (*fg_handler_fn)(fg_action_t *a);

typedef struct {
    const char *argv[FG_MAX_ARGS];
    size_t argvlen[FG_MAX_ARGS];
    int argc;
    int script; /* index + 1 of an fg_script_id_t when this is an EVALSHA, else 0 */
} fg_cmd_slot_t;

struct fg_action {
    fg_arena_t *arena;
    const fg_config_t *cfg;
    const fg_keyring_t *keys;
    fg_kind_t kind;
    fg_request_t req;
    fg_log_fn log;
    void *log_ud;
    const fg_session_cache_t *cache;   /* optional, host memory */

    fg_handler_fn handler;
    int state;       /* handler-specific */
    const char *lang;

    /* Redis round trip */
    fg_cmd_slot_t slots[FG_MAX_CMDS];
    fg_cmd_t cmds[FG_MAX_CMDS];
    size_t ncmds;
    fg_reply_t **replies;
    size_t nreplies;
    int redis_err;
    int use_eval;    /* a NOSCRIPT came back: resend as EVAL */

    /* Argon2id */
    fg_hash_job_t *job;
    int hash_err;

    int sleep_ms;
    int64_t started;

    /* response under construction */
    fg_response_t resp;
    fg_header_t headers[FG_MAX_HEADERS];
    fg_header_t upstream[8];
    fg_identity_t identity;

    /* scratch shared by the handlers */
    const char *customer;   /* validated customer number */
    const char *token;      /* pre or session token (raw, from the sealed cookie) */
    const char *sealed;     /* the sealed cookie it came from (its kid picks the hash key) */
    const char *csrf;
    const char *rd;
    const char *device;
    const char *name;
    int64_t created;
    int flag;
    int stop_waiting;       /* long poll: answer now (fg_action_stop_waiting) */
    int wellformed;         /* login: the customer number has a valid form */
    int disabled;           /* login: the account is disabled */
    long long ndevices;     /* login: enrolled devices */
    fg_devauth_t dev;       /* app API: the parsed Authorization header */
    json_t *json;           /* parsed request body (app API) */
};

/* A string argument that is never NULL (NULL ends the variadic lists below). */
#define FG_S(x) ((x) ? (x) : "")

/* ---- fg_action.c: plumbing shared by the handlers */
void fg_act_log(fg_action_t *a, fg_log_level_t lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Starts a new Redis batch. */
void fg_act_batch(fg_action_t *a);
/* Adds a plain command; NULL-terminated list of strings. */
void fg_act_cmd(fg_action_t *a, const char *arg0, ...);
/* Adds an EVALSHA of script `id` with nkeys keys followed by args; NULL-terminated. */
void fg_act_eval(fg_action_t *a, fg_script_id_t id, int nkeys, ...);
/* Reply i of the last batch (never NULL: a NIL reply stands in for missing ones). */
const fg_reply_t *fg_act_reply(fg_action_t *a, size_t i);
/* Element j of an array reply as a string (NULL if not a string/int). */
const char *fg_act_elem(fg_action_t *a, const fg_reply_t *r, size_t j);
long long fg_act_elem_int(fg_action_t *a, const fg_reply_t *r, size_t j);

/* Redis key "<prefix>{customer}:<suffix>" or "<prefix><suffix>" when customer is NULL. */
const char *fg_act_key(fg_action_t *a, const char *customer, const char *suffix);
const char *fg_act_num(fg_action_t *a, long long v);

/* Responses */
void fg_act_header(fg_action_t *a, const char *name, const char *value);
fg_step_t fg_act_page(fg_action_t *a, int status, fg_page_t page, fg_page_args_t *args);
fg_step_t fg_act_json(fg_action_t *a, int status, json_t *obj); /* steals obj */
fg_step_t fg_act_json_error(fg_action_t *a, int status, const char *error, const char *msg);
fg_step_t fg_act_redirect(fg_action_t *a, int status, const char *location);
/* An error as a page for navigations, JSON for everything else. */
fg_step_t fg_act_fail(fg_action_t *a, int status, const char *msgkey);
fg_step_t fg_act_unavailable(fg_action_t *a);
void fg_act_page_args(fg_action_t *a, fg_page_args_t *args);

/* Cookies: base is "freigabe" or "freigabe-pre" */
int fg_act_secure(const fg_action_t *a);
const char *fg_act_cookie_get(fg_action_t *a, const char *base);
void fg_act_cookie_set(fg_action_t *a, const char *base, const char *value, const char *samesite,
                       int max_age);
void fg_act_cookie_clear(fg_action_t *a, const char *base, const char *samesite);

/* Customer numbers: 1-64 of [A-Za-z0-9._-]. */
int fg_act_customer_ok(const char *c);
const char *fg_act_form(fg_action_t *a, const char *name);
const char *fg_act_query(fg_action_t *a, const char *name);
/* Short description of the browser from User-Agent ("Firefox on Windows"). */
const char *fg_act_browser(fg_action_t *a);
/* ISO 8601 UTC of t. */
const char *fg_act_time(fg_action_t *a, int64_t t);

/* ---- pre-login state (fg_flow.c) and sessions (fg_session.c) */
/* Reads the sealed pre cookie: kind 'L' (login form) or 'P' (password ok). */
int fg_act_pre_open(fg_action_t *a, char *kind);
/* Reads the session cookie into a->customer/token/created. FG_OK or an error. */
int fg_act_session_open(fg_action_t *a);
const char *fg_act_session_hash(fg_action_t *a);

/* ---- route handlers */
fg_step_t fg_h_protect(fg_action_t *a);
fg_step_t fg_h_whoami(fg_action_t *a);
fg_step_t fg_h_logout(fg_action_t *a);
fg_step_t fg_h_login_get(fg_action_t *a);
fg_step_t fg_h_login_post(fg_action_t *a);
fg_step_t fg_h_approve_get(fg_action_t *a);
fg_step_t fg_h_approve_post(fg_action_t *a);
fg_step_t fg_h_wait(fg_action_t *a);
fg_step_t fg_h_status(fg_action_t *a);
fg_step_t fg_h_finish(fg_action_t *a);
fg_step_t fg_h_app_enroll(fg_action_t *a);
fg_step_t fg_h_app_pending(fg_action_t *a);
fg_step_t fg_h_app_respond(fg_action_t *a);

#endif
