/* test_metrics.c -- the metrics registry and /metrics text: histogram bucket
 * math, number formatting, the exposition format (checked line by line by a
 * small parser of the 0.0.4 text format), label escaping, series order and
 * removal, observations from many threads racing scrapes, the model
 * manager's hooks (fake backend), and the structured log events. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "fake_backend.h"
#include "repo_fixture.h"
#include "serve/metrics.h"
#include "serve/metrics_text.h"
#include "serve/model_manager.h"
#include "serve/serve_metrics.h"
#include "serve_test.h"

#define MS 1000000ull /* nanoseconds */

static char *render(serve_metrics *reg) {
    char *text = NULL;
    size_t len = 0;
    errinfo err;
    CHECK_OK_MSG(serve_metrics_render(reg, &text, &len, &err), err.msg);
    CHECK(text && strlen(text) == len);
    return text;
}

/* True if `text` has exactly this line. */
static bool has_line(const char *text, const char *line) {
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n') return true;
    return false;
}

#define CHECK_LINE(text, line)                                                     \
    do {                                                                           \
        bool ok_ = has_line((text), (line));                                       \
        CHECK(ok_);                                                                \
        if (!ok_) fprintf(stderr, "  missing line: %s\n", (line));                 \
    } while (0)

static int count_substr(const char *text, const char *s) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, s)); p += strlen(s)) n++;
    return n;
}

/* --- buckets and formatting -------------------------------------------------------- */

static void test_bucket_math(void) {
    metrics_histogram h;
    metrics_histogram_init(&h, &metrics_buckets_seconds);
    CHECK(metrics_buckets_seconds.n == 16);
    CHECK(h.le[0] == 100000 && h.le[1] == 250000 && h.le[15] == 10000000000ull);
    /* a bucket counts values <= its bound */
    uint64_t obs[] = {0, 100000, 100001, 250000, 999999, 10000000000ull, 10000000001ull,
                      20000000000ull};
    uint64_t sum = 0;
    for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++) {
        metrics_histogram_observe(&h, obs[i]);
        sum += obs[i];
    }
    metrics_histogram_snapshot s;
    metrics_histogram_read(&h, &s);
    CHECK(s.cumulative[0] == 2);  /* le 0.0001: 0, 100000 */
    CHECK(s.cumulative[1] == 4);  /* le 0.00025: + 100001, 250000 */
    CHECK(s.cumulative[2] == 4);  /* le 0.0005 */
    CHECK(s.cumulative[3] == 5);  /* le 0.001: + 999999 */
    CHECK(s.cumulative[14] == 5); /* le 5 */
    CHECK(s.cumulative[15] == 6); /* le 10: + exactly 10 s */
    CHECK(s.cumulative[16] == 8 && s.count == 8); /* +Inf */
    CHECK(fabs(s.sum - (double)sum / 1e9) < 1e-9);
    for (int i = 1; i <= 16; i++) CHECK(s.cumulative[i] >= s.cumulative[i - 1]);

    metrics_histogram b;
    metrics_histogram_init(&b, &metrics_buckets_batch);
    uint64_t sizes[] = {1, 1, 3, 8, 2000};
    for (size_t i = 0; i < 5; i++) metrics_histogram_observe(&b, sizes[i]);
    metrics_histogram_read(&b, &s);
    CHECK(s.cumulative[0] == 2 && s.cumulative[1] == 2 && s.cumulative[2] == 3);
    CHECK(s.cumulative[3] == 4 && s.cumulative[10] == 4 && s.cumulative[11] == 5);
    CHECK(s.sum == 2013 && s.count == 5);
}

static void test_format_double(void) {
    char b[40];
    struct { double v; const char *want; } cases[] = {
        {0.0001, "0.0001"}, {0.00025, "0.00025"}, {2.5, "2.5"}, {10, "10"}, {0, "0"},
        {1e-9, "1e-09"},    {0.1 + 0.2, "0.30000000000000004"}, {1795382070.36, "1795382070.36"},
        {-3, "-3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        metrics_format_double(b, sizeof b, cases[i].v);
        CHECK_STR(b, cases[i].want);
    }
    metrics_format_double(b, sizeof b, INFINITY);
    CHECK_STR(b, "+Inf");
    metrics_format_double(b, sizeof b, -INFINITY);
    CHECK_STR(b, "-Inf");
    metrics_format_double(b, sizeof b, NAN);
    CHECK_STR(b, "NaN");
}

static void test_reasons(void) {
    CHECK_STR(serve_metrics_reason(STATUS_OK), "");
    CHECK_STR(serve_metrics_reason(STATUS_INVALID_ARGUMENT), "invalid_input");
    CHECK_STR(serve_metrics_reason(STATUS_RESOURCE_EXHAUSTED), "queue_full");
    CHECK_STR(serve_metrics_reason(STATUS_DEADLINE_EXCEEDED), "timeout");
    CHECK_STR(serve_metrics_reason(STATUS_CANCELLED), "cancelled");
    CHECK_STR(serve_metrics_reason(STATUS_UNAVAILABLE), "unavailable");
    CHECK_STR(serve_metrics_reason(STATUS_NO_MEMORY), "out_of_memory");
    CHECK_STR(serve_metrics_reason(STATUS_INTERNAL), "internal");
    CHECK_STR(serve_metrics_reason(STATUS_IO_ERROR), "internal");
}

/* --- a checker for the text format ------------------------------------------------------ */

typedef struct fam_seen {
    char name[96];
    char type[16];
} fam_seen;

/* Reads one label set `{a="x",b="y"}` starting at *p; returns false on a
 * syntax error. Copies the value of label `want` (if present) to out. */
static bool parse_labels(const char **p, const char *want, char *out, size_t cap) {
    const char *s = *p;
    if (*s != '{') return true;
    s++;
    while (*s != '}') {
        const char *k = s;
        while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' ||
               (s > k && *s >= '0' && *s <= '9'))
            s++;
        if (s == k || *s++ != '=' || *s++ != '"') return false;
        bool match = want && (size_t)(s - 2 - k) == strlen(want) && !strncmp(k, want, strlen(want));
        size_t o = 0;
        while (*s && *s != '"') {
            if (*s == '\\') {
                s++;
                if (*s != '\\' && *s != '"' && *s != 'n') return false;
            }
            if (*s == '\n') return false; /* raw newline inside a value */
            if (match && o + 1 < cap) out[o++] = *s;
            s++;
        }
        if (match) out[o] = '\0';
        if (*s++ != '"') return false;
        if (*s == ',') s++;
        else if (*s != '}') return false;
    }
    *p = s + 1;
    return true;
}

/* Checks the whole exposition: every family announced once by HELP then
 * TYPE, samples only under their own family (histograms as _bucket/_sum/
 * _count with an le label on buckets), values that parse, and per series
 * buckets that never decrease and end in +Inf equal to _count. Returns the
 * number of problems (each printed). */
static int check_exposition(const char *text) {
    int bad = 0, n_fam = 0;
    fam_seen fams[64];
    char cur[96] = "", type[16] = "";
    double last_bucket = -1, inf_bucket = -1;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        if (!end) {
            fprintf(stderr, "  exposition does not end in a newline\n");
            return bad + 1;
        }
        char buf[1024];
        size_t len = (size_t)(end - line);
        if (len >= sizeof buf) len = sizeof buf - 1;
        memcpy(buf, line, len);
        buf[len] = '\0';
        line = end + 1;
        char name[96];
        if (!strncmp(buf, "# HELP ", 7)) {
            if (sscanf(buf + 7, "%95s", name) != 1) bad++;
            for (int i = 0; i < n_fam; i++)
                if (!strcmp(fams[i].name, name)) {
                    fprintf(stderr, "  family %s announced twice\n", name);
                    bad++;
                }
            snprintf(cur, sizeof cur, "%s", name);
            type[0] = '\0';
            continue;
        }
        if (!strncmp(buf, "# TYPE ", 7)) {
            char t[16];
            if (sscanf(buf + 7, "%95s %15s", name, t) != 2 || strcmp(name, cur) ||
                (strcmp(t, "counter") && strcmp(t, "gauge") && strcmp(t, "histogram"))) {
                fprintf(stderr, "  bad TYPE line: %s\n", buf);
                bad++;
            }
            snprintf(type, sizeof type, "%s", t);
            if (n_fam < 64) {
                snprintf(fams[n_fam].name, sizeof fams[n_fam].name, "%s", name);
                snprintf(fams[n_fam].type, sizeof fams[n_fam].type, "%s", t);
                n_fam++;
            }
            continue;
        }
        /* a sample: name{labels} value */
        const char *p = buf;
        size_t nl = strcspn(p, "{ ");
        snprintf(name, sizeof name, "%.*s", (int)nl, p);
        p += nl;
        char le[32] = "";
        if (!parse_labels(&p, "le", le, sizeof le) || *p != ' ') {
            fprintf(stderr, "  bad sample syntax: %s\n", buf);
            bad++;
            continue;
        }
        char *vend;
        double v = strtod(p + 1, &vend);
        if (*vend || vend == p + 1) {
            fprintf(stderr, "  bad value: %s\n", buf);
            bad++;
        }
        bool hist = !strcmp(type, "histogram");
        size_t cl = strlen(cur);
        const char *suffix = !strncmp(name, cur, cl) ? name + cl : NULL;
        bool ok = suffix && (hist ? !strcmp(suffix, "_bucket") || !strcmp(suffix, "_sum") ||
                                        !strcmp(suffix, "_count")
                                  : !*suffix);
        if (!ok) {
            fprintf(stderr, "  sample %s outside its family (%s %s)\n", name, cur, type);
            bad++;
            continue;
        }
        if (hist && !strcmp(suffix, "_bucket")) {
            if (!le[0]) {
                fprintf(stderr, "  bucket without le: %s\n", buf);
                bad++;
            }
            if (v < last_bucket) {
                fprintf(stderr, "  buckets decrease: %s\n", buf);
                bad++;
            }
            last_bucket = v;
            if (!strcmp(le, "+Inf")) inf_bucket = v;
        } else if (hist && !strcmp(suffix, "_count")) {
            if (v != inf_bucket) {
                fprintf(stderr, "  _count %g differs from the +Inf bucket %g\n", v, inf_bucket);
                bad++;
            }
            last_bucket = inf_bucket = -1;
        }
    }
    return bad;
}

/* --- exposition ------------------------------------------------------------------------- */

static serve_timing timing(uint64_t queue_ns, uint64_t compute_ns, uint64_t total_ns) {
    serve_timing t = {.arrival_ns = 1000};
    t.queue_start_ns = t.arrival_ns + 10;
    t.queue_end_ns = t.queue_start_ns + queue_ns;
    t.compute_start_ns = t.queue_end_ns + 10;
    t.compute_end_ns = t.compute_start_ns + compute_ns;
    (void)total_ns;
    return t;
}

static void test_exposition(void) {
    serve_metrics *reg = NULL;
    errinfo err;
    CHECK_OK_MSG(serve_metrics_create(&reg, &err), err.msg);
    if (!reg) return;
    serve_model_metrics *a1, *a2, *a10, *b2, *odd;
    CHECK_OK_MSG(serve_metrics_add_model(reg, "b", 2, &b2, &err), err.msg);
    CHECK_OK_MSG(serve_metrics_add_model(reg, "a", 10, &a10, &err), err.msg);
    CHECK_OK_MSG(serve_metrics_add_model(reg, "a", 1, &a1, &err), err.msg);
    CHECK_OK_MSG(serve_metrics_add_model(reg, "a", 2, &a2, &err), err.msg);
    CHECK_OK_MSG(serve_metrics_add_model(reg, "we\"ird\\na\nme", 1, &odd, &err), err.msg);

    /* a:1 -- two successes, a queue-full, a timeout that waited 3 ms, a
     * cancellation after 2 ms */
    serve_timing t = timing(1 * MS, 2 * MS, 0);
    serve_metrics_observe_request(a1, STATUS_OK, &t, t.compute_end_ns + 100);
    t = timing(0, 40 * MS, 0);
    serve_metrics_observe_request(a1, STATUS_OK, &t, t.arrival_ns + 2 * 1000 * MS);
    serve_timing refused = {.arrival_ns = 5, .queue_start_ns = 6};
    serve_metrics_observe_request(a1, STATUS_RESOURCE_EXHAUSTED, &refused, 7);
    serve_timing timed_out = {.arrival_ns = 5, .queue_start_ns = 10, .queue_end_ns = 10 + 3 * MS};
    serve_metrics_observe_request(a1, STATUS_DEADLINE_EXCEEDED, &timed_out, 10 + 3 * MS);
    /* dropped by a timer without a queue_end stamp: it left the queue when completed */
    serve_timing gone = {.arrival_ns = 5, .queue_start_ns = 10};
    serve_metrics_observe_request(a1, STATUS_CANCELLED, &gone, 10 + 2 * MS);
    serve_metrics_observe_execution(a1, 1, 2 * MS);
    serve_metrics_observe_execution(a1, 6, 40 * MS);
    serve_model_metrics_set_ready(a1, true);
    serve_model_metrics_set_load_duration(a1, 1500 * MS);
    serve_metrics_observe_request(odd, STATUS_INTERNAL, NULL, 0);

    char *text = render(reg);
    if (!text) goto out;
    CHECK(check_exposition(text) == 0);

    /* every family once, in order */
    static const char *const families[] = {
        "inferd_requests_total counter", "inferd_request_duration_seconds histogram",
        "inferd_queue_duration_seconds histogram", "inferd_compute_duration_seconds histogram",
        "inferd_batch_size histogram", "inferd_inference_count_total counter",
        "inferd_execution_count_total counter", "inferd_queue_size gauge",
        "inferd_inflight_requests gauge", "inferd_model_ready gauge",
        "inferd_model_load_duration_seconds gauge", "process_cpu_seconds_total counter",
        "process_resident_memory_bytes gauge", "process_virtual_memory_bytes gauge",
        "process_open_fds gauge", "process_max_fds gauge", "process_start_time_seconds gauge"};
    const char *prev = text;
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        char want[128];
        snprintf(want, sizeof want, "# TYPE %s\n", families[i]);
        const char *at = strstr(text, want);
        CHECK(at && at >= prev && count_substr(text, want) == 1);
        if (!at) fprintf(stderr, "  missing: %s", want);
        else prev = at;
    }

    CHECK_LINE(text, "inferd_requests_total{model=\"a\",version=\"1\",status=\"success\",reason=\"\"} 2");
    CHECK_LINE(text, "inferd_requests_total{model=\"a\",version=\"1\",status=\"failure\",reason=\"queue_full\"} 1");
    CHECK_LINE(text, "inferd_requests_total{model=\"a\",version=\"1\",status=\"failure\",reason=\"timeout\"} 1");
    CHECK_LINE(text, "inferd_requests_total{model=\"a\",version=\"2\",status=\"failure\",reason=\"internal\"} 0");
    /* success: 3.1 ms and 2 s */
    CHECK_LINE(text, "inferd_request_duration_seconds_bucket{model=\"a\",version=\"1\",le=\"0.0025\"} 0");
    CHECK_LINE(text, "inferd_request_duration_seconds_bucket{model=\"a\",version=\"1\",le=\"0.005\"} 1");
    CHECK_LINE(text, "inferd_request_duration_seconds_bucket{model=\"a\",version=\"1\",le=\"1\"} 1");
    CHECK_LINE(text, "inferd_request_duration_seconds_bucket{model=\"a\",version=\"1\",le=\"2.5\"} 2");
    CHECK_LINE(text, "inferd_request_duration_seconds_bucket{model=\"a\",version=\"1\",le=\"+Inf\"} 2");
    CHECK_LINE(text, "inferd_request_duration_seconds_count{model=\"a\",version=\"1\"} 2");
    /* queue: 1 ms, 0, the 3 ms of the timed-out one and the 2 ms of the
     * cancelled one; not the refused one */
    CHECK_LINE(text, "inferd_queue_duration_seconds_bucket{model=\"a\",version=\"1\",le=\"0.0001\"} 1");
    CHECK_LINE(text, "inferd_queue_duration_seconds_bucket{model=\"a\",version=\"1\",le=\"0.001\"} 2");
    CHECK_LINE(text, "inferd_queue_duration_seconds_bucket{model=\"a\",version=\"1\",le=\"0.0025\"} 3");
    CHECK_LINE(text, "inferd_queue_duration_seconds_count{model=\"a\",version=\"1\"} 4");
    CHECK_LINE(text, "inferd_queue_duration_seconds_sum{model=\"a\",version=\"1\"} 0.006");
    CHECK_LINE(text, "inferd_requests_total{model=\"a\",version=\"1\",status=\"failure\",reason=\"cancelled\"} 1");
    CHECK_LINE(text, "inferd_compute_duration_seconds_count{model=\"a\",version=\"1\"} 2");
    CHECK_LINE(text, "inferd_compute_duration_seconds_sum{model=\"a\",version=\"1\"} 0.042");
    CHECK_LINE(text, "inferd_batch_size_bucket{model=\"a\",version=\"1\",le=\"4\"} 1");
    CHECK_LINE(text, "inferd_batch_size_bucket{model=\"a\",version=\"1\",le=\"8\"} 2");
    CHECK_LINE(text, "inferd_batch_size_sum{model=\"a\",version=\"1\"} 7");
    CHECK_LINE(text, "inferd_inference_count_total{model=\"a\",version=\"1\"} 7");
    CHECK_LINE(text, "inferd_execution_count_total{model=\"a\",version=\"1\"} 2");
    CHECK_LINE(text, "inferd_queue_size{model=\"a\"} 0");
    CHECK_LINE(text, "inferd_inflight_requests{model=\"b\"} 0");
    CHECK_LINE(text, "inferd_model_ready{model=\"a\",version=\"1\"} 1");
    CHECK_LINE(text, "inferd_model_ready{model=\"a\",version=\"2\"} 0");
    CHECK_LINE(text, "inferd_model_load_duration_seconds{model=\"a\",version=\"1\"} 1.5");
    CHECK_LINE(text, "inferd_model_load_duration_seconds{model=\"b\",version=\"2\"} 0");
    /* label values escaped: quote, backslash, newline */
    CHECK_LINE(text, "inferd_requests_total{model=\"we\\\"ird\\\\na\\nme\",version=\"1\","
                     "status=\"failure\",reason=\"internal\"} 1");
    /* one gauge sample per model, not per version */
    CHECK(count_substr(text, "inferd_queue_size{model=\"a\"}") == 1);
    /* versions in numeric order, models sorted */
    const char *v1 = strstr(text, "inferd_model_ready{model=\"a\",version=\"1\"}");
    const char *v2 = strstr(text, "inferd_model_ready{model=\"a\",version=\"2\"}");
    const char *v10 = strstr(text, "inferd_model_ready{model=\"a\",version=\"10\"}");
    const char *vb = strstr(text, "inferd_model_ready{model=\"b\",version=\"2\"}");
    CHECK(v1 && v2 && v10 && vb && v1 < v2 && v2 < v10 && v10 < vb);
    CHECK(strstr(text, "\nprocess_resident_memory_bytes ") && strstr(text, "\nprocess_open_fds "));
    free(text);

    /* unregistered series leave the text; observations still land */
    serve_model_metrics_unregister(a2);
    serve_model_metrics_unregister(a2); /* idempotent */
    serve_metrics_observe_request(a2, STATUS_OK, NULL, 0);
    serve_model_metrics_destroy(b2);
    b2 = NULL;
    text = render(reg);
    if (text) {
        CHECK(!strstr(text, "version=\"2\""));
        CHECK(!strstr(text, "model=\"b\""));
        CHECK(strstr(text, "version=\"10\""));
        CHECK(check_exposition(text) == 0);
        free(text);
    }
out:
    serve_model_metrics_destroy(a1);
    serve_model_metrics_destroy(a2);
    serve_model_metrics_destroy(a10);
    serve_model_metrics_destroy(b2);
    serve_model_metrics_destroy(odd);
    serve_model_metrics_destroy(NULL);
    serve_metrics_destroy(reg);
}

/* An empty registry still gives valid text: headers and process metrics;
 * NULL series are accepted everywhere. */
static void test_empty_and_null(void) {
    serve_metrics *reg = NULL;
    errinfo err;
    CHECK_OK_MSG(serve_metrics_create(&reg, &err), err.msg);
    serve_model_metrics *m = (serve_model_metrics *)1;
    CHECK_OK_MSG(serve_metrics_add_model(NULL, "x", 1, &m, &err), err.msg);
    CHECK(m == NULL);
    serve_metrics_observe_request(NULL, STATUS_OK, NULL, 0);
    serve_metrics_observe_execution(NULL, 4, 1);
    serve_metrics_on_execution(NULL, 4, 1);
    serve_model_metrics_set_ready(NULL, true);
    serve_model_metrics_set_load_duration(NULL, 1);
    serve_model_metrics_set_scheduler(NULL, NULL);
    serve_model_metrics_unregister(NULL);
    if (!reg) return;
    char *text = render(reg);
    if (text) {
        CHECK(check_exposition(text) == 0);
        CHECK(strstr(text, "# TYPE inferd_requests_total counter\n"));
        CHECK(strstr(text, "\nprocess_cpu_seconds_total "));
        free(text);
    }
    serve_metrics_destroy(reg);
    serve_metrics_destroy(NULL);
}

/* A version reloaded in place: two series with the same labels are written
 * as one, and destroying the old copy keeps its counts. */
static void test_reload_twins(void) {
    serve_metrics *reg = NULL;
    errinfo err;
    CHECK_OK_MSG(serve_metrics_create(&reg, &err), err.msg);
    if (!reg) return;
    serve_model_metrics *old = NULL, *fresh = NULL;
    CHECK_OK_MSG(serve_metrics_add_model(reg, "t", 1, &old, &err), err.msg);
    serve_model_metrics_set_ready(old, true);
    serve_model_metrics_set_load_duration(old, 2000 * MS);
    serve_timing t = timing(MS, MS, 0);
    for (int i = 0; i < 3; i++) serve_metrics_observe_request(old, STATUS_OK, &t, t.compute_end_ns);
    serve_metrics_observe_execution(old, 4, MS);
    CHECK_OK_MSG(serve_metrics_add_model(reg, "t", 1, &fresh, &err), err.msg);
    serve_metrics_observe_request(fresh, STATUS_OK, &t, t.compute_end_ns);
    serve_model_metrics_set_ready(old, false); /* draining */

    char *text = render(reg);
    if (text) {
        CHECK(check_exposition(text) == 0);
        CHECK(count_substr(text, "inferd_model_ready{model=\"t\",version=\"1\"}") == 1);
        CHECK_LINE(text, "inferd_model_ready{model=\"t\",version=\"1\"} 0");
        CHECK_LINE(text, "inferd_requests_total{model=\"t\",version=\"1\",status=\"success\",reason=\"\"} 4");
        CHECK_LINE(text, "inferd_request_duration_seconds_count{model=\"t\",version=\"1\"} 4");
        CHECK_LINE(text, "inferd_model_load_duration_seconds{model=\"t\",version=\"1\"} 2");
        free(text);
    }
    serve_model_metrics_set_ready(fresh, true);
    serve_model_metrics_set_load_duration(fresh, 500 * MS);
    serve_model_metrics_destroy(old); /* its counts move to the new copy */
    text = render(reg);
    if (text) {
        CHECK(check_exposition(text) == 0);
        CHECK_LINE(text, "inferd_model_ready{model=\"t\",version=\"1\"} 1");
        CHECK_LINE(text, "inferd_requests_total{model=\"t\",version=\"1\",status=\"success\",reason=\"\"} 4");
        CHECK_LINE(text, "inferd_request_duration_seconds_count{model=\"t\",version=\"1\"} 4");
        CHECK_LINE(text, "inferd_inference_count_total{model=\"t\",version=\"1\"} 4");
        CHECK_LINE(text, "inferd_model_load_duration_seconds{model=\"t\",version=\"1\"} 0.5");
        free(text);
    }
    serve_model_metrics_destroy(fresh);
    serve_metrics_destroy(reg);
}

/* --- concurrency -------------------------------------------------------------------------- */

#define THREADS 6
#define PER_THREAD 20000

typedef struct race {
    serve_metrics *reg;
    serve_model_metrics *m;
    atomic_int stop;
    int renders;
} race;

static void *observer(void *arg) {
    race *r = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        serve_timing t = timing((uint64_t)i * 1000, 5000, 0);
        serve_metrics_observe_request(r->m, i % 4 ? STATUS_OK : STATUS_CANCELLED, &t,
                                      t.compute_end_ns);
        serve_metrics_observe_execution(r->m, 1 + i % 3, 5000);
    }
    return NULL;
}

static void *scraper(void *arg) {
    race *r = arg;
    while (!atomic_load(&r->stop)) {
        char *text = NULL;
        size_t len;
        errinfo err;
        if (serve_metrics_render(r->reg, &text, &len, &err) == STATUS_OK) r->renders++;
        free(text);
    }
    return NULL;
}

/* Adds and removes series while the others observe and scrape. */
static void *churner(void *arg) {
    race *r = arg;
    for (int i = 0; i < 300 && !atomic_load(&r->stop); i++) {
        serve_model_metrics *m = NULL;
        errinfo err;
        if (serve_metrics_add_model(r->reg, i % 2 ? "churn" : "aaa", i, &m, &err)) continue;
        serve_metrics_observe_request(m, STATUS_OK, NULL, 0);
        serve_model_metrics_set_ready(m, true);
        serve_model_metrics_destroy(m);
    }
    return NULL;
}

static void test_concurrency(void) {
    race r = {0};
    errinfo err;
    CHECK_OK_MSG(serve_metrics_create(&r.reg, &err), err.msg);
    if (!r.reg) return;
    CHECK_OK_MSG(serve_metrics_add_model(r.reg, "hot", 1, &r.m, &err), err.msg);
    pthread_t obs[THREADS], scr, churn;
    pthread_create(&scr, NULL, scraper, &r);
    pthread_create(&churn, NULL, churner, &r);
    for (int i = 0; i < THREADS; i++) pthread_create(&obs[i], NULL, observer, &r);
    for (int i = 0; i < THREADS; i++) pthread_join(obs[i], NULL);
    pthread_join(churn, NULL);
    atomic_store(&r.stop, 1);
    pthread_join(scr, NULL);
    CHECK(r.renders > 0);

    char *text = render(r.reg);
    if (text) {
        char want[160];
        int total = THREADS * PER_THREAD, cancelled = THREADS * (PER_THREAD / 4);
        snprintf(want, sizeof want,
                 "inferd_requests_total{model=\"hot\",version=\"1\",status=\"success\",reason=\"\"} %d",
                 total - cancelled);
        CHECK_LINE(text, want);
        snprintf(want, sizeof want,
                 "inferd_requests_total{model=\"hot\",version=\"1\",status=\"failure\","
                 "reason=\"cancelled\"} %d", cancelled);
        CHECK_LINE(text, want);
        snprintf(want, sizeof want, "inferd_execution_count_total{model=\"hot\",version=\"1\"} %d",
                 total);
        CHECK_LINE(text, want);
        /* batch sizes 1,2,3 repeating: PER_THREAD = 3k+2 -> sum per thread */
        long per = 0;
        for (int i = 0; i < PER_THREAD; i++) per += 1 + i % 3;
        snprintf(want, sizeof want, "inferd_inference_count_total{model=\"hot\",version=\"1\"} %ld",
                 per * THREADS);
        CHECK_LINE(text, want);
        snprintf(want, sizeof want,
                 "inferd_compute_duration_seconds_count{model=\"hot\",version=\"1\"} %d", total);
        CHECK_LINE(text, want);
        CHECK(!strstr(text, "churn"));
        CHECK(check_exposition(text) == 0);
        free(text);
    }
    serve_model_metrics_destroy(r.m);
    serve_metrics_destroy(r.reg);
}

/* --- the model manager's hooks ------------------------------------------------------------------ */

typedef struct done_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} done_wait;

static void on_done(serve_request *r, void *ctx) {
    (void)r;
    done_wait *w = ctx;
    pthread_mutex_lock(&w->mu);
    w->done++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void submit_and_wait(serve_manager *mm, const char *input, int64_t rows) {
    static float xs[16];
    done_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    serve_request *r = NULL;
    errinfo err;
    if (serve_request_create("m", 0, &r, &err)) return;
    engine_shape s = {2, {rows, 4}};
    serve_request_add_input(r, input, ENGINE_FLOAT, &s, xs, (size_t)rows * 16, false, &err);
    serve_request_set_callback(r, on_done, &w);
    serve_manager_submit(mm, r);
    pthread_mutex_lock(&w.mu);
    while (!w.done) pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    serve_request_destroy(r);
}

static void test_manager_hooks(void) {
    char root[64];
    if (repo_make_root(root)) return;
    repo_write(root, "m/config.pbtxt", "max_batch_size: 8\n");
    repo_write(root, "m/1/model.onnx", "in x FP32 -1 4\nout y FP32 -1 4\n");
    repo_write(root, "broken/1/model.onnx", "fail corrupt file\n");
    static const serve_backend *const backends[] = {&fake_backend, NULL};
    serve_metrics *reg = NULL;
    serve_manager *mm = NULL;
    errinfo err;
    CHECK_OK_MSG(serve_metrics_create(&reg, &err), err.msg);
    serve_manager_options o = {.repository = root, .backends = backends, .load_threads = 1,
                               .threads_per_instance = 1, .metrics = reg};
    CHECK_OK_MSG(serve_manager_create(&o, &mm, &err), err.msg);
    if (!mm || !reg) goto out;
    CHECK(serve_manager_wait_ready(mm, 20000));
    submit_and_wait(mm, "x", 3);
    submit_and_wait(mm, "nope", 1); /* invalid input */

    char *text = render(reg);
    if (text) {
        CHECK(check_exposition(text) == 0);
        CHECK_LINE(text, "inferd_requests_total{model=\"m\",version=\"1\",status=\"success\",reason=\"\"} 1");
        CHECK_LINE(text, "inferd_requests_total{model=\"m\",version=\"1\",status=\"failure\","
                         "reason=\"invalid_input\"} 1");
        CHECK_LINE(text, "inferd_request_duration_seconds_count{model=\"m\",version=\"1\"} 1");
        CHECK_LINE(text, "inferd_queue_duration_seconds_count{model=\"m\",version=\"1\"} 1");
        CHECK_LINE(text, "inferd_compute_duration_seconds_count{model=\"m\",version=\"1\"} 1");
        CHECK_LINE(text, "inferd_execution_count_total{model=\"m\",version=\"1\"} 1");
        CHECK_LINE(text, "inferd_inference_count_total{model=\"m\",version=\"1\"} 3");
        CHECK_LINE(text, "inferd_model_ready{model=\"m\",version=\"1\"} 1");
        CHECK_LINE(text, "inferd_model_ready{model=\"broken\",version=\"1\"} 0");
        CHECK_LINE(text, "inferd_queue_size{model=\"m\"} 0");
        CHECK(!strstr(text, "inferd_model_load_duration_seconds{model=\"m\",version=\"1\"} 0\n"));
        free(text);
    }
    /* the scheduler counts a request out of flight just after its callback */
    for (int i = 0; i < 200; i++) {
        text = render(reg);
        bool zero = text && has_line(text, "inferd_inflight_requests{model=\"m\"} 0");
        free(text);
        if (zero) break;
        CHECK(i < 199);
        usleep(5000);
    }
out:
    serve_manager_destroy(mm);
    /* the manager removed its series: nothing is left but headers */
    if (reg) {
        text = render(reg);
        if (text) CHECK(!strstr(text, "model=\"m\""));
        free(text);
    }
    serve_metrics_destroy(reg);
    repo_remove(root);
}

/* --- log events --------------------------------------------------------------------------------- */

static char out[8192];
#define CAPTURE(body)                                       \
    do {                                                    \
        FILE *tmp_ = tmpfile();                             \
        if (!tmp_) break;                                   \
        log_set_fd(fileno(tmp_));                           \
        body;                                               \
        log_set_fd(-1);                                     \
        fseek(tmp_, 0, SEEK_SET);                           \
        size_t n_ = fread(out, 1, sizeof out - 1, tmp_);    \
        out[n_] = '\0';                                     \
        fclose(tmp_);                                       \
    } while (0)

static void test_log_event(void) {
    log_field f[] = {LOG_STR("id", "4\"2"),         LOG_STR("model", "m"),
                     LOG_INT("version", 3),         LOG_STR("status", "OK"),
                     LOG_NUM("latency_ms", 1.5),    LOG_STR("error", "queue is full")};
    log_set_verbose(1);
    log_set_format(LOG_FORMAT_TEXT);
    CAPTURE(log_event(LOG_VERBOSE, 1, "request", f, 6));
    CHECK(strstr(out, "Z VERBOSE request id=\"4\\\"2\" model=m version=3 status=OK "
                      "latency_ms=1.500 error=\"queue is full\"\n") != NULL);

    log_set_format(LOG_FORMAT_JSON);
    CAPTURE(log_event(LOG_VERBOSE, 1, "request", f, 6));
    json_doc *doc = NULL;
    errinfo err;
    CHECK_OK_MSG(json_parse(out, strlen(out), NULL, &doc, &err), err.msg);
    const json_value *root = json_root(doc);
    size_t len;
    CHECK_STR(json_get_string(json_object_get(root, "msg"), &len), "request");
    CHECK_STR(json_get_string(json_object_get(root, "level"), &len), "VERBOSE");
    CHECK_STR(json_get_string(json_object_get(root, "id"), &len), "4\"2");
    CHECK(json_get_int64(json_object_get(root, "version")) == 3);
    CHECK(json_get_number(json_object_get(root, "latency_ms")) == 1.5);
    CHECK(strchr(out, '\n') == out + strlen(out) - 1);
    json_doc_free(doc);

    /* verbosity gates it; a huge value never breaks the JSON */
    log_set_verbose(0);
    CAPTURE(log_event(LOG_VERBOSE, 1, "request", f, 6));
    CHECK(out[0] == '\0');
    static char big[6000];
    memset(big, '"', sizeof big - 1);
    log_field many[8];
    for (int i = 0; i < 8; i++) many[i] = LOG_STR("k", big);
    CAPTURE(log_event(LOG_INFO, 0, big, many, 8));
    doc = NULL;
    CHECK_OK_MSG(json_parse(out, strlen(out), NULL, &doc, &err), err.msg);
    json_doc_free(doc);
    log_set_format(LOG_FORMAT_TEXT);
}

int main(void) {
    log_set_fd(-1);
    test_bucket_math();
    test_format_double();
    test_reasons();
    test_exposition();
    test_empty_and_null();
    test_reload_twins();
    test_concurrency();
    test_manager_hooks();
    test_log_event();
    return test_report("test_metrics");
}
