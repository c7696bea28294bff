/* integrity.c -- sha256sums manifests: parse, hash, compare. */
#include "integrity.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MANIFEST_MAX_BYTES (1u << 20)  /* far more than any list of model files */
#define HASH_BLOCK (1u << 20)

/* --- hashing ----------------------------------------------------------------------- */

static status read_fully(int fd, const char *path, EVP_MD_CTX *ctx, unsigned char *buf,
                         errinfo *err) {
    for (;;) {
        ssize_t n = read(fd, buf, HASH_BLOCK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            return status_fail(err, STATUS_IO_ERROR, "cannot read %s: %s", path, strerror(errno));
        if (n == 0) return STATUS_OK;
        if (!EVP_DigestUpdate(ctx, buf, (size_t)n))
            return status_fail(err, STATUS_INTERNAL, "SHA-256 of %s failed", path);
    }
}

status serve_sha256_file(const char *path, char hex[65], errinfo *err) {
    hex[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return status_fail(err, STATUS_IO_ERROR, "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        close(fd);
        return status_fail(err, STATUS_IO_ERROR, "%s is not a regular file", path);
    }
    unsigned char *buf = malloc(HASH_BLOCK);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    status st = STATUS_OK;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (!buf || !ctx) st = status_fail(err, STATUS_NO_MEMORY, "out of memory hashing %s", path);
    else if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
        st = status_fail(err, STATUS_INTERNAL, "SHA-256 is not available from libcrypto");
    if (!st) st = read_fully(fd, path, ctx, buf, err);
    if (!st && (!EVP_DigestFinal_ex(ctx, md, &md_len) || md_len != 32))
        st = status_fail(err, STATUS_INTERNAL, "SHA-256 of %s failed", path);
    for (unsigned i = 0; !st && i < md_len; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    EVP_MD_CTX_free(ctx);
    free(buf);
    close(fd);
    return st;
}

/* --- the manifest ------------------------------------------------------------------- */

static status read_manifest(const char *path, char **out, size_t *len, errinfo *err) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return status_fail(err, STATUS_IO_ERROR, "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    status st = STATUS_OK;
    char *text = NULL;
    size_t got = 0;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode))
        st = status_fail(err, STATUS_INVALID_MODEL, "%s is not a regular file", path);
    else if ((uint64_t)sb.st_size > MANIFEST_MAX_BYTES)
        st = status_fail(err, STATUS_INVALID_MODEL, "%s is %lld bytes; at most %u are read", path,
                         (long long)sb.st_size, MANIFEST_MAX_BYTES);
    else if (!(text = malloc((size_t)sb.st_size + 1)))
        st = status_fail(err, STATUS_NO_MEMORY, "out of memory reading %s", path);
    while (!st && got < (size_t)sb.st_size) {
        ssize_t n = read(fd, text + got, (size_t)sb.st_size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            st = status_fail(err, STATUS_IO_ERROR, "cannot read %s: %s", path, strerror(errno));
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    if (st) {
        free(text);
        return st;
    }
    text[got] = '\0';
    *out = text;
    *len = got;
    return STATUS_OK;
}

/* Undoes sha256sum's escaping of a name in place ("\\" and "\n"). */
static bool unescape_name(char *s) {
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r != '\\') {
            *w++ = *r;
            continue;
        }
        r++;
        if (*r == '\\') *w++ = '\\';
        else if (*r == 'n') *w++ = '\n';
        else return false;
    }
    *w = '\0';
    return true;
}

/* A name that stays inside the version directory. */
static bool name_is_safe(const char *name) {
    if (!name[0] || name[0] == '/') return false;
    for (const char *p = name; *p;) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') return false;
        p += n;
        while (*p == '/') p++;
    }
    return true;
}

typedef struct manifest_line {
    char hash[65];
    char *name;          /* points into the line (unescaped in place) */
} manifest_line;

/* "HASH  name" or "HASH *name", optionally escaped (leading '\'). */
static status parse_line(char *line, const char *where, manifest_line *out, errinfo *err) {
    bool escaped = line[0] == '\\';
    char *p = line + escaped;
    size_t hex = 0;
    while (isxdigit((unsigned char)p[hex])) hex++;
    if (hex != 64 || p[64] != ' ' || (p[65] != ' ' && p[65] != '*') || !p[66])
        return status_fail(err, STATUS_INVALID_MODEL,
                           "%s: expected '<64 hex digits>  <file name>' as sha256sum writes it",
                           where);
    memcpy(out->hash, p, 64);
    out->hash[64] = '\0';
    out->name = p + 66;
    if (escaped && !unescape_name(out->name))
        return status_fail(err, STATUS_INVALID_MODEL, "%s: bad escape sequence in the file name",
                           where);
    while (out->name[0] == '.' && out->name[1] == '/') out->name += 2;
    if (!name_is_safe(out->name))
        return status_fail(err, STATUS_INVALID_MODEL,
                           "%s: '%s' is not a path inside the version directory (no absolute "
                           "paths, no '..')", where, out->name);
    return STATUS_OK;
}

static status check_line(const char *version_dir, const manifest_line *l, const char *where,
                         errinfo *err) {
    char path[4096], got[65];
    if (snprintf(path, sizeof path, "%s/%s", version_dir, l->name) >= (int)sizeof path)
        return status_fail(err, STATUS_INVALID_MODEL, "%s: the path is too long", where);
    errinfo e2;
    status st = serve_sha256_file(path, got, &e2);
    if (st) return status_fail(err, st, "%s: %s", where, e2.msg);
    if (strcasecmp(got, l->hash))
        return status_fail(err, STATUS_INVALID_MODEL,
                           "%s: %s: checksum mismatch (sha256sums says %.16s..., the file has "
                           "%.16s...); the file is corrupt or changed after sha256sums was written",
                           where, l->name, l->hash, got);
    return STATUS_OK;
}

status serve_integrity_check(const char *version_dir, const char *model_file, errinfo *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", version_dir, SERVE_INTEGRITY_FILE);
    struct stat sb;
    if (stat(path, &sb)) {
        if (errno == ENOENT) return STATUS_OK;
        return status_fail(err, STATUS_IO_ERROR, "cannot stat %s: %s", path, strerror(errno));
    }
    /* The model file relative to the version directory, if it is under it. */
    size_t vlen = strlen(version_dir);
    const char *model_rel = NULL;
    if (model_file && !strncmp(model_file, version_dir, vlen) && model_file[vlen] == '/')
        model_rel = model_file + vlen + 1;
    char *text = NULL;
    size_t len = 0;
    status st = read_manifest(path, &text, &len, err);
    if (st) return st;
    int lineno = 0, listed = 0;
    bool model_listed = false;
    for (char *line = text; !st && line < text + len;) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        char *next = nl ? nl + 1 : text + len;
        if (nl) *nl = '\0';
        lineno++;
        size_t n = strlen(line);
        if (n && line[n - 1] == '\r') line[--n] = '\0';
        if (n) {
            char where[4200];
            snprintf(where, sizeof where, "%s line %d", path, lineno);
            manifest_line l;
            st = parse_line(line, where, &l, err);
            if (!st) st = check_line(version_dir, &l, where, err);
            if (!st && model_rel && !strcmp(l.name, model_rel)) model_listed = true;
            listed++;
        }
        line = next;
    }
    free(text);
    if (st) return st;
    if (!listed) return status_fail(err, STATUS_INVALID_MODEL, "%s lists no file", path);
    if (model_rel && !model_listed)
        return status_fail(err, STATUS_INVALID_MODEL,
                           "%s does not list the model file %s (it must cover it)", path,
                           model_rel);
    return STATUS_OK;
}
