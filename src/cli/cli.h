/* cli.h -- the subcommands of the inferd binary, one file each.
 * Each takes the whole argv (argv[1] is the subcommand) and returns the
 * process exit code: 0 success, 1 failure, 2 usage error. */
#ifndef INFERD_CLI_H
#define INFERD_CLI_H

int cmd_serve(int argc, char **argv);
int cmd_ops(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_health(int argc, char **argv);

#endif
