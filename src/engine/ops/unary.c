/* unary.c -- elementwise math: Abs, Neg, Sign, Reciprocal, Sqrt, Exp, Log,
 * Ceil, Floor, Round, the trigonometric and hyperbolic functions, Erf, Clip.
 *
 * Float and double kernels share one expression through <tgmath.h>;
 * float16/bfloat16 compute in float (ew_run.c). Exp and Erf on float use the
 * vectorizable versions in kernels/vmath.h: they sit on hot paths (softmax
 * decompositions, GELU written out as Erf). Abs, Neg, Sign and Clip also take
 * integers, with wrapping (never undefined) negation. */
#include <float.h>
#include <stdlib.h>
#include <string.h>
#include <tgmath.h>

#include "../dtype.h"
#include "../kernels/vmath.h"
#include "../op.h"
#include "ew_types.h"

/* --- kernels ----------------------------------------------------------------- */

#define EXPR_fabs(T, UT) fabs(x)
#define EXPR_sabs(T, UT) (x < 0 ? (T)(0 - (UT)x) : x)
#define EXPR_uabs(T, UT) (x)
#define EXPR_fneg(T, UT) (-x)
#define EXPR_sneg(T, UT) (T)(0 - (UT)x)
/* Sign keeps NaN (numpy's choice) by returning x when it is neither. */
#define EXPR_fsign(T, UT) (x > 0 ? (T)1 : x < 0 ? (T)-1 : x)
#define EXPR_ssign(T, UT) (T)(x > 0 ? 1 : x < 0 ? -1 : 0)
#define EXPR_usign(T, UT) (T)(x > 0)
#define EXPR_reciprocal(T, UT) ((T)1 / x)
#define EXPR_sqrt(T, UT) sqrt(x)
#define EXPR_exp(T, UT) exp(x)
#define EXPR_log(T, UT) log(x)
#define EXPR_ceil(T, UT) ceil(x)
#define EXPR_floor(T, UT) floor(x)
#define EXPR_round(T, UT) rint(x)   /* halves to even, as ONNX specifies */
#define EXPR_sin(T, UT) sin(x)
#define EXPR_cos(T, UT) cos(x)
#define EXPR_tan(T, UT) tan(x)
#define EXPR_asin(T, UT) asin(x)
#define EXPR_acos(T, UT) acos(x)
#define EXPR_atan(T, UT) atan(x)
#define EXPR_sinh(T, UT) sinh(x)
#define EXPR_cosh(T, UT) cosh(x)
#define EXPR_asinh(T, UT) asinh(x)
#define EXPR_acosh(T, UT) acosh(x)
#define EXPR_atanh(T, UT) atanh(x)
#define EXPR_erf(T, UT) erf(x)
/* min(max(x, lo), hi): with lo > hi everything becomes hi, as ONNX says. */
#define EXPR_fclip(T, UT) fclip_##T(x, (T)P.a, (T)P.b)
#define EXPR_iclip(T, UT) iclip_##T(x, (T)P.lo, (T)P.hi)

#define CLIP_FN(PREFIX, T)                                                     \
    static inline T PREFIX##clip_##T(T x, T lo, T hi) {                        \
        T t = x < lo ? lo : x;                                                 \
        return t > hi ? hi : t;                                                \
    }
CLIP_FN(f, float)
CLIP_FN(f, double)
CLIP_FN(i, int8_t)
CLIP_FN(i, int16_t)
CLIP_FN(i, int32_t)
CLIP_FN(i, int64_t)
CLIP_FN(i, uint8_t)
CLIP_FN(i, uint16_t)
CLIP_FN(i, uint32_t)
CLIP_FN(i, uint64_t)

#define FLOAT_OPS(X)                                                           \
    X(fabs) X(fneg) X(fsign) X(reciprocal) X(sqrt) X(log) X(ceil) X(floor)     \
    X(round) X(sin) X(cos) X(tan) X(asin) X(acos) X(atan) X(sinh) X(cosh)      \
    X(asinh) X(acosh) X(atanh) X(fclip)
#define GEN_FLOAT_KERNELS(OP) EW_FLOAT(EW_GEN_UNARY, OP)
FLOAT_OPS(GEN_FLOAT_KERNELS)
EW_SINT(EW_GEN_UNARY, sabs)
EW_UINT(EW_GEN_UNARY, uabs)
EW_SINT(EW_GEN_UNARY, sneg)
EW_SINT(EW_GEN_UNARY, ssign)
EW_UINT(EW_GEN_UNARY, usign)
EW_INT(EW_GEN_UNARY, iclip)
/* Exp and Erf: the vectorizable float versions, libm for double. */
EW_UNARY_KERNEL(VM_TARGET_CLONES, exp_f32, float, float, vm_expf(x))
EW_UNARY_KERNEL(, exp_f64, double, double, exp(x))
EW_UNARY_KERNEL(VM_TARGET_CLONES, erf_f32, float, float, vm_erff(x))
EW_UNARY_KERNEL(, erf_f64, double, double, erf(x))

#define FLOAT_TABLE(OP) \
    static const ew_unary_fn OP##_fns[ENGINE_DTYPE__MAX] = {EW_FLOAT(EW_GEN_ENTRY, OP)};
FLOAT_TABLE(reciprocal)
FLOAT_TABLE(sqrt)
FLOAT_TABLE(exp)
FLOAT_TABLE(log)
FLOAT_TABLE(ceil)
FLOAT_TABLE(floor)
FLOAT_TABLE(round)
FLOAT_TABLE(sin)
FLOAT_TABLE(cos)
FLOAT_TABLE(tan)
FLOAT_TABLE(asin)
FLOAT_TABLE(acos)
FLOAT_TABLE(atan)
FLOAT_TABLE(sinh)
FLOAT_TABLE(cosh)
FLOAT_TABLE(asinh)
FLOAT_TABLE(acosh)
FLOAT_TABLE(atanh)
FLOAT_TABLE(erf)
static const ew_unary_fn abs_fns[ENGINE_DTYPE__MAX] = {
    EW_FLOAT(EW_GEN_ENTRY, fabs) EW_SINT(EW_GEN_ENTRY, sabs) EW_UINT(EW_GEN_ENTRY, uabs)};
static const ew_unary_fn neg_fns[ENGINE_DTYPE__MAX] = {
    EW_FLOAT(EW_GEN_ENTRY, fneg) EW_SINT(EW_GEN_ENTRY, sneg)};
static const ew_unary_fn sign_fns[ENGINE_DTYPE__MAX] = {
    EW_FLOAT(EW_GEN_ENTRY, fsign) EW_SINT(EW_GEN_ENTRY, ssign) EW_UINT(EW_GEN_ENTRY, usign)};
static const ew_unary_fn clip_fns[ENGINE_DTYPE__MAX] = {
    EW_FLOAT(EW_GEN_ENTRY, fclip) EW_INT(EW_GEN_ENTRY, iclip)};

/* --- plain unary ops ----------------------------------------------------------- */

typedef struct unary_op {
    const char *type;
    const ew_unary_fn *fns;
} unary_op;

static const unary_op unary_ops[] = {
    {"Abs", abs_fns},     {"Neg", neg_fns},     {"Sign", sign_fns},
    {"Reciprocal", reciprocal_fns},             {"Sqrt", sqrt_fns},   {"Exp", exp_fns},
    {"Log", log_fns},     {"Ceil", ceil_fns},   {"Floor", floor_fns}, {"Round", round_fns},
    {"Sin", sin_fns},     {"Cos", cos_fns},     {"Tan", tan_fns},     {"Asin", asin_fns},
    {"Acos", acos_fns},   {"Atan", atan_fns},   {"Sinh", sinh_fns},   {"Cosh", cosh_fns},
    {"Asinh", asinh_fns}, {"Acosh", acosh_fns}, {"Atanh", atanh_fns}, {"Erf", erf_fns},
};

typedef struct unary_state {
    const ew_unary_fn *fns;
} unary_state;

/* The op's kernels for dt: native or, for float16/bfloat16, staged in float.
 * Integer inputs of float-only ops are errors (never staged through double:
 * ONNX does not define Sqrt on int32). */
static int unary_supports(const ew_unary_fn *fns, engine_dtype dt) {
    engine_dtype ct = ew_unary_compute_type(fns, dt);
    return ct != ENGINE_UNDEFINED && (ct == dt || dtype_is_float(dt));
}

static status unary_prepare(graph *g, node *n, errinfo *err) {
    const ew_unary_fn *fns = NULL;
    for (size_t i = 0; i < sizeof unary_ops / sizeof unary_ops[0]; i++)
        if (strcmp(unary_ops[i].type, n->op_type) == 0) fns = unary_ops[i].fns;
    if (!fns) return op_prepare_fail(n, err, STATUS_INTERNAL, "no kernels for this op");
    engine_dtype dt = node_input_dtype(g, n, 0);
    if (!unary_supports(fns, dt))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "input type %s is not supported",
                               engine_dtype_name(dt));
    unary_state *s = malloc(sizeof *s);
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    s->fns = fns;
    n->state = s;
    node_set_output_dtype(g, n, 0, dt);
    return STATUS_OK;
}

static status unary_run(const node *n, exec_ctx *x) {
    const unary_state *s = n->state;
    const engine_tensor *a = exec_input(x, 0);
    if (!a) return exec_fail(x, STATUS_INVALID_ARGUMENT, "missing input");
    engine_tensor *y;
    status st = exec_output(x, 0, a->dtype, &a->shape, &y);
    if (st) return st;
    return ew_unary_apply(x, s->fns, a, y, NULL);
}

/* --- Clip ------------------------------------------------------------------------ */

/* Clip-1 and Clip-6 have float attributes; Clip-11 and later take optional
 * scalar inputs of the input's type, read at run time (they need not be
 * constant). */
typedef struct clip_state {
    float min, max;     /* before opset 11 */
} clip_state;

static status clip_prepare(graph *g, node *n, errinfo *err) {
    engine_dtype dt = node_input_dtype(g, n, 0);
    if (!unary_supports(clip_fns, dt) || (n->opset < 12 && !dtype_is_float(dt)))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "input type %s is not supported",
                               engine_dtype_name(dt));
    for (int i = 1; i < n->n_inputs && i < 3; i++) {
        engine_dtype di = node_input_dtype(g, n, i);
        if (di != ENGINE_UNDEFINED && di != dt)
            return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                                   "input %d has type %s, expected %s", i,
                                   engine_dtype_name(di), engine_dtype_name(dt));
    }
    clip_state *s = malloc(sizeof *s);
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    s->min = node_attr_float(n, "min", -FLT_MAX);
    s->max = node_attr_float(n, "max", FLT_MAX);
    n->state = s;
    node_set_output_dtype(g, n, 0, dt);
    return STATUS_OK;
}

/* The limits of integer type dt as 64-bit patterns (uint64's max is -1). */
static void int_limits(engine_dtype dt, int64_t *lo, int64_t *hi) {
    switch (dt) {
    case ENGINE_INT8: *lo = INT8_MIN; *hi = INT8_MAX; break;
    case ENGINE_INT16: *lo = INT16_MIN; *hi = INT16_MAX; break;
    case ENGINE_INT32: *lo = INT32_MIN; *hi = INT32_MAX; break;
    case ENGINE_UINT8: *lo = 0; *hi = UINT8_MAX; break;
    case ENGINE_UINT16: *lo = 0; *hi = UINT16_MAX; break;
    case ENGINE_UINT32: *lo = 0; *hi = UINT32_MAX; break;
    case ENGINE_UINT64: *lo = 0; *hi = -1; break;
    default: *lo = INT64_MIN; *hi = INT64_MAX; break;
    }
}

/* Reads the optional bound input i into p (a for min, b for floats; lo/hi
 * for integers). */
static status clip_bound(exec_ctx *x, int i, const engine_tensor *a, ew_params *p) {
    const engine_tensor *t = exec_input(x, i);
    if (!t) return STATUS_OK;
    if (t->dtype != a->dtype || engine_shape_numel(&t->shape) != 1)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "%s must be a single %s value", i == 1 ? "min" : "max",
                         engine_dtype_name(a->dtype));
    if (dtype_is_float(a->dtype))
        *(i == 1 ? &p->a : &p->b) = dtype_load_double(t->dtype, t->data, 0);
    else
        *(i == 1 ? &p->lo : &p->hi) = dtype_load_int64(t->dtype, t->data, 0);
    return STATUS_OK;
}

static status clip_run(const node *n, exec_ctx *x) {
    const clip_state *s = n->state;
    const engine_tensor *a = exec_input(x, 0);
    if (!a) return exec_fail(x, STATUS_INVALID_ARGUMENT, "missing input");
    ew_params p = {.a = -HUGE_VAL, .b = HUGE_VAL};
    int_limits(a->dtype, &p.lo, &p.hi);
    status st;
    if (n->opset < 11) {
        p.a = s->min;
        p.b = s->max;
    } else if ((st = clip_bound(x, 1, a, &p)) || (st = clip_bound(x, 2, a, &p))) {
        return st;
    }
    engine_tensor *y;
    st = exec_output(x, 0, a->dtype, &a->shape, &y);
    if (st) return st;
    return ew_unary_apply(x, clip_fns, a, y, &p);
}

#define UNARY(NAME, SINCE) \
    {.type = NAME, .since = SINCE, .prepare = unary_prepare, .run = unary_run}
const op_desc op_family_unary[] = {
    UNARY("Abs", 1),   UNARY("Neg", 1),    UNARY("Sign", 9),   UNARY("Reciprocal", 1),
    UNARY("Sqrt", 1),  UNARY("Exp", 1),    UNARY("Log", 1),    UNARY("Ceil", 1),
    UNARY("Floor", 1), UNARY("Round", 11), UNARY("Sin", 7),    UNARY("Cos", 7),
    UNARY("Tan", 7),   UNARY("Asin", 7),   UNARY("Acos", 7),   UNARY("Atan", 7),
    UNARY("Sinh", 9),  UNARY("Cosh", 9),   UNARY("Asinh", 9),  UNARY("Acosh", 9),
    UNARY("Atanh", 9), UNARY("Erf", 9),
    {.type = "Clip", .since = 1, .prepare = clip_prepare, .run = clip_run},
    {0},
};
