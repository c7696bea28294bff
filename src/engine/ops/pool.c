/* pool.c -- MaxPool (with Indices), AveragePool, LpPool, their Global forms,
 * and MaxUnpool.
 *
 * Attribute and shape semantics live here; the window loops are in
 * kernels/pool.c, which handles 1-D to 3-D pooling over ranges of (image,
 * channel) planes spread over threads. float16/bfloat16 are pooled in fp32.
 * Global pools are windows that cover the whole (flattened) spatial extent. */
#include <stdlib.h>
#include <string.h>

#include "../dtype.h"
#include "../kernels/pool.h"
#include "../op.h"
#include "../shape.h"
#include "fview.h"
#include "window.h"

typedef enum pool_kind { POOL_MAX, POOL_AVG, POOL_LP } pool_kind;

typedef struct pool_state {
    pool_kind kind;
    int global;
    window_attrs win;
    int count_pad;           /* AveragePool count_include_pad */
    int col_major;           /* MaxPool storage_order */
    double p;                /* LpPool */
} pool_state;

/* The type the kernels run in: the tensor's own, or float for 16-bit floats. */
static engine_dtype compute_type(engine_dtype dt) {
    return dt == ENGINE_FLOAT16 || dt == ENGINE_BFLOAT16 ? ENGINE_FLOAT : dt;
}

static status pool_prepare_kind(graph *g, node *n, errinfo *err, pool_kind kind, int global) {
    engine_dtype dt = node_input_dtype(g, n, 0);
    const pool_kernels *k = pool_kernels_for(compute_type(dt));
    if (!k || (kind != POOL_MAX && !k->avg))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "input X has type %s, expected float, float16, bfloat16, "
                               "double%s", engine_dtype_name(dt),
                               kind == POOL_MAX ? ", int8 or uint8" : "");
    pool_state *s = calloc(1, sizeof *s);
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    s->kind = kind;
    s->global = global;
    s->p = 2.0;
    status st = STATUS_OK;
    if (!global && (st = window_attrs_parse(n, 1, &s->win, err))) goto fail;
    s->count_pad = node_attr_int(n, "count_include_pad", 0) != 0;
    s->col_major = node_attr_int(n, "storage_order", 0) != 0;
    const attr *pa = node_attr(n, "p");
    if (pa) s->p = pa->type == ATTR_FLOAT ? pa->f : (double)pa->i;
    if (kind == POOL_LP && !(s->p > 0)) {
        st = op_prepare_fail(n, err, STATUS_INVALID_MODEL, "p is %g, expected > 0", s->p);
        goto fail;
    }
    n->state = s;
    node_set_output_dtype(g, n, 0, dt);
    node_set_output_dtype(g, n, 1, ENGINE_INT64);
    return STATUS_OK;
fail:
    free(s);
    return st;
}

static status maxpool_prepare(graph *g, node *n, errinfo *err) {
    return pool_prepare_kind(g, n, err, POOL_MAX, 0);
}
static status avgpool_prepare(graph *g, node *n, errinfo *err) {
    return pool_prepare_kind(g, n, err, POOL_AVG, 0);
}
static status lppool_prepare(graph *g, node *n, errinfo *err) {
    return pool_prepare_kind(g, n, err, POOL_LP, 0);
}
static status gmaxpool_prepare(graph *g, node *n, errinfo *err) {
    return pool_prepare_kind(g, n, err, POOL_MAX, 1);
}
static status gavgpool_prepare(graph *g, node *n, errinfo *err) {
    return pool_prepare_kind(g, n, err, POOL_AVG, 1);
}
static status glppool_prepare(graph *g, node *n, errinfo *err) {
    return pool_prepare_kind(g, n, err, POOL_LP, 1);
}

/* Output shape and kernel geometry (lower ranks padded to 3 axes). */
static status pool_geometry(exec_ctx *x, const pool_state *s, const engine_tensor *xt,
                            pool_geom *g, engine_shape *ys) {
    char why[256];
    if (xt->shape.rank < 3)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "X has rank %d, expected [N, C, spatial...]",
                         xt->shape.rank);
    int nsp = xt->shape.rank - 2;
    *ys = xt->shape;
    for (int d = 0; d < 3; d++) {
        g->in[d] = g->out[d] = g->kernel[d] = g->stride[d] = g->dilation[d] = 1;
        g->pad[d] = g->pad_end[d] = 0;
    }
    g->planes = xt->shape.dims[0] * xt->shape.dims[1];
    if (s->global) { /* one window over the flattened spatial extent */
        g->in[2] = g->kernel[2] = shape_span(&xt->shape, 2, xt->shape.rank);
        for (int d = 0; d < nsp; d++) ys->dims[d + 2] = 1;
        return STATUS_OK;
    }
    if (nsp > 3)
        return exec_fail(x, STATUS_UNSUPPORTED, "pooling over %d spatial axes, at most 3 supported",
                         nsp);
    int64_t out[3], pb[3], pe[3];
    if (window_resolve(&s->win, nsp, xt->shape.dims + 2, s->win.kernel, out, pb, pe, why,
                       sizeof why))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "%s", why);
    for (int d = 0; d < nsp; d++) {
        int a = d + 3 - nsp;
        g->in[a] = xt->shape.dims[d + 2];
        g->out[a] = out[d];
        g->kernel[a] = s->win.kernel[d];
        g->stride[a] = s->win.has_strides ? s->win.strides[d] : 1;
        g->dilation[a] = s->win.has_dilations ? s->win.dilations[d] : 1;
        g->pad[a] = pb[d];
        g->pad_end[a] = pe[d];
        ys->dims[d + 2] = out[d];
    }
    return STATUS_OK;
}

typedef struct pool_job {
    const pool_state *s;
    const pool_kernels *k;
    const pool_geom *g;
    const void *x;
    void *y;
    int64_t *idx;
} pool_job;

static void pool_chunk(void *arg, int64_t q0, int64_t q1) {
    const pool_job *j = arg;
    switch (j->s->kind) {
    case POOL_MAX: j->k->max(j->g, j->x, j->y, j->idx, j->s->col_major, q0, q1); break;
    case POOL_AVG: j->k->avg(j->g, j->x, j->y, j->s->count_pad, q0, q1); break;
    case POOL_LP: j->k->lp(j->g, j->x, j->y, j->s->p, q0, q1); break;
    }
}

static status pool_run(const node *n, exec_ctx *x) {
    const pool_state *s = n->state;
    const engine_tensor *xt = exec_input(x, 0);
    engine_tensor *yt, *it = NULL;
    pool_geom g;
    engine_shape ys;
    if (!xt) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input X is required");
    status st = pool_geometry(x, s, xt, &g, &ys);
    if (st || (st = exec_output(x, 0, xt->dtype, &ys, &yt))) return st;
    if (s->kind == POOL_MAX && exec_output_count(x) > 1 && exec_output_wanted(x, 1) &&
        (st = exec_output(x, 1, ENGINE_INT64, &ys, &it)))
        return st;
    engine_dtype ct = compute_type(xt->dtype);
    pool_job j = {.s = s, .k = pool_kernels_for(ct), .g = &g, .x = xt->data, .y = yt->data,
                  .idx = it ? it->data : NULL};
    if (ct != xt->dtype) {
        j.x = fview_input(x, xt);
        j.y = fview_output(x, yt);
        if (!j.x || !j.y) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    }
    if (engine_shape_numel(&ys) > 0) exec_parallel_for(x, g.planes, pool_chunk, &j);
    if (ct != xt->dtype) fview_commit(yt, j.y);
    return STATUS_OK;
}

/* --- MaxUnpool ------------------------------------------------------------ */

static status unpool_prepare(graph *g, node *n, errinfo *err) {
    pool_state *s = calloc(1, sizeof *s);
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    status st = window_attrs_parse(n, 1, &s->win, err);
    if (st) {
        free(s);
        return st;
    }
    if (node_input_dtype(g, n, 1) != ENGINE_INT64) {
        free(s);
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "input I must be int64");
    }
    n->state = s;
    return op_prepare_same_type(g, n, err);
}

static status unpool_run(const node *n, exec_ctx *x) {
    const pool_state *s = n->state;
    const engine_tensor *xt = exec_input(x, 0), *it = exec_input(x, 1), *os = exec_input(x, 2);
    engine_tensor *yt;
    engine_shape ys;
    char b1[128], b2[128];
    if (!xt || !it) return exec_fail(x, STATUS_INVALID_ARGUMENT, "inputs X and I are required");
    if (!shape_equal(&xt->shape, &it->shape))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "I %s must have the shape of X %s",
                         shape_format(&it->shape, b1, sizeof b1),
                         shape_format(&xt->shape, b2, sizeof b2));
    int nsp = xt->shape.rank - 2;
    if (window_check_rank(&s->win, nsp, b1, sizeof b1))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "%s", b1);
    /* Indices address the natural output shape; an output_shape input only
     * pads it at the end of each spatial axis. */
    engine_shape nat = xt->shape;
    for (int d = 0; d < nsp; d++) {
        int64_t st = s->win.has_strides ? s->win.strides[d] : 1;
        int64_t pads = s->win.has_pads ? s->win.pads[d] + s->win.pads[d + nsp] : 0;
        nat.dims[d + 2] = (xt->shape.dims[d + 2] - 1) * st + s->win.kernel[d] - pads;
        if (nat.dims[d + 2] < 0)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "pads exceed the output on axis %d", d);
    }
    ys = nat;
    if (os) {
        if (os->dtype != ENGINE_INT64 || os->shape.rank != 1 || os->shape.dims[0] != xt->shape.rank)
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "output_shape must be an int64 vector of %d values", xt->shape.rank);
        memcpy(ys.dims, os->data, sizeof(int64_t) * (size_t)ys.rank);
        for (int d = 0; d < ys.rank; d++)
            if (ys.dims[d] < nat.dims[d])
                return exec_fail(x, STATUS_INVALID_ARGUMENT,
                                 "output_shape %s is smaller than the unpooled shape %s",
                                 shape_format(&ys, b1, sizeof b1),
                                 shape_format(&nat, b2, sizeof b2));
    }
    status st = exec_output(x, 0, xt->dtype, &ys, &yt);
    if (st) return st;
    size_t es = engine_dtype_size(xt->dtype);
    int64_t ny = engine_shape_numel(&ys), nx = engine_shape_numel(&xt->shape);
    int64_t nn = engine_shape_numel(&nat);
    const int64_t *idx = it->data;
    memset(yt->data, 0, (size_t)ny * es);
    for (int64_t i = 0; i < nx; i++) {
        if (idx[i] < 0 || idx[i] >= nn)
            return exec_fail(x, STATUS_INVALID_ARGUMENT,
                             "index %lld at position %lld is outside the output of %lld values",
                             (long long)idx[i], (long long)i, (long long)nn);
        int64_t rest = idx[i], off = 0, mul = 1;
        for (int d = ys.rank - 1; d >= 0; d--) { /* natural coordinates -> output offset */
            off += rest % nat.dims[d] * mul;
            rest /= nat.dims[d];
            mul *= ys.dims[d];
        }
        memcpy((char *)yt->data + off * (int64_t)es, (const char *)xt->data + i * (int64_t)es, es);
    }
    return STATUS_OK;
}

const op_desc op_family_pool[] = {
    {.type = "MaxPool", .since = 1, .prepare = maxpool_prepare, .run = pool_run},
    {.type = "AveragePool", .since = 1, .prepare = avgpool_prepare, .run = pool_run},
    {.type = "LpPool", .since = 1, .prepare = lppool_prepare, .run = pool_run},
    {.type = "GlobalMaxPool", .since = 1, .prepare = gmaxpool_prepare, .run = pool_run},
    {.type = "GlobalAveragePool", .since = 1, .prepare = gavgpool_prepare, .run = pool_run},
    {.type = "GlobalLpPool", .since = 1, .prepare = glppool_prepare, .run = pool_run},
    {.type = "MaxUnpool", .since = 9, .prepare = unpool_prepare, .run = unpool_run},
    {0},
};
