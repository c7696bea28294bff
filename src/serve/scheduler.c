/* scheduler.c -- FIFO queue, worker threads, the batcher step, execution.
 *
 * One mutex guards the queue and the stopping flag; workers sleep on one
 * condition variable. Counters are atomics so metrics never take the lock.
 * Requests are completed outside the lock: a completion callback may do
 * anything except destroy this scheduler. */
#include "scheduler.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/log.h"
#include "infer_request_int.h"

typedef struct sched_stats {
    atomic_int_fast64_t queued, inflight;
    atomic_uint_fast64_t success, failure, rejected, cancelled, timed_out;
    atomic_uint_fast64_t executions, inferences, queue_ns, compute_ns;
} sched_stats;

typedef struct sched_worker {
    struct serve_scheduler *s;
    serve_backend_instance *inst;
    pthread_t thread;
    bool started;
    int index;
} sched_worker;

struct serve_scheduler {
    const serve_backend *be;
    serve_backend_model *model;
    const serve_model_meta *meta;
    serve_scheduler_options opts;
    char name[64];

    pthread_mutex_t mu;
    pthread_cond_t cv;             /* work arrived, or stopping */
    serve_request *head, *tail;    /* the queue */
    bool stopping;
    bool joined;

    sched_worker *workers;
    int n_workers;
    sched_stats stats;
};

int serve_cpu_count(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void serve_scheduler_options_from_config(serve_scheduler_options *o, const model_config *cfg) {
    memset(o, 0, sizeof *o);
    o->instances = cfg ? model_config_instance_count(cfg) : 1;
    if (!cfg) return;
    o->max_batch_size = cfg->max_batch_size;
    const model_dynamic_batching *db = &cfg->dynamic_batching;
    if (!db->enabled) return;
    o->dynamic_batching = cfg->max_batch_size > 0;
    o->max_queue_delay_us = db->max_queue_delay_us;
    o->max_queue_size = db->queue_policy.max_queue_size;
    /* DELAY runs a timed-out request anyway once nothing else waits; with
     * one priority level that is running it in turn, i.e. no timeout. */
    if (db->queue_policy.timeout_action == MODEL_TIMEOUT_REJECT) {
        o->default_timeout_us = db->queue_policy.default_timeout_us;
        o->allow_timeout_override = db->queue_policy.allow_timeout_override;
    }
}

/* --- completion ---------------------------------------------------------------- */

/* Completes r and keeps the counters. r may be gone when this returns. */
static void sched_finish(serve_scheduler *s, serve_request *r, status st, const char *msg) {
    sched_stats *c = &s->stats;
    atomic_fetch_add(st ? &c->failure : &c->success, 1);
    if (st == STATUS_CANCELLED) atomic_fetch_add(&c->cancelled, 1);
    if (st == STATUS_DEADLINE_EXCEEDED) atomic_fetch_add(&c->timed_out, 1);
    serve_request_complete(r, st, msg);
    atomic_fetch_sub(&c->inflight, 1);
}

/* --- the queue ------------------------------------------------------------------ */

static uint64_t sched_deadline(const serve_scheduler *s, const serve_request *r) {
    uint64_t us = s->opts.default_timeout_us;
    if (s->opts.allow_timeout_override && r->timeout_us && (!us || r->timeout_us < us))
        us = r->timeout_us;
    return us ? r->timing.queue_start_ns + us * 1000u : 0;
}

void serve_scheduler_submit(serve_scheduler *s, serve_request *r) {
    r->timing.queue_start_ns = serve_clock_ns();
    r->deadline_ns = sched_deadline(s, r);
    r->next = NULL;
    char msg[160];
    atomic_fetch_add(&s->stats.inflight, 1);
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        snprintf(msg, sizeof msg, "model %s is shutting down", s->name);
        sched_finish(s, r, STATUS_UNAVAILABLE, msg);
        return;
    }
    int64_t queued = atomic_load(&s->stats.queued);
    if (s->opts.max_queue_size && queued >= (int64_t)s->opts.max_queue_size) {
        pthread_mutex_unlock(&s->mu);
        atomic_fetch_add(&s->stats.rejected, 1);
        snprintf(msg, sizeof msg, "model %s: queue is full (max_queue_size %u)", s->name,
                 s->opts.max_queue_size);
        sched_finish(s, r, STATUS_RESOURCE_EXHAUSTED, msg);
        return;
    }
    if (s->tail) s->tail->next = r;
    else s->head = r;
    s->tail = r;
    atomic_fetch_add(&s->stats.queued, 1);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Pops the head, blocking while the queue is empty. NULL once stopping and
 * drained. */
static serve_request *sched_pop(serve_scheduler *s) {
    pthread_mutex_lock(&s->mu);
    while (!s->head && !s->stopping) pthread_cond_wait(&s->cv, &s->mu);
    serve_request *r = s->head;
    if (r) {
        s->head = r->next;
        if (!s->head) s->tail = NULL;
        r->next = NULL;
        atomic_fetch_sub(&s->stats.queued, 1);
    }
    pthread_mutex_unlock(&s->mu);
    return r;
}

/* Completes a dequeued request that must not run; true if it was dropped. */
static bool sched_drop_if_stale(serve_scheduler *s, serve_request *r, uint64_t now) {
    char msg[200];
    if (serve_request_is_cancelled(r)) {
        snprintf(msg, sizeof msg, "request cancelled while queued for model %s", s->name);
        sched_finish(s, r, STATUS_CANCELLED, msg);
        return true;
    }
    if (r->deadline_ns && now > r->deadline_ns) {
        snprintf(msg, sizeof msg, "request timed out after %.3f ms in the queue of model %s",
                 (double)(now - r->timing.queue_start_ns) / 1e6, s->name);
        sched_finish(s, r, STATUS_DEADLINE_EXCEEDED, msg);
        return true;
    }
    return false;
}

/* The batcher step: the next unit of work, at most `cap` requests. Today a
 * batch is one request. Issue 3's dynamic batcher gathers more here: up to
 * max_batch_size requests whose non-batch shapes match, waiting at most
 * max_queue_delay_us for the batch to fill. Returns 0 when the scheduler
 * has stopped and the queue is drained. */
static int sched_next_batch(serve_scheduler *s, serve_request **batch, int cap) {
    (void)cap;
    for (;;) {
        serve_request *r = sched_pop(s);
        if (!r) return 0;
        uint64_t now = serve_clock_ns();
        r->timing.queue_end_ns = now;
        if (sched_drop_if_stale(s, r, now)) continue;
        batch[0] = r;
        return 1;
    }
}

/* --- execution ------------------------------------------------------------------- */

/* Rewrites each output from the backend's shape to the client's (reshape)
 * and moves it into the request. */
static status sched_store_outputs(serve_scheduler *s, serve_request *r, serve_tensor *outs,
                                  int n, errinfo *err) {
    status st = STATUS_OK;
    for (int i = 0; i < n; i++) {
        if (st) {
            s->be->tensor_release(&outs[i]);
            continue;
        }
        int k = serve_meta_find_output(s->meta, outs[i].name);
        if (k >= 0) {
            engine_shape client;
            st = serve_meta_map_shape(&s->meta->outputs[k], s->meta->max_batch_size, 0,
                                      &outs[i].shape, &client, err);
            if (st) {
                s->be->tensor_release(&outs[i]);
                continue;
            }
            outs[i].shape = client;
        }
        st = serve_request_take_output(r, &outs[i], s->be->tensor_release, err);
    }
    return st;
}

/* Runs one request on this worker's instance and completes it. */
static void sched_execute_one(sched_worker *w, serve_request *r) {
    serve_scheduler *s = w->s;
    const serve_model_meta *m = s->meta;
    errinfo err = {{0}};
    status st = STATUS_OK;
    int n_in = r->n_inputs;
    int n_out = r->n_wanted ? r->n_wanted : m->n_outputs;
    serve_tensor *ins = calloc((size_t)(n_in ? n_in : 1), sizeof *ins);
    serve_tensor *outs = calloc((size_t)(n_out ? n_out : 1), sizeof *outs);
    const char **wanted = calloc((size_t)(n_out ? n_out : 1), sizeof *wanted);
    if (!ins || !outs || !wanted) {
        st = status_fail(&err, STATUS_NO_MEMORY, "out of memory preparing an execution");
        goto done;
    }
    for (int i = 0; i < n_in && !st; i++) {
        ins[i] = r->inputs[i].t;
        int k = serve_meta_find_input(m, ins[i].name);
        if (k >= 0)
            st = serve_meta_map_shape(&m->inputs[k], m->max_batch_size, 1, &r->inputs[i].t.shape,
                                      &ins[i].shape, &err);
    }
    if (st) goto done;
    for (int i = 0; i < n_out; i++) wanted[i] = r->n_wanted ? r->wanted[i] : m->outputs[i].name;

    r->timing.compute_start_ns = serve_clock_ns();
    st = s->be->execute(w->inst, ins, n_in, wanted, n_out, outs, &err);
    r->timing.compute_end_ns = serve_clock_ns();

    int64_t batch = m->max_batch_size > 0 && n_in && ins[0].shape.rank > 0 ? ins[0].shape.dims[0] : 1;
    atomic_fetch_add(&s->stats.executions, 1);
    atomic_fetch_add(&s->stats.inferences, (uint64_t)batch);
    atomic_fetch_add(&s->stats.compute_ns, r->timing.compute_end_ns - r->timing.compute_start_ns);
    atomic_fetch_add(&s->stats.queue_ns, r->timing.queue_end_ns - r->timing.queue_start_ns);
    if (!st) st = sched_store_outputs(s, r, outs, n_out, &err);
done:
    free(ins);
    free(outs);
    free(wanted);
    sched_finish(s, r, st, st ? err.msg : NULL);
}

static void *sched_worker_main(void *arg) {
    sched_worker *w = arg;
    serve_scheduler *s = w->s;
    char tname[16]; /* the kernel keeps 15 bytes: "w3:resnet50:1" */
    snprintf(tname, 5, "w%u:", (unsigned)w->index % 100u);
    size_t used = strlen(tname);
    snprintf(tname + used, sizeof tname - used, "%.11s", s->name);
    pthread_setname_np(pthread_self(), tname);
    serve_request *batch[1];
    int n;
    while ((n = sched_next_batch(s, batch, 1)) > 0)
        for (int i = 0; i < n; i++) sched_execute_one(w, batch[i]);
    return NULL;
}

/* --- life cycle ---------------------------------------------------------------- */

static status sched_start_workers(serve_scheduler *s, errinfo *err) {
    /* Workers take no signals: the main thread handles SIGTERM/SIGINT. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    status st = STATUS_OK;
    for (int i = 0; i < s->n_workers; i++) {
        int rc = pthread_create(&s->workers[i].thread, NULL, sched_worker_main, &s->workers[i]);
        if (rc) {
            st = status_fail(err, STATUS_INTERNAL, "model %s: cannot start worker %d: %s", s->name,
                             i, strerror(rc));
            break;
        }
        s->workers[i].started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return st;
}

status serve_scheduler_create(const serve_backend *be, serve_backend_model *model,
                              const serve_model_meta *meta, const serve_scheduler_options *opts,
                              serve_scheduler **out, errinfo *err) {
    *out = NULL;
    status st;
    serve_scheduler *s = calloc(1, sizeof *s);
    if (!s) return status_fail(err, STATUS_NO_MEMORY, "out of memory creating a scheduler");
    s->be = be;
    s->model = model;
    s->meta = meta;
    s->opts = *opts;
    s->opts.name = NULL;
    snprintf(s->name, sizeof s->name, "%s", opts->name ? opts->name : "?");
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->n_workers = opts->instances > 0 ? opts->instances : 1;
    if (s->opts.threads_per_instance <= 0) {
        int t = serve_cpu_count() / s->n_workers;
        s->opts.threads_per_instance = t > 0 ? t : 1;
    }
    s->workers = calloc((size_t)s->n_workers, sizeof *s->workers);
    if (!s->workers) {
        st = status_fail(err, STATUS_NO_MEMORY, "out of memory creating a scheduler");
        goto fail;
    }
    serve_instance_options io = {.threads = s->opts.threads_per_instance};
    for (int i = 0; i < s->n_workers; i++) {
        s->workers[i].s = s;
        s->workers[i].index = i;
        if ((st = be->instance_create(model, &io, &s->workers[i].inst, err))) {
            status_wrap(err, st, "instance %d", i);
            goto fail;
        }
    }
    if ((st = sched_start_workers(s, err))) goto fail;
    log_verbose("model %s: %d instance(s), %d intra-op thread(s) each", s->name, s->n_workers,
                s->opts.threads_per_instance);
    *out = s;
    return STATUS_OK;
fail:
    serve_scheduler_destroy(s);
    return st;
}

void serve_scheduler_shutdown(serve_scheduler *s) {
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    bool join = !s->joined;
    s->joined = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (!join) return;
    for (int i = 0; s->workers && i < s->n_workers; i++)
        if (s->workers[i].started) pthread_join(s->workers[i].thread, NULL);
}

void serve_scheduler_destroy(serve_scheduler *s) {
    if (!s) return;
    serve_scheduler_shutdown(s);
    for (int i = 0; s->workers && i < s->n_workers; i++) s->be->instance_destroy(s->workers[i].inst);
    free(s->workers);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

bool serve_scheduler_accepting(serve_scheduler *s) {
    pthread_mutex_lock(&s->mu);
    bool accepting = !s->stopping;
    pthread_mutex_unlock(&s->mu);
    return accepting;
}

void serve_scheduler_get_stats(const serve_scheduler *s, serve_scheduler_stats *o) {
    sched_stats *c = (sched_stats *)&s->stats;
    o->queued = atomic_load(&c->queued);
    o->inflight = atomic_load(&c->inflight);
    o->success = atomic_load(&c->success);
    o->failure = atomic_load(&c->failure);
    o->rejected = atomic_load(&c->rejected);
    o->cancelled = atomic_load(&c->cancelled);
    o->timed_out = atomic_load(&c->timed_out);
    o->executions = atomic_load(&c->executions);
    o->inferences = atomic_load(&c->inferences);
    o->queue_ns = atomic_load(&c->queue_ns);
    o->compute_ns = atomic_load(&c->compute_ns);
}

int serve_scheduler_threads_per_instance(const serve_scheduler *s) {
    return s->opts.threads_per_instance;
}

int serve_scheduler_instance_count(const serve_scheduler *s) { return s->n_workers; }
