/* model_arena.c -- chunked bump allocator for a model's lifetime. */
#include "model_arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define ARENA_CHUNK (64 * 1024)
/* Requests above this get their own block instead of ending a chunk early. */
#define ARENA_BIG (ARENA_CHUNK / 4)
/* Blocks this large are mapped from the OS directly (see block_new). */
#define ARENA_MAP (1024 * 1024)

typedef struct model_arena_block {
    struct model_arena_block *next;
    size_t mapped;     /* bytes of an mmap'd block; 0 when calloc'd */
    max_align_t pad[]; /* data follows, aligned for any scalar */
} model_arena_block;

/* Fresh pages from the OS are already zero, so big weight blocks are not
 * touched twice. Big blocks are mapped here rather than left to malloc
 * because unloading a model must give its memory back at once: malloc
 * keeps freed memory whenever it likes (glibc below its moving mmap
 * threshold; ASan's quarantine holds up to 256 MB, which kept a 200 MB
 * model's packed weights resident after unload in test_reload.py). */
static model_arena_block *block_new(size_t data_bytes) {
    if (data_bytes > SIZE_MAX - sizeof(model_arena_block)) return NULL;
    size_t bytes = sizeof(model_arena_block) + data_bytes;
    if (bytes < ARENA_MAP) return calloc(1, bytes);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    model_arena_block *b = p;
    b->mapped = bytes;
    return b;
}

static void block_free(model_arena_block *b) {
    if (b->mapped) munmap(b, b->mapped);
    else free(b);
}

static unsigned char *align_up(unsigned char *p, size_t align) {
    uintptr_t u = (uintptr_t)p;
    return p + ((align - (u & (align - 1))) & (align - 1));
}

void *model_arena_alloc(model_arena *a, size_t size, size_t align) {
    if (align == 0) align = 1;
    if ((align & (align - 1)) || align > 4096) return NULL;
    if (size == 0) size = 1;
    if (size > SIZE_MAX - align) return NULL;
    a->total += size;
    if (a->head) {
        unsigned char *p = align_up(a->cur, align);
        size_t waste = (size_t)(p - a->cur);
        if (waste <= a->left && size <= a->left - waste) {
            a->cur = p + size;
            a->left -= waste + size;
            return p;
        }
    }
    if (size + align > ARENA_BIG) {
        /* Dedicated block, linked behind the head so the head keeps serving. */
        model_arena_block *b = block_new(size + align);
        if (!b) return NULL;
        if (a->head) {
            b->next = a->head->next;
            a->head->next = b;
        } else {
            a->head = b;
            a->cur = (unsigned char *)(b + 1) + size + align;
            a->left = 0;
        }
        return align_up((unsigned char *)(b + 1), align);
    }
    model_arena_block *b = block_new(ARENA_CHUNK);
    if (!b) return NULL;
    b->next = a->head;
    a->head = b;
    unsigned char *p = align_up((unsigned char *)(b + 1), align);
    size_t waste = (size_t)(p - (unsigned char *)(b + 1));
    a->cur = p + size;
    a->left = ARENA_CHUNK - waste - size;
    return p;
}

void *model_arena_array(model_arena *a, size_t n, size_t size, size_t align) {
    if (size && n > SIZE_MAX / size) return NULL;
    return model_arena_alloc(a, n * size, align);
}

char *model_arena_strndup(model_arena *a, const void *s, size_t len) {
    if (len == SIZE_MAX) return NULL;
    char *d = model_arena_alloc(a, len + 1, 1);
    if (!d) return NULL;
    if (len) memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

void model_arena_free(model_arena *a) {
    if (!a) return;
    model_arena_block *b = a->head;
    while (b) {
        model_arena_block *next = b->next;
        block_free(b);
        b = next;
    }
    memset(a, 0, sizeof *a);
}
