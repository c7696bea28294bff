/* grpc_arena.c -- chunked bump allocation for messages being built. */
#include "grpc_arena.h"

#include <stdarg.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_BYTES 4096

struct rpc_arena_chunk {
    rpc_arena_chunk *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
};

static size_t round_up(size_t n) {
    size_t a = alignof(max_align_t);
    return (n + a - 1) / a * a;
}

void *rpc_arena_alloc(rpc_arena *a, size_t n) {
    if (n > SIZE_MAX - sizeof(rpc_arena_chunk) - alignof(max_align_t)) return NULL;
    n = round_up(n ? n : 1);
    rpc_arena_chunk *c = a->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK_BYTES / 2 ? n : CHUNK_BYTES;
        rpc_arena_chunk *fresh = malloc(sizeof *fresh + cap);
        if (!fresh) return NULL;
        fresh->used = 0;
        fresh->cap = cap;
        /* A chunk of its own for a large block goes behind the current one,
         * which keeps serving small allocations. */
        if (c && cap > CHUNK_BYTES) {
            fresh->next = c->next;
            c->next = fresh;
        } else {
            fresh->next = c;
            a->chunks = fresh;
        }
        c = fresh;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *rpc_arena_printf(rpc_arena *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *s = rpc_arena_alloc(a, (size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void rpc_arena_free(rpc_arena *a) {
    while (a->chunks) {
        rpc_arena_chunk *c = a->chunks;
        a->chunks = c->next;
        free(c);
    }
}
