/* dnnl_conv.h -- fp32 2-D convolution and pooling on channels-last (NHWC)
 * activations through oneDNN primitives.
 *
 * The layout pass (layout_pass.c) keeps the activations of a CNN in NHWC
 * between convolutions; the ops in ops/conv_dnnl.c run on them with these
 * kernels. oneDNN picks its best implementation for NHWC (brgconv /
 * jit_1x1 / depthwise, bench/bench_dnnl_conv.c) and fuses a bias, a chain
 * of activations and a residual sum into the convolution (post-ops).
 *
 * A primitive depends on the batch, spatial size, pads and thread count, so
 * each kernel object caches one per such key behind a mutex; the object is
 * shared by every session running the model, and primitives execute
 * concurrently. Weights are reordered into the primitive's preferred format
 * once per distinct format and shared by the cached primitives. Scratch
 * memory comes from the caller (the executor's per-node scratch), so runs
 * never allocate large buffers.
 *
 *     dnnl_conv_desc d = {.in_ch = 64, .out_ch = 64, .group = 1, .kernel = {3, 3},
 *                         .stride = {1, 1}, .dilation = {1, 1}, .w = w, .bias = b,
 *                         .n_post = 1, .post = {{DNNL_POST_RELU}}};
 *     dnnl_conv *c;
 *     if ((st = dnnl_conv_create(&d, &c, why, sizeof why))) ...
 *     dnnl_conv_shape s = {.batch = 1, .in = {56, 56}, .out = {56, 56},
 *                          .pad_l = {1, 1}, .pad_r = {1, 1}};
 *     st = dnnl_conv_run(c, &s, x, NULL, y, threads, scratch_fn, ctx, why, sizeof why);
 *     dnnl_conv_destroy(c);
 */
#ifndef INFERD_DNNL_CONV_H
#define INFERD_DNNL_CONV_H

#include <stddef.h>
#include <stdint.h>

#include "../engine.h"
#include "dnnl_post.h"

#define DNNL_CONV_MAX_POST 4

/* What a convolution node fixes at load time. w is ONNX's [M, C/group, kH,
 * kW] and bias [M] (or NULL); both must outlive the object. */
typedef struct dnnl_conv_desc {
    int64_t in_ch, out_ch, group;
    int64_t kernel[2], stride[2], dilation[2];
    const float *w, *bias;
    int n_post;
    dnnl_post post[DNNL_CONV_MAX_POST];
} dnnl_conv_desc;

/* What a run adds: x is [batch, in[0], in[1], in_ch], y [batch, out[0],
 * out[1], out_ch]. */
typedef struct dnnl_conv_shape {
    int64_t batch, in[2], out[2], pad_l[2], pad_r[2];
} dnnl_conv_shape;

typedef struct dnnl_conv dnnl_conv;

/* Creates the (lazy) kernel object; primitives are made on first use of each
 * shape. STATUS_NO_MEMORY or STATUS_INTERNAL with a message in why. */
status dnnl_conv_create(const dnnl_conv_desc *d, dnnl_conv **out, char *why, size_t len);
void dnnl_conv_destroy(dnnl_conv *c);

/* y = post(conv(x)); z is the summand of a DNNL_POST_SUM (NULL without),
 * y's shape; it is copied into y before the convolution adds to it.
 * Thread-safe. Fails (message in why) when oneDNN rejects the geometry. */
status dnnl_conv_run(dnnl_conv *c, const dnnl_conv_shape *s, const float *x, const float *z,
                     float *y, int threads, dnnl_scratch_fn scratch, void *sctx, char *why,
                     size_t len);

/* Pooling over NHWC activations. */
typedef enum dnnl_pool_kind {
    DNNL_POOL_MAX,
    DNNL_POOL_AVG_INCLUDE_PAD,
    DNNL_POOL_AVG_EXCLUDE_PAD
} dnnl_pool_kind;

typedef struct dnnl_pool_shape {
    int64_t batch, channels, in[2], out[2], kernel[2], stride[2], dilation[2];
    int64_t pad_l[2], pad_r[2];
} dnnl_pool_shape;

typedef struct dnnl_pool dnnl_pool;

status dnnl_pool_create(dnnl_pool_kind kind, dnnl_pool **out, char *why, size_t len);
void dnnl_pool_destroy(dnnl_pool *p);
/* x is [batch, in[0], in[1], channels], y [batch, out[0], out[1], channels]. */
status dnnl_pool_run(dnnl_pool *p, const dnnl_pool_shape *s, const float *x, float *y,
                     int threads, dnnl_scratch_fn scratch, void *sctx, char *why, size_t len);

#endif
