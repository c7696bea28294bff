/* batcher.c -- the batcher step: which queued requests run together next.
 *
 * Triton's dynamic batcher, as scheduler.h describes it. A free worker
 * looks at the front of the queue under the scheduler's lock:
 *
 *   candidates   the longest run of requests from the head that match the
 *                head (same input names, datatypes, and dims but the first)
 *                and fit in max_batch_size samples together;
 *   send now     the largest prefix whose samples add up to a preferred
 *                size, if there is one; else all candidates when the batch
 *                cannot grow (max_batch_size reached, or the next request
 *                does not fit or does not match), when the head has waited
 *                max_queue_delay, or when the scheduler is draining;
 *   otherwise    wait on the condition variable until the head's delay is
 *                over or a submit wakes the worker, then look again.
 *
 * The batch is a prefix of the queue, so requests run in arrival order and
 * a request that matches nothing in front of it is never starved: it
 * becomes the head and runs alone if need be. Cancelled and timed-out
 * requests met at the front are completed here (outside the lock) rather
 * than run. */
#include <string.h>
#include <time.h>

#include "scheduler_int.h"

const serve_tensor *sched_request_input(const serve_request *r, int hint, const char *name) {
    if (hint >= 0 && hint < r->n_inputs && !strcmp(r->inputs[hint].t.name, name))
        return &r->inputs[hint].t;
    for (int i = 0; i < r->n_inputs; i++)
        if (!strcmp(r->inputs[i].t.name, name)) return &r->inputs[i].t;
    return NULL;
}

int64_t sched_request_samples(const serve_scheduler *s, const serve_request *r) {
    if (s->meta->max_batch_size <= 0) return 1;
    for (int i = 0; i < r->n_inputs; i++) {
        const engine_shape *sh = &r->inputs[i].t.shape;
        if (sh->rank > 0 && sh->dims[0] > 0) return sh->dims[0];
    }
    return 1;
}

/* Every input has a batch dim to concatenate along. */
static bool batchable(const serve_request *r) {
    for (int i = 0; i < r->n_inputs; i++)
        if (r->inputs[i].t.shape.rank < 1) return false;
    return r->n_inputs > 0;
}

/* b may run in one batch with a: the same inputs, datatypes and dims but
 * the batch dim. Requested outputs never conflict (the batch computes the
 * union). */
static bool compatible(const serve_request *a, const serve_request *b) {
    if (a->n_inputs != b->n_inputs) return false;
    for (int i = 0; i < a->n_inputs; i++) {
        const serve_tensor *t = &a->inputs[i].t;
        const serve_tensor *u = sched_request_input(b, i, t->name);
        if (!u || u->dtype != t->dtype || u->shape.rank != t->shape.rank || t->shape.rank < 1)
            return false;
        for (int d = 1; d < t->shape.rank; d++)
            if (u->shape.dims[d] != t->shape.dims[d]) return false;
    }
    return true;
}

static bool is_preferred(const serve_scheduler *s, int64_t samples) {
    for (int i = 0; i < s->n_preferred; i++)
        if (s->preferred[i] == samples) return true;
    return false;
}

/* How many requests from the head to send now; 0 = wait until *wake_ns. */
static int plan(const serve_scheduler *s, uint64_t now, uint64_t *wake_ns) {
    const serve_request *head = s->head;
    if (s->max_requests <= 1 || !batchable(head)) return 1;
    int64_t limit = s->max_requests; /* in samples: a request has at least one */
    int n = 0, best = 0;
    int64_t total = 0;
    bool full = false;
    for (const serve_request *r = head; r; r = r->next) {
        int64_t b = sched_request_samples(s, r);
        if (n == s->max_requests || (n > 0 && (total + b > limit || !compatible(head, r)))) {
            full = true;
            break;
        }
        total += b;
        n++;
        if (is_preferred(s, total)) best = n;
    }
    if (best) return best;
    uint64_t due = head->timing.queue_start_ns + s->opts.max_queue_delay_us * 1000u;
    if (full || total >= limit || s->stopping || now >= due) return n;
    *wake_ns = due;
    return 0;
}

/* Unlinks the stale requests among the ones plan() may look at. */
static serve_request *prune_front(serve_scheduler *s, uint64_t now) {
    serve_request *dropped = NULL, **tail = &dropped;
    serve_request *prev = NULL, *r = s->head;
    for (int seen = 0; r && seen <= s->max_requests; seen++) {
        serve_request *next = r->next;
        if (sched_stale(r, now)) {
            sched_unlink(s, prev, r);
            *tail = r;
            tail = &r->next;
        } else {
            prev = r;
        }
        r = next;
    }
    return dropped;
}

static struct timespec to_timespec(uint64_t ns) {
    return (struct timespec){.tv_sec = (time_t)(ns / 1000000000u),
                             .tv_nsec = (long)(ns % 1000000000u)};
}

int sched_next_batch(sched_worker *w, serve_request **batch) {
    serve_scheduler *s = w->s;
    pthread_mutex_lock(&s->mu);
    s->idle++;
    for (;;) {
        uint64_t now = serve_clock_ns();
        serve_request *dropped = prune_front(s, now);
        if (dropped) {
            pthread_mutex_unlock(&s->mu);
            sched_drop_chain(s, dropped, now);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        if (!s->head) {
            if (s->stopping) break;
            s->sleeping++;
            pthread_cond_wait(&s->cv, &s->mu);
            s->sleeping--;
            continue;
        }
        uint64_t wake = 0;
        int n = plan(s, now, &wake);
        if (!n) {
            struct timespec ts = to_timespec(wake);
            s->sleeping++;
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            s->sleeping--;
            continue;
        }
        for (int i = 0; i < n; i++) {
            serve_request *r = s->head;
            sched_unlink(s, NULL, r);
            r->timing.queue_end_ns = now;
            batch[i] = r;
        }
        bool more = s->head != NULL && s->sleeping > 0; /* the rest is another worker's */
        s->idle--;
        pthread_mutex_unlock(&s->mu);
        if (more) pthread_cond_signal(&s->cv); /* after the unlock: see submit */
        return n;
    }
    s->idle--;
    pthread_mutex_unlock(&s->mu);
    return 0;
}
