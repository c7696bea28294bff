/* log.c -- formats a line into one buffer and hands it to one write().
 *
 * No lock: POSIX makes a single write() to a pipe atomic up to PIPE_BUF and
 * regular files opened by the shell (O_APPEND) keep whole writes together, so
 * one write per line is what keeps threads from interleaving. */
#include "log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static atomic_int log_verbosity = 0;
static atomic_int log_fmt = LOG_FORMAT_TEXT;
static atomic_int log_fd = 1;

static const char *const log_level_names[] = {"ERROR", "WARN", "INFO", "VERBOSE"};

void log_set_verbose(int n) { atomic_store(&log_verbosity, n < 0 ? 0 : n); }
int log_get_verbose(void) { return atomic_load(&log_verbosity); }
void log_set_format(log_format f) { atomic_store(&log_fmt, (int)f); }
void log_set_fd(int fd) { atomic_store(&log_fd, fd); }

bool log_enabled(log_level lvl, int verbosity) {
    if (atomic_load(&log_fd) < 0) return false;
    if (lvl != LOG_VERBOSE) return true;
    return verbosity <= atomic_load(&log_verbosity);
}

/* "2026-11-22T20:00:00.123Z" (24 chars + NUL). */
static void log_timestamp(char *buf, size_t len) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03uZ", (unsigned)(ts.tv_nsec / 1000000) % 1000u);
}

/* Appends s to buf[*pos..cap) as the inside of a JSON string. Stops early
 * (never splitting an escape) when the buffer is full. */
static void log_json_escape(char *buf, size_t cap, size_t *pos, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        size_t n;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            n = 2;
        } else if (c == '\n') {
            memcpy(esc, "\\n", 2);
            n = 2;
        } else if (c < 0x20) {
            n = (size_t)snprintf(esc, sizeof esc, "\\u%04x", c);
        } else {
            esc[0] = (char)c;
            n = 1;
        }
        if (*pos + n >= cap) return;
        memcpy(buf + *pos, esc, n);
        *pos += n;
    }
}

static void log_write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return; /* nowhere left to report a logging failure */
        }
        buf += w;
        len -= (size_t)w;
    }
}

/* Replaces newlines in a text-format message so one event stays one line. */
static void log_flatten(char *s) {
    for (; *s; s++)
        if (*s == '\n' || *s == '\r') *s = ' ';
}

void log_vwrite(log_level lvl, int verbosity, const char *fmt, va_list ap) {
    if (!log_enabled(lvl, verbosity)) return;
    if ((unsigned)lvl > LOG_VERBOSE) lvl = LOG_ERROR;

    char msg[LOG_LINE_MAX];
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    if (n < 0) snprintf(msg, sizeof msg, "(unformattable log message)");
    else if ((size_t)n >= sizeof msg) memcpy(msg + sizeof msg - 4, "...", 4);

    char ts[32];
    log_timestamp(ts, sizeof ts);

    char line[LOG_LINE_MAX + 128];
    size_t pos;
    if (atomic_load(&log_fmt) == LOG_FORMAT_JSON) {
        pos = (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"",
                               ts, log_level_names[lvl]);
        log_json_escape(line, sizeof line - 3, &pos, msg);
        memcpy(line + pos, "\"}\n", 3);
        pos += 3;
    } else {
        log_flatten(msg);
        int m = snprintf(line, sizeof line, "%s %s %s\n", ts, log_level_names[lvl], msg);
        pos = m < 0 ? 0 : (size_t)m;
        if (pos >= sizeof line) {
            pos = sizeof line;
            line[pos - 1] = '\n';
        }
    }
    log_write_all(atomic_load(&log_fd), line, pos);
}

void log_write(log_level lvl, int verbosity, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(lvl, verbosity, fmt, ap);
    va_end(ap);
}

/* --- events with fields ----------------------------------------------------------- */

/* Appends a chunk whole or not at all (keeps room for the line's closer). */
static bool log_put(char *line, size_t cap, size_t *pos, const char *chunk, size_t n) {
    if (*pos + n >= cap) return false;
    memcpy(line + *pos, chunk, n);
    *pos += n;
    return true;
}

/* A text-format value: bare unless empty or holding spaces, quotes or '='. */
static void log_text_value(char *c, size_t cap, size_t *cp, const char *v) {
    bool quote = !*v || strpbrk(v, " \t\"=\\") != NULL;
    if (quote) c[(*cp)++] = '"';
    for (; *v && *cp + 3 < cap; v++) {
        char ch = *v == '\n' || *v == '\r' ? ' ' : *v;
        if (quote && (ch == '"' || ch == '\\')) c[(*cp)++] = '\\';
        c[(*cp)++] = ch;
    }
    if (quote) c[(*cp)++] = '"';
}

/* ` key=value` (text) or `,"key":value` (JSON) for one field. */
static size_t log_field_chunk(const log_field *f, bool json, char *c, size_t cap) {
    size_t cp = (size_t)snprintf(c, cap, json ? ",\"%.64s\":" : " %.64s=", f->key);
    char num[48];
    switch (f->kind) {
    case LOG_FIELD_INT:
        snprintf(num, sizeof num, "%lld", f->i);
        break;
    case LOG_FIELD_NUM:
        if (f->d != f->d || f->d > 1e300 || f->d < -1e300) snprintf(num, sizeof num, "null");
        else snprintf(num, sizeof num, "%.3f", f->d);
        break;
    default: {
        const char *v = f->s ? f->s : "";
        if (json) {
            c[cp++] = '"';
            log_json_escape(c, cap - 2, &cp, v);
            c[cp++] = '"';
        } else {
            log_text_value(c, cap, &cp, v);
        }
        return cp;
    }
    }
    size_t n = strlen(num);
    memcpy(c + cp, num, n);
    return cp + n;
}

void log_event(log_level lvl, int verbosity, const char *msg, const log_field *fields, int n) {
    if (!log_enabled(lvl, verbosity)) return;
    if ((unsigned)lvl > LOG_VERBOSE) lvl = LOG_ERROR;
    bool json = atomic_load(&log_fmt) == LOG_FORMAT_JSON;
    char ts[32];
    log_timestamp(ts, sizeof ts);

    char line[LOG_LINE_MAX + 128];
    size_t cap = sizeof line - 4, pos; /* room for `"}\n` or "\n" */
    char chunk[1200];
    if (json) {
        pos = (size_t)snprintf(line, cap, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts,
                               log_level_names[lvl]);
        log_json_escape(line, 1024, &pos, msg);
        line[pos++] = '"';
    } else {
        pos = (size_t)snprintf(line, cap, "%s %s ", ts, log_level_names[lvl]);
        size_t start = pos, m = strnlen(msg, 1024 - pos);
        memcpy(line + pos, msg, m);
        pos += m;
        line[pos] = '\0';
        log_flatten(line + start);
    }
    for (int i = 0; i < n; i++) {
        size_t len = log_field_chunk(&fields[i], json, chunk, sizeof chunk);
        if (!log_put(line, cap, &pos, chunk, len)) break;
    }
    if (json) line[pos++] = '}';
    line[pos++] = '\n';
    log_write_all(atomic_load(&log_fd), line, pos);
}
