/* planner.c -- greedy by-size arena placement of activation buffers. */
#include "planner.h"

#include <stdlib.h>

#define PLAN_ALIGN 64

static size_t align_up(size_t v) { return (v + PLAN_ALIGN - 1) & ~(size_t)(PLAN_ALIGN - 1); }

/* qsort has no context argument, so sort (size, index) pairs. */
typedef struct sized {
    size_t size;
    int index;
} sized;

static int by_size_desc(const void *a, const void *b) {
    const sized *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    return x->index - y->index;
}

static int lifetimes_overlap(const planner_item *a, const planner_item *b) {
    return a->first <= b->last && b->first <= a->last;
}

/* Lowest offset at which `it` fits among the already placed items that are
 * alive at the same time. placed[] is kept sorted by offset. */
static size_t lowest_fit(const planner_item *items, const int *placed, int n_placed,
                         const planner_item *it) {
    size_t need = align_up(it->size), offset = 0;
    for (int i = 0; i < n_placed; i++) {
        const planner_item *p = &items[placed[i]];
        if (!lifetimes_overlap(p, it)) continue;
        if (p->offset >= offset + need) break;
        size_t end = p->offset + align_up(p->size);
        if (end > offset) offset = end;
    }
    return offset;
}

static void insert_by_offset(const planner_item *items, int *placed, int n_placed, int idx) {
    int j = n_placed;
    while (j > 0 && items[placed[j - 1]].offset > items[idx].offset) {
        placed[j] = placed[j - 1];
        j--;
    }
    placed[j] = idx;
}

int planner_assign(planner_item *items, int n, size_t *arena_size) {
    sized *order = malloc(sizeof(sized) * (size_t)(n ? n : 1));
    int *placed = malloc(sizeof(int) * (size_t)(n ? n : 1));
    if (!order || !placed) {
        free(order);
        free(placed);
        return -1;
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
        items[i].offset = 0;
        if (items[i].size) order[m++] = (sized){items[i].size, i};
    }
    qsort(order, (size_t)m, sizeof(sized), by_size_desc);
    size_t total = 0;
    for (int k = 0; k < m; k++) {
        planner_item *it = &items[order[k].index];
        it->offset = lowest_fit(items, placed, k, it);
        insert_by_offset(items, placed, k, order[k].index);
        size_t end = it->offset + align_up(it->size);
        if (end > total) total = end;
    }
    free(order);
    free(placed);
    *arena_size = total;
    return 0;
}
