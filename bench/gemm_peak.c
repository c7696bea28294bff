/* gemm_peak.c -- the machine's fp32 GEMM peak through oneDNN's sgemm, the
 * ceiling the engine's Conv/MatMul/Gemm kernels are measured against
 * (docs/design.md).
 *
 *     gcc -O2 -fopenmp bench/gemm_peak.c -o /tmp/gemm_peak -ldnnl && /tmp/gemm_peak 2048
 *
 * Prints GFLOP/s with 1 and 2 OpenMP threads: best of 5 runs after one
 * warm-up, square matrices of the given size (default 1024). */
#include <dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1024;
    if (n < 1 || n > 16384) {
        fprintf(stderr, "usage: gemm_peak [N], 1 <= N <= 16384\n");
        return 2;
    }
    size_t count = (size_t)n * (size_t)n;
    float *a = malloc(count * sizeof *a), *b = malloc(count * sizeof *b), *c = malloc(count * sizeof *c);
    if (!a || !b || !c) {
        fprintf(stderr, "gemm_peak: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < count; i++) {
        a[i] = (float)(i % 7) * 0.1f;
        b[i] = (float)(i % 5) * 0.2f;
        c[i] = 0;
    }
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        dnnl_sgemm('N', 'N', n, n, n, 1.f, a, n, b, n, 0.f, c, n);
        double best = 1e30;
        for (int r = 0; r < 5; r++) {
            double t = now();
            dnnl_sgemm('N', 'N', n, n, n, 1.f, a, n, b, n, 0.f, c, n);
            t = now() - t;
            if (t < best) best = t;
        }
        printf("threads %d, n %ld: %.1f GFLOP/s\n", threads, n, 2.0 * (double)n * (double)n * (double)n / best / 1e9);
    }
    free(a);
    free(b);
    free(c);
    return 0;
}
