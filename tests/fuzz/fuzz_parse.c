/* fuzz_parse.c - shared/fg_parse.c: what browsers send.
 *
 * Input: first byte selects the parser, the rest is split into '\n'-separated fields:
 *   0 fg_cookie_get       header \n name
 *   1 fg_cookie_strip     header \n name1 \n name2 ... (rest)
 *   2 fg_form_get         name \n body (rest; passed by length, NOT NUL-terminated)
 *   3 fg_return_path      rd (rest)
 *   4 fg_lang_pick        accept-language \n override ("-" = NULL) \n default
 *   5 request checks      method \n host \n accept \n sec-fetch-site \n sec-fetch-mode \n
 *                         origin \n referer \n x-requested-with  ("-" = absent), https = bit 7
 *                         of the selector: fg_request_is_navigation + fg_request_same_origin
 *   6 fg_header_is_reserved  header name (rest, by length), default and custom prefixes
 *   7 fg_upstream_cookie  Cookie header (rest): none of the module's cookies may survive
 * Invariants checked (abort on violation): a return path that is accepted is an exact copy of
 * rd and starts with a single '/'; cookie_strip never returns a removed name.
 */
#include "fuzz_common.h"

static fg_config_t *custom_prefix_cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    (void)argc;
    (void)argv;
    fg_init();
    custom_prefix_cfg = fg_config_new();
    if (fg_config_set(custom_prefix_cfg, "header_prefix", "Remote-", err, sizeof err) != FG_OK) {
        abort();
    }
    return 0;
}

static void check_return_path(fg_arena_t *a, const char *rd)
{
    static const char fallback[] = "/fallback";
    const char *r = fg_return_path(a, rd, fallback);
    if (r == NULL) {
        abort();
    }
    if (r != fallback) {
        /* accepted: must be rd itself, a same-site absolute path */
        if (strcmp(r, rd) != 0 || r[0] != '/' || r[1] == '/' || r[1] == '\\' ||
            strchr(r, '\\') != NULL) {
            abort();
        }
        for (const char *p = r; *p; p++) {
            if ((unsigned char)*p < 0x21 || (unsigned char)*p >= 0x7f) {
                abort();
            }
        }
    }
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
    if (a == NULL) {
        return 0;
    }
    switch (sel % 8) {
    case 0: {
        const char *hdr = fz_field(&f);
        const char *name = fz_rest(&f);
        fz_touch(fg_cookie_get(a, hdr, name));
        fz_touch(fg_cookie_get(a, hdr, "freigabe"));
        fz_touch(fg_cookie_get(a, hdr, "__Host-freigabe-pre"));
        break;
    }
    case 1: {
        const char *hdr = fz_field(&f);
        const char *names[8];
        size_t n = 0;
        while (f.n > 0 && n < 8) {
            names[n++] = fz_field(&f);
        }
        const char *s = fg_cookie_strip(a, hdr, names, n);
        if (s != NULL) {
            for (size_t i = 0; i < n; i++) {
                const char *v = fg_cookie_get(a, s, names[i]);
                if (names[i][0] != '\0' && v != NULL) {
                    abort(); /* a stripped cookie survived */
                }
            }
        }
        break;
    }
    case 2: {
        const char *name = fz_field(&f);
        size_t blen;
        const char *body = fz_bytes(&f, f.n, &blen);
        fz_touch(fg_form_get(a, body, blen, name));
        fz_touch(fg_form_get(a, body, blen, "rd"));
        fz_touch(fg_form_get(a, body, blen, "csrf"));
        break;
    }
    case 3:
        check_return_path(a, fz_rest(&f));
        break;
    case 4: {
        const char *al = fz_field_or_null(&f);
        const char *ov = fz_field_or_null(&f);
        const char *dflt = fz_field_or_null(&f);
        const char *l = fg_lang_pick(al, ov, dflt);
        if (l == NULL || (strcmp(l, "de") != 0 && strcmp(l, "en") != 0)) {
            abort();
        }
        break;
    }
    case 5: {
        fg_request_t r;
        memset(&r, 0, sizeof r);
        r.method = fz_field_or_null(&f);
        r.host = fz_field_or_null(&f);
        r.accept = fz_field_or_null(&f);
        r.sec_fetch_site = fz_field_or_null(&f);
        r.sec_fetch_mode = fz_field_or_null(&f);
        r.origin = fz_field_or_null(&f);
        r.referer = fz_field_or_null(&f);
        r.x_requested_with = fz_field_or_null(&f);
        r.https = (sel & 0x80) != 0;
        (void)fg_request_is_navigation(&r);
        (void)fg_request_same_origin(&r);
        break;
    }
    case 6: {
        size_t len;
        const char *name = fz_bytes(&f, f.n, &len);
        (void)fg_header_is_reserved(NULL, name, len);
        (void)fg_header_is_reserved(custom_prefix_cfg, name, len);
        break;
    }
    case 7: {
        static const char *const mine[] = {"freigabe", "freigabe-pre", "__Host-freigabe",
                                           "__Host-freigabe-pre"};
        const char *hdr = fz_rest(&f);
        const char *up = fg_upstream_cookie(a, hdr);
        for (size_t i = 0; up != NULL && i < 4; i++) {
            if (fg_cookie_get(a, up, mine[i]) != NULL) {
                abort(); /* a session/pre cookie would reach the upstream */
            }
        }
        if (up == NULL) {
            for (size_t i = 0; i < 4; i++) {
                if (fg_cookie_get(a, hdr, mine[i]) != NULL) {
                    abort(); /* "none of them present" but one is */
                }
            }
        }
        break;
    }
    }
    fg_arena_free(a);
    fz_free_all(&f);
    return 0;
}
