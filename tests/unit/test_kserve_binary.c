/* test_kserve_binary.c -- KServe v2 REST bodies without a server: Triton's
 * binary tensor data extension (framing, borrowing aligned input bytes,
 * raw single-input mode, BYTES elements, binary outputs) and BYTES tensors
 * in JSON, through kserve_request_parse and kserve_response_write. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "http/kserve_binary.h"
#include "http/kserve_codec.h"
#include "serve/infer_request_int.h"
#include "serve_test.h"

/* ---- helpers ------------------------------------------------------------------------------ */

/* A body: JSON header + binary bytes, at a chosen misalignment of the
 * binary section (the buffer itself is 64-byte aligned). */
typedef struct body {
    unsigned char *buf;
    size_t len;
    char hdr[32];       /* Inference-Header-Content-Length value */
} body;

static body make_body(const char *json, const void *bin, size_t bin_len, size_t pad) {
    body b;
    size_t jl = strlen(json);
    b.buf = aligned_alloc(64, (jl + pad + bin_len + 64) / 64 * 64);
    /* Pad the JSON with spaces so the binary part starts where we want. */
    memcpy(b.buf, json, jl);
    memset(b.buf + jl, ' ', pad);
    if (bin_len) memcpy(b.buf + jl + pad, bin, bin_len);
    b.len = jl + pad + bin_len;
    snprintf(b.hdr, sizeof b.hdr, "%zu", jl + pad);
    return b;
}

static serve_request *req_new(void) {
    serve_request *r = NULL;
    errinfo err;
    CHECK_OK_MSG(serve_request_create("m", 0, &r, &err), err.msg);
    return r;
}

/* Parses and expects failure with `needle` in the message. */
static void parse_fails(const char *json, const void *bin, size_t bin_len, const char *hdr,
                        const serve_model_meta *meta, const char *needle, int line) {
    body b = make_body(json, bin, bin_len, 0);
    serve_request *r = req_new();
    kserve_infer_wire wire;
    errinfo err = {{0}};
    status st = kserve_request_parse((char *)b.buf, b.len, hdr ? hdr : b.hdr, meta, r, &wire, &err);
    test_checks++;
    if (st != STATUS_INVALID_ARGUMENT || !strstr(err.msg, needle)) {
        fprintf(stderr, "%s:%d: want INVALID_ARGUMENT containing \"%s\", got %s \"%s\"\n",
                __FILE__, line, needle, status_name(st), st ? err.msg : "");
        test_failures++;
    }
    CHECK(wire.doc == NULL && wire.binary == NULL); /* released on failure */
    if (!st) kserve_infer_wire_deinit(&wire);
    serve_request_destroy(r);
    free(b.buf);
}
#define PARSE_FAILS(json, bin, n, hdr, meta, needle) \
    parse_fails(json, bin, n, hdr, meta, needle, __LINE__)

static const serve_tensor *input_named(const serve_request *r, const char *name) {
    for (int i = 0; i < serve_request_input_count(r); i++)
        if (!strcmp(serve_request_input(r, i)->name, name)) return serve_request_input(r, i);
    return NULL;
}

static bool points_into(const void *p, const body *b) {
    return (const unsigned char *)p >= b->buf && (const unsigned char *)p < b->buf + b->len;
}

/* ---- header length ------------------------------------------------------------------------ */

static void test_header_length(void) {
    errinfo err;
    size_t n = 99;
    CHECK_OK_MSG(kserve_binary_header_length(NULL, 10, &n, &err), err.msg);
    CHECK(n == 10);
    CHECK_OK_MSG(kserve_binary_header_length("0", 10, &n, &err), err.msg);
    CHECK(n == 0);
    CHECK_OK_MSG(kserve_binary_header_length("10", 10, &n, &err), err.msg);
    CHECK(n == 10);
    CHECK_ERR(kserve_binary_header_length("11", 10, &n, &err), STATUS_INVALID_ARGUMENT, err.msg,
              "is 11, but the body has only 10 bytes");
    const char *bad[] = {"", "-1", "+1", " 1", "1 ", "0x10", "1e3", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_ERR(kserve_binary_header_length(bad[i], 10, &n, &err), STATUS_INVALID_ARGUMENT,
                  err.msg, "must be a byte count");
}

/* ---- binary inputs -------------------------------------------------------------------------- */

static const char two_inputs[] =
    "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"UINT32\",\"shape\":[2,2],"
    "\"parameters\":{\"binary_data_size\":16}},"
    "{\"name\":\"b\",\"datatype\":\"BOOL\",\"shape\":[3],\"parameters\":{\"binary_data_size\":3}}],"
    "\"outputs\":[{\"name\":\"y\",\"parameters\":{\"binary_data\":true}}]}";

static void test_triton_example(size_t pad) {
    unsigned char bin[19];
    uint32_t a[4] = {1, 2, 0xdeadbeef, 4};
    memcpy(bin, a, 16);
    bin[16] = 1, bin[17] = 0, bin[18] = 1;
    body b = make_body(two_inputs, bin, sizeof bin, pad);
    serve_request *r = req_new();
    kserve_infer_wire wire;
    errinfo err;
    CHECK_OK_MSG(kserve_request_parse((char *)b.buf, b.len, b.hdr, NULL, r, &wire, &err), err.msg);
    const serve_tensor *ta = input_named(r, "a"), *tb = input_named(r, "b");
    CHECK(ta && tb);
    if (ta && tb) {
        CHECK(ta->dtype == ENGINE_UINT32 && ta->shape.rank == 2 && ta->nbytes == 16);
        CHECK(!memcmp(ta->data, a, 16));
        CHECK(tb->dtype == ENGINE_BOOL && tb->nbytes == 3 && !memcmp(tb->data, bin + 16, 3));
        /* Aligned bytes are borrowed from the body, unaligned ones copied. */
        bool aligned = (uintptr_t)(b.buf + b.len - 19) % 4 == 0;
        CHECK(points_into(ta->data, &b) == aligned);
        CHECK(points_into(tb->data, &b)); /* BOOL: any address will do */
        CHECK((uintptr_t)ta->data % 4 == 0);
    }
    CHECK(wire.n_requested == 1 && wire.binary[0] == 1 && !wire.binary_default);
    CHECK(serve_request_requested_output_count(r) == 1);
    kserve_infer_wire_deinit(&wire);
    serve_request_destroy(r);
    free(b.buf);
}

static void test_binary_framing_errors(void) {
    float f[4] = {1, 2, 3, 4};
    const char *one = "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[4],"
                      "\"parameters\":{\"binary_data_size\":16}}]}";
    /* Sizes that do not add up. */
    PARSE_FAILS(one, f, 12, NULL, NULL, "binary_data_size 16 runs past the end of the body (12 bytes");
    unsigned char more[20] = {0};
    PARSE_FAILS(one, more, 20, NULL, NULL, "20 bytes of binary data follow the JSON header, but the "
                "inputs' binary_data_size parameters account for 16");
    PARSE_FAILS("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[4],"
                "\"parameters\":{\"binary_data_size\":12}}]}", f, 12, NULL, NULL,
                "input 'x': binary_data_size is 12, but shape [4] of FP32 needs 16 bytes");
    /* Header longer than the body. */
    PARSE_FAILS(one, f, 16, "100000", NULL, "Inference-Header-Content-Length is 100000");
    PARSE_FAILS(one, f, 16, "abc", NULL, "must be a byte count");
    /* Binary data, but no header to find it. */
    body b = make_body(one, f, 16, 0);
    serve_request *r = req_new();
    kserve_infer_wire wire;
    errinfo err;
    CHECK_ERR(kserve_request_parse((char *)b.buf, strlen(one), NULL, NULL, r, &wire, &err),
              STATUS_INVALID_ARGUMENT, err.msg, "input 'x' has binary_data_size, but the request "
              "has no Inference-Header-Content-Length");
    serve_request_destroy(r);
    free(b.buf);
    /* An input with neither data nor binary_data_size. */
    PARSE_FAILS("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[4]}]}", f, 16, NULL,
                NULL, "input 'x': missing 'data' (or a binary_data_size parameter");
    PARSE_FAILS("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1],"
                "\"parameters\":{\"binary_data_size\":4}}]}", f, 4, NULL, NULL,
                "input 'x' has both 'data' and binary_data_size");
    PARSE_FAILS("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],"
                "\"parameters\":{\"binary_data_size\":-4}}]}", f, 4, NULL, NULL,
                "input 'x': 'binary_data_size' must be a non-negative integer");
    PARSE_FAILS("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],"
                "\"parameters\":{\"binary_data_size\":\"4\"}}]}", f, 4, NULL, NULL,
                "'binary_data_size' must be a non-negative integer");
    PARSE_FAILS("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],"
                "\"parameters\":[]}]}", f, 4, NULL, NULL, "input 'x': 'parameters' must be an object");
    unsigned char bools[3] = {1, 2, 0};
    PARSE_FAILS("{\"inputs\":[{\"name\":\"m\",\"datatype\":\"BOOL\",\"shape\":[3],"
                "\"parameters\":{\"binary_data_size\":3}}]}", bools, 3, NULL, NULL,
                "input 'm': BOOL element 1 is 2, expected 0 or 1");
    /* The JSON header itself cut short by the header length. */
    PARSE_FAILS(one, f, 16, "10", NULL, "malformed JSON in request body");
    /* Output parameters. */
    PARSE_FAILS("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}],"
                "\"outputs\":[{\"name\":\"y\",\"parameters\":{\"binary_data\":1}}]}", NULL, 0,
                NULL, NULL, "output 'y': 'binary_data' must be true or false");
    PARSE_FAILS("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}],"
                "\"outputs\":[{\"name\":\"y\",\"parameters\":{\"classification\":3}}]}", NULL, 0,
                NULL, NULL, "output 'y': the classification extension is not supported");
    PARSE_FAILS("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}],"
                "\"parameters\":{\"binary_data_output\":\"yes\"}}", NULL, 0, NULL, NULL,
                "'binary_data_output' must be true or false");
}

/* A mixed request: JSON data, binary data, JSON again. */
static void test_mixed_inputs(void) {
    int64_t v[2] = {-5, 7};
    const char *json = "{\"id\":\"m1\",\"parameters\":{\"binary_data_output\":true,\"timeout\":5},"
                       "\"inputs\":[{\"name\":\"j\",\"datatype\":\"INT8\",\"shape\":[2],\"data\":[1,-2]},"
                       "{\"name\":\"b\",\"datatype\":\"INT64\",\"shape\":[1,2],"
                       "\"parameters\":{\"binary_data_size\":16}},"
                       "{\"name\":\"k\",\"datatype\":\"FP64\",\"shape\":[],\"data\":2.5}],"
                       "\"outputs\":[{\"name\":\"y\"},{\"name\":\"z\",\"parameters\":{\"binary_data\":false}}]}";
    body b = make_body(json, v, sizeof v, 0);
    serve_request *r = req_new();
    kserve_infer_wire wire;
    errinfo err;
    CHECK_OK_MSG(kserve_request_parse((char *)b.buf, b.len, b.hdr, NULL, r, &wire, &err), err.msg);
    CHECK(serve_request_input_count(r) == 3);
    const serve_tensor *t = input_named(r, "b");
    CHECK(t && t->nbytes == 16 && !memcmp(t->data, v, 16));
    t = input_named(r, "k");
    CHECK(t && t->shape.rank == 0 && *(double *)t->data == 2.5);
    CHECK_STR(serve_request_id(r), "m1");
    CHECK(wire.binary_default && wire.n_requested == 2 && wire.binary[0] == -1 && wire.binary[1] == 0);
    kserve_infer_wire_deinit(&wire);
    serve_request_destroy(r);
    free(b.buf);
}

/* ---- BYTES --------------------------------------------------------------------------------- */

static size_t put_elem(unsigned char *p, const char *s, size_t n) {
    p[0] = (unsigned char)n, p[1] = (unsigned char)(n >> 8), p[2] = 0, p[3] = 0;
    memcpy(p + 4, s, n);
    return 4 + n;
}

static void test_bytes_codec(void) {
    unsigned char buf[64];
    size_t n = put_elem(buf, "hi", 2);
    n += put_elem(buf + n, "", 0);
    n += put_elem(buf + n, "a\0b", 3);
    engine_string *s;
    errinfo err;
    CHECK_OK_MSG(kserve_bytes_decode(buf, n, 3, "input 'x'", &s, &err), err.msg);
    CHECK(s[0].len == 2 && !memcmp(s[0].ptr, "hi", 2));
    CHECK(s[1].len == 0);
    CHECK(s[2].len == 3 && !memcmp(s[2].ptr, "a\0b", 3));
    /* Written back byte for byte. */
    serve_tensor t = {.name = "x", .dtype = ENGINE_STRING, .shape = {1, {3}}, .data = s,
                      .nbytes = 3 * sizeof *s};
    CHECK(kserve_binary_size(&t) == n);
    unsigned char out[64];
    kserve_binary_write(&t, out);
    CHECK(!memcmp(out, buf, n));
    free(s);
    CHECK_ERR(kserve_bytes_decode(buf, n, 4, "input 'x'", &s, &err), STATUS_INVALID_ARGUMENT,
              err.msg, "input 'x': BYTES element 3 runs past the end");
    CHECK_ERR(kserve_bytes_decode(buf, n, 2, "input 'x'", &s, &err), STATUS_INVALID_ARGUMENT,
              err.msg, "7 bytes left over after 2 BYTES elements");
    CHECK_ERR(kserve_bytes_decode(buf, 5, 1, "input 'x'", &s, &err), STATUS_INVALID_ARGUMENT,
              err.msg, "BYTES element 0 runs past the end of its 5 bytes");
    CHECK_ERR(kserve_bytes_decode(buf, n, 1000000, "input 'x'", &s, &err), STATUS_INVALID_ARGUMENT,
              err.msg, "cannot hold 1000000 elements");
    unsigned char huge[4] = {0xff, 0xff, 0xff, 0xff};
    CHECK_ERR(kserve_bytes_decode(huge, 4, 1, "input 'x'", &s, &err), STATUS_INVALID_ARGUMENT,
              err.msg, "runs past the end");
}

static void test_bytes_inputs(void) {
    unsigned char bin[32];
    size_t n = put_elem(bin, "cat", 3);
    n += put_elem(bin + n, "\xff\xfe", 2);
    const char *json = "{\"inputs\":[{\"name\":\"s\",\"datatype\":\"BYTES\",\"shape\":[2],"
                       "\"parameters\":{\"binary_data_size\":13}},"
                       "{\"name\":\"j\",\"datatype\":\"BYTES\",\"shape\":[1,2],"
                       "\"data\":[\"caf\\u00e9\",\"nul\\u0000x\"]}]}";
    body b = make_body(json, bin, n, 1);
    serve_request *r = req_new();
    kserve_infer_wire wire;
    errinfo err;
    CHECK_OK_MSG(kserve_request_parse((char *)b.buf, b.len, b.hdr, NULL, r, &wire, &err), err.msg);
    const serve_tensor *t = input_named(r, "s");
    CHECK(t && t->dtype == ENGINE_STRING && t->nbytes == 2 * sizeof(engine_string));
    if (t) {
        const engine_string *s = t->data;
        CHECK(s[0].len == 3 && !memcmp(s[0].ptr, "cat", 3) && points_into(s[0].ptr, &b));
        CHECK(s[1].len == 2 && !memcmp(s[1].ptr, "\xff\xfe", 2));
    }
    t = input_named(r, "j");
    if (t) {
        const engine_string *s = t->data;
        CHECK(s[0].len == 5 && !memcmp(s[0].ptr, "caf\xc3\xa9", 5));
        CHECK(s[1].len == 5 && !memcmp(s[1].ptr, "nul\0x", 5));
    }
    kserve_infer_wire_deinit(&wire);
    serve_request_destroy(r);
    free(b.buf);
    PARSE_FAILS("{\"inputs\":[{\"name\":\"s\",\"datatype\":\"BYTES\",\"shape\":[3],"
                "\"parameters\":{\"binary_data_size\":13}}]}", bin, 13, NULL, NULL,
                "input 's': BYTES element 2 runs past the end");
    PARSE_FAILS("{\"inputs\":[{\"name\":\"s\",\"datatype\":\"BYTES\",\"shape\":[2],"
                "\"data\":[\"a\",3]}]}", NULL, 0, NULL, NULL,
                "input 's': element 1 is number, expected a string for datatype BYTES");
}

/* ---- raw single-input mode ----------------------------------------------------------------- */

static serve_io io_of(const char *name, engine_dtype dt, int rank, const int64_t *dims) {
    serve_io io = {.name = (char *)name, .dtype = dt, .rank = rank};
    for (int d = 0; d < rank; d++) io.dims[d] = dims[d];
    return io;
}

static void raw_ok(const serve_model_meta *meta, const void *data, size_t len, int rank,
                   const int64_t *want, int line) {
    serve_request *r = req_new();
    kserve_infer_wire wire;
    errinfo err = {{0}};
    status st = kserve_request_parse(data, len, "0", meta, r, &wire, &err);
    test_checks++;
    if (st) {
        fprintf(stderr, "%s:%d: raw parse failed: %s\n", __FILE__, line, err.msg);
        test_failures++;
    } else {
        const serve_tensor *t = serve_request_input(r, 0);
        bool ok = wire.binary_default && t && t->shape.rank == rank;
        for (int d = 0; ok && d < rank; d++) ok = t->shape.dims[d] == want[d];
        if (!ok) {
            fprintf(stderr, "%s:%d: raw input has the wrong shape\n", __FILE__, line);
            test_failures++;
        }
    }
    kserve_infer_wire_deinit(&wire);
    serve_request_destroy(r);
}

static void test_raw_mode(void) {
    static float px[2 * 3 * 4];
    int64_t d_batch[] = {-1, 3, 4}, d_var[] = {2, -1}, d_fixed[] = {2, 3}, d_two[] = {-1, -1};
    serve_io in = io_of("x", ENGINE_FLOAT, 3, d_batch);
    serve_model_meta meta = {.name = "m", .max_batch_size = 8, .n_inputs = 1, .inputs = &in};
    raw_ok(&meta, px, 48, 3, (int64_t[]){1, 3, 4}, __LINE__);
    PARSE_FAILS("", NULL, 0, "0", &meta, "0 elements of raw binary data do not fit its shape [-1,3,4]");
    body b = make_body("", px, 44, 0);
    serve_request *r = req_new();
    kserve_infer_wire wire;
    errinfo err;
    CHECK_ERR(kserve_request_parse((char *)b.buf, 44, "0", &meta, r, &wire, &err),
              STATUS_INVALID_ARGUMENT, err.msg, "11 elements of raw binary data do not fit");
    CHECK_ERR(kserve_request_parse((char *)b.buf, 43, "0", &meta, r, &wire, &err),
              STATUS_INVALID_ARGUMENT, err.msg, "43 bytes of raw binary data are not a whole "
              "number of FP32 elements");
    serve_request_destroy(r);
    free(b.buf);
    /* No batching: the one variable dim is deduced. */
    in = io_of("x", ENGINE_FLOAT, 2, d_var);
    meta.max_batch_size = 0;
    raw_ok(&meta, px, 40, 2, (int64_t[]){2, 5}, __LINE__);
    in = io_of("x", ENGINE_FLOAT, 2, d_fixed);
    raw_ok(&meta, px, 24, 2, (int64_t[]){2, 3}, __LINE__);
    PARSE_FAILS("", NULL, 0, "0", &meta, "do not fit its shape [2,3]");
    in = io_of("x", ENGINE_FLOAT, 2, d_two);
    PARSE_FAILS("", NULL, 0, "0", &meta, "input 'x' has more than one variable dimension");
    in = io_of("x", ENGINE_FLOAT, -1, d_two);
    PARSE_FAILS("", NULL, 0, "0", &meta, "input 'x' has no declared shape");
    /* BYTES: the body is the one element, without a length prefix. */
    int64_t d_one[] = {1}, d_b1[] = {-1, 1};
    in = io_of("s", ENGINE_STRING, 1, d_one);
    r = req_new();
    CHECK_OK_MSG(kserve_request_parse("hello", 5, "0", &meta, r, &wire, &err), err.msg);
    const serve_tensor *t = serve_request_input(r, 0);
    CHECK(t && t->shape.rank == 1 && t->shape.dims[0] == 1 &&
          ((const engine_string *)t->data)->len == 5);
    kserve_infer_wire_deinit(&wire);
    serve_request_destroy(r);
    in = io_of("s", ENGINE_STRING, 2, d_b1);
    meta.max_batch_size = 4;
    raw_ok(&meta, "hi", 2, 2, (int64_t[]){1, 1}, __LINE__);
    in = io_of("s", ENGINE_STRING, 2, d_fixed);
    PARSE_FAILS("", NULL, 0, "0", &meta, "input 's' is BYTES: raw binary data");
    /* Only single-input models. */
    serve_io two[2] = {io_of("a", ENGINE_FLOAT, 1, d_one), io_of("b", ENGINE_FLOAT, 1, d_one)};
    serve_model_meta meta2 = {.name = "pair", .n_inputs = 2, .inputs = two};
    PARSE_FAILS("", NULL, 0, "0", &meta2, "needs a model with exactly one input, and 'pair' has 2");
}

/* ---- responses ------------------------------------------------------------------------------ */

/* A completed request with outputs y (FP32 [2]) and s (BYTES [2]). */
static serve_request *done_request(const char *s1) {
    serve_request *r = req_new();
    errinfo err;
    float *y = malloc(2 * sizeof *y);
    engine_string *s = malloc(2 * sizeof *s);
    y[0] = 1.5f, y[1] = -2;
    s[0] = (engine_string){"ab", 2};
    s[1] = (engine_string){s1, strlen(s1)};
    serve_tensor ty = {.name = "y", .dtype = ENGINE_FLOAT, .shape = {1, {2}}, .data = y, .nbytes = 8};
    serve_tensor ts = {.name = "s", .dtype = ENGINE_STRING, .shape = {1, {2}}, .data = s,
                       .nbytes = 2 * sizeof *s};
    CHECK_OK_MSG(serve_request_take_output(r, &ty, NULL, &err), err.msg);
    CHECK_OK_MSG(serve_request_take_output(r, &ts, NULL, &err), err.msg);
    r->model_version = 3;
    return r;
}

static void test_responses(void) {
    serve_request *r = done_request("cd");
    kserve_infer_wire wire = {0};
    errinfo err;
    char *out;
    size_t len, jlen;
    /* All JSON. */
    CHECK_OK_MSG(kserve_response_write(r, &wire, &out, &len, &jlen, &err), err.msg);
    CHECK(len == jlen);
    CHECK(strstr(out, "\"model_version\":\"3\"") && strstr(out, "\"data\":[1.5,-2]") &&
          strstr(out, "\"data\":[\"ab\",\"cd\"]"));
    free(out);
    /* All binary (binary_data_output). */
    wire.binary_default = true;
    CHECK_OK_MSG(kserve_response_write(r, &wire, &out, &len, &jlen, &err), err.msg);
    CHECK(len == jlen + 8 + 12);
    CHECK(strstr(out, "\"parameters\":{\"binary_data_size\":8}") &&
          strstr(out, "\"parameters\":{\"binary_data_size\":12}") && !strstr(out, "\"data\""));
    float y[2];
    memcpy(y, out + jlen, 8);
    CHECK(y[0] == 1.5f && y[1] == -2);
    CHECK(!memcmp(out + jlen + 8, "\2\0\0\0ab\2\0\0\0cd", 12));
    free(out);
    /* Per output: y as JSON, s binary by default. */
    signed char flags[2] = {0, -1};
    wire.n_requested = 2;
    wire.binary = flags;
    CHECK_OK_MSG(kserve_response_write(r, &wire, &out, &len, &jlen, &err), err.msg);
    CHECK(len == jlen + 12 && strstr(out, "\"data\":[1.5,-2]"));
    free(out);
    serve_request_destroy(r);
    /* A BYTES output that is not UTF-8 goes as binary, not as JSON. */
    r = done_request("\xc3\x28");
    wire = (kserve_infer_wire){0};
    CHECK_ERR(kserve_response_write(r, &wire, &out, &len, &jlen, &err), STATUS_INVALID_ARGUMENT,
              err.msg, "output 's': BYTES element 1 is not valid UTF-8");
    wire.binary_default = true;
    CHECK_OK_MSG(kserve_response_write(r, &wire, &out, &len, &jlen, &err), err.msg);
    free(out);
    serve_request_destroy(r);
}

int main(void) {
    test_header_length();
    for (size_t pad = 0; pad < 8; pad++) test_triton_example(pad);
    test_binary_framing_errors();
    test_mixed_inputs();
    test_bytes_codec();
    test_bytes_inputs();
    test_raw_mode();
    test_responses();
    return test_report("test_kserve_binary");
}
