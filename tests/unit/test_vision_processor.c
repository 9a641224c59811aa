/* Qwen-VL image processor against numpy/PIL goldens (tests/golden/vision/make_golden.py):
 * preprocessor_config.json parsing and its errors, smart_resize, PIL-exact bicubic resize and
 * pixel_values of the slow Qwen2VLImageProcessor. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "test_util.h"
#include "vision/qwen_vl_processor.h"

#define GOLD "tests/golden/vision/"

static uint64_t fnv64(const void *data, size_t n)
{
    const uint8_t *p = data;
    uint64_t h = 0xCBF29CE484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001B3ULL;
    return h;
}

static void load_cfg(const char *name, struct vs_qwen_vl_processor_config *c)
{
    char path[256];
    snprintf(path, sizeof path, GOLD "preprocessor_%s.json", name);
    if (vs_qwen_vl_processor_load(path, c) != VS_OK)
        fail_msg("%s", vs_error_message());
}

/* Source path of a golden line: test images live under GOLD, the COCO photos in shared data. */
static int source_path(const char *name, char *path, size_t n)
{
    if (strncmp(name, "../", 3) == 0) {
        snprintf(path, n, "%s", name);
        if (!vs_fs_exists(path)) {
            fprintf(stderr, "note: %s not present, skipped\n", path);
            return 0;
        }
    } else {
        snprintf(path, n, GOLD "%s", name);
    }
    return 1;
}

static void test_config_load(void **state)
{
    (void)state;
    struct vs_qwen_vl_processor_config c;
    load_cfg("qwen3", &c);
    assert_true(c.fast);
    assert_int_equal(c.patch_size, 16);
    assert_int_equal(c.temporal_patch_size, 2);
    assert_int_equal(c.merge_size, 2);
    assert_int_equal(c.min_pixels, 65536);
    assert_int_equal(c.max_pixels, 16777216);
    assert_true(c.image_mean[2] == 0.5f && c.image_std[0] == 0.5f);
    assert_true(c.rescale_factor == 0.00392156862745098);
    assert_true(c.do_resize && c.do_rescale && c.do_normalize);
    load_cfg("qwen2", &c);
    assert_false(c.fast);
    assert_int_equal(c.patch_size, 14);
    assert_int_equal(c.min_pixels, 3136);
    assert_int_equal(c.max_pixels, 12845056);
    assert_true(c.image_mean[0] == 0.48145466f && c.image_std[2] == 0.27577711f);
    assert_true(c.rescale_factor == 1.0 / 255.0);
}

static char *g_dir;

static void expect_cfg_error(const char *json, enum vs_status code, const char *msg)
{
    char *p = vs_test_write(g_dir, "preprocessor_config.json", json, strlen(json));
    struct vs_qwen_vl_processor_config c;
    assert_int_equal(vs_qwen_vl_processor_load(p, &c), code);
    assert_int_equal(c.patch_size, 0);
    char want[512];
    snprintf(want, sizeof want, "%s%s", p, msg);
    if (!vs_test_contains(vs_error_message(), want))
        fail_msg("message '%s' lacks '%s'", vs_error_message(), want);
    free(p);
}

#define HEAD "{\"image_processor_type\": \"Qwen2VLImageProcessorFast\", "
#define MEANSTD "\"image_mean\": [0.5, 0.5, 0.5], \"image_std\": [0.5, 0.5, 0.5], "
#define SIZES "\"patch_size\": 16, \"temporal_patch_size\": 2, \"merge_size\": 2, "
#define PIX "\"size\": {\"shortest_edge\": 65536, \"longest_edge\": 16777216}}"

static void test_config_errors(void **state)
{
    (void)state;
    g_dir = vs_test_tmpdir("vision_proc");
    expect_cfg_error("{", VS_ERR_FORMAT, ":1:1: invalid JSON: ");
    expect_cfg_error("[1]", VS_ERR_CONFIG, ": expected a JSON object");
    expect_cfg_error("{\"patch_size\": 16}", VS_ERR_CONFIG, ": missing key 'image_processor_type'");
    expect_cfg_error("{\"image_processor_type\": \"SiglipImageProcessor\"}", VS_ERR_UNSUPPORTED,
                     ": image_processor_type 'SiglipImageProcessor' is not supported (expected "
                     "Qwen2VLImageProcessor or Qwen2VLImageProcessorFast)");
    expect_cfg_error(HEAD MEANSTD "\"temporal_patch_size\": 2, \"merge_size\": 2, " PIX,
                     VS_ERR_CONFIG, ": missing key 'patch_size'");
    expect_cfg_error(HEAD MEANSTD "\"patch_size\": \"16\", \"temporal_patch_size\": 2, "
                     "\"merge_size\": 2, " PIX, VS_ERR_CONFIG,
                     ": key 'patch_size' must be a positive integer");
    expect_cfg_error(HEAD MEANSTD "\"patch_size\": 16, \"temporal_patch_size\": 0, "
                     "\"merge_size\": 2, " PIX, VS_ERR_CONFIG,
                     ": key 'temporal_patch_size' must be a positive integer");
    expect_cfg_error(HEAD MEANSTD "\"patch_size\": 16, \"temporal_patch_size\": 2, " PIX,
                     VS_ERR_CONFIG, ": missing key 'merge_size'");
    expect_cfg_error(HEAD "\"image_mean\": [0.5, 0.5], \"image_std\": [0.5, 0.5, 0.5], " SIZES PIX,
                     VS_ERR_CONFIG, ": key 'image_mean' must be a list of 3 numbers");
    expect_cfg_error(HEAD "\"image_mean\": [0.5, 0.5, 0.5], " SIZES PIX, VS_ERR_CONFIG,
                     ": missing key 'image_std'");
    expect_cfg_error(HEAD "\"image_mean\": [0.5, 0.5, 0.5], \"image_std\": [0.5, 0, 0.5], "
                     SIZES PIX, VS_ERR_CONFIG, ": key 'image_std' must be positive");
    expect_cfg_error(HEAD MEANSTD SIZES "\"size\": {\"shortest_edge\": 65536}}", VS_ERR_CONFIG,
                     ": key 'size' must contain 'shortest_edge' and 'longest_edge'");
    expect_cfg_error(HEAD MEANSTD SIZES "\"size\": {\"shortest_edge\": 65536, "
                     "\"longest_edge\": -1}}", VS_ERR_CONFIG,
                     ": key 'longest_edge' must be a positive integer");
    expect_cfg_error(HEAD MEANSTD SIZES "\"do_resize\": true}", VS_ERR_CONFIG,
                     ": missing pixel bounds ('size' with 'shortest_edge'/'longest_edge', or "
                     "'min_pixels'/'max_pixels')");
    expect_cfg_error(HEAD MEANSTD SIZES "\"min_pixels\": 5000, \"max_pixels\": 4000}",
                     VS_ERR_CONFIG, ": min pixels 5000 > max pixels 4000");
    expect_cfg_error(HEAD MEANSTD SIZES "\"rescale_factor\": \"x\", " PIX, VS_ERR_CONFIG,
                     ": key 'rescale_factor' must be a positive number");
    expect_cfg_error(HEAD MEANSTD SIZES "\"do_normalize\": 1, " PIX, VS_ERR_CONFIG,
                     ": key 'do_normalize' must be true or false");
    expect_cfg_error(HEAD MEANSTD SIZES "\"resample\": 2, " PIX, VS_ERR_UNSUPPORTED,
                     ": key 'resample': only 3 (bicubic) is supported");
    /* Legacy min_pixels/max_pixels override size, as in transformers. */
    const char *legacy = HEAD MEANSTD SIZES "\"resample\": 3, \"min_pixels\": 1024, \"max_pixels\": 2048, " PIX;
    char *p = vs_test_write(g_dir, "legacy.json", legacy, strlen(legacy));
    struct vs_qwen_vl_processor_config c;
    assert_int_equal(vs_qwen_vl_processor_load(p, &c), VS_OK);
    assert_int_equal(c.min_pixels, 1024);
    assert_int_equal(c.max_pixels, 2048);
    free(p);
    assert_int_equal(vs_qwen_vl_processor_load("tests/golden/vision/nope.json", &c), VS_ERR_IO);
    assert_true(vs_test_contains(vs_error_message(), "tests/golden/vision/nope.json: cannot "
                                 "read: "));
    vs_fs_remove_tree(g_dir);
    free(g_dir);
}

static void test_smart_resize(void **state)
{
    (void)state;
    FILE *f = fopen(GOLD "smart_resize.txt", "r");
    assert_non_null(f);
    char line[256], name[32], res[32];
    int n = 0, errors = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        int h, w, wh = 0, ww = 0;
        assert_true(sscanf(line, "%31s %d %d %31s %d", name, &h, &w, res, &ww) >= 4);
        struct vs_qwen_vl_processor_config c;
        load_cfg(name, &c);
        int oh = -1, ow = -1;
        enum vs_status st = vs_qwen_vl_smart_resize(h, w, &c, &oh, &ow);
        if (strcmp(res, "error") == 0) {
            assert_int_equal(st, VS_ERR_DATASET);
            char want[128];
            snprintf(want, sizeof want, "image %dx%d: absolute aspect ratio must be smaller "
                     "than 200, got ", w, h);
            assert_true(vs_test_contains(vs_error_message(), want));
            errors++;
        } else {
            wh = atoi(res);
            if (st != VS_OK || oh != wh || ow != ww)
                fail_msg("%s %dx%d: got %dx%d (%s), want %dx%d", name, h, w, oh, ow,
                         vs_error_message(), wh, ww);
        }
        n++;
    }
    fclose(f);
    assert_true(n >= 80);
    assert_true(errors >= 6);
}

static void test_resize_golden(void **state)
{
    (void)state;
    FILE *f = fopen(GOLD "resize.txt", "r");
    assert_non_null(f);
    char line[512], name[256], path[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        int w, h;
        unsigned long long hash;
        assert_int_equal(sscanf(line, "%255s %d %d %llx", name, &w, &h, &hash), 4);
        if (!source_path(name, path, sizeof path))
            continue;
        struct vs_image img, out;
        assert_int_equal(vs_image_load(path, &img), VS_OK);
        assert_int_equal(vs_image_resize_bicubic(&img, w, h, &out), VS_OK);
        assert_int_equal(out.width, w);
        assert_int_equal(out.height, h);
        if (fnv64(out.rgb, (size_t)w * h * 3) != hash)
            fail_msg("%s -> %dx%d differs from PIL resize(BICUBIC)", path, w, h);
        vs_image_free(&img);
        vs_image_free(&out);
        n++;
    }
    fclose(f);
    assert_true(n >= 11);
}

static void test_pixel_values_golden(void **state)
{
    (void)state;
    FILE *f = fopen(GOLD "pixel_values.txt", "r");
    assert_non_null(f);
    char line[1024], cname[32], name[256], path[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        long long g[3], rows, cols;
        unsigned long long hash;
        double sum, asum, v0, vm, vl;
        assert_int_equal(sscanf(line, "%31s %255s %lld %lld %lld %lld %lld %llx %lf %lf %lf %lf "
                                "%lf", cname, name, &g[0], &g[1], &g[2], &rows, &cols, &hash,
                                &sum, &asum, &v0, &vm, &vl), 13);
        if (!source_path(name, path, sizeof path))
            continue;
        struct vs_qwen_vl_processor_config c;
        load_cfg(cname, &c);
        struct vs_image img;
        assert_int_equal(vs_image_load(path, &img), VS_OK);
        float *pv = NULL;
        int64_t r = 0, k = 0, thw[3];
        if (vs_qwen_vl_preprocess(&c, &img, &pv, &r, &k, thw) != VS_OK)
            fail_msg("%s", vs_error_message());
        assert_int_equal(thw[0], g[0]);
        assert_int_equal(thw[1], g[1]);
        assert_int_equal(thw[2], g[2]);
        assert_int_equal(r, rows);
        assert_int_equal(k, cols);
        const size_t cnt = (size_t)(r * k);
        double s = 0, as = 0;
        for (size_t i = 0; i < cnt; i++)
            s += pv[i], as += fabs(pv[i]);
        if (fnv64(pv, cnt * sizeof(float)) != hash)
            fail_msg("%s %s: pixel_values differ from numpy (sum %.17g vs %.17g, abs %.17g vs "
                     "%.17g, v0 %.9g vs %.9g, mid %.9g vs %.9g, last %.9g vs %.9g)", cname, path,
                     s, sum, as, asum, pv[0], v0, pv[cnt / 2], vm, pv[cnt - 1], vl);
        assert_true(fabs(s - sum) <= 1e-6 * asum);
        assert_true((float)v0 == pv[0] && (float)vl == pv[cnt - 1]);
        free(pv);
        vs_image_free(&img);
        n++;
    }
    fclose(f);
    assert_true(n >= 5);
}

/* Image tokens = rows / merge^2; Qwen3-VL on a 500x375 photo: 1x24x32 grid → 192 tokens. */
static void test_preprocess_small_image_and_errors(void **state)
{
    (void)state;
    struct vs_qwen_vl_processor_config c;
    load_cfg("qwen3", &c);
    struct vs_image one = {1, 1, (uint8_t[]){10, 20, 30}};
    float *pv = NULL;
    int64_t r, k, thw[3];
    /* 1x1 → min_pixels 65536 → 256x256 → 16x16 patches. */
    assert_int_equal(vs_qwen_vl_preprocess(&c, &one, &pv, &r, &k, thw), VS_OK);
    assert_int_equal(thw[1], 16);
    assert_int_equal(thw[2], 16);
    assert_int_equal(r / (c.merge_size * c.merge_size), 64);
    assert_int_equal(k, 1536);
    /* Constant image: every value is (v/255 - 0.5)/0.5 of its channel. */
    for (int64_t i = 0; i < r * k; i++) {
        int ch = (int)(i % k) / 512;
        float want = ((float)((double)one.rgb[ch] * c.rescale_factor) - 0.5f) / 0.5f;
        if (pv[i] != want)
            fail_msg("value %lld: %.9g, want %.9g", (long long)i, pv[i], want);
    }
    free(pv);
    struct vs_image thin = {201, 1, calloc(201 * 3, 1)};
    assert_int_equal(vs_qwen_vl_preprocess(&c, &thin, &pv, &r, &k, thw), VS_ERR_DATASET);
    assert_null(pv);
    assert_true(vs_test_contains(vs_error_message(), "image 201x1: absolute aspect ratio must "
                                 "be smaller than 200, got 201"));
    free(thin.rgb);
    int oh, ow;
    assert_int_equal(vs_qwen_vl_smart_resize(0, 5, &c, &oh, &ow), VS_ERR_DATASET);
    assert_true(vs_test_contains(vs_error_message(), "smart_resize: bad image size 5x0"));
    struct vs_qwen_vl_processor_config huge = c;
    huge.min_pixels = huge.max_pixels = 1LL << 42;
    assert_int_equal(vs_qwen_vl_smart_resize(10, 10, &huge, &oh, &ow), VS_ERR_DATASET);
    assert_true(vs_test_contains(vs_error_message(), "image 10x10: resized size 2097152x2097152 "
                                 "too large"));
    /* do_resize false: the image must already be a multiple of patch_size*merge_size. */
    struct vs_qwen_vl_processor_config nores = c;
    nores.do_resize = false;
    struct vs_image odd = {37, 23, calloc(37 * 23 * 3, 1)};
    assert_int_equal(vs_qwen_vl_preprocess(&nores, &odd, &pv, &r, &k, thw), VS_ERR_DATASET);
    assert_null(pv);
    assert_true(vs_test_contains(vs_error_message(), "image 37x23: size is not a multiple of "
                                 "patch_size*merge_size = 32"));
    free(odd.rgb);
    struct vs_image sq = {64, 32, calloc(64 * 32 * 3, 1)};
    assert_int_equal(vs_qwen_vl_preprocess(&nores, &sq, &pv, &r, &k, thw), VS_OK);
    assert_int_equal(thw[1] * 100 + thw[2], 204);
    assert_true(pv[0] == -1.0f);
    free(pv);
    struct vs_image out;
    assert_int_equal(vs_image_resize_bicubic(&sq, 0, 5, &out), VS_ERR_INTERNAL);
    assert_true(vs_test_contains(vs_error_message(), "resize: bad sizes 64x32 -> 0x5"));
    assert_null(out.rgb);
    free(sq.rgb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_load),         cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_smart_resize),        cmocka_unit_test(test_resize_golden),
        cmocka_unit_test(test_pixel_values_golden),
        cmocka_unit_test(test_preprocess_small_image_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
