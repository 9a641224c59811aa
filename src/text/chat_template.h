/* Chat templates: the checkpoint's own Jinja template rendered the way Hugging Face's
 * apply_chat_template does (transformers' Jinja2 environment: trim_blocks, lstrip_blocks, the
 * raise_exception and tojson globals), by an interpreter of the Jinja subset that the
 * Qwen3-VL, Qwen2.5-VL and Qwen3 templates use. The output is byte-identical to
 * @huggingface/jinja on those templates.
 *
 * Errors name the template (file) with line and column: a syntax error or an unsupported
 * construct when parsing, a type error or raise_exception() when rendering. */
#ifndef VS_TEXT_CHAT_TEMPLATE_H
#define VS_TEXT_CHAT_TEMPLATE_H

#include <jansson.h>
#include <stdbool.h>

#include "base/status.h"

struct vs_chat_template;

/* Finds model_path's template, in transformers' order: chat_template.jinja, then
 * chat_template.json ("chat_template" key), then tokenizer_config.json ("chat_template": a
 * string, or a list of {name, template} of which "default" is used). No template anywhere is
 * an error naming the files looked at. */
enum vs_status vs_chat_template_load(const char *model_path, struct vs_chat_template **out);

/* Parses template source; origin names it in errors ("<origin>:<line>:<col>: ..."). */
enum vs_status vs_chat_template_parse(const char *source, const char *origin,
                                      struct vs_chat_template **out);

/* Renders with the variables messages (a JSON array of {role, content} objects, content a string
 * or a list of {"type": ...} parts), add_generation_prompt, and any others in extra (a JSON
 * object or NULL: bos_token, eos_token, tools, ...). *out is NUL-terminated, caller frees. */
enum vs_status vs_chat_template_render(const struct vs_chat_template *t, const json_t *messages,
                                       bool add_generation_prompt, const json_t *extra, char **out);

void vs_chat_template_free(struct vs_chat_template *t);

#endif
