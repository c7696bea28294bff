/* fuzz_tfserving.c -- libFuzzer target for TF Serving's REST predict JSON:
 * a body through tfserving_predict_parse against one of four models, then
 * the parsed inputs echoed back as outputs through
 * tfserving_predict_response in the request's format.
 *
 * Input layout: byte 0 picks the model (bits 0-1); the rest is the body.
 * Nothing may crash, leak or read out of bounds; a response without NaN or
 * Infinity tokens (which TF Serving writes and strict JSON lacks) must
 * parse.
 *
 *     cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DINFERD_FUZZ=ON -DINFERD_WERROR=OFF
 *     cmake --build build-fuzz --target fuzz_tfserving
 *     build-fuzz/fuzz_tfserving -max_total_time=60 tests/fuzz/corpus/fuzz_tfserving */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/tfserving_json.h"
#include "serve/infer_request_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static serve_io one_float[] = {{.name = "x", .dtype = ENGINE_FLOAT, .rank = -1}};
static serve_io three[] = {
    {.name = "tag", .dtype = ENGINE_STRING, .rank = 1, .dims = {-1}},
    {.name = "signal", .dtype = ENGINE_INT32, .rank = 2, .dims = {-1, 5}},
    {.name = "flag", .dtype = ENGINE_BOOL, .rank = -1},
};
static serve_io one_bytes[] = {{.name = "img_bytes", .dtype = ENGINE_STRING, .rank = -1}};
static serve_io two[] = {
    {.name = "u", .dtype = ENGINE_UINT64, .rank = -1},
    {.name = "h", .dtype = ENGINE_FLOAT16, .rank = -1},
};
static const serve_model_meta metas[4] = {
    {.name = "a", .n_inputs = 1, .inputs = one_float},
    {.name = "b", .n_inputs = 3, .inputs = three},
    {.name = "c", .n_inputs = 1, .inputs = one_bytes},
    {.name = "d", .n_inputs = 2, .inputs = two},
};

static void echo_input(serve_request *r, int i) {
    const serve_tensor *in = serve_request_input(r, i);
    serve_tensor t = *in;
    t.data = malloc(in->nbytes ? in->nbytes : 1);
    if (!t.data) abort();
    if (in->nbytes) memcpy(t.data, in->data, in->nbytes);
    if (serve_request_take_output(r, &t, NULL, NULL)) abort();
}

static void check_response(serve_request *r, tfserving_format format) {
    char *body;
    size_t len;
    errinfo err;
    if (tfserving_predict_response(r, format, &body, &len, &err)) return;
    if (strlen(body) != len) abort();
    if (!strstr(body, "NaN") && !strstr(body, "Infinity")) {
        json_doc *doc;
        if (json_parse(body, len, NULL, &doc, &err)) abort();
        json_doc_free(doc);
    }
    free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const serve_model_meta *meta = &metas[data[0] & 3];
    size_t len = size - 1;
    char *body = malloc(len ? len : 1);
    if (!body) return 0;
    memcpy(body, data + 1, len);
    serve_request *r;
    tfserving_wire wire;
    errinfo err;
    if (serve_request_create("m", 0, &r, &err)) abort();
    if (tfserving_predict_parse(body, len, meta, r, &wire, &err)) {
        if (wire.doc || !memchr(err.msg, '\0', sizeof err.msg)) abort();
    } else {
        for (int i = 0; i < serve_request_input_count(r); i++) echo_input(r, i);
        check_response(r, wire.format);
        tfserving_wire_deinit(&wire);
    }
    serve_request_destroy(r);
    free(body);
    return 0;
}
