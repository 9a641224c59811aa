/* Model-independent descriptions of where the outlier-suppression processors act, by Hugging
 * Face module names (msmodelslim_vlm_spec.md §4.2, §4.3): smoothing subgraphs (iter_smooth,
 * smooth_quant) and QuaRot maps (norm fusions, bake names, rotation commands). Plain data; the
 * math is in quant/smooth.h and quant/quarot.h. */
#ifndef VS_MODEL_SUBGRAPH_H
#define VS_MODEL_SUBGRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

/* Values equal enum vs_smooth_type (quant/smooth.h); the YAML bit is 1u << kind. */
enum vs_subgraph_kind {
    VS_SUBGRAPH_KIND_NORM_LINEAR = 0,
    VS_SUBGRAPH_KIND_LINEAR_LINEAR = 1,
    VS_SUBGRAPH_KIND_OV = 2,
    VS_SUBGRAPH_KIND_UP_DOWN = 3,
};

enum vs_fusion_type { VS_FUSION_NONE, VS_FUSION_QKV, VS_FUSION_KV, VS_FUSION_CUSTOM };

/* msModelSlim's AdapterConfig: statistics are taken on targets[0]'s input only. */
struct vs_subgraph {
    enum vs_subgraph_kind kind;
    char *source;    /* the norm (norm-linear), v_proj (ov), up_proj (up-down), producer (linear-linear) */
    char **targets;  /* the Linears reading it */
    size_t n_targets;
    enum vs_fusion_type fusion;
    /* ov: attention shape for the per-KV-group reduction (0 otherwise) */
    int64_t num_attention_heads, num_key_value_heads, head_dim;
    const char *group_method; /* extra_config.group_method ("max" for ov, used by flex_smooth only) or NULL */
    /* ov with a fused source (a vision block's attn.qkv): the value rows are source rows
     * [source_row_begin, source_row_begin + num_key_value_heads·head_dim); 0 for a whole v_proj */
    int64_t source_row_begin;
    /* a vision block's subgraph: used only where the processor asks (vision_subgraphs, a vlmslim
     * extension; msModelSlim smooths the text layers only) */
    bool vision;
};

struct vs_subgraph_list {
    struct vs_subgraph *items;
    size_t n, cap;
};
void vs_subgraph_list_free(struct vs_subgraph_list *l);

/* QuaRot: which rotation a command uses. */
enum vs_rotation_id { VS_ROT_R, VS_ROT_UV };
enum vs_rotation_side { VS_ROT_LEFT, VS_ROT_RIGHT }; /* left: W ← Rᵀ·W (and bias); right: W ← W·R */

struct vs_norm_fusion {
    char *norm;      /* "model.language_model.layers.0.input_layernorm" */
    char **linears;  /* fused into these, in order */
    size_t n_linears;
};

struct vs_rotation_command {
    char *module; /* a Linear, or an embedding (rotated through its .weight) */
    enum vs_rotation_id rotation;
    enum vs_rotation_side side;
};

/* One phase of QuaRot work (pre-run, one unit, post-run): norm fusions first, then bakes (mean
 * subtraction, LayerNorm models only), then rotation commands in order. */
struct vs_quarot_phase {
    struct vs_norm_fusion *fusions;
    size_t n_fusions, cap_fusions;
    char **bake; /* empty for RMSNorm models */
    size_t n_bake;
    struct vs_rotation_command *commands;
    size_t n_commands, cap_commands;
};
void vs_quarot_phase_free(struct vs_quarot_phase *p);

/* Builders (used by adapters). Names are copied. */
enum vs_status vs_subgraph_add(struct vs_subgraph_list *l, enum vs_subgraph_kind kind, const char *source,
                               const char *const *targets, size_t n_targets);
enum vs_status vs_quarot_add_fusion(struct vs_quarot_phase *p, const char *norm, const char *const *linears,
                                    size_t n_linears);
enum vs_status vs_quarot_add_command(struct vs_quarot_phase *p, const char *module, enum vs_rotation_id rotation,
                                     enum vs_rotation_side side);

const char *vs_subgraph_kind_name(enum vs_subgraph_kind k); /* "norm-linear", ... */

#endif
