/* topk.c -- TopK: the k largest (or smallest) elements along an axis, with
 * their indices.
 *
 * Each line along the axis is read as (key, index) items and the k best are
 * selected: with a heap while scanning when k is small against the line
 * (n log k), else by sorting the line. Ties keep the lower index first, as
 * ONNX specifies, and NaN counts as the largest value. The chosen items are
 * output sorted either way (sorted=0 leaves the order free); values are the
 * chosen input elements copied as bytes. Lines are spread over threads. */
#include <string.h>

#include "../dtype.h"
#include "../shape.h"
#include "tensor_util.h"

/* Every element becomes an int64 key ordered like its value: integers as
 * they are (uint64 with the sign bit flipped), floating values through
 * their bits (-0.0 as +0.0; NaN above +inf). For "smallest" the key is
 * complemented, so selection always looks for the largest keys, and the
 * order of two items is one integer comparison plus the index tie-break. */
typedef struct item { int64_t key; int64_t idx; } item;

static inline int before(const item *a, const item *b) {
    return a->key > b->key || (a->key == b->key && a->idx < b->idx);
}

static inline int64_t float_key(double v) {
    int64_t bits;
    v += 0.0; /* -0.0 -> +0.0 */
    memcpy(&bits, &v, sizeof bits);
    /* negative: flip the magnitude bits; branch-free, signs are random */
    int64_t neg = -(int64_t)((uint64_t)bits >> 63);
    return bits ^ (neg & INT64_MAX);
}

static inline int64_t elem_key(const engine_tensor *t, int64_t i) {
    switch (t->dtype) {
    case ENGINE_FLOAT: return float_key(((const float *)t->data)[i]);
    case ENGINE_INT64: return ((const int64_t *)t->data)[i];
    case ENGINE_UINT64: return (int64_t)(((const uint64_t *)t->data)[i] ^ (UINT64_C(1) << 63));
    default:
        return dtype_is_float(t->dtype) ? float_key(dtype_load_double(t->dtype, t->data, i))
                                        : dtype_load_int64(t->dtype, t->data, i);
    }
}

static void sort_items(item *v, item *tmp, int64_t n) {
    for (int64_t w = 1; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi) tmp[o++] = before(&v[j], &v[i]) ? v[j++] : v[i++];
            while (i < mid) tmp[o++] = v[i++];
            while (j < hi) tmp[o++] = v[j++];
        }
        memcpy(v, tmp, (size_t)n * sizeof *v);
    }
}

/* Heap whose root is the kept item that would come last. */
static void sift(item *h, int64_t n, int64_t i) {
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= n) return;
        if (c + 1 < n && before(&h[c], &h[c + 1])) c++;
        if (!before(&h[i], &h[c])) return;
        item t = h[i];
        h[i] = h[c];
        h[c] = t;
        i = c;
    }
}

static status topk_prepare(graph *g, node *n, errinfo *err) {
    engine_dtype dt = node_input_dtype(g, n, 0);
    if (!dtype_is_float(dt) && !dtype_is_int(dt))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "input type %s is not supported",
                               engine_dtype_name(dt));
    node_set_output_dtype(g, n, 0, dt);
    node_set_output_dtype(g, n, 1, ENGINE_INT64);
    return STATUS_OK;
}

typedef struct topk_job {
    const engine_tensor *in;
    char *vals;
    int64_t *inds;
    int64_t dim, inner, k;
    int64_t flip;         /* 0 for largest, ~0 for smallest */
    size_t es;
    int64_t lines, units;
    void *scratch;        /* per unit: 2 * dim items */
    int64_t per_thread;   /* bytes of scratch per unit */
} topk_job;

/* Selects line (o, i) and writes its k values and indices. For k small
 * against the line a heap of the k best is kept while scanning: most
 * elements lose to its root on one key comparison. Otherwise the whole
 * line is sorted. */
static void topk_line(const topk_job *j, int64_t line, item *v) {
    int64_t o = line / j->inner, i = line % j->inner, dim = j->dim, k = j->k;
    int64_t base = o * dim * j->inner + i, out0 = o * k * j->inner + i;
    item *tmp = v + dim;
    if (k * 4 < dim) {
        for (int64_t t = 0; t < k; t++) v[t] = (item){elem_key(j->in, base + t * j->inner) ^ j->flip, t};
        for (int64_t t = k / 2 - 1; t >= 0; t--) sift(v, k, t);
        for (int64_t t = k; t < dim; t++) {
            int64_t key = elem_key(j->in, base + t * j->inner) ^ j->flip;
            if (key <= v[0].key) continue; /* ties lose: the root has a lower index */
            v[0] = (item){key, t};
            sift(v, k, 0);
        }
        sort_items(v, tmp, k);
    } else {
        for (int64_t t = 0; t < dim; t++) v[t] = (item){elem_key(j->in, base + t * j->inner) ^ j->flip, t};
        sort_items(v, tmp, dim);
    }
    for (int64_t t = 0; t < k; t++) {
        int64_t at = out0 + t * j->inner;
        j->inds[at] = v[t].idx;
        memcpy(j->vals + (size_t)at * j->es,
               (const char *)j->in->data + (size_t)(base + v[t].idx * j->inner) * j->es, j->es);
    }
}

/* Work unit u does lines [lines * u / units, lines * (u + 1) / units) with
 * scratch slot u, so units running on different threads never share one. */
static void topk_units(void *ctx, int64_t begin, int64_t end) {
    const topk_job *j = ctx;
    for (int64_t u = begin; u < end; u++) {
        item *buf = (item *)((char *)j->scratch + (size_t)(u * j->per_thread));
        for (int64_t l = j->lines * u / j->units; l < j->lines * (u + 1) / j->units; l++)
            topk_line(j, l, buf);
    }
}

static status topk_run(const node *n, exec_ctx *x) {
    const engine_tensor *in = exec_input(x, 0);
    if (!in) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input 0 is missing");
    int r = in->shape.rank;
    int64_t axis_attr = node_attr_int(n, "axis", -1), k;
    int axis = shape_normalize_axis(axis_attr, r);
    if (axis < 0)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                         (long long)axis_attr, r);
    if (n->opset < 10) {
        k = node_attr_int(n, "k", -1);
    } else {
        const engine_tensor *kt = exec_input(x, 1);
        if (!kt || (kt->dtype != ENGINE_INT64 && kt->dtype != ENGINE_INT32) ||
            engine_shape_numel(&kt->shape) != 1)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "K must be a single int64 value");
        k = tutil_index_at(kt, 0);
    }
    int64_t dim = in->shape.dims[axis];
    if (k < 0 || k > dim)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "k is %lld, expected 0..%lld (the axis size)",
                         (long long)k, (long long)dim);
    engine_shape s = in->shape;
    s.dims[axis] = k;
    engine_tensor *vals, *inds;
    status st = exec_output(x, 0, in->dtype, &s, &vals);
    if (!st) st = exec_output(x, 1, ENGINE_INT64, &s, &inds);
    if (st) return st;
    int64_t lines = shape_span(&in->shape, 0, axis) * shape_span(&in->shape, axis + 1, r);
    if (lines == 0 || k == 0) return STATUS_OK;
    topk_job j = {.in = in, .vals = vals->data, .inds = inds->data, .dim = dim,
                  .inner = shape_span(&in->shape, axis + 1, r), .k = k,
                  .flip = node_attr_int(n, "largest", 1) != 0 ? 0 : ~INT64_C(0),
                  .es = engine_dtype_size(in->dtype)};
    int threads = exec_threads(x);
    j.lines = lines;
    j.units = lines * dim >= 16384 && threads > 1 ? (lines < threads ? lines : threads) : 1;
    j.per_thread = (int64_t)((size_t)dim * 2 * sizeof(item));
    j.scratch = exec_scratch(x, (size_t)(j.per_thread * j.units));
    if (!j.scratch) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    if (j.units > 1) exec_parallel_for(x, j.units, topk_units, &j);
    else topk_units(&j, 0, 1);
    return STATUS_OK;
}

const op_desc op_family_topk[] = {
    {.type = "TopK", .since = 1, .prepare = topk_prepare, .run = topk_run},
    {0},
};
