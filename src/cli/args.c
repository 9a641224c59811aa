#include "cli/args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum vs_status vs_args_uint(const char *flag, const char *text, uint64_t min, uint64_t max, const char *expected,
                            uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = text[0] >= '0' && text[0] <= '9' ? strtoull(text, &end, 10) : 0;
    if (!end || *end || errno == ERANGE || v < min || v > max)
        return vs_error_set(VS_ERR_USAGE, "--%s %s: expected %s", flag, text, expected);
    *out = (uint64_t)v;
    return VS_OK;
}

enum vs_status vs_args_megabytes(const char *flag, const char *text, uint64_t *bytes)
{
    uint64_t mb;
    enum vs_status st = vs_args_uint(flag, text, 0, UINT64_MAX >> 20, "a whole number of megabytes", &mb);
    if (st == VS_OK)
        *bytes = mb << 20;
    return st;
}

static const struct vs_opt *find(const struct vs_opt *opts, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return &opts[i];
    return NULL;
}

enum vs_status vs_args_parse(int argc, char **argv, const struct vs_opt *opts, size_t n_opts,
                             const char *command)
{
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
            return vs_error_set(VS_ERR_USAGE, "unexpected argument '%s' (see 'vlmslim %s --help')", arg, command);
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct vs_opt *o = find(opts, n_opts, name, len);
        if (!o)
            return vs_error_set(VS_ERR_USAGE, "unknown option '--%.*s' (see 'vlmslim %s --help')", (int)len, name,
                                command);
        switch (o->kind) {
        case VS_OPT_FLAG:
            if (eq)
                return vs_error_set(VS_ERR_USAGE, "option '--%s' takes no value", o->name);
            *o->flag = true;
            break;
        case VS_OPT_VALUE:
            if (eq) {
                *o->value = eq + 1;
            } else {
                if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)
                    return vs_error_set(VS_ERR_USAGE, "option '--%s' needs a value", o->name);
                *o->value = argv[++i];
            }
            break;
        case VS_OPT_LIST: {
            free((void *)*o->list);
            *o->list = NULL;
            *o->count = 0;
            size_t n = 0;
            const char **vals = malloc(((size_t)argc + 1) * sizeof *vals);
            if (!vals)
                return vs_error_set(VS_ERR_NOMEM, "out of memory parsing '--%s'", o->name);
            if (eq)
                vals[n++] = eq + 1;
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
                vals[n++] = argv[++i];
            *o->list = vals;
            *o->count = n;
            break;
        }
        }
    }
    return VS_OK;
}
