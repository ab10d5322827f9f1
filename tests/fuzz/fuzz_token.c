/* fuzz_token.c - shared/fg_crypto.c sealed tokens and hashes, shared/fg_jwt.c claims.
 *
 * Input: first byte selects:
 *   0 fg_token_open + fg_token_hash_by   purpose \n token (rest), against a two-key keyring
 *   1 seal/open round trip               purpose \n plaintext (rest, binary)
 *   2 fg_hash_needs_rehash               stored hash string (rest; parsed, never computed)
 *   3 fg_jwt_sign                        iss \n aud \n sub \n name \n sid, then 3 x 4 bytes
 *                                        (auth_time, iat, exp); strings may be non-UTF-8
 * Invariants: open of a forged token never succeeds (only tokens the harness sealed open);
 * round trip returns the plaintext byte for byte; a JWT has three base64url parts.
 */
#include "fuzz_common.h"

static fg_keyring_t *keys;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    (void)argc;
    (void)argv;
    fg_init();
    keys = fg_keyring_load(fz_keyfile(), err, sizeof err);
    if (keys == NULL) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
    fz_unlink_keyfile();
    return 0;
}

static int b64url_part(const char *s, size_t n)
{
    return n > 0 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") >= n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_t f;
    fg_arena_t *a;
    uint8_t sel;

    if (size < 1) {
        return 0;
    }
    fz_init(&f, data, size);
    sel = fz_u8(&f);
    a = fg_arena_new();
    switch (sel % 4) {
    case 0: {
        const char *purpose = fz_field_or_null(&f);
        const char *tok = fz_rest(&f);
        char *plain = (char *)1;
        size_t len = 12345;
        int rc = fg_token_open(a, keys, purpose, tok, &plain, &len);
        if (rc == FG_OK) {
            abort(); /* forging XChaCha20-Poly1305 by fuzzing: surely a bug */
        }
        if (plain != NULL) {
            abort();
        }
        fz_touch(fg_token_hash_by(a, keys, tok, purpose, tok, strlen(tok)));
        break;
    }
    case 1: {
        const char *purpose = fz_field_or_null(&f);
        size_t len;
        const char *pt = fz_bytes(&f, f.n, &len);
        char *t = fg_token_seal(a, keys, purpose, pt, len);
        char *plain = NULL;
        size_t got = 0;
        if (t == NULL || fg_token_open(a, keys, purpose, t, &plain, &got) != FG_OK ||
            got != len || memcmp(plain, pt, len) != 0 || plain[len] != '\0') {
            abort();
        }
        /* any one-character change must fail */
        size_t tl = strlen(t);
        if (tl > 0) {
            size_t pos = (len * 7 + 3) % tl;
            t[pos] = t[pos] == 'A' ? 'B' : 'A';
            if (fg_token_open(a, keys, purpose, t, &plain, &got) == FG_OK) {
                abort();
            }
        }
        break;
    }
    case 2:
        (void)fg_hash_needs_rehash(fz_rest(&f), 1, 8192);
        break;
    case 3: {
        fg_claims_t c;
        c.iss = fz_field_or_null(&f);
        c.aud = fz_field_or_null(&f);
        c.sub = fz_field_or_null(&f);
        c.name = fz_field_or_null(&f);
        c.sid = fz_field_or_null(&f);
        c.auth_time = (int64_t)(int32_t)fz_u32(&f) * 3;
        c.iat = (int64_t)fz_u32(&f) << (fz_u8(&f) % 32);
        c.exp = -(int64_t)fz_u32(&f);
        char *jwt = fg_jwt_sign(a, keys, &c);
        if (jwt != NULL) {
            const char *d1 = strchr(jwt, '.');
            const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
            if (d1 == NULL || d2 == NULL || strchr(d2 + 1, '.') != NULL ||
                !b64url_part(jwt, (size_t)(d1 - jwt)) ||
                !b64url_part(d1 + 1, (size_t)(d2 - d1 - 1)) || !b64url_part(d2 + 1, strlen(d2 + 1))) {
                abort();
            }
        }
        break;
    }
    }
    fg_arena_free(a);
    fz_free_all(&f);
    return 0;
}
