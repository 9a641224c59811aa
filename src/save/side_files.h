/* The side files every export carries: the checkpoint's tokenizer, processor, chat template,
 * generation and model config files, copied next to the weights. */
#ifndef VS_SAVE_SIDE_FILES_H
#define VS_SAVE_SIDE_FILES_H

#include <jansson.h>

#include "base/status.h"

/* Mode of every file of an export. */
#define VS_EXPORT_MODE 0600

/* Writes dst from the checkpoint's config.json at src, as the format wants it. */
typedef enum vs_status (*vs_config_writer)(const char *src, const char *dst, void *ctx);

/* Copies model_path's top-level *.json, *.py, *.txt and *.jinja files, except *index.json, into
 * dir (mode VS_EXPORT_MODE); config.json goes through write_config. */
enum vs_status vs_save_side_files(const char *model_path, const char *dir, vs_config_writer write_config, void *ctx);

/* Loads config.json and removes `quantization_config` (top level and text_config); *removed
 * says whether there was one. */
enum vs_status vs_save_load_config(const char *src, json_t **out, int *removed);

#endif
