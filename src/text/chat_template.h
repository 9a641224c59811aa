/* Chat templates: the checkpoint's own Jinja template rendered the way Hugging Face's
 * apply_chat_template does, by an interpreter with Jinja2's semantics in transformers'
 * environment (ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, loopcontrols, the
 * generation tag, the raise_exception and strftime_now globals, tojson as json.dumps). It covers
 * what the Qwen3-VL, Qwen2.5-VL and Qwen3 templates use and the common rest (docs/design.md,
 * "Chat templates"); tests/golden/chat_template checks its output byte for byte against
 * @huggingface/jinja and Jinja2.
 *
 * Errors name the template (file) with line and column: a syntax error or an unsupported
 * construct (unknown tag, filter or test) when parsing; a type error, an undefined value misused,
 * an unknown method or raise_exception() when rendering. */
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

/* Parses template source (UTF-8; line endings normalized and one trailing newline dropped, as
 * Jinja2 does); origin names it in errors ("<origin>:<line>:<col>: ..."). */
enum vs_status vs_chat_template_parse(const char *source, const char *origin,
                                      struct vs_chat_template **out);

/* Renders with the variables messages (a JSON array of {role, content} objects, content a string
 * or a list of {"type": ...} parts), add_generation_prompt, tools and documents (None, as
 * apply_chat_template passes them, unless extra has them), and any others in extra (a JSON object
 * or NULL: bos_token, eos_token, tools, enable_thinking, add_vision_id, ...). *out is
 * NUL-terminated, caller frees. Thread-safe: a parsed template can be rendered concurrently. */
enum vs_status vs_chat_template_render(const struct vs_chat_template *t, const json_t *messages,
                                       bool add_generation_prompt, const json_t *extra, char **out);

void vs_chat_template_free(struct vs_chat_template *t);

#endif
