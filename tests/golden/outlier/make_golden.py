#!/usr/bin/env python3
"""Golden values for vlmslim's outlier-suppression library (src/quant/{torch_mt19937,hadamard,
smooth,quarot}.c), written from msmodelslim_vlm_spec.md §5.2-5.4 with PyTorch (float32 CPU).

  - PyTorch's own generator: torch.randint after torch.manual_seed (the ±1 signs of QuaRot);
  - random Hadamard matrices: the spec's fast transform (consecutive row pairs (a, b) →
    [a+b, a−b] until the leading dimension is k, then the order-k matrix, / √n) applied to
    diag(d), and BLOCK_HADAMARD_SHIFTED = B·P·B with torch matmuls;
  - order-k matrices from their textbook definitions (Paley I, Paley II, doubling, the Williamson
    array of four circulants given by their first rows), in Python;
  - iter_smooth / smooth_quant statistics, scales and folds for each subgraph type, and QuaRot
    norm fusion and rotations, as torch float32 tensor operations.

Writes outlier.safetensors next to this script. Run: python3 tests/golden/outlier/make_golden.py
(needs python3-torch and python3-numpy; Debian's /usr/bin/python3 has both)."""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "reference"))
from safetensors_np import Tensor, write_file  # noqa: E402

out = []


def put(name, t):
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    dt = {np.dtype("float32"): "F32", np.dtype("int64"): "I64", np.dtype("int8"): "I8"}[a.dtype]
    out.append((name, Tensor(dt, a.shape, np.ascontiguousarray(a))))


# ---------------------------------------------------------------- PyTorch's generator
torch.manual_seed(1234)
put("randint.seed1234.0_2", torch.randint(0, 2, (1000,)))
torch.manual_seed(1234)
put("randint.seed1234.0_1000", torch.randint(0, 1000, (16,)))
torch.manual_seed(42)
put("randint.seed42.5_17", torch.randint(5, 17, (700,)))  # crosses the 624-word regeneration


# ---------------------------------------------------------------- order-k matrices
def chi(x, q):
    x %= q
    return 0 if x == 0 else (1 if pow(x, (q - 1) // 2, q) == 1 else -1)


def paley1(q):
    """Order q+1 for a prime q ≡ 3 (mod 4), normalised like Sloane's had.12: first row
    [+1, −1, ...], first column +1, core χ(a−b) with +1 on the diagonal."""
    k = q + 1
    h = np.ones((k, k), dtype=np.int8)
    h[0, 1:] = -1
    for a in range(q):
        for b in range(q):
            h[1 + a, 1 + b] = 1 if a == b else chi(a - b, q)
    return h


def paley2(q):
    """Order 2(q+1) for a prime q ≡ 1 (mod 4): the symmetric conference matrix C with 0 →
    [[1, −1], [−1, −1]] and ±1 → ±[[1, 1], [1, −1]] (np.kron)."""
    c = np.zeros((q + 1, q + 1), dtype=np.int64)
    c[0, 1:] = 1
    c[1:, 0] = 1
    for a in range(q):
        for b in range(q):
            c[1 + a, 1 + b] = chi(a - b, q)
    return (np.kron(c, [[1, 1], [1, -1]]) + np.kron(np.eye(q + 1, dtype=np.int64), [[1, -1], [-1, -1]])).astype(np.int8)


def doubled(h):
    return np.block([[h, h], [h, -h]]).astype(np.int8)


def williamson(*first_rows):
    """Order 4n from the first rows of the symmetric circulants A, B, C, D (row r of X is X's
    first row rotated right by r): [[A, B, C, D], [-B, A, -D, C], [-C, D, A, -B], [-D, -C, B, A]].
    The rows are those of Sloane's had.<4n>.will.txt (src/quant/hadamard.c)."""
    A, B, C, D = (np.array([np.roll([1 if ch == "+" else -1 for ch in s], r) for r in range(len(s))])
                  for s in first_rows)
    return np.block([[A, B, C, D], [-B, A, -D, C], [-C, D, A, -B], [-D, -C, B, A]]).astype(np.int8)


BASES = {12: paley1(11), 20: williamson("+----", "+----", "++--+", "+-++-"),
         28: williamson("+------", "++----+", "+-+--+-", "+--++--"), 36: paley2(17),
         40: doubled(paley1(19)), 60: paley1(59), 76: paley2(37), 108: paley1(107)}
for k, h in BASES.items():
    assert (h.astype(np.int64) @ h.T.astype(np.int64) == k * np.eye(k)).all(), k
    put(f"hadamard_base.{k}", h)

ORDERS = [200, 172, 160, 156, 140, 136, 108, 76, 60, 52, 40, 36, 28, 20, 12]


def pow2(n):
    return n > 0 and n & (n - 1) == 0


def transform(x):
    """The spec's fast Walsh-Hadamard transform of each row of x (float32)."""
    n = x.shape[-1]
    k = next((kk for kk in ORDERS if n % kk == 0 and pow2(n // kk)), 1)
    a = x.clone().reshape(-1, n, 1)
    while a.shape[1] > k:
        a = a.reshape(a.shape[0], a.shape[1] // 2, 2, a.shape[2])
        a = torch.cat([a[:, :, 0, :] + a[:, :, 1, :], a[:, :, 0, :] - a[:, :, 1, :]], dim=2)
    if k > 1:
        a = torch.from_numpy(BASES[k].astype(np.float32)).reshape(1, k, k) @ a
    return a.reshape(x.shape) / torch.tensor(n).sqrt()


def random_hadamard(n):
    torch.manual_seed(1234)
    d = torch.randint(0, 2, (n,)).to(torch.float32) * 2 - 1
    return transform(torch.diag(d))


def rot_hadamard(size, block):
    n = size if block == -1 else block
    return torch.block_diag(*([random_hadamard(n)] * (size // n)))


def rot_shifted(size, block):
    b = 32 if block == -1 else block
    B = torch.block_diag(*([random_hadamard(b)] * (size // b)))
    eye = torch.eye(size, dtype=torch.float32)
    P = torch.cat((eye[:, -16:], eye[:, :-16]), dim=1)
    return B @ P @ B


for n in (8, 32, 64, 48, 40, 56, 60):
    put(f"random_hadamard.{n}", random_hadamard(n))
put("rotation.hadamard.64.b32", rot_hadamard(64, 32))
put("rotation.shifted.64.b-1", rot_shifted(64, -1))
put("rotation.shifted.32.b16", rot_shifted(32, 16))

# ---------------------------------------------------------------- smoothing
g = torch.Generator().manual_seed(7)


def randn(*shape, outlier_cols=()):
    t = torch.randn(*shape, generator=g, dtype=torch.float32)
    for c in outlier_cols:
        t[..., c] *= 20.0
    return t


ALPHA, SCALE_MIN = 0.9, 1e-5


def stats(xs, shifted):
    """Per-call running min/max, then max |x - shift| with the shift after this call."""
    mn = mx = am = None
    for x in xs:
        cmn, cmx = x.amin(0), x.amax(0)
        mn = cmn if mn is None else torch.minimum(mn, cmn)
        mx = cmx if mx is None else torch.maximum(mx, cmx)
        v = (x - (mx + mn) / 2).abs().amax(0) if shifted else x.abs().amax(0)
        am = v if am is None else torch.maximum(am, v)
    return mn, mx, am


def scales(a, w, alpha, smin):
    return torch.clamp_min(a.pow(alpha) / torch.clamp_min(w, 1e-5).pow(1 - alpha), smin)


# norm-linear (symmetric and asymmetric); C = 16, targets [8, 16] and [12, 16]
C = 16
xs = [randn(5, C, outlier_cols=(3,)) + 0.5, randn(7, C, outlier_cols=(3, 11))]
gamma, beta = 1 + 0.1 * randn(C), 0.1 * randn(C)
w1, w2 = randn(8, C) * 0.2, randn(12, C) * 0.2
b1, b2 = 0.1 * randn(8), 0.1 * randn(12)
for i, x in enumerate(xs):
    put(f"nl.x.{i}", x)
put("nl.gamma", gamma), put("nl.beta", beta), put("nl.w1", w1), put("nl.w2", w2), put("nl.b1", b1), put("nl.b2", b2)
wstat = torch.maximum(w1.abs().amax(0), w2.abs().amax(0))
_, _, a = stats(xs, False)
s = scales(a, wstat, ALPHA, SCALE_MIN)
put("nl.sym.absmax", a), put("nl.sym.s", s)
put("nl.sym.gamma", gamma / s), put("nl.sym.w1", w1 * s), put("nl.sym.w2", w2 * s)
put("nl.smooth_quant.s", scales(a, wstat, 0.5, 1e-5))
mn, mx, a = stats(xs, True)
shift = (mx + mn) / 2
s = scales(a, wstat, ALPHA, SCALE_MIN)
put("nl.asym.min", mn), put("nl.asym.max", mx), put("nl.asym.absmax", a), put("nl.asym.shift", shift), put("nl.asym.s", s)
put("nl.asym.gamma", gamma / s), put("nl.asym.beta", (beta - shift) / s)
put("nl.asym.w1", w1 * s), put("nl.asym.w2", w2 * s)
put("nl.asym.b1", b1 + w1 @ shift), put("nl.asym.b2", b2 + w2 @ shift)

# up-down: up [16, 8] with bias, down [6, 16]; signed column max of down (quirk)
up, upb, down = randn(C, 8) * 0.3, 0.1 * randn(C), randn(6, C) * 0.3
xd = [randn(9, C, outlier_cols=(5,)), randn(4, C)]
for i, x in enumerate(xd):
    put(f"ud.x.{i}", x)
put("ud.up", up), put("ud.up_b", upb), put("ud.down", down)
_, _, a = stats(xd, False)
s = scales(a, down.amax(0), ALPHA, SCALE_MIN)
put("ud.s", s), put("ud.up.out", up / s[:, None]), put("ud.up_b.out", upb / s), put("ud.down.out", down * s)
put("ud.s_abs", scales(a, down.abs().amax(0), ALPHA, SCALE_MIN))

# ov with GQA: nq 4, nkv 2, d 4; v [8, 12] with bias, o [12, 16]
NQ, NKV, D = 4, 2, 4
v, vb, o = randn(NKV * D, 12) * 0.3, 0.1 * randn(NKV * D), randn(12, NQ * D) * 0.3
xo = [randn(6, NQ * D, outlier_cols=(2, 9)), randn(3, NQ * D)]
for i, x in enumerate(xo):
    put(f"ov.x.{i}", x)
put("ov.v", v), put("ov.v_b", vb), put("ov.o", o)
_, _, a = stats(xo, False)
s = scales(a, o.amax(0), ALPHA, SCALE_MIN)
v_s = s.reshape(NKV, (NQ // NKV) * D).reshape(NKV, NQ // NKV, D).mean(1).reshape(-1)
o_s = v_s.reshape(NKV, 1, D).expand(NKV, NQ // NKV, D).reshape(-1)
put("ov.s", s), put("ov.v_s", v_s)
put("ov.v.out", v / v_s[:, None]), put("ov.v_b.out", vb / v_s), put("ov.o.out", o * o_s)

# ---------------------------------------------------------------- QuaRot
R, Ruv = rot_hadamard(64, 32), rot_shifted(32, 16)
wq, wo, wob, emb = randn(24, 64), randn(64, 40), randn(64), randn(10, 64)
wv, wov = randn(2 * 32, 16), randn(8, 4 * 32)
put("rot.wq", wq), put("rot.wo", wo), put("rot.wo_b", wob), put("rot.emb", emb), put("rot.wv", wv), put("rot.wov", wov)
put("rot.wq.out", wq @ R), put("rot.wo.out", R.T @ wo), put("rot.wo_b.out", R.T @ wob), put("rot.emb.out", emb @ R)
put("rot.wv.out", torch.block_diag(Ruv, Ruv).T @ wv), put("rot.wov.out", wov @ torch.block_diag(*([Ruv] * 4)))
ln_g, ln_b = 1 + 0.1 * randn(64), 0.1 * randn(64)
f1, f1b, f2, f2b = randn(24, 64), randn(24), randn(16, 64), randn(16)
put("fuse.gamma", ln_g), put("fuse.beta", ln_b), put("fuse.w1", f1), put("fuse.b1", f1b), put("fuse.w2", f2), put("fuse.b2", f2b)
put("fuse.w1.out", f1 * ln_g), put("fuse.b1.out", f1b + f1 @ ln_b), put("fuse.w2.out", f2 * ln_g), put("fuse.b2.out", f2b + f2 @ ln_b)

# phases: a dense layer (hidden 64, 2 heads / 1 KV head of 32, intermediate 16), pre-run, post-run
L = {"q": randn(2 * 32, 64), "k": randn(32, 64), "v": randn(32, 64), "o": randn(64, 2 * 32),
     "gate": randn(16, 64), "up": randn(16, 64), "down": randn(64, 16), "in_norm": 1 + 0.1 * randn(64),
     "post_norm": 1 + 0.1 * randn(64), "fc2": randn(64, 8), "fc2_b": randn(64), "ds_fc2": randn(64, 8),
     "ds_fc2_b": randn(64), "embed": randn(4, 64), "norm": 1 + 0.1 * randn(64), "lm_head": randn(4, 64)}
for k, v in L.items():
    put(f"layer.{k}", v)
Ruv32 = rot_shifted(32, 16)
q, k_, v = L["q"] * L["in_norm"], L["k"] * L["in_norm"], L["v"] * L["in_norm"]
gate, up = L["gate"] * L["post_norm"], L["up"] * L["post_norm"]
put("layer.q.out", q @ R), put("layer.k.out", k_ @ R), put("layer.gate.out", gate @ R), put("layer.up.out", up @ R)
put("layer.v.out", Ruv32.T @ (v @ R))
put("layer.o.out", (R.T @ L["o"]) @ torch.block_diag(Ruv32, Ruv32))
put("layer.down.out", R.T @ L["down"])
put("layer.fc2.out", R.T @ L["fc2"]), put("layer.fc2_b.out", R.T @ L["fc2_b"])
put("layer.ds_fc2.out", R.T @ L["ds_fc2"]), put("layer.ds_fc2_b.out", R.T @ L["ds_fc2_b"])
put("layer.embed.out", L["embed"] @ R), put("layer.lm_head.out", (L["lm_head"] * L["norm"]) @ R)

write_file(os.path.join(HERE, "outlier.safetensors"), out)
print(f"wrote {len(out)} tensors to {os.path.join(HERE, 'outlier.safetensors')}")
