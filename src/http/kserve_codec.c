/* kserve_codec.c -- KServe v2 infer request bodies in, response bodies out. */
#include "kserve_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/kserve_binary.h"
#include "http/kserve_data.h"
#include "serve/datatype.h"

/* Where parsing is in the body's binary section. */
typedef struct parse_ctx {
    serve_request *r;
    const unsigned char *bin;   /* after the JSON header */
    size_t bin_len, bin_off;
    bool has_header;            /* Inference-Header-Content-Length was sent */
    errinfo *err;
} parse_ctx;

static status bad(errinfo *err, const char *fmt, const char *name) {
    return status_fail(err, STATUS_INVALID_ARGUMENT, fmt, name);
}

/* "parameters" must be an object when present; NULL when absent. */
static status get_parameters(const json_value *owner, const char *what, const char *name,
                             const json_value **out, errinfo *err) {
    *out = json_object_get(owner, "parameters");
    if (*out && json_type_of(*out) != JSON_OBJECT)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "%s%s%s: 'parameters' must be an object",
                           what, name ? name : "", name ? "'" : "");
    return STATUS_OK;
}

static status parse_shape(const json_value *v, const char *name, engine_shape *shape,
                          errinfo *err) {
    if (json_type_of(v) != JSON_ARRAY)
        return bad(err, "input '%s': 'shape' must be an array of non-negative integers", name);
    int64_t rank = json_array_size(v);
    if (rank > ENGINE_MAX_RANK)
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "input '%s': shape has %lld dims, at most %d are supported", name,
                           (long long)rank, ENGINE_MAX_RANK);
    shape->rank = (int)rank;
    for (int i = 0; i < shape->rank; i++) {
        int64_t d;
        if (!json_as_int64(json_array_at(v, i), &d) || d < 0)
            return bad(err, "input '%s': 'shape' must be an array of non-negative integers", name);
        shape->dims[i] = d;
    }
    if (engine_shape_numel(shape) < 0)
        return bad(err, "input '%s': shape has too many elements", name);
    return STATUS_OK;
}

/* An input whose parameters say "binary_data_size": its bytes are the next
 * ones of the binary section. */
static status binary_input(parse_ctx *c, const char *name, engine_dtype dt,
                           const engine_shape *shape, const json_value *size_v) {
    int64_t size;
    if (!json_as_int64(size_v, &size) || size < 0)
        return bad(c->err, "input '%s': 'binary_data_size' must be a non-negative integer", name);
    if (!c->has_header)
        return bad(c->err, "input '%s' has binary_data_size, but the request has no "
                   KSERVE_HEADER_LENGTH " header to say where the JSON ends", name);
    if ((uint64_t)size > c->bin_len - c->bin_off)
        return status_fail(c->err, STATUS_INVALID_ARGUMENT,
                           "input '%s': binary_data_size %lld runs past the end of the body "
                           "(%zu bytes of binary data left)", name, (long long)size,
                           c->bin_len - c->bin_off);
    const unsigned char *p = c->bin + c->bin_off;
    c->bin_off += (size_t)size;
    return kserve_binary_add_input(c->r, name, dt, shape, p, (size_t)size, c->err);
}

static status parse_input(parse_ctx *c, const json_value *in) {
    errinfo *err = c->err;
    if (json_type_of(in) != JSON_OBJECT)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "each entry of 'inputs' must be an object");
    const char *name = json_get_string(json_object_get(in, "name"), NULL);
    if (!name)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "an input has no 'name' string");
    const char *dtname = json_get_string(json_object_get(in, "datatype"), NULL);
    if (!dtname) return bad(err, "input '%s': missing 'datatype' string", name);
    engine_dtype dt = serve_datatype_parse(dtname);
    if (dt == ENGINE_UNDEFINED)
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "input '%s': unknown datatype '%.32s' (expected BOOL, UINT8..UINT64, "
                           "INT8..INT64, FP16, BF16, FP32, FP64 or BYTES)", name, dtname);
    engine_shape shape;
    const json_value *shape_v = json_object_get(in, "shape");
    if (!shape_v) return bad(err, "input '%s': missing 'shape'", name);
    status st = parse_shape(shape_v, name, &shape, err);
    if (st) return st;
    const json_value *params, *data = json_object_get(in, "data");
    if ((st = get_parameters(in, "input '", name, &params, err))) return st;
    const json_value *size_v = json_object_get(params, "binary_data_size");
    if (size_v && data)
        return bad(err, "input '%s' has both 'data' and binary_data_size: give one", name);
    if (size_v) return binary_input(c, name, dt, &shape, size_v);
    if (!data)
        return bad(err, "input '%s': missing 'data' (or a binary_data_size parameter for binary "
                   "data after the JSON)", name);
    void *buf;
    size_t nbytes;
    st = kserve_data_decode(data, dt, engine_shape_numel(&shape), name, &buf, &nbytes, err);
    if (st) return st;
    return serve_request_add_input(c->r, name, dt, &shape, buf, nbytes, true, err);
}

/* "binary_data" on a requested output: 1, 0, or -1 when not given. */
static status output_binary_flag(const json_value *out, const char *name, signed char *flag,
                                 errinfo *err) {
    const json_value *params, *v;
    status st = get_parameters(out, "output '", name, &params, err);
    if (st) return st;
    if (json_object_get(params, "classification"))
        return bad(err, "output '%s': the classification extension is not supported; ask for "
                   "the output itself", name);
    *flag = -1;
    if (!(v = json_object_get(params, "binary_data"))) return STATUS_OK;
    if (json_type_of(v) != JSON_BOOL)
        return bad(err, "output '%s': 'binary_data' must be true or false", name);
    *flag = (signed char)json_get_bool(v);
    return STATUS_OK;
}

static status parse_outputs(parse_ctx *c, const json_value *outs, kserve_infer_wire *wire) {
    if (!outs) return STATUS_OK;
    if (json_type_of(outs) != JSON_ARRAY)
        return status_fail(c->err, STATUS_INVALID_ARGUMENT, "'outputs' must be an array of objects");
    int64_t n = json_array_size(outs);
    if (n > 4096)
        return status_fail(c->err, STATUS_INVALID_ARGUMENT,
                           "'outputs' asks for %lld tensors, at most 4096 are allowed", (long long)n);
    if (!(wire->binary = malloc((size_t)n + 1)))
        return status_fail(c->err, STATUS_NO_MEMORY, "out of memory parsing 'outputs'");
    for (int64_t i = 0; i < n; i++) {
        const json_value *o = json_array_at(outs, i);
        const char *name = json_get_string(json_object_get(o, "name"), NULL);
        if (!name)
            return status_fail(c->err, STATUS_INVALID_ARGUMENT,
                               "each entry of 'outputs' must be an object with a 'name' string");
        status st = output_binary_flag(o, name, &wire->binary[i], c->err);
        if (!st) st = serve_request_add_requested_output(c->r, name, c->err);
        if (st) return st;
        wire->n_requested++;
    }
    return STATUS_OK;
}

/* Request-level "parameters": binary_data_output and Triton's "timeout"
 * (microseconds); others are accepted and ignored, as Triton does. */
static status parse_request_parameters(parse_ctx *c, const json_value *root,
                                       kserve_infer_wire *wire) {
    const json_value *params, *v;
    status st = get_parameters(root, "the request", NULL, &params, c->err);
    if (st) return st;
    if ((v = json_object_get(params, "binary_data_output"))) {
        if (json_type_of(v) != JSON_BOOL)
            return status_fail(c->err, STATUS_INVALID_ARGUMENT,
                               "'binary_data_output' must be true or false");
        wire->binary_default = json_get_bool(v);
    }
    if ((v = json_object_get(params, "timeout"))) {
        int64_t us;
        if (!json_as_int64(v, &us) || us < 0)
            return status_fail(c->err, STATUS_INVALID_ARGUMENT,
                               "'timeout' must be a non-negative integer (microseconds)");
        serve_request_set_timeout_us(c->r, (uint64_t)us);
    }
    return STATUS_OK;
}

static status parse_json(parse_ctx *c, const json_value *root, kserve_infer_wire *wire) {
    errinfo *err = c->err;
    if (json_type_of(root) != JSON_OBJECT)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "the request body must be a JSON object");
    const json_value *id = json_object_get(root, "id");
    if (id) {
        const char *s = json_get_string(id, NULL);
        if (!s) return status_fail(err, STATUS_INVALID_ARGUMENT, "'id' must be a string");
        status st = serve_request_set_id(c->r, s, err);
        if (st) return st;
    }
    status st = parse_request_parameters(c, root, wire);
    if (st) return st;
    const json_value *inputs = json_object_get(root, "inputs");
    if (json_type_of(inputs) != JSON_ARRAY || json_array_size(inputs) == 0)
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "the request needs an 'inputs' array with at least one tensor");
    for (int64_t i = 0; i < json_array_size(inputs); i++)
        if ((st = parse_input(c, json_array_at(inputs, i)))) return st;
    if (c->bin_off != c->bin_len)
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "%zu bytes of binary data follow the JSON header, but the inputs' "
                           "binary_data_size parameters account for %zu", c->bin_len, c->bin_off);
    return parse_outputs(c, json_object_get(root, "outputs"), wire);
}

status kserve_request_parse(const char *body, size_t len, const char *header_length,
                            const serve_model_meta *meta, serve_request *r,
                            kserve_infer_wire *wire, errinfo *err) {
    memset(wire, 0, sizeof *wire);
    size_t json_len;
    status st = kserve_binary_header_length(header_length, len, &json_len, err);
    if (st) return st;
    if (header_length && json_len == 0) {
        if (!meta)
            return status_fail(err, STATUS_INTERNAL, "raw binary data needs the model's metadata");
        wire->binary_default = true; /* every output comes back binary */
        return kserve_binary_add_raw_input(r, meta, (const unsigned char *)body, len, err);
    }
    parse_ctx c = {.r = r, .bin = (const unsigned char *)body + json_len, .bin_len = len - json_len,
                   .has_header = header_length != NULL, .err = err};
    st = json_parse(body, json_len, NULL, &wire->doc, err);
    if (st) {
        /* Binary tensors sent without the header look like trailing junk. */
        if (!header_length && err && strstr(err->msg, "end of input after the value"))
            status_wrap(err, st, "malformed JSON in request body (binary data after the JSON "
                        "needs an " KSERVE_HEADER_LENGTH " header)");
        else status_wrap(err, st, "malformed JSON in request body");
        return st;
    }
    if ((st = parse_json(&c, json_root(wire->doc), wire))) kserve_infer_wire_deinit(wire);
    return st;
}

void kserve_infer_wire_deinit(kserve_infer_wire *wire) {
    json_doc_free(wire->doc);
    free(wire->binary);
    memset(wire, 0, sizeof *wire);
}

/* --- responses -------------------------------------------------------------------------- */

static bool output_is_binary(const kserve_infer_wire *wire, int i) {
    if (i < wire->n_requested && wire->binary[i] >= 0) return wire->binary[i];
    return wire->binary_default;
}

static status write_output(json_writer *w, const serve_tensor *t, size_t binary_size,
                           errinfo *err) {
    jw_begin_object(w);
    jw_key(w, "name");
    jw_cstring(w, t->name);
    jw_key(w, "datatype");
    jw_cstring(w, serve_datatype_name(t->dtype));
    jw_key(w, "shape");
    jw_begin_array(w);
    for (int d = 0; d < t->shape.rank; d++) jw_int64(w, t->shape.dims[d]);
    jw_end_array(w);
    if (binary_size != SIZE_MAX) {
        jw_key(w, "parameters");
        jw_begin_object(w);
        jw_key(w, "binary_data_size");
        jw_uint64(w, binary_size);
        jw_end_object(w);
    } else {
        jw_key(w, "data");
        status st = kserve_data_encode(w, t->name, t->dtype, t->data, engine_shape_numel(&t->shape), err);
        if (st) return st;
    }
    jw_end_object(w);
    return STATUS_OK;
}

static void write_header_fields(json_writer *w, const serve_request *r) {
    char version[32];
    snprintf(version, sizeof version, "%lld", (long long)serve_request_model_version(r));
    jw_key(w, "model_name");
    jw_cstring(w, serve_request_model(r));
    jw_key(w, "model_version");
    jw_cstring(w, version);
    if (serve_request_id(r)[0]) {
        jw_key(w, "id");
        jw_cstring(w, serve_request_id(r));
    }
}

/* Binary sizes per output (SIZE_MAX = as JSON) and their sum. */
static status plan_binary(const serve_request *r, const kserve_infer_wire *wire, size_t *sizes,
                          size_t *total, errinfo *err) {
    *total = 0;
    for (int i = 0; i < serve_request_output_count(r); i++) {
        const serve_tensor *t = serve_request_output(r, i);
        sizes[i] = SIZE_MAX;
        if (!output_is_binary(wire, i)) continue;
        size_t n = kserve_binary_size(t);
        if (n == SIZE_MAX || n > SIZE_MAX / 2 - *total)
            return status_fail(err, STATUS_TOO_LARGE, "output '%s' is too large to send", t->name);
        sizes[i] = n;
        *total += n;
    }
    return STATUS_OK;
}

status kserve_response_write(const serve_request *r, const kserve_infer_wire *wire, char **body,
                             size_t *len, size_t *json_len, errinfo *err) {
    int n = serve_request_output_count(r);
    size_t total = 0, *sizes = malloc(((size_t)n + 1) * sizeof *sizes);
    json_writer w;
    jw_init(&w);
    status st = sizes ? plan_binary(r, wire, sizes, &total, err)
                      : status_fail(err, STATUS_NO_MEMORY, "out of memory writing the response");
    if (st) goto fail;
    jw_begin_object(&w);
    write_header_fields(&w, r);
    jw_key(&w, "outputs");
    jw_begin_array(&w);
    for (int i = 0; i < n && !st; i++) st = write_output(&w, serve_request_output(r, i), sizes[i], err);
    if (st) goto fail;
    jw_end_array(&w);
    jw_end_object(&w);
    size_t jlen;
    char *text = jw_finish(&w, &jlen), *all = text;
    if (text && total) {
        /* Binary outputs follow the JSON in output order. */
        if (!(all = realloc(text, jlen + total))) free(text);
        size_t off = jlen;
        for (int i = 0; all && i < n; i++) {
            if (sizes[i] == SIZE_MAX) continue;
            kserve_binary_write(serve_request_output(r, i), (unsigned char *)all + off);
            off += sizes[i];
        }
    }
    free(sizes);
    if (!all) return status_fail(err, STATUS_NO_MEMORY, "out of memory writing the response");
    *body = all;
    *json_len = jlen;
    *len = jlen + total;
    return STATUS_OK;
fail:
    jw_deinit(&w);
    free(sizes);
    return st;
}
