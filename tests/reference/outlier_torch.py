"""Outlier suppression for the calibrated-pipeline reference (tests/reference/calib_torch.py):
msModelSlim's offline QuaRot and iter_smooth / smooth_quant on a Qwen3-VL(-MoE), Qwen2.5-VL or
InternVL3.5 checkpoint held as a dict of float32 torch tensors (qwen3_vl_torch.load /
qwen2_5_vl_torch.load / internvl_torch.load),
written from msmodelslim_vlm_spec.md §4.4-4.5, §5.2-5.4 and §7.4 (the math as in
tests/golden/outlier/make_golden.py) and, for Qwen2.5-VL, docs/qwen2_5_vl.md §5.1, not from the
C code. Module names are the export's (for Qwen2.5-VL the published visual.* / model.layers.*).

  - rotations: randomHadamard(n) = diag(d)·T_n with d from torch.manual_seed(1234) +
    torch.randint(0, 2, (n,)) and T_n the normalised Sylvester transform (power-of-two orders
    only here); R = HADAMARD(hidden, block_size), R_uv = BLOCK_HADAMARD_SHIFTED(head_dim, ...);
  - QuaRot: pre-run (merger and DeepStack linear_fc2 left, embed_tokens right), per layer (fuse
    input_layernorm into q/k/v, post_attention_layernorm into gate/up (MoE: every expert's gate,
    every up, the router); left R o_proj and down; right R q/k/v, gate/up (router); left R_uv
    v_proj, right R_uv o_proj), post-run (final norm into lm_head, lm_head right); Qwen2.5-VL:
    the pre-run's left R on visual.merger.mlp.2 (its bias too), the same dense per-layer maps
    (v_proj's bias rotated with it); InternVL3.5 (msModelSlim's internvl3_5 adapter): the pre-run's
    left R on the projector's last Linear mlp1.3 (its bias too) and right R on
    language_model.model.embed_tokens, the dense per-layer maps under language_model.model.layers.*,
    the post-run's final norm fused into language_model.lm_head;
  - smoothing: statistics max |x[:, c]| of each subgraph's targets[0] input over every token of
    every sample; s = clamp_min(a^alpha / clamp_min(w, 1e-5)^(1 - alpha), scale_min) with w the
    column max of |W| over the targets (norm-linear) or the signed column max of the target
    (ov, up-down); folds in priority order up-down, ov, linear-linear, norm-linear; ov scales
    averaged over the query heads of a KV group. Qwen2.5-VL's subgraphs: norm-linear
    input_layernorm -> k, q, v; norm-linear post_attention_layernorm -> gate, up; up-down (no ov).
    InternVL3.5's: the dense Qwen3 ones (norm-linear input_layernorm -> q, k, v; norm-linear
    post_attention_layernorm -> gate, up; ov v_proj -> o_proj; up-down), none in the vision tower.
    symmetric: false (norm-linear): per call the running min/max, then max |x - (max + min)/2|
    with the shift as it stands after that call; zero biases created on the norm and the targets,
    target b += W·shift (unscaled W), norm beta = (beta - shift) / s.
Every edited tensor is rounded to its checkpoint dtype after each operation (msModelSlim casts
back after each one); float32 checkpoints are unchanged by that."""
import re

import torch

TEXT = "model.language_model."
Q25 = "qwen2_5_vl"
IVL = "internvl_chat"
EXPERT = re.compile(r"^(.*\.mlp\.experts\.)(\d+)\.(gate_proj|up_proj|down_proj)$")


class OutlierError(Exception):
    pass


# ---------------------------------------------------------------- rotations

def sylvester(x):
    """The spec's fast transform of each row of x (power-of-two length), / sqrt(n)."""
    n = x.shape[-1]
    a = x.clone().reshape(-1, n, 1)
    while a.shape[1] > 1:
        a = a.reshape(a.shape[0], a.shape[1] // 2, 2, a.shape[2])
        a = torch.cat([a[:, :, 0, :] + a[:, :, 1, :], a[:, :, 0, :] - a[:, :, 1, :]], dim=2)
    return a.reshape(x.shape) / torch.tensor(n, dtype=torch.float32).sqrt()


def random_hadamard(n):
    if n <= 0 or n & (n - 1):
        raise OutlierError("Hadamard order %d: this reference builds power-of-two orders only" % n)
    torch.manual_seed(1234)
    d = torch.randint(0, 2, (n,)).to(torch.float32) * 2 - 1
    return sylvester(torch.diag(d))


def rot_hadamard(size, block):
    n = size if block == -1 else block
    if size % n:
        raise OutlierError("HADAMARD: block_size %d does not divide %d" % (n, size))
    return torch.block_diag(*([random_hadamard(n)] * (size // n)))


def rot_shifted(size, block):
    b = 32 if block == -1 else block
    if size % b:
        raise OutlierError("BLOCK_HADAMARD_SHIFTED: block_size %d does not divide %d" % (b, size))
    B = torch.block_diag(*([random_hadamard(b)] * (size // b)))
    eye = torch.eye(size, dtype=torch.float32)
    P = torch.cat((eye[:, -16:], eye[:, :-16]), dim=1) if size > 16 else eye
    return B @ P @ B


def expand(R, n):
    """R block-diagonalised to order n (n a multiple of its order)."""
    return R if R.shape[0] == n else torch.block_diag(*([R] * (n // R.shape[0])))


# ---------------------------------------------------------------- weights by module name

class Renamed:
    """W's tensors under other names: key(name) is W's key for a name (Qwen2.5-VL: the forward
    holds the transformers >= 4.52 layout, the export and its maps use the published one)."""

    def __init__(self, W, key):
        self.d, self.key = W, key

    def __getitem__(self, name):
        return self.d[self.key(name)]

    def __setitem__(self, name, t):
        self.d[self.key(name)] = t

    def __contains__(self, name):
        return self.key(name) in self.d

    def get(self, name, default=None):
        return self.d.get(self.key(name), default)


def published_to_forward(name):
    """Qwen2.5-VL: a published name (visual.*, model.*, lm_head.*) -> the forward's key."""
    if name.startswith("visual."):
        return "model." + name
    if name.startswith("model.") and not name.startswith(("model.visual.", "model.language_model.")):
        return "model.language_model." + name[len("model."):]
    return name


class Weights:
    """Linear weights [out, in] and biases by module name over W (fused MoE experts included),
    each write rounded to the checkpoint dtype of the tensor it lands in. W may be a Renamed."""

    def __init__(self, W, dtypes):
        self.W, self.dtypes = W, dtypes

    def _round(self, name, t):
        dt = self.dtypes.get(name, "F32")
        if dt == "BF16":
            return t.to(torch.bfloat16).to(torch.float32)
        if dt == "F16":
            return t.to(torch.float16).to(torch.float32)
        return t

    def get(self, module):
        m = EXPERT.match(module)
        if m:
            p, e, proj = m.group(1), int(m.group(2)), m.group(3)
            gu, dn = self.W[p + "gate_up_proj"], self.W[p + "down_proj"]
            i = dn.shape[1]
            return {"gate_proj": gu[e][:, :i].T, "up_proj": gu[e][:, i:].T, "down_proj": dn[e].T}[proj].clone()
        return self.W[module + ".weight"].clone()

    def set(self, module, w):
        m = EXPERT.match(module)
        if m:
            p, e, proj = m.group(1), int(m.group(2)), m.group(3)
            gu, dn = self.W[p + "gate_up_proj"], self.W[p + "down_proj"]
            i = dn.shape[1]
            if proj == "gate_proj":
                gu[e][:, :i] = self._round(p + "gate_up_proj", w.T)
            elif proj == "up_proj":
                gu[e][:, i:] = self._round(p + "gate_up_proj", w.T)
            else:
                dn[e] = self._round(p + "down_proj", w.T)
            return
        self.W[module + ".weight"] = self._round(module + ".weight", w)

    def bias(self, module):
        return self.W.get(module + ".bias")

    def set_bias(self, module, b):
        self.W[module + ".bias"] = self._round(module + ".bias", b)

    def vec(self, name):
        return self.W[name].clone()

    def set_vec(self, name, v):
        self.W[name] = self._round(name, v)


# ---------------------------------------------------------------- the maps (spec §4.4, §4.5)

def text_prefix(cfg):
    return {Q25: "model.", IVL: "language_model.model."}.get(cfg.get("model_type"), TEXT)


def head_module(cfg):
    return "language_model.lm_head" if cfg.get("model_type") == IVL else "lm_head"


def text_config(cfg):
    """The text model's config: text_config, InternVL's llm_config, or {} (flat configs)."""
    tc = cfg.get("llm_config" if cfg.get("model_type") == IVL else "text_config")
    return tc if isinstance(tc, dict) else {}


def text_fields(cfg):
    """hidden_size, head counts and head_dim: text_config's (InternVL: llm_config's), or
    (published Qwen2.5-VL configs are flat) the top level's."""
    tc = text_config(cfg)
    g = lambda k, d=None: tc.get(k, cfg.get(k, d))  # noqa: E731
    H, nq = g("hidden_size"), g("num_attention_heads")
    nkv = g("num_key_value_heads", nq)
    return {"hidden_size": H, "num_attention_heads": nq, "num_key_value_heads": nkv,
            "head_dim": g("head_dim", H // nq)}


def is_moe_layer(tc, i):
    return (tc.get("num_experts", 0) > 0 and i not in (tc.get("mlp_only_layers") or [])
            and (i + 1) % tc.get("decoder_sparse_step", 1) == 0)


def mlp_names(cfg, moe_family, i):
    """(gate/up-side Linears in fusion order, down-side Linears) of layer i."""
    tc = text_config(cfg)
    p = "%slayers.%d.mlp." % (text_prefix(cfg), i)
    if moe_family and is_moe_layer(tc, i):
        e_n = tc["num_experts"]
        ins = ["%sexperts.%d.gate_proj" % (p, e) for e in range(e_n)]
        ins += ["%sexperts.%d.up_proj" % (p, e) for e in range(e_n)]
        return ins + [p + "gate"], ["%sexperts.%d.down_proj" % (p, e) for e in range(e_n)]
    return [p + "gate_proj", p + "up_proj"], [p + "down_proj"]


def subgraphs(cfg, moe_family, i):
    """Smoothing subgraphs of text layer i: (kind, source, targets)."""
    p = "%slayers.%d." % (text_prefix(cfg), i)
    a = p + "self_attn."
    if cfg.get("model_type") == Q25:  # msModelSlim's Qwen2.5-VL adapter: k first, no ov
        return [("norm-linear", p + "input_layernorm", [a + "k_proj", a + "q_proj", a + "v_proj"]),
                ("norm-linear", p + "post_attention_layernorm", [p + "mlp.gate_proj", p + "mlp.up_proj"]),
                ("up-down", p + "mlp.up_proj", [p + "mlp.down_proj"])]
    if cfg.get("model_type") == IVL:  # msModelSlim's InternVL3.5 adapter, in its order
        return [("norm-linear", p + "input_layernorm", [a + "q_proj", a + "k_proj", a + "v_proj"]),
                ("norm-linear", p + "post_attention_layernorm", [p + "mlp.gate_proj", p + "mlp.up_proj"]),
                ("ov", a + "v_proj", [a + "o_proj"]),
                ("up-down", p + "mlp.up_proj", [p + "mlp.down_proj"])]
    tc = cfg["text_config"]
    out = [("norm-linear", p + "input_layernorm", [a + "q_proj", a + "k_proj", a + "v_proj"]),
           ("ov", a + "v_proj", [a + "o_proj"])]
    # the MoE adapter's condition, literally: a dense layer in mlp_only_layers gets none
    mlp = (not moe_family) or (i not in (tc.get("mlp_only_layers") or [])
                               and (i + 1) % tc.get("decoder_sparse_step", 1) != 0)
    if mlp:
        out += [("norm-linear", p + "post_attention_layernorm", [p + "mlp.gate_proj", p + "mlp.up_proj"]),
                ("up-down", p + "mlp.up_proj", [p + "mlp.down_proj"])]
    return out


def vision_subgraphs(cfg):
    """vlmslim's vision-block subgraphs (vision_subgraphs: True, docs/vision_smoothing.md), per
    block: norm-linear norm1 -> attn.qkv; ov from the value rows [2 hv, 3 hv) of the fused
    attn.qkv -> attn.proj over the vision heads (multi-head: no group mean); norm-linear
    norm2 -> linear_fc1 (Qwen3-VL) or -> gate_proj, up_proj and up-down up_proj -> down_proj
    (Qwen2.5-VL). The ov entry carries its geometry as a fourth field."""
    if cfg.get("model_type") == IVL:  # msModelSlim's InternVL3.5 adapter names none in InternViT
        return []
    vc, q25 = cfg["vision_config"], cfg.get("model_type") == Q25
    hv, heads = vc["hidden_size"], vc["num_heads"]
    out = []
    for b in range(vc["depth"]):
        p = "%sblocks.%d." % ("visual." if q25 else "model.visual.", b)
        out.append(("norm-linear", p + "norm1", [p + "attn.qkv"]))
        out.append(("ov", p + "attn.qkv", [p + "attn.proj"],
                    {"rows": 2 * hv, "heads": heads, "kv_heads": heads, "head_dim": hv // heads}))
        if q25:
            out += [("norm-linear", p + "norm2", [p + "mlp.gate_proj", p + "mlp.up_proj"]),
                    ("up-down", p + "mlp.up_proj", [p + "mlp.down_proj"])]
        else:
            out.append(("norm-linear", p + "norm2", [p + "mlp.linear_fc1"]))
    return out


PRIORITY = {"up-down": 1, "ov": 2, "linear-linear": 3, "norm-linear": 4}


# ---------------------------------------------------------------- QuaRot

class QuaRot:
    def __init__(self, cfg, block_size, moe_family):
        tc, vc, f = text_config(cfg), cfg["vision_config"], text_fields(cfg)
        if cfg.get("tie_word_embeddings", tc.get("tie_word_embeddings", False)):
            raise OutlierError("quarot: tied word embeddings are refused")
        self.cfg, self.moe, self.text, self.head = cfg, moe_family, text_prefix(cfg), head_module(cfg) + ".weight"
        self.R = rot_hadamard(f["hidden_size"], block_size)
        self.Ruv = rot_shifted(f["head_dim"], block_size)
        self.n_deep = len(vc.get("deepstack_visual_indexes") or [])

    def left(self, ws, module, R):
        w = ws.get(module)
        Rn = expand(R, w.shape[0])
        ws.set(module, Rn.T @ w)
        b = ws.bias(module)
        if b is not None:
            ws.set_bias(module, Rn.T @ b)

    def right(self, ws, module, R):
        w = ws.get(module)
        ws.set(module, w @ expand(R, w.shape[1]))

    def fuse(self, ws, norm, linears):
        g = ws.vec(norm + ".weight")
        for m in linears:
            ws.set(m, ws.get(m) * g)
        ws.set_vec(norm + ".weight", torch.ones_like(g))

    def pre_run(self, ws):
        if self.cfg.get("model_type") == Q25:
            lefts = ["visual.merger.mlp.2"]
        elif self.cfg.get("model_type") == IVL:  # the projector's last Linear (mlp1: LayerNorm, Linear, GELU, Linear)
            lefts = ["mlp1.3"]
        else:
            v = "model.visual."
            lefts = [v + "merger.linear_fc2"] + ["%sdeepstack_merger_list.%d.linear_fc2" % (v, k)
                                                 for k in range(self.n_deep)]
        for m in lefts:
            self.left(ws, m, self.R)
        w = ws.vec(self.text + "embed_tokens.weight")
        ws.set_vec(self.text + "embed_tokens.weight", w @ expand(self.R, w.shape[1]))

    def layer(self, ws, i):
        p = "%slayers.%d." % (self.text, i)
        a = p + "self_attn."
        ins, outs = mlp_names(self.cfg, self.moe, i)
        self.fuse(ws, p + "input_layernorm", [a + "q_proj", a + "k_proj", a + "v_proj"])
        self.fuse(ws, p + "post_attention_layernorm", ins)
        for m in [a + "o_proj"] + outs:
            self.left(ws, m, self.R)
        for m in [a + "q_proj", a + "k_proj", a + "v_proj"] + ins:
            self.right(ws, m, self.R)
        self.left(ws, a + "v_proj", self.Ruv)
        self.right(ws, a + "o_proj", self.Ruv)

    def post_run(self, ws):
        g = ws.vec(self.text + "norm.weight")
        ws.set_vec(self.head, ws.vec(self.head) * g)
        ws.set_vec(self.text + "norm.weight", torch.ones_like(g))
        head = ws.vec(self.head)
        ws.set_vec(self.head, head @ expand(self.R, head.shape[1]))

    def dense(self):
        return self.R.contiguous()


# ---------------------------------------------------------------- smoothing

def smooth_scales(a, w, alpha, scale_min):
    return torch.clamp_min(a.pow(alpha) / torch.clamp_min(w, 1e-5).pow(1 - alpha), scale_min)


def ensure_bias(ws, module, dtype_of):
    """A zero bias where the module has none (asymmetric smoothing: msModelSlim creates them)."""
    if module + ".bias" not in ws.W:
        ws.dtypes[module + ".bias"] = dtype_of(module)
        ws.W[module + ".bias"] = torch.zeros(ws.W[module + ".weight"].shape[0])


def fold(ws, cfg, kind, source, targets, a, alpha, scale_min, dtype_of, shift=None, geom=None):
    """One subgraph with activation statistic a (max |x[:, c]| of targets[0]'s input, or
    max |x[:, c] - shift_then[c]| in the asymmetric mode); shift (asymmetric norm-linear): the
    final (max + min) / 2, moved into the biases; geom (a vision ov): its head counts and the
    first row of the value part of the fused source. A norm with a bias (LayerNorm) has it
    divided by the scales too."""
    tc = text_fields(cfg)
    tw = [ws.get(t) for t in targets]
    if kind == "norm-linear":
        wstat = torch.stack([w.abs().amax(0) for w in tw]).amax(0)
    else:  # signed column max of the target (msModelSlim's quirk)
        wstat = tw[0].amax(0)
    s = smooth_scales(a, wstat, alpha, scale_min)
    dt = dtype_of(targets[0])  # msModelSlim casts the scales to the weight dtype
    if dt == "BF16":
        s = s.to(torch.bfloat16).to(torch.float32)
    elif dt == "F16":
        s = s.to(torch.float16).to(torch.float32)
    if kind == "norm-linear":
        if shift is not None:  # b += W·shift with the unscaled W; beta = (beta - shift) / s
            for t, w in zip(targets, tw):
                ws.set_bias(t, ws.bias(t) + w @ shift)
            ws.set_vec(source + ".bias", (ws.vec(source + ".bias") - shift) / s)
        elif source + ".bias" in ws.W:
            ws.set_vec(source + ".bias", ws.vec(source + ".bias") / s)
        for t, w in zip(targets, tw):
            ws.set(t, w * s)
        ws.set_vec(source + ".weight", ws.vec(source + ".weight") / s)
    elif kind in ("up-down", "linear-linear"):
        ws.set(targets[0], tw[0] * s)
        ws.set(source, ws.get(source) / s[:, None])
        b = ws.bias(source)
        if b is not None:
            ws.set_bias(source, b / s)
    elif kind == "ov":
        if geom is None:
            nq, nkv, d, r0 = tc["num_attention_heads"], tc["num_key_value_heads"], tc["head_dim"], 0
        else:
            nq, nkv, d, r0 = geom["heads"], geom["kv_heads"], geom["head_dim"], geom["rows"]
        v_s = s.reshape(nkv, nq // nkv, d).mean(1).reshape(-1)
        o_s = v_s.reshape(nkv, 1, d).expand(nkv, nq // nkv, d).reshape(-1)
        rows = slice(r0, r0 + nkv * d)
        ws.set(targets[0], tw[0] * o_s)
        w = ws.get(source)
        w[rows] = w[rows] / v_s[:, None]
        ws.set(source, w)
        b = ws.bias(source)
        if b is not None:
            b = b.clone()
            b[rows] = b[rows] / v_s
            ws.set_bias(source, b)
    else:
        raise OutlierError("%s: unknown subgraph kind %s" % (source, kind))
