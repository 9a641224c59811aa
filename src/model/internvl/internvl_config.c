/* config.json of an InternVL checkpoint (docs/internvl.md §1). The original layout
 * (InternVLChatConfig): the tower in vision_config, the Qwen3 text model in llm_config, the
 * projector's downsample_ratio and the tile size at the top level, the <IMG_CONTEXT> id from
 * tokenizer.json, as the model itself sets img_context_token_id. transformers' (InternVLConfig):
 * text_config, the tile size in vision_config.image_size, the id in image_token_id. Errors name
 * config.json and the key. */
#include <stdio.h>
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

/* The keys in which the two layouts' configs differ. */
struct layout_keys {
    const struct vs_internvl_names *names;
    const char *text;                            /* "llm_config" / "text_config" */
    const char *qk_norm, *qkv_bias;              /* vision_config's booleans */
    bool hf;                                     /* transformers' InternVLConfig */
};

static const struct layout_keys original_keys = {&vs_internvl_original_names, "llm_config", "qk_normalization",
                                                 "qkv_bias", false};
static const struct layout_keys hf_keys = {&vs_internvl_hf_names, "text_config", "use_qk_norm", "attention_bias", true};

/* An image or patch size: an integer, or (transformers) [n, n]. */
static enum vs_status square(const struct vs_model *m, const json_t *vc, const char *key, int64_t *out)
{
    const json_t *v = json_object_get(vc, key);
    if (json_is_array(v) && json_array_size(v) == 2 && json_is_integer(json_array_get(v, 0)) &&
        json_integer_value(json_array_get(v, 0)) == json_integer_value(json_array_get(v, 1)))
        v = json_array_get(v, 0);
    if (v && (!json_is_integer(v) || json_integer_value(v) <= 0))
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: vision_config.%s: expected a positive integer or a square [n, n]",
                            m->config_path, key);
    if (v)
        *out = json_integer_value(v);
    return VS_OK;
}

static enum vs_status parse_vision(struct vs_model *m, const json_t *vc, const struct layout_keys *k,
                                   struct vs_internvl_config *x)
{
    struct vs_qwen3_vl_dims *d = &m->d;
    const char *vw = "vision_config", *f = m->config_path;
    int64_t channels = 3;
    x->image_size = k->hf ? 448 : 224; /* InternVLVisionConfig's / InternVisionConfig's defaults */
    d->patch_size = 14;
    const struct vs_qwen_vl_int_field fields[] = {
        {"hidden_size", &d->v_hidden, true, true},
        {"num_hidden_layers", &d->v_depth, true, true},
        {"num_attention_heads", &d->v_heads, true, true},
        {"intermediate_size", &d->v_intermediate, true, true},
        {"num_channels", &channels, false, true},
    };
    enum vs_status st = vs_qwen_vl_read_int_fields(m, vc, vw, fields, sizeof fields / sizeof fields[0]);
    if (st == VS_OK)
        st = square(m, vc, "image_size", &x->image_size);
    if (st == VS_OK)
        st = square(m, vc, "patch_size", &d->patch_size);
    const char *norm = NULL;
    if (st == VS_OK)
        st = vs_json_str_opt(vc, "norm_type", f, vw, &norm);
    if (st == VS_OK && norm && strcmp(norm, "rms_norm") && strcmp(norm, "layer_norm"))
        st = vs_error_set(VS_ERR_UNSUPPORTED, "%s: vision_config.norm_type: '%s' is not supported (rms_norm or layer_norm)",
                          f, norm);
    /* the config classes' defaults */
    x->rms_norm = norm ? !strcmp(norm, "rms_norm") : !k->hf;
    x->qk_norm = !k->hf;
    x->qkv_bias = false;
    x->norm_eps = 1e-6;
    bool mean_pooling = true;
    if (st == VS_OK)
        st = vs_json_bool_opt(vc, k->qk_norm, f, vw, &x->qk_norm);
    if (st == VS_OK)
        st = vs_json_bool_opt(vc, k->qkv_bias, f, vw, &x->qkv_bias);
    if (st == VS_OK)
        st = vs_json_num_opt(vc, "layer_norm_eps", f, vw, &x->norm_eps);
    if (st == VS_OK && k->hf)
        st = vs_json_bool_opt(vc, "use_mean_pooling", f, vw, &mean_pooling);
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
    x->post_norm = !mean_pooling; /* InternVLVisionModel.layernorm: Identity with mean pooling */
    x->qk_norm_eps = k->hf ? 1e-6 : x->norm_eps;
    return VS_OK;
}

static enum vs_status parse_text(struct vs_model *m, const json_t *tc, const char *tw)
{
    struct vs_qwen3_vl_dims *d = &m->d;
    const char *f = m->config_path;
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
        st = vs_error_set(VS_ERR_UNSUPPORTED, "%s: %s.attention_bias: true is not supported", f, tw);
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
        st = vs_error_set(VS_ERR_UNSUPPORTED, "%s: %s.rope_scaling: only plain RoPE (null) is supported", f, tw);
    if (st == VS_OK && !(d->rope_theta > 0))
        st = vs_error_set(VS_ERR_MODEL, "%s: %s.rope_theta must be positive", f, tw);
    if (st == VS_OK && d->heads % d->kv_heads)
        st = vs_error_set(VS_ERR_MODEL, "%s: %s.num_key_value_heads (%lld) does not divide num_attention_heads (%lld)", f,
                          tw, (long long)d->kv_heads, (long long)d->heads);
    if (st == VS_OK && d->head_dim % 2)
        st = vs_error_set(VS_ERR_MODEL, "%s: %s.head_dim (%lld) must be even", f, tw, (long long)d->head_dim);
    /* the core's MRoPE with every position equal is plain RoPE */
    d->rope_1d = true;
    d->mrope_section[0] = d->head_dim / 2;
    d->mrope_section[1] = d->mrope_section[2] = 0;
    d->mrope_interleaved = false;
    return st;
}

/* The top-level keys: the original layout's tile size and feature layer, or transformers'. */
static enum vs_status parse_top(struct vs_model *m, const struct layout_keys *k, struct vs_internvl_config *x,
                                double *ratio)
{
    const char *f = m->config_path;
    int64_t select = -1;
    enum vs_status st = vs_json_num_opt(m->config, "downsample_ratio", f, NULL, ratio);
    if (st == VS_OK && !k->hf)
        st = vs_json_int_opt(m->config, "force_image_size", f, NULL, &x->image_size);
    if (st == VS_OK)
        st = vs_json_int_opt(m->config, k->hf ? "vision_feature_layer" : "select_layer", f, NULL, &select);
    if (st == VS_OK && !k->hf)
        st = expect_str(m, m->config, NULL, "ps_version", "v1", "v2", "InternVL2.5 and later shuffle with v2");
    if (st == VS_OK && k->hf)
        st = expect_str(m, m->config, NULL, "vision_feature_select_strategy", "default", "default",
                        "the class token is dropped");
    if (st == VS_OK && k->hf)
        st = expect_str(m, m->config, NULL, "projector_hidden_act", "gelu", "gelu", "the projector is GELU");
    if (st == VS_OK && k->hf) /* the top level's word, as PretrainedConfig reads it */
        st = vs_json_bool_opt(m->config, "tie_word_embeddings", f, NULL, &m->d.tie_word_embeddings);
    if (st == VS_OK && select != -1)
        st = vs_error_set(VS_ERR_UNSUPPORTED, "%s: %s: %lld is not supported (the last layer, -1, as msModelSlim's "
                          "InternVL3.5 adapter takes)", f, k->hf ? "vision_feature_layer" : "select_layer",
                          (long long)select);
    return st;
}

static enum vs_status parse_config(struct vs_model *m, const struct layout_keys *k)
{
    struct vs_qwen3_vl_dims *d = &m->d;
    const char *f = m->config_path;
    struct vs_internvl_config *x = vs_calloc(1, sizeof *x);
    if (!x)
        return VS_ERR_NOMEM;
    m->ext = x;
    m->ext_free = free;
    x->n = k->names;
    d->vis_prefix = k->hf ? "model.vision_tower." : "vision_model.";
    d->text_prefix = k->hf ? "model.language_model." : "language_model.model.";
    d->head_name = k->hf ? "lm_head" : "language_model.lm_head";
    d->in_channels = 3;
    d->temporal_patch_size = 1;
    d->tie_word_embeddings = false;
    const json_t *vc, *tc;
    double ratio = 0.5;
    enum vs_status st;
    if ((st = vs_json_obj(m->config, "vision_config", f, NULL, &vc)) != VS_OK ||
        (st = vs_json_obj(m->config, k->text, f, NULL, &tc)) != VS_OK || (st = parse_vision(m, vc, k, x)) != VS_OK ||
        (st = parse_text(m, tc, k->text)) != VS_OK || (st = parse_top(m, k, x, &ratio)) != VS_OK)
        return st;
    if (x->image_size <= 0 || x->image_size % d->patch_size)
        return vs_error_set(VS_ERR_MODEL, "%s: %s (%lld) is not a positive multiple of vision_config.patch_size (%lld)", f,
                            k->hf ? "vision_config.image_size" : "force_image_size", (long long)x->image_size,
                            (long long)d->patch_size);
    x->grid = x->image_size / d->patch_size;
    x->shuffle = ratio > 0 ? (int64_t)(1.0 / ratio + 0.5) : 0;
    if (x->shuffle < 1 || 1.0 / (double)x->shuffle != ratio || x->grid % x->shuffle)
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: downsample_ratio: %g is not 1/k for a k dividing the %lld patches "
                            "of a tile side", f, ratio, (long long)x->grid);
    d->merge_size = x->shuffle;
    d->out_hidden = d->hidden;
    d->num_position_embeddings = x->grid * x->grid + 1;
    if (k->hf) { /* the id is in config.json */
        d->image_token_id = -1;
        if ((st = vs_json_int(m->config, "image_token_id", f, NULL, &d->image_token_id)) != VS_OK)
            return st;
    } else if ((st = image_token_id(m, &d->image_token_id)) != VS_OK) {
        return st;
    }
    return vs_qwen_vl_parse_dtype(m);
}

enum vs_status vs_internvl_parse_config(struct vs_model *m) { return parse_config(m, &original_keys); }

enum vs_status vs_internvl_hf_parse_config(struct vs_model *m) { return parse_config(m, &hf_keys); }

enum vs_status vs_internvl_check_counts(const struct vs_model *m)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    char layers[64];
    snprintf(layers, sizeof layers, "%slayers.", d->text_prefix);
    const char *blocks = vs_internvl_config(m)->n->layer;
    int64_t n = vs_qwen_vl_indexed_count(m, layers);
    if (d->layers > n)
        return vs_error_set(VS_ERR_MODEL, "%s: %s.num_hidden_layers (%lld) is more than the %lld layers the "
                            "checkpoint has (%s*)", m->config_path, vs_internvl_config(m)->n == &vs_internvl_hf_names
                            ? "text_config" : "llm_config", (long long)d->layers, (long long)n, layers);
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
