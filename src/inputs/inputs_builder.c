/* A checkpoint's preprocessing: the processor of its family (inputs_processor.h), chosen by
 * config.json's model_type, and what every processor shares (the tokenizer). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "inputs/inputs_processor.h"
#include "io/json_util.h"
#include "text/tokenizer.h"

/* The processors; the first whose model_types names the checkpoint's, else the last (default). */
static const struct vs_inputs_processor *const processors[] = {&vs_internvl_inputs, &vs_internvl_hf_inputs, &vs_qwen_vl_inputs};

struct vs_inputs_builder {
    const struct vs_inputs_processor *proc;
    void *state;
};

enum vs_status vs_inputs_open_tokenizer(const char *model_path, struct vs_tokenizer **out)
{
    char *path = vs_path_join(model_path, "tokenizer.json");
    if (!path)
        return VS_ERR_NOMEM;
    enum vs_status st = vs_fs_is_file(path) ? vs_tokenizer_open(path, out)
                                            : vs_error_set(VS_ERR_MODEL, "%s: not found; calibration prompts are "
                                                           "tokenized with the checkpoint's tokenizer", path);
    free(path);
    return st;
}

enum vs_status vs_inputs_tokenize(const struct vs_tokenizer *tok, const char *text, struct vs_model_inputs *out)
{
    int32_t *ids;
    size_t n;
    enum vs_status st = vs_tokenizer_encode(tok, text, strlen(text), &ids, &n);
    if (st != VS_OK)
        return st;
    if (n == 0 || !(out->input_ids = vs_malloc(n * sizeof *out->input_ids))) {
        free(ids);
        return n == 0 ? vs_error_set(VS_ERR_DATASET, "the rendered prompt has no tokens") : VS_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        out->input_ids[i] = ids[i];
    out->n_tokens = (int64_t)n;
    free(ids);
    return VS_OK;
}

/* tokenizer_config.json's special tokens as apply_chat_template passes them to the template
 * (strings, or the content of AddedToken objects; null ones are left out). A missing file gives
 * none; a malformed one is an error. */
enum vs_status vs_inputs_special_tokens(const char *model_path, json_t **out)
{
    static const char *const keys[] = {"bos_token", "eos_token", "unk_token", "pad_token"};
    *out = json_object();
    if (!*out)
        return VS_ERR_NOMEM;
    char *path = vs_path_join(model_path, "tokenizer_config.json");
    if (!path)
        return VS_ERR_NOMEM;
    if (!vs_fs_is_file(path)) {
        free(path);
        return VS_OK;
    }
    json_t *doc;
    /* as Python reads it: an integer beyond 64 bits (some model_max_length) is not an error */
    enum vs_status st = vs_json_load_file_flags(path, JSON_DECODE_INT_AS_REAL, &doc);
    if (st != VS_OK) {
        free(path);
        return st;
    }
    for (size_t i = 0; i < sizeof keys / sizeof keys[0] && st == VS_OK; i++) {
        json_t *v = json_object_get(doc, keys[i]);
        if (json_is_object(v))
            v = json_object_get(v, "content");
        if (json_is_string(v))
            json_object_set(*out, keys[i], v);
        else if (v && !json_is_null(v))
            st = vs_error_set(VS_ERR_FORMAT, "%s: %s: expected a string or an AddedToken object", path, keys[i]);
    }
    json_decref(doc);
    free(path);
    return st;
}

/* msModelSlim's calibration message: one user turn, the image (if any) then the text. */
json_t *vs_inputs_messages(const struct vs_calib_sample *s)
{
    json_t *content = json_array(), *msg = json_object(), *msgs = json_array();
    if (s->image) {
        json_t *part = json_object();
        json_object_set_new(part, "type", json_string("image"));
        json_object_set_new(part, "image", json_string(s->image));
        json_array_append_new(content, part);
    }
    json_t *part = json_object();
    json_object_set_new(part, "type", json_string("text"));
    json_object_set_new(part, "text", json_string(s->text));
    json_array_append_new(content, part);
    json_object_set_new(msg, "role", json_string("user"));
    json_object_set_new(msg, "content", content);
    json_array_append_new(msgs, msg);
    return msgs;
}

static const struct vs_inputs_processor *processor_for(const json_t *config)
{
    const char *type = json_string_value(json_object_get(config, "model_type"));
    size_t n = sizeof processors / sizeof processors[0];
    for (size_t i = 0; type && i + 1 < n; i++)
        for (const char *const *t = processors[i]->model_types; t && *t; t++)
            if (!strcmp(*t, type))
                return processors[i];
    return processors[n - 1];
}

enum vs_status vs_inputs_builder_open(const char *model_path, struct vs_inputs_builder **out)
{
    *out = NULL;
    char *config_path = vs_path_join(model_path, "config.json");
    json_t *config = NULL;
    enum vs_status st = config_path ? VS_OK : VS_ERR_NOMEM;
    if (st == VS_OK && vs_fs_is_file(config_path))
        st = vs_json_load_file(config_path, &config);
    free(config_path);
    struct vs_inputs_builder *b = st == VS_OK ? vs_calloc(1, sizeof *b) : NULL;
    if (st == VS_OK && !b)
        st = VS_ERR_NOMEM;
    if (st == VS_OK) {
        b->proc = processor_for(config);
        st = b->proc->open(model_path, config, &b->state);
    }
    json_decref(config);
    if (st != VS_OK) {
        free(b);
        return st;
    }
    *out = b;
    return VS_OK;
}

void vs_inputs_builder_close(struct vs_inputs_builder *b)
{
    if (!b)
        return;
    b->proc->close(b->state);
    free(b);
}

enum vs_status vs_inputs_build(const struct vs_inputs_builder *b, const struct vs_calib_sample *s,
                               struct vs_model_inputs *out, struct vs_inputs_info *info)
{
    struct vs_inputs_info local;
    struct vs_inputs_info *i = info ? info : &local;
    *out = (struct vs_model_inputs){0};
    *i = (struct vs_inputs_info){0};
    enum vs_status st = b->proc->build(b->state, s, out, i);
    if (st != VS_OK || !info) {
        free(i->prompt);
        i->prompt = NULL;
    }
    if (st != VS_OK)
        vs_model_inputs_free(out);
    return st;
}
