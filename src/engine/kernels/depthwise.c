/* depthwise.c -- direct depthwise convolution, row by row. */
#include "depthwise.h"

#include <string.h>

#include "vmath.h"

/* Outputs computed at a time by the flat method (16 KiB: in L1). */
#define DW_CHUNK 4096
/* Outputs in one vector register (AVX-512), and the zeros kept past the
 * end of the flat method's buffers so whole blocks of 2 * DW_LANES can be
 * computed past the last output. */
#define DW_LANES 16
#define DW_SLACK (2 * DW_LANES)
/* Largest kernel (taps) the flat method takes. */
#define DW_MAX_TAPS 64

int depthwise2d_applies(const conv_geom *g) {
    return g->nsp == 2 && g->group == g->in_ch && g->group == g->out_ch;
}

/* First/after-last output column whose input column o*s + off is inside [0, n). */
CONV_INLINE void cols_inside(int64_t ow_n, int64_t s, int64_t off, int64_t n, int64_t *lo,
                             int64_t *hi) {
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = n - 1 - off < 0 ? 0 : (n - 1 - off) / s + 1;
    if (b > ow_n) b = ow_n;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

/* yrow[o] += sum over taps kw of wk[kw] * xrow[o*s + kw*d - pad]. */
CONV_INLINE void row_taps(const conv_geom *g, const float *restrict xrow, const float *restrict wk,
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
        VM_SIMD for (int64_t o = all_lo; o < all_hi; o++)
            yrow[o] += w0 * xrow[o + a] + w1 * xrow[o + b] + w2 * xrow[o + c];
    } else if (kw_n == 3 && s == 2) {
        const float w0 = wk[0], w1 = wk[1], w2 = wk[2];
        const int64_t a = -pad, b = a + d, c = b + d;
        VM_SIMD for (int64_t o = all_lo; o < all_hi; o++)
            yrow[o] += w0 * xrow[2 * o + a] + w1 * xrow[2 * o + b] + w2 * xrow[2 * o + c];
    } else {
        for (int64_t kw = 0; kw < kw_n; kw++) {
            const float wv = wk[kw];
            const int64_t off = kw * d - pad;
            if (s == 1) {
                VM_SIMD for (int64_t o = all_lo; o < all_hi; o++) yrow[o] += wv * xrow[o + off];
            } else {
                VM_SIMD for (int64_t o = all_lo; o < all_hi; o++)
                    yrow[o] += wv * xrow[o * s + off];
            }
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

/* The flat method needs equal strides and a kernel of at most
 * DW_MAX_TAPS taps. */
static int flat_applies(const conv_geom *g) {
    return g->stride[0] == g->stride[1] && g->kernel[0] * g->kernel[1] <= DW_MAX_TAPS;
}

/* Row pitch and row count of the padded copy. */
static void flat_dims(const conv_geom *g, int64_t *wp, int64_t *hr) {
    int64_t need = (g->out[1] - 1) * g->stride[1] + (g->kernel[1] - 1) * g->dilation[1] + 1;
    *wp = g->in[1] + g->pad[1] > need ? g->in[1] + g->pad[1] : need;
    *hr = g->stride[0] * g->out[0] + (g->kernel[0] - 1) * g->dilation[0] + 1;
}

/* Length of one of the s phases of the padded copy (see plane_flat). */
static int64_t flat_phase_len(const conv_geom *g) {
    int64_t wp, hr, s = g->stride[0];
    flat_dims(g, &wp, &hr);
    return (hr * wp + s - 1) / s;
}

size_t depthwise2d_scratch(const conv_geom *g) {
    if (!flat_applies(g)) return 0;
    int64_t wp, hr, s = g->stride[0];
    flat_dims(g, &wp, &hr);
    int64_t phases = s > 1 ? s * flat_phase_len(g) : 0;
    if (s > 1) phases += s * DW_SLACK;
    return (size_t)(hr * wp + DW_SLACK + phases + DW_CHUNK + DW_SLACK) * sizeof(float);
}

/* One plane by the flat method. The input is copied, zero-padded, with row
 * pitch wp into xp; output j = oh * wp + ow then reads xp[s*j + off(tap)],
 * so each chunk of outputs is one vector loop with every tap's sum kept in
 * registers (columns ow >= ow_n are computed and dropped). With stride s > 1
 * xp is split into s phases, ph[r][i] = xp[s*i + r], so the reads stay
 * contiguous. */
CONV_INLINE void plane_flat(const conv_geom *g, const float *x, const float *wc, float *y,
                            float *scratch) {
    const int64_t h = g->in[0], w_in = g->in[1], oh_n = g->out[0], ow_n = g->out[1];
    const int64_t kh_n = g->kernel[0], kw_n = g->kernel[1], s = g->stride[0];
    int64_t wp, hr;
    flat_dims(g, &wp, &hr);
    /* xp, phases (each DW_SLACK longer), acc: see depthwise2d_scratch. */
    float *restrict xp = scratch;
    const int64_t plen = s > 1 ? flat_phase_len(g) + DW_SLACK : 0;
    float *restrict ph = xp + hr * wp + DW_SLACK, *restrict acc = ph + s * plen;
    memset(xp, 0, (size_t)(hr * wp + DW_SLACK) * sizeof *xp);
    int64_t cols = w_in < wp - g->pad[1] ? w_in : wp - g->pad[1];
    for (int64_t ih = 0; ih < h && ih + g->pad[0] < hr; ih++)
        memcpy(xp + (ih + g->pad[0]) * wp + g->pad[1], x + ih * w_in, (size_t)cols * sizeof *xp);
    const float *base = xp;
    if (s > 1) {
        for (int64_t r = 0; r < s; r++) {
            float *dst = ph + r * plen;
            int64_t cnt = (hr * wp - r + s - 1) / s;
            VM_SIMD for (int64_t i = 0; i < cnt; i++) dst[i] = xp[s * i + r];
            for (int64_t i = cnt; i < plen; i++) dst[i] = 0.0f;
        }
        base = ph;
    }
    /* Where each tap starts reading, as an offset into base. */
    int64_t toff[DW_MAX_TAPS];
    float tw[DW_MAX_TAPS];
    const int taps = (int)(kh_n * kw_n);
    for (int64_t kh = 0, t = 0; kh < kh_n; kh++)
        for (int64_t kw = 0; kw < kw_n; kw++, t++) {
            int64_t off = kh * g->dilation[0] * wp + kw * g->dilation[1];
            toff[t] = s > 1 ? (off % s) * plen + off / s : off;
            tw[t] = wc[t];
        }
    const int64_t n = oh_n * wp;
    for (int64_t j0 = 0; j0 < n; j0 += DW_CHUNK) {
        int64_t len = n - j0 < DW_CHUNK ? n - j0 : DW_CHUNK;
        /* Blocks of 2 x 16 outputs: two vector registers of sums (two
         * independent FMA chains) across all taps. The length is rounded
         * up; the buffers have DW_SLACK floats of zeros to spare. */
        for (int64_t j = 0; j < len; j += 2 * DW_LANES) {
            float a0[DW_LANES] = {0}, a1[DW_LANES] = {0};
            for (int t = 0; t < taps; t++) {
                const float wv = tw[t], *src = base + toff[t] + j0 + j;
                for (int k = 0; k < DW_LANES; k++) a0[k] += wv * src[k];
                for (int k = 0; k < DW_LANES; k++) a1[k] += wv * src[DW_LANES + k];
            }
            memcpy(acc + j, a0, sizeof a0);
            memcpy(acc + j + DW_LANES, a1, sizeof a1);
        }
        /* Keep the valid columns of the rows this chunk covers. */
        for (int64_t oh = j0 / wp; oh * wp < j0 + len; oh++) {
            int64_t a = oh * wp > j0 ? oh * wp : j0;
            int64_t b = oh * wp + ow_n < j0 + len ? oh * wp + ow_n : j0 + len;
            if (b > a)
                memcpy(y + oh * ow_n + (a - oh * wp), acc + (a - j0), (size_t)(b - a) * sizeof *y);
        }
    }
}

/* One plane row by row (unequal strides). */
CONV_INLINE void plane_rows(const conv_geom *g, const float *x, const float *wc, float *y) {
    const int64_t h = g->in[0], w_in = g->in[1], oh_n = g->out[0], ow_n = g->out[1];
    const int64_t kh_n = g->kernel[0], kw_n = g->kernel[1];
    for (int64_t oh = 0; oh < oh_n; oh++) {
        float *yrow = y + oh * ow_n;
        VM_SIMD for (int64_t o = 0; o < ow_n; o++) yrow[o] = 0.0f;
        for (int64_t kh = 0; kh < kh_n; kh++) {
            int64_t ih = oh * g->stride[0] - g->pad[0] + kh * g->dilation[0];
            if (ih < 0 || ih >= h) continue;
            row_taps(g, x + ih * w_in, wc + kh * kw_n, yrow);
        }
    }
}

VM_TARGET_CLONES void depthwise2d_f32(const conv_geom *g, const float *x, const float *w,
                                      const conv_post *post, float *y, float *scratch,
                                      int64_t q0, int64_t q1) {
    const int64_t isz = g->in[0] * g->in[1], osz = g->out[0] * g->out[1];
    const int64_t ksz = g->kernel[0] * g->kernel[1], c_n = g->in_ch;
    for (int64_t q = q0; q < q1; q++) {
        const int64_t c = q % c_n;
        if (scratch)
            plane_flat(g, x + q * isz, w + c * ksz, y + q * osz, scratch);
        else
            plane_rows(g, x + q * isz, w + c * ksz, y + q * osz);
        conv_post_apply(post, c, y + q * osz, osz);
    }
}
