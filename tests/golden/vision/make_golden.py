#!/usr/bin/python3
"""Generates the vision test images and golden values with PIL + numpy (independent of the C
code): decoded RGB as Hugging Face's load_image gives it (PIL open, ImageOps.exif_transpose,
convert("RGB")), smart_resize for a table of sizes, PIL resize(BICUBIC) outputs and the slow
Qwen2VLImageProcessor's pixel_values (rescale, normalize, patch flattening re-done in numpy as
transformers does). Run from anywhere: /usr/bin/python3 tests/golden/vision/make_golden.py
Large outputs are stored as FNV-1a 64 hashes of their bytes; small decoded images in full."""
import io
import json
import math
import os
import struct
import zlib

import numpy as np
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
IMG = os.path.join(HERE, "images")
COCO = ["COCO_train2014_000000577589.jpg", "COCO_train2014_000000577592.jpg"]
COCO_DIR = os.path.join(ROOT, "..", "shared", "data", "calibImages")  # ../shared/data/calibImages
rng = np.random.default_rng(1234)


def fnv64(b):
    h = 0xCBF29CE484222325
    for x in bytes(b):
        h ^= x
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def fnv64_np(a):
    # Vectorised FNV-1a over a byte buffer is inherently sequential; do it in chunks of python.
    return fnv64(np.ascontiguousarray(a).tobytes())


def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)


def png_bytes(arr, color_type, depth, interlace=False):
    """Minimal PNG writer (PIL cannot write 16-bit RGB or interlaced PNGs)."""
    h, w = arr.shape[:2]
    data = arr.astype(">u2") if depth == 16 else arr.astype(np.uint8)
    data = data.reshape(h, w, -1)
    raw = b""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
              (0, 1, 1, 2)] if interlace else [(0, 0, 1, 1)]
    for xs, ys, xst, yst in passes:
        sub = data[ys::yst, xs::xst]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        for row in sub:
            raw += b"\0" + row.tobytes()
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def smooth(h, w, c=3):
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)),
                     ((x + y) * 7) % 256, (x * 31 + y * 17) % 256][:c], -1)
    noise = rng.integers(0, 40, size=(h, w, c))
    return np.clip(base + noise - 20, 0, 255).astype(np.uint8)


def write(name, data):
    with open(os.path.join(IMG, name), "wb") as f:
        f.write(data)


def pil_save(im, name, **kw):
    buf = io.BytesIO()
    im.save(buf, **kw)
    write(name, buf.getvalue())


def exif_tiff(orientation, big_endian):
    e = ">" if big_endian else "<"
    head = (b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, 8)
    # two entries: a dummy ImageDescription-like SHORT, then Orientation (SHORT, count 1)
    ifd = struct.pack(e + "H", 2)
    ifd += struct.pack(e + "HHI", 0x0100, 3, 1) + struct.pack(e + "HH", 13, 0)
    ifd += struct.pack(e + "HHI", 0x0112, 3, 1) + struct.pack(e + "HH", orientation, 0)
    ifd += struct.pack(e + "I", 0)
    return head + ifd


def make_images():
    os.makedirs(IMG, exist_ok=True)
    pil_save(Image.fromarray(smooth(23, 37)), "rgb_37x23.png", format="PNG")
    pil_save(Image.fromarray(smooth(1, 1)), "rgb_1x1.png", format="PNG")
    pil_save(Image.fromarray(smooth(17, 300)), "rgb_300x17.png", format="PNG")
    pil_save(Image.fromarray(smooth(23, 37, 1)[:, :, 0], "L"), "gray_37x23.png", format="PNG")
    pil_save(Image.fromarray(smooth(9, 11, 1)[:, :, 0] > 128).convert("1"), "gray1_11x9.png",
             format="PNG")
    pil_save(Image.fromarray(smooth(23, 37, 2), "LA"), "gray_alpha_37x23.png", format="PNG")
    pil_save(Image.fromarray(smooth(23, 37, 4), "RGBA"), "rgba_37x23.png", format="PNG")
    pal = Image.fromarray((smooth(23, 37, 1)[:, :, 0] // 32).astype(np.uint8), "P")
    pal.putpalette(list(rng.integers(0, 256, size=8 * 3)))
    pil_save(pal, "palette_trns_37x23.png", format="PNG", transparency=3)
    pil_save(pal, "palette4_37x23.png", format="PNG", bits=4)
    g16 = (rng.integers(0, 600, size=(13, 21))).astype(np.uint16)  # straddles 255 (PIL clips)
    write("gray16_21x13.png", png_bytes(g16, 0, 16))
    write("rgb16_21x13.png", png_bytes(rng.integers(0, 65536, size=(13, 21, 3)), 2, 16))
    write("rgba16_21x13.png", png_bytes(rng.integers(0, 65536, size=(13, 21, 4)), 6, 16))
    write("gray_alpha16_13x11.png", png_bytes(rng.integers(0, 65536, size=(11, 13, 2)), 4, 16))
    write("interlaced_37x23.png", png_bytes(smooth(23, 37), 2, 8, interlace=True))
    write("interlaced_gray_alpha_13x11.png", png_bytes(smooth(11, 13, 2), 4, 8, interlace=True))
    photo = Image.fromarray(smooth(48, 64))
    pil_save(photo, "photo_64x48.jpg", format="JPEG", quality=90)
    pil_save(photo, "photo_progressive_64x48.jpg", format="JPEG", quality=85, progressive=True)
    pil_save(photo.convert("L"), "gray_64x48.jpg", format="JPEG", quality=90)
    cmyk = Image.fromarray(rng.integers(0, 256, size=(7, 9, 4)).astype(np.uint8), "CMYK")
    pil_save(cmyk, "cmyk_9x7.jpg", format="JPEG", quality=95)
    asym = Image.fromarray(smooth(7, 13))
    for o in range(1, 9):
        # orientation 6 big-endian (Motorola), the others little-endian (Intel)
        pil_save(asym, "exif%d_13x7.jpg" % o, format="JPEG", quality=95,
                 exif=b"Exif\0\0" + exif_tiff(o, o == 6))
    pil_save(asym, "exif8_13x7.png", format="PNG", exif=b"Exif\0\0" + exif_tiff(8, False))
    # error cases
    jpg = open(os.path.join(IMG, "photo_64x48.jpg"), "rb").read()
    write("bad_truncated.jpg", jpg[: len(jpg) // 2])
    png = open(os.path.join(IMG, "rgb_300x17.png"), "rb").read()
    write("bad_truncated.png", png[: len(png) // 2])
    write("bad_garbage.jpg", bytes(rng.integers(0, 256, size=200, dtype=np.uint8)))
    pil_save(asym, "bad_unsupported.gif", format="GIF")
    pil_save(asym, "bad_unsupported.bmp", format="BMP")
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    write("bad_bomb_20000x20000.png", b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
          + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    write("bad_empty.png", b"")


def hf_load(path):
    im = Image.open(path)
    im = ImageOps.exif_transpose(im)
    return np.asarray(im.convert("RGB"))


def smart_resize(h, w, factor, min_pixels, max_pixels):  # transformers Qwen2-VL, verbatim
    if max(h, w) / min(h, w) > 200:
        return None
    h_bar = round(h / factor) * factor
    w_bar = round(w / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((h * w) / max_pixels)
        h_bar = max(factor, math.floor(h / beta / factor) * factor)
        w_bar = max(factor, math.floor(w / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (h * w))
        h_bar = math.ceil(h * beta / factor) * factor
        w_bar = math.ceil(w * beta / factor) * factor
    return h_bar, w_bar


CONFIGS = {
    "qwen3": {"image_processor_type": "Qwen2VLImageProcessorFast", "patch_size": 16,
              "temporal_patch_size": 2, "merge_size": 2, "image_mean": [0.5, 0.5, 0.5],
              "image_std": [0.5, 0.5, 0.5], "do_rescale": True, "do_normalize": True,
              "do_resize": True, "rescale_factor": 0.00392156862745098, "resample": 3,
              "size": {"shortest_edge": 65536, "longest_edge": 16777216}},
    "qwen2": {"image_processor_type": "Qwen2VLImageProcessor", "patch_size": 14,
              "temporal_patch_size": 2, "merge_size": 2,
              "image_mean": [0.48145466, 0.4578275, 0.40821073],
              "image_std": [0.26862954, 0.26130258, 0.27577711],
              "min_pixels": 3136, "max_pixels": 12845056},
    "small": {"image_processor_type": "Qwen2VLImageProcessor", "patch_size": 16,
              "temporal_patch_size": 2, "merge_size": 2, "image_mean": [0.5, 0.4, 0.3],
              "image_std": [0.2, 0.25, 0.3],
              "size": {"shortest_edge": 4096, "longest_edge": 16384}},
}


def cfg_values(c):
    mn = c.get("min_pixels", c.get("size", {}).get("shortest_edge"))
    mx = c.get("max_pixels", c.get("size", {}).get("longest_edge"))
    return c["patch_size"] * c["merge_size"], mn, mx


def pixel_values(img, c):
    factor, mn, mx = cfg_values(c)
    h, w = img.shape[:2]
    rh, rw = smart_resize(h, w, factor, mn, mx)
    im = np.asarray(Image.fromarray(img).resize((rw, rh), Image.BICUBIC))
    x = (im.astype(np.float64) * c.get("rescale_factor", 1 / 255)).astype(np.float32)
    x = (x - np.array(c["image_mean"], np.float32)) / np.array(c["image_std"], np.float32)
    x = x.transpose(2, 0, 1)[None]  # [1, C, H, W]
    T, P, M = c["temporal_patch_size"], c["patch_size"], c["merge_size"]
    x = np.concatenate([x, np.tile(x[-1:], (T - 1, 1, 1, 1))], 0)
    gh, gw = rh // P, rw // P
    x = x.reshape(1, T, 3, gh // M, M, P, gw // M, M, P).transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return x.reshape(gh * gw, 3 * T * P * P).astype(np.float32), (1, gh, gw)


def main():
    make_images()
    for name, c in CONFIGS.items():
        with open(os.path.join(HERE, "preprocessor_%s.json" % name), "w") as f:
            json.dump(c, f, indent=2)
    lines = ["# name width height fnv64(rgb) [raw file] -- PIL open + exif_transpose + RGB"]
    decoded = {}
    os.makedirs(os.path.join(HERE, "decoded"), exist_ok=True)
    for fn in sorted(os.listdir(IMG)):
        if fn.startswith("bad_"):
            continue
        a = hf_load(os.path.join(IMG, fn))
        decoded[fn] = a
        raw = fn.replace(".", "_") + ".rgb"
        with open(os.path.join(HERE, "decoded", raw), "wb") as f:
            f.write(a.tobytes())
        lines.append("%s %d %d %016x decoded/%s" % ("images/" + fn, a.shape[1], a.shape[0],
                                                    fnv64_np(a), raw))
    for fn in COCO:
        a = hf_load(os.path.join(COCO_DIR, fn))
        decoded[fn] = a
        lines.append("%s %d %d %016x -" % ("../shared/data/calibImages/" + fn, a.shape[1],
                                           a.shape[0], fnv64_np(a)))
    open(os.path.join(HERE, "decoded.txt"), "w").write("\n".join(lines) + "\n")

    sizes = [(1, 1), (10, 10), (23, 37), (17, 300), (479, 640), (375, 500), (32, 32), (48, 48),
             (80, 80), (112, 112), (16, 16), (1, 200), (200, 1), (1, 201), (3, 700), (100, 20001),
             (4000, 3000), (10000, 10000), (16384, 16384), (50, 9999), (9999, 50), (720, 1280),
             (1080, 1920), (2160, 3840), (255, 257), (13, 2000), (5000, 7), (600, 600),
             (4096, 4096), (4097, 4095)]
    lines = ["# config h w -> out_h out_w (or error: aspect ratio > 200)"]
    for name, c in CONFIGS.items():
        factor, mn, mx = cfg_values(c)
        for h, w in sizes:
            r = smart_resize(h, w, factor, mn, mx)
            lines.append("%s %d %d %s" % (name, h, w, "error" if r is None else "%d %d" % r))
    open(os.path.join(HERE, "smart_resize.txt"), "w").write("\n".join(lines) + "\n")

    cases = [("rgb_37x23.png", 64, 32), ("rgb_37x23.png", 20, 50), ("rgb_37x23.png", 37, 60),
             ("rgb_37x23.png", 90, 23), ("rgb_300x17.png", 96, 32), ("rgb_300x17.png", 150, 9),
             ("rgb_300x17.png", 7, 3), ("rgb_1x1.png", 32, 32), ("rgb_1x1.png", 1, 1),
             ("photo_64x48.jpg", 64, 48), ("photo_64x48.jpg", 33, 95),
             (COCO[0], 640, 480), (COCO[1], 512, 384), (COCO[0], 224, 160), (COCO[1], 1001, 13)]
    lines = ["# source out_w out_h fnv64(resized rgb) -- PIL resize((w, h), BICUBIC)"]
    for fn, w, h in cases:
        r = np.asarray(Image.fromarray(decoded[fn]).resize((w, h), Image.BICUBIC))
        src = ("images/" + fn) if fn in os.listdir(IMG) else "../shared/data/calibImages/" + fn
        lines.append("%s %d %d %016x" % (src, w, h, fnv64_np(r)))
    open(os.path.join(HERE, "resize.txt"), "w").write("\n".join(lines) + "\n")

    lines = ["# config source grid_t grid_h grid_w rows cols fnv64(float32 pixel_values) "
             "sum abs_sum v[0] v[mid] v[last]"]
    pcases = [("small", "rgb_37x23.png"), ("small", "rgb_300x17.png"),
              ("small", "exif6_13x7.jpg"), ("qwen2", "rgb_37x23.png"),
              ("qwen3", "photo_64x48.jpg"), ("qwen3", COCO[0]), ("qwen3", COCO[1]),
              ("qwen2", COCO[1])]
    for cname, fn in pcases:
        pv, g = pixel_values(decoded[fn], CONFIGS[cname])
        src = ("images/" + fn) if fn in os.listdir(IMG) else "../shared/data/calibImages/" + fn
        flat = pv.reshape(-1)
        lines.append("%s %s %d %d %d %d %d %016x %.17g %.17g %.9g %.9g %.9g" % (
            cname, src, g[0], g[1], g[2], pv.shape[0], pv.shape[1], fnv64_np(pv),
            flat.astype(np.float64).sum(), np.abs(flat.astype(np.float64)).sum(), flat[0],
            flat[flat.size // 2], flat[-1]))
    open(os.path.join(HERE, "pixel_values.txt"), "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
