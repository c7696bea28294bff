/* conv.c -- Conv and ConvTranspose (1-D to 6-D, groups, dilations, strides,
 * pads, auto_pad, output_padding/output_shape), and the integer forms
 * ConvInteger and QLinearConv, which share the attribute semantics.
 *
 * This file holds the ONNX semantics: attributes, shapes, dtypes. The
 * arithmetic is in kernels/conv.c (im2col + sgemm, a direct depthwise
 * kernel, GEMM + col2im for the transpose). float32 runs in place; float16,
 * bfloat16 and double are converted to float32 around the kernel. 1-D
 * convolutions run as 2-D ones with a height of 1. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/conv.h"
#include "../dtype.h"
#include "../op.h"
#include "fview.h"
#include "window.h"

typedef enum conv_kind { CONV_FLOAT, CONV_INTEGER, CONV_QLINEAR } conv_kind;

typedef struct conv_state {
    conv_kind kind;
    int ix, iw, ib;                      /* input indices of X, W, B (-1: none) */
    window_attrs win;
    int64_t group;
    int n_outpad, n_outshape;            /* ConvTranspose; -1 when absent */
    int64_t outpad[WINDOW_MAX_SPATIAL];
    int64_t outshape[ENGINE_MAX_RANK];
    /* Fused activation: CONV_ACT_NONE unless a graph pass folds a following
     * Relu/Clip into this node. */
    conv_act act;
    float act_lo, act_hi;
} conv_state;

/* Input types: float Conv takes one floating type throughout; the integer
 * forms take 8-bit X and W (and int32 B for QLinearConv). */
static status conv_check_types(graph *g, node *n, errinfo *err, conv_kind kind, int iw, int ib) {
    engine_dtype dt = node_input_dtype(g, n, 0), wdt = node_input_dtype(g, n, iw);
    if (kind != CONV_FLOAT) {
        if ((dt != ENGINE_UINT8 && dt != ENGINE_INT8) ||
            (wdt != ENGINE_UINT8 && wdt != ENGINE_INT8))
            return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                                   "X and W have types %s and %s, expected int8 or uint8",
                                   engine_dtype_name(dt), engine_dtype_name(wdt));
        if (ib >= 0 && ib < n->n_inputs && n->inputs[ib] >= 0 &&
            node_input_dtype(g, n, ib) != ENGINE_INT32)
            return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "B must be int32");
        return STATUS_OK;
    }
    if (!dtype_is_float(dt))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "input X has type %s, expected float, float16, bfloat16 or double",
                               engine_dtype_name(dt));
    if (wdt != dt || (n->n_inputs > 2 && n->inputs[2] >= 0 && node_input_dtype(g, n, 2) != dt))
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "W and B must have the type of X (%s)", engine_dtype_name(dt));
    return STATUS_OK;
}

static status conv_prepare_any(graph *g, node *n, errinfo *err, int transpose, conv_kind kind) {
    static const int w_index[] = {1, 1, 3}, b_index[] = {2, -1, 8};
    status st = conv_check_types(g, n, err, kind, w_index[kind], b_index[kind]);
    if (st) return st;
    conv_state *s = calloc(1, sizeof *s);
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    s->kind = kind;
    s->ix = 0, s->iw = w_index[kind], s->ib = b_index[kind];
    st = window_attrs_parse(n, 0, &s->win, err);
    if (st) goto fail;
    s->group = node_attr_int(n, "group", 1);
    if (s->group < 1) {
        st = op_prepare_fail(n, err, STATUS_INVALID_MODEL, "group is %lld, expected >= 1",
                             (long long)s->group);
        goto fail;
    }
    const int64_t *v;
    s->n_outpad = transpose ? node_attr_ints(n, "output_padding", &v) : -1;
    if (s->n_outpad > WINDOW_MAX_SPATIAL) {
        st = op_prepare_fail(n, err, STATUS_INVALID_MODEL, "output_padding has %d values",
                             s->n_outpad);
        goto fail;
    }
    if (s->n_outpad > 0) memcpy(s->outpad, v, sizeof *v * (size_t)s->n_outpad);
    s->n_outshape = transpose ? node_attr_ints(n, "output_shape", &v) : -1;
    if (s->n_outshape > ENGINE_MAX_RANK) {
        st = op_prepare_fail(n, err, STATUS_INVALID_MODEL, "output_shape has %d values",
                             s->n_outshape);
        goto fail;
    }
    if (s->n_outshape > 0) memcpy(s->outshape, v, sizeof *v * (size_t)s->n_outshape);
    n->state = s;
    node_set_output_dtype(g, n, 0, kind == CONV_FLOAT     ? node_input_dtype(g, n, 0)
                                   : kind == CONV_INTEGER ? ENGINE_INT32
                                                          : node_input_dtype(g, n, 7));
    return STATUS_OK;
fail:
    free(s);
    return st;
}

static status conv_prepare(graph *g, node *n, errinfo *err) {
    return conv_prepare_any(g, n, err, 0, CONV_FLOAT);
}
static status convt_prepare(graph *g, node *n, errinfo *err) {
    return conv_prepare_any(g, n, err, 1, CONV_FLOAT);
}
static status convint_prepare(graph *g, node *n, errinfo *err) {
    return conv_prepare_any(g, n, err, 0, CONV_INTEGER);
}
static status qconv_prepare(graph *g, node *n, errinfo *err) {
    if (n->n_inputs < 8)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "QLinearConv needs 8 or 9 inputs");
    return conv_prepare_any(g, n, err, 0, CONV_QLINEAR);
}

/* Shared input checks: X and W ranks, bias length. Sets *nsp. */
static status check_inputs(exec_ctx *x, const conv_state *s, int64_t bias_len, int *nsp) {
    const engine_tensor *xt = exec_input(x, s->ix), *wt = exec_input(x, s->iw);
    const engine_tensor *bt = s->ib >= 0 ? exec_input(x, s->ib) : NULL;
    char why[256];
    if (!xt || !wt) return exec_fail(x, STATUS_INVALID_ARGUMENT, "inputs X and W are required");
    if (xt->shape.rank < 3 || wt->shape.rank != xt->shape.rank)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "X has rank %d and W rank %d, expected equal ranks of at least 3",
                         xt->shape.rank, wt->shape.rank);
    *nsp = xt->shape.rank - 2;
    if (window_check_rank(&s->win, *nsp, why, sizeof why))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "%s", why);
    if (s->win.has_kernel)
        for (int d = 0; d < *nsp; d++)
            if (s->win.kernel[d] != wt->shape.dims[d + 2])
                return exec_fail(x, STATUS_INVALID_ARGUMENT,
                                 "kernel_shape[%d] is %lld but W has %lld there", d,
                                 (long long)s->win.kernel[d], (long long)wt->shape.dims[d + 2]);
    if (bt && (bt->shape.rank != 1 || bt->shape.dims[0] != bias_len))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "B must be 1-D of length %lld",
                         (long long)bias_len);
    return STATUS_OK;
}

/* A 1-D geometry becomes 2-D with a height of 1: the kernels' fast paths
 * are written for 2-D. */
static void promote_1d(conv_geom *g) {
    if (g->nsp != 1) return;
    g->nsp = 2;
    g->in[1] = g->in[0], g->in[0] = 1;
    g->out[1] = g->out[0], g->out[0] = 1;
    g->kernel[1] = g->kernel[0], g->kernel[0] = 1;
    g->stride[1] = g->stride[0], g->stride[0] = 1;
    g->dilation[1] = g->dilation[0], g->dilation[0] = 1;
    g->pad[1] = g->pad[0], g->pad[0] = 0;
}

static void fill_common(conv_geom *g, const conv_state *s, int nsp) {
    g->nsp = nsp;
    g->group = s->group;
    for (int d = 0; d < nsp; d++) {
        g->stride[d] = s->win.has_strides ? s->win.strides[d] : 1;
        g->dilation[d] = s->win.has_dilations ? s->win.dilations[d] : 1;
    }
}

static status conv_geometry(exec_ctx *x, const conv_state *s, conv_geom *g, engine_shape *ys) {
    const engine_tensor *xt = exec_input(x, s->ix), *wt = exec_input(x, s->iw);
    int nsp;
    status st = check_inputs(x, s, wt ? wt->shape.dims[0] : 0, &nsp);
    if (st) return st;
    memset(g, 0, sizeof *g);
    fill_common(g, s, nsp);
    g->batch = xt->shape.dims[0];
    g->in_ch = xt->shape.dims[1];
    g->out_ch = wt->shape.dims[0];
    if (s->group > g->in_ch || g->in_ch % s->group || g->out_ch % s->group ||
        wt->shape.dims[1] != g->in_ch / s->group)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "X has %lld channels and W is [%lld, %lld, ...] with group %lld: "
                         "expected W[1] * group == channels and group dividing W[0]",
                         (long long)g->in_ch, (long long)g->out_ch,
                         (long long)wt->shape.dims[1], (long long)s->group);
    int64_t pe[WINDOW_MAX_SPATIAL];
    char why[256];
    if (window_resolve(&s->win, nsp, xt->shape.dims + 2, wt->shape.dims + 2, g->out, g->pad,
                       pe, why, sizeof why))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "%s", why);
    ys->rank = xt->shape.rank;
    ys->dims[0] = g->batch;
    ys->dims[1] = g->out_ch;
    for (int d = 0; d < nsp; d++) {
        g->in[d] = xt->shape.dims[d + 2];
        g->kernel[d] = wt->shape.dims[d + 2];
        ys->dims[d + 2] = g->out[d];
    }
    promote_1d(g);
    return STATUS_OK;
}

/* ConvTranspose output size and pads on one axis (the ONNX formulas; an
 * output_shape larger than the natural size pads at the end). */
static status convt_axis(exec_ctx *x, const conv_state *s, int nsp, int d, int64_t in,
                         int64_t k, int64_t *out, int64_t *pb) {
    int64_t st = s->win.has_strides ? s->win.strides[d] : 1;
    int64_t dil = s->win.has_dilations ? s->win.dilations[d] : 1;
    int64_t op = d < s->n_outpad ? s->outpad[d] : 0;
    if (op < 0 || op > WINDOW_MAX_ATTR)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "output_padding must be in [0, %lld]",
                         (long long)WINDOW_MAX_ATTR);
    int64_t full = st * (in - 1) + op + dil * (k - 1) + 1;
    int64_t want = -1;
    if (s->n_outshape > 0) {
        int off = s->n_outshape == nsp + 2 ? 2 : 0;
        if (s->n_outshape != nsp && s->n_outshape != nsp + 2)
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "output_shape has %d values, expected %d (spatial) or %d",
                             s->n_outshape, nsp, nsp + 2);
        want = s->outshape[d + off];
        if (want < 0 || want > WINDOW_MAX_ATTR * WINDOW_MAX_ATTR)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "output_shape value %lld is out of range",
                             (long long)want);
    } else if (s->win.auto_pad == WINDOW_PAD_SAME_UPPER ||
               s->win.auto_pad == WINDOW_PAD_SAME_LOWER) {
        want = in * st;
    }
    if (want >= 0) {
        int64_t total = full - want;
        if (total < 0) total = 0;
        *pb = s->win.auto_pad == WINDOW_PAD_SAME_UPPER ? total / 2 : total - total / 2;
        *out = want;
    } else {
        int64_t b = 0, e = 0;
        if (s->win.auto_pad == WINDOW_PAD_NOTSET && s->win.has_pads)
            b = s->win.pads[d], e = s->win.pads[d + nsp];
        *pb = b;
        *out = full - b - e;
    }
    if (*out < 0)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "output size on spatial axis %d would be %lld: pads too large", d,
                         (long long)*out);
    return STATUS_OK;
}

static status convt_geometry(exec_ctx *x, const conv_state *s, conv_geom *g, engine_shape *ys) {
    const engine_tensor *xt = exec_input(x, s->ix), *wt = exec_input(x, s->iw);
    int nsp;
    if (xt && wt && wt->shape.rank >= 2 && s->group > xt->shape.dims[1] && xt->shape.rank >= 2)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "group %lld exceeds the %lld channels of X",
                         (long long)s->group, (long long)xt->shape.dims[1]);
    status st = check_inputs(x, s, wt && wt->shape.rank >= 2 ? wt->shape.dims[1] * s->group : 0,
                             &nsp);
    if (st) return st;
    if (s->n_outpad > 0 && s->n_outpad != nsp)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "output_padding has %d values, expected %d",
                         s->n_outpad, nsp);
    memset(g, 0, sizeof *g);
    fill_common(g, s, nsp);
    /* The forward conv this is the adjoint of maps Y (in_ch) to X (out_ch). */
    g->batch = xt->shape.dims[0];
    g->out_ch = xt->shape.dims[1];
    g->in_ch = wt->shape.dims[1] * s->group;
    if (wt->shape.dims[0] != g->out_ch || g->out_ch % s->group)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "X has %lld channels and W is [%lld, ...] with group %lld: expected "
                         "W[0] == channels, divisible by group",
                         (long long)g->out_ch, (long long)wt->shape.dims[0], (long long)s->group);
    ys->rank = xt->shape.rank;
    ys->dims[0] = g->batch;
    ys->dims[1] = g->in_ch;
    for (int d = 0; d < nsp; d++) {
        g->out[d] = xt->shape.dims[d + 2];
        g->kernel[d] = wt->shape.dims[d + 2];
        if ((st = convt_axis(x, s, nsp, d, g->out[d], g->kernel[d], &g->in[d], &g->pad[d])))
            return st;
        ys->dims[d + 2] = g->in[d];
    }
    promote_1d(g);
    return STATUS_OK;
}

static void par_exec(const void *ctx, int64_t n, kpar_fn fn, void *arg) {
    exec_parallel_for(ctx, n, fn, arg);
}

static status conv_run_any(const node *n, exec_ctx *x, int transpose) {
    const conv_state *s = n->state;
    conv_geom g;
    engine_shape ys = {0};
    engine_tensor *yt;
    status st = transpose ? convt_geometry(x, s, &g, &ys) : conv_geometry(x, s, &g, &ys);
    if (st) return st;
    if ((st = exec_output(x, 0, exec_input(x, 0)->dtype, &ys, &yt))) return st;
    const float *xf = fview_input(x, exec_input(x, 0)), *wf = fview_input(x, exec_input(x, 1));
    const float *bf = fview_input(x, exec_input(x, 2));
    float *yf = fview_output(x, yt);
    if (!xf || !wf || !yf || (exec_input(x, 2) && !bf))
        return exec_fail(x, STATUS_NO_MEMORY, "out of memory converting to float");
    kpar par = {.run = par_exec, .ctx = x, .threads = exec_threads(x)};
    size_t sb = transpose ? conv_transpose_f32_scratch(&g, par.threads)
                          : conv_f32_scratch(&g, par.threads);
    float *scratch = sb ? exec_scratch(x, sb) : NULL;
    if (sb && !scratch) return exec_fail(x, STATUS_NO_MEMORY, "out of memory (%zu bytes)", sb);
    conv_post post = {.bias = bf, .act = s->act, .lo = s->act_lo, .hi = s->act_hi};
    if (transpose) conv_transpose_f32(&g, xf, wf, &post, yf, scratch, &par);
    else conv_f32(&g, xf, wf, &post, yf, scratch, &par);
    fview_commit(yt, yf);
    return STATUS_OK;
}

/* --- ConvInteger and QLinearConv ----------------------------------------- */

/* Element i of an optional scalar-or-per-channel parameter (0 if absent). */
static double qparam(const engine_tensor *t, int64_t ch) {
    if (!t) return 0;
    return dtype_load_double(t->dtype, t->data, engine_shape_numel(&t->shape) == 1 ? 0 : ch);
}

static status qparam_check(exec_ctx *x, const engine_tensor *t, int64_t per_channel,
                           const char *name) {
    int64_t cnt = t ? engine_shape_numel(&t->shape) : 1;
    if (cnt != 1 && cnt != per_channel)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "%s has %lld values, expected 1%s", name,
                         (long long)cnt, per_channel > 1 ? " or one per output channel" : "");
    return STATUS_OK;
}

/* dst[i] = src[i] - zp(block i / per), as float. */
static void q_centre(const engine_tensor *t, const engine_tensor *zp, int64_t per, float *dst) {
    int64_t n = engine_shape_numel(&t->shape);
    for (int64_t i = 0; i < n; i++)
        dst[i] = (float)(dtype_load_int64(t->dtype, t->data, i) - (int64_t)qparam(zp, i / per));
}

/* Integer convolution through the fp32 kernels: x - x_zp and w - w_zp are
 * integers of at most 9 bits, exact in float, and the sums stay exact while
 * below 2^24 in magnitude (always when C/group * kernel size <= 258; beyond
 * that only for sums of that size, which real activations rarely reach). */
static status qconv_run(const node *n, exec_ctx *x) {
    const conv_state *s = n->state;
    int q = s->kind == CONV_QLINEAR;
    const engine_tensor *xt = exec_input(x, 0), *wt = exec_input(x, s->iw);
    const engine_tensor *xzp = exec_input(x, 2), *wzp = exec_input(x, q ? 5 : 3);
    const engine_tensor *xs = q ? exec_input(x, 1) : NULL, *ws = q ? exec_input(x, 4) : NULL;
    const engine_tensor *ysc = q ? exec_input(x, 6) : NULL, *yzp = q ? exec_input(x, 7) : NULL;
    const engine_tensor *bt = q ? exec_input(x, 8) : NULL;
    conv_geom g;
    engine_shape ys = {0};
    engine_tensor *yt;
    status st = conv_geometry(x, s, &g, &ys);
    if (st || (st = qparam_check(x, xzp, 1, "x_zero_point")) ||
        (st = qparam_check(x, wzp, g.out_ch, "w_zero_point")) ||
        (st = qparam_check(x, xs, 1, "x_scale")) ||
        (st = qparam_check(x, ws, g.out_ch, "w_scale")) ||
        (st = qparam_check(x, ysc, 1, "y_scale")) || (st = qparam_check(x, yzp, 1, "y_zero_point")))
        return st;
    if (q && (!xs || !ws || !ysc))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "x_scale, w_scale and y_scale are required");
    engine_dtype ydt = q ? (yzp ? yzp->dtype : ENGINE_UINT8) : ENGINE_INT32;
    if ((st = exec_output(x, 0, ydt, &ys, &yt))) return st;
    int64_t nx = engine_shape_numel(&xt->shape), nw = engine_shape_numel(&wt->shape);
    int64_t ny = engine_shape_numel(&ys), osz = conv_out_size(&g);
    kpar par = {.run = par_exec, .ctx = x, .threads = exec_threads(x)};
    size_t sb = conv_f32_scratch(&g, par.threads);
    float *xf = exec_scratch(x, (size_t)nx * 4 + 1), *wf = exec_scratch(x, (size_t)nw * 4 + 1);
    float *yf = exec_scratch(x, (size_t)ny * 4 + 1), *scratch = sb ? exec_scratch(x, sb) : NULL;
    if (!xf || !wf || !yf || (sb && !scratch))
        return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    q_centre(xt, xzp, nx ? nx : 1, xf);
    q_centre(wt, wzp, g.out_ch ? nw / g.out_ch : 1, wf);
    conv_f32(&g, xf, wf, NULL, yf, scratch, &par);
    double lo = ydt == ENGINE_INT8 ? -128 : 0, hi = ydt == ENGINE_INT8 ? 127 : 255;
    for (int64_t i = 0; i < ny; i++) {
        int64_t m = i / osz % g.out_ch;
        int64_t acc = llrintf(yf[i]) + (bt ? dtype_load_int64(ENGINE_INT32, bt->data, m) : 0);
        if (!q) {
            ((int32_t *)yt->data)[i] = (int32_t)acc;
            continue;
        }
        float mult = (float)(qparam(xs, 0) * qparam(ws, m) / qparam(ysc, 0));
        double v = nearbyintf((float)acc * mult) + qparam(yzp, 0);
        v = v >= lo ? (v <= hi ? v : hi) : (v > hi ? hi : lo); /* NaN -> lo */
        dtype_store_double(ydt, yt->data, i, v);
    }
    return STATUS_OK;
}

static status conv_run(const node *n, exec_ctx *x) { return conv_run_any(n, x, 0); }
static status convt_run(const node *n, exec_ctx *x) { return conv_run_any(n, x, 1); }

const op_desc op_family_conv[] = {
    {.type = "Conv", .since = 1, .prepare = conv_prepare, .run = conv_run},
    {.type = "ConvTranspose", .since = 1, .prepare = convt_prepare, .run = convt_run},
    {.type = "ConvInteger", .since = 10, .prepare = convint_prepare, .run = qconv_run},
    {.type = "QLinearConv", .since = 10, .prepare = qconv_prepare, .run = qconv_run},
    {0},
};
