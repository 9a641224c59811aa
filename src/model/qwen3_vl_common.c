#include "model/qwen3_vl_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "base/log.h"
#include "io/json_util.h"

/* How many checkpoint tensors are named prefix… */
static size_t prefix_count(const struct vs_st_model *w, const char *prefix)
{
    size_t n = 0, len = strlen(prefix);
    for (size_t i = 0; i < vs_st_model_count(w); i++)
        n += strncmp(vs_st_model_name_at(w, i), prefix, len) == 0;
    return n;
}

enum vs_status vs_qwen3_vl_open(const char *model_path, const char *model_type,
                                const struct vs_qwen_vl_family_desc *family, struct vs_model **out)
{
    struct vs_model *m = vs_calloc(1, sizeof *m);
    if (!m)
        return VS_ERR_NOMEM;
    const char *hf_model_type = family->hf_model_type;
    m->moe = family->moe;
    m->vision_forward = family->vision_forward;
    m->check_inputs = family->check_inputs;
    m->d.head_name = "lm_head";
    enum vs_status st = VS_ERR_NOMEM;
    if (!(m->path = vs_strdup(model_path)) || !(m->model_type = vs_strdup(model_type)) ||
        !(m->config_path = vs_path_join(model_path, "config.json")))
        goto fail;
    if (!vs_fs_is_file(m->config_path)) {
        st = vs_error_set(VS_ERR_MODEL, "%s: not found; --model_path must be a Hugging Face checkpoint directory",
                          m->config_path);
        goto fail;
    }
    if ((st = vs_json_load_file(m->config_path, &m->config)) != VS_OK)
        goto fail;
    if (!json_is_object(m->config)) {
        st = vs_error_set(VS_ERR_MODEL, "%s: expected a JSON object", m->config_path);
        goto fail;
    }
    const char *mt = NULL;
    if ((st = vs_json_str_opt(m->config, "model_type", m->config_path, NULL, &mt)) != VS_OK)
        goto fail;
    if (!mt || strcmp(mt, hf_model_type) != 0) {
        st = vs_error_set(VS_ERR_MODEL,
                          "%s: model_type is '%s' but --model_type %s expects a '%s' checkpoint",
                          m->config_path, mt ? mt : "(missing)", model_type, hf_model_type);
        goto fail;
    }
    if ((st = family->parse_config(m)) != VS_OK || (st = vs_st_model_open(model_path, &m->weights)) != VS_OK)
        goto fail;
    /* the checkpoint's layout: transformers >= 4.52's (model.visual.*, model.language_model.*),
     * the older one (visual.*, model.layers.*), or neither found (read as the family names them) */
    bool new_layout = !family->own_names && prefix_count(m->weights, "model.language_model.") +
                                                prefix_count(m->weights, "model.visual.") > 0;
    bool old_layout = !family->own_names && prefix_count(m->weights, "model.layers.") + prefix_count(m->weights, "visual.") > 0;
    m->ck_vis_prefix = new_layout ? "model.visual." : old_layout ? "visual." : m->d.vis_prefix;
    m->ck_text_prefix = new_layout ? "model.language_model." : old_layout ? "model." : m->d.text_prefix;
    if ((st = family->check_counts(m)) != VS_OK)
        goto fail;
    if (!(m->used = vs_calloc(vs_st_model_count(m->weights) + 1, 1))) {
        st = VS_ERR_NOMEM;
        goto fail;
    }
    *out = m;
    return VS_OK;
fail:
    vs_qwen3_vl_close(m);
    return st;
}

void vs_qwen3_vl_close(struct vs_model *m)
{
    if (!m)
        return;
    if (m->weights)
        vs_st_model_close(m->weights);
    json_decref(m->config);
    if (m->ext_free)
        m->ext_free(m->ext);
    free(m->used);
    free(m->d.deepstack_indexes);
    free(m->d.mlp_only_layers);
    free(m->d.fullatt_indexes);
    free(m->path);
    free(m->config_path);
    free(m->model_type);
    free(m);
}

size_t vs_qwen3_vl_unit_count(const struct vs_model *m) { return 1 + (size_t)m->d.layers; }

enum vs_dtype vs_qwen3_vl_global_dtype(const struct vs_model *m) { return m->dtype; }

const char *vs_qwen3_vl_source_name(const struct vs_model *m, const char *name, char *buf, size_t cap)
{
    /* the vision prefix first: "model." (Qwen2.5-VL's text prefix) begins "model.visual." */
    const char *const from[] = {m->d.vis_prefix, m->d.text_prefix}, *const to[] = {m->ck_vis_prefix, m->ck_text_prefix};
    for (size_t i = 0; i < 2; i++) {
        if (!strcmp(from[i], to[i]))
            continue;
        size_t n = strlen(from[i]);
        if (strncmp(name, from[i], n) == 0 && (size_t)snprintf(buf, cap, "%s%s", to[i], name + n) < cap)
            return buf;
    }
    return name;
}

enum vs_status vs_qwen3_vl_get(struct vs_model *m, const char *name, const struct vs_st_tensor **out)
{
    char buf[512];
    name = vs_qwen3_vl_source_name(m, name, buf, sizeof buf);
    enum vs_status st = vs_st_model_get(m->weights, name, out);
    if (st != VS_OK)
        return st;
    size_t lo = 0, hi = vs_st_model_count(m->weights);
    while (lo < hi) { /* names are sorted */
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(vs_st_model_name_at(m->weights, mid), name);
        if (c == 0) {
            m->used[mid] = 1;
            break;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return VS_OK;
}

/* msModelSlim exports model parameters only; checkpoint tensors outside the model are dropped. */
/* Once per model: a runner may load the tail early (QuaRot) and again when writing it. */
static void warn_unused(struct vs_model *m)
{
    if (m->unused_warned)
        return;
    m->unused_warned = true;
    size_t n = vs_st_model_count(m->weights), unused = 0;
    for (size_t i = 0; i < n; i++) {
        if (m->used[i])
            continue;
        if (unused++ < 5)
            vs_warn("%s: tensor '%s' is not a parameter of the model and is not exported", m->path,
                    vs_st_model_name_at(m->weights, i));
    }
    if (unused > 5)
        vs_warn("%s: %zu more checkpoint tensors are not exported", m->path, unused - 5);
}


enum vs_status vs_qwen3_vl_get_checked(struct vs_model *m, const char *name, int ndim, const int64_t *shape,
                                       const struct vs_st_tensor **out)
{
    enum vs_status st = vs_qwen3_vl_get(m, name, out);
    if (st != VS_OK)
        return st;
    const struct vs_st_tensor *t = *out;
    bool ok = t->ndim == ndim && vs_dtype_is_float(t->dtype);
    for (int i = 0; ok && i < ndim; i++)
        ok = t->shape[i] == shape[i];
    if (!ok) {
        char want[128], got[128], buf[512];
        vs_format_shape(want, sizeof want, ndim, shape);
        vs_format_shape(got, sizeof got, t->ndim, t->shape);
        return vs_error_set(VS_ERR_MODEL, "%s: tensor '%s' is %s %s but %s implies a float tensor of shape %s",
                            t->file, vs_qwen3_vl_source_name(m, name, buf, sizeof buf), vs_dtype_name(t->dtype), got,
                            m->config_path, want);
    }
    return VS_OK;
}

enum vs_status vs_qwen3_vl_add(struct vs_model *m, struct vs_unit *u, const char *prefix,
                               const char *suffix, int ndim, const int64_t *shape)
{
    char name[512];
    snprintf(name, sizeof name, "%s%s", prefix, suffix);
    const struct vs_st_tensor *t;
    enum vs_status st = vs_qwen3_vl_get_checked(m, name, ndim, shape, &t);
    return st != VS_OK ? st : vs_unit_add_param(u, name, t);
}

enum vs_status vs_qwen3_vl_add_linear(struct vs_model *m, struct vs_unit *u, const char *prefix,
                                      const char *module, int64_t out, int64_t in, bool has_bias)
{
    char mod[512], w[520], b[520];
    snprintf(mod, sizeof mod, "%s%s", prefix, module);
    snprintf(w, sizeof w, "%s.weight", module);
    snprintf(b, sizeof b, "%s.bias", module);
    int64_t ws[2] = {out, in};
    enum vs_status st = vs_qwen3_vl_add(m, u, prefix, w, 2, ws);
    if (st == VS_OK && has_bias)
        st = vs_qwen3_vl_add(m, u, prefix, b, 1, &out);
    if (st != VS_OK)
        return st;
    snprintf(w, sizeof w, "%s.weight", mod);
    snprintf(b, sizeof b, "%s.bias", mod);
    return vs_unit_add_linear(u, mod, w, has_bias ? b : NULL);
}

static enum vs_status add_layer_norm(struct vs_model *m, struct vs_unit *u, const char *prefix,
                                     const char *module, int64_t dim)
{
    char w[256], b[256];
    snprintf(w, sizeof w, "%s.weight", module);
    snprintf(b, sizeof b, "%s.bias", module);
    enum vs_status st = vs_qwen3_vl_add(m, u, prefix, w, 1, &dim);
    return st != VS_OK ? st : vs_qwen3_vl_add(m, u, prefix, b, 1, &dim);
}

/* merger and deepstack mergers: norm, linear_fc1, linear_fc2 (Qwen3VLVisionPatchMerger). */
static enum vs_status add_merger(struct vs_model *m, struct vs_unit *u, const char *prefix, int64_t norm_dim)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    int64_t merged = d->v_hidden * d->merge_size * d->merge_size;
    enum vs_status st = add_layer_norm(m, u, prefix, "norm", norm_dim);
    if (st == VS_OK)
        st = vs_qwen3_vl_add_linear(m, u, prefix, "linear_fc1", merged, merged, true);
    if (st == VS_OK)
        st = vs_qwen3_vl_add_linear(m, u, prefix, "linear_fc2", d->out_hidden, merged, true);
    return st;
}

/* Module order of Qwen3VLVisionModel: patch_embed, pos_embed, blocks (norm1, norm2, attn.qkv,
 * attn.proj, mlp.linear_fc1, mlp.linear_fc2), merger, deepstack_merger_list. */
static enum vs_status load_vision(struct vs_model *m, struct vs_unit *u)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    const char *p = "model.visual.";
    int64_t conv[5] = {d->v_hidden, d->in_channels, d->temporal_patch_size, d->patch_size, d->patch_size};
    int64_t pos[2] = {d->num_position_embeddings, d->v_hidden};
    enum vs_status st = vs_qwen3_vl_add(m, u, p, "patch_embed.proj.weight", 5, conv);
    if (st == VS_OK)
        st = vs_qwen3_vl_add(m, u, p, "patch_embed.proj.bias", 1, &d->v_hidden);
    if (st == VS_OK)
        st = vs_qwen3_vl_add(m, u, p, "pos_embed.weight", 2, pos);
    for (int64_t i = 0; st == VS_OK && i < d->v_depth; i++) {
        char bp[128];
        snprintf(bp, sizeof bp, "model.visual.blocks.%lld.", (long long)i);
        st = add_layer_norm(m, u, bp, "norm1", d->v_hidden);
        if (st == VS_OK)
            st = add_layer_norm(m, u, bp, "norm2", d->v_hidden);
        if (st == VS_OK)
            st = vs_qwen3_vl_add_linear(m, u, bp, "attn.qkv", 3 * d->v_hidden, d->v_hidden, true);
        if (st == VS_OK)
            st = vs_qwen3_vl_add_linear(m, u, bp, "attn.proj", d->v_hidden, d->v_hidden, true);
        if (st == VS_OK)
            st = vs_qwen3_vl_add_linear(m, u, bp, "mlp.linear_fc1", d->v_intermediate, d->v_hidden, true);
        if (st == VS_OK)
            st = vs_qwen3_vl_add_linear(m, u, bp, "mlp.linear_fc2", d->v_hidden, d->v_intermediate, true);
    }
    if (st == VS_OK)
        st = add_merger(m, u, "model.visual.merger.", d->v_hidden);
    for (size_t j = 0; st == VS_OK && j < d->n_deepstack; j++) {
        char dp[128];
        snprintf(dp, sizeof dp, "model.visual.deepstack_merger_list.%zu.", j);
        st = add_merger(m, u, dp, d->v_hidden * d->merge_size * d->merge_size);
    }
    return st;
}

enum vs_status vs_qwen_vl_add_attention(struct vs_model *m, struct vs_unit *u, const char *p, bool qkv_bias,
                                        bool qk_norm)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    int64_t q = d->heads * d->head_dim, kv = d->kv_heads * d->head_dim;
    enum vs_status st = vs_qwen3_vl_add_linear(m, u, p, "self_attn.q_proj", q, d->hidden, qkv_bias);
    if (st == VS_OK)
        st = vs_qwen3_vl_add_linear(m, u, p, "self_attn.k_proj", kv, d->hidden, qkv_bias);
    if (st == VS_OK)
        st = vs_qwen3_vl_add_linear(m, u, p, "self_attn.v_proj", kv, d->hidden, qkv_bias);
    if (st == VS_OK)
        st = vs_qwen3_vl_add_linear(m, u, p, "self_attn.o_proj", d->hidden, q, false);
    if (st == VS_OK && qk_norm)
        st = vs_qwen3_vl_add(m, u, p, "self_attn.q_norm.weight", 1, &d->head_dim);
    if (st == VS_OK && qk_norm)
        st = vs_qwen3_vl_add(m, u, p, "self_attn.k_norm.weight", 1, &d->head_dim);
    return st;
}

/* Module order of a decoder layer: self_attn (q, k, v, o, q_norm, k_norm), mlp,
 * input_layernorm, post_attention_layernorm. */
static enum vs_status load_layer(struct vs_model *m, struct vs_unit *u, int64_t layer,
                                 vs_qwen3_vl_mlp_fn add_mlp)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    char p[128];
    snprintf(p, sizeof p, "model.language_model.layers.%lld.", (long long)layer);
    enum vs_status st = vs_qwen_vl_add_attention(m, u, p, false, true);
    if (st == VS_OK)
        st = add_mlp(m, u, layer, p);
    if (st == VS_OK)
        st = vs_qwen3_vl_add(m, u, p, "input_layernorm.weight", 1, &d->hidden);
    if (st == VS_OK)
        st = vs_qwen3_vl_add(m, u, p, "post_attention_layernorm.weight", 1, &d->hidden);
    return st;
}

enum vs_status vs_qwen3_vl_unit_load(struct vs_model *m, size_t i, vs_qwen3_vl_mlp_fn add_mlp,
                                     struct vs_unit **out)
{
    if (i >= vs_qwen3_vl_unit_count(m))
        return vs_error_set(VS_ERR_INTERNAL, "unit index %zu out of range", i);
    char name[128];
    if (i == 0)
        snprintf(name, sizeof name, "model.visual");
    else
        snprintf(name, sizeof name, "model.language_model.layers.%zu", i - 1);
    struct vs_unit *u = vs_unit_new(name);
    if (!u)
        return VS_ERR_NOMEM;
    enum vs_status st = i == 0 ? load_vision(m, u) : load_layer(m, u, (int64_t)i - 1, add_mlp);
    if (st != VS_OK) {
        vs_unit_free(u);
        return st;
    }
    *out = u;
    return VS_OK;
}

enum vs_status vs_qwen3_vl_add_dense_mlp(struct vs_model *m, struct vs_unit *u, const char *prefix,
                                         int64_t intermediate)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    if (intermediate <= 0)
        return vs_error_set(VS_ERR_MODEL, "%s: text_config.intermediate_size: must be a positive integer for dense layers",
                            m->config_path);
    enum vs_status st = vs_qwen3_vl_add_linear(m, u, prefix, "mlp.gate_proj", intermediate, d->hidden, false);
    if (st == VS_OK)
        st = vs_qwen3_vl_add_linear(m, u, prefix, "mlp.up_proj", intermediate, d->hidden, false);
    if (st == VS_OK)
        st = vs_qwen3_vl_add_linear(m, u, prefix, "mlp.down_proj", d->hidden, intermediate, false);
    return st;
}

/* embed_tokens, final norm, lm_head; with tied embeddings lm_head.weight is written as a copy
 * of embed_tokens, as msModelSlim's saver does. */
enum vs_status vs_qwen3_vl_tail_load(struct vs_model *m, struct vs_unit **out)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    struct vs_unit *u = vs_unit_new("");
    if (!u)
        return VS_ERR_NOMEM;
    int64_t emb[2] = {d->vocab, d->hidden};
    char embed[64], head[96];
    snprintf(embed, sizeof embed, "%sembed_tokens.weight", d->text_prefix);
    snprintf(head, sizeof head, "%s.weight", d->head_name);
    enum vs_status st = vs_qwen3_vl_add(m, u, d->text_prefix, "embed_tokens.weight", 2, emb);
    if (st == VS_OK)
        st = vs_qwen3_vl_add(m, u, d->text_prefix, "norm.weight", 1, &d->hidden);
    if (st == VS_OK) {
        bool has_head = vs_st_model_has(m->weights, head);
        if (has_head || !d->tie_word_embeddings) {
            st = vs_qwen3_vl_add(m, u, "", head, 2, emb);
        } else {
            const struct vs_st_tensor *t;
            st = vs_qwen3_vl_get(m, embed, &t);
            if (st == VS_OK)
                st = vs_unit_add_param(u, head, t);
        }
    }
    if (st == VS_OK)
        warn_unused(m);
    if (st != VS_OK) {
        vs_unit_free(u);
        return st;
    }
    *out = u;
    return VS_OK;
}

enum vs_status vs_qwen3_vl_tail_tensor(struct vs_model *m, const char *name, const struct vs_st_tensor **out)
{
    if (m->tail) {
        int i = vs_unit_find_param(m->tail, name);
        if (i < 0 || m->tail->params[i].slice >= 0)
            return vs_error_set(VS_ERR_INTERNAL, "%s: not a whole tensor of the tail given to the forward", name);
        *out = m->tail->params[i].src;
        return VS_OK;
    }
    char embed[64], norm[64], head[96];
    snprintf(embed, sizeof embed, "%sembed_tokens.weight", m->d.text_prefix);
    snprintf(norm, sizeof norm, "%snorm.weight", m->d.text_prefix);
    snprintf(head, sizeof head, "%s.weight", m->d.head_name);
    if (!strcmp(name, head) && !vs_st_model_has(m->weights, name))
        name = embed;
    /* the forward reads them by the config's dimensions */
    int64_t shape[2] = {m->d.vocab, m->d.hidden};
    if (!strcmp(name, norm))
        return vs_qwen3_vl_get_checked(m, name, 1, &m->d.hidden, out);
    return vs_qwen3_vl_get_checked(m, name, 2, shape, out);
}

void vs_qwen3_vl_set_tail(struct vs_model *m, const struct vs_unit *tail) { m->tail = tail; }
