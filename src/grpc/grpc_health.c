/* grpc_health.c -- grpc.health.v1.Health: Check and Watch.
 *
 * What a service name means:
 *   ""  (and "inference.GRPCInferenceService", "grpc.health.v1.Health")
 *       the server: SERVING once every model has loaded, NOT_SERVING while
 *       loading and from SIGTERM on (the same readiness as
 *       /v2/health/ready), so a Kubernetes `grpc:` readiness probe or
 *       grpc-health-probe takes a draining pod out of rotation;
 *   a model name
 *       that model: SERVING while a version of it is ready and the server
 *       is not draining, NOT_SERVING while it loads or after it failed.
 * Check answers NOT_FOUND for a name that is neither, as the protocol asks;
 * Watch sends SERVICE_UNKNOWN instead and keeps watching (the model may
 * appear). Watch sends the status at once, then every change, found by
 * polling every RPC_TICK_MS; on a graceful stop it sends NOT_SERVING and
 * ends the stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_internal.h"
#include "health.pb-c.h"

typedef Grpc__Health__V1__HealthCheckResponse__ServingStatus serving_status;

#define SERVING GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
#define NOT_SERVING GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
#define SERVICE_UNKNOWN GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN

static bool names_server(const char *service) {
    return !service[0] || !strcmp(service, "inference.GRPCInferenceService") ||
           !strcmp(service, "grpc.health.v1.Health");
}

/* The status of a service; SERVICE_UNKNOWN (with err set) for none. */
static serving_status status_of(rpc_server *s, const char *service, errinfo *err) {
    if (names_server(service)) return rpc_server_ready(s) ? SERVING : NOT_SERVING;
    serve_model_handle *h;
    status st = serve_manager_acquire(rpc_server_models(s), service, 0, &h, err);
    serve_model_handle_release(h);
    if (st == STATUS_NOT_FOUND) return SERVICE_UNKNOWN;
    return st || rpc_server_draining(s) ? NOT_SERVING : SERVING;
}

static bool send_status(rpc_call *c, serving_status status) {
    Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    resp.status = status;
    return rpc_call_send(c, &resp.base);
}

static void check(rpc_call *c, const uint8_t *data, size_t len) {
    Grpc__Health__V1__HealthCheckRequest *req =
        rpc_call_unpack(c, &grpc__health__v1__health_check_request__descriptor, data, len);
    if (!req) return;
    errinfo err;
    serving_status st = status_of(rpc_call_server(c), req->service, &err);
    protobuf_c_message_free_unpacked(&req->base, NULL);
    if (st == SERVICE_UNKNOWN) {
        rpc_call_finish(c, STATUS_NOT_FOUND, err.msg);
        return;
    }
    Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    resp.status = st;
    rpc_call_reply(c, &resp.base);
}

/* --- Watch ---------------------------------------------------------------------- */

/* Touched on the CQ thread only (hooks), freed by on_destroy. */
typedef struct watch_state {
    char *service;
    serving_status last;          /* what the client was told last */
} watch_state;

static void watch_update(rpc_call *c) {
    watch_state *w = rpc_call_state(c);
    errinfo err;
    serving_status now = status_of(rpc_call_server(c), w->service, &err);
    if (now == w->last) return;
    if (send_status(c, now)) w->last = now;
}

static void watch(rpc_call *c, const uint8_t *data, size_t len) {
    Grpc__Health__V1__HealthCheckRequest *req =
        rpc_call_unpack(c, &grpc__health__v1__health_check_request__descriptor, data, len);
    if (!req) return;
    watch_state *w = calloc(1, sizeof *w);
    if (w) w->service = strdup(req->service ? req->service : "");
    protobuf_c_message_free_unpacked(&req->base, NULL);
    if (!w || !w->service) {
        if (w) free(w);
        rpc_call_finish(c, STATUS_NO_MEMORY, "out of memory starting a health watch");
        return;
    }
    w->last = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__UNKNOWN;
    rpc_call_set_state(c, w);
    watch_update(c);
}

static void watch_tick(rpc_call *c) {
    if (rpc_call_state(c)) watch_update(c);
}

static void watch_stop(rpc_call *c) {
    watch_state *w = rpc_call_state(c);
    if (w && w->last != NOT_SERVING) send_status(c, NOT_SERVING);
    rpc_call_finish(c, STATUS_UNAVAILABLE, "the server is shutting down");
}

static void watch_destroy(rpc_call *c) {
    watch_state *w = rpc_call_state(c);
    if (!w) return;
    free(w->service);
    free(w);
}

#define HEALTH "/grpc.health.v1.Health/"

const rpc_method rpc_health_methods[] = {
    {HEALTH "Check", RPC_UNARY, check, NULL, NULL, NULL, NULL, NULL},
    {HEALTH "Watch", RPC_SERVER_STREAM, watch, NULL, NULL, watch_stop, watch_tick, watch_destroy},
};

const int rpc_health_method_count = sizeof rpc_health_methods / sizeof rpc_health_methods[0];
