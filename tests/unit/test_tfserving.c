/* test_tfserving.c -- TF Serving's REST JSON without a server: row and
 * columnar predict requests into tensors (shapes, batching, b64 strings,
 * the error messages), tensors back into "predictions" / "outputs" (float
 * formatting, b64 for bytes), and the base64 codec under them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "http/tfserving_json.h"
#include "serve/infer_request_int.h"
#include "serve_test.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static serve_io io_of(const char *name, engine_dtype dt, int rank, int64_t d0, int64_t d1) {
    serve_io io = {.name = (char *)name, .dtype = dt, .rank = rank};
    io.dims[0] = d0;
    io.dims[1] = d1;
    return io;
}

static serve_request *req_new(void) {
    serve_request *r = NULL;
    errinfo err;
    CHECK_OK_MSG(serve_request_create("m", 0, &r, &err), err.msg);
    return r;
}

/* Parses `json` into a fresh request; the caller checks and frees. */
static serve_request *parse_ok(const char *json, const serve_model_meta *meta,
                               tfserving_wire *wire, int line) {
    serve_request *r = req_new();
    errinfo err = {{0}};
    status st = tfserving_predict_parse(json, strlen(json), meta, r, wire, &err);
    test_checks++;
    if (st) {
        fprintf(stderr, "%s:%d: parse failed: %s\n", __FILE__, line, err.msg);
        test_failures++;
    }
    return r;
}

static void parse_fails(const char *json, const serve_model_meta *meta, const char *needle,
                        int line) {
    serve_request *r = req_new();
    tfserving_wire wire;
    errinfo err = {{0}};
    status st = tfserving_predict_parse(json, strlen(json), meta, r, &wire, &err);
    test_checks++;
    if (st != STATUS_INVALID_ARGUMENT || !strstr(err.msg, needle)) {
        fprintf(stderr, "%s:%d: want INVALID_ARGUMENT containing \"%s\", got %s \"%s\"\n",
                __FILE__, line, needle, status_name(st), st ? err.msg : "");
        test_failures++;
    }
    CHECK(wire.doc == NULL);
    if (!st) tfserving_wire_deinit(&wire);
    serve_request_destroy(r);
}
#define PARSE_FAILS(json, meta, needle) parse_fails(json, meta, needle, __LINE__)

static const serve_tensor *input_named(const serve_request *r, const char *name) {
    for (int i = 0; i < serve_request_input_count(r); i++)
        if (!strcmp(serve_request_input(r, i)->name, name)) return serve_request_input(r, i);
    return NULL;
}

static bool shape_is(const serve_tensor *t, int rank, const int64_t *dims) {
    if (!t || t->shape.rank != rank) return false;
    for (int d = 0; d < rank; d++)
        if (t->shape.dims[d] != dims[d]) return false;
    return true;
}

/* ---- requests ------------------------------------------------------------------------------ */

static void test_row_single_input(void) {
    serve_io x = io_of("x", ENGINE_FLOAT, 1, -1, 0);
    serve_model_meta meta = {.name = "half_plus_three", .n_inputs = 1, .inputs = &x};
    tfserving_wire wire;
    /* The doc's example: three scalars become a [3] tensor. */
    serve_request *r = parse_ok("{\"instances\": [1.0, 2.0, 5.0]}", &meta, &wire, __LINE__);
    const serve_tensor *t = input_named(r, "x");
    CHECK(shape_is(t, 1, (int64_t[]){3}) && wire.format == TFSERVING_ROW);
    if (t) CHECK(((float *)t->data)[2] == 5.0f);
    tfserving_wire_deinit(&wire);
    serve_request_destroy(r);
    /* Two [1, 2] tensors become [2, 1, 2]. */
    r = parse_ok("{\"signature_name\":\"serving_default\",\"instances\": [ [[1, 2]], [[3, 4]] ]}",
                 &meta, &wire, __LINE__);
    t = input_named(r, "x");
    CHECK(shape_is(t, 3, (int64_t[]){2, 1, 2}));
    if (t) CHECK(((float *)t->data)[3] == 4.0f);
    tfserving_wire_deinit(&wire);
    serve_request_destroy(r);
    /* An object naming the single input works too. */
    r = parse_ok("{\"instances\": [{\"x\": [1, 2]}, {\"x\": [3, 4]}]}", &meta, &wire, __LINE__);
    CHECK(shape_is(input_named(r, "x"), 2, (int64_t[]){2, 2}));
    tfserving_wire_deinit(&wire);
    serve_request_destroy(r);
    PARSE_FAILS("{\"instances\": [[1, 2], [3]]}", &meta,
                "input 'x': instance 1 has shape [1], but the first has [2]");
    PARSE_FAILS("{\"instances\": [[[1, 2], [3]]]}", &meta,
                "input 'x': a list of 1 elements at level 1, expected 2");
    PARSE_FAILS("{\"instances\": [[1, [2]]]}", &meta, "input 'x': a list at nesting level 1");
    PARSE_FAILS("{\"instances\": [[[1], 2]]}", &meta, "input 'x': a number at nesting level 1");
    PARSE_FAILS("{\"instances\": [\"a\"]}", &meta,
                "input 'x': element 0 is string, expected a number for datatype FP32");
    PARSE_FAILS("{\"instances\": [1e39]}", &meta, "input 'x': element 0 is out of range");
    PARSE_FAILS("{\"instances\": [1, {\"x\": 2}]}", &meta,
                "instance 1 is an object, but instance 0 is a value");
    PARSE_FAILS("{\"instances\": []}", &meta, "no values in 'instances' list");
    PARSE_FAILS("{\"instances\": {\"x\": 1}}", &meta, "expecting 'instances' to be a list");
    PARSE_FAILS("{\"instances\": [1], \"inputs\": [1]}", &meta,
                "expecting only one of 'inputs' or 'instances' keys to exist");
    PARSE_FAILS("{\"instance\": [1]}", &meta, "missing 'inputs' or 'instances' key");
    PARSE_FAILS("{\"instances\": [1], \"signature_name\": \"classify\"}", &meta,
                "Serving signature name: \"classify\" not found in signature def");
    PARSE_FAILS("{\"instances\": [1], \"signature_name\": 7}", &meta,
                "'signature_name' key must be a string value");
    PARSE_FAILS("[1, 2]", &meta, "the request body must be a JSON object");
    PARSE_FAILS("", &meta, "JSON Parse error: The document is empty");
    PARSE_FAILS("{\"instances\": [1.0, NaN]}", &meta, "JSON Parse error");
}

static void test_row_named_inputs(void) {
    serve_io io[3] = {io_of("tag", ENGINE_STRING, 1, -1, 0), io_of("signal", ENGINE_INT32, 2, -1, 5),
                      io_of("sensor", ENGINE_DOUBLE, 3, -1, 2)};
    io[2].dims[2] = 2;
    serve_model_meta meta = {.n_inputs = 3, .inputs = io};
    tfserving_wire wire;
    /* api_rest.md's example (with its stray bracket fixed). */
    serve_request *r = parse_ok(
        "{\"instances\": [{\"tag\": \"foo\", \"signal\": [1, 2, 3, 4, 5], \"sensor\": [[1, 2], [3, 4]]},"
        "{\"tag\": {\"b64\": \"YmFy\"}, \"signal\": [3, 4, 1, 2, 5], \"sensor\": [[4, 5], [6, 8]]}]}",
        &meta, &wire, __LINE__);
    const serve_tensor *tag = input_named(r, "tag"), *sig = input_named(r, "signal"),
                       *sen = input_named(r, "sensor");
    CHECK(shape_is(tag, 1, (int64_t[]){2}) && shape_is(sig, 2, (int64_t[]){2, 5}) &&
          shape_is(sen, 3, (int64_t[]){2, 2, 2}));
    if (tag && sig && sen) {
        const engine_string *s = tag->data;
        CHECK(s[0].len == 3 && !memcmp(s[0].ptr, "foo", 3));
        CHECK(s[1].len == 3 && !memcmp(s[1].ptr, "bar", 3));
        CHECK(((int32_t *)sig->data)[5] == 3 && ((double *)sen->data)[7] == 8);
    }
    tfserving_wire_deinit(&wire);
    serve_request_destroy(r);
    PARSE_FAILS("{\"instances\": [\"foo\"]}", &meta,
                "'instances' is a plain list, but the model has 3 inputs (tag, signal, sensor)");
    PARSE_FAILS("{\"instances\": [{\"tag\": \"a\", \"signal\": [1]}]}", &meta,
                "instance 0 has no value for input 'sensor'");
    PARSE_FAILS("{\"instances\": [{\"tag\": \"a\", \"signal\": [1], \"sensor\": [1], \"x\": 1}]}",
                &meta, "instance 0 names 'x', which is not an input of the model");
    PARSE_FAILS("{\"instances\": [{\"tag\": \"a\", \"signal\": [1], \"sensor\": [1], \"tag\": \"b\"}]}",
                &meta, "instance 0 names an input twice");
    PARSE_FAILS("{\"instances\": [{\"tag\": {\"b64\": \"!!\"}, \"signal\": [1], \"sensor\": [1]}]}",
                &meta, "input 'tag': element 0: \"b64\" is not valid base64");
    PARSE_FAILS("{\"instances\": [{\"tag\": {\"b64\": \"YQ==\", \"x\": 1}, \"signal\": [1], "
                "\"sensor\": [1]}]}", &meta, "input 'tag': element 0 is object, expected a string");
    PARSE_FAILS("{\"instances\": [{\"tag\": 1, \"signal\": [1.5], \"sensor\": [1]}]}", &meta,
                "input 'tag': element 0 is number, expected a string or {\"b64\"");
    PARSE_FAILS("{\"instances\": [{\"tag\": \"a\", \"signal\": [1.5], \"sensor\": [1]}]}", &meta,
                "input 'signal': element 0 is not an integer");
    PARSE_FAILS("{\"instances\": [{\"tag\": \"a\", \"signal\": [3000000000], \"sensor\": [1]}]}",
                &meta, "input 'signal': element 0 is out of range");
}

static void test_columnar(void) {
    serve_io io[3] = {io_of("tag", ENGINE_STRING, 1, -1, 0), io_of("signal", ENGINE_INT64, 2, -1, 5),
                      io_of("flag", ENGINE_BOOL, 0, 0, 0)};
    serve_model_meta meta = {.n_inputs = 3, .inputs = io};
    tfserving_wire wire;
    serve_request *r = parse_ok(
        "{\"inputs\": {\"tag\": [\"foo\", \"bar\"], \"signal\": [[1, 2, 3, 4, 5], [3, 4, 1, 2, 5]],"
        " \"flag\": true}}", &meta, &wire, __LINE__);
    CHECK(wire.format == TFSERVING_COLUMNAR);
    CHECK(shape_is(input_named(r, "tag"), 1, (int64_t[]){2}));
    CHECK(shape_is(input_named(r, "signal"), 2, (int64_t[]){2, 5}));
    const serve_tensor *flag = input_named(r, "flag");
    CHECK(shape_is(flag, 0, NULL) && flag && *(unsigned char *)flag->data == 1);
    tfserving_wire_deinit(&wire);
    serve_request_destroy(r);
    PARSE_FAILS("{\"inputs\": {\"tag\": [\"a\"], \"signal\": [[1]]}}", &meta,
                "missing named input: 'flag' in 'inputs' object");
    PARSE_FAILS("{\"inputs\": {\"tag\": [\"a\"], \"signal\": [[1]], \"flag\": false, \"z\": 0}}",
                &meta, "'inputs' names 'z', which is not an input of the model");
    PARSE_FAILS("{\"inputs\": [1, 2]}", &meta,
                "'inputs' is a plain value or list, but the model has 3 inputs");
    PARSE_FAILS("{\"inputs\": {\"tag\": [\"a\"], \"signal\": [[1]], \"flag\": 1}}", &meta,
                "input 'flag': element 0 is number, expected true or false");
    /* One input: the value itself, a b64 object included. */
    serve_model_meta one = {.n_inputs = 1, .inputs = io};
    r = parse_ok("{\"inputs\": {\"b64\": \"aW1hZ2UgYnl0ZXM=\"}}", &one, &wire, __LINE__);
    const serve_tensor *t = input_named(r, "tag");
    CHECK(shape_is(t, 0, NULL));
    if (t) CHECK(((engine_string *)t->data)->len == 11 && !memcmp(((engine_string *)t->data)->ptr,
                                                                  "image bytes", 11));
    tfserving_wire_deinit(&wire);
    serve_request_destroy(r);
    r = parse_ok("{\"inputs\": [[{\"b64\": \"YQ\"}, \"b\"]]}", &one, &wire, __LINE__);
    t = input_named(r, "tag");
    CHECK(shape_is(t, 2, (int64_t[]){1, 2}));
    if (t) CHECK(((engine_string *)t->data)[0].len == 1 && ((engine_string *)t->data)[0].ptr[0] == 'a');
    tfserving_wire_deinit(&wire);
    serve_request_destroy(r);
}

/* ---- responses ------------------------------------------------------------------------------ */

static void add_output(serve_request *r, const char *name, engine_dtype dt, int rank,
                       const int64_t *dims, const void *data, size_t nbytes) {
    serve_tensor t = {.name = name, .dtype = dt, .shape = {.rank = rank}, .nbytes = nbytes};
    for (int d = 0; d < rank; d++) t.shape.dims[d] = dims[d];
    t.data = malloc(nbytes ? nbytes : 1);
    memcpy(t.data, data, nbytes);
    errinfo err;
    CHECK_OK_MSG(serve_request_take_output(r, &t, NULL, &err), err.msg);
}

static void response_is(const serve_request *r, tfserving_format f, const char *want, int line) {
    char *body = NULL;
    size_t len;
    errinfo err = {{0}};
    status st = tfserving_predict_response(r, f, &body, &len, &err);
    test_checks++;
    if (st || strcmp(body, want)) {
        fprintf(stderr, "%s:%d: want %s\n got %s (%s)\n", __FILE__, line, want,
                st ? "error" : body, err.msg);
        test_failures++;
    }
    free(body);
}
#define RESPONSE_IS(r, f, want) response_is(r, f, want, __LINE__)

static void test_responses(void) {
    float y[4] = {3.5f, 4.0f, 0.1f, 1234567.0f};
    serve_request *r = req_new();
    add_output(r, "y", ENGINE_FLOAT, 1, (int64_t[]){4}, y, sizeof y);
    RESPONSE_IS(r, TFSERVING_ROW, "{\"predictions\":[3.5,4.0,0.1,1234567.0]}");
    RESPONSE_IS(r, TFSERVING_COLUMNAR, "{\"outputs\":[3.5,4.0,0.1,1234567.0]}");
    serve_request_destroy(r);

    /* Two outputs: per-instance objects, or one object of tensors. */
    float p[4] = {NAN, INFINITY, -INFINITY, 1e-7f};
    int64_t cls[2] = {7, -1};
    r = req_new();
    add_output(r, "probs", ENGINE_FLOAT, 2, (int64_t[]){2, 2}, p, sizeof p);
    add_output(r, "classes", ENGINE_INT64, 1, (int64_t[]){2}, cls, sizeof cls);
    RESPONSE_IS(r, TFSERVING_ROW, "{\"predictions\":[{\"probs\":[NaN,Infinity],\"classes\":7},"
                "{\"probs\":[-Infinity,1e-07],\"classes\":-1}]}");
    RESPONSE_IS(r, TFSERVING_COLUMNAR, "{\"outputs\":{\"probs\":[[NaN,Infinity],[-Infinity,1e-07]],"
                "\"classes\":[7,-1]}}");
    serve_request_destroy(r);

    /* Strings: plain, b64 for *_bytes outputs and for bytes that are not UTF-8. */
    engine_string s[2] = {{"hi", 2}, {"\xff\x01", 2}};
    double d[1] = {0.1};
    unsigned char b[1] = {1};
    uint64_t u[1] = {18446744073709551615u};
    r = req_new();
    add_output(r, "s", ENGINE_STRING, 1, (int64_t[]){2}, s, sizeof s);
    add_output(r, "img_bytes", ENGINE_STRING, 1, (int64_t[]){2}, s, sizeof s);
    RESPONSE_IS(r, TFSERVING_COLUMNAR, "{\"outputs\":{\"s\":[\"hi\",{\"b64\":\"/wE=\"}],"
                "\"img_bytes\":[{\"b64\":\"aGk=\"},{\"b64\":\"/wE=\"}]}}");
    serve_request_destroy(r);
    r = req_new();
    add_output(r, "d", ENGINE_DOUBLE, 0, NULL, d, sizeof d);
    add_output(r, "b", ENGINE_BOOL, 0, NULL, b, sizeof b);
    add_output(r, "u", ENGINE_UINT64, 0, NULL, u, sizeof u);
    RESPONSE_IS(r, TFSERVING_COLUMNAR,
                "{\"outputs\":{\"d\":0.1,\"b\":true,\"u\":18446744073709551615}}");
    /* Scalars cannot be split per instance. */
    char *body;
    size_t len;
    errinfo err;
    CHECK_ERR(tfserving_predict_response(r, TFSERVING_ROW, &body, &len, &err),
              STATUS_INVALID_ARGUMENT, err.msg, "output 'd' is a scalar");
    serve_request_destroy(r);
    r = req_new();
    add_output(r, "a", ENGINE_FLOAT, 1, (int64_t[]){2}, y, 8);
    add_output(r, "b", ENGINE_FLOAT, 1, (int64_t[]){3}, y, 12);
    CHECK_ERR(tfserving_predict_response(r, TFSERVING_ROW, &body, &len, &err),
              STATUS_INVALID_ARGUMENT, err.msg, "output 'b' has batch size 3, expecting 2");
    serve_request_destroy(r);
}

/* ---- base64 --------------------------------------------------------------------------------- */

static void test_base64(void) {
    static const struct { const char *raw, *b64; } cases[] = {
        {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = strlen(cases[i].raw), got;
        char enc[16] = {0};
        unsigned char dec[16];
        base64_encode(cases[i].raw, n, enc);
        CHECK(base64_encoded_len(n) == strlen(cases[i].b64) && !strcmp(enc, cases[i].b64));
        CHECK(!base64_decode(cases[i].b64, strlen(cases[i].b64), dec, &got) && got == n &&
              !memcmp(dec, cases[i].raw, n));
    }
    unsigned char dec[16];
    size_t got;
    CHECK(!base64_decode("Zm8", 3, dec, &got) && got == 2);   /* unpadded */
    CHECK(!base64_decode("+/+/", 4, dec, &got) && got == 3);
    const char *bad[] = {"Z", "Zm9v=", "Zm=9", "Z===", "Zm 9", "Zm-_", "Zg=", "Zm9vY"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(base64_decode(bad[i], strlen(bad[i]), dec, &got) == -1);
}

int main(void) {
    test_row_single_input();
    test_row_named_inputs();
    test_columnar();
    test_responses();
    test_base64();
    return test_report("test_tfserving");
}
