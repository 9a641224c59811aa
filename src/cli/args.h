/* Command-line options in argparse style: `--name value`, `--name=value`, flags, and
 * list options (`--tag a b c`, values up to the next `--option`). */
#ifndef VS_CLI_ARGS_H
#define VS_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

enum vs_opt_kind { VS_OPT_FLAG, VS_OPT_VALUE, VS_OPT_LIST };

struct vs_opt {
    const char *name;      /* without dashes: "model_path" */
    enum vs_opt_kind kind;
    const char **value;    /* VS_OPT_VALUE: last value given (borrowed from argv) */
    bool *flag;            /* VS_OPT_FLAG */
    const char ***list;    /* VS_OPT_LIST: malloc'ed array of borrowed strings */
    size_t *count;         /* VS_OPT_LIST */
};

/* Parses argv[0..argc) (the arguments after the sub-command). Errors (VS_ERR_USAGE) name the
 * option: unknown, missing value, unexpected positional argument. */
enum vs_status vs_args_parse(int argc, char **argv, const struct vs_opt *opts, size_t n_opts,
                             const char *command);

/* The value of --<flag> as a whole number in [min, max] (decimal digits only); otherwise a
 * usage error "--<flag> <text>: expected <expected>". */
enum vs_status vs_args_uint(const char *flag, const char *text, uint64_t min, uint64_t max, const char *expected,
                            uint64_t *out);
/* The same for a size in megabytes (MiB), returned in bytes. */
enum vs_status vs_args_megabytes(const char *flag, const char *text, uint64_t *bytes);

#endif
