/* test_dnnl_matmul.c -- the prepacked-weight matrix product
 * (kernels/dnnl_matmul.c) against gemm_f32_reference plus a scalar
 * epilogue: both weight layouts (MatMul's [K, N], Gemm transB's [N, K]),
 * row counts 1, 3, 17 and more, K and N off the 16/64 blocking, with and
 * without bias, each activation, 1 and 2 threads; shapes repeating (the
 * primitive cache) and more distinct shapes than the cache holds; and the
 * errors a bad description gets instead of a crash. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kernels/dnnl_matmul.h"
#include "engine/kernels/gemm.h"
#include "kernel_test.h"

static int failures;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                             \
        }                                                                           \
    } while (0)

static float act_ref(dnnl_post_kind k, float v) {
    switch (k) {
    case DNNL_POST_RELU: return v > 0 ? v : 0;
    default: return v;
    }
}

/* Packed weights for w (layout per trans), or NULL with a failure counted. */
static void *pack(int64_t k, int64_t n, const float *w, int trans, size_t *bytes) {
    char why[256];
    if (dnnl_mm_packed_size(k, n, bytes, why, sizeof why)) {
        fprintf(stderr, "packed_size [%lld, %lld]: %s\n", (long long)k, (long long)n, why);
        failures++;
        return NULL;
    }
    void *p = calloc(1, *bytes);
    if (!p || dnnl_mm_pack(k, n, w, trans, p, *bytes, NULL, NULL, why, sizeof why)) {
        fprintf(stderr, "pack [%lld, %lld] trans %d: %s\n", (long long)k, (long long)n, trans,
                p ? why : "out of memory");
        failures++;
        free(p);
        return NULL;
    }
    return p;
}

/* Runs mm on m rows and compares with the reference; returns 0 on a mismatch. */
static int check_run(dnnl_mm *mm, int64_t m, int64_t k, int64_t n, const float *w, int trans,
                     const float *bias, dnnl_post_kind act, int threads) {
    float *a = malloc(sizeof(float) * (size_t)(m * k));
    float *y = malloc(sizeof(float) * (size_t)(m * n));
    float *want = malloc(sizeof(float) * (size_t)(m * n));
    scratch_list sl = {0};
    char why[256];
    int ok = 1;
    if (!a || !y || !want) abort();
    fill(a, m * k);
    gemm_f32_reference(0, trans, m, n, k, 1.0f, a, k, w, trans ? k : n, 0.0f, want, n);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            want[i * n + j] = act_ref(act, want[i * n + j] + (bias ? bias[j] : 0.0f));
    status st = dnnl_mm_run(mm, m, a, bias, y, threads, scratch, &sl, why, sizeof why);
    scratch_free(&sl);
    if (st) {
        fprintf(stderr, "run m=%lld k=%lld n=%lld: %s\n", (long long)m, (long long)k,
                (long long)n, why);
        ok = 0;
    }
    for (int64_t i = 0; ok && i < m * n; i++) {
        /* K terms of |a*w| <= 1 summed in another order, and oneDNN's own
         * erf / tanh approximations. */
        float tol = (1e-5f + 2e-6f * (float)k) * (1.0f + fabsf(want[i]));
        if (!(fabsf(y[i] - want[i]) <= tol)) {
            fprintf(stderr,
                    "m=%lld k=%lld n=%lld trans %d bias %d act %d threads %d: y[%lld] = %g, "
                    "expected %g\n",
                    (long long)m, (long long)k, (long long)n, trans, bias != NULL, (int)act,
                    threads, (long long)i, y[i], want[i]);
            ok = 0;
        }
    }
    free(a);
    free(y);
    free(want);
    return ok;
}

/* Every layout x bias x activation on one [K, N], rows 1, 3, 17, threads 1
 * and 2, each shape twice (the second run hits the cache). */
static void test_shape(int64_t k, int64_t n) {
    static const dnnl_post_kind acts[] = {0, DNNL_POST_RELU};
    static const int64_t rows[] = {1, 3, 17};
    float *w = malloc(sizeof(float) * (size_t)(k * n)), *bias = malloc(sizeof(float) * (size_t)n);
    if (!w || !bias) abort();
    fill(w, k * n);
    fill(bias, n);
    for (int trans = 0; trans < 2; trans++) {
        size_t bytes;
        void *packed = pack(k, n, w, trans, &bytes);
        if (!packed) continue;
        for (int b = 0; b < 2; b++)
            for (size_t ai = 0; ai < sizeof acts / sizeof acts[0]; ai++) {
                dnnl_mm_desc d = {.k = k, .n = n, .bias = b, .n_post = acts[ai] ? 1 : 0,
                                      .post = {{acts[ai], 0.0f, 0.0f}}};
                dnnl_mm *mm;
                char why[256];
                if (dnnl_mm_create(&d, packed, bytes, &mm, why, sizeof why)) {
                    fprintf(stderr, "create [%lld, %lld]: %s\n", (long long)k, (long long)n, why);
                    failures++;
                    continue;
                }
                for (int rep = 0; rep < 2; rep++)
                    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
                        for (int threads = 1; threads <= 2; threads++)
                            if (!check_run(mm, rows[r], k, n, w, trans, b ? bias : NULL, acts[ai],
                                           threads))
                                failures++;
                dnnl_mm_destroy(mm);
            }
        free(packed);
    }
    free(w);
    free(bias);
}

/* More distinct row counts than the cache holds: the overflow is built per
 * run and freed (ASan checks), results stay right. */
static void test_many_shapes(void) {
    const int64_t k = 37, n = 70;
    float *w = malloc(sizeof(float) * k * n), *bias = malloc(sizeof(float) * n);
    if (!w || !bias) abort();
    fill(w, k * n);
    fill(bias, n);
    size_t bytes;
    void *packed = pack(k, n, w, 1, &bytes);
    dnnl_mm_desc d = {.k = k, .n = n, .bias = 1, .n_post = 1,
                       .post = {{DNNL_POST_RELU, 0.0f, 0.0f}}};
    dnnl_mm *mm = NULL;
    char why[256];
    if (packed && !dnnl_mm_create(&d, packed, bytes, &mm, why, sizeof why)) {
        for (int64_t m = 1; m <= 45; m++)
            CHECK(check_run(mm, m, k, n, w, 1, bias, DNNL_POST_RELU, 1 + (int)(m % 2)));
        for (int64_t m = 45; m >= 1; m -= 4)
            CHECK(check_run(mm, m, k, n, w, 1, bias, DNNL_POST_RELU, 2));
        CHECK(check_run(mm, 300, k, n, w, 1, bias, DNNL_POST_RELU, 2));
    } else {
        failures++;
    }
    dnnl_mm_destroy(mm);
    free(packed);
    free(w);
    free(bias);
}

typedef struct progress_log {
    size_t last;
    int calls, backwards;
} progress_log;

static void on_progress(void *ctx, size_t done) {
    progress_log *l = ctx;
    l->backwards += done <= l->last;
    l->last = done;
    l->calls++;
}

/* Weights over the 16 MB slice size are packed in slices of whole blocks,
 * the last one partial (K or N off the block), reporting each. */
static void test_slices(void) {
    static const int64_t kn[2][2] = {{4100, 1100}, {1100, 4100}};
    for (int trans = 0; trans < 2; trans++) {
        const int64_t k = kn[trans][0], n = kn[trans][1];
        float *w = malloc(sizeof(float) * (size_t)(k * n));
        size_t bytes;
        char why[256];
        if (!w) abort();
        fill(w, k * n);
        CHECK(dnnl_mm_packed_size(k, n, &bytes, why, sizeof why) == STATUS_OK);
        void *packed = calloc(1, bytes);
        progress_log log = {0};
        if (!packed) abort();
        CHECK(dnnl_mm_pack(k, n, w, trans, packed, bytes, on_progress, &log, why, sizeof why) ==
              STATUS_OK);
        CHECK(log.calls >= 2 && !log.backwards && log.last == sizeof(float) * (size_t)(k * n));
        dnnl_mm_desc d = {.k = k, .n = n};
        dnnl_mm *mm;
        if (dnnl_mm_create(&d, packed, bytes, &mm, why, sizeof why) == STATUS_OK) {
            CHECK(check_run(mm, 3, k, n, w, trans, NULL, 0, 2));
            dnnl_mm_destroy(mm);
        } else {
            failures++;
        }
        free(packed);
        free(w);
    }
}

/* Bad descriptions and arguments are errors with a message, never a crash. */
static void test_errors(void) {
    char why[256] = "";
    size_t bytes = 1;
    dnnl_mm *mm = (dnnl_mm *)&bytes;
    CHECK(dnnl_mm_packed_size(0, 5, &bytes, why, sizeof why) != STATUS_OK && bytes == 0);
    CHECK(strstr(why, "at least 1") != NULL);
    CHECK(dnnl_mm_packed_size(4, -1, &bytes, why, sizeof why) != STATUS_OK);
    float w[4 * 5] = {0};
    CHECK(dnnl_mm_packed_size(4, 5, &bytes, why, sizeof why) == STATUS_OK &&
          bytes >= sizeof w);
    void *packed = calloc(1, bytes);
    if (!packed) abort();
    CHECK(dnnl_mm_pack(4, 5, w, 0, packed, bytes - 4, NULL, NULL, why, sizeof why) != STATUS_OK);
    CHECK(dnnl_mm_pack(4, 5, w, 0, packed, bytes, NULL, NULL, why, sizeof why) == STATUS_OK);
    dnnl_mm_desc d = {.k = 4, .n = 5};
    CHECK(dnnl_mm_create(&d, packed, bytes + 64, &mm, why, sizeof why) != STATUS_OK && !mm);
    CHECK(strstr(why, "bytes") != NULL);
    d.n_post = 3;
    CHECK(dnnl_mm_create(&d, packed, bytes, &mm, why, sizeof why) != STATUS_OK && !mm);
    d.n_post = 1;
    d.post[0].kind = DNNL_POST_SUM;
    CHECK(dnnl_mm_create(&d, packed, bytes, &mm, why, sizeof why) != STATUS_OK && !mm);
    d.post[0].kind = DNNL_POST__COUNT;
    CHECK(dnnl_mm_create(&d, packed, bytes, &mm, why, sizeof why) != STATUS_OK && !mm);
    d.n_post = 0;
    d.bias = 1;
    CHECK(dnnl_mm_create(&d, packed, bytes, &mm, why, sizeof why) == STATUS_OK && mm);
    float a[4] = {1, 2, 3, 4}, y[5];
    scratch_list sl = {0};
    CHECK(dnnl_mm_run(mm, 1, a, NULL, y, 1, scratch, &sl, why, sizeof why) != STATUS_OK);
    CHECK(strstr(why, "bias") != NULL);
    CHECK(dnnl_mm_run(mm, 0, a, a, y, 1, scratch, &sl, why, sizeof why) != STATUS_OK);
    scratch_free(&sl);
    dnnl_mm_destroy(mm);
    dnnl_mm_destroy(NULL);
    free(packed);
}

int main(void) {
    static const int64_t shapes[][2] = {{1, 1}, {5, 7}, {33, 19}, {100, 65}, {17, 130}, {64, 16},
                                        {300, 3}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        test_shape(shapes[i][0], shapes[i][1]);
    for (int i = 0; i < 4; i++) test_shape(rnd(1, 200), rnd(1, 200));
    test_many_shapes();
    test_slices();
    test_errors();
    if (failures) {
        fprintf(stderr, "test_dnnl_matmul: %d failures\n", failures);
        return 1;
    }
    printf("test_dnnl_matmul: ok\n");
    return 0;
}
