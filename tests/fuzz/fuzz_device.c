/* fuzz_device.c - shared/fg_device.c: the app's Authorization and Freigabe-Client headers.
 *
 * Input: first byte selects:
 *   0 fg_devauth_parse    Authorization header (rest)
 *   1 fg_devauth_parse + fg_devauth_verify
 *                         header \n public key (base64url) \n method \n path \n body (rest);
 *                         when the selector's bit 7 is set, the harness replaces the header's
 *                         sig with a real Ed25519 signature (fixed device key, whose public
 *                         key is also used) so verify runs to the end
 *   2 fg_client_parse + fg_client_too_old  Freigabe-Client header (rest), against three
 *                         configurations (defaults, min_client app=2.4.0, all limits off)
 * Invariants: a parsed devauth has all four values, each 1..512 printable chars without '"'
 * or '\\'; a parsed client's platform is "android" or "ios".
 */
#include "fuzz_common.h"

static unsigned char dev_pk[crypto_sign_PUBLICKEYBYTES], dev_sk[crypto_sign_SECRETKEYBYTES];
static fg_config_t *cfgs[3];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const app_min[] = {"min_client", "android=12 ios=16 app=2.4.0", NULL};
    static const char *const no_min[] = {"min_client", "android=0 ios=0", NULL};
    unsigned char seed[crypto_sign_SEEDBYTES];
    (void)argc;
    (void)argv;
    fg_init();
    for (size_t i = 0; i < sizeof seed; i++) {
        seed[i] = (unsigned char)i;
    }
    crypto_sign_seed_keypair(dev_pk, dev_sk, seed);
    cfgs[0] = fz_config(NULL);
    cfgs[1] = fz_config(app_min);
    cfgs[2] = fz_config(no_min);
    atexit(fz_unlink_keyfile);
    return 0;
}

static int value_ok(const char *v)
{
    size_t n = v != NULL ? strlen(v) : 0;
    if (n == 0 || n > 512) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i] < 0x21 || v[i] > 0x7e || v[i] == '"' || v[i] == '\\') {
            return 0;
        }
    }
    return 1;
}

static void check_devauth(const fg_devauth_t *h)
{
    if (!value_ok(h->device) || !value_ok(h->ts) || !value_ok(h->nonce) || !value_ok(h->sig)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_t f;
    fg_arena_t *a;
    fg_devauth_t h;
    uint8_t sel;

    if (size < 1) {
        return 0;
    }
    fz_init(&f, data, size);
    sel = fz_u8(&f);
    a = fg_arena_new();
    if (a == NULL) {
        return 0;
    }
    switch (sel % 3) {
    case 0:
        if (fg_devauth_parse(a, fz_rest(&f), &h) == FG_OK) {
            check_devauth(&h);
        } else if (h.device || h.ts || h.nonce || h.sig) {
            abort(); /* out must be cleared on error */
        }
        break;
    case 1: {
        const char *hdr = fz_field(&f);
        const char *pk = fz_field(&f);
        const char *method = fz_field(&f);
        const char *path = fz_field(&f);
        size_t blen;
        const char *body = fz_bytes(&f, f.n, &blen);
        if (fg_devauth_parse(a, hdr, &h) != FG_OK) {
            break;
        }
        check_devauth(&h);
        if (sel & 0x80) {
            char *msg = fg_devauth_message(a, method, path, h.ts, h.nonce,
                                           (const unsigned char *)body, blen);
            unsigned char sig[crypto_sign_BYTES];
            if (msg == NULL) {
                abort();
            }
            crypto_sign_detached(sig, NULL, (const unsigned char *)msg, strlen(msg), dev_sk);
            h.sig = fg_b64url_encode(a, sig, sizeof sig);
            pk = fg_b64url_encode(a, dev_pk, sizeof dev_pk);
        }
        int64_t ts = (int64_t)strtoll(h.ts, NULL, 10);
        (void)fg_devauth_verify(a, &h, pk, method, path, (const unsigned char *)body, blen, ts);
        (void)fg_devauth_verify(a, &h, pk, method, path, (const unsigned char *)body, blen,
                                1767225600);
        break;
    }
    case 2: {
        fg_client_t cl;
        const char *hdr = fz_rest(&f);
        if (fg_client_parse(a, hdr, &cl) != FG_OK) {
            if (cl.platform || cl.os || cl.app) {
                abort();
            }
            break;
        }
        if (strcmp(cl.platform, "android") != 0 && strcmp(cl.platform, "ios") != 0) {
            abort();
        }
        for (size_t i = 0; i < 3; i++) {
            const char *what = NULL;
            const char *why = fg_client_too_old(a, cfgs[i], &cl, &what);
            if ((why == NULL) != (what == NULL)) {
                abort();
            }
            fz_touch(why);
        }
        break;
    }
    }
    fg_arena_free(a);
    fz_free_all(&f);
    return 0;
}
