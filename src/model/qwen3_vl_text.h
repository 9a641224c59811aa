/* The Qwen3-VL text model forward pass for one sample (qwen3_vl_spec.md §5): embeddings with the
 * image features scattered in, one decoder layer at a time (RMSNorm, q/k norms, MRoPE, causal GQA
 * attention, dense or MoE MLP), DeepStack additions, and the logits of the last position. */
#ifndef VS_MODEL_QWEN3_VL_TEXT_H
#define VS_MODEL_QWEN3_VL_TEXT_H

#include <stdbool.h>

#include "model/linear_apply.h"
#include "model/qwen3_vl_common.h"
#include "model/qwen3_vl_vision.h"

/* hidden [s, H] = embed_tokens[ids], the rows at image tokens replaced in order by vis->embeds
 * (their count must equal vis->tokens; vis may be NULL for text only). Caller frees. */
enum vs_status vs_qwen3_vl_embed(struct vs_model *m, const int64_t *ids, int64_t s,
                                 const struct vs_qwen3_vl_vision_out *vis, float **hidden);

/* Runs text layer `layer` (unit u) in place on x [s, H] with MRoPE tables cos/sin [s, head_dim].
 * MoE layers compute each expert on its routed tokens only, or, with all_experts, every expert on
 * every token (so observers see every expert's full input; the output is the same). */
enum vs_status vs_qwen3_vl_text_layer(const struct vs_model *m, const struct vs_unit *u, int64_t layer,
                                      float *x, int64_t s, const float *cos, const float *sin,
                                      const struct vs_linear_hooks *hooks, bool all_experts);
/* The same over the tokens of several samples at once: x holds their hidden states one after
 * the other, cos/sin their own tables, segments [s] the sample of each token (non-decreasing),
 * and attention stays causal within each sample. Every Linear and the MoE routing run once over
 * all rows. segments NULL: one sample. */
enum vs_status vs_qwen3_vl_text_layer_seg(const struct vs_model *m, const struct vs_unit *u, int64_t layer,
                                          float *x, int64_t s, const float *cos, const float *sin,
                                          const int32_t *segments, const struct vs_linear_hooks *hooks,
                                          bool all_experts);

/* x[image token i] += deep[i] for every image token (in order). */
void vs_qwen3_vl_add_deepstack(const struct vs_model *m, const int64_t *ids, int64_t s, float *x,
                               const float *deep);

/* logits [vocab] of the last position: final RMSNorm, then lm_head (the embeddings when tied). */
enum vs_status vs_qwen3_vl_logits_last(struct vs_model *m, const float *x, int64_t s, float *logits);

/* The K experts (0 < K <= E) of one token's router probabilities pr[E], by value, the lower index
 * first among equals (torch.topk's order), with their weights w[K], renormalised when asked.
 * The K indices are distinct and in [0, E) whatever the floats are (vs_linear_apply stops a run
 * at non-finite router logits, so their order is never used). */
void vs_qwen3_vl_top_k(const float *pr, int64_t E, int64_t K, bool renormalise, int64_t *sel, float *w);

#endif
