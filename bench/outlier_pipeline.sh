#!/usr/bin/env bash
# In-pipeline cost of quarot and iter_smooth per text layer at Qwen3-VL-2B text shapes (hidden
# 2048, intermediate 6144, 16 query / 8 KV heads of 128, vocab 151936; one vision block, two text
# layers), next to one calibration forward of that layer over 8 images (the two shared COCO
# calibration images and six generated ones), appended to bench/results/outlier.txt.
#   bench/outlier_pipeline.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vlmslim-bench-outlier.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$build/vlmslim-mkmodel" --family qwen3_vl --preset bench --dtype bf16 --heads 16 --kv-heads 8 --layers 2 \
  --vision-depth 1 --deepstack 0 --out "$tmp/m" >/dev/null
tests/golden/calib/make_image_inputs.sh "$build" "$tmp/m" \
  calibImages/COCO_train2014_000000577589.jpg,calibImages/COCO_train2014_000000577592.jpg,gen:448x336,gen:336x448,gen:512x384,gen:384x384,gen:640x320,gen:320x480 \
  "$tmp/in"
{ echo; echo "$(date -u +%Y-%m-%d) bench/outlier_pipeline.sh on $(nproc) cores"; } >> bench/results/outlier.txt
"$build/bench/bench_outlier_pipeline" "$tmp/m" "$tmp/in" bench/results/outlier.txt
