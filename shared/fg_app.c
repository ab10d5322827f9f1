/* fg_app.c - the app API: enrollment, pending requests (long poll) and approve/deny. */
#include "fg_action_impl.h"
#include <ctype.h>
#include <string.h>

/* A signed request is accepted for ts +-60 s of each frontend's clock; nonces are kept long
 * enough to cover that window on frontends whose clocks differ by up to three minutes. */
#define NONCE_TTL 300
#define MAX_WAIT 30
#define MAX_BAD_CODES 3
#define MAX_BODY 16384

/* Client gating and header/body parsing shared by every app request. Returns
 * FG_STEP_REDIS to mean "fine, go on", or FG_STEP_DONE with an error response. */
static fg_step_t app_precheck(fg_action_t *a, fg_devauth_t *h)
{
    fg_client_t cl;
    const char *what = NULL;

    if (a->req.freigabe_client == NULL) {
        return fg_act_json_error(a, 400, "invalid_request", "Freigabe-Client header missing");
    }
    if (fg_client_parse(a->arena, a->req.freigabe_client, &cl) != FG_OK) {
        return fg_act_json_error(a, 400, "invalid_request", "Freigabe-Client header malformed");
    }
    const char *why = fg_client_too_old(a->arena, a->cfg, &cl, &what);
    if (why != NULL) {
        json_t *o = json_pack("{s:s,s:s,s:s}", "error", "update_required", "what", FG_S(what),
                              "message", why);
        json_t *min = json_pack("{s:i,s:i}", "android", a->cfg->min_android, "ios",
                                a->cfg->min_ios);
        if (a->cfg->min_app != NULL) {
            json_object_set_new(min, "app", json_string(a->cfg->min_app));
        }
        json_object_set_new(o, "minimum", min);
        return fg_act_json(a, 426, o);
    }
    if (a->req.authorization == NULL ||
        fg_devauth_parse(a->arena, a->req.authorization, h) != FG_OK) {
        return fg_act_json_error(a, 401, "invalid_signature",
                                 "Authorization: Freigabe-Device header missing or malformed");
    }
    if (a->req.body_len > MAX_BODY) {
        return fg_act_json_error(a, 413, "too_large", NULL);
    }
    if (strcmp(a->req.method, "POST") == 0) {
        json_error_t err;
        a->json = json_loadb((const char *)a->req.body, a->req.body_len, 0, &err);
        if (!json_is_object(a->json)) {
            return fg_act_json_error(a, 400, "invalid_request", "body must be a JSON object");
        }
    }
    return FG_STEP_REDIS;
}

static const char *body_str(fg_action_t *a, const char *field)
{
    return json_string_value(json_object_get(a->json, field));
}

static const char *path_with_query(fg_action_t *a)
{
    return a->req.query ? fg_arena_printf(a->arena, "%s?%s", a->req.path, a->req.query)
                        : a->req.path;
}

/* FG_STEP_REDIS when the signature holds, else an error response. */
static fg_step_t app_verify(fg_action_t *a, const fg_devauth_t *h, const char *pk)
{
    fg_decision_t d = fg_devauth_verify(a->arena, h, pk, a->req.method, path_with_query(a),
                                        a->req.body, a->req.body_len, a->req.now);
    if (d == FG_GRANTED) {
        return FG_STEP_REDIS;
    }
    fg_act_log(a, FG_LOG_WARN, "app request refused: %s signature from device %s (%s)",
               d == FG_EXPIRED ? "stale" : "invalid", h->device, a->req.remote_ip);
    return fg_act_json_error(a, 401, d == FG_EXPIRED ? "stale_request" : "invalid_signature",
                             d == FG_EXPIRED ? "ts is more than 60 s away from the server clock"
                                             : "signature does not verify");
}

static const char *nonce_key(fg_action_t *a, const fg_devauth_t *h)
{
    const char *s = fg_arena_printf(a->arena, "nonce:%s:%s", h->device, h->nonce);
    return fg_act_key(a, strcmp(h->device, "new") == 0 ? NULL : a->customer, s);
}

/* "K7QX-2M9P-4TLD" and "k7qx2m9p4tld" are the same code: uppercase, no '-' or spaces. */
static const char *activation_key(fg_action_t *a, const char *code)
{
    fg_buf_t b;
    fg_buf_init(&b, a->arena);
    for (const char *p = code; *p && b.len < 64; p++) {
        if (*p != '-' && *p != ' ') {
            char c = (char)toupper((unsigned char)*p);
            fg_buf_add(&b, &c, 1);
        }
    }
    const char *norm = fg_buf_cstr(&b);
    return fg_act_key(a, NULL, fg_arena_printf(a->arena, "act:%s",
                                               fg_sha256_hex(a->arena, (const unsigned char *)norm,
                                                             strlen(norm))));
}

/* ------------------------------------------------------------------------ */
/* enroll */

static fg_step_t enroll_start(fg_action_t *a)
{
    fg_devauth_t h;
    unsigned char pk[64];
    size_t pklen = 0;

    if (app_precheck(a, &h) != FG_STEP_REDIS) {
        return FG_STEP_DONE;
    }
    const char *code = body_str(a, "activation_code"), *key = body_str(a, "public_key");
    a->name = body_str(a, "device_name");
    if (strcmp(h.device, "new") != 0) {
        return fg_act_json_error(a, 400, "invalid_request", "enrollment is signed with device=\"new\"");
    }
    if (code == NULL || key == NULL ||
        fg_b64url_decode(key, strlen(key), pk, sizeof(pk), &pklen) != FG_OK || pklen != 32) {
        return fg_act_json_error(a, 400, "invalid_request",
                                 "activation_code and a 32-byte base64url public_key are required");
    }
    if (a->name == NULL || *a->name == '\0') {
        a->name = "App";
    } else if (!fg_text_ok(a->name, 64)) {
        /* it is shown to the admin (freigabectl) and in the audit: no terminal escapes */
        return fg_act_json_error(a, 400, "invalid_request",
                                 "device_name must be 1-64 bytes of UTF-8 without control characters");
    }
    if (app_verify(a, &h, key) != FG_STEP_REDIS) {
        return FG_STEP_DONE;
    }
    a->token = fg_arena_strdup(a->arena, key);
    fg_act_batch(a);
    fg_act_eval(a, FG_SCRIPT_ENROLL, 2, nonce_key(a, &h), activation_key(a, code),
                fg_act_num(a, NONCE_TTL), NULL);
    return FG_STEP_REDIS;
}

static fg_step_t enroll_store(fg_action_t *a)
{
    const fg_reply_t *r = fg_act_reply(a, 0);
    const char *st = FG_S(fg_act_elem(a, r, 0));
    if (strcmp(st, "replay") == 0) {
        return fg_act_json_error(a, 409, "replayed", "nonce already used");
    }
    if (strcmp(st, "ok") != 0) {
        fg_act_log(a, FG_LOG_WARN, "enrollment with an invalid activation code from %s",
                   a->req.remote_ip);
        return fg_act_json_error(a, 400, "invalid_activation_code",
                                 "activation code unknown, used or expired");
    }
    a->customer = fg_act_elem(a, r, 1);
    a->device = fg_arena_printf(a->arena, "d_%s", fg_random_token(a->arena, 12));
    fg_act_batch(a);
    fg_act_cmd(a, "HSET", fg_act_key(a, NULL, fg_arena_printf(a->arena, "device:%s", a->device)),
               "customer", a->customer, "pk", a->token, "name", a->name, "created",
               fg_act_num(a, a->req.now), NULL);
    fg_act_cmd(a, "SADD", fg_act_key(a, a->customer, "devices"), a->device, NULL);
    fg_act_cmd(a, "HGET", fg_act_key(a, a->customer, "user"), "name", NULL);
    fg_act_cmd(a, "XADD", fg_act_key(a, NULL, "audit"), "MAXLEN", "~", "10000", "*", "event",
               "device_enrolled", "customer", a->customer, "ip", a->req.remote_ip, "detail",
               a->device, NULL);
    return FG_STEP_REDIS;
}

fg_step_t fg_h_app_enroll(fg_action_t *a)
{
    if (a->redis_err) {
        return fg_act_unavailable(a);
    }
    switch (a->state++) {
    case 0:
        return enroll_start(a);
    case 1:
        return enroll_store(a);
    default:
        fg_act_log(a, FG_LOG_INFO, "device %s enrolled for %s", a->device, a->customer);
        return fg_act_json(a, 201, json_pack("{s:s,s:s,s:s}", "device_id", a->device, "customer",
                                             a->customer, "name",
                                             FG_S(fg_act_reply(a, 2)->str)));
    }
}

/* ------------------------------------------------------------------------ */
/* signed device requests: look the device up, then verify */

static fg_step_t device_lookup(fg_action_t *a, fg_devauth_t *h)
{
    if (app_precheck(a, h) != FG_STEP_REDIS) {
        return FG_STEP_DONE;
    }
    if (strcmp(h->device, "new") == 0 || strlen(h->device) > 64) {
        return fg_act_json_error(a, 401, "unknown_device", NULL);
    }
    a->device = h->device;
    a->dev = *h;
    fg_act_batch(a);
    fg_act_cmd(a, "HMGET", fg_act_key(a, NULL, fg_arena_printf(a->arena, "device:%s", h->device)),
               "customer", "pk", NULL);
    return FG_STEP_REDIS;
}

/* After the lookup: FG_STEP_REDIS when the device exists and the signature holds. */
static fg_step_t device_verified(fg_action_t *a, fg_devauth_t *h)
{
    const fg_reply_t *r = fg_act_reply(a, 0);
    const char *cust = fg_act_elem(a, r, 0), *pk = fg_act_elem(a, r, 1);

    *h = a->dev;
    if (cust == NULL || pk == NULL || !fg_act_customer_ok(cust)) {
        fg_act_log(a, FG_LOG_WARN, "app request from unknown device %s (%s)", a->device,
                   a->req.remote_ip);
        return fg_act_json_error(a, 401, "unknown_device", "device not enrolled or revoked");
    }
    a->customer = cust;
    return app_verify(a, h, pk);
}

/* ------------------------------------------------------------------------ */
/* pending (long poll) */

static fg_step_t pending_query(fg_action_t *a, const char *check_nonce)
{
    fg_act_batch(a);
    fg_act_eval(a, FG_SCRIPT_PENDING, 2, nonce_key(a, &a->dev), fg_act_key(a, a->customer, "pending"),
                fg_act_key(a, a->customer, "ch:"), fg_act_num(a, a->req.now),
                fg_act_num(a, NONCE_TTL), check_nonce, NULL);
    return FG_STEP_REDIS;
}

static fg_step_t pending_answer(fg_action_t *a)
{
    const fg_reply_t *r = fg_act_reply(a, 0);
    const char *st = FG_S(fg_act_elem(a, r, 0));
    json_t *list = json_array();

    if (strcmp(st, "replay") == 0) {
        json_decref(list);
        return fg_act_json_error(a, 409, "replayed", "nonce already used");
    }
    if (strcmp(st, "ok") == 0) {
        const char *mode = FG_S(fg_act_elem(a, r, 2));
        json_t *o = json_pack("{s:s,s:s,s:I,s:{s:s,s:s,s:s}}", "id", FG_S(fg_act_elem(a, r, 1)),
                              "mode", mode, "expires_in", (json_int_t)fg_act_elem_int(a, r, 4),
                              "context", "ip", FG_S(fg_act_elem(a, r, 5)), "browser",
                              FG_S(fg_act_elem(a, r, 6)), "time", FG_S(fg_act_elem(a, r, 7)));
        char *code = NULL;
        size_t len;
        if (strcmp(mode, "compare") == 0 &&
            fg_token_open(a->arena, a->keys, "code", FG_S(fg_act_elem(a, r, 3)), &code, &len) == FG_OK) {
            json_object_set_new(o, "code", json_string(code));
        }
        json_array_append_new(list, o);
    } else if (!a->stop_waiting && a->flag > 0 && a->req.now - a->started < a->flag) {
        json_decref(list);
        a->sleep_ms = 1000;
        a->state = 3;
        return FG_STEP_SLEEP;
    } else if (a->stop_waiting && a->flag > 0) {
        /* a long poll cut short (the server is busy or going away) and nothing found: the
         * app should not ask again at once */
        fg_act_header(a, "Retry-After", "2");
    }
    return fg_act_json(a, 200, json_pack("{s:o}", "requests", list));
}

fg_step_t fg_h_app_pending(fg_action_t *a)
{
    fg_devauth_t h;
    long long wait = 0;

    if (a->redis_err) {
        return fg_act_unavailable(a);
    }
    switch (a->state++) {
    case 0:
        return device_lookup(a, &h);
    case 1:
        if (device_verified(a, &h) != FG_STEP_REDIS) {
            return FG_STEP_DONE;
        }
        if (fg_act_query(a, "wait") != NULL &&
            fg_parse_int(fg_act_query(a, "wait"), 0, 3600, &wait) != FG_OK) {
            return fg_act_json_error(a, 400, "invalid_request", "wait must be a number of seconds");
        }
        a->flag = (int)(wait > MAX_WAIT ? MAX_WAIT : wait);
        return pending_query(a, "1");
    case 3: /* woke up from a long-poll sleep: look again, nonce already recorded */
        a->state = 2;
        return pending_query(a, "0");
    default:
        return pending_answer(a);
    }
}

/* ------------------------------------------------------------------------ */
/* respond: approve or deny */

static int id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    return n > 0 && n <= 64 &&
           strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

static fg_step_t respond_decide(fg_action_t *a, fg_devauth_t *h)
{
    const char *id = body_str(a, "id"), *decision = body_str(a, "decision");
    const char *code = body_str(a, "code"), *reason = body_str(a, "reason");

    if (device_verified(a, h) != FG_STEP_REDIS) {
        return FG_STEP_DONE;
    }
    if (!id_ok(id) || decision == NULL ||
        (strcmp(decision, "approve") != 0 && strcmp(decision, "deny") != 0)) {
        return fg_act_json_error(a, 400, "invalid_request",
                                 "id and decision (approve|deny) are required");
    }
    if (strcmp(decision, "approve") == 0 && (code == NULL || *code == '\0')) {
        return fg_act_json_error(a, 400, "invalid_request", "code is required to approve");
    }
    const char *ch = fg_arena_printf(a->arena, "%s:%s", id, FG_S(code));
    int not_me = reason != NULL && strcmp(reason, "not_me") == 0;
    fg_act_batch(a);
    fg_act_eval(a, FG_SCRIPT_RESPOND, 6, nonce_key(a, h),
                fg_act_key(a, a->customer, fg_arena_printf(a->arena, "ch:%s", id)),
                fg_act_key(a, a->customer, "pending"), fg_act_key(a, a->customer, "cooldown"),
                fg_act_key(a, NULL, "audit"), fg_act_key(a, NULL, "metrics"), decision,
                fg_token_hash(a->arena, a->keys, "code", ch, strlen(ch)), a->device,
                fg_act_num(a, a->req.now), not_me ? "1" : "0",
                fg_act_num(a, a->cfg->notme_cooldown), fg_act_num(a, NONCE_TTL), a->customer, id,
                fg_act_num(a, MAX_BAD_CODES), a->req.remote_ip, NULL);
    return FG_STEP_REDIS;
}

static fg_step_t respond_answer(fg_action_t *a)
{
    const fg_reply_t *r = fg_act_reply(a, 0);
    const char *st = FG_S(fg_act_elem(a, r, 0));

    if (strcmp(st, "ok") == 0) {
        const char *res = FG_S(fg_act_elem(a, r, 1));
        fg_act_log(a, FG_LOG_INFO, "challenge %s by device %s of %s", res, a->device, a->customer);
        return fg_act_json(a, 200, json_pack("{s:s}", "status", res));
    }
    if (strcmp(st, "replay") == 0) {
        return fg_act_json_error(a, 409, "replayed", "nonce already used");
    }
    if (strcmp(st, "badcode") == 0) {
        json_t *o = json_pack("{s:s,s:s,s:I}", "error", "wrong_code", "message",
                              "the code does not match the one shown in the browser",
                              "attempts_left", (json_int_t)fg_act_elem_int(a, r, 1));
        return fg_act_json(a, 400, o);
    }
    if (strcmp(st, "final") == 0) {
        return fg_act_json(a, 409, json_pack("{s:s,s:s}", "error", "not_pending", "status",
                                             FG_S(fg_act_elem(a, r, 1))));
    }
    if (r->type == FG_R_ERR) {
        fg_act_log(a, FG_LOG_ERR, "respond script failed: %s", r->str);
        return fg_act_json_error(a, 500, "internal", NULL);
    }
    return fg_act_json_error(a, 404, "unknown_request", "no such approval request");
}

fg_step_t fg_h_app_respond(fg_action_t *a)
{
    fg_devauth_t h;
    if (a->redis_err) {
        return fg_act_unavailable(a);
    }
    switch (a->state++) {
    case 0:
        return device_lookup(a, &h);
    case 1:
        return respond_decide(a, &h);
    default:
        return respond_answer(a);
    }
}
