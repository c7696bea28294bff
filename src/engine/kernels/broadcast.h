/* broadcast.h -- iterating over numpy-broadcast operands in contiguous rows.
 *
 * A plan describes how up to BCAST_MAX_IN inputs map onto an output shape.
 * Building it drops size-1 output dims and merges neighbouring dims that
 * every input walks contiguously (or broadcasts) in the same way, so the
 * common cases collapse to few dims: same shapes become one row, a bias
 * [C] added to [N,C] becomes N rows in which the bias is a vector, and a
 * per-channel [C,1,1] on [N,C,H,W] becomes N*C rows in which it is a scalar.
 * The walker then hands a kernel contiguous row pieces, with each input's
 * inner stride being 1 (a vector) or 0 (a scalar repeated).
 *
 *     const engine_shape *ins[2] = {&a->shape, &b->shape};
 *     bcast_plan p;
 *     if (bcast_plan_init(&p, &out->shape, ins, 2)) return error;
 *     bcast_walk(&p, 0, p.numel, row_fn, ctx);    // or a chunk of it per thread
 */
#ifndef INFERD_BROADCAST_H
#define INFERD_BROADCAST_H

#include <stdint.h>

#include "../engine.h"

#define BCAST_MAX_IN 3

typedef struct bcast_plan {
    int n_in;
    int rank;                                   /* collapsed rank, >= 1 */
    int64_t dims[ENGINE_MAX_RANK];
    int64_t strides[BCAST_MAX_IN][ENGINE_MAX_RANK]; /* in elements, 0 = broadcast */
    int64_t numel;                              /* output elements */
} bcast_plan;

/* Plans the broadcast of in[0..n_in) to `out`. Returns 0, or -1 if an input
 * has a higher rank than out or a dim that is neither 1 nor out's dim. */
int bcast_plan_init(bcast_plan *p, const engine_shape *out,
                    const engine_shape *const *in, int n_in);

/* Called for each contiguous row piece: output elements [out_off, out_off+n),
 * input k starting at element in_off[k] and advancing by inner[k] (0 or 1). */
typedef void (*bcast_row_fn)(void *ctx, int64_t out_off, const int64_t *in_off,
                             const int64_t *inner, int64_t n);

/* Visits output elements [begin, end) in order. */
void bcast_walk(const bcast_plan *p, int64_t begin, int64_t end, bcast_row_fn fn, void *ctx);

#endif
