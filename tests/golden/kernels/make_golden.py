#!/usr/bin/env python3
"""Golden values for the float32 kernels, computed independently with numpy in float64 from
float32 inputs (written exactly as JSON numbers). Writes cases.json."""
import json, math, os
import numpy as np

rng = np.random.default_rng(42)
def f32(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)
def L(a):
    return np.asarray(a, dtype=np.float64).ravel().tolist()
def L32(a):
    return [float(str(t)) for t in np.asarray(a, dtype=np.float32).ravel()]

def softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)

def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)

def attention(q, k, v, causal, segments):
    s, hq, d = q.shape
    hkv = k.shape[1]
    g = hq // hkv
    out = np.zeros((s, hq, d))
    for h in range(hq):
        sc = q[:, h, :].astype(np.float64) @ k[:, h // g, :].astype(np.float64).T / math.sqrt(d)
        if causal:
            sc[np.triu_indices(s, 1)] = -np.inf
        if segments is not None:
            seg = np.asarray(segments)
            sc[seg[:, None] != seg[None, :]] = -np.inf
        out[:, h, :] = softmax(sc) @ v[:, h // g, :].astype(np.float64)
    return out

cases = {}
x, w, b = f32(5, 33), f32(7, 33), f32(7)
cases["linear"] = {"x": L(x), "w": L(w), "b": L(b), "m": 5, "n": 7, "k": 33,
                   "y": L(x.astype(np.float64) @ w.astype(np.float64).T + b)}
x, g = f32(3, 64, scale=3.0), f32(64)
x64 = x.astype(np.float64)
cases["rmsnorm"] = {"x": L(x), "g": L(g), "eps": 1e-6, "rows": 3, "n": 64,
                    "y": L(x64 / np.sqrt((x64 ** 2).mean(-1, keepdims=True) + 1e-6) * g)}
bt = f32(64)
mu, var = x64.mean(-1, keepdims=True), x64.var(-1, keepdims=True)
cases["layernorm"] = {"x": L(x), "g": L(g), "b": L(bt), "eps": 1e-6, "rows": 3, "n": 64,
                      "y": L((x64 - mu) / np.sqrt(var + 1e-6) * g + bt)}
a = np.concatenate([f32(90, scale=3.0), np.array([-30, -8, -1e-3, 0, 1e-3, 8, 30, 100, -100, 5.5], np.float32)])
a64 = a.astype(np.float64)
cases["gelu_tanh"] = {"x": L(a), "y": L(0.5 * a64 * (1 + np.tanh(math.sqrt(2 / math.pi) * (a64 + 0.044715 * a64 ** 3))))}
cases["gelu_erf"] = {"x": L(a), "y": L([0.5 * t * (1 + math.erf(t / math.sqrt(2))) for t in a64])}
up = f32(100)
cases["silu_mul"] = {"gate": L(a), "up": L(up), "y": L(a64 / (1 + np.exp(-a64)) * up)}
sm = f32(4, 37, scale=10.0)
sm[0, 3] = 80.0
cases["softmax"] = {"x": L(sm), "rows": 4, "n": 37, "y": L(softmax(sm.astype(np.float64)))}
t, h, d = 5, 3, 8
xr, ang = f32(t, h, d), rng.uniform(-10, 10, (t, d // 2)).astype(np.float32)
cos = np.cos(np.concatenate([ang, ang], -1)).astype(np.float32)
sin = np.sin(np.concatenate([ang, ang], -1)).astype(np.float32)
cases["rope"] = {"x": L(xr), "cos": L(cos), "sin": L(sin), "tokens": t, "heads": h, "d": d,
                 "y": L(xr.astype(np.float64) * cos[:, None, :] + rotate_half(xr.astype(np.float64)) * sin[:, None, :])}
s, hq, hkv, d = 70, 4, 2, 4
q, k, v = f32(s, hq, d), f32(s, hkv, d), f32(s, hkv, d)
segments = [0] * 30 + [1] * 25 + [2] * 15
for name, causal, seg in (("attn_causal", True, None), ("attn_segments", False, segments), ("attn_full", False, None)):
    cases[name] = {"q": L(q), "k": L(k), "v": L(v), "s": s, "hq": hq, "hkv": hkv, "d": d, "causal": causal,
                   "segments": seg, "y": L(attention(q, k, v, causal, seg))}
# Longer sequences: several query blocks per head (the kernel blocks 256 rows of all the query heads
# of a kv head), segments that straddle block edges and one of a single token. Inputs are
# multiples of 1/32 and outputs are rounded to float32 (9 digits) so that the file stays small.
segments = [0] * 100 + [1] * 1 + [2] * 169 + [3] * 30
for name, hq, hkv, d in (("attn_blocks_gqa", 4, 1, 4), ("attn_blocks_mha", 2, 2, 4)):
    s = len(segments)
    q, k, v = (rng.integers(-64, 65, (s, h, d)).astype(np.float32) / 32 for h in (hq, hkv, hkv))
    cases[name] = {"q": L(q), "k": L(k), "v": L(v), "s": s, "hq": hq, "hkv": hkv, "d": d, "segments": segments,
                   "y_causal": L32(attention(q, k, v, True, None)), "y_segments": L32(attention(q, k, v, False, segments)),
                   "y_full": L32(attention(q, k, v, False, None))}
# GEMMs big enough to be split over threads, by columns (wide) and by rows (tall), and a
# one-row product (a matrix-vector product: the logits of the last position), with sizes that
# are not multiples of the split unit; inputs from a formula the test repeats.
def formula(rows, cols, a, b, mod, off, div):
    i, j = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    return (((i * a + j * b) % mod - off) / div).astype(np.float32)
for name, m, n, k in (("linear_wide", 20, 301, 400), ("linear_tall", 301, 20, 400), ("linear_row", 1, 3001, 400)):
    x, w = formula(m, k, 131, 71, 61, 30, 32.0), formula(n, k, 37, 113, 53, 26, 64.0)
    b = ((np.arange(n) % 11 - 5) / 16.0).astype(np.float32)
    cases[name] = {"m": m, "n": n, "k": k, "y": L32(x.astype(np.float64) @ w.astype(np.float64).T + b)}
x, y = f32(200), f32(200)
cases["add"] = {"x": L(x), "y": L(y), "sum": L(x.astype(np.float64) + y)}
# Causal within segments (the samples of a batch through a text layer): several blocks per head,
# segments straddling block edges, one of a single token.
for name, hq, hkv, d in (("attn_causal_segments_gqa", 4, 1, 4), ("attn_causal_segments_mha", 2, 2, 4)):
    s = len(segments)
    q, k, v = (rng.integers(-64, 65, (s, h, d)).astype(np.float32) / 32 for h in (hq, hkv, hkv))
    cases[name] = {"q": L(q), "k": L(k), "v": L(v), "s": s, "hq": hq, "hkv": hkv, "d": d, "segments": segments,
                   "y": L32(attention(q, k, v, True, segments))}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases.json"), "w") as f:
    json.dump(cases, f)
