/* The `vlmslim` command line: sub-command dispatch. */
#ifndef VS_CLI_CLI_H
#define VS_CLI_CLI_H

#include "base/status.h"

/* Runs the command line; returns the process exit status. */
int vs_cli_main(int argc, char **argv);

/* Sub-commands: argv[0] is the first argument after the sub-command name. */
int vs_cmd_quant(int argc, char **argv);
int vs_cmd_forward(int argc, char **argv);
int vs_cmd_inspect_inputs(int argc, char **argv);
int vs_cmd_eval(int argc, char **argv);

/* vlmslim eval's work after its flags: runs o, writes report (NULL: <quant_path>.eval_report.json)
 * and the .html beside it, with the worst Linears of quant_report (NULL: <quant_path>
 * .quant_report.json when it exists), and prints the summary. Also `vlmslim quant --eval`. */
struct vs_eval_options;
enum vs_status vs_cli_eval_and_report(const struct vs_eval_options *o, const char *report, const char *quant_report);

/* Prints "vlmslim: error: <the recorded message>" and returns the exit status for st. */
int vs_cli_fail(enum vs_status st);
/* VS_OK if `path`, given as --<flag>, is a directory; else a usage error saying what it is. */
enum vs_status vs_cli_check_dir(const char *flag, const char *path);
/* --log_level LEVEL: debug, info, warning or error. */
enum vs_status vs_cli_set_log_level(const char *level);
/* --compute MODE: fp32 or bf16 (tensor/compute.h); NULL leaves fp32. */
enum vs_status vs_cli_set_compute(const char *mode);

#endif
