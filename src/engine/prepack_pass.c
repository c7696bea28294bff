/* prepack_pass.c -- constant weight matrices packed once at load (see
 * prepack_pass.h). */
#include "prepack_pass.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "graph_edit.h"
#include "kernels/dnnl_matmul.h"
#include "onnx_loader.h"

#define DOMAIN_INFERD "ai.inferd"

typedef struct packer {
    engine_model *m;
    graph *g;
    int *readers;               /* per value: node inputs and subgraph references */
} packer;

/* How a product maps onto PackedMatMul(A, Bp, bias?). */
typedef struct pack_plan {
    int bias;                   /* value index of the bias, or -1 */
    int trans;                  /* B is [N, K] (Gemm transB) */
    int gemm;                   /* A must stay 2-D, as Gemm requires */
} pack_plan;

static void count_read(void *ctx, int value, int node, int in_subgraph) {
    (void)node, (void)in_subgraph;
    ((int *)ctx)[value]++;
}

static int is_node(const node *n, const char *domain, const char *type) {
    const char *d = n->domain[0] && strcmp(n->domain, "ai.onnx") ? n->domain : "";
    return !strcmp(d, domain) && !strcmp(n->op_type, type) && n->n_outputs == 1 &&
           n->outputs[0] >= 0 && n->n_inputs >= 2 && n->inputs[0] >= 0;
}

/* Value v as a float matrix only this one read sees, or NULL. */
static const engine_tensor *private_matrix(const packer *p, int v) {
    if (v < 0) return NULL;
    const value *val = &p->g->values[v];
    const engine_tensor *t = &val->init;
    if (val->kind != VALUE_INITIALIZER || val->is_output || p->readers[v] != 1) return NULL;
    if (t->dtype != ENGINE_FLOAT || t->shape.rank != 2) return NULL;
    return t->shape.dims[0] >= 1 && t->shape.dims[1] >= 1 ? t : NULL;
}

/* Gemm's C as a bias of n values: a float constant [n] or [1, n]. */
static int is_row_bias(const graph *g, int v, int64_t n) {
    const value *c = &g->values[v];
    const engine_shape *s = &c->init.shape;
    if (c->kind != VALUE_INITIALIZER || c->init.dtype != ENGINE_FLOAT) return 0;
    return (s->rank == 1 && s->dims[0] == n) ||
           (s->rank == 2 && s->dims[0] == 1 && s->dims[1] == n);
}

static int gemm_plan(const packer *p, const node *n, pack_plan *pl) {
    if (n->n_inputs > 3 || node_attr(n, "broadcast") || node_attr_int(n, "transA", 0) != 0 ||
        node_attr_float(n, "alpha", 1.0f) != 1.0f)
        return 0;
    pl->trans = node_attr_int(n, "transB", 0) != 0;
    pl->gemm = 1;
    const engine_tensor *w = private_matrix(p, n->inputs[1]);
    if (!w) return 0;
    float beta = node_attr_float(n, "beta", 1.0f);
    if (n->n_inputs < 3 || n->inputs[2] < 0 || beta == 0.0f) return 1;
    pl->bias = n->inputs[2];
    return beta == 1.0f && is_row_bias(p->g, pl->bias, w->shape.dims[!pl->trans]);
}

/* Which B are worth packing, measured (docs/design.md, "Engine speed"):
 * sgemm packs a transposed B (Gemm transB, how torch exports Linear) slowly
 * at every M: 1.1-7x the packed product's time for M = 2..1024 on 512x512
 * to 9216x4096, 1 and 2 threads. A [K, N] B of 16 MB or more: 1.0-1.9x for
 * M = 1..512, within 3% either way above. A [K, N] B of an encoder's size
 * (1-10 MB) ties with sgemm from M = 8 on, and MiniLM at sequence 16 ran up
 * to 18% slower packed (bias and GELU then take a pass of their own): those
 * stay on sgemm. So do tiny ones (a classifier's 512x10 head: sgemm takes
 * 0.3 us, less than a primitive's ~1 us call overhead). */
static int worth_packing(int64_t k, int64_t n, int trans) {
    const int64_t elems = k * n;
    return elems >= (INT64_C(4) << 20) || (trans && elems >= (INT64_C(1) << 14));
}

/* Whether n is a product this pass takes, and how. */
static int plan_for(const packer *p, const node *n, pack_plan *pl) {
    *pl = (pack_plan){.bias = -1};
    if (is_node(n, "", "MatMul"))
        return n->n_inputs == 2 && private_matrix(p, n->inputs[1]);
    if (is_node(n, DOMAIN_INFERD, "FusedMatMul")) {
        if (n->n_inputs > 3 || !private_matrix(p, n->inputs[1])) return 0;
        if (n->n_inputs == 3) pl->bias = n->inputs[2]; /* -1 when omitted */
        return 1;
    }
    if ((is_node(n, "", "Gemm") && n->opset >= 7) || is_node(n, DOMAIN_INFERD, "FusedGemm"))
        return gemm_plan(p, n, pl);
    return 0;
}

/* ---- memory ------------------------------------------------------------------ */

static int in_mapping(const engine_model *m, const void *p, size_t len) {
    const char *c = p;
    if (m->file_map && c >= (const char *)m->file_map &&
        (size_t)(c - (const char *)m->file_map) + len <= m->file_len)
        return 1;
    for (const model_mapping *mm = m->external; mm; mm = mm->next)
        if (mm->addr && c >= (const char *)mm->addr &&
            (size_t)(c - (const char *)mm->addr) + len <= mm->len)
            return 1;
    return 0;
}

/* Gives the pages under the original weights back. In a file mapping they
 * can be faulted in again; otherwise (a model read from a file keeps its
 * weights either there or in its arena) they are the arena's copy, which
 * nothing reads once the value holds the packed bytes. A model loaded from
 * a caller's buffer may point into that buffer, which is not ours. */
static void release_original(const engine_model *m, const void *p, size_t len) {
    if (in_mapping(m, p, len)) {
        model_mapping_release(m, p, len);
        return;
    }
    if (!m->file_map) return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)p + page - 1) / page * page, hi = ((uintptr_t)p + len) / page * page;
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

typedef struct release_job {
    const engine_model *m;
    const void *w;
} release_job;

static void release_done(void *ctx, size_t done) {
    const release_job *j = ctx;
    release_original(j->m, j->w, done);
}

/* ---- the rewrite ---------------------------------------------------------------- */

static attr int_attr(const char *name, int64_t v) {
    return (attr){.name = name, .type = ATTR_INT, .i = v};
}

/* n becomes PackedMatMul(A, Bp, bias?) with attributes k, n, gemm and
 * n's activation. */
static status rewrite(packer *p, node *n, const pack_plan *pl, int64_t k, int64_t cols,
                      errinfo *err) {
    model_arena *a = &p->m->arena;
    const attr *act = node_attr(n, "activation");
    int n_in = pl->bias >= 0 ? 3 : 2, n_attrs = act ? 4 : 3;
    int *in = model_arena_array(a, (size_t)n_in, sizeof *in, alignof(int));
    attr *at = model_arena_array(a, (size_t)n_attrs, sizeof *at, alignof(attr));
    if (!in || !at) return status_fail(err, STATUS_NO_MEMORY, "out of memory packing weights");
    in[0] = n->inputs[0], in[1] = n->inputs[1];
    if (pl->bias >= 0) in[2] = pl->bias;
    at[0] = int_attr("k", k), at[1] = int_attr("n", cols), at[2] = int_attr("gemm", pl->gemm);
    if (act) at[3] = *act;
    n->domain = DOMAIN_INFERD;
    n->op_type = "PackedMatMul";
    n->opset = 1;
    n->inputs = in;
    n->n_inputs = n_in;
    n->attrs = at;
    n->n_attrs = n_attrs;
    return STATUS_OK;
}

/* Packs n's B into the arena and rewrites n. A shape oneDNN has no matmul
 * for leaves n to sgemm. */
static status pack_node(packer *p, node *n, const pack_plan *pl, errinfo *err) {
    value *wv = &p->g->values[n->inputs[1]];
    const engine_tensor w = wv->init;
    const int64_t k = w.shape.dims[pl->trans], cols = w.shape.dims[!pl->trans];
    char why[256];
    size_t bytes;
    if (dnnl_mm_packed_size(k, cols, &bytes, why, sizeof why) || bytes % sizeof(float))
        return STATUS_OK;
    void *packed = model_arena_alloc(&p->m->arena, bytes, 64);
    if (!packed)
        return status_fail(err, STATUS_NO_MEMORY,
                           "out of memory packing the weights '%s' (%zu bytes)", wv->name, bytes);
    /* Once the rewrite is certain, the original goes back slice by slice. */
    status st = rewrite(p, n, pl, k, cols, err);
    if (st) return st;
    release_job job = {p->m, w.data};
    if ((st = dnnl_mm_pack(k, cols, w.data, pl->trans, packed, bytes, release_done, &job, why,
                           sizeof why)))
        return status_fail(err, st, "packing the weights '%s': %s", wv->name, why);
    release_original(p->m, w.data, w.nbytes);
    wv->init = (engine_tensor){.dtype = ENGINE_FLOAT,
                               .shape = {.rank = 1, .dims = {(int64_t)(bytes / sizeof(float))}},
                               .data = packed,
                               .nbytes = bytes};
    wv->decl.rank = 1;
    wv->decl.dims[0] = wv->init.shape.dims[0];
    wv->decl.dim_names[0] = NULL;
    return STATUS_OK;
}

status prepack_pass_run(engine_model *m, graph *g, errinfo *err) {
    packer p = {.m = m, .g = g, .readers = calloc((size_t)g->n_values + 1, sizeof(int))};
    status st = STATUS_OK;
    if (!p.readers) return status_fail(err, STATUS_NO_MEMORY, "out of memory packing weights");
    graph_for_each_read(g, count_read, p.readers);
    for (int i = 0; i < g->n_nodes && !st; i++) {
        pack_plan pl;
        if (!plan_for(&p, &g->nodes[i], &pl)) continue;
        const engine_shape *w = &g->values[g->nodes[i].inputs[1]].init.shape;
        if (worth_packing(w->dims[pl.trans], w->dims[!pl.trans], pl.trans))
            st = pack_node(&p, &g->nodes[i], &pl, err);
    }
    free(p.readers);
    return st;
}
