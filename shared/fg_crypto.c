/* fg_crypto.c - key file, sealed tokens, keyed token hashes and Argon2id password jobs. */
#include "fg_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FG_KDF_CONTEXT "freigabe" /* crypto_kdf_CONTEXTBYTES == 8 */
#define FG_MASTER_BYTES 32
#define FG_LINE_MAX 1024
#define FG_NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define FG_TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES

/* ------------------------------------------------------------------------ */
/* Keyring                                                                   */

static int fg_kid_valid(const char *kid, size_t len)
{
    if (len == 0 || len > FG_KID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = kid[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* Derives the three subkeys of one key from its master secret. */
static int fg_key_derive(fg_key_t *k, const unsigned char master[FG_MASTER_BYTES])
{
    unsigned char seed[crypto_sign_SEEDBYTES];
    int rc = 0;
    rc |= crypto_kdf_derive_from_key(k->seal_key, sizeof k->seal_key, 1, FG_KDF_CONTEXT, master);
    rc |= crypto_kdf_derive_from_key(k->hash_key, sizeof k->hash_key, 2, FG_KDF_CONTEXT, master);
    rc |= crypto_kdf_derive_from_key(seed, sizeof seed, 3, FG_KDF_CONTEXT, master);
    rc |= crypto_sign_seed_keypair(k->sign_pk, k->sign_sk, seed);
    sodium_memzero(seed, sizeof seed);
    return rc == 0 ? FG_OK : FG_ERR_CRYPTO;
}

/* Frees a keyring, wiping every secret first. NULL is allowed. */
void fg_keyring_free(fg_keyring_t *k)
{
    if (k == NULL)
        return;
    if (k->keys != NULL) {
        sodium_memzero(k->keys, k->n * sizeof(fg_key_t));
        free(k->keys);
    }
    sodium_memzero(k, sizeof *k);
    free(k);
}

/* Appends a zeroed key slot (grows without leaving unwiped copies behind). */
static fg_key_t *fg_keyring_push(fg_keyring_t *k)
{
    fg_key_t *keys = calloc(k->n + 1, sizeof(fg_key_t));
    if (keys == NULL)
        return NULL;
    if (k->n > 0) {
        memcpy(keys, k->keys, k->n * sizeof(fg_key_t));
        sodium_memzero(k->keys, k->n * sizeof(fg_key_t));
    }
    free(k->keys);
    k->keys = keys;
    return &k->keys[k->n++];
}

/* Splits a line into at most 4 whitespace-separated fields (in place). */
static int fg_split_fields(char *line, char *f[4])
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t\r\n", &save); t != NULL;
         t = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == 4)
            return 5;
        f[n++] = t;
    }
    return n;
}

/* Parses one "key <kid> <secret>" line into a new slot of k. Returns NULL on success,
 * else a static description of the problem. */
static const char *fg_keyring_add_line(fg_keyring_t *k, char *line)
{
    char *f[4];
    unsigned char master[FG_MASTER_BYTES];
    size_t got = 0;
    if (fg_split_fields(line, f) != 3 || strcmp(f[0], "key") != 0)
        return "expected \"key <kid> <base64url secret>\"";
    if (!fg_kid_valid(f[1], strlen(f[1])))
        return "bad kid (1-32 characters A-Za-z0-9_-)";
    if (fg_b64url_decode(f[2], strlen(f[2]), master, sizeof master, &got) != FG_OK ||
        got != sizeof master) {
        sodium_memzero(master, sizeof master);
        sodium_memzero(f[2], strlen(f[2]));
        return "bad base64url secret (need 32 bytes)";
    }
    sodium_memzero(f[2], strlen(f[2]));
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->keys[i].kid, f[1]) == 0) {
            sodium_memzero(master, sizeof master);
            return "duplicate kid";
        }
    fg_key_t *key = fg_keyring_push(k);
    int rc = key ? fg_key_derive(key, master) : FG_ERR_NOMEM;
    sodium_memzero(master, sizeof master);
    if (rc != FG_OK)
        return key ? "key derivation failed" : "out of memory";
    memcpy(key->kid, f[1], strlen(f[1]) + 1);
    return NULL;
}

static int fg_line_is_blank(const char *s)
{
    s += strspn(s, " \t\r\n");
    return *s == '\0' || *s == '#';
}

/* Reads all key lines of an open file. Returns 0 or -1 with err filled. */
static int fg_keyring_read(fg_keyring_t *k, FILE *fp, const char *path, char *err,
                           size_t errlen)
{
    char line[FG_LINE_MAX];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, fp) != NULL) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(fp)) {
            snprintf(err, errlen, "%s: line %d: line too long", path, lineno);
            rc = -1;
            break;
        }
        if (fg_line_is_blank(line))
            continue;
        const char *why = fg_keyring_add_line(k, line);
        if (why != NULL) {
            snprintf(err, errlen, "%s: bad line %d: %s", path, lineno, why);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(fp)) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && k->n == 0) {
        snprintf(err, errlen, "%s: no keys", path);
        rc = -1;
    }
    sodium_memzero(line, sizeof line);
    return rc;
}

/* Loads a key file (format in fg.h). Returns a keyring the caller frees with
 * fg_keyring_free, or NULL with a one-line message in err (never containing secrets). */
fg_keyring_t *fg_keyring_load(const char *path, char *err, size_t errlen)
{
    char dummy[1];
    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    if (path == NULL || *path == '\0') {
        snprintf(err, errlen, "no key file given");
        return NULL;
    }
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    fg_keyring_t *k = calloc(1, sizeof *k);
    if (k == NULL) {
        fclose(fp);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int rc = fg_keyring_read(k, fp, path, err, errlen);
    fclose(fp);
    if (rc != 0) {
        fg_keyring_free(k);
        return NULL;
    }
    return k;
}

/* Returns the text of a new key file holding one fresh random key named kid, as a
 * malloc'd string the caller frees (after sodium_memzero: it is secret). NULL when kid is
 * invalid or on OOM. */
char *fg_keyring_generate_text(const char *kid)
{
    unsigned char master[FG_MASTER_BYTES];
    char b64[sodium_base64_ENCODED_LEN(FG_MASTER_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    if (kid == NULL || !fg_kid_valid(kid, strlen(kid)))
        return NULL;
    randombytes_buf(master, sizeof master);
    sodium_bin2base64(b64, sizeof b64, master, sizeof master,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(master, sizeof master);
    size_t len = strlen("# freigabe key file v1\nkey  \n") + strlen(kid) + strlen(b64) + 1;
    char *out = malloc(len);
    if (out != NULL)
        snprintf(out, len, "# freigabe key file v1\nkey %s %s\n", kid, b64);
    sodium_memzero(b64, sizeof b64);
    return out;
}

/* ------------------------------------------------------------------------ */
/* Sealed tokens                                                             */

/* Seals plain[0..len) under the active key with `purpose` as additional data.
 * Returns "<kid>.<base64url(nonce||ciphertext)>" in the arena, NULL on OOM/bad args. */
char *fg_token_seal(fg_arena_t *a, const fg_keyring_t *k, const char *purpose,
                    const char *plain, size_t len)
{
    if (k == NULL || k->n == 0 || (plain == NULL && len > 0) ||
        len > SIZE_MAX / 2 - FG_NONCE_BYTES - FG_TAG_BYTES)
        return NULL;
    const fg_key_t *key = &k->keys[0];
    const char *ad = purpose != NULL ? purpose : "";
    size_t rawlen = FG_NONCE_BYTES + len + FG_TAG_BYTES;
    unsigned char *raw = fg_arena_alloc(a, rawlen);
    if (raw == NULL)
        return NULL;
    randombytes_buf(raw, FG_NONCE_BYTES);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        raw + FG_NONCE_BYTES, &clen, (const unsigned char *)(plain ? plain : ""), len,
        (const unsigned char *)ad, strlen(ad), NULL, raw, key->seal_key);
    char *b64 = fg_b64url_encode(a, raw, rawlen);
    return b64 ? fg_arena_printf(a, "%s.%s", key->kid, b64) : NULL;
}

static const fg_key_t *fg_keyring_find(const fg_keyring_t *k, const char *kid, size_t len)
{
    for (size_t i = 0; i < k->n; i++)
        if (strlen(k->keys[i].kid) == len && memcmp(k->keys[i].kid, kid, len) == 0)
            return &k->keys[i];
    return NULL;
}

/* Opens a token made by fg_token_seal with the key its kid names. On FG_OK *plain is a
 * NUL-terminated arena copy of the plaintext (*len its length, len may be NULL).
 * Returns FG_ERR_INVAL for malformed tokens, FG_ERR_CRYPTO for an unknown kid or failed
 * authentication (wrong purpose, tampering), FG_ERR_NOMEM on OOM. */
int fg_token_open(fg_arena_t *a, const fg_keyring_t *k, const char *purpose,
                  const char *token, char **plain, size_t *len)
{
    if (plain == NULL || k == NULL || token == NULL)
        return FG_ERR_INVAL;
    *plain = NULL;
    const char *dot = strchr(token, '.');
    if (dot == NULL || !fg_kid_valid(token, (size_t)(dot - token)))
        return FG_ERR_INVAL;
    size_t b64len = strlen(dot + 1), rawlen = 0;
    if (b64len > 65536)
        return FG_ERR_INVAL;
    unsigned char *raw = fg_arena_alloc(a, b64len / 4 * 3 + 3);
    if (raw == NULL)
        return FG_ERR_NOMEM;
    if (fg_b64url_decode(dot + 1, b64len, raw, b64len / 4 * 3 + 3, &rawlen) != FG_OK ||
        rawlen < FG_NONCE_BYTES + FG_TAG_BYTES)
        return FG_ERR_INVAL;
    const fg_key_t *key = fg_keyring_find(k, token, (size_t)(dot - token));
    if (key == NULL)
        return FG_ERR_CRYPTO;
    const char *ad = purpose != NULL ? purpose : "";
    size_t mlen = rawlen - FG_NONCE_BYTES - FG_TAG_BYTES;
    unsigned char *m = fg_arena_alloc(a, mlen + 1);
    if (m == NULL)
        return FG_ERR_NOMEM;
    unsigned long long got = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            m, &got, NULL, raw + FG_NONCE_BYTES, rawlen - FG_NONCE_BYTES,
            (const unsigned char *)ad, strlen(ad), raw, key->seal_key) != 0) {
        sodium_memzero(m, mlen + 1);
        return FG_ERR_CRYPTO;
    }
    m[got] = '\0';
    *plain = (char *)m;
    if (len != NULL)
        *len = (size_t)got;
    return FG_OK;
}

/* Keyed BLAKE2b-256 over purpose || '\0' || data with the active key's hash_key, as 64
 * lowercase hex chars in the arena (NULL on OOM / no key). */
char *fg_token_hash(fg_arena_t *a, const fg_keyring_t *k, const char *purpose,
                    const char *data, size_t len)
{
    return fg_token_hash_by(a, k, NULL, purpose, data, len);
}

/* fg_token_hash_by: as fg_token_hash, but under the hash key of the key whose kid begins
 * the sealed token `sealed` ("<kid>.<...>"), so that what a token was stored under still
 * finds it after a rotation put a new key first. Unknown kid or NULL: the active key. */
char *fg_token_hash_by(fg_arena_t *a, const fg_keyring_t *k, const char *sealed,
                       const char *purpose, const char *data, size_t len)
{
    if (k == NULL || k->n == 0 || (data == NULL && len > 0))
        return NULL;
    const fg_key_t *key = &k->keys[0];
    const char *dot = sealed != NULL ? strchr(sealed, '.') : NULL;
    if (dot != NULL) {
        const fg_key_t *found = fg_keyring_find(k, sealed, (size_t)(dot - sealed));
        key = found != NULL ? found : key;
    }
    const char *p = purpose != NULL ? purpose : "";
    unsigned char out[32];
    crypto_generichash_state st;
    crypto_generichash_init(&st, key->hash_key, sizeof key->hash_key, sizeof out);
    crypto_generichash_update(&st, (const unsigned char *)p, strlen(p) + 1);
    if (len > 0)
        crypto_generichash_update(&st, (const unsigned char *)data, len);
    crypto_generichash_final(&st, out, sizeof out);
    sodium_memzero(&st, sizeof st);
    return fg_hex_encode(a, out, sizeof out);
}

/* ------------------------------------------------------------------------ */
/* Argon2id jobs                                                             */

typedef enum { FG_JOB_VERIFY = 1, FG_JOB_CREATE } fg_job_kind_t;

struct fg_hash_job {
    fg_job_kind_t kind;
    char *pw;          /* arena copy of the password, wiped after run */
    size_t pwlen;
    char stored[crypto_pwhash_STRBYTES]; /* VERIFY: the stored hash */
    int stored_ok;     /* VERIFY: stored hash fitted the buffer */
    long long ops, mem;/* CREATE */
    int ran, ok;
    char result[crypto_pwhash_STRBYTES]; /* CREATE: the new hash */
};

static fg_hash_job_t *fg_hash_job_new(fg_arena_t *a, fg_job_kind_t kind, const char *pw,
                                      size_t pwlen)
{
    if (pw == NULL && pwlen > 0)
        return NULL;
    fg_hash_job_t *j = fg_arena_alloc(a, sizeof *j);
    if (j == NULL)
        return NULL;
    j->pw = fg_arena_alloc(a, pwlen + 1);
    if (j->pw == NULL)
        return NULL;
    if (pwlen > 0)
        memcpy(j->pw, pw, pwlen);
    j->pwlen = pwlen;
    j->kind = kind;
    return j;
}

/* A job that checks password against stored_hash (a crypto_pwhash_str string). The job
 * lives in arena a; the password is copied (wiped by run and fg_hash_job_wipe).
 * Returns NULL on OOM. */
fg_hash_job_t *fg_hash_job_verify(fg_arena_t *a, const char *stored_hash,
                                  const char *password, size_t pwlen)
{
    fg_hash_job_t *j = fg_hash_job_new(a, FG_JOB_VERIFY, password, pwlen);
    if (j == NULL)
        return NULL;
    if (stored_hash != NULL && strlen(stored_hash) < sizeof j->stored) {
        memcpy(j->stored, stored_hash, strlen(stored_hash) + 1);
        j->stored_ok = 1;
    }
    return j;
}

/* A job that hashes password with Argon2id at ops/mem. Job in arena a, NULL on OOM. */
fg_hash_job_t *fg_hash_job_create(fg_arena_t *a, const char *password, size_t pwlen,
                                  long long ops, long long mem)
{
    fg_hash_job_t *j = fg_hash_job_new(a, FG_JOB_CREATE, password, pwlen);
    if (j != NULL) {
        j->ops = ops;
        j->mem = mem;
    }
    return j;
}

/* Runs the job once (CPU only; any thread). A second call does nothing. */
void fg_hash_job_run(fg_hash_job_t *j)
{
    if (j == NULL || j->ran)
        return;
    j->ran = 1;
    if (j->kind == FG_JOB_VERIFY) {
        j->ok = j->stored_ok && crypto_pwhash_str_verify(j->stored, j->pw, j->pwlen) == 0;
    } else if (j->ops > 0 && j->mem > 0) {
        j->ok = crypto_pwhash_str(j->result, j->pw, j->pwlen, (unsigned long long)j->ops,
                                  (size_t)j->mem) == 0;
    }
    fg_hash_job_wipe(j);
}

/* After run: VERIFY -> 1 match, 0 mismatch; CREATE -> 1 when a hash was made. */
int fg_hash_job_ok(const fg_hash_job_t *j)
{
    return j != NULL && j->ran && j->ok;
}

/* After a successful CREATE run: the new hash string (owned by the job), else NULL. */
const char *fg_hash_job_result(const fg_hash_job_t *j)
{
    if (j == NULL || j->kind != FG_JOB_CREATE || !j->ran || !j->ok)
        return NULL;
    return j->result;
}

/* Wipes the password copy held by the job (idempotent). */
void fg_hash_job_wipe(fg_hash_job_t *j)
{
    if (j != NULL && j->pw != NULL)
        sodium_memzero(j->pw, j->pwlen + 1);
}

/* 1 when `stored` should be rehashed for ops/mem (other limits, other algorithm or
 * unparsable), else 0. */
int fg_hash_needs_rehash(const char *stored, long long ops, long long mem)
{
    if (stored == NULL || ops <= 0 || mem <= 0)
        return 1;
    return crypto_pwhash_str_needs_rehash(stored, (unsigned long long)ops, (size_t)mem) != 0;
}

/* Dummy hashes, one per (ops,mem), made on first use and kept for the process. */
typedef struct fg_dummy {
    struct fg_dummy *next;
    long long ops, mem;
    char hash[crypto_pwhash_STRBYTES];
} fg_dummy_t;

static pthread_mutex_t fg_dummy_lock = PTHREAD_MUTEX_INITIALIZER;
static fg_dummy_t *fg_dummies;

static fg_dummy_t *fg_dummy_make(long long ops, long long mem)
{
    unsigned char pw[32];
    fg_dummy_t *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    randombytes_buf(pw, sizeof pw);
    int rc = crypto_pwhash_str(d->hash, (const char *)pw, sizeof pw,
                               (unsigned long long)ops, (size_t)mem);
    sodium_memzero(pw, sizeof pw);
    if (rc != 0) {
        free(d);
        return NULL;
    }
    d->ops = ops;
    d->mem = mem;
    return d;
}

/* The list is kept for the process, but it belongs to this library: nginx and Apache
 * dlclose() the module (at exit; Apache also on every restart), after which nothing points
 * at the list any more. Free it then. */
__attribute__((destructor)) static void fg_dummy_cleanup(void)
{
    fg_dummy_t *d = fg_dummies, *next;

    fg_dummies = NULL;
    for (; d != NULL; d = next) {
        next = d->next;
        free(d);
    }
}

/* A dummy Argon2id hash at ops/mem (of a random password nobody knows), computed once
 * per process and limits; thread-safe. The string lives for the process (never freed).
 * NULL on OOM or invalid limits. */
const char *fg_hash_dummy(long long ops, long long mem)
{
    const char *out = NULL;
    if (ops <= 0 || mem <= 0)
        return NULL;
    pthread_mutex_lock(&fg_dummy_lock);
    fg_dummy_t *d = fg_dummies;
    while (d != NULL && (d->ops != ops || d->mem != mem))
        d = d->next;
    if (d == NULL && (d = fg_dummy_make(ops, mem)) != NULL) {
        d->next = fg_dummies;
        fg_dummies = d;
    }
    if (d != NULL)
        out = d->hash;
    pthread_mutex_unlock(&fg_dummy_lock);
    return out;
}
