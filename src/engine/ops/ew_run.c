/* ew_run.c -- staging, broadcasting and threading for elementwise kernels. */
#include "ew_run.h"

#include "../dtype.h"
#include "../kernels/broadcast.h"
#include "../kernels/convert.h"
#include "../shape.h"

/* Staged work goes through stack buffers of this many elements. */
#define EW_BLOCK 512

static int is_half(engine_dtype dt) {
    return dt == ENGINE_FLOAT16 || dt == ENGINE_BFLOAT16;
}

static int in_table(engine_dtype dt) {
    return dt > ENGINE_UNDEFINED && dt < ENGINE_DTYPE__MAX;
}

engine_dtype ew_unary_compute_type(const ew_unary_fn *fns, engine_dtype dt) {
    if (!in_table(dt)) return ENGINE_UNDEFINED;
    if (fns[dt]) return dt;
    if (is_half(dt) && fns[ENGINE_FLOAT]) return ENGINE_FLOAT;
    if ((dtype_is_int(dt) || dt == ENGINE_BOOL) && fns[ENGINE_DOUBLE]) return ENGINE_DOUBLE;
    return ENGINE_UNDEFINED;
}

engine_dtype ew_binary_compute_type(const ew_binary_fn *fns, engine_dtype dt) {
    if (!in_table(dt)) return ENGINE_UNDEFINED;
    if (fns[dt]) return dt;
    if (is_half(dt) && fns[ENGINE_FLOAT]) return ENGINE_FLOAT;
    return ENGINE_UNDEFINED;
}

void ew_parallel(const exec_ctx *x, int64_t n, int64_t grain,
                 void (*fn)(void *ctx, int64_t begin, int64_t end), void *ctx) {
    if (n <= 0) return;
    if (n < 2 * grain || exec_threads(x) <= 1) fn(ctx, 0, n);
    else exec_parallel_for(x, n, fn, ctx);
}

/* --- unary ------------------------------------------------------------------- */

typedef struct unary_job {
    ew_unary_fn fn;
    const ew_params *p;
    const char *in;
    char *out;
    size_t in_size, out_size;
    convert_fn to_ct, from_ct;  /* NULL when no staging is needed */
} unary_job;

static void unary_chunk(void *ctx, int64_t begin, int64_t end) {
    const unary_job *j = ctx;
    if (!j->to_ct) {
        j->fn(j->out + begin * j->out_size, j->in + begin * j->in_size, end - begin, j->p);
        return;
    }
    double bin[EW_BLOCK], bout[EW_BLOCK];
    for (int64_t i = begin; i < end; i += EW_BLOCK) {
        int64_t m = end - i < EW_BLOCK ? end - i : EW_BLOCK;
        j->to_ct(j->in + i * j->in_size, bin, m);
        if (j->from_ct) {
            j->fn(bout, bin, m, j->p);
            j->from_ct(bout, j->out + i * j->out_size, m);
        } else {
            j->fn(j->out + i * j->out_size, bin, m, j->p);
        }
    }
}

status ew_unary_apply(exec_ctx *x, const ew_unary_fn *fns, const engine_tensor *in,
                      engine_tensor *out, const ew_params *p) {
    engine_dtype ct = ew_unary_compute_type(fns, in->dtype);
    if (ct == ENGINE_UNDEFINED)
        return exec_fail(x, STATUS_UNSUPPORTED, "input type %s is not supported",
                         engine_dtype_name(in->dtype));
    unary_job j = {.fn = fns[ct], .p = p, .in = in->data, .out = out->data,
                   .in_size = engine_dtype_size(in->dtype),
                   .out_size = engine_dtype_size(out->dtype)};
    if (ct != in->dtype) {
        j.to_ct = convert_get(in->dtype, ct);
        /* Same-typed ops write the compute type and convert back; others
         * (bool results) are written directly. */
        if (out->dtype == in->dtype) j.from_ct = convert_get(ct, out->dtype);
        if (!j.to_ct || (out->dtype == in->dtype && !j.from_ct))
            return exec_fail(x, STATUS_INTERNAL, "no conversion for %s",
                             engine_dtype_name(in->dtype));
    }
    int64_t n = engine_shape_numel(&in->shape);
    ew_parallel(x, n, EW_GRAIN_UNARY, unary_chunk, &j);
    return STATUS_OK;
}

/* --- binary ------------------------------------------------------------------ */

typedef struct binary_job {
    bcast_plan plan;
    ew_binary_fn fn;
    const char *a, *b;
    char *out;
    size_t a_size, b_size, out_size;
    convert_fn a_to_ct, b_to_ct, ct_to_out; /* NULL when not needed */
} binary_job;

/* Staged row: convert operand blocks into stack buffers (a scalar operand
 * converts one element), compute, convert the result back. */
static void binary_row_staged(const binary_job *j, int64_t o, const int64_t *off,
                              const int64_t *inner, int64_t n) {
    double ba[EW_BLOCK], bb[EW_BLOCK], bo[EW_BLOCK];
    int sa = (int)inner[0], sb = (int)inner[1];
    for (int64_t i = 0; i < n; i += EW_BLOCK) {
        int64_t m = n - i < EW_BLOCK ? n - i : EW_BLOCK;
        const char *pa = j->a + (off[0] + i * sa) * (int64_t)j->a_size;
        const char *pb = j->b + (off[1] + i * sb) * (int64_t)j->b_size;
        if (j->a_to_ct) { j->a_to_ct(pa, ba, sa ? m : 1); pa = (const char *)ba; }
        if (j->b_to_ct) { j->b_to_ct(pb, bb, sb ? m : 1); pb = (const char *)bb; }
        char *po = j->out + (o + i) * (int64_t)j->out_size;
        if (j->ct_to_out) {
            j->fn(bo, pa, pb, m, sa, sb);
            j->ct_to_out(bo, po, m);
        } else {
            j->fn(po, pa, pb, m, sa, sb);
        }
    }
}

static void binary_row(void *ctx, int64_t o, const int64_t *off, const int64_t *inner,
                       int64_t n) {
    const binary_job *j = ctx;
    if (j->a_to_ct || j->b_to_ct || j->ct_to_out) {
        binary_row_staged(j, o, off, inner, n);
        return;
    }
    j->fn(j->out + o * (int64_t)j->out_size, j->a + off[0] * (int64_t)j->a_size,
          j->b + off[1] * (int64_t)j->b_size, n, (int)inner[0], (int)inner[1]);
}

static void binary_chunk(void *ctx, int64_t begin, int64_t end) {
    binary_job *j = ctx;
    bcast_walk(&j->plan, begin, end, binary_row, j);
}

status ew_broadcast_output(exec_ctx *x, int k, const engine_tensor *a, const engine_tensor *b,
                           engine_dtype dt, engine_tensor **out) {
    engine_shape s;
    if (shape_broadcast(&a->shape, &b->shape, &s)) {
        char sa[128], sb[128];
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "input shapes %s and %s do not broadcast",
                         shape_format(&a->shape, sa, sizeof sa),
                         shape_format(&b->shape, sb, sizeof sb));
    }
    return exec_output(x, k, dt, &s, out);
}

/* The converter from `from` to `to`, or NULL when they are the same. */
static int stage(engine_dtype from, engine_dtype to, convert_fn *f) {
    *f = NULL;
    if (from == to) return 0;
    *f = convert_get(from, to);
    return *f ? 0 : -1;
}

status ew_binary_apply(exec_ctx *x, ew_binary_fn fn, engine_dtype ct_in, engine_dtype ct_out,
                       const engine_tensor *a, const engine_tensor *b, engine_tensor *out) {
    binary_job j = {.fn = fn, .a = a->data, .b = b->data, .out = out->data,
                    .a_size = engine_dtype_size(a->dtype),
                    .b_size = engine_dtype_size(b->dtype),
                    .out_size = engine_dtype_size(out->dtype)};
    if (!fn || stage(a->dtype, ct_in, &j.a_to_ct) || stage(b->dtype, ct_in, &j.b_to_ct) ||
        stage(ct_out, out->dtype, &j.ct_to_out))
        return exec_fail(x, STATUS_UNSUPPORTED, "inputs of types %s and %s are not supported",
                         engine_dtype_name(a->dtype), engine_dtype_name(b->dtype));
    const engine_shape *shapes[2] = {&a->shape, &b->shape};
    if (bcast_plan_init(&j.plan, &out->shape, shapes, 2)) {
        char sa[128], sb[128];
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "input shapes %s and %s do not broadcast",
                         shape_format(&a->shape, sa, sizeof sa),
                         shape_format(&b->shape, sb, sizeof sb));
    }
    ew_parallel(x, j.plan.numel, EW_GRAIN_CHEAP, binary_chunk, &j);
    return STATUS_OK;
}
