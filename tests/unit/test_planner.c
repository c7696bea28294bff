/* test_planner.c -- the arena planner never overlaps live buffers, and the
 * scratch stack keeps a parent's slices valid across nested pushes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/planner.h"
#include "engine/scratch.h"

static int failures;
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                          \
        }                                                                        \
    } while (0)

static int overlap(const planner_item *a, const planner_item *b) {
    int alive = a->first <= b->last && b->first <= a->last;
    int mem = a->offset < b->offset + b->size && b->offset < a->offset + a->size;
    return alive && mem && a->size && b->size;
}

static void test_random_plans(void) {
    srand(7);
    for (int round = 0; round < 200; round++) {
        int n = 1 + rand() % 60;
        planner_item items[60];
        size_t sum = 0;
        for (int i = 0; i < n; i++) {
            int first = rand() % 40;
            items[i] = (planner_item){.size = (size_t)(rand() % 5000), .first = first,
                                      .last = first + rand() % 10};
            sum += (items[i].size + 63) & ~(size_t)63;
        }
        size_t arena = 0;
        CHECK(planner_assign(items, n, &arena) == 0);
        CHECK(arena <= sum);
        for (int i = 0; i < n; i++) {
            CHECK(items[i].offset % 64 == 0);
            CHECK(items[i].offset + items[i].size <= arena || items[i].size == 0);
            for (int j = i + 1; j < n; j++) CHECK(!overlap(&items[i], &items[j]));
        }
    }
}

static void test_chain_reuses_memory(void) {
    /* a -> b -> c -> d, each read only by the next: two buffers suffice */
    planner_item items[4];
    for (int i = 0; i < 4; i++) items[i] = (planner_item){.size = 1024, .first = i, .last = i + 1};
    size_t arena;
    CHECK(planner_assign(items, 4, &arena) == 0);
    CHECK(arena == 2048);
}

static void test_scratch_nesting(void) {
    scratch s = {0};
    for (int run = 0; run < 3; run++) {
        scratch_reset(&s);
        scratch_mark outer = scratch_push(&s);
        unsigned char *a = scratch_alloc(&s, 1000);
        CHECK(a != NULL);
        memset(a, 0xab, 1000);
        scratch_mark inner = scratch_push(&s);
        unsigned char *b = scratch_alloc(&s, 100000);
        CHECK(b != NULL && ((size_t)b % 64) == 0);
        memset(b, 0, 100000);
        scratch_pop(&s, inner);
        CHECK(a[999] == 0xab);
        scratch_pop(&s, outer);
    }
    CHECK(s.cap >= 101000); /* grew to the high-water mark: no overflow next run */
    CHECK(s.n_extra == 0);
    scratch_free(&s);
}

int main(void) {
    test_random_plans();
    test_chain_reuses_memory();
    test_scratch_nesting();
    if (failures) {
        fprintf(stderr, "test_planner: %d failures\n", failures);
        return 1;
    }
    printf("test_planner: ok\n");
    return 0;
}
