/* tensor_shape.c -- operators that change a tensor's shape, not its bytes:
 * Identity, Reshape, Flatten, Squeeze, Unsqueeze, Dropout (inference), and
 * those that produce shapes or constants: Shape, Size, Constant,
 * ConstantOfShape.
 *
 * The bytes are copied unchanged (the executor gives every value its own
 * buffer), so all of these work for every fixed-size dtype. */
#include <stdlib.h>
#include <string.h>

#include "../dtype.h"
#include "../shape.h"
#include "tensor_util.h"

/* ---- Identity ------------------------------------------------------------ */

static status identity_run(const node *n, exec_ctx *x) {
    (void)n;
    const engine_tensor *in = exec_input(x, 0);
    if (!in) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input 0 is missing");
    return tutil_output_copy(x, 0, in, &in->shape);
}

/* ---- Constant ------------------------------------------------------------- */

/* The state is the tensor itself; its data stays in the model's attributes. */
static status constant_prepare(graph *g, node *n, errinfo *err) {
    engine_tensor *t = calloc(1, sizeof *t);
    if (!t) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    const attr *a = NULL;
    for (int i = 0; i < n->n_attrs; i++) {
        if (a) {
            free(t);
            return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                                   "has attributes '%s' and '%s', expected exactly one value",
                                   a->name, n->attrs[i].name);
        }
        a = &n->attrs[i];
    }
    if (!a) {
        free(t);
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "has no value attribute");
    }
    if (strcmp(a->name, "value") == 0 && a->type == ATTR_TENSOR) {
        *t = a->t;
    } else if (strcmp(a->name, "value_float") == 0 && a->type == ATTR_FLOAT) {
        *t = (engine_tensor){.dtype = ENGINE_FLOAT, .data = (void *)&a->f, .nbytes = 4};
    } else if (strcmp(a->name, "value_int") == 0 && a->type == ATTR_INT) {
        *t = (engine_tensor){.dtype = ENGINE_INT64, .data = (void *)&a->i, .nbytes = 8};
    } else if (strcmp(a->name, "value_floats") == 0 && a->type == ATTR_FLOATS) {
        *t = (engine_tensor){.dtype = ENGINE_FLOAT, .shape = {1, {a->count}},
                             .data = (void *)a->floats, .nbytes = (size_t)a->count * 4};
    } else if (strcmp(a->name, "value_ints") == 0 && a->type == ATTR_INTS) {
        *t = (engine_tensor){.dtype = ENGINE_INT64, .shape = {1, {a->count}},
                             .data = (void *)a->ints, .nbytes = (size_t)a->count * 8};
    } else {
        free(t);
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "attribute '%s' is not supported, expected value, value_float(s) "
                               "or value_int(s)", a->name);
    }
    status st = tutil_check_movable(n, err, t->dtype, "the constant");
    if (st) {
        free(t);
        return st;
    }
    n->state = t;
    node_set_output_dtype(g, n, 0, t->dtype);
    return STATUS_OK;
}

static status constant_run(const node *n, exec_ctx *x) {
    return tutil_output_copy(x, 0, n->state, &((const engine_tensor *)n->state)->shape);
}

/* ---- ConstantOfShape ------------------------------------------------------ */

static status cos_prepare(graph *g, node *n, errinfo *err) {
    static const float zero = 0;
    engine_tensor *t = calloc(1, sizeof *t);
    if (!t) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    const attr *a = node_attr(n, "value");
    if (!a) {
        *t = (engine_tensor){.dtype = ENGINE_FLOAT, .data = (void *)&zero, .nbytes = 4};
    } else if (a->type != ATTR_TENSOR || engine_shape_numel(&a->t.shape) != 1) {
        free(t);
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "attribute 'value' must be a one-element tensor");
    } else {
        *t = a->t;
    }
    status st = tutil_check_movable(n, err, t->dtype, "attribute 'value'");
    if (!st) st = tutil_check_index_input(g, n, err, 0, "shape");
    if (st) {
        free(t);
        return st;
    }
    n->state = t;
    node_set_output_dtype(g, n, 0, t->dtype);
    return STATUS_OK;
}

/* Reads a shape tensor (input i) into *s: every dim >= 0, rank bounded. */
static status read_shape(exec_ctx *x, int i, const char *what, engine_shape *s) {
    int64_t dims[ENGINE_MAX_RANK];
    int count;
    status st = tutil_read_ints(x, i, what, dims, ENGINE_MAX_RANK, &count);
    if (st) return st;
    s->rank = count;
    for (int d = 0; d < count; d++) {
        if (dims[d] < 0)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "%s has dim %d = %lld, expected >= 0",
                             what, d, (long long)dims[d]);
        s->dims[d] = dims[d];
    }
    return STATUS_OK;
}

static status cos_run(const node *n, exec_ctx *x) {
    const engine_tensor *v = n->state;
    engine_shape s;
    status st = read_shape(x, 0, "shape", &s);
    if (st) return st;
    engine_tensor *y;
    st = exec_output(x, 0, v->dtype, &s, &y);
    if (st) return st;
    tutil_fill(y->data, v->data, engine_dtype_size(v->dtype), engine_shape_numel(&s));
    return STATUS_OK;
}

/* ---- Shape, Size ---------------------------------------------------------- */

static status shape_prepare(graph *g, node *n, errinfo *err) {
    (void)err;
    node_set_output_dtype(g, n, 0, ENGINE_INT64);
    return STATUS_OK;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

static status shape_run(const node *n, exec_ctx *x) {
    const engine_tensor *in = exec_input(x, 0);
    if (!in) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input 0 is missing");
    int64_t r = in->shape.rank;
    int64_t start = node_attr_int(n, "start", 0), end = node_attr_int(n, "end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = clamp64(start, 0, r);
    end = clamp64(end, 0, r);
    engine_shape s = {1, {end > start ? end - start : 0}};
    engine_tensor *y;
    status st = exec_output(x, 0, ENGINE_INT64, &s, &y);
    if (st) return st;
    for (int64_t i = start; i < end; i++) ((int64_t *)y->data)[i - start] = in->shape.dims[i];
    return STATUS_OK;
}

static status size_run(const node *n, exec_ctx *x) {
    (void)n;
    const engine_tensor *in = exec_input(x, 0);
    if (!in) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input 0 is missing");
    engine_shape s = {0, {0}};
    engine_tensor *y;
    status st = exec_output(x, 0, ENGINE_INT64, &s, &y);
    if (st) return st;
    *(int64_t *)y->data = engine_shape_numel(&in->shape);
    return STATUS_OK;
}

/* ---- Reshape -------------------------------------------------------------- */

static status reshape_prepare(graph *g, node *n, errinfo *err) {
    status st = tutil_check_index_input(g, n, err, 1, "shape");
    return st ? st : tutil_prepare_data(g, n, err);
}

static status reshape_run(const node *n, exec_ctx *x) {
    const engine_tensor *in = exec_input(x, 0);
    if (!in) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input 0 is missing");
    int64_t want[ENGINE_MAX_RANK];
    int count;
    status st = tutil_read_ints(x, 1, "shape", want, ENGINE_MAX_RANK, &count);
    if (st) return st;
    int allowzero = n->opset >= 14 && node_attr_int(n, "allowzero", 0) != 0;
    int64_t numel = engine_shape_numel(&in->shape), known = 1;
    int infer = -1;
    engine_shape s = {count, {0}};
    for (int d = 0; d < count; d++) {
        int64_t v = want[d];
        if (v == 0 && !allowzero) {
            if (d >= in->shape.rank)
                return exec_fail(x, STATUS_INVALID_ARGUMENT,
                                 "shape[%d] is 0 (copy the input dim) but the input has rank %d",
                                 d, in->shape.rank);
            v = in->shape.dims[d];
        }
        if (v == -1) {
            if (infer >= 0)
                return exec_fail(x, STATUS_INVALID_ARGUMENT, "shape has more than one -1");
            infer = d;
            continue;
        }
        if (v < 0)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "shape[%d] is %lld, expected >= -1", d,
                             (long long)v);
        if (v && known > INT64_MAX / v)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "shape overflows");
        s.dims[d] = v;
        known *= v;
    }
    if (infer >= 0) {
        if (known == 0 || numel % known != 0)
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "cannot infer the -1 dim: %lld elements do not divide by %lld",
                             (long long)numel, (long long)known);
        s.dims[infer] = numel / known;
        known = numel;
    }
    if (known != numel) {
        char a[96], b[96];
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "cannot reshape %s (%lld elements) to %s (%lld elements)",
                         shape_format(&in->shape, a, sizeof a), (long long)numel,
                         shape_format(&s, b, sizeof b), (long long)known);
    }
    return tutil_output_copy(x, 0, in, &s);
}

/* ---- Flatten -------------------------------------------------------------- */

static status flatten_run(const node *n, exec_ctx *x) {
    const engine_tensor *in = exec_input(x, 0);
    if (!in) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input 0 is missing");
    int r = in->shape.rank;
    int64_t axis = node_attr_int(n, "axis", 1);
    if (axis < 0) axis += r;
    if (axis < 0 || axis > r)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                         (long long)node_attr_int(n, "axis", 1), r);
    engine_shape s = {2, {shape_span(&in->shape, 0, (int)axis),
                          shape_span(&in->shape, (int)axis, r)}};
    return tutil_output_copy(x, 0, in, &s);
}

/* ---- Squeeze, Unsqueeze ----------------------------------------------------- */

/* The axes list: an attribute before opset 13, input 1 from 13 on. Returns
 * the count, or -1 when absent (allowed for Squeeze only). */
static status read_axes(const node *n, exec_ctx *x, int64_t *axes, int *count) {
    if (n->opset < 13) {
        const int64_t *a;
        int c = node_attr_ints(n, "axes", &a);
        if (c > TUTIL_MAX_INTS)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "too many axes (%d)", c);
        if (c > 0) memcpy(axes, a, (size_t)c * sizeof *axes);
        *count = c;
        return STATUS_OK;
    }
    if (!exec_input(x, 1)) {
        *count = -1;
        return STATUS_OK;
    }
    return tutil_read_ints(x, 1, "axes", axes, TUTIL_MAX_INTS, count);
}

static status squeeze_run(const node *n, exec_ctx *x) {
    const engine_tensor *in = exec_input(x, 0);
    if (!in) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input 0 is missing");
    int64_t axes[TUTIL_MAX_INTS];
    int count;
    status st = read_axes(n, x, axes, &count);
    if (st) return st;
    int r = in->shape.rank, drop[ENGINE_MAX_RANK] = {0};
    if (count <= 0) /* no axes (or an empty list, as ONNX Runtime reads it): all unit dims */
        for (int d = 0; d < r; d++) drop[d] = in->shape.dims[d] == 1;
    for (int i = 0; i < count; i++) {
        int d = shape_normalize_axis(axes[i], r);
        if (d < 0)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                             (long long)axes[i], r);
        if (in->shape.dims[d] != 1)
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "cannot squeeze axis %d of size %lld, expected size 1", d,
                             (long long)in->shape.dims[d]);
        drop[d] = 1;
    }
    engine_shape s = {0, {0}};
    for (int d = 0; d < r; d++)
        if (!drop[d]) s.dims[s.rank++] = in->shape.dims[d];
    return tutil_output_copy(x, 0, in, &s);
}

static status unsqueeze_run(const node *n, exec_ctx *x) {
    const engine_tensor *in = exec_input(x, 0);
    if (!in) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input 0 is missing");
    int64_t axes[TUTIL_MAX_INTS];
    int count;
    status st = read_axes(n, x, axes, &count);
    if (st) return st;
    if (count < 0) return exec_fail(x, STATUS_INVALID_ARGUMENT, "axes are missing");
    int r = in->shape.rank + count;
    if (r > ENGINE_MAX_RANK)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "output rank %d exceeds the maximum %d", r,
                         ENGINE_MAX_RANK);
    int added[ENGINE_MAX_RANK] = {0};
    for (int i = 0; i < count; i++) {
        int d = shape_normalize_axis(axes[i], r);
        if (d < 0 || added[d])
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "axis %lld is out of range for output rank %d or repeated",
                             (long long)axes[i], r);
        added[d] = 1;
    }
    engine_shape s = {r, {0}};
    for (int d = 0, j = 0; d < r; d++) s.dims[d] = added[d] ? 1 : in->shape.dims[j++];
    return tutil_output_copy(x, 0, in, &s);
}

/* ---- Dropout (inference) ---------------------------------------------------- */

/* In inference Dropout is the identity; the optional mask says which
 * elements were kept (bool from opset 10, the input's type before). Training mode with a non-zero
 * ratio would need random numbers, which a server's answers must not. */
static status dropout_prepare(graph *g, node *n, errinfo *err) {
    engine_dtype dt = node_input_dtype(g, n, 0);
    status st = tutil_check_movable(n, err, dt, "input 0");
    if (st) return st;
    node_set_output_dtype(g, n, 0, dt);
    if (n->n_outputs > 1) node_set_output_dtype(g, n, 1, n->opset >= 10 ? ENGINE_BOOL : dt);
    return STATUS_OK;
}

static status dropout_run(const node *n, exec_ctx *x) {
    const engine_tensor *in = exec_input(x, 0);
    if (!in) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input 0 is missing");
    const engine_tensor *ratio = exec_input(x, 1), *training = exec_input(x, 2);
    if (training && engine_shape_numel(&training->shape) == 1 &&
        dtype_load_int64(training->dtype, training->data, 0) != 0) {
        double r = ratio && engine_shape_numel(&ratio->shape) == 1
                       ? dtype_load_double(ratio->dtype, ratio->data, 0) : 0.5;
        if (r != 0)
            return exec_fail(x, STATUS_UNSUPPORTED,
                             "training_mode is true with ratio %g; only inference is supported", r);
    }
    status st = tutil_output_copy(x, 0, in, &in->shape);
    if (st || exec_output_count(x) < 2) return st;
    engine_dtype mdt = n->opset >= 10 ? ENGINE_BOOL : in->dtype;
    engine_tensor *mask;
    st = exec_output(x, 1, mdt, &in->shape, &mask);
    if (st) return st;
    /* "kept" is true from opset 12; before it ONNX Runtime answers zeros
     * (its Dropout 7..11 is an identity that clears the mask), so do we */
    uint64_t one = 0;
    dtype_store_double(mdt, &one, 0, n->opset >= 12 ? 1.0 : 0.0);
    tutil_fill(mask->data, &one, engine_dtype_size(mdt), engine_shape_numel(&in->shape));
    return STATUS_OK;
}

const op_desc op_family_tensor_shape[] = {
    {.type = "Identity", .since = 1, .prepare = tutil_prepare_data, .run = identity_run},
    {.type = "Constant", .since = 1, .prepare = constant_prepare, .run = constant_run},
    {.type = "ConstantOfShape", .since = 9, .prepare = cos_prepare, .run = cos_run},
    {.type = "Shape", .since = 1, .prepare = shape_prepare, .run = shape_run},
    {.type = "Size", .since = 1, .prepare = shape_prepare, .run = size_run},
    {.type = "Reshape", .since = 5, .prepare = reshape_prepare, .run = reshape_run},
    {.type = "Flatten", .since = 1, .prepare = tutil_prepare_data, .run = flatten_run},
    {.type = "Squeeze", .since = 1, .prepare = tutil_prepare_data, .run = squeeze_run},
    {.type = "Unsqueeze", .since = 1, .prepare = tutil_prepare_data, .run = unsqueeze_run},
    {.type = "Dropout", .since = 7, .prepare = dropout_prepare, .run = dropout_run},
    {0},
};
