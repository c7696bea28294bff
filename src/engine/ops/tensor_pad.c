/* tensor_pad.c -- Pad: constant, reflect, edge and wrap modes.
 *
 * Negative pads crop. As ONNX Runtime does, cropping happens first and the
 * mode then pads the cropped tensor, so along each dim the output is
 * [pad before | input[lo, hi) | pad after]. The output is written row by row
 * (innermost dim): a row whose outer index falls in a constant pad is a fill,
 * any other row is the source row's middle copied with memcpy and its two
 * ends mapped element by element. Elements move by size: every dtype. */
#include <string.h>

#include "../dtype.h"
#include "../shape.h"
#include "tensor_util.h"

typedef enum pad_mode { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP } pad_mode;

static int parse_mode(const char *s, pad_mode *m) {
    static const char *const names[] = {"constant", "reflect", "edge", "wrap"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *m = (pad_mode)i;
            return 0;
        }
    return -1;
}

static status pad_prepare(graph *g, node *n, errinfo *err) {
    pad_mode m;
    const char *mode = node_attr_string(n, "mode", "constant");
    if (parse_mode(mode, &m) || (m == PAD_WRAP && n->opset < 19))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "mode '%s', expected constant, reflect, edge%s", mode,
                               n->opset >= 19 ? " or wrap" : "");
    if (n->opset < 11 && node_attr_ints(n, "pads", &(const int64_t *){0}) < 0)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "attribute 'pads' is missing");
    status st = tutil_check_index_input(g, n, err, 1, "pads");
    if (!st) st = tutil_check_index_input(g, n, err, 3, "axes");
    return st ? st : tutil_prepare_data(g, n, err);
}

/* Per dim: output size, pad before the kept input range, and that range. */
typedef struct pad_dim {
    int64_t out, before, lo, n;   /* input elements [lo, lo + n) are kept */
} pad_dim;

typedef struct pad_job {
    int rank;
    pad_mode mode;
    size_t es;
    pad_dim d[ENGINE_MAX_RANK];
    int64_t in_strides[ENGINE_MAX_RANK];
    const char *src;
    char *dst;
    const void *value;  /* one element, the constant */
    const int64_t *head, *tail; /* innermost dim: input index of each padded
                                 * output element before / after the middle */
} pad_job;

/* Input index for output index o along d, or -1 for the constant. */
static int64_t pad_map(const pad_dim *d, pad_mode mode, int64_t o) {
    int64_t i = o - d->before;
    if (i >= 0 && i < d->n) return d->lo + i;
    switch (mode) {
    case PAD_EDGE: return d->lo + (i < 0 ? 0 : d->n - 1);
    case PAD_WRAP: i %= d->n; return d->lo + (i < 0 ? i + d->n : i);
    case PAD_REFLECT: {
        if (d->n == 1) return d->lo;
        int64_t period = 2 * (d->n - 1);
        i %= period;
        if (i < 0) i += period;
        return d->lo + (i < d->n ? i : period - i);
    }
    default: return -1;
    }
}

/* Copies map[0..n) (input indices; -1 for the constant) of one row. */
#define PAD_EDGE_AS(T)                                                         \
    do {                                                                       \
        const T *sp = src;                                                     \
        T *dp = dst, v;                                                        \
        memcpy(&v, j->value, sizeof v);                                        \
        for (int64_t k = 0; k < n; k++) dp[k] = map[k] < 0 ? v : sp[map[k]];   \
    } while (0)

static void pad_edge(const pad_job *j, const int64_t *map, int64_t n, const void *src, void *dst) {
    switch (j->es) {
    case 1: PAD_EDGE_AS(uint8_t); break;
    case 2: PAD_EDGE_AS(uint16_t); break;
    case 4: PAD_EDGE_AS(uint32_t); break;
    case 8: PAD_EDGE_AS(uint64_t); break;
    default:
        for (int64_t k = 0; k < n; k++)
            memcpy((char *)dst + (size_t)k * j->es,
                   map[k] < 0 ? j->value : (const char *)src + (size_t)map[k] * j->es, j->es);
    }
}

/* One output row: the mapped head, the kept middle in one memcpy, the tail. */
static void pad_row(const pad_job *j, const char *src, char *dst) {
    const pad_dim *d = &j->d[j->rank - 1];
    size_t es = j->es;
    int64_t tail = d->out - d->before - d->n;
    pad_edge(j, j->head, d->before, src, dst);
    memcpy(dst + (size_t)d->before * es, src + (size_t)d->lo * es, (size_t)d->n * es);
    pad_edge(j, j->tail, tail, src, dst + (size_t)(d->before + d->n) * es);
}

static void pad_rows(void *ctx, int64_t begin, int64_t end) {
    const pad_job *j = ctx;
    int r = j->rank;
    int64_t row_len = j->d[r - 1].out;
    for (int64_t row = begin; row < end; row++) {
        int64_t rem = row, off = 0;
        int constant = 0;
        for (int k = r - 2; k >= 0; k--) {
            int64_t o = rem % j->d[k].out;
            rem /= j->d[k].out;
            int64_t i = pad_map(&j->d[k], j->mode, o);
            if (i < 0) constant = 1;
            else off += i * j->in_strides[k];
        }
        char *dst = j->dst + (size_t)(row * row_len) * j->es;
        if (constant) tutil_fill(dst, j->value, j->es, row_len);
        else pad_row(j, j->src + (size_t)off * j->es, dst);
    }
}

/* pads (and axes from opset 18) into per-dim begin/end pads. */
static status read_pads(const node *n, exec_ctx *x, int r, int64_t *begin, int64_t *end) {
    int64_t pads[TUTIL_MAX_INTS], axes_buf[ENGINE_MAX_RANK];
    int count, n_axes = r;
    status st;
    if (n->opset < 11) {
        const int64_t *a;
        count = node_attr_ints(n, "pads", &a);
        if (count < 0 || count > TUTIL_MAX_INTS)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "attribute 'pads' is missing or too long");
        memcpy(pads, a, (size_t)count * sizeof *pads);
    } else {
        st = tutil_read_ints(x, 1, "pads", pads, TUTIL_MAX_INTS, &count);
        if (st) return st;
    }
    if (n->opset >= 18 && exec_input(x, 3)) {
        st = tutil_read_ints(x, 3, "axes", axes_buf, ENGINE_MAX_RANK, &n_axes);
        if (st) return st;
    } else {
        for (int i = 0; i < r; i++) axes_buf[i] = i;
    }
    if (count != 2 * n_axes)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "pads has %d entries, expected %d", count,
                         2 * n_axes);
    for (int i = 0; i < r; i++) begin[i] = end[i] = 0;
    for (int i = 0; i < n_axes; i++) {
        int a = shape_normalize_axis(axes_buf[i], r);
        if (a < 0)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                             (long long)axes_buf[i], r);
        begin[a] = pads[i];
        end[a] = pads[i + n_axes];
    }
    return STATUS_OK;
}

/* The constant as one element of the input's type. */
static status read_value(const node *n, exec_ctx *x, engine_dtype dt, uint64_t *value) {
    *value = 0;
    if (n->opset < 11) {
        dtype_store_double(dt, value, 0, node_attr_float(n, "value", 0));
        return STATUS_OK;
    }
    const engine_tensor *v = exec_input(x, 2);
    if (!v || engine_shape_numel(&v->shape) == 0) return STATUS_OK;
    if (v->dtype != dt || engine_shape_numel(&v->shape) != 1)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "constant_value must be one %s value", engine_dtype_name(dt));
    memcpy(value, v->data, engine_dtype_size(dt));
    return STATUS_OK;
}

static status pad_run(const node *n, exec_ctx *x) {
    const engine_tensor *in = exec_input(x, 0);
    if (!in) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input 0 is missing");
    int r = in->shape.rank;
    pad_job j = {.rank = r, .es = engine_dtype_size(in->dtype), .src = in->data};
    parse_mode(node_attr_string(n, "mode", "constant"), &j.mode);
    int64_t begin[ENGINE_MAX_RANK], end[ENGINE_MAX_RANK];
    uint64_t value;
    status st = read_pads(n, x, r, begin, end);
    if (!st) st = read_value(n, x, in->dtype, &value);
    if (st) return st;
    j.value = &value;
    engine_shape s = {r, {0}};
    for (int k = 0; k < r; k++) {
        pad_dim *d = &j.d[k];
        int64_t dim = in->shape.dims[k];
        d->lo = begin[k] < 0 ? -begin[k] : 0;
        d->n = dim - d->lo - (end[k] < 0 ? -end[k] : 0);
        d->before = begin[k] > 0 ? begin[k] : 0;
        if (d->n < 0 || begin[k] > INT64_MAX / 4 || end[k] > INT64_MAX / 4)
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "pads %lld and %lld on axis %d of size %lld leave a negative size",
                             (long long)begin[k], (long long)end[k], k, (long long)dim);
        d->out = d->before + d->n + (end[k] > 0 ? end[k] : 0);
        s.dims[k] = d->out;
        if (d->n == 0 && d->out > 0 && j.mode != PAD_CONSTANT)
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "cannot pad axis %d in this mode: nothing is left of it to repeat", k);
    }
    shape_strides(&in->shape, j.in_strides);
    engine_tensor *y;
    st = exec_output(x, 0, in->dtype, &s, &y);
    if (st) return st;
    int64_t numel = engine_shape_numel(&s);
    if (numel == 0) return STATUS_OK;
    if (r == 0) {
        memcpy(y->data, in->data, j.es);
        return STATUS_OK;
    }
    j.dst = y->data;
    static const uint64_t nothing = 0; /* an empty input may have no buffer */
    if (!j.src) j.src = (const char *)&nothing;
    const pad_dim *last = &j.d[r - 1];
    int64_t n_tail = last->out - last->before - last->n;
    int64_t *head = exec_scratch(x, (size_t)(last->before + 1) * sizeof *head);
    int64_t *tail = exec_scratch(x, (size_t)(n_tail + 1) * sizeof *tail);
    if (!head || !tail) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    for (int64_t o = 0; o < last->before; o++) head[o] = pad_map(last, j.mode, o);
    for (int64_t o = 0; o < n_tail; o++) tail[o] = pad_map(last, j.mode, last->before + last->n + o);
    j.head = head;
    j.tail = tail;
    int64_t rows = numel / s.dims[r - 1];
    if (rows > 1 && exec_threads(x) > 1 && numel * (int64_t)j.es >= (1 << 18))
        exec_parallel_for(x, rows, pad_rows, &j);
    else
        pad_rows(&j, 0, rows);
    return STATUS_OK;
}

const op_desc op_family_tensor_pad[] = {
    {.type = "Pad", .since = 2, .prepare = pad_prepare, .run = pad_run},
    {0},
};
