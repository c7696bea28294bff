/* serve_metrics.h -- inferd's Prometheus metrics: per model version series,
 * the observation hooks of the serving core, and the /metrics text.
 *
 * One registry (serve_metrics) per server. The model manager adds a series
 * set (serve_model_metrics) when it starts loading a version and destroys
 * it when the version goes; every request that reached the version carries
 * a pointer to it and is observed once when it completes, and the scheduler
 * reports each execution (batch). Observations are atomics only; the
 * registry's mutex is taken by adding/removing series and by scrapes.
 *
 * Families (labels model, version unless noted):
 *   inferd_requests_total{status="success|failure",reason}       counter
 *   inferd_request_duration_seconds   arrival -> completion (successes)
 *   inferd_queue_duration_seconds     queue entry -> taken by a worker
 *   inferd_compute_duration_seconds   the execution that ran the request
 *   inferd_batch_size                 executed batch sizes (histogram)
 *   inferd_inference_count_total / inferd_execution_count_total
 *   inferd_queue_size{model} / inferd_inflight_requests{model}    gauges
 *   inferd_model_ready / inferd_model_load_duration_seconds       gauges
 *   process_* (CPU, memory, fds, start time; from /proc/self)
 *
 * Failure reasons: invalid_input (400-class), queue_full (429), timeout
 * (queue timeout, 504), cancelled (client gone), unavailable (shutting
 * down), out_of_memory, internal (anything else, e.g. the backend failed).
 * Successes carry reason="".
 *
 *     serve_metrics *reg;
 *     serve_metrics_create(&reg, &err);
 *     serve_model_metrics *mm;                               // on load
 *     serve_metrics_add_model(reg, "resnet", 1, &mm, &err);
 *     serve_model_metrics_set_scheduler(mm, sched);          // gauges
 *     serve_model_metrics_set_ready(mm, true);
 *     so.on_execution = serve_metrics_on_execution;         // scheduler options
 *     so.observer_ctx = mm;                                  // (a worker calls it)
 *     serve_metrics_observe_request(mm, STATUS_OK, &r->timing, serve_clock_ns());
 *     char *text; size_t len;
 *     serve_metrics_render(reg, &text, &len, &err);          // GET /metrics
 *     ...
 *     serve_model_metrics_set_scheduler(mm, NULL);  // scrapes stop reading it
 *     serve_scheduler_destroy(sched);       // draining requests still observe
 *     serve_model_metrics_destroy(mm);
 *     serve_metrics_destroy(reg);
 *
 * Every function accepts a NULL serve_model_metrics and then does nothing,
 * so code paths without metrics (unit tests, tools) need no checks. */
#ifndef INFERD_SERVE_SERVE_METRICS_H
#define INFERD_SERVE_SERVE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/status.h"
#include "infer_request.h"
#include "scheduler.h"

typedef struct serve_metrics serve_metrics;
typedef struct serve_model_metrics serve_model_metrics;

/* --- the registry (start-up / shutdown) --------------------------------------- */

status serve_metrics_create(serve_metrics **out, errinfo *err);
/* Frees the registry. Every serve_model_metrics must be destroyed first.
 * Accepts NULL. */
void serve_metrics_destroy(serve_metrics *reg);

/* --- one model version's series (model manager) ----------------------------------- */

/* Creates and registers the series of one model version, all zero and not
 * ready. A NULL registry gives *out = NULL and STATUS_OK. */
status serve_metrics_add_model(serve_metrics *reg, const char *model, int64_t version,
                               serve_model_metrics **out, errinfo *err);
/* The scheduler whose queue and in-flight counts feed the gauges (NULL:
 * none). Takes the registry lock, so a scrape never reads a scheduler after
 * it was detached. */
void serve_model_metrics_set_scheduler(serve_model_metrics *m, serve_scheduler *s);
void serve_model_metrics_set_ready(serve_model_metrics *m, bool ready);
void serve_model_metrics_set_load_duration(serve_model_metrics *m, uint64_t ns);
/* Takes the series out of scrapes (and detaches the scheduler); it still
 * accepts observations until destroyed. Idempotent. */
void serve_model_metrics_unregister(serve_model_metrics *m);
/* Unregisters if needed and frees. No observation may follow. Accepts NULL.
 * Two series may share labels (a version reloaded in place while its old
 * copy drains): scrapes show their sum, and destroying one adds its counts
 * to the other, so counters never go backwards. */
void serve_model_metrics_destroy(serve_model_metrics *m);

/* --- observations (hot path, any thread, lock-free) ---------------------------------- */

/* One request completed with status st: counts it by status/reason and
 * observes the durations its timing reached (queue, compute; the whole
 * request on success). done_ns: completion time on serve_clock_ns(). */
void serve_metrics_observe_request(serve_model_metrics *m, status st, const serve_timing *t,
                                   uint64_t done_ns);
/* One backend execution of `batch_size` samples that took compute_ns:
 * the batch size histogram, inference and execution counts. */
void serve_metrics_observe_execution(serve_model_metrics *m, int batch_size, uint64_t compute_ns);
/* The same as a serve_scheduler_options.on_execution callback; ctx is the
 * serve_model_metrics (or NULL). */
void serve_metrics_on_execution(void *ctx, int batch_size, uint64_t compute_ns);

/* --- exposition --------------------------------------------------------------------- */

/* The "reason" label for a failed status ("queue_full", ...); "" for OK. */
const char *serve_metrics_reason(status st);

/* Renders every family, process metrics included, in the Prometheus text
 * format 0.0.4. *out is malloc'd (the caller frees it). Any thread. */
status serve_metrics_render(serve_metrics *reg, char **out, size_t *len, errinfo *err);

/* The Content-Type of serve_metrics_render's text. */
#define SERVE_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
