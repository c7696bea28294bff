/* pbtxt.h -- a small reader for protobuf's text format (Triton's config.pbtxt).
 *
 * Parses text into a tree of fields without knowing any schema; a mapping
 * layer (model_config.c) gives the tree meaning. What the reader accepts is
 * what protoc's TextFormat accepts for the configs people write:
 *
 *     name: "resnet"                      # comments run to end of line
 *     max_batch_size: 8
 *     dims: [ 3, 224, 224 ]               # a list is a repeated field
 *     input [ { name: "a" }, { name: "b" } ]
 *     version_policy: { latest { num_versions: 2 } }   # ':' before '{' optional
 *     reshape < shape: [ ] >              # '<' '>' work like '{' '}'
 *     label: "a\tb" 'single' "adjacent " "strings join"
 *     kind: KIND_CPU                      # enums and booleans are identifiers
 *
 * Lists are flattened: `dims: [1, 2]` and `dims: 1 dims: 2` give the same two
 * sibling fields. Every field remembers the line and column of its name and
 * of its value, and every error says "line:col: what".
 *
 *     pbtxt_doc *d; errinfo err;
 *     if (pbtxt_parse(text, len, &d, &err)) log_error("config.pbtxt:%s", err.msg);
 *     for (const pbtxt_field *f = pbtxt_root(d); f; f = f->next) ...
 *     pbtxt_destroy(d);
 *
 * A parsed document is immutable and may be read from any thread. */
#ifndef INFERD_PBTXT_H
#define INFERD_PBTXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/status.h"

/* Nesting deeper than this is refused (keeps the recursive parser's stack
 * bounded on hostile input). */
#define PBTXT_MAX_DEPTH 64

typedef enum pbtxt_kind {
    PBTXT_MESSAGE, /* name { ... }: `children` holds the fields */
    PBTXT_STRING,  /* "..." with escapes decoded; `len` counts bytes */
    PBTXT_NUMBER,  /* 12, -1, 0x1f, 1.5e3, -inf: text kept, see pbtxt_int64 */
    PBTXT_IDENT    /* TYPE_FP32, true, KIND_CPU */
} pbtxt_kind;

typedef struct pbtxt_field pbtxt_field;
struct pbtxt_field {
    const char *name;
    pbtxt_kind kind;
    const char *text;           /* scalars: NUL-terminated value text */
    size_t len;                 /* bytes in text (a string may hold NULs) */
    const pbtxt_field *children; /* messages: first field, NULL if empty */
    const pbtxt_field *next;    /* next sibling, in file order */
    int line, col;              /* of the field name, 1-based */
    int vline, vcol;            /* of the value */
};

typedef struct pbtxt_doc pbtxt_doc;

/* Parses `len` bytes of text (need not be NUL-terminated). Fails with
 * STATUS_INVALID_ARGUMENT and "line:col: message", or STATUS_NO_MEMORY. */
status pbtxt_parse(const char *text, size_t len, pbtxt_doc **out, errinfo *err);
void pbtxt_destroy(pbtxt_doc *d);
/* First top-level field, NULL for an empty document. */
const pbtxt_field *pbtxt_root(const pbtxt_doc *d);

/* Value conversions. Each fails with STATUS_INVALID_ARGUMENT and a message
 * "line:col: field 'x': expected ..., got ..." when the value does not fit. */
status pbtxt_int64(const pbtxt_field *f, int64_t min, int64_t max, int64_t *out,
                   errinfo *err);
status pbtxt_double(const pbtxt_field *f, double *out, errinfo *err);
/* true/false, True/False, t/f, 1/0 as protobuf accepts. */
status pbtxt_bool(const pbtxt_field *f, bool *out, errinfo *err);
/* A string without embedded NUL bytes. */
status pbtxt_string(const pbtxt_field *f, const char **out, errinfo *err);
/* An identifier from names[0..n) (or its number, as protobuf allows);
 * *out is the index. */
status pbtxt_enum(const pbtxt_field *f, const char *const *names, int n, int *out,
                  errinfo *err);

/* status_fail with "line:col: " of f's value in front. */
status pbtxt_fail(const pbtxt_field *f, errinfo *err, status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
