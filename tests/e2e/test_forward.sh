#!/usr/bin/env bash
# The Qwen3-VL(-MoE) forward pass (vision tower, every text layer, logits) against PyTorch
# reference outputs: committed goldens always, and a
# fresh reference run when python3 has torch.
set -euo pipefail
: "${VLMSLIM_MKMODEL:?}" "${VS_BUILD_DIR:?}" "${VS_TEST_TMP:?}"
mkdir -p "$VS_TEST_TMP"
tmp=$(mktemp -d "$VS_TEST_TMP/forward.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
check="$VS_BUILD_DIR/tests/tools/vs-check-forward"
live=0
if [ -n "${VS_PYTHON:-}" ] && "$VS_PYTHON" -c 'import torch, numpy' 2>/dev/null; then live=1; fi
while read -r name grids mkargs; do
  [ -n "$name" ] || continue
  golden="tests/golden/forward/$name.safetensors"
  [ -f "$golden" ] || { echo "missing $golden: run tests/golden/forward/make_golden.sh BUILD_DIR"; exit 1; }
  "$VLMSLIM_MKMODEL" $mkargs --out "$tmp/$name"
  echo "== $name (golden)"; "$check" "$tmp/$name" "$golden"
  if [ "$live" = 1 ]; then
    "$VS_PYTHON" tests/reference/qwen3_vl_torch.py model "$tmp/$name" "$tmp/$name.ref.safetensors" --grids "$grids"
    echo "== $name (live PyTorch reference)"; "$check" "$tmp/$name" "$tmp/$name.ref.safetensors"
  fi
done < tests/golden/forward/cases.txt
