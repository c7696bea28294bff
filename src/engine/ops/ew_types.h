/* ew_types.h -- type lists and kernel generators for elementwise ops
 * (private to ops/).
 *
 * Kernels are written once as an expression over `x` (and `y`) and stamped
 * out per element type by X-macros, so no loop is copied per dtype:
 *
 *     #define EXPR_add(T, UT) (T)((UT)x + (UT)y)
 *     EW_SINT(EW_GEN_BINARY, add)           // add_i8 ... add_i64
 *     static const ew_binary_fn add_fns[ENGINE_DTYPE__MAX] = {
 *         EW_SINT(EW_GEN_ENTRY, add) ...};
 *
 * Each list entry is X(OP, dtype, suffix, T, UT). UT is the type integer
 * arithmetic is done in, so overflow wraps instead of being undefined:
 * unsigned, at least as wide as int so small types do not promote to signed
 * int. Floating types use themselves. */
#ifndef INFERD_EW_TYPES_H
#define INFERD_EW_TYPES_H

#include <stdint.h>

#include "../kernels/vmath.h"
#include "ew_run.h"

#define EW_SINT(X, OP)                                                         \
    X(OP, ENGINE_INT8, i8, int8_t, uint32_t)                                   \
    X(OP, ENGINE_INT16, i16, int16_t, uint32_t)                                \
    X(OP, ENGINE_INT32, i32, int32_t, uint32_t)                                \
    X(OP, ENGINE_INT64, i64, int64_t, uint64_t)
#define EW_UINT(X, OP)                                                         \
    X(OP, ENGINE_UINT8, u8, uint8_t, uint32_t)                                 \
    X(OP, ENGINE_UINT16, u16, uint16_t, uint32_t)                              \
    X(OP, ENGINE_UINT32, u32, uint32_t, uint32_t)                              \
    X(OP, ENGINE_UINT64, u64, uint64_t, uint64_t)
#define EW_FLOAT(X, OP)                                                        \
    X(OP, ENGINE_FLOAT, f32, float, float)                                     \
    X(OP, ENGINE_DOUBLE, f64, double, double)
#define EW_BOOL(X, OP) X(OP, ENGINE_BOOL, b, uint8_t, uint32_t)
#define EW_INT(X, OP) EW_SINT(X, OP) EW_UINT(X, OP)
#define EW_NUMERIC(X, OP) EW_INT(X, OP) EW_FLOAT(X, OP)

/* ATTR for a kernel of type SUF: float kernels get AVX2/AVX-512 clones
 * (vmath.h); the others stay baseline, which keeps the binary small. */
#define EW_CLONES_f32 VM_TARGET_CLONES
#define EW_CLONES_f64
#define EW_CLONES_i8
#define EW_CLONES_i16
#define EW_CLONES_i32
#define EW_CLONES_i64
#define EW_CLONES_u8
#define EW_CLONES_u16
#define EW_CLONES_u32
#define EW_CLONES_u64
#define EW_CLONES_b

/* A binary row kernel (see ew_binary_fn) computing EXPR from TI x, y into TO,
 * declared with ATTR. No restrict: variadic ops fold into an output that is
 * also an input. */
#define EW_BINARY_KERNEL(ATTR, NAME, TI, TO, EXPR)                             \
    ATTR static void NAME(void *vo, const void *va, const void *vb, int64_t n,      \
                     int sa, int sb) {                                         \
        TO *o = vo;                                                            \
        const TI *a = va, *b = vb;                                             \
        if (sa && sb) {                                                        \
            VM_SIMD for (int64_t i = 0; i < n; i++) {                          \
                const TI x = a[i], y = b[i];                                   \
                (void)y;                                                       \
                o[i] = (EXPR);                                                 \
            }                                                                  \
        } else if (sa) {                                                       \
            const TI y = b[0];                                                 \
            (void)y;                                                           \
            VM_SIMD for (int64_t i = 0; i < n; i++) {                          \
                const TI x = a[i];                                             \
                o[i] = (EXPR);                                                 \
            }                                                                  \
        } else if (sb) {                                                       \
            const TI x = a[0];                                                 \
            VM_SIMD for (int64_t i = 0; i < n; i++) {                          \
                const TI y = b[i];                                             \
                (void)y;                                                       \
                o[i] = (EXPR);                                                 \
            }                                                                  \
        } else {                                                               \
            const TI x = a[0], y = b[0];                                       \
            (void)y;                                                           \
            const TO v = (EXPR);                                               \
            VM_SIMD for (int64_t i = 0; i < n; i++) o[i] = v;                  \
        }                                                                      \
    }

/* A unary kernel (see ew_unary_fn) computing EXPR from TI x into TO. The
 * parameters are visible as the local copy P (an ew_params): a local, so the
 * compiler knows stores to the output cannot change them and can vectorize. */
#define EW_UNARY_KERNEL(ATTR, NAME, TI, TO, EXPR)                              \
    ATTR static void NAME(void *vo, const void *vi, int64_t n, const ew_params *p) { \
        TO *o = vo;                                                            \
        const TI *in = vi;                                                     \
        const ew_params P = p ? *p : (ew_params){0};                           \
        (void)P;                                                               \
        VM_SIMD for (int64_t i = 0; i < n; i++) {                              \
            const TI x = in[i];                                                \
            o[i] = (EXPR);                                                     \
        }                                                                      \
    }

/* Generators for list entries: EXPR_##OP(T, UT) is the expression. */
#define EW_GEN_BINARY(OP, DT, SUF, T, UT) \
    EW_BINARY_KERNEL(EW_CLONES_##SUF, OP##_##SUF, T, T, EXPR_##OP(T, UT))
#define EW_GEN_PREDICATE(OP, DT, SUF, T, UT) \
    EW_BINARY_KERNEL(EW_CLONES_##SUF, OP##_##SUF, T, uint8_t, EXPR_##OP(T, UT))
#define EW_GEN_UNARY(OP, DT, SUF, T, UT) \
    EW_UNARY_KERNEL(EW_CLONES_##SUF, OP##_##SUF, T, T, EXPR_##OP(T, UT))
#define EW_GEN_ENTRY(OP, DT, SUF, T, UT) [DT] = OP##_##SUF,

#endif
