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
#include "base/log.h"
#include "io/json_util.h"
#include "io/safetensors.h"
#include "save/side_files.h"

/* The schemes this format writes, each one config group. */
enum ct_group { CT_DYNAMIC, CT_STATIC_SYM, CT_STATIC_ASYM, CT_WEIGHT_ONLY, CT_GROUPS };

struct ct_saver {
    char *dir;
    struct vs_st_writer *writer;
    json_t *members[CT_GROUPS]; /* module names per group, in write order */
    json_t *ignore;             /* the Linears left in float */
    json_t *fused;              /* fused-layer key -> group (-1: float), see fused_key */
    json_t *expert_layers;      /* a MoE layer's fused key -> group, in write order */
    json_t *planned;            /* module -> group of every Linear (plan_linear) */
    json_t *kernel_warned;      /* "out x in" shapes warned of by warn_no_wna16_kernel */
    char *head;                 /* the output head's module name ("lm_head", InternVL's language_model.lm_head) */
    enum vs_dtype dtype;        /* the checkpoint's float dtype: vLLM's activation dtype */
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
    return g == CT_DYNAMIC       ? "W8A8_DYNAMIC"
           : g == CT_STATIC_SYM  ? "W8A8 (symmetric activations)"
           : g == CT_STATIC_ASYM ? "W8A8 (asymmetric activations)"
           : g == CT_WEIGHT_ONLY ? "W8A16"
                                 : "float";
}

/* Records module in group g (-1: float), checking that the parts of its fused layer agree
 * and that quantized experts are dynamic or weight-only. */
static enum vs_status record(struct ct_saver *s, const char *module, int g)
{
    if (json_object_set_new(s->planned, module, json_integer(g)))
        return vs_error_set(VS_ERR_NOMEM, "out of memory recording '%s'", module);
    bool expert;
    char *key = fused_key(module, &expert);
    enum vs_status st = VS_OK;
    /* CompressedTensorsW8A8Int8MoEMethod takes per-token dynamic activations only (W8A16
     * experts go to the WNA16 MoE methods) */
    if (expert && (g == CT_STATIC_SYM || g == CT_STATIC_ASYM))
        st = vs_error_set(VS_ERR_UNSUPPORTED,
                          "%s: %s: vLLM's int8 fused-MoE kernels take dynamic per-token activations only; quantize "
                          "the experts with W8A8_DYNAMIC or W8A16 (a linear_quant entry for '*mlp.experts*')",
                          SAVER_NAME, module);
    else if (key) {
        json_t *seen = json_object_get(s->fused, key);
        if (seen && json_integer_value(seen) != g)
            st = vs_error_set(VS_ERR_UNSUPPORTED,
                              "%s: %s: %s, but another part of the layer vLLM fuses as %s is %s; give all its parts "
                              "one scheme (include/exclude patterns of linear_quant)",
                              SAVER_NAME, module, group_label(g), key, group_label((int)json_integer_value(seen)));
        else if (!seen && (json_object_set_new(s->fused, key, json_integer(g)) ||
                           (expert && g >= 0 && json_object_set_new(s->expert_layers, key, json_integer(g)))))
            st = vs_error_set(VS_ERR_NOMEM, "out of memory recording '%s'", module);
        free(key);
    }
    if (st != VS_OK)
        return st;
    if (expert && g >= 0)
        return VS_OK; /* targeted per MoE layer, see expert_target */
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
         * an adapter supports it. Offline QuaRot and smoothing are folded into the weights
         * and norms: nothing of them is left for the loader. */
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
    json_decref(s->expert_layers);
    json_decref(s->planned);
    free(s->head);
    json_decref(s->kernel_warned);
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
    ok = ok && (s->ignore = json_array()) && (s->fused = json_object()) && (s->expert_layers = json_object()) &&
              (s->planned = json_object()) && (s->kernel_warned = json_object());
    s->dtype = ctx->global_dtype;
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

static int group_of(enum vs_scheme scheme, bool input_symmetric)
{
    switch (scheme) {
    case VS_SCHEME_W8A8_DYNAMIC:
        return CT_DYNAMIC;
    case VS_SCHEME_W8A8:
        return input_symmetric ? CT_STATIC_SYM : CT_STATIC_ASYM;
    case VS_SCHEME_W8A16:
        return CT_WEIGHT_ONLY;
    default:
        return -2;
    }
}

/* A dense W8A16 Linear runs in vLLM on the first WNA16 kernel (mixed_precision/__init__.py,
 * choose_mp_linear_kernel) whose can_implement takes its per-partition shape: Machete (sm90: in
 * % 64, out % 128), AllSpark (sm80-89: in % 16, out % 16), Marlin (sm80+: out % 64, in % 128),
 * Exllama (float16 activations, out % 4); BitBLAS only with its package installed. A shape
 * that none of them takes fails the load ("Failed to find a kernel that can implement the
 * WNA16 linear layer"). Warned of once per shape at tensor-parallel size 1 (more ranks divide
 * the shapes further); not refused, as the kernels differ between vLLM versions. */
static enum vs_status warn_no_wna16_kernel(struct ct_saver *s, const struct vs_planned_linear *l)
{
    int64_t out = l->rows, in = l->cols;
    bool machete = in % 64 == 0 && out % 128 == 0, allspark = in % 16 == 0 && out % 16 == 0;
    bool marlin = out % 64 == 0 && in % 128 == 0, exllama = s->dtype == VS_DTYPE_F16 && out % 4 == 0;
    if (machete || allspark || marlin || exllama)
        return VS_OK;
    char key[48];
    snprintf(key, sizeof key, "%lld x %lld", (long long)out, (long long)in);
    if (json_object_get(s->kernel_warned, key))
        return VS_OK;
    if (json_object_set_new(s->kernel_warned, key, json_true()) != 0)
        return VS_ERR_NOMEM;
    vs_warn("%s: %s (and every W8A16 Linear of shape [%s]): no vLLM W8A16 GPU kernel takes this shape "
            "(Machete: in %% 64 and out %% 128; AllSpark: both %% 16; Marlin: out %% 64 and in %% 128; Exllama: float16 "
            "models only), so vLLM is expected to fail loading the export; keep it W8A8 or float",
            SAVER_NAME, l->module, key);
    return VS_OK;
}

static enum vs_status ct_plan_linear(void *p, const struct vs_planned_linear *l)
{
    int g = l->quantized ? group_of(l->scheme, l->input_symmetric) : -1;
    if (g == -2)
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: %s: scheme %s is not written by this saver", SAVER_NAME,
                            l->module, vs_scheme_name(l->scheme));
    if (g == CT_WEIGHT_ONLY && l->cols % 4)
        return vs_error_set(VS_ERR_UNSUPPORTED,
                            "%s: %s: W8A16 needs an input size divisible by 4 (vLLM's packed weight has in / 4 int32 "
                            "columns), not %lld",
                            SAVER_NAME, l->module, (long long)l->cols);
    if (g == CT_WEIGHT_ONLY && !strstr(l->module, ".mlp.experts.")) { /* experts: the WNA16 MoE methods */
        enum vs_status st = warn_no_wna16_kernel(p, l);
        if (st != VS_OK)
            return st;
    }
    return record(p, l->module, g);
}

static enum vs_status ct_add_float(void *p, const char *name, enum vs_dtype dtype, int ndim, const int64_t *shape,
                                   const void *data)
{
    struct ct_saver *ct = p;
    static const char head_suffix[] = "lm_head.weight";
    size_t n = strlen(name), k = sizeof head_suffix - 1;
    if (!ct->head && ndim == 2 && n >= k && !strcmp(name + n - k, head_suffix) && (n == k || name[n - k - 1] == '.') &&
        !(ct->head = vs_strndup(name, n - strlen(".weight"))))
        return VS_ERR_NOMEM;
    return put(p, name, "", dtype, ndim, shape, data);
}

/* pack-quantized (compressed-tensors' pack_to_int32): each value plus 2^(bits-1) as unsigned
 * bits, 32 / bits values to a little-endian int32 word, the first in the lowest bits; for 8 bits
 * the word's bytes are the row's bytes (q + 128) in order. */
static enum vs_status put_packed(struct ct_saver *s, const struct vs_saved_linear *l)
{
    size_t n = (size_t)l->rows * (size_t)l->cols;
    uint8_t *packed = vs_malloc(n);
    if (!packed)
        return vs_error_set(VS_ERR_NOMEM, "%s: out of memory packing the weight", l->module);
    for (size_t i = 0; i < n; i++)
        packed[i] = (uint8_t)((int)l->weight[i] + 128);
    int64_t pshape[2] = {l->rows, l->cols / 4}, two = 2, wshape[2] = {l->rows, l->cols};
    enum vs_status st = put(s, l->module, ".weight_packed", VS_DTYPE_I32, 2, pshape, packed);
    free(packed);
    if (st == VS_OK)
        st = put(s, l->module, ".weight_shape", VS_DTYPE_I64, 1, &two, wshape);
    return st;
}

static enum vs_status ct_add_linear(void *p, const struct vs_saved_linear *l)
{
    struct ct_saver *s = p;
    int g = group_of(l->scheme, l->input_symmetric);
    json_t *planned = json_object_get(s->planned, l->module);
    enum vs_status st = VS_OK;
    if (!planned || json_integer_value(planned) != g)
        st = vs_error_set(VS_ERR_INTERNAL, "%s: %s: written as %s, planned as %s", SAVER_NAME, l->module,
                          group_label(g), planned ? group_label((int)json_integer_value(planned)) : "nothing");
    int64_t wshape[2] = {l->rows, l->cols}, sshape[2] = {l->rows, 1}, one = 1;
    if (st == VS_OK)
        st = g == CT_WEIGHT_ONLY ? put_packed(s, l) : put(s, l->module, ".weight", VS_DTYPE_I8, 2, wshape, l->weight);
    if (st == VS_OK)
        st = put(s, l->module, ".weight_scale", VS_DTYPE_F32, 2, sshape, l->weight_scale);
    if (st == VS_OK && (g == CT_STATIC_SYM || g == CT_STATIC_ASYM))
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

static const char *group_format(int g) { return g == CT_WEIGHT_ONLY ? "pack-quantized" : "int-quantized"; }

/* vLLM asks a FusedMoE layer's scheme for the names of its expert 0 (`<layer>.0.gate_proj`, ...,
 * in vLLM's names), so each quantized MoE layer is one regex on the part of its name vLLM's
 * hf_to_vllm_mapper leaves alone (from ".layers."). */
static json_t *expert_target(const char *key)
{
    const char *tail = strstr(key, ".layers.");
    tail = tail ? tail : key;
    char *re = vs_malloc(2 * strlen(tail) + 64), *o = re;
    if (!re)
        return NULL;
    o += sprintf(o, "re:.*");
    for (const char *c = tail; *c; c++) {
        if (*c == '.')
            *o++ = '\\';
        *o++ = *c;
    }
    strcpy(o, "\\.\\d+\\.(gate_proj|up_proj|down_proj)$");
    json_t *j = json_string(re);
    free(re);
    return j;
}

/* One scheme: the class name "Linear" (which vLLM also applies to FusedMoE layers), as
 * llm-compressor writes it. Several: every module by name and every MoE layer by regex, never a
 * class name: vLLM matches a layer's own name, then its class name, and only then the names of
 * the parts of a fused layer (qkv_proj, gate_up_proj), so "Linear" would take the fused layers
 * from the groups that list their parts. */
static json_t *group_targets(const struct ct_saver *s, int g, bool one_group)
{
    if (one_group)
        return json_pack("[s]", "Linear");
    json_t *t = json_deep_copy(s->members[g]);
    const char *key;
    json_t *v;
    json_object_foreach(s->expert_layers, key, v)
    {
        if (t && json_integer_value(v) == g && json_array_append_new(t, expert_target(key))) {
            json_decref(t);
            t = NULL;
        }
    }
    return t;
}

static bool group_used(const struct ct_saver *s, int g)
{
    if (json_array_size(s->members[g]))
        return true;
    const char *key;
    json_t *v;
    json_object_foreach(s->expert_layers, key, v)
    {
        if (json_integer_value(v) == g)
            return true;
    }
    return false;
}

static json_t *quantization_config(const struct ct_saver *s)
{
    int used = 0;
    const char *format = NULL;
    for (int g = 0; g < CT_GROUPS; g++)
        if (group_used(s, g)) {
            used++;
            format = !format || strcmp(format, group_format(g)) == 0 ? group_format(g) : "mixed-precision";
        }
    json_t *groups = json_object();
    int n = 0;
    for (int g = 0; g < CT_GROUPS && groups; g++) {
        if (!group_used(s, g))
            continue;
        json_t *input = g == CT_WEIGHT_ONLY ? json_null()
                        : g == CT_DYNAMIC   ? qargs("token", true, true, NULL)
                                            : qargs("tensor", g == CT_STATIC_SYM, false, "minmax");
        json_t *group = json_pack("{s:o, s:o, s:o, s:n, s:s}", "targets", group_targets(s, g, used == 1), "weights",
                                  qargs("channel", true, false, "minmax"), "input_activations", input,
                                  "output_activations", "format", group_format(g));
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
                     format ? format : "int-quantized", "global_compression_ratio", "ignore", s->ignore,
                     "kv_cache_scheme", "quant_method", "compressed-tensors", "quantization_status", "compressed",
                     "sparsity_config", "version", "0.11.0");
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
    const char *head = s->head ? s->head : "lm_head";
    bool listed = false;
    for (size_t i = 0; i < json_array_size(s->ignore); i++)
        listed = listed || strcmp(json_string_value(json_array_get(s->ignore, i)), head) == 0;
    if (!listed && json_array_append_new(s->ignore, json_string(head))) {
        ct_abort(s);
        return vs_error_set(VS_ERR_NOMEM, "out of memory listing %s", head);
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

/* QuaRot's rotation, written by the caller to optional/quarot.safetensors: no loader reads it
 * (compressed-tensors has no field for it; vLLM loads the directory's top-level weight files
 * only), `vlmslim eval` does, to compare hidden states in the float model's basis. */
static enum vs_status ct_set_optional(void *s, const char *json_text)
{
    (void)s, (void)json_text;
    return VS_OK;
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
    .plan_linear = ct_plan_linear,
    .add_linear = ct_add_linear,
    .set_optional = ct_set_optional,
    .finish = ct_finish,
    .abort = ct_abort,
    .bytes_written = ct_bytes_written,
};
