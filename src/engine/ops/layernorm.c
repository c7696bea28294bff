/* layernorm.c -- LayerNormalization (opset 17, and ONNX Runtime's earlier
 * contrib version in the default domain), SimplifiedLayerNormalization
 * (RMSNorm), and com.microsoft SkipLayerNormalization /
 * SkipSimplifiedLayerNormalization as ONNX Runtime's optimizer emits them.
 *
 * X is viewed as rows x cols, cols = product of dims from `axis` on; each row
 * is normalised on its own, rows spread over threads. Statistics are kept in
 * float (stash_type 1), summed with 16 partial sums so gcc vectorises.
 *
 * The load-time fusions (fuse_pass.c) turn Add + decomposed LayerNorm into
 * SkipLayerNormalization, so its skip may broadcast any way Add allows: a
 * skip that tiles the input's rows is read in place, anything else is summed
 * into the output first and normalised there. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../dtype.h"
#include "../op.h"
#include "../shape.h"
#include "../kernels/broadcast.h"
#include "../kernels/vmath.h"
#include "fview.h"

typedef struct ln_state {
    int64_t axis;
    float epsilon;
    int simplified;          /* RMSNorm: no mean subtraction, no bias */
    int skip;                /* Skip*: input + skip (+ bias) first */
} ln_state;

static status ln_prepare_kind(graph *g, node *n, errinfo *err, int simplified, int skip) {
    status st = op_prepare_same_float(g, n, err);
    if (st) return st;
    for (int i = 1; i < n->n_inputs; i++)
        if (n->inputs[i] >= 0 && !dtype_is_float(node_input_dtype(g, n, i)))
            return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                                   "input %d must be a floating type", i);
    ln_state *s = malloc(sizeof *s);
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    s->axis = skip ? -1 : node_attr_int(n, "axis", -1);
    s->epsilon = node_attr_float(n, "epsilon", skip ? 1e-12f : 1e-5f);
    s->simplified = simplified;
    s->skip = skip;
    n->state = s;
    /* Mean and InvStdDev are float (stash_type 1); the skip sum has X's type. */
    for (int k = 1; k < n->n_outputs; k++)
        node_set_output_dtype(g, n, k, skip && k == 3 ? node_input_dtype(g, n, 0) : ENGINE_FLOAT);
    return STATUS_OK;
}

static status ln_prepare(graph *g, node *n, errinfo *err) {
    return ln_prepare_kind(g, n, err, 0, 0);
}
static status sln_prepare(graph *g, node *n, errinfo *err) {
    return ln_prepare_kind(g, n, err, 1, 0);
}
static status skipln_prepare(graph *g, node *n, errinfo *err) {
    return ln_prepare_kind(g, n, err, 0, 1);
}
static status skipsln_prepare(graph *g, node *n, errinfo *err) {
    return ln_prepare_kind(g, n, err, 1, 1);
}

static inline float sum16(const float *v, int64_t n) {
    float acc[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) acc[k] += v[i + k];
    float s = 0;
    for (; i < n; i++) s += v[i];
    for (int k = 0; k < 16; k++) s += acc[k];
    return s;
}

/* sum of (v - m)^2 */
static inline float sqdev16(const float *v, int64_t n, float m) {
    float acc[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) acc[k] += (v[i + k] - m) * (v[i + k] - m);
    float s = 0;
    for (; i < n; i++) s += (v[i] - m) * (v[i] - m);
    for (int k = 0; k < 16; k++) s += acc[k];
    return s;
}

typedef struct ln_job {
    const ln_state *s;
    const float *x, *skip, *bias, *scale, *beta;  /* scale/beta/bias: cols values */
    int64_t skip_rows;       /* rows of skip, repeated over X's rows */
    float *y, *mean, *inv, *sum;
    int64_t cols;
} ln_job;

VM_TARGET_CLONES static void ln_chunk(void *arg, int64_t r0, int64_t r1) {
    const ln_job *j = arg;
    const int64_t cols = j->cols;
    for (int64_t r = r0; r < r1; r++) {
        const float *src = j->x + r * cols;
        float *yr = j->y + r * cols; /* may alias src (skip variants) */
        if (j->skip) { /* y holds input + skip + bias, then is normalised in place */
            const float *sk = j->skip + (r % j->skip_rows) * cols;
            if (j->bias) {
                VM_SIMD for (int64_t i = 0; i < cols; i++) yr[i] = src[i] + sk[i] + j->bias[i];
            } else {
                VM_SIMD for (int64_t i = 0; i < cols; i++) yr[i] = src[i] + sk[i];
            }
            if (j->sum) memcpy(j->sum + r * cols, yr, (size_t)cols * sizeof *yr);
            src = yr;
        }
        float m = j->s->simplified ? 0.0f : sum16(src, cols) / (float)cols;
        float inv = 1.0f / sqrtf(sqdev16(src, cols, m) / (float)cols + j->s->epsilon);
        const float *sc = j->scale, *b = j->beta;
        if (b) {
            VM_SIMD for (int64_t i = 0; i < cols; i++) yr[i] = (src[i] - m) * inv * sc[i] + b[i];
        } else {
            VM_SIMD for (int64_t i = 0; i < cols; i++) yr[i] = (src[i] - m) * inv * sc[i];
        }
        if (j->mean) j->mean[r] = m;
        if (j->inv) j->inv[r] = inv;
    }
}

/* A parameter as `cols` floats: the tensor itself when it has that many
 * values, else broadcast (unidirectionally) onto the normalised shape. */
static status ln_param(exec_ctx *x, const engine_tensor *t, const engine_shape *norm,
                       int64_t cols, const char *name, const float **res) {
    char b1[128], b2[128];
    const float *f = fview_input(x, t);
    if (!f) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    *res = f;
    if (engine_shape_numel(&t->shape) == cols) return STATUS_OK;
    engine_shape bc;
    if (shape_broadcast(&t->shape, norm, &bc) || !shape_equal(&bc, norm))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "%s %s does not broadcast to %s", name,
                         shape_format(&t->shape, b1, sizeof b1), shape_format(norm, b2, sizeof b2));
    int64_t st[ENGINE_MAX_RANK], idx[ENGINE_MAX_RANK] = {0}, off = 0;
    float *out = exec_scratch(x, (size_t)cols * sizeof(float) + 1);
    if (!out) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    shape_broadcast_strides(&t->shape, norm, st);
    for (int64_t i = 0; i < cols; i++) {
        out[i] = f[off];
        for (int d = norm->rank - 1; d >= 0; d--) {
            off += st[d];
            if (++idx[d] < norm->dims[d]) break;
            off -= st[d] * idx[d];
            idx[d] = 0;
        }
    }
    *res = out;
    return STATUS_OK;
}

/* skip's rows repeat over x's: skip is x's trailing dims, after leading 1s,
 * and has no more dims than x (else the sum's rank would grow). */
static int skip_tiles(const engine_shape *sk, const engine_shape *x) {
    int lead = 0;
    while (lead < sk->rank && sk->dims[lead] == 1) lead++;
    int r = sk->rank - lead;
    if (sk->rank > x->rank || r < 1) return 0;
    return !memcmp(sk->dims + lead, x->dims + x->rank - r, sizeof(int64_t) * (size_t)r);
}

typedef struct ln_sum {
    const float *a, *b;
    float *y;
} ln_sum;

static void ln_sum_row(void *ctx, int64_t out_off, const int64_t *in_off, const int64_t *inner,
                       int64_t n) {
    const ln_sum *c = ctx;
    const float *a = c->a + in_off[0], *b = c->b + in_off[1];
    float *y = c->y + out_off;
    for (int64_t i = 0; i < n; i++) y[i] = a[i * inner[0]] + b[i * inner[1]];
}

/* A skip variant whose skip does not tile the input: y = broadcast(input +
 * skip), then normalised in place over its last axis. Only without the
 * bias input and the extra outputs (what the fusion makes). */
static status ln_run_summed(exec_ctx *x, const ln_state *s, const engine_tensor *xt,
                            const engine_tensor *sk, const engine_tensor *sc,
                            const engine_tensor *bt, const engine_tensor *bs) {
    char b1[128], b2[128];
    engine_shape out;
    if (bs || exec_output_count(x) > 1 || shape_broadcast(&xt->shape, &sk->shape, &out) ||
        out.rank < 1)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "skip %s does not match input %s",
                         shape_format(&sk->shape, b1, sizeof b1),
                         shape_format(&xt->shape, b2, sizeof b2));
    engine_tensor *yt;
    status st = exec_output(x, 0, xt->dtype, &out, &yt);
    if (st) return st;
    int64_t cols = out.dims[out.rank - 1], n = engine_shape_numel(&out);
    if (n == 0) return STATUS_OK;
    ln_sum c = {.a = fview_input(x, xt), .b = fview_input(x, sk), .y = fview_output(x, yt)};
    if (!c.a || !c.b || !c.y) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    const engine_shape *ins[2] = {&xt->shape, &sk->shape};
    bcast_plan p;
    if (bcast_plan_init(&p, &out, ins, 2))
        return exec_fail(x, STATUS_INTERNAL, "cannot plan the skip broadcast");
    bcast_walk(&p, 0, p.numel, ln_sum_row, &c);
    engine_shape norm = {.rank = 1, .dims = {cols}};
    ln_job j = {.s = s, .x = c.y, .y = c.y, .cols = cols};
    if ((st = ln_param(x, sc, &norm, cols, "Scale", &j.scale)) ||
        (bt && (st = ln_param(x, bt, &norm, cols, "B", &j.beta))))
        return st;
    exec_parallel_for(x, n / cols, ln_chunk, &j);
    fview_commit(yt, c.y);
    return STATUS_OK;
}

static status ln_run(const node *nd, exec_ctx *x) {
    const ln_state *s = nd->state;
    const engine_tensor *xt = exec_input(x, 0);
    /* Input order: X, Scale, B | input, skip, gamma, beta, bias | input,
     * skip, gamma, bias (skip simplified). */
    int i_scale = s->skip ? 2 : 1;
    int i_beta = s->simplified ? -1 : (s->skip ? 3 : 2);
    int i_bias = s->skip ? (s->simplified ? 3 : 4) : -1;
    const engine_tensor *sk = s->skip ? exec_input(x, 1) : NULL, *sc = exec_input(x, i_scale);
    const engine_tensor *bt = i_beta >= 0 ? exec_input(x, i_beta) : NULL;
    const engine_tensor *bs = i_bias >= 0 ? exec_input(x, i_bias) : NULL;
    char b1[128], b2[128];
    if (!xt || !sc || (s->skip && !sk))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "missing a required input");
    if (sk && !skip_tiles(&sk->shape, &xt->shape)) return ln_run_summed(x, s, xt, sk, sc, bt, bs);
    int axis = shape_normalize_axis(s->axis, xt->shape.rank);
    if (axis < 0)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                         (long long)s->axis, xt->shape.rank);
    engine_shape norm = {.rank = xt->shape.rank - axis}, ms = xt->shape;
    memcpy(norm.dims, xt->shape.dims + axis, sizeof(int64_t) * (size_t)norm.rank);
    for (int d = axis; d < ms.rank; d++) ms.dims[d] = 1;
    int64_t cols = engine_shape_numel(&norm), rows = shape_span(&xt->shape, 0, axis);
    int64_t skip_n = sk ? engine_shape_numel(&sk->shape) : 0;
    if (sk && (cols == 0 || skip_n % cols || skip_n == 0 || rows % (skip_n / cols)))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "skip %s does not match input %s",
                         shape_format(&sk->shape, b1, sizeof b1),
                         shape_format(&xt->shape, b2, sizeof b2));
    engine_tensor *yt, *mt = NULL, *it = NULL, *st_ = NULL;
    status st = exec_output(x, 0, xt->dtype, &xt->shape, &yt);
    int k_mean = 1, k_inv = 2;
    if (!st && exec_output_count(x) > k_mean) st = exec_output(x, k_mean, ENGINE_FLOAT, &ms, &mt);
    if (!st && exec_output_count(x) > k_inv) st = exec_output(x, k_inv, ENGINE_FLOAT, &ms, &it);
    if (!st && s->skip && exec_output_count(x) > 3)
        st = exec_output(x, 3, xt->dtype, &xt->shape, &st_);
    if (st) return st;
    ln_job j = {.s = s, .x = fview_input(x, xt), .skip = sk ? fview_input(x, sk) : NULL,
                .skip_rows = cols ? skip_n / cols : 1, .cols = cols, .y = fview_output(x, yt),
                .mean = mt ? mt->data : NULL, .inv = it ? it->data : NULL,
                .sum = st_ ? fview_output(x, st_) : NULL};
    if (!j.x || !j.y || (sk && !j.skip) || (st_ && !j.sum))
        return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    if ((st = ln_param(x, sc, &norm, cols, "Scale", &j.scale)) ||
        (bt && (st = ln_param(x, bt, &norm, cols, "B", &j.beta))) ||
        (bs && (st = ln_param(x, bs, &norm, cols, "bias", &j.bias))))
        return st;
    if (cols > 0) exec_parallel_for(x, rows, ln_chunk, &j);
    fview_commit(yt, j.y);
    if (st_) fview_commit(st_, j.sum);
    return STATUS_OK;
}

const op_desc op_family_layernorm[] = {
    {.type = "LayerNormalization", .since = 1, .prepare = ln_prepare, .run = ln_run},
    {.type = "SimplifiedLayerNormalization", .since = 1, .prepare = sln_prepare, .run = ln_run},
    {.type = "SkipLayerNormalization", .domain = "com.microsoft", .since = 1,
     .prepare = skipln_prepare, .run = ln_run},
    {.type = "SkipSimplifiedLayerNormalization", .domain = "com.microsoft", .since = 1,
     .prepare = skipsln_prepare, .run = ln_run},
    {0},
};
