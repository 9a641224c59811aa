#!/usr/bin/env bash
# Regenerates the `vlmslim forward` goldens with the PyTorch reference: model-input files
# (<case>/inputs/sample_<i>.safetensors) and the reference dumps (<case>/ref/):
#   tests/golden/forward_cmd/make_golden.sh BUILD_DIR
# Needs /usr/bin/python3 with numpy and torch (Debian: python3-numpy python3-torch).
set -euo pipefail
cd "$(dirname "$0")/../../.."
source tests/blas_core.sh  # the OpenBLAS kernels the tests pin
build=${1:?usage: make_golden.sh BUILD_DIR}
py=${VS_PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
while read -r name grids mkargs; do
  [ -z "${ONLY:-}" ] || [ "$ONLY" = "$name" ] || continue
  [ -n "$name" ] || continue
  g=tests/golden/forward_cmd/$name
  rm -rf "$g"; mkdir -p "$g"
  "$build/vlmslim-mkmodel" $mkargs --out "$tmp/$name"
  ref=tests/reference/qwen3_vl_torch.py shape=(--grids "$grids")
  case "$mkargs" in
    *qwen2_5_vl*) ref=tests/reference/qwen2_5_vl_torch.py ;;
    *internvl*) ref=tests/reference/internvl_torch.py shape=(--tiles "$grids") ;; # the grids field: one image's tiles
  esac
  "$py" "$ref" inputs "$tmp/$name" "$g/inputs" "${shape[@]}" --seed 7
  "$py" "$ref" dump "$tmp/$name" "$g/inputs" "$g/ref"
done < tests/golden/forward_cmd/cases.txt
