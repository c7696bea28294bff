/* convert.c -- the (source, destination) conversion matrix, generated.
 *
 * Each converter is `dst[i] = STORE_<dst>(LOAD_<src>(src[i]))`: LOAD widens a
 * stored element to a C arithmetic value (float16/bfloat16 to float, bool to
 * 0/1) and STORE narrows it to the destination, choosing with _Generic
 * between a saturating conversion (floating source into an integer, where C
 * would be undefined out of range) and a plain wrapping one. */
#include "convert.h"

#include <string.h>

#include "../dtype.h"
#include "vmath.h"

/* Two copies of the same type list, because the matrix needs a nested
 * expansion and a macro cannot expand itself. X(name, C type, dtype). */
#define CV_OUTER(X)                                                            \
    X(f32, float, ENGINE_FLOAT)                                                \
    X(f64, double, ENGINE_DOUBLE)                                              \
    X(f16, uint16_t, ENGINE_FLOAT16)                                           \
    X(bf16, uint16_t, ENGINE_BFLOAT16)                                         \
    X(i8, int8_t, ENGINE_INT8)                                                 \
    X(i16, int16_t, ENGINE_INT16)                                              \
    X(i32, int32_t, ENGINE_INT32)                                              \
    X(i64, int64_t, ENGINE_INT64)                                              \
    X(u8, uint8_t, ENGINE_UINT8)                                               \
    X(u16, uint16_t, ENGINE_UINT16)                                            \
    X(u32, uint32_t, ENGINE_UINT32)                                            \
    X(u64, uint64_t, ENGINE_UINT64)                                            \
    X(b, uint8_t, ENGINE_BOOL)

#define CV_INNER(X, SN, ST, SE)                                                \
    X(SN, ST, SE, f32, float, ENGINE_FLOAT)                                    \
    X(SN, ST, SE, f64, double, ENGINE_DOUBLE)                                  \
    X(SN, ST, SE, f16, uint16_t, ENGINE_FLOAT16)                               \
    X(SN, ST, SE, bf16, uint16_t, ENGINE_BFLOAT16)                             \
    X(SN, ST, SE, i8, int8_t, ENGINE_INT8)                                     \
    X(SN, ST, SE, i16, int16_t, ENGINE_INT16)                                  \
    X(SN, ST, SE, i32, int32_t, ENGINE_INT32)                                  \
    X(SN, ST, SE, i64, int64_t, ENGINE_INT64)                                  \
    X(SN, ST, SE, u8, uint8_t, ENGINE_UINT8)                                   \
    X(SN, ST, SE, u16, uint16_t, ENGINE_UINT16)                                \
    X(SN, ST, SE, u32, uint32_t, ENGINE_UINT32)                                \
    X(SN, ST, SE, u64, uint64_t, ENGINE_UINT64)                                \
    X(SN, ST, SE, b, uint8_t, ENGINE_BOOL)

/* --- float16 and bfloat16 ---------------------------------------------------
 * Branch-free (selects only) versions of dtype.c's conversions, bit for bit
 * the same results (tests/unit/test_convert.c checks), so conversion loops
 * vectorize: models cast between float and float16 on hot paths. */
static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}
static inline float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, em = h & 0x7fffu;
    uint32_t normal = (em << 13) + 0x38000000u;             /* rebias 15 -> 127 */
    uint32_t special = normal + 0x38000000u;                /* exponent 31 -> 255 */
    uint32_t sub = f32_bits((float)em * 5.9604644775390625e-8f); /* em * 2^-24, exact */
    uint32_t r = em >= 0x7c00u ? special : em >= 0x400u ? normal : sub;
    return bits_f32(sign | r);
}

static inline uint16_t float_to_half(float f) {
    uint32_t x = f32_bits(f), ax = x & 0x7fffffffu;
    uint32_t sign = (x >> 16) & 0x8000u;
    /* Normal halves: rebias and round the 13 dropped bits to nearest even. */
    uint32_t normal = ((ax - 0x38000000u) + 0xfffu + ((ax >> 13) & 1u)) >> 13;
    /* Subnormal halves (|f| < 2^-14): adding 0.5 makes the FPU round |f| to
     * a multiple of 2^-24, which lands in the low mantissa bits. */
    uint32_t sub = f32_bits(bits_f32(ax) + 0.5f) - 0x3f000000u;
    uint32_t nan = 0x7e00u | ((ax & 0x7fffffu) >> 13);
    uint32_t r = ax > 0x7f800000u ? nan
               : ax >= 0x477ff000u ? 0x7c00u                /* rounds past 65504 */
               : ax >= 0x38800000u ? normal : sub;
    return (uint16_t)(sign | r);
}

static inline float bfloat16_to_float(uint16_t b) {
    return bits_f32((uint32_t)b << 16);
}

static inline uint16_t float_to_bfloat16(float f) {
    uint32_t x = f32_bits(f);
    uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
    uint32_t nan = (x >> 16) | 0x40u;
    return (uint16_t)((x & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

/* --- loads: stored element -> arithmetic value ----------------------------- */
#define LOAD_f32(v) (v)
#define LOAD_f64(v) (v)
#define LOAD_f16(v) half_to_float(v)
#define LOAD_bf16(v) bfloat16_to_float(v)
#define LOAD_i8(v) (v)
#define LOAD_i16(v) (v)
#define LOAD_i32(v) (v)
#define LOAD_i64(v) (v)
#define LOAD_u8(v) (v)
#define LOAD_u16(v) (v)
#define LOAD_u32(v) (v)
#define LOAD_u64(v) (v)
#define LOAD_b(v) ((v) != 0)

/* --- stores: arithmetic value -> stored element ---------------------------- */
/* Integer destinations: wrap from integers, saturate from floating values.
 * The bounds are exact doubles: v >= hi catches everything that would not
 * fit, and below it truncation is in range. */
#define CV_INT_STORE(N, T, LO, HI)                                             \
    static inline T wrap_##N(uint64_t v) { return (T)v; }                      \
    static inline T sat_##N(double v) {                                        \
        if (v != v) return 0;                                                  \
        if (v <= (LO)) return (T)(LO);                                         \
        if (v >= (HI)) return (T)(HI);                                         \
        return (T)v;                                                           \
    }
CV_INT_STORE(i8, int8_t, -128.0, 127.0)
CV_INT_STORE(i16, int16_t, -32768.0, 32767.0)
CV_INT_STORE(i32, int32_t, -2147483648.0, 2147483647.0)
CV_INT_STORE(u8, uint8_t, 0.0, 255.0)
CV_INT_STORE(u16, uint16_t, 0.0, 65535.0)
CV_INT_STORE(u32, uint32_t, 0.0, 4294967295.0)
#undef CV_INT_STORE
/* 64-bit limits are not doubles: 2^63 and 2^64 are the first values out of
 * range, so compare against those and return the exact integer limit. */
static inline int64_t wrap_i64(uint64_t v) { return (int64_t)v; }
static inline int64_t sat_i64(double v) {
    if (v != v) return 0;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    if (v >= 9223372036854775808.0) return INT64_MAX;
    return (int64_t)v;
}
static inline uint64_t wrap_u64(uint64_t v) { return v; }
static inline uint64_t sat_u64(double v) {
    if (v != v || v <= 0) return 0;
    if (v >= 18446744073709551616.0) return UINT64_MAX;
    return (uint64_t)v;
}

#define CV_STORE_INT(N, v) \
    _Generic((v), float: sat_##N, double: sat_##N, default: wrap_##N)(v)
#define STORE_i8(v) CV_STORE_INT(i8, v)
#define STORE_i16(v) CV_STORE_INT(i16, v)
#define STORE_i32(v) CV_STORE_INT(i32, v)
#define STORE_i64(v) CV_STORE_INT(i64, v)
#define STORE_u8(v) CV_STORE_INT(u8, v)
#define STORE_u16(v) CV_STORE_INT(u16, v)
#define STORE_u32(v) CV_STORE_INT(u32, v)
#define STORE_u64(v) CV_STORE_INT(u64, v)
#define STORE_f32(v) ((float)(v))
#define STORE_f64(v) ((double)(v))
#define STORE_f16(v) float_to_half((float)(v))
#define STORE_bf16(v) float_to_bfloat16((float)(v))
#define STORE_b(v) ((uint8_t)((v) != 0))

/* --- the matrix ------------------------------------------------------------- */
#define CV_BODY(ST, DT, SN, DN)                                                \
    {                                                                          \
        const ST *src = s;                                                     \
        DT *dst = d;                                                           \
        VM_SIMD for (int64_t i = 0; i < n; i++) dst[i] = STORE_##DN(LOAD_##SN(src[i])); \
    }
#define CV_FN(SN, ST, SE, DN, DT, DE) \
    static void cv_##SN##_##DN(const void *s, void *d, int64_t n) CV_BODY(ST, DT, SN, DN)
#define CV_ROW_FNS(SN, ST, SE) CV_INNER(CV_FN, SN, ST, SE)
CV_OUTER(CV_ROW_FNS)

#define CV_ENTRY(SN, ST, SE, DN, DT, DE) [DE] = cv_##SN##_##DN,
#define CV_ROW(SN, ST, SE) [SE] = {CV_INNER(CV_ENTRY, SN, ST, SE)},
static const convert_fn cv_table[ENGINE_DTYPE__MAX][ENGINE_DTYPE__MAX] = {CV_OUTER(CV_ROW)};

/* The pairs on models' hot paths also get AVX2/AVX-512 clones (vmath.h):
 * 7x faster for float16, not worth the code size for the other 160 pairs. */
#define CV_FAST(SN, ST, SE, DN, DT, DE) \
    VM_TARGET_CLONES static void cv_fast_##SN##_##DN(const void *s, void *d, int64_t n) \
        CV_BODY(ST, DT, SN, DN)
#define CV_FAST_LIST(X)                                                        \
    X(f32, float, ENGINE_FLOAT, f16, uint16_t, ENGINE_FLOAT16)                 \
    X(f16, uint16_t, ENGINE_FLOAT16, f32, float, ENGINE_FLOAT)                 \
    X(f32, float, ENGINE_FLOAT, bf16, uint16_t, ENGINE_BFLOAT16)               \
    X(bf16, uint16_t, ENGINE_BFLOAT16, f32, float, ENGINE_FLOAT)               \
    X(f32, float, ENGINE_FLOAT, i64, int64_t, ENGINE_INT64)                    \
    X(i64, int64_t, ENGINE_INT64, f32, float, ENGINE_FLOAT)                    \
    X(f32, float, ENGINE_FLOAT, i32, int32_t, ENGINE_INT32)                    \
    X(i32, int32_t, ENGINE_INT32, f32, float, ENGINE_FLOAT)
CV_FAST_LIST(CV_FAST)

typedef struct cv_fast_entry {
    engine_dtype from, to;
    convert_fn fn;
} cv_fast_entry;
#define CV_FAST_ENTRY(SN, ST, SE, DN, DT, DE) {SE, DE, cv_fast_##SN##_##DN},
static const cv_fast_entry cv_fast[] = {CV_FAST_LIST(CV_FAST_ENTRY)};

/* Same-type "conversions" by element size: a copy (memmove, so the in-place
 * case allowed by the header is fine). */
#define CV_COPY(BYTES)                                                         \
    static void cv_copy##BYTES(const void *s, void *d, int64_t n) {            \
        if (s != d && n > 0) memmove(d, s, (size_t)n * (BYTES));               \
    }
CV_COPY(1)
CV_COPY(2)
CV_COPY(4)
CV_COPY(8)

int convert_supported(engine_dtype dt) {
    return dt > ENGINE_UNDEFINED && dt < ENGINE_DTYPE__MAX && cv_table[dt][dt] != NULL;
}

convert_fn convert_get(engine_dtype from, engine_dtype to) {
    if (!convert_supported(from) || !convert_supported(to)) return NULL;
    if (from == to) {
        switch (engine_dtype_size(from)) {
        case 1: return cv_copy1;
        case 2: return cv_copy2;
        case 4: return cv_copy4;
        default: return cv_copy8;
        }
    }
    for (size_t i = 0; i < sizeof cv_fast / sizeof cv_fast[0]; i++)
        if (cv_fast[i].from == from && cv_fast[i].to == to) return cv_fast[i].fn;
    return cv_table[from][to];
}
