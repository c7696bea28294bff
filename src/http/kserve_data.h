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
 *     if (kserve_data_encode(&w, "scores", ENGINE_FLOAT, out, numel, &err)) ...
 *
 * BYTES elements are JSON strings (any UTF-8, "\u0000" included). They
 * become engine_strings that point into the JSON document, which must
 * outlive the buffer. A BYTES output that is not valid UTF-8 cannot be
 * written as a JSON string: encoding fails and says to ask for the output
 * as binary data instead. The TF Serving frontend reuses the element
 * conversion (kserve_data_store) for its own layouts. */
#ifndef INFERD_KSERVE_DATA_H
#define INFERD_KSERVE_DATA_H

#include <stdbool.h>

#include "common/json.h"
#include "engine/engine.h"

/* Decodes `data` (an array, or a bare scalar for a rank-0 tensor) holding
 * exactly `numel` elements. On success *out is malloc'd (caller frees). */
status kserve_data_decode(const json_value *data, engine_dtype dt, int64_t numel,
                          const char *input_name, void **out, size_t *nbytes, errinfo *err);

/* Stores one JSON scalar as element i of buf, a buffer of dt (BYTES: an
 * engine_string array; the string stays in the document). Fails naming
 * the input and the element when the value does not fit the type. */
status kserve_data_store(const json_value *v, engine_dtype dt, void *buf, int64_t i,
                         const char *input_name, errinfo *err);

/* Appends a flat JSON array of `numel` elements of dt. Fails (writing
 * nothing useful) only for a BYTES element that is not valid UTF-8. */
status kserve_data_encode(json_writer *w, const char *output_name, engine_dtype dt,
                          const void *data, int64_t numel, errinfo *err);

/* true if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool kserve_data_is_utf8(const char *s, size_t len);

#endif
