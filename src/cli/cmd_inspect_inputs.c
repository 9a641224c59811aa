/* `vlmslim inspect-inputs`: the calibration samples as the model will see them, so a user can
 * check a dataset before a long run; --dump writes each sample's model inputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "base/staging.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/datadir.h"
#include "config/quant_config.h"
#include "data/dataset.h"
#include "inputs/model_inputs.h"

static void print_help(void)
{
    fputs("usage: vlmslim inspect-inputs --model_path DIR (--config_path FILE.yaml | --dataset D\n"
          "                              [--default_text TEXT]) [--dump DIR] [--log_level LEVEL]\n"
          "\n"
          "Builds the model inputs of every calibration sample with the checkpoint's own tokenizer,\n"
          "chat template and image processor, and prints per sample the image, its size before and\n"
          "after resizing, the patch grid, the token count and the rendered prompt (image pads\n"
          "collapsed). Nothing is computed with the model.\n"
          "\n"
          "options:\n"
          "  --model_path DIR     the checkpoint (tokenizer.json, chat template, preprocessor_config.json)\n"
          "  --config_path FILE   take the dataset and default text from the config's spec.dataset\n"
          "                       and spec.default_text\n"
          "  --dataset D          an image folder, a folder or json/jsonl file of prompts, or an\n"
          "                       index.json(l); a short name is looked up in the current directory,\n"
          "                       then in lab_calib/ ($VLMSLIM_LAB_CALIB_DIR overrides where that is)\n"
          "  --default_text TEXT  the prompt of images without one (default: \"Describe this image in\n"
          "                       detail.\")\n"
          "  --dump DIR           write DIR/sample_<i>.safetensors (input_ids, attention_mask,\n"
          "                       pixel_values, image_grid_thw) in dataset order; DIR must be absent\n"
          "                       or empty, and appears only when every sample was written\n"
          "  --log_level LEVEL    debug, info (default), warning, error\n"
          "\n"
          "example:\n"
          "  vlmslim inspect-inputs --model_path Qwen3-VL-8B-Instruct --dataset calibImages --dump inputs/\n",
          stdout);
}

/* The prompt on one line: control characters escaped, the image pad shown once. */
static void print_prompt(const char *p)
{
    fputs("  prompt: ", stdout);
    for (; *p; p++) {
        if (*p == '\n')
            fputs("\\n", stdout);
        else if (*p == '\t')
            fputs("\\t", stdout);
        else if (*p == '\r')
            fputs("\\r", stdout);
        else
            putchar(*p);
    }
    putchar('\n');
}

static void print_sample(size_t i, const struct vs_calib_sample *s, const struct vs_model_inputs *in,
                         const struct vs_inputs_info *info)
{
    printf("sample %zu: %s\n", i, s->image ? s->image : "(no image)");
    if (in->n_images) {
        const int64_t *g = in->image_grid_thw[0];
        printf("  image %dx%d -> %dx%d, grid %lldx%lldx%lld, %lld %s\n", info->image_width, info->image_height,
               info->resized_width, info->resized_height, (long long)g[0], (long long)g[1], (long long)g[2],
               (long long)in->n_patches, info->rows ? info->rows : "patches");
    }
    printf("  tokens: %lld\n", (long long)in->n_tokens);
    print_prompt(info->prompt);
}

static enum vs_status check_dump_dir(const char *dir)
{
    if (!vs_fs_exists(dir))
        return VS_OK;
    if (!vs_fs_is_dir(dir))
        return vs_error_set(VS_ERR_USAGE, "--dump %s: exists and is not a directory", dir);
    if (!vs_fs_dir_is_empty(dir))
        return vs_error_set(VS_ERR_USAGE, "--dump %s: directory is not empty; choose another path", dir);
    return VS_OK;
}

static enum vs_status inspect(const char *model_path, const struct vs_dataset *ds, const char *dump)
{
    struct vs_inputs_builder *b;
    enum vs_status st = vs_inputs_builder_open(model_path, &b);
    if (st != VS_OK)
        return st;
    struct vs_staging *staging = NULL;
    if (dump) { /* written beside it, renamed into place when every sample is there */
        char *parent = vs_path_dirname(dump), *label = vs_strfmt("--dump %s", dump);
        st = parent && label ? vs_fs_mkdirs(parent, 0755) : VS_ERR_NOMEM;
        if (st == VS_OK)
            st = vs_staging_open(dump, label, &staging);
        free(parent);
        free(label);
    }
    for (size_t i = 0; i < ds->count && st == VS_OK; i++) {
        struct vs_model_inputs in;
        struct vs_inputs_info info;
        if ((st = vs_inputs_build(b, &ds->samples[i], &in, &info)) != VS_OK) {
            st = vs_error_prefix(st, "sample %zu", i);
            break;
        }
        print_sample(i, &ds->samples[i], &in, &info);
        if (staging) {
            char *name = vs_strfmt("sample_%zu.safetensors", i);
            char *path = name ? vs_path_join(vs_staging_dir(staging), name) : NULL;
            st = path ? vs_model_inputs_write(&in, path) : VS_ERR_NOMEM;
            free(name);
            free(path);
        }
        vs_model_inputs_free(&in);
        free(info.prompt);
    }
    if (staging && st == VS_OK && (st = vs_staging_publish(staging)) == VS_OK) /* dump: absent or empty */
        printf("wrote %zu sample file(s) to %s\n", ds->count, dump);
    vs_staging_close(staging); /* removed unless published */
    vs_inputs_builder_close(b);
    return st;
}

int vs_cmd_inspect_inputs(int argc, char **argv)
{
    const char *model_path = NULL, *config_path = NULL, *dataset = NULL, *default_text = NULL, *dump = NULL,
               *log_level = NULL;
    bool help = false;
    const struct vs_opt opts[] = {
        {"model_path", VS_OPT_VALUE, &model_path, NULL, NULL, NULL},
        {"config_path", VS_OPT_VALUE, &config_path, NULL, NULL, NULL},
        {"dataset", VS_OPT_VALUE, &dataset, NULL, NULL, NULL},
        {"default_text", VS_OPT_VALUE, &default_text, NULL, NULL, NULL},
        {"dump", VS_OPT_VALUE, &dump, NULL, NULL, NULL},
        {"log_level", VS_OPT_VALUE, &log_level, NULL, NULL, NULL},
        {"help", VS_OPT_FLAG, NULL, &help, NULL, NULL},
    };
    struct vs_quant_config *cfg = NULL;
    struct vs_dataset *ds = NULL;
    char *lab = NULL, *path = NULL;
    enum vs_status st = vs_args_parse(argc, argv, opts, sizeof opts / sizeof opts[0], "inspect-inputs");
    if (st == VS_OK && help) {
        print_help();
        return 0;
    }
    if (st == VS_OK && log_level)
        st = vs_cli_set_log_level(log_level);
    if (st == VS_OK && !model_path)
        st = vs_error_set(VS_ERR_USAGE, "--model_path is required (see 'vlmslim inspect-inputs --help')");
    if (st == VS_OK)
        st = vs_cli_check_dir("model_path", model_path);
    if (st == VS_OK && !!config_path == !!dataset)
        st = vs_error_set(VS_ERR_USAGE, "give one of --config_path and --dataset");
    if (st == VS_OK && config_path && default_text)
        st = vs_error_set(VS_ERR_USAGE, "--default_text goes with --dataset (a config has spec.default_text)");
    if (st == VS_OK && dump)
        st = check_dump_dir(dump);
    if (st == VS_OK && config_path && (st = vs_quant_config_load(config_path, &cfg)) == VS_OK) {
        dataset = cfg->dataset;
        default_text = cfg->default_text;
    }
    if (st == VS_OK) {
        lab = vs_datadir_lab_calib();
        st = vs_dataset_resolve_path(dataset, lab, &path);
    }
    if (st == VS_OK)
        st = vs_dataset_load(path, default_text ? default_text : VS_DEFAULT_TEXT, &ds);
    if (st == VS_OK && ds->count == 0)
        st = vs_error_set(VS_ERR_DATASET, "%s: no calibration samples", path);
    if (st == VS_OK)
        st = inspect(model_path, ds, dump);
    int rc = st == VS_OK ? 0 : vs_cli_fail(st);
    vs_dataset_free(ds);
    vs_quant_config_free(cfg);
    free(lab);
    free(path);
    return rc;
}
