#include "save/ascendv1.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "base/log.h"
#include "io/json_util.h"
#include "io/safetensors.h"
#include "save/side_files.h"


struct vs_ascendv1 {
    char *dir;
    struct vs_st_writer *writer;
    json_t *description;   /* tensor name -> type, in write order */
    int max_type;          /* highest vs_quant_type_tag used by a quantized linear, -1 if none */
    json_t *optional;      /* the description's "optional" member, NULL: {} */
    float *zeros;          /* scratch for absent offsets */
    enum vs_dtype global_dtype; /* decides deq_scale's dtype (saver interface only) */
    size_t zeros_len;
};

const char *vs_quant_type_tag_name(enum vs_quant_type_tag t)
{
    static const char *const names[VS_QT_COUNT] = {
        [VS_QT_FLOAT] = "FLOAT",         [VS_QT_W16A16S] = "W16A16S",   [VS_QT_W8A16] = "W8A16",
        [VS_QT_W8A8_DYNAMIC] = "W8A8_DYNAMIC", [VS_QT_W8A8_MIX] = "W8A8_MIX", [VS_QT_W8A8] = "W8A8",
    };
    return (unsigned)t < VS_QT_COUNT ? names[t] : "?";
}

enum vs_status vs_ascendv1_open(const char *dir, uint64_t part_bytes, struct vs_ascendv1 **out)
{
    struct vs_ascendv1 *s = vs_calloc(1, sizeof *s);
    if (!s)
        return VS_ERR_NOMEM;
    s->max_type = -1;
    enum vs_status st = VS_ERR_NOMEM;
    if (!(s->dir = vs_strdup(dir)))
        goto fail;
    if (!(s->description = json_object())) {
        st = vs_error_set(VS_ERR_NOMEM, "%s: out of memory starting the export", dir);
        goto fail;
    }
    if ((st = vs_st_writer_open(dir, "quant_model_weights", part_bytes, VS_EXPORT_MODE, &s->writer)) != VS_OK)
        goto fail;
    *out = s;
    return VS_OK;
fail:
    vs_ascendv1_abort(s);
    return st;
}

static enum vs_status add(struct vs_ascendv1 *s, const char *name, const char *type, enum vs_dtype dtype,
                          int ndim, const int64_t *shape, const void *data)
{
    size_t nbytes = (size_t)vs_shape_numel(ndim, shape) * vs_dtype_size(dtype);
    enum vs_status st = vs_st_writer_add(s->writer, name, dtype, ndim, shape, data, nbytes);
    if (st != VS_OK)
        return st;
    if (json_object_set_new(s->description, name, json_string(type)) != 0)
        return vs_error_set(VS_ERR_NOMEM, "out of memory recording '%s'", name);
    return VS_OK;
}

enum vs_status vs_ascendv1_add_float(struct vs_ascendv1 *s, const char *name, enum vs_dtype dtype,
                                     int ndim, const int64_t *shape, const void *data)
{
    return add(s, name, "FLOAT", dtype, ndim, shape, data);
}

enum vs_status vs_ascendv1_add_weight_quant(struct vs_ascendv1 *s, enum vs_quant_type_tag type,
                                            const char *module, const int8_t *weight, int64_t rows,
                                            int64_t cols, const float *scale, const float *offset,
                                            const float *bias)
{
    if (type != VS_QT_W8A8_DYNAMIC && type != VS_QT_W8A16)
        return vs_error_set(VS_ERR_INTERNAL, "%s: %s is not a weight-only export type", module,
                            vs_quant_type_tag_name(type));
    const char *tname = vs_quant_type_tag_name(type);
    if (!offset) {
        if (s->zeros_len < (size_t)rows) {
            float *z = vs_calloc((size_t)rows, sizeof *z);
            if (!z)
                return VS_ERR_NOMEM;
            free(s->zeros);
            s->zeros = z;
            s->zeros_len = (size_t)rows;
        }
        offset = s->zeros;
    }
    char name[1024];
    int64_t wshape[2] = {rows, cols}, sshape[2] = {rows, 1};
    enum vs_status st;
    snprintf(name, sizeof name, "%s.weight", module);
    if ((st = add(s, name, tname, VS_DTYPE_I8, 2, wshape, weight)) != VS_OK)
        return st;
    snprintf(name, sizeof name, "%s.weight_scale", module);
    if ((st = add(s, name, tname, VS_DTYPE_F32, 2, sshape, scale)) != VS_OK)
        return st;
    snprintf(name, sizeof name, "%s.weight_offset", module);
    if ((st = add(s, name, tname, VS_DTYPE_F32, 2, sshape, offset)) != VS_OK)
        return st;
    if (bias) {
        snprintf(name, sizeof name, "%s.bias", module);
        if ((st = add(s, name, "FLOAT", VS_DTYPE_F32, 1, &rows, bias)) != VS_OK)
            return st;
    }
    if ((int)type > s->max_type)
        s->max_type = (int)type;
    return VS_OK;
}

enum vs_status vs_ascendv1_add_w8a8(struct vs_ascendv1 *s, const char *module, const int8_t *weight, int64_t rows,
                                    int64_t cols, const int32_t *quant_bias, float input_scale, float input_offset,
                                    const float *deq_scale, enum vs_dtype global_dtype, const float *bias)
{
    const char *t = vs_quant_type_tag_name(VS_QT_W8A8);
    char name[1024];
    int64_t wshape[2] = {rows, cols}, one = 1;
    enum vs_status st;
    snprintf(name, sizeof name, "%s.weight", module);
    if ((st = add(s, name, t, VS_DTYPE_I8, 2, wshape, weight)) != VS_OK)
        return st;
    snprintf(name, sizeof name, "%s.quant_bias", module);
    if ((st = add(s, name, t, VS_DTYPE_I32, 1, &rows, quant_bias)) != VS_OK)
        return st;
    snprintf(name, sizeof name, "%s.input_scale", module);
    if ((st = add(s, name, t, VS_DTYPE_F32, 1, &one, &input_scale)) != VS_OK)
        return st;
    snprintf(name, sizeof name, "%s.input_offset", module);
    if ((st = add(s, name, t, VS_DTYPE_F32, 1, &one, &input_offset)) != VS_OK)
        return st;
    snprintf(name, sizeof name, "%s.deq_scale", module);
    if (global_dtype == VS_DTYPE_BF16) {
        st = add(s, name, t, VS_DTYPE_F32, 1, &rows, deq_scale);
    } else { /* msModelSlim's deqscale.py: the float32 bits as int32, widened to int64 */
        int64_t *bits = vs_malloc((size_t)rows * sizeof *bits);
        if (!bits)
            return VS_ERR_NOMEM;
        for (int64_t i = 0; i < rows; i++) {
            int32_t b;
            memcpy(&b, &deq_scale[i], sizeof b);
            bits[i] = b;
        }
        st = add(s, name, t, VS_DTYPE_I64, 1, &rows, bits);
        free(bits);
    }
    if (st != VS_OK)
        return st;
    if (bias) {
        snprintf(name, sizeof name, "%s.bias", module);
        if ((st = add(s, name, "FLOAT", VS_DTYPE_F32, 1, &rows, bias)) != VS_OK)
            return st;
    }
    if ((int)VS_QT_W8A8 > s->max_type)
        s->max_type = (int)VS_QT_W8A8;
    return VS_OK;
}

/* config.json without `quantization_config` (top level and text_config); copied byte for
 * byte when it has none. */
static enum vs_status write_config(const char *src, const char *dst, void *ctx)
{
    (void)ctx;
    json_t *cfg;
    int removed;
    enum vs_status st = vs_save_load_config(src, &cfg, &removed);
    if (st != VS_OK)
        return st;
    st = removed ? vs_json_write_file(cfg, dst, 2, VS_EXPORT_MODE) : vs_fs_copy_file(src, dst, VS_EXPORT_MODE);
    json_decref(cfg);
    return st;
}

enum vs_status vs_ascendv1_set_optional(struct vs_ascendv1 *s, const char *json_text)
{
    json_error_t err;
    json_t *v = vs_json_loadb(json_text, strlen(json_text), 0, &err);
    if (!v && vs_json_load_ran_out(&err))
        return vs_error_set(VS_ERR_NOMEM, "quant_model_description.json: out of memory parsing optional");
    if (!v || !json_is_object(v)) {
        json_decref(v);
        return vs_error_set(VS_ERR_INTERNAL, "quant_model_description.json: optional: not a JSON object: %s", json_text);
    }
    json_decref(s->optional);
    s->optional = v;
    return VS_OK;
}

enum vs_status vs_ascendv1_finish(struct vs_ascendv1 *s, const char *model_path)
{
    enum vs_status st = vs_st_writer_close(s->writer);
    s->writer = NULL;
    if (st != VS_OK)
        goto done;
    json_t *d = s->description;
    /* msModelSlim keeps its initial "Unknown" when no Linear is quantized (spec §7.3) */
    const char *model_type = s->max_type < 0 ? "Unknown" : vs_quant_type_tag_name((enum vs_quant_type_tag)s->max_type);
    if (json_object_set_new(d, "version", json_string("1.0.0")) ||
        json_object_set_new(d, "model_quant_type", json_string(model_type)) ||
        json_object_set_new(d, "metadata", json_object()) ||
        json_object_set_new(d, "group_size", json_integer(0)) ||
        json_object_set_new(d, "optional", s->optional ? json_incref(s->optional) : json_object())) {
        st = vs_error_set(VS_ERR_NOMEM, "out of memory building quant_model_description.json");
        goto done;
    }
    char *path = vs_path_join(s->dir, "quant_model_description.json");
    st = path ? vs_json_write_file(d, path, 4, VS_EXPORT_MODE) : VS_ERR_NOMEM;
    free(path);
    if (st == VS_OK)
        st = vs_save_side_files(model_path, s->dir, write_config, NULL);
done:
    vs_ascendv1_abort(s);
    return st;
}

void vs_ascendv1_abort(struct vs_ascendv1 *s)
{
    if (!s)
        return;
    if (s->writer)
        vs_st_writer_abort(s->writer);
    json_decref(s->description);
    json_decref(s->optional);
    free(s->zeros);
    free(s->dir);
    free(s);
}

uint64_t vs_ascendv1_bytes_written(const struct vs_ascendv1 *s)
{
    return s->writer ? vs_st_writer_total_bytes(s->writer) : 0;
}

/* ---- the saver interface ---- */

static enum vs_status op_open(const char *dir, const struct vs_saver_context *ctx, void **out)
{
    struct vs_ascendv1 *s;
    enum vs_status st = vs_ascendv1_open(dir, ctx->part_bytes, &s);
    if (st != VS_OK)
        return st;
    s->global_dtype = ctx->global_dtype;
    *out = s;
    return VS_OK;
}

static enum vs_status op_add_float(void *s, const char *name, enum vs_dtype dtype, int ndim, const int64_t *shape,
                                   const void *data)
{
    return vs_ascendv1_add_float(s, name, dtype, ndim, shape, data);
}

static enum vs_status op_add_linear(void *p, const struct vs_saved_linear *l)
{
    struct vs_ascendv1 *s = p;
    switch (l->scheme) {
    case VS_SCHEME_W8A8:
        return vs_ascendv1_add_w8a8(s, l->module, l->weight, l->rows, l->cols, l->quant_bias, l->input_scale,
                                    l->input_offset, l->deq_scale, s->global_dtype, l->bias);
    case VS_SCHEME_W8A8_DYNAMIC:
        return vs_ascendv1_add_weight_quant(s, VS_QT_W8A8_DYNAMIC, l->module, l->weight, l->rows, l->cols,
                                            l->weight_scale, NULL, l->bias);
    case VS_SCHEME_W8A16:
        return vs_ascendv1_add_weight_quant(s, VS_QT_W8A16, l->module, l->weight, l->rows, l->cols, l->weight_scale,
                                            l->weight_offset, l->bias);
    default:
        return vs_error_set(VS_ERR_INTERNAL, "%s: no ascendv1 export for scheme %d", l->module, (int)l->scheme);
    }
}

static enum vs_status op_set_optional(void *s, const char *json_text) { return vs_ascendv1_set_optional(s, json_text); }

static enum vs_status op_finish(void *s, const char *model_path) { return vs_ascendv1_finish(s, model_path); }

static void op_abort(void *s) { vs_ascendv1_abort(s); }

static uint64_t op_bytes_written(const void *s) { return vs_ascendv1_bytes_written(s); }

const struct vs_saver_type vs_ascendv1_saver = {
    .type = VS_PROC_ASCENDV1_SAVER,
    .open = op_open,
    .add_float = op_add_float,
    .add_linear = op_add_linear,
    .set_optional = op_set_optional,
    .finish = op_finish,
    .abort = op_abort,
    .bytes_written = op_bytes_written,
};
