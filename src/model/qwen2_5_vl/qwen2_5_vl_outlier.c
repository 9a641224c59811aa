/* Outlier suppression maps of the Qwen2.5-VL adapter, msModelSlim's (its
 * msmodelslim/model/qwen2_5_vl adapter, docs/qwen2_5_vl.md §5.1) for the text layers; the vision
 * blocks' are vlmslim's (vs_qwen_vl_vision_subgraphs, used with vision_subgraphs):
 *   smoothing  norm-linear input_layernorm → k_proj, q_proj, v_proj (k first, as msModelSlim
 *              lists them); norm-linear post_attention_layernorm → gate_proj, up_proj; up-down
 *              up_proj → down_proj. No ov subgraph (Qwen3-VL's adapters have one).
 *   QuaRot     R on the left of visual.merger.mlp.2 and the right of model.embed_tokens before
 *              the run; per layer the dense Qwen3-VL maps (model/qwen3_vl_graph.h: norm fusion,
 *              R and R_uv), which are msModelSlim's Qwen2.5-VL ones under these names; after the
 *              run model.norm fused into lm_head and lm_head rotated.
 * The q/k/v biases ride along: an input-column scale or a right rotation leaves a bias alone, a
 * left rotation (v_proj by R_uv) is applied to it too. Tied embeddings are refused for quarot (by
 * the quarot processor, told by quarot_sizes), where msModelSlim would rotate the one tensor twice
 * (only the 3B has them). */
#include <stdio.h>

#include "model/qwen2_5_vl/qwen2_5_vl.h"
#include "model/qwen3_vl_graph.h"

enum vs_status vs_qwen2_5_vl_unit_subgraphs(const struct vs_model *m, size_t i, struct vs_subgraph_list *out)
{
    if (i == 0) /* the vision tower: vlmslim's subgraphs, used only where a processor asks */
        return vs_qwen_vl_vision_subgraphs(&m->d, true, out);
    if (i > (size_t)m->d.layers)
        return VS_OK;
    char p[64], src[96], t[3][96];
    snprintf(p, sizeof p, "%slayers.%zu.", m->d.text_prefix, i - 1);
    snprintf(src, sizeof src, "%sinput_layernorm", p);
    snprintf(t[0], sizeof t[0], "%sself_attn.k_proj", p);
    snprintf(t[1], sizeof t[1], "%sself_attn.q_proj", p);
    snprintf(t[2], sizeof t[2], "%sself_attn.v_proj", p);
    const char *targets[3] = {t[0], t[1], t[2]}; /* copied by vs_subgraph_add */
    enum vs_status st = vs_subgraph_add(out, VS_SUBGRAPH_KIND_NORM_LINEAR, src, targets, 3);
    snprintf(src, sizeof src, "%spost_attention_layernorm", p);
    snprintf(t[0], sizeof t[0], "%smlp.gate_proj", p);
    snprintf(t[1], sizeof t[1], "%smlp.up_proj", p);
    if (st == VS_OK)
        st = vs_subgraph_add(out, VS_SUBGRAPH_KIND_NORM_LINEAR, src, targets, 2);
    snprintf(src, sizeof src, "%smlp.up_proj", p);
    snprintf(t[0], sizeof t[0], "%smlp.down_proj", p);
    if (st == VS_OK)
        st = vs_subgraph_add(out, VS_SUBGRAPH_KIND_UP_DOWN, src, targets, 1);
    return st;
}

void vs_qwen2_5_vl_quarot_sizes(const struct vs_model *m, int64_t *r_size, int64_t *uv_size, bool *tied)
{
    vs_qwen3_vl_quarot_sizes(&m->d, r_size, uv_size);
    *tied = m->d.tie_word_embeddings;
}

/* (a model with tied embeddings never gets here: quarot refuses it from quarot_sizes) */
enum vs_status vs_qwen2_5_vl_quarot_pre_run(const struct vs_model *m, struct vs_quarot_phase *out)
{
    (void)m;
    enum vs_status st = vs_quarot_add_command(out, "visual.merger.mlp.2", VS_ROT_R, VS_ROT_LEFT);
    return st != VS_OK ? st : vs_quarot_add_command(out, "model.embed_tokens", VS_ROT_R, VS_ROT_RIGHT);
}

enum vs_status vs_qwen2_5_vl_quarot_unit(const struct vs_model *m, size_t i, struct vs_quarot_phase *out)
{
    return vs_qwen3_vl_quarot_unit(&m->d, false, i, out);
}

enum vs_status vs_qwen2_5_vl_quarot_post_run(const struct vs_model *m, struct vs_quarot_phase *out)
{
    return vs_qwen3_vl_quarot_post_run(&m->d, false, out);
}
