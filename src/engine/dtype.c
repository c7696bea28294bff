/* dtype.c -- element sizes, names and conversions. */
#include "dtype.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t engine_dtype_size(engine_dtype dt) {
    switch (dt) {
    case ENGINE_BOOL: case ENGINE_UINT8: case ENGINE_INT8: return 1;
    case ENGINE_UINT16: case ENGINE_INT16: case ENGINE_FLOAT16: case ENGINE_BFLOAT16: return 2;
    case ENGINE_FLOAT: case ENGINE_INT32: case ENGINE_UINT32: return 4;
    case ENGINE_DOUBLE: case ENGINE_INT64: case ENGINE_UINT64: return 8;
    case ENGINE_STRING: return sizeof(engine_string);
    default: return 0;
    }
}

const char *engine_dtype_name(engine_dtype dt) {
    switch (dt) {
    case ENGINE_FLOAT: return "float32";
    case ENGINE_UINT8: return "uint8";
    case ENGINE_INT8: return "int8";
    case ENGINE_UINT16: return "uint16";
    case ENGINE_INT16: return "int16";
    case ENGINE_INT32: return "int32";
    case ENGINE_INT64: return "int64";
    case ENGINE_STRING: return "string";
    case ENGINE_BOOL: return "bool";
    case ENGINE_FLOAT16: return "float16";
    case ENGINE_DOUBLE: return "float64";
    case ENGINE_UINT32: return "uint32";
    case ENGINE_UINT64: return "uint64";
    case ENGINE_BFLOAT16: return "bfloat16";
    default: return "undefined";
    }
}

void engine_tensor_release(engine_tensor *t) {
    if (!t) return;
    free(t->data);
    memset(t, 0, sizeof *t);
}

float dtype_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do { e++; mant <<= 1; } while (!(mant & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t dtype_float_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t exp = (x >> 23) & 0xff;
    uint32_t mant = x & 0x7fffff;
    if (exp == 0xff) /* Inf or NaN (keep NaN quiet and non-zero) */
        return sign | 0x7c00 | (mant ? 0x200 | (mant >> 13) : 0);
    int e = (int)exp - 127 + 15;
    if (e >= 31) return sign | 0x7c00;
    if (e <= 0) {
        if (e < -10) return sign;
        mant |= 0x800000;
        int shift = 14 - e;
        uint32_t half = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return sign | (uint16_t)half;
    }
    uint32_t half = ((uint32_t)e << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++; /* may carry into exp: correct */
    return sign | (uint16_t)half;
}

float dtype_bfloat16_to_float(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t dtype_float_to_bfloat16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

int dtype_is_float(engine_dtype dt) {
    return dt == ENGINE_FLOAT || dt == ENGINE_FLOAT16 || dt == ENGINE_DOUBLE ||
           dt == ENGINE_BFLOAT16;
}

int dtype_is_int(engine_dtype dt) {
    switch (dt) {
    case ENGINE_UINT8: case ENGINE_INT8: case ENGINE_UINT16: case ENGINE_INT16:
    case ENGINE_INT32: case ENGINE_INT64: case ENGINE_UINT32: case ENGINE_UINT64:
        return 1;
    default:
        return 0;
    }
}

double dtype_load_double(engine_dtype dt, const void *data, int64_t i) {
    switch (dt) {
    case ENGINE_FLOAT: return ((const float *)data)[i];
    case ENGINE_DOUBLE: return ((const double *)data)[i];
    case ENGINE_FLOAT16: return dtype_half_to_float(((const uint16_t *)data)[i]);
    case ENGINE_BFLOAT16: return dtype_bfloat16_to_float(((const uint16_t *)data)[i]);
    case ENGINE_BOOL: case ENGINE_UINT8: return ((const uint8_t *)data)[i];
    case ENGINE_INT8: return ((const int8_t *)data)[i];
    case ENGINE_UINT16: return ((const uint16_t *)data)[i];
    case ENGINE_INT16: return ((const int16_t *)data)[i];
    case ENGINE_INT32: return ((const int32_t *)data)[i];
    case ENGINE_UINT32: return ((const uint32_t *)data)[i];
    case ENGINE_INT64: return (double)((const int64_t *)data)[i];
    case ENGINE_UINT64: return (double)((const uint64_t *)data)[i];
    default: return 0;
    }
}

int64_t dtype_load_int64(engine_dtype dt, const void *data, int64_t i) {
    switch (dt) {
    case ENGINE_INT64: return ((const int64_t *)data)[i];
    case ENGINE_INT32: return ((const int32_t *)data)[i];
    case ENGINE_UINT64: return (int64_t)((const uint64_t *)data)[i];
    case ENGINE_UINT32: return ((const uint32_t *)data)[i];
    case ENGINE_BOOL: case ENGINE_UINT8: return ((const uint8_t *)data)[i];
    case ENGINE_INT8: return ((const int8_t *)data)[i];
    case ENGINE_UINT16: return ((const uint16_t *)data)[i];
    case ENGINE_INT16: return ((const int16_t *)data)[i];
    default: {
        double v = dtype_load_double(dt, data, i);
        if (isnan(v)) return 0;
        if (v >= 9.2233720368547758e18) return INT64_MAX;
        if (v <= -9.2233720368547758e18) return INT64_MIN;
        return (int64_t)v;
    }
    }
}

/* Float-to-integer conversion of an out-of-range value is undefined in C;
 * clamp first so a model's odd data cannot trigger UB. */
static double clamp_to(double v, double lo, double hi) {
    if (isnan(v)) return 0;
    return v < lo ? lo : v > hi ? hi : v;
}

void dtype_store_double(engine_dtype dt, void *data, int64_t i, double v) {
    switch (dt) {
    case ENGINE_FLOAT: ((float *)data)[i] = (float)v; break;
    case ENGINE_DOUBLE: ((double *)data)[i] = v; break;
    case ENGINE_FLOAT16: ((uint16_t *)data)[i] = dtype_float_to_half((float)v); break;
    case ENGINE_BFLOAT16: ((uint16_t *)data)[i] = dtype_float_to_bfloat16((float)v); break;
    case ENGINE_BOOL: ((uint8_t *)data)[i] = v != 0; break;
    case ENGINE_UINT8: ((uint8_t *)data)[i] = (uint8_t)clamp_to(v, 0, 255); break;
    case ENGINE_INT8: ((int8_t *)data)[i] = (int8_t)clamp_to(v, -128, 127); break;
    case ENGINE_UINT16: ((uint16_t *)data)[i] = (uint16_t)clamp_to(v, 0, 65535); break;
    case ENGINE_INT16: ((int16_t *)data)[i] = (int16_t)clamp_to(v, -32768, 32767); break;
    case ENGINE_INT32: ((int32_t *)data)[i] = (int32_t)clamp_to(v, -2147483648.0, 2147483647.0); break;
    case ENGINE_UINT32: ((uint32_t *)data)[i] = (uint32_t)clamp_to(v, 0, 4294967295.0); break;
    case ENGINE_INT64: ((int64_t *)data)[i] = (int64_t)clamp_to(v, -9.2233720368547758e18, 9.2233720368547748e18); break;
    case ENGINE_UINT64: ((uint64_t *)data)[i] = (uint64_t)clamp_to(v, 0, 1.8446744073709550e19); break;
    default: break;
    }
}
