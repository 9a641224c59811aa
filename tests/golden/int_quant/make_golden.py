#!/usr/bin/env python3
"""Golden values for per-channel integer weight quantization (msModelSlim's formulas, spec §6.2),
computed with numpy in float32: np.round is round-half-to-even like torch.round.
Writes cases.json: for each case the input matrix (as float32 bit patterns, exact), bits,
symmetric, and the expected q, scale and offset (scale/offset as float32 bit patterns).
Run from anywhere with a python3 that has numpy: python3 tests/golden/int_quant/make_golden.py"""
import json, os
import numpy as np

EPS = np.float32(2.0 ** -23)

def params(mn, mx, bits, sym):
    mn = np.minimum(mn, np.float32(0)); mx = np.maximum(mx, np.float32(0))
    if sym:
        q = np.float32(2 ** (bits - 1) - 1)
        scale = np.maximum(np.maximum(-mn, mx) / q, EPS).astype(np.float32)
        offset = np.zeros_like(scale)
    else:
        q = np.float32(2 ** bits - 1)
        scale = np.maximum(mx / q - mn / q, EPS).astype(np.float32)
        offset = (np.round(-mn / scale) - np.float32(2 ** (bits - 1))).astype(np.float32)
    return scale, offset

def quantize(w, bits, sym):
    scale, offset = params(w.min(axis=1), w.max(axis=1), bits, sym)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    q = np.clip(np.round(w / scale[:, None] + offset[:, None]), lo, hi).astype(np.int8)
    return q, scale, offset

def bits_of(a):
    return np.asarray(a, dtype=np.float32).view(np.uint32).ravel().tolist()

def main():
    rng = np.random.default_rng(7)
    mats = {
        "normal": rng.standard_normal((5, 33)).astype(np.float32) * np.float32(0.02),
        # exact ties: row max 127 gives scale 1, so x.5 values sit exactly between two steps
        "ties": np.array([[127.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5]], dtype=np.float32),
        "zeros": np.zeros((2, 4), dtype=np.float32),
        "outlier": np.concatenate([np.full((1, 15), 0.001, np.float32), np.array([[1000.0]], np.float32)], axis=1),
        "negative": -np.abs(rng.standard_normal((3, 8)).astype(np.float32)),
        "positive": np.abs(rng.standard_normal((3, 8)).astype(np.float32)) + np.float32(1),
        "tiny": np.full((1, 4), 1e-30, dtype=np.float32),
        # ties at 4 bits (row max 7: symmetric int4 scale 1) and asymmetric ties (max 255 / 15, min 0:
        # scale 1, offset -128 / -8, so x + offset keeps the .5)
        "ties4": np.array([[7.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, -6.5, 6.5]], dtype=np.float32),
        "ties_asym": np.array([[255.0, 0.5, 1.5, 2.5, 126.5, 127.5, 128.5, 3.5],
                               [15.0, 0.5, 1.5, 2.5, 6.5, 7.5, 8.5, 9.5]], dtype=np.float32),
        # wider than the 16-column blocks of the C loops, with a tail; and one column
        "wide": rng.standard_normal((3, 53)).astype(np.float32) * np.float32(3),
        "column": rng.standard_normal((4, 1)).astype(np.float32),
    }
    cases = []
    for name, w in mats.items():
        for b in (8, 4):
            for sym in (True, False):
                q, s, o = quantize(w, b, sym)
                cases.append({"name": f"{name}-w{b}-{'sym' if sym else 'asym'}", "rows": w.shape[0], "cols": w.shape[1],
                              "bits": b, "symmetric": sym, "w": bits_of(w), "q": q.ravel().tolist(),
                              "scale": bits_of(s), "offset": bits_of(o)})
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases.json"), "w") as f:
        json.dump(cases, f)

if __name__ == "__main__":
    main()
