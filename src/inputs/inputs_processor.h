/* A checkpoint family's preprocessing, one file each (qwen_vl_inputs.c, internvl_inputs.c),
 * listed in inputs_builder.c's table and chosen by config.json's model_type. A processor opens
 * its state from the checkpoint's files and builds one calibration sample's model inputs. */
#ifndef VS_INPUTS_PROCESSOR_H
#define VS_INPUTS_PROCESSOR_H

#include <jansson.h>
#include <stdbool.h>

#include "inputs/model_inputs.h"

struct vs_tokenizer;

struct vs_inputs_processor {
    const char *name;
    /* config.json model_type values it serves, NULL-terminated; NULL: every other checkpoint */
    const char *const *model_types;
    /* config is config.json (NULL when the checkpoint has none); errors name the file at fault */
    enum vs_status (*open)(const char *model_path, const json_t *config, void **state);
    /* out and info are zeroed by the caller; info->prompt is the rendered prompt */
    enum vs_status (*build)(const void *state, const struct vs_calib_sample *s, struct vs_model_inputs *out,
                            struct vs_inputs_info *info);
    void (*close)(void *state);
};

extern const struct vs_inputs_processor vs_qwen_vl_inputs, vs_internvl_inputs, vs_internvl_hf_inputs;

/* <model_path>/tokenizer.json opened, with an error naming it when it is missing. */
enum vs_status vs_inputs_open_tokenizer(const char *model_path, struct vs_tokenizer **out);
/* tokenizer_config.json's special tokens (bos_token, eos_token, unk_token, pad_token) as
 * apply_chat_template passes them to the template; a missing file gives none. */
enum vs_status vs_inputs_special_tokens(const char *model_path, json_t **out);
/* msModelSlim's calibration message: one user turn, the image (if any) then the text. */
json_t *vs_inputs_messages(const struct vs_calib_sample *s);
/* InternVL's tiles of one image (internvl_inputs.c): decoded with the EXIF orientation applied
 * or not, tiled as t says into out (pixel_values [tiles, 3·S·S], image_grid_thw {1, tiles, 1});
 * errors name the image. */
struct vs_internvl_tiling;
enum vs_status vs_inputs_tiled_image(const struct vs_internvl_tiling *t, bool exif, const char *path,
                                     struct vs_model_inputs *out, struct vs_inputs_info *info);
/* text tokenized into out->input_ids / n_tokens (an empty result is an error). */
enum vs_status vs_inputs_tokenize(const struct vs_tokenizer *tok, const char *text, struct vs_model_inputs *out);

#endif
