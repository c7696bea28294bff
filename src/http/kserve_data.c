/* kserve_data.c -- decoding and encoding the "data" arrays of KServe v2. */
#include "kserve_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dtype.h"
#include "serve/datatype.h"

typedef struct decoder {
    engine_dtype dt;
    unsigned char *out;
    int64_t numel;
    int64_t n;              /* elements written so far */
    const char *name;
    errinfo *err;
} decoder;

static status element_error(decoder *d, const char *what) {
    return status_fail(d->err, STATUS_INVALID_ARGUMENT,
                       "input '%s': element %lld is %s, expected %s for datatype %s", d->name,
                       (long long)d->n, what, dtype_is_float(d->dt) ? "a number"
                       : d->dt == ENGINE_BOOL ? "true or false"
                       : d->dt == ENGINE_STRING ? "a string" : "an integer in range",
                       serve_datatype_name(d->dt));
}

/* Integer types: the literal must be an integer that fits the type. */
static status store_integer(decoder *d, const json_value *v) {
    static const struct { engine_dtype dt; double lo, hi; } ranges[] = {
        {ENGINE_INT8, -128, 127}, {ENGINE_UINT8, 0, 255}, {ENGINE_INT16, -32768, 32767},
        {ENGINE_UINT16, 0, 65535}, {ENGINE_INT32, -2147483648.0, 2147483647.0},
        {ENGINE_UINT32, 0, 4294967295.0}};
    if (d->dt == ENGINE_UINT64) {
        uint64_t u;
        if (!json_as_uint64(v, &u)) return element_error(d, "not an unsigned 64-bit integer");
        ((uint64_t *)d->out)[d->n] = u;
        return STATUS_OK;
    }
    int64_t i;
    if (!json_as_int64(v, &i)) return element_error(d, "not an integer");
    if (d->dt == ENGINE_INT64) {
        ((int64_t *)d->out)[d->n] = i;
        return STATUS_OK;
    }
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        if (ranges[r].dt != d->dt) continue;
        if ((double)i < ranges[r].lo || (double)i > ranges[r].hi) return element_error(d, "out of range");
        dtype_store_double(d->dt, d->out, d->n, (double)i);
        return STATUS_OK;
    }
    return element_error(d, "of an unsupported type");
}

static status store_element(decoder *d, const json_value *v) {
    json_type t = json_type_of(v);
    if (d->dt == ENGINE_BOOL) {
        if (t != JSON_BOOL) return element_error(d, json_type_name(t));
        d->out[d->n] = (unsigned char)json_get_bool(v);
    } else if (d->dt == ENGINE_STRING) {
        if (t != JSON_STRING) return element_error(d, json_type_name(t));
        engine_string *s = &((engine_string *)d->out)[d->n];
        s->ptr = json_get_string(v, &s->len);
    } else if (t != JSON_NUMBER) {
        return element_error(d, json_type_name(t));
    } else if (d->dt == ENGINE_FLOAT) {
        ((float *)d->out)[d->n] = (float)json_get_number(v);
    } else if (dtype_is_float(d->dt)) {
        dtype_store_double(d->dt, d->out, d->n, json_get_number(v));
    } else {
        status st = store_integer(d, v);
        if (st) return st;
    }
    d->n++;
    return STATUS_OK;
}

static status decode_nested(decoder *d, const json_value *v) {
    if (json_type_of(v) != JSON_ARRAY) return store_element(d, v);
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
    decoder d = {.dt = dt, .numel = numel, .name = input_name, .err = err};
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

static void encode_half(json_writer *w, const uint16_t *v, int64_t n, int bf16) {
    jw_begin_array(w);
    for (int64_t i = 0; i < n; i++)
        jw_float(w, bf16 ? dtype_bfloat16_to_float(v[i]) : dtype_half_to_float(v[i]));
    jw_end_array(w);
}

static void encode_strings(json_writer *w, const engine_string *v, int64_t n) {
    jw_begin_array(w);
    for (int64_t i = 0; i < n; i++) jw_string(w, v[i].ptr ? v[i].ptr : "", v[i].len);
    jw_end_array(w);
}

void kserve_data_encode(json_writer *w, engine_dtype dt, const void *data, int64_t numel) {
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
    case ENGINE_STRING: encode_strings(w, data, numel); break;
    default: jw_begin_array(w); jw_end_array(w); break;
    }
}
