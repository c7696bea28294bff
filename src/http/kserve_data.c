/* kserve_data.c -- decoding and encoding the "data" arrays of KServe v2. */
#include "kserve_data.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dtype.h"
#include "serve/datatype.h"

/* One element being stored, for error messages. */
typedef struct elem_ctx {
    engine_dtype dt;
    int64_t i;
    const char *name;
    errinfo *err;
} elem_ctx;

static status element_error(const elem_ctx *e, const char *what) {
    return status_fail(e->err, STATUS_INVALID_ARGUMENT,
                       "input '%s': element %lld is %s, expected %s for datatype %s", e->name,
                       (long long)e->i, what, dtype_is_float(e->dt) ? "a number"
                       : e->dt == ENGINE_BOOL ? "true or false"
                       : e->dt == ENGINE_STRING ? "a string" : "an integer in range",
                       serve_datatype_name(e->dt));
}

/* Integer types: the literal must be an integer that fits the type. */
static status store_integer(const elem_ctx *e, void *out, const json_value *v) {
    static const struct { engine_dtype dt; double lo, hi; } ranges[] = {
        {ENGINE_INT8, -128, 127}, {ENGINE_UINT8, 0, 255}, {ENGINE_INT16, -32768, 32767},
        {ENGINE_UINT16, 0, 65535}, {ENGINE_INT32, -2147483648.0, 2147483647.0},
        {ENGINE_UINT32, 0, 4294967295.0}};
    if (e->dt == ENGINE_UINT64) {
        uint64_t u;
        if (!json_as_uint64(v, &u)) return element_error(e, "not an unsigned 64-bit integer");
        ((uint64_t *)out)[e->i] = u;
        return STATUS_OK;
    }
    int64_t i;
    if (!json_as_int64(v, &i)) return element_error(e, "not an integer");
    if (e->dt == ENGINE_INT64) {
        ((int64_t *)out)[e->i] = i;
        return STATUS_OK;
    }
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        if (ranges[r].dt != e->dt) continue;
        if ((double)i < ranges[r].lo || (double)i > ranges[r].hi) return element_error(e, "out of range");
        dtype_store_double(e->dt, out, e->i, (double)i);
        return STATUS_OK;
    }
    return element_error(e, "of an unsupported type");
}

/* Floating types: any number whose magnitude the type can hold. */
static status store_float(const elem_ctx *e, void *out, double x) {
    static const struct { engine_dtype dt; double max; } limits[] = {
        {ENGINE_FLOAT, FLT_MAX}, {ENGINE_FLOAT16, 65504.0}, {ENGINE_BFLOAT16, 3.3895313892515355e38},
        {ENGINE_DOUBLE, DBL_MAX}};
    for (size_t r = 0; r < sizeof limits / sizeof limits[0]; r++)
        if (limits[r].dt == e->dt && fabs(x) > limits[r].max) return element_error(e, "out of range");
    if (e->dt == ENGINE_FLOAT) ((float *)out)[e->i] = (float)x;
    else dtype_store_double(e->dt, out, e->i, x);
    return STATUS_OK;
}

status kserve_data_store(const json_value *v, engine_dtype dt, void *buf, int64_t i,
                         const char *input_name, errinfo *err) {
    elem_ctx e = {.dt = dt, .i = i, .name = input_name, .err = err};
    json_type t = json_type_of(v);
    if (dt == ENGINE_BOOL) {
        if (t != JSON_BOOL) return element_error(&e, json_type_name(t));
        ((unsigned char *)buf)[i] = (unsigned char)json_get_bool(v);
        return STATUS_OK;
    }
    if (dt == ENGINE_STRING) {
        if (t != JSON_STRING) return element_error(&e, json_type_name(t));
        engine_string *s = &((engine_string *)buf)[i];
        s->ptr = json_get_string(v, &s->len);
        return STATUS_OK;
    }
    if (t != JSON_NUMBER) return element_error(&e, json_type_name(t));
    if (dtype_is_float(dt)) return store_float(&e, buf, json_get_number(v));
    return store_integer(&e, buf, v);
}

typedef struct decoder {
    engine_dtype dt;
    void *out;
    int64_t n; /* elements written so far */
    const char *name;
    errinfo *err;
} decoder;

static status decode_nested(decoder *d, const json_value *v) {
    if (json_type_of(v) != JSON_ARRAY) {
        status st = kserve_data_store(v, d->dt, d->out, d->n, d->name, d->err);
        if (!st) d->n++;
        return st;
    }
    int64_t n = json_array_size(v);
    for (int64_t i = 0; i < n; i++) {
        status st = decode_nested(d, json_array_at(v, i));
        if (st) return st;
    }
    return STATUS_OK;
}

/* Leaves of a nested array; -1 if nested deeper than any tensor can be. */
static int64_t count_elements(const json_value *v, int depth) {
    if (json_type_of(v) != JSON_ARRAY) return 1;
    if (depth > ENGINE_MAX_RANK) return -1;
    int64_t n = 0, size = json_array_size(v);
    for (int64_t i = 0; i < size; i++) {
        int64_t c = count_elements(json_array_at(v, i), depth + 1);
        if (c < 0) return -1;
        n += c;
    }
    return n;
}

status kserve_data_decode(const json_value *data, engine_dtype dt, int64_t numel,
                          const char *input_name, void **out, size_t *nbytes, errinfo *err) {
    size_t esize = serve_datatype_size(dt);
    if (!esize)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "input '%s': unsupported datatype",
                           input_name);
    int64_t count = count_elements(data, 0);
    if (count < 0)
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "input '%s': data is nested deeper than %d levels", input_name,
                           ENGINE_MAX_RANK);
    if (count != numel)
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "input '%s': data has %lld elements, but the shape needs %lld",
                           input_name, (long long)count, (long long)numel);
    decoder d = {.dt = dt, .name = input_name, .err = err};
    d.out = malloc((size_t)numel * esize + 1);
    if (!d.out) return status_fail(err, STATUS_NO_MEMORY, "input '%s': out of memory", input_name);
    status st = decode_nested(&d, data);
    if (st) {
        free(d.out);
        return st;
    }
    *out = d.out;
    *nbytes = (size_t)numel * esize;
    return STATUS_OK;
}

/* --- encoding ------------------------------------------------------------- */

static void encode_half(json_writer *w, const uint16_t *v, int64_t n, int bf16) {
    jw_begin_array(w);
    for (int64_t i = 0; i < n; i++)
        jw_float(w, bf16 ? dtype_bfloat16_to_float(v[i]) : dtype_half_to_float(v[i]));
    jw_end_array(w);
}

bool kserve_data_is_utf8(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str, *end = s + len;
    while (s < end) {
        unsigned c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        int n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
        if (n < 0 || end - s <= n) return false;
        /* The second byte's range excludes overlongs, surrogates and > U+10FFFF. */
        unsigned lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
        unsigned hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
        if (s[1] < lo || s[1] > hi) return false;
        for (int k = 2; k <= n; k++)
            if ((s[k] & 0xc0) != 0x80) return false;
        s += n + 1;
    }
    return true;
}

static status encode_strings(json_writer *w, const char *name, const engine_string *v,
                             int64_t n, errinfo *err) {
    jw_begin_array(w);
    for (int64_t i = 0; i < n; i++) {
        const char *p = v[i].ptr ? v[i].ptr : "";
        size_t len = v[i].ptr ? v[i].len : 0;
        if (!kserve_data_is_utf8(p, len))
            return status_fail(err, STATUS_INVALID_ARGUMENT,
                               "output '%s': BYTES element %lld is not valid UTF-8, so it cannot "
                               "be a JSON string; ask for this output with \"binary_data\": true",
                               name, (long long)i);
        jw_string(w, p, len);
    }
    jw_end_array(w);
    return STATUS_OK;
}

status kserve_data_encode(json_writer *w, const char *output_name, engine_dtype dt,
                          const void *data, int64_t numel, errinfo *err) {
    size_t n = (size_t)numel;
    switch (dt) {
    case ENGINE_FLOAT: jw_float_array(w, data, n); break;
    case ENGINE_DOUBLE: jw_double_array(w, data, n); break;
    case ENGINE_FLOAT16: encode_half(w, data, numel, 0); break;
    case ENGINE_BFLOAT16: encode_half(w, data, numel, 1); break;
    case ENGINE_INT8: jw_int8_array(w, data, n); break;
    case ENGINE_INT16: jw_int16_array(w, data, n); break;
    case ENGINE_INT32: jw_int32_array(w, data, n); break;
    case ENGINE_INT64: jw_int64_array(w, data, n); break;
    case ENGINE_UINT8: jw_uint8_array(w, data, n); break;
    case ENGINE_UINT16: jw_uint16_array(w, data, n); break;
    case ENGINE_UINT32: jw_uint32_array(w, data, n); break;
    case ENGINE_UINT64: jw_uint64_array(w, data, n); break;
    case ENGINE_BOOL: jw_bool_array(w, data, n); break;
    case ENGINE_STRING: return encode_strings(w, output_name, data, numel, err);
    default:
        return status_fail(err, STATUS_INTERNAL, "output '%s': datatype %s cannot be written",
                           output_name, serve_datatype_name(dt));
    }
    return STATUS_OK;
}
