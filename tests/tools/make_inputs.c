/* Writes a model-input file (src/inputs/model_inputs.h) for one image, for calibration tests
 * that need real image statistics while the prompt stays synthetic:
 *   vs-make-inputs MODEL_DIR OUT.safetensors IMAGE|gen:WxH [SEED]
 * The image (a file, or gen:WxH, a deterministic colour pattern) goes through the checkpoint's
 * image processor (preprocessor_config.json); the prompt is 5 text tokens, vision_start, the
 * image's pads, vision_end and 3 text tokens (ids from SEED; vision start/end ids that lie
 * outside a small vocabulary are replaced by text ids, as tests/reference/qwen3_vl_torch.py
 * does). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "inputs/model_inputs.h"
#include "vision/image.h"
#include "vision/qwen_vl_processor.h"

static uint64_t rng_state;
static int64_t next_id(int64_t vocab, int64_t avoid)
{
    for (;;) {
        rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
        int64_t v = (int64_t)((rng_state >> 33) % (uint64_t)vocab);
        if (v != avoid)
            return v;
    }
}

static int64_t cfg_int(json_t *cfg, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(cfg, key);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: vs-make-inputs MODEL_DIR OUT.safetensors IMAGE|gen:WxH [SEED]\n");
        return 2;
    }
    rng_state = argc == 5 ? strtoull(argv[4], NULL, 10) : 1;
    char *cfg_path = vs_path_join(argv[1], "config.json"), *pp_path = vs_path_join(argv[1], "preprocessor_config.json");
    json_error_t jerr;
    json_t *cfg = json_load_file(cfg_path, 0, &jerr);
    struct vs_qwen_vl_processor_config pc;
    if (!cfg || vs_qwen_vl_processor_load(pp_path, &pc) != VS_OK) {
        fprintf(stderr, "vs-make-inputs: %s\n", cfg ? vs_error_message() : jerr.text);
        return 1;
    }
    /* text_config's, or the top level's (published Qwen2.5-VL configs are flat) */
    int64_t vocab = cfg_int(json_object_get(cfg, "text_config"), "vocab_size", cfg_int(cfg, "vocab_size", 151936));
    int64_t image_id = cfg_int(cfg, "image_token_id", 151655), vs_id = cfg_int(cfg, "vision_start_token_id", 151652),
            ve_id = cfg_int(cfg, "vision_end_token_id", 151653);
    struct vs_image img = {0};
    int w, h;
    if (sscanf(argv[3], "gen:%dx%d", &w, &h) == 2) {
        img.width = w;
        img.height = h;
        img.rgb = malloc((size_t)w * (size_t)h * 3);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                uint8_t *p = img.rgb + ((size_t)y * (size_t)w + (size_t)x) * 3;
                p[0] = (uint8_t)(x * 255 / (w > 1 ? w - 1 : 1));
                p[1] = (uint8_t)(y * 255 / (h > 1 ? h - 1 : 1));
                p[2] = (uint8_t)(((x / 8 + y / 8) % 2) * 200 + 20);
            }
    } else if (vs_image_load(argv[3], &img) != VS_OK) {
        fprintf(stderr, "vs-make-inputs: %s\n", vs_error_message());
        return 1;
    }
    struct vs_model_inputs in = {0};
    int64_t grid[3], rows, cols;
    if (vs_qwen_vl_preprocess(&pc, &img, &in.pixel_values, &rows, &cols, grid) != VS_OK) {
        fprintf(stderr, "vs-make-inputs: %s: %s\n", argv[3], vs_error_message());
        return 1;
    }
    int64_t pads = rows / (pc.merge_size * pc.merge_size);
    in.n_patches = rows;
    in.patch_dim = cols;
    in.n_images = 1;
    in.image_grid_thw = malloc(sizeof *in.image_grid_thw);
    memcpy(in.image_grid_thw[0], grid, sizeof grid);
    in.input_ids = malloc((size_t)(pads + 10) * sizeof *in.input_ids);
    int64_t n = 0;
    for (int k = 0; k < 5; k++)
        in.input_ids[n++] = next_id(vocab, image_id);
    in.input_ids[n++] = vs_id < vocab ? vs_id : next_id(vocab, image_id);
    for (int64_t k = 0; k < pads; k++)
        in.input_ids[n++] = image_id;
    in.input_ids[n++] = ve_id < vocab ? ve_id : next_id(vocab, image_id);
    for (int k = 0; k < 3; k++)
        in.input_ids[n++] = next_id(vocab, image_id);
    in.n_tokens = n;
    if (vs_model_inputs_write(&in, argv[2]) != VS_OK) {
        fprintf(stderr, "vs-make-inputs: %s\n", vs_error_message());
        return 1;
    }
    printf("%s: %dx%d image, grid %lldx%lldx%lld, %lld tokens\n", argv[2], img.width, img.height, (long long)grid[0],
           (long long)grid[1], (long long)grid[2], (long long)n);
    vs_model_inputs_free(&in);
    vs_image_free(&img);
    json_decref(cfg);
    free(cfg_path);
    free(pp_path);
    return 0;
}
