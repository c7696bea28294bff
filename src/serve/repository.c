/* repository.c -- walks REPO/<model>/<version>/ and applies version policies. */
#include "repository.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/log.h"

#define CONFIG_FILE "config.pbtxt"

/* A growable list of directory entry names. */
typedef struct name_list {
    char **v;
    size_t n, cap;
} name_list;

static void names_free(name_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_version(const void *a, const void *b) {
    return cmp_i64(&((const serve_repo_version *)a)->version, &((const serve_repo_version *)b)->version);
}

static char *path_join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    bool slash = la && a[la - 1] == '/';
    char *p = malloc(la + lb + 2);
    if (!p) return NULL;
    memcpy(p, a, la);
    if (!slash) p[la++] = '/';
    memcpy(p + la, b, lb + 1);
    return p;
}

static char *fmt_dup(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *fmt_dup(const char *fmt, ...) {
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return strdup(buf);
}

static bool is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Names of the subdirectories of dir (following symlinks, as Kubernetes
 * volumes use them), hidden ones skipped, sorted. */
static status list_subdirs(const char *dir, name_list *out, errinfo *err) {
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return status_fail(err, STATUS_IO_ERROR, "cannot read directory %s: %s", dir, strerror(errno));
    status st = STATUS_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *full = path_join(dir, e->d_name);
        if (!full) {
            st = status_fail(err, STATUS_NO_MEMORY, "out of memory scanning %s", dir);
            break;
        }
        bool sub = is_dir(full);
        free(full);
        if (!sub) {
            log_debug("%s: skipping '%s' (not a directory)", dir, e->d_name);
            continue;
        }
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 8;
            char **v = realloc(out->v, cap * sizeof *v);
            if (!v) {
                st = status_fail(err, STATUS_NO_MEMORY, "out of memory scanning %s", dir);
                break;
            }
            out->v = v;
            out->cap = cap;
        }
        if (!(out->v[out->n] = strdup(e->d_name))) {
            st = status_fail(err, STATUS_NO_MEMORY, "out of memory scanning %s", dir);
            break;
        }
        out->n++;
    }
    closedir(d);
    if (st) names_free(out);
    else if (out->n) qsort(out->v, out->n, sizeof *out->v, cmp_str);
    return st;
}

/* A version directory name: decimal digits, no sign or leading zero, > 0. */
static bool parse_version(const char *s, int64_t *out) {
    if (!isdigit((unsigned char)s[0]) || s[0] == '0') return false;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p)) return false;
        if (v > (INT64_MAX - (*p - '0')) / 10) return false;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return true;
}

size_t serve_repo_apply_policy(const model_version_policy *policy, const int64_t *found, size_t n,
                               int64_t *out, int64_t *missing, size_t *n_missing) {
    size_t k = 0;
    if (n_missing) *n_missing = 0;
    memcpy(out, found, n * sizeof *out);
    if (n) qsort(out, n, sizeof *out, cmp_i64);
    switch (policy->kind) {
    case MODEL_VERSIONS_ALL:
        return n;
    case MODEL_VERSIONS_LATEST: {
        size_t want = policy->latest > 0 ? (size_t)policy->latest : 1;
        if (want >= n) return n;
        memmove(out, out + (n - want), want * sizeof *out);
        return want;
    }
    case MODEL_VERSIONS_SPECIFIC:
        break;
    }
    for (size_t i = 0; i < n; i++) {
        bool keep = false;
        for (size_t j = 0; j < policy->n_versions && !keep; j++) keep = policy->versions[j] == out[i];
        if (keep) out[k++] = out[i];
    }
    for (size_t j = 0; missing && j < policy->n_versions; j++) {
        bool on_disk = false, dup = false;
        for (size_t i = 0; i < n && !on_disk; i++) on_disk = found[i] == policy->versions[j];
        for (size_t i = 0; i < *n_missing && !dup; i++) dup = missing[i] == policy->versions[j];
        if (!on_disk && !dup) missing[(*n_missing)++] = policy->versions[j];
    }
    return k;
}

static void model_free(serve_repo_model *m) {
    free(m->name);
    free(m->dir);
    model_config_release(m->config);
    free(m->error);
    for (size_t i = 0; i < m->n_versions; i++) {
        free(m->versions[i].path);
        free(m->versions[i].error);
    }
    free(m->versions);
}

void serve_repo_free(serve_repo *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n_models; i++) model_free(&r->models[i]);
    free(r->models);
    free(r);
}

/* Reads config.pbtxt (or makes the default); false only on out of memory. */
static bool scan_config(serve_repo_model *m) {
    char *path = path_join(m->dir, CONFIG_FILE);
    if (!path) return false;
    errinfo err;
    status st;
    if (is_file(path)) {
        m->has_config_file = true;
        st = model_config_load(path, &m->config, &err);
    } else {
        st = model_config_create_default(&m->config, &err);
    }
    free(path);
    if (st == STATUS_NO_MEMORY) return false;
    if (st) return (m->error = strdup(err.msg)) != NULL;
    const char *cname = m->config->name;
    if (cname && cname[0] && strcmp(cname, m->name))
        return (m->error = fmt_dup("%s/%s: 'name' is \"%s\" but the model directory is '%s' (they "
                                   "must match)", m->dir, CONFIG_FILE, cname, m->name)) != NULL;
    return true;
}

/* Fills one selected version: its model file, or why there is none. */
static bool scan_version(serve_repo_model *m, serve_repo_version *v, const char *filename,
                         bool on_disk) {
    char vname[32];
    snprintf(vname, sizeof vname, "%lld", (long long)v->version);
    if (!on_disk)
        return (v->error = fmt_dup("version %s is listed in the version policy but %s/%s does not "
                                   "exist", vname, m->dir, vname)) != NULL;
    char *vdir = path_join(m->dir, vname);
    char *file = vdir ? path_join(vdir, filename) : NULL;
    free(vdir);
    if (!file) return false;
    if (is_dir(file)) { /* model.onnx/model.onnx, Triton's layout with external data */
        char *inner = path_join(file, filename);
        free(file);
        if (!(file = inner)) return false;
    }
    if (!is_file(file)) {
        v->error = fmt_dup("no model file: %s does not exist", file);
        free(file);
        return v->error != NULL;
    }
    v->path = file;
    return true;
}

/* Finds the version directories and applies the policy; false only on out
 * of memory. */
static bool scan_versions(serve_repo_model *m, const char *default_filename) {
    name_list subs;
    errinfo err;
    status st = list_subdirs(m->dir, &subs, &err);
    if (st == STATUS_NO_MEMORY) return false;
    if (st) return (m->error = strdup(err.msg)) != NULL;
    const model_version_policy *vp = &m->config->version_policy;
    size_t cap = subs.n + vp->n_versions + 1;
    int64_t *found = calloc(cap, sizeof *found);
    int64_t *sel = calloc(cap, sizeof *sel);
    int64_t *missing = calloc(cap, sizeof *missing);
    bool ok = found && sel && missing;
    size_t n_found = 0;
    for (size_t i = 0; ok && i < subs.n; i++) {
        if (parse_version(subs.v[i], &found[n_found])) n_found++;
        else log_debug("%s: skipping '%s' (not a version: a positive integer)", m->dir, subs.v[i]);
    }
    names_free(&subs);
    size_t n_sel = 0, n_missing = 0;
    if (ok) n_sel = serve_repo_apply_policy(vp, found, n_found, sel, missing, &n_missing);
    if (ok && !n_found)
        ok = (m->error = fmt_dup("no version directory in %s (expected e.g. %s/1/%s)", m->dir,
                                 m->dir, default_filename)) != NULL;
    else if (ok && !n_sel && !n_missing)
        ok = (m->error = fmt_dup("the version policy selects none of the versions in %s",
                                 m->dir)) != NULL;
    if (ok && !m->error) {
        m->versions = calloc(n_sel + n_missing, sizeof *m->versions);
        ok = m->versions != NULL;
        const char *filename = m->config->default_model_filename
                                   ? m->config->default_model_filename : default_filename;
        for (size_t i = 0; ok && i < n_sel + n_missing; i++) {
            serve_repo_version *v = &m->versions[m->n_versions++];
            v->version = i < n_sel ? sel[i] : missing[i - n_sel];
            ok = scan_version(m, v, filename, i < n_sel);
        }
        if (ok && m->n_versions > 1) qsort(m->versions, m->n_versions, sizeof *m->versions, cmp_version);
    }
    free(found);
    free(sel);
    free(missing);
    return ok;
}

status serve_repo_scan(const char *root, const char *default_filename, serve_repo **out,
                       errinfo *err) {
    *out = NULL;
    struct stat sb;
    if (stat(root, &sb))
        return status_fail(err, errno == ENOENT ? STATUS_NOT_FOUND : STATUS_IO_ERROR,
                           "model repository %s: %s", root, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return status_fail(err, STATUS_IO_ERROR, "model repository %s is not a directory", root);
    name_list names;
    status st = list_subdirs(root, &names, err);
    if (st) return st;
    serve_repo *r = calloc(1, sizeof *r);
    if (!r || !(r->models = calloc(names.n ? names.n : 1, sizeof *r->models))) {
        free(r);
        names_free(&names);
        return status_fail(err, STATUS_NO_MEMORY, "out of memory scanning %s", root);
    }
    for (size_t i = 0; i < names.n; i++) {
        serve_repo_model *m = &r->models[r->n_models++];
        bool ok = (m->name = strdup(names.v[i])) && (m->dir = path_join(root, names.v[i])) &&
                  scan_config(m) && (m->error || scan_versions(m, default_filename));
        if (!ok) {
            names_free(&names);
            serve_repo_free(r);
            return status_fail(err, STATUS_NO_MEMORY, "out of memory scanning %s", root);
        }
    }
    names_free(&names);
    *out = r;
    return STATUS_OK;
}
