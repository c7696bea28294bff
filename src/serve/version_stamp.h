/* version_stamp.h -- a fingerprint of a model version's files, to notice
 * that they changed on disk.
 *
 * Repository polling (--model-control-mode poll) and explicit loads reload a
 * version whose files changed, and leave an unchanged one alone. The stamp
 * is a 64-bit hash of what stat() says (name, size, modification time in
 * nanoseconds, inode) about every file under <model>/<version>/, about
 * <model>/config.pbtxt and about the files under <model>/warmup/: the ones
 * a version's load reads. No file content is read, so stamping a version of
 * gigabytes costs a few stat calls. Symbolic links are followed (Kubernetes
 * ConfigMap and volume mounts swap a `..data` link on update), so an
 * atomic link swap counts as a change.
 *
 *     uint64_t before = serve_version_stamp("/models/resnet", 2);
 *     ... later ...
 *     if (serve_version_stamp("/models/resnet", 2) != before) reload();
 *
 * Thread-safe (no shared state). */
#ifndef INFERD_SERVE_VERSION_STAMP_H
#define INFERD_SERVE_VERSION_STAMP_H

#include <stdint.h>

/* The stamp of <model_dir>/<version> with its config and warmup files.
 * Never 0 (0 means "no stamp"); a missing directory has a stamp of its own. */
uint64_t serve_version_stamp(const char *model_dir, int64_t version);

#endif
