/* The compressed-tensors export (docs/compressed_tensors.md): a Hugging Face checkpoint whose
 * config.json carries a `quantization_config` that vLLM's and SGLang's compressed-tensors
 * loaders read, int8 weights with per-channel scales, static activation scales (and zero
 * points) where calibrated. */
#include "save/compressed_tensors.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "io/json_util.h"
#include "io/safetensors.h"
#include "save/side_files.h"

/* The schemes this format writes, each one config group. */
enum ct_group { CT_DYNAMIC, CT_STATIC_SYM, CT_STATIC_ASYM, CT_GROUPS };

struct ct_saver {
    char *dir;
    struct vs_st_writer *writer;
    json_t *members[CT_GROUPS]; /* module names per group, in write order */
    json_t *ignore;             /* the Linears left in float */
    json_t *fused;              /* fused-layer key -> group (-1: float), see fused_key */
    bool has_experts[CT_GROUPS];
};

#define SAVER_NAME "compressed_tensors_saver"

/* vLLM loads some Linears fused into one layer (q/k/v into qkv_proj, gate/up into
 * gate_up_proj, a layer's experts into one FusedMoE): all parts of one need the same scheme.
 * The key names the fused layer, NULL for a Linear that stands alone. */
static char *fused_key(const char *module, bool *expert)
{
    const char *e = strstr(module, ".mlp.experts.");
    *expert = e != NULL;
    if (e)
        return vs_strndup(module, (size_t)(e - module) + strlen(".mlp.experts"));
    static const char *const parts[][2] = {
        {".q_proj", ".qkv"}, {".k_proj", ".qkv"}, {".v_proj", ".qkv"}, {".gate_proj", ".gate_up"}, {".up_proj", ".gate_up"}};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        if (vs_str_ends_with(module, parts[i][0]))
            return vs_strfmt("%.*s%s", (int)(strlen(module) - strlen(parts[i][0])), module, parts[i][1]);
    return NULL;
}

static const char *group_label(int g)
{
    return g == CT_DYNAMIC ? "W8A8_DYNAMIC" : g == CT_STATIC_SYM ? "W8A8 (symmetric activations)"
           : g == CT_STATIC_ASYM                                ? "W8A8 (asymmetric activations)"
                                                                 : "float";
}

/* Records module in group g (-1: float), checking that the parts of its fused layer agree
 * and that quantized experts are dynamic. */
static enum vs_status record(struct ct_saver *s, const char *module, int g)
{
    bool expert;
    char *key = fused_key(module, &expert);
    enum vs_status st = VS_OK;
    if (expert && g >= 0 && g != CT_DYNAMIC) /* CompressedTensorsW8A8Int8MoEMethod: per-token dynamic only */
        st = vs_error_set(VS_ERR_UNSUPPORTED,
                          "%s: %s: vLLM's int8 fused-MoE kernels take dynamic per-token activations only; quantize "
                          "the experts with W8A8_DYNAMIC (a linear_quant entry for '*mlp.experts*')",
                          SAVER_NAME, module);
    else if (key) {
        json_t *seen = json_object_get(s->fused, key);
        if (seen && json_integer_value(seen) != g)
            st = vs_error_set(VS_ERR_UNSUPPORTED,
                              "%s: %s: %s, but another part of the layer vLLM fuses as %s is %s; give all its parts "
                              "one scheme (include/exclude patterns of linear_quant)",
                              SAVER_NAME, module, group_label(g), key, group_label((int)json_integer_value(seen)));
        else if (!seen && json_object_set_new(s->fused, key, json_integer(g)))
            st = vs_error_set(VS_ERR_NOMEM, "out of memory recording '%s'", module);
        free(key);
    }
    if (st != VS_OK)
        return st;
    if (expert && g >= 0)
        s->has_experts[g] = true;
    if (json_array_append_new(g < 0 ? s->ignore : s->members[g], json_string(module)))
        return vs_error_set(VS_ERR_NOMEM, "out of memory recording '%s'", module);
    return VS_OK;
}

/* ---- what the format cannot hold, refused before the run ---- */

static enum vs_status ct_check(const struct vs_quant_config *cfg, const struct vs_processor_config *saver)
{
    for (size_t i = 0; i < cfg->n_process; i++) {
        const struct vs_processor_config *p = &cfg->process[i];
        bool asym_smooth = (p->type == VS_PROC_ITER_SMOOTH && !p->u.iter_smooth.symmetric) ||
                           (p->type == VS_PROC_SMOOTH_QUANT && !p->u.smooth_quant.symmetric);
        if (asym_smooth)
            return vs_error_set(VS_ERR_UNSUPPORTED,
                                "%s: %s: %s with symmetric: false adds biases to the norms, which vLLM's RMSNorm "
                                "cannot hold; %s (%s) cannot write it (use symmetric: true)",
                                cfg->source_path, p->path, vs_proc_type_name(p->type), saver->path, SAVER_NAME);
        /* quarot online: true (rotations at inference, which vLLM does not apply) is refused
         * for every saver by the adapters today (runner/outlier.c); refuse it here too when
         * an adapter supports it. */
        if (p->type != VS_PROC_LINEAR_QUANT)
            continue;
        struct vs_linear_quant lq;
        enum vs_status st = vs_linear_quant_init(&lq, p);
        if (st != VS_OK)
            return vs_error_prefix(st, "%s", cfg->source_path);
        enum vs_scheme scheme = lq.scheme;
        vs_linear_quant_free(&lq);
        if (scheme == VS_SCHEME_W8A16)
            return vs_error_set(VS_ERR_UNSUPPORTED,
                                "%s: %s: W8A16 (int8 weights, float activations) is not written by %s (%s) yet: "
                                "vLLM reads 8-bit weight-only models in the pack-quantized format",
                                cfg->source_path, p->path, saver->path, SAVER_NAME);
    }
    return VS_OK;
}

/* ---- writing ---- */

static void ct_abort(void *p)
{
    struct ct_saver *s = p;
    if (!s)
        return;
    if (s->writer)
        vs_st_writer_abort(s->writer);
    for (int g = 0; g < CT_GROUPS; g++)
        json_decref(s->members[g]);
    json_decref(s->ignore);
    json_decref(s->fused);
    free(s->dir);
    free(s);
}

static enum vs_status ct_open(const char *dir, const struct vs_saver_context *ctx, void **out)
{
    struct ct_saver *s = vs_calloc(1, sizeof *s);
    if (!s)
        return VS_ERR_NOMEM;
    bool ok = (s->dir = vs_strdup(dir)) != NULL;
    for (int g = 0; g < CT_GROUPS && ok; g++)
        ok = (s->members[g] = json_array()) != NULL;
    ok = ok && (s->ignore = json_array()) && (s->fused = json_object());
    enum vs_status st = ok ? vs_st_writer_open(dir, "model", ctx->part_bytes, VS_EXPORT_MODE, &s->writer)
                           : vs_error_set(VS_ERR_NOMEM, "%s: out of memory starting the export", dir);
    if (st != VS_OK) {
        ct_abort(s);
        return st;
    }
    *out = s;
    return VS_OK;
}

static enum vs_status put(struct ct_saver *s, const char *module, const char *suffix, enum vs_dtype dtype, int ndim,
                          const int64_t *shape, const void *data)
{
    char *name = vs_strfmt("%s%s", module, suffix);
    if (!name)
        return VS_ERR_NOMEM;
    size_t nbytes = (size_t)vs_shape_numel(ndim, shape) * vs_dtype_size(dtype);
    enum vs_status st = vs_st_writer_add(s->writer, name, dtype, ndim, shape, data, nbytes);
    free(name);
    return st;
}

static enum vs_status ct_add_float(void *p, const char *name, enum vs_dtype dtype, int ndim, const int64_t *shape,
                                   const void *data)
{
    return put(p, name, "", dtype, ndim, shape, data);
}

static enum vs_status ct_add_float_linear(void *p, const char *module) { return record(p, module, -1); }

static enum vs_status ct_add_linear(void *p, const struct vs_saved_linear *l)
{
    struct ct_saver *s = p;
    int g;
    switch (l->scheme) {
    case VS_SCHEME_W8A8_DYNAMIC:
        g = CT_DYNAMIC;
        break;
    case VS_SCHEME_W8A8:
        g = l->input_symmetric ? CT_STATIC_SYM : CT_STATIC_ASYM;
        break;
    default:
        return vs_error_set(VS_ERR_INTERNAL, "%s: %s: scheme %s is not written by this saver", SAVER_NAME, l->module,
                            vs_scheme_name(l->scheme));
    }
    enum vs_status st = record(s, l->module, g);
    int64_t wshape[2] = {l->rows, l->cols}, sshape[2] = {l->rows, 1}, one = 1;
    if (st == VS_OK)
        st = put(s, l->module, ".weight", VS_DTYPE_I8, 2, wshape, l->weight);
    if (st == VS_OK)
        st = put(s, l->module, ".weight_scale", VS_DTYPE_F32, 2, sshape, l->weight_scale);
    if (st == VS_OK && g != CT_DYNAMIC)
        st = put(s, l->module, ".input_scale", VS_DTYPE_F32, 1, &one, &l->input_scale);
    if (st == VS_OK && g == CT_STATIC_ASYM) {
        /* msModelSlim's round(x / s + o) is compressed-tensors' round(x / s) + zp: o is an integer */
        if (!(l->input_offset >= -128.0f && l->input_offset <= 127.0f) || rintf(l->input_offset) != l->input_offset)
            return vs_error_set(VS_ERR_INTERNAL, "%s.input_offset: %g is not an int8 zero point", l->module,
                                (double)l->input_offset);
        int8_t zp = (int8_t)l->input_offset;
        st = put(s, l->module, ".input_zero_point", VS_DTYPE_I8, 1, &one, &zp);
    }
    if (st == VS_OK && l->bias)
        st = put(s, l->module, ".bias", VS_DTYPE_F32, 1, &l->rows, l->bias);
    return st;
}

/* ---- config.json ---- */

static json_t *qargs(const char *strategy, bool symmetric, bool dynamic, const char *observer)
{
    return json_pack("{s:i, s:s, s:b, s:n, s:s, s:n, s:b, s:n, s:o, s:{}}", "num_bits", 8, "type", "int", "symmetric",
                     symmetric, "group_size", "strategy", strategy, "block_structure", "dynamic", dynamic, "actorder",
                     "observer", observer ? json_string(observer) : json_null(), "observer_kwargs");
}

/* The group vLLM's class-name target "Linear" stands for: the experts' (older vLLM versions
 * take a FusedMoE layer's scheme from it), else the largest. The others list their modules. */
static int catch_all_group(const struct ct_saver *s)
{
    int best = -1;
    for (int g = 0; g < CT_GROUPS; g++)
        if (s->has_experts[g])
            return g;
    for (int g = 0; g < CT_GROUPS; g++)
        if (json_array_size(s->members[g]) && (best < 0 || json_array_size(s->members[g]) > json_array_size(s->members[best])))
            best = g;
    return best;
}

static json_t *quantization_config(const struct ct_saver *s)
{
    json_t *groups = json_object();
    int all = catch_all_group(s), n = 0;
    for (int g = 0; g < CT_GROUPS && groups; g++) {
        if (!json_array_size(s->members[g]))
            continue;
        json_t *targets = g == all ? json_pack("[s]", "Linear") : json_deep_copy(s->members[g]);
        json_t *input = g == CT_DYNAMIC ? qargs("token", true, true, NULL)
                                        : qargs("tensor", g == CT_STATIC_SYM, false, "minmax");
        json_t *group = json_pack("{s:o, s:o, s:o, s:n, s:s}", "targets", targets, "weights",
                                  qargs("channel", true, false, "minmax"), "input_activations", input,
                                  "output_activations", "format", "int-quantized");
        char name[32];
        snprintf(name, sizeof name, "group_%d", n++);
        if (!group || json_object_set_new(groups, name, group)) {
            json_decref(groups);
            groups = NULL;
        }
    }
    if (!groups)
        return NULL;
    return json_pack("{s:o, s:s, s:n, s:O, s:n, s:s, s:s, s:{}, s:s}", "config_groups", groups, "format",
                     "int-quantized", "global_compression_ratio", "ignore", s->ignore, "kv_cache_scheme",
                     "quant_method", "compressed-tensors", "quantization_status", "compressed", "sparsity_config",
                     "version", "0.11.0");
}

static enum vs_status write_config(const char *src, const char *dst, void *ctx)
{
    const struct ct_saver *s = ctx;
    json_t *cfg;
    int removed;
    enum vs_status st = vs_save_load_config(src, &cfg, &removed);
    if (st != VS_OK)
        return st;
    json_t *q = json_is_object(cfg) ? quantization_config(s) : NULL;
    if (!json_is_object(cfg))
        st = vs_error_set(VS_ERR_MODEL, "%s: not a JSON object", src);
    else if (!q || json_object_set_new(cfg, "quantization_config", q))
        st = vs_error_set(VS_ERR_NOMEM, "%s: out of memory building quantization_config", dst);
    if (st == VS_OK)
        st = vs_json_write_file(cfg, dst, 2, VS_EXPORT_MODE);
    json_decref(cfg);
    return st;
}

static enum vs_status ct_finish(void *p, const char *model_path)
{
    struct ct_saver *s = p;
    /* the output head is listed as llm-compressor lists it, whether or not it is tied */
    bool listed = false;
    for (size_t i = 0; i < json_array_size(s->ignore); i++)
        listed = listed || strcmp(json_string_value(json_array_get(s->ignore, i)), "lm_head") == 0;
    if (!listed && json_array_append_new(s->ignore, json_string("lm_head"))) {
        ct_abort(s);
        return vs_error_set(VS_ERR_NOMEM, "out of memory listing lm_head");
    }
    enum vs_status st = vs_st_writer_close(s->writer);
    s->writer = NULL;
    char *cfg = vs_path_join(model_path, "config.json");
    if (st == VS_OK && (!cfg || !vs_fs_is_file(cfg)))
        st = cfg ? vs_error_set(VS_ERR_MODEL, "%s: missing; %s writes the quantization_config into it", cfg, SAVER_NAME)
                 : VS_ERR_NOMEM;
    free(cfg);
    if (st == VS_OK)
        st = vs_save_side_files(model_path, s->dir, write_config, s);
    ct_abort(s);
    return st;
}

static uint64_t ct_bytes_written(const void *p)
{
    const struct ct_saver *s = p;
    return s->writer ? vs_st_writer_total_bytes(s->writer) : 0;
}

const struct vs_saver_type vs_compressed_tensors_saver = {
    .type = VS_PROC_COMPRESSED_TENSORS_SAVER,
    .check = ct_check,
    .open = ct_open,
    .add_float = ct_add_float,
    .add_float_linear = ct_add_float_linear,
    .add_linear = ct_add_linear,
    .finish = ct_finish,
    .abort = ct_abort,
    .bytes_written = ct_bytes_written,
};
