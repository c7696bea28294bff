/* shape.h -- shape arithmetic shared by the operators (private).
 *
 * Multidirectional (numpy) broadcasting, strides, axis normalisation. All
 * functions validate what comes from a model or a request and report errors
 * by return value, never by assert. */
#ifndef INFERD_SHAPE_H
#define INFERD_SHAPE_H

#include "engine.h"

/* out = broadcast of a and b (numpy rules). Returns 0, or -1 if the shapes
 * are incompatible or the rank would exceed ENGINE_MAX_RANK. */
int shape_broadcast(const engine_shape *a, const engine_shape *b, engine_shape *out);

/* Row-major strides in elements of s, written to strides[0..rank). */
void shape_strides(const engine_shape *s, int64_t *strides);

/* Strides of `in` (rank <= out->rank) as seen when broadcast to `out`:
 * 0 for broadcast dims, right-aligned as numpy does. */
void shape_broadcast_strides(const engine_shape *in, const engine_shape *out,
                             int64_t *strides);

/* Maps a possibly negative axis into [0, rank). Returns -1 if out of range. */
int shape_normalize_axis(int64_t axis, int rank);

/* 1 if the two shapes are equal. */
int shape_equal(const engine_shape *a, const engine_shape *b);

/* "[1,3,224,224]" into buf (always NUL-terminated); returns buf. */
const char *shape_format(const engine_shape *s, char *buf, size_t len);

/* Product of dims [from, to). */
int64_t shape_span(const engine_shape *s, int from, int to);

#endif
