#!/usr/bin/env python3
"""Golden values for the histogram activation observer (src/quant/histogram.h), computed with
PyTorch's own torch.ao.quantization.HistogramObserver (bins=2048, upsample_rate=16, quint8,
per_tensor_affine, reduce_range=False): each case is a sequence of deterministic float32
batches fed one call each; the expected values are the observer's final min_val/max_val, its
histogram and the clip range of _non_linear_param_search().
Writes cases.json (floats as float32 bit patterns, exact).
usage: /usr/bin/python3 tests/golden/histogram/make_golden.py   (needs numpy and torch)"""
import json
import os

import numpy as np
import torch


def bits(a):
    return np.asarray(a, dtype=np.float32).view(np.uint32).ravel().tolist()


def cases():
    rng = np.random.default_rng(11)
    f = np.float32

    def normal(n, s, m=0.0):
        return (rng.standard_normal(n) * s + m).astype(f)

    narrow = normal(300, 0.3)
    outlier = normal(300, 0.05)
    outlier[123] = f(40.0)
    relu = np.maximum(normal(300, 2.0), f(0))
    return [
        # within (-1, 1): int() of the range is 0 for both ends, histc bins over the batch itself
        ("sub_unit_single", [narrow]),
        # narrow, then wider (combined with upsampling), then inside the range (counts added)
        ("narrow_then_wide", [narrow, normal(300, 4.0), normal(300, 1.0)]),
        # ranges that int() truncates: values beyond the integer bounds are not counted
        ("truncated_range", [normal(300, 3.0, 0.4), normal(300, 6.0, -1.3)]),
        # a constant batch (min == max), then another constant, then data: each resets
        ("constant", [np.full(200, 2.5, f), np.full(100, -1.75, f), normal(300, 2.0)]),
        ("constant_only", [np.full(200, 0.75, f)]),
        # one outlier among small values: the clip search cuts it away
        ("one_outlier", [outlier]),
        ("one_outlier_late", [normal(300, 0.5), normal(300, 0.5), np.array([0.1, -30.0, 0.2], f), normal(300, 0.5)]),
        # one-sided (ReLU-like) inputs growing over four calls
        ("one_sided_growing", [relu * f(0.25), relu * f(0.5), relu, relu * f(3.0)]),
        ("wide_many", [normal(400, 20.0), normal(400, 15.0), normal(400, 60.0, 5.0), normal(400, 25.0)]),
    ]


def main():
    res = []
    for name, batches in cases():
        obs = torch.ao.quantization.HistogramObserver(bins=2048, upsample_rate=16, dtype=torch.quint8,
                                                      qscheme=torch.per_tensor_affine, reduce_range=False)
        for b in batches:
            obs(torch.from_numpy(b.copy()))
        new_min, new_max = obs._non_linear_param_search()
        res.append({"name": name, "batches": [bits(b) for b in batches],
                    "min": bits([obs.min_val.item()])[0], "max": bits([obs.max_val.item()])[0],
                    "histogram": bits(obs.histogram.numpy()),
                    "new_min": bits([new_min.item()])[0], "new_max": bits([new_max.item()])[0]})
        print("%s: range [%g, %g], clip [%g, %g]" % (name, obs.min_val.item(), obs.max_val.item(),
                                                    new_min.item(), new_max.item()))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases.json")
    with open(path, "w") as fh:
        json.dump(res, fh, separators=(",", ":"))
        fh.write("\n")


if __name__ == "__main__":
    main()
