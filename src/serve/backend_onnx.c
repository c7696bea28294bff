/* backend_onnx.c -- the serve_backend over inferd's own ONNX engine.
 *
 * A thin adapter: names <-> the engine's positional inputs and outputs, the
 * engine's io description -> serve_model_meta, and release of the outputs
 * nobody asked for (the engine computes them all). */
#include <stdlib.h>
#include <string.h>

#include "backend.h"

struct serve_backend_model {
    engine_model *em;
    serve_model_meta meta;
};

struct serve_backend_instance {
    struct serve_backend_model *m;
    engine_session *s;
};

static void meta_clear(serve_model_meta *m) {
    for (int i = 0; i < m->n_inputs; i++) free(m->inputs[i].name);
    for (int i = 0; i < m->n_outputs; i++) free(m->outputs[i].name);
    free(m->inputs);
    free(m->outputs);
}

static bool io_from_engine(serve_io *dst, const engine_io_info *src) {
    memset(dst, 0, sizeof *dst);
    if (!(dst->name = strdup(src->name ? src->name : ""))) return false;
    dst->dtype = src->dtype;
    dst->rank = src->rank;
    for (int d = 0; d < src->rank && d < ENGINE_MAX_RANK; d++) dst->dims[d] = src->dims[d];
    dst->model_rank = dst->rank;
    memcpy(dst->model_dims, dst->dims, sizeof dst->dims);
    return true;
}

/* The model's own description, as serve_meta_build expects it. */
static status describe(struct serve_backend_model *bm, errinfo *err) {
    serve_model_meta *m = &bm->meta;
    int ni = engine_model_input_count(bm->em), no = engine_model_output_count(bm->em);
    m->platform = "onnxruntime_onnx";
    m->inputs = calloc((size_t)(ni > 0 ? ni : 1), sizeof *m->inputs);
    m->outputs = calloc((size_t)(no > 0 ? no : 1), sizeof *m->outputs);
    if (!m->inputs || !m->outputs) goto oom;
    for (; m->n_inputs < ni; m->n_inputs++)
        if (!io_from_engine(&m->inputs[m->n_inputs], engine_model_input(bm->em, m->n_inputs))) goto oom;
    for (; m->n_outputs < no; m->n_outputs++)
        if (!io_from_engine(&m->outputs[m->n_outputs], engine_model_output(bm->em, m->n_outputs)))
            goto oom;
    return STATUS_OK;
oom:
    return status_fail(err, STATUS_NO_MEMORY, "out of memory describing the model");
}

static void onnx_model_unload(serve_backend_model *bm) {
    if (!bm) return;
    meta_clear(&bm->meta);
    engine_model_destroy(bm->em);
    free(bm);
}

static status onnx_model_load(const char *path, const model_config *cfg, serve_backend_model **out,
                              errinfo *err) {
    (void)cfg; /* nothing in config.pbtxt tunes the engine yet */
    *out = NULL;
    struct serve_backend_model *bm = calloc(1, sizeof *bm);
    if (!bm) return status_fail(err, STATUS_NO_MEMORY, "out of memory loading %s", path);
    status st = engine_model_load(path, NULL, &bm->em, err);
    if (st) {
        if (err && !strstr(err->msg, path)) status_wrap(err, st, "%s", path);
        free(bm);
        return st;
    }
    if ((st = describe(bm, err))) {
        onnx_model_unload(bm);
        return st;
    }
    *out = bm;
    return STATUS_OK;
}

static const serve_model_meta *onnx_model_meta(const serve_backend_model *bm) { return &bm->meta; }

static status onnx_instance_create(serve_backend_model *bm, const serve_instance_options *opts,
                                   serve_backend_instance **out, errinfo *err) {
    *out = NULL;
    struct serve_backend_instance *inst = calloc(1, sizeof *inst);
    if (!inst) return status_fail(err, STATUS_NO_MEMORY, "out of memory creating an instance");
    engine_session_options so = {.threads = opts && opts->threads > 0 ? opts->threads : 1};
    status st = engine_session_create(bm->em, &so, &inst->s, err);
    if (st) {
        free(inst);
        return st;
    }
    inst->m = bm;
    *out = inst;
    return STATUS_OK;
}

static void onnx_instance_destroy(serve_backend_instance *inst) {
    if (!inst) return;
    engine_session_destroy(inst->s);
    free(inst);
}

static void onnx_tensor_release(serve_tensor *t) {
    engine_tensor et = {.dtype = t->dtype, .shape = t->shape, .data = t->data, .nbytes = t->nbytes};
    engine_tensor_release(&et);
    memset(t, 0, sizeof *t);
}

/* Puts the named inputs in the engine's order. */
static status bind_inputs(const engine_model *em, const serve_tensor *inputs, int n,
                          engine_tensor *ins, errinfo *err) {
    int count = engine_model_input_count(em);
    for (int i = 0; i < n; i++) {
        int k = engine_model_find_input(em, inputs[i].name);
        if (k < 0)
            return status_fail(err, STATUS_INVALID_ARGUMENT, "unknown input '%s'", inputs[i].name);
        if (ins[k].dtype != ENGINE_UNDEFINED)
            return status_fail(err, STATUS_INVALID_ARGUMENT, "input '%s' given twice", inputs[i].name);
        ins[k] = (engine_tensor){.dtype = inputs[i].dtype, .shape = inputs[i].shape,
                                 .data = inputs[i].data, .nbytes = inputs[i].nbytes};
    }
    for (int k = 0; k < count; k++)
        if (ins[k].dtype == ENGINE_UNDEFINED)
            return status_fail(err, STATUS_INVALID_ARGUMENT,
                               "input '%s' is required by the model (the engine has no default "
                               "for optional inputs)", engine_model_input(em, k)->name);
    return STATUS_OK;
}

/* Hands the wanted outputs over; releases the rest. */
static status pick_outputs(const engine_model *em, engine_tensor *outs, const char *const *wanted,
                           int n_wanted, serve_tensor *outputs, errinfo *err) {
    int count = engine_model_output_count(em);
    status st = STATUS_OK;
    int j = 0;
    for (; j < n_wanted && !st; j++) {
        int k = engine_model_find_output(em, wanted[j]);
        if (k < 0 || outs[k].dtype == ENGINE_UNDEFINED) { /* taken already */
            st = status_fail(err, STATUS_INVALID_ARGUMENT, k < 0 ? "unknown output '%s'"
                             : "output '%s' requested twice", wanted[j]);
            break;
        }
        outputs[j] = (serve_tensor){.name = engine_model_output(em, k)->name, .dtype = outs[k].dtype,
                                    .shape = outs[k].shape, .data = outs[k].data,
                                    .nbytes = outs[k].nbytes};
        memset(&outs[k], 0, sizeof outs[k]);
    }
    if (st)
        for (int i = 0; i < j; i++) onnx_tensor_release(&outputs[i]);
    for (int k = 0; k < count; k++) engine_tensor_release(&outs[k]);
    return st;
}

static status onnx_execute(serve_backend_instance *inst, const serve_tensor *inputs, int n_inputs,
                           const char *const *wanted, int n_wanted, serve_tensor *outputs,
                           errinfo *err) {
    const engine_model *em = inst->m->em;
    int ni = engine_model_input_count(em), no = engine_model_output_count(em);
    engine_tensor *ins = calloc((size_t)(ni > 0 ? ni : 1), sizeof *ins);
    engine_tensor *outs = calloc((size_t)(no > 0 ? no : 1), sizeof *outs);
    status st;
    if (!ins || !outs) {
        st = status_fail(err, STATUS_NO_MEMORY, "out of memory preparing an execution");
        goto done;
    }
    if ((st = bind_inputs(em, inputs, n_inputs, ins, err))) goto done;
    if ((st = engine_session_run(inst->s, ins, outs, err))) goto done;
    st = pick_outputs(em, outs, wanted, n_wanted, outputs, err);
done:
    free(ins);
    free(outs);
    return st;
}

const serve_backend serve_backend_onnx = {
    .abi_version = SERVE_BACKEND_ABI,
    .name = "onnxruntime",
    .platform = "onnxruntime_onnx",
    .default_filename = "model.onnx",
    .model_load = onnx_model_load,
    .model_meta = onnx_model_meta,
    .model_unload = onnx_model_unload,
    .instance_create = onnx_instance_create,
    .instance_destroy = onnx_instance_destroy,
    .execute = onnx_execute,
    .tensor_release = onnx_tensor_release,
};
