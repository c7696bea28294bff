/* warmup.h -- the warmup samples of a model version.
 *
 * A version runs its warmup samples on every instance before it takes
 * traffic (scheduler.h), so the first client does not pay for page faults,
 * memory planning and thread start-up, and a model that cannot run fails
 * its load instead of its first request.
 *
 * With config.pbtxt `model_warmup` (Triton's ModelWarmup), each entry is
 * one sample: `batch_size` rows of the same data, run `count` times. Each
 * input gives data_type, dims (without the batch dim) and one of
 *   zero_data        zeros (empty strings for BYTES)
 *   random_data      pseudo-random values: floats in [0, 1), integers and
 *                    booleans 0 or 1 (valid as indices and masks), short
 *                    lowercase strings; the same every time
 *   input_data_file  one row read from <model>/warmup/<file>: raw
 *                    little-endian elements, or for BYTES each element as a
 *                    4-byte little-endian length followed by its bytes (the
 *                    binary tensor extension's layout)
 * A sample that does not match the model (unknown or missing input, wrong
 * datatype or dims) or whose file is missing or of the wrong size refuses
 * the version with a message naming the sample, the input and the problem.
 *
 * Without `model_warmup` the default is one sample, "default", of zeros for
 * every required input, batch 1 and each symbolic dim 1. A failure of it
 * refuses the version, except when a dim other than the first was guessed
 * (a symbolic image size of 1 may simply be too small for the model): then
 * it is advisory and only logged. A model with an input of unknown rank has
 * no default warmup.
 *
 *     serve_warmup_sample *ws; int n;
 *     if (serve_warmup_build(cfg, meta, "/models/resnet", &ws, &n, &err))
 *         ... refuse the version: err.msg says which sample and why ...
 *     so.warmup = ws; so.n_warmup = n;
 *     serve_scheduler_create(be, bm, meta, &so, &sched, &err);
 *     serve_warmup_free(ws, n);
 *
 * Thread-safe: no shared state. */
#ifndef INFERD_SERVE_WARMUP_H
#define INFERD_SERVE_WARMUP_H

#include "../common/status.h"
#include "model_config.h"
#include "model_meta.h"
#include "scheduler.h"

/* Builds the samples for one version (cfg may be NULL: the default).
 * model_dir is <repository>/<model>, where warmup/ files are looked up.
 * *n may be 0. Errors: STATUS_INVALID_MODEL, STATUS_IO_ERROR (a file),
 * STATUS_NO_MEMORY. */
status serve_warmup_build(const model_config *cfg, const serve_model_meta *meta,
                          const char *model_dir, serve_warmup_sample **out, int *n, errinfo *err);
/* Frees the samples and their requests. Accepts NULL. */
void serve_warmup_free(serve_warmup_sample *ws, int n);

#endif
