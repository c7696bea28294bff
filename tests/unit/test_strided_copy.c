/* test_strided_copy.c -- the strided copy kernel's fast paths (row memcpy,
 * broadcast fill, blocked transpose, strided gather) against the
 * element-by-element reference, over random views of every element size,
 * run whole and split into work units as threads would. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kernels/strided_copy.h"

/* big enough for every view below at 8 bytes per element */
#define SRC_BYTES (4 << 20)

static int failures;
static unsigned rng_state = 12345;

static unsigned rnd(unsigned n) {
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) % n;
}

/* Copies the view with the plan in `parts` unit ranges and compares. */
static void check(const char *what, size_t es, int rank, const int64_t *dims,
                  const int64_t *strides, const unsigned char *src, int parts) {
    int64_t numel = 1;
    for (int i = 0; i < rank; i++) numel *= dims[i];
    size_t bytes = (size_t)(numel ? numel : 1) * es;
    unsigned char *want = malloc(bytes), *got = malloc(bytes);
    if (!want || !got) {
        printf("out of memory\n");
        exit(1);
    }
    memset(got, 0xAB, bytes);
    strided_copy_reference(es, rank, dims, strides, src, want);
    strided_plan p;
    strided_plan_init(&p, es, rank, dims, strides);
    int64_t units = strided_plan_units(&p);
    for (int k = 0; k < parts; k++)
        strided_plan_run(&p, src, got, units * k / parts, units * (k + 1) / parts);
    if (numel && memcmp(want, got, (size_t)numel * es) != 0 && failures++ < 10) {
        printf("%s: mismatch (esize %zu, rank %d, dims", what, es, rank);
        for (int i = 0; i < rank; i++) printf(" %lld/%lld", (long long)dims[i], (long long)strides[i]);
        printf(", %d parts)\n", parts);
    }
    free(want);
    free(got);
}

/* A random permutation of a random dense tensor (Transpose). */
static void random_transpose(const unsigned char *src, size_t es) {
    int rank = 1 + (int)rnd(6);
    int64_t shape[8], st[8], dims[8], strides[8];
    int perm[8];
    for (int i = 0; i < rank; i++) {
        shape[i] = 1 + rnd(i == rank - 1 ? 40 : 6); /* <= 6^5 * 40 elements */
        perm[i] = i;
    }
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        st[i] = s;
        s *= shape[i];
    }
    for (int i = rank - 1; i > 0; i--) {
        int j = (int)rnd((unsigned)i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int i = 0; i < rank; i++) {
        dims[i] = shape[perm[i]];
        strides[i] = st[perm[i]];
    }
    check("transpose", es, rank, dims, strides, src, 1 + (int)rnd(4));
}

/* A random slice with steps, or broadcast (stride 0) view. */
static void random_view(const unsigned char *src, size_t es) {
    int rank = 1 + (int)rnd(5);
    int64_t dims[8], strides[8], span = 1;
    for (int i = rank - 1; i >= 0; i--) {
        dims[i] = rnd(7);
        int kind = (int)rnd(4);
        strides[i] = kind == 0 ? 0 : kind == 1 ? span : span * (1 + rnd(3));
        span *= 3 * (dims[i] ? dims[i] : 1);
        if (span > 4000) span = 4000 / (dims[i] ? dims[i] : 1);
    }
    /* keep every addressed element inside the source */
    int64_t max = 0;
    for (int i = 0; i < rank; i++) max += (dims[i] ? dims[i] - 1 : 0) * strides[i];
    if (max >= SRC_BYTES / 8) return;
    check("view", es, rank, dims, strides, src, 1 + (int)rnd(3));
}

int main(void) {
    unsigned char *src = malloc(SRC_BYTES);
    if (!src) return 1;
    for (int i = 0; i < SRC_BYTES; i++) src[i] = (unsigned char)rnd(256);
    static const size_t sizes[] = {1, 2, 4, 8, 3};
    for (int iter = 0; iter < 1500; iter++) {
        size_t es = sizes[iter % 5];
        random_transpose(src, es);
        random_view(src, es);
    }
    /* the big 2-D transpose and the BERT (0, 2, 1, 3) case */
    int64_t d2[2] = {300, 517}, s2[2] = {1, 300};
    check("2d transpose", 4, 2, d2, s2, src, 2);
    int64_t d4[4] = {2, 12, 16, 64}, s4[4] = {16 * 12 * 64, 64, 12 * 64, 1};
    check("bert transpose", 4, 4, d4, s4, src, 3);
    /* destination rows 4 KiB apart: the smaller tile for aliased cache sets */
    int64_t da[2] = {67, 1024}, sa[2] = {1, 67};
    check("aliased transpose", 4, 2, da, sa, src, 2);
    int64_t d0[1] = {0}, s0[1] = {1};
    check("empty", 4, 1, d0, s0, src, 1);
    check("scalar", 8, 0, d0, s0, src, 1);
    free(src);
    if (failures) printf("%d failures\n", failures);
    else printf("strided copy: all views match the reference\n");
    return failures != 0;
}
