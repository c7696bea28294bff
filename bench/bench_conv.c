/* bench_conv.c -- GFLOP/s of the fp32 convolution kernels on one layer.
 *
 * Build (from the repository root, after building the engine in build/):
 *   gcc -O2 -std=c17 -fopenmp -Isrc bench/bench_conv.c build/libinferd_engine.a \
 *       build/libinferd_common.a -ldnnl -lm -o build/bench_conv
 * Run: build/bench_conv [threads] [C M H K stride group]
 *   default: 2 threads, 256 -> 256 channels, 3x3, 56x56 (square), stride 1, group 1
 *      build/bench_conv resnet50 [threads]
 *   every convolution of ResNet-50 at batch 1, and their total
 * Threads run as the executor runs them: an OpenMP team per parallel loop. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "conv_bench.h"
#include "engine/kernels/conv.h"
#include "engine/kernels/gemm.h"

static const bench_layer resnet50[] = {BENCH_RESNET50};

/* Best time of one conv over several short rounds (the machine is shared);
 * *gemm_s gets the best time of a bare sgemm of the same shape. */
static double bench_one(const conv_geom *g, int threads, double *gemm_s) {
    int64_t c = g->in_ch, m = g->out_ch, grp = g->group, k = g->kernel[0];
    int64_t osz = g->out[0] * g->out[1], kk = c / grp * k * k;
    size_t nx = (size_t)(c * g->in[0] * g->in[1]), nw = (size_t)(m * kk), ny = (size_t)(m * osz);
    float *x = malloc(nx * 4), *wt = malloc(nw * 4), *y = malloc(ny * 4), *b = malloc(m * 4);
    float *col = malloc((size_t)(kk * osz) * 4 + 4);
    for (size_t i = 0; i < nx; i++) x[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < nw; i++) wt[i] = (float)(i % 5) * 0.01f;
    for (int64_t i = 0; i < m; i++) b[i] = 0.5f;
    for (int64_t i = 0; i < kk * osz; i++) col[i] = 0.01f;
    float *scratch = aligned_alloc(64, (conv_f32_scratch(g, threads) + 127) / 64 * 64);
    kpar par = {.run = bench_omp_run, .ctx = &threads, .threads = threads};
    conv_post post = {.bias = b};
    double flop = 2.0 * (double)m * (double)kk * (double)osz;
    int iters = (int)(1e9 / flop) + 2;
    double best = 1e30, bestg = 1e30;
    for (int i = 0; i < 2; i++) conv_f32(g, x, wt, &post, y, scratch, &par);
    for (int round = 0; round < 7; round++) {
        double t0 = bench_now();
        for (int i = 0; i < iters; i++) conv_f32(g, x, wt, &post, y, scratch, &par);
        double t = (bench_now() - t0) / iters;
        best = t < best ? t : best;
        t0 = bench_now();
        for (int i = 0; i < iters; i++)
            gemm_f32(0, 0, m / grp, osz, kk, 1.0f, wt, kk, col, osz, 0.0f, y, osz, threads);
        t = (bench_now() - t0) / iters * grp;
        bestg = t < bestg ? t : bestg;
    }
    free(x), free(wt), free(y), free(b), free(scratch), free(col);
    *gemm_s = bestg;
    return best;
}

static conv_geom square(int64_t c, int64_t m, int64_t h, int64_t k, int64_t st, int64_t grp) {
    int64_t pad = k / 2, o = (h + 2 * pad - k) / st + 1;
    conv_geom g = {.nsp = 2, .batch = 1, .in_ch = c, .out_ch = m, .group = grp,
                   .in = {h, h}, .out = {o, o}, .kernel = {k, k}, .stride = {st, st},
                   .dilation = {1, 1}, .pad = {pad, pad}};
    return g;
}

static double gflops(const conv_geom *g, double s) {
    return 2.0 * g->out_ch * (g->in_ch / g->group) * g->kernel[0] * g->kernel[1] * g->out[0] *
           g->out[1] / s * 1e-9;
}

int main(int argc, char **argv) {
    if (argc > 1 && argv[1][0] == 'r') { /* resnet50 [threads] */
        int threads = argc > 2 ? atoi(argv[2]) : 2;
        double total = 0, total_g = 0;
        for (size_t i = 0; i < sizeof resnet50 / sizeof resnet50[0]; i++) {
            const bench_layer *l = &resnet50[i];
            conv_geom g = square(l->c, l->m, l->h, l->k, l->stride, 1);
            double tg, t = bench_one(&g, threads, &tg);
            printf("%4lld->%-4lld %3lldx%-3lld k%lld s%lld x%lld: %7.3f ms %6.1f GFLOP/s "
                   "(sgemm %6.1f)\n",
                   (long long)l->c, (long long)l->m, (long long)l->h, (long long)l->h,
                   (long long)l->k, (long long)l->stride, (long long)l->count, t * 1e3,
                   gflops(&g, t), gflops(&g, tg));
            total += t * l->count;
            total_g += tg * l->count;
        }
        printf("resnet50 convolutions, %d threads: %.2f ms (bare sgemm of the same shapes "
               "%.2f ms)\n",
               threads, total * 1e3, total_g * 1e3);
        return 0;
    }
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    int64_t c = 256, m = 256, h = 56, k = 3, st = 1, grp = 1;
    if (argc > 7) {
        c = atoll(argv[2]), m = atoll(argv[3]), h = atoll(argv[4]);
        k = atoll(argv[5]), st = atoll(argv[6]), grp = atoll(argv[7]);
    }
    conv_geom g = square(c, m, h, k, st, grp);
    double tg, t = bench_one(&g, threads, &tg);
    printf("conv %lld->%lld %lldx%lld k%lld s%lld g%lld, %d threads: %.3f ms, %.1f GFLOP/s "
           "(bare sgemm of the same shape: %.1f GFLOP/s)\n",
           (long long)c, (long long)m, (long long)h, (long long)h, (long long)k, (long long)st,
           (long long)grp, threads, t * 1e3, gflops(&g, t), gflops(&g, tg));
    return 0;
}
