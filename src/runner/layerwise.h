/* The layer-wise forward driver: every sample's state carried from unit to unit, each unit
 * run over all samples before the next one is loaded, so only one unit's weights are resident.
 *
 * States (hidden activations) above a byte budget are spilled to an unlinked temporary file
 * and read back when their sample's turn comes. */
#ifndef VS_RUNNER_LAYERWISE_H
#define VS_RUNNER_LAYERWISE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "model/adapter.h"
#include "model/linear_apply.h"

struct vs_model_inputs;
struct vs_layerwise;

/* spill_budget: bytes of states kept in memory (UINT64_MAX: never spill; 0: spill every state
 * once run). spill_dir: where the spill file goes (NULL: $TMPDIR, else /tmp). */
enum vs_status vs_layerwise_open(const struct vs_adapter_ops *ops, struct vs_model *m, uint64_t spill_budget,
                                 const char *spill_dir, struct vs_layerwise **out);
void vs_layerwise_close(struct vs_layerwise *lw);

/* A flag set asynchronously (Ctrl-C) that stops a unit run between samples with an error. */
void vs_layerwise_set_interrupt(struct vs_layerwise *lw, volatile sig_atomic_t *flag);

/* Begins a sample (ops->sample_begin); its index is the count of samples added before. */
enum vs_status vs_layerwise_add_sample(struct vs_layerwise *lw, const struct vs_model_inputs *in);
size_t vs_layerwise_count(const struct vs_layerwise *lw);

/* Called after sample j has run unit i; the state is borrowed (ops->sample_output reads it). */
typedef enum vs_status (*vs_layerwise_sample_fn)(void *ctx, size_t i, size_t j, const struct vs_sample *s);

/* Runs unit i (u, e.g. a float32 copy) on every sample in order with hooks. With keep the
 * outputs become the samples' states; without, each sample runs on a copy that is dropped
 * afterwards (a pass that only observes). after may be NULL. Errors name the sample. */
enum vs_status vs_layerwise_run_unit(struct vs_layerwise *lw, size_t i, const struct vs_unit *u,
                                     const struct vs_linear_hooks *hooks, bool all_experts, bool keep,
                                     vs_layerwise_sample_fn after, void *ctx);

/* Every unit in order, loaded, converted to float32 once, run on every sample and freed. */
enum vs_status vs_layerwise_forward_all(struct vs_layerwise *lw, vs_layerwise_sample_fn after, void *ctx);

/* Logits of sample j's last position after the last unit (caller frees). */
enum vs_status vs_layerwise_logits(struct vs_layerwise *lw, size_t j, float **logits, int64_t *n);

/* Calls fn with sample j's current state (read back for the call if spilled; borrowed). */
typedef enum vs_status (*vs_layerwise_state_fn)(void *ctx, struct vs_model *m, const struct vs_sample *s);
enum vs_status vs_layerwise_with_sample(struct vs_layerwise *lw, size_t j, vs_layerwise_state_fn fn, void *ctx);

struct vs_layerwise_stats {
    uint64_t resident_bytes, peak_resident_bytes; /* of states in memory */
    uint64_t spilled_bytes;                       /* written to the spill file in all */
    size_t spills;
};
void vs_layerwise_stats(const struct vs_layerwise *lw, struct vs_layerwise_stats *out);

#endif
