/* test_rnn.c -- the GEMM-based recurrent cells against the scalar reference.
 *
 * Every cell (RNN, GRU with both reset placements, LSTM with and without
 * peepholes and input_forget), both directions, both layouts, ragged
 * sequence_lens (including 0), clip and non-default activations. LSTM runs
 * again over a packed R (rnn_lstm_pack), also with a hidden size that is
 * not a multiple of the 16-unit block and a batch of odd kernel tiles on a
 * two-thread team. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kernels/rnn.h"

static uint32_t rng_state = 12345;

static float frand(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *rand_buf(int64_t n) {
    float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (int64_t i = 0; p && i < n; i++) p[i] = frand();
    return p;
}

static int compare(const char *what, const char *name, const float *a, const float *b,
                   int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (fabsf(a[i] - b[i]) > 1e-4f * (1.0f + fabsf(b[i]))) {
            fprintf(stderr, "%s: %s[%lld] fast %g reference %g\n", what, name, (long long)i,
                    a[i], b[i]);
            return 1;
        }
    }
    return 0;
}

typedef struct test_case {
    rnn_cell cell;
    int reverse, layout, ragged, clip, init, peep, input_forget, lbr, odd_acts;
    int packed, big;            /* LSTM: packed R; H 150, N 7, two threads */
} test_case;

static void describe(const test_case *c, char *buf, size_t len) {
    static const char *cells[] = {"RNN", "GRU", "LSTM"};
    snprintf(buf, len,
             "%s rev=%d layout=%d ragged=%d clip=%d init=%d peep=%d if=%d lbr=%d acts=%d "
             "packed=%d big=%d",
             cells[c->cell], c->reverse, c->layout, c->ragged, c->clip, c->init, c->peep,
             c->input_forget, c->lbr, c->odd_acts, c->packed, c->big);
}

static int run_case(const test_case *c) {
    const int64_t T = 5, N = c->big ? 7 : 3, I = 4, H = c->big ? 150 : 6;
    const int64_t G = rnn_cell_gates(c->cell);
    rnn_params p = {.cell = c->cell, .seq_len = T, .batch = N, .input_size = I, .hidden = H,
                    .reverse = c->reverse, .has_clip = c->clip, .clip = 0.7f,
                    .input_forget = c->input_forget, .linear_before_reset = c->lbr};
    p.act[0] = (rnn_act){c->cell == RNN_CELL_RNN ? RNN_ACT_TANH : RNN_ACT_SIGMOID, 0, 0};
    p.act[1] = (rnn_act){RNN_ACT_TANH, 0, 0};
    p.act[2] = (rnn_act){RNN_ACT_TANH, 0, 0};
    if (c->odd_acts) {
        p.act[0] = (rnn_act){RNN_ACT_HARD_SIGMOID, 0.3f, 0.4f};
        p.act[1] = (rnn_act){RNN_ACT_LEAKY_RELU, 0.1f, 0};
        p.act[2] = (rnn_act){RNN_ACT_SCALED_TANH, 1.5f, 0.5f};
    }
    int32_t lens[7] = {5, 0, 3, 5, 1, 4, 2};
    float *x = rand_buf(T * N * I), *w = rand_buf(G * H * I), *r = rand_buf(G * H * H);
    float *b = rand_buf(2 * G * H), *pp = rand_buf(3 * H);
    float *h0 = rand_buf(N * H), *c0 = rand_buf(N * H);
    float *out[2][3];
    for (int k = 0; k < 2; k++) {
        out[k][0] = calloc((size_t)(T * N * H), sizeof(float));
        out[k][1] = calloc((size_t)(N * H), sizeof(float));
        out[k][2] = calloc((size_t)(N * H), sizeof(float));
    }
    float *scratch = malloc(sizeof(float) * (size_t)rnn_scratch_floats(&p));
    float *rp = c->packed ? malloc(sizeof(float) * (size_t)rnn_lstm_packed_floats(H)) : NULL;
    if (rp) rnn_lstm_pack(r, H, rp);
    rnn_dir_io io = {
        .x = x, .x_stride_t = c->layout ? 1 : N, .x_stride_b = c->layout ? T : 1,
        .w = w, .r = r, .b = b, .p = c->peep ? pp : NULL,
        .lens = c->ragged ? lens : NULL, .h0 = c->init ? h0 : NULL, .c0 = c->init ? c0 : NULL,
        .y_stride_t = c->layout ? H : N * H, .y_stride_b = c->layout ? T * H : H,
        .h_stride_b = H, .scratch = scratch, .r_packed = rp,
    };
    io.y = out[0][0], io.yh = out[0][1], io.yc = c->cell == RNN_CELL_LSTM ? out[0][2] : NULL;
    rnn_run_direction(&p, &io, c->big ? 2 : 1);
    io.y = out[1][0], io.yh = out[1][1], io.yc = c->cell == RNN_CELL_LSTM ? out[1][2] : NULL;
    rnn_run_direction_reference(&p, &io);
    char what[160];
    describe(c, what, sizeof what);
    int fails = compare(what, "Y", out[0][0], out[1][0], T * N * H) +
                compare(what, "Y_h", out[0][1], out[1][1], N * H) +
                compare(what, "Y_c", out[0][2], out[1][2], N * H);
    free(x), free(w), free(r), free(b), free(pp), free(h0), free(c0), free(scratch), free(rp);
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 3; j++) free(out[k][j]);
    return fails != 0;
}

static int test_activation_lookup(void) {
    rnn_act_kind k;
    int a, b;
    if (rnn_act_lookup("leakyrelu", 9, &k, &a, &b) || k != RNN_ACT_LEAKY_RELU || !a || b) {
        fprintf(stderr, "lookup of leakyrelu failed\n");
        return 1;
    }
    if (rnn_act_lookup("Tanhx", 5, &k, &a, &b) == 0) {
        fprintf(stderr, "lookup accepted Tanhx\n");
        return 1;
    }
    return 0;
}

int main(void) {
    int failed = test_activation_lookup(), total = 0;
    for (int cell = 0; cell < 3; cell++)
        for (int bits = 0; bits < 256; bits++) {
            test_case c = {.cell = (rnn_cell)cell, .reverse = bits & 1, .layout = bits >> 1 & 1,
                           .ragged = bits >> 2 & 1, .clip = bits >> 3 & 1, .init = bits >> 4 & 1,
                           .odd_acts = bits >> 5 & 1};
            int extra = bits >> 6; /* cell-specific switches */
            if (cell == RNN_CELL_RNN && extra) continue;
            if (cell == RNN_CELL_GRU && extra > 1) continue;
            c.lbr = cell == RNN_CELL_GRU && extra;
            c.peep = cell == RNN_CELL_LSTM && (extra & 1);
            c.input_forget = cell == RNN_CELL_LSTM && (extra & 2);
            failed += run_case(&c);
            total++;
            for (int big = 0; cell == RNN_CELL_LSTM && big < 2; big++) {
                c.packed = 1;
                c.big = big;
                failed += run_case(&c);
                total++;
            }
        }
    printf("test_rnn: %d of %d cases failed\n", failed, total);
    return failed != 0;
}
