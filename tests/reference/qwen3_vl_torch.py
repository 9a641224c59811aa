#!/usr/bin/env python3
"""Independent PyTorch (float32, CPU) reference of the Qwen3-VL vision tower, written from
qwen3_vl_spec.md §4 — not from vlmslim's C code and not using transformers.

  qwen3_vl_torch.py vision MODEL_DIR OUT.safetensors [--grids 1x4x6,1x2x2] [--seed N]

writes random pixel_values for the grids (seeded), the grids, and the reference outputs
(`embeds`, `deepstack.<j>`) into OUT.safetensors."""
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
    lin = lambda y, name: y @ W[name + ".weight"].T + W[name + ".bias"]
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["vision"])
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
    pv = rng.standard_normal((sum(t * h * w for t, h, w in grids), cols)).astype(np.float32)
    with torch.no_grad():
        embeds, deep = vision_forward(cfg, W, torch.from_numpy(pv), grids)
    f32 = lambda x: st.Tensor("F32", x.shape, x)
    g = np.array(grids, dtype=np.int64)
    out = [("pixel_values", f32(pv)), ("grids", st.Tensor("I64", g.shape, g)), ("embeds", f32(embeds.numpy()))]
    out += [("deepstack.%d" % j, f32(d.numpy())) for j, d in enumerate(deep)]
    st.write_file(a.out, out)


if __name__ == "__main__":
    main()
