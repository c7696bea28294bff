/* kserve_binary.h -- Triton's binary tensor data extension (KServe v2 REST).
 *
 * A request body may be a JSON header followed by raw tensor bytes: the
 * Inference-Header-Content-Length header gives the JSON's length, and each
 * input whose parameters carry "binary_data_size": N takes the next N bytes,
 * in the order the inputs appear in the JSON. Elements are little-endian,
 * row-major, unpadded; BOOL is one byte (0 or 1); a BYTES element is a
 * 4-byte little-endian length followed by that many bytes. A header length
 * of 0 is the raw single-input mode: the whole body is the data of a model
 * with exactly one input, its shape deduced from the byte count. Outputs go
 * back the same way (see kserve_codec.h).
 *
 *     size_t json_len;
 *     if (kserve_binary_header_length(hdr, body_len, &json_len, &err)) ... 400 ...
 *     ... parse body[0..json_len) as JSON, then for each binary input:
 *     kserve_binary_add_input(r, "x", ENGINE_FLOAT, &shape, body + off, n, &err);
 *
 * Input bytes are not copied when their address suits the element type:
 * the request borrows them (the HTTP body outlives the request). Otherwise
 * they are copied into an aligned buffer the request owns. BYTES inputs get
 * an engine_string array (owned) pointing into the body.
 *
 * All functions are pure apart from the request they fill; any thread. */
#ifndef INFERD_KSERVE_BINARY_H
#define INFERD_KSERVE_BINARY_H

#include <stddef.h>
#include <stdint.h>

#include "serve/infer_request.h"
#include "serve/model_meta.h"

#define KSERVE_HEADER_LENGTH "Inference-Header-Content-Length"

/* Parses the Inference-Header-Content-Length value: a decimal count of at
 * most body_len. NULL (header absent) means the whole body is JSON. */
status kserve_binary_header_length(const char *value, size_t body_len, size_t *json_len,
                                   errinfo *err);

/* Adds input `name` from its binary section p[0..len): len must be exactly
 * what shape and dt need (for BYTES: numel well-formed elements). BOOL
 * bytes must be 0 or 1. p must stay valid until the request is destroyed. */
status kserve_binary_add_input(serve_request *r, const char *name, engine_dtype dt,
                               const engine_shape *shape, const unsigned char *p, size_t len,
                               errinfo *err);

/* Raw single-input mode: p[0..len) is all of the model's only input. Its
 * shape is the model's, with a batch dim of 1 when the model batches and
 * its one variable dim (at most one) deduced from len. A BYTES input must
 * have shape [1] (after the batch dim) and p is that one element's bytes,
 * without the length prefix. */
status kserve_binary_add_raw_input(serve_request *r, const serve_model_meta *meta,
                                   const unsigned char *p, size_t len, errinfo *err);

/* The size of t's binary form: nbytes, or for BYTES 4 + length per element.
 * SIZE_MAX if it does not fit a size_t. */
size_t kserve_binary_size(const serve_tensor *t);
/* Writes kserve_binary_size(t) bytes to dst. */
void kserve_binary_write(const serve_tensor *t, unsigned char *dst);

/* BYTES elements: decodes exactly `numel` length-prefixed elements filling
 * p[0..len) into a malloc'd engine_string array that points into p. The
 * error names `what` ("input 'x'") and the element. */
status kserve_bytes_decode(const unsigned char *p, size_t len, int64_t numel, const char *what,
                           engine_string **out, errinfo *err);

#endif
