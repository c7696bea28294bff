/* infer_request.c -- building, validating and completing a request. */
#include "infer_request_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/log.h"
#include "datatype.h"
#include "serve_metrics.h"

uint64_t serve_clock_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static status req_oom(errinfo *err) {
    return status_fail(err, STATUS_NO_MEMORY, "out of memory building a request");
}

/* Makes room for one more element in a growable array. */
static bool reserve(void **arr, int *cap, int n, size_t elem) {
    if (n < *cap) return true;
    int ncap = *cap ? *cap * 2 : 4;
    void *p = realloc(*arr, (size_t)ncap * elem);
    if (!p) return false;
    *arr = p;
    *cap = ncap;
    return true;
}

status serve_request_create(const char *model, int64_t version, serve_request **out,
                            errinfo *err) {
    *out = NULL;
    serve_request *r = calloc(1, sizeof *r);
    if (!r) return req_oom(err);
    if (!(r->model = strdup(model ? model : ""))) {
        free(r);
        return req_oom(err);
    }
    r->version = version;
    r->timing.arrival_ns = serve_clock_ns();
    atomic_init(&r->cancelled, false);
    atomic_init(&r->completed, false);
    *out = r;
    return STATUS_OK;
}

void serve_request_clear_outputs(serve_request *r) {
    for (int i = 0; i < r->n_outputs; i++) {
        req_output *o = &r->outputs[i];
        char *name = (char *)o->t.name;
        if (o->release) o->release(&o->t);
        else free(o->t.data);
        free(name);
    }
    r->n_outputs = 0;
}

void serve_request_destroy(serve_request *r) {
    if (!r) return;
    for (int i = 0; i < r->n_inputs; i++) {
        free((char *)r->inputs[i].t.name);
        if (r->inputs[i].owned) free(r->inputs[i].t.data);
    }
    free(r->inputs);
    for (int i = 0; i < r->n_wanted; i++) free(r->wanted[i]);
    free(r->wanted);
    serve_request_clear_outputs(r);
    free(r->outputs);
    free(r->id);
    free(r->model);
    free(r);
}

status serve_request_set_id(serve_request *r, const char *id, errinfo *err) {
    char *dup = strdup(id ? id : "");
    if (!dup) return req_oom(err);
    free(r->id);
    r->id = dup;
    return STATUS_OK;
}

status serve_request_add_input(serve_request *r, const char *name, engine_dtype dtype,
                               const engine_shape *shape, const void *data, size_t nbytes,
                               bool owned, errinfo *err) {
    char *nm = NULL;
    if (shape->rank < 0 || shape->rank > ENGINE_MAX_RANK) {
        if (owned) free((void *)data);
        return status_fail(err, STATUS_INVALID_ARGUMENT, "input '%s': rank %d is outside 0..%d",
                           name, shape->rank, ENGINE_MAX_RANK);
    }
    if (!reserve((void **)&r->inputs, &r->cap_inputs, r->n_inputs, sizeof *r->inputs) ||
        !(nm = strdup(name))) {
        if (owned) free((void *)data);
        return req_oom(err);
    }
    req_input *in = &r->inputs[r->n_inputs++];
    memset(in, 0, sizeof *in);
    in->t.name = nm;
    in->t.dtype = dtype;
    in->t.shape = *shape;
    in->t.data = (void *)data;
    in->t.nbytes = nbytes;
    in->owned = owned;
    return STATUS_OK;
}

status serve_request_add_requested_output(serve_request *r, const char *name, errinfo *err) {
    char *nm = NULL;
    if (!reserve((void **)&r->wanted, &r->cap_wanted, r->n_wanted, sizeof *r->wanted) ||
        !(nm = strdup(name)))
        return req_oom(err);
    r->wanted[r->n_wanted++] = nm;
    return STATUS_OK;
}

void serve_request_set_callback(serve_request *r, serve_request_done_fn done, void *ctx) {
    r->done = done;
    r->done_ctx = ctx;
}

void serve_request_set_timeout_us(serve_request *r, uint64_t us) { r->timeout_us = us; }
void serve_request_set_arrival_ns(serve_request *r, uint64_t ns) { r->timing.arrival_ns = ns; }
void serve_request_cancel(serve_request *r) { atomic_store(&r->cancelled, true); }
bool serve_request_is_cancelled(const serve_request *r) {
    return atomic_load((atomic_bool *)&r->cancelled);
}

const char *serve_request_id(const serve_request *r) { return r->id ? r->id : ""; }
const char *serve_request_model(const serve_request *r) { return r->model; }
int64_t serve_request_version(const serve_request *r) { return r->version; }
int64_t serve_request_model_version(const serve_request *r) { return r->model_version; }
int serve_request_input_count(const serve_request *r) { return r->n_inputs; }
const serve_tensor *serve_request_input(const serve_request *r, int i) {
    return i >= 0 && i < r->n_inputs ? &r->inputs[i].t : NULL;
}
int serve_request_requested_output_count(const serve_request *r) { return r->n_wanted; }
const char *serve_request_requested_output(const serve_request *r, int i) {
    return i >= 0 && i < r->n_wanted ? r->wanted[i] : NULL;
}
status serve_request_status(const serve_request *r) { return r->st; }
const char *serve_request_error(const serve_request *r) { return r->st ? r->err.msg : ""; }
int serve_request_output_count(const serve_request *r) { return r->n_outputs; }
const serve_tensor *serve_request_output(const serve_request *r, int i) {
    return i >= 0 && i < r->n_outputs ? &r->outputs[i].t : NULL;
}
const serve_timing *serve_request_timing(const serve_request *r) { return &r->timing; }

/* --- serving core side ------------------------------------------------------------ */

status serve_request_take_output(serve_request *r, serve_tensor *t,
                                 void (*release)(serve_tensor *t), errinfo *err) {
    char *nm = NULL;
    if (!reserve((void **)&r->outputs, &r->cap_outputs, r->n_outputs, sizeof *r->outputs) ||
        !(nm = strdup(t->name ? t->name : ""))) {
        if (release) release(t);
        else free(t->data);
        return status_fail(err, STATUS_NO_MEMORY, "out of memory storing output '%s'",
                           t->name ? t->name : "");
    }
    req_output *o = &r->outputs[r->n_outputs++];
    o->t = *t;
    o->t.name = nm;
    o->release = release;
    memset(t, 0, sizeof *t);
    return STATUS_OK;
}

/* Milliseconds between two timing stamps; 0 if either was not reached. */
static double req_span_ms(uint64_t from, uint64_t to) {
    return from && to >= from ? (double)(to - from) / 1e6 : 0;
}

/* The per-request log line, at --log-verbose 1 and above. */
static void req_log(const serve_request *r, uint64_t now) {
    if (!log_enabled(LOG_VERBOSE, 1)) return;
    const serve_timing *t = &r->timing;
    log_field f[8];
    int n = 0;
    f[n++] = LOG_STR("id", serve_request_id(r));
    f[n++] = LOG_STR("model", r->model);
    f[n++] = LOG_INT("version", r->model_version ? r->model_version : r->version);
    f[n++] = LOG_STR("status", status_name(r->st));
    f[n++] = LOG_NUM("latency_ms", req_span_ms(t->arrival_ns, now));
    if (t->queue_end_ns)
        f[n++] = LOG_NUM("queue_ms", req_span_ms(t->queue_start_ns, t->queue_end_ns));
    if (t->compute_end_ns)
        f[n++] = LOG_NUM("compute_ms", req_span_ms(t->compute_start_ns, t->compute_end_ns));
    if (r->st) f[n++] = LOG_STR("error", r->err.msg);
    log_event(LOG_VERBOSE, 1, "request", f, n);
}

void serve_request_complete(serve_request *r, status st, const char *msg) {
    if (atomic_exchange(&r->completed, true)) {
        log_error("request '%s' for model '%s' completed twice (ignored)", serve_request_id(r),
                  r->model);
        return;
    }
    r->st = st;
    if (st) {
        serve_request_clear_outputs(r);
        snprintf(r->err.msg, sizeof r->err.msg, "%s", msg && msg[0] ? msg : status_message(st));
    } else {
        r->err.msg[0] = '\0';
    }
    uint64_t now = serve_clock_ns();
    serve_metrics_observe_request(r->metrics, st, &r->timing, now);
    req_log(r, now);
    if (r->done) r->done(r, r->done_ctx); /* last touch: r may be freed in there */
}

/* --- validation ---------------------------------------------------------------------- */

static status invalid(errinfo *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static status invalid(errinfo *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    status_vfail(err, STATUS_INVALID_ARGUMENT, fmt, ap);
    va_end(ap);
    return STATUS_INVALID_ARGUMENT;
}

static const char *io_names(const serve_io *arr, int n, char *buf, size_t len) {
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s'%s'", i ? ", " : "", arr[i].name);
    if (!n) snprintf(buf, len, "none");
    return buf;
}

static bool dims_match(const serve_io *io, const engine_shape *s) {
    if (io->rank < 0) return true;
    if (io->rank != s->rank) return false;
    for (int i = 0; i < s->rank; i++)
        if (io->dims[i] >= 0 && io->dims[i] != s->dims[i]) return false;
    return true;
}

static status check_input(const req_input *in, const serve_io *io, int mbs, errinfo *err) {
    const serve_tensor *t = &in->t;
    char want[160], got[160];
    if (t->dtype != io->dtype)
        return invalid(err, "input '%s': expected datatype %s, got %s", t->name,
                       serve_datatype_name(io->dtype), serve_datatype_name(t->dtype));
    for (int i = 0; i < t->shape.rank; i++)
        if (t->shape.dims[i] < 0)
            return invalid(err, "input '%s': dimensions must not be negative, got %s", t->name,
                           serve_dims_format(got, sizeof got, t->shape.rank, t->shape.dims));
    if (!dims_match(io, &t->shape))
        return invalid(err, "input '%s': expected shape %s, got %s", t->name,
                       serve_dims_format(want, sizeof want, io->rank, io->dims),
                       serve_dims_format(got, sizeof got, t->shape.rank, t->shape.dims));
    if (mbs > 0 && t->shape.rank > 0 && (t->shape.dims[0] < 1 || t->shape.dims[0] > mbs))
        return invalid(err, "input '%s': batch size (first dimension) must be 1 to %d "
                       "(max_batch_size), got %lld", t->name, mbs, (long long)t->shape.dims[0]);
    int64_t n = engine_shape_numel(&t->shape);
    size_t elem = serve_datatype_size(t->dtype);
    if (n < 0 || (elem && (uint64_t)n > SIZE_MAX / elem))
        return invalid(err, "input '%s': shape %s is too large", t->name,
                       serve_dims_format(got, sizeof got, t->shape.rank, t->shape.dims));
    if ((size_t)n * elem != t->nbytes)
        return invalid(err, "input '%s': shape %s needs %lld elements (%zu bytes of %s), got %zu "
                       "bytes", t->name,
                       serve_dims_format(got, sizeof got, t->shape.rank, t->shape.dims),
                       (long long)n, (size_t)n * elem, serve_datatype_name(t->dtype), t->nbytes);
    return STATUS_OK;
}

static status check_inputs(const serve_request *r, const serve_model_meta *m, errinfo *err) {
    char names[300];
    const req_input *first_batched = NULL;
    for (int i = 0; i < r->n_inputs; i++) {
        const req_input *in = &r->inputs[i];
        for (int j = 0; j < i; j++)
            if (!strcmp(r->inputs[j].t.name, in->t.name))
                return invalid(err, "input '%s' given more than once", in->t.name);
        int k = serve_meta_find_input(m, in->t.name);
        if (k < 0)
            return invalid(err, "unknown input '%s' (model '%s' has inputs %s)", in->t.name,
                           m->name ? m->name : "", io_names(m->inputs, m->n_inputs, names, sizeof names));
        status st = check_input(in, &m->inputs[k], m->max_batch_size, err);
        if (st) return st;
        if (m->max_batch_size <= 0 || in->t.shape.rank == 0) continue;
        if (!first_batched) first_batched = in;
        else if (first_batched->t.shape.dims[0] != in->t.shape.dims[0])
            return invalid(err, "input '%s': batch size %lld differs from input '%s' (%lld)",
                           in->t.name, (long long)in->t.shape.dims[0], first_batched->t.name,
                           (long long)first_batched->t.shape.dims[0]);
    }
    for (int k = 0; k < m->n_inputs; k++) {
        const serve_io *io = &m->inputs[k];
        if (io->optional) continue;
        bool given = false;
        for (int i = 0; i < r->n_inputs && !given; i++) given = !strcmp(r->inputs[i].t.name, io->name);
        if (!given) {
            char shape[160];
            return invalid(err, "missing input '%s' (expected datatype %s, shape %s)", io->name,
                           serve_datatype_name(io->dtype),
                           serve_dims_format(shape, sizeof shape, io->rank, io->dims));
        }
    }
    return STATUS_OK;
}

static status check_outputs(const serve_request *r, const serve_model_meta *m, errinfo *err) {
    char names[300];
    for (int i = 0; i < r->n_wanted; i++) {
        for (int j = 0; j < i; j++)
            if (!strcmp(r->wanted[i], r->wanted[j]))
                return invalid(err, "output '%s' requested more than once", r->wanted[i]);
        if (serve_meta_find_output(m, r->wanted[i]) < 0)
            return invalid(err, "unknown output '%s' (model '%s' has outputs %s)", r->wanted[i],
                           m->name ? m->name : "",
                           io_names(m->outputs, m->n_outputs, names, sizeof names));
    }
    return STATUS_OK;
}

status serve_request_validate(const serve_request *r, const serve_model_meta *meta, errinfo *err) {
    status st = check_inputs(r, meta, err);
    if (st) return st;
    return check_outputs(r, meta, err);
}
