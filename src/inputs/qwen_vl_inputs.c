/* The Qwen-VL processor (Qwen2-VL, Qwen2.5-VL, Qwen3-VL) applied to one calibration sample, as
 * its apply_chat_template(tokenize=True, add_generation_prompt=True) does it: render the chat
 * template, replace each <|image_pad|> with the image's token count of pads (on the text, as the
 * processor does), tokenize, and preprocess the image into patches. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "inputs/inputs_processor.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"
#include "vision/image.h"
#include "vision/qwen_vl_processor.h"

#define IMAGE_PAD "<|image_pad|>"

struct qwen_vl {
    char *model_path;
    struct vs_tokenizer *tok;
    struct vs_chat_template *tpl;
    struct vs_qwen_vl_processor_config proc;
    json_t *special_tokens; /* the template's extra variables: bos_token, eos_token, ... */
};

static void close_state(void *state)
{
    struct qwen_vl *b = state;
    if (!b)
        return;
    vs_tokenizer_close(b->tok);
    vs_chat_template_free(b->tpl);
    json_decref(b->special_tokens);
    free(b->model_path);
    free(b);
}

static enum vs_status open_state(const char *model_path, const json_t *config, void **out)
{
    (void)config;
    *out = NULL;
    struct qwen_vl *b = vs_calloc(1, sizeof *b);
    if (!b)
        return VS_ERR_NOMEM;
    char *pp_path = vs_path_join(model_path, "preprocessor_config.json");
    enum vs_status st = pp_path && (b->model_path = vs_strdup(model_path)) ? VS_OK : VS_ERR_NOMEM;
    if (st == VS_OK)
        st = vs_inputs_open_tokenizer(model_path, &b->tok);
    if (st == VS_OK && !vs_fs_is_file(pp_path))
        st = vs_error_set(VS_ERR_MODEL, "%s: not found; calibration images are preprocessed as it says", pp_path);
    if (st == VS_OK && vs_tokenizer_token_id(b->tok, IMAGE_PAD) < 0)
        st = vs_error_set(VS_ERR_MODEL, "%s/tokenizer.json: has no %s token", model_path, IMAGE_PAD);
    if (st == VS_OK)
        st = vs_qwen_vl_processor_load(pp_path, &b->proc);
    if (st == VS_OK)
        st = vs_chat_template_load(model_path, &b->tpl);
    if (st == VS_OK)
        st = vs_inputs_special_tokens(model_path, &b->special_tokens);
    free(pp_path);
    if (st != VS_OK) {
        close_state(b);
        return st;
    }
    *out = b;
    return VS_OK;
}

static size_t count_pads(const char *text)
{
    size_t n = 0;
    for (const char *p = strstr(text, IMAGE_PAD); p; p = strstr(p + strlen(IMAGE_PAD), IMAGE_PAD))
        n++;
    return n;
}

/* text with its only <|image_pad|> repeated `copies` times (caller frees). */
static char *expand_pads(const char *text, int64_t copies)
{
    const char *at = strstr(text, IMAGE_PAD);
    size_t pad = strlen(IMAGE_PAD), head = (size_t)(at - text), tail = strlen(at + pad);
    char *out = vs_malloc(head + (size_t)copies * pad + tail + 1);
    if (!out)
        return NULL;
    char *w = out;
    memcpy(w, text, head);
    w += head;
    for (int64_t i = 0; i < copies; i++, w += pad)
        memcpy(w, IMAGE_PAD, pad);
    memcpy(w, at + pad, tail + 1);
    return out;
}

static enum vs_status preprocess_image(const struct qwen_vl *b, const char *path,
                                       struct vs_model_inputs *out, struct vs_inputs_info *info)
{
    struct vs_image img;
    enum vs_status st = vs_image_load(path, &img);
    if (st != VS_OK)
        return st;
    int64_t grid[3];
    info->image_width = img.width;
    info->image_height = img.height;
    st = vs_qwen_vl_preprocess(&b->proc, &img, &out->pixel_values, &out->n_patches, &out->patch_dim, grid);
    vs_image_free(&img);
    if (st != VS_OK)
        return vs_error_prefix(st, "%s", path);
    if (!(out->image_grid_thw = vs_malloc(sizeof *out->image_grid_thw)))
        return VS_ERR_NOMEM;
    memcpy(out->image_grid_thw[0], grid, sizeof grid);
    out->n_images = 1;
    info->resized_width = (int)grid[2] * b->proc.patch_size;
    info->resized_height = (int)grid[1] * b->proc.patch_size;
    return VS_OK;
}

static enum vs_status build(const void *state, const struct vs_calib_sample *s, struct vs_model_inputs *out,
                            struct vs_inputs_info *info)
{
    const struct qwen_vl *b = state;
    json_t *msgs = vs_inputs_messages(s);
    char *prompt = NULL, *expanded = NULL;
    enum vs_status st = msgs ? vs_chat_template_render(b->tpl, msgs, true, b->special_tokens, &prompt) : VS_ERR_NOMEM;
    json_decref(msgs);
    if (st == VS_OK && s->image)
        st = preprocess_image(b, s->image, out, info);
    if (st == VS_OK) {
        size_t pads = count_pads(prompt);
        if (pads != (size_t)out->n_images)
            st = vs_error_set(VS_ERR_MODEL, "%s: the chat template rendered %zu %s for %lld image(s)", b->model_path,
                              pads, IMAGE_PAD, (long long)out->n_images);
    }
    if (st == VS_OK && out->n_images) {
        int64_t merge = b->proc.merge_size, *g = out->image_grid_thw[0];
        if (!(expanded = expand_pads(prompt, g[0] * g[1] * g[2] / (merge * merge))))
            st = VS_ERR_NOMEM;
    }
    if (st == VS_OK)
        st = vs_inputs_tokenize(b->tok, expanded ? expanded : prompt, out);
    free(expanded);
    if (st == VS_OK) {
        info->prompt = prompt;
        prompt = NULL;
    }
    free(prompt);
    return st;
}

const struct vs_inputs_processor vs_qwen_vl_inputs = {
    .name = "qwen_vl", .model_types = NULL, .open = open_state, .build = build, .close = close_state,
};
