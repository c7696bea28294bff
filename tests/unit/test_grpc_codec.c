/* test_grpc_codec.c -- ModelInferRequest decoding (raw, typed, BYTES,
 * narrowing, parameters and every error message), response encoding in
 * both forms, and the message arena (src/grpc/grpc_codec.c, grpc_arena.c). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/grpc_arena.h"
#include "grpc/grpc_codec.h"
#include "serve/infer_request_int.h"
#include "serve_test.h"

/* A request message under construction, packed by `pack`. */
typedef struct req_builder {
    Inference__ModelInferRequest msg;
    Inference__ModelInferRequest__InferInputTensor in[4], *inp[4];
    Inference__InferTensorContents contents[4];
    int64_t shapes[4][4];
    ProtobufCBinaryData raw[4];
    Inference__ModelInferRequest__InferRequestedOutputTensor out[2], *outp[2];
    Inference__ModelInferRequest__ParametersEntry param, *paramp[1];
    Inference__InferParameter value;
    uint8_t buf[4096];
} req_builder;

static void builder_init(req_builder *b, const char *model) {
    memset(b, 0, sizeof *b);
    inference__model_infer_request__init(&b->msg);
    b->msg.model_name = (char *)model;
    b->msg.inputs = b->inp;
    b->msg.outputs = b->outp;
}

static Inference__ModelInferRequest__InferInputTensor *add_input(req_builder *b, const char *name,
                                                                const char *dt, int rank,
                                                                const int64_t *dims) {
    size_t i = b->msg.n_inputs++;
    Inference__ModelInferRequest__InferInputTensor *t = &b->in[i];
    inference__model_infer_request__infer_input_tensor__init(t);
    t->name = (char *)name;
    t->datatype = (char *)dt;
    if (rank) memcpy(b->shapes[i], dims, (size_t)rank * sizeof *dims);
    t->n_shape = (size_t)rank;
    t->shape = b->shapes[i];
    b->inp[i] = t;
    inference__infer_tensor_contents__init(&b->contents[i]);
    return t;
}

static void add_raw(req_builder *b, const void *data, size_t len) {
    b->raw[b->msg.n_raw_input_contents++] = (ProtobufCBinaryData){len, (uint8_t *)data};
    b->msg.raw_input_contents = b->raw;
}

static status decode(req_builder *b, rpc_infer_input *in, errinfo *err) {
    size_t n = inference__model_infer_request__pack(&b->msg, b->buf);
    return rpc_infer_decode(b->buf, n, in, err);
}

static void release(rpc_infer_input *in) {
    serve_request_destroy(in->req);
    rpc_infer_input_free_message(in);
}

static void expect_error(req_builder *b, status want, const char *needle) {
    rpc_infer_input in;
    errinfo err = {{0}};
    CHECK_ERR(decode(b, &in, &err), want, err.msg, needle);
    CHECK(!in.msg && !in.req);
}

static void test_raw(void) {
    req_builder b;
    rpc_infer_input in;
    errinfo err = {{0}};
    float a[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t strings[] = {1, 0, 0, 0, 'x', 0, 0, 0, 0, 3, 0, 0, 0, 'a', 'b', 'c'};
    builder_init(&b, "m");
    b.msg.id = "r1";
    b.msg.model_version = "2";
    add_input(&b, "a", "FP32", 2, (int64_t[]){2, 4});
    add_raw(&b, a, sizeof a);
    add_input(&b, "s", "BYTES", 1, (int64_t[]){3});
    add_raw(&b, strings, sizeof strings);
    CHECK_OK_MSG(decode(&b, &in, &err), err.msg);
    CHECK(in.raw);
    CHECK_STR(serve_request_model(in.req), "m");
    CHECK_STR(serve_request_id(in.req), "r1");
    CHECK(serve_request_version(in.req) == 2);
    CHECK(serve_request_input_count(in.req) == 2);
    const serve_tensor *t = serve_request_input(in.req, 0);
    CHECK(t->dtype == ENGINE_FLOAT && t->nbytes == sizeof a && !memcmp(t->data, a, sizeof a));
    const serve_tensor *s = serve_request_input(in.req, 1);
    const engine_string *e = s->data;
    CHECK(s->dtype == ENGINE_STRING && s->nbytes == 3 * sizeof *e);
    CHECK(e[0].len == 1 && e[0].ptr[0] == 'x' && e[1].len == 0 && e[2].len == 3 &&
          !memcmp(e[2].ptr, "abc", 3));
    release(&in);

    uint8_t truncated[] = {1, 0, 0, 0, 'x', 3, 0, 0, 0, 'a'};
    builder_init(&b, "m");
    add_input(&b, "s", "BYTES", 1, (int64_t[]){2});
    add_raw(&b, truncated, sizeof truncated);
    expect_error(&b, STATUS_INVALID_ARGUMENT, "input 's': raw BYTES data ends inside element 1");
    b.raw[0] = (ProtobufCBinaryData){sizeof strings, strings};
    b.shapes[0][0] = 1;
    expect_error(&b, STATUS_INVALID_ARGUMENT, "bytes left over after the 1 elements");
    b.shapes[0][0] = 5;
    expect_error(&b, STATUS_INVALID_ARGUMENT, "cannot hold the 5 elements");

    builder_init(&b, "m");
    add_input(&b, "a", "FP32", 1, (int64_t[]){1});
    add_input(&b, "b", "FP32", 1, (int64_t[]){1});
    add_raw(&b, a, 4);
    expect_error(&b, STATUS_INVALID_ARGUMENT, "raw_input_contents has 1 entries but the request "
                 "has 2 inputs");
    add_raw(&b, a, 4);
    b.in[1].contents = &b.contents[1];
    b.contents[1].n_fp32_contents = 1;
    b.contents[1].fp32_contents = a;
    expect_error(&b, STATUS_INVALID_ARGUMENT, "input 'b': both contents and raw_input_contents");
}

static void test_typed(void) {
    req_builder b;
    rpc_infer_input in;
    errinfo err = {{0}};
    int32_t ints[] = {-128, 0, 127};
    protobuf_c_boolean bools[] = {1, 0};
    int64_t longs[] = {5, -6};
    ProtobufCBinaryData strs[] = {{2, (uint8_t *)"hi"}, {0, NULL}};
    builder_init(&b, "m");
    Inference__ModelInferRequest__InferInputTensor *t;
    t = add_input(&b, "i8", "INT8", 1, (int64_t[]){3});
    t->contents = &b.contents[0];
    b.contents[0].n_int_contents = 3;
    b.contents[0].int_contents = ints;
    t = add_input(&b, "bo", "BOOL", 1, (int64_t[]){2});
    t->contents = &b.contents[1];
    b.contents[1].n_bool_contents = 2;
    b.contents[1].bool_contents = bools;
    t = add_input(&b, "i64", "INT64", 1, (int64_t[]){2});
    t->contents = &b.contents[2];
    b.contents[2].n_int64_contents = 2;
    b.contents[2].int64_contents = longs;
    t = add_input(&b, "s", "BYTES", 1, (int64_t[]){2});
    t->contents = &b.contents[3];
    b.contents[3].n_bytes_contents = 2;
    b.contents[3].bytes_contents = strs;
    CHECK_OK_MSG(decode(&b, &in, &err), err.msg);
    CHECK(!in.raw);
    const int8_t *i8 = serve_request_input(in.req, 0)->data;
    CHECK(serve_request_input(in.req, 0)->nbytes == 3 && i8[0] == -128 && i8[2] == 127);
    const uint8_t *bo = serve_request_input(in.req, 1)->data;
    CHECK(serve_request_input(in.req, 1)->nbytes == 2 && bo[0] == 1 && bo[1] == 0);
    const int64_t *i64 = serve_request_input(in.req, 2)->data;
    CHECK(i64[0] == 5 && i64[1] == -6);
    const engine_string *s = serve_request_input(in.req, 3)->data;
    CHECK(s[0].len == 2 && !memcmp(s[0].ptr, "hi", 2) && s[1].len == 0);

    /* Echo the inputs as outputs: typed answers widen back, raw ones do not. */
    for (int i = 0; i < 4; i++) {
        serve_tensor o = *serve_request_input(in.req, i);
        o.data = malloc(o.nbytes);
        memcpy(o.data, serve_request_input(in.req, i)->data, o.nbytes);
        CHECK_OK_MSG(serve_request_take_output(in.req, &o, NULL, &err), err.msg);
    }
    rpc_infer_output out;
    CHECK_OK_MSG(rpc_infer_encode(in.req, false, &out, &err), err.msg);
    CHECK(out.msg.n_outputs == 4 && out.msg.n_raw_output_contents == 0);
    Inference__InferTensorContents *c0 = out.msg.outputs[0]->contents;
    CHECK(c0->n_int_contents == 3 && c0->int_contents[0] == -128 && c0->int_contents[2] == 127);
    CHECK(out.msg.outputs[1]->contents->n_bool_contents == 2);
    CHECK(out.msg.outputs[3]->contents->n_bytes_contents == 2);
    CHECK_STR(out.msg.outputs[0]->datatype, "INT8");
    rpc_infer_output_free(&out);
    CHECK_OK_MSG(rpc_infer_encode(in.req, true, &out, &err), err.msg);
    CHECK(out.msg.n_raw_output_contents == 4 && out.msg.raw_output_contents[0].len == 3);
    /* BYTES raw: 4-byte little-endian lengths: "hi" and "" -> 6 + 4 bytes */
    CHECK(out.msg.raw_output_contents[3].len == 10);
    CHECK(!memcmp(out.msg.raw_output_contents[3].data, "\2\0\0\0hi\0\0\0\0", 10));
    rpc_infer_output_free(&out);
    release(&in);

    builder_init(&b, "m");
    t = add_input(&b, "x", "INT8", 1, (int64_t[]){2});
    int32_t wide[] = {1, 300};
    t->contents = &b.contents[0];
    b.contents[0].n_int_contents = 2;
    b.contents[0].int_contents = wide;
    expect_error(&b, STATUS_INVALID_ARGUMENT,
                 "input 'x': element 1 is 300, expected an integer in -128..127 for datatype INT8");
    b.in[0].datatype = "INT64";
    expect_error(&b, STATUS_INVALID_ARGUMENT, "input 'x': data has 0 elements, but the shape needs "
                 "2 (datatype INT64 takes them in contents.int64_contents, not "
                 "contents.int_contents)");
    b.in[0].datatype = "FP16";
    expect_error(&b, STATUS_INVALID_ARGUMENT, "input 'x': datatype FP16 has no typed contents "
                 "field; send it in raw_input_contents");
    b.in[0].datatype = "FLOAT";
    expect_error(&b, STATUS_INVALID_ARGUMENT, "input 'x': unknown datatype 'FLOAT'");
    b.in[0].datatype = "";
    expect_error(&b, STATUS_INVALID_ARGUMENT, "input 'x': missing datatype");
}

static void test_request_errors(void) {
    req_builder b;
    uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff};
    rpc_infer_input in;
    errinfo err = {{0}};
    CHECK_ERR(rpc_infer_decode(junk, sizeof junk, &in, &err), STATUS_INVALID_ARGUMENT, err.msg,
              "malformed inference.ModelInferRequest message");
    builder_init(&b, "");
    expect_error(&b, STATUS_INVALID_ARGUMENT, "the request has no model_name");
    builder_init(&b, "m");
    expect_error(&b, STATUS_INVALID_ARGUMENT, "the request needs at least one input tensor");
    b.msg.model_version = "-1";
    expect_error(&b, STATUS_INVALID_ARGUMENT, "model version '-1' is not a positive integer");
    b.msg.model_version = "";
    add_input(&b, "", "FP32", 0, NULL);
    expect_error(&b, STATUS_INVALID_ARGUMENT, "an input has no name");
    b.in[0].name = "x";
    b.shapes[0][0] = -2;
    b.in[0].n_shape = 1;
    expect_error(&b, STATUS_INVALID_ARGUMENT, "input 'x': dimensions must not be negative, got [-2]");
    b.in[0].n_shape = ENGINE_MAX_RANK + 1;
    b.in[0].shape = (int64_t[ENGINE_MAX_RANK + 1]){0};
    expect_error(&b, STATUS_INVALID_ARGUMENT, "at most");
    b.in[0].n_shape = 2;
    b.in[0].shape = (int64_t[]){INT64_MAX, 4};
    expect_error(&b, STATUS_INVALID_ARGUMENT, "input 'x': shape has too many elements");

    /* parameters and requested outputs */
    builder_init(&b, "m");
    add_input(&b, "x", "FP32", 1, (int64_t[]){0});
    b.in[0].contents = &b.contents[0];
    inference__model_infer_request__parameters_entry__init(&b.param);
    inference__infer_parameter__init(&b.value);
    b.param.key = "timeout";
    b.param.value = &b.value;
    b.value.parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM;
    b.value.int64_param = -5;
    b.paramp[0] = &b.param;
    b.msg.parameters = b.paramp;
    b.msg.n_parameters = 1;
    expect_error(&b, STATUS_INVALID_ARGUMENT, "parameter 'timeout' must be a non-negative integer");
    b.value.int64_param = 2500;
    inference__model_infer_request__infer_requested_output_tensor__init(&b.out[0]);
    b.out[0].name = "y";
    b.outp[0] = &b.out[0];
    b.msg.n_outputs = 1;
    CHECK_OK_MSG(decode(&b, &in, &err), err.msg);
    CHECK(serve_request_requested_output_count(in.req) == 1);
    CHECK_STR(serve_request_requested_output(in.req, 0), "y");
    CHECK(in.req->timeout_us == 2500);
    release(&in);
    b.out[0].name = "";
    expect_error(&b, STATUS_INVALID_ARGUMENT, "each requested output needs a name");
}

static void test_arena(void) {
    rpc_arena a = {0};
    char *s = rpc_arena_printf(&a, "%s-%d", "v", 42);
    CHECK_STR(s, "v-42");
    for (int i = 0; i < 1000; i++) {
        unsigned char *p = rpc_arena_alloc(&a, (size_t)(i % 37) + 1);
        CHECK(p && ((uintptr_t)p % _Alignof(max_align_t)) == 0 && p[0] == 0);
        if (p) memset(p, 0xab, (size_t)(i % 37) + 1);
    }
    unsigned char *big = rpc_arena_alloc(&a, 100000);
    CHECK(big && big[99999] == 0);
    CHECK(rpc_arena_alloc(&a, SIZE_MAX) == NULL);
    CHECK_STR(s, "v-42");         /* earlier blocks are untouched */
    rpc_arena_free(&a);
    CHECK(a.chunks == NULL);
    rpc_arena_free(&a);
}

int main(void) {
    test_raw();
    test_typed();
    test_request_errors();
    test_arena();
    return test_report("test_grpc_codec");
}
