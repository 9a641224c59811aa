/* vlmslim-mkcalib: writes a small synthetic calibration set (PNG and JPEG images of several
 * sizes with gradients and shapes, and a prompts.jsonl naming all but the last image), so the
 * quick start and tests can calibrate without downloading anything. Values depend only on
 * --seed. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <jpeglib.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "base/status.h"

#define MK_MAX_IMAGES 64

static const int sizes[][2] = {{320, 240}, {224, 336}, {160, 160}, {400, 200}, {96, 288}};
static const char *const prompts[] = {
    "What shapes and colours do you see?",
    "Describe this image in detail.",
    "Is there a circle in this picture? Answer briefly.",
    "Write one sentence about the background.",
    "Which colour covers most of the image?",
};

static uint64_t next(uint64_t *s) /* xorshift64* */
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* A diagonal two-colour gradient with a filled circle and a rectangle of random colours. */
static void paint(uint8_t *rgb, int w, int h, uint64_t *rng)
{
    uint8_t c[4][3];
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < 3; j++)
            c[k][j] = (uint8_t)(next(rng) >> 56);
    int cx = (int)(next(rng) % (uint64_t)w), cy = (int)(next(rng) % (uint64_t)h);
    int r = 8 + (int)(next(rng) % (uint64_t)(w < h ? w / 3 : h / 3));
    int rx = (int)(next(rng) % (uint64_t)(w / 2)), ry = (int)(next(rng) % (uint64_t)(h / 2));
    int rw = w / 4 + 1, rh = h / 5 + 1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = rgb + ((size_t)y * w + x) * 3;
            int t = (x + y) * 255 / (w + h - 2);
            const uint8_t *fill = NULL;
            if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r)
                fill = c[2];
            else if (x >= rx && x < rx + rw && y >= ry && y < ry + rh)
                fill = c[3];
            for (int j = 0; j < 3; j++)
                p[j] = fill ? fill[j] : (uint8_t)((c[0][j] * (255 - t) + c[1][j] * t) / 255);
        }
}

static enum vs_status write_png(const char *path, const uint8_t *rgb, int w, int h)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w;
    img.height = (png_uint_32)h;
    img.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&img, path, 0, rgb, 0, NULL))
        return vs_error_set(VS_ERR_IO, "%s: cannot write PNG: %s", path, img.message);
    return VS_OK;
}

static enum vs_status write_jpeg(const char *path, const uint8_t *rgb, int w, int h)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return vs_error_set(VS_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * w * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    if (fclose(f) != 0)
        return vs_error_set(VS_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    return VS_OK;
}

static enum vs_status write_set(const char *dir, int n, uint64_t seed)
{
    enum vs_status st = vs_fs_mkdirs(dir, 0755);
    if (st != VS_OK)
        return st;
    if (!vs_fs_dir_is_empty(dir))
        return vs_error_set(VS_ERR_USAGE, "--out %s: directory is not empty", dir);
    uint64_t rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    json_t *lines = json_array();
    for (int i = 0; i < n && st == VS_OK; i++) {
        int w = sizes[i % 5][0], h = sizes[i % 5][1];
        uint8_t *rgb = vs_malloc((size_t)w * h * 3);
        char *name = vs_strfmt("image_%02d.%s", i, i % 2 ? "jpg" : "png");
        char *path = name ? vs_path_join(dir, name) : NULL;
        if (!rgb || !path)
            st = VS_ERR_NOMEM;
        if (st == VS_OK) {
            paint(rgb, w, h, &rng);
            st = i % 2 ? write_jpeg(path, rgb, w, h) : write_png(path, rgb, w, h);
        }
        if (st == VS_OK && i + 1 < n) /* the last image takes the default text */
            json_array_append_new(lines, json_pack("{s:s, s:s}", "image", name, "text", prompts[i % 5]));
        free(rgb);
        free(name);
        free(path);
    }
    size_t k;
    json_t *line;
    char *text = vs_strdup("");
    json_array_foreach(lines, k, line) {
        char *one = json_dumps(line, JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
        char *grown = one && text ? vs_strfmt("%s%s\n", text, one) : NULL;
        free(one);
        free(text);
        text = grown;
    }
    json_decref(lines);
    char *jsonl = vs_path_join(dir, "prompts.jsonl");
    if (st == VS_OK)
        st = text && jsonl ? vs_fs_write_file(jsonl, text, strlen(text), 0644) : VS_ERR_NOMEM;
    free(text);
    free(jsonl);
    return st;
}

static void usage(FILE *f)
{
    fputs("usage: vlmslim-mkcalib --out DIR [--images N] [--seed N]\n"
          "\n"
          "Writes a synthetic calibration set: N images (default 4; PNG and JPEG of several sizes)\n"
          "and prompts.jsonl giving a prompt for each but the last, which takes the default text.\n",
          f);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'}, {"images", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    long n = 4;
    unsigned long long seed = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'o': out = optarg; break;
        case 'n':
            n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > MK_MAX_IMAGES) {
                fprintf(stderr, "vlmslim-mkcalib: error: --images %s: expected 1..%d\n", optarg, MK_MAX_IMAGES);
                return 2;
            }
            break;
        case 's':
            seed = strtoull(optarg, &end, 10);
            if (*end) {
                fprintf(stderr, "vlmslim-mkcalib: error: --seed %s: expected a non-negative integer\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!out || optind < argc) {
        usage(stderr);
        return 2;
    }
    enum vs_status st = write_set(out, (int)n, seed);
    if (st != VS_OK) {
        fprintf(stderr, "vlmslim-mkcalib: error: %s\n", vs_error_message());
        return vs_status_exit_code(st);
    }
    return 0;
}
