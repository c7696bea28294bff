/* model_config.h -- Triton's config.pbtxt, as far as inferd gives it meaning.
 *
 * A Triton model repository of ONNX models must serve unchanged, so the
 * parser knows every field of Triton's ModelConfig message and sorts them in
 * three kinds:
 *   - used: name, platform, backend, max_batch_size, input, output,
 *     version_policy, dynamic_batching, instance_group, model_warmup,
 *     default_model_filename;
 *   - ignored with a note in the log: fields that only tune Triton or a GPU
 *     (optimization, cc_model_filenames, metric_tags, response_cache,
 *     parameters (debug level), format, label_filename, gpus, ...);
 *   - refused with STATUS_UNSUPPORTED: fields whose meaning inferd cannot
 *     honour (sequence_batching, ensemble_scheduling, batch_input,
 *     batch_output, a decoupled transaction policy, shape tensors, ragged
 *     batching), and any platform other than ONNX.
 * A field Triton does not have is an error naming it. Every error starts
 * with "line:col: ".
 *
 * instance_group kinds: KIND_CPU and KIND_AUTO run on the CPU. KIND_GPU and
 * KIND_MODEL are accepted with a warning and also run on the CPU (inferd is
 * CPU-only; refusing them would make most published Triton configs fail,
 * since they say KIND_GPU). `gpus` is ignored: `count` instances are made.
 *
 *     model_config *cfg; errinfo err;
 *     if (model_config_load("models/resnet/config.pbtxt", &cfg, &err))
 *         log_error("%s", err.msg);   // "models/resnet/config.pbtxt:7:3: ..."
 *     ... cfg->max_batch_size, cfg->inputs[i].name ...
 *     model_config_release(cfg);
 *
 * A config is immutable once parsed and reference-counted: every model
 * version that uses it holds a reference, from any thread. */
#ifndef INFERD_SERVE_MODEL_CONFIG_H
#define INFERD_SERVE_MODEL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/status.h"
#include "../engine/engine.h"

/* Upper bound on instances (worker threads) a config may ask for. */
#define MODEL_CONFIG_MAX_INSTANCES 64
/* config.pbtxt files larger than this are refused. */
#define MODEL_CONFIG_MAX_BYTES (4u << 20)

typedef enum model_version_policy_kind {
    MODEL_VERSIONS_LATEST = 0, /* the `latest` highest versions (default 1) */
    MODEL_VERSIONS_ALL,
    MODEL_VERSIONS_SPECIFIC
} model_version_policy_kind;

typedef struct model_version_policy {
    model_version_policy_kind kind;
    int64_t latest;            /* LATEST: how many, >= 1 */
    int64_t *versions;         /* SPECIFIC: each >= 1, as listed */
    size_t n_versions;
} model_version_policy;

/* One input or output. Dims exclude the batch dimension when
 * max_batch_size > 0 (Triton's convention); -1 = any size. */
typedef struct model_io_config {
    char *name;
    engine_dtype dtype;
    int rank;
    int64_t dims[ENGINE_MAX_RANK];
    bool has_reshape;          /* the model sees `reshape` instead of dims */
    int reshape_rank;
    int64_t reshape[ENGINE_MAX_RANK];
    bool optional;             /* inputs: may be left out of a request */
    int line, col;             /* where it was declared */
} model_io_config;

typedef enum model_timeout_action {
    MODEL_TIMEOUT_REJECT = 0,
    MODEL_TIMEOUT_DELAY
} model_timeout_action;

typedef struct model_queue_policy {
    model_timeout_action timeout_action;
    uint64_t default_timeout_us;   /* 0 = requests never time out in the queue */
    bool allow_timeout_override;   /* a request may ask for a shorter timeout */
    uint32_t max_queue_size;       /* 0 = unbounded */
} model_queue_policy;

typedef struct model_dynamic_batching {
    bool enabled;                  /* the dynamic_batching message is present */
    int32_t *preferred_batch_sizes;
    size_t n_preferred;
    uint64_t max_queue_delay_us;
    bool preserve_ordering;
    model_queue_policy queue_policy;
} model_dynamic_batching;

typedef enum model_instance_kind {  /* Triton's numbering */
    MODEL_KIND_AUTO = 0,
    MODEL_KIND_GPU = 1,
    MODEL_KIND_CPU = 2,
    MODEL_KIND_MODEL = 3
} model_instance_kind;

typedef struct model_instance_group {
    char *name;                    /* NULL if not given */
    int count;                     /* >= 1 (0 in the file means 1, as in Triton) */
    model_instance_kind kind;
} model_instance_group;

typedef enum model_warmup_source {
    MODEL_WARMUP_ZERO = 0,
    MODEL_WARMUP_RANDOM,
    MODEL_WARMUP_FILE
} model_warmup_source;

typedef struct model_warmup_input {
    char *name;
    engine_dtype dtype;
    int rank;
    int64_t dims[ENGINE_MAX_RANK]; /* without the batch dimension */
    model_warmup_source source;
    char *file;                    /* MODEL_WARMUP_FILE: under <model>/warmup/ */
} model_warmup_input;

typedef struct model_warmup {
    char *name;
    int batch_size;                /* >= 1 */
    int count;                     /* runs of this sample, >= 1 */
    model_warmup_input *inputs;
    size_t n_inputs;
    int line, col;                 /* where it was declared */
} model_warmup;

typedef struct model_config {
    char *name;                    /* NULL if not given (the directory names it) */
    char *platform;                /* NULL or "onnxruntime_onnx" */
    char *backend;                 /* NULL or "onnxruntime" */
    int max_batch_size;            /* 0 = no batch dimension */
    model_io_config *inputs;       /* empty: take them from the model */
    size_t n_inputs;
    model_io_config *outputs;      /* empty: all of the model's outputs */
    size_t n_outputs;
    model_version_policy version_policy;
    model_dynamic_batching dynamic_batching;
    model_instance_group *instance_groups;
    size_t n_instance_groups;
    model_warmup *warmups;
    size_t n_warmups;
    char *default_model_filename;  /* NULL: the backend's (model.onnx) */
} model_config;

/* Parses config text. `source` names it in log notes (NULL: "config.pbtxt").
 * Errors: STATUS_INVALID_ARGUMENT (syntax, unknown field, bad value) or
 * STATUS_UNSUPPORTED (a Triton feature inferd refuses), each with
 * "line:col: ..."; STATUS_NO_MEMORY. */
status model_config_parse(const char *text, size_t len, const char *source,
                          model_config **out, errinfo *err);
/* Reads and parses a file; messages start with "path:line:col: ". */
status model_config_load(const char *path, model_config **out, errinfo *err);
/* The config of a model without config.pbtxt: every field at its default. */
status model_config_create_default(model_config **out, errinfo *err);

/* Reference counting; release frees on the last reference. Accept NULL. */
model_config *model_config_retain(model_config *c);
void model_config_release(model_config *c);

/* Instances to create: the sum of instance_group counts, 1 without groups. */
int model_config_instance_count(const model_config *c);

#endif
