/* The `vlmslim` command line: sub-command dispatch. */
#ifndef VS_CLI_CLI_H
#define VS_CLI_CLI_H

/* Runs the command line; returns the process exit status. */
int vs_cli_main(int argc, char **argv);

/* Sub-commands: argv[0] is the first argument after the sub-command name. */
int vs_cmd_quant(int argc, char **argv);
int vs_cmd_forward(int argc, char **argv);

#endif
