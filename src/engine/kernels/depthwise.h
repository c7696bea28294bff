/* depthwise.h -- direct 2-D depthwise convolution (group == C == M).
 *
 * MobileNet-style depthwise layers have one 3x3 filter per channel: a GEMM
 * per channel would be a 1-row matrix product, dominated by overhead. This
 * kernel walks output rows and accumulates whole rows per tap, which gcc
 * vectorises, with a 3-tap inner loop for the common 3-wide kernels.
 *
 *     // planes [q0, q1) of the N*C (image, channel) planes
 *     depthwise2d_f32(&g, x, w, &post, y, q0, q1);
 */
#ifndef INFERD_DEPTHWISE_H
#define INFERD_DEPTHWISE_H

#include "conv.h"

/* 1 if g is a 2-D convolution with one input and one output channel per group. */
int depthwise2d_applies(const conv_geom *g);

/* Computes the output planes [q0, q1), plane q = image q / C, channel q % C. */
void depthwise2d_f32(const conv_geom *g, const float *x, const float *w,
                     const conv_post *post, float *y, int64_t q0, int64_t q1);

#endif
