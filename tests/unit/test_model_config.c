/* test_model_config.c -- config.pbtxt: Triton's own examples parse into the
 * right struct; malformed and unsupported configs fail with line:col. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "serve/model_config.h"
#include "serve/pbtxt.h"
#include "serve_test.h"

static model_config *parse_ok(const char *text) {
    model_config *c = NULL;
    errinfo err = {{0}};
    CHECK_OK_MSG(model_config_parse(text, strlen(text), "test", &c, &err), err.msg);
    return c;
}

static void parse_fails(const char *text, status want, const char *needle, int line) {
    model_config *c = NULL;
    errinfo err = {{0}};
    status st = model_config_parse(text, strlen(text), "test", &c, &err);
    test_checks++;
    if (st != want || !strstr(err.msg, needle) || c) {
        fprintf(stderr, "%s:%d: config should fail with %s containing \"%s\", got %s \"%s\"\n",
                __FILE__, line, status_name(want), needle, status_name(st), st ? err.msg : "");
        test_failures++;
    }
    model_config_release(c);
}
#define PARSE_FAILS(text, want, needle) parse_fails(text, want, needle, __LINE__)

/* Triton's docs/examples/model_repository/densenet_onnx/config.pbtxt */
static const char densenet[] =
    "name: \"densenet_onnx\"\n"
    "platform: \"onnxruntime_onnx\"\n"
    "max_batch_size : 1\n"
    "input [\n"
    "  {\n"
    "    name: \"data_0\"\n"
    "    data_type: TYPE_FP32\n"
    "    format: FORMAT_NCHW\n"
    "    dims: [ 3, 224, 224 ]\n"
    "  }\n"
    "]\n"
    "output [\n"
    "  {\n"
    "    name: \"fc6_1\"\n"
    "    data_type: TYPE_FP32\n"
    "    dims: [ 1000 ]\n"
    "    reshape { shape: [ 1000, 1, 1 ] }\n"
    "    label_filename: \"densenet_labels.txt\"\n"
    "  }\n"
    "]\n";

static void test_densenet(void) {
    model_config *c = parse_ok(densenet);
    if (!c) return;
    CHECK_STR(c->name, "densenet_onnx");
    CHECK_STR(c->platform, "onnxruntime_onnx");
    CHECK(c->backend == NULL);
    CHECK(c->max_batch_size == 1);
    CHECK(c->n_inputs == 1 && c->n_outputs == 1);
    CHECK_STR(c->inputs[0].name, "data_0");
    CHECK(c->inputs[0].dtype == ENGINE_FLOAT);
    CHECK(c->inputs[0].rank == 3 && c->inputs[0].dims[0] == 3 && c->inputs[0].dims[2] == 224);
    CHECK(!c->inputs[0].has_reshape);
    CHECK(c->inputs[0].line == 5 && c->inputs[0].col == 3);
    CHECK(c->outputs[0].has_reshape && c->outputs[0].reshape_rank == 3);
    CHECK(c->outputs[0].reshape[0] == 1000 && c->outputs[0].reshape[2] == 1);
    CHECK(c->version_policy.kind == MODEL_VERSIONS_LATEST && c->version_policy.latest == 1);
    CHECK(!c->dynamic_batching.enabled);
    CHECK(model_config_instance_count(c) == 1);
    model_config_release(c);
}

/* Most of what inferd uses, in the shapes Triton's docs show them. */
static const char full[] =
    "# a full example\n"
    "name: \"resnet\"\n"
    "backend: \"onnxruntime\"\n"
    "max_batch_size: 8\n"
    "version_policy: { specific: { versions: [1, 3] } }\n"
    "input [\n"
    "  { name: \"input__0\", data_type: TYPE_FP32, dims: [ 3, -1, -1 ] },\n"
    "  { name: \"mask\" data_type: TYPE_BOOL dims: [ 1 ] reshape: { shape: [ ] } optional: true }\n"
    "]\n"
    "output { name: \"out\" data_type: TYPE_FP16 dims: [ 1000 ] }\n"
    "output { name: \"ids\" data_type: TYPE_INT64 dims: -1 }\n"
    "dynamic_batching {\n"
    "  preferred_batch_size: [ 4, 8 ]\n"
    "  max_queue_delay_microseconds: 100\n"
    "  default_queue_policy {\n"
    "    timeout_action: DELAY\n"
    "    default_timeout_microseconds: 5000\n"
    "    allow_timeout_override: true\n"
    "    max_queue_size: 32\n"
    "  }\n"
    "}\n"
    "instance_group [ { count: 2 kind: KIND_CPU }, { kind: KIND_GPU gpus: [ 0, 1 ] } ]\n"
    "model_warmup [{\n"
    "    name : \"regular sample\"\n"
    "    batch_size: 2\n"
    "    inputs { key: \"input__0\" value: { data_type: TYPE_FP32 dims: [ 3, 16, 16 ] zero_data: true } }\n"
    "    inputs { key: \"mask\" value: { data_type: TYPE_BOOL dims: [ 1 ] random_data: true } }\n"
    "}]\n"
    "parameters { key: \"intra_op_thread_count\" value: { string_value: \"2\" } }\n"
    "parameters { key: \"inter_op_thread_count\" value: { string_value: \"1\" } }\n"
    "optimization { graph { level: 1 } execution_accelerators { cpu_execution_accelerator: [ { name: \"openvino\" } ] } }\n"
    "model_transaction_policy { decoupled: false }\n"
    "default_model_filename: \"resnet50.onnx\"\n";

static void test_full(void) {
    model_config *c = parse_ok(full);
    if (!c) return;
    CHECK_STR(c->name, "resnet");
    CHECK_STR(c->backend, "onnxruntime");
    CHECK(c->max_batch_size == 8);
    CHECK(c->version_policy.kind == MODEL_VERSIONS_SPECIFIC);
    CHECK(c->version_policy.n_versions == 2 && c->version_policy.versions[1] == 3);
    CHECK(c->n_inputs == 2);
    CHECK(c->inputs[0].rank == 3 && c->inputs[0].dims[1] == -1);
    CHECK(c->inputs[1].dtype == ENGINE_BOOL && c->inputs[1].optional);
    CHECK(c->inputs[1].has_reshape && c->inputs[1].reshape_rank == 0);
    CHECK(c->n_outputs == 2 && c->outputs[0].dtype == ENGINE_FLOAT16);
    CHECK(c->outputs[1].rank == 1 && c->outputs[1].dims[0] == -1);
    const model_dynamic_batching *db = &c->dynamic_batching;
    CHECK(db->enabled && db->n_preferred == 2 && db->preferred_batch_sizes[1] == 8);
    CHECK(db->max_queue_delay_us == 100);
    CHECK(db->queue_policy.timeout_action == MODEL_TIMEOUT_DELAY);
    CHECK(db->queue_policy.default_timeout_us == 5000);
    CHECK(db->queue_policy.allow_timeout_override);
    CHECK(db->queue_policy.max_queue_size == 32);
    CHECK(c->n_instance_groups == 2);
    CHECK(c->instance_groups[0].count == 2 && c->instance_groups[0].kind == MODEL_KIND_CPU);
    CHECK(c->instance_groups[1].count == 1 && c->instance_groups[1].kind == MODEL_KIND_GPU);
    CHECK(model_config_instance_count(c) == 3);
    CHECK(c->n_warmups == 1);
    if (c->n_warmups == 1) {
        const model_warmup *w = &c->warmups[0];
        CHECK_STR(w->name, "regular sample");
        CHECK(w->batch_size == 2 && w->count == 1 && w->n_inputs == 2);
        CHECK_STR(w->inputs[0].name, "input__0");
        CHECK(w->inputs[0].source == MODEL_WARMUP_ZERO && w->inputs[0].rank == 3);
        CHECK(w->inputs[1].source == MODEL_WARMUP_RANDOM && w->inputs[1].dtype == ENGINE_BOOL);
    }
    CHECK_STR(c->default_model_filename, "resnet50.onnx");
    /* retain/release keep it alive across owners */
    CHECK(model_config_retain(c) == c);
    model_config_release(c);
    CHECK_STR(c->name, "resnet");
    model_config_release(c);
}

static void test_syntax_variants(void) {
    model_config *c = parse_ok(
        "name: 'q\\tu\\x41\\101\\u00e9\\'\\\"' \" joined\"  # comment\n"
        "max_batch_size: 0x10;\n"
        "version_policy < latest < num_versions: 2 > >\n"
        "input: [ { name: \"a\" data_type: 11 dims: 1 dims: 2, } ]\n"
        "instance_group { count: 0 kind: 2 }\n");
    if (c) {
        CHECK_STR(c->name, "q\tuAA\xc3\xa9'\" joined");
        CHECK(c->max_batch_size == 16);
        CHECK(c->version_policy.kind == MODEL_VERSIONS_LATEST && c->version_policy.latest == 2);
        CHECK(c->n_inputs == 1 && c->inputs[0].dtype == ENGINE_FLOAT && c->inputs[0].rank == 2);
        CHECK(c->instance_groups[0].count == 1 && c->instance_groups[0].kind == MODEL_KIND_CPU);
    }
    model_config_release(c);

    c = parse_ok("version_policy: { all {} }");
    CHECK(c && c->version_policy.kind == MODEL_VERSIONS_ALL);
    model_config_release(c);

    c = parse_ok("");
    CHECK(c && !c->name && c->max_batch_size == 0 && c->version_policy.latest == 1);
    model_config_release(c);

    c = parse_ok("  # only a comment\n\n");
    CHECK(c != NULL);
    model_config_release(c);

    /* dims absent: taken from the model later */
    c = parse_ok("input { name: \"x\" data_type: TYPE_INT64 }");
    CHECK(c && c->inputs[0].rank == -1);
    model_config_release(c);
}

static void test_errors(void) {
    PARSE_FAILS("max_batch_size: \"8\"", STATUS_INVALID_ARGUMENT,
                "1:17: field 'max_batch_size': expected an integer");
    PARSE_FAILS("max_batch_size: -1", STATUS_INVALID_ARGUMENT, "1:17: field 'max_batch_size'");
    PARSE_FAILS("max_batch_size: 1.5", STATUS_INVALID_ARGUMENT, "expected an integer");
    PARSE_FAILS("name: \"x\"\nfoo: 1\n", STATUS_INVALID_ARGUMENT,
                "2:1: unknown field 'foo' in ModelConfig");
    PARSE_FAILS("input [{ name: \"a\" data_type: TYPE_FP32 dims: [1]\n  colour: 3 }]",
                STATUS_INVALID_ARGUMENT, "2:3: unknown field 'colour' in ModelInput");
    PARSE_FAILS("output { name: \"a\" data_type: TYPE_FP32 dims: 1 optional: true }",
                STATUS_INVALID_ARGUMENT, "unknown field 'optional' in ModelOutput");
    PARSE_FAILS("platform: \"tensorrt_plan\"", STATUS_UNSUPPORTED,
                "1:11: platform \"tensorrt_plan\" is not supported: inferd serves ONNX models");
    PARSE_FAILS("backend: \"python\"", STATUS_UNSUPPORTED, "backend \"python\" is not supported");
    PARSE_FAILS("\n sequence_batching { }", STATUS_UNSUPPORTED,
                "2:2: 'sequence_batching' in ModelConfig is not supported by inferd");
    PARSE_FAILS("ensemble_scheduling { step [ ] }", STATUS_UNSUPPORTED, "ensembles");
    PARSE_FAILS("model_transaction_policy { decoupled: true }", STATUS_UNSUPPORTED, "decoupled");
    PARSE_FAILS("input { name: \"a\" data_type: TYPE_FLOAT dims: 1 }", STATUS_INVALID_ARGUMENT,
                "field 'data_type': expected one of TYPE_INVALID, TYPE_BOOL");
    PARSE_FAILS("input { name: \"a\" data_type: TYPE_INVALID dims: 1 }", STATUS_INVALID_ARGUMENT,
                "not a usable data type");
    PARSE_FAILS("name: \"abc", STATUS_INVALID_ARGUMENT, "1:7: unterminated string");
    PARSE_FAILS("name: \"a\nb\"", STATUS_INVALID_ARGUMENT, "1:7: unterminated string");
    PARSE_FAILS("input {\n name: \"a\"\n", STATUS_INVALID_ARGUMENT,
                "3:1: expected '}' to close the message opened at 1:7, got end of input");
    PARSE_FAILS("input { name: \"a\" data_type: TYPE_FP32 dims: [ 0 ] }", STATUS_INVALID_ARGUMENT,
                "a dimension must be >= 1, or -1");
    PARSE_FAILS("input { name: \"a\" data_type: TYPE_FP32 dims: [ -2 ] }", STATUS_INVALID_ARGUMENT,
                "expected an integer in [-1,");
    PARSE_FAILS("max_batch_size: 1\nmax_batch_size: 2", STATUS_INVALID_ARGUMENT,
                "2:1: field 'max_batch_size' in ModelConfig given more than once (first at 1:1)");
    PARSE_FAILS("input { name: \"a\" data_type: TYPE_FP32 dims: 1 }\n"
                "input { name: \"a\" data_type: TYPE_FP32 dims: 1 }",
                STATUS_INVALID_ARGUMENT, "2:7: input 'a' declared twice (first at 1:7)");
    PARSE_FAILS("version_policy { latest { num_versions: 1 } all { } }", STATUS_INVALID_ARGUMENT,
                "give only one of 'latest', 'all', 'specific'");
    PARSE_FAILS("version_policy { latest { } }", STATUS_INVALID_ARGUMENT,
                "num_versions' must be at least 1");
    PARSE_FAILS("version_policy { specific { versions: [ 0 ] } }", STATUS_INVALID_ARGUMENT,
                "field 'versions'");
    PARSE_FAILS("input { name: \"a\" }", STATUS_INVALID_ARGUMENT,
                "1:7: input 'a': 'data_type' is required");
    PARSE_FAILS("input { data_type: TYPE_FP32 }", STATUS_INVALID_ARGUMENT, "input: 'name' is required");
    PARSE_FAILS("input { name: \"a\" data_type: TYPE_FP32 dims: [2, 3] reshape { shape: [ 5 ] } }",
                STATUS_INVALID_ARGUMENT, "dims [2,3] and reshape [5] differ in element count");
    PARSE_FAILS("max_batch_size: 4\ndynamic_batching { preferred_batch_size: [ 2, 8 ] }",
                STATUS_INVALID_ARGUMENT, "2:1: dynamic_batching: preferred_batch_size 8 exceeds max_batch_size 4");
    PARSE_FAILS("name \"x\"", STATUS_INVALID_ARGUMENT,
                "1:6: expected ':' or '{' after field name 'name', got string \"x\"");
    PARSE_FAILS("dims: [ 1 2 ]", STATUS_INVALID_ARGUMENT, "expected ',' or ']' in the list of 'dims'");
    PARSE_FAILS("name: \"\\q\"", STATUS_INVALID_ARGUMENT, "unknown escape sequence '\\q'");
    PARSE_FAILS("name: \"\\u12\"", STATUS_INVALID_ARGUMENT, "bad \\u escape");
    PARSE_FAILS("[ext.field]: 1", STATUS_INVALID_ARGUMENT, "extension and Any fields");
    PARSE_FAILS("name: \"a\" \x01", STATUS_INVALID_ARGUMENT, "1:11: unexpected byte 0x01");
    PARSE_FAILS("name: \"a\" @", STATUS_INVALID_ARGUMENT, "unexpected character '@'");
    PARSE_FAILS("name: { }", STATUS_INVALID_ARGUMENT, "field 'name' in ModelConfig must be a value");
    PARSE_FAILS("dynamic_batching: 3", STATUS_INVALID_ARGUMENT, "must be a message");
    PARSE_FAILS("input: [ 1 ]", STATUS_INVALID_ARGUMENT, "field 'input' in ModelConfig must be a message");
    PARSE_FAILS("}", STATUS_INVALID_ARGUMENT, "1:1: expected a field name, got '}'");
    PARSE_FAILS("model_warmup { inputs { key: \"a\" value { data_type: TYPE_FP32 dims: 1 "
                "zero_data: true random_data: true } } }",
                STATUS_INVALID_ARGUMENT, "give exactly one of zero_data, random_data, input_data_file");
    PARSE_FAILS("model_warmup { inputs { key: \"a\" value { data_type: TYPE_FP32 dims: 1 "
                "input_data_file: \"../../etc/passwd\" } } }",
                STATUS_INVALID_ARGUMENT, "must be a relative path");
    PARSE_FAILS("max_batch_size: 2\nmodel_warmup { batch_size: 4 }", STATUS_INVALID_ARGUMENT,
                "2:14: model_warmup '': batch_size 4 exceeds max_batch_size 2");
    PARSE_FAILS("instance_group { count: 40 } instance_group { count: 40 }", STATUS_INVALID_ARGUMENT,
                "more than 64 instances");
    PARSE_FAILS("instance_group { kind: KIND_TPU }", STATUS_INVALID_ARGUMENT, "KIND_CPU");
    PARSE_FAILS("default_model_filename: \"../x.onnx\"", STATUS_INVALID_ARGUMENT,
                "default_model_filename must be a file name");
    PARSE_FAILS("input { name: \"a\" data_type: TYPE_FP32 dims: 1 is_shape_tensor: true }",
                STATUS_UNSUPPORTED, "TensorRT");
    PARSE_FAILS("batch_input [ { kind: BATCH_ELEMENT_COUNT } ]", STATUS_UNSUPPORTED, "batch inputs");
    PARSE_FAILS("input [ { name: \"a\" }, ]", STATUS_INVALID_ARGUMENT, "expected '{'");

    /* deep nesting is refused, not a stack overflow */
    char deep[1024] = "";
    for (int i = 0; i < 100; i++) strcat(deep, "a{");
    PARSE_FAILS(deep, STATUS_INVALID_ARGUMENT, "nested deeper than 64");
}

/* Ignored fields leave a note in the log; parameters only at debug level. */
static void test_log_notes(void) {
    FILE *tmp = tmpfile();
    if (!tmp) return;
    log_set_fd(fileno(tmp));
    model_config *c = parse_ok("optimization { graph { level: 1 } }\n"
                               "parameters { key: \"a\" value: { string_value: \"b\" } }\n"
                               "instance_group { kind: KIND_GPU }\n");
    model_config_release(c);
    log_set_fd(-1);
    char buf[4096] = "";
    fseek(tmp, 0, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, tmp);
    buf[n] = '\0';
    CHECK(strstr(buf, "INFO test:1:1: ignoring 'optimization' in ModelConfig") != NULL);
    CHECK(strstr(buf, "WARN test:3:24: instance_group kind KIND_GPU") != NULL);
    CHECK(strstr(buf, "parameters") == NULL);
    fclose(tmp);
}

static void test_load_file(void) {
    model_config *c = NULL;
    errinfo err;
    CHECK_ERR(model_config_load("/nonexistent/config.pbtxt", &c, &err), STATUS_IO_ERROR, err.msg,
              "/nonexistent/config.pbtxt: cannot open");
    char path[] = "/tmp/inferd_cfg_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return;
    const char text[] = "name: \"m\"\nmax_batch_size: x\n";
    CHECK(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
    close(fd);
    char want[128];
    snprintf(want, sizeof want, "%s:2:17: field 'max_batch_size'", path);
    CHECK_ERR(model_config_load(path, &c, &err), STATUS_INVALID_ARGUMENT, err.msg, want);
    unlink(path);
}

static void test_pbtxt_values(void) {
    pbtxt_doc *d = NULL;
    errinfo err;
    const char text[] = "a: -0x10 b: 1e3 c: -inf d: True e: 017 f: 2.5f g: \"x\\000y\"";
    CHECK_OK_MSG(pbtxt_parse(text, sizeof text - 1, &d, &err), err.msg);
    if (!d) return;
    const pbtxt_field *f = pbtxt_root(d);
    int64_t i;
    double x;
    bool b;
    const char *s;
    CHECK_OK_MSG(pbtxt_int64(f, INT64_MIN, INT64_MAX, &i, &err), err.msg);
    CHECK(i == -16);
    f = f->next;
    CHECK_OK_MSG(pbtxt_double(f, &x, &err), err.msg);
    CHECK(x == 1000.0);
    CHECK_ERR(pbtxt_int64(f, 0, 10, &i, &err), STATUS_INVALID_ARGUMENT, err.msg, "expected an integer");
    f = f->next;
    CHECK_OK_MSG(pbtxt_double(f, &x, &err), err.msg);
    CHECK(x < -1e308);
    f = f->next;
    CHECK_OK_MSG(pbtxt_bool(f, &b, &err), err.msg);
    CHECK(b);
    f = f->next;
    CHECK_OK_MSG(pbtxt_int64(f, 0, 100, &i, &err), err.msg);
    CHECK(i == 15); /* octal, as protobuf reads it */
    f = f->next;
    CHECK_OK_MSG(pbtxt_double(f, &x, &err), err.msg);
    CHECK(x == 2.5);
    f = f->next;
    CHECK(f->len == 3);
    CHECK_ERR(pbtxt_string(f, &s, &err), STATUS_INVALID_ARGUMENT, err.msg, "NUL byte");
    CHECK_ERR(pbtxt_int64(f, 0, 1, &i, &err), STATUS_INVALID_ARGUMENT, err.msg, "1:51: field 'g'");
    pbtxt_destroy(d);
}

int main(void) {
    log_set_fd(-1);
    test_densenet();
    test_full();
    test_syntax_variants();
    test_errors();
    test_log_notes();
    test_load_file();
    test_pbtxt_values();
    return test_report("test_model_config");
}
