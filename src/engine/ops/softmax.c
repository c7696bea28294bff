/* softmax.c -- Softmax, LogSoftmax, Hardmax.
 *
 * Before opset 13 these flatten the input to 2-D at `axis` (default 1) and
 * work on whole rows; from 13 they work along the one axis (default -1).
 * Both become [O, R, K]: O independent groups, R the reduced extent, K the
 * stride between its elements (K == 1 for rows, the common case, where max,
 * exp-and-sum and scale are three vectorized passes over contiguous memory;
 * K > 1 runs the same passes on rows of K lanes). Float uses vmath's
 * vectorizable exp; float16/bfloat16 compute in float. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../dtype.h"
#include "../kernels/convert.h"
#include "../kernels/vmath.h"
#include "../op.h"
#include "../shape.h"
#include "ew_run.h"

typedef enum smax_kind { SMAX_SOFT, SMAX_LOG, SMAX_HARD } smax_kind;

/* One group: x, y point at [R, K]; mx and sum are K lanes of scratch.
 * Declared with ATTR. */
#define SOFTMAX_FNS(ATTR, S, T, EXP, LOG, LOWEST)                              \
    ATTR static void rows_##S(smax_kind kind, const T *x, T *y, int64_t R) {        \
        T m = LOWEST, s = 0;                                                   \
        VM_SIMD_REDUCE(max, m)                                                 \
        for (int64_t r = 0; r < R; r++) m = x[r] > m ? x[r] : m;               \
        if (kind == SMAX_SOFT) {                                               \
            VM_SIMD_REDUCE(+, s)                                               \
            for (int64_t r = 0; r < R; r++) {                                  \
                T e = EXP(x[r] - m);                                           \
                y[r] = e;                                                      \
                s += e;                                                        \
            }                                                                  \
            T inv = 1 / s;                                                     \
            VM_SIMD for (int64_t r = 0; r < R; r++) y[r] *= inv;               \
        } else {                                                               \
            VM_SIMD_REDUCE(+, s)                                               \
            for (int64_t r = 0; r < R; r++) s += EXP(x[r] - m);                \
            T l = LOG(s);                                                      \
            VM_SIMD for (int64_t r = 0; r < R; r++) y[r] = (x[r] - m) - l;     \
        }                                                                      \
    }                                                                          \
    ATTR static void cols_##S(smax_kind kind, const T *x, T *y, int64_t R, int64_t K, \
                         T *mx, T *sum) {                                      \
        for (int64_t k = 0; k < K; k++) mx[k] = LOWEST, sum[k] = 0;            \
        for (int64_t r = 0; r < R; r++) {                                      \
            const T *xr = x + r * K;                                           \
            VM_SIMD for (int64_t k = 0; k < K; k++) mx[k] = xr[k] > mx[k] ? xr[k] : mx[k]; \
        }                                                                      \
        for (int64_t r = 0; r < R; r++) {                                      \
            const T *xr = x + r * K;                                           \
            T *yr = y + r * K;                                                 \
            if (kind == SMAX_SOFT) {                                           \
                VM_SIMD for (int64_t k = 0; k < K; k++) {                      \
                    T e = EXP(xr[k] - mx[k]);                                  \
                    yr[k] = e;                                                 \
                    sum[k] += e;                                               \
                }                                                              \
            } else {                                                           \
                VM_SIMD for (int64_t k = 0; k < K; k++) sum[k] += EXP(xr[k] - mx[k]); \
            }                                                                  \
        }                                                                      \
        if (kind == SMAX_SOFT) {                                               \
            for (int64_t k = 0; k < K; k++) sum[k] = 1 / sum[k];               \
            for (int64_t r = 0; r < R; r++) {                                  \
                T *yr = y + r * K;                                             \
                VM_SIMD for (int64_t k = 0; k < K; k++) yr[k] *= sum[k];       \
            }                                                                  \
        } else {                                                               \
            for (int64_t k = 0; k < K; k++) sum[k] = LOG(sum[k]);              \
            for (int64_t r = 0; r < R; r++) {                                  \
                const T *xr = x + r * K;                                       \
                T *yr = y + r * K;                                             \
                VM_SIMD for (int64_t k = 0; k < K; k++) yr[k] = (xr[k] - mx[k]) - sum[k]; \
            }                                                                  \
        }                                                                      \
    }                                                                          \
    /* 1 at the first maximum of each lane, 0 elsewhere. */                    \
    static void hard_##S(const T *x, T *y, int64_t R, int64_t K) {             \
        for (int64_t k = 0; k < K; k++) {                                      \
            int64_t best = 0;                                                  \
            for (int64_t r = 1; r < R; r++)                                    \
                if (x[r * K + k] > x[best * K + k]) best = r;                  \
            for (int64_t r = 0; r < R; r++) y[r * K + k] = r == best;          \
        }                                                                      \
    }

static float logf_(float v) { return logf(v); }
/* Float gets AVX2/AVX-512 clones (vmath.h). */
SOFTMAX_FNS(VM_TARGET_CLONES, f32, float, vm_expf, logf_, -HUGE_VALF)
SOFTMAX_FNS(, f64, double, exp, log, -HUGE_VAL)

typedef struct smax_job {
    smax_kind kind;
    engine_dtype ct;
    int64_t R, K;
    const void *x;
    void *y;
    void *lanes;        /* 2 * K compute-type elements per group (K > 1) */
} smax_job;

static void smax_chunk(void *ctx, int64_t begin, int64_t end) {
    const smax_job *j = ctx;
    size_t esize = engine_dtype_size(j->ct);
    int64_t group = j->R * j->K;
    for (int64_t o = begin; o < end; o++) {
        const char *x = (const char *)j->x + o * group * (int64_t)esize;
        char *y = (char *)j->y + o * group * (int64_t)esize;
        char *lanes = j->lanes ? (char *)j->lanes + o * 2 * j->K * (int64_t)esize : NULL;
        if (j->ct == ENGINE_FLOAT) {
            if (j->kind == SMAX_HARD) hard_f32((const float *)x, (float *)y, j->R, j->K);
            else if (j->K == 1) rows_f32(j->kind, (const float *)x, (float *)y, j->R);
            else cols_f32(j->kind, (const float *)x, (float *)y, j->R, j->K, (float *)lanes,
                          (float *)lanes + j->K);
        } else {
            if (j->kind == SMAX_HARD) hard_f64((const double *)x, (double *)y, j->R, j->K);
            else if (j->K == 1) rows_f64(j->kind, (const double *)x, (double *)y, j->R);
            else cols_f64(j->kind, (const double *)x, (double *)y, j->R, j->K,
                          (double *)lanes, (double *)lanes + j->K);
        }
    }
}

static smax_kind smax_kind_of(const node *n) {
    if (strcmp(n->op_type, "LogSoftmax") == 0) return SMAX_LOG;
    if (strcmp(n->op_type, "Hardmax") == 0) return SMAX_HARD;
    return SMAX_SOFT;
}

static status smax_run(const node *n, exec_ctx *x) {
    const engine_tensor *a = exec_input(x, 0);
    if (!a) return exec_fail(x, STATUS_INVALID_ARGUMENT, "missing input");
    int rank = a->shape.rank;
    int64_t axis_attr = node_attr_int(n, "axis", n->opset < 13 ? 1 : -1);
    /* A scalar behaves as [1]. */
    engine_shape shape = a->shape;
    if (rank == 0) shape.rank = 1, shape.dims[0] = 1, rank = 1;
    int axis = shape_normalize_axis(axis_attr, rank);
    if (axis < 0)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                         (long long)axis_attr, rank);
    smax_job j = {.kind = smax_kind_of(n)};
    int64_t O = shape_span(&shape, 0, axis);
    if (n->opset < 13) {
        j.R = shape_span(&shape, axis, rank);
        j.K = 1;
    } else {
        j.R = shape.dims[axis];
        j.K = shape_span(&shape, axis + 1, rank);
    }
    engine_tensor *y;
    status st = exec_output(x, 0, a->dtype, &a->shape, &y);
    if (st) return st;
    int64_t numel = engine_shape_numel(&a->shape);
    if (numel == 0) return STATUS_OK;

    j.ct = a->dtype == ENGINE_DOUBLE ? ENGINE_DOUBLE : ENGINE_FLOAT;
    size_t esize = engine_dtype_size(j.ct);
    j.x = a->data;
    j.y = y->data;
    if (a->dtype != j.ct) {
        void *xs = exec_scratch(x, (size_t)numel * esize);
        void *ys = exec_scratch(x, (size_t)numel * esize);
        if (!xs || !ys) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
        convert_get(a->dtype, j.ct)(a->data, xs, numel);
        j.x = xs;
        j.y = ys;
    }
    if (j.K > 1 && j.kind != SMAX_HARD &&
        !(j.lanes = exec_scratch(x, (size_t)(O * 2 * j.K) * esize)))
        return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    int64_t grain = EW_GRAIN_COSTLY / (j.R * j.K) > 0 ? EW_GRAIN_COSTLY / (j.R * j.K) : 1;
    ew_parallel(x, O, grain, smax_chunk, &j);
    if (a->dtype != j.ct) convert_get(j.ct, a->dtype)(j.y, y->data, numel);
    return STATUS_OK;
}

/* The opset decides the semantics of axis (see the top of the file). */
const op_desc op_family_softmax[] = {
    {.type = "Softmax", .since = 1, .prepare = op_prepare_same_float, .run = smax_run},
    {.type = "LogSoftmax", .since = 1, .prepare = op_prepare_same_float, .run = smax_run},
    {.type = "Hardmax", .since = 1, .prepare = op_prepare_same_float, .run = smax_run},
    {0},
};
