/* fuzz_branding.c - shared/fg_page.c fg_branding_load: texts-*.txt, brand.css and logo checks,
 * then every page rendered with the loaded branding.
 *
 * Input: a sequence of files, each: one byte picking the name (see `files` below), two bytes
 * big-endian length, then the content. The harness writes them into a private temp directory
 * (emptied first) and loads it. Invariants: load returns a branding or NULL with a
 * "branding_dir: ..." message; with a loaded branding every page renders (both languages) and
 * the static assets are readable for their full length.
 */
#include "fuzz_common.h"

#include <dirent.h>
#include <sys/stat.h>

static char dir[64];
static const char *const files[] = {"texts-de.txt", "texts-en.txt", "brand.css", "logo.svg",
                                    "logo.png",     "README.md",    ".hidden",   "Logo.SVG"};
#define NFILES (sizeof(files) / sizeof(files[0]))

static void empty_dir(void)
{
    for (size_t i = 0; i < NFILES; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
}

__attribute__((destructor)) static void cleanup(void)
{
    if (dir[0] != '\0') {
        empty_dir();
        rmdir(dir);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fg_init();
    fz_sweep_stale();
    snprintf(dir, sizeof dir, "/tmp/fgfuzz-brand-%ld-XXXXXX", (long)getpid());
    if (mkdtemp(dir) == NULL) {
        abort();
    }
    return 0;
}

static void render_all(fg_arena_t *a, const fg_branding_t *b)
{
    for (int en = 0; en < 2; en++) {
        for (int page = FG_PAGE_LOGIN; page <= FG_PAGE_ERROR; page++) {
            fg_page_args_t g;
            memset(&g, 0, sizeof g);
            g.lang = en ? "en" : "de";
            g.lang_param = en ? "en" : NULL;
            g.prefix = "/freigabe";
            g.brand = b;
            g.csrf = "csrf";
            g.rd = "/portal/";
            g.error = page == FG_PAGE_LOGIN ? "login_failed" : NULL;
            g.code = "123456";
            g.expires_in = 90;
            g.interval = 2;
            g.total = 120;
            g.status = "authorization_pending";
            g.refresh = 3;
            g.message_key = "unavailable";
            char *html = fg_page_render(a, (fg_page_t)page, &g);
            if (html == NULL || strncmp(html, "<!DOCTYPE html>", 15) != 0) {
                abort();
            }
        }
    }
    static const char *const subs[] = {"/static/logo.svg", "/static/logo.png", "/static/brand.css",
                                       "/static/freigabe.js", ""};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        const char *body = NULL, *ctype = NULL;
        size_t len = 0;
        if (fg_branding_asset(b, subs[i], &body, &len, &ctype)) {
            fz_touch_mem(body, len);
            fz_touch(ctype);
        }
    }
    fz_touch(fg_page_text(b, "en", "brand_name"));
    fz_touch(fg_page_text(b, "de", "footer_text"));
    fz_touch(fg_page_text(b, "xx", "no_such_key"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_t f;
    char err[512];

    fz_init(&f, data, size);
    empty_dir();
    for (int i = 0; i < 4 && f.n > 0; i++) {
        uint8_t which = fz_u8(&f);
        size_t len = (size_t)fz_u8(&f) << 8;
        len |= fz_u8(&f);
        size_t got;
        const char *content = fz_bytes(&f, len, &got);
        char p[128];
        snprintf(p, sizeof p, "%s/%s", dir, files[which % NFILES]);
        FILE *fp = fopen(p, "wb");
        if (fp == NULL) {
            abort();
        }
        if (got > 0 && fwrite(content, 1, got, fp) != got) {
            abort();
        }
        fclose(fp);
    }
    memset(err, 'x', sizeof err);
    fg_branding_t *b = fg_branding_load(dir, err, sizeof err);
    if (b != NULL) {
        fg_arena_t *a = fg_arena_new();
        render_all(a, b);
        fg_arena_free(a);
        fg_branding_free(b);
    } else if (memchr(err, '\0', sizeof err) == NULL || strncmp(err, "branding_dir: ", 14) != 0) {
        abort();
    }
    fz_free_all(&f);
    return 0;
}
