/* metrics.h -- lock-free counters, gauges and fixed-bucket histograms.
 *
 * The primitives behind /metrics. Each is a handful of atomics, so the hot
 * path (a worker completing a request) never takes a lock: a counter is one
 * fetch_add, a histogram observation a short search over at most
 * METRICS_MAX_BUCKETS bounds and two fetch_adds. Observations are integers
 * in a "raw" unit (nanoseconds for durations, samples for batch sizes);
 * the bucket set says how raw units convert to the exposed unit (seconds),
 * so sums stay exact and no floating-point atomics are needed.
 *
 *     metrics_histogram h;
 *     metrics_histogram_init(&h, &metrics_buckets_seconds);
 *     metrics_histogram_observe(&h, end_ns - start_ns);   // any thread
 *
 *     metrics_histogram_snapshot s;
 *     metrics_histogram_read(&h, &s);   // cumulative counts for exposition
 *
 * Caller-owned structs: zero-initialised counters and gauges are valid,
 * histograms need _init. Nothing here allocates. Reads are not atomic as a
 * whole: a scrape racing an observation may see the bucket counts without
 * its sum, which Prometheus tolerates; the +Inf bucket and _count always
 * agree because both come from the same read. */
#ifndef INFERD_SERVE_METRICS_H
#define INFERD_SERVE_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#define METRICS_MAX_BUCKETS 24

/* Upper bounds of a histogram's finite buckets, ascending, in the exposed
 * unit, and how many raw units make one exposed unit. */
typedef struct metrics_bucket_set {
    int n;                    /* finite buckets, at most METRICS_MAX_BUCKETS */
    const double *bounds;     /* exposed unit: 0.0001, 0.00025, ... seconds */
    double raw_per_unit;      /* 1e9 for nanoseconds -> seconds, 1 for counts */
} metrics_bucket_set;

/* 100 us to 10 s in 1-2.5-5 steps: observations are nanoseconds. */
extern const metrics_bucket_set metrics_buckets_seconds;
/* Batch sizes 1, 2, 4, ... 1024: observations are sample counts. */
extern const metrics_bucket_set metrics_buckets_batch;

typedef struct metrics_counter {
    atomic_uint_fast64_t v;
} metrics_counter;

typedef struct metrics_gauge {
    atomic_int_fast64_t v;
} metrics_gauge;

typedef struct metrics_histogram {
    const metrics_bucket_set *set;
    uint64_t le[METRICS_MAX_BUCKETS];                    /* raw bounds */
    atomic_uint_fast64_t count[METRICS_MAX_BUCKETS + 1]; /* per bucket; [n] = above all */
    atomic_uint_fast64_t sum;                            /* raw */
} metrics_histogram;

/* A consistent-enough copy of a histogram, buckets cumulative. */
typedef struct metrics_histogram_snapshot {
    const metrics_bucket_set *set;
    uint64_t cumulative[METRICS_MAX_BUCKETS + 1];  /* [n] = +Inf = count */
    uint64_t count;
    double sum;                                    /* exposed unit */
} metrics_histogram_snapshot;

static inline void metrics_counter_add(metrics_counter *c, uint64_t n) {
    atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}
static inline uint64_t metrics_counter_get(const metrics_counter *c) {
    return atomic_load_explicit(&((metrics_counter *)c)->v, memory_order_relaxed);
}
static inline void metrics_gauge_set(metrics_gauge *g, int64_t v) {
    atomic_store_explicit(&g->v, v, memory_order_relaxed);
}
static inline void metrics_gauge_add(metrics_gauge *g, int64_t d) {
    atomic_fetch_add_explicit(&g->v, d, memory_order_relaxed);
}
static inline int64_t metrics_gauge_get(const metrics_gauge *g) {
    return atomic_load_explicit(&((metrics_gauge *)g)->v, memory_order_relaxed);
}

/* Zeroes h and converts the set's bounds to raw units. `set` must outlive h. */
void metrics_histogram_init(metrics_histogram *h, const metrics_bucket_set *set);
/* Counts one observation of `raw` (e.g. nanoseconds). Any thread. */
void metrics_histogram_observe(metrics_histogram *h, uint64_t raw);
void metrics_histogram_read(const metrics_histogram *h, metrics_histogram_snapshot *out);

#endif
