/* kserve_binary.c -- binary tensor sections of KServe v2 REST bodies. */
#include "kserve_binary.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/datatype.h"

status kserve_binary_header_length(const char *value, size_t body_len, size_t *json_len,
                                   errinfo *err) {
    if (!value) {
        *json_len = body_len;
        return STATUS_OK;
    }
    /* Digits only: strtoull would accept signs and spaces. */
    size_t n = 0;
    const char *p = value;
    if (!*p) goto bad;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || n > (SIZE_MAX - 9) / 10) goto bad;
        n = n * 10 + (size_t)(*p - '0');
    }
    if (n > body_len)
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           KSERVE_HEADER_LENGTH " is %zu, but the body has only %zu bytes", n,
                           body_len);
    *json_len = n;
    return STATUS_OK;
bad:
    return status_fail(err, STATUS_INVALID_ARGUMENT,
                       KSERVE_HEADER_LENGTH " must be a byte count, got '%.40s'", value);
}

/* --- BYTES elements ----------------------------------------------------------------- */

static uint32_t load_le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store_le32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

status kserve_bytes_decode(const unsigned char *p, size_t len, int64_t numel, const char *what,
                           engine_string **out, errinfo *err) {
    *out = NULL;
    /* Every element needs its 4-byte prefix: bounds numel before allocating. */
    if (numel < 0 || (uint64_t)numel > len / 4)
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "%s: %zu bytes of BYTES data cannot hold %lld elements (each needs a "
                           "4-byte length)", what, len, (long long)numel);
    engine_string *s = malloc((size_t)numel * sizeof *s + 1);
    if (!s) return status_fail(err, STATUS_NO_MEMORY, "%s: out of memory", what);
    size_t off = 0;
    for (int64_t i = 0; i < numel; i++) {
        if (len - off < 4) goto short_data;
        size_t n = load_le32(p + off);
        off += 4;
        if (len - off < n) goto short_data;
        s[i] = (engine_string){.ptr = (const char *)p + off, .len = n};
        off += n;
        continue;
    short_data:
        free(s);
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "%s: BYTES element %lld runs past the end of its %zu bytes of data",
                           what, (long long)i, len);
    }
    if (off != len) {
        free(s);
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "%s: %zu bytes left over after %lld BYTES elements (binary_data_size "
                           "is %zu)", what, len - off, (long long)numel, len);
    }
    *out = s;
    return STATUS_OK;
}

/* --- inputs --------------------------------------------------------------------------- */

/* Bytes a dense tensor of dt and numel elements needs; SIZE_MAX on overflow. */
static size_t dense_bytes(engine_dtype dt, int64_t numel) {
    size_t esize = engine_dtype_size(dt);
    if (numel < 0 || !esize || (uint64_t)numel > SIZE_MAX / esize) return SIZE_MAX;
    return (size_t)numel * esize;
}

static status check_bools(const char *name, const unsigned char *p, size_t len, errinfo *err) {
    for (size_t i = 0; i < len; i++)
        if (p[i] > 1)
            return status_fail(err, STATUS_INVALID_ARGUMENT,
                               "input '%s': BOOL element %zu is %u, expected 0 or 1", name, i, p[i]);
    return STATUS_OK;
}

status kserve_binary_add_input(serve_request *r, const char *name, engine_dtype dt,
                               const engine_shape *shape, const unsigned char *p, size_t len,
                               errinfo *err) {
    int64_t numel = engine_shape_numel(shape);
    char shp[128];
    if (dt == ENGINE_STRING) {
        char what[160];
        engine_string *s;
        snprintf(what, sizeof what, "input '%s'", name);
        status st = kserve_bytes_decode(p, len, numel, what, &s, err);
        if (st) return st;
        return serve_request_add_input(r, name, dt, shape, s, (size_t)numel * sizeof *s, true, err);
    }
    size_t need = dense_bytes(dt, numel);
    if (need != len)
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "input '%s': binary_data_size is %zu, but shape %s of %s needs %zu bytes",
                           name, len, serve_dims_format(shp, sizeof shp, shape->rank, shape->dims),
                           serve_datatype_name(dt), need);
    if (dt == ENGINE_BOOL) {
        status st = check_bools(name, p, len, err);
        if (st) return st;
    }
    /* The kernels load whole elements: borrow only what is aligned for them. */
    if ((uintptr_t)p % engine_dtype_size(dt) == 0)
        return serve_request_add_input(r, name, dt, shape, p, len, false, err);
    void *copy = malloc(len ? len : 1);
    if (!copy) return status_fail(err, STATUS_NO_MEMORY, "input '%s': out of memory", name);
    memcpy(copy, p, len);
    return serve_request_add_input(r, name, dt, shape, copy, len, true, err);
}

/* The shape raw bytes of one input take: the model's dims, batch dim 1,
 * at most one other -1 deduced from the element count. */
static status raw_shape(const serve_io *io, int max_batch, size_t numel, engine_shape *s,
                        errinfo *err) {
    if (io->rank < 0)
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "input '%s' has no declared shape, so raw binary data (" KSERVE_HEADER_LENGTH
                           ": 0) cannot be shaped; send a JSON header", io->name);
    int var = -1;
    uint64_t fixed = 1;
    s->rank = io->rank;
    for (int d = 0; d < io->rank; d++) {
        s->dims[d] = d == 0 && max_batch > 0 ? 1 : io->dims[d];
        if (s->dims[d] >= 0) {
            fixed = s->dims[d] && fixed > UINT64_MAX / (uint64_t)s->dims[d] ? UINT64_MAX
                                                                            : fixed * (uint64_t)s->dims[d];
        } else if (var >= 0) {
            return status_fail(err, STATUS_INVALID_ARGUMENT,
                               "input '%s' has more than one variable dimension, so raw binary "
                               "data cannot be shaped; send a JSON header", io->name);
        } else {
            var = d;
        }
    }
    char dims[128];
    serve_dims_format(dims, sizeof dims, io->rank, io->dims);
    if (var >= 0 && fixed && numel % fixed == 0) s->dims[var] = (int64_t)(numel / fixed);
    else if (var >= 0 || fixed != numel)
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "input '%s': %zu elements of raw binary data do not fit its shape %s",
                           io->name, numel, dims);
    return STATUS_OK;
}

/* BYTES in raw mode: one element, the body without a length prefix. */
static status add_raw_bytes(serve_request *r, const serve_io *io, int max_batch,
                            const unsigned char *p, size_t len, errinfo *err) {
    int rank = max_batch > 0 ? 2 : 1; /* [1], after the batch dim if any */
    if (io->rank != rank || (io->dims[rank - 1] != 1 && io->dims[rank - 1] != -1))
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "input '%s' is BYTES: raw binary data (" KSERVE_HEADER_LENGTH
                           ": 0) needs its shape to be [1]; send a JSON header", io->name);
    engine_shape s = {.rank = rank, .dims = {1, 1}};
    engine_string *one = malloc(sizeof *one);
    if (!one) return status_fail(err, STATUS_NO_MEMORY, "input '%s': out of memory", io->name);
    *one = (engine_string){.ptr = (const char *)p, .len = len};
    return serve_request_add_input(r, io->name, ENGINE_STRING, &s, one, sizeof *one, true, err);
}

status kserve_binary_add_raw_input(serve_request *r, const serve_model_meta *meta,
                                   const unsigned char *p, size_t len, errinfo *err) {
    if (meta->n_inputs != 1)
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "raw binary data (" KSERVE_HEADER_LENGTH ": 0) needs a model with "
                           "exactly one input, and '%s' has %d", meta->name ? meta->name : "",
                           meta->n_inputs);
    const serve_io *io = &meta->inputs[0];
    if (io->dtype == ENGINE_STRING) return add_raw_bytes(r, io, meta->max_batch_size, p, len, err);
    size_t esize = engine_dtype_size(io->dtype);
    if (!esize || len % esize)
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "input '%s': %zu bytes of raw binary data are not a whole number of "
                           "%s elements", io->name, len, serve_datatype_name(io->dtype));
    engine_shape s;
    status st = raw_shape(io, meta->max_batch_size, len / esize, &s, err);
    if (st) return st;
    return kserve_binary_add_input(r, io->name, io->dtype, &s, p, len, err);
}

/* --- outputs -------------------------------------------------------------------------- */

size_t kserve_binary_size(const serve_tensor *t) {
    if (t->dtype != ENGINE_STRING) return t->nbytes;
    const engine_string *s = t->data;
    int64_t n = engine_shape_numel(&t->shape);
    size_t total = 0;
    for (int64_t i = 0; i < n; i++) {
        if (s[i].len > UINT32_MAX || s[i].len > SIZE_MAX - 4 - total) return SIZE_MAX;
        total += 4 + s[i].len;
    }
    return total;
}

void kserve_binary_write(const serve_tensor *t, unsigned char *dst) {
    if (t->dtype != ENGINE_STRING) {
        if (t->nbytes) memcpy(dst, t->data, t->nbytes);
        return;
    }
    const engine_string *s = t->data;
    int64_t n = engine_shape_numel(&t->shape);
    for (int64_t i = 0; i < n; i++) {
        store_le32(dst, (uint32_t)s[i].len);
        if (s[i].len) memcpy(dst + 4, s[i].ptr, s[i].len);
        dst += 4 + s[i].len;
    }
}
