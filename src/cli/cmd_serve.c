/* cmd_serve.c -- `inferd serve`: loads a model repository and serves it.
 *
 * Threads: the main thread runs the HTTP event loop; the gRPC server runs
 * its completion-queue thread; the model manager's loader threads load
 * versions in the background; each model instance has a worker thread.
 * SIGTERM/SIGINT make readiness (and gRPC health) fail at once and stop the
 * event loop; queued requests and gRPC calls finish before the process exits. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "common/log.h"
#include "flags.h"
#include "grpc/grpc_server.h"
#include "http/http_server.h"
#include "http/kserve_rest.h"
#include "http/metrics_server.h"
#include "serve/backend.h"
#include "serve/model_manager.h"
#include "serve/serve_metrics.h"

typedef struct serve_cli {
    const char *model_repository;
    const char *http_address;
    int http_port;
    const char *grpc_address;
    int grpc_port;              /* -1: no gRPC port */
    const char *metrics_address;
    int metrics_port;           /* -1: no metrics port */
    size_t max_request_bytes;
    int log_verbose;
    const char *log_format;
} serve_cli;

/* How long in-flight gRPC calls (and open streams) get to finish on stop. */
#define GRPC_STOP_GRACE_MS 30000

static http_server *volatile signal_target;
static kserve_rest *volatile signal_api;

static void on_stop_signal(int sig) {
    (void)sig;
    if (signal_api) atomic_store(&signal_api->draining, 1);
    if (signal_target) http_server_stop(signal_target);
}

static void install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

static status apply_log_options(const serve_cli *o, errinfo *err) {
    log_set_verbose(o->log_verbose);
    /* auto: people at a terminal read text, log collectors read JSON. */
    if (!strcmp(o->log_format, "auto"))
        log_set_format(isatty(1) ? LOG_FORMAT_TEXT : LOG_FORMAT_JSON);
    else if (!strcmp(o->log_format, "json")) log_set_format(LOG_FORMAT_JSON);
    else if (!strcmp(o->log_format, "text")) log_set_format(LOG_FORMAT_TEXT);
    else
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "flag '--log-format': expected auto, text or json, got '%s'",
                           o->log_format);
    return STATUS_OK;
}

/* The registry and its /metrics port, bound before models load so their
 * load shows. Fails (logged) when the port cannot be bound. */
static status start_metrics(const serve_cli *o, serve_metrics **reg, metrics_server **srv) {
    errinfo err;
    status st = serve_metrics_create(reg, &err);
    metrics_server_options so = {.host = o->metrics_address, .port = o->metrics_port,
                                 .metrics = *reg};
    if (!st) st = metrics_server_start(&so, srv, &err);
    if (st) {
        log_error("metrics server: %s", err.msg);
        return st;
    }
    log_info("metrics (Prometheus) listening on %s:%d/metrics", o->metrics_address,
             metrics_server_port(*srv));
    return STATUS_OK;
}

static int serve_run(const serve_cli *o) {
    static const serve_backend *const backends[] = {&serve_backend_onnx, NULL};
    serve_manager_options mo = {.repository = o->model_repository, .backends = backends};
    serve_manager *mm = NULL;
    serve_metrics *metrics = NULL;
    metrics_server *msrv = NULL;
    http_server *srv = NULL;
    rpc_server *grpc = NULL;
    kserve_rest api = {0};
    errinfo err;
    int rc = 1;
    if (o->metrics_port >= 0 && start_metrics(o, &metrics, &msrv)) goto done;
    mo.metrics = metrics;
    if (serve_manager_create(&mo, &mm, &err)) {
        log_error("model repository %s: %s", o->model_repository, err.msg);
        goto done;
    }
    api.models = mm;
    http_server_options ho = {.host = o->http_address, .port = o->http_port,
                              .max_request_bytes = o->max_request_bytes};
    if (http_server_create(&ho, kserve_rest_handle, &api, &srv, &err)) {
        log_error("HTTP server: %s", err.msg);
        goto done;
    }
    log_info("HTTP (KServe v2 REST) listening on %s:%d", o->http_address,
             http_server_port(srv));
    if (o->grpc_port >= 0) {
        rpc_server_options go = {.host = o->grpc_address, .port = o->grpc_port, .models = mm,
                                 .draining = &api.draining,
                                 .max_message_bytes = o->max_request_bytes};
        if (rpc_server_start(&go, &grpc, &err)) {
            log_error("gRPC server: %s", err.msg);
            goto done;
        }
        log_info("gRPC (KServe v2, grpc.health.v1) listening on %s:%d", o->grpc_address,
                 rpc_server_port(grpc));
    }
    signal_api = &api;
    signal_target = srv;
    if (http_server_run(srv) == STATUS_OK) rc = 0;
    signal_target = NULL;
    log_info("stopping: finishing queued requests");
    rpc_server_stop(grpc, GRPC_STOP_GRACE_MS);
done:
    rpc_server_destroy(grpc);
    http_server_destroy(srv);
    serve_manager_destroy(mm);
    metrics_server_stop(msrv);
    serve_metrics_destroy(metrics);
    signal_api = NULL;
    return rc;
}

int cmd_serve(int argc, char **argv) {
    serve_cli o = {.http_address = "0.0.0.0", .http_port = 8000,
                   .grpc_address = "0.0.0.0", .grpc_port = 8001,
                   .metrics_address = "0.0.0.0", .metrics_port = 8002,
                   .max_request_bytes = HTTP_DEFAULT_MAX_REQUEST_BYTES, .log_format = "auto"};
    const flag flags[] = {
        {"model-repository", FLAG_STRING, &o.model_repository, "DIR",
         "model repository: DIR/<model>/<version>/model.onnx (required)"},
        {"http-address", FLAG_STRING, &o.http_address, "ADDR", "address to bind (default 0.0.0.0)"},
        {"http-port", FLAG_INT, &o.http_port, "N", "HTTP port (default 8000)"},
        {"grpc-address", FLAG_STRING, &o.grpc_address, "ADDR",
         "address to bind for gRPC (default 0.0.0.0)"},
        {"grpc-port", FLAG_INT, &o.grpc_port, "N",
         "gRPC port (KServe v2 gRPC and grpc.health.v1; default 8001, -1 disables)"},
        {"metrics-address", FLAG_STRING, &o.metrics_address, "ADDR",
         "address to bind for metrics (default 0.0.0.0)"},
        {"metrics-port", FLAG_INT, &o.metrics_port, "N",
         "Prometheus metrics port, GET /metrics (default 8002, -1 disables)"},
        {"max-request-bytes", FLAG_SIZE, &o.max_request_bytes, "N",
         "largest request body accepted, e.g. 64M; larger ones get 413 (default 64M)"},
        {"log-verbose", FLAG_INT, &o.log_verbose, "N",
         "verbose logging level: 0 none, 1 requests and details, 2 debug (default 0)"},
        {"log-format", FLAG_STRING, &o.log_format, "FMT",
         "auto, text or json; auto: text on a terminal, else JSON lines (default auto)"},
    };
    int n = (int)(sizeof flags / sizeof flags[0]), help;
    errinfo err;
    if (flags_parse(flags, n, argc, argv, 2, &help, &err)) {
        fprintf(stderr, "inferd serve: %s\n(see 'inferd serve --help')\n", err.msg);
        return 2;
    }
    if (help) {
        flags_usage(stdout, "inferd serve --model-repository DIR [options]",
                    "Serves every model in DIR over HTTP (KServe v2 REST) and gRPC (KServe v2).",
                    flags, n);
        return 0;
    }
    if (!o.model_repository) {
        fprintf(stderr, "inferd serve: --model-repository is required (see 'inferd serve --help')\n");
        return 2;
    }
    if (o.http_port < 0 || o.http_port > 65535) {
        fprintf(stderr, "inferd serve: flag '--http-port': expected 0..65535, got %d\n", o.http_port);
        return 2;
    }
    if (o.grpc_port < -1 || o.grpc_port > 65535) {
        fprintf(stderr, "inferd serve: flag '--grpc-port': expected -1 (off) or 0..65535, got %d\n",
                o.grpc_port);
        return 2;
    }
    if (o.metrics_port < -1 || o.metrics_port > 65535) {
        fprintf(stderr,
                "inferd serve: flag '--metrics-port': expected -1 (off) or 0..65535, got %d\n",
                o.metrics_port);
        return 2;
    }
    if (apply_log_options(&o, &err)) {
        fprintf(stderr, "inferd serve: %s\n", err.msg);
        return 2;
    }
    install_signals();
    return serve_run(&o);
}
