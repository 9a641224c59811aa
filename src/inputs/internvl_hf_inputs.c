/* The -HF InternVL checkpoints' preprocessing (transformers' InternVLProcessor, docs/internvl.md
 * §6): the message rendered with the checkpoint's chat template (its image part is one
 * <IMG_CONTEXT>), that placeholder replaced by <img> + <IMG_CONTEXT> x (image_seq_length x tiles)
 * + </img> (_insert_media_placeholders), tokenized; the image decoded as transformers' load_image
 * does (EXIF orientation applied) and tiled by GotOcr2ImageProcessor's slow path, whose tiles are
 * InternVL's own (get_optimal_tiled_canvas chooses as dynamic_preprocess does, vision/
 * internvl_tiles.c) with transformers' rescale and normalize arithmetic. The -HF checkpoints
 * name the Fast processor, which resizes with torchvision instead of PIL: pixel values then
 * differ from it by a few uint8 levels before normalisation, as for Qwen-VL's Fast processor.
 * InternVLProcessor always passes crop_to_patches=True (its images_kwargs defaults), so the
 * file's own value does not decide it. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "inputs/inputs_processor.h"
#include "io/json_util.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"
#include "vision/image.h"
#include "vision/internvl_tiles.h"

#define IMG_START "<img>"
#define IMG_END "</img>"
#define IMG_CONTEXT "<IMG_CONTEXT>"

struct internvl_hf {
    char *model_path;
    struct vs_tokenizer *tok;
    struct vs_chat_template *tpl;
    json_t *special_tokens;
    struct vs_internvl_tiling tiling;
    int64_t image_seq_length; /* processor_config.json (256) */
};

/* image_mean / image_std: three numbers. */
static enum vs_status triple(const json_t *root, const char *key, const char *path, float out[3])
{
    const json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v))
        return VS_OK;
    bool ok = json_is_array(v) && json_array_size(v) == 3;
    for (size_t i = 0; ok && i < 3; i++)
        ok = json_is_number(json_array_get(v, i));
    if (!ok)
        return vs_error_set(VS_ERR_CONFIG, "%s: %s: expected three numbers", path, key);
    for (size_t i = 0; i < 3; i++)
        out[i] = (float)json_number_value(json_array_get(v, i));
    return VS_OK;
}

/* GotOcr2ImageProcessor's preprocessor_config.json: the tile size (size.height = size.width),
 * min_patches / max_patches, resample (3 only), do_rescale / rescale_factor, do_normalize /
 * image_mean / image_std. Errors name the file and key. */
static enum vs_status load_image_processor(const char *path, struct vs_internvl_tiling *out)
{
    vs_internvl_tiling_defaults(out);
    out->transformers = true;
    /* GotOcr2ImageProcessor's defaults: OPENAI_CLIP_MEAN / OPENAI_CLIP_STD */
    static const float clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f},
                       clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    memcpy(out->mean, clip_mean, sizeof clip_mean);
    memcpy(out->std, clip_std, sizeof clip_std);
    json_t *root = NULL;
    enum vs_status st = vs_json_load_file(path, &root);
    if (st != VS_OK)
        return st;
    const json_t *size = json_object_get(root, "size");
    int64_t h = 384, w = 384, lo = 1, hi = 12, resample = 3; /* GotOcr2ImageProcessor's defaults */
    bool do_resize = true;
    if (st == VS_OK && size && !json_is_object(size))
        st = vs_error_set(VS_ERR_CONFIG, "%s: size: expected {\"height\": S, \"width\": S}", path);
    if (st == VS_OK && size)
        st = vs_json_int(size, "height", path, "size", &h);
    if (st == VS_OK && size)
        st = vs_json_int(size, "width", path, "size", &w);
    if (st == VS_OK && (h != w || h <= 0 || h > 1 << 16))
        st = vs_error_set(VS_ERR_UNSUPPORTED, "%s: size: %lld x %lld tiles are not supported (square ones)", path,
                          (long long)h, (long long)w);
    if (st == VS_OK)
        st = vs_json_int_opt(root, "min_patches", path, NULL, &lo);
    if (st == VS_OK)
        st = vs_json_int_opt(root, "max_patches", path, NULL, &hi);
    if (st == VS_OK && (lo < 1 || hi < lo || hi > 1024))
        st = vs_error_set(VS_ERR_CONFIG, "%s: min_patches %lld, max_patches %lld: expected 1 <= min <= max <= 1024", path,
                          (long long)lo, (long long)hi);
    if (st == VS_OK)
        st = vs_json_int_opt(root, "resample", path, NULL, &resample);
    if (st == VS_OK && resample != 3)
        st = vs_error_set(VS_ERR_UNSUPPORTED, "%s: resample: only 3 (bicubic) is supported", path);
    if (st == VS_OK)
        st = vs_json_bool_opt(root, "do_resize", path, NULL, &do_resize);
    if (st == VS_OK && !do_resize)
        st = vs_error_set(VS_ERR_UNSUPPORTED, "%s: do_resize: false is not supported (tiles are resized)", path);
    if (st == VS_OK)
        st = vs_json_bool_opt(root, "do_rescale", path, NULL, &out->do_rescale);
    if (st == VS_OK)
        st = vs_json_bool_opt(root, "do_normalize", path, NULL, &out->do_normalize);
    if (st == VS_OK)
        st = vs_json_num_opt(root, "rescale_factor", path, NULL, &out->rescale_factor);
    if (st == VS_OK && !(out->rescale_factor > 0))
        st = vs_error_set(VS_ERR_CONFIG, "%s: rescale_factor: must be positive", path);
    if (st == VS_OK)
        st = triple(root, "image_mean", path, out->mean);
    if (st == VS_OK)
        st = triple(root, "image_std", path, out->std);
    for (int c = 0; st == VS_OK && c < 3; c++)
        if (!(out->std[c] > 0))
            st = vs_error_set(VS_ERR_CONFIG, "%s: image_std: must be positive", path);
    out->image_size = (int)h;
    out->min_tiles = (int)lo;
    out->max_tiles = (int)hi;
    out->thumbnail = true; /* crop_image_to_patches' use_thumbnail */
    json_decref(root);
    return st;
}

static void close_state(void *state)
{
    struct internvl_hf *b = state;
    if (!b)
        return;
    vs_tokenizer_close(b->tok);
    vs_chat_template_free(b->tpl);
    json_decref(b->special_tokens);
    free(b->model_path);
    free(b);
}

/* processor_config.json's image_seq_length (the file is optional; InternVLProcessor's default 256). */
static enum vs_status load_seq_length(const char *model_path, int64_t *out)
{
    *out = 256;
    char *path = vs_path_join(model_path, "processor_config.json");
    json_t *doc = NULL;
    enum vs_status st = !path ? VS_ERR_NOMEM : vs_fs_is_file(path) ? vs_json_load_file(path, &doc) : VS_OK;
    if (st == VS_OK && doc)
        st = vs_json_int_opt(doc, "image_seq_length", path, NULL, out);
    if (st == VS_OK && *out <= 0)
        st = vs_error_set(VS_ERR_CONFIG, "%s: image_seq_length: must be positive", path);
    json_decref(doc);
    free(path);
    return st;
}

static enum vs_status open_state(const char *model_path, const json_t *config, void **out)
{
    (void)config;
    *out = NULL;
    struct internvl_hf *b = vs_calloc(1, sizeof *b);
    if (!b)
        return VS_ERR_NOMEM;
    char *pp = vs_path_join(model_path, "preprocessor_config.json");
    enum vs_status st = pp && (b->model_path = vs_strdup(model_path)) ? VS_OK : VS_ERR_NOMEM;
    if (st == VS_OK)
        st = vs_inputs_open_tokenizer(model_path, &b->tok);
    static const char *const needed[] = {IMG_START, IMG_END, IMG_CONTEXT};
    for (size_t i = 0; st == VS_OK && i < 3; i++)
        if (vs_tokenizer_token_id(b->tok, needed[i]) < 0)
            st = vs_error_set(VS_ERR_MODEL, "%s/tokenizer.json: has no %s token", model_path, needed[i]);
    if (st == VS_OK && !vs_fs_is_file(pp))
        st = vs_error_set(VS_ERR_MODEL, "%s: not found; calibration images are preprocessed as it says", pp);
    if (st == VS_OK)
        st = load_image_processor(pp, &b->tiling);
    if (st == VS_OK)
        st = load_seq_length(model_path, &b->image_seq_length);
    if (st == VS_OK)
        st = vs_chat_template_load(model_path, &b->tpl);
    if (st == VS_OK)
        st = vs_inputs_special_tokens(model_path, &b->special_tokens);
    free(pp);
    if (st != VS_OK) {
        close_state(b);
        return st;
    }
    *out = b;
    return VS_OK;
}

static size_t count(const char *text, const char *what)
{
    size_t n = 0;
    for (const char *p = strstr(text, what); p; p = strstr(p + strlen(what), what))
        n++;
    return n;
}

/* text with its only <IMG_CONTEXT> replaced by <img> + <IMG_CONTEXT> x copies + </img> (caller frees). */
static char *expand(const char *text, int64_t copies)
{
    const char *at = strstr(text, IMG_CONTEXT);
    size_t ctx = strlen(IMG_CONTEXT), head = (size_t)(at - text), tail = strlen(at + ctx);
    char *out = vs_malloc(head + strlen(IMG_START) + (size_t)copies * ctx + strlen(IMG_END) + tail + 1), *w = out;
    if (!out)
        return NULL;
    memcpy(w, text, head);
    w += head;
    w += sprintf(w, "%s", IMG_START);
    for (int64_t i = 0; i < copies; i++, w += ctx)
        memcpy(w, IMG_CONTEXT, ctx);
    w += sprintf(w, "%s", IMG_END);
    memcpy(w, at + ctx, tail + 1);
    return out;
}

static enum vs_status build(const void *state, const struct vs_calib_sample *s, struct vs_model_inputs *out,
                            struct vs_inputs_info *info)
{
    const struct internvl_hf *b = state;
    json_t *msgs = vs_inputs_messages(s);
    char *prompt = NULL, *expanded = NULL;
    enum vs_status st = msgs ? vs_chat_template_render(b->tpl, msgs, true, b->special_tokens, &prompt) : VS_ERR_NOMEM;
    json_decref(msgs);
    if (st == VS_OK && s->image)
        st = vs_inputs_tiled_image(&b->tiling, true, s->image, out, info);
    if (st == VS_OK && count(prompt, IMG_CONTEXT) != (size_t)out->n_images)
        st = vs_error_set(VS_ERR_MODEL, "%s: the chat template rendered %zu %s for %lld image(s)", b->model_path,
                          count(prompt, IMG_CONTEXT), IMG_CONTEXT, (long long)out->n_images);
    if (st == VS_OK && out->n_images && !(expanded = expand(prompt, b->image_seq_length * out->n_patches)))
        st = VS_ERR_NOMEM;
    if (st == VS_OK)
        st = vs_inputs_tokenize(b->tok, expanded ? expanded : prompt, out);
    free(expanded);
    info->prompt = prompt;
    return st;
}

static const char *const model_types[] = {"internvl", NULL};

const struct vs_inputs_processor vs_internvl_hf_inputs = {
    .name = "internvl_hf", .model_types = model_types, .open = open_state, .build = build, .close = close_state,
};
