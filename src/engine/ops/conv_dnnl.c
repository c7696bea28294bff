/* conv_dnnl.c -- the channels-last operators the layout pass
 * (layout_pass.c) puts in a CNN's convolution regions, domain "ai.inferd":
 *
 *   ConvNhwc(X, W, B?, Z?)   X [N, H, W, C] -> Y [N, OH, OW, M]. W and B are
 *       the original Conv's constants (ONNX layout), attributes are Conv's
 *       plus the fused epilogue: post_ops (ints, dnnl_post_kind values in
 *       order), post_alpha / post_beta (floats, one per post-op). A
 *       DNNL_POST_SUM adds Z, the other operand of a fused residual Add.
 *   MaxPoolNhwc, AveragePoolNhwc, GlobalAveragePoolNhwc, GlobalMaxPoolNhwc
 *       (X) -- the ONNX pools with their attributes, on [N, H, W, C].
 *   BatchNormNhwc(X, scale, B, mean, var) -- inference BatchNormalization
 *       on [N, H, W, C] with constant statistics, plus post_ops as above
 *       (no sum): a DenseNet's BN + Relu in one pass over memory.
 *
 * Arithmetic is in kernels/dnnl_conv.c. A fused Add whose operands turn out
 * to broadcast (shapes are known only at run time) is computed as conv +
 * pre-sum post-ops into scratch, then the broadcast add and the remaining
 * post-ops here: slow, but the same result as the unfused graph. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/dnnl_conv.h"
#include "../kernels/vmath.h"
#include "../op.h"
#include "../shape.h"
#include "window.h"

typedef struct cdnn_state {
    window_attrs win;
    int64_t group, in_ch, out_ch, kernel[2];
    int sum_at;              /* index of the SUM post-op, -1 if none */
    dnnl_conv_desc d;
    dnnl_conv *full;         /* every post-op */
    dnnl_conv *pre;          /* post-ops before SUM (broadcasting Z), or NULL */
} cdnn_state;

static void cdnn_free(void *p) {
    cdnn_state *s = p;
    if (!s) return;
    dnnl_conv_destroy(s->full);
    dnnl_conv_destroy(s->pre);
    free(s);
}

static void *scratch_fn(void *ctx, size_t bytes) { return exec_scratch(ctx, bytes); }

/* Work (multiply-adds, or elements read) below which one thread beats a
 * parallel region: the SE blocks' 1x1 convs on [N, 1, 1, C] take a few
 * microseconds, less than waking the OpenMP team on a busy machine. */
static int small_work(int64_t work) { return work < (INT64_C(1) << 17); }

/* Reads post_ops / post_alpha / post_beta into d. */
static status parse_posts(const node *n, cdnn_state *s, errinfo *err) {
    const int64_t *kinds;
    const float *alpha, *beta;
    int nk = node_attr_ints(n, "post_ops", &kinds);
    int na = node_attr_floats(n, "post_alpha", &alpha), nb = node_attr_floats(n, "post_beta", &beta);
    s->sum_at = -1;
    if (nk < 0) return STATUS_OK;
    if (nk > DNNL_CONV_MAX_POST || na != nk || nb != nk)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "post_ops has %d entries (at most %d), post_alpha %d, post_beta %d: "
                               "expected the same count",
                               nk, DNNL_CONV_MAX_POST, na, nb);
    for (int i = 0; i < nk; i++) {
        if (kinds[i] < DNNL_POST_SUM || kinds[i] >= DNNL_POST__COUNT)
            return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "post_ops[%d] is %lld, unknown", i,
                                   (long long)kinds[i]);
        if (kinds[i] == DNNL_POST_SUM) {
            if (s->sum_at >= 0 || n->n_inputs < 4 || n->inputs[3] < 0)
                return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                                       "a sum post-op needs input Z, and there may be one");
            s->sum_at = i;
        }
        s->d.post[i] = (dnnl_post){(dnnl_post_kind)kinds[i], alpha[i], beta[i]};
    }
    s->d.n_post = nk;
    return STATUS_OK;
}

/* W [M, C/group, kH, kW] and B [M] must be float constants. */
static status check_consts(const graph *g, const node *n, cdnn_state *s, errinfo *err) {
    const engine_tensor *w = node_input_const(g, n, 1);
    const engine_tensor *b = n->n_inputs > 2 && n->inputs[2] >= 0 ? node_input_const(g, n, 2) : NULL;
    if (!w || w->dtype != ENGINE_FLOAT || w->shape.rank != 4)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "W must be a 4-D float constant");
    if (n->n_inputs > 2 && n->inputs[2] >= 0 &&
        (!b || b->dtype != ENGINE_FLOAT || b->shape.rank != 1 || b->shape.dims[0] != w->shape.dims[0]))
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "B must be a 1-D float constant of length %lld",
                               (long long)w->shape.dims[0]);
    s->out_ch = w->shape.dims[0];
    s->in_ch = w->shape.dims[1] * s->group;
    s->kernel[0] = w->shape.dims[2], s->kernel[1] = w->shape.dims[3];
    if (s->out_ch % s->group || s->out_ch == 0 || s->in_ch == 0)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "W is [%lld, %lld, ...] with group %lld: expected group to divide W[0]",
                               (long long)s->out_ch, (long long)w->shape.dims[1],
                               (long long)s->group);
    s->d.w = w->data;
    s->d.bias = b ? b->data : NULL;
    return STATUS_OK;
}

static status cdnn_prepare(graph *g, node *n, errinfo *err) {
    char why[256];
    if (node_input_dtype(g, n, 0) != ENGINE_FLOAT)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "input X has type %s, expected float",
                               engine_dtype_name(node_input_dtype(g, n, 0)));
    cdnn_state *s = calloc(1, sizeof *s);
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    status st = window_attrs_parse(n, 0, &s->win, err);
    if (st) goto fail;
    s->group = node_attr_int(n, "group", 1);
    if (s->group < 1) {
        st = op_prepare_fail(n, err, STATUS_INVALID_MODEL, "group is %lld, expected >= 1",
                             (long long)s->group);
        goto fail;
    }
    if ((st = check_consts(g, n, s, err)) || (st = parse_posts(n, s, err))) goto fail;
    if (window_check_rank(&s->win, 2, why, sizeof why)) {
        st = op_prepare_fail(n, err, STATUS_INVALID_MODEL, "%s", why);
        goto fail;
    }
    if (s->win.has_kernel && (s->win.kernel[0] != s->kernel[0] || s->win.kernel[1] != s->kernel[1])) {
        st = op_prepare_fail(n, err, STATUS_INVALID_MODEL, "kernel_shape does not match W's shape");
        goto fail;
    }
    s->d.in_ch = s->in_ch, s->d.out_ch = s->out_ch, s->d.group = s->group;
    for (int d = 0; d < 2; d++) {
        s->d.kernel[d] = s->kernel[d];
        s->d.stride[d] = s->win.has_strides ? s->win.strides[d] : 1;
        s->d.dilation[d] = s->win.has_dilations ? s->win.dilations[d] : 1;
    }
    if ((st = dnnl_conv_create(&s->d, &s->full, why, sizeof why))) goto dnn_fail;
    if (s->sum_at >= 0) {
        dnnl_conv_desc pre = s->d;
        pre.n_post = s->sum_at;
        if ((st = dnnl_conv_create(&pre, &s->pre, why, sizeof why))) goto dnn_fail;
    }
    n->state = s;
    node_set_output_dtype(g, n, 0, ENGINE_FLOAT);
    return STATUS_OK;
dnn_fail:
    st = op_prepare_fail(n, err, st, "%s", why);
fail:
    cdnn_free(s);
    return st;
}

/* One eltwise post-op on a value, as oneDNN defines it. */
static float post_apply(const dnnl_post *p, float v) {
    switch (p->kind) {
    case DNNL_POST_RELU: return v > 0 ? v : v * p->alpha;
    case DNNL_POST_CLIP: return v < p->alpha ? p->alpha : v > p->beta ? p->beta : v;
    case DNNL_POST_HARDSWISH: {
        float r = v + 3.0f;
        r = r < 0 ? 0 : r > 6 ? 6 : r;
        return v * r / 6.0f;
    }
    case DNNL_POST_SIGMOID: return 1.0f / (1.0f + expf(-v));
    case DNNL_POST_TANH: return tanhf(v);
    case DNNL_POST_SWISH: return v / (1.0f + expf(-v));
    case DNNL_POST_LINEAR: return p->alpha * v + p->beta;
    default: return v;
    }
}

/* y = posts_after_sum(t + z) with numpy broadcasting, all rank 4. */
static void add_broadcast(const cdnn_state *s, const engine_shape *ys, const float *t,
                          const engine_shape *ts, const float *z, const engine_shape *zs, float *y) {
    int64_t st[4], sz[4], i = 0;
    shape_broadcast_strides(ts, ys, st);
    shape_broadcast_strides(zs, ys, sz);
    for (int64_t a = 0; a < ys->dims[0]; a++)
        for (int64_t b = 0; b < ys->dims[1]; b++)
            for (int64_t c = 0; c < ys->dims[2]; c++)
                for (int64_t d = 0; d < ys->dims[3]; d++, i++) {
                    float v = t[a * st[0] + b * st[1] + c * st[2] + d * st[3]] +
                              z[a * sz[0] + b * sz[1] + c * sz[2] + d * sz[3]];
                    for (int k = s->sum_at + 1; k < s->d.n_post; k++) v = post_apply(&s->d.post[k], v);
                    y[i] = v;
                }
}

/* Output shape and geometry of a run from X [N, H, W, C]. */
static status cdnn_geometry(exec_ctx *x, const cdnn_state *s, const engine_tensor *xt,
                            dnnl_conv_shape *cs, engine_shape *ys) {
    char why[256];
    if (xt->shape.rank != 4 || xt->shape.dims[3] != s->in_ch)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "X must be [N, H, W, %lld] (channels last), got rank %d with %lld channels",
                         (long long)s->in_ch, xt->shape.rank,
                         (long long)(xt->shape.rank == 4 ? xt->shape.dims[3] : -1));
    int64_t pe[2];
    memset(cs, 0, sizeof *cs);
    if (window_resolve(&s->win, 2, xt->shape.dims + 1, s->kernel, cs->out, cs->pad_l, pe, why,
                       sizeof why))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "%s", why);
    cs->batch = xt->shape.dims[0];
    for (int d = 0; d < 2; d++) {
        cs->in[d] = xt->shape.dims[d + 1];
        cs->pad_r[d] = pe[d];
    }
    *ys = (engine_shape){4, {cs->batch, cs->out[0], cs->out[1], s->out_ch}};
    return STATUS_OK;
}

static status cdnn_run(const node *n, exec_ctx *x) {
    const cdnn_state *s = n->state;
    const engine_tensor *xt = exec_input(x, 0), *zt = s->sum_at >= 0 ? exec_input(x, 3) : NULL;
    char why[256];
    dnnl_conv_shape cs;
    engine_shape ys, out;
    engine_tensor *y;
    if (!xt || (s->sum_at >= 0 && !zt))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "inputs X%s are required",
                         s->sum_at >= 0 ? " and Z" : "");
    status st = cdnn_geometry(x, s, xt, &cs, &ys);
    if (st) return st;
    out = ys;
    if (zt && (zt->dtype != ENGINE_FLOAT || shape_broadcast(&ys, &zt->shape, &out)))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "Z (the fused Add's operand) does not broadcast "
                                                     "with the convolution's output");
    if ((st = exec_output(x, 0, ENGINE_FLOAT, &out, &y))) return st;
    if (shape_span(&ys, 0, 4) == 0) return STATUS_OK;
    int threads = small_work(shape_span(&ys, 0, 4) * (s->in_ch / s->group) * s->kernel[0] *
                             s->kernel[1]) ? 1 : exec_threads(x);
    if (zt && shape_equal(&zt->shape, &ys)) {
        st = dnnl_conv_run(s->full, &cs, xt->data, zt->data, y->data, threads, scratch_fn, x, why,
                           sizeof why);
    } else if (zt) {
        float *t = exec_scratch(x, (size_t)shape_span(&ys, 0, 4) * sizeof(float));
        if (!t) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
        st = dnnl_conv_run(s->pre, &cs, xt->data, NULL, t, threads, scratch_fn, x, why, sizeof why);
        if (!st) add_broadcast(s, &out, t, &ys, zt->data, &zt->shape, y->data);
    } else {
        st = dnnl_conv_run(s->full, &cs, xt->data, NULL, y->data, threads, scratch_fn, x, why,
                           sizeof why);
    }
    return st ? exec_fail(x, st, "%s", why) : STATUS_OK;
}

/* ---- pools ------------------------------------------------------------------ */

typedef struct pdnn_state {
    window_attrs win;
    int global;
    dnnl_pool *pool;
} pdnn_state;

static void pdnn_free(void *p) {
    pdnn_state *s = p;
    if (!s) return;
    dnnl_pool_destroy(s->pool);
    free(s);
}

static status pdnn_prepare(graph *g, node *n, errinfo *err) {
    char why[256];
    int global = !strncmp(n->op_type, "Global", 6);
    int is_max = strstr(n->op_type, "MaxPool") != NULL;
    if (node_input_dtype(g, n, 0) != ENGINE_FLOAT)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "input X has type %s, expected float",
                               engine_dtype_name(node_input_dtype(g, n, 0)));
    pdnn_state *s = calloc(1, sizeof *s);
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    s->global = global;
    status st = STATUS_OK;
    if (!global && (st = window_attrs_parse(n, 1, &s->win, err))) goto fail;
    int incl = node_attr_int(n, "count_include_pad", 0) != 0;
    if (!global && window_check_rank(&s->win, 2, why, sizeof why)) {
        st = op_prepare_fail(n, err, STATUS_INVALID_MODEL, "%s", why);
        goto fail;
    }
    if (!is_max && incl && s->win.ceil_mode) {
        st = op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                             "count_include_pad with ceil_mode is not supported");
        goto fail;
    }
    dnnl_pool_kind kind = is_max ? DNNL_POOL_MAX : incl ? DNNL_POOL_AVG_INCLUDE_PAD
                                                        : DNNL_POOL_AVG_EXCLUDE_PAD;
    if ((st = dnnl_pool_create(kind, &s->pool, why, sizeof why))) {
        st = op_prepare_fail(n, err, st, "%s", why);
        goto fail;
    }
    n->state = s;
    node_set_output_dtype(g, n, 0, ENGINE_FLOAT);
    return STATUS_OK;
fail:
    pdnn_free(s);
    return st;
}

/* The pool's geometry on X [N, H, W, C]; ceil_mode becomes extra right
 * padding, which oneDNN ignores for max and exclude-pad averages. */
static status pdnn_geometry(exec_ctx *x, const pdnn_state *s, const engine_tensor *xt,
                            dnnl_pool_shape *ps) {
    char why[256];
    if (xt->shape.rank != 4)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "X has rank %d, expected [N, H, W, C]",
                         xt->shape.rank);
    memset(ps, 0, sizeof *ps);
    ps->batch = xt->shape.dims[0], ps->channels = xt->shape.dims[3];
    ps->in[0] = xt->shape.dims[1], ps->in[1] = xt->shape.dims[2];
    for (int d = 0; d < 2; d++) {
        ps->kernel[d] = s->global ? ps->in[d] : s->win.kernel[d];
        ps->stride[d] = !s->global && s->win.has_strides ? s->win.strides[d] : 1;
        ps->dilation[d] = !s->global && s->win.has_dilations ? s->win.dilations[d] : 1;
        ps->out[d] = 1;
    }
    if (s->global) {
        if (ps->in[0] < 1 || ps->in[1] < 1)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "X has an empty spatial extent");
        return STATUS_OK;
    }
    int64_t pe[2];
    if (window_resolve(&s->win, 2, ps->in, ps->kernel, ps->out, ps->pad_l, pe, why, sizeof why))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "%s", why);
    for (int d = 0; d < 2; d++) {
        int64_t ek = (ps->kernel[d] - 1) * ps->dilation[d] + 1;
        int64_t need = (ps->out[d] - 1) * ps->stride[d] + ek - ps->in[d] - ps->pad_l[d];
        ps->pad_r[d] = pe[d] > need ? pe[d] : need;
    }
    return STATUS_OK;
}

static status pdnn_run(const node *n, exec_ctx *x) {
    const pdnn_state *s = n->state;
    const engine_tensor *xt = exec_input(x, 0);
    char why[256];
    dnnl_pool_shape ps;
    engine_tensor *y;
    if (!xt) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input X is required");
    status st = pdnn_geometry(x, s, xt, &ps);
    if (st) return st;
    engine_shape ys = {4, {ps.batch, ps.out[0], ps.out[1], ps.channels}};
    if ((st = exec_output(x, 0, ENGINE_FLOAT, &ys, &y))) return st;
    if (shape_span(&ys, 0, 4) == 0) return STATUS_OK;
    int threads = small_work(shape_span(&xt->shape, 0, 4)) ? 1 : exec_threads(x);
    st = dnnl_pool_run(s->pool, &ps, xt->data, y->data, threads, scratch_fn, x, why, sizeof why);
    return st ? exec_fail(x, st, "%s", why) : STATUS_OK;
}

/* ---- BatchNormNhwc ------------------------------------------------------------ */

typedef struct bnn_state {
    int64_t c;
    float *scale, *shift;    /* y = x * scale[c] + shift[c], then posts */
    int relu_only;           /* the common case, a loop the compiler vectorizes */
    cdnn_state posts;        /* only d.post / d.n_post are used */
} bnn_state;

static void bnn_free(void *p) {
    bnn_state *s = p;
    if (!s) return;
    free(s->scale);
    free(s->shift);
    free(s);
}

static status bnn_prepare(graph *g, node *n, errinfo *err) {
    const engine_tensor *t[4];
    if (node_input_dtype(g, n, 0) != ENGINE_FLOAT || n->n_inputs != 5)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "expected float X and 4 statistics");
    for (int k = 0; k < 4; k++) {
        t[k] = node_input_const(g, n, k + 1);
        if (!t[k] || t[k]->dtype != ENGINE_FLOAT || t[k]->shape.rank != 1 ||
            t[k]->shape.dims[0] != t[0]->shape.dims[0])
            return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                                   "input %d must be a 1-D float constant of one value per channel",
                                   k + 1);
    }
    bnn_state *s = calloc(1, sizeof *s);
    status st = STATUS_OK;
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    s->c = t[0]->shape.dims[0];
    s->scale = malloc((size_t)(s->c + 1) * sizeof(float));
    s->shift = malloc((size_t)(s->c + 1) * sizeof(float));
    if (!s->scale || !s->shift) {
        st = op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
        goto fail;
    }
    if ((st = parse_posts(n, &s->posts, err))) goto fail;
    if (s->posts.sum_at >= 0) {
        st = op_prepare_fail(n, err, STATUS_INVALID_MODEL, "a sum post-op is not supported here");
        goto fail;
    }
    float eps = node_attr_float(n, "epsilon", 1e-5f);
    const float *sc = t[0]->data, *b = t[1]->data, *mean = t[2]->data, *var = t[3]->data;
    for (int64_t c = 0; c < s->c; c++) {
        s->scale[c] = sc[c] / sqrtf(var[c] + eps);
        s->shift[c] = b[c] - mean[c] * s->scale[c];
    }
    s->relu_only = s->posts.d.n_post == 1 && s->posts.d.post[0].kind == DNNL_POST_RELU &&
                   s->posts.d.post[0].alpha == 0;
    n->state = s;
    node_set_output_dtype(g, n, 0, ENGINE_FLOAT);
    return STATUS_OK;
fail:
    bnn_free(s);
    return st;
}

typedef struct bnn_job {
    const bnn_state *s;
    const float *x;
    float *y;
} bnn_job;

/* y = max(x * sc + sh, 0) over n pixels of c channels (DenseNet's BN + Relu). */
VM_TARGET_CLONES static void affine_relu_rows(const float *x, const float *sc, const float *sh,
                                              float *y, int64_t n, int64_t c) {
    for (int64_t p = 0; p < n; p++, x += c, y += c) {
        VM_SIMD
        for (int64_t k = 0; k < c; k++) {
            float v = x[k] * sc[k] + sh[k];
            y[k] = v > 0 ? v : 0;
        }
    }
}

VM_TARGET_CLONES static void affine_rows(const float *x, const float *sc, const float *sh, float *y,
                                         int64_t n, int64_t c) {
    for (int64_t p = 0; p < n; p++, x += c, y += c) {
        VM_SIMD
        for (int64_t k = 0; k < c; k++) y[k] = x[k] * sc[k] + sh[k];
    }
}

/* Pixels [begin, end): rows of C contiguous channels. */
static void bnn_rows(void *ctx, int64_t begin, int64_t end) {
    const bnn_job *j = ctx;
    const bnn_state *s = j->s;
    const float *sc = s->scale, *sh = s->shift;
    if (s->relu_only) {
        affine_relu_rows(j->x + begin * s->c, sc, sh, j->y + begin * s->c, end - begin, s->c);
        return;
    }
    affine_rows(j->x + begin * s->c, sc, sh, j->y + begin * s->c, end - begin, s->c);
    if (s->posts.d.n_post == 0) return;
    for (int64_t p = begin; p < end; p++) {
        float *y = j->y + p * s->c;
        for (int64_t c = 0; c < s->c; c++) {
            float v = y[c];
            for (int k = 0; k < s->posts.d.n_post; k++) v = post_apply(&s->posts.d.post[k], v);
            y[c] = v;
        }
    }
}

static status bnn_run(const node *n, exec_ctx *x) {
    const bnn_state *s = n->state;
    const engine_tensor *xt = exec_input(x, 0);
    engine_tensor *y;
    if (!xt || xt->shape.rank != 4 || xt->shape.dims[3] != s->c)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "X must be [N, H, W, %lld] (channels last)",
                         (long long)s->c);
    status st = exec_output(x, 0, ENGINE_FLOAT, &xt->shape, &y);
    if (st) return st;
    bnn_job j = {s, xt->data, y->data};
    exec_parallel_for(x, shape_span(&xt->shape, 0, 3), bnn_rows, &j);
    return STATUS_OK;
}

const op_desc op_family_conv_dnnl[] = {
    {.type = "ConvNhwc", .domain = "ai.inferd", .since = 1, .prepare = cdnn_prepare,
     .run = cdnn_run, .free_state = cdnn_free},
    {.type = "MaxPoolNhwc", .domain = "ai.inferd", .since = 1, .prepare = pdnn_prepare,
     .run = pdnn_run, .free_state = pdnn_free},
    {.type = "AveragePoolNhwc", .domain = "ai.inferd", .since = 1, .prepare = pdnn_prepare,
     .run = pdnn_run, .free_state = pdnn_free},
    {.type = "GlobalAveragePoolNhwc", .domain = "ai.inferd", .since = 1, .prepare = pdnn_prepare,
     .run = pdnn_run, .free_state = pdnn_free},
    {.type = "GlobalMaxPoolNhwc", .domain = "ai.inferd", .since = 1, .prepare = pdnn_prepare,
     .run = pdnn_run, .free_state = pdnn_free},
    {.type = "BatchNormNhwc", .domain = "ai.inferd", .since = 1, .prepare = bnn_prepare,
     .run = bnn_run, .free_state = bnn_free},
    {0},
};
