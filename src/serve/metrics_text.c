/* metrics_text.c -- the Prometheus text format writer. */
#include "metrics_text.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void metrics_text_init(metrics_text *t) { memset(t, 0, sizeof *t); }

void metrics_text_deinit(metrics_text *t) {
    free(t->buf);
    memset(t, 0, sizeof *t);
}

char *metrics_text_take(metrics_text *t, size_t *len) {
    char *out = NULL;
    if (!t->oom && (t->buf || (t->buf = calloc(1, 1)))) {
        out = t->buf;
        *len = t->len;
        t->buf = NULL;
    }
    metrics_text_deinit(t);
    return out;
}

/* Room for `more` bytes plus the NUL. */
static bool reserve(metrics_text *t, size_t more) {
    if (t->oom) return false;
    if (t->len + more + 1 <= t->cap) return true;
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->len + more + 1) cap *= 2;
    char *p = realloc(t->buf, cap);
    if (!p) {
        t->oom = true;
        return false;
    }
    t->buf = p;
    t->cap = cap;
    return true;
}

static void put(metrics_text *t, const char *s, size_t n) {
    if (!reserve(t, n)) return;
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void puts_(metrics_text *t, const char *s) { put(t, s, strlen(s)); }

/* Escapes backslash and newline (help text), and double quotes too when
 * `quote` (label values). */
static void put_escaped(metrics_text *t, const char *s, bool quote) {
    for (; *s; s++) {
        if (*s == '\\') puts_(t, "\\\\");
        else if (*s == '\n') puts_(t, "\\n");
        else if (quote && *s == '"') puts_(t, "\\\"");
        else put(t, s, 1);
    }
}

void metrics_text_family(metrics_text *t, const char *name, const char *type, const char *help) {
    puts_(t, "# HELP ");
    puts_(t, name);
    puts_(t, " ");
    put_escaped(t, help, false);
    puts_(t, "\n# TYPE ");
    puts_(t, name);
    puts_(t, " ");
    puts_(t, type);
    puts_(t, "\n");
}

/* name{a="x",b="y"} -- plus one extra label (le) when extra_name is set. */
static void put_series(metrics_text *t, const char *name, const char *suffix,
                       const metrics_label *labels, int n, const char *extra_name,
                       const char *extra_value) {
    puts_(t, name);
    if (suffix) puts_(t, suffix);
    if (!n && !extra_name) return;
    puts_(t, "{");
    for (int i = 0; i < n; i++) {
        if (i) puts_(t, ",");
        puts_(t, labels[i].name);
        puts_(t, "=\"");
        put_escaped(t, labels[i].value ? labels[i].value : "", true);
        puts_(t, "\"");
    }
    if (extra_name) {
        if (n) puts_(t, ",");
        puts_(t, extra_name);
        puts_(t, "=\"");
        puts_(t, extra_value);
        puts_(t, "\"");
    }
    puts_(t, "}");
}

static void put_value(metrics_text *t, const char *v) {
    puts_(t, " ");
    puts_(t, v);
    puts_(t, "\n");
}

void metrics_text_int(metrics_text *t, const char *name, const metrics_label *labels, int n,
                      int64_t value) {
    char v[32];
    snprintf(v, sizeof v, "%" PRId64, value);
    put_series(t, name, NULL, labels, n, NULL, NULL);
    put_value(t, v);
}

void metrics_text_uint(metrics_text *t, const char *name, const metrics_label *labels, int n,
                       uint64_t value) {
    char v[32];
    snprintf(v, sizeof v, "%" PRIu64, value);
    put_series(t, name, NULL, labels, n, NULL, NULL);
    put_value(t, v);
}

void metrics_format_double(char *buf, size_t len, double v) {
    if (isnan(v)) {
        snprintf(buf, len, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    /* Whole numbers in full ("10", not "1e+01"); otherwise the shortest of
     * %.1g .. %.17g that reads back exactly. */
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, len, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

void metrics_text_double(metrics_text *t, const char *name, const metrics_label *labels, int n,
                         double value) {
    char v[40];
    metrics_format_double(v, sizeof v, value);
    put_series(t, name, NULL, labels, n, NULL, NULL);
    put_value(t, v);
}

void metrics_text_histogram(metrics_text *t, const char *name, const metrics_label *labels,
                            int n, const metrics_histogram_snapshot *s) {
    int nb = s->set->n < METRICS_MAX_BUCKETS ? s->set->n : METRICS_MAX_BUCKETS;
    char le[40], v[40];
    for (int i = 0; i <= nb; i++) {
        if (i < nb) metrics_format_double(le, sizeof le, s->set->bounds[i]);
        else snprintf(le, sizeof le, "+Inf");
        snprintf(v, sizeof v, "%" PRIu64, s->cumulative[i]);
        put_series(t, name, "_bucket", labels, n, "le", le);
        put_value(t, v);
    }
    metrics_format_double(v, sizeof v, s->sum);
    put_series(t, name, "_sum", labels, n, NULL, NULL);
    put_value(t, v);
    snprintf(v, sizeof v, "%" PRIu64, s->count);
    put_series(t, name, "_count", labels, n, NULL, NULL);
    put_value(t, v);
}
