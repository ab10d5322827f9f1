/* fuzz_util.c - shared/fg_util.c: encodings and small parsers every other file relies on.
 *
 * Input: first byte selects:
 *   0 fg_b64url_decode (by length, no NUL) with several output sizes; re-encode must match
 *   1 fg_parse_int with the range from the next 2 x 8 bytes; the rest is the number
 *   2 fg_pct_encode / fg_hex_encode / fg_sha256_hex / fg_sha1_hex / fg_buf_html of the rest
 *   3 fg_strncasecmp of two fields with n from one byte, against a reference
 *   4 fg_text_ok (maxlen from one byte) and fg_utf8_seq of the rest, against a reference
 *     decoder (UTF-8 without overlongs/surrogates/>U+10FFFF, no C0, DEL or C1 controls)
 */
#include "fuzz_common.h"

#include <ctype.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fg_init();
    return 0;
}

static int ref_ncase(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int x = (a[i] >= 'A' && a[i] <= 'Z') ? a[i] + 32 : (unsigned char)a[i];
        int y = (b[i] >= 'A' && b[i] <= 'Z') ? b[i] + 32 : (unsigned char)b[i];
        if (x != y) {
            return x < y ? -1 : 1;
        }
        if (x == 0) {
            return 0;
        }
    }
    return 0;
}

/* Reference for fg_text_ok: decode strictly, then check every code point. */
static int ref_text_ok(const unsigned char *s, size_t maxlen)
{
    size_t n = strlen((const char *)s);
    if (n == 0 || n > maxlen) {
        return 0;
    }
    for (size_t i = 0; i < n;) {
        unsigned cp, len;
        unsigned char c = s[i];
        if (c < 0x80) {
            cp = c, len = 1;
        } else if ((c & 0xe0) == 0xc0) {
            cp = c & 0x1f, len = 2;
        } else if ((c & 0xf0) == 0xe0) {
            cp = c & 0x0f, len = 3;
        } else if ((c & 0xf8) == 0xf0) {
            cp = c & 0x07, len = 4;
        } else {
            return 0;
        }
        if (i + len > n) {
            return 0;
        }
        for (unsigned k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
        if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f)) {
            return 0;
        }
        size_t k = fg_utf8_seq(s + i, n - i);
        if (k != len) {
            abort(); /* fg_utf8_seq disagrees on a valid sequence */
        }
        i += len;
    }
    return 1;
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
    switch (sel % 5) {
    case 0: {
        size_t n;
        const char *in = fz_bytes(&f, f.n, &n);
        /* strict: only the canonical encoding of some bytes decodes (libsodium 1.0.18 alone
         * would read bytes >= 0x80 as '_'; fg_b64url_decode refuses them) */
        size_t sizes[] = {0, 1, 16, 32, 64, n, n * 3 / 4, n * 3 / 4 + 1};
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            size_t cap = sizes[i];
            unsigned char *out = malloc(cap ? cap : 1);
            size_t got = (size_t)-1;
            if (fg_b64url_decode(in, n, out, cap, &got) == FG_OK) {
                if (got > cap) {
                    abort();
                }
                char *re = fg_b64url_encode(a, out, got);
                if (re == NULL || strlen(re) != n || memcmp(re, in, n) != 0) {
                    abort(); /* strict decoding: canonical input only */
                }
            }
            free(out);
        }
        break;
    }
    case 1: {
        long long lo = (long long)(((uint64_t)fz_u32(&f) << 32) | fz_u32(&f));
        long long hi = (long long)(((uint64_t)fz_u32(&f) << 32) | fz_u32(&f));
        const char *s = fz_rest(&f);
        long long v = 0;
        if (fg_parse_int(s, lo, hi, &v) == FG_OK) {
            if (v < lo || v > hi) {
                abort();
            }
            char buf[32];
            snprintf(buf, sizeof buf, "%lld", v);
            /* only canonical-ish input: digits with optional '-', may have leading zeros */
            if (strspn(s + (s[0] == '-'), "0123456789") != strlen(s + (s[0] == '-'))) {
                abort();
            }
        }
        break;
    }
    case 2: {
        size_t n;
        const char *s = fz_rest(&f);
        n = strlen(s);
        char *p = fg_pct_encode(a, s);
        if (p == NULL) {
            abort();
        }
        for (const char *q = p; *q; q++) {
            if (!isalnum((unsigned char)*q) && strchr("-._~%", *q) == NULL) {
                abort();
            }
        }
        fz_touch(fg_hex_encode(a, (const unsigned char *)s, n));
        fz_touch(fg_sha256_hex(a, (const unsigned char *)s, n));
        char sha1[41];
        fg_sha1_hex(s, n, sha1);
        if (strlen(sha1) != 40) {
            abort();
        }
        fg_buf_t b;
        fg_buf_init(&b, a);
        fg_buf_html(&b, s);
        const char *h = fg_buf_cstr(&b);
        if (h == NULL || strpbrk(h, "<>\"'") != NULL) {
            abort();
        }
        fg_buf_printf(&b, "%s|%zu", s, n);
        h = fg_buf_cstr(&b);
        fz_touch(fg_arena_printf(a, "%s%s", s, h));
        break;
    }
    case 4: {
        size_t maxlen = fz_u8(&f);
        const char *s = fz_rest(&f);
        int r = fg_text_ok(s, maxlen);
        if (r != ref_text_ok((const unsigned char *)s, maxlen)) {
            fprintf(stderr, "fg_text_ok=%d differs from the reference\n", r);
            abort();
        }
        break;
    }
    case 3: {
        const char *x = fz_field(&f);
        const char *y = fz_field(&f);
        size_t n = fz_u8(&f);
        size_t lx = strlen(x) + 1, ly = strlen(y) + 1;
        if (n > lx || n > ly) {
            n = lx < ly ? lx : ly; /* the API reads at most up to the common NUL */
        }
        int r1 = fg_strncasecmp(x, y, n), r2 = ref_ncase(x, y, n);
        if ((r1 < 0) != (r2 < 0) || (r1 > 0) != (r2 > 0)) {
            abort();
        }
        break;
    }
    }
    fg_arena_free(a);
    fz_free_all(&f);
    return 0;
}
