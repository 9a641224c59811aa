#!/usr/bin/python3
"""The image half of the model-input goldens, with PIL + numpy (independent of the C code): for
each image, Hugging Face's load_image (PIL open, exif_transpose, convert("RGB")) and the slow
Qwen2VLImageProcessor's resize and patching, re-done as tests/golden/vision/make_golden.py does.
usage: reference_pixels.py PREPROCESSOR_CONFIG.json IMAGE... > pixels.json
prints [{"image": name, "size": [w, h], "resized": [w, h], "grid": [t, h, w], "patches": n,
"patch_dim": d, "sha256": of the float32 pixel_values bytes}, ...]"""
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vision"))
import make_golden as vision  # noqa: E402  (the vision goldens' processor, not ours in C)


def main():
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    out = []
    for path in sys.argv[2:]:
        img = vision.hf_load(path)
        pv, grid = vision.pixel_values(img, cfg)
        P = cfg["patch_size"]
        out.append({"image": os.path.basename(path), "size": [img.shape[1], img.shape[0]],
                    "resized": [grid[2] * P, grid[1] * P], "grid": list(grid), "patches": pv.shape[0],
                    "patch_dim": pv.shape[1], "sha256": hashlib.sha256(pv.tobytes()).hexdigest()})
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
