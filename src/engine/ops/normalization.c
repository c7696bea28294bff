/* normalization.c -- BatchNormalization, InstanceNormalization,
 * GroupNormalization, LRN, MeanVarianceNormalization. (LayerNormalization
 * and its relatives are in layernorm.c.)
 *
 * All compute in fp32 (other float types through fview.h); statistics are
 * accumulated in double so large planes do not lose precision. Work is
 * spread over (image, channel) planes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../dtype.h"
#include "../op.h"
#include "../shape.h"
#include "../kernels/vmath.h"
#include "fview.h"

typedef struct norm_state {
    float epsilon;
    float momentum;
    int training;            /* BatchNormalization training_mode */
    int64_t groups;          /* GroupNormalization num_groups */
    int64_t size;            /* LRN */
    float alpha, beta, bias; /* LRN */
    int n_axes;              /* MeanVarianceNormalization */
    int64_t axes[ENGINE_MAX_RANK];
} norm_state;

static status norm_prepare_common(graph *g, node *n, errinfo *err, norm_state **out) {
    status st = op_prepare_same_float(g, n, err);
    if (st) return st;
    norm_state *s = calloc(1, sizeof *s);
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    s->epsilon = node_attr_float(n, "epsilon", 1e-5f);
    n->state = *out = s;
    return STATUS_OK;
}

/* mean and 1/sqrt(var + eps) of n floats, var = population variance. */
static inline void stats(const float *v, int64_t n, float eps, float *mean, float *inv) {
    double sum = 0, sq = 0;
    VM_SIMD_REDUCE(+, sum)
    for (int64_t i = 0; i < n; i++) sum += v[i];
    double m = n ? sum / (double)n : 0;
    VM_SIMD_REDUCE(+, sq)
    for (int64_t i = 0; i < n; i++) sq += ((double)v[i] - m) * ((double)v[i] - m);
    *mean = (float)m;
    *inv = (float)(1.0 / sqrt((n ? sq / (double)n : 0) + eps));
}

/* y = x * a + b over n values: the per-channel affine every norm ends in. */
static inline void affine(const float *restrict x, float *restrict y, int64_t n, float a,
                          float b) {
    VM_SIMD for (int64_t i = 0; i < n; i++) y[i] = x[i] * a + b;
}

/* --- BatchNormalization --------------------------------------------------- */

static status bn_prepare(graph *g, node *n, errinfo *err) {
    norm_state *s;
    status st = norm_prepare_common(g, n, err, &s);
    if (st) return st;
    s->momentum = node_attr_float(n, "momentum", 0.9f);
    /* Before opset 14 training is signalled by asking for the statistics
     * (and, up to opset 6, by is_test = 0). */
    int wants_stats = 0;
    for (int k = 1; k < n->n_outputs; k++) wants_stats |= n->outputs[k] >= 0;
    if (n->opset >= 14) s->training = node_attr_int(n, "training_mode", 0) != 0;
    else if (n->opset <= 6) s->training = wants_stats && node_attr_int(n, "is_test", 0) == 0;
    else s->training = wants_stats;
    if (n->opset < 9 && node_attr_int(n, "spatial", 1) == 0 && s->training)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "training with spatial = 0 is not supported");
    for (int i = 1; i < 5; i++)
        if (!dtype_is_float(node_input_dtype(g, n, i)))
            return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                                   "input %d must be a floating type", i);
    for (int k = 1; k < n->n_outputs; k++)
        node_set_output_dtype(g, n, k, node_input_dtype(g, n, 3));
    return STATUS_OK;
}

typedef struct bn_job {
    const float *x, *a, *b;  /* per-channel (or per-element when spatial = 0) */
    float *y;
    int64_t c, sp;
    int per_element;
} bn_job;

VM_TARGET_CLONES static void bn_chunk(void *arg, int64_t q0, int64_t q1) {
    const bn_job *j = arg;
    for (int64_t q = q0; q < q1; q++) {
        int64_t c = q % j->c;
        const float *xq = j->x + q * j->sp;
        float *yq = j->y + q * j->sp;
        if (!j->per_element) {
            affine(xq, yq, j->sp, j->a[c], j->b[c]);
            continue;
        }
        const float *a = j->a + c * j->sp, *b = j->b + c * j->sp;
        VM_SIMD for (int64_t i = 0; i < j->sp; i++) yq[i] = xq[i] * a[i] + b[i];
    }
}

/* Batch statistics per channel (training mode): mean[c], var[c]. */
static void bn_batch_stats(const float *x, int64_t nb, int64_t c_n, int64_t sp, float *mean,
                           float *var) {
    for (int64_t c = 0; c < c_n; c++) {
        double sum = 0, sq = 0, cnt = (double)(nb * sp);
        for (int64_t n = 0; n < nb; n++)
            for (int64_t i = 0; i < sp; i++) sum += x[(n * c_n + c) * sp + i];
        double m = cnt ? sum / cnt : 0;
        for (int64_t n = 0; n < nb; n++)
            for (int64_t i = 0; i < sp; i++) {
                double d = x[(n * c_n + c) * sp + i] - m;
                sq += d * d;
            }
        mean[c] = (float)m;
        var[c] = (float)(cnt ? sq / cnt : 0);
    }
}

static status bn_run(const node *nd, exec_ctx *x) {
    const norm_state *s = nd->state;
    const engine_tensor *xt = exec_input(x, 0), *p[4];
    char b1[128];
    for (int i = 0; i < 4; i++) p[i] = exec_input(x, i + 1);
    if (!xt || !p[0] || !p[1] || !p[2] || !p[3])
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "inputs X, scale, B, mean, var are required");
    if (xt->shape.rank < 2)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "X %s must be [N, C, ...]",
                         shape_format(&xt->shape, b1, sizeof b1));
    int64_t nb = xt->shape.dims[0], c_n = xt->shape.dims[1];
    int64_t sp = shape_span(&xt->shape, 2, xt->shape.rank);
    int64_t plen = engine_shape_numel(&p[0]->shape);
    int per_element = plen != c_n && plen == c_n * sp && !s->training;
    for (int i = 0; i < 4; i++)
        if (engine_shape_numel(&p[i]->shape) != (per_element ? c_n * sp : c_n))
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "input %d has shape %s, expected %lld values (one per channel)",
                             i + 1, shape_format(&p[i]->shape, b1, sizeof b1), (long long)c_n);
    engine_tensor *yt;
    status st = exec_output(x, 0, xt->dtype, &xt->shape, &yt);
    if (st) return st;
    const float *xf = fview_input(x, xt), *pf[4];
    for (int i = 0; i < 4; i++) pf[i] = fview_input(x, p[i]);
    int64_t plen_all = per_element ? c_n * sp : c_n;
    float *a = exec_scratch(x, (size_t)plen_all * 2 * sizeof(float) + 1);
    float *bmean = exec_scratch(x, (size_t)c_n * 2 * sizeof(float) + 1);
    float *yf = fview_output(x, yt);
    if (!xf || !pf[0] || !pf[1] || !pf[2] || !pf[3] || !a || !bmean || !yf)
        return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    float *b = a + plen_all, *bvar = bmean + c_n;
    const float *mean = pf[2], *var = pf[3];
    if (s->training) {
        bn_batch_stats(xf, nb, c_n, sp, bmean, bvar);
        mean = bmean, var = bvar;
    }
    for (int64_t i = 0; i < plen_all; i++) {
        a[i] = pf[0][i] / sqrtf(var[i] + s->epsilon);
        b[i] = pf[1][i] - mean[i] * a[i];
    }
    bn_job j = {.x = xf, .a = a, .b = b, .y = yf, .c = c_n, .sp = sp, .per_element = per_element};
    exec_parallel_for(x, nb * c_n, bn_chunk, &j);
    fview_commit(yt, yf);
    /* Training outputs: running mean and variance (opset 14+), or the
     * older layouts' mean, var, saved_mean, saved_var. */
    for (int k = 1; k < exec_output_count(x) && s->training; k++) {
        engine_tensor *ot;
        engine_shape cs = {.rank = 1, .dims = {c_n}};
        if ((st = exec_output(x, k, p[2]->dtype, &cs, &ot))) return st;
        float *of = fview_output(x, ot);
        if (!of) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
        const float *run = k == 1 ? pf[2] : pf[3], *cur = k == 1 ? bmean : bvar;
        for (int64_t c = 0; c < c_n; c++)
            of[c] = k <= 2 ? run[c] * s->momentum + cur[c] * (1 - s->momentum)
                           : (k == 3 ? bmean[c] : 1.0f / sqrtf(bvar[c] + s->epsilon));
        fview_commit(ot, of);
    }
    return STATUS_OK;
}

/* --- InstanceNormalization and GroupNormalization ------------------------- */

static status instnorm_prepare(graph *g, node *n, errinfo *err) {
    norm_state *s;
    return norm_prepare_common(g, n, err, &s);
}

static status groupnorm_prepare(graph *g, node *n, errinfo *err) {
    norm_state *s;
    status st = norm_prepare_common(g, n, err, &s);
    if (st) return st;
    s->groups = node_attr_int(n, "num_groups", 0);
    if (s->groups < 1)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "num_groups is %lld, expected >= 1",
                               (long long)s->groups);
    return STATUS_OK;
}

/* Normalises groups of `cpg` consecutive channel planes of `sp` values;
 * channel c then gets scale[c * cs] and bias[c * cs] where cs selects
 * per-channel (1) or per-group parameters. */
typedef struct gn_job {
    const float *x, *scale, *bias;
    float *y;
    int64_t c_n, cpg, sp;
    int per_group;
    float eps;
} gn_job;

VM_TARGET_CLONES static void gn_chunk(void *arg, int64_t q0, int64_t q1) {
    const gn_job *j = arg;
    int64_t len = j->cpg * j->sp, groups = j->c_n / j->cpg;
    for (int64_t q = q0; q < q1; q++) {
        float mean, inv;
        stats(j->x + q * len, len, j->eps, &mean, &inv);
        for (int64_t k = 0; k < j->cpg; k++) {
            int64_t c = (q % groups) * j->cpg + k, pi = j->per_group ? q % groups : c;
            float a = j->scale[pi] * inv;
            affine(j->x + q * len + k * j->sp, j->y + q * len + k * j->sp, j->sp, a,
                   j->bias[pi] - mean * a);
        }
    }
}

static status groupnorm_any(const node *nd, exec_ctx *x, int64_t groups_attr) {
    const norm_state *s = nd->state;
    const engine_tensor *xt = exec_input(x, 0), *sc = exec_input(x, 1), *bi = exec_input(x, 2);
    char b1[128];
    if (!xt || !sc || !bi)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "inputs X, scale and B are required");
    if (xt->shape.rank < 2)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "X %s must be [N, C, ...]",
                         shape_format(&xt->shape, b1, sizeof b1));
    int64_t nb = xt->shape.dims[0], c_n = xt->shape.dims[1];
    int64_t groups = groups_attr ? groups_attr : c_n > 0 ? c_n : 1;
    if (c_n % groups)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "%lld channels do not split into %lld groups",
                         (long long)c_n, (long long)groups);
    int64_t ns = engine_shape_numel(&sc->shape), nbias = engine_shape_numel(&bi->shape);
    int per_group = ns != c_n; /* GroupNormalization-18 scales groups, -21 channels */
    if ((ns != c_n && ns != groups) || nbias != ns)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "scale and B have %lld and %lld values, expected %lld (channels)%s",
                         (long long)ns, (long long)nbias, (long long)c_n,
                         groups_attr ? " or num_groups" : "");
    engine_tensor *yt;
    status st = exec_output(x, 0, xt->dtype, &xt->shape, &yt);
    if (st || engine_shape_numel(&xt->shape) == 0) return st;
    gn_job j = {.x = fview_input(x, xt), .scale = fview_input(x, sc), .bias = fview_input(x, bi),
                .y = fview_output(x, yt), .c_n = c_n, .cpg = c_n / groups,
                .sp = shape_span(&xt->shape, 2, xt->shape.rank), .per_group = per_group,
                .eps = s->epsilon};
    if (!j.x || !j.scale || !j.bias || !j.y) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    exec_parallel_for(x, nb * groups, gn_chunk, &j);
    fview_commit(yt, j.y);
    return STATUS_OK;
}

static status instnorm_run(const node *nd, exec_ctx *x) { return groupnorm_any(nd, x, 0); }

static status groupnorm_run(const node *nd, exec_ctx *x) {
    return groupnorm_any(nd, x, ((const norm_state *)nd->state)->groups);
}

/* --- LRN ------------------------------------------------------------------ */

static status lrn_prepare(graph *g, node *n, errinfo *err) {
    norm_state *s;
    status st = norm_prepare_common(g, n, err, &s);
    if (st) return st;
    s->size = node_attr_int(n, "size", 0);
    s->alpha = node_attr_float(n, "alpha", 1e-4f);
    s->beta = node_attr_float(n, "beta", 0.75f);
    s->bias = node_attr_float(n, "bias", 1.0f);
    if (s->size < 1)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "size is %lld, expected >= 1",
                               (long long)s->size);
    return STATUS_OK;
}

typedef struct lrn_job {
    const norm_state *s;
    const float *x;
    float *y;
    int64_t c_n, sp;
} lrn_job;

VM_TARGET_CLONES static void lrn_chunk(void *arg, int64_t q0, int64_t q1) {
    const lrn_job *j = arg;
    const int64_t lo_off = (j->s->size - 1) / 2, hi_off = j->s->size - 1 - lo_off;
    const float k = j->s->alpha / (float)j->s->size;
    for (int64_t q = q0; q < q1; q++) {
        int64_t c = q % j->c_n, base = q - c;
        int64_t c0 = c - lo_off < 0 ? 0 : c - lo_off;
        int64_t c1 = c + hi_off >= j->c_n ? j->c_n - 1 : c + hi_off;
        const float *xq = j->x + q * j->sp;
        float *yq = j->y + q * j->sp;
        VM_SIMD for (int64_t i = 0; i < j->sp; i++) yq[i] = 0.0f;
        for (int64_t cc = c0; cc <= c1; cc++) {
            const float *xc = j->x + (base + cc) * j->sp;
            VM_SIMD for (int64_t i = 0; i < j->sp; i++) yq[i] += xc[i] * xc[i];
        }
        for (int64_t i = 0; i < j->sp; i++)
            yq[i] = xq[i] / powf(j->s->bias + k * yq[i], j->s->beta);
    }
}

static status lrn_run(const node *nd, exec_ctx *x) {
    const engine_tensor *xt = exec_input(x, 0);
    if (!xt || xt->shape.rank < 2)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "X must be [N, C, ...]");
    engine_tensor *yt;
    status st = exec_output(x, 0, xt->dtype, &xt->shape, &yt);
    if (st) return st;
    lrn_job j = {.s = nd->state, .x = fview_input(x, xt), .y = fview_output(x, yt),
                 .c_n = xt->shape.dims[1], .sp = shape_span(&xt->shape, 2, xt->shape.rank)};
    if (!j.x || !j.y) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    exec_parallel_for(x, xt->shape.dims[0] * j.c_n, lrn_chunk, &j);
    fview_commit(yt, j.y);
    return STATUS_OK;
}

/* --- MeanVarianceNormalization -------------------------------------------- */

static status mvn_prepare(graph *g, node *n, errinfo *err) {
    norm_state *s;
    status st = norm_prepare_common(g, n, err, &s);
    if (st) return st;
    const int64_t *axes;
    int cnt = node_attr_ints(n, "axes", &axes);
    static const int64_t dflt[] = {0, 2, 3};
    if (cnt < 0) cnt = 3, axes = dflt;
    if (cnt > ENGINE_MAX_RANK)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "axes has %d values", cnt);
    s->n_axes = cnt;
    memcpy(s->axes, axes, sizeof *axes * (size_t)cnt);
    return STATUS_OK;
}

static status mvn_run(const node *nd, exec_ctx *x) {
    const norm_state *s = nd->state;
    const engine_tensor *xt = exec_input(x, 0);
    if (!xt) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input X is required");
    engine_shape kept = xt->shape;
    for (int i = 0; i < s->n_axes; i++) {
        int a = shape_normalize_axis(s->axes[i], xt->shape.rank);
        if (a < 0)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                             (long long)s->axes[i], xt->shape.rank);
        kept.dims[a] = 1;
    }
    engine_tensor *yt;
    status st = exec_output(x, 0, xt->dtype, &xt->shape, &yt);
    if (st) return st;
    int64_t n = engine_shape_numel(&xt->shape), nk = engine_shape_numel(&kept);
    const float *xf = fview_input(x, xt);
    float *yf = fview_output(x, yt);
    double *acc = exec_scratch(x, (size_t)nk * 2 * sizeof(double) + 1);
    if (!xf || !yf || !acc) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    /* Statistics per kept index: each element maps to one via 0-strides. */
    int64_t ks[ENGINE_MAX_RANK], idx[ENGINE_MAX_RANK] = {0};
    shape_broadcast_strides(&kept, &xt->shape, ks);
    memset(acc, 0, (size_t)nk * 2 * sizeof(double));
    int r = xt->shape.rank;
    for (int pass = 0; pass < 3; pass++) {
        int64_t ko = 0;
        memset(idx, 0, sizeof idx);
        for (int64_t i = 0; i < n; i++) {
            double v = xf[i];
            if (pass == 0) acc[ko] += v;
            else if (pass == 1) acc[nk + ko] += (v - acc[ko]) * (v - acc[ko]);
            else yf[i] = (float)((v - acc[ko]) / (sqrt(acc[nk + ko]) + 1e-9));
            for (int d = r - 1; d >= 0; d--) { /* step the multi-index */
                ko += ks[d];
                if (++idx[d] < xt->shape.dims[d]) break;
                ko -= ks[d] * idx[d];
                idx[d] = 0;
            }
        }
        double per = nk ? (double)n / (double)nk : 1;
        for (int64_t k = 0; k < nk && pass < 2; k++) acc[pass * nk + k] /= per;
    }
    fview_commit(yt, yf);
    return STATUS_OK;
}

const op_desc op_family_normalization[] = {
    {.type = "BatchNormalization", .since = 1, .prepare = bn_prepare, .run = bn_run},
    {.type = "InstanceNormalization", .since = 1, .prepare = instnorm_prepare, .run = instnorm_run},
    {.type = "GroupNormalization", .since = 18, .prepare = groupnorm_prepare, .run = groupnorm_run},
    {.type = "LRN", .since = 1, .prepare = lrn_prepare, .run = lrn_run},
    {.type = "MeanVarianceNormalization", .since = 9, .prepare = mvn_prepare, .run = mvn_run},
    {0},
};
