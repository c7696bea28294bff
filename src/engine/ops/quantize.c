/* quantize.c -- linear quantization: QuantizeLinear, DequantizeLinear,
 * DynamicQuantizeLinear, MatMulInteger, QLinearMatMul. (ConvInteger and
 * QLinearConv live in conv.c with the convolution semantics.)
 *
 * Rounding is to nearest, ties to even, as ONNX specifies (nearbyintf in the
 * default rounding mode); results saturate to the output type. Scales and
 * zero points are per tensor or per axis (1-D, along `axis`). Integer
 * products accumulate in 32 bits, wrapping like ONNX Runtime's int32. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../dtype.h"
#include "../op.h"
#include "../shape.h"
#include "fview.h"
#include "mm_plan.h"

typedef struct q_state {
    int64_t axis;
    engine_dtype out;        /* QuantizeLinear's output type */
} q_state;

static int is_q8(engine_dtype dt) { return dt == ENGINE_UINT8 || dt == ENGINE_INT8; }

/* Quantized types of Quantize/DequantizeLinear (16-bit ones since opset 21). */
static int is_q(engine_dtype dt) {
    return is_q8(dt) || dt == ENGINE_UINT16 || dt == ENGINE_INT16;
}

static void q_range(engine_dtype dt, double *lo, double *hi) {
    switch (dt) {
    case ENGINE_INT8: *lo = -128, *hi = 127; break;
    case ENGINE_INT16: *lo = -32768, *hi = 32767; break;
    case ENGINE_UINT16: *lo = 0, *hi = 65535; break;
    default: *lo = 0, *hi = 255; break;
    }
}

/* v clamped to [lo, hi]; NaN becomes lo (a C cast of NaN is undefined). */
static double sat(double v, double lo, double hi) {
    return v >= lo ? (v <= hi ? v : hi) : (v > hi ? hi : lo);
}

/* Value of a per-tensor or per-axis parameter for axis index c (0 if absent). */
static double qp(const engine_tensor *t, int64_t c) {
    if (!t) return 0;
    return dtype_load_double(t->dtype, t->data, engine_shape_numel(&t->shape) == 1 ? 0 : c);
}

static status q_prepare(graph *g, node *n, errinfo *err) {
    engine_dtype xdt = node_input_dtype(g, n, 0), zdt = node_input_dtype(g, n, 2);
    int quant = strcmp(n->op_type, "QuantizeLinear") == 0;
    if (quant && !dtype_is_float(xdt) && xdt != ENGINE_INT32)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "x has type %s, expected float or int32",
                               engine_dtype_name(xdt));
    if (!quant && !is_q(xdt) && xdt != ENGINE_INT32)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "x has type %s, expected int8, uint8, int16, uint16 or int32",
                               engine_dtype_name(xdt));
    if (zdt != ENGINE_UNDEFINED && (quant ? !is_q(zdt) : zdt != xdt))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "zero point has type %s, expected %s",
                               engine_dtype_name(zdt),
                               quant ? "int8, uint8, int16 or uint16" : "the type of x");
    if (node_attr_int(n, "block_size", 0) != 0)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "blocked quantization is not supported");
    /* opset 21 may name the output type when there is no zero point */
    engine_dtype odt = (engine_dtype)node_attr_int(n, "output_dtype", 0);
    if (quant && odt != ENGINE_UNDEFINED && (!is_q(odt) || (zdt && odt != zdt)))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "output_dtype %d is not supported (8- or 16-bit integers, "
                               "matching the zero point)", (int)odt);
    q_state *s = malloc(sizeof *s);
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    s->axis = node_attr_int(n, "axis", 1);
    s->out = quant ? (zdt ? zdt : odt ? odt : ENGINE_UINT8) : ENGINE_UNDEFINED;
    n->state = s;
    engine_dtype sdt = node_input_dtype(g, n, 1);
    node_set_output_dtype(g, n, 0, quant ? s->out : (dtype_is_float(sdt) ? sdt : ENGINE_FLOAT));
    return STATUS_OK;
}

/* Checks scale/zero point shapes; sets the per-axis block geometry so that
 * element i uses parameter (i / inner) % count. */
static status q_layout(exec_ctx *x, const q_state *s, const engine_tensor *xt,
                       const engine_tensor *sc, const engine_tensor *zp, int64_t *inner,
                       int64_t *count) {
    char b1[128];
    if (!xt || !sc) return exec_fail(x, STATUS_INVALID_ARGUMENT, "inputs x and scale are required");
    int64_t ns = engine_shape_numel(&sc->shape);
    *inner = 1, *count = 1;
    if (ns != 1 || sc->shape.rank == 1) {
        int a = shape_normalize_axis(s->axis, xt->shape.rank);
        if (a < 0 || sc->shape.rank > 1 || (ns != 1 && ns != xt->shape.dims[a]))
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "scale %s must be a scalar or 1-D along axis %lld of x",
                             shape_format(&sc->shape, b1, sizeof b1), (long long)s->axis);
        *inner = shape_span(&xt->shape, a + 1, xt->shape.rank);
        *count = ns;
    }
    if (zp && engine_shape_numel(&zp->shape) != ns)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "zero point has %lld values, scale %lld",
                         (long long)engine_shape_numel(&zp->shape), (long long)ns);
    return STATUS_OK;
}

static status quantize_run(const node *n, exec_ctx *x) {
    const engine_tensor *xt = exec_input(x, 0), *sc = exec_input(x, 1), *zp = exec_input(x, 2);
    int64_t inner, count;
    status st = q_layout(x, n->state, xt, sc, zp, &inner, &count);
    engine_tensor *yt;
    engine_dtype ydt = ((const q_state *)n->state)->out;
    if (st || (st = exec_output(x, 0, ydt, &xt->shape, &yt))) return st;
    const float *xf = fview_input(x, xt), *sf = fview_input(x, sc);
    if (!xf || !sf) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    double lo, hi;
    q_range(ydt, &lo, &hi);
    int64_t ne = engine_shape_numel(&xt->shape);
    for (int64_t i = 0; i < ne; i++) {
        int64_t c = count == 1 ? 0 : (i / inner) % count;
        double v = nearbyintf(xf[i] / sf[c]) + qp(zp, c);
        dtype_store_double(ydt, yt->data, i, sat(v, lo, hi));
    }
    return STATUS_OK;
}

static status dequantize_run(const node *n, exec_ctx *x) {
    const engine_tensor *xt = exec_input(x, 0), *sc = exec_input(x, 1), *zp = exec_input(x, 2);
    int64_t inner, count;
    status st = q_layout(x, n->state, xt, sc, zp, &inner, &count);
    if (st) return st;
    engine_tensor *yt;
    engine_dtype ydt = dtype_is_float(sc->dtype) ? sc->dtype : ENGINE_FLOAT;
    if ((st = exec_output(x, 0, ydt, &xt->shape, &yt))) return st;
    const float *sf = fview_input(x, sc);
    float *yf = fview_output(x, yt);
    if (!sf || !yf) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    int64_t ne = engine_shape_numel(&xt->shape);
    for (int64_t i = 0; i < ne; i++) {
        int64_t c = count == 1 ? 0 : (i / inner) % count;
        int64_t q = dtype_load_int64(xt->dtype, xt->data, i) - (int64_t)qp(zp, c);
        yf[i] = (float)q * sf[c];
    }
    fview_commit(yt, yf);
    return STATUS_OK;
}

/* --- DynamicQuantizeLinear ------------------------------------------------ */

static status dynq_prepare(graph *g, node *n, errinfo *err) {
    if (node_input_dtype(g, n, 0) != ENGINE_FLOAT)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "x must be float, got %s",
                               engine_dtype_name(node_input_dtype(g, n, 0)));
    node_set_output_dtype(g, n, 0, ENGINE_UINT8);
    node_set_output_dtype(g, n, 1, ENGINE_FLOAT);
    node_set_output_dtype(g, n, 2, ENGINE_UINT8);
    return STATUS_OK;
}

static status dynq_run(const node *n, exec_ctx *x) {
    (void)n;
    const engine_tensor *xt = exec_input(x, 0);
    engine_tensor *yt, *st_, *zt;
    engine_shape scalar = {0};
    if (!xt) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input x is required");
    status st = exec_output(x, 0, ENGINE_UINT8, &xt->shape, &yt);
    if (st || (st = exec_output(x, 1, ENGINE_FLOAT, &scalar, &st_)) ||
        (st = exec_output(x, 2, ENGINE_UINT8, &scalar, &zt)))
        return st;
    const float *xf = xt->data;
    int64_t ne = engine_shape_numel(&xt->shape);
    float mn = 0, mx = 0; /* the range always includes 0 */
    for (int64_t i = 0; i < ne; i++) {
        mn = xf[i] < mn ? xf[i] : mn;
        mx = xf[i] > mx ? xf[i] : mx;
    }
    float scale = (mx - mn) / 255.0f;
    float zpf = scale != 0 ? nearbyintf(0 - mn / scale) : 0;
    uint8_t zp = (uint8_t)sat(zpf, 0, 255);
    uint8_t *y = yt->data;
    for (int64_t i = 0; i < ne; i++) {
        float v = scale != 0 ? nearbyintf(xf[i] / scale) + zp : zp;
        y[i] = (uint8_t)sat(v, 0, 255);
    }
    *(float *)st_->data = scale;
    *(uint8_t *)zt->data = zp;
    return STATUS_OK;
}

/* --- MatMulInteger and QLinearMatMul -------------------------------------- */

static status qmm_prepare(graph *g, node *n, errinfo *err) {
    int q = strcmp(n->op_type, "QLinearMatMul") == 0;
    engine_dtype a = node_input_dtype(g, n, 0), b = node_input_dtype(g, n, q ? 3 : 1);
    if (!is_q8(a) || !is_q8(b))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "A and B have types %s and %s, expected int8 or uint8",
                               engine_dtype_name(a), engine_dtype_name(b));
    engine_dtype ydt = q ? node_input_dtype(g, n, 7) : ENGINE_INT32;
    if (q && !is_q8(ydt))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "y_zero_point must be int8 or uint8");
    node_set_output_dtype(g, n, 0, ydt);
    return STATUS_OK;
}

/* A zero point of 1 value or one per row (A) / column (B). */
static status zp_check(exec_ctx *x, const engine_tensor *t, int64_t per, const char *name) {
    int64_t c = t ? engine_shape_numel(&t->shape) : 1;
    if (c != 1 && c != per)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "%s has %lld values, expected 1 or %lld",
                         name, (long long)c, (long long)per);
    return STATUS_OK;
}

/* c[m x n] = (a - azp[row]) (b - bzp[col]) in wrapping 32-bit arithmetic. */
static void imm(const mm_plan *p, const engine_tensor *a, int64_t ao, const engine_tensor *azp,
                const engine_tensor *b, int64_t bo, const engine_tensor *bzp, uint32_t *ai,
                uint32_t *bi, uint32_t *c) {
    for (int64_t i = 0; i < p->m; i++)
        for (int64_t k = 0; k < p->k; k++)
            ai[i * p->k + k] = (uint32_t)(dtype_load_int64(a->dtype, a->data, ao + i * p->k + k) -
                                          (int64_t)qp(azp, i));
    for (int64_t k = 0; k < p->k; k++)
        for (int64_t j = 0; j < p->n; j++)
            bi[k * p->n + j] = (uint32_t)(dtype_load_int64(b->dtype, b->data, bo + k * p->n + j) -
                                          (int64_t)qp(bzp, j));
    for (int64_t i = 0; i < p->m; i++) {
        uint32_t *restrict ci = c + i * p->n;
        for (int64_t j = 0; j < p->n; j++) ci[j] = 0;
        for (int64_t k = 0; k < p->k; k++) {
            const uint32_t av = ai[i * p->k + k], *restrict bk = bi + k * p->n;
            for (int64_t j = 0; j < p->n; j++) ci[j] += av * bk[j];
        }
    }
}

static status qmm_run(const node *n, exec_ctx *x) {
    int q = strcmp(n->op_type, "QLinearMatMul") == 0;
    const engine_tensor *a = exec_input(x, 0), *b = exec_input(x, q ? 3 : 1);
    const engine_tensor *azp = exec_input(x, 2), *bzp = exec_input(x, q ? 5 : 3);
    const engine_tensor *as = q ? exec_input(x, 1) : NULL, *bs = q ? exec_input(x, 4) : NULL;
    const engine_tensor *ys = q ? exec_input(x, 6) : NULL, *yzp = q ? exec_input(x, 7) : NULL;
    mm_plan p;
    char why[384];
    if (!a || !b || (q && (!as || !bs || !ys)))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "missing a required input");
    if (mm_plan_make(&a->shape, &b->shape, &p, why, sizeof why))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "%s", why);
    status st;
    if ((st = zp_check(x, azp, p.m, "a_zero_point")) ||
        (st = zp_check(x, bzp, p.n, "b_zero_point")) ||
        (st = zp_check(x, as, p.m, "a_scale")) || (st = zp_check(x, bs, p.n, "b_scale")) ||
        (st = zp_check(x, ys, 1, "y_scale")) || (st = zp_check(x, yzp, 1, "y_zero_point")))
        return st;
    engine_tensor *yt;
    engine_dtype ydt = q ? (yzp ? yzp->dtype : ENGINE_UINT8) : ENGINE_INT32;
    if ((st = exec_output(x, 0, ydt, &p.out, &yt))) return st;
    uint32_t *ai = exec_scratch(x, (size_t)(p.m * p.k) * 4 + 1);
    uint32_t *bi = exec_scratch(x, (size_t)(p.k * p.n) * 4 + 1);
    uint32_t *c = q ? exec_scratch(x, (size_t)(p.m * p.n) * 4 + 1) : NULL;
    if (!ai || !bi || (q && !c)) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    double lo, hi;
    q_range(ydt, &lo, &hi);
    for (int64_t bt = 0; bt < p.batches; bt++) {
        int64_t ao, bo, mn = p.m * p.n;
        mm_plan_offsets(&p, bt, &ao, &bo);
        uint32_t *dst = q ? c : (uint32_t *)yt->data + bt * mn;
        imm(&p, a, ao, azp, b, bo, bzp, ai, bi, dst);
        for (int64_t e = 0; q && e < mn; e++) {
            int64_t i = e / p.n, j = e % p.n;
            float mult = (float)(qp(as, i) * qp(bs, j) / qp(ys, 0));
            double v = nearbyintf((float)(int32_t)dst[e] * mult) + qp(yzp, 0);
            dtype_store_double(ydt, yt->data, bt * mn + e, sat(v, lo, hi));
        }
    }
    return STATUS_OK;
}

const op_desc op_family_quantize[] = {
    {.type = "QuantizeLinear", .since = 10, .prepare = q_prepare, .run = quantize_run},
    {.type = "DequantizeLinear", .since = 10, .prepare = q_prepare, .run = dequantize_run},
    {.type = "DynamicQuantizeLinear", .since = 11, .prepare = dynq_prepare, .run = dynq_run},
    {.type = "MatMulInteger", .since = 10, .prepare = qmm_prepare, .run = qmm_run},
    {.type = "QLinearMatMul", .since = 10, .prepare = qmm_prepare, .run = qmm_run},
    {0},
};
