/* test_session_shapes.c -- one engine session fed changing batch sizes (what
 * a dynamic batcher does): every run's outputs equal those of a fresh
 * session for that shape, whether the run fits the arena planned so far or
 * outgrows it. Uses examples/models/digits (image [N, 64] -> probabilities
 * [N, 10]); run from the source root, as ctest does. */
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "serve_test.h"

static const char model_path[] = "examples/models/digits/1/model.onnx";

static float *make_input(int64_t rows) {
    float *x = malloc((size_t)rows * 64 * sizeof *x);
    for (int64_t i = 0; x && i < rows * 64; i++) x[i] = (float)((i * 7919) % 17);
    return x;
}

static status run(engine_session *s, int64_t rows, engine_tensor *out, errinfo *err) {
    float *x = make_input(rows);
    if (!x) return status_fail(err, STATUS_NO_MEMORY, "out of memory");
    engine_tensor in = {.dtype = ENGINE_FLOAT, .shape = {2, {rows, 64}}, .data = x,
                        .nbytes = (size_t)rows * 64 * sizeof *x};
    status st = engine_session_run(s, &in, out, err);
    free(x);
    return st;
}

int main(void) {
    engine_model *m = NULL;
    engine_session *shared = NULL;
    errinfo err = {{0}};
    CHECK_OK_MSG(engine_model_load(model_path, NULL, &m, &err), err.msg);
    if (!m) return test_report("test_session_shapes");
    engine_session_options so = {.threads = 1};
    CHECK_OK_MSG(engine_session_create(m, &so, &shared, &err), err.msg);
    /* smaller, larger (the plan grows), smaller again (fits), equal, larger */
    const int64_t sizes[] = {1, 8, 3, 8, 1, 2, 16, 5, 16};
    int n_out = engine_model_output_count(m);
    for (size_t k = 0; shared && k < sizeof sizes / sizeof *sizes; k++) {
        engine_tensor a[4] = {{0}}, b[4] = {{0}};
        engine_session *fresh = NULL;
        CHECK_OK_MSG(run(shared, sizes[k], a, &err), err.msg);
        CHECK_OK_MSG(engine_session_create(m, &so, &fresh, &err), err.msg);
        CHECK_OK_MSG(run(fresh, sizes[k], b, &err), err.msg);
        for (int i = 0; i < n_out && i < 4; i++) {
            CHECK(a[i].shape.rank == 2 && a[i].shape.dims[0] == sizes[k]);
            CHECK(a[i].nbytes == b[i].nbytes && a[i].data && b[i].data &&
                  !memcmp(a[i].data, b[i].data, a[i].nbytes));
            engine_tensor_release(&a[i]);
            engine_tensor_release(&b[i]);
        }
        engine_session_destroy(fresh);
    }
    engine_session_destroy(shared);
    engine_model_destroy(m);
    return test_report("test_session_shapes");
}
