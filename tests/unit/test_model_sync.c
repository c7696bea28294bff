/* test_model_sync.c -- live repository changes on the fake backend: poll
 * (new, changed, deleted, broken versions; removed models; broken configs),
 * explicit load/unload, sha256sums, and requests that never fail while
 * versions swap. */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "fake_backend.h"
#include "repo_fixture.h"
#include "serve/integrity.h"
#include "serve/model_manager.h"
#include "serve/version_stamp.h"
#include "serve_test.h"

static const serve_backend *const backends[] = {&fake_backend, NULL};
static const char spec[] = "in x FP32 -1 4\nout y FP32 -1 4\n";
static const char spec_wide[] = "in x FP32 -1 8\nout y FP32 -1 8\n";

static void repo_remove_rel(const char *root, const char *rel) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    repo_remove(path);
}

static serve_manager *start(const char *root, serve_control_mode mode, const char *const *models) {
    serve_manager_options o = {.repository = root, .backends = backends, .load_threads = 2,
                               .threads_per_instance = 1, .control_mode = mode,
                               .startup_models = models};
    serve_manager *mm = NULL;
    errinfo err;
    CHECK_OK_MSG(serve_manager_create(&o, &mm, &err), err.msg);
    if (mm) CHECK(serve_manager_wait_ready(mm, 20000));
    return mm;
}

static void poll_now(serve_manager *mm) {
    errinfo err;
    CHECK_OK_MSG(serve_manager_poll(mm, &err), err.msg);
    CHECK(serve_manager_wait_idle(mm, 20000));
}

/* "1:READY 2:FAILED" for a model's rows in the list. */
static void states(serve_manager *mm, const char *name, char *buf, size_t cap) {
    serve_model_status *l = NULL;
    size_t n = 0;
    buf[0] = '\0';
    if (serve_manager_list(mm, &l, &n, NULL)) return;
    size_t o = 0;
    for (size_t i = 0; i < n && o < cap; i++)
        if (!strcmp(l[i].name, name))
            o += (size_t)snprintf(buf + o, cap - o, "%s%lld:%s", o ? " " : "",
                                  (long long)l[i].version, serve_model_state_name(l[i].state));
    serve_model_status_free(l, n);
}

static const char *reason_of(serve_manager *mm, const char *name, int64_t v, char *buf,
                             size_t cap) {
    serve_model_status *l = NULL;
    size_t n = 0;
    buf[0] = '\0';
    if (serve_manager_list(mm, &l, &n, NULL)) return buf;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(l[i].name, name) && l[i].version == v) snprintf(buf, cap, "%s", l[i].reason);
    serve_model_status_free(l, n);
    return buf;
}

#define CHECK_STATES(mm, name, want)                                             \
    do {                                                                         \
        char got_[256];                                                          \
        states((mm), (name), got_, sizeof got_);                                 \
        CHECK_STR(got_, (want));                                                 \
    } while (0)

/* --- synchronous inference ----------------------------------------------------- */

typedef struct result {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    status st;
    int64_t version;
    char msg[256];
} result;

static void on_done(serve_request *r, void *ctx) {
    result *res = ctx;
    pthread_mutex_lock(&res->mu);
    res->st = serve_request_status(r);
    res->version = serve_request_model_version(r);
    snprintf(res->msg, sizeof res->msg, "%s", serve_request_error(r));
    res->done = 1;
    pthread_cond_broadcast(&res->cv);
    pthread_mutex_unlock(&res->mu);
}

/* Runs one request on model `name`; returns the version that answered,
 * or -status on failure (message in msg). */
static int64_t infer(serve_manager *mm, const char *name, int width, char *msg, size_t cap) {
    static float xs[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    result res = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    serve_request *r = NULL;
    errinfo err;
    if (serve_request_create(name, 0, &r, &err)) return -STATUS_NO_MEMORY;
    engine_shape shape = {2, {1, width}};
    serve_request_add_input(r, "x", ENGINE_FLOAT, &shape, xs, (size_t)width * 4, false, &err);
    serve_request_set_callback(r, on_done, &res);
    serve_manager_submit(mm, r);
    pthread_mutex_lock(&res.mu);
    while (!res.done) pthread_cond_wait(&res.cv, &res.mu);
    pthread_mutex_unlock(&res.mu);
    serve_request_destroy(r);
    if (msg) snprintf(msg, cap, "%s", res.msg);
    return res.st ? -(int64_t)res.st : res.version;
}

/* Threads of this process left at SCHED_IDLE (background loads must put
 * the versions' threads back to normal priority before they serve). */
static int idle_threads(void) {
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.' && sched_getscheduler(atoi(e->d_name)) == SCHED_IDLE) n++;
    if (d) closedir(d);
    return n;
}

/* --- poll ------------------------------------------------------------------------ */

static void test_poll_new_changed_deleted(void) {
    char root[64], msg[256], buf[512];
    if (repo_make_root(root)) return;
    repo_write(root, "m/1/model.onnx", spec);
    serve_manager *mm = start(root, SERVE_CONTROL_POLL, NULL);
    if (!mm) goto out;
    CHECK(infer(mm, "m", 4, NULL, 0) == 1);
    int alive = atomic_load(&fake_models_alive);

    /* unchanged: nothing happens */
    poll_now(mm);
    CHECK_STATES(mm, "m", "1:READY");
    CHECK(atomic_load(&fake_models_alive) == alive);

    /* a new version takes over; the old one is freed */
    repo_write(root, "m/2/model.onnx", spec);
    poll_now(mm);
    CHECK_STATES(mm, "m", "2:READY");
    CHECK(idle_threads() == 0); /* loaded at idle priority, serving at normal */
    CHECK(infer(mm, "m", 4, NULL, 0) == 2);
    CHECK(atomic_load(&fake_models_alive) == alive);

    /* a broken version is refused; version 2 keeps serving */
    repo_write(root, "m/3/model.onnx", "fail corrupt file: truncated protobuf\n");
    poll_now(mm);
    CHECK_STATES(mm, "m", "2:READY 3:FAILED");
    CHECK(strstr(reason_of(mm, "m", 3, buf, sizeof buf), "corrupt file"));
    CHECK(strstr(reason_of(mm, "m", 2, buf, sizeof buf), "kept serving"));
    CHECK(infer(mm, "m", 4, NULL, 0) == 2);
    poll_now(mm); /* the same broken files are not retried */
    CHECK_STATES(mm, "m", "2:READY 3:FAILED");

    /* fixed: version 3 loads, version 2 goes */
    repo_write(root, "m/3/model.onnx", spec);
    poll_now(mm);
    CHECK_STATES(mm, "m", "3:READY");
    CHECK(infer(mm, "m", 4, NULL, 0) == 3);

    /* files of a serving version change: the new copy replaces it */
    repo_write(root, "m/3/model.onnx", spec_wide);
    poll_now(mm);
    CHECK_STATES(mm, "m", "3:READY");
    CHECK(infer(mm, "m", 8, msg, sizeof msg) == 3);
    CHECK(atomic_load(&fake_models_alive) == alive);

    /* ... and changed into something broken: the loaded copy keeps serving */
    repo_write(root, "m/3/model.onnx", "fail still broken\n");
    poll_now(mm);
    CHECK_STATES(mm, "m", "3:READY");
    CHECK(strstr(reason_of(mm, "m", 3, buf, sizeof buf), "still broken"));
    CHECK(infer(mm, "m", 8, NULL, 0) == 3);

    /* deleting the newest version rolls back to version 2 */
    repo_remove_rel(root, "m/3");
    poll_now(mm);
    CHECK_STATES(mm, "m", "2:READY");
    CHECK(infer(mm, "m", 4, NULL, 0) == 2);

    /* a removed model disappears */
    repo_write(root, "other/1/model.onnx", spec);
    poll_now(mm);
    CHECK(infer(mm, "other", 4, NULL, 0) == 1);
    repo_remove_rel(root, "other");
    poll_now(mm);
    CHECK(infer(mm, "other", 4, msg, sizeof msg) == -STATUS_NOT_FOUND);
    CHECK(atomic_load(&fake_models_alive) == alive);
    serve_manager_destroy(mm);
    CHECK(atomic_load(&fake_models_alive) == 0);
out:
    repo_remove(root);
}

static void test_poll_version_policy_and_config(void) {
    char root[64], buf[512];
    if (repo_make_root(root)) return;
    repo_write(root, "p/config.pbtxt", "version_policy: { latest { num_versions: 2 } }\n");
    repo_write(root, "p/1/model.onnx", spec);
    repo_write(root, "p/2/model.onnx", spec);
    repo_write(root, "p/3/model.onnx", spec);
    serve_manager *mm = start(root, SERVE_CONTROL_POLL, NULL);
    if (!mm) goto out;
    CHECK_STATES(mm, "p", "2:READY 3:READY");
    repo_write(root, "p/4/model.onnx", spec);
    poll_now(mm);
    CHECK_STATES(mm, "p", "3:READY 4:READY");

    /* the policy changes on reload */
    repo_write(root, "p/config.pbtxt", "version_policy: { specific { versions: [1, 3] } }\n");
    poll_now(mm);
    CHECK_STATES(mm, "p", "1:READY 3:READY");
    repo_write(root, "p/config.pbtxt", "version_policy: { all {} }\n");
    poll_now(mm);
    CHECK_STATES(mm, "p", "1:READY 2:READY 3:READY 4:READY");

    /* a broken config keeps what serves */
    repo_write(root, "p/config.pbtxt", "version_policy: { bogus {} }\n");
    poll_now(mm);
    CHECK_STATES(mm, "p", "1:READY 2:READY 3:READY 4:READY");
    CHECK(infer(mm, "p", 4, NULL, 0) == 4);
    repo_write(root, "p/config.pbtxt", "version_policy: { latest { num_versions: 1 } }\n");
    poll_now(mm);
    CHECK_STATES(mm, "p", "4:READY");
    (void)buf;
    serve_manager_destroy(mm);
out:
    repo_remove(root);
}

/* --- requests during swaps ------------------------------------------------------------ */

typedef struct load_gen {
    serve_manager *mm;
    atomic_int stop;
    atomic_int ok, failed;
    pthread_mutex_t mu;
    char first_error[256];
} load_gen;

static void *load_main(void *arg) {
    load_gen *g = arg;
    while (!atomic_load(&g->stop)) {
        char msg[256];
        if (infer(g->mm, "s", 4, msg, sizeof msg) > 0) {
            atomic_fetch_add(&g->ok, 1);
        } else if (atomic_fetch_add(&g->failed, 1) == 0) {
            pthread_mutex_lock(&g->mu);
            snprintf(g->first_error, sizeof g->first_error, "%s", msg);
            pthread_mutex_unlock(&g->mu);
        }
    }
    return NULL;
}

static void test_requests_never_fail_during_swaps(void) {
    char root[64];
    if (repo_make_root(root)) return;
    repo_write(root, "s/1/model.onnx", spec);
    serve_manager *mm = start(root, SERVE_CONTROL_POLL, NULL);
    if (!mm) goto out;
    atomic_store(&fake_sleep_us, 200);
    load_gen g = {.mm = mm, .mu = PTHREAD_MUTEX_INITIALIZER};
    pthread_t t[3];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, load_main, &g);
    for (int round = 0; round < 4; round++) {
        char rel[64];
        snprintf(rel, sizeof rel, "s/%d/model.onnx", round + 2);
        repo_write(root, rel, "in x FP32 -1 4\nout y FP32 -1 4\nloadsleep 30\n");
        poll_now(mm);
        repo_write(root, rel, spec); /* the same version, new files */
        poll_now(mm);
    }
    repo_remove_rel(root, "s/5"); /* roll back to 4 */
    poll_now(mm);
    atomic_store(&g.stop, 1);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    atomic_store(&fake_sleep_us, 0);
    CHECK(atomic_load(&g.ok) > 0);
    CHECK(atomic_load(&g.failed) == 0);
    if (atomic_load(&g.failed))
        fprintf(stderr, "  %d failed, first: %s\n", atomic_load(&g.failed), g.first_error);
    CHECK_STATES(mm, "s", "4:READY");
    serve_manager_destroy(mm);
out:
    repo_remove(root);
}

/* --- explicit mode ----------------------------------------------------------------------- */

typedef struct answer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    status st;
    char msg[512];
} answer;

static void on_answer(void *ctx, status st, const char *msg) {
    answer *a = ctx;
    pthread_mutex_lock(&a->mu);
    a->st = st;
    snprintf(a->msg, sizeof a->msg, "%s", msg);
    a->done++;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static status wait_answer(answer *a) {
    pthread_mutex_lock(&a->mu);
    while (!a->done) pthread_cond_wait(&a->cv, &a->mu);
    pthread_mutex_unlock(&a->mu);
    return a->st;
}

static status load(serve_manager *mm, const char *name, bool unload, char *msg, size_t cap) {
    answer a = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    if (unload) serve_manager_unload(mm, name, on_answer, &a);
    else serve_manager_load(mm, name, on_answer, &a);
    status st = wait_answer(&a);
    CHECK(a.done == 1);
    if (msg) snprintf(msg, cap, "%s", a.msg);
    return st;
}

static void test_explicit(void) {
    char root[64], msg[512];
    if (repo_make_root(root)) return;
    repo_write(root, "a/1/model.onnx", spec);
    repo_write(root, "b/1/model.onnx", "in x FP32 -1 4\nout y FP32 -1 4\nloadsleep 50\n");
    repo_write(root, "bad/1/model.onnx", "fail not a model\n");
    const char *const startup[] = {"a", NULL};
    serve_manager *mm = start(root, SERVE_CONTROL_EXPLICIT, startup);
    if (!mm) goto out;
    CHECK(infer(mm, "a", 4, NULL, 0) == 1);
    CHECK(infer(mm, "b", 4, NULL, 0) == -STATUS_NOT_FOUND);
    int alive = atomic_load(&fake_models_alive);

    CHECK_OK_MSG(load(mm, "b", false, msg, sizeof msg), msg);
    CHECK(infer(mm, "b", 4, NULL, 0) == 1);
    CHECK(atomic_load(&fake_models_alive) == alive + 1);
    CHECK_OK_MSG(load(mm, "b", false, msg, sizeof msg), msg); /* loaded already: fine */

    CHECK_ERR(load(mm, "bad", false, msg, sizeof msg), STATUS_INVALID_MODEL, msg, "not a model");
    CHECK_ERR(load(mm, "nope", false, msg, sizeof msg), STATUS_NOT_FOUND, msg,
              "not in the repository");
    CHECK_ERR(load(mm, "../x", false, msg, sizeof msg), STATUS_INVALID_ARGUMENT, msg,
              "directory name");

    /* the index lists what is on disk and what is loaded */
    serve_model_status *l = NULL;
    size_t n = 0;
    errinfo err;
    CHECK_OK_MSG(serve_manager_index(mm, false, &l, &n, &err), err.msg);
    CHECK(n == 3);
    if (n == 3) {
        CHECK_STR(l[0].name, "a");
        CHECK(l[0].state == SERVE_MODEL_READY && l[0].version == 1);
        CHECK_STR(l[2].name, "bad");
        CHECK(l[2].state == SERVE_MODEL_FAILED);
    }
    serve_model_status_free(l, n);

    CHECK_OK_MSG(load(mm, "b", true, msg, sizeof msg), msg);
    CHECK(atomic_load(&fake_models_alive) == alive); /* freed before the answer */
    CHECK(infer(mm, "b", 4, msg, sizeof msg) == -STATUS_UNAVAILABLE);
    CHECK(strstr(msg, "unloaded") != NULL);
    CHECK_OK_MSG(serve_manager_index(mm, true, &l, &n, &err), err.msg);
    CHECK(n == 1); /* ready only: a */
    serve_model_status_free(l, n);
    CHECK_OK_MSG(serve_manager_index(mm, false, &l, &n, &err), err.msg);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(l[i].name, "b")) CHECK_STR(l[i].reason, "unloaded");
    serve_model_status_free(l, n);
    CHECK_ERR(load(mm, "nope", true, msg, sizeof msg), STATUS_NOT_FOUND, msg, "no model");

    /* unload while loading: both answered */
    answer la = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    serve_manager_load(mm, "b", on_answer, &la);
    CHECK_OK_MSG(load(mm, "b", true, msg, sizeof msg), msg);
    wait_answer(&la);
    CHECK(la.done == 1);
    CHECK(serve_manager_wait_idle(mm, 20000));
    CHECK(atomic_load(&fake_models_alive) == alive);

    /* polling is refused in explicit mode, explicit loads in the others */
    CHECK_ERR(serve_manager_poll(mm, &err), STATUS_FAILED_PRECONDITION, err.msg, "poll");
    serve_manager_destroy(mm);
    mm = start(root, SERVE_CONTROL_NONE, NULL);
    if (mm) {
        CHECK_ERR(load(mm, "a", false, msg, sizeof msg), STATUS_FAILED_PRECONDITION, msg,
                  "--model-control-mode explicit");
        serve_manager_destroy(mm);
    }
out:
    repo_remove(root);
}

/* --- sha256sums ----------------------------------------------------------------------------- */

static void write_manifest(const char *root, const char *rel_dir, const char *line) {
    char rel[256];
    snprintf(rel, sizeof rel, "%s/sha256sums", rel_dir);
    repo_write(root, rel, line);
}

static void test_integrity(void) {
    char root[64], path[256], hex[65], line[512], vdir[256];
    errinfo err;
    if (repo_make_root(root)) return;
    repo_write(root, "h/1/model.onnx", spec);
    snprintf(vdir, sizeof vdir, "%s/h/1", root);
    snprintf(path, sizeof path, "%s/model.onnx", vdir);
    CHECK_OK_MSG(serve_sha256_file(path, hex, &err), err.msg);
    CHECK_OK_MSG(serve_integrity_check(vdir, path, &err), err.msg); /* no manifest */

    snprintf(line, sizeof line, "%s  model.onnx\n", hex);
    write_manifest(root, "h/1", line);
    CHECK_OK_MSG(serve_integrity_check(vdir, path, &err), err.msg);
    snprintf(line, sizeof line, "%s *./model.onnx\r\n\n", hex); /* binary mode, ./, CRLF */
    write_manifest(root, "h/1", line);
    CHECK_OK_MSG(serve_integrity_check(vdir, path, &err), err.msg);

    hex[0] = hex[0] == '0' ? '1' : '0';
    snprintf(line, sizeof line, "%s  model.onnx\n", hex);
    write_manifest(root, "h/1", line);
    CHECK_ERR(serve_integrity_check(vdir, path, &err), STATUS_INVALID_MODEL, err.msg,
              "line 1: model.onnx: checksum mismatch");
    repo_write(root, "h/1/other.bin", "x");
    CHECK_OK_MSG(serve_sha256_file(path, hex, &err), err.msg);
    char other[256], ohex[65];
    snprintf(other, sizeof other, "%s/other.bin", vdir);
    CHECK_OK_MSG(serve_sha256_file(other, ohex, &err), err.msg);
    /* sha256 of "x" */
    CHECK_STR(ohex, "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881");
    snprintf(line, sizeof line, "%s  other.bin\n", ohex);
    write_manifest(root, "h/1", line);
    CHECK_ERR(serve_integrity_check(vdir, path, &err), STATUS_INVALID_MODEL, err.msg,
              "does not list the model file model.onnx");
    write_manifest(root, "h/1", "not a checksum line\n");
    CHECK_ERR(serve_integrity_check(vdir, path, &err), STATUS_INVALID_MODEL, err.msg,
              "line 1: expected '<64 hex digits>  <file name>'");
    snprintf(line, sizeof line, "%s  ../escape\n", ohex);
    write_manifest(root, "h/1", line);
    CHECK_ERR(serve_integrity_check(vdir, path, &err), STATUS_INVALID_MODEL, err.msg,
              "not a path inside the version directory");
    snprintf(line, sizeof line, "%s  missing.bin\n", ohex);
    write_manifest(root, "h/1", line);
    CHECK_ERR(serve_integrity_check(vdir, path, &err), STATUS_IO_ERROR, err.msg, "missing.bin");
    write_manifest(root, "h/1", "");
    CHECK_ERR(serve_integrity_check(vdir, path, &err), STATUS_INVALID_MODEL, err.msg,
              "lists no file");

    /* through the manager: a mismatch refuses the version, the old one serves */
    snprintf(line, sizeof line, "%s  model.onnx\n", hex);
    write_manifest(root, "h/1", line);
    serve_manager *mm = start(root, SERVE_CONTROL_POLL, NULL);
    if (!mm) goto out;
    CHECK_STATES(mm, "h", "1:READY");
    repo_write(root, "h/2/model.onnx", spec);
    snprintf(line, sizeof line, "%s  model.onnx\n", ohex); /* wrong */
    write_manifest(root, "h/2", line);
    poll_now(mm);
    CHECK_STATES(mm, "h", "1:READY 2:FAILED");
    char buf[512];
    CHECK(strstr(reason_of(mm, "h", 2, buf, sizeof buf), "checksum mismatch") != NULL);
    CHECK(infer(mm, "h", 4, NULL, 0) == 1);
    snprintf(line, sizeof line, "%s  model.onnx\n", hex); /* right (same content as 1) */
    write_manifest(root, "h/2", line);
    poll_now(mm);
    CHECK_STATES(mm, "h", "2:READY");
    serve_manager_destroy(mm);
out:
    repo_remove(root);
}

static void test_stamp(void) {
    char root[64], dir[128];
    if (repo_make_root(root)) return;
    repo_write(root, "m/1/model.onnx", spec);
    snprintf(dir, sizeof dir, "%s/m", root);
    uint64_t a = serve_version_stamp(dir, 1);
    CHECK(a != 0 && a == serve_version_stamp(dir, 1));
    repo_write(root, "m/1/extra.bin", "x");
    uint64_t b = serve_version_stamp(dir, 1);
    CHECK(b != a);
    repo_write(root, "m/config.pbtxt", "max_batch_size: 0\n");
    CHECK(serve_version_stamp(dir, 1) != b);
    CHECK(serve_version_stamp(dir, 2) != 0);
    repo_remove(root);
}

int main(void) {
    log_set_fd(-1);
    test_stamp();
    test_integrity();
    test_poll_new_changed_deleted();
    test_poll_version_policy_and_config();
    test_requests_never_fail_during_swaps();
    test_explicit();
    return test_report("test_model_sync");
}
