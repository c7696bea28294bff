/* fake_backend.h -- a serve_backend for tests that need no engine and no
 * ONNX file (header-only: each test program includes it once).
 *
 * A "model file" is a text spec, one directive per line:
 *
 *     in x FP32 -1 4        an input: name, KServe datatype, dims (* = any rank)
 *     out y FP32 -1 4       an output
 *     fail some reason      model_load fails with this message
 *     instfail              instance_create fails
 *     loadsleep 200         model_load takes 200 ms
 *
 * execute copies the first input to every wanted output, adding 1 to each
 * element when the output is FP32 (so tests can check data flowed), and
 * reports the output's shape as the first input's. Global knobs let tests
 * hold executions at a gate and count concurrency:
 *
 *     fake_gate_close();  ... submit ...  fake_gate_open();
 *     atomic_load(&fake_executions), fake_max_concurrent
 */
#ifndef INFERD_TESTS_FAKE_BACKEND_H
#define INFERD_TESTS_FAKE_BACKEND_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/backend.h"
#include "serve/datatype.h"

#define FAKE_UNUSED __attribute__((unused))

struct serve_backend_model {
    serve_model_meta meta;
    int instfail;
};

struct serve_backend_instance {
    struct serve_backend_model *m;
    int threads;
};

static atomic_int fake_executions;
static atomic_int fake_running;
static atomic_int fake_max_concurrent;
static atomic_int fake_instances_alive;
static atomic_int fake_models_alive;
static atomic_int fake_sleep_us;
static pthread_mutex_t fake_gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fake_gate_cv = PTHREAD_COND_INITIALIZER;
FAKE_UNUSED static int fake_gate_closed;
FAKE_UNUSED static int fake_waiting_at_gate;

FAKE_UNUSED static void fake_gate_close(void) {
    pthread_mutex_lock(&fake_gate_mu);
    fake_gate_closed = 1;
    pthread_mutex_unlock(&fake_gate_mu);
}

FAKE_UNUSED static void fake_gate_open(void) {
    pthread_mutex_lock(&fake_gate_mu);
    fake_gate_closed = 0;
    pthread_cond_broadcast(&fake_gate_cv);
    pthread_mutex_unlock(&fake_gate_mu);
}

/* Waits until n executions are blocked at the closed gate. */
FAKE_UNUSED static void fake_gate_wait_for(int n) {
    for (;;) {
        pthread_mutex_lock(&fake_gate_mu);
        int w = fake_waiting_at_gate;
        pthread_mutex_unlock(&fake_gate_mu);
        if (w >= n) return;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
}

FAKE_UNUSED static void fake_meta_clear(serve_model_meta *m) {
    for (int i = 0; i < m->n_inputs; i++) free(m->inputs[i].name);
    for (int i = 0; i < m->n_outputs; i++) free(m->outputs[i].name);
    free(m->inputs);
    free(m->outputs);
    memset(m, 0, sizeof *m);
}

FAKE_UNUSED static int fake_add_io(serve_io **arr, int *n, char *rest) {
    char *save = NULL;
    char *name = strtok_r(rest, " \t", &save);
    char *type = strtok_r(NULL, " \t", &save);
    if (!name || !type) return -1;
    serve_io *p = realloc(*arr, (size_t)(*n + 1) * sizeof *p);
    if (!p) return -1;
    *arr = p;
    serve_io *io = &p[(*n)++];
    memset(io, 0, sizeof *io);
    io->name = strdup(name);
    io->dtype = serve_datatype_parse(type);
    char *d;
    while ((d = strtok_r(NULL, " \t", &save)) && io->rank < ENGINE_MAX_RANK) {
        if (!strcmp(d, "*")) { /* rank unknown */
            io->rank = -1;
            break;
        }
        io->dims[io->rank++] = strtoll(d, NULL, 10);
    }
    io->model_rank = io->rank;
    memcpy(io->model_dims, io->dims, sizeof io->dims);
    return 0;
}

/* Parses a spec (text) into a model. */
FAKE_UNUSED static status fake_model_from_spec(const char *spec, serve_backend_model **out, errinfo *err) {
    struct serve_backend_model *m = calloc(1, sizeof *m);
    char *copy = strdup(spec);
    if (!m || !copy) {
        free(m);
        free(copy);
        return status_fail(err, STATUS_NO_MEMORY, "fake: out of memory");
    }
    m->meta.platform = "fake_platform";
    char *save = NULL;
    status st = STATUS_OK;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "in ", 3)) fake_add_io(&m->meta.inputs, &m->meta.n_inputs, line + 3);
        else if (!strncmp(line, "out ", 4)) fake_add_io(&m->meta.outputs, &m->meta.n_outputs, line + 4);
        else if (!strncmp(line, "fail ", 5)) st = status_fail(err, STATUS_INVALID_MODEL, "%s", line + 5);
        else if (!strcmp(line, "instfail")) m->instfail = 1;
        else if (!strncmp(line, "loadsleep ", 10)) {
            long ms = strtol(line + 10, NULL, 10);
            nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
        }
    }
    free(copy);
    if (st) {
        fake_meta_clear(&m->meta);
        free(m);
        return st;
    }
    atomic_fetch_add(&fake_models_alive, 1);
    *out = m;
    return STATUS_OK;
}

FAKE_UNUSED static status fake_model_load(const char *path, const model_config *cfg, serve_backend_model **out,
                              errinfo *err) {
    (void)cfg;
    FILE *fp = fopen(path, "rb");
    if (!fp) return status_fail(err, STATUS_IO_ERROR, "fake: cannot open %s", path);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return fake_model_from_spec(buf, out, err);
}

static const serve_model_meta *fake_model_meta(const serve_backend_model *m) { return &m->meta; }

FAKE_UNUSED static void fake_model_unload(serve_backend_model *m) {
    if (!m) return;
    fake_meta_clear(&m->meta);
    free(m);
    atomic_fetch_sub(&fake_models_alive, 1);
}

FAKE_UNUSED static status fake_instance_create(serve_backend_model *m, const serve_instance_options *o,
                                   serve_backend_instance **out, errinfo *err) {
    if (m->instfail) return status_fail(err, STATUS_INTERNAL, "fake: instance refused");
    struct serve_backend_instance *inst = calloc(1, sizeof *inst);
    if (!inst) return status_fail(err, STATUS_NO_MEMORY, "fake: out of memory");
    inst->m = m;
    inst->threads = o->threads;
    atomic_fetch_add(&fake_instances_alive, 1);
    *out = inst;
    return STATUS_OK;
}

FAKE_UNUSED static void fake_instance_destroy(serve_backend_instance *inst) {
    if (!inst) return;
    free(inst);
    atomic_fetch_sub(&fake_instances_alive, 1);
}

FAKE_UNUSED static void fake_tensor_release(serve_tensor *t) {
    free(t->data);
    memset(t, 0, sizeof *t);
}

FAKE_UNUSED static status fake_execute(serve_backend_instance *inst, const serve_tensor *inputs, int n_inputs,
                           const char *const *wanted, int n_wanted, serve_tensor *outputs,
                           errinfo *err) {
    int running = atomic_fetch_add(&fake_running, 1) + 1;
    int prev = atomic_load(&fake_max_concurrent);
    while (running > prev && !atomic_compare_exchange_weak(&fake_max_concurrent, &prev, running)) {}
    pthread_mutex_lock(&fake_gate_mu);
    fake_waiting_at_gate++;
    while (fake_gate_closed) pthread_cond_wait(&fake_gate_cv, &fake_gate_mu);
    fake_waiting_at_gate--;
    pthread_mutex_unlock(&fake_gate_mu);
    int us = atomic_load(&fake_sleep_us);
    if (us) nanosleep(&(struct timespec){us / 1000000, (us % 1000000) * 1000L}, NULL);
    atomic_fetch_add(&fake_executions, 1);
    status st = STATUS_OK;
    int made = 0;
    if (n_inputs < 1) st = status_fail(err, STATUS_INVALID_ARGUMENT, "fake: no input");
    for (; !st && made < n_wanted; made++) {
        int k = -1;
        for (int i = 0; i < inst->m->meta.n_outputs; i++)
            if (!strcmp(inst->m->meta.outputs[i].name, wanted[made])) k = i;
        if (k < 0) {
            st = status_fail(err, STATUS_INVALID_ARGUMENT, "fake: unknown output '%s'", wanted[made]);
            break;
        }
        serve_tensor *o = &outputs[made];
        o->name = inst->m->meta.outputs[k].name;
        o->dtype = inst->m->meta.outputs[k].dtype;
        o->shape = inputs[0].shape;
        o->nbytes = inputs[0].nbytes;
        o->data = malloc(o->nbytes ? o->nbytes : 1);
        if (!o->data) {
            st = status_fail(err, STATUS_NO_MEMORY, "fake: out of memory");
            break;
        }
        memcpy(o->data, inputs[0].data, o->nbytes);
        if (o->dtype == ENGINE_FLOAT && inputs[0].dtype == ENGINE_FLOAT)
            for (size_t i = 0; i < o->nbytes / sizeof(float); i++) ((float *)o->data)[i] += 1.0f;
    }
    if (st)
        for (int i = 0; i < made; i++) fake_tensor_release(&outputs[i]);
    atomic_fetch_sub(&fake_running, 1);
    return st;
}

FAKE_UNUSED static const serve_backend fake_backend = {
    .abi_version = SERVE_BACKEND_ABI,
    .name = "onnxruntime",
    .platform = "onnxruntime_onnx",
    .default_filename = "model.onnx",
    .model_load = fake_model_load,
    .model_meta = fake_model_meta,
    .model_unload = fake_model_unload,
    .instance_create = fake_instance_create,
    .instance_destroy = fake_instance_destroy,
    .execute = fake_execute,
    .tensor_release = fake_tensor_release,
};

#endif
