/* InternVL's tiling (vision/internvl_tiles.c): the grid against the Python algorithm's choices
 * (tests/golden/vision/internvl_grids.txt), the tiles' layout, the thumbnail and the ToTensor +
 * Normalize arithmetic. The pixel values of real images are checked bit for bit against PIL +
 * numpy by tests/e2e/test_inspect_inputs.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "vision/internvl_tiles.h"

static void test_grid_golden(void **state)
{
    (void)state;
    FILE *f = fopen("tests/golden/vision/internvl_grids.txt", "r");
    assert_non_null(f);
    char line[128];
    int n = 0, errors = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        int w, h, lo, hi, s, wc, wr, c, r;
        assert_int_equal(sscanf(line, "%d %d %d %d %d %d %d", &w, &h, &lo, &hi, &s, &wc, &wr), 7);
        struct vs_internvl_tiling t;
        vs_internvl_tiling_defaults(&t);
        t.image_size = s, t.min_tiles = lo, t.max_tiles = hi;
        vs_internvl_tile_grid(&t, w, h, &c, &r);
        if (c != wc || r != wr) {
            print_error("%dx%d (tiles %d..%d, %d px): %dx%d, Python chooses %dx%d\n", w, h, lo, hi, s, c, r, wc, wr);
            errors++;
        }
        n++;
    }
    fclose(f);
    assert_true(n > 600);
    assert_int_equal(errors, 0);
}

/* pixel (x, y) of a w x h image: channel values that name it */
static uint8_t value(int x, int y, int ch) { return (uint8_t)((x * 7 + y * 13 + ch * 101) % 256); }

static struct vs_image make_image(int w, int h)
{
    struct vs_image img = {w, h, malloc((size_t)w * h * 3)};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < 3; ch++)
                img.rgb[((size_t)y * w + x) * 3 + ch] = value(x, y, ch);
    return img;
}

static float normalized(uint8_t v, int ch)
{
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    return ((float)v / 255.0f - mean[ch]) / std[ch];
}

static void test_tiles_layout(void **state)
{
    (void)state;
    /* 3 x 2 tiles of 28 px exactly: the resize is a copy, so tile b is the crop at (b % 3, b / 3) */
    struct vs_internvl_tiling t;
    vs_internvl_tiling_defaults(&t);
    t.image_size = 28;
    struct vs_image img = make_image(84, 56);
    float *pv = NULL;
    int64_t tiles = 0;
    int cols, rows;
    assert_int_equal(vs_internvl_tiles(&t, &img, &pv, &tiles, &cols, &rows), VS_OK);
    assert_int_equal(cols, 3);
    assert_int_equal(rows, 2);
    assert_int_equal(tiles, 7); /* and the thumbnail */
    for (int b = 0; b < 6; b++)
        for (int ch = 0; ch < 3; ch++)
            for (int y = 0; y < 28; y += 9)
                for (int x = 0; x < 28; x += 5) {
                    float got = pv[(((size_t)b * 3 + ch) * 28 + y) * 28 + x];
                    assert_true(got == normalized(value((b % 3) * 28 + x, (b / 3) * 28 + y, ch), ch));
                }
    free(pv);
    /* without use_thumbnail, or with one tile, no thumbnail */
    t.thumbnail = false;
    assert_int_equal(vs_internvl_tiles(&t, &img, &pv, &tiles, &cols, &rows), VS_OK);
    assert_int_equal(tiles, 6);
    free(pv);
    t.thumbnail = true;
    t.max_tiles = 1;
    assert_int_equal(vs_internvl_tiles(&t, &img, &pv, &tiles, &cols, &rows), VS_OK);
    assert_int_equal(tiles, 1);
    assert_int_equal(cols * rows, 1);
    free(pv);
    free(img.rgb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_grid_golden), cmocka_unit_test(test_tiles_layout)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
