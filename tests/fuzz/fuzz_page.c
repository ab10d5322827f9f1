/* fuzz_page.c - shared/fg_page.c fg_page_render: the HTML templates with hostile arguments.
 *
 * Input: selector byte (page = sel % 5; bit 7: lang "en"), four 4-byte ints (expires_in,
 * interval, total, refresh), then '\n'-separated fields ("-" = NULL): lang_param, prefix, csrf,
 * rd, customer, error, code, status, title_key, message_key, link_href, link_key.
 * Invariant: no argument can inject markup: the marker "<x-fz" never appears raw in a page
 * (seeds carry it in every field), and every page is a complete document.
 */
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fg_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_t f;
    fg_page_args_t g;

    if (size < 1) {
        return 0;
    }
    fz_init(&f, data, size);
    uint8_t sel = fz_u8(&f);
    memset(&g, 0, sizeof g);
    g.lang = (sel & 0x80) ? "en" : "de";
    g.expires_in = (int)fz_u32(&f);
    g.interval = (int)fz_u32(&f);
    g.total = (int)fz_u32(&f);
    g.refresh = (int)fz_u32(&f);
    g.lang_param = fz_field_or_null(&f);
    g.prefix = fz_field_or_null(&f);
    g.csrf = fz_field_or_null(&f);
    g.rd = fz_field_or_null(&f);
    g.customer = fz_field_or_null(&f);
    g.error = fz_field_or_null(&f);
    g.code = fz_field_or_null(&f);
    g.status = fz_field_or_null(&f);
    g.title_key = fz_field_or_null(&f);
    g.message_key = fz_field_or_null(&f);
    g.link_href = fz_field_or_null(&f);
    g.link_key = fz_field_or_null(&f);

    fg_arena_t *a = fg_arena_new();
    char *html = fg_page_render(a, (fg_page_t)(sel % 5), &g);
    if (html == NULL || strncmp(html, "<!DOCTYPE html>", 15) != 0 ||
        strstr(html, "</html>\n") == NULL) {
        abort();
    }
    if (strstr(html, "<x-fz") != NULL) {
        fprintf(stderr, "markup injected:\n%s\n", html);
        abort();
    }
    fz_touch(fg_msg(g.lang, g.error));
    fz_touch(fg_page_text(NULL, g.lang_param, g.message_key));
    fg_arena_free(a);
    fz_free_all(&f);
    return 0;
}
