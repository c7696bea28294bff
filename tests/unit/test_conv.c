/* test_conv.c -- the fast convolution kernels against their references, on
 * random geometries: groups (incl. depthwise), dilations, strides, pads,
 * 1-D/2-D/3-D, tiles, and serial and split-thread schedules. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kernels/conv.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static int64_t rnd(int64_t lo, int64_t hi) { /* inclusive */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (int64_t)(rng % (uint64_t)(hi - lo + 1));
}

static void fill(float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++) v[i] = (float)rnd(-1000, 1000) / 1000.0f;
}

/* A pretend executor: runs the chunks one after another, in `threads` pieces,
 * so the multi-slot schedules are exercised deterministically. */
static void fake_run(const void *ctx, int64_t n, kpar_fn fn, void *arg) {
    int parts = *(const int *)ctx;
    for (int i = 0; i < parts; i++) {
        int64_t b = n * i / parts, e = n * (i + 1) / parts;
        if (e > b) fn(arg, b, e);
    }
}

static int compare(const char *what, const conv_geom *g, const float *got, const float *want,
                   int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float tol = 1e-4f * (1.0f + fabsf(want[i]));
        if (!(fabsf(got[i] - want[i]) <= tol)) {
            fprintf(stderr,
                    "%s mismatch at %lld: %g vs %g (nsp %d N %lld C %lld M %lld group %lld "
                    "in %lld,%lld k %lld,%lld s %lld,%lld d %lld,%lld p %lld,%lld)\n",
                    what, (long long)i, got[i], want[i], g->nsp, (long long)g->batch,
                    (long long)g->in_ch, (long long)g->out_ch, (long long)g->group,
                    (long long)g->in[0], (long long)g->in[1], (long long)g->kernel[0],
                    (long long)g->kernel[1], (long long)g->stride[0], (long long)g->stride[1],
                    (long long)g->dilation[0], (long long)g->dilation[1], (long long)g->pad[0],
                    (long long)g->pad[1]);
            return 1;
        }
    }
    return 0;
}

static void random_geom(conv_geom *g, int big) {
    memset(g, 0, sizeof *g);
    g->nsp = (int)rnd(1, 3);
    if (big) g->nsp = 2;
    int kind = (int)rnd(0, 3); /* 0 dense, 1 grouped, 2 depthwise, 3 depthwise x2 */
    int64_t group = 1, cg = rnd(1, big ? 48 : 5), mg = rnd(1, big ? 48 : 5);
    if (kind == 1) group = rnd(2, 3);
    if (kind >= 2) {
        group = rnd(2, 8);
        cg = 1;
        mg = kind == 2 ? 1 : 2;
    }
    g->batch = rnd(1, 2);
    g->group = group;
    g->in_ch = cg * group;
    g->out_ch = mg * group;
    int pointwise = rnd(0, 4) == 0;
    for (int d = 0; d < g->nsp; d++) {
        int64_t span = g->nsp == 3 ? 6 : big ? 40 : 12;
        g->in[d] = rnd(1, span);
        g->kernel[d] = pointwise ? 1 : rnd(1, 3);
        g->stride[d] = pointwise ? 1 : rnd(1, 3);
        g->dilation[d] = pointwise ? 1 : rnd(1, 2);
        g->pad[d] = pointwise ? 0 : rnd(0, 2);
        int64_t trail = pointwise ? 0 : rnd(0, 2);
        int64_t eff = g->dilation[d] * (g->kernel[d] - 1) + 1;
        int64_t span_in = g->in[d] + g->pad[d] + trail;
        if (span_in < eff) { /* make the window fit */
            g->in[d] += eff - span_in;
            span_in = eff;
        }
        g->out[d] = (span_in - eff) / g->stride[d] + 1;
    }
}

static int check_one(const conv_geom *g, int transpose) {
    int64_t isz = conv_in_size(g), osz = conv_out_size(g), ksz = conv_kernel_size(g);
    int64_t nx = g->batch * g->in_ch * isz, ny = g->batch * g->out_ch * osz;
    int64_t nw = g->out_ch * (g->in_ch / g->group) * ksz;
    if (transpose) { /* x lives in the output space, y in the input space */
        int64_t t = nx;
        nx = ny;
        ny = t;
    }
    float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * nw);
    float *bias = malloc(sizeof(float) * (g->in_ch + g->out_ch));
    float *want = malloc(sizeof(float) * ny), *got = malloc(sizeof(float) * ny);
    int bad = 0;
    fill(x, nx);
    fill(w, nw);
    fill(bias, g->in_ch + g->out_ch);
    conv_post post = {.bias = rnd(0, 1) ? bias : NULL, .act = (conv_act)rnd(0, 2),
                      .lo = -0.5f, .hi = 0.5f};
    if (transpose) conv_transpose_f32_reference(g, x, w, &post, want);
    else conv_f32_reference(g, x, w, &post, want);
    for (int threads = 1; threads <= 3 && !bad; threads++) {
        kpar par = {.run = fake_run, .ctx = &threads, .threads = threads};
        size_t sb = transpose ? conv_transpose_f32_scratch(g, threads)
                              : conv_f32_scratch(g, threads);
        float *scratch = malloc(sb ? sb : 1);
        memset(got, 0xff, sizeof(float) * ny); /* NaNs: every value must be written */
        if (transpose) conv_transpose_f32(g, x, w, &post, got, scratch, &par);
        else conv_f32(g, x, w, &post, got, scratch, &par);
        bad = compare(transpose ? "conv_transpose" : "conv", g, got, want, ny);
        free(scratch);
    }
    free(x);
    free(w);
    free(bias);
    free(want);
    free(got);
    return bad;
}

int main(void) {
    int failures = 0, cases = 0;
    for (int i = 0; i < 400; i++, cases++) {
        conv_geom g;
        random_geom(&g, i % 20 == 0);
        failures += check_one(&g, 0);
        if (i % 2 == 0) failures += check_one(&g, 1), cases++;
    }
    /* "Same" stride-1 convolutions (the shifted-plane im2col), with
     * asymmetric pads, dilations and sizes large enough to be tiled. */
    for (int i = 0; i < 60; i++, cases++) {
        conv_geom g = {.nsp = 2, .batch = rnd(1, 2), .group = 1, .in_ch = rnd(1, i % 10 ? 6 : 40),
                       .out_ch = rnd(1, 8)};
        for (int d = 0; d < 2; d++) {
            g.kernel[d] = rnd(1, 5);
            g.dilation[d] = rnd(1, 2);
            g.stride[d] = 1;
            g.in[d] = g.out[d] = rnd(1, i % 10 ? 12 : 60);
            g.pad[d] = rnd(0, g.dilation[d] * (g.kernel[d] - 1)); /* trailing pad: the rest */
        }
        failures += check_one(&g, 0);
    }
    /* A layer large enough to be tiled. */
    conv_geom big = {.nsp = 2, .batch = 1, .in_ch = 64, .out_ch = 32, .group = 1,
                     .in = {40, 40}, .out = {40, 40}, .kernel = {3, 3}, .stride = {1, 1},
                     .dilation = {1, 1}, .pad = {1, 1}};
    failures += check_one(&big, 0), cases++;
    printf("test_conv: %d cases, %d failures\n", cases, failures);
    return failures != 0;
}
