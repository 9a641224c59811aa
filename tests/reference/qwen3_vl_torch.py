#!/usr/bin/env python3
"""Independent PyTorch (float32, CPU) reference of the Qwen3-VL / Qwen3-VL-MoE forward pass,
written from qwen3_vl_spec.md §4-5 — not from vlmslim's C code and not using transformers.

  qwen3_vl_torch.py vision MODEL_DIR OUT.safetensors [--grids 1x4x6,1x2x2] [--seed N]
  qwen3_vl_torch.py model  MODEL_DIR OUT.safetensors [--grids ...] [--seed N]

`vision` writes random pixel_values for the grids (seeded), the grids, and the tower's outputs
(`embeds`, `deepstack.<j>`). `model` also writes a prompt `ids` (text, then per image
vision_start + image tokens + vision_end, then text), every text layer's output
`hidden.layer_<n>` and the last position's `logits`.

  qwen3_vl_torch.py inputs MODEL_DIR OUT_DIR [--grids ...] [--seed N]
  qwen3_vl_torch.py dump   MODEL_DIR INPUTS_DIR OUT_DIR

`inputs` writes model-input files (input_ids, attention_mask, pixel_values, image_grid_thw):
OUT_DIR/sample_0.safetensors with the grids' images and a prompt as `model` builds it, and
sample_1.safetensors, text only. `dump` reads INPUTS_DIR/sample_<i>.safetensors and writes what
`vlmslim forward --dump` writes: OUT_DIR/sample_<i>.safetensors with `hidden.visual`,
`hidden.layer_<n>` and `logits`."""
import argparse, json, math, os, sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np as st  # noqa: E402


def load(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    tensors, _ = st.load_checkpoint(model_dir)
    return cfg, {k: torch.from_numpy(np.ascontiguousarray(t.to_f32())) for k, t in tensors.items()}


# Every Linear of the forward pass goes through linear(); a caller may set LINEAR_HOOK to
# (name, x, w, b) -> y to observe or fake-quantize (tests/reference/calib_torch.py).
LINEAR_HOOK = None


def linear(name, x, w, b=None):
    if LINEAR_HOOK is not None:
        return LINEAR_HOOK(name, x, w, b)
    y = x @ w.T
    return y + b if b is not None else y


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def merge_order(t, h, w, m):
    """(row, col) of every patch in merge-block order."""
    rows, cols = [], []
    for _ in range(t):
        for bh in range(h // m):
            for bw in range(w // m):
                for ih in range(m):
                    for iw in range(m):
                        rows.append(bh * m + ih)
                        cols.append(bw * m + iw)
    return torch.tensor(rows), torch.tensor(cols)


def pos_embed(table, side, t, h, w, m):
    hs, ws = torch.linspace(0, side - 1, h), torch.linspace(0, side - 1, w)
    hf, wf = hs.floor().long(), ws.floor().long()
    hc, wc = (hf + 1).clamp(max=side - 1), (wf + 1).clamp(max=side - 1)
    dh, dw = (hs - hf)[:, None, None], (ws - wf)[None, :, None]
    tab = table.view(side, side, -1)
    full = (tab[hf][:, wf] * ((1 - dh) * (1 - dw)) + tab[hf][:, wc] * ((1 - dh) * dw)
            + tab[hc][:, wf] * (dh * (1 - dw)) + tab[hc][:, wc] * (dh * dw))
    rows, cols = merge_order(t, h, w, m)
    return full[rows, cols]


def vision_forward(cfg, W, pixel_values, grids):
    vc = cfg["vision_config"]
    hv, heads, m = vc["hidden_size"], vc["num_heads"], vc.get("spatial_merge_size", 2)
    dv = hv // heads
    p = "model.visual."
    x = pixel_values @ W[p + "patch_embed.proj.weight"].reshape(hv, -1).T + W[p + "patch_embed.proj.bias"]
    side = int(math.isqrt(vc["num_position_embeddings"]))
    x = x + torch.cat([pos_embed(W[p + "pos_embed.weight"], side, t, h, w, m) for t, h, w in grids])
    inv = 1.0 / (10000 ** (torch.arange(0, dv // 2, 2, dtype=torch.float32) / (dv // 2)))
    rc = [merge_order(t, h, w, m) for t, h, w in grids]
    rows, cols = torch.cat([r for r, _ in rc]), torch.cat([c for _, c in rc])
    ang = torch.cat([rows[:, None].float() * inv, cols[:, None].float() * inv], dim=-1)
    ang = torch.cat([ang, ang], dim=-1)
    cos, sin = ang.cos()[:, None, :], ang.sin()[:, None, :]
    bounds = np.cumsum([0] + [h * w for t, h, w in grids for _ in range(t)])
    n = x.shape[0]
    ln = lambda y, name: torch.nn.functional.layer_norm(y, (y.shape[-1],), W[name + ".weight"], W[name + ".bias"], 1e-6)
    lin = lambda y, name: linear(name, y, W[name + ".weight"], W[name + ".bias"])
    gm = m * m

    def merger(y, prefix, post):
        y = ln(y.reshape(-1, hv * gm), prefix + ".norm") if post else ln(y, prefix + ".norm").reshape(-1, hv * gm)
        return lin(torch.nn.functional.gelu(lin(y, prefix + ".linear_fc1")), prefix + ".linear_fc2")

    deep = []
    ds_idx = vc.get("deepstack_visual_indexes", [])
    for i in range(vc["depth"]):
        b = p + "blocks.%d." % i
        h = ln(x, b + "norm1")
        q, k, v = lin(h, b + "attn.qkv").reshape(n, 3, heads, dv).unbind(1)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        o = torch.empty_like(q)
        for s0, s1 in zip(bounds[:-1], bounds[1:]):
            att = torch.einsum("qhd,khd->hqk", q[s0:s1], k[s0:s1]) / math.sqrt(dv)
            o[s0:s1] = torch.einsum("hqk,khd->qhd", att.softmax(-1), v[s0:s1])
        x = x + lin(o.reshape(n, hv), b + "attn.proj")
        h = torch.nn.functional.gelu(lin(ln(x, b + "norm2"), b + "mlp.linear_fc1"), approximate="tanh")
        x = x + lin(h, b + "mlp.linear_fc2")
        if i in ds_idx:
            deep.append(merger(x, p + "deepstack_merger_list.%d" % ds_idx.index(i), True))
    return merger(x, p + "merger", False), deep


def rope_index(ids, grids, m, image_id):
    pos, nxt, i, img = [[], [], []], 0, 0, 0
    while i < len(ids):
        if ids[i] != image_id:
            for a in range(3):
                pos[a].append(nxt)
            nxt, i = nxt + 1, i + 1
            continue
        t, h, w = grids[img][0], grids[img][1] // m, grids[img][2] // m
        ti, hi, wi = torch.meshgrid(torch.arange(t), torch.arange(h), torch.arange(w), indexing="ij")
        for a, idx in enumerate((ti, hi, wi)):
            pos[a].extend((idx.flatten() + nxt).tolist())
        nxt = max(max(p) for p in pos) + 1
        i, img = i + t * h * w, img + 1
    return torch.tensor(pos)


def rms(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def text_prepare(cfg, W, ids, embeds, grids):
    """Embeddings with the image features scattered in, and what every layer needs."""
    tc = cfg["text_config"]
    D = tc["head_dim"]
    image_id = cfg.get("image_token_id", 151655)
    m = cfg["vision_config"].get("spatial_merge_size", 2)
    ids_t = torch.tensor(ids)
    mask = ids_t == image_id
    emb = W["model.language_model.embed_tokens.weight"]
    x = emb[ids_t.clamp(max=emb.shape[0] - 1)].clone()  # image rows are replaced below
    x[mask] = embeds
    pos = rope_index(ids, grids, m, image_id)
    sec = tc["rope_scaling"]["mrope_section"]
    inv = 1.0 / (tc["rope_theta"] ** (torch.arange(0, D, 2, dtype=torch.float32) / D))
    axis = torch.tensor([1 if (j % 3 == 1 and j < 3 * sec[1]) else 2 if (j % 3 == 2 and j < 3 * sec[2]) else 0 for j in range(D // 2)])
    ang = pos[axis].T.float() * inv  # [s, D/2]
    ang = torch.cat([ang, ang], -1)
    cos, sin = ang.cos()[:, None, :], ang.sin()[:, None, :]
    s = len(ids)
    causal = torch.full((s, s), float("-inf")).triu(1)
    return x, mask, (cos, sin, causal)


def text_layer(cfg, W, L, x, rope, route_counts=None, routed_only=False):
    """Decoder layer L on x; MoE experts are computed on every token (weighted by their routing
    weight, zero when not routed), or with routed_only on their routed tokens only (the same
    output); route_counts[e] += tokens routed to expert e."""
    tc = cfg["text_config"]
    H, D, nq, nkv, eps = tc["hidden_size"], tc["head_dim"], tc["num_attention_heads"], tc["num_key_value_heads"], tc["rms_norm_eps"]
    experts, topk = tc.get("num_experts", 0), tc.get("num_experts_per_tok", 0)
    cos, sin, causal = rope
    s = x.shape[0]
    p = "model.language_model.layers.%d." % L
    # biases of norms and Linears are used when present (asymmetric smoothing creates them)
    h = rms(x, W[p + "input_layernorm.weight"], eps) + W.get(p + "input_layernorm.bias", 0)
    a = p + "self_attn."
    q = linear(a + "q_proj", h, W[a + "q_proj.weight"], W.get(a + "q_proj.bias")).view(s, nq, D)
    k = linear(a + "k_proj", h, W[a + "k_proj.weight"], W.get(a + "k_proj.bias")).view(s, nkv, D)
    v = linear(a + "v_proj", h, W[a + "v_proj.weight"], W.get(a + "v_proj.bias")).view(s, nkv, D)
    q, k = rms(q, W[p + "self_attn.q_norm.weight"], eps), rms(k, W[p + "self_attn.k_norm.weight"], eps)
    q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
    k, v = k.repeat_interleave(nq // nkv, 1), v.repeat_interleave(nq // nkv, 1)
    att = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(D) + causal
    o = torch.einsum("hqk,khd->qhd", att.softmax(-1), v).reshape(s, nq * D)
    x = x + linear(p + "self_attn.o_proj", o, W[p + "self_attn.o_proj.weight"])
    h = rms(x, W[p + "post_attention_layernorm.weight"], eps) + W.get(p + "post_attention_layernorm.bias", 0)
    if p + "mlp.gate.weight" in W:
        probs = linear(p + "mlp.gate", h, W[p + "mlp.gate.weight"]).softmax(-1)
        wv, wi = probs.topk(topk, -1)
        if tc.get("norm_topk_prob", True):
            wv = wv / wv.sum(-1, keepdim=True)
        gu, dn = W[p + "mlp.experts.gate_up_proj"], W[p + "mlp.experts.down_proj"]
        I = dn.shape[1]
        y = torch.zeros_like(h)
        for e in range(experts):
            if route_counts is not None:
                route_counts[e] += int((wi == e).sum())
            q_ = "%smlp.experts.%d." % (p, e)
            rows = (wi == e).any(-1).nonzero().flatten() if routed_only else torch.arange(s)
            if len(rows) == 0:
                continue
            he = h[rows]
            g = linear(q_ + "gate_proj", he, gu[e][:, :I].T)
            u = linear(q_ + "up_proj", he, gu[e][:, I:].T)
            out = linear(q_ + "down_proj", torch.nn.functional.silu(g) * u, dn[e].T)
            y[rows] += out * (wv[rows] * (wi[rows] == e)).sum(-1, keepdim=True)
    else:
        g = torch.nn.functional.silu(linear(p + "mlp.gate_proj", h, W[p + "mlp.gate_proj.weight"],
                                            W.get(p + "mlp.gate_proj.bias")))
        g = g * linear(p + "mlp.up_proj", h, W[p + "mlp.up_proj.weight"], W.get(p + "mlp.up_proj.bias"))
        y = linear(p + "mlp.down_proj", g, W[p + "mlp.down_proj.weight"])
    return x + y


def final_logits(cfg, W, x):
    tc = cfg["text_config"]
    xn = rms(x[-1], W["model.language_model.norm.weight"], tc["rms_norm_eps"])
    head = W.get("lm_head.weight", W["model.language_model.embed_tokens.weight"])
    return xn @ head.T


def text_forward(cfg, W, ids, embeds, deep):
    x, mask, rope = text_prepare(cfg, W, ids, embeds, ARGS_GRIDS)
    hidden = []
    for L in range(cfg["text_config"]["num_hidden_layers"]):
        x = text_layer(cfg, W, L, x, rope)
        if L < len(deep):
            x[mask] = x[mask] + deep[L]
        hidden.append(x.clone())
    return hidden, final_logits(cfg, W, x)


ARGS_GRIDS = None


def make_prompt(cfg, grids, rng):
    vc = cfg["vision_config"]
    m = vc.get("spatial_merge_size", 2)
    vocab = cfg["text_config"]["vocab_size"]
    image_id = cfg.get("image_token_id", 151655)
    text = lambda n: [int(t) for t in rng.integers(0, min(vocab, 151643), n) if t != image_id] or [0]
    ids = text(5)
    # vision start/end ids lie outside a tiny fixture's vocabulary: use them only when they fit
    fit = lambda key, default: cfg.get(key, default) if cfg.get(key, default) < vocab else int(rng.integers(0, vocab))
    for t, h, w in grids:
        ids += [fit("vision_start_token_id", 151652)] + [image_id] * (t * h * w // (m * m))
        ids += [fit("vision_end_token_id", 151653)] + text(3)
    return ids


def write_inputs(path, ids, pv, grids):
    idv = np.array([ids], dtype=np.int64)
    g = np.array(grids, dtype=np.int64).reshape(-1, 3)
    st.write_file(path, [("input_ids", st.Tensor("I64", idv.shape, idv)),
                         ("attention_mask", st.Tensor("I64", idv.shape, np.ones_like(idv))),
                         ("pixel_values", st.Tensor("F32", pv.shape, pv)),
                         ("image_grid_thw", st.Tensor("I64", g.shape, g))])


def read_inputs(path):
    t, _ = st.read_file(path)
    ids = [int(v) for v in t["input_ids"].array.reshape(-1)]
    grids = [tuple(int(v) for v in row) for row in t["image_grid_thw"].array.reshape(-1, 3)]
    return ids, t["pixel_values"].array.astype(np.float32), grids


def forward_sample(cfg, W, ids, pv, grids):
    """(hidden.visual, [hidden.layer_n], logits) of one sample."""
    global ARGS_GRIDS
    ARGS_GRIDS = grids
    out_hidden = cfg["vision_config"]["out_hidden_size"]
    if grids:
        embeds, deep = vision_forward(cfg, W, torch.from_numpy(pv), grids)
    else:
        embeds, deep = torch.zeros(0, out_hidden), []
    hidden, logits = text_forward(cfg, W, ids, embeds, deep)
    return embeds, hidden, logits


def dump_main(model_dir, inputs_dir, out_dir):
    cfg, W = load(model_dir)
    os.makedirs(out_dir, exist_ok=True)
    i = 0
    f32 = lambda x: st.Tensor("F32", x.shape, x.numpy())
    while os.path.exists(os.path.join(inputs_dir, "sample_%d.safetensors" % i)):
        ids, pv, grids = read_inputs(os.path.join(inputs_dir, "sample_%d.safetensors" % i))
        with torch.no_grad():
            embeds, hidden, logits = forward_sample(cfg, W, ids, pv, grids)
        out = [("hidden.visual", f32(embeds))] + [("hidden.layer_%d" % L, f32(h)) for L, h in enumerate(hidden)]
        st.write_file(os.path.join(out_dir, "sample_%d.safetensors" % i), out + [("logits", f32(logits))])
        i += 1


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "dump":
        if len(sys.argv) != 5:
            sys.exit("usage: qwen3_vl_torch.py dump MODEL_DIR INPUTS_DIR OUT_DIR")
        return dump_main(*sys.argv[2:])
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["vision", "model", "inputs"])
    ap.add_argument("model_dir")
    ap.add_argument("out")
    ap.add_argument("--grids", default="1x4x6,1x2x2")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    cfg, W = load(a.model_dir)
    grids = [tuple(int(v) for v in g.split("x")) for g in a.grids.split(",")]
    vc = cfg["vision_config"]
    cols = vc.get("in_channels", 3) * vc.get("temporal_patch_size", 2) * vc.get("patch_size", 16) ** 2
    rng = np.random.default_rng(a.seed)
    if a.what == "inputs":
        os.makedirs(a.out, exist_ok=True)
        pv = rng.standard_normal((sum(t * h * w for t, h, w in grids), cols)).astype(np.float32)
        write_inputs(os.path.join(a.out, "sample_0.safetensors"), make_prompt(cfg, grids, rng), pv, grids)
        write_inputs(os.path.join(a.out, "sample_1.safetensors"), make_prompt(cfg, [], rng),
                     np.zeros((0, cols), np.float32), [])
        return
    pv = rng.standard_normal((sum(t * h * w for t, h, w in grids), cols)).astype(np.float32)
    global ARGS_GRIDS
    ARGS_GRIDS = grids
    with torch.no_grad():
        embeds, deep = vision_forward(cfg, W, torch.from_numpy(pv), grids)
        if a.what == "model":
            m = vc.get("spatial_merge_size", 2)
            vocab = cfg["text_config"]["vocab_size"]
            ids = [int(t) for t in rng.integers(0, min(vocab, 151643), 5)]
            # vision start/end ids lie outside a tiny fixture's vocabulary: use them only when they fit
            fit = lambda key, default: cfg.get(key, default) if cfg.get(key, default) < vocab else int(rng.integers(0, vocab))
            for t, h, w in grids:
                ids += [fit("vision_start_token_id", 151652)] + [cfg.get("image_token_id", 151655)] * (t * h * w // (m * m))
                ids += [fit("vision_end_token_id", 151653)] + [int(v) for v in rng.integers(0, min(vocab, 151643), 3)]
            hidden, logits = text_forward(cfg, W, ids, embeds, deep)
    f32 = lambda x: st.Tensor("F32", x.shape, x)
    g = np.array(grids, dtype=np.int64)
    out = [("pixel_values", f32(pv)), ("grids", st.Tensor("I64", g.shape, g)), ("embeds", f32(embeds.numpy()))]
    out += [("deepstack.%d" % j, f32(d.numpy())) for j, d in enumerate(deep)]
    if a.what == "model":
        idv = np.array(ids, dtype=np.int64)
        out += [("ids", st.Tensor("I64", idv.shape, idv))]
        out += [("hidden.layer_%d" % L, f32(hx.numpy())) for L, hx in enumerate(hidden)]
        out += [("logits", f32(logits.numpy()))]
    st.write_file(a.out, out)


if __name__ == "__main__":
    main()
