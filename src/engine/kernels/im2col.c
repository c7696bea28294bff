/* im2col.c -- column matrices for convolution: a fast 2-D path, a generic
 * N-D path, and their adjoints. */
#include "im2col.h"

#include <string.h>

#include "vmath.h"

/* Output positions o in [o0, o1) whose input coordinate o*s + off lies in
 * [0, n): returns them as [*lo, *hi), possibly empty. */
CONV_INLINE void valid_range(int64_t o0, int64_t o1, int64_t s, int64_t off, int64_t n,
                             int64_t *lo, int64_t *hi) {
    int64_t a, b;
    if (s == 1) { /* the common case, without divisions */
        a = -off;
        b = n - off;
    } else {
        a = off >= 0 ? 0 : (-off + s - 1) / s;
        b = n - 1 - off < 0 ? 0 : (n - 1 - off) / s + 1;
    }
    if (a < o0) a = o0;
    if (b > o1) b = o1;
    if (b < a) b = a;
    *lo = a;
    *hi = b;
}

/* dst[o - o0] = xrow[o*s + off] for o in [o0, o1), 0 outside the row (or
 * everywhere when xrow is NULL: the whole input row is padding). */
CONV_INLINE void row_gather(const float *xrow, int64_t w, int64_t o0, int64_t o1, int64_t s,
                            int64_t off, float *restrict dst) {
    if (!xrow) {
        memset(dst, 0, (size_t)(o1 - o0) * sizeof *dst);
        return;
    }
    int64_t lo, hi;
    valid_range(o0, o1, s, off, w, &lo, &hi);
    if (lo > o0) memset(dst, 0, (size_t)(lo - o0) * sizeof *dst);
    if (s == 1) {
        if (hi > lo) memcpy(dst + (lo - o0), xrow + lo + off, (size_t)(hi - lo) * sizeof *dst);
    } else {
        VM_SIMD for (int64_t o = lo; o < hi; o++) dst[o - o0] = xrow[o * s + off];
    }
    if (o1 > hi) memset(dst + (hi - o0), 0, (size_t)(o1 - hi) * sizeof *dst);
}

/* yrow[o*s + off] += src[o - o0] for the valid o in [o0, o1). */
CONV_INLINE void row_scatter_add(float *restrict yrow, int64_t w, int64_t o0, int64_t o1,
                                 int64_t s, int64_t off, const float *restrict src) {
    int64_t lo, hi;
    valid_range(o0, o1, s, off, w, &lo, &hi);
    if (s == 1) {
        VM_SIMD for (int64_t o = lo; o < hi; o++) yrow[o + off] += src[o - o0];
    } else {
        for (int64_t o = lo; o < hi; o++) yrow[o * s + off] += src[o - o0];
    }
}

/* Stride 1 with output rows as wide as input rows ("same" convolutions):
 * a tap's row of the column matrix is the input plane shifted by one flat
 * offset. One memcpy per tap, then the columns that wrapped around a row
 * edge and the rows outside the image are zeroed; far cheaper than a copy
 * per output row when rows are short (14x14, 7x7). */
CONV_INLINE void im2col_2d_shift(const conv_geom *g, const float *xc, int64_t kh, int64_t kw,
                                 int64_t p0, int64_t p1, float *restrict dst) {
    const int64_t h = g->in[0], w = g->in[1], oh_n = g->out[0];
    const int64_t dy = kh * g->dilation[0] - g->pad[0], dx = kw * g->dilation[1] - g->pad[1];
    const int64_t shift = dy * w + dx;
    /* Flat outputs whose input row exists and whose source index is inside
     * the plane: [f0, f1) within the tile [p0, p1). */
    int64_t f0 = (dy < 0 ? -dy : 0) * w, f1 = (h - dy < oh_n ? h - dy : oh_n) * w;
    if (f0 < p0) f0 = p0;
    if (f0 < -shift) f0 = -shift;
    if (f1 > p1) f1 = p1;
    if (f1 > h * w - shift) f1 = h * w - shift;
    if (f1 < f0) f1 = f0 = p0;
    memset(dst, 0, (size_t)(f0 - p0) * sizeof *dst);
    memcpy(dst + (f0 - p0), xc + f0 + shift, (size_t)(f1 - f0) * sizeof *dst);
    memset(dst + (f1 - p0), 0, (size_t)(p1 - f1) * sizeof *dst);
    /* Columns ow whose input column ow + dx is outside [0, w). */
    int64_t lo = dx < 0 ? -dx : 0, hi = w - dx < w ? w - dx : w;
    if (lo == 0 && hi == w) return;
    for (int64_t row = f0 / w * w; row < f1; row += w) {
        for (int64_t ow = 0; ow < lo; ow++)
            if (row + ow >= f0 && row + ow < f1) dst[row + ow - p0] = 0.0f;
        for (int64_t ow = hi > 0 ? hi : 0; ow < w; ow++)
            if (row + ow >= f0 && row + ow < f1) dst[row + ow - p0] = 0.0f;
    }
}

CONV_INLINE void im2col_2d(const conv_geom *g, int64_t channels, const float *x, int64_t p0,
                           int64_t p1, float *col, int64_t ldc) {
    const int64_t h = g->in[0], w = g->in[1], ow_n = g->out[1];
    const int64_t kh_n = g->kernel[0], kw_n = g->kernel[1];
    if (g->stride[0] == 1 && g->stride[1] == 1 && ow_n == w) {
        for (int64_t c = 0; c < channels; c++)
            for (int64_t kh = 0; kh < kh_n; kh++)
                for (int64_t kw = 0; kw < kw_n; kw++)
                    im2col_2d_shift(g, x + c * h * w, kh, kw, p0, p1,
                                    col + ((c * kh_n + kh) * kw_n + kw) * ldc);
        return;
    }
    for (int64_t c = 0; c < channels; c++) {
        const float *xc = x + c * h * w;
        for (int64_t kh = 0; kh < kh_n; kh++) {
            for (int64_t kw = 0; kw < kw_n; kw++) {
                float *dst = col + ((c * kh_n + kh) * kw_n + kw) * ldc;
                int64_t off = kw * g->dilation[1] - g->pad[1];
                for (int64_t p = p0; p < p1;) {
                    int64_t oh = p / ow_n, ow = p % ow_n;
                    int64_t ow_end = ow + (p1 - p) < ow_n ? ow + (p1 - p) : ow_n;
                    int64_t ih = oh * g->stride[0] - g->pad[0] + kh * g->dilation[0];
                    const float *xrow = ih >= 0 && ih < h ? xc + ih * w : NULL;
                    row_gather(xrow, w, ow, ow_end, g->stride[1], off, dst + (p - p0));
                    p += ow_end - ow;
                }
            }
        }
    }
}

/* Steps a multi-index over dims (row-major, last fastest). */
CONV_INLINE void index_next(int n, const int64_t *dims, int64_t *idx) {
    for (int d = n - 1; d >= 0; d--) {
        if (++idx[d] < dims[d]) return;
        idx[d] = 0;
    }
}

/* Offset into the input of kernel tap kidx at output position oidx, or -1
 * when it falls into the padding. */
CONV_INLINE int64_t tap_offset(const conv_geom *g, const int64_t *kidx, const int64_t *oidx) {
    int64_t off = 0;
    for (int d = 0; d < g->nsp; d++) {
        int64_t i = oidx[d] * g->stride[d] - g->pad[d] + kidx[d] * g->dilation[d];
        if (i < 0 || i >= g->in[d]) return -1;
        off = off * g->in[d] + i;
    }
    return off;
}

CONV_INLINE void im2col_nd(const conv_geom *g, int64_t channels, const float *x, int64_t p0,
                           int64_t p1, float *col, int64_t ldc) {
    const int64_t ksz = conv_kernel_size(g), isz = conv_in_size(g);
    int64_t kidx[CONV_MAX_SPATIAL] = {0};
    for (int64_t k = 0; k < ksz; k++, index_next(g->nsp, g->kernel, kidx)) {
        int64_t oidx[CONV_MAX_SPATIAL], rest = p0;
        for (int d = g->nsp - 1; d >= 0; d--) {
            oidx[d] = rest % g->out[d];
            rest /= g->out[d];
        }
        for (int64_t p = p0; p < p1; p++, index_next(g->nsp, g->out, oidx)) {
            int64_t off = tap_offset(g, kidx, oidx);
            for (int64_t c = 0; c < channels; c++)
                col[(c * ksz + k) * ldc + (p - p0)] = off < 0 ? 0.0f : x[c * isz + off];
        }
    }
}

VM_TARGET_CLONES void im2col_f32(const conv_geom *g, int64_t channels, const float *x,
                                 int64_t p0, int64_t p1, float *col, int64_t ldc) {
    if (g->nsp == 2) im2col_2d(g, channels, x, p0, p1, col, ldc);
    else im2col_nd(g, channels, x, p0, p1, col, ldc);
}

CONV_INLINE void col2im_2d(const conv_geom *g, int64_t channels, const float *col, float *y) {
    const int64_t h = g->in[0], w = g->in[1], oh_n = g->out[0], ow_n = g->out[1];
    const int64_t kh_n = g->kernel[0], kw_n = g->kernel[1];
    for (int64_t c = 0; c < channels; c++) {
        float *yc = y + c * h * w;
        for (int64_t kh = 0; kh < kh_n; kh++) {
            for (int64_t kw = 0; kw < kw_n; kw++) {
                const float *src = col + ((c * kh_n + kh) * kw_n + kw) * oh_n * ow_n;
                int64_t off = kw * g->dilation[1] - g->pad[1];
                for (int64_t oh = 0; oh < oh_n; oh++) {
                    int64_t ih = oh * g->stride[0] - g->pad[0] + kh * g->dilation[0];
                    if (ih < 0 || ih >= h) continue;
                    row_scatter_add(yc + ih * w, w, 0, ow_n, g->stride[1], off,
                                    src + oh * ow_n);
                }
            }
        }
    }
}

CONV_INLINE void col2im_nd(const conv_geom *g, int64_t channels, const float *col, float *y) {
    const int64_t ksz = conv_kernel_size(g), isz = conv_in_size(g), osz = conv_out_size(g);
    int64_t kidx[CONV_MAX_SPATIAL] = {0};
    for (int64_t k = 0; k < ksz; k++, index_next(g->nsp, g->kernel, kidx)) {
        int64_t oidx[CONV_MAX_SPATIAL] = {0};
        for (int64_t p = 0; p < osz; p++, index_next(g->nsp, g->out, oidx)) {
            int64_t off = tap_offset(g, kidx, oidx);
            if (off < 0) continue;
            for (int64_t c = 0; c < channels; c++)
                y[c * isz + off] += col[(c * ksz + k) * osz + p];
        }
    }
}

VM_TARGET_CLONES void col2im_f32(const conv_geom *g, int64_t channels, const float *col,
                                 float *y) {
    if (g->nsp == 2) col2im_2d(g, channels, col, y);
    else col2im_nd(g, channels, col, y);
}
