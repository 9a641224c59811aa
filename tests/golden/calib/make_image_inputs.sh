#!/usr/bin/env bash
# Model-input files for a list of images (paths under the shared data directory, or gen:WxH):
#   make_image_inputs.sh BUILD_DIR MODEL_DIR A,B,... OUT_DIR
# writes OUT_DIR/sample_<i>.safetensors with vs-make-inputs (seed i + 1).
set -euo pipefail
build=$1 model=$2 list=$3 out=$4
shared=${VS_SHARED_DATA:-../shared/data}
mkdir -p "$out"
i=0
IFS=',' read -ra items <<< "$list"
for it in "${items[@]}"; do
  case "$it" in gen:*) src=$it ;; *) src=$shared/$it
    [ -f "$src" ] || { echo "FAIL: $src is missing (shared data: see ../shared/data/README.md)"; exit 1; } ;; esac
  "$build/tests/tools/vs-make-inputs" "$model" "$out/sample_$i.safetensors" "$src" $((i + 1)) >/dev/null
  i=$((i + 1))
done
