/* kserve_data.h -- tensor contents in KServe v2 JSON ("data": [...]).
 *
 * The v2 protocol carries tensor elements as a JSON array, flat or nested in
 * row-major order. These functions turn such an array into a dense buffer of
 * one engine_dtype, checking every element against the type (an INT8 of 300
 * or a 1.5 for INT32 is an error naming the input and the element), and
 * write a buffer back as a flat array.
 *
 *     void *buf; size_t nbytes;
 *     if (kserve_data_decode(data, ENGINE_FLOAT, 150528, "image", &buf, &nbytes, &err))
 *         respond 400 with err.msg;
 *     ...
 *     kserve_data_encode(&w, ENGINE_FLOAT, out, numel);
 *
 * BYTES elements become engine_strings that point into the JSON document,
 * which must outlive the buffer. */
#ifndef INFERD_KSERVE_DATA_H
#define INFERD_KSERVE_DATA_H

#include "common/json.h"
#include "engine/engine.h"

/* Decodes `data` (an array, or a bare scalar for a rank-0 tensor) holding
 * exactly `numel` elements. On success *out is malloc'd (caller frees). */
status kserve_data_decode(const json_value *data, engine_dtype dt, int64_t numel,
                          const char *input_name, void **out, size_t *nbytes, errinfo *err);

/* Appends a flat JSON array of `numel` elements of dt. */
void kserve_data_encode(json_writer *w, engine_dtype dt, const void *data, int64_t numel);

#endif
