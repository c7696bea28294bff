/* mm_plan.c -- numpy matmul shapes and batch offsets. */
#include "mm_plan.h"

#include <stdio.h>
#include <string.h>

#include "../shape.h"

int mm_plan_make(const engine_shape *a, const engine_shape *b, mm_plan *p, char *why,
                 size_t len) {
    char sa[128], sb[128];
    memset(p, 0, sizeof *p);
    if (a->rank < 1 || b->rank < 1) {
        snprintf(why, len, "MatMul operands must have rank >= 1, got %s and %s",
                 shape_format(a, sa, sizeof sa), shape_format(b, sb, sizeof sb));
        return -1;
    }
    /* 1-D operands: A [K] is [1, K], B [K] is [K, 1]; the dim goes away. */
    int64_t m = a->rank == 1 ? 1 : a->dims[a->rank - 2];
    int64_t ka = a->dims[a->rank - 1];
    int64_t kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
    int64_t n = b->rank == 1 ? 1 : b->dims[b->rank - 1];
    if (ka != kb) {
        snprintf(why, len, "MatMul inner dimensions differ: %s times %s",
                 shape_format(a, sa, sizeof sa), shape_format(b, sb, sizeof sb));
        return -1;
    }
    engine_shape ab = {.rank = a->rank > 2 ? a->rank - 2 : 0};
    engine_shape bb = {.rank = b->rank > 2 ? b->rank - 2 : 0};
    memcpy(ab.dims, a->dims, sizeof(int64_t) * (size_t)ab.rank);
    memcpy(bb.dims, b->dims, sizeof(int64_t) * (size_t)bb.rank);
    if (shape_broadcast(&ab, &bb, &p->batch)) {
        snprintf(why, len, "MatMul batch dimensions do not broadcast: %s and %s",
                 shape_format(a, sa, sizeof sa), shape_format(b, sb, sizeof sb));
        return -1;
    }
    p->m = m, p->n = n, p->k = ka;
    p->batches = engine_shape_numel(&p->batch);
    shape_broadcast_strides(&ab, &p->batch, p->a_stride);
    shape_broadcast_strides(&bb, &p->batch, p->b_stride);
    for (int d = 0; d < p->batch.rank; d++) p->a_stride[d] *= m * ka, p->b_stride[d] *= ka * n;
    p->out = p->batch;
    if (a->rank > 1) p->out.dims[p->out.rank++] = m;
    if (b->rank > 1) p->out.dims[p->out.rank++] = n;
    /* A [..., M, K] times B [K, N]: A's batches are consecutive rows. */
    p->a_flat = bb.rank == 0 && shape_equal(&ab, &p->batch);
    return 0;
}

void mm_plan_offsets(const mm_plan *p, int64_t i, int64_t *a_off, int64_t *b_off) {
    int64_t ao = 0, bo = 0;
    for (int d = p->batch.rank - 1; d >= 0; d--) {
        int64_t idx = i % p->batch.dims[d];
        i /= p->batch.dims[d];
        ao += idx * p->a_stride[d];
        bo += idx * p->b_stride[d];
    }
    *a_off = ao;
    *b_off = bo;
}
