#include "vision/internvl_tiles.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vision/qwen_vl_processor.h"

void vs_internvl_tiling_defaults(struct vs_internvl_tiling *t)
{
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    *t = (struct vs_internvl_tiling){.image_size = 448, .min_tiles = 1, .max_tiles = 12, .thumbnail = true,
                                     .do_rescale = true, .do_normalize = true, .rescale_factor = 1.0 / 255.0};
    memcpy(t->mean, mean, sizeof mean);
    memcpy(t->std, std, sizeof std);
}

/* target_ratios: the set {(i, j) : min <= i*j <= max} sorted by area i*j. Python sorts a set, so
 * equal areas come in CPython's hash order; here they come by ascending i. The grid chosen is the
 * same: a tie in the distance between two ratios of one area never decides it (checked against
 * the Python code for every w, h <= 300 at min/max 1/6, 1/12, 1/24 and 2/12). */
void vs_internvl_tile_grid(const struct vs_internvl_tiling *t, int width, int height, int *cols, int *rows)
{
    double aspect = (double)width / (double)height, best_diff = INFINITY, area = (double)width * (double)height;
    int bi = 1, bj = 1;
    for (int a = t->min_tiles; a <= t->max_tiles; a++)
        for (int i = 1; i <= a; i++) {
            if (a % i)
                continue;
            int j = a / i;
            double diff = fabs(aspect - (double)i / (double)j);
            if (diff < best_diff) {
                best_diff = diff;
                bi = i, bj = j;
            } else if (diff == best_diff && area > 0.5 * t->image_size * t->image_size * i * j) {
                bi = i, bj = j;
            }
        }
    *cols = bi;
    *rows = bj;
}

/* v as t converts it (struct vs_internvl_tiling). */
static float pixel_value(const struct vs_internvl_tiling *t, uint8_t v, int c)
{
    float x = !t->transformers ? (float)v / 255.0f : t->do_rescale ? (float)((double)v * t->rescale_factor) : (float)v;
    return !t->transformers || t->do_normalize ? (x - t->mean[c]) / t->std[c] : x;
}

/* One S x S RGB tile into out [3, S, S]. */
static void normalize_tile(const struct vs_internvl_tiling *t, const uint8_t *rgb, int stride, float *out)
{
    int s = t->image_size;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++)
                out[((size_t)c * s + y) * s + x] = pixel_value(t, rgb[((size_t)y * stride + x) * 3 + c], c);
}

enum vs_status vs_internvl_tiles(const struct vs_internvl_tiling *t, const struct vs_image *img, float **pixel_values,
                                 int64_t *tiles, int *cols, int *rows)
{
    *pixel_values = NULL;
    int s = t->image_size;
    vs_internvl_tile_grid(t, img->width, img->height, cols, rows);
    int64_t blocks = (int64_t)*cols * *rows, n = blocks + (t->thumbnail && blocks != 1);
    size_t plane = (size_t)3 * s * s;
    float *pv = vs_malloc((size_t)n * plane * sizeof *pv);
    if (!pv)
        return VS_ERR_NOMEM;
    struct vs_image resized;
    enum vs_status st = vs_image_resize_bicubic(img, *cols * s, *rows * s, &resized);
    if (st != VS_OK) {
        free(pv);
        return st;
    }
    for (int64_t b = 0; b < blocks; b++) {
        int bx = (int)(b % *cols), by = (int)(b / *cols);
        const uint8_t *origin = resized.rgb + ((size_t)by * s * resized.width + (size_t)bx * s) * 3;
        normalize_tile(t, origin, resized.width, pv + (size_t)b * plane);
    }
    vs_image_free(&resized);
    if (n > blocks) {
        struct vs_image thumb;
        if ((st = vs_image_resize_bicubic(img, s, s, &thumb)) != VS_OK) {
            free(pv);
            return st;
        }
        normalize_tile(t, thumb.rgb, s, pv + (size_t)blocks * plane);
        vs_image_free(&thumb);
    }
    *pixel_values = pv;
    *tiles = n;
    return VS_OK;
}
