#!/usr/bin/env python3
"""Checks that a compressed-tensors export and an ascendv1 export of the same run hold the same
quantized model, after each format's conventions (numpy only):
  - every int8 weight is equal;
  - W8A16: compressed-tensors' weight_packed (pack-quantized: four q + 128 per little-endian
    int32) unpacks to the int8 weight, weight_shape is its shape, ascendv1's weight_offset is 0;
  - W8A8_DYNAMIC and W8A16: weight_scale equal;
  - W8A8 static: input_scale equal, input_zero_point == input_offset (msModelSlim's
    round(x/s + o) is compressed-tensors' round(x/s) + zp for an integer o; absent when the
    activation is symmetric, then input_offset is 0), and ascendv1's deq_scale equal to
    input_scale * weight_scale in float32;
  - every float tensor of one is in the other with the same dtype and bytes (float biases
    included; ascendv1's quant_bias folds the bias and is not compared).
Usage: compare_ct_ascendv1.py CT_DIR ASCENDV1_DIR"""
import json
import os
import struct
import sys

import numpy as np

DTYPES = {"I8": np.int8, "I32": np.int32, "I64": np.int64, "F32": np.float32, "F16": np.float16,
          "BF16": np.uint16}


def read_dir(d):
    tensors = {}
    for f in sorted(os.listdir(d)):
        if not f.endswith(".safetensors"):
            continue
        with open(os.path.join(d, f), "rb") as fh:
            raw = fh.read()
        n = struct.unpack("<Q", raw[:8])[0]
        header = json.loads(raw[8:8 + n])
        data = raw[8 + n:]
        for name, e in header.items():
            if name == "__metadata__":
                continue
            b, end = e["data_offsets"]
            a = np.frombuffer(data[b:end], dtype=DTYPES[e["dtype"]]).reshape(e["shape"])
            tensors[name] = (e["dtype"], a)
    return tensors


def main():
    ct, av = read_dir(sys.argv[1]), read_dir(sys.argv[2])
    problems, checked = [], {"dynamic": 0, "static": 0, "weight-only": 0, "float": 0}
    for name, (dt, a) in av.items():
        module, _, leaf = name.rpartition(".")
        if leaf in ("weight_offset", "quant_bias", "deq_scale", "input_offset", "input_scale", "weight_scale"):
            continue  # compared with their Linear's weight below
        if dt == "I8":  # a quantized Linear's weight
            packed = ct.get(module + ".weight_packed")
            if packed is not None and name not in ct:  # W8A16
                shape = ct.get(module + ".weight_shape")
                q = (packed[1].view(np.uint8).astype(np.int16) - 128).astype(np.int8).reshape(a.shape)
                if shape is None or list(shape[1]) != list(a.shape) or packed[0] != "I32":
                    problems.append(f"{module}.weight_shape: missing or not {list(a.shape)}")
                ct = dict(ct, **{name: ("I8", q)})
                off = av.get(module + ".weight_offset")
                if off is not None and np.any(off[1].astype(np.float32) != 0):
                    problems.append(f"{module}.weight_offset: not 0 (compressed-tensors W8A16 is symmetric)")
            if name not in ct or ct[name][0] != "I8" or not np.array_equal(ct[name][1], a):
                problems.append(f"{name}: int8 weight differs or is missing in the compressed-tensors export")
                continue
            cs = ct.get(module + ".weight_scale")
            if cs is None:
                problems.append(f"{module}.weight_scale: missing in the compressed-tensors export")
                continue
            ws = cs[1].astype(np.float32).reshape(-1)
            if module + ".deq_scale" in av:  # W8A8 static
                checked["static"] += 1
                s_in = av[module + ".input_scale"][1].astype(np.float32)
                o_in = av[module + ".input_offset"][1].astype(np.float32)
                if module + ".input_scale" not in ct or not np.array_equal(ct[module + ".input_scale"][1], s_in):
                    problems.append(f"{module}.input_scale: differs")
                zp = ct.get(module + ".input_zero_point")
                zp = np.zeros(1, np.float32) if zp is None else zp[1].astype(np.float32)
                if not np.array_equal(zp, o_in):
                    problems.append(f"{module}.input_zero_point: {zp} but input_offset {o_in}")
                deq = av[module + ".deq_scale"][1]
                deq = deq.astype(np.int32).view(np.float32) if deq.dtype == np.int64 else deq
                if not np.array_equal((s_in[0] * ws).astype(np.float32), deq.reshape(-1)):
                    problems.append(f"{module}.deq_scale: not input_scale x weight_scale")
            else:
                checked["weight-only" if packed is not None else "dynamic"] += 1
                if not np.array_equal(ws, av[module + ".weight_scale"][1].reshape(-1)):
                    problems.append(f"{module}.weight_scale: differs")
        else:
            checked["float"] += 1
            if name not in ct or ct[name][0] != dt or not np.array_equal(ct[name][1], a):
                problems.append(f"{name}: float tensor differs or is missing in the compressed-tensors export")
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"same model: {checked['static']} static, {checked['dynamic']} dynamic and {checked['weight-only']} W8A16 Linears, "
          f"{checked['float']} float tensors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
