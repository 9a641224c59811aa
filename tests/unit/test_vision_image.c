/* Image decoding against PIL goldens (tests/golden/vision/make_golden.py): every small test
 * image bit-exact, the COCO calibration photos by hash; EXIF orientation; error messages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fs.h"
#include "vision/image.h"
#include "test_util.h"

#define GOLD "tests/golden/vision/"

static uint64_t fnv64(const uint8_t *p, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001B3ULL;
    return h;
}

static void test_golden_decode(void **state)
{
    (void)state;
    FILE *f = fopen(GOLD "decoded.txt", "r");
    assert_non_null(f);
    char line[512];
    int checked = 0, exact = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        char name[256], raw[256], path[600];
        int w, h;
        unsigned long long hash;
        assert_int_equal(sscanf(line, "%255s %d %d %llx %255s", name, &w, &h, &hash, raw), 5);
        if (strncmp(name, "../", 3) == 0) {
            snprintf(path, sizeof path, "%s", name);
            if (!vs_fs_exists(path)) {
                fprintf(stderr, "note: %s not present, skipped\n", path);
                continue;
            }
        } else {
            snprintf(path, sizeof path, GOLD "%s", name);
        }
        struct vs_image img;
        enum vs_status st = vs_image_load(path, &img);
        if (st != VS_OK)
            fail_msg("%s: %s", path, vs_error_message());
        if (img.width != w || img.height != h)
            fail_msg("%s: size %dx%d, PIL %dx%d", path, img.width, img.height, w, h);
        const size_t n = (size_t)w * h * 3;
        if (strcmp(raw, "-") != 0) {
            char rp[600], *want = NULL;
            size_t len = 0;
            snprintf(rp, sizeof rp, GOLD "%s", raw);
            assert_int_equal(vs_fs_read_file(rp, &want, &len), VS_OK);
            assert_int_equal(len, n);
            for (size_t i = 0; i < n; i++)
                if (img.rgb[i] != (uint8_t)want[i])
                    fail_msg("%s: pixel (%zu, %zu) channel %zu: %u, PIL %u", path, i / 3 % w,
                             i / 3 / w, i % 3, img.rgb[i], (uint8_t)want[i]);
            free(want);
            exact++;
        }
        if (fnv64(img.rgb, n) != hash)
            fail_msg("%s: pixels differ from PIL (hash)", path);
        vs_image_free(&img);
        checked++;
    }
    fclose(f);
    assert_true(exact >= 25);
    assert_true(checked >= exact);
}

static void expect_error(const char *file, enum vs_status code, const char *msg)
{
    char path[512];
    snprintf(path, sizeof path, GOLD "images/%s", file);
    struct vs_image img = {1, 1, (uint8_t *)1};
    assert_int_equal(vs_image_load(path, &img), code);
    assert_null(img.rgb);
    assert_int_equal(img.width, 0);
    if (!vs_test_contains(vs_error_message(), msg))
        fail_msg("message '%s' lacks '%s'", vs_error_message(), msg);
    if (!vs_test_contains(vs_error_message(), path))
        fail_msg("message '%s' does not name the file", vs_error_message());
    assert_null(strchr(vs_error_message(), '\n'));
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("bad_truncated.jpg", VS_ERR_FORMAT, "bad_truncated.jpg: corrupt JPEG: image "
                 "file is truncated");
    expect_error("bad_truncated.png", VS_ERR_FORMAT, "bad_truncated.png: corrupt PNG: unexpected "
                 "end of file (truncated)");
    expect_error("bad_garbage.jpg", VS_ERR_FORMAT, "bad_garbage.jpg: not a JPEG or PNG image "
                 "(unrecognised header)");
    expect_error("bad_unsupported.gif", VS_ERR_FORMAT, "bad_unsupported.gif: unsupported image "
                 "format GIF (JPEG and PNG are supported)");
    expect_error("bad_unsupported.bmp", VS_ERR_FORMAT, "unsupported image format BMP");
    expect_error("bad_bomb_20000x20000.png", VS_ERR_FORMAT, "bad_bomb_20000x20000.png: image "
                 "size 20000x20000 (400000000 pixels) exceeds the limit of 178956970 pixels "
                 "(possible decompression bomb)");
    expect_error("bad_empty.png", VS_ERR_FORMAT, "not a JPEG or PNG image");
    expect_error("no_such_file.png", VS_ERR_IO, "no_such_file.png: cannot open");
}

/* Hostile headers written on the fly: corrupt JPEG body, PNG with a bad CRC, JPEG bomb. */
static void test_crafted_errors(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("vision_img");
    char *good = NULL;
    size_t n = 0;
    assert_int_equal(vs_fs_read_file(GOLD "images/rgb_37x23.png", &good, &n), VS_OK);
    good[30] ^= 0x55; /* inside IHDR: CRC mismatch */
    char *p = vs_test_write(dir, "crc.png", good, n);
    struct vs_image img;
    assert_int_equal(vs_image_load(p, &img), VS_ERR_FORMAT);
    assert_true(vs_test_contains(vs_error_message(), "crc.png: corrupt PNG: IHDR: CRC error"));
    free(p);
    free(good);

    assert_int_equal(vs_fs_read_file(GOLD "images/photo_64x48.jpg", &good, &n), VS_OK);
    /* SOF0 height/width → 30000x30000 (a JPEG bomb); the header stays well-formed. */
    for (size_t i = 2; i + 9 < n; i++) {
        if ((uint8_t)good[i] == 0xFF && (uint8_t)good[i + 1] == 0xC0) {
            good[i + 5] = (char)(30000 >> 8), good[i + 6] = (char)(30000 & 255);
            good[i + 7] = (char)(30000 >> 8), good[i + 8] = (char)(30000 & 255);
            break;
        }
    }
    p = vs_test_write(dir, "bomb.jpg", good, n);
    assert_int_equal(vs_image_load(p, &img), VS_ERR_FORMAT);
    assert_true(vs_test_contains(vs_error_message(), "bomb.jpg: image size 30000x30000 "
                                 "(900000000 pixels) exceeds the limit"));
    free(p);
    /* Header only, cut inside the frame header. */
    p = vs_test_write(dir, "header.jpg", good, 30);
    assert_int_equal(vs_image_load(p, &img), VS_ERR_FORMAT);
    assert_true(vs_test_contains(vs_error_message(), "header.jpg: corrupt JPEG: "));
    free(p);
    free(good);
    vs_fs_remove_tree(dir);
    free(dir);
}

static void test_exif_parser(void **state)
{
    (void)state;
    const uint8_t be[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1,
                          0, 6, 0, 0, 0, 0, 0, 0};
    assert_int_equal(vs_image_exif_orientation(be, sizeof be), 6);
    const uint8_t le[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0,
                          3, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(vs_image_exif_orientation(le, sizeof le), 3);
    const uint8_t lelong[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 4, 0, 1, 0, 0, 0,
                              8, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(vs_image_exif_orientation(lelong, sizeof lelong), 8);
    /* Out of range value, truncated entry, IFD offset past the end, bad magic: ignored. */
    uint8_t bad[sizeof le];
    memcpy(bad, le, sizeof le);
    bad[18] = 9;
    assert_int_equal(vs_image_exif_orientation(bad, sizeof bad), 1);
    assert_int_equal(vs_image_exif_orientation(le, 15), 1);
    memcpy(bad, le, sizeof le);
    bad[4] = 0xF0;
    assert_int_equal(vs_image_exif_orientation(bad, sizeof bad), 1);
    memcpy(bad, le, sizeof le);
    bad[9] = 0xFF; /* 65280 entries claimed: the entries before the end still count (as PIL) */
    assert_int_equal(vs_image_exif_orientation(bad, sizeof bad), 3);
    memcpy(bad, le, sizeof le);
    bad[2] = 43;
    assert_int_equal(vs_image_exif_orientation(bad, sizeof bad), 1);
    memcpy(bad, le, sizeof le);
    bad[14] = 2; /* count 2 */
    assert_int_equal(vs_image_exif_orientation(bad, sizeof bad), 1);
    memcpy(bad, le, sizeof le);
    bad[12] = 1; /* BYTE */
    assert_int_equal(vs_image_exif_orientation(bad, sizeof bad), 1);
    assert_int_equal(vs_image_exif_orientation(le, 4), 1);
    assert_int_equal(vs_image_exif_orientation(NULL, 0), 1);
}

/* The 8 orientations on a 3x2 image whose pixel values are their source index. */
static void test_orient(void **state)
{
    (void)state;
    /* Source (x,y) → value 1 + y*3 + x; expected output rows, as PIL's transposes give them. */
    static const uint8_t want[9][6] = {
        {0}, {1, 2, 3, 4, 5, 6}, {3, 2, 1, 6, 5, 4}, {6, 5, 4, 3, 2, 1}, {4, 5, 6, 1, 2, 3},
        {1, 4, 2, 5, 3, 6}, {4, 1, 5, 2, 6, 3}, {6, 3, 5, 2, 4, 1}, {3, 6, 2, 5, 1, 4}};
    for (int o = 1; o <= 8; o++) {
        struct vs_image img = {3, 2, malloc(18)};
        for (int i = 0; i < 18; i++)
            img.rgb[i] = (uint8_t)(1 + i / 3);
        assert_int_equal(vs_image_orient(&img, o), VS_OK);
        assert_int_equal(img.width, o >= 5 ? 2 : 3);
        assert_int_equal(img.height, o >= 5 ? 3 : 2);
        for (int i = 0; i < 6; i++)
            if (img.rgb[3 * i] != want[o][i])
                fail_msg("orientation %d pixel %d: %u, want %u", o, i, img.rgb[3 * i],
                         want[o][i]);
        vs_image_free(&img);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_decode), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_crafted_errors), cmocka_unit_test(test_exif_parser),
        cmocka_unit_test(test_orient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
