/* Outlier suppression maps of the Qwen2.5-VL adapter (docs/qwen2_5_vl.md §5). The text layers
 * are a Qwen2 decoder under the same names as Qwen3-VL's dense ones, so their smoothing
 * subgraphs and QuaRot layer maps are the dense Qwen3-VL maps (model/qwen3_vl_graph.h); the q/k/v
 * biases ride along (a right rotation or an input-column scale leaves a bias alone, a left one
 * or an output-row scale is applied to it too). Before the run, R is applied on the left of the
 * merger's last Linear (mlp.2, the vision tower's output into the text stream) and on the right
 * of the embeddings. The vision blocks get no subgraphs and no rotation. */
#include "model/qwen2_5_vl/qwen2_5_vl.h"
#include "model/qwen3_vl_graph.h"

enum vs_status vs_qwen2_5_vl_unit_subgraphs(const struct vs_model *m, size_t i, struct vs_subgraph_list *out)
{
    return vs_qwen3_vl_dense_subgraphs(&m->d, i, out);
}

void vs_qwen2_5_vl_quarot_sizes(const struct vs_model *m, int64_t *r_size, int64_t *uv_size, bool *tied)
{
    vs_qwen3_vl_quarot_sizes(&m->d, r_size, uv_size);
    *tied = m->d.tie_word_embeddings;
}

/* Runs first: a model with tied embeddings is refused here, before the other phases. */
enum vs_status vs_qwen2_5_vl_quarot_pre_run(const struct vs_model *m, struct vs_quarot_phase *out)
{
    if (m->d.tie_word_embeddings)
        return vs_error_set(VS_ERR_UNSUPPORTED,
                            "qwen2_5_vl: quarot cannot rotate a model with tie_word_embeddings: true (embed_tokens is "
                            "lm_head); remove quarot from the config");
    enum vs_status st = vs_quarot_add_command(out, "model.visual.merger.mlp.2", VS_ROT_R, VS_ROT_LEFT);
    return st != VS_OK ? st : vs_quarot_add_command(out, "model.language_model.embed_tokens", VS_ROT_R, VS_ROT_RIGHT);
}

enum vs_status vs_qwen2_5_vl_quarot_unit(const struct vs_model *m, size_t i, struct vs_quarot_phase *out)
{
    return vs_qwen3_vl_quarot_unit(&m->d, false, i, out);
}

enum vs_status vs_qwen2_5_vl_quarot_post_run(const struct vs_model *m, struct vs_quarot_phase *out)
{
    return vs_qwen3_vl_quarot_post_run(&m->d, false, out);
}
