/* The model adapter interface: what vlmslim needs from a model family.
 *
 * An adapter is a table of functions over an opened model. Built-in adapters are listed in
 * registry.c; a third party adds one without rebuilding vlmslim by compiling a shared library
 * that defines `const struct vs_adapter_ops <symbol>` and naming `path/to/lib.so:<symbol>` in
 * config.ini's [ModelAdapterEntryPoints]. Later ABI versions append members; vlmslim reads
 * only the members of the version an adapter declares. */
#ifndef VS_MODEL_ADAPTER_H
#define VS_MODEL_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "model/unit.h"
#include "tensor/dtype.h"

#define VS_ADAPTER_ABI_VERSION 1u

struct vs_model; /* adapter-defined */

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
};

#endif
