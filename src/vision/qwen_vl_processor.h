/* Qwen2-VL / Qwen2.5-VL / Qwen3-VL image processor: preprocessor_config.json, smart_resize,
 * bicubic resize, rescale + normalize and patch flattening into pixel_values.
 *
 * The resize is the SLOW Qwen2VLImageProcessor's PIL resize(BICUBIC), reproduced bit for bit
 * (vs_image_resize_bicubic). Checkpoints that name "Qwen2VLImageProcessorFast" (Qwen3-VL does)
 * get the same resampler and the slow path's normalisation: Hugging Face's fast processor
 * resizes with torchvision (bicubic a = -0.75, antialias, float) instead, so pixel_values then
 * differ from HF's fast processor by a few uint8 levels before normalisation (known and
 * accepted; the grid, token count and patch layout are identical). */
#ifndef VS_VISION_QWEN_VL_PROCESSOR_H
#define VS_VISION_QWEN_VL_PROCESSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "vision/image.h"

struct vs_qwen_vl_processor_config {
    int patch_size;          /* 16 for Qwen3-VL (14 for Qwen2/2.5-VL) */
    int temporal_patch_size; /* 2 */
    int merge_size;          /* 2 */
    int64_t min_pixels;      /* size.shortest_edge or min_pixels */
    int64_t max_pixels;      /* size.longest_edge or max_pixels */
    float image_mean[3];
    float image_std[3];
    double rescale_factor;   /* 1/255 */
    bool do_resize, do_rescale, do_normalize;
    bool fast;               /* image_processor_type ends in "Fast" (see header comment) */
};

/* Parses preprocessor_config.json. Errors name the file and key. */
enum vs_status vs_qwen_vl_processor_load(const char *preprocessor_json_path,
                                         struct vs_qwen_vl_processor_config *out);

/* smart_resize(h, w, factor = patch_size * merge_size, min_pixels, max_pixels). */
enum vs_status vs_qwen_vl_smart_resize(int h, int w, const struct vs_qwen_vl_processor_config *cfg,
                                       int *oh, int *ow);

/* PIL's Image.resize((out_w, out_h), BICUBIC) on RGB uint8, bit-exact (horizontal pass then
 * vertical, 22-bit fixed-point coefficients, a = -0.5). *out gets a new buffer. */
enum vs_status vs_image_resize_bicubic(const struct vs_image *in, int out_w, int out_h,
                                       struct vs_image *out);

/* One image → pixel_values float32 [rows = t*gh*gw, cols = C*T*P*P] (caller frees) and
 * grid_thw {1, h'/P, w'/P}. Image tokens: rows / merge_size^2. */
enum vs_status vs_qwen_vl_preprocess(const struct vs_qwen_vl_processor_config *cfg,
                                     const struct vs_image *img, float **pixel_values,
                                     int64_t *rows, int64_t *cols, int64_t grid_thw[3]);

#endif
