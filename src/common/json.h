/* json.h -- a JSON parser into one arena per document, and a JSON writer.
 *
 * An infer request carries ~150k numbers for one 224x224x3 image; the usual
 * tree libraries allocate one node per number. Here a document is parsed
 * into a single arena (a few large blocks), every value is 16 bytes, and
 * the members of an array or object are stored contiguously, so
 * json_array_at() is O(1) and json_doc_free() releases everything at once.
 *
 *     json_doc *doc;
 *     errinfo err;
 *     if (json_parse(body, body_len, NULL, &doc, &err))
 *         return respond_error(400, err.msg);   // "expected ',' or ']' at 1:35"
 *     const json_value *inputs = json_object_get(json_root(doc), "inputs");
 *     for (int64_t i = 0; i < json_array_size(inputs); i++) {
 *         const json_value *in = json_array_at(inputs, i);
 *         const char *name = json_get_string(json_object_get(in, "name"), NULL);
 *         ...
 *     }
 *     json_doc_free(doc);
 *
 * Accessors never crash on a NULL or wrongly typed value: they return 0,
 * NULL or JSON_NONE, so a lookup chain needs one check at its end.
 *
 * Parsing is strict RFC 8259: UTF-8 only (validated), no comments, no
 * trailing commas, no NaN/Infinity, no leading zeros, nothing after the
 * value but whitespace. Numbers are exact: integer literals that fit int64
 * (or uint64) keep their integer value, everything else is the correctly
 * rounded double (strtod-equivalent). Duplicate object keys are kept;
 * json_object_get() returns the first. Numbers are read and written in the
 * "C" numeric locale: inferd never calls setlocale(LC_NUMERIC).
 *
 * The writer (json_writer, below) builds a document into one growing
 * buffer; see its own comment. */
#ifndef INFERD_JSON_H
#define INFERD_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

/* ---- parsing --------------------------------------------------------- */

typedef enum json_type {
    JSON_NULL = 0,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
    JSON_NONE /* not a value: what json_type_of(NULL) returns */
} json_type;

typedef struct json_doc json_doc;     /* opaque: the arena and the root */
typedef struct json_value json_value; /* opaque: lives in its doc's arena */

/* Limits for json_parse. Zero fields take the defaults. */
typedef struct json_limits {
    int max_depth;    /* nesting of arrays and objects; default 64 */
    size_t max_bytes; /* length of the text; default 0 = no limit */
} json_limits;

#define JSON_DEFAULT_MAX_DEPTH 64

/* Parses text[0..len) (need not be NUL-terminated) into a new document.
 * lim may be NULL for the defaults. On failure *out is NULL and err names
 * what was wrong, where (line:column, 1-based, column in bytes) and what
 * was expected:
 *     "expected ',' or ']' at 1:35"
 *     "invalid escape '\q' in string at 3:12"
 *     "nesting deeper than 64 at 1:65"
 * Returns STATUS_INVALID_ARGUMENT for bad JSON, STATUS_TOO_LARGE above
 * lim->max_bytes, STATUS_NO_MEMORY when the arena cannot grow.
 * Thread-safe; the document is immutable and may be read from any thread. */
status json_parse(const char *text, size_t len, const json_limits *lim,
                  json_doc **out, errinfo *err);
void json_doc_free(json_doc *doc); /* accepts NULL */

const json_value *json_root(const json_doc *doc);
json_type json_type_of(const json_value *v); /* JSON_NONE for NULL */
const char *json_type_name(json_type t);     /* "null", "number", ... */

/* Objects. Member order is the order in the text. */
const json_value *json_object_get(const json_value *obj, const char *key);
const json_value *json_object_getn(const json_value *obj, const char *key,
                                   size_t key_len);
int json_object_size(const json_value *obj); /* 0 if not an object */
/* Keys are unescaped and NUL-terminated; len (may be NULL) gets the length
 * in bytes, which counts embedded NULs ("\u0000" is legal in a key). */
const char *json_object_key_at(const json_value *obj, int i, size_t *len);
const json_value *json_object_value_at(const json_value *obj, int i);

/* Arrays: O(1) indexing. */
int64_t json_array_size(const json_value *arr); /* 0 if not an array */
const json_value *json_array_at(const json_value *arr, int64_t i);

/* Scalars. Wrong types give 0 / NULL. */
int json_get_bool(const json_value *v); /* 1 for true */
/* Any number as a double (integers above 2^53 are rounded). */
double json_get_number(const json_value *v);
/* 1 if the literal was an integer (no fraction, no exponent) that fits in
 * int64 or uint64: then json_get_int64 / json_get_uint64 are exact. "1.0",
 * "1e3" and integers beyond uint64 are doubles and give 0. */
int json_number_is_integer(const json_value *v);
/* Exact for integer literals within int64. Anything else: the value
 * truncated toward zero and saturated to the int64 range (0 for
 * non-numbers); use json_as_int64 to be told. */
int64_t json_get_int64(const json_value *v);
uint64_t json_get_uint64(const json_value *v); /* likewise, uint64 */
/* Checked: 1 and *out set if v is an integer literal in range, else 0. */
int json_as_int64(const json_value *v, int64_t *out);
int json_as_uint64(const json_value *v, uint64_t *out);
/* Unescaped UTF-8, NUL-terminated; len (may be NULL) gets its length. */
const char *json_get_string(const json_value *v, size_t *len);

/* ---- writing ----------------------------------------------------------
 *
 * A caller-owned writer appending to one malloc'd buffer. Commas and colons
 * are inserted automatically: call jw_key before each member value of an
 * object, and nothing between array elements. Out of memory is sticky:
 * every later call does nothing and jw_finish returns NULL.
 *
 *     json_writer w;
 *     jw_init(&w);
 *     jw_begin_object(&w);
 *     jw_key(&w, "model_name"); jw_string(&w, name, strlen(name));
 *     jw_key(&w, "data");       jw_float_array(&w, out, n);
 *     jw_end_object(&w);
 *     size_t len;
 *     char *body = jw_finish(&w, &len);    // caller frees; NULL = no memory
 *
 * Non-finite floating-point values are not representable in JSON; the
 * writer emits them as the strings "nan", "inf" and "-inf" (Triton writes
 * bare NaN, which is not JSON). */

typedef struct json_writer {
    char *buf;
    size_t len, cap;
    int need_comma; /* a value was written at the current level */
    int failed;     /* sticky out-of-memory */
} json_writer;

void jw_init(json_writer *w);
/* Frees the buffer of a writer that will not be finished. */
void jw_deinit(json_writer *w);
/* Makes room for n more bytes up front (a hint; failure is sticky). */
void jw_reserve(json_writer *w, size_t n);
/* The document: malloc'd, NUL-terminated, *len (may be NULL) excludes the
 * NUL; the caller frees it. NULL after an out-of-memory. The writer is
 * left empty and may be reused after jw_init. */
char *jw_finish(json_writer *w, size_t *len);
int jw_failed(const json_writer *w);

void jw_begin_object(json_writer *w);
void jw_end_object(json_writer *w);
void jw_begin_array(json_writer *w);
void jw_end_array(json_writer *w);
void jw_key(json_writer *w, const char *key); /* NUL-terminated */
void jw_keyn(json_writer *w, const char *key, size_t len);
/* s[0..len) is escaped as needed; bytes >= 0x80 are copied as they are. */
void jw_string(json_writer *w, const char *s, size_t len);
void jw_cstring(json_writer *w, const char *s); /* NUL-terminated */
void jw_int64(json_writer *w, int64_t v);
void jw_uint64(json_writer *w, uint64_t v);
/* Shortest text that reads back to the same double (%.15g..%.17g). */
void jw_double(json_writer *w, double v);
/* Shortest text that reads back to the same float (%.6g..%.9g). */
void jw_float(json_writer *w, float v);
void jw_bool(json_writer *w, int v);
void jw_null(json_writer *w);
/* Appends already valid JSON text as one value (commas still handled). */
void jw_raw(json_writer *w, const char *json, size_t len);

/* Flat arrays of n elements: "[v0,v1,...]". bool elements are bytes,
 * nonzero = true. */
void jw_float_array(json_writer *w, const float *v, size_t n);
void jw_double_array(json_writer *w, const double *v, size_t n);
void jw_int8_array(json_writer *w, const int8_t *v, size_t n);
void jw_int16_array(json_writer *w, const int16_t *v, size_t n);
void jw_int32_array(json_writer *w, const int32_t *v, size_t n);
void jw_int64_array(json_writer *w, const int64_t *v, size_t n);
void jw_uint8_array(json_writer *w, const uint8_t *v, size_t n);
void jw_uint16_array(json_writer *w, const uint16_t *v, size_t n);
void jw_uint32_array(json_writer *w, const uint32_t *v, size_t n);
void jw_uint64_array(json_writer *w, const uint64_t *v, size_t n);
void jw_bool_array(json_writer *w, const uint8_t *v, size_t n);

#endif
