/* `vlmslim forward`: the float model over calibration samples, layer by layer, with every
 * sample's image features, text-layer outputs and last-position logits dumped, and the top-5
 * next tokens printed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "base/log.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "config/quant_config.h"
#include "cli/datadir.h"
#include "io/safetensors.h"
#include "model/registry.h"
#include "runner/layerwise.h"
#include "runner/samples.h"
#include "text/tokenizer.h"

static void print_help(void)
{
    fputs("usage: vlmslim forward --model_path DIR --model_type NAME\n"
          "                       (--dataset D [--default_text T] | --inputs DIR) --dump DIR\n"
          "                       [--spill_budget_mb N] [--compute fp32|bf16] [--log_level LEVEL] [--quiet]\n"
          "\n"
          "Runs the float model layer by layer over the samples and writes DIR/sample_<i>.safetensors\n"
          "with `logits` (F32 [vocab], last position), `hidden.visual` (merged image features) and\n"
          "`hidden.layer_<n>` (each text layer's output); prints the top-5 next tokens per sample.\n"
          "\n"
          "options:\n"
          "  --model_path DIR       the float checkpoint\n"
          "  --model_type NAME      a display name registered in config/config.ini\n"
          "  --dataset D            calibration samples (an image folder, a folder or json/jsonl file of\n"
          "                         prompts, or an index.json(l)), found as D, then in lab_calib/), each\n"
          "                         built with the checkpoint's chat template, tokenizer and image processor\n"
          "  --default_text T       the text of samples without one (default: Describe this image in detail.)\n"
          "  --inputs DIR           instead of --dataset: model-input files sample_0.safetensors, ...\n"
          "                         (input_ids, attention_mask, pixel_values, image_grid_thw)\n"
          "  --dump DIR             where the outputs go (created if absent)\n"
          "  --spill_budget_mb N    activations kept in memory before spilling to $TMPDIR (default 4096)\n"
          "  --compute MODE         the Linears in fp32 (default) or bf16 (docs/compute.md)\n"
          "  --log_level LEVEL      debug, info (default), warning, error\n"
          "  --quiet                no progress lines (the same as --log_level warning)\n",
          stdout);
}

struct dump {
    const struct vs_adapter_ops *ops;
    struct vs_st_writer **w; /* one per sample */
};

static enum vs_status dump_output(void *ctx, size_t i, size_t j, const struct vs_sample *s)
{
    struct dump *d = ctx;
    const float *data;
    int64_t shape[2];
    d->ops->sample_output(s, &data, &shape[0], &shape[1]);
    char name[64];
    if (i == 0)
        snprintf(name, sizeof name, "hidden.visual");
    else
        snprintf(name, sizeof name, "hidden.layer_%zu", i - 1);
    static const float none = 0;
    return vs_st_writer_add(d->w[j], name, VS_DTYPE_F32, 2, shape, shape[0] ? data : &none,
                            (size_t)(shape[0] * shape[1]) * sizeof(float));
}

/* A token's text for printing: control bytes and quotes escaped. */
static void print_token(const struct vs_tokenizer *tok, int32_t id)
{
    char *text = NULL;
    size_t len = 0;
    if (!tok || vs_tokenizer_decode(tok, &id, 1, &text, &len) != VS_OK) {
        printf("%d", id);
        free(text);
        return;
    }
    printf("%d \"", id);
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)text[k];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    putchar('"');
    free(text);
}

static void print_top5(const struct vs_tokenizer *tok, size_t j, const float *logits, int64_t n)
{
    int32_t best[5];
    int k = 0;
    for (; k < 5 && k < n; k++) { /* highest first, lower id among equals */
        int32_t b = -1;
        for (int64_t v = 0; v < n; v++) {
            bool taken = false;
            for (int q = 0; q < k; q++)
                taken |= best[q] == v;
            if (!taken && (b < 0 || logits[v] > logits[b]))
                b = (int32_t)v;
        }
        best[k] = b;
    }
    printf("sample %zu: next tokens:", j);
    for (int q = 0; q < k; q++) {
        printf(q ? ", " : " ");
        print_token(tok, best[q]);
        printf(" (%.4f)", logits[best[q]]);
    }
    putchar('\n');
}

static enum vs_status add_dataset(struct vs_layerwise *lw, const char *model_path, const char *dataset,
                                  const char *default_text, size_t *n)
{
    char *lab = vs_datadir_lab_calib();
    enum vs_status st = vs_samples_add_dataset(lw, model_path, dataset, default_text, lab, false, "--dataset", n, NULL);
    free(lab);
    return st;
}

static enum vs_status run(const struct vs_adapter_ops *ops, const char *model_path, const char *model_type,
                          const char *dataset, const char *default_text, const char *inputs, const char *dump_dir,
                          uint64_t budget)
{
    struct vs_model *m = NULL;
    struct vs_layerwise *lw = NULL;
    struct vs_tokenizer *tok = NULL;
    struct dump d = {.ops = ops};
    size_t n = 0;
    char *tok_path = vs_path_join(model_path, "tokenizer.json");
    enum vs_status st = tok_path ? ops->open(model_path, model_type, &m) : VS_ERR_NOMEM;
    if (st == VS_OK)
        st = vs_layerwise_open(ops, m, budget, NULL, &lw);
    if (st == VS_OK)
        st = inputs ? vs_samples_add_files(lw, inputs, "--inputs", &n)
                    : add_dataset(lw, model_path, dataset, default_text, &n);
    if (st == VS_OK && (st = vs_fs_mkdirs(dump_dir, 0755)) != VS_OK)
        st = vs_error_prefix(st, "--dump %s", dump_dir);
    if (st == VS_OK && !(d.w = vs_calloc(n, sizeof *d.w)))
        st = VS_ERR_NOMEM;
    for (size_t j = 0; j < n && st == VS_OK; j++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "sample_%zu", j);
        st = vs_st_writer_open(dump_dir, prefix, 0, 0644, &d.w[j]);
    }
    if (st == VS_OK) {
        vs_info("forward: %zu sample(s), %zu units", n, ops->unit_count(m));
        st = vs_layerwise_forward_all(lw, dump_output, &d);
    }
    if (st == VS_OK && vs_fs_is_file(tok_path) && vs_tokenizer_open(tok_path, &tok) != VS_OK) {
        vs_warn("%s; printing token ids only", vs_error_message());
        tok = NULL;
    }
    for (size_t j = 0; j < n && st == VS_OK; j++) {
        float *logits = NULL;
        int64_t vocab = 0;
        if ((st = vs_layerwise_logits(lw, j, &logits, &vocab)) != VS_OK)
            break;
        int64_t shape[1] = {vocab};
        st = vs_st_writer_add(d.w[j], "logits", VS_DTYPE_F32, 1, shape, logits, (size_t)vocab * sizeof *logits);
        if (st == VS_OK)
            st = vs_st_writer_close(d.w[j]);
        d.w[j] = NULL;
        if (st == VS_OK)
            print_top5(tok, j, logits, vocab);
        free(logits);
    }
    if (st == VS_OK)
        printf("vlmslim: wrote %zu sample file(s) to %s\n", n, dump_dir);
    for (size_t j = 0; d.w && j < n; j++)
        if (d.w[j])
            vs_st_writer_abort(d.w[j]);
    free(d.w);
    vs_tokenizer_close(tok);
    vs_layerwise_close(lw);
    if (m)
        ops->close(m);
    free(tok_path);
    return st;
}

int vs_cmd_forward(int argc, char **argv)
{
    const char *model_path = NULL, *model_type = NULL, *inputs = NULL, *dump = NULL, *budget_mb = NULL,
               *log_level = NULL, *dataset = NULL, *default_text = NULL, *compute = NULL;
    bool help = false, quiet = false;
    const struct vs_opt opts[] = {
        {"model_path", VS_OPT_VALUE, &model_path, NULL, NULL, NULL},
        {"model_type", VS_OPT_VALUE, &model_type, NULL, NULL, NULL},
        {"inputs", VS_OPT_VALUE, &inputs, NULL, NULL, NULL},
        {"dataset", VS_OPT_VALUE, &dataset, NULL, NULL, NULL},
        {"default_text", VS_OPT_VALUE, &default_text, NULL, NULL, NULL},
        {"dump", VS_OPT_VALUE, &dump, NULL, NULL, NULL},
        {"spill_budget_mb", VS_OPT_VALUE, &budget_mb, NULL, NULL, NULL},
        {"compute", VS_OPT_VALUE, &compute, NULL, NULL, NULL},
        {"log_level", VS_OPT_VALUE, &log_level, NULL, NULL, NULL},
        {"quiet", VS_OPT_FLAG, NULL, &quiet, NULL, NULL},
        {"help", VS_OPT_FLAG, NULL, &help, NULL, NULL},
    };
    struct vs_registry *reg = NULL;
    char *ini = NULL;
    const struct vs_adapter_ops *ops = NULL;
    uint64_t budget = 4096ull << 20;
    enum vs_status st = vs_args_parse(argc, argv, opts, sizeof opts / sizeof opts[0], "forward");
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
    const char *missing = !model_path ? "model_path" : !model_type ? "model_type" : !dump ? "dump" : NULL;
    if (st == VS_OK && missing)
        st = vs_error_set(VS_ERR_USAGE, "--%s is required (see 'vlmslim forward --help')", missing);
    if (st == VS_OK && !!inputs == !!dataset)
        st = vs_error_set(VS_ERR_USAGE, "give one of --dataset and --inputs (see 'vlmslim forward --help')");
    if (st == VS_OK && inputs && default_text)
        st = vs_error_set(VS_ERR_USAGE, "--default_text goes with --dataset");
    if (st == VS_OK && budget_mb)
        st = vs_args_megabytes("spill_budget_mb", budget_mb, &budget);
    if (st == VS_OK)
        st = vs_cli_check_dir("model_path", model_path);
    if (st == VS_OK)
        st = vs_datadir_require("config/config.ini", &ini);
    if (st == VS_OK && (st = vs_registry_load(ini, &reg)) == VS_OK)
        st = vs_registry_resolve(reg, model_type, &ops);
    if (st == VS_OK)
        st = run(ops, model_path, model_type, dataset, default_text ? default_text : VS_DEFAULT_TEXT,
                 inputs, dump, budget);
    int rc = st == VS_OK ? 0 : vs_cli_fail(st);
    vs_registry_free(reg);
    free(ini);
    return rc;
}
