/* cumsum.c -- CumSum: running sums along one axis (given as a scalar input),
 * optionally exclusive (each output excludes its own element) and reversed.
 *
 * The input is viewed as [O, R, K] around the axis; each step adds a row of
 * K lanes to the previous output row, a vectorized loop. Integers wrap;
 * float16/bfloat16 accumulate in float. */
#include <stdlib.h>
#include <string.h>

#include "../dtype.h"
#include "../kernels/convert.h"
#include "../op.h"
#include "../shape.h"
#include "ew_types.h"

typedef struct cumsum_job {
    const void *x;
    void *y;
    int64_t R, K;
    int exclusive, reverse;
} cumsum_job;

/* Groups [begin, end): y[r] = y[r-1] + x[r] (or + x[r-1] when exclusive),
 * r running backwards when reversed. */
#define CUMSUM_FN(OP, DT, SUF, T, UT)                                          \
    static void cumsum_##SUF(const cumsum_job *j, int64_t begin, int64_t end) { \
        int64_t R = j->R, K = j->K;                                            \
        for (int64_t o = begin; o < end; o++) {                                \
            const T *x = (const T *)j->x + o * R * K;                          \
            T *y = (T *)j->y + o * R * K;                                      \
            for (int64_t s = 0; s < R; s++) {                                  \
                int64_t r = j->reverse ? R - 1 - s : s;                        \
                int64_t prev = j->reverse ? r + 1 : r - 1;                     \
                T *yr = y + r * K;                                             \
                if (s == 0) {                                                  \
                    for (int64_t k = 0; k < K; k++)                            \
                        yr[k] = j->exclusive ? (T)0 : x[r * K + k];            \
                    continue;                                                  \
                }                                                              \
                const T *yp = y + prev * K;                                    \
                const T *add = x + (j->exclusive ? prev : r) * K;              \
                VM_SIMD for (int64_t k = 0; k < K; k++)                        \
                    yr[k] = (T)((UT)yp[k] + (UT)add[k]);                       \
            }                                                                  \
        }                                                                      \
    }
EW_NUMERIC(CUMSUM_FN, _)

typedef void (*cumsum_fn)(const cumsum_job *j, int64_t begin, int64_t end);
#define CUMSUM_ENTRY(OP, DT, SUF, T, UT) [DT] = cumsum_##SUF,
static const cumsum_fn cumsum_fns[ENGINE_DTYPE__MAX] = {EW_NUMERIC(CUMSUM_ENTRY, _)};

typedef struct cumsum_task {
    cumsum_job job;
    cumsum_fn fn;
} cumsum_task;

static void cumsum_chunk(void *ctx, int64_t begin, int64_t end) {
    const cumsum_task *t = ctx;
    t->fn(&t->job, begin, end);
}

static engine_dtype cumsum_ctype(engine_dtype dt) {
    if (dt == ENGINE_FLOAT16 || dt == ENGINE_BFLOAT16) return ENGINE_FLOAT;
    return dt > ENGINE_UNDEFINED && dt < ENGINE_DTYPE__MAX && cumsum_fns[dt] ? dt
                                                                            : ENGINE_UNDEFINED;
}

static status cumsum_prepare(graph *g, node *n, errinfo *err) {
    engine_dtype dt = node_input_dtype(g, n, 0), at = node_input_dtype(g, n, 1);
    if (n->n_inputs != 2)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "expected 2 inputs, got %d",
                               n->n_inputs);
    if (cumsum_ctype(dt) == ENGINE_UNDEFINED)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "input type %s is not supported",
                               engine_dtype_name(dt));
    if (at != ENGINE_INT32 && at != ENGINE_INT64)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "axis has type %s, expected int32 or int64", engine_dtype_name(at));
    node_set_output_dtype(g, n, 0, dt);
    return STATUS_OK;
}

static status cumsum_run(const node *n, exec_ctx *x) {
    const engine_tensor *a = exec_input(x, 0), *ax = exec_input(x, 1);
    if (!a || !ax) return exec_fail(x, STATUS_INVALID_ARGUMENT, "missing input");
    if ((ax->dtype != ENGINE_INT32 && ax->dtype != ENGINE_INT64) ||
        engine_shape_numel(&ax->shape) != 1)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "axis must be one int32 or int64 value");
    int rank = a->shape.rank;
    int64_t axis_v = dtype_load_int64(ax->dtype, ax->data, 0);
    int axis = shape_normalize_axis(axis_v, rank);
    if (axis < 0)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                         (long long)axis_v, rank);
    engine_tensor *y;
    status st = exec_output(x, 0, a->dtype, &a->shape, &y);
    if (st) return st;
    engine_dtype ct = cumsum_ctype(a->dtype);
    if (ct == ENGINE_UNDEFINED)
        return exec_fail(x, STATUS_UNSUPPORTED, "input type %s is not supported",
                         engine_dtype_name(a->dtype));
    int64_t numel = engine_shape_numel(&a->shape);
    if (numel == 0) return STATUS_OK;
    cumsum_task t = {.fn = cumsum_fns[ct],
                     .job = {.x = a->data, .y = y->data, .R = a->shape.dims[axis],
                             .K = shape_span(&a->shape, axis + 1, rank),
                             .exclusive = node_attr_int(n, "exclusive", 0) != 0,
                             .reverse = node_attr_int(n, "reverse", 0) != 0}};
    if (ct != a->dtype) {
        size_t bytes = (size_t)numel * engine_dtype_size(ct);
        void *xs = exec_scratch(x, bytes), *ys = exec_scratch(x, bytes);
        if (!xs || !ys) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
        convert_get(a->dtype, ct)(a->data, xs, numel);
        t.job.x = xs;
        t.job.y = ys;
    }
    int64_t O = shape_span(&a->shape, 0, axis), per = t.job.R * t.job.K;
    ew_parallel(x, O, EW_GRAIN_CHEAP / per > 0 ? EW_GRAIN_CHEAP / per : 1, cumsum_chunk, &t);
    if (ct != a->dtype) convert_get(ct, a->dtype)(t.job.y, y->data, numel);
    return STATUS_OK;
}

const op_desc op_family_cumsum[] = {
    {.type = "CumSum", .since = 11, .prepare = cumsum_prepare, .run = cumsum_run},
    {0},
};
