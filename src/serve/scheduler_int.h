/* scheduler_int.h -- the scheduler's layout, shared by its parts (private to
 * src/serve):
 *
 *   scheduler.c    life cycle, intake (submit), the timer (timeouts and
 *                  cancellations of queued requests), stats,
 *                  the worker loop and warmup
 *   batcher.c      the batcher step: which queued requests run together next
 *   batch_exec.c   running a batch: inputs concatenated, outputs scattered
 *
 * Locking: `mu` guards the queue, `stopping` and the timer's `reap_at`;
 * `cv` wakes workers (work arrived, stopping), `timer_cv` the timer thread
 * (an earlier deadline, stopping). Both condition variables run on
 * CLOCK_MONOTONIC, the clock of serve_clock_ns. Counters are atomics so
 * metrics never take the lock. Requests are completed outside the lock: a
 * completion callback may do anything except destroy this scheduler.
 *
 *     worker:  n = sched_next_batch(w, w->batch);          // blocks
 *              st = sched_execute(w, w->batch, n, &run, &err);
 *              if (!st) st = sched_scatter(w, w->batch, n, &run, &err);
 *              sched_run_release(w, &run);
 *              for (i < n) sched_finish(s, w->batch[i], st, ...);       */
#ifndef INFERD_SERVE_SCHEDULER_INT_H
#define INFERD_SERVE_SCHEDULER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "infer_request_int.h"
#include "scheduler.h"

typedef struct sched_stats {
    atomic_int_fast64_t queued, inflight;
    atomic_uint_fast64_t success, failure, rejected, cancelled, timed_out;
    atomic_uint_fast64_t executions, inferences, queue_ns, compute_ns;
} sched_stats;

/* One execution's tensors, in a worker's scratch space. */
typedef struct sched_run {
    serve_tensor *ins;           /* [meta n_inputs] as the backend sees them */
    int n_ins;
    const char **wanted;         /* [meta n_outputs] union of the requests' outputs */
    serve_tensor *outs;          /* [meta n_outputs] from the backend */
    int n_outs;                  /* outputs the backend produced (to release) */
    int64_t samples;             /* batch size summed over the requests */
    int64_t *sizes;              /* [max requests] each request's batch size */
    int64_t *per_row;            /* [meta n_outputs] elements per sample of each output */
    uint64_t compute_start_ns;   /* around the backend's execute */
    uint64_t compute_end_ns;
} sched_run;

typedef struct sched_worker {
    struct serve_scheduler *s;
    serve_backend_instance *inst;
    pthread_t thread;
    bool started;
    int index;
    serve_request **batch;       /* [max_requests] */
    sched_run run;
    void **concat;               /* [meta n_inputs] buffers for concatenated inputs */
    size_t *concat_cap;
} sched_worker;

struct serve_scheduler {
    const serve_backend *be;
    serve_backend_model *model;
    const serve_model_meta *meta;
    serve_scheduler_options opts;  /* name, warmup and preferred point elsewhere: see below */
    char name[64];
    int32_t *preferred;            /* sorted ascending, owned */
    int n_preferred;
    int max_requests;              /* requests in one batch */

    pthread_mutex_t mu;
    pthread_cond_t cv;             /* work arrived, or stopping */
    serve_request *head, *tail;    /* the queue */
    int idle;                      /* workers looking for work (in sched_next_batch) */
    int sleeping;                  /* ... of which waiting on cv: a submit must signal */
    bool stopping;
    bool joined;

    /* the timer thread: queue timeouts and cancellations */
    pthread_t timer;
    bool timer_started;
    pthread_cond_t timer_cv;       /* an earlier deadline, or stopping */
    uint64_t reap_at;              /* when the timer wakes next; 0 = no deadline pending */

    /* warmup: each worker runs the samples once started */
    pthread_cond_t warm_cv;        /* a worker finished its warmup */
    int warm_pending;              /* workers still warming */
    status warm_status;            /* the first fatal failure */
    errinfo warm_err;

    sched_worker *workers;
    int n_workers;
    sched_stats stats;
};

/* --- scheduler.c -------------------------------------------------------------- */

/* Completes r and keeps the counters. r may be gone when this returns. */
void sched_finish(serve_scheduler *s, serve_request *r, status st, const char *msg);
/* Why a queued request must not run: STATUS_CANCELLED, STATUS_DEADLINE_EXCEEDED,
 * or STATUS_OK when it may. */
status sched_stale(const serve_request *r, uint64_t now);
/* Completes a chain (linked through next) of requests sched_stale refused. */
void sched_drop_chain(serve_scheduler *s, serve_request *chain, uint64_t now);
/* Unlinks `r` (whose predecessor is prev, NULL at the head); under mu. */
void sched_unlink(serve_scheduler *s, serve_request *prev, serve_request *r);

/* --- batcher.c ------------------------------------------------------------------ */

/* The batcher step: blocks until a batch is due, unlinks its requests into
 * batch (at most s->max_requests), stamps queue_end_ns and returns how
 * many; 0 once the scheduler stopped and the queue is drained. Cancelled
 * and timed-out requests met on the way are completed, never returned. */
int sched_next_batch(sched_worker *w, serve_request **batch);
/* A request's batch size: dim 0 of its inputs when the model batches, else 1. */
int64_t sched_request_samples(const serve_scheduler *s, const serve_request *r);
/* r's input called `name`; `hint` is where it usually is (same order). */
const serve_tensor *sched_request_input(const serve_request *r, int hint, const char *name);

/* --- batch_exec.c --------------------------------------------------------------- */

/* Allocates w's scratch for the model's inputs and outputs. */
status sched_worker_scratch_init(sched_worker *w, errinfo *err);
void sched_worker_scratch_free(sched_worker *w);
/* Concatenates the requests' inputs and runs the backend once with the union
 * of their outputs. Reads the requests only (warmup shares one request
 * among all workers); the compute times are left in w->run (0 when the
 * backend was not called). On success the outputs are in w->run until
 * sched_scatter or sched_run_release. */
status sched_execute(sched_worker *w, serve_request **reqs, int n, errinfo *err);
/* Splits the outputs along dim 0 and gives each request what it asked for,
 * in its order. Releases the backend's outputs either way. */
status sched_scatter(sched_worker *w, serve_request **reqs, int n, errinfo *err);
/* Releases whatever outputs w->run still holds. */
void sched_run_release(sched_worker *w);

#endif
