#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "base/fs.h"
#include "base/log.h"
#include "vs_build_config.h"
#include "tensor/compute.h"

static void print_usage(FILE *f)
{
    fputs("usage: vlmslim <command> [options]\n"
          "\n"
          "Post-training quantization of vision-language models (Qwen3-VL, Qwen3-VL-MoE) from a\n"
          "Hugging Face checkpoint to an int8 `ascendv1` checkpoint, compatible with msModelSlim's\n"
          "`msmodelslim quant` flags, config/config.ini registry and YAML configs.\n"
          "\n"
          "commands:\n"
          "  quant           quantize a checkpoint (see 'vlmslim quant --help')\n"
          "  forward         run the float model over samples and dump its outputs (see 'vlmslim forward --help')\n"
          "  inspect-inputs  show the calibration samples as the model sees them, or dump them\n"
          "  eval            measure an export against its float model (see 'vlmslim eval --help')\n"
          "\n"
          "options:\n"
          "  --help      show this help\n"
          "  --version   show the version\n",
          f);
}

int vs_cli_fail(enum vs_status st)
{
    const char *msg = vs_error_message();
    fprintf(stderr, "vlmslim: error: %s\n", *msg ? msg : vs_status_name(st));
    return vs_status_exit_code(st);
}

enum vs_status vs_cli_check_dir(const char *flag, const char *path)
{
    if (vs_fs_is_dir(path))
        return VS_OK;
    return vs_error_set(VS_ERR_USAGE, "--%s %s: %s", flag, path, vs_fs_exists(path) ? "is not a directory" : "does not exist");
}

enum vs_status vs_cli_set_log_level(const char *level)
{
    int lv = vs_log_parse_level(level);
    if (lv < 0)
        return vs_error_set(VS_ERR_USAGE, "--log_level %s: expected debug, info, warning or error", level);
    vs_log_set_level((enum vs_log_level)lv);
    return VS_OK;
}

enum vs_status vs_cli_set_compute(const char *mode)
{
    enum vs_compute c = VS_COMPUTE_FP32;
    if (mode && !vs_compute_parse(mode, &c))
        return vs_error_set(VS_ERR_USAGE, "--compute %s: expected fp32 or bf16", mode);
    vs_compute_set(c);
    return VS_OK;
}

int vs_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("vlmslim %s\n", VS_VERSION);
        return 0;
    }
    if (strcmp(cmd, "quant") == 0)
        return vs_cmd_quant(argc - 2, argv + 2);
    if (strcmp(cmd, "forward") == 0)
        return vs_cmd_forward(argc - 2, argv + 2);
    if (strcmp(cmd, "inspect-inputs") == 0)
        return vs_cmd_inspect_inputs(argc - 2, argv + 2);
    if (strcmp(cmd, "eval") == 0)
        return vs_cmd_eval(argc - 2, argv + 2);
    fprintf(stderr, "vlmslim: error: unknown command '%s' (commands: quant, forward, inspect-inputs, eval; see 'vlmslim --help')\n", cmd);
    return 2;
}
