/* main.c -- the inferd command line: dispatches to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "engine/engine.h"
#include "omp_env.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"serve", cmd_serve, "serve a model repository over HTTP (KServe v2 REST)"},
    {"bench", cmd_bench, "time the engine alone on an ONNX file (no server)"},
    {"health", cmd_health, "probe a server's health endpoint (for container health checks)"},
    {"ops", cmd_ops, "list the ONNX operators the engine implements"},
};

static void usage(FILE *out) {
    fprintf(out, "usage: inferd <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-10s %s\n", "version", "print the version");
    fprintf(out, "\nRun 'inferd <command> --help' for a command's options.\n");
}

int main(int argc, char **argv) {
    omp_env_defaults(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        printf("inferd %s\n", engine_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc, argv);
    fprintf(stderr, "inferd: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
