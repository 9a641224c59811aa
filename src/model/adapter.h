/* The model adapter interface: what vlmslim needs from a model family.
 *
 * An adapter is a table of functions over an opened model. Built-in adapters are listed in
 * registry.c; a third party adds one without rebuilding vlmslim by compiling a shared library
 * that defines `const struct vs_adapter_ops <symbol>` and naming `path/to/lib.so:<symbol>` in
 * config.ini's [ModelAdapterEntryPoints]. Later ABI versions append members; vlmslim reads
 * only the members of the version an adapter declares. */
#ifndef VS_MODEL_ADAPTER_H
#define VS_MODEL_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "model/unit.h"
#include "tensor/dtype.h"

#define VS_ADAPTER_ABI_VERSION 4u

struct vs_model;        /* adapter-defined */
struct vs_sample;       /* adapter-defined: one sample's state carried from unit to unit */
struct vs_model_inputs; /* inputs/model_inputs.h */
struct vs_linear_hooks; /* model/linear_apply.h */
struct vs_subgraph_list; /* model/subgraph.h */
struct vs_quarot_phase;  /* model/subgraph.h */

struct vs_adapter_ops {
    uint32_t abi_version; /* VS_ADAPTER_ABI_VERSION the adapter was built against */
    const char *key;      /* registry group key, "qwen3_vl_moe" */
    const char *pedigree; /* lab_practice/<pedigree>/ holds its best practices */

    /* Reads config.json and opens the weights (nothing large is loaded). model_type is the
     * display name the user gave. Errors name the file and key at fault. */
    enum vs_status (*open)(const char *model_path, const char *model_type, struct vs_model **out);
    void (*close)(struct vs_model *m);

    /* Units in forward order: model.visual, then model.language_model.layers.0 .. L-1. */
    size_t (*unit_count)(const struct vs_model *m);
    /* Builds unit i (caller frees with vs_unit_free): every parameter of the unit with its HF
     * name, in module order, MoE experts unstacked, and its Linear modules. */
    enum vs_status (*unit_load)(struct vs_model *m, size_t i, struct vs_unit **out);
    /* The parameters outside every unit, written after the last one (embed_tokens, final
     * norm, lm_head — lm_head as a copy of embed_tokens when the embeddings are tied). */
    enum vs_status (*tail_load)(struct vs_model *m, struct vs_unit **out);

    /* The model's global dtype (config torch_dtype; F32 when absent). Savers use it for
     * dtype rules such as W8A8's deq_scale. */
    enum vs_dtype (*global_dtype)(const struct vs_model *m);

    /* ---- ABI 2: the forward pass, one unit at a time (all NULL for an ABI-1 adapter) ----
     * A runner begins a sample from its model inputs, then runs units 0..unit_count-1 in order
     * on the sample's state, then asks for the logits. The unit passed to unit_forward is the
     * one unit_load built, or a copy of it with float32 parameters (the runner converts each
     * unit once and shares it between samples). */

    /* A sample's state before unit 0 (copies what it needs of `in`). */
    enum vs_status (*sample_begin)(struct vs_model *m, const struct vs_model_inputs *in, struct vs_sample **out);
    /* Runs unit i on the state in place. Every Linear goes through vs_linear_apply with
     * `hooks` (may be NULL); with all_experts a MoE layer computes every expert on every token
     * (the output is unchanged) and reports the truly routed token counts through
     * hooks->routed_tokens. Units must be run in order; errors name the unit. */
    enum vs_status (*unit_forward)(struct vs_model *m, size_t i, const struct vs_unit *u, struct vs_sample *s,
                                   const struct vs_linear_hooks *hooks, bool all_experts);
    /* After the last unit: the logits of the last position (*n = vocabulary size; caller frees). */
    enum vs_status (*sample_logits)(struct vs_model *m, const struct vs_sample *s, float **logits, int64_t *n);
    /* The output of the last unit run: [rows, cols] float32, borrowed (vision tower: the merged
     * image features, 0 rows for a text-only sample; text layer: the hidden states). */
    void (*sample_output)(const struct vs_sample *s, const float **data, int64_t *rows, int64_t *cols);
    /* Serialized size of the state in bytes; the state written to / read back from such a
     * buffer (for spilling to disk and for copies). */
    size_t (*sample_size)(const struct vs_sample *s);
    void (*sample_save)(const struct vs_sample *s, void *buf);
    enum vs_status (*sample_load)(struct vs_model *m, const void *buf, size_t n, struct vs_sample **out);
    void (*sample_free)(struct vs_sample *s);
    /* True if Linear `module` sees only the tokens a router sends it (a MoE expert). */
    bool (*linear_is_routed)(const struct vs_model *m, const char *module);

    /* ---- ABI 3: outlier suppression (all NULL for ABI-1/2 adapters) ----
     * Where iter_smooth/smooth_quant and QuaRot act, by HF module names (model/subgraph.h). */

    /* Smoothing subgraphs of unit i (statistics on targets[0]'s input), appended to *out. */
    enum vs_status (*unit_subgraphs)(const struct vs_model *m, size_t i, struct vs_subgraph_list *out);
    /* QuaRot: the sizes of R (residual stream) and R_uv (inside a head), and whether the word
     * embeddings are tied (QuaRot refuses them). */
    void (*quarot_sizes)(const struct vs_model *m, int64_t *r_size, int64_t *uv_size, bool *tied_embeddings);
    /* QuaRot phases: before every unit, unit i's own work, after the last unit. */
    enum vs_status (*quarot_pre_run)(const struct vs_model *m, struct vs_quarot_phase *out);
    enum vs_status (*quarot_unit)(const struct vs_model *m, size_t i, struct vs_quarot_phase *out);
    enum vs_status (*quarot_post_run)(const struct vs_model *m, struct vs_quarot_phase *out);
    /* Makes the forward pass read the parameters outside every unit (embeddings, final norm,
     * lm_head) from `tail` (a unit with tail_load's parameter names and whole tensors, e.g. a
     * transformed float32 copy) instead of the checkpoint; NULL goes back to the checkpoint.
     * The unit must outlive its use. */
    void (*set_tail)(struct vs_model *m, const struct vs_unit *tail);

    /* ---- ABI 4: evaluation (NULL for ABI-1..3 adapters) ---- */

    /* The vocabulary size (the logits' width). */
    int64_t (*vocab_size)(const struct vs_model *m);
    /* After the last unit: the logits of positions [begin, end) of the sample (sample_output's
     * rows) into out [end - begin, vocab_size], after the final norm; the head (lm_head, or the
     * embeddings when tied, read through set_tail's unit when one is set) runs through hooks
     * (may be NULL), whose compute hook may take "lm_head". */
    enum vs_status (*sample_logits_rows)(struct vs_model *m, const struct vs_sample *s, int64_t begin, int64_t end,
                                         float *out, const struct vs_linear_hooks *hooks);

    /* Built-in adapters only (a plugin's table is read without it): unit_forward on n states at
     * once, as if run on each in turn, the Linears seeing the rows of several samples in one
     * call (so that each multiplies more rows). NULL: the runner runs one sample at a time. */
    enum vs_status (*unit_forward_batch)(struct vs_model *m, size_t i, const struct vs_unit *u,
                                         struct vs_sample *const *s, size_t n, const struct vs_linear_hooks *hooks,
                                         bool all_experts);
};

/* True if the adapter implements the ABI-2 forward members. */
static inline bool vs_adapter_has_forward(const struct vs_adapter_ops *o)
{
    return o->abi_version >= 2 && o->sample_begin && o->unit_forward && o->sample_logits && o->sample_output &&
           o->sample_size && o->sample_save && o->sample_load && o->sample_free && o->linear_is_routed;
}

/* True if the adapter implements the ABI-4 evaluation members (and the forward). */
static inline bool vs_adapter_has_eval(const struct vs_adapter_ops *o)
{
    return o->abi_version >= 4 && vs_adapter_has_forward(o) && o->set_tail && o->vocab_size && o->sample_logits_rows;
}

/* True if the adapter implements the ABI-3 smoothing member. */
static inline bool vs_adapter_has_subgraphs(const struct vs_adapter_ops *o)
{
    return o->abi_version >= 3 && o->unit_subgraphs;
}

/* True if the adapter implements the ABI-3 QuaRot members. */
static inline bool vs_adapter_has_quarot(const struct vs_adapter_ops *o)
{
    return o->abi_version >= 3 && o->quarot_sizes && o->quarot_pre_run && o->quarot_unit && o->quarot_post_run &&
           o->set_tail;
}

#endif
