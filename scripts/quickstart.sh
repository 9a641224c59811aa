#!/usr/bin/env bash
# The main job on a built-in default: installs the dependencies, builds vlmslim, generates a
# tiny Qwen3-VL-MoE checkpoint and quantizes it, then shows what the export holds.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh

model=out/quickstart/Qwen3-VL-MoE-tiny
save=out/quickstart/Qwen3-VL-MoE-tiny-w8a8-dynamic
build/vlmslim-mkmodel --family qwen3_vl_moe --preset tiny --out "$model"
build/vlmslim quant --model_path "$model" --save_path "$save" --model_type Qwen3-VL-30B-A3B \
  --config_path examples/configs/qwen3_vl_moe_w8a8_dynamic.yaml --device cpu --overwrite

echo
echo "Export: $save"
ls -l "$save"
echo
echo "quant_model_description.json (first entries and the globals):"
head -n 12 "$save/quant_model_description.json"
echo "    ..."
tail -n 8 "$save/quant_model_description.json"
