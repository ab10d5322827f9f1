/* fuzz_arena.c - a checked arena for the fuzz builds.
 *
 * The engine's arena (shared/fg_util.c) carves small allocations out of 8 KiB blocks, so an
 * overflow from one arena string into the next is invisible to AddressSanitizer. run.sh
 * compiles fg_util.c as usual, weakens its fg_arena_new/fg_arena_alloc/fg_arena_free symbols
 * (objcopy --weaken-symbol) and links this file, whose strong definitions give every arena
 * allocation its own malloc() block (exact size, zeroed), freed with the arena. Every other
 * arena helper (strndup, printf, buffers, ...) stays the engine's own code and calls these.
 * Build with FUZZ_ARENA=engine to fuzz the engine's real arena instead.
 */
#include "fg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct fg_arena {
    void **ptrs;
    size_t n, cap;
};

fg_arena_t *fg_arena_new(void)
{
    return calloc(1, sizeof(struct fg_arena));
}

void fg_arena_free(fg_arena_t *a)
{
    if (a == NULL) {
        return;
    }
    for (size_t i = 0; i < a->n; i++) {
        free(a->ptrs[i]);
    }
    free(a->ptrs);
    free(a);
}

void *fg_arena_alloc(fg_arena_t *a, size_t n)
{
    if (a == NULL || n > SIZE_MAX / 2) {
        return NULL;
    }
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        void **p = realloc(a->ptrs, cap * sizeof(*p));
        if (p == NULL) {
            return NULL;
        }
        a->ptrs = p;
        a->cap = cap;
    }
    void *m = calloc(1, n ? n : 1);
    if (m != NULL) {
        a->ptrs[a->n++] = m;
    }
    return m;
}
