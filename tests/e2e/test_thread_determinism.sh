#!/usr/bin/env bash
# Exports do not depend on the thread count: the quick start's quant (QuaRot, iter_smooth, W8A8
# static and dynamic, a calibration set) and a dense model wide enough (hidden 512) that samples
# run through each unit together, with OMP_NUM_THREADS 1, 2 and 3: every file of the export and the
# report byte-identical; the dense one also with --compute bf16. (OpenBLAS's kernels round an element differently depending on the size
# of the GEMM it falls in, so a Linear's work is split by its shape, never by the threads.)
set -euo pipefail
: "${VLMSLIM:?}" "${VLMSLIM_MKMODEL:?}" "${VLMSLIM_MKCALIB:?}" "${VS_TEST_TMP:?}"
mkdir -p "$VS_TEST_TMP"
tmp=$(mktemp -d "$VS_TEST_TMP/threads.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
"$VLMSLIM_MKCALIB" --out "$tmp/lab/calibImages" >/dev/null
export VLMSLIM_LAB_CALIB_DIR=$tmp/lab
"$VLMSLIM_MKMODEL" --family qwen3_vl_moe --preset tiny --dtype f32 --head-dim 32 --out "$tmp/moe" >/dev/null
"$VLMSLIM_MKMODEL" --family qwen3_vl --preset tiny --dtype bf16 --hidden 512 --heads 8 --kv-heads 4 --head-dim 64 \
  --intermediate 1024 --outliers --out "$tmp/dense" >/dev/null

run() { # NAME MODEL TYPE CONFIG-ARGS...
  local name=$1 model=$2 type=$3; shift 3
  for t in 1 2 3; do
    OMP_NUM_THREADS=$t "$VLMSLIM" quant --model_path "$model" --save_path "$tmp/$name.$t" --model_type "$type" \
      --device cpu --quiet "$@" 2>"$tmp/$name.$t.log" >/dev/null ||
      { echo "FAIL: $name with $t thread(s):"; cat "$tmp/$name.$t.log"; failures=$((failures + 1)); return; }
  done
  for t in 2 3; do
    if diff -r "$tmp/$name.1" "$tmp/$name.$t" && cmp "$tmp/$name.1.quant_report.json" "$tmp/$name.$t.quant_report.json"; then
      echo "ok: $name: 1 and $t threads write byte-identical exports and reports"
    else
      echo "FAIL: $name: 1 and $t threads differ"
      "${VS_BUILD_DIR:-build}/tests/tools/vs-compare-export" "$tmp/$name.1" "$tmp/$name.$t" | head -8 || true
      failures=$((failures + 1))
    fi
  done
}
run quickstart "$tmp/moe" Qwen3-VL-30B-A3B --quant_type w8a8
run dense_wide "$tmp/dense" Qwen3-VL-32B-Instruct --config_path ../shared/data/msmodelslim_configs/qwen3_vl/qwen3_vl_w8a8.yaml
# --compute bf16 (oneDNN's bf16 and int8 products, docs/compute.md)
run dense_wide_bf16 "$tmp/dense" Qwen3-VL-32B-Instruct --compute bf16 \
  --config_path ../shared/data/msmodelslim_configs/qwen3_vl/qwen3_vl_w8a8.yaml
[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "exports independent of the thread count"
