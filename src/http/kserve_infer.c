/* kserve_infer.c -- POST /v2/models/{m}[/versions/{v}]/infer with JSON tensors.
 *
 * The I/O thread parses the body, turns each input's "data" into a dense
 * buffer and submits a serve_request; the worker that ran the model writes
 * the JSON answer and hands it to the connection. The parsed document lives
 * until then because BYTES inputs point into it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "http/kserve_data.h"
#include "http/kserve_rest.h"
#include "serve/datatype.h"
#include "serve/infer_request.h"

/* What the completion callback needs, allocated per request. */
typedef struct infer_call {
    http_exchange *ex;
    json_doc *doc;
} infer_call;

static status bad_request(errinfo *err, const char *fmt, const char *name) {
    return status_fail(err, STATUS_INVALID_ARGUMENT, fmt, name);
}

static status parse_shape(const json_value *v, const char *name, engine_shape *shape,
                          errinfo *err) {
    if (json_type_of(v) != JSON_ARRAY)
        return bad_request(err, "input '%s': 'shape' must be an array of non-negative integers", name);
    int64_t rank = json_array_size(v);
    if (rank > ENGINE_MAX_RANK)
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "input '%s': shape has %lld dims, at most %d are supported", name,
                           (long long)rank, ENGINE_MAX_RANK);
    shape->rank = (int)rank;
    for (int i = 0; i < shape->rank; i++) {
        int64_t d;
        if (!json_as_int64(json_array_at(v, i), &d) || d < 0)
            return bad_request(err, "input '%s': 'shape' must be an array of non-negative integers", name);
        shape->dims[i] = d;
    }
    if (engine_shape_numel(shape) < 0)
        return bad_request(err, "input '%s': shape has too many elements", name);
    return STATUS_OK;
}

static status parse_input(serve_request *r, const json_value *in, errinfo *err) {
    if (json_type_of(in) != JSON_OBJECT)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "each entry of 'inputs' must be an object");
    const char *name = json_get_string(json_object_get(in, "name"), NULL);
    if (!name)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "an input has no 'name' string");
    const char *dtname = json_get_string(json_object_get(in, "datatype"), NULL);
    if (!dtname) return bad_request(err, "input '%s': missing 'datatype' string", name);
    engine_dtype dt = serve_datatype_parse(dtname);
    if (dt == ENGINE_UNDEFINED)
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "input '%s': unknown datatype '%.32s' (expected BOOL, UINT8..UINT64, "
                           "INT8..INT64, FP16, FP32, FP64 or BYTES)", name, dtname);
    engine_shape shape;
    const json_value *shape_v = json_object_get(in, "shape");
    if (!shape_v) return bad_request(err, "input '%s': missing 'shape'", name);
    status st = parse_shape(shape_v, name, &shape, err);
    if (st) return st;
    const json_value *data = json_object_get(in, "data");
    if (!data) return bad_request(err, "input '%s': missing 'data'", name);
    void *buf;
    size_t nbytes;
    st = kserve_data_decode(data, dt, engine_shape_numel(&shape), name, &buf, &nbytes, err);
    if (st) return st;
    return serve_request_add_input(r, name, dt, &shape, buf, nbytes, true, err);
}

static status parse_outputs(serve_request *r, const json_value *outs, errinfo *err) {
    if (!outs) return STATUS_OK;
    if (json_type_of(outs) != JSON_ARRAY)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "'outputs' must be an array of objects");
    for (int64_t i = 0; i < json_array_size(outs); i++) {
        const char *name = json_get_string(json_object_get(json_array_at(outs, i), "name"), NULL);
        if (!name)
            return status_fail(err, STATUS_INVALID_ARGUMENT,
                               "each entry of 'outputs' must be an object with a 'name' string");
        status st = serve_request_add_requested_output(r, name, err);
        if (st) return st;
    }
    return STATUS_OK;
}

static status parse_body(serve_request *r, const json_value *root, errinfo *err) {
    if (json_type_of(root) != JSON_OBJECT)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "the request body must be a JSON object");
    const json_value *id = json_object_get(root, "id");
    if (id) {
        const char *s = json_get_string(id, NULL);
        if (!s) return status_fail(err, STATUS_INVALID_ARGUMENT, "'id' must be a string");
        status st = serve_request_set_id(r, s, err);
        if (st) return st;
    }
    const json_value *inputs = json_object_get(root, "inputs");
    if (json_type_of(inputs) != JSON_ARRAY || json_array_size(inputs) == 0)
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "the request needs an 'inputs' array with at least one tensor");
    for (int64_t i = 0; i < json_array_size(inputs); i++) {
        status st = parse_input(r, json_array_at(inputs, i), err);
        if (st) return st;
    }
    return parse_outputs(r, json_object_get(root, "outputs"), err);
}

static char *response_body(const serve_request *r, size_t *len) {
    json_writer w;
    char version[32];
    jw_init(&w);
    snprintf(version, sizeof version, "%lld", (long long)serve_request_model_version(r));
    jw_begin_object(&w);
    jw_key(&w, "model_name");
    jw_cstring(&w, serve_request_model(r));
    jw_key(&w, "model_version");
    jw_cstring(&w, version);
    if (serve_request_id(r)[0]) {
        jw_key(&w, "id");
        jw_cstring(&w, serve_request_id(r));
    }
    jw_key(&w, "outputs");
    jw_begin_array(&w);
    for (int i = 0; i < serve_request_output_count(r); i++) {
        const serve_tensor *t = serve_request_output(r, i);
        jw_begin_object(&w);
        jw_key(&w, "name");
        jw_cstring(&w, t->name);
        jw_key(&w, "datatype");
        jw_cstring(&w, serve_datatype_name(t->dtype));
        jw_key(&w, "shape");
        jw_begin_array(&w);
        for (int d = 0; d < t->shape.rank; d++) jw_int64(&w, t->shape.dims[d]);
        jw_end_array(&w);
        jw_key(&w, "data");
        kserve_data_encode(&w, t->dtype, t->data, engine_shape_numel(&t->shape));
        jw_end_object(&w);
    }
    jw_end_array(&w);
    jw_end_object(&w);
    return jw_finish(&w, len);
}

/* On the worker that ran the request (or the submitting thread if it was
 * refused at once). */
static void infer_done(serve_request *r, void *ctx) {
    infer_call *call = ctx;
    status st = serve_request_status(r);
    if (st) {
        kserve_respond_error(call->ex, st, serve_request_error(r));
    } else {
        size_t len;
        char *body = response_body(r, &len);
        kserve_respond_json(call->ex, 200, body, len);
    }
    serve_request_destroy(r);
    json_doc_free(call->doc);
    free(call);
}

void kserve_infer(kserve_rest *api, http_exchange *ex, const http_request *req,
                  const char *model, int64_t version) {
    errinfo err;
    infer_call *call = calloc(1, sizeof *call);
    serve_request *r = NULL;
    status st = STATUS_NO_MEMORY;
    if (!call) {
        snprintf(err.msg, sizeof err.msg, "out of memory");
        goto fail;
    }
    call->ex = ex;
    st = json_parse(req->body, req->body_len, NULL, &call->doc, &err);
    if (st) {
        status_wrap(&err, st, "malformed JSON in request body");
        goto fail;
    }
    st = serve_request_create(model, version, &r, &err);
    if (!st) st = parse_body(r, json_root(call->doc), &err);
    if (st) goto fail;
    serve_request_set_callback(r, infer_done, call);
    serve_manager_submit(api->models, r);
    return;
fail:
    log_verbose("infer %s: %s", model, err.msg);
    kserve_respond_error(ex, st, err.msg);
    serve_request_destroy(r);
    if (call) json_doc_free(call->doc);
    free(call);
}
