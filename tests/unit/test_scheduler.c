/* test_scheduler.c -- the per-version queue and workers, on a fake backend:
 * results, concurrent submitters, instances in parallel, cancellation,
 * queue limits and timeouts, shutdown with queued work. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "fake_backend.h"
#include "serve/infer_request.h"
#include "serve/scheduler.h"
#include "serve_test.h"

/* --- a model on the fake backend ------------------------------------------------ */

typedef struct fixture {
    serve_backend_model *bm;
    serve_model_meta *meta;
    serve_scheduler *s;
} fixture;

static status fixture_init(fixture *f, const char *spec, serve_scheduler_options *so, errinfo *err) {
    memset(f, 0, sizeof *f);
    status st = fake_model_from_spec(spec, &f->bm, err);
    if (!st) st = serve_meta_build("m", 1, NULL, fake_model_meta(f->bm), &f->meta, err);
    so->name = "m:1";
    if (!st) st = serve_scheduler_create(&fake_backend, f->bm, f->meta, so, &f->s, err);
    return st;
}

static void fixture_deinit(fixture *f) {
    serve_scheduler_destroy(f->s);
    serve_meta_free(f->meta);
    fake_model_unload(f->bm);
}

static const char spec[] = "in x FP32 -1 4\nout y FP32 -1 4\n";

/* --- completions ------------------------------------------------------------------- */

typedef struct tracker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int bad_values;
    status st[512];
    pthread_t thread[512];
} tracker;

static tracker T = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, {0}, {0}};

static void tracker_reset(void) {
    pthread_mutex_lock(&T.mu);
    T.done = 0;
    T.bad_values = 0;
    memset(T.st, 0xff, sizeof T.st);
    pthread_mutex_unlock(&T.mu);
}

static void tracker_wait(int n) {
    pthread_mutex_lock(&T.mu);
    while (T.done < n) pthread_cond_wait(&T.cv, &T.mu);
    pthread_mutex_unlock(&T.mu);
}

/* The callback: checks y == x + 1 where x was filled with the request's
 * index, records the status, frees the request. */
static void on_done(serve_request *r, void *ctx) {
    int idx = (int)(intptr_t)ctx;
    bool bad = false;
    if (serve_request_status(r) == STATUS_OK) {
        const serve_tensor *y = serve_request_output(r, 0);
        bad = !y || strcmp(y->name, "y") || y->shape.rank != 2 || y->nbytes != 16;
        for (int i = 0; !bad && i < 4; i++) bad = ((float *)y->data)[i] != (float)idx + 1.0f;
    }
    pthread_mutex_lock(&T.mu);
    T.st[idx] = serve_request_status(r);
    T.thread[idx] = pthread_self();
    T.bad_values += bad;
    T.done++;
    pthread_cond_broadcast(&T.cv);
    pthread_mutex_unlock(&T.mu);
    serve_request_destroy(r);
}

static serve_request *make_request(int idx) {
    serve_request *r = NULL;
    errinfo err;
    if (serve_request_create("m", 0, &r, &err)) return NULL;
    float *x = malloc(4 * sizeof *x);
    for (int i = 0; x && i < 4; i++) x[i] = (float)idx;
    engine_shape s = {2, {1, 4}};
    if (!x || serve_request_add_input(r, "x", ENGINE_FLOAT, &s, x, 16, true, &err)) {
        serve_request_destroy(r);
        return NULL;
    }
    serve_request_set_callback(r, on_done, (void *)(intptr_t)idx);
    return r;
}

static void sleep_ms(int ms) { nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL); }

/* In-flight drops just after a callback returns: wait for it. */
static void wait_idle(serve_scheduler *s) {
    serve_scheduler_stats st;
    for (int i = 0; i < 5000; i++) {
        serve_scheduler_get_stats(s, &st);
        if (!st.inflight) return;
        sleep_ms(1);
    }
}

/* --- tests -------------------------------------------------------------------------- */

static void test_single(void) {
    fixture f;
    errinfo err;
    serve_scheduler_options so = {0};
    CHECK_OK_MSG(fixture_init(&f, spec, &so, &err), err.msg);
    if (!f.s) return;
    CHECK(serve_scheduler_instance_count(f.s) == 1);
    int t = serve_scheduler_threads_per_instance(f.s);
    CHECK(t >= 1 && t == serve_cpu_count());
    tracker_reset();
    serve_request *r = make_request(7);
    /* check timing from inside: stash a pointer before it is freed */
    serve_scheduler_submit(f.s, r);
    tracker_wait(1);
    wait_idle(f.s);
    CHECK(T.st[7] == STATUS_OK);
    CHECK(T.bad_values == 0);
    CHECK(!pthread_equal(T.thread[7], pthread_self())); /* ran on a worker */
    serve_scheduler_stats st;
    serve_scheduler_get_stats(f.s, &st);
    CHECK(st.success == 1 && st.failure == 0 && st.executions == 1 && st.inferences == 1);
    CHECK(st.queued == 0 && st.inflight == 0);
    fixture_deinit(&f);
}

static int timing_ok;
static void on_done_timing(serve_request *r, void *ctx) {
    (void)ctx;
    const serve_timing *t = serve_request_timing(r);
    timing_ok = t->arrival_ns && t->arrival_ns <= t->queue_start_ns &&
                t->queue_start_ns <= t->queue_end_ns && t->queue_end_ns <= t->compute_start_ns &&
                t->compute_start_ns <= t->compute_end_ns;
    on_done(r, (void *)(intptr_t)1);
}

static void test_timing(void) {
    fixture f;
    errinfo err;
    serve_scheduler_options so = {0};
    CHECK_OK_MSG(fixture_init(&f, spec, &so, &err), err.msg);
    if (!f.s) return;
    tracker_reset();
    serve_request *r = make_request(1);
    serve_request_set_callback(r, on_done_timing, NULL);
    serve_scheduler_submit(f.s, r);
    tracker_wait(1);
    CHECK(timing_ok);
    fixture_deinit(&f);
}

typedef struct submitter {
    serve_scheduler *s;
    int first, count;
} submitter;

static void *submit_many(void *arg) {
    submitter *sub = arg;
    for (int i = sub->first; i < sub->first + sub->count; i++) {
        serve_request *r = make_request(i);
        if (r) serve_scheduler_submit(sub->s, r);
    }
    return NULL;
}

static void test_concurrent_submitters(void) {
    fixture f;
    errinfo err;
    serve_scheduler_options so = {.instances = 3, .threads_per_instance = 1};
    CHECK_OK_MSG(fixture_init(&f, spec, &so, &err), err.msg);
    if (!f.s) return;
    CHECK(serve_scheduler_instance_count(f.s) == 3);
    CHECK(atomic_load(&fake_instances_alive) == 3);
    tracker_reset();
    atomic_store(&fake_max_concurrent, 0);
    atomic_store(&fake_sleep_us, 100);
    enum { THREADS = 8, EACH = 50 };
    pthread_t th[THREADS];
    submitter subs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        subs[i] = (submitter){f.s, i * EACH, EACH};
        pthread_create(&th[i], NULL, submit_many, &subs[i]);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    tracker_wait(THREADS * EACH);
    wait_idle(f.s);
    atomic_store(&fake_sleep_us, 0);
    int ok = 0;
    for (int i = 0; i < THREADS * EACH; i++) ok += T.st[i] == STATUS_OK;
    CHECK(ok == THREADS * EACH);
    CHECK(T.bad_values == 0);
    CHECK(atomic_load(&fake_max_concurrent) <= 3);
    serve_scheduler_stats st;
    serve_scheduler_get_stats(f.s, &st);
    CHECK(st.success == THREADS * EACH && st.executions == THREADS * EACH);
    CHECK(st.inflight == 0 && st.queued == 0);

    /* all three instances really run at once */
    tracker_reset();
    fake_gate_close();
    for (int i = 0; i < 3; i++) serve_scheduler_submit(f.s, make_request(i));
    fake_gate_wait_for(3);
    serve_scheduler_get_stats(f.s, &st);
    CHECK(st.inflight == 3 && st.queued == 0);
    fake_gate_open();
    tracker_wait(3);
    fixture_deinit(&f);
    CHECK(atomic_load(&fake_instances_alive) == 0);
}

static void test_cancellation(void) {
    fixture f;
    errinfo err;
    serve_scheduler_options so = {.instances = 1};
    CHECK_OK_MSG(fixture_init(&f, spec, &so, &err), err.msg);
    if (!f.s) return;
    tracker_reset();
    fake_gate_close();
    serve_scheduler_submit(f.s, make_request(0)); /* held in execute */
    fake_gate_wait_for(1);
    serve_request *queued[3];
    for (int i = 0; i < 3; i++) {
        queued[i] = make_request(i + 1);
        serve_scheduler_submit(f.s, queued[i]);
    }
    serve_scheduler_stats st;
    serve_scheduler_get_stats(f.s, &st);
    CHECK(st.queued == 3 && st.inflight == 4);
    serve_request_cancel(queued[1]); /* the client of request 2 went away */
    fake_gate_open();
    tracker_wait(4);
    CHECK(T.st[0] == STATUS_OK && T.st[1] == STATUS_OK && T.st[3] == STATUS_OK);
    CHECK(T.st[2] == STATUS_CANCELLED);
    serve_scheduler_get_stats(f.s, &st);
    CHECK(st.cancelled == 1 && st.failure == 1 && st.success == 3 && st.executions == 3);
    fixture_deinit(&f);
}

typedef struct { serve_scheduler *s; } shut_arg;
static void *do_shutdown(void *arg) {
    serve_scheduler_shutdown(((shut_arg *)arg)->s);
    return NULL;
}

static void test_shutdown_drains(void) {
    fixture f;
    errinfo err;
    serve_scheduler_options so = {.instances = 1};
    CHECK_OK_MSG(fixture_init(&f, spec, &so, &err), err.msg);
    if (!f.s) return;
    tracker_reset();
    fake_gate_close();
    serve_scheduler_submit(f.s, make_request(0));
    fake_gate_wait_for(1);
    for (int i = 1; i <= 5; i++) serve_scheduler_submit(f.s, make_request(i));
    pthread_t th;
    shut_arg a = {f.s};
    pthread_create(&th, NULL, do_shutdown, &a);
    while (serve_scheduler_accepting(f.s)) sleep_ms(1); /* shutdown stopped intake */
    serve_scheduler_submit(f.s, make_request(6));
    tracker_wait(1);
    CHECK(T.st[6] == STATUS_UNAVAILABLE);
    CHECK(pthread_equal(T.thread[6], pthread_self())); /* refused on the submitting thread */
    fake_gate_open();
    pthread_join(th, NULL);
    CHECK(T.done == 7);
    for (int i = 0; i <= 5; i++) CHECK(T.st[i] == STATUS_OK);
    serve_scheduler_shutdown(f.s); /* idempotent */
    fixture_deinit(&f);
}

static void test_queue_full(void) {
    fixture f;
    errinfo err;
    serve_scheduler_options so = {.instances = 1, .max_queue_size = 2};
    CHECK_OK_MSG(fixture_init(&f, spec, &so, &err), err.msg);
    if (!f.s) return;
    tracker_reset();
    fake_gate_close();
    serve_scheduler_submit(f.s, make_request(0));
    fake_gate_wait_for(1);
    serve_scheduler_submit(f.s, make_request(1));
    serve_scheduler_submit(f.s, make_request(2));
    serve_scheduler_submit(f.s, make_request(3)); /* third in the queue: refused */
    tracker_wait(1);
    CHECK(T.st[3] == STATUS_RESOURCE_EXHAUSTED);
    fake_gate_open();
    tracker_wait(4);
    CHECK(T.st[0] == STATUS_OK && T.st[1] == STATUS_OK && T.st[2] == STATUS_OK);
    serve_scheduler_stats st;
    serve_scheduler_get_stats(f.s, &st);
    CHECK(st.rejected == 1);
    fixture_deinit(&f);
}

static void test_timeouts(void) {
    fixture f;
    errinfo err;
    /* generous: request 0 must reach the worker within it even on a busy machine */
    serve_scheduler_options so = {.instances = 1, .default_timeout_us = 200000};
    CHECK_OK_MSG(fixture_init(&f, spec, &so, &err), err.msg);
    if (!f.s) return;
    tracker_reset();
    fake_gate_close();
    serve_scheduler_submit(f.s, make_request(0));
    fake_gate_wait_for(1);
    serve_scheduler_submit(f.s, make_request(1));
    sleep_ms(300);
    fake_gate_open();
    tracker_wait(2);
    CHECK(T.st[0] == STATUS_OK);
    CHECK(T.st[1] == STATUS_DEADLINE_EXCEEDED);
    serve_scheduler_stats st;
    serve_scheduler_get_stats(f.s, &st);
    CHECK(st.timed_out == 1 && st.executions == 1);
    fixture_deinit(&f);

    /* a request may shorten the timeout when the policy allows it */
    so = (serve_scheduler_options){.instances = 1, .allow_timeout_override = true};
    CHECK_OK_MSG(fixture_init(&f, spec, &so, &err), err.msg);
    if (!f.s) return;
    tracker_reset();
    fake_gate_close();
    serve_scheduler_submit(f.s, make_request(0));
    fake_gate_wait_for(1);
    serve_request *r = make_request(1);
    serve_request_set_timeout_us(r, 1000);
    serve_scheduler_submit(f.s, r);
    serve_scheduler_submit(f.s, make_request(2)); /* no timeout: runs */
    sleep_ms(20);
    fake_gate_open();
    tracker_wait(3);
    CHECK(T.st[1] == STATUS_DEADLINE_EXCEEDED && T.st[2] == STATUS_OK);
    fixture_deinit(&f);
}

static void test_failures_path(void) {
    fixture f;
    errinfo err = {{0}};
    serve_scheduler_options so = {.instances = 2};
    CHECK_ERR(fixture_init(&f, "in x FP32 -1 4\nout y FP32 -1 4\ninstfail\n", &so, &err),
              STATUS_INTERNAL, err.msg, "instance 0: fake: instance refused");
    CHECK(f.s == NULL);
    fixture_deinit(&f);

    /* a failing execution completes the request with the backend's error */
    so = (serve_scheduler_options){.instances = 2};
    CHECK_OK_MSG(fixture_init(&f, spec, &so, &err), err.msg);
    if (!f.s) return;
    CHECK(serve_scheduler_threads_per_instance(f.s) >= 1);
    tracker_reset();
    serve_request *r = make_request(0);
    CHECK_OK_MSG(serve_request_add_requested_output(r, "nope", &err), err.msg);
    serve_scheduler_submit(f.s, r);
    tracker_wait(1);
    CHECK(T.st[0] == STATUS_INVALID_ARGUMENT);
    fixture_deinit(&f);
}

/* options from a config */
static void test_options_from_config(void) {
    model_config *c = NULL;
    errinfo err;
    const char text[] = "max_batch_size: 4\n"
                        "instance_group [ { count: 2 }, { count: 1 kind: KIND_CPU } ]\n"
                        "dynamic_batching { max_queue_delay_microseconds: 300 "
                        "default_queue_policy { max_queue_size: 9 default_timeout_microseconds: 70 } }";
    CHECK_OK_MSG(model_config_parse(text, sizeof text - 1, "t", &c, &err), err.msg);
    serve_scheduler_options so;
    serve_scheduler_options_from_config(&so, c);
    CHECK(so.instances == 3 && so.max_batch_size == 4 && so.dynamic_batching);
    CHECK(so.max_queue_delay_us == 300 && so.max_queue_size == 9 && so.default_timeout_us == 70);
    model_config_release(c);
    const char delay[] = "dynamic_batching { default_queue_policy { timeout_action: DELAY "
                         "default_timeout_microseconds: 70 allow_timeout_override: true } }";
    CHECK_OK_MSG(model_config_parse(delay, sizeof delay - 1, "t", &c, &err), err.msg);
    serve_scheduler_options_from_config(&so, c);
    CHECK(so.default_timeout_us == 0 && !so.allow_timeout_override); /* DELAY never drops */
    model_config_release(c);
    serve_scheduler_options_from_config(&so, NULL);
    CHECK(so.instances == 1 && !so.dynamic_batching && so.max_queue_size == 0);
}

int main(void) {
    log_set_fd(-1);
    test_single();
    test_timing();
    test_concurrent_submitters();
    test_cancellation();
    test_shutdown_drains();
    test_queue_full();
    test_timeouts();
    test_failures_path();
    test_options_from_config();
    CHECK(atomic_load(&fake_instances_alive) == 0 && atomic_load(&fake_models_alive) == 0);
    return test_report("test_scheduler");
}
