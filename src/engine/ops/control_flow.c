/* control_flow.c -- If and Loop (Scan is in scan.c).
 *
 * Bodies are graphs the loader attached to the node's attributes, with
 * outer-scope names resolved; they run through exec_run_subgraph(), whose
 * results are copied into the node's outputs. Sequence and optional values
 * are not tensors and are not supported: a body that produces one has no
 * tensor dtype and fails prepare(). */
#include <stdlib.h>
#include <string.h>

#include "../op.h"
#include "subgraph.h"

/* Output dtypes, checked against what the body produced at run time. */
typedef struct cf_state {
    const graph *body, *else_body;   /* Loop: body; If: then/else */
    int n_carried, n_scan;           /* Loop */
    int has_max, has_cond;           /* Loop: M and cond given */
    int n_out;
    engine_dtype out_dtype[];
} cf_state;

static status new_state(const node *n, int n_out, cf_state **out, errinfo *err) {
    *out = calloc(1, sizeof **out + sizeof(engine_dtype) * (size_t)n_out);
    if (!*out) return status_fail(err, STATUS_NO_MEMORY, "out of memory preparing %s", n->op_type);
    (*out)->n_out = n_out;
    return STATUS_OK;
}

static status untyped_output(const node *n, int k, errinfo *err) {
    return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                           "output %d has no tensor type (sequence and optional values are "
                           "not supported)", k);
}

/* --- If ------------------------------------------------------------------------ */

/* Both branches must give as many outputs as the node has, of the same
 * types; shapes may differ. */
static status if_prepare(graph *g, node *n, errinfo *err) {
    const graph *then_g, *else_g;
    status st;
    if ((st = subgraph_attr(n, "then_branch", &then_g, err)) ||
        (st = subgraph_attr(n, "else_branch", &else_g, err)))
        return st;
    engine_dtype cd = node_input_dtype(g, n, 0);
    if (n->n_inputs != 1 || (cd != ENGINE_BOOL && cd != ENGINE_UNDEFINED))
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "expected one bool input 'cond', got %d input(s) of type %s",
                               n->n_inputs, engine_dtype_name(cd));
    if (then_g->n_outputs != else_g->n_outputs || n->n_outputs > then_g->n_outputs)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "then_branch gives %d outputs and else_branch %d, the node "
                               "lists %d; they must agree", then_g->n_outputs,
                               else_g->n_outputs, n->n_outputs);
    cf_state *s;
    if ((st = new_state(n, n->n_outputs, &s, err))) return st;
    s->body = then_g;
    s->else_body = else_g;
    for (int k = 0; k < n->n_outputs; k++) {
        engine_dtype a = subgraph_output_dtype(then_g, k), b = subgraph_output_dtype(else_g, k);
        if (a == ENGINE_UNDEFINED) a = b;
        if (a == ENGINE_UNDEFINED || a == ENGINE_STRING) {
            free(s);
            return untyped_output(n, k, err);
        }
        if (b != ENGINE_UNDEFINED && b != a) {
            free(s);
            return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                                   "output %d is %s in then_branch but %s in else_branch", k,
                                   engine_dtype_name(a), engine_dtype_name(b));
        }
        s->out_dtype[k] = a;
        node_set_output_dtype(g, n, k, a);
    }
    n->state = s;
    return STATUS_OK;
}

static status check_dtype(exec_ctx *x, const cf_state *s, int k, const engine_tensor *t) {
    if (t->dtype == s->out_dtype[k]) return STATUS_OK;
    return exec_fail(x, STATUS_INVALID_ARGUMENT, "output %d is %s, the model declares %s", k,
                     engine_dtype_name(t->dtype), engine_dtype_name(s->out_dtype[k]));
}

static status if_run(const node *n, exec_ctx *x) {
    const cf_state *s = n->state;
    const engine_tensor *c = exec_input(x, 0);
    int cond;
    if (!c) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input 'cond' is missing");
    status st = subgraph_read_bool(x, c, "cond", &cond);
    if (st) return st;
    const graph *branch = cond ? s->body : s->else_body;
    engine_tensor *out = exec_scratch(x, sizeof *out * (size_t)(branch->n_outputs + 1));
    if (!out) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    memset(out, 0, sizeof *out * (size_t)branch->n_outputs);
    if ((st = exec_run_subgraph(x, branch, NULL, 0, out))) return st;
    for (int k = 0; k < n->n_outputs && !st; k++)
        if (!(st = check_dtype(x, s, k, &out[k]))) st = subgraph_emit(x, k, &out[k]);
    subgraph_release(out, branch->n_outputs);
    return st;
}

/* --- Loop ---------------------------------------------------------------------- */

/* Inputs M, cond, v_initial[N]; body (i, cond, v[N]) -> (cond, v[N],
 * scan[K]); outputs v_final[N], scan outputs[K] stacked on a new axis 0. */
static status loop_prepare(graph *g, node *n, errinfo *err) {
    const graph *body;
    status st = subgraph_attr(n, "body", &body, err);
    if (st) return st;
    const int n_carried = n->n_inputs - 2, n_scan = body->n_outputs - 1 - n_carried;
    if (n_carried < 0 || body->n_inputs != 2 + n_carried || n_scan < 0 ||
        n->n_outputs > n_carried + n_scan)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "node has %d inputs and %d outputs, body %d inputs and %d "
                               "outputs; expected 2+N inputs, body 2+N inputs and 1+N+K "
                               "outputs, node at most N+K outputs", n->n_inputs,
                               n->n_outputs, body->n_inputs, body->n_outputs);
    cf_state *s;
    if ((st = new_state(n, n_carried + n_scan, &s, err))) return st;
    s->body = body;
    s->n_carried = n_carried;
    s->n_scan = n_scan;
    s->has_max = n->inputs[0] >= 0;
    s->has_cond = n->inputs[1] >= 0;
    if (!s->has_max && !s->has_cond) {
        free(s);
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "neither trip count M nor cond is given: the loop never ends");
    }
    for (int k = 0; k < n_carried + n_scan; k++) {
        engine_dtype dt = subgraph_output_dtype(body, 1 + k);
        if (dt == ENGINE_UNDEFINED && k < n_carried) dt = node_input_dtype(g, n, 2 + k);
        if (dt == ENGINE_UNDEFINED || dt == ENGINE_STRING) {
            free(s);
            return untyped_output(n, k, err);
        }
        s->out_dtype[k] = dt;
        if (k < n->n_outputs) node_set_output_dtype(g, n, k, dt);
    }
    n->state = s;
    return STATUS_OK;
}

/* The running state of one Loop execution. */
typedef struct loop_run_state {
    const cf_state *s;
    subgraph_carry carry;
    subgraph_stack *stacks;      /* K */
    engine_tensor *in, *out;     /* body inputs (2+N) and outputs (1+N+K) */
    int64_t iter;
    unsigned char cond;
} loop_run_state;

static status loop_init(const node *n, exec_ctx *x, loop_run_state *r) {
    const cf_state *s = n->state;
    const int N = s->n_carried, K = s->n_scan;
    const engine_tensor **src = exec_scratch(x, sizeof *src * (size_t)(N + 1));
    r->stacks = exec_scratch(x, sizeof *r->stacks * (size_t)(K + 1));
    r->in = exec_scratch(x, sizeof *r->in * (size_t)(2 + N));
    r->out = exec_scratch(x, sizeof *r->out * (size_t)(1 + N + K));
    if (r->stacks) memset(r->stacks, 0, sizeof *r->stacks * (size_t)K);
    if (!src || !r->stacks || !r->in || !r->out)
        return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    memset(r->out, 0, sizeof *r->out * (size_t)(1 + N + K));
    for (int i = 0; i < N; i++)
        if (!(src[i] = exec_input(x, 2 + i)))
            return exec_fail(x, STATUS_UNSUPPORTED, "loop-carried input %d is missing "
                             "(optional values are not supported)", i);
    r->in[0] = subgraph_scalar(ENGINE_INT64, &r->iter);
    r->in[1] = subgraph_scalar(ENGINE_BOOL, &r->cond);
    return subgraph_carry_init(x, &r->carry, src, N);
}

static status loop_iteration(exec_ctx *x, loop_run_state *r) {
    const cf_state *s = r->s;
    const int N = s->n_carried, K = s->n_scan, n_out = 1 + N + K;
    for (int i = 0; i < N; i++) r->in[2 + i] = r->carry.t[i];
    status st = exec_run_subgraph(x, s->body, r->in, 2 + N, r->out);
    if (st) return st;
    int cond = 1;
    if (s->has_cond) st = subgraph_read_bool(x, &r->out[0], "body output cond", &cond);
    for (int k = 0; k < K && !st; k++)
        st = subgraph_stack_push(x, &r->stacks[k], &r->out[1 + N + k], "scan output", k);
    for (int i = 0; i < N && !st; i++) subgraph_carry_take(&r->carry, i, &r->out[1 + i]);
    subgraph_release(r->out, n_out);
    r->cond = (unsigned char)cond;
    return st;
}

static status loop_outputs(exec_ctx *x, loop_run_state *r, int n_outputs) {
    const cf_state *s = r->s;
    status st = STATUS_OK;
    for (int k = 0; k < n_outputs && !st; k++) {
        if (k < s->n_carried) {
            if (!(st = check_dtype(x, s, k, &r->carry.t[k])))
                st = subgraph_emit(x, k, &r->carry.t[k]);
        } else {
            int j = k - s->n_carried;
            st = subgraph_stack_emit(x, &r->stacks[j], k, 0, 0, s->body, 1 + k,
                                     s->out_dtype[k]);
        }
    }
    return st;
}

static status loop_limits(const cf_state *s, exec_ctx *x, int64_t *max_trip, int *cond) {
    *max_trip = INT64_MAX;
    *cond = 1;
    const engine_tensor *m = exec_input(x, 0), *c = exec_input(x, 1);
    if (s->has_max && m) {
        if (m->dtype != ENGINE_INT64 || engine_shape_numel(&m->shape) != 1)
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "trip count M is %s with %lld elements, expected one int64",
                             engine_dtype_name(m->dtype),
                             (long long)engine_shape_numel(&m->shape));
        *max_trip = *(const int64_t *)m->data;
    }
    if (s->has_cond && c) return subgraph_read_bool(x, c, "cond", cond);
    return STATUS_OK;
}

static status loop_run(const node *n, exec_ctx *x) {
    const cf_state *s = n->state;
    loop_run_state r = {.s = s};
    int64_t max_trip;
    int cond;
    status st = loop_limits(s, x, &max_trip, &cond);
    if (st) return st;
    if ((st = loop_init(n, x, &r))) return st;
    r.cond = (unsigned char)cond;
    for (r.iter = 0; r.iter < max_trip && r.cond && !st; r.iter++) st = loop_iteration(x, &r);
    if (!st) st = loop_outputs(x, &r, n->n_outputs);
    subgraph_carry_release(&r.carry);
    for (int k = 0; r.stacks && k < s->n_scan; k++) subgraph_stack_free(&r.stacks[k]);
    return st;
}

const op_desc op_family_control_flow[] = {
    {.type = "If", .since = 1, .prepare = if_prepare, .run = if_run},
    {.type = "Loop", .since = 1, .prepare = loop_prepare, .run = loop_run},
    {0},
};
