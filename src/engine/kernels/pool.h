/* pool.h -- sliding-window pooling kernels (max with argmax, average, Lp).
 *
 * One 3-D kernel per reduction serves 1-D, 2-D and 3-D pooling: the ops layer
 * (ops/pool.c) pads lower ranks with leading axes of size 1. Each kernel
 * computes a range of (image, channel) planes so the caller can spread
 * planes over threads. Window taps that fall into the padding are skipped;
 * AveragePool's divisor counts them when count_include_pad is set (taps
 * inside the padded extent only, as ONNX Runtime does).
 *
 *     pool_geom g = {.planes = n * c, .in = {1, h, w}, .out = {1, oh, ow},
 *                    .kernel = {1, 3, 3}, .stride = {1, 2, 2}, .dilation = {1, 1, 1},
 *                    .pad = {0, 1, 1}, .pad_end = {0, 1, 1}};
 *     const pool_kernels *k = pool_kernels_for(ENGINE_FLOAT);
 *     k->max(&g, x, y, NULL, 0, 0, g.planes);
 */
#ifndef INFERD_POOL_H
#define INFERD_POOL_H

#include <stdint.h>

#include "../engine.h"

typedef struct pool_geom {
    int64_t planes;                      /* N * C */
    int64_t in[3], out[3], kernel[3], stride[3], dilation[3], pad[3], pad_end[3];
} pool_geom;

typedef struct pool_kernels {
    engine_dtype dt;
    /* idx (may be NULL) receives flat indices into x, of row-major spatial
     * offsets or, with col_major, column-major ones (MaxPool storage_order). */
    void (*max)(const pool_geom *g, const void *x, void *y, int64_t *idx, int col_major,
                int64_t q0, int64_t q1);
    /* NULL for integer types. */
    void (*avg)(const pool_geom *g, const void *x, void *y, int count_pad, int64_t q0,
                int64_t q1);
    void (*lp)(const pool_geom *g, const void *x, void *y, double p, int64_t q0, int64_t q1);
} pool_kernels;

/* Kernels for float, double, int8, uint8; NULL for other types. */
const pool_kernels *pool_kernels_for(engine_dtype dt);

#endif
