#!/usr/bin/env bash
# Calibrated W8A8 static quantization end to end: for each case of tests/golden/calib/cases.txt
# vlmslim quant --calib_inputs (the committed model-input files, or files made at test time
# from the shared calibration images and a generated one) against the golden export of
# the independent PyTorch reference (tests/reference/calib_torch.py; Qwen3-VL(-MoE), Qwen2.5-VL and
# InternVL3.5, whose projector mlp1 is also checked to stay FLOAT): int8 weights equal except
# at listed rounding ties, scales and offsets within 1e-5 relative, everything else equal.
# With torch importable the reference also runs live. Then the same with every carried
# activation spilled to disk, a determinism check (two runs byte-identical), and the error
# paths: samples that leave a static Linear uncalibrated, a bad sample file, no samples, a
# write failure while saving.
# Note: with --propagate quantized the next unit's inputs pass through fake quantization, where
# an element that lies within float32 noise of a rounding boundary may round differently in the
# two implementations; such a flip moves one element by one quantization step, 1/255 of its
# range, and a downstream range by at most about as much (seen: 1e-4 to 1.05e-3 relative in an
# input_scale); the quantized cases are compared within 4e-3. The spec.dataset case
# (hundreds of image tokens per sample) propagates float, where every scale agrees within 1e-5.
set -euo pipefail
: "${VLMSLIM:?}" "${VLMSLIM_MKMODEL:?}" "${VLMSLIM_MKCALIB:?}" "${VS_BUILD_DIR:?}" "${VS_TEST_TMP:?}"
mkdir -p "$VS_TEST_TMP"
tmp=$(mktemp -d "$VS_TEST_TMP/calib.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
compare=$VS_BUILD_DIR/tests/tools/vs-compare-export
live=0
if [ -n "${VS_PYTHON:-}" ] && "$VS_PYTHON" -c 'import torch, numpy, yaml' 2>/dev/null; then live=1; fi
failures=0
while IFS='|' read -r name mkargs config type grids propagate compare_opts; do
  case "$name" in ''|'#'*) continue ;; esac  # blank lines, comments
  g=tests/golden/calib/$name
  # the report's output errors go through the fake quantization of the measuring pass, where an
  # activation at a rounding tie may round the other way (seen: 8e-4 relative, q25_sq_asym's
  # o_proj, with an equal export)
  inputs=$g.inputs report_rtol=2e-3
  [ -f "$g/quant_model_description.json" ] && [ -f "$g.ties.json" ] ||
    { echo "FAIL: golden $g missing: run tests/golden/calib/make_golden.sh BUILD_DIR"; exit 1; }
  digest=$("$VLMSLIM_MKMODEL" $mkargs --out "$tmp/$name" --verbose | sed -n 's/.*, digest \([0-9a-f]*\)$/\1/p')
  [ "$digest" = "$(cat "$g.fixture")" ] || { echo "FAIL: $name: generator drift (digest $digest); regenerate the goldens"; exit 1; }
  case "$grids" in images=*)
    inputs=$tmp/$name.inputs
    # Hundreds of tokens per image: rounding flips in the fake quantization of the measuring pass
    # move the (diagnostic) output errors by up to a few percent; the export stays within 1e-5.
    report_rtol=0.15
    tests/golden/calib/make_image_inputs.sh "$VS_BUILD_DIR" "$tmp/$name" "${grids#images=}" "$inputs" ;;
  dataset) # the config's spec.dataset, built by vlmslim itself; the same samples dumped for the reference
    mkdir -p "$tmp/lab/vs_test_calib_dataset"
    (source tests/golden/inputs/dataset.sh; vs_inputs_dataset "$tmp/lab/vs_test_calib_dataset")
    export VLMSLIM_LAB_CALIB_DIR=$tmp/lab
    inputs=$tmp/$name.inputs report_rtol=0.15  # as for images= below
    "$VLMSLIM" inspect-inputs --model_path "$tmp/$name" --config_path "$config" --dump "$inputs" >/dev/null 2>&1 ;;
  mkcalib) # the quick start (scripts/quickstart.sh): vlmslim-mkcalib's set as the config's calibImages
    # (checked with float propagation: ~80 image tokens per sample make quantized propagation
    # sensitive to rounding flips, see the note at the top)
    rm -rf "$tmp/lab/calibImages"; mkdir -p "$tmp/lab"
    "$VLMSLIM_MKCALIB" --out "$tmp/lab/calibImages"
    export VLMSLIM_LAB_CALIB_DIR=$tmp/lab
    inputs=$tmp/$name.inputs
    "$VLMSLIM" inspect-inputs --model_path "$tmp/$name" --config_path "$config" --dump "$inputs" >/dev/null 2>&1 ;;
  esac
  from_inputs=(--calib_inputs "$inputs")
  case "$grids" in dataset|mkcalib) from_inputs=() ;; esac  # the first run reads spec.dataset, the spilled one the dump
  # Rotated tensors (QuaRot) mix every element of a row: their small elements carry the rounding
  # of float32 sums of large ones, compared within 1e-5 of the tensor's largest element.
  # One weight rounded the other way at a tie, or one activation in the measuring pass, moves the
  # (diagnostic) output errors of the tiny fixtures' few rows by up to ~10% relative (seen with one
  # thread against two, and across OpenBLAS's kernels), as with the image cases below.
  cmp_opts=(); if grep -q 'type: "quarot"' "$config"; then cmp_opts=(--rtol-max 1e-5); report_rtol=0.15; fi
  # quant_bias = round(b / deq_scale) of float32 sums whose order is the BLAS kernel's (OpenBLAS
  # picks it by CPU model; the tests pin it where they can, tests/blas_core.sh): one step either way
  # where the argument sits near .5.
  cmp_opts+=(--quant-bias-atol 1)
  # Quantized propagation: an activation within float32 noise of a rounding boundary flips in one
  # implementation and not the other, and moves a downstream range by one step of one element
  # (up to ~3e-4 relative seen across OpenBLAS's kernels) and the tiny fixtures' few-row output
  # errors by up to ~10%.
  rtol=1e-5
  if [ "$propagate" = quantized ]; then
    rtol=4e-3
    report_rtol=0.15
  fi
  # The case's own comparison options (cases.txt, last column): shifted smoothing folds W·shift
  # into new biases, and quant_bias = round(b / deq_scale) of those large float32 sums may round
  # the other way where their last bits sit at a .5 (--quant-bias-rtol 1e-3).
  read -r -a extra <<< "${compare_opts:-}"
  cmp_opts+=("${extra[@]}")
  echo "== $name: vlmslim quant --config_path $config --propagate $propagate"
  "$VLMSLIM" quant --model_path "$tmp/$name" --save_path "$tmp/$name.out" --model_type "$type" \
    --config_path "$config" "${from_inputs[@]}" --propagate "$propagate" 2>"$tmp/$name.log"
  cat "$tmp/$name.log"
  "$compare" --rtol "$rtol" "${cmp_opts[@]}" --ties "$g.ties.json" "$tmp/$name.out" "$g" || failures=$((failures + 1))
  # nothing of the run's own (quarot's written-out tail) left in the export
  hidden=$(find "$tmp/$name.out" -name '.*' | head -3)
  [ -z "$hidden" ] || { echo "FAIL: $name: files left in the export: $hidden"; failures=$((failures + 1)); }
  "$VS_BUILD_DIR/tests/tools/vs-compare-report" "$tmp/$name.out.quant_report.json" "$g.report.json" "$report_rtol" ||
    failures=$((failures + 1))
  echo "== $name: every activation spilled, then a second run: byte-identical"
  "$VLMSLIM" quant --model_path "$tmp/$name" --save_path "$tmp/$name.spill" --model_type "$type" \
    --config_path "$config" --calib_inputs "$inputs" --propagate "$propagate" --spill_budget_mb 0 2>/dev/null
  diff -r "$tmp/$name.out" "$tmp/$name.spill" && cmp "$tmp/$name.out.quant_report.json" "$tmp/$name.spill.quant_report.json" ||
    { echo "FAIL: $name: spilling changed the export or its report"; failures=$((failures + 1)); }
  if [ "$live" = 1 ]; then
    echo "== $name: live PyTorch reference"
    "$VS_PYTHON" tests/reference/calib_torch.py --model_path "$tmp/$name" --config_path "$config" --model_type "$type" \
      --inputs "$inputs" --save_path "$tmp/$name.ref" --propagate "$propagate" --ties-out "$tmp/$name.ties.json" \
      --report-out "$tmp/$name.report.json"
    "$VS_BUILD_DIR/tests/tools/vs-compare-report" "$tmp/$name.out.quant_report.json" "$tmp/$name.report.json" "$report_rtol" ||
      failures=$((failures + 1))
    "$compare" --rtol "$rtol" "${cmp_opts[@]}" --ties "$tmp/$name.ties.json" "$tmp/$name.out" "$tmp/$name.ref" || failures=$((failures + 1))
    # the reference's own float32 sums are torch's, whose kernels vary by build as OpenBLAS's do
    # by CPU: quantized propagation moves a range by a step there too (the rtol above)
    ref_rtol=1e-6; [ "$propagate" = quantized ] && ref_rtol=$rtol
    "$compare" --rtol "$ref_rtol" "$tmp/$name.ref" "$g" ||
      { echo "FAIL: $name: live reference differs from the golden"; failures=$((failures + 1)); }
  fi
done < tests/golden/calib/cases.txt

# InternVL: the projector mlp1 lies in no unit msModelSlim visits, so it stays FLOAT whatever the
# patterns say (ivl_static's two entries both include "*"), with no quantization tensors
for name in ivl_static ivl_best_practice ivl_rms_mixed; do
  d=$tmp/$name.out/quant_model_description.json
  if [ "$(grep -cE '"mlp1\.[013]\.(weight|bias)": "FLOAT"' "$d")" = 6 ] && ! grep -qE '"mlp1\.[0-9]\.[a-z_]*(scale|offset)"' "$d"; then
    echo "ok: $name: mlp1.0, mlp1.1 and mlp1.3 FLOAT"
  else
    echo "FAIL: $name: mlp1 quantized: $(grep mlp1 "$d" | tr -d '\n')"; failures=$((failures + 1))
  fi
done

# --no_report: the same export, no report
"$VLMSLIM" quant --model_path "$tmp/moe_static" --save_path "$tmp/noreport" --model_type Qwen3-VL-30B-A3B \
  --config_path tests/data/configs/moe_w8a8_static.yaml --calib_inputs tests/golden/calib/moe_static.inputs --no_report --quiet >/dev/null
if diff -r "$tmp/moe_static.out" "$tmp/noreport" >/dev/null && [ ! -e "$tmp/noreport.quant_report.json" ]; then
  echo "ok: --no_report writes the same export and no report"
else
  echo "FAIL: --no_report"; failures=$((failures + 1))
fi

# --report_stride 1: the error on every row, against the reference measuring every row; the
# measured and input row counts in the report follow the stride
"$VLMSLIM" quant --model_path "$tmp/moe_static" --save_path "$tmp/everyrow" --model_type Qwen3-VL-30B-A3B \
  --config_path tests/data/configs/moe_w8a8_static.yaml --calib_inputs tests/golden/calib/moe_static.inputs \
  --report_stride 1 --quiet >/dev/null
diff -r "$tmp/moe_static.out" "$tmp/everyrow" >/dev/null || { echo "FAIL: --report_stride changed the export"; failures=$((failures + 1)); }
"$VS_BUILD_DIR/tests/tools/vs-compare-report" "$tmp/everyrow.quant_report.json" tests/golden/calib/moe_static.report_every_row.json 1e-4 ||
  failures=$((failures + 1))
qkv_rows() { # input_rows and measured_rows of the first block's qkv in report $1
  awk '/"name": "model.visual.blocks.0.attn.qkv"/ { f = 1 } f && /"input_rows"/ { gsub(/[^0-9]/, ""); i = $0 }
       f && /"measured_rows"/ { gsub(/[^0-9]/, ""); print i, $0; exit }' "$1"
}
rows="$(qkv_rows "$tmp/everyrow.quant_report.json") / $(qkv_rows "$tmp/moe_static.out.quant_report.json")"
if [ "$rows" = "12 12 / 12 3" ] && grep -q '"report_stride": 1,' "$tmp/everyrow.quant_report.json"; then
  echo "ok: --report_stride 1 measures all 12 rows (patches) of the first qkv input, the default 3"
else
  echo "FAIL: input_rows measured_rows of the first qkv with --report_stride 1 / by default: $rows"; failures=$((failures + 1))
fi

# MoE with 8 experts and top-1 routing over a few tokens: some expert gets no routed token
if grep -q "no calibration token was routed to [0-9]* W8A8 expert Linear(s): model.language_model.layers" "$tmp/moe_experts_static.log"; then
  echo "ok: unrouted experts named in a warning"
else
  echo "FAIL: no warning about an expert without routed tokens"; failures=$((failures + 1))
fi

expect_error() { # expected-substring, then the command; one error line, non-zero status, no export
  local want=$1; shift
  if "$@" >"$tmp/out" 2>"$tmp/err"; then echo "FAIL: succeeded: $*"; failures=$((failures + 1)); return; fi
  local lines; lines=$(grep -c "error" "$tmp/err" || true)
  if [ "$lines" -ne 1 ] || ! grep -qF -- "$want" "$tmp/err"; then
    echo "FAIL: expected one error line with '$want', got:"; cat "$tmp/err"; failures=$((failures + 1)); return
  fi
  echo "ok: $want"
}
m=$tmp/moe_static
cfg=tests/data/configs/moe_w8a8_static.yaml
mkdir "$tmp/textonly"; cp tests/golden/calib/moe_static.inputs/sample_1.safetensors "$tmp/textonly/sample_0.safetensors"
expect_error "model.visual.blocks.0.attn.qkv: the W8A8 static scheme selects this Linear but no calibration token reached it" \
  "$VLMSLIM" quant --model_path "$m" --save_path "$tmp/e1" --model_type Qwen3-VL-30B-A3B --config_path "$cfg" \
  --calib_inputs "$tmp/textonly"
[ ! -e "$tmp/e1" ] || { echo "FAIL: an export was left at $tmp/e1"; failures=$((failures + 1)); }
mkdir "$tmp/bad"; cp tests/golden/calib/moe_static.inputs/sample_0.safetensors "$tmp/bad/"
head -c 64 tests/golden/calib/moe_static.inputs/sample_1.safetensors > "$tmp/bad/sample_1.safetensors"
expect_error "$tmp/bad/sample_1.safetensors" "$VLMSLIM" quant --model_path "$m" --save_path "$tmp/e2" \
  --model_type Qwen3-VL-30B-A3B --config_path "$cfg" --calib_inputs "$tmp/bad"
# a NaN in the pixels: refused as the sample is read, naming the file and the patch
mkdir "$tmp/nan"; src=tests/golden/calib/moe_static.inputs/sample_0.safetensors; cp "$src" "$tmp/nan/sample_0.safetensors"
hlen=$(od -An -t u8 -N8 "$src" | tr -d ' ')
off=$(dd if="$src" bs=1 skip=8 count="$hlen" 2>/dev/null | grep -o '"pixel_values":{[^}]*}' | sed 's/.*"data_offsets":\[\([0-9]*\),.*/\1/')
printf '\x00\x00\xc0\x7f' | dd of="$tmp/nan/sample_0.safetensors" bs=1 seek=$((8 + hlen + off)) conv=notrunc 2>/dev/null
expect_error "$tmp/nan/sample_0.safetensors: pixel_values holds 1 non-finite value(s) (first: NaN at patch 0, element 0)" "$VLMSLIM" quant \
  --model_path "$m" --save_path "$tmp/e7" --model_type Qwen3-VL-30B-A3B --config_path "$cfg" --calib_inputs "$tmp/nan"
mkdir "$tmp/none"
expect_error "--calib_inputs $tmp/none: holds no sample_0.safetensors" "$VLMSLIM" quant --model_path "$m" \
  --save_path "$tmp/e3" --model_type Qwen3-VL-30B-A3B --config_path "$cfg" --calib_inputs "$tmp/none"
# spec.dataset: an image that fails to decode, a sample without an image
mkdir -p "$tmp/badset" "$tmp/textset"
cp ../shared/data/calibImages/COCO_train2014_000000577592.jpg tests/golden/vision/images/bad_garbage.jpg "$tmp/badset/"
sed "s|\"vs_test_calib_dataset\"|\"$tmp/badset\"|" tests/data/configs/moe_w8a8_static_dataset.yaml > "$tmp/badset.yaml"
expect_error "$tmp/badset/bad_garbage.jpg" "$VLMSLIM" quant --model_path "$m" --save_path "$tmp/e4" \
  --model_type Qwen3-VL-30B-A3B --config_path "$tmp/badset.yaml"
[ ! -e "$tmp/e4" ] || { echo "FAIL: an export was left at $tmp/e4"; failures=$((failures + 1)); }
printf '{"text": "no image here"}\n' > "$tmp/textset/prompts.jsonl"
sed "s|\"vs_test_calib_dataset\"|\"$tmp/textset/prompts.jsonl\"|" tests/data/configs/moe_w8a8_static_dataset.yaml > "$tmp/textset.yaml"
expect_error "lacks an image" "$VLMSLIM" quant --model_path "$m" --save_path "$tmp/e4" \
  --model_type Qwen3-VL-30B-A3B --config_path "$tmp/textset.yaml"
expect_error "--propagate halfway: expected quantized or float" "$VLMSLIM" quant --model_path "$m" \
  --save_path "$tmp/e5" --model_type Qwen3-VL-30B-A3B --config_path "$cfg" --calib_inputs tests/golden/calib/moe_static.inputs \
  --propagate halfway
expect_error "--spill_budget_mb -1: expected a whole number of megabytes" "$VLMSLIM" quant --model_path "$m" \
  --save_path "$tmp/e9" --model_type Qwen3-VL-30B-A3B --config_path "$cfg" --calib_inputs tests/golden/calib/moe_static.inputs \
  --spill_budget_mb -1
expect_error "--report_stride 0: expected a whole number from 1 to 1000000" "$VLMSLIM" quant --model_path "$m" \
  --save_path "$tmp/e8" --model_type Qwen3-VL-30B-A3B --config_path "$cfg" --calib_inputs tests/golden/calib/moe_static.inputs \
  --report_stride 0
# A write failure while saving: files may not grow past 64 KB (SIGXFSZ ignored, so write fails with EFBIG).
( trap '' XFSZ; ulimit -f 64
  expect_error "quant_model_weights" "$VLMSLIM" quant --model_path "$m" --save_path "$tmp/e6" --model_type Qwen3-VL-30B-A3B \
    --config_path "$cfg" --calib_inputs tests/golden/calib/moe_static.inputs
  [ ! -e "$tmp/e6" ] || { echo "FAIL: an export was left at $tmp/e6"; exit 1; }
  exit $failures ) || failures=$((failures + 1))
if [ "$failures" -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "all calibration checks passed"
