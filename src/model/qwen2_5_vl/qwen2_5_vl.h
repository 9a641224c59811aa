/* The Qwen2.5-VL adapter (Qwen2_5_VLForConditionalGeneration, docs/qwen2_5_vl.md): its config,
 * units and vision tower (window attention) over the Qwen-VL core it shares with Qwen3-VL
 * (model/qwen3_vl_common.h: the Qwen2 text decoder is the Qwen3 one without q/k norms, with
 * q/k/v biases and MRoPE in sections, the sample state and the tail). */
#ifndef VS_MODEL_QWEN2_5_VL_H
#define VS_MODEL_QWEN2_5_VL_H

#include "model/linear_apply.h"
#include "model/qwen3_vl_common.h"
#include "model/qwen3_vl_vision.h"
#include "model/subgraph.h"

enum vs_status vs_qwen2_5_vl_parse_config(struct vs_model *m);
enum vs_status vs_qwen2_5_vl_check_counts(const struct vs_model *m);

/* The merged image features [patches / merge², out_hidden] in the patches' own order (out has
 * no DeepStack features). */
enum vs_status vs_qwen2_5_vl_vision_forward(const struct vs_model *m, const struct vs_unit *u,
                                            const float *pixel_values, int64_t patches,
                                            const int64_t (*grids)[3], int64_t n_images,
                                            const struct vs_linear_hooks *hooks,
                                            struct vs_qwen3_vl_vision_out *out);

/* The ABI-3 outlier members (qwen2_5_vl_outlier.c). */
enum vs_status vs_qwen2_5_vl_unit_subgraphs(const struct vs_model *m, size_t i, struct vs_subgraph_list *out);
void vs_qwen2_5_vl_quarot_sizes(const struct vs_model *m, int64_t *r_size, int64_t *uv_size, bool *tied);
enum vs_status vs_qwen2_5_vl_quarot_pre_run(const struct vs_model *m, struct vs_quarot_phase *out);
enum vs_status vs_qwen2_5_vl_quarot_unit(const struct vs_model *m, size_t i, struct vs_quarot_phase *out);
enum vs_status vs_qwen2_5_vl_quarot_post_run(const struct vs_model *m, struct vs_quarot_phase *out);

/* Window order (get_window_index): order[k] is the merge group (merge² consecutive patches)
 * placed k-th, windows of win x win groups per frame in row-major order over the grid padded to
 * whole windows, groups row-major within a window; window[k] is the window the k-th placed
 * group belongs to (numbered over all images, non-decreasing). Both have Σ t·(h/merge)·(w/merge)
 * entries. */
void vs_qwen2_5_vl_window_order(const int64_t (*grids)[3], int64_t n_images, int64_t merge, int64_t win,
                                int64_t *order, int32_t *window);

#endif
