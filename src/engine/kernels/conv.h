/* conv.h -- fp32 convolution kernels: im2col + GEMM, depthwise, transposed.
 *
 * The ops layer (ops/conv.c) turns ONNX attributes into a `conv_geom` (all
 * pads resolved, 1-D convolutions promoted to 2-D with a height of 1) and
 * calls these kernels per node. Every fast path has a scalar reference next
 * to it; tests/unit/test_conv.c compares the two on random geometries.
 *
 * Layouts are ONNX's: X [N, C, in...], W [M, C/group, kernel...], Y [N, M,
 * out...], all dense row-major. The epilogue (`conv_post`) adds the bias and
 * applies an optional activation while the output tile is still in cache, so
 * a graph pass can fuse Conv + Relu into one node later.
 *
 *     conv_geom g = {.nsp = 2, .batch = 1, .in_ch = 64, .out_ch = 64, .group = 1,
 *                    .in = {56, 56}, .out = {56, 56}, .kernel = {3, 3},
 *                    .stride = {1, 1}, .dilation = {1, 1}, .pad = {1, 1}};
 *     float *scratch = malloc(conv_f32_scratch(&g, threads));
 *     conv_post post = {.bias = b};
 *     conv_f32(&g, x, w, &post, y, scratch, &par);
 */
#ifndef INFERD_CONV_H
#define INFERD_CONV_H

#include <stddef.h>
#include <stdint.h>

#include "kpar.h"

#define CONV_MAX_SPATIAL 6

/* For helpers of the kernels compiled per CPU (VM_TARGET_CLONES in
 * vmath.h): forced inline, so they are compiled into each clone instead of
 * once for baseline x86-64. */
#define CONV_INLINE static inline __attribute__((always_inline))

typedef struct conv_geom {
    int nsp;                             /* spatial rank, 1..CONV_MAX_SPATIAL */
    int64_t batch, in_ch, out_ch, group; /* N, C, M, group (divides C and M) */
    int64_t in[CONV_MAX_SPATIAL];        /* input spatial dims */
    int64_t out[CONV_MAX_SPATIAL];       /* output spatial dims */
    int64_t kernel[CONV_MAX_SPATIAL];
    int64_t stride[CONV_MAX_SPATIAL];
    int64_t dilation[CONV_MAX_SPATIAL];
    int64_t pad[CONV_MAX_SPATIAL];       /* leading pads; trailing ones only shape `out` */
} conv_geom;

typedef enum conv_act {
    CONV_ACT_NONE = 0,
    CONV_ACT_RELU,                       /* max(y, 0) */
    CONV_ACT_CLIP                        /* min(max(y, lo), hi) */
} conv_act;

/* What happens to each output value after the sum of products. */
typedef struct conv_post {
    const float *bias;                   /* [out_ch] or NULL */
    conv_act act;
    float lo, hi;                        /* CONV_ACT_CLIP bounds */
} conv_post;

/* Product of the spatial dims of g->in / g->out / g->kernel. */
int64_t conv_in_size(const conv_geom *g);
int64_t conv_out_size(const conv_geom *g);
int64_t conv_kernel_size(const conv_geom *g);

/* Bytes of scratch conv_f32 needs with `threads` threads (may be 0). */
size_t conv_f32_scratch(const conv_geom *g, int threads);

/* y = post(conv(x, w)). `scratch` holds conv_f32_scratch(g, kpar_threads(par))
 * bytes, 64-byte aligned. post may be NULL. */
void conv_f32(const conv_geom *g, const float *x, const float *w, const conv_post *post,
              float *y, float *scratch, const kpar *par);

/* Direct loops with double accumulation: the reference for conv_f32. */
void conv_f32_reference(const conv_geom *g, const float *x, const float *w,
                        const conv_post *post, float *y);

/* Transposed convolution: the adjoint of the convolution described by g,
 * plus post. Here x is [N, out_ch, out...] (the forward conv's output space),
 * w is [out_ch, in_ch/group, kernel...] (ONNX ConvTranspose's weight layout)
 * and y is [N, in_ch, in...]. So for ConvTranspose, g->in holds the op's
 * output dims and g->out its input dims. */
size_t conv_transpose_f32_scratch(const conv_geom *g, int threads);
void conv_transpose_f32(const conv_geom *g, const float *x, const float *w,
                        const conv_post *post, float *y, float *scratch, const kpar *par);
void conv_transpose_f32_reference(const conv_geom *g, const float *x, const float *w,
                                  const conv_post *post, float *y);

/* Applies post to `count` values of output channel `ch`, in place. */
void conv_post_apply(const conv_post *post, int64_t ch, float *y, int64_t count);

#endif
