/* subgraph.c -- helpers If, Loop and Scan share (see subgraph.h). */
#include "subgraph.h"

#include <stdlib.h>
#include <string.h>

#include "../dtype.h"
#include "../shape.h"

status subgraph_attr(const node *n, const char *name, const graph **out, errinfo *err) {
    const attr *a = node_attr(n, name);
    if (!a || a->type != ATTR_GRAPH || !a->g)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "missing graph attribute '%s'",
                               name);
    *out = a->g;
    return STATUS_OK;
}

engine_dtype subgraph_output_dtype(const graph *g, int i) {
    if (i < 0 || i >= g->n_outputs) return ENGINE_UNDEFINED;
    const value *v = &g->values[g->outputs[i]];
    return v->dtype != ENGINE_UNDEFINED ? v->dtype : v->decl.dtype;
}

/* --- carried values --------------------------------------------------------- */

status subgraph_carry_init(exec_ctx *x, subgraph_carry *c, const engine_tensor *const *src,
                           int n) {
    c->n = n;
    c->t = exec_scratch(x, sizeof *c->t * (size_t)(n ? n : 1));
    c->owned = exec_scratch(x, (size_t)(n ? n : 1));
    if (!c->t || !c->owned) {
        c->n = 0;
        return exec_fail(x, STATUS_NO_MEMORY, "out of memory for loop state");
    }
    memset(c->owned, 0, (size_t)n);
    subgraph_carry_borrow(c, src);
    return STATUS_OK;
}

void subgraph_carry_borrow(subgraph_carry *c, const engine_tensor *const *src) {
    for (int i = 0; i < c->n; i++) {
        if (c->owned[i]) engine_tensor_release(&c->t[i]);
        c->t[i] = *src[i];
        c->owned[i] = 0;
    }
}

void subgraph_carry_take(subgraph_carry *c, int i, engine_tensor *t) {
    if (c->owned[i]) engine_tensor_release(&c->t[i]);
    c->t[i] = *t;
    c->owned[i] = 1;
    memset(t, 0, sizeof *t);
}

void subgraph_carry_release(subgraph_carry *c) {
    for (int i = 0; i < c->n; i++) {
        if (c->owned[i]) engine_tensor_release(&c->t[i]);
        c->owned[i] = 0;
    }
}

/* --- stacks of per-iteration values ----------------------------------------- */

static size_t tensor_bytes(const engine_tensor *t) {
    int64_t n = engine_shape_numel(&t->shape);
    return n < 0 ? 0 : (size_t)n * engine_dtype_size(t->dtype);
}

static status stack_reserve(exec_ctx *x, subgraph_stack *s, size_t need) {
    if (need <= s->cap) return STATUS_OK;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) return exec_fail(x, STATUS_NO_MEMORY, "scan output too large");
        cap *= 2;
    }
    unsigned char *p = realloc(s->data, cap);
    if (!p) return exec_fail(x, STATUS_NO_MEMORY, "out of memory stacking scan outputs");
    s->data = p;
    s->cap = cap;
    return STATUS_OK;
}

status subgraph_stack_push(exec_ctx *x, subgraph_stack *s, const engine_tensor *t,
                           const char *what, int index) {
    char a[96], b[96];
    if (t->dtype == ENGINE_STRING)
        return exec_fail(x, STATUS_UNSUPPORTED, "%s %d: string tensors are not supported",
                         what, index);
    if (s->count == 0) {
        if (t->shape.rank >= ENGINE_MAX_RANK)
            return exec_fail(x, STATUS_UNSUPPORTED, "%s %d has rank %d, at most %d supported",
                             what, index, t->shape.rank, ENGINE_MAX_RANK - 1);
        s->dtype = t->dtype;
        s->slice = t->shape;
        s->slice_bytes = tensor_bytes(t);
    } else if (t->dtype != s->dtype || !shape_equal(&t->shape, &s->slice)) {
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "%s %d is %s %s in iteration %lld but was %s %s before; every "
                         "iteration must give the same type and shape", what, index,
                         engine_dtype_name(t->dtype), shape_format(&t->shape, a, sizeof a),
                         (long long)s->count, engine_dtype_name(s->dtype),
                         shape_format(&s->slice, b, sizeof b));
    }
    size_t used = (size_t)s->count * s->slice_bytes;
    status st = stack_reserve(x, s, used + s->slice_bytes);
    if (st) return st;
    if (s->slice_bytes) memcpy(s->data + used, t->data, s->slice_bytes);
    s->count++;
    return STATUS_OK;
}

engine_shape subgraph_declared_shape(const graph *body, int i) {
    engine_shape sh = {0};
    if (i < 0 || i >= body->n_outputs) return sh;
    const engine_io_info *d = &body->values[body->outputs[i]].decl;
    if (d->rank < 0 || d->rank >= ENGINE_MAX_RANK) return sh;
    sh.rank = d->rank;
    for (int k = 0; k < d->rank; k++) sh.dims[k] = d->dims[k] < 0 ? 0 : d->dims[k];
    return sh;
}

status subgraph_stack_emit(exec_ctx *x, const subgraph_stack *s, int k, int64_t axis,
                           int reverse, const graph *body, int body_output,
                           engine_dtype dtype) {
    if (!exec_output_wanted(x, k)) return STATUS_OK;
    if (s->count && dtype != ENGINE_UNDEFINED && s->dtype != dtype)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "output %d is %s, the model declares %s",
                         k, engine_dtype_name(s->dtype), engine_dtype_name(dtype));
    engine_shape slice = s->count ? s->slice : subgraph_declared_shape(body, body_output);
    engine_dtype dt = s->count ? s->dtype : dtype;
    int a = shape_normalize_axis(axis, slice.rank + 1);
    if (a < 0)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "scan output axis %lld is out of range for rank %d", (long long)axis,
                         slice.rank + 1);
    engine_shape out = {.rank = slice.rank + 1};
    for (int i = 0, j = 0; i < out.rank; i++) out.dims[i] = i == a ? s->count : slice.dims[j++];
    engine_tensor *y;
    status st = exec_output(x, k, dt, &out, &y);
    if (st || s->count == 0) return st;
    /* [count, outer, inner] -> [outer, count, inner] */
    const int64_t outer = shape_span(&slice, 0, a);
    const size_t inner = (size_t)shape_span(&slice, a, slice.rank) * engine_dtype_size(dt);
    unsigned char *dst = y->data;
    for (int64_t i = 0; i < s->count; i++) {
        const unsigned char *src = s->data + (size_t)i * s->slice_bytes;
        int64_t pos = reverse ? s->count - 1 - i : i;
        for (int64_t o = 0; o < outer; o++)
            memcpy(dst + ((size_t)(o * s->count + pos)) * inner, src + (size_t)o * inner, inner);
    }
    return STATUS_OK;
}

void subgraph_stack_free(subgraph_stack *s) {
    if (!s) return;
    free(s->data);
    memset(s, 0, sizeof *s);
}

/* --- results ------------------------------------------------------------------ */

status subgraph_emit(exec_ctx *x, int k, const engine_tensor *t) {
    if (!exec_output_wanted(x, k)) return STATUS_OK;
    if (t->dtype == ENGINE_STRING)
        return exec_fail(x, STATUS_UNSUPPORTED, "output %d: string tensors are not supported",
                         k);
    engine_tensor *y;
    status st = exec_output(x, k, t->dtype, &t->shape, &y);
    if (st) return st;
    size_t bytes = tensor_bytes(t);
    if (bytes) memcpy(y->data, t->data, bytes);
    return STATUS_OK;
}

void subgraph_release(engine_tensor *outputs, int n) {
    for (int i = 0; i < n; i++) engine_tensor_release(&outputs[i]);
}

engine_tensor subgraph_scalar(engine_dtype dt, void *data) {
    return (engine_tensor){.dtype = dt, .shape = {0}, .data = data,
                           .nbytes = engine_dtype_size(dt)};
}

status subgraph_read_bool(exec_ctx *x, const engine_tensor *t, const char *what, int *out) {
    if (engine_shape_numel(&t->shape) != 1 || engine_dtype_size(t->dtype) == 0 ||
        t->dtype == ENGINE_STRING) {
        char buf[96];
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "%s is %s %s, expected a single bool", what,
                         engine_dtype_name(t->dtype), shape_format(&t->shape, buf, sizeof buf));
    }
    *out = dtype_load_double(t->dtype, t->data, 0) != 0;
    return STATUS_OK;
}
