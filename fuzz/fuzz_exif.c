/* An EXIF TIFF block (the APP1 payload after "Exif\0\0"): vs_image_exif_orientation, then the
 * orientation it reads, and the first byte taken as an orientation (valid or not), applied to
 * a small image. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "vision/image.h"

static void orient(int orientation)
{
    struct vs_image img = {.width = 5, .height = 3, .rgb = malloc(5 * 3 * 3)};
    if (!img.rgb)
        abort();
    for (int i = 0; i < 5 * 3 * 3; i++)
        img.rgb[i] = (uint8_t)i;
    if (vs_image_orient(&img, orientation) == VS_OK &&
        !((img.width == 5 && img.height == 3) || (img.width == 3 && img.height == 5)))
        abort();
    vs_image_free(&img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1 << 16))
        return 0;
    fz_dir(); /* silences the log */
    int o = vs_image_exif_orientation(data, size);
    if (o < 1 || o > 8)
        abort(); /* documented: 1..8 */
    orient(o);
    if (size)
        orient((int8_t)data[0]);
    return 0;
}
