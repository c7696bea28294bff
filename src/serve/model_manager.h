/* model_manager.h -- every model version the server knows, and its state.
 *
 * At start the manager scans the repository (repository.h) and loads every
 * selected version on background loader threads: backend load, config
 * checked against the model (model_meta.h), instances created (scheduler.h).
 * One model failing does not stop the others; the failure is logged and
 * stays queryable with its reason. The server is ready (serve_manager_ready)
 * once every version that should load has loaded or failed.
 *
 * States: LOADING -> READY or FAILED; UNAVAILABLE for versions that are
 * shut down (and, with issue 3, unloaded or draining).
 *
 * Lookups return a reference-counted handle on one version. The handle keeps
 * the version's metadata and scheduler alive; release it promptly (frontends
 * hold one only between lookup and submit, or while reading metadata).
 *
 *     serve_manager_options o = {.repository = "/models",
 *                                .backends = (const serve_backend *[]){&serve_backend_onnx, NULL}};
 *     serve_manager *mm; errinfo err;
 *     if (serve_manager_create(&o, &mm, &err)) die(err.msg);   // returns at once
 *     ... serve HTTP; /v2/health/ready answers serve_manager_ready(mm) ...
 *
 *     serve_model_handle *h;
 *     status st = serve_manager_acquire(mm, "resnet", 0, &h, &err); // 0 = latest ready
 *     if (st) reply(status_http_code(st), err.msg);  // NOT_FOUND 404, UNAVAILABLE 503
 *     else { describe(serve_model_handle_meta(h)); serve_model_handle_release(h); }
 *
 *     serve_manager_submit(mm, request);   // lookup + validate + enqueue; the
 *                                          // request's callback always runs
 *     serve_manager_destroy(mm);           // after the frontends stopped
 *
 * Unload and reload (issue 3, model_sync.c) retire a version in three steps:
 * take it out of the table (no new lookups), wait on the retire thread until
 * the table's reference is the last one, then drain its scheduler and free
 * it there, so no frontend or worker thread ever runs a teardown and no
 * request that found the version fails.
 *
 * All functions are thread-safe unless noted. */
#ifndef INFERD_SERVE_MODEL_MANAGER_H
#define INFERD_SERVE_MODEL_MANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/status.h"
#include "backend.h"
#include "infer_request.h"
#include "model_config.h"
#include "model_meta.h"
#include "scheduler.h"

typedef enum serve_model_state {
    SERVE_MODEL_LOADING = 0,
    SERVE_MODEL_READY,
    SERVE_MODEL_UNAVAILABLE,
    SERVE_MODEL_FAILED
} serve_model_state;

/* "LOADING", "READY", "UNAVAILABLE", "FAILED" */
const char *serve_model_state_name(serve_model_state s);

typedef struct serve_manager serve_manager;
typedef struct serve_model_handle serve_model_handle;  /* one model version */

/* Triton's --model-control-mode: what may change the table after start. */
typedef enum serve_control_mode {
    SERVE_CONTROL_NONE = 0,    /* every model loads at start; nothing changes */
    SERVE_CONTROL_POLL,        /* every model at start; serve_manager_poll applies
                                  repository changes (repository_poll.h calls it) */
    SERVE_CONTROL_EXPLICIT     /* startup_models at start; serve_manager_load and
                                  _unload on request (the repository extension) */
} serve_control_mode;

/* "none", "poll", "explicit" */
const char *serve_control_mode_name(serve_control_mode m);

typedef struct serve_manager_options {
    const char *repository;                 /* required */
    const serve_backend *const *backends;   /* NULL-terminated, [0] the default;
                                               must outlive the manager */
    int load_threads;                       /* 0 = min(versions, cores) */
    int threads_per_instance;               /* 0 = cores / instances */
    struct serve_metrics *metrics;          /* series per version (serve_metrics.h);
                                               NULL = none; must outlive the manager */
    serve_control_mode control_mode;        /* default NONE */
    const char *const *startup_models;      /* EXPLICIT: NULL-terminated names to load at
                                               start, "*" = all; NULL = none */
} serve_manager_options;

/* Scans the repository and starts loading in the background; returns at
 * once. Fails only if the repository cannot be read or the options are bad. */
status serve_manager_create(const serve_manager_options *opts, serve_manager **out,
                            errinfo *err);
/* Stops loading, drains every scheduler (queued requests finish), frees.
 * Call after the frontends stopped submitting. Accepts NULL. */
void serve_manager_destroy(serve_manager *mm);

/* True once every version that should load at start has loaded or
 * failed. Later loads (poll, explicit) never make it false again: the
 * versions they replace keep serving meanwhile, and a server that flaps
 * unready during a rollout gets taken out of its load balancer. */
bool serve_manager_ready(serve_manager *mm);
/* Waits up to timeout_ms (< 0: forever) for serve_manager_ready. */
bool serve_manager_wait_ready(serve_manager *mm, int64_t timeout_ms);
/* Waits until no load and no unload is queued or running (tests, tools). */
bool serve_manager_wait_idle(serve_manager *mm, int64_t timeout_ms);

/* A READY version: `version` 0 = the highest ready one. Fails with
 * STATUS_NOT_FOUND (unknown model or version) or STATUS_UNAVAILABLE (known
 * but loading, failed or shut down: the message says which and why). */
status serve_manager_acquire(serve_manager *mm, const char *name, int64_t version,
                             serve_model_handle **out, errinfo *err);
void serve_model_handle_release(serve_model_handle *h);   /* accepts NULL */

const char *serve_model_handle_name(const serve_model_handle *h);
int64_t serve_model_handle_version(const serve_model_handle *h);
const serve_model_meta *serve_model_handle_meta(const serve_model_handle *h);
const model_config *serve_model_handle_config(const serve_model_handle *h);
void serve_model_handle_stats(const serve_model_handle *h, serve_scheduler_stats *out);

/* Validates the request against this version and queues it. The request
 * is completed exactly once (on the calling thread if refused at once). */
void serve_model_handle_submit(serve_model_handle *h, serve_request *r);
/* Looks up the request's model and version, then as above. */
void serve_manager_submit(serve_manager *mm, serve_request *r);

/* One row per model version; a model that failed as a whole (bad config,
 * no version directory) has one row with version 0. Sorted by name, then
 * version. */
typedef struct serve_model_status {
    char *name;
    int64_t version;
    serve_model_state state;
    char *reason;               /* "" when none */
    uint64_t load_ns;           /* how long loading took (READY / FAILED) */
} serve_model_status;

status serve_manager_list(serve_manager *mm, serve_model_status **out, size_t *n, errinfo *err);
void serve_model_status_free(serve_model_status *list, size_t n);

/* --- live repository changes (model_sync.c) -------------------------------------
 *
 * A sync rescans the repository (the version policy of each model's current
 * config.pbtxt included) and, per model:
 *   - a new version directory loads (and warms up) in the background;
 *     lookups of "latest" keep going to the highest READY version;
 *   - a version whose files changed (version_stamp.h) reloads beside the
 *     serving copy, which it replaces once READY;
 *   - once every selected version has loaded or failed, the versions the
 *     policy no longer selects retire: drained (queued requests finish),
 *     freed, memory returned to the system. If none of the selected
 *     versions could load, the old ones keep serving and the failure is
 *     logged and listed;
 *   - a deleted version directory or model retires at once;
 *   - a broken config.pbtxt keeps the serving versions and is logged.
 * Failed loads of unchanged files are not retried by polling. */

/* POLL: rescans and applies changes; loading and retiring continue in the
 * background. Fails only if the repository cannot be read. */
status serve_manager_poll(serve_manager *mm, errinfo *err);

/* Completion of an explicit load or unload: st and a message ("" on
 * success). Called exactly once, on a manager thread or before the call
 * returns; must not block. */
typedef void (*serve_manager_done_fn)(void *ctx, status st, const char *msg);

/* EXPLICIT: loads model `name` as the repository has it (new, changed and
 * previously failed versions load; see above), and calls done once all of
 * them are READY (OK) or some failed (STATUS_INVALID_MODEL naming the
 * version and why). Other modes: STATUS_FAILED_PRECONDITION. Unknown
 * model: STATUS_NOT_FOUND. */
void serve_manager_load(serve_manager *mm, const char *name, serve_manager_done_fn done, void *ctx);
/* EXPLICIT: takes every version of `name` out of service and calls done
 * once they are drained and freed. The model stays listed as unloaded. */
void serve_manager_unload(serve_manager *mm, const char *name, serve_manager_done_fn done,
                          void *ctx);

/* The repository index: every model in the repository or in the table;
 * models with versions give one row per version (versions being unloaded
 * show as UNAVAILABLE, reason "unloading"), the others one row with version
 * 0: FAILED with the reason, or UNAVAILABLE with "unloaded" / "not loaded".
 * ready_only keeps READY rows. Sorted by name, then version. */
status serve_manager_index(serve_manager *mm, bool ready_only, serve_model_status **out, size_t *n,
                           errinfo *err);

serve_control_mode serve_manager_control_mode(const serve_manager *mm);

#endif
