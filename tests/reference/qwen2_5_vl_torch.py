#!/usr/bin/env python3
"""Independent PyTorch (float32, CPU) reference of the Qwen2.5-VL forward pass
(Qwen2_5_VLForConditionalGeneration), written from Hugging Face transformers'
src/transformers/models/qwen2_5_vl/modeling_qwen2_5_vl.py at commit
efa7189c5546a94e8c1194b2ccc6669e0f7ad65e (the pre-4.52 layout: `visual`, `model`, `lm_head`),
checked against modular_qwen2_5_vl.py at 00d01082bab10413f63cb823e4bedf1735691a14 (the newer
`model.visual` / `model.language_model` layout) — not from vlmslim's C code, not using
transformers. The sibling of qwen3_vl_torch.py, with its CLI and output names:

  qwen2_5_vl_torch.py inputs MODEL_DIR OUT_DIR [--grids 1x8x12,1x6x10] [--seed N]
  qwen2_5_vl_torch.py dump   MODEL_DIR INPUTS_DIR OUT_DIR
  qwen2_5_vl_torch.py selftest

`inputs` writes OUT_DIR/sample_0.safetensors (random pixel_values for the grids, a prompt with
vision_start + image tokens + vision_end per image) and sample_1.safetensors (text only).
`dump` writes OUT_DIR/sample_<i>.safetensors with `hidden.visual` [tokens, out_hidden_size],
`hidden.layer_<n>` [seq, hidden] and `logits` (last position) for each input sample.
`selftest` builds small random checkpoints in both name layouts and checks the tricky parts."""
import argparse, json, math, os, shutil, sys, tempfile

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np as st  # noqa: E402
from qwen3_vl_torch import make_prompt as _qwen3_make_prompt, merge_order, read_inputs, rotate_half, write_inputs  # noqa: E402,E501


def normalise_names(W):
    """Published names (visual.*, model.layers.*) -> the new layout (model.visual.*,
    model.language_model.*); names already in the new layout are kept."""
    out = {}
    for k, v in W.items():
        if k.startswith("visual."):
            k = "model." + k
        elif k.startswith("model.") and not k.startswith(("model.visual.", "model.language_model.")):
            k = "model.language_model." + k[len("model."):]
        if k in out:
            raise ValueError("tensor %r appears in both name layouts" % k)
        out[k] = v
    return out


def load(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    tensors, _ = st.load_checkpoint(model_dir)
    W = normalise_names({k: torch.from_numpy(np.ascontiguousarray(t.to_f32())) for k, t in tensors.items()})
    if "lm_head.weight" not in W:
        if not text_config(cfg)["tie"]:
            raise ValueError("%s: no lm_head.weight and tie_word_embeddings is false" % model_dir)
        W["lm_head.weight"] = W["model.language_model.embed_tokens.weight"]
    return cfg, W


def text_config(cfg):
    """Text fields from text_config (newer configs), else the top level (published config)."""
    tc = cfg.get("text_config", {})
    g = lambda k, d=None: tc.get(k, cfg.get(k, d))
    rope = g("rope_scaling") or g("rope_parameters") or {}
    H, nq = g("hidden_size"), g("num_attention_heads")
    return dict(H=H, layers=g("num_hidden_layers"), nq=nq, nkv=g("num_key_value_heads", nq), D=H // nq,
                eps=g("rms_norm_eps", 1e-5), theta=rope.get("rope_theta", g("rope_theta", 1e6)),
                sec=list(rope["mrope_section"]), vocab=g("vocab_size"), tie=g("tie_word_embeddings", False),
                image_id=cfg.get("image_token_id", tc.get("image_token_id", 151655)))


def vision_config(cfg):
    vc = cfg["vision_config"]
    return dict(depth=vc["depth"], hv=vc["hidden_size"], heads=vc["num_heads"], out=vc["out_hidden_size"],
                C=vc.get("in_channels", vc.get("in_chans", 3)), P=vc.get("patch_size", 14),
                T=vc.get("temporal_patch_size", 2), m=vc.get("spatial_merge_size", 2),
                window=vc.get("window_size", 112), fullatt=list(vc.get("fullatt_block_indexes", [7, 15, 23, 31])),
                tps=vc.get("tokens_per_second", 4))


# Every Linear of the forward pass goes through linear(); a caller may set LINEAR_HOOK to
# (name, x, w, b) -> y to observe or fake-quantize (as in qwen3_vl_torch.py). Names are the
# Linear's module name in the new layout.
LINEAR_HOOK = None


def linear(name, x, w, b=None):
    if LINEAR_HOOK is not None:
        return LINEAR_HOOK(name, x, w, b)
    y = x @ w.T
    return y + b if b is not None else y


def rms(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def get_window_index(grids, m, window_size, patch):
    """As Qwen2_5_VisionTransformerPretrainedModel.get_window_index: the permutation of the
    merged-patch groups that lists each frame's groups window by window (windows in raster
    order, groups in raster order inside), and the window boundaries in patches with the empty
    windows' repeats removed (the source's torch.unique_consecutive)."""
    ws = window_size // m // patch  # vit_merger_window_size, in merged patches
    if ws < 1:
        raise ValueError("window_size %d is smaller than one merged patch" % window_size)
    index, cu, base = [], [0], 0
    for t, h, w in grids:
        gh, gw = h // m, w // m
        idx = torch.arange(t * gh * gw).reshape(t, gh, gw)
        # the source pads by ws - g % ws: a whole empty window when g is already a multiple
        pad_h, pad_w = ws - gh % ws, ws - gw % ws
        nh, nw = (gh + pad_h) // ws, (gw + pad_w) // ws
        pad = F.pad(idx, (0, pad_w, 0, pad_h), "constant", -100)
        pad = pad.reshape(t, nh, ws, nw, ws).permute(0, 1, 3, 2, 4).reshape(t, nh * nw, ws, ws)
        seqlens = (pad != -100).sum([2, 3]).reshape(-1)
        flat = pad.reshape(-1)
        index.append(flat[flat != -100] + base)
        cu.extend((seqlens.cumsum(0) * m * m + cu[-1]).tolist())
        base += t * gh * gw
    return torch.cat(index), torch.unique_consecutive(torch.tensor(cu))


def segment_attention(q, k, v, bounds):
    """Softmax attention of q/k/v [n, heads, d] within each [bounds[i], bounds[i+1])."""
    o = torch.empty_like(q)
    for s0, s1 in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        att = torch.einsum("qhd,khd->hqk", q[s0:s1], k[s0:s1]) / math.sqrt(q.shape[-1])
        o[s0:s1] = torch.einsum("hqk,khd->qhd", att.softmax(-1), v[s0:s1])
    return o


def vision_forward(cfg, W, pixel_values, grids):
    v = vision_config(cfg)
    hv, heads, m = v["hv"], v["heads"], v["m"]
    dv, unit, p = hv // heads, m * m, "model.visual."
    n = pixel_values.shape[0]
    # Conv3d with kernel = stride = the whole patch: one matmul on the flattened (C, T, P, P) patch
    x = pixel_values @ W[p + "patch_embed.proj.weight"].reshape(hv, -1).T
    # rot_pos_emb: (row, col) of every patch in merge-block order, theta 10000 over dim dv/2
    rc = [merge_order(t, h, w, m) for t, h, w in grids]
    rows, cols = torch.cat([r for r, _ in rc]), torch.cat([c for _, c in rc])
    inv = 1.0 / (10000 ** (torch.arange(0, dv // 2, 2, dtype=torch.float32) / (dv // 2)))
    ang = torch.cat([rows[:, None].float() * inv, cols[:, None].float() * inv], dim=-1)
    # patches and their angles move together, a merge group (m·m patches) at a time, into window order
    widx, cu_window = get_window_index(grids, m, v["window"], v["P"])
    x = x.reshape(n // unit, unit, -1)[widx].reshape(n, -1)
    ang = ang.reshape(n // unit, unit, -1)[widx].reshape(n, -1)
    ang = torch.cat([ang, ang], dim=-1)
    cos, sin = ang.cos()[:, None, :], ang.sin()[:, None, :]
    # full attention blocks: within each frame (windows never cross frames, so frames stay contiguous)
    cu_full = torch.tensor(np.cumsum([0] + [h * w for t, h, w in grids for _ in range(t)]))
    lin = lambda y, name: linear(name, y, W[name + ".weight"], W.get(name + ".bias"))
    for i in range(v["depth"]):
        b = p + "blocks.%d." % i
        h = rms(x, W[b + "norm1.weight"], 1e-6)
        q, k, vv = lin(h, b + "attn.qkv").reshape(n, 3, heads, dv).unbind(1)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        o = segment_attention(q, k, vv, cu_full if i in v["fullatt"] else cu_window)
        x = x + lin(o.reshape(n, hv), b + "attn.proj")
        h = rms(x, W[b + "norm2.weight"], 1e-6)
        x = x + lin(F.silu(lin(h, b + "mlp.gate_proj")) * lin(h, b + "mlp.up_proj"), b + "mlp.down_proj")
    y = rms(x, W[p + "merger.ln_q.weight"], 1e-6).reshape(-1, hv * unit)
    y = lin(F.gelu(lin(y, p + "merger.mlp.0")), p + "merger.mlp.2")  # nn.GELU(): exact erf
    return y[torch.argsort(widx)]  # back to raster order of the merged grid


def rope_index(ids, grids, m, image_id, tokens_per_second):
    """get_rope_index for images: text runs count on from the previous max + 1; an image's merged
    grid gets (t·second_per_grid_t·tokens_per_second, row, col) offset by the text before it
    (second_per_grid_t is 0 for images). Images are found by their first image token."""
    s = len(ids)
    if not grids:
        return torch.arange(s).expand(3, -1)
    parts, st_ = [], 0
    for t, h, w in grids:
        ed = ids.index(image_id, st_)
        gt, gh, gw = t, h // m, w // m
        text_len = ed - st_
        st_idx = int(parts[-1].max()) + 1 if parts else 0
        parts.append(torch.arange(text_len).expand(3, -1) + st_idx)
        t_index = (torch.arange(gt).view(-1, 1).expand(-1, gh * gw) * 0 * tokens_per_second).long().flatten()
        h_index = torch.arange(gh).view(1, -1, 1).expand(gt, -1, gw).flatten()
        w_index = torch.arange(gw).view(1, 1, -1).expand(gt, gh, -1).flatten()
        parts.append(torch.stack([t_index, h_index, w_index]) + text_len + st_idx)
        st_ = ed + gt * gh * gw
    if st_ < s:
        st_idx = int(parts[-1].max()) + 1
        parts.append(torch.arange(s - st_).expand(3, -1) + st_idx)
    return torch.cat(parts, dim=1)


def mrope_cos_sin(pos, D, theta, sec):
    """Qwen2_5_VLRotaryEmbedding + apply_multimodal_rotary_pos_emb: frequency j < D/2 takes the
    T position for j < sec[0], H for the next sec[1], W for the last sec[2] (in sections, not
    interleaved); the second half of the head repeats the first."""
    if sum(sec) != D // 2:
        raise ValueError("mrope_section %r does not sum to head_dim/2 = %d" % (sec, D // 2))
    inv = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.float32) / D))
    axis = torch.tensor([0] * sec[0] + [1] * sec[1] + [2] * sec[2])
    ang = pos[axis].T.float() * inv  # [s, D/2]
    ang = torch.cat([ang, ang], -1)
    return ang.cos()[:, None, :], ang.sin()[:, None, :]


def text_layer(cfg, W, L, x, rope):
    tc = text_config(cfg)
    D, nq, nkv, eps = tc["D"], tc["nq"], tc["nkv"], tc["eps"]
    cos, sin, causal = rope
    s = x.shape[0]
    p = "model.language_model.layers.%d." % L
    lin = lambda y, name: linear(p + name, y, W[p + name + ".weight"], W.get(p + name + ".bias"))
    # norm biases are used when present (asymmetric smoothing creates them)
    h = rms(x, W[p + "input_layernorm.weight"], eps) + W.get(p + "input_layernorm.bias", 0)
    q = lin(h, "self_attn.q_proj").view(s, nq, D)
    k = lin(h, "self_attn.k_proj").view(s, nkv, D)
    v = lin(h, "self_attn.v_proj").view(s, nkv, D)
    q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
    k, v = k.repeat_interleave(nq // nkv, 1), v.repeat_interleave(nq // nkv, 1)  # repeat_kv
    att = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(D) + causal
    o = torch.einsum("hqk,khd->qhd", att.softmax(-1), v).reshape(s, nq * D)
    x = x + lin(o, "self_attn.o_proj")
    h = rms(x, W[p + "post_attention_layernorm.weight"], eps) + W.get(p + "post_attention_layernorm.bias", 0)
    return x + lin(F.silu(lin(h, "mlp.gate_proj")) * lin(h, "mlp.up_proj"), "mlp.down_proj")


def text_prepare(cfg, W, ids, embeds, grids):
    """The first text layer's input (embeddings with the image features scattered in), the
    image-token mask and what every layer needs, rope = (cos, sin, causal): the unit-wise entry
    point (tests/reference/calib_torch.py runs text_layer on it one layer at a time)."""
    tc = text_config(cfg)
    emb = W["model.language_model.embed_tokens.weight"]
    ids_t = torch.tensor(ids)
    mask = ids_t == tc["image_id"]
    if int(mask.sum()) != embeds.shape[0]:
        raise ValueError("image tokens %d != image features %d" % (int(mask.sum()), embeds.shape[0]))
    x = emb[ids_t.clamp(max=emb.shape[0] - 1)].clone()  # image rows (maybe >= vocab) are replaced
    x[mask] = embeds
    pos = rope_index(ids, grids, vision_config(cfg)["m"], tc["image_id"], vision_config(cfg)["tps"])
    cos, sin = mrope_cos_sin(pos, tc["D"], tc["theta"], tc["sec"])
    causal = torch.full((len(ids), len(ids)), float("-inf")).triu(1)
    return x, mask, (cos, sin, causal)


def text_forward(cfg, W, ids, embeds, grids):
    tc = text_config(cfg)
    x, _, rope = text_prepare(cfg, W, ids, embeds, grids)
    hidden = []
    for L in range(tc["layers"]):
        x = text_layer(cfg, W, L, x, rope)
        hidden.append(x.clone())
    xn = rms(x[-1:], W["model.language_model.norm.weight"], tc["eps"])
    return hidden, linear("lm_head", xn, W["lm_head.weight"])[0]


def forward_sample(cfg, W, ids, pv, grids):
    """(hidden.visual, [hidden.layer_n], logits) of one sample."""
    if grids:
        embeds = vision_forward(cfg, W, torch.from_numpy(pv), grids)
    else:
        embeds = torch.zeros(0, cfg["vision_config"]["out_hidden_size"])
    hidden, logits = text_forward(cfg, W, ids, embeds, grids)
    return embeds, hidden, logits


def make_prompt(cfg, grids, rng):
    """qwen3_vl_torch's prompt, given the text fields where it looks for them."""
    shim = dict(cfg, text_config={"vocab_size": text_config(cfg)["vocab"]})
    if "image_token_id" not in cfg:
        shim["image_token_id"] = text_config(cfg)["image_id"]
    return _qwen3_make_prompt(shim, grids, rng)


def inputs_main(model_dir, out_dir, grids, seed):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    v = vision_config(cfg)
    cols = v["C"] * v["T"] * v["P"] ** 2
    rng = np.random.default_rng(seed)
    os.makedirs(out_dir, exist_ok=True)
    pv = rng.standard_normal((sum(t * h * w for t, h, w in grids), cols)).astype(np.float32)
    write_inputs(os.path.join(out_dir, "sample_0.safetensors"), make_prompt(cfg, grids, rng), pv, grids)
    write_inputs(os.path.join(out_dir, "sample_1.safetensors"), make_prompt(cfg, [], rng),
                 np.zeros((0, cols), np.float32), [])


def dump_main(model_dir, inputs_dir, out_dir):
    cfg, W = load(model_dir)
    os.makedirs(out_dir, exist_ok=True)
    f32 = lambda x: st.Tensor("F32", x.shape, x.numpy())
    i = 0
    while os.path.exists(os.path.join(inputs_dir, "sample_%d.safetensors" % i)):
        ids, pv, grids = read_inputs(os.path.join(inputs_dir, "sample_%d.safetensors" % i))
        with torch.no_grad():
            embeds, hidden, logits = forward_sample(cfg, W, ids, pv, grids)
        out = [("hidden.visual", f32(embeds))] + [("hidden.layer_%d" % L, f32(h)) for L, h in enumerate(hidden)]
        st.write_file(os.path.join(out_dir, "sample_%d.safetensors" % i), out + [("logits", f32(logits))])
        i += 1


# ---------------------------------------------------------------------------------------------
# selftest: a small random checkpoint in both layouts, and the window machinery against
# independent constructions.

def fixture(rng):
    """(published config, new config, tensors in the new layout) of a small random model."""
    vc = dict(depth=3, hidden_size=32, num_heads=2, intermediate_size=40, out_hidden_size=48, in_chans=3,
              patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=56,
              fullatt_block_indexes=[1], tokens_per_second=2, hidden_act="silu")
    tc = dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
              intermediate_size=64, rms_norm_eps=1e-6, rope_theta=10000.0, vocab_size=400,
              rope_scaling={"type": "mrope", "mrope_section": [2, 1, 3]}, tie_word_embeddings=False)
    ids = dict(image_token_id=397, vision_start_token_id=395, vision_end_token_id=396)
    published = dict(tc, vision_config=vc, model_type="qwen2_5_vl", **ids)
    new = dict(text_config=tc, vision_config=dict(vc, in_channels=3), model_type="qwen2_5_vl", **ids)
    T = {}
    r = lambda *shape: (rng.standard_normal(shape) * 0.2).astype(np.float32)
    nrm = lambda n: (1 + 0.1 * rng.standard_normal(n)).astype(np.float32)
    hv, iv, H, I = 32, 40, 48, 64
    T["model.visual.patch_embed.proj.weight"] = r(hv, 3, 2, 14, 14) * 0.2
    for i in range(3):
        b = "model.visual.blocks.%d." % i
        T[b + "norm1.weight"], T[b + "norm2.weight"] = nrm(hv), nrm(hv)
        for name, o, n in (("attn.qkv", 3 * hv, hv), ("attn.proj", hv, hv), ("mlp.gate_proj", iv, hv),
                           ("mlp.up_proj", iv, hv), ("mlp.down_proj", hv, iv)):
            T[b + name + ".weight"], T[b + name + ".bias"] = r(o, n), r(o)
    T["model.visual.merger.ln_q.weight"] = nrm(hv)
    T["model.visual.merger.mlp.0.weight"], T["model.visual.merger.mlp.0.bias"] = r(4 * hv, 4 * hv), r(4 * hv)
    T["model.visual.merger.mlp.2.weight"], T["model.visual.merger.mlp.2.bias"] = r(48, 4 * hv), r(48)
    T["model.language_model.embed_tokens.weight"] = r(400, H) * 5
    for L in range(2):
        p = "model.language_model.layers.%d." % L
        T[p + "input_layernorm.weight"], T[p + "post_attention_layernorm.weight"] = nrm(H), nrm(H)
        for name, o, n, bias in (("q_proj", 48, H, 1), ("k_proj", 24, H, 1), ("v_proj", 24, H, 1),
                                 ("o_proj", H, 48, 0)):
            T[p + "self_attn.%s.weight" % name] = r(o, n)
            if bias:
                T[p + "self_attn.%s.bias" % name] = r(o)
        for name, o, n in (("gate_proj", I, H), ("up_proj", I, H), ("down_proj", H, I)):
            T[p + "mlp.%s.weight" % name] = r(o, n)
    T["model.language_model.norm.weight"] = nrm(H)
    T["lm_head.weight"] = r(400, H)
    return published, new, T


def write_model(d, cfg, T, published):
    os.makedirs(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f)
    ren = lambda k: (k[len("model."):] if k.startswith("model.visual.") else
                     "model." + k[len("model.language_model."):] if k.startswith("model.language_model.") else k)
    st.write_file(os.path.join(d, "model.safetensors"),
                  [(ren(k) if published else k, st.Tensor("F32", a.shape, a)) for k, a in sorted(T.items())])


def windows_brute(grids, m, ws):
    """Window order and sizes straight from the definition: per image, per frame, windows of
    ws x ws merged groups in raster order, groups in raster order inside."""
    order, sizes, base = [], [], 0
    for t, h, w in grids:
        gh, gw = h // m, w // m
        for f in range(t):
            for wr in range(0, gh, ws):
                for wc in range(0, gw, ws):
                    win = [base + (f * gh + r) * gw + c for r in range(wr, min(wr + ws, gh))
                           for c in range(wc, min(wc + ws, gw))]
                    order += win
                    sizes.append(len(win) * m * m)
        base += t * gh * gw
    return torch.tensor(order), torch.tensor(np.cumsum([0] + sizes))


def selftest():
    tmp = tempfile.mkdtemp(prefix="qwen2_5_vl_selftest_")
    try:
        selftest_in(tmp)
    finally:
        shutil.rmtree(tmp)
    print("selftest passed")


def selftest_in(tmp):
    ok = lambda msg: print("ok   " + msg)
    rng = np.random.default_rng(1)
    # (2) and (3): the window index against the definition, a permutation that argsort inverts
    for grids, window in (([(1, 8, 12), (1, 6, 10)], 56), ([(1, 6, 10)], 56), ([(2, 4, 4), (1, 10, 6)], 84),
                          ([(1, 8, 12)], 112), ([(3, 6, 10), (1, 2, 2)], 28), ([(1, 4, 6)], 1000)):
        widx, cu = get_window_index(grids, 2, window, 14)
        order, cu_ref = windows_brute(grids, 2, window // 28)
        n = widx.numel()
        assert torch.equal(widx, order) and torch.equal(cu, cu_ref), (grids, window, widx, cu, cu_ref)
        assert torch.equal(torch.sort(widx).values, torch.arange(n))
        assert torch.equal(widx[torch.argsort(widx)], torch.arange(n))
        assert bool((cu[1:] > cu[:-1]).all()) and int(cu[-1]) == 4 * n
    ok("get_window_index = the brute-force windows; a permutation, argsort inverts it; no empty windows")
    widx, cu = get_window_index([(1, 6, 10)], 2, 56, 14)
    assert cu.tolist() == [0, 16, 32, 40, 48, 56, 60] and widx.tolist() == [0, 1, 5, 6, 2, 3, 7, 8, 4, 9, 10, 11, 12, 13, 14]
    ok("1x6x10, window 56: merged 3x5, windows of 2x2 groups, cu_window_seqlens %s" % cu.tolist())
    published, new, T = fixture(rng)
    write_model(os.path.join(tmp, "pub"), published, T, True)
    write_model(os.path.join(tmp, "new"), new, T, False)
    inputs_main(os.path.join(tmp, "new"), os.path.join(tmp, "inputs"), [(1, 8, 12), (1, 6, 10)], 0)
    for lay in ("pub", "new"):
        dump_main(os.path.join(tmp, lay), os.path.join(tmp, "inputs"), os.path.join(tmp, "dump_" + lay))
    for i in range(2):
        a = st.read_file(os.path.join(tmp, "dump_pub", "sample_%d.safetensors" % i))[0]
        b = st.read_file(os.path.join(tmp, "dump_new", "sample_%d.safetensors" % i))[0]
        assert list(a) == list(b) and all(np.array_equal(a[k].array, b[k].array) for k in a)
        assert all(np.isfinite(t.array).all() for t in a.values())
        print("ok   sample_%d: published and new layouts give identical dumps (%s)" %
              (i, ", ".join("%s %s" % (k, list(t.shape)) for k, t in a.items())))
    cfg, W = load(os.path.join(tmp, "new"))
    ids, pv, grids = read_inputs(os.path.join(tmp, "inputs", "sample_0.safetensors"))
    assert grids == [(1, 8, 12), (1, 6, 10)] and ids.count(397) == 24 + 15 and pv.shape == (96 + 60, 1176)
    pv = torch.from_numpy(pv)
    with torch.no_grad():
        # (1) one window covering every grid = full attention in every block
        big = dict(cfg, vision_config=dict(cfg["vision_config"], window_size=14 * 2 * 8))
        allfull = dict(cfg, vision_config=dict(cfg["vision_config"], fullatt_block_indexes=[0, 1, 2]))
        e_big, e_full = vision_forward(big, W, pv, grids), vision_forward(allfull, W, pv, grids)
        assert torch.allclose(e_big, e_full, atol=1e-5, rtol=1e-5)
        ok("window covering the grid: window attention = full attention (max |diff| %.2e)" % (e_big - e_full).abs().max())
        e_win = vision_forward(cfg, W, pv, grids)
        assert (e_win - e_full).abs().max() > 1e-3
        ok("window 56 differs from full attention (max |diff| %.2e): the windows are used" % (e_win - e_full).abs().max())
        # vision pieces against torch's own modules
        x_conv = F.conv3d(pv.view(-1, 3, 2, 14, 14), W["model.visual.patch_embed.proj.weight"], stride=(2, 14, 14))
        assert torch.allclose(x_conv.view(pv.shape[0], -1), pv @ W["model.visual.patch_embed.proj.weight"].reshape(32, -1).T, atol=1e-4)
        ok("patch embedding = Conv3d(stride = kernel)")
    # MRoPE against a transcription of apply_multimodal_rotary_pos_emb's split/cat
    pos = rope_index(ids, grids, 2, 397, 2)
    cos, _ = mrope_cos_sin(pos, 12, 10000.0, [2, 1, 3])
    inv = 1.0 / (10000.0 ** (torch.arange(0, 12, 2, dtype=torch.float32) / 12))
    freqs = pos[:, :, None].float() * inv  # [3, s, 6]
    emb = torch.cat([freqs, freqs], -1).cos()
    ref = torch.cat([c[i % 3] for i, c in enumerate(emb.split([2, 1, 3] * 2, dim=-1))], dim=-1)
    assert torch.allclose(cos[:, 0, :], ref)
    ok("MRoPE sections = apply_multimodal_rotary_pos_emb's split of mrope_section * 2")
    # get_rope_index on a hand-written prompt: 2 text, image 1x4x6 (merged 2x3), 1 text, image 1x2x2, 2 text
    p = [5, 6] + [397] * 6 + [7] + [397] + [8, 9]
    got = rope_index(p, [(1, 4, 6), (1, 2, 2)], 2, 397, 2).tolist()
    want = [[0, 1, 2, 2, 2, 2, 2, 2, 5, 6, 7, 8],
            [0, 1, 2, 2, 2, 3, 3, 3, 5, 6, 7, 8],
            [0, 1, 2, 3, 4, 2, 3, 4, 5, 6, 7, 8]]
    assert got == want, got
    ok("get_rope_index: image grid (0, row, col) after the text, text continues at max + 1")
    assert rope_index([1, 2, 3], [], 2, 397, 2).tolist() == [[0, 1, 2]] * 3
    ok("get_rope_index: text only = 0..s-1 on all three axes")
    names = set()
    global LINEAR_HOOK
    LINEAR_HOOK = lambda name, x, w, b: (names.add(name), x @ w.T + (b if b is not None else 0))[1]
    try:
        with torch.no_grad():
            forward_sample(cfg, W, ids, pv.numpy(), grids)
    finally:
        LINEAR_HOOK = None
    want = {"model.visual.blocks.%d.%s" % (i, n) for i in range(3) for n in
            ("attn.qkv", "attn.proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")}
    want |= {"model.visual.merger.mlp.0", "model.visual.merger.mlp.2", "lm_head"}
    want |= {"model.language_model.layers.%d.%s" % (L, n) for L in range(2) for n in
             ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
              "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")}
    assert names == want, sorted(names ^ want)
    ok("LINEAR_HOOK sees all %d Linears under their new-layout names" % len(want))


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "selftest":
        return selftest()
    if len(sys.argv) > 1 and sys.argv[1] == "dump":
        if len(sys.argv) != 5:
            sys.exit("usage: qwen2_5_vl_torch.py dump MODEL_DIR INPUTS_DIR OUT_DIR")
        return dump_main(*sys.argv[2:])
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["inputs"])
    ap.add_argument("model_dir")
    ap.add_argument("out")
    ap.add_argument("--grids", default="1x8x12,1x6x10")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    inputs_main(a.model_dir, a.out, [tuple(int(v) for v in g.split("x")) for g in a.grids.split(",")], a.seed)


if __name__ == "__main__":
    main()
