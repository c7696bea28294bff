/* depthwise.h -- direct 2-D depthwise convolution (group == C == M).
 *
 * MobileNet-style depthwise layers have one 3x3 filter per channel: a GEMM
 * per channel would be a 1-row matrix product, dominated by overhead. This
 * kernel runs each tap as one vector loop over the plane: on a zero-padded
 * copy of the input when the strides are equal (7x7 and 14x14 planes would
 * otherwise be all loop remainders), else row by row.
 *
 *     // planes [q0, q1) of the N*C (image, channel) planes
 *     float *scratch = malloc(depthwise2d_scratch(&g));
 *     depthwise2d_f32(&g, x, w, &post, y, scratch, q0, q1);
 */
#ifndef INFERD_DEPTHWISE_H
#define INFERD_DEPTHWISE_H

#include "conv.h"

/* 1 if g is a 2-D convolution with one input and one output channel per group. */
int depthwise2d_applies(const conv_geom *g);

/* Bytes of scratch one thread needs (0: none, the row method runs). */
size_t depthwise2d_scratch(const conv_geom *g);

/* Computes the output planes [q0, q1), plane q = image q / C, channel q % C.
 * With scratch (depthwise2d_scratch(g) bytes, 64-byte aligned), planes go
 * through a zero-padded copy so every tap is one long vector loop; without,
 * row by row. */
void depthwise2d_f32(const conv_geom *g, const float *x, const float *w,
                     const conv_post *post, float *y, float *scratch, int64_t q0, int64_t q1);

#endif
