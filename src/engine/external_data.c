/* external_data.c -- weights stored next to the model file.
 *
 * A TensorProto with data_location EXTERNAL names a file ("location"), an
 * offset and a length. Each file is mapped read-only once per model and
 * tensors point into the mapping, so large models cost page cache, not heap.
 *
 * The location comes from the model file, which may not be trusted: an
 * absolute path or a ".." component could read any file the server can. Both
 * are refused. Symbolic links inside the model directory are followed on
 * purpose: Kubernetes volumes (ConfigMaps, projected volumes) are built from
 * them. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx_loader.h"

typedef struct ext_ref {
    pb_bytes location;
    uint64_t offset;
    uint64_t length;
    int has_length;
} ext_ref;

/* Strict decimal: external_data values are written by exporters as plain
 * integers; anything else is a malformed model. */
static int parse_u64(pb_bytes b, uint64_t *out) {
    uint64_t v = 0;
    if (b.len == 0 || b.len > 20) return -1;
    for (size_t i = 0; i < b.len; i++) {
        if (b.ptr[i] < '0' || b.ptr[i] > '9') return -1;
        unsigned d = (unsigned)(b.ptr[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static status parse_ref(const pb_tensor *pt, const char *what, ext_ref *r, errinfo *err) {
    memset(r, 0, sizeof *r);
    int has_location = 0;
    for (size_t i = 0; i < pt->n_external_data; i++) {
        const pb_string_entry *e = &pt->external_data[i];
        if (pb_bytes_eq(e->key, "location")) {
            r->location = e->value;
            has_location = 1;
        } else if (pb_bytes_eq(e->key, "offset")) {
            if (parse_u64(e->value, &r->offset))
                return status_fail(err, STATUS_INVALID_MODEL,
                                   "%s: external data offset is not a decimal integer", what);
        } else if (pb_bytes_eq(e->key, "length")) {
            if (parse_u64(e->value, &r->length))
                return status_fail(err, STATUS_INVALID_MODEL,
                                   "%s: external data length is not a decimal integer", what);
            r->has_length = 1;
        } /* "checksum" and unknown keys are ignored, as ONNX Runtime does */
    }
    if (!has_location)
        return status_fail(err, STATUS_INVALID_MODEL, "%s: external data has no 'location'", what);
    return STATUS_OK;
}

/* Relative, inside the model directory, no NUL, sane length. */
static status check_location(pb_bytes loc, const char *what, errinfo *err) {
    if (loc.len == 0 || loc.len >= PATH_MAX)
        return status_fail(err, STATUS_INVALID_MODEL, "%s: external data location is empty or too long", what);
    if (memchr(loc.ptr, '\0', loc.len))
        return status_fail(err, STATUS_INVALID_MODEL, "%s: external data location contains a NUL byte", what);
    if (loc.ptr[0] == '/')
        return status_fail(err, STATUS_INVALID_MODEL,
                           "%s: external data location '%.*s' is absolute; it must be relative to the model's directory",
                           what, (int)(loc.len > 200 ? 200 : loc.len), (const char *)loc.ptr);
    size_t start = 0;
    for (size_t i = 0; i <= loc.len; i++) {
        if (i < loc.len && loc.ptr[i] != '/') continue;
        if (i - start == 2 && loc.ptr[start] == '.' && loc.ptr[start + 1] == '.')
            return status_fail(err, STATUS_INVALID_MODEL,
                               "%s: external data location '%.*s' leaves the model's directory ('..' is not allowed)",
                               what, (int)(loc.len > 200 ? 200 : loc.len), (const char *)loc.ptr);
        start = i + 1;
    }
    return STATUS_OK;
}

static status map_file(engine_model *m, pb_bytes loc, const char *what, model_mapping **out,
                       errinfo *err) {
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%.*s", m->base_dir, (int)loc.len, (const char *)loc.ptr);
    if (n < 0 || (size_t)n >= sizeof path)
        return status_fail(err, STATUS_INVALID_MODEL, "%s: external data path too long", what);
    model_mapping *mm = calloc(1, sizeof *mm);
    status st = STATUS_NO_MEMORY;
    int fd = -1;
    if (!mm || !(mm->location = strndup((const char *)loc.ptr, loc.len))) {
        status_fail(err, st, "out of memory mapping %s", path);
        goto fail;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        st = status_fail(err, STATUS_IO_ERROR, "%s: cannot open external data file %s: %s", what,
                         path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = status_fail(err, STATUS_INVALID_MODEL, "%s: external data %s is not a regular file",
                         what, path);
        goto fail;
    }
    mm->len = (size_t)sb.st_size;
    if (mm->len) {
        mm->addr = mmap(NULL, mm->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (mm->addr == MAP_FAILED) {
            mm->addr = NULL;
            st = status_fail(err, STATUS_IO_ERROR, "%s: cannot map %s: %s", what, path, strerror(errno));
            goto fail;
        }
    }
    close(fd);
    mm->next = m->external;
    m->external = mm;
    *out = mm;
    return STATUS_OK;
fail:
    if (fd >= 0) close(fd);
    external_data_unmap(mm);
    return st;
}

static model_mapping *find_mapping(const engine_model *m, pb_bytes loc) {
    for (model_mapping *mm = m->external; mm; mm = mm->next)
        if (pb_bytes_eq(loc, mm->location)) return mm;
    return NULL;
}

status external_data_get(engine_model *m, const pb_tensor *pt, const char *what,
                         size_t want, const void **data, errinfo *err) {
    ext_ref r;
    status st = parse_ref(pt, what, &r, err);
    if (st) return st;
    if (!m->base_dir)
        return status_fail(err, STATUS_INVALID_MODEL,
                           "%s: stored in external file '%.*s', but the model was loaded from memory "
                           "without a base directory", what,
                           (int)(r.location.len > 200 ? 200 : r.location.len),
                           (const char *)r.location.ptr);
    st = check_location(r.location, what, err);
    if (st) return st;
    model_mapping *mm = find_mapping(m, r.location);
    if (!mm && (st = map_file(m, r.location, what, &mm, err))) return st;
    if (r.offset > mm->len)
        return status_fail(err, STATUS_INVALID_MODEL,
                           "%s: external data offset %llu is past the end of %s (%zu bytes)", what,
                           (unsigned long long)r.offset, mm->location, mm->len);
    uint64_t avail = mm->len - r.offset;
    uint64_t len = r.has_length ? r.length : avail;
    if (len > avail)
        return status_fail(err, STATUS_INVALID_MODEL,
                           "%s: external data [%llu, +%llu) runs past the end of %s (%zu bytes)",
                           what, (unsigned long long)r.offset, (unsigned long long)len,
                           mm->location, mm->len);
    if (len != want)
        return status_fail(err, STATUS_INVALID_MODEL,
                           "%s: external data has %llu bytes, but dims and type need %zu", what,
                           (unsigned long long)len, want);
    *data = mm->addr ? (const uint8_t *)mm->addr + r.offset : (const void *)"";
    return STATUS_OK;
}

void external_data_unmap(model_mapping *list) {
    while (list) {
        model_mapping *next = list->next;
        if (list->addr) munmap(list->addr, list->len);
        free(list->location);
        free(list);
        list = next;
    }
}

/* Drops from memory the whole pages of [p, p + len) when they lie in one of
 * m's read-only file mappings: the bytes were copied, and keeping the file's
 * pages resident too would count the weights twice in the RSS. The mapping
 * is private and never written, so a later read just faults the page back in
 * from the page cache. Memory not mapped from a file (a caller's buffer) is
 * left alone. */
static int within(const void *base, size_t blen, const uint8_t *p, size_t len) {
    const uint8_t *b = base;
    return b && p >= b && len <= blen && (size_t)(p - b) <= blen - len;
}

void model_mapping_release(const engine_model *m, const void *p, size_t len) {
    if (!m) return;
    int mapped = within(m->file_map, m->file_len, p, len);
    for (const model_mapping *mm = m->external; mm && !mapped; mm = mm->next)
        mapped = within(mm->addr, mm->len, p, len);
    if (!mapped) return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)p + page - 1) / page * page, hi = ((uintptr_t)p + len) / page * page;
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}
