/* model_arena.h -- a grow-only allocator for everything a loaded model owns.
 *
 * A model is built once and freed once, so its graph (values, nodes,
 * attributes, names) and its converted weights come from one arena and go in
 * one call: no per-object frees, no leaks on the loader's many error paths.
 * Memory is zeroed. Large requests get a block of their own, so a 100 MB
 * weight copy does not waste a half-used chunk.
 *
 *     model_arena a = {0};
 *     float *w = model_arena_alloc(&a, n * sizeof *w, 64);
 *     char *name = model_arena_strndup(&a, bytes, len);
 *     if (!w || !name) ... out of memory ...
 *     model_arena_free(&a);
 */
#ifndef INFERD_MODEL_ARENA_H
#define INFERD_MODEL_ARENA_H

#include <stddef.h>

struct model_arena_block;

typedef struct model_arena {
    struct model_arena_block *head; /* the block `cur` points into first */
    unsigned char *cur;             /* free space in the head block */
    size_t left;
    size_t total;                   /* bytes requested so far */
} model_arena;

/* Zeroed memory aligned to `align` (a power of two <= 4096), or NULL when
 * memory runs out or size overflows. size 0 yields a valid unique pointer. */
void *model_arena_alloc(model_arena *a, size_t size, size_t align);
/* Array of n elements of `size` bytes, overflow-checked. */
void *model_arena_array(model_arena *a, size_t n, size_t size, size_t align);
/* NUL-terminated copy of s[0..len). */
char *model_arena_strndup(model_arena *a, const void *s, size_t len);
/* Frees every block. The arena may be reused afterwards. Accepts NULL. */
void model_arena_free(model_arena *a);

#endif
