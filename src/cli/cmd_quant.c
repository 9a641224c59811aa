/* `vlmslim quant`: msModelSlim's `msmodelslim quant` flags, validated in its order (spec §1.2). */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "base/log.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/datadir.h"
#include "eval/eval_run.h"
#include "config/practice.h"
#include "config/quant_config.h"
#include "model/registry.h"
#include "runner/quant_run.h"

static void print_help(void)
{
    fputs(
        "usage: vlmslim quant --model_path DIR --save_path DIR --model_type NAME\n"
        "                     (--config_path FILE.yaml | --quant_type TYPE [--tag TAG ...])\n"
        "                     [--device cpu] [--trust_remote_code True|False] [--overwrite]\n"
        "                     [--log_level LEVEL] [--debug]\n"
        "                     [--calib_inputs DIR] [--propagate quantized|float] [--spill_budget_mb N]\n"
        "                     [--compute fp32|bf16]\n"
        "                     [--eval] [--eval_dataset D]\n"
        "\n"
        "Quantizes a Hugging Face checkpoint layer by layer and writes an `ascendv1` export\n"
        "(quant_model_weights*.safetensors, quant_model_description.json, tokenizer/processor/\n"
        "config files). The export appears at --save_path only when complete.\n"
        "\n"
        "options:\n"
        "  --model_path DIR        the float checkpoint (config.json + *.safetensors)\n"
        "  --save_path DIR         output directory; created if absent; must be empty unless\n"
        "                          --overwrite is given\n"
        "  --model_type NAME       a display name registered in config/config.ini, e.g.\n"
        "                          Qwen3-VL-30B-A3B, Qwen3-VL-235B-A22B, Qwen3-VL-8B-Instruct\n"
        "  --config_path FILE      msModelSlim YAML config (apiversion multimodal_vlm_modelslim_v1)\n"
        "  --quant_type TYPE       pick the best practice from lab_practice/<family>/ instead of\n"
        "                          --config_path (w8a8, w8a16, w8a8s, ...); only an exact, verified\n"
        "                          match is used (no interactive fallback as in msModelSlim)\n"
        "  --tag TAG ...           scenario tags for --quant_type, e.g. vLLM_Ascend Atlas_A2_Inference\n"
        "  --device cpu            where to compute; this build runs on the CPU only\n"
        "  --trust_remote_code B   True or False; accepted for compatibility. vlmslim never runs\n"
        "                          code from a checkpoint, so the value changes nothing\n"
        "  --overwrite             replace an existing non-empty --save_path\n"
        "  --log_level LEVEL       debug, info (default), warning, error\n"
        "  --debug                 the same as --log_level debug\n"
        "  --quiet                 no progress lines (the same as --log_level warning)\n"
        "  --calib_inputs DIR      calibration samples for W8A8 static, iter_smooth and smooth_quant\n"
        "                          entries as model-input files DIR/sample_<i>.safetensors ('vlmslim\n"
        "                          inspect-inputs --dump'), instead of building them from spec.dataset\n"
        "  --propagate MODE        what each unit passes on during calibration: quantized (default:\n"
        "                          quantized weights, fake-quantized activations) or float\n"
        "  --compute MODE          how the Linears compute: fp32 (default, OpenBLAS sgemm) or bf16\n"
        "                          (oneDNN: inputs and weights rounded to bf16, float32 sums, as a\n"
        "                          bf16 model computes them; docs/compute.md)\n"
        "  --spill_budget_mb N     calibration activations kept in memory before spilling to\n"
        "                          $TMPDIR (default 4096)\n"
        "  --no_report             calibrated runs: no <save_path>.quant_report.json (saves the error\n"
        "                          measurement: the last unit's quantized pass and, with outlier\n"
        "                          processors, writing a unit's transformed weights out)\n"
        "  --report_stride N       the report's errors from every N-th row each Linear sees\n"
        "                          (default 4: a quarter of the extra float GEMMs; 1: every row)\n"
        "  --eval                  then run 'vlmslim eval' on the export: on the calibration samples\n"
        "                          (--calib_inputs, else spec.dataset), writing\n"
        "                          <save_path>.eval_report.json and .html\n"
        "  --eval_dataset D        the same on a held-out dataset D (implies --eval)\n"
        "  --help                  show this help\n"
        "\n"
        "examples:\n"
        "  vlmslim quant --model_path Qwen3-VL-30B-A3B-Instruct --save_path out/qwen3vl-w8a8 \\\n"
        "      --model_type Qwen3-VL-30B-A3B --config_path qwen3_vl_moe_w8a8.yaml --device cpu\n"
        "  vlmslim quant --model_path Qwen3-VL-32B-Instruct --save_path out/32b \\\n"
        "      --model_type Qwen3-VL-32B-Instruct --quant_type w8a8\n",
        stdout);
}

static volatile sig_atomic_t vs_interrupted;

static void on_signal(int sig)
{
    (void)sig;
    vs_interrupted = 1;
}

/* msModelSlim's parse_device_string: "type" or "type:i,j"; this build accepts cpu only. */
static enum vs_status check_device(const char *device)
{
    char buf[256];
    size_t n = strlen(device);
    while (n && isspace((unsigned char)device[n - 1]))
        n--;
    while (n && isspace((unsigned char)*device)) {
        device++;
        n--;
    }
    if (n == 0)
        return vs_error_set(VS_ERR_USAGE, "--device: device string cannot be empty");
    if (n >= sizeof buf)
        return vs_error_set(VS_ERR_USAGE, "--device: value is too long");
    memcpy(buf, device, n);
    buf[n] = '\0';
    char *colon = strchr(buf, ':');
    if (colon)
        *colon = '\0';
    if (strcmp(buf, "npu") == 0 || strcmp(buf, "cuda") == 0 || strcmp(buf, "gpu") == 0)
        return vs_error_set(VS_ERR_UNSUPPORTED, "--device %s: this build of vlmslim computes on the CPU only; use --device cpu", buf);
    if (strcmp(buf, "cpu") != 0)
        return vs_error_set(VS_ERR_USAGE, "--device: Invalid device type: '%s'. Supported device types: 'cpu'", buf);
    if (!colon)
        return VS_OK;
    size_t count = 0;
    for (char *tok = strtok(colon + 1, ","); tok; tok = strtok(NULL, ",")) {
        char *end;
        while (isspace((unsigned char)*tok))
            tok++;
        long v = strtol(tok, &end, 10);
        while (isspace((unsigned char)*end))
            end++;
        if (end == tok || *end)
            return vs_error_set(VS_ERR_USAGE, "--device: Invalid device indices format: '%s'", device);
        if (v < 0)
            return vs_error_set(VS_ERR_USAGE, "--device: device index %ld must be non-negative", v);
        count++;
    }
    if (count == 0)
        return vs_error_set(VS_ERR_USAGE, "--device: Device indices cannot be empty after parsing");
    if (count > 1)
        return vs_error_set(VS_ERR_USAGE, "--device: cpu accepts at most one device index");
    vs_warn("--device %s: device indices are ignored; vlmslim uses all CPU cores", device);
    return VS_OK;
}

/* label names the path in messages: "--save_path" or a saver's "spec.save[1].save_path". */
static enum vs_status check_save_path(const char *label, const char *save_path, const char *model_path, bool overwrite)
{
    if (vs_fs_exists(save_path)) {
        if (!vs_fs_is_dir(save_path))
            return vs_error_set(VS_ERR_USAGE, "%s %s: exists and is not a directory", label, save_path);
        if (!vs_fs_dir_is_empty(save_path) && !overwrite)
            return vs_error_set(VS_ERR_USAGE,
                                "%s %s: directory is not empty; choose another path or pass --overwrite", label,
                                save_path);
    }
    char *a = realpath(model_path, NULL), *b = realpath(save_path, NULL);
    bool same = a && b && strcmp(a, b) == 0;
    free(a);
    free(b);
    if (same)
        return vs_error_set(VS_ERR_USAGE, "%s %s: is the --model_path directory; choose another path", label, save_path);
    /* The export is assembled beside save_path, so its parent must exist. */
    char *parent = vs_path_dirname(save_path);
    enum vs_status st = parent ? vs_fs_mkdirs(parent, 0755) : VS_ERR_NOMEM;
    free(parent);
    return st == VS_OK ? VS_OK : vs_error_prefix(st, "%s %s", label, save_path);
}

/* --quant_type without --config_path: the best practice of the adapter's family. */
static enum vs_status select_practice(const struct vs_adapter_ops *ops, const char *model_type,
                                      const char *quant_type, const char **tags, size_t n_tags, char **path)
{
    struct vs_quant_type qt;
    enum vs_status st = vs_quant_type_parse(quant_type, &qt);
    if (st != VS_OK)
        return st;
    char *custom = getenv("MSMODELSLIM_CUSTOM_PRACTICE_REPO");
    bool has_custom = custom && *custom;
    char *builtin = NULL;
    const char *dirs[2];
    size_t n = 0;
    if (has_custom)
        dirs[n++] = custom;
    if (!has_custom) /* the built-in practices are then the only ones: an error names where they were looked for */
        st = vs_datadir_require("lab_practice", &builtin);
    else
        builtin = vs_datadir_find("lab_practice");
    if (builtin)
        dirs[n++] = builtin;
    if (st != VS_OK)
        st = vs_error_prefix(st, "--quant_type %s (or pass --config_path)", quant_type);
    else
        st = vs_practice_select(dirs, n, ops->pedigree, model_type, &qt, tags, n_tags, path);
    free(builtin);
    return st;
}

static void print_summary(const char *save_path, enum vs_proc_type saver, const struct vs_quant_summary *s)
{
    bool ct = saver == VS_PROC_COMPRESSED_TENSORS_SAVER; /* its metadata is config.json's quantization_config */
    char *json = vs_path_join(save_path, ct ? "config.json" : "quant_model_description.json");
    printf("vlmslim: wrote %s in %.2f s\n", save_path, s->seconds);
    size_t quantized = 0;
    for (int k = 0; k < VS_SCHEME_COUNT; k++)
        quantized += s->linears_quantized[k];
    printf("  units: %zu, Linear modules: %zu (W8A8 %zu, W8A8_DYNAMIC %zu, W8A16 %zu, float %zu)\n", s->units,
           s->linears_total, s->linears_quantized[VS_SCHEME_W8A8], s->linears_quantized[VS_SCHEME_W8A8_DYNAMIC],
           s->linears_quantized[VS_SCHEME_W8A16], s->linears_total - quantized);
    if (s->samples)
        printf("  calibrated on %zu sample(s)%s; report: %s\n", s->samples,
               s->experts_unrouted ? "; some W8A8 experts got no routed token (see the warnings)" : "",
               s->report_path ? s->report_path : "none");
    printf("  read %.1f MB of weights, wrote %.1f MB; %s: %s\n", (double)s->bytes_in / 1e6, (double)s->bytes_out / 1e6,
           ct ? "quantization_config" : "description", json ? json : "(out of memory)");
    printf("  largest unit %.1f MB (%.1f MB in float32), a calibrated unit held at most %.1f MB, carried activations at "
           "most %.1f MB, peak RSS %.1f MB\n", (double)s->largest_unit_bytes / 1e6, (double)s->largest_unit_f32_bytes / 1e6,
           (double)s->calibrated_unit_held_bytes / 1e6, (double)s->carried_peak_bytes / 1e6,
           (double)s->peak_rss_bytes / 1e6);
    printf("  time: samples %.2f s, float32 units %.2f s, forward %.2f s, quantize %.2f s, read + write %.2f s\n",
           s->seconds_samples, s->seconds_convert, s->seconds_forward, s->seconds_quantize, s->seconds_write);
    free(json);
}

int vs_cmd_quant(int argc, char **argv)
{
    const char *model_path = NULL, *save_path = NULL, *model_type = NULL, *config_path = NULL,
               *quant_type = NULL, *device = "cpu", *trust = NULL, *log_level = NULL, *calib_inputs = NULL,
               *propagate = NULL, *compute = NULL, *budget_mb = NULL, *report_stride = NULL, *eval_dataset = NULL;
    const char **tags = NULL;
    size_t n_tags = 0;
    bool help = false, overwrite = false, debug = false, quiet = false, no_report = false, do_eval = false;
    const struct vs_opt opts[] = {
        {"model_path", VS_OPT_VALUE, &model_path, NULL, NULL, NULL},
        {"save_path", VS_OPT_VALUE, &save_path, NULL, NULL, NULL},
        {"model_type", VS_OPT_VALUE, &model_type, NULL, NULL, NULL},
        {"config_path", VS_OPT_VALUE, &config_path, NULL, NULL, NULL},
        {"quant_type", VS_OPT_VALUE, &quant_type, NULL, NULL, NULL},
        {"device", VS_OPT_VALUE, &device, NULL, NULL, NULL},
        {"trust_remote_code", VS_OPT_VALUE, &trust, NULL, NULL, NULL},
        {"log_level", VS_OPT_VALUE, &log_level, NULL, NULL, NULL},
        {"calib_inputs", VS_OPT_VALUE, &calib_inputs, NULL, NULL, NULL},
        {"propagate", VS_OPT_VALUE, &propagate, NULL, NULL, NULL},
        {"compute", VS_OPT_VALUE, &compute, NULL, NULL, NULL},
        {"spill_budget_mb", VS_OPT_VALUE, &budget_mb, NULL, NULL, NULL},
        {"report_stride", VS_OPT_VALUE, &report_stride, NULL, NULL, NULL},
        {"tag", VS_OPT_LIST, NULL, NULL, &tags, &n_tags},
        {"overwrite", VS_OPT_FLAG, NULL, &overwrite, NULL, NULL},
        {"debug", VS_OPT_FLAG, NULL, &debug, NULL, NULL},
        {"quiet", VS_OPT_FLAG, NULL, &quiet, NULL, NULL},
        {"no_report", VS_OPT_FLAG, NULL, &no_report, NULL, NULL},
        {"eval", VS_OPT_FLAG, NULL, &do_eval, NULL, NULL},
        {"eval_dataset", VS_OPT_VALUE, &eval_dataset, NULL, NULL, NULL},
        {"help", VS_OPT_FLAG, NULL, &help, NULL, NULL},
    };
    struct vs_registry *reg = NULL;
    struct vs_quant_config *cfg = NULL;
    char *ini = NULL, *practice = NULL, *lab_calib = NULL;
    int rc;
    enum vs_status st = vs_args_parse(argc, argv, opts, sizeof opts / sizeof opts[0], "quant");
    if (st != VS_OK)
        goto out;
    if (help) {
        print_help();
        free(tags);
        return 0;
    }
    if (log_level && (st = vs_cli_set_log_level(log_level)) != VS_OK)
        goto out;
    if (quiet)
        vs_log_set_level(VS_LOG_WARN);
    if (debug)
        vs_log_set_level(VS_LOG_DEBUG);

    if ((st = check_device(device)) != VS_OK)
        goto out;
    if ((st = vs_cli_set_compute(compute)) != VS_OK)
        goto out;
    if (propagate && strcmp(propagate, "quantized") != 0 && strcmp(propagate, "float") != 0) {
        st = vs_error_set(VS_ERR_USAGE, "--propagate %s: expected quantized or float", propagate);
        goto out;
    }
    uint64_t budget = 4096ull << 20, stride = VS_REPORT_STRIDE_DEFAULT;
    if (budget_mb && (st = vs_args_megabytes("spill_budget_mb", budget_mb, &budget)) != VS_OK)
        goto out;
    if (report_stride && (st = vs_args_uint("report_stride", report_stride, 1, 1000000,
                                            "a whole number from 1 to 1000000", &stride)) != VS_OK)
        goto out;
    if (!model_path || !save_path) {
        st = vs_error_set(VS_ERR_USAGE, "--%s is required (see 'vlmslim quant --help')",
                          !model_path ? "model_path" : "save_path");
        goto out;
    }
    if ((st = vs_cli_check_dir("model_path", model_path)) != VS_OK)
        goto out;
    if ((st = check_save_path("--save_path", save_path, model_path, overwrite)) != VS_OK)
        goto out;
    if (config_path && quant_type) {
        st = vs_error_set(VS_ERR_USAGE, "--quant_type and --config_path: only one can be provided");
        goto out;
    }
    if (config_path && !vs_fs_is_file(config_path)) {
        st = vs_error_set(VS_ERR_USAGE, "--config_path %s: %s", config_path,
                          vs_fs_exists(config_path) ? "is not a regular file" : "does not exist");
        goto out;
    }
    if (!model_type) {
        st = vs_error_set(VS_ERR_USAGE, "--model_type is required (a display name from config/config.ini, e.g. Qwen3-VL-30B-A3B)");
        goto out;
    }
    if (trust && strcmp(trust, "True") != 0 && strcmp(trust, "False") != 0) {
        st = vs_error_set(VS_ERR_USAGE, "--trust_remote_code: expected True or False, got '%s'", trust);
        goto out;
    }

    if ((st = vs_datadir_require("config/config.ini", &ini)) != VS_OK)
        goto out;
    const struct vs_adapter_ops *ops;
    if ((st = vs_registry_load(ini, &reg)) != VS_OK || (st = vs_registry_resolve(reg, model_type, &ops)) != VS_OK)
        goto out;
    if (!config_path) {
        if ((st = select_practice(ops, model_type, quant_type ? quant_type : "w8a8", tags, n_tags, &practice)) != VS_OK)
            goto out;
        vs_info("using best practice %s", practice);
        config_path = practice;
    }
    if ((st = vs_quant_config_load(config_path, &cfg)) != VS_OK || (st = vs_quant_check_config(cfg)) != VS_OK)
        goto out;
    for (size_t i = 1; i < cfg->n_save; i++) { /* the savers after the first write to their save_path */
        char label[96];
        snprintf(label, sizeof label, "%s.save_path", cfg->save[i].path);
        const char *path = cfg->save[i].u.saver.save_path;
        char *a = realpath(path, NULL), *b = realpath(save_path, NULL);
        bool same = strcmp(path, save_path) == 0 || (a && b && strcmp(a, b) == 0);
        free(a);
        free(b);
        if (same) {
            st = vs_error_set(VS_ERR_USAGE, "%s %s: is --save_path too; give each saver its own directory", label, path);
            goto out;
        }
        if ((st = check_save_path(label, path, model_path, overwrite)) != VS_OK)
            goto out;
    }

    do_eval |= eval_dataset != NULL;
    if (do_eval && cfg->save[0].type != VS_PROC_ASCENDV1_SAVER && cfg->save[0].type != VS_PROC_COMPRESSED_TENSORS_SAVER) {
        st = vs_error_set(VS_ERR_USAGE, "--eval reads an ascendv1 or compressed-tensors export; %s (the one at "
                          "--save_path) is %s", cfg->save[0].path, vs_proc_type_name(cfg->save[0].type));
        goto out;
    }

    lab_calib = vs_datadir_lab_calib();
    struct vs_quant_options o = {
        .model_path = model_path,
        .save_path = save_path,
        .model_type = model_type,
        .adapter = ops,
        .config = cfg,
        .overwrite = overwrite,
        .interrupted = &vs_interrupted,
        .calib_inputs = calib_inputs,
        .lab_calib_dir = lab_calib,
        .no_report = no_report,
        .report_stride = (int64_t)stride,
        .propagate_float = propagate && strcmp(propagate, "float") == 0,
        .spill_budget = budget,
    };
    const char *part = getenv("VLMSLIM_PART_FILE_BYTES"); /* testing: shard size in bytes */
    if (part && *part)
        o.part_bytes_override = strtoull(part, NULL, 10);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct vs_quant_summary sum;
    if ((st = vs_quant_run(&o, &sum)) == VS_OK)
        print_summary(save_path, cfg->save[0].type, &sum);
    vs_quant_summary_free(&sum);
    if (st == VS_OK && do_eval) { /* the export against the float model, on the same or held-out samples */
        char where[600];
        snprintf(where, sizeof where, "spec.dataset of %s", config_path);
        struct vs_eval_options e = {
            .model_path = model_path, .quant_path = save_path, .model_type = model_type, .adapter = ops,
            .inputs = eval_dataset ? NULL : calib_inputs, .dataset = eval_dataset ? eval_dataset : cfg->dataset,
            .default_text = cfg->default_text, .lab_calib_dir = lab_calib,
            .dataset_where = eval_dataset ? "--eval_dataset" : where, .spill_budget = budget,
            .interrupted = &vs_interrupted,
        };
        st = vs_cli_eval_and_report(&e, NULL, NULL);
    }
out:
    rc = st == VS_OK ? 0 : vs_cli_fail(st);
    vs_quant_config_free(cfg);
    vs_registry_free(reg);
    free(ini);
    free(practice);
    free(lab_calib);
    free(tags);
    return rc;
}
