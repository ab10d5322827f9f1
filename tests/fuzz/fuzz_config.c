/* fuzz_config.c - shared/fg_config.c: directive values, merge, finalize, message spelling,
 * Redis URLs and version compare.
 *
 * Input: a sequence of directives, each one selector byte followed by a value up to '\n'.
 * selector % 29 picks the directive name (28 = the name is the value's text before the first
 * '=', for unknown/odd names); bit 7 sends it to the child configuration, else the parent.
 * Every value is also run through fg_redis_url_parse/fg_redis_url_redact and fg_version_cmp,
 * and every error message through fg_config_spell. Then parent and child are merged and the
 * merge is finalized (key_file forced to the harness key file, branding_dir dropped and the
 * Argon2id limits capped, so no input makes the harness read other files or burn seconds).
 * Invariants: FG_OK or FG_ERR_INVAL only; err is NUL-terminated; spelled output fits.
 */
#include "fuzz_common.h"

static const char *const names[] = {
    "redis",         "key_file",       "prefix",        "code_mode",         "code_length",
    "challenge_timeout", "session_idle", "session_max",  "header_prefix",     "min_client",
    "key_prefix",    "default_path",   "lang",          "argon2_ops",        "argon2_mem",
    "hash_concurrency", "redis_timeout", "issuer",      "audience",          "metrics_allow",
    "secure_cookies", "branding_dir",  "login_max_fail", "login_ip_max_fail", "fail_window",
    "challenge_max", "notme_cooldown", "poll_interval",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fg_init();
    fz_keyfile();
    atexit(fz_unlink_keyfile);
    return 0;
}

static const char *spell(const char *word, void *ud)
{
    (void)ud;
    if (strcmp(word, "session_idle") == 0) {
        return "FreigabeSessionIdle";
    }
    if (strcmp(word, "key_file") == 0) {
        return "freigabe_key_file_with_a_rather_long_directive_name_for_the_wrapper";
    }
    if (strcmp(word, "s") == 0) {
        return "";
    }
    return NULL;
}

static void check_err(const char *err, size_t errlen)
{
    if (memchr(err, '\0', errlen) == NULL) {
        abort();
    }
    char out[64], big[1024];
    fg_config_spell(err, spell, NULL, out, sizeof out);
    if (memchr(out, '\0', sizeof out) == NULL) {
        abort();
    }
    fg_config_spell(err, spell, NULL, big, sizeof big);
    fg_config_spell(err, spell, NULL, big, 1);
    if (big[0] != '\0') {
        abort();
    }
}

/* A parsed redis URL with user info is logged with that part masked: the redacted form must be
 * the scheme, "***", then the URL from the user info's LAST '@' on (where the parser splits),
 * so no byte of the password survives. */
static void check_redact(const char *url, const fg_redis_target_t *t)
{
    char buf[2048];
    const char *rest, *slash, *at = NULL;
    if (t->unix_path[0] != '\0' || strlen(url) > 1000) {
        return;
    }
    rest = url + 8; /* "redis://" (any case): the parser accepted it */
    slash = strchr(rest, '/');
    for (const char *p = rest; *p && (slash == NULL || p < slash); p++) {
        if (*p == '@') {
            at = p;
        }
    }
    fg_redis_url_redact(url, buf, sizeof buf);
    if (at == NULL) {
        if (strcmp(buf, url) != 0) {
            abort();
        }
        return;
    }
    if (strncmp(buf, url, 8) != 0 || strncmp(buf + 8, "***", 3) != 0 ||
        strcmp(buf + 11, at) != 0) {
        fprintf(stderr, "redacted \"%s\" as \"%s\"\n", url, buf);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_t f;
    char err[256];
    const char *prev = NULL;
    fg_config_t *c[2];

    fz_init(&f, data, size);
    c[0] = fg_config_new();
    c[1] = fg_config_new();
    if (c[0] == NULL || c[1] == NULL) {
        abort();
    }
    for (int i = 0; i < 24 && f.n > 0; i++) {
        uint8_t sel = fz_u8(&f);
        const char *value = fz_field(&f);
        const char *name;
        if (sel % (NNAMES + 1) == NNAMES) {
            const char *eq = strchr(value, '=');
            name = eq != NULL ? fz_keep(&f, strndup(value, (size_t)(eq - value))) : value;
            value = eq != NULL ? eq + 1 : "";
            if (name == NULL) {
                break;
            }
        } else {
            name = names[sel % (NNAMES + 1)];
        }
        memset(err, 'x', sizeof err);
        int rc = fg_config_set(c[(sel >> 7) & 1], name, value, err, sizeof err);
        if (rc != FG_OK && rc != FG_ERR_INVAL) {
            abort();
        }
        if (rc != FG_OK) {
            check_err(err, sizeof err);
        }
        /* tiny error buffers */
        char tiny[3];
        fg_config_t *scratch = fg_config_new();
        (void)fg_config_set(scratch, name, value, tiny, sizeof tiny);
        (void)fg_config_set(scratch, name, value, NULL, 0);
        fg_config_free(scratch);

        fg_redis_target_t t;
        memset(err, 'x', sizeof err);
        if (fg_redis_url_parse(value, &t, err, sizeof err) == FG_OK) {
            check_redact(value, &t);
            if (memchr(t.host, '\0', sizeof t.host) == NULL ||
                memchr(t.unix_path, '\0', sizeof t.unix_path) == NULL ||
                memchr(t.user, '\0', sizeof t.user) == NULL ||
                memchr(t.password, '\0', sizeof t.password) == NULL || t.db < 0 || t.db > 15 ||
                t.port < 1 || t.port > 65535) {
                abort();
            }
        } else {
            check_err(err, sizeof err);
        }
        char red[64], red1[1];
        fz_touch(fg_redis_url_redact(value, red, sizeof red));
        fg_redis_url_redact(value, red1, sizeof red1);
        fg_redis_url_redact(value, red1, 0);
        int x = fg_version_cmp(value, prev);
        int y = fg_version_cmp(prev, value);
        if ((x < 0 && y <= 0) || (x > 0 && y >= 0) || (x == 0 && y != 0)) {
            abort(); /* not antisymmetric */
        }
        prev = value;
    }

    fg_config_t *m = fg_config_merge(c[0], c[1]);
    if (m == NULL) {
        abort();
    }
    fg_config_free(fg_config_merge(NULL, NULL));
    /* keep finalize away from the disk and from expensive Argon2id limits */
    free(m->key_file);
    m->key_file = strdup(fz_keyfile());
    free(m->branding_dir);
    m->branding_dir = NULL;
    if (m->argon2_ops > 2) {
        m->argon2_ops = 2;
    }
    if (m->argon2_mem > 65536) {
        m->argon2_mem = 65536;
    }
    memset(err, 'x', sizeof err);
    int rc = fg_config_finalize(m, err, sizeof err);
    if (rc != FG_OK) {
        check_err(err, sizeof err);
    } else {
        fz_touch(fg_config_prefix(m));
        fz_touch(fg_config_redis_url(m));
        (void)fg_config_redis_timeout_ms(m);
        (void)fg_config_hash_concurrency(m);
        (void)fg_config_session_idle(m);
        if (fg_config_keys(m) == NULL) {
            abort();
        }
        (void)fg_header_is_reserved(m, "X-Freigabe-User", 15);
        (void)fg_header_is_reserved(m, m->header_prefix, strlen(m->header_prefix));
        /* the stored Redis URL must parse again */
        fg_redis_target_t t;
        if (fg_redis_url_parse(fg_config_redis_url(m), &t, err, sizeof err) != FG_OK) {
            abort();
        }
        /* a stored default_path must be accepted as a return path */
        fg_arena_t *a = fg_arena_new();
        if (fg_return_path(a, m->default_path, NULL) == NULL) {
            abort();
        }
        fg_arena_free(a);
    }
    fg_config_free(m);
    fg_config_free(c[0]);
    fg_config_free(c[1]);
    fz_free_all(&f);
    return 0;
}
