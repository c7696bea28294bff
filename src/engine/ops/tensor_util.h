/* tensor_util.h -- helpers shared by the data-movement operator families
 * (tensor_shape, tensor_layout, tensor_index, resize, ...).
 *
 * These operators move bytes rather than compute, so most of them work for
 * every dtype by dispatching on the element size. What they share: a
 * prepare() that accepts any storable dtype, reading small integer inputs
 * (shapes, axes, pads, repeats) with validation, and a strided copy spread
 * over the session's threads.
 *
 *     int64_t shape[ENGINE_MAX_RANK]; int n;
 *     status st = tutil_read_ints(x, 1, "shape", shape, ENGINE_MAX_RANK, &n);
 *     if (st) return st;
 *     ...
 *     tutil_copy(x, esize, rank, dims, src_strides, in->data, out->data);
 */
#ifndef INFERD_TENSOR_UTIL_H
#define INFERD_TENSOR_UTIL_H

#include "../op.h"

/* Most ints any of these ops reads from a tensor input (pads of a rank-8
 * tensor, Resize roi, ...). */
#define TUTIL_MAX_INTS (4 * ENGINE_MAX_RANK)

/* Fails unless dt is a dtype with fixed-size elements ("what" names it in
 * the message, e.g. "input 0"). Strings are refused: their elements point
 * into buffers whose lifetime a copy cannot extend. */
status tutil_check_movable(const node *n, errinfo *err, engine_dtype dt, const char *what);

/* prepare() for ops whose outputs all have input 0's dtype, any movable one. */
status tutil_prepare_data(graph *g, node *n, errinfo *err);

/* Fails unless input i (when present) has an int32 or int64 dtype. */
status tutil_check_index_input(const graph *g, const node *n, errinfo *err, int i,
                               const char *what);

/* Reads input i, a scalar or 1-D int32/int64 tensor, into out[0..*count).
 * Fails naming `what` if it is missing, of another type or rank, or longer
 * than max. */
status tutil_read_ints(exec_ctx *x, int i, const char *what, int64_t *out, int max,
                       int *count);

/* Reads element i of an int32/int64 index tensor. */
static inline int64_t tutil_index_at(const engine_tensor *t, int64_t i) {
    return t->dtype == ENGINE_INT32 ? ((const int32_t *)t->data)[i]
                                    : ((const int64_t *)t->data)[i];
}

/* Copies the view (dims, src strides in elements) of src densely into dst,
 * on the session's threads when it is big enough to pay. */
void tutil_copy(exec_ctx *x, size_t esize, int rank, const int64_t *dims,
                const int64_t *strides, const void *src, void *dst);

/* Allocates output k with in's dtype and `shape` and copies in's bytes: the
 * whole of Identity, Reshape, Flatten, Squeeze, Unsqueeze. */
status tutil_output_copy(exec_ctx *x, int k, const engine_tensor *in,
                         const engine_shape *shape);

/* Fills n elements of size esize at dst with the element at value. */
void tutil_fill(void *dst, const void *value, size_t esize, int64_t n);

#endif
