/* Model inputs of one calibration sample, as the checkpoint's own Hugging Face processor builds
 * them: the chat-formatted prompt tokenized with each <|image_pad|> expanded to the image's
 * token count, and the image preprocessed into patches.
 *
 * On disk (`vlmslim inspect-inputs --dump`, and what tests and the Python references read) a
 * sample is one safetensors file holding exactly input_ids I64 [1, n], attention_mask I64
 * [1, n] (all ones), pixel_values F32 [patches, C·T·P·P] and image_grid_thw I64 [images, 3].
 * A text-only sample has pixel_values [0, patch_dim] and image_grid_thw [0, 3]. */
#ifndef VS_INPUTS_MODEL_INPUTS_H
#define VS_INPUTS_MODEL_INPUTS_H

#include <stdint.h>

#include "base/status.h"
#include "data/dataset.h"

struct vs_model_inputs {
    int64_t *input_ids; /* [n_tokens] */
    int64_t n_tokens;   /* one sample, no padding: the attention mask is n_tokens ones */
    float *pixel_values; /* [n_patches, patch_dim]; NULL when n_patches is 0 */
    int64_t n_patches, patch_dim;
    int64_t (*image_grid_thw)[3]; /* [n_images] {t, h, w} in patches; NULL when none */
    int64_t n_images;
};

void vs_model_inputs_free(struct vs_model_inputs *in);

/* Writes the four tensors above to a safetensors file at path. */
enum vs_status vs_model_inputs_write(const struct vs_model_inputs *in, const char *path);
/* Reads such a file; every tensor is checked (name, dtype, shape, consistency of the patch
 * count with the grids); errors name the file and tensor. */
enum vs_status vs_model_inputs_read(const char *path, struct vs_model_inputs *out);

/* A checkpoint's preprocessing: tokenizer.json, the chat template and preprocessor_config.json
 * of model_path. */
struct vs_inputs_builder;

enum vs_status vs_inputs_builder_open(const char *model_path, struct vs_inputs_builder **out);
void vs_inputs_builder_close(struct vs_inputs_builder *b);

/* What `inspect-inputs` shows of a built sample besides its inputs. */
struct vs_inputs_info {
    char *prompt;                      /* the rendered prompt before pad expansion (caller frees) */
    int image_width, image_height;     /* the decoded image (after EXIF orientation); 0 if none */
    int resized_width, resized_height; /* after smart_resize (InternVL: the tile grid's size) */
    const char *rows;                  /* what a row of pixel_values is: "patches" or "tiles" */
};

/* Builds one sample's inputs: the message [{"role": "user", "content": [{"type": "image"},
 * {"type": "text", "text": s->text}]}] rendered with add_generation_prompt, each <|image_pad|>
 * expanded to the image's token count, tokenized; the image decoded and preprocessed. Errors
 * name the sample's image. info may be NULL. */
enum vs_status vs_inputs_build(const struct vs_inputs_builder *b, const struct vs_calib_sample *s,
                               struct vs_model_inputs *out, struct vs_inputs_info *info);

#endif
