/* dnnl_conv.c -- oneDNN convolution and pooling on NHWC (see dnnl_conv.h). */
#include "dnnl_conv.h"

#include <dnnl.h>
#include <dnnl_debug.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Distinct shapes one node keeps primitives for. Beyond that a run builds
 * a throw-away primitive: slow, but a server fed ever-new image sizes must
 * not grow without bound, and an entry may be executing on another thread
 * so none is ever evicted. */
#define CACHE_MAX 16
#define KEY_LEN 20

/* One primitive for one key, with what a run needs besides the data. */
typedef struct prim_entry {
    int64_t key[KEY_LEN];
    dnnl_primitive_t prim;
    dnnl_memory_desc_t src_md, dst_md, scratch_md;
    size_t scratch_bytes;
    dnnl_memory_t wmem;      /* conv: weights in the primitive's format */
    int owns_w;              /* 0 when another entry's weights are shared */
} prim_entry;

typedef struct prim_cache {
    pthread_mutex_t mu;
    int n;
    prim_entry *e[CACHE_MAX];
} prim_cache;

struct dnnl_conv {
    dnnl_conv_desc d;
    dnnl_memory_t bias_mem;  /* NULL without bias */
    prim_cache cache;
};

struct dnnl_pool {
    dnnl_pool_kind kind;
    prim_cache cache;
};

/* ---- engine, errors -------------------------------------------------------- */

static dnnl_engine_t g_engine;
static dnnl_status_t g_engine_status;
static pthread_once_t g_engine_once = PTHREAD_ONCE_INIT;

static void engine_init(void) { g_engine_status = dnnl_engine_create(&g_engine, dnnl_cpu, 0); }

static status from_dnnl(dnnl_status_t s, const char *what, char *why, size_t len) {
    snprintf(why, len, "oneDNN %s failed: %s", what, dnnl_status2str(s));
    return s == dnnl_out_of_memory     ? STATUS_NO_MEMORY
           : s == dnnl_unimplemented   ? STATUS_UNSUPPORTED
           : s == dnnl_invalid_arguments ? STATUS_INVALID_ARGUMENT
                                         : STATUS_INTERNAL;
}

#define DN(call, what)                                                 \
    do {                                                               \
        dnnl_status_t s_ = (call);                                     \
        if (s_ != dnnl_success) {                                      \
            st = from_dnnl(s_, what, why, len);                        \
            goto fail;                                                 \
        }                                                              \
    } while (0)

static status engine_get(char *why, size_t len) {
    pthread_once(&g_engine_once, engine_init);
    if (g_engine_status != dnnl_success) return from_dnnl(g_engine_status, "engine creation", why, len);
    return STATUS_OK;
}

/* oneDNN threads with OpenMP; as in gemm_f32 the team size is a per-thread
 * setting, so each session's worker keeps its own budget. */
static void set_threads(int threads) {
    if (threads < 1) threads = 1;
    if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
}

/* ---- the primitive cache ----------------------------------------------------- */

static void entry_free(prim_entry *e) {
    if (!e) return;
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->owns_w && e->wmem) dnnl_memory_destroy(e->wmem);
    free(e);
}

static int cache_init(prim_cache *c) { return pthread_mutex_init(&c->mu, NULL); }

static void cache_deinit(prim_cache *c) {
    for (int i = 0; i < c->n; i++) entry_free(c->e[i]);
    pthread_mutex_destroy(&c->mu);
}

static prim_entry *cache_find(const prim_cache *c, const int64_t *key) {
    for (int i = 0; i < c->n; i++)
        if (!memcmp(c->e[i]->key, key, sizeof c->e[i]->key)) return c->e[i];
    return NULL;
}

typedef status (*build_fn)(void *obj, const void *shape, prim_entry *e, char *why, size_t len);

/* The entry for key: cached, newly built and cached, or (cache full) built
 * for this run only (*transient set; the caller frees it). */
static status cache_get(prim_cache *c, const int64_t *key, build_fn build, void *obj,
                        const void *shape, prim_entry **out, int *transient, char *why,
                        size_t len) {
    status st = STATUS_OK;
    *transient = 0;
    pthread_mutex_lock(&c->mu);
    prim_entry *e = cache_find(c, key);
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e) {
            snprintf(why, len, "out of memory creating a oneDNN primitive");
            st = STATUS_NO_MEMORY;
        } else {
            memcpy(e->key, key, sizeof e->key);
            st = build(obj, shape, e, why, len);
            if (st) {
                entry_free(e);
                e = NULL;
            } else if (c->n < CACHE_MAX) {
                c->e[c->n++] = e;
            } else {
                *transient = 1;
            }
        }
    }
    pthread_mutex_unlock(&c->mu);
    *out = e;
    return st;
}

/* Makes the primitive of pd, and records the memory descriptors a run needs. */
static status entry_finish(prim_entry *e, dnnl_primitive_desc_t pd, char *why, size_t len) {
    status st = STATUS_OK;
    e->src_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    e->dst_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (smd) {
        e->scratch_md = *smd;
        e->scratch_bytes = dnnl_memory_desc_get_size(smd);
    }
    DN(dnnl_primitive_create(&e->prim, pd), "primitive creation");
fail:
    return st;
}

/* Executes e with src x and dst y plus `extra` arguments (weights, bias). */
static status entry_run(const prim_entry *e, const void *x, void *y, const dnnl_exec_arg_t *extra,
                        int n_extra, int threads, dnnl_scratch_fn scratch, void *sctx,
                        char *why, size_t len) {
    status st = STATUS_OK;
    dnnl_memory_t src = NULL, dst = NULL, pad = NULL;
    dnnl_stream_t strm = NULL;
    dnnl_exec_arg_t args[6];
    int na = 0;
    void *buf = NULL;
    if (e->scratch_bytes && !(buf = scratch(sctx, e->scratch_bytes))) {
        snprintf(why, len, "out of memory for %zu bytes of oneDNN scratch", e->scratch_bytes);
        return STATUS_NO_MEMORY;
    }
    DN(dnnl_memory_create(&src, &e->src_md, g_engine, (void *)x), "memory creation");
    DN(dnnl_memory_create(&dst, &e->dst_md, g_engine, y), "memory creation");
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, src};
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_DST, dst};
    if (buf) {
        DN(dnnl_memory_create(&pad, &e->scratch_md, g_engine, buf), "memory creation");
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, pad};
    }
    for (int i = 0; i < n_extra; i++) args[na++] = extra[i];
    DN(dnnl_stream_create(&strm, g_engine, dnnl_stream_default_flags), "stream creation");
    set_threads(threads);
    DN(dnnl_primitive_execute(e->prim, strm, na, args), "execution");
    DN(dnnl_stream_wait(strm), "execution");
fail:
    if (strm) dnnl_stream_destroy(strm);
    if (src) dnnl_memory_destroy(src);
    if (dst) dnnl_memory_destroy(dst);
    if (pad) dnnl_memory_destroy(pad);
    return st;
}

/* ---- convolution ----------------------------------------------------------- */

/* The residual sum is oneDNN's `sum` post-op, which adds what y holds, so a
 * run copies z into y first. A `binary_add` post-op reading z in place saves
 * that copy, but oneDNN 2.6's gemm-based convolution (which it picks for
 * some grouped and strided shapes) computes it wrong on NHWC:
 * tests/unit/test_dnnl_conv.c caught it. */
static status add_posts(const dnnl_conv_desc *d, dnnl_primitive_attr_t attr, char *why,
                        size_t len) {
    static const dnnl_alg_kind_t alg[DNNL_POST__COUNT] = {
        [DNNL_POST_RELU] = dnnl_eltwise_relu,       [DNNL_POST_CLIP] = dnnl_eltwise_clip,
        [DNNL_POST_HARDSWISH] = dnnl_eltwise_hardswish, [DNNL_POST_SIGMOID] = dnnl_eltwise_logistic,
        [DNNL_POST_TANH] = dnnl_eltwise_tanh, [DNNL_POST_SWISH] = dnnl_eltwise_swish,
        [DNNL_POST_LINEAR] = dnnl_eltwise_linear};
    status st = STATUS_OK;
    dnnl_post_ops_t po = NULL;
    if (d->n_post == 0) return STATUS_OK;
    DN(dnnl_post_ops_create(&po), "post-op creation");
    for (int i = 0; i < d->n_post; i++) {
        const dnnl_post *p = &d->post[i];
        if (p->kind == DNNL_POST_SUM)
            DN(dnnl_post_ops_append_sum(po, 1.0f), "sum post-op");
        else /* swish's alpha scales the sigmoid's argument: 1 for x * sigmoid(x) */
            DN(dnnl_post_ops_append_eltwise(po, 1.0f, alg[p->kind],
                                            p->kind == DNNL_POST_SWISH ? 1.0f : p->alpha, p->beta),
               "eltwise post-op");
    }
    DN(dnnl_primitive_attr_set_post_ops(attr, po), "post-op setup");
fail:
    if (po) dnnl_post_ops_destroy(po);
    return st;
}

static void weight_dims(const dnnl_conv_desc *d, dnnl_dims_t wd, int *nd) {
    int64_t g = d->group;
    if (g > 1) {
        int64_t v[5] = {g, d->out_ch / g, d->in_ch / g, d->kernel[0], d->kernel[1]};
        memcpy(wd, v, sizeof v);
        *nd = 5;
    } else {
        int64_t v[4] = {d->out_ch, d->in_ch, d->kernel[0], d->kernel[1]};
        memcpy(wd, v, sizeof v);
        *nd = 4;
    }
}

/* Weights in the format md: shared with a cached entry that has them, else
 * reordered from ONNX's layout into memory of their own. */
static status conv_weights(dnnl_conv *c, const dnnl_memory_desc_t *md, prim_entry *e, char *why,
                           size_t len) {
    status st = STATUS_OK;
    dnnl_memory_t user = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_stream_t strm = NULL;
    for (int i = 0; i < c->cache.n; i++) {
        dnnl_memory_desc_t const *have;
        DN(dnnl_memory_get_memory_desc(c->cache.e[i]->wmem, &have), "memory query");
        if (dnnl_memory_desc_equal(have, md)) {
            e->wmem = c->cache.e[i]->wmem;
            return STATUS_OK;
        }
    }
    dnnl_dims_t wd;
    int nd;
    weight_dims(&c->d, wd, &nd);
    dnnl_memory_desc_t umd;
    DN(dnnl_memory_desc_init_by_tag(&umd, nd, wd, dnnl_f32, nd == 5 ? dnnl_goihw : dnnl_oihw),
       "weights descriptor");
    DN(dnnl_memory_create(&e->wmem, md, g_engine, DNNL_MEMORY_ALLOCATE), "weights allocation");
    e->owns_w = 1;
    DN(dnnl_memory_create(&user, &umd, g_engine, (void *)c->d.w), "memory creation");
    DN(dnnl_reorder_primitive_desc_create(&rpd, &umd, g_engine, md, g_engine, NULL),
       "weights reorder");
    DN(dnnl_primitive_create(&reorder, rpd), "weights reorder");
    DN(dnnl_stream_create(&strm, g_engine, dnnl_stream_default_flags), "stream creation");
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, e->wmem}};
    DN(dnnl_primitive_execute(reorder, strm, 2, args), "weights reorder");
    DN(dnnl_stream_wait(strm), "weights reorder");
fail:
    if (strm) dnnl_stream_destroy(strm);
    if (reorder) dnnl_primitive_destroy(reorder);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (user) dnnl_memory_destroy(user);
    return st;
}

static status conv_build(void *obj, const void *shape, prim_entry *e, char *why, size_t len) {
    dnnl_conv *c = obj;
    const dnnl_conv_desc *d = &c->d;
    const dnnl_conv_shape *s = shape;
    status st = STATUS_OK;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_dims_t sd = {s->batch, d->in_ch, s->in[0], s->in[1]};
    dnnl_dims_t dd = {s->batch, d->out_ch, s->out[0], s->out[1]}, bd = {d->out_ch}, wd;
    dnnl_dims_t strides = {d->stride[0], d->stride[1]};
    dnnl_dims_t dil = {d->dilation[0] - 1, d->dilation[1] - 1};
    dnnl_dims_t pl = {s->pad_l[0], s->pad_l[1]}, pr = {s->pad_r[0], s->pad_r[1]};
    dnnl_memory_desc_t smd, dmd, wmd, bmd;
    int nd;
    weight_dims(d, wd, &nd);
    DN(dnnl_memory_desc_init_by_tag(&smd, 4, sd, dnnl_f32, dnnl_nhwc), "source descriptor");
    DN(dnnl_memory_desc_init_by_tag(&dmd, 4, dd, dnnl_f32, dnnl_nhwc), "destination descriptor");
    DN(dnnl_memory_desc_init_by_tag(&wmd, nd, wd, dnnl_f32, dnnl_format_tag_any),
       "weights descriptor");
    DN(dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_x), "bias descriptor");
    dnnl_convolution_desc_t cd;
    DN(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference,
                                                  dnnl_convolution_direct, &smd, &wmd,
                                                  d->bias ? &bmd : NULL, &dmd, strides, dil, pl,
                                                  pr),
       "convolution descriptor");
    DN(dnnl_primitive_attr_create(&attr), "attribute creation");
    DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
    if ((st = add_posts(d, attr, why, len))) goto fail;
    DN(dnnl_primitive_desc_create(&pd, &cd, attr, g_engine, NULL), "convolution setup");
    if ((st = conv_weights(c, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), e, why,
                           len)))
        goto fail;
    st = entry_finish(e, pd, why, len);
fail:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return st;
}

status dnnl_conv_create(const dnnl_conv_desc *d, dnnl_conv **out, char *why, size_t len) {
    status st = engine_get(why, len);
    *out = NULL;
    if (st) return st;
    dnnl_conv *c = calloc(1, sizeof *c);
    if (!c || cache_init(&c->cache)) {
        free(c);
        snprintf(why, len, "out of memory");
        return STATUS_NO_MEMORY;
    }
    c->d = *d;
    if (d->bias) {
        dnnl_dims_t bd = {d->out_ch};
        dnnl_memory_desc_t bmd;
        DN(dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_x), "bias descriptor");
        DN(dnnl_memory_create(&c->bias_mem, &bmd, g_engine, (void *)d->bias), "memory creation");
    }
    *out = c;
    return STATUS_OK;
fail:
    dnnl_conv_destroy(c);
    return st;
}

void dnnl_conv_destroy(dnnl_conv *c) {
    if (!c) return;
    cache_deinit(&c->cache);
    if (c->bias_mem) dnnl_memory_destroy(c->bias_mem);
    free(c);
}

status dnnl_conv_run(dnnl_conv *c, const dnnl_conv_shape *s, const float *x, const float *z,
                     float *y, int threads, dnnl_scratch_fn scratch, void *sctx, char *why,
                     size_t len) {
    int64_t key[KEY_LEN] = {s->batch,    s->in[0],    s->in[1],    s->out[0], s->out[1],
                            s->pad_l[0], s->pad_l[1], s->pad_r[0], s->pad_r[1], threads};
    prim_entry *e;
    int transient;
    set_threads(threads);
    status st = cache_get(&c->cache, key, conv_build, c, s, &e, &transient, why, len);
    if (st) return st;
    dnnl_exec_arg_t extra[2] = {{DNNL_ARG_WEIGHTS, e->wmem}, {DNNL_ARG_BIAS, c->bias_mem}};
    if (z && z != y) memcpy(y, z, dnnl_memory_desc_get_size(&e->dst_md));
    st = entry_run(e, x, y, extra, c->bias_mem ? 2 : 1, threads, scratch, sctx, why, len);
    if (transient) entry_free(e);
    return st;
}

/* ---- pooling --------------------------------------------------------------- */

static status pool_build(void *obj, const void *shape, prim_entry *e, char *why, size_t len) {
    static const dnnl_alg_kind_t alg[] = {[DNNL_POOL_MAX] = dnnl_pooling_max,
                                          [DNNL_POOL_AVG_INCLUDE_PAD] = dnnl_pooling_avg_include_padding,
                                          [DNNL_POOL_AVG_EXCLUDE_PAD] = dnnl_pooling_avg_exclude_padding};
    const dnnl_pool *p = obj;
    const dnnl_pool_shape *s = shape;
    status st = STATUS_OK;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_dims_t sd = {s->batch, s->channels, s->in[0], s->in[1]};
    dnnl_dims_t dd = {s->batch, s->channels, s->out[0], s->out[1]};
    dnnl_dims_t strides = {s->stride[0], s->stride[1]}, kernel = {s->kernel[0], s->kernel[1]};
    dnnl_dims_t dil = {s->dilation[0] - 1, s->dilation[1] - 1};
    dnnl_dims_t pl = {s->pad_l[0], s->pad_l[1]}, pr = {s->pad_r[0], s->pad_r[1]};
    dnnl_memory_desc_t smd, dmd;
    dnnl_pooling_v2_desc_t desc;
    DN(dnnl_memory_desc_init_by_tag(&smd, 4, sd, dnnl_f32, dnnl_nhwc), "source descriptor");
    DN(dnnl_memory_desc_init_by_tag(&dmd, 4, dd, dnnl_f32, dnnl_nhwc), "destination descriptor");
    DN(dnnl_pooling_v2_forward_desc_init(&desc, dnnl_forward_inference, alg[p->kind], &smd, &dmd,
                                         strides, kernel, dil, pl, pr),
       "pooling descriptor");
    DN(dnnl_primitive_attr_create(&attr), "attribute creation");
    DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
    DN(dnnl_primitive_desc_create(&pd, &desc, attr, g_engine, NULL), "pooling setup");
    st = entry_finish(e, pd, why, len);
fail:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return st;
}

status dnnl_pool_create(dnnl_pool_kind kind, dnnl_pool **out, char *why, size_t len) {
    status st = engine_get(why, len);
    *out = NULL;
    if (st) return st;
    dnnl_pool *p = calloc(1, sizeof *p);
    if (!p || cache_init(&p->cache)) {
        free(p);
        snprintf(why, len, "out of memory");
        return STATUS_NO_MEMORY;
    }
    p->kind = kind;
    *out = p;
    return STATUS_OK;
}

void dnnl_pool_destroy(dnnl_pool *p) {
    if (!p) return;
    cache_deinit(&p->cache);
    free(p);
}

status dnnl_pool_run(dnnl_pool *p, const dnnl_pool_shape *s, const float *x, float *y,
                     int threads, dnnl_scratch_fn scratch, void *sctx, char *why, size_t len) {
    int64_t key[KEY_LEN] = {s->batch,       s->channels,    s->in[0],     s->in[1],
                            s->out[0],      s->out[1],      s->kernel[0], s->kernel[1],
                            s->stride[0],   s->stride[1],   s->dilation[0], s->dilation[1],
                            s->pad_l[0],    s->pad_l[1],    s->pad_r[0],  s->pad_r[1],
                            threads};
    prim_entry *e;
    int transient;
    set_threads(threads);
    status st = cache_get(&p->cache, key, pool_build, p, s, &e, &transient, why, len);
    if (st) return st;
    st = entry_run(e, x, y, NULL, 0, threads, scratch, sctx, why, len);
    if (transient) entry_free(e);
    return st;
}
