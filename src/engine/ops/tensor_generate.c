/* tensor_generate.c -- operators that build a tensor from a few numbers:
 * Range, EyeLike, OneHot. */
#include <math.h>
#include <string.h>

#include "../dtype.h"
#include "../shape.h"
#include "tensor_util.h"

/* ---- Range --------------------------------------------------------------------- */

static status range_prepare(graph *g, node *n, errinfo *err) {
    engine_dtype dt = node_input_dtype(g, n, 0);
    if (dt != ENGINE_FLOAT && dt != ENGINE_DOUBLE && dt != ENGINE_INT16 &&
        dt != ENGINE_INT32 && dt != ENGINE_INT64)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "input type %s, expected float32, float64, int16, int32 or int64",
                               engine_dtype_name(dt));
    node_set_output_dtype(g, n, 0, dt);
    return STATUS_OK;
}

/* Integer ranges are computed exactly; float ones as numpy.arange does,
 * start + i * delta. */
static status range_count_int(exec_ctx *x, int64_t start, int64_t limit, int64_t delta,
                              int64_t *count) {
    int64_t diff;
    if (delta == 0) return exec_fail(x, STATUS_INVALID_ARGUMENT, "delta is 0");
    if (__builtin_sub_overflow(limit, start, &diff))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "limit - start overflows");
    if ((diff > 0) != (delta > 0) || diff == 0) {
        *count = 0;
        return STATUS_OK;
    }
    /* ceil(diff / delta) with both of the same sign */
    *count = diff / delta + (diff % delta != 0);
    return STATUS_OK;
}

static status range_run(const node *n, exec_ctx *x) {
    (void)n;
    const engine_tensor *t[3];
    for (int i = 0; i < 3; i++) {
        t[i] = exec_input(x, i);
        if (!t[i] || engine_shape_numel(&t[i]->shape) != 1 || t[i]->dtype != t[0]->dtype)
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "input %d must be a scalar of the same type as input 0", i);
    }
    engine_dtype dt = t[0]->dtype;
    int64_t count = 0;
    engine_tensor *y;
    status st;
    if (dtype_is_float(dt)) {
        double start = dtype_load_double(dt, t[0]->data, 0);
        double limit = dtype_load_double(dt, t[1]->data, 0);
        double delta = dtype_load_double(dt, t[2]->data, 0);
        double c = ceil((limit - start) / delta);
        if (delta == 0 || !isfinite(c) || c > 1e15)
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "range(%g, %g, %g) is empty-stepped or too long", start, limit, delta);
        count = c > 0 ? (int64_t)c : 0;
        engine_shape s = {1, {count}};
        if ((st = exec_output(x, 0, dt, &s, &y))) return st;
        for (int64_t i = 0; i < count; i++) dtype_store_double(dt, y->data, i, start + (double)i * delta);
        return STATUS_OK;
    }
    int64_t start = dtype_load_int64(dt, t[0]->data, 0);
    int64_t delta = dtype_load_int64(dt, t[2]->data, 0);
    st = range_count_int(x, start, dtype_load_int64(dt, t[1]->data, 0), delta, &count);
    if (st) return st;
    engine_shape s = {1, {count}};
    if ((st = exec_output(x, 0, dt, &s, &y))) return st;
    /* Every value lies between start and limit, so fits the type. */
    for (int64_t i = 0; i < count; i++) {
        int64_t v = start + i * delta;
        switch (dt) {
        case ENGINE_INT16: ((int16_t *)y->data)[i] = (int16_t)v; break;
        case ENGINE_INT32: ((int32_t *)y->data)[i] = (int32_t)v; break;
        default: ((int64_t *)y->data)[i] = v; break;
        }
    }
    return STATUS_OK;
}

/* ---- EyeLike ------------------------------------------------------------------- */

static engine_dtype eyelike_dtype(const graph *g, const node *n) {
    const attr *a = node_attr(n, "dtype");
    return a ? (engine_dtype)a->i : node_input_dtype(g, n, 0);
}

static status eyelike_prepare(graph *g, node *n, errinfo *err) {
    engine_dtype dt = eyelike_dtype(g, n);
    if (dt == ENGINE_UNDEFINED || dt >= ENGINE_DTYPE__MAX || dt == ENGINE_STRING ||
        engine_dtype_size(dt) == 0)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "output type %d is not supported",
                               (int)dt);
    node_set_output_dtype(g, n, 0, dt);
    return STATUS_OK;
}

static status eyelike_run(const node *n, exec_ctx *x) {
    const engine_tensor *in = exec_input(x, 0);
    if (!in || in->shape.rank != 2)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "input must be a 2-D tensor");
    engine_dtype dt = (engine_dtype)node_attr_int(n, "dtype", in->dtype);
    engine_tensor *y;
    status st = exec_output(x, 0, dt, &in->shape, &y);
    if (st) return st;
    int64_t rows = in->shape.dims[0], cols = in->shape.dims[1], k = node_attr_int(n, "k", 0);
    size_t es = engine_dtype_size(dt);
    if (rows * cols == 0) return STATUS_OK;
    memset(y->data, 0, (size_t)(rows * cols) * es);
    uint64_t one = 0;
    dtype_store_double(dt, &one, 0, 1.0);
    /* row i, column i + k, for the rows where that column exists */
    int64_t first = k < 0 ? -k : 0, last = k < cols ? cols - k : 0;
    if (last > rows) last = rows;
    for (int64_t i = first; i < last; i++)
        memcpy((char *)y->data + (size_t)(i * cols + i + k) * es, &one, es);
    return STATUS_OK;
}

/* ---- OneHot -------------------------------------------------------------------- */

static status onehot_prepare(graph *g, node *n, errinfo *err) {
    engine_dtype it = node_input_dtype(g, n, 0), dt = node_input_dtype(g, n, 1);
    if (!dtype_is_int(it) && !dtype_is_float(it))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "indices have type %s, expected a number",
                               engine_dtype_name(it));
    if (!dtype_is_int(dt) && !dtype_is_float(dt))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "depth has type %s, expected a number",
                               engine_dtype_name(dt));
    engine_dtype vt = node_input_dtype(g, n, 2);
    status st = tutil_check_movable(n, err, vt, "values (input 2)");
    if (st) return st;
    node_set_output_dtype(g, n, 0, vt);
    return STATUS_OK;
}

static status onehot_run(const node *n, exec_ctx *x) {
    const engine_tensor *ind = exec_input(x, 0), *dep = exec_input(x, 1), *val = exec_input(x, 2);
    if (!ind || !dep || !val) return exec_fail(x, STATUS_INVALID_ARGUMENT, "an input is missing");
    if (engine_shape_numel(&dep->shape) != 1 || engine_shape_numel(&val->shape) != 2)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "depth must be one value and values two ([off, on])");
    double dd = dtype_load_double(dep->dtype, dep->data, 0);
    if (!(dd >= 1 && dd <= (double)(INT64_C(1) << 40)))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "depth is %g, expected a positive count", dd);
    int64_t depth = (int64_t)dd;
    int r = ind->shape.rank + 1;
    if (r > ENGINE_MAX_RANK)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "output rank %d exceeds %d", r, ENGINE_MAX_RANK);
    int64_t axis_attr = node_attr_int(n, "axis", -1);
    int axis = shape_normalize_axis(axis_attr, r);
    if (axis < 0)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                         (long long)axis_attr, r);
    engine_shape s = {r, {0}};
    for (int d = 0, j = 0; d < r; d++) s.dims[d] = d == axis ? depth : ind->shape.dims[j++];
    engine_tensor *y;
    status st = exec_output(x, 0, val->dtype, &s, &y);
    if (st) return st;
    size_t es = engine_dtype_size(val->dtype);
    int64_t numel = engine_shape_numel(&s);
    if (numel == 0) return STATUS_OK;
    const char *off = val->data, *on = off + es;
    tutil_fill(y->data, off, es, numel);
    int64_t inner = shape_span(&ind->shape, axis, ind->shape.rank);
    int64_t count = engine_shape_numel(&ind->shape);
    for (int64_t p = 0; p < count; p++) {
        int64_t i = dtype_load_int64(ind->dtype, ind->data, p);
        if (i < 0) i += depth;
        if (i < 0 || i >= depth) continue; /* out of range: all off, as the spec says */
        int64_t o = p / inner, in_ = p % inner;
        memcpy((char *)y->data + (size_t)((o * depth + i) * inner + in_) * es, on, es);
    }
    return STATUS_OK;
}

const op_desc op_family_tensor_generate[] = {
    {.type = "Range", .since = 11, .prepare = range_prepare, .run = range_run},
    {.type = "EyeLike", .since = 9, .prepare = eyelike_prepare, .run = eyelike_run},
    {.type = "OneHot", .since = 9, .prepare = onehot_prepare, .run = onehot_run},
    {0},
};
