/* The model-input file of one sample: writing and strict reading. */
#include "inputs/model_inputs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "io/safetensors.h"

#define SUFFIX ".safetensors"

void vs_model_inputs_free(struct vs_model_inputs *in)
{
    if (!in)
        return;
    free(in->input_ids);
    free(in->pixel_values);
    free(in->image_grid_thw);
    *in = (struct vs_model_inputs){0};
}

enum vs_status vs_model_inputs_write(const struct vs_model_inputs *in, const char *path)
{
    size_t len = strlen(path);
    if (len <= strlen(SUFFIX) || strcmp(path + len - strlen(SUFFIX), SUFFIX) != 0)
        return vs_error_set(VS_ERR_USAGE, "%s: a model-input file name must end in %s", path, SUFFIX);
    char *dir = vs_path_dirname(path), *base = vs_path_basename(path);
    int64_t *mask = vs_malloc((size_t)(in->n_tokens > 0 ? in->n_tokens : 1) * sizeof *mask);
    enum vs_status st = dir && base && mask ? VS_OK : VS_ERR_NOMEM;
    struct vs_st_writer *w = NULL;
    if (st == VS_OK) {
        base[strlen(base) - strlen(SUFFIX)] = '\0';
        for (int64_t i = 0; i < in->n_tokens; i++)
            mask[i] = 1;
        st = vs_st_writer_open(dir, base, 0, 0644, &w);
    }
    if (st == VS_OK) {
        const int64_t ids_shape[2] = {1, in->n_tokens}, pv_shape[2] = {in->n_patches, in->patch_dim},
                      grid_shape[2] = {in->n_images, 3};
        size_t ids_bytes = (size_t)in->n_tokens * sizeof(int64_t);
        size_t pv_bytes = (size_t)(in->n_patches * in->patch_dim) * sizeof(float);
        size_t grid_bytes = (size_t)in->n_images * 3 * sizeof(int64_t);
        if ((st = vs_st_writer_add(w, "input_ids", VS_DTYPE_I64, 2, ids_shape, in->input_ids, ids_bytes)) != VS_OK ||
            (st = vs_st_writer_add(w, "attention_mask", VS_DTYPE_I64, 2, ids_shape, mask, ids_bytes)) != VS_OK ||
            (st = vs_st_writer_add(w, "pixel_values", VS_DTYPE_F32, 2, pv_shape, in->pixel_values, pv_bytes)) != VS_OK ||
            (st = vs_st_writer_add(w, "image_grid_thw", VS_DTYPE_I64, 2, grid_shape, in->image_grid_thw,
                                   grid_bytes)) != VS_OK) {
            vs_st_writer_abort(w);
        } else {
            st = vs_st_writer_close(w);
        }
    }
    free(mask);
    free(dir);
    free(base);
    return st;
}

/* The tensor `name` of f, of dtype and rank 2; errors name the file and tensor. */
static enum vs_status get2(const struct vs_st_file *f, const char *name, enum vs_dtype dtype,
                           const struct vs_st_tensor **out)
{
    const struct vs_st_tensor *t = vs_st_file_find(f, name);
    if (!t)
        return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s' is missing", vs_st_file_path(f), name);
    if (t->dtype != dtype || t->ndim != 2)
        return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s' must be %s of rank 2, not %s of rank %d",
                            vs_st_file_path(f), name, vs_dtype_name(dtype), vs_dtype_name(t->dtype), t->ndim);
    *out = t;
    return VS_OK;
}

static void *copy_data(const struct vs_st_tensor *t)
{
    void *p = vs_malloc(t->nbytes ? t->nbytes : 1);
    if (p && t->nbytes)
        memcpy(p, t->data, t->nbytes);
    return p;
}

/* Element i of an I64 tensor; the mapping gives no alignment guarantee. */
static int64_t i64_at(const void *data, int64_t i)
{
    int64_t v;
    memcpy(&v, (const char *)data + i * (int64_t)sizeof v, sizeof v);
    return v;
}

static enum vs_status check_and_copy(const struct vs_st_file *f, struct vs_model_inputs *in)
{
    static const char *const names[] = {"input_ids", "attention_mask", "pixel_values", "image_grid_thw"};
    const char *path = vs_st_file_path(f);
    for (size_t i = 0; i < vs_st_file_count(f); i++) {
        const char *name = vs_st_file_at(f, i)->name;
        size_t k = 0;
        while (k < 4 && strcmp(name, names[k]) != 0)
            k++;
        if (k == 4)
            return vs_error_set(VS_ERR_FORMAT, "%s: unexpected tensor '%s' (a model-input file holds %s, %s, %s and %s)",
                                path, name, names[0], names[1], names[2], names[3]);
    }
    const struct vs_st_tensor *ids, *mask, *pv, *grid;
    enum vs_status st;
    if ((st = get2(f, "input_ids", VS_DTYPE_I64, &ids)) != VS_OK ||
        (st = get2(f, "attention_mask", VS_DTYPE_I64, &mask)) != VS_OK ||
        (st = get2(f, "pixel_values", VS_DTYPE_F32, &pv)) != VS_OK ||
        (st = get2(f, "image_grid_thw", VS_DTYPE_I64, &grid)) != VS_OK)
        return st;
    if (ids->shape[0] != 1 || ids->shape[1] < 1)
        return vs_error_set(VS_ERR_FORMAT, "%s: input_ids must have shape [1, n] with n >= 1, not [%lld, %lld]",
                            path, (long long)ids->shape[0], (long long)ids->shape[1]);
    if (mask->shape[0] != 1 || mask->shape[1] != ids->shape[1])
        return vs_error_set(VS_ERR_FORMAT, "%s: attention_mask has shape [%lld, %lld], input_ids [1, %lld]", path,
                            (long long)mask->shape[0], (long long)mask->shape[1], (long long)ids->shape[1]);
    for (int64_t i = 0; i < mask->shape[1]; i++)
        if (i64_at(mask->data, i) != 1)
            return vs_error_set(VS_ERR_UNSUPPORTED,
                                "%s: attention_mask[0, %lld] is %lld: padded samples are not supported", path,
                                (long long)i, (long long)i64_at(mask->data, i));
    if (grid->shape[1] != 3)
        return vs_error_set(VS_ERR_FORMAT, "%s: image_grid_thw must have shape [images, 3], not [%lld, %lld]", path,
                            (long long)grid->shape[0], (long long)grid->shape[1]);
    int64_t patches = 0;
    for (int64_t i = 0; i < grid->shape[0]; i++) {
        int64_t g[3];
        for (int k = 0; k < 3; k++)
            g[k] = i64_at(grid->data, 3 * i + k);
        for (int k = 0; k < 3; k++)
            if (g[k] < 1 || g[k] > (1 << 20))
                return vs_error_set(VS_ERR_FORMAT, "%s: image_grid_thw[%lld] = [%lld, %lld, %lld] is not a grid", path,
                                    (long long)i, (long long)g[0], (long long)g[1], (long long)g[2]);
        patches += g[0] * g[1] * g[2];
    }
    if (patches != pv->shape[0])
        return vs_error_set(VS_ERR_FORMAT, "%s: pixel_values has %lld patches, image_grid_thw gives %lld", path,
                            (long long)pv->shape[0], (long long)patches);
    in->n_tokens = ids->shape[1];
    in->n_patches = pv->shape[0];
    in->patch_dim = pv->shape[1];
    in->n_images = grid->shape[0];
    if (!(in->input_ids = copy_data(ids)) || !(in->image_grid_thw = copy_data(grid)))
        return VS_ERR_NOMEM;
    if (in->n_patches > 0 && !(in->pixel_values = copy_data(pv)))
        return VS_ERR_NOMEM;
    size_t first, bad = in->n_patches > 0 ? vs_count_nonfinite_f32(in->pixel_values, (size_t)(pv->nbytes / 4), &first) : 0;
    if (bad)
        return vs_error_set(VS_ERR_FORMAT, "%s: pixel_values holds %zu non-finite value(s) (first: %s at patch %zu, "
                            "element %zu)", path, bad, isnan(in->pixel_values[first]) ? "NaN" : "infinity",
                            first / (size_t)in->patch_dim, first % (size_t)in->patch_dim);
    if (in->n_images == 0) {
        free(in->image_grid_thw);
        in->image_grid_thw = NULL;
    }
    return VS_OK;
}

enum vs_status vs_model_inputs_read(const char *path, struct vs_model_inputs *out)
{
    *out = (struct vs_model_inputs){0};
    struct vs_st_file *f;
    enum vs_status st = vs_st_file_open(path, &f);
    if (st != VS_OK)
        return st;
    st = check_and_copy(f, out);
    vs_st_file_close(f);
    if (st != VS_OK)
        vs_model_inputs_free(out);
    return st;
}
