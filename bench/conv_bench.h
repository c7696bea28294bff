/* conv_bench.h -- what the convolution benchmarks (bench_conv.c,
 * bench_dnnl_conv.c) share: a clock, an OpenMP kpar runner that threads the
 * kernels as the executor does (an OpenMP team per parallel loop), and
 * ResNet-50's convolutions.
 *
 *     kpar par = {.run = bench_omp_run, .ctx = &threads, .threads = threads};
 *     for (int i = 0; i < BENCH_RESNET50_LAYERS; i++) ... bench_resnet50[i] ...
 */
#ifndef INFERD_BENCH_CONV_BENCH_H
#define INFERD_BENCH_CONV_BENCH_H

#include <omp.h>
#include <stdint.h>
#include <time.h>

#include "engine/kernels/kpar.h"

static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ctx points at the thread count. */
static inline void bench_omp_run(const void *ctx, int64_t n, kpar_fn fn, void *arg) {
    int threads = *(const int *)ctx;
    if (threads > n) threads = (int)n;
#pragma omp parallel num_threads(threads)
    {
        int id = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t b = n * id / nt, e = n * (id + 1) / nt;
        if (b < e) fn(arg, b, e);
    }
}

/* A square 2-D convolution: channels in/out, input size, kernel, stride,
 * groups, and how many times the model runs it. */
typedef struct bench_layer {
    int64_t c, m, h, k, stride, group, count;
} bench_layer;

/* ResNet-50 v1.5 (torchvision) at batch 1. */
#define BENCH_RESNET50_LAYERS 23
#define BENCH_RESNET50                                                                        \
    {3, 64, 224, 7, 2, 1, 1},                                                                 \
    {64, 64, 56, 1, 1, 1, 1}, {64, 64, 56, 3, 1, 1, 3}, {64, 256, 56, 1, 1, 1, 4},            \
    {256, 64, 56, 1, 1, 1, 2},                                                                \
    {256, 128, 56, 1, 1, 1, 1}, {128, 128, 56, 3, 2, 1, 1}, {128, 512, 28, 1, 1, 1, 4},       \
    {256, 512, 56, 1, 2, 1, 1}, {512, 128, 28, 1, 1, 1, 3}, {128, 128, 28, 3, 1, 1, 3},       \
    {512, 256, 28, 1, 1, 1, 1}, {256, 256, 28, 3, 2, 1, 1}, {256, 1024, 14, 1, 1, 1, 6},      \
    {512, 1024, 28, 1, 2, 1, 1}, {1024, 256, 14, 1, 1, 1, 5}, {256, 256, 14, 3, 1, 1, 5},     \
    {1024, 512, 14, 1, 1, 1, 1}, {512, 512, 14, 3, 2, 1, 1}, {512, 2048, 7, 1, 1, 1, 3},      \
    {1024, 2048, 14, 1, 2, 1, 1}, {2048, 512, 7, 1, 1, 1, 2}, {512, 512, 7, 3, 1, 1, 2}

#endif
