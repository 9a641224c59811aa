#!/usr/bin/env bash
# vlmslim eval end to end:
# - against the independent PyTorch reference (tests/reference/eval_torch.py): for each case of
#   tests/golden/eval/cases.txt (ascendv1 golden exports of the calibrated and data-free suites:
#   W8A8, W8A8_DYNAMIC and W8A16 Linears, QuaRot + iter_smooth, shifted smoothing's norm biases,
#   MoE, Qwen2.5-VL; compressed-tensors exports with every scheme, zero points, MoE experts, packed
#   W8A16, QuaRot's rotation file) the report's KL divergences within 1e-4 relative, cosines and relative errors within
#   1e-5, counts and top-1 agreement equal, and where the case asks for them the greedy
#   continuations' token ids equal; with torch importable the reference also runs live;
# - the report: eval_report.json's sections, a self-contained HTML page (inline SVG, no script,
#   nothing fetched), the model type taken from the export's best-practice file;
# - broken exports: one layer's input_offset negated gives a much larger KL; a dropped deq_scale,
#   and every other inconsistency of the description and the files, is one error line naming the
#   tensor, exit 1, no report written; for compressed-tensors, the config groups against the
#   tensors both ways, unsupported schemes and formats, a missing or mistyped tensor;
# - vlmslim quant --eval: the same report right after the export, ascendv1 or compressed-tensors;
# - --compute bf16 against the reference run the same way (tests/golden/eval/bf16_cases.txt).
# Note: an activation within float32 noise of a rounding boundary of a quantizer can round the
# other way in the two implementations (their float32 sums differ in the last bit); one such
# flip moves these tiny fixtures' KL by up to ~1%. The cases were chosen free of flips on the
# machines the goldens were checked on.
set -euo pipefail
: "${VLMSLIM:?}" "${VLMSLIM_MKMODEL:?}" "${VS_BUILD_DIR:?}" "${VS_TEST_TMP:?}" "${VS_PYTHON:?}"
mkdir -p "$VS_TEST_TMP"
tmp=$(mktemp -d "$VS_TEST_TMP/eval.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
source tests/e2e/helpers.sh
source tests/golden/eval/case.sh
py=$VS_PYTHON
live=0
if "$py" -c 'import torch, numpy' 2>/dev/null; then live=1; fi
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
kl() { "$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["kl_mean"])' "$1"; }

while IFS='|' read -r name source grids max_new; do
  [ -n "$name" ] || continue
  vs_eval_case "$name" "$source" "$grids"
  digest=$("$VLMSLIM_MKMODEL" "${VS_EVAL_MKMODEL[@]}" --out "$tmp/$name" --verbose | sed -n 's/.*, digest \([0-9a-f]*\)$/\1/p')
  [ "$digest" = "$(cat "$VS_EVAL_FIXTURE")" ] || { echo "FAIL: $name: generator drift (digest $digest)"; exit 1; }
  echo "== $name: vlmslim eval --quant_path $VS_EVAL_EXPORT"
  gen=() ref_gen=(); [ -z "$max_new" ] || gen=(--max_new_tokens "$max_new") ref_gen=(--max-new-tokens "$max_new")
  "$VLMSLIM" eval --model_path "$tmp/$name" --quant_path "$VS_EVAL_EXPORT" --calib_inputs "$VS_EVAL_INPUTS" \
    --report "$tmp/$name.json" "${gen[@]}" --quiet || { fail "$name: vlmslim eval failed"; continue; }
  "$py" tests/tools/compare_eval.py "$tmp/$name.json" "tests/golden/eval/$name.json" || fail "$name: against the golden"
  if [[ "$source" == ct:* ]]; then # the committed export is one vLLM loads
    "$py" tests/tools/check_compressed_tensors.py "$VS_EVAL_EXPORT" >/dev/null || fail "$name: not what vLLM loads"
  fi
  if [ "$live" = 1 ]; then
    "$py" tests/reference/eval_torch.py "$tmp/$name" "$VS_EVAL_EXPORT" "$VS_EVAL_INPUTS" "$tmp/$name.ref.json" "${ref_gen[@]}"
    "$py" tests/tools/compare_eval.py "$tmp/$name.json" "$tmp/$name.ref.json" || fail "$name: against the live reference"
  fi
done < tests/golden/eval/cases.txt

# --compute bf16: both models' Linears (but the head) as a bf16 engine computes them (docs/compute.md)
while read -r name; do
  IFS='|' read -r _ source grids _ <<<"$(grep "^$name|" tests/golden/eval/cases.txt)"
  vs_eval_case "$name" "$source" "$grids"
  echo "== $name: vlmslim eval --compute bf16"
  "$VLMSLIM" eval --model_path "$tmp/$name" --quant_path "$VS_EVAL_EXPORT" --calib_inputs "$VS_EVAL_INPUTS" \
    --report "$tmp/$name.bf16.json" --compute bf16 --quiet || { fail "$name: vlmslim eval --compute bf16 failed"; continue; }
  "$py" tests/tools/compare_eval.py "$tmp/$name.bf16.json" "tests/golden/eval/bf16/$name.json" ||
    fail "$name: bf16 against the golden"
  [ "$(kl "$tmp/$name.bf16.json")" != "$(kl "$tmp/$name.json")" ] || fail "$name: bf16 gives fp32's KL"
done < tests/golden/eval/bf16_cases.txt

echo "== the report"
m=$tmp/dense_quarot_smooth g=tests/golden/calib/dense_quarot_smooth
# vlmslim's own export of the case, with its quant_report.json beside it
config=$(grep '^dense_quarot_smooth|' tests/golden/calib/cases.txt | cut -d'|' -f3)
"$VLMSLIM" quant --model_path "$m" --save_path "$tmp/export" --model_type Qwen3-VL-32B-Instruct \
  --config_path "$config" --calib_inputs "$g.inputs" --eval --quiet >"$tmp/quant_eval.txt"
grep -q '^vlmslim: eval: ' "$tmp/quant_eval.txt" && mv "$tmp/export.eval_report.json" "$tmp/quant_eval.json" ||
  fail "quant --eval: $(cat "$tmp/quant_eval.txt")"
# no --model_type (the export's Qwen3-VL-32B-Instruct_best_practice.yaml), the default report path
"$VLMSLIM" eval --model_path "$m" --quant_path "$tmp/export/" --calib_inputs "$g.inputs" --max_new_tokens 3 >"$tmp/out.txt" 2>&1 ||
  fail "eval with the default paths: $(cat "$tmp/out.txt")"
json=$tmp/export.eval_report.json html=$tmp/export.eval_report.html
"$py" - "$json" <<'PY' || fail "eval_report.json lacks a section"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["model_type"] == "Qwen3-VL-32B-Instruct", r["model_type"]
assert r["verdict"] in ("good", "check", "poor") and len(r["verdict_lines"]) == 3
assert [u["name"] for u in r["units"]] == ["model.visual", "model.language_model.layers.0", "model.language_model.layers.1"]
assert len(r["samples"]) == 2 and all(len(u["per_sample_cosine"]) == 2 for u in r["units"])
assert len(r["worst_linears"]) == 10 and r["worst_linears"][0]["relative_output_error"] >= r["worst_linears"][1]["relative_output_error"]
assert r["quant_report"].endswith("export.quant_report.json")
for s in r["samples"]:  # the continuations, decoded with the checkpoint's tokenizer
    g = s["generation"]
    assert len(g["float"]["ids"]) == 3 and isinstance(g["float"]["text_agreed"], str), g
PY
grep -q '^vlmslim: eval: good' "$tmp/out.txt" && grep -q "report: $json, $html" "$tmp/out.txt" ||
  fail "the summary lines: $(cat "$tmp/out.txt")"
[ "$(kl "$json")" = "$(kl "$tmp/quant_eval.json")" ] && echo "ok: quant --eval reports what eval does" ||
  fail "quant --eval: mean KL $(kl "$tmp/quant_eval.json"), eval $(kl "$json")"
# quant --eval on a compressed-tensors export: evaluated with vLLM's kernels, as the report says
sed 's/type: "ascendv1_saver"/type: "compressed_tensors_saver"/' "$config" >"$tmp/ct.yaml"
"$VLMSLIM" quant --model_path "$m" --save_path "$tmp/ct.out" --model_type Qwen3-VL-32B-Instruct \
  --config_path "$tmp/ct.yaml" --calib_inputs "$g.inputs" --eval --quiet >"$tmp/ct_eval.txt" 2>&1 &&
  grep -q '^vlmslim: eval: good' "$tmp/ct_eval.txt" &&
  "$py" -c 'import json,sys; assert json.load(open(sys.argv[1]))["export_format"] == "compressed-tensors"' \
    "$tmp/ct.out.eval_report.json" && echo "ok: quant --eval of a compressed-tensors export" ||
  fail "quant --eval, compressed-tensors: $(cat "$tmp/ct_eval.txt")"
if grep -q '<svg' "$html" && grep -q 'Where the error enters' "$html" && grep -q 'Worst Linears' "$html" &&
   grep -q '<h2>Generations</h2>' "$html" &&
   ! grep -qiE '<script|<link|<img|src=|href=|url\(' "$html" &&
   [ "$(grep -o 'http[s]*://[^"]*' "$html" | sort -u)" = "http://www.w3.org/2000/svg" ]; then
  echo "ok: a self-contained HTML report"
else
  fail "$html is not a self-contained report"
fi
# the MoE case's report has the routing: every expert's tokens in both models
"$py" - "$tmp/moe_quarot_smooth.json" <<'PY' || fail "moe routing"
import json, sys
r = json.load(open(sys.argv[1]))
routes = r["moe_routing"]
assert routes and all(x["tokens_float"] >= 0 and x["tokens_quant"] >= 0 for x in routes)
assert sum(x["tokens_float"] for x in routes) == sum(x["tokens_quant"] for x in routes) > 0
PY

echo "== a broken export is caught"
cp -r "$g" "$tmp/flip"
# the W8A8 Linear of layer 0 with the largest input offset
offset=$("$py" - "$g" <<'PY'
import os, sys
sys.path.insert(0, "tests/reference")
import safetensors_np as st
t, _ = st.load_checkpoint(sys.argv[1])
names = [n for n in t if n.endswith(".input_offset") and ".layers.0." in n]
print(max(names, key=lambda n: abs(float(t[n].array.reshape(-1)[0]))))
PY
)
"$py" tests/tools/edit_export.py "$tmp/flip" negate "$offset"
"$VLMSLIM" eval --model_path "$m" --quant_path "$tmp/flip" --calib_inputs "$g.inputs" --report "$tmp/flip.json" --quiet >/dev/null
a=$(kl "$tmp/dense_quarot_smooth.json") b=$(kl "$tmp/flip.json")
awk -v a="$a" -v b="$b" 'BEGIN { exit !(b > 20 * a) }' && echo "ok: $offset negated: mean KL $a -> $b" ||
  fail "$offset negated: mean KL $a -> $b"

broken() { # name, message, edit...
  local name=$1 msg=$2
  shift 2
  rm -rf "$tmp/$name"
  cp -r "$g" "$tmp/$name"
  [ "$#" -eq 0 ] || "$py" tests/tools/edit_export.py "$tmp/$name" "$@"
  vs_expect_error "$name" "$msg" "$tmp/$name.report.json" "$VLMSLIM" eval --model_path "$m" --quant_path "$tmp/$name" \
    --calib_inputs "$g.inputs" --report "$tmp/$name.report.json" --quiet || failures=$((failures + 1))
}
q=model.language_model.layers.1.mlp.up_proj
f=quant_model_weights-00001-of-00001.safetensors
broken dropped "$tmp/dropped/quant_model_description.json: tensor '$q.deq_scale' (W8A8) is in no weight file of $tmp/dropped" \
  drop $q.deq_scale
broken forgotten "$tmp/forgotten/quant_model_description.json: W8A8 Linear '$q' has no tensor '$q.deq_scale'" \
  forget $q.deq_scale
rm -rf "$tmp/undescribed"; cp -r "$g" "$tmp/undescribed"
"$py" tests/tools/edit_export.py "$tmp/undescribed" add model.language_model.layers.0.extra FLOAT
"$py" - "$tmp/undescribed/quant_model_description.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
del d["model.language_model.layers.0.extra"]
json.dump(d, open(sys.argv[1], "w"))
PY
vs_expect_error undescribed "$tmp/undescribed/$f: tensor 'model.language_model.layers.0.extra' is not in" \
  "$tmp/undescribed.report.json" "$VLMSLIM" eval --model_path "$m" --quant_path "$tmp/undescribed" \
  --calib_inputs "$g.inputs" --report "$tmp/undescribed.report.json" --quiet || failures=$((failures + 1))
broken unused "$tmp/unused/$f: tensor 'model.language_model.layers.0.extra' (FLOAT) is no parameter of the model's forward pass, which would ignore it" \
  add model.language_model.layers.0.extra FLOAT
broken w4a8 "$tmp/w4a8/quant_model_description.json: tensor '$q.weight' is W4A8_DYNAMIC; vlmslim eval computes FLOAT, W8A8, W8A8_DYNAMIC and W8A16 Linears" \
  type $q.weight W4A8_DYNAMIC
broken bad_dtype "$tmp/bad_dtype/$f: tensor '$q.quant_bias' of W8A8 Linear '$q' is F32 with 96 element(s); expected I32 with 96" \
  dtype $q.quant_bias F32
cp -r "$g" "$tmp/no_description"
rm -f "$tmp/no_description/quant_model_description.json"
VS_EXPECT_RC=2 vs_expect_error no_description "--quant_path $tmp/no_description: neither quant_model_description.json (ascendv1) nor a compressed-tensors quantization_config in config.json: not an export" \
  "$tmp/no_description.report.json" "$VLMSLIM" eval --model_path "$m" --quant_path "$tmp/no_description" \
  --calib_inputs "$g.inputs" --report "$tmp/no_description.report.json" --quiet || failures=$((failures + 1))
cp -r "$g" "$tmp/no_type"
rm "$tmp/no_type/Qwen3-VL-32B-Instruct_best_practice.yaml"
VS_EXPECT_RC=2 vs_expect_error no_type "--model_type is required: $tmp/no_type holds no *_best_practice.yaml to take it from" "" \
  "$VLMSLIM" eval --model_path "$m" --quant_path "$tmp/no_type" --calib_inputs "$g.inputs" || failures=$((failures + 1))
VS_EXPECT_RC=2 vs_expect_error two_sources "give one of --dataset, --calib_inputs and --config_path" "" \
  "$VLMSLIM" eval --model_path "$m" --quant_path "$g" --calib_inputs "$g.inputs" --dataset x || failures=$((failures + 1))
vs_expect_error wrong_model "$g: the model's 'model.language_model.layers.0.mlp.gate.weight' is in none of its weight files" "" \
  "$VLMSLIM" eval --model_path "$tmp/moe_quarot_smooth" --quant_path "$g" --model_type Qwen3-VL-30B-A3B \
  --calib_inputs "$g.inputs" || failures=$((failures + 1))

echo "== a broken compressed-tensors export is caught"
c=tests/golden/eval/ct/ct_dense_mixed cm=$tmp/ct_dense_mixed
cq=model.language_model.layers.1.mlp.up_proj cp=model.visual.blocks.0.mlp.linear_fc1
# ct_broken NAME MESSAGE PYTHON: a copy of the export, PYTHON run on its quantization_config (q)
ct_broken() {
  rm -rf "$tmp/$1"
  cp -r "$c" "$tmp/$1"
  "$py" - "$tmp/$1/config.json" "$3" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
q = cfg["quantization_config"]
exec(sys.argv[2])
json.dump(cfg, open(sys.argv[1], "w"), indent=2)
PY
  vs_expect_error "$1" "$2" "$tmp/$1.report.json" "$VLMSLIM" eval --model_path "$cm" --quant_path "$tmp/$1" \
    --calib_inputs "$gd.inputs" --report "$tmp/$1.report.json" --quiet || failures=$((failures + 1))
}
gd=tests/golden/calib/dense_quarot_smooth
ct_broken ct_untargeted "$tmp/ct_untargeted/model.safetensors: tensor '$cq.weight' is quantized, but quantization_config has no group for Linear '$cq'" \
  'q["config_groups"]["group_0"]["targets"].remove("'$cq'")'
ct_broken ct_ignored "$tmp/ct_ignored/model.safetensors: tensor '$cq.weight' is quantized, but quantization_config ignores Linear '$cq'" \
  'q["ignore"].append("'$cq'")'
ct_broken ct_float_targeted "$tmp/ct_float_targeted/config.json: quantization_config.config_groups.group_0 (W8A8 dynamic per token) targets Linear 'model.visual.blocks.0.mlp.linear_fc2', which is not in ignore, but its weight 'model.visual.blocks.0.mlp.linear_fc2.weight' is float: the loader would expect its quantized tensors" \
  'q["ignore"].remove("model.visual.blocks.0.mlp.linear_fc2"); q["config_groups"]["group_0"]["targets"].append("re:model\\.visual\\.blocks\\.0\\.mlp\\.linear_fc2$")'
ct_broken ct_int4 "$tmp/ct_int4/config.json: quantization_config.config_groups.group_0.weights: vlmslim eval computes symmetric 8-bit int weights per channel or tensor (num_bits 8, type int, symmetric true, strategy channel or tensor)" \
  'q["config_groups"]["group_0"]["weights"]["num_bits"] = 4'
ct_broken ct_fp8 "$tmp/ct_fp8/config.json: quantization_config.config_groups.group_1: format float-quantized; vlmslim eval reads int-quantized and pack-quantized weights" \
  'q["config_groups"]["group_1"]["format"] = "float-quantized"'
ct_edit() { # NAME MESSAGE EDIT...: a tensor of the export broken by tests/tools/edit_export.py
  local name=$1 msg=$2
  shift 2
  rm -rf "$tmp/$name"
  cp -r "$c" "$tmp/$name"
  "$py" tests/tools/edit_export.py "$tmp/$name" "$@"
  vs_expect_error "$name" "$msg" "$tmp/$name.report.json" "$VLMSLIM" eval --model_path "$cm" --quant_path "$tmp/$name" \
    --calib_inputs "$gd.inputs" --report "$tmp/$name.report.json" --quiet || failures=$((failures + 1))
}
ct_edit ct_dropped "$tmp/ct_dropped/config.json quantization_config: W8A8 dynamic per token Linear '$cq' has no tensor '$cq.weight_scale'" \
  drop $cq.weight_scale
ct_edit ct_shape "$tmp/ct_shape/model.safetensors: tensor '$cp.weight_shape' of W8A16 Linear '$cp' is F32 with 2 element(s); expected I64 or I32 with 2" \
  dtype $cp.weight_shape F32

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "test_eval: all passed"
