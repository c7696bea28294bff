/* conformance.c -- runs ONNX backend test cases through the engine.
 *
 * A case is a directory holding model.onnx and test_data_set_N directories with
 * input_N.pb and output_N.pb (serialized TensorProtos), as in ONNX's own
 * backend tests and Debian's libonnx-testdata. Each case is loaded, every
 * data set is run on one thread, and the outputs are compared with the
 * references:
 *
 *     onnx_conformance --filter conv /usr/share/libonnx-testdata/data/node
 *     onnx_conformance --known-failures tests/conformance/known_failures.txt \
 *                      --report-md docs/conformance-table.md DATA/node DATA/simple
 *
 * Each case runs in a child process (unless --no-fork) so that one crashing
 * or hanging operator costs one case, not the whole report.
 *
 * Results: pass; fail (wrong values, dtype or shape); unsupported (the
 * engine answered STATUS_UNSUPPORTED: an operator, opset, type or attribute
 * value it does not implement); error (anything else: a load or run error,
 * a crash, a timeout). The exit status is non-zero when a case fails or
 * errs and is not listed in the known-failures file. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/dtype.h"
#include "engine/engine.h"

enum result { R_PASS, R_FAIL, R_UNSUPPORTED, R_ERROR, R__COUNT };
static const char *const result_names[R__COUNT] = {"pass", "FAIL", "unsupported", "ERROR"};

typedef struct options {
    const char *filter;
    const char *known_path;
    const char *report_md;
    double tolerance_scale;     /* 0 = ONNX's rtol/atol rule */
    int verbose;
    int fork;
    int timeout;                /* seconds per case */
    int threads;
} options;

/* What one case produced; sent from the child over a pipe. */
typedef struct case_result {
    enum result r;
    char reason[600];
} case_result;

typedef struct case_entry {
    char *dir;                  /* case directory */
    char *name;                 /* "group/case" */
    char *group;
    case_result res;
    int known;                  /* listed in the known-failures file */
} case_entry;

typedef struct case_list {
    case_entry *v;
    size_t n, cap;
} case_list;

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("onnx_conformance: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory");
    return p;
}

static char *xstrdup(const char *s) {
    char *d = strdup(s);
    if (!d) die("out of memory");
    return d;
}

static char *path_join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the entries of dir that start with prefix. */
static char **list_dir(const char *dir, const char *prefix, size_t *n) {
    DIR *d = opendir(dir);
    char **v = NULL;
    size_t cap = 0;
    *n = 0;
    if (!d) return NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            v = realloc(v, cap * sizeof *v);
            if (!v) die("out of memory");
        }
        v[(*n)++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (*n) qsort(v, *n, sizeof *v, cmp_str);
    return v;
}

static void free_list(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* --- collecting cases ------------------------------------------------------ */

static void add_case(case_list *cl, const char *dir, const char *group, const options *o) {
    char name[1024];
    snprintf(name, sizeof name, "%s/%s", group, base_name(dir));
    if (o->filter && !strstr(name, o->filter)) return;
    if (cl->n == cl->cap) {
        cl->cap = cl->cap ? cl->cap * 2 : 256;
        cl->v = realloc(cl->v, cl->cap * sizeof *cl->v);
        if (!cl->v) die("out of memory");
    }
    case_entry *c = &cl->v[cl->n++];
    memset(c, 0, sizeof *c);
    c->dir = xstrdup(dir);
    c->name = xstrdup(name);
    c->group = xstrdup(group);
}

/* Strips trailing slashes so base names come out right. */
static char *clean_dir(const char *arg) {
    char *d = xstrdup(arg);
    size_t n = strlen(d);
    while (n > 1 && d[n - 1] == '/') d[--n] = '\0';
    return d;
}

static void collect(case_list *cl, const char *arg, const options *o) {
    char *dir = clean_dir(arg);
    char *model = path_join(dir, "model.onnx");
    if (is_file(model)) {
        /* A single case: its group is the directory it sits in. */
        char *parent = xstrdup(dir);
        char *slash = strrchr(parent, '/');
        const char *group = "cases";
        if (slash) {
            *slash = '\0';
            group = base_name(parent);
        }
        add_case(cl, dir, group, o);
        free(parent);
    } else if (is_dir(dir)) {
        size_t n;
        char **names = list_dir(dir, "", &n);
        for (size_t i = 0; i < n; i++) {
            char *sub = path_join(dir, names[i]);
            char *m = path_join(sub, "model.onnx");
            if (is_file(m)) add_case(cl, sub, base_name(dir), o);
            free(m);
            free(sub);
        }
        free_list(names, n);
    } else {
        die("%s: not a case directory (no model.onnx) nor a directory of cases", arg);
    }
    free(model);
    free(dir);
}

/* --- known failures ---------------------------------------------------------- */

typedef struct known_list {
    char **names;
    size_t n;
    int *used;
} known_list;

/* One case per line, as "group/case" or "case"; '#' starts a comment;
 * anything after the name (a reason) is ignored. */
static void known_load(known_list *k, const char *path) {
    memset(k, 0, sizeof *k);
    if (!path) return;
    FILE *f = fopen(path, "r");
    if (!f) die("%s: %s", path, strerror(errno));
    char line[1024];
    size_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        char *p = line + strspn(line, " \t");
        char *hash = strchr(p, '#');
        if (hash) *hash = '\0';
        p[strcspn(p, " \t\r\n")] = '\0';
        if (!*p) continue;
        if (k->n == cap) {
            cap = cap ? cap * 2 : 64;
            k->names = realloc(k->names, cap * sizeof *k->names);
            if (!k->names) die("out of memory");
        }
        k->names[k->n++] = xstrdup(p);
    }
    fclose(f);
    k->used = calloc(k->n + 1, sizeof *k->used);
    if (!k->used) die("out of memory");
}

static int known_has(known_list *k, const case_entry *c) {
    const char *short_name = base_name(c->name);
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->names[i], c->name) == 0 || strcmp(k->names[i], short_name) == 0) {
            k->used[i] = 1;
            return 1;
        }
    return 0;
}

/* --- reading test data -------------------------------------------------------- */

static int read_file(const char *path, void **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 1 << 16, n = 0;
    char *b = xmalloc(cap);
    size_t r;
    while ((r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            b = realloc(b, cap);
            if (!b) die("out of memory");
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        return -1;
    }
    *buf = b;
    *len = n;
    return 0;
}

static void fail_reason(case_result *cr, enum result r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    cr->r = r;
    vsnprintf(cr->reason, sizeof cr->reason, fmt, ap);
    va_end(ap);
}

/* Loads prefix_0.pb, prefix_1.pb, ... from dir: exactly `want` files. */
static int load_tensors(const char *dir, const char *prefix, int want, engine_tensor *t,
                        case_result *cr) {
    int i = 0;
    for (;; i++) {
        char file[64];
        snprintf(file, sizeof file, "%s_%d.pb", prefix, i);
        char *p = path_join(dir, file);
        void *buf;
        size_t len;
        if (read_file(p, &buf, &len)) {
            free(p);
            break;
        }
        if (i >= want) {
            free(buf);
            free(p);
            i++;
            continue; /* count the extra files for the message */
        }
        errinfo err;
        status st = engine_tensor_from_proto(buf, len, &t[i], NULL, &err);
        free(buf);
        if (st) {
            fail_reason(cr, R_ERROR, "%s: %s", p, err.msg);
            free(p);
            return -1;
        }
        free(p);
    }
    if (i != want) {
        fail_reason(cr, R_ERROR, "%s has %d %s files, the model has %d %ss", base_name(dir), i,
                    prefix, want, prefix);
        return -1;
    }
    return 0;
}

static void release_all(engine_tensor *t, int n) {
    for (int i = 0; i < n; i++) engine_tensor_release(&t[i]);
}

/* --- comparing ------------------------------------------------------------- */

static const char *fmt_shape(const engine_shape *s, char *buf, size_t len) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, len - o, "[");
    for (int i = 0; i < s->rank && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, i ? ",%lld" : "%lld", (long long)s->dims[i]);
    if (o < len) snprintf(buf + o, len - o, "]");
    return buf;
}

/* ONNX's backend tests use numpy's assert_allclose(rtol=1e-3, atol=1e-7).
 * With --tolerance-scale X the rule becomes |got - ref| <= X * scale, where
 * scale = max(1, max |ref|) over the output: X relative to the output's
 * magnitude, and X absolute for outputs of magnitude below 1 (an all-zero
 * output still has a usable bound). */
static int close_enough(double got, double ref, double tol_abs, const options *o) {
    if (isnan(ref) || isnan(got)) return isnan(ref) && isnan(got);
    if (isinf(ref) || isinf(got)) return got == ref;
    double diff = fabs(got - ref);
    if (o->tolerance_scale > 0) return diff <= tol_abs;
    return diff <= 1e-7 + 1e-3 * fabs(ref);
}

static int compare_float(const engine_tensor *got, const engine_tensor *ref, int64_t n,
                         const char *what, const options *o, case_result *cr) {
    double scale = 1;
    for (int64_t i = 0; i < n; i++) {
        double r = fabs(dtype_load_double(ref->dtype, ref->data, i));
        if (isfinite(r) && r > scale) scale = r;
    }
    double tol_abs = o->tolerance_scale * scale;
    for (int64_t i = 0; i < n; i++) {
        double g = dtype_load_double(got->dtype, got->data, i);
        double r = dtype_load_double(ref->dtype, ref->data, i);
        if (close_enough(g, r, tol_abs, o)) continue;
        double tol = o->tolerance_scale > 0 ? tol_abs : 1e-7 + 1e-3 * fabs(r);
        fail_reason(cr, R_FAIL, "%s element %lld: got %.9g, expected %.9g (|diff| %.3g > tolerance %.3g)",
                    what, (long long)i, g, r, fabs(g - r), tol);
        return -1;
    }
    return 0;
}

static int compare_exact(const engine_tensor *got, const engine_tensor *ref, int64_t n,
                         const char *what, case_result *cr) {
    size_t es = engine_dtype_size(ref->dtype);
    for (int64_t i = 0; i < n; i++) {
        if (ref->dtype == ENGINE_STRING) {
            const engine_string *a = (const engine_string *)got->data + i;
            const engine_string *b = (const engine_string *)ref->data + i;
            if (a->len == b->len && (!a->len || memcmp(a->ptr, b->ptr, a->len) == 0)) continue;
            fail_reason(cr, R_FAIL, "%s element %lld: got \"%.*s\", expected \"%.*s\"", what,
                        (long long)i, (int)(a->len > 60 ? 60 : a->len), a->ptr,
                        (int)(b->len > 60 ? 60 : b->len), b->ptr);
            return -1;
        }
        if (memcmp((const char *)got->data + i * es, (const char *)ref->data + i * es, es) == 0) continue;
        if (ref->dtype == ENGINE_UINT64)
            fail_reason(cr, R_FAIL, "%s element %lld: got %llu, expected %llu", what, (long long)i,
                        (unsigned long long)((const uint64_t *)got->data)[i],
                        (unsigned long long)((const uint64_t *)ref->data)[i]);
        else
            fail_reason(cr, R_FAIL, "%s element %lld: got %lld, expected %lld", what, (long long)i,
                        (long long)dtype_load_int64(got->dtype, got->data, i),
                        (long long)dtype_load_int64(ref->dtype, ref->data, i));
        return -1;
    }
    return 0;
}

static int compare_output(const engine_tensor *got, const engine_tensor *ref, const char *what,
                          const options *o, case_result *cr) {
    char a[256], b[256];
    if (got->dtype != ref->dtype) {
        fail_reason(cr, R_FAIL, "%s: type %s, expected %s", what, engine_dtype_name(got->dtype),
                    engine_dtype_name(ref->dtype));
        return -1;
    }
    int same = got->shape.rank == ref->shape.rank;
    for (int i = 0; same && i < ref->shape.rank; i++) same = got->shape.dims[i] == ref->shape.dims[i];
    if (!same) {
        fail_reason(cr, R_FAIL, "%s: shape %s, expected %s", what, fmt_shape(&got->shape, a, sizeof a),
                    fmt_shape(&ref->shape, b, sizeof b));
        return -1;
    }
    int64_t n = engine_shape_numel(&ref->shape);
    if (n > 0 && (!got->data || got->nbytes < (size_t)n * engine_dtype_size(got->dtype))) {
        fail_reason(cr, R_ERROR, "%s: the engine returned %zu bytes for %lld elements", what,
                    got->nbytes, (long long)n);
        return -1;
    }
    if (dtype_is_float(ref->dtype)) return compare_float(got, ref, n, what, o, cr);
    return compare_exact(got, ref, n, what, cr);
}

/* --- running one case ---------------------------------------------------------- */

static int run_data_set(engine_model *m, engine_session *s, const char *dir, const options *o,
                        case_result *cr) {
    int ni = engine_model_input_count(m), no = engine_model_output_count(m);
    engine_tensor *in = calloc((size_t)ni + 1, sizeof *in);
    engine_tensor *ref = calloc((size_t)no + 1, sizeof *ref);
    engine_tensor *out = calloc((size_t)no + 1, sizeof *out);
    int rc = -1;
    if (!in || !ref || !out) die("out of memory");
    if (load_tensors(dir, "input", ni, in, cr) || load_tensors(dir, "output", no, ref, cr)) goto done;
    /* numpy has no bfloat16, so ONNX's test generator stores bfloat16 data
     * as uint16 tensors with the same bits: read them as what the model
     * means. */
    for (int i = 0; i < ni; i++)
        if (in[i].dtype == ENGINE_UINT16 && engine_model_input(m, i)->dtype == ENGINE_BFLOAT16)
            in[i].dtype = ENGINE_BFLOAT16;
    errinfo err;
    status st = engine_session_run(s, in, out, &err);
    if (st) {
        fail_reason(cr, st == STATUS_UNSUPPORTED ? R_UNSUPPORTED : R_ERROR, "%s: run: %s (%s)",
                    base_name(dir), err.msg, status_name(st));
        goto done;
    }
    for (int k = 0; k < no; k++) {
        char what[300];
        snprintf(what, sizeof what, "%s: output %d '%s'", base_name(dir), k, engine_model_output(m, k)->name);
        if (ref[k].dtype == ENGINE_UINT16 && out[k].dtype == ENGINE_BFLOAT16) ref[k].dtype = ENGINE_BFLOAT16;
        if (compare_output(&out[k], &ref[k], what, o, cr)) goto done;
    }
    rc = 0;
done:
    release_all(out, no);
    release_all(ref, no);
    release_all(in, ni);
    free(out);
    free(ref);
    free(in);
    return rc;
}

static void run_case(const char *dir, const options *o, case_result *cr) {
    char *model_path = path_join(dir, "model.onnx");
    engine_model *m = NULL;
    engine_session *s = NULL;
    errinfo err;
    size_t n_sets = 0;
    char **sets = NULL;
    memset(cr, 0, sizeof *cr);
    status st = engine_model_load(model_path, NULL, &m, &err);
    if (st) {
        /* The case name already says which model: drop the path prefix. */
        const char *msg = err.msg;
        size_t pl = strlen(model_path);
        if (strncmp(msg, model_path, pl) == 0 && msg[pl] == ':') msg += pl + strspn(msg + pl, ": ");
        fail_reason(cr, st == STATUS_UNSUPPORTED ? R_UNSUPPORTED : R_ERROR, "load: %s (%s)", msg,
                    status_name(st));
        goto done;
    }
    engine_session_options so = {.threads = o->threads};
    if ((st = engine_session_create(m, &so, &s, &err))) {
        fail_reason(cr, R_ERROR, "session: %s (%s)", err.msg, status_name(st));
        goto done;
    }
    sets = list_dir(dir, "test_data_set_", &n_sets);
    if (n_sets == 0) {
        fail_reason(cr, R_ERROR, "no test_data_set_* directories");
        goto done;
    }
    for (size_t i = 0; i < n_sets; i++) {
        char *sd = path_join(dir, sets[i]);
        int bad = run_data_set(m, s, sd, o, cr);
        free(sd);
        if (bad) goto done;
    }
    cr->r = R_PASS;
done:
    free_list(sets, n_sets);
    engine_session_destroy(s);
    engine_model_destroy(m);
    free(model_path);
}

/* Runs the case in a child: a crash or a hang becomes an error result. */
static void run_case_isolated(const char *dir, const options *o, case_result *cr) {
    int fds[2];
    fflush(NULL);
    if (pipe(fds)) die("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        alarm((unsigned)o->timeout);
        run_case(dir, o, cr);
        ssize_t w = write(fds[1], cr, sizeof *cr);
        _exit(w == (ssize_t)sizeof *cr ? 0 : 3);
    }
    close(fds[1]);
    memset(cr, 0, sizeof *cr);
    size_t got = 0;
    while (got < sizeof *cr) {
        ssize_t r = read(fds[0], (char *)cr + got, sizeof *cr - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fds[0]);
    int wst;
    while (waitpid(pid, &wst, 0) < 0 && errno == EINTR) {}
    if (got == sizeof *cr && WIFEXITED(wst) && WEXITSTATUS(wst) == 0) {
        cr->reason[sizeof cr->reason - 1] = '\0';
        return;
    }
    if (WIFSIGNALED(wst) && WTERMSIG(wst) == SIGALRM)
        fail_reason(cr, R_ERROR, "timed out after %d s", o->timeout);
    else if (WIFSIGNALED(wst))
        fail_reason(cr, R_ERROR, "crashed: %s", strsignal(WTERMSIG(wst)));
    else
        fail_reason(cr, R_ERROR, "child exited with status %d (sanitizer report above?)",
                    WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
}

/* --- reporting --------------------------------------------------------------- */

typedef struct group_stat {
    const char *group;
    int count[R__COUNT];
    int total;
} group_stat;

static int group_stats(const case_list *cl, group_stat *gs) {
    int ng = 0;
    for (size_t i = 0; i < cl->n; i++) {
        int g = 0;
        while (g < ng && strcmp(gs[g].group, cl->v[i].group) != 0) g++;
        if (g == ng) {
            memset(&gs[ng], 0, sizeof gs[ng]);
            gs[ng++].group = cl->v[i].group;
        }
        gs[g].count[cl->v[i].res.r]++;
        gs[g].total++;
    }
    return ng;
}

/* Markdown table cells cannot hold '|' or newlines. */
static void md_cell(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '|') fputs("\\|", f);
        else if (*s == '\n' || *s == '\r') fputc(' ', f);
        else fputc(*s, f);
    }
}

static void write_md(const char *path, const case_list *cl, const group_stat *gs, int ng) {
    FILE *f = fopen(path, "w");
    if (!f) die("%s: %s", path, strerror(errno));
    int tot[R__COUNT] = {0}, all = 0;
    fprintf(f, "| directory | passed | failed | unsupported | total |\n|---|---:|---:|---:|---:|\n");
    for (int g = 0; g < ng; g++) {
        fprintf(f, "| %s | %d | %d | %d | %d |\n", gs[g].group, gs[g].count[R_PASS],
                gs[g].count[R_FAIL] + gs[g].count[R_ERROR], gs[g].count[R_UNSUPPORTED], gs[g].total);
        for (int r = 0; r < R__COUNT; r++) tot[r] += gs[g].count[r];
        all += gs[g].total;
    }
    fprintf(f, "| **all** | **%d** | **%d** | **%d** | **%d** |\n\n", tot[R_PASS],
            tot[R_FAIL] + tot[R_ERROR], tot[R_UNSUPPORTED], all);
    fprintf(f, "### Cases that do not pass\n\n| case | result | reason |\n|---|---|---|\n");
    for (size_t i = 0; i < cl->n; i++) {
        const case_entry *c = &cl->v[i];
        if (c->res.r == R_PASS) continue;
        fprintf(f, "| %s | %s%s | ", c->name, result_names[c->res.r], c->known ? " (known)" : "");
        md_cell(f, c->res.reason);
        fputs(" |\n", f);
    }
    fclose(f);
}

static void usage(FILE *f) {
    fputs("usage: onnx_conformance [options] DIR...\n"
          "  DIR is an ONNX backend test case (with model.onnx and test_data_set_*/)\n"
          "  or a directory of such cases.\n"
          "options:\n"
          "  --filter SUBSTR         run only cases whose \"group/case\" name contains SUBSTR\n"
          "  --known-failures FILE   cases (one per line, \"group/case\" or \"case\", # comments)\n"
          "                          whose failure does not fail the run\n"
          "  --tolerance-scale X     compare floats with |got-ref| <= X * max(1, max|ref|) per\n"
          "                          output instead of ONNX's rtol=1e-3, atol=1e-7 per element\n"
          "  --report-md FILE        write a markdown summary (per directory, plus every case\n"
          "                          that does not pass and why)\n"
          "  --threads N             intra-op threads per session (default 1)\n"
          "  --timeout S             seconds per case before it counts as an error (default 120)\n"
          "  --no-fork               run cases in this process (for debuggers; a crash ends the run)\n"
          "  --verbose               print every case, passing ones too\n",
          f);
}

static void parse_args(int argc, char **argv, options *o, int *first_dir) {
    *o = (options){.fork = 1, .timeout = 120, .threads = 1};
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--filter") && more) o->filter = argv[++i];
        else if (!strcmp(a, "--known-failures") && more) o->known_path = argv[++i];
        else if (!strcmp(a, "--report-md") && more) o->report_md = argv[++i];
        else if (!strcmp(a, "--tolerance-scale") && more) {
            char *end;
            o->tolerance_scale = strtod(argv[++i], &end);
            if (*end || !(o->tolerance_scale > 0)) die("--tolerance-scale needs a positive number");
        } else if (!strcmp(a, "--threads") && more) o->threads = atoi(argv[++i]);
        else if (!strcmp(a, "--timeout") && more) o->timeout = atoi(argv[++i]);
        else if (!strcmp(a, "--no-fork")) o->fork = 0;
        else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) o->verbose = 1;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else {
            usage(stderr);
            die("unknown option or missing value: %s", a);
        }
    }
    if (i == argc) {
        usage(stderr);
        exit(2);
    }
    if (o->threads < 1) o->threads = 1;
    if (o->timeout < 1) o->timeout = 120;
    *first_dir = i;
}

int main(int argc, char **argv) {
    options o;
    int first;
    parse_args(argc, argv, &o, &first);
    case_list cl = {0};
    for (int i = first; i < argc; i++) collect(&cl, argv[i], &o);
    known_list kl;
    known_load(&kl, o.known_path);

    int unexpected = 0, passed = 0, failed = 0;
    for (size_t i = 0; i < cl.n; i++) {
        case_entry *c = &cl.v[i];
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (o.fork) run_case_isolated(c->dir, &o, &c->res);
        else run_case(c->dir, &o, &c->res);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        c->known = known_has(&kl, c);
        enum result r = c->res.r;
        if (r == R_PASS) passed++;
        if (r == R_FAIL || r == R_ERROR) {
            failed += !c->known;
            unexpected += !c->known;
        }
        if (r != R_PASS || o.verbose) {
            double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
            printf("%-11s %s%s", result_names[r], c->name, c->known && r != R_PASS ? " (known)" : "");
            if (r == R_PASS) printf(" (%.1f ms)\n", ms);
            else printf(": %s\n", c->res.reason);
        }
        if (r == R_PASS && c->known) printf("note: %s passes but is listed as a known failure\n", c->name);
        fflush(stdout);
    }

    group_stat *gs = xmalloc((cl.n + 1) * sizeof *gs);
    int ng = group_stats(&cl, gs);
    printf("\n");
    for (int g = 0; g < ng; g++)
        printf("%-20s %4d passed, %4d failed, %4d errors, %4d unsupported, %4d total\n", gs[g].group,
               gs[g].count[R_PASS], gs[g].count[R_FAIL], gs[g].count[R_ERROR],
               gs[g].count[R_UNSUPPORTED], gs[g].total);
    if (o.report_md) write_md(o.report_md, &cl, gs, ng);
    printf("%d passed, %d failed\n", passed, failed);

    for (size_t i = 0; i < cl.n; i++) {
        free(cl.v[i].dir);
        free(cl.v[i].name);
        free(cl.v[i].group);
    }
    for (size_t i = 0; i < kl.n; i++) free(kl.names[i]);
    free(kl.names);
    free(kl.used);
    free(cl.v);
    free(gs);
    return unexpected ? 1 : 0;
}
