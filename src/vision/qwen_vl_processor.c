/* Qwen2-VL-family image processor: config, smart_resize and pixel_values (see the header). */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vision/qwen_vl_processor.h"

/* Required positive integer member. patch_size etc. have Qwen2-VL defaults in transformers;
 * they are required here because a silent Qwen2 default would be wrong for Qwen3-VL and every
 * shipped checkpoint sets them. */
static enum vs_status get_pos_int(const json_t *obj, const char *key, const char *path,
                                  int64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return vs_error_set(VS_ERR_CONFIG, "%s: missing key '%s'", path, key);
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return vs_error_set(VS_ERR_CONFIG, "%s: key '%s' must be a positive integer", path, key);
    *out = json_integer_value(v);
    return VS_OK;
}

static enum vs_status get_bool(const json_t *obj, const char *key, const char *path, bool *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return VS_OK; /* keep the default */
    if (!json_is_boolean(v))
        return vs_error_set(VS_ERR_CONFIG, "%s: key '%s' must be true or false", path, key);
    *out = json_is_true(v);
    return VS_OK;
}

static enum vs_status get_triple(const json_t *obj, const char *key, const char *path,
                                 bool positive, float out[3])
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return vs_error_set(VS_ERR_CONFIG, "%s: missing key '%s'", path, key);
    if (!json_is_array(v) || json_array_size(v) != 3)
        return vs_error_set(VS_ERR_CONFIG, "%s: key '%s' must be a list of 3 numbers", path, key);
    for (size_t i = 0; i < 3; i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_number(e))
            return vs_error_set(VS_ERR_CONFIG, "%s: key '%s' must be a list of 3 numbers", path,
                                key);
        out[i] = (float)json_number_value(e);
        if (positive && !(out[i] > 0))
            return vs_error_set(VS_ERR_CONFIG, "%s: key '%s' must be positive", path, key);
    }
    return VS_OK;
}

static enum vs_status parse(const json_t *root, const char *path,
                            struct vs_qwen_vl_processor_config *c)
{
    if (!json_is_object(root))
        return vs_error_set(VS_ERR_CONFIG, "%s: expected a JSON object", path);
    const json_t *type = json_object_get(root, "image_processor_type");
    if (!json_is_string(type))
        return vs_error_set(VS_ERR_CONFIG, "%s: missing key 'image_processor_type'", path);
    const char *t = json_string_value(type);
    if (strcmp(t, "Qwen2VLImageProcessorFast") == 0)
        c->fast = true;
    else if (strcmp(t, "Qwen2VLImageProcessor") == 0)
        c->fast = false;
    else
        return vs_error_set(VS_ERR_UNSUPPORTED,
                            "%s: image_processor_type '%s' is not supported (expected "
                            "Qwen2VLImageProcessor or Qwen2VLImageProcessorFast)", path, t);
    int64_t p, tp, m;
    enum vs_status st;
    if ((st = get_pos_int(root, "patch_size", path, &p)) != VS_OK ||
        (st = get_pos_int(root, "temporal_patch_size", path, &tp)) != VS_OK ||
        (st = get_pos_int(root, "merge_size", path, &m)) != VS_OK)
        return st;
    if (p > 1024 || tp > 64 || m > 64)
        return vs_error_set(VS_ERR_CONFIG, "%s: patch_size/temporal_patch_size/merge_size out "
                            "of range (%lld/%lld/%lld)", path, (long long)p, (long long)tp,
                            (long long)m);
    c->patch_size = (int)p, c->temporal_patch_size = (int)tp, c->merge_size = (int)m;
    if ((st = get_triple(root, "image_mean", path, false, c->image_mean)) != VS_OK ||
        (st = get_triple(root, "image_std", path, true, c->image_std)) != VS_OK)
        return st;
    /* Pixel bounds: size {shortest_edge, longest_edge}; the older min_pixels/max_pixels keys
     * take precedence when present, as in transformers. */
    int64_t mn = 0, mx = 0;
    const json_t *size = json_object_get(root, "size");
    if (size && !json_is_null(size)) {
        if (!json_is_object(size))
            return vs_error_set(VS_ERR_CONFIG, "%s: key 'size' must be an object", path);
        if (!json_object_get(size, "shortest_edge") || !json_object_get(size, "longest_edge"))
            return vs_error_set(VS_ERR_CONFIG, "%s: key 'size' must contain 'shortest_edge' "
                                "and 'longest_edge'", path);
        if ((st = get_pos_int(size, "shortest_edge", path, &mn)) != VS_OK ||
            (st = get_pos_int(size, "longest_edge", path, &mx)) != VS_OK)
            return st;
    }
    if (json_object_get(root, "min_pixels") &&
        (st = get_pos_int(root, "min_pixels", path, &mn)) != VS_OK)
        return st;
    if (json_object_get(root, "max_pixels") &&
        (st = get_pos_int(root, "max_pixels", path, &mx)) != VS_OK)
        return st;
    if (mn == 0 || mx == 0)
        return vs_error_set(VS_ERR_CONFIG, "%s: missing pixel bounds ('size' with "
                            "'shortest_edge'/'longest_edge', or 'min_pixels'/'max_pixels')", path);
    if (mn > mx)
        return vs_error_set(VS_ERR_CONFIG, "%s: min pixels %lld > max pixels %lld", path,
                            (long long)mn, (long long)mx);
    c->min_pixels = mn, c->max_pixels = mx;
    c->rescale_factor = 1.0 / 255.0;
    const json_t *rf = json_object_get(root, "rescale_factor");
    if (rf && !json_is_null(rf)) {
        if (!json_is_number(rf) || !(json_number_value(rf) > 0))
            return vs_error_set(VS_ERR_CONFIG, "%s: key 'rescale_factor' must be a positive "
                                "number", path);
        c->rescale_factor = json_number_value(rf);
    }
    /* PIL's resample code: 3 = BICUBIC, the only filter implemented (and the default). */
    const json_t *rs = json_object_get(root, "resample");
    if (rs && !json_is_null(rs) && (!json_is_integer(rs) || json_integer_value(rs) != 3))
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: key 'resample': only 3 (bicubic) is "
                            "supported", path);
    c->do_resize = c->do_rescale = c->do_normalize = true;
    if ((st = get_bool(root, "do_resize", path, &c->do_resize)) != VS_OK ||
        (st = get_bool(root, "do_rescale", path, &c->do_rescale)) != VS_OK ||
        (st = get_bool(root, "do_normalize", path, &c->do_normalize)) != VS_OK)
        return st;
    return VS_OK;
}

enum vs_status vs_qwen_vl_processor_load(const char *path, struct vs_qwen_vl_processor_config *out)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr); /* duplicate keys: last wins, as Python */
    if (!root && jerr.line < 0)
        return vs_error_set(VS_ERR_IO, "%s: cannot read: %s", path, jerr.text);
    if (!root)
        return vs_error_set(VS_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", path, jerr.line,
                            jerr.column, jerr.text);
    enum vs_status st = parse(root, path, out);
    json_decref(root);
    if (st != VS_OK)
        memset(out, 0, sizeof *out);
    return st;
}

enum vs_status vs_qwen_vl_smart_resize(int h, int w, const struct vs_qwen_vl_processor_config *c,
                                       int *oh, int *ow)
{
    if (h <= 0 || w <= 0)
        return vs_error_set(VS_ERR_DATASET, "smart_resize: bad image size %dx%d", w, h);
    const double hi = h > w ? h : w, lo = h > w ? w : h;
    if (hi / lo > 200)
        return vs_error_set(VS_ERR_DATASET, "image %dx%d: absolute aspect ratio must be smaller "
                            "than 200, got %.17g", w, h, hi / lo);
    const int64_t f = (int64_t)c->patch_size * c->merge_size;
    /* Python's round() is round-half-to-even: rint in the default rounding mode. */
    int64_t hb = (int64_t)rint((double)h / f) * f, wb = (int64_t)rint((double)w / f) * f;
    if (hb * wb > c->max_pixels) {
        double beta = sqrt((double)h * w / c->max_pixels);
        hb = (int64_t)floor(h / beta / f) * f;
        wb = (int64_t)floor(w / beta / f) * f;
        if (hb < f)
            hb = f;
        if (wb < f)
            wb = f;
    } else if (hb * wb < c->min_pixels) {
        double beta = sqrt((double)c->min_pixels / ((double)h * w));
        hb = (int64_t)ceil(h * beta / f) * f;
        wb = (int64_t)ceil(w * beta / f) * f;
    }
    if (hb > 1 << 20 || wb > 1 << 20)
        return vs_error_set(VS_ERR_DATASET, "image %dx%d: resized size %lldx%lld too large", w,
                            h, (long long)wb, (long long)hb);
    *oh = (int)hb, *ow = (int)wb;
    return VS_OK;
}

enum vs_status vs_qwen_vl_preprocess(const struct vs_qwen_vl_processor_config *c,
                                     const struct vs_image *img, float **pixel_values,
                                     int64_t *rows, int64_t *cols, int64_t grid_thw[3])
{
    *pixel_values = NULL;
    int H = img->height, W = img->width;
    enum vs_status st;
    struct vs_image resized = {0};
    const struct vs_image *src = img;
    if (c->do_resize) {
        if ((st = vs_qwen_vl_smart_resize(img->height, img->width, c, &H, &W)) != VS_OK)
            return st;
        if ((st = vs_image_resize_bicubic(img, W, H, &resized)) != VS_OK)
            return st;
        src = &resized;
    }
    const int P = c->patch_size, M = c->merge_size, T = c->temporal_patch_size;
    if (H % (P * M) || W % (P * M)) {
        vs_image_free(&resized);
        return vs_error_set(VS_ERR_DATASET, "image %dx%d: size is not a multiple of "
                            "patch_size*merge_size = %d", W, H, P * M);
    }
    const int gh = H / P, gw = W / P;
    const int64_t nrows = (int64_t)gh * gw, ncols = (int64_t)3 * T * P * P;
    float *norm = vs_malloc(sizeof(float) * 3 * (size_t)H * W); /* [C][H][W] */
    float *pv = norm ? vs_malloc(sizeof(float) * (size_t)(nrows * ncols)) : NULL;
    if (!pv) {
        free(norm);
        vs_image_free(&resized);
        return VS_ERR_NOMEM;
    }
    /* Slow path arithmetic: float32(float64(v) * rescale_factor), then (x - mean) / std in
     * float32, as transformers' rescale() and normalize() do with numpy. */
    for (int ch = 0; ch < 3; ch++) {
        const float mean = c->image_mean[ch], std = c->image_std[ch];
        for (size_t i = 0; i < (size_t)H * W; i++) {
            float x = src->rgb[3 * i + ch];
            if (c->do_rescale)
                x = (float)((double)src->rgb[3 * i + ch] * c->rescale_factor);
            if (c->do_normalize)
                x = (x - mean) / std;
            norm[(size_t)ch * H * W + i] = x;
        }
    }
    vs_image_free(&resized);
    /* (t, T, C, gh/M, M, P, gw/M, M, P) permuted to (t, gh/M, gw/M, M, M, C, T, P, P); the T
     * frames are copies of the one image. */
    float *o = pv;
    for (int bh = 0; bh < gh / M; bh++)
        for (int bw = 0; bw < gw / M; bw++)
            for (int mh = 0; mh < M; mh++)
                for (int mw = 0; mw < M; mw++)
                    for (int ch = 0; ch < 3; ch++)
                        for (int tt = 0; tt < T; tt++)
                            for (int py = 0; py < P; py++) {
                                const int y = (bh * M + mh) * P + py, x0 = (bw * M + mw) * P;
                                memcpy(o, norm + ((size_t)ch * H + y) * W + x0,
                                       sizeof(float) * P);
                                o += P;
                            }
    free(norm);
    *pixel_values = pv;
    *rows = nrows, *cols = ncols;
    grid_thw[0] = 1, grid_thw[1] = gh, grid_thw[2] = gw;
    return VS_OK;
}
