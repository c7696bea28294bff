/* grpc_server.h -- inferd's gRPC port: KServe v2 inference and gRPC health.
 *
 * Serves `inference.GRPCInferenceService` (grpc_kserve.c) and
 * `grpc.health.v1.Health` (grpc_health.c) on the gRPC core C library. One
 * completion-queue thread accepts calls, decodes requests and queues work
 * with the serving core, like the HTTP I/O thread; the model worker that
 * ran a request sends its answer. Inference never runs on the gRPC thread.
 *
 *     rpc_server_options o = {.host = "0.0.0.0", .port = 8001, .models = mm,
 *                             .draining = &rest.draining,
 *                             .max_message_bytes = 64 << 20};
 *     rpc_server *g; errinfo err;
 *     if (rpc_server_start(&o, &g, &err)) die(err.msg);  // listening now
 *     log_info("gRPC on port %d", rpc_server_port(g));
 *     ... SIGTERM: *o.draining = 1 turns health NOT_SERVING at once ...
 *     rpc_server_stop(g, 30000);   // no new calls; in-flight calls finish
 *     rpc_server_destroy(g);       // then serve_manager_destroy(mm)
 *
 * Symbols use the `rpc_` prefix: gRPC core owns `grpc_`.
 *
 * Thread safety: start and destroy from one controlling thread; stop and
 * rpc_server_port from any (a drain thread may stop while the main thread
 * waits to destroy). */
#ifndef INFERD_GRPC_SERVER_H
#define INFERD_GRPC_SERVER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "serve/model_manager.h"

typedef struct rpc_server rpc_server;

typedef struct rpc_server_options {
    const char *host;             /* "0.0.0.0", "::", "127.0.0.1"; NULL = 0.0.0.0 */
    int port;                     /* 0: any free port (see rpc_server_port) */
    serve_manager *models;        /* required; outlives the server */
    atomic_int *draining;         /* non-zero: readiness and health fail
                                     (shared with REST); may be NULL */
    size_t max_message_bytes;     /* largest request message; 0 = 64 MiB */
} rpc_server_options;

/* Binds and starts serving. Fails with STATUS_IO_ERROR if the address
 * cannot be bound (in use, not local), naming it. */
status rpc_server_start(const rpc_server_options *opts, rpc_server **out, errinfo *err);

/* The bound port (the chosen one when opts.port was 0). */
int rpc_server_port(const rpc_server *s);

/* Graceful stop: health turns NOT_SERVING, no new calls are accepted,
 * health Watch streams end, idle inference streams end, and the calls in
 * flight finish. After grace_ms (< 0: no limit; 0: at once) the calls still
 * open are cancelled (their queued work is dropped). Returns when every
 * call is gone. Idempotent: a second caller waits for the first. */
void rpc_server_stop(rpc_server *s, int64_t grace_ms);

/* Stops (with no grace) if not stopped yet and frees. Accepts NULL. */
void rpc_server_destroy(rpc_server *s);

#endif
