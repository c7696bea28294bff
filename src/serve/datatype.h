/* datatype.h -- the names one element type goes by at the serving edge.
 *
 * The engine speaks engine_dtype; KServe v2 says "FP32"; Triton's
 * config.pbtxt says TYPE_FP32. One table maps all three, so frontends,
 * config parsing and error messages agree:
 *
 *     engine_dtype dt = serve_datatype_parse("FP32");        // ENGINE_FLOAT
 *     printf("%s", serve_datatype_name(ENGINE_INT64));        // "INT64"
 *     char buf[64]; serve_dims_format(buf, sizeof buf, 3, dims); // "[-1,3,224]"
 *
 * KServe's BYTES is ENGINE_STRING. All functions are pure and thread-safe. */
#ifndef INFERD_SERVE_DATATYPE_H
#define INFERD_SERVE_DATATYPE_H

#include <stddef.h>
#include <stdint.h>

#include "../engine/engine.h"

/* "FP32", "INT64", "BOOL", "BYTES", ...; "INVALID" for types KServe lacks. */
const char *serve_datatype_name(engine_dtype dt);
/* KServe name -> type; ENGINE_UNDEFINED if unknown. */
engine_dtype serve_datatype_parse(const char *name);
/* "TYPE_FP32", ...; "TYPE_INVALID" for types Triton lacks. */
const char *serve_datatype_config_name(engine_dtype dt);
/* Bytes per element of a request's data for dt: engine_dtype_size, and
 * sizeof(engine_string) for BYTES; 0 for UNDEFINED. */
size_t serve_datatype_size(engine_dtype dt);

/* Triton's DataType enum, indexed by its protobuf number (TYPE_INVALID = 0 ...
 * TYPE_BF16 = 14), for pbtxt_enum(); *count receives the length. Maps back to
 * an engine type with serve_datatype_from_config_index. */
const char *const *serve_datatype_config_names(int *count);
engine_dtype serve_datatype_from_config_index(int index);

/* "[-1,3,224,224]" ("[]" for rank 0, "[*]" for rank -1, meaning unknown).
 * Always NUL-terminates; returns buf. */
const char *serve_dims_format(char *buf, size_t len, int rank, const int64_t *dims);

#endif
