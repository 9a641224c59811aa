#!/usr/bin/env python3
"""Independent reference of `vlmslim eval` (docs/eval.md), written from msmodelslim_vlm_spec.md
§7.3 and vLLM Ascend's W8A8 / W8A8_DYNAMIC / W8A16 methods, not from the C code: the float model
and the quantized model built from an ascendv1 export's own files, run by the PyTorch forwards
(qwen3_vl_torch.py, qwen2_5_vl_torch.py) with LINEAR_HOOK computing every quantized Linear as
the kernel does (ascendv1: vLLM Ascend's NPU kernels; compressed-tensors: vLLM's CUDA ones, the
CT_* kinds below, docs/eval.md §1):

  W8A8: x_q = clamp(round_half_even(x * float32(1 / input_scale) + input_offset), -128, 127),
        y = float32(x_q . W_q^T + quant_bias) * deq_scale (deq_scale int64 holds float32 bits);
  W8A8_DYNAMIC: s = max(max|x_t| / 127, eps) per token, x_q = clamp(round(x / s)),
        y = float32(x_q . W_q^T) * s * weight_scale + bias;
  W8A16: y = x . ((W_q + weight_offset) * weight_scale)^T + bias;

  CT_W8A8: x_q = clamp(round_half_even(x / input_scale) + zero_point), y = fma(input_scale,
        weight_scale * float32(x_q . W_q^T - zero_point * sum(W_q)), bias);
  CT_W8A8_DYNAMIC: m = max|x_t|, x_q = clamp(round_half_even(x * (127 / m))), y = fma(m / 127,
        weight_scale * float32(x_q . W_q^T), bias);
  CT_MOE_DYNAMIC (experts): m = max(max|x_t|, 1e-10), x_q = round_half_away(x * (127 / m)),
        y = float32(x_q . W_q^T) * (m / 127) * weight_scale;
  CT_W8A16: weight_packed unpacked (four q + 128 bytes per int32), y = x . (W_q * weight_scale)^T + bias;

the integer products summed in float64 (exact). FLOAT tensors as stored; MoE experts stacked
back into the forward's fused tensors. Compared as eval_report.json reports it: after every unit
the hidden states' cosine and relative error ||h_q - h|| / ||h|| (the export's hidden states
times R^T where optional/quarot.safetensors holds offline QuaRot's R), and at every position
whose input token is not the image placeholder the KL divergence of the softmaxed logits (final
norm, then lm_head through the hook), top-1 agreement and cosine, in float64; quantiles as
numpy.percentile. With --max-new-tokens N, each model also continues each prompt greedily (the
first maximal logit of the last position, the whole sequence recomputed per token) until an
eos_token_id of generation_config.json or N tokens. Writes a JSON file with eval_report.json's
"summary", "samples" (and their "generation") and "units".

With --compute bf16 (vlmslim eval --compute bf16, docs/compute.md) every Linear but the head
rounds its input and weight to bf16 first (the quantized ones their input), in both models.

usage: eval_torch.py MODEL_DIR EXPORT_DIR INPUTS_DIR OUT_JSON [--max-new-tokens N] [--compute bf16]"""
import json
import os
import re
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ascendv1_reference as ref  # noqa: E402
import qwen2_5_vl_torch as q25  # noqa: E402
import qwen3_vl_torch as qv  # noqa: E402
import safetensors_np as st  # noqa: E402

EPS = float(np.finfo(np.float32).eps)
EXPERT = re.compile(r"^(.*\.mlp\.experts)\.(\d+)\.(gate_proj|up_proj|down_proj)\.weight$")
GLOBALS = {"version", "model_quant_type", "metadata", "group_size", "optional", "kv_cache_type", "kv_quant_type",
           "fa_quant_type"}


def to_forward(name, family):
    """An export name -> the forward's key (Qwen2.5-VL's forward holds the >= 4.52 layout)."""
    if family is not q25:
        return name
    if name.startswith("visual."):
        return "model." + name
    if name.startswith("model.") and not name.startswith(("model.visual.", "model.language_model.")):
        return "model.language_model." + name[len("model."):]
    return name


def ct_description(export, tensors):
    """A compressed-tensors export's tensors as description entries: each quantized Linear's
    weight by its config group's scheme, matched as vLLM's loader does (ignore first; a module
    name or `re:` regex matched at the start, then the class name `Linear`), the rest FLOAT."""
    with open(os.path.join(export, "config.json")) as f:
        qc = json.load(f)["quantization_config"]
    assert qc["quant_method"] == "compressed-tensors", qc["quant_method"]

    def hit(target, name):
        return re.match(target[3:], name) is not None if target.startswith("re:") else target == name

    def scheme(group):
        a = group.get("input_activations")
        if a is None:
            return "CT_W8A16"
        if a["dynamic"]:
            return "CT_W8A8_DYNAMIC"
        return "CT_W8A8"

    groups = qc["config_groups"]
    desc = {}
    for name in tensors:
        mod = name[:-len(".weight")] if name.endswith(".weight") else \
            name[:-len(".weight_packed")] if name.endswith(".weight_packed") else None
        if mod is None or tensors[name].dtype not in ("I8", "I32"):
            desc[name] = "FLOAT" if tensors[name].dtype in ("F32", "F16", "BF16") else "PART"
            continue
        assert not any(hit(t, mod) for t in qc.get("ignore") or []), mod
        g = next((g for g in groups.values() if any(hit(t, mod) for t in g["targets"])), None) or \
            next(g for g in groups.values() if "Linear" in g["targets"])
        kind = scheme(g)
        if kind == "CT_W8A8_DYNAMIC" and ".mlp.experts." in mod:
            kind = "CT_MOE_DYNAMIC"
        desc[name] = kind
        desc[mod + ".weight"] = kind
    return desc


def read_export(export, family):
    tensors, _ = st.load_checkpoint(export)
    path = os.path.join(export, "quant_model_description.json")
    if os.path.exists(path):
        with open(path) as f:
            desc = json.load(f)
    else:
        desc = ct_description(export, tensors)
        for name in [n for n in tensors if n.endswith(".weight_packed")]:  # four q + 128 bytes per int32
            t = tensors.pop(name)
            shape = [int(v) for v in tensors[name[:-len("packed")] + "shape"].array.reshape(-1)]
            q = t.array.astype("<i4").view(np.uint8).reshape(shape).astype(np.int16) - 128
            tensors[name[:-len("_packed")]] = st.Tensor("I8", shape, q.astype(np.int8))
    W, quant, experts = {}, {}, {}
    for name, t in tensors.items():
        kind = desc[name]
        m = EXPERT.match(name)
        if name.endswith(".weight") and kind != "FLOAT":
            mod = name[:-len(".weight")]
            g = lambda s: tensors[mod + "." + s]  # noqa: E731
            q = {"kind": kind, "w": torch.from_numpy(t.array.astype(np.float64))}
            if kind.startswith("CT_"):
                ws = g("weight_scale").to_f32().reshape(-1)
                q["ws"] = torch.from_numpy(np.broadcast_to(ws, (t.shape[0],)).copy())
                b = tensors.get(mod + ".bias")
                q["b"] = torch.from_numpy(b.to_f32().reshape(-1)) if b is not None else None
                q["wsum"] = q["w"].sum(1)
                if kind == "CT_W8A8":
                    q["s"] = np.float32(g("input_scale").to_f32().reshape(-1)[0])
                    zp = tensors.get(mod + ".input_zero_point")
                    q["zp"] = float(zp.array.reshape(-1)[0]) if zp is not None else 0.0
            elif kind == "W8A8":
                q["s"] = np.float32(g("input_scale").array.reshape(-1)[0])
                q["o"] = np.float32(g("input_offset").array.reshape(-1)[0])
                d = g("deq_scale")
                deq = d.array.astype(np.float32) if d.dtype == "F32" else \
                    d.array.astype(np.int64).astype(np.uint32).view(np.float32)
                q["deq"] = torch.from_numpy(deq.reshape(-1).copy())
                q["qb"] = torch.from_numpy(g("quant_bias").array.astype(np.float64).reshape(-1))
            else:
                q["ws"] = torch.from_numpy(g("weight_scale").array.astype(np.float32).reshape(-1))
                q["wo"] = torch.from_numpy(g("weight_offset").array.astype(np.float32).reshape(-1))
                b = tensors.get(mod + ".bias")
                q["b"] = torch.from_numpy(b.to_f32().reshape(-1)) if b is not None else None
            quant[mod] = q
            value = torch.zeros(t.shape, dtype=torch.float32)  # never read: the hook computes it
        elif kind == "FLOAT":
            value = torch.from_numpy(np.ascontiguousarray(t.to_f32()))
        else:
            continue
        if m:
            experts.setdefault(m.group(1), {})[(int(m.group(2)), m.group(3))] = value
        else:
            W[to_forward(name, family)] = value
    for prefix, parts in experts.items():  # the forward's fused [E, H, 2I] and [E, I, H]
        E = 1 + max(e for e, _ in parts)
        W[to_forward(prefix, family) + ".gate_up_proj"] = torch.stack(
            [torch.cat([parts[(e, "gate_proj")].T, parts[(e, "up_proj")].T], 1) for e in range(E)])
        W[to_forward(prefix, family) + ".down_proj"] = torch.stack([parts[(e, "down_proj")].T for e in range(E)])
    if "lm_head.weight" not in W:
        W["lm_head.weight"] = W["model.language_model.embed_tokens.weight"]
    R = None
    rel = ((desc.get("optional") or {}).get("quarot") or {}).get("rotation_map", {}).get("global_rotation")
    if rel is None and os.path.exists(os.path.join(export, "optional", "quarot.safetensors")):
        rel = "optional/quarot.safetensors"  # compressed-tensors: where the run writes it
    if rel:
        t, _ = st.read_file(os.path.join(export, rel))
        R = torch.from_numpy(t["global_rotation"].to_f32())
    return W, quant, R


def quantized_linear(q, x):
    shape = x.shape
    x = x.reshape(-1, shape[-1])
    if q["kind"] == "W8A8":
        r = torch.tensor(np.float32(1) / q["s"])
        xq = torch.clamp(torch.round(x * r + torch.tensor(q["o"])), -128, 127)
        y = (xq.double() @ q["w"].T + q["qb"]).float() * q["deq"]
    elif q["kind"] == "W8A8_DYNAMIC":
        s = (x.abs().amax(-1, keepdim=True) / 127).clamp(min=EPS)
        xq = torch.clamp(torch.round(x / s), -128, 127)
        y = (xq.double() @ q["w"].T).float() * s * q["ws"]
        if q["b"] is not None:
            y = y + q["b"]
    elif q["kind"] == "W8A16":
        w = (q["w"].float() + q["wo"][:, None]) * q["ws"][:, None]
        y = x @ w.T
        if q["b"] is not None:
            y = y + q["b"]
    elif q["kind"] == "CT_W8A8":  # vLLM: static_scaled_int8_quant (a division), cutlass epilogue with azp
        xq = torch.clamp(torch.round(x / torch.tensor(q["s"])) + q["zp"], -128, 127)
        acc = (xq.double() @ q["w"].T - q["zp"] * q["wsum"]).float()
        y = fma(torch.tensor(q["s"]), q["ws"] * acc, q["b"])
    elif q["kind"] == "CT_W8A8_DYNAMIC":  # vLLM: dynamic_scaled_int8_quant, half to even
        m = x.abs().amax(-1, keepdim=True)
        xq = torch.where(m > 0, torch.clamp(torch.round(x * (127 / m)), -128, 127), torch.zeros_like(x))
        y = fma(m / 127, q["ws"] * (xq.double() @ q["w"].T).float(), q["b"])
    elif q["kind"] == "CT_MOE_DYNAMIC":  # vLLM's fused-MoE per_token_quant_int8: half away from zero
        m = x.abs().amax(-1, keepdim=True).clamp(min=np.float32(1e-10))
        v = (x * (127 / m)).double()
        xq = torch.clamp(torch.sign(v) * torch.floor(v.abs() + 0.5), -128, 127)
        y = (xq @ q["w"].T).float() * (m / 127) * q["ws"]
        if q["b"] is not None:
            y = y + q["b"]
    elif q["kind"] == "CT_W8A16":
        y = x @ (q["w"].float() * q["ws"][:, None]).T
        if q["b"] is not None:
            y = y + q["b"]
    else:
        raise SystemExit("eval_torch: %s Linears are not computed here" % q["kind"])
    return y.reshape(shape[:-1] + (y.shape[-1],))


def fma(a, b, c):
    """float32 a * b + c rounded once (CUDA's fmaf in the cutlass epilogue), through float64."""
    y = a.double() * b.double()
    return (y + c.double() if c is not None else y).float()


def hidden_cmp(f, q):
    f, q = f.double().reshape(-1), q.double().reshape(-1)
    nf, nq = float(f @ f), float(q @ q)
    cos = 1.0 if nf == 0 and nq == 0 else 0.0 if nf == 0 or nq == 0 else float(f @ q) / (nf * nq) ** 0.5
    nd = float((q - f) @ (q - f))
    rel = (0.0 if nd == 0 else float("inf")) if nf == 0 else (nd / nf) ** 0.5
    return cos, rel


def eos_ids(model_dir):
    for name in ("generation_config.json", "config.json"):
        path = os.path.join(model_dir, name)
        if not os.path.exists(path):
            continue
        with open(path) as f:
            c = json.load(f)
        v = c.get("eos_token_id", (c.get("text_config") or {}).get("eos_token_id"))
        if v is not None:
            return set(v) if isinstance(v, list) else {v}
    return set()


def bf16(t):
    return t.to(torch.bfloat16).float()


def main(argv):
    max_new = 0
    rounded = "--compute" in argv and argv[argv.index("--compute") + 1] == "bf16"
    if "--compute" in argv:
        i = argv.index("--compute")
        argv = argv[:i] + argv[i + 2:]
    if "--max-new-tokens" in argv:
        i = argv.index("--max-new-tokens")
        max_new = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    model_dir, export, inputs, out = argv[1:]
    with open(os.path.join(model_dir, "config.json")) as f:
        family = q25 if json.load(f).get("model_type") == "qwen2_5_vl" else qv
    cfg, Wf = family.load(model_dir)
    if "lm_head.weight" not in Wf:  # tied
        Wf["lm_head.weight"] = Wf["model.language_model.embed_tokens.weight"]
    Wq, quant, R = read_export(export, family)
    export_name = ref.qwen2_5_vl_export_name if family is q25 else (lambda n: n)
    image_id = cfg.get("image_token_id", (cfg.get("text_config") or {}).get("image_token_id", -1))
    if family is q25:
        tc = q25.text_config(cfg)
        eps, norm = tc["eps"], "model.language_model.norm.weight"
    else:
        eps, norm = cfg["text_config"]["rms_norm_eps"], "model.language_model.norm.weight"

    def hook(name, x, w, b):
        if rounded and name != "lm_head":  # --compute bf16: as vlmslim's (the head stays float32)
            x, w = bf16(x), bf16(w)
        q = quant.get(export_name(name))
        if q is not None:
            return quantized_linear(q, x)
        y = x @ w.T
        return y + b if b is not None else y

    def float_hook(name, x, w, b):
        if rounded and name != "lm_head":
            x, w = bf16(x), bf16(w)
        y = x @ w.T
        return y + b if b is not None else y

    def unrotate(h):
        return h @ R.T if R is not None and h.shape[-1] == R.shape[0] else h

    samples, units, kl_all = [], None, []
    i = 0
    while os.path.exists(os.path.join(inputs, "sample_%d.safetensors" % i)):
        ids, pv, grids = qv.read_inputs(os.path.join(inputs, "sample_%d.safetensors" % i))
        outs = []
        with torch.no_grad():
            for W, h in ((Wf, float_hook), (Wq, hook)):
                family.LINEAR_HOOK = h
                embeds, hidden, _ = family.forward_sample(cfg, W, ids, pv, grids)
                xn = family.rms(hidden[-1], W[norm], eps)
                logits = family.linear("lm_head", xn, W["lm_head.weight"])
                outs.append(([embeds] + hidden, logits))
            family.LINEAR_HOOK = None
        (hf, lf), (hq, lq) = outs
        if units is None:
            units = [{"cos": [], "rel": []} for _ in hf]
        for k, (a, b) in enumerate(zip(hf, hq)):
            c, r = hidden_cmp(a, unrotate(b)) if a.numel() else (float("nan"), float("nan"))
            units[k]["cos"].append(c)
            units[k]["rel"].append(r)
        lpf = torch.log_softmax(lf.double(), -1)
        lpq = torch.log_softmax(lq.double(), -1)
        kl = (lpf.exp() * (lpf - lpq)).sum(-1).clamp(min=0)
        cos = torch.nn.functional.cosine_similarity(lf.double(), lq.double(), -1)
        top1 = lf.argmax(-1) == lq.argmax(-1)
        keep = torch.tensor([t != image_id for t in ids])
        k_ = kl[keep].numpy()
        kl_all += list(k_)
        gen = {}
        if max_new > 0:
            eos = eos_ids(model_dir)
            for key, W, h in (("float", Wf, float_hook), ("quant", Wq, hook)):
                seq = []
                with torch.no_grad():
                    family.LINEAR_HOOK = h
                    while len(seq) < max_new and not (seq and seq[-1] in eos):
                        _, hidden, _ = family.forward_sample(cfg, W, ids + seq, pv, grids)
                        xn = family.rms(hidden[-1][-1:], W[norm], eps)
                        seq.append(int(family.linear("lm_head", xn, W["lm_head.weight"])[0].argmax()))
                    family.LINEAR_HOOK = None
                gen[key] = {"ids": seq}
            a, b = gen["float"]["ids"], gen["quant"]["ids"]
            gen["first_divergence"] = next((t for t in range(max(len(a), len(b)))
                                            if t >= len(a) or t >= len(b) or a[t] != b[t]), None)
        samples.append({"positions": int(keep.sum()), "kl_mean": float(k_.mean()),
                        "kl_p99": float(np.percentile(k_, 99)), "kl_max": float(k_.max()),
                        "top1_agreement": float(top1[keep].double().mean()),
                        "logits_cosine_mean": float(cos[keep].mean()), "logits_cosine_min": float(cos[keep].min()),
                        "last_position": {"kl": float(kl[-1]), "logits_cosine": float(cos[-1]),
                                          "top1_agrees": bool(top1[-1])}})
        if gen:
            samples[-1]["generation"] = gen
        i += 1
    if not samples:
        raise SystemExit("eval_torch: %s: no sample_0.safetensors" % inputs)
    n = sum(s["positions"] for s in samples)
    w = lambda key: sum(s[key] * s["positions"] for s in samples) / n  # noqa: E731
    kl_all = np.array(kl_all)
    summary = {"samples": len(samples), "positions": n, "kl_mean": w("kl_mean"),
               "kl_median": float(np.percentile(kl_all, 50)), "kl_p99": float(np.percentile(kl_all, 99)),
               "kl_p999": float(np.percentile(kl_all, 99.9)), "kl_max": float(kl_all.max()),
               "top1_agreement": w("top1_agreement"), "logits_cosine_mean": w("logits_cosine_mean"),
               "quantized_linears": len(quant)}
    unit_out = []
    for u in units:
        c = [v for v in u["cos"] if v == v]
        r = [v for v in u["rel"] if v == v]
        unit_out.append({"hidden_cosine_mean": sum(c) / len(c) if c else None,
                         "hidden_cosine_min": min(c) if c else None,
                         "relative_error_mean": sum(r) / len(r) if r else None,
                         "relative_error_max": max(r) if r else None})
    with open(out, "w") as f:
        json.dump({"summary": summary, "samples": samples, "units": unit_out}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
