/* fuzz_rest_infer.c -- libFuzzer target for the KServe v2 REST infer path
 * without a server: (Inference-Header-Content-Length, body) through
 * kserve_request_parse, then the parsed inputs echoed back as outputs
 * through kserve_response_write, as JSON or binary per the request.
 *
 * Input layout: byte 0 picks how the header is sent (bits 0-1: absent,
 * "0" for raw single-input mode, the decimal of bytes 1-2, or the text of
 * bytes 1.. up to a '\n') and the model the raw mode sees (bits 2-3); the
 * rest is the body. Nothing may crash, leak or read out of bounds; a
 * response's JSON part must parse and its length must add up.
 *
 *     cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DINFERD_FUZZ=ON -DINFERD_WERROR=OFF
 *     cmake --build build-fuzz --target fuzz_rest_infer
 *     build-fuzz/fuzz_rest_infer -max_total_time=60 tests/fuzz/corpus/fuzz_rest_infer */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/kserve_codec.h"
#include "serve/infer_request_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The models raw mode may be aimed at. */
static serve_io raw_inputs[4] = {
    {.name = "image", .dtype = ENGINE_FLOAT, .rank = 2, .dims = {-1, 64}},
    {.name = "in", .dtype = ENGINE_INT16, .rank = 1, .dims = {-1}},
    {.name = "s", .dtype = ENGINE_STRING, .rank = 1, .dims = {1}},
    {.name = "m", .dtype = ENGINE_BOOL, .rank = 3, .dims = {2, -1, 3}},
};
static const int raw_batch[4] = {8, 0, 0, 0};

/* Copies input i into a new output of the same name, as a model would. */
static void echo_input(serve_request *r, int i) {
    const serve_tensor *in = serve_request_input(r, i);
    serve_tensor t = *in;
    t.data = malloc(in->nbytes ? in->nbytes : 1);
    if (!t.data) abort();
    if (in->nbytes) memcpy(t.data, in->data, in->nbytes);
    if (serve_request_take_output(r, &t, NULL, NULL)) abort();
}

static void check_response(serve_request *r, const kserve_infer_wire *wire) {
    char *body;
    size_t len, json_len;
    errinfo err;
    if (kserve_response_write(r, wire, &body, &len, &json_len, &err)) return;
    if (json_len > len) abort();
    json_doc *doc;
    if (json_parse(body, json_len, NULL, &doc, &err)) abort(); /* we wrote bad JSON */
    json_doc_free(doc);
    free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int mode = data[0] & 3, model = (data[0] >> 2) & 3;
    size_t skip = 1;
    char hdr[32];
    const char *header = NULL;
    if (mode == 1) {
        header = "0";
    } else if (mode == 2 && size >= 3) {
        snprintf(hdr, sizeof hdr, "%u", (unsigned)data[1] | (unsigned)data[2] << 8);
        header = hdr;
        skip = 3;
    } else if (mode == 3) {
        size_t n = 0;
        while (1 + n < size && n < sizeof hdr - 1 && data[1 + n] != '\n') n++;
        memcpy(hdr, data + 1, n);
        hdr[n] = '\0';
        header = hdr;
        skip = 1 + n + (1 + n < size);
    }
    /* An exact-size copy, so reads past the body are caught. */
    size_t len = size - skip;
    char *body = malloc(len ? len : 1);
    if (!body) return 0;
    memcpy(body, data + skip, len);
    serve_model_meta meta = {.name = "m", .max_batch_size = raw_batch[model], .n_inputs = 1,
                             .inputs = &raw_inputs[model]};
    serve_request *r;
    kserve_infer_wire wire;
    errinfo err;
    if (serve_request_create("m", 0, &r, &err)) abort();
    status st = kserve_request_parse(body, len, header, &meta, r, &wire, &err);
    if (st) {
        if (wire.doc || wire.binary || !memchr(err.msg, '\0', sizeof err.msg)) abort();
    } else {
        for (int i = 0; i < serve_request_input_count(r); i++) echo_input(r, i);
        check_response(r, &wire);
        kserve_infer_wire_deinit(&wire);
    }
    serve_request_destroy(r);
    free(body);
    return 0;
}
