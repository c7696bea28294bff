/* kserve_stats.c -- GET /v2/models/stats, /v2/models/{m}/stats and
 * /v2/models/{m}/versions/{v}/stats: Triton's statistics extension over
 * REST, the JSON form of the ModelStatisticsResponse message.
 *
 * The figures are gRPC's ModelStatistics (both come from model_stats.h).
 * Counts and nanoseconds are JSON numbers, not protobuf's int64-as-string:
 * Triton's HTTP server writes numbers, and perf_analyzer reads them with
 * rapidjson's GetUint64, which a string would break. Durations inferd does
 * not measure separately (compute input/output, inside the engine's run)
 * are zero; there is no response cache, so no cache hits or misses. */
#include <stdio.h>

#include "common/json.h"
#include "http/kserve_rest.h"
#include "serve/model_stats.h"

static void write_duration(json_writer *w, const char *key, uint64_t count, uint64_t ns) {
    jw_key(w, key);
    jw_begin_object(w);
    jw_key(w, "count");
    jw_uint64(w, count);
    jw_key(w, "ns");
    jw_uint64(w, ns);
    jw_end_object(w);
}

static void write_row(json_writer *w, const serve_model_stats *s) {
    char version[24];
    snprintf(version, sizeof version, "%lld", (long long)s->version);
    jw_begin_object(w);
    jw_key(w, "name");
    jw_cstring(w, s->name);
    jw_key(w, "version");
    jw_cstring(w, version);
    jw_key(w, "inference_count");
    jw_uint64(w, s->inference_count);
    jw_key(w, "execution_count");
    jw_uint64(w, s->execution_count);
    jw_key(w, "inference_stats");
    jw_begin_object(w);
    write_duration(w, "success", s->success_count, s->success_ns);
    write_duration(w, "fail", s->fail_count, 0);
    write_duration(w, "queue", s->success_count, s->queue_ns);
    write_duration(w, "compute_input", s->success_count, 0);
    write_duration(w, "compute_infer", s->success_count, s->compute_infer_ns);
    write_duration(w, "compute_output", s->success_count, 0);
    write_duration(w, "cache_hit", 0, 0);
    write_duration(w, "cache_miss", 0, 0);
    jw_end_object(w);
    jw_key(w, "batch_stats");
    jw_begin_array(w);
    jw_end_array(w);
    jw_end_object(w);
}

void kserve_model_stats(kserve_rest *api, http_exchange *ex, const char *model,
                        int64_t version) {
    serve_model_stats *rows;
    size_t n;
    errinfo err;
    status st = serve_model_stats_collect(api->models, model, version, &rows, &n, &err);
    if (st) {
        kserve_respond_error(ex, st, err.msg);
        return;
    }
    json_writer w;
    size_t len = 0;
    jw_init(&w);
    jw_begin_object(&w);
    jw_key(&w, "model_stats");
    jw_begin_array(&w);
    for (size_t i = 0; i < n; i++) write_row(&w, &rows[i]);
    jw_end_array(&w);
    jw_end_object(&w);
    serve_model_stats_free(rows, n);
    char *body = jw_finish(&w, &len);
    kserve_respond_json(ex, 200, body, len);
}
