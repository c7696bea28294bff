/* cmd_bench.c -- `inferd bench MODEL.onnx`: times the engine alone.
 *
 * No server, no serving core: load the model, fill its inputs with
 * deterministic data, run warmup iterations, then time N runs and report
 * latency percentiles and throughput. The bench/ scripts call this next to
 * ONNX Runtime with the same inputs and thread count. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli.h"
#include "engine/dtype.h"
#include "engine/engine.h"
#include "flags.h"

#define BENCH_MAX_SHAPES 16

typedef struct bench_opts {
    const char *model;
    int threads, batch, iterations, warmup, json, optimize;
    int n_shapes;
    const char *shape_args[BENCH_MAX_SHAPES]; /* "NAME=D1xD2x..." */
} bench_opts;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* "input_ids=1x128" -> shape, if the name matches. */
static int shape_override(const bench_opts *o, const char *name, engine_shape *out) {
    size_t len = strlen(name);
    for (int i = 0; i < o->n_shapes; i++) {
        const char *a = o->shape_args[i];
        if (strncmp(a, name, len) || a[len] != '=') continue;
        engine_shape s = {0};
        const char *p = a + len + 1;
        while (*p && s.rank < ENGINE_MAX_RANK) {
            char *end;
            long long d = strtoll(p, &end, 10);
            if (end == p || d < 0) return -1;
            s.dims[s.rank++] = d;
            p = *end == 'x' ? end + 1 : end;
            if (*end && *end != 'x') return -1;
        }
        *out = s;
        return 1;
    }
    return 0;
}

static status resolve_shape(const bench_opts *o, const engine_io_info *io, engine_shape *s,
                            errinfo *err) {
    int r = shape_override(o, io->name, s);
    if (r < 0) return status_fail(err, STATUS_INVALID_ARGUMENT, "--shape for '%s' is not NAME=D1xD2x...", io->name);
    if (r > 0) return STATUS_OK;
    if (io->rank < 0)
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "input '%s' has no declared shape: give --shape %s=D1xD2x...",
                           io->name, io->name);
    s->rank = io->rank;
    for (int d = 0; d < io->rank; d++) {
        s->dims[d] = io->dims[d];
        if (s->dims[d] >= 0) continue;
        if (d == 0) {
            s->dims[d] = o->batch;
            continue;
        }
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "input '%s' dim %d ('%s') is symbolic: give --shape %s=D1xD2x...",
                           io->name, d, io->dim_names[d] ? io->dim_names[d] : "?", io->name);
    }
    return STATUS_OK;
}

/* Floats uniform in [-1, 1); integers 0 or 1 (valid token ids, masks and
 * indices for any embedding); bools true. Same data every run. */
static void fill_input(engine_tensor *t, uint64_t seed) {
    int64_t n = engine_shape_numel(&t->shape);
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v = dtype_is_float(t->dtype) ? (double)(x >> 11) / 9007199254740992.0 * 2 - 1
                   : t->dtype == ENGINE_BOOL ? 1 : (double)(i & 1);
        dtype_store_double(t->dtype, t->data, i, v);
    }
}

static status make_inputs(const bench_opts *o, const engine_model *m, engine_tensor *in,
                          errinfo *err) {
    for (int i = 0; i < engine_model_input_count(m); i++) {
        const engine_io_info *io = engine_model_input(m, i);
        in[i].dtype = io->dtype;
        status st = resolve_shape(o, io, &in[i].shape, err);
        if (st) return st;
        in[i].nbytes = (size_t)engine_shape_numel(&in[i].shape) * engine_dtype_size(io->dtype);
        in[i].data = calloc(1, in[i].nbytes ? in[i].nbytes : 1);
        if (!in[i].data) return status_fail(err, STATUS_NO_MEMORY, "out of memory for inputs");
        fill_input(&in[i], (uint64_t)i + 1);
    }
    return STATUS_OK;
}

static status run_once(engine_session *s, const engine_model *m, const engine_tensor *in,
                       errinfo *err) {
    engine_tensor out[64];
    int n_out = engine_model_output_count(m);
    if (n_out > 64) return status_fail(err, STATUS_UNSUPPORTED, "more than 64 outputs");
    status st = engine_session_run(s, in, out, err);
    if (st) return st;
    for (int k = 0; k < n_out; k++) engine_tensor_release(&out[k]);
    return STATUS_OK;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const bench_opts *o, double load_ms, double first_ms, double *lat, int n) {
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    double sum = 0;
    for (int i = 0; i < n; i++) sum += lat[i];
    double p50 = lat[n / 2], p90 = lat[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1], min = lat[0];
    double throughput = o->batch * 1000.0 / (sum / n);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = (double)ru.ru_maxrss / 1024.0;
    printf("model %s: threads %d, batch %d, %d iterations\n", o->model, o->threads, o->batch, n);
    printf("load %.1f ms, first run %.2f ms\n", load_ms, first_ms);
    printf("latency p50 %.3f ms, p90 %.3f ms, min %.3f ms; throughput %.1f samples/s; peak RSS %.1f MB\n",
           p50, p90, min, throughput, rss_mb);
    if (o->json)
        printf("{\"model\":\"%s\",\"threads\":%d,\"batch\":%d,\"iterations\":%d,\"load_ms\":%.3f,"
               "\"first_run_ms\":%.3f,\"p50_ms\":%.4f,\"p90_ms\":%.4f,\"min_ms\":%.4f,"
               "\"throughput\":%.2f,\"peak_rss_mb\":%.1f}\n",
               o->model, o->threads, o->batch, n, load_ms, first_ms, p50, p90, min, throughput,
               rss_mb);
}

static int bench_run(const bench_opts *o) {
    engine_model *m = NULL;
    engine_session *s = NULL;
    engine_tensor in[64] = {{0}};
    double *lat = NULL;
    errinfo err;
    int rc = 1;
    double t0 = now_ms();
    engine_load_options lo = {.optimize = o->optimize};
    if (engine_model_load(o->model, &lo, &m, &err)) goto fail;
    double load_ms = now_ms() - t0;
    engine_session_options so = {.threads = o->threads};
    if (engine_model_input_count(m) > 64) {
        snprintf(err.msg, sizeof err.msg, "more than 64 inputs");
        goto fail;
    }
    if (engine_session_create(m, &so, &s, &err) || make_inputs(o, m, in, &err)) goto fail;
    t0 = now_ms();
    if (run_once(s, m, in, &err)) goto fail;
    double first_ms = now_ms() - t0;
    for (int i = 0; i < o->warmup; i++)
        if (run_once(s, m, in, &err)) goto fail;
    lat = malloc(sizeof *lat * (size_t)o->iterations);
    if (!lat) goto fail;
    double last_progress = now_ms();
    for (int i = 0; i < o->iterations; i++) {
        t0 = now_ms();
        if (run_once(s, m, in, &err)) goto fail;
        lat[i] = now_ms() - t0;
        if (now_ms() - last_progress > 2000) {
            fprintf(stderr, "bench: %d/%d iterations\n", i + 1, o->iterations);
            last_progress = now_ms();
        }
    }
    report(o, load_ms, first_ms, lat, o->iterations);
    rc = 0;
fail:
    if (rc) fprintf(stderr, "inferd bench: %s\n", err.msg);
    free(lat);
    for (int i = 0; i < 64; i++) free(in[i].data);
    engine_session_destroy(s);
    engine_model_destroy(m);
    return rc;
}

int cmd_bench(int argc, char **argv) {
    bench_opts o = {.threads = 1, .batch = 1, .iterations = 50, .warmup = 5, .optimize = 1};
    const char *shape = NULL;
    const flag flags[] = {
        {"threads", FLAG_INT, &o.threads, "T", "intra-op threads (default 1)"},
        {"batch", FLAG_INT, &o.batch, "B", "value of a symbolic first dim (default 1)"},
        {"iterations", FLAG_INT, &o.iterations, "N", "timed runs (default 50)"},
        {"warmup", FLAG_INT, &o.warmup, "W", "untimed runs first (default 5)"},
        {"shape", FLAG_STRING, &shape, "NAME=D1xD2x...", "shape of one input; repeatable"},
        {"json", FLAG_BOOL, &o.json, NULL, "end with one JSON line of the results"},
        {"optimize", FLAG_INT, &o.optimize, "0|1", "load-time graph optimizations (default 1)"},
    };
    int n = (int)(sizeof flags / sizeof flags[0]);
    /* The model path is positional and --shape repeats: collect both before
     * handing the remaining flags to the table parser. */
    char *rest[64];
    int n_rest = 0;
    for (int i = 2; i < argc && n_rest < 63; i++) {
        if (!strcmp(argv[i], "--shape") && i + 1 < argc && o.n_shapes < BENCH_MAX_SHAPES) {
            o.shape_args[o.n_shapes++] = argv[++i];
        } else if (!strncmp(argv[i], "--shape=", 8) && o.n_shapes < BENCH_MAX_SHAPES) {
            o.shape_args[o.n_shapes++] = argv[i] + 8;
        } else if (argv[i][0] != '-' && !o.model && (i == 2 || argv[i - 1][0] != '-' ||
                                                      !strcmp(argv[i - 1], "--json"))) {
            o.model = argv[i];
        } else {
            rest[n_rest++] = argv[i];
        }
    }
    int help;
    errinfo err;
    if (flags_parse(flags, n, n_rest, rest, 0, &help, &err)) {
        fprintf(stderr, "inferd bench: %s\n(see 'inferd bench --help')\n", err.msg);
        return 2;
    }
    if (help) {
        flags_usage(stdout, "inferd bench MODEL.onnx [options]",
                    "Times the engine alone on MODEL.onnx with deterministic inputs and prints\n"
                    "p50/p90/min latency and throughput.", flags, n);
        return 0;
    }
    if (!o.model || o.threads < 1 || o.batch < 1 || o.iterations < 1 || o.warmup < 0) {
        fprintf(stderr, "inferd bench: need MODEL.onnx, threads/batch/iterations >= 1 (see --help)\n");
        return 2;
    }
    return bench_run(&o);
}
