/* kserve_infer.c -- POST /v2/models/{m}[/versions/{v}]/infer.
 *
 * rest_submit.c looks the model version up, submits and answers; this file
 * says how the body becomes a serve_request (kserve_codec.h: JSON tensors,
 * binary tensors after a JSON header, or one raw binary input) and how the
 * outputs become the answer. The parsed JSON and the HTTP body live until
 * the answer is written: inputs point into both. */
#include <stdio.h>

#include "http/kserve_binary.h"
#include "http/kserve_codec.h"
#include "http/kserve_rest.h"
#include "http/rest_submit.h"

static status infer_parse(const http_request *req, const serve_model_meta *meta,
                          serve_request *r, void *wire, errinfo *err) {
    return kserve_request_parse(req->body, req->body_len,
                                http_request_header(req, KSERVE_HEADER_LENGTH), meta, r, wire, err);
}

static void respond_outputs(http_exchange *ex, const serve_request *r, void *wire) {
    char *body, hdr[80];
    size_t len, json_len;
    errinfo err;
    status st = kserve_response_write(r, wire, &body, &len, &json_len, &err);
    if (st) {
        kserve_respond_error(ex, st, err.msg);
        return;
    }
    if (json_len == len) {
        kserve_respond_json(ex, 200, body, len);
        return;
    }
    snprintf(hdr, sizeof hdr, KSERVE_HEADER_LENGTH ": %zu\r\n", json_len);
    http_exchange_respond(ex, 200, "application/octet-stream", hdr, body, len);
}

static void infer_wire_deinit(void *wire) { kserve_infer_wire_deinit(wire); }

static const rest_codec kserve_codec = {
    .what = "infer",
    .wire_size = sizeof(kserve_infer_wire),
    .parse = infer_parse,
    .respond = respond_outputs,
    .wire_deinit = infer_wire_deinit,
};

void kserve_infer(kserve_rest *api, http_exchange *ex, const http_request *req,
                  const char *model, int64_t version) {
    rest_submit(api->models, ex, req, model, version, &kserve_codec);
}
