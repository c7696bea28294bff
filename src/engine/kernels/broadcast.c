/* broadcast.c -- collapsing broadcast shapes and walking them by rows. */
#include "broadcast.h"

#include "../shape.h"

/* Whether dims d and d+1 can become one dim: every input either walks both
 * contiguously (stride[d] == stride[d+1] * dims[d+1]) or broadcasts both. */
static int mergeable(const bcast_plan *p, int d) {
    for (int k = 0; k < p->n_in; k++)
        if (p->strides[k][d] != p->strides[k][d + 1] * p->dims[d + 1]) return 0;
    return 1;
}

int bcast_plan_init(bcast_plan *p, const engine_shape *out,
                    const engine_shape *const *in, int n_in) {
    int64_t full[BCAST_MAX_IN][ENGINE_MAX_RANK];
    if (n_in < 1 || n_in > BCAST_MAX_IN || out->rank > ENGINE_MAX_RANK) return -1;
    for (int k = 0; k < n_in; k++) {
        const engine_shape *s = in[k];
        if (s->rank > out->rank) return -1;
        for (int j = 0; j < s->rank; j++) {
            int64_t d = s->dims[j], o = out->dims[j + out->rank - s->rank];
            if (d != 1 && d != o) return -1;
        }
        shape_broadcast_strides(s, out, full[k]);
    }
    p->n_in = n_in;
    p->numel = engine_shape_numel(out);
    if (p->numel < 0) return -1;

    /* Drop size-1 dims (they move nothing), keeping at least one dim. */
    int r = 0;
    for (int d = 0; d < out->rank; d++) {
        if (out->dims[d] == 1) continue;
        p->dims[r] = out->dims[d];
        for (int k = 0; k < n_in; k++) p->strides[k][r] = full[k][d];
        r++;
    }
    if (r == 0) {
        p->dims[0] = 1;
        for (int k = 0; k < n_in; k++) p->strides[k][0] = 0;
        r = 1;
    }
    p->rank = r;

    /* Merge from the inside out. */
    for (int d = p->rank - 2; d >= 0; d--) {
        if (!mergeable(p, d)) continue;
        p->dims[d] *= p->dims[d + 1];
        for (int k = 0; k < n_in; k++) p->strides[k][d] = p->strides[k][d + 1];
        for (int e = d + 1; e + 1 < p->rank; e++) {
            p->dims[e] = p->dims[e + 1];
            for (int k = 0; k < n_in; k++) p->strides[k][e] = p->strides[k][e + 1];
        }
        p->rank--;
    }
    return 0;
}

void bcast_walk(const bcast_plan *p, int64_t begin, int64_t end, bcast_row_fn fn, void *ctx) {
    int r = p->rank, last = r - 1;
    int64_t idx[ENGINE_MAX_RANK], off[BCAST_MAX_IN] = {0}, inner[BCAST_MAX_IN];
    int64_t rem = begin, row = p->dims[last];
    if (begin >= end) return;
    for (int d = last; d >= 0; d--) {
        idx[d] = rem % p->dims[d];
        rem /= p->dims[d];
        for (int k = 0; k < p->n_in; k++) off[k] += idx[d] * p->strides[k][d];
    }
    for (int k = 0; k < p->n_in; k++) inner[k] = p->strides[k][last];

    int64_t pos = begin;
    while (pos < end) {
        int64_t n = row - idx[last];
        if (n > end - pos) n = end - pos;
        fn(ctx, pos, off, inner, n);
        pos += n;
        if (pos >= end) break;
        /* n reached the end of the row: step to the next row, carrying. */
        for (int k = 0; k < p->n_in; k++) off[k] -= idx[last] * inner[k];
        idx[last] = 0;
        for (int d = last - 1; d >= 0; d--) {
            for (int k = 0; k < p->n_in; k++) off[k] += p->strides[k][d];
            if (++idx[d] < p->dims[d]) break;
            for (int k = 0; k < p->n_in; k++) off[k] -= idx[d] * p->strides[k][d];
            idx[d] = 0;
        }
    }
}
