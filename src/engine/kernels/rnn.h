/* rnn.h -- the recurrent cells behind ONNX RNN, GRU and LSTM (private).
 *
 * One call runs one direction of one layer over a whole batch of sequences
 * in float32. The input projection X * W^T of every timestep is a single
 * GEMM up front; each step then does one GEMM H(t-1) * R^T (two for GRU
 * with linear_before_reset = 0) and the gate arithmetic. Tensors are
 * addressed through row strides, so the operator's two layouts ([T, N, ...]
 * and [N, T, ...]) and the direction's slot in Y are written in place, with
 * no transposes. Sequences shorter than T (sequence_lens) run their own
 * length, reverse direction reverses each sequence within its length, and
 * the Y rows past a sequence's end are zero, as ONNX Runtime does.
 *
 *     rnn_params p = {.cell = RNN_CELL_LSTM, .seq_len = T, .batch = N,
 *                     .input_size = I, .hidden = H, .act = {sig, tanh, tanh}};
 *     rnn_dir_io io = {.x = x, .x_stride_t = N, .x_stride_b = 1, .w = w, .r = r,
 *                      .y = y, .y_stride_t = N * H, .y_stride_b = H,
 *                      .yh = yh, .h_stride_b = H,
 *                      .scratch = malloc(rnn_scratch_floats(&p) * sizeof(float))};
 *     rnn_run_direction(&p, &io, threads);
 */
#ifndef INFERD_KERNELS_RNN_H
#define INFERD_KERNELS_RNN_H

#include <stddef.h>
#include <stdint.h>

typedef enum rnn_act_kind {
    RNN_ACT_RELU,
    RNN_ACT_TANH,
    RNN_ACT_SIGMOID,
    RNN_ACT_AFFINE,
    RNN_ACT_LEAKY_RELU,
    RNN_ACT_THRESHOLDED_RELU,
    RNN_ACT_SCALED_TANH,
    RNN_ACT_HARD_SIGMOID,
    RNN_ACT_ELU,
    RNN_ACT_SOFTSIGN,
    RNN_ACT_SOFTPLUS,
    RNN_ACT__COUNT
} rnn_act_kind;

typedef struct rnn_act {
    rnn_act_kind kind;
    float alpha, beta;
} rnn_act;

/* Looks up an activation by its ONNX name (case-insensitive, `len` bytes).
 * Returns 0 and sets *kind, *uses_alpha and *uses_beta, or -1 if unknown. */
int rnn_act_lookup(const char *name, size_t len, rnn_act_kind *kind, int *uses_alpha,
                   int *uses_beta);
/* The value alpha/beta take when activation_alpha/beta run out (ORT's). */
float rnn_act_default_alpha(rnn_act_kind kind);
float rnn_act_default_beta(rnn_act_kind kind);

/* Applies the activation in place to v[0..n). */
void rnn_act_apply(const rnn_act *a, float *v, int64_t n);

typedef enum rnn_cell { RNN_CELL_RNN, RNN_CELL_GRU, RNN_CELL_LSTM } rnn_cell;

/* Gates per cell: RNN 1, GRU 3 (z r h), LSTM 4 (i o f c). */
int rnn_cell_gates(rnn_cell cell);

typedef struct rnn_params {
    rnn_cell cell;
    int64_t seq_len, batch, input_size, hidden;
    int reverse;                /* this direction walks the sequence backwards */
    rnn_act act[3];             /* f, g, h (RNN uses f, GRU f and g) */
    int has_clip;
    float clip;                 /* pre-activation clip to [-clip, clip] */
    int input_forget;           /* LSTM: couple the forget gate to 1 - input */
    int linear_before_reset;    /* GRU */
} rnn_params;

/* Where one direction reads and writes. Row (t, b) of a [T, N, *] or
 * [N, T, *] tensor starts at t * stride_t + b * stride_b rows of its width. */
typedef struct rnn_dir_io {
    const float *x;             /* rows of input_size; all T*N rows densely packed */
    int64_t x_stride_t, x_stride_b;
    const float *w;             /* [gates*H, I] */
    const float *r;             /* [gates*H, H] */
    const float *b;             /* [2*gates*H] (Wb then Rb), or NULL */
    const float *p;             /* LSTM peepholes [3*H] (i o f), or NULL */
    const int32_t *lens;        /* [N], each in [0, T], or NULL for all T */
    const float *h0, *c0;       /* initial states, rows of H at b*h_stride_b, or NULL */
    float *y;                   /* element offset of (t, b): t*y_stride_t + b*y_stride_b */
    int64_t y_stride_t, y_stride_b;
    float *yh, *yc;             /* final states (row b at b*h_stride_b), or NULL */
    int64_t h_stride_b;
    float *scratch;             /* rnn_scratch_floats() floats */
    const float *r_packed;      /* LSTM: r as rnn_lstm_pack() made it, or NULL */
} rnn_dir_io;

/* Floats of scratch rnn_run_direction needs; -1 if the size overflows. */
int64_t rnn_scratch_floats(const rnn_params *p);

/* An LSTM's R [4*H, H] repacked for the recurrent step: column blocks of 16
 * hidden units times the 4 gates, each block [H, 64]. With it, one thread
 * team runs the whole sequence, each thread computing every gate of its own
 * units (see rnn.c). Packing once at load saves repacking every run.
 *     float *rp = aligned_alloc(64, rnn_lstm_packed_floats(H) * sizeof(float));
 *     rnn_lstm_pack(r, H, rp);   ...   io.r_packed = rp;
 * rnn_lstm_packed_floats() returns -1 if the size overflows. */
int64_t rnn_lstm_packed_floats(int64_t hidden);
void rnn_lstm_pack(const float *r, int64_t hidden, float *packed);

/* Runs one direction. Inputs are assumed validated (shapes, lens range). */
void rnn_run_direction(const rnn_params *p, const rnn_dir_io *io, int threads);

/* The same computation one element at a time with no GEMM: the reference
 * the fast path is tested against. Same io contract (scratch unused). */
void rnn_run_direction_reference(const rnn_params *p, const rnn_dir_io *io);

#endif
