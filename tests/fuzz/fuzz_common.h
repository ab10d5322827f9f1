/* fuzz_common.h - small helpers shared by the libFuzzer targets in tests/fuzz/.
 *
 * Input splitting: most targets read "fields" from the fuzzer's bytes. fz_field() returns the
 * bytes up to the next '\n' (or the rest of the input for the last field) as a malloc'd,
 * NUL-terminated copy that fz_free_all() releases; embedded NULs simply shorten the C string,
 * as they would for a header a server hands to the engine.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include "fg_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <unistd.h>

/* UB is fatal (so libFuzzer keeps the input) and comes with a stack trace. run.sh adds the
 * known-findings suppressions (ubsan.supp) through UBSAN_OPTIONS. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}

typedef struct {
    const uint8_t *p;
    size_t n;
    void *owned[1024];
    size_t nowned;
} fz_t;

static inline void fz_init(fz_t *f, const uint8_t *data, size_t size)
{
    f->p = data;
    f->n = size;
    f->nowned = 0;
}

static inline void *fz_keep(fz_t *f, void *ptr)
{
    if (ptr != NULL && f->nowned < sizeof(f->owned) / sizeof(f->owned[0])) {
        f->owned[f->nowned++] = ptr;
        return ptr;
    }
    free(ptr);
    return NULL;
}

static inline void fz_free_all(fz_t *f)
{
    for (size_t i = 0; i < f->nowned; i++) {
        free(f->owned[i]);
    }
    f->nowned = 0;
}

static inline uint8_t fz_u8(fz_t *f)
{
    if (f->n == 0) {
        return 0;
    }
    f->n--;
    return *f->p++;
}

static inline uint32_t fz_u32(fz_t *f)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        v = (v << 8) | fz_u8(f);
    }
    return v;
}

/* Exactly `len` bytes (fewer at the end of input) as a malloc'd copy WITHOUT a trailing NUL
 * (for length-based APIs: an over-read past it is an ASan error). */
static inline const char *fz_bytes(fz_t *f, size_t len, size_t *outlen)
{
    if (len > f->n) {
        len = f->n;
    }
    char *c = fz_keep(f, malloc(len ? len : 1));
    if (c == NULL) {
        *outlen = 0;
        return "";
    }
    memcpy(c, f->p, len);
    f->p += len;
    f->n -= len;
    *outlen = len;
    return c;
}

/* Up to the next '\n' (consumed) or the end; NUL-terminated copy. */
static inline const char *fz_field(fz_t *f)
{
    const uint8_t *nl = memchr(f->p, '\n', f->n);
    size_t len = nl != NULL ? (size_t)(nl - f->p) : f->n;
    char *c = fz_keep(f, malloc(len + 1));
    if (c == NULL) {
        return "";
    }
    memcpy(c, f->p, len);
    c[len] = '\0';
    f->p += len + (nl != NULL);
    f->n -= len + (nl != NULL);
    return c;
}

/* The rest of the input as a NUL-terminated string. */
static inline const char *fz_rest(fz_t *f)
{
    char *c = fz_keep(f, malloc(f->n + 1));
    if (c == NULL) {
        return "";
    }
    memcpy(c, f->p, f->n);
    c[f->n] = '\0';
    f->p += f->n;
    f->n = 0;
    return c;
}

/* A field, or NULL when it is exactly "-" (lets one input express "header absent"). */
static inline const char *fz_field_or_null(fz_t *f)
{
    const char *s = fz_field(f);
    return strcmp(s, "-") == 0 ? NULL : s;
}

/* Reads every byte of s (lets ASan see a dangling or unterminated result). */
static inline size_t fz_touch(const char *s)
{
    return s != NULL ? strlen(s) : 0;
}

static inline void fz_touch_mem(const void *p, size_t n)
{
    volatile unsigned char acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc ^= ((const unsigned char *)p)[i];
    }
    (void)acc;
}

/* Removes /tmp/fgfuzz-<what>-<pid>-* files and directories left behind by harness processes
 * that died (a crash skips their clean-up); live processes' files are left alone. */
static inline void fz_sweep_stale(void)
{
    DIR *d = opendir("/tmp");
    struct dirent *de;
    if (d == NULL) {
        return;
    }
    while ((de = readdir(d)) != NULL) {
        const char *dash;
        char path[512];
        long pid;
        if (strncmp(de->d_name, "fgfuzz-", 7) != 0 || (dash = strchr(de->d_name + 7, '-')) == NULL) {
            continue;
        }
        pid = strtol(dash + 1, NULL, 10);
        if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) {
            continue;
        }
        snprintf(path, sizeof path, "/tmp/%s", de->d_name);
        DIR *sub = opendir(path);
        if (sub != NULL) {
            struct dirent *e;
            while ((e = readdir(sub)) != NULL) {
                char f[1024];
                if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                    snprintf(f, sizeof f, "%s/%s", path, e->d_name);
                    unlink(f);
                }
            }
            closedir(sub);
            rmdir(path);
        } else {
            unlink(path);
        }
    }
    closedir(d);
}

/* A key file with two fixed keys ("k1" active, "k0" old) in a private temp file; returns its
 * path (static). Deterministic keys make crashes reproducible across runs. */
static inline const char *fz_keyfile(void)
{
    static char path[64];
    if (path[0] != '\0') {
        return path;
    }
    fz_sweep_stale();
    snprintf(path, sizeof path, "/tmp/fgfuzz-key-%ld-XXXXXX", (long)getpid());
    int fd = mkstemp(path);
    if (fd < 0) {
        abort();
    }
    const char *text = "# freigabe key file v1\n"
                       "key k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n"
                       "key k0 ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8\n";
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        abort();
    }
    close(fd);
    return path;
}

static inline void fz_unlink_keyfile(void)
{
    unlink(fz_keyfile());
}

/* A finalized configuration (cheap Argon2id limits) using fz_keyfile(). extra: optional
 * NULL-terminated name/value pairs applied before finalize. Aborts on failure. */
static inline fg_config_t *fz_config(const char *const *extra)
{
    char err[512];
    fg_config_t *c = fg_config_new();
    if (c == NULL || fg_config_set(c, "key_file", fz_keyfile(), err, sizeof err) != FG_OK ||
        fg_config_set(c, "argon2_ops", "1", err, sizeof err) != FG_OK ||
        fg_config_set(c, "argon2_mem", "8k", err, sizeof err) != FG_OK) {
        fprintf(stderr, "fuzz config: %s\n", err);
        abort();
    }
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i += 2) {
        if (fg_config_set(c, extra[i], extra[i + 1], err, sizeof err) != FG_OK) {
            fprintf(stderr, "fuzz config %s: %s\n", extra[i], err);
            abort();
        }
    }
    if (fg_config_finalize(c, err, sizeof err) != FG_OK) {
        fprintf(stderr, "fuzz config finalize: %s\n", err);
        abort();
    }
    return c;
}

#endif
