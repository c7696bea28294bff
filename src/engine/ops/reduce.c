/* reduce.c -- ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd,
 * ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp, ReduceSumSquare.
 *
 * Every reduction is "premap, combine, postmap": L1 sums |x|, L2 sums x^2
 * then takes the root, LogSumExp sums exp(x - max) then adds the max back.
 * The input is viewed as [O, R, K] (outer kept dims, reduced dims, inner
 * kept dims) after dropping size-1 dims and merging neighbours; R innermost
 * (K == 1) reduces contiguous rows, otherwise rows of K accumulate into the
 * output, both vectorized. Axes that do not form one block (reduce 0 and 2
 * of a rank-3 tensor) are first transposed into scratch so they do.
 *
 * Compute types: float (also for float16/bfloat16), double, and int64 or
 * uint64 for integers, with wrapping arithmetic; integer L2, LogSum and
 * LogSumExp compute in double. Results convert to the input's type. */
#include <stdlib.h>
#include <string.h>
#include <tgmath.h>

#include "../dtype.h"
#include "../kernels/convert.h"
#include "../kernels/vmath.h"
#include "../op.h"
#include "../shape.h"
#include "ew_run.h"

typedef enum reduce_kind {
    R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOGSUM, R_LOGSUMEXP, R_SUMSQUARE
} reduce_kind;

/* --- kernels per compute type --------------------------------------------------- */

/* Per compute type S: wrapping add/multiply, abs, exp, and the identities of
 * max and min. Integer exp is never used (integer LogSumExp computes in
 * double) and is the identity only so the generated code compiles. */
#define R_ADD_f32(a, b) ((a) + (b))
#define R_MUL_f32(a, b) ((a) * (b))
#define R_ABS_f32(v) fabs(v)
#define R_EXP_f32(v) vm_expf(v)
#define R_LOWEST_f32 (-HUGE_VALF)
#define R_HIGHEST_f32 HUGE_VALF
#define R_ADD_f64(a, b) ((a) + (b))
#define R_MUL_f64(a, b) ((a) * (b))
#define R_ABS_f64(v) fabs(v)
#define R_EXP_f64(v) exp(v)
#define R_LOWEST_f64 (-HUGE_VAL)
#define R_HIGHEST_f64 HUGE_VAL
#define R_ADD_i64(a, b) (int64_t)((uint64_t)(a) + (uint64_t)(b))
#define R_MUL_i64(a, b) (int64_t)((uint64_t)(a) * (uint64_t)(b))
#define R_ABS_i64(v) ((v) < 0 ? (int64_t)(0 - (uint64_t)(v)) : (v))
#define R_EXP_i64(v) (v)
#define R_LOWEST_i64 INT64_MIN
#define R_HIGHEST_i64 INT64_MAX
#define R_ADD_u64(a, b) ((a) + (b))
#define R_MUL_u64(a, b) ((a) * (b))
#define R_ABS_u64(v) (v)
#define R_EXP_u64(v) (v)
#define R_LOWEST_u64 0
#define R_HIGHEST_u64 UINT64_MAX

/* Float kernels also get AVX2/AVX-512 clones (vmath.h). */
#define R_CLONES_f32 VM_TARGET_CLONES
#define R_CLONES_f64
#define R_CLONES_i64
#define R_CLONES_u64

/* Premaps (v: element, s: the LogSumExp shift) and combiners. */
#define PRE_id(S, v, s) (v)
#define PRE_abs(S, v, s) R_ABS_##S(v)
#define PRE_sq(S, v, s) R_MUL_##S(v, v)
#define PRE_exp(S, v, s) R_EXP_##S((v) - (s))
#define COMB_sum(S, a, b) R_ADD_##S(a, b)
#define COMB_prod(S, a, b) R_MUL_##S(a, b)
#define COMB_max(S, a, b) ((a) > (b) ? (a) : (b))
#define COMB_min(S, a, b) ((a) < (b) ? (a) : (b))
#define INIT_sum(S) 0
#define INIT_prod(S) 1
#define INIT_max(S) R_LOWEST_##S
#define INIT_min(S) R_HIGHEST_##S
#define OMP_sum +
#define OMP_prod *
#define OMP_max max
#define OMP_min min

/* row_: combine n contiguous elements. col_: fold R rows of K elements,
 * columns [i0, i1), into acc (already holding the identity). */
#define REDUCE_FNS(S, T, PRE, COMB)                                            \
    R_CLONES_##S static T row_##S##_##PRE##_##COMB(const T *x, int64_t n, T s) {            \
        T acc = INIT_##COMB(S);                                                \
        (void)s;                                                               \
        VM_SIMD_REDUCE(OMP_##COMB, acc)                                        \
        for (int64_t r = 0; r < n; r++) {                                      \
            T v = PRE_##PRE(S, x[r], s);                                       \
            acc = COMB_##COMB(S, acc, v);                                      \
        }                                                                      \
        return acc;                                                            \
    }                                                                          \
    R_CLONES_##S static void col_##S##_##PRE##_##COMB(const T *x, int64_t R, int64_t K, \
                                         int64_t i0, int64_t i1, T *acc,       \
                                         const T *shift) {                     \
        for (int64_t r = 0; r < R; r++) {                                      \
            const T *xr = x + r * K;                                           \
            VM_SIMD for (int64_t i = i0; i < i1; i++) {                        \
                T s = shift ? shift[i] : 0;                                    \
                T v = PRE_##PRE(S, xr[i], s);                                  \
                (void)s;                                                       \
                acc[i] = COMB_##COMB(S, acc[i], v);                            \
            }                                                                  \
        }                                                                      \
    }

/* All (premap, combine) pairs the kinds need, for compute type S. */
#define REDUCE_TYPE(S, T)                                                      \
    REDUCE_FNS(S, T, id, sum)                                                  \
    REDUCE_FNS(S, T, abs, sum)                                                 \
    REDUCE_FNS(S, T, sq, sum)                                                  \
    REDUCE_FNS(S, T, exp, sum)                                                 \
    REDUCE_FNS(S, T, id, prod)                                                 \
    REDUCE_FNS(S, T, id, max)                                                  \
    REDUCE_FNS(S, T, id, min)                                                  \
    REDUCE_DISPATCH(S, T)

/* A job: input [O, R, K] of the compute type, output [O, K]. Work units are
 * (o, block of K) pairs so both long rows and wide columns split. */
typedef struct reduce_job {
    reduce_kind kind;
    int64_t O, R, K, block, nblocks;
    const void *in;
    void *out;
    void *shift;        /* LogSumExp maxima for K > 1: O * K elements */
} reduce_job;

/* Postmap: Mean divides, L2 roots, the logs take the log (LogSumExp adds
 * its shift back). */
static inline double post_float(reduce_kind kind, double v, int64_t R, double s) {
    switch (kind) {
    case R_MEAN: return R > 0 ? v / (double)R : 0;  /* empty: 0, as ONNX Runtime */
    case R_L2: return sqrt(v);
    case R_LOGSUM: return log(v);
    case R_LOGSUMEXP: return log(v) + s;
    default: return v;
    }
}
#define POST_f32(k, v, R, s) (float)post_float(k, v, R, s)
#define POST_f64(k, v, R, s) post_float(k, v, R, s)
#define POST_i64(k, v, R, s) ((k) == R_MEAN && (R) > 0 ? (v) / (R) : (v))
#define POST_u64(k, v, R, s) ((k) == R_MEAN && (R) > 0 ? (v) / (uint64_t)(R) : (v))

/* The max as a shift for exp: non-finite maxima (all -inf) shift by 0. */
#define FINITE_OR_0(v) ((v) - (v) == 0 ? (v) : 0)

#define REDUCE_DISPATCH(S, T)                                                  \
    static void reduce_unit_##S(const reduce_job *j, int64_t o, int64_t i0, int64_t i1) { \
        const T *x = (const T *)j->in + o * j->R * j->K;                       \
        T *y = (T *)j->out + o * j->K;                                         \
        int64_t R = j->R, K = j->K;                                            \
        if (K == 1) {                                                          \
            T v, s = 0;                                                        \
            switch (j->kind) {                                                 \
            case R_L1: v = row_##S##_abs_sum(x, R, 0); break;                  \
            case R_L2: case R_SUMSQUARE: v = row_##S##_sq_sum(x, R, 0); break; \
            case R_PROD: v = row_##S##_id_prod(x, R, 0); break;                \
            case R_MAX: v = row_##S##_id_max(x, R, 0); break;                  \
            case R_MIN: v = row_##S##_id_min(x, R, 0); break;                  \
            case R_LOGSUMEXP:                                                  \
                s = row_##S##_id_max(x, R, 0);                                 \
                s = FINITE_OR_0(s);                                            \
                v = row_##S##_exp_sum(x, R, s);                                \
                break;                                                         \
            default: v = row_##S##_id_sum(x, R, 0); break;                     \
            }                                                                  \
            y[0] = POST_##S(j->kind, v, R, s);                                 \
            return;                                                            \
        }                                                                      \
        T *shift = NULL;                                                       \
        T init = j->kind == R_PROD ? (T)1 : j->kind == R_MAX ? R_LOWEST_##S    \
               : j->kind == R_MIN ? R_HIGHEST_##S : (T)0;                      \
        if (j->kind == R_LOGSUMEXP) {                                          \
            shift = (T *)j->shift + o * K;                                     \
            for (int64_t i = i0; i < i1; i++) shift[i] = R_LOWEST_##S;         \
            col_##S##_id_max(x, R, K, i0, i1, shift, NULL);                    \
            for (int64_t i = i0; i < i1; i++) shift[i] = FINITE_OR_0(shift[i]); \
        }                                                                      \
        for (int64_t i = i0; i < i1; i++) y[i] = init;                         \
        switch (j->kind) {                                                     \
        case R_L1: col_##S##_abs_sum(x, R, K, i0, i1, y, NULL); break;         \
        case R_L2: case R_SUMSQUARE: col_##S##_sq_sum(x, R, K, i0, i1, y, NULL); break; \
        case R_PROD: col_##S##_id_prod(x, R, K, i0, i1, y, NULL); break;       \
        case R_MAX: col_##S##_id_max(x, R, K, i0, i1, y, NULL); break;         \
        case R_MIN: col_##S##_id_min(x, R, K, i0, i1, y, NULL); break;         \
        case R_LOGSUMEXP: col_##S##_exp_sum(x, R, K, i0, i1, y, shift); break; \
        default: col_##S##_id_sum(x, R, K, i0, i1, y, NULL); break;            \
        }                                                                      \
        if (j->kind == R_SUM || j->kind == R_SUMSQUARE || j->kind == R_L1 ||   \
            j->kind == R_PROD || j->kind == R_MAX || j->kind == R_MIN)         \
            return;                                                            \
        for (int64_t i = i0; i < i1; i++)                                      \
            y[i] = POST_##S(j->kind, y[i], R, shift ? shift[i] : 0);           \
    }

REDUCE_TYPE(f32, float)
REDUCE_TYPE(f64, double)
REDUCE_TYPE(i64, int64_t)
REDUCE_TYPE(u64, uint64_t)

typedef void (*reduce_unit_fn)(const reduce_job *j, int64_t o, int64_t i0, int64_t i1);

typedef struct reduce_task {
    reduce_job job;
    reduce_unit_fn fn;
} reduce_task;

static void reduce_chunk(void *ctx, int64_t begin, int64_t end) {
    const reduce_task *t = ctx;
    const reduce_job *j = &t->job;
    for (int64_t u = begin; u < end; u++) {
        int64_t o = u / j->nblocks, b = u % j->nblocks;
        int64_t i0 = b * j->block, i1 = i0 + j->block < j->K ? i0 + j->block : j->K;
        t->fn(j, o, i0, i1);
    }
}

/* The type a reduction of dt computes in. */
static engine_dtype reduce_ctype(reduce_kind kind, engine_dtype dt) {
    if (dt == ENGINE_FLOAT || dt == ENGINE_DOUBLE) return dt;
    if (dt == ENGINE_FLOAT16 || dt == ENGINE_BFLOAT16) return ENGINE_FLOAT;
    if (!dtype_is_int(dt) && dt != ENGINE_BOOL) return ENGINE_UNDEFINED;
    if (kind == R_L2 || kind == R_LOGSUM || kind == R_LOGSUMEXP) return ENGINE_DOUBLE;
    return dt == ENGINE_UINT64 ? ENGINE_UINT64 : ENGINE_INT64;
}

/* --- the op ------------------------------------------------------------------------ */

typedef struct reduce_op {
    const char *type;
    reduce_kind kind;
    int axes_input_since;   /* first opset taking axes as input 1 */
} reduce_op;

static const reduce_op reduce_ops[] = {
    {"ReduceSum", R_SUM, 13},       {"ReduceMean", R_MEAN, 18},
    {"ReduceMax", R_MAX, 18},       {"ReduceMin", R_MIN, 18},
    {"ReduceProd", R_PROD, 18},     {"ReduceL1", R_L1, 18},
    {"ReduceL2", R_L2, 18},         {"ReduceLogSum", R_LOGSUM, 18},
    {"ReduceLogSumExp", R_LOGSUMEXP, 18}, {"ReduceSumSquare", R_SUMSQUARE, 18},
};

typedef struct reduce_state {
    reduce_kind kind;
    int keepdims, noop_empty, axes_from_input;
    int n_axes;                 /* from the attribute; -1 = absent */
    int64_t axes[ENGINE_MAX_RANK];
} reduce_state;

static status reduce_prepare(graph *g, node *n, errinfo *err) {
    const reduce_op *op = NULL;
    for (size_t i = 0; i < sizeof reduce_ops / sizeof reduce_ops[0]; i++)
        if (strcmp(reduce_ops[i].type, n->op_type) == 0) op = &reduce_ops[i];
    if (!op) return op_prepare_fail(n, err, STATUS_INTERNAL, "no kernels for this op");
    engine_dtype dt = node_input_dtype(g, n, 0);
    if (reduce_ctype(op->kind, dt) == ENGINE_UNDEFINED)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "input type %s is not supported",
                               engine_dtype_name(dt));
    reduce_state *s = calloc(1, sizeof *s);
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    s->kind = op->kind;
    s->keepdims = node_attr_int(n, "keepdims", 1) != 0;
    s->noop_empty = node_attr_int(n, "noop_with_empty_axes", 0) != 0;
    s->axes_from_input = n->opset >= op->axes_input_since;
    const int64_t *axes;
    s->n_axes = s->axes_from_input ? -1 : node_attr_ints(n, "axes", &axes);
    if (s->n_axes > ENGINE_MAX_RANK) {
        free(s);
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "%d axes given, at most %d allowed",
                               node_attr_ints(n, "axes", &axes), ENGINE_MAX_RANK);
    }
    for (int i = 0; i < s->n_axes; i++) s->axes[i] = axes[i];
    n->state = s;
    node_set_output_dtype(g, n, 0, dt);
    return STATUS_OK;
}

/* Which dims of a rank-`rank` input are reduced, from the attribute or
 * input 1; fails on an axis out of range or repeated. */
static status reduce_mask(const reduce_state *s, exec_ctx *x, int rank, int *mask) {
    const int64_t *axes = s->axes;
    int64_t n_axes = s->n_axes < 0 ? 0 : s->n_axes;
    if (s->axes_from_input) {
        const engine_tensor *t = exec_input(x, 1);
        if (t && t->dtype != ENGINE_INT64)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "axes has type %s, expected int64",
                             engine_dtype_name(t->dtype));
        n_axes = t ? engine_shape_numel(&t->shape) : 0;
        axes = t ? t->data : NULL;
    }
    for (int d = 0; d < rank; d++) mask[d] = n_axes == 0 && !s->noop_empty;
    for (int64_t i = 0; i < n_axes; i++) {
        int d = shape_normalize_axis(axes[i], rank);
        if (d < 0)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                             (long long)axes[i], rank);
        if (mask[d])
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "axis %lld is repeated",
                             (long long)axes[i]);
        mask[d] = 1;
    }
    return STATUS_OK;
}

/* Collapses the input into [O, R, K] if the reduced dims (ignoring size 1)
 * form one block; returns 0 on success, -1 if they do not. */
static int reduce_view(const engine_shape *s, const int *mask, int64_t *O, int64_t *R, int64_t *K) {
    int seen_r = 0, after_r = 0;
    *O = *R = *K = 1;
    for (int d = 0; d < s->rank; d++) {
        int64_t dim = s->dims[d];
        if (dim == 1) continue;
        if (mask[d]) {
            if (after_r) return -1;
            seen_r = 1;
            *R *= dim;
        } else if (seen_r) {
            after_r = 1;
            *K *= dim;
        } else {
            *O *= dim;
        }
    }
    return 0;
}

/* Copies `in` (elements of `size` bytes) into `out` with the kept dims
 * first and the reduced dims last, so the reduction becomes [O, R, 1]. */
static void reduce_transpose(const engine_shape *s, const int *mask, const char *in, char *out,
                             size_t size) {
    int perm[ENGINE_MAX_RANK], k = 0;
    int64_t strides[ENGINE_MAX_RANK], idx[ENGINE_MAX_RANK] = {0};
    for (int d = 0; d < s->rank; d++) if (!mask[d]) perm[k++] = d;
    for (int d = 0; d < s->rank; d++) if (mask[d]) perm[k++] = d;
    shape_strides(s, strides);
    int64_t total = engine_shape_numel(s), off = 0;
    for (int64_t e = 0; e < total; e++) {
        memcpy(out + e * (int64_t)size, in + off * (int64_t)size, size);
        for (int j = s->rank - 1; j >= 0; j--) {
            int d = perm[j];
            off += strides[d];
            if (++idx[d] < s->dims[d]) break;
            off -= idx[d] * strides[d];
            idx[d] = 0;
        }
    }
}

static status reduce_run(const node *n, exec_ctx *x) {
    const reduce_state *s = n->state;
    const engine_tensor *a = exec_input(x, 0);
    if (!a) return exec_fail(x, STATUS_INVALID_ARGUMENT, "missing input");
    int mask[ENGINE_MAX_RANK];
    status st = reduce_mask(s, x, a->shape.rank, mask);
    if (st) return st;
    engine_shape os = {0};
    for (int d = 0; d < a->shape.rank; d++) {
        if (!mask[d]) os.dims[os.rank++] = a->shape.dims[d];
        else if (s->keepdims) os.dims[os.rank++] = 1;
    }
    engine_tensor *y;
    if ((st = exec_output(x, 0, a->dtype, &os, &y))) return st;

    engine_dtype ct = reduce_ctype(s->kind, a->dtype);
    size_t csize = engine_dtype_size(ct);
    int64_t numel = engine_shape_numel(&a->shape), out_numel = engine_shape_numel(&os);
    if (ct == ENGINE_UNDEFINED)
        return exec_fail(x, STATUS_UNSUPPORTED, "input type %s is not supported",
                         engine_dtype_name(a->dtype));
    if (out_numel == 0) return STATUS_OK;

    /* Input in the compute type, then in [O, R, K] order. */
    const void *in = a->data;
    if (a->dtype != ct) {
        void *buf = exec_scratch(x, (size_t)numel * csize + 1);
        if (!buf) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
        convert_get(a->dtype, ct)(a->data, buf, numel);
        in = buf;
    }
    int64_t O, R, K;
    if (reduce_view(&a->shape, mask, &O, &R, &K)) {
        void *buf = exec_scratch(x, (size_t)numel * csize + 1);
        if (!buf) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
        reduce_transpose(&a->shape, mask, in, buf, csize);
        in = buf;
        O = out_numel;
        R = numel / out_numel;
        K = 1;
    }
    reduce_task t = {.job = {.kind = s->kind, .O = O, .R = R, .K = K, .in = in}};
    t.job.block = K < 1024 ? K : 1024;
    t.job.nblocks = (K + t.job.block - 1) / t.job.block;
    t.job.out = y->data;
    if (y->dtype != ct && !(t.job.out = exec_scratch(x, (size_t)out_numel * csize)))
        return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    if (s->kind == R_LOGSUMEXP && K > 1 &&
        !(t.job.shift = exec_scratch(x, (size_t)out_numel * csize)))
        return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    switch (ct) {
    case ENGINE_FLOAT: t.fn = reduce_unit_f32; break;
    case ENGINE_DOUBLE: t.fn = reduce_unit_f64; break;
    case ENGINE_UINT64: t.fn = reduce_unit_u64; break;
    default: t.fn = reduce_unit_i64; break;
    }
    /* A unit reduces R * block elements; aim for EW_GRAIN_CHEAP per thread. */
    int64_t per_unit = R * t.job.block > 0 ? R * t.job.block : 1;
    int64_t grain = EW_GRAIN_CHEAP / per_unit > 0 ? EW_GRAIN_CHEAP / per_unit : 1;
    ew_parallel(x, O * t.job.nblocks, grain, reduce_chunk, &t);
    if (y->dtype != ct) convert_get(ct, y->dtype)(t.job.out, y->data, out_numel);
    return STATUS_OK;
}

/* One descriptor per op: the opset decides attribute or input axes. */
#define REDUCE(NAME) {.type = NAME, .since = 1, .prepare = reduce_prepare, .run = reduce_run}
const op_desc op_family_reduce[] = {
    REDUCE("ReduceSum"),  REDUCE("ReduceMean"), REDUCE("ReduceMax"),       REDUCE("ReduceMin"),
    REDUCE("ReduceProd"), REDUCE("ReduceL1"),   REDUCE("ReduceL2"),        REDUCE("ReduceLogSum"),
    REDUCE("ReduceLogSumExp"), REDUCE("ReduceSumSquare"),
    {0},
};
