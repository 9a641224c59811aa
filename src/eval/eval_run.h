/* `vlmslim eval`: the float model and the quantized model read back from an export, run side by
 * side layer by layer over the same samples, compared after every unit (hidden states) and at
 * every text position of the logits (docs/eval.md). Memory stays near two units' weights plus
 * the samples' states (spilled above a budget), as in calibration. */
#ifndef VS_EVAL_EVAL_RUN_H
#define VS_EVAL_EVAL_RUN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "model/adapter.h"

struct vs_eval_options {
    const char *model_path;  /* the float checkpoint */
    const char *quant_path;  /* its export */
    const char *model_type;  /* display name */
    const struct vs_adapter_ops *adapter;
    /* the samples: model-input files <inputs>/sample_<i>.safetensors, or a dataset built with the
     * float checkpoint's processor (resolved against the current directory, then lab_calib_dir) */
    const char *inputs;
    const char *dataset, *default_text, *lab_calib_dir;
    const char *dataset_where; /* prefix of dataset resolution errors ("--dataset") */
    uint64_t spill_budget;
    volatile sig_atomic_t *interrupted; /* may be NULL */
    int64_t max_new_tokens; /* > 0: greedy continuation of each sample by both models */
};

struct vs_eval_sample {
    int64_t positions; /* text positions compared: those whose input is not the image placeholder */
    double kl_mean, kl_p99, kl_max, top1, cosine_mean, cosine_min;
    double last_kl, last_cosine; /* the last position: the next-token prediction */
    int last_top1;
    /* with max_new_tokens: each model's greedy continuation, and the index of the first token
     * where they differ (-1: none) */
    int64_t *gen_float, *gen_quant;
    int64_t n_gen_float, n_gen_quant, first_divergence;
};

struct vs_eval_unit {
    char *name;
    double *cosine, *rel_error; /* per sample; NaN where the unit had no rows (a text-only sample) */
    double cosine_mean, cosine_min, rel_error_mean, rel_error_max;
};

/* Tokens a MoE router sent to one expert, in each model. */
struct vs_eval_route {
    char *layer; /* the router's module, "model.language_model.layers.3.mlp" */
    int64_t expert, tokens_float, tokens_quant;
};

struct vs_eval_result {
    size_t n_samples;
    struct vs_eval_sample *samples;
    size_t n_units;
    struct vs_eval_unit *units;
    struct vs_eval_route *routes;
    size_t n_routes;
    /* over every compared position of every sample */
    int64_t positions;
    double kl_mean, kl_median, kl_p99, kl_p999, kl_max, top1, cosine_mean;
    size_t quantized_linears;
    const char *export_format; /* "ascendv1", "compressed-tensors" (static) */
    double seconds;
};

void vs_eval_result_free(struct vs_eval_result *r);

enum vs_status vs_eval_run(const struct vs_eval_options *o, struct vs_eval_result *r);

#endif
