/* vmath.h -- float exp/tanh/erf written so gcc can vectorize loops over them.
 *
 * libm's expf/tanhf/erff are calls gcc cannot vectorize without
 * -ffast-math, and softmax, sigmoid and GELU spend nearly all their time in
 * them. These are branch-free (selects only) versions accurate to a few ulp
 * (relative error below 1e-6 over the float range, a little more in erfc's
 * far tail; tests/unit/test_vmath.c checks them against libm). Special
 * values: NaN propagates, exp(+inf) = inf, exp(-inf) = 0; results below
 * ~1e-38 flush to 0.
 *
 *     VM_SIMD
 *     for (int64_t i = 0; i < n; i++) y[i] = vm_expf(x[i] - max);
 */
#ifndef INFERD_VMATH_H
#define INFERD_VMATH_H

#include <stdint.h>
#include <string.h>

/* Put before a loop to have it vectorized even at -O2 (whose cost model
 * vectorizes almost nothing) and without alias checks: only for loops whose
 * iterations are independent (an output may alias an input at the same
 * index). Needs -fopenmp or -fopenmp-simd; a no-op otherwise.
 *
 * The project compiles with -fno-trapping-math (selects on floats such as
 * x > 0 ? x : 0 vectorize only without trapping math; we never read FP
 * exception flags) and -ffp-contract=fast (-std=c17 otherwise turns off
 * fusing a*b+c into FMA, which the AVX2/AVX-512 clones below need). */
#define VM_PRAGMA(x) _Pragma(#x)
#ifdef _OPENMP
#define VM_SIMD _Pragma("omp simd")
/* A vectorized reduction of var with op (+, *, max, min): reassociation the
 * compiler may not do on its own for floats. */
#define VM_SIMD_REDUCE(op, var) VM_PRAGMA(omp simd reduction(op : var))
#else
#define VM_SIMD
#define VM_SIMD_REDUCE(op, var)
#endif

/* Compiles a kernel for AVX-512, AVX2+FMA and baseline x86-64 and picks one
 * at load time (ifunc): the build targets baseline x86-64, the machines
 * serving have AVX-512. Only for non-inline kernels called through
 * pointers or at most once per row (the clones cannot inline into callers). */
#if defined(__x86_64__) && defined(__linux__) && !defined(__clang__)
#define VM_TARGET_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VM_TARGET_CLONES
#endif

/* 2^n for integer-valued n in [-126, 127], by building the exponent bits. */
static inline float vm_pow2i(float n) {
    int32_t bits = ((int32_t)n + 127) << 23;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline float vm_expf(float x) {
    const float hi = 88.72283935546875f, lo = -86.5f;
    /* Clamp so the exponent fits; NaN fails both tests and becomes hi, and
     * is restored at the end. */
    float xc = x < hi ? x : hi;
    xc = xc > lo ? xc : lo;
    /* n = round(x / ln2) with the 1.5*2^23 trick (no SSE4.1 round needed). */
    float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = xc - n * 0.693359375f;              /* ln2 split: hi part exact */
    r = r - n * -2.12194440e-4f;                  /* ... and the rest */
    /* e^r on [-ln2/2, ln2/2]: 1 + r + r^2 q(r), q of degree 4 fitted for
     * minimal relative error (3e-9 in exact arithmetic, 8e-8 in float). */
    float p = 1.381461309e-03f;
    p = p * r + 8.368709961e-03f;
    p = p * r + 4.166838737e-02f;
    p = p * r + 1.666652069e-01f;
    p = p * r + 4.999999345e-01f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* n is in [-125, 128]: scale by 2^(n-1) * 2 so 2^n itself need not fit. */
    float y = p * vm_pow2i(n - 1.0f) * 2.0f;
    y = x > hi ? __builtin_inff() : y;
    y = x < lo ? 0.0f : y;
    return x != x ? x : y;
}

static inline float vm_sigmoidf(float x) {
    /* exp of -|x| never overflows; mirror for x < 0. */
    float ax = x < 0 ? -x : x;
    float e = vm_expf(-ax);
    float d = 1.0f / (1.0f + e);
    return x < 0 ? e * d : d;
}

static inline float vm_tanhf(float x) {
    float ax = x < 0 ? -x : x;
    /* Large |x|: 1 - 2/(e^{2|x|}+1), accurate once tanh is not tiny. */
    float e = vm_expf(2.0f * (ax < 10.0f ? ax : 10.0f));
    float big = 1.0f - 2.0f / (e + 1.0f);
    /* Small |x|: odd Taylor series, where the form above would cancel. */
    float x2 = ax * ax;
    float p = 21844.0f / 6081075.0f;
    p = p * x2 - 1382.0f / 155925.0f;
    p = p * x2 + 62.0f / 2835.0f;
    p = p * x2 - 17.0f / 315.0f;
    p = p * x2 + 2.0f / 15.0f;
    p = p * x2 - 1.0f / 3.0f;
    float small = ax + ax * x2 * p;
    float t = ax < 0.3f ? small : big;
    t = x < 0 ? -t : t;
    return x != x ? x : t;
}

/* erfc(ax) for ax >= 0, with small *relative* error even deep in the tail
 * (where 1 - erf(x) would cancel): t e^{-x^2 + P(t)}, t = 1/(1 + x/2), P of
 * degree 9 fitted to log(erfc(x)/t) + x^2 on [0, 9.5] (error 4e-8; float
 * rounding of the exponent adds up to ~1e-5 relative for x near 9). */
static inline float vm_erfcf_pos(float ax) {
    float a = ax < 10.0f ? ax : 10.0f;          /* erfc(10) underflows anyway */
    float t = 1.0f / (1.0f + 0.5f * a);
    float p = 1.380963055e-01f;
    p = p * t - 6.435051736e-01f;
    p = p * t + 1.068685368e+00f;
    p = p * t - 5.788167113e-01f;
    p = p * t - 1.775629163e-01f;
    p = p * t + 5.300041245e-02f;
    p = p * t + 1.700421204e-02f;
    p = p * t + 3.903207289e-01f;
    p = p * t + 9.982047724e-01f;
    p = p * t - 1.265426955e+00f;
    return t * vm_expf(p - a * a);
}

static inline float vm_erff(float x) {
    float ax = x < 0 ? -x : x;
    float big = 1.0f - vm_erfcf_pos(ax);
    /* |x| < 0.5: Maclaurin series, relative error < 2e-8 there. */
    float x2 = ax * ax;
    float p = 1.0f / 1320.0f;
    p = p * x2 - 1.0f / 216.0f;
    p = p * x2 + 1.0f / 42.0f;
    p = p * x2 - 1.0f / 10.0f;
    p = p * x2 + 1.0f / 3.0f;
    float small = 1.12837916709551257f * (ax - ax * x2 * p);
    float e = ax < 0.5f ? small : big;
    e = x < 0 ? -e : e;
    return x != x ? x : e;
}

/* GELU, x * Phi(x) = x/2 * erfc(-x/sqrt2), written so negative x (where
 * 1 + erf(x/sqrt2) would cancel) keeps its relative accuracy. */
static inline float vm_geluf(float x) {
    float ax = x < 0 ? -x : x;
    float half_e = 0.5f * vm_erfcf_pos(ax * 0.70710678118654752f);
    return x < 0 ? x * half_e : x - x * half_e;
}

#endif
