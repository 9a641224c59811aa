#include "model/qwen3_vl_outlier.h"

#include "model/qwen3_vl_graph.h"

enum vs_status vs_qwen3_vl_unit_subgraphs(const struct vs_model *m, size_t i, struct vs_subgraph_list *out)
{
    return m->moe ? vs_qwen3_vl_moe_subgraphs(&m->d, i, out) : vs_qwen3_vl_dense_subgraphs(&m->d, i, out);
}

void vs_qwen3_vl_quarot_sizes_of(const struct vs_model *m, int64_t *r_size, int64_t *uv_size, bool *tied)
{
    vs_qwen3_vl_quarot_sizes(&m->d, r_size, uv_size);
    *tied = m->d.tie_word_embeddings;
}

enum vs_status vs_qwen3_vl_quarot_pre_run_of(const struct vs_model *m, struct vs_quarot_phase *out)
{
    return vs_qwen3_vl_quarot_pre_run(&m->d, m->moe, out);
}

enum vs_status vs_qwen3_vl_quarot_unit_of(const struct vs_model *m, size_t i, struct vs_quarot_phase *out)
{
    return vs_qwen3_vl_quarot_unit(&m->d, m->moe, i, out);
}

enum vs_status vs_qwen3_vl_quarot_post_run_of(const struct vs_model *m, struct vs_quarot_phase *out)
{
    return vs_qwen3_vl_quarot_post_run(&m->d, m->moe, out);
}
