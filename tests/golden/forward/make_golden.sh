#!/usr/bin/env bash
# Regenerates the forward-pass golden outputs with the PyTorch reference:
#   tests/golden/forward/make_golden.sh BUILD_DIR
# Needs /usr/bin/python3 with numpy and torch (Debian: python3-numpy python3-torch).
set -euo pipefail
cd "$(dirname "$0")/../../.."
source tests/blas_core.sh  # the OpenBLAS kernels the tests pin
build=${1:?usage: make_golden.sh BUILD_DIR}
py=${VS_PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
while read -r name grids mkargs; do
  [ -n "$name" ] || continue
  "$build/vlmslim-mkmodel" $mkargs --out "$tmp/$name"
  "$py" tests/reference/qwen3_vl_torch.py model "$tmp/$name" "tests/golden/forward/$name.safetensors" --grids "$grids"
done < tests/golden/forward/cases.txt
