#!/usr/bin/python3
"""Writes internvl_grids.txt: the tile grid InternVL's dynamic_preprocess chooses (its Python, as
tests/reference/internvl_torch.py transcribes it from msModelSlim's internvl_utils.py; never the
C code) for a table of image sizes and min/max tile counts, the tie cases included.
Run: /usr/bin/python3 tests/golden/vision/make_internvl_grids.py"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "reference"))
from internvl_torch import closest_aspect_ratio  # noqa: E402


def grid(w, h, lo, hi, s):
    ratios = sorted(set((i, j) for n in range(lo, hi + 1) for i in range(1, n + 1) for j in range(1, n + 1)
                        if lo <= i * j <= hi), key=lambda r: r[0] * r[1])
    return closest_aspect_ratio(w / h, ratios, w, h, s)


sizes = [(1, 1), (37, 23), (448, 448), (800, 600), (600, 800), (100, 1000), (2000, 300), (896, 448), (1792, 896),
         (640, 479), (640, 480), (500, 400), (1344, 448), (4000, 100), (300, 301), (1000, 999), (1920, 1080),
         (3000, 2000), (13, 7), (2240, 448), (448, 1792)]
sizes += [(w, h) for w in range(60, 3001, 317) for h in range(40, 3001, 293)]
with open(os.path.join(HERE, "internvl_grids.txt"), "w") as f:
    f.write("# width height min_tiles max_tiles image_size -> cols rows (make_internvl_grids.py)\n")
    for lo, hi, s in [(1, 12, 448), (1, 6, 448), (2, 12, 448), (1, 24, 448), (1, 12, 56)]:
        for w, h in sizes:
            c, r = grid(w, h, lo, hi, s)
            f.write("%d %d %d %d %d %d %d\n" % (w, h, lo, hi, s, c, r))
