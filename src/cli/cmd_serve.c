/* cmd_serve.c -- `inferd serve`: loads a model repository and serves it.
 *
 * Threads: the main thread runs the HTTP event loop; the model manager's
 * loader threads load versions in the background; each model instance has
 * a worker thread. SIGTERM/SIGINT make readiness fail at once and stop the
 * event loop; queued requests finish before the process exits. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "common/log.h"
#include "flags.h"
#include "http/http_server.h"
#include "http/kserve_rest.h"
#include "serve/backend.h"
#include "serve/model_manager.h"

typedef struct serve_cli {
    const char *model_repository;
    const char *http_address;
    int http_port;
    size_t max_request_bytes;
    int log_verbose;
    const char *log_format;
} serve_cli;

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
    if (!strcmp(o->log_format, "json")) log_set_format(LOG_FORMAT_JSON);
    else if (!strcmp(o->log_format, "text")) log_set_format(LOG_FORMAT_TEXT);
    else
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "flag '--log-format': expected text or json, got '%s'", o->log_format);
    return STATUS_OK;
}

static int serve_run(const serve_cli *o) {
    static const serve_backend *const backends[] = {&serve_backend_onnx, NULL};
    serve_manager_options mo = {.repository = o->model_repository, .backends = backends};
    serve_manager *mm = NULL;
    http_server *srv = NULL;
    kserve_rest api = {0};
    errinfo err;
    int rc = 1;
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
    signal_api = &api;
    signal_target = srv;
    if (http_server_run(srv) == STATUS_OK) rc = 0;
    signal_target = NULL;
    log_info("stopping: finishing queued requests");
done:
    http_server_destroy(srv);
    serve_manager_destroy(mm);
    signal_api = NULL;
    return rc;
}

int cmd_serve(int argc, char **argv) {
    serve_cli o = {.http_address = "0.0.0.0", .http_port = 8000,
                   .max_request_bytes = HTTP_DEFAULT_MAX_REQUEST_BYTES, .log_format = "text"};
    const flag flags[] = {
        {"model-repository", FLAG_STRING, &o.model_repository, "DIR",
         "model repository: DIR/<model>/<version>/model.onnx (required)"},
        {"http-address", FLAG_STRING, &o.http_address, "ADDR", "address to bind (default 0.0.0.0)"},
        {"http-port", FLAG_INT, &o.http_port, "N", "HTTP port (default 8000)"},
        {"max-request-bytes", FLAG_SIZE, &o.max_request_bytes, "N",
         "largest request body accepted, e.g. 64M; larger ones get 413 (default 64M)"},
        {"log-verbose", FLAG_INT, &o.log_verbose, "N",
         "verbose logging level: 0 none, 1 requests and details, 2 debug (default 0)"},
        {"log-format", FLAG_STRING, &o.log_format, "FMT", "text or json (default text)"},
    };
    int n = (int)(sizeof flags / sizeof flags[0]), help;
    errinfo err;
    if (flags_parse(flags, n, argc, argv, 2, &help, &err)) {
        fprintf(stderr, "inferd serve: %s\n(see 'inferd serve --help')\n", err.msg);
        return 2;
    }
    if (help) {
        flags_usage(stdout, "inferd serve --model-repository DIR [options]",
                    "Serves every model in DIR over HTTP (KServe v2 REST).", flags, n);
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
    if (apply_log_options(&o, &err)) {
        fprintf(stderr, "inferd serve: %s\n", err.msg);
        return 2;
    }
    install_signals();
    return serve_run(&o);
}
