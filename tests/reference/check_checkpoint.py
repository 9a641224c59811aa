#!/usr/bin/env python3
"""Checks a checkpoint written by vlmslim-mkmodel against qwen3_vl_spec.md §1, independently
of the C code: config.json fields and structure, the side files, every tensor's name, shape
and dtype (the reference's own layout walk, which also rejects unused tensors), the value
conventions (norms near 1, finite values, the zero / tiny rows of layer 0) and the shard index.

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


def check(directory, shards):
    errors = []

    def expect(cond, msg):
        if not cond:
            errors.append(msg)

    with open(os.path.join(directory, "config.json")) as f:
        cfg = json.load(f)
    family = cfg.get("model_type")
    expect(family in ("qwen3_vl", "qwen3_vl_moe"), "config.json: model_type %r" % family)
    moe = family == "qwen3_vl_moe"
    expect(cfg.get("architectures") == ["Qwen3VLMoeForConditionalGeneration" if moe
                                        else "Qwen3VLForConditionalGeneration"], "architectures")
    # the token ids of config.json are those of the added tokens of tokenizer.json when there is one
    # (a small vocabulary puts them at its end), else Qwen's real ids
    ids = {"<|image_pad|>": 151655, "<|video_pad|>": 151656, "<|vision_start|>": 151652,
           "<|vision_end|>": 151653}
    tok_path = os.path.join(directory, "tokenizer.json")
    if os.path.isfile(tok_path):
        with open(tok_path) as f:
            added = {t["content"]: t["id"] for t in json.load(f)["added_tokens"]}
        expect(all(t in added for t in ids), "tokenizer.json: Qwen added tokens missing")
        ids = {t: added.get(t) for t in ids}
        expect(max(added.values()) < cfg["text_config"]["vocab_size"], "tokenizer.json: ids beyond vocab_size")
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
    for name in ("generation_config.json", "tokenizer_config.json", "README.md"):
        expect(os.path.isfile(os.path.join(directory, name)), "%s missing" % name)

    # shapes, names, no leftover tensor: the reference's walk over the layout
    ck = ref.Checkpoint(directory)
    for _ in ref.units(ck, family):
        pass
    ref.tail(ck)
    leftover = sorted(set(ck.tensors) - ck.used)
    expect(not leftover, "tensors outside the layout: %s" % leftover[:5])
    expect(("lm_head.weight" in ck.tensors) == (not tied), "lm_head.weight present iff not tied")
    want = DTYPES[cfg["torch_dtype"]]
    expect(all(t.dtype == want for t in ck.tensors.values()), "every tensor is %s" % want)
    for name, t in ck.tensors.items():
        x = t.to_f32()
        expect(np.isfinite(x).all(), "%s: non-finite values" % name)
        if "norm" in name and name.endswith(".weight"):
            expect(np.abs(x - 1).max() <= 1 / 8, "%s: norm weights not near 1" % name)
        elif x.ndim >= 2 and name != "model.language_model.layers.0.self_attn.k_proj.weight":
            expect(np.abs(x).max() > 0 and len(np.unique(x)) > min(x.size // 4, 100),
                   "%s: values look degenerate" % name)

    # the rows that exercise the 2^-23 scale floor
    k = ck.tensors["model.language_model.layers.0.self_attn.k_proj.weight"].to_f32()
    expect(not k[1].any(), "layer 0 k_proj row 1 is not zero")
    expect(0 < np.abs(k[2]).max() < 127 * 2.0 ** -23, "layer 0 k_proj row 2 is not tiny")
    expect(np.abs(k[3:]).max() > 1e-3, "layer 0 k_proj other rows")
    if moe and ref.is_moe_layer(tc, 0):
        gu = ck.tensors["model.language_model.layers.0.mlp.experts.gate_up_proj"].to_f32()
        im = tc["moe_intermediate_size"]
        expect(not gu[0][:, 0].any(), "expert 0 gate_proj row 0 is not zero")
        expect(0 < np.abs(gu[0][:, im]).max() < 127 * 2.0 ** -23, "expert 0 up_proj row 0 is not tiny")
        expect(all(np.abs(gu[e][:, 0]).max() > 1e-3 for e in range(1, len(gu))), "other experts' row 0")

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
    return errors


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
