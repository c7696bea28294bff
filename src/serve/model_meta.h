/* model_meta.h -- what a loaded model version looks like from outside.
 *
 * A backend describes a model as its file declares it; config.pbtxt may
 * narrow that (max_batch_size, a subset of outputs, fixed dims, reshape).
 * serve_meta_build merges the two into the effective metadata that requests
 * are validated against and that the metadata endpoint reports, and refuses
 * a config that contradicts the model:
 *   - every configured input/output must exist in the model with the same
 *     data type, and every model input must be configured (when any is);
 *   - dims must agree with the model's where both are fixed;
 *   - max_batch_size > 0 makes the model's first dim the batch dim, which
 *     must be dynamic in the model (or 1 when max_batch_size is 1).
 *
 * Shapes in serve_io are as clients see them: with max_batch_size > 0 they
 * include the batch dim first, as -1 (KServe's convention). `model_dims` is
 * what the backend sees, which differs only when config.pbtxt has `reshape`.
 *
 *     serve_model_meta *meta; errinfo err;
 *     if (serve_meta_build("resnet", 1, cfg, backend->model_meta(bm), &meta, &err))
 *         ... refuse the version: err.msg says which tensor and why ...
 *     int i = serve_meta_find_input(meta, "data");
 *     serve_meta_free(meta);
 *
 * Metadata is immutable once built and may be read from any thread. */
#ifndef INFERD_SERVE_MODEL_META_H
#define INFERD_SERVE_MODEL_META_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/status.h"
#include "../engine/engine.h"
#include "model_config.h"

typedef struct serve_io {
    char *name;
    engine_dtype dtype;
    int rank;                        /* -1: unknown, any shape accepted */
    int64_t dims[ENGINE_MAX_RANK];   /* -1: any size (and the batch dim) */
    bool has_reshape;                /* the backend sees model_dims instead */
    int model_rank;
    int64_t model_dims[ENGINE_MAX_RANK];
    bool optional;                   /* inputs: may be left out */
} serve_io;

typedef struct serve_model_meta {
    char *name;                      /* NULL in a backend's own description */
    int64_t version;
    const char *platform;            /* static string, "onnxruntime_onnx" */
    int max_batch_size;              /* 0: no batch dim */
    int n_inputs;
    serve_io *inputs;
    int n_outputs;
    serve_io *outputs;
} serve_model_meta;

/* Builds the effective metadata of one version. `cfg` may be NULL (no
 * config.pbtxt). Fails with STATUS_INVALID_MODEL naming the tensor and the
 * disagreement, or STATUS_NO_MEMORY. */
status serve_meta_build(const char *name, int64_t version, const model_config *cfg,
                        const serve_model_meta *model, serve_model_meta **out, errinfo *err);

/* A deep copy (backends use it to hand out a description they own). */
status serve_meta_clone(const serve_model_meta *m, serve_model_meta **out, errinfo *err);
void serve_meta_free(serve_model_meta *m);

int serve_meta_find_input(const serve_model_meta *m, const char *name);
int serve_meta_find_output(const serve_model_meta *m, const char *name);

/* Maps a concrete shape between the client view (dims) and the backend view
 * (model_dims) of io: to_model = 1 for inputs, 0 for outputs. Without
 * reshape it is a copy. The batch dim (max_batch_size > 0) passes through.
 * -1 dims of the target take the values of the source's -1 dims in order
 * when both have as many, otherwise a single -1 is inferred from the element
 * count. Fails with STATUS_INVALID_ARGUMENT if the element counts differ. */
status serve_meta_map_shape(const serve_io *io, int max_batch_size, int to_model,
                            const engine_shape *from, engine_shape *to, errinfo *err);

#endif
