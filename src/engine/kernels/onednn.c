/* onednn.c -- engine, errors, primitive cache and execution shared by the
 * oneDNN-backed kernels (see onednn.h). */
#include "onednn.h"

#include <dnnl_debug.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- engine, errors, threads ------------------------------------------------ */

static dnnl_engine_t g_engine;
static dnnl_status_t g_engine_status;
static pthread_once_t g_engine_once = PTHREAD_ONCE_INIT;

static void engine_init(void) { g_engine_status = dnnl_engine_create(&g_engine, dnnl_cpu, 0); }

status onednn_fail(dnnl_status_t s, const char *what, char *why, size_t len) {
    snprintf(why, len, "oneDNN %s failed: %s", what, dnnl_status2str(s));
    return s == dnnl_out_of_memory       ? STATUS_NO_MEMORY
           : s == dnnl_unimplemented     ? STATUS_UNSUPPORTED
           : s == dnnl_invalid_arguments ? STATUS_INVALID_ARGUMENT
                                         : STATUS_INTERNAL;
}

status onednn_init(char *why, size_t len) {
    pthread_once(&g_engine_once, engine_init);
    if (g_engine_status != dnnl_success)
        return onednn_fail(g_engine_status, "engine creation", why, len);
    return STATUS_OK;
}

dnnl_engine_t onednn_cpu(void) { return g_engine; }

void onednn_set_threads(int threads) {
    if (threads < 1) threads = 1;
    if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
}

/* ---- the primitive cache ------------------------------------------------------ */

void onednn_prim_free(onednn_prim *e) {
    if (!e) return;
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->owns_w && e->wmem) dnnl_memory_destroy(e->wmem);
    free(e);
}

int onednn_cache_init(onednn_cache *c, int cap) {
    c->n = 0;
    c->cap = cap < 0 ? 0 : cap > ONEDNN_CACHE_MAX ? ONEDNN_CACHE_MAX : cap;
    return pthread_mutex_init(&c->mu, NULL);
}

void onednn_cache_deinit(onednn_cache *c) {
    for (int i = 0; i < c->n; i++) onednn_prim_free(c->e[i]);
    c->n = 0;
    pthread_mutex_destroy(&c->mu);
}

static onednn_prim *cache_find(const onednn_cache *c, const int64_t *key) {
    for (int i = 0; i < c->n; i++)
        if (!memcmp(c->e[i]->key, key, sizeof c->e[i]->key)) return c->e[i];
    return NULL;
}

status onednn_cache_get(onednn_cache *c, const int64_t *key, onednn_build_fn build, void *obj,
                        const void *shape, onednn_prim **out, int *transient, char *why,
                        size_t len) {
    status st = STATUS_OK;
    *transient = 0;
    pthread_mutex_lock(&c->mu);
    onednn_prim *e = cache_find(c, key);
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e) {
            snprintf(why, len, "out of memory creating a oneDNN primitive");
            st = STATUS_NO_MEMORY;
        } else {
            memcpy(e->key, key, sizeof e->key);
            st = build(obj, shape, e, why, len);
            if (st) {
                onednn_prim_free(e);
                e = NULL;
            } else if (c->n < c->cap) {
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

/* ---- primitives ---------------------------------------------------------------- */

status onednn_prim_finish(onednn_prim *e, dnnl_primitive_desc_t pd, char *why, size_t len) {
    status st = STATUS_OK;
    e->src_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    e->dst_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (smd) {
        e->scratch_md = *smd;
        e->scratch_bytes = dnnl_memory_desc_get_size(smd);
    }
    ONEDNN_TRY(dnnl_primitive_create(&e->prim, pd), "primitive creation");
fail:
    return st;
}

#define MAX_EXTRA 4

status onednn_prim_run(const onednn_prim *e, const void *x, void *y, const dnnl_exec_arg_t *extra,
                       int n_extra, int threads, dnnl_scratch_fn scratch, void *sctx, char *why,
                       size_t len) {
    status st = STATUS_OK;
    dnnl_memory_t src = NULL, dst = NULL, pad = NULL;
    dnnl_stream_t strm = NULL;
    dnnl_exec_arg_t args[3 + MAX_EXTRA];
    int na = 0;
    void *buf = NULL;
    if (n_extra < 0 || n_extra > MAX_EXTRA) {
        snprintf(why, len, "%d extra oneDNN arguments, at most %d", n_extra, MAX_EXTRA);
        return STATUS_INTERNAL;
    }
    if (e->scratch_bytes && !(buf = scratch(sctx, e->scratch_bytes))) {
        snprintf(why, len, "out of memory for %zu bytes of oneDNN scratch", e->scratch_bytes);
        return STATUS_NO_MEMORY;
    }
    ONEDNN_TRY(dnnl_memory_create(&src, &e->src_md, g_engine, (void *)x), "memory creation");
    ONEDNN_TRY(dnnl_memory_create(&dst, &e->dst_md, g_engine, y), "memory creation");
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, src};
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_DST, dst};
    if (buf) {
        ONEDNN_TRY(dnnl_memory_create(&pad, &e->scratch_md, g_engine, buf), "memory creation");
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, pad};
    }
    for (int i = 0; i < n_extra; i++) args[na++] = extra[i];
    ONEDNN_TRY(dnnl_stream_create(&strm, g_engine, dnnl_stream_default_flags), "stream creation");
    onednn_set_threads(threads);
    ONEDNN_TRY(dnnl_primitive_execute(e->prim, strm, na, args), "execution");
    ONEDNN_TRY(dnnl_stream_wait(strm), "execution");
fail:
    if (strm) dnnl_stream_destroy(strm);
    if (src) dnnl_memory_destroy(src);
    if (dst) dnnl_memory_destroy(dst);
    if (pad) dnnl_memory_destroy(pad);
    return st;
}

status onednn_reorder(const dnnl_memory_desc_t *from_md, const void *from,
                      const dnnl_memory_desc_t *to_md, void *to, char *why, size_t len) {
    status st = STATUS_OK;
    dnnl_memory_t src = NULL, dst = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_stream_t strm = NULL;
    ONEDNN_TRY(dnnl_memory_create(&src, from_md, g_engine, (void *)from), "memory creation");
    ONEDNN_TRY(dnnl_memory_create(&dst, to_md, g_engine, to), "memory creation");
    ONEDNN_TRY(dnnl_reorder_primitive_desc_create(&rpd, from_md, g_engine, to_md, g_engine, NULL),
               "weights reorder");
    ONEDNN_TRY(dnnl_primitive_create(&reorder, rpd), "weights reorder");
    ONEDNN_TRY(dnnl_stream_create(&strm, g_engine, dnnl_stream_default_flags), "stream creation");
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
    ONEDNN_TRY(dnnl_primitive_execute(reorder, strm, 2, args), "weights reorder");
    ONEDNN_TRY(dnnl_stream_wait(strm), "weights reorder");
fail:
    if (strm) dnnl_stream_destroy(strm);
    if (reorder) dnnl_primitive_destroy(reorder);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (src) dnnl_memory_destroy(src);
    if (dst) dnnl_memory_destroy(dst);
    return st;
}

/* ---- attributes ------------------------------------------------------------------ */

static status add_posts(dnnl_primitive_attr_t attr, const dnnl_post *post, int n, char *why,
                        size_t len) {
    static const dnnl_alg_kind_t alg[DNNL_POST__COUNT] = {
        [DNNL_POST_RELU] = dnnl_eltwise_relu,
        [DNNL_POST_CLIP] = dnnl_eltwise_clip,
        [DNNL_POST_HARDSWISH] = dnnl_eltwise_hardswish,
        [DNNL_POST_SIGMOID] = dnnl_eltwise_logistic,
        [DNNL_POST_TANH] = dnnl_eltwise_tanh,
        [DNNL_POST_SWISH] = dnnl_eltwise_swish,
        [DNNL_POST_LINEAR] = dnnl_eltwise_linear};
    status st = STATUS_OK;
    dnnl_post_ops_t po = NULL;
    if (n == 0) return STATUS_OK;
    ONEDNN_TRY(dnnl_post_ops_create(&po), "post-op creation");
    for (int i = 0; i < n; i++) {
        const dnnl_post *p = &post[i];
        if (p->kind <= 0 || p->kind >= DNNL_POST__COUNT) {
            snprintf(why, len, "post-op kind %d is unknown", (int)p->kind);
            st = STATUS_INVALID_ARGUMENT;
            goto fail;
        }
        if (p->kind == DNNL_POST_SUM)
            ONEDNN_TRY(dnnl_post_ops_append_sum(po, 1.0f), "sum post-op");
        else /* swish's alpha scales the sigmoid's argument: 1 for x * sigmoid(x) */
            ONEDNN_TRY(dnnl_post_ops_append_eltwise(po, 1.0f, alg[p->kind],
                                                    p->kind == DNNL_POST_SWISH ? 1.0f : p->alpha,
                                                    p->beta),
                       "eltwise post-op");
    }
    ONEDNN_TRY(dnnl_primitive_attr_set_post_ops(attr, po), "post-op setup");
fail:
    if (po) dnnl_post_ops_destroy(po);
    return st;
}

status onednn_attr(const dnnl_post *post, int n, dnnl_primitive_attr_t *out, char *why,
                   size_t len) {
    status st = STATUS_OK;
    dnnl_primitive_attr_t attr = NULL;
    *out = NULL;
    ONEDNN_TRY(dnnl_primitive_attr_create(&attr), "attribute creation");
    ONEDNN_TRY(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user),
               "scratchpad mode");
    if ((st = add_posts(attr, post, n, why, len))) goto fail;
    *out = attr;
    return STATUS_OK;
fail:
    if (attr) dnnl_primitive_attr_destroy(attr);
    return st;
}
