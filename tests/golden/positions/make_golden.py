#!/usr/bin/env python3
"""Golden values for Qwen3-VL positions (qwen3_vl_spec.md §4.2-4.3, §5.2-5.3), written from the
spec with numpy in float32 where PyTorch computes in float32 (angles = position x inv_freq,
torch.linspace's symmetric formula). Writes cases.json."""
import json, os
import numpy as np

IMG, VS, VE = 151655, 151652, 151653
MERGE = 2
grids = [[1, 4, 6], [1, 2, 2]]
ids = [11, 12, VS] + [IMG] * 6 + [VE, 13, 14, VS] + [IMG] * 1 + [VE, 15]

def rope_index(ids, grids, merge):
    pos = [[], [], []]
    nxt, i, img = 0, 0, 0
    while i < len(ids):
        if ids[i] != IMG:
            for a in range(3):
                pos[a].append(nxt)
            nxt += 1; i += 1
            continue
        t, h, w = grids[img][0], grids[img][1] // merge, grids[img][2] // merge
        base = nxt
        for ti in range(t):
            for hi in range(h):
                for wi in range(w):
                    pos[0].append(base + ti); pos[1].append(base + hi); pos[2].append(base + wi)
        i += t * h * w
        nxt = max(max(p[-1] for p in pos), max(max(p) for p in pos)) + 1
        img += 1
    return np.array(pos, dtype=np.int64)

def mrope(pos, d, theta, sec):
    inv = (1.0 / theta ** (np.arange(0, d, 2, dtype=np.float64) / d)).astype(np.float32)
    axis = [1 if (j % 3 == 1 and j < 3 * sec[1]) else 2 if (j % 3 == 2 and j < 3 * sec[2]) else 0 for j in range(d // 2)]
    ang = np.stack([pos[axis[j]].astype(np.float32) * inv[j] for j in range(d // 2)], axis=1).astype(np.float32)
    ang = np.concatenate([ang, ang], axis=1)
    return np.cos(ang), np.sin(ang)

def coords(grids, merge):
    rows, cols = [], []
    for t, h, w in grids:
        for _ in range(t):
            for bh in range(h // merge):
                for bw in range(w // merge):
                    for ih in range(merge):
                        for iw in range(merge):
                            rows.append(bh * merge + ih); cols.append(bw * merge + iw)
    return np.array(rows), np.array(cols)

def vision_rope(rows, cols, dv):
    half = dv // 2
    inv = (1.0 / 10000 ** (np.arange(0, half, 2, dtype=np.float64) / half)).astype(np.float32)
    ang = np.concatenate([rows[:, None].astype(np.float32) * inv, cols[:, None].astype(np.float32) * inv], axis=1)
    ang = np.concatenate([ang, ang], axis=1).astype(np.float32)
    return np.cos(ang), np.sin(ang)

def torch_linspace(side, n):
    if n == 1:
        return np.zeros(1, np.float32)
    step = np.float32(side - 1) / np.float32(n - 1)
    return np.array([np.float32(i) * step if i < n // 2 else np.float32(side - 1) - np.float32(n - 1 - i) * step
                     for i in range(n)], dtype=np.float32)

def pos_embed(table, side, grids, merge):
    out = []
    for t, h, w in grids:
        hs, ws = torch_linspace(side, h), torch_linspace(side, w)
        full = np.zeros((h, w, table.shape[1]), np.float32)
        for r in range(h):
            for c in range(w):
                hf, wf = int(hs[r]), int(ws[c])
                hc, wc = min(hf + 1, side - 1), min(wf + 1, side - 1)
                dh, dw = np.float32(hs[r] - hf), np.float32(ws[c] - wf)
                one = np.float32(1)
                full[r, c] = (table[hf * side + wf] * ((one - dh) * (one - dw)) + table[hf * side + wc] * ((one - dh) * dw)
                              + table[hc * side + wf] * (dh * (one - dw)) + table[hc * side + wc] * (dh * dw))
        for _ in range(t):
            for bh in range(h // merge):
                for bw in range(w // merge):
                    for ih in range(merge):
                        for iw in range(merge):
                            out.append(full[bh * merge + ih, bw * merge + iw])
    return np.array(out, np.float32)

pos = rope_index(ids, grids, MERGE)
sec = [4, 2, 2]
cos, sin = mrope(pos, 16, 5000000.0, sec)
rows, cols = coords(grids, MERGE)
vcos, vsin = vision_rope(rows, cols, 16)
rng = np.random.default_rng(3)
table = rng.standard_normal((16, 3)).astype(np.float32)
pe = pos_embed(table, 4, grids, MERGE)
L = lambda a: np.asarray(a).ravel().tolist()
cases = {"ids": ids, "grids": grids, "merge": MERGE, "pos": L(pos), "d": 16, "theta": 5000000.0, "sec": sec,
         "cos": L(cos.astype(np.float64)), "sin": L(sin.astype(np.float64)), "rows": L(rows), "cols": L(cols), "dv": 16,
         "vcos": L(vcos.astype(np.float64)), "vsin": L(vsin.astype(np.float64)), "side": 4, "hidden": 3,
         "table": L(table.astype(np.float64)), "pos_embed": L(pe.astype(np.float64))}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases.json"), "w") as f:
    json.dump(cases, f)
