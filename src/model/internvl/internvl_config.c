/* config.json of an InternVL checkpoint (InternVLChatConfig, docs/internvl.md §1): the tower in
 * vision_config, the Qwen3 text model in llm_config, the projector's downsample_ratio and the tile
 * size at the top level; the <IMG_CONTEXT> id from tokenizer.json, as the model itself sets
 * img_context_token_id. Errors name config.json and the key. */
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "inputs/model_inputs.h"
#include "io/json_util.h"
#include "model/internvl/internvl.h"

static enum vs_status expect_str(const struct vs_model *m, const json_t *obj, const char *where, const char *key,
                                 const char *dflt, const char *want, const char *why)
{
    const char *v = NULL;
    enum vs_status st = vs_json_str_opt(obj, key, m->config_path, where, &v);
    if (st == VS_OK && strcmp(v ? v : dflt, want) != 0)
        st = vs_error_set(VS_ERR_UNSUPPORTED, "%s: %s%s%s: '%s' is not supported (%s)", m->config_path,
                          where ? where : "", where ? "." : "", key, v ? v : dflt, why);
    return st;
}

/* The id of <IMG_CONTEXT> among tokenizer.json's added tokens (-1: no tokenizer.json; a checkpoint
 * is then quantized data-free only, and an image sample is refused). */
static enum vs_status image_token_id(const struct vs_model *m, int64_t *id)
{
    *id = -1;
    char *path = vs_path_join(m->path, "tokenizer.json");
    if (!path)
        return VS_ERR_NOMEM;
    json_t *doc = NULL;
    enum vs_status st = vs_fs_is_file(path) ? vs_json_load_file(path, &doc) : VS_OK;
    const json_t *added = json_object_get(doc, "added_tokens");
    size_t i;
    const json_t *t;
    json_array_foreach(added, i, t) {
        const char *content = json_string_value(json_object_get(t, "content"));
        if (content && !strcmp(content, "<IMG_CONTEXT>") && json_is_integer(json_object_get(t, "id")))
            *id = json_integer_value(json_object_get(t, "id"));
    }
    if (st == VS_OK && doc && *id < 0)
        st = vs_error_set(VS_ERR_MODEL, "%s: has no <IMG_CONTEXT> added token, where InternVL puts image features", path);
    json_decref(doc);
    free(path);
    return st;
}

static enum vs_status parse_vision(struct vs_model *m, const json_t *vc, struct vs_internvl_config *x)
{
    struct vs_qwen3_vl_dims *d = &m->d;
    const char *vw = "vision_config", *f = m->config_path;
    int64_t image_size = 224, channels = 3;
    d->patch_size = 14;
    const struct vs_qwen_vl_int_field fields[] = {
        {"hidden_size", &d->v_hidden, true, true},
        {"num_hidden_layers", &d->v_depth, true, true},
        {"num_attention_heads", &d->v_heads, true, true},
        {"intermediate_size", &d->v_intermediate, true, true},
        {"image_size", &image_size, false, true},
        {"patch_size", &d->patch_size, false, true},
        {"num_channels", &channels, false, true},
    };
    enum vs_status st = vs_qwen_vl_read_int_fields(m, vc, vw, fields, sizeof fields / sizeof fields[0]);
    const char *norm = NULL;
    if (st == VS_OK)
        st = vs_json_str_opt(vc, "norm_type", f, vw, &norm);
    if (st == VS_OK && norm && strcmp(norm, "rms_norm") && strcmp(norm, "layer_norm"))
        st = vs_error_set(VS_ERR_UNSUPPORTED, "%s: vision_config.norm_type: '%s' is not supported (rms_norm or layer_norm)",
                          f, norm);
    x->rms_norm = !norm || !strcmp(norm, "rms_norm"); /* InternVisionConfig's defaults */
    x->qk_norm = true;
    x->qkv_bias = false;
    x->norm_eps = 1e-6;
    if (st == VS_OK)
        st = vs_json_bool_opt(vc, "qk_normalization", f, vw, &x->qk_norm);
    if (st == VS_OK)
        st = vs_json_bool_opt(vc, "qkv_bias", f, vw, &x->qkv_bias);
    if (st == VS_OK)
        st = vs_json_num_opt(vc, "layer_norm_eps", f, vw, &x->norm_eps);
    if (st == VS_OK)
        st = expect_str(m, vc, vw, "hidden_act", "gelu", "gelu", "InternViT's MLP is GELU");
    if (st != VS_OK)
        return st;
    if (channels != 3)
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: vision_config.num_channels: %lld is not supported (RGB: 3)", f,
                            (long long)channels);
    if (d->v_hidden % d->v_heads)
        return vs_error_set(VS_ERR_MODEL, "%s: vision_config.num_attention_heads (%lld) does not divide hidden_size (%lld)",
                            f, (long long)d->v_heads, (long long)d->v_hidden);
    x->image_size = image_size;
    return VS_OK;
}

static enum vs_status parse_text(struct vs_model *m, const json_t *tc)
{
    struct vs_qwen3_vl_dims *d = &m->d;
    const char *tw = "llm_config", *f = m->config_path;
    const struct vs_qwen_vl_int_field fields[] = {
        {"hidden_size", &d->hidden, true, true},
        {"num_hidden_layers", &d->layers, true, true},
        {"num_attention_heads", &d->heads, true, true},
        {"num_key_value_heads", &d->kv_heads, true, true},
        {"intermediate_size", &d->intermediate, true, true},
        {"vocab_size", &d->vocab, true, true},
        {"head_dim", &d->head_dim, false, true},
    };
    d->head_dim = 128; /* Qwen3Config's default */
    bool bias = false;
    enum vs_status st = expect_str(m, tc, tw, "model_type", "qwen3", "qwen3", "vlmslim's InternVL text model is Qwen3");
    if (st == VS_OK)
        st = vs_qwen_vl_read_int_fields(m, tc, tw, fields, sizeof fields / sizeof fields[0]);
    if (st == VS_OK)
        st = expect_str(m, tc, tw, "hidden_act", "silu", "silu", "Qwen3 uses silu");
    if (st == VS_OK)
        st = vs_json_bool_opt(tc, "attention_bias", f, tw, &bias);
    if (st == VS_OK && bias)
        st = vs_error_set(VS_ERR_UNSUPPORTED, "%s: llm_config.attention_bias: true is not supported", f);
    d->tie_word_embeddings = false;
    d->rms_norm_eps = 1e-6;
    d->rope_theta = 10000.0; /* Qwen3Config's default (InternVL3.5 gives 1e6) */
    if (st == VS_OK)
        st = vs_json_bool_opt(tc, "tie_word_embeddings", f, tw, &d->tie_word_embeddings);
    if (st == VS_OK)
        st = vs_json_num_opt(tc, "rms_norm_eps", f, tw, &d->rms_norm_eps);
    if (st == VS_OK)
        st = vs_json_num_opt(tc, "rope_theta", f, tw, &d->rope_theta);
    const json_t *rs = json_object_get(tc, "rope_scaling");
    if (st == VS_OK && rs && !json_is_null(rs))
        st = vs_error_set(VS_ERR_UNSUPPORTED, "%s: llm_config.rope_scaling: only plain RoPE (null) is supported", f);
    if (st == VS_OK && !(d->rope_theta > 0))
        st = vs_error_set(VS_ERR_MODEL, "%s: llm_config.rope_theta must be positive", f);
    if (st == VS_OK && d->heads % d->kv_heads)
        st = vs_error_set(VS_ERR_MODEL, "%s: llm_config.num_key_value_heads (%lld) does not divide num_attention_heads "
                          "(%lld)", f, (long long)d->kv_heads, (long long)d->heads);
    if (st == VS_OK && d->head_dim % 2)
        st = vs_error_set(VS_ERR_MODEL, "%s: llm_config.head_dim (%lld) must be even", f, (long long)d->head_dim);
    /* the core's MRoPE with every position equal is plain RoPE */
    d->rope_1d = true;
    d->mrope_section[0] = d->head_dim / 2;
    d->mrope_section[1] = d->mrope_section[2] = 0;
    d->mrope_interleaved = false;
    return st;
}

enum vs_status vs_internvl_parse_config(struct vs_model *m)
{
    struct vs_qwen3_vl_dims *d = &m->d;
    const char *f = m->config_path;
    struct vs_internvl_config *x = vs_calloc(1, sizeof *x);
    if (!x)
        return VS_ERR_NOMEM;
    m->ext = x;
    m->ext_free = free;
    d->vis_prefix = "vision_model.";
    d->text_prefix = "language_model.model.";
    d->head_name = "language_model.lm_head";
    d->in_channels = 3;
    d->temporal_patch_size = 1;
    const json_t *vc, *tc;
    enum vs_status st;
    if ((st = vs_json_obj(m->config, "vision_config", f, NULL, &vc)) != VS_OK ||
        (st = vs_json_obj(m->config, "llm_config", f, NULL, &tc)) != VS_OK || (st = parse_vision(m, vc, x)) != VS_OK ||
        (st = parse_text(m, tc)) != VS_OK)
        return st;
    int64_t select = -1;
    double ratio = 0.5;
    if ((st = vs_json_int_opt(m->config, "force_image_size", f, NULL, &x->image_size)) != VS_OK ||
        (st = vs_json_int_opt(m->config, "select_layer", f, NULL, &select)) != VS_OK ||
        (st = vs_json_num_opt(m->config, "downsample_ratio", f, NULL, &ratio)) != VS_OK ||
        (st = expect_str(m, m->config, NULL, "ps_version", "v1", "v2", "InternVL2.5 and later shuffle with v2")) != VS_OK)
        return st;
    if (select != -1)
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: select_layer: %lld is not supported (the last layer, -1, as "
                            "msModelSlim's InternVL3.5 adapter takes)", f, (long long)select);
    if (x->image_size <= 0 || x->image_size % d->patch_size)
        return vs_error_set(VS_ERR_MODEL, "%s: force_image_size (%lld) is not a positive multiple of vision_config."
                            "patch_size (%lld)", f, (long long)x->image_size, (long long)d->patch_size);
    x->grid = x->image_size / d->patch_size;
    x->shuffle = ratio > 0 ? (int64_t)(1.0 / ratio + 0.5) : 0;
    if (x->shuffle < 1 || 1.0 / (double)x->shuffle != ratio || x->grid % x->shuffle)
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: downsample_ratio: %g is not 1/k for a k dividing the %lld patches "
                            "of a tile side", f, ratio, (long long)x->grid);
    d->merge_size = x->shuffle;
    d->out_hidden = d->hidden;
    d->num_position_embeddings = x->grid * x->grid + 1;
    if ((st = image_token_id(m, &d->image_token_id)) != VS_OK)
        return st;
    return vs_qwen_vl_parse_dtype(m);
}

enum vs_status vs_internvl_check_counts(const struct vs_model *m)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    static const char *const layers = "language_model.model.layers.", *const blocks = "vision_model.encoder.layers.";
    int64_t n = vs_qwen_vl_indexed_count(m, layers);
    if (d->layers > n)
        return vs_error_set(VS_ERR_MODEL, "%s: llm_config.num_hidden_layers (%lld) is more than the %lld layers the "
                            "checkpoint has (%s*)", m->config_path, (long long)d->layers, (long long)n, layers);
    if (d->v_depth > (n = vs_qwen_vl_indexed_count(m, blocks)))
        return vs_error_set(VS_ERR_MODEL, "%s: vision_config.num_hidden_layers (%lld) is more than the %lld layers the "
                            "checkpoint has (%s*)", m->config_path, (long long)d->v_depth, (long long)n, blocks);
    return VS_OK;
}

enum vs_status vs_internvl_check_inputs(const struct vs_model *m, const struct vs_model_inputs *in)
{
    const struct vs_internvl_config *x = vs_internvl_config(m);
    int64_t tiles = 0;
    for (int64_t i = 0; i < in->n_images; i++) {
        const int64_t *g = in->image_grid_thw[i];
        if (g[0] != 1 || g[1] <= 0 || g[2] != 1)
            return vs_error_set(VS_ERR_MODEL, "model inputs: image_grid_thw[%lld] = {%lld, %lld, %lld} is not {1, tiles, 1} "
                                "(InternVL's tiles)", (long long)i, (long long)g[0], (long long)g[1], (long long)g[2]);
        tiles += g[1];
    }
    if (tiles != in->n_patches)
        return vs_error_set(VS_ERR_MODEL, "model inputs: pixel_values has %lld tiles but image_grid_thw gives %lld",
                            (long long)in->n_patches, (long long)tiles);
    if (in->n_patches > 0 && in->patch_dim != 3 * x->image_size * x->image_size)
        return vs_error_set(VS_ERR_MODEL, "model inputs: pixel_values has %lld values per tile; %s needs 3 x %lld x %lld",
                            (long long)in->patch_dim, m->config_path, (long long)x->image_size, (long long)x->image_size);
    if (in->n_images > 0 && m->d.image_token_id < 0)
        return vs_error_set(VS_ERR_MODEL, "%s/tokenizer.json: not found; it gives the <IMG_CONTEXT> id of image samples",
                            m->path);
    return VS_OK;
}
