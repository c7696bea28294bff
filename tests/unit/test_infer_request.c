/* test_infer_request.c -- request validation messages, config-vs-model
 * checks (model_meta), reshape mapping, request ownership. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fake_backend.h"
#include "serve/infer_request_int.h"
#include "serve/model_config.h"
#include "serve/model_meta.h"
#include "serve_test.h"

/* Builds effective metadata from a fake model spec and config text. */
static serve_model_meta *meta_of(const char *spec, const char *cfg_text, errinfo *err, status *st) {
    serve_backend_model *bm = NULL;
    model_config *cfg = NULL;
    serve_model_meta *meta = NULL;
    *st = fake_model_from_spec(spec, &bm, err);
    if (!*st && cfg_text) *st = model_config_parse(cfg_text, strlen(cfg_text), "test", &cfg, err);
    if (!*st) *st = serve_meta_build("m", 1, cfg, fake_model_meta(bm), &meta, err);
    model_config_release(cfg);
    fake_model_unload(bm);
    return meta;
}

static serve_model_meta *meta_ok(const char *spec, const char *cfg_text) {
    errinfo err = {{0}};
    status st;
    serve_model_meta *m = meta_of(spec, cfg_text, &err, &st);
    CHECK_OK_MSG(st, err.msg);
    return m;
}

static void meta_fails(const char *spec, const char *cfg_text, const char *needle, int line) {
    errinfo err = {{0}};
    status st;
    serve_model_meta *m = meta_of(spec, cfg_text, &err, &st);
    test_checks++;
    if (st != STATUS_INVALID_MODEL || !strstr(err.msg, needle)) {
        fprintf(stderr, "%s:%d: want INVALID_MODEL containing \"%s\", got %s \"%s\"\n", __FILE__, line,
                needle, status_name(st), st ? err.msg : "");
        test_failures++;
    }
    serve_meta_free(m);
}
#define META_FAILS(spec, cfg, needle) meta_fails(spec, cfg, needle, __LINE__)

static float xs[2 * 48];
static int64_t ys[4];

static serve_request *req_new(void) {
    serve_request *r = NULL;
    errinfo err;
    CHECK_OK_MSG(serve_request_create("m", 0, &r, &err), err.msg);
    return r;
}

static void add(serve_request *r, const char *name, engine_dtype dt, engine_shape s, const void *data,
                size_t nbytes) {
    errinfo err;
    CHECK_OK_MSG(serve_request_add_input(r, name, dt, &s, data, nbytes, false, &err), err.msg);
}

#define SHAPE(...) ((engine_shape){sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), {__VA_ARGS__}})

static void expect_invalid(serve_request *r, const serve_model_meta *m, const char *needle, int line) {
    errinfo err = {{0}};
    status st = serve_request_validate(r, m, &err);
    test_checks++;
    if (st != STATUS_INVALID_ARGUMENT || !strstr(err.msg, needle)) {
        fprintf(stderr, "%s:%d: want INVALID_ARGUMENT containing \"%s\", got %s \"%s\"\n", __FILE__,
                line, needle, status_name(st), st ? err.msg : "");
        test_failures++;
    }
    serve_request_destroy(r);
}
#define EXPECT_INVALID(r, m, needle) expect_invalid(r, m, needle, __LINE__)

static const char batched_spec[] = "in x FP32 -1 3 4 4\nin y INT64 -1 2\nout z FP32 -1 5\n";

static void test_validation_batched(void) {
    serve_model_meta *m = meta_ok(batched_spec, "max_batch_size: 8");
    if (!m) return;
    errinfo err;
    serve_request *r = req_new();
    add(r, "x", ENGINE_FLOAT, SHAPE(2, 3, 4, 4), xs, sizeof xs);
    add(r, "y", ENGINE_INT64, SHAPE(2, 2), ys, sizeof ys);
    CHECK_OK_MSG(serve_request_validate(r, m, &err), err.msg);
    CHECK_OK_MSG(serve_request_add_requested_output(r, "z", &err), err.msg);
    CHECK_OK_MSG(serve_request_validate(r, m, &err), err.msg);
    CHECK_OK_MSG(serve_request_add_requested_output(r, "z", &err), err.msg);
    EXPECT_INVALID(r, m, "output 'z' requested more than once");

    r = req_new();
    add(r, "x", ENGINE_INT64, SHAPE(1, 3, 4, 4), xs, 48 * 8);
    add(r, "y", ENGINE_INT64, SHAPE(1, 2), ys, 16);
    EXPECT_INVALID(r, m, "input 'x': expected datatype FP32, got INT64");

    r = req_new();
    add(r, "x", ENGINE_FLOAT, SHAPE(1, 3, 4), xs, 48);
    EXPECT_INVALID(r, m, "input 'x': expected shape [-1,3,4,4], got [1,3,4]");

    r = req_new();
    add(r, "x", ENGINE_FLOAT, SHAPE(16, 3, 4, 4), xs, 16 * 48 * 4);
    EXPECT_INVALID(r, m, "input 'x': batch size (first dimension) must be 1 to 8 (max_batch_size), got 16");

    r = req_new();
    add(r, "x", ENGINE_FLOAT, SHAPE(0, 3, 4, 4), xs, 0);
    EXPECT_INVALID(r, m, "must be 1 to 8 (max_batch_size), got 0");

    r = req_new();
    add(r, "w", ENGINE_FLOAT, SHAPE(1), xs, 4);
    EXPECT_INVALID(r, m, "unknown input 'w' (model 'm' has inputs 'x', 'y')");

    r = req_new();
    add(r, "x", ENGINE_FLOAT, SHAPE(1, 3, 4, 4), xs, 192);
    add(r, "x", ENGINE_FLOAT, SHAPE(1, 3, 4, 4), xs, 192);
    EXPECT_INVALID(r, m, "input 'x' given more than once");

    r = req_new();
    add(r, "x", ENGINE_FLOAT, SHAPE(1, 3, 4, 4), xs, 192);
    EXPECT_INVALID(r, m, "missing input 'y' (expected datatype INT64, shape [-1,2])");

    r = req_new();
    add(r, "x", ENGINE_FLOAT, SHAPE(1, 3, 4, 4), xs, 190);
    EXPECT_INVALID(r, m, "input 'x': shape [1,3,4,4] needs 48 elements (192 bytes of FP32), got 190 bytes");

    r = req_new();
    add(r, "x", ENGINE_FLOAT, SHAPE(1, 3, 4, 4), xs, 192);
    add(r, "y", ENGINE_INT64, SHAPE(2, 2), ys, 32);
    EXPECT_INVALID(r, m, "input 'y': batch size 2 differs from input 'x' (1)");

    r = req_new();
    add(r, "x", ENGINE_FLOAT, SHAPE(1, 3, -4, 4), xs, 192);
    EXPECT_INVALID(r, m, "input 'x': dimensions must not be negative, got [1,3,-4,4]");

    r = req_new();
    add(r, "x", ENGINE_FLOAT, SHAPE(1, 3, 4, 4), xs, 192);
    add(r, "y", ENGINE_INT64, SHAPE(1, 2), ys, 16);
    CHECK_OK_MSG(serve_request_add_requested_output(r, "q", &err), err.msg);
    EXPECT_INVALID(r, m, "unknown output 'q' (model 'm' has outputs 'z')");

    /* metadata reports the batch dim as -1 */
    CHECK(m->max_batch_size == 8 && m->inputs[0].rank == 4 && m->inputs[0].dims[0] == -1);
    serve_meta_free(m);
}

static void test_validation_plain(void) {
    /* no config: shapes as the model declares; scalars; unknown rank */
    serve_model_meta *m = meta_ok("in s FP32\nin any INT32 *\nin v UINT8 -1\nout o FP32\n", NULL);
    if (!m) return;
    errinfo err;
    static float one = 1.0f;
    static int32_t ints[6];
    static uint8_t bytes[3];
    serve_request *r = req_new();
    add(r, "s", ENGINE_FLOAT, (engine_shape){0, {0}}, &one, 4);
    add(r, "any", ENGINE_INT32, SHAPE(2, 3), ints, sizeof ints);
    add(r, "v", ENGINE_UINT8, SHAPE(3), bytes, 3);
    CHECK_OK_MSG(serve_request_validate(r, m, &err), err.msg);
    serve_request_destroy(r);

    r = req_new();
    add(r, "s", ENGINE_FLOAT, SHAPE(1), &one, 4);
    EXPECT_INVALID(r, m, "input 's': expected shape [], got [1]");

    r = req_new();
    add(r, "s", ENGINE_FLOAT, (engine_shape){0, {0}}, &one, 4);
    add(r, "any", ENGINE_INT32, SHAPE(2, 3), ints, sizeof ints);
    add(r, "v", ENGINE_UINT8, SHAPE(0), bytes, 0);  /* empty tensor is fine */
    CHECK_OK_MSG(serve_request_validate(r, m, &err), err.msg);
    serve_request_destroy(r);
    serve_meta_free(m);

    /* an optional input may be left out */
    m = meta_ok("in a FP32 2\nin b FP32 2\nout o FP32 2\n",
                "input { name: \"a\" data_type: TYPE_FP32 dims: 2 }\n"
                "input { name: \"b\" data_type: TYPE_FP32 dims: 2 optional: true }\n");
    if (!m) return;
    r = req_new();
    add(r, "a", ENGINE_FLOAT, SHAPE(2), xs, 8);
    CHECK_OK_MSG(serve_request_validate(r, m, &err), err.msg);
    serve_request_destroy(r);
    serve_meta_free(m);
}

static void test_meta_checks(void) {
    META_FAILS(batched_spec, "input { name: \"q\" data_type: TYPE_FP32 dims: 1 }",
               "config.pbtxt:1:7: input 'q' is not an input of the model (model inputs: x, y)");
    META_FAILS(batched_spec,
               "max_batch_size: 2\n"
               "input { name: \"x\" data_type: TYPE_INT32 dims: [3, 4, 4] }\n"
               "input { name: \"y\" data_type: TYPE_INT64 dims: [2] }",
               "config.pbtxt:2:7: input 'x': data_type TYPE_INT32 does not match the model's TYPE_FP32");
    META_FAILS(batched_spec,
               "max_batch_size: 2\n"
               "input { name: \"x\" data_type: TYPE_FP32 dims: [3, 5, 4] }\n"
               "input { name: \"y\" data_type: TYPE_INT64 dims: [2] }",
               "config.pbtxt:2:7: input 'x': dimension 2 is 5 in the config but 4 in the model");
    META_FAILS(batched_spec,
               "input { name: \"x\" data_type: TYPE_FP32 dims: [3, 4, 4] }\n"
               "input { name: \"y\" data_type: TYPE_INT64 dims: [-1, 2] }",
               "config.pbtxt:1:7: input 'x': the config gives the model shape [3,4,4], but the model "
               "declares [-1,3,4,4]");
    META_FAILS(batched_spec, "max_batch_size: 2\ninput { name: \"x\" data_type: TYPE_FP32 dims: [3, 4, 4] }",
               "model input 'y' is missing from config.pbtxt");
    META_FAILS("in x FP32 1 3\nout y FP32 1 3\n", "max_batch_size: 4",
               "max_batch_size 4 makes the first dimension of input 'x' the batch dimension, but "
               "the model fixes it to 1");
    META_FAILS("in x FP32\nout y FP32\n", "max_batch_size: 4", "input 'x' is a scalar");
    META_FAILS(batched_spec, "max_batch_size: 2\noutput { name: \"z\" data_type: TYPE_FP32 dims: [ 6 ] }",
               "config.pbtxt:2:8: output 'z': dimension 1 is 6 in the config but 5 in the model");

    /* fixed batch 1 is fine with max_batch_size 1; outputs may be a subset */
    serve_model_meta *m = meta_ok("in x FP32 1 3\nout y FP32 1 3\nout z FP32 1\n",
                                  "max_batch_size: 1\noutput { name: \"z\" data_type: TYPE_FP32 dims: [] }");
    CHECK(m && m->n_outputs == 1 && m->inputs[0].dims[0] == -1);
    serve_meta_free(m);

    /* a -1 in the config takes the model's fixed value */
    m = meta_ok("in x FP32 7\nout y FP32 7\n", "input { name: \"x\" data_type: TYPE_FP32 dims: [ -1 ] }");
    CHECK(m && m->inputs[0].dims[0] == 7);
    serve_meta_free(m);
}

static void test_reshape(void) {
    errinfo err;
    /* Triton's scalar idiom: dims [1] reshape [] on a model with a scalar input */
    serve_model_meta *m = meta_ok("in s FP32\nout o FP32 -1 1000 1 1\n",
                                  "input { name: \"s\" data_type: TYPE_FP32 dims: [ 1 ] reshape { shape: [ ] } }");
    if (m) {
        CHECK(m->inputs[0].rank == 1 && m->inputs[0].has_reshape && m->inputs[0].model_rank == 0);
        engine_shape to;
        CHECK_OK_MSG(serve_meta_map_shape(&m->inputs[0], 0, 1, &SHAPE(1), &to, &err), err.msg);
        CHECK(to.rank == 0);
    }
    serve_meta_free(m);

    /* densenet's output: model [-1,1000,1,1] reported as [-1,1000] */
    m = meta_ok("in x FP32 -1 3\nout o FP32 -1 1000 1 1\n",
                "max_batch_size: 1\n"
                "output { name: \"o\" data_type: TYPE_FP32 dims: [ 1000 ] reshape { shape: [ 1000, 1, 1 ] } }");
    if (m) {
        CHECK(m->outputs[0].rank == 2 && m->outputs[0].dims[1] == 1000);
        engine_shape to;
        CHECK_OK_MSG(serve_meta_map_shape(&m->outputs[0], 1, 0, &SHAPE(1, 1000, 1, 1), &to, &err), err.msg);
        CHECK(to.rank == 2 && to.dims[0] == 1 && to.dims[1] == 1000);
    }
    serve_meta_free(m);

    /* wildcards carry over in order; a single one is inferred */
    m = meta_ok("in x FP32 -1 -1 4\nout o FP32 -1\n",
                "input { name: \"x\" data_type: TYPE_FP32 dims: [ -1, 8 ] reshape { shape: [ -1, 2, 4 ] } }");
    if (m) {
        engine_shape to;
        CHECK_OK_MSG(serve_meta_map_shape(&m->inputs[0], 0, 1, &SHAPE(5, 8), &to, &err), err.msg);
        CHECK(to.rank == 3 && to.dims[0] == 5 && to.dims[1] == 2 && to.dims[2] == 4);
    }
    serve_meta_free(m);
}

static int done_calls;
static void on_done(serve_request *r, void *ctx) {
    (void)ctx;
    done_calls++;
    CHECK(serve_request_status(r) == STATUS_UNAVAILABLE);
    CHECK_STR(serve_request_error(r), "model gone");
    CHECK(serve_request_output_count(r) == 0);
}

static void test_lifecycle(void) {
    errinfo err;
    serve_request *r = req_new();
    CHECK_STR(serve_request_id(r), "");
    CHECK_OK_MSG(serve_request_set_id(r, "req-7", &err), err.msg);
    CHECK_STR(serve_request_id(r), "req-7");
    CHECK_STR(serve_request_model(r), "m");
    CHECK(serve_request_timing(r)->arrival_ns > 0);
    /* owned data is freed with the request (ASan would see a leak) */
    float *owned = malloc(8);
    CHECK_OK_MSG(serve_request_add_input(r, "a", ENGINE_FLOAT, &SHAPE(2), owned, 8, true, &err), err.msg);
    /* on failure owned data is freed too */
    float *bad = malloc(8);
    CHECK_ERR(serve_request_add_input(r, "b", ENGINE_FLOAT, &(engine_shape){9, {0}}, bad, 8, true, &err),
              STATUS_INVALID_ARGUMENT, err.msg, "rank 9");
    CHECK(serve_request_input_count(r) == 1);
    CHECK_STR(serve_request_input(r, 0)->name, "a");
    /* an output stored, then dropped by a failing completion */
    serve_tensor t = {.name = "o", .dtype = ENGINE_FLOAT, .shape = SHAPE(1), .data = malloc(4), .nbytes = 4};
    CHECK_OK_MSG(serve_request_take_output(r, &t, NULL, &err), err.msg);
    CHECK(serve_request_output_count(r) == 1 && t.data == NULL);
    serve_request_set_callback(r, on_done, NULL);
    serve_request_complete(r, STATUS_UNAVAILABLE, "model gone");
    serve_request_complete(r, STATUS_OK, NULL); /* second completion is ignored */
    CHECK(done_calls == 1);
    CHECK(!serve_request_is_cancelled(r));
    serve_request_cancel(r);
    CHECK(serve_request_is_cancelled(r));
    serve_request_destroy(r);
    serve_request_destroy(NULL);
}

int main(void) {
    log_set_fd(-1);
    test_validation_batched();
    test_validation_plain();
    test_meta_checks();
    test_reshape();
    test_lifecycle();
    return test_report("test_infer_request");
}
