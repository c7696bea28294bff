/* tensor_proto.c -- TensorProto views to engine_tensors.
 *
 * A tensor's bytes arrive in one of three ways: raw_data (little-endian, the
 * common case and the one we keep in place when it is aligned), a typed
 * repeated field (float_data, int32_data, ...; always converted into an owned
 * buffer), or an external file. Everything about the data is validated
 * before anything is allocated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "onnx_loader.h"

void *model_arena_alloc64(void *ctx, size_t bytes) {
    return model_arena_alloc(ctx, bytes, 64);
}

status tensor_check_dtype(int32_t dt, const char *what, errinfo *err) {
    switch (dt) {
    case ENGINE_FLOAT: case ENGINE_UINT8: case ENGINE_INT8: case ENGINE_UINT16:
    case ENGINE_INT16: case ENGINE_INT32: case ENGINE_INT64: case ENGINE_STRING:
    case ENGINE_BOOL: case ENGINE_FLOAT16: case ENGINE_DOUBLE: case ENGINE_UINT32:
    case ENGINE_UINT64: case ENGINE_BFLOAT16:
        return STATUS_OK;
    case 0:
        return status_fail(err, STATUS_INVALID_MODEL, "%s has no data type", what);
    case 14: case 15:
        return status_fail(err, STATUS_UNSUPPORTED, "%s: complex data types are not supported", what);
    case 17: case 18: case 19: case 20: case 21: case 22: case 23:
        return status_fail(err, STATUS_UNSUPPORTED,
                           "%s: data type %d (float8/int4 family) is not supported", what, (int)dt);
    default:
        return status_fail(err, STATUS_INVALID_MODEL, "%s has unknown data type %d", what, (int)dt);
    }
}

/* --- typed fields -------------------------------------------------------- */

/* Converters from the typed field's element type to the tensor's. int32_data
 * carries every type narrower than 32 bits (float16/bfloat16 as bit
 * patterns); uint64_data carries uint32. */
#define CONVERTER(fname, SRC, DST, EXPR)                                      \
    static void fname(void *dst, const void *src, size_t n) {                 \
        const SRC *a = src;                                                   \
        DST *o = dst;                                                         \
        for (size_t i = 0; i < n; i++) o[i] = (DST)(EXPR);                    \
    }
CONVERTER(conv_i32_u8, int32_t, uint8_t, (uint32_t)a[i])
CONVERTER(conv_i32_i8, int32_t, int8_t, a[i])
CONVERTER(conv_i32_u16, int32_t, uint16_t, (uint32_t)a[i])
CONVERTER(conv_i32_i16, int32_t, int16_t, a[i])
CONVERTER(conv_i32_bool, int32_t, uint8_t, a[i] != 0)
CONVERTER(conv_u64_u32, uint64_t, uint32_t, a[i])
#undef CONVERTER

enum typed_field { TF_NONE, TF_FLOAT, TF_INT32, TF_INT64, TF_DOUBLE, TF_UINT64, TF_STRING };

typedef struct typed_rule {
    enum typed_field field;
    void (*conv)(void *dst, const void *src, size_t n); /* NULL = same layout */
} typed_rule;

static const typed_rule typed_rules[ENGINE_DTYPE__MAX] = {
    [ENGINE_FLOAT] = {TF_FLOAT, NULL},
    [ENGINE_UINT8] = {TF_INT32, conv_i32_u8},
    [ENGINE_INT8] = {TF_INT32, conv_i32_i8},
    [ENGINE_UINT16] = {TF_INT32, conv_i32_u16},
    [ENGINE_INT16] = {TF_INT32, conv_i32_i16},
    [ENGINE_INT32] = {TF_INT32, NULL},
    [ENGINE_INT64] = {TF_INT64, NULL},
    [ENGINE_STRING] = {TF_STRING, NULL},
    [ENGINE_BOOL] = {TF_INT32, conv_i32_bool},
    [ENGINE_FLOAT16] = {TF_INT32, conv_i32_u16},
    [ENGINE_DOUBLE] = {TF_DOUBLE, NULL},
    [ENGINE_UINT32] = {TF_UINT64, conv_u64_u32},
    [ENGINE_UINT64] = {TF_UINT64, NULL},
    [ENGINE_BFLOAT16] = {TF_INT32, conv_i32_u16},
};

static const char *const typed_names[] = {
    "", "float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data"};

static size_t typed_count(const pb_tensor *pt, enum typed_field f, const void **arr) {
    switch (f) {
    case TF_FLOAT: *arr = pt->float_data; return pt->n_float_data;
    case TF_INT32: *arr = pt->int32_data; return pt->n_int32_data;
    case TF_INT64: *arr = pt->int64_data; return pt->n_int64_data;
    case TF_DOUBLE: *arr = pt->double_data; return pt->n_double_data;
    case TF_UINT64: *arr = pt->uint64_data; return pt->n_uint64_data;
    case TF_STRING: *arr = pt->string_data; return pt->n_string_data;
    default: *arr = NULL; return 0;
    }
}

/* A typed field other than the one this dtype uses holds data: the tensor
 * contradicts itself. Returns that field's name, or NULL. */
static const char *stray_typed_field(const pb_tensor *pt, enum typed_field own) {
    for (int f = TF_FLOAT; f <= TF_STRING; f++) {
        const void *arr;
        if (f != (int)own && typed_count(pt, (enum typed_field)f, &arr)) return typed_names[f];
    }
    return NULL;
}

/* --- shape --------------------------------------------------------------- */

static status tensor_shape(const pb_tensor *pt, const char *what, engine_tensor *out,
                           int64_t *numel, errinfo *err) {
    if (pt->n_dims > ENGINE_MAX_RANK)
        return status_fail(err, STATUS_UNSUPPORTED, "%s has rank %zu; inferd supports rank <= %d",
                           what, pt->n_dims, ENGINE_MAX_RANK);
    out->shape.rank = (int)pt->n_dims;
    for (size_t i = 0; i < pt->n_dims; i++) {
        if (pt->dims[i] < 0)
            return status_fail(err, STATUS_INVALID_MODEL, "%s has negative dim %lld at axis %zu",
                               what, (long long)pt->dims[i], i);
        out->shape.dims[i] = pt->dims[i];
    }
    *numel = engine_shape_numel(&out->shape);
    size_t esize = engine_dtype_size(out->dtype);
    if (*numel < 0 || (uint64_t)*numel > SIZE_MAX / esize)
        return status_fail(err, STATUS_INVALID_MODEL, "%s: element count of its dims overflows", what);
    out->nbytes = (size_t)*numel * esize;
    return STATUS_OK;
}

/* --- data ---------------------------------------------------------------- */

static void *src_alloc(const tensor_source *src, size_t bytes, const char *what, errinfo *err) {
    void *p = src->alloc(src->ctx, bytes ? bytes : 1);
    if (!p) status_fail(err, STATUS_NO_MEMORY, "out of memory for %zu bytes of %s", bytes, what);
    return p;
}

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Copies little-endian file bytes into host order. */
static void copy_le(void *dst, const uint8_t *src, size_t nbytes, size_t esize) {
    if (host_is_little_endian() || esize == 1) {
        memcpy(dst, src, nbytes);
        return;
    }
    uint8_t *d = dst;
    for (size_t i = 0; i < nbytes; i += esize)
        for (size_t k = 0; k < esize; k++) d[i + k] = src[i + esize - 1 - k];
}

/* Bytes that can be used in place: right byte order, aligned for the type,
 * and for bool only 0/1 (anything else would be a trap representation for
 * kernels that use C's bool). */
static int usable_in_place(const uint8_t *p, size_t nbytes, engine_dtype dt) {
    size_t esize = engine_dtype_size(dt);
    if (nbytes == 0 || ((uintptr_t)p % esize) != 0) return 0;
    if (esize > 1 && !host_is_little_endian()) return 0;
    if (dt == ENGINE_BOOL)
        for (size_t i = 0; i < nbytes; i++)
            if (p[i] > 1) return 0;
    return 1;
}

static status from_bytes(const uint8_t *p, size_t len, int in_place_ok, const tensor_source *src,
                         const char *what, engine_tensor *out, errinfo *err) {
    if (out->dtype == ENGINE_STRING)
        return status_fail(err, STATUS_INVALID_MODEL,
                           "%s: string tensors must use string_data, not raw or external data", what);
    if (len != out->nbytes)
        return status_fail(err, STATUS_INVALID_MODEL,
                           "%s: data has %zu bytes, but dims and type %s need %zu", what, len,
                           engine_dtype_name(out->dtype), out->nbytes);
    if (in_place_ok && usable_in_place(p, len, out->dtype)) {
        out->data = (void *)p; /* read-only: the model never writes weights */
        return STATUS_OK;
    }
    uint8_t *d = src_alloc(src, len, what, err);
    if (!d) return STATUS_NO_MEMORY;
    copy_le(d, p, len, engine_dtype_size(out->dtype));
    if (out->dtype == ENGINE_BOOL)
        for (size_t i = 0; i < len; i++) d[i] = d[i] != 0;
    model_mapping_release(src->model, p, len);
    out->data = d;
    return STATUS_OK;
}

static status from_strings(const pb_bytes *s, size_t n, const tensor_source *src,
                           const char *what, engine_tensor *out, errinfo *err) {
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i].len > SIZE_MAX - chars - 1)
            return status_fail(err, STATUS_INVALID_MODEL, "%s: strings too long", what);
        chars += s[i].len + 1;
    }
    size_t head = n * sizeof(engine_string);
    if (src->zero_copy) chars = 0;
    if (chars > SIZE_MAX - head)
        return status_fail(err, STATUS_INVALID_MODEL, "%s: strings too long", what);
    engine_string *arr = src_alloc(src, head + chars, what, err);
    if (!arr) return STATUS_NO_MEMORY;
    char *pool = (char *)arr + head;
    for (size_t i = 0; i < n; i++) {
        if (src->zero_copy) {
            arr[i] = (engine_string){(const char *)s[i].ptr, s[i].len};
            continue;
        }
        if (s[i].len) memcpy(pool, s[i].ptr, s[i].len);
        pool[s[i].len] = '\0';
        arr[i] = (engine_string){pool, s[i].len};
        pool += s[i].len + 1;
    }
    out->data = arr;
    return STATUS_OK;
}

static status from_typed(const pb_tensor *pt, int64_t numel, const tensor_source *src,
                         const char *what, engine_tensor *out, errinfo *err) {
    const typed_rule *rule = &typed_rules[out->dtype];
    const void *arr;
    size_t n = typed_count(pt, rule->field, &arr);
    const char *stray = stray_typed_field(pt, rule->field);
    if (stray)
        return status_fail(err, STATUS_INVALID_MODEL, "%s: type %s keeps its values in %s, but %s is set",
                           what, engine_dtype_name(out->dtype), typed_names[rule->field], stray);
    if (n != (uint64_t)numel)
        return status_fail(err, STATUS_INVALID_MODEL,
                           "%s: %s has %zu values, but dims need %lld%s", what,
                           typed_names[rule->field], n, (long long)numel,
                           n == 0 ? " (no raw_data either)" : "");
    if (rule->field == TF_STRING) return from_strings(arr, n, src, what, out, err);
    void *d = src_alloc(src, out->nbytes, what, err);
    if (!d) return STATUS_NO_MEMORY;
    if (rule->conv)
        rule->conv(d, arr, n);
    else if (n)
        memcpy(d, arr, out->nbytes);
    out->data = d;
    return STATUS_OK;
}

status tensor_from_pb(const pb_tensor *pt, const tensor_source *src, const char *what,
                      engine_tensor *out, errinfo *err) {
    memset(out, 0, sizeof *out);
    status st = tensor_check_dtype(pt->data_type, what, err);
    if (st) return st;
    out->dtype = (engine_dtype)pt->data_type;
    int64_t numel = 0;
    st = tensor_shape(pt, what, out, &numel, err);
    if (st) return st;
    if (pt->has_segment)
        return status_fail(err, STATUS_UNSUPPORTED, "%s: segmented tensors are not supported", what);
    if (pt->data_location == 1) {
        const void *data;
        if (!src->model)
            return status_fail(err, STATUS_INVALID_MODEL,
                               "%s: stored in an external file, which is not allowed here", what);
        if (out->dtype == ENGINE_STRING)
            return status_fail(err, STATUS_INVALID_MODEL, "%s: string tensors cannot be external", what);
        st = external_data_get(src->model, pt, what, out->nbytes, &data, err);
        if (st) return st;
        return from_bytes(data, out->nbytes, 1, src, what, out, err);
    }
    if (pt->data_location != 0)
        return status_fail(err, STATUS_INVALID_MODEL, "%s: unknown data_location %d", what,
                           (int)pt->data_location);
    if (pt->has_raw_data) {
        const char *stray = stray_typed_field(pt, TF_NONE);
        if (stray)
            return status_fail(err, STATUS_INVALID_MODEL, "%s: both raw_data and %s are set",
                               what, stray);
        return from_bytes(pt->raw_data.ptr, pt->raw_data.len, src->zero_copy, src, what, out, err);
    }
    return from_typed(pt, numel, src, what, out, err);
}

/* --- the public decoder of standalone TensorProto files ------------------ */

static void *malloc64(void *ctx, size_t bytes) {
    (void)ctx;
    void *p = NULL;
    return posix_memalign(&p, 64, bytes) == 0 ? p : NULL;
}

status engine_tensor_from_proto(const void *buf, size_t len, engine_tensor *out,
                                char **name_out, errinfo *err) {
    model_arena scratch = {0};
    pb_tensor *pt;
    char *name = NULL;
    if (out) memset(out, 0, sizeof *out);
    if (name_out) *name_out = NULL;
    if (!out) return status_fail(err, STATUS_INVALID_ARGUMENT, "no output tensor");
    status st = pb_decode_tensor(buf, len, &scratch, &pt, err);
    if (st) goto fail;
    if (name_out && pt->name.len) {
        name = malloc(pt->name.len + 1);
        if (!name) {
            st = status_fail(err, STATUS_NO_MEMORY, "out of memory for a tensor name");
            goto fail;
        }
        memcpy(name, pt->name.ptr, pt->name.len);
        name[pt->name.len] = '\0';
    }
    tensor_source src = {.alloc = malloc64};
    st = tensor_from_pb(pt, &src, "tensor", out, err);
    if (st) goto fail;
    model_arena_free(&scratch);
    if (name_out) *name_out = name;
    return STATUS_OK;
fail:
    free(name);
    model_arena_free(&scratch);
    memset(out, 0, sizeof *out);
    return st;
}
