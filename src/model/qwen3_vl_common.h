/* Shared part of the Qwen3-VL and Qwen3-VL-MoE adapters: config.json, the vision tower
 * unit, the attention half of a text layer, and the tail. The two adapters differ only in
 * a text layer's MLP (qwen3_vl.c, qwen3_vl_moe.c). */
#ifndef VS_MODEL_QWEN3_VL_COMMON_H
#define VS_MODEL_QWEN3_VL_COMMON_H

#include <jansson.h>
#include <stdbool.h>

#include "io/safetensors.h"
#include "model/adapter.h"

struct vs_qwen3_vl_dims {
    /* vision_config */
    int64_t v_depth, v_hidden, v_heads, v_intermediate, patch_size, temporal_patch_size,
        merge_size, in_channels, out_hidden, num_position_embeddings;
    int64_t *deepstack_indexes;
    size_t n_deepstack;
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
    bool norm_topk_prob;      /* default true */
    int64_t image_token_id;   /* default 151655 */
};

struct vs_model {
    char *path;
    char *config_path;
    char *model_type; /* the display name */
    bool moe;         /* family: qwen3_vl_moe */
    json_t *config;
    struct vs_st_model *weights;
    struct vs_qwen3_vl_dims d;
    enum vs_dtype dtype; /* global dtype from torch_dtype */
    unsigned char *used; /* per checkpoint tensor (sorted name order): taken by some unit */
    const struct vs_unit *tail; /* set_tail: the tail parameters the forward reads, or NULL */
    bool unused_warned;         /* the checkpoint's unused tensors were named (first tail_load) */
};

/* Looks a checkpoint tensor up and records that the export uses it. */
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

/* Reads and checks m->config (config.json at m->config_path) into m->d and m->dtype
 * (qwen3_vl_config.c). */
enum vs_status vs_qwen3_vl_parse_config(struct vs_model *m);
/* Checks that the checkpoint has as many text layers, vision blocks and deepstack mergers as
 * config.json says (it may have more: those tensors are reported as not exported). */
enum vs_status vs_qwen3_vl_check_counts(const struct vs_model *m);

/* Opens config.json (its model_type must be `hf_model_type`) and the weights. */
enum vs_status vs_qwen3_vl_open(const char *model_path, const char *model_type,
                                const char *hf_model_type, bool moe, struct vs_model **out);
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
/* Dense SwiGLU MLP (gate_proj, up_proj, down_proj) at `<prefix>mlp.`. */
enum vs_status vs_qwen3_vl_add_dense_mlp(struct vs_model *m, struct vs_unit *u, const char *prefix,
                                         int64_t intermediate);

#endif
