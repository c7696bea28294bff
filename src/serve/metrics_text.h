/* metrics_text.h -- writing the Prometheus text exposition format 0.0.4.
 *
 * A growable buffer plus the few shapes the format has: a family header
 * (# HELP, # TYPE), one sample line with labels, and a histogram's
 * _bucket/_sum/_count lines. Label values and help text are escaped as the
 * format requires (backslash, double quote, newline). Out of memory is
 * sticky: later calls do nothing and metrics_text_take returns NULL.
 *
 *     metrics_text t;
 *     metrics_text_init(&t);
 *     metrics_text_family(&t, "inferd_queue_size", "gauge", "Requests waiting.");
 *     metrics_label l[] = {{"model", "resnet"}};
 *     metrics_text_int(&t, "inferd_queue_size", l, 1, 3);
 *     metrics_text_process(&t);                   // process_* families
 *     size_t len;
 *     char *body = metrics_text_take(&t, &len);   // malloc'd, NULL on OOM
 *
 * Caller-owned; one thread at a time. */
#ifndef INFERD_SERVE_METRICS_TEXT_H
#define INFERD_SERVE_METRICS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

typedef struct metrics_text {
    char *buf;
    size_t len, cap;
    bool oom;
} metrics_text;

typedef struct metrics_label {
    const char *name;
    const char *value;
} metrics_label;

void metrics_text_init(metrics_text *t);
/* Frees whatever was not taken. */
void metrics_text_deinit(metrics_text *t);
/* Hands over the text (NUL-terminated, *len without the NUL) and resets t;
 * NULL if any append ran out of memory. */
char *metrics_text_take(metrics_text *t, size_t *len);

/* "# HELP name help\n# TYPE name type\n"; type is counter, gauge, histogram. */
void metrics_text_family(metrics_text *t, const char *name, const char *type, const char *help);
/* One sample: name{labels} value. Integers are written exactly. */
void metrics_text_int(metrics_text *t, const char *name, const metrics_label *labels, int n,
                      int64_t value);
void metrics_text_uint(metrics_text *t, const char *name, const metrics_label *labels, int n,
                       uint64_t value);
void metrics_text_double(metrics_text *t, const char *name, const metrics_label *labels, int n,
                         double value);
/* name_bucket{labels,le="..."} for every bound and +Inf, name_sum, name_count. */
void metrics_text_histogram(metrics_text *t, const char *name, const metrics_label *labels,
                            int n, const metrics_histogram_snapshot *s);

/* The shortest decimal that reads back as v ("0.00025", "1e-05", "+Inf"). */
void metrics_format_double(char *buf, size_t len, double v);

/* The standard process families (metrics_process.c): CPU seconds, resident
 * and virtual memory, open and max fds, start time. A value /proc does not
 * give is left out rather than reported wrong. */
void metrics_text_process(metrics_text *t);

#endif
