/* Image decoding to 8-bit RGB, matching what Hugging Face's load_image gives the processor:
 * PIL open, ImageOps.exif_transpose, convert("RGB").
 *
 * Formats (detected by magic bytes, not by suffix): JPEG (libjpeg-turbo; gray, YCbCr, RGB, and
 * CMYK/YCCK converted with PIL's Adobe-polarity cmyk2rgb) and PNG (libpng; gray, gray+alpha,
 * palette with tRNS, RGB, RGBA, 1..16-bit, interlaced). Alpha is dropped, never blended; 16-bit
 * samples keep their high byte, except 16-bit gray, which PIL opens as mode "I" and clips to
 * 255. The EXIF orientation (tag 0x0112 in a JPEG's APP1 segment or a PNG's eXIf chunk) is
 * applied. Images above PIL's decompression-bomb limit are refused before any pixel buffer is
 * allocated. */
#ifndef VS_VISION_IMAGE_H
#define VS_VISION_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

/* PIL's Image.MAX_IMAGE_PIXELS * 2: above this PIL raises DecompressionBombError. */
#define VS_IMAGE_MAX_PIXELS 178956970LL

struct vs_image {
    int width, height;
    uint8_t *rgb; /* height*width*3, row-major, interleaved R,G,B */
};

/* Decodes the file at path. On error *out is zeroed and the message names the file:
 * VS_ERR_IO (unreadable), VS_ERR_FORMAT (corrupt, unknown format, too large),
 * VS_ERR_UNSUPPORTED (a recognised but unsupported variant). */
enum vs_status vs_image_load(const char *path, struct vs_image *out);
/* The same without the EXIF orientation: what PIL's Image.open(path).convert("RGB") gives
 * (InternVL's own load_image, which msModelSlim uses, does not transpose). */
enum vs_status vs_image_load_as_stored(const char *path, struct vs_image *out);
void vs_image_free(struct vs_image *img);

/* Reads the EXIF orientation (1..8) from a TIFF block (the APP1 payload after "Exif\0\0").
 * Returns 1 when absent or malformed (PIL ignores broken EXIF the same way). */
int vs_image_exif_orientation(const uint8_t *tiff, size_t len);

/* Applies an EXIF orientation (1..8) in place, like PIL.ImageOps.exif_transpose. */
enum vs_status vs_image_orient(struct vs_image *img, int orientation);

#endif
