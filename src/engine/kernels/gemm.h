/* gemm.h -- dense matrix multiply for the heavy operators (private).
 *
 * C = alpha * op(A) * op(B) + beta * C, row-major, fp32. Backed by oneDNN's
 * sgemm (Debian's libdnnl), which dispatches AVX2/AVX-512 kernels at run
 * time and reaches ~200 GFLOP/s on two cores here. Conv (im2col), MatMul,
 * Gemm and the recurrent ops all funnel through this one function, so a
 * faster backend later changes one file. */
#ifndef INFERD_GEMM_H
#define INFERD_GEMM_H

#include <stdint.h>

void gemm_f32(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
              float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
              float beta, float *c, int64_t ldc, int threads);

/* Straightforward triple loop: the reference the fast path is tested against. */
void gemm_f32_reference(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                        float alpha, const float *a, int64_t lda, const float *b,
                        int64_t ldb, float beta, float *c, int64_t ldc);

#endif
