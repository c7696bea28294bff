/* engine.h -- inferd's ONNX engine: the public interface.
 *
 * The engine is a library with no server code in it. It loads an ONNX model
 * into an immutable `engine_model` (weights mapped from the file, never copied
 * per instance) and runs it through `engine_session`s, each holding the
 * per-run state (planned activation memory, scratch). One model may be run by
 * many sessions on many threads at once; one session is used by one thread at
 * a time.
 *
 *     engine_model *m; engine_session *s; errinfo err;
 *     if (engine_model_load("resnet/1/model.onnx", NULL, &m, &err)) fail(err.msg);
 *     engine_session_options so = {.threads = 2};
 *     if (engine_session_create(m, &so, &s, &err)) fail(err.msg);
 *     engine_tensor in = {.dtype = ENGINE_FLOAT, .shape = {4, {1, 3, 224, 224}},
 *                         .data = pixels};
 *     engine_tensor out[1];
 *     if (engine_session_run(s, &in, out, &err)) fail(err.msg);
 *     ... out[0].data holds engine_model_output(m, 0)->name's values ...
 *     engine_tensor_release(&out[0]);
 *     engine_session_destroy(s);
 *     engine_model_destroy(m);
 */
#ifndef INFERD_ENGINE_H
#define INFERD_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/status.h"

/* Element types. The values are ONNX's TensorProto.DataType numbers, so a
 * model file's type field converts by a cast. */
typedef enum engine_dtype {
    ENGINE_UNDEFINED = 0,
    ENGINE_FLOAT = 1,
    ENGINE_UINT8 = 2,
    ENGINE_INT8 = 3,
    ENGINE_UINT16 = 4,
    ENGINE_INT16 = 5,
    ENGINE_INT32 = 6,
    ENGINE_INT64 = 7,
    ENGINE_STRING = 8,
    ENGINE_BOOL = 9,
    ENGINE_FLOAT16 = 10,
    ENGINE_DOUBLE = 11,
    ENGINE_UINT32 = 12,
    ENGINE_UINT64 = 13,
    ENGINE_BFLOAT16 = 16,
    ENGINE_DTYPE__MAX = 17
} engine_dtype;

/* Bytes per element, 0 for UNDEFINED/STRING/unknown. */
size_t engine_dtype_size(engine_dtype dt);
/* "float32", "int64", ... (ONNX spelling: "tensor(float)" minus the wrapper). */
const char *engine_dtype_name(engine_dtype dt);

#define ENGINE_MAX_RANK 8

/* A concrete shape. In model metadata a dim of -1 means "symbolic/unknown". */
typedef struct engine_shape {
    int rank;
    int64_t dims[ENGINE_MAX_RANK];
} engine_shape;

/* Element count of a concrete shape (1 for rank 0). Returns -1 if a dim is
 * negative or the product overflows int64. */
int64_t engine_shape_numel(const engine_shape *s);

/* A dense row-major tensor. `data` is not owned by the struct itself: who
 * frees it is said where a tensor is handed over. For STRING tensors `data`
 * is an array of `engine_string`. */
typedef struct engine_tensor {
    engine_dtype dtype;
    engine_shape shape;
    void *data;
    size_t nbytes;
} engine_tensor;

typedef struct engine_string {
    const char *ptr;
    size_t len;
} engine_string;

/* Frees data that the engine allocated for an output tensor and clears it.
 * Accepts NULL and empty tensors. */
void engine_tensor_release(engine_tensor *t);

/* --- models ------------------------------------------------------------ */

typedef struct engine_model engine_model;

typedef struct engine_load_options {
    int optimize;          /* graph optimizations: 1 (default when options are NULL) or 0 */
} engine_load_options;

/* Describes one graph input or output as the model declares it. */
typedef struct engine_io_info {
    const char *name;
    engine_dtype dtype;
    int rank;                      /* -1 if the model declares no shape */
    int64_t dims[ENGINE_MAX_RANK]; /* -1 for symbolic or unknown dims */
    const char *dim_names[ENGINE_MAX_RANK]; /* symbolic names or NULL */
} engine_io_info;

/* Loads an ONNX file. External data files are resolved next to `path`.
 * Fails with STATUS_INVALID_MODEL (malformed file), STATUS_UNSUPPORTED (an
 * operator, opset or type the engine lacks; the message names the node),
 * STATUS_IO_ERROR or STATUS_NO_MEMORY. Thread-safe. */
status engine_model_load(const char *path, const engine_load_options *opts,
                         engine_model **out, errinfo *err);

/* Loads from memory (the buffer must outlive the model). `base_dir` is where
 * external data files are looked up; NULL forbids external data. */
status engine_model_load_buffer(const void *buf, size_t len, const char *base_dir,
                                const engine_load_options *opts,
                                engine_model **out, errinfo *err);

/* Frees the model. All its sessions must have been destroyed. Accepts NULL. */
void engine_model_destroy(engine_model *m);

int engine_model_input_count(const engine_model *m);
int engine_model_output_count(const engine_model *m);
const engine_io_info *engine_model_input(const engine_model *m, int i);
const engine_io_info *engine_model_output(const engine_model *m, int i);
/* Index of the named input/output, or -1. */
int engine_model_find_input(const engine_model *m, const char *name);
int engine_model_find_output(const engine_model *m, const char *name);
/* Bytes of weights held by the model (mapped or owned). */
size_t engine_model_weight_bytes(const engine_model *m);

/* --- sessions ---------------------------------------------------------- */

typedef struct engine_session engine_session;

typedef struct engine_session_options {
    int threads;           /* intra-op threads; 0 = 1 */
} engine_session_options;

status engine_session_create(const engine_model *m, const engine_session_options *opts,
                             engine_session **out, errinfo *err);
void engine_session_destroy(engine_session *s);

/* Runs the model. `inputs` has one tensor per model input, in model order;
 * their data is only read during the call. `outputs` has room for one tensor
 * per model output; on success each holds newly allocated data that the
 * caller frees with engine_tensor_release. On failure no output is left
 * allocated. Bad inputs (wrong dtype, rank, or a dim that contradicts the
 * model) fail with STATUS_INVALID_ARGUMENT naming the input. */
status engine_session_run(engine_session *s, const engine_tensor *inputs,
                          engine_tensor *outputs, errinfo *err);

/* --- tensors in ONNX's own format ----------------------------------------- */

/* Decodes a serialized onnx.TensorProto (as in the ONNX test data's
 * input_0.pb). On success *out owns newly allocated data (free with
 * engine_tensor_release); `name_out`, if not NULL, receives a malloc'd copy
 * of the tensor's name (or NULL). */
status engine_tensor_from_proto(const void *buf, size_t len, engine_tensor *out,
                                char **name_out, errinfo *err);

const char *engine_version(void);

#endif
