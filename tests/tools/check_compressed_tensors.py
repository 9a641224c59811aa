#!/usr/bin/env python3
"""Loads a compressed-tensors export the way vLLM does, without vLLM (numpy only), and reports
every tensor its model would not load: missing, extra, misshaped or mistyped, and every Linear
whose scheme vLLM cannot resolve.

It restates, from the sources cited in docs/compressed_tensors.md:
  - compressed-tensors' QuantizationArgs / QuantizationScheme validation (quant_args.py,
    quant_scheme.py: unknown keys refused, strategy inferred, token strategy only dynamic);
  - vLLM's CompressedTensorsConfig: the target map from config_groups, the model's
    hf_to_vllm_mapper applied to targets and ignore, should_ignore_layer and
    find_matched_target (a layer's own name or a "re:" regex, then its class name by substring,
    then the parts of a fused layer), _get_scheme_from_parts for the int8 schemes and
    CompressedTensorsMoEMethod.get_moe_method (a FusedMoE layer's scheme from
    "<layer>.0.gate_proj|up_proj|down_proj", "Linear" also standing for "FusedMoE");
  - the parameters each scheme registers (CompressedTensorsW8A8Int8, CompressedTensorsWNA16,
    CompressedTensorsW8A8Int8MoEMethod, the WNA16 MoE method; unquantized Linears) and the
    modules vLLM's model class builds from config.json (qwen3_vl.py, qwen3_vl_moe.py;
    qwen2_5_vl.py with qwen2.py, internvl.py with intern_vit.py and qwen3.py, whose float
    parameters are modelled too);
  - the model's load_weights, which renames every checkpoint tensor by hf_to_vllm_mapper: the
    export's tensors are matched to the parameters under vLLM's names, so a Qwen2.5-VL export
    may use the published names (visual.*, model.*) or transformers >= 4.52's.

Usage: check_compressed_tensors.py EXPORT_DIR
       check_compressed_tensors.py --self-test EXPORT_DIR
The second form checks EXPORT_DIR, then breaks it in memory in each way the checker must catch
and fails if any break goes unreported."""
import copy
import json
import os
import re
import struct
import sys

import numpy as np

NP = {"I8": np.int8, "I32": np.int32, "I64": np.int64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16,
      "U8": np.uint8}
FLOATS = {"F32", "F16", "BF16"}

# ---- the export ---------------------------------------------------------------------------


def read_export(d):
    """config.json and {name: [dtype, shape, file, begin, end]} of every safetensors file."""
    config = json.load(open(os.path.join(d, "config.json")))
    tensors = {}
    for f in sorted(os.listdir(d)):
        if not f.endswith(".safetensors"):
            continue
        with open(os.path.join(d, f), "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(n))
        for name, e in header.items():
            if name != "__metadata__":
                b, end = e["data_offsets"]
                tensors[name] = [e["dtype"], list(e["shape"]), os.path.join(d, f), 8 + n + b, 8 + n + end]
    return config, tensors


def value(t):
    dtype, shape, path, b, end = t
    with open(path, "rb") as fh:
        fh.seek(b)
        raw = fh.read(end - b)
    return np.frombuffer(raw, dtype=NP[dtype]).reshape(shape)


# ---- compressed-tensors' argument validation (quant_args.py, quant_scheme.py) -------------

ARG_KEYS = {"num_bits", "type", "symmetric", "group_size", "strategy", "block_structure", "dynamic", "actorder",
            "scale_dtype", "zp_dtype", "observer", "observer_kwargs"}
SCHEME_KEYS = {"targets", "weights", "input_activations", "output_activations", "format"}


def quant_args(d, where, problems):
    if d is None:
        return None
    if not isinstance(d, dict):
        problems.append(f"{where}: not an object")
        return None
    extra = set(d) - ARG_KEYS
    if extra:  # model_config = ConfigDict(extra="forbid")
        problems.append(f"{where}: unknown QuantizationArgs keys {sorted(extra)}")
    a = {"num_bits": 8, "type": "int", "symmetric": True, "group_size": None, "strategy": None, "dynamic": False,
         "actorder": None}
    a.update({k: v for k, v in d.items() if k in a})
    a["type"] = str(a["type"]).lower()
    if a["strategy"] is None:  # validate_model_after: strategy inferred from group_size
        g = a["group_size"]
        a["strategy"] = "tensor" if g is None else "group" if g > 0 else "channel" if g == -1 else None
    if a["strategy"] == "token" and not a["dynamic"]:
        problems.append(f"{where}: static token quantization (compressed-tensors requires dynamic: true)")
    if a["strategy"] == "group" and not (a["group_size"] or 0) > 0:
        problems.append(f"{where}: strategy group without a positive group_size")
    if a["group_size"] not in (None, -1) and a["group_size"] > 0 and a["strategy"] != "group":
        problems.append(f"{where}: group_size without strategy group")
    return a


# ---- vLLM's CompressedTensorsConfig -------------------------------------------------------

ACT_FORMATS = {"naive-quantized", "int-quantized", "float-quantized", "nvfp4-pack-quantized"}


def target_scheme_map(q, mapper, problems):
    """_quantization_scheme_map_from_config, the targets mapped by apply_vllm_mapper."""
    out = {}
    groups = q.get("config_groups")
    if not isinstance(groups, dict) or not groups:
        problems.append("quantization_config.config_groups: missing or empty")
        return out
    for gname, g in groups.items():
        where = f"quantization_config.config_groups.{gname}"
        extra = set(g) - SCHEME_KEYS
        if extra:
            problems.append(f"{where}: unknown QuantizationScheme keys {sorted(extra)}")
        w = quant_args(g.get("weights"), where + ".weights", problems)
        i = quant_args(g.get("input_activations"), where + ".input_activations", problems)
        if i is not None and i["strategy"] not in ("token", "tensor", "group", "tensor_group", "attn_head"):
            problems.append(f"{where}.input_activations: strategy {i['strategy']} is not one for activations")
        fmt = g.get("format") or q.get("format")
        if i is None and fmt in ACT_FORMATS and w is not None and w["type"] != "float":
            # vLLM asserts weights.type == FLOAT when an activation format has no input_activations
            problems.append(f"{where}: format {fmt} without input_activations (vLLM asserts float weights)")
        targets = g.get("targets")
        if not isinstance(targets, list) or not targets:
            problems.append(f"{where}.targets: missing or empty")
            continue
        for t in targets:
            out[mapper(t)] = {"weights": w, "input_activations": i, "format": fmt, "group": gname}
    return out


def equal_or_regex(value, target, check_contains=False):
    if target.startswith("re:"):
        return re.match(target[3:], value) is not None
    if check_contains:
        return target.lower() in value.lower()
    return target == value


def should_ignore_layer(name, ignore, fused, problems):
    proj = name.split(".")[-1]
    if proj in fused and name not in ignore:
        flags = [any(equal_or_regex(name.replace(proj, p), t) for t in ignore) for p in fused[proj]]
        if any(flags) and not all(flags):
            problems.append(f"{name}: parts {fused[proj]} partly ignored (vLLM leaves the fused layer in float)")
            return True
        return flags[0]
    return any(equal_or_regex(name, t) for t in ignore)


def find_matched_target(name, cls, targets, fused):
    for t in targets:
        if equal_or_regex(name, t):
            return t
    for t in targets:
        if equal_or_regex(cls, t, check_contains=True):
            return t
    key = next((k for k in fused if name.endswith(k)), None)
    if key is None:
        return None
    matches = []
    for part in (name.replace(key, p) for p in fused[key]):
        matches.append(next((t for t in targets if equal_or_regex(part, t)), None))
    return matches[0] if all(matches) else None


def linear_scheme(s):
    """_get_scheme_from_parts for what an int8 export can hold: (kind, detail) or an error."""
    w, i, fmt = s["weights"], s["input_activations"], s["format"]
    if w is None:
        return ("unquantized", None)
    if i is None and w["strategy"] in ("channel", "group") and not w["dynamic"]:
        if fmt == "pack-quantized" and w["num_bits"] in (4, 8):
            return ("wna16", w)
    if fmt in ACT_FORMATS and i is not None:
        if w["type"] == "float" or i["type"] == "float":
            return ("error", "a float (fp8/fp4) scheme, which this checker does not model")
        eight = w["num_bits"] == i["num_bits"] == 8
        wstrat = w["strategy"] in ("tensor", "channel")
        if eight and wstrat and i["strategy"] == "tensor" and w["symmetric"] and not w["dynamic"] and not i["dynamic"]:
            return ("w8a8", {"static": True, "w": w, "i": i})
        if eight and wstrat and i["strategy"] == "token" and w["symmetric"] and not w["dynamic"] and i["dynamic"]:
            return ("w8a8", {"static": False, "w": w, "i": i})
    return ("error", "No compressed-tensors compatible scheme was found")


# ---- the modules vLLM's model classes build -------------------------------------------------
# Each family: its hf_to_vllm_mapper (orig_to_new_prefix), its packed_modules_mapping (the fused
# layers should_ignore_layer and find_matched_target expand), the Linears built with the quant
# config in vLLM's build order as [(layer, class, [(part, out, in, bias)], is_moe)] in checkpoint
# (published) names, and, where modelled, every float parameter {name: (shapes, optional)}.


def weights_mapper(prefixes):
    """WeightsMapper._map_name with orig_to_new_prefix only (vllm/model_executor/models/utils.py):
    every entry in order, each one that matches replacing its prefix (no break)."""
    def f(name):
        for a, b in prefixes:
            if name.startswith(a):
                name = b + name[len(a):]
        return name
    return f


# qwen3_vl.py (002d7b93 and a later version), qwen3_vl_moe.py (055e47c2)
QWEN3_VL_MAPPER = [("model.visual.", "visual."), ("lm_head.", "language_model.lm_head."),
                   ("model.language_model.", "language_model.model.")]
QWEN3_VL_FUSED = {"qkv_proj": ["q_proj", "k_proj", "v_proj"], "gate_up_proj": ["gate_proj", "up_proj"],
                  "qkv": ["qkv"]}
# the float parameters of the Qwen3-VL classes, by name only (their shapes are not modelled)
FLOAT_PARAMS = re.compile(r"(\.(input_layernorm|post_attention_layernorm|norm|norm1|norm2|q_norm|k_norm)\.weight"
                          r"|\.(norm|norm1|norm2)\.bias|\.embed_tokens\.weight|^lm_head\.weight"
                          r"|\.patch_embed\.proj\.(weight|bias)|\.pos_embed\.weight)$")


def qwen3_vl_modules(config):
    v, t = config["vision_config"], config["text_config"]
    mods = []
    hid, m2 = v["hidden_size"], v["spatial_merge_size"] ** 2
    for b in range(v["depth"]):
        p = f"model.visual.blocks.{b}"
        mods += [(f"{p}.attn.qkv", "QKVParallelLinear", [(f"{p}.attn.qkv", 3 * hid, hid, True)], False),
                 (f"{p}.attn.proj", "RowParallelLinear", [(f"{p}.attn.proj", hid, hid, True)], False),
                 (f"{p}.mlp.linear_fc1", "ColumnParallelLinear", [(f"{p}.mlp.linear_fc1", v["intermediate_size"], hid, True)], False),
                 (f"{p}.mlp.linear_fc2", "RowParallelLinear", [(f"{p}.mlp.linear_fc2", hid, v["intermediate_size"], True)], False)]
    for p in ["model.visual.merger"] + [f"model.visual.deepstack_merger_list.{i}"
                                        for i in range(len(v.get("deepstack_visual_indexes", [])))]:
        mods += [(f"{p}.linear_fc1", "ColumnParallelLinear", [(f"{p}.linear_fc1", hid * m2, hid * m2, True)], False),
                 (f"{p}.linear_fc2", "RowParallelLinear", [(f"{p}.linear_fc2", v["out_hidden_size"], hid * m2, True)], False)]
    H, nh, nkv = t["hidden_size"], t["num_attention_heads"], t["num_key_value_heads"]
    hd = t.get("head_dim") or H // nh
    bias = bool(t.get("attention_bias", False))
    E, step = t.get("num_experts", 0), t.get("decoder_sparse_step", 1)
    for l in range(t["num_hidden_layers"]):
        p = f"model.language_model.layers.{l}"
        mods += [(f"{p}.self_attn.qkv_proj", "QKVParallelLinear",
                  [(f"{p}.self_attn.q_proj", nh * hd, H, bias), (f"{p}.self_attn.k_proj", nkv * hd, H, bias),
                   (f"{p}.self_attn.v_proj", nkv * hd, H, bias)], False),
                 (f"{p}.self_attn.o_proj", "RowParallelLinear", [(f"{p}.self_attn.o_proj", H, nh * hd, bias)], False)]
        sparse = E > 0 and l not in t.get("mlp_only_layers", []) and (l + 1) % step == 0
        if sparse:
            I = t["moe_intermediate_size"]
            mods.append((f"{p}.mlp.gate", "ReplicatedLinear", [(f"{p}.mlp.gate", E, H, False)], False))
            parts = []
            for e in range(E):
                parts += [(f"{p}.mlp.experts.{e}.gate_proj", I, H, False), (f"{p}.mlp.experts.{e}.up_proj", I, H, False),
                          (f"{p}.mlp.experts.{e}.down_proj", H, I, False)]
            mods.append((f"{p}.mlp.experts", "FusedMoE", parts, True))
        else:
            I = t["intermediate_size"]
            mods += [(f"{p}.mlp.gate_up_proj", "MergedColumnParallelLinear",
                      [(f"{p}.mlp.gate_proj", I, H, False), (f"{p}.mlp.up_proj", I, H, False)], False),
                     (f"{p}.mlp.down_proj", "RowParallelLinear", [(f"{p}.mlp.down_proj", H, I, False)], False)]
    return mods


# qwen2_5_vl.py (vllm-project/vllm, vllm/model_executor/models/qwen2_5_vl.py at 002d181a and
# fb33ec8c, identical in what follows) and, for its language model, qwen2.py (cb24295e):
# Qwen2_5_VLForConditionalGeneration.hf_to_vllm_mapper and packed_modules_mapping (no "qkv":
# the vision attn.qkv is matched by its own name); the checkpoint's published names (visual.*,
# model.*, lm_head) and transformers >= 4.52's (model.visual.*, model.language_model.*) both map
# to vLLM's visual.* / language_model.model.* / language_model.lm_head.*.
QWEN2_5_VL_MAPPER = [("model.language_model.", "language_model.model."), ("model.visual.", "visual."),
                     ("lm_head.", "language_model.lm_head."), ("model.", "language_model.model.")]
QWEN2_5_VL_FUSED = {"qkv_proj": ["q_proj", "k_proj", "v_proj"], "gate_up_proj": ["gate_proj", "up_proj"]}


def qwen2_5_vl_text(config):
    """The text fields: text_config (transformers >= 4.52) when present, else the top level (the
    published config.json)."""
    return config.get("text_config") or config


def qwen2_5_vl_modules(config):
    v, t = config["vision_config"], qwen2_5_vl_text(config)
    hv, iv, m2 = v["hidden_size"], v["intermediate_size"], v["spatial_merge_size"] ** 2
    mods = []
    # Qwen2_5_VisionTransformer (prefix "visual"): blocks.N = Qwen2_5_VisionBlock, whose
    # Qwen2_5_VisionAttention builds qkv = QKVParallelLinear(embed_dim, head_size, num_heads,
    # num_kv_heads = num_heads, bias=True) [3 Hv, Hv] and proj = RowParallelLinear (default
    # bias=True); Qwen2_5_VisionMLP(bias=True): gate_up_proj = MergedColumnParallelLinear
    # [Iv] * 2, loaded from mlp.gate_proj (shard 0) / mlp.up_proj (shard 1), and down_proj =
    # RowParallelLinear. patch_embed.proj is a ReplicatedLinear without the quant config.
    for b in range(v["depth"]):
        p = f"visual.blocks.{b}"
        mods += [(f"{p}.attn.qkv", "QKVParallelLinear", [(f"{p}.attn.qkv", 3 * hv, hv, True)], False),
                 (f"{p}.attn.proj", "RowParallelLinear", [(f"{p}.attn.proj", hv, hv, True)], False),
                 (f"{p}.mlp.gate_up_proj", "MergedColumnParallelLinear",
                  [(f"{p}.mlp.gate_proj", iv, hv, True), (f"{p}.mlp.up_proj", iv, hv, True)], False),
                 (f"{p}.mlp.down_proj", "RowParallelLinear", [(f"{p}.mlp.down_proj", hv, iv, True)], False)]
    # Qwen2_5_VisionPatchMerger: mlp = Sequential(ColumnParallelLinear(4 Hv, 4 Hv, bias=True)
    # prefix mlp.0, GELU, RowParallelLinear(4 Hv, out_hidden_size, bias=True) prefix mlp.2)
    p = "visual.merger"
    mods += [(f"{p}.mlp.0", "ColumnParallelLinear", [(f"{p}.mlp.0", hv * m2, hv * m2, True)], False),
             (f"{p}.mlp.2", "RowParallelLinear", [(f"{p}.mlp.2", v["out_hidden_size"], hv * m2, True)], False)]
    # Qwen2ForCausalLM (prefix "language_model"), Qwen2Model (prefix "model"): Qwen2Attention
    # qkv_proj = QKVParallelLinear(bias=True), head_dim = hidden_size // num_heads, o_proj =
    # RowParallelLinear(bias=False); Qwen2MLP gate_up_proj / down_proj without bias. lm_head is a
    # ParallelLMHead (not a LinearBase: compressed-tensors gives it no scheme).
    H, nh, nkv = t["hidden_size"], t["num_attention_heads"], t["num_key_value_heads"]
    hd, I = H // nh, t["intermediate_size"]
    for l in range(t["num_hidden_layers"]):
        p = f"model.layers.{l}"
        mods += [(f"{p}.self_attn.qkv_proj", "QKVParallelLinear",
                  [(f"{p}.self_attn.q_proj", nh * hd, H, True), (f"{p}.self_attn.k_proj", nkv * hd, H, True),
                   (f"{p}.self_attn.v_proj", nkv * hd, H, True)], False),
                 (f"{p}.self_attn.o_proj", "RowParallelLinear", [(f"{p}.self_attn.o_proj", H, nh * hd, False)], False),
                 (f"{p}.mlp.gate_up_proj", "MergedColumnParallelLinear",
                  [(f"{p}.mlp.gate_proj", I, H, False), (f"{p}.mlp.up_proj", I, H, False)], False),
                 (f"{p}.mlp.down_proj", "RowParallelLinear", [(f"{p}.mlp.down_proj", H, I, False)], False)]
    return mods


def qwen2_5_vl_float_params(config):
    """The float parameters: the vision RMSNorms (norm1, norm2, merger.ln_q: weight only), the
    patch embedding (the checkpoint's Conv3d kernel [Hv, C, Tp, P, P], which load_weights passes
    through conv3d_to_linear_weight for the ReplicatedLinear's [Hv, C*Tp*P*P]; that helper was not
    read, a flattened kernel is accepted too), Qwen2Model's
    embed_tokens, RMSNorms and norm, and the ParallelLMHead, absent when tie_word_embeddings
    (Qwen2ForCausalLM then skips lm_head.* tensors: skip_prefixes=["lm_head."])."""
    v, t = config["vision_config"], qwen2_5_vl_text(config)
    hv, H, V = v["hidden_size"], t["hidden_size"], t["vocab_size"]
    c, tp, ps = v.get("in_channels", 3), v.get("temporal_patch_size", 2), v.get("patch_size", 14)
    out = {"visual.patch_embed.proj.weight": (([hv, c, tp, ps, ps], [hv, c * tp * ps * ps]), False),
           "visual.merger.ln_q.weight": (([hv],), False)}
    for b in range(v["depth"]):
        out.update({f"visual.blocks.{b}.{n}.weight": (([hv],), False) for n in ("norm1", "norm2")})
    out["model.embed_tokens.weight"] = (([V, H],), False)
    for l in range(t["num_hidden_layers"]):
        out.update({f"model.layers.{l}.{n}.weight": (([H],), False)
                    for n in ("input_layernorm", "post_attention_layernorm")})
    out["model.norm.weight"] = (([H],), False)
    out["lm_head.weight"] = (([V, H],), bool(t.get("tie_word_embeddings", False)))
    return out


# internvl.py and intern_vit.py (vllm-project/vllm vllm/model_executor/models/): InternVLChatModel
# keeps the checkpoint's names (no hf_to_vllm_mapper). InternVisionModel (prefix "vision_model",
# built with the quant config): encoder.layers.N.attn.qkv = QKVParallelLinear(bias=qkv_bias),
# attn.proj = RowParallelLinear, mlp.fc1 = ColumnParallelLinear, mlp.fc2 = RowParallelLinear (both
# with biases). mlp1 = nn.Sequential(nn.LayerNorm, nn.Linear, nn.GELU, nn.Linear): plain torch
# modules, never given a scheme (float parameters). The language model (prefix "language_model")
# is Qwen3ForCausalLM: qkv_proj and gate_up_proj fused, no biases, q_norm / k_norm per head.
INTERNVL_FUSED = {"qkv_proj": ["q_proj", "k_proj", "v_proj"], "gate_up_proj": ["gate_proj", "up_proj"], "qkv": ["qkv"]}


def internvl_modules(config):
    v, t = config["vision_config"], config["llm_config"]
    C, iv, qkv_bias = v["hidden_size"], v["intermediate_size"], bool(v.get("qkv_bias", False))
    mods = []
    for b in range(v["num_hidden_layers"]):
        p = f"vision_model.encoder.layers.{b}"
        mods += [(f"{p}.attn.qkv", "QKVParallelLinear", [(f"{p}.attn.qkv", 3 * C, C, qkv_bias)], False),
                 (f"{p}.attn.proj", "RowParallelLinear", [(f"{p}.attn.proj", C, C, True)], False),
                 (f"{p}.mlp.fc1", "ColumnParallelLinear", [(f"{p}.mlp.fc1", iv, C, True)], False),
                 (f"{p}.mlp.fc2", "RowParallelLinear", [(f"{p}.mlp.fc2", C, iv, True)], False)]
    H, nh, nkv, I = t["hidden_size"], t["num_attention_heads"], t["num_key_value_heads"], t["intermediate_size"]
    hd = t.get("head_dim") or H // nh
    for l in range(t["num_hidden_layers"]):
        p = f"language_model.model.layers.{l}"
        mods += [(f"{p}.self_attn.qkv_proj", "QKVParallelLinear",
                  [(f"{p}.self_attn.q_proj", nh * hd, H, False), (f"{p}.self_attn.k_proj", nkv * hd, H, False),
                   (f"{p}.self_attn.v_proj", nkv * hd, H, False)], False),
                 (f"{p}.self_attn.o_proj", "RowParallelLinear", [(f"{p}.self_attn.o_proj", H, nh * hd, False)], False),
                 (f"{p}.mlp.gate_up_proj", "MergedColumnParallelLinear",
                  [(f"{p}.mlp.gate_proj", I, H, False), (f"{p}.mlp.up_proj", I, H, False)], False),
                 (f"{p}.mlp.down_proj", "RowParallelLinear", [(f"{p}.mlp.down_proj", H, I, False)], False)]
    return mods


def internvl_float_params(config):
    """The float parameters: the tower's embeddings, norms (LayerNorm weight and bias, or RMSNorm
    weight), q/k norms and layer scales; mlp1 whole; Qwen3's embeddings, norms and head (absent
    when tied)."""
    v, t = config["vision_config"], config["llm_config"]
    C, P, H, V = v["hidden_size"], v.get("patch_size", 14), t["hidden_size"], t["vocab_size"]
    S = config.get("force_image_size") or v["image_size"]
    hd = t.get("head_dim") or H // t["num_attention_heads"]
    wide = C * round(1 / config.get("downsample_ratio", 0.5)) ** 2
    e = "vision_model.embeddings."
    out = {e + "class_embedding": (([1, 1, C],), False), e + "patch_embedding.weight": (([C, 3, P, P],), False),
           e + "patch_embedding.bias": (([C],), False), e + "position_embedding": (([1, (S // P) ** 2 + 1, C],), False)}
    ln = v.get("norm_type", "rms_norm") == "layer_norm"
    for b in range(v["num_hidden_layers"]):
        p = f"vision_model.encoder.layers.{b}."
        for n in ("norm1", "norm2"):
            out[p + n + ".weight"] = (([C],), False)
            if ln:
                out[p + n + ".bias"] = (([C],), False)
        if v.get("qk_normalization", True):
            out.update({p + f"attn.{n}.weight": (([C],), False) for n in ("q_norm", "k_norm")})
        out.update({p + n: (([C],), False) for n in ("ls1", "ls2")})
    out.update({"mlp1.0.weight": (([wide],), False), "mlp1.0.bias": (([wide],), False),
                "mlp1.1.weight": (([H, wide],), False), "mlp1.1.bias": (([H],), False),
                "mlp1.3.weight": (([H, H],), False), "mlp1.3.bias": (([H],), False)})
    out["language_model.model.embed_tokens.weight"] = (([V, H],), False)
    for l in range(t["num_hidden_layers"]):
        p = f"language_model.model.layers.{l}."
        out.update({p + n + ".weight": (([H],), False) for n in ("input_layernorm", "post_attention_layernorm")})
        out.update({p + f"self_attn.{n}.weight": (([hd],), False) for n in ("q_norm", "k_norm")})
    out["language_model.model.norm.weight"] = (([H],), False)
    out["language_model.lm_head.weight"] = (([V, H],), bool(t.get("tie_word_embeddings", False)))
    return out


FAMILIES = {
    "InternVLChatModel": ([], INTERNVL_FUSED, internvl_modules, internvl_float_params),
    "Qwen3VLForConditionalGeneration": (QWEN3_VL_MAPPER, QWEN3_VL_FUSED, qwen3_vl_modules, None),
    "Qwen3VLMoeForConditionalGeneration": (QWEN3_VL_MAPPER, QWEN3_VL_FUSED, qwen3_vl_modules, None),
    "Qwen2_5_VLForConditionalGeneration": (QWEN2_5_VL_MAPPER, QWEN2_5_VL_FUSED, qwen2_5_vl_modules,
                                           qwen2_5_vl_float_params),
}

# ---- the parameters each scheme registers -------------------------------------------------


def expect_params(kind, detail, hf, out, inp, bias):
    """{suffix: (dtypes, shape)} the layer's weight_loader takes for one part."""
    if kind == "unquantized":
        p = {"weight": (FLOATS, [out, inp])}
    elif kind == "w8a8":  # CompressedTensorsW8A8Int8.create_weights
        scale = [out, 1] if detail["w"]["strategy"] == "channel" else [1]
        p = {"weight": ({"I8"}, [out, inp]), "weight_scale": (FLOATS, scale)}
        if detail["static"]:
            p["input_scale"] = (FLOATS, [1])
            if not detail["i"]["symmetric"]:
                p["input_zero_point"] = ({"I8"}, [1])  # "compressed-tensors stores the zp using the same dtype as the weights"
    elif kind == "wna16":  # CompressedTensorsWNA16.create_weights
        w = detail
        pack = 32 // w["num_bits"]
        groups = 1 if w["strategy"] == "channel" else inp // w["group_size"]
        p = {"weight_packed": ({"I32"}, [out, inp // pack]), "weight_scale": (FLOATS, [out, groups]),
             "weight_shape": ({"I64"}, [2])}
        if not w["symmetric"]:
            p["weight_zero_point"] = ({"I32"}, [out // pack, groups])
    else:
        raise ValueError(kind)
    if bias:
        p["bias"] = (FLOATS, [out])
    return {f"{hf}.{k}": v for k, v in p.items()}


def moe_scheme(layer, tsm, ignore, fused, problems):
    """CompressedTensorsMoEMethod.get_moe_method."""
    if "Linear" in tsm and "FusedMoE" not in tsm:  # _add_fused_moe_to_target_scheme_map
        tsm = dict(tsm, FusedMoE=tsm["Linear"])
    dicts = []
    for proj in (".0.gate_proj", ".0.up_proj", ".0.down_proj"):
        name = layer + proj
        if should_ignore_layer(name, ignore, fused, problems):
            dicts.append(None)
            continue
        t = find_matched_target(name, "FusedMoE", tsm.keys(), fused)
        if t is None:
            problems.append(f"{name}: no config group targets it (vLLM: KeyError in get_scheme_dict)")
            return None
        dicts.append(tsm[t])
    if any(d is not dicts[0] for d in dicts):
        problems.append(f"{layer}: All MoE projections need to have same quantization scheme but found multiple")
        return None
    s = dicts[0]
    if s is None:
        return ("unquantized", None)
    kind, detail = linear_scheme(s)
    if kind == "wna16":
        return kind, detail
    if kind == "w8a8":
        if detail["w"]["strategy"] != "channel" or detail["i"]["strategy"] != "token" or detail["static"]:
            problems.append(f"{layer}: For INT8 Fused MoE layers, we require channelwise, dynamic per token quantization")
            return None
        return kind, detail
    problems.append(f"{layer}: Unsupported FusedMoe scheme ({detail if kind == 'error' else kind})")
    return None


def check(config, tensors):
    problems = []
    q = config.get("quantization_config")
    if not isinstance(q, dict):
        return ["config.json: no quantization_config"]
    if q.get("quant_method") != "compressed-tensors":
        problems.append(f"quantization_config.quant_method: {q.get('quant_method')!r}, not 'compressed-tensors'")
    if q.get("quantization_status") != "compressed":
        problems.append(f"quantization_config.quantization_status: {q.get('quantization_status')!r}: "
                        "the weights are not stored compressed")
    if "quantization_config" in config.get("text_config", {}):
        problems.append("text_config.quantization_config: a second quantization_config")
    arch = (config.get("architectures") or [None])[0]
    if arch not in FAMILIES:
        return problems + [f"config.json: architecture {arch!r} is not one this checker models"]
    prefixes, fused, modules, float_params = FAMILIES[arch]
    mapper = weights_mapper(prefixes)
    tsm = target_scheme_map(q, mapper, problems)  # apply_vllm_mapper: targets (apply_dict) and
    ignore = [mapper(n) for n in q.get("ignore", [])]  # ignore (apply_list); "re:" entries unchanged
    try:
        mods = modules(config)
        floats = float_params(config) if float_params else None
    except KeyError as e:
        return problems + [f"config.json: no {e.args[0]!r} (vLLM's model class reads it)"]
    # the export's tensors by the name vLLM loads them under (the model's load_weights applies
    # hf_to_vllm_mapper to every checkpoint name)
    by_vllm = {}
    for name in tensors:
        by_vllm.setdefault(mapper(name), []).append(name)
    expected, consumed = {}, set()
    for v, names in by_vllm.items():
        if len(names) > 1:  # each loaded in turn, the last one kept
            problems.append(f"{' and '.join(sorted(names))}: all load into vLLM's {v}")
            consumed.update(names)

    def find(hf):
        names = by_vllm.get(mapper(hf))
        return names[0] if names else None
    for layer, cls, parts, is_moe in mods:
        layer = mapper(layer)
        if is_moe:
            r = moe_scheme(layer, tsm, ignore, fused, problems)
        elif should_ignore_layer(layer, ignore, fused, problems):
            r = ("unquantized", None)
        else:
            t = find_matched_target(layer, cls, tsm.keys(), fused)
            if t is None:
                problems.append(f"{layer}: no config group targets it and it is not ignored (vLLM: KeyError)")
                r = None
            else:
                r = linear_scheme(tsm[t])
                if r[0] == "error":
                    problems.append(f"{layer}: {r[1]} ({tsm[t]['group']})")
                    r = None
        if r is None:
            for hf, *_ in parts:  # its tensors are not reported again as extra
                consumed.update(n for n in tensors if mapper(n).startswith(mapper(hf) + "."))
            continue
        for hf, out, inp, bias in parts:
            expected.update(expect_params(r[0], r[1], hf, out, inp, bias))
    for hf, want in expected.items():
        name = find(hf)
        if name is None:
            problems.append(f"{hf}: missing (registered by its scheme)")
            continue
        consumed.add(name)
        dtype, shape = tensors[name][:2]
        if dtype not in want[0] or shape != want[1]:
            problems.append(f"{name}: {dtype} {shape}, the scheme registers {'/'.join(sorted(want[0]))} {want[1]}")
        elif name.endswith(".weight_shape"):
            hf = name[: -len(".weight_shape")]
            packed = tensors.get(find(hf + ".weight_packed"))
            vals = [int(x) for x in value(tensors[name])]
            if packed and (vals[0] != packed[1][0] or vals[1] != packed[1][1] * 4):
                problems.append(f"{name}: {vals} is not the unpacked shape of {hf}.weight_packed {packed[1]}")
    for hf, (shapes, optional) in (floats or {}).items():
        name = find(hf)
        if name is None:
            if not optional:  # vLLM checks that every parameter was loaded only for unquantized models
                problems.append(f"{hf}: missing (a float parameter of vLLM's model)")
            continue
        consumed.add(name)
        dtype, shape = tensors[name][:2]
        if dtype not in FLOATS or shape not in shapes:
            problems.append(f"{name}: {dtype} {shape}, vLLM's float parameter takes "
                            f"{'/'.join(sorted(FLOATS))} {' or '.join(map(str, shapes))}")
    for name, (dtype, shape, *_) in tensors.items():
        if name in consumed:
            continue
        if floats is None and FLOAT_PARAMS.search(name):
            if dtype not in FLOATS:
                problems.append(f"{name}: {dtype}, a float parameter")
        else:
            problems.append(f"{name}: no parameter of vLLM's model takes it")
    return problems


# ---- self-test ----------------------------------------------------------------------------


def first(tensors, suffix):
    return next((n for n in sorted(tensors) if n.endswith(suffix)), None)


def mutations(config, tensors):
    """(what, config, tensors) broken copies of the export, each one way vLLM would fail."""
    q = config["quantization_config"]
    out = []

    def variant(what, cfg_fn=None, t_fn=None):
        c, t = copy.deepcopy(config), copy.deepcopy(tensors)
        if (cfg_fn and cfg_fn(c) is False) or (t_fn and t_fn(t) is False):
            return
        out.append((what, c, t))

    def drop(suffix):
        def f(t):
            n = first(t, suffix)
            if not n:
                return False
            del t[n]
        return f

    def retype(suffix, dtype):
        def f(t):
            n = first(t, suffix)
            if not n:
                return False
            t[n][0] = dtype
        return f

    def reshape(suffix):
        def f(t):
            n = first(t, suffix)
            if not n:
                return False
            t[n][1] = [t[n][1][0]]
        return f

    variant("a weight_scale missing", t_fn=drop(".weight_scale"))
    variant("an input_scale missing", t_fn=drop(".input_scale"))
    variant("a packed weight missing", t_fn=drop(".weight_packed"))
    def int8_as_f16(t):
        n = next((n for n in sorted(t) if t[n][0] == "I8" and n.endswith(".weight")), None)
        if not n:
            return False
        t[n][0] = "F16"
    variant("an int8 weight stored as F16", t_fn=int8_as_f16)
    variant("an input_zero_point stored as F32", t_fn=retype(".input_zero_point", "F32"))
    variant("a weight_scale of shape [out]", t_fn=reshape(".weight_scale"))

    def extra(t):
        n = first(t, ".weight_scale")
        if not n:
            return False
        t[n[: -len(".weight_scale")] + ".weight_offset"] = list(t[n])
    variant("an extra tensor", t_fn=extra)

    def unignore(c):  # a LinearBase of vLLM's (not the head, not a plain torch Linear such as InternVL's mlp1)
        fp = FAMILIES[c["architectures"][0]][3]
        plain = {n[: -len(".weight")] for n in (fp(c) if fp else {})}
        ign = [n for n in c["quantization_config"]["ignore"] if not n.endswith("lm_head") and n not in plain]
        if not ign:
            return False
        c["quantization_config"]["ignore"].remove(ign[0])
    variant("a float Linear no longer ignored", cfg_fn=unignore)

    def unknown_key(c):
        g = next(iter(c["quantization_config"]["config_groups"].values()))
        g["weights"]["bits"] = 8
    variant("an unknown QuantizationArgs key", cfg_fn=unknown_key)

    def static_token(c):
        for g in c["quantization_config"]["config_groups"].values():
            ia = g.get("input_activations")
            if ia and not ia["dynamic"]:
                ia["strategy"] = "token"
                return
        return False
    variant("static per-token activations", cfg_fn=static_token)

    def class_target(c):
        groups = c["quantization_config"]["config_groups"]
        if len(groups) < 2:
            return False
        for g in groups.values():
            if g.get("input_activations") and g["input_activations"].get("dynamic"):
                g["targets"].append("Linear")
                return
        return False
    variant("'Linear' beside groups listing fused layers' parts", cfg_fn=class_target)

    def format_change(c):
        for g in c["quantization_config"]["config_groups"].values():
            if g.get("format") == "pack-quantized":
                g["format"] = "int-quantized"
                return
        return False
    variant("a weight-only group in format int-quantized", cfg_fn=format_change)

    def split_fused(c):
        """A gate_proj listed in another group than its up_proj (vLLM takes the fused
        gate_up_proj's scheme from its first part, and loads the other with it). A vision MLP's
        where the family fuses it (Qwen2.5-VL), else a text one."""
        groups = list(c["quantization_config"]["config_groups"].values())
        if len(groups) < 2:
            return False
        names = [(t, g) for g in groups for t in g["targets"] if t.endswith(".mlp.gate_proj")]
        names.sort(key=lambda x: "visual." not in x[0])
        for t, g in names:
            other = next((h for h in groups if h is not g and (h.get("format"), h.get("input_activations")) !=
                          (g.get("format"), g.get("input_activations"))), None)
            if other:
                g["targets"].remove(t)
                other["targets"].append(t)
                return
        return False
    variant("a gate_proj in another group than its up_proj", cfg_fn=split_fused)

    mapper = weights_mapper(FAMILIES[config["architectures"][0]][0])

    def regex_in_checkpoint_names(c):
        """A target as a regex over the checkpoint's name, which hf_to_vllm_mapper renames but
        apply_vllm_mapper leaves "re:" targets alone."""
        for g in c["quantization_config"]["config_groups"].values():
            for i, t in enumerate(g["targets"]):
                if not t.startswith("re:") and mapper(t) != t:
                    g["targets"][i] = "re:" + re.escape(t) + "$"
                    return
        return False
    variant("a regex target over a checkpoint name the mapper renames", cfg_fn=regex_in_checkpoint_names)

    if FAMILIES[config["architectures"][0]][3]:  # float parameters modelled
        variant("a vision norm missing", t_fn=drop(".norm1.weight"))
        variant("a text norm stored as I8", t_fn=retype(".input_layernorm.weight", "I8"))
    if len(out) < 7:
        raise SystemExit(f"self-test: only {len(out)} mutations apply to this export")
    return out


def main(argv):
    self_test = len(argv) == 3 and argv[1] == "--self-test"
    if not ((len(argv) == 2 and not argv[1].startswith("-")) or self_test):
        print(__doc__)
        return 2
    config, tensors = read_export(argv[-1])
    problems = check(config, tensors)
    for p in problems:
        print(f"{argv[-1]}: {p}")
    if problems:
        return 1
    q = config["quantization_config"]
    print(f"{argv[-1]}: loads as vLLM loads it ({len(q['config_groups'])} config group(s), "
          f"{len(q['ignore'])} ignored, {len(tensors)} tensors)")
    if self_test:
        missed = 0
        for what, c, t in mutations(config, tensors):
            found = check(c, t)
            print(f"  self-test: {what}: {'caught: ' + found[0] if found else 'NOT CAUGHT'}")
            missed += not found
        if missed:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
