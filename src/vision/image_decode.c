/* vs_image_load: reads the whole file, detects the format by its magic bytes and decodes
 * JPEG (libjpeg-turbo) or PNG (libpng) to RGB the way PIL's convert("RGB") does. Both
 * libraries report errors by longjmp; the handlers below keep the library's message and
 * return an error naming the file instead of exiting. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include "base/fs.h"
#include "vision/image.h"

static enum vs_status check_size(const char *path, uint64_t w, uint64_t h)
{
    if (w == 0 || h == 0)
        return vs_error_set(VS_ERR_FORMAT, "%s: image has zero size (%llux%llu)", path,
                            (unsigned long long)w, (unsigned long long)h);
    if (w * h > (uint64_t)VS_IMAGE_MAX_PIXELS)
        return vs_error_set(VS_ERR_FORMAT,
                            "%s: image size %llux%llu (%llu pixels) exceeds the limit of %lld "
                            "pixels (possible decompression bomb)",
                            path, (unsigned long long)w, (unsigned long long)h,
                            (unsigned long long)(w * h), VS_IMAGE_MAX_PIXELS);
    return VS_OK;
}

/* ---- JPEG ---- */

struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jmp;
    char msg[JMSG_LENGTH_MAX];
};

static void jpeg_on_error(j_common_ptr cinfo)
{
    struct jpeg_err *e = (struct jpeg_err *)cinfo->err;
    e->pub.format_message(cinfo, e->msg);
    longjmp(e->jmp, 1);
}

/* Warnings are ignored as PIL ignores them, except a premature end of data: PIL refuses a
 * truncated file ("image file is truncated") where libjpeg would pad it with gray. */
static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    struct jpeg_err *e = (struct jpeg_err *)cinfo->err;
    if (level < 0 && e->pub.msg_code == JWRN_JPEG_EOF) {
        snprintf(e->msg, sizeof e->msg, "image file is truncated");
        longjmp(e->jmp, 1);
    }
}

/* First APP1 segment starting with "Exif\0\0": its TIFF payload, or NULL. */
static const uint8_t *jpeg_find_exif(const uint8_t *d, size_t n, size_t *len)
{
    size_t i = 2;
    while (i + 4 <= n && d[i] == 0xFF) {
        unsigned m = d[i + 1];
        if (m == 0xFF) { /* fill byte */
            i++;
            continue;
        }
        if (m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) {
            i += 2;
            continue;
        }
        if (m == 0xDA || m == 0xD9) /* start of scan / end: no more metadata */
            break;
        size_t seg = (size_t)d[i + 2] << 8 | d[i + 3];
        if (seg < 2 || i + 2 + seg > n)
            break;
        if (m == 0xE1 && seg >= 8 && memcmp(d + i + 4, "Exif\0\0", 6) == 0) {
            *len = seg - 8;
            return d + i + 10;
        }
        i += 2 + seg;
    }
    return NULL;
}

static enum vs_status jpeg_decode(const char *path, const uint8_t *data, size_t n,
                                  struct vs_image *out)
{
    struct jpeg_decompress_struct cinfo;
    struct jpeg_err err;
    uint8_t *volatile rgb = NULL;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = jpeg_on_error;
    err.pub.emit_message = jpeg_on_message;
    err.msg[0] = 0;
    if (setjmp(err.jmp)) {
        jpeg_destroy_decompress(&cinfo);
        free(rgb);
        return vs_error_set(VS_ERR_FORMAT, "%s: corrupt JPEG: %s", path, err.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)n);
    jpeg_read_header(&cinfo, TRUE);
    enum vs_status st = check_size(path, cinfo.image_width, cinfo.image_height);
    if (st != VS_OK) {
        jpeg_destroy_decompress(&cinfo);
        return st;
    }
    const int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    /* Gray is replicated, as PIL's L -> RGB; CMYK is read raw and converted below. */
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    cinfo.dct_method = JDCT_ISLOW; /* PIL's default (no draft mode) */
    jpeg_start_decompress(&cinfo);
    const int nc = cmyk ? 4 : 3;
    if (cinfo.output_components != nc) {
        jpeg_destroy_decompress(&cinfo);
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: JPEG with %d output components", path,
                            cinfo.output_components);
    }
    const size_t stride = (size_t)cinfo.output_width * nc;
    rgb = vs_malloc(stride * cinfo.output_height);
    if (!rgb) {
        jpeg_destroy_decompress(&cinfo);
        return VS_ERR_NOMEM;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = rgb + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    if (cmyk) {
        /* PIL always assumes Adobe polarity (rawmode "CMYK;I": stored values inverted), then
         * cmyk2rgb: channel = nk - c*nk/255 with nk = 255 - k (MULDIV255 rounding). In place:
         * pixel i is written at 3i, never ahead of the 4i it reads. */
        const size_t np = (size_t)cinfo.output_width * cinfo.output_height;
        for (size_t i = 0; i < np; i++) {
            const uint8_t *q = rgb + 4 * i;
            const int nk = q[3]; /* 255 - (255 - raw k) */
            int ch[3];
            for (int j = 0; j < 3; j++) {
                int t = (255 - q[j]) * nk + 128;
                ch[j] = nk - (((t >> 8) + t) >> 8);
                ch[j] = ch[j] < 0 ? 0 : ch[j] > 255 ? 255 : ch[j];
            }
            rgb[3 * i] = (uint8_t)ch[0], rgb[3 * i + 1] = (uint8_t)ch[1];
            rgb[3 * i + 2] = (uint8_t)ch[2];
        }
    }
    jpeg_finish_decompress(&cinfo);
    out->width = (int)cinfo.output_width;
    out->height = (int)cinfo.output_height;
    out->rgb = rgb;
    jpeg_destroy_decompress(&cinfo);
    return VS_OK;
}

/* ---- PNG ---- */

struct png_src {
    const uint8_t *data;
    size_t len, pos;
    char msg[256];
};

static void png_on_read(png_structp png, png_bytep buf, size_t n)
{
    struct png_src *s = png_get_io_ptr(png);
    if (n > s->len - s->pos)
        png_error(png, "unexpected end of file (truncated)");
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
}

static void png_on_error(png_structp png, png_const_charp msg)
{
    struct png_src *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static enum vs_status png_decode(const char *path, const uint8_t *data, size_t n,
                                 struct vs_image *out, int *orientation)
{
    /* Check the IHDR size before libpng allocates anything for the image. */
    if (n >= 24 && memcmp(data + 12, "IHDR", 4) == 0) {
        uint64_t w = (uint64_t)data[16] << 24 | data[17] << 16 | data[18] << 8 | data[19];
        uint64_t h = (uint64_t)data[20] << 24 | data[21] << 16 | data[22] << 8 | data[23];
        enum vs_status st = check_size(path, w, h);
        if (st != VS_OK)
            return st;
    }
    struct png_src src = {.data = data, .len = n, .pos = 0, .msg = ""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_on_error,
                                             png_on_warning);
    if (!png)
        return vs_error_set(VS_ERR_NOMEM, "%s: out of memory", path);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return vs_error_set(VS_ERR_NOMEM, "%s: out of memory", path);
    }
    uint8_t *volatile pix = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pix);
        free(rows);
        return vs_error_set(VS_ERR_FORMAT, "%s: corrupt PNG: %s", path, src.msg);
    }
    png_set_read_fn(png, &src, png_on_read);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int depth = png_get_bit_depth(png, info), ctype = png_get_color_type(png, info);
    enum vs_status st = check_size(path, w, h);
    if (st != VS_OK) {
        png_destroy_read_struct(&png, &info, NULL);
        return st;
    }
    /* PIL opens 16-bit gray as mode "I", and I -> RGB clips to 255 instead of taking the
     * high byte (which it does for every other 16-bit mode). */
    const int gray16 = ctype == PNG_COLOR_TYPE_GRAY && depth == 16;
    if (ctype == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16 && !gray16)
        png_set_strip_16(png); /* keeps the high byte */
    png_set_strip_alpha(png);  /* also drops the alpha that palette+tRNS expands to */
    if (!gray16 && (ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_GRAY_ALPHA))
        png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    const int channels = png_get_channels(png, info);
    const size_t rowbytes = png_get_rowbytes(png, info);
    const size_t want = gray16 ? (size_t)w * 2 : (size_t)w * 3;
    if ((gray16 ? channels != 1 : channels != 3) || rowbytes != want) {
        png_destroy_read_struct(&png, &info, NULL);
        return vs_error_set(VS_ERR_INTERNAL, "%s: unexpected PNG layout after conversion "
                            "(%d channels, %zu bytes per row)", path, channels, rowbytes);
    }
    pix = vs_malloc(rowbytes * h);
    rows = vs_malloc(sizeof(png_bytep) * h);
    if (!pix || !rows) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pix);
        free(rows);
        return VS_ERR_NOMEM;
    }
    for (png_uint_32 y = 0; y < h; y++)
        rows[y] = pix + rowbytes * y;
    png_read_image(png, rows);
    png_read_end(png, info);
#ifdef PNG_eXIf_SUPPORTED
    png_bytep exif = NULL;
    png_uint_32 exif_len = 0;
    if (png_get_eXIf_1(png, info, &exif_len, &exif) && exif)
        *orientation = vs_image_exif_orientation(exif, exif_len);
#else
    (void)orientation;
#endif
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    if (gray16) {
        uint8_t *rgb = vs_malloc((size_t)w * h * 3);
        if (!rgb) {
            free(pix);
            return VS_ERR_NOMEM;
        }
        for (size_t i = 0; i < (size_t)w * h; i++) {
            unsigned v = (unsigned)pix[2 * i] << 8 | pix[2 * i + 1];
            rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = (uint8_t)(v > 255 ? 255 : v);
        }
        free(pix);
        pix = rgb;
    }
    out->width = (int)w;
    out->height = (int)h;
    out->rgb = pix;
    return VS_OK;
}

/* ---- entry point ---- */

static const char *sniff_other(const uint8_t *d, size_t n)
{
    if (n >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0))
        return "GIF";
    if (n >= 2 && d[0] == 'B' && d[1] == 'M')
        return "BMP";
    if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0)
        return "WebP";
    if (n >= 4 && (memcmp(d, "II*\0", 4) == 0 || memcmp(d, "MM\0*", 4) == 0))
        return "TIFF";
    return NULL;
}

static enum vs_status load(const char *path, bool apply_orientation, struct vs_image *out)
{
    memset(out, 0, sizeof *out);
    char *buf = NULL;
    size_t n = 0;
    enum vs_status st = vs_fs_read_file(path, &buf, &n);
    if (st != VS_OK)
        return st;
    const uint8_t *d = (const uint8_t *)buf;
    int orientation = 1;
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) {
        size_t elen = 0;
        const uint8_t *exif = jpeg_find_exif(d, n, &elen);
        if (exif)
            orientation = vs_image_exif_orientation(exif, elen);
        st = jpeg_decode(path, d, n, out);
    } else if (n >= 8 && memcmp(d, png_magic, 8) == 0) {
        st = png_decode(path, d, n, out, &orientation);
    } else {
        const char *other = sniff_other(d, n);
        if (other)
            st = vs_error_set(VS_ERR_FORMAT, "%s: unsupported image format %s (JPEG and PNG "
                              "are supported)", path, other);
        else
            st = vs_error_set(VS_ERR_FORMAT, "%s: not a JPEG or PNG image (unrecognised "
                              "header)", path);
    }
    free(buf);
    if (st == VS_OK && apply_orientation && orientation != 1)
        st = vs_image_orient(out, orientation);
    if (st != VS_OK)
        vs_image_free(out);
    return st;
}

enum vs_status vs_image_load(const char *path, struct vs_image *out) { return load(path, true, out); }

enum vs_status vs_image_load_as_stored(const char *path, struct vs_image *out) { return load(path, false, out); }

void vs_image_free(struct vs_image *img)
{
    if (!img)
        return;
    free(img->rgb);
    memset(img, 0, sizeof *img);
}
