/* integrity.h -- a version directory checked against its `sha256sums`.
 *
 * A version directory may carry a file named `sha256sums` in the format
 * `sha256sum` writes (and `sha256sum -c` reads), with names relative to the
 * version directory:
 *
 *     cd models/resnet/2 && sha256sum model.onnx weights.bin > sha256sums
 *
 * Before the version loads, every listed file is hashed and compared; the
 * model file itself must be listed (a manifest that does not cover it
 * proves nothing). Any mismatch, missing or unlisted model file, or
 * malformed line refuses the version with a message naming the file and
 * the line. Both text (`HASH  name`) and binary (`HASH *name`) lines are
 * read, and names escaped the way sha256sum escapes them (a leading `\`,
 * with `\\` and `\n`). Names must stay inside the version directory: no
 * absolute paths and no `..`. Without a `sha256sums` file nothing is
 * checked.
 *
 *     errinfo err;
 *     if (serve_integrity_check("/models/resnet/2", "/models/resnet/2/model.onnx", &err))
 *         refuse(err.msg);   // "sha256sums line 1: model.onnx: checksum mismatch ..."
 *
 * Hashing uses OpenSSL's libcrypto (EVP SHA-256) and reads each file once
 * in 1 MiB blocks. The check happens before loading; a file replaced in
 * between is not noticed (but its new stamp makes a poll reload it).
 *
 * Thread-safe (no shared state). */
#ifndef INFERD_SERVE_INTEGRITY_H
#define INFERD_SERVE_INTEGRITY_H

#include "../common/status.h"

/* The manifest's file name inside a version directory. */
#define SERVE_INTEGRITY_FILE "sha256sums"

/* Checks version_dir against its sha256sums, if there is one. model_file
 * (a path under version_dir, or NULL) must be listed. Errors:
 * STATUS_INVALID_MODEL (mismatch, unlisted model file, bad manifest),
 * STATUS_IO_ERROR (a file cannot be read), STATUS_NO_MEMORY. */
status serve_integrity_check(const char *version_dir, const char *model_file, errinfo *err);

/* SHA-256 of a whole file as 64 lowercase hex digits plus NUL. */
status serve_sha256_file(const char *path, char hex[65], errinfo *err);

#endif
