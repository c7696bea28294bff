/* test_model_manager.c -- loading a repository on the fake backend: states,
 * failures that do not stop the others, readiness, lookups, submit. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fake_backend.h"
#include "repo_fixture.h"
#include "serve/model_manager.h"
#include "serve_test.h"

static const serve_backend *const backends[] = {&fake_backend, NULL};
static const char spec[] = "in x FP32 -1 4\nout y FP32 -1 4\n";

static void build_repo(const char *root) {
    repo_write(root, "add/config.pbtxt", "max_batch_size: 8\n");
    repo_write(root, "add/1/model.onnx", spec);
    repo_write(root, "add/2/model.onnx", spec);
    repo_write(root, "multi/config.pbtxt",
               "version_policy: { all {} }\ninstance_group [ { count: 2 kind: KIND_CPU } ]\n");
    repo_write(root, "multi/1/model.onnx", spec);
    repo_write(root, "multi/2/model.onnx", spec);
    repo_write(root, "broken/1/model.onnx", "fail corrupt file: truncated protobuf");
    repo_write(root, "badcfg/config.pbtxt", "max_batch_size: x\n");
    repo_write(root, "badcfg/1/model.onnx", spec);
    repo_write(root, "mismatch/config.pbtxt", "input { name: \"q\" data_type: TYPE_FP32 dims: 4 }");
    repo_write(root, "mismatch/1/model.onnx", spec);
    repo_write(root, "noinst/1/model.onnx", "in x FP32 -1 4\nout y FP32 -1 4\ninstfail\n");
    repo_dir(root, "noversions");
    repo_write(root, "slow/1/model.onnx", "in x FP32 -1 4\nout y FP32 -1 4\nloadsleep 300\n");
}

static const serve_model_status *row(const serve_model_status *l, size_t n, const char *name,
                                     int64_t v) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(l[i].name, name) && l[i].version == v) return &l[i];
    if (v != 1 || strcmp(name, "add")) /* add:1 is expected to be absent */
        fprintf(stderr, "no status row for %s version %lld\n", name, (long long)v);
    return NULL;
}

/* --- completions ------------------------------------------------------------ */

typedef struct result {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    status st;
    char msg[512];
    int64_t version;
    float y0;
    bool on_caller;
    pthread_t caller;
} result;

static void on_done(serve_request *r, void *ctx) {
    result *res = ctx;
    pthread_mutex_lock(&res->mu);
    res->st = serve_request_status(r);
    snprintf(res->msg, sizeof res->msg, "%s", serve_request_error(r));
    res->version = serve_request_model_version(r);
    res->on_caller = pthread_equal(pthread_self(), res->caller);
    const serve_tensor *y = serve_request_output(r, 0);
    res->y0 = y && y->nbytes >= 4 ? ((float *)y->data)[0] : -1.0f;
    res->done++;
    pthread_cond_broadcast(&res->cv);
    pthread_mutex_unlock(&res->mu);
}

static float xs[8] = {41, 1, 2, 3, 4, 5, 6, 7};

/* Submits one request and waits for its completion. */
static void infer(serve_manager *mm, const char *model, int64_t version, engine_shape shape,
                  size_t nbytes, result *res) {
    memset(res, 0, sizeof *res);
    pthread_mutex_init(&res->mu, NULL);
    pthread_cond_init(&res->cv, NULL);
    res->caller = pthread_self();
    serve_request *r = NULL;
    errinfo err;
    if (serve_request_create(model, version, &r, &err)) return;
    serve_request_add_input(r, "x", ENGINE_FLOAT, &shape, xs, nbytes, false, &err);
    serve_request_set_callback(r, on_done, res);
    serve_manager_submit(mm, r);
    pthread_mutex_lock(&res->mu);
    while (!res->done) pthread_cond_wait(&res->cv, &res->mu);
    pthread_mutex_unlock(&res->mu);
    serve_request_destroy(r);
    pthread_mutex_destroy(&res->mu);
    pthread_cond_destroy(&res->cv);
}

static void test_load_and_serve(void) {
    char root[64];
    if (repo_make_root(root)) return;
    build_repo(root);
    serve_manager_options o = {.repository = root, .backends = backends, .load_threads = 2,
                               .threads_per_instance = 1};
    serve_manager *mm = NULL;
    errinfo err;
    CHECK_OK_MSG(serve_manager_create(&o, &mm, &err), err.msg);
    if (!mm) goto out;

    /* "slow" takes 300 ms: not ready at first, and lookups say why */
    CHECK(!serve_manager_ready(mm));
    serve_model_handle *h = NULL;
    CHECK_ERR(serve_manager_acquire(mm, "slow", 0, &h, &err), STATUS_UNAVAILABLE, err.msg,
              "model 'slow' version 1 is still loading");
    CHECK(serve_manager_wait_ready(mm, 20000));
    CHECK(serve_manager_ready(mm));

    serve_model_status *list = NULL;
    size_t n = 0;
    CHECK_OK_MSG(serve_manager_list(mm, &list, &n, &err), err.msg);
    CHECK(n == 9);
    const serve_model_status *s;
    if ((s = row(list, n, "add", 2))) CHECK(s->state == SERVE_MODEL_READY && s->load_ns > 0);
    CHECK(row(list, n, "add", 1) == NULL); /* latest 1 */
    if ((s = row(list, n, "multi", 1))) CHECK(s->state == SERVE_MODEL_READY);
    if ((s = row(list, n, "multi", 2))) CHECK(s->state == SERVE_MODEL_READY);
    if ((s = row(list, n, "broken", 1)))
        CHECK(s->state == SERVE_MODEL_FAILED && strstr(s->reason, "corrupt file: truncated protobuf"));
    if ((s = row(list, n, "badcfg", 0)))
        CHECK(s->state == SERVE_MODEL_FAILED && strstr(s->reason, "config.pbtxt:1:17"));
    if ((s = row(list, n, "mismatch", 1)))
        CHECK(s->state == SERVE_MODEL_FAILED && strstr(s->reason, "config.pbtxt:1:7: input 'q' is not an input"));
    if ((s = row(list, n, "noinst", 1)))
        CHECK(s->state == SERVE_MODEL_FAILED && strstr(s->reason, "instance 0: fake: instance refused"));
    if ((s = row(list, n, "noversions", 0)))
        CHECK(s->state == SERVE_MODEL_FAILED && strstr(s->reason, "no version directory"));
    if ((s = row(list, n, "slow", 1))) CHECK(s->state == SERVE_MODEL_READY);
    CHECK_STR(serve_model_state_name(SERVE_MODEL_UNAVAILABLE), "UNAVAILABLE");
    serve_model_status_free(list, n);

    /* lookups */
    CHECK_OK_MSG(serve_manager_acquire(mm, "add", 0, &h, &err), err.msg);
    if (h) {
        CHECK(serve_model_handle_version(h) == 2);
        CHECK_STR(serve_model_handle_name(h), "add");
        const serve_model_meta *m = serve_model_handle_meta(h);
        CHECK(m->max_batch_size == 8 && m->n_inputs == 1 && m->inputs[0].dims[0] == -1);
        CHECK_STR(m->platform, "fake_platform");
        CHECK(serve_model_handle_config(h)->max_batch_size == 8);
        serve_model_handle_release(h);
    }
    CHECK_OK_MSG(serve_manager_acquire(mm, "multi", 1, &h, &err), err.msg);
    serve_model_handle_release(h);
    CHECK_ERR(serve_manager_acquire(mm, "add", 1, &h, &err), STATUS_NOT_FOUND, err.msg,
              "model 'add' has no version 1 (versions: 2)");
    CHECK_ERR(serve_manager_acquire(mm, "nope", 0, &h, &err), STATUS_NOT_FOUND, err.msg,
              "unknown model 'nope'");
    CHECK_ERR(serve_manager_acquire(mm, "broken", 0, &h, &err), STATUS_UNAVAILABLE, err.msg,
              "model 'broken' version 1 failed to load: ");
    CHECK_ERR(serve_manager_acquire(mm, "badcfg", 0, &h, &err), STATUS_UNAVAILABLE, err.msg,
              "model 'badcfg' failed to load: ");
    CHECK_ERR(serve_manager_acquire(mm, "add", -3, &h, &err), STATUS_INVALID_ARGUMENT, err.msg,
              "version -3 is not valid");

    /* submit: served, refused by validation, unknown model */
    result res;
    infer(mm, "add", 0, (engine_shape){2, {2, 4}}, 32, &res);
    CHECK(res.st == STATUS_OK && res.version == 2 && res.y0 == 42.0f && !res.on_caller);
    infer(mm, "add", 0, (engine_shape){2, {2, 5}}, 40, &res);
    CHECK(res.st == STATUS_INVALID_ARGUMENT && res.on_caller &&
          strstr(res.msg, "input 'x': expected shape [-1,4], got [2,5]"));
    infer(mm, "add", 0, (engine_shape){2, {9, 4}}, 9 * 16, &res);
    CHECK(res.st == STATUS_INVALID_ARGUMENT && strstr(res.msg, "1 to 8 (max_batch_size), got 9"));
    infer(mm, "nope", 0, (engine_shape){2, {1, 4}}, 16, &res);
    CHECK(res.st == STATUS_NOT_FOUND && res.on_caller && strstr(res.msg, "unknown model 'nope'"));
    infer(mm, "broken", 1, (engine_shape){2, {1, 4}}, 16, &res);
    CHECK(res.st == STATUS_UNAVAILABLE);
    infer(mm, "multi", 1, (engine_shape){2, {1, 4}}, 16, &res);
    CHECK(res.st == STATUS_OK && res.version == 1);

    /* a handle keeps working while held; stats are per version */
    CHECK_OK_MSG(serve_manager_acquire(mm, "add", 2, &h, &err), err.msg);
    if (h) {
        serve_scheduler_stats st;
        serve_model_handle_stats(h, &st);
        CHECK(st.success == 1 && st.executions == 1);
        serve_model_handle_release(h);
    }
    serve_manager_destroy(mm);
    CHECK(atomic_load(&fake_models_alive) == 0 && atomic_load(&fake_instances_alive) == 0);
out:
    repo_remove(root);
}

/* Destroy while a slow load is under way: no leak, no hang. */
static void test_destroy_while_loading(void) {
    char root[64];
    if (repo_make_root(root)) return;
    repo_write(root, "s1/1/model.onnx", "in x FP32 2\nout y FP32 2\nloadsleep 200\n");
    repo_write(root, "s2/1/model.onnx", "in x FP32 2\nout y FP32 2\nloadsleep 200\n");
    repo_write(root, "s3/1/model.onnx", "in x FP32 2\nout y FP32 2\nloadsleep 200\n");
    serve_manager_options o = {.repository = root, .backends = backends, .load_threads = 1};
    serve_manager *mm = NULL;
    errinfo err;
    CHECK_OK_MSG(serve_manager_create(&o, &mm, &err), err.msg);
    CHECK(!serve_manager_wait_ready(mm, 10));
    serve_manager_destroy(mm);
    CHECK(atomic_load(&fake_models_alive) == 0 && atomic_load(&fake_instances_alive) == 0);
    repo_remove(root);
}

static void test_bad_options(void) {
    serve_manager *mm = NULL;
    errinfo err;
    serve_manager_options o = {.repository = "/nonexistent", .backends = backends};
    CHECK_ERR(serve_manager_create(&o, &mm, &err), STATUS_NOT_FOUND, err.msg, "/nonexistent");
    o.backends = NULL;
    CHECK_ERR(serve_manager_create(&o, &mm, &err), STATUS_INVALID_ARGUMENT, err.msg, "no backend");
    serve_backend old = fake_backend;
    old.abi_version = 99;
    const serve_backend *olds[] = {&old, NULL};
    o.backends = olds;
    CHECK_ERR(serve_manager_create(&o, &mm, &err), STATUS_INVALID_ARGUMENT, err.msg,
              "interface version 99");
    /* an empty repository is ready at once */
    char root[64];
    if (repo_make_root(root)) return;
    o = (serve_manager_options){.repository = root, .backends = backends};
    CHECK_OK_MSG(serve_manager_create(&o, &mm, &err), err.msg);
    CHECK(mm && serve_manager_ready(mm));
    serve_manager_destroy(mm);
    serve_manager_destroy(NULL);
    repo_remove(root);
}

int main(void) {
    log_set_fd(-1);
    test_load_and_serve();
    test_destroy_while_loading();
    test_bad_options();
    return test_report("test_model_manager");
}
