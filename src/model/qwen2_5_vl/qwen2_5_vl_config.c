/* config.json of a Qwen2.5-VL checkpoint (docs/qwen2_5_vl.md §1): the text fields at the top
 * level (the published checkpoints) or in text_config (transformers >= 4.52), vision_config
 * with the window attention's window_size and fullatt_block_indexes. Checked before any tensor
 * is looked at; errors name config.json and the key. */
#include <string.h>

#include "io/json_util.h"
#include "model/qwen2_5_vl/qwen2_5_vl.h"

/* hidden_act of `obj` must be SiLU, the only activation the published checkpoints use. */
static enum vs_status silu_only(const struct vs_model *m, const json_t *obj, const char *where)
{
    const char *act = NULL;
    enum vs_status st = vs_json_str_opt(obj, "hidden_act", m->config_path, where, &act);
    if (st == VS_OK && act && strcmp(act, "silu") != 0)
        st = vs_error_set(VS_ERR_UNSUPPORTED, "%s: %s%shidden_act: '%s' is not supported (Qwen2.5-VL uses silu)",
                          m->config_path, where ? where : "", where ? "." : "", act);
    return st;
}

enum vs_status vs_qwen2_5_vl_parse_config(struct vs_model *m)
{
    struct vs_qwen3_vl_dims *d = &m->d;
    const char *f = m->config_path;
    const json_t *vc;
    enum vs_status st;
    if ((st = vs_json_obj(m->config, "vision_config", f, NULL, &vc)) != VS_OK)
        return st;
    const json_t *tc = json_object_get(m->config, "text_config");
    const char *tw = json_is_object(tc) ? "text_config" : NULL;
    if (!tw)
        tc = m->config;

    const char *vw = "vision_config";
    /* msModelSlim's names (transformers 4.49) and those vLLM Ascend before 0.18 looks up in
     * quant_model_description.json (docs/qwen2_5_vl.md §4) */
    d->vis_prefix = "visual.";
    d->text_prefix = "model.";
    d->patch_size = 14;
    d->temporal_patch_size = 2;
    d->merge_size = 2;
    d->in_channels = 3;
    d->window_size = 112;
    int64_t in_chans = 3;
    const struct vs_qwen_vl_int_field vfields[] = {
        {"depth", &d->v_depth, true, true},
        {"hidden_size", &d->v_hidden, true, true},
        {"num_heads", &d->v_heads, true, true},
        {"intermediate_size", &d->v_intermediate, true, true},
        {"out_hidden_size", &d->out_hidden, true, true},
        {"patch_size", &d->patch_size, false, true},
        {"temporal_patch_size", &d->temporal_patch_size, false, true},
        {"spatial_merge_size", &d->merge_size, false, true},
        {"in_chans", &in_chans, false, true}, /* the published configs' key ... */
        {"in_channels", &in_chans, false, true}, /* ... and transformers' own */
        {"window_size", &d->window_size, false, true},
    };
    if ((st = vs_qwen_vl_read_int_fields(m, vc, vw, vfields, sizeof vfields / sizeof vfields[0])) != VS_OK ||
        (st = silu_only(m, vc, vw)) != VS_OK)
        return st;
    d->in_channels = in_chans;
    if (json_object_get(vc, "fullatt_block_indexes")) {
        if ((st = vs_json_int_list_opt(vc, "fullatt_block_indexes", f, vw, &d->fullatt_indexes, &d->n_fullatt)) != VS_OK)
            return st;
    } else { /* Qwen2_5_VLVisionConfig's default */
        static const int64_t dflt[] = {7, 15, 23, 31};
        if (!(d->fullatt_indexes = vs_malloc(sizeof dflt)))
            return VS_ERR_NOMEM;
        memcpy(d->fullatt_indexes, dflt, sizeof dflt);
        d->n_fullatt = 4;
    }
    for (size_t i = 0; i < d->n_fullatt; i++)
        if (d->fullatt_indexes[i] < 0 || d->fullatt_indexes[i] >= d->v_depth)
            return vs_error_set(VS_ERR_MODEL, "%s: vision_config.fullatt_block_indexes[%zu] = %lld is outside 0..%lld", f, i,
                                (long long)d->fullatt_indexes[i], (long long)d->v_depth - 1);
    if (d->window_size < d->patch_size * d->merge_size)
        return vs_error_set(VS_ERR_MODEL, "%s: vision_config.window_size (%lld) is smaller than one merged patch "
                            "(patch_size x spatial_merge_size = %lld pixels)", f, (long long)d->window_size,
                            (long long)(d->patch_size * d->merge_size));

    const struct vs_qwen_vl_int_field tfields[] = {
        {"hidden_size", &d->hidden, true, true},
        {"num_hidden_layers", &d->layers, true, true},
        {"num_attention_heads", &d->heads, true, true},
        {"num_key_value_heads", &d->kv_heads, true, true},
        {"intermediate_size", &d->intermediate, true, true},
        {"vocab_size", &d->vocab, true, true},
    };
    if ((st = vs_qwen_vl_read_int_fields(m, tc, tw, tfields, sizeof tfields / sizeof tfields[0])) != VS_OK ||
        (st = silu_only(m, tc, tw)) != VS_OK)
        return st;
    if (d->hidden % d->heads)
        return vs_error_set(VS_ERR_MODEL, "%s: %s%snum_attention_heads (%lld) does not divide hidden_size (%lld)", f,
                            tw ? tw : "", tw ? "." : "", (long long)d->heads, (long long)d->hidden);
    d->head_dim = d->hidden / d->heads; /* Qwen2's attention has no head_dim key */

    d->tie_word_embeddings = false;
    if ((tw && (st = vs_json_bool_opt(tc, "tie_word_embeddings", f, tw, &d->tie_word_embeddings)) != VS_OK) ||
        (st = vs_json_bool_opt(m->config, "tie_word_embeddings", f, NULL, &d->tie_word_embeddings)) != VS_OK)
        return st;
    d->rms_norm_eps = 1e-5; /* Qwen2_5_VLTextConfig's defaults (the published configs give 1e-6) */
    d->rope_theta = 1000000.0;
    d->image_token_id = 151655;
    if ((st = vs_json_num_opt(tc, "rms_norm_eps", f, tw, &d->rms_norm_eps)) != VS_OK ||
        (st = vs_json_int_opt(m->config, "image_token_id", f, NULL, &d->image_token_id)) != VS_OK)
        return st;
    d->mrope_interleaved = false;
    d->image_frame_time = false; /* get_rope_index: an image's time index is frame x 0 seconds */
    if ((st = vs_qwen_vl_parse_rope(m, tc, tw)) != VS_OK ||
        (st = vs_qwen_vl_check_relations(m, false)) != VS_OK)
        return st;
    return vs_qwen_vl_parse_dtype(m);
}

enum vs_status vs_qwen2_5_vl_check_counts(const struct vs_model *m)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    static const char *const layers = "model.layers.", *const blocks = "visual.blocks.";
    char buf[64];
    int64_t n = vs_qwen_vl_indexed_count(m, layers);
    if (d->layers > n)
        return vs_error_set(VS_ERR_MODEL, "%s: num_hidden_layers (%lld) is more than the %lld layers the checkpoint has (%s*)",
                            m->config_path, (long long)d->layers, (long long)n,
                            vs_qwen3_vl_source_name(m, layers, buf, sizeof buf));
    if (d->v_depth > (n = vs_qwen_vl_indexed_count(m, blocks)))
        return vs_error_set(VS_ERR_MODEL, "%s: vision_config.depth (%lld) is more than the %lld blocks the checkpoint has (%s*)",
                            m->config_path, (long long)d->v_depth, (long long)n,
                            vs_qwen3_vl_source_name(m, blocks, buf, sizeof buf));
    return VS_OK;
}
