/* status.c -- names, messages and protocol codes of `status`, from one list. */
#include "status.h"

#include <stdio.h>
#include <string.h>

struct status_row {
    const char *name;
    const char *message;
    int http;
    int grpc;
};

static const struct status_row status_table[] = {
#define STATUS_ROW(name, http, grpc, msg) {#name, msg, http, grpc},
    STATUS_LIST(STATUS_ROW)
#undef STATUS_ROW
};

_Static_assert(sizeof(status_table) / sizeof(status_table[0]) == STATUS__COUNT,
               "status_table must have one row per status");

static const struct status_row *status_row_of(status st) {
    if ((unsigned)st >= STATUS__COUNT) st = STATUS_INTERNAL;
    return &status_table[st];
}

const char *status_name(status st) { return status_row_of(st)->name; }
const char *status_message(status st) { return status_row_of(st)->message; }
int status_http_code(status st) { return status_row_of(st)->http; }
int status_grpc_code(status st) { return status_row_of(st)->grpc; }

status status_vfail(errinfo *err, status st, const char *fmt, va_list ap) {
    if (err) vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    return st;
}

status status_fail(errinfo *err, status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    status_vfail(err, st, fmt, ap);
    va_end(ap);
    return st;
}

status status_wrap(errinfo *err, status st, const char *fmt, ...) {
    if (!err) return st;
    char prefix[256];
    char old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    return st;
}
