/* logical.c -- comparisons, boolean logic, bitwise ops, Where, IsNaN, IsInf.
 *
 * Comparisons take any numeric type and produce bool (float16/bfloat16
 * compare in float); And/Or/Xor/Not take bool; the bitwise ops and BitShift
 * take integers. Booleans are bytes holding 0 or 1; inputs holding other
 * non-zero bytes are read as true. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../dtype.h"
#include "../kernels/broadcast.h"
#include "../op.h"
#include "../shape.h"
#include "ew_types.h"

/* --- kernels ----------------------------------------------------------------- */

#define EXPR_eq(T, UT) (uint8_t)(x == y)
#define EXPR_lt(T, UT) (uint8_t)(x < y)
#define EXPR_le(T, UT) (uint8_t)(x <= y)
#define EXPR_gt(T, UT) (uint8_t)(x > y)
#define EXPR_ge(T, UT) (uint8_t)(x >= y)
#define EXPR_and(T, UT) (uint8_t)((x != 0) & (y != 0))
#define EXPR_or(T, UT) (uint8_t)((x != 0) | (y != 0))
#define EXPR_xor(T, UT) (uint8_t)((x != 0) ^ (y != 0))
#define EXPR_band(T, UT) (T)(x & y)
#define EXPR_bor(T, UT) (T)(x | y)
#define EXPR_bxor(T, UT) (T)(x ^ y)
/* Shifting by the width or more is undefined in C; ONNX Runtime gives 0. */
#define EXPR_shl(T, UT) (T)((uint64_t)y >= sizeof(T) * 8 ? 0 : (UT)x << y)
#define EXPR_shr(T, UT) (T)((uint64_t)y >= sizeof(T) * 8 ? 0 : x >> y)

#define PREDICATE_KERNELS(OP) EW_NUMERIC(EW_GEN_PREDICATE, OP)
PREDICATE_KERNELS(eq)
PREDICATE_KERNELS(lt)
PREDICATE_KERNELS(le)
PREDICATE_KERNELS(gt)
PREDICATE_KERNELS(ge)
EW_BOOL(EW_GEN_PREDICATE, eq)
EW_BOOL(EW_GEN_PREDICATE, and)
EW_BOOL(EW_GEN_PREDICATE, or)
EW_BOOL(EW_GEN_PREDICATE, xor)
EW_INT(EW_GEN_BINARY, band)
EW_INT(EW_GEN_BINARY, bor)
EW_INT(EW_GEN_BINARY, bxor)
EW_UINT(EW_GEN_BINARY, shl)
EW_UINT(EW_GEN_BINARY, shr)

static const ew_binary_fn eq_fns[ENGINE_DTYPE__MAX] = {
    EW_NUMERIC(EW_GEN_ENTRY, eq) EW_BOOL(EW_GEN_ENTRY, eq)};
static const ew_binary_fn lt_fns[ENGINE_DTYPE__MAX] = {EW_NUMERIC(EW_GEN_ENTRY, lt)};
static const ew_binary_fn le_fns[ENGINE_DTYPE__MAX] = {EW_NUMERIC(EW_GEN_ENTRY, le)};
static const ew_binary_fn gt_fns[ENGINE_DTYPE__MAX] = {EW_NUMERIC(EW_GEN_ENTRY, gt)};
static const ew_binary_fn ge_fns[ENGINE_DTYPE__MAX] = {EW_NUMERIC(EW_GEN_ENTRY, ge)};
static const ew_binary_fn and_fns[ENGINE_DTYPE__MAX] = {EW_BOOL(EW_GEN_ENTRY, and)};
static const ew_binary_fn or_fns[ENGINE_DTYPE__MAX] = {EW_BOOL(EW_GEN_ENTRY, or)};
static const ew_binary_fn xor_fns[ENGINE_DTYPE__MAX] = {EW_BOOL(EW_GEN_ENTRY, xor)};
static const ew_binary_fn band_fns[ENGINE_DTYPE__MAX] = {EW_INT(EW_GEN_ENTRY, band)};
static const ew_binary_fn bor_fns[ENGINE_DTYPE__MAX] = {EW_INT(EW_GEN_ENTRY, bor)};
static const ew_binary_fn bxor_fns[ENGINE_DTYPE__MAX] = {EW_INT(EW_GEN_ENTRY, bxor)};
static const ew_binary_fn shl_fns[ENGINE_DTYPE__MAX] = {EW_UINT(EW_GEN_ENTRY, shl)};
static const ew_binary_fn shr_fns[ENGINE_DTYPE__MAX] = {EW_UINT(EW_GEN_ENTRY, shr)};

#define EXPR_not(T, UT) (uint8_t)(x == 0)
#define EXPR_bnot(T, UT) (T)~x
#define EXPR_isnan(T, UT) (uint8_t)(x != x)
#define EXPR_isinf(T, UT) \
    (uint8_t)((P.a != 0 && x == (T)HUGE_VAL) || (P.b != 0 && x == -(T)HUGE_VAL))
#define GEN_TO_BOOL(OP, DT, SUF, T, UT) \
    EW_UNARY_KERNEL(EW_CLONES_##SUF, OP##_##SUF, T, uint8_t, EXPR_##OP(T, UT))
EW_BOOL(GEN_TO_BOOL, not)
EW_INT(EW_GEN_UNARY, bnot)
EW_FLOAT(GEN_TO_BOOL, isnan)
EW_FLOAT(GEN_TO_BOOL, isinf)

static const ew_unary_fn not_fns[ENGINE_DTYPE__MAX] = {EW_BOOL(EW_GEN_ENTRY, not)};
static const ew_unary_fn bnot_fns[ENGINE_DTYPE__MAX] = {EW_INT(EW_GEN_ENTRY, bnot)};
static const ew_unary_fn isnan_fns[ENGINE_DTYPE__MAX] = {EW_FLOAT(EW_GEN_ENTRY, isnan)};
static const ew_unary_fn isinf_fns[ENGINE_DTYPE__MAX] = {EW_FLOAT(EW_GEN_ENTRY, isinf)};

/* --- binary ops ---------------------------------------------------------------- */

typedef struct logic_op {
    const char *type;
    const ew_binary_fn *fns;
    int to_bool;    /* result is bool (else the input type) */
} logic_op;

static const logic_op logic_ops[] = {
    {"Equal", eq_fns, 1},          {"Less", lt_fns, 1},        {"LessOrEqual", le_fns, 1},
    {"Greater", gt_fns, 1},        {"GreaterOrEqual", ge_fns, 1},
    {"And", and_fns, 1},           {"Or", or_fns, 1},          {"Xor", xor_fns, 1},
    {"BitwiseAnd", band_fns, 0},   {"BitwiseOr", bor_fns, 0},  {"BitwiseXor", bxor_fns, 0},
    {"BitShift", shl_fns, 0},
};

typedef struct logic_state {
    const ew_binary_fn *fns;
    int to_bool;
} logic_state;

static status logic_prepare(graph *g, node *n, errinfo *err) {
    const logic_op *op = NULL;
    for (size_t i = 0; i < sizeof logic_ops / sizeof logic_ops[0]; i++)
        if (strcmp(logic_ops[i].type, n->op_type) == 0) op = &logic_ops[i];
    if (!op) return op_prepare_fail(n, err, STATUS_INTERNAL, "no kernels for this op");
    if (n->n_inputs != 2)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "expected 2 inputs, got %d",
                               n->n_inputs);
    const ew_binary_fn *fns = op->fns;
    if (fns == shl_fns) {
        const char *dir = node_attr_string(n, "direction", "");
        if (strcmp(dir, "RIGHT") == 0) fns = shr_fns;
        else if (strcmp(dir, "LEFT") != 0)
            return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                                   "direction is '%s', expected LEFT or RIGHT", dir);
    }
    engine_dtype a = node_input_dtype(g, n, 0), b = node_input_dtype(g, n, 1);
    if (ew_binary_compute_type(fns, a) == ENGINE_UNDEFINED)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "input type %s is not supported",
                               engine_dtype_name(a));
    if (a != b)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "inputs have types %s and %s",
                               engine_dtype_name(a), engine_dtype_name(b));
    logic_state *s = malloc(sizeof *s);
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    s->fns = fns;
    s->to_bool = op->to_bool;
    n->state = s;
    node_set_output_dtype(g, n, 0, op->to_bool ? ENGINE_BOOL : a);
    return STATUS_OK;
}

static status logic_run(const node *n, exec_ctx *x) {
    const logic_state *s = n->state;
    const engine_tensor *a = exec_input(x, 0), *b = exec_input(x, 1);
    if (!a || !b) return exec_fail(x, STATUS_INVALID_ARGUMENT, "missing input");
    if (a->dtype != b->dtype)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "inputs have types %s and %s",
                         engine_dtype_name(a->dtype), engine_dtype_name(b->dtype));
    engine_dtype ct = ew_binary_compute_type(s->fns, a->dtype);
    if (ct == ENGINE_UNDEFINED)
        return exec_fail(x, STATUS_UNSUPPORTED, "input type %s is not supported",
                         engine_dtype_name(a->dtype));
    engine_dtype out_dt = s->to_bool ? ENGINE_BOOL : a->dtype;
    engine_tensor *y;
    status st = ew_broadcast_output(x, 0, a, b, out_dt, &y);
    if (st) return st;
    return ew_binary_apply(x, s->fns[ct], ct, s->to_bool ? ENGINE_BOOL : ct, a, b, y);
}

/* --- unary ops ----------------------------------------------------------------- */

static const ew_unary_fn *unary_fns(const char *type) {
    if (strcmp(type, "Not") == 0) return not_fns;
    if (strcmp(type, "BitwiseNot") == 0) return bnot_fns;
    if (strcmp(type, "IsNaN") == 0) return isnan_fns;
    if (strcmp(type, "IsInf") == 0) return isinf_fns;
    return NULL;
}

typedef struct unary_state {
    const ew_unary_fn *fns;
    ew_params p;
} unary_state;

static status unary_prepare(graph *g, node *n, errinfo *err) {
    const ew_unary_fn *fns = unary_fns(n->op_type);
    if (!fns) return op_prepare_fail(n, err, STATUS_INTERNAL, "no kernels for this op");
    engine_dtype dt = node_input_dtype(g, n, 0);
    /* Only floating kernels may stage through float; integers would go
     * through double, which these ops do not want. */
    engine_dtype ct = ew_unary_compute_type(fns, dt);
    if (ct == ENGINE_UNDEFINED || (ct != dt && !dtype_is_float(dt)))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "input type %s is not supported",
                               engine_dtype_name(dt));
    unary_state *s = malloc(sizeof *s);
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    s->fns = fns;
    s->p = (ew_params){.a = (double)node_attr_int(n, "detect_positive", 1),
                       .b = (double)node_attr_int(n, "detect_negative", 1)};
    n->state = s;
    node_set_output_dtype(g, n, 0, fns == bnot_fns ? dt : ENGINE_BOOL);
    return STATUS_OK;
}

static status unary_run(const node *n, exec_ctx *x) {
    const unary_state *s = n->state;
    const engine_tensor *a = exec_input(x, 0);
    if (!a) return exec_fail(x, STATUS_INVALID_ARGUMENT, "missing input");
    engine_tensor *y;
    status st = exec_output(x, 0, s->fns == bnot_fns ? a->dtype : ENGINE_BOOL, &a->shape, &y);
    if (st) return st;
    return ew_unary_apply(x, s->fns, a, y, &s->p);
}

/* --- Where ---------------------------------------------------------------------- */

typedef struct where_job {
    bcast_plan plan;
    const uint8_t *c;
    const char *a, *b;
    char *out;
    size_t size;
} where_job;

/* Selection by element size: the values are only copied. */
#define WHERE_ROW(T)                                                           \
    static void where_row_##T(const where_job *j, int64_t o, const int64_t *off, \
                              const int64_t *inner, int64_t n) {               \
        const uint8_t *c = j->c + off[0];                                      \
        const T *a = (const T *)j->a + off[1], *b = (const T *)j->b + off[2];  \
        T *y = (T *)j->out + o;                                                \
        int64_t sc = inner[0], sa = inner[1], sb = inner[2];                   \
        for (int64_t i = 0; i < n; i++) y[i] = c[i * sc] ? a[i * sa] : b[i * sb]; \
    }
WHERE_ROW(uint8_t)
WHERE_ROW(uint16_t)
WHERE_ROW(uint32_t)
WHERE_ROW(uint64_t)

static void where_row(void *ctx, int64_t o, const int64_t *off, const int64_t *inner,
                      int64_t n) {
    const where_job *j = ctx;
    switch (j->size) {
    case 1: where_row_uint8_t(j, o, off, inner, n); break;
    case 2: where_row_uint16_t(j, o, off, inner, n); break;
    case 4: where_row_uint32_t(j, o, off, inner, n); break;
    default: where_row_uint64_t(j, o, off, inner, n); break;
    }
}

static void where_chunk(void *ctx, int64_t begin, int64_t end) {
    where_job *j = ctx;
    bcast_walk(&j->plan, begin, end, where_row, j);
}

static int where_type_ok(engine_dtype dt) {
    size_t sz = engine_dtype_size(dt);
    return dt != ENGINE_STRING && (sz == 1 || sz == 2 || sz == 4 || sz == 8);
}

static status where_prepare(graph *g, node *n, errinfo *err) {
    if (n->n_inputs != 3)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "expected 3 inputs, got %d",
                               n->n_inputs);
    engine_dtype c = node_input_dtype(g, n, 0);
    engine_dtype a = node_input_dtype(g, n, 1), b = node_input_dtype(g, n, 2);
    if (c != ENGINE_BOOL)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "condition has type %s, expected bool", engine_dtype_name(c));
    if (!where_type_ok(a))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "input type %s is not supported",
                               engine_dtype_name(a));
    if (a != b)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "X has type %s but Y has %s",
                               engine_dtype_name(a), engine_dtype_name(b));
    node_set_output_dtype(g, n, 0, a);
    return STATUS_OK;
}

static status where_run(const node *n, exec_ctx *x) {
    (void)n;
    const engine_tensor *c = exec_input(x, 0), *a = exec_input(x, 1), *b = exec_input(x, 2);
    if (!c || !a || !b) return exec_fail(x, STATUS_INVALID_ARGUMENT, "missing input");
    if (c->dtype != ENGINE_BOOL || a->dtype != b->dtype || !where_type_ok(a->dtype))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "inputs have types %s, %s, %s",
                         engine_dtype_name(c->dtype), engine_dtype_name(a->dtype),
                         engine_dtype_name(b->dtype));
    engine_shape s;
    if (shape_broadcast(&c->shape, &a->shape, &s) || shape_broadcast(&s, &b->shape, &s)) {
        char sc[128], sa[128], sb[128];
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "shapes %s, %s and %s do not broadcast",
                         shape_format(&c->shape, sc, sizeof sc),
                         shape_format(&a->shape, sa, sizeof sa),
                         shape_format(&b->shape, sb, sizeof sb));
    }
    engine_tensor *y;
    status st = exec_output(x, 0, a->dtype, &s, &y);
    if (st) return st;
    where_job j = {.c = c->data, .a = a->data, .b = b->data, .out = y->data,
                   .size = engine_dtype_size(a->dtype)};
    const engine_shape *shapes[3] = {&c->shape, &a->shape, &b->shape};
    if (bcast_plan_init(&j.plan, &s, shapes, 3))
        return exec_fail(x, STATUS_INTERNAL, "broadcast plan failed");
    ew_parallel(x, j.plan.numel, EW_GRAIN_CHEAP, where_chunk, &j);
    return STATUS_OK;
}

const op_desc op_family_logical[] = {
    {.type = "Equal", .since = 7, .prepare = logic_prepare, .run = logic_run},
    {.type = "Less", .since = 7, .prepare = logic_prepare, .run = logic_run},
    {.type = "LessOrEqual", .since = 12, .prepare = logic_prepare, .run = logic_run},
    {.type = "Greater", .since = 7, .prepare = logic_prepare, .run = logic_run},
    {.type = "GreaterOrEqual", .since = 12, .prepare = logic_prepare, .run = logic_run},
    {.type = "And", .since = 7, .prepare = logic_prepare, .run = logic_run},
    {.type = "Or", .since = 7, .prepare = logic_prepare, .run = logic_run},
    {.type = "Xor", .since = 7, .prepare = logic_prepare, .run = logic_run},
    {.type = "BitwiseAnd", .since = 18, .prepare = logic_prepare, .run = logic_run},
    {.type = "BitwiseOr", .since = 18, .prepare = logic_prepare, .run = logic_run},
    {.type = "BitwiseXor", .since = 18, .prepare = logic_prepare, .run = logic_run},
    {.type = "BitShift", .since = 11, .prepare = logic_prepare, .run = logic_run},
    {.type = "Not", .since = 1, .prepare = unary_prepare, .run = unary_run},
    {.type = "BitwiseNot", .since = 18, .prepare = unary_prepare, .run = unary_run},
    {.type = "IsNaN", .since = 9, .prepare = unary_prepare, .run = unary_run},
    {.type = "IsInf", .since = 10, .prepare = unary_prepare, .run = unary_run},
    {.type = "Where", .since = 9, .prepare = where_prepare, .run = where_run},
    {0},
};
