/* model_stats.h -- model versions' statistics in Triton's terms, for the
 * statistics endpoints of both frontends (gRPC ModelStatistics and REST
 * GET /v2/models[/{m}[/versions/{v}]]/stats).
 *
 * Triton counts durations per request: a batch's compute time counts once
 * for each request in it, so per-request averages (what perf_analyzer shows
 * as "Server: Avg request latency ... queue ... compute infer") come out
 * right whatever the batching. The scheduler counts compute per execution;
 * this is where the two views meet, so that the frontends cannot disagree.
 *
 *     serve_model_stats *rows; size_t n; errinfo err;
 *     if (serve_model_stats_collect(mm, "add", 0, &rows, &n, &err)) reply(err);
 *     for (size_t i = 0; i < n; i++) print(rows[i].name, rows[i].success_count);
 *     serve_model_stats_free(rows, n);
 *
 * Thread-safe (reads the schedulers' counters). */
#ifndef INFERD_SERVE_MODEL_STATS_H
#define INFERD_SERVE_MODEL_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/status.h"
#include "model_manager.h"

typedef struct serve_model_stats {
    char *name;                  /* owned */
    int64_t version;
    uint64_t inference_count;    /* samples executed (batch sizes summed) */
    uint64_t execution_count;    /* backend executions (batches) */
    uint64_t success_count;      /* requests completed with STATUS_OK */
    uint64_t success_ns;         /* their queue + compute time */
    uint64_t fail_count;         /* requests completed with an error */
    uint64_t queue_ns;           /* time queued, over successful requests */
    uint64_t compute_infer_ns;   /* compute time, counted once per request */
} serve_model_stats;

/* Fills `out` (name and version left as they are) from one version. */
void serve_model_stats_of(const serve_model_handle *h, serve_model_stats *out);

/* Statistics of every READY version matching (name, version): name NULL or
 * "" = every model, version 0 = every ready version. Sorted by name, then
 * version. A named model that has no ready version fails as
 * serve_manager_acquire does (NOT_FOUND or UNAVAILABLE), as in Triton; so
 * does a named version. Free the rows with serve_model_stats_free. */
status serve_model_stats_collect(serve_manager *mm, const char *name, int64_t version,
                                 serve_model_stats **out, size_t *n, errinfo *err);
void serve_model_stats_free(serve_model_stats *rows, size_t n);   /* accepts NULL */

#endif
