/* convert.h -- element-type conversion of contiguous buffers (private).
 *
 * One function per (source, destination) pair of numeric types, generated
 * from a type list, so Cast and every op that computes fp16/bf16/integers in
 * a wider type share the same conversions. Semantics follow ONNX Cast as ONNX
 * Runtime implements it: integer to integer wraps (two's complement), float
 * to integer truncates toward zero and saturates at the type's limits (NaN
 * becomes 0, where C would be undefined), anything to bool is `!= 0`, and
 * float16/bfloat16 round to nearest even.
 *
 *     convert_fn f = convert_get(ENGINE_FLOAT16, ENGINE_FLOAT);
 *     if (!f) return error("unsupported cast");
 *     f(half_data, float_data, n);
 */
#ifndef INFERD_CONVERT_H
#define INFERD_CONVERT_H

#include <stdint.h>

#include "../engine.h"

/* Converts n elements from src to dst. The buffers must not overlap unless
 * they are the same buffer and the two types have the same size. */
typedef void (*convert_fn)(const void *src, void *dst, int64_t n);

/* The converter between two numeric/bool types, or NULL if either type is
 * not one (STRING, UNDEFINED). Same type gives a plain copy. */
convert_fn convert_get(engine_dtype from, engine_dtype to);

/* 1 if convert_get() handles dt as a source and destination. */
int convert_supported(engine_dtype dt);

#endif
