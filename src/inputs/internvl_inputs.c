/* InternVL's preprocessing of one calibration sample, as msModelSlim's InternVL3.5 adapter builds
 * it (handle_dataset, docs/internvl.md §3): the image tiled by its own load_image, and the query
 *   <|im_start|>system\n{system}<|im_end|><|im_start|>user\n<image>\n{text}<|im_end|><|im_start|>assistant\n
 * (without "<image>\n" for a text-only sample) with <image> replaced by
 * <img> + <IMG_CONTEXT> x (tokens per tile x tiles) + </img>, tokenized. msModelSlim writes this
 * query itself, not through the chat template, and so does vlmslim.
 *
 * The model inputs: pixel_values [tiles, 3*S*S] (one tile per row, the thumbnail last) and
 * image_grid_thw {1, tiles, 1} per image. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "inputs/inputs_processor.h"
#include "text/tokenizer.h"
#include "vision/image.h"
#include "vision/internvl_tiles.h"

#define IMG_START "<img>"
#define IMG_END "</img>"
#define IMG_CONTEXT "<IMG_CONTEXT>"
/* InternVL's conversation template's system message (internvl2_5), as msModelSlim writes it */
#define SYSTEM_PROMPT "你是书生·万象，英文名是InternVL，是由上海人工智能实验室、清华大学及多家合作单位联合开发的多模态大语言模型。"

struct internvl {
    struct vs_tokenizer *tok;
    struct vs_internvl_tiling tiling;
    int64_t tokens_per_tile;
    int64_t max_positions; /* llm_config.max_position_embeddings (0: none given) */
    char *config_path;
};

static void close_state(void *state)
{
    struct internvl *b = state;
    if (!b)
        return;
    vs_tokenizer_close(b->tok);
    free(b->config_path);
    free(b);
}

/* An integer key of obj (default dflt when absent) in [lo, hi]. */
static enum vs_status int_key(const char *path, const json_t *obj, const char *where, const char *key, int64_t dflt,
                              int64_t lo, int64_t hi, int64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *out = dflt;
        return VS_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return vs_error_set(VS_ERR_CONFIG, "%s: %s%s: expected an integer in [%lld, %lld]", path, where, key,
                            (long long)lo, (long long)hi);
    *out = json_integer_value(v);
    return VS_OK;
}

static enum vs_status read_config(struct internvl *b, const json_t *cfg)
{
    const char *p = b->config_path;
    const json_t *vc = json_object_get(cfg, "vision_config"), *lc = json_object_get(cfg, "llm_config");
    if (!json_is_object(vc))
        return vs_error_set(VS_ERR_CONFIG, "%s: vision_config: missing or not an object", p);
    int64_t image_size, patch, lo, hi, max_pos = 0;
    enum vs_status st = int_key(p, vc, "vision_config.", "image_size", -1, 1, 1 << 16, &image_size);
    if (st == VS_OK)
        st = int_key(p, cfg, "", "force_image_size", image_size, 1, 1 << 16, &image_size);
    if (st == VS_OK && image_size < 0)
        st = vs_error_set(VS_ERR_CONFIG, "%s: neither force_image_size nor vision_config.image_size is given", p);
    if (st == VS_OK)
        st = int_key(p, vc, "vision_config.", "patch_size", 14, 1, image_size, &patch);
    if (st == VS_OK)
        st = int_key(p, cfg, "", "min_dynamic_patch", 1, 1, 1024, &lo);
    if (st == VS_OK)
        st = int_key(p, cfg, "", "max_dynamic_patch", 12, lo, 1024, &hi);
    if (st == VS_OK && json_is_object(lc))
        st = int_key(p, lc, "llm_config.", "max_position_embeddings", 0, 1, INT64_MAX, &max_pos);
    if (st != VS_OK)
        return st;
    const json_t *ratio = json_object_get(cfg, "downsample_ratio"), *thumb = json_object_get(cfg, "use_thumbnail");
    double r = ratio ? json_number_value(ratio) : 0.5;
    if (ratio && (!json_is_number(ratio) || !(r > 0 && r <= 1)))
        return vs_error_set(VS_ERR_CONFIG, "%s: downsample_ratio: expected a number in (0, 1]", p);
    if (thumb && !json_is_boolean(thumb))
        return vs_error_set(VS_ERR_CONFIG, "%s: use_thumbnail: expected true or false", p);
    if (image_size % patch)
        return vs_error_set(VS_ERR_CONFIG, "%s: force_image_size %lld is not a multiple of vision_config.patch_size %lld",
                            p, (long long)image_size, (long long)patch);
    /* msModelSlim's num_image_token: int((S // P)^2 * r^2) */
    double side = (double)(image_size / patch);
    b->tokens_per_tile = (int64_t)(side * side * (r * r));
    vs_internvl_tiling_defaults(&b->tiling);
    b->tiling.image_size = (int)image_size;
    b->tiling.min_tiles = (int)lo;
    b->tiling.max_tiles = (int)hi;
    b->tiling.thumbnail = thumb ? json_is_true(thumb) : true;
    b->max_positions = max_pos;
    return VS_OK;
}

static enum vs_status open_state(const char *model_path, const json_t *config, void **out)
{
    *out = NULL;
    struct internvl *b = vs_calloc(1, sizeof *b);
    if (!b)
        return VS_ERR_NOMEM;
    enum vs_status st = (b->config_path = vs_path_join(model_path, "config.json")) ? VS_OK : VS_ERR_NOMEM;
    if (st == VS_OK)
        st = read_config(b, config);
    if (st == VS_OK)
        st = vs_inputs_open_tokenizer(model_path, &b->tok);
    static const char *const needed[] = {IMG_START, IMG_END, IMG_CONTEXT};
    for (size_t i = 0; st == VS_OK && i < 3; i++)
        if (vs_tokenizer_token_id(b->tok, needed[i]) < 0)
            st = vs_error_set(VS_ERR_MODEL, "%s/tokenizer.json: has no %s token", model_path, needed[i]);
    if (st != VS_OK) {
        close_state(b);
        return st;
    }
    *out = b;
    return VS_OK;
}

enum vs_status vs_inputs_tiled_image(const struct vs_internvl_tiling *t, bool exif, const char *path,
                                     struct vs_model_inputs *out, struct vs_inputs_info *info)
{
    struct vs_image img;
    enum vs_status st = exif ? vs_image_load(path, &img) : vs_image_load_as_stored(path, &img);
    if (st != VS_OK)
        return st;
    int cols, rows;
    info->image_width = img.width;
    info->image_height = img.height;
    st = vs_internvl_tiles(t, &img, &out->pixel_values, &out->n_patches, &cols, &rows);
    vs_image_free(&img);
    if (st != VS_OK)
        return vs_error_prefix(st, "%s", path);
    out->patch_dim = 3 * (int64_t)t->image_size * t->image_size;
    if (!(out->image_grid_thw = vs_malloc(sizeof *out->image_grid_thw)))
        return VS_ERR_NOMEM;
    out->image_grid_thw[0][0] = 1;
    out->image_grid_thw[0][1] = out->n_patches;
    out->image_grid_thw[0][2] = 1;
    out->n_images = 1;
    info->resized_width = cols * t->image_size;
    info->resized_height = rows * t->image_size;
    info->rows = "tiles";
    return VS_OK;
}

/* The query; with an image, "<image>\n" where image_tokens is 0, else its expansion with
 * image_tokens context tokens (caller frees). */
static char *make_query(const char *text, bool image, int64_t image_tokens)
{
    static const char head[] = "<|im_start|>system\n" SYSTEM_PROMPT "<|im_end|><|im_start|>user\n";
    static const char tail[] = "<|im_end|><|im_start|>assistant\n";
    size_t n = strlen(head) + strlen(text) + strlen(tail) + strlen("<image>\n") + 1;
    if (image)
        n += strlen(IMG_START) + (size_t)image_tokens * strlen(IMG_CONTEXT) + strlen(IMG_END);
    char *q = vs_malloc(n), *w = q;
    if (!q)
        return NULL;
    w += sprintf(w, "%s", head);
    if (image && !image_tokens)
        w += sprintf(w, "<image>\n");
    if (image && image_tokens) {
        w += sprintf(w, "%s", IMG_START);
        for (int64_t i = 0; i < image_tokens; i++)
            w += sprintf(w, "%s", IMG_CONTEXT);
        w += sprintf(w, "%s\n", IMG_END);
    }
    sprintf(w, "%s%s", text, tail);
    return q;
}

static enum vs_status build(const void *state, const struct vs_calib_sample *s, struct vs_model_inputs *out,
                            struct vs_inputs_info *info)
{
    const struct internvl *b = state;
    enum vs_status st = s->image ? vs_inputs_tiled_image(&b->tiling, false, s->image, out, info) : VS_OK;
    if (st != VS_OK)
        return st;
    bool image = s->image != NULL;
    char *query = make_query(s->text, image, out->n_patches * b->tokens_per_tile);
    if (!query || !(info->prompt = make_query(s->text, image, 0))) {
        free(query);
        return VS_ERR_NOMEM;
    }
    st = vs_inputs_tokenize(b->tok, query, out);
    free(query);
    if (st == VS_OK && b->max_positions > 0 && out->n_tokens > b->max_positions)
        st = vs_error_set(VS_ERR_DATASET, "%s%s%lld tokens (%lld tiles x %lld image tokens) exceed %s "
                          "llm_config.max_position_embeddings %lld; use a smaller image or lower max_dynamic_patch",
                          image ? s->image : "", image ? ": " : "", (long long)out->n_tokens,
                          (long long)out->n_patches, (long long)b->tokens_per_tile, b->config_path,
                          (long long)b->max_positions);
    return st;
}

static const char *const model_types[] = {"internvl_chat", NULL};

const struct vs_inputs_processor vs_internvl_inputs = {
    .name = "internvl", .model_types = model_types, .open = open_state, .build = build, .close = close_state,
};
