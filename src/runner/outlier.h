/* The outlier-suppression processors of a calibrated run — quarot (offline), iter_smooth and
 * smooth_quant — applied to each unit's float32 copy before its calibration, in YAML order
 * (msmodelslim_vlm_spec.md §2.3-2.4, §5.2-5.4, §7.4).
 *
 *   open        validation (the adapter's ABI-3 members, quarot's online/tied refusals) before
 *               any work; R and R_uv built; with
 *               quarot the tail (embeddings, final norm, lm_head) copied to float32, its pre-run
 *               (embedding) and post-run (final norm into lm_head) work done, and handed to the
 *               forward pass (adapter set_tail) so that the calibration sees the rotated model
 *   unit        quarot's pre-run commands that name this unit's modules (the vision merger and
 *               DeepStack linear_fc2), then each processor in YAML order: quarot's norm fusions
 *               and rotations of the unit; a smoothing processor's observer pass over every
 *               sample (per-channel statistics of each subgraph's targets[0] input) and folds
 *   export      optional/quarot.safetensors and the description's "optional" block
 *
 * Each transformed tensor is rounded to its checkpoint dtype after every operation, as
 * msModelSlim casts weights back after each one (bf16/f16 checkpoints; f32 is unchanged). */
#ifndef VS_RUNNER_OUTLIER_H
#define VS_RUNNER_OUTLIER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"
#include "config/quant_config.h"
#include "model/adapter.h"
#include "model/unit_f32.h"
#include "runner/layerwise.h"
#include "save/saver.h"

struct vs_outlier;

/* True for the processor types handled here. */
bool vs_outlier_is_processor(enum vs_proc_type t);
/* Config-only checks of one such processor (quarot online: true). */
enum vs_status vs_outlier_check_processor(const struct vs_quant_config *cfg, const struct vs_processor_config *p);
/* The adapter provides what each such processor of the config needs (ABI-3 members); the
 * error names the processor and the model family. No model is opened. */
enum vs_status vs_outlier_check_adapter(const struct vs_quant_config *cfg, const struct vs_adapter_ops *ops);
/* True if some processor of the config needs calibration data (iter_smooth, smooth_quant). */
bool vs_outlier_config_needs_data(const struct vs_quant_config *cfg);

/* Everything checked and prepared before any unit; *out is NULL when the config has none of
 * these processors. Errors name the config entry, the processor and the model family. */
enum vs_status vs_outlier_open(const struct vs_quant_config *cfg, const struct vs_adapter_ops *ops,
                               struct vs_model *m, struct vs_outlier **out);
void vs_outlier_close(struct vs_outlier *o);

/* The last unit whose processing needs the samples' forward pass (a smoothing subgraph), or -1. */
long vs_outlier_last_data_unit(const struct vs_outlier *o);

/* Before unit i's float32 copy is made: the biases asymmetric smoothing (symmetric: false)
 * folds its shift into, added as zeros where the unit has none (msModelSlim creates them). */
enum vs_status vs_outlier_prepare_unit(struct vs_outlier *o, size_t i, struct vs_unit *u);

/* Transforms unit i's float32 copy f (u: the unit as loaded, for the checkpoint dtypes). lw
 * holds the samples (NULL when no processor of the run needs data). */
enum vs_status vs_outlier_unit(struct vs_outlier *o, size_t i, const struct vs_unit *u, struct vs_unit_f32 *f,
                               struct vs_layerwise *lw);

/* quarot's transformed tail written to a file in dir in the checkpoint's dtypes, as the export
 * writes it, and its float32 copy (gigabytes: the embedding and the head) freed; the tail, for
 * the forward and the export, then views that file, which is unlinked at once (the mapping keeps
 * it readable). quarot rounds every value it changes to the checkpoint's dtype (as msModelSlim
 * stores it back into the model), so the file holds exactly the float32 copy's values; a value
 * that does not fit keeps the float32 copy instead. Nothing to do without quarot. */
enum vs_status vs_outlier_spill_tail(struct vs_outlier *o, const char *dir);

/* The transformed tail, when quarot changed it: the unit and its float32 copy are handed over
 * (the caller frees both; the copy is NULL once spilled, the unit then holding the transformed
 * values in the checkpoint's dtypes) and the forward reads the checkpoint again. False
 * otherwise. */
bool vs_outlier_take_tail(struct vs_outlier *o, struct vs_unit **u, struct vs_unit_f32 **f);

/* quarot with export_extra_info: DIR/optional/quarot.safetensors and the "optional" block. */
enum vs_status vs_outlier_export(struct vs_outlier *o, const char *dir, const struct vs_saver_type *type, void *saver);

#endif
