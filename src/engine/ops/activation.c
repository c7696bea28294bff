/* activation.c -- activation functions: Relu, LeakyRelu, PRelu, Sigmoid,
 * HardSigmoid, HardSwish, Tanh, Elu, Selu, Celu, Softplus, Softsign,
 * ThresholdedRelu, Mish, Gelu, Shrink, and the com.microsoft Gelu, FastGelu,
 * BiasGelu and QuickGelu that ONNX Runtime's transformer optimizer emits.
 *
 * Each is one expression over x and the node's attributes (alpha, beta,
 * gamma as P.a, P.b, P.c), stamped for float and double. Float uses the
 * vectorizable exp/tanh/erf/sigmoid of kernels/vmath.h, double uses libm;
 * float16/bfloat16 compute in float (ew_run.c). */
#include <stdlib.h>
#include <string.h>
#include <tgmath.h>

#include "../dtype.h"
#include "../kernels/vmath.h"
#include "../op.h"
#include "../shape.h"
#include "ew_types.h"

/* --- kernels ----------------------------------------------------------------- */

static inline double sigmoid_d(double x) {
    return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
}
/* x * Phi(x) through erfc, so negative x does not cancel (vm_geluf). */
static inline double gelu_d(double x) {
    double half_e = 0.5 * erfc(fabs(x) * 0.70710678118654752);
    return x < 0 ? x * half_e : x - x * half_e;
}
/* Pick the float (vectorizable) or double (libm) function by x's type. The
 * bare names exp/tanh/erf are the double functions even with tgmath.h. */
#define V_EXP(x) _Generic((x), float: vm_expf, default: exp)(x)
#define V_TANH(x) _Generic((x), float: vm_tanhf, default: tanh)(x)
#define V_ERF(x) _Generic((x), float: vm_erff, default: erf)(x)
#define V_SIGMOID(x) _Generic((x), float: vm_sigmoidf, default: sigmoid_d)(x)
#define V_GELU(x) _Generic((x), float: vm_geluf, default: gelu_d)(x)
#define CLAMP01(T, v) ((v) < (T)0 ? (T)0 : (v) > (T)1 ? (T)1 : (v))
/* log(1 + e^x) without overflow. */
#define SOFTPLUS(T, x) ((x > 0 ? x : (T)0) + log1p(V_EXP(-fabs(x))))

#define EXPR_relu(T, UT) (x > 0 ? x : (T)0)
#define EXPR_leakyrelu(T, UT) (x >= 0 ? x : x * (T)P.a)
#define EXPR_sigmoid(T, UT) V_SIGMOID(x)
#define EXPR_hardsigmoid(T, UT) CLAMP01(T, (T)P.a * x + (T)P.b)
#define EXPR_hardswish(T, UT) (x * CLAMP01(T, x * (T)(1.0 / 6) + (T)0.5))
#define EXPR_tanh(T, UT) V_TANH(x)
#define EXPR_elu(T, UT) (x >= 0 ? x : (T)P.a * expm1(x))
#define EXPR_selu(T, UT) ((T)P.c * (x > 0 ? x : (T)P.a * expm1(x)))
#define EXPR_celu(T, UT) (x > 0 ? x : (T)P.a * expm1(x / (T)P.a))
#define EXPR_softplus(T, UT) SOFTPLUS(T, x)
#define EXPR_softsign(T, UT) (x / ((T)1 + fabs(x)))
#define EXPR_thresholdedrelu(T, UT) (x > (T)P.a ? x : (T)0)
#define EXPR_mish(T, UT) (x * V_TANH(SOFTPLUS(T, x)))
#define EXPR_gelu(T, UT) V_GELU(x)
/* x/2 (1 + tanh z) = x sigmoid(2z): no cancellation for negative x. */
#define EXPR_gelu_tanh(T, UT) \
    (x * V_SIGMOID((T)1.5957691216057308 * (x + (T)0.044715 * x * x * x)))
#define EXPR_quickgelu(T, UT) (x * V_SIGMOID((T)P.a * x))
/* Shrink: lambd is P.a, bias P.b. */
#define EXPR_shrink(T, UT) (x < -(T)P.a ? x + (T)P.b : x > (T)P.a ? x - (T)P.b : (T)0)

#define ACTIVATIONS(X)                                                         \
    X(leakyrelu) X(sigmoid) X(hardsigmoid) X(hardswish) X(tanh) X(elu) \
    X(selu) X(celu) X(softplus) X(softsign) X(thresholdedrelu) X(mish) X(gelu) \
    X(gelu_tanh) X(quickgelu) X(shrink)
#define GEN_KERNELS(OP) EW_FLOAT(EW_GEN_UNARY, OP)
#define GEN_TABLE(OP) \
    static const ew_unary_fn OP##_fns[ENGINE_DTYPE__MAX] = {EW_FLOAT(EW_GEN_ENTRY, OP)};
ACTIVATIONS(GEN_KERNELS)
ACTIVATIONS(GEN_TABLE)
/* Relu-14 also takes signed integers. */
EW_FLOAT(EW_GEN_UNARY, relu)
EW_SINT(EW_GEN_UNARY, relu)
static const ew_unary_fn relu_fns[ENGINE_DTYPE__MAX] = {
    EW_FLOAT(EW_GEN_ENTRY, relu) EW_SINT(EW_GEN_ENTRY, relu)};

/* PRelu's slope and the contrib ops' bias are broadcast binary operands. */
#define EXPR_prelu(T, UT) (x < 0 ? (T)((UT)x * (UT)y) : x)
#define EXPR_uprelu(T, UT) (x)
#define EXPR_add(T, UT) (x + y)
EW_FLOAT(EW_GEN_BINARY, prelu)
EW_SINT(EW_GEN_BINARY, prelu)
EW_UINT(EW_GEN_BINARY, uprelu)
EW_FLOAT(EW_GEN_BINARY, add)
static const ew_binary_fn prelu_fns[ENGINE_DTYPE__MAX] = {
    EW_FLOAT(EW_GEN_ENTRY, prelu) EW_SINT(EW_GEN_ENTRY, prelu) EW_UINT(EW_GEN_ENTRY, uprelu)};
static const ew_binary_fn add_fns[ENGINE_DTYPE__MAX] = {EW_FLOAT(EW_GEN_ENTRY, add)};

/* --- the ops ----------------------------------------------------------------- */

/* An attribute read into ew_params: its name and default. */
typedef struct act_attr {
    const char *name;
    double dflt;
} act_attr;

typedef struct act_op {
    const char *type;
    const char *domain;         /* NULL = ai.onnx */
    const ew_unary_fn *fns;
    act_attr a, b, c;
    int int_through_double;     /* integer inputs compute in double (Shrink) */
    int has_bias;               /* optional input 1 added first (FastGelu, BiasGelu) */
} act_op;

#define MS "com.microsoft"
static const act_op act_ops[] = {
    {"Relu", NULL, relu_fns, {0}, {0}, {0}, 0, 0},
    {"LeakyRelu", NULL, leakyrelu_fns, {"alpha", 0.01}, {0}, {0}, 0, 0},
    {"Sigmoid", NULL, sigmoid_fns, {0}, {0}, {0}, 0, 0},
    {"HardSigmoid", NULL, hardsigmoid_fns, {"alpha", 0.2}, {"beta", 0.5}, {0}, 0, 0},
    {"HardSwish", NULL, hardswish_fns, {0}, {0}, {0}, 0, 0},
    {"Tanh", NULL, tanh_fns, {0}, {0}, {0}, 0, 0},
    {"Elu", NULL, elu_fns, {"alpha", 1.0}, {0}, {0}, 0, 0},
    {"Selu", NULL, selu_fns, {"alpha", 1.67326319217681884765625}, {0},
     {"gamma", 1.05070102214813232421875}, 0, 0},
    {"Celu", NULL, celu_fns, {"alpha", 1.0}, {0}, {0}, 0, 0},
    {"Softplus", NULL, softplus_fns, {0}, {0}, {0}, 0, 0},
    {"Softsign", NULL, softsign_fns, {0}, {0}, {0}, 0, 0},
    {"ThresholdedRelu", NULL, thresholdedrelu_fns, {"alpha", 1.0}, {0}, {0}, 0, 0},
    {"Mish", NULL, mish_fns, {0}, {0}, {0}, 0, 0},
    {"Gelu", NULL, gelu_fns, {0}, {0}, {0}, 0, 0},
    {"Shrink", NULL, shrink_fns, {"lambd", 0.5}, {"bias", 0.0}, {0}, 1, 0},
    {"Gelu", MS, gelu_fns, {0}, {0}, {0}, 0, 0},
    {"FastGelu", MS, gelu_tanh_fns, {0}, {0}, {0}, 0, 1},
    {"BiasGelu", MS, gelu_fns, {0}, {0}, {0}, 0, 1},
    {"QuickGelu", MS, quickgelu_fns, {"alpha", 1.702}, {0}, {0}, 0, 0},
};

typedef struct act_state {
    const act_op *op;
    const ew_unary_fn *fns;
    ew_params p;
} act_state;

static int same_domain(const char *a, const char *b) {
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static double act_attr_value(const node *n, const act_attr *a) {
    return a->name ? node_attr_float(n, a->name, (float)a->dflt) : 0;
}

static status act_prepare(graph *g, node *n, errinfo *err) {
    const act_op *op = NULL;
    for (size_t i = 0; i < sizeof act_ops / sizeof act_ops[0]; i++)
        if (strcmp(act_ops[i].type, n->op_type) == 0 &&
            same_domain(act_ops[i].domain, strcmp(n->domain, "ai.onnx") ? n->domain : ""))
            op = &act_ops[i];
    if (!op) return op_prepare_fail(n, err, STATUS_INTERNAL, "no kernels for this op");
    const ew_unary_fn *fns = op->fns;
    if (op->fns == gelu_fns && !op->domain) {
        const char *approx = node_attr_string(n, "approximate", "none");
        if (strcmp(approx, "tanh") == 0) fns = gelu_tanh_fns;
        else if (strcmp(approx, "none") != 0)
            return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                                   "approximate is '%s', expected 'none' or 'tanh'", approx);
    }
    engine_dtype dt = node_input_dtype(g, n, 0);
    engine_dtype ct = ew_unary_compute_type(fns, dt);
    if (ct == ENGINE_UNDEFINED || (ct != dt && !dtype_is_float(dt) && !op->int_through_double))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "input type %s is not supported",
                               engine_dtype_name(dt));
    if (op->has_bias && n->n_inputs > 1 && node_input_dtype(g, n, 1) != ENGINE_UNDEFINED &&
        node_input_dtype(g, n, 1) != dt)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "bias has type %s, expected %s",
                               engine_dtype_name(node_input_dtype(g, n, 1)),
                               engine_dtype_name(dt));
    act_state *s = malloc(sizeof *s);
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    s->op = op;
    s->fns = fns;
    s->p = (ew_params){.a = act_attr_value(n, &op->a), .b = act_attr_value(n, &op->b),
                       .c = act_attr_value(n, &op->c)};
    n->state = s;
    node_set_output_dtype(g, n, 0, dt);
    return STATUS_OK;
}

static status act_run(const node *n, exec_ctx *x) {
    const act_state *s = n->state;
    const engine_tensor *a = exec_input(x, 0);
    if (!a) return exec_fail(x, STATUS_INVALID_ARGUMENT, "missing input");
    engine_tensor *y;
    status st = exec_output(x, 0, a->dtype, &a->shape, &y);
    if (st) return st;
    const engine_tensor *bias = s->op->has_bias ? exec_input(x, 1) : NULL;
    if (!bias) return ew_unary_apply(x, s->fns, a, y, &s->p);
    /* Bias first, then the activation in place. */
    engine_shape bs;
    if (bias->dtype != a->dtype || shape_broadcast(&a->shape, &bias->shape, &bs) ||
        !shape_equal(&bs, &a->shape))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "bias does not match the input");
    engine_dtype ct = ew_binary_compute_type(add_fns, a->dtype);
    st = ew_binary_apply(x, add_fns[ct], ct, ct, a, bias, y);
    if (st) return st;
    return ew_unary_apply(x, s->fns, y, y, &s->p);
}

/* PRelu: y = x < 0 ? slope * x : x, slope broadcasting to x's shape. */
static status prelu_prepare(graph *g, node *n, errinfo *err) {
    engine_dtype dt = node_input_dtype(g, n, 0);
    if (n->n_inputs != 2)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "expected 2 inputs, got %d",
                               n->n_inputs);
    if (ew_binary_compute_type(prelu_fns, dt) == ENGINE_UNDEFINED)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "input type %s is not supported",
                               engine_dtype_name(dt));
    if (node_input_dtype(g, n, 1) != dt)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "slope has type %s, expected %s",
                               engine_dtype_name(node_input_dtype(g, n, 1)),
                               engine_dtype_name(dt));
    node_set_output_dtype(g, n, 0, dt);
    return STATUS_OK;
}

static status prelu_run(const node *n, exec_ctx *x) {
    const engine_tensor *a = exec_input(x, 0), *slope = exec_input(x, 1);
    if (!a || !slope) return exec_fail(x, STATUS_INVALID_ARGUMENT, "missing input");
    /* Before opset 7 a slope of C values is per channel (axis 1): view it
     * as [C,1,...,1] for numpy broadcasting. */
    engine_tensor view = *slope;
    if (n->opset < 7 && slope->shape.rank == 1 && a->shape.rank > 2 &&
        slope->shape.dims[0] == a->shape.dims[1]) {
        while (view.shape.rank < a->shape.rank - 1) view.shape.dims[view.shape.rank++] = 1;
        slope = &view;
    }
    engine_shape bs;
    if (slope->dtype != a->dtype || shape_broadcast(&a->shape, &slope->shape, &bs) ||
        !shape_equal(&bs, &a->shape)) {
        char sa[128], sb[128];
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "slope %s %s does not broadcast to X %s",
                         engine_dtype_name(slope->dtype),
                         shape_format(&slope->shape, sb, sizeof sb),
                         shape_format(&a->shape, sa, sizeof sa));
    }
    engine_dtype ct = ew_binary_compute_type(prelu_fns, a->dtype);
    engine_tensor *y;
    status st = exec_output(x, 0, a->dtype, &a->shape, &y);
    if (st) return st;
    return ew_binary_apply(x, prelu_fns[ct], ct, ct, a, slope, y);
}

#define ACT(NAME, SINCE) {.type = NAME, .since = SINCE, .prepare = act_prepare, .run = act_run}
#define ACT_MS(NAME) \
    {.type = NAME, .domain = MS, .since = 1, .prepare = act_prepare, .run = act_run}
const op_desc op_family_activation[] = {
    ACT("Relu", 1),
    ACT("LeakyRelu", 1),
    {.type = "PRelu", .since = 1, .prepare = prelu_prepare, .run = prelu_run},
    ACT("Sigmoid", 1),
    ACT("HardSigmoid", 1),
    ACT("HardSwish", 14),
    ACT("Tanh", 1),
    ACT("Elu", 1),
    ACT("Selu", 1),
    ACT("Celu", 12),
    ACT("Softplus", 1),
    ACT("Softsign", 1),
    ACT("ThresholdedRelu", 10),
    ACT("Mish", 18),
    ACT("Gelu", 20),
    ACT("Shrink", 9),
    ACT_MS("Gelu"),
    ACT_MS("FastGelu"),
    ACT_MS("BiasGelu"),
    ACT_MS("QuickGelu"),
    {0},
};
