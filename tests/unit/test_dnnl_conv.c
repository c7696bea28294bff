/* test_dnnl_conv.c -- the oneDNN NHWC convolution and pooling kernels
 * (kernels/dnnl_conv.c) against the scalar references, on random
 * geometries: groups (incl. depthwise), kernels, strides, dilations,
 * asymmetric pads, fused post-op chains with a residual sum, 1 and 2
 * threads, and shapes repeating (the primitive cache) and changing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kernels/conv.h"
#include "engine/kernels/dnnl_conv.h"
#include "kernel_test.h"

/* [N, C, H, W] -> [N, H, W, C] */
static void to_nhwc(const float *x, float *y, int64_t n, int64_t c, int64_t h, int64_t w) {
    for (int64_t a = 0; a < n; a++)
        for (int64_t k = 0; k < c; k++)
            for (int64_t i = 0; i < h * w; i++) y[(a * h * w + i) * c + k] = x[(a * c + k) * h * w + i];
}

static float post_ref(const dnnl_post *p, float v, float z) {
    switch (p->kind) {
    case DNNL_POST_SUM: return v + z;
    case DNNL_POST_RELU: return v > 0 ? v : v * p->alpha;
    case DNNL_POST_CLIP: return fminf(fmaxf(v, p->alpha), p->beta);
    case DNNL_POST_HARDSWISH: return v * fminf(fmaxf(v + 3, 0), 6) / 6;
    case DNNL_POST_SIGMOID: return 1 / (1 + expf(-v));
    case DNNL_POST_TANH: return tanhf(v);
    case DNNL_POST_SWISH: return v / (1 + expf(-v));
    case DNNL_POST_LINEAR: return p->alpha * v + p->beta;
    default: return v;
    }
}

static int close_enough(const char *what, int64_t i, float got, float want) {
    if (fabsf(got - want) <= 1e-4f * (1.0f + fabsf(want))) return 1;
    fprintf(stderr, "%s: element %lld is %g, expected %g\n", what, (long long)i, got, want);
    return 0;
}

static int test_conv(int iter) {
    conv_geom g = {.nsp = 2};
    int64_t grp = rnd(0, 3) == 0 ? 0 : rnd(1, 3);
    g.in_ch = rnd(1, 20);
    if (grp == 0) grp = g.in_ch; /* depthwise */
    g.in_ch = (g.in_ch + grp - 1) / grp * grp;
    g.out_ch = grp * rnd(1, 6);
    g.group = grp;
    g.batch = rnd(1, 3);
    for (int d = 0; d < 2; d++) {
        g.kernel[d] = rnd(1, 4);
        g.stride[d] = rnd(1, 3);
        g.dilation[d] = rnd(1, 2);
        g.in[d] = rnd(1, 12) + (g.kernel[d] - 1) * g.dilation[d];
    }
    /* Pads stay below the dilated kernel, as the layout pass requires (an
     * output row made only of padding crashes oneDNN 2.6's brgconv). */
    int64_t ek[2] = {(g.kernel[0] - 1) * g.dilation[0] + 1, (g.kernel[1] - 1) * g.dilation[1] + 1};
    int64_t pad_r[2] = {rnd(0, ek[0] - 1), rnd(0, ek[1] - 1)};
    g.pad[0] = rnd(0, ek[0] - 1), g.pad[1] = rnd(0, ek[1] - 1);
    for (int d = 0; d < 2; d++)
        g.out[d] = (g.in[d] + g.pad[d] + pad_r[d] - (g.kernel[d] - 1) * g.dilation[d] - 1) /
                       g.stride[d] + 1;
    dnnl_conv_desc desc = {.in_ch = g.in_ch, .out_ch = g.out_ch, .group = grp,
                           .kernel = {g.kernel[0], g.kernel[1]},
                           .stride = {g.stride[0], g.stride[1]},
                           .dilation = {g.dilation[0], g.dilation[1]}};
    static const dnnl_post menu[] = {{DNNL_POST_RELU, 0, 0},     {DNNL_POST_RELU, 0.1f, 0},
                                     {DNNL_POST_CLIP, -0.5f, 0.7f}, {DNNL_POST_HARDSWISH, 0, 0},
                                     {DNNL_POST_SIGMOID, 0, 0},  {DNNL_POST_TANH, 0, 0},
                                     {DNNL_POST_SWISH, 0, 0},    {DNNL_POST_LINEAR, 0.3f, 0.2f}};
    /* Chains as the layout pass builds them: one post-op of each kind. */
    int has_sum = 0;
    desc.n_post = 0;
    for (int k = (int)rnd(0, 3); k > 0; k--) {
        dnnl_post p = rnd(0, 2) == 0 ? (dnnl_post){DNNL_POST_SUM, 0, 0} : menu[rnd(0, 7)];
        int dup = 0;
        for (int q = 0; q < desc.n_post; q++) dup |= desc.post[q].kind == p.kind;
        if (dup) continue;
        has_sum |= p.kind == DNNL_POST_SUM;
        desc.post[desc.n_post++] = p;
    }
    int64_t nx = g.batch * g.in_ch * g.in[0] * g.in[1];
    int64_t ny = g.batch * g.out_ch * g.out[0] * g.out[1];
    int64_t nw = g.out_ch * (g.in_ch / grp) * g.kernel[0] * g.kernel[1];
    float *x = malloc(sizeof(float) * (size_t)nx), *xt = malloc(sizeof(float) * (size_t)nx);
    float *w = malloc(sizeof(float) * (size_t)nw), *b = malloc(sizeof(float) * (size_t)g.out_ch);
    float *ref = malloc(sizeof(float) * (size_t)ny), *reft = malloc(sizeof(float) * (size_t)ny);
    float *z = malloc(sizeof(float) * (size_t)ny), *y = malloc(sizeof(float) * (size_t)ny);
    fill(x, nx), fill(w, nw), fill(b, g.out_ch), fill(z, ny);
    to_nhwc(x, xt, g.batch, g.in_ch, g.in[0], g.in[1]);
    desc.w = w;
    desc.bias = rnd(0, 1) ? b : NULL;
    conv_post cp = {.bias = desc.bias};
    conv_f32_reference(&g, x, w, &cp, ref);
    to_nhwc(ref, reft, g.batch, g.out_ch, g.out[0], g.out[1]);
    for (int64_t i = 0; i < ny; i++)
        for (int k = 0; k < desc.n_post; k++) reft[i] = post_ref(&desc.post[k], reft[i], z[i]);
    char why[256];
    dnnl_conv *c;
    int fails = 0;
    if (dnnl_conv_create(&desc, &c, why, sizeof why)) {
        fprintf(stderr, "create: %s\n", why);
        return 1;
    }
    dnnl_conv_shape s = {.batch = g.batch, .in = {g.in[0], g.in[1]}, .out = {g.out[0], g.out[1]},
                         .pad_l = {g.pad[0], g.pad[1]}, .pad_r = {pad_r[0], pad_r[1]}};
    for (int rep = 0; rep < 3 && !fails; rep++) { /* threads 1, 2, then 1 again (cached) */
        scratch_list sl = {{0}, 0};
        memset(y, 0, sizeof(float) * (size_t)ny);
        if (dnnl_conv_run(c, &s, xt, has_sum ? z : NULL, y, 1 + rep % 2, scratch, &sl, why,
                          sizeof why)) {
            fprintf(stderr, "conv %d run: %s\n", iter, why);
            fails++;
        }
        scratch_free(&sl);
        for (int64_t i = 0; i < ny && !fails; i++)
            if (!close_enough("conv", i, y[i], reft[i])) {
                fprintf(stderr, "  (case %d: N %lld C %lld M %lld group %lld in %lldx%lld k %lldx%lld "
                                "s %lld,%lld d %lld,%lld pads %lld,%lld,%lld,%lld, %d post-ops)\n",
                        iter, (long long)g.batch, (long long)g.in_ch, (long long)g.out_ch,
                        (long long)grp, (long long)g.in[0], (long long)g.in[1],
                        (long long)g.kernel[0], (long long)g.kernel[1], (long long)g.stride[0],
                        (long long)g.stride[1], (long long)g.dilation[0], (long long)g.dilation[1],
                        (long long)g.pad[0], (long long)g.pad[1], (long long)pad_r[0],
                        (long long)pad_r[1], desc.n_post);
                fails++;
            }
    }
    dnnl_conv_destroy(c);
    free(x), free(xt), free(w), free(b), free(ref), free(reft), free(z), free(y);
    return fails;
}

/* Max and exclude-pad average pools against direct loops. */
static int test_pool(int iter) {
    dnnl_pool_shape s = {.batch = rnd(1, 2), .channels = rnd(1, 20)};
    for (int d = 0; d < 2; d++) {
        s.kernel[d] = rnd(1, 3);
        s.stride[d] = rnd(1, 2);
        s.dilation[d] = 1;
        s.pad_l[d] = rnd(0, s.kernel[d] - 1);
        s.pad_r[d] = rnd(0, s.kernel[d] - 1);
        s.in[d] = rnd(s.kernel[d], 10);
        s.out[d] = (s.in[d] + s.pad_l[d] + s.pad_r[d] - s.kernel[d]) / s.stride[d] + 1;
    }
    int is_max = iter % 2 == 0;
    int64_t nx = s.batch * s.in[0] * s.in[1] * s.channels;
    int64_t ny = s.batch * s.out[0] * s.out[1] * s.channels;
    float *x = malloc(sizeof(float) * (size_t)nx), *y = malloc(sizeof(float) * (size_t)ny);
    fill(x, nx);
    char why[256];
    dnnl_pool *p;
    int fails = 0;
    if (dnnl_pool_create(is_max ? DNNL_POOL_MAX : DNNL_POOL_AVG_EXCLUDE_PAD, &p, why, sizeof why)) {
        fprintf(stderr, "pool create: %s\n", why);
        return 1;
    }
    scratch_list sl = {{0}, 0};
    if (dnnl_pool_run(p, &s, x, y, 2, scratch, &sl, why, sizeof why)) {
        fprintf(stderr, "pool run: %s\n", why);
        fails++;
    }
    scratch_free(&sl);
    for (int64_t n = 0; n < s.batch && !fails; n++)
        for (int64_t oh = 0; oh < s.out[0]; oh++)
            for (int64_t ow = 0; ow < s.out[1]; ow++)
                for (int64_t c = 0; c < s.channels; c++) {
                    float acc = is_max ? -INFINITY : 0;
                    int cnt = 0;
                    for (int64_t kh = 0; kh < s.kernel[0]; kh++)
                        for (int64_t kw = 0; kw < s.kernel[1]; kw++) {
                            int64_t ih = oh * s.stride[0] - s.pad_l[0] + kh;
                            int64_t iw = ow * s.stride[1] - s.pad_l[1] + kw;
                            if (ih < 0 || iw < 0 || ih >= s.in[0] || iw >= s.in[1]) continue;
                            float v = x[((n * s.in[0] + ih) * s.in[1] + iw) * s.channels + c];
                            acc = is_max ? fmaxf(acc, v) : acc + v;
                            cnt++;
                        }
                    if (!is_max) acc /= (float)cnt;
                    int64_t i = ((n * s.out[0] + oh) * s.out[1] + ow) * s.channels + c;
                    if (!close_enough(is_max ? "max pool" : "avg pool", i, y[i], acc)) {
                        fails++;
                        goto done;
                    }
                }
done:
    dnnl_pool_destroy(p);
    free(x), free(y);
    return fails;
}

/* More shapes than a kernel object caches (16): the later ones run on
 * primitives built for one run, with the same results. */
static int test_many_shapes(void) {
    float w[4 * 2 * 3 * 3], b[4];
    fill(w, 4 * 2 * 3 * 3), fill(b, 4);
    dnnl_conv_desc d = {.in_ch = 2, .out_ch = 4, .group = 1, .kernel = {3, 3}, .stride = {1, 1},
                        .dilation = {1, 1}, .w = w, .bias = b, .n_post = 1,
                        .post = {{DNNL_POST_RELU, 0, 0}}};
    char why[256];
    dnnl_conv *c;
    int fails = 0;
    if (dnnl_conv_create(&d, &c, why, sizeof why)) return 1;
    for (int64_t h = 1; h <= 24 && !fails; h++) {
        conv_geom g = {.nsp = 2, .batch = 1, .in_ch = 2, .out_ch = 4, .group = 1, .in = {h, 5},
                       .out = {h, 5}, .kernel = {3, 3}, .stride = {1, 1}, .dilation = {1, 1},
                       .pad = {1, 1}};
        float x[2 * 24 * 5], xt[2 * 24 * 5], ref[4 * 24 * 5], reft[4 * 24 * 5], y[4 * 24 * 5];
        fill(x, 2 * h * 5);
        to_nhwc(x, xt, 1, 2, h, 5);
        conv_post cp = {.bias = b, .act = CONV_ACT_RELU};
        conv_f32_reference(&g, x, w, &cp, ref);
        to_nhwc(ref, reft, 1, 4, h, 5);
        dnnl_conv_shape s = {.batch = 1, .in = {h, 5}, .out = {h, 5}, .pad_l = {1, 1},
                             .pad_r = {1, 1}};
        scratch_list sl = {{0}, 0};
        if (dnnl_conv_run(c, &s, xt, NULL, y, 2, scratch, &sl, why, sizeof why)) {
            fprintf(stderr, "many shapes, h %lld: %s\n", (long long)h, why);
            fails++;
        }
        scratch_free(&sl);
        for (int64_t i = 0; i < 4 * h * 5 && !fails; i++)
            fails += !close_enough("many shapes", i, y[i], reft[i]);
    }
    dnnl_conv_destroy(c);
    return fails;
}

int main(void) {
    kt_rng = 0x2545F4914F6CDD1Dull; /* the geometries this test has always drawn */
    int fails = test_many_shapes();
    for (int i = 0; i < 60; i++) fails += test_conv(i);
    for (int i = 0; i < 20; i++) fails += test_pool(i);
    printf("test_dnnl_conv: %s\n", fails ? "FAILED" : "ok");
    return fails != 0;
}
