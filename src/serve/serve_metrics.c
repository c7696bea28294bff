/* serve_metrics.c -- per model version series, observations, /metrics text.
 *
 * The registry keeps its series in a list sorted by (model, version) under
 * one mutex, so a scrape writes each family in one pass and the per-model
 * gauges sum adjacent versions. Observations touch only the series' own
 * atomics and never the mutex. */
#include "serve_metrics.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "metrics_text.h"

/* "reason" label values, in exposition order; [0] is success. */
enum { REASON_NONE, REASON_INVALID, REASON_QUEUE_FULL, REASON_TIMEOUT, REASON_CANCELLED,
       REASON_UNAVAILABLE, REASON_OOM, REASON_INTERNAL, REASON__COUNT };

static const char *const reason_names[REASON__COUNT] = {
    "", "invalid_input", "queue_full", "timeout", "cancelled", "unavailable", "out_of_memory",
    "internal"};

struct serve_model_metrics {
    serve_metrics *reg;
    char *model;
    int64_t version;
    char version_label[24];
    /* guarded by reg->mu */
    bool registered;
    serve_scheduler *sched;
    struct serve_model_metrics *prev, *next;
    /* lock-free */
    metrics_counter requests[REASON__COUNT];
    metrics_histogram request_duration, queue_duration, compute_duration;
    metrics_histogram batch_size; /* its count and sum are the execution and inference counts */
    metrics_gauge ready;
    metrics_gauge load_ns;
};

struct serve_metrics {
    pthread_mutex_t mu;
    serve_model_metrics *head; /* sorted by model, then version */
};

static int reason_index(status st) {
    switch (st) {
    case STATUS_OK: return REASON_NONE;
    case STATUS_INVALID_ARGUMENT:
    case STATUS_NOT_FOUND:
    case STATUS_UNSUPPORTED:
    case STATUS_TOO_LARGE:
    case STATUS_FAILED_PRECONDITION: return REASON_INVALID;
    case STATUS_RESOURCE_EXHAUSTED: return REASON_QUEUE_FULL;
    case STATUS_DEADLINE_EXCEEDED: return REASON_TIMEOUT;
    case STATUS_CANCELLED: return REASON_CANCELLED;
    case STATUS_UNAVAILABLE: return REASON_UNAVAILABLE;
    case STATUS_NO_MEMORY: return REASON_OOM;
    default: return REASON_INTERNAL;
    }
}

const char *serve_metrics_reason(status st) { return reason_names[reason_index(st)]; }

/* --- registry ------------------------------------------------------------------- */

status serve_metrics_create(serve_metrics **out, errinfo *err) {
    *out = NULL;
    serve_metrics *reg = calloc(1, sizeof *reg);
    if (!reg)
        return status_fail(err, STATUS_NO_MEMORY, "out of memory creating the metrics registry");
    pthread_mutex_init(&reg->mu, NULL);
    *out = reg;
    return STATUS_OK;
}

void serve_metrics_destroy(serve_metrics *reg) {
    if (!reg) return;
    /* Series still registered are a caller bug; detach them so their own
     * destroy does not touch freed memory. */
    for (serve_model_metrics *m = reg->head; m; m = m->next) {
        m->registered = false;
        m->reg = NULL;
    }
    pthread_mutex_destroy(&reg->mu);
    free(reg);
}

/* Orders series by model name, then numerically by version. */
static int series_cmp(const serve_model_metrics *a, const char *model, int64_t version) {
    int c = strcmp(a->model, model);
    if (c) return c;
    return a->version < version ? -1 : a->version > version;
}

/* After any series with equal labels, so a group's newest copy is last. */
static void list_insert(serve_metrics *reg, serve_model_metrics *m) {
    serve_model_metrics **link = &reg->head, *prev = NULL;
    while (*link && series_cmp(*link, m->model, m->version) <= 0) {
        prev = *link;
        link = &(*link)->next;
    }
    m->next = *link;
    m->prev = prev;
    if (*link) (*link)->prev = m;
    *link = m;
    m->registered = true;
}

status serve_metrics_add_model(serve_metrics *reg, const char *model, int64_t version,
                               serve_model_metrics **out, errinfo *err) {
    *out = NULL;
    if (!reg) return STATUS_OK;
    serve_model_metrics *m = calloc(1, sizeof *m);
    if (!m || !(m->model = strdup(model))) {
        free(m);
        return status_fail(err, STATUS_NO_MEMORY, "out of memory creating metrics for model '%s'",
                           model);
    }
    m->reg = reg;
    m->version = version;
    snprintf(m->version_label, sizeof m->version_label, "%" PRId64, version);
    metrics_histogram_init(&m->request_duration, &metrics_buckets_seconds);
    metrics_histogram_init(&m->queue_duration, &metrics_buckets_seconds);
    metrics_histogram_init(&m->compute_duration, &metrics_buckets_seconds);
    metrics_histogram_init(&m->batch_size, &metrics_buckets_batch);
    pthread_mutex_lock(&reg->mu);
    list_insert(reg, m);
    pthread_mutex_unlock(&reg->mu);
    *out = m;
    return STATUS_OK;
}

void serve_model_metrics_set_scheduler(serve_model_metrics *m, serve_scheduler *s) {
    if (!m || !m->reg) return;
    pthread_mutex_lock(&m->reg->mu);
    m->sched = m->registered ? s : NULL;
    pthread_mutex_unlock(&m->reg->mu);
}

void serve_model_metrics_set_ready(serve_model_metrics *m, bool ready) {
    if (m) metrics_gauge_set(&m->ready, ready);
}

void serve_model_metrics_set_load_duration(serve_model_metrics *m, uint64_t ns) {
    if (m) metrics_gauge_set(&m->load_ns, (int64_t)ns);
}

/* Takes m out of the list; under reg->mu. */
static void list_remove(serve_metrics *reg, serve_model_metrics *m) {
    if (m->registered) {
        if (m->prev) m->prev->next = m->next;
        else reg->head = m->next;
        if (m->next) m->next->prev = m->prev;
        m->prev = m->next = NULL;
        m->registered = false;
    }
    m->sched = NULL;
}

void serve_model_metrics_unregister(serve_model_metrics *m) {
    if (!m || !m->reg) return;
    pthread_mutex_lock(&m->reg->mu);
    list_remove(m->reg, m);
    pthread_mutex_unlock(&m->reg->mu);
}

static void fold_histogram(metrics_histogram *into, metrics_histogram *from) {
    for (int i = 0; i <= METRICS_MAX_BUCKETS; i++)
        atomic_fetch_add(&into->count[i], atomic_load(&from->count[i]));
    atomic_fetch_add(&into->sum, atomic_load(&from->sum));
}

/* A registered series with m's labels (the copy that replaced m), or NULL;
 * under reg->mu. */
static serve_model_metrics *find_twin(serve_metrics *reg, const serve_model_metrics *m) {
    for (serve_model_metrics *g = reg->head; g; g = g->next)
        if (g != m && !strcmp(g->model, m->model) && g->version == m->version) return g;
    return NULL;
}

void serve_model_metrics_destroy(serve_model_metrics *m) {
    if (!m) return;
    serve_metrics *reg = m->reg;
    if (reg) {
        /* A version reloaded in place: its counts move to the copy that
         * replaced it, so the (summed) counters never go backwards. */
        pthread_mutex_lock(&reg->mu);
        list_remove(reg, m);
        serve_model_metrics *twin = find_twin(reg, m);
        if (twin) {
            for (int r = 0; r < REASON__COUNT; r++)
                metrics_counter_add(&twin->requests[r], metrics_counter_get(&m->requests[r]));
            fold_histogram(&twin->request_duration, &m->request_duration);
            fold_histogram(&twin->queue_duration, &m->queue_duration);
            fold_histogram(&twin->compute_duration, &m->compute_duration);
            fold_histogram(&twin->batch_size, &m->batch_size);
        }
        pthread_mutex_unlock(&reg->mu);
    }
    free(m->model);
    free(m);
}

/* --- observations ---------------------------------------------------------------- */

static void observe_span(metrics_histogram *h, uint64_t from, uint64_t to) {
    if (from && to >= from) metrics_histogram_observe(h, to - from);
}

void serve_metrics_observe_request(serve_model_metrics *m, status st, const serve_timing *t,
                                   uint64_t done_ns) {
    if (!m) return;
    metrics_counter_add(&m->requests[reason_index(st)], 1);
    if (!t) return;
    if (t->queue_end_ns)
        observe_span(&m->queue_duration, t->queue_start_ns, t->queue_end_ns);
    else if (st == STATUS_DEADLINE_EXCEEDED || st == STATUS_CANCELLED)
        observe_span(&m->queue_duration, t->queue_start_ns, done_ns); /* dropped unstamped */
    if (t->compute_end_ns)
        observe_span(&m->compute_duration, t->compute_start_ns, t->compute_end_ns);
    /* Successes only: 429s and validation errors answered in microseconds
     * would otherwise pull the latency quantiles down exactly under overload. */
    if (st == STATUS_OK) observe_span(&m->request_duration, t->arrival_ns, done_ns);
}

void serve_metrics_observe_execution(serve_model_metrics *m, int batch_size, uint64_t compute_ns) {
    (void)compute_ns; /* per-request compute time is observed at completion */
    if (!m || batch_size < 0) return;
    metrics_histogram_observe(&m->batch_size, (uint64_t)batch_size);
}

void serve_metrics_on_execution(void *ctx, int batch_size, uint64_t compute_ns) {
    serve_metrics_observe_execution(ctx, batch_size, compute_ns);
}

/* --- exposition ------------------------------------------------------------------- */

typedef struct family {
    const char *name, *type, *help;
} family;

static const family F_REQUESTS = {
    "inferd_requests_total", "counter",
    "Inference requests completed by a model version, by outcome; failures carry a reason "
    "(invalid_input, queue_full, timeout, cancelled, unavailable, out_of_memory, internal)."};
static const family F_REQUEST_DURATION = {
    "inferd_request_duration_seconds", "histogram",
    "Time from a request's arrival to its completion, successful requests only."};
static const family F_QUEUE_DURATION = {
    "inferd_queue_duration_seconds", "histogram",
    "Time requests waited in the model's queue before a worker took them."};
static const family F_COMPUTE_DURATION = {
    "inferd_compute_duration_seconds", "histogram",
    "Time of the backend execution that ran each request (the whole batch)."};
static const family F_BATCH_SIZE = {"inferd_batch_size", "histogram",
                                    "Samples per backend execution."};
static const family F_INFERENCES = {
    "inferd_inference_count_total", "counter",
    "Samples inferred (the batch sizes of all executions summed)."};
static const family F_EXECUTIONS = {"inferd_execution_count_total", "counter",
                                    "Backend executions (batches) run."};
static const family F_QUEUE_SIZE = {
    "inferd_queue_size", "gauge",
    "Requests waiting in the queues of a model's versions (the autoscaling signal)."};
static const family F_INFLIGHT = {
    "inferd_inflight_requests", "gauge",
    "Requests accepted by a model's versions and not yet completed (queued or running)."};
static const family F_READY = {"inferd_model_ready", "gauge",
                               "1 if the model version is ready to serve, else 0."};
static const family F_LOAD_DURATION = {
    "inferd_model_load_duration_seconds", "gauge",
    "How long loading the model version took (0 while it is loading)."};

static void header(metrics_text *t, const family *f) {
    metrics_text_family(t, f->name, f->type, f->help);
}

/* The first series after m's run of equal labels. A version reloaded in
 * place has two series while the old copy drains; they are written as one
 * (counters summed), since duplicate series make Prometheus reject the
 * whole scrape. */
static const serve_model_metrics *group_end(const serve_model_metrics *m) {
    const serve_model_metrics *e = m->next;
    while (e && !strcmp(e->model, m->model) && e->version == m->version) e = e->next;
    return e;
}

/* The histogram at `offset` in each series of [m, end), summed. */
static void group_histogram(const serve_model_metrics *m, const serve_model_metrics *end,
                            size_t offset, metrics_histogram_snapshot *out) {
    metrics_histogram_read((const metrics_histogram *)((const char *)m + offset), out);
    for (const serve_model_metrics *g = m->next; g != end; g = g->next) {
        metrics_histogram_snapshot s;
        metrics_histogram_read((const metrics_histogram *)((const char *)g + offset), &s);
        for (int i = 0; i <= METRICS_MAX_BUCKETS; i++) out->cumulative[i] += s.cumulative[i];
        out->count += s.count;
        out->sum += s.sum;
    }
}

static void write_requests(metrics_text *t, const serve_model_metrics *head) {
    header(t, &F_REQUESTS);
    for (const serve_model_metrics *m = head, *end; m; m = end) {
        end = group_end(m);
        for (int r = 0; r < REASON__COUNT; r++) {
            uint64_t n = 0;
            for (const serve_model_metrics *g = m; g != end; g = g->next)
                n += metrics_counter_get(&g->requests[r]);
            metrics_label l[] = {{"model", m->model},
                                 {"version", m->version_label},
                                 {"status", r == REASON_NONE ? "success" : "failure"},
                                 {"reason", reason_names[r]}};
            metrics_text_uint(t, F_REQUESTS.name, l, 4, n);
        }
    }
}

static void write_histograms(metrics_text *t, const serve_model_metrics *head, const family *f,
                             size_t offset) {
    header(t, f);
    for (const serve_model_metrics *m = head, *end; m; m = end) {
        end = group_end(m);
        metrics_label l[] = {{"model", m->model}, {"version", m->version_label}};
        metrics_histogram_snapshot s;
        group_histogram(m, end, offset, &s);
        metrics_text_histogram(t, f->name, l, 2, &s);
    }
}

/* Execution and inference counts come from the batch size histogram, so
 * they agree with it exactly. */
static void write_counts(metrics_text *t, const serve_model_metrics *head, bool inferences) {
    const family *f = inferences ? &F_INFERENCES : &F_EXECUTIONS;
    header(t, f);
    for (const serve_model_metrics *m = head, *end; m; m = end) {
        end = group_end(m);
        metrics_label l[] = {{"model", m->model}, {"version", m->version_label}};
        metrics_histogram_snapshot s;
        group_histogram(m, end, offsetof(serve_model_metrics, batch_size), &s);
        metrics_text_uint(t, f->name, l, 2, inferences ? (uint64_t)s.sum : s.count);
    }
}

/* inferd_queue_size and inferd_inflight_requests, one sample per model:
 * versions are adjacent in the list, so summing runs is one pass. */
static void write_model_gauges(metrics_text *t, const serve_model_metrics *head, bool inflight) {
    const family *f = inflight ? &F_INFLIGHT : &F_QUEUE_SIZE;
    header(t, f);
    for (const serve_model_metrics *m = head; m;) {
        int64_t sum = 0;
        const char *model = m->model;
        for (; m && !strcmp(m->model, model); m = m->next) {
            if (!m->sched) continue;
            serve_scheduler_stats st;
            serve_scheduler_get_stats(m->sched, &st);
            sum += inflight ? st.inflight : st.queued;
        }
        metrics_label l[] = {{"model", model}};
        metrics_text_int(t, f->name, l, 1, sum);
    }
}

/* Ready if any copy is; the load time of the newest copy that has one. */
static void write_version_gauges(metrics_text *t, const serve_model_metrics *head) {
    header(t, &F_READY);
    for (const serve_model_metrics *m = head, *end; m; m = end) {
        end = group_end(m);
        int64_t ready = 0;
        for (const serve_model_metrics *g = m; g != end; g = g->next)
            ready |= metrics_gauge_get(&g->ready);
        metrics_label l[] = {{"model", m->model}, {"version", m->version_label}};
        metrics_text_int(t, F_READY.name, l, 2, ready != 0);
    }
    header(t, &F_LOAD_DURATION);
    for (const serve_model_metrics *m = head, *end; m; m = end) {
        end = group_end(m);
        int64_t ns = 0;
        for (const serve_model_metrics *g = m; g != end; g = g->next)
            if (metrics_gauge_get(&g->load_ns)) ns = metrics_gauge_get(&g->load_ns);
        metrics_label l[] = {{"model", m->model}, {"version", m->version_label}};
        metrics_text_double(t, F_LOAD_DURATION.name, l, 2, (double)ns / 1e9);
    }
}

status serve_metrics_render(serve_metrics *reg, char **out, size_t *len, errinfo *err) {
    *out = NULL;
    *len = 0;
    metrics_text t;
    metrics_text_init(&t);
    pthread_mutex_lock(&reg->mu);
    const serve_model_metrics *head = reg->head;
    write_requests(&t, head);
    write_histograms(&t, head, &F_REQUEST_DURATION,
                     offsetof(serve_model_metrics, request_duration));
    write_histograms(&t, head, &F_QUEUE_DURATION, offsetof(serve_model_metrics, queue_duration));
    write_histograms(&t, head, &F_COMPUTE_DURATION,
                     offsetof(serve_model_metrics, compute_duration));
    write_histograms(&t, head, &F_BATCH_SIZE, offsetof(serve_model_metrics, batch_size));
    write_counts(&t, head, true);
    write_counts(&t, head, false);
    write_model_gauges(&t, head, false);
    write_model_gauges(&t, head, true);
    write_version_gauges(&t, head);
    pthread_mutex_unlock(&reg->mu);
    metrics_text_process(&t);
    *out = metrics_text_take(&t, len);
    if (!*out) return status_fail(err, STATUS_NO_MEMORY, "out of memory rendering metrics");
    return STATUS_OK;
}
