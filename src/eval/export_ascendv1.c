/* The ascendv1 reader of the export model: quant_model_description.json against the weight
 * files both ways, each quantized Linear's tensors by its type (msmodelslim_vlm_spec.md §7.3),
 * computed as vLLM Ascend's NPU kernels do. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "eval/export_internal.h"
#include "eval/export_model.h"
#include "tensor/dtype.h"

struct ascendv1_state {
    char *desc_path;
    json_t *desc;
};

/* The description's keys that are not tensors (msmodelslim_vlm_spec.md §7.2). */
static bool is_global_key(const char *k)
{
    static const char *const globals[] = {"version", "model_quant_type", "metadata", "group_size", "optional",
                                          "kv_cache_type", "kv_quant_type", "fa_quant_type", NULL};
    for (size_t i = 0; globals[i]; i++)
        if (!strcmp(k, globals[i]))
            return true;
    return false;
}

static const struct ascendv1_state *state(const struct vs_export *e) { return e->format_state; }

static const char *kind(const struct vs_export *e, const char *tensor)
{
    const char *k = json_string_value(json_object_get(state(e)->desc, tensor));
    return k ? k : "not described";
}

static enum vs_status rotation_file(const struct vs_export *e, char **rel)
{
    *rel = NULL;
    json_t *r = json_object_get(json_object_get(json_object_get(json_object_get(state(e)->desc, "optional"),
                                                                "quarot"), "rotation_map"), "global_rotation");
    if (!r)
        return VS_OK;
    if (!json_is_string(r))
        return vs_error_set(VS_ERR_MODEL, "%s: optional.quarot.rotation_map.global_rotation is not a path",
                            state(e)->desc_path);
    return (*rel = vs_strdup(json_string_value(r))) ? VS_OK : VS_ERR_NOMEM;
}

static void close_state(struct vs_export *e)
{
    struct ascendv1_state *s = e->format_state;
    if (!s)
        return;
    if (s->desc)
        json_decref(s->desc);
    free(s->desc_path);
    free(s);
}

static const struct export_format ascendv1 = {
    .name = "ascendv1", .metadata = VS_ASCENDV1_DESCRIPTION, .kind = kind, .rotation_file = rotation_file, .close = close_state};

/* Checks a quantized Linear's tensors against its type and reads its activation parameters. */
static enum vs_status load_linear(struct vs_export *e, struct export_linear *q)
{
    const struct vs_st_tensor *w;
    enum vs_status st = vs_export_part(e, q, "weight", VS_DTYPE_I8, VS_DTYPE_COUNT, -1, false, &w);
    if (st != VS_OK)
        return st;
    if (w->ndim != 2)
        return vs_error_set(VS_ERR_MODEL, "%s: tensor '%s.weight' of %s Linear '%s' has %d dimension(s), not 2",
                            w->file, q->module, q->type, q->module, w->ndim);
    q->w = *w;
    q->out = w->shape[0], q->in = w->shape[1];
    const struct vs_st_tensor *scale = NULL, *offset = NULL;
    switch (q->scheme) {
    case VS_INT8_W8A8:
        if ((st = vs_export_part(e, q, "quant_bias", VS_DTYPE_I32, VS_DTYPE_COUNT, q->out, false, &q->quant_bias)) ==
                VS_OK &&
            (st = vs_export_part(e, q, "deq_scale", VS_DTYPE_F32, VS_DTYPE_I64, q->out, false, &q->deq_scale)) == VS_OK &&
            (st = vs_export_part(e, q, "input_scale", VS_DTYPE_F32, VS_DTYPE_COUNT, 1, false, &scale)) == VS_OK &&
            (st = vs_export_part(e, q, "input_offset", VS_DTYPE_F32, VS_DTYPE_COUNT, 1, false, &offset)) == VS_OK)
            st = vs_export_part(e, q, "bias", VS_DTYPE_COUNT, VS_DTYPE_COUNT, q->out, true, &q->bias); /* in quant_bias */
        if (st != VS_OK)
            return st;
        q->input_scale = vs_export_scalar_f32(scale), q->input_offset = vs_export_scalar_f32(offset);
        if (!(q->input_scale > 0) || !isfinite(q->input_scale) || !isfinite(q->input_offset))
            return vs_error_set(VS_ERR_MODEL, "%s: '%s.input_scale' %g / '%s.input_offset' %g: the scale must be positive "
                                "and both finite", scale->file, q->module, (double)q->input_scale, q->module,
                                (double)q->input_offset);
        return VS_OK;
    case VS_INT8_W8A8_DYNAMIC:
    case VS_INT8_W8A16:
        if ((st = vs_export_part(e, q, "weight_scale", VS_DTYPE_F32, VS_DTYPE_COUNT, q->out, false, &q->weight_scale)) ==
                VS_OK &&
            (st = vs_export_part(e, q, "weight_offset", VS_DTYPE_F32, VS_DTYPE_COUNT, q->out, false,
                                 &q->weight_offset)) == VS_OK)
            st = vs_export_part(e, q, "bias", VS_DTYPE_COUNT, VS_DTYPE_COUNT, q->out, true, &q->bias);
        if (st != VS_OK || q->scheme != VS_INT8_W8A8_DYNAMIC)
            return st;
        for (int64_t o = 0; o < q->out; o++) { /* the dynamic kernels take no weight offset */
            float v;
            memcpy(&v, (const float *)q->weight_offset->data + o, sizeof v);
            if (v != 0.0f)
                return vs_error_set(VS_ERR_MODEL, "%s: '%s.weight_offset' row %lld is %g: W8A8_DYNAMIC weights must be "
                                    "symmetric", q->weight_offset->file, q->module, (long long)o, (double)v);
        }
        return VS_OK;
    }
    return VS_ERR_INTERNAL;
}

static enum vs_status read_description(struct vs_export *e, struct ascendv1_state *s)
{
    json_error_t jerr;
    if (!(s->desc = json_load_file(s->desc_path, 0, &jerr)))
        return vs_error_set(VS_ERR_MODEL, "%s:%d: %s", s->desc_path, jerr.line, jerr.text);
    if (!json_is_object(s->desc))
        return vs_error_set(VS_ERR_MODEL, "%s: not a JSON object", s->desc_path);
    const char *k;
    json_t *v;
    json_object_foreach(s->desc, k, v) {
        if (is_global_key(k))
            continue;
        if (!json_is_string(v))
            return vs_error_set(VS_ERR_MODEL, "%s: key '%s': the type must be a string", s->desc_path, k);
        if (!vs_st_model_has(e->st, k))
            return vs_error_set(VS_ERR_MODEL, "%s: tensor '%s' (%s) is in no weight file of %s", s->desc_path, k,
                                json_string_value(v), e->dir);
    }
    for (size_t i = 0; i < vs_st_model_count(e->st); i++) {
        const char *name = vs_st_model_name_at(e->st, i);
        if (!json_is_string(json_object_get(s->desc, name)) || is_global_key(name)) {
            const struct vs_st_tensor *t;
            vs_st_model_get(e->st, name, &t);
            return vs_error_set(VS_ERR_MODEL, "%s: tensor '%s' is not in %s", t->file, name, s->desc_path);
        }
    }
    /* the quantized Linears: a `.weight` of a quantized type */
    json_object_foreach(s->desc, k, v) {
        size_t len = strlen(k);
        const char *type = json_string_value(v);
        if (is_global_key(k) || len < 8 || strcmp(k + len - 7, ".weight") != 0 || !strcmp(type, "FLOAT"))
            continue;
        enum vs_int8_scheme scheme;
        if (!strcmp(type, "W8A8"))
            scheme = VS_INT8_W8A8;
        else if (!strcmp(type, "W8A8_DYNAMIC"))
            scheme = VS_INT8_W8A8_DYNAMIC;
        else if (!strcmp(type, "W8A16"))
            scheme = VS_INT8_W8A16;
        else
            return vs_error_set(VS_ERR_UNSUPPORTED, "%s: tensor '%s' is %s; vlmslim eval computes FLOAT, W8A8, "
                                "W8A8_DYNAMIC and W8A16 Linears", s->desc_path, k, type);
        struct export_linear *q = vs_export_add_linear(e, k, len - 7, type);
        if (!q)
            return VS_ERR_NOMEM;
        q->scheme = scheme, q->kernel = VS_INT8_ASCEND;
        enum vs_status st = load_linear(e, q);
        if (st != VS_OK)
            return st;
    }
    return VS_OK;
}

enum vs_status vs_export_read_ascendv1(struct vs_export *e)
{
    struct ascendv1_state *s = calloc(1, sizeof *s);
    if (!s || !(s->desc_path = vs_path_join(e->dir, VS_ASCENDV1_DESCRIPTION))) {
        free(s);
        return VS_ERR_NOMEM;
    }
    e->format = &ascendv1, e->format_state = s;
    return read_description(e, s);
}
