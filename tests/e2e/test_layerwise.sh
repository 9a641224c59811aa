#!/usr/bin/env bash
# The layer-wise driver on the forward-pass reference cases: outputs against the PyTorch
# goldens, and bit-identical with every state spilled to disk or with observe-only passes.
set -euo pipefail
: "${VLMSLIM_MKMODEL:?}" "${VS_BUILD_DIR:?}" "${VS_TEST_TMP:?}"
mkdir -p "$VS_TEST_TMP"
tmp=$(mktemp -d "$VS_TEST_TMP/layerwise.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
while read -r name grids mkargs; do
  [ -n "$name" ] || continue
  "$VLMSLIM_MKMODEL" $mkargs --out "$tmp/$name"
  echo "== $name"
  TMPDIR="$tmp" "$VS_BUILD_DIR/tests/tools/vs-check-layerwise" "$tmp/$name" "tests/golden/forward/$name.safetensors"
done < tests/golden/forward/cases.txt
