/* The InternVL adapter: units in InternVLChatModel's module order, under the checkpoint's own
 * (original layout) names, which are those msModelSlim exports and vLLM's InternVLChatModel loads. */
#include <stdio.h>

#include "model/internvl/internvl.h"
#include "model/qwen3_vl_forward.h"

static const struct vs_qwen_vl_family_desc family = {
    .hf_model_type = "internvl_chat", .moe = false,
    .parse_config = vs_internvl_parse_config, .check_counts = vs_internvl_check_counts,
    .vision_forward = vs_internvl_vision_forward, .check_inputs = vs_internvl_check_inputs,
};

static enum vs_status open_model(const char *model_path, const char *model_type, struct vs_model **out)
{
    return vs_qwen3_vl_open(model_path, model_type, &family, out);
}

/* A norm of the tower at `<prefix><name>`: weight, and bias for a LayerNorm. */
static enum vs_status add_norm(struct vs_model *m, struct vs_unit *u, const char *prefix, const char *name,
                               int64_t n, bool bias)
{
    char s[64];
    snprintf(s, sizeof s, "%s.weight", name);
    enum vs_status st = vs_qwen3_vl_add(m, u, prefix, s, 1, &n);
    snprintf(s, sizeof s, "%s.bias", name);
    return st == VS_OK && bias ? vs_qwen3_vl_add(m, u, prefix, s, 1, &n) : st;
}

/* InternVisionModel (embeddings, encoder.layers: norm1, attn.qkv, [attn.q_norm, attn.k_norm],
 * attn.proj, mlp.fc1, mlp.fc2, norm2, ls1, ls2), then mlp1 (LayerNorm, Linear, GELU, Linear),
 * which msModelSlim keeps outside its vision unit and so never quantizes: kept float here. */
static enum vs_status load_vision(struct vs_model *m, struct vs_unit *u)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    const struct vs_internvl_config *x = vs_internvl_config(m);
    int64_t c = d->v_hidden, ci = d->v_intermediate, wide = c * x->shuffle * x->shuffle;
    int64_t cls[3] = {1, 1, c}, conv[4] = {c, 3, d->patch_size, d->patch_size};
    int64_t pos[3] = {1, d->num_position_embeddings, c};
    const char *e = "vision_model.embeddings.";
    enum vs_status st = vs_qwen3_vl_add(m, u, e, "class_embedding", 3, cls);
    if (st == VS_OK)
        st = vs_qwen3_vl_add(m, u, e, "patch_embedding.weight", 4, conv);
    if (st == VS_OK)
        st = vs_qwen3_vl_add(m, u, e, "patch_embedding.bias", 1, &c);
    if (st == VS_OK)
        st = vs_qwen3_vl_add(m, u, e, "position_embedding", 3, pos);
    for (int64_t i = 0; st == VS_OK && i < d->v_depth; i++) {
        char p[96];
        snprintf(p, sizeof p, "vision_model.encoder.layers.%lld.", (long long)i);
        st = vs_qwen3_vl_add_linear(m, u, p, "attn.qkv", 3 * c, c, x->qkv_bias);
        if (st == VS_OK && x->qk_norm)
            st = vs_qwen3_vl_add(m, u, p, "attn.q_norm.weight", 1, &c);
        if (st == VS_OK && x->qk_norm)
            st = vs_qwen3_vl_add(m, u, p, "attn.k_norm.weight", 1, &c);
        if (st == VS_OK)
            st = vs_qwen3_vl_add_linear(m, u, p, "attn.proj", c, c, true);
        if (st == VS_OK)
            st = vs_qwen3_vl_add_linear(m, u, p, "mlp.fc1", ci, c, true);
        if (st == VS_OK)
            st = vs_qwen3_vl_add_linear(m, u, p, "mlp.fc2", c, ci, true);
        if (st == VS_OK)
            st = add_norm(m, u, p, "norm1", c, !x->rms_norm);
        if (st == VS_OK)
            st = add_norm(m, u, p, "norm2", c, !x->rms_norm);
        if (st == VS_OK)
            st = vs_qwen3_vl_add(m, u, p, "ls1", 1, &c);
        if (st == VS_OK)
            st = vs_qwen3_vl_add(m, u, p, "ls2", 1, &c);
    }
    if (st == VS_OK)
        st = add_norm(m, u, "mlp1.", "0", wide, true);
    if (st == VS_OK)
        st = vs_qwen3_vl_add_linear(m, u, "mlp1.", "1", d->hidden, wide, true);
    if (st == VS_OK)
        st = vs_qwen3_vl_add_linear(m, u, "mlp1.", "3", d->hidden, d->hidden, true);
    if (st == VS_OK)
        st = vs_unit_keep_float(u, "mlp1.1");
    if (st == VS_OK)
        st = vs_unit_keep_float(u, "mlp1.3");
    return st;
}

/* Qwen3DecoderLayer: self_attn (q, k, v, o, q_norm, k_norm), mlp, input_layernorm,
 * post_attention_layernorm. */
static enum vs_status load_layer(struct vs_model *m, struct vs_unit *u, int64_t layer)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    char p[128];
    snprintf(p, sizeof p, "%slayers.%lld.", d->text_prefix, (long long)layer);
    enum vs_status st = vs_qwen_vl_add_attention(m, u, p, false, true);
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
    if (i == 0) /* msModelSlim's name for it */
        snprintf(name, sizeof name, "vision_model");
    else
        snprintf(name, sizeof name, "%slayers.%zu", m->d.text_prefix, i - 1);
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

const struct vs_adapter_ops vs_internvl_adapter = {
    .abi_version = VS_ADAPTER_ABI_VERSION,
    .key = "internvl3_5_dense",
    .pedigree = "internvl3_5",
    .open = open_model,
    .close = vs_qwen3_vl_close,
    .unit_count = vs_qwen3_vl_unit_count,
    .unit_load = unit_load,
    .tail_load = vs_qwen3_vl_tail_load,
    .global_dtype = vs_qwen3_vl_global_dtype,
    VS_QWEN3_VL_FORWARD_OPS,
    .unit_subgraphs = vs_internvl_unit_subgraphs,
    .quarot_sizes = vs_internvl_quarot_sizes,
    .quarot_pre_run = vs_internvl_quarot_pre_run,
    .quarot_unit = vs_internvl_quarot_unit,
    .quarot_post_run = vs_internvl_quarot_post_run,
    .set_tail = vs_qwen3_vl_set_tail,
};
