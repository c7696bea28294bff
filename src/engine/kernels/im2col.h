/* im2col.h -- unfolding images into GEMM operands for convolution (and back).
 *
 * The column matrix of one image (channels c in [0, C)) has C * K rows, K the
 * kernel size, and one column per output position: row (c*K + k), column p
 * holds the input value kernel tap k sees at output position p, or 0 in the
 * padding. Conv is then W [M x C*K] times this matrix. col2im is the adjoint
 * (it accumulates columns back into the image) and serves ConvTranspose.
 *
 *     // columns [p0, p1) of channels [0, cg) of one group, leading dim p1-p0
 *     im2col_f32(&g, cg, x_group, p0, p1, col, p1 - p0);
 */
#ifndef INFERD_IM2COL_H
#define INFERD_IM2COL_H

#include "conv.h"

/* Writes rows [0, channels*K) and columns [p0, p1) of the column matrix of
 * image x (channels planes of conv_in_size(g) values) into col, whose rows
 * are ldc apart. */
void im2col_f32(const conv_geom *g, int64_t channels, const float *x, int64_t p0,
                int64_t p1, float *col, int64_t ldc);

/* Adds the column matrix (channels*K rows of conv_out_size(g) columns) into
 * image y (channels planes of conv_in_size(g) values). */
void col2im_f32(const conv_geom *g, int64_t channels, const float *col, float *y);

#endif
