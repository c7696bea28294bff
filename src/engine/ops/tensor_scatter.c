/* tensor_scatter.c -- writing into a copy of a tensor at given positions:
 * ScatterElements (and the deprecated Scatter), ScatterND.
 *
 * Without a reduction an update is a plain element copy, so every dtype
 * works. With one (add, mul from opset 16, max, min from 18) the element
 * type matters: a small table of combine functions, generated per type by
 * a macro, does the arithmetic. Integer sums wrap as ONNX Runtime's do
 * (computed unsigned, so overflow is defined). */
#include <string.h>

#include "../dtype.h"
#include "../shape.h"
#include "tensor_util.h"

typedef enum reduction { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN } reduction;

/* dst[i] = dst[i] (op) src[i] for i < n. T is the element type, U the type
 * to add and multiply in. */
#define DEF_COMBINE(name, T, U)                                                \
    static void name(void *dst, const void *src, int64_t n, reduction r) {     \
        T *d = dst;                                                            \
        const T *s = src;                                                      \
        for (int64_t i = 0; i < n; i++) {                                      \
            T a = d[i], b = s[i];                                              \
            switch (r) {                                                       \
            case RED_ADD: d[i] = (T)((U)a + (U)b); break;                      \
            case RED_MUL: d[i] = (T)((U)a * (U)b); break;                      \
            case RED_MAX: d[i] = b > a ? b : a; break;                         \
            case RED_MIN: d[i] = b < a ? b : a; break;                         \
            default: d[i] = b; break;                                          \
            }                                                                  \
        }                                                                      \
    }

DEF_COMBINE(combine_f32, float, float)
DEF_COMBINE(combine_f64, double, double)
DEF_COMBINE(combine_i8, int8_t, uint8_t)
DEF_COMBINE(combine_u8, uint8_t, uint32_t)
DEF_COMBINE(combine_i16, int16_t, uint16_t)
DEF_COMBINE(combine_u16, uint16_t, uint32_t)
DEF_COMBINE(combine_i32, int32_t, uint32_t)
DEF_COMBINE(combine_u32, uint32_t, uint32_t)
DEF_COMBINE(combine_i64, int64_t, uint64_t)
DEF_COMBINE(combine_u64, uint64_t, uint64_t)

/* float16 / bfloat16: through float. */
#define DEF_COMBINE_HALF(name, to_f, from_f)                                   \
    static void name(void *dst, const void *src, int64_t n, reduction r) {     \
        uint16_t *d = dst;                                                     \
        const uint16_t *s = src;                                               \
        for (int64_t i = 0; i < n; i++) {                                      \
            float a = to_f(d[i]), b = to_f(s[i]);                              \
            combine_f32(&a, &b, 1, r);                                         \
            d[i] = from_f(a);                                                  \
        }                                                                      \
    }

DEF_COMBINE_HALF(combine_f16, dtype_half_to_float, dtype_float_to_half)
DEF_COMBINE_HALF(combine_bf16, dtype_bfloat16_to_float, dtype_float_to_bfloat16)

typedef void (*combine_fn)(void *dst, const void *src, int64_t n, reduction r);

static combine_fn combine_for(engine_dtype dt) {
    switch (dt) {
    case ENGINE_FLOAT: return combine_f32;
    case ENGINE_DOUBLE: return combine_f64;
    case ENGINE_FLOAT16: return combine_f16;
    case ENGINE_BFLOAT16: return combine_bf16;
    case ENGINE_INT8: return combine_i8;
    case ENGINE_UINT8: return combine_u8;
    case ENGINE_INT16: return combine_i16;
    case ENGINE_UINT16: return combine_u16;
    case ENGINE_INT32: return combine_i32;
    case ENGINE_UINT32: return combine_u32;
    case ENGINE_INT64: return combine_i64;
    case ENGINE_UINT64: return combine_u64;
    default: return NULL;
    }
}

static int parse_reduction(const char *s, reduction *r) {
    static const char *const names[] = {"none", "add", "mul", "max", "min"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0) {
            *r = (reduction)i;
            return 0;
        }
    return -1;
}

static status scatter_prepare(graph *g, node *n, errinfo *err) {
    reduction r;
    const char *red = node_attr_string(n, "reduction", "none");
    if (parse_reduction(red, &r) || (r != RED_NONE && n->opset < 16) ||
        (r >= RED_MAX && n->opset < 18))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "reduction '%s' is not supported at opset %d", red, n->opset);
    engine_dtype dt = node_input_dtype(g, n, 0), ut = node_input_dtype(g, n, 2);
    if (ut != ENGINE_UNDEFINED && dt != ENGINE_UNDEFINED && ut != dt)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "updates have type %s, expected %s like data",
                               engine_dtype_name(ut), engine_dtype_name(dt));
    if (r != RED_NONE && !combine_for(dt))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "reduction '%s' on type %s is not supported", red,
                               engine_dtype_name(dt));
    status st = tutil_check_index_input(g, n, err, 1, "indices");
    return st ? st : tutil_prepare_data(g, n, err);
}

/* Copies data to the output and returns the reduction to apply. */
static status scatter_begin(const node *n, exec_ctx *x, const engine_tensor **data,
                            const engine_tensor **ind, const engine_tensor **upd,
                            engine_tensor **y, reduction *r) {
    *data = exec_input(x, 0);
    *ind = exec_input(x, 1);
    *upd = exec_input(x, 2);
    if (!*data || !*ind || !*upd) return exec_fail(x, STATUS_INVALID_ARGUMENT, "an input is missing");
    if ((*upd)->dtype != (*data)->dtype)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "updates have type %s, expected %s",
                         engine_dtype_name((*upd)->dtype), engine_dtype_name((*data)->dtype));
    *r = RED_NONE;
    parse_reduction(node_attr_string(n, "reduction", "none"), r);
    status st = exec_output(x, 0, (*data)->dtype, &(*data)->shape, y);
    if (st) return st;
    size_t bytes = (size_t)engine_shape_numel(&(*data)->shape) * engine_dtype_size((*data)->dtype);
    if (bytes) memcpy((*y)->data, (*data)->data, bytes);
    return STATUS_OK;
}

static void apply(reduction r, combine_fn fn, size_t es, void *dst, const void *src, int64_t n) {
    if (r == RED_NONE) memcpy(dst, src, (size_t)n * es);
    else fn(dst, src, n, r);
}

/* ---- ScatterElements, Scatter ----------------------------------------------------- */

static status scatter_elements_run(const node *n, exec_ctx *x) {
    const engine_tensor *data, *ind, *upd;
    engine_tensor *y;
    reduction r;
    status st = scatter_begin(n, x, &data, &ind, &upd, &y, &r);
    if (st) return st;
    int rank = data->shape.rank;
    int64_t axis_attr = node_attr_int(n, "axis", 0);
    int axis = shape_normalize_axis(axis_attr, rank);
    if (axis < 0 || ind->shape.rank != rank || !shape_equal(&ind->shape, &upd->shape))
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "axis %lld, indices and updates (same shape) must fit data rank %d",
                         (long long)axis_attr, rank);
    for (int d = 0; d < rank; d++)
        if (d != axis && ind->shape.dims[d] > data->shape.dims[d])
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "indices dim %d (%lld) exceeds the data's (%lld)", d,
                             (long long)ind->shape.dims[d], (long long)data->shape.dims[d]);
    /* Walk the indices' positions with an odometer; base is the data offset
     * of that position with the axis coordinate left out. */
    int64_t strides[ENGINE_MAX_RANK], pos[ENGINE_MAX_RANK] = {0}, base = 0;
    shape_strides(&data->shape, strides);
    int64_t count = engine_shape_numel(&ind->shape), dim = data->shape.dims[axis];
    size_t es = engine_dtype_size(data->dtype);
    combine_fn fn = combine_for(data->dtype);
    for (int64_t i = 0; i < count; i++) {
        int64_t k = tutil_index_at(ind, i);
        if (k < -dim || k >= dim)
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "indices[%lld] is %lld, out of range for a dim of size %lld",
                             (long long)i, (long long)k, (long long)dim);
        int64_t off = base + (k < 0 ? k + dim : k) * strides[axis];
        apply(r, fn, es, (char *)y->data + (size_t)off * es,
              (const char *)upd->data + (size_t)i * es, 1);
        for (int d = rank - 1; d >= 0; d--) {
            if (d != axis) base += strides[d];
            if (++pos[d] < ind->shape.dims[d]) break;
            if (d != axis) base -= pos[d] * strides[d];
            pos[d] = 0;
        }
    }
    return STATUS_OK;
}

/* ---- ScatterND ------------------------------------------------------------------- */

static status scatter_nd_run(const node *n, exec_ctx *x) {
    const engine_tensor *data, *ind, *upd;
    engine_tensor *y;
    reduction r;
    status st = scatter_begin(n, x, &data, &ind, &upd, &y, &r);
    if (st) return st;
    int rank = data->shape.rank, q = ind->shape.rank;
    int64_t m = q ? ind->shape.dims[q - 1] : 0;
    if (q < 1 || m < 1 || m > rank)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "indices' last dim is %lld, expected 1..%d", (long long)m, rank);
    /* updates must be indices.shape[:-1] + data.shape[m:] */
    engine_shape want = {0, {0}};
    for (int d = 0; d < q - 1; d++) want.dims[want.rank++] = ind->shape.dims[d];
    if (want.rank + rank - m > ENGINE_MAX_RANK)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "updates rank exceeds %d", ENGINE_MAX_RANK);
    for (int d = (int)m; d < rank; d++) want.dims[want.rank++] = data->shape.dims[d];
    if (!shape_equal(&want, &upd->shape)) {
        char a[96], b[96];
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "updates have shape %s, expected %s",
                         shape_format(&upd->shape, a, sizeof a), shape_format(&want, b, sizeof b));
    }
    int64_t strides[ENGINE_MAX_RANK];
    shape_strides(&data->shape, strides);
    int64_t tuples = engine_shape_numel(&ind->shape) / m;
    int64_t slice = shape_span(&data->shape, (int)m, rank);
    size_t es = engine_dtype_size(data->dtype);
    combine_fn fn = combine_for(data->dtype);
    for (int64_t t = 0; t < tuples; t++) {
        int64_t off = 0;
        for (int64_t k = 0; k < m; k++) {
            int64_t dim = data->shape.dims[k], v = tutil_index_at(ind, t * m + k);
            if (v < -dim || v >= dim)
                return exec_fail(x, STATUS_INVALID_ARGUMENT,
                                 "index %lld in tuple %lld is out of range for dim %lld of size %lld",
                                 (long long)v, (long long)t, (long long)k, (long long)dim);
            off += (v < 0 ? v + dim : v) * strides[k];
        }
        apply(r, fn, es, (char *)y->data + (size_t)off * es,
              (const char *)upd->data + (size_t)(t * slice) * es, slice);
    }
    return STATUS_OK;
}

const op_desc op_family_tensor_scatter[] = {
    {.type = "Scatter", .since = 9, .prepare = scatter_prepare, .run = scatter_elements_run},
    {.type = "ScatterElements", .since = 11, .prepare = scatter_prepare,
     .run = scatter_elements_run},
    {.type = "ScatterND", .since = 11, .prepare = scatter_prepare, .run = scatter_nd_run},
    {0},
};
