/* Where Qwen3-VL and Qwen3-VL-MoE are smoothed and rotated (msmodelslim_vlm_spec.md §4.4, §4.5),
 * by Hugging Face module names, per unit of the adapter (0 = model.visual, 1..L = text layer
 * L-1; the tail has none).
 *
 * Smoothing subgraphs (msModelSlim's: text layers only; the vision ones are vlmslim's):
 *   qwen3_vl      norm-linear input_layernorm → q_proj, k_proj, v_proj; norm-linear
 *                 post_attention_layernorm → mlp.gate_proj, mlp.up_proj; ov v_proj → o_proj
 *                 (group_method "max"); up-down mlp.up_proj → mlp.down_proj.
 *   qwen3_vl_moe  norm-linear input_layernorm → q, k, v; ov v_proj → o_proj; and, for a layer i
 *                 with i ∉ mlp_only_layers and (i+1) % decoder_sparse_step != 0, the two MLP
 *                 subgraphs. That is msModelSlim's condition, literally: a dense layer listed in
 *                 mlp_only_layers gets no MLP subgraphs (quirk, kept).
 * QuaRot (R = HADAMARD(text hidden_size, block_size), R_uv = BLOCK_HADAMARD_SHIFTED(head_dim,
 * block_size)):
 *   pre-run   left R: model.visual.merger.linear_fc2, model.visual.deepstack_merger_list.{k}.linear_fc2;
 *             right R: model.language_model.embed_tokens. No norm fusion, no bakes.
 *   layer     fuse input_layernorm → q, k, v; post_attention_layernorm → gate_proj, up_proj
 *             (MoE layer: experts.{e}.gate_proj for every e, then experts.{e}.up_proj, then
 *             mlp.gate); then left R o_proj and down_proj (MoE: every expert's down_proj), right R
 *             q, k, v and gate_proj, up_proj (MoE: gate_proj, up_proj of each expert, then
 *             mlp.gate), left R_uv v_proj, right R_uv o_proj.
 *   post-run  fuse model.language_model.norm → lm_head; right R lm_head.
 * Tied word embeddings are refused (msModelSlim's dense adapter raises; the MoE one would rotate
 * one tensor twice). A dense layer of a MoE checkpoint (mlp_only_layers, decoder_sparse_step)
 * gets the dense MLP names in its QuaRot maps. */
#ifndef VS_MODEL_QWEN3_VL_GRAPH_H
#define VS_MODEL_QWEN3_VL_GRAPH_H

#include <stdbool.h>

#include "model/qwen3_vl_common.h"
#include "model/subgraph.h"

/* True when text layer `layer` has a routed-experts MLP (num_experts > 0, not in mlp_only_layers,
 * (layer + 1) % decoder_sparse_step == 0). */
bool vs_qwen3_vl_graph_is_moe_layer(const struct vs_qwen3_vl_dims *d, int64_t layer);

/* The vision tower's smoothing subgraphs (unit 0; marked vision, used only with the
 * processors' vision_subgraphs, docs/vision_smoothing.md), per block: norm-linear norm1 →
 * attn.qkv; ov attn.qkv's value rows → attn.proj; norm-linear norm2 → mlp.linear_fc1, or with
 * `swiglu` (Qwen2.5-VL) → mlp.gate_proj, mlp.up_proj and up-down mlp.up_proj → mlp.down_proj. */
enum vs_status vs_qwen_vl_vision_subgraphs(const struct vs_qwen3_vl_dims *d, bool swiglu, struct vs_subgraph_list *out);

/* Smoothing subgraphs of one unit, appended to *out (unit 0: the vision ones above; the tail
 * adds none). */
enum vs_status vs_qwen3_vl_dense_subgraphs(const struct vs_qwen3_vl_dims *d, size_t unit,
                                           struct vs_subgraph_list *out);
enum vs_status vs_qwen3_vl_moe_subgraphs(const struct vs_qwen3_vl_dims *d, size_t unit,
                                         struct vs_subgraph_list *out);

/* Rotation sizes: R over the text hidden size, R_uv over head_dim. */
void vs_qwen3_vl_quarot_sizes(const struct vs_qwen3_vl_dims *d, int64_t *r_size, int64_t *uv_size);

/* QuaRot phases; `moe` selects the family (qwen3_vl_moe). The unit phase of unit 0 is empty. */
enum vs_status vs_qwen3_vl_quarot_pre_run(const struct vs_qwen3_vl_dims *d, bool moe, struct vs_quarot_phase *out);
enum vs_status vs_qwen3_vl_quarot_unit(const struct vs_qwen3_vl_dims *d, bool moe, size_t unit,
                                       struct vs_quarot_phase *out);
enum vs_status vs_qwen3_vl_quarot_post_run(const struct vs_qwen3_vl_dims *d, bool moe, struct vs_quarot_phase *out);

#endif
