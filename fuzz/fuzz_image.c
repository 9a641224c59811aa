/* Image files (JPEG, PNG, with their EXIF orientation) through vs_image_load. Inputs whose
 * header declares more than FZ_MAX_PIXELS are skipped: the library accepts up to PIL's
 * decompression-bomb limit (~179 M pixels), which decodes correctly but far too slowly for
 * fuzzing. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "vision/image.h"

#define FZ_MAX_PIXELS (1u << 20)

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) { return be16(p) << 16 | be16(p + 2); }

/* Whether the declared size is small. PNG: the IHDR (libpng requires it first). JPEG: every
 * byte pair that could be a SOFn marker is checked, so no reading of the marker stream can
 * find a larger frame than the one checked. */
static int small_enough(const uint8_t *d, size_t n)
{
    if (n >= 24 && d[0] == 0x89 && d[1] == 'P')
        return (uint64_t)be32(d + 16) * be32(d + 20) <= FZ_MAX_PIXELS;
    for (size_t i = 0; i + 9 <= n; i++) {
        if (d[i] != 0xFF || (d[i + 1] & 0xF0) != 0xC0 || d[i + 1] == 0xC4 || d[i + 1] == 0xC8 ||
            d[i + 1] == 0xCC)
            continue;
        if ((uint64_t)be16(d + i + 5) * be16(d + i + 7) > FZ_MAX_PIXELS)
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1 << 18) || !small_enough(data, size))
        return 0;
    char *path = fz_write("image", data, size);
    struct vs_image img;
    if (vs_image_load(path, &img) == VS_OK) {
        if (img.width <= 0 || img.height <= 0 || !img.rgb)
            abort();
        volatile uint8_t last = img.rgb[(size_t)img.width * img.height * 3 - 1];
        (void)last;
        vs_image_free(&img);
    }
    free(path);
    return 0;
}
