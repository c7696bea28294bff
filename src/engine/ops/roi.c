/* roi.c -- region-of-interest pooling for detectors: RoiAlign (opsets 10 and
 * 16) and MaxRoiPool.
 *
 * RoiAlign samples each output bin on a regular grid with bilinear
 * interpolation, as ONNX Runtime does (including its "max" mode, which takes
 * the largest weighted corner value). MaxRoiPool is Caffe's: ROI corners
 * rounded to the feature map, bins of fractional size, max over each bin.
 * Both compute in fp32; ROIs are spread over threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../dtype.h"
#include "../op.h"
#include "../shape.h"
#include "fview.h"

#define ROI_MAX_GRID 1024

typedef struct roi_state {
    int64_t oh, ow;
    int64_t sampling;
    float scale;
    int max_mode;
    int half_pixel;
} roi_state;

static status roi_prepare_any(graph *g, node *n, errinfo *err, int align) {
    status st = op_prepare_same_float(g, n, err);
    if (st) return st;
    roi_state *s = calloc(1, sizeof *s);
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    s->scale = node_attr_float(n, "spatial_scale", 1.0f);
    if (align) {
        s->oh = node_attr_int(n, "output_height", 1);
        s->ow = node_attr_int(n, "output_width", 1);
        s->sampling = node_attr_int(n, "sampling_ratio", 0);
        const char *mode = node_attr_string(n, "mode", "avg");
        const char *ctm = node_attr_string(n, "coordinate_transformation_mode",
                                           n->opset >= 16 ? "half_pixel" : "output_half_pixel");
        s->max_mode = strcmp(mode, "max") == 0;
        s->half_pixel = strcmp(ctm, "half_pixel") == 0;
        if ((!s->max_mode && strcmp(mode, "avg") != 0) ||
            (!s->half_pixel && strcmp(ctm, "output_half_pixel") != 0)) {
            free(s);
            return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                                   "mode '%s' / coordinate_transformation_mode '%s' unknown",
                                   mode, ctm);
        }
    } else {
        const int64_t *ps;
        if (node_attr_ints(n, "pooled_shape", &ps) != 2) {
            free(s);
            return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "pooled_shape must have 2 values");
        }
        s->oh = ps[0], s->ow = ps[1];
    }
    if (s->oh < 1 || s->ow < 1 || s->sampling < 0) {
        free(s);
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "output size must be >= 1");
    }
    n->state = s;
    return STATUS_OK;
}

static status roialign_prepare(graph *g, node *n, errinfo *err) {
    return roi_prepare_any(g, n, err, 1);
}
static status maxroipool_prepare(graph *g, node *n, errinfo *err) {
    return roi_prepare_any(g, n, err, 0);
}

typedef struct roi_job {
    const roi_state *s;
    const float *x, *rois;
    const int64_t *batch;    /* RoiAlign: batch index per ROI; NULL for MaxRoiPool */
    float *y;
    int64_t c, h, w;
} roi_job;

/* Bilinear sample of plane p at (y, x), or its weighted corners for max. */
static float sample(const roi_job *j, const float *p, float y, float x, int max_mode) {
    if (y < -1.0f || y > (float)j->h || x < -1.0f || x > (float)j->w) return 0.0f;
    if (y <= 0) y = 0;
    if (x <= 0) x = 0;
    int64_t y0 = (int64_t)y, x0 = (int64_t)x, y1, x1;
    if (y0 >= j->h - 1) y1 = y0 = j->h - 1, y = (float)y0;
    else y1 = y0 + 1;
    if (x0 >= j->w - 1) x1 = x0 = j->w - 1, x = (float)x0;
    else x1 = x0 + 1;
    float ly = y - (float)y0, lx = x - (float)x0, hy = 1 - ly, hx = 1 - lx;
    float v1 = hy * hx * p[y0 * j->w + x0], v2 = hy * lx * p[y0 * j->w + x1];
    float v3 = ly * hx * p[y1 * j->w + x0], v4 = ly * lx * p[y1 * j->w + x1];
    if (!max_mode) return v1 + v2 + v3 + v4;
    float m = v1 > v2 ? v1 : v2;
    m = m > v3 ? m : v3;
    return m > v4 ? m : v4;
}

static void roialign_chunk(void *arg, int64_t r0, int64_t r1) {
    const roi_job *j = arg;
    const roi_state *s = j->s;
    const float off = s->half_pixel ? 0.5f : 0.0f;
    for (int64_t r = r0; r < r1; r++) {
        const float *roi = j->rois + r * 4;
        float sw = roi[0] * s->scale - off, sh = roi[1] * s->scale - off;
        float rw = roi[2] * s->scale - off - sw, rh = roi[3] * s->scale - off - sh;
        if (!s->half_pixel) {
            rw = rw > 1 ? rw : 1;
            rh = rh > 1 ? rh : 1;
        }
        float bh = rh / (float)s->oh, bw = rw / (float)s->ow;
        int64_t gh = s->sampling > 0 ? s->sampling : (int64_t)ceilf(rh / (float)s->oh);
        int64_t gw = s->sampling > 0 ? s->sampling : (int64_t)ceilf(rw / (float)s->ow);
        /* Cap the adaptive grid so an absurd ROI cannot stall the server;
         * real ROIs (bins up to 1024 feature cells) are unaffected. */
        gh = gh < 0 ? 0 : gh > ROI_MAX_GRID ? ROI_MAX_GRID : gh;
        gw = gw < 0 ? 0 : gw > ROI_MAX_GRID ? ROI_MAX_GRID : gw;
        float count = (float)(gh * gw > 1 ? gh * gw : 1);
        for (int64_t c = 0; c < j->c; c++) {
            const float *p = j->x + (j->batch[r] * j->c + c) * j->h * j->w;
            float *yo = j->y + (r * j->c + c) * s->oh * s->ow;
            for (int64_t ph = 0; ph < s->oh; ph++)
                for (int64_t pw = 0; pw < s->ow; pw++) {
                    float acc = 0;
                    int first = 1;
                    for (int64_t iy = 0; iy < gh; iy++) {
                        float yy = sh + (float)ph * bh + ((float)iy + 0.5f) * bh / (float)gh;
                        for (int64_t ix = 0; ix < gw; ix++) {
                            float xx = sw + (float)pw * bw + ((float)ix + 0.5f) * bw / (float)gw;
                            float v = sample(j, p, yy, xx, s->max_mode);
                            if (!s->max_mode) acc += v;
                            else if (first || v > acc) acc = v;
                            first = 0;
                        }
                    }
                    yo[ph * s->ow + pw] = s->max_mode ? acc : acc / count;
                }
        }
    }
}

static void maxroipool_chunk(void *arg, int64_t r0, int64_t r1) {
    const roi_job *j = arg;
    const roi_state *s = j->s;
    for (int64_t r = r0; r < r1; r++) {
        const float *roi = j->rois + r * 5;
        int64_t b = (int64_t)roi[0];
        int64_t x1 = (int64_t)roundf(roi[1] * s->scale), y1 = (int64_t)roundf(roi[2] * s->scale);
        int64_t x2 = (int64_t)roundf(roi[3] * s->scale), y2 = (int64_t)roundf(roi[4] * s->scale);
        int64_t rh = y2 - y1 + 1 > 1 ? y2 - y1 + 1 : 1, rw = x2 - x1 + 1 > 1 ? x2 - x1 + 1 : 1;
        float bh = (float)rh / (float)s->oh, bw = (float)rw / (float)s->ow;
        for (int64_t c = 0; c < j->c; c++) {
            const float *p = j->x + (b * j->c + c) * j->h * j->w;
            float *yo = j->y + (r * j->c + c) * s->oh * s->ow;
            for (int64_t ph = 0; ph < s->oh; ph++)
                for (int64_t pw = 0; pw < s->ow; pw++) {
                    int64_t hs = (int64_t)floorf((float)ph * bh) + y1;
                    int64_t he = (int64_t)ceilf((float)(ph + 1) * bh) + y1;
                    int64_t ws = (int64_t)floorf((float)pw * bw) + x1;
                    int64_t we = (int64_t)ceilf((float)(pw + 1) * bw) + x1;
                    hs = hs < 0 ? 0 : hs > j->h ? j->h : hs;
                    he = he < 0 ? 0 : he > j->h ? j->h : he;
                    ws = ws < 0 ? 0 : ws > j->w ? j->w : ws;
                    we = we < 0 ? 0 : we > j->w ? j->w : we;
                    float m = he <= hs || we <= ws ? 0.0f : -INFINITY;
                    for (int64_t h = hs; h < he; h++)
                        for (int64_t w = ws; w < we; w++)
                            m = p[h * j->w + w] > m ? p[h * j->w + w] : m;
                    yo[ph * s->ow + pw] = m;
                }
        }
    }
}

static status roi_run(const node *n, exec_ctx *x) {
    const roi_state *s = n->state;
    int align = strcmp(n->op_type, "RoiAlign") == 0;
    const engine_tensor *xt = exec_input(x, 0), *rt = exec_input(x, 1);
    const engine_tensor *bt = align ? exec_input(x, 2) : NULL;
    char b1[128];
    int64_t per = align ? 4 : 5;
    if (!xt || !rt || (align && !bt))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "missing a required input");
    if (xt->shape.rank != 4 || rt->shape.rank != 2 || rt->shape.dims[1] != per)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "X must be [N,C,H,W] and rois [R,%lld], got %s",
                         (long long)per, shape_format(&rt->shape, b1, sizeof b1));
    int64_t nr = rt->shape.dims[0], nb = xt->shape.dims[0];
    if (align && (bt->dtype != ENGINE_INT64 || engine_shape_numel(&bt->shape) != nr))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "batch_indices must be %lld int64 values",
                         (long long)nr);
    roi_job j = {.s = s, .x = fview_input(x, xt), .rois = fview_input(x, rt),
                 .batch = align ? bt->data : NULL, .c = xt->shape.dims[1],
                 .h = xt->shape.dims[2], .w = xt->shape.dims[3]};
    if (!j.x || !j.rois) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    /* Every ROI must name an image and have finite corners of a sane size
     * (casts of NaN or huge floats are undefined; huge grids never end). */
    for (int64_t r = 0; r < nr; r++) {
        const float *roi = j.rois + r * per;
        for (int64_t k = 0; k < per; k++)
            if (!(fabsf(roi[k] * s->scale) < 1e7f) || !(fabsf(roi[k]) < 1e7f))
                return exec_fail(x, STATUS_INVALID_ARGUMENT,
                                 "ROI %lld has a non-finite or huge coordinate", (long long)r);
        int64_t b = align ? j.batch[r] : (int64_t)roi[0];
        if (b < 0 || b >= nb)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "ROI %lld refers to image %lld of %lld",
                             (long long)r, (long long)b, (long long)nb);
    }
    engine_shape ys = {.rank = 4, .dims = {nr, j.c, s->oh, s->ow}};
    engine_tensor *yt;
    status st = exec_output(x, 0, xt->dtype, &ys, &yt);
    if (st) return st;
    if (!(j.y = fview_output(x, yt))) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    if (j.h > 0 && j.w > 0) exec_parallel_for(x, nr, align ? roialign_chunk : maxroipool_chunk, &j);
    else memset(j.y, 0, (size_t)engine_shape_numel(&ys) * sizeof(float));
    fview_commit(yt, j.y);
    return STATUS_OK;
}

const op_desc op_family_roi[] = {
    {.type = "RoiAlign", .since = 10, .prepare = roialign_prepare, .run = roi_run},
    {.type = "MaxRoiPool", .since = 1, .prepare = maxroipool_prepare, .run = roi_run},
    {0},
};
