#!/usr/bin/env bash
# vlmslim quant --compute bf16 (docs/compute.md) against the independent PyTorch reference run
# the same way (tests/reference/calib_torch.py --compute bf16: every Linear's input and weight
# rounded to bf16, float32 products; the quantized pass's W8A8 Linears in the NPU kernels' int8
# arithmetic), for each case of tests/golden/compute/cases.txt (cases of
# the calibrated suite: their fixtures, configs and samples):
# - exact: scales and offsets within 1e-5 relative, int8 weights equal but at listed ties, as in
#   fp32 mode; and the export differs from the fp32 golden (bf16 moves scales by ~1e-3), so the
#   mode is seen to act;
# - flips (QuaRot + iter_smooth): the two implementations' float32 sums differ in their last
#   bits, and an activation that close to a bf16 rounding boundary rounds the other way, a step of
#   2^-8 relative; where it is a channel's maximum, that channel's smoothing scale moves by up to
#   alpha * 2^-8 and its weights' int8 values by one. Compared within 1e-2 relative (measured up
#   to 6.5e-3 over two layers), int8 within one step: a check against gross errors only, which
#   an fp32 export of the case would pass too;
# then a rerun byte-identical, the memory a processed bf16 unit holds and its data-free export (the
# fp32 one, byte for byte), and a bad --compute value.
set -euo pipefail
: "${VLMSLIM:?}" "${VLMSLIM_MKMODEL:?}" "${VS_BUILD_DIR:?}" "${VS_TEST_TMP:?}"
mkdir -p "$VS_TEST_TMP"
tmp=$(mktemp -d "$VS_TEST_TMP/bf16.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
source tests/e2e/helpers.sh
compare=$VS_BUILD_DIR/tests/tools/vs-compare-export
live=0
if [ -n "${VS_PYTHON:-}" ] && "$VS_PYTHON" -c 'import torch, numpy, yaml' 2>/dev/null; then live=1; fi
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

while IFS='|' read -r name comparison; do
  [ -n "$name" ] || continue
  IFS='|' read -r _ mkargs config type _grids propagate _ <<<"$(grep "^$name|" tests/golden/calib/cases.txt)"
  g=tests/golden/compute/$name inputs=tests/golden/calib/$name.inputs
  digest=$("$VLMSLIM_MKMODEL" $mkargs --out "$tmp/$name" --verbose | sed -n 's/.*, digest \([0-9a-f]*\)$/\1/p')
  [ "$digest" = "$(cat "tests/golden/calib/$name.fixture")" ] || { echo "FAIL: $name: generator drift"; exit 1; }
  echo "== $name ($comparison): vlmslim quant --compute bf16 --propagate $propagate"
  "$VLMSLIM" quant --model_path "$tmp/$name" --save_path "$tmp/$name.out" --model_type "$type" \
    --config_path "$config" --calib_inputs "$inputs" --propagate "$propagate" --compute bf16 --quiet >/dev/null ||
    { fail "$name: quant failed"; continue; }
  if [ "$comparison" = exact ]; then
    # the report (diagnostic) within 5%: q25_static's differs by up to 3.4% with its export equal
    opts=(--rtol 1e-5 --quant-bias-atol 1) report_rtol=0.05
    "$compare" "${opts[@]}" --ties "tests/golden/calib/$name.ties.json" "$tmp/$name.out" "tests/golden/calib/$name" \
      >/dev/null && fail "$name: the bf16 export equals the fp32 golden"
  else
    opts=(--rtol 1e-2 --rtol-max 1e-5 --quant-bias-rtol 1e-2 --quant-bias-atol 1 --int8-atol 1) report_rtol=0.3
  fi
  "$compare" "${opts[@]}" --ties "$g.ties.json" "$tmp/$name.out" "$g" || fail "$name: against the golden"
  "$VS_BUILD_DIR/tests/tools/vs-compare-report" "$tmp/$name.out.quant_report.json" "$g.report.json" "$report_rtol" \
    >/dev/null || fail "$name: the quant report"
  if [ "$live" = 1 ]; then
    "$VS_PYTHON" tests/reference/calib_torch.py --model_path "$tmp/$name" --config_path "$config" --model_type "$type" \
      --inputs "$inputs" --save_path "$tmp/$name.ref" --propagate "$propagate" --compute bf16 \
      --ties-out "$tmp/$name.ties.json"
    "$compare" "${opts[@]}" --ties "$tmp/$name.ties.json" "$tmp/$name.out" "$tmp/$name.ref" >/dev/null ||
      fail "$name: against the live reference"
  fi
done < tests/golden/compute/cases.txt

echo "== a rerun is byte-identical"
IFS='|' read -r _ mkargs config type _grids propagate _ <<<"$(grep "^moe_static|" tests/golden/calib/cases.txt)"
"$VLMSLIM" quant --model_path "$tmp/moe_static" --save_path "$tmp/again" --model_type "$type" --config_path "$config" \
  --calib_inputs tests/golden/calib/moe_static.inputs --propagate "$propagate" --compute bf16 --quiet >/dev/null
diff -r "$tmp/moe_static.out" "$tmp/again" >/dev/null && echo "ok: identical" || fail "a second bf16 run differs"

echo "== compressed-tensors first: the quantized pass as vLLM's kernels compute it"
# (docs/compute.md) The ascendv1 export the run also writes holds the same quantized model as the
# live reference's with vLLM's arithmetic; on this fixture it is also the export that vLLM Ascend's
# arithmetic gives (the committed golden): the two arithmetics part in the activations' last
# bits, which move no minimum or maximum here. unit/test_runner_calib checks the kernel is vLLM's.
sed "s|ASCENDV1_SAVE_PATH|$tmp/ct_asc|" tests/data/configs/moe_w8a8_static_ct_first.yaml > "$tmp/ct_first.yaml"
"$VLMSLIM" quant --model_path "$tmp/moe_static" --save_path "$tmp/ct" --model_type "$type" --config_path "$tmp/ct_first.yaml" \
  --calib_inputs tests/golden/calib/moe_static.inputs --propagate "$propagate" --compute bf16 --quiet >/dev/null ||
  fail "ct_first: quant failed"
[ -f "$tmp/ct/config.json" ] && grep -q quantization_config "$tmp/ct/config.json" || fail "ct_first: no compressed-tensors export"
if [ "$live" = 1 ]; then
  "$VS_PYTHON" tests/reference/calib_torch.py --model_path "$tmp/moe_static" --config_path "$tmp/ct_first.yaml" \
    --model_type "$type" --inputs tests/golden/calib/moe_static.inputs --save_path "$tmp/ct_ref" --propagate "$propagate" \
    --compute bf16 --ties-out "$tmp/ct_ties.json"
  "$compare" --rtol 1e-5 --quant-bias-atol 1 --ties "$tmp/ct_ties.json" "$tmp/ct_asc" "$tmp/ct_ref" >/dev/null ||
    fail "ct_first: against the live reference"
fi
# (the golden's copy of its config is that of the ascendv1-only run)
cp tests/golden/compute/moe_static/Qwen3-VL-30B-A3B_best_practice.yaml "$tmp/ct_asc/"
"$compare" --rtol 1e-5 --quant-bias-atol 1 --ties tests/golden/compute/moe_static.ties.json "$tmp/ct_asc" \
  tests/golden/compute/moe_static >/dev/null || fail "ct_first: against the golden"

echo "== processors keep a bf16 unit in bf16"
# msModelSlim's shipped dense config (QuaRot + iter_smooth) on a 512-wide bf16 checkpoint: each
# Linear is float32 only while a transform edits it, then stored back as bf16, so a calibrated
# unit holds what it holds without the processors (2 bytes a weight, 1 for its int8 copy, and
# the buffers), less than fp32 mode's float32 copy.
"$VLMSLIM_MKMODEL" --family qwen3_vl --preset tiny --dtype bf16 --hidden 512 --heads 8 --kv-heads 4 --head-dim 64 \
  --intermediate 1024 --outliers --out "$tmp/wide" >/dev/null
shipped=../shared/data/msmodelslim_configs/qwen3_vl/qwen3_vl_w8a8.yaml
sed '/- type: "quarot"/,/- type: "linear_quant"/{/- type: "linear_quant"/!d}' "$shipped" > "$tmp/no_processors.yaml"
grep -q quarot "$tmp/no_processors.yaml" && fail "the config without processors still has quarot"
held() { # mode config: what a calibrated unit held at most, in MB
  rm -rf "$tmp/held.out"
  "$VLMSLIM" quant --model_path "$tmp/wide" --save_path "$tmp/held.out" --model_type Qwen3-VL-32B-Instruct \
    --config_path "$2" --calib_inputs tests/golden/calib/dense_quarot_smooth.inputs --compute "$1" 2>/dev/null |
    sed -n 's/.*a calibrated unit held at most \([0-9.]*\) MB.*/\1/p'
}
h_b=$(held bf16 "$shipped") h_plain=$(held bf16 "$tmp/no_processors.yaml") h_f=$(held fp32 "$shipped")
echo "held at most: bf16 $h_b MB (without the processors $h_plain MB), fp32 $h_f MB"
awk -v b="$h_b" -v p="$h_plain" -v f="$h_f" 'BEGIN { exit !(b != "" && p != "" && f != "" && b <= p + 0.1 && b < 0.95 * f) }' ||
  fail "processors in bf16 mode: a unit held $h_b MB, $h_plain MB without them, $h_f MB in fp32"
# data-free QuaRot + W8A8_DYNAMIC: no statistics, so both modes transform and quantize the same
# weights and write the same export, byte for byte (the rotated Linears stored back as bf16 and
# written, the float ones included, as fp32 mode writes them from its float32 copy)
{ printf 'apiversion: multimodal_vlm_modelslim_v1\nspec:\n  process:\n    - type: "quarot"\n      block_size: 32\n'
  printf '    - type: "linear_quant"\n      qconfig:\n'
  printf '        act: {scope: "per_token", dtype: "int8", symmetric: True, method: "minmax"}\n'
  printf '        weight: {scope: "per_channel", dtype: "int8", symmetric: True, method: "minmax"}\n'
  printf '      include: ["*"]\n      exclude: ["*down_proj", "*merger*"]\n'
  printf '  save:\n    - type: "ascendv1_saver"\n      part_file_size: 0\n'; } > "$tmp/quarot_dynamic.yaml"
for mode in fp32 bf16; do
  "$VLMSLIM" quant --model_path "$tmp/wide" --save_path "$tmp/qd_$mode" --model_type Qwen3-VL-32B-Instruct \
    --config_path "$tmp/quarot_dynamic.yaml" --compute "$mode" --quiet >/dev/null || fail "quarot_dynamic $mode: quant failed"
done
diff -r "$tmp/qd_fp32" "$tmp/qd_bf16" >/dev/null && echo "ok: data-free QuaRot: the bf16 export is the fp32 one" ||
  fail "data-free QuaRot: the bf16 and fp32 exports differ"

VS_EXPECT_RC=2 vs_expect_error bad_compute "--compute fp16: expected fp32 or bf16" "$tmp/bad" \
  "$VLMSLIM" quant --model_path "$tmp/moe_static" --save_path "$tmp/bad" --model_type "$type" --config_path "$config" \
  --calib_inputs tests/golden/calib/moe_static.inputs --compute fp16 || failures=$((failures + 1))

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "test_quant_bf16: all passed"
