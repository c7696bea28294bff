/* tensor_index.c -- reading a tensor at given positions: Slice, Gather,
 * GatherElements, GatherND.
 *
 * Slice is a strided view (kernels/strided_copy.h). The gathers first check
 * and normalise every index (negative ones count from the end) into a
 * scratch array, so a bad index fails with a message naming it before any
 * output is written, then copy rows (memcpy) or single elements (by element
 * size). Every dtype works. */
#include <string.h>

#include "../shape.h"
#include "tensor_util.h"

/* ---- shared -------------------------------------------------------------------- */

static status index_prepare(graph *g, node *n, errinfo *err) {
    status st = tutil_check_index_input(g, n, err, 1, "indices");
    return st ? st : tutil_prepare_data(g, n, err);
}

/* Copies indices (int32/int64) into a scratch array of int64, each mapped
 * from [-dim, dim) to [0, dim); fails naming the first bad one. */
static status normalize_indices(exec_ctx *x, const engine_tensor *idx, int64_t dim,
                                const char *what, int64_t **out) {
    int64_t n = engine_shape_numel(&idx->shape);
    int64_t *v = exec_scratch(x, (size_t)(n ? n : 1) * sizeof *v);
    if (!v) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        int64_t k = tutil_index_at(idx, i);
        if (k < -dim || k >= dim)
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "%s[%lld] is %lld, out of range for a dim of size %lld "
                             "(expected %lld..%lld)",
                             what, (long long)i, (long long)k, (long long)dim, (long long)-dim,
                             (long long)(dim - 1));
        v[i] = k < 0 ? k + dim : k;
    }
    *out = v;
    return STATUS_OK;
}

/* dst[i] = src[off[i]] for elements of size es. */
#define GATHER_AS(T)                                                           \
    do {                                                                       \
        const T *restrict s = src;                                            \
        T *restrict d = dst;                                                  \
        for (int64_t i = 0; i < n; i++) d[i] = s[off[i]];                      \
    } while (0)

static void gather_elems(size_t es, const void *src, void *dst, const int64_t *off, int64_t n) {
    switch (es) {
    case 1: GATHER_AS(uint8_t); break;
    case 2: GATHER_AS(uint16_t); break;
    case 4: GATHER_AS(uint32_t); break;
    case 8: GATHER_AS(uint64_t); break;
    default:
        for (int64_t i = 0; i < n; i++)
            memcpy((char *)dst + (size_t)i * es, (const char *)src + (size_t)off[i] * es, es);
    }
}

/* ---- Gather ---------------------------------------------------------------------- */

typedef struct gather_job {
    const char *src;
    char *dst;
    const int64_t *idx;
    int64_t n_idx, dim, inner;
    size_t es;
} gather_job;

/* With rows of one element the units are the outer positions (an element
 * gather each); otherwise each unit is one (outer, index) row to memcpy, so
 * a single embedding lookup still spreads over threads. */
static void gather_copy(void *ctx, int64_t begin, int64_t end) {
    const gather_job *j = ctx;
    size_t row = (size_t)j->inner * j->es;
    if (j->inner == 1) {
        for (int64_t o = begin; o < end; o++)
            gather_elems(j->es, j->src + (size_t)(o * j->dim) * row,
                         j->dst + (size_t)(o * j->n_idx) * row, j->idx, j->n_idx);
        return;
    }
    for (int64_t u = begin; u < end; u++) {
        int64_t o = u / j->n_idx, i = u % j->n_idx;
        memcpy(j->dst + (size_t)u * row, j->src + (size_t)(o * j->dim + j->idx[i]) * row, row);
    }
}

static status gather_run(const node *n, exec_ctx *x) {
    const engine_tensor *data = exec_input(x, 0), *ind = exec_input(x, 1);
    if (!data || !ind) return exec_fail(x, STATUS_INVALID_ARGUMENT, "an input is missing");
    int r = data->shape.rank, q = ind->shape.rank;
    int64_t axis_attr = node_attr_int(n, "axis", 0);
    int axis = shape_normalize_axis(axis_attr, r);
    if (axis < 0)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                         (long long)axis_attr, r);
    if (r - 1 + q > ENGINE_MAX_RANK)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "output rank %d exceeds %d", r - 1 + q,
                         ENGINE_MAX_RANK);
    gather_job j = {.src = data->data, .dim = data->shape.dims[axis],
                    .inner = shape_span(&data->shape, axis + 1, r),
                    .n_idx = engine_shape_numel(&ind->shape),
                    .es = engine_dtype_size(data->dtype)};
    int64_t *idx;
    status st = normalize_indices(x, ind, j.dim, "indices", &idx);
    if (st) return st;
    j.idx = idx;
    engine_shape s = {0, {0}};
    for (int d = 0; d < axis; d++) s.dims[s.rank++] = data->shape.dims[d];
    for (int d = 0; d < q; d++) s.dims[s.rank++] = ind->shape.dims[d];
    for (int d = axis + 1; d < r; d++) s.dims[s.rank++] = data->shape.dims[d];
    engine_tensor *y;
    if ((st = exec_output(x, 0, data->dtype, &s, &y))) return st;
    j.dst = y->data;
    int64_t outer = shape_span(&data->shape, 0, axis);
    int64_t bytes = engine_shape_numel(&s) * (int64_t)j.es;
    int64_t units = j.inner == 1 ? outer : outer * j.n_idx;
    if (bytes == 0) return STATUS_OK;
    if (units > 1 && exec_threads(x) > 1 && bytes >= (1 << 18))
        exec_parallel_for(x, units, gather_copy, &j);
    else
        gather_copy(&j, 0, units);
    return STATUS_OK;
}

/* ---- GatherElements ------------------------------------------------------------------ */

static status gather_elements_run(const node *n, exec_ctx *x) {
    const engine_tensor *data = exec_input(x, 0), *ind = exec_input(x, 1);
    if (!data || !ind) return exec_fail(x, STATUS_INVALID_ARGUMENT, "an input is missing");
    int r = data->shape.rank;
    int64_t axis_attr = node_attr_int(n, "axis", 0);
    int axis = shape_normalize_axis(axis_attr, r);
    if (axis < 0 || ind->shape.rank != r)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "axis %lld and indices rank %d must fit data rank %d",
                         (long long)axis_attr, ind->shape.rank, r);
    for (int d = 0; d < r; d++)
        if (d != axis && ind->shape.dims[d] > data->shape.dims[d])
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "indices dim %d (%lld) exceeds the data's (%lld)", d,
                             (long long)ind->shape.dims[d], (long long)data->shape.dims[d]);
    int64_t *off;
    status st = normalize_indices(x, ind, data->shape.dims[axis], "indices", &off);
    if (st) return st;
    engine_tensor *y;
    if ((st = exec_output(x, 0, data->dtype, &ind->shape, &y))) return st;
    /* Turn each index into a source offset: walk the indices' positions
     * with an odometer, adding the data strides of every other dim. */
    int64_t strides[ENGINE_MAX_RANK], pos[ENGINE_MAX_RANK] = {0}, base = 0;
    shape_strides(&data->shape, strides);
    int64_t count = engine_shape_numel(&ind->shape);
    for (int64_t i = 0; i < count; i++) {
        off[i] = base + off[i] * strides[axis];
        for (int d = r - 1; d >= 0; d--) {
            if (d != axis) base += strides[d];
            if (++pos[d] < ind->shape.dims[d]) break;
            if (d != axis) base -= pos[d] * strides[d];
            pos[d] = 0;
        }
    }
    gather_elems(engine_dtype_size(data->dtype), data->data, y->data, off, count);
    return STATUS_OK;
}

/* ---- GatherND --------------------------------------------------------------------------- */

static status gather_nd_run(const node *n, exec_ctx *x) {
    const engine_tensor *data = exec_input(x, 0), *ind = exec_input(x, 1);
    if (!data || !ind) return exec_fail(x, STATUS_INVALID_ARGUMENT, "an input is missing");
    int r = data->shape.rank, q = ind->shape.rank;
    int64_t b = n->opset >= 12 ? node_attr_int(n, "batch_dims", 0) : 0;
    if (q < 1 || b < 0 || b >= q || b >= r)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "batch_dims %lld must be less than the ranks of data (%d) and indices (%d)",
                         (long long)b, r, q);
    int64_t m = ind->shape.dims[q - 1];
    if (m < 1 || m > r - b)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "indices' last dim is %lld, expected 1..%lld", (long long)m,
                         (long long)(r - b));
    for (int d = 0; d < b; d++)
        if (ind->shape.dims[d] != data->shape.dims[d])
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "batch dim %d differs: data %lld, indices %lld", d,
                             (long long)data->shape.dims[d], (long long)ind->shape.dims[d]);
    engine_shape s = {0, {0}};
    for (int d = 0; d < q - 1; d++) s.dims[s.rank++] = ind->shape.dims[d];
    if (s.rank + r - (b + m) > ENGINE_MAX_RANK)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "output rank exceeds %d", ENGINE_MAX_RANK);
    for (int d = (int)(b + m); d < r; d++) s.dims[s.rank++] = data->shape.dims[d];
    int64_t strides[ENGINE_MAX_RANK];
    shape_strides(&data->shape, strides);
    int64_t batches = shape_span(&data->shape, 0, (int)b);
    int64_t tuples = engine_shape_numel(&ind->shape) / m; /* over all batches */
    int64_t per_batch = batches ? tuples / batches : 0;
    int64_t slice = shape_span(&data->shape, (int)(b + m), r);
    int64_t batch_stride = b ? strides[b - 1] : 0;
    engine_tensor *y;
    status st = exec_output(x, 0, data->dtype, &s, &y);
    if (st) return st;
    size_t es = engine_dtype_size(data->dtype), row = (size_t)slice * es;
    for (int64_t t = 0; t < tuples; t++) {
        int64_t off = (t / per_batch) * batch_stride;
        for (int64_t k = 0; k < m; k++) {
            int64_t dim = data->shape.dims[b + k], v = tutil_index_at(ind, t * m + k);
            if (v < -dim || v >= dim)
                return exec_fail(x, STATUS_INVALID_ARGUMENT,
                                 "index %lld in tuple %lld is out of range for dim %lld of size %lld",
                                 (long long)v, (long long)t, (long long)(b + k), (long long)dim);
            off += (v < 0 ? v + dim : v) * strides[b + k];
        }
        memcpy((char *)y->data + (size_t)t * row, (const char *)data->data + (size_t)off * es, row);
    }
    return STATUS_OK;
}

/* ---- Slice --------------------------------------------------------------------------------- */

static status slice_prepare(graph *g, node *n, errinfo *err) {
    status st = STATUS_OK;
    if (n->opset < 10) {
        if (node_attr_ints(n, "starts", &(const int64_t *){0}) < 0 ||
            node_attr_ints(n, "ends", &(const int64_t *){0}) < 0)
            return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                                   "attributes 'starts' and 'ends' are required");
    } else {
        static const char *const what[] = {"", "starts", "ends", "axes", "steps"};
        for (int i = 1; i <= 4 && !st; i++) st = tutil_check_index_input(g, n, err, i, what[i]);
    }
    return st ? st : tutil_prepare_data(g, n, err);
}

/* starts, ends, axes, steps: attributes before opset 10, inputs after. */
typedef struct slice_args {
    int n;
    int64_t starts[ENGINE_MAX_RANK], ends[ENGINE_MAX_RANK], axes[ENGINE_MAX_RANK],
        steps[ENGINE_MAX_RANK];
} slice_args;

static status slice_list(const node *n, exec_ctx *x, int i, const char *what, int64_t *out,
                         int *count) {
    if (n->opset >= 10) {
        if (!exec_input(x, i)) {
            *count = -1;
            return STATUS_OK;
        }
        return tutil_read_ints(x, i, what, out, ENGINE_MAX_RANK, count);
    }
    const int64_t *a;
    *count = node_attr_ints(n, what, &a);
    if (*count > ENGINE_MAX_RANK)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "%s has %d entries, at most %d allowed",
                         what, *count, ENGINE_MAX_RANK);
    if (*count > 0) memcpy(out, a, (size_t)*count * sizeof *out);
    return STATUS_OK;
}

static status slice_read(const node *n, exec_ctx *x, int r, slice_args *a) {
    int ns, ne, na, nst;
    status st = slice_list(n, x, 1, "starts", a->starts, &ns);
    if (!st) st = slice_list(n, x, 2, "ends", a->ends, &ne);
    if (!st) st = slice_list(n, x, 3, "axes", a->axes, &na);
    if (!st) st = slice_list(n, x, 4, "steps", a->steps, &nst);
    if (st) return st;
    if (ns < 0 || ns != ne || (na >= 0 && na != ns) || (nst >= 0 && nst != ns))
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "starts, ends, axes and steps must have the same length");
    a->n = ns;
    for (int i = 0; i < ns; i++) {
        if (na < 0) a->axes[i] = i;
        if (nst < 0) a->steps[i] = 1;
        int ax = shape_normalize_axis(a->axes[i], r);
        if (ax < 0)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                             (long long)a->axes[i], r);
        a->axes[i] = ax;
        if (a->steps[i] == 0) return exec_fail(x, STATUS_INVALID_ARGUMENT, "a step is 0");
    }
    return STATUS_OK;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

static status slice_run(const node *n, exec_ctx *x) {
    const engine_tensor *in = exec_input(x, 0);
    if (!in) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input 0 is missing");
    int r = in->shape.rank;
    slice_args a;
    status st = slice_read(n, x, r, &a);
    if (st) return st;
    int64_t in_strides[ENGINE_MAX_RANK], strides[ENGINE_MAX_RANK], off = 0;
    int seen[ENGINE_MAX_RANK] = {0};
    shape_strides(&in->shape, in_strides);
    engine_shape s = in->shape;
    for (int d = 0; d < r; d++) strides[d] = in_strides[d];
    for (int i = 0; i < a.n; i++) {
        int d = (int)a.axes[i];
        if (seen[d]++) return exec_fail(x, STATUS_INVALID_ARGUMENT, "axis %d is repeated", d);
        int64_t dim = in->shape.dims[d], step = a.steps[i];
        /* a step beyond the dim takes at most one element either way; clamp
         * it so stride arithmetic cannot overflow */
        step = clamp64(step, -dim - 1, dim + 1);
        int64_t start = a.starts[i], end = a.ends[i];
        if (start < 0) start = start < -dim ? -1 : start + dim;
        if (end < 0) end = end < -dim ? -1 : end + dim;
        int64_t count;
        if (step > 0) {
            start = clamp64(start, 0, dim);
            end = clamp64(end, 0, dim);
            count = end > start ? (end - start - 1) / step + 1 : 0;
        } else {
            start = clamp64(start, 0, dim - 1);
            end = clamp64(end, -1, dim - 1);
            count = start > end ? (start - end - 1) / -step + 1 : 0;
        }
        s.dims[d] = count;
        strides[d] = in_strides[d] * step;
        if (count) off += start * in_strides[d];
    }
    engine_tensor *y;
    if ((st = exec_output(x, 0, in->dtype, &s, &y))) return st;
    if (engine_shape_numel(&s) == 0) return STATUS_OK;
    size_t es = engine_dtype_size(in->dtype);
    tutil_copy(x, es, r, s.dims, strides, (const char *)in->data + (size_t)off * es, y->data);
    return STATUS_OK;
}

const op_desc op_family_tensor_index[] = {
    {.type = "Slice", .since = 1, .prepare = slice_prepare, .run = slice_run},
    {.type = "Gather", .since = 1, .prepare = index_prepare, .run = gather_run},
    {.type = "GatherElements", .since = 11, .prepare = index_prepare, .run = gather_elements_run},
    {.type = "GatherND", .since = 11, .prepare = index_prepare, .run = gather_nd_run},
    {0},
};
