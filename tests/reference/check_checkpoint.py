#!/usr/bin/env python3
"""Checks a checkpoint written by vlmslim-mkmodel against qwen3_vl_spec.md §1, independently
of the C code: config.json fields and structure, the side files, every tensor's name, shape
and dtype (the reference's own layout walk, which also rejects unused tensors), the value
conventions (norms near 1, finite values, the zero / tiny rows of layer 0) and the shard index.

Qwen2.5-VL (model_type qwen2_5_vl) is checked against Hugging Face's Qwen2_5_VLForConditionalGeneration
in both layouts: the published checkpoints' (transformers < 4.52: one flat config.json, visual.*,
model.*) and transformers >= 4.52's (text_config, model.visual.*, model.language_model.*), told
apart by the presence of text_config.

usage: check_checkpoint.py DIR [--shards N]     exit 0 if all checks pass, 1 otherwise
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ascendv1_reference as ref  # noqa: E402
import safetensors_np as st  # noqa: E402

DTYPES = {"bfloat16": "BF16", "float16": "F16", "float32": "F32"}
# Qwen's added tokens that config.json names by id (real ids; a small vocabulary's tokenizer.json
# puts them at its end)
QWEN_IDS = {"<|endoftext|>": 151643, "<|im_end|>": 151645, "<|vision_start|>": 151652,
            "<|vision_end|>": 151653, "<|vision_pad|>": 151654, "<|image_pad|>": 151655,
            "<|video_pad|>": 151656}


def token_ids(directory, vocab, expect):
    """The ids config.json must give Qwen's added tokens: those of tokenizer.json when there is
    one, else the real ones."""
    ids = dict(QWEN_IDS)
    tok_path = os.path.join(directory, "tokenizer.json")
    if os.path.isfile(tok_path):
        with open(tok_path) as f:
            added = {t["content"]: t["id"] for t in json.load(f)["added_tokens"]}
        expect(all(t in added for t in ids), "tokenizer.json: Qwen added tokens missing")
        ids = {t: added.get(t) for t in ids}
        expect(max(added.values()) < vocab, "tokenizer.json: ids beyond vocab_size")
    return ids


# config.json of the published Qwen2.5-VL checkpoints, key order included (Qwen2.5-VL-7B-Instruct's)
PUBLISHED_KEYS = ["architectures", "attention_dropout", "bos_token_id", "eos_token_id", "vision_start_token_id",
                  "vision_end_token_id", "vision_token_id", "image_token_id", "video_token_id", "hidden_act",
                  "hidden_size", "initializer_range", "intermediate_size", "max_position_embeddings",
                  "max_window_layers", "model_type", "num_attention_heads", "num_hidden_layers",
                  "num_key_value_heads", "rms_norm_eps", "rope_theta", "sliding_window", "tie_word_embeddings",
                  "torch_dtype", "transformers_version", "use_cache", "use_sliding_window", "vision_config",
                  "rope_scaling", "vocab_size"]
PUBLISHED_VISION_KEYS = ["depth", "hidden_act", "hidden_size", "intermediate_size", "num_heads", "in_chans",
                         "out_hidden_size", "patch_size", "spatial_merge_size", "spatial_patch_size", "window_size",
                         "fullatt_block_indexes", "tokens_per_second", "temporal_patch_size"]


def mrope_section_qwen2_5_vl(head_dim):
    """[t, h, w]: h = w = floor(3/8 * head_dim/2), t the rest ([16, 24, 24] for head_dim 128)."""
    half = head_dim // 2
    hw = 3 * half // 8
    return [half - 2 * hw, hw, hw]


class Tensors:
    """The checkpoint's tensors under the names it stores them under (ref.Checkpoint maps
    Qwen2.5-VL names to the export's layout; this check is about the file's own names)."""

    def __init__(self, path):
        self.path = path
        self.tensors, _ = st.load_checkpoint(path)
        self.used = set()

    def get(self, name, shape):
        t = self.tensors.get(name)
        if t is None:
            raise ref.RefError("%s: tensor %r missing" % (self.path, name))
        if t.shape != tuple(shape):
            raise ref.RefError("%s: tensor %r has shape %s, expected %s" % (self.path, name, list(t.shape), list(shape)))
        self.used.add(name)
        return t


def walk_qwen2_5_vl(ck, tc, vc, vis, txt):
    """Every tensor of Qwen2_5_VLForConditionalGeneration (marks them used; raises on a missing
    one or a wrong shape)."""
    hv, iv, h = vc["hidden_size"], vc["intermediate_size"], tc["hidden_size"]
    ck.get(vis + "patch_embed.proj.weight",
           [hv, vc["in_chans"], vc["temporal_patch_size"], vc["patch_size"], vc["patch_size"]])

    def linear(module, out, inp, bias):
        ck.get(module + ".weight", [out, inp])
        if bias:
            ck.get(module + ".bias", [out])

    for i in range(vc["depth"]):
        b = "%sblocks.%d." % (vis, i)
        ck.get(b + "norm1.weight", [hv])
        ck.get(b + "norm2.weight", [hv])
        linear(b + "attn.qkv", 3 * hv, hv, True)
        linear(b + "attn.proj", hv, hv, True)
        linear(b + "mlp.gate_proj", iv, hv, True)
        linear(b + "mlp.up_proj", iv, hv, True)
        linear(b + "mlp.down_proj", hv, iv, True)
    m4 = hv * vc["spatial_merge_size"] ** 2
    ck.get(vis + "merger.ln_q.weight", [hv])
    linear(vis + "merger.mlp.0", m4, m4, True)
    linear(vis + "merger.mlp.2", vc["out_hidden_size"], m4, True)

    nq, nkv, inter = tc["num_attention_heads"], tc["num_key_value_heads"], tc["intermediate_size"]
    d = h // nq
    ck.get(txt + "embed_tokens.weight", [tc["vocab_size"], h])
    for i in range(tc["num_hidden_layers"]):
        p = "%slayers.%d." % (txt, i)
        linear(p + "self_attn.q_proj", nq * d, h, True)
        linear(p + "self_attn.k_proj", nkv * d, h, True)
        linear(p + "self_attn.v_proj", nkv * d, h, True)
        linear(p + "self_attn.o_proj", h, nq * d, False)
        linear(p + "mlp.gate_proj", inter, h, False)
        linear(p + "mlp.up_proj", inter, h, False)
        linear(p + "mlp.down_proj", h, inter, False)
        ck.get(p + "input_layernorm.weight", [h])
        ck.get(p + "post_attention_layernorm.weight", [h])
    ck.get(txt + "norm.weight", [h])
    if "lm_head.weight" in ck.tensors:
        ck.get("lm_head.weight", [tc["vocab_size"], h])


def check_config_qwen2_5_vl(directory, cfg, expect):
    """config.json and preprocessor_config.json of Qwen2.5-VL; returns (text config, vision
    config, vision prefix, text prefix, tied)."""
    new = "text_config" in cfg
    tc, vc = (cfg["text_config"] if new else cfg), cfg["vision_config"]
    expect(cfg.get("architectures") == ["Qwen2_5_VLForConditionalGeneration"], "architectures")
    ids = token_ids(directory, tc["vocab_size"], expect)
    for key, token in (("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"),
                       ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>"),
                       ("vision_token_id", "<|vision_pad|>")):
        expect(cfg.get(key) == ids[token], "config.json: %s = %r" % (key, cfg.get(key)))
    for key, token in (("bos_token_id", "<|endoftext|>"), ("eos_token_id", "<|im_end|>")):
        expect(tc.get(key) == ids[token], "config.json: text %s = %r" % (key, tc.get(key)))
    for key in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "vocab_size", "tie_word_embeddings"):
        expect(key in tc, "text field %s missing" % key)
    expect("head_dim" not in tc, "Qwen2 has no head_dim key")
    h, nq = tc["hidden_size"], tc["num_attention_heads"]
    expect(h % nq == 0 and (h // nq) % 2 == 0, "hidden_size / num_attention_heads is an even head_dim")
    expect(nq % tc["num_key_value_heads"] == 0, "num_attention_heads is a multiple of num_key_value_heads")
    for key, value in (("max_position_embeddings", 128000), ("max_window_layers", tc["num_hidden_layers"]),
                       ("rms_norm_eps", 1e-06), ("rope_theta", 1000000.0), ("sliding_window", 32768),
                       ("use_sliding_window", False), ("hidden_act", "silu"), ("attention_dropout", 0.0),
                       ("use_cache", True)):
        expect(tc.get(key) == value and type(tc.get(key)) is type(value),
               "text field %s = %r, expected %r" % (key, tc.get(key), value))
    section = mrope_section_qwen2_5_vl(h // nq)
    rope = tc.get("rope_scaling")
    if new:
        # transformers >= 4.52's Qwen2_5_VLTextConfig turns type "mrope" into "default" and copies it
        expect(rope == {"mrope_section": section, "rope_type": "default", "type": "default"},
               "text_config.rope_scaling %r" % rope)
        expect(tc.get("model_type") == "qwen2_5_vl_text", "text_config.model_type")
        expect(tc.get("tie_word_embeddings") == cfg.get("tie_word_embeddings"), "tie_word_embeddings agrees")
        expect(tc.get("dtype") == cfg.get("torch_dtype"), "text_config.dtype agrees with torch_dtype")
        expect(cfg.get("transformers_version", "0") >= "4.52", "transformers_version %r" % cfg.get("transformers_version"))
        # the flat layout's text keys must not be left at the top level
        expect(not [k for k in ("hidden_size", "num_hidden_layers", "vocab_size", "rope_scaling") if k in cfg],
               "text fields at the top level of a nested config")
        expect(list(cfg) == sorted(cfg) and list(tc) == sorted(tc) and list(vc) == sorted(vc),
               "keys sorted as transformers writes them")
        expect(sorted(vc) == sorted(PUBLISHED_VISION_KEYS), "vision_config keys %s" % list(vc))
        expect(sorted(set(cfg) - {"quantization_config"}) ==
               sorted(["architectures", "image_token_id", "model_type", "text_config", "tie_word_embeddings",
                       "torch_dtype", "transformers_version", "video_token_id", "vision_config",
                       "vision_end_token_id", "vision_start_token_id", "vision_token_id"]),
               "top-level keys %s" % list(cfg))
    else:
        expect([k for k in cfg if k != "quantization_config"] == PUBLISHED_KEYS, "config.json keys %s" % list(cfg))
        expect(list(vc) == PUBLISHED_VISION_KEYS, "vision_config keys %s" % list(vc))
        expect(rope == {"type": "mrope", "mrope_section": section}, "rope_scaling %r" % rope)
        expect(cfg.get("transformers_version") == "4.41.2", "transformers_version")
    expect(sum(rope.get("mrope_section", [])) * 2 == h // nq, "mrope_section sums to head_dim/2")
    expect(cfg.get("model_type") == "qwen2_5_vl", "model_type")
    expect(cfg.get("torch_dtype") in DTYPES, "torch_dtype")
    for key, value in (("hidden_act", "silu"), ("in_chans", 3), ("patch_size", 14), ("spatial_patch_size", 14),
                       ("spatial_merge_size", 2), ("temporal_patch_size", 2), ("tokens_per_second", 2),
                       ("out_hidden_size", h)):
        expect(vc.get(key) == value, "vision_config.%s = %r" % (key, vc.get(key)))
    expect(vc["hidden_size"] % vc["num_heads"] == 0, "vision hidden_size is a multiple of num_heads")
    expect(vc.get("window_size", 0) > 0 and vc["window_size"] % (vc["patch_size"] * vc["spatial_merge_size"]) == 0,
           "vision_config.window_size %r covers whole merged patches" % vc.get("window_size"))
    full = vc.get("fullatt_block_indexes")
    expect(isinstance(full, list) and all(0 <= i < vc["depth"] for i in full), "fullatt_block_indexes %r" % full)

    with open(os.path.join(directory, "preprocessor_config.json")) as f:
        pp = json.load(f)
    expect(pp == {"min_pixels": 3136, "max_pixels": 12845056, "patch_size": 14, "temporal_patch_size": 2,
                  "merge_size": 2, "image_mean": [0.48145466, 0.4578275, 0.40821073],
                  "image_std": [0.26862954, 0.26130258, 0.27577711],
                  "image_processor_type": "Qwen2VLImageProcessor", "processor_class": "Qwen2_5_VLProcessor"},
           "preprocessor_config.json %r" % pp)
    with open(os.path.join(directory, "tokenizer_config.json")) as f:
        expect(json.load(f).get("model_max_length") == 131072, "tokenizer_config.json model_max_length")
    prefixes = ("model.visual.", "model.language_model.") if new else ("visual.", "model.")
    return (tc, vc) + prefixes + (cfg.get("tie_word_embeddings"),)


def check(directory, shards):
    errors = []

    def expect(cond, msg):
        if not cond:
            errors.append(msg)

    with open(os.path.join(directory, "config.json")) as f:
        cfg = json.load(f)
    family = cfg.get("model_type")
    expect(family in ("qwen3_vl", "qwen3_vl_moe", "qwen2_5_vl"), "config.json: model_type %r" % family)
    if family == "qwen2_5_vl":
        tc, vc, vis, txt, tied = check_config_qwen2_5_vl(directory, cfg, expect)
        ck = Tensors(directory)
        walk_qwen2_5_vl(ck, tc, vc, vis, txt)
        check_tensors(directory, ck, cfg, tc, tied, shards, txt, [vis + "merger.ln_q.weight"], expect)
        return errors
    moe = family == "qwen3_vl_moe"
    expect(cfg.get("architectures") == ["Qwen3VLMoeForConditionalGeneration" if moe
                                        else "Qwen3VLForConditionalGeneration"], "architectures")
    # the token ids of config.json are those of the added tokens of tokenizer.json when there is one
    # (a small vocabulary puts them at its end), else Qwen's real ids
    ids = token_ids(directory, cfg["text_config"]["vocab_size"], expect)
    for key, token in (("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"),
                       ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>")):
        expect(cfg.get(key) == ids[token], "config.json: %s = %r" % (key, cfg.get(key)))
    tc, vc = cfg["text_config"], cfg["vision_config"]
    expect(tc.get("model_type") == ("qwen3_vl_moe_text" if moe else "qwen3_vl_text"), "text_config.model_type")
    expect(vc.get("model_type") == family, "vision_config.model_type")
    rope = tc.get("rope_scaling", {})
    expect(rope.get("rope_type") == "default" and rope.get("mrope_interleaved") is True,
           "text_config.rope_scaling")
    expect(sum(rope.get("mrope_section", [])) * 2 == tc["head_dim"], "mrope_section sums to head_dim/2")
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
                "intermediate_size", "rms_norm_eps", "rope_theta", "vocab_size"):
        expect(key in tc, "text_config.%s missing" % key)
    if moe:
        for key in ("num_experts", "num_experts_per_tok", "moe_intermediate_size", "decoder_sparse_step",
                    "mlp_only_layers", "norm_topk_prob"):
            expect(key in tc, "text_config.%s missing" % key)
    for key, value in (("patch_size", 16), ("temporal_patch_size", 2), ("spatial_merge_size", 2),
                       ("in_channels", 3), ("hidden_act", "gelu_pytorch_tanh"),
                       ("out_hidden_size", tc["hidden_size"])):
        expect(vc.get(key) == value, "vision_config.%s = %r" % (key, vc.get(key)))
    n = int(round(vc["num_position_embeddings"] ** 0.5))
    expect(n * n == vc["num_position_embeddings"], "num_position_embeddings is a square")
    tied = cfg.get("tie_word_embeddings")
    expect(tc.get("tie_word_embeddings") == tied, "tie_word_embeddings agrees in text_config")

    with open(os.path.join(directory, "preprocessor_config.json")) as f:
        pp = json.load(f)
    expect(pp.get("image_processor_type") == "Qwen2VLImageProcessorFast" and pp.get("patch_size") == 16
           and pp.get("temporal_patch_size") == 2 and pp.get("merge_size") == 2
           and pp.get("image_mean") == [0.5] * 3 and pp.get("image_std") == [0.5] * 3
           and pp.get("size") == {"longest_edge": 16777216, "shortest_edge": 65536}, "preprocessor_config.json")
    # shapes, names, no leftover tensor: the reference's walk over the layout
    ck = ref.Checkpoint(directory)
    for _ in ref.units(ck, family):
        pass
    ref.tail(ck)
    check_tensors(directory, ck, cfg, tc, tied, shards, "model.language_model.", [], expect)
    if moe and ref.is_moe_layer(tc, 0):
        gu = ck.tensors["model.language_model.layers.0.mlp.experts.gate_up_proj"].to_f32()
        im = tc["moe_intermediate_size"]
        expect(not gu[0][:, 0].any(), "expert 0 gate_proj row 0 is not zero")
        expect(0 < np.abs(gu[0][:, im]).max() < 127 * 2.0 ** -23, "expert 0 up_proj row 0 is not tiny")
        expect(all(np.abs(gu[e][:, 0]).max() > 1e-3 for e in range(1, len(gu))), "other experts' row 0")
    return errors


def check_tensors(directory, ck, cfg, tc, tied, shards, txt, extra_norms, expect):
    """What every family shares: no tensor outside the layout walked (ck.used), lm_head iff not
    tied, one dtype, value conventions, layer 0's special k_proj rows, the file set."""
    leftover = sorted(set(ck.tensors) - ck.used)
    expect(not leftover, "tensors outside the layout: %s" % leftover[:5])
    expect(("lm_head.weight" in ck.tensors) == (not tied), "lm_head.weight present iff not tied")
    want = DTYPES[cfg["torch_dtype"]]
    expect(all(t.dtype == want for t in ck.tensors.values()), "every tensor is %s" % want)
    for name in ("generation_config.json", "tokenizer_config.json", "chat_template.json", "README.md"):
        expect(os.path.isfile(os.path.join(directory, name)), "%s missing" % name)
    k_name = txt + "layers.0.self_attn.k_proj.weight"
    for name, t in ck.tensors.items():
        x = t.to_f32()
        expect(np.isfinite(x).all(), "%s: non-finite values" % name)
        if ("norm" in name or name in extra_norms) and name.endswith(".weight"):
            expect(np.abs(x - 1).max() <= 1 / 8, "%s: norm weights not near 1" % name)
        elif x.ndim >= 2 and name != k_name:
            expect(np.abs(x).max() > 0 and len(np.unique(x)) > min(x.size // 4, 100),
                   "%s: values look degenerate" % name)
        elif x.ndim == 1 and name.endswith(".bias"):
            expect(np.abs(x).max() > 0, "%s: an all-zero bias" % name)

    # the rows that exercise the 2^-23 scale floor
    k = ck.tensors[k_name].to_f32()
    expect(not k[1].any(), "layer 0 k_proj row 1 is not zero")
    expect(0 < np.abs(k[2]).max() < 127 * 2.0 ** -23, "layer 0 k_proj row 2 is not tiny")
    expect(np.abs(k[3:]).max() > 1e-3, "layer 0 k_proj other rows")

    files = sorted(f for f in os.listdir(directory) if f.endswith(".safetensors"))
    if shards:
        expect(files == ["model-%05d-of-%05d.safetensors" % (i, shards) for i in range(1, shards + 1)],
               "shard files %s" % files)
        with open(os.path.join(directory, "model.safetensors.index.json")) as f:
            index = json.load(f)
        expect(index["metadata"]["total_size"] == sum(t.nbytes for t in ck.tensors.values()), "index total_size")
    else:
        expect(files == ["model.safetensors"], "files %s" % files)
        expect(not os.path.exists(os.path.join(directory, "model.safetensors.index.json")), "unexpected index")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--shards", type=int, default=0)
    a = ap.parse_args()
    try:
        errors = check(a.dir, a.shards)
    except (ref.RefError, ValueError, KeyError, OSError) as e:
        errors = [str(e)]
    for e in errors:
        print("check_checkpoint: %s: %s" % (a.dir, e), file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
