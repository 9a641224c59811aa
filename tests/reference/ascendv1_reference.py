#!/usr/bin/env python3
"""Reference implementation of the data-free `vlmslim quant` export (numpy + PyYAML).

Written from the specification (msmodelslim_vlm_spec.md §4.4, §5.1, §6.2-6.3, §7,
qwen3_vl_spec.md §1 and, for Qwen2.5-VL, docs/qwen2_5_vl.md §1, §3, §4.2), not from the C code,
so that the C implementation can be checked against it. It reads a Hugging Face Qwen3-VL /
Qwen3-VL-MoE / Qwen2.5-VL checkpoint, or an InternVL3.5 one in its original trust_remote_code
layout (docs/internvl.md), and an msModelSlim YAML config whose processors are
data-free `linear_quant` entries (W8A8_DYNAMIC, W8A16) and writes the `ascendv1` export
msModelSlim's AscendV1 saver would write:

  quant_model_weights.safetensors                (part_file_size 0), or
  quant_model_weights-0000i-of-0000K.safetensors + quant_model_weights.safetensors.index.json
  quant_model_description.json
  the checkpoint's top-level *.json/*.py/*.txt/*.jinja (not *index.json), config.json without
  quantization_config, and <model_type>_best_practice.yaml (the config file's bytes)

Names: Qwen3-VL exports keep the checkpoint's names (model.visual.*, model.language_model.*).
Qwen2.5-VL exports use the published layout (visual.*, model.layers.*, model.embed_tokens,
model.norm, lm_head: what msModelSlim writes and vLLM Ascend v0.10.2rc1 .. v0.17.x look up,
docs/qwen2_5_vl.md §4.2) whichever layout the checkpoint has (transformers < 4.52's published
one, or >= 4.52's model.visual.* / model.language_model.*); InternVL3.5 exports keep the
checkpoint's names (vision_model.*, mlp1.*, language_model.model.*, language_model.lm_head),
the projector mlp1 written float after the tail, where msModelSlim's saver writes it. The
config's include/exclude patterns are matched against these export names.

Optionally it lists the int8 elements whose w/scale lies within a hair of a .5 rounding
boundary without being exactly on it (--ties-out): there an implementation computing in
float32 in a different but legitimate order (a reciprocal, a scale differing in its last bit)
may round the other way, and vs-compare-export accepts |diff| = 1 there only. Exact ties
(w/scale = k + 0.5 exactly, frequent with bf16 weights) are not listed: float32 division is
exact about them and round-half-to-even decides them, so they must match.

usage: ascendv1_reference.py --model_path M --config_path C.yaml --model_type NAME
                             --save_path OUT [--part-bytes N] [--ties-out TIES.json]
"""

import argparse
import fnmatch
import json
import os
import shutil
import sys

import numpy as np
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np as st  # noqa: E402

EXPORT_MODE = 0o600
EPS = np.float32(2.0 ** -23)
# A quotient within this relative distance of k + 0.5 is a "tie" for the compare tool. It
# covers float32 reordering (a few ulps, 2^-23 each) and a scale that differs from ours by up
# to the compare tool's float tolerance (1e-6 relative).
TIE_WINDOW = 2.0 ** -17

# msModelSlim config.ini [ModelAdapter]: display name -> adapter group (= HF model_type).
DISPLAY_NAMES = {
    "qwen3_vl_moe": ["Qwen3-VL-30B-A3B", "Qwen3-VL-235B-A22B"],
    "qwen3_vl": ["Qwen3-VL-4B-Instruct", "Qwen3-VL-8B-Instruct", "Qwen3-VL-32B-Instruct",
                 "Qwen3-VL-Embedding-2B", "Qwen3-VL-Embedding-8B", "Qwen3-VL-Reranker-2B",
                 "Qwen3-VL-Reranker-8B"],
    "qwen2_5_vl": ["Qwen2.5-VL-3B-Instruct", "Qwen2.5-VL-7B-Instruct", "Qwen2.5-VL-32B-Instruct",
                   "Qwen2.5-VL-72B-Instruct"],
    # InternVL3.5 (original trust_remote_code layout, config.json model_type internvl_chat):
    # msModelSlim's adapter group internvl3_5 (vlmslim's internvl3_5_dense)
    "internvl_chat": ["InternVL3_5-38B", "InternVL3_5-1B", "InternVL3_5-2B", "InternVL3_5-4B", "InternVL3_5-8B",
                      "InternVL3_5-14B"],
}

# model_quant_type priority, low -> high (spec §7.3)
PRIORITY = ["FLOAT", "W16A16S", "W8A16", "W8A8_DYNAMIC", "W8A8_MIX", "W8A8", "WFP8AFP8_DYNAMIC",
            "W8A8_MXFP8", "W4A8_MXFP", "W4A4_DYNAMIC", "W4A4_MXFP4", "W4A4_MXFP4_DUALSCALE",
            "W4A4_MXFP4_SVD"]


class RefError(Exception):
    pass


# ---------------------------------------------------------------- include / exclude patterns

def expand_braces(pattern):
    """wcmatch BRACE expansion: `{a,b}` alternatives, nestable; a brace group without a top
    level comma (or unbalanced) is literal."""
    depth, start = 0, -1
    for i, c in enumerate(pattern):
        if c == "\\":
            continue
        if c == "{":
            if depth == 0:
                start = i
            depth += 1
        elif c == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                body = pattern[start + 1:i]
                parts, d, last = [], 0, 0
                for j, ch in enumerate(body):
                    if ch == "{":
                        d += 1
                    elif ch == "}":
                        d -= 1
                    elif ch == "," and d == 0:
                        parts.append(body[last:j])
                        last = j + 1
                if not parts:  # no comma: literal braces, keep looking after them
                    rest = expand_braces(pattern[i + 1:])
                    return [pattern[:i + 1] + r for r in rest]
                parts.append(body[last:])
                head, tail = pattern[:start], pattern[i + 1:]
                out = []
                for p in parts:
                    out.extend(expand_braces(head + p + tail))
                return out
    return [pattern]


def pattern_matches(pattern, name):
    """Exact string, else whole-string fnmatch (`*` crosses dots), case-sensitive."""
    if pattern == name:
        return True
    return any(fnmatch.fnmatchcase(name, p) for p in expand_braces(pattern))


# ---------------------------------------------------------------- the YAML config

class LinearQuantEntry:
    def __init__(self, index, item):
        self.where = "spec.process[%d]" % index
        qconfig = item.get("qconfig")
        if not isinstance(qconfig, dict) or "weight" not in qconfig:
            raise RefError("%s: qconfig.weight is required" % self.where)
        act = qconfig.get("act") or {"dtype": "float", "scope": "per_tensor",
                                      "symmetric": True, "method": "none"}
        w = qconfig["weight"]
        weight_ok = (w.get("dtype") == "int8" and w.get("scope") == "per_channel"
                     and w.get("symmetric") is True and w.get("method") == "minmax")
        if not weight_ok:
            raise RefError("%s: weight %r is not int8 per_channel symmetric minmax" % (self.where, w))
        if (act.get("dtype") == "int8" and act.get("scope") == "per_token"
                and act.get("symmetric") is True and act.get("method") == "minmax"):
            self.scheme = "W8A8_DYNAMIC"
        elif act.get("dtype") == "float" and act.get("method", "none") == "none":
            self.scheme = "W8A16"
        else:
            raise RefError("%s: act %r: only per_token int8 (W8A8_DYNAMIC) or float (W8A16) "
                           "are data-free" % (self.where, act))
        self.include = item.get("include", ["*"])
        self.exclude = item.get("exclude", [])

    def selects(self, module):
        return (any(pattern_matches(p, module) for p in self.include)
                and not any(pattern_matches(p, module) for p in self.exclude))


def load_config(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict) or doc.get("apiversion") != "multimodal_vlm_modelslim_v1":
        raise RefError("%s: apiversion must be multimodal_vlm_modelslim_v1" % path)
    spec = doc.get("spec") or {}
    entries = []
    for i, item in enumerate(spec.get("process") or []):
        if item.get("type") != "linear_quant":
            raise RefError("%s: spec.process[%d]: type %r is not data-free linear_quant"
                           % (path, i, item.get("type")))
        entries.append(LinearQuantEntry(i, item))
    save = spec.get("save") or []
    if not save or save[-1].get("type") != "ascendv1_saver":
        raise RefError("%s: the last spec.save entry must be ascendv1_saver" % path)
    part = save[-1].get("part_file_size", 4)
    if not isinstance(part, int) or part < 0:
        raise RefError("%s: part_file_size must be an integer >= 0" % path)
    return entries, part


# ---------------------------------------------------------------- the checkpoint

def qwen2_5_vl_export_name(name):
    """A Qwen2.5-VL tensor or module name in either layout -> the published one the export
    uses: model.visual.* -> visual.*, model.language_model.* -> model.*; published names (and
    lm_head) are kept."""
    if name.startswith("model.visual."):
        return name[len("model."):]
    if name.startswith("model.language_model."):
        return "model." + name[len("model.language_model."):]
    return name


def qwen2_5_vl_text(cfg):
    """A text field getter: text_config's value when it has the key, else the top level's
    (published configs are flat; transformers >= 4.52 nests them, often keeping both)."""
    tc = cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else {}
    return lambda k, d=None: tc.get(k, cfg.get(k, d))


class Checkpoint:
    def __init__(self, path):
        self.path = path
        with open(os.path.join(path, "config.json")) as f:
            self.config = json.load(f)
        self.tensors, _ = st.load_checkpoint(path)
        self.source = {k: k for k in self.tensors}  # export name -> the checkpoint's name
        if self.config.get("model_type") == "qwen2_5_vl":
            renamed = {}
            for k, t in self.tensors.items():
                e = qwen2_5_vl_export_name(k)
                if e in renamed:
                    raise RefError("%s: tensors %r and %r are one tensor in the two name layouts"
                                   % (path, self.source[e], k))
                renamed[e], self.source[e] = t, k
            self.tensors = renamed
            self.source = {e: self.source[e] for e in renamed}
        self.used = set()

    def get(self, name, shape):
        t = self.tensors.get(name)
        if t is None:
            raise RefError("%s: tensor %r missing" % (self.path, name))
        src = self.source[name]
        if t.shape != tuple(shape):
            raise RefError("%s: tensor %r has shape %s, expected %s"
                           % (self.path, src, list(t.shape), list(shape)))
        if t.dtype not in st.FLOAT_TYPES:
            raise RefError("%s: tensor %r has dtype %s" % (self.path, src, t.dtype))
        self.used.add(name)
        return t


def is_moe_layer(tc, i):
    return (tc.get("num_experts", 0) > 0 and i not in (tc.get("mlp_only_layers") or [])
            and (i + 1) % tc.get("decoder_sparse_step", 1) == 0)


def units(ck, family):
    """Yields (unit name, [items]) in forward order; an item is ("param", name, Tensor) or
    ("linear", module, weight f32 [out,in], bias Tensor or None, weight Tensor for FLOAT)."""
    if family == "qwen2_5_vl":
        yield from units_qwen2_5_vl(ck)
        return
    if family == "internvl_chat":
        yield from units_internvl(ck)
        return
    cfg = ck.config
    vc, tc = cfg["vision_config"], cfg["text_config"]
    hv, h = vc["hidden_size"], tc["hidden_size"]
    iv = vc["intermediate_size"]
    v = "model.visual."

    def param(name, shape):
        return ("param", name, ck.get(name, shape))

    def linear(module, out, inp, bias):
        w = ck.get(module + ".weight", [out, inp])
        b = ck.get(module + ".bias", [out]) if bias else None
        return ("linear", module, w.to_f32(), b, w)

    items = [param(v + "patch_embed.proj.weight",
                   [hv, vc.get("in_channels", 3), vc["temporal_patch_size"], vc["patch_size"],
                    vc["patch_size"]]),
             param(v + "patch_embed.proj.bias", [hv]),
             param(v + "pos_embed.weight", [vc["num_position_embeddings"], hv])]
    for i in range(vc["depth"]):
        b = "%sblocks.%d." % (v, i)
        items += [param(b + "norm1.weight", [hv]), param(b + "norm1.bias", [hv]),
                  param(b + "norm2.weight", [hv]), param(b + "norm2.bias", [hv]),
                  linear(b + "attn.qkv", 3 * hv, hv, True), linear(b + "attn.proj", hv, hv, True),
                  linear(b + "mlp.linear_fc1", iv, hv, True), linear(b + "mlp.linear_fc2", hv, iv, True)]
    m4 = hv * vc["spatial_merge_size"] ** 2
    mergers = [(v + "merger.", hv)]
    mergers += [("%sdeepstack_merger_list.%d." % (v, j), m4)
                for j in range(len(vc.get("deepstack_visual_indexes") or []))]
    for prefix, norm_dim in mergers:
        items += [param(prefix + "norm.weight", [norm_dim]), param(prefix + "norm.bias", [norm_dim]),
                  linear(prefix + "linear_fc1", m4, m4, True),
                  linear(prefix + "linear_fc2", vc["out_hidden_size"], m4, True)]
    yield "model.visual", items

    nq, nkv, d = tc["num_attention_heads"], tc["num_key_value_heads"], tc["head_dim"]
    for i in range(tc["num_hidden_layers"]):
        p = "model.language_model.layers.%d." % i
        items = [linear(p + "self_attn.q_proj", nq * d, h, False),
                 linear(p + "self_attn.k_proj", nkv * d, h, False),
                 linear(p + "self_attn.v_proj", nkv * d, h, False),
                 linear(p + "self_attn.o_proj", h, nq * d, False),
                 param(p + "self_attn.q_norm.weight", [d]), param(p + "self_attn.k_norm.weight", [d])]
        if family == "qwen3_vl_moe" and is_moe_layer(tc, i):
            e_n, im = tc["num_experts"], tc["moe_intermediate_size"]
            items.append(linear(p + "mlp.gate", e_n, h, False))
            gu_t = ck.get(p + "mlp.experts.gate_up_proj", [e_n, h, 2 * im])
            dn_t = ck.get(p + "mlp.experts.down_proj", [e_n, im, h])
            gu, dn = gu_t.array, dn_t.array  # storage form: transposes keep the bits
            for e in range(e_n):
                q = "%smlp.experts.%d." % (p, e)
                for proj, storage in (("gate_proj", gu[e][:, :im].T), ("up_proj", gu[e][:, im:].T),
                                      ("down_proj", dn[e].T)):
                    w = st.Tensor(gu_t.dtype, storage.shape, np.ascontiguousarray(storage))
                    items.append(("linear", q + proj, w.to_f32(), None, w))
        else:
            inter = tc["intermediate_size"]
            items += [linear(p + "mlp.gate_proj", inter, h, False),
                      linear(p + "mlp.up_proj", inter, h, False),
                      linear(p + "mlp.down_proj", h, inter, False)]
        items += [param(p + "input_layernorm.weight", [h]),
                  param(p + "post_attention_layernorm.weight", [h])]
        yield p[:-1], items


def units_qwen2_5_vl(ck):
    """Qwen2.5-VL's units under the published names, each in module order (docs/qwen2_5_vl.md
    §2-3): the vision tower (patch embed without bias, blocks with RMSNorms and biased
    SwiGLU, the merger), then each Qwen2 decoder layer (q/k/v with bias, no q/k norms)."""
    cfg = ck.config
    vc, g = cfg["vision_config"], qwen2_5_vl_text(cfg)
    hv, iv, h = vc["hidden_size"], vc["intermediate_size"], g("hidden_size")
    v = "visual."

    def param(name, shape):
        return ("param", name, ck.get(name, shape))

    def linear(module, out, inp, bias):
        w = ck.get(module + ".weight", [out, inp])
        b = ck.get(module + ".bias", [out]) if bias else None
        return ("linear", module, w.to_f32(), b, w)

    p_, c = vc.get("patch_size", 14), vc.get("in_channels", vc.get("in_chans", 3))
    items = [param(v + "patch_embed.proj.weight", [hv, c, vc.get("temporal_patch_size", 2), p_, p_])]
    for i in range(vc["depth"]):
        b = "%sblocks.%d." % (v, i)
        items += [param(b + "norm1.weight", [hv]), param(b + "norm2.weight", [hv]),
                  linear(b + "attn.qkv", 3 * hv, hv, True), linear(b + "attn.proj", hv, hv, True),
                  linear(b + "mlp.gate_proj", iv, hv, True), linear(b + "mlp.up_proj", iv, hv, True),
                  linear(b + "mlp.down_proj", hv, iv, True)]
    m4 = hv * vc.get("spatial_merge_size", 2) ** 2
    items += [param(v + "merger.ln_q.weight", [hv]), linear(v + "merger.mlp.0", m4, m4, True),
              linear(v + "merger.mlp.2", vc["out_hidden_size"], m4, True)]
    yield "visual", items

    nq = g("num_attention_heads")
    nkv, inter = g("num_key_value_heads", nq), g("intermediate_size")
    if h % nq:
        raise RefError("num_attention_heads (%d) does not divide hidden_size (%d)" % (nq, h))
    d = h // nq
    for i in range(g("num_hidden_layers")):
        p = "model.layers.%d." % i
        items = [linear(p + "self_attn.q_proj", nq * d, h, True),
                 linear(p + "self_attn.k_proj", nkv * d, h, True),
                 linear(p + "self_attn.v_proj", nkv * d, h, True),
                 linear(p + "self_attn.o_proj", h, nq * d, False),
                 linear(p + "mlp.gate_proj", inter, h, False),
                 linear(p + "mlp.up_proj", inter, h, False),
                 linear(p + "mlp.down_proj", h, inter, False),
                 param(p + "input_layernorm.weight", [h]),
                 param(p + "post_attention_layernorm.weight", [h])]
        yield p[:-1], items


def units_internvl(ck):
    """InternVL3.5's units under the checkpoint's (original layout) names (docs/internvl.md §3,
    §5): msModelSlim's, the vision unit `vision_model`, then each Qwen3 decoder layer
    language_model.model.layers.N, each in the order msModelSlim's saver writes it: every
    submodule in named_modules() order with its own parameters (named_parameters(recurse=False))
    first. So (modeling_intern_vit.py) the embeddings' class_embedding and position_embedding,
    then patch_embedding's weight and bias; per encoder layer its ls1 and ls2, then attn.qkv,
    [attn.q_norm, attn.k_norm], attn.proj, mlp.fc1, mlp.fc2, norm1, norm2 (LayerNorm: weight,
    bias; RMSNorm: weight); per decoder layer q/k/v/o (no bias), q_norm, k_norm, the dense MLP, the
    two norms. The projector mlp1 is in no unit (msModelSlim never visits it, so never quantizes
    it): tail() writes it, float."""
    cfg = ck.config
    vc, lc = cfg["vision_config"], cfg["llm_config"]
    c, ci, h = vc["hidden_size"], vc["intermediate_size"], lc["hidden_size"]
    rms = vc.get("norm_type", "rms_norm") == "rms_norm"   # InternVisionConfig's defaults
    qkn, qkv_bias = vc.get("qk_normalization", True), vc.get("qkv_bias", False)
    p_ = vc.get("patch_size", 14)
    side = (cfg.get("force_image_size") or vc.get("image_size", 224)) // p_

    def param(name, shape):
        return ("param", name, ck.get(name, shape))

    def linear(module, out, inp, bias):
        w = ck.get(module + ".weight", [out, inp])
        b = ck.get(module + ".bias", [out]) if bias else None
        return ("linear", module, w.to_f32(), b, w)

    e = "vision_model.embeddings."
    items = [param(e + "class_embedding", [1, 1, c]), param(e + "position_embedding", [1, side * side + 1, c]),
             param(e + "patch_embedding.weight", [c, 3, p_, p_]), param(e + "patch_embedding.bias", [c])]
    for i in range(vc["num_hidden_layers"]):
        b = "vision_model.encoder.layers.%d." % i
        items += [param(b + "ls1", [c]), param(b + "ls2", [c]), linear(b + "attn.qkv", 3 * c, c, qkv_bias)]
        if qkn:
            items += [param(b + "attn.q_norm.weight", [c]), param(b + "attn.k_norm.weight", [c])]
        items += [linear(b + "attn.proj", c, c, True), linear(b + "mlp.fc1", ci, c, True),
                  linear(b + "mlp.fc2", c, ci, True)]
        for norm in ("norm1", "norm2"):
            items.append(param(b + norm + ".weight", [c]))
            if not rms:
                items.append(param(b + norm + ".bias", [c]))
    yield "vision_model", items

    nq, nkv = lc["num_attention_heads"], lc.get("num_key_value_heads", lc["num_attention_heads"])
    d, inter = lc.get("head_dim", 128), lc["intermediate_size"]
    for i in range(lc["num_hidden_layers"]):
        p = "language_model.model.layers.%d." % i
        items = [linear(p + "self_attn.q_proj", nq * d, h, False),
                 linear(p + "self_attn.k_proj", nkv * d, h, False),
                 linear(p + "self_attn.v_proj", nkv * d, h, False),
                 linear(p + "self_attn.o_proj", h, nq * d, False),
                 param(p + "self_attn.q_norm.weight", [d]), param(p + "self_attn.k_norm.weight", [d]),
                 linear(p + "mlp.gate_proj", inter, h, False),
                 linear(p + "mlp.up_proj", inter, h, False),
                 linear(p + "mlp.down_proj", h, inter, False),
                 param(p + "input_layernorm.weight", [h]),
                 param(p + "post_attention_layernorm.weight", [h])]
        yield p[:-1], items


def head_name(config):
    """The family's output head module: language_model.lm_head for InternVL, else lm_head."""
    return "language_model.lm_head" if config.get("model_type") == "internvl_chat" else "lm_head"


def tail(ck):
    """embed_tokens, final norm and lm_head: written FLOAT (the runner never yields them); for
    InternVL then the projector mlp1 (LayerNorm mlp1.0, Linears mlp1.1 and mlp1.3), which
    InternVLChatModel registers after language_model: msModelSlim's saver writes every module no
    unit covered in the model's module order after the run."""
    head = head_name(ck.config) + ".weight"
    if ck.config.get("model_type") == "qwen2_5_vl":
        g = qwen2_5_vl_text(ck.config)
        vocab, h, tied = g("vocab_size"), g("hidden_size"), g("tie_word_embeddings", False)
        text = "model."
    elif ck.config.get("model_type") == "internvl_chat":
        lc = ck.config["llm_config"]
        vocab, h = lc["vocab_size"], lc["hidden_size"]
        tied = lc.get("tie_word_embeddings", ck.config.get("tie_word_embeddings", False))
        text = "language_model.model."
    else:
        tc = ck.config["text_config"]
        vocab, h = tc["vocab_size"], tc["hidden_size"]
        tied = ck.config.get("tie_word_embeddings", tc.get("tie_word_embeddings", False))
        text = "model.language_model."
    embed = ck.get(text + "embed_tokens.weight", [vocab, h])
    items = [("param", text + "embed_tokens.weight", embed),
             ("param", text + "norm.weight", ck.get(text + "norm.weight", [h]))]
    if tied:
        ck.used.add(head)  # a tied checkpoint's own copy, if any, is not used
        items.append(("param", head, st.Tensor(embed.dtype, embed.shape, embed.array.copy())))
    else:
        items.append(("param", head, ck.get(head, [vocab, h])))
    if ck.config.get("model_type") == "internvl_chat":
        c = ck.config["vision_config"]["hidden_size"]
        wide = c * int(round(1 / ck.config.get("downsample_ratio", 0.5))) ** 2
        for name, shape in (("mlp1.0.weight", [wide]), ("mlp1.0.bias", [wide]), ("mlp1.1.weight", [h, wide]),
                            ("mlp1.1.bias", [h]), ("mlp1.3.weight", [h, h]), ("mlp1.3.bias", [h])):
            items.append(("param", name, ck.get(name, shape)))
    return items


# ---------------------------------------------------------------- quantization math

def quantize_weight(w, abs_window=0.0):
    """int8 per-channel symmetric minmax in float32 (spec §6.2): returns q, scale and the flat
    indices of the near (not exact) rounding ties (within TIE_WINDOW relative, or abs_window of
    a quantization step: the weights of a rotated model carry the rounding of a float32 sum)."""
    w = np.asarray(w, dtype=np.float32)
    lo = np.minimum(w.min(axis=1), np.float32(0))
    hi = np.maximum(w.max(axis=1), np.float32(0))
    absmax = np.maximum(-lo, hi)
    scale = np.maximum(absmax / np.float32(127), EPS).astype(np.float32)
    y = (w / scale[:, None]).astype(np.float32)
    q = np.clip(np.rint(y), -128, 127).astype(np.int8)  # rint: round half to even
    # float64 division of two float32 values is exactly k + 0.5 only for an exact tie
    exact = np.abs(w.astype(np.float64) / scale.astype(np.float64)[:, None])
    dist = np.abs(exact - np.floor(exact) - 0.5)
    near = (dist > 0) & (dist <= np.maximum(TIE_WINDOW * np.maximum(exact, 1.0), abs_window))
    return q, scale, np.flatnonzero(near)


# ---------------------------------------------------------------- writing

class Writer:
    """Tensors in write order, split by msModelSlim's rule: before adding a tensor, if the
    pending bytes plus its bytes reach part_bytes, the pending tensors become a shard."""

    def __init__(self, directory, part_bytes):
        self.dir, self.part = directory, part_bytes
        self.shards, self.pending, self.pending_bytes = [], [], 0
        self.names = set()

    def add(self, name, tensor):
        if name in self.names:
            raise RefError("tensor %r written twice" % name)
        self.names.add(name)
        if self.part > 0 and self.pending and self.pending_bytes + tensor.nbytes >= self.part:
            self.shards.append(self.pending)
            self.pending, self.pending_bytes = [], 0
        self.pending.append((name, tensor))
        self.pending_bytes += tensor.nbytes

    def close(self):
        if self.pending or not self.shards:
            self.shards.append(self.pending)
        if self.part == 0:
            st.write_file(os.path.join(self.dir, "quant_model_weights.safetensors"), self.shards[0],
                          mode=EXPORT_MODE)
            return
        k = len(self.shards)
        weight_map, total = {}, 0
        for i, shard in enumerate(self.shards, 1):
            fname = ("quant_model_weights-%05d-of-%05d.safetensors" % (i, k)) if k <= 99999 else \
                    ("quant_model_weights-%d-of-%d.safetensors" % (i, k))
            st.write_file(os.path.join(self.dir, fname), shard, mode=EXPORT_MODE)
            for name, t in shard:
                weight_map[name] = fname
                total += t.nbytes
        write_json(os.path.join(self.dir, "quant_model_weights.safetensors.index.json"),
                   {"metadata": {"total_size": total}, "weight_map": weight_map}, 2)


def write_json(path, obj, indent):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, EXPORT_MODE)
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=indent)
    os.chmod(path, EXPORT_MODE)


def copy_side_files(model_path, save_path):
    for name in sorted(os.listdir(model_path)):
        src = os.path.join(model_path, name)
        if not os.path.isfile(src) or not name.endswith((".json", ".py", ".txt", ".jinja")) \
                or name.endswith("index.json"):
            continue
        dst = os.path.join(save_path, name)
        if name == "config.json":
            with open(src) as f:
                cfg = json.load(f)
            removed = cfg.pop("quantization_config", None) is not None
            tc = cfg.get("text_config")
            if isinstance(tc, dict):
                removed = (tc.pop("quantization_config", None) is not None) or removed
            if removed:
                write_json(dst, cfg, 2)
                continue
        shutil.copyfile(src, dst)
        os.chmod(dst, EXPORT_MODE)


def export(model_path, config_path, model_type, save_path, part_bytes=None, ties_out=None):
    entries, part_gib = load_config(config_path)
    ck = Checkpoint(model_path)
    family = ck.config.get("model_type")
    if family not in DISPLAY_NAMES:
        raise RefError("%s/config.json: model_type %r is not qwen3_vl, qwen3_vl_moe, qwen2_5_vl or internvl_chat"
                       % (model_path, family))
    if model_type not in DISPLAY_NAMES[family]:
        raise RefError("--model_type %s does not name a %s model" % (model_type, family))
    if os.path.exists(save_path) and os.listdir(save_path):
        raise RefError("%s: exists and is not empty" % save_path)
    os.makedirs(save_path, exist_ok=True)
    shutil.copyfile(config_path, os.path.join(save_path, "%s_best_practice.yaml" % model_type))
    os.chmod(os.path.join(save_path, "%s_best_practice.yaml" % model_type), EXPORT_MODE)

    writer = Writer(save_path, part_gib * 2 ** 30 if part_bytes is None else part_bytes)
    description, ties, used_types = {}, {}, set()

    def put(name, tensor, qtype):
        writer.add(name, tensor)
        description[name] = qtype

    for _, items in units(ck, family):
        for item in items:
            if item[0] == "param":
                put(item[1], item[2], "FLOAT")
                continue
            _, module, w, bias, w_stored = item
            entry = next((e for e in entries if e.selects(module)), None)  # first entry wins
            if entry is None:
                put(module + ".weight", w_stored, "FLOAT")
                if bias is not None:
                    put(module + ".bias", bias, "FLOAT")
                continue
            q, scale, tie_idx = quantize_weight(w)
            rows = w.shape[0]
            put(module + ".weight", st.Tensor("I8", q.shape, q), entry.scheme)
            put(module + ".weight_scale", st.Tensor("F32", (rows, 1), scale), entry.scheme)
            put(module + ".weight_offset", st.Tensor("F32", (rows, 1), np.zeros(rows, np.float32)),
                entry.scheme)
            if bias is not None:
                put(module + ".bias", st.Tensor("F32", bias.shape, bias.to_f32()), "FLOAT")
            if len(tie_idx):
                ties[module + ".weight"] = [int(i) for i in tie_idx]
            used_types.add(entry.scheme)
    for _, name, t in tail(ck):
        put(name, t, "FLOAT")

    leftover = sorted(set(ck.tensors) - ck.used)
    if leftover:
        raise RefError("%s: tensors not used by the %s layout: %s"
                       % (model_path, family, [ck.source[k] for k in leftover[:5]]))
    writer.close()

    # The highest type among quantized linears; msModelSlim keeps its initial "Unknown"
    # when none is quantized (spec §7.3: W4A8_DYNAMIC alone "stays Unknown").
    model_quant_type = max(used_types, key=PRIORITY.index) if used_types else "Unknown"
    description.update({"version": "1.0.0", "model_quant_type": model_quant_type, "metadata": {},
                        "group_size": 0, "optional": {}})
    write_json(os.path.join(save_path, "quant_model_description.json"), description, 4)
    copy_side_files(model_path, save_path)
    if ties_out:
        with open(ties_out, "w") as f:  # one tensor per line
            f.write("{\n" + ",\n".join("%s: %s" % (json.dumps(k), json.dumps(ties[k]))
                                        for k in sorted(ties)) + "\n}\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model_path", required=True)
    ap.add_argument("--config_path", required=True)
    ap.add_argument("--model_type", required=True)
    ap.add_argument("--save_path", required=True)
    ap.add_argument("--part-bytes", type=int, default=None,
                    help="shard size in bytes instead of part_file_size GiB")
    ap.add_argument("--ties-out", default=None, help="write the near-tie int8 elements here (JSON)")
    a = ap.parse_args(argv)
    try:
        export(a.model_path, a.config_path, a.model_type, a.save_path, a.part_bytes, a.ties_out)
    except (RefError, ValueError, KeyError, OSError) as e:
        print("ascendv1_reference: error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
