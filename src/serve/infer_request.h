/* infer_request.h -- one inference request and its response.
 *
 * Frontends (HTTP, gRPC) build a serve_request from what the client sent,
 * hand it to the model manager, and get it back exactly once through the
 * completion callback, with a status and, on success, the outputs. The
 * scheduler runs it on a worker thread; the frontend's own threads never run
 * inference.
 *
 *     static void on_done(serve_request *r, void *ctx) {   // a worker thread
 *         if (serve_request_status(r)) reply_error(ctx, serve_request_status(r),
 *                                                  serve_request_error(r));
 *         else for (int i = 0; i < serve_request_output_count(r); i++)
 *             reply_tensor(ctx, serve_request_output(r, i));
 *         ... hand ctx back to the I/O thread, which later calls
 *         serve_request_destroy(r) ...
 *     }
 *
 *     serve_request *r; errinfo err;
 *     if (serve_request_create("resnet", 0, &r, &err)) return 500;
 *     serve_request_set_id(r, "42", &err);
 *     engine_shape s = {4, {1, 3, 224, 224}};
 *     serve_request_add_input(r, "data", ENGINE_FLOAT, &s, pixels, nbytes, false, &err);
 *     serve_request_add_requested_output(r, "prob", &err);   // none = all
 *     serve_request_set_callback(r, on_done, conn);
 *     serve_manager_submit(mm, r);     // on_done is called exactly once
 *     ...
 *     serve_request_cancel(r);         // client went away: queued work is dropped
 *
 * Ownership: the frontend creates and destroys the request. Between
 * serve_manager_submit and the callback the request belongs to the serving
 * core: the frontend may only call serve_request_cancel (from any thread).
 * The callback runs on a worker thread, or on the submitting thread when the
 * request is refused at once (unknown model, invalid input, full queue); it
 * may destroy the request itself. Input data is borrowed (the frontend keeps
 * it alive until the callback) unless added with owned = true, in which case
 * the request frees it with free(). Outputs belong to the request and are
 * freed with it. */
#ifndef INFERD_SERVE_INFER_REQUEST_H
#define INFERD_SERVE_INFER_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/status.h"
#include "../engine/engine.h"
#include "backend.h"
#include "model_meta.h"

typedef struct serve_request serve_request;

typedef void (*serve_request_done_fn)(serve_request *r, void *ctx);

/* Monotonic nanoseconds (CLOCK_MONOTONIC); 0 = not reached. */
typedef struct serve_timing {
    uint64_t arrival_ns;         /* created (or set by the frontend) */
    uint64_t queue_start_ns;     /* entered the model's queue */
    uint64_t queue_end_ns;       /* taken by a worker */
    uint64_t compute_start_ns;   /* backend execute began */
    uint64_t compute_end_ns;     /* backend execute returned */
} serve_timing;

/* CLOCK_MONOTONIC in nanoseconds, the clock of every timing field. */
uint64_t serve_clock_ns(void);

/* --- building (frontend thread, before submit) ------------------------------ */

/* version 0 = the latest ready version. */
status serve_request_create(const char *model, int64_t version, serve_request **out,
                            errinfo *err);
/* Frees the request, its outputs and owned input data. Accepts NULL. Not
 * while the serving core holds it (between submit and the callback). */
void serve_request_destroy(serve_request *r);

status serve_request_set_id(serve_request *r, const char *id, errinfo *err);
/* Adds a named input. For BYTES (ENGINE_STRING) data is an array of
 * engine_string. `owned`: the request frees data with free(). On failure
 * owned data is freed too, so the caller never leaks it. */
status serve_request_add_input(serve_request *r, const char *name, engine_dtype dtype,
                               const engine_shape *shape, const void *data, size_t nbytes,
                               bool owned, errinfo *err);
/* Asks for one output by name; a request that asks for none gets all. */
status serve_request_add_requested_output(serve_request *r, const char *name, errinfo *err);
void serve_request_set_callback(serve_request *r, serve_request_done_fn done, void *ctx);
/* A queue timeout asked for by the client (Triton's "timeout" parameter);
 * honoured when the model's queue policy allows overrides. 0 = none. */
void serve_request_set_timeout_us(serve_request *r, uint64_t us);
/* Overrides the arrival time (e.g. when the request's first byte came). */
void serve_request_set_arrival_ns(serve_request *r, uint64_t ns);

/* --- any thread, any time --------------------------------------------------- */

/* Marks the request cancelled (the client disconnected). Queued work is
 * dropped with STATUS_CANCELLED; an execution already running finishes. */
void serve_request_cancel(serve_request *r);
bool serve_request_is_cancelled(const serve_request *r);

/* --- reading (frontend: before submit, or in/after the callback) --------------- */

const char *serve_request_id(const serve_request *r);           /* "" if none */
const char *serve_request_model(const serve_request *r);
int64_t serve_request_version(const serve_request *r);          /* as requested */
/* The version that took the request; 0 if it never reached one. */
int64_t serve_request_model_version(const serve_request *r);
int serve_request_input_count(const serve_request *r);
const serve_tensor *serve_request_input(const serve_request *r, int i);
int serve_request_requested_output_count(const serve_request *r);
const char *serve_request_requested_output(const serve_request *r, int i);
status serve_request_status(const serve_request *r);
const char *serve_request_error(const serve_request *r);        /* "" on success */
/* Outputs in the order asked for (or model order when none was asked). */
int serve_request_output_count(const serve_request *r);
const serve_tensor *serve_request_output(const serve_request *r, int i);
const serve_timing *serve_request_timing(const serve_request *r);

/* --- validation ----------------------------------------------------------------- */

/* Checks the request against a model version's metadata: unknown,
 * duplicate and missing inputs, datatype, rank and dims (-1 matches any
 * size; with max_batch_size > 0 the first dim is the batch size, 1 to
 * max_batch_size and the same for every input), data length against the
 * element count, and unknown or duplicate requested outputs. Fails with
 * STATUS_INVALID_ARGUMENT and a message saying which tensor, what was
 * expected and what was given, e.g.
 *     input 'x': expected datatype FP32, got INT64
 *     input 'x': expected shape [-1,3,224,224], got [1,3,224]        */
status serve_request_validate(const serve_request *r, const serve_model_meta *meta,
                              errinfo *err);

#endif
