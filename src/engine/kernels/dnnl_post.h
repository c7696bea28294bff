/* dnnl_post.h -- what the oneDNN-backed kernels (dnnl_conv.h, dnnl_matmul.h)
 * share in their interfaces: the epilogue a primitive fuses into its output
 * (post-ops) and the caller's scratch allocator.
 *
 * A post-op list is applied in order to each output element while it is
 * still in registers: a convolution's bias + residual sum + Relu, or a fully
 * connected layer's Relu, cost no extra pass over memory. (No GELU: oneDNN's
 * loses precision for negative inputs, see ops/matmul.c packed_prepare.) The kind values
 * are stored in models as attributes by the load-time passes (ConvNhwc's
 * post_ops), so they are append-only.
 *
 *     dnnl_post relu = {DNNL_POST_RELU, 0.0f, 0.0f};
 *     dnnl_post clip = {DNNL_POST_CLIP, 0.0f, 6.0f};
 */
#ifndef INFERD_DNNL_POST_H
#define INFERD_DNNL_POST_H

#include <stddef.h>

typedef enum dnnl_post_kind {
    DNNL_POST_SUM = 1,      /* y += z, a tensor of y's shape (convolutions only) */
    DNNL_POST_RELU,         /* alpha: slope below zero (LeakyRelu), 0 for Relu */
    DNNL_POST_CLIP,         /* [alpha, beta] */
    DNNL_POST_HARDSWISH,    /* x * relu6(x + 3) / 6 */
    DNNL_POST_SIGMOID,
    DNNL_POST_TANH,
    DNNL_POST_SWISH,        /* x * sigmoid(x) */
    DNNL_POST_LINEAR,       /* alpha * x + beta */
    DNNL_POST__COUNT
} dnnl_post_kind;

typedef struct dnnl_post {
    dnnl_post_kind kind;
    float alpha, beta;
} dnnl_post;

/* Scratch memory for the current run, 64-byte aligned; NULL when out of memory. */
typedef void *(*dnnl_scratch_fn)(void *ctx, size_t bytes);

#endif
