/* warmup.c -- warmup samples from config.pbtxt model_warmup, or the default.
 *
 * A sample's data is built one row at a time (zeros, pseudo-random values,
 * or a file's bytes) and the row repeated batch_size times. BYTES data is
 * one block: the engine_string array, then the bytes of one row, which
 * every repeated row points at. */
#include "warmup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datatype.h"
#include "infer_request.h"

/* A warmup file larger than this is refused (one row of one input). */
#define WARMUP_MAX_FILE_BYTES ((size_t)1 << 30)

static status warm_oom(errinfo *err) {
    return status_fail(err, STATUS_NO_MEMORY, "out of memory building warmup data");
}

/* --- pseudo-random rows ------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s) { /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

typedef void (*fill_fn)(void *dst, int64_t n, size_t elem, uint64_t *rng);

static void fill_float(void *dst, int64_t n, size_t elem, uint64_t *rng) {
    (void)elem;
    for (int64_t i = 0; i < n; i++) ((float *)dst)[i] = (float)(rng_next(rng) >> 40) / 16777216.0f;
}

static void fill_double(void *dst, int64_t n, size_t elem, uint64_t *rng) {
    (void)elem;
    for (int64_t i = 0; i < n; i++)
        ((double *)dst)[i] = (double)(rng_next(rng) >> 11) / 9007199254740992.0;
}

/* FP16 and BF16 in [0.5, 1): a fixed exponent and random mantissa bits. */
static void fill_half(void *dst, int64_t n, size_t elem, uint64_t *rng) {
    (void)elem;
    for (int64_t i = 0; i < n; i++)
        ((uint16_t *)dst)[i] = (uint16_t)(0x3800u | (rng_next(rng) & 0x3ffu));
}

static void fill_bfloat(void *dst, int64_t n, size_t elem, uint64_t *rng) {
    (void)elem;
    for (int64_t i = 0; i < n; i++)
        ((uint16_t *)dst)[i] = (uint16_t)(0x3f00u | (rng_next(rng) & 0x7fu));
}

/* Integers and booleans of any width: 0 or 1 (little-endian). */
static void fill_bits(void *dst, int64_t n, size_t elem, uint64_t *rng) {
    memset(dst, 0, (size_t)n * elem);
    for (int64_t i = 0; i < n; i++)
        ((unsigned char *)dst)[(size_t)i * elem] = (unsigned char)(rng_next(rng) & 1u);
}

static fill_fn random_fill(engine_dtype dt) {
    switch (dt) {
    case ENGINE_FLOAT: return fill_float;
    case ENGINE_DOUBLE: return fill_double;
    case ENGINE_FLOAT16: return fill_half;
    case ENGINE_BFLOAT16: return fill_bfloat;
    default: return fill_bits;
    }
}

/* --- files ------------------------------------------------------------------------------ */

static status read_file(const char *path, char **out, size_t *len, errinfo *err) {
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return status_fail(err, STATUS_IO_ERROR, "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    status st = STATUS_OK;
    char *buf = NULL;
    if (fstat(fileno(fp), &sb) || !S_ISREG(sb.st_mode) ||
        (uint64_t)sb.st_size > WARMUP_MAX_FILE_BYTES) {
        st = status_fail(err, STATUS_IO_ERROR, "%s is not a regular file of at most %zu bytes",
                         path, WARMUP_MAX_FILE_BYTES);
    } else if (!(buf = malloc((size_t)sb.st_size + 1))) {
        st = warm_oom(err);
    } else if (fread(buf, 1, (size_t)sb.st_size, fp) != (size_t)sb.st_size) {
        st = status_fail(err, STATUS_IO_ERROR, "cannot read %s", path);
    }
    fclose(fp);
    if (st) {
        free(buf);
        return st;
    }
    *out = buf;
    *len = (size_t)sb.st_size;
    return STATUS_OK;
}

/* --- one input ------------------------------------------------------------------------ */

/* What one input of a sample asks for. */
typedef struct warm_input {
    const char *name;
    engine_dtype dtype;
    engine_shape shape;          /* with the batch dim when the model has one */
    int batch_dim;               /* 1: dims[0] is the batch dim (= rows) */
    int64_t rows;                /* batch_size (1 without a batch dim) */
    model_warmup_source source;
    const char *file;            /* MODEL_WARMUP_FILE: relative to <model>/warmup/ */
} warm_input;

/* One row of BYTES: the strings `row` points into `bytes`. */
typedef struct string_row {
    engine_string *row;
    char *bytes;
    size_t n_bytes;
} string_row;

static void string_row_free(string_row *sr) {
    free(sr->row);
    free(sr->bytes);
}

/* Parses <u32 length><bytes> elements, exactly `n` of them filling `len`. */
static status parse_strings(const char *buf, size_t len, int64_t n, string_row *sr,
                            const char *path, errinfo *err) {
    size_t off = 0;
    for (int64_t i = 0; i < n; i++) {
        if (len - off < 4)
            return status_fail(err, STATUS_INVALID_MODEL,
                               "%s: ends inside the length of element %lld (%lld BYTES elements "
                               "expected)", path, (long long)i, (long long)n);
        const unsigned char *p = (const unsigned char *)buf + off;
        size_t l = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
        off += 4;
        if (l > len - off)
            return status_fail(err, STATUS_INVALID_MODEL,
                               "%s: element %lld says %zu bytes, %zu are left", path,
                               (long long)i, l, len - off);
        sr->row[i] = (engine_string){.ptr = buf + off, .len = l};
        off += l;
    }
    if (off != len)
        return status_fail(err, STATUS_INVALID_MODEL,
                           "%s: %zu bytes left after %lld BYTES elements", path, len - off,
                           (long long)n);
    return STATUS_OK;
}

/* One row of strings from the input's source. */
static status string_row_build(const warm_input *wi, int64_t n, const char *path, string_row *sr,
                               errinfo *err) {
    memset(sr, 0, sizeof *sr);
    if (!(sr->row = calloc((size_t)(n ? n : 1), sizeof *sr->row))) return warm_oom(err);
    if (wi->source == MODEL_WARMUP_FILE) {
        status st = read_file(path, &sr->bytes, &sr->n_bytes, err);
        if (st) return st;
        return parse_strings(sr->bytes, sr->n_bytes, n, sr, path, err);
    }
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    size_t each = wi->source == MODEL_WARMUP_RANDOM ? 8 : 0;
    if (!(sr->bytes = malloc((size_t)n * each + 1))) return warm_oom(err);
    for (int64_t i = 0; i < n; i++) {
        size_t l = each ? 1 + (size_t)(rng_next(&rng) % each) : 0;
        char *p = sr->bytes + (size_t)i * each;
        for (size_t k = 0; k < l; k++) p[k] = (char)('a' + rng_next(&rng) % 26);
        sr->row[i] = (engine_string){.ptr = p, .len = l};
    }
    return STATUS_OK;
}

/* BYTES data: `rows` copies of the row, as one malloc'd block. */
static status string_data(const warm_input *wi, int64_t per_row, const char *path, void **out,
                          size_t *nbytes, errinfo *err) {
    string_row sr;
    status st = string_row_build(wi, per_row, path, &sr, err);
    size_t bytes = 0;
    for (int64_t i = 0; !st && i < per_row; i++) bytes += sr.row[i].len;
    int64_t total = per_row * wi->rows;
    engine_string *arr = st ? NULL : malloc((size_t)total * sizeof *arr + bytes + 1);
    if (!st && !arr) st = warm_oom(err);
    if (st) {
        string_row_free(&sr);
        return st;
    }
    char *p = (char *)(arr + total);
    for (int64_t i = 0; i < per_row; i++) {
        if (sr.row[i].len) memcpy(p, sr.row[i].ptr, sr.row[i].len);
        for (int64_t r = 0; r < wi->rows; r++)
            arr[r * per_row + i] = (engine_string){p, sr.row[i].len};
        p += sr.row[i].len;
    }
    string_row_free(&sr);
    *out = arr;
    *nbytes = (size_t)total * sizeof *arr;
    return STATUS_OK;
}

/* Fixed-size data: one row from the source, repeated. */
static status dense_data(const warm_input *wi, int64_t per_row, const char *path, void **out,
                         size_t *nbytes, errinfo *err) {
    size_t elem = serve_datatype_size(wi->dtype);
    size_t row_bytes = (size_t)per_row * elem;
    char *buf = calloc((size_t)wi->rows * row_bytes + 1, 1);
    if (!buf) return warm_oom(err);
    if (wi->source == MODEL_WARMUP_RANDOM) {
        uint64_t rng = 0x9E3779B97F4A7C15ULL;
        random_fill(wi->dtype)(buf, per_row, elem, &rng);
    } else if (wi->source == MODEL_WARMUP_FILE) {
        char *file;
        size_t len;
        status st = read_file(path, &file, &len, err);
        if (!st && len != row_bytes)
            st = status_fail(err, STATUS_INVALID_MODEL, "%s has %zu bytes; one row of %lld %s "
                             "elements needs %zu", path, len, (long long)per_row,
                             serve_datatype_name(wi->dtype), row_bytes);
        if (st) {
            free(file);
            free(buf);
            return st;
        }
        memcpy(buf, file, row_bytes);
        free(file);
    }
    for (int64_t r = 1; r < wi->rows; r++) memcpy(buf + (size_t)r * row_bytes, buf, row_bytes);
    *out = buf;
    *nbytes = (size_t)wi->rows * row_bytes;
    return STATUS_OK;
}

static status add_input(serve_request *r, const warm_input *wi, const char *model_dir,
                        errinfo *err) {
    int64_t per_row = 1;
    for (int d = wi->batch_dim; d < wi->shape.rank; d++) {
        int64_t v = wi->shape.dims[d];
        if (v < 0 || (v && per_row > INT64_MAX / 64 / v))
            return status_fail(err, STATUS_INVALID_MODEL, "input '%s': dims must be fixed and not "
                               "too large", wi->name);
        per_row *= v;
    }
    char path[1024] = "";
    if (wi->source == MODEL_WARMUP_FILE)
        snprintf(path, sizeof path, "%s/warmup/%s", model_dir ? model_dir : ".", wi->file);
    void *data = NULL;
    size_t nbytes = 0;
    status st = wi->dtype == ENGINE_STRING ? string_data(wi, per_row, path, &data, &nbytes, err)
                                           : dense_data(wi, per_row, path, &data, &nbytes, err);
    if (st) return status_wrap(err, st, "input '%s'", wi->name);
    return serve_request_add_input(r, wi->name, wi->dtype, &wi->shape, data, nbytes, true, err);
}

/* --- samples ------------------------------------------------------------------------------ */

static status sample_new(serve_warmup_sample *ws, const serve_model_meta *meta, const char *name,
                         int count, errinfo *err) {
    memset(ws, 0, sizeof *ws);
    ws->count = count > 0 ? count : 1;
    if (!(ws->name = strdup(name))) return warm_oom(err);
    return serve_request_create(meta->name ? meta->name : "", meta->version, &ws->request, err);
}

/* The sample must pass the checks a client's request would. */
static status sample_check(serve_warmup_sample *ws, const serve_model_meta *meta, errinfo *err) {
    status st = serve_request_validate(ws->request, meta, err);
    return st ? STATUS_INVALID_MODEL : STATUS_OK;
}

static status sample_from_config(serve_warmup_sample *ws, const model_warmup *mw, size_t index,
                                 const serve_model_meta *meta, const char *model_dir,
                                 errinfo *err) {
    char name[128];
    if (mw->name && mw->name[0]) snprintf(name, sizeof name, "%s", mw->name);
    else snprintf(name, sizeof name, "model_warmup[%zu]", index);
    status st = sample_new(ws, meta, name, mw->count, err);
    int b = meta->max_batch_size > 0;
    for (size_t i = 0; !st && i < mw->n_inputs; i++) {
        const model_warmup_input *in = &mw->inputs[i];
        warm_input wi = {.name = in->name, .dtype = in->dtype, .batch_dim = b,
                         .rows = b ? mw->batch_size : 1, .source = in->source, .file = in->file};
        if (in->rank + b > ENGINE_MAX_RANK) {
            st = status_fail(err, STATUS_INVALID_MODEL, "input '%s': rank %d is more than %d",
                             in->name, in->rank + b, ENGINE_MAX_RANK);
            break;
        }
        wi.shape.rank = in->rank + b;
        if (b) wi.shape.dims[0] = mw->batch_size;
        memcpy(wi.shape.dims + b, in->dims, (size_t)in->rank * sizeof *in->dims);
        st = add_input(ws->request, &wi, model_dir, err);
    }
    if (!st) st = sample_check(ws, meta, err);
    if (st) status_wrap(err, st, "model_warmup '%s' (config.pbtxt:%d:%d)", name, mw->line, mw->col);
    return st;
}

/* Zeros for every required input, batch 1, symbolic dims 1. Returns false
 * (and builds nothing) when an input's rank is unknown. */
static status sample_default(serve_warmup_sample *ws, const serve_model_meta *meta, bool *built,
                             errinfo *err) {
    *built = false;
    for (int i = 0; i < meta->n_inputs; i++)
        if (!meta->inputs[i].optional && meta->inputs[i].rank < 0) return STATUS_OK;
    status st = sample_new(ws, meta, "default", 1, err);
    for (int i = 0; !st && i < meta->n_inputs; i++) {
        const serve_io *io = &meta->inputs[i];
        if (io->optional) continue;
        warm_input wi = {.name = io->name, .dtype = io->dtype, .rows = 1,
                         .source = MODEL_WARMUP_ZERO};
        wi.shape.rank = io->rank;
        for (int d = 0; d < io->rank; d++) {
            wi.shape.dims[d] = io->dims[d] < 0 ? 1 : io->dims[d];
            if (io->dims[d] < 0 && d > 0) ws->advisory = true;
        }
        st = add_input(ws->request, &wi, NULL, err);
    }
    if (!st) st = sample_check(ws, meta, err);
    if (st) return status_wrap(err, st, "default warmup sample");
    *built = true;
    return STATUS_OK;
}

void serve_warmup_free(serve_warmup_sample *ws, int n) {
    for (int i = 0; ws && i < n; i++) {
        free((char *)ws[i].name);
        serve_request_destroy(ws[i].request);
    }
    free(ws);
}

status serve_warmup_build(const model_config *cfg, const serve_model_meta *meta,
                          const char *model_dir, serve_warmup_sample **out, int *n, errinfo *err) {
    *out = NULL;
    *n = 0;
    size_t want = cfg && cfg->n_warmups ? cfg->n_warmups : 1;
    serve_warmup_sample *ws = calloc(want, sizeof *ws);
    if (!ws) return warm_oom(err);
    status st = STATUS_OK;
    int made = 0;
    if (cfg && cfg->n_warmups) {
        for (size_t i = 0; i < cfg->n_warmups && !st; i++, made++)
            st = sample_from_config(&ws[i], &cfg->warmups[i], i, meta, model_dir, err);
    } else {
        bool built;
        st = sample_default(&ws[0], meta, &built, err);
        made = st || built ? 1 : 0;
    }
    if (st) {
        serve_warmup_free(ws, made);
        return st;
    }
    if (!made) {
        free(ws);
        return STATUS_OK;
    }
    *out = ws;
    *n = made;
    return STATUS_OK;
}
