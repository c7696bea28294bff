/* model_config.c -- maps a pbtxt tree onto model_config, by declarative rules.
 *
 * Each Triton message has a table of rules, one per field Triton defines:
 * where a plain value goes (offset + type), or a handler for nested messages
 * and lists, or a note saying why inferd ignores or refuses the field. A
 * field missing from the table is not a Triton field, hence an error. */
#include "model_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/log.h"
#include "datatype.h"
#include "pbtxt.h"

/* The refcount lives beside the plain-data config, not in it. */
typedef struct cfg_box {
    atomic_int refs;
    model_config cfg;
} cfg_box;

typedef struct cfg_ctx {
    const char *source;
    errinfo *err;
    model_config *cfg;
    int sources_seen;              /* warmup input data sources in one value */
    int policies_seen;             /* version_policy choices */
    int db_line, db_col;           /* where dynamic_batching was declared */
} cfg_ctx;

typedef struct rule rule;
typedef status (*rule_fn)(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f);

enum {
    R_SCALAR = 1u << 0,   /* must be a value */
    R_MESSAGE = 1u << 1,  /* must be a message */
    R_REPEATED = 1u << 2, /* may appear more than once */
    R_IGNORE = 1u << 3,   /* Triton field inferd ignores: note in the log */
    R_QUIET = 1u << 4,    /* ... at debug level only */
    R_REFUSE = 1u << 5    /* Triton field inferd cannot honour: error */
};

typedef enum vtype { V_NONE = 0, V_STR, V_INT, V_U32, V_U64, V_I64, V_BOOL, V_DTYPE } vtype;

struct rule {
    const char *name;
    unsigned flags;
    vtype type;           /* plain values: stored at dst + off */
    size_t off;
    int64_t min, max;     /* V_INT / V_I64 range (0,0 = defaults) */
    rule_fn fn;           /* anything else */
    const char *note;     /* why ignored or refused */
};

/* Rule table entries. */
#define VALUE(nm, ty, st, fld) {.name = nm, .flags = R_SCALAR, .type = ty, .off = offsetof(st, fld)}
#define CALL(nm, fl, f) {.name = nm, .flags = (fl), .fn = f}
#define IGNORED(nm, fl, why) {.name = nm, .flags = R_IGNORE | (fl), .note = why}
#define REFUSED(nm, fl, why) {.name = nm, .flags = R_REFUSE | (fl), .note = why}
#define RANGED(nm, ty, st, fld, lo, hi) \
    {.name = nm, .flags = R_SCALAR, .type = ty, .off = offsetof(st, fld), .min = lo, .max = hi}
#define REFUSE_TRUE(nm, why) {.name = nm, .flags = R_SCALAR, .fn = refuse_if_true, .note = why}

static status cfg_fail(errinfo *err, status st, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static status cfg_fail(errinfo *err, status st, int line, int col, const char *fmt, ...) {
    if (!err) return st;
    char msg[440];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return status_fail(err, st, "%d:%d: %s", line, col, msg);
}

static status cfg_oom(cfg_ctx *cx) {
    return status_fail(cx->err, STATUS_NO_MEMORY, "out of memory reading model config");
}

/* Grows a malloc'd array by one zeroed element; returns it or NULL. */
static void *grow(void **arr, size_t *n, size_t elem) {
    void *p = realloc(*arr, (*n + 1) * elem);
    if (!p) return NULL;
    *arr = p;
    void *slot = (char *)p + *n * elem;
    memset(slot, 0, elem);
    (*n)++;
    return slot;
}

/* --- plain values ------------------------------------------------------------ */

static status store_value(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    void *at = (char *)dst + r->off;
    int64_t v;
    status st;
    switch (r->type) {
    case V_STR: {
        const char *s;
        if ((st = pbtxt_string(f, &s, cx->err))) return st;
        char *dup = strdup(s);
        if (!dup) return cfg_oom(cx);
        free(*(char **)at);
        *(char **)at = dup;
        return STATUS_OK;
    }
    case V_INT:
        if ((st = pbtxt_int64(f, r->min, r->max ? r->max : INT32_MAX, &v, cx->err))) return st;
        *(int *)at = (int)v;
        return STATUS_OK;
    case V_U32:
        if ((st = pbtxt_int64(f, 0, UINT32_MAX, &v, cx->err))) return st;
        *(uint32_t *)at = (uint32_t)v;
        return STATUS_OK;
    case V_U64:
        if ((st = pbtxt_int64(f, 0, INT64_MAX, &v, cx->err))) return st;
        *(uint64_t *)at = (uint64_t)v;
        return STATUS_OK;
    case V_I64:
        if ((st = pbtxt_int64(f, r->min, r->max ? r->max : INT64_MAX, &v, cx->err))) return st;
        *(int64_t *)at = v;
        return STATUS_OK;
    case V_BOOL:
        return pbtxt_bool(f, (bool *)at, cx->err);
    case V_DTYPE: {
        int n, idx;
        const char *const *names = serve_datatype_config_names(&n);
        if ((st = pbtxt_enum(f, names, n, &idx, cx->err))) return st;
        engine_dtype dt = serve_datatype_from_config_index(idx);
        if (dt == ENGINE_UNDEFINED)
            return pbtxt_fail(f, cx->err, STATUS_INVALID_ARGUMENT,
                              "field '%s': %s is not a usable data type", f->name, f->text);
        *(engine_dtype *)at = dt;
        return STATUS_OK;
    }
    case V_NONE:
        break;
    }
    return status_fail(cx->err, STATUS_INTERNAL, "rule for '%s' has no type", r->name);
}

/* --- the rule walker --------------------------------------------------------- */

static const rule *find_rule(const rule *rules, const char *name, int *index) {
    for (int i = 0; rules[i].name; i++) {
        if (!strcmp(rules[i].name, name)) {
            *index = i;
            return &rules[i];
        }
    }
    return NULL;
}

static void note_ignored(cfg_ctx *cx, const rule *r, const pbtxt_field *f, const char *where) {
    log_level lvl = LOG_INFO;
    int verbosity = 0;
    if (r->flags & R_QUIET) {
        lvl = LOG_VERBOSE;
        verbosity = 2;
    }
    log_write(lvl, verbosity, "%s:%d:%d: ignoring '%s' in %s (%s)", cx->source, f->line, f->col,
              f->name, where, r->note ? r->note : "not used by inferd");
}

/* Applies `rules` to the fields of one message. `where` names the Triton
 * message type in errors ("ModelInput"). */
static status map_fields(cfg_ctx *cx, const pbtxt_field *first, const rule *rules, void *dst,
                         const char *where) {
    const pbtxt_field *seen[64] = {0};
    status st;
    for (const pbtxt_field *f = first; f; f = f->next) {
        int idx = 0;
        const rule *r = find_rule(rules, f->name, &idx);
        if (!r || idx >= 64)
            return cfg_fail(cx->err, STATUS_INVALID_ARGUMENT, f->line, f->col,
                            "unknown field '%s' in %s (Triton's model config has no such field)",
                            f->name, where);
        if ((r->flags & R_MESSAGE) && f->kind != PBTXT_MESSAGE)
            return cfg_fail(cx->err, STATUS_INVALID_ARGUMENT, f->line, f->col,
                            "field '%s' in %s must be a message ({ ... })", f->name, where);
        if ((r->flags & R_SCALAR) && f->kind == PBTXT_MESSAGE)
            return cfg_fail(cx->err, STATUS_INVALID_ARGUMENT, f->line, f->col,
                            "field '%s' in %s must be a value, not a message", f->name, where);
        const pbtxt_field *prev = seen[idx];
        if (prev && !(r->flags & R_REPEATED))
            return cfg_fail(cx->err, STATUS_INVALID_ARGUMENT, f->line, f->col,
                            "field '%s' in %s given more than once (first at %d:%d)", f->name,
                            where, prev->line, prev->col);
        if (!prev) seen[idx] = f;
        if (r->flags & R_REFUSE)
            return cfg_fail(cx->err, STATUS_UNSUPPORTED, f->line, f->col,
                            "'%s' in %s is not supported by inferd: %s", f->name, where, r->note);
        if (r->flags & R_IGNORE) {
            if (!prev) note_ignored(cx, r, f, where);
            continue;
        }
        st = r->fn ? r->fn(cx, r, dst, f) : store_value(cx, r, dst, f);
        if (st) return st;
    }
    return STATUS_OK;
}

/* A bool field whose true value inferd cannot honour. */
static status refuse_if_true(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    (void)dst;
    bool v = false;
    status st = pbtxt_bool(f, &v, cx->err);
    if (st) return st;
    if (v)
        return pbtxt_fail(f, cx->err, STATUS_UNSUPPORTED, "'%s: true' is not supported by inferd: %s",
                          f->name, r->note);
    return STATUS_OK;
}

/* --- dims -------------------------------------------------------------------- */

static status append_dim(cfg_ctx *cx, int *rank, int64_t *dims, const pbtxt_field *f,
                         int64_t min) {
    int64_t v;
    status st = pbtxt_int64(f, min, INT64_MAX, &v, cx->err);
    if (st) return st;
    if (min < 0 && v == 0)
        return pbtxt_fail(f, cx->err, STATUS_INVALID_ARGUMENT,
                          "field '%s': a dimension must be >= 1, or -1 for any size; got 0", f->name);
    if (*rank < 0) *rank = 0;
    if (*rank >= ENGINE_MAX_RANK)
        return pbtxt_fail(f, cx->err, STATUS_INVALID_ARGUMENT,
                          "field '%s': more than %d dimensions", f->name, ENGINE_MAX_RANK);
    dims[(*rank)++] = v;
    return STATUS_OK;
}

static status io_dim(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    (void)r;
    model_io_config *io = dst;
    return append_dim(cx, &io->rank, io->dims, f, -1);
}

static status reshape_dim(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    (void)r;
    model_io_config *io = dst;
    return append_dim(cx, &io->reshape_rank, io->reshape, f, -1);
}

static const rule reshape_rules[] = {
    CALL("shape", R_SCALAR | R_REPEATED, reshape_dim),
    {0},
};

static status io_reshape(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    (void)r;
    model_io_config *io = dst;
    io->has_reshape = true;
    io->reshape_rank = 0;
    return map_fields(cx, f->children, reshape_rules, io, "ModelTensorReshape");
}

/* --- inputs and outputs -------------------------------------------------------- */

static const rule input_rules[] = {
    VALUE("name", V_STR, model_io_config, name),
    VALUE("data_type", V_DTYPE, model_io_config, dtype),
    IGNORED("format", R_QUIET, "a layout hint; tensors are taken as given"),
    CALL("dims", R_SCALAR | R_REPEATED, io_dim),
    CALL("reshape", R_MESSAGE, io_reshape),
    REFUSE_TRUE("is_shape_tensor", "shape tensors are a TensorRT feature"),
    REFUSE_TRUE("allow_ragged_batch", "ragged batching is not implemented"),
    VALUE("optional", V_BOOL, model_io_config, optional),
    REFUSE_TRUE("is_non_linear_format_io", "a TensorRT feature"),
    {0},
};

static const rule output_rules[] = {
    VALUE("name", V_STR, model_io_config, name),
    VALUE("data_type", V_DTYPE, model_io_config, dtype),
    CALL("dims", R_SCALAR | R_REPEATED, io_dim),
    CALL("reshape", R_MESSAGE, io_reshape),
    IGNORED("label_filename", 0, "the classification extension is not implemented"),
    REFUSE_TRUE("is_shape_tensor", "shape tensors are a TensorRT feature"),
    REFUSE_TRUE("is_non_linear_format_io", "a TensorRT feature"),
    {0},
};

static int64_t dims_product(int rank, const int64_t *dims, bool *variable) {
    int64_t p = 1;
    *variable = false;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0) *variable = true;
        else if (p > INT64_MAX / (dims[i] ? dims[i] : 1)) return -1;
        else p *= dims[i];
    }
    return p;
}

static int count_wildcards(int rank, const int64_t *dims) {
    int n = 0;
    for (int i = 0; i < rank; i++) n += dims[i] < 0;
    return n;
}

/* Checks one input/output on its own; cross-checks come in check_config. */
static status io_check(cfg_ctx *cx, const model_io_config *io, const char *kind) {
    if (!io->name || !io->name[0])
        return cfg_fail(cx->err, STATUS_INVALID_ARGUMENT, io->line, io->col, "%s: 'name' is required",
                        kind);
    if (io->dtype == ENGINE_UNDEFINED)
        return cfg_fail(cx->err, STATUS_INVALID_ARGUMENT, io->line, io->col,
                        "%s '%s': 'data_type' is required", kind, io->name);
    if (!io->has_reshape) return STATUS_OK;
    if (io->rank < 0)
        return cfg_fail(cx->err, STATUS_INVALID_ARGUMENT, io->line, io->col,
                        "%s '%s': 'reshape' needs 'dims'", kind, io->name);
    bool dvar, rvar;
    int64_t dn = dims_product(io->rank, io->dims, &dvar);
    int64_t rn = dims_product(io->reshape_rank, io->reshape, &rvar);
    char a[128], b[128];
    if (!dvar && !rvar && dn != rn)
        return cfg_fail(cx->err, STATUS_INVALID_ARGUMENT, io->line, io->col,
                        "%s '%s': dims %s and reshape %s differ in element count", kind, io->name,
                        serve_dims_format(a, sizeof a, io->rank, io->dims),
                        serve_dims_format(b, sizeof b, io->reshape_rank, io->reshape));
    int dw = count_wildcards(io->rank, io->dims), rw = count_wildcards(io->reshape_rank, io->reshape);
    if (rw > 1 && rw != dw)
        return cfg_fail(cx->err, STATUS_INVALID_ARGUMENT, io->line, io->col,
                        "%s '%s': reshape %s has more than one -1 and dims %s does not have as many",
                        kind, io->name, serve_dims_format(b, sizeof b, io->reshape_rank, io->reshape),
                        serve_dims_format(a, sizeof a, io->rank, io->dims));
    if (rw && !dw)
        return cfg_fail(cx->err, STATUS_INVALID_ARGUMENT, io->line, io->col,
                        "%s '%s': reshape %s has -1 but dims %s is fixed", kind, io->name,
                        serve_dims_format(b, sizeof b, io->reshape_rank, io->reshape),
                        serve_dims_format(a, sizeof a, io->rank, io->dims));
    return STATUS_OK;
}

static status io_add(cfg_ctx *cx, const pbtxt_field *f, model_io_config **arr, size_t *n,
                     const rule *rules, const char *where, const char *kind) {
    model_io_config *io = grow((void **)arr, n, sizeof **arr);
    if (!io) return cfg_oom(cx);
    io->rank = -1;
    io->line = f->vline; /* the '{': list elements share the name */
    io->col = f->vcol;
    status st = map_fields(cx, f->children, rules, io, where);
    if (st) return st;
    return io_check(cx, io, kind);
}

static status config_input(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    (void)r;
    model_config *c = dst;
    return io_add(cx, f, &c->inputs, &c->n_inputs, input_rules, "ModelInput", "input");
}

static status config_output(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    (void)r;
    model_config *c = dst;
    return io_add(cx, f, &c->outputs, &c->n_outputs, output_rules, "ModelOutput", "output");
}

/* --- version policy -------------------------------------------------------------- */

static const rule latest_rules[] = {
    RANGED("num_versions", V_I64, model_version_policy, latest, 1, INT32_MAX),
    {0},
};

static status specific_version(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    (void)r;
    model_version_policy *vp = dst;
    int64_t v;
    status st = pbtxt_int64(f, 1, INT64_MAX, &v, cx->err);
    if (st) return st;
    int64_t *slot = grow((void **)&vp->versions, &vp->n_versions, sizeof *vp->versions);
    if (!slot) return cfg_oom(cx);
    *slot = v;
    return STATUS_OK;
}

static const rule specific_rules[] = {
    CALL("versions", R_SCALAR | R_REPEATED, specific_version),
    {0},
};

static const rule all_rules[] = {{0}};

static status policy_choice(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    model_version_policy *vp = dst;
    if (cx->policies_seen++)
        return cfg_fail(cx->err, STATUS_INVALID_ARGUMENT, f->line, f->col,
                        "version_policy: give only one of 'latest', 'all', 'specific'");
    status st;
    if (!strcmp(r->name, "latest")) {
        vp->kind = MODEL_VERSIONS_LATEST;
        vp->latest = 0;
        if ((st = map_fields(cx, f->children, latest_rules, vp, "ModelVersionPolicy.Latest"))) return st;
        if (vp->latest == 0)
            return cfg_fail(cx->err, STATUS_INVALID_ARGUMENT, f->line, f->col,
                            "version_policy latest: 'num_versions' must be at least 1");
        return STATUS_OK;
    }
    if (!strcmp(r->name, "all")) {
        vp->kind = MODEL_VERSIONS_ALL;
        return map_fields(cx, f->children, all_rules, vp, "ModelVersionPolicy.All");
    }
    vp->kind = MODEL_VERSIONS_SPECIFIC;
    if ((st = map_fields(cx, f->children, specific_rules, vp, "ModelVersionPolicy.Specific"))) return st;
    if (vp->n_versions == 0)
        return cfg_fail(cx->err, STATUS_INVALID_ARGUMENT, f->line, f->col,
                        "version_policy specific: list at least one version in 'versions'");
    return STATUS_OK;
}

static const rule policy_rules[] = {
    CALL("latest", R_MESSAGE, policy_choice),
    CALL("all", R_MESSAGE, policy_choice),
    CALL("specific", R_MESSAGE, policy_choice),
    {0},
};

static status config_version_policy(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    (void)r;
    model_config *c = dst;
    cx->policies_seen = 0;
    return map_fields(cx, f->children, policy_rules, &c->version_policy, "ModelVersionPolicy");
}

/* --- dynamic batching ---------------------------------------------------------------- */

static status timeout_action(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    (void)r;
    static const char *const names[] = {"REJECT", "DELAY"};
    model_queue_policy *q = dst;
    int v;
    status st = pbtxt_enum(f, names, 2, &v, cx->err);
    if (st) return st;
    q->timeout_action = (model_timeout_action)v;
    return STATUS_OK;
}

static const rule queue_policy_rules[] = {
    CALL("timeout_action", R_SCALAR, timeout_action),
    VALUE("default_timeout_microseconds", V_U64, model_queue_policy, default_timeout_us),
    VALUE("allow_timeout_override", V_BOOL, model_queue_policy, allow_timeout_override),
    VALUE("max_queue_size", V_U32, model_queue_policy, max_queue_size),
    {0},
};

static status queue_policy(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    (void)r;
    model_dynamic_batching *db = dst;
    return map_fields(cx, f->children, queue_policy_rules, &db->queue_policy, "ModelQueuePolicy");
}

static status preferred_size(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    (void)r;
    model_dynamic_batching *db = dst;
    int64_t v;
    status st = pbtxt_int64(f, 1, INT32_MAX, &v, cx->err);
    if (st) return st;
    int32_t *slot = grow((void **)&db->preferred_batch_sizes, &db->n_preferred, sizeof *slot);
    if (!slot) return cfg_oom(cx);
    *slot = (int32_t)v;
    return STATUS_OK;
}

static const rule batching_rules[] = {
    CALL("preferred_batch_size", R_SCALAR | R_REPEATED, preferred_size),
    VALUE("max_queue_delay_microseconds", V_U64, model_dynamic_batching, max_queue_delay_us),
    VALUE("preserve_ordering", V_BOOL, model_dynamic_batching, preserve_ordering),
    IGNORED("priority_levels", 0, "request priorities are not implemented"),
    IGNORED("default_priority_level", 0, "request priorities are not implemented"),
    CALL("default_queue_policy", R_MESSAGE, queue_policy),
    IGNORED("priority_queue_policy", R_REPEATED, "request priorities are not implemented"),
    {0},
};

static status config_batching(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    (void)r;
    model_config *c = dst;
    c->dynamic_batching.enabled = true;
    cx->db_line = f->line;
    cx->db_col = f->col;
    return map_fields(cx, f->children, batching_rules, &c->dynamic_batching, "ModelDynamicBatching");
}

/* --- instance groups ------------------------------------------------------------------- */

static status instance_kind(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    (void)r;
    static const char *const names[] = {"KIND_AUTO", "KIND_GPU", "KIND_CPU", "KIND_MODEL"};
    model_instance_group *g = dst;
    int v;
    status st = pbtxt_enum(f, names, 4, &v, cx->err);
    if (st) return st;
    g->kind = (model_instance_kind)v;
    if (g->kind == MODEL_KIND_GPU || g->kind == MODEL_KIND_MODEL)
        log_warn("%s:%d:%d: instance_group kind %s: inferd runs on the CPU only; the instances "
                 "run on the CPU", cx->source, f->vline, f->vcol, names[v]);
    return STATUS_OK;
}

static const rule instance_rules[] = {
    VALUE("name", V_STR, model_instance_group, name),
    CALL("kind", R_SCALAR, instance_kind),
    VALUE("count", V_INT, model_instance_group, count),
    IGNORED("rate_limiter", 0, "the rate limiter is not implemented"),
    IGNORED("gpus", R_REPEATED, "inferd is CPU-only; 'count' instances are made"),
    IGNORED("secondary_devices", R_REPEATED, "inferd is CPU-only"),
    IGNORED("profile", R_REPEATED, "a TensorRT feature"),
    IGNORED("passive", 0, "every instance takes requests"),
    IGNORED("host_policy", 0, "host policies are not implemented"),
    {0},
};

static status config_instance_group(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    (void)r;
    model_config *c = dst;
    model_instance_group *g = grow((void **)&c->instance_groups, &c->n_instance_groups, sizeof *g);
    if (!g) return cfg_oom(cx);
    status st = map_fields(cx, f->children, instance_rules, g, "ModelInstanceGroup");
    if (st) return st;
    if (g->count == 0) g->count = 1; /* Triton's default */
    if (model_config_instance_count(c) > MODEL_CONFIG_MAX_INSTANCES)
        return cfg_fail(cx->err, STATUS_INVALID_ARGUMENT, f->line, f->col,
                        "instance_group: more than %d instances in total",
                        MODEL_CONFIG_MAX_INSTANCES);
    return STATUS_OK;
}

/* --- warmup ------------------------------------------------------------------------------- */

static status warmup_dim(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    (void)r;
    model_warmup_input *wi = dst;
    return append_dim(cx, &wi->rank, wi->dims, f, 0);
}

static status warmup_source(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    model_warmup_input *wi = dst;
    status st;
    cx->sources_seen++;
    if (!strcmp(r->name, "input_data_file")) {
        const char *s;
        if ((st = pbtxt_string(f, &s, cx->err))) return st;
        if (!s[0] || strstr(s, "..") || s[0] == '/')
            return pbtxt_fail(f, cx->err, STATUS_INVALID_ARGUMENT,
                              "input_data_file must be a relative path inside the model's warmup "
                              "directory, got \"%s\"", s);
        free(wi->file);
        if (!(wi->file = strdup(s))) return cfg_oom(cx);
        wi->source = MODEL_WARMUP_FILE;
        return STATUS_OK;
    }
    bool ignored; /* Triton: "the value will not be checked" */
    if ((st = pbtxt_bool(f, &ignored, cx->err))) return st;
    wi->source = !strcmp(r->name, "random_data") ? MODEL_WARMUP_RANDOM : MODEL_WARMUP_ZERO;
    return STATUS_OK;
}

static const rule warmup_value_rules[] = {
    VALUE("data_type", V_DTYPE, model_warmup_input, dtype),
    CALL("dims", R_SCALAR | R_REPEATED, warmup_dim),
    CALL("zero_data", R_SCALAR, warmup_source),
    CALL("random_data", R_SCALAR, warmup_source),
    CALL("input_data_file", R_SCALAR, warmup_source),
    {0},
};

static status warmup_value(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    (void)r;
    model_warmup_input *wi = dst;
    cx->sources_seen = 0;
    status st = map_fields(cx, f->children, warmup_value_rules, wi, "ModelWarmup.Input");
    if (st) return st;
    if (wi->dtype == ENGINE_UNDEFINED)
        return cfg_fail(cx->err, STATUS_INVALID_ARGUMENT, f->line, f->col,
                        "model_warmup input: 'data_type' is required");
    if (cx->sources_seen != 1)
        return cfg_fail(cx->err, STATUS_INVALID_ARGUMENT, f->line, f->col,
                        "model_warmup input: give exactly one of zero_data, random_data, "
                        "input_data_file");
    return STATUS_OK;
}

static const rule warmup_entry_rules[] = {
    VALUE("key", V_STR, model_warmup_input, name),
    CALL("value", R_MESSAGE, warmup_value),
    {0},
};

static status warmup_input(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    (void)r;
    model_warmup *w = dst;
    model_warmup_input *wi = grow((void **)&w->inputs, &w->n_inputs, sizeof *wi);
    if (!wi) return cfg_oom(cx);
    wi->rank = -1;
    status st = map_fields(cx, f->children, warmup_entry_rules, wi, "ModelWarmup.inputs");
    if (st) return st;
    if (!wi->name || !wi->name[0])
        return cfg_fail(cx->err, STATUS_INVALID_ARGUMENT, f->line, f->col,
                        "model_warmup inputs: 'key' (the input name) is required");
    if (wi->rank < 0)
        return cfg_fail(cx->err, STATUS_INVALID_ARGUMENT, f->line, f->col,
                        "model_warmup input '%s': 'dims' is required", wi->name);
    return STATUS_OK;
}

static const rule warmup_rules[] = {
    VALUE("name", V_STR, model_warmup, name),
    VALUE("batch_size", V_INT, model_warmup, batch_size),
    CALL("inputs", R_MESSAGE | R_REPEATED, warmup_input),
    VALUE("count", V_INT, model_warmup, count),
    {0},
};

static status config_warmup(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    (void)r;
    model_config *c = dst;
    model_warmup *w = grow((void **)&c->warmups, &c->n_warmups, sizeof *w);
    if (!w) return cfg_oom(cx);
    w->line = f->vline;
    w->col = f->vcol;
    status st = map_fields(cx, f->children, warmup_rules, w, "ModelWarmup");
    if (st) return st;
    if (w->batch_size == 0) w->batch_size = 1;
    if (w->count == 0) w->count = 1;
    return STATUS_OK;
}

/* --- top level -------------------------------------------------------------------------- */

static status config_platform(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    model_config *c = dst;
    const char *s;
    status st = pbtxt_string(f, &s, cx->err);
    if (st) return st;
    bool platform = !strcmp(r->name, "platform");
    const char *want = platform ? "onnxruntime_onnx" : "onnxruntime";
    if (strcmp(s, want))
        return pbtxt_fail(f, cx->err, STATUS_UNSUPPORTED,
                          "%s \"%s\" is not supported: inferd serves ONNX models (platform "
                          "\"onnxruntime_onnx\" or backend \"onnxruntime\")", r->name, s);
    char **slot = platform ? &c->platform : &c->backend;
    if (!(*slot = strdup(s))) return cfg_oom(cx);
    return STATUS_OK;
}

static status config_filename(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    (void)r;
    model_config *c = dst;
    const char *s;
    status st = pbtxt_string(f, &s, cx->err);
    if (st) return st;
    if (!s[0] || strchr(s, '/') || !strcmp(s, ".") || !strcmp(s, ".."))
        return pbtxt_fail(f, cx->err, STATUS_INVALID_ARGUMENT,
                          "default_model_filename must be a file name inside the version "
                          "directory, got \"%s\"", s);
    if (!(c->default_model_filename = strdup(s))) return cfg_oom(cx);
    return STATUS_OK;
}

static const rule transaction_rules[] = {
    REFUSE_TRUE("decoupled",
                "decoupled models (zero or many responses per request) are not implemented"),
    {0},
};

static status config_transaction(cfg_ctx *cx, const rule *r, void *dst, const pbtxt_field *f) {
    (void)r;
    (void)dst;
    return map_fields(cx, f->children, transaction_rules, NULL, "ModelTransactionPolicy");
}

static const rule config_rules[] = {
    VALUE("name", V_STR, model_config, name),
    CALL("platform", R_SCALAR, config_platform),
    CALL("backend", R_SCALAR, config_platform),
    IGNORED("runtime", 0, "inferd has one ONNX runtime built in"),
    CALL("version_policy", R_MESSAGE, config_version_policy),
    VALUE("max_batch_size", V_INT, model_config, max_batch_size),
    CALL("input", R_MESSAGE | R_REPEATED, config_input),
    CALL("output", R_MESSAGE | R_REPEATED, config_output),
    REFUSED("batch_input", R_REPEATED, "batch inputs are not implemented"),
    REFUSED("batch_output", R_REPEATED, "batch outputs are not implemented"),
    IGNORED("optimization", 0, "inferd always optimizes the graph itself"),
    CALL("dynamic_batching", R_MESSAGE, config_batching),
    REFUSED("sequence_batching", 0, "stateful sequence models are not implemented"),
    REFUSED("ensemble_scheduling", 0, "ensembles are not implemented"),
    CALL("instance_group", R_MESSAGE | R_REPEATED, config_instance_group),
    CALL("default_model_filename", R_SCALAR, config_filename),
    IGNORED("cc_model_filenames", R_REPEATED, "CUDA compute capabilities do not apply"),
    IGNORED("metric_tags", R_REPEATED, "custom metric labels are not implemented"),
    IGNORED("parameters", R_QUIET | R_REPEATED, "backend parameters are not used"),
    CALL("model_warmup", R_MESSAGE | R_REPEATED, config_warmup),
    IGNORED("model_operations", 0, "custom operator libraries are not loaded"),
    CALL("model_transaction_policy", R_MESSAGE, config_transaction),
    IGNORED("model_repository_agents", 0, "repository agents are not implemented"),
    IGNORED("response_cache", 0, "the response cache is not implemented"),
    IGNORED("model_metrics", 0, "custom metric buckets are not implemented"),
    {0},
};

/* Checks that need the whole config (max_batch_size may come last). */
static status check_config(cfg_ctx *cx, model_config *c) {
    int batch = c->max_batch_size > 0;
    for (int pass = 0; pass < 2; pass++) {
        model_io_config *arr = pass ? c->outputs : c->inputs;
        size_t n = pass ? c->n_outputs : c->n_inputs;
        const char *kind = pass ? "output" : "input";
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < i; j++)
                if (!strcmp(arr[i].name, arr[j].name))
                    return cfg_fail(cx->err, STATUS_INVALID_ARGUMENT, arr[i].line, arr[i].col,
                                    "%s '%s' declared twice (first at %d:%d)", kind, arr[i].name,
                                    arr[j].line, arr[j].col);
            int rank = arr[i].has_reshape ? arr[i].reshape_rank : arr[i].rank;
            if (rank + batch > ENGINE_MAX_RANK)
                return cfg_fail(cx->err, STATUS_INVALID_ARGUMENT, arr[i].line, arr[i].col,
                                "%s '%s': %d dimensions plus the batch dimension exceed %d",
                                kind, arr[i].name, rank, ENGINE_MAX_RANK);
        }
    }
    const model_dynamic_batching *db = &c->dynamic_batching;
    for (size_t i = 0; batch && i < db->n_preferred; i++)
        if (db->preferred_batch_sizes[i] > c->max_batch_size)
            return cfg_fail(cx->err, STATUS_INVALID_ARGUMENT, cx->db_line, cx->db_col,
                            "dynamic_batching: preferred_batch_size %d exceeds max_batch_size %d",
                            (int)db->preferred_batch_sizes[i], c->max_batch_size);
    if (db->enabled && !batch)
        log_info("%s:%d:%d: dynamic_batching with max_batch_size 0: requests are queued by its "
                 "policy but never batched", cx->source, cx->db_line, cx->db_col);
    for (size_t i = 0; i < c->n_warmups; i++) {
        const model_warmup *w = &c->warmups[i];
        int limit = batch ? c->max_batch_size : 1;
        if (w->batch_size > limit)
            return cfg_fail(cx->err, STATUS_INVALID_ARGUMENT, w->line, w->col,
                               "model_warmup '%s': batch_size %d exceeds %s %d",
                               w->name ? w->name : "", w->batch_size,
                               batch ? "max_batch_size" : "the limit without batching", limit);
    }
    return STATUS_OK;
}

static void io_free(model_io_config *arr, size_t n) {
    for (size_t i = 0; i < n; i++) free(arr[i].name);
    free(arr);
}

static void config_free_contents(model_config *c) {
    free(c->name);
    free(c->platform);
    free(c->backend);
    io_free(c->inputs, c->n_inputs);
    io_free(c->outputs, c->n_outputs);
    free(c->version_policy.versions);
    free(c->dynamic_batching.preferred_batch_sizes);
    for (size_t i = 0; i < c->n_instance_groups; i++) free(c->instance_groups[i].name);
    free(c->instance_groups);
    for (size_t i = 0; i < c->n_warmups; i++) {
        model_warmup *w = &c->warmups[i];
        for (size_t j = 0; j < w->n_inputs; j++) {
            free(w->inputs[j].name);
            free(w->inputs[j].file);
        }
        free(w->inputs);
        free(w->name);
    }
    free(c->warmups);
    free(c->default_model_filename);
}

status model_config_create_default(model_config **out, errinfo *err) {
    *out = NULL;
    cfg_box *b = calloc(1, sizeof *b);
    if (!b) return status_fail(err, STATUS_NO_MEMORY, "out of memory creating a model config");
    atomic_init(&b->refs, 1);
    b->cfg.version_policy.kind = MODEL_VERSIONS_LATEST;
    b->cfg.version_policy.latest = 1;
    *out = &b->cfg;
    return STATUS_OK;
}

status model_config_parse(const char *text, size_t len, const char *source, model_config **out,
                          errinfo *err) {
    *out = NULL;
    pbtxt_doc *doc = NULL;
    model_config *c = NULL;
    status st = pbtxt_parse(text, len, &doc, err);
    if (st) goto fail;
    if ((st = model_config_create_default(&c, err))) goto fail;
    cfg_ctx cx = {.source = source ? source : "config.pbtxt", .err = err, .cfg = c};
    if ((st = map_fields(&cx, pbtxt_root(doc), config_rules, c, "ModelConfig"))) goto fail;
    if ((st = check_config(&cx, c))) goto fail;
    pbtxt_destroy(doc);
    *out = c;
    return STATUS_OK;
fail:
    pbtxt_destroy(doc);
    model_config_release(c);
    return st;
}

status model_config_load(const char *path, model_config **out, errinfo *err) {
    *out = NULL;
    char *buf = NULL;
    status st;
    FILE *fp = fopen(path, "rb");
    if (!fp) return status_fail(err, STATUS_IO_ERROR, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(fp), &sb) || !S_ISREG(sb.st_mode)) {
        st = status_fail(err, STATUS_IO_ERROR, "%s: not a regular file", path);
        goto done;
    }
    if ((size_t)sb.st_size > MODEL_CONFIG_MAX_BYTES) {
        st = status_fail(err, STATUS_INVALID_ARGUMENT,
                         "%s: %lld bytes is larger than the %u-byte limit for a config", path,
                         (long long)sb.st_size, MODEL_CONFIG_MAX_BYTES);
        goto done;
    }
    size_t size = (size_t)sb.st_size;
    if (!(buf = malloc(size ? size : 1))) {
        st = status_fail(err, STATUS_NO_MEMORY, "%s: out of memory", path);
        goto done;
    }
    if (fread(buf, 1, size, fp) != size) {
        st = status_fail(err, STATUS_IO_ERROR, "%s: read failed", path);
        goto done;
    }
    errinfo inner;
    st = model_config_parse(buf, size, path, out, &inner);
    if (st) status_fail(err, st, "%s:%s", path, inner.msg);
done:
    free(buf);
    fclose(fp);
    return st;
}

model_config *model_config_retain(model_config *c) {
    if (c) atomic_fetch_add(&((cfg_box *)((char *)c - offsetof(cfg_box, cfg)))->refs, 1);
    return c;
}

void model_config_release(model_config *c) {
    if (!c) return;
    cfg_box *b = (cfg_box *)((char *)c - offsetof(cfg_box, cfg));
    if (atomic_fetch_sub(&b->refs, 1) != 1) return;
    config_free_contents(c);
    free(b);
}

int model_config_instance_count(const model_config *c) {
    if (!c || !c->n_instance_groups) return 1;
    int64_t n = 0;
    for (size_t i = 0; i < c->n_instance_groups; i++) n += c->instance_groups[i].count;
    return n > INT32_MAX ? INT32_MAX : (int)n;
}
