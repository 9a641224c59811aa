#include "runner/samples.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/fs.h"
#include "data/dataset.h"
#include "inputs/model_inputs.h"

static enum vs_status add_to_layerwise(void *ctx, const struct vs_model_inputs *in)
{
    return vs_layerwise_add_sample(ctx, in);
}

enum vs_status vs_samples_add_files(struct vs_layerwise *lw, const char *dir, const char *flag, size_t *count)
{
    return vs_samples_each_file(dir, flag, add_to_layerwise, lw, count);
}

enum vs_status vs_samples_add_dataset(struct vs_layerwise *lw, const char *model_path, const char *name,
                                      const char *default_text, const char *lab_calib_dir, bool require_image_text,
                                      const char *where, size_t *count, char **path_out)
{
    return vs_samples_each_dataset(model_path, name, default_text, lab_calib_dir, require_image_text, where,
                                   add_to_layerwise, lw, count, path_out);
}

enum vs_status vs_samples_each_file(const char *dir, const char *flag, vs_samples_sink sink, void *ctx, size_t *count)
{
    *count = 0;
    if (!vs_fs_is_dir(dir))
        return vs_error_set(VS_ERR_USAGE, "%s %s: %s", flag, dir, vs_fs_exists(dir) ? "is not a directory" : "does not exist");
    for (;;) {
        char name[64];
        snprintf(name, sizeof name, "sample_%zu.safetensors", *count);
        char *path = vs_path_join(dir, name);
        if (!path)
            return VS_ERR_NOMEM;
        if (!vs_fs_exists(path)) {
            free(path);
            break;
        }
        struct vs_model_inputs in;
        enum vs_status st = vs_model_inputs_read(path, &in);
        if (st == VS_OK) {
            if ((st = sink(ctx, &in)) != VS_OK)
                st = vs_error_prefix(st, "%s", path);
            vs_model_inputs_free(&in);
        }
        free(path);
        if (st != VS_OK)
            return st;
        (*count)++;
    }
    if (*count == 0)
        return vs_error_set(VS_ERR_DATASET, "%s %s: holds no sample_0.safetensors", flag, dir);
    return VS_OK;
}

enum vs_status vs_samples_each_dataset(const char *model_path, const char *name, const char *default_text,
                                       const char *lab_calib_dir, bool require_image_text, const char *where,
                                       vs_samples_sink sink, void *ctx, size_t *count, char **path_out)
{
    char *path = NULL;
    struct vs_dataset *ds = NULL;
    struct vs_inputs_builder *b = NULL;
    size_t bad;
    *count = 0;
    enum vs_status st = vs_dataset_resolve_path(name, lab_calib_dir, &path);
    if (st != VS_OK) {
        st = vs_error_prefix(st, "%s", where);
        goto done;
    }
    if ((st = vs_dataset_load(path, default_text, &ds)) != VS_OK)
        goto done;
    if (ds->count == 0) {
        st = vs_error_set(VS_ERR_DATASET, "%s: no calibration samples", path);
        goto done;
    }
    if (require_image_text && !vs_dataset_has_image_text(ds, &bad)) {
        st = vs_error_set(VS_ERR_DATASET, "%s: sample %zu (%s) lacks %s; the Qwen3-VL adapters calibrate on image and "
                          "text samples only", path, bad, ds->samples[bad].image ? ds->samples[bad].image : "no image",
                          ds->samples[bad].image ? "a text" : "an image");
        goto done;
    }
    if ((st = vs_inputs_builder_open(model_path, &b)) != VS_OK)
        goto done;
    for (size_t i = 0; i < ds->count && st == VS_OK; i++) {
        struct vs_model_inputs in;
        if ((st = vs_inputs_build(b, &ds->samples[i], &in, NULL)) != VS_OK) {
            st = vs_error_prefix(st, "%s: sample %zu", path, i);
            break;
        }
        if ((st = sink(ctx, &in)) != VS_OK)
            st = vs_error_prefix(st, "%s: sample %zu", path, i);
        vs_model_inputs_free(&in);
    }
    if (st == VS_OK)
        *count = ds->count;
done:
    vs_inputs_builder_close(b);
    vs_dataset_free(ds);
    if (st == VS_OK && path_out)
        *path_out = path;
    else
        free(path);
    return st;
}
