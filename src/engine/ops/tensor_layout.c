/* tensor_layout.c -- operators that rearrange elements: Transpose,
 * DepthToSpace, SpaceToDepth, Expand, Tile, Trilu.
 *
 * Each builds a strided view of its input (kernels/strided_copy.h) and lets
 * the copy kernel pick the fast path: a blocked transpose, row memcpy, or a
 * fill for broadcast dims. Elements move by size, so every dtype works. */
#include <string.h>

#include "../shape.h"
#include "tensor_util.h"

/* ---- Transpose ------------------------------------------------------------ */

static status transpose_run(const node *n, exec_ctx *x) {
    const engine_tensor *in = exec_input(x, 0);
    if (!in) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input 0 is missing");
    int r = in->shape.rank;
    const int64_t *perm_attr;
    int np = node_attr_ints(n, "perm", &perm_attr);
    int perm[ENGINE_MAX_RANK], seen[ENGINE_MAX_RANK] = {0};
    if (np >= 0 && np != r)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "perm has %d entries for an input of rank %d",
                         np, r);
    for (int i = 0; i < r; i++) {
        int64_t p = np >= 0 ? perm_attr[i] : r - 1 - i;
        if (p < 0) p += r; /* ONNX Runtime accepts negative entries */
        if (p < 0 || p >= r || seen[p])
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "perm is not a permutation of 0..%d (entry %d is %lld)", r - 1, i,
                             (long long)(np >= 0 ? perm_attr[i] : p));
        seen[p] = 1;
        perm[i] = (int)p;
    }
    int64_t in_strides[ENGINE_MAX_RANK], strides[ENGINE_MAX_RANK];
    shape_strides(&in->shape, in_strides);
    engine_shape s = {r, {0}};
    for (int i = 0; i < r; i++) {
        s.dims[i] = in->shape.dims[perm[i]];
        strides[i] = in_strides[perm[i]];
    }
    engine_tensor *y;
    status st = exec_output(x, 0, in->dtype, &s, &y);
    if (st) return st;
    tutil_copy(x, engine_dtype_size(in->dtype), r, s.dims, strides, in->data, y->data);
    return STATUS_OK;
}

/* ---- DepthToSpace, SpaceToDepth --------------------------------------------- */

static status blocksize_prepare(graph *g, node *n, errinfo *err) {
    int64_t b = node_attr_int(n, "blocksize", 0);
    if (b < 1 || b > (1 << 20))
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "blocksize is %lld, expected a positive value", (long long)b);
    const char *mode = node_attr_string(n, "mode", "DCR");
    if (strcmp(n->op_type, "DepthToSpace") == 0 && strcmp(mode, "DCR") != 0 &&
        strcmp(mode, "CRD") != 0)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "mode '%s', expected DCR or CRD",
                               mode);
    return tutil_prepare_data(g, n, err);
}

static status check_4d(exec_ctx *x, const engine_tensor *in) {
    if (in->shape.rank != 4) {
        char b[96];
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "input has shape %s, expected 4-D NCHW",
                         shape_format(&in->shape, b, sizeof b));
    }
    return STATUS_OK;
}

/* Both ops are a 6-D transpose between NCHW layouts; only the view differs. */
static status block_copy(exec_ctx *x, const engine_tensor *in, const engine_shape *out,
                         const int64_t *dims6, const int64_t *strides6) {
    engine_tensor *y;
    status st = exec_output(x, 0, in->dtype, out, &y);
    if (st) return st;
    tutil_copy(x, engine_dtype_size(in->dtype), 6, dims6, strides6, in->data, y->data);
    return STATUS_OK;
}

static status d2s_run(const node *n, exec_ctx *x) {
    const engine_tensor *in = exec_input(x, 0);
    if (!in) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input 0 is missing");
    status st = check_4d(x, in);
    if (st) return st;
    int64_t b = node_attr_int(n, "blocksize", 1);
    int64_t N = in->shape.dims[0], C = in->shape.dims[1], H = in->shape.dims[2],
            W = in->shape.dims[3];
    if (C % (b * b))
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "channels (%lld) are not divisible by blocksize^2 (%lld)", (long long)C,
                         (long long)(b * b));
    int64_t c = C / (b * b), HW = H * W;
    /* View of the output as [N, c, H, b, W, b]. DCR reads the input as
     * [N, b, b, c, H, W], CRD as [N, c, b, b, H, W]. */
    int64_t dims[6] = {N, c, H, b, W, b}, strides[6];
    if (strcmp(node_attr_string(n, "mode", "DCR"), "CRD") == 0) {
        int64_t s[6] = {C * HW, b * b * HW, b * HW, HW, W, 1};
        int64_t v[6] = {s[0], s[1], s[4], s[2], s[5], s[3]};
        memcpy(strides, v, sizeof v);
    } else {
        int64_t s[6] = {C * HW, b * c * HW, c * HW, HW, W, 1};
        int64_t v[6] = {s[0], s[3], s[4], s[1], s[5], s[2]};
        memcpy(strides, v, sizeof v);
    }
    engine_shape out = {4, {N, c, H * b, W * b}};
    return block_copy(x, in, &out, dims, strides);
}

static status s2d_run(const node *n, exec_ctx *x) {
    const engine_tensor *in = exec_input(x, 0);
    if (!in) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input 0 is missing");
    status st = check_4d(x, in);
    if (st) return st;
    int64_t b = node_attr_int(n, "blocksize", 1);
    int64_t N = in->shape.dims[0], C = in->shape.dims[1], H = in->shape.dims[2],
            W = in->shape.dims[3];
    if (H % b || W % b)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "height %lld and width %lld must be divisible by blocksize %lld",
                         (long long)H, (long long)W, (long long)b);
    /* Input as [N, C, H/b, b, W/b, b]; output as [N, b, b, C, H/b, W/b]. */
    int64_t s[6] = {C * H * W, H * W, b * W, W, b, 1};
    int64_t dims[6] = {N, b, b, C, H / b, W / b};
    int64_t strides[6] = {s[0], s[3], s[5], s[1], s[2], s[4]};
    engine_shape out = {4, {N, C * b * b, H / b, W / b}};
    return block_copy(x, in, &out, dims, strides);
}

/* ---- Expand, Tile ---------------------------------------------------------- */

static status expand_prepare(graph *g, node *n, errinfo *err) {
    status st = tutil_check_index_input(g, n, err, 1, "shape");
    return st ? st : tutil_prepare_data(g, n, err);
}

static status expand_run(const node *n, exec_ctx *x) {
    (void)n;
    const engine_tensor *in = exec_input(x, 0);
    if (!in) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input 0 is missing");
    int64_t want[ENGINE_MAX_RANK];
    int count;
    status st = tutil_read_ints(x, 1, "shape", want, ENGINE_MAX_RANK, &count);
    if (st) return st;
    engine_shape ws = {count, {0}}, s;
    for (int d = 0; d < count; d++) {
        if (want[d] < 0)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "shape[%d] is %lld, expected >= 0", d,
                             (long long)want[d]);
        ws.dims[d] = want[d];
    }
    if (shape_broadcast(&in->shape, &ws, &s)) {
        char a[96], b[96];
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "cannot broadcast %s to %s",
                         shape_format(&in->shape, a, sizeof a), shape_format(&ws, b, sizeof b));
    }
    int64_t strides[ENGINE_MAX_RANK];
    shape_broadcast_strides(&in->shape, &s, strides);
    engine_tensor *y;
    st = exec_output(x, 0, in->dtype, &s, &y);
    if (st) return st;
    tutil_copy(x, engine_dtype_size(in->dtype), s.rank, s.dims, strides, in->data, y->data);
    return STATUS_OK;
}

static status tile_prepare(graph *g, node *n, errinfo *err) {
    status st = tutil_check_index_input(g, n, err, 1, "repeats");
    return st ? st : tutil_prepare_data(g, n, err);
}

static status tile_run(const node *n, exec_ctx *x) {
    (void)n;
    const engine_tensor *in = exec_input(x, 0);
    if (!in) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input 0 is missing");
    int64_t rep[ENGINE_MAX_RANK];
    int count, r = in->shape.rank;
    status st = tutil_read_ints(x, 1, "repeats", rep, ENGINE_MAX_RANK, &count);
    if (st) return st;
    if (count != r)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "repeats has %d entries, expected one per input dim (%d)", count, r);
    /* Each dim d becomes the pair [repeat, d] with stride 0 on the repeat. */
    int64_t in_strides[ENGINE_MAX_RANK], dims[2 * ENGINE_MAX_RANK], strides[2 * ENGINE_MAX_RANK];
    shape_strides(&in->shape, in_strides);
    engine_shape s = {r, {0}};
    for (int d = 0; d < r; d++) {
        if (rep[d] < 0)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "repeats[%d] is %lld, expected >= 0", d,
                             (long long)rep[d]);
        if (rep[d] && in->shape.dims[d] > INT64_MAX / rep[d])
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "tiled dim %d overflows", d);
        s.dims[d] = in->shape.dims[d] * rep[d];
        dims[2 * d] = rep[d];
        dims[2 * d + 1] = in->shape.dims[d];
        strides[2 * d] = 0;
        strides[2 * d + 1] = in_strides[d];
    }
    engine_tensor *y;
    st = exec_output(x, 0, in->dtype, &s, &y);
    if (st) return st;
    tutil_copy(x, engine_dtype_size(in->dtype), 2 * r, dims, strides, in->data, y->data);
    return STATUS_OK;
}

/* ---- Trilu ----------------------------------------------------------------- */

static status trilu_run(const node *n, exec_ctx *x) {
    const engine_tensor *in = exec_input(x, 0);
    if (!in) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input 0 is missing");
    if (in->shape.rank < 2)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "input has rank %d, expected at least 2",
                         in->shape.rank);
    int64_t k = 0;
    const engine_tensor *kt = exec_input(x, 1);
    if (kt) {
        if ((kt->dtype != ENGINE_INT64 && kt->dtype != ENGINE_INT32) ||
            engine_shape_numel(&kt->shape) != 1)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "k must be a single int64 value");
        k = tutil_index_at(kt, 0);
    }
    int upper = node_attr_int(n, "upper", 1) != 0;
    int r = in->shape.rank;
    int64_t rows = in->shape.dims[r - 2], cols = in->shape.dims[r - 1];
    int64_t mats = shape_span(&in->shape, 0, r - 2);
    size_t es = engine_dtype_size(in->dtype);
    engine_tensor *y;
    status st = exec_output(x, 0, in->dtype, &in->shape, &y);
    if (st || engine_shape_numel(&in->shape) == 0) return st;
    /* Row i keeps columns j with j - i >= k (upper) or j - i <= k (lower):
     * one copied run and one zeroed run per row. Zero bits are zero in
     * every numeric type. */
    for (int64_t m = 0; m < mats; m++) {
        for (int64_t i = 0; i < rows; i++) {
            size_t off = (size_t)((m * rows + i) * cols) * es;
            const char *src = (const char *)in->data + off;
            char *dst = (char *)y->data + off;
            /* Keep [lo, hi) of the row. Clamp before adding to stay in range. */
            int64_t kk = k > cols ? cols : k < -rows - 1 ? -rows - 1 : k;
            int64_t lo = upper ? i + kk : 0, hi = upper ? cols : i + kk + 1;
            lo = lo < 0 ? 0 : lo > cols ? cols : lo;
            hi = hi < lo ? lo : hi > cols ? cols : hi;
            memset(dst, 0, (size_t)lo * es);
            memcpy(dst + (size_t)lo * es, src + (size_t)lo * es, (size_t)(hi - lo) * es);
            memset(dst + (size_t)hi * es, 0, (size_t)(cols - hi) * es);
        }
    }
    return STATUS_OK;
}

static status trilu_prepare(graph *g, node *n, errinfo *err) {
    status st = tutil_check_index_input(g, n, err, 1, "k");
    return st ? st : tutil_prepare_data(g, n, err);
}

const op_desc op_family_tensor_layout[] = {
    {.type = "Transpose", .since = 1, .prepare = tutil_prepare_data, .run = transpose_run},
    {.type = "DepthToSpace", .since = 1, .prepare = blocksize_prepare, .run = d2s_run},
    {.type = "SpaceToDepth", .since = 1, .prepare = blocksize_prepare, .run = s2d_run},
    {.type = "Expand", .since = 8, .prepare = expand_prepare, .run = expand_run},
    {.type = "Tile", .since = 6, .prepare = tile_prepare, .run = tile_run},
    {.type = "Trilu", .since = 14, .prepare = trilu_prepare, .run = trilu_run},
    {0},
};
