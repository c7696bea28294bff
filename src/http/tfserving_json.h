/* tfserving_json.h -- TF Serving's REST predict bodies to and from a
 * serve_request, as its api_rest.md and json_tensor.cc define them.
 *
 * Row format: {"instances": [...]}, one entry per batch item. For a model
 * with one input an entry is that input's value for the item; otherwise it
 * is an object naming every input. The items are stacked into tensors with
 * a new leading dim of len(instances), so every item of an input must have
 * the same shape. The answer is {"predictions": [...]}: per item, the one
 * output's value, or an object of every output's value.
 *
 * Columnar format: {"inputs": value} for a one-input model, or
 * {"inputs": {"name": value, ...}}; each value is a whole tensor, nested
 * lists giving its shape. The answer is {"outputs": value} for one output,
 * or {"outputs": {"name": value, ...}}.
 *
 * Values are JSON numbers, true/false and strings; {"b64": "..."} is a
 * binary string (BYTES). Datatypes come from the model's metadata.
 * "signature_name" may be absent, "" or "serving_default". Floats are
 * written as TF Serving writes them (6 significant digits when that reads
 * back exactly, "1.0" for whole numbers, NaN and Infinity as bare tokens);
 * BYTES outputs whose name ends in "_bytes", or that are not UTF-8, become
 * {"b64": ...}.
 *
 *     tfserving_wire wire;
 *     if (tfserving_predict_parse(body, len, meta, r, &wire, &err)) ... 400 ...
 *     ... submit r; when it completes:
 *     tfserving_predict_response(r, wire.format, &out, &out_len, &err);
 *     tfserving_wire_deinit(&wire);
 *
 * Pure functions apart from the request they fill; any thread. */
#ifndef INFERD_TFSERVING_JSON_H
#define INFERD_TFSERVING_JSON_H

#include <stddef.h>

#include "common/json.h"
#include "serve/infer_request.h"
#include "serve/model_meta.h"

typedef enum tfserving_format { TFSERVING_ROW, TFSERVING_COLUMNAR } tfserving_format;

/* What a parsed predict request leaves behind for its answer. */
typedef struct tfserving_wire {
    json_doc *doc;          /* string inputs point into it */
    tfserving_format format;
} tfserving_wire;

/* Fills r (created by the caller) from a predict body, with the inputs
 * named and typed by meta. Fails with STATUS_INVALID_ARGUMENT naming what
 * was wrong; the wire state is then already released. */
status tfserving_predict_parse(const char *body, size_t len, const serve_model_meta *meta,
                               serve_request *r, tfserving_wire *wire, errinfo *err);
void tfserving_wire_deinit(tfserving_wire *wire); /* accepts a zeroed one */

/* {"predictions": ...} or {"outputs": ...} for a completed request. Row
 * format needs every output to have the same leading (batch) dim. *body is
 * malloc'd; the caller frees it. */
status tfserving_predict_response(const serve_request *r, tfserving_format format, char **body,
                                  size_t *len, errinfo *err);

/* TensorFlow's name of a type: "DT_FLOAT", "DT_INT64", "DT_STRING", ... */
const char *tfserving_dtype_name(engine_dtype dt);

#endif
