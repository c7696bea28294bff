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
