/* dnnl_matmul.c -- oneDNN matmul on prepacked weights (see dnnl_matmul.h).
 *
 * oneDNN's matmul was measured against its inner_product and against
 * sgemm for M = 1..2048 on the benchmark models' weight shapes
 * (docs/design.md): matmul matched or beat inner_product everywhere (up to
 * 1.35x at M = 256 on 9216x4096), so it is the primitive used here. */
#include "dnnl_matmul.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onednn.h"

/* Row count of the primitive whose preferred weight format is the packed
 * format. oneDNN 2.6's brgemm matmul picks the same format for every M
 * (checked for M = 1..4096), and every primitive is made with the format
 * forced, so this only has to be a typical M. */
#define CANON_M 16

/* Bytes of W's rows packed per reorder (dnnl_mm_pack). */
#define PACK_SLICE_BYTES ((size_t)16 << 20)

/* (M, threads) pairs a node keeps primitives for: batch sizes 1..16 from
 * the batcher at two thread budgets. A primitive beyond that is made per
 * run; oneDNN's own primitive cache makes a repeat of one cost ~5 us. */
#define CACHE_MAX 32

struct dnnl_mm {
    dnnl_mm_desc d;
    dnnl_memory_desc_t bmd;  /* the bias, [1, n] */
    dnnl_memory_desc_t wmd;  /* the packed format */
    dnnl_memory_t wmem;      /* wmd over the caller's packed bytes */
    onednn_cache cache;
};

/* A matmul descriptor for [m, k] x [k, n] with weights described by wmd. */
static status mm_desc(int64_t m, int64_t k, int64_t n, const dnnl_memory_desc_t *wmd, int bias,
                      dnnl_matmul_desc_t *out, char *why, size_t len) {
    status st = STATUS_OK;
    dnnl_dims_t sd = {m, k}, dd = {m, n}, bd = {1, n};
    dnnl_memory_desc_t smd, dmd, bmd;
    ONEDNN_TRY(dnnl_memory_desc_init_by_tag(&smd, 2, sd, dnnl_f32, dnnl_ab), "source descriptor");
    ONEDNN_TRY(dnnl_memory_desc_init_by_tag(&dmd, 2, dd, dnnl_f32, dnnl_ab),
               "destination descriptor");
    ONEDNN_TRY(dnnl_memory_desc_init_by_tag(&bmd, 2, bd, dnnl_f32, dnnl_ab), "bias descriptor");
    ONEDNN_TRY(dnnl_matmul_desc_init(out, &smd, wmd, bias ? &bmd : NULL, &dmd),
               "matmul descriptor");
fail:
    return st;
}

/* The weight format oneDNN prefers for [K, N] on this CPU. */
static status packed_md(int64_t k, int64_t n, dnnl_memory_desc_t *out, char *why, size_t len) {
    status st = onednn_init(why, len);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_matmul_desc_t md;
    dnnl_memory_desc_t any;
    dnnl_dims_t wd = {k, n};
    if (st) return st;
    if (k < 1 || n < 1) {
        snprintf(why, len, "weights [%lld, %lld]: both dimensions must be at least 1",
                 (long long)k, (long long)n);
        return STATUS_INVALID_ARGUMENT;
    }
    ONEDNN_TRY(dnnl_memory_desc_init_by_tag(&any, 2, wd, dnnl_f32, dnnl_format_tag_any),
               "weights descriptor");
    if ((st = mm_desc(CANON_M, k, n, &any, 0, &md, why, len))) goto fail;
    if ((st = onednn_attr(NULL, 0, &attr, why, len))) goto fail;
    ONEDNN_TRY(dnnl_primitive_desc_create(&pd, &md, attr, onednn_cpu(), NULL), "matmul setup");
    *out = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
fail:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return st;
}

status dnnl_mm_packed_size(int64_t k, int64_t n, size_t *bytes, char *why, size_t len) {
    dnnl_memory_desc_t md;
    status st = packed_md(k, n, &md, why, len);
    *bytes = st ? 0 : dnnl_memory_desc_get_size(&md);
    return st;
}

/* Product of the inner blocks md has along dimension d; 0 when md is not
 * a blocked layout. */
static int64_t block_along(const dnnl_memory_desc_t *md, int d) {
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    int64_t blk = 1;
    if (md->format_kind != dnnl_blocked) return 0;
    for (int i = 0; i < b->inner_nblks; i++)
        if (b->inner_idxs[i] == d) blk *= b->inner_blks[i];
    return blk;
}

status dnnl_mm_pack(int64_t k, int64_t n, const float *w, int w_trans, void *packed,
                    size_t bytes, dnnl_mm_progress_fn progress, void *pctx, char *why,
                    size_t len) {
    dnnl_memory_desc_t md, umd;
    dnnl_dims_t wd = {k, n};
    status st = packed_md(k, n, &md, why, len);
    if (st) return st;
    if (bytes != dnnl_memory_desc_get_size(&md)) {
        snprintf(why, len, "packed weights need %zu bytes, got %zu",
                 dnnl_memory_desc_get_size(&md), bytes);
        return STATUS_INVALID_ARGUMENT;
    }
    /* [N, K] row-major is [K, N] with strides (1, K): the reorder transposes. */
    ONEDNN_TRY(dnnl_memory_desc_init_by_tag(&umd, 2, wd, dnnl_f32, w_trans ? dnnl_ba : dnnl_ab),
               "weights descriptor");
    /* W's rows run along K, or along N when transposed; a slice is whole
     * blocks of them, so it is a submemory of both layouts. */
    const int d = w_trans ? 1 : 0;
    const int64_t rows = wd[d], blk = block_along(&md, d);
    const size_t row_bytes = (size_t)wd[1 - d] * sizeof(float);
    int64_t step = rows;
    if (blk > 0) {
        int64_t want = (int64_t)(PACK_SLICE_BYTES / row_bytes) / blk * blk;
        if (want < rows) step = want < blk ? blk : want;
    }
    for (int64_t r0 = 0; r0 < rows; r0 += step) {
        const int64_t r1 = rows - r0 <= step ? rows : r0 + step;
        dnnl_memory_desc_t from = umd, to = md;
        if (step < rows) {
            dnnl_dims_t sub = {k, n}, off = {0, 0};
            sub[d] = r1 - r0, off[d] = r0;
            ONEDNN_TRY(dnnl_memory_desc_init_submemory(&from, &umd, sub, off), "weights slice");
            ONEDNN_TRY(dnnl_memory_desc_init_submemory(&to, &md, sub, off), "weights slice");
        }
        if ((st = onednn_reorder(&from, w, &to, packed, why, len))) goto fail;
        if (progress) progress(pctx, (size_t)r1 * row_bytes);
    }
fail:
    return st;
}

/* ---- the object ------------------------------------------------------------------- */

static status mm_build(void *obj, const void *shape, onednn_prim *e, char *why, size_t len) {
    const dnnl_mm *mm = obj;
    const int64_t m = *(const int64_t *)shape;
    status st = STATUS_OK;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_matmul_desc_t md;
    if ((st = mm_desc(m, mm->d.k, mm->d.n, &mm->wmd, mm->d.bias, &md, why, len))) goto fail;
    if ((st = onednn_attr(mm->d.post, mm->d.n_post, &attr, why, len))) goto fail;
    ONEDNN_TRY(dnnl_primitive_desc_create(&pd, &md, attr, onednn_cpu(), NULL), "matmul setup");
    st = onednn_prim_finish(e, pd, why, len);
fail:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return st;
}

static status check_desc(const dnnl_mm_desc *d, char *why, size_t len) {
    if (d->n_post < 0 || d->n_post > DNNL_MM_MAX_POST) {
        snprintf(why, len, "%d post-ops, at most %d", d->n_post, DNNL_MM_MAX_POST);
        return STATUS_INVALID_ARGUMENT;
    }
    for (int i = 0; i < d->n_post; i++)
        if (d->post[i].kind <= DNNL_POST_SUM || d->post[i].kind >= DNNL_POST__COUNT) {
            snprintf(why, len, "post-op %d has kind %d: expected an activation", i,
                     (int)d->post[i].kind);
            return STATUS_INVALID_ARGUMENT;
        }
    return STATUS_OK;
}

status dnnl_mm_create(const dnnl_mm_desc *d, const void *packed, size_t bytes,
                          dnnl_mm **out, char *why, size_t len) {
    *out = NULL;
    status st = check_desc(d, why, len);
    if (st) return st;
    dnnl_mm *mm = calloc(1, sizeof *mm);
    if (!mm || onednn_cache_init(&mm->cache, CACHE_MAX)) {
        free(mm);
        snprintf(why, len, "out of memory");
        return STATUS_NO_MEMORY;
    }
    mm->d = *d;
    dnnl_dims_t bd = {1, d->n};
    ONEDNN_TRY(dnnl_memory_desc_init_by_tag(&mm->bmd, 2, bd, dnnl_f32, dnnl_ab),
               "bias descriptor");
    if ((st = packed_md(d->k, d->n, &mm->wmd, why, len))) goto fail;
    if (bytes != dnnl_memory_desc_get_size(&mm->wmd)) {
        snprintf(why, len, "packed weights [%lld, %lld] have %zu bytes, expected %zu",
                 (long long)d->k, (long long)d->n, bytes, dnnl_memory_desc_get_size(&mm->wmd));
        st = STATUS_INVALID_ARGUMENT;
        goto fail;
    }
    ONEDNN_TRY(dnnl_memory_create(&mm->wmem, &mm->wmd, onednn_cpu(), (void *)packed),
               "memory creation");
    *out = mm;
    return STATUS_OK;
fail:
    dnnl_mm_destroy(mm);
    return st;
}

void dnnl_mm_destroy(dnnl_mm *mm) {
    if (!mm) return;
    onednn_cache_deinit(&mm->cache);
    if (mm->wmem) dnnl_memory_destroy(mm->wmem);
    free(mm);
}

status dnnl_mm_run(dnnl_mm *mm, int64_t m, const float *a, const float *bias, float *y,
                       int threads, dnnl_scratch_fn scratch, void *sctx, char *why, size_t len) {
    status st = STATUS_OK;
    dnnl_memory_t bmem = NULL;
    int64_t key[ONEDNN_KEY_LEN] = {m, threads};
    onednn_prim *e = NULL;
    int transient = 0;
    if (m < 1) {
        snprintf(why, len, "%lld rows: expected at least 1", (long long)m);
        return STATUS_INVALID_ARGUMENT;
    }
    if (mm->d.bias && !bias) {
        snprintf(why, len, "the product needs a bias of %lld values", (long long)mm->d.n);
        return STATUS_INVALID_ARGUMENT;
    }
    onednn_set_threads(threads);
    if ((st = onednn_cache_get(&mm->cache, key, mm_build, mm, &m, &e, &transient, why, len)))
        return st;
    dnnl_exec_arg_t extra[2] = {{DNNL_ARG_WEIGHTS, mm->wmem}};
    if (mm->d.bias) {
        ONEDNN_TRY(dnnl_memory_create(&bmem, &mm->bmd, onednn_cpu(), (void *)bias),
                   "memory creation");
        extra[1] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, bmem};
    }
    st = onednn_prim_run(e, a, y, extra, mm->d.bias ? 2 : 1, threads, scratch, sctx, why, len);
fail:
    if (bmem) dnnl_memory_destroy(bmem);
    if (transient) onednn_prim_free(e);
    return st;
}
