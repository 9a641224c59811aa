#!/usr/bin/env python3
"""How close a dense Qwen3-VL ascendv1 export's quantized model is to the float model, as an
engine would run it (PyTorch + numpy; written from msmodelslim_vlm_spec.md §6.3, §7.3, not from
the C code): W8A8 weights int8 x deq_scale / input_scale per row with the input fake-quantized
per tensor (round half to even of x / input_scale + input_offset, clamped to int8);
W8A8_DYNAMIC weights int8 x weight_scale with the input fake-quantized per token (symmetric);
W8A16 weights int8 x weight_scale; FLOAT tensors as stored. Prints the cosine similarity of the
last-position logits to the float checkpoint's per sample, then "cosine mean M min N" (the
format of tests/tools/fakequant_logits.c, which the e2e test checks against this).

usage: fakequant_torch.py MODEL_DIR EXPORT_DIR INPUTS_DIR"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qwen3_vl_torch as qv  # noqa: E402
import safetensors_np as st  # noqa: E402

EPS = float(np.finfo(np.float32).eps)


def dequantized(export):
    tensors, _ = st.load_checkpoint(export)
    with open(os.path.join(export, "quant_model_description.json")) as f:
        desc = json.load(f)
    W, acts = {}, {}
    for name, t in tensors.items():
        kind = desc[name]
        if ".mlp.experts." in name:
            raise SystemExit("fakequant_torch: %s: dense exports only" % name)
        if kind == "FLOAT":
            W[name] = torch.from_numpy(np.ascontiguousarray(t.to_f32()))
            continue
        if not (name.endswith(".weight") and t.dtype == "I8"):
            continue
        m = name[:-len(".weight")]
        q = t.array.astype(np.float32)
        if kind == "W8A8":
            s = np.float32(tensors[m + ".input_scale"].array.reshape(-1)[0])
            o = np.float32(tensors[m + ".input_offset"].array.reshape(-1)[0])
            d = tensors[m + ".deq_scale"]
            deq = d.array.astype(np.float32) if d.dtype == "F32" else d.array.astype(np.int64).astype(np.int32).view(np.float32)
            rows = (deq / s).astype(np.float32)
            acts[m] = ("static", float(s), float(o))
        else:
            rows = tensors[m + ".weight_scale"].array.reshape(-1).astype(np.float32)
            if kind == "W8A8_DYNAMIC":
                acts[m] = ("dynamic",)
        W[name] = torch.from_numpy(np.ascontiguousarray(q * rows[:, None]))
    return W, acts


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    cfg, Wf = qv.load(argv[1])
    Wq, acts = dequantized(argv[2])

    def hook(name, x, w, b):
        a = acts.get(name)
        if a is not None and a[0] == "static":
            s, o = a[1], a[2]
            x = (torch.clamp(torch.round(x / s + o), -128, 127) - o) * s
        elif a is not None:
            s = (x.abs().amax(-1, keepdim=True) / 127).clamp(min=EPS)
            x = torch.clamp(torch.round(x / s), -128, 127) * s
        y = x @ w.T
        return y + b if b is not None else y

    cos, i = [], 0
    while os.path.exists(os.path.join(argv[3], "sample_%d.safetensors" % i)):
        ids, pv, grids = qv.read_inputs(os.path.join(argv[3], "sample_%d.safetensors" % i))
        with torch.no_grad():
            qv.LINEAR_HOOK = None
            ref = qv.forward_sample(cfg, Wf, ids, pv, grids)[2].double()
            qv.LINEAR_HOOK = hook
            got = qv.forward_sample(cfg, Wq, ids, pv, grids)[2].double()
        c = float(ref @ got / (ref.norm() * got.norm()))
        print("sample %d: cosine %.6f" % (i, c))
        cos.append(c)
        i += 1
    if not cos:
        raise SystemExit("fakequant_torch: %s: no sample_0.safetensors" % argv[3])
    print("cosine mean %.6f min %.6f" % (sum(cos) / len(cos), min(cos)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
