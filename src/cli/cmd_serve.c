/* cmd_serve.c -- `inferd serve`: loads a model repository and serves it.
 *
 * Threads: the main thread runs the HTTP event loop; the gRPC server runs
 * its completion-queue thread; the model manager's loader threads load
 * versions in the background; each model instance has a worker thread.
 * With --model-control-mode poll a poller thread rescans the repository;
 * the manager's control and retire threads run explicit loads and unloads.
 * SIGTERM/SIGINT drain (serve_drain.h): readiness (and gRPC health) fail at
 * once, connections are accepted for --drain-delay-secs, then listening
 * stops and everything in flight finishes before the process exits 0,
 * within --exit-timeout-secs of the signal. */
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
#include "serve/repository_poll.h"
#include "serve/serve_metrics.h"
#include "serve_drain.h"

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
    const char *model_control_mode;  /* none | poll | explicit */
    int repository_poll_secs;
    const char *load_model;          /* explicit mode: "a,b" or "*" */
    int drain_delay_secs;
    int exit_timeout_secs;
} serve_cli;

/* --load-model names (explicit mode), NULL-terminated. */
#define MAX_STARTUP_MODELS 256

/* How long in-flight gRPC calls (and open streams) get to finish on stop. */
#define GRPC_STOP_GRACE_MS 30000

static volatile sig_atomic_t drain_armed;

static void on_stop_signal(int sig) {
    if (!drain_armed) _exit(serve_drain_signalled() ? 128 + sig : 0); /* starting, or cleaning up */
    serve_drain_signal(sig);
}

/* The drain's hook for the gRPC port: stop accepting, finish the calls. */
static void stop_grpc(void *ctx, int64_t ms_left) {
    rpc_server_stop(ctx, ms_left > 0 ? ms_left : 0);
}

static status parse_control_mode(const char *text, serve_control_mode *out, errinfo *err) {
    for (int m = SERVE_CONTROL_NONE; m <= SERVE_CONTROL_EXPLICIT; m++)
        if (!strcmp(text, serve_control_mode_name((serve_control_mode)m))) {
            *out = (serve_control_mode)m;
            return STATUS_OK;
        }
    return status_fail(err, STATUS_INVALID_ARGUMENT,
                       "flag '--model-control-mode': expected none, poll or explicit, got '%s'",
                       text);
}

/* "a,b , c" -> {"a", "b", "c", NULL} in buf (names point into copy). */
static status split_models(const char *text, char *copy, size_t cap, const char **names,
                           errinfo *err) {
    size_t n = 0;
    if (snprintf(copy, cap, "%s", text ? text : "") >= (int)cap)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "flag '--load-model' is too long");
    for (char *save = NULL, *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        if (n == MAX_STARTUP_MODELS)
            return status_fail(err, STATUS_INVALID_ARGUMENT,
                               "flag '--load-model': at most %d names", MAX_STARTUP_MODELS);
        names[n++] = t;
    }
    names[n] = NULL;
    return STATUS_OK;
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

/* The /metrics port. Fails (logged) when the port cannot be bound. */
static status start_metrics(const serve_cli *o, serve_metrics *reg, metrics_server **srv) {
    errinfo err;
    metrics_server_options so = {.host = o->metrics_address, .port = o->metrics_port,
                                 .metrics = reg};
    status st = metrics_server_start(&so, srv, &err);
    if (st) {
        log_error("metrics server: %s", err.msg);
        return st;
    }
    log_info("metrics (Prometheus) listening on %s:%d/metrics", o->metrics_address,
             metrics_server_port(*srv));
    return STATUS_OK;
}

static int serve_run(const serve_cli *o, serve_control_mode mode, const char *const *startup) {
    static const serve_backend *const backends[] = {&serve_backend_onnx, NULL};
    serve_manager_options mo = {.repository = o->model_repository, .backends = backends,
                                .control_mode = mode, .startup_models = startup};
    serve_manager *mm = NULL;
    serve_repo_poller *poller = NULL;
    serve_metrics *metrics = NULL;
    metrics_server *msrv = NULL;
    http_server *srv = NULL;
    rpc_server *grpc = NULL;
    kserve_rest api = {0};
    errinfo err;
    int rc = 1;
    /* The registry exists before loading starts, so every load shows. */
    if (o->metrics_port >= 0 && serve_metrics_create(&metrics, &err)) {
        log_error("metrics: %s", err.msg);
        goto done;
    }
    mo.metrics = metrics;
    if (serve_manager_create(&mo, &mm, &err)) {
        log_error("model repository %s: %s", o->model_repository, err.msg);
        goto done;
    }
    api.models = mm;
    if (metrics && start_metrics(o, metrics, &msrv)) goto done;
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
    if (mode == SERVE_CONTROL_POLL) {
        if (serve_repo_poller_start(mm, o->repository_poll_secs, &poller, &err)) {
            log_error("%s", err.msg);
            goto done;
        }
        log_info("polling %s for changes every %d s", o->model_repository, o->repository_poll_secs);
    }
    serve_drain_options dopt = {.delay_secs = o->drain_delay_secs,
                                .exit_timeout_secs = o->exit_timeout_secs,
                                .draining = &api.draining, .http = srv,
                                .stop_others = grpc ? stop_grpc : NULL, .others_ctx = grpc};
    if (serve_drain_start(&dopt, &err)) {
        log_error("%s", err.msg);
        goto done;
    }
    drain_armed = 1;
    if (http_server_run(srv) == STATUS_OK) rc = 0;
    drain_armed = 0; /* a signal from here on exits at once: cleanup is running */
    log_info("stopping: finishing queued requests");
    serve_repo_poller_stop(poller);
    poller = NULL;
    rpc_server_stop(grpc, GRPC_STOP_GRACE_MS);
done:
    serve_repo_poller_stop(poller);
    rpc_server_destroy(grpc);
    http_server_destroy(srv);
    serve_manager_destroy(mm);
    metrics_server_stop(msrv);
    serve_metrics_destroy(metrics);
    serve_drain_finish();
    if (!rc && serve_drain_signalled()) log_info("drained; exiting");
    return rc;
}

int cmd_serve(int argc, char **argv) {
    serve_cli o = {.http_address = "0.0.0.0", .http_port = 8000,
                   .grpc_address = "0.0.0.0", .grpc_port = 8001,
                   .metrics_address = "0.0.0.0", .metrics_port = 8002,
                   .max_request_bytes = HTTP_DEFAULT_MAX_REQUEST_BYTES, .log_format = "auto",
                   .model_control_mode = "none", .repository_poll_secs = 15,
                   .drain_delay_secs = 5, .exit_timeout_secs = 30};
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
        {"model-control-mode", FLAG_STRING, &o.model_control_mode, "MODE",
         "none: load the repository at start; poll: also apply its changes while serving; "
         "explicit: load --load-model at start, then POST /v2/repository/models/M/load|unload "
         "(default none)"},
        {"repository-poll-secs", FLAG_INT, &o.repository_poll_secs, "N",
         "poll mode: seconds between repository scans (default 15)"},
        {"load-model", FLAG_STRING, &o.load_model, "NAMES",
         "explicit mode: models to load at start, comma-separated, or * for all (default none)"},
        {"drain-delay-secs", FLAG_INT, &o.drain_delay_secs, "N",
         "on SIGTERM/SIGINT: readiness fails at once, connections are still accepted for N s "
         "so load balancers notice, then listening stops (default 5)"},
        {"exit-timeout-secs", FLAG_INT, &o.exit_timeout_secs, "N",
         "on SIGTERM/SIGINT: exit within N s of the signal; in-flight requests get until "
         "then (default 30; keep Kubernetes' terminationGracePeriodSeconds above it)"},
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
    serve_control_mode mode = SERVE_CONTROL_NONE;
    static char models_copy[8192];
    static const char *startup[MAX_STARTUP_MODELS + 1];
    if (parse_control_mode(o.model_control_mode, &mode, &err) ||
        split_models(o.load_model, models_copy, sizeof models_copy, startup, &err)) {
        fprintf(stderr, "inferd serve: %s\n", err.msg);
        return 2;
    }
    if (o.load_model && mode != SERVE_CONTROL_EXPLICIT) {
        fprintf(stderr, "inferd serve: flag '--load-model' needs --model-control-mode explicit\n");
        return 2;
    }
    if (o.repository_poll_secs < 1) {
        fprintf(stderr,
                "inferd serve: flag '--repository-poll-secs': expected at least 1, got %d\n",
                o.repository_poll_secs);
        return 2;
    }
    if (o.drain_delay_secs < 0 || o.exit_timeout_secs < o.drain_delay_secs) {
        fprintf(stderr, "inferd serve: flags '--drain-delay-secs' (%d) and '--exit-timeout-secs' "
                "(%d): expected 0 <= delay <= timeout\n", o.drain_delay_secs, o.exit_timeout_secs);
        return 2;
    }
    install_signals();
    return serve_run(&o, mode, startup);
}
