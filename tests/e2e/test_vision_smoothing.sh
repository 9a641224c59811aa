#!/usr/bin/env bash
# Vision-tower smoothing (iter_smooth / smooth_quant with vision_subgraphs: True, a vlmslim
# extension; docs/vision_smoothing.md) on the three families' generated checkpoints:
# - float equivalence: with nothing quantized, the smoothed export computes the original logits
#   (vs-fakequant-logits comparing it with an untransformed float export), while the vision norms
#   did change; without the key the vision tower is left as msModelSlim leaves it;
# - accuracy on checkpoints with planted activation outliers (mkmodel --outliers, vision norms
#   included): the shipped quarot + iter_smooth config with vision_subgraphs (vlmslim's
#   lab_practice/*/*_vision_smooth.yaml, checked to be exactly that) comes within 0.01 of
#   the same config with the vision tower left in float (simulated W8A8 logits cosine to the
#   float model), and above the config without it; without outliers it costs nothing (within
#   2e-4, the measurement's noise on these tiny models: the qwen3_vl one moves from 0.999802 to
#   0.999696 with OpenBLAS's Haswell kernels, and stays within 1e-4 with its SkylakeX ones);
# - the errors: shifted smoothing of RMSNorm vision norms, a switch that selects nothing, a bad
#   value; one error line, exit 1, nothing written.
set -euo pipefail
: "${VLMSLIM:?}" "${VLMSLIM_MKMODEL:?}" "${VS_BUILD_DIR:?}" "${VS_TEST_TMP:?}"
mkdir -p "$VS_TEST_TMP"
tmp=$(mktemp -d "$VS_TEST_TMP/vision_smoothing.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
source tests/e2e/helpers.sh
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
fq=$VS_BUILD_DIR/tests/tools/vs-fakequant-logits
cmp_t=$VS_BUILD_DIR/tests/tools/vs-compare-tensors
configs=${VS_SHARED_DATA:-../shared/data}/msmodelslim_configs

# family | --model_type | shipped W8A8 config | mkmodel dimensions | vision prefix | vlmslim's
# vision-smoothing practice (the lab_practice copy of the shipped config with the switch on)
families='qwen3_vl|Qwen3-VL-32B-Instruct|'"$configs"'/qwen3_vl/qwen3_vl_w8a8.yaml|--head-dim 32|model.visual.|lab_practice/qwen3_vl/qwen3_vl_w8a8_vision_smooth.yaml
qwen3_vl_moe|Qwen3-VL-30B-A3B|'"$configs"'/qwen3_vl_moe/qwen3_vl_moe_w8a8.yaml|--head-dim 32|model.visual.|lab_practice/qwen3_vl_moe/qwen3_vl_moe_w8a8_vision_smooth.yaml
qwen2_5_vl|Qwen2.5-VL-7B-Instruct|lab_practice/qwen2_5_vl/qwen2_5_vl_w8a8.yaml|--hidden 128 --heads 4|visual.|lab_practice/qwen2_5_vl/qwen2_5_vl_w8a8_vision_smooth.yaml'

# float_config NAME PROCESS_LINE: $tmp/NAME.yaml, the processor line then nothing quantized
float_config() {
  cat >"$tmp/$1.yaml" <<YAML
apiversion: multimodal_vlm_modelslim_v1
spec:
  process:
$2
    - type: linear_quant
      qconfig:
        act: {scope: per_tensor, dtype: int8, symmetric: False, method: minmax}
        weight: {scope: per_channel, dtype: int8, symmetric: True, method: minmax}
      include: ["none"]
  save:
    - type: ascendv1_saver
YAML
}
float_config none ''
float_config is_sym '    - {type: iter_smooth, alpha: 0.9, vision_subgraphs: True}'
# (the shifted mode on the vision tower only: the text norms' new biases are not modelled by
# vs-fakequant-logits)
float_config is_asym '    - {type: iter_smooth, alpha: 0.9, symmetric: False, vision_subgraphs: True, include: ["*visual*"]}'
float_config sq_sym '    - {type: smooth_quant, vision_subgraphs: True}'
float_config is_text '    - {type: iter_smooth, alpha: 0.9}'
# with_vision SHIPPED OUT: the shipped config with vision_subgraphs: True on its iter_smooth
with_vision() { sed 's/^\( *\)- type: "iter_smooth"/&\n\1  vision_subgraphs: True/' "$1" >"$2"; }
# spec_of CONFIG: its spec section without comments and blank lines
spec_of() { sed -n '/^spec:/,$p' "$1" | sed 's/ *#.*//; s/ *$//' | grep -v '^$'; }
# vision_float SHIPPED OUT: the shipped config with the vision tower kept in float
vision_float() { awk '{print} /^      exclude:/ && !done {print "        - \"*visual*\""; done=1}' "$1" >"$2"; }
cosine() { # model, export, inputs
  { "$fq" "$1" "$2" "$3" "$2.deq" || true; } | sed -n 's/^cosine mean \([0-9.]*\) .*/\1/p'
}
eval_kl() { # model, export, inputs: vlmslim eval's mean KL over every text position
  "$VLMSLIM" eval --model_path "$1" --quant_path "$2" --calib_inputs "$3" --report "$2.eval.json" --quiet >/dev/null &&
    sed -n 's/^    "kl_mean": \([^,]*\),$/\1/p' "$2.eval.json" | head -1
}
quant() { # model, save, model_type, config, inputs
  "$VLMSLIM" quant --model_path "$1" --save_path "$2" --model_type "$3" --config_path "$4" --calib_inputs "$5" \
    --quiet >/dev/null 2>"$tmp/log" || fail "$2: $(cat "$tmp/log")"
}

while IFS='|' read -r fam type shipped dims vis practice; do
  echo "== $fam: float equivalence"
  m=$tmp/$fam.f32
  "$VLMSLIM_MKMODEL" --family "$fam" --preset tiny --dtype f32 --seed 61 $dims --out "$m" >/dev/null
  tests/golden/calib/make_image_inputs.sh "$VS_BUILD_DIR" "$m" gen:64x48,gen:56x56 "$m.in"
  quant "$m" "$m.none" "$type" "$tmp/none.yaml" "$m.in"
  procs="is_sym sq_sym is_text"
  [ "$fam" = qwen2_5_vl ] || procs="$procs is_asym" # RMSNorm vision norms refuse it (below)
  for p in $procs; do
    quant "$m" "$m.$p" "$type" "$tmp/$p.yaml" "$m.in"
    out=$("$fq" "$m" "$m.$p" "$m.in" "$m.$p.deq" "$m.none" 2>&1 || true)
    d=$(sed -n 's/^max abs logit difference \([0-9.e+-]*\) of max |logit| \([0-9.e+-]*\)$/\1 \2/p' <<<"$out")
    awk -v d="$d" 'BEGIN { split(d, a, " "); exit !(a[1] != "" && a[1] <= 1e-5 * a[2]) }' &&
      echo "ok: $fam $p: logits unchanged ($d)" || fail "$fam $p: logits changed: $out"
    norm=${vis}blocks.0.norm1.weight
    diffs=$("$cmp_t" --only "$norm" "$m.$p/quant_model_weights-00001-of-00001.safetensors" "$m/model.safetensors" 2>&1 || true)
    if [ "$p" = is_text ]; then
      grep -q "^$norm .*: ok$" <<<"$diffs" || fail "$fam: without vision_subgraphs the vision tower changed: $diffs"
    else
      grep -q "^$norm .*: MISMATCH$" <<<"$diffs" || fail "$fam $p: the vision norm was not rescaled: $diffs"
    fi
  done

  echo "== $fam: planted outliers, W8A8 logits cosine to the float model"
  m=$tmp/$fam.outl
  "$VLMSLIM_MKMODEL" --family "$fam" --preset tiny --dtype bf16 --seed 51 $dims --outliers --out "$m" >/dev/null
  tests/golden/calib/make_image_inputs.sh "$VS_BUILD_DIR" "$m" gen:64x48,gen:40x72,gen:56x56,gen:80x40 "$m.in"
  with_vision "$shipped" "$tmp/vis.yaml"
  # the practice is the shipped config with the switch on, nothing else
  [ "$(spec_of "$tmp/vis.yaml")" = "$(spec_of "$practice")" ] || fail "$fam: $practice is not $shipped + vision_subgraphs"
  cp "$practice" "$tmp/vis.yaml"
  vision_float "$shipped" "$tmp/vfloat.yaml"
  grep -q 'vision_subgraphs: True' "$tmp/vis.yaml" && grep -q '"\*visual\*"' "$tmp/vfloat.yaml" ||
    fail "$fam: the config variants were not made from $shipped"
  declare -A c=() k=()
  for v in shipped vis vfloat; do
    cfg=$tmp/$v.yaml; [ $v = shipped ] && cfg=$shipped
    quant "$m" "$m.$v" "$type" "$cfg" "$m.in"
    c[$v]=$(cosine "$m" "$m.$v" "$m.in")
    k[$v]=$(eval_kl "$m" "$m.$v" "$m.in")
  done
  echo "$fam: shipped ${c[shipped]}, with vision_subgraphs ${c[vis]}, vision tower in float ${c[vfloat]}"
  echo "$fam: vlmslim eval mean KL: shipped ${k[shipped]}, with vision_subgraphs ${k[vis]}, vision tower in float ${k[vfloat]}"
  awk -v v="${k[vis]}" -v s="${k[shipped]}" 'BEGIN { exit !(v != "" && v < s) }' &&
    echo "ok: $fam: vision smoothing lowers the mean KL" || fail "$fam: mean KL ${k[shipped]} -> ${k[vis]}"
  awk -v v="${c[vis]}" -v f="${c[vfloat]}" -v s="${c[shipped]}" 'BEGIN { exit !(v != "" && v >= f - 0.01 && v > s) }' &&
    echo "ok: $fam: vision smoothing recovers the vision tower's loss" ||
    fail "$fam: vision_subgraphs ${c[vis]} vs vision in float ${c[vfloat]} and shipped ${c[shipped]}"

  echo "== $fam: no outliers: it costs nothing"
  m=$tmp/$fam.plain
  "$VLMSLIM_MKMODEL" --family "$fam" --preset tiny --dtype bf16 --seed 52 $dims --out "$m" >/dev/null
  tests/golden/calib/make_image_inputs.sh "$VS_BUILD_DIR" "$m" gen:64x48,gen:40x72,gen:56x56,gen:80x40 "$m.in"
  quant "$m" "$m.shipped" "$type" "$shipped" "$m.in"
  quant "$m" "$m.vis" "$type" "$tmp/vis.yaml" "$m.in"
  a=$(cosine "$m" "$m.shipped" "$m.in") b=$(cosine "$m" "$m.vis" "$m.in")
  awk -v a="$a" -v b="$b" 'BEGIN { exit !(b != "" && b >= a - 2e-4) }' &&
    echo "ok: $fam: shipped $a, with vision_subgraphs $b" || fail "$fam: without outliers vision_subgraphs costs: $a -> $b"
done <<<"$families"

echo "== errors"
expect_error() { # name, message, model, model_type, config
  vs_expect_error "$1" "$2" "$tmp/$1.out" "$VLMSLIM" quant --model_path "$3" --save_path "$tmp/$1.out" \
    --model_type "$4" --config_path "$5" --calib_inputs "$3.in" --quiet || { failures=$((failures + 1)); return; }
  if ls -a "$tmp" | grep -q "\.$1\.out\.vlmslim-tmp"; then fail "$1: staging directory left behind"; fi
}
expect_error rmsnorm_asym "$tmp/is_asym.yaml: spec.process[0]: symmetric: false with vision_subgraphs needs vision norms with a bias (LayerNorm); visual.blocks.0.norm1 has none (an RMSNorm); use symmetric: true" \
  "$tmp/qwen2_5_vl.f32" Qwen2.5-VL-7B-Instruct "$tmp/is_asym.yaml"
float_config none_selected '    - {type: iter_smooth, vision_subgraphs: True, exclude: ["*visual*"]}'
expect_error none_selected "$tmp/none_selected.yaml: spec.process[0].vision_subgraphs: no vision-tower subgraph of model family 'qwen3_vl' is selected" \
  "$tmp/qwen3_vl.f32" Qwen3-VL-32B-Instruct "$tmp/none_selected.yaml"
float_config bad_value '    - {type: smooth_quant, vision_subgraphs: sometimes}'
expect_error bad_value "spec.process[0].vision_subgraphs" "$tmp/qwen3_vl.f32" Qwen3-VL-32B-Instruct "$tmp/bad_value.yaml"

if [ "$failures" -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "all vision-smoothing checks passed"
