/* scheduler.h -- the request queue, dynamic batcher and instance workers of
 * one model version.
 *
 * Each loaded model version has one scheduler: a FIFO queue and N worker
 * threads (config.pbtxt instance_group count, default 1), each owning one
 * backend instance (an engine session with its own intra-op threads).
 * A worker's loop is
 *
 *     next batch (batcher.c) -> concatenate, execute, scatter (batch_exec.c)
 *                            -> complete every request of the batch
 *
 * Batching follows Triton's dynamic batcher. Without dynamic_batching (or
 * with max_batch_size 0) requests run one by one. With it, a worker that
 * becomes free takes the oldest requests whose inputs agree in names,
 * datatypes and every dim but the first (the batch dim), up to
 * max_batch_size samples: requests are counted by their batch size, not one
 * each. It sends at once when the batch can grow no further (max_batch_size
 * reached, or the next request does not fit or does not match), when the
 * largest preferred_batch_size that the queued requests add up to exactly
 * can be formed (only that prefix goes), or when the oldest request has
 * waited max_queue_delay_microseconds; otherwise it waits for more. Without
 * preferred sizes, max_batch_size is the size worth waiting for. Inputs are
 * concatenated along dim 0, the model runs once with the union of the
 * outputs the requests asked for, and each output is split back along dim 0
 * so that every request gets exactly the outputs it asked for.
 *
 * Queue policy (default_queue_policy): a full queue (max_queue_size) refuses
 * at once with STATUS_RESOURCE_EXHAUSTED (HTTP 429); a request still queued
 * past its timeout (default_timeout_microseconds, or the client's shorter
 * one when allow_timeout_override) is completed with
 * STATUS_DEADLINE_EXCEEDED (HTTP 504) by a timer thread within about a
 * millisecond, and never runs. timeout_action DELAY means no timeout (with
 * one priority level "run it after the others" is running it in turn). A
 * request cancelled while queued (serve_request_cancel: the client went
 * away) is completed with STATUS_CANCELLED within about 10 ms (the timer
 * polls the queue for cancellations while it is not empty), or when a
 * worker reaches it, whichever is first, and never runs. A running
 * execution is never interrupted.
 *
 * Threads: each instance gets threads_per_instance intra-op threads; the
 * default is max(1, cores / instances), cores being the CPUs this process
 * may run on (sched_getaffinity, so a container's cpuset counts), so one
 * busy model uses the whole machine and its instances do not oversubscribe
 * it. Several models busy at once share the cores: lower the threads (or
 * use more instances of one thread) when many models take traffic together.
 *
 * Warmup: samples given in the options run on every instance, on the
 * worker threads themselves (so their thread pools are the ones warmed),
 * before create returns; a failing sample fails create, unless it is
 * advisory (shapes that were guessed), which only logs a warning. Warmup
 * executions count in no statistic.
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

/* One warmup sample: a request (inputs and, optionally, requested outputs;
 * never submitted, never completed) run `count` times on each instance. */
typedef struct serve_warmup_sample {
    const char *name;              /* for messages: "sample 'zeros'" */
    serve_request *request;        /* read-only while warming, by all workers */
    int count;                     /* >= 1 */
    bool advisory;                 /* failure only warns (guessed shapes) */
} serve_warmup_sample;

typedef struct serve_scheduler_options {
    const char *name;              /* "model:version", for logs and thread names */
    int instances;                 /* workers; 0 = 1 */
    int threads_per_instance;      /* intra-op threads; 0 = max(1, cores / instances) */
    int max_batch_size;            /* samples per execution; 0 = no batch dim */
    bool dynamic_batching;         /* gather requests into batches */
    uint64_t max_queue_delay_us;   /* how long the oldest request may wait for a fuller batch */
    const int32_t *preferred_batch_sizes; /* copied by create */
    int n_preferred;
    uint32_t max_queue_size;       /* 0 = unbounded */
    uint64_t default_timeout_us;   /* queue timeout; 0 = none */
    bool allow_timeout_override;   /* a request may ask for a shorter timeout */
    const serve_warmup_sample *warmup; /* run by create; NULL = none */
    int n_warmup;
    /* Called on a worker after each backend execution (never for warmup)
     * with the batch size in samples and the time execute took; NULL =
     * none. Must be cheap and thread-safe (metrics). */
    void (*on_execution)(void *ctx, int batch_size, uint64_t compute_ns);
    void *observer_ctx;
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
    uint64_t executions;           /* backend execute calls (batches) */
    uint64_t inferences;           /* samples executed (batch sizes summed) */
    uint64_t queue_ns;             /* time queued, summed over executed requests */
    uint64_t compute_ns;           /* time in execute, summed over executions */
} serve_scheduler_stats;

/* Fills opts from a config (NULL: defaults). `name` is left NULL; the
 * preferred sizes point into cfg. */
void serve_scheduler_options_from_config(serve_scheduler_options *opts, const model_config *cfg);

/* Cores this process may run on (sched_getaffinity), at least 1. */
int serve_cpu_count(void);

/* Creates the instances (on the calling thread, so a failure is a load
 * failure), starts the workers, runs the warmup samples on every instance
 * and waits for them. */
status serve_scheduler_create(const serve_backend *be, serve_backend_model *model,
                              const serve_model_meta *meta, const serve_scheduler_options *opts,
                              serve_scheduler **out, errinfo *err);

/* Queues a validated request; the request is completed exactly once, later
 * on a worker or the timer thread, or right here when refused (queue full,
 * shutting down). */
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
