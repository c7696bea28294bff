/* grpc_server.c -- placeholder while the gRPC frontend is written. */
#include <grpc/grpc.h>

const char *rpc_server_placeholder(void);
const char *rpc_server_placeholder(void) { return grpc_version_string(); }
