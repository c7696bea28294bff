/* bench_dnnl_conv.c -- our im2col+sgemm conv_f32 vs oneDNN's convolution
 * primitive with three activation layouts, to pick the layout of the
 * convolution region (docs/design.md, "Engine speed: what we tried").
 *
 * Build (from the repository root, after building the engine in build/):
 *   gcc -O2 -std=c17 -fopenmp -Isrc bench/bench_dnnl_conv.c build/libinferd_engine.a \
 *       build/libinferd_common.a -ldnnl -lm -o build/bench_dnnl_conv
 * Run: build/bench_dnnl_conv [threads] [batch]
 *   every convolution of ResNet-50, a MobileNetV2 depthwise 3x3 and a 1x1,
 *   timed as im2col+sgemm (NCHW), oneDNN with nChw16c, nhwc and nchw
 *   activations (weights in the primitive's preferred format, reordered
 *   once outside the timing), with the oneDNN implementation chosen. */
#include <dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conv_bench.h"
#include "engine/kernels/conv.h"

#define CK(call)                                                                 \
    do {                                                                         \
        dnnl_status_t s_ = (call);                                               \
        if (s_ != dnnl_success) {                                                \
            fprintf(stderr, "%s:%d: %s failed (%d)\n", __FILE__, __LINE__, #call, \
                    (int)s_);                                                    \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

/* ResNet-50 at batch 1, then two MobileNetV2 layers. */
static const bench_layer layers[] = {
    BENCH_RESNET50,
    {144, 144, 56, 3, 1, 144, 1}, /* MobileNetV2 depthwise */
    {144, 24, 56, 1, 1, 1, 1},    /* MobileNetV2 projection 1x1 */
};

static dnnl_engine_t eng;
static dnnl_stream_t strm;

static double time_fn(void (*fn)(void *), void *ctx, double flop) {
    int iters = (int)(3e8 / flop) + 2;
    double best = 1e30;
    fn(ctx), fn(ctx);
    for (int round = 0; round < 5; round++) {
        double t0 = bench_now();
        for (int i = 0; i < iters; i++) fn(ctx);
        double t = (bench_now() - t0) / iters;
        best = t < best ? t : best;
    }
    return best;
}

typedef struct ours {
    conv_geom g;
    const float *x, *w, *b;
    float *y, *scratch;
    kpar par;
} ours;

static void run_ours(void *p) {
    ours *o = p;
    conv_post post = {.bias = o->b};
    conv_f32(&o->g, o->x, o->w, &post, o->y, o->scratch, &o->par);
}

typedef struct dn {
    dnnl_primitive_t prim;
    dnnl_exec_arg_t args[4];
} dn;

static void run_dnnl(void *p) {
    dn *d = p;
    CK(dnnl_primitive_execute(d->prim, strm, 4, d->args));
    CK(dnnl_stream_wait(strm));
}

static dnnl_memory_t mem_for(const dnnl_memory_desc_t *md) {
    dnnl_memory_t m;
    CK(dnnl_memory_create(&m, md, eng, DNNL_MEMORY_ALLOCATE));
    void *h;
    CK(dnnl_memory_get_data_handle(m, &h));
    memset(h, 0, dnnl_memory_desc_get_size(md));
    return m;
}

/* Time of one oneDNN conv with activations in `tag`; *impl gets its name. */
static double bench_dnnl(const bench_layer *l, int64_t n, dnnl_format_tag_t tag, const char **impl) {
    int64_t pad = l->k / 2, o = (l->h + 2 * pad - l->k) / l->stride + 1, g = l->group;
    dnnl_dims_t sd = {n, l->c, l->h, l->h}, dd = {n, l->m, o, o}, bd = {l->m};
    dnnl_dims_t wd = {g, l->m / g, l->c / g, l->k, l->k};
    dnnl_dims_t st = {l->stride, l->stride}, pd = {pad, pad};
    dnnl_memory_desc_t smd, dmd, wmd, bmd, wuser;
    CK(dnnl_memory_desc_init_by_tag(&smd, 4, sd, dnnl_f32, tag));
    CK(dnnl_memory_desc_init_by_tag(&dmd, 4, dd, dnnl_f32, tag));
    CK(dnnl_memory_desc_init_by_tag(&wmd, 5, wd, dnnl_f32, dnnl_format_tag_any));
    CK(dnnl_memory_desc_init_by_tag(&wuser, 5, wd, dnnl_f32, dnnl_goihw));
    CK(dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_x));
    dnnl_convolution_desc_t cd;
    CK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                          &smd, &wmd, &bmd, &dmd, st, pd, pd));
    dnnl_primitive_desc_t cpd;
    CK(dnnl_primitive_desc_create(&cpd, &cd, NULL, eng, NULL));
    CK(dnnl_primitive_desc_query(cpd, dnnl_query_impl_info_str, 0, impl));
    const dnnl_memory_desc_t *wpref = dnnl_primitive_desc_query_md(cpd, dnnl_query_weights_md, 0);
    dnnl_memory_t wu = mem_for(&wuser), wp = mem_for(wpref);
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t reorder;
    CK(dnnl_reorder_primitive_desc_create(&rpd, &wuser, eng, wpref, eng, NULL));
    CK(dnnl_primitive_create(&reorder, rpd));
    dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, wu}, {DNNL_ARG_TO, wp}};
    CK(dnnl_primitive_execute(reorder, strm, 2, rargs));
    CK(dnnl_stream_wait(strm));
    dn d;
    CK(dnnl_primitive_create(&d.prim, cpd));
    dnnl_memory_t xs = mem_for(&smd), ys = mem_for(&dmd), bs = mem_for(&bmd);
    d.args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, xs};
    d.args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, wp};
    d.args[2] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, bs};
    d.args[3] = (dnnl_exec_arg_t){DNNL_ARG_DST, ys};
    double flop = 2.0 * n * l->m * (l->c / g) * l->k * l->k * o * o;
    double t = time_fn(run_dnnl, &d, flop);
    dnnl_primitive_destroy(d.prim), dnnl_primitive_destroy(reorder);
    dnnl_primitive_desc_destroy(rpd);
    /* impl points into cpd: keep it (a leak of a few descriptors in a bench). */
    dnnl_memory_destroy(wu), dnnl_memory_destroy(wp), dnnl_memory_destroy(xs);
    dnnl_memory_destroy(ys), dnnl_memory_destroy(bs);
    return t;
}

static double bench_ours(const bench_layer *l, int64_t n, int threads) {
    int64_t pad = l->k / 2, o = (l->h + 2 * pad - l->k) / l->stride + 1;
    ours ob = {.g = {.nsp = 2, .batch = n, .in_ch = l->c, .out_ch = l->m, .group = l->group,
                     .in = {l->h, l->h}, .out = {o, o}, .kernel = {l->k, l->k},
                     .stride = {l->stride, l->stride}, .dilation = {1, 1}, .pad = {pad, pad}}};
    size_t nx = (size_t)(n * l->c * l->h * l->h), nw = (size_t)(l->m * l->c / l->group * l->k * l->k);
    size_t ny = (size_t)(n * l->m * o * o);
    float *x = calloc(nx, 4), *w = calloc(nw, 4), *b = calloc((size_t)l->m, 4);
    ob.x = x, ob.w = w, ob.b = b, ob.y = calloc(ny, 4);
    ob.scratch = aligned_alloc(64, (conv_f32_scratch(&ob.g, threads) + 127) / 64 * 64);
    ob.par = (kpar){.run = bench_omp_run, .ctx = &threads, .threads = threads};
    double flop = 2.0 * (double)ny * (l->c / l->group) * l->k * l->k;
    double t = time_fn(run_ours, &ob, flop);
    free(x), free(w), free(b), free(ob.y), free(ob.scratch);
    return t;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    int64_t n = argc > 2 ? atoll(argv[2]) : 1;
    omp_set_num_threads(threads);
    CK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CK(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags));
    static const dnnl_format_tag_t tags[3] = {dnnl_nChw16c, dnnl_nhwc, dnnl_nchw};
    double tot[4] = {0};
    printf("batch %lld, %d threads; ms per layer: im2col+sgemm | nChw16c | nhwc | nchw\n",
           (long long)n, threads);
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
        const bench_layer *l = &layers[i];
        double t[4];
        const char *impl[3];
        t[0] = bench_ours(l, n, threads);
        for (int k = 0; k < 3; k++) t[k + 1] = bench_dnnl(l, n, tags[k], &impl[k]);
        printf("%4lld->%-4lld %3lld k%lld s%lld g%-3lld x%lld: %8.3f | %8.3f | %8.3f | %8.3f"
               "   %s / %s / %s\n",
               (long long)l->c, (long long)l->m, (long long)l->h, (long long)l->k,
               (long long)l->stride, (long long)l->group, (long long)l->count, t[0] * 1e3,
               t[1] * 1e3, t[2] * 1e3, t[3] * 1e3, impl[0], impl[1], impl[2]);
        if (i < BENCH_RESNET50_LAYERS)
            for (int k = 0; k < 4; k++) tot[k] += t[k] * l->count;
    }
    printf("resnet50 convs total ms: im2col+sgemm %.2f | nChw16c %.2f | nhwc %.2f | nchw %.2f\n",
           tot[0] * 1e3, tot[1] * 1e3, tot[2] * 1e3, tot[3] * 1e3);
    dnnl_stream_destroy(strm);
    dnnl_engine_destroy(eng);
    return 0;
}
