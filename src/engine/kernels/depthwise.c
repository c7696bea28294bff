/* depthwise.c -- direct depthwise convolution, row by row. */
#include "depthwise.h"

int depthwise2d_applies(const conv_geom *g) {
    return g->nsp == 2 && g->group == g->in_ch && g->group == g->out_ch;
}

/* First/after-last output column whose input column o*s + off is inside [0, n). */
static void cols_inside(int64_t ow_n, int64_t s, int64_t off, int64_t n, int64_t *lo,
                        int64_t *hi) {
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = n - 1 - off < 0 ? 0 : (n - 1 - off) / s + 1;
    if (b > ow_n) b = ow_n;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

/* yrow[o] += sum over taps kw of wk[kw] * xrow[o*s + kw*d - pad]. */
static void row_taps(const conv_geom *g, const float *restrict xrow, const float *restrict wk,
                     float *restrict yrow) {
    const int64_t ow_n = g->out[1], w_in = g->in[1], kw_n = g->kernel[1];
    const int64_t s = g->stride[1], d = g->dilation[1], pad = g->pad[1];
    /* Columns where every tap is inside the row: [all_lo, all_hi). */
    int64_t all_lo, all_hi, lo, hi;
    cols_inside(ow_n, s, -pad, w_in, &all_lo, &hi);
    cols_inside(ow_n, s, (kw_n - 1) * d - pad, w_in, &lo, &all_hi);
    if (all_lo < lo) all_lo = lo;
    if (all_hi > hi) all_hi = hi;
    if (all_hi < all_lo) all_hi = all_lo;
    if (kw_n == 3 && s == 1) {
        const float w0 = wk[0], w1 = wk[1], w2 = wk[2];
        const int64_t a = -pad, b = a + d, c = b + d; /* o + a >= 0 inside */
        for (int64_t o = all_lo; o < all_hi; o++)
            yrow[o] += w0 * xrow[o + a] + w1 * xrow[o + b] + w2 * xrow[o + c];
    } else if (kw_n == 3 && s == 2) {
        const float w0 = wk[0], w1 = wk[1], w2 = wk[2];
        const int64_t a = -pad, b = a + d, c = b + d;
        for (int64_t o = all_lo; o < all_hi; o++)
            yrow[o] += w0 * xrow[2 * o + a] + w1 * xrow[2 * o + b] + w2 * xrow[2 * o + c];
    } else {
        for (int64_t kw = 0; kw < kw_n; kw++) {
            const float wv = wk[kw];
            const int64_t off = kw * d - pad;
            if (s == 1)
                for (int64_t o = all_lo; o < all_hi; o++) yrow[o] += wv * xrow[o + off];
            else
                for (int64_t o = all_lo; o < all_hi; o++) yrow[o] += wv * xrow[o * s + off];
        }
    }
    /* The edges, where some taps fall into the padding. */
    for (int64_t kw = 0; kw < kw_n; kw++) {
        int64_t off = kw * d - pad;
        cols_inside(ow_n, s, off, w_in, &lo, &hi);
        for (int64_t o = lo; o < hi && o < all_lo; o++) yrow[o] += wk[kw] * xrow[o * s + off];
        for (int64_t o = lo > all_hi ? lo : all_hi; o < hi; o++)
            yrow[o] += wk[kw] * xrow[o * s + off];
    }
}

void depthwise2d_f32(const conv_geom *g, const float *x, const float *w,
                     const conv_post *post, float *y, int64_t q0, int64_t q1) {
    const int64_t h = g->in[0], w_in = g->in[1], oh_n = g->out[0], ow_n = g->out[1];
    const int64_t kh_n = g->kernel[0], kw_n = g->kernel[1], c_n = g->in_ch;
    for (int64_t q = q0; q < q1; q++) {
        const int64_t c = q % c_n;
        const float *xp = x + q * h * w_in, *wc = w + c * kh_n * kw_n;
        float *yp = y + q * oh_n * ow_n;
        for (int64_t oh = 0; oh < oh_n; oh++) {
            float *yrow = yp + oh * ow_n;
            for (int64_t o = 0; o < ow_n; o++) yrow[o] = 0.0f;
            for (int64_t kh = 0; kh < kh_n; kh++) {
                int64_t ih = oh * g->stride[0] - g->pad[0] + kh * g->dilation[0];
                if (ih < 0 || ih >= h) continue;
                row_taps(g, xp + ih * w_in, wc + kh * kw_n, yrow);
            }
        }
        conv_post_apply(post, c, yp, oh_n * ow_n);
    }
}
