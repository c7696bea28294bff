/* kernel_test.h -- what the oneDNN kernel tests (test_dnnl_conv.c,
 * test_dnnl_matmul.c) share: a seeded xorshift for random geometries and
 * values, and a scratch allocator standing in for the executor's.
 *
 *     kt_rng = 0x2545F4914F6CDD1Dull;      (optional: another sequence)
 *     int64_t k = rnd(1, 200);
 *     fill(w, k * n);
 *     scratch_list sl = {0};
 *     st = dnnl_mm_run(mm, m, a, NULL, y, 1, scratch, &sl, why, sizeof why);
 *     scratch_free(&sl);
 */
#ifndef INFERD_KERNEL_TEST_H
#define INFERD_KERNEL_TEST_H

#include <stdint.h>
#include <stdlib.h>

static uint64_t kt_rng = 0x9E3779B97F4A7C15ull;

static inline int64_t rnd(int64_t lo, int64_t hi) { /* inclusive */
    kt_rng ^= kt_rng << 13;
    kt_rng ^= kt_rng >> 7;
    kt_rng ^= kt_rng << 17;
    return lo + (int64_t)(kt_rng % (uint64_t)(hi - lo + 1));
}

/* Values in [-1, 1] on a 1/1000 grid. */
static inline void fill(float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++) v[i] = (float)rnd(-1000, 1000) / 1000.0f;
}

/* Scratch for one run: a list of blocks freed afterwards. */
typedef struct scratch_list {
    void *p[8];
    int n;
} scratch_list;

static inline void *scratch(void *ctx, size_t bytes) {
    scratch_list *l = ctx;
    if (l->n == 8) return NULL;
    return l->p[l->n++] = aligned_alloc(64, (bytes + 63) / 64 * 64);
}

static inline void scratch_free(scratch_list *l) {
    while (l->n) free(l->p[--l->n]);
}

#endif
