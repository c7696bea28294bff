/* mm_plan.h -- numpy matmul shape rules, shared by MatMul, MatMulInteger and
 * QLinearMatMul: 1-D operands, broadcast batch dimensions, and the offsets of
 * each batch's A and B matrices.
 *
 *     mm_plan p;
 *     if (mm_plan_make(&a->shape, &b->shape, &p, why, sizeof why)) fail(why);
 *     exec_output(x, 0, dt, &p.out, &y);
 *     for (int64_t i = 0; i < p.batches; i++) {
 *         int64_t ao, bo;
 *         mm_plan_offsets(&p, i, &ao, &bo);   // in elements
 *         ... C[i] (p.m x p.n) = A[ao] (p.m x p.k) * B[bo] (p.k x p.n) ...
 *     }
 */
#ifndef INFERD_MM_PLAN_H
#define INFERD_MM_PLAN_H

#include <stddef.h>

#include "../engine.h"

typedef struct mm_plan {
    int64_t m, n, k;
    int64_t batches;                     /* product of the broadcast batch dims */
    engine_shape out;                    /* result shape */
    engine_shape batch;                  /* broadcast batch dims */
    int64_t a_stride[ENGINE_MAX_RANK];   /* per batch dim, in elements; 0 = broadcast */
    int64_t b_stride[ENGINE_MAX_RANK];
    int a_flat;                          /* B has no batch dims: A's batches fold into M */
} mm_plan;

/* Returns 0, or -1 with the reason in why. */
int mm_plan_make(const engine_shape *a, const engine_shape *b, mm_plan *p, char *why,
                 size_t len);

/* Element offsets of batch i's A and B matrices. */
void mm_plan_offsets(const mm_plan *p, int64_t i, int64_t *a_off, int64_t *b_off);

#endif
