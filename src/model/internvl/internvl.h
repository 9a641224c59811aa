/* The InternVL adapter (InternVLChatModel, the original trust_remote_code layout that msModelSlim's
 * internvl3_5 adapter reads; docs/internvl.md): InternViT, pixel shuffle and the mlp1 projector
 * as the vision unit, and the Qwen3 text decoder of the Qwen-VL core (model/qwen3_vl_common.h)
 * with plain 1-D RoPE, under the names language_model.model.* and language_model.lm_head. */
#ifndef VS_MODEL_INTERNVL_H
#define VS_MODEL_INTERNVL_H

#include "model/linear_apply.h"
#include "model/qwen3_vl_common.h"
#include "model/qwen3_vl_vision.h"
#include "model/subgraph.h"

/* The module names of one checkpoint layout (docs/internvl.md §3): the original one
 * (InternVLChatModel) or transformers' (InternVLForConditionalGeneration, the -HF checkpoints),
 * whose names the export keeps. */
struct vs_internvl_names {
    const char *tower;               /* the vision unit: "vision_model" / "model.vision_tower" */
    const char *cls, *patch, *pos;   /* the embeddings' class token, patch Conv2d (module), position table */
    const char *layer;               /* a tower layer's prefix, followed by its index and "." */
    const char *norm1, *norm2;       /* modules within a layer */
    const char *qkv;                 /* the fused attention input, or NULL: q, k, v apart */
    const char *q, *k, *v, *q_norm, *k_norm, *proj, *fc1, *fc2;
    const char *ls1, *ls2;           /* the layer scales (parameters) */
    const char *post_norm;           /* the tower's final LayerNorm (transformers: when use_mean_pooling is false) */
    const char *proj_norm, *proj1, *proj2; /* the projector: LayerNorm, Linear, (GELU), Linear */
};
extern const struct vs_internvl_names vs_internvl_original_names, vs_internvl_hf_names;

/* What InternVL's config adds to the core's dims (m->ext). */
struct vs_internvl_config {
    const struct vs_internvl_names *n; /* the checkpoint's layout */
    bool post_norm;       /* the tower ends in a LayerNorm (the -HF layout without mean pooling) */
    double qk_norm_eps;   /* original: layer_norm_eps; -HF: InternVLVisionRMSNorm's default 1e-6 */
    int64_t image_size;   /* force_image_size, else vision_config.image_size */
    int64_t grid;         /* image_size / patch_size: patches per tile side */
    int64_t shuffle;      /* 1 / downsample_ratio: pixel shuffle factor */
    bool rms_norm;        /* vision_config.norm_type rms_norm (else layer_norm) */
    bool qk_norm;         /* vision_config.qk_normalization */
    bool qkv_bias;        /* vision_config.qkv_bias */
    double norm_eps;      /* vision_config.layer_norm_eps */
};

static inline const struct vs_internvl_config *vs_internvl_config(const struct vs_model *m)
{
    return (const struct vs_internvl_config *)m->ext;
}

enum vs_status vs_internvl_parse_config(struct vs_model *m);
enum vs_status vs_internvl_hf_parse_config(struct vs_model *m);
enum vs_status vs_internvl_check_counts(const struct vs_model *m);
/* Tiles as the InternVL inputs processor writes them: pixel_values [tiles, 3·S·S], grids {1, tiles, 1}. */
enum vs_status vs_internvl_check_inputs(const struct vs_model *m, const struct vs_model_inputs *in);

/* The image features [tiles · (grid/shuffle)², llm hidden] of the tiles of n_images images. */
enum vs_status vs_internvl_vision_forward(const struct vs_model *m, const struct vs_unit *u, const float *pixel_values,
                                          int64_t tiles, const int64_t (*grids)[3], int64_t n_images,
                                          const struct vs_linear_hooks *hooks, struct vs_qwen3_vl_vision_out *out);

/* pixel_shuffle(x, 1/s) with ps_version v2 on n tiles of g x g tokens of c channels:
 * out[t, i·(g/s) + j, (l·s + k)·c + ch] = x[t, (s·i + l)·g + s·j + k, ch]. */
void vs_internvl_pixel_shuffle(const float *x, int64_t n, int64_t g, int64_t c, int64_t s, float *out);

/* The ABI-3 outlier members (internvl_outlier.c). */
enum vs_status vs_internvl_unit_subgraphs(const struct vs_model *m, size_t i, struct vs_subgraph_list *out);
void vs_internvl_quarot_sizes(const struct vs_model *m, int64_t *r_size, int64_t *uv_size, bool *tied);
enum vs_status vs_internvl_quarot_pre_run(const struct vs_model *m, struct vs_quarot_phase *out);
enum vs_status vs_internvl_quarot_unit(const struct vs_model *m, size_t i, struct vs_quarot_phase *out);
enum vs_status vs_internvl_quarot_post_run(const struct vs_model *m, struct vs_quarot_phase *out);

#endif
