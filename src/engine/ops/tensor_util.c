/* tensor_util.c -- shared helpers of the data-movement operator families. */
#include "tensor_util.h"

#include <string.h>

#include "../kernels/strided_copy.h"
#include "../shape.h"

/* Below this many bytes a copy is not worth waking other threads for. */
#define TUTIL_PARALLEL_BYTES (256 * 1024)

status tutil_check_movable(const node *n, errinfo *err, engine_dtype dt, const char *what) {
    if (dt == ENGINE_UNDEFINED)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "%s has no known type", what);
    if (dt == ENGINE_STRING || engine_dtype_size(dt) == 0)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "%s has type %s, which this operator does not support", what,
                               engine_dtype_name(dt));
    return STATUS_OK;
}

status tutil_prepare_data(graph *g, node *n, errinfo *err) {
    engine_dtype dt = node_input_dtype(g, n, 0);
    status st = tutil_check_movable(n, err, dt, "input 0");
    if (st) return st;
    for (int k = 0; k < n->n_outputs; k++) node_set_output_dtype(g, n, k, dt);
    return STATUS_OK;
}

status tutil_check_index_input(const graph *g, const node *n, errinfo *err, int i,
                               const char *what) {
    engine_dtype dt = node_input_dtype(g, n, i);
    if (dt == ENGINE_UNDEFINED || dt == ENGINE_INT32 || dt == ENGINE_INT64) return STATUS_OK;
    return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "%s (input %d) has type %s, expected int32 or int64",
                           what, i, engine_dtype_name(dt));
}

status tutil_read_ints(exec_ctx *x, int i, const char *what, int64_t *out, int max,
                       int *count) {
    const engine_tensor *t = exec_input(x, i);
    if (!t) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input %d (%s) is missing", i, what);
    if (t->dtype != ENGINE_INT64 && t->dtype != ENGINE_INT32)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "%s has type %s, expected int64", what,
                         engine_dtype_name(t->dtype));
    if (t->shape.rank > 1)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "%s has rank %d, expected a 1-D tensor",
                         what, t->shape.rank);
    int64_t n = engine_shape_numel(&t->shape);
    if (n < 0 || n > max)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "%s has %lld elements, at most %d allowed",
                         what, (long long)n, max);
    for (int64_t j = 0; j < n; j++) out[j] = tutil_index_at(t, j);
    *count = (int)n;
    return STATUS_OK;
}

typedef struct copy_job {
    const strided_plan *plan;
    const void *src;
    void *dst;
} copy_job;

static void copy_chunk(void *ctx, int64_t begin, int64_t end) {
    const copy_job *j = ctx;
    strided_plan_run(j->plan, j->src, j->dst, begin, end);
}

void tutil_copy(exec_ctx *x, size_t esize, int rank, const int64_t *dims,
                const int64_t *strides, const void *src, void *dst) {
    strided_plan plan;
    strided_plan_init(&plan, esize, rank, dims, strides);
    int64_t units = strided_plan_units(&plan);
    if (units > 1 && exec_threads(x) > 1 &&
        plan.numel * (int64_t)esize >= TUTIL_PARALLEL_BYTES) {
        copy_job job = {&plan, src, dst};
        exec_parallel_for(x, units, copy_chunk, &job);
    } else {
        strided_plan_run(&plan, src, dst, 0, units);
    }
}

status tutil_output_copy(exec_ctx *x, int k, const engine_tensor *in,
                         const engine_shape *shape) {
    engine_tensor *y;
    status st = exec_output(x, k, in->dtype, shape, &y);
    if (st) return st;
    size_t bytes = (size_t)engine_shape_numel(shape) * engine_dtype_size(in->dtype);
    if (bytes && y->data != in->data) memcpy(y->data, in->data, bytes);
    return STATUS_OK;
}

#define FILL_AS(T)                                                             \
    do {                                                                       \
        T v, *restrict d = dst;                                               \
        memcpy(&v, value, sizeof v);                                           \
        for (int64_t i = 0; i < n; i++) d[i] = v;                              \
    } while (0)

void tutil_fill(void *dst, const void *value, size_t esize, int64_t n) {
    switch (esize) {
    case 1: memset(dst, *(const unsigned char *)value, (size_t)n); break;
    case 2: FILL_AS(uint16_t); break;
    case 4: FILL_AS(uint32_t); break;
    case 8: FILL_AS(uint64_t); break;
    default:
        for (int64_t i = 0; i < n; i++) memcpy((char *)dst + (size_t)i * esize, value, esize);
    }
}
