/* loss.c -- NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.
 *
 * Training-time ops, but exported models (and ONNX's test suite) carry them
 * for evaluation graphs. Inputs are [N, C] or [N, C, d1..dk] scores with
 * [N] or [N, d1..dk] integer targets; the loss of one position is
 * -weight[t] * logp[n, t, d], zero where t == ignore_index. They are never
 * hot, so one double-precision body serves every float type. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../dtype.h"
#include "../op.h"

typedef enum loss_reduction { LOSS_NONE, LOSS_SUM, LOSS_MEAN } loss_reduction;

typedef struct loss_state {
    loss_reduction reduction;
    int has_ignore;
    int64_t ignore_index;
} loss_state;

static status loss_prepare(graph *g, node *n, errinfo *err) {
    engine_dtype dt = node_input_dtype(g, n, 0), tt = node_input_dtype(g, n, 1);
    if (n->n_inputs < 2)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "expected scores and targets");
    if (dt != ENGINE_FLOAT && dt != ENGINE_DOUBLE && dt != ENGINE_FLOAT16 && dt != ENGINE_BFLOAT16)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "scores have type %s, expected a float type",
                               engine_dtype_name(dt));
    if (tt != ENGINE_INT32 && tt != ENGINE_INT64)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "targets have type %s, expected int32 or int64",
                               engine_dtype_name(tt));
    if (n->n_inputs > 2 && n->inputs[2] >= 0 && node_input_dtype(g, n, 2) != dt)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "weights must have the scores' type");
    loss_state *st = calloc(1, sizeof *st);
    if (!st) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    const char *red = node_attr_string(n, "reduction", "mean");
    if (!strcmp(red, "none")) st->reduction = LOSS_NONE;
    else if (!strcmp(red, "sum")) st->reduction = LOSS_SUM;
    else if (!strcmp(red, "mean")) st->reduction = LOSS_MEAN;
    else {
        free(st);
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "reduction '%s' is not one of none, sum, mean", red);
    }
    st->has_ignore = node_attr(n, "ignore_index") != NULL;
    st->ignore_index = node_attr_int(n, "ignore_index", 0);
    n->state = st;
    for (int k = 0; k < n->n_outputs; k++) node_set_output_dtype(g, n, k, dt);
    return STATUS_OK;
}

/* Checks scores [N, C, d...] against targets [N, d...] and weights [C]. */
static status loss_check_shapes(exec_ctx *x, const engine_tensor *s, const engine_tensor *t,
                                const engine_tensor *w) {
    int ok = s->shape.rank >= 2 && t->shape.rank == s->shape.rank - 1 &&
             t->shape.dims[0] == s->shape.dims[0];
    for (int i = 1; ok && i < t->shape.rank; i++) ok = t->shape.dims[i] == s->shape.dims[i + 1];
    if (!ok)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "targets must have the scores' shape without dim 1 (scores rank %d, targets rank %d)",
                         s->shape.rank, t->shape.rank);
    if (w && (w->shape.rank != 1 || w->shape.dims[0] != s->shape.dims[1]))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "weights must be a vector of C = %lld values",
                         (long long)s->shape.dims[1]);
    return STATUS_OK;
}

/* The NLL of log-probabilities `logp` (N*C*D doubles) into `out`. */
static status nll(exec_ctx *x, const loss_state *st, const double *logp, int64_t N, int64_t C,
                  int64_t D, const engine_tensor *t, const engine_tensor *w, engine_dtype dt,
                  const engine_shape *tshape) {
    engine_tensor *out;
    engine_shape scalar = {0};
    status s = exec_output(x, 0, dt, st->reduction == LOSS_NONE ? tshape : &scalar, &out);
    if (s) return s;
    double total = 0, weight_sum = 0;
    for (int64_t n = 0; n < N; n++) {
        for (int64_t d = 0; d < D; d++) {
            int64_t i = n * D + d, c = dtype_load_int64(t->dtype, t->data, i);
            double loss = 0, wt = 0;
            if (!(st->has_ignore && c == st->ignore_index)) {
                if (c < 0 || c >= C)
                    return exec_fail(x, STATUS_INVALID_ARGUMENT,
                                     "target %lld at position %lld is outside [0, %lld)",
                                     (long long)c, (long long)i, (long long)C);
                wt = w ? dtype_load_double(w->dtype, w->data, c) : 1.0;
                loss = -logp[(n * C + c) * D + d] * wt;
            }
            if (st->reduction == LOSS_NONE) dtype_store_double(dt, out->data, i, loss);
            total += loss;
            weight_sum += wt;
        }
    }
    if (st->reduction == LOSS_SUM) dtype_store_double(dt, out->data, 0, total);
    if (st->reduction == LOSS_MEAN) dtype_store_double(dt, out->data, 0, total / weight_sum);
    return STATUS_OK;
}

/* Runs either op; `softmax` turns scores into log-probabilities first. */
static status loss_run(const node *nd, exec_ctx *x, int softmax) {
    const loss_state *st = nd->state;
    const engine_tensor *s = exec_input(x, 0), *t = exec_input(x, 1), *w = exec_input(x, 2);
    status rc = loss_check_shapes(x, s, t, w);
    if (rc) return rc;
    int64_t N = s->shape.dims[0], C = s->shape.dims[1], NC = N * C;
    int64_t D = NC > 0 ? engine_shape_numel(&s->shape) / NC : 0;
    int64_t total = N * C * D;
    double *logp = exec_scratch(x, sizeof(double) * (size_t)(total ? total : 1));
    if (!logp) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    for (int64_t i = 0; i < total; i++) logp[i] = dtype_load_double(s->dtype, s->data, i);
    for (int64_t n = 0; softmax && n < N; n++) {
        for (int64_t d = 0; d < D; d++) {
            double mx = -INFINITY, sum = 0;
            for (int64_t c = 0; c < C; c++) mx = fmax(mx, logp[(n * C + c) * D + d]);
            for (int64_t c = 0; c < C; c++) sum += exp(logp[(n * C + c) * D + d] - mx);
            for (int64_t c = 0; c < C; c++) logp[(n * C + c) * D + d] -= mx + log(sum);
        }
    }
    if (softmax && exec_output_count(x) > 1 && exec_output_wanted(x, 1)) {
        engine_tensor *lp;
        rc = exec_output(x, 1, s->dtype, &s->shape, &lp);
        if (rc) return rc;
        for (int64_t i = 0; i < total; i++) dtype_store_double(s->dtype, lp->data, i, logp[i]);
    }
    return nll(x, st, logp, N, C, D, t, w, s->dtype, &t->shape);
}

static status nll_run(const node *n, exec_ctx *x) { return loss_run(n, x, 0); }
static status sce_run(const node *n, exec_ctx *x) { return loss_run(n, x, 1); }

const op_desc op_family_loss[] = {
    {.type = "NegativeLogLikelihoodLoss", .since = 12, .prepare = loss_prepare, .run = nll_run},
    {.type = "SoftmaxCrossEntropyLoss", .since = 12, .prepare = loss_prepare, .run = sce_run},
    {0},
};
