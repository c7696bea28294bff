/* test_warmup.c -- warmup samples from config.pbtxt model_warmup (zero,
 * random, files), the default sample, clear refusals, and the model
 * manager: a version turns READY only after warmup ran on every instance,
 * and a failed warmup fails the version with its reason. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fake_backend.h"
#include "repo_fixture.h"
#include "serve/infer_request.h"
#include "serve/model_manager.h"
#include "serve/warmup.h"
#include "serve_test.h"

typedef struct model {
    model_config *cfg;
    serve_backend_model *bm;
    serve_model_meta *meta;
} model;

static status model_init(model *m, const char *spec, const char *config, errinfo *err) {
    memset(m, 0, sizeof *m);
    status st = model_config_parse(config, strlen(config), "config.pbtxt", &m->cfg, err);
    if (!st) st = fake_model_from_spec(spec, &m->bm, err);
    if (!st) st = serve_meta_build("m", 1, m->cfg, fake_model_meta(m->bm), &m->meta, err);
    return st;
}

static void model_deinit(model *m) {
    serve_meta_free(m->meta);
    fake_model_unload(m->bm);
    model_config_release(m->cfg);
}

static const serve_tensor *input(const serve_warmup_sample *ws, const char *name) {
    for (int i = 0; i < serve_request_input_count(ws->request); i++)
        if (!strcmp(serve_request_input(ws->request, i)->name, name))
            return serve_request_input(ws->request, i);
    return NULL;
}

static bool shape_is(const serve_tensor *t, int rank, int64_t d0, int64_t d1) {
    return t && t->shape.rank == rank && t->shape.dims[0] == d0 && (rank < 2 || t->shape.dims[1] == d1);
}

static const char spec2[] = "in x FP32 -1 3\nin ids INT64 -1 -1\nout y FP32 -1 3\n";

static void test_from_config(const char *root) {
    char dir[256];
    snprintf(dir, sizeof dir, "%s/m", root);
    /* one row of x, as raw little-endian floats */
    float row[3] = {1.5f, -2.0f, 4.25f};
    char path[300];
    snprintf(path, sizeof path, "%s/m/warmup/x.bin", root);
    repo_dir(root, "m/warmup");
    FILE *fp = fopen(path, "wb");
    if (fp) {
        fwrite(row, sizeof row, 1, fp);
        fclose(fp);
    }
    model m;
    errinfo err;
    const char cfg[] =
        "max_batch_size: 8\n"
        "model_warmup [\n"
        "  { name: \"zeros\" batch_size: 2 count: 3 inputs [\n"
        "      { key: \"x\" value: { data_type: TYPE_FP32 dims: [ 3 ] zero_data: true } },\n"
        "      { key: \"ids\" value: { data_type: TYPE_INT64 dims: [ 5 ] zero_data: true } } ] },\n"
        "  { name: \"rand\" batch_size: 4 inputs [\n"
        "      { key: \"x\" value: { data_type: TYPE_FP32 dims: [ 3 ] random_data: true } },\n"
        "      { key: \"ids\" value: { data_type: TYPE_INT64 dims: [ 2 ] random_data: true } } ] },\n"
        "  { name: \"file\" batch_size: 3 inputs [\n"
        "      { key: \"x\" value: { data_type: TYPE_FP32 dims: [ 3 ] input_data_file: \"x.bin\" } },\n"
        "      { key: \"ids\" value: { data_type: TYPE_INT64 dims: [ 1 ] zero_data: true } } ] }\n"
        "]\n";
    CHECK_OK_MSG(model_init(&m, spec2, cfg, &err), err.msg);
    serve_warmup_sample *ws = NULL;
    int n = 0;
    CHECK_OK_MSG(serve_warmup_build(m.cfg, m.meta, dir, &ws, &n, &err), err.msg);
    CHECK(n == 3);
    if (n == 3) {
        CHECK_STR(ws[0].name, "zeros");
        CHECK(ws[0].count == 3 && !ws[0].advisory);
        const serve_tensor *x = input(&ws[0], "x"), *ids = input(&ws[0], "ids");
        CHECK(shape_is(x, 2, 2, 3) && shape_is(ids, 2, 2, 5));
        CHECK(x && x->nbytes == 24 && ((const float *)x->data)[5] == 0.0f);
        CHECK(ids && ids->nbytes == 80 && ((const int64_t *)ids->data)[9] == 0);

        x = input(&ws[1], "x");
        ids = input(&ws[1], "ids");
        CHECK(shape_is(x, 2, 4, 3) && shape_is(ids, 2, 4, 2));
        bool in_range = x != NULL, varied = false;
        for (int i = 0; x && i < 12; i++) {
            float v = ((const float *)x->data)[i];
            in_range = in_range && v >= 0.0f && v < 1.0f;
            varied = varied || v != ((const float *)x->data)[0];
        }
        CHECK(in_range && varied);
        for (int i = 0; ids && i < 8; i++) CHECK(((const int64_t *)ids->data)[i] <= 1);
        /* rows repeat the one sample */
        CHECK(x && !memcmp(x->data, (const float *)x->data + 9, 12));

        x = input(&ws[2], "x");
        CHECK(shape_is(x, 2, 3, 3));
        CHECK(x && !memcmp(x->data, row, 12) && !memcmp((const float *)x->data + 6, row, 12));
        for (int i = 0; i < 3; i++) CHECK(serve_request_status(ws[i].request) == STATUS_OK);
    }
    serve_warmup_free(ws, n);
    model_deinit(&m);
}

#define CHECK_BUILD_ERR(spec, cfgtext, dir, code, needle)                                   \
    do {                                                                                  \
        model m_;                                                                         \
        errinfo e_ = {{0}};                                                               \
        serve_warmup_sample *w_ = NULL;                                                   \
        int n_ = 0;                                                                       \
        CHECK_OK_MSG(model_init(&m_, (spec), (cfgtext), &e_), e_.msg);                    \
        if (m_.meta) {                                                                    \
            CHECK_ERR(serve_warmup_build(m_.cfg, m_.meta, (dir), &w_, &n_, &e_), (code),  \
                      e_.msg, (needle));                                                  \
            CHECK(w_ == NULL && n_ == 0);                                                 \
        }                                                                                 \
        model_deinit(&m_);                                                                \
    } while (0)

static void test_refusals(const char *root) {
    char dir[256];
    snprintf(dir, sizeof dir, "%s/m", root);
    const char spec[] = "in x FP32 -1 3\nout y FP32 -1 3\n";
    CHECK_BUILD_ERR(spec,
                    "max_batch_size: 4 model_warmup { name: \"w\" inputs { key: \"x\" value: { "
                    "data_type: TYPE_FP32 dims: [ 4 ] zero_data: true } } }",
                    dir, STATUS_INVALID_MODEL,
                    "model_warmup 'w' (config.pbtxt:1:32): input 'x': expected shape [-1,3], got [1,4]");
    CHECK_BUILD_ERR(spec,
                    "max_batch_size: 4 model_warmup { name: \"w\" inputs { key: \"q\" value: { "
                    "data_type: TYPE_FP32 dims: [ 3 ] zero_data: true } } }",
                    dir, STATUS_INVALID_MODEL, "unknown input 'q'");
    CHECK_BUILD_ERR(spec,
                    "max_batch_size: 4 model_warmup { name: \"w\" inputs { key: \"x\" value: { "
                    "data_type: TYPE_INT32 dims: [ 3 ] zero_data: true } } }",
                    dir, STATUS_INVALID_MODEL, "expected datatype FP32, got INT32");
    CHECK_BUILD_ERR("in x FP32 -1 3\nin b FP32 -1 3\nout y FP32 -1 3\n",
                    "max_batch_size: 4 model_warmup { name: \"w\" inputs { key: \"x\" value: { "
                    "data_type: TYPE_FP32 dims: [ 3 ] zero_data: true } } }",
                    dir, STATUS_INVALID_MODEL, "missing input 'b'");
    CHECK_BUILD_ERR(spec,
                    "max_batch_size: 4 model_warmup { name: \"w\" inputs { key: \"x\" value: { "
                    "data_type: TYPE_FP32 dims: [ 3 ] input_data_file: \"nope.bin\" } } }",
                    dir, STATUS_IO_ERROR, "input 'x': cannot open ");
    char path[300];
    snprintf(path, sizeof path, "%s/m/warmup/short.bin", root);
    repo_dir(root, "m/warmup");
    FILE *fp = fopen(path, "wb");
    if (fp) {
        fwrite("12345678", 8, 1, fp);
        fclose(fp);
    }
    CHECK_BUILD_ERR(spec,
                    "max_batch_size: 4 model_warmup { name: \"w\" inputs { key: \"x\" value: { "
                    "data_type: TYPE_FP32 dims: [ 3 ] input_data_file: \"short.bin\" } } }",
                    dir, STATUS_INVALID_MODEL, "short.bin has 8 bytes; one row of 3 FP32 elements needs 12");
}

/* BYTES: zeros are empty strings; a file holds <u32 length><bytes> per element. */
static void test_strings(const char *root) {
    char dir[256], path[300];
    snprintf(dir, sizeof dir, "%s/m", root);
    snprintf(path, sizeof path, "%s/m/warmup/s.bin", root);
    repo_dir(root, "m/warmup");
    FILE *fp = fopen(path, "wb");
    if (fp) {
        fwrite("\x02\0\0\0hi\x00\0\0\0", 10, 1, fp);
        fclose(fp);
    }
    model m;
    errinfo err;
    CHECK_OK_MSG(model_init(&m, "in s BYTES -1 2\nout y BYTES -1 2\n",
                            "max_batch_size: 4 model_warmup { name: \"s\" batch_size: 2 inputs { "
                            "key: \"s\" value: { data_type: TYPE_STRING dims: [ 2 ] "
                            "input_data_file: \"s.bin\" } } }",
                            &err), err.msg);
    serve_warmup_sample *ws = NULL;
    int n = 0;
    CHECK_OK_MSG(serve_warmup_build(m.cfg, m.meta, dir, &ws, &n, &err), err.msg);
    const serve_tensor *t = n == 1 ? input(&ws[0], "s") : NULL;
    CHECK(shape_is(t, 2, 2, 2));
    if (t) {
        const engine_string *e = t->data;
        CHECK(e[0].len == 2 && !memcmp(e[0].ptr, "hi", 2) && e[1].len == 0);
        CHECK(e[2].len == 2 && !memcmp(e[2].ptr, "hi", 2) && e[3].len == 0);
    }
    serve_warmup_free(ws, n);
    model_deinit(&m);
    fp = fopen(path, "wb");
    if (fp) {
        fwrite("\x05\0\0\0hi", 6, 1, fp);
        fclose(fp);
    }
    CHECK_BUILD_ERR("in s BYTES -1 2\nout y BYTES -1 2\n",
                    "max_batch_size: 4 model_warmup { name: \"s\" inputs { key: \"s\" value: { "
                    "data_type: TYPE_STRING dims: [ 2 ] input_data_file: \"s.bin\" } } }",
                    dir, STATUS_INVALID_MODEL, "element 0 says 5 bytes, 2 are left");
}

/* Without model_warmup: zeros, batch 1, symbolic dims 1. */
static void test_default(void) {
    model m;
    errinfo err;
    CHECK_OK_MSG(model_init(&m, spec2, "max_batch_size: 8", &err), err.msg);
    serve_warmup_sample *ws = NULL;
    int n = 0;
    CHECK_OK_MSG(serve_warmup_build(m.cfg, m.meta, NULL, &ws, &n, &err), err.msg);
    CHECK(n == 1);
    if (n == 1) {
        CHECK_STR(ws[0].name, "default");
        CHECK(shape_is(input(&ws[0], "x"), 2, 1, 3) && shape_is(input(&ws[0], "ids"), 2, 1, 1));
        CHECK(ws[0].advisory); /* ids' second dim was guessed */
    }
    serve_warmup_free(ws, n);
    model_deinit(&m);

    /* everything known but the batch dim: a failure would be real */
    CHECK_OK_MSG(model_init(&m, "in x FP32 -1 3\nout y FP32 -1 3\n", "", &err), err.msg);
    CHECK_OK_MSG(serve_warmup_build(m.cfg, m.meta, NULL, &ws, &n, &err), err.msg);
    CHECK(n == 1 && !ws[0].advisory && shape_is(input(&ws[0], "x"), 2, 1, 3));
    serve_warmup_free(ws, n);
    model_deinit(&m);

    /* unknown rank: no default sample */
    CHECK_OK_MSG(model_init(&m, "in x FP32 *\nout y FP32 *\n", "", &err), err.msg);
    CHECK_OK_MSG(serve_warmup_build(m.cfg, m.meta, NULL, &ws, &n, &err), err.msg);
    CHECK(n == 0 && ws == NULL);
    model_deinit(&m);
}

/* Through the model manager: READY after warmup; a failing warmup FAILS
 * the version with the reason, and the other models load. */
static void test_manager(const char *root) {
    static const serve_backend *const backends[] = {&fake_backend, NULL};
    const char spec[] = "in x FP32 -1 4\nout y FP32 -1 4\n";
    repo_write(root, "good/config.pbtxt",
               "max_batch_size: 4\ninstance_group [ { count: 2 } ]\n"
               "model_warmup { name: \"w\" batch_size: 4 count: 2 inputs { key: \"x\" value: { "
               "data_type: TYPE_FP32 dims: [ 4 ] random_data: true } } }\n");
    repo_write(root, "good/1/model.onnx", spec);
    repo_write(root, "bad/config.pbtxt",
               "max_batch_size: 4\nmodel_warmup { name: \"w\" inputs { key: \"x\" value: { "
               "data_type: TYPE_FP32 dims: [ 4 ] input_data_file: \"missing.bin\" } } }\n");
    repo_write(root, "bad/1/model.onnx", spec);
    repo_write(root, "plain/1/model.onnx", spec);
    int before = atomic_load(&fake_executions);
    serve_manager_options o = {.repository = root, .backends = backends};
    serve_manager *mm = NULL;
    errinfo err;
    CHECK_OK_MSG(serve_manager_create(&o, &mm, &err), err.msg);
    if (!mm) return;
    CHECK(serve_manager_wait_ready(mm, 10000));
    /* good: 2 instances x 2 runs; plain: its default sample on 1 instance */
    CHECK(atomic_load(&fake_executions) - before == 5);
    serve_model_handle *h = NULL;
    CHECK_OK_MSG(serve_manager_acquire(mm, "good", 0, &h, &err), err.msg);
    if (h) {
        serve_scheduler_stats st;
        serve_model_handle_stats(h, &st);
        CHECK(st.executions == 0);
        serve_model_handle_release(h);
    }
    CHECK_OK_MSG(serve_manager_acquire(mm, "plain", 0, &h, &err), err.msg);
    serve_model_handle_release(h);
    CHECK_ERR(serve_manager_acquire(mm, "bad", 0, &h, &err), STATUS_UNAVAILABLE, err.msg,
              "model 'bad' version 1 failed to load: model_warmup 'w' (config.pbtxt:2:14): "
              "input 'x': cannot open ");
    CHECK(strstr(err.msg, "bad/warmup/missing.bin") != NULL);
    serve_manager_destroy(mm);
}

int main(void) {
    log_set_fd(-1);
    char root[64];
    if (repo_make_root(root)) {
        fprintf(stderr, "cannot make a temporary directory\n");
        return 1;
    }
    test_from_config(root);
    test_refusals(root);
    test_strings(root);
    test_default();
    test_manager(root);
    repo_remove(root);
    CHECK(atomic_load(&fake_instances_alive) == 0 && atomic_load(&fake_models_alive) == 0);
    return test_report("test_warmup");
}
