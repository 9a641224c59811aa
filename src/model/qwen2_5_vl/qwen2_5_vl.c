/* The Qwen2.5-VL adapter: units in the module order of Qwen2_5_VLForConditionalGeneration,
 * named as transformers >= 4.52 names them whichever layout the checkpoint has. */
#include <stdio.h>

#include "model/qwen2_5_vl/qwen2_5_vl.h"
#include "model/qwen3_vl_forward.h"

static const struct vs_qwen_vl_family_desc family = {
    .hf_model_type = "qwen2_5_vl", .moe = false,
    .parse_config = vs_qwen2_5_vl_parse_config, .check_counts = vs_qwen2_5_vl_check_counts,
    .vision_forward = vs_qwen2_5_vl_vision_forward,
};

static enum vs_status open_model(const char *model_path, const char *model_type, struct vs_model **out)
{
    return vs_qwen3_vl_open(model_path, model_type, &family, out);
}

/* Qwen2_5_VisionTransformerPretrainedModel: patch_embed (a Conv3d without bias), blocks
 * (norm1, norm2 RMSNorms, attn.qkv, attn.proj, mlp.gate_proj, up_proj, down_proj, all with
 * biases), merger (ln_q RMSNorm, mlp.0, mlp.2). */
static enum vs_status load_vision(struct vs_model *m, struct vs_unit *u)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    int64_t hv = d->v_hidden, vi = d->v_intermediate, merged = hv * d->merge_size * d->merge_size;
    int64_t conv[5] = {hv, d->in_channels, d->temporal_patch_size, d->patch_size, d->patch_size};
    enum vs_status st = vs_qwen3_vl_add(m, u, "visual.", "patch_embed.proj.weight", 5, conv);
    for (int64_t i = 0; st == VS_OK && i < d->v_depth; i++) {
        char bp[128];
        snprintf(bp, sizeof bp, "visual.blocks.%lld.", (long long)i);
        st = vs_qwen3_vl_add(m, u, bp, "norm1.weight", 1, &hv);
        if (st == VS_OK)
            st = vs_qwen3_vl_add(m, u, bp, "norm2.weight", 1, &hv);
        if (st == VS_OK)
            st = vs_qwen3_vl_add_linear(m, u, bp, "attn.qkv", 3 * hv, hv, true);
        if (st == VS_OK)
            st = vs_qwen3_vl_add_linear(m, u, bp, "attn.proj", hv, hv, true);
        if (st == VS_OK)
            st = vs_qwen3_vl_add_linear(m, u, bp, "mlp.gate_proj", vi, hv, true);
        if (st == VS_OK)
            st = vs_qwen3_vl_add_linear(m, u, bp, "mlp.up_proj", vi, hv, true);
        if (st == VS_OK)
            st = vs_qwen3_vl_add_linear(m, u, bp, "mlp.down_proj", hv, vi, true);
    }
    if (st == VS_OK)
        st = vs_qwen3_vl_add(m, u, "visual.merger.", "ln_q.weight", 1, &hv);
    if (st == VS_OK)
        st = vs_qwen3_vl_add_linear(m, u, "visual.merger.", "mlp.0", merged, merged, true);
    if (st == VS_OK)
        st = vs_qwen3_vl_add_linear(m, u, "visual.merger.", "mlp.2", d->out_hidden, merged, true);
    return st;
}

/* Qwen2DecoderLayer: self_attn (q, k, v with biases, o without), mlp, input_layernorm,
 * post_attention_layernorm. */
static enum vs_status load_layer(struct vs_model *m, struct vs_unit *u, int64_t layer)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    char p[128];
    snprintf(p, sizeof p, "model.layers.%lld.", (long long)layer);
    enum vs_status st = vs_qwen_vl_add_attention(m, u, p, true, false);
    if (st == VS_OK)
        st = vs_qwen3_vl_add_dense_mlp(m, u, p, d->intermediate);
    if (st == VS_OK)
        st = vs_qwen3_vl_add(m, u, p, "input_layernorm.weight", 1, &d->hidden);
    if (st == VS_OK)
        st = vs_qwen3_vl_add(m, u, p, "post_attention_layernorm.weight", 1, &d->hidden);
    return st;
}

static enum vs_status unit_load(struct vs_model *m, size_t i, struct vs_unit **out)
{
    if (i >= vs_qwen3_vl_unit_count(m))
        return vs_error_set(VS_ERR_INTERNAL, "unit index %zu out of range", i);
    char name[128];
    if (i == 0)
        snprintf(name, sizeof name, "visual");
    else
        snprintf(name, sizeof name, "model.layers.%zu", i - 1);
    struct vs_unit *u = vs_unit_new(name);
    if (!u)
        return VS_ERR_NOMEM;
    enum vs_status st = i == 0 ? load_vision(m, u) : load_layer(m, u, (int64_t)i - 1);
    if (st != VS_OK) {
        vs_unit_free(u);
        return st;
    }
    *out = u;
    return VS_OK;
}

const struct vs_adapter_ops vs_qwen2_5_vl_adapter = {
    .abi_version = VS_ADAPTER_ABI_VERSION,
    .key = "qwen2_5_vl",
    .pedigree = "qwen2_5_vl",
    .open = open_model,
    .close = vs_qwen3_vl_close,
    .unit_count = vs_qwen3_vl_unit_count,
    .unit_load = unit_load,
    .tail_load = vs_qwen3_vl_tail_load,
    .global_dtype = vs_qwen3_vl_global_dtype,
    VS_QWEN3_VL_FORWARD_OPS,
    .unit_subgraphs = vs_qwen2_5_vl_unit_subgraphs,
    .quarot_sizes = vs_qwen2_5_vl_quarot_sizes,
    .quarot_pre_run = vs_qwen2_5_vl_quarot_pre_run,
    .quarot_unit = vs_qwen2_5_vl_quarot_unit,
    .quarot_post_run = vs_qwen2_5_vl_quarot_post_run,
    .set_tail = vs_qwen3_vl_set_tail,
};
