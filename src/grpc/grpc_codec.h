/* grpc_codec.h -- KServe v2 gRPC inference messages <-> serve_request.
 *
 * The gRPC twin of the REST frontend's JSON parsing (kserve_infer.c): turns
 * a serialized inference.ModelInferRequest into a serve_request that the
 * serving core validates and runs, and a completed request back into an
 * inference.ModelInferResponse. It knows protobuf-c and the serving core,
 * not gRPC, so the fuzzer drives it without a server.
 *
 * Tensor data: `raw_input_contents` (what tritonclient sends) and the typed
 * `contents` fields whose element type matches the tensor's (INT32, INT64,
 * UINT32, UINT64, FP32, FP64) are borrowed from the unpacked message
 * without a copy; narrower types (BOOL, INT8/16, UINT8/16, which travel as
 * 32-bit protobuf fields) are converted with a range check; BYTES elements
 * become engine_strings pointing into the message. The message therefore
 * lives as long as the request. Answers use raw_output_contents when the
 * request used raw inputs (or an output has no typed field, as FP16), and
 * typed contents otherwise, so a JSON client (grpcurl) reads numbers.
 *
 *     rpc_infer_input in;  errinfo err;
 *     if (rpc_infer_decode(bytes, len, &in, &err)) reply(err);  // in is clean
 *     serve_request_set_callback(in.req, done, ctx);
 *     serve_manager_submit(mm, in.req);
 *     ...
 *     // in done(): build, pack and send the answer, then free both
 *     rpc_infer_output out;
 *     if (rpc_infer_encode(r, in.raw, &out, &err) == STATUS_OK)
 *         send(&out.msg.base);
 *     rpc_infer_output_free(&out);
 *     serve_request_destroy(in.req);       // before the message it borrows
 *     rpc_infer_input_free_message(&in);
 *
 * Errors name the input and what was expected, in the REST frontend's words
 * where the check is the same; the serving core's validation then applies
 * to both frontends alike. All functions are thread-safe (no shared state). */
#ifndef INFERD_GRPC_CODEC_H
#define INFERD_GRPC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "grpc_arena.h"
#include "grpc_service.pb-c.h"
#include "serve/infer_request.h"

/* A decoded request: the serve_request and the message its inputs borrow. */
typedef struct rpc_infer_input {
    Inference__ModelInferRequest *msg;
    serve_request *req;
    bool raw;                 /* the client sent raw_input_contents */
} rpc_infer_input;

/* Unpacks and converts. On failure nothing is left allocated (in is
 * zeroed) and err says what was wrong: STATUS_INVALID_ARGUMENT for a bad
 * message or tensor, STATUS_UNSUPPORTED for a parameter inferd cannot
 * honour, STATUS_NO_MEMORY. */
status rpc_infer_decode(const uint8_t *data, size_t len, rpc_infer_input *in, errinfo *err);
/* Frees the unpacked message (destroy in->req first). Accepts a zeroed in. */
void rpc_infer_input_free_message(rpc_infer_input *in);

/* A response message over the request's outputs (borrowed, not copied:
 * pack it before destroying the request) plus the storage it points to. */
typedef struct rpc_infer_output {
    Inference__ModelInferResponse msg;
    rpc_arena arena;          /* every allocation behind msg */
    char version[24];
} rpc_infer_output;

/* Builds the response of a request completed with STATUS_OK. `raw`: use
 * raw_output_contents (forced when an output has no typed field). Fails
 * only with STATUS_NO_MEMORY; out is then freed. */
status rpc_infer_encode(const serve_request *r, bool raw, rpc_infer_output *out, errinfo *err);
void rpc_infer_output_free(rpc_infer_output *out);   /* accepts a zeroed out */

/* "3" -> 3, "" -> 0 (the latest ready version). Anything else is
 * STATUS_INVALID_ARGUMENT with the REST frontend's message. */
status rpc_parse_version(const char *text, int64_t *out, errinfo *err);

#endif
