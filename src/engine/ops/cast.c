/* cast.c -- Cast and CastLike.
 *
 * Numeric and bool types convert through kernels/convert.h (saturating
 * float-to-integer, wrapping integer-to-integer, round-to-nearest-even into
 * float16/bfloat16). Strings parse into numbers; numbers into strings are
 * not supported, because a string output would need character storage that
 * outlives the node and the executor's tensors hold only fixed-size
 * elements. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../dtype.h"
#include "../kernels/convert.h"
#include "../op.h"
#include "ew_run.h"

/* Whether Cast from -> to is supported; `to_code` is the ONNX type number
 * as the model gave it, for the message (float8 and int4 have none here). */
static status cast_check(const node *n, errinfo *err, engine_dtype from, int64_t to_code) {
    engine_dtype to = to_code > 0 && to_code < ENGINE_DTYPE__MAX ? (engine_dtype)to_code
                                                                 : ENGINE_UNDEFINED;
    if (from == ENGINE_STRING && convert_supported(to)) return STATUS_OK;
    if (to == ENGINE_STRING)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "casting %s to string is not supported", engine_dtype_name(from));
    if (!convert_supported(from))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "casting from %s is not supported",
                               engine_dtype_name(from));
    if (!convert_supported(to))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "casting to ONNX type %lld is not supported (numeric types, "
                               "bool, float16 and bfloat16 are)", (long long)to_code);
    return STATUS_OK;
}

static status cast_prepare(graph *g, node *n, errinfo *err) {
    const attr *to = node_attr(n, "to");
    if (!to || to->type != ATTR_INT)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "missing integer attribute 'to'");
    status st = cast_check(n, err, node_input_dtype(g, n, 0), to->i);
    if (st) return st;
    node_set_output_dtype(g, n, 0, (engine_dtype)to->i);
    return STATUS_OK;
}

static status castlike_prepare(graph *g, node *n, errinfo *err) {
    if (n->n_inputs != 2)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "expected 2 inputs, got %d",
                               n->n_inputs);
    engine_dtype from = node_input_dtype(g, n, 0), dt = node_input_dtype(g, n, 1);
    status st = cast_check(n, err, from, (int64_t)dt);
    if (st) return st;
    node_set_output_dtype(g, n, 0, dt);
    return STATUS_OK;
}

/* --- numbers ------------------------------------------------------------------ */

typedef struct convert_job {
    convert_fn fn;
    const char *in;
    char *out;
    size_t in_size, out_size;
} convert_job;

static void convert_chunk(void *ctx, int64_t begin, int64_t end) {
    const convert_job *j = ctx;
    j->fn(j->in + begin * (int64_t)j->in_size, j->out + begin * (int64_t)j->out_size,
          end - begin);
}

/* --- strings ------------------------------------------------------------------ */

#define PARSE_BLOCK 256

/* Parses s as a number: into *d for floating targets, *i for integers (an
 * unsigned 64-bit target keeps its bit pattern). 0 on success. */
static int parse_number(const engine_string *s, engine_dtype to, double *d, int64_t *i) {
    char buf[128];
    if (s->len == 0 || s->len >= sizeof buf) return -1;
    memcpy(buf, s->ptr, s->len);
    buf[s->len] = '\0';
    char *end;
    errno = 0;
    if (dtype_is_float(to)) {
        *d = to == ENGINE_FLOAT ? strtof(buf, &end) : strtod(buf, &end);
    } else if (to == ENGINE_UINT64) {
        *i = (int64_t)strtoull(buf, &end, 10);
    } else {
        *i = strtoll(buf, &end, 10);
    }
    while (*end == ' ' || *end == '\t' || *end == '\n') end++;
    return end == buf || *end != '\0' ? -1 : 0;
}

static status cast_from_string(exec_ctx *x, const engine_tensor *a, engine_tensor *y) {
    int floating = dtype_is_float(y->dtype);
    engine_dtype stage = floating ? ENGINE_DOUBLE : ENGINE_INT64;
    if (y->dtype == ENGINE_UINT64) stage = ENGINE_UINT64;
    convert_fn fn = convert_get(stage, y->dtype);
    if (!fn)
        return exec_fail(x, STATUS_INTERNAL, "no conversion to %s", engine_dtype_name(y->dtype));
    const engine_string *s = a->data;
    size_t out_size = engine_dtype_size(y->dtype);
    int64_t n = engine_shape_numel(&a->shape);
    double dbuf[PARSE_BLOCK];
    int64_t ibuf[PARSE_BLOCK];
    for (int64_t b = 0; b < n; b += PARSE_BLOCK) {
        int64_t m = n - b < PARSE_BLOCK ? n - b : PARSE_BLOCK;
        for (int64_t k = 0; k < m; k++) {
            const engine_string *e = &s[b + k];
            if (parse_number(e, y->dtype, &dbuf[k], &ibuf[k]))
                return exec_fail(x, STATUS_INVALID_ARGUMENT,
                                 "element %lld (\"%.*s\") is not a number",
                                 (long long)(b + k), e->len > 40 ? 40 : (int)e->len, e->ptr);
        }
        fn(floating ? (const void *)dbuf : (const void *)ibuf,
           (char *)y->data + b * (int64_t)out_size, m);
    }
    return STATUS_OK;
}

static status cast_run(const node *n, exec_ctx *x) {
    const engine_tensor *a = exec_input(x, 0);
    if (!a) return exec_fail(x, STATUS_INVALID_ARGUMENT, "missing input");
    engine_dtype to;
    if (strcmp(n->op_type, "CastLike") == 0) {
        const engine_tensor *like = exec_input(x, 1);
        if (!like) return exec_fail(x, STATUS_INVALID_ARGUMENT, "missing input 1");
        to = like->dtype;
    } else {
        to = (engine_dtype)node_attr_int(n, "to", 0);
    }
    engine_tensor *y;
    status st = exec_output(x, 0, to, &a->shape, &y);
    if (st) return st;
    if (a->dtype == ENGINE_STRING) return cast_from_string(x, a, y);
    convert_job j = {.fn = convert_get(a->dtype, to), .in = a->data, .out = y->data,
                     .in_size = engine_dtype_size(a->dtype), .out_size = engine_dtype_size(to)};
    if (!j.fn)
        return exec_fail(x, STATUS_UNSUPPORTED, "casting %s to %s is not supported",
                         engine_dtype_name(a->dtype), engine_dtype_name(to));
    ew_parallel(x, engine_shape_numel(&a->shape), EW_GRAIN_CHEAP, convert_chunk, &j);
    return STATUS_OK;
}

const op_desc op_family_cast[] = {
    {.type = "Cast", .since = 6, .prepare = cast_prepare, .run = cast_run},
    {.type = "CastLike", .since = 15, .prepare = castlike_prepare, .run = cast_run},
    {0},
};
