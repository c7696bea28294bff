/* conv.c -- fp32 convolution drivers: im2col + GEMM tiles, depthwise, and
 * transposed convolution (GEMM + col2im).
 *
 * Forward convolution is split into units of (image, group, tile of output
 * positions). A tile's column matrix is sized to stay in L2, so im2col writes
 * it, sgemm reads it back from cache, and the epilogue touches the output
 * tile while it is still warm. When tiles are plentiful and the weights
 * small, threads claim units one at a time and run single-threaded GEMMs;
 * otherwise (batch 1, a deep layer of 7x7 positions and large weights) the
 * units run one after another: im2col split over input channels, then the
 * GEMM split over output channels, each thread reading only its rows of W.
 * These GEMMs are single-threaded: all parallelism goes through the kpar the
 * caller provides (the executor's threads). */
#include "conv.h"

#include <stdatomic.h>
#include <string.h>

#include "depthwise.h"
#include "gemm.h"
#include "im2col.h"

/* Column tile budget: a K x tile panel of this many bytes stays in L2. */
#ifndef CONV_COL_TILE_BYTES
#define CONV_COL_TILE_BYTES (512 * 1024)
#endif
#ifndef CONV_MIN_TILE
#define CONV_MIN_TILE 128
#endif
#ifndef CONV_MIN_SPLIT_TILE
#define CONV_MIN_SPLIT_TILE 48
#endif

typedef struct conv_plan {
    int64_t cg, mg;          /* input / output channels per group */
    int64_t k;               /* GEMM depth: cg * kernel size */
    int64_t isz, osz;        /* spatial sizes of input / output */
    int64_t tile, ntiles, units;
    int pointwise;           /* 1x1, stride 1, no pad: X is the column matrix */
    int depthwise;
    int slots;               /* >1: units split between threads, 1-thread GEMMs */
} conv_plan;

static void conv_plan_make(const conv_geom *g, int threads, conv_plan *p) {
    memset(p, 0, sizeof *p);
    p->cg = g->in_ch / g->group;
    p->mg = g->out_ch / g->group;
    p->k = p->cg * conv_kernel_size(g);
    p->isz = conv_in_size(g);
    p->osz = conv_out_size(g);
    p->depthwise = depthwise2d_applies(g);
    p->pointwise = 1;
    for (int d = 0; d < g->nsp; d++)
        if (g->kernel[d] != 1 || g->stride[d] != 1 || g->pad[d] != 0 || g->in[d] != g->out[d])
            p->pointwise = 0;
    /* Tiles: as wide as the L2 budget allows. */
    int64_t tile = p->k > 0 ? CONV_COL_TILE_BYTES / (p->k * (int64_t)sizeof(float)) : p->osz;
    if (tile < CONV_MIN_TILE) tile = CONV_MIN_TILE;
    if (tile > p->osz) tile = p->osz;
    if (tile < 1) tile = 1;
    int64_t ntiles = (p->osz + tile - 1) / tile, images = g->batch * g->group;
    p->slots = 1;
    if (threads > 1) {
        /* Threads take whole tiles when there are enough to share evenly
         * (a multiple of the threads), each is wide enough to keep sgemm
         * efficient, and the weights are the smaller operand, so reading
         * them on every thread costs little. Deep layers with few
         * positions and large weights split output channels instead, each
         * thread reading only its share of W. */
        int64_t nt = ntiles;
        if (images % threads != 0) {
            int64_t per = (threads + images - 1) / images;
            if (nt < per) nt = per;
            while ((images * nt) % threads && images * nt < 4 * threads) nt++;
            if (nt > p->osz) nt = p->osz > 0 ? p->osz : 1;
        }
        int64_t t = (p->osz + nt - 1) / nt;
        if (images * nt >= threads && t >= CONV_MIN_SPLIT_TILE &&
            (images >= threads || p->osz >= p->mg)) {
            p->slots = threads;
            ntiles = nt;
        }
    }
    p->tile = (p->osz + ntiles - 1) / ntiles;
    if (p->tile < 1) p->tile = 1;
    p->ntiles = (p->osz + p->tile - 1) / p->tile;
    p->units = images * p->ntiles;
}

/* Scratch slices start on cache lines. */
static size_t conv_round64(size_t n) { return (n + 63) / 64 * 64; }

int64_t conv_in_size(const conv_geom *g) {
    int64_t n = 1;
    for (int d = 0; d < g->nsp; d++) n *= g->in[d];
    return n;
}

int64_t conv_out_size(const conv_geom *g) {
    int64_t n = 1;
    for (int d = 0; d < g->nsp; d++) n *= g->out[d];
    return n;
}

int64_t conv_kernel_size(const conv_geom *g) {
    int64_t n = 1;
    for (int d = 0; d < g->nsp; d++) n *= g->kernel[d];
    return n;
}

size_t conv_f32_scratch(const conv_geom *g, int threads) {
    conv_plan p;
    conv_plan_make(g, threads, &p);
    if (p.depthwise) return (size_t)threads * conv_round64(depthwise2d_scratch(g));
    if (p.pointwise) return 0;
    return (size_t)p.slots * (size_t)p.k * (size_t)p.tile * sizeof(float);
}

typedef struct conv_job {
    const conv_geom *g;
    const conv_plan *p;
    const float *x, *w;
    const conv_post *post;
    float *y, *scratch;
    int64_t unit;            /* serial mode: the unit being unfolded */
    atomic_llong next;       /* parallel mode: the next unclaimed unit */
} conv_job;

/* Where one (image, group, tile) unit reads and writes. */
typedef struct conv_unit_view {
    const float *x;          /* the group's first input channel */
    const float *w;          /* the group's first filter */
    float *y;                /* the group's first output channel */
    int64_t ch0;             /* the group's first output channel index */
    int64_t p0, p1;          /* output positions [p0, p1) */
} conv_unit_view;

static void unit_at(const conv_job *j, int64_t u, conv_unit_view *v) {
    const conv_geom *g = j->g;
    const conv_plan *p = j->p;
    int64_t t = u % p->ntiles, ng = u / p->ntiles;
    int64_t grp = ng % g->group, n = ng / g->group;
    v->x = j->x + (n * g->in_ch + grp * p->cg) * p->isz;
    v->w = j->w + grp * p->mg * p->k;
    v->y = j->y + (n * g->out_ch + grp * p->mg) * p->osz;
    v->ch0 = grp * p->mg;
    v->p0 = t * p->tile;
    v->p1 = v->p0 + p->tile < p->osz ? v->p0 + p->tile : p->osz;
}

/* Output channels [r0, r1) of a unit: a GEMM on those rows of W against the
 * column matrix (or X itself for pointwise convolutions), then the epilogue
 * while the tile is in cache. */
static void unit_rows(const conv_job *j, const conv_unit_view *v, const float *col, int64_t r0,
                      int64_t r1) {
    const conv_plan *p = j->p;
    const float *b = p->pointwise ? v->x + v->p0 : col;
    int64_t ldb = p->pointwise ? p->isz : v->p1 - v->p0;
    gemm_f32(0, 0, r1 - r0, v->p1 - v->p0, p->k, 1.0f, v->w + r0 * p->k, p->k, b, ldb, 0.0f,
             v->y + r0 * p->osz + v->p0, p->osz, 1);
    for (int64_t m = r0; m < r1; m++)
        conv_post_apply(j->post, v->ch0 + m, v->y + m * p->osz + v->p0, v->p1 - v->p0);
}

/* Parallel mode: slot s has its own column buffer and claims units one at
 * a time, so a thread the OS delays leaves its share to the others instead
 * of holding everybody at the end-of-loop barrier. */
static void conv_slots(void *arg, int64_t s0, int64_t s1) {
    conv_job *j = arg;
    const conv_plan *p = j->p;
    for (int64_t s = s0; s < s1; s++) {
        float *col = j->scratch ? j->scratch + s * p->k * p->tile : NULL;
        for (int64_t u; (u = atomic_fetch_add(&j->next, 1)) < p->units;) {
            conv_unit_view v;
            unit_at(j, u, &v);
            if (!p->pointwise) im2col_f32(j->g, p->cg, v.x, v.p0, v.p1, col, v.p1 - v.p0);
            unit_rows(j, &v, col, 0, p->mg);
        }
    }
}

/* Serial mode, step 1: unfold input channels [c0, c1) of the current unit. */
static void conv_unfold_chunk(void *arg, int64_t c0, int64_t c1) {
    const conv_job *j = arg;
    conv_unit_view v;
    unit_at(j, j->unit, &v);
    int64_t ksz = conv_kernel_size(j->g), cols = v.p1 - v.p0;
    im2col_f32(j->g, c1 - c0, v.x + c0 * j->p->isz, v.p0, v.p1, j->scratch + c0 * ksz * cols,
               cols);
}

/* Serial mode, step 2: output channels [r0, r1) of the current unit. */
static void conv_rows_chunk(void *arg, int64_t r0, int64_t r1) {
    const conv_job *j = arg;
    conv_unit_view v;
    unit_at(j, j->unit, &v);
    unit_rows(j, &v, j->scratch, r0, r1);
}

/* Depthwise: slot s has its own scratch and claims planes one at a time. */
static void conv_depthwise_slots(void *arg, int64_t s0, int64_t s1) {
    conv_job *j = arg;
    const int64_t planes = j->g->batch * j->g->in_ch;
    const size_t per = conv_round64(depthwise2d_scratch(j->g));
    for (int64_t s = s0; s < s1; s++) {
        float *scratch = per && j->scratch ? (float *)((char *)j->scratch + s * per) : NULL;
        for (int64_t q; (q = atomic_fetch_add(&j->next, 1)) < planes;)
            depthwise2d_f32(j->g, j->x, j->w, j->post, j->y, scratch, q, q + 1);
    }
}

void conv_f32(const conv_geom *g, const float *x, const float *w, const conv_post *post,
              float *y, float *scratch, const kpar *par) {
    conv_plan p;
    int threads = kpar_threads(par);
    conv_plan_make(g, threads, &p);
    conv_job j = {.g = g, .p = &p, .x = x, .w = w, .post = post, .y = y, .scratch = scratch};
    atomic_init(&j.next, 0);
    if (p.osz == 0 || g->batch == 0 || g->out_ch == 0) return;
    if (p.depthwise) {
        kpar_for(par, threads, conv_depthwise_slots, &j);
        return;
    }
    if (p.slots > 1 || threads == 1) {
        kpar_for(par, p.slots, conv_slots, &j);
        return;
    }
    for (int64_t u = 0; u < p.units; u++) {
        j.unit = u;
        if (!p.pointwise) kpar_for(par, p.cg, conv_unfold_chunk, &j);
        kpar_for(par, p.mg, conv_rows_chunk, &j);
    }
}

/* --- transposed convolution --------------------------------------------- */

/* Units are (image, group) pairs; each needs a full column matrix. */
static int convt_slots(const conv_geom *g, int threads) {
    int64_t units = g->batch * g->group;
    return threads > 1 && units >= threads ? threads : 1;
}

size_t conv_transpose_f32_scratch(const conv_geom *g, int threads) {
    int64_t k = g->in_ch / g->group * conv_kernel_size(g);
    return (size_t)convt_slots(g, threads) * (size_t)k * (size_t)conv_out_size(g) *
           sizeof(float);
}

typedef struct convt_job {
    const conv_geom *g;
    const float *x, *w;
    const conv_post *post;
    float *y, *scratch;
    int slots, gemm_threads;
    int64_t unit;
} convt_job;

static void convt_fill_bias(const convt_job *j, int64_t n, int64_t c0, int64_t c1) {
    int64_t isz = conv_in_size(j->g);
    for (int64_t c = c0; c < c1; c++) {
        float *yc = j->y + (n * j->g->in_ch + c) * isz;
        float b = j->post && j->post->bias ? j->post->bias[c] : 0.0f;
        for (int64_t i = 0; i < isz; i++) yc[i] = b;
    }
}

/* Applies the activation (the bias went in before col2im). */
static void convt_activate(const convt_job *j, float *y, int64_t count) {
    if (!j->post || j->post->act == CONV_ACT_NONE) return;
    conv_post act = {.act = j->post->act, .lo = j->post->lo, .hi = j->post->hi};
    conv_post_apply(&act, 0, y, count);
}

/* col = W_g^T x_g for one unit: (cg_out*K) x osz. */
static void convt_gemm(const convt_job *j, int64_t u, float *col, int threads) {
    const conv_geom *g = j->g;
    int64_t grp = u % g->group, n = u / g->group;
    int64_t mg = g->out_ch / g->group, k = g->in_ch / g->group * conv_kernel_size(g);
    int64_t osz = conv_out_size(g);
    const float *xg = j->x + (n * g->out_ch + grp * mg) * osz;
    const float *wg = j->w + grp * mg * k;
    gemm_f32(1, 0, k, osz, mg, 1.0f, wg, k, xg, osz, 0.0f, col, osz, threads);
}

static void convt_slot_chunk(void *arg, int64_t s0, int64_t s1) {
    const convt_job *j = arg;
    const conv_geom *g = j->g;
    int64_t units = g->batch * g->group, cg = g->in_ch / g->group;
    int64_t k = cg * conv_kernel_size(g), isz = conv_in_size(g);
    for (int64_t s = s0; s < s1; s++) {
        float *col = j->scratch + s * k * conv_out_size(g);
        for (int64_t u = s * units / j->slots; u < (s + 1) * units / j->slots; u++) {
            int64_t grp = u % g->group, n = u / g->group;
            float *yg = j->y + (n * g->in_ch + grp * cg) * isz;
            convt_fill_bias(j, n, grp * cg, (grp + 1) * cg);
            convt_gemm(j, u, col, 1);
            col2im_f32(g, cg, col, yg);
            convt_activate(j, yg, cg * isz);
        }
    }
}

/* Serial mode: col2im and the activation for channels [c0, c1) of the unit. */
static void convt_col2im_chunk(void *arg, int64_t c0, int64_t c1) {
    const convt_job *j = arg;
    const conv_geom *g = j->g;
    int64_t grp = j->unit % g->group, n = j->unit / g->group, cg = g->in_ch / g->group;
    int64_t ksz = conv_kernel_size(g), isz = conv_in_size(g), osz = conv_out_size(g);
    float *yg = j->y + (n * g->in_ch + grp * cg) * isz;
    convt_fill_bias(j, n, grp * cg + c0, grp * cg + c1);
    col2im_f32(g, c1 - c0, j->scratch + c0 * ksz * osz, yg + c0 * isz);
    convt_activate(j, yg + c0 * isz, (c1 - c0) * isz);
}

void conv_transpose_f32(const conv_geom *g, const float *x, const float *w,
                        const conv_post *post, float *y, float *scratch, const kpar *par) {
    int threads = kpar_threads(par);
    convt_job j = {.g = g, .x = x, .w = w, .post = post, .y = y, .scratch = scratch,
                   .slots = convt_slots(g, threads)};
    if (conv_in_size(g) == 0 || g->batch == 0 || g->in_ch == 0) return;
    if (j.slots > 1 || threads == 1) {
        kpar_for(par, j.slots, convt_slot_chunk, &j);
        return;
    }
    for (int64_t u = 0; u < g->batch * g->group; u++) {
        j.unit = u;
        convt_gemm(&j, u, scratch, threads);
        kpar_for(par, g->in_ch / g->group, convt_col2im_chunk, &j);
    }
}
