/* The Qwen3-VL vision tower forward pass for one sample (qwen3_vl_spec.md §4): patch embedding,
 * interpolated position embeddings, blocks with 2-D rotary attention within each frame, DeepStack
 * mergers after the listed blocks, and the final merger. */
#ifndef VS_MODEL_QWEN3_VL_VISION_H
#define VS_MODEL_QWEN3_VL_VISION_H

#include "model/linear_apply.h"
#include "model/qwen3_vl_common.h"

struct vs_qwen3_vl_vision_out {
    float *embeds;      /* [tokens, out_hidden]: merged image features */
    float **deepstack;  /* n_deepstack arrays of [tokens, out_hidden] */
    size_t n_deepstack;
    int64_t tokens;     /* patches / merge² */
    int64_t hidden;     /* out_hidden */
};

/* Runs unit u (the loaded model.visual unit of m) on pixel_values [patches, C·T·P·P] for images
 * with grids[i] = {t, h, w}. */
enum vs_status vs_qwen3_vl_vision_forward(const struct vs_model *m, const struct vs_unit *u,
                                          const float *pixel_values, int64_t patches,
                                          const int64_t (*grids)[3], int64_t n_images,
                                          const struct vs_linear_hooks *hooks,
                                          struct vs_qwen3_vl_vision_out *out);
void vs_qwen3_vl_vision_out_free(struct vs_qwen3_vl_vision_out *o);

/* The attention half of vision block `p` ("model.visual.blocks.3", also Qwen2.5-VL's): qkv on the
 * normed input h [n, v_hidden], its (3, heads, dv) columns split, 2-D rotary cos/sin [n, dv],
 * attention within segments, proj, added to x. h is overwritten; work holds [n, 6·v_hidden]. */
enum vs_status vs_qwen_vl_vision_attention(const struct vs_model *m, const struct vs_unit *u, const char *p, float *h,
                                           int64_t n, const float *cos, const float *sin, const int32_t *segments,
                                           const struct vs_linear_hooks *hooks, float *work, float *x);

/* Runs block i of the tower (`model.visual.blocks.<i>.*` of unit u) in place on x [n, v_hidden]:
 * LayerNorm, qkv, 2-D rotary cos/sin [n, head_dim], attention within each segment (segment ids,
 * non-decreasing, one per patch: the frames of the images), proj, LayerNorm, GELU (tanh) MLP.
 * work: vs_qwen3_vl_vision_block_work(&m->d, n) floats of scratch, shared by the tower's blocks. */
enum vs_status vs_qwen3_vl_vision_block(const struct vs_model *m, const struct vs_unit *u, int64_t i, float *x,
                                        int64_t n, const float *cos, const float *sin, const int32_t *segments,
                                        const struct vs_linear_hooks *hooks, float *work);
int64_t vs_qwen3_vl_vision_block_work(const struct vs_qwen3_vl_dims *d, int64_t n);

#endif
