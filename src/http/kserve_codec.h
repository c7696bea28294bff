/* kserve_codec.h -- KServe v2 inference bodies to and from a serve_request.
 *
 * The REST infer handler (kserve_infer.c) is HTTP glue around these two
 * functions; they need no server, so unit tests and fuzzers call them
 * directly. A request body is JSON, or a JSON header followed by binary
 * tensor data (Triton's binary tensor data extension, kserve_binary.h);
 * the answer mirrors what the client asked for: each output as JSON "data"
 * or as binary data after the JSON, per the outputs' "binary_data"
 * parameter and the request's "binary_data_output".
 *
 *     kserve_infer_wire wire;
 *     status st = kserve_request_parse(body, len, http_request_header(req,
 *                     KSERVE_HEADER_LENGTH), meta, r, &wire, &err);
 *     ... submit r; when it completes:
 *     char *out; size_t out_len, json_len;
 *     st = kserve_response_write(r, &wire, &out, &out_len, &json_len, &err);
 *     ... json_len < out_len: binary outputs follow; send
 *         Inference-Header-Content-Length: json_len ...
 *     kserve_infer_wire_deinit(&wire);      // after r is done with its inputs
 *
 * Inputs point into `body` (binary sections) and into the parsed JSON kept
 * in the wire state, so both must outlive the request's execution. */
#ifndef INFERD_KSERVE_CODEC_H
#define INFERD_KSERVE_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include "common/json.h"
#include "serve/infer_request.h"
#include "serve/model_meta.h"

/* What a parsed request leaves behind for its answer. Zeroed by parse. */
typedef struct kserve_infer_wire {
    json_doc *doc;          /* the JSON header; JSON BYTES inputs point into it */
    bool binary_default;    /* "binary_data_output", or raw single-input mode */
    int n_requested;        /* entries of binary[]: the requested outputs, in order */
    signed char *binary;    /* per requested output: 1 binary, 0 JSON, -1 unsaid */
} kserve_infer_wire;

/* Fills r (created by the caller for the model) from a request body.
 * header_length is the Inference-Header-Content-Length value or NULL;
 * "0" selects raw single-input mode, which needs the model's metadata
 * (meta may be NULL otherwise). Fails with STATUS_INVALID_ARGUMENT naming
 * what was wrong; the wire state is then already released. */
status kserve_request_parse(const char *body, size_t len, const char *header_length,
                            const serve_model_meta *meta, serve_request *r,
                            kserve_infer_wire *wire, errinfo *err);
void kserve_infer_wire_deinit(kserve_infer_wire *wire); /* accepts a zeroed one */

/* The response body for a completed, successful request: JSON, then the
 * binary outputs in order. *json_len is the JSON's length (== *len when no
 * output is binary). *body is malloc'd; the caller frees it. */
status kserve_response_write(const serve_request *r, const kserve_infer_wire *wire, char **body,
                             size_t *len, size_t *json_len, errinfo *err);

#endif
