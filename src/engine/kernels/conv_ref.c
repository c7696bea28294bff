/* conv_ref.c -- the epilogue and the scalar references for conv.c. The
 * references are direct loops with double accumulation: slow and obviously
 * right, for differential tests only. */
#include "conv.h"

#include "vmath.h"

VM_TARGET_CLONES void conv_post_apply(const conv_post *post, int64_t ch, float *y,
                                      int64_t count) {
    if (!post) return;
    if (post->bias) {
        const float b = post->bias[ch];
        VM_SIMD for (int64_t i = 0; i < count; i++) y[i] += b;
    }
    if (post->act == CONV_ACT_RELU) {
        VM_SIMD for (int64_t i = 0; i < count; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
    } else if (post->act == CONV_ACT_CLIP) {
        const float lo = post->lo, hi = post->hi;
        VM_SIMD for (int64_t i = 0; i < count; i++)
            y[i] = y[i] < lo ? lo : y[i] > hi ? hi : y[i];
    }
}

static void next_index(int n, const int64_t *dims, int64_t *idx) {
    for (int d = n - 1; d >= 0; d--) {
        if (++idx[d] < dims[d]) return;
        idx[d] = 0;
    }
}

/* Input offset tap k sees at output position o, or -1 in the padding. */
static int64_t ref_offset(const conv_geom *g, const int64_t *k, const int64_t *o) {
    int64_t off = 0;
    for (int d = 0; d < g->nsp; d++) {
        int64_t i = o[d] * g->stride[d] - g->pad[d] + k[d] * g->dilation[d];
        if (i < 0 || i >= g->in[d]) return -1;
        off = off * g->in[d] + i;
    }
    return off;
}

void conv_f32_reference(const conv_geom *g, const float *x, const float *w,
                        const conv_post *post, float *y) {
    const int64_t cg = g->in_ch / g->group, mg = g->out_ch / g->group;
    const int64_t isz = conv_in_size(g), osz = conv_out_size(g), ksz = conv_kernel_size(g);
    for (int64_t n = 0; n < g->batch; n++) {
        for (int64_t m = 0; m < g->out_ch; m++) {
            const int64_t grp = m / mg;
            float *ym = y + (n * g->out_ch + m) * osz;
            int64_t o[CONV_MAX_SPATIAL] = {0};
            for (int64_t p = 0; p < osz; p++, next_index(g->nsp, g->out, o)) {
                double acc = 0;
                int64_t k[CONV_MAX_SPATIAL] = {0};
                for (int64_t t = 0; t < ksz; t++, next_index(g->nsp, g->kernel, k)) {
                    int64_t off = ref_offset(g, k, o);
                    if (off < 0) continue;
                    for (int64_t c = 0; c < cg; c++)
                        acc += (double)x[(n * g->in_ch + grp * cg + c) * isz + off] *
                               w[(m * cg + c) * ksz + t];
                }
                ym[p] = (float)acc;
            }
            conv_post_apply(post, m, ym, osz);
        }
    }
}

void conv_transpose_f32_reference(const conv_geom *g, const float *x, const float *w,
                                  const conv_post *post, float *y) {
    const int64_t cg = g->in_ch / g->group, mg = g->out_ch / g->group;
    const int64_t isz = conv_in_size(g), osz = conv_out_size(g), ksz = conv_kernel_size(g);
    for (int64_t i = 0; i < g->batch * g->in_ch * isz; i++) y[i] = 0.0f;
    for (int64_t n = 0; n < g->batch; n++) {
        for (int64_t m = 0; m < g->out_ch; m++) {
            const int64_t grp = m / mg;
            const float *xm = x + (n * g->out_ch + m) * osz;
            int64_t o[CONV_MAX_SPATIAL] = {0};
            for (int64_t p = 0; p < osz; p++, next_index(g->nsp, g->out, o)) {
                int64_t k[CONV_MAX_SPATIAL] = {0};
                for (int64_t t = 0; t < ksz; t++, next_index(g->nsp, g->kernel, k)) {
                    int64_t off = ref_offset(g, k, o);
                    if (off < 0) continue;
                    for (int64_t c = 0; c < cg; c++)
                        y[(n * g->in_ch + grp * cg + c) * isz + off] +=
                            xm[p] * w[(m * cg + c) * ksz + t];
                }
            }
        }
        for (int64_t c = 0; c < g->in_ch; c++)
            conv_post_apply(post, c, y + (n * g->in_ch + c) * isz, isz);
    }
}
