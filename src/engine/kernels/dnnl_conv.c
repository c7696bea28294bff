/* dnnl_conv.c -- oneDNN convolution and pooling on NHWC (see dnnl_conv.h). */
#include "dnnl_conv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onednn.h"

/* Distinct shapes one node keeps primitives for (see onednn_cache). */
#define CACHE_MAX 16
#define KEY_LEN ONEDNN_KEY_LEN

struct dnnl_conv {
    dnnl_conv_desc d;
    dnnl_memory_t bias_mem;  /* NULL without bias */
    onednn_cache cache;
};

struct dnnl_pool {
    dnnl_pool_kind kind;
    onednn_cache cache;
};

/* ---- convolution ----------------------------------------------------------- */

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
static status conv_weights(dnnl_conv *c, const dnnl_memory_desc_t *md, onednn_prim *e, char *why,
                           size_t len) {
    status st = STATUS_OK;
    for (int i = 0; i < c->cache.n; i++) {
        dnnl_memory_desc_t const *have;
        ONEDNN_TRY(dnnl_memory_get_memory_desc(c->cache.e[i]->wmem, &have), "memory query");
        if (dnnl_memory_desc_equal(have, md)) {
            e->wmem = c->cache.e[i]->wmem;
            return STATUS_OK;
        }
    }
    dnnl_dims_t wd;
    int nd;
    weight_dims(&c->d, wd, &nd);
    dnnl_memory_desc_t umd;
    ONEDNN_TRY(dnnl_memory_desc_init_by_tag(&umd, nd, wd, dnnl_f32,
                                            nd == 5 ? dnnl_goihw : dnnl_oihw),
               "weights descriptor");
    ONEDNN_TRY(dnnl_memory_create(&e->wmem, md, onednn_cpu(), DNNL_MEMORY_ALLOCATE),
               "weights allocation");
    e->owns_w = 1;
    void *to;
    ONEDNN_TRY(dnnl_memory_get_data_handle(e->wmem, &to), "memory query");
    st = onednn_reorder(&umd, c->d.w, md, to, why, len);
fail:
    return st;
}

static status conv_build(void *obj, const void *shape, onednn_prim *e, char *why, size_t len) {
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
    ONEDNN_TRY(dnnl_memory_desc_init_by_tag(&smd, 4, sd, dnnl_f32, dnnl_nhwc), "source descriptor");
    ONEDNN_TRY(dnnl_memory_desc_init_by_tag(&dmd, 4, dd, dnnl_f32, dnnl_nhwc),
               "destination descriptor");
    ONEDNN_TRY(dnnl_memory_desc_init_by_tag(&wmd, nd, wd, dnnl_f32, dnnl_format_tag_any),
               "weights descriptor");
    ONEDNN_TRY(dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_x), "bias descriptor");
    dnnl_convolution_desc_t cd;
    ONEDNN_TRY(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference,
                                                          dnnl_convolution_direct, &smd, &wmd,
                                                          d->bias ? &bmd : NULL, &dmd, strides,
                                                          dil, pl, pr),
               "convolution descriptor");
    /* The residual sum is oneDNN's `sum` post-op, which adds what y holds, so
     * a run copies z into y first. A `binary_add` post-op reading z in place
     * saves that copy, but oneDNN 2.6's gemm-based convolution (which it
     * picks for some grouped and strided shapes) computes it wrong on NHWC:
     * tests/unit/test_dnnl_conv.c caught it. */
    if ((st = onednn_attr(d->post, d->n_post, &attr, why, len))) goto fail;
    ONEDNN_TRY(dnnl_primitive_desc_create(&pd, &cd, attr, onednn_cpu(), NULL), "convolution setup");
    if ((st = conv_weights(c, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), e, why,
                           len)))
        goto fail;
    st = onednn_prim_finish(e, pd, why, len);
fail:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return st;
}

status dnnl_conv_create(const dnnl_conv_desc *d, dnnl_conv **out, char *why, size_t len) {
    status st = onednn_init(why, len);
    *out = NULL;
    if (st) return st;
    dnnl_conv *c = calloc(1, sizeof *c);
    if (!c || onednn_cache_init(&c->cache, CACHE_MAX)) {
        free(c);
        snprintf(why, len, "out of memory");
        return STATUS_NO_MEMORY;
    }
    c->d = *d;
    if (d->bias) {
        dnnl_dims_t bd = {d->out_ch};
        dnnl_memory_desc_t bmd;
        ONEDNN_TRY(dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_x), "bias descriptor");
        ONEDNN_TRY(dnnl_memory_create(&c->bias_mem, &bmd, onednn_cpu(), (void *)d->bias),
                   "memory creation");
    }
    *out = c;
    return STATUS_OK;
fail:
    dnnl_conv_destroy(c);
    return st;
}

void dnnl_conv_destroy(dnnl_conv *c) {
    if (!c) return;
    onednn_cache_deinit(&c->cache);
    if (c->bias_mem) dnnl_memory_destroy(c->bias_mem);
    free(c);
}

status dnnl_conv_run(dnnl_conv *c, const dnnl_conv_shape *s, const float *x, const float *z,
                     float *y, int threads, dnnl_scratch_fn scratch, void *sctx, char *why,
                     size_t len) {
    int64_t key[KEY_LEN] = {s->batch,    s->in[0],    s->in[1],    s->out[0], s->out[1],
                            s->pad_l[0], s->pad_l[1], s->pad_r[0], s->pad_r[1], threads};
    onednn_prim *e;
    int transient;
    onednn_set_threads(threads);
    status st = onednn_cache_get(&c->cache, key, conv_build, c, s, &e, &transient, why, len);
    if (st) return st;
    dnnl_exec_arg_t extra[2] = {{DNNL_ARG_WEIGHTS, e->wmem}, {DNNL_ARG_BIAS, c->bias_mem}};
    if (z && z != y) memcpy(y, z, dnnl_memory_desc_get_size(&e->dst_md));
    st = onednn_prim_run(e, x, y, extra, c->bias_mem ? 2 : 1, threads, scratch, sctx, why, len);
    if (transient) onednn_prim_free(e);
    return st;
}

/* ---- pooling --------------------------------------------------------------- */

static status pool_build(void *obj, const void *shape, onednn_prim *e, char *why, size_t len) {
    static const dnnl_alg_kind_t alg[] = {
        [DNNL_POOL_MAX] = dnnl_pooling_max,
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
    ONEDNN_TRY(dnnl_memory_desc_init_by_tag(&smd, 4, sd, dnnl_f32, dnnl_nhwc), "source descriptor");
    ONEDNN_TRY(dnnl_memory_desc_init_by_tag(&dmd, 4, dd, dnnl_f32, dnnl_nhwc),
               "destination descriptor");
    ONEDNN_TRY(dnnl_pooling_v2_forward_desc_init(&desc, dnnl_forward_inference, alg[p->kind],
                                                 &smd, &dmd, strides, kernel, dil, pl, pr),
               "pooling descriptor");
    if ((st = onednn_attr(NULL, 0, &attr, why, len))) goto fail;
    ONEDNN_TRY(dnnl_primitive_desc_create(&pd, &desc, attr, onednn_cpu(), NULL), "pooling setup");
    st = onednn_prim_finish(e, pd, why, len);
fail:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return st;
}

status dnnl_pool_create(dnnl_pool_kind kind, dnnl_pool **out, char *why, size_t len) {
    status st = onednn_init(why, len);
    *out = NULL;
    if (st) return st;
    dnnl_pool *p = calloc(1, sizeof *p);
    if (!p || onednn_cache_init(&p->cache, CACHE_MAX)) {
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
    onednn_cache_deinit(&p->cache);
    free(p);
}

status dnnl_pool_run(dnnl_pool *p, const dnnl_pool_shape *s, const float *x, float *y,
                     int threads, dnnl_scratch_fn scratch, void *sctx, char *why, size_t len) {
    int64_t key[KEY_LEN] = {s->batch,       s->channels,    s->in[0],     s->in[1],
                            s->out[0],      s->out[1],      s->kernel[0], s->kernel[1],
                            s->stride[0],   s->stride[1],   s->dilation[0], s->dilation[1],
                            s->pad_l[0],    s->pad_l[1],    s->pad_r[0],  s->pad_r[1],
                            threads};
    onednn_prim *e;
    int transient;
    onednn_set_threads(threads);
    status st = onednn_cache_get(&p->cache, key, pool_build, p, s, &e, &transient, why, len);
    if (st) return st;
    st = onednn_prim_run(e, x, y, NULL, 0, threads, scratch, sctx, why, len);
    if (transient) onednn_prim_free(e);
    return st;
}
