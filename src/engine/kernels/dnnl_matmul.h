/* dnnl_matmul.h -- fp32 Y = post(A x W + bias) against a constant weight
 * matrix held in oneDNN's packed format.
 *
 * sgemm (gemm.h) repacks B on every call. When B is a layer's weights and
 * A has few rows (a fully connected layer at batch 1..16, an encoder at a
 * short sequence), that packing costs more than the arithmetic: AlexNet's
 * 9216x4096 layer at 16 rows took 37 ms through sgemm and 4.5 ms packed
 * (docs/design.md, "Engine speed"). Here the weights are reordered once,
 * into the layout oneDNN's matmul primitive prefers, and every product
 * reads them in place.
 *
 * The packed bytes are the caller's: dnnl_mm_pack() writes them (the
 * load-time pass in prepack_pass.c stores them in the model as the node's
 * weight initializer), dnnl_mm_create() runs on them. The format is
 * the one oneDNN picks for this CPU (AVX-512: 16x64 blocks), so packed
 * bytes are only meaningful in the process that packed them. A primitive
 * depends on the row count M and the thread count, so the object caches
 * one per (M, threads) and builds the rest on demand (onednn.h). The bias
 * and an activation are fused into the product (post-ops; ops/matmul.c
 * keeps GELU out of them for precision, see packed_prepare).
 *
 *     size_t bytes;
 *     st = dnnl_mm_packed_size(k, n, &bytes, why, sizeof why);
 *     void *wp = calloc(1, bytes);
 *     st = dnnl_mm_pack(k, n, w, 0, wp, bytes, NULL, NULL, why, sizeof why);  (w: [K, N])
 *     dnnl_mm_desc d = {.k = k, .n = n, .bias = 1,
 *                       .n_post = 1, .post = {{DNNL_POST_RELU, 0.0f, 0.0f}}};
 *     dnnl_mm *mm;
 *     st = dnnl_mm_create(&d, wp, bytes, &mm, why, sizeof why);
 *     st = dnnl_mm_run(mm, m, a, bias, y, threads, scratch_fn, ctx, why, sizeof why);
 *     dnnl_mm_destroy(mm);
 */
#ifndef INFERD_DNNL_MATMUL_H
#define INFERD_DNNL_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "../engine.h"
#include "dnnl_post.h"

#define DNNL_MM_MAX_POST 2

/* Bytes of W [K, N] in the packed format on this CPU. Fails (message in
 * why) for k or n < 1 or when oneDNN has no matmul for the shape. */
status dnnl_mm_packed_size(int64_t k, int64_t n, size_t *bytes, char *why, size_t len);

/* Called as packing proceeds: the first `done` bytes of W have been read
 * and packing will not read them again. */
typedef void (*dnnl_mm_progress_fn)(void *ctx, size_t done);

/* Writes W into packed: `bytes` long (dnnl_mm_packed_size) and zeroed (the
 * blocks' padding is not written). W is [K, N] row-major, or with w_trans
 * [N, K] row-major (ONNX Gemm with transB = 1); the reorder transposes. W
 * is read in slices of ~16 MB of rows with progress (may be NULL) called
 * after each, so a caller can give the read pages back as it goes: packing
 * VGG's 411 MB layer then holds ~16 MB twice, not 411. Runs on the calling
 * thread's OpenMP team. */
status dnnl_mm_pack(int64_t k, int64_t n, const float *w, int w_trans, void *packed,
                    size_t bytes, dnnl_mm_progress_fn progress, void *pctx, char *why,
                    size_t len);

/* What a node fixes at load time. */
typedef struct dnnl_mm_desc {
    int64_t k, n;
    int bias;                  /* runs pass a bias of n values */
    int n_post;                /* DNNL_POST_SUM is not allowed */
    dnnl_post post[DNNL_MM_MAX_POST];
} dnnl_mm_desc;

typedef struct dnnl_mm dnnl_mm;

/* An object running on the packed weights (which must outlive it and hold
 * `bytes` bytes). Fails when bytes does not match the packed size on this
 * CPU, or oneDNN rejects the description. */
status dnnl_mm_create(const dnnl_mm_desc *d, const void *packed, size_t bytes,
                          dnnl_mm **out, char *why, size_t len);
void dnnl_mm_destroy(dnnl_mm *mm);

/* y[m, n] = post(a[m, k] x W + bias). bias is n values when the desc has
 * one (else ignored). Thread-safe; m >= 1. */
status dnnl_mm_run(dnnl_mm *mm, int64_t m, const float *a, const float *bias, float *y,
                       int threads, dnnl_scratch_fn scratch, void *sctx, char *why, size_t len);

#endif
