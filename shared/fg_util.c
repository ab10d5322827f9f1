/* fg_util.c - engine basics: init, error texts, arenas, buffers, encodings, hashes, randomness. */
#include "fg_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Errors and initialisation                                                 */

/* Returns a static English text for an FG_ERR_* code (never NULL, never freed). */
const char *fg_strerror(int err)
{
    switch (err) {
    case FG_OK: return "success";
    case FG_ERR_NOMEM: return "out of memory";
    case FG_ERR_INVAL: return "invalid input";
    case FG_ERR_CRYPTO: return "cryptographic failure";
    case FG_ERR_REDIS_DOWN: return "Redis is not reachable";
    case FG_ERR_TIMEOUT: return "Redis did not answer in time";
    case FG_ERR_REDIS: return "unexpected Redis reply";
    case FG_ERR_IO: return "file could not be read or written";
    case FG_ERR_BUSY: return "too many password checks in progress";
    default: return "unknown error";
    }
}

/* Initialises libsodium (safe to call more than once, from any thread).
 * Returns FG_OK or FG_ERR_CRYPTO. */
int fg_init(void)
{
    return sodium_init() < 0 ? FG_ERR_CRYPTO : FG_OK;
}

/* ------------------------------------------------------------------------ */
/* Arena: chained blocks; allocations are zeroed, 16-byte aligned. Blocks are wiped
 * on free because tokens, cookies and plaintexts live here.                  */

#define FG_ARENA_BLOCK 8192
#define FG_ARENA_ALIGN 16

typedef struct fg_block {
    struct fg_block *next;
    size_t size, used;
    /* data follows, aligned */
} fg_block_t;

struct fg_arena {
    fg_block_t *head; /* current block with free room first; big blocks after it */
};

#define FG_BLOCK_HDR ((sizeof(fg_block_t) + FG_ARENA_ALIGN - 1) & ~(size_t)(FG_ARENA_ALIGN - 1))

static unsigned char *fg_block_data(fg_block_t *b)
{
    return (unsigned char *)b + FG_BLOCK_HDR;
}

static fg_block_t *fg_block_new(size_t size)
{
    if (size > SIZE_MAX - FG_BLOCK_HDR)
        return NULL;
    fg_block_t *b = malloc(FG_BLOCK_HDR + size);
    if (b == NULL)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

/* Creates an empty arena. Returns NULL on OOM. Free with fg_arena_free. */
fg_arena_t *fg_arena_new(void)
{
    fg_arena_t *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->head = fg_block_new(FG_ARENA_BLOCK);
    if (a->head == NULL) {
        free(a);
        return NULL;
    }
    return a;
}

/* Frees every allocation of the arena at once (NULL is allowed). Used bytes are wiped. */
void fg_arena_free(fg_arena_t *a)
{
    if (a == NULL)
        return;
    fg_block_t *b = a->head;
    while (b != NULL) {
        fg_block_t *next = b->next;
        sodium_memzero(fg_block_data(b), b->used);
        free(b);
        b = next;
    }
    free(a);
}

/* Returns n zeroed bytes (aligned) living as long as the arena, or NULL on OOM.
 * Requests larger than a quarter block get a block of their own, kept behind the
 * current block so the current block's free room is not lost. */
void *fg_arena_alloc(fg_arena_t *a, size_t n)
{
    if (a == NULL || n > SIZE_MAX / 2)
        return NULL;
    if (n == 0)
        n = 1;
    size_t need = (n + FG_ARENA_ALIGN - 1) & ~(size_t)(FG_ARENA_ALIGN - 1);
    if (need > FG_ARENA_BLOCK / 4) {
        fg_block_t *big = fg_block_new(need);
        if (big == NULL)
            return NULL;
        big->used = need;
        big->next = a->head->next;
        a->head->next = big;
        memset(fg_block_data(big), 0, need);
        return fg_block_data(big);
    }
    if (a->head->size - a->head->used < need) {
        fg_block_t *b = fg_block_new(FG_ARENA_BLOCK);
        if (b == NULL)
            return NULL;
        b->next = a->head;
        a->head = b;
    }
    unsigned char *p = fg_block_data(a->head) + a->head->used;
    a->head->used += need;
    memset(p, 0, need);
    return p;
}

/* Copies at most n bytes of s (stops at NUL) into the arena, NUL-terminated. NULL on OOM
 * or when s is NULL. */
char *fg_arena_strndup(fg_arena_t *a, const char *s, size_t n)
{
    if (s == NULL)
        return NULL;
    size_t len = strnlen(s, n);
    char *p = fg_arena_alloc(a, len + 1);
    if (p != NULL)
        memcpy(p, s, len);
    return p;
}

char *fg_arena_memdup(fg_arena_t *a, const void *s, size_t n)
{
    if (s == NULL)
        return NULL;
    char *p = fg_arena_alloc(a, n + 1);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

/* Copies s into the arena. NULL on OOM or when s is NULL. */
char *fg_arena_strdup(fg_arena_t *a, const char *s)
{
    return s == NULL ? NULL : fg_arena_strndup(a, s, strlen(s));
}

static char *fg_arena_vprintf(fg_arena_t *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    char *p = fg_arena_alloc(a, (size_t)n + 1);
    if (p != NULL)
        vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

/* printf into the arena. Returns the string or NULL on OOM / format error. */
char *fg_arena_printf(fg_arena_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = fg_arena_vprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

/* ------------------------------------------------------------------------ */
/* Growable buffer. On OOM the buffer turns "failed": further adds are ignored and
 * fg_buf_cstr returns NULL, so a half-built answer is never mistaken for a whole one. */

#define FG_BUF_FAILED ((size_t)-1)

/* Starts an empty buffer whose memory comes from arena a. */
void fg_buf_init(fg_buf_t *b, fg_arena_t *a)
{
    b->arena = a;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

static int fg_buf_reserve(fg_buf_t *b, size_t extra)
{
    if (b->cap == FG_BUF_FAILED)
        return -1;
    if (extra >= SIZE_MAX / 4 - b->len)
        goto fail;
    if (b->len + extra < b->cap) /* always keep room for the NUL */
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap <= b->len + extra)
        cap *= 2;
    char *d = fg_arena_alloc(b->arena, cap);
    if (d == NULL)
        goto fail;
    if (b->len)
        memcpy(d, b->data, b->len);
    b->data = d;
    b->cap = cap;
    return 0;
fail:
    b->cap = FG_BUF_FAILED;
    b->data = NULL;
    b->len = 0;
    return -1;
}

/* Appends n bytes of s. */
void fg_buf_add(fg_buf_t *b, const char *s, size_t n)
{
    if (n == 0 || fg_buf_reserve(b, n) < 0)
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/* Appends a NUL-terminated string (NULL appends nothing). */
void fg_buf_puts(fg_buf_t *b, const char *s)
{
    if (s != NULL)
        fg_buf_add(b, s, strlen(s));
}

/* Appends printf output. */
void fg_buf_printf(fg_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0 || fg_buf_reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Appends s with & < > " ' replaced by entities (NULL appends nothing). */
void fg_buf_html(fg_buf_t *b, const char *s)
{
    if (s == NULL)
        return;
    const char *run = s;
    for (; *s; s++) {
        const char *ent = NULL;
        switch (*s) {
        case '&': ent = "&amp;"; break;
        case '<': ent = "&lt;"; break;
        case '>': ent = "&gt;"; break;
        case '"': ent = "&quot;"; break;
        case '\'': ent = "&#39;"; break;
        default: continue;
        }
        fg_buf_add(b, run, (size_t)(s - run));
        fg_buf_puts(b, ent);
        run = s + 1;
    }
    fg_buf_add(b, run, (size_t)(s - run));
}

/* The contents, NUL-terminated, owned by the arena; "" when empty, NULL after OOM. */
const char *fg_buf_cstr(fg_buf_t *b)
{
    if (b->cap == FG_BUF_FAILED)
        return NULL;
    return b->data != NULL ? b->data : "";
}

/* ------------------------------------------------------------------------ */
/* Encodings                                                                 */

/* base64url without padding of in[0..len). Returns an arena string or NULL on OOM. */
char *fg_b64url_encode(fg_arena_t *a, const unsigned char *in, size_t len)
{
    size_t outlen = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = fg_arena_alloc(a, outlen);
    if (out == NULL)
        return NULL;
    sodium_bin2base64(out, outlen, in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

/* Strict base64url decode (no padding, no whitespace, canonical trailing bits).
 * Returns FG_OK with *outlen set, or FG_ERR_INVAL (bad input or more than outmax bytes). */
int fg_b64url_decode(const char *in, size_t inlen, unsigned char *out, size_t outmax,
                     size_t *outlen)
{
    size_t got = 0;
    if (in == NULL || out == NULL)
        return FG_ERR_INVAL;
    if (inlen % 4 == 1) /* a 4k+1 length never decodes */
        return FG_ERR_INVAL;
    /* strict alphabet: libsodium 1.0.18 reads every byte >= 0x80 as '_', so a mangled
     * token would otherwise decode like the real one */
    for (size_t i = 0; i < inlen; i++) {
        unsigned char c = (unsigned char)in[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return FG_ERR_INVAL;
    }
    if (sodium_base642bin(out, outmax, in, inlen, NULL, &got, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return FG_ERR_INVAL;
    if (outlen != NULL)
        *outlen = got;
    return FG_OK;
}

/* Lowercase hex of in[0..len). Arena string or NULL on OOM. */
char *fg_hex_encode(fg_arena_t *a, const unsigned char *in, size_t len)
{
    if (len > SIZE_MAX / 2 - 1)
        return NULL;
    char *out = fg_arena_alloc(a, len * 2 + 1);
    if (out != NULL)
        sodium_bin2hex(out, len * 2 + 1, in, len);
    return out;
}

/* SHA-256 of in[0..len) as 64 lowercase hex chars (arena), NULL on OOM. */
char *fg_sha256_hex(fg_arena_t *a, const unsigned char *in, size_t len)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, in != NULL ? in : (const unsigned char *)"", len);
    return fg_hex_encode(a, h, sizeof h);
}

static int fg_is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

/* Percent-encodes (uppercase hex) every byte of s outside [A-Za-z0-9-._~].
 * Arena string, NULL on OOM or when s is NULL. */
char *fg_pct_encode(fg_arena_t *a, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    if (s == NULL)
        return NULL;
    size_t len = strlen(s);
    if (len > SIZE_MAX / 3 - 1)
        return NULL;
    char *out = fg_arena_alloc(a, len * 3 + 1), *p = out;
    if (out == NULL)
        return NULL;
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        if (fg_is_unreserved(*q)) {
            *p++ = (char)*q;
        } else {
            *p++ = '%';
            *p++ = hex[*q >> 4];
            *p++ = hex[*q & 15];
        }
    }
    *p = '\0';
    return out;
}

/* ------------------------------------------------------------------------ */
/* SHA-1 (FIPS 180-4), only to name Redis scripts for EVALSHA.               */

typedef struct {
    uint32_t h[5];
    uint64_t bits;
    unsigned char buf[64];
    size_t n;
} fg_sha1_t;

#define FG_ROL(x, s) (((x) << (s)) | ((x) >> (32 - (s))))

static void fg_sha1_block(uint32_t h[5], const unsigned char *p)
{
    uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = FG_ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDC;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6;
        }
        uint32_t t = FG_ROL(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = FG_ROL(b, 30);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

static void fg_sha1_update(fg_sha1_t *s, const unsigned char *p, size_t len)
{
    s->bits += (uint64_t)len * 8;
    while (len > 0) {
        size_t take = 64 - s->n < len ? 64 - s->n : len;
        memcpy(s->buf + s->n, p, take);
        s->n += take;
        p += take;
        len -= take;
        if (s->n == 64) {
            fg_sha1_block(s->h, s->buf);
            s->n = 0;
        }
    }
}

/* SHA-1 of in[0..len) as 40 lowercase hex chars + NUL in out. */
void fg_sha1_hex(const char *in, size_t len, char out[41])
{
    fg_sha1_t s = {{0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0}, 0, {0}, 0};
    unsigned char pad[72] = {0x80}, digest[20];
    uint64_t bits = (uint64_t)len * 8;
    fg_sha1_update(&s, (const unsigned char *)(in != NULL ? in : ""), len);
    size_t padlen = (s.n < 56 ? 56 : 120) - s.n;
    for (int i = 0; i < 8; i++)
        pad[padlen + i] = (unsigned char)(bits >> (56 - 8 * i));
    fg_sha1_update(&s, pad, padlen + 8);
    for (int i = 0; i < 20; i++)
        digest[i] = (unsigned char)(s.h[i / 4] >> (24 - 8 * (i % 4)));
    sodium_bin2hex(out, 41, digest, sizeof digest);
}

/* ------------------------------------------------------------------------ */
/* Randomness                                                                */

/* nbytes random bytes as base64url (arena), NULL on OOM. */
char *fg_random_token(fg_arena_t *a, size_t nbytes)
{
    unsigned char *raw = fg_arena_alloc(a, nbytes);
    if (raw == NULL)
        return NULL;
    randombytes_buf(raw, nbytes);
    char *t = fg_b64url_encode(a, raw, nbytes);
    sodium_memzero(raw, nbytes);
    return t;
}

/* n uniformly random decimal digits (arena), NULL on OOM or n < 0. */
char *fg_random_digits(fg_arena_t *a, int n)
{
    if (n < 0)
        return NULL;
    char *d = fg_arena_alloc(a, (size_t)n + 1);
    if (d == NULL)
        return NULL;
    for (int i = 0; i < n; i++)
        d[i] = (char)('0' + randombytes_uniform(10));
    return d;
}

/* ------------------------------------------------------------------------ */
/* Small string helpers                                                      */

/* ASCII case-insensitive compare of at most n bytes (stops at a common NUL).
 * Returns <0, 0, >0 like strncasecmp, independent of the locale. */
int fg_strncasecmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return x < y ? -1 : 1;
        if (x == '\0')
            return 0;
    }
    return 0;
}

/* Parses an optional '-' followed by decimal digits only (no spaces, no '+') into
 * [min,max]. Returns FG_OK with *out set, or FG_ERR_INVAL. */
int fg_parse_int(const char *s, long long min, long long max, long long *out)
{
    if (s == NULL || *s == '\0')
        return FG_ERR_INVAL;
    int neg = (*s == '-');
    const char *p = s + neg;
    if (*p == '\0')
        return FG_ERR_INVAL;
    unsigned long long v = 0, limit = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return FG_ERR_INVAL;
        unsigned d = (unsigned)(*p - '0');
        if (v > (limit - d) / 10)
            return FG_ERR_INVAL;
        v = v * 10 + d;
    }
    long long r = neg ? (v == limit ? LLONG_MIN : -(long long)v) : (long long)v;
    if (r < min || r > max)
        return FG_ERR_INVAL;
    if (out != NULL)
        *out = r;
    return FG_OK;
}

/* Length of the valid UTF-8 sequence at s (no overlongs, surrogates or > U+10FFFF), or 0. */
size_t fg_utf8_seq(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80) {
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    }
    if (s[0] >= 0xe0 && s[0] <= 0xef) {
        unsigned lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;
        return n >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        unsigned lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;
        return n >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
                       (s[3] & 0xc0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

int fg_text_ok(const char *s, size_t maxlen)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > maxlen) {
        return 0;
    }
    for (size_t i = 0; i < n;) {
        size_t k = fg_utf8_seq(p + i, n - i);
        /* C0 controls, DEL and the C1 controls U+0080-U+009F (0xC2 0x80-0x9F) */
        if (k == 0 || p[i] < 0x20 || p[i] == 0x7f || (p[i] == 0xc2 && p[i + 1] < 0xa0)) {
            return 0;
        }
        i += k;
    }
    return 1;
}
