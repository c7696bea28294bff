/* elementwise.c -- broadcasting arithmetic: Add, Sub, Mul, Div, Pow, Mod, and
 * the variadic Max, Min, Sum, Mean.
 *
 * Kernels are expressions stamped per type (ew_types.h); broadcasting,
 * threads and float16/bfloat16 staging are ew_run.c's. Integer arithmetic
 * wraps like two's complement hardware (done in unsigned types, so it is
 * never undefined); integer division by zero is an error, not a crash. */
#include <stdlib.h>
#include <string.h>
#include <tgmath.h>

#include "../dtype.h"
#include "../kernels/convert.h"
#include "../op.h"
#include "../shape.h"
#include "ew_types.h"

/* --- kernels ----------------------------------------------------------------- */

#define EXPR_add(T, UT) (T)((UT)x + (UT)y)
#define EXPR_sub(T, UT) (T)((UT)x - (UT)y)
#define EXPR_mul(T, UT) (T)((UT)x * (UT)y)
#define EXPR_fdiv(T, UT) (x / y)
/* INT_MIN / -1 overflows: negate in unsigned instead. Zero divisors are
 * rejected before the kernel runs. */
#define EXPR_sdiv(T, UT) (y == -1 ? (T)(0 - (UT)x) : (T)(x / y))
#define EXPR_udiv(T, UT) (T)(x / y)
#define EXPR_max(T, UT) (x > y ? x : y)
#define EXPR_min(T, UT) (x < y ? x : y)
/* Floating max/min propagate NaN from either side, as numpy does. */
#define EXPR_fmax(T, UT) (x != x ? x : x > y ? x : y)
#define EXPR_fmin(T, UT) (x != x ? x : x < y ? x : y)
/* Mod: fmod=1 truncates (C's % and fmod); fmod=0 takes the divisor's sign
 * (Python's %). x % -1 is 0 but overflows for INT_MIN in C: special-cased. */
#define EXPR_smod_trunc(T, UT) (y == -1 ? (T)0 : (T)(x % y))
#define EXPR_smod_floor(T, UT) smod_floor_##T(x, y)
#define EXPR_umod(T, UT) (T)(x % y)
#define EXPR_fmod_trunc(T, UT) fmod(x, y)
#define EXPR_fmod_floor(T, UT) fmod_floor(x, y)
#define EXPR_spow(T, UT) (T)spow(x, y)
#define EXPR_upow(T, UT) (T)upow(x, y)
/* x^2 is decomposed LayerNorm's variance (x - mean)^2: x * x is the same
 * correctly rounded value at a fraction of pow's cost. */
#define EXPR_fpow(T, UT) (y == 2 ? x * x : pow(x, y))

#define SMOD_FLOOR(T)                                                          \
    static inline T smod_floor_##T(T x, T y) {                                 \
        if (y == -1) return 0;                                                 \
        T r = (T)(x % y);                                                      \
        return (T)((r != 0 && ((r < 0) != (y < 0))) ? r + y : r);              \
    }
SMOD_FLOOR(int8_t)
SMOD_FLOOR(int16_t)
SMOD_FLOOR(int32_t)
SMOD_FLOOR(int64_t)

static inline double fmod_floor(double x, double y) {
    double r = fmod(x, y);
    return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}

/* Integer powers by squaring, wrapping like repeated multiplication.
 * Negative exponents give the truncated reciprocal: 0 unless |x| is 1. */
static inline uint64_t upow(uint64_t x, uint64_t e) {
    uint64_t r = 1;
    while (e) {
        if (e & 1) r *= x;
        x *= x;
        e >>= 1;
    }
    return r;
}
static inline int64_t spow(int64_t x, int64_t e) {
    if (e < 0) return x == 1 ? 1 : x == -1 ? (e % 2 ? -1 : 1) : 0;
    return (int64_t)upow((uint64_t)x, (uint64_t)e);
}

#define ARITH_KERNELS(OP) EW_NUMERIC(EW_GEN_BINARY, OP)
ARITH_KERNELS(add)
ARITH_KERNELS(sub)
ARITH_KERNELS(mul)
EW_FLOAT(EW_GEN_BINARY, fdiv)
EW_SINT(EW_GEN_BINARY, sdiv)
EW_UINT(EW_GEN_BINARY, udiv)
EW_INT(EW_GEN_BINARY, max)
EW_INT(EW_GEN_BINARY, min)
EW_FLOAT(EW_GEN_BINARY, fmax)
EW_FLOAT(EW_GEN_BINARY, fmin)
EW_SINT(EW_GEN_BINARY, smod_trunc)
EW_SINT(EW_GEN_BINARY, smod_floor)
EW_UINT(EW_GEN_BINARY, umod)
EW_FLOAT(EW_GEN_BINARY, fmod_trunc)
EW_FLOAT(EW_GEN_BINARY, fmod_floor)
EW_SINT(EW_GEN_BINARY, spow)
EW_UINT(EW_GEN_BINARY, upow)
EW_FLOAT(EW_GEN_BINARY, fpow)

static const ew_binary_fn add_fns[ENGINE_DTYPE__MAX] = {EW_NUMERIC(EW_GEN_ENTRY, add)};
static const ew_binary_fn sub_fns[ENGINE_DTYPE__MAX] = {EW_NUMERIC(EW_GEN_ENTRY, sub)};
static const ew_binary_fn mul_fns[ENGINE_DTYPE__MAX] = {EW_NUMERIC(EW_GEN_ENTRY, mul)};
static const ew_binary_fn div_fns[ENGINE_DTYPE__MAX] = {
    EW_FLOAT(EW_GEN_ENTRY, fdiv) EW_SINT(EW_GEN_ENTRY, sdiv) EW_UINT(EW_GEN_ENTRY, udiv)};
static const ew_binary_fn max_fns[ENGINE_DTYPE__MAX] = {
    EW_INT(EW_GEN_ENTRY, max) EW_FLOAT(EW_GEN_ENTRY, fmax)};
static const ew_binary_fn min_fns[ENGINE_DTYPE__MAX] = {
    EW_INT(EW_GEN_ENTRY, min) EW_FLOAT(EW_GEN_ENTRY, fmin)};
static const ew_binary_fn mod_trunc_fns[ENGINE_DTYPE__MAX] = {
    EW_SINT(EW_GEN_ENTRY, smod_trunc) EW_UINT(EW_GEN_ENTRY, umod)
    EW_FLOAT(EW_GEN_ENTRY, fmod_trunc)};
static const ew_binary_fn mod_floor_fns[ENGINE_DTYPE__MAX] = {
    EW_SINT(EW_GEN_ENTRY, smod_floor) EW_UINT(EW_GEN_ENTRY, umod)
    EW_FLOAT(EW_GEN_ENTRY, fmod_floor)};
static const ew_binary_fn pow_fns[ENGINE_DTYPE__MAX] = {
    EW_SINT(EW_GEN_ENTRY, spow) EW_UINT(EW_GEN_ENTRY, upow) EW_FLOAT(EW_GEN_ENTRY, fpow)};

/* Mean divides the sum by the input count. */
#define EXPR_scale(T, UT) (T)(x * (T)P.a)
EW_FLOAT(EW_GEN_UNARY, scale)
static const ew_unary_fn scale_fns[ENGINE_DTYPE__MAX] = {EW_FLOAT(EW_GEN_ENTRY, scale)};

/* --- the ops ----------------------------------------------------------------- */

typedef struct arith_op {
    const char *type;
    const ew_binary_fn *fns;
    int divides;        /* integer zero divisors must be rejected */
    int variadic;
    int float_only;     /* Mean */
} arith_op;

static const arith_op arith_ops[] = {
    {"Add", add_fns, 0, 0, 0},
    {"Sub", sub_fns, 0, 0, 0},
    {"Mul", mul_fns, 0, 0, 0},
    {"Div", div_fns, 1, 0, 0},
    {"Mod", mod_floor_fns, 1, 0, 0},
    {"Pow", pow_fns, 0, 0, 0},
    {"Max", max_fns, 0, 1, 0},
    {"Min", min_fns, 0, 1, 0},
    {"Sum", add_fns, 0, 1, 0},
    {"Mean", add_fns, 0, 1, 1},
};

typedef struct arith_state {
    const arith_op *op;
    const ew_binary_fn *fns;
} arith_state;

static const arith_op *arith_find(const char *type) {
    for (size_t i = 0; i < sizeof arith_ops / sizeof arith_ops[0]; i++)
        if (strcmp(arith_ops[i].type, type) == 0) return &arith_ops[i];
    return NULL;
}

static status arith_prepare(graph *g, node *n, errinfo *err) {
    const arith_op *op = arith_find(n->op_type);
    if (!op) return op_prepare_fail(n, err, STATUS_INTERNAL, "no kernels for this op");
    if (n->n_inputs < (op->variadic ? 1 : 2))
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "expected %s inputs, got %d",
                               op->variadic ? "at least 1" : "2", n->n_inputs);
    const ew_binary_fn *fns = op->fns;
    if (strcmp(op->type, "Mod") == 0 && node_attr_int(n, "fmod", 0)) fns = mod_trunc_fns;

    engine_dtype dt = node_input_dtype(g, n, 0);
    if (ew_binary_compute_type(fns, dt) == ENGINE_UNDEFINED ||
        (op->float_only && !dtype_is_float(dt)))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "input type %s is not supported",
                               engine_dtype_name(dt));
    for (int i = 1; i < n->n_inputs; i++) {
        engine_dtype di = node_input_dtype(g, n, i);
        /* Pow's exponent may have its own numeric type. */
        int ok = fns == pow_fns ? dtype_is_int(di) || dtype_is_float(di) : di == dt;
        if (!ok)
            return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                                   "input %d has type %s, expected %s", i,
                                   engine_dtype_name(di), engine_dtype_name(dt));
    }
    arith_state *s = malloc(sizeof *s);
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    s->op = op;
    s->fns = fns;
    n->state = s;
    node_set_output_dtype(g, n, 0, dt);
    return STATUS_OK;
}

static int has_int_zero(const engine_tensor *t) {
    if (!dtype_is_int(t->dtype)) return 0;
    int64_t n = engine_shape_numel(&t->shape);
    for (int64_t i = 0; i < n; i++)
        if (dtype_load_int64(t->dtype, t->data, i) == 0) return 1;
    return 0;
}

/* Pow with an exponent of another type computes in float (float bases) or
 * double (integer and double bases), then converts to the base's type. */
static engine_dtype pow_mixed_type(engine_dtype base, engine_dtype exponent) {
    if (base == ENGINE_DOUBLE || dtype_is_int(base) || exponent == ENGINE_DOUBLE)
        return ENGINE_DOUBLE;
    return ENGINE_FLOAT;
}

/* Before opset 7, `broadcast=1` with `axis` aligned B's dims to A's from
 * `axis` on (B [3] on A [2,3,4] at axis 1 means [3,1]); numpy broadcasting
 * does the rest once B is viewed with trailing 1s. */
static status legacy_broadcast(const node *n, exec_ctx *x, const engine_tensor *a,
                               const engine_tensor *b, engine_tensor *view) {
    *view = *b;
    const attr *axis_attr = node_attr(n, "axis");
    if (n->opset >= 7 || !node_attr_int(n, "broadcast", 0) || !axis_attr) return STATUS_OK;
    int axis = shape_normalize_axis(axis_attr->i, a->shape.rank);
    if (axis < 0 || axis + b->shape.rank > a->shape.rank)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "axis %lld does not place B (rank %d) inside A (rank %d)",
                         (long long)axis_attr->i, b->shape.rank, a->shape.rank);
    while (view->shape.rank < a->shape.rank - axis) view->shape.dims[view->shape.rank++] = 1;
    return STATUS_OK;
}

static status binary_run(const node *n, exec_ctx *x) {
    const arith_state *s = n->state;
    const engine_tensor *a = exec_input(x, 0), *b = exec_input(x, 1);
    if (!a || !b) return exec_fail(x, STATUS_INVALID_ARGUMENT, "missing input");
    engine_tensor b_view;
    status st = legacy_broadcast(n, x, a, b, &b_view);
    if (st) return st;
    b = &b_view;
    engine_dtype ct = ew_binary_compute_type(s->fns, a->dtype);
    if (a->dtype != b->dtype) {
        if (s->fns != pow_fns)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "inputs have types %s and %s",
                             engine_dtype_name(a->dtype), engine_dtype_name(b->dtype));
        ct = pow_mixed_type(a->dtype, b->dtype);
    }
    if (ct == ENGINE_UNDEFINED)
        return exec_fail(x, STATUS_UNSUPPORTED, "input type %s is not supported",
                         engine_dtype_name(a->dtype));
    if (s->op->divides && has_int_zero(b))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "integer division by zero");
    engine_tensor *y;
    if ((st = ew_broadcast_output(x, 0, a, b, a->dtype, &y))) return st;
    return ew_binary_apply(x, s->fns[ct], ct, ct, a, b, y);
}

/* Max, Min, Sum, Mean: fold the inputs pairwise into the output, which has
 * the broadcast shape of them all. */
static status variadic_run(const node *n, exec_ctx *x) {
    const arith_state *s = n->state;
    int count = exec_input_count(x);
    const engine_tensor *first = exec_input(x, 0);
    if (!first) return exec_fail(x, STATUS_INVALID_ARGUMENT, "missing input 0");
    engine_shape shape = first->shape;
    for (int i = 1; i < count; i++) {
        const engine_tensor *t = exec_input(x, i);
        if (!t) return exec_fail(x, STATUS_INVALID_ARGUMENT, "missing input %d", i);
        if (t->dtype != first->dtype)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "input %d has type %s, expected %s",
                             i, engine_dtype_name(t->dtype), engine_dtype_name(first->dtype));
        if (shape_broadcast(&shape, &t->shape, &shape)) {
            char sa[128];
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "input %d of shape %s does not broadcast with the others", i,
                             shape_format(&t->shape, sa, sizeof sa));
        }
    }
    engine_dtype ct = ew_binary_compute_type(s->fns, first->dtype);
    if (ct == ENGINE_UNDEFINED)
        return exec_fail(x, STATUS_UNSUPPORTED, "input type %s is not supported",
                         engine_dtype_name(first->dtype));
    engine_tensor *y;
    status st = exec_output(x, 0, first->dtype, &shape, &y);
    if (st) return st;
    int64_t numel = engine_shape_numel(&shape);
    if (count == 1) {
        if (numel > 0)
            memcpy(y->data, first->data, (size_t)numel * engine_dtype_size(first->dtype));
        return STATUS_OK;
    }
    /* float16/bfloat16 accumulate in a float buffer and round once at the
     * end, as ONNX Runtime does; other types fold straight into y. */
    engine_tensor acc = *y;
    if (ct != first->dtype) {
        acc.dtype = ct;
        acc.nbytes = (size_t)numel * engine_dtype_size(ct);
        if (!(acc.data = exec_scratch(x, acc.nbytes + 1)))
            return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    }
    st = ew_binary_apply(x, s->fns[ct], ct, ct, first, exec_input(x, 1), &acc);
    for (int i = 2; i < count && !st; i++)
        st = ew_binary_apply(x, s->fns[ct], ct, ct, &acc, exec_input(x, i), &acc);
    if (!st && s->op->float_only) {
        ew_params p = {.a = 1.0 / count};
        st = ew_unary_apply(x, scale_fns, &acc, &acc, &p);
    }
    if (!st && ct != first->dtype) convert_get(ct, y->dtype)(acc.data, y->data, numel);
    return st;
}

const op_desc op_family_elementwise[] = {
    {.type = "Add", .since = 1, .prepare = arith_prepare, .run = binary_run},
    {.type = "Sub", .since = 1, .prepare = arith_prepare, .run = binary_run},
    {.type = "Mul", .since = 1, .prepare = arith_prepare, .run = binary_run},
    {.type = "Div", .since = 1, .prepare = arith_prepare, .run = binary_run},
    {.type = "Pow", .since = 1, .prepare = arith_prepare, .run = binary_run},
    {.type = "Mod", .since = 10, .prepare = arith_prepare, .run = binary_run},
    {.type = "Max", .since = 1, .prepare = arith_prepare, .run = variadic_run},
    {.type = "Min", .since = 1, .prepare = arith_prepare, .run = variadic_run},
    {.type = "Sum", .since = 1, .prepare = arith_prepare, .run = variadic_run},
    {.type = "Mean", .since = 1, .prepare = arith_prepare, .run = variadic_run},
    {0},
};
