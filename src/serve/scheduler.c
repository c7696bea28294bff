/* scheduler.c -- life cycle, intake, the timeout timer, workers, warmup.
 *
 * The batcher step (batcher.c) and the execution of a batch (batch_exec.c)
 * live in their own files; scheduler_int.h has the shared layout and the
 * locking rules. */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "scheduler_int.h"

/* The timer sweeps at most this often, so a queue of many requests with
 * scattered deadlines costs one pass per millisecond, not one per deadline. */
#define SCHED_TIMER_GRANULARITY_NS 1000000u
/* While requests are queued the timer also looks for cancelled ones this
 * often: a client that went away should not hold a queue slot (nor count
 * in the queue gauge) until a worker reaches its request. Cancellation is
 * a flag set from any thread (serve_request_cancel), so it is polled. */
#define SCHED_CANCEL_POLL_NS 10000000u

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
    o->preferred_batch_sizes = db->preferred_batch_sizes;
    o->n_preferred = (int)db->n_preferred;
    o->max_queue_size = db->queue_policy.max_queue_size;
    /* DELAY runs a timed-out request anyway once nothing else waits; with
     * one priority level that is running it in turn, i.e. no timeout. */
    if (db->queue_policy.timeout_action == MODEL_TIMEOUT_REJECT) {
        o->default_timeout_us = db->queue_policy.default_timeout_us;
        o->allow_timeout_override = db->queue_policy.allow_timeout_override;
    }
}

/* --- completion ---------------------------------------------------------------- */

void sched_finish(serve_scheduler *s, serve_request *r, status st, const char *msg) {
    sched_stats *c = &s->stats;
    atomic_fetch_add(st ? &c->failure : &c->success, 1);
    if (st == STATUS_CANCELLED) atomic_fetch_add(&c->cancelled, 1);
    if (st == STATUS_DEADLINE_EXCEEDED) atomic_fetch_add(&c->timed_out, 1);
    serve_request_complete(r, st, msg);
    atomic_fetch_sub(&c->inflight, 1);
}

status sched_stale(const serve_request *r, uint64_t now) {
    if (serve_request_is_cancelled(r)) return STATUS_CANCELLED;
    if (r->deadline_ns && now >= r->deadline_ns) return STATUS_DEADLINE_EXCEEDED;
    return STATUS_OK;
}

void sched_drop_chain(serve_scheduler *s, serve_request *r, uint64_t now) {
    char msg[200];
    while (r) {
        serve_request *next = r->next;
        r->next = NULL;
        status st = sched_stale(r, now);
        if (st == STATUS_CANCELLED)
            snprintf(msg, sizeof msg, "request cancelled while queued for model %s", s->name);
        else
            snprintf(msg, sizeof msg, "request timed out after %.3f ms in the queue of model %s",
                     (double)(now - r->timing.queue_start_ns) / 1e6, s->name);
        sched_finish(s, r, st ? st : STATUS_INTERNAL, msg);
        r = next;
    }
}

void sched_unlink(serve_scheduler *s, serve_request *prev, serve_request *r) {
    if (prev) prev->next = r->next;
    else s->head = r->next;
    if (s->tail == r) s->tail = prev;
    r->next = NULL;
    atomic_fetch_sub(&s->stats.queued, 1);
}

/* --- intake ---------------------------------------------------------------------- */

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
    /* A worker that is executing looks at the queue again before it
     * sleeps: only a sleeping one needs the signal. */
    bool wake_worker = s->sleeping > 0;
    /* The timer sleeps without end while the queue is empty. Wake it for a
     * deadline earlier than its next sweep, or to poll for cancellations
     * when this request will wait (others are ahead of it, or every worker
     * is busy); a request that a free worker takes at once needs neither,
     * so light traffic costs the timer nothing. */
    bool waits = s->head != r || !s->idle;
    uint64_t due = r->deadline_ns ? r->deadline_ns
                   : waits ? r->timing.queue_start_ns + SCHED_CANCEL_POLL_NS : 0;
    bool wake_timer = due && s->timer_started && (!s->reap_at || due < s->reap_at);
    if (wake_timer) s->reap_at = due;
    pthread_mutex_unlock(&s->mu);
    /* Signalled after the unlock: a worker woken while we still held mu
     * would at once block on it again, and every hand-off would cost two
     * sleeps and a contended unlock instead of one wake-up. The caller
     * holds the model version, so the scheduler outlives this call. */
    if (wake_worker) pthread_cond_signal(&s->cv);
    if (wake_timer) pthread_cond_signal(&s->timer_cv);
}

/* --- the timeout timer ------------------------------------------------------------ */

/* Unlinks every stale request; *next_deadline gets the earliest deadline
 * left in the queue (0: none). Under mu. */
static serve_request *sweep(serve_scheduler *s, uint64_t now, uint64_t *next_deadline) {
    serve_request *dropped = NULL, **tail = &dropped;
    serve_request *prev = NULL, *r = s->head;
    *next_deadline = 0;
    while (r) {
        serve_request *next = r->next;
        if (sched_stale(r, now)) {
            sched_unlink(s, prev, r);
            *tail = r;
            tail = &r->next;
        } else {
            if (r->deadline_ns && (!*next_deadline || r->deadline_ns < *next_deadline))
                *next_deadline = r->deadline_ns;
            prev = r;
        }
        r = next;
    }
    return dropped;
}

/* Completes queued requests whose timeout passed, and cancelled ones,
 * while every worker may be busy: a 504 is prompt and a departed client's
 * request leaves the queue within SCHED_CANCEL_POLL_NS. */
static void *sched_timer_main(void *arg) {
    serve_scheduler *s = arg;
    char tname[16];
    snprintf(tname, sizeof tname, "t:%.13s", s->name);
    pthread_setname_np(pthread_self(), tname);
    uint64_t last = 0;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        uint64_t now = serve_clock_ns(), next;
        serve_request *dropped = sweep(s, now, &next);
        last = now;
        if (dropped) { /* the queue may change meanwhile: sweep again */
            pthread_mutex_unlock(&s->mu);
            sched_drop_chain(s, dropped, now);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        uint64_t soonest = last + SCHED_TIMER_GRANULARITY_NS, poll = last + SCHED_CANCEL_POLL_NS;
        if (next && next < soonest) next = soonest;
        if (s->head && (!next || next > poll)) next = poll;
        s->reap_at = next;
        if (!next) {
            pthread_cond_wait(&s->timer_cv, &s->mu);
            continue;
        }
        struct timespec ts = {.tv_sec = (time_t)(next / 1000000000u),
                              .tv_nsec = (long)(next % 1000000000u)};
        pthread_cond_timedwait(&s->timer_cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* --- workers ------------------------------------------------------------------------ */

/* Executes the batch the batcher handed over and completes its requests. */
static void sched_run_batch(sched_worker *w, int n) {
    serve_scheduler *s = w->s;
    serve_request **batch = w->batch;
    errinfo err = {{0}};
    status st = sched_execute(w, batch, n, &err);
    const sched_run *run = &w->run;
    if (run->compute_start_ns) {
        uint64_t dt = run->compute_end_ns - run->compute_start_ns, queued = 0;
        for (int i = 0; i < n; i++) {
            batch[i]->timing.compute_start_ns = run->compute_start_ns;
            batch[i]->timing.compute_end_ns = run->compute_end_ns;
            queued += batch[i]->timing.queue_end_ns - batch[i]->timing.queue_start_ns;
        }
        atomic_fetch_add(&s->stats.executions, 1);
        atomic_fetch_add(&s->stats.inferences, (uint64_t)run->samples);
        atomic_fetch_add(&s->stats.compute_ns, dt);
        atomic_fetch_add(&s->stats.queue_ns, queued);
        if (s->opts.on_execution) s->opts.on_execution(s->opts.observer_ctx, (int)run->samples, dt);
    }
    if (!st) st = sched_scatter(w, batch, n, &err);
    else sched_run_release(w);
    for (int i = 0; i < n; i++) sched_finish(s, batch[i], st, st ? err.msg : NULL);
}

/* Runs every warmup sample on this worker's instance; reports to create. */
static void sched_warm(sched_worker *w) {
    serve_scheduler *s = w->s;
    status fatal = STATUS_OK;
    errinfo ferr = {{0}};
    for (int i = 0; i < s->opts.n_warmup && !fatal; i++) {
        const serve_warmup_sample *ws = &s->opts.warmup[i];
        serve_request *r = ws->request;
        for (int c = 0; c < (ws->count > 0 ? ws->count : 1); c++) {
            errinfo err = {{0}};
            status st = sched_execute(w, &r, 1, &err);
            sched_run_release(w);
            if (!st) continue;
            if (ws->advisory) {
                log_warn("model %s: warmup sample '%s' failed on instance %d; its shapes were "
                         "guessed (symbolic dims set to 1), so the version loads anyway: %s",
                         s->name, ws->name, w->index, err.msg);
            } else {
                fatal = st;
                snprintf(ferr.msg, sizeof ferr.msg, "warmup sample '%s' failed on instance %d: %s",
                         ws->name, w->index, err.msg);
            }
            break;
        }
    }
    pthread_mutex_lock(&s->mu);
    if (fatal && !s->warm_status) {
        s->warm_status = fatal;
        s->warm_err = ferr;
    }
    s->warm_pending--;
    pthread_cond_broadcast(&s->warm_cv);
    pthread_mutex_unlock(&s->mu);
}

static void *sched_worker_main(void *arg) {
    sched_worker *w = arg;
    serve_scheduler *s = w->s;
    char tname[16]; /* the kernel keeps 15 bytes: "w3:resnet50:1" */
    snprintf(tname, 5, "w%u:", (unsigned)w->index % 100u);
    size_t used = strlen(tname);
    snprintf(tname + used, sizeof tname - used, "%.11s", s->name);
    pthread_setname_np(pthread_self(), tname);
    sched_warm(w);
    int n;
    while ((n = sched_next_batch(w, w->batch)) > 0) sched_run_batch(w, n);
    return NULL;
}

/* --- life cycle ---------------------------------------------------------------- */

static void cond_init_monotonic(pthread_cond_t *cv) {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}

/* Starts the workers (which warm up first) and waits for their warmup. */
static status sched_start_workers(serve_scheduler *s, errinfo *err) {
    /* Workers take no signals: the main thread handles SIGTERM/SIGINT. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    status st = STATUS_OK;
    uint64_t t0 = serve_clock_ns();
    pthread_mutex_lock(&s->mu);
    s->warm_pending = s->n_workers;
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n_workers; i++) {
        int rc = pthread_create(&s->workers[i].thread, NULL, sched_worker_main, &s->workers[i]);
        if (rc) {
            st = status_fail(err, STATUS_INTERNAL, "model %s: cannot start worker %d: %s", s->name,
                             i, strerror(rc));
            pthread_mutex_lock(&s->mu);
            s->warm_pending -= s->n_workers - i;
            pthread_mutex_unlock(&s->mu);
            break;
        }
        s->workers[i].started = true;
    }
    pthread_mutex_lock(&s->mu);
    while (s->warm_pending > 0) pthread_cond_wait(&s->warm_cv, &s->mu);
    if (!st && s->warm_status) st = status_fail(err, s->warm_status, "%s", s->warm_err.msg);
    pthread_mutex_unlock(&s->mu);
    if (!st && s->opts.n_warmup)
        log_verbose("model %s: warmup of %d sample(s) on %d instance(s) took %.1f ms", s->name,
                    s->opts.n_warmup, s->n_workers, (double)(serve_clock_ns() - t0) / 1e6);
    if (!st) {
        int rc = pthread_create(&s->timer, NULL, sched_timer_main, s);
        if (rc)
            st = status_fail(err, STATUS_INTERNAL, "model %s: cannot start the timer thread: %s",
                             s->name, strerror(rc));
        else s->timer_started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return st;
}

/* Batching limits: max_requests is how many requests one batch may hold
 * (each has at least one sample, so it is the sample limit too). */
static status sched_set_batching(serve_scheduler *s, const serve_scheduler_options *o,
                                 errinfo *err) {
    int mbs = s->meta->max_batch_size;
    if (o->max_batch_size > 0 && o->max_batch_size < mbs) mbs = o->max_batch_size;
    s->max_requests = o->dynamic_batching && mbs > 1 ? mbs : 1;
    if (o->n_preferred <= 0 || s->max_requests <= 1) return STATUS_OK;
    s->preferred = malloc((size_t)o->n_preferred * sizeof *s->preferred);
    if (!s->preferred)
        return status_fail(err, STATUS_NO_MEMORY, "out of memory creating a scheduler");
    for (int i = 0; i < o->n_preferred; i++)
        if (o->preferred_batch_sizes[i] > 0 && o->preferred_batch_sizes[i] <= s->max_requests)
            s->preferred[s->n_preferred++] = o->preferred_batch_sizes[i];
    return STATUS_OK;
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
    s->opts.preferred_batch_sizes = NULL;
    snprintf(s->name, sizeof s->name, "%s", opts->name ? opts->name : "?");
    pthread_mutex_init(&s->mu, NULL);
    cond_init_monotonic(&s->cv);
    cond_init_monotonic(&s->timer_cv);
    pthread_cond_init(&s->warm_cv, NULL);
    s->n_workers = opts->instances > 0 ? opts->instances : 1;
    if (s->opts.threads_per_instance <= 0) {
        int t = serve_cpu_count() / s->n_workers;
        s->opts.threads_per_instance = t > 0 ? t : 1;
    }
    if ((st = sched_set_batching(s, opts, err))) goto fail;
    s->workers = calloc((size_t)s->n_workers, sizeof *s->workers);
    if (!s->workers) {
        st = status_fail(err, STATUS_NO_MEMORY, "out of memory creating a scheduler");
        goto fail;
    }
    serve_instance_options io = {.threads = s->opts.threads_per_instance};
    for (int i = 0; i < s->n_workers; i++) {
        sched_worker *w = &s->workers[i];
        w->s = s;
        w->index = i;
        if ((st = sched_worker_scratch_init(w, err))) goto fail;
        if ((st = be->instance_create(model, &io, &w->inst, err))) {
            status_wrap(err, st, "instance %d", i);
            goto fail;
        }
    }
    st = sched_start_workers(s, err);
    s->opts.warmup = NULL; /* the caller's; not needed any more */
    s->opts.n_warmup = 0;
    if (st) goto fail;
    log_verbose("model %s: %d instance(s), %d intra-op thread(s) each, %s", s->name, s->n_workers,
                s->opts.threads_per_instance,
                s->max_requests > 1 ? "dynamic batching" : "one request at a time");
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
    pthread_cond_broadcast(&s->timer_cv);
    pthread_mutex_unlock(&s->mu);
    if (!join) return;
    if (s->timer_started) pthread_join(s->timer, NULL);
    for (int i = 0; s->workers && i < s->n_workers; i++)
        if (s->workers[i].started) pthread_join(s->workers[i].thread, NULL);
}

void serve_scheduler_destroy(serve_scheduler *s) {
    if (!s) return;
    serve_scheduler_shutdown(s);
    for (int i = 0; s->workers && i < s->n_workers; i++) {
        s->be->instance_destroy(s->workers[i].inst);
        if (s->workers[i].s) sched_worker_scratch_free(&s->workers[i]);
    }
    free(s->workers);
    free(s->preferred);
    pthread_cond_destroy(&s->warm_cv);
    pthread_cond_destroy(&s->timer_cv);
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
