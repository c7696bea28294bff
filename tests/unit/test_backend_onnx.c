/* test_backend_onnx.c -- the ONNX backend and the whole serving core on a
 * real model: Debian's libonnx-testdata test_add (sum = x + y, [3,4,5]).
 * Skips (passes) when the test data is not installed. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "repo_fixture.h"
#include "serve/backend.h"
#include "serve/model_manager.h"
#include "serve_test.h"

#define ADD_MODEL "/usr/share/libonnx-testdata/data/node/test_add/model.onnx"

static float xs[60], ys[60];

static void test_backend(void) {
    const serve_backend *be = &serve_backend_onnx;
    serve_backend_model *bm = NULL;
    serve_backend_instance *inst = NULL;
    errinfo err;
    CHECK_OK_MSG(be->model_load(ADD_MODEL, NULL, &bm, &err), err.msg);
    if (!bm) return;
    const serve_model_meta *m = be->model_meta(bm);
    CHECK_STR(m->platform, "onnxruntime_onnx");
    CHECK(m->n_inputs == 2 && m->n_outputs == 1);
    CHECK_STR(m->inputs[0].name, "x");
    CHECK(m->inputs[0].dtype == ENGINE_FLOAT && m->inputs[0].rank == 3 && m->inputs[0].dims[2] == 5);
    CHECK_STR(m->outputs[0].name, "sum");
    CHECK_OK_MSG(be->instance_create(bm, &(serve_instance_options){.threads = 1}, &inst, &err), err.msg);
    if (inst) {
        for (int i = 0; i < 60; i++) {
            xs[i] = (float)i;
            ys[i] = 0.5f;
        }
        engine_shape s = {3, {3, 4, 5}};
        /* inputs by name, in any order */
        serve_tensor in[2] = {{.name = "y", .dtype = ENGINE_FLOAT, .shape = s, .data = ys, .nbytes = 240},
                              {.name = "x", .dtype = ENGINE_FLOAT, .shape = s, .data = xs, .nbytes = 240}};
        const char *want[] = {"sum"};
        serve_tensor out[1] = {{0}};
        CHECK_OK_MSG(be->execute(inst, in, 2, want, 1, out, &err), err.msg);
        CHECK_STR(out[0].name, "sum");
        CHECK(out[0].shape.rank == 3 && out[0].nbytes == 240);
        bool right = out[0].data != NULL;
        for (int i = 0; right && i < 60; i++) right = ((float *)out[0].data)[i] == (float)i + 0.5f;
        CHECK(right);
        be->tensor_release(&out[0]);
        CHECK(out[0].data == NULL);

        CHECK_ERR(be->execute(inst, in, 1, want, 1, out, &err), STATUS_INVALID_ARGUMENT, err.msg,
                  "input 'x' is required by the model");
        const char *bad[] = {"nope"};
        CHECK_ERR(be->execute(inst, in, 2, bad, 1, out, &err), STATUS_INVALID_ARGUMENT, err.msg,
                  "unknown output 'nope'");
        serve_tensor wrong = in[0];
        wrong.name = "z";
        CHECK_ERR(be->execute(inst, &wrong, 1, want, 1, out, &err), STATUS_INVALID_ARGUMENT, err.msg,
                  "unknown input 'z'");
    }
    be->instance_destroy(inst);
    be->model_unload(bm);

    status st = be->model_load("/nonexistent/model.onnx", NULL, &bm, &err);
    CHECK(st == STATUS_NOT_FOUND || st == STATUS_IO_ERROR);
    CHECK(strstr(err.msg, "/nonexistent/model.onnx") != NULL);
    CHECK(strncmp(err.msg, "/nonexistent/model.onnx: /nonexistent/model.onnx", 48) != 0);
}

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    status st;
    float first;
} waiter;

static void on_done(serve_request *r, void *ctx) {
    waiter *w = ctx;
    pthread_mutex_lock(&w->mu);
    w->st = serve_request_status(r);
    const serve_tensor *o = serve_request_output(r, 0);
    w->first = o ? ((float *)o->data)[1] : -1;
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* The full path: repository -> manager -> scheduler -> engine. */
static void test_served(void) {
    char root[64], path[128];
    if (repo_make_root(root)) return;
    snprintf(path, sizeof path, "%s/add/1", root);
    repo_dir(root, "add/1");
    strcat(path, "/model.onnx");
    CHECK(symlink(ADD_MODEL, path) == 0);
    repo_write(root, "corrupt/1/model.onnx", "this is not protobuf");
    static const serve_backend *const backends[] = {&serve_backend_onnx, NULL};
    serve_manager_options o = {.repository = root, .backends = backends};
    serve_manager *mm = NULL;
    errinfo err;
    CHECK_OK_MSG(serve_manager_create(&o, &mm, &err), err.msg);
    if (!mm) goto out;
    CHECK(serve_manager_wait_ready(mm, 60000));
    serve_model_handle *h = NULL;
    CHECK_ERR(serve_manager_acquire(mm, "corrupt", 0, &h, &err), STATUS_UNAVAILABLE, err.msg,
              "failed to load");
    CHECK_OK_MSG(serve_manager_acquire(mm, "add", 0, &h, &err), err.msg);
    serve_model_handle_release(h);

    waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
    serve_request *r = NULL;
    engine_shape s = {3, {3, 4, 5}};
    CHECK_OK_MSG(serve_request_create("add", 0, &r, &err), err.msg);
    serve_request_add_input(r, "x", ENGINE_FLOAT, &s, xs, 240, false, &err);
    serve_request_add_input(r, "y", ENGINE_FLOAT, &s, ys, 240, false, &err);
    serve_request_set_callback(r, on_done, &w);
    serve_manager_submit(mm, r);
    pthread_mutex_lock(&w.mu);
    while (!w.done) pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    CHECK(w.st == STATUS_OK);
    CHECK(w.first == 1.5f);
    CHECK(serve_request_model_version(r) == 1);
    serve_request_destroy(r);
    serve_manager_destroy(mm);
out:
    repo_remove(root);
}

int main(void) {
    if (access(ADD_MODEL, R_OK)) {
        printf("test_backend_onnx: skipped (%s not installed)\n", ADD_MODEL);
        return 0;
    }
    log_set_fd(-1);
    test_backend();
    test_served();
    return test_report("test_backend_onnx");
}
