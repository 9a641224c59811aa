/* The savers a YAML `spec.save` list may name, behind one interface: the run hands every
 * tensor of the export to each saver of the list, which writes its format into its own
 * directory. A new format is one file with a `struct vs_saver_type` and one entry in the table
 * of saver.c. */
#ifndef VS_SAVE_SAVER_H
#define VS_SAVE_SAVER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "config/quant_config.h"
#include "quant/linear_quant.h"
#include "tensor/dtype.h"

/* One quantized Linear as the run computed it, in msModelSlim's conventions: q = clamp(round(x /
 * scale + offset)), offsets integers; weights int8 per output channel. */
struct vs_saved_linear {
    const char *module;          /* e.g. "model.language_model.layers.0.self_attn.q_proj" */
    enum vs_scheme scheme;
    const int8_t *weight;        /* [rows, cols] */
    int64_t rows, cols;
    const float *weight_scale;   /* [rows] */
    const float *weight_offset;  /* [rows] (W8A16 asymmetric weights), NULL: symmetric */
    const float *bias;           /* [rows], NULL: the Linear has none */
    /* W8A8 (static activations) only */
    bool input_symmetric;        /* the activation's offset is 0 by construction */
    float input_scale, input_offset;
    const int32_t *quant_bias;   /* [rows]: round(bias / deq_scale − input_offset · Σ W_q) */
    const float *deq_scale;      /* [rows]: input_scale · weight_scale */
};

/* A Linear of the run and what it will become, told to every saver before any work. */
struct vs_planned_linear {
    const char *module;
    bool quantized;              /* false: left in float */
    enum vs_scheme scheme;       /* when quantized */
    bool input_symmetric;        /* W8A8: the activations' offset is 0 by construction */
    int64_t rows, cols;          /* the weight's [out, in] */
};

/* What a saver knows of the run when it opens. */
struct vs_saver_context {
    const struct vs_quant_config *config;
    const struct vs_processor_config *saver; /* its spec.save item */
    uint64_t part_bytes;                     /* shard size; 0 = one file */
    enum vs_dtype global_dtype;              /* the checkpoint's float dtype */
};

struct vs_saver_type {
    enum vs_proc_type type;
    /* Refuses, before any work, what this format cannot express (naming the processor and
     * the saver); NULL: everything can be. */
    enum vs_status (*check)(const struct vs_quant_config *cfg, const struct vs_processor_config *saver);
    /* Starts an export into `dir` (an existing empty directory). */
    enum vs_status (*open)(const char *dir, const struct vs_saver_context *ctx, void **out);
    /* A parameter kept in float, in its own dtype. */
    enum vs_status (*add_float)(void *s, const char *name, enum vs_dtype dtype, int ndim, const int64_t *shape,
                                const void *data);
    /* Every Linear of the run, in unit order, after open and before any work: the saver refuses
     * what its format cannot hold (naming the Linear) while nothing has been computed yet.
     * NULL: the format takes every Linear as it comes. A float Linear's weight and bias later
     * go through add_float, a quantized one through add_linear. */
    enum vs_status (*plan_linear)(void *s, const struct vs_planned_linear *l);
    enum vs_status (*add_linear)(void *s, const struct vs_saved_linear *l);
    /* Files of the run's own (QuaRot's rotation) written under `dir` and named by optional,
     * JSON object text; NULL: the format has no place for them (nothing is written). */
    enum vs_status (*set_optional)(void *s, const char *json_text);
    /* Completes the export with the side files of `model_path`; frees s. */
    enum vs_status (*finish)(void *s, const char *model_path);
    /* Frees after an error (the caller removes the directory). */
    void (*abort)(void *s);
    uint64_t (*bytes_written)(const void *s);
};

/* The saver of a spec.save item's type, NULL if it is not one this build writes. */
const struct vs_saver_type *vs_saver_find(enum vs_proc_type type);

#endif
