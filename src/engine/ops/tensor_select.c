/* tensor_select.c -- operators whose output depends on the values they
 * select: NonZero, Compress, Unique, ReverseSequence (TopK is in topk.c).
 *
 * NonZero, Compress and Unique have data-dependent output shapes, computed
 * at run time before exec_output(). Unique orders slices with a stable merge
 * sort of positions (so each run of equal slices starts with its first
 * occurrence), comparing elements by type so int64 values are never rounded
 * through double. Selected values are copied as bytes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../dtype.h"
#include "../shape.h"
#include "tensor_util.h"

/* ---- stable sort of positions ------------------------------------------------------ */

typedef int (*pos_cmp)(const void *ctx, int64_t a, int64_t b);

/* Sorts idx[0..n) with cmp, stably; tmp has room for n entries. */
static void sort_positions(int64_t *idx, int64_t *tmp, int64_t n, pos_cmp cmp, const void *ctx) {
    for (int64_t width = 1; width < n; width *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * width) {
            int64_t mid = lo + width < n ? lo + width : n;
            int64_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = cmp(ctx, idx[j], idx[i]) < 0 ? idx[j++] : idx[i++];
            while (i < mid) tmp[k++] = idx[i++];
            while (j < hi) tmp[k++] = idx[j++];
        }
        memcpy(idx, tmp, (size_t)n * sizeof *idx);
    }
}

/* Three-way comparison of element i of a and element j of b, both of type
 * dt. NaN sorts after every number (as numpy does). */
static int elem_cmp(engine_dtype dt, const void *a, int64_t i, const void *b, int64_t j) {
    switch (dt) {
    case ENGINE_INT64: {
        int64_t x = ((const int64_t *)a)[i], y = ((const int64_t *)b)[j];
        return (x > y) - (x < y);
    }
    case ENGINE_UINT64: case ENGINE_UINT32: {
        uint64_t x = (uint64_t)dtype_load_int64(dt, a, i), y = (uint64_t)dtype_load_int64(dt, b, j);
        return (x > y) - (x < y);
    }
    default: {
        double x = dtype_load_double(dt, a, i), y = dtype_load_double(dt, b, j);
        if (isnan(x) || isnan(y)) return isnan(x) - isnan(y);
        return (x > y) - (x < y);
    }
    }
}

static int sortable(engine_dtype dt) {
    return dtype_is_float(dt) || dtype_is_int(dt) || dt == ENGINE_BOOL;
}

/* ---- NonZero ----------------------------------------------------------------------- */

static status nonzero_prepare(graph *g, node *n, errinfo *err) {
    engine_dtype dt = node_input_dtype(g, n, 0);
    if (!sortable(dt))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "input type %s is not supported",
                               engine_dtype_name(dt));
    node_set_output_dtype(g, n, 0, ENGINE_INT64);
    return STATUS_OK;
}

/* mask[i] = element i is not zero. -0.0 is zero; NaN is not. */
static void nonzero_mask(const engine_tensor *t, int64_t n, uint8_t *mask) {
    switch (t->dtype) {
    case ENGINE_FLOAT:
        for (int64_t i = 0; i < n; i++) mask[i] = ((const float *)t->data)[i] != 0;
        break;
    case ENGINE_DOUBLE:
        for (int64_t i = 0; i < n; i++) mask[i] = ((const double *)t->data)[i] != 0;
        break;
    case ENGINE_FLOAT16: case ENGINE_BFLOAT16: /* all bits but the sign */
        for (int64_t i = 0; i < n; i++) mask[i] = (((const uint16_t *)t->data)[i] & 0x7fff) != 0;
        break;
    default: { /* integers and bool: any set bit */
        size_t es = engine_dtype_size(t->dtype);
        const unsigned char *p = t->data;
        for (int64_t i = 0; i < n; i++) {
            unsigned char any = 0;
            for (size_t b = 0; b < es; b++) any |= p[(size_t)i * es + b];
            mask[i] = any != 0;
        }
    }
    }
}

static status nonzero_run(const node *n, exec_ctx *x) {
    (void)n;
    const engine_tensor *in = exec_input(x, 0);
    if (!in) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input 0 is missing");
    int64_t total = engine_shape_numel(&in->shape), nnz = 0;
    uint8_t *mask = exec_scratch(x, (size_t)(total ? total : 1));
    if (!mask) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    nonzero_mask(in, total, mask);
    for (int64_t i = 0; i < total; i++) nnz += mask[i];
    int r = in->shape.rank;
    engine_shape s = {2, {r, nnz}};
    engine_tensor *y;
    status st = exec_output(x, 0, ENGINE_INT64, &s, &y);
    if (st) return st;
    int64_t *out = y->data, col = 0;
    for (int64_t i = 0; i < total; i++) {
        if (!mask[i]) continue;
        int64_t rem = i;
        for (int d = r - 1; d >= 0; d--) {
            out[d * nnz + col] = rem % in->shape.dims[d];
            rem /= in->shape.dims[d];
        }
        col++;
    }
    return STATUS_OK;
}

/* ---- Compress ---------------------------------------------------------------------- */

static status compress_prepare(graph *g, node *n, errinfo *err) {
    engine_dtype ct = node_input_dtype(g, n, 1);
    if (ct != ENGINE_BOOL && ct != ENGINE_UNDEFINED)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "condition has type %s, expected bool",
                               engine_dtype_name(ct));
    return tutil_prepare_data(g, n, err);
}

static status compress_run(const node *n, exec_ctx *x) {
    const engine_tensor *in = exec_input(x, 0), *cond = exec_input(x, 1);
    if (!in || !cond) return exec_fail(x, STATUS_INVALID_ARGUMENT, "an input is missing");
    if (cond->shape.rank != 1)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "condition has rank %d, expected 1",
                         cond->shape.rank);
    /* Without an axis the input is read flat: one dim of all its elements. */
    engine_shape flat = {1, {engine_shape_numel(&in->shape)}};
    const engine_shape *ish = &in->shape;
    int axis = 0;
    if (node_attr(n, "axis")) {
        int64_t a = node_attr_int(n, "axis", 0);
        axis = shape_normalize_axis(a, ish->rank);
        if (axis < 0)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                             (long long)a, ish->rank);
    } else {
        ish = &flat;
    }
    int64_t dim = ish->dims[axis], len = cond->shape.dims[0], kept = 0;
    if (len > dim)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "condition has %lld entries, more than the axis size %lld",
                         (long long)len, (long long)dim);
    const uint8_t *c = cond->data;
    for (int64_t i = 0; i < len; i++) kept += c[i] != 0;
    engine_shape s = *ish;
    s.dims[axis] = kept;
    engine_tensor *y;
    status st = exec_output(x, 0, in->dtype, &s, &y);
    if (st) return st;
    int64_t outer = shape_span(ish, 0, axis), inner = shape_span(ish, axis + 1, ish->rank);
    size_t row = (size_t)inner * engine_dtype_size(in->dtype);
    char *dst = y->data;
    if (row == 0) return STATUS_OK;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < len; i++)
            if (c[i]) {
                memcpy(dst, (const char *)in->data + (size_t)(o * dim + i) * row, row);
                dst += row;
            }
    return STATUS_OK;
}

/* ---- Unique ------------------------------------------------------------------------ */

/* Slices along the axis are gathered into rows of `len` elements. */
typedef struct slices_ctx {
    engine_dtype dt;
    const char *rows;
    int64_t len;
} slices_ctx;

static int slice_cmp(const void *ctx, int64_t a, int64_t b) {
    const slices_ctx *c = ctx;
    for (int64_t e = 0; e < c->len; e++) {
        int r = elem_cmp(c->dt, c->rows, a * c->len + e, c->rows, b * c->len + e);
        if (r) return r;
    }
    return 0;
}

static int first_cmp(const void *ctx, int64_t a, int64_t b) {
    const int64_t *first = ctx;
    return (first[a] > first[b]) - (first[a] < first[b]);
}

static status unique_prepare(graph *g, node *n, errinfo *err) {
    engine_dtype dt = node_input_dtype(g, n, 0);
    if (!sortable(dt))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "input type %s is not supported",
                               engine_dtype_name(dt));
    node_set_output_dtype(g, n, 0, dt);
    for (int k = 1; k < 4; k++) node_set_output_dtype(g, n, k, ENGINE_INT64);
    return STATUS_OK;
}

static status unique_outputs(exec_ctx *x, const engine_tensor *in, const engine_shape *ish,
                             int axis, int64_t nu, const int64_t *first, const int64_t *inverse,
                             const int64_t *counts) {
    int64_t dim = ish->dims[axis], outer = shape_span(ish, 0, axis);
    int64_t inner = shape_span(ish, axis + 1, ish->rank);
    size_t row = (size_t)inner * engine_dtype_size(in->dtype);
    engine_shape s = *ish, s1 = {1, {nu}}, sd = {1, {dim}};
    s.dims[axis] = nu;
    engine_tensor *y, *t;
    status st = exec_output(x, 0, in->dtype, &s, &y);
    if (st) return st;
    for (int64_t o = 0; o < outer && row; o++)
        for (int64_t u = 0; u < nu; u++)
            memcpy((char *)y->data + (size_t)(o * nu + u) * row,
                   (const char *)in->data + (size_t)(o * dim + first[u]) * row, row);
    const int64_t *src[3] = {first, inverse, counts};
    const engine_shape *shp[3] = {&s1, &sd, &s1};
    for (int k = 1; k < 4 && k < exec_output_count(x); k++) {
        if ((st = exec_output(x, k, ENGINE_INT64, shp[k - 1], &t))) return st;
        if (shp[k - 1]->dims[0]) memcpy(t->data, src[k - 1], (size_t)shp[k - 1]->dims[0] * 8);
    }
    return STATUS_OK;
}

static status unique_run(const node *n, exec_ctx *x) {
    const engine_tensor *in = exec_input(x, 0);
    if (!in) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input 0 is missing");
    engine_shape flat = {1, {engine_shape_numel(&in->shape)}};
    const engine_shape *ish = &flat;
    int axis = 0;
    if (node_attr(n, "axis")) {
        int64_t a = node_attr_int(n, "axis", 0);
        axis = shape_normalize_axis(a, in->shape.rank);
        if (axis < 0)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                             (long long)a, in->shape.rank);
        ish = &in->shape;
    }
    int64_t dim = ish->dims[axis], outer = shape_span(ish, 0, axis);
    int64_t inner = shape_span(ish, axis + 1, ish->rank), len = outer * inner;
    size_t es = engine_dtype_size(in->dtype), cnt = (size_t)(dim ? dim : 1);
    char *rows = exec_scratch(x, cnt * (size_t)(len ? len : 1) * es);
    int64_t *idx = exec_scratch(x, cnt * 8), *tmp = exec_scratch(x, cnt * 8);
    int64_t *first = exec_scratch(x, cnt * 8), *inverse = exec_scratch(x, cnt * 8);
    int64_t *counts = exec_scratch(x, cnt * 8);
    if (!rows || !idx || !tmp || !first || !inverse || !counts)
        return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    /* slice j as row j: the view [dim, outer, inner] of [outer, dim, inner] */
    int64_t dims[3] = {dim, outer, inner}, strides[3] = {inner, dim * inner, 1};
    tutil_copy(x, es, 3, dims, strides, in->data, rows);
    slices_ctx c = {in->dtype, rows, len};
    for (int64_t j = 0; j < dim; j++) idx[j] = j;
    sort_positions(idx, tmp, dim, slice_cmp, &c);
    /* Runs of equal slices; the stable sort puts each run's first
     * occurrence first. tmp[j] = run number of sorted position j. */
    int64_t nu = 0;
    for (int64_t j = 0; j < dim; j++) {
        if (j == 0 || slice_cmp(&c, idx[j - 1], idx[j]) != 0) {
            first[nu] = idx[j];
            counts[nu++] = 0;
        }
        counts[nu - 1]++;
        inverse[idx[j]] = nu - 1;
    }
    if (node_attr_int(n, "sorted", 1) == 0) {
        /* renumber runs by first occurrence: sort run ids by their first index */
        int64_t *order = tmp, *rank_of = idx, *buf = exec_scratch(x, cnt * 8);
        int64_t *f2 = exec_scratch(x, cnt * 8), *c2 = exec_scratch(x, cnt * 8);
        if (!buf || !f2 || !c2) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
        for (int64_t u = 0; u < nu; u++) order[u] = u;
        sort_positions(order, buf, nu, first_cmp, first);
        for (int64_t u = 0; u < nu; u++) {
            rank_of[order[u]] = u;
            f2[u] = first[order[u]];
            c2[u] = counts[order[u]];
        }
        for (int64_t j = 0; j < dim; j++) buf[j] = rank_of[inverse[j]];
        return unique_outputs(x, in, ish, axis, nu, f2, buf, c2);
    }
    return unique_outputs(x, in, ish, axis, nu, first, inverse, counts);
}

/* ---- ReverseSequence --------------------------------------------------------------- */

static status revseq_prepare(graph *g, node *n, errinfo *err) {
    int64_t t = node_attr_int(n, "time_axis", 0), b = node_attr_int(n, "batch_axis", 1);
    if (!((t == 0 && b == 1) || (t == 1 && b == 0)))
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "time_axis %lld and batch_axis %lld must be 0 and 1 in some order",
                               (long long)t, (long long)b);
    status st = tutil_check_index_input(g, n, err, 1, "sequence_lens");
    return st ? st : tutil_prepare_data(g, n, err);
}

static status revseq_run(const node *n, exec_ctx *x) {
    const engine_tensor *in = exec_input(x, 0), *lens = exec_input(x, 1);
    if (!in || !lens) return exec_fail(x, STATUS_INVALID_ARGUMENT, "an input is missing");
    int time_axis = (int)node_attr_int(n, "time_axis", 0), batch_axis = 1 - time_axis;
    if (in->shape.rank < 2)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "input has rank %d, expected at least 2",
                         in->shape.rank);
    int64_t T = in->shape.dims[time_axis], B = in->shape.dims[batch_axis];
    if (lens->shape.rank != 1 || lens->shape.dims[0] != B)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "sequence_lens must have one entry per batch (%lld)", (long long)B);
    engine_tensor *y;
    status st = exec_output(x, 0, in->dtype, &in->shape, &y);
    if (st) return st;
    int64_t inner = shape_span(&in->shape, 2, in->shape.rank);
    size_t row = (size_t)inner * engine_dtype_size(in->dtype);
    /* element (t, b) starts at (t * tstride + b * bstride) rows */
    int64_t tstride = time_axis == 0 ? B : 1, bstride = time_axis == 0 ? 1 : T;
    for (int64_t b = 0; b < B && row; b++) {
        int64_t len = tutil_index_at(lens, b);
        if (len < 0 || len > T)
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "sequence_lens[%lld] is %lld, expected 0..%lld", (long long)b,
                             (long long)len, (long long)T);
        for (int64_t t = 0; t < T; t++) {
            int64_t from = t < len ? len - 1 - t : t;
            memcpy((char *)y->data + (size_t)(t * tstride + b * bstride) * row,
                   (const char *)in->data + (size_t)(from * tstride + b * bstride) * row, row);
        }
    }
    return STATUS_OK;
}

const op_desc op_family_tensor_select[] = {
    {.type = "NonZero", .since = 9, .prepare = nonzero_prepare, .run = nonzero_run},
    {.type = "Compress", .since = 9, .prepare = compress_prepare, .run = compress_run},
    {.type = "Unique", .since = 11, .prepare = unique_prepare, .run = unique_run},
    {.type = "ReverseSequence", .since = 10, .prepare = revseq_prepare, .run = revseq_run},
    {0},
};
