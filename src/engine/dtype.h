/* dtype.h -- element-type conversions the operators share (private).
 *
 * float16 and bfloat16 are storage types: kernels convert them to float,
 * compute, and convert back. Conversions round to nearest even, as numpy and
 * ONNX Runtime do, and keep NaN/Inf. */
#ifndef INFERD_DTYPE_H
#define INFERD_DTYPE_H

#include <stdint.h>

#include "engine.h"

float dtype_half_to_float(uint16_t h);
uint16_t dtype_float_to_half(float f);
float dtype_bfloat16_to_float(uint16_t b);
uint16_t dtype_float_to_bfloat16(float f);

/* 1 for FLOAT, FLOAT16, DOUBLE, BFLOAT16. */
int dtype_is_float(engine_dtype dt);
/* 1 for the signed and unsigned integer types (not BOOL). */
int dtype_is_int(engine_dtype dt);

/* Element i of a numeric/bool tensor's buffer as double / int64. */
double dtype_load_double(engine_dtype dt, const void *data, int64_t i);
int64_t dtype_load_int64(engine_dtype dt, const void *data, int64_t i);
/* Stores v as element i of a buffer of type dt (saturating casts are the
 * caller's business: this follows C conversion, as ONNX Cast does). */
void dtype_store_double(engine_dtype dt, void *data, int64_t i, double v);

#endif
