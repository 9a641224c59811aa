#!/usr/bin/env bash
# The main job on a built-in default: installs the dependencies, builds vlmslim, generates a
# tiny Qwen3-VL-MoE checkpoint and a synthetic calibration set, and quantizes the checkpoint
# with msModelSlim's verified W8A8 best practice for Qwen3-VL-MoE (lab_practice/qwen3_vl_moe/
# qwen3_vl_moe_w8a8.yaml: QuaRot, iter_smooth, W8A8 static attention and vision, W8A8_DYNAMIC
# experts), then shows what the export holds.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh

out=out/quickstart
model=$out/Qwen3-VL-MoE-tiny
save=$out/Qwen3-VL-MoE-tiny-w8a8
build/vlmslim-mkmodel --family qwen3_vl_moe --preset tiny --dtype f32 --head-dim 32 --out "$model"
# The best practice names the dataset "calibImages" (msModelSlim's two COCO photos in its
# lab_calib/); here a generated set of that name stands in for it.
rm -rf "$out/lab_calib"
build/vlmslim-mkcalib --out "$out/lab_calib/calibImages"
VLMSLIM_LAB_CALIB_DIR=$out/lab_calib build/vlmslim quant --model_path "$model" --save_path "$save" \
  --model_type Qwen3-VL-30B-A3B --quant_type w8a8 --device cpu --overwrite

echo
echo "Export: $save (quantization report: $save.quant_report.json)"
ls -l "$save"
echo
echo "quant_model_description.json (first entries and the globals):"
head -n 12 "$save/quant_model_description.json"
echo "    ..."
tail -n 12 "$save/quant_model_description.json"
