/* log.h -- one line per event on stdout, from any thread.
 *
 * Every line is formatted into one buffer and written with a single write(),
 * so lines from different threads never interleave. Two formats: readable
 * text (the default) and one JSON object per line (`--log-format json`,
 * what log collectors in Kubernetes want).
 *
 *     2026-11-22T20:00:00.123Z INFO loaded model 'resnet50' version 1 (41.2 ms)
 *     {"ts":"2026-11-22T20:00:00.123Z","level":"INFO","msg":"loaded model ..."}
 *
 * Levels: error, warn and info are always written; verbose messages carry a
 * verbosity (1 = log_verbose, 2 = log_debug) and are written only when
 * `--log-verbose N` is at least that high.
 *
 *     log_set_verbose(opts.log_verbose);
 *     log_info("listening on port %d", port);
 *     log_debug("config %s: ignoring field 'parameters'", path);
 *
 * Configuration calls are thread-safe but meant for start-up. */
#ifndef INFERD_LOG_H
#define INFERD_LOG_H

#include <stdarg.h>
#include <stdbool.h>

typedef enum log_level {
    LOG_ERROR = 0,
    LOG_WARN,
    LOG_INFO,
    LOG_VERBOSE
} log_level;

typedef enum log_format {
    LOG_FORMAT_TEXT = 0,
    LOG_FORMAT_JSON
} log_format;

/* --log-verbose N: verbose messages of verbosity <= N are written. 0 (the
 * default) writes none. */
void log_set_verbose(int n);
int log_get_verbose(void);
void log_set_format(log_format f);
/* Where lines go: 1 (stdout) by default. -1 discards everything (fuzzers,
 * tests that provoke errors on purpose). */
void log_set_fd(int fd);

/* True if a message at this level and verbosity would be written; lets a
 * caller skip building expensive arguments. */
bool log_enabled(log_level lvl, int verbosity);

/* Writes one line. `verbosity` only matters for LOG_VERBOSE. A message
 * longer than the line buffer (4 KiB) is cut and ends in "...". */
void log_write(log_level lvl, int verbosity, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vwrite(log_level lvl, int verbosity, const char *fmt, va_list ap);

/* An event with named fields, for what log collectors query: requests and
 * model load/unload. JSON writes each field as its own member after "msg"
 *     {"ts":"...","level":"VERBOSE","msg":"request","id":"42","model":"m",
 *      "version":1,"status":"OK","latency_ms":1.25}
 * text appends key=value pairs (values with spaces or quotes in quotes):
 *     2026-11-22T20:00:00.123Z VERBOSE request id=42 model=m version=1 ...
 *
 *     log_field f[] = {LOG_STR("model", name), LOG_INT("version", v),
 *                      LOG_NUM("latency_ms", ms)};
 *     log_event(LOG_VERBOSE, 1, "request", f, 3);                     */
typedef enum log_field_kind { LOG_FIELD_STR = 0, LOG_FIELD_INT, LOG_FIELD_NUM } log_field_kind;

typedef struct log_field {
    const char *key;          /* plain [a-z_] name */
    log_field_kind kind;
    const char *s;            /* LOG_FIELD_STR; NULL reads as "" */
    long long i;              /* LOG_FIELD_INT */
    double d;                 /* LOG_FIELD_NUM; written with 3 decimals */
} log_field;

#define LOG_STR(k, v) ((log_field){.key = (k), .kind = LOG_FIELD_STR, .s = (v)})
#define LOG_INT(k, v) ((log_field){.key = (k), .kind = LOG_FIELD_INT, .i = (v)})
#define LOG_NUM(k, v) ((log_field){.key = (k), .kind = LOG_FIELD_NUM, .d = (v)})

void log_event(log_level lvl, int verbosity, const char *msg, const log_field *fields, int n);

#define log_error(...) log_write(LOG_ERROR, 0, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, 0, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, 0, __VA_ARGS__)
#define log_verbose(...) log_write(LOG_VERBOSE, 1, __VA_ARGS__)
#define log_debug(...) log_write(LOG_VERBOSE, 2, __VA_ARGS__)

#endif
