/* argminmax.c -- ArgMax and ArgMin: int64 indices of the extreme values
 * along one axis.
 *
 * The input is viewed as [O, R, K] around the axis; ties go to the first
 * index, or the last with select_last_index (opset 12). Every numeric type
 * compares natively; float16/bfloat16 compare in float. */
#include <stdlib.h>
#include <string.h>

#include "../dtype.h"
#include "../kernels/convert.h"
#include "../op.h"
#include "../shape.h"
#include "ew_types.h"

typedef struct arg_job {
    const void *x;
    int64_t *y;
    int64_t R, K;
    int is_max, last;
} arg_job;

/* Groups [begin, end) of the O outer groups. */
#define ARG_FN(OP, DT, SUF, T, UT)                                             \
    static void arg_##SUF(const arg_job *j, int64_t begin, int64_t end) {      \
        int64_t R = j->R, K = j->K;                                            \
        for (int64_t o = begin; o < end; o++) {                                \
            const T *x = (const T *)j->x + o * R * K;                          \
            for (int64_t k = 0; k < K; k++) {                                  \
                int64_t best = 0;                                              \
                T bv = x[k];                                                   \
                for (int64_t r = 1; r < R; r++) {                              \
                    T v = x[r * K + k];                                        \
                    int better = j->is_max ? (j->last ? v >= bv : v > bv)      \
                                           : (j->last ? v <= bv : v < bv);     \
                    if (better) best = r, bv = v;                              \
                }                                                              \
                j->y[o * K + k] = best;                                        \
            }                                                                  \
        }                                                                      \
    }
EW_NUMERIC(ARG_FN, _)

typedef void (*arg_fn)(const arg_job *j, int64_t begin, int64_t end);
#define ARG_ENTRY(OP, DT, SUF, T, UT) [DT] = arg_##SUF,
static const arg_fn arg_fns[ENGINE_DTYPE__MAX] = {EW_NUMERIC(ARG_ENTRY, _)};

typedef struct arg_task {
    arg_job job;
    arg_fn fn;
} arg_task;

static void arg_chunk(void *ctx, int64_t begin, int64_t end) {
    const arg_task *t = ctx;
    t->fn(&t->job, begin, end);
}

static engine_dtype arg_ctype(engine_dtype dt) {
    if (dt == ENGINE_FLOAT16 || dt == ENGINE_BFLOAT16) return ENGINE_FLOAT;
    return dt > ENGINE_UNDEFINED && dt < ENGINE_DTYPE__MAX && arg_fns[dt] ? dt : ENGINE_UNDEFINED;
}

static status arg_prepare(graph *g, node *n, errinfo *err) {
    engine_dtype dt = node_input_dtype(g, n, 0);
    if (arg_ctype(dt) == ENGINE_UNDEFINED)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "input type %s is not supported",
                               engine_dtype_name(dt));
    node_set_output_dtype(g, n, 0, ENGINE_INT64);
    return STATUS_OK;
}

static status arg_run(const node *n, exec_ctx *x) {
    const engine_tensor *a = exec_input(x, 0);
    if (!a) return exec_fail(x, STATUS_INVALID_ARGUMENT, "missing input");
    int rank = a->shape.rank;
    int64_t axis_attr = node_attr_int(n, "axis", 0);
    int axis = shape_normalize_axis(axis_attr, rank);
    if (axis < 0)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                         (long long)axis_attr, rank);
    if (a->shape.dims[axis] == 0)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "axis %d has size 0: nothing to select",
                         axis);
    int keepdims = node_attr_int(n, "keepdims", 1) != 0;
    engine_shape os = {0};
    for (int d = 0; d < rank; d++) {
        if (d != axis) os.dims[os.rank++] = a->shape.dims[d];
        else if (keepdims) os.dims[os.rank++] = 1;
    }
    engine_tensor *y;
    status st = exec_output(x, 0, ENGINE_INT64, &os, &y);
    if (st) return st;
    engine_dtype ct = arg_ctype(a->dtype);
    if (ct == ENGINE_UNDEFINED)
        return exec_fail(x, STATUS_UNSUPPORTED, "input type %s is not supported",
                         engine_dtype_name(a->dtype));
    int64_t numel = engine_shape_numel(&a->shape);
    if (numel == 0) return STATUS_OK;
    arg_task t = {.fn = arg_fns[ct],
                  .job = {.x = a->data, .y = y->data, .R = a->shape.dims[axis],
                          .K = shape_span(&a->shape, axis + 1, rank),
                          .is_max = strcmp(n->op_type, "ArgMax") == 0,
                          .last = node_attr_int(n, "select_last_index", 0) != 0}};
    if (ct != a->dtype) {
        void *buf = exec_scratch(x, (size_t)numel * engine_dtype_size(ct));
        if (!buf) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
        convert_get(a->dtype, ct)(a->data, buf, numel);
        t.job.x = buf;
    }
    int64_t O = shape_span(&a->shape, 0, axis), per = t.job.R * t.job.K;
    ew_parallel(x, O, EW_GRAIN_CHEAP / per > 0 ? EW_GRAIN_CHEAP / per : 1, arg_chunk, &t);
    return STATUS_OK;
}

const op_desc op_family_argminmax[] = {
    {.type = "ArgMax", .since = 1, .prepare = arg_prepare, .run = arg_run},
    {.type = "ArgMin", .since = 1, .prepare = arg_prepare, .run = arg_run},
    {0},
};
