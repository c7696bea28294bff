/* backend.h -- the one narrow interface between serving and an engine.
 *
 * The serving core (repository, model manager, scheduler) never calls an
 * engine directly: it goes through a `serve_backend`, a const table of
 * functions whose first field is the interface version. The ONNX backend
 * (backend_onnx.c) wraps engine.h; tests plug in fakes; later backends (an
 * LLM runtime, an accelerator) plug in the same way.
 *
 * Life cycle, and which thread may call what:
 *   model_load       on a loader thread; may take long (parsing, mapping)
 *   model_meta       any thread, as long as the model lives; immutable
 *   instance_create  on a loader thread, once per instance (worker)
 *   execute          on the instance's worker thread only; one call at a
 *                    time per instance, instances of one model in parallel
 *   tensor_release   any thread, for tensors execute produced
 *   instance_destroy after the instance's last execute
 *   model_unload     after all of the model's instances are destroyed
 *
 *     const serve_backend *be = &serve_backend_onnx;
 *     serve_backend_model *m; serve_backend_instance *inst; errinfo err;
 *     if (be->model_load("m/1/model.onnx", cfg, &m, &err)) ...
 *     if (be->instance_create(m, &(serve_instance_options){.threads = 2}, &inst, &err)) ...
 *     serve_tensor in = {.name = "x", .dtype = ENGINE_FLOAT, .shape = {2, {1, 4}},
 *                        .data = xs, .nbytes = sizeof xs};
 *     const char *want[] = {"y"};
 *     serve_tensor out[1];
 *     if (be->execute(inst, &in, 1, want, 1, out, &err) == STATUS_OK) {
 *         ... out[0].data ...
 *         be->tensor_release(&out[0]);
 *     }
 *     be->instance_destroy(inst);
 *     be->model_unload(m);
 */
#ifndef INFERD_SERVE_BACKEND_H
#define INFERD_SERVE_BACKEND_H

#include <stddef.h>

#include "../common/status.h"
#include "../engine/engine.h"
#include "model_config.h"
#include "model_meta.h"

/* Bump when the table below changes shape; the manager refuses a backend
 * built against another version. */
#define SERVE_BACKEND_ABI 1

typedef struct serve_backend_model serve_backend_model;       /* backend-defined */
typedef struct serve_backend_instance serve_backend_instance; /* backend-defined */

/* A named tensor crossing the interface. For inputs, `data` is read during
 * execute only. For outputs, `data` belongs to the backend's allocator: free
 * it with tensor_release. `name` of an output is valid while the model is
 * loaded (copy it to keep it longer). */
typedef struct serve_tensor {
    const char *name;
    engine_dtype dtype;
    engine_shape shape;
    void *data;
    size_t nbytes;
} serve_tensor;

typedef struct serve_instance_options {
    int threads;                 /* intra-op threads, >= 1 */
} serve_instance_options;

typedef struct serve_backend {
    int abi_version;             /* SERVE_BACKEND_ABI */
    const char *name;            /* Triton's backend name: "onnxruntime" */
    const char *platform;        /* Triton's platform name: "onnxruntime_onnx" */
    const char *default_filename;/* model file in a version directory: "model.onnx" */

    /* Loads the model file at `path` (cfg may be NULL). The model's own
     * description (no config applied) is then available via model_meta. */
    status (*model_load)(const char *path, const model_config *cfg, serve_backend_model **out,
                         errinfo *err);
    const serve_model_meta *(*model_meta)(const serve_backend_model *m);
    void (*model_unload)(serve_backend_model *m);          /* accepts NULL */

    status (*instance_create)(serve_backend_model *m, const serve_instance_options *opts,
                              serve_backend_instance **out, errinfo *err);
    void (*instance_destroy)(serve_backend_instance *inst); /* accepts NULL */

    /* Runs one (possibly batched) execution. `inputs` may come in any order
     * and are named; every non-optional model input is present. `outputs`
     * receives n_wanted tensors, in the order of `wanted`. On failure no
     * output is left allocated; bad inputs fail with
     * STATUS_INVALID_ARGUMENT naming the tensor. */
    status (*execute)(serve_backend_instance *inst, const serve_tensor *inputs, int n_inputs,
                      const char *const *wanted, int n_wanted, serve_tensor *outputs,
                      errinfo *err);
    void (*tensor_release)(serve_tensor *t);               /* clears t */
} serve_backend;

/* The ONNX backend over inferd's engine (backend_onnx.c). */
extern const serve_backend serve_backend_onnx;

#endif
