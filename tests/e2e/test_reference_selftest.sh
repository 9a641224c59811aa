#!/usr/bin/env bash
# The numpy reference (tests/reference/) against hand-computed values: quantization math,
# include/exclude matching, bf16 conversion, safetensors reading and writing. Skipped (with a
# note, exit 0) when $VS_PYTHON lacks numpy or PyYAML; the golden exports keep the C tests
# independent of Python.
set -euo pipefail
if [ -z "${VS_PYTHON:-}" ] || ! "$VS_PYTHON" -c 'import numpy, yaml' 2>/dev/null; then
  echo "note: ${VS_PYTHON:-python3} without numpy/PyYAML: reference self-test skipped"
  exit 0
fi
"$VS_PYTHON" tests/reference/selftest.py
# the Qwen2.5-VL PyTorch reference: its window index against a brute force, both checkpoint
# layouts alike, window vs full attention, Conv3d, MRoPE sections, get_rope_index
if "$VS_PYTHON" -c 'import torch' 2>/dev/null; then
  "$VS_PYTHON" tests/reference/qwen2_5_vl_torch.py selftest
  # the InternVL3.5 one: pixel shuffle against its index formula, attention against per-head loops,
  # the tiling grids and resize, position-embedding interpolation, the prompt, and the original
  # layout against transformers' native one
  "$VS_PYTHON" tests/reference/internvl_torch.py selftest
else
  echo "note: ${VS_PYTHON} without torch: Qwen2.5-VL and InternVL reference self-tests skipped"
fi
