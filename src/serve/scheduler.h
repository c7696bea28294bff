/* scheduler.h -- the request queue and instance workers of one model version.
 *
 * Each loaded model version has one scheduler: a FIFO queue and N worker
 * threads (config.pbtxt instance_group count, default 1), each owning one
 * backend instance (an engine session with its own intra-op threads).
 * A worker's loop is
 *
 *     next batch (the batcher step) -> execute -> scatter outputs -> complete
 *
 * Today the batcher step takes one request, so requests run one by one;
 * issue 3's dynamic batcher replaces that step (gather up to max_batch_size
 * requests with equal non-batch shapes within max_queue_delay) without
 * touching the rest. Requests cancelled while queued, or past their queue
 * timeout, are completed without running (STATUS_CANCELLED,
 * STATUS_DEADLINE_EXCEEDED); a full queue refuses at once
 * (STATUS_RESOURCE_EXHAUSTED).
 *
 *     serve_scheduler_options so;
 *     serve_scheduler_options_from_config(&so, cfg);
 *     so.name = "resnet:1";
 *     serve_scheduler *s;
 *     if (serve_scheduler_create(backend, bmodel, meta, &so, &s, &err)) ...
 *     serve_scheduler_submit(s, request);   // completes the request, always
 *     ...
 *     serve_scheduler_destroy(s);           // finishes queued work, joins
 *
 * submit, stats and shutdown may be called from any thread; destroy from
 * any thread but a worker of this scheduler (i.e. not from a completion
 * callback). The backend model and metadata must outlive the scheduler. */
#ifndef INFERD_SERVE_SCHEDULER_H
#define INFERD_SERVE_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/status.h"
#include "backend.h"
#include "infer_request.h"
#include "model_config.h"
#include "model_meta.h"

typedef struct serve_scheduler serve_scheduler;

typedef struct serve_scheduler_options {
    const char *name;              /* "model:version", for logs and thread names */
    int instances;                 /* workers; 0 = 1 */
    int threads_per_instance;      /* intra-op threads; 0 = max(1, cores / instances) */
    int max_batch_size;            /* the batcher's limit (issue 3) */
    bool dynamic_batching;         /* issue 3: gather requests into batches */
    uint64_t max_queue_delay_us;   /* issue 3: how long to wait for a fuller batch */
    uint32_t max_queue_size;       /* 0 = unbounded */
    uint64_t default_timeout_us;   /* queue timeout; 0 = none */
    bool allow_timeout_override;   /* a request may ask for a shorter timeout */
} serve_scheduler_options;

/* Counters for metrics. Gauges are "now"; the rest only grow. */
typedef struct serve_scheduler_stats {
    int64_t queued;                /* waiting in the queue */
    int64_t inflight;              /* accepted and not yet completed */
    uint64_t success;              /* completed with STATUS_OK */
    uint64_t failure;              /* completed with an error (all reasons) */
    uint64_t rejected;             /* ... of which refused by a full queue */
    uint64_t cancelled;            /* ... dropped from the queue, client gone */
    uint64_t timed_out;            /* ... dropped from the queue, past timeout */
    uint64_t executions;           /* backend execute calls */
    uint64_t inferences;           /* samples executed (batch sizes summed) */
    uint64_t queue_ns;             /* time queued, summed over executed requests */
    uint64_t compute_ns;           /* time in execute, summed over executions */
} serve_scheduler_stats;

/* Fills opts from a config (NULL: defaults). `name` is left NULL. */
void serve_scheduler_options_from_config(serve_scheduler_options *opts, const model_config *cfg);

/* Cores this process may run on (sched_getaffinity), at least 1. */
int serve_cpu_count(void);

/* Creates the instances (on the calling thread, so a failure is a load
 * failure) and starts the workers. */
status serve_scheduler_create(const serve_backend *be, serve_backend_model *model,
                              const serve_model_meta *meta, const serve_scheduler_options *opts,
                              serve_scheduler **out, errinfo *err);

/* Queues a validated request; the request is completed exactly once, later
 * on a worker, or right here when refused (queue full, shutting down). */
void serve_scheduler_submit(serve_scheduler *s, serve_request *r);

/* Stops accepting (later submits complete with STATUS_UNAVAILABLE), lets
 * the workers finish everything queued, and joins them. Idempotent. */
void serve_scheduler_shutdown(serve_scheduler *s);
/* Shuts down, destroys the instances, frees. Accepts NULL. */
void serve_scheduler_destroy(serve_scheduler *s);

/* False once shutdown has begun (drain: readiness can follow it). */
bool serve_scheduler_accepting(serve_scheduler *s);

void serve_scheduler_get_stats(const serve_scheduler *s, serve_scheduler_stats *out);
/* Intra-op threads each instance was given. */
int serve_scheduler_threads_per_instance(const serve_scheduler *s);
int serve_scheduler_instance_count(const serve_scheduler *s);

#endif
