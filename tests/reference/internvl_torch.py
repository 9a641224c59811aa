#!/usr/bin/env python3
"""Independent PyTorch (float32, CPU) reference of the InternVL3.5 forward pass (InternVLChatModel,
original trust_remote_code layout: vision_model.*, mlp1.*, language_model.*) and of msModelSlim's
preprocessing — not from vlmslim's C code, not using transformers or torchvision. Written from:
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
    0928c42e824aef03e3b3578afe8c41b0a9d25e1e (load_image, _dynamic_preprocess, handle_dataset).

  internvl_torch.py inputs MODEL_DIR OUT_DIR [--tiles 3] [--seed N]
  internvl_torch.py dump   MODEL_DIR INPUTS_DIR OUT_DIR
  internvl_torch.py pixels MODEL_DIR IMAGE... [--out DIR]
  internvl_torch.py prompt TEXT [--tiles N] [--tokens-per-tile T]
  internvl_torch.py selftest

`inputs` writes OUT_DIR/sample_0.safetensors (random pixel_values [tiles, 3*S*S] of one image,
ids: text, <img>, <IMG_CONTEXT> x tokens-per-tile*tiles, </img>, text) and sample_1 (text only).
`dump` writes OUT_DIR/sample_<i>.safetensors: `hidden.visual` [image tokens, llm hidden] (after
mlp1), `hidden.layer_<n>` [seq, hidden], `logits` [vocab] of the last position. `pixels` prints
one JSON object per line and image (size, tiles, grid, sha256 of the float32 pixel_values) and
with --out writes DIR/<basename>.pixels.npy. `prompt` writes handle_dataset's query string to
stdout byte for byte (UTF-8, no trailing newline). `selftest` checks the tricky parts.

Notes: the ViT has no final norm; select_layer indexes hidden_states = (embeddings, layer 0, ...,
layer L-1), so -1 is the last layer (msModelSlim's calibration forward always takes
last_hidden_state). Pixel shuffle v2 puts x[2i+l, 2j+k, :] at channel block 2l+k of token (i, j).
mlp1's LayerNorm has nn.LayerNorm's default eps 1e-5 (the ViT norms use layer_norm_eps 1e-6);
nn.GELU in mlp1 and ACT2FN["gelu"] in InternMLP are both the exact erf GELU. The ViT scales q
before q k^T, Qwen3 scales q k^T. Everything runs in float32 whatever the checkpoint dtype."""
import argparse, hashlib, json, math, os, shutil, sys, tempfile

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np as st  # noqa: E402
from qwen3_vl_torch import read_inputs, rotate_half, write_inputs  # noqa: E402

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# model_adapter.py handle_dataset, byte for byte
SYSTEM = ('<|im_start|>system\n你是书生·万象，英文名是InternVL，'
          '是由上海人工智能实验室、清华大学及多家合作单位联合开发的多模态大语言模型。<|im_end|>')
IMG_START, IMG_END, IMG_CONTEXT = '<img>', '</img>', '<IMG_CONTEXT>'


def read_config(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        return json.load(f)


def load(model_dir):
    cfg = read_config(model_dir)
    tensors, _ = st.load_checkpoint(model_dir)
    W = {k: torch.from_numpy(np.ascontiguousarray(t.to_f32())) for k, t in tensors.items()}
    if "language_model.lm_head.weight" not in W:
        if not cfg["llm_config"].get("tie_word_embeddings", False):
            raise ValueError("%s: no language_model.lm_head.weight and tie_word_embeddings is false" % model_dir)
        W["language_model.lm_head.weight"] = W["language_model.model.embed_tokens.weight"]
    return cfg, W


def special_ids(model_dir):
    """content -> id of tokenizer.json's added_tokens (<img>, </img>, <IMG_CONTEXT>, ...)."""
    with open(os.path.join(model_dir, "tokenizer.json"), encoding="utf-8") as f:
        ids = {t["content"]: int(t["id"]) for t in json.load(f).get("added_tokens", [])}
    for tok in (IMG_START, IMG_END, IMG_CONTEXT):
        if tok not in ids:
            raise ValueError("%s/tokenizer.json: no added token %s" % (model_dir, tok))
    return ids


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
                ps=cfg.get("ps_version", "v1"), tokens=int((S // P) ** 2 * r ** 2))


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


def vit_attention(q, k, v, scale):
    """q, k, v [tiles, N, heads, d]: full attention within each tile, q scaled before q k^T."""
    att = torch.einsum("bqhd,bkhd->bhqk", q * scale, k).softmax(-1)
    return torch.einsum("bhqk,bkhd->bqhd", att, v)


def vision_layer(v, W, i, x):
    p = "vision_model.encoder.layers.%d." % i
    b, n, C = x.shape
    heads = v["heads"]
    lin = lambda y, name: linear(p + name, y, W[p + name + ".weight"], W.get(p + name + ".bias"))
    q, k, vv = lin(vnorm(v, W, p + "norm1", x), "attn.qkv").reshape(b, n, 3, heads, C // heads).unbind(2)
    if v["qkn"]:  # InternRMSNorm over the whole embed dim (all heads)
        q = rms(q.reshape(b, n, C), W[p + "attn.q_norm.weight"], v["eps"]).view(b, n, heads, -1)
        k = rms(k.reshape(b, n, C), W[p + "attn.k_norm.weight"], v["eps"]).view(b, n, heads, -1)
    o = vit_attention(q, k, vv, (C // heads) ** -0.5).reshape(b, n, C)
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
    table = W[pre + "position_embedding"].reshape(-1, C)
    if table.shape[0] != v["side"] ** 2 + 1:
        raise ValueError("position_embedding rows %d != (image_size/patch)^2 + 1" % table.shape[0])
    x = torch.cat([W[pre + "class_embedding"].reshape(1, 1, C).expand(nt, 1, C), x], 1)
    return x + torch.cat([table[:1], pos_embed(table[1:], v["side"], g)])


def vision_forward(cfg, W, pixel_values):
    """extract_feature: pixel_values [tiles, 3*S*S] (C, H, W per row) -> [tiles * tokens, H]."""
    v = vision_config(cfg)
    C, g, nt = v["C"], v["S"] // v["P"], pixel_values.shape[0]
    x = vision_embed(v, W, pixel_values)
    # hidden_states = (embeddings, layer 0 out, ..., layer L-1 out); select_layer -1 = last_hidden_state
    s = v["select"]
    run = v["layers"] if s == -1 else (s if s >= 0 else v["layers"] + 1 + s)
    if not 0 <= run <= v["layers"]:
        raise ValueError("select_layer %d with %d layers" % (s, v["layers"]))
    for i in range(run):
        x = vision_layer(v, W, i, x)
    x = x[:, 1:].reshape(nt, g, g, C)  # drop the class token
    x = pixel_shuffle(x, v["ratio"], v["ps"]).reshape(nt, -1, int(C / v["ratio"] ** 2))
    x = F.layer_norm(x, (x.shape[-1],), W["mlp1.0.weight"], W["mlp1.0.bias"], 1e-5)  # nn.LayerNorm default eps
    x = linear("mlp1.3", F.gelu(linear("mlp1.1", x, W["mlp1.1.weight"], W["mlp1.1.bias"])),
               W["mlp1.3.weight"], W["mlp1.3.bias"])  # nn.GELU(): exact erf
    return x.reshape(-1, x.shape[-1])


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
    lin = lambda y, name: linear(p + name, y, W[p + name + ".weight"], W.get(p + name + ".bias"))
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
    return embeds, hidden, linear("language_model.lm_head", xn, W["language_model.lm_head.weight"])[0]


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


def pixels_main(model_dir, images, out_dir):
    cfg = read_config(model_dir)
    S = vision_config(cfg)["S"]
    lo, hi = cfg.get("min_dynamic_patch", 1), cfg.get("max_dynamic_patch", 12)
    thumb = cfg.get("use_thumbnail", True)
    for path in images:
        size, pv, grid = load_image(path, S, lo, hi, thumb)
        name = os.path.basename(path)
        print(json.dumps({"image": name, "size": list(size), "tiles": pv.shape[0], "grid": list(grid),
                          "thumbnail": bool(thumb and grid[0] * grid[1] != 1), "shape": list(pv.shape),
                          "pixel_values_sha": hashlib.sha256(pv.astype("<f4").tobytes()).hexdigest(),
                          "sum": float(pv.astype(np.float64).sum())}))
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)
            np.save(os.path.join(out_dir, name + ".pixels.npy"), pv)


def make_ids(model_dir, cfg, tiles, rng):
    sp = special_ids(model_dir)
    top = min([text_config(cfg)["vocab"]] + list(sp.values()))  # ordinary ids lie below the added tokens
    text = lambda n: [int(t) for t in rng.integers(0, top, n)]
    if not tiles:
        return text(7)
    T = vision_config(cfg)["tokens"]
    return text(5) + [sp[IMG_START]] + [sp[IMG_CONTEXT]] * (T * tiles) + [sp[IMG_END]] + text(4)


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
    image_id = special_ids(model_dir)[IMG_CONTEXT]
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

def fixture(d, rng, norm, qkn, bias, dtype="F32", tie=False, S=56, force=None):
    """A small random checkpoint in the original layout, with config.json and tokenizer.json."""
    C, I, H, D, V, M = 32, 48, 40, 16, 300, 56
    vc = dict(model_type="intern_vit_6b", hidden_size=C, num_hidden_layers=2, num_attention_heads=4,
              intermediate_size=I, image_size=S, patch_size=14, num_channels=3, norm_type=norm,
              layer_norm_eps=1e-6, qkv_bias=bias, qk_normalization=qkn, hidden_act="gelu", initializer_factor=1.0)
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
    for what, args in (("inputs", ("model_dir", "out")), ("pixels", ("model_dir", "images")), ("prompt", ("text",))):
        p = sub.add_parser(what)
        for arg in args:
            p.add_argument(arg, nargs="+" if arg == "images" else None)
    sub.choices["inputs"].add_argument("--tiles", type=int, default=3)
    sub.choices["inputs"].add_argument("--seed", type=int, default=0)
    sub.choices["pixels"].add_argument("--out")
    sub.choices["prompt"].add_argument("--tiles", type=int)
    sub.choices["prompt"].add_argument("--tokens-per-tile", type=int, default=256)
    r = ap.parse_args()
    if r.what == "inputs":
        inputs_main(r.model_dir, r.out, r.tiles, r.seed)
    elif r.what == "pixels":
        pixels_main(r.model_dir, r.images, r.out)
    else:
        sys.stdout.buffer.write(make_query(r.text, r.tiles, r.tokens_per_tile).encode("utf-8"))


if __name__ == "__main__":
    main()
