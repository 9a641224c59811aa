/* Shared part of the Qwen-VL adapters (Qwen3-VL, Qwen3-VL-MoE, and Qwen2.5-VL in
 * model/qwen2_5_vl/): config.json, the vision tower unit, the attention half of a text layer,
 * and the tail. The two Qwen3-VL adapters differ only in a text layer's MLP (qwen3_vl.c,
 * qwen3_vl_moe.c); Qwen2.5-VL brings its own config, units and vision tower and shares the
 * text model, the sample state and the tail.
 *
 * Parameters are named with the family's prefixes (d.vis_prefix, d.text_prefix): Qwen3-VL as
 * transformers >= 4.52 names them (`model.visual.*`, `model.language_model.*`), Qwen2.5-VL as
 * its published checkpoints and msModelSlim do (`visual.*`, `model.*`); `lm_head.weight` in
 * both. A checkpoint in the other layout is read through vs_qwen3_vl_source_name. */
#ifndef VS_MODEL_QWEN3_VL_COMMON_H
#define VS_MODEL_QWEN3_VL_COMMON_H

#include <jansson.h>
#include <stdbool.h>

#include "io/safetensors.h"
#include "model/adapter.h"

struct vs_qwen3_vl_dims {
    const char *vis_prefix, *text_prefix; /* of the parameter names: "model.visual.", "model.language_model." */
    const char *head_name;                /* the head's module name: "lm_head" (set before parse_config) */
    /* vision_config */
    int64_t v_depth, v_hidden, v_heads, v_intermediate, patch_size, temporal_patch_size,
        merge_size, in_channels, out_hidden, num_position_embeddings;
    int64_t *deepstack_indexes;
    size_t n_deepstack;
    /* Qwen2.5-VL: window attention (window_size in pixels) except in the full-attention blocks */
    int64_t window_size;
    int64_t *fullatt_indexes;
    size_t n_fullatt;
    /* text_config */
    int64_t hidden, layers, heads, kv_heads, head_dim, intermediate, vocab;
    /* MoE */
    int64_t experts, topk, moe_intermediate, decoder_sparse_step;
    int64_t *mlp_only_layers;
    size_t n_mlp_only_layers;
    bool tie_word_embeddings;
    /* text numerics */
    double rms_norm_eps;      /* default 1e-6 */
    double rope_theta;        /* default 5e6 */
    int64_t mrope_section[3]; /* rope_scaling.mrope_section */
    bool mrope_interleaved;   /* Qwen3-VL: T/H/W frequencies interleaved; Qwen2.5-VL: in sections */
    bool image_frame_time;    /* an image's frames step the T position (Qwen3-VL); Qwen2.5-VL: 0 */
    bool rope_1d;             /* plain RoPE: every position id is the token's index (InternVL) */
    bool norm_topk_prob;      /* default true */
    int64_t image_token_id;   /* default 151655 */
};

struct vs_qwen3_vl_vision_out;
struct vs_linear_hooks;
/* A family's vision tower over the patches of n_images images (see qwen3_vl_vision.h). */
typedef enum vs_status (*vs_qwen_vl_vision_fn)(const struct vs_model *m, const struct vs_unit *u,
                                               const float *pixel_values, int64_t patches,
                                               const int64_t (*grids)[3], int64_t n_images,
                                               const struct vs_linear_hooks *hooks,
                                               struct vs_qwen3_vl_vision_out *out);

/* What opening a checkpoint of a family needs to know. */
struct vs_qwen_vl_family_desc {
    const char *hf_model_type; /* config.json model_type */
    bool moe;
    enum vs_status (*parse_config)(struct vs_model *m);
    enum vs_status (*check_counts)(const struct vs_model *m);
    vs_qwen_vl_vision_fn vision_forward;
    /* The checkpoint is read under the family's own names (d.vis_prefix, d.text_prefix); false:
     * the Qwen-VL name layouts are told apart (model.visual.* or visual.*, see source_name). */
    bool own_names;
    /* Checks a sample's pixel_values and grids against the config (NULL: Qwen-VL patches, whole
     * merge blocks); errors begin "model inputs: ". */
    enum vs_status (*check_inputs)(const struct vs_model *m, const struct vs_model_inputs *in);
};

struct vs_model {
    char *path;
    char *config_path;
    char *model_type; /* the display name */
    bool moe;         /* family: qwen3_vl_moe */
    const char *ck_vis_prefix, *ck_text_prefix; /* the checkpoint's own prefixes (see source_name) */
    vs_qwen_vl_vision_fn vision_forward;
    enum vs_status (*check_inputs)(const struct vs_model *m, const struct vs_model_inputs *in);
    void *ext;                 /* a family's own config (parse_config sets it), freed with ext_free */
    void (*ext_free)(void *ext);
    json_t *config;
    struct vs_st_model *weights;
    struct vs_qwen3_vl_dims d;
    enum vs_dtype dtype; /* global dtype from torch_dtype */
    unsigned char *used; /* per checkpoint tensor (sorted name order): taken by some unit */
    const struct vs_unit *tail; /* set_tail: the tail parameters the forward reads, or NULL */
    bool unused_warned;         /* the checkpoint's unused tensors were named (first tail_load) */
};

/* The checkpoint's name of parameter `name`: itself, or with the family's prefixes replaced by
 * the checkpoint's (into buf, returned). */
const char *vs_qwen3_vl_source_name(const struct vs_model *m, const char *name, char *buf, size_t cap);

/* Looks a checkpoint tensor up (by its parameter name) and records that the export uses it. */
enum vs_status vs_qwen3_vl_get(struct vs_model *m, const char *name, const struct vs_st_tensor **out);

/* vs_qwen3_vl_get, checking that the tensor is a float tensor of `ndim` dims `shape` (the
 * error names the tensor, its shape and the one config.json implies). */
enum vs_status vs_qwen3_vl_get_checked(struct vs_model *m, const char *name, int ndim, const int64_t *shape,
                                       const struct vs_st_tensor **out);

/* A tail parameter (embed_tokens, final norm, lm_head) as the forward reads it: from the unit
 * given to set_tail when there is one, else from the checkpoint (lm_head falls back to the
 * embeddings when the checkpoint has none), its shape checked against config.json. */
enum vs_status vs_qwen3_vl_tail_tensor(struct vs_model *m, const char *name, const struct vs_st_tensor **out);
void vs_qwen3_vl_set_tail(struct vs_model *m, const struct vs_unit *tail);

/* Opens config.json (its model_type must be the family's) and the weights: the family's
 * parse_config reads and checks m->config into m->d and m->dtype; its check_counts checks that
 * the checkpoint has as many layers, blocks (and mergers) as config.json says (it may have
 * more: those tensors are reported as not exported). */
enum vs_status vs_qwen3_vl_open(const char *model_path, const char *model_type,
                                const struct vs_qwen_vl_family_desc *family, struct vs_model **out);
/* The Qwen3-VL and Qwen3-VL-MoE descriptions. */
extern const struct vs_qwen_vl_family_desc vs_qwen3_vl_family, vs_qwen3_vl_moe_family;

/* config.json helpers for a family's parse_config (qwen3_vl_config.c). */
struct vs_qwen_vl_int_field {
    const char *key;
    int64_t *dst;
    bool required, positive;
};
enum vs_status vs_qwen_vl_read_int_fields(const struct vs_model *m, const json_t *obj, const char *where,
                                          const struct vs_qwen_vl_int_field *fields, size_t n);
/* m->dtype from torch_dtype (or dtype) at the top level, in text_config or vision_config. */
enum vs_status vs_qwen_vl_parse_dtype(struct vs_model *m);
/* RoPE of the text config `tc` (named `tw`, NULL: the top level): rope_scaling, or transformers
 * 5's rope_parameters, whose rope_theta comes before tc's; mrope_section three counts summing
 * to head_dim/2; rope_type default or mrope. d->rope_theta holds the family's default. */
enum vs_status vs_qwen_vl_parse_rope(struct vs_model *m, const json_t *tc, const char *tw);
/* Relations between the keys that the shape math relies on (shared by the families). */
enum vs_status vs_qwen_vl_check_relations(const struct vs_model *m, bool pos_embed);
/* One more than the largest N of the checkpoint's parameters named `<prefix>N.…` (0: none). */
int64_t vs_qwen_vl_indexed_count(const struct vs_model *m, const char *prefix);
void vs_qwen3_vl_close(struct vs_model *m);
size_t vs_qwen3_vl_unit_count(const struct vs_model *m);
enum vs_dtype vs_qwen3_vl_global_dtype(const struct vs_model *m);
enum vs_status vs_qwen3_vl_tail_load(struct vs_model *m, struct vs_unit **out);

/* Unit 0 is the vision tower; units 1..L are text layers, whose MLP is added by `add_mlp`. */
typedef enum vs_status (*vs_qwen3_vl_mlp_fn)(struct vs_model *m, struct vs_unit *u, int64_t layer,
                                             const char *prefix);
enum vs_status vs_qwen3_vl_unit_load(struct vs_model *m, size_t i, vs_qwen3_vl_mlp_fn add_mlp,
                                     struct vs_unit **out);

/* Adds the checkpoint tensor `<prefix><suffix>` as a parameter, checking its shape
 * (ndim dims from `shape`); errors name the tensor and both shapes. */
enum vs_status vs_qwen3_vl_add(struct vs_model *m, struct vs_unit *u, const char *prefix,
                               const char *suffix, int ndim, const int64_t *shape);
/* Adds weight (and bias if has_bias) of a Linear `<prefix><module>` [out, in]. */
enum vs_status vs_qwen3_vl_add_linear(struct vs_model *m, struct vs_unit *u, const char *prefix,
                                      const char *module, int64_t out, int64_t in, bool has_bias);
/* self_attn of a decoder layer at `<prefix>`: q_proj, k_proj, v_proj (with biases: Qwen2),
 * o_proj, then q_norm and k_norm (Qwen3). */
enum vs_status vs_qwen_vl_add_attention(struct vs_model *m, struct vs_unit *u, const char *prefix, bool qkv_bias,
                                        bool qk_norm);
/* Dense SwiGLU MLP (gate_proj, up_proj, down_proj) at `<prefix>mlp.`. */
enum vs_status vs_qwen3_vl_add_dense_mlp(struct vs_model *m, struct vs_unit *u, const char *prefix,
                                         int64_t intermediate);

#endif
