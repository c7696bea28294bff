/* detection.c -- NonMaxSuppression, the post-processing step of object
 * detectors.
 *
 * Per (batch, class): keep the boxes scoring above score_threshold, visit
 * them by descending score (ties: lower box index first, as ONNX Runtime
 * does) and select a box unless it overlaps an already selected one by an
 * IoU above iou_threshold, until max_output_boxes_per_class are selected.
 * The number of selected boxes is known only at the end, so the result is
 * gathered in scratch and the output allocated last. */
#include <math.h>
#include <string.h>

#include "../dtype.h"
#include "tensor_util.h"

typedef struct nms_box {
    float x1, y1, x2, y2;   /* x1 <= x2, y1 <= y2 */
} nms_box;

static status nms_prepare(graph *g, node *n, errinfo *err) {
    for (int i = 0; i < 2; i++) {
        engine_dtype dt = node_input_dtype(g, n, i);
        if (dt != ENGINE_FLOAT && dt != ENGINE_UNDEFINED)
            return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "input %d has type %s, expected float32",
                                   i, engine_dtype_name(dt));
    }
    int64_t cpb = node_attr_int(n, "center_point_box", 0);
    if (cpb != 0 && cpb != 1)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "center_point_box is %lld, expected 0 or 1",
                               (long long)cpb);
    node_set_output_dtype(g, n, 0, ENGINE_INT64);
    return STATUS_OK;
}

static nms_box load_box(const float *b, int center) {
    nms_box r;
    if (center) { /* [x_center, y_center, width, height] */
        r.x1 = b[0] - b[2] / 2;
        r.x2 = b[0] + b[2] / 2;
        r.y1 = b[1] - b[3] / 2;
        r.y2 = b[1] + b[3] / 2;
    } else { /* [y1, x1, y2, x2], either corner pair */
        r.y1 = b[0] < b[2] ? b[0] : b[2];
        r.y2 = b[0] < b[2] ? b[2] : b[0];
        r.x1 = b[1] < b[3] ? b[1] : b[3];
        r.x2 = b[1] < b[3] ? b[3] : b[1];
    }
    return r;
}

static int overlaps(const nms_box *a, const nms_box *b, float threshold) {
    float ix1 = a->x1 > b->x1 ? a->x1 : b->x1, iy1 = a->y1 > b->y1 ? a->y1 : b->y1;
    float ix2 = a->x2 < b->x2 ? a->x2 : b->x2, iy2 = a->y2 < b->y2 ? a->y2 : b->y2;
    if (ix2 <= ix1 || iy2 <= iy1) return 0;
    float inter = (ix2 - ix1) * (iy2 - iy1);
    float area_a = (a->x2 - a->x1) * (a->y2 - a->y1), area_b = (b->x2 - b->x1) * (b->y2 - b->y1);
    float uni = area_a + area_b - inter;
    if (area_a <= 0 || area_b <= 0 || uni <= 0) return 0;
    return inter / uni > threshold;
}

/* Reads optional scalar input i as a double (def if absent). */
static status scalar_input(exec_ctx *x, int i, const char *what, double def, double *out) {
    const engine_tensor *t = exec_input(x, i);
    *out = def;
    if (!t || engine_shape_numel(&t->shape) == 0) return STATUS_OK;
    if (engine_shape_numel(&t->shape) != 1 || (!dtype_is_float(t->dtype) && !dtype_is_int(t->dtype)))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "%s must be a single number", what);
    *out = dtype_load_double(t->dtype, t->data, 0);
    return STATUS_OK;
}

/* Sorts candidate box indices by score, descending, ties by index. */
static void sort_by_score(int64_t *idx, int64_t *tmp, int64_t n, const float *score) {
    for (int64_t width = 1; width < n; width *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * width) {
            int64_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = score[idx[j]] > score[idx[i]] ? idx[j++] : idx[i++];
            while (i < mid) tmp[k++] = idx[i++];
            while (j < hi) tmp[k++] = idx[j++];
        }
        memcpy(idx, tmp, (size_t)n * sizeof *idx);
    }
}

static status nms_run(const node *n, exec_ctx *x) {
    const engine_tensor *boxes = exec_input(x, 0), *scores = exec_input(x, 1);
    if (!boxes || !scores) return exec_fail(x, STATUS_INVALID_ARGUMENT, "boxes or scores are missing");
    if (boxes->shape.rank != 3 || boxes->shape.dims[2] != 4 || scores->shape.rank != 3 ||
        scores->shape.dims[0] != boxes->shape.dims[0] || scores->shape.dims[2] != boxes->shape.dims[1])
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "boxes must be [batch, boxes, 4] and scores [batch, classes, boxes]");
    double max_out, iou, score_min;
    status st = scalar_input(x, 2, "max_output_boxes_per_class", 0, &max_out);
    if (!st) st = scalar_input(x, 3, "iou_threshold", 0, &iou);
    if (!st) st = scalar_input(x, 4, "score_threshold", -INFINITY, &score_min);
    if (st) return st;
    if (!(iou >= 0 && iou <= 1))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "iou_threshold is %g, expected 0..1", iou);
    int64_t B = boxes->shape.dims[0], N = boxes->shape.dims[1], C = scores->shape.dims[1];
    int64_t limit = max_out > (double)N ? N : max_out < 0 ? 0 : (int64_t)max_out;
    int center = node_attr_int(n, "center_point_box", 0) != 0;
    size_t cap = (size_t)(B * C * limit);
    int64_t *sel = exec_scratch(x, (cap ? cap : 1) * 3 * sizeof *sel);
    int64_t *cand = exec_scratch(x, (size_t)(N ? N : 1) * sizeof *cand);
    int64_t *tmp = exec_scratch(x, (size_t)(N ? N : 1) * sizeof *tmp);
    nms_box *bx = exec_scratch(x, (size_t)(N ? N : 1) * sizeof *bx);
    nms_box *kept = exec_scratch(x, (size_t)(limit ? limit : 1) * sizeof *kept);
    if (!sel || !cand || !tmp || !bx || !kept) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    int64_t total = 0;
    for (int64_t b = 0; b < B && limit > 0; b++) {
        const float *bp = (const float *)boxes->data + b * N * 4;
        for (int64_t i = 0; i < N; i++) bx[i] = load_box(bp + i * 4, center);
        for (int64_t c = 0; c < C; c++) {
            const float *sc = (const float *)scores->data + (b * C + c) * N;
            int64_t nc = 0, nk = 0;
            for (int64_t i = 0; i < N; i++)
                if (sc[i] > score_min) cand[nc++] = i;
            sort_by_score(cand, tmp, nc, sc);
            for (int64_t i = 0; i < nc && nk < limit; i++) {
                const nms_box *box = &bx[cand[i]];
                int keep = 1;
                for (int64_t k = 0; k < nk && keep; k++) keep = !overlaps(box, &kept[k], (float)iou);
                if (!keep) continue;
                kept[nk++] = *box;
                sel[total * 3] = b;
                sel[total * 3 + 1] = c;
                sel[total * 3 + 2] = cand[i];
                total++;
            }
        }
    }
    engine_shape s = {2, {total, 3}};
    engine_tensor *y;
    if ((st = exec_output(x, 0, ENGINE_INT64, &s, &y))) return st;
    if (total) memcpy(y->data, sel, (size_t)total * 3 * sizeof *sel);
    return STATUS_OK;
}

const op_desc op_family_detection[] = {
    {.type = "NonMaxSuppression", .since = 10, .prepare = nms_prepare, .run = nms_run},
    {0},
};
