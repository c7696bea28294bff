/* test_batcher.c -- the dynamic batcher and the queue policy, on the fake
 * backend: concatenation and scatter (values, shapes, requested outputs),
 * requests of different shapes never mixed, max_batch_size, preferred
 * sizes, max_queue_delay, several instances, a full queue, timeouts that
 * fire while every worker is busy, cancellation.
 *
 * The fake backend copies its first input to every output it is asked for
 * (+1 for FP32) with the input's shape, so a request that got its own rows
 * back, plus one, was concatenated and scattered right. Batch sizes are
 * observed through the scheduler's on_execution hook. Executions are held
 * at the fake's gate so that the queue fills deterministically. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "fake_backend.h"
#include "serve/infer_request.h"
#include "serve/scheduler.h"
#include "serve_test.h"

/* --- a model on the fake backend, with config.pbtxt ------------------------------ */

typedef struct fixture {
    model_config *cfg;
    serve_backend_model *bm;
    serve_model_meta *meta;
    serve_scheduler *s;
} fixture;

/* Batch sizes seen by on_execution, in order. */
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
static int seen[256];
static int n_seen;

static void on_execution(void *ctx, int batch, uint64_t ns) {
    (void)ctx;
    (void)ns;
    pthread_mutex_lock(&seen_mu);
    if (n_seen < 256) seen[n_seen++] = batch;
    pthread_mutex_unlock(&seen_mu);
}

static void seen_reset(void) {
    pthread_mutex_lock(&seen_mu);
    n_seen = 0;
    pthread_mutex_unlock(&seen_mu);
}

/* "4 4 2" */
static const char *seen_str(void) {
    static char buf[512];
    size_t o = 0;
    buf[0] = '\0';
    pthread_mutex_lock(&seen_mu);
    for (int i = 0; i < n_seen && o < sizeof buf; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%d", i ? " " : "", seen[i]);
    pthread_mutex_unlock(&seen_mu);
    return buf;
}

#define CHECK_SEEN(want)                                                                \
    do {                                                                                \
        const char *got_ = seen_str();                                                  \
        test_checks++;                                                                  \
        if (strcmp(got_, (want))) {                                                     \
            fprintf(stderr, "%s:%d: batch sizes: want \"%s\", got \"%s\"\n", __FILE__, \
                    __LINE__, (want), got_);                                            \
            test_failures++;                                                            \
        }                                                                               \
    } while (0)

/* config: config.pbtxt text; so: extra options (instances, ...). */
static status fixture_init(fixture *f, const char *spec, const char *config,
                           serve_scheduler_options *extra, errinfo *err) {
    memset(f, 0, sizeof *f);
    status st = model_config_parse(config, strlen(config), "test", &f->cfg, err);
    if (!st) st = fake_model_from_spec(spec, &f->bm, err);
    if (!st) st = serve_meta_build("m", 1, f->cfg, fake_model_meta(f->bm), &f->meta, err);
    if (st) return st;
    serve_scheduler_options so;
    serve_scheduler_options_from_config(&so, f->cfg);
    so.name = "m:1";
    so.threads_per_instance = 1;
    so.on_execution = on_execution;
    if (extra && extra->instances) so.instances = extra->instances;
    if (extra && extra->warmup) {
        so.warmup = extra->warmup;
        so.n_warmup = extra->n_warmup;
    }
    seen_reset();
    return serve_scheduler_create(&fake_backend, f->bm, f->meta, &so, &f->s, err);
}

static void fixture_deinit(fixture *f) {
    serve_scheduler_destroy(f->s);
    serve_meta_free(f->meta);
    fake_model_unload(f->bm);
    model_config_release(f->cfg);
}

/* --- requests and their results ------------------------------------------------------ */

enum { MAX_REQ = 128 };

typedef struct result {
    status st;
    int n_out;
    char names[4][8];
    engine_shape shape[4];
    float first[4], last[4];     /* first and last element of each output */
    uint64_t queue_ns;
    uint64_t done_ns;
} result;

static pthread_mutex_t res_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t res_cv = PTHREAD_COND_INITIALIZER;
static result res[MAX_REQ];
static int n_done;

static void results_reset(void) {
    pthread_mutex_lock(&res_mu);
    memset(res, 0, sizeof res);
    for (int i = 0; i < MAX_REQ; i++) res[i].st = (status)-1;
    n_done = 0;
    pthread_mutex_unlock(&res_mu);
}

static bool wait_done(int n, int timeout_ms) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&res_mu);
    int rc = 0;
    while (n_done < n && rc == 0) rc = pthread_cond_timedwait(&res_cv, &res_mu, &until);
    bool ok = n_done >= n;
    pthread_mutex_unlock(&res_mu);
    return ok;
}

static int done_count(void) {
    pthread_mutex_lock(&res_mu);
    int n = n_done;
    pthread_mutex_unlock(&res_mu);
    return n;
}

static void on_done(serve_request *r, void *ctx) {
    int idx = (int)(intptr_t)ctx;
    result out = {.st = serve_request_status(r), .done_ns = serve_clock_ns()};
    const serve_timing *t = serve_request_timing(r);
    if (t->queue_end_ns) out.queue_ns = t->queue_end_ns - t->queue_start_ns;
    out.n_out = serve_request_output_count(r);
    for (int i = 0; i < out.n_out && i < 4; i++) {
        const serve_tensor *o = serve_request_output(r, i);
        snprintf(out.names[i], sizeof out.names[i], "%s", o->name);
        out.shape[i] = o->shape;
        size_t n = o->nbytes / sizeof(float);
        if (n) {
            out.first[i] = ((const float *)o->data)[0];
            out.last[i] = ((const float *)o->data)[n - 1];
        }
    }
    serve_request_destroy(r);
    pthread_mutex_lock(&res_mu);
    res[idx] = out;
    n_done++;
    pthread_cond_broadcast(&res_cv);
    pthread_mutex_unlock(&res_mu);
}

/* A request with `rows` rows of `cols` floats: row k holds idx * 100 + k. */
static serve_request *make_req(int idx, int rows, int cols) {
    serve_request *r = NULL;
    errinfo err;
    if (serve_request_create("m", 0, &r, &err)) return NULL;
    size_t n = (size_t)rows * (size_t)cols;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; x && i < n; i++) x[i] = (float)(idx * 100 + (int)(i / (size_t)cols));
    engine_shape s = {2, {rows, cols}};
    if (!x || serve_request_add_input(r, "x", ENGINE_FLOAT, &s, x, n * sizeof *x, true, &err)) {
        serve_request_destroy(r);
        return NULL;
    }
    serve_request_set_callback(r, on_done, (void *)(intptr_t)idx);
    return r;
}

static void sleep_ms(int ms) { nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL); }

/* In-flight drops just after a callback returns: wait for it. */
static void wait_inflight(serve_scheduler *s, int64_t n) {
    serve_scheduler_stats st;
    for (int i = 0; i < 5000; i++) {
        serve_scheduler_get_stats(s, &st);
        if (st.inflight <= n) return;
        sleep_ms(1);
    }
}

/* Request idx got its own rows back, plus one, as output k. */
static bool rows_ok(int idx, int k, int rows, int cols) {
    const result *q = &res[idx];
    return q->st == STATUS_OK && q->shape[k].rank == 2 && q->shape[k].dims[0] == rows &&
           q->shape[k].dims[1] == cols && q->first[k] == (float)(idx * 100) + 1.0f &&
           q->last[k] == (float)(idx * 100 + rows - 1) + 1.0f;
}

static const char spec[] = "in x FP32 -1 -1\nout y FP32 -1 -1\nout z FP32 -1 -1\n";

/* --- tests ------------------------------------------------------------------------------- */

/* Requests of 1, 2 and 3 rows run as one batch of 6 and get their own rows. */
static void test_concat_scatter(void) {
    fixture f;
    errinfo err;
    CHECK_OK_MSG(fixture_init(&f, spec, "max_batch_size: 8 dynamic_batching { }", NULL, &err), err.msg);
    if (!f.s) return;
    results_reset();
    fake_gate_close();
    serve_scheduler_submit(f.s, make_req(0, 8, 4)); /* full: runs at once, held at the gate */
    fake_gate_wait_for(1);
    serve_scheduler_submit(f.s, make_req(1, 1, 4));
    serve_scheduler_submit(f.s, make_req(2, 2, 4));
    serve_scheduler_submit(f.s, make_req(3, 3, 4));
    fake_gate_open();
    CHECK(wait_done(4, 5000));
    CHECK_SEEN("8 6");
    CHECK(rows_ok(0, 0, 8, 4) && rows_ok(1, 0, 1, 4) && rows_ok(2, 0, 2, 4) && rows_ok(3, 0, 3, 4));
    CHECK(res[1].n_out == 2 && !strcmp(res[1].names[0], "y") && !strcmp(res[1].names[1], "z"));
    CHECK(rows_ok(2, 1, 2, 4));
    wait_inflight(f.s, 0);
    serve_scheduler_stats st;
    serve_scheduler_get_stats(f.s, &st);
    CHECK(st.executions == 2 && st.inferences == 14 && st.success == 4);
    fixture_deinit(&f);
}

/* Each request gets the outputs it asked for, in its order; the batch
 * computes the union. */
static void test_requested_outputs(void) {
    fixture f;
    errinfo err;
    CHECK_OK_MSG(fixture_init(&f, spec, "max_batch_size: 8 dynamic_batching { }", NULL, &err), err.msg);
    if (!f.s) return;
    results_reset();
    fake_gate_close();
    serve_scheduler_submit(f.s, make_req(0, 8, 2));
    fake_gate_wait_for(1);
    serve_request *a = make_req(1, 1, 2), *b = make_req(2, 2, 2), *c = make_req(3, 1, 2);
    serve_request_add_requested_output(a, "z", &err);
    serve_request_add_requested_output(b, "z", &err);
    serve_request_add_requested_output(b, "y", &err);
    serve_scheduler_submit(f.s, a);
    serve_scheduler_submit(f.s, b);
    serve_scheduler_submit(f.s, c); /* asks for none: gets all */
    fake_gate_open();
    CHECK(wait_done(4, 5000));
    CHECK_SEEN("8 4");
    CHECK(res[1].n_out == 1 && !strcmp(res[1].names[0], "z") && rows_ok(1, 0, 1, 2));
    CHECK(res[2].n_out == 2 && !strcmp(res[2].names[0], "z") && !strcmp(res[2].names[1], "y"));
    CHECK(rows_ok(2, 0, 2, 2) && rows_ok(2, 1, 2, 2));
    CHECK(res[3].n_out == 2 && !strcmp(res[3].names[0], "y") && rows_ok(3, 1, 1, 2));
    fixture_deinit(&f);
}

/* Different non-batch dims are never concatenated: they run apart, in order. */
static void test_shapes_not_mixed(void) {
    fixture f;
    errinfo err;
    CHECK_OK_MSG(fixture_init(&f, spec, "max_batch_size: 8 dynamic_batching { }", NULL, &err), err.msg);
    if (!f.s) return;
    results_reset();
    fake_gate_close();
    serve_scheduler_submit(f.s, make_req(0, 8, 4));
    fake_gate_wait_for(1);
    serve_scheduler_submit(f.s, make_req(1, 1, 4));
    serve_scheduler_submit(f.s, make_req(2, 1, 4));
    serve_scheduler_submit(f.s, make_req(3, 1, 5)); /* other width: a batch of its own */
    serve_scheduler_submit(f.s, make_req(4, 2, 5));
    serve_scheduler_submit(f.s, make_req(5, 1, 4));
    fake_gate_open();
    CHECK(wait_done(6, 5000));
    CHECK_SEEN("8 2 3 1");
    CHECK(rows_ok(1, 0, 1, 4) && rows_ok(2, 0, 1, 4) && rows_ok(3, 0, 1, 5) &&
          rows_ok(4, 0, 2, 5) && rows_ok(5, 0, 1, 4));
    fixture_deinit(&f);
}

/* max_batch_size counts samples: 10 single rows in batches of 4, 4, 2; a
 * request that does not fit starts the next batch. */
static void test_max_batch_size(void) {
    fixture f;
    errinfo err;
    CHECK_OK_MSG(fixture_init(&f, spec, "max_batch_size: 4 dynamic_batching { }", NULL, &err), err.msg);
    if (!f.s) return;
    results_reset();
    fake_gate_close();
    serve_scheduler_submit(f.s, make_req(0, 4, 1));
    fake_gate_wait_for(1);
    for (int i = 1; i <= 10; i++) serve_scheduler_submit(f.s, make_req(i, 1, 1));
    serve_scheduler_submit(f.s, make_req(11, 3, 1));
    serve_scheduler_submit(f.s, make_req(12, 2, 1));
    fake_gate_open();
    CHECK(wait_done(13, 5000));
    CHECK_SEEN("4 4 4 2 3 2"); /* 2 singles + 3 rows would be 5 > 4 */
    for (int i = 1; i <= 10; i++) CHECK(rows_ok(i, 0, 1, 1));
    CHECK(rows_ok(11, 0, 3, 1) && rows_ok(12, 0, 2, 1));
    fixture_deinit(&f);
}

/* The largest preferred size the queue adds up to goes at once; what is
 * left waits for max_queue_delay. */
static void test_preferred_sizes(void) {
    fixture f;
    errinfo err;
    CHECK_OK_MSG(fixture_init(&f, spec,
                              "max_batch_size: 8 dynamic_batching { preferred_batch_size: [ 2, 4 ] "
                              "max_queue_delay_microseconds: 150000 }",
                              NULL, &err), err.msg);
    if (!f.s) return;
    results_reset();
    fake_gate_close();
    serve_scheduler_submit(f.s, make_req(0, 8, 1));
    fake_gate_wait_for(1);
    for (int i = 1; i <= 5; i++) serve_scheduler_submit(f.s, make_req(i, 1, 1));
    uint64_t t0 = serve_clock_ns();
    fake_gate_open();
    CHECK(wait_done(5, 5000));
    CHECK_SEEN("8 4");
    CHECK(wait_done(6, 5000));
    CHECK_SEEN("8 4 1");
    /* the lone last one waited out the delay, counted from its arrival */
    CHECK(res[5].queue_ns >= 150000000u);
    CHECK(res[4].done_ns - t0 < 150000000u);
    fixture_deinit(&f);
}

/* A lone request waits max_queue_delay for company, and requests arriving
 * meanwhile join its batch; a full batch does not wait. */
static void test_max_delay(void) {
    fixture f;
    errinfo err;
    CHECK_OK_MSG(fixture_init(&f, spec,
                              "max_batch_size: 4 dynamic_batching { max_queue_delay_microseconds: 100000 }",
                              NULL, &err), err.msg);
    if (!f.s) return;
    results_reset();
    uint64_t t0 = serve_clock_ns();
    serve_scheduler_submit(f.s, make_req(0, 1, 1));
    sleep_ms(20);
    serve_scheduler_submit(f.s, make_req(1, 1, 1));
    CHECK(wait_done(2, 5000));
    uint64_t waited = res[0].done_ns - t0;
    CHECK(waited >= 100000000u && waited < 2000000000u);
    CHECK(res[0].queue_ns >= 100000000u);
    CHECK_SEEN("2");
    /* four at once fill the batch: no delay */
    results_reset();
    t0 = serve_clock_ns();
    for (int i = 0; i < 4; i++) serve_scheduler_submit(f.s, make_req(i, 1, 1));
    CHECK(wait_done(4, 5000));
    CHECK(res[3].done_ns - t0 < 90000000u);
    CHECK_SEEN("2 4");
    fixture_deinit(&f);

    /* without dynamic_batching: one at a time, no waiting */
    CHECK_OK_MSG(fixture_init(&f, spec, "max_batch_size: 4", NULL, &err), err.msg);
    if (!f.s) return;
    results_reset();
    fake_gate_close();
    serve_scheduler_submit(f.s, make_req(0, 1, 1));
    fake_gate_wait_for(1);
    for (int i = 1; i <= 3; i++) serve_scheduler_submit(f.s, make_req(i, 1, 1));
    fake_gate_open();
    CHECK(wait_done(4, 5000));
    CHECK_SEEN("1 1 1 1");
    fixture_deinit(&f);
}

/* Two instances take batches at the same time. */
static void test_instances(void) {
    fixture f;
    errinfo err;
    CHECK_OK_MSG(fixture_init(&f, spec,
                              "max_batch_size: 4 dynamic_batching { }\n"
                              "instance_group [ { count: 2 kind: KIND_CPU } ]",
                              NULL, &err), err.msg);
    if (!f.s) return;
    CHECK(serve_scheduler_instance_count(f.s) == 2);
    results_reset();
    atomic_store(&fake_max_concurrent, 0);
    fake_gate_close();
    serve_scheduler_submit(f.s, make_req(0, 4, 3));
    serve_scheduler_submit(f.s, make_req(1, 4, 3));
    fake_gate_wait_for(2); /* both instances hold a batch */
    for (int i = 2; i < 6; i++) serve_scheduler_submit(f.s, make_req(i, 1, 3));
    serve_scheduler_stats st;
    serve_scheduler_get_stats(f.s, &st);
    CHECK(st.queued == 4 && st.inflight == 6);
    fake_gate_open();
    CHECK(wait_done(6, 5000));
    CHECK_SEEN("4 4 4");
    CHECK(atomic_load(&fake_max_concurrent) == 2);
    CHECK(rows_ok(0, 0, 4, 3) && rows_ok(1, 0, 4, 3));
    for (int i = 2; i < 6; i++) CHECK(rows_ok(i, 0, 1, 3));
    fixture_deinit(&f);
}

/* Many threads submitting while two instances batch: every answer right. */
typedef struct submitter {
    serve_scheduler *s;
    int first, count;
} submitter;

static void *submit_many(void *arg) {
    submitter *sub = arg;
    for (int i = sub->first; i < sub->first + sub->count; i++) {
        serve_scheduler_submit(sub->s, make_req(i, 1 + i % 3, 2));
        if (i % 5 == 0) sleep_ms(1);
    }
    return NULL;
}

static void test_concurrent_load(void) {
    fixture f;
    errinfo err;
    CHECK_OK_MSG(fixture_init(&f, spec,
                              "max_batch_size: 8 dynamic_batching { max_queue_delay_microseconds: 2000 "
                              "preferred_batch_size: 4 }\ninstance_group [ { count: 2 } ]",
                              NULL, &err), err.msg);
    if (!f.s) return;
    results_reset();
    atomic_store(&fake_sleep_us, 500);
    enum { THREADS = 4, EACH = 30 };
    pthread_t th[THREADS];
    submitter subs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        subs[i] = (submitter){f.s, i * EACH, EACH};
        pthread_create(&th[i], NULL, submit_many, &subs[i]);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    CHECK(wait_done(THREADS * EACH, 20000));
    atomic_store(&fake_sleep_us, 0);
    wait_inflight(f.s, 0);
    int ok = 0;
    for (int i = 0; i < THREADS * EACH; i++) ok += rows_ok(i, 0, 1 + i % 3, 2);
    CHECK(ok == THREADS * EACH);
    serve_scheduler_stats st;
    serve_scheduler_get_stats(f.s, &st);
    uint64_t samples = 0;
    for (int i = 0; i < THREADS * EACH; i++) samples += (uint64_t)(1 + i % 3);
    CHECK(st.inferences == samples && st.executions < THREADS * EACH);
    fixture_deinit(&f);
}

/* --- queue policy -------------------------------------------------------------------------- */

static void test_queue_full(void) {
    fixture f;
    errinfo err;
    CHECK_OK_MSG(fixture_init(&f, spec,
                              "max_batch_size: 4 dynamic_batching { default_queue_policy { "
                              "max_queue_size: 3 } }",
                              NULL, &err), err.msg);
    if (!f.s) return;
    results_reset();
    fake_gate_close();
    serve_scheduler_submit(f.s, make_req(0, 4, 1));
    fake_gate_wait_for(1);
    for (int i = 1; i <= 5; i++) serve_scheduler_submit(f.s, make_req(i, 1, 1));
    CHECK(wait_done(2, 5000)); /* refused on the spot */
    CHECK(res[4].st == STATUS_RESOURCE_EXHAUSTED && res[5].st == STATUS_RESOURCE_EXHAUSTED);
    fake_gate_open();
    CHECK(wait_done(6, 5000));
    CHECK(res[1].st == STATUS_OK && res[2].st == STATUS_OK && res[3].st == STATUS_OK);
    CHECK_SEEN("4 3");
    wait_inflight(f.s, 0);
    serve_scheduler_stats st;
    serve_scheduler_get_stats(f.s, &st);
    CHECK(st.rejected == 2 && st.failure == 2 && st.success == 4);
    fixture_deinit(&f);
}

/* A queued request times out while the only worker is busy: the timer
 * answers it at once, and it never runs. */
static void test_timeout_prompt(void) {
    fixture f;
    errinfo err;
    CHECK_OK_MSG(fixture_init(&f, spec,
                              "max_batch_size: 4 dynamic_batching { default_queue_policy { "
                              "default_timeout_microseconds: 50000 allow_timeout_override: true } }",
                              NULL, &err), err.msg);
    if (!f.s) return;
    results_reset();
    fake_gate_close();
    serve_scheduler_submit(f.s, make_req(0, 4, 1));
    fake_gate_wait_for(1);
    int before = atomic_load(&fake_executions);
    uint64_t t0 = serve_clock_ns();
    serve_scheduler_submit(f.s, make_req(1, 1, 1));
    serve_request *quick = make_req(2, 1, 1);
    serve_request_set_timeout_us(quick, 10000); /* a shorter one of its own */
    serve_scheduler_submit(f.s, quick);
    CHECK(wait_done(2, 3000)); /* while the worker is still held */
    CHECK(res[1].st == STATUS_DEADLINE_EXCEEDED && res[2].st == STATUS_DEADLINE_EXCEEDED);
    CHECK(res[2].done_ns < res[1].done_ns);
    CHECK(res[1].done_ns - t0 >= 50000000u && res[1].done_ns - t0 < 1000000000u);
    CHECK(res[2].done_ns - t0 >= 10000000u);
    CHECK(done_count() == 2); /* request 0 is still executing */
    wait_inflight(f.s, 1);
    serve_scheduler_stats st;
    serve_scheduler_get_stats(f.s, &st);
    CHECK(st.timed_out == 2 && st.queued == 0 && st.inflight == 1);
    fake_gate_open();
    CHECK(wait_done(3, 5000));
    CHECK(res[0].st == STATUS_OK);
    CHECK(atomic_load(&fake_executions) == before + 1); /* the timed-out ones never ran */
    /* a request served in time is not touched by the timer */
    serve_scheduler_submit(f.s, make_req(3, 1, 1));
    CHECK(wait_done(4, 5000));
    CHECK(res[3].st == STATUS_OK);
    fixture_deinit(&f);
}

/* Cancelled while queued: dropped promptly even while the worker is busy;
 * the rest runs. */
static void test_cancel(void) {
    fixture f;
    errinfo err;
    CHECK_OK_MSG(fixture_init(&f, spec, "max_batch_size: 4 dynamic_batching { }", NULL, &err), err.msg);
    if (!f.s) return;
    results_reset();
    fake_gate_close();
    serve_scheduler_submit(f.s, make_req(0, 4, 1));
    fake_gate_wait_for(1);
    serve_request *q[3];
    for (int i = 0; i < 3; i++) {
        q[i] = make_req(i + 1, 1, 1);
        serve_scheduler_submit(f.s, q[i]);
    }
    serve_request_cancel(q[0]);
    serve_request_cancel(q[2]);
    CHECK(wait_done(2, 3000)); /* dropped by the timer while the worker is busy */
    CHECK(res[1].st == STATUS_CANCELLED && res[3].st == STATUS_CANCELLED && done_count() == 2);
    serve_scheduler_stats st;
    wait_inflight(f.s, 2);
    serve_scheduler_get_stats(f.s, &st);
    CHECK(st.queued == 1 && st.inflight == 2);
    fake_gate_open();
    CHECK(wait_done(4, 5000));
    CHECK(res[1].st == STATUS_CANCELLED && res[3].st == STATUS_CANCELLED && res[2].st == STATUS_OK);
    CHECK_SEEN("4 1");
    wait_inflight(f.s, 0);
    serve_scheduler_get_stats(f.s, &st);
    CHECK(st.cancelled == 2);
    fixture_deinit(&f);
}

/* --- warmup through the scheduler ----------------------------------------------------------- */

static void test_warmup_every_instance(void) {
    fixture f;
    errinfo err;
    serve_request *r = make_req(0, 2, 3);
    serve_warmup_sample ws = {.name = "two", .request = r, .count = 3};
    serve_scheduler_options extra = {.warmup = &ws, .n_warmup = 1};
    int before = atomic_load(&fake_executions);
    CHECK_OK_MSG(fixture_init(&f, spec,
                              "max_batch_size: 4 dynamic_batching { }\ninstance_group [ { count: 3 } ]",
                              &extra, &err), err.msg);
    CHECK(atomic_load(&fake_executions) == before + 9);
    if (f.s) {
        serve_scheduler_stats st;
        serve_scheduler_get_stats(f.s, &st);
        CHECK(st.executions == 0 && st.success == 0); /* warmup counts nowhere */
        CHECK_SEEN("");
    }
    fixture_deinit(&f);

    /* a failing sample fails create, naming it */
    CHECK_OK_MSG(serve_request_add_requested_output(r, "nope", &err), err.msg);
    ws.name = "bad";
    CHECK_ERR(fixture_init(&f, spec, "max_batch_size: 4\ninstance_group [ { count: 2 } ]", &extra, &err),
              STATUS_INVALID_ARGUMENT, err.msg, "warmup sample 'bad' failed on instance ");
    CHECK(strstr(err.msg, "unknown output 'nope'") != NULL);
    CHECK(f.s == NULL);
    fixture_deinit(&f);
    CHECK(atomic_load(&fake_instances_alive) == 0);

    /* unless it is advisory */
    ws.advisory = true;
    CHECK_OK_MSG(fixture_init(&f, spec, "max_batch_size: 4", &extra, &err), err.msg);
    CHECK(f.s != NULL);
    fixture_deinit(&f);
    serve_request_destroy(r);
    results_reset();
}

int main(void) {
    log_set_fd(-1);
    test_concat_scatter();
    test_requested_outputs();
    test_shapes_not_mixed();
    test_max_batch_size();
    test_preferred_sizes();
    test_max_delay();
    test_instances();
    test_concurrent_load();
    test_queue_full();
    test_timeout_prompt();
    test_cancel();
    test_warmup_every_instance();
    CHECK(atomic_load(&fake_instances_alive) == 0 && atomic_load(&fake_models_alive) == 0);
    return test_report("test_batcher");
}
