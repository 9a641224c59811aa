/* The ABI-3 outlier-suppression members of the Qwen3-VL and Qwen3-VL-MoE adapters: the maps
 * of model/qwen3_vl_graph.h for the opened model, and the forward's tail override. */
#ifndef VS_MODEL_QWEN3_VL_OUTLIER_H
#define VS_MODEL_QWEN3_VL_OUTLIER_H

#include "model/qwen3_vl_common.h"
#include "model/subgraph.h"

enum vs_status vs_qwen3_vl_unit_subgraphs(const struct vs_model *m, size_t i, struct vs_subgraph_list *out);
void vs_qwen3_vl_quarot_sizes_of(const struct vs_model *m, int64_t *r_size, int64_t *uv_size, bool *tied);
enum vs_status vs_qwen3_vl_quarot_pre_run_of(const struct vs_model *m, struct vs_quarot_phase *out);
enum vs_status vs_qwen3_vl_quarot_unit_of(const struct vs_model *m, size_t i, struct vs_quarot_phase *out);
enum vs_status vs_qwen3_vl_quarot_post_run_of(const struct vs_model *m, struct vs_quarot_phase *out);

#define VS_QWEN3_VL_OUTLIER_OPS                          \
    .unit_subgraphs = vs_qwen3_vl_unit_subgraphs,        \
    .quarot_sizes = vs_qwen3_vl_quarot_sizes_of,         \
    .quarot_pre_run = vs_qwen3_vl_quarot_pre_run_of,     \
    .quarot_unit = vs_qwen3_vl_quarot_unit_of,           \
    .quarot_post_run = vs_qwen3_vl_quarot_post_run_of,   \
    .set_tail = vs_qwen3_vl_set_tail

#endif
