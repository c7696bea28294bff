/* fuzz_grpc_infer.c -- libFuzzer target for the gRPC inference path that
 * outside bytes reach: protobuf-c unpacking of inference.ModelInferRequest
 * and its conversion to a serve_request (src/grpc/grpc_codec.c: raw and
 * typed contents, BYTES, narrowing, parameters), validation against a small
 * fixed model, and the answer: every decoded input echoed back as an
 * output, encoded both raw and typed, packed, and unpacked again as a
 * ModelInferResponse that must agree with what was encoded.
 *
 * Seeds: tests/fuzz/corpus/grpc_infer/ (tests/fuzz/make_grpc_corpus.py).
 *
 *     build-fuzz/fuzz_grpc_infer -max_total_time=60 tests/fuzz/corpus/grpc_infer */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "grpc/grpc_codec.h"
#include "serve/infer_request_int.h"
#include "serve/model_meta.h"

/* The model requests are validated against: one input per kind of path. */
static serve_io model_inputs[] = {
    {.name = "a", .dtype = ENGINE_FLOAT, .rank = 2, .dims = {-1, 4}},
    {.name = "b", .dtype = ENGINE_INT8, .rank = 1, .dims = {-1}, .optional = true},
    {.name = "s", .dtype = ENGINE_STRING, .rank = -1, .optional = true},
    {.name = "h", .dtype = ENGINE_FLOAT16, .rank = 1, .dims = {2}, .optional = true},
};
static serve_io model_outputs[] = {{.name = "y", .dtype = ENGINE_FLOAT, .rank = 2, .dims = {-1, 4}}};
static const serve_model_meta model = {
    .name = "m", .version = 1, .platform = "onnxruntime_onnx", .max_batch_size = 8,
    .n_inputs = 4, .inputs = model_inputs, .n_outputs = 1, .outputs = model_outputs};

/* Every input back as an output, as a backend would hand them over. */
static void echo_inputs(serve_request *r) {
    for (int i = 0; i < serve_request_input_count(r); i++) {
        serve_tensor t = *serve_request_input(r, i);
        void *copy = malloc(t.nbytes ? t.nbytes : 1);
        if (!copy) return;
        if (t.nbytes) memcpy(copy, t.data, t.nbytes);
        t.data = copy;
        if (serve_request_take_output(r, &t, NULL, NULL)) return;
    }
}

static void check_round_trip(const serve_request *r, bool raw) {
    rpc_infer_output out;
    if (rpc_infer_encode(r, raw, &out, NULL)) return;
    size_t n = protobuf_c_message_get_packed_size(&out.msg.base);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) abort();
    if (protobuf_c_message_pack(&out.msg.base, buf) != n) abort();
    Inference__ModelInferResponse *back = inference__model_infer_response__unpack(NULL, n, buf);
    if (!back) abort();
    if (back->n_outputs != (size_t)serve_request_output_count(r)) abort();
    if (back->n_raw_output_contents && back->n_raw_output_contents != back->n_outputs) abort();
    for (size_t i = 0; i < back->n_outputs; i++) {
        const serve_tensor *t = serve_request_output(r, (int)i);
        if (strcmp(back->outputs[i]->name, t->name)) abort();
        if (back->outputs[i]->n_shape != (size_t)t->shape.rank) abort();
        if (back->n_raw_output_contents && t->dtype != ENGINE_STRING &&
            back->raw_output_contents[i].len != t->nbytes)
            abort();
    }
    inference__model_infer_response__free_unpacked(back, NULL);
    free(buf);
    rpc_infer_output_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int quiet;
    if (!quiet) {
        log_set_fd(-1);
        quiet = 1;
    }
    if (size > (1 << 20)) return 0;
    rpc_infer_input in;
    errinfo err;
    if (rpc_infer_decode(data, size, &in, &err)) {
        if (in.msg || in.req || !err.msg[0]) abort();   /* nothing left, a reason given */
        return 0;
    }
    if (!in.msg || !in.req || !serve_request_input_count(in.req)) abort();
    if (serve_request_validate(in.req, &model, &err) && !err.msg[0]) abort();
    echo_inputs(in.req);
    check_round_trip(in.req, true);
    check_round_trip(in.req, false);
    serve_request_destroy(in.req);
    rpc_infer_input_free_message(&in);
    return 0;
}
