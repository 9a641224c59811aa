/* Offline QuaRot weight transforms of msModelSlim (msmodelslim_vlm_spec.md §5.3, §7.4), over
 * float32 buffers edited in place.
 *
 * A rotated model computes the same function with its residual stream multiplied by R
 * (x' = x·R): norms feeding rotated Linears are first fused into those Linears (their weight
 * becomes ones, so the norm commutes with R), Linears reading the residual are rotated on the
 * input side (W ← W·R: q/k/v, gate/up, the MoE router, lm_head), Linears writing it on the output
 * side (W ← Rᵀ·W, b ← Rᵀ·b: o_proj, down_proj, the vision merger's and DeepStack mergers'
 * linear_fc2) and the embedding table on its columns (E ← E·R). R_uv does the same inside each
 * attention head between v_proj (output side) and o_proj (input side).
 *
 * Order (the runner's job, with the maps of model/qwen3_vl_graph.h): pre-run = fuse the pre-run
 * norms, rotate the embedding and the merger/DeepStack linear_fc2; per text layer = fuse its norms,
 * then its rotations in command order; post-run = fuse the final norm into lm_head, rotate
 * lm_head. msModelSlim casts each weight back to the checkpoint dtype after every operation; with
 * float32 buffers that rounding is the caller's (it changes values by at most one bf16 step). */
#ifndef VS_QUANT_QUAROT_H
#define VS_QUANT_QUAROT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "config/quant_config.h"
#include "quant/hadamard.h"
#include "quant/linear_weights.h"

/* Refuses what offline QuaRot cannot do for a model: `online: true` (needs per-head and Kronecker
 * runtime rotations no Qwen3-VL adapter provides) and tied word embeddings (the embedding is
 * rotated on one side and lm_head, the same tensor, after the final norm is fused into it).
 * `what` names the config entry ("spec.process[0]") or model in the message. */
enum vs_status vs_quarot_check(const struct vs_quarot_config *c, bool tie_word_embeddings, const char *what);

/* Norm fusion: every linear's W ← W·diag(γ) (and b += W·β with the unscaled W, creating nothing:
 * a linear with b == NULL under a norm with a bias is an error), then γ ← 1 and β ← 0.
 * beta may be NULL (RMSNorm). `norm` names the norm in messages. */
enum vs_status vs_quarot_fuse_norm(const char *norm, float *gamma, float *beta, int64_t C,
                                   const struct vs_linear_weights *linears, size_t n_linears);
/* The same for one Linear, leaving γ and β as they are: a caller fusing a norm into its Linears
 * one at a time resets them itself after the last (vs_quarot_reset_norm). */
enum vs_status vs_quarot_fuse_norm_into(const char *norm, const float *gamma, const float *beta, int64_t C,
                                        const struct vs_linear_weights *l);
void vs_quarot_reset_norm(float *gamma, float *beta, int64_t C);

/* W [rows, cols] ← W·R over its columns (cols a multiple of r->size): a Linear's input side, or
 * an embedding table. Power-of-two HADAMARD rotations (r->signs set) run as the fast transform,
 * O(log block) operations per element; others as a BLAS product with the block. */
enum vs_status vs_quarot_rotate_right(const struct vs_rotation *r, float *w, int64_t rows, int64_t cols,
                                      const char *name);

/* W [rows, cols] ← Rᵀ·W over its rows (rows a multiple of r->size), and b [rows] ← Rᵀ·b if b is
 * not NULL: a Linear's output side. */
enum vs_status vs_quarot_rotate_left(const struct vs_rotation *r, float *w, int64_t rows, int64_t cols,
                                     float *b, const char *name);

/* The phases over explicit buffers (the same operations the maps of model/qwen3_vl_graph.h name):
 * pre-run: every merger's linear_fc2 (the vision merger, then each DeepStack merger) rotated on its
 * output side with its bias, then the embedding table embed [vocab, hidden] on its columns. */
enum vs_status vs_quarot_pre_run(const struct vs_rotation *R, const struct vs_linear_weights *merger_fc2,
                                 size_t n_mergers, float *embed, int64_t vocab, int64_t hidden);

/* post-run: the final RMSNorm weight fused into lm_head (then ones), lm_head rotated on its input
 * side. */
enum vs_status vs_quarot_post_run(const struct vs_rotation *R, float *final_norm, const struct vs_linear_weights *lm_head);

/* One text layer. mlp_in: the Linears reading post_attention_layernorm (gate_proj, up_proj; for a
 * MoE layer every expert's gate_proj and up_proj and the router); mlp_out: those writing the
 * residual (down_proj, or every expert's). Order: both fusions; R left on o_proj and mlp_out; R
 * right on q, k, v and mlp_in; R_uv left on v_proj (per KV head) and right on o_proj (per head). */
struct vs_quarot_layer {
    float *input_norm, *post_norm; /* [hidden] */
    struct vs_linear_weights q, k, v, o;
    const struct vs_linear_weights *mlp_in, *mlp_out;
    size_t n_mlp_in, n_mlp_out;
};
enum vs_status vs_quarot_apply_layer(const struct vs_rotation *R, const struct vs_rotation *Ruv,
                                     const struct vs_quarot_layer *l);

/* What the export holds for offline QuaRot with export_extra_info (§7.4): one tensor
 * `global_rotation`, float32 [size, size] = the dense R, in `optional/quarot.safetensors`
 * relative to the save directory, and the description's "optional" member
 * {"quarot": {"rotation_map": {"global_rotation": "optional/quarot.safetensors"}}}. */
#define VS_QUAROT_EXPORT_FILE "optional/quarot.safetensors"
#define VS_QUAROT_EXPORT_TENSOR "global_rotation"
struct vs_quarot_export {
    const char *file;        /* VS_QUAROT_EXPORT_FILE */
    const char *tensor_name; /* VS_QUAROT_EXPORT_TENSOR */
    int64_t shape[2];
    float *data; /* size×size, owned */
    char *optional_json; /* the "optional" member's value as compact JSON text, owned */
};
enum vs_status vs_quarot_export_init(const struct vs_rotation *r, struct vs_quarot_export *out);
void vs_quarot_export_free(struct vs_quarot_export *e);

#endif
