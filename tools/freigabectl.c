/* freigabectl.c - admin tool: key files, customers, devices, sessions and the audit log. */
#include "fg_internal.h"
#include "tool_common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EX_OK 0
#define EX_USAGE 1
#define EX_CONFLICT 2 /* not found or already exists */
#define EX_REDIS 3    /* Redis cannot be reached */
#define EX_REFUSED 4  /* Redis answered a command with an error */
#define EX_FILE 5     /* a file could not be read or written (keygen) */

#define ACT_TTL 86400 /* activation code lifetime, seconds */
#define ACT_LEN 12    /* activation code characters (5 bits each: 60 bits) */
#define REDIS_TIMEOUT_MS 3000
#define PW_MAX 1024
#define AUDIT_MAXLEN "10000"

/* Unambiguous base32: no 0/O, no 1/I. Must match the engine's activation check. */
static const char act_alphabet[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

static struct {
    const char *redis_url;
    const char *prefix;
    redisContext *rc;
    fg_arena_t *arena;
} g = { "redis://127.0.0.1:6379/0", "freigabe:", NULL, NULL };

#define GLOBAL_OPTS \
    { "--redis", 1, &g.redis_url, NULL }, { "--key-prefix", 1, &g.prefix, NULL }

static const char main_usage[] =
    "usage: freigabectl [--redis URL] [--key-prefix P] COMMAND [ARGS]\n"
    "\n"
    "Administers Freigabe (app-confirmed login): key files, customers, devices,\n"
    "sessions and the audit log. Data lives in Redis (see docs/redis.md).\n"
    "\n"
    "commands:\n"
    "  keygen --out FILE [--kid KID] [--force | --rotate]\n"
    "  user add CUSTOMER --name NAME [--password-stdin]\n"
    "  user passwd CUSTOMER [--password-stdin]\n"
    "  user disable CUSTOMER | user enable CUSTOMER\n"
    "  user unlock CUSTOMER [--ip ADDRESS]   lift login throttles and cool-downs\n"
    "  user show CUSTOMER | user list\n"
    "  device activate CUSTOMER | device list CUSTOMER | device revoke CUSTOMER DEVICE_ID\n"
    "  session list CUSTOMER | session revoke CUSTOMER (SESSION_ID | --all)\n"
    "  audit tail [-n N]\n"
    "\n"
    "global options:\n"
    "  --redis URL        redis://[user:pass@]host:port/db or unix:/path[?db=N]\n"
    "                     (default redis://127.0.0.1:6379/0)\n"
    "  --key-prefix P     Redis key prefix (default \"freigabe:\"; must match the servers)\n"
    "  --help             this text; 'freigabectl COMMAND --help' for one command\n"
    "\n"
    "exit codes: 0 ok, 1 usage error, 2 not found or conflict, 3 Redis unreachable\n"
    "            (connection refused, timed out or lost), 4 Redis refused the command\n"
    "            (an error reply: READONLY, NOPERM, WRONGTYPE, ...). When only the audit\n"
    "            record of a finished action cannot be written, a warning goes to\n"
    "            stderr and the exit code is 0. 5: a file could not be written (keygen).\n";

/* ---- small helpers ------------------------------------------------------ */

static void *xcheck(void *p)
{
    if (p == NULL) {
        tc_err("out of memory");
        exit(EX_USAGE);
    }
    return p;
}

#define KEY(...) ((char *)xcheck(fg_arena_printf(g.arena, __VA_ARGS__)))

/* The reply, or, after a message, NULL for a lost connection (*code = 3) or an error
 * reply (*code = 4, the reply is freed). */
static redisReply *checked(redisReply *r, int *code)
{
    if (r == NULL) {
        tc_err("Redis connection failed: %s", g.rc->errstr[0] ? g.rc->errstr : "no reply");
        *code = EX_REDIS;
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        tc_err("Redis refused the command: %s%s", r->str,
               strncmp(r->str, "NOAUTH", 6) == 0
                   ? " (give it in --redis redis://:PASSWORD@host:port/db)" : "");
        freeReplyObject(r);
        *code = EX_REFUSED;
        return NULL;
    }
    return r;
}

/* Runs one Redis command; on a failure the message is out and we exit 3 (no Redis) or
 * 4 (an error reply). */
static redisReply *rq(const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    int code = EX_OK;
    va_start(ap, fmt);
    r = checked(redisvCommand(g.rc, fmt, ap), &code);
    va_end(ap);
    if (r == NULL) {
        exit(code);
    }
    return r;
}

/* Reads the next pipelined reply; exits as rq() does. */
static redisReply *rq_get(void)
{
    void *r = NULL;
    int code = EX_OK;
    if (redisGetReply(g.rc, &r) != REDIS_OK) {
        r = NULL;
    }
    if ((r = checked(r, &code)) == NULL) {
        exit(code);
    }
    return r;
}

static int connect_redis(void)
{
    int why = 0;
    g.rc = tc_redis_connect(g.redis_url, REDIS_TIMEOUT_MS, &why);
    return g.rc ? EX_OK
         : why == TC_REDIS_BAD_URL ? EX_USAGE : why == TC_REDIS_REFUSED ? EX_REFUSED : EX_REDIS;
}

static int valid_chars(const char *s, size_t max, const char *extra)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) {
        return 0;
    }
    for (; *s; s++) {
        int ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9');
        if (!ok && strchr(extra, *s) == NULL) {
            return 0;
        }
    }
    return 1;
}

/* Customer numbers go into key names inside a {hash tag}: a safe, small charset. */
static int check_customer(const char *c)
{
    if (!valid_chars(c, 64, "._-")) {
        tc_err("invalid customer number '%s' (1-64 characters: A-Z a-z 0-9 . _ -)", c);
        return EX_USAGE;
    }
    return EX_OK;
}

#define NAME_MAX_BYTES 200 /* display names: the engine's rule, fg_text_ok */

/* Prints text that came from Redis (names, ids) for a terminal: as it is when it passes
 * fg_text_ok (UTF-8 without control characters), else with every control and non-ASCII
 * byte replaced by '?', so that no escape sequence reaches the terminal. */
static void put_text(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || fg_text_ok(s, n)) {
        fputs(n ? s : "", stdout);
        return;
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        putchar(c < 0x20 || c >= 0x7f ? '?' : c);
    }
}

static const char *fmt_time(long long t)
{
    static char buf[4][32];
    static int i;
    time_t tt = (time_t)t;
    struct tm tm;
    char *b = buf[i++ % 4];
    if (t <= 0 || localtime_r(&tt, &tm) == NULL) {
        return "-";
    }
    strftime(b, sizeof(buf[0]), "%Y-%m-%d %H:%M:%S", &tm);
    return b;
}

static int user_exists(const char *c)
{
    redisReply *r = rq("EXISTS %s", KEY("%s{%s}:user", g.prefix, c));
    int ex = r->integer == 1;
    freeReplyObject(r);
    return ex;
}

static int need_user(const char *c)
{
    if (!user_exists(c)) {
        tc_err("customer %s not found ('freigabectl user list' shows all)", c);
        return EX_CONFLICT;
    }
    return EX_OK;
}

/* Records an admin action in the audit stream (never secrets). It comes after the action:
 * when only the record fails, the action stands, so this warns and the exit code stays. */
static void audit(const char *event, const char *customer, const char *detail)
{
    const char *who = getenv("SUDO_USER") ? getenv("SUDO_USER") : getenv("USER");
    char *d = KEY("freigabectl%s%s%s%s", who ? " by " : "", who ? who : "",
                  detail ? ": " : "", detail ? detail : "");
    redisReply *r = redisCommand(g.rc, "XADD %s MAXLEN ~ " AUDIT_MAXLEN
                                 " * event %s customer %s ip %s detail %s",
                                 KEY("%saudit", g.prefix), event, customer, "-", d);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        tc_err("warning: %s for customer %s is done, but its audit record could not be "
               "written: %s", event, customer, r ? r->str : g.rc->errstr);
    }
    if (r) {
        freeReplyObject(r);
    }
}

/* Parses a command's options; prints usage on --help. Returns -1 ok, or an exit code. */
static int parse_cmd(int argc, char **argv, const tc_opt_t *opts, const char **pos,
                     int minpos, int maxpos, const char *usage)
{
    int help = 0, npos = 0;
    if (tc_parse_opts(argc, argv, opts, pos, maxpos, &npos, &help) != 0) {
        return EX_USAGE;
    }
    if (help) {
        fputs(usage, stdout);
        return EX_OK;
    }
    if (npos < minpos) {
        tc_err("missing argument\n%s", usage);
        return EX_USAGE;
    }
    return -1;
}

/* ---- keygen ------------------------------------------------------------- */

static const char keygen_usage[] =
    "usage: freigabectl keygen --out FILE [--kid KID] [--force | --rotate]\n"
    "\n"
    "Writes a new key file (mode 0640) with one fresh 32-byte secret. Point\n"
    "FreigabeKeyFile / freigabe_key_file at it. Apache and nginx read it as root while\n"
    "they start, so root:root is enough; freigabectl and freigabe-app need no key file.\n"
    "  --out FILE   where to write (refuses to overwrite an existing file)\n"
    "  --kid KID    key id, 1-32 of A-Z a-z 0-9 _ - (default: k<YYYYMMDDhhmmss>)\n"
    "  --force      replace an existing file (old sessions become invalid)\n"
    "  --rotate     put a new active key in front of the keys already in FILE\n"
    "               (old cookies keep working; drop old lines later by hand)\n";

/* Returns the "key ..." lines of an existing key file (malloc'd), or NULL. */
static char *old_key_lines(const char *path, const char *kid, int *rc)
{
    size_t len, klen = strlen(kid);
    char *text = tc_read_file(path, &len), *out, *line, *save = NULL;
    if (text == NULL) {
        tc_err("cannot read %s for --rotate: %s", path, strerror(errno));
        *rc = errno == ENOENT ? EX_CONFLICT : EX_USAGE;
        return NULL;
    }
    out = xcheck(calloc(1, len + 2));
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "key ", 4) != 0) {
            continue;
        }
        if (strncmp(line + 4, kid, klen) == 0 && line[4 + klen] == ' ') {
            tc_err("%s already holds a key with id %s; choose another --kid", path, kid);
            *rc = EX_CONFLICT;
            break;
        }
        strcat(out, line);
        strcat(out, "\n");
    }
    sodium_memzero(text, len);
    free(text);
    if (*rc != EX_OK || out[0] == '\0') {
        if (*rc == EX_OK) {
            tc_err("%s holds no keys; nothing to rotate (use --force)", path);
            *rc = EX_CONFLICT;
        }
        sodium_memzero(out, len + 2);
        free(out);
        return NULL;
    }
    return out;
}

static int keygen_write(const char *out, const char *kid, int force, int rotate)
{
    char *text = fg_keyring_generate_text(kid), *old = NULL, *all;
    int rc = EX_OK;
    if (text == NULL) {
        tc_err("cannot generate a key (invalid --kid or out of memory)");
        return EX_USAGE;
    }
    if (rotate && (old = old_key_lines(out, kid, &rc)) == NULL) {
        sodium_memzero(text, strlen(text));
        free(text);
        return rc;
    }
    all = xcheck(malloc(strlen(text) + (old ? strlen(old) : 0) + 1));
    strcpy(all, text);
    if (old) {
        strcat(all, old);
    }
    struct stat st;
    int had = stat(out, &st) == 0;
    if (tc_write_file(out, all, strlen(all), 0640, !(force || rotate)) != 0) {
        rc = errno == EEXIST ? EX_CONFLICT : EX_FILE;
        tc_err(errno == EEXIST ? "%s exists; use --rotate to add a key or --force to replace it"
                               : "cannot write %s: %s", out, strerror(errno));
    } else if (had && chown(out, st.st_uid, st.st_gid) != 0) {
        tc_err("warning: could not keep the owner/group of %s: %s", out, strerror(errno));
    }
    sodium_memzero(text, strlen(text));
    sodium_memzero(all, strlen(all));
    if (old) {
        sodium_memzero(old, strlen(old));
    }
    free(text);
    free(all);
    free(old);
    return rc;
}

static int cmd_keygen(int argc, char **argv)
{
    const char *out = NULL, *kid = NULL, *pos[1];
    int force = 0, rotate = 0, rc;
    char defkid[16];
    const tc_opt_t opts[] = { { "--out", 1, &out, NULL }, { "--kid", 1, &kid, NULL },
                              { "--force", 0, NULL, &force }, { "--rotate", 0, NULL, &rotate },
                              GLOBAL_OPTS, { NULL, 0, NULL, NULL } };
    if ((rc = parse_cmd(argc, argv, opts, pos, 0, 0, keygen_usage)) >= 0) {
        return rc;
    }
    if (out == NULL || (force && rotate)) {
        tc_err(out ? "--force and --rotate exclude each other" : "keygen needs --out FILE");
        return EX_USAGE;
    }
    if (kid == NULL) {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        /* to the second: a second rotation on the same day needs no --kid */
        strftime(defkid, sizeof(defkid), "k%Y%m%d%H%M%S", &tm);
        kid = defkid;
    }
    if (!valid_chars(kid, FG_KID_MAX, "_-")) {
        tc_err("invalid --kid '%s' (1-32 characters: A-Z a-z 0-9 _ -)", kid);
        return EX_USAGE;
    }
    if ((rc = keygen_write(out, kid, force, rotate)) == EX_OK) {
        printf("wrote %s (active key id %s, mode 0640)\n", out, kid);
    }
    return rc;
}

/* ---- user --------------------------------------------------------------- */

static const char user_add_usage[] =
    "usage: freigabectl user add CUSTOMER --name NAME [--password-stdin]\n"
    "                            [--argon2-ops N] [--argon2-mem BYTES]\n"
    "\n"
    "Creates a customer. The password is asked twice on the terminal, or read as one\n"
    "line from standard input with --password-stdin. Stored only as an Argon2id hash.\n"
    "  --name NAME        display name (UTF-8), sent to the portal\n"
    "  --argon2-ops N     Argon2id passes (default: libsodium INTERACTIVE, 2)\n"
    "  --argon2-mem SIZE  Argon2id memory, bytes or with K/M/G (default INTERACTIVE, 64M)\n";

static const char user_passwd_usage[] =
    "usage: freigabectl user passwd CUSTOMER [--password-stdin]\n"
    "                               [--argon2-ops N] [--argon2-mem BYTES]\n"
    "\n"
    "Sets a new password (asked twice, or one line from standard input) and clears\n"
    "the account's failed-login counter.\n";

typedef struct {
    const char *ops_s, *mem_s;
    int from_stdin;
} pwopts_t;

/* Reads a new password and returns its Argon2id string in out (or an exit code). */
static int make_pwhash(const char *customer, const pwopts_t *o,
                       char out[crypto_pwhash_STRBYTES])
{
    unsigned long long mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    long long ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    char pw[PW_MAX], *prompt = KEY("New password for %s: ", customer);
    int n, rc = EX_OK;
    if ((o->ops_s && tc_parse_long(o->ops_s, crypto_pwhash_OPSLIMIT_MIN, 64, &ops) != 0) ||
        (o->mem_s && (tc_parse_size(o->mem_s, &mem) != 0 ||
                      mem < crypto_pwhash_MEMLIMIT_MIN || mem > (4ULL << 30)))) {
        tc_err("invalid --argon2-ops (1-64) or --argon2-mem (8K-4G)");
        return EX_USAGE;
    }
    n = tc_read_new_secret(prompt, "Repeat the password: ", o->from_stdin, pw, sizeof(pw));
    if (n <= 0) {
        if (n == 0) {
            tc_err("empty password refused");
        }
        rc = EX_USAGE;
    } else if (crypto_pwhash_str(out, pw, (unsigned long long)n, (unsigned long long)ops,
                                 (size_t)mem) != 0) {
        tc_err("Argon2id failed (not enough memory for --argon2-mem?)");
        rc = EX_USAGE;
    }
    sodium_memzero(pw, sizeof(pw));
    return rc;
}

static const char create_user_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end "
    "redis.call('HSET', KEYS[1], 'name', ARGV[1], 'pw', ARGV[2], 'disabled', '0', "
    "'created', ARGV[3]) return 1";

static int cmd_user_add(int argc, char **argv)
{
    const char *name = NULL, *pos[1];
    pwopts_t o = { NULL, NULL, 0 };
    char hash[crypto_pwhash_STRBYTES];
    redisReply *r;
    int rc, created;
    const tc_opt_t opts[] = { { "--name", 1, &name, NULL },
                              { "--password-stdin", 0, NULL, &o.from_stdin },
                              { "--argon2-ops", 1, &o.ops_s, NULL },
                              { "--argon2-mem", 1, &o.mem_s, NULL },
                              GLOBAL_OPTS, { NULL, 0, NULL, NULL } };
    if ((rc = parse_cmd(argc, argv, opts, pos, 1, 1, user_add_usage)) >= 0) {
        return rc;
    }
    if ((rc = check_customer(pos[0])) != EX_OK) {
        return rc;
    }
    if (name == NULL || !fg_text_ok(name, NAME_MAX_BYTES)) {
        tc_err(name ? "--name must be 1-200 bytes of UTF-8 without control characters"
                    : "user add needs --name NAME");
        return EX_USAGE;
    }
    if ((rc = connect_redis()) != EX_OK) {
        return rc;
    }
    if (user_exists(pos[0])) {
        tc_err("customer %s already exists (use 'user passwd' to change the password)", pos[0]);
        return EX_CONFLICT;
    }
    if ((rc = make_pwhash(pos[0], &o, hash)) != EX_OK) {
        return rc;
    }
    r = rq("EVAL %s 1 %s %s %s %lld", create_user_lua, KEY("%s{%s}:user", g.prefix, pos[0]),
           name, hash, (long long)time(NULL));
    created = r->integer == 1;
    freeReplyObject(r);
    sodium_memzero(hash, sizeof(hash));
    if (!created) {
        tc_err("customer %s was created concurrently; nothing changed", pos[0]);
        return EX_CONFLICT;
    }
    freeReplyObject(rq("SADD %s %s", KEY("%susers", g.prefix), pos[0]));
    audit("admin_user_add", pos[0], NULL);
    printf("created customer %s (%s); next: freigabectl device activate %s\n", pos[0], name,
           pos[0]);
    return EX_OK;
}

/* HSETs field=value on an existing user hash only. Returns 1 if the user existed. */
static int set_user_field(const char *c, const char *field, const char *value)
{
    static const char lua[] = "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
                              "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1";
    redisReply *r = rq("EVAL %s 1 %s %s %s", lua, KEY("%s{%s}:user", g.prefix, c), field, value);
    int ok = r->integer == 1;
    freeReplyObject(r);
    return ok;
}

static int cmd_user_passwd(int argc, char **argv)
{
    const char *pos[1];
    pwopts_t o = { NULL, NULL, 0 };
    char hash[crypto_pwhash_STRBYTES];
    int rc, ok;
    const tc_opt_t opts[] = { { "--password-stdin", 0, NULL, &o.from_stdin },
                              { "--argon2-ops", 1, &o.ops_s, NULL },
                              { "--argon2-mem", 1, &o.mem_s, NULL },
                              GLOBAL_OPTS, { NULL, 0, NULL, NULL } };
    if ((rc = parse_cmd(argc, argv, opts, pos, 1, 1, user_passwd_usage)) >= 0) {
        return rc;
    }
    if ((rc = check_customer(pos[0])) != EX_OK || (rc = connect_redis()) != EX_OK ||
        (rc = need_user(pos[0])) != EX_OK || (rc = make_pwhash(pos[0], &o, hash)) != EX_OK) {
        return rc;
    }
    ok = set_user_field(pos[0], "pw", hash);
    sodium_memzero(hash, sizeof(hash));
    if (!ok) {
        return need_user(pos[0]);
    }
    freeReplyObject(rq("DEL %s", KEY("%s{%s}:fail", g.prefix, pos[0])));
    audit("admin_user_passwd", pos[0], NULL);
    printf("password of customer %s changed\n", pos[0]);
    return EX_OK;
}

/* Deletes all sessions of a customer; returns how many existed. */
static long long revoke_all_sessions(const char *c)
{
    const char *setkey = KEY("%s{%s}:sessions", g.prefix, c);
    redisReply *m = rq("SMEMBERS %s", setkey);
    long long n = 0;
    for (size_t i = 0; i < m->elements; i++) {
        redisReply *d = rq("DEL %s", KEY("%s{%s}:sess:%s", g.prefix, c, m->element[i]->str));
        n += d->integer;
        freeReplyObject(d);
        freeReplyObject(rq("SREM %s %s", setkey, m->element[i]->str));
    }
    freeReplyObject(m);
    return n;
}

static const char user_disable_usage[] =
    "usage: freigabectl user disable CUSTOMER\n"
    "\n"
    "Locks the account: no new logins, and every session of the customer ends now.\n";
static const char user_enable_usage[] =
    "usage: freigabectl user enable CUSTOMER\n"
    "\n"
    "Unlocks the account and clears its failed-login counter.\n";

static int toggle_user(int argc, char **argv, int disable)
{
    const char *pos[1];
    int rc;
    const tc_opt_t opts[] = { GLOBAL_OPTS, { NULL, 0, NULL, NULL } };
    if ((rc = parse_cmd(argc, argv, opts, pos, 1, 1,
                        disable ? user_disable_usage : user_enable_usage)) >= 0) {
        return rc;
    }
    if ((rc = check_customer(pos[0])) != EX_OK || (rc = connect_redis()) != EX_OK) {
        return rc;
    }
    if (!set_user_field(pos[0], "disabled", disable ? "1" : "0")) {
        return need_user(pos[0]);
    }
    if (disable) {
        long long n = revoke_all_sessions(pos[0]);
        audit("admin_user_disable", pos[0], NULL);
        printf("customer %s disabled; %lld session(s) ended\n", pos[0], n);
    } else {
        freeReplyObject(rq("DEL %s", KEY("%s{%s}:fail", g.prefix, pos[0])));
        audit("admin_user_enable", pos[0], NULL);
        printf("customer %s enabled\n", pos[0]);
    }
    return EX_OK;
}

static int cmd_user_disable(int argc, char **argv)
{
    return toggle_user(argc, argv, 1);
}

static int cmd_user_enable(int argc, char **argv)
{
    return toggle_user(argc, argv, 0);
}

static const char user_unlock_usage[] =
    "usage: freigabectl user unlock CUSTOMER [--ip ADDRESS]\n"
    "\n"
    "Lifts the login throttles of a customer: the failed-password counter, the limit on\n"
    "approval requests and the pause after \"Das war ich nicht\". With --ip also the\n"
    "failed-password counter of that client address. The account stays as it is\n"
    "(see 'user enable' for a disabled one).\n";

static int cmd_user_unlock(int argc, char **argv)
{
    const char *pos[1], *ip = NULL;
    int rc;
    const tc_opt_t opts[] = { { "--ip", 1, &ip, NULL }, GLOBAL_OPTS, { NULL, 0, NULL, NULL } };
    if ((rc = parse_cmd(argc, argv, opts, pos, 1, 1, user_unlock_usage)) >= 0) {
        return rc;
    }
    if ((rc = check_customer(pos[0])) != EX_OK || (rc = connect_redis()) != EX_OK ||
        (rc = need_user(pos[0])) != EX_OK) {
        return rc;
    }
    redisReply *r = rq("DEL %s %s %s", KEY("%s{%s}:fail", g.prefix, pos[0]),
           KEY("%s{%s}:chcount", g.prefix, pos[0]), KEY("%s{%s}:cooldown", g.prefix, pos[0]));
    long long n = r->integer;
    freeReplyObject(r);
    if (ip != NULL) {
        r = rq("DEL %s", KEY("%sipfail:%s", g.prefix, ip));
        n += r->integer;
        freeReplyObject(r);
    }
    audit("admin_user_unlock", pos[0], ip);
    printf("customer %s unlocked (%lld throttle(s) lifted)\n", pos[0], n);
    return EX_OK;
}

/* Counts members of a customer's session set whose session key still exists. */
static long long live_sessions(const char *c)
{
    redisReply *m = rq("SMEMBERS %s", KEY("%s{%s}:sessions", g.prefix, c));
    long long n = 0;
    for (size_t i = 0; i < m->elements; i++) {
        redisAppendCommand(g.rc, "EXISTS %s",
                           KEY("%s{%s}:sess:%s", g.prefix, c, m->element[i]->str));
    }
    for (size_t i = 0; i < m->elements; i++) {
        redisReply *r = rq_get();
        n += r->integer;
        freeReplyObject(r);
    }
    freeReplyObject(m);
    return n;
}

static const char *hash_field(const redisReply *h, const char *name)
{
    for (size_t i = 0; h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2) {
        if (strcmp(h->element[i]->str, name) == 0) {
            return h->element[i + 1]->str;
        }
    }
    return NULL;
}

static const char user_show_usage[] =
    "usage: freigabectl user show CUSTOMER\n"
    "\n"
    "Shows name, state, creation time, devices and the number of live sessions\n"
    "(never the password hash).\n";

static int cmd_user_show(int argc, char **argv)
{
    const char *pos[1], *name, *dis, *cr;
    redisReply *h, *d;
    int rc;
    const tc_opt_t opts[] = { GLOBAL_OPTS, { NULL, 0, NULL, NULL } };
    if ((rc = parse_cmd(argc, argv, opts, pos, 1, 1, user_show_usage)) >= 0) {
        return rc;
    }
    if ((rc = check_customer(pos[0])) != EX_OK || (rc = connect_redis()) != EX_OK ||
        (rc = need_user(pos[0])) != EX_OK) {
        return rc;
    }
    h = rq("HGETALL %s", KEY("%s{%s}:user", g.prefix, pos[0]));
    d = rq("SMEMBERS %s", KEY("%s{%s}:devices", g.prefix, pos[0]));
    name = hash_field(h, "name");
    dis = hash_field(h, "disabled");
    cr = hash_field(h, "created");
    printf("customer:  %s\nname:      ", pos[0]);
    put_text(name);
    printf("\ndisabled:  %s\ncreated:   %s\n", dis && strcmp(dis, "1") == 0 ? "yes" : "no",
           fmt_time(cr ? atoll(cr) : 0));
    printf("devices:   %zu", d->elements);
    for (size_t i = 0; i < d->elements; i++) {
        fputs(i ? ", " : " (", stdout);
        put_text(d->element[i]->str);
    }
    printf("%s\nsessions:  %lld\n", d->elements ? ")" : "", live_sessions(pos[0]));
    freeReplyObject(h);
    freeReplyObject(d);
    return EX_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char user_list_usage[] =
    "usage: freigabectl user list\n"
    "\n"
    "Lists all customers, one per line: CUSTOMER <tab> NAME [<tab> disabled].\n";

static int cmd_user_list(int argc, char **argv)
{
    const char *pos[1];
    redisReply *m;
    char **ids;
    int rc;
    const tc_opt_t opts[] = { GLOBAL_OPTS, { NULL, 0, NULL, NULL } };
    if ((rc = parse_cmd(argc, argv, opts, pos, 0, 0, user_list_usage)) >= 0) {
        return rc;
    }
    if ((rc = connect_redis()) != EX_OK) {
        return rc;
    }
    m = rq("SMEMBERS %s", KEY("%susers", g.prefix));
    ids = xcheck(calloc(m->elements + 1, sizeof(char *)));
    for (size_t i = 0; i < m->elements; i++) {
        ids[i] = m->element[i]->str;
    }
    qsort(ids, m->elements, sizeof(char *), cmp_str);
    for (size_t i = 0; i < m->elements; i++) {
        redisAppendCommand(g.rc, "HMGET %s name disabled", KEY("%s{%s}:user", g.prefix, ids[i]));
    }
    for (size_t i = 0; i < m->elements; i++) {
        redisReply *r = rq_get();
        const char *nm = r->element[0]->str, *ds = r->element[1]->str;
        put_text(ids[i]);
        putchar('\t');
        put_text(nm ? nm : "(missing)");
        printf("%s\n", ds && strcmp(ds, "1") == 0 ? "\tdisabled" : "");
        freeReplyObject(r);
    }
    free(ids);
    freeReplyObject(m);
    return EX_OK;
}

/* ---- device ------------------------------------------------------------- */

static const char device_activate_usage[] =
    "usage: freigabectl device activate CUSTOMER\n"
    "\n"
    "Creates a one-time activation code for enrolling the customer's app. The code\n"
    "alone is printed on the first line (XXXX-XXXX-XXXX), and as a QR code when\n"
    "standard output is a terminal and 'qrencode' is installed. Valid 24 hours, once.\n"
    "Stored only as SHA-256 of the code normalised to upper case without '-'/spaces.\n";

/* 12 uniform characters of the unambiguous alphabet, formatted XXXX-XXXX-XXXX. */
static void make_code(char raw[ACT_LEN + 1], char shown[ACT_LEN + 3])
{
    size_t j = 0;
    for (int i = 0; i < ACT_LEN; i++) {
        raw[i] = act_alphabet[randombytes_uniform(sizeof(act_alphabet) - 1)];
        if (i > 0 && i % 4 == 0) {
            shown[j++] = '-';
        }
        shown[j++] = raw[i];
    }
    raw[ACT_LEN] = '\0';
    shown[j] = '\0';
}

static int have_program(const char *name)
{
    const char *path = getenv("PATH");
    char *copy, *dir, *save = NULL;
    int found = 0;
    if (path == NULL) {
        return 0;
    }
    copy = xcheck(strdup(path));
    for (dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        found = access(KEY("%s/%s", dir, name), X_OK) == 0;
    }
    free(copy);
    return found;
}

/* Draws the code as a QR code on the terminal if qrencode exists; silent otherwise. */
static void show_qr(const char *code)
{
    FILE *p;
    if (!tc_stdout_is_tty() || !have_program("qrencode")) {
        return;
    }
    fflush(stdout);
    p = popen("qrencode -t ANSIUTF8 2>/dev/null", "w");
    if (p != NULL) {
        fputs(code, p);
        pclose(p);
    }
}

static int store_code(const char *customer, const char *raw)
{
    char *hex = xcheck(fg_sha256_hex(g.arena, (const unsigned char *)raw, strlen(raw)));
    redisReply *r = rq("SET %s %s EX %d NX", KEY("%sact:%s", g.prefix, hex), customer, ACT_TTL);
    int ok = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    return ok;
}

static int cmd_device_activate(int argc, char **argv)
{
    const char *pos[1];
    char raw[ACT_LEN + 1], shown[ACT_LEN + 3];
    int rc;
    const tc_opt_t opts[] = { GLOBAL_OPTS, { NULL, 0, NULL, NULL } };
    if ((rc = parse_cmd(argc, argv, opts, pos, 1, 1, device_activate_usage)) >= 0) {
        return rc;
    }
    if ((rc = check_customer(pos[0])) != EX_OK || (rc = connect_redis()) != EX_OK ||
        (rc = need_user(pos[0])) != EX_OK) {
        return rc;
    }
    do {
        make_code(raw, shown);
    } while (!store_code(pos[0], raw)); /* a collision with a live code: draw again */
    audit("admin_device_activate", pos[0], NULL);
    printf("%s\n", shown);
    show_qr(shown);
    printf("One-time activation code for customer %s, valid until %s (24 hours).\n"
           "Enter it in the app, e.g.: freigabe-app enroll --code %s\n",
           pos[0], fmt_time((long long)time(NULL) + ACT_TTL), shown);
    sodium_memzero(raw, sizeof(raw));
    sodium_memzero(shown, sizeof(shown));
    return EX_OK;
}

static const char device_list_usage[] =
    "usage: freigabectl device list CUSTOMER\n"
    "\n"
    "Lists the customer's enrolled devices: DEVICE_ID <tab> CREATED <tab> NAME.\n";

static int cmd_device_list(int argc, char **argv)
{
    const char *pos[1];
    redisReply *m;
    int rc;
    const tc_opt_t opts[] = { GLOBAL_OPTS, { NULL, 0, NULL, NULL } };
    if ((rc = parse_cmd(argc, argv, opts, pos, 1, 1, device_list_usage)) >= 0) {
        return rc;
    }
    if ((rc = check_customer(pos[0])) != EX_OK || (rc = connect_redis()) != EX_OK ||
        (rc = need_user(pos[0])) != EX_OK) {
        return rc;
    }
    m = rq("SMEMBERS %s", KEY("%s{%s}:devices", g.prefix, pos[0]));
    for (size_t i = 0; i < m->elements; i++) {
        redisAppendCommand(g.rc, "HMGET %s created name", KEY("%sdevice:%s", g.prefix,
                                                               m->element[i]->str));
    }
    for (size_t i = 0; i < m->elements; i++) {
        redisReply *r = rq_get();
        const char *cr = r->element[0]->str, *nm = r->element[1]->str;
        put_text(m->element[i]->str);
        printf("\t%s\t", fmt_time(cr ? atoll(cr) : 0));
        put_text(nm ? nm : "(missing)");
        putchar('\n');
        freeReplyObject(r);
    }
    if (m->elements == 0) {
        fprintf(stderr, "no devices enrolled for customer %s\n", pos[0]);
    }
    freeReplyObject(m);
    return EX_OK;
}

static const char device_revoke_usage[] =
    "usage: freigabectl device revoke CUSTOMER DEVICE_ID\n"
    "\n"
    "Removes a device: its signatures are no longer accepted.\n";

static int cmd_device_revoke(int argc, char **argv)
{
    const char *pos[2];
    redisReply *own, *rem;
    int rc, mine, listed;
    const tc_opt_t opts[] = { GLOBAL_OPTS, { NULL, 0, NULL, NULL } };
    if ((rc = parse_cmd(argc, argv, opts, pos, 2, 2, device_revoke_usage)) >= 0) {
        return rc;
    }
    if ((rc = check_customer(pos[0])) != EX_OK) {
        return rc;
    }
    if (!valid_chars(pos[1], 128, "_-")) {
        tc_err("invalid device id '%s' ('device list %s' shows them)", pos[1], pos[0]);
        return EX_USAGE;
    }
    if ((rc = connect_redis()) != EX_OK) {
        return rc;
    }
    own = rq("HGET %s customer", KEY("%sdevice:%s", g.prefix, pos[1]));
    mine = own->type == REDIS_REPLY_STRING && strcmp(own->str, pos[0]) == 0;
    if (own->type == REDIS_REPLY_STRING && !mine) {
        freeReplyObject(own);
        tc_err("device %s does not belong to customer %s", pos[1], pos[0]);
        return EX_CONFLICT;
    }
    freeReplyObject(own);
    rem = rq("SREM %s %s", KEY("%s{%s}:devices", g.prefix, pos[0]), pos[1]);
    listed = rem->integer == 1;
    freeReplyObject(rem);
    if (!mine && !listed) {
        tc_err("device %s not found for customer %s", pos[1], pos[0]);
        return EX_CONFLICT;
    }
    freeReplyObject(rq("DEL %s", KEY("%sdevice:%s", g.prefix, pos[1])));
    audit("admin_device_revoke", pos[0], KEY("device %s", pos[1]));
    printf("device %s of customer %s revoked\n", pos[1], pos[0]);
    return EX_OK;
}

/* ---- session ------------------------------------------------------------ */

static const char session_list_usage[] =
    "usage: freigabectl session list CUSTOMER\n"
    "\n"
    "Lists live sessions: SESSION (hash prefix) <tab> CREATED <tab> AUTH_TIME <tab>\n"
    "LAST_SEEN <tab> TTL seconds. The prefix is accepted by 'session revoke'.\n";

#define SID_SHOW 16 /* shown characters of the stored session hash */

static int cmd_session_list(int argc, char **argv)
{
    const char *pos[1];
    redisReply *m;
    int rc;
    const tc_opt_t opts[] = { GLOBAL_OPTS, { NULL, 0, NULL, NULL } };
    if ((rc = parse_cmd(argc, argv, opts, pos, 1, 1, session_list_usage)) >= 0) {
        return rc;
    }
    if ((rc = check_customer(pos[0])) != EX_OK || (rc = connect_redis()) != EX_OK ||
        (rc = need_user(pos[0])) != EX_OK) {
        return rc;
    }
    m = rq("SMEMBERS %s", KEY("%s{%s}:sessions", g.prefix, pos[0]));
    if (tc_stdout_is_tty()) {
        printf("SESSION\tCREATED\tAUTH_TIME\tLAST_SEEN\tTTL\n");
    }
    for (size_t i = 0; i < m->elements; i++) {
        const char *k = KEY("%s{%s}:sess:%s", g.prefix, pos[0], m->element[i]->str);
        redisAppendCommand(g.rc, "HMGET %s created auth_time seen", k);
        redisAppendCommand(g.rc, "TTL %s", k);
    }
    for (size_t i = 0; i < m->elements; i++) {
        redisReply *h = rq_get(), *t = rq_get();
        if (t->integer != -2) { /* -2: expired, only the set entry is left */
            printf("%.*s\t%s\t%s\t%s\t%lld\n", SID_SHOW, m->element[i]->str,
                   fmt_time(h->element[0]->str ? atoll(h->element[0]->str) : 0),
                   fmt_time(h->element[1]->str ? atoll(h->element[1]->str) : 0),
                   fmt_time(h->element[2]->str ? atoll(h->element[2]->str) : 0), t->integer);
        }
        freeReplyObject(h);
        freeReplyObject(t);
    }
    freeReplyObject(m);
    return EX_OK;
}

static const char session_revoke_usage[] =
    "usage: freigabectl session revoke CUSTOMER (SESSION_ID | --all)\n"
    "\n"
    "Ends one session (SESSION_ID: the hash or a unique prefix of at least 8\n"
    "characters, as 'session list' shows) or all sessions of the customer, on every\n"
    "frontend at once.\n";

/* Finds the unique session hash starting with prefix; exit code on failure. */
static int find_session(const char *c, const char *prefix, char **found)
{
    redisReply *m = rq("SMEMBERS %s", KEY("%s{%s}:sessions", g.prefix, c));
    size_t plen = strlen(prefix), hits = 0;
    for (size_t i = 0; i < m->elements; i++) {
        if (strncmp(m->element[i]->str, prefix, plen) == 0) {
            *found = KEY("%s", m->element[i]->str);
            hits++;
        }
    }
    freeReplyObject(m);
    if (hits != 1) {
        tc_err(hits ? "session id %s is ambiguous; give more characters"
                    : "no session %s for this customer ('session list' shows them)", prefix);
        return EX_CONFLICT;
    }
    return EX_OK;
}

static int revoke_one(const char *c, const char *id)
{
    char *h = NULL;
    int rc;
    if (strlen(id) < 8 || !valid_chars(id, 128, "_-")) {
        tc_err("session id must be at least 8 characters of the hash 'session list' shows");
        return EX_USAGE;
    }
    if ((rc = find_session(c, id, &h)) != EX_OK) {
        return rc;
    }
    freeReplyObject(rq("DEL %s", KEY("%s{%s}:sess:%s", g.prefix, c, h)));
    freeReplyObject(rq("SREM %s %s", KEY("%s{%s}:sessions", g.prefix, c), h));
    audit("admin_session_revoke", c, KEY("session %.*s", SID_SHOW, h));
    printf("session %.*s of customer %s ended\n", SID_SHOW, h, c);
    return EX_OK;
}

static int cmd_session_revoke(int argc, char **argv)
{
    const char *pos[2] = { NULL, NULL };
    int rc, all = 0;
    const tc_opt_t opts[] = { { "--all", 0, NULL, &all }, GLOBAL_OPTS, { NULL, 0, NULL, NULL } };
    if ((rc = parse_cmd(argc, argv, opts, pos, 1, 2, session_revoke_usage)) >= 0) {
        return rc;
    }
    if ((all && pos[1]) || (!all && !pos[1])) {
        tc_err("give either a SESSION_ID or --all (see --help)");
        return EX_USAGE;
    }
    if ((rc = check_customer(pos[0])) != EX_OK || (rc = connect_redis()) != EX_OK ||
        (rc = need_user(pos[0])) != EX_OK) {
        return rc;
    }
    if (!all) {
        return revoke_one(pos[0], pos[1]);
    }
    long long n = revoke_all_sessions(pos[0]);
    audit("admin_session_revoke", pos[0], "all");
    printf("%lld session(s) of customer %s ended\n", n, pos[0]);
    return EX_OK;
}

/* ---- audit -------------------------------------------------------------- */

static const char audit_tail_usage[] =
    "usage: freigabectl audit tail [-n N]\n"
    "\n"
    "Prints the last N audit events (default 20, max 10000), oldest first, one per\n"
    "line: TIME EVENT field=value ...\n";

static void print_event(const redisReply *e)
{
    const redisReply *f = e->element[1];
    const char *ev = hash_field(f, "event");
    ev = ev ? ev : "-";
    printf("%s  ", fmt_time(atoll(e->element[0]->str) / 1000));
    put_text(ev);
    printf("%*s", strlen(ev) < 22 ? (int)(22 - strlen(ev)) : 0, "");
    for (size_t i = 0; f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements; i += 2) {
        const char *k = f->element[i]->str, *v = f->element[i + 1]->str;
        if (strcmp(k, "event") == 0) {
            continue;
        }
        putchar(' ');
        put_text(k);
        putchar('=');
        if (strpbrk(v, " \t") != NULL || v[0] == '\0') {
            putchar('"');
            put_text(v);
            putchar('"');
        } else {
            put_text(v);
        }
    }
    putchar('\n');
}

static int cmd_audit_tail(int argc, char **argv)
{
    const char *pos[1], *n_s = "20";
    long long n;
    redisReply *r;
    int rc;
    const tc_opt_t opts[] = { { "-n", 1, &n_s, NULL }, { "--lines", 1, &n_s, NULL },
                              GLOBAL_OPTS, { NULL, 0, NULL, NULL } };
    if ((rc = parse_cmd(argc, argv, opts, pos, 0, 0, audit_tail_usage)) >= 0) {
        return rc;
    }
    if (tc_parse_long(n_s, 1, 10000, &n) != 0) {
        tc_err("-n needs a number from 1 to 10000");
        return EX_USAGE;
    }
    if ((rc = connect_redis()) != EX_OK) {
        return rc;
    }
    r = rq("XREVRANGE %s + - COUNT %lld", KEY("%saudit", g.prefix), n);
    for (size_t i = r->elements; i > 0; i--) {
        print_event(r->element[i - 1]);
    }
    freeReplyObject(r);
    return EX_OK;
}

/* ---- dispatch ----------------------------------------------------------- */

typedef struct {
    const char *group, *name;
    int (*fn)(int argc, char **argv);
} command_t;

static const command_t commands[] = {
    { "keygen", NULL, cmd_keygen },
    { "user", "add", cmd_user_add },
    { "user", "passwd", cmd_user_passwd },
    { "user", "disable", cmd_user_disable },
    { "user", "enable", cmd_user_enable },
    { "user", "unlock", cmd_user_unlock },
    { "user", "show", cmd_user_show },
    { "user", "list", cmd_user_list },
    { "device", "activate", cmd_device_activate },
    { "device", "list", cmd_device_list },
    { "device", "revoke", cmd_device_revoke },
    { "session", "list", cmd_session_list },
    { "session", "revoke", cmd_session_revoke },
    { "audit", "tail", cmd_audit_tail },
};

static int group_usage(const char *group, int bad)
{
    FILE *out = bad ? stderr : stdout;
    fprintf(out, "usage: freigabectl %s SUBCOMMAND ... (one of:", group);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].group, group) == 0) {
            fprintf(out, " %s", commands[i].name);
        }
    }
    fprintf(out, "); 'freigabectl %s SUBCOMMAND --help' for details\n", group);
    return bad ? EX_USAGE : EX_OK;
}

static int dispatch(int argc, char **argv)
{
    int known_group = 0;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        const command_t *c = &commands[i];
        if (strcmp(c->group, argv[0]) != 0) {
            continue;
        }
        known_group = 1;
        if (c->name == NULL) {
            return c->fn(argc, argv);
        }
        if (argc > 1 && strcmp(c->name, argv[1]) == 0) {
            return c->fn(argc - 1, argv + 1);
        }
    }
    if (!known_group) {
        tc_err("unknown command '%s' (see --help)", argv[0]);
        return EX_USAGE;
    }
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        return group_usage(argv[0], 0);
    }
    if (argc > 1) {
        tc_err("unknown subcommand '%s %s'", argv[0], argv[1]);
    }
    return group_usage(argv[0], 1);
}

/* Global options before the command; returns the index of the command or -exitcode-1. */
static int parse_globals(int argc, char **argv)
{
    int i;
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(main_usage, stdout);
            return -EX_OK - 1;
        }
        const tc_opt_t one[] = { GLOBAL_OPTS, { NULL, 0, NULL, NULL } };
        int used = (strchr(a, '=') == NULL) ? 2 : 1;
        if (used > argc - i) {
            used = argc - i;
        }
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

int main(int argc, char **argv)
{
    int i, rc;
    tc_set_progname("freigabectl");
    if (fg_init() != FG_OK) {
        tc_err("cannot initialise libsodium");
        return EX_USAGE;
    }
    g.arena = xcheck(fg_arena_new());
    i = parse_globals(argc, argv);
    if (i < 0) {
        rc = -i - 1;
    } else {
        rc = dispatch(argc - i, argv + i);
    }
    if (g.rc) {
        redisFree(g.rc);
    }
    fg_arena_free(g.arena);
    return rc;
}
