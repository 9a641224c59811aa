/* Samples for a forward pass, added to a layer-wise driver one at a time: model-input files
 * DIR/sample_<i>.safetensors, or a calibration dataset built with the checkpoint's processor. */
#ifndef VS_RUNNER_SAMPLES_H
#define VS_RUNNER_SAMPLES_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"
#include "runner/layerwise.h"

struct vs_model_inputs;

/* DIR/sample_0.safetensors, sample_1, ... up to the first missing index (vs_model_inputs_read).
 * `flag` names the option in messages ("--inputs"); no sample_0 is an error. */
enum vs_status vs_samples_add_files(struct vs_layerwise *lw, const char *dir, const char *flag, size_t *count);

/* The dataset `name` (resolved against the current directory, then lab_calib_dir), every sample
 * built with model_path's chat template, tokenizer and image processor. With require_image_text
 * a sample without an image or a text is an error (msModelSlim's Qwen3-VL adapters calibrate on
 * both). `where` prefixes resolution errors ("spec.dataset of c.yaml"). *path receives the
 * resolved path when not NULL (caller frees). */
enum vs_status vs_samples_add_dataset(struct vs_layerwise *lw, const char *model_path, const char *name,
                                      const char *default_text, const char *lab_calib_dir, bool require_image_text,
                                      const char *where, size_t *count, char **path);

/* The same, each sample's inputs handed to sink (borrowed for the call) instead of a driver. */
typedef enum vs_status (*vs_samples_sink)(void *ctx, const struct vs_model_inputs *in);
enum vs_status vs_samples_each_file(const char *dir, const char *flag, vs_samples_sink sink, void *ctx, size_t *count);
enum vs_status vs_samples_each_dataset(const char *model_path, const char *name, const char *default_text,
                                       const char *lab_calib_dir, bool require_image_text, const char *where,
                                       vs_samples_sink sink, void *ctx, size_t *count, char **path);

#endif
