/* Outlier suppression maps of the InternVL adapter, msModelSlim's (its msmodelslim/model/
 * internvl3_5 adapter, docs/internvl.md §5; the -HF layout's under its names): smoothing only in
 * the text layers (norm-linear input_layernorm → q, k, v; norm-linear post_attention_layernorm →
 * gate, up; ov v_proj → o_proj; up-down up_proj → down_proj), none in the tower; QuaRot R on the
 * left of the projector's last Linear (mlp1.3) and the right of the embeddings before the run, per
 * layer the dense Qwen3-VL maps (norm fusion, R, R_uv), after the run the final norm fused into
 * the head and the head rotated. Tied embeddings are refused for quarot. */
#include <stdio.h>

#include "model/internvl/internvl.h"
#include "model/qwen3_vl_graph.h"

enum vs_status vs_internvl_unit_subgraphs(const struct vs_model *m, size_t i, struct vs_subgraph_list *out)
{
    if (i == 0 || i > (size_t)m->d.layers) /* msModelSlim smooths no vision subgraph of InternVL */
        return VS_OK;
    return vs_qwen3_vl_dense_subgraphs(&m->d, i, out);
}

void vs_internvl_quarot_sizes(const struct vs_model *m, int64_t *r_size, int64_t *uv_size, bool *tied)
{
    vs_qwen3_vl_quarot_sizes(&m->d, r_size, uv_size);
    *tied = m->d.tie_word_embeddings;
}

enum vs_status vs_internvl_quarot_pre_run(const struct vs_model *m, struct vs_quarot_phase *out)
{
    char name[96];
    snprintf(name, sizeof name, "%sembed_tokens", m->d.text_prefix);
    enum vs_status st = vs_quarot_add_command(out, vs_internvl_config(m)->n->proj2, VS_ROT_R, VS_ROT_LEFT);
    return st != VS_OK ? st : vs_quarot_add_command(out, name, VS_ROT_R, VS_ROT_RIGHT);
}

enum vs_status vs_internvl_quarot_unit(const struct vs_model *m, size_t i, struct vs_quarot_phase *out)
{
    return vs_qwen3_vl_quarot_unit(&m->d, false, i, out);
}

enum vs_status vs_internvl_quarot_post_run(const struct vs_model *m, struct vs_quarot_phase *out)
{
    return vs_qwen3_vl_quarot_post_run(&m->d, false, out);
}
