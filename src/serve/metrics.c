/* metrics.c -- histogram bucket math and the standard bucket sets. */
#include "metrics.h"

#include <math.h>
#include <string.h>

static const double seconds_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                        0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                        1,      2.5,     5,      10};
static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

const metrics_bucket_set metrics_buckets_seconds = {
    (int)(sizeof seconds_bounds / sizeof seconds_bounds[0]), seconds_bounds, 1e9};
const metrics_bucket_set metrics_buckets_batch = {
    (int)(sizeof batch_bounds / sizeof batch_bounds[0]), batch_bounds, 1};

void metrics_histogram_init(metrics_histogram *h, const metrics_bucket_set *set) {
    memset(h, 0, sizeof *h);
    h->set = set;
    int n = set->n < METRICS_MAX_BUCKETS ? set->n : METRICS_MAX_BUCKETS;
    /* llround: 0.00025 * 1e9 is 249999.99999999997 in binary floating point */
    for (int i = 0; i < n; i++) h->le[i] = (uint64_t)llround(set->bounds[i] * set->raw_per_unit);
    for (int i = 0; i <= METRICS_MAX_BUCKETS; i++) atomic_init(&h->count[i], 0);
    atomic_init(&h->sum, 0);
}

/* Index of the first bucket whose bound is >= raw (n if none): a bucket
 * counts the observations less than or equal to its bound. */
static int bucket_index(const metrics_histogram *h, uint64_t raw) {
    int lo = 0, hi = h->set->n < METRICS_MAX_BUCKETS ? h->set->n : METRICS_MAX_BUCKETS;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (h->le[mid] < raw) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

void metrics_histogram_observe(metrics_histogram *h, uint64_t raw) {
    atomic_fetch_add_explicit(&h->count[bucket_index(h, raw)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, raw, memory_order_relaxed);
}

void metrics_histogram_read(const metrics_histogram *h, metrics_histogram_snapshot *out) {
    metrics_histogram *m = (metrics_histogram *)h; /* atomics are read-only here */
    int n = h->set->n < METRICS_MAX_BUCKETS ? h->set->n : METRICS_MAX_BUCKETS;
    memset(out, 0, sizeof *out);
    out->set = h->set;
    uint64_t total = 0;
    for (int i = 0; i <= n; i++) {
        total += atomic_load_explicit(&m->count[i], memory_order_relaxed);
        out->cumulative[i] = total;
    }
    out->count = total;
    out->sum = (double)atomic_load_explicit(&m->sum, memory_order_relaxed) / h->set->raw_per_unit;
}
