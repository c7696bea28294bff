/* recurrent.c -- RNN, GRU and LSTM (opsets 1..21).
 *
 * This file owns the operator semantics: attributes, input validation, the
 * two layouts, float16/bfloat16/double by conversion to float32 (so double
 * computes in float precision). The cells themselves are in kernels/rnn.c.
 * Inputs: X W R [B] [sequence_lens] [initial_h] (LSTM: [initial_c] [P]);
 * outputs: [Y] [Y_h] (LSTM: [Y_c]). */
#include <stdlib.h>
#include <string.h>

#include "../dtype.h"
#include "../kernels/convert.h"
#include "../kernels/rnn.h"
#include "../op.h"
#include "../shape.h"

enum { IN_X, IN_W, IN_R, IN_B, IN_LENS, IN_H0, IN_C0, IN_P };
enum { OUT_Y, OUT_YH, OUT_YC };

typedef struct rnn_op_state {
    rnn_cell cell;
    int64_t hidden;             /* 0: derive it from R's shape */
    int num_dir;                /* 1 or 2 */
    int reverse;                /* direction "reverse" (num_dir 1) */
    rnn_act act[2][3];          /* per direction: f, g, h */
    int has_clip;
    float clip;
    int input_forget, linear_before_reset, layout;
    float *r_packed;            /* LSTM with a float constant R: per direction */
    int64_t packed_hidden;
} rnn_op_state;

static void rnn_state_free(void *p) {
    rnn_op_state *s = p;
    if (s) free(s->r_packed);
    free(s);
}

/* An LSTM whose R is a float constant [D, 4H, H] gets it packed for the
 * recurrent kernel once, here, instead of on every run. Any other R (not
 * constant, another type, a shape the run will reject) stays unpacked. */
static status pack_recurrence(const graph *g, const node *n, rnn_op_state *s, errinfo *err) {
    const engine_tensor *r = node_input_const(g, n, IN_R);
    if (s->cell != RNN_CELL_LSTM || !r || r->dtype != ENGINE_FLOAT || r->shape.rank != 3)
        return STATUS_OK;
    const int64_t H = r->shape.dims[2];
    if (r->shape.dims[0] != s->num_dir || r->shape.dims[1] != 4 * H || H < 1 ||
        (s->hidden && s->hidden != H))
        return STATUS_OK;
    int64_t per_dir = rnn_lstm_packed_floats(H);
    size_t bytes;
    if (per_dir < 0 || __builtin_mul_overflow((size_t)per_dir, sizeof(float) * (size_t)s->num_dir, &bytes))
        return STATUS_OK;
    s->r_packed = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!s->r_packed) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory packing R");
    for (int d = 0; d < s->num_dir; d++)
        rnn_lstm_pack((const float *)r->data + d * 4 * H * H, H, s->r_packed + d * per_dir);
    s->packed_hidden = H;
    return STATUS_OK;
}

/* --- prepare ---------------------------------------------------------------- */

static int cell_activation_count(rnn_cell cell) {
    return cell == RNN_CELL_LSTM ? 3 : cell == RNN_CELL_GRU ? 2 : 1;
}

static const char *default_activation(rnn_cell cell, int k) {
    if (cell == RNN_CELL_RNN) return "Tanh";
    return k == 0 ? "Sigmoid" : "Tanh";
}

/* activations holds one list per direction, or one list both directions
 * share. activation_alpha/beta are consumed in order by the activations
 * that take a parameter, defaults filling in when they run out (ORT). */
static status parse_activations(const node *n, rnn_op_state *s, errinfo *err) {
    const int nact = cell_activation_count(s->cell);
    const attr *a = node_attr(n, "activations");
    int count = a && a->type == ATTR_STRINGS ? a->count : 0;
    if (count != 0 && count != nact && count != nact * s->num_dir)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "activations lists %d functions, expected %d per direction "
                               "for %d direction(s)", count, nact, s->num_dir);
    const float *alphas, *betas;
    int n_alpha = node_attr_floats(n, "activation_alpha", &alphas);
    int n_beta = node_attr_floats(n, "activation_beta", &betas);
    int ia = 0, ib = 0;
    for (int d = 0; d < s->num_dir; d++) {
        for (int k = 0; k < 3; k++) {
            const char *name = default_activation(s->cell, k);
            size_t len = strlen(name);
            if (count && k < nact) {
                const engine_string *str = &a->strings[count == nact ? k : d * nact + k];
                name = str->ptr ? str->ptr : "";
                len = str->ptr ? str->len : 0;
            }
            rnn_act *act = &s->act[d][k];
            int uses_alpha, uses_beta;
            if (rnn_act_lookup(name, len, &act->kind, &uses_alpha, &uses_beta))
                return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                                       "unknown activation '%.*s', expected one of Relu, Tanh, "
                                       "Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, "
                                       "HardSigmoid, Elu, Softsign, Softplus", (int)len, name);
            if (k >= nact) continue; /* unused slot of a smaller cell */
            act->alpha = !uses_alpha ? 0 : ia < n_alpha ? alphas[ia++]
                                                          : rnn_act_default_alpha(act->kind);
            act->beta = !uses_beta ? 0 : ib < n_beta ? betas[ib++]
                                                       : rnn_act_default_beta(act->kind);
        }
    }
    return STATUS_OK;
}

static status parse_direction(const node *n, rnn_op_state *s, errinfo *err) {
    const char *dir = node_attr_string(n, "direction", "forward");
    s->num_dir = 1;
    if (strcmp(dir, "forward") == 0) return STATUS_OK;
    if (strcmp(dir, "reverse") == 0) {
        s->reverse = 1;
        return STATUS_OK;
    }
    if (strcmp(dir, "bidirectional") == 0) {
        s->num_dir = 2;
        return STATUS_OK;
    }
    return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                           "direction '%s', expected forward, reverse or bidirectional", dir);
}

static status parse_flag(const node *n, const char *name, int *out, errinfo *err) {
    int64_t v = node_attr_int(n, name, 0);
    if (v != 0 && v != 1)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "%s is %lld, expected 0 or 1",
                               name, (long long)v);
    *out = (int)v;
    return STATUS_OK;
}

static status parse_attrs(const node *n, rnn_op_state *s, errinfo *err) {
    status st = parse_direction(n, s, err);
    if (st) return st;
    s->hidden = node_attr_int(n, "hidden_size", 0);
    if (s->hidden < 0 || s->hidden > INT32_MAX)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "hidden_size is %lld, expected a positive size",
                               (long long)s->hidden);
    const attr *clip = node_attr(n, "clip");
    if (clip && clip->type == ATTR_FLOAT) {
        if (!(clip->f > 0))
            return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                                   "clip is %g, expected a positive threshold", clip->f);
        s->has_clip = 1;
        s->clip = clip->f;
    }
    if (s->cell == RNN_CELL_LSTM && (st = parse_flag(n, "input_forget", &s->input_forget, err)))
        return st;
    if (s->cell == RNN_CELL_GRU &&
        (st = parse_flag(n, "linear_before_reset", &s->linear_before_reset, err)))
        return st;
    if (n->opset >= 14 && (st = parse_flag(n, "layout", &s->layout, err))) return st;
    return parse_activations(n, s, err);
}

static status check_input_types(graph *g, node *n, engine_dtype dt, errinfo *err) {
    static const int same_as_x[] = {IN_W, IN_R, IN_B, IN_H0, IN_C0, IN_P};
    for (size_t i = 0; i < sizeof same_as_x / sizeof same_as_x[0]; i++) {
        engine_dtype d = node_input_dtype(g, n, same_as_x[i]);
        if (d != ENGINE_UNDEFINED && d != dt)
            return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                                   "input %d has type %s, expected %s like X", same_as_x[i],
                                   engine_dtype_name(d), engine_dtype_name(dt));
    }
    engine_dtype lens = node_input_dtype(g, n, IN_LENS);
    if (lens != ENGINE_UNDEFINED && lens != ENGINE_INT32 && lens != ENGINE_INT64)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "sequence_lens has type %s, expected int32",
                               engine_dtype_name(lens));
    return STATUS_OK;
}

static status prepare_cell(graph *g, node *n, rnn_cell cell, errinfo *err) {
    const int max_in = cell == RNN_CELL_LSTM ? 8 : 6, max_out = cell == RNN_CELL_LSTM ? 3 : 2;
    if (n->n_inputs < 3 || n->n_inputs > max_in || n->n_outputs > max_out)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "has %d inputs and %d outputs, expected 3..%d and at most %d",
                               n->n_inputs, n->n_outputs, max_in, max_out);
    engine_dtype dt = node_input_dtype(g, n, IN_X);
    if (!dtype_is_float(dt))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "X has type %s, expected float32, float16, bfloat16 or float64",
                               engine_dtype_name(dt));
    status st = check_input_types(g, n, dt, err);
    if (st) return st;
    rnn_op_state *s = calloc(1, sizeof *s);
    if (!s) return status_fail(err, STATUS_NO_MEMORY, "out of memory preparing %s", n->op_type);
    s->cell = cell;
    if ((st = parse_attrs(n, s, err)) || (st = pack_recurrence(g, n, s, err))) {
        rnn_state_free(s);
        return st;
    }
    n->state = s;
    for (int k = 0; k < n->n_outputs; k++) node_set_output_dtype(g, n, k, dt);
    return STATUS_OK;
}

static status rnn_prepare(graph *g, node *n, errinfo *err) {
    return prepare_cell(g, n, RNN_CELL_RNN, err);
}
static status gru_prepare(graph *g, node *n, errinfo *err) {
    return prepare_cell(g, n, RNN_CELL_GRU, err);
}
static status lstm_prepare(graph *g, node *n, errinfo *err) {
    return prepare_cell(g, n, RNN_CELL_LSTM, err);
}

/* --- run ---------------------------------------------------------------------- */

/* Sizes of one run, from X and W/R. */
typedef struct rnn_dims {
    int64_t T, N, I, H, D, G;
} rnn_dims;

static const char *input_name(int i) {
    static const char *const names[] = {"X", "W", "R", "B", "sequence_lens",
                                        "initial_h", "initial_c", "P"};
    return names[i];
}

/* Fails unless input i (if present) has the given rank-3-or-less shape. */
static status expect_shape(exec_ctx *x, int i, int rank, const int64_t *dims) {
    const engine_tensor *t = exec_input(x, i);
    if (!t) return STATUS_OK;
    int ok = t->shape.rank == rank;
    for (int d = 0; ok && d < rank; d++) ok = t->shape.dims[d] == dims[d];
    if (ok) return STATUS_OK;
    char want[96], got[96];
    engine_shape w = {.rank = rank};
    memcpy(w.dims, dims, (size_t)rank * sizeof *dims);
    return exec_fail(x, STATUS_INVALID_ARGUMENT, "%s has shape %s, expected %s",
                     input_name(i), shape_format(&t->shape, got, sizeof got),
                     shape_format(&w, want, sizeof want));
}

static status read_dims(exec_ctx *x, const rnn_op_state *s, rnn_dims *d) {
    const engine_tensor *X = exec_input(x, IN_X), *R = exec_input(x, IN_R);
    if (!X || !exec_input(x, IN_W) || !R)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "inputs X, W and R are required");
    if (X->shape.rank != 3)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "X has rank %d, expected 3 (%s)", X->shape.rank,
                         s->layout ? "[batch_size, seq_length, input_size]"
                                   : "[seq_length, batch_size, input_size]");
    if (R->shape.rank != 3)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "R has rank %d, expected 3 ([num_directions, gates*hidden_size, "
                         "hidden_size])", R->shape.rank);
    d->T = X->shape.dims[s->layout ? 1 : 0];
    d->N = X->shape.dims[s->layout ? 0 : 1];
    d->I = X->shape.dims[2];
    d->D = s->num_dir;
    d->G = rnn_cell_gates(s->cell);
    d->H = s->hidden ? s->hidden : R->shape.dims[2];
    if (d->H > INT32_MAX)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "R implies hidden_size %lld, too large",
                         (long long)d->H);
    const int64_t gh = d->G * d->H;
    const int64_t w[] = {d->D, gh, d->I}, r[] = {d->D, gh, d->H}, b[] = {d->D, 2 * gh};
    const int64_t lens[] = {d->N}, p[] = {d->D, 3 * d->H};
    const int64_t st0[] = {d->D, d->N, d->H}, st1[] = {d->N, d->D, d->H};
    status st;
    if ((st = expect_shape(x, IN_W, 3, w)) || (st = expect_shape(x, IN_R, 3, r)) ||
        (st = expect_shape(x, IN_B, 2, b)) || (st = expect_shape(x, IN_LENS, 1, lens)) ||
        (st = expect_shape(x, IN_H0, 3, s->layout ? st1 : st0)))
        return st;
    if (s->cell == RNN_CELL_LSTM &&
        ((st = expect_shape(x, IN_C0, 3, s->layout ? st1 : st0)) ||
         (st = expect_shape(x, IN_P, 2, p))))
        return st;
    return STATUS_OK;
}

/* Scratch of n floats (never NULL for n = 0, so NULL means out of memory). */
static float *scratch_floats(exec_ctx *x, int64_t n) {
    if (n < 0 || (uint64_t)n > SIZE_MAX / sizeof(float)) return NULL;
    return exec_scratch(x, n ? (size_t)n * sizeof(float) : 1);
}

static status no_memory(exec_ctx *x, const char *what) {
    return exec_fail(x, STATUS_NO_MEMORY, "out of memory for %s", what);
}

/* Input i as float32: the tensor itself, or a converted copy in scratch. */
static status input_f32(exec_ctx *x, int i, engine_dtype dt, const float **out) {
    const engine_tensor *t = exec_input(x, i);
    *out = NULL;
    if (!t) return STATUS_OK;
    if (t->dtype != dt)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "%s has type %s, expected %s like X",
                         input_name(i), engine_dtype_name(t->dtype), engine_dtype_name(dt));
    if (dt == ENGINE_FLOAT) {
        *out = t->data;
        return STATUS_OK;
    }
    int64_t n = engine_shape_numel(&t->shape);
    float *buf = scratch_floats(x, n);
    if (!buf) return no_memory(x, input_name(i));
    convert_get(dt, ENGINE_FLOAT)(t->data, buf, n);
    *out = buf;
    return STATUS_OK;
}

static status read_lens(exec_ctx *x, const rnn_dims *d, const int32_t **out) {
    const engine_tensor *t = exec_input(x, IN_LENS);
    *out = NULL;
    if (!t) return STATUS_OK;
    if (t->dtype != ENGINE_INT32 && t->dtype != ENGINE_INT64)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "sequence_lens has type %s, expected int32",
                         engine_dtype_name(t->dtype));
    int32_t *lens = exec_scratch(x, (size_t)d->N * sizeof *lens + 1);
    if (!lens) return no_memory(x, "sequence_lens");
    for (int64_t b = 0; b < d->N; b++) {
        int64_t v = dtype_load_int64(t->dtype, t->data, b);
        if (v < 0 || v > d->T)
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "sequence_lens[%lld] is %lld, expected 0..%lld (seq_length)",
                             (long long)b, (long long)v, (long long)d->T);
        lens[b] = (int32_t)v;
    }
    *out = lens;
    return STATUS_OK;
}

/* One output: the tensor (NULL if the model omits it) and where the
 * kernel writes float32 (the tensor's data, or scratch to convert). */
typedef struct rnn_out {
    engine_tensor *t;
    float *f;
} rnn_out;

static status output_f32(exec_ctx *x, int k, engine_dtype dt, int rank, const int64_t *dims,
                         rnn_out *o) {
    o->t = NULL;
    o->f = NULL;
    if (k >= exec_output_count(x) || !exec_output_wanted(x, k)) return STATUS_OK;
    engine_shape shape = {.rank = rank};
    memcpy(shape.dims, dims, (size_t)rank * sizeof *dims);
    status st = exec_output(x, k, dt, &shape, &o->t);
    if (st) return st;
    o->f = dt == ENGINE_FLOAT ? o->t->data : scratch_floats(x, engine_shape_numel(&shape));
    return o->f ? STATUS_OK : no_memory(x, "an output");
}

static void output_finish(engine_dtype dt, const rnn_out *o) {
    if (!o->t || dt == ENGINE_FLOAT) return;
    convert_get(ENGINE_FLOAT, dt)(o->f, o->t->data, engine_shape_numel(&o->t->shape));
}

/* The float32 views of every input. */
typedef struct rnn_inputs {
    const float *x, *w, *r, *b, *h0, *c0, *p;
    const int32_t *lens;
} rnn_inputs;

static status read_inputs(exec_ctx *x, const rnn_dims *d, engine_dtype dt, rnn_inputs *in) {
    status st;
    if ((st = input_f32(x, IN_X, dt, &in->x)) || (st = input_f32(x, IN_W, dt, &in->w)) ||
        (st = input_f32(x, IN_R, dt, &in->r)) || (st = input_f32(x, IN_B, dt, &in->b)) ||
        (st = input_f32(x, IN_H0, dt, &in->h0)) || (st = input_f32(x, IN_C0, dt, &in->c0)) ||
        (st = input_f32(x, IN_P, dt, &in->p)))
        return st;
    return read_lens(x, d, &in->lens);
}

/* Runs direction `dir`, writing its slots of Y, Y_h and Y_c. Layout 0 is
 * X [T,N,I], Y [T,D,N,H], states [D,N,H]; layout 1 is X [N,T,I],
 * Y [N,T,D,H], states [N,D,H]. */
static void run_direction(const rnn_op_state *s, const rnn_dims *d, const rnn_inputs *in,
                          const rnn_out *out, int dir, float *scratch, int threads) {
    const int64_t gh = d->G * d->H, H = d->H;
    rnn_params p = {.cell = s->cell, .seq_len = d->T, .batch = d->N, .input_size = d->I,
                    .hidden = H, .reverse = d->D == 2 ? dir : s->reverse,
                    .has_clip = s->has_clip, .clip = s->clip,
                    .input_forget = s->input_forget,
                    .linear_before_reset = s->linear_before_reset};
    memcpy(p.act, s->act[dir], sizeof p.act);
    const int64_t state_off = s->layout ? dir * H : dir * d->N * H;
    rnn_dir_io io = {
        .x = in->x,
        .x_stride_t = s->layout ? 1 : d->N,
        .x_stride_b = s->layout ? d->T : 1,
        .w = in->w + dir * gh * d->I,
        .r = in->r + dir * gh * H,
        .b = in->b ? in->b + dir * 2 * gh : NULL,
        .p = in->p ? in->p + dir * 3 * H : NULL,
        .lens = in->lens,
        .h0 = in->h0 ? in->h0 + state_off : NULL,
        .c0 = in->c0 ? in->c0 + state_off : NULL,
        .y = out[OUT_Y].f ? out[OUT_Y].f + (s->layout ? dir * H : dir * d->N * H) : NULL,
        .y_stride_t = s->layout ? d->D * H : d->D * d->N * H,
        .y_stride_b = s->layout ? d->T * d->D * H : H,
        .yh = out[OUT_YH].f ? out[OUT_YH].f + state_off : NULL,
        .yc = out[OUT_YC].f ? out[OUT_YC].f + state_off : NULL,
        .h_stride_b = s->layout ? d->D * H : H,
        .scratch = scratch,
        .r_packed = s->r_packed && s->packed_hidden == H
                        ? s->r_packed + dir * rnn_lstm_packed_floats(H) : NULL,
    };
    rnn_run_direction(&p, &io, threads);
}

/* Directions [begin, end) for exec_parallel_for; each has its own scratch. */
typedef struct dir_job {
    const rnn_op_state *s;
    const rnn_dims *d;
    const rnn_inputs *in;
    const rnn_out *out;
    float *scratch;
    int64_t scratch_per_dir;    /* 0: the directions share one scratch */
    int threads;
} dir_job;

static void run_directions(void *ctx, int64_t begin, int64_t end) {
    const dir_job *j = ctx;
    for (int64_t dir = begin; dir < end; dir++)
        run_direction(j->s, j->d, j->in, j->out, (int)dir,
                      j->scratch + dir * j->scratch_per_dir, j->threads);
}

static status recurrent_run(const node *n, exec_ctx *x) {
    const rnn_op_state *s = n->state;
    rnn_dims d = {0};
    status st = read_dims(x, s, &d);
    if (st) return st;
    engine_dtype dt = exec_input(x, IN_X)->dtype;
    rnn_inputs in = {0};
    if ((st = read_inputs(x, &d, dt, &in))) return st;

    const int64_t y0[] = {d.T, d.D, d.N, d.H}, y1[] = {d.N, d.T, d.D, d.H};
    const int64_t h0[] = {d.D, d.N, d.H}, h1[] = {d.N, d.D, d.H};
    rnn_out out[3] = {{0}};
    if ((st = output_f32(x, OUT_Y, dt, 4, s->layout ? y1 : y0, &out[OUT_Y])) ||
        (st = output_f32(x, OUT_YH, dt, 3, s->layout ? h1 : h0, &out[OUT_YH])))
        return st;
    if (s->cell == RNN_CELL_LSTM &&
        (st = output_f32(x, OUT_YC, dt, 3, s->layout ? h1 : h0, &out[OUT_YC])))
        return st;

    rnn_params sizes = {.cell = s->cell, .seq_len = d.T, .batch = d.N, .hidden = d.H};
    const int64_t per_dir = rnn_scratch_floats(&sizes);
    const int split = d.D == 2 && exec_threads(x) >= 2;
    float *scratch = per_dir < 0 ? NULL : scratch_floats(x, split ? 2 * per_dir : per_dir);
    if (!scratch) return no_memory(x, "the recurrence");
    dir_job job = {s, &d, &in, out, scratch, split ? per_dir : 0, exec_threads(x)};
    if (split) { /* one direction per thread: no per-step GEMM sync */
        job.threads /= 2;
        exec_parallel_for(x, 2, run_directions, &job);
    } else {
        run_directions(&job, 0, d.D);
    }
    for (int k = 0; k < 3; k++) output_finish(dt, &out[k]);
    return STATUS_OK;
}

const op_desc op_family_recurrent[] = {
    {.type = "RNN", .since = 1, .prepare = rnn_prepare, .run = recurrent_run,
     .free_state = rnn_state_free},
    {.type = "GRU", .since = 1, .prepare = gru_prepare, .run = recurrent_run,
     .free_state = rnn_state_free},
    {.type = "LSTM", .since = 1, .prepare = lstm_prepare, .run = recurrent_run,
     .free_state = rnn_state_free},
    {0},
};
