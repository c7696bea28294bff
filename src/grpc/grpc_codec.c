/* grpc_codec.c -- inference.ModelInferRequest -> serve_request, and a
 * completed serve_request -> inference.ModelInferResponse. */
#include "grpc_codec.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/datatype.h"

static const char *str(const char *s) { return s ? s : ""; }

/* Where an empty tensor's data points: protobuf-c leaves empty fields NULL,
 * and backends may memcpy from the pointer even for zero bytes. */
static const uint64_t no_elements;

static const void *data_or_empty(const void *p) { return p ? p : &no_elements; }

static status invalid(errinfo *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static status invalid(errinfo *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    status st = status_vfail(err, STATUS_INVALID_ARGUMENT, fmt, ap);
    va_end(ap);
    return st;
}

status rpc_parse_version(const char *text, int64_t *out, errinfo *err) {
    text = str(text);
    *out = 0;
    if (!text[0]) return STATUS_OK;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end || v <= 0 || text[0] == '+' || text[0] == '-' || text[0] == ' ')
        return invalid(err, "model version '%.64s' is not a positive integer", text);
    *out = v;
    return STATUS_OK;
}

/* --- where each datatype travels in InferTensorContents ----------------------- */

typedef enum contents_field {
    F_BOOL, F_INT32, F_INT64, F_UINT32, F_UINT64, F_FP32, F_FP64, F_BYTES, F__COUNT
} contents_field;

#define CONTENTS_FIELD(member) \
    {#member, offsetof(Inference__InferTensorContents, n_##member), \
     offsetof(Inference__InferTensorContents, member)}

static const struct {
    const char *name;
    size_t count_offset, data_offset;
} fields[F__COUNT] = {
    [F_BOOL] = CONTENTS_FIELD(bool_contents),     [F_INT32] = CONTENTS_FIELD(int_contents),
    [F_INT64] = CONTENTS_FIELD(int64_contents),   [F_UINT32] = CONTENTS_FIELD(uint_contents),
    [F_UINT64] = CONTENTS_FIELD(uint64_contents), [F_FP32] = CONTENTS_FIELD(fp32_contents),
    [F_FP64] = CONTENTS_FIELD(fp64_contents),     [F_BYTES] = CONTENTS_FIELD(bytes_contents),
};

static size_t *field_count(Inference__InferTensorContents *c, contents_field f) {
    return (size_t *)((char *)c + fields[f].count_offset);
}
static void **field_data(Inference__InferTensorContents *c, contents_field f) {
    return (void **)((char *)c + fields[f].data_offset);
}
static size_t field_count_of(const Inference__InferTensorContents *c, contents_field f) {
    return c ? *field_count((Inference__InferTensorContents *)c, f) : 0;
}

/* Narrowing (request) and widening (response) conversions between a
 * tensor's element type and its protobuf field's. A NULL converter means the
 * two have the same representation and the data is shared. */
typedef status (*narrow_fn)(const void *src, size_t n, void *dst, const char *input,
                            engine_dtype dt, errinfo *err);
typedef void (*widen_fn)(const void *src, size_t n, void *dst);

static status out_of_range(errinfo *err, const char *input, size_t i, int64_t v, engine_dtype dt,
                           int64_t lo, int64_t hi) {
    return invalid(err, "input '%s': element %zu is %lld, expected an integer in %lld..%lld for "
                   "datatype %s", input, i, (long long)v, (long long)lo, (long long)hi,
                   serve_datatype_name(dt));
}

#define CONVERSIONS(name, SRC, DST, LO, HI)                                                 \
    static status narrow_##name(const void *src, size_t n, void *dst, const char *input,  \
                                engine_dtype dt, errinfo *err) {                          \
        const SRC *s = src;                                                                \
        DST *d = dst;                                                                      \
        for (size_t i = 0; i < n; i++) {                                                   \
            int64_t v = (int64_t)s[i];                                                     \
            if (v < (LO) || v > (HI)) return out_of_range(err, input, i, v, dt, LO, HI);   \
            d[i] = (DST)v;                                                                 \
        }                                                                                  \
        return STATUS_OK;                                                                  \
    }                                                                                      \
    static void widen_##name(const void *src, size_t n, void *dst) {                       \
        const DST *s = src;                                                                \
        SRC *d = dst;                                                                      \
        for (size_t i = 0; i < n; i++) d[i] = (SRC)s[i];                                   \
    }

CONVERSIONS(bool, protobuf_c_boolean, uint8_t, 0, 1)
CONVERSIONS(int8, int32_t, int8_t, INT8_MIN, INT8_MAX)
CONVERSIONS(int16, int32_t, int16_t, INT16_MIN, INT16_MAX)
CONVERSIONS(uint8, uint32_t, uint8_t, 0, UINT8_MAX)
CONVERSIONS(uint16, uint32_t, uint16_t, 0, UINT16_MAX)

typedef struct typed_rule {
    engine_dtype dt;
    contents_field field;
    size_t field_elem;          /* bytes per element in the protobuf field */
    narrow_fn narrow;
    widen_fn widen;
} typed_rule;

static const typed_rule rules[] = {
    {ENGINE_BOOL, F_BOOL, sizeof(protobuf_c_boolean), narrow_bool, widen_bool},
    {ENGINE_INT8, F_INT32, sizeof(int32_t), narrow_int8, widen_int8},
    {ENGINE_INT16, F_INT32, sizeof(int32_t), narrow_int16, widen_int16},
    {ENGINE_INT32, F_INT32, sizeof(int32_t), NULL, NULL},
    {ENGINE_INT64, F_INT64, sizeof(int64_t), NULL, NULL},
    {ENGINE_UINT8, F_UINT32, sizeof(uint32_t), narrow_uint8, widen_uint8},
    {ENGINE_UINT16, F_UINT32, sizeof(uint32_t), narrow_uint16, widen_uint16},
    {ENGINE_UINT32, F_UINT32, sizeof(uint32_t), NULL, NULL},
    {ENGINE_UINT64, F_UINT64, sizeof(uint64_t), NULL, NULL},
    {ENGINE_FLOAT, F_FP32, sizeof(float), NULL, NULL},
    {ENGINE_DOUBLE, F_FP64, sizeof(double), NULL, NULL},
    {ENGINE_STRING, F_BYTES, sizeof(ProtobufCBinaryData), NULL, NULL},
};

/* NULL for types without a typed field (FP16, BF16): raw contents only. */
static const typed_rule *rule_of(engine_dtype dt) {
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (rules[i].dt == dt) return &rules[i];
    return NULL;
}

/* --- request ------------------------------------------------------------------ */

static status input_shape(const Inference__ModelInferRequest__InferInputTensor *t, engine_shape *s,
                          errinfo *err) {
    char buf[160];
    if (t->n_shape > ENGINE_MAX_RANK)
        return invalid(err, "input '%s': shape has %zu dims, at most %d are supported", t->name,
                       t->n_shape, ENGINE_MAX_RANK);
    s->rank = (int)t->n_shape;
    for (int i = 0; i < s->rank; i++) s->dims[i] = t->shape[i];
    for (int i = 0; i < s->rank; i++)
        if (s->dims[i] < 0)
            return invalid(err, "input '%s': dimensions must not be negative, got %s", t->name,
                           serve_dims_format(buf, sizeof buf, s->rank, s->dims));
    if (engine_shape_numel(s) < 0)
        return invalid(err, "input '%s': shape has too many elements", t->name);
    return STATUS_OK;
}

static uint32_t read_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Triton's raw BYTES layout: each element as a 4-byte little-endian length
 * followed by that many bytes. */
static status add_raw_bytes(serve_request *r, const char *name, const engine_shape *shape,
                            int64_t numel, const ProtobufCBinaryData *raw, errinfo *err) {
    if ((uint64_t)numel > raw->len / 4)
        return invalid(err, "input '%s': raw BYTES data of %zu bytes cannot hold the %lld "
                       "elements the shape needs (each is a 4-byte length and its bytes)", name,
                       raw->len, (long long)numel);
    engine_string *s = malloc((size_t)(numel ? numel : 1) * sizeof *s);
    if (!s) return status_fail(err, STATUS_NO_MEMORY, "input '%s': out of memory", name);
    size_t off = 0;
    for (int64_t i = 0; i < numel; i++) {
        size_t left = raw->len - off;
        if (left < 4 || read_le32(raw->data + off) > left - 4) {
            free(s);
            return invalid(err, "input '%s': raw BYTES data ends inside element %lld of %lld "
                           "(each element is a 4-byte little-endian length and its bytes)",
                           name, (long long)i, (long long)numel);
        }
        s[i].ptr = (const char *)raw->data + off + 4;
        s[i].len = read_le32(raw->data + off);
        off += 4 + s[i].len;
    }
    if (off != raw->len) {
        free(s);
        return invalid(err, "input '%s': raw BYTES data has %zu bytes left over after the %lld "
                       "elements the shape needs", name, raw->len - off, (long long)numel);
    }
    return serve_request_add_input(r, name, ENGINE_STRING, shape, s,
                                   (size_t)numel * sizeof *s, true, err);
}

static status count_mismatch(const Inference__InferTensorContents *c, const char *name,
                             const typed_rule *rule, size_t got, int64_t numel, errinfo *err) {
    for (int f = 0; f < F__COUNT; f++)
        if ((contents_field)f != rule->field && field_count_of(c, (contents_field)f))
            return invalid(err, "input '%s': data has %zu elements, but the shape needs %lld "
                           "(datatype %s takes them in contents.%s, not contents.%s)", name, got,
                           (long long)numel, serve_datatype_name(rule->dt),
                           fields[rule->field].name, fields[f].name);
    return invalid(err, "input '%s': data has %zu elements, but the shape needs %lld", name, got,
                   (long long)numel);
}

static status add_typed(serve_request *r, const char *name, engine_dtype dt,
                        const engine_shape *shape, int64_t numel,
                        const Inference__InferTensorContents *c, errinfo *err) {
    const typed_rule *rule = rule_of(dt);
    if (!rule)
        return invalid(err, "input '%s': datatype %s has no typed contents field; send it in "
                       "raw_input_contents", name, serve_datatype_name(dt));
    size_t n = field_count_of(c, rule->field);
    if ((uint64_t)numel != n) return count_mismatch(c, name, rule, n, numel, err);
    void *src = c ? *field_data((Inference__InferTensorContents *)c, rule->field) : NULL;
    size_t elem = serve_datatype_size(dt);
    if (dt == ENGINE_STRING) {
        const ProtobufCBinaryData *b = src;
        engine_string *s = malloc((n ? n : 1) * sizeof *s);
        if (!s) return status_fail(err, STATUS_NO_MEMORY, "input '%s': out of memory", name);
        for (size_t i = 0; i < n; i++) s[i] = (engine_string){(const char *)b[i].data, b[i].len};
        return serve_request_add_input(r, name, dt, shape, s, n * elem, true, err);
    }
    if (!rule->narrow)
        return serve_request_add_input(r, name, dt, shape, data_or_empty(src), n * elem, false, err);
    void *dst = malloc(n ? n * elem : 1);
    if (!dst) return status_fail(err, STATUS_NO_MEMORY, "input '%s': out of memory", name);
    status st = rule->narrow(src, n, dst, name, dt, err);
    if (st) {
        free(dst);
        return st;
    }
    return serve_request_add_input(r, name, dt, shape, dst, n * elem, true, err);
}

static bool has_contents(const Inference__InferTensorContents *c) {
    for (int f = 0; f < F__COUNT; f++)
        if (field_count_of(c, (contents_field)f)) return true;
    return false;
}

static status add_input(serve_request *r, const Inference__ModelInferRequest__InferInputTensor *t,
                        const ProtobufCBinaryData *raw, errinfo *err) {
    const char *name = str(t->name);
    if (!name[0]) return invalid(err, "an input has no name");
    const char *dtname = str(t->datatype);
    engine_dtype dt = serve_datatype_parse(dtname);
    if (!dtname[0]) return invalid(err, "input '%s': missing datatype", name);
    if (dt == ENGINE_UNDEFINED)
        return invalid(err, "input '%s': unknown datatype '%.32s' (expected BOOL, UINT8..UINT64, "
                       "INT8..INT64, FP16, FP32, FP64 or BYTES)", name, dtname);
    engine_shape shape;
    status st = input_shape(t, &shape, err);
    if (st) return st;
    int64_t numel = engine_shape_numel(&shape);
    if (!raw) return add_typed(r, name, dt, &shape, numel, t->contents, err);
    if (has_contents(t->contents))
        return invalid(err, "input '%s': both contents and raw_input_contents are given; use one "
                       "of them for all inputs", name);
    if (dt == ENGINE_STRING) return add_raw_bytes(r, name, &shape, numel, raw, err);
    return serve_request_add_input(r, name, dt, &shape, data_or_empty(raw->data), raw->len, false,
                                   err);
}

static status add_inputs(serve_request *r, const Inference__ModelInferRequest *m, bool *raw,
                         errinfo *err) {
    if (m->n_inputs == 0) return invalid(err, "the request needs at least one input tensor");
    *raw = m->n_raw_input_contents > 0;
    if (*raw && m->n_raw_input_contents != m->n_inputs)
        return invalid(err, "raw_input_contents has %zu entries but the request has %zu inputs "
                       "(give one per input, in the order of 'inputs')",
                       m->n_raw_input_contents, m->n_inputs);
    for (size_t i = 0; i < m->n_inputs; i++) {
        status st = add_input(r, m->inputs[i], *raw ? &m->raw_input_contents[i] : NULL, err);
        if (st) return st;
    }
    return STATUS_OK;
}

static status add_outputs(serve_request *r, const Inference__ModelInferRequest *m, errinfo *err) {
    for (size_t i = 0; i < m->n_outputs; i++) {
        const Inference__ModelInferRequest__InferRequestedOutputTensor *o = m->outputs[i];
        const char *name = str(o->name);
        if (!name[0]) return invalid(err, "each requested output needs a name");
        for (size_t k = 0; k < o->n_parameters; k++)
            if (!strcmp(str(o->parameters[k]->key), "classification"))
                return status_fail(err, STATUS_UNSUPPORTED, "output '%s': the classification "
                                   "extension is not supported", name);
        status st = serve_request_add_requested_output(r, name, err);
        if (st) return st;
    }
    return STATUS_OK;
}

/* Request parameters: Triton's "timeout" (queue timeout, microseconds) is
 * honoured; others (priority, ...) do not change what inferd does. */
static status apply_parameters(serve_request *r, const Inference__ModelInferRequest *m,
                               errinfo *err) {
    for (size_t i = 0; i < m->n_parameters; i++) {
        const Inference__ModelInferRequest__ParametersEntry *p = m->parameters[i];
        if (strcmp(str(p->key), "timeout")) continue;
        const Inference__InferParameter *v = p->value;
        int64_t us = -1;
        if (v && v->parameter_choice_case == INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM)
            us = v->int64_param;
        else if (v && v->parameter_choice_case ==
                 INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_UINT64_PARAM &&
                 v->uint64_param <= INT64_MAX)
            us = (int64_t)v->uint64_param;
        if (us < 0)
            return invalid(err, "parameter 'timeout' must be a non-negative integer "
                           "(microseconds)");
        serve_request_set_timeout_us(r, (uint64_t)us);
    }
    return STATUS_OK;
}

status rpc_infer_decode(const uint8_t *data, size_t len, rpc_infer_input *in, errinfo *err) {
    status st;
    int64_t version;
    memset(in, 0, sizeof *in);
    in->msg = inference__model_infer_request__unpack(NULL, len, data);
    if (!in->msg)
        return invalid(err, "malformed inference.ModelInferRequest message (protobuf decoding "
                       "failed)");
    const Inference__ModelInferRequest *m = in->msg;
    if (!str(m->model_name)[0]) {
        st = invalid(err, "the request has no model_name");
        goto fail;
    }
    st = rpc_parse_version(m->model_version, &version, err);
    if (!st) st = serve_request_create(m->model_name, version, &in->req, err);
    if (!st && str(m->id)[0]) st = serve_request_set_id(in->req, m->id, err);
    if (!st) st = apply_parameters(in->req, m, err);
    if (!st) st = add_inputs(in->req, m, &in->raw, err);
    if (!st) st = add_outputs(in->req, m, err);
    if (st) goto fail;
    return STATUS_OK;
fail:
    serve_request_destroy(in->req);
    rpc_infer_input_free_message(in);
    memset(in, 0, sizeof *in);
    return st;
}

void rpc_infer_input_free_message(rpc_infer_input *in) {
    if (in->msg) inference__model_infer_request__free_unpacked(in->msg, NULL);
    in->msg = NULL;
}

/* --- response ----------------------------------------------------------------- */

static void *out_alloc(rpc_infer_output *out, size_t n) { return rpc_arena_alloc(&out->arena, n); }

static bool encode_raw_bytes(rpc_infer_output *out, const serve_tensor *t, ProtobufCBinaryData *dst) {
    const engine_string *s = t->data;
    size_t n = t->nbytes / sizeof *s, total = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i].len > UINT32_MAX || total > SIZE_MAX - 4 - s[i].len) return false;
        total += 4 + s[i].len;
    }
    uint8_t *p = out_alloc(out, total);
    if (!p) return false;
    dst->data = p;
    dst->len = total;
    for (size_t i = 0; i < n; i++) {
        uint32_t len = (uint32_t)s[i].len;
        for (int b = 0; b < 4; b++) *p++ = (uint8_t)(len >> (8 * b));
        if (len) memcpy(p, s[i].ptr, len);
        p += len;
    }
    return true;
}

static bool encode_typed(rpc_infer_output *out, const serve_tensor *t,
                         Inference__InferTensorContents **dst) {
    const typed_rule *rule = rule_of(t->dtype);
    Inference__InferTensorContents *c = out_alloc(out, sizeof *c);
    if (!rule || !c) return false;
    inference__infer_tensor_contents__init(c);
    size_t elem = serve_datatype_size(t->dtype), n = elem ? t->nbytes / elem : 0;
    void *data = t->data;
    if (t->dtype == ENGINE_STRING) {
        const engine_string *s = t->data;
        ProtobufCBinaryData *b = out_alloc(out, n * sizeof *b);
        if (!b) return false;
        for (size_t i = 0; i < n; i++) b[i] = (ProtobufCBinaryData){s[i].len, (uint8_t *)s[i].ptr};
        data = b;
    } else if (rule->widen) {
        if (!(data = out_alloc(out, n * rule->field_elem))) return false;
        rule->widen(t->data, n, data);
    }
    *field_count(c, rule->field) = n;
    *field_data(c, rule->field) = data;
    *dst = c;
    return true;
}

static bool encode_output(rpc_infer_output *out, const serve_tensor *t, bool raw,
                          Inference__ModelInferResponse__InferOutputTensor *o,
                          ProtobufCBinaryData *raw_dst) {
    inference__model_infer_response__infer_output_tensor__init(o);
    o->name = (char *)t->name;
    o->datatype = (char *)serve_datatype_name(t->dtype);
    o->n_shape = (size_t)t->shape.rank;
    o->shape = (int64_t *)t->shape.dims;
    if (!raw) return encode_typed(out, t, &o->contents);
    if (t->dtype == ENGINE_STRING) return encode_raw_bytes(out, t, raw_dst);
    *raw_dst = (ProtobufCBinaryData){t->nbytes, t->data};
    return true;
}

status rpc_infer_encode(const serve_request *r, bool raw, rpc_infer_output *out, errinfo *err) {
    memset(out, 0, sizeof *out);
    Inference__ModelInferResponse *m = &out->msg;
    inference__model_infer_response__init(m);
    size_t n = (size_t)serve_request_output_count(r);
    for (size_t i = 0; i < n; i++)
        if (!rule_of(serve_request_output(r, (int)i)->dtype)) raw = true;
    snprintf(out->version, sizeof out->version, "%lld",
             (long long)serve_request_model_version(r));
    m->model_name = (char *)serve_request_model(r);
    m->model_version = out->version;
    m->id = (char *)serve_request_id(r);
    Inference__ModelInferResponse__InferOutputTensor *tensors = out_alloc(out, n * sizeof *tensors);
    m->outputs = out_alloc(out, n * sizeof *m->outputs);
    if (raw) m->raw_output_contents = out_alloc(out, n * sizeof *m->raw_output_contents);
    if (!tensors || !m->outputs || (raw && !m->raw_output_contents)) goto oom;
    for (size_t i = 0; i < n; i++) {
        m->outputs[i] = &tensors[i];
        if (!encode_output(out, serve_request_output(r, (int)i), raw, &tensors[i],
                           raw ? &m->raw_output_contents[i] : NULL))
            goto oom;
    }
    m->n_outputs = n;
    m->n_raw_output_contents = raw ? n : 0;
    return STATUS_OK;
oom:
    rpc_infer_output_free(out);
    return status_fail(err, STATUS_NO_MEMORY, "out of memory building the response of model '%s'",
                       serve_request_model(r));
}

void rpc_infer_output_free(rpc_infer_output *out) {
    rpc_arena_free(&out->arena);
    memset(out, 0, sizeof *out);
}
