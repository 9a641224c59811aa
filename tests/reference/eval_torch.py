#!/usr/bin/env python3
"""Independent reference of `vlmslim eval` (docs/eval.md), written from msmodelslim_vlm_spec.md
§7.3 and vLLM Ascend's W8A8 / W8A8_DYNAMIC / W8A16 methods, not from the C code: the float model
and the quantized model built from an ascendv1 export's own files, run by the PyTorch forwards
(qwen3_vl_torch.py, qwen2_5_vl_torch.py) with LINEAR_HOOK computing every quantized Linear as
the kernel does:

  W8A8: x_q = clamp(round_half_even(x * float32(1 / input_scale) + input_offset), -128, 127),
        y = float32(x_q . W_q^T + quant_bias) * deq_scale (deq_scale int64 holds float32 bits);
  W8A8_DYNAMIC: s = max(max|x_t| / 127, eps) per token, x_q = clamp(round(x / s)),
        y = float32(x_q . W_q^T) * s * weight_scale + bias;
  W8A16: y = x . ((W_q + weight_offset) * weight_scale)^T + bias;

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

usage: eval_torch.py MODEL_DIR EXPORT_DIR INPUTS_DIR OUT_JSON [--max-new-tokens N]"""
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


def read_export(export, family):
    tensors, _ = st.load_checkpoint(export)
    with open(os.path.join(export, "quant_model_description.json")) as f:
        desc = json.load(f)
    W, quant, experts = {}, {}, {}
    for name, t in tensors.items():
        kind = desc[name]
        m = EXPERT.match(name)
        if name.endswith(".weight") and kind != "FLOAT":
            mod = name[:-len(".weight")]
            g = lambda s: tensors[mod + "." + s]  # noqa: E731
            q = {"kind": kind, "w": torch.from_numpy(t.array.astype(np.float64))}
            if kind == "W8A8":
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
    else:
        raise SystemExit("eval_torch: %s Linears are not computed here" % q["kind"])
    return y.reshape(shape[:-1] + (y.shape[-1],))


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


def main(argv):
    max_new = 0
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
        q = quant.get(export_name(name))
        if q is not None:
            return quantized_linear(q, x)
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
            for W, h in ((Wf, None), (Wq, hook)):
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
            for key, W, h in (("float", Wf, None), ("quant", Wq, hook)):
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
