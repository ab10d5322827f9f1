/* fuzz_keyfile.c - shared/fg_crypto.c fg_keyring_load: the key file parser.
 *
 * Input: the whole key file. The harness writes it to a private temp file and loads it; a
 * loaded keyring is exercised (seal/open round trip under every key's kid, keyed hashes,
 * JWKS, a JWT). Invariants: load returns a keyring with >= 1 key or NULL with a message;
 * kids are 1..32 chars of [A-Za-z0-9_-] and unique; a token sealed now opens again.
 */
#include "fuzz_common.h"

#include <fcntl.h>

static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fg_init();
    fz_sweep_stale();
    snprintf(path, sizeof path, "/tmp/fgfuzz-keyfile-%ld-XXXXXX", (long)getpid());
    int fd = mkstemp(path);
    if (fd < 0) {
        abort();
    }
    close(fd);
    return 0;
}

__attribute__((destructor)) static void cleanup(void)
{
    if (path[0] != '\0') {
        unlink(path);
    }
}

static void check_keyring(const fg_keyring_t *k)
{
    fg_arena_t *a = fg_arena_new();
    if (k->n == 0) {
        abort();
    }
    for (size_t i = 0; i < k->n; i++) {
        size_t n = strnlen(k->keys[i].kid, sizeof k->keys[i].kid);
        if (n == 0 || n > FG_KID_MAX || strspn(k->keys[i].kid, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                 "abcdefghijklmnopqrstuvwxyz0123456789_-") != n) {
            abort();
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(k->keys[i].kid, k->keys[j].kid) == 0) {
                abort();
            }
        }
    }
    char *t = fg_token_seal(a, k, "session", "v1\nC1\ntok\n1", 11);
    char *plain = NULL;
    size_t len = 0;
    if (t == NULL || fg_token_open(a, k, "session", t, &plain, &len) != FG_OK || len != 11 ||
        memcmp(plain, "v1\nC1\ntok\n1", 11) != 0) {
        abort();
    }
    if (fg_token_open(a, k, "pre", t, &plain, &len) != FG_ERR_CRYPTO) {
        abort();
    }
    fz_touch(fg_token_hash(a, k, "session", "x", 1));
    fz_touch(fg_token_hash_by(a, k, t, "session", "x", 1));
    fz_touch(fg_jwks_json(a, k));
    fg_claims_t cl = {"iss", "aud", "C1", "Name", "sid", 1, 2, 3};
    fz_touch(fg_jwt_sign(a, k, &cl));
    fg_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[300];
    int fd = open(path, O_WRONLY | O_TRUNC);
    if (fd < 0) {
        abort();
    }
    if (size > 0 && write(fd, data, size) != (ssize_t)size) {
        abort();
    }
    close(fd);
    memset(err, 'x', sizeof err);
    fg_keyring_t *k = fg_keyring_load(path, err, sizeof err);
    if (k != NULL) {
        check_keyring(k);
        fg_keyring_free(k);
    } else if (memchr(err, '\0', sizeof err) == NULL || err[0] == '\0') {
        abort();
    }
    return 0;
}
