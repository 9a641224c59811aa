#!/usr/bin/env python3
"""Reference implementation of the calibrated `vlmslim quant` export (PyTorch + numpy + PyYAML).

Written from the specification (msmodelslim_vlm_spec.md §2.3, §5.1, §6.2-6.3, §7.3), not from
the C code. It reads a Qwen3-VL(-MoE), Qwen2.5-VL or InternVL3.5 checkpoint (forward:
qwen3_vl_torch.py / qwen2_5_vl_torch.py / internvl_torch.py; export names and unit order:
ascendv1_reference.py, for Qwen2.5-VL the published names, for InternVL the checkpoint's, its
projector mlp1 in no unit, so float, though QuaRot rotates it), an msModelSlim YAML config whose
processors are `linear_quant` entries, also inside a `group` processor (W8A8 static: act int8
per_tensor symmetric or asymmetric minmax or histogram;
W8A8_DYNAMIC; W8A16; weights int8 per_channel symmetric minmax) and model-input files
INPUTS/sample_<i>.safetensors (so preprocessing is checked elsewhere), and writes the ascendv1
export, with vlmslim's propagation rule:

  0. (configs with quarot / iter_smooth / smooth_quant, tests/reference/outlier_torch.py) QuaRot's
     pre-run and post-run work on the checkpoint before any unit; then per unit, the processors in
     YAML order: quarot's layer fusions and rotations, a smoothing processor's statistics pass
     (float forward over every sample, max |x| per channel of each subgraph's targets[0] input)
     and folds; then the unit is calibrated and quantized as below from the transformed weights,
     and everything exported is the transformed tensors (optional/quarot.safetensors and the
     description's "optional" block with quarot);

  unit by unit (the vision tower, then each text layer) over every sample,
  1. statistics pass (units with a W8A8 Linear): float weights, every expert on every token;
     each W8A8 Linear's input min/max over all tokens of all samples;
  2. scale/offset from the final min/max, or for act method histogram from the clip range
     [new_min, new_max] of torch.ao.quantization.HistogramObserver (2048 bins, upsample 16)
     fed every call's input in order, via its _non_linear_param_search() (asymmetric: s = max(max/255 - min/255, eps),
     o = round(-min/s) - 128; symmetric: s = max(absmax/127, eps), o = 0), weights quantized;
  3. propagation pass (units before the last W8A8 one): every claimed Linear with its
     dequantized int8 weight; W8A8 inputs fake-quantized per tensor with (s, o), W8A8_DYNAMIC
     inputs per token (symmetric); its outputs feed the next unit. With --propagate float the
     statistics pass's float outputs feed it instead.
Saved W8A8 tensors (§7.3): weight I8, quant_bias I32 = round(b/deq - o * sum(W_q)),
input_scale/input_offset F32 [1], deq_scale = s * s_w (F32 for bf16 models, else I64 bits),
bias F32.

usage: calib_torch.py --model_path M --config_path C.yaml --model_type NAME --inputs DIR
                      --save_path OUT [--propagate quantized|float] [--ties-out TIES.json]
                      [--report-out REPORT.json [--report-stride N]] [--compute fp32|bf16]
With --compute bf16 (vlmslim's, docs/compute.md) every Linear rounds its input and its weight to
bf16 (round to nearest even) and multiplies them in float32: the observers see the rounded
input; in the quantized pass W8A8 and W8A8_DYNAMIC Linears are computed from the rounded input
as vLLM Ascend's int8 kernels do (eval_torch.quantized_linear, with the export's quant_bias and
deq_scale), or, when the config's first saver is compressed_tensors_saver, as vLLM's kernels do
(the zero point's adjustment and the float bias; W8A8_DYNAMIC experts as the fused-MoE kernel);
W8A16 ones on their dequantized weight, rounded.
The report's relative output error ||y_q - y|| / ||y|| of each claimed Linear is measured in the
quantized pass on every N-th row (default 4) the Linear sees, counted over the whole pass.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ascendv1_reference as ref  # noqa: E402
import eval_torch as ev  # noqa: E402
import internvl_torch as ivl  # noqa: E402
import outlier_torch as ot  # noqa: E402
import qwen2_5_vl_torch as q25  # noqa: E402
import qwen3_vl_torch as qv  # noqa: E402
import safetensors_np as st  # noqa: E402

F32 = np.float32


def scheme_of(where, item):
    q = item.get("qconfig") or {}
    w = q.get("weight") or {}
    act = q.get("act") or {"dtype": "float", "scope": "per_tensor", "symmetric": True, "method": "none"}
    if not (w.get("dtype") == "int8" and w.get("scope") == "per_channel" and w.get("symmetric") is True
            and w.get("method") == "minmax"):
        raise ref.RefError("%s: weight must be int8 per_channel symmetric minmax" % where)
    if act.get("dtype") == "int8" and act.get("scope") == "per_token" and act.get("symmetric") is True \
            and act.get("method") == "minmax":
        return "W8A8_DYNAMIC", True, None
    if act.get("dtype") == "float":
        return "W8A16", True, None
    if act.get("dtype") == "int8" and act.get("scope") == "per_tensor" and act.get("method") in ("minmax", "histogram"):
        return "W8A8", bool(act.get("symmetric")), act.get("method")
    raise ref.RefError("%s: act %r is not supported" % (where, act))


class Entry:
    def __init__(self, where, item):
        self.scheme, self.symmetric, self.method = scheme_of(where, item)
        self.include, self.exclude = item.get("include", ["*"]), item.get("exclude", [])

    def selects(self, module):
        return (any(ref.pattern_matches(p, module) for p in self.include)
                and not any(ref.pattern_matches(p, module) for p in self.exclude))


class Smooth:
    """iter_smooth / smooth_quant: which subgraphs, the formula's parameters, the shifted mode."""

    def __init__(self, where, item):
        self.kind = item["type"]
        if self.kind == "iter_smooth":
            self.alpha, self.scale_min = float(item.get("alpha", 0.9)), float(item.get("scale_min", 1e-5))
            self.types = item.get("enable_subgraph_type", ["norm-linear", "linear-linear", "ov", "up-down"])
        else:
            self.alpha, self.scale_min, self.types = float(item.get("alpha", 0.5)), 1e-5, ["norm-linear"]
        self.symmetric = bool(item.get("symmetric", True))
        self.vision = bool(item.get("vision_subgraphs", False))  # vlmslim's extension
        self.include, self.exclude = item.get("include"), item.get("exclude") or []

    def select(self, sgs):
        def ok(key):
            return ((self.include is None or any(ref.pattern_matches(p, key) for p in self.include))
                    and not any(ref.pattern_matches(p, key) for p in self.exclude))
        return [g for g in sgs if g[0] in self.types and ok(g[1])]


def load_config(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    spec = doc["spec"]
    entries, procs = [], []

    def flat(items, where):  # msModelSlim's group processor: its configs in its place
        for i, item in enumerate(items or []):
            if item.get("type") == "group":
                yield from flat(item.get("configs"), "%s[%d].configs" % (where, i))
            else:
                yield "%s[%d]" % (where, i), item
    for where, item in flat(spec.get("process"), "spec.process"):
        if item.get("type") == "quarot":
            if item.get("online", False):
                raise ref.RefError("%s: online quarot" % where)
            procs.append(("quarot", int(item.get("block_size", -1)), bool(item.get("export_extra_info", True))))
        elif item.get("type") in ("iter_smooth", "smooth_quant"):
            procs.append(("smooth", Smooth(where, item)))
        else:
            entries.append(Entry(where, item))
    vllm = spec["save"][0].get("type") == "compressed_tensors_saver"  # the first export's engine
    return entries, spec["save"][-1].get("part_file_size", 4), procs, vllm


def act_params(lo, hi, symmetric):
    lo, hi = min(F32(lo), F32(0)), max(F32(hi), F32(0))
    if symmetric:
        return max(F32(max(-lo, hi)) / F32(127), ref.EPS), F32(0)
    s = max(F32(hi / F32(255)) - F32(lo / F32(255)), ref.EPS)
    return F32(s), F32(np.rint(-lo / s) - F32(128))


def fq_tensor(x, s, o):
    return (torch.clamp(torch.round(x / s + o), -128, 127) - o) * s


def fq_token(x):
    s = (x.abs().amax(-1, keepdim=True) / 127).clamp(min=float(ref.EPS))
    return torch.clamp(torch.round(x / s), -128, 127) * s


REPORT_STRIDE = 4  # --report-stride
BF16 = False  # --compute bf16
VLLM_KERNELS = False  # the int8 pass as vLLM's kernels (the config's first saver is compressed-tensors)


def w8a8_epilogue(q, scale, s, o, b):
    """The export's W8A8 deq_scale = s * s_w and quant_bias = round(b / deq - o * sum(W_q)), in float32."""
    deq = (F32(s) * scale).astype(F32)
    b = b if b is not None else np.zeros(q.shape[0], F32)
    qb = np.rint((b / deq).astype(F32) - (F32(o) * q.astype(np.int64).sum(1).astype(F32)).astype(F32))
    return deq, qb


def round_bf16(t):
    """t rounded to the nearest bf16 value (ties to even), as float32."""
    return t.to(torch.bfloat16).float()


class Calibration:
    """Linear hook state of one unit: claims, statistics, quantized weights."""

    def __init__(self, claims):
        self.claims = claims          # module -> Entry
        self.stats = {}               # module -> [min, max]
        self.observers = {}           # module -> torch HistogramObserver (act method histogram)
        self.params = {}              # module -> (s, o)
        self.deq = {}                 # module -> dequantized weight (torch)
        self.int8 = {}                # module -> (q, weight scale): the int8 pass (--compute bf16)
        self.errors = {}              # module -> [sum (y_q - y)^2, sum y^2]
        self.seen = {}                # module -> rows the quantized pass has shown it
        self.mode = "float"

    def hook(self, name, x, w, b):
        e = self.claims.get(name)
        if BF16:  # what a bf16 model's Linear sees and multiplies: both operands rounded to bf16
            x, w = round_bf16(x), round_bf16(w)
        if self.mode == "observe" and e is not None and e.scheme == "W8A8":
            lo, hi = float(x.min()), float(x.max())
            cur = self.stats.setdefault(name, [lo, hi])
            cur[0], cur[1] = min(cur[0], lo), max(cur[1], hi)
            if e.method == "histogram":  # PyTorch's own observer, fed every call in order
                obs = self.observers.get(name)
                if obs is None:
                    obs = self.observers[name] = torch.ao.quantization.HistogramObserver(
                        bins=2048, upsample_rate=16, dtype=torch.quint8, qscheme=torch.per_tensor_affine,
                        reduce_range=False)
                obs(x.detach().float())
        if self.mode == "quantized" and e is not None:
            # the error is measured on every REPORT_STRIDE-th row this Linear sees, counted over
            # the whole pass
            x2 = x.reshape(-1, x.shape[-1])
            seen = self.seen.get(name, 0)
            self.seen[name] = seen + x2.shape[0]
            pick = torch.tensor([r for r in range(x2.shape[0]) if (seen + r) % REPORT_STRIDE == 0], dtype=torch.long)
            yf = x2[pick] @ w.T + (b if b is not None else 0)
            if BF16 and e.scheme in ("W8A8", "W8A8_DYNAMIC"):  # as vLLM Ascend's int8 kernels compute it
                yq = ev.quantized_linear(self.int8_linear(name, e, b), x)
                yq_pick = yq.reshape(-1, yq.shape[-1])[pick]
                acc = self.errors.setdefault(name, [0.0, 0.0])
                acc[0] += float(((yq_pick.double() - yf.double()) ** 2).sum())
                acc[1] += float((yf.double() ** 2).sum())
                return yq
            w = round_bf16(self.deq[name]) if BF16 else self.deq[name]
            if e.scheme == "W8A8":
                s, o = self.params[name]
                x = fq_tensor(x, float(s), float(o))
            elif e.scheme == "W8A8_DYNAMIC":
                x = fq_token(x)
            if BF16:
                x = round_bf16(x)
            yq = x @ w.T + (b if b is not None else 0)
            yq_pick = yq.reshape(-1, yq.shape[-1])[pick]
            acc = self.errors.setdefault(name, [0.0, 0.0])
            acc[0] += float(((yq_pick.double() - yf.double()) ** 2).sum())
            acc[1] += float((yf.double() ** 2).sum())
            return yq
        y = x @ w.T
        return y + b if b is not None else y


    def int8_linear(self, name, e, b):
        """The eval reference's description of an int8 Linear, with the export's own quant_bias
        and deq_scale (the formulas of export(): round(b / deq - o * sum(W_q)), s * s_w)."""
        q, scale = self.int8[name]
        d = {"kind": e.scheme, "w": torch.from_numpy(q.astype(np.float64))}
        if VLLM_KERNELS:  # eval_torch's compressed-tensors Linears
            expert = ".mlp.experts." in name
            d.update(kind="CT_W8A8" if e.scheme == "W8A8" else "CT_MOE_DYNAMIC" if expert else "CT_W8A8_DYNAMIC",
                     ws=torch.from_numpy(scale.astype(F32)), b=b, wsum=d["w"].sum(1))
            if e.scheme == "W8A8":
                s, o = self.params[name]
                d.update(s=F32(s), zp=float(o))
            return d
        if e.scheme == "W8A8":
            s, o = self.params[name]
            deq, qb = w8a8_epilogue(q, scale, s, o, b.numpy().astype(F32) if b is not None else None)
            d.update(s=F32(s), o=F32(o), deq=torch.from_numpy(deq), qb=torch.from_numpy(qb.astype(np.float64)))
        else:
            d.update(ws=torch.from_numpy(scale.astype(F32)), b=b)
        return d


def set_hook(cfg, hook):
    """Installs hook(name, x, w, b) -> y (or None) on the module whose linear() the family's
    forward calls. Qwen2.5-VL's forward names the Linears in the transformers >= 4.52 layout;
    the hook sees them under the export's (published) names, as the claims are keyed."""
    if cfg.get("model_type") == "qwen2_5_vl":
        q25.LINEAR_HOOK = None if hook is None else \
            (lambda name, x, w, b: hook(ref.qwen2_5_vl_export_name(name), x, w, b))
    elif cfg.get("model_type") == "internvl_chat":  # the checkpoint's names are the export's
        ivl.LINEAR_HOOK = hook
    else:
        qv.LINEAR_HOOK = hook


def run_unit(cfg, W, i, sample, routed_only=False):
    """Unit i of one sample: 0 the vision tower (sample's embeds), i >= 1 text layer i - 1 on
    sample's x (made from the embeddings at the first text unit)."""
    if cfg.get("model_type") == "internvl_chat":  # InternViT + pixel shuffle + mlp1; Qwen3, 1-D RoPE
        if i == 0:
            if sample["grids"]:
                sample["embeds"] = ivl.vision_forward(cfg, W, torch.from_numpy(sample["pv"]))
            else:
                sample["embeds"] = torch.zeros(0, ivl.text_config(cfg)["H"])
            return
        if sample.get("x") is None:
            sample["x"], sample["mask"], sample["rope"] = ivl.text_prepare(cfg, W, sample["ids"], sample["embeds"],
                                                                           sample["image_id"])
        sample["x"] = ivl.text_layer(cfg, W, i - 1, sample["x"], sample["rope"])
        return
    if cfg.get("model_type") == "qwen2_5_vl":  # no DeepStack, dense MLPs
        if i == 0:
            if sample["grids"]:
                sample["embeds"] = q25.vision_forward(cfg, W, torch.from_numpy(sample["pv"]), sample["grids"])
            else:
                sample["embeds"] = torch.zeros(0, cfg["vision_config"]["out_hidden_size"])
            return
        if sample.get("x") is None:
            sample["x"], sample["mask"], sample["rope"] = q25.text_prepare(cfg, W, sample["ids"], sample["embeds"],
                                                                           sample["grids"])
        sample["x"] = q25.text_layer(cfg, W, i - 1, sample["x"], sample["rope"])
        return
    if i == 0:
        if sample["grids"]:
            qv.ARGS_GRIDS = sample["grids"]
            sample["embeds"], sample["deep"] = qv.vision_forward(cfg, W, torch.from_numpy(sample["pv"]), sample["grids"])
        else:
            sample["embeds"], sample["deep"] = torch.zeros(0, cfg["vision_config"]["out_hidden_size"]), []
        return
    L = i - 1
    if sample.get("x") is None:
        sample["x"], sample["mask"], sample["rope"] = qv.text_prepare(cfg, W, sample["ids"], sample["embeds"], sample["grids"])
    x = qv.text_layer(cfg, W, L, sample["x"], sample["rope"], routed_only=routed_only)
    if L < len(sample["deep"]):
        x[sample["mask"]] = x[sample["mask"]] + sample["deep"][L]
    sample["x"] = x


def copy_sample(s):
    c = dict(s)
    for k in ("x", "embeds"):
        if c.get(k) is not None:
            c[k] = c[k].clone()
    return c


def export(a):
    global VLLM_KERNELS
    entries, part, procs, VLLM_KERNELS = load_config(a.config_path)
    ck = ref.Checkpoint(a.model_path)
    family = ck.config.get("model_type")
    if family not in ref.DISPLAY_NAMES:
        raise ref.RefError("%s/config.json: model_type %r is not qwen3_vl, qwen3_vl_moe, qwen2_5_vl or internvl_chat"
                           % (a.model_path, family))
    image_id = None  # InternVL: the <IMG_CONTEXT> id of tokenizer.json, where image features go
    if family == "qwen2_5_vl":
        cfg, W = q25.load(a.model_path)
        EW = ot.Renamed(W, ot.published_to_forward)  # W under the export's (published) names
    elif family == "internvl_chat":
        cfg, W = ivl.load(a.model_path)
        EW = W
        if os.path.exists(os.path.join(a.model_path, "tokenizer.json")):
            image_id = ivl.special_ids(a.model_path)[ivl.IMG_CONTEXT]
    else:
        cfg, W = qv.load(a.model_path)
        EW = W
    moe_family = family == "qwen3_vl_moe"
    ws = ot.Weights(EW, {k: t.dtype for k, t in ck.tensors.items()})
    quarot = None
    for p in procs:
        if p[0] == "quarot":
            quarot = ot.QuaRot(cfg, p[1], moe_family)
            quarot.pre_run(ws)   # before any unit
            quarot.post_run(ws)  # touches only the tail
    if procs:
        ref.TIE_WINDOW_ABS = 2.0 ** -12  # rotated and smoothed weights carry float32 sums' rounding
    samples = []
    while os.path.exists(os.path.join(a.inputs, "sample_%d.safetensors" % len(samples))):
        ids, pv, grids = qv.read_inputs(os.path.join(a.inputs, "sample_%d.safetensors" % len(samples)))
        samples.append({"ids": ids, "pv": pv, "grids": grids, "image_id": image_id})
    unit_items = list(ref.units(ck, family))
    claims = []
    for _, items in unit_items:
        c = {}
        for item in items:
            if item[0] == "linear":  # first entry wins
                e = next((e for e in entries if e.selects(item[1])), None)
                if e is not None:
                    c[item[1]] = e
        claims.append(c)
    static = [i for i, c in enumerate(claims) if any(e.scheme == "W8A8" for e in c.values())]
    last = static[-1] if static else -1
    n_layers = len(unit_items) - 1
    for p in procs:
        if p[0] == "smooth":
            for L in range(n_layers):
                if p[1].select(ot.subgraphs(cfg, moe_family, L)):
                    last = max(last, L + 1)

    def smooth_unit(sm, i):
        if i > 0:
            sgs = sm.select(ot.subgraphs(cfg, moe_family, i - 1))
        else:
            sgs = sm.select(ot.vision_subgraphs(cfg)) if sm.vision else []
        if not sgs:
            return
        first = {g[2][0]: k for k, g in enumerate(sgs)}
        acc, lo, hi = {}, {}, {}
        shifted = [not sm.symmetric and g[0] == "norm-linear" for g in sgs]

        def hook(name, x, w, b):
            if BF16:
                x, w = round_bf16(x), round_bf16(w)
            k = first.get(name)
            if k is not None:
                x2 = x.reshape(-1, x.shape[-1])
                lo[k] = x2.amin(0) if k not in lo else torch.minimum(lo[k], x2.amin(0))
                hi[k] = x2.amax(0) if k not in hi else torch.maximum(hi[k], x2.amax(0))
                # the shifted mode: |x - shift| with the shift as it stands after this call
                v = (x2 - (hi[k] + lo[k]) / 2).abs().amax(0) if shifted[k] else x2.abs().amax(0)
                acc[k] = v if k not in acc else torch.maximum(acc[k], v)
            y = x @ w.T
            return y + b if b is not None else y
        set_hook(cfg, hook)
        for s in samples:
            run_unit(cfg, W, i, copy_sample(s))
        def dtype_of(m):
            return ck.tensors[m + ".weight"].dtype if m + ".weight" in ck.tensors else "F32"
        for k in sorted(range(len(sgs)), key=lambda k: ot.PRIORITY[sgs[k][0]]):
            if k in acc:
                kind, source, targets = sgs[k][:3]
                shift = None
                if shifted[k]:
                    for m in [source] + targets:
                        ot.ensure_bias(ws, m, dtype_of)
                    shift = (hi[k] + lo[k]) / 2
                ot.fold(ws, cfg, kind, source, targets, acc[k], sm.alpha, sm.scale_min, dtype_of, shift,
                        sgs[k][3] if len(sgs[k]) > 3 else None)

    def transformed(items):
        """The unit's items with the current (transformed) values."""
        out, norm_biases = [], []
        for item in items:
            if item[0] == "linear":
                w = ws.get(item[1]).numpy().astype(F32)
                b = None
                if item[1] + ".bias" in EW:  # the checkpoint's, or created by asymmetric smoothing
                    dt = item[3].dtype if item[3] is not None else item[4].dtype
                    b = st.Tensor.from_f32(dt, EW[item[1] + ".bias"].numpy())
                item = ("linear", item[1], w, b, st.Tensor.from_f32(item[4].dtype, w))
            else:
                name = item[1]
                if name.endswith("layernorm.weight") and name[:-len("weight")] + "bias" in EW:
                    norm_biases.append(("param", name[:-len("weight")] + "bias", st.Tensor.from_f32(
                        item[2].dtype, EW[name[:-len("weight")] + "bias"].numpy())))
                item = ("param", name, st.Tensor.from_f32(item[2].dtype, EW[name].numpy()))
            out.append(item)
        return out + norm_biases

    os.makedirs(a.save_path, exist_ok=True)
    bp = os.path.join(a.save_path, "%s_best_practice.yaml" % a.model_type)
    shutil.copyfile(a.config_path, bp)
    os.chmod(bp, ref.EXPORT_MODE)
    writer = ref.Writer(a.save_path, part * 2 ** 30)
    description, ties, used, report = {}, {}, set(), {}
    bf16 = ck.config.get("torch_dtype", ck.config.get("text_config", {}).get("torch_dtype")) == "bfloat16"

    def put(name, tensor, qtype):
        writer.add(name, tensor)
        description[name] = qtype

    with torch.no_grad():
        for i, (_, items) in enumerate(unit_items):
            for p in procs:  # YAML order
                if p[0] == "quarot" and i > 0:
                    quarot.layer(ws, i - 1)
                elif p[0] == "smooth":
                    smooth_unit(p[1], i)
            if procs:
                items = transformed(items)
            cal = Calibration(claims[i])
            set_hook(cfg, cal.hook)
            quant = {}
            for item in items:
                if item[0] == "linear" and item[1] in cal.claims:
                    q, scale, tie_idx = ref.quantize_weight(item[2], getattr(ref, "TIE_WINDOW_ABS", 0.0))
                    quant[item[1]] = (q, scale)
                    cal.deq[item[1]] = torch.from_numpy(q.astype(F32) * scale[:, None])
                    cal.int8[item[1]] = (q, scale)
                    if len(tie_idx):
                        ties[item[1] + ".weight"] = [int(t) for t in tie_idx]
            if i <= last:
                has_static = i in static
                if has_static:
                    cal.mode = "observe"
                    for s in samples:
                        run_unit(cfg, W, i, copy_sample(s))
                    for name, e in cal.claims.items():
                        if e.scheme == "W8A8":
                            if name not in cal.stats:
                                raise ref.RefError("%s: no calibration token reached it" % name)
                            lo, hi = cal.stats[name]
                            if e.method == "histogram":  # the L2-optimal clip range of the histogram
                                new_min, new_max = cal.observers[name]._non_linear_param_search()
                                lo, hi = new_min.item(), new_max.item()
                            cal.params[name] = act_params(lo, hi, e.symmetric)
                # the quantized pass: measures ||y_q - y|| / ||y|| (experts on routed tokens) and
                # by default propagates
                cal.mode = "quantized"
                keep = i < last and a.propagate == "quantized"
                for s in samples:
                    run_unit(cfg, W, i, s if keep else copy_sample(s), routed_only=True)
                if i < last and a.propagate == "float":
                    cal.mode = "float"
                    for s in samples:
                        run_unit(cfg, W, i, s)
                for name, (e2, r2) in cal.errors.items():
                    report[name] = (e2 / r2) ** 0.5 if r2 > 0 else 0.0
            for item in items:
                if item[0] == "param":
                    put(item[1], item[2], "FLOAT")
                    continue
                _, module, w, bias, w_stored = item
                e = cal.claims.get(module)
                if e is None:
                    put(module + ".weight", w_stored, "FLOAT")
                    if bias is not None:
                        put(module + ".bias", bias, "FLOAT")
                    continue
                q, scale = quant[module]
                rows = w.shape[0]
                used.add(e.scheme)
                if e.scheme == "W8A8":
                    s, o = cal.params[module]
                    deq, qb = w8a8_epilogue(q, scale, s, o, bias.to_f32() if bias is not None else None)
                    put(module + ".weight", st.Tensor("I8", q.shape, q), "W8A8")
                    put(module + ".quant_bias", st.Tensor("I32", (rows,), qb.astype(np.int32)), "W8A8")
                    put(module + ".input_scale", st.Tensor("F32", (1,), np.array([s], F32)), "W8A8")
                    put(module + ".input_offset", st.Tensor("F32", (1,), np.array([o], F32)), "W8A8")
                    if bf16:
                        put(module + ".deq_scale", st.Tensor("F32", (rows,), deq), "W8A8")
                    else:
                        bits = deq.view(np.int32).astype(np.int64)
                        put(module + ".deq_scale", st.Tensor("I64", (rows,), bits), "W8A8")
                else:
                    put(module + ".weight", st.Tensor("I8", q.shape, q), e.scheme)
                    put(module + ".weight_scale", st.Tensor("F32", (rows, 1), scale), e.scheme)
                    put(module + ".weight_offset", st.Tensor("F32", (rows, 1), np.zeros(rows, F32)), e.scheme)
                if bias is not None:
                    put(module + ".bias", st.Tensor("F32", bias.shape, bias.to_f32()), "FLOAT")
    set_hook(cfg, None)
    for _, name, t in ref.tail(ck):
        put(name, st.Tensor.from_f32(t.dtype, EW[name].numpy()) if procs else t, "FLOAT")
    writer.close()
    optional = {}
    if quarot is not None and any(p[0] == "quarot" and p[2] for p in procs):
        os.makedirs(os.path.join(a.save_path, "optional"), exist_ok=True)
        r = quarot.dense().numpy().astype(F32)
        st.write_file(os.path.join(a.save_path, "optional", "quarot.safetensors"),
                      [("global_rotation", st.Tensor("F32", r.shape, r))], mode=ref.EXPORT_MODE)
        optional = {"quarot": {"rotation_map": {"global_rotation": "optional/quarot.safetensors"}}}
    description.update({"version": "1.0.0",
                        "model_quant_type": max(used, key=ref.PRIORITY.index) if used else "Unknown",
                        "metadata": {}, "group_size": 0, "optional": optional})
    ref.write_json(os.path.join(a.save_path, "quant_model_description.json"), description, 4)
    ref.copy_side_files(a.model_path, a.save_path)
    if a.report_out:
        with open(a.report_out, "w") as f:
            json.dump({"relative_output_error": report}, f, indent=1, sort_keys=True)
    if a.ties_out:
        with open(a.ties_out, "w") as f:
            f.write("{\n" + ",\n".join("%s: %s" % (json.dumps(k), json.dumps(ties[k])) for k in sorted(ties)) + "\n}\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model_path", required=True)
    ap.add_argument("--config_path", required=True)
    ap.add_argument("--model_type", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--save_path", required=True)
    ap.add_argument("--propagate", choices=["quantized", "float"], default="quantized")
    ap.add_argument("--compute", choices=["fp32", "bf16"], default="fp32",
                    help="bf16: every Linear's input and weight rounded to bf16, float32 products (vlmslim's --compute)")
    ap.add_argument("--ties-out", dest="ties_out", default=None)
    ap.add_argument("--report-out", dest="report_out", default=None,
                    help="write each claimed Linear's relative output error here (JSON)")
    ap.add_argument("--report-stride", dest="report_stride", type=int, default=4,
                    help="measure the error on every N-th row each Linear sees (vlmslim's --report_stride)")
    a = ap.parse_args()
    global REPORT_STRIDE, BF16
    REPORT_STRIDE = a.report_stride
    BF16 = a.compute == "bf16"
    try:
        export(a)
    except (ref.RefError, ot.OutlierError, ValueError, KeyError, OSError) as e:
        print("calib_torch: error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
