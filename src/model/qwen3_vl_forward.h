/* The ABI-2 forward members of the Qwen3-VL and Qwen3-VL-MoE adapters: one sample's state
 * (token ids, grids, pixels until the vision tower has run, image features and DeepStack
 * features until the text layers have used them, hidden states), run unit by unit on the
 * existing vision and text forward functions. */
#ifndef VS_MODEL_QWEN3_VL_FORWARD_H
#define VS_MODEL_QWEN3_VL_FORWARD_H

#include "model/qwen3_vl_common.h"

enum vs_status vs_qwen3_vl_sample_begin(struct vs_model *m, const struct vs_model_inputs *in, struct vs_sample **out);
enum vs_status vs_qwen3_vl_unit_forward(struct vs_model *m, size_t i, const struct vs_unit *u, struct vs_sample *s,
                                        const struct vs_linear_hooks *hooks, bool all_experts);
enum vs_status vs_qwen3_vl_sample_logits(struct vs_model *m, const struct vs_sample *s, float **logits, int64_t *n);
int64_t vs_qwen3_vl_vocab_size(const struct vs_model *m);
enum vs_status vs_qwen3_vl_sample_logits_rows(struct vs_model *m, const struct vs_sample *s, int64_t begin, int64_t end,
                                              float *out, const struct vs_linear_hooks *hooks);
void vs_qwen3_vl_sample_output(const struct vs_sample *s, const float **data, int64_t *rows, int64_t *cols);
/* unit_forward on n samples at once, in batches of up to VS_QWEN3_VL_BATCH_PATCHES patches (the
 * vision tower; attention stays within each image) or VS_QWEN3_VL_BATCH_TOKENS tokens (a text
 * layer; attention causal within each sample), so that every Linear multiplies the rows of
 * several samples in one GEMM. A unit narrower than VS_QWEN3_VL_BATCH_MIN_HIDDEN runs one sample
 * at a time: its GEMMs are small enough for OpenBLAS's small-matrix kernels, which round
 * differently from its regular ones, so the number of rows would move results that are compared
 * bit for bit with per-sample references; a wider unit's per-sample GEMMs already take the
 * regular path, whose rows do not depend on one another. */
enum { VS_QWEN3_VL_BATCH_TOKENS = 4096, VS_QWEN3_VL_BATCH_PATCHES = 8192, VS_QWEN3_VL_BATCH_MIN_HIDDEN = 512 };
enum vs_status vs_qwen3_vl_unit_forward_batch(struct vs_model *m, size_t i, const struct vs_unit *u,
                                              struct vs_sample *const *s, size_t n,
                                              const struct vs_linear_hooks *hooks, bool all_experts);
/* The same with batches of up to batch_rows patches or tokens whatever the unit's width (0: one
 * sample at a time). */
enum vs_status vs_qwen3_vl_unit_forward_samples(struct vs_model *m, size_t i, const struct vs_unit *u,
                                                struct vs_sample *const *s, size_t n,
                                                const struct vs_linear_hooks *hooks, bool all_experts,
                                                int64_t batch_rows);
size_t vs_qwen3_vl_sample_size(const struct vs_sample *s);
void vs_qwen3_vl_sample_save(const struct vs_sample *s, void *buf);
enum vs_status vs_qwen3_vl_sample_load(struct vs_model *m, const void *buf, size_t n, struct vs_sample **out);
void vs_qwen3_vl_sample_free(struct vs_sample *s);
bool vs_qwen3_vl_linear_is_routed(const struct vs_model *m, const char *module);

#define VS_QWEN3_VL_FORWARD_OPS                          \
    .sample_begin = vs_qwen3_vl_sample_begin,            \
    .unit_forward = vs_qwen3_vl_unit_forward,            \
    .unit_forward_batch = vs_qwen3_vl_unit_forward_batch, \
    .sample_logits = vs_qwen3_vl_sample_logits,          \
    .vocab_size = vs_qwen3_vl_vocab_size,                \
    .sample_logits_rows = vs_qwen3_vl_sample_logits_rows, \
    .sample_output = vs_qwen3_vl_sample_output,          \
    .sample_size = vs_qwen3_vl_sample_size,              \
    .sample_save = vs_qwen3_vl_sample_save,              \
    .sample_load = vs_qwen3_vl_sample_load,              \
    .sample_free = vs_qwen3_vl_sample_free,              \
    .linear_is_routed = vs_qwen3_vl_linear_is_routed

#endif
