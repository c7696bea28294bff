/* kserve_repository.h -- the model repository extension of the KServe v2
 * REST API (Triton's names and bodies):
 *
 *     POST /v2/repository/index                   [{"name","version","state","reason"}]
 *          body (optional): {"ready": true}       only READY rows
 *     POST /v2/repository/models/{m}/load         200 {} once every version of m is
 *                                                 READY; 400 with the reason if one failed
 *     POST /v2/repository/models/{m}/unload       200 {} once m is drained and freed
 *
 * The index answers in every --model-control-mode; load and unload only in
 * `explicit` (400 otherwise, naming the mode). Load and unload are answered
 * when they are done, by the manager's threads: the I/O thread never waits.
 * Load `parameters` that override the config or carry files (Triton's
 * "config" and "file:..." keys) are refused with 400: models come from the
 * repository only.
 *
 *     if (kserve_repository_route(api, ex, req)) return;   // in kserve_rest_handle
 */
#ifndef INFERD_KSERVE_REPOSITORY_H
#define INFERD_KSERVE_REPOSITORY_H

#include "http/http_server.h"
#include "http/kserve_rest.h"

/* 1 if req is a /v2/repository request (answered or to be answered). */
int kserve_repository_route(kserve_rest *api, http_exchange *ex, const http_request *req);

#endif
