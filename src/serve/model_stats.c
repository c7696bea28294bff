/* model_stats.c -- model versions' statistics in Triton's terms. */
#include "model_stats.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void serve_model_stats_of(const serve_model_handle *h, serve_model_stats *out) {
    serve_scheduler_stats s;
    serve_model_handle_stats(h, &s);
    /* compute_ns is per execution; a batch of k requests counts k times. */
    uint64_t compute = s.executions ? (uint64_t)((double)s.compute_ns * (double)s.success /
                                                 (double)s.executions)
                                    : 0;
    out->inference_count = s.inferences;
    out->execution_count = s.executions;
    out->success_count = s.success;
    out->success_ns = s.queue_ns + compute;
    out->fail_count = s.failure;
    out->queue_ns = s.queue_ns;
    out->compute_infer_ns = compute;
}

void serve_model_stats_free(serve_model_stats *rows, size_t n) {
    if (!rows) return;
    for (size_t i = 0; i < n; i++) free(rows[i].name);
    free(rows);
}

static bool wanted(const serve_model_status *row, const char *name, int64_t version) {
    return row->state == SERVE_MODEL_READY && (!name[0] || !strcmp(row->name, name)) &&
           (!version || row->version == version);
}

status serve_model_stats_collect(serve_manager *mm, const char *name, int64_t version,
                                 serve_model_stats **out, size_t *n_out, errinfo *err) {
    serve_model_status *list = NULL;
    serve_model_stats *rows = NULL;
    size_t n = 0, k = 0;
    status st;
    *out = NULL;
    *n_out = 0;
    if (!name) name = "";
    if (name[0]) {     /* an unknown model (or version) is an error, as in Triton */
        serve_model_handle *h;
        if ((st = serve_manager_acquire(mm, name, version, &h, err))) return st;
        serve_model_handle_release(h);
    }
    if ((st = serve_manager_list(mm, &list, &n, err))) return st;
    if (n && !(rows = calloc(n, sizeof *rows))) {
        st = status_fail(err, STATUS_NO_MEMORY, "out of memory collecting model statistics");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        if (!wanted(&list[i], name, version)) continue;
        serve_model_handle *h;
        if (serve_manager_acquire(mm, list[i].name, list[i].version, &h, NULL))
            continue;     /* unloaded since it was listed */
        serve_model_stats_of(h, &rows[k]);
        serve_model_handle_release(h);
        rows[k].version = list[i].version;
        if (!(rows[k].name = strdup(list[i].name))) {
            st = status_fail(err, STATUS_NO_MEMORY, "out of memory collecting model statistics");
            goto fail;
        }
        k++;
    }
    serve_model_status_free(list, n);
    *out = rows;
    *n_out = k;
    return STATUS_OK;
fail:
    serve_model_stats_free(rows, k);
    serve_model_status_free(list, n);
    return st;
}
