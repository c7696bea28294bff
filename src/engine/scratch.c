/* scratch.c -- stack-like scratch memory (see scratch.h). */
#include "scratch.h"

#include <stdlib.h>

#define SCRATCH_ALIGN 64

static size_t align_up(size_t v) { return (v + SCRATCH_ALIGN - 1) & ~(size_t)(SCRATCH_ALIGN - 1); }

scratch_mark scratch_push(const scratch *s) {
    return (scratch_mark){s->used, s->n_extra, s->extra_bytes};
}

void scratch_pop(scratch *s, scratch_mark m) {
    while (s->n_extra > m.n_extra) free(s->extra[--s->n_extra]);
    s->used = m.used;
    s->extra_bytes = m.extra_bytes;
}

static void *scratch_overflow(scratch *s, size_t bytes) {
    if (s->n_extra == s->cap_extra) {
        int cap = s->cap_extra ? s->cap_extra * 2 : 8;
        void **e = realloc(s->extra, sizeof(void *) * (size_t)cap);
        if (!e) return NULL;
        s->extra = e;
        s->cap_extra = cap;
    }
    void *p = aligned_alloc(SCRATCH_ALIGN, bytes);
    if (!p) return NULL;
    s->extra[s->n_extra++] = p;
    s->extra_bytes += bytes;
    return p;
}

void *scratch_alloc(scratch *s, size_t bytes) {
    bytes = align_up(bytes ? bytes : 1);
    void *p;
    if (s->used + bytes <= s->cap) {
        p = s->base + s->used;
        s->used += bytes;
    } else {
        p = scratch_overflow(s, bytes);
        if (!p) return NULL;
    }
    size_t total = s->used + s->extra_bytes;
    if (total > s->high_water) s->high_water = total;
    return p;
}

void scratch_reset(scratch *s) {
    scratch_pop(s, (scratch_mark){0, 0, 0});
    if (s->high_water <= s->cap) return;
    void *p = aligned_alloc(SCRATCH_ALIGN, align_up(s->high_water));
    if (!p) return; /* keep the old block; overflow covers the rest */
    free(s->base);
    s->base = p;
    s->cap = align_up(s->high_water);
}

void scratch_free(scratch *s) {
    if (!s) return;
    scratch_pop(s, (scratch_mark){0, 0, 0});
    free(s->extra);
    free(s->base);
    *s = (scratch){0};
}
