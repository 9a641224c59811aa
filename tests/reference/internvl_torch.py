#!/usr/bin/env python3
"""Independent PyTorch (float32, CPU) reference of the InternVL3.5 forward pass in two layouts and
of their preprocessing — not from vlmslim's C code, not using transformers or torchvision:
the ORIGINAL layout (InternVLChatModel, model_type internvl_chat, trust_remote_code: vision_model.*,
mlp1.*, language_model.*) with msModelSlim's preprocessing, and transformers' NATIVE layout
(InternVLForConditionalGeneration, model_type internvl, the OpenGVLab/InternVL3_5-*-HF checkpoints:
model.vision_tower.*, model.multi_modal_projector.*, model.language_model.*, lm_head) with its
processor (InternVLProcessor + GotOcr2ImageProcessor, slow path). Written from:
  OpenGVLab/InternVL internvl_chat/internvl/model/internvl_chat/modeling_intern_vit.py at
    19b0da2d1986fedc406c8dd02ffc2969fcfc4443 (NORM2FN, InternVisionEmbeddings, InternAttention,
    InternMLP, InternVisionEncoderLayer), cross-checked against vLLM's
    vllm/model_executor/models/intern_vit.py;
  OpenGVLab/InternVL internvl_chat/internvl/model/internvl_chat/modeling_internvl_chat.py at
    8737357675ba0ee6bdcd782ac372d7989b969636 (mlp1, pixel_shuffle, extract_feature, forward's
    <IMG_CONTEXT> replacement; repository HEAD 2410d1dbf208f0e799459aff9376e5747dbf41a2);
  huggingface/transformers src/transformers/models/qwen3/modeling_qwen3.py at
    000c33fdfde12e1ffafbfcdb3c926df5727a00b6 (RMSNorm, per-head q_norm/k_norm, RoPE, GQA, SwiGLU);
  Ascend/msmodelslim msmodelslim/model/internvl3_5/internvl_utils.py and model_adapter.py at
    0928c42e824aef03e3b3578afe8c41b0a9d25e1e (load_image, _dynamic_preprocess, handle_dataset);
and for the native layout, huggingface/transformers:
  src/transformers/models/internvl/modeling_internvl.py at 00779a6b506f084e402f1b3c8f220a87242b32c6
    and at 2fd445481b4354436be1071db98ee96d57ea3591 (the same math in both; InternVLVisionRMSNorm,
    eager_attention_forward, InternVLVisionAttention, InternVLVisionEmbeddings,
    InternVLVisionLayer, InternVLVisionModel, InternVLMultiModalProjector, get_image_features,
    pixel_shuffle, masked_scatter of the image features, lm_head), modular_internvl.py at
    00dcc6dda6f6d8e69541a6b51f97986a80242367 (InternVLVisionRMSNorm = LlamaRMSNorm, eps 1e-6);
  src/transformers/models/internvl/configuration_internvl.py at
    04ea98d573ce9f3928c226b9e792e5f2c0070ef7 (defaults of InternVLVisionConfig / InternVLConfig);
  src/transformers/models/internvl/processing_internvl.py at
    024fd4ce2d70431f862b944832c3fde9f8303164 (crop_to_patches forced True,
    _insert_media_placeholders, image_seq_length default 256);
  src/transformers/models/got_ocr2/image_processing_got_ocr2.py at
    0b97ca8d385723d268f5566778e458d0c51213d5 (get_all_supported_aspect_ratios,
    get_optimal_tiled_canvas, preprocess, crop_image_to_patches);
  src/transformers/image_transforms.py at 000593ad84f26043f62917c541c57c4b71b9bc94 (resize through
    PIL for uint8, rescale, normalize); image_utils.load_image (PIL open, ImageOps.exif_transpose,
    convert RGB) as the brief states it (no stored recent version of image_utils.py was found).

  internvl_torch.py inputs MODEL_DIR OUT_DIR [--tiles 3] [--seed N]
  internvl_torch.py dump   MODEL_DIR INPUTS_DIR OUT_DIR
  internvl_torch.py pixels MODEL_DIR IMAGE... [--out DIR]
  internvl_torch.py prompt TEXT [--tiles N] [--tokens-per-tile T]
  internvl_torch.py expand PROMPT --tiles N[,M...] [--tokens-per-tile T] [--model MODEL_DIR]
  internvl_torch.py selftest

Every command picks the layout by config.json's model_type (internvl_chat: original, internvl:
native). `inputs` writes OUT_DIR/sample_0.safetensors (random pixel_values [tiles, 3*S*S] of one
image, ids: text, <img>, <IMG_CONTEXT> x tokens-per-tile*tiles, </img>, text) and sample_1 (text
only); native: <img>/</img> ids from tokenizer.json's added tokens, the image token config.json's
image_token_id. `dump` writes OUT_DIR/sample_<i>.safetensors: `hidden.visual` [image tokens, llm
hidden] (after mlp1 / the projector), `hidden.layer_<n>` [seq, hidden], `logits` [vocab] of the
last position. `pixels` prints one JSON object per line and image (size, tiles, grid, sha256 of
the float32 pixel_values) and with --out writes DIR/<basename>.pixels.npy: original layout
msModelSlim's load_image, native layout the GotOcr2 processor (preprocessor_config.json).
`prompt` writes handle_dataset's query string to stdout byte for byte (UTF-8, no trailing
newline). `expand` writes the native processor's placeholder expansion of an already rendered
prompt (each <IMG_CONTEXT> -> <img> + <IMG_CONTEXT> x T*tiles + </img>, tiles per image in
order; T from --tokens-per-tile, else processor_config.json's image_seq_length with --model,
else 256) the same way. `selftest` checks the tricky parts.

Notes (original layout): the ViT has no final norm; select_layer indexes hidden_states =
(embeddings, layer 0, ..., layer L-1), so -1 is the last layer (msModelSlim's calibration forward
always takes last_hidden_state). Pixel shuffle v2 puts x[2i+l, 2j+k, :] at channel block 2l+k of
token (i, j). mlp1's LayerNorm has nn.LayerNorm's default eps 1e-5 (the ViT norms use
layer_norm_eps 1e-6); nn.GELU in mlp1 and ACT2FN["gelu"] in InternMLP are both the exact erf
GELU. The ViT scales q before q k^T, Qwen3 scales q k^T. Everything runs in float32 whatever the
checkpoint dtype.

Native layout: load() renames the tensors into the original names (q_proj/k_proj/v_proj
concatenated along rows into attn.qkv: InternAttention's qkv output reshapes to (3, heads, d), so
rows [0:C] are q, [C:2C] k, [2C:3C] v, each head-major as q_proj's reshape(heads, d)) and the
config into the original keys, plus a few switches (cfg["native"]); LINEAR_HOOK still sees the
native module names, q_proj/k_proj/v_proj as three Linears. What differs from the original
(modeling_internvl.py unless said):
  - q_norm/k_norm are `InternVLVisionRMSNorm(self.embed_dim)`: eps 1e-6 always (its default),
    not layer_norm_eps as InternRMSNorm(embed_dim, eps=config.layer_norm_eps); still over all
    heads, before `reshape(batch_size, seq_len, self.num_heads, self.head_dim)`;
  - eager_attention_forward scales after the product, `torch.matmul(query, key_states.transpose(
    2, 3)) * scaling`, where InternAttention._naive_attn does `(q * self.scale) @ k`: a rounding
    difference only, none when head_dim is a power of 4 (the scale a power of 2); transformers'
    default sdpa backend rounds differently again (this reference follows eager);
  - `self.layernorm = nn.Identity() if config.use_mean_pooling else nn.LayerNorm(hidden_size,
    eps=config.layer_norm_eps)` on last_hidden_state (a LayerNorm whatever norm_type; the
    original InternVisionModel has none); -> vision_model.layernorm.*;
  - get_image_features: `if vision_feature_layer == -1: ...vision_tower(...).last_hidden_state`
    (after that layernorm) `else: self.vision_model(...).hidden_states[vision_feature_layer]`:
    `self.vision_model` does not exist on InternVLModel at either commit (AttributeError), so only
    -1 runs upstream; other ints are taken as meant, hidden_states[k] of (embeddings, layer 0,
    ..., layer L-1), before the final layernorm; lists are refused;
    `if vision_feature_select_strategy == "default": vision_features[:, 1:, :]`; "full" keeps
    the class token and then cannot reshape to feature_size^2 (refused here);
  - the position table is used as is when `num_patches == num_positions and height == width`,
    else bicubic (align_corners False) as the original; the original always interpolates, the
    identity at the same grid; use_absolute_position_embeddings false: no table;
  - pixel_shuffle is the original's v2 code line for line (final permute included): no ps_version;
  - the projector is nn.LayerNorm(C * int(1 / downsample_ratio) ** 2) (default eps 1e-5, as
    mlp1.0), linear_1, `ACT2FN[config.projector_hidden_act]` ("gelu": exact erf, as nn.GELU),
    linear_2: the same as mlp1 for "gelu";
  - InternVLVisionLayer is the same math as InternVisionEncoderLayer (layernorm_before/after =
    NORM2FN[norm_type](eps=layer_norm_eps), lambda_1/lambda_2 = ls1/ls2, attention_bias = qkv_bias,
    projection_layer always with a bias); the text model is the same Qwen3Model;
  - lm_head absent: tied when text_config's or the top level's tie_word_embeddings is true
    (transformers 4.x ties on the text config, 5.x's InternVLConfig has tie_word_embeddings
    True at the top);
  - config defaults differ: InternVLVisionConfig norm_type layer_norm, use_qk_norm False,
    attention_bias False, image_size (448, 448), use_mean_pooling True; InternVLConfig
    image_token_id 151667, image_seq_length 256, vision_feature_layer -1; text model_type must be
    qwen3 here (InternVLConfig's default is qwen2).
Native preprocessing (GotOcr2ImageProcessor.preprocess with crop_to_patches=True, forced by
InternVLProcessorKwargs) against msModelSlim's load_image:
  - load: transformers' load_image applies ImageOps.exif_transpose before convert("RGB"); the
    original does not;
  - get_all_supported_aspect_ratios lists (width, height) width-major and sorts by area (stable),
    dynamic_preprocess sorts a set by area: same members, a different order within an area, which
    matters only on exact ratio-difference ties between grids of one area (never with
    min_patches 1, max_patches 12 in a brute-force scan; e.g. min = max = 4 at 1000x400 gives 2x2
    here and 4x1 there); the tie rule is the same expression (`area > 0.5 * tile_h * tile_w *
    cols * rows`); get_optimal_tiled_canvas takes (height, width) and returns (cols, rows);
    min/max from preprocessor_config.json min_patches/max_patches (not config.json's
    min/max_dynamic_patch); `crop_to_patches and max_patches > 1`, else the whole image resized;
  - the canvas resize is crop_image_to_patches' self.resize (BICUBIC, its default) through PIL
    (uint8 is never rescaled for PIL), tiles row-major (numpy slices = PIL crops), the thumbnail
    (BICUBIC) when more than one tile: the same as the original; then every tile is resized to
    `size` with `resample` (a PIL copy at the same size);
  - rescale is `image.astype(np.float64) * scale` then float32, normalize `(image - mean) / std`
    with mean/std cast to float32: bit-identical to ToTensor (float32 / 255) + Normalize for all
    256 uint8 values (checked); mean/std/rescale_factor come from preprocessor_config.json
    (defaults OPENAI_CLIP_MEAN/STD, not ImageNet's, when absent);
  - an image 1 or 3 pixels high is refused: transformers' infer_channel_dimension_format takes
    such an HWC array for channels-first.
Prompt: InternVLProcessor._insert_media_placeholders replaces each <IMG_CONTEXT> in turn by
<placeholder>, then each <placeholder> (a literal one in the text included) by the next
`<img>` + `<IMG_CONTEXT>` * image_seq_length * num_patches + `</img>`; a <video> without videos
fails upstream and here; the numbers of placeholders and images must match."""
import argparse, hashlib, json, math, os, re, shutil, subprocess, sys, tempfile

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np as st  # noqa: E402
from qwen3_vl_torch import read_inputs, rotate_half, write_inputs  # noqa: E402

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# model_adapter.py handle_dataset, byte for byte
SYSTEM = ('<|im_start|>system\n你是书生·万象，英文名是InternVL，'
          '是由上海人工智能实验室、清华大学及多家合作单位联合开发的多模态大语言模型。<|im_end|>')
IMG_START, IMG_END, IMG_CONTEXT = '<img>', '</img>', '<IMG_CONTEXT>'


NATIVE_VIDEO = "<video>"  # the native tokenizer's video_token (a <video> in a prompt without videos fails)
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # GotOcr2ImageProcessor's defaults
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def read_config(model_dir):
    """config.json; a native one (model_type internvl) normalised by native_config()."""
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    return native_config(cfg) if cfg.get("model_type") == "internvl" else cfg


def is_native(cfg):
    return bool(cfg.get("native"))


def square(v, what):
    """image_size / patch_size: an int or [h, w] (InternVLVisionConfig.__post_init__); square only."""
    v = [v, v] if isinstance(v, int) else list(v)
    if len(v) != 2 or v[0] != v[1]:
        raise NotImplementedError("vision_config.%s %r: only square" % (what, v))
    return int(v[0])


def native_config(raw):
    """An InternVLConfig (model_type internvl) as the original keys vision_config() /
    text_config() read, with the native switches under "native" (raw config under
    native.config). Absent keys take InternVLVisionConfig's / InternVLConfig's defaults."""
    if raw.get("native"):
        return raw
    vc, tc = raw.get("vision_config") or {}, raw.get("text_config") or {}
    if tc.get("model_type", "qwen2") != "qwen3":
        raise NotImplementedError("text_config.model_type %r (only qwen3)" % tc.get("model_type", "qwen2"))
    layer = raw.get("vision_feature_layer", -1)
    strategy = raw.get("vision_feature_select_strategy", "default")
    if not isinstance(layer, int):
        raise NotImplementedError("vision_feature_layer %r (a list)" % (layer,))
    if strategy != "default":  # "full" keeps the class token, then reshape(b, g, g, -1) fails
        raise NotImplementedError("vision_feature_select_strategy %r" % strategy)
    ovc = dict(model_type="internvl_vision", hidden_size=vc.get("hidden_size", 1024),
               num_hidden_layers=vc.get("num_hidden_layers", 24),
               num_attention_heads=vc.get("num_attention_heads", 16),
               intermediate_size=vc.get("intermediate_size", 4096),
               image_size=square(vc.get("image_size", [448, 448]), "image_size"),
               patch_size=square(vc.get("patch_size", [14, 14]), "patch_size"),
               norm_type=vc.get("norm_type", "layer_norm"), layer_norm_eps=vc.get("layer_norm_eps", 1e-6),
               qkv_bias=vc.get("attention_bias", False), qk_normalization=vc.get("use_qk_norm", False),
               hidden_act=vc.get("hidden_act", "gelu"))
    tie = bool(tc.get("tie_word_embeddings", False)) or bool(raw.get("tie_word_embeddings", False))
    return dict(architectures=raw.get("architectures"), model_type="internvl", torch_dtype=raw.get("torch_dtype"),
                downsample_ratio=raw.get("downsample_ratio", 0.5), force_image_size=None, select_layer=layer,
                ps_version="v2", vision_config=ovc, llm_config=tc,
                native=dict(config=raw, qk_eps=1e-6, post_ln=not vc.get("use_mean_pooling", True),
                            abs_pos=vc.get("use_absolute_position_embeddings", True),
                            proj_act=raw.get("projector_hidden_act", "gelu"),
                            image_token_id=int(raw.get("image_token_id", 151667)),
                            image_seq_length=int(raw.get("image_seq_length", 256)), tie=tie))


# native tensor names -> original ones: (native prefix, original prefix), first match wins; names
# under a vision layer go through NATIVE_VIT_LAYER (q/k/v_proj are concatenated into attn.qkv)
NATIVE_VIT = "model.vision_tower.encoder.layer.%d."
NATIVE_RENAME = (
    ("model.vision_tower.embeddings.cls_token", "vision_model.embeddings.class_embedding"),
    ("model.vision_tower.embeddings.patch_embeddings.projection.", "vision_model.embeddings.patch_embedding."),
    ("model.vision_tower.embeddings.position_embeddings", "vision_model.embeddings.position_embedding"),
    ("model.vision_tower.layernorm.", "vision_model.layernorm."),  # no original counterpart
    ("model.multi_modal_projector.layer_norm.", "mlp1.0."),
    ("model.multi_modal_projector.linear_1.", "mlp1.1."),
    ("model.multi_modal_projector.linear_2.", "mlp1.3."),
    ("model.language_model.", "language_model.model."),
    ("lm_head.", "language_model.lm_head."))
NATIVE_VIT_LAYER = (
    ("attention.q_norm.", "attn.q_norm."), ("attention.k_norm.", "attn.k_norm."),
    ("attention.projection_layer.", "attn.proj."), ("layernorm_before.", "norm1."), ("layernorm_after.", "norm2."),
    ("lambda_1", "ls1"), ("lambda_2", "ls2"), ("mlp.fc1.", "mlp.fc1."), ("mlp.fc2.", "mlp.fc2."),
    ("attention.q_proj.", "attn.q_proj."), ("attention.k_proj.", "attn.k_proj."), ("attention.v_proj.", "attn.v_proj."))


def rename(name, rules):
    for new, old in rules:
        if name.startswith(new):
            return old + name[len(new):]
    return None


def native_weights(W):
    """Native tensor names -> original ones (unknown names kept as they are); q/k/v_proj
    weights concatenated along rows into attn.qkv.weight, their biases likewise (a missing one
    as zeros when another is present, as smoothing may add one)."""
    out, qkv = {}, {}
    for name, t in W.items():
        m = re.match(r"model\.vision_tower\.encoder\.layer\.(\d+)\.(.*)$", name)
        if m:
            rest = rename(m.group(2), NATIVE_VIT_LAYER)
            if rest is None:
                raise ValueError("unknown vision tensor %s" % name)
            p = "vision_model.encoder.layers.%s." % m.group(1)
            if rest.startswith(("attn.q_proj.", "attn.k_proj.", "attn.v_proj.")):
                qkv.setdefault(p, {})[rest[5] + "." + rest.rsplit(".", 1)[1]] = t  # "q.weight", "v.bias", ...
            else:
                out[p + rest] = t
            continue
        out[rename(name, NATIVE_RENAME) or name] = t
    for p, parts in qkv.items():
        for kind in ("weight", "bias"):
            got = [parts.get(c + "." + kind) for c in "qkv"]
            if all(g is None for g in got):
                continue
            if kind == "weight" and any(g is None for g in got):
                raise ValueError("%s: q/k/v_proj.weight incomplete" % p)
            n = next(g for g in got if g is not None).shape[0]
            out[p + "attn.qkv." + kind] = torch.cat([g if g is not None else torch.zeros(n) for g in got], 0)
    return out


def load(model_dir):
    """(cfg, W): W in the original layout's names whatever the checkpoint's layout."""
    cfg = read_config(model_dir)
    tensors, _ = st.load_checkpoint(model_dir)
    W = {k: torch.from_numpy(np.ascontiguousarray(t.to_f32())) for k, t in tensors.items()}
    if is_native(cfg):
        W = native_weights(W)
        if "language_model.lm_head.weight" not in W:
            if not cfg["native"]["tie"]:
                raise ValueError("%s: no lm_head.weight and tie_word_embeddings is false" % model_dir)
            W["language_model.lm_head.weight"] = W["language_model.model.embed_tokens.weight"]
        if cfg["native"]["post_ln"] and "vision_model.layernorm.weight" not in W:
            raise ValueError("%s: use_mean_pooling is false but no model.vision_tower.layernorm.weight" % model_dir)
        return cfg, W
    if "language_model.lm_head.weight" not in W:
        if not cfg["llm_config"].get("tie_word_embeddings", False):
            raise ValueError("%s: no language_model.lm_head.weight and tie_word_embeddings is false" % model_dir)
        W["language_model.lm_head.weight"] = W["language_model.model.embed_tokens.weight"]
    return cfg, W


def special_ids(model_dir, need=(IMG_START, IMG_END, IMG_CONTEXT)):
    """content -> id of tokenizer.json's added_tokens (<img>, </img>, <IMG_CONTEXT>, ...)."""
    with open(os.path.join(model_dir, "tokenizer.json"), encoding="utf-8") as f:
        ids = {t["content"]: int(t["id"]) for t in json.load(f).get("added_tokens", [])}
    for tok in need:
        if tok not in ids:
            raise ValueError("%s/tokenizer.json: no added token %s" % (model_dir, tok))
    return ids


def image_token_id(model_dir, cfg):
    """The id the image features replace: config.json's image_token_id (native), tokenizer.json's
    <IMG_CONTEXT> (original)."""
    if is_native(cfg):
        return cfg["native"]["image_token_id"]
    return special_ids(model_dir)[IMG_CONTEXT]


def vision_config(cfg):
    """Absent keys take InternVisionConfig's / InternVLChatConfig's defaults (qk_normalization
    True, norm_type rms_norm, image_size 224, ps_version v1)."""
    vc = cfg["vision_config"]
    side_px = vc.get("image_size", 224)
    S, P = cfg.get("force_image_size") or side_px, vc.get("patch_size", 14)
    r = cfg.get("downsample_ratio", 0.5)
    return dict(S=S, P=P, side=side_px // P, C=vc["hidden_size"], heads=vc["num_attention_heads"],
                layers=vc["num_hidden_layers"], norm=vc.get("norm_type", "rms_norm"),
                eps=vc.get("layer_norm_eps", 1e-6), qkn=vc.get("qk_normalization", True),
                act=vc.get("hidden_act", "gelu"), select=cfg.get("select_layer", -1), ratio=r,
                ps=cfg.get("ps_version", "v1"), tokens=int((S // P) ** 2 * r ** 2), **native_switches(cfg, vc))


def native_switches(cfg, vc):
    """What the native layout computes differently (see the module notes); the original's values
    when cfg is not native."""
    nat = cfg.get("native")
    if not nat:
        return dict(native=False, qk_eps=vc.get("layer_norm_eps", 1e-6), scale_after=False, post_ln=False,
                    abs_pos=True, proj_act="gelu")
    if nat["proj_act"] not in ACT:
        raise NotImplementedError("projector_hidden_act %r" % nat["proj_act"])
    return dict(native=True, qk_eps=nat["qk_eps"], scale_after=True, post_ln=nat["post_ln"], abs_pos=nat["abs_pos"],
                proj_act=nat["proj_act"])


def hook_name(native, name):
    """The module name LINEAR_HOOK sees for an original-layout name: the checkpoint's own, so the
    native names for a native checkpoint (vision attn.q_proj/k_proj/v_proj are its three Linears)."""
    if not native:
        return name
    m = re.match(r"vision_model\.encoder\.layers\.(\d+)\.(.*)$", name)
    if m:
        rest = {new[:-1]: old[:-1] for new, old in NATIVE_VIT_LAYER if new.endswith(".")}
        inv = {v: k for k, v in rest.items()}
        return NATIVE_VIT % int(m.group(1)) + inv[m.group(2)]
    for new, old in NATIVE_RENAME:
        if (name + ".").startswith(old):
            return (new + (name + ".")[len(old):])[:-1]
    raise ValueError("no native name for %s" % name)


def text_config(cfg):
    """llm_config; absent keys take Qwen3Config's defaults (head_dim 128, theta 10000)."""
    lc = cfg["llm_config"]
    rope = lc.get("rope_scaling") or {}
    if rope.get("rope_type", rope.get("type", "default")) != "default" or lc.get("use_sliding_window"):
        raise NotImplementedError("rope_scaling %r / sliding window" % rope)
    if lc.get("hidden_act", "silu") != "silu":
        raise NotImplementedError("hidden_act %r" % lc["hidden_act"])
    H, nq = lc["hidden_size"], lc["num_attention_heads"]
    theta = lc.get("rope_theta", (lc.get("rope_parameters") or {}).get("rope_theta", 10000.0))
    return dict(H=H, layers=lc["num_hidden_layers"], nq=nq, nkv=lc.get("num_key_value_heads", nq),
                D=lc.get("head_dim", 128), eps=lc.get("rms_norm_eps", 1e-6), theta=theta, vocab=lc["vocab_size"])


# Every Linear goes through linear(); a caller may set LINEAR_HOOK to (name, x, w, b) -> y (as in
# qwen3_vl_torch.py). Names are the checkpoint's module names.
LINEAR_HOOK = None


def linear(name, x, w, b=None):
    if LINEAR_HOOK is not None:
        return LINEAR_HOOK(name, x, w, b)
    y = x @ w.T
    return y + b if b is not None else y


def rms(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


ACT = {"gelu": F.gelu, "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
       "gelu_new": lambda x: F.gelu(x, approximate="tanh")}  # transformers' ACT2FN; "gelu" is exact erf


# ---------------------------------------------------------------------------------------------
# vision tower (InternViT) + mlp1

def vnorm(v, W, name, x):
    if v["norm"] == "layer_norm":  # nn.LayerNorm(C, eps=layer_norm_eps)
        return F.layer_norm(x, (x.shape[-1],), W[name + ".weight"], W[name + ".bias"], v["eps"])
    if v["norm"] == "rms_norm":  # InternRMSNorm (a bias only if smoothing added one)
        return rms(x, W[name + ".weight"], v["eps"]) + W.get(name + ".bias", 0)
    raise ValueError("norm_type %r" % v["norm"])


def pos_embed(table, side, g):
    """_get_pos_embed: the [side*side, C] table as a side x side image, bicubic (align_corners
    False) to the g x g patch grid, back to [g*g, C] in raster order."""
    t = table.reshape(1, side, side, -1).permute(0, 3, 1, 2)
    return F.interpolate(t, size=(g, g), mode="bicubic", align_corners=False).reshape(table.shape[1], g * g).T


def vit_attention(q, k, v, scale, scale_after=False):
    """q, k, v [tiles, N, heads, d]: full attention within each tile, q scaled before q k^T
    (InternAttention), or q k^T scaled (scale_after: the native eager_attention_forward)."""
    if scale_after:
        att = (torch.einsum("bqhd,bkhd->bhqk", q, k) * scale).softmax(-1)
    else:
        att = torch.einsum("bqhd,bkhd->bhqk", q * scale, k).softmax(-1)
    return torch.einsum("bhqk,bkhd->bqhd", att, v)


def vision_layer(v, W, i, x):
    p = "vision_model.encoder.layers.%d." % i
    b, n, C = x.shape
    heads = v["heads"]
    lin = lambda y, name: linear(hook_name(v["native"], p + name), y, W[p + name + ".weight"],
                                 W.get(p + name + ".bias"))
    h = vnorm(v, W, p + "norm1", x)
    if v["native"]:  # q_proj, k_proj, v_proj: rows [0:C], [C:2C], [2C:3C] of the concatenated qkv
        w, bias = W[p + "attn.qkv.weight"], W.get(p + "attn.qkv.bias")
        q, k, vv = (linear(hook_name(True, p + "attn.%s_proj" % c), h, w[j * C:(j + 1) * C],
                           None if bias is None else bias[j * C:(j + 1) * C]).reshape(b, n, heads, C // heads)
                    for j, c in enumerate("qkv"))
    else:
        q, k, vv = lin(h, "attn.qkv").reshape(b, n, 3, heads, C // heads).unbind(2)
    if v["qkn"]:  # InternRMSNorm / InternVLVisionRMSNorm over the whole embed dim (all heads)
        q = rms(q.reshape(b, n, C), W[p + "attn.q_norm.weight"], v["qk_eps"]).view(b, n, heads, -1)
        k = rms(k.reshape(b, n, C), W[p + "attn.k_norm.weight"], v["qk_eps"]).view(b, n, heads, -1)
    o = vit_attention(q, k, vv, (C // heads) ** -0.5, v["scale_after"]).reshape(b, n, C)
    x = x + lin(o, "attn.proj") * W[p + "ls1"]
    h = lin(ACT[v["act"]](lin(vnorm(v, W, p + "norm2", x), "mlp.fc1")), "mlp.fc2")
    return x + h * W[p + "ls2"]


def pixel_shuffle(x, scale_factor, ps_version="v2"):
    """Transcription of InternVLChatModel.pixel_shuffle on x [n, rows, cols, c] (v1: no swap back)."""
    n, w, h, c = x.size()
    x = x.view(n, w, int(h * scale_factor), int(c / scale_factor))
    x = x.permute(0, 2, 1, 3).contiguous()
    x = x.view(n, int(h * scale_factor), int(w * scale_factor), int(c / (scale_factor * scale_factor)))
    return x if ps_version == "v1" else x.permute(0, 2, 1, 3).contiguous()


def vision_embed(v, W, pixel_values):
    """InternVisionEmbeddings: [tiles, 3*S*S] -> [tiles, 1 + g*g, C], the class token first."""
    S, P, C = v["S"], v["P"], v["C"]
    g, nt = S // P, pixel_values.shape[0]
    if pixel_values.shape[1] != 3 * S * S or S % P:
        raise ValueError("pixel_values %s for tile size %d, patch %d" % (list(pixel_values.shape), S, P))
    pre = "vision_model.embeddings."
    # Conv2d with kernel = stride = P: one matmul per patch, patches in raster order (flatten(2))
    patches = pixel_values.reshape(nt, 3, g, P, g, P).permute(0, 2, 4, 1, 3, 5).reshape(nt, g * g, 3 * P * P)
    x = patches @ W[pre + "patch_embedding.weight"].reshape(C, -1).T + W[pre + "patch_embedding.bias"]
    table = W[pre + "position_embedding"].reshape(-1, C) if v["abs_pos"] else torch.zeros(v["side"] ** 2 + 1, C)
    if table.shape[0] != v["side"] ** 2 + 1:
        raise ValueError("position_embedding rows %d != (image_size/patch)^2 + 1" % table.shape[0])
    x = torch.cat([W[pre + "class_embedding"].reshape(1, 1, C).expand(nt, 1, C), x], 1)
    if v["native"]:  # interpolate_pos_encoding: the table as is at the same (square) grid
        if not v["abs_pos"]:
            return x
        return x + (table if g == v["side"] else torch.cat([table[:1], pos_embed(table[1:], v["side"], g)]))
    return x + torch.cat([table[:1], pos_embed(table[1:], v["side"], g)])


def vision_tower(cfg, W, pixel_values):
    """The ViT's selected hidden state [tiles, 1 + g*g, C]: hidden_states = (embeddings, layer 0
    out, ..., layer L-1 out); select_layer -1 = last_hidden_state (native: after the final
    layernorm when use_mean_pooling is false; another index is before it)."""
    v = vision_config(cfg)
    x = vision_embed(v, W, pixel_values)
    s = v["select"]
    run = v["layers"] if s == -1 else (s if s >= 0 else v["layers"] + 1 + s)
    if not 0 <= run <= v["layers"]:
        raise ValueError("select_layer %d with %d layers" % (s, v["layers"]))
    for i in range(run):
        x = vision_layer(v, W, i, x)
    if v["post_ln"] and s == -1:  # InternVLVisionModel.layernorm = nn.LayerNorm(C, eps=layer_norm_eps)
        x = F.layer_norm(x, (v["C"],), W["vision_model.layernorm.weight"], W["vision_model.layernorm.bias"], v["eps"])
    return x


def vision_project(cfg, W, x):
    """[tiles, 1 + g*g, C] -> [tiles * tokens, H]: drop the class token (native: select strategy
    "default"), pixel shuffle, mlp1 / multi_modal_projector."""
    v = vision_config(cfg)
    C, g, nt = v["C"], v["S"] // v["P"], x.shape[0]
    x = x[:, 1:].reshape(nt, g, g, C)
    x = pixel_shuffle(x, v["ratio"], v["ps"]).reshape(nt, -1, int(C / v["ratio"] ** 2))
    x = F.layer_norm(x, (x.shape[-1],), W["mlp1.0.weight"], W["mlp1.0.bias"], 1e-5)  # nn.LayerNorm default eps
    hn = lambda name: hook_name(v["native"], name)
    x = linear(hn("mlp1.3"), ACT[v["proj_act"]](linear(hn("mlp1.1"), x, W["mlp1.1.weight"], W["mlp1.1.bias"])),
               W["mlp1.3.weight"], W["mlp1.3.bias"])  # nn.GELU() / ACT2FN["gelu"]: exact erf
    return x.reshape(-1, x.shape[-1])


def vision_forward(cfg, W, pixel_values):
    """extract_feature / get_image_features: pixel_values [tiles, 3*S*S] (C, H, W per row) ->
    [tiles * tokens, H]."""
    return vision_project(cfg, W, vision_tower(cfg, W, pixel_values))


# ---------------------------------------------------------------------------------------------
# text model (Qwen3ForCausalLM)

def text_prepare(cfg, W, ids, embeds, image_id):
    """First layer's input (embeddings, the <IMG_CONTEXT> rows replaced in order by the image
    features), the image mask and rope = (cos, sin, causal); positions 0..n-1 for every token."""
    tc = text_config(cfg)
    emb = W["language_model.model.embed_tokens.weight"]
    ids_t = torch.tensor(ids)
    mask = ids_t == image_id
    if int(mask.sum()) != embeds.shape[0]:
        raise ValueError("image tokens %d != image features %d" % (int(mask.sum()), embeds.shape[0]))
    x = emb[ids_t].clone()
    x[mask] = embeds
    D, s = tc["D"], len(ids)
    inv = 1.0 / (tc["theta"] ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
    ang = torch.arange(s, dtype=torch.float32)[:, None] * inv
    ang = torch.cat([ang, ang], -1)
    causal = torch.full((s, s), float("-inf")).triu(1)
    return x, mask, (ang.cos()[:, None, :], ang.sin()[:, None, :], causal)


def text_attention(q, k, v, causal):
    """q [s, nq, D], k/v [s, nkv, D]: causal GQA (repeat_kv), scaling after q k^T as eager_attention."""
    rep = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
    att = torch.einsum("qhd,khd->hqk", q, k) * q.shape[-1] ** -0.5 + causal
    return torch.einsum("hqk,khd->qhd", att.softmax(-1), v)


def text_layer(cfg, W, L, x, rope):
    tc = text_config(cfg)
    D, eps, s = tc["D"], tc["eps"], x.shape[0]
    cos, sin, causal = rope
    p = "language_model.model.layers.%d." % L
    native = is_native(cfg)
    lin = lambda y, name: linear(hook_name(native, p + name), y, W[p + name + ".weight"], W.get(p + name + ".bias"))
    # norm biases are used when present (asymmetric smoothing creates them)
    h = rms(x, W[p + "input_layernorm.weight"], eps) + W.get(p + "input_layernorm.bias", 0)
    q = rms(lin(h, "self_attn.q_proj").view(s, -1, D), W[p + "self_attn.q_norm.weight"], eps)  # per head
    k = rms(lin(h, "self_attn.k_proj").view(s, -1, D), W[p + "self_attn.k_norm.weight"], eps)
    v = lin(h, "self_attn.v_proj").view(s, -1, D)
    q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
    x = x + lin(text_attention(q, k, v, causal).reshape(s, -1), "self_attn.o_proj")
    h = rms(x, W[p + "post_attention_layernorm.weight"], eps) + W.get(p + "post_attention_layernorm.bias", 0)
    return x + lin(F.silu(lin(h, "mlp.gate_proj")) * lin(h, "mlp.up_proj"), "mlp.down_proj")


def forward_sample(cfg, W, ids, pv, grids, image_id):
    """(hidden.visual, [hidden.layer_n], logits) of one sample; grids rows (1, tiles, 1)."""
    tc = text_config(cfg)
    if sum(g[1] for g in grids) != pv.shape[0]:
        raise ValueError("image_grid_thw %r does not cover %d tiles" % (grids, pv.shape[0]))
    embeds = vision_forward(cfg, W, torch.from_numpy(pv)) if pv.shape[0] else torch.zeros(0, tc["H"])
    x, _, rope = text_prepare(cfg, W, ids, embeds, image_id)
    hidden = []
    for L in range(tc["layers"]):
        x = text_layer(cfg, W, L, x, rope)
        hidden.append(x.clone())
    xn = rms(x[-1:], W["language_model.model.norm.weight"], tc["eps"])
    head = hook_name(is_native(cfg), "language_model.lm_head")
    return embeds, hidden, linear(head, xn, W["language_model.lm_head.weight"])[0]


# ---------------------------------------------------------------------------------------------
# preprocessing (internvl_utils.load_image) and the prompt (model_adapter.handle_dataset)

def closest_aspect_ratio(aspect_ratio, target_ratios, width, height, image_size):
    best_diff, best = float("inf"), (1, 1)
    area = width * height
    for ratio in target_ratios:
        diff = abs(aspect_ratio - ratio[0] / ratio[1])
        if diff < best_diff:
            best_diff, best = diff, ratio
        elif diff == best_diff and area > 0.5 * image_size * image_size * ratio[0] * ratio[1]:
            best = ratio  # the tie rule: a later (larger) ratio wins when the image is large enough
    return best


def dynamic_preprocess(image, min_num, max_num, image_size, use_thumbnail):
    """(tiles as PIL images, (cols, rows)). The set, then sorted by area (stable), as upstream."""
    w, h = image.size
    ratios = sorted(set((i, j) for n in range(min_num, max_num + 1) for i in range(1, n + 1)
                        for j in range(1, n + 1) if min_num <= i * j <= max_num), key=lambda r: r[0] * r[1])
    cols, rows = closest_aspect_ratio(w / h, ratios, w, h, image_size)
    resized = image.resize((image_size * cols, image_size * rows))  # PIL default: BICUBIC for RGB
    tiles = [resized.crop(((i % cols) * image_size, (i // cols) * image_size,
                           (i % cols + 1) * image_size, (i // cols + 1) * image_size)) for i in range(cols * rows)]
    if use_thumbnail and len(tiles) != 1:
        tiles.append(image.resize((image_size, image_size)))
    return tiles, (cols, rows)


def to_pixels(tile, S):
    """Resize((S, S), BICUBIC) (PIL's resize: a copy at S x S), ToTensor, Normalize, in float32."""
    a = np.asarray(tile.resize((S, S), Image.BICUBIC), dtype=np.uint8).transpose(2, 0, 1).astype(np.float32)
    a = a / np.float32(255)
    return ((a - np.array(IMAGENET_MEAN, np.float32)[:, None, None]) / np.array(IMAGENET_STD, np.float32)[:, None, None])


def load_image(path, S, min_num=1, max_num=12, use_thumbnail=True):
    image = Image.open(path).convert("RGB")  # no EXIF transpose
    tiles, grid = dynamic_preprocess(image, min_num, max_num, S, use_thumbnail)
    return image.size, np.stack([to_pixels(t, S).reshape(-1) for t in tiles]).astype(np.float32), grid


def make_query(text, tiles=None, tokens_per_tile=256):
    if tiles:
        q = SYSTEM + '<|im_start|>user\n<image>\n' + text + '<|im_end|><|im_start|>assistant\n'
        return q.replace('<image>', IMG_START + IMG_CONTEXT * tokens_per_tile * tiles + IMG_END, 1)
    return SYSTEM + '<|im_start|>user\n' + text + '<|im_end|><|im_start|>assistant\n'


# ---------------------------------------------------------------------------------------------
# native preprocessing (GotOcr2ImageProcessor, slow path) and prompt (InternVLProcessor)

def got_ocr2_config(model_dir):
    """preprocessor_config.json's fields, absent ones at GotOcr2ImageProcessor's defaults (size
    384x384, min 1 / max 12 patches, BICUBIC, rescale 1/255, OPENAI_CLIP mean/std)."""
    path = os.path.join(model_dir, "preprocessor_config.json")
    pc = {}
    if os.path.exists(path):
        with open(path) as f:
            pc = json.load(f)
    size = pc.get("size", {"height": 384, "width": 384})
    if isinstance(size, int):  # get_size_dict(size, default_to_square=True) in __init__
        size = {"height": size, "width": size}
    if "height" not in size or "width" not in size:
        raise NotImplementedError("preprocessor_config.json size %r (needs height and width)" % (size,))
    return dict(h=int(size["height"]), w=int(size["width"]), min_patches=int(pc.get("min_patches", 1)),
                max_patches=int(pc.get("max_patches", 12)), do_resize=pc.get("do_resize", True),
                resample=int(pc.get("resample", Image.BICUBIC)), do_rescale=pc.get("do_rescale", True),
                rescale_factor=pc.get("rescale_factor", 1 / 255), do_normalize=pc.get("do_normalize", True),
                mean=list(pc.get("image_mean", OPENAI_CLIP_MEAN)), std=list(pc.get("image_std", OPENAI_CLIP_STD)))


def get_all_supported_aspect_ratios(min_tiles, max_tiles):
    """(width, height) grids, width-major, then sorted by area (stable), as upstream."""
    ratios = [(w, h) for w in range(1, max_tiles + 1) for h in range(1, max_tiles + 1)
              if min_tiles <= w * h <= max_tiles]
    return sorted(ratios, key=lambda r: r[0] * r[1])


def get_optimal_tiled_canvas(original_size, tile_size, min_tiles, max_tiles):
    """original_size (height, width), tile_size (height, width) -> (cols, rows)."""
    (h, w), (th, tw) = original_size, tile_size
    aspect, area = w / h, w * h
    best_diff, best = float("inf"), (1, 1)
    for grid in get_all_supported_aspect_ratios(min_tiles, max_tiles):
        diff = abs(aspect - grid[0] / grid[1])
        if diff < best_diff:
            best_diff, best = diff, grid
        elif diff == best_diff and area > 0.5 * th * tw * grid[0] * grid[1]:
            best = grid  # equal difference: more tiles while the image covers over half their area
    return best


def got_load_image(path):
    """transformers' load_image for a local path: PIL open, EXIF transpose, RGB."""
    return ImageOps.exif_transpose(Image.open(path)).convert("RGB")


def got_rescale_normalize(tile, pc):
    """rescale (float64 product, then float32) and normalize ((x - mean) / std, mean and std
    cast to the image's float dtype) on an HWC uint8 tile, as image_transforms does."""
    x = tile
    if pc["do_rescale"]:
        x = (x.astype(np.float64) * pc["rescale_factor"]).astype(np.float32)
    if pc["do_normalize"]:
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float32)
        x = (x - np.array(pc["mean"], dtype=x.dtype)) / np.array(pc["std"], dtype=x.dtype)
    return x


def got_preprocess(image, pc):
    """GotOcr2ImageProcessor.preprocess(crop_to_patches=True) of one RGB PIL image ->
    (pixel_values [tiles, 3*h*w] float32 CHW rows, (cols, rows), thumbnail?)."""
    arr = np.asarray(image, dtype=np.uint8)
    if arr.shape[0] in (1, 3):
        raise ValueError("image %dx%d: transformers would read this HWC array as channels-first" % image.size)
    th, tw = pc["h"], pc["w"]
    pil_resize = lambda a, hw, resample: np.array(Image.fromarray(a).resize((hw[1], hw[0]), resample=resample))
    if pc["max_patches"] > 1:  # crop_image_to_patches (use_thumbnail True)
        cols, rows = get_optimal_tiled_canvas(arr.shape[:2], (th, tw), pc["min_patches"], pc["max_patches"])
        big = pil_resize(arr, (th * rows, tw * cols), Image.BICUBIC)  # self.resize's default resample
        tiles = [big[(i // cols) * th:(i // cols + 1) * th, (i % cols) * tw:(i % cols + 1) * tw]
                 for i in range(cols * rows)]
        if len(tiles) != 1:
            tiles.append(pil_resize(arr, (th, tw), Image.BICUBIC))
    else:
        cols, rows, tiles = 1, 1, [arr]
    out = []
    for t in tiles:
        if pc["do_resize"]:
            t = pil_resize(t, (th, tw), pc["resample"])
        t = got_rescale_normalize(t, pc)
        out.append(np.ascontiguousarray(t.transpose(2, 0, 1)).astype(np.float32).reshape(-1))
    if any(o.shape != out[0].shape for o in out):
        raise ValueError("tiles of different sizes (do_resize false?)")
    return np.stack(out), (cols, rows), len(tiles) != cols * rows


def expand_prompt(text, tiles, tokens_per_tile=256):
    """InternVLProcessor._insert_media_placeholders on one rendered prompt, tiles[i] patches
    (num_patches) for the i-th image."""
    ph = "<placeholder>"
    new, repl, index = text, [], 0
    while IMG_CONTEXT in new or NATIVE_VIDEO in new:
        if IMG_CONTEXT in new and (NATIVE_VIDEO not in new or new.index(IMG_CONTEXT) < new.index(NATIVE_VIDEO)):
            if index >= len(tiles):
                raise ValueError("more %s in the prompt than images (%d)" % (IMG_CONTEXT, len(tiles)))
            new = new.replace(IMG_CONTEXT, ph, 1)
            repl.append(IMG_START + IMG_CONTEXT * tokens_per_tile * tiles[index] + IMG_END)
            index += 1
        else:
            raise ValueError("%s in the prompt but no videos" % NATIVE_VIDEO)
    while ph in new:
        if not repl:
            raise ValueError("more %s in the prompt than images" % ph)  # upstream: pop from an empty list
        new = new.replace(ph, repl.pop(0), 1)
    if index != len(tiles):
        raise ValueError("Number of image placeholders in the prompt does not match the number of images.")
    return new


def processor_seq_length(model_dir):
    """processor_config.json's image_seq_length (InternVLProcessor's default 256)."""
    path = os.path.join(model_dir, "processor_config.json")
    if not os.path.exists(path):
        return 256
    with open(path) as f:
        return int(json.load(f).get("image_seq_length", 256))


def pixels_main(model_dir, images, out_dir):
    cfg = read_config(model_dir)
    if is_native(cfg):
        pc = got_ocr2_config(model_dir)
    else:
        S = vision_config(cfg)["S"]
        lo, hi = cfg.get("min_dynamic_patch", 1), cfg.get("max_dynamic_patch", 12)
        thumb = cfg.get("use_thumbnail", True)
    for path in images:
        if is_native(cfg):
            image = got_load_image(path)
            pv, grid, has_thumb = got_preprocess(image, pc)
            size = image.size
        else:
            size, pv, grid = load_image(path, S, lo, hi, thumb)
            has_thumb = thumb and grid[0] * grid[1] != 1
        name = os.path.basename(path)
        print(json.dumps({"image": name, "size": list(size), "tiles": pv.shape[0], "grid": list(grid),
                          "thumbnail": bool(has_thumb), "shape": list(pv.shape),
                          "pixel_values_sha": hashlib.sha256(pv.astype("<f4").tobytes()).hexdigest(),
                          "sum": float(pv.astype(np.float64).sum())}))
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)
            np.save(os.path.join(out_dir, name + ".pixels.npy"), pv)


def make_ids(model_dir, cfg, tiles, rng):
    sp = special_ids(model_dir, (IMG_START, IMG_END) if is_native(cfg) else (IMG_START, IMG_END, IMG_CONTEXT))
    image = image_token_id(model_dir, cfg)
    top = min([text_config(cfg)["vocab"], image] + list(sp.values()))  # ordinary ids lie below the added tokens
    text = lambda n: [int(t) for t in rng.integers(0, top, n)]
    if not tiles:
        return text(7)
    T = vision_config(cfg)["tokens"]
    if is_native(cfg) and cfg["native"]["image_seq_length"] != T:
        raise ValueError("image_seq_length %d != (image_size / patch)^2 * downsample_ratio^2 = %d"
                         % (cfg["native"]["image_seq_length"], T))
    return text(5) + [sp[IMG_START]] + [image] * (T * tiles) + [sp[IMG_END]] + text(4)


def inputs_main(model_dir, out_dir, tiles, seed):
    cfg = read_config(model_dir)
    S = vision_config(cfg)["S"]
    rng = np.random.default_rng(seed)
    os.makedirs(out_dir, exist_ok=True)
    pv = rng.standard_normal((tiles, 3 * S * S)).astype(np.float32)
    write_inputs(os.path.join(out_dir, "sample_0.safetensors"), make_ids(model_dir, cfg, tiles, rng), pv, [(1, tiles, 1)])
    write_inputs(os.path.join(out_dir, "sample_1.safetensors"), make_ids(model_dir, cfg, 0, rng),
                 np.zeros((0, 3 * S * S), np.float32), [])


def dump_main(model_dir, inputs_dir, out_dir):
    cfg, W = load(model_dir)
    image_id = image_token_id(model_dir, cfg)
    os.makedirs(out_dir, exist_ok=True)
    f32 = lambda x: st.Tensor("F32", x.shape, x.numpy())
    i = 0
    while os.path.exists(os.path.join(inputs_dir, "sample_%d.safetensors" % i)):
        ids, pv, grids = read_inputs(os.path.join(inputs_dir, "sample_%d.safetensors" % i))
        with torch.no_grad():
            embeds, hidden, logits = forward_sample(cfg, W, ids, pv, grids, image_id)
        out = [("hidden.visual", f32(embeds))] + [("hidden.layer_%d" % L, f32(h)) for L, h in enumerate(hidden)]
        st.write_file(os.path.join(out_dir, "sample_%d.safetensors" % i), out + [("logits", f32(logits))])
        i += 1


# ---------------------------------------------------------------------------------------------
# selftest

def fixture(d, rng, norm, qkn, bias, dtype="F32", tie=False, S=56, force=None, heads=4, eps=1e-6):
    """A small random checkpoint in the original layout, with config.json and tokenizer.json."""
    C, I, H, D, V, M = 32, 48, 40, 16, 300, 56
    vc = dict(model_type="intern_vit_6b", hidden_size=C, num_hidden_layers=2, num_attention_heads=heads,
              intermediate_size=I, image_size=S, patch_size=14, num_channels=3, norm_type=norm,
              layer_norm_eps=eps, qkv_bias=bias, qk_normalization=qkn, hidden_act="gelu", initializer_factor=1.0)
    lc = dict(architectures=["Qwen3ForCausalLM"], model_type="qwen3", hidden_size=H, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, head_dim=D, intermediate_size=M, vocab_size=V,
              rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=tie, hidden_act="silu", attention_bias=False)
    cfg = dict(architectures=["InternVLChatModel"], model_type="internvl_chat", torch_dtype="float32",
               downsample_ratio=0.5, force_image_size=force, select_layer=-1, ps_version="v2",
               template="internvl2_5", dynamic_image_size=True, use_thumbnail=True, min_dynamic_patch=1,
               max_dynamic_patch=12, vision_config=vc, llm_config=lc)
    e = "vision_model.embeddings."
    shapes = {e + "class_embedding": (1, 1, C), e + "position_embedding": (1, (S // 14) ** 2 + 1, C),
              e + "patch_embedding.weight": (C, 3, 14, 14), e + "patch_embedding.bias": (C,),
              "mlp1.0.weight": (4 * C,), "mlp1.0.bias": (4 * C,), "mlp1.1.weight": (H, 4 * C), "mlp1.1.bias": (H,),
              "mlp1.3.weight": (H, H), "mlp1.3.bias": (H,), "language_model.model.embed_tokens.weight": (V, H),
              "language_model.model.norm.weight": (H,)}
    for i in range(2):
        p = "vision_model.encoder.layers.%d." % i
        shapes.update({p + n: s for n, s in (
            ("norm1.weight", (C,)), ("norm2.weight", (C,)), ("attn.qkv.weight", (3 * C, C)), ("attn.proj.weight", (C, C)),
            ("attn.proj.bias", (C,)), ("mlp.fc1.weight", (I, C)), ("mlp.fc1.bias", (I,)), ("mlp.fc2.weight", (C, I)),
            ("mlp.fc2.bias", (C,)), ("ls1", (C,)), ("ls2", (C,)))})
        shapes.update({p + n: (C,) for n in ["norm1.bias", "norm2.bias"] * (norm == "layer_norm")
                       + ["attn.q_norm.weight", "attn.k_norm.weight"] * qkn})
        if bias:
            shapes[p + "attn.qkv.bias"] = (3 * C,)
        p = "language_model.model.layers.%d." % i
        shapes.update({p + n: s for n, s in (
            ("self_attn.q_proj.weight", (4 * D, H)), ("self_attn.k_proj.weight", (2 * D, H)),
            ("self_attn.v_proj.weight", (2 * D, H)), ("self_attn.o_proj.weight", (H, 4 * D)),
            ("self_attn.q_norm.weight", (D,)), ("self_attn.k_norm.weight", (D,)), ("mlp.gate_proj.weight", (M, H)),
            ("mlp.up_proj.weight", (M, H)), ("mlp.down_proj.weight", (H, M)), ("input_layernorm.weight", (H,)),
            ("post_attention_layernorm.weight", (H,)))})
    if not tie:
        shapes["language_model.lm_head.weight"] = (V, H)
    # 1-D weights (norms, layer scales) around 1, everything else around 0
    T = {k: (1 + 0.1 * rng.standard_normal(s) if len(s) == 1 and not k.endswith("bias") else
             0.2 * rng.standard_normal(s)).astype(np.float32) for k, s in sorted(shapes.items())}
    os.makedirs(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f)
    with open(os.path.join(d, "tokenizer.json"), "w") as f:
        json.dump({"added_tokens": [{"id": V - 3 + j, "content": c, "special": True}
                                    for j, c in enumerate((IMG_START, IMG_END, IMG_CONTEXT))]}, f)
    st.write_file(os.path.join(d, "model.safetensors"), [(k, st.Tensor.from_f32(dtype, a)) for k, a in T.items()])
    return cfg


def native_fixture(d_orig, d_nat, rng, mean_pool=True, **kw):
    """fixture() in the original layout at d_orig and the same weights in the native layout at
    d_nat (renamed by this table, written the other way round from load()'s, q/k/v split off
    attn.qkv's rows), with a native config.json, tokenizer.json, preprocessor_config.json and
    processor_config.json. use_mean_pooling false adds a random model.vision_tower.layernorm."""
    cfg = fixture(d_orig, rng, **kw)
    vc, lc = cfg["vision_config"], cfg["llm_config"]
    C, S, T = vc["hidden_size"], vc["image_size"], vision_config(cfg)["tokens"]
    src, _ = st.read_file(os.path.join(d_orig, "model.safetensors"))
    vt, out = "model.vision_tower.", []
    table = {"vision_model.embeddings.class_embedding": vt + "embeddings.cls_token",
             "vision_model.embeddings.patch_embedding.weight": vt + "embeddings.patch_embeddings.projection.weight",
             "vision_model.embeddings.patch_embedding.bias": vt + "embeddings.patch_embeddings.projection.bias",
             "vision_model.embeddings.position_embedding": vt + "embeddings.position_embeddings",
             "mlp1.0.weight": "model.multi_modal_projector.layer_norm.weight",
             "mlp1.0.bias": "model.multi_modal_projector.layer_norm.bias",
             "mlp1.1.weight": "model.multi_modal_projector.linear_1.weight",
             "mlp1.1.bias": "model.multi_modal_projector.linear_1.bias",
             "mlp1.3.weight": "model.multi_modal_projector.linear_2.weight",
             "mlp1.3.bias": "model.multi_modal_projector.linear_2.bias",
             "language_model.lm_head.weight": "lm_head.weight"}
    layer = {"norm1": "layernorm_before", "norm2": "layernorm_after", "attn.proj": "attention.projection_layer",
             "attn.q_norm": "attention.q_norm", "attn.k_norm": "attention.k_norm", "mlp.fc1": "mlp.fc1",
             "mlp.fc2": "mlp.fc2", "ls1": "lambda_1", "ls2": "lambda_2"}
    for name, t in src.items():
        m = re.match(r"vision_model\.encoder\.layers\.(\d+)\.(.+?)(\.weight|\.bias)?$", name)
        if m and m.group(2) == "attn.qkv":
            for j, c in enumerate("qkv"):
                part = t.array[j * C:(j + 1) * C]
                out.append(("%sencoder.layer.%s.attention.%s_proj%s" % (vt, m.group(1), c, m.group(3)),
                            st.Tensor(t.dtype, part.shape, part)))
        elif m:
            out.append(("%sencoder.layer.%s.%s%s" % (vt, m.group(1), layer[m.group(2)], m.group(3) or ""), t))
        elif name.startswith("language_model.model."):
            out.append(("model.language_model." + name[len("language_model.model."):], t))
        else:
            out.append((table[name], t))
    if not mean_pool:
        out += [(vt + "layernorm.weight", st.Tensor.from_f32("F32", 1 + 0.1 * rng.standard_normal(C))),
                (vt + "layernorm.bias", st.Tensor.from_f32("F32", 0.2 * rng.standard_normal(C)))]
    ncfg = dict(architectures=["InternVLForConditionalGeneration"], model_type="internvl", downsample_ratio=0.5,
                image_seq_length=T, image_token_id=special_ids(d_orig)[IMG_CONTEXT], projector_hidden_act="gelu",
                vision_feature_layer=-1, vision_feature_select_strategy="default", torch_dtype=cfg["torch_dtype"],
                vision_config=dict(model_type="internvl_vision", hidden_size=C,
                                   num_hidden_layers=vc["num_hidden_layers"],
                                   num_attention_heads=vc["num_attention_heads"],
                                   intermediate_size=vc["intermediate_size"], image_size=[S, S], patch_size=[14, 14],
                                   num_channels=3, norm_type=vc["norm_type"], layer_norm_eps=vc["layer_norm_eps"],
                                   attention_bias=vc["qkv_bias"], use_qk_norm=vc["qk_normalization"],
                                   hidden_act="gelu", layer_scale_init_value=0.1, use_mean_pooling=mean_pool,
                                   use_absolute_position_embeddings=True, use_mask_token=False),
                text_config=dict(lc))
    os.makedirs(d_nat)
    for name, obj in (("config.json", ncfg), ("processor_config.json", dict(image_seq_length=T,
                                                                              processor_class="InternVLProcessor")),
                      ("preprocessor_config.json", dict(
                          image_processor_type="GotOcr2ImageProcessorFast", size=dict(height=S, width=S),
                          crop_to_patches=False, min_patches=1, max_patches=12, do_resize=True, resample=3,
                          do_rescale=True, rescale_factor=1 / 255, do_normalize=True, image_mean=list(IMAGENET_MEAN),
                          image_std=list(IMAGENET_STD)))):
        with open(os.path.join(d_nat, name), "w") as f:
            json.dump(obj, f)
    shutil.copy(os.path.join(d_orig, "tokenizer.json"), d_nat)
    st.write_file(os.path.join(d_nat, "model.safetensors"), out)
    return cfg, read_config(d_nat)


def upstream_vit_layer(W, p, x, heads, eps):
    """InternVisionEncoderLayer.forward with InternAttention._naive_attn, layer_norm and
    qk_normalization, transcribed with upstream's shapes (B, N, 3, heads, d).permute(2, 0, 3, 1, 4)."""
    B, N, C = x.shape
    rmsn = lambda y, w: w * (y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + eps))
    qkv = F.linear(F.layer_norm(x, (C,), W[p + "norm1.weight"], W[p + "norm1.bias"], eps), W[p + "attn.qkv.weight"],
                   W[p + "attn.qkv.bias"]).reshape(B, N, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)
    B_, H_, N_, D_ = q.shape
    q = rmsn(q.transpose(1, 2).flatten(-2, -1), W[p + "attn.q_norm.weight"]).view(B_, N_, H_, D_).transpose(1, 2)
    k = rmsn(k.transpose(1, 2).flatten(-2, -1), W[p + "attn.k_norm.weight"]).view(B_, N_, H_, D_).transpose(1, 2)
    attn = ((q * D_ ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
    o = F.linear((attn @ v).transpose(1, 2).reshape(B, N, C), W[p + "attn.proj.weight"], W[p + "attn.proj.bias"])
    x = x + o * W[p + "ls1"]
    h = F.layer_norm(x, (C,), W[p + "norm2.weight"], W[p + "norm2.bias"], eps)
    h = F.linear(F.gelu(F.linear(h, W[p + "mlp.fc1.weight"], W[p + "mlp.fc1.bias"])),
                 W[p + "mlp.fc2.weight"], W[p + "mlp.fc2.bias"])
    return x + h * W[p + "ls2"]


def bicubic_1d(n_in, n_out):
    """[n_out, n_in] matrix of torch's bicubic (A = -0.75, align_corners False, clamped taps)."""
    A, M = -0.75, np.zeros((n_out, n_in))
    cc = lambda t: ((A + 2) * t - (A + 3)) * t * t + 1 if t <= 1 else ((A * t - 5 * A) * t + 8 * A) * t - 4 * A
    for o in range(n_out):
        src = (o + 0.5) * n_in / n_out - 0.5
        x0 = math.floor(src)
        t = src - x0
        for tap, wgt in zip(range(x0 - 1, x0 + 3), (cc(1 + t), cc(t), cc(1 - t), cc(2 - t))):
            M[o, min(max(tap, 0), n_in - 1)] += wgt
    return torch.tensor(M, dtype=torch.float32)


def selftest():
    tmp = tempfile.mkdtemp(prefix="internvl_selftest_")
    try:
        selftest_in(tmp)
    finally:
        shutil.rmtree(tmp)
    print("selftest ok")


def selftest_in(tmp):
    ok = lambda msg: print("ok   " + msg)
    rng, gen = np.random.default_rng(1), torch.Generator().manual_seed(1)
    # pixel shuffle. Working through upstream's view/permute/view/permute on x[n, i, j, c] (rows i,
    # cols j, as extract_feature's reshape(h, w) lays them out), with r = 1/scale_factor:
    # out[n, i, j, l*r*C + k*C + c] = x[n, r*i + l, r*j + k, c]: the channel block is row offset l
    # (major), then column offset k, then channel; output tokens are raster order of the i x j grid.
    for r, g, C in ((2, 4, 3), (2, 8, 5), (4, 8, 2)):
        x = torch.randn(2, g, g, C, generator=gen)
        out, ref = pixel_shuffle(x, 1 / r), torch.empty(2, g // r, g // r, r * r * C)
        for i in range(g // r):
            for j in range(g // r):
                ref[:, i, j] = torch.cat([x[:, r * i + l, r * j + k] for l in range(r) for k in range(r)], -1)
        assert torch.equal(out, ref) and torch.equal(pixel_shuffle(x, 1 / r, "v1"), ref.transpose(1, 2)), r
    ok("pixel_shuffle v2: out[i, j, l*rC + k*C + c] = x[r*i+l, r*j+k, c] (r = 2, 4); v1 its transpose")
    # attention: batched einsum against a per-head loop
    q, k, v = (torch.randn(2, 9, 4, 8, generator=gen) for _ in range(3))
    o = vit_attention(q, k, v, 8 ** -0.5)
    for b in range(2):
        for h in range(4):
            ref = torch.softmax(q[b, :, h] @ k[b, :, h].T / math.sqrt(8), -1) @ v[b, :, h]
            assert torch.allclose(o[b, :, h], ref, atol=1e-6)
    q, k, v = torch.randn(7, 4, 8, generator=gen), torch.randn(7, 2, 8, generator=gen), torch.randn(7, 2, 8, generator=gen)
    o = text_attention(q, k, v, torch.full((7, 7), float("-inf")).triu(1))
    for h in range(4):
        for t in range(7):
            w = torch.softmax(q[t, h] @ k[: t + 1, h // 2].T / math.sqrt(8), -1)
            assert torch.allclose(o[t, h], w @ v[: t + 1, h // 2], atol=1e-6)
    ok("vision attention and causal GQA text attention = per-head loops (query head h uses kv head h // 2)")
    # tiling: the grid chosen for hand-picked sizes (max 12), reasoned by hand from the rules
    for (w, h), grid in (((800, 600), (4, 3)), ((448, 448), (1, 1)), ((100, 1000), (1, 10)), ((2000, 300), (7, 1)),
                         ((896, 448), (2, 1)), ((1792, 896), (4, 2)), ((448, 1344), (1, 3))):
        im = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        tiles, got = dynamic_preprocess(im, 1, 12, 448, True)
        assert got == grid and len(tiles) == grid[0] * grid[1] + (grid != (1, 1)), ((w, h), got)
    ok("tiling grids: 800x600 4x3, 448x448 1x1, 100x1000 1x10, 2000x300 7x1, tie rule 896x448 2x1 / 1792x896 4x2")
    im = Image.fromarray(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8))
    assert np.array_equal(np.asarray(im.resize((168, 112))), np.asarray(im.resize((168, 112), Image.BICUBIC)))
    path = os.path.join(tmp, "im.png")
    im.save(path)
    size, pv, grid = load_image(path, 56)
    big = np.asarray(im.resize((56 * grid[0], 56 * grid[1]), Image.BICUBIC)).astype(np.float32)
    assert size == (120, 90) and grid == (4, 3) and pv.shape == (13, 3 * 56 * 56)
    i, j = 1, 2  # tile 6 = row 1, col 2
    want = big[56 * i:56 * i + 56, 56 * j:56 * j + 56] / np.float32(255)
    want = (want - np.float32(IMAGENET_MEAN)) / np.float32(IMAGENET_STD)
    assert np.array_equal(pv[i * 4 + j], want.transpose(2, 0, 1).reshape(-1))
    u8 = torch.arange(256, dtype=torch.uint8).view(1, 16, 16).expand(3, 16, 16)
    tv = u8.float().div(255).sub(torch.tensor(IMAGENET_MEAN).view(3, 1, 1)).div(torch.tensor(IMAGENET_STD).view(3, 1, 1))
    assert np.array_equal(to_pixels(Image.fromarray(u8.permute(1, 2, 0).numpy()), 16), tv.numpy())
    ok("PIL default resize is BICUBIC; tiles row-major crops, thumbnail last; ToTensor+Normalize = torch's float32 ops")
    # position embedding: bicubic identity at the same size, separable cubic convolution otherwise
    tab = torch.randn(16, 5, generator=gen)
    assert torch.equal(pos_embed(tab, 4, 4), tab)
    M = bicubic_1d(4, 6)
    ref = torch.einsum("ai,bj,ijc->abc", M, M, tab.view(4, 4, 5)).reshape(36, 5)
    assert torch.allclose(pos_embed(tab, 4, 6), ref, atol=1e-5)
    ok("position embedding interpolation: identity at the same grid, = cubic convolution A=-0.75 at 4 -> 6")
    # full models, every variant
    for name, kw in (("ln_qkn_bias", dict(norm="layer_norm", qkn=True, bias=True)),
                     ("rms", dict(norm="rms_norm", qkn=False, bias=False)),
                     ("rms_qkn_bf16_tie", dict(norm="rms_norm", qkn=True, bias=False, dtype="BF16", tie=True)),
                     ("ln_bias_force84", dict(norm="layer_norm", qkn=False, bias=True, force=84))):
        d = os.path.join(tmp, name)
        cfg = fixture(d, rng, **kw)
        inputs_main(d, os.path.join(d, "in"), 3, 0)
        dump_main(d, os.path.join(d, "in"), os.path.join(d, "out"))
        T = vision_config(cfg)["tokens"]
        a = st.read_file(os.path.join(d, "out", "sample_0.safetensors"))[0]
        b = st.read_file(os.path.join(d, "out", "sample_1.safetensors"))[0]
        assert list(a) == ["hidden.visual", "hidden.layer_0", "hidden.layer_1", "logits"] and list(b) == list(a)
        ids, _, grids = read_inputs(os.path.join(d, "in", "sample_0.safetensors"))
        assert grids == [(1, 3, 1)] and ids.count(299) == 3 * T and a["hidden.visual"].shape == (3 * T, 40)
        assert b["hidden.visual"].shape == (0, 40) and a["logits"].shape == (300,)
        assert all(np.isfinite(t.array).all() for t in list(a.values()) + list(b.values()))
        ok("%s: dump %s" % (name, ", ".join("%s %s" % (k, list(t.shape)) for k, t in a.items())))
    cfg, W = load(os.path.join(tmp, "ln_qkn_bias"))
    ids, pv, grids = read_inputs(os.path.join(tmp, "ln_qkn_bias", "in", "sample_0.safetensors"))
    with torch.no_grad():
        x = torch.from_numpy(pv)
        conv = F.conv2d(x.view(-1, 3, 56, 56), W["vision_model.embeddings.patch_embedding.weight"],
                        W["vision_model.embeddings.patch_embedding.bias"], stride=14).flatten(2).transpose(1, 2)
        pe = W["vision_model.embeddings.position_embedding"]
        ref = torch.cat([W["vision_model.embeddings.class_embedding"].expand(3, 1, 32), conv], 1) + pe
        assert torch.allclose(vision_embed(vision_config(cfg), W, x), ref, atol=1e-5)
        ok("patch embedding = Conv2d(stride = kernel) + position table, class token first")
        v = vision_config(cfg)
        for i in range(2):
            y = vision_layer(v, W, i, ref)
            want = upstream_vit_layer(W, "vision_model.encoder.layers.%d." % i, ref, 4, 1e-6)
            assert torch.allclose(y, want, atol=1e-5)
            ref = y
        ok("vision layers = a transcription of upstream's _naive_attn shapes (qk_norm over all heads, ls1/ls2)")
        full = vision_forward(cfg, W, x)
        assert torch.allclose(vision_forward(dict(cfg, select_layer=2), W, x), full)
        short = dict(cfg, vision_config=dict(cfg["vision_config"], num_hidden_layers=1))
        assert torch.allclose(vision_forward(dict(cfg, select_layer=-2), W, x), vision_forward(short, W, x))
        assert not torch.allclose(vision_forward(dict(cfg, select_layer=-2), W, x), full)
        ok("select_layer: -1 = hidden_states[L] = last_hidden_state; -2 = hidden_states[L-1], after L-1 layers")
        # image-token replacement: the features, in order, at the <IMG_CONTEXT> positions
        feats = torch.randn(5, 40, generator=gen)
        seq = [3, 299, 7, 299, 299, 11, 299, 299, 2]
        xx, mask, _ = text_prepare(cfg, W, seq, feats, 299)
        pos = [t for t, i in enumerate(seq) if i == 299]
        assert torch.equal(xx[pos], feats) and mask.tolist() == [i == 299 for i in seq]
        assert torch.equal(xx[[0, 2, 5, 8]], W["language_model.model.embed_tokens.weight"][[3, 7, 11, 2]])
    ok("<IMG_CONTEXT> rows replaced by the image features in order, other rows the embeddings")
    names = set()
    global LINEAR_HOOK
    LINEAR_HOOK = lambda name, y, w, b: (names.add(name), y @ w.T + (b if b is not None else 0))[1]
    try:
        with torch.no_grad():
            forward_sample(cfg, W, ids, pv, grids, 299)
    finally:
        LINEAR_HOOK = None
    want = {"vision_model.encoder.layers.%d.%s" % (i, n) for i in range(2)
            for n in ("attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2")}
    want |= {"language_model.model.layers.%d.%s" % (L, n) for L in range(2) for n in (
        "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
        "mlp.down_proj")} | {"mlp1.1", "mlp1.3", "language_model.lm_head"}
    assert names == want, sorted(names ^ want)
    ok("LINEAR_HOOK sees all %d Linears under their checkpoint names" % len(want))
    q = make_query("hi", 2, 4)
    assert q.startswith(SYSTEM + "<|im_start|>user\n<img>") and q.count(IMG_CONTEXT) == 8
    assert q.endswith("</img>\nhi<|im_end|><|im_start|>assistant\n") and "<image>" not in q
    assert make_query("hi") == SYSTEM + "<|im_start|>user\nhi<|im_end|><|im_start|>assistant\n"
    ok("prompt: msModelSlim's query with <img> + <IMG_CONTEXT> x T*N + </img>; text only without <image>")
    selftest_native(tmp, rng, gen)


def dumps(d):
    return [st.read_file(os.path.join(d, "sample_%d.safetensors" % i))[0] for i in range(2)]


def selftest_native(tmp, rng, gen):
    """The native layout: tiling, the GotOcr2 arithmetic, the prompt expansion, and native
    checkpoints against the same weights in the original layout."""
    ok = lambda msg: print("ok   " + msg)
    # get_optimal_tiled_canvas: (height, width) in, (cols, rows) out; hand-picked sizes
    assert get_all_supported_aspect_ratios(1, 4) == [(1, 1), (1, 2), (2, 1), (1, 3), (3, 1), (1, 4), (2, 2), (4, 1)]
    for (w, h), grid in (((800, 600), (4, 3)), ((448, 448), (1, 1)), ((100, 1000), (1, 10)), ((2000, 300), (7, 1)),
                         ((896, 448), (2, 1)), ((1792, 896), (4, 2)), ((448, 1344), (1, 3)), ((600, 800), (3, 4))):
        assert get_optimal_tiled_canvas((h, w), (448, 448), 1, 12) == grid, (w, h)
        im = Image.new("RGB", (w, h))
        assert dynamic_preprocess(im, 1, 12, 448, True)[1] == grid, (w, h)  # the original agrees here
    # equal ratio differences within one area: the list order decides (width-major here, a set's
    # order in dynamic_preprocess: (4, 1), (1, 4), (2, 2) for min = max = 4), at aspect 2.5 (2x2 and 4x1
    # both 1.5 off): the later one wins when the image covers over half of its tiles
    for (w, h), nat, org in (((1000, 400), (2, 2), (4, 1)), ((2000, 800), (4, 1), (2, 2))):
        assert get_optimal_tiled_canvas((h, w), (448, 448), 4, 4) == nat
        assert dynamic_preprocess(Image.new("RGB", (w, h)), 4, 4, 448, True)[1] == org
    # the tie rule uses tile height * width: 202x101 covers over half of 4x2 tiles of 50x100, 200x100 not
    assert get_optimal_tiled_canvas((100, 200), (50, 100), 1, 8) == (2, 1)
    assert get_optimal_tiled_canvas((101, 202), (50, 100), 1, 8) == (4, 2)
    ok("get_optimal_tiled_canvas: 800x600 4x3, 600x800 3x4, ties 896x448 2x1 / 1792x896 4x2; min=max=4 at "
       "1000x400 2x2 (original 4x1), 2000x800 4x1 (original 2x2); tie area uses tile h*w")
    # GotOcr2 pixel arithmetic
    pc = dict(h=56, w=56, min_patches=1, max_patches=12, do_resize=True, resample=3, do_rescale=True,
              rescale_factor=1 / 255, do_normalize=True, mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD))
    u8 = np.repeat(np.arange(256, dtype=np.uint8).reshape(16, 16, 1), 3, 2)
    got = got_rescale_normalize(u8, pc)
    assert got.dtype == np.float32
    for c in range(3):
        m, sd = np.float32(IMAGENET_MEAN[c]), np.float32(IMAGENET_STD[c])
        want = [(np.float32(np.float64(x) * (1 / 255)) - m) / sd for x in range(256)]  # float32 scalar ops
        assert np.array_equal(got[..., c].reshape(-1), np.array(want, np.float32)), c
    tv = torch.from_numpy(u8).permute(2, 0, 1).float().div(255)
    tv = ((tv - torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(IMAGENET_STD).view(3, 1, 1)).numpy()
    assert np.array_equal(got.transpose(2, 0, 1), tv)
    im = Image.fromarray(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8))
    path = os.path.join(tmp, "native.png")
    im.save(path)
    pv, grid, thumb = got_preprocess(got_load_image(path), pc)
    assert grid == (4, 3) and thumb and pv.shape == (13, 3 * 56 * 56) and pv.dtype == np.float32
    big = np.asarray(im.resize((224, 168), Image.BICUBIC))
    mean_t, std_t = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    alt = lambda a: ((torch.from_numpy(np.array(a)).permute(2, 0, 1).float().div(255) - mean_t) / std_t).reshape(-1)
    for i in range(12):
        r, c = divmod(i, 4)
        assert np.array_equal(pv[i], alt(big[56 * r:56 * r + 56, 56 * c:56 * c + 56]).numpy()), i
    assert np.array_equal(pv[12], alt(np.asarray(im.resize((56, 56), Image.BICUBIC))).numpy())
    assert np.array_equal(pv, load_image(path, 56)[1])  # same as the original's here (no EXIF, no tie)
    one, grid1, thumb1 = got_preprocess(im, dict(pc, max_patches=1))
    assert grid1 == (1, 1) and not thumb1
    assert np.array_equal(one[0], alt(np.asarray(im.resize((56, 56), Image.BICUBIC))).numpy())
    ex = Image.Exif()
    ex[0x0112] = 6  # orientation: rotate 90 degrees clockwise
    tall = os.path.join(tmp, "exif.png")
    Image.fromarray(rng.integers(0, 256, (40, 100, 3), dtype=np.uint8)).save(tall, exif=ex)
    assert got_load_image(tall).size == (40, 100) and load_image(tall, 56)[0] == (100, 40)
    for bad in ((10, 3), (10, 1)):
        try:
            got_preprocess(Image.new("RGB", bad), pc)
            raise AssertionError(bad)
        except ValueError:
            pass
    ok("GotOcr2: float64 * 1/255 -> float32, (x - mean32) / std32 = per-value scalars = torch's float32 "
       "ToTensor+Normalize; row-major tiles + thumbnail; max_patches 1 one resize; EXIF transposed")
    # prompt expansion
    body = lambda inner: SYSTEM + '<|im_start|>user\n' + inner + 'hi<|im_end|><|im_start|>assistant\n'
    assert expand_prompt(body(IMG_CONTEXT + "\n"), [2], 4) == make_query("hi", 2, 4)
    assert expand_prompt(body(""), [], 4) == make_query("hi")
    two = expand_prompt("a" + IMG_CONTEXT + "b" + IMG_CONTEXT + "c", [2, 3], 1)
    assert two == "a<img>" + IMG_CONTEXT * 2 + "</img>b<img>" + IMG_CONTEXT * 3 + "</img>c"
    for text, tiles in (("a" + IMG_CONTEXT, [1, 1]), (IMG_CONTEXT * 2, [1]), ("<video>" + IMG_CONTEXT, [1]),
                        ("<placeholder>" + IMG_CONTEXT, [1])):
        try:
            expand_prompt(text, tiles, 2)
            raise AssertionError(text)
        except ValueError:
            pass
    ok("expand: <IMG_CONTEXT> -> <img> + <IMG_CONTEXT> x T*tiles + </img> per image in order (= the original's "
       "query); count mismatches, <video>, a literal <placeholder> refused")
    # native checkpoints against the same weights in the original layout
    C = 32
    for name, kw, pool, same in (
            ("ln_qkn_bias", dict(norm="layer_norm", qkn=True, bias=True, heads=2), True, "equal"),
            ("rms", dict(norm="rms_norm", qkn=False, bias=False, heads=2), True, "equal"),
            ("rms_qkn_bf16_tie", dict(norm="rms_norm", qkn=True, bias=False, dtype="BF16", tie=True, heads=2), True,
             "equal"),
            ("ln_bias_nopool", dict(norm="layer_norm", qkn=False, bias=True, heads=2), False, "post_ln"),
            ("rms_qkn_bias_eps1e-5", dict(norm="rms_norm", qkn=True, bias=True, heads=2, eps=1e-5), True, "qk_eps"),
            ("ln_qkn_heads4", dict(norm="layer_norm", qkn=True, bias=False, heads=4), True, "scale")):
        do, dn = os.path.join(tmp, "orig_" + name), os.path.join(tmp, "native_" + name)
        ocfg, ncfg = native_fixture(do, dn, rng, mean_pool=pool, **kw)
        inputs_main(dn, os.path.join(dn, "in"), 3, 0)
        inputs_main(do, os.path.join(do, "in"), 3, 0)
        for i in range(2):
            fa, fb = ("%s/in/sample_%d.safetensors" % (x, i) for x in (dn, do))
            with open(fa, "rb") as f, open(fb, "rb") as g:
                assert f.read() == g.read(), "inputs differ"
        dump_main(dn, os.path.join(dn, "in"), os.path.join(dn, "out"))
        dump_main(do, os.path.join(dn, "in"), os.path.join(do, "out"))
        a, b = dumps(os.path.join(dn, "out")), dumps(os.path.join(do, "out"))
        assert [list(x) for x in a] == [list(x) for x in b] == [["hidden.visual", "hidden.layer_0", "hidden.layer_1",
                                                                 "logits"]] * 2
        _, Wo = load(do)
        _, Wn = load(dn)
        extra = set() if pool else {"vision_model.layernorm.weight", "vision_model.layernorm.bias"}
        assert set(Wn) == set(Wo) | extra and all(torch.equal(Wn[k], Wo[k]) for k in Wo)
        # the same within float32 rounding: the two layouts' GEMMs (fused qkv or q/k/v apart) may
        # sum in other orders (OpenBLAS's Haswell kernels: 5e-7 of the largest value seen)
        close = lambda t, u: t.shape == u.shape and (t.numel() == 0 or
                                                      (t.double() - u.double()).abs().max() <= 2e-6 * u.abs().max())
        eq = lambda s: all(a[s][k].array.shape == b[s][k].array.shape and
                           (a[s][k].array.size == 0 or np.abs(a[s][k].array.astype(np.float64) - b[s][k].array).max()
                            <= 2e-6 * np.abs(b[s][k].array).max()) for k in a[s])
        ids, pv, grids = read_inputs(os.path.join(dn, "in", "sample_0.safetensors"))
        x = torch.from_numpy(pv)
        vn, vo = vision_config(ncfg), vision_config(ocfg)
        with torch.no_grad():
            e = vision_embed(vo, Wo, x)
            assert close(vision_embed(vn, Wn, x), e)
            if same == "equal":
                assert eq(0) and eq(1)
                what = "the same dumps (within float32 rounding)"
            elif same == "post_ln":
                assert eq(1) and not eq(0)
                t = vision_tower(ocfg, Wo, x)
                ln = F.layer_norm(t, (C,), Wn["vision_model.layernorm.weight"], Wn["vision_model.layernorm.bias"], 1e-6)
                assert close(vision_forward(ncfg, Wn, x), vision_project(ocfg, Wo, ln))
                # another vision_feature_layer is hidden_states[k]: before that layernorm
                assert close(vision_forward(dict(ncfg, select_layer=2), Wn, x), vision_forward(ocfg, Wo, x))
                what = "text-only the same; image features = the original's + LayerNorm(eps layer_norm_eps) before " \
                       "the class token drop (only for vision_feature_layer -1)"
            elif same == "qk_eps":
                assert eq(1) and not eq(0)
                # the wrong eps moves the layer by more than the layouts' rounding does
                native = vision_layer(vn, Wn, 0, e)
                right, wrong = vision_layer(dict(vo, qk_eps=1e-6), Wo, 0, e), vision_layer(vo, Wo, 0, e)
                dist = lambda t: (t.double() - native.double()).abs().max().item()
                assert close(right, native) and dist(wrong) > 4 * dist(right) and dist(wrong) > 0
                what = "text-only the same; q/k norms at eps 1e-6, not layer_norm_eps 1e-5"
            else:
                assert eq(1)
                assert all(np.allclose(a[0][k].array, b[0][k].array, rtol=1e-4, atol=1e-5) for k in a[0])
                assert close(vision_layer(dict(vo, scale_after=True), Wo, 0, e), vision_layer(vn, Wn, 0, e))
                what = "head_dim 8: q k^T * scale vs (q * scale) k^T, a rounding difference (allclose)"
            if pool:
                assert close(vision_forward(dict(ncfg, select_layer=-2), Wn, x),
                             vision_forward(dict(ocfg, select_layer=-2), Wo, x)) or same in ("qk_eps", "scale")
        ok("native %s vs original: %s" % (name, what))
        if name == "ln_qkn_bias":
            names = set()
            global LINEAR_HOOK
            LINEAR_HOOK = lambda nm, y, w, bb: (names.add(nm), y @ w.T + (bb if bb is not None else 0))[1]
            try:
                with torch.no_grad():
                    forward_sample(ncfg, Wn, ids, pv, grids, image_token_id(dn, ncfg))
            finally:
                LINEAR_HOOK = None
            want = {"model.vision_tower.encoder.layer.%d.%s" % (i, n) for i in range(2) for n in (
                "attention.q_proj", "attention.k_proj", "attention.v_proj", "attention.projection_layer", "mlp.fc1",
                "mlp.fc2")}
            want |= {"model.language_model.layers.%d.%s" % (L, n) for L in range(2) for n in (
                "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
                "mlp.up_proj", "mlp.down_proj")}
            want |= {"model.multi_modal_projector.linear_1", "model.multi_modal_projector.linear_2", "lm_head"}
            stored = set(st.read_file(os.path.join(dn, "model.safetensors"))[0])
            assert names == want and all(n + ".weight" in stored for n in want), sorted(names ^ want)
            ok("native LINEAR_HOOK sees all %d Linears under the native names (q/k/v_proj separately)" % len(want))
            raw = ncfg["native"]["config"]
            for bad in (dict(vision_feature_select_strategy="full"), dict(vision_feature_layer=[-1, -2]),
                        dict(text_config=dict(raw["text_config"], model_type="qwen2"))):
                try:
                    native_config(dict(raw, **bad))
                    raise AssertionError(bad)
                except NotImplementedError:
                    pass
            T = vision_config(ncfg)["tokens"]
            cli = [sys.executable, os.path.abspath(__file__)]
            out = subprocess.run(cli + ["expand", "a" + IMG_CONTEXT + "b", "--tiles", "2", "--model", dn],
                                 stdout=subprocess.PIPE, check=True).stdout
            assert out == ("a<img>" + IMG_CONTEXT * (2 * T) + "</img>b").encode("utf-8")
            out = subprocess.run(cli + ["expand", IMG_CONTEXT * 2, "--tiles", "1,2", "--tokens-per-tile", "3"],
                                 stdout=subprocess.PIPE, check=True).stdout
            assert out == ("<img>" + IMG_CONTEXT * 3 + "</img><img>" + IMG_CONTEXT * 6 + "</img>").encode("utf-8")
            out = subprocess.run(cli + ["pixels", dn, path, tall], stdout=subprocess.PIPE, check=True).stdout
            rows = [json.loads(line) for line in out.decode().splitlines()]
            assert rows[0]["grid"] == [4, 3] and rows[0]["tiles"] == 13 and rows[0]["thumbnail"]
            want = got_preprocess(got_load_image(path), got_ocr2_config(dn))[0]
            assert rows[0]["pixel_values_sha"] == hashlib.sha256(want.astype("<f4").tobytes()).hexdigest()
            assert rows[1]["size"] == [40, 100]
            ok("CLI: expand (T from processor_config.json, or --tokens-per-tile), pixels on a native checkpoint")


def main():
    a = sys.argv[1:]
    if a == ["selftest"]:
        return selftest()
    if a and a[0] == "dump":
        if len(a) != 4:
            sys.exit("usage: internvl_torch.py dump MODEL_DIR INPUTS_DIR OUT_DIR")
        return dump_main(*a[1:])
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="what", required=True)
    for what, args in (("inputs", ("model_dir", "out")), ("pixels", ("model_dir", "images")), ("prompt", ("text",)),
                       ("expand", ("text",))):
        p = sub.add_parser(what)
        for arg in args:
            p.add_argument(arg, nargs="+" if arg == "images" else None)
    sub.choices["inputs"].add_argument("--tiles", type=int, default=3)
    sub.choices["inputs"].add_argument("--seed", type=int, default=0)
    sub.choices["pixels"].add_argument("--out")
    sub.choices["prompt"].add_argument("--tiles", type=int)
    sub.choices["prompt"].add_argument("--tokens-per-tile", type=int, default=256)
    sub.choices["expand"].add_argument("--tiles", required=True, help="tiles per image, comma separated")
    sub.choices["expand"].add_argument("--tokens-per-tile", type=int)
    sub.choices["expand"].add_argument("--model", help="MODEL_DIR: T from its processor_config.json")
    r = ap.parse_args()
    if r.what == "inputs":
        inputs_main(r.model_dir, r.out, r.tiles, r.seed)
    elif r.what == "pixels":
        pixels_main(r.model_dir, r.images, r.out)
    elif r.what == "expand":
        tiles = [int(t) for t in r.tiles.split(",")]
        T = r.tokens_per_tile if r.tokens_per_tile is not None else processor_seq_length(r.model) if r.model else 256
        sys.stdout.buffer.write(expand_prompt(r.text, tiles, T).encode("utf-8"))
    else:
        sys.stdout.buffer.write(make_query(r.text, r.tiles, r.tokens_per_tile).encode("utf-8"))


if __name__ == "__main__":
    main()
