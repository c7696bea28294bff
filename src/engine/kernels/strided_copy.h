/* strided_copy.h -- gathers a strided view of a tensor into contiguous memory.
 *
 * Most data-movement operators are one strided copy in disguise: Transpose
 * (permuted strides), Slice (offset + stride * step), Expand (stride 0 on
 * broadcast dims), Tile (every dim split in [repeat, dim] with stride 0 on
 * the repeat), DepthToSpace / SpaceToDepth (a 6-D transpose). The view is
 * described by its dims and the source stride of each dim, in elements; the
 * destination is always dense row-major. Elements are moved by size (1, 2,
 * 4 or 8 bytes, any other size byte-wise), never interpreted, so every dtype
 * works.
 *
 * A plan first simplifies the view (drops unit dims, merges dims contiguous
 * in the source), then picks a kernel: memcpy of rows when the innermost
 * source stride is 1, a fill when it is 0, a cache-blocked 2-D transpose
 * when another dim has stride 1 (4-byte elements in 4 x 4 register
 * transposes), else a strided gather. The work is split in independent
 * units so a caller can spread it over threads.
 *
 *     strided_plan p;
 *     int64_t dims[2] = {cols, rows}, strides[2] = {1, cols};  // 2-D transpose
 *     strided_plan_init(&p, sizeof(float), 2, dims, strides);
 *     strided_plan_run(&p, src, dst, 0, strided_plan_units(&p));
 */
#ifndef INFERD_STRIDED_COPY_H
#define INFERD_STRIDED_COPY_H

#include <stddef.h>
#include <stdint.h>

/* Views may have more dims than a tensor: Tile doubles the rank. */
#define STRIDED_MAX_RANK 16

typedef struct strided_plan {
    size_t esize;                      /* bytes per element */
    int rank;                          /* after simplification, >= 1 */
    int64_t dims[STRIDED_MAX_RANK];
    int64_t strides[STRIDED_MAX_RANK]; /* source strides in elements */
    int64_t dst_strides[STRIDED_MAX_RANK];
    int64_t numel;                     /* elements in the view (0: nothing to do) */
    int tdim;                          /* dim with source stride 1 for the blocked
                                        * transpose, or -1 */
    int64_t tblock;                    /* tdim elements per block */
    int64_t tblocks;                   /* blocks along tdim (1 if tdim < 0) */
} strided_plan;

/* Builds a plan for a view of `rank` (0..STRIDED_MAX_RANK) dims. Dims must be
 * >= 0 and strides such that every addressed element lies in the source
 * (the caller validates both). */
void strided_plan_init(strided_plan *p, size_t esize, int rank, const int64_t *dims,
                       const int64_t *strides);

/* Number of independent work units; strided_plan_run(p, .., b, e) does units
 * [b, e). Units write disjoint parts of dst. */
int64_t strided_plan_units(const strided_plan *p);
/* Rough bytes moved per unit, to decide whether threads pay off. */
int64_t strided_plan_unit_bytes(const strided_plan *p);

void strided_plan_run(const strided_plan *p, const void *src, void *dst, int64_t begin,
                      int64_t end);

/* Element-by-element reference the fast paths are tested against. */
void strided_copy_reference(size_t esize, int rank, const int64_t *dims,
                            const int64_t *strides, const void *src, void *dst);

#endif
