/* grpc_arena.h -- one arena per gRPC message being built.
 *
 * A response message of protobuf-c structs points at many small arrays
 * (tensors, shapes, strings). They are allocated from one arena and freed
 * in one call once the message is serialized, instead of one free() each.
 * Large blocks get a chunk of their own; small ones are carved from 4 KiB
 * chunks.
 *
 *     rpc_arena a = {0};
 *     Inference__ModelMetadataResponse__TensorMetadata *t =
 *         rpc_arena_alloc(&a, n * sizeof *t);           // zeroed; NULL: no memory
 *     char *v = rpc_arena_printf(&a, "%lld", (long long)version);
 *     ... pack and send ...
 *     rpc_arena_free(&a);
 *
 * Not thread-safe: an arena belongs to the thread building the message. */
#ifndef INFERD_GRPC_ARENA_H
#define INFERD_GRPC_ARENA_H

#include <stddef.h>

typedef struct rpc_arena_chunk rpc_arena_chunk;

typedef struct rpc_arena {
    rpc_arena_chunk *chunks;
} rpc_arena;

/* n zeroed bytes aligned for any type; NULL if out of memory. */
void *rpc_arena_alloc(rpc_arena *a, size_t n);
/* A formatted string in the arena; NULL if out of memory. */
char *rpc_arena_printf(rpc_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frees every allocation; the arena can be used again. */
void rpc_arena_free(rpc_arena *a);

#endif
