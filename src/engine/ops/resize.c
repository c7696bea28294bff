/* resize.c -- Resize (opsets 10..19) and Upsample (7..9).
 *
 * Interpolation is separable: every output value is a weighted sum over a
 * few input positions per axis, with weights that depend only on that axis'
 * output coordinate. So per resized axis we build a table of taps (input
 * index, weight) for each output coordinate once per run, then:
 *  - nearest: one tap of weight 1 per axis, so the output is a gather of
 *    input elements, done by element size for every dtype; output rows that
 *    read the same input row as the previous one are copied from it;
 *  - linear / cubic (float types): one pass per resized axis, each pass an
 *    [outer, in, inner] -> [outer, out, inner] weighted sum over rows,
 *    vectorised along `inner`. Downscaling axes go first to shrink the work.
 * Coordinates and weights are computed in double, as ONNX's reference does;
 * "length_resized" is scale * length_original (not rounded), as it does too.
 *
 * Resize-10 and Upsample take scales only, use asymmetric coordinates and
 * the "simple" nearest rounding of that time (floor when upsampling, ceil
 * when downsampling), as ONNX Runtime does. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../dtype.h"
#include "../shape.h"
#include "tensor_util.h"

typedef enum rs_mode { RS_NEAREST, RS_LINEAR, RS_CUBIC } rs_mode;
typedef enum ct_mode {
    CT_HALF_PIXEL, CT_HALF_PIXEL_SYMMETRIC, CT_PYTORCH_HALF_PIXEL, CT_ALIGN_CORNERS,
    CT_ASYMMETRIC, CT_TF_HALF_PIXEL_FOR_NN, CT_TF_CROP_AND_RESIZE
} ct_mode;
typedef enum nm_mode { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL, NM_SIMPLE } nm_mode;
typedef enum ka_policy { KA_STRETCH, KA_NOT_LARGER, KA_NOT_SMALLER } ka_policy;

typedef struct resize_state {
    rs_mode mode;
    ct_mode ct;
    nm_mode nm;
    ka_policy keep;
    double cubic_a, extrapolation;
    int exclude_outside, antialias;
    int legacy;          /* Upsample or Resize-10: scales only */
    int n_axes;          /* -1: all axes */
    int64_t axes[ENGINE_MAX_RANK];
} resize_state;

static int lookup(const char *s, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

static status resize_prepare(graph *g, node *n, errinfo *err) {
    static const char *const modes[] = {"nearest", "linear", "cubic", "bilinear"};
    static const char *const cts[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
                                      "align_corners", "asymmetric", "tf_half_pixel_for_nn",
                                      "tf_crop_and_resize"};
    static const char *const nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    static const char *const kas[] = {"stretch", "not_larger", "not_smaller"};
    int legacy = strcmp(n->op_type, "Upsample") == 0 || n->opset < 11;
    const char *mode = node_attr_string(n, "mode", "nearest");
    const char *ct = node_attr_string(n, "coordinate_transformation_mode", "half_pixel");
    const char *nm = node_attr_string(n, "nearest_mode", "round_prefer_floor");
    const char *ka = node_attr_string(n, "keep_aspect_ratio_policy", "stretch");
    int m = lookup(mode, modes, 4), c = lookup(ct, cts, 7), r = lookup(nm, nms, 4);
    int k = lookup(ka, kas, 3);
    if (m < 0 || (legacy && m == RS_CUBIC))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "mode '%s', expected nearest, linear%s",
                               mode, legacy ? "" : " or cubic");
    if (c < 0) return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                                      "coordinate_transformation_mode '%s' is not supported", ct);
    if (r < 0) return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "nearest_mode '%s' is not supported", nm);
    if (k < 0)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "keep_aspect_ratio_policy '%s' is not supported", ka);
    engine_dtype dt = node_input_dtype(g, n, 0);
    status st = tutil_check_movable(n, err, dt, "input 0");
    if (st) return st;
    if (m != RS_NEAREST && !dtype_is_float(dt))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "mode '%s' on type %s: only float types interpolate", mode,
                               engine_dtype_name(dt));
    const int64_t *axes;
    int n_axes = n->opset >= 18 ? node_attr_ints(n, "axes", &axes) : -1;
    if (n_axes > ENGINE_MAX_RANK)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "too many axes (%d)", n_axes);
    resize_state *s = calloc(1, sizeof *s);
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    s->mode = m == 3 ? RS_LINEAR : (rs_mode)m;
    s->ct = legacy ? CT_ASYMMETRIC : (ct_mode)c;
    s->nm = legacy ? NM_SIMPLE : (nm_mode)r;
    s->keep = (ka_policy)k;
    s->cubic_a = node_attr_float(n, "cubic_coeff_a", -0.75f);
    s->extrapolation = node_attr_float(n, "extrapolation_value", 0.0f);
    s->exclude_outside = node_attr_int(n, "exclude_outside", 0) != 0;
    s->antialias = node_attr_int(n, "antialias", 0) != 0;
    s->legacy = legacy;
    s->n_axes = n_axes;
    for (int i = 0; i < n_axes; i++) s->axes[i] = axes[i];
    n->state = s;
    node_set_output_dtype(g, n, 0, dt);
    return STATUS_OK;
}

/* ---- sizes, scales and roi ------------------------------------------------------- */

/* Per axis the scale is kept as the ratio num / den (out / in for sizes) so
 * that x / scale = x * den / num is exact where the arithmetic allows: a
 * nearest-neighbour tie such as 14.5 must not become 14.500000000000002.
 * lout_f is "length_resized" as ONNX's reference computes it: scale *
 * length_original, not rounded (float32 arithmetic for given scales). */
typedef struct resize_geom {
    int rank;
    double scale[ENGINE_MAX_RANK], num[ENGINE_MAX_RANK], den[ENGINE_MAX_RANK];
    double lout_f[ENGINE_MAX_RANK];
    double roi_lo[ENGINE_MAX_RANK], roi_hi[ENGINE_MAX_RANK];
    int64_t in[ENGINE_MAX_RANK];
    engine_shape out;
} resize_geom;

/* Reads a float tensor input of exactly `want` values (0 = absent/empty). */
static status read_floats(exec_ctx *x, int i, const char *what, double *out, int want, int *got) {
    const engine_tensor *t = exec_input(x, i);
    *got = 0;
    if (!t || engine_shape_numel(&t->shape) == 0) return STATUS_OK;
    int64_t nv = engine_shape_numel(&t->shape);
    if (!dtype_is_float(t->dtype) || nv != want)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "%s has %lld values of type %s, expected %d floats (one per resized axis)",
                         what, (long long)nv, engine_dtype_name(t->dtype), want);
    for (int k = 0; k < want; k++) out[k] = dtype_load_double(t->dtype, t->data, k);
    *got = want;
    return STATUS_OK;
}

/* The resized axes (ONNX's `axes` attribute, opset 18) as a list of dims. */
static status resolve_axes(const resize_state *s, exec_ctx *x, int r, int *axes, int *n) {
    int seen[ENGINE_MAX_RANK] = {0};
    *n = s->n_axes < 0 ? r : s->n_axes;
    for (int i = 0; i < *n; i++) {
        int a = s->n_axes < 0 ? i : shape_normalize_axis(s->axes[i], r);
        if (a < 0 || seen[a]++)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "axes entry %d is out of range or repeated",
                             i);
        axes[i] = a;
    }
    return STATUS_OK;
}

static status apply_sizes(const resize_state *s, exec_ctx *x, const engine_shape *in,
                          const int *axes, int na, const int64_t *sizes, resize_geom *g) {
    double keep = s->keep == KA_NOT_LARGER ? INFINITY : 0, keep_num = 1, keep_den = 1;
    for (int i = 0; i < na; i++) {
        if (sizes[i] < 0)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "sizes[%d] is %lld, expected >= 0", i,
                             (long long)sizes[i]);
        int a = axes[i];
        int64_t d = in->dims[a];
        double sc = d ? (double)sizes[i] / (double)d : 1;
        if ((s->keep == KA_NOT_LARGER && sc < keep) || (s->keep == KA_NOT_SMALLER && sc > keep)) {
            keep = sc;
            keep_num = d ? (double)sizes[i] : 1;
            keep_den = d ? (double)d : 1;
        }
        g->scale[a] = sc;
        g->num[a] = d ? (double)sizes[i] : 1;
        g->den[a] = d ? (double)d : 1;
        g->out.dims[a] = sizes[i];
        g->lout_f[a] = (double)sizes[i];
    }
    if (s->keep == KA_STRETCH) return STATUS_OK;
    for (int i = 0; i < na; i++) {
        int a = axes[i];
        g->scale[a] = keep;
        g->num[a] = keep_num;
        g->den[a] = keep_den;
        g->lout_f[a] = keep_num * (double)in->dims[a] / keep_den;
        g->out.dims[a] = (int64_t)floor(g->lout_f[a] + 0.5);
    }
    return STATUS_OK;
}

static status resize_geometry(const node *n, exec_ctx *x, const engine_shape *in, resize_geom *g) {
    const resize_state *s = n->state;
    int r = in->rank, axes[ENGINE_MAX_RANK], na, got;
    double sc[ENGINE_MAX_RANK], roi[2 * ENGINE_MAX_RANK];
    status st = resolve_axes(s, x, r, axes, &na);
    if (st) return st;
    g->rank = r;
    g->out = *in;
    memcpy(g->in, in->dims, sizeof g->in);
    for (int d = 0; d < r; d++) {
        g->scale[d] = g->num[d] = g->den[d] = 1;
        g->lout_f[d] = (double)in->dims[d];
        g->roi_lo[d] = 0;
        g->roi_hi[d] = 1;
    }
    if (s->legacy) {
        if (n->opset < 9 && strcmp(n->op_type, "Upsample") == 0) {
            const float *f;
            got = node_attr_floats(n, "scales", &f);
            if (got != r)
                return exec_fail(x, STATUS_INVALID_ARGUMENT,
                                 "attribute scales has %d values, expected %d", got, r);
            for (int d = 0; d < r; d++) sc[d] = f[d];
        } else if ((st = read_floats(x, 1, "scales", sc, r, &got))) {
            return st;
        } else if (got != r) {
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "scales are missing");
        }
    } else {
        if ((st = read_floats(x, 1, "roi", roi, 2 * na, &got))) return st;
        for (int i = 0; i < got / 2; i++) {
            g->roi_lo[axes[i]] = roi[i];
            g->roi_hi[axes[i]] = roi[i + na];
        }
        if ((st = read_floats(x, 2, "scales", sc, na, &got))) return st;
        const engine_tensor *sz = exec_input(x, 3);
        int has_sizes = sz && engine_shape_numel(&sz->shape) > 0;
        if (got && has_sizes)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "both scales and sizes are given, expected one");
        if (has_sizes) {
            int64_t sizes[ENGINE_MAX_RANK];
            int cnt;
            if ((st = tutil_read_ints(x, 3, "sizes", sizes, ENGINE_MAX_RANK, &cnt))) return st;
            if (cnt != na)
                return exec_fail(x, STATUS_INVALID_ARGUMENT, "sizes has %d values, expected %d", cnt, na);
            return apply_sizes(s, x, in, axes, na, sizes, g);
        }
        if (!got) return exec_fail(x, STATUS_INVALID_ARGUMENT, "neither scales nor sizes is given");
    }
    for (int i = 0; i < na; i++) {
        int d = s->legacy ? i : axes[i];
        double v = sc[i];
        if (!(v > 0) || v > 1e6)
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "scale %g on axis %d, expected a positive value up to 1e6", v, d);
        /* float32 arithmetic, as ONNX Runtime sizes its output: 30 * 0.7f
         * gives 21 there (and in PyTorch, which exported the 0.7), not the
         * 20 that double arithmetic on 0.7f would. Like ONNX Runtime and
         * ONNX's reference, the crop's extent does not enter. */
        float o = floorf((float)in->dims[d] * (float)v);
        if (!(o >= 0 && o < 1e15f))
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "axis %d would resize to %g", d, (double)o);
        g->scale[d] = g->num[d] = v;
        g->den[d] = 1;
        g->lout_f[d] = (double)((float)v * (float)in->dims[d]);
        g->out.dims[d] = (int64_t)o;
    }
    return STATUS_OK;
}

/* ---- taps ----------------------------------------------------------------------------- */

/* For every output coordinate of one axis: ntaps (index, weight) pairs, or
 * extrap[j] = 1 when it falls outside a tf_crop_and_resize crop. */
typedef struct axis_taps {
    int64_t in, out;
    int ntaps;
    int identity;         /* output j reads input j with weight 1 */
    int any_extrap;
    int64_t *idx;
    double *w;            /* weights; wf: the same as float */
    float *wf;
    uint8_t *extrap;
} axis_taps;

static double original_coord(const resize_state *s, const resize_geom *g, int d, double x) {
    double num = g->num[d], den = g->den[d], lout_f = g->lout_f[d], lin = (double)g->in[d];
    double lo = g->roi_lo[d], hi = g->roi_hi[d];
    switch (s->ct) {
    case CT_HALF_PIXEL: return (x + 0.5) * den / num - 0.5;
    case CT_HALF_PIXEL_SYMMETRIC: {
        double adjustment = (double)g->out.dims[d] / lout_f, center = lin / 2;
        return center * (1 - adjustment) + (x + 0.5) * den / num - 0.5;
    }
    case CT_PYTORCH_HALF_PIXEL: return lout_f > 1 ? (x + 0.5) * den / num - 0.5 : 0;
    case CT_ALIGN_CORNERS: return lout_f > 1 ? x * (lin - 1) / (lout_f - 1) : 0;
    case CT_TF_HALF_PIXEL_FOR_NN: return (x + 0.5) * den / num;
    case CT_TF_CROP_AND_RESIZE:
    { /* the crop's own output length, as ONNX Runtime has it */
        double lout = (double)g->out.dims[d];
        return lout > 1 ? lo * (lin - 1) + x * (hi - lo) * (lin - 1) / (lout - 1)
                        : 0.5 * (lo + hi) * (lin - 1);
    }
    default: return x * den / num;
    }
}

/* The nearest input index. A coordinate within a relative 1e-6 of a whole
 * or half number is taken as that number first: scales arrive as float32,
 * so 3.5 / 0.7f is 5.0000001 where 0.7 was meant, and the rounding of a
 * tie must follow the intended value (ONNX Runtime, computing in float32,
 * lands on it exactly). */
static int64_t nearest_index(nm_mode m, double xo, int down) {
    double half = nearbyint(2 * xo) / 2;
    if (fabs(xo - half) <= 1e-6 * fmax(1, fabs(xo))) xo = half;
    switch (m) {
    case NM_ROUND_PREFER_CEIL: return (int64_t)floor(xo + 0.5);
    case NM_FLOOR: return (int64_t)floor(xo);
    case NM_CEIL: return (int64_t)ceil(xo);
    case NM_SIMPLE: return down ? (int64_t)ceil(xo) : (int64_t)xo;
    default: return (int64_t)ceil(xo - 0.5); /* round half down */
    }
}

static double cubic_weight(double a, double x) {
    x = fabs(x);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
}

/* First tap offset (relative to floor(xo)) and tap count. Antialiasing
 * stretches the filter by 1/scale when downscaling. */
static void tap_window(const resize_state *s, double scale, int *start, int *count) {
    if (s->mode == RS_NEAREST) {
        *start = 0;
        *count = 1;
        return;
    }
    double support = s->mode == RS_LINEAR ? 1 : 2;
    if (s->antialias && scale < 1) {
        *start = (int)floor(-support / scale) + 1;
        *count = 2 - 2 * *start;
    } else {
        *start = 1 - (int)support;
        *count = 2 * (int)support;
    }
}

static void taps_for(const resize_state *s, const axis_taps *t, double scale, double xo,
                     int start, int64_t *idx, double *w) {
    int64_t lin = t->in;
    if (s->mode == RS_NEAREST) {
        int64_t i = nearest_index(s->nm, xo, scale < 1);
        idx[0] = i < 0 ? 0 : i >= lin ? lin - 1 : i;
        w[0] = 1;
        return;
    }
    double x0 = floor(xo), ratio = xo - x0, f = s->antialias && scale < 1 ? scale : 1, sum = 0;
    for (int k = 0; k < t->ntaps; k++) {
        double arg = ((double)(start + k) - ratio) * f;
        w[k] = s->mode == RS_LINEAR ? fmax(0, 1 - fabs(arg)) : cubic_weight(s->cubic_a, arg);
        idx[k] = (int64_t)x0 + start + k;
        if (s->exclude_outside && (idx[k] < 0 || idx[k] >= lin)) w[k] = 0;
        sum += w[k];
    }
    for (int k = 0; k < t->ntaps; k++) {
        if ((s->exclude_outside || f != 1) && sum != 0) w[k] /= sum;
        idx[k] = idx[k] < 0 ? 0 : idx[k] >= lin ? lin - 1 : idx[k];
    }
}

/* Fills t for axis d of an input of size lin. */
static status axis_taps_init(const resize_state *s, exec_ctx *x, const resize_geom *g, int d,
                             int64_t lin, axis_taps *t) {
    int start, count;
    double scale = g->scale[d];
    if (s->antialias && s->mode != RS_NEAREST && scale * 1e7 < 1)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "scale %g on axis %d is too small to antialias", scale, d);
    tap_window(s, scale, &start, &count);
    int64_t lout = g->out.dims[d];
    size_t nt = (size_t)(lout ? lout : 1) * (size_t)count;
    t->ntaps = count;
    t->idx = exec_scratch(x, nt * sizeof *t->idx);
    t->w = exec_scratch(x, nt * sizeof *t->w);
    t->wf = exec_scratch(x, nt * sizeof *t->wf);
    t->extrap = exec_scratch(x, (size_t)(lout ? lout : 1));
    if (!t->idx || !t->w || !t->wf || !t->extrap)
        return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    t->any_extrap = 0;
    t->in = lin;
    t->out = g->out.dims[d];
    t->identity = t->in == t->out;
    for (int64_t j = 0; j < t->out; j++) {
        int64_t *idx = t->idx + j * count;
        double *w = t->w + j * count;
        double xo = original_coord(s, g, d, (double)j);
        /* a crop (roi comes from the request) may put xo anywhere, NaN too */
        t->extrap[j] = (s->ct == CT_TF_CROP_AND_RESIZE && (xo < 0 || xo > (double)(lin - 1))) ||
                       !(fabs(xo) < 1e15);
        if (t->extrap[j] || lin == 0) {
            t->extrap[j] = 1; /* an empty input has nothing to read: extrapolate */
            for (int k = 0; k < count; k++) { idx[k] = 0; w[k] = 0; }
            t->identity = 0;
            continue;
        }
        taps_for(s, t, scale, xo, start, idx, w);
        for (int k = 0; k < count && t->identity; k++)
            t->identity = w[k] == 0 || (w[k] == 1 && idx[k] == j);
    }
    for (int64_t k = 0; k < t->out * count; k++) t->wf[k] = (float)t->w[k];
    for (int64_t j = 0; j < t->out; j++) t->any_extrap |= t->extrap[j];
    return STATUS_OK;
}

/* ---- nearest: a gather by element size ------------------------------------------------ */

typedef struct nearest_job {
    int rank;
    size_t es;
    const engine_shape *out;
    const int64_t *map[ENGINE_MAX_RANK];   /* input index per output index; -1: extrapolate */
    int64_t in_strides[ENGINE_MAX_RANK];
    const char *src;
    char *dst;
    const void *extrap;                    /* one element */
} nearest_job;

#define NEAREST_ROW(T)                                                         \
    do {                                                                       \
        const T *restrict s = src;                                            \
        T *restrict d = dst, ev;                                              \
        memcpy(&ev, j->extrap, sizeof ev);                                     \
        for (int64_t k = 0; k < n; k++) d[k] = m[k] < 0 ? ev : s[m[k]];        \
    } while (0)

static void nearest_row(const nearest_job *j, const void *src, void *dst) {
    int64_t n = j->out->dims[j->rank - 1];
    const int64_t *m = j->map[j->rank - 1];
    switch (j->es) {
    case 1: NEAREST_ROW(uint8_t); break;
    case 2: NEAREST_ROW(uint16_t); break;
    case 4: NEAREST_ROW(uint32_t); break;
    case 8: NEAREST_ROW(uint64_t); break;
    default:
        for (int64_t k = 0; k < n; k++)
            memcpy((char *)dst + (size_t)k * j->es,
                   m[k] < 0 ? j->extrap : (const char *)src + (size_t)m[k] * j->es, j->es);
    }
}

static void nearest_rows(void *ctx, int64_t begin, int64_t end) {
    const nearest_job *j = ctx;
    int r = j->rank;
    int64_t n = j->out->dims[r - 1], prev = -2;
    size_t row = (size_t)n * j->es;
    for (int64_t u = begin; u < end; u++) {
        int64_t rem = u, off = 0;
        for (int d = r - 2; d >= 0 && off >= 0; d--) {
            int64_t i = j->map[d][rem % j->out->dims[d]];
            rem /= j->out->dims[d];
            off = i < 0 ? -1 : off + i * j->in_strides[d];
        }
        char *dst = j->dst + (size_t)u * row;
        if (off < 0) tutil_fill(dst, j->extrap, j->es, n);
        else if (off == prev) memcpy(dst, dst - row, row); /* upsampled rows repeat */
        else nearest_row(j, j->src + (size_t)off * j->es, dst);
        prev = off;
    }
}

static status run_nearest(const resize_state *s, exec_ctx *x, const engine_tensor *in,
                          const resize_geom *g, const axis_taps *taps, engine_tensor *y) {
    nearest_job j = {.rank = g->rank, .es = engine_dtype_size(in->dtype), .out = &g->out,
                     .src = in->data, .dst = y->data};
    uint64_t ev = 0;
    dtype_store_double(in->dtype, &ev, 0, s->extrapolation);
    j.extrap = &ev;
    shape_strides(&in->shape, j.in_strides);
    for (int d = 0; d < g->rank; d++) {
        int64_t *m = exec_scratch(x, (size_t)(taps[d].out ? taps[d].out : 1) * sizeof *m);
        if (!m) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
        for (int64_t k = 0; k < taps[d].out; k++) m[k] = taps[d].extrap[k] ? -1 : taps[d].idx[k];
        j.map[d] = m;
    }
    int64_t rows = engine_shape_numel(&g->out) / g->out.dims[g->rank - 1];
    if (rows > 1 && exec_threads(x) > 1 && engine_shape_numel(&g->out) * (int64_t)j.es >= (1 << 18))
        exec_parallel_for(x, rows, nearest_rows, &j);
    else
        nearest_rows(&j, 0, rows);
    return STATUS_OK;
}

/* ---- linear / cubic: one weighted-sum pass per resized axis ------------------------------- */

typedef struct pass_job {
    const axis_taps *t;
    int64_t inner;
    const void *src;
    void *dst;
    double extrap;
} pass_job;

/* Units: with inner > 1, one output row (o, j) each, a weighted sum of
 * input rows vectorised along inner; with inner == 1 (the last axis), one
 * outer row of t->out outputs each. Two taps (linear) are the common case
 * and get their own loops. W is the weights array of the pass' type. */
#define DEF_PASS(name, T, W)                                                   \
    static void name(void *ctx, int64_t begin, int64_t end) {                  \
        const pass_job *p = ctx;                                               \
        const axis_taps *t = p->t;                                             \
        const T *src = p->src, *wts = t->W;                                    \
        T *dst = p->dst, ev = (T)p->extrap;                                    \
        int nt = t->ntaps;                                                     \
        int64_t inner = p->inner;                                              \
        if (inner == 1) {                                                      \
            for (int64_t o = begin; o < end; o++) {                            \
                const T *restrict s = src + o * t->in;                        \
                T *restrict d = dst + o * t->out;                             \
                const int64_t *ix = t->idx;                                    \
                if (nt == 2) {                                                 \
                    for (int64_t j = 0; j < t->out; j++)                       \
                        d[j] = wts[2 * j] * s[ix[2 * j]] + wts[2 * j + 1] * s[ix[2 * j + 1]]; \
                } else {                                                       \
                    for (int64_t j = 0; j < t->out; j++) {                     \
                        T acc = 0;                                             \
                        for (int k = 0; k < nt; k++)                           \
                            acc += wts[j * nt + k] * s[ix[j * nt + k]];        \
                        d[j] = acc;                                            \
                    }                                                          \
                }                                                              \
                if (t->any_extrap)                                             \
                    for (int64_t j = 0; j < t->out; j++)                       \
                        if (t->extrap[j]) d[j] = ev;                           \
            }                                                                  \
            return;                                                            \
        }                                                                      \
        for (int64_t u = begin; u < end; u++) {                                \
            int64_t o = u / t->out, j = u % t->out;                            \
            T *restrict d = dst + u * inner;                                  \
            if (t->extrap[j]) {                                                \
                for (int64_t i = 0; i < inner; i++) d[i] = ev;                 \
                continue;                                                      \
            }                                                                  \
            const int64_t *ix = t->idx + j * nt;                               \
            const T *w = wts + j * nt;                                         \
            const T *restrict s0 = src + (o * t->in + ix[0]) * inner;         \
            const T *restrict s1 = src + (o * t->in + ix[nt > 1]) * inner;    \
            T w0 = w[0], w1 = nt > 1 ? w[1] : 0;                               \
            for (int64_t i = 0; i < inner; i++) d[i] = w0 * s0[i] + w1 * s1[i]; \
            for (int k = 2; k < nt; k++) {                                     \
                if (w[k] == 0) continue;                                       \
                const T *restrict sk = src + (o * t->in + ix[k]) * inner;     \
                T wk = w[k];                                                   \
                for (int64_t i = 0; i < inner; i++) d[i] += wk * sk[i];        \
            }                                                                  \
        }                                                                      \
    }

DEF_PASS(pass_f32, float, wf)
DEF_PASS(pass_f64, double, w)

typedef void (*pass_fn)(void *ctx, int64_t begin, int64_t end);

static void run_pass(exec_ctx *x, pass_fn fn, const axis_taps *t, int64_t outer, int64_t inner,
                     const void *src, void *dst, double extrap, size_t es) {
    pass_job p = {t, inner, src, dst, extrap};
    int64_t units = inner == 1 ? outer : outer * t->out;
    if (units > 1 && exec_threads(x) > 1 && outer * t->out * inner * (int64_t)es >= (1 << 17))
        exec_parallel_for(x, units, fn, &p);
    else
        fn(&p, 0, units);
}

static status run_interp(const resize_state *s, exec_ctx *x, const engine_tensor *in,
                         const resize_geom *g, const axis_taps *taps, engine_tensor *y) {
    int r = g->rank, order[ENGINE_MAX_RANK], np = 0;
    for (int d = 0; d < r; d++)
        if (!taps[d].identity) order[np++] = d;
    /* Downscaling axes first: later passes then run on fewer elements. On
     * equal ratios the innermost axis first: its pass (a gather per output)
     * is the costlier one per element, so it should see the fewest. */
    for (int a = 1; a < np; a++)
        for (int b = a; b > 0; b--) {
            const axis_taps *p = &taps[order[b - 1]], *q = &taps[order[b]];
            double rp = (double)p->out * (double)q->in, rq = (double)q->out * (double)p->in;
            if (rq > rp || (rq == rp && order[b] < order[b - 1])) break;
            int tmp = order[b]; order[b] = order[b - 1]; order[b - 1] = tmp;
        }
    int64_t in_n = engine_shape_numel(&in->shape), out_n = engine_shape_numel(&g->out);
    int wide = in->dtype == ENGINE_DOUBLE, half = !wide && in->dtype != ENGINE_FLOAT;
    size_t es = wide ? 8 : 4;
    const void *cur = in->data;
    if (half) { /* float16 / bfloat16: compute in float */
        float *f = exec_scratch(x, (size_t)(in_n ? in_n : 1) * 4);
        if (!f) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
        for (int64_t i = 0; i < in_n; i++) f[i] = (float)dtype_load_double(in->dtype, in->data, i);
        cur = f;
    }
    if (np == 0) {
        if (half) for (int64_t i = 0; i < out_n; i++) dtype_store_double(y->dtype, y->data, i, ((const float *)cur)[i]);
        else if (out_n) memcpy(y->data, cur, (size_t)out_n * es);
        return STATUS_OK;
    }
    engine_shape sh = in->shape;
    for (int p = 0; p < np; p++) {
        int d = order[p];
        int64_t outer = shape_span(&sh, 0, d), inner = shape_span(&sh, d + 1, r);
        sh.dims[d] = taps[d].out;
        void *next;
        if (p == np - 1 && !half) {
            next = y->data;
        } else {
            next = exec_scratch(x, (size_t)(engine_shape_numel(&sh) ? engine_shape_numel(&sh) : 1) * es);
            if (!next) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
        }
        run_pass(x, wide ? pass_f64 : pass_f32, &taps[d], outer, inner, cur, next, s->extrapolation, es);
        cur = next;
    }
    if (half)
        for (int64_t i = 0; i < out_n; i++) dtype_store_double(y->dtype, y->data, i, ((const float *)cur)[i]);
    return STATUS_OK;
}

static status resize_run(const node *n, exec_ctx *x) {
    const resize_state *s = n->state;
    const engine_tensor *in = exec_input(x, 0);
    if (!in) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input 0 is missing");
    if (in->shape.rank < 1)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "input is a scalar, expected rank >= 1");
    resize_geom g;
    status st = resize_geometry(n, x, &in->shape, &g);
    if (st) return st;
    engine_tensor *y;
    if ((st = exec_output(x, 0, in->dtype, &g.out, &y))) return st;
    if (engine_shape_numel(&g.out) == 0) return STATUS_OK;
    axis_taps taps[ENGINE_MAX_RANK];
    for (int d = 0; d < g.rank; d++)
        if ((st = axis_taps_init(s, x, &g, d, in->shape.dims[d], &taps[d]))) return st;
    if (s->mode == RS_NEAREST) return run_nearest(s, x, in, &g, taps, y);
    return run_interp(s, x, in, &g, taps, y);
}

const op_desc op_family_resize[] = {
    {.type = "Resize", .since = 10, .prepare = resize_prepare, .run = resize_run},
    {.type = "Upsample", .since = 7, .prepare = resize_prepare, .run = resize_run},
    {0},
};
