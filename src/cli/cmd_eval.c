/* `vlmslim eval`: is the quantized model still good? The float checkpoint and its export run
 * side by side over samples; the report says how far apart they are and where the error enters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "base/log.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/datadir.h"
#include "config/quant_config.h"
#include "eval/eval_report.h"
#include "eval/eval_run.h"
#include "model/registry.h"

static void print_help(void)
{
    fputs("usage: vlmslim eval --model_path DIR --quant_path DIR [--model_type NAME]\n"
          "                    (--dataset D [--default_text T] | --calib_inputs DIR | --config_path C.yaml)\n"
          "                    [--max_new_tokens N] [--report FILE.json] [--quant_report FILE]\n"
          "                    [--spill_budget_mb N] [--compute fp32|bf16]\n"
          "                    [--log_level LEVEL] [--quiet]\n"
          "\n"
          "Runs the float model and the quantized model read back from an export (ascendv1 or\n"
          "compressed-tensors: its int8 weights, scales and offsets computed with the inference\n"
          "kernels' integer arithmetic) layer by layer over the samples, and reports how far apart\n"
          "they are: the KL divergence of the next-token distributions at every text position (mean,\n"
          "median, p99, p99.9, max), top-1 agreement, logits cosine, and after every unit the hidden\n"
          "states' cosine and relative error.\n"
          "Writes FILE.json and a self-contained FILE.html (default <quant_path>.eval_report.json / .html).\n"
          "\n"
          "options:\n"
          "  --model_path DIR       the float checkpoint the export was made from\n"
          "  --quant_path DIR       the export (vlmslim quant's or msModelSlim's --save_path)\n"
          "  --model_type NAME      a display name registered in config/config.ini (default: from the\n"
          "                         export's <model_type>_best_practice.yaml)\n"
          "  --dataset D            samples: an image folder, a folder or json/jsonl file of prompts, or an\n"
          "                         index.json(l), found as D, then in lab_calib/\n"
          "  --default_text T       the text of samples without one (default: Describe this image in detail.)\n"
          "  --calib_inputs DIR     samples as model-input files sample_0.safetensors, ...\n"
          "  --config_path C.yaml   samples: the config's spec.dataset and default_text\n"
          "  --max_new_tokens N     also continue each prompt greedily by both models, up to N tokens,\n"
          "                         and show the continuations side by side (every token recomputes the\n"
          "                         sequence layer by layer: N full passes per model)\n"
          "  --report FILE.json     where the report goes (FILE.html beside it)\n"
          "  --quant_report FILE    the calibration's quant_report.json, for the worst Linears (default:\n"
          "                         <quant_path>.quant_report.json when it exists)\n"
          "  --spill_budget_mb N    activations kept in memory before spilling to $TMPDIR (default 4096)\n"
          "  --compute MODE         fp32 (default) or bf16: both models' float Linears, and the quantized\n"
          "                         Linears' inputs, as a bf16 engine computes them (docs/compute.md)\n"
          "  --log_level LEVEL      debug, info (default), warning, error\n"
          "  --quiet                no progress lines (the same as --log_level warning)\n",
          stdout);
}

/* <dir>.<suffix> for an output beside a directory (trailing slashes dropped). */
static char *beside(const char *dir, const char *suffix)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    char *out = NULL;
    return asprintf(&out, "%.*s%s", (int)n, dir, suffix) < 0 ? NULL : out;
}

/* The model type of an export: the prefix of its single *_best_practice.yaml. */
static enum vs_status model_type_of(const char *quant_path, char **out)
{
    char **names = NULL;
    size_t n = 0, found = 0;
    *out = NULL;
    enum vs_status st = vs_fs_list_dir(quant_path, &names, &n);
    static const char suffix[] = "_best_practice.yaml";
    for (size_t i = 0; i < n && st == VS_OK; i++) {
        size_t len = strlen(names[i]);
        if (len > sizeof suffix - 1 && !strcmp(names[i] + len - (sizeof suffix - 1), suffix)) {
            found++;
            free(*out);
            if (!(*out = vs_strndup(names[i], len - (sizeof suffix - 1))))
                st = VS_ERR_NOMEM;
        }
    }
    vs_fs_free_names(names, n);
    if (st == VS_OK && found != 1)
        st = vs_error_set(VS_ERR_USAGE, "--model_type is required: %s holds %s *_best_practice.yaml to take it from",
                          quant_path, found ? "more than one" : "no");
    if (st != VS_OK) {
        free(*out);
        *out = NULL;
    }
    return st;
}

static void print_result(const struct vs_eval_result *r, const char *json_path, const char *html_path)
{
    printf("vlmslim: eval: %s (%zu sample(s), %lld text positions, %.1f s)\n", vs_eval_verdict(r), r->n_samples,
           (long long)r->positions, r->seconds);
    printf("  KL divergence: mean %.6g, median %.6g, p99 %.6g, p99.9 %.6g, max %.6g\n", r->kl_mean, r->kl_median,
           r->kl_p99, r->kl_p999, r->kl_max);
    printf("  top-1 agreement %.2f%%, logits cosine mean %.6f\n", 100 * r->top1, r->cosine_mean);
    printf("  report: %s, %s\n", json_path, html_path);
}

enum vs_status vs_cli_eval_and_report(const struct vs_eval_options *o, const char *report, const char *quant_report)
{
    char *json_path = report ? vs_strdup(report) : beside(o->quant_path, ".eval_report.json"), *html_path = NULL;
    char *qr = quant_report ? NULL : beside(o->quant_path, ".quant_report.json");
    enum vs_status st = json_path && (quant_report || qr) ? VS_OK : VS_ERR_NOMEM;
    if (st == VS_OK) {
        size_t n = strlen(json_path);
        bool ext = n > 5 && !strcmp(json_path + n - 5, ".json");
        if (asprintf(&html_path, "%.*s.html", (int)(ext ? n - 5 : n), json_path) < 0)
            html_path = NULL, st = VS_ERR_NOMEM;
    }
    if (st == VS_OK && !quant_report && vs_fs_is_file(qr))
        quant_report = qr;
    struct vs_eval_result res = {0};
    if (st == VS_OK)
        st = vs_eval_run(o, &res);
    if (st == VS_OK) {
        struct vs_eval_report_info info = {.model_path = o->model_path, .quant_path = o->quant_path,
                                           .model_type = o->model_type, .quant_report_path = quant_report};
        st = vs_eval_report_write(&res, &info, json_path, html_path);
    }
    if (st == VS_OK)
        print_result(&res, json_path, html_path);
    vs_eval_result_free(&res);
    free(json_path), free(html_path), free(qr);
    return st;
}

int vs_cmd_eval(int argc, char **argv)
{
    const char *model_path = NULL, *quant_path = NULL, *model_type = NULL, *dataset = NULL, *default_text = NULL,
               *inputs = NULL, *config_path = NULL, *report = NULL, *quant_report = NULL, *budget_mb = NULL,
               *log_level = NULL, *max_new = NULL, *compute = NULL;
    bool help = false, quiet = false;
    const struct vs_opt opts[] = {
        {"model_path", VS_OPT_VALUE, &model_path, NULL, NULL, NULL},
        {"quant_path", VS_OPT_VALUE, &quant_path, NULL, NULL, NULL},
        {"model_type", VS_OPT_VALUE, &model_type, NULL, NULL, NULL},
        {"dataset", VS_OPT_VALUE, &dataset, NULL, NULL, NULL},
        {"default_text", VS_OPT_VALUE, &default_text, NULL, NULL, NULL},
        {"calib_inputs", VS_OPT_VALUE, &inputs, NULL, NULL, NULL},
        {"config_path", VS_OPT_VALUE, &config_path, NULL, NULL, NULL},
        {"report", VS_OPT_VALUE, &report, NULL, NULL, NULL},
        {"max_new_tokens", VS_OPT_VALUE, &max_new, NULL, NULL, NULL},
        {"quant_report", VS_OPT_VALUE, &quant_report, NULL, NULL, NULL},
        {"spill_budget_mb", VS_OPT_VALUE, &budget_mb, NULL, NULL, NULL},
        {"log_level", VS_OPT_VALUE, &log_level, NULL, NULL, NULL},
        {"compute", VS_OPT_VALUE, &compute, NULL, NULL, NULL},
        {"quiet", VS_OPT_FLAG, NULL, &quiet, NULL, NULL},
        {"help", VS_OPT_FLAG, NULL, &help, NULL, NULL},
    };
    struct vs_registry *reg = NULL;
    struct vs_quant_config *cfg = NULL;
    char *ini = NULL, *lab = NULL, *type = NULL;
    const struct vs_adapter_ops *ops = NULL;
    uint64_t budget = 4096ull << 20;
    enum vs_status st = vs_args_parse(argc, argv, opts, sizeof opts / sizeof opts[0], "eval");
    if (st == VS_OK && help) {
        print_help();
        return 0;
    }
    if (st == VS_OK && quiet)
        vs_log_set_level(VS_LOG_WARN);
    if (st == VS_OK && log_level)
        st = vs_cli_set_log_level(log_level);
    if (st == VS_OK)
        st = vs_cli_set_compute(compute);
    const char *missing = !model_path ? "model_path" : !quant_path ? "quant_path" : NULL;
    if (st == VS_OK && missing)
        st = vs_error_set(VS_ERR_USAGE, "--%s is required (see 'vlmslim eval --help')", missing);
    if (st == VS_OK && (!!inputs + !!dataset + !!config_path) != 1)
        st = vs_error_set(VS_ERR_USAGE, "give one of --dataset, --calib_inputs and --config_path (see 'vlmslim eval "
                          "--help')");
    if (st == VS_OK && default_text && !dataset)
        st = vs_error_set(VS_ERR_USAGE, "--default_text goes with --dataset");
    if (st == VS_OK && budget_mb)
        st = vs_args_megabytes("spill_budget_mb", budget_mb, &budget);
    uint64_t new_tokens = 0;
    if (st == VS_OK && max_new)
        st = vs_args_uint("max_new_tokens", max_new, 0, 4096, "a whole number from 0 to 4096", &new_tokens);
    if (st == VS_OK)
        st = vs_cli_check_dir("model_path", model_path);
    if (st == VS_OK)
        st = vs_cli_check_dir("quant_path", quant_path);
    if (st == VS_OK && quant_report && !vs_fs_is_file(quant_report))
        st = vs_error_set(VS_ERR_USAGE, "--quant_report %s: %s", quant_report,
                          vs_fs_exists(quant_report) ? "is not a regular file" : "does not exist");
    if (st == VS_OK && config_path) {
        if (!vs_fs_is_file(config_path))
            st = vs_error_set(VS_ERR_USAGE, "--config_path %s: %s", config_path,
                              vs_fs_exists(config_path) ? "is not a regular file" : "does not exist");
        else
            st = vs_quant_config_load(config_path, &cfg);
    }
    if (st == VS_OK && !model_type && (st = model_type_of(quant_path, &type)) == VS_OK)
        model_type = type;
    if (st == VS_OK)
        st = vs_datadir_require("config/config.ini", &ini);
    if (st == VS_OK && (st = vs_registry_load(ini, &reg)) == VS_OK)
        st = vs_registry_resolve(reg, model_type, &ops);
    if (st == VS_OK) {
        lab = vs_datadir_lab_calib();
        char where[600];
        snprintf(where, sizeof where, "spec.dataset of %s", config_path ? config_path : "");
        struct vs_eval_options o = {
            .model_path = model_path, .quant_path = quant_path, .model_type = model_type, .adapter = ops,
            .inputs = inputs, .dataset = cfg ? cfg->dataset : dataset,
            .default_text = cfg ? cfg->default_text : default_text ? default_text : VS_DEFAULT_TEXT,
            .lab_calib_dir = lab, .dataset_where = cfg ? where : "--dataset", .spill_budget = budget,
            .max_new_tokens = (int64_t)new_tokens,
        };
        st = vs_cli_eval_and_report(&o, report, quant_report);
    }
    int rc = st == VS_OK ? 0 : vs_cli_fail(st);
    vs_quant_config_free(cfg);
    vs_registry_free(reg);
    free(ini), free(lab), free(type);
    return rc;
}
