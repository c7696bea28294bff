/* window.c -- parsing and resolving sliding-window attributes. */
#include "window.h"

#include <stdio.h>
#include <string.h>

#include "../op.h"

static int in_range(int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; }

/* Copies an INTS attribute of `want` values (any length when want is 0). */
static status read_ints(const node *n, const char *name, int *nsp, int per_axis,
                        int64_t *dst, int *has, errinfo *err) {
    const int64_t *v;
    int cnt = node_attr_ints(n, name, &v);
    *has = cnt > 0; /* an empty list is as good as none */
    if (cnt <= 0) return STATUS_OK;
    if (cnt % per_axis != 0 || cnt / per_axis > WINDOW_MAX_SPATIAL)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "attribute %s has %d values, expected %s1 to %d", name, cnt,
                               per_axis == 2 ? "2 x " : "", WINDOW_MAX_SPATIAL);
    if (*nsp && cnt / per_axis != *nsp)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "attribute %s has %d values, expected %d (one per spatial "
                               "axis%s)", name, cnt, *nsp * per_axis,
                               per_axis == 2 ? ", begins then ends" : "");
    *nsp = cnt / per_axis;
    memcpy(dst, v, sizeof *dst * (size_t)cnt);
    return STATUS_OK;
}

status window_attrs_parse(const node *n, int need_kernel, window_attrs *w, errinfo *err) {
    status st;
    memset(w, 0, sizeof *w);
    if ((st = read_ints(n, "kernel_shape", &w->nsp, 1, w->kernel, &w->has_kernel, err)) ||
        (st = read_ints(n, "strides", &w->nsp, 1, w->strides, &w->has_strides, err)) ||
        (st = read_ints(n, "dilations", &w->nsp, 1, w->dilations, &w->has_dilations, err)) ||
        (st = read_ints(n, "pads", &w->nsp, 2, w->pads, &w->has_pads, err)))
        return st;
    if (need_kernel && !w->has_kernel)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "attribute kernel_shape is required");
    /* Bounds keep every size product below 2^63 for any tensor that fits
     * in memory; real models are orders of magnitude inside them. */
    for (int d = 0; d < w->nsp; d++) {
        if ((w->has_kernel && !in_range(w->kernel[d], 1, WINDOW_MAX_ATTR)) ||
            (w->has_strides && !in_range(w->strides[d], 1, WINDOW_MAX_ATTR)) ||
            (w->has_dilations && !in_range(w->dilations[d], 1, WINDOW_MAX_ATTR)))
            return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                                   "kernel_shape, strides and dilations must be in [1, %lld] "
                                   "(axis %d)", (long long)WINDOW_MAX_ATTR, d);
        if (w->has_pads && (!in_range(w->pads[d], 0, WINDOW_MAX_ATTR) ||
                            !in_range(w->pads[d + w->nsp], 0, WINDOW_MAX_ATTR)))
            return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "pads must be in [0, %lld] "
                                   "(axis %d)", (long long)WINDOW_MAX_ATTR, d);
    }
    const char *ap = node_attr_string(n, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") == 0) w->auto_pad = WINDOW_PAD_NOTSET;
    else if (strcmp(ap, "SAME_UPPER") == 0) w->auto_pad = WINDOW_PAD_SAME_UPPER;
    else if (strcmp(ap, "SAME_LOWER") == 0) w->auto_pad = WINDOW_PAD_SAME_LOWER;
    else if (strcmp(ap, "VALID") == 0) w->auto_pad = WINDOW_PAD_VALID;
    else
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "auto_pad is '%s', expected NOTSET, SAME_UPPER, SAME_LOWER or VALID",
                               ap);
    int64_t cm = node_attr_int(n, "ceil_mode", 0);
    if (cm != 0 && cm != 1)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "ceil_mode is %lld, expected 0 or 1",
                               (long long)cm);
    w->ceil_mode = (int)cm;
    return STATUS_OK;
}

int window_check_rank(const window_attrs *w, int nsp, char *why, size_t len) {
    if (nsp < 1 || nsp > WINDOW_MAX_SPATIAL) {
        snprintf(why, len, "input has %d spatial axes, expected 1 to %d", nsp, WINDOW_MAX_SPATIAL);
        return -1;
    }
    if (w->nsp && w->nsp != nsp) {
        snprintf(why, len, "attributes describe %d spatial axes but the input has %d", w->nsp,
                 nsp);
        return -1;
    }
    return 0;
}

int window_resolve(const window_attrs *w, int nsp, const int64_t *in, const int64_t *kernel,
                   int64_t *out, int64_t *pad_begin, int64_t *pad_end, char *why, size_t len) {
    if (window_check_rank(w, nsp, why, len)) return -1;
    for (int d = 0; d < nsp; d++) {
        int64_t s = w->has_strides ? w->strides[d] : 1;
        int64_t dil = w->has_dilations ? w->dilations[d] : 1;
        int64_t k = kernel[d];
        if (k < 1 || k > (INT64_C(1) << 32) || dil > (INT64_C(1) << 32)) {
            snprintf(why, len, "kernel size %lld on axis %d is out of range", (long long)k, d);
            return -1;
        }
        int64_t eff = dil * (k - 1) + 1, pb = 0, pe = 0, o;
        switch (w->auto_pad) {
        case WINDOW_PAD_SAME_UPPER:
        case WINDOW_PAD_SAME_LOWER: {
            o = (in[d] + s - 1) / s;
            int64_t total = (o - 1) * s + eff - in[d];
            if (total < 0) total = 0;
            pb = w->auto_pad == WINDOW_PAD_SAME_UPPER ? total / 2 : total - total / 2;
            pe = total - pb;
            break;
        }
        case WINDOW_PAD_VALID:
            o = in[d] >= eff ? (in[d] - eff) / s + 1 : 0;
            break;
        default: {
            pb = w->has_pads ? w->pads[d] : 0;
            pe = w->has_pads ? w->pads[d + nsp] : 0;
            int64_t span = in[d] + pb + pe - eff;
            if (span < 0) {
                snprintf(why, len,
                         "window of %lld (kernel %lld, dilation %lld) does not fit input size "
                         "%lld plus pads %lld+%lld on spatial axis %d",
                         (long long)eff, (long long)k, (long long)dil, (long long)in[d],
                         (long long)pb, (long long)pe, d);
                return -1;
            }
            o = (w->ceil_mode ? (span + s - 1) / s : span / s) + 1;
            /* The last window must start inside the input or the leading pad. */
            if (w->ceil_mode && (o - 1) * s >= in[d] + pb) o--;
        }
        }
        out[d] = o;
        pad_begin[d] = pb;
        pad_end[d] = pe;
    }
    return 0;
}
