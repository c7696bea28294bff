/* strided_copy.c -- strided view -> dense copy, with a blocked transpose. */
#include "strided_copy.h"

#include <string.h>

/* Rows of the blocked transpose's tile: a tile's destination rows are
 * written a little at a time, so they must stay cached together. 16 lines
 * fit L1 unless the row stride is a multiple of 4 KiB: then they all fall
 * in one cache set, which holds 8 ways. */
#define TBLOCK 16
#define TBLOCK_ALIASED 8

void strided_plan_init(strided_plan *p, size_t esize, int rank, const int64_t *dims,
                       const int64_t *strides) {
    memset(p, 0, sizeof *p);
    p->esize = esize;
    p->tdim = -1;
    p->tblocks = 1;
    int64_t numel = 1;
    for (int i = 0; i < rank; i++) numel *= dims[i];
    p->numel = numel;
    if (numel == 0) {
        p->rank = 1;
        return;
    }
    /* Unit dims never move the source pointer; drop them. Then merge a dim
     * into its left neighbour when stepping the left one equals running
     * through the right one (the destination is dense, so that is always
     * contiguous there). */
    int r = 0;
    for (int i = 0; i < rank; i++) {
        if (dims[i] == 1) continue;
        if (r > 0 && p->strides[r - 1] == strides[i] * dims[i]) {
            p->dims[r - 1] *= dims[i];
            p->strides[r - 1] = strides[i];
            continue;
        }
        p->dims[r] = dims[i];
        p->strides[r] = strides[i];
        r++;
    }
    if (r == 0) {
        p->dims[0] = 1;
        p->strides[0] = 1;
        r = 1;
    }
    p->rank = r;
    int64_t st = 1;
    for (int i = r - 1; i >= 0; i--) {
        p->dst_strides[i] = st;
        st *= p->dims[i];
    }
    /* A transpose: the innermost destination dim walks the source with a
     * large stride while another dim is the contiguous one. */
    if (r >= 2 && p->strides[r - 1] != 1 && p->strides[r - 1] != 0) {
        for (int k = 0; k < r - 1; k++) {
            if (p->strides[k] == 1) {
                p->tdim = k;
                p->tblock = (p->dst_strides[k] * (int64_t)esize) % 4096 ? TBLOCK : TBLOCK_ALIASED;
                p->tblocks = (p->dims[k] + p->tblock - 1) / p->tblock;
                break;
            }
        }
    }
}

int64_t strided_plan_units(const strided_plan *p) {
    if (p->numel == 0) return 0;
    int64_t rows = p->numel / p->dims[p->rank - 1];
    if (p->tdim < 0) return rows;
    return rows / p->dims[p->tdim] * p->tblocks;
}

int64_t strided_plan_unit_bytes(const strided_plan *p) {
    int64_t units = strided_plan_units(p);
    return units ? p->numel * (int64_t)p->esize / units : 0;
}

/* One destination row of n elements from a source walked with stride s. */
#define ROW_GATHER(T)                                                          \
    do {                                                                       \
        const T *restrict sp = src;                                           \
        T *restrict dp = dst;                                                 \
        if (s == 0) {                                                          \
            T v = sp[0];                                                       \
            for (int64_t j = 0; j < n; j++) dp[j] = v;                         \
        } else {                                                               \
            for (int64_t j = 0; j < n; j++) dp[j] = sp[j * s];                 \
        }                                                                      \
    } while (0)

static void copy_row(size_t esize, const void *src, void *dst, int64_t n, int64_t s) {
    if (s == 1) {
        memcpy(dst, src, (size_t)n * esize);
        return;
    }
    switch (esize) {
    case 1: ROW_GATHER(uint8_t); break;
    case 2: ROW_GATHER(uint16_t); break;
    case 4: ROW_GATHER(uint32_t); break;
    case 8: ROW_GATHER(uint64_t); break;
    default:
        for (int64_t j = 0; j < n; j++)
            memcpy((char *)dst + (size_t)j * esize, (const char *)src + (size_t)(j * s) * esize,
                   esize);
    }
}

static void run_rows(const strided_plan *p, const char *src, char *dst, int64_t begin,
                     int64_t end) {
    int r = p->rank;
    int64_t n = p->dims[r - 1], s = p->strides[r - 1];
    int64_t idx[STRIDED_MAX_RANK] = {0};
    int64_t off = 0, rem = begin;
    for (int i = r - 2; i >= 0; i--) {
        idx[i] = rem % p->dims[i];
        rem /= p->dims[i];
        off += idx[i] * p->strides[i];
    }
    for (int64_t u = begin; u < end; u++) {
        copy_row(p->esize, src + (size_t)off * p->esize, dst + (size_t)(u * n) * p->esize, n, s);
        for (int i = r - 2; i >= 0; i--) { /* odometer step */
            off += p->strides[i];
            if (++idx[i] < p->dims[i]) break;
            off -= idx[i] * p->strides[i];
            idx[i] = 0;
        }
    }
}

/* dst[a * dst_lda + b] = src[a + b * src_ldb] for a < na, b < nb. */
#define TILE_T(T)                                                              \
    do {                                                                       \
        const T *restrict sp = src;                                           \
        T *restrict dp = dst;                                                 \
        for (int64_t b0 = 0; b0 < nb; b0 += TBLOCK) {                          \
            int64_t b1 = b0 + TBLOCK < nb ? b0 + TBLOCK : nb;                  \
            for (int64_t a = 0; a < na; a++)                                   \
                for (int64_t b = b0; b < b1; b++)                              \
                    dp[a * dst_lda + b] = sp[a + b * src_ldb];                 \
        }                                                                      \
    } while (0)

/* 4-byte elements, 4 x 4 at a time: four 16-byte loads along a, a register
 * transpose with vector shuffles (gcc >= 12 and clang; SSE2 on any x86-64),
 * four 16-byte stores along b. Ragged edges go element by element. */
typedef uint32_t v4u32 __attribute__((vector_size(16)));

static void tile_t32(const uint32_t *sp, uint32_t *dp, int64_t na, int64_t nb, int64_t src_ldb,
                     int64_t dst_lda) {
    int64_t a4 = na & ~(int64_t)3, b4 = nb & ~(int64_t)3;
    for (int64_t b = 0; b < b4; b += 4) {
        for (int64_t a = 0; a < a4; a += 4) {
            v4u32 r0, r1, r2, r3;
            memcpy(&r0, sp + a + (b + 0) * src_ldb, 16);
            memcpy(&r1, sp + a + (b + 1) * src_ldb, 16);
            memcpy(&r2, sp + a + (b + 2) * src_ldb, 16);
            memcpy(&r3, sp + a + (b + 3) * src_ldb, 16);
            v4u32 t0 = __builtin_shufflevector(r0, r1, 0, 4, 1, 5);
            v4u32 t1 = __builtin_shufflevector(r0, r1, 2, 6, 3, 7);
            v4u32 t2 = __builtin_shufflevector(r2, r3, 0, 4, 1, 5);
            v4u32 t3 = __builtin_shufflevector(r2, r3, 2, 6, 3, 7);
            v4u32 w0 = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
            v4u32 w1 = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
            v4u32 w2 = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
            v4u32 w3 = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
            memcpy(dp + (a + 0) * dst_lda + b, &w0, 16);
            memcpy(dp + (a + 1) * dst_lda + b, &w1, 16);
            memcpy(dp + (a + 2) * dst_lda + b, &w2, 16);
            memcpy(dp + (a + 3) * dst_lda + b, &w3, 16);
        }
        for (int64_t a = a4; a < na; a++)
            for (int64_t k = b; k < b + 4; k++) dp[a * dst_lda + k] = sp[a + k * src_ldb];
    }
    for (int64_t a = 0; a < na; a++)
        for (int64_t k = b4; k < nb; k++) dp[a * dst_lda + k] = sp[a + k * src_ldb];
}

static void transpose_tile(size_t esize, const void *src, void *dst, int64_t na, int64_t nb,
                           int64_t src_ldb, int64_t dst_lda) {
    switch (esize) {
    case 1: TILE_T(uint8_t); break;
    case 2: TILE_T(uint16_t); break;
    case 4: tile_t32(src, dst, na, nb, src_ldb, dst_lda); break;
    case 8: TILE_T(uint64_t); break;
    default:
        for (int64_t a = 0; a < na; a++)
            for (int64_t b = 0; b < nb; b++)
                memcpy((char *)dst + (size_t)(a * dst_lda + b) * esize,
                       (const char *)src + (size_t)(a + b * src_ldb) * esize, esize);
    }
}

static void run_tiles(const strided_plan *p, const char *src, char *dst, int64_t begin,
                      int64_t end) {
    int r = p->rank, t = p->tdim;
    int64_t nb = p->dims[r - 1];
    for (int64_t u = begin; u < end; u++) {
        int64_t blk = u % p->tblocks, rem = u / p->tblocks;
        int64_t soff = 0, doff = 0;
        for (int i = r - 2; i >= 0; i--) {
            if (i == t) continue;
            int64_t k = rem % p->dims[i];
            rem /= p->dims[i];
            soff += k * p->strides[i];
            doff += k * p->dst_strides[i];
        }
        int64_t a0 = blk * p->tblock;
        int64_t na = p->dims[t] - a0 < p->tblock ? p->dims[t] - a0 : p->tblock;
        soff += a0; /* strides[t] == 1 */
        doff += a0 * p->dst_strides[t];
        transpose_tile(p->esize, src + (size_t)soff * p->esize, dst + (size_t)doff * p->esize,
                       na, nb, p->strides[r - 1], p->dst_strides[t]);
    }
}

void strided_plan_run(const strided_plan *p, const void *src, void *dst, int64_t begin,
                      int64_t end) {
    if (p->numel == 0 || begin >= end) return;
    if (p->tdim >= 0) run_tiles(p, src, dst, begin, end);
    else run_rows(p, src, dst, begin, end);
}

void strided_copy_reference(size_t esize, int rank, const int64_t *dims,
                            const int64_t *strides, const void *src, void *dst) {
    int64_t numel = 1;
    for (int i = 0; i < rank; i++) numel *= dims[i];
    int64_t idx[STRIDED_MAX_RANK] = {0};
    for (int64_t e = 0; e < numel; e++) {
        int64_t rem = e, off = 0;
        for (int i = rank - 1; i >= 0; i--) {
            idx[i] = rem % dims[i];
            rem /= dims[i];
            off += idx[i] * strides[i];
        }
        memcpy((char *)dst + (size_t)e * esize, (const char *)src + (size_t)off * esize, esize);
    }
}
