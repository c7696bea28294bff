/* gemm.c -- fp32 GEMM through oneDNN, plus a scalar reference. */
#include "gemm.h"

#include <dnnl.h>
#include <omp.h>

void gemm_f32(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
              float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
              float beta, float *c, int64_t ldc, int threads) {
    if (m == 0 || n == 0) return;
    if (k == 0) { /* oneDNN rejects k = 0; the result is just beta * C */
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
        return;
    }
    /* oneDNN threads with OpenMP; the team size is a per-thread setting, so
     * each engine session's worker keeps its own budget. */
    if (omp_get_max_threads() != threads) omp_set_num_threads(threads < 1 ? 1 : threads);
    dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb,
               beta, c, ldc);
}

void gemm_f32_reference(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                        float alpha, const float *a, int64_t lda, const float *b,
                        int64_t ldb, float beta, float *c, int64_t ldc) {
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t p = 0; p < k; p++) {
                float av = trans_a ? a[p * lda + i] : a[i * lda + p];
                float bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
                acc += (double)av * bv;
            }
            float prev = beta == 0 ? 0 : beta * c[i * ldc + j];
            c[i * ldc + j] = alpha * (float)acc + prev;
        }
    }
}
