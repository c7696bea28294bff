/* test_broadcast.c -- the collapsing broadcast walker against a naive
 * per-element index computation, on random shapes and random chunkings
 * (as threads would split the output). */
#include <stdio.h>
#include <stdlib.h>

#include "engine/kernels/broadcast.h"

static int failures;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond) && failures++ < 20) {                                      \
            printf("%s:%d: ", __FILE__, __LINE__);                             \
            printf(__VA_ARGS__);                                               \
            printf("\n");                                                      \
        }                                                                      \
    } while (0)

/* The walker records, per output element, which element of each input it
 * was paired with. */
typedef struct record {
    int n_in;
    int64_t *seen[BCAST_MAX_IN];
    int64_t visits;
} record;

static void on_row(void *ctx, int64_t o, const int64_t *off, const int64_t *inner, int64_t n) {
    record *r = ctx;
    for (int k = 0; k < r->n_in; k++) {
        if (inner[k] != 0 && inner[k] != 1) r->visits = -1000000;
        for (int64_t i = 0; i < n; i++) r->seen[k][o + i] = off[k] + i * inner[k];
    }
    r->visits += n;
}

/* Element of input `in` (right-aligned, size-1 dims broadcast) that output
 * element `e` of `out` reads. */
static int64_t naive_index(const engine_shape *in, const engine_shape *out, int64_t e) {
    int64_t idx = 0, stride = 1;
    for (int d = out->rank - 1; d >= 0; d--) {
        int64_t coord = e % out->dims[d];
        e /= out->dims[d];
        int j = d - (out->rank - in->rank);
        if (j < 0) continue;
        if (in->dims[j] != 1) idx += coord * stride;
        stride *= in->dims[j];
    }
    return idx;
}

static int64_t numel(const engine_shape *s) {
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++) n *= s->dims[i];
    return n;
}

static void random_case(unsigned *seed) {
    engine_shape out = {.rank = rand_r(seed) % 6};
    for (int d = 0; d < out.rank; d++) out.dims[d] = 1 + rand_r(seed) % 4;
    int n_in = 1 + rand_r(seed) % BCAST_MAX_IN;
    engine_shape in[BCAST_MAX_IN];
    const engine_shape *ins[BCAST_MAX_IN];
    for (int k = 0; k < n_in; k++) {
        in[k].rank = out.rank - rand_r(seed) % (out.rank + 1);
        for (int j = 0; j < in[k].rank; j++) {
            int64_t od = out.dims[j + out.rank - in[k].rank];
            in[k].dims[j] = rand_r(seed) % 3 == 0 ? 1 : od;
        }
        ins[k] = &in[k];
    }
    bcast_plan p;
    CHECK(bcast_plan_init(&p, &out, ins, n_in) == 0, "plan failed");
    int64_t total = numel(&out);
    CHECK(p.numel == total, "numel %lld, want %lld", (long long)p.numel, (long long)total);

    record r = {.n_in = n_in};
    for (int k = 0; k < n_in; k++) r.seen[k] = calloc((size_t)total, sizeof(int64_t));
    /* Walk in random chunks, as threads do. */
    for (int64_t b = 0; b < total;) {
        int64_t e = b + 1 + rand_r(seed) % (total - b);
        bcast_walk(&p, b, e, on_row, &r);
        b = e;
    }
    CHECK(r.visits == total, "visited %lld of %lld", (long long)r.visits, (long long)total);
    for (int k = 0; k < n_in; k++) {
        for (int64_t e = 0; e < total; e++) {
            int64_t want = naive_index(&in[k], &out, e);
            CHECK(r.seen[k][e] == want, "input %d element %lld: %lld, want %lld", k,
                  (long long)e, (long long)r.seen[k][e], (long long)want);
        }
        free(r.seen[k]);
    }
}

/* The shapes the fast paths are for collapse as intended. */
static void collapse_cases(void) {
    engine_shape a = {4, {8, 64, 32, 32}}, bias = {3, {64, 1, 1}}, same = a, row = {1, {32}};
    const engine_shape *chan[2] = {&a, &bias}, *eq[2] = {&a, &same}, *r[2] = {&a, &row};
    bcast_plan p;
    bcast_plan_init(&p, &a, eq, 2);
    CHECK(p.rank == 1 && p.strides[1][0] == 1, "same shapes: one row");
    bcast_plan_init(&p, &a, chan, 2);
    CHECK(p.rank == 3 && p.dims[2] == 1024 && p.strides[1][2] == 0, "per-channel: scalar rows");
    bcast_plan_init(&p, &a, r, 2);
    CHECK(p.rank == 2 && p.dims[1] == 32 && p.strides[1][1] == 1 && p.strides[1][0] == 0,
          "bias row: vector rows");
    engine_shape bad = {1, {3}};
    const engine_shape *b2[2] = {&a, &bad};
    CHECK(bcast_plan_init(&p, &a, b2, 2) != 0, "mismatched dims rejected");
}

int main(void) {
    unsigned seed = 12345;
    collapse_cases();
    for (int i = 0; i < 3000; i++) random_case(&seed);
    if (failures) printf("test_broadcast: %d failures\n", failures);
    return failures != 0;
}
