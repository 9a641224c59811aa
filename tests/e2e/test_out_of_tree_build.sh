#!/usr/bin/env bash
# A build configured outside the source tree finds config/config.ini and lab_practice/ in the
# source tree it was configured from: `vlmslim quant --quant_type w8a8` of the generated quick-start
# model succeeds with no $VLMSLIM_DATA_DIR and nothing installed.
set -euo pipefail
: "${VLMSLIM_MKMODEL:?}" "${VLMSLIM_MKCALIB:?}"
src=$(pwd)
# Outside the source tree (the test directory of the build lies inside it when the build does).
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vs-out-of-tree.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
case "$tmp/" in "$src"/*) echo "FAIL: $tmp is inside the source tree"; exit 1 ;; esac

# Only the vlmslim target, nothing installed under the prefix.
cmake -S "$src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
  -DCMAKE_INSTALL_PREFIX="$tmp/prefix" >"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/build" --target vlmslim -j2 >"$tmp/build.log" 2>&1 || { tail -n 30 "$tmp/build.log"; exit 1; }

model="$tmp/Qwen3-VL-MoE-tiny"
"$VLMSLIM_MKMODEL" --family qwen3_vl_moe --preset tiny --dtype f32 --head-dim 32 --out "$model" >/dev/null
"$VLMSLIM_MKCALIB" --out "$tmp/lab_calib/calibImages" >/dev/null
rc=0
(cd "$tmp" && env -u VLMSLIM_DATA_DIR -u MSMODELSLIM_CUSTOM_PRACTICE_REPO VLMSLIM_LAB_CALIB_DIR="$tmp/lab_calib" \
  "$tmp/build/vlmslim" quant --model_path "$model" --save_path "$tmp/out" --model_type Qwen3-VL-30B-A3B \
  --quant_type w8a8 --quiet) >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
if [ "$rc" -ne 0 ] || [ ! -f "$tmp/out/quant_model_description.json" ] \
   || [ ! -f "$tmp/out/Qwen3-VL-30B-A3B_best_practice.yaml" ]; then
  echo "FAIL: out-of-tree vlmslim quant --quant_type w8a8 -> rc=$rc"; cat "$tmp/stderr"; exit 1
fi
echo "out-of-tree build: quant --quant_type w8a8 found its data in the source tree"
