/* pool.c -- pooling kernels, generated per element type. */
#include "pool.h"

#include <float.h>
#include <math.h>

#include "vmath.h"

/* Kernel taps [*lo, *hi) of output o on one axis that read inside [lo_lim,
 * hi_lim) in input coordinates. */
static inline void taps(const pool_geom *g, int d, int64_t o, int64_t lo_lim, int64_t hi_lim,
                        int64_t *lo, int64_t *hi) {
    int64_t start = o * g->stride[d] - g->pad[d], dil = g->dilation[d], a, b;
    if (dil == 1) { /* the common case, without divisions */
        a = start >= lo_lim ? 0 : lo_lim - start;
        b = hi_lim - start;
    } else {
        a = start >= lo_lim ? 0 : (lo_lim - start + dil - 1) / dil;
        b = hi_lim - start <= 0 ? 0 : (hi_lim - start + dil - 1) / dil;
    }
    if (b > g->kernel[d]) b = g->kernel[d];
    *lo = a;
    *hi = b > a ? b : a;
}

/* The valid taps [lo, hi) per axis of one output position, and the count
 * of taps inside the padded extent (for count_include_pad). */
typedef struct win {
    int64_t lo[3], hi[3];
    int64_t padded_count;
} win;

static inline int64_t axis_window(const pool_geom *g, int d, int64_t o, win *w) {
    int64_t plo, phi;
    taps(g, d, o, 0, g->in[d], &w->lo[d], &w->hi[d]);
    taps(g, d, o, -g->pad[d], g->in[d] + g->pad_end[d], &plo, &phi);
    return phi - plo;
}

/* Runs the statements given for every output position of the planes
 * [q0, q1), with the window w of valid taps, the plane's input offset base
 * and the flat output index yi. The window is resolved axis by axis in the
 * enclosing loops. */
#define POOL_LOOP(...)                                                                   \
    do {                                                                                 \
        const int64_t isz = g->in[0] * g->in[1] * g->in[2];                              \
        const int64_t osz = g->out[0] * g->out[1] * g->out[2];                           \
        for (int64_t q = q0; q < q1; q++) {                                              \
            int64_t yi = q * osz;                                                        \
            const int64_t base = q * isz;                                                \
            int64_t o[3];                                                                \
            win w;                                                                       \
            for (o[0] = 0; o[0] < g->out[0]; o[0]++) {                                   \
                int64_t c0 = axis_window(g, 0, o[0], &w);                                \
                for (o[1] = 0; o[1] < g->out[1]; o[1]++) {                               \
                    int64_t c1 = c0 * axis_window(g, 1, o[1], &w);                       \
                    for (o[2] = 0; o[2] < g->out[2]; o[2]++, yi++) {                     \
                        w.padded_count = c1 * axis_window(g, 2, o[2], &w);               \
                        __VA_ARGS__                                                      \
                    }                                                                    \
                }                                                                        \
            }                                                                            \
        }                                                                                \
    } while (0)

/* Loops over the window's input coordinates (i0, i1, i2). */
#define WALK(...)                                                                         \
    for (int64_t k0 = w.lo[0]; k0 < w.hi[0]; k0++) {                                     \
        const int64_t i0 = o[0] * g->stride[0] - g->pad[0] + k0 * g->dilation[0];        \
        for (int64_t k1 = w.lo[1]; k1 < w.hi[1]; k1++) {                                 \
            const int64_t i1 = o[1] * g->stride[1] - g->pad[1] + k1 * g->dilation[1];    \
            for (int64_t k2 = w.lo[2]; k2 < w.hi[2]; k2++) {                             \
                const int64_t i2 = o[2] * g->stride[2] - g->pad[2] + k2 * g->dilation[2];\
                const int64_t off = (i0 * g->in[1] + i1) * g->in[2] + i2;                \
                __VA_ARGS__                                                                     \
            }                                                                            \
        }                                                                                \
    }

#define POOL_MAX(NAME, T, LOWEST)                                                        \
    VM_TARGET_CLONES static void NAME(const pool_geom *g, const void *xv, void *yv,      \
                                      int64_t *idx, int col_major, int64_t q0,           \
                                      int64_t q1) {                                      \
        const T *x = xv;                                                                 \
        T *y = yv;                                                                       \
        POOL_LOOP({                                                                      \
            T best = LOWEST;                                                             \
            int64_t bi0 = 0, bi1 = 0, bi2 = 0, found = 0;                                \
            WALK(if (!found || x[base + off] > best) {                                   \
                best = x[base + off];                                                    \
                bi0 = i0, bi1 = i1, bi2 = i2, found = 1;                                 \
            })                                                                           \
            y[yi] = best;                                                                \
            if (idx) {                                                                   \
                int64_t sp = col_major ? (bi2 * g->in[1] + bi1) * g->in[0] + bi0         \
                                       : (bi0 * g->in[1] + bi1) * g->in[2] + bi2;        \
                idx[yi] = base + sp;                                                     \
            }                                                                            \
        });                                                                              \
    }

#define POOL_AVG(NAME, T, ACC)                                                           \
    VM_TARGET_CLONES static void NAME(const pool_geom *g, const void *xv, void *yv,      \
                                      int count_pad, int64_t q0, int64_t q1) {           \
        const T *x = xv;                                                                 \
        T *y = yv;                                                                       \
        POOL_LOOP({                                                                      \
            ACC sum = 0;                                                                 \
            int64_t cnt = 0;                                                             \
            WALK(sum += x[base + off]; cnt++;)                                           \
            if (count_pad) cnt = w.padded_count;                                         \
            y[yi] = cnt ? (T)(sum / (ACC)cnt) : (T)0;                                    \
        });                                                                              \
    }

#define POOL_LP(NAME, T)                                                                 \
    VM_TARGET_CLONES static void NAME(const pool_geom *g, const void *xv, void *yv,      \
                                      double p, int64_t q0, int64_t q1) {                \
        const T *x = xv;                                                                 \
        T *y = yv;                                                                       \
        POOL_LOOP({                                                                      \
            double sum = 0;                                                              \
            if (p == 2.0) {                                                              \
                WALK(sum += (double)x[base + off] * x[base + off];)                      \
                y[yi] = (T)sqrt(sum);                                                    \
            } else if (p == 1.0) {                                                       \
                WALK(sum += fabs((double)x[base + off]);)                                \
                y[yi] = (T)sum;                                                          \
            } else {                                                                     \
                WALK(sum += pow(fabs((double)x[base + off]), p);)                        \
                y[yi] = (T)pow(sum, 1.0 / p);                                            \
            }                                                                            \
        });                                                                              \
    }

POOL_MAX(max_f32, float, -INFINITY)
POOL_MAX(max_f64, double, -INFINITY)
POOL_MAX(max_i8, int8_t, INT8_MIN)
POOL_MAX(max_u8, uint8_t, 0)
POOL_AVG(avg_f32, float, float)
POOL_AVG(avg_f64, double, double)
POOL_LP(lp_f32, float)
POOL_LP(lp_f64, double)

/* --- 2-D fp32 fast path ---------------------------------------------------
 * For 2-D windows (axis 0 of the 3-D geometry is 1) without argmax: each
 * output row is reduced tap by tap, every tap one vector loop over exactly
 * the output columns whose input column is inside the row (so the padding
 * needs no tests). ResNet's 3x3/2 max pool and DenseNet's average pools. */

static int fast2d(const pool_geom *g) {
    return g->in[0] == 1 && g->out[0] == 1 && g->kernel[0] == 1;
}

/* yrow[o] = max/sum over the window's taps of row oh. */
static inline __attribute__((always_inline)) void
row_reduce(const pool_geom *g, const float *xp, float *restrict yrow, int64_t oh, int is_max) {
    const int64_t ow_n = g->out[2], w = g->in[2], s = g->stride[2];
    const float init = is_max ? -INFINITY : 0.0f;
    VM_SIMD for (int64_t o = 0; o < ow_n; o++) yrow[o] = init;
    int64_t k0, k1;
    taps(g, 1, oh, 0, g->in[1], &k0, &k1);
    for (int64_t kh = k0; kh < k1; kh++) {
        const float *xrow = xp + (oh * g->stride[1] - g->pad[1] + kh * g->dilation[1]) * w;
        for (int64_t kw = 0; kw < g->kernel[2]; kw++) {
            int64_t off = kw * g->dilation[2] - g->pad[2];
            /* output columns o with 0 <= o*s + off < w */
            int64_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
            int64_t hi = w - off <= 0 ? 0 : (w - off + s - 1) / s;
            if (hi > ow_n) hi = ow_n;
            if (is_max) {
                VM_SIMD for (int64_t o = lo; o < hi; o++) {
                    float v = xrow[o * s + off];
                    yrow[o] = v > yrow[o] ? v : yrow[o];
                }
            } else {
                VM_SIMD for (int64_t o = lo; o < hi; o++) yrow[o] += xrow[o * s + off];
            }
        }
    }
}

VM_TARGET_CLONES static void max2d_f32(const pool_geom *g, const float *x, float *y, int64_t q0,
                                       int64_t q1) {
    const int64_t isz = g->in[1] * g->in[2], osz = g->out[1] * g->out[2];
    for (int64_t q = q0; q < q1; q++)
        for (int64_t oh = 0; oh < g->out[1]; oh++)
            row_reduce(g, x + q * isz, y + q * osz + oh * g->out[2], oh, 1);
}

VM_TARGET_CLONES static void avg2d_f32(const pool_geom *g, const float *x, float *y,
                                       int count_pad, int64_t q0, int64_t q1) {
    const int64_t isz = g->in[1] * g->in[2], osz = g->out[1] * g->out[2];
    for (int64_t q = q0; q < q1; q++)
        for (int64_t oh = 0; oh < g->out[1]; oh++) {
            float *yrow = y + q * osz + oh * g->out[2];
            row_reduce(g, x + q * isz, yrow, oh, 0);
            int64_t h0, h1, w0, w1;
            if (count_pad) taps(g, 1, oh, -g->pad[1], g->in[1] + g->pad_end[1], &h0, &h1);
            else taps(g, 1, oh, 0, g->in[1], &h0, &h1);
            for (int64_t o = 0; o < g->out[2]; o++) {
                if (count_pad) taps(g, 2, o, -g->pad[2], g->in[2] + g->pad_end[2], &w0, &w1);
                else taps(g, 2, o, 0, g->in[2], &w0, &w1);
                int64_t cnt = (h1 - h0) * (w1 - w0);
                yrow[o] = cnt ? yrow[o] / (float)cnt : 0.0f;
            }
        }
}

static void max_f32_any(const pool_geom *g, const void *x, void *y, int64_t *idx, int col_major,
                        int64_t q0, int64_t q1) {
    if (!idx && fast2d(g)) max2d_f32(g, x, y, q0, q1);
    else max_f32(g, x, y, idx, col_major, q0, q1);
}

static void avg_f32_any(const pool_geom *g, const void *x, void *y, int count_pad, int64_t q0,
                        int64_t q1) {
    if (fast2d(g)) avg2d_f32(g, x, y, count_pad, q0, q1);
    else avg_f32(g, x, y, count_pad, q0, q1);
}

static const pool_kernels pool_table[] = {
    {ENGINE_FLOAT, max_f32_any, avg_f32_any, lp_f32},
    {ENGINE_DOUBLE, max_f64, avg_f64, lp_f64},
    {ENGINE_INT8, max_i8, NULL, NULL},
    {ENGINE_UINT8, max_u8, NULL, NULL},
};

const pool_kernels *pool_kernels_for(engine_dtype dt) {
    for (size_t i = 0; i < sizeof pool_table / sizeof pool_table[0]; i++)
        if (pool_table[i].dt == dt) return &pool_table[i];
    return NULL;
}
