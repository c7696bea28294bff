/* tfserving_rest.h -- TensorFlow Serving's REST API on inferd's HTTP port.
 *
 * Existing TF Serving clients work unchanged against the same port as the
 * KServe v2 API (kserve_rest.c routes every /v1 path here):
 *
 *   POST /v1/models/{m}[/versions/{v}]:predict     row or columnar JSON
 *                                                  (tfserving_json.h)
 *   GET  /v1/models/{m}[/versions/{v}]             model_version_status
 *   GET  /v1/models/{m}[/versions/{v}]/metadata    model_spec + signature_def
 *
 * Errors are TF Serving's {"error": "..."} with its HTTP codes: 400 for a
 * bad request or an unknown /v1 path ("Malformed request: ..."), 404 for
 * an unknown model or version, 503 while it is not ready. Every model has
 * one signature, "serving_default"; :classify and :regress, which need
 * tf.Example signatures, and version labels answer 400.
 *
 *     if (tfserving_rest_owns(req)) tfserving_rest_handle(api, ex, req);
 *
 * Handlers run on the HTTP I/O thread and never wait on a model. */
#ifndef INFERD_TFSERVING_REST_H
#define INFERD_TFSERVING_REST_H

#include "http/kserve_rest.h"

/* 1 for "/v1" and every path under "/v1/". */
int tfserving_rest_owns(const http_request *req);
/* Answers one /v1 request (always responds, possibly later, from a worker). */
void tfserving_rest_handle(kserve_rest *api, http_exchange *ex, const http_request *req);

#endif
