/* The InternVL adapter: units in the module order of InternVLChatModel (the original layout,
 * which msModelSlim exports and vLLM's InternVLChatModel loads) or of transformers'
 * InternVLForConditionalGeneration (the -HF checkpoints), under the checkpoint's own names. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "io/json_util.h"
#include "model/internvl/internvl.h"
#include "model/qwen3_vl_forward.h"

const struct vs_internvl_names vs_internvl_original_names = {
    .tower = "vision_model", .cls = "vision_model.embeddings.class_embedding",
    .patch = "vision_model.embeddings.patch_embedding", .pos = "vision_model.embeddings.position_embedding",
    .layer = "vision_model.encoder.layers.", .norm1 = "norm1", .norm2 = "norm2", .qkv = "attn.qkv",
    .q_norm = "attn.q_norm", .k_norm = "attn.k_norm", .proj = "attn.proj", .fc1 = "mlp.fc1", .fc2 = "mlp.fc2",
    .ls1 = "ls1", .ls2 = "ls2", .proj_norm = "mlp1.0", .proj1 = "mlp1.1", .proj2 = "mlp1.3",
};

const struct vs_internvl_names vs_internvl_hf_names = {
    .tower = "model.vision_tower", .cls = "model.vision_tower.embeddings.cls_token",
    .patch = "model.vision_tower.embeddings.patch_embeddings.projection",
    .pos = "model.vision_tower.embeddings.position_embeddings", .layer = "model.vision_tower.encoder.layer.",
    .norm1 = "layernorm_before", .norm2 = "layernorm_after", .q = "attention.q_proj", .k = "attention.k_proj",
    .v = "attention.v_proj", .q_norm = "attention.q_norm", .k_norm = "attention.k_norm",
    .proj = "attention.projection_layer", .fc1 = "mlp.fc1", .fc2 = "mlp.fc2", .ls1 = "lambda_1", .ls2 = "lambda_2",
    .post_norm = "model.vision_tower.layernorm", .proj_norm = "model.multi_modal_projector.layer_norm",
    .proj1 = "model.multi_modal_projector.linear_1", .proj2 = "model.multi_modal_projector.linear_2",
};

static const struct vs_qwen_vl_family_desc original = {
    .hf_model_type = "internvl_chat", .moe = false,
    .parse_config = vs_internvl_parse_config, .check_counts = vs_internvl_check_counts,
    .vision_forward = vs_internvl_vision_forward, .check_inputs = vs_internvl_check_inputs, .own_names = true,
}, hf = {
    .hf_model_type = "internvl", .moe = false,
    .parse_config = vs_internvl_hf_parse_config, .check_counts = vs_internvl_check_counts,
    .vision_forward = vs_internvl_vision_forward, .check_inputs = vs_internvl_check_inputs, .own_names = true,
};

/* The layout by config.json's model_type: transformers' "internvl", else the original one (whose
 * open names what it expects). The display names say the layout too (-HF), since the two
 * layouts' best practices name different modules: a mismatch is refused before any work. */
static enum vs_status open_model(const char *model_path, const char *model_type, struct vs_model **out)
{
    char *path = vs_path_join(model_path, "config.json");
    json_t *cfg = NULL;
    if (!path)
        return VS_ERR_NOMEM;
    if (vs_fs_is_file(path))
        vs_json_load_file(path, &cfg); /* its errors are the open's own to report */
    vs_error_clear();
    const char *type = json_string_value(json_object_get(cfg, "model_type"));
    bool is_hf = type && !strcmp(type, "internvl"), is_original = type && !strcmp(type, "internvl_chat");
    size_t n = strlen(model_type);
    bool hf_name = n > 3 && !strcmp(model_type + n - 3, "-HF");
    enum vs_status st = VS_OK;
    if ((is_hf && !hf_name) || (is_original && hf_name))
        st = vs_error_set(VS_ERR_MODEL, "%s: model_type '%s' is %s InternVL layout, but --model_type %s names the %s one; "
                          "use %.*s%s", path, type, is_hf ? "transformers'" : "the original", model_type,
                          is_hf ? "original" : "-HF", (int)(is_hf ? n : n - 3), model_type, is_hf ? "-HF" : "");
    json_decref(cfg);
    free(path);
    return st != VS_OK ? st : vs_qwen3_vl_open(model_path, model_type, is_hf ? &hf : &original, out);
}

/* Adds `<name>.weight` and `<name>.bias` (a Linear when `linear`, else a LayerNorm's), or only the
 * weight when !bias. */
static enum vs_status add_pair(struct vs_model *m, struct vs_unit *u, const char *name, int64_t out, int64_t in,
                               bool linear, bool bias)
{
    if (linear)
        return vs_qwen3_vl_add_linear(m, u, "", name, out, in, bias);
    char s[160];
    snprintf(s, sizeof s, "%s.weight", name);
    enum vs_status st = vs_qwen3_vl_add(m, u, "", s, 1, &out);
    snprintf(s, sizeof s, "%s.bias", name);
    return st == VS_OK && bias ? vs_qwen3_vl_add(m, u, "", s, 1, &out) : st;
}

/* The tower (embeddings; per layer the attention, its q/k norms, the MLP, the norms, the layer
 * scales; the final LayerNorm where there is one), then the projector (LayerNorm, Linear, GELU,
 * Linear), which msModelSlim keeps outside its vision unit and vLLM builds of plain nn.Linear:
 * kept float. Names of the checkpoint's layout (x->n). */
static enum vs_status load_vision(struct vs_model *m, struct vs_unit *u)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    const struct vs_internvl_config *x = vs_internvl_config(m);
    const struct vs_internvl_names *n = x->n;
    int64_t c = d->v_hidden, ci = d->v_intermediate, wide = c * x->shuffle * x->shuffle;
    int64_t cls[3] = {1, 1, c}, conv[4] = {c, 3, d->patch_size, d->patch_size};
    int64_t pos[3] = {1, d->num_position_embeddings, c};
    char name[192];
    /* in named_parameters() order, which msModelSlim's saver writes: a module's own parameters
     * before its children's (class token and position table before the patch Conv2d; a layer's
     * scales first), the children in registration order */
    enum vs_status st = vs_qwen3_vl_add(m, u, "", n->cls, 3, cls);
    if (st == VS_OK)
        st = vs_qwen3_vl_add(m, u, "", n->pos, 3, pos);
    snprintf(name, sizeof name, "%s.weight", n->patch);
    if (st == VS_OK)
        st = vs_qwen3_vl_add(m, u, "", name, 4, conv);
    snprintf(name, sizeof name, "%s.bias", n->patch);
    if (st == VS_OK)
        st = vs_qwen3_vl_add(m, u, "", name, 1, &c);
    for (int64_t i = 0; st == VS_OK && i < d->v_depth; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s%lld.", n->layer, (long long)i);
        st = vs_qwen3_vl_add(m, u, p, n->ls1, 1, &c);
        if (st == VS_OK)
            st = vs_qwen3_vl_add(m, u, p, n->ls2, 1, &c);
        const char *attn[3] = {n->qkv ? n->qkv : n->q, n->k, n->v};
        for (int k = 0; st == VS_OK && k < (n->qkv ? 1 : 3); k++)
            st = vs_qwen3_vl_add_linear(m, u, p, attn[k], n->qkv ? 3 * c : c, c, x->qkv_bias);
        /* the original attention registers its q/k norms before proj, transformers' after */
        bool norms_first = n->qkv != NULL;
        if (st == VS_OK && !norms_first)
            st = vs_qwen3_vl_add_linear(m, u, p, n->proj, c, c, true);
        if (st == VS_OK && x->qk_norm)
            st = add_pair(m, u, (snprintf(name, sizeof name, "%s%s", p, n->q_norm), name), c, 0, false, false);
        if (st == VS_OK && x->qk_norm)
            st = add_pair(m, u, (snprintf(name, sizeof name, "%s%s", p, n->k_norm), name), c, 0, false, false);
        if (st == VS_OK && norms_first)
            st = vs_qwen3_vl_add_linear(m, u, p, n->proj, c, c, true);
        if (st == VS_OK)
            st = vs_qwen3_vl_add_linear(m, u, p, n->fc1, ci, c, true);
        if (st == VS_OK)
            st = vs_qwen3_vl_add_linear(m, u, p, n->fc2, c, ci, true);
        snprintf(name, sizeof name, "%s%s", p, n->norm1);
        if (st == VS_OK)
            st = add_pair(m, u, name, c, 0, false, !x->rms_norm);
        snprintf(name, sizeof name, "%s%s", p, n->norm2);
        if (st == VS_OK)
            st = add_pair(m, u, name, c, 0, false, !x->rms_norm);
    }
    if (st == VS_OK && x->post_norm)
        st = add_pair(m, u, n->post_norm, c, 0, false, true);
    if (st == VS_OK)
        st = add_pair(m, u, n->proj_norm, wide, 0, false, true);
    if (st == VS_OK)
        st = add_pair(m, u, n->proj1, d->hidden, wide, true, true);
    if (st == VS_OK)
        st = add_pair(m, u, n->proj2, d->hidden, d->hidden, true, true);
    if (st == VS_OK)
        st = vs_unit_keep_float(u, n->proj1);
    if (st == VS_OK)
        st = vs_unit_keep_float(u, n->proj2);
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
    if (i == 0) /* msModelSlim's name for it in the original layout */
        snprintf(name, sizeof name, "%s", vs_internvl_config(m)->n->tower);
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
