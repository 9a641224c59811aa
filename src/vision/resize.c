/* Bit-exact port of Pillow's bicubic resampler (libImaging/Resample.c, 8 bits per channel):
 * double-precision filter weights normalised per output pixel, converted to 22-bit fixed point,
 * integer accumulation with a rounding bias and clip8. Pillow always runs the horizontal pass
 * first (on only the source rows the vertical pass needs) and stores it as uint8. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vision/qwen_vl_processor.h"

#define PRECISION_BITS (32 - 8 - 2)

static double bicubic_filter(double x)
{
    const double a = -0.5;
    if (x < 0.0)
        x = -x;
    if (x < 1.0)
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0)
        return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static uint8_t clip8(int v)
{
    if (v >= (1 << PRECISION_BITS << 8))
        return 255;
    if (v <= 0)
        return 0;
    return (uint8_t)(v >> PRECISION_BITS);
}

/* Pillow's precompute_coeffs + normalize_coeffs_8bpc for box [0, in_size]. */
static int precompute(int in_size, int out_size, int **bounds_out, int32_t **kk_out)
{
    double scale = (double)in_size / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 2.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    int *bounds = vs_malloc(sizeof(int) * 2 * (size_t)out_size);
    int32_t *kk = vs_malloc(sizeof(int32_t) * (size_t)ksize * out_size);
    double *k = vs_malloc(sizeof(double) * (size_t)ksize);
    if (!bounds || !kk || !k) {
        free(bounds);
        free(kk);
        free(k);
        return -1;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0)
            xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size)
            xmax = in_size;
        xmax -= xmin;
        int x;
        for (x = 0; x < xmax; x++) {
            double w = bicubic_filter((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0)
                k[x] /= ww;
        for (; x < ksize; x++)
            k[x] = 0;
        for (x = 0; x < ksize; x++)
            kk[xx * ksize + x] = k[x] < 0 ? (int32_t)(-0.5 + k[x] * (1 << PRECISION_BITS))
                                          : (int32_t)(0.5 + k[x] * (1 << PRECISION_BITS));
        bounds[2 * xx] = xmin;
        bounds[2 * xx + 1] = xmax;
    }
    free(k);
    *bounds_out = bounds;
    *kk_out = kk;
    return ksize;
}

enum vs_status vs_image_resize_bicubic(const struct vs_image *in, int out_w, int out_h,
                                       struct vs_image *out)
{
    memset(out, 0, sizeof *out);
    if (out_w <= 0 || out_h <= 0 || in->width <= 0 || in->height <= 0)
        return vs_error_set(VS_ERR_INTERNAL, "resize: bad sizes %dx%d -> %dx%d", in->width,
                            in->height, out_w, out_h);
    const int iw = in->width, ih = in->height;
    uint8_t *dst = vs_malloc((size_t)out_w * out_h * 3);
    if (!dst)
        return VS_ERR_NOMEM;
    if (iw == out_w && ih == out_h) { /* Pillow returns a copy */
        memcpy(dst, in->rgb, (size_t)iw * ih * 3);
        *out = (struct vs_image){out_w, out_h, dst};
        return VS_OK;
    }
    int *bh = NULL, *bv = NULL;
    int32_t *kh = NULL, *kv = NULL;
    int ksh = precompute(iw, out_w, &bh, &kh);
    int ksv = ksh < 0 ? -1 : precompute(ih, out_h, &bv, &kv);
    if (ksh < 0 || ksv < 0) {
        free(bh);
        free(kh);
        free(dst);
        return VS_ERR_NOMEM;
    }
    const uint8_t *src = in->rgb;
    int src_w = iw;
    uint8_t *tmp = NULL;
    if (iw != out_w) {
        int y_first = bv[0], y_last = bv[2 * out_h - 2] + bv[2 * out_h - 1];
        int th = y_last - y_first;
        if (ih != out_h)
            for (int i = 0; i < out_h; i++)
                bv[2 * i] -= y_first;
        else
            y_first = 0, th = ih;
        tmp = vs_malloc((size_t)out_w * th * 3);
        if (!tmp) {
            free(bh), free(kh), free(bv), free(kv), free(dst);
            return VS_ERR_NOMEM;
        }
        for (int y = 0; y < th; y++) {
            const uint8_t *row = in->rgb + (size_t)(y + y_first) * iw * 3;
            for (int xx = 0; xx < out_w; xx++) {
                const int xmin = bh[2 * xx], xmax = bh[2 * xx + 1];
                const int32_t *k = kh + (size_t)xx * ksh;
                int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                for (int x = 0; x < xmax; x++) {
                    const uint8_t *p = row + (size_t)(x + xmin) * 3;
                    s0 += p[0] * k[x];
                    s1 += p[1] * k[x];
                    s2 += p[2] * k[x];
                }
                uint8_t *o = tmp + ((size_t)y * out_w + xx) * 3;
                o[0] = clip8(s0), o[1] = clip8(s1), o[2] = clip8(s2);
            }
        }
        src = tmp;
        src_w = out_w;
    }
    if (ih != out_h) {
        for (int yy = 0; yy < out_h; yy++) {
            const int ymin = bv[2 * yy], ymax = bv[2 * yy + 1];
            const int32_t *k = kv + (size_t)yy * ksv;
            for (int xx = 0; xx < src_w; xx++) {
                int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                for (int y = 0; y < ymax; y++) {
                    const uint8_t *p = src + ((size_t)(y + ymin) * src_w + xx) * 3;
                    s0 += p[0] * k[y];
                    s1 += p[1] * k[y];
                    s2 += p[2] * k[y];
                }
                uint8_t *o = dst + ((size_t)yy * out_w + xx) * 3;
                o[0] = clip8(s0), o[1] = clip8(s1), o[2] = clip8(s2);
            }
        }
    } else {
        memcpy(dst, src, (size_t)out_w * out_h * 3);
    }
    free(tmp);
    free(bh), free(kh), free(bv), free(kv);
    *out = (struct vs_image){out_w, out_h, dst};
    return VS_OK;
}
