#!/usr/bin/env python3
"""Self-test of the numpy reference against hand-computed values (run by
tests/e2e/test_reference_selftest.sh): the quantization math, include/exclude matching,
bf16 conversion and the safetensors reader/writer."""

import os
import struct
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ascendv1_reference as ref  # noqa: E402
import safetensors_np as st  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def test_quantize():
    u = 2.0 ** -8
    w = np.array([
        [254 * u, 3 * u, 5 * u, -3 * u, 7 * u, -254 * u, 0, 1 * u],  # scale 2^-7: exact ties
        [0, 0, 0, 0, 0, 0, 0, 0],                                  # zero row: scale 2^-23
        [3 * 2.0 ** -25, -2.0 ** -24, 0, 0, 0, 0, 0, 0],            # tiny row: scale floored
        [0.5, 1.0, -0.25, 0, 0, 0, 0, 0],                           # positive max 1.0
        [-1.0, 0.25, 0, 0, 0, 0, 0, 0],                             # negative extreme
    ], dtype=np.float32)
    q, scale, ties = ref.quantize_weight(w)
    check(scale.dtype == np.float32 and q.dtype == np.int8, "dtypes")
    check(scale[0] == np.float32(2.0 ** -7), "scale row 0: %r" % scale[0])
    # 127, 1.5->2, 2.5->2, -1.5->-2, 3.5->4, -127, 0, 0.5->0 (half to even)
    check(q[0].tolist() == [127, 2, 2, -2, 4, -127, 0, 0], "row 0: %r" % q[0].tolist())
    check(scale[1] == np.float32(2.0 ** -23) and not q[1].any(), "zero row")
    check(scale[2] == np.float32(2.0 ** -23), "tiny row scale")
    check(q[2].tolist()[:2] == [1, 0], "tiny row: 0.75 -> 1, -0.5 -> 0, got %r" % q[2].tolist()[:2])
    check(scale[3] == np.float32(1.0) / np.float32(127), "row 3 scale")
    # 0.5 / fl(1/127) is a near tie (either side is legitimate); 1.0 -> 127; -0.25 -> -31.75 -> -32
    check(q[3].tolist()[1:3] == [127, -32], "row 3: %r" % q[3].tolist()[:3])
    check(q[4].tolist()[:2] == [-127, 32], "row 4: %r" % q[4].tolist()[:2])
    # exact ties are not "near ties"; 63.5 computed through a rounded scale is one
    check(not set(ties.tolist()) & {1, 2, 3, 4, 7}, "exact ties listed: %r" % ties)
    check(3 * 8 + 0 in ties, "near tie of row 3 (0.5 / fl(1/127)) missing: %r" % ties)


def test_patterns():
    m = ref.pattern_matches
    name = "model.language_model.layers.0.mlp.experts.3.up_proj"
    check(m("*experts*", name), "*experts*")
    check(m("*mlp.gate", "model.language_model.layers.0.mlp.gate"), "*mlp.gate")
    check(not m("*mlp.gate", "model.language_model.layers.0.mlp.gate_proj"), "*mlp.gate vs gate_proj")
    check(m("model.language_model.layers.*.mlp.down_proj", "model.language_model.layers.12.mlp.down_proj"), "*.")
    check(m("model.visual.blocks.{0,1}.attn.qkv", "model.visual.blocks.1.attn.qkv"), "braces")
    check(not m("model.visual.blocks.{0,1}.attn.qkv", "model.visual.blocks.10.attn.qkv"), "braces whole string")
    check(m("*.{self_attn,mlp}.*_proj", name), "* crosses dots after braces")
    check(ref.expand_braces("a{b,c{d,e}}f") == ["abf", "acdf", "acef"], "nested braces")
    check(ref.expand_braces("x{a}y") == ["x{a}y"] and m("x{a}y", "x{a}y"), "brace without comma is literal")
    check(m("blocks.[0-1].attn", "blocks.1.attn") and not m("blocks.[!0-1].attn", "blocks.1.attn"), "classes")
    check(m("a[1]", "a[1]"), "exact string first")
    check(not m("Model.*", "model.visual"), "case-sensitive")
    entry = ref.LinearQuantEntry(0, {"qconfig": {"weight": {"dtype": "int8", "scope": "per_channel",
                                                           "symmetric": True, "method": "minmax"}},
                                     "include": ["*"], "exclude": ["*lm*"]})
    check(entry.scheme == "W8A16", "default act is float -> W8A16")
    check(entry.selects("model.visual.blocks.0.attn.qkv") and not entry.selects("lm_head"), "exclude wins")
    none = ref.LinearQuantEntry(0, {"qconfig": {"weight": {"dtype": "int8", "scope": "per_channel",
                                                          "symmetric": True, "method": "minmax"}},
                                    "include": []})
    check(not none.selects("anything"), "include: [] selects nothing")


def test_bf16():
    x = np.array([1.0, 1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, -2.5, np.nan], dtype=np.float32)
    b = st.f32_to_bf16_bits(x)
    check(b[:4].tolist() == [0x3F80, 0x3F80, 0x3F82, 0xC020], "bf16 rounding: %r" % [hex(v) for v in b])
    check(np.isnan(st.bf16_bits_to_f32(b)[4]), "bf16 NaN")
    check(st.bf16_bits_to_f32(np.array([0x3F82], np.uint16))[0] == np.float32(1 + 2.0 ** -6), "bf16 decode")


def test_safetensors():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t.safetensors")
        ts = [("b", st.Tensor.from_f32("BF16", np.arange(6, dtype=np.float32).reshape(2, 3))),
              ("h", st.Tensor.from_f32("F16", [0.5, -1.5, 65504.0])),
              ("q", st.Tensor("I8", (3,), np.array([-128, 0, 127], np.int8)))]
        st.write_file(path, ts)
        with open(path, "rb") as f:
            blob = f.read()
        (hlen,) = struct.unpack("<Q", blob[:8])
        check(hlen % 8 == 0 and len(blob) == 8 + hlen + 12 + 6 + 3, "layout")
        back, meta = st.read_file(path)
        check(meta is None and list(back) == ["b", "h", "q"], "names in offset order")
        check(back["b"].to_f32().tolist() == [[0, 1, 2], [3, 4, 5]] and back["b"].shape == (2, 3), "bf16 values")
        check(back["h"].to_f32().tolist() == [0.5, -1.5, 65504.0], "f16 values")
        check(back["q"].array.tolist() == [-128, 0, 127], "i8 values")
        with open(path, "r+b") as f:
            f.truncate(len(blob) - 1)
        try:
            st.read_file(path)
            check(False, "truncated file accepted")
        except ValueError as e:
            check("bad data_offsets" in str(e), "truncated file message: %s" % e)


for t in (test_quantize, test_patterns, test_bf16, test_safetensors):
    t()
for f in failures:
    print("selftest: FAIL: %s" % f)
print("selftest: %s" % ("%d failure(s)" % len(failures) if failures else "all passed"))
sys.exit(1 if failures else 0)
