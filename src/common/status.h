/* status.h -- the one result type of the whole codebase.
 *
 * Every fallible function returns a `status`. STATUS_OK is zero, so
 * `if (st) goto fail;` reads naturally. A human-readable detail travels in an
 * optional `errinfo` out parameter: callers that do not care pass NULL.
 *
 *     errinfo err;
 *     status st = engine_model_load(path, NULL, &model, &err);
 *     if (st) log_error("load %s: %s (%s)", path, err.msg, status_name(st));
 *
 * The list below is the single source of names, messages and the mapping to
 * HTTP and gRPC codes; add new codes only at the end. */
#ifndef INFERD_STATUS_H
#define INFERD_STATUS_H

#include <stdarg.h>
#include <stddef.h>

/*        name                http grpc message */
#define STATUS_LIST(X)                                                         \
    X(OK,                  200,  0, "ok")                                      \
    X(INVALID_ARGUMENT,    400,  3, "invalid argument")                        \
    X(NOT_FOUND,           404,  5, "not found")                               \
    X(UNAVAILABLE,         503, 14, "unavailable")                             \
    X(RESOURCE_EXHAUSTED,  429,  8, "resource exhausted")                      \
    X(NO_MEMORY,           500,  8, "out of memory")                           \
    X(IO_ERROR,            500, 13, "i/o error")                               \
    X(UNSUPPORTED,         400, 12, "unsupported")                             \
    X(INVALID_MODEL,       400,  3, "invalid model")                           \
    X(INTERNAL,            500, 13, "internal error")                          \
    X(DEADLINE_EXCEEDED,   504,  4, "deadline exceeded")                       \
    X(ALREADY_EXISTS,      409,  6, "already exists")                          \
    X(CANCELLED,           499,  1, "cancelled")                               \
    X(TOO_LARGE,           413,  8, "payload too large")                       \
    X(METHOD_NOT_ALLOWED,  405, 12, "method not allowed")                      \
    X(FAILED_PRECONDITION, 400,  9, "failed precondition")

typedef enum status {
#define STATUS_ENUM(name, http, grpc, msg) STATUS_##name,
    STATUS_LIST(STATUS_ENUM)
#undef STATUS_ENUM
    STATUS__COUNT
} status;

/* Room for one message. Fixed size so it can live on the stack and be filled
 * on out-of-memory paths without allocating. */
typedef struct errinfo {
    char msg[512];
} errinfo;

/* "INVALID_ARGUMENT" */
const char *status_name(status st);
/* "invalid argument" */
const char *status_message(status st);
int status_http_code(status st);
int status_grpc_code(status st);

/* Formats a message into err (if not NULL) and returns st, so a failure reads
 *     return status_fail(err, STATUS_INVALID_MODEL, "node %s: ...", name);   */
status status_fail(errinfo *err, status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
status status_vfail(errinfo *err, status st, const char *fmt, va_list ap);

/* Prepends "prefix: " to an existing message, for adding context on the way
 * up ("model resnet50 version 2: node Conv_3: ..."). Returns st. */
status status_wrap(errinfo *err, status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
