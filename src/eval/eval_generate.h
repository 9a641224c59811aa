/* Greedy continuation of every sample by one model (the float checkpoint, or the quantized model
 * read through an export): each new token the argmax of the last position's logits (the lowest id
 * among equal maxima), the whole sequence recomputed layer by layer for every token, as the rest
 * of vlmslim runs a model (no KV cache: memory stays within the layer-wise bound, time grows with
 * the square of the length). Stops at an end-of-sequence id or after max_new tokens. */
#ifndef VS_EVAL_EVAL_GENERATE_H
#define VS_EVAL_EVAL_GENERATE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "eval/export_model.h"
#include "inputs/model_inputs.h"
#include "model/adapter.h"

struct vs_eval_tokens {
    int64_t *ids;
    int64_t n;
};

/* out[j] receives sample j's new tokens (caller frees each ids). e: NULL for the float model;
 * else the export whose view of each unit runs (m read through it: set_tail already given). */
enum vs_status vs_eval_generate(const struct vs_adapter_ops *ops, struct vs_model *m, struct vs_export *e,
                                const struct vs_model_inputs *samples, size_t n, int64_t max_new, const int64_t *eos,
                                size_t n_eos, uint64_t spill_budget, volatile sig_atomic_t *interrupted,
                                struct vs_eval_tokens *out);

#endif
