#!/usr/bin/env bash
# quarot, iter_smooth and smooth_quant through `vlmslim quant` (the processors of runner/outlier.h):
#   1. float equivalence through the real pipeline: a float32 dense checkpoint exported with
#      the processors and a linear_quant entry that selects nothing is a float checkpoint with
#      the transformed tensors; `vlmslim forward` on it gives the original's logits within 1e-4
#      (QuaRot: the hidden states are rotated, so only the logits are compared; smoothing alone:
#      every hidden state too);
#   2. msModelSlim's shipped Qwen3-VL and Qwen3-VL-MoE W8A8 configs, unchanged, on bf16
#      checkpoints (the MoE one calibrated on its own `dataset: calibImages`, found under the
#      lab_calib directory, the dense one on model-input files), and quarot with a data-free W8A8_DYNAMIC config without any samples:
#      optional/quarot.safetensors and the description's "optional" block as spec §7.4;
#   3. error paths, each one line with a non-zero status and no export.
# The W8A8 logits are measured by tests/tools/fakequant_logits.c and, when python3 has torch, also
# by tests/reference/fakequant_torch.py. The exports of the shipped configs are checked value by value against the PyTorch reference in
# test_quant_calib.sh (cases dense_quarot_smooth, moe_quarot_smooth).
set -euo pipefail
: "${VLMSLIM:?}" "${VLMSLIM_MKMODEL:?}" "${VS_BUILD_DIR:?}" "${VS_TEST_TMP:?}"
mkdir -p "$VS_TEST_TMP"
tmp=$(mktemp -d "$VS_TEST_TMP/outlier.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cmp=$VS_BUILD_DIR/tests/tools/vs-compare-tensors
configs=../shared/data/msmodelslim_configs
failures=0
live=0
if [ -n "${VS_PYTHON:-}" ] && "$VS_PYTHON" -c 'import torch, numpy' 2>/dev/null; then live=1; fi

"$VLMSLIM_MKMODEL" --family qwen3_vl --preset tiny --dtype f32 --seed 41 --head-dim 32 --out "$tmp/dense" >/dev/null
tests/golden/calib/make_image_inputs.sh "$VS_BUILD_DIR" "$tmp/dense" gen:64x48,gen:40x72 "$tmp/dense.inputs"
"$VLMSLIM" forward --model_path "$tmp/dense" --model_type Qwen3-VL-8B-Instruct --inputs "$tmp/dense.inputs" \
  --dump "$tmp/ref" >/dev/null

# A config with the given processor block and a linear_quant entry that selects no Linear.
float_config() { # out.yaml, then the processor lines
  local out=$1; shift
  { printf 'apiversion: multimodal_vlm_modelslim_v1\nspec:\n  process:\n'
    printf '%s\n' "$@"
    printf '    - type: "linear_quant"\n      qconfig:\n'
    printf '        act: {scope: "per_tensor", dtype: "int8", symmetric: False, method: "minmax"}\n'
    printf '        weight: {scope: "per_channel", dtype: "int8", symmetric: True, method: "minmax"}\n'
    printf '      include: ["no.such.module"]\n  save:\n    - type: "ascendv1_saver"\n      part_file_size: 0\n'
    printf '  dataset: "calibImages"\n'; } > "$out"
}
quarot32='    - type: "quarot"
      block_size: 32'
quarot_full='    - type: "quarot"'
iter='    - type: "iter_smooth"
      alpha: 0.9
      enable_subgraph_type: ["norm-linear", "linear-linear", "ov", "up-down"]'
sq='    - type: "smooth_quant"'
float_config "$tmp/quarot_iter.yaml" "$quarot32" "$iter"
float_config "$tmp/iter_quarot.yaml" "$iter" "$quarot32"
float_config "$tmp/quarot_full.yaml" "$quarot_full"
float_config "$tmp/iter.yaml" "$iter"
float_config "$tmp/sq.yaml" "$sq"
float_config "$tmp/iter_ov.yaml" "$iter
      include: [\"*self_attn.v_proj\"]"
float_config "$tmp/iter_none.yaml" "$iter
      exclude: [\"*\"]"
for case in quarot_iter:logits iter_quarot:logits quarot_full:logits iter:all sq:all iter_ov:all; do
  name=${case%%:*} what=${case#*:}
  echo "== float equivalence: $name"
  "$VLMSLIM" quant --model_path "$tmp/dense" --save_path "$tmp/$name.out" --model_type Qwen3-VL-8B-Instruct \
    --config_path "$tmp/$name.yaml" --calib_inputs "$tmp/dense.inputs" --quiet 2>"$tmp/$name.log" ||
    { cat "$tmp/$name.log"; failures=$((failures + 1)); continue; }
  "$VLMSLIM" forward --model_path "$tmp/$name.out" --model_type Qwen3-VL-8B-Instruct --inputs "$tmp/dense.inputs" \
    --dump "$tmp/$name.dump" >/dev/null
  for f in "$tmp"/ref/sample_*.safetensors; do
    if [ "$what" = logits ]; then only=(--only logits); else only=(); fi
    "$cmp" "${only[@]}" "$tmp/$name.dump/$(basename "$f")" "$f" 1e-4 || failures=$((failures + 1))
  done
  # the transforms changed the weights (a no-op would pass the comparison too)
  if "$cmp" "$tmp/$name.out/quant_model_weights.safetensors" "$tmp/dense/model.safetensors" 1e-6 >/dev/null; then
    echo "FAIL: $name: the export's tensors equal the checkpoint's"; failures=$((failures + 1))
  fi
done

echo "== iter_smooth excluding every subgraph: the export's tensors are the checkpoint's"
"$VLMSLIM" quant --model_path "$tmp/dense" --save_path "$tmp/iter_none.out" --model_type Qwen3-VL-8B-Instruct \
  --config_path "$tmp/iter_none.yaml" --calib_inputs "$tmp/dense.inputs" --quiet 2>/dev/null
"$cmp" "$tmp/iter_none.out/quant_model_weights.safetensors" "$tmp/dense/model.safetensors" 0 >/dev/null &&
  echo "ok: nothing smoothed" || { echo "FAIL: iter_smooth with exclude: ['*'] changed tensors"; failures=$((failures + 1)); }

echo "== msModelSlim's shipped configs, unchanged, on bf16 checkpoints"
"$VLMSLIM_MKMODEL" --family qwen3_vl_moe --preset tiny --dtype bf16 --seed 42 --head-dim 32 --out "$tmp/moe" >/dev/null
"$VLMSLIM_MKMODEL" --family qwen3_vl --preset tiny --dtype bf16 --seed 43 --head-dim 32 --out "$tmp/dense16" >/dev/null
tests/golden/calib/make_image_inputs.sh "$VS_BUILD_DIR" "$tmp/dense16" gen:64x48 "$tmp/dense16.inputs"
for run in "moe|Qwen3-VL-30B-A3B|$configs/qwen3_vl_moe/qwen3_vl_moe_w8a8.yaml|dataset" \
           "dense16|Qwen3-VL-32B-Instruct|$configs/qwen3_vl/qwen3_vl_w8a8.yaml|inputs"; do
  IFS='|' read -r m type cfg from <<< "$run"
  calib=(--calib_inputs "$tmp/$m.inputs")
  [ "$from" = inputs ] || calib=()   # the config's dataset: msModelSlim's calibImages photos
  if ! VLMSLIM_LAB_CALIB_DIR=../shared/data "$VLMSLIM" quant --model_path "$tmp/$m" --save_path "$tmp/$m.out" \
      --model_type "$type" --config_path "$cfg" "${calib[@]}" --quiet 2>"$tmp/$m.log"; then
    cat "$tmp/$m.log"; failures=$((failures + 1)); continue
  fi
  grep -q '"optional": {"quarot": {"rotation_map": {"global_rotation": "optional/quarot.safetensors"}}}' \
    <(tr -d '\n ' < "$tmp/$m.out/quant_model_description.json" | sed 's/:/: /g; s/,/, /g') &&
    [ -f "$tmp/$m.out/optional/quarot.safetensors" ] && echo "ok: $m: optional/quarot.safetensors" ||
    { echo "FAIL: $m: no QuaRot optional block or file"; failures=$((failures + 1)); }
done

echo "== quarot with a data-free W8A8_DYNAMIC config: no samples needed"
cat > "$tmp/dyn.yaml" <<'EOF'
apiversion: multimodal_vlm_modelslim_v1
spec:
  process:
    - type: "quarot"
      block_size: 32
    - type: "linear_quant"
      qconfig:
        act: {scope: "per_token", dtype: "int8", symmetric: True, method: "minmax"}
        weight: {scope: "per_channel", dtype: "int8", symmetric: True, method: "minmax"}
      include: ["*experts*"]
  save:
    - type: "ascendv1_saver"
EOF
if "$VLMSLIM" quant --model_path "$tmp/moe" --save_path "$tmp/dyn.out" --model_type Qwen3-VL-30B-A3B \
    --config_path "$tmp/dyn.yaml" --quiet 2>"$tmp/dyn.log" && [ -f "$tmp/dyn.out/optional/quarot.safetensors" ]; then
  echo "ok: data-free quarot run"
else
  cat "$tmp/dyn.log"; failures=$((failures + 1))
fi

echo "== quarot with msModelSlim's hadamard_txt files (VLMSLIM_HADAMARD_DIR): hidden 80 = 40 x 2 uses order 40"
"$VLMSLIM_MKMODEL" --family qwen3_vl --preset tiny --dtype f32 --seed 45 --hidden 80 --head-dim 32 --out "$tmp/h80" >/dev/null
sed 's/block_size: 32/block_size: -1/; s/"\*experts\*"/"*q_proj"/' "$tmp/dyn.yaml" > "$tmp/dyn_dense.yaml"
h80() { "$VLMSLIM" quant --model_path "$tmp/h80" --save_path "$tmp/$1" --model_type Qwen3-VL-8B-Instruct \
          --config_path "$tmp/dyn_dense.yaml" --quiet 2>"$tmp/$1.log"; }
mkdir -p "$tmp/had_empty" "$tmp/had_other" "$tmp/had_bad"
# a valid order-40 Hadamard matrix other than vlmslim's: [[H, H], [H, -H]] of Paley I over GF(19),
# with column 0 negated
"${VS_PYTHON:-/usr/bin/python3}" - "$tmp/had_other/had.40.twill.txt" <<'PY'
import sys
q = 19
sq = {(x * x) % q for x in range(1, q)}
chi = lambda a: 0 if a % q == 0 else (1 if a % q in sq else -1)
h = [[(1 if j == 0 else -1) if i == 0 else (1 if j == 0 else (1 if i == j else chi(i - j))) for j in range(20)] for i in range(20)]
h = [r + r for r in h] + [r + [-v for v in r] for r in h]
for row in h:
    row[0] = -row[0]
open(sys.argv[1], "w").write("".join("".join("+" if v > 0 else "-" for v in row) + "\n" for row in h))
PY
head -3 "$tmp/had_other/had.40.twill.txt" > "$tmp/had_bad/had.40.twill.txt"
if h80 h_plain && VLMSLIM_HADAMARD_DIR=$tmp/had_empty h80 h_empty && VLMSLIM_HADAMARD_DIR=$tmp/had_other h80 h_other; then
  diff -r "$tmp/h_plain" "$tmp/h_empty" >/dev/null && echo "ok: a directory without the order's file: the constructed matrix" ||
    { echo "FAIL: an empty VLMSLIM_HADAMARD_DIR changed the export"; failures=$((failures + 1)); }
  w=quant_model_weights-00001-of-00001.safetensors
  if [ ! -f "$tmp/h_other/$w" ] || cmp -s "$tmp/h_plain/$w" "$tmp/h_other/$w"; then
    echo "FAIL: had.40.twill.txt in VLMSLIM_HADAMARD_DIR was not used"; failures=$((failures + 1))
  else
    echo "ok: the supplied order-40 matrix is used"
  fi
else
  cat "$tmp"/h_*.log; failures=$((failures + 1))
fi

echo "== planted activation outliers (mkmodel --outliers): W8A8 logits closer to the float model's"
# cosine of the fake-quantized export's last-position logits to the float model's, mean over samples
fq=$VS_BUILD_DIR/tests/tools/vs-fakequant-logits
"$VLMSLIM_MKMODEL" --family qwen3_vl --preset tiny --dtype bf16 --seed 51 --head-dim 32 --outliers --out "$tmp/outl" >/dev/null
tests/golden/calib/make_image_inputs.sh "$VS_BUILD_DIR" "$tmp/outl" gen:64x48,gen:40x72,gen:56x56,gen:80x40 "$tmp/outl.inputs"
shipped=$configs/qwen3_vl/qwen3_vl_w8a8.yaml
# the shipped config without quarot and iter_smooth (plain W8A8), without quarot, and unchanged
awk '/- type: "quarot"/{skip=1} /- type: "linear_quant"/{skip=0} !skip' "$shipped" > "$tmp/plain.yaml"
awk '/- type: "quarot"/{skip=1} /- type: "iter_smooth"/{skip=0} !skip' "$shipped" > "$tmp/iter_only.yaml"
cp "$shipped" "$tmp/both.yaml"
declare -A cosine kl
for c in plain iter_only both; do
  "$VLMSLIM" quant --model_path "$tmp/outl" --save_path "$tmp/$c.q" --model_type Qwen3-VL-32B-Instruct \
    --config_path "$tmp/$c.yaml" --calib_inputs "$tmp/outl.inputs" --quiet 2>/dev/null
  cosine[$c]=$("$fq" "$tmp/outl" "$tmp/$c.q" "$tmp/outl.inputs" "$tmp/$c.deq" | sed -n 's/^cosine mean \([0-9.]*\) .*/\1/p')
  # vlmslim eval on the same export: mean KL and top-1 agreement over every text position
  "$VLMSLIM" eval --model_path "$tmp/outl" --quant_path "$tmp/$c.q" --calib_inputs "$tmp/outl.inputs" \
    --report "$tmp/$c.eval.json" --quiet >/dev/null
  kl[$c]=$("$VS_PYTHON" -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print("%.6g %.4f" % (s["kl_mean"], s["top1_agreement"]))' "$tmp/$c.eval.json")
  echo "$c: cosine mean ${cosine[$c]}, eval: mean KL and top-1 agreement ${kl[$c]}"
  if [ "$live" = 1 ]; then # the same measurement by the independent PyTorch implementation
    ref=$("$VS_PYTHON" tests/reference/fakequant_torch.py "$tmp/outl" "$tmp/$c.q" "$tmp/outl.inputs" |
          sed -n 's/^cosine mean \([0-9.]*\) .*/\1/p')
    awk -v a="${cosine[$c]}" -v b="$ref" 'BEGIN { d = a - b; exit !(d < 1e-4 && d > -1e-4) }' &&
      echo "ok: $c: PyTorch's fake-quantized logits give cosine $ref" ||
      { echo "FAIL: $c: vs-fakequant-logits ${cosine[$c]}, PyTorch $ref"; failures=$((failures + 1)); }
  fi
done
for c in iter_only both; do
  if awk -v a="${cosine[$c]}" -v b="${cosine[plain]}" 'BEGIN { exit !(a > b) }'; then
    echo "ok: $c improves on plain W8A8 (${cosine[$c]} > ${cosine[plain]})"
    if awk -v a="${kl[$c]% *}" -v b="${kl[plain]% *}" 'BEGIN { exit !(a < b) }'; then
      echo "ok: $c lowers the mean KL of plain W8A8 (${kl[$c]% *} < ${kl[plain]% *})"
    else
      echo "FAIL: $c (mean KL ${kl[$c]% *}) does not lower plain W8A8's (${kl[plain]% *})"; failures=$((failures + 1))
    fi
  else
    echo "FAIL: $c (${cosine[$c]}) does not improve on plain W8A8 (${cosine[plain]})"; failures=$((failures + 1))
  fi
done
# the measurement itself: an export with nothing quantized is the float model (cosine 1)
one=$("$fq" "$tmp/dense" "$tmp/quarot_iter.out" "$tmp/dense.inputs" "$tmp/float.deq" | sed -n 's/^cosine mean \([0-9.]*\) .*/\1/p')
awk -v a="$one" 'BEGIN { exit !(a > 0.999999) }' && echo "ok: float export: cosine $one" ||
  { echo "FAIL: a float export's cosine is $one"; failures=$((failures + 1)); }

expect_error() { # expected-substring, save path, then the command
  local want=$1 save=$2; shift 2
  if "$@" >"$tmp/out" 2>"$tmp/err"; then echo "FAIL: succeeded: $*"; failures=$((failures + 1)); return; fi
  if [ "$(grep -c error "$tmp/err")" -ne 1 ] || ! grep -qF -- "$want" "$tmp/err" || [ -e "$save" ]; then
    echo "FAIL: expected one error line with '$want' and no $save, got:"; cat "$tmp/err"; failures=$((failures + 1)); return
  fi
  echo "ok: $want"
}
q=("$VLMSLIM" quant --model_path "$tmp/dense" --model_type Qwen3-VL-8B-Instruct --calib_inputs "$tmp/dense.inputs")
float_config "$tmp/online.yaml" "$quarot32
      online: true"
expect_error "spec.process[0]: quarot online: true is not supported" "$tmp/e1" "${q[@]}" --save_path "$tmp/e1" \
  --config_path "$tmp/online.yaml"
"$VLMSLIM_MKMODEL" --family qwen3_vl --preset tiny --dtype f32 --seed 44 --head-dim 32 --tie --out "$tmp/tied" >/dev/null
expect_error "spec.process[0] (model family 'qwen3_vl'): quarot cannot rotate a model with tie_word_embeddings: true" \
  "$tmp/e2" "$VLMSLIM" quant --model_path "$tmp/tied" --model_type Qwen3-VL-8B-Instruct --save_path "$tmp/e2" \
  --config_path "$tmp/quarot_iter.yaml" --calib_inputs "$tmp/dense.inputs"
expect_error "spec.dataset: Dataset path does not exist: calibImages" "$tmp/e4" "$VLMSLIM" quant --model_path "$tmp/dense" \
  --model_type Qwen3-VL-8B-Instruct --save_path "$tmp/e4" --config_path "$tmp/iter.yaml"
VLMSLIM_HADAMARD_DIR=$tmp/had_bad expect_error "had_bad/had.40.twill.txt: 3 rows, expected 40" "$tmp/e6" "$VLMSLIM" quant --model_path "$tmp/h80" \
  --model_type Qwen3-VL-8B-Instruct --save_path "$tmp/e6" --config_path "$tmp/dyn_dense.yaml"
VLMSLIM_HADAMARD_DIR=$tmp/no-such-dir expect_error "VLMSLIM_HADAMARD_DIR=$tmp/no-such-dir: not a directory" "$tmp/e7" \
  "$VLMSLIM" quant --model_path "$tmp/h80" --model_type Qwen3-VL-8B-Instruct --save_path "$tmp/e7" \
  --config_path "$tmp/dyn_dense.yaml"
float_config "$tmp/block.yaml" '    - type: "quarot"
      block_size: 64'
expect_error "spec.process[0] (model family 'qwen3_vl'): BLOCK_HADAMARD_SHIFTED rotation: block_size 64" "$tmp/e5" \
  "${q[@]}" --save_path "$tmp/e5" --config_path "$tmp/block.yaml"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all outlier-suppression checks passed"
