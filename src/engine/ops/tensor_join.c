/* tensor_join.c -- Concat and Split: joining tensors along an axis and
 * cutting one apart.
 *
 * Seen around the axis, every tensor is [outer, axis * inner]: Concat copies
 * each input's rows of axis_i * inner elements next to each other, Split
 * copies a column band of the input's rows into each output. Elements move
 * by size, so every dtype works. */
#include <limits.h>
#include <string.h>

#include "../shape.h"
#include "tensor_util.h"

/* ---- Concat ---------------------------------------------------------------- */

typedef struct concat_job {
    int n_in;
    const engine_tensor *const *in;
    const int64_t *row_bytes;   /* per input: bytes of one outer row */
    int64_t out_row_bytes;
    char *dst;
} concat_job;

static void concat_rows(void *ctx, int64_t begin, int64_t end) {
    const concat_job *j = ctx;
    for (int64_t o = begin; o < end; o++) {
        char *dst = j->dst + o * j->out_row_bytes;
        for (int i = 0; i < j->n_in; i++) {
            int64_t rb = j->row_bytes[i];
            if (!rb) continue;
            memcpy(dst, (const char *)j->in[i]->data + o * rb, (size_t)rb);
            dst += rb;
        }
    }
}

static status concat_prepare(graph *g, node *n, errinfo *err) {
    if (n->opset >= 4 && !node_attr(n, "axis"))
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "attribute 'axis' is missing");
    engine_dtype dt = node_input_dtype(g, n, 0);
    for (int i = 1; i < n->n_inputs; i++) {
        engine_dtype di = node_input_dtype(g, n, i);
        if (di != ENGINE_UNDEFINED && dt != ENGINE_UNDEFINED && di != dt)
            return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                                   "input %d has type %s, expected %s like input 0", i,
                                   engine_dtype_name(di), engine_dtype_name(dt));
    }
    return tutil_prepare_data(g, n, err);
}

/* Checks every input against the first one of full rank and computes the
 * output shape. Empty 1-D inputs of another rank are skipped: exporters emit
 * them as "nothing to add" and ONNX Runtime accepts them. */
static status concat_shape(exec_ctx *x, const engine_tensor **in, int n_in, int64_t axis_attr,
                           int *axis_out, engine_shape *s) {
    const engine_tensor *ref = NULL;
    for (int i = 0; i < n_in && !ref; i++)
        if (in[i]->shape.rank > 1 || engine_shape_numel(&in[i]->shape) != 0) ref = in[i];
    if (!ref) ref = in[0];
    int r = ref->shape.rank;
    int axis = shape_normalize_axis(axis_attr, r);
    if (axis < 0)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                         (long long)axis_attr, r);
    *s = ref->shape;
    s->dims[axis] = 0;
    for (int i = 0; i < n_in; i++) {
        const engine_shape *si = &in[i]->shape;
        if (in[i]->dtype != ref->dtype)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "input %d has type %s, expected %s", i,
                             engine_dtype_name(in[i]->dtype), engine_dtype_name(ref->dtype));
        if (si->rank != r && engine_shape_numel(si) == 0) continue;
        int ok = si->rank == r;
        for (int d = 0; ok && d < r; d++) ok = d == axis || si->dims[d] == ref->shape.dims[d];
        if (!ok) {
            char a[96], b[96];
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "input %d has shape %s, which does not match %s except on axis %d",
                             i, shape_format(si, a, sizeof a), shape_format(&ref->shape, b, sizeof b),
                             axis);
        }
        s->dims[axis] += si->dims[axis];
    }
    *axis_out = axis;
    return STATUS_OK;
}

static status concat_run(const node *n, exec_ctx *x) {
    int n_in = exec_input_count(x);
    if (n_in < 1) return exec_fail(x, STATUS_INVALID_ARGUMENT, "has no inputs");
    const engine_tensor **in = exec_scratch(x, (size_t)n_in * sizeof *in);
    int64_t *row_bytes = exec_scratch(x, (size_t)n_in * sizeof *row_bytes);
    if (!in || !row_bytes) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    for (int i = 0; i < n_in; i++) {
        in[i] = exec_input(x, i);
        if (!in[i]) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input %d is missing", i);
    }
    int axis = 0;
    engine_shape s;
    status st = concat_shape(x, in, n_in, node_attr_int(n, "axis", 1), &axis, &s);
    if (st) return st;
    engine_tensor *y;
    st = exec_output(x, 0, in[0]->dtype, &s, &y);
    if (st) return st;
    int64_t outer = shape_span(&s, 0, axis), inner = shape_span(&s, axis + 1, s.rank);
    int64_t es = (int64_t)engine_dtype_size(in[0]->dtype);
    if (outer == 0 || inner == 0) return STATUS_OK;
    for (int i = 0; i < n_in; i++)
        row_bytes[i] = in[i]->shape.rank == s.rank ? in[i]->shape.dims[axis] * inner * es : 0;
    concat_job job = {n_in, in, row_bytes, s.dims[axis] * inner * es, y->data};
    if (outer > 1 && exec_threads(x) > 1 && outer * job.out_row_bytes >= (1 << 18))
        exec_parallel_for(x, outer, concat_rows, &job);
    else
        concat_rows(&job, 0, outer);
    return STATUS_OK;
}

/* ---- Split ------------------------------------------------------------------- */

static status split_prepare(graph *g, node *n, errinfo *err) {
    if (n->opset >= 18 && node_attr(n, "num_outputs") &&
        node_attr_int(n, "num_outputs", 0) != n->n_outputs)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "num_outputs is %lld but the node has %d outputs",
                               (long long)node_attr_int(n, "num_outputs", 0), n->n_outputs);
    status st = tutil_check_index_input(g, n, err, 1, "split");
    return st ? st : tutil_prepare_data(g, n, err);
}

/* The sizes of the parts: the `split` attribute (before 13) or input, else
 * equal parts (from 18 the last part may be smaller, as num_outputs allows). */
static status split_sizes(const node *n, exec_ctx *x, int64_t dim, int n_out, int64_t *sizes) {
    int count = -1;
    if (n->opset < 13 || !exec_input(x, 1)) {
        const int64_t *a;
        count = n->opset < 13 ? node_attr_ints(n, "split", &a) : -1;
        if (count > 0) {
            if (count != n_out)
                return exec_fail(x, STATUS_INVALID_ARGUMENT,
                                 "split has %d entries for %d outputs", count, n_out);
            memcpy(sizes, a, (size_t)count * sizeof *sizes);
        }
    } else {
        status st = tutil_read_ints(x, 1, "split", sizes, n_out, &count);
        if (st) return st;
        if (count != n_out)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "split has %d entries for %d outputs",
                             count, n_out);
    }
    if (count <= 0) {
        int64_t part = (dim + n_out - 1) / n_out;
        if (n->opset < 18 && dim % n_out)
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "axis of size %lld does not split into %d equal parts",
                             (long long)dim, n_out);
        for (int k = 0; k < n_out; k++) {
            int64_t left = dim - part * k;
            sizes[k] = left < 0 ? 0 : left < part ? left : part;
        }
        return STATUS_OK;
    }
    int64_t total = 0;
    for (int k = 0; k < n_out; k++) {
        if (sizes[k] < 0 || sizes[k] > dim)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "split[%d] is %lld, expected 0..%lld", k,
                             (long long)sizes[k], (long long)dim);
        total += sizes[k];
    }
    if (total != dim)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "split sizes add up to %lld, expected the axis size %lld",
                         (long long)total, (long long)dim);
    return STATUS_OK;
}

static status split_run(const node *n, exec_ctx *x) {
    const engine_tensor *in = exec_input(x, 0);
    if (!in) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input 0 is missing");
    int n_out = exec_output_count(x);
    int64_t axis_attr = node_attr_int(n, "axis", 0);
    int axis = shape_normalize_axis(axis_attr, in->shape.rank);
    if (axis < 0)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                         (long long)axis_attr, in->shape.rank);
    int64_t *sizes = exec_scratch(x, (size_t)n_out * sizeof *sizes);
    if (!sizes) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    int64_t dim = in->shape.dims[axis];
    status st = split_sizes(n, x, dim, n_out, sizes);
    if (st) return st;
    int64_t outer = shape_span(&in->shape, 0, axis);
    int64_t inner = shape_span(&in->shape, axis + 1, in->shape.rank);
    size_t es = engine_dtype_size(in->dtype);
    int64_t start = 0;
    for (int k = 0; k < n_out; k++) {
        engine_shape s = in->shape;
        s.dims[axis] = sizes[k];
        engine_tensor *y;
        st = exec_output(x, k, in->dtype, &s, &y);
        if (st) return st;
        /* Output k is the view [outer, sizes[k] * inner] of the input's rows. */
        int64_t dims[2] = {outer, sizes[k] * inner}, strides[2] = {dim * inner, 1};
        const char *src = (const char *)in->data + (size_t)(start * inner) * es;
        if (outer && dims[1]) tutil_copy(x, es, 2, dims, strides, src, y->data);
        start += sizes[k];
    }
    return STATUS_OK;
}

const op_desc op_family_tensor_join[] = {
    {.type = "Concat", .since = 1, .prepare = concat_prepare, .run = concat_run},
    {.type = "Split", .since = 1, .prepare = split_prepare, .run = split_run},
    {0},
};
