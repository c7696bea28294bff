/* main.c -- the inferd command line: dispatches to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "engine/engine.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: inferd <command> [options]\n"
            "\n"
            "commands:\n"
            "  version            print the version\n"
            "\n"
            "Run 'inferd <command> --help' for a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        printf("inferd %s\n", engine_version());
        return 0;
    }
    fprintf(stderr, "inferd: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
