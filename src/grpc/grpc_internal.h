/* grpc_internal.h -- between the gRPC call machinery (grpc_server.c) and
 * the services (grpc_kserve.c, grpc_health.c).
 *
 * A service is a table of methods. The server registers each with gRPC
 * core, accepts its calls on the completion-queue (CQ) thread and hands the
 * handler every request message; the handler answers through the rpc_call
 * functions below, at once or later from another thread:
 *
 *     static void ready(rpc_call *c, const uint8_t *data, size_t len) {   // CQ thread
 *         Inference__ServerReadyResponse resp = INFERENCE__SERVER_READY_RESPONSE__INIT;
 *         resp.ready = rpc_server_ready(rpc_call_server(c));
 *         rpc_call_reply(c, &resp.base);          // message + status OK
 *     }
 *     const rpc_method rpc_kserve_methods[] = {
 *         {"/inference.GRPCInferenceService/ServerReady", RPC_UNARY, ready},
 *         ...
 *
 * Sending: rpc_call_send queues one message and rpc_call_finish the final
 * status; both may be called from any thread, and the call sends them in
 * order, one batch at a time (gRPC core allows one send in flight per
 * call). Everything after the first finish is dropped.
 *
 * Lifetime: a call is reference-counted. The server holds references while
 * gRPC operations are in flight and while a hook runs; a handler that keeps
 * the call past its hook (work queued on a model) takes its own with
 * rpc_call_ref and drops it with rpc_call_unref when done. The last
 * reference frees the call, after on_destroy.
 *
 * Hooks run on the CQ thread, one at a time per server, except on_destroy
 * (on whichever thread drops the last reference). */
#ifndef INFERD_GRPC_INTERNAL_H
#define INFERD_GRPC_INTERNAL_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "grpc/grpc_arena.h"
#include "grpc/grpc_server.h"
#include "grpc_service.pb-c.h"
#include "serve/model_manager.h"

typedef struct rpc_call rpc_call;

typedef enum rpc_method_kind {
    RPC_UNARY,              /* one request, one response */
    RPC_SERVER_STREAM,      /* one request, responses until finish */
    RPC_BIDI_STREAM         /* requests and responses until both sides close */
} rpc_method_kind;

typedef struct rpc_method {
    const char *path;       /* "/package.Service/Method" */
    rpc_method_kind kind;
    /* A request message (once for unary and server-streaming methods).
     * `data` is valid during the hook only. Required. */
    void (*on_message)(rpc_call *c, const uint8_t *data, size_t len);
    /* Bidi: the client closed its side. NULL: finish with OK at once. */
    void (*on_half_close)(rpc_call *c);
    /* The client cancelled or its deadline passed before the call was
     * finished: drop queued work. NULL: nothing to drop. */
    void (*on_cancel)(rpc_call *c);
    /* The server begins a graceful stop (streams should end). May be NULL. */
    void (*on_stop)(rpc_call *c);
    /* Every RPC_TICK_MS while the call is open (polling). May be NULL. */
    void (*on_tick)(rpc_call *c);
    /* Frees the handler's state (rpc_call_state). May be NULL. */
    void (*on_destroy)(rpc_call *c);
} rpc_method;

#define RPC_TICK_MS 500

/* The services, each a table of *_count methods. */
extern const rpc_method rpc_kserve_methods[];
extern const int rpc_kserve_method_count;
extern const rpc_method rpc_health_methods[];
extern const int rpc_health_method_count;

/* ModelInfer and ModelStreamInfer hooks (grpc_infer.c), for the KServe
 * service table. */
void rpc_infer_on_message(rpc_call *c, const uint8_t *data, size_t len);
void rpc_infer_on_half_close(rpc_call *c);
void rpc_infer_on_cancel(rpc_call *c);
void rpc_infer_on_stop(rpc_call *c);
void rpc_infer_on_destroy(rpc_call *c);

/* The ModelConfig message of a model version (grpc_model_config.c), in the
 * arena; NULL if out of memory. */
Inference__ModelConfig *rpc_model_config_build(rpc_arena *a, const serve_model_handle *h);

/* --- calls (any thread, holding a reference) -------------------------------- */

rpc_server *rpc_call_server(const rpc_call *c);
const rpc_method *rpc_call_method(const rpc_call *c);
void *rpc_call_state(const rpc_call *c);
void rpc_call_set_state(rpc_call *c, void *state);
void rpc_call_ref(rpc_call *c);
void rpc_call_unref(rpc_call *c);

/* Serializes msg and queues it. False if the call is finished or memory
 * ran out (the caller then finishes the call with an error). */
bool rpc_call_send(rpc_call *c, const ProtobufCMessage *msg);
/* Queues the final status (after the messages queued before it). `msg` is
 * the status message for a failure ("" or NULL: the status's own). */
void rpc_call_finish(rpc_call *c, status st, const char *msg);
/* Unary answer: the message, then OK (or NO_MEMORY if it cannot be sent). */
void rpc_call_reply(rpc_call *c, const ProtobufCMessage *msg);

/* Unpacks a request message; on failure finishes the call with
 * INVALID_ARGUMENT naming the message type and returns NULL. Free the
 * result with protobuf_c_message_free_unpacked(msg, NULL). */
void *rpc_call_unpack(rpc_call *c, const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                      size_t len);

/* --- the server, as the services see it (any thread) ------------------------ */

serve_manager *rpc_server_models(const rpc_server *s);
/* True once rpc_server_stop began. */
bool rpc_server_stopping(const rpc_server *s);
/* Draining (SIGTERM) or stopping: health answers NOT_SERVING. */
bool rpc_server_draining(const rpc_server *s);
/* Server readiness: every model loaded, not draining, not stopping. */
bool rpc_server_ready(const rpc_server *s);

#endif
