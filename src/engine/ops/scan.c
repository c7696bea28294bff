/* scan.c -- Scan: opset 8 (batched, with sequence_lens) and 9+ (scan axes
 * and directions per input and output).
 *
 * The body maps (state[N], slice[M]) -> (state[N], scan_out[K]); each
 * iteration takes slice t of every scan input, and the per-iteration scan
 * outputs are stacked along a new axis. Scan-8 tensors have a leading batch
 * axis, the scan axis is 1, and each batch entry runs its own sequence
 * (scan outputs past a shorter sequence are zero). */
#include <stdlib.h>
#include <string.h>

#include "../dtype.h"
#include "../op.h"
#include "../shape.h"
#include "subgraph.h"

typedef struct scan_state {
    const graph *body;
    int n_state, n_in, n_out;        /* N, M, K */
    int batched;                     /* Scan-8 */
    const int64_t *in_axes, *in_dirs, *out_axes, *out_dirs;
    engine_dtype *dtypes;            /* node outputs: N states then K scans */
    int64_t storage[];
} scan_state;

/* Reads an ints attribute of `count` values (absent: all zero). */
static status read_ints(const node *n, const char *name, int count, int64_t *dst,
                        int dirs, errinfo *err) {
    const int64_t *v;
    int len = node_attr_ints(n, name, &v);
    if (len < 0) return STATUS_OK;
    if (len != count)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "%s has %d values, expected %d",
                               name, len, count);
    for (int i = 0; i < count; i++) {
        if (dirs && v[i] != 0 && v[i] != 1)
            return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                                   "%s[%d] is %lld, expected 0 (forward) or 1 (reverse)", name,
                                   i, (long long)v[i]);
        dst[i] = v[i];
    }
    return STATUS_OK;
}

static status read_attrs(const node *n, scan_state *s, int64_t *st, errinfo *err) {
    const int M = s->n_in, K = s->n_out;
    s->in_axes = st;
    s->in_dirs = st + M;
    s->out_axes = st + 2 * M;
    s->out_dirs = st + 2 * M + K;
    if (s->batched) return read_ints(n, "directions", M, st + M, 1, err);
    status e;
    if ((e = read_ints(n, "scan_input_axes", M, st, 0, err)) ||
        (e = read_ints(n, "scan_input_directions", M, st + M, 1, err)) ||
        (e = read_ints(n, "scan_output_axes", K, st + 2 * M, 0, err)) ||
        (e = read_ints(n, "scan_output_directions", K, st + 2 * M + K, 1, err)))
        return e;
    return STATUS_OK;
}

static status set_dtypes(graph *g, node *n, scan_state *s, int first, errinfo *err) {
    for (int k = 0; k < s->n_state + s->n_out; k++) {
        engine_dtype dt = subgraph_output_dtype(s->body, k);
        if (dt == ENGINE_UNDEFINED && k < s->n_state) dt = node_input_dtype(g, n, first + k);
        if (dt == ENGINE_UNDEFINED || dt == ENGINE_STRING)
            return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                                   "output %d has no supported tensor type", k);
        s->dtypes[k] = dt;
        if (k < n->n_outputs) node_set_output_dtype(g, n, k, dt);
    }
    return STATUS_OK;
}

static status scan_prepare(graph *g, node *n, errinfo *err) {
    const graph *body;
    status st = subgraph_attr(n, "body", &body, err);
    if (st) return st;
    const int batched = n->opset < 9, first = batched ? 1 : 0;
    const int64_t m = node_attr_int(n, "num_scan_inputs", 0);
    const int N = n->n_inputs - first - (int)m, K = body->n_outputs - N;
    if (m < 1 || m > n->n_inputs - first || N < 0 || K < 0 || body->n_inputs != N + (int)m ||
        n->n_outputs > N + K)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "num_scan_inputs %lld with %d inputs, %d outputs and a body of "
                               "%d inputs, %d outputs: expected body inputs = states + scan "
                               "inputs and body outputs = states + scan outputs",
                               (long long)m, n->n_inputs, n->n_outputs, body->n_inputs,
                               body->n_outputs);
    const int M = (int)m;
    size_t words = (size_t)(2 * M + 2 * K) + ((size_t)(N + K) * sizeof(engine_dtype) + 7) / 8;
    scan_state *s = calloc(1, sizeof *s + words * sizeof(int64_t));
    if (!s) return status_fail(err, STATUS_NO_MEMORY, "out of memory preparing Scan");
    *s = (scan_state){.body = body, .n_state = N, .n_in = M, .n_out = K, .batched = batched};
    s->dtypes = (engine_dtype *)(s->storage + 2 * M + 2 * K);
    if ((st = read_attrs(n, s, s->storage, err)) || (st = set_dtypes(g, n, s, first, err))) {
        free(s);
        return st;
    }
    n->state = s;
    return STATUS_OK;
}

/* --- slicing --------------------------------------------------------------------- */

/* One scan input as the body sees it: slice `idx` along `axis`. */
typedef struct scan_src {
    const engine_tensor *t;
    int axis;
    int64_t len;                /* dims[axis] */
    size_t inner;               /* bytes after the axis */
    int64_t outer;              /* elements before the axis */
    void *buf;                  /* gather buffer when axis > 0 */
} scan_src;

static engine_shape drop_axis(const engine_shape *s, int axis) {
    engine_shape r = {.rank = s->rank - 1};
    for (int i = 0, j = 0; i < s->rank; i++)
        if (i != axis) r.dims[j++] = s->dims[i];
    return r;
}

static status src_init(exec_ctx *x, scan_src *src, const engine_tensor *t, int64_t axis,
                       int j) {
    src->t = t;
    if (!t) return exec_fail(x, STATUS_INVALID_ARGUMENT, "scan input %d is missing", j);
    src->axis = shape_normalize_axis(axis, t->shape.rank);
    if (src->axis < 0)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "scan axis %lld of scan input %d is out of range for rank %d",
                         (long long)axis, j, t->shape.rank);
    src->len = t->shape.dims[src->axis];
    src->outer = shape_span(&t->shape, 0, src->axis);
    src->inner = (size_t)shape_span(&t->shape, src->axis + 1, t->shape.rank) *
                 engine_dtype_size(t->dtype);
    src->buf = NULL;
    if (src->axis > 0 && !(src->buf = exec_scratch(x, (size_t)src->outer * src->inner + 1)))
        return exec_fail(x, STATUS_NO_MEMORY, "out of memory for scan input %d", j);
    return STATUS_OK;
}

static engine_tensor src_slice(const scan_src *src, int64_t idx) {
    engine_tensor v = {.dtype = src->t->dtype, .shape = drop_axis(&src->t->shape, src->axis),
                       .nbytes = (size_t)src->outer * src->inner};
    const unsigned char *data = src->t->data;
    if (!src->buf) {
        v.data = (void *)(data + (size_t)idx * src->inner);
        return v;
    }
    unsigned char *dst = src->buf;
    for (int64_t o = 0; o < src->outer; o++)
        memcpy(dst + (size_t)o * src->inner, data + (size_t)(o * src->len + idx) * src->inner,
               src->inner);
    v.data = dst;
    return v;
}

/* --- one sequence ----------------------------------------------------------------- */

/* Everything one run of the body over a sequence touches. */
typedef struct scan_seq {
    const scan_state *s;
    subgraph_carry carry;       /* N states */
    const scan_src *src;        /* M scan inputs */
    subgraph_stack *stacks;     /* K scan outputs */
    engine_tensor *in, *out;    /* body inputs (N+M), outputs (N+K) */
} scan_seq;

static status seq_alloc(exec_ctx *x, scan_seq *q, const scan_state *s) {
    const int N = s->n_state, M = s->n_in, K = s->n_out;
    q->s = s;
    q->stacks = exec_scratch(x, sizeof *q->stacks * (size_t)(K + 1));
    q->in = exec_scratch(x, sizeof *q->in * (size_t)(N + M + 1));
    q->out = exec_scratch(x, sizeof *q->out * (size_t)(N + K + 1));
    if (q->stacks) memset(q->stacks, 0, sizeof *q->stacks * (size_t)K);
    if (!q->stacks || !q->in || !q->out) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    memset(q->out, 0, sizeof *q->out * (size_t)(N + K));
    return STATUS_OK;
}

static void seq_free(scan_seq *q) {
    subgraph_carry_release(&q->carry);
    for (int k = 0; q->stacks && k < q->s->n_out; k++) subgraph_stack_free(&q->stacks[k]);
}

/* Runs `len` iterations; iteration t takes slice t of each scan input, or
 * slice len - 1 - t of one scanned in reverse. */
static status seq_run(exec_ctx *x, scan_seq *q, int64_t len) {
    const scan_state *s = q->s;
    const int N = s->n_state, M = s->n_in, K = s->n_out;
    status st = STATUS_OK;
    for (int64_t t = 0; t < len && !st; t++) {
        for (int i = 0; i < N; i++) q->in[i] = q->carry.t[i];
        for (int j = 0; j < M; j++)
            q->in[N + j] = src_slice(&q->src[j], s->in_dirs[j] ? len - 1 - t : t);
        if ((st = exec_run_subgraph(x, s->body, q->in, N + M, q->out))) break;
        for (int k = 0; k < K && !st; k++)
            st = subgraph_stack_push(x, &q->stacks[k], &q->out[N + k], "scan output", k);
        for (int i = 0; i < N && !st; i++) subgraph_carry_take(&q->carry, i, &q->out[i]);
        subgraph_release(q->out, N + K);
    }
    return st;
}

static status check_state(exec_ctx *x, const scan_state *s, int i, const engine_tensor *t) {
    if (t->dtype == s->dtypes[i]) return STATUS_OK;
    return exec_fail(x, STATUS_INVALID_ARGUMENT, "state output %d is %s, the model declares %s",
                     i, engine_dtype_name(t->dtype), engine_dtype_name(s->dtypes[i]));
}

/* --- Scan 9+ -------------------------------------------------------------------- */

static status scan9_run(const node *n, exec_ctx *x, const scan_state *s) {
    const int N = s->n_state, M = s->n_in;
    scan_seq q = {0};
    scan_src *src = exec_scratch(x, sizeof *src * (size_t)M);
    const engine_tensor **init = exec_scratch(x, sizeof *init * (size_t)(N + 1));
    if (!src || !init) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    int64_t T = 0;
    status st;
    for (int j = 0; j < M; j++) {
        if ((st = src_init(x, &src[j], exec_input(x, N + j), s->in_axes[j], j))) return st;
        if (j > 0 && src[j].len != T)
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "scan input %d has %lld steps along its scan axis, input 0 has "
                             "%lld", j, (long long)src[j].len, (long long)T);
        T = src[j].len;
    }
    for (int i = 0; i < N; i++)
        if (!(init[i] = exec_input(x, i)))
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "initial state %d is missing", i);
    q.src = src;
    if ((st = seq_alloc(x, &q, s)) || (st = subgraph_carry_init(x, &q.carry, init, N)) ||
        (st = seq_run(x, &q, T)))
        goto done;
    for (int k = 0; k < n->n_outputs && !st; k++) {
        if (k < N) {
            if (!(st = check_state(x, s, k, &q.carry.t[k])))
                st = subgraph_emit(x, k, &q.carry.t[k]);
        } else {
            st = subgraph_stack_emit(x, &q.stacks[k - N], k, s->out_axes[k - N],
                                     (int)s->out_dirs[k - N], s->body, k, s->dtypes[k]);
        }
    }
done:
    seq_free(&q);
    return st;
}

/* --- Scan 8 ---------------------------------------------------------------------- */

/* Node outputs of Scan-8, allocated (zeroed) when the first batch entry
 * shows their per-entry shape. */
typedef struct scan8_out {
    engine_tensor **t;          /* N + K; NULL while unallocated or unwanted */
    unsigned char *done;
} scan8_out;

/* Batch entry b of a [B, ...] tensor, without the batch axis. */
static engine_tensor batch_view(const engine_tensor *t, int64_t b) {
    engine_tensor v = {.dtype = t->dtype, .shape = drop_axis(&t->shape, 0)};
    size_t bytes = (size_t)shape_span(&t->shape, 1, t->shape.rank) * engine_dtype_size(t->dtype);
    v.data = (unsigned char *)t->data + (size_t)b * bytes;
    v.nbytes = bytes;
    return v;
}

static status scan8_alloc(exec_ctx *x, scan8_out *o, int k, engine_dtype dt,
                          const engine_shape *sh) {
    o->done[k] = 1;
    if (!exec_output_wanted(x, k)) return STATUS_OK;
    status st = exec_output(x, k, dt, sh, &o->t[k]);
    if (st) return st;
    if (o->t[k]->nbytes) memset(o->t[k]->data, 0, o->t[k]->nbytes);
    return STATUS_OK;
}

/* [B, inner...] for states, [B, T, inner...] for scan outputs. */
static status scan8_shape(exec_ctx *x, int k, int64_t B, const int64_t *T,
                          const engine_shape *inner, engine_shape *sh) {
    int lead = T ? 2 : 1;
    if (inner->rank + lead > ENGINE_MAX_RANK)
        return exec_fail(x, STATUS_UNSUPPORTED, "output %d would exceed rank %d", k,
                         ENGINE_MAX_RANK);
    *sh = (engine_shape){.rank = inner->rank + lead, .dims = {B}};
    if (T) sh->dims[1] = *T;
    memcpy(sh->dims + lead, inner->dims, sizeof *inner->dims * (size_t)inner->rank);
    return STATUS_OK;
}

/* Copies `bytes` of entry b's value (per-entry shape `inner`) into output k. */
static status scan8_put(exec_ctx *x, scan8_out *o, int k, int64_t B, const int64_t *T,
                        const engine_shape *inner, engine_dtype dt, const void *data,
                        size_t bytes, int64_t b) {
    engine_shape sh;
    status st = scan8_shape(x, k, B, T, inner, &sh);
    if (st) return st;
    if (!o->done[k] && (st = scan8_alloc(x, o, k, dt, &sh))) return st;
    engine_tensor *y = o->t[k];
    if (!y) return STATUS_OK;
    if (y->dtype != dt || !shape_equal(&y->shape, &sh))
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "output %d differs in type or shape between batch entries", k);
    size_t entry = (size_t)shape_span(&sh, 1, sh.rank) * engine_dtype_size(dt);
    if (bytes) memcpy((unsigned char *)y->data + (size_t)b * entry, data, bytes);
    return STATUS_OK;
}

static status scan8_len(exec_ctx *x, int64_t B, int64_t T, int64_t b, int64_t *len) {
    const engine_tensor *l = exec_input(x, 0);
    *len = T;
    if (!l) return STATUS_OK;
    if (!dtype_is_int(l->dtype) || engine_shape_numel(&l->shape) != B)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "sequence_lens must be int64 [%lld]",
                         (long long)B);
    *len = dtype_load_int64(l->dtype, l->data, b);
    if (*len < 0 || *len > T)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "sequence_lens[%lld] is %lld, expected 0..%lld", (long long)b,
                         (long long)*len, (long long)T);
    return STATUS_OK;
}

/* Batch size and sequence length: every state and scan input has dim 0 =
 * B, scan inputs dim 1 = T. */
static status scan8_dims(exec_ctx *x, const scan_state *s, int64_t *B, int64_t *T) {
    *B = -1;
    *T = -1;
    for (int i = 0; i < s->n_state + s->n_in; i++) {
        const engine_tensor *t = exec_input(x, 1 + i);
        int is_scan = i >= s->n_state;
        if (!t || t->shape.rank < 1 + is_scan || (*B >= 0 && t->shape.dims[0] != *B) ||
            (is_scan && *T >= 0 && t->shape.dims[1] != *T))
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "input %d is missing or does not share the batch size%s of the "
                             "others", 1 + i, is_scan ? " and sequence length" : "");
        *B = t->shape.dims[0];
        if (is_scan) *T = t->shape.dims[1];
    }
    return STATUS_OK;
}

/* Runs batch entry b and writes its part of every output. views holds
 * N + M tensors, init N pointers. */
static status scan8_entry(exec_ctx *x, scan_seq *q, scan8_out *o, int n_outputs, int64_t B,
                          int64_t T, int64_t b, engine_tensor *views,
                          const engine_tensor **init, scan_src *src) {
    const scan_state *s = q->s;
    const int N = s->n_state, M = s->n_in;
    int64_t len;
    status st = scan8_len(x, B, T, b, &len);
    if (st) return st;
    for (int i = 0; i < N + M; i++) views[i] = batch_view(exec_input(x, 1 + i), b);
    for (int i = 0; i < N; i++) init[i] = &views[i];
    for (int j = 0; j < M; j++)
        if ((st = src_init(x, &src[j], &views[N + j], 0, j))) return st;
    for (int k = 0; k < s->n_out; k++) q->stacks[k].count = 0;
    subgraph_carry_borrow(&q->carry, init);
    if ((st = seq_run(x, q, len))) return st;
    for (int k = 0; k < n_outputs && !st; k++) {
        if (k < N) {
            const engine_tensor *v = &q->carry.t[k];
            if (!(st = check_state(x, s, k, v)))
                st = scan8_put(x, o, k, B, NULL, &v->shape, v->dtype, v->data,
                               (size_t)engine_shape_numel(&v->shape) * engine_dtype_size(v->dtype),
                               b);
        } else if (q->stacks[k - N].count) {
            const subgraph_stack *sk = &q->stacks[k - N];
            st = scan8_put(x, o, k, B, &T, &sk->slice, sk->dtype, sk->data,
                           (size_t)sk->count * sk->slice_bytes, b);
        }
    }
    return st;
}

/* Outputs no batch entry produced (B = 0, or every sequence empty). */
static status scan8_finish(exec_ctx *x, const scan_state *s, scan8_out *o, int n_outputs,
                           int64_t B, int64_t T) {
    status st = STATUS_OK;
    for (int k = 0; k < n_outputs && !st; k++) {
        if (o->done[k]) continue;
        engine_shape inner, sh;
        if (k < s->n_state) inner = drop_axis(&exec_input(x, 1 + k)->shape, 0);
        else inner = subgraph_declared_shape(s->body, k);
        if (!(st = scan8_shape(x, k, B, k < s->n_state ? NULL : &T, &inner, &sh)))
            st = scan8_alloc(x, o, k, s->dtypes[k], &sh);
    }
    return st;
}

static status scan8_run(const node *n, exec_ctx *x, const scan_state *s) {
    const int N = s->n_state, M = s->n_in, n_out = N + s->n_out;
    int64_t B, T;
    status st = scan8_dims(x, s, &B, &T);
    if (st) return st;
    scan_seq q = {0};
    scan_src *src = exec_scratch(x, sizeof *src * (size_t)M);
    engine_tensor *views = exec_scratch(x, sizeof *views * (size_t)(N + M));
    const engine_tensor **init = exec_scratch(x, sizeof *init * (size_t)(N + 1));
    scan8_out o = {exec_scratch(x, sizeof *o.t * (size_t)n_out), exec_scratch(x, (size_t)n_out)};
    if (!src || !views || !init || !o.t || !o.done)
        return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    memset(o.t, 0, sizeof *o.t * (size_t)n_out);
    memset(o.done, 0, (size_t)n_out);
    q.src = src;
    for (int i = 0; i < N; i++) init[i] = exec_input(x, 1 + i);
    if ((st = seq_alloc(x, &q, s)) || (st = subgraph_carry_init(x, &q.carry, init, N)))
        goto done;
    for (int64_t b = 0; b < B && !st; b++)
        st = scan8_entry(x, &q, &o, n->n_outputs, B, T, b, views, init, src);
    if (!st) st = scan8_finish(x, s, &o, n->n_outputs, B, T);
done:
    seq_free(&q);
    return st;
}

static status scan_run(const node *n, exec_ctx *x) {
    const scan_state *s = n->state;
    return s->batched ? scan8_run(n, x, s) : scan9_run(n, x, s);
}

const op_desc op_family_scan[] = {
    {.type = "Scan", .since = 8, .prepare = scan_prepare, .run = scan_run},
    {0},
};
