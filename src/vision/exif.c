/* EXIF orientation: a bounds-checked reader of IFD0 tag 0x0112 and the 8 transposes that
 * PIL.ImageOps.exif_transpose applies. */
#include <stdlib.h>
#include <string.h>

#include "vision/image.h"

static unsigned rd16(const uint8_t *p, int le)
{
    return le ? (unsigned)p[0] | (unsigned)p[1] << 8 : (unsigned)p[0] << 8 | (unsigned)p[1];
}

static uint32_t rd32(const uint8_t *p, int le)
{
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int vs_image_exif_orientation(const uint8_t *tiff, size_t len)
{
    if (!tiff || len < 8)
        return 1;
    int le;
    if (tiff[0] == 'I' && tiff[1] == 'I')
        le = 1;
    else if (tiff[0] == 'M' && tiff[1] == 'M')
        le = 0;
    else
        return 1;
    if (rd16(tiff + 2, le) != 42)
        return 1;
    uint32_t ifd = rd32(tiff + 4, le);
    if (ifd > len || len - ifd < 2)
        return 1;
    unsigned n = rd16(tiff + ifd, le);
    for (unsigned i = 0; i < n; i++) {
        size_t e = (size_t)ifd + 2 + (size_t)i * 12;
        if (e + 12 > len)
            return 1;
        if (rd16(tiff + e, le) != 0x0112)
            continue;
        unsigned type = rd16(tiff + e + 2, le);
        uint32_t count = rd32(tiff + e + 4, le);
        /* PIL only transposes for a single integer: SHORT (left-aligned in the value field)
         * or LONG; a list or another type gives it no valid orientation either. */
        uint32_t v;
        if (type == 3 && count == 1)
            v = rd16(tiff + e + 8, le);
        else if (type == 4 && count == 1)
            v = rd32(tiff + e + 8, le);
        else
            return 1;
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

enum vs_status vs_image_orient(struct vs_image *img, int o)
{
    if (o <= 1 || o > 8)
        return VS_OK;
    const int w = img->width, h = img->height;
    const int swap = o >= 5; /* TRANSPOSE, ROTATE_270, TRANSVERSE, ROTATE_90 swap the axes */
    const int W = swap ? h : w, H = swap ? w : h;
    uint8_t *dst = vs_malloc((size_t)w * h * 3);
    if (!dst)
        return VS_ERR_NOMEM;
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            int sx, sy;
            switch (o) {
            case 2: sx = w - 1 - x; sy = y; break;          /* FLIP_LEFT_RIGHT */
            case 3: sx = w - 1 - x; sy = h - 1 - y; break;  /* ROTATE_180 */
            case 4: sx = x; sy = h - 1 - y; break;          /* FLIP_TOP_BOTTOM */
            case 5: sx = y; sy = x; break;                  /* TRANSPOSE */
            case 6: sx = y; sy = h - 1 - x; break;          /* ROTATE_270 (90° clockwise) */
            case 7: sx = w - 1 - y; sy = h - 1 - x; break;  /* TRANSVERSE */
            default: sx = w - 1 - y; sy = x; break;         /* 8: ROTATE_90 (counter-clockwise) */
            }
            memcpy(dst + ((size_t)y * W + x) * 3, img->rgb + ((size_t)sy * w + sx) * 3, 3);
        }
    }
    free(img->rgb);
    img->rgb = dst;
    img->width = W;
    img->height = H;
    return VS_OK;
}
