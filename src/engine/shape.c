/* shape.c -- broadcasting, strides and axis helpers. */
#include "shape.h"

#include <stdio.h>

int64_t engine_shape_numel(const engine_shape *s) {
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++) {
        int64_t d = s->dims[i];
        if (d < 0) return -1;
        if (d != 0 && n > INT64_MAX / d) return -1;
        n *= d;
    }
    return n;
}

int shape_broadcast(const engine_shape *a, const engine_shape *b, engine_shape *out) {
    int rank = a->rank > b->rank ? a->rank : b->rank;
    if (rank > ENGINE_MAX_RANK) return -1;
    engine_shape r = {.rank = rank};
    for (int i = 0; i < rank; i++) {
        int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1;
        int64_t db = ib >= 0 ? b->dims[ib] : 1;
        if (da == db || db == 1) r.dims[i] = da;
        else if (da == 1) r.dims[i] = db;
        else return -1;
    }
    *out = r;
    return 0;
}

void shape_strides(const engine_shape *s, int64_t *strides) {
    int64_t st = 1;
    for (int i = s->rank - 1; i >= 0; i--) {
        strides[i] = st;
        st *= s->dims[i];
    }
}

void shape_broadcast_strides(const engine_shape *in, const engine_shape *out,
                             int64_t *strides) {
    int64_t own[ENGINE_MAX_RANK];
    shape_strides(in, own);
    int off = out->rank - in->rank;
    for (int i = 0; i < out->rank; i++) {
        int j = i - off;
        strides[i] = (j < 0 || in->dims[j] == 1) ? 0 : own[j];
    }
}

int shape_normalize_axis(int64_t axis, int rank) {
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) return -1;
    return (int)axis;
}

int shape_equal(const engine_shape *a, const engine_shape *b) {
    if (a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

const char *shape_format(const engine_shape *s, char *buf, size_t len) {
    size_t used = 0;
    if (len == 0) return buf;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < s->rank && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%lld", i ? "," : "",
                                 (long long)s->dims[i]);
    if (used < len) snprintf(buf + used, len - used, "]");
    return buf;
}

int64_t shape_span(const engine_shape *s, int from, int to) {
    int64_t n = 1;
    for (int i = from; i < to; i++) n *= s->dims[i];
    return n;
}
