/* flags.h -- command-line flags with environment-variable fallbacks.
 *
 * Every subcommand describes its flags in one table; the same table parses
 * `--name value` / `--name=value`, reads `INFERD_NAME` environment variables
 * (12-factor configuration for Kubernetes ConfigMaps), and prints --help.
 * Precedence: command line over environment over the target's initial value.
 *
 *     int port = 8000;
 *     const flag fl[] = {{"http-port", FLAG_INT, &port, "N", "HTTP port"}};
 *     if (flags_parse(fl, 1, argc, argv, &err)) ...
 */
#ifndef INFERD_FLAGS_H
#define INFERD_FLAGS_H

#include <stdio.h>

#include "common/status.h"

typedef enum flag_type {
    FLAG_STRING,    /* const char ** */
    FLAG_INT,       /* int * */
    FLAG_SIZE,      /* size_t *; accepts suffixes K, M, G (powers of 1024) */
    FLAG_BOOL       /* int *; "--name" alone sets 1; true/false/1/0 accepted */
} flag_type;

typedef struct flag {
    const char *name;       /* without the leading "--" */
    flag_type type;
    void *target;
    const char *metavar;    /* "N", "DIR"; NULL for bools */
    const char *help;
} flag;

/* Parses argv[first..argc). Fails with STATUS_INVALID_ARGUMENT naming the
 * flag or environment variable. Sets *help if --help/-h was given. */
status flags_parse(const flag *flags, int n, int argc, char **argv, int first, int *help,
                   errinfo *err);

void flags_usage(FILE *out, const char *usage_line, const char *summary, const flag *flags,
                 int n);

#endif
