/* rnn.c -- RNN, GRU and LSTM cells over float32 (see rnn.h). */

#include "rnn.h"

#include <math.h>
#include <omp.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gemm.h"
#include "vmath.h"

/* --- activations ---------------------------------------------------------- */

static const struct {
    const char *name;
    rnn_act_kind kind;
    int uses_alpha, uses_beta;
} act_table[] = {
    {"Relu", RNN_ACT_RELU, 0, 0},
    {"Tanh", RNN_ACT_TANH, 0, 0},
    {"Sigmoid", RNN_ACT_SIGMOID, 0, 0},
    {"Affine", RNN_ACT_AFFINE, 1, 1},
    {"LeakyRelu", RNN_ACT_LEAKY_RELU, 1, 0},
    {"ThresholdedRelu", RNN_ACT_THRESHOLDED_RELU, 1, 0},
    {"ScaledTanh", RNN_ACT_SCALED_TANH, 1, 1},
    {"HardSigmoid", RNN_ACT_HARD_SIGMOID, 1, 1},
    {"Elu", RNN_ACT_ELU, 1, 0},
    {"Softsign", RNN_ACT_SOFTSIGN, 0, 0},
    {"Softplus", RNN_ACT_SOFTPLUS, 0, 0},
};

int rnn_act_lookup(const char *name, size_t len, rnn_act_kind *kind, int *uses_alpha,
                   int *uses_beta) {
    for (size_t i = 0; i < sizeof act_table / sizeof act_table[0]; i++) {
        if (strlen(act_table[i].name) != len || strncasecmp(act_table[i].name, name, len))
            continue;
        *kind = act_table[i].kind;
        *uses_alpha = act_table[i].uses_alpha;
        *uses_beta = act_table[i].uses_beta;
        return 0;
    }
    return -1;
}

/* ONNX gives no defaults for the parameters of the optional activations;
 * these are ONNX Runtime's, the behaviour models are checked against. */
float rnn_act_default_alpha(rnn_act_kind kind) {
    switch (kind) {
    case RNN_ACT_LEAKY_RELU: return 0.01f;
    case RNN_ACT_HARD_SIGMOID: return 0.2f;
    case RNN_ACT_ELU: return 1.0f;
    default: return 0.0f;
    }
}

float rnn_act_default_beta(rnn_act_kind kind) {
    return kind == RNN_ACT_HARD_SIGMOID ? 0.5f : 0.0f;
}

/* Tanh and Sigmoid dominate a recurrent step after the GEMMs: they use the
 * vectorizable vmath versions (relative error < 1e-6) instead of libm, in
 * AVX-512 / AVX2 builds picked at load time (VM_TARGET_CLONES). */
VM_TARGET_CLONES void rnn_act_apply(const rnn_act *a, float *restrict v, int64_t n) {
    const float al = a->alpha, be = a->beta;
    switch (a->kind) {
    case RNN_ACT_RELU:
        VM_SIMD for (int64_t i = 0; i < n; i++) v[i] = v[i] > 0 ? v[i] : 0;
        break;
    case RNN_ACT_TANH:
        VM_SIMD for (int64_t i = 0; i < n; i++) v[i] = vm_tanhf(v[i]);
        break;
    case RNN_ACT_SIGMOID:
        VM_SIMD for (int64_t i = 0; i < n; i++) v[i] = vm_sigmoidf(v[i]);
        break;
    case RNN_ACT_AFFINE:
        VM_SIMD for (int64_t i = 0; i < n; i++) v[i] = al * v[i] + be;
        break;
    case RNN_ACT_LEAKY_RELU:
        VM_SIMD for (int64_t i = 0; i < n; i++) v[i] = v[i] >= 0 ? v[i] : al * v[i];
        break;
    case RNN_ACT_THRESHOLDED_RELU:
        VM_SIMD for (int64_t i = 0; i < n; i++) v[i] = v[i] > al ? v[i] : 0;
        break;
    case RNN_ACT_SCALED_TANH:
        VM_SIMD for (int64_t i = 0; i < n; i++) v[i] = al * vm_tanhf(be * v[i]);
        break;
    case RNN_ACT_HARD_SIGMOID:
        VM_SIMD for (int64_t i = 0; i < n; i++) {
            float y = al * v[i] + be;
            y = y > 0.0f ? y : 0.0f;
            v[i] = y < 1.0f ? y : 1.0f;
        }
        break;
    case RNN_ACT_ELU:
        VM_SIMD for (int64_t i = 0; i < n; i++) {
            v[i] = v[i] >= 0 ? v[i] : al * (vm_expf(v[i]) - 1.0f);
        }
        break;
    case RNN_ACT_SOFTSIGN:
        VM_SIMD for (int64_t i = 0; i < n; i++) v[i] = v[i] / (1.0f + fabsf(v[i]));
        break;
    case RNN_ACT_SOFTPLUS: /* log1p(e^x) overflows for large x, where it is x */
        for (int64_t i = 0; i < n; i++) v[i] = v[i] > 20.0f ? v[i] : log1pf(expf(v[i]));
        break;
    default:
        break;
    }
}

/* --- shared helpers -------------------------------------------------------- */

int rnn_cell_gates(rnn_cell cell) {
    return cell == RNN_CELL_LSTM ? 4 : cell == RNN_CELL_GRU ? 3 : 1;
}

static void clip_in_place(const rnn_params *p, float *restrict v, int64_t n) {
    if (!p->has_clip) return;
    const float c = p->clip;
    VM_SIMD for (int64_t i = 0; i < n; i++) {
        float y = v[i] < c ? v[i] : c;
        v[i] = y > -c ? y : -c;
    }
}

/* Activation k of the cell, after the pre-activation clip. */
static void activate(const rnn_params *p, int k, float *v, int64_t n) {
    clip_in_place(p, v, n);
    rnn_act_apply(&p->act[k], v, n);
}

static int64_t seq_len_of(const rnn_params *p, const rnn_dir_io *io, int64_t b) {
    return io->lens ? io->lens[b] : p->seq_len;
}

/* Timestep that step s of batch entry b visits. */
static int64_t step_time(const rnn_params *p, int64_t len, int64_t s) {
    return p->reverse ? len - 1 - s : s;
}

static void load_state(const rnn_params *p, const rnn_dir_io *io, const float *init,
                       float *state) {
    const int64_t H = p->hidden;
    for (int64_t b = 0; b < p->batch; b++) {
        if (init) memcpy(state + b * H, init + b * io->h_stride_b, (size_t)H * sizeof(float));
        else memset(state + b * H, 0, (size_t)H * sizeof(float));
    }
}

/* Final states, Y_h/Y_c, and zero Y rows past each sequence's end. A
 * sequence of length 0 has zero final states (ORT's convention). */
static void store_results(const rnn_params *p, const rnn_dir_io *io, const float *h,
                          const float *c) {
    const int64_t H = p->hidden;
    const size_t row = (size_t)H * sizeof(float);
    for (int64_t b = 0; b < p->batch; b++) {
        int64_t len = seq_len_of(p, io, b);
        if (io->yh) {
            if (len > 0) memcpy(io->yh + b * io->h_stride_b, h + b * H, row);
            else memset(io->yh + b * io->h_stride_b, 0, row);
        }
        if (io->yc && c) {
            if (len > 0) memcpy(io->yc + b * io->h_stride_b, c + b * H, row);
            else memset(io->yc + b * io->h_stride_b, 0, row);
        }
        if (io->y)
            for (int64_t t = len; t < p->seq_len; t++)
                memset(io->y + t * io->y_stride_t + b * io->y_stride_b, 0, row);
    }
}

static int mul_ok(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

/* Hidden units per packed column block of R, and its columns (4 gates). */
#define RK_UNITS 16
#define RK_COLS (4 * RK_UNITS)

static int64_t units_padded(int64_t H) { return (H + RK_UNITS - 1) / RK_UNITS * RK_UNITS; }

int64_t rnn_scratch_floats(const rnn_params *p) {
    const int64_t G = rnn_cell_gates(p->cell), H = p->hidden, N = p->batch;
    int64_t gh, rows, xw, gates, nh, gpad = 0;
    if (!mul_ok(G, H, &gh) || !mul_ok(p->seq_len, N, &rows) || !mul_ok(rows, gh, &xw) ||
        !mul_ok(N, gh, &gates) || !mul_ok(N, H, &nh))
        return -1;
    /* the packed LSTM path's gates, [N, 4, H rounded up to a block] */
    if (p->cell == RNN_CELL_LSTM && !mul_ok(N * 4, units_padded(H), &gpad)) return -1;
    /* xw, gates, h, c (LSTM) or r*h (GRU), one row of bias; packed LSTM:
     * its gates and a second h (double-buffered across the team) */
    int64_t total = 0;
    int64_t parts[] = {xw, gates, nh, nh, gh, gpad, p->cell == RNN_CELL_LSTM ? nh : 0};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (__builtin_add_overflow(total, parts[i], &total)) return -1;
    return total;
}

/* --- the fast path --------------------------------------------------------- */

/* Work below which a step's recurrent GEMM runs on one thread. */
#define STEP_PARALLEL_FLOPS (16 << 20)

/* Bias folded into the input projection: Wb + Rb for every gate except
 * GRU's h gate with linear_before_reset, whose Rb sits inside r * (...). */
static void input_bias(const rnn_params *p, const float *b, float *out) {
    const int64_t gh = rnn_cell_gates(p->cell) * p->hidden;
    VM_SIMD for (int64_t j = 0; j < gh; j++) out[j] = b[j] + b[gh + j];
    if (p->cell == RNN_CELL_GRU && p->linear_before_reset) {
        VM_SIMD for (int64_t j = 2 * p->hidden; j < gh; j++) out[j] = b[j];
    }
}

/* xw[row] = x[row] * W^T + bias for all T*N rows in one GEMM. */
static void project_inputs(const rnn_params *p, const rnn_dir_io *io, float *xw,
                           float *bias, int threads) {
    const int64_t gh = rnn_cell_gates(p->cell) * p->hidden;
    const int64_t rows = p->seq_len * p->batch;
    gemm_f32(0, 1, rows, gh, p->input_size, 1.0f, io->x, p->input_size, io->w,
             p->input_size, 0.0f, xw, gh, threads);
    if (!io->b) return;
    input_bias(p, io->b, bias);
    for (int64_t r = 0; r < rows; r++) {
        float *restrict row = xw + r * gh;
        VM_SIMD for (int64_t j = 0; j < gh; j++) row[j] += bias[j];
    }
}

static void rnn_step(const rnn_params *p, float *restrict g, const float *restrict xr,
                     float *restrict h) {
    const int64_t H = p->hidden;
    VM_SIMD for (int64_t j = 0; j < H; j++) g[j] += xr[j];
    activate(p, 0, g, H);
    memcpy(h, g, (size_t)H * sizeof(float));
}

/* The LSTM update of n units: g holds their recurrent pre-activations (gates
 * i o f c, gs apart), xr the input ones (xs apart), pp the peepholes (i o f,
 * H apart) or NULL; c is updated in place and h written. */
VM_TARGET_CLONES static void lstm_units(const rnn_params *p, const float *pp, float *restrict g, int64_t gs,
                       const float *restrict xr, int64_t xs, float *restrict h,
                       float *restrict c, int64_t n) {
    const int64_t H = p->hidden;
    float *restrict gi = g, *restrict go = g + gs, *restrict gf = g + 2 * gs,
                    *restrict gc = g + 3 * gs;
    for (int q = 0; q < 4; q++) {
        float *restrict gq = g + q * gs;
        const float *restrict xq = xr + q * xs;
        VM_SIMD for (int64_t j = 0; j < n; j++) gq[j] += xq[j];
    }
    if (pp) {
        VM_SIMD for (int64_t j = 0; j < n; j++) {
            gi[j] += pp[j] * c[j];
            gf[j] += pp[2 * H + j] * c[j];
        }
    }
    activate(p, 0, gi, n);
    if (p->input_forget) {
        VM_SIMD for (int64_t j = 0; j < n; j++) gf[j] = 1.0f - gi[j];
    } else {
        activate(p, 0, gf, n);
    }
    activate(p, 1, gc, n);
    VM_SIMD for (int64_t j = 0; j < n; j++) c[j] = gf[j] * c[j] + gi[j] * gc[j];
    if (pp) {
        VM_SIMD for (int64_t j = 0; j < n; j++) go[j] += pp[H + j] * c[j];
    }
    activate(p, 0, go, n);
    memcpy(gc, c, (size_t)n * sizeof(float));
    rnn_act_apply(&p->act[2], gc, n);
    VM_SIMD for (int64_t j = 0; j < n; j++) h[j] = go[j] * gc[j];
}

static void lstm_step(const rnn_params *p, const float *pp, float *g, const float *xr,
                      float *h, float *c) {
    const int64_t H = p->hidden;
    lstm_units(p, pp, g, H, xr, H, h, c, H);
}

/* GRU's z and r gates; g holds H*R^T for them, xr the input part. */
static void gru_zr(const rnn_params *p, float *restrict g, const float *restrict xr) {
    const int64_t H2 = 2 * p->hidden;
    VM_SIMD for (int64_t j = 0; j < H2; j++) g[j] += xr[j];
    activate(p, 0, g, H2);
}

/* GRU's h gate and the new state; gh already holds the recurrent term
 * (r applied for linear_before_reset = 0, not yet for 1). */
static void gru_finish(const rnn_params *p, const float *rbh, float *restrict g,
                       const float *restrict xr, float *restrict h) {
    const int64_t H = p->hidden;
    const float *restrict z = g, *restrict r = g + H, *restrict xh = xr + 2 * H;
    float *restrict gh = g + 2 * H;
    if (p->linear_before_reset) {
        VM_SIMD for (int64_t j = 0; j < H; j++) gh[j] = xh[j] + r[j] * (gh[j] + rbh[j]);
    } else {
        VM_SIMD for (int64_t j = 0; j < H; j++) gh[j] += xh[j];
    }
    activate(p, 1, gh, H);
    VM_SIMD for (int64_t j = 0; j < H; j++) h[j] = (1.0f - z[j]) * gh[j] + z[j] * h[j];
}

/* One step of GRU with linear_before_reset = 0: (r * H) * Rh^T needs r
 * first, so the batch is walked twice around a second GEMM. */
static void gru_step_reset_first(const rnn_params *p, const rnn_dir_io *io, int64_t s,
                                 const float *xw, float *gates, float *h, float *rh,
                                 int threads) {
    const int64_t H = p->hidden, gh = 3 * H, N = p->batch;
    for (int64_t b = 0; b < N; b++) {
        int64_t len = seq_len_of(p, io, b);
        float *restrict rrow = rh + b * H;
        if (s >= len) {
            memset(rrow, 0, (size_t)H * sizeof(float));
            continue;
        }
        int64_t t = step_time(p, len, s);
        float *g = gates + b * gh;
        gru_zr(p, g, xw + (t * io->x_stride_t + b * io->x_stride_b) * gh);
        const float *restrict hb = h + b * H, *restrict r = g + H;
        VM_SIMD for (int64_t j = 0; j < H; j++) rrow[j] = r[j] * hb[j];
    }
    gemm_f32(0, 1, N, H, H, 1.0f, rh, H, io->r + 2 * H * H, H, 0.0f, gates + 2 * H, gh,
             threads);
}

static void write_y(const rnn_dir_io *io, int64_t H, int64_t t, int64_t b, const float *h) {
    if (io->y)
        memcpy(io->y + t * io->y_stride_t + b * io->y_stride_b, h, (size_t)H * sizeof(float));
}

/* --- LSTM over a packed R ------------------------------------------------------ */

/* An LSTM step's GEMM is N rows (the batch, often 1..8) times R^T [H, 4H]:
 * too skinny for sgemm, which repacks all of R on every call, and too short
 * for a thread-team fork per step. Here R is packed once into blocks of 16
 * hidden units x 4 gates ([H, 64] each), one team runs the whole sequence,
 * and each thread owns a range of blocks: it computes every gate of its units
 * with a register-tiled kernel, updates their c and h, and the team meets at
 * one barrier per step (h is double-buffered). */

int64_t rnn_lstm_packed_floats(int64_t hidden) {
    int64_t n;
    if (hidden < 0 || !mul_ok(units_padded(hidden) * 4, hidden, &n)) return -1;
    return n;
}

void rnn_lstm_pack(const float *r, int64_t H, float *packed) {
    const int64_t blocks = units_padded(H) / RK_UNITS;
    for (int64_t ub = 0; ub < blocks; ub++) {
        float *dst = packed + ub * H * RK_COLS;
        for (int q = 0; q < 4; q++) {
            for (int j = 0; j < RK_UNITS; j++) {
                int64_t u = ub * RK_UNITS + j;
                const float *row = r + (q * H + u) * H;
                for (int64_t k = 0; k < H; k++)
                    dst[k * RK_COLS + q * RK_UNITS + j] = u < H ? row[k] : 0.0f;
            }
        }
    }
}

/* Batch rows per kernel tile: 6 x 4 vector accumulators fit AVX-512's 32
 * registers with the 4 block vectors and one broadcast. */
#define RK_MR 6

typedef float rk_vec __attribute__((vector_size(64)));

/* Unaligned vector moves (macros: a vector argument or return value would
 * have a different ABI in each target clone). */
#define RK_LOAD(v, p) memcpy(&(v), (p), sizeof(v))
#define RK_STORE(p, v) memcpy((p), &(v), sizeof(v))

/* g[r*ld_row + q*ld_gate + j] = sum_k h[r*ldh + k] * blk[k*64 + q*16 + j]
 * for r < mr (a constant after inlining, so acc stays in registers). */
static inline __attribute__((always_inline)) void rk_tile(const int mr, int64_t K,
                                                           const float *h, int64_t ldh,
                                                           const float *blk, float *g,
                                                           int64_t ld_row, int64_t ld_gate) {
    rk_vec acc[RK_MR][4];
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
        for (int q = 0; q < 4; q++) acc[r][q] = (rk_vec){0};
    for (int64_t k = 0; k < K; k++) {
        const float *b = blk + k * RK_COLS;
        rk_vec b0, b1, b2, b3;
        RK_LOAD(b0, b);
        RK_LOAD(b1, b + 16);
        RK_LOAD(b2, b + 32);
        RK_LOAD(b3, b + 48);
#pragma GCC unroll 8
        for (int r = 0; r < mr; r++) {
            /* h - 0 folds to a plain broadcast (h + 0 would not: -0) */
            const rk_vec a = h[r * ldh + k] - (rk_vec){0};
            acc[r][0] += a * b0;
            acc[r][1] += a * b1;
            acc[r][2] += a * b2;
            acc[r][3] += a * b3;
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
        for (int q = 0; q < 4; q++) RK_STORE(g + r * ld_row + q * ld_gate, acc[r][q]);
}

/* All N rows of h [N, K] against one packed block. */
VM_TARGET_CLONES static void rk_rows(int64_t N, int64_t K, const float *h, const float *blk,
                                     float *g, int64_t ld_row, int64_t ld_gate) {
    /* Even tiles: 8 rows as 4 + 4, not 6 + 2 (a short tile loads as much
     * of the block per FMA as a full one). */
    const int64_t tiles = (N + RK_MR - 1) / RK_MR, mr = tiles ? (N + tiles - 1) / tiles : 0;
    for (int64_t r0 = 0; r0 < N; r0 += mr) {
        const float *hr = h + r0 * K;
        float *gr = g + r0 * ld_row;
        switch (N - r0 < mr ? N - r0 : mr) {
        case 1: rk_tile(1, K, hr, K, blk, gr, ld_row, ld_gate); break;
        case 2: rk_tile(2, K, hr, K, blk, gr, ld_row, ld_gate); break;
        case 3: rk_tile(3, K, hr, K, blk, gr, ld_row, ld_gate); break;
        case 4: rk_tile(4, K, hr, K, blk, gr, ld_row, ld_gate); break;
        case 5: rk_tile(5, K, hr, K, blk, gr, ld_row, ld_gate); break;
        default: rk_tile(6, K, hr, K, blk, gr, ld_row, ld_gate); break;
        }
    }
}

/* The team's per-step barrier. libgomp's barrier spins GOMP_SPINCOUNT
 * rounds (a few microseconds) and then sleeps on a futex; a step is tens of
 * microseconds, so nearly every step paid a wake-up (the 2-thread team was
 * slower than one thread). This one spins for up to RK_SPIN_NS, longer than
 * two threads' usual skew within a step, and then sleeps on a futex too:
 * spinning on beyond that only takes the core from whichever thread (ours,
 * or another process on a shared machine) it is waiting for.
 *
 * Waits beyond the spin mean a teammate keeps losing its core (a shared
 * machine, where the scheduler may even stack both threads on one CPU):
 * then per-step sync costs more than the second core brings, so after
 * RK_SLOW_WAITS of them (not counting the first step, which waits for the
 * team's wake-up) the team goes solo from the next step on: thread 0 takes
 * every block. The decision is published at a barrier, before its sense
 * flips, so every thread sees the same one. */
typedef struct rk_barrier {
    atomic_int arrived, sense, n, sleepers;
    atomic_int slow;            /* waits that outlasted the spin */
    atomic_int solo;            /* from the next step on, thread 0 alone */
} rk_barrier;

#define RK_SPIN_NS 50000
#define RK_SLOW_WAITS 3

static int64_t rk_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void rk_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* futex on an atomic_int: same size and representation as int here. */
static void rk_futex(atomic_int *addr, int op, int val) {
    syscall(SYS_futex, (int *)addr, op, val, NULL, NULL, 0);
}

/* count_slow: whether a wait that outlasts the spin counts towards solo. */
static void rk_barrier_wait(rk_barrier *b, int *my_sense, int count_slow) {
    const int s = !*my_sense;
    *my_sense = s;
    if (atomic_fetch_add(&b->arrived, 1) == atomic_load(&b->n) - 1) {
        atomic_store(&b->arrived, 0);
        if (atomic_load(&b->slow) >= RK_SLOW_WAITS) atomic_store(&b->solo, 1);
        atomic_store(&b->sense, s);
        if (atomic_load(&b->sleepers)) rk_futex(&b->sense, FUTEX_WAKE_PRIVATE, INT_MAX);
        return;
    }
    int64_t start = 0;
    for (unsigned spins = 0; atomic_load(&b->sense) != s; spins++) {
        rk_pause();
        if (spins % 256 != 255) continue;
        if (!start) {
            start = rk_now_ns();
        } else if (rk_now_ns() - start > RK_SPIN_NS) {
            /* seq_cst: either the last thread sees us counted, or we see its sense */
            atomic_fetch_add(&b->sleepers, 1);
            while (atomic_load(&b->sense) != s) rk_futex(&b->sense, FUTEX_WAIT_PRIVATE, !s);
            atomic_fetch_sub(&b->sleepers, 1);
            if (count_slow) atomic_fetch_add(&b->slow, 1);
            return;
        }
    }
}

typedef struct lstm_team {
    const rnn_params *p;
    const rnn_dir_io *io;
    const float *xw;            /* input projections, [rows, 4H] */
    float *g;                   /* gates [N, 4, NU] */
    float *h[2];                /* h before / after a step, [N, H] each */
    float *c;                   /* [N, H] */
    int64_t steps, nu_all;      /* nu_all: H rounded up to a block */
    rk_barrier *barrier;
} lstm_team;

/* Thread tid of nt: the blocks [b0, b1) for every step. */
static void lstm_team_run(const lstm_team *tm, int tid, int nt) {
    const rnn_params *p = tm->p;
    const rnn_dir_io *io = tm->io;
    const int64_t H = p->hidden, N = p->batch, NU = tm->nu_all, blocks = NU / RK_UNITS;
    int sense = 0;
    atomic_store(&tm->barrier->n, nt);
    for (int64_t s = 0; s < tm->steps; s++) {
        const int solo = nt == 1 || atomic_load(&tm->barrier->solo);
        if (solo && tid != 0) break;
        const int64_t b0 = solo ? 0 : blocks * tid / nt, b1 = solo ? blocks : blocks * (tid + 1) / nt;
        const int64_t u0 = b0 * RK_UNITS, u1 = b1 * RK_UNITS < H ? b1 * RK_UNITS : H;
        const int64_t nu = u1 > u0 ? u1 - u0 : 0;
        const size_t bytes = (size_t)nu * sizeof(float);
        const float *hp = tm->h[s & 1];
        float *hn = tm->h[(s & 1) ^ 1];
        for (int64_t ub = b0; ub < b1; ub++)
            rk_rows(N, H, hp, io->r_packed + ub * H * RK_COLS, tm->g + ub * RK_UNITS, 4 * NU, NU);
        for (int64_t b = 0; nu && b < N; b++) {
            int64_t len = seq_len_of(p, io, b);
            float *hb = hn + b * H + u0;
            if (s >= len) { /* finished: its state carries over */
                memcpy(hb, hp + b * H + u0, bytes);
                continue;
            }
            int64_t t = step_time(p, len, s);
            const float *xr = tm->xw + (t * io->x_stride_t + b * io->x_stride_b) * 4 * H + u0;
            lstm_units(p, io->p ? io->p + u0 : NULL, tm->g + b * 4 * NU + u0, NU, xr, H, hb,
                       tm->c + b * H + u0, nu);
            if (io->y) memcpy(io->y + t * io->y_stride_t + b * io->y_stride_b + u0, hb, bytes);
        }
        if (!solo) rk_barrier_wait(tm->barrier, &sense, s > 0);
    }
}

/* Work per step below which the team is one thread. */
#define LSTM_TEAM_FLOPS (1 << 20)

static void lstm_packed(const rnn_params *p, const rnn_dir_io *io, int threads) {
    const int64_t H = p->hidden, N = p->batch, gh = 4 * H;
    float *xw = io->scratch, *gates = xw + p->seq_len * N * gh, *h = gates + N * gh;
    float *c = h + N * H, *bias = c + N * H, *gpad = bias + gh;
    float *h2 = gpad + N * 4 * units_padded(H);
    project_inputs(p, io, xw, bias, threads);
    load_state(p, io, io->h0, h);
    load_state(p, io, io->c0, c);
    int64_t steps = 0;
    for (int64_t b = 0; b < N; b++)
        if (seq_len_of(p, io, b) > steps) steps = seq_len_of(p, io, b);
    rk_barrier barrier;
    atomic_init(&barrier.arrived, 0);
    atomic_init(&barrier.sense, 0);
    atomic_init(&barrier.n, 1);
    atomic_init(&barrier.sleepers, 0);
    atomic_init(&barrier.slow, 0);
    atomic_init(&barrier.solo, 0);
    lstm_team tm = {.p = p, .io = io, .xw = xw, .g = gpad, .h = {h, h2}, .c = c,
                    .steps = steps, .nu_all = units_padded(H), .barrier = &barrier};
    int64_t blocks = tm.nu_all / RK_UNITS;
    int nt = 2 * N * gh * H >= LSTM_TEAM_FLOPS ? threads : 1;
    if (nt > blocks) nt = (int)blocks;
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        lstm_team_run(&tm, omp_get_thread_num(), omp_get_num_threads());
    } else {
        lstm_team_run(&tm, 0, 1);
    }
    store_results(p, io, tm.h[steps & 1], c);
}

void rnn_run_direction(const rnn_params *p, const rnn_dir_io *io, int threads) {
    if (p->cell == RNN_CELL_LSTM && io->r_packed) {
        lstm_packed(p, io, threads);
        return;
    }
    const int64_t H = p->hidden, N = p->batch, G = rnn_cell_gates(p->cell), gh = G * H;
    float *xw = io->scratch, *gates = xw + p->seq_len * N * gh, *h = gates + N * gh;
    float *aux = h + N * H, *bias = aux + N * H; /* aux: LSTM c, GRU r*h */
    /* GRU's Rb for the h gate (zeros without B: the bias row is unused) */
    const float *rbh = io->b ? io->b + gh + 2 * H : bias + 2 * H;
    const int gru_reset_first = p->cell == RNN_CELL_GRU && !p->linear_before_reset;

    if (!io->b) memset(bias, 0, (size_t)gh * sizeof(float));
    project_inputs(p, io, xw, bias, threads);
    load_state(p, io, io->h0, h);
    if (p->cell == RNN_CELL_LSTM) load_state(p, io, io->c0, aux);

    int64_t steps = 0;
    for (int64_t b = 0; b < N; b++)
        if (seq_len_of(p, io, b) > steps) steps = seq_len_of(p, io, b);

    /* A step's GEMM is small and there are T of them in a row: a thread
     * team's fork and barrier per step cost more than they save unless the
     * step is big (and far more when the cores are shared). */
    const int step_threads = 2 * N * gh * H >= STEP_PARALLEL_FLOPS ? threads : 1;
    /* Columns of H * R^T computed per step: GRU's h gate waits for r. */
    const int64_t rec_cols = gru_reset_first ? 2 * H : gh;
    for (int64_t s = 0; s < steps; s++) {
        gemm_f32(0, 1, N, rec_cols, H, 1.0f, h, H, io->r, H, 0.0f, gates, gh, step_threads);
        if (gru_reset_first) gru_step_reset_first(p, io, s, xw, gates, h, aux, step_threads);
        for (int64_t b = 0; b < N; b++) {
            int64_t len = seq_len_of(p, io, b);
            if (s >= len) continue;
            int64_t t = step_time(p, len, s);
            float *g = gates + b * gh, *hb = h + b * H;
            const float *xr = xw + (t * io->x_stride_t + b * io->x_stride_b) * gh;
            switch (p->cell) {
            case RNN_CELL_RNN: rnn_step(p, g, xr, hb); break;
            case RNN_CELL_LSTM: lstm_step(p, io->p, g, xr, hb, aux + b * H); break;
            case RNN_CELL_GRU:
                if (!gru_reset_first) gru_zr(p, g, xr);
                gru_finish(p, rbh, g, xr, hb);
                break;
            }
            write_y(io, H, t, b, hb);
        }
    }
    store_results(p, io, h, p->cell == RNN_CELL_LSTM ? aux : NULL);
}

/* --- the reference ----------------------------------------------------------- */

static float dot(const float *a, const float *b, int64_t n) {
    double acc = 0;
    for (int64_t i = 0; i < n; i++) acc += (double)a[i] * b[i];
    return (float)acc;
}

static float act1(const rnn_params *p, int k, float v) {
    if (p->has_clip) v = fminf(fmaxf(v, -p->clip), p->clip);
    rnn_act_apply(&p->act[k], &v, 1);
    return v;
}

/* Gate k (0-based) pre-activation from the input: x . W[k] + Wb[k]. */
static float ref_in(const rnn_params *p, const rnn_dir_io *io, const float *x, int64_t k) {
    return dot(x, io->w + k * p->input_size, p->input_size) + (io->b ? io->b[k] : 0);
}

/* Gate k pre-activation from the state: v . R[k] + Rb[k]. */
static float ref_rec(const rnn_params *p, const rnn_dir_io *io, const float *v, int64_t k) {
    const int64_t gh = rnn_cell_gates(p->cell) * p->hidden;
    return dot(v, io->r + k * p->hidden, p->hidden) + (io->b ? io->b[gh + k] : 0);
}

static void ref_step(const rnn_params *p, const rnn_dir_io *io, const float *x, float *h,
                     float *c, float *tmp) {
    const int64_t H = p->hidden;
    for (int64_t j = 0; j < H; j++) {
        switch (p->cell) {
        case RNN_CELL_RNN:
            tmp[j] = act1(p, 0, ref_in(p, io, x, j) + ref_rec(p, io, h, j));
            break;
        case RNN_CELL_GRU: {
            float z = act1(p, 0, ref_in(p, io, x, j) + ref_rec(p, io, h, j));
            float r = act1(p, 0, ref_in(p, io, x, H + j) + ref_rec(p, io, h, H + j));
            /* without linear_before_reset the recurrent term needs every r
             * first: it is added after this loop */
            float hh = ref_in(p, io, x, 2 * H + j);
            if (p->linear_before_reset) hh += r * ref_rec(p, io, h, 2 * H + j);
            tmp[j] = z;
            tmp[H + j] = r;
            tmp[2 * H + j] = hh;
            break;
        }
        case RNN_CELL_LSTM: {
            float pi = io->p ? io->p[j] * c[j] : 0, pf = io->p ? io->p[2 * H + j] * c[j] : 0;
            float i = act1(p, 0, ref_in(p, io, x, j) + ref_rec(p, io, h, j) + pi);
            float f = 1.0f - i;
            if (!p->input_forget)
                f = act1(p, 0, ref_in(p, io, x, 2 * H + j) + ref_rec(p, io, h, 2 * H + j) + pf);
            float g = act1(p, 1, ref_in(p, io, x, 3 * H + j) + ref_rec(p, io, h, 3 * H + j));
            float cn = f * c[j] + i * g;
            float po = io->p ? io->p[H + j] * cn : 0;
            float o = act1(p, 0, ref_in(p, io, x, H + j) + ref_rec(p, io, h, H + j) + po);
            float hc = cn;
            rnn_act_apply(&p->act[2], &hc, 1);
            tmp[j] = o * hc;
            tmp[H + j] = cn;
            break;
        }
        }
    }
    if (p->cell == RNN_CELL_GRU) {
        float *z = tmp, *r = tmp + H, *hh = tmp + 2 * H;
        if (!p->linear_before_reset) { /* (r . h) R_h^T, element by element */
            float *rh = tmp + 3 * H;
            for (int64_t q = 0; q < H; q++) rh[q] = r[q] * h[q];
            for (int64_t j = 0; j < H; j++) hh[j] += ref_rec(p, io, rh, 2 * H + j);
        }
        for (int64_t j = 0; j < H; j++) {
            float a = act1(p, 1, hh[j]);
            h[j] = (1.0f - z[j]) * a + z[j] * h[j];
        }
        return;
    }
    memcpy(h, tmp, (size_t)H * sizeof(float));
    if (c) memcpy(c, tmp + H, (size_t)H * sizeof(float));
}

void rnn_run_direction_reference(const rnn_params *p, const rnn_dir_io *io) {
    const int64_t H = p->hidden, N = p->batch;
    float *h = io->scratch, *c = h + N * H, *tmp = c + N * H;
    load_state(p, io, io->h0, h);
    load_state(p, io, io->c0, c);
    for (int64_t b = 0; b < N; b++) {
        int64_t len = seq_len_of(p, io, b);
        for (int64_t s = 0; s < len; s++) {
            int64_t t = step_time(p, len, s);
            const float *x = io->x + (t * io->x_stride_t + b * io->x_stride_b) * p->input_size;
            ref_step(p, io, x, h + b * H, p->cell == RNN_CELL_LSTM ? c + b * H : NULL, tmp);
            write_y(io, H, t, b, h + b * H);
        }
    }
    store_results(p, io, h, p->cell == RNN_CELL_LSTM ? c : NULL);
}
