/* InternVL's image preprocessing, as its own load_image does it (msModelSlim's
 * msmodelslim/model/internvl3_5/internvl_utils.py, the model card's example): dynamic tiling of
 * the image into S x S tiles by the closest aspect ratio, a thumbnail tile, ToTensor and
 * Normalize with ImageNet's mean and std (docs/internvl.md §3). */
#ifndef VS_VISION_INTERNVL_TILES_H
#define VS_VISION_INTERNVL_TILES_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "vision/image.h"

struct vs_internvl_tiling {
    int image_size;           /* S: force_image_size, else vision_config.image_size */
    int min_tiles, max_tiles; /* min_dynamic_patch, max_dynamic_patch */
    bool thumbnail;           /* use_thumbnail: the whole image as one more tile when there are several */
    /* How a uint8 value v becomes a pixel value. torchvision (InternVL's own transform):
     * ToTensor's v/255 in float32, then Normalize's (x - mean)/std. transformers (the -HF
     * checkpoints' GotOcr2ImageProcessor): rescale's float32(float64(v) * rescale_factor) when
     * do_rescale, then normalize's (x - mean)/std in float32 when do_normalize. */
    bool transformers;
    bool do_rescale, do_normalize;
    double rescale_factor;
    float mean[3], std[3];
};

/* InternVL's own transform: ImageNet's mean and std, torchvision's arithmetic. */
void vs_internvl_tiling_defaults(struct vs_internvl_tiling *t);

/* dynamic_preprocess's grid for a width x height image: cols x rows tiles, the (i, j) with
 * min_tiles <= i*j <= max_tiles whose aspect ratio i/j is closest to width/height (ties: the
 * later of equal-area order wins when the image covers more than half of its tiles' area). */
void vs_internvl_tile_grid(const struct vs_internvl_tiling *t, int width, int height, int *cols, int *rows);

/* The image as pixel_values float32 [tiles, 3*S*S] (each tile C, H, W; the thumbnail last;
 * caller frees): resized with PIL's bicubic to cols*S x rows*S, cropped row-major into tiles,
 * each value converted as t says. */
enum vs_status vs_internvl_tiles(const struct vs_internvl_tiling *t, const struct vs_image *img, float **pixel_values,
                                 int64_t *tiles, int *cols, int *rows);

#endif
