#include "model/qwen3_vl_graph.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define NAME_MAX_LEN 160

bool vs_qwen3_vl_graph_is_moe_layer(const struct vs_qwen3_vl_dims *d, int64_t layer)
{
    if (d->experts <= 0)
        return false;
    for (size_t i = 0; i < d->n_mlp_only_layers; i++)
        if (d->mlp_only_layers[i] == layer)
            return false;
    return d->decoder_sparse_step > 0 && (layer + 1) % d->decoder_sparse_step == 0;
}

/* n names "<prefix><suffix>" in a scratch array of NAME_MAX_LEN-byte slots. */
struct names {
    char (*v)[NAME_MAX_LEN];
    const char **p;
    size_t n, cap;
};

static enum vs_status names_reset(struct names *s, size_t cap)
{
    free(s->v), free(s->p);
    s->v = vs_malloc(cap * sizeof *s->v);
    s->p = vs_malloc(cap * sizeof *s->p);
    s->n = 0;
    s->cap = cap;
    return s->v && s->p ? VS_OK : VS_ERR_NOMEM;
}

static void names_add(struct names *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void names_add(struct names *s, const char *fmt, ...)
{
    if (s->n >= s->cap)
        abort(); /* a bug: the caller sized the scratch list */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->v[s->n], NAME_MAX_LEN, fmt, ap);
    va_end(ap);
    s->p[s->n] = s->v[s->n];
    s->n++;
}

static void names_free(struct names *s)
{
    free(s->v), free(s->p);
}

/* The text layer of adapter unit `unit`, or -1 (vision tower, tail). */
static int64_t layer_of(const struct vs_qwen3_vl_dims *d, size_t unit)
{
    return unit == 0 || unit > (size_t)d->layers ? -1 : (int64_t)unit - 1;
}

enum vs_status vs_qwen_vl_vision_subgraphs(const struct vs_qwen3_vl_dims *d, bool swiglu, struct vs_subgraph_list *out)
{
    struct names t = {0};
    enum vs_status st = names_reset(&t, 2);
    char p[64], src[NAME_MAX_LEN];
    for (int64_t b = 0; b < d->v_depth && st == VS_OK; b++) {
        snprintf(p, sizeof p, "%sblocks.%lld.", d->vis_prefix, (long long)b);
        size_t first = out->n;
        t.n = 0;
        names_add(&t, "%sattn.qkv", p);
        snprintf(src, sizeof src, "%snorm1", p);
        st = vs_subgraph_add(out, VS_SUBGRAPH_KIND_NORM_LINEAR, src, t.p, 1);
        if (st == VS_OK) { /* the value third of the fused qkv → proj, over the (MHA) vision heads */
            t.n = 0;
            names_add(&t, "%sattn.proj", p);
            snprintf(src, sizeof src, "%sattn.qkv", p);
            if ((st = vs_subgraph_add(out, VS_SUBGRAPH_KIND_OV, src, t.p, 1)) == VS_OK) {
                struct vs_subgraph *g = &out->items[out->n - 1];
                g->num_attention_heads = g->num_key_value_heads = d->v_heads;
                g->head_dim = d->v_hidden / d->v_heads;
                g->source_row_begin = 2 * d->v_hidden;
            }
        }
        if (st == VS_OK) {
            t.n = 0;
            if (swiglu)
                names_add(&t, "%smlp.gate_proj", p), names_add(&t, "%smlp.up_proj", p);
            else
                names_add(&t, "%smlp.linear_fc1", p);
            snprintf(src, sizeof src, "%snorm2", p);
            st = vs_subgraph_add(out, VS_SUBGRAPH_KIND_NORM_LINEAR, src, t.p, t.n);
        }
        if (st == VS_OK && swiglu) {
            t.n = 0;
            names_add(&t, "%smlp.down_proj", p);
            snprintf(src, sizeof src, "%smlp.up_proj", p);
            st = vs_subgraph_add(out, VS_SUBGRAPH_KIND_UP_DOWN, src, t.p, 1);
        }
        for (size_t k = first; k < out->n; k++)
            out->items[k].vision = true;
    }
    names_free(&t);
    return st;
}

static enum vs_status subgraphs(const struct vs_qwen3_vl_dims *d, bool moe, size_t unit, struct vs_subgraph_list *out)
{
    if (unit == 0)
        return vs_qwen_vl_vision_subgraphs(d, false, out);
    int64_t L = layer_of(d, unit);
    if (L < 0)
        return VS_OK;
    char p[64], src[NAME_MAX_LEN];
    snprintf(p, sizeof p, "%slayers.%lld.", d->text_prefix, (long long)L);
    struct names t = {0};
    enum vs_status st = names_reset(&t, 3);
    bool mlp = !moe;
    if (moe) {
        mlp = (L + 1) % (d->decoder_sparse_step > 0 ? d->decoder_sparse_step : 1) != 0;
        for (size_t i = 0; i < d->n_mlp_only_layers; i++)
            if (d->mlp_only_layers[i] == L)
                mlp = false;
    }
    /* norm-linear input_layernorm → q, k, v */
    if (st == VS_OK) {
        names_add(&t, "%sself_attn.q_proj", p), names_add(&t, "%sself_attn.k_proj", p), names_add(&t, "%sself_attn.v_proj", p);
        snprintf(src, sizeof src, "%sinput_layernorm", p);
        st = vs_subgraph_add(out, VS_SUBGRAPH_KIND_NORM_LINEAR, src, t.p, 3);
    }
    if (st == VS_OK && mlp && !moe) { /* dense order: both norm-linear first */
        t.n = 0;
        names_add(&t, "%smlp.gate_proj", p), names_add(&t, "%smlp.up_proj", p);
        snprintf(src, sizeof src, "%spost_attention_layernorm", p);
        st = vs_subgraph_add(out, VS_SUBGRAPH_KIND_NORM_LINEAR, src, t.p, 2);
    }
    if (st == VS_OK) {
        t.n = 0;
        names_add(&t, "%sself_attn.o_proj", p);
        snprintf(src, sizeof src, "%sself_attn.v_proj", p);
        if ((st = vs_subgraph_add(out, VS_SUBGRAPH_KIND_OV, src, t.p, 1)) == VS_OK) {
            struct vs_subgraph *g = &out->items[out->n - 1];
            g->num_attention_heads = d->heads;
            g->num_key_value_heads = d->kv_heads;
            g->head_dim = d->head_dim;
            g->group_method = "max";
        }
    }
    if (st == VS_OK && mlp && moe) {
        t.n = 0;
        names_add(&t, "%smlp.gate_proj", p), names_add(&t, "%smlp.up_proj", p);
        snprintf(src, sizeof src, "%spost_attention_layernorm", p);
        st = vs_subgraph_add(out, VS_SUBGRAPH_KIND_NORM_LINEAR, src, t.p, 2);
    }
    if (st == VS_OK && mlp) {
        t.n = 0;
        names_add(&t, "%smlp.down_proj", p);
        snprintf(src, sizeof src, "%smlp.up_proj", p);
        st = vs_subgraph_add(out, VS_SUBGRAPH_KIND_UP_DOWN, src, t.p, 1);
    }
    names_free(&t);
    return st;
}

enum vs_status vs_qwen3_vl_dense_subgraphs(const struct vs_qwen3_vl_dims *d, size_t unit, struct vs_subgraph_list *out)
{
    return subgraphs(d, false, unit, out);
}

enum vs_status vs_qwen3_vl_moe_subgraphs(const struct vs_qwen3_vl_dims *d, size_t unit, struct vs_subgraph_list *out)
{
    return subgraphs(d, true, unit, out);
}

void vs_qwen3_vl_quarot_sizes(const struct vs_qwen3_vl_dims *d, int64_t *r_size, int64_t *uv_size)
{
    *r_size = d->hidden;
    *uv_size = d->head_dim;
}

static enum vs_status refuse_tied(const struct vs_qwen3_vl_dims *d, bool moe)
{
    if (d->tie_word_embeddings)
        return vs_error_set(VS_ERR_UNSUPPORTED,
                            "%s: quarot cannot rotate a model with tie_word_embeddings: true (embed_tokens is lm_head); remove quarot from the config",
                            moe ? "qwen3_vl_moe" : "qwen3_vl");
    return VS_OK;
}

enum vs_status vs_qwen3_vl_quarot_pre_run(const struct vs_qwen3_vl_dims *d, bool moe, struct vs_quarot_phase *out)
{
    enum vs_status st = refuse_tied(d, moe);
    if (st != VS_OK)
        return st;
    char name[NAME_MAX_LEN];
    st = vs_quarot_add_command(out, "model.visual.merger.linear_fc2", VS_ROT_R, VS_ROT_LEFT);
    for (size_t k = 0; st == VS_OK && k < d->n_deepstack; k++) {
        snprintf(name, sizeof name, "model.visual.deepstack_merger_list.%zu.linear_fc2", k);
        st = vs_quarot_add_command(out, name, VS_ROT_R, VS_ROT_LEFT);
    }
    if (st == VS_OK)
        {
        snprintf(name, sizeof name, "%sembed_tokens", d->text_prefix);
        st = vs_quarot_add_command(out, name, VS_ROT_R, VS_ROT_RIGHT);
    }
    return st;
}

enum vs_status vs_qwen3_vl_quarot_unit(const struct vs_qwen3_vl_dims *d, bool moe, size_t unit,
                                       struct vs_quarot_phase *out)
{
    enum vs_status st = refuse_tied(d, moe);
    int64_t L = layer_of(d, unit);
    if (st != VS_OK || L < 0)
        return st;
    bool experts = moe && vs_qwen3_vl_graph_is_moe_layer(d, L);
    int64_t E = experts ? d->experts : 0;
    char p[64], n[NAME_MAX_LEN];
    snprintf(p, sizeof p, "%slayers.%lld.", d->text_prefix, (long long)L);
    struct names t = {0};
    if ((st = names_reset(&t, (size_t)(2 * E + 6))) != VS_OK) {
        names_free(&t);
        return st;
    }
    names_add(&t, "%sself_attn.q_proj", p), names_add(&t, "%sself_attn.k_proj", p), names_add(&t, "%sself_attn.v_proj", p);
    snprintf(n, sizeof n, "%sinput_layernorm", p);
    st = vs_quarot_add_fusion(out, n, t.p, t.n);
    t.n = 0;
    if (experts) {
        for (int64_t e = 0; e < E; e++)
            names_add(&t, "%smlp.experts.%lld.gate_proj", p, (long long)e);
        for (int64_t e = 0; e < E; e++)
            names_add(&t, "%smlp.experts.%lld.up_proj", p, (long long)e);
        names_add(&t, "%smlp.gate", p);
    } else {
        names_add(&t, "%smlp.gate_proj", p), names_add(&t, "%smlp.up_proj", p);
    }
    snprintf(n, sizeof n, "%spost_attention_layernorm", p);
    if (st == VS_OK)
        st = vs_quarot_add_fusion(out, n, t.p, t.n);
    /* "rot": left entries, then right entries */
    t.n = 0;
    names_add(&t, "%sself_attn.o_proj", p);
    if (experts)
        for (int64_t e = 0; e < E; e++)
            names_add(&t, "%smlp.experts.%lld.down_proj", p, (long long)e);
    else
        names_add(&t, "%smlp.down_proj", p);
    for (size_t i = 0; st == VS_OK && i < t.n; i++)
        st = vs_quarot_add_command(out, t.p[i], VS_ROT_R, VS_ROT_LEFT);
    t.n = 0;
    names_add(&t, "%sself_attn.q_proj", p), names_add(&t, "%sself_attn.k_proj", p), names_add(&t, "%sself_attn.v_proj", p);
    if (experts) {
        for (int64_t e = 0; e < E; e++) {
            names_add(&t, "%smlp.experts.%lld.gate_proj", p, (long long)e);
            names_add(&t, "%smlp.experts.%lld.up_proj", p, (long long)e);
        }
        names_add(&t, "%smlp.gate", p);
    } else {
        names_add(&t, "%smlp.gate_proj", p), names_add(&t, "%smlp.up_proj", p);
    }
    for (size_t i = 0; st == VS_OK && i < t.n; i++)
        st = vs_quarot_add_command(out, t.p[i], VS_ROT_R, VS_ROT_RIGHT);
    /* "rot_uv" */
    snprintf(n, sizeof n, "%sself_attn.v_proj", p);
    if (st == VS_OK)
        st = vs_quarot_add_command(out, n, VS_ROT_UV, VS_ROT_LEFT);
    snprintf(n, sizeof n, "%sself_attn.o_proj", p);
    if (st == VS_OK)
        st = vs_quarot_add_command(out, n, VS_ROT_UV, VS_ROT_RIGHT);
    names_free(&t);
    return st;
}

enum vs_status vs_qwen3_vl_quarot_post_run(const struct vs_qwen3_vl_dims *d, bool moe, struct vs_quarot_phase *out)
{
    enum vs_status st = refuse_tied(d, moe);
    if (st != VS_OK)
        return st;
    const char *lm_head = d->head_name;
    char norm[NAME_MAX_LEN];
    snprintf(norm, sizeof norm, "%snorm", d->text_prefix);
    if ((st = vs_quarot_add_fusion(out, norm, &lm_head, 1)) != VS_OK)
        return st;
    return vs_quarot_add_command(out, lm_head, VS_ROT_R, VS_ROT_RIGHT);
}
