/* config.json of a Qwen3-VL(-MoE) checkpoint: text_config and vision_config read into
 * struct vs_qwen3_vl_dims and checked before any tensor is looked at or any buffer sized by
 * them is allocated. Every dimension is a positive integer below 2^31, so the products the
 * shape math forms from two of them fit in int64; the few formed from more are checked here.
 * Errors name config.json and the key. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/qwen3_vl_common.h"
#include "model/qwen3_vl_vision.h"
#include "io/json_util.h"

static enum vs_status at_most_int(const struct vs_model *m, const char *where, const char *key, int64_t v)
{
    if (v > INT32_MAX)
        return vs_error_set(VS_ERR_MODEL, "%s: %s%s%s: %lld is too large (at most %d)", m->config_path, where ? where : "",
                            where ? "." : "", key, (long long)v, INT32_MAX);
    return VS_OK;
}

enum vs_status vs_qwen_vl_parse_dtype(struct vs_model *m)
{
    static const char *const where[] = {NULL, "text_config", "vision_config"};
    m->dtype = VS_DTYPE_F32; /* msModelSlim's default when no torch_dtype is given */
    for (size_t i = 0; i < 3; i++) {
        const json_t *obj = where[i] ? json_object_get(m->config, where[i]) : m->config;
        if (!json_is_object(obj))
            continue;
        const char *s = NULL;
        enum vs_status st = vs_json_str_opt(obj, "torch_dtype", m->config_path, where[i], &s);
        if (st == VS_OK && !s)
            st = vs_json_str_opt(obj, "dtype", m->config_path, where[i], &s);
        if (st != VS_OK)
            return st;
        if (!s)
            continue;
        if (strcmp(s, "bfloat16") == 0)
            m->dtype = VS_DTYPE_BF16;
        else if (strcmp(s, "float16") == 0)
            m->dtype = VS_DTYPE_F16;
        else if (strcmp(s, "float32") == 0)
            m->dtype = VS_DTYPE_F32;
        else
            return vs_error_set(VS_ERR_MODEL, "%s: %s%storch_dtype: unsupported value '%s' (expected bfloat16, float16 or float32)",
                                m->config_path, where[i] ? where[i] : "", where[i] ? "." : "", s);
        return VS_OK;
    }
    return VS_OK;
}

static enum vs_status positive(const struct vs_model *m, const char *where, const char *key, int64_t v)
{
    if (v <= 0)
        return vs_error_set(VS_ERR_MODEL, "%s: %s%s%s: must be a positive integer, got %lld", m->config_path,
                            where ? where : "", where ? "." : "", key, (long long)v);
    return at_most_int(m, where, key, v);
}

/* a * b into *out, false on int64 overflow (both non-negative) */
static bool mul_fits(int64_t a, int64_t b, int64_t *out) { return !__builtin_mul_overflow(a, b, out); }

/* Relations between keys that the shape math relies on. */
enum vs_status vs_qwen_vl_check_relations(const struct vs_model *m, bool pos_embed)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    const char *f = m->config_path;
    if (d->v_hidden % d->v_heads)
        return vs_error_set(VS_ERR_MODEL, "%s: vision_config.num_heads (%lld) does not divide vision_config.hidden_size (%lld)",
                            f, (long long)d->v_heads, (long long)d->v_hidden);
    if ((d->v_hidden / d->v_heads) % 4)
        return vs_error_set(VS_ERR_MODEL, "%s: vision_config.hidden_size / num_heads (%lld / %lld) must be a multiple of 4 "
                            "(the vision rotary embedding splits a head in four)", f, (long long)d->v_hidden, (long long)d->v_heads);
    int64_t side = 1;
    while (pos_embed && side * side < d->num_position_embeddings)
        side++;
    if (pos_embed && side * side != d->num_position_embeddings)
        return vs_error_set(VS_ERR_MODEL, "%s: vision_config.num_position_embeddings (%lld) is not the square of an integer",
                            f, (long long)d->num_position_embeddings);
    int64_t t;
    if (!mul_fits(d->merge_size, d->merge_size, &t) || !mul_fits(t, d->v_hidden, &t))
        return vs_error_set(VS_ERR_MODEL, "%s: vision_config.hidden_size * spatial_merge_size^2 (%lld * %lld^2) does not fit in 64 bits",
                            f, (long long)d->v_hidden, (long long)d->merge_size);
    if (!mul_fits(d->patch_size, d->patch_size, &t) || !mul_fits(t, d->temporal_patch_size, &t) ||
        !mul_fits(t, d->in_channels, &t))
        return vs_error_set(VS_ERR_MODEL, "%s: vision_config.in_channels * temporal_patch_size * patch_size^2 (%lld * %lld * %lld^2) "
                            "does not fit in 64 bits", f, (long long)d->in_channels, (long long)d->temporal_patch_size,
                            (long long)d->patch_size);
    if (d->heads % d->kv_heads)
        return vs_error_set(VS_ERR_MODEL, "%s: text_config.num_key_value_heads (%lld) does not divide text_config.num_attention_heads (%lld)",
                            f, (long long)d->kv_heads, (long long)d->heads);
    if (d->head_dim % 2)
        return vs_error_set(VS_ERR_MODEL, "%s: text_config.head_dim (%lld) must be even (rotary embeddings turn pairs of channels)",
                            f, (long long)d->head_dim);
    if (m->moe && d->topk > d->experts)
        return vs_error_set(VS_ERR_MODEL, "%s: text_config.num_experts_per_tok (%lld) is more than text_config.num_experts (%lld)",
                            f, (long long)d->topk, (long long)d->experts);
    return VS_OK;
}

/* An integer key of a config object: required or optional (dst keeps its default), and then
 * positive or merely within int. where NULL: the top level. */
enum vs_status vs_qwen_vl_read_int_fields(const struct vs_model *m, const json_t *obj, const char *where,
                                          const struct vs_qwen_vl_int_field *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct vs_qwen_vl_int_field *fl = &fields[i];
        enum vs_status st = fl->required ? vs_json_int(obj, fl->key, m->config_path, where, fl->dst)
                                         : vs_json_int_opt(obj, fl->key, m->config_path, where, fl->dst);
        if (st == VS_OK)
            st = fl->positive ? positive(m, where, fl->key, *fl->dst) : at_most_int(m, where, fl->key, *fl->dst);
        if (st != VS_OK)
            return st;
    }
    return VS_OK;
}

static enum vs_status parse_config(struct vs_model *m)
{
    struct vs_qwen3_vl_dims *d = &m->d;
    const char *f = m->config_path;
    const json_t *vc, *tc;
    enum vs_status st;
    if ((st = vs_json_obj(m->config, "vision_config", f, NULL, &vc)) != VS_OK ||
        (st = vs_json_obj(m->config, "text_config", f, NULL, &tc)) != VS_OK)
        return st;

    const char *vw = "vision_config";
    d->vis_prefix = "model.visual.";
    d->text_prefix = "model.language_model.";
    d->patch_size = 16;
    d->temporal_patch_size = 2;
    d->merge_size = 2;
    d->in_channels = 3;
    const struct vs_qwen_vl_int_field vfields[] = {
        {"depth", &d->v_depth, true, true},
        {"hidden_size", &d->v_hidden, true, true},
        {"num_heads", &d->v_heads, true, true},
        {"intermediate_size", &d->v_intermediate, true, true},
        {"out_hidden_size", &d->out_hidden, true, true},
        {"num_position_embeddings", &d->num_position_embeddings, true, true},
        {"patch_size", &d->patch_size, false, true},
        {"temporal_patch_size", &d->temporal_patch_size, false, true},
        {"spatial_merge_size", &d->merge_size, false, true},
        {"in_channels", &d->in_channels, false, true},
    };
    if ((st = vs_qwen_vl_read_int_fields(m, vc, vw, vfields, sizeof vfields / sizeof vfields[0])) != VS_OK)
        return st;
    if ((st = vs_json_int_list_opt(vc, "deepstack_visual_indexes", f, vw, &d->deepstack_indexes,
                                   &d->n_deepstack)) != VS_OK)
        return st;

    const char *tw = "text_config";
    d->intermediate = 0;
    d->decoder_sparse_step = 1;
    const struct vs_qwen_vl_int_field tfields[] = {
        {"hidden_size", &d->hidden, true, true},
        {"num_hidden_layers", &d->layers, true, true},
        {"num_attention_heads", &d->heads, true, true},
        {"num_key_value_heads", &d->kv_heads, true, true},
        {"head_dim", &d->head_dim, true, true},
        {"vocab_size", &d->vocab, true, true},
        {"intermediate_size", &d->intermediate, !m->moe, !m->moe},
        {"num_experts", &d->experts, m->moe, m->moe},
        {"num_experts_per_tok", &d->topk, m->moe, m->moe},
        {"moe_intermediate_size", &d->moe_intermediate, m->moe, m->moe},
        {"decoder_sparse_step", &d->decoder_sparse_step, false, m->moe},
    };
    if ((st = vs_qwen_vl_read_int_fields(m, tc, tw, tfields, sizeof tfields / sizeof tfields[0])) != VS_OK)
        return st;
    if ((st = vs_json_int_list_opt(tc, "mlp_only_layers", f, tw, &d->mlp_only_layers,
                                   &d->n_mlp_only_layers)) != VS_OK)
        return st;

    /* tie_word_embeddings lives at the top level (text_config may repeat it). */
    d->tie_word_embeddings = false;
    if ((st = vs_json_bool_opt(tc, "tie_word_embeddings", f, tw, &d->tie_word_embeddings)) != VS_OK ||
        (st = vs_json_bool_opt(m->config, "tie_word_embeddings", f, NULL, &d->tie_word_embeddings)) != VS_OK)
        return st;

    d->rms_norm_eps = 1e-6;
    d->rope_theta = 5000000.0;
    d->norm_topk_prob = true;
    d->image_token_id = 151655;
    if ((st = vs_json_num_opt(tc, "rms_norm_eps", f, tw, &d->rms_norm_eps)) != VS_OK ||
        (st = vs_json_bool_opt(tc, "norm_topk_prob", f, tw, &d->norm_topk_prob)) != VS_OK ||
        (st = vs_json_int_opt(m->config, "image_token_id", f, NULL, &d->image_token_id)) != VS_OK)
        return st;
    d->mrope_interleaved = true;
    d->image_frame_time = true;
    if ((st = vs_qwen_vl_parse_rope(m, tc, tw)) != VS_OK)
        return st;
    for (size_t i = 0; i < d->n_deepstack; i++)
        if (d->deepstack_indexes[i] < 0 || d->deepstack_indexes[i] >= d->v_depth)
            return vs_error_set(VS_ERR_MODEL, "%s: vision_config.deepstack_visual_indexes[%zu] = %lld is outside 0..%lld",
                                f, i, (long long)d->deepstack_indexes[i], (long long)d->v_depth - 1);
    if ((st = vs_qwen_vl_check_relations(m, true)) != VS_OK)
        return st;
    return vs_qwen_vl_parse_dtype(m);
}

/* rope_type (or the older "type") of the RoPE object: what Qwen-VL writes ("default", or
 * "mrope", which transformers maps to default); a scaling type would change the frequencies. */
static enum vs_status check_rope_type(const struct vs_model *m, const json_t *rs, const char *where)
{
    static const char *const keys[] = {"rope_type", "type"};
    for (size_t k = 0; k < 2; k++) {
        const char *t = NULL;
        enum vs_status st = vs_json_str_opt(rs, keys[k], m->config_path, where, &t);
        if (st != VS_OK)
            return st;
        if (t && strcmp(t, "default") != 0 && strcmp(t, "mrope") != 0)
            return vs_error_set(VS_ERR_UNSUPPORTED, "%s: %s.%s: '%s' is not supported (only default / mrope RoPE)",
                                m->config_path, where, keys[k], t);
    }
    return VS_OK;
}

enum vs_status vs_qwen_vl_parse_rope(struct vs_model *m, const json_t *tc, const char *tw)
{
    struct vs_qwen3_vl_dims *d = &m->d;
    const char *f = m->config_path;
    const char *key = "rope_scaling";
    const json_t *rs = json_object_get(tc, key);
    if (!json_is_object(rs)) { /* transformers 5 */
        key = "rope_parameters";
        rs = json_object_get(tc, key);
    }
    char where[64];
    snprintf(where, sizeof where, "%s%s%s", tw ? tw : "", tw ? "." : "", key);
    enum vs_status st = vs_json_num_opt(tc, "rope_theta", f, tw, &d->rope_theta);
    if (st == VS_OK && json_is_object(rs)) /* rope_parameters' own value comes first */
        st = vs_json_num_opt(rs, "rope_theta", f, where, &d->rope_theta);
    if (st == VS_OK && json_is_object(rs))
        st = check_rope_type(m, rs, where);
    if (st != VS_OK)
        return st;
    if (!(d->rope_theta > 0))
        return vs_error_set(VS_ERR_MODEL, "%s: rope_theta must be positive", f);
    /* each count is at most 2^31 (head_dim is), so the sum cannot overflow */
    int64_t *sec = NULL;
    size_t n_sec = 0;
    if (json_is_object(rs) && (st = vs_json_int_list_opt(rs, "mrope_section", f, where, &sec, &n_sec)) != VS_OK)
        return st;
    bool sec_ok = n_sec == 3;
    for (size_t i = 0; sec_ok && i < 3; i++)
        sec_ok = sec[i] >= 0 && sec[i] <= INT32_MAX;
    if (sec_ok && sec[0] + sec[1] + sec[2] == d->head_dim / 2) {
        memcpy(d->mrope_section, sec, sizeof d->mrope_section);
        free(sec);
        return VS_OK;
    }
    free(sec);
    return vs_error_set(VS_ERR_MODEL, "%s: %s.mrope_section: expected three non-negative integers summing to head_dim/2 = %lld",
                        f, where, (long long)d->head_dim / 2);
}

int64_t vs_qwen_vl_indexed_count(const struct vs_model *m, const char *prefix)
{
    char buf[256];
    const struct vs_st_model *w = m->weights;
    prefix = vs_qwen3_vl_source_name(m, prefix, buf, sizeof buf);
    size_t plen = strlen(prefix);
    int64_t n = 0;
    for (size_t i = 0; i < vs_st_model_count(w); i++) {
        const char *name = vs_st_model_name_at(w, i);
        if (strncmp(name, prefix, plen) != 0 || name[plen] < '0' || name[plen] > '9')
            continue;
        char *end;
        long long k = strtoll(name + plen, &end, 10);
        if (*end == '.' && k < INT64_MAX && k + 1 > n)
            n = k + 1;
    }
    return n;
}

/* Counts in config.json that the checkpoint must hold as many of; checked at open, so that a
 * wrong count fails before a unit is processed (or a table that long is allocated). */
static enum vs_status check_counts(const struct vs_model *m)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    static const char *const layers = "model.language_model.layers.", *const blocks = "model.visual.blocks.",
                             *const mergers = "model.visual.deepstack_merger_list.";
    int64_t n = vs_qwen_vl_indexed_count(m, layers);
    if (d->layers > n)
        return vs_error_set(VS_ERR_MODEL, "%s: text_config.num_hidden_layers (%lld) is more than the %lld layers the checkpoint has (%s*)",
                            m->config_path, (long long)d->layers, (long long)n, layers);
    if (d->v_depth > (n = vs_qwen_vl_indexed_count(m, blocks)))
        return vs_error_set(VS_ERR_MODEL, "%s: vision_config.depth (%lld) is more than the %lld blocks the checkpoint has (%s*)",
                            m->config_path, (long long)d->v_depth, (long long)n, blocks);
    if ((int64_t)d->n_deepstack > (n = vs_qwen_vl_indexed_count(m, mergers)))
        return vs_error_set(VS_ERR_MODEL, "%s: vision_config.deepstack_visual_indexes lists %zu layers but the checkpoint has %lld deepstack mergers (%s*)",
                            m->config_path, d->n_deepstack, (long long)n, mergers);
    return VS_OK;
}

const struct vs_qwen_vl_family_desc vs_qwen3_vl_family = {
    .hf_model_type = "qwen3_vl", .moe = false,
    .parse_config = parse_config, .check_counts = check_counts, .vision_forward = vs_qwen3_vl_vision_forward,
};

const struct vs_qwen_vl_family_desc vs_qwen3_vl_moe_family = {
    .hf_model_type = "qwen3_vl_moe", .moe = true,
    .parse_config = parse_config, .check_counts = check_counts, .vision_forward = vs_qwen3_vl_vision_forward,
};
