#!/usr/bin/env bash
# The compressed-tensors saver (src/save/compressed_tensors.c): one run writing ascendv1 at
# --save_path and compressed-tensors at the second saver's save_path, for the calibrated MoE
# case (W8A8 static asymmetric attention and vision, W8A8_DYNAMIC experts) and a data-free dense
# sharded case (W8A8_DYNAMIC everywhere), a dense calibrated case and a dense W8A16 case whose
# simulated logits are compared; tests/tools/compare_ct_ascendv1.py checks the two exports hold
# the same quantized model, and tests/tools/check_compressed_tensors.py that the export is what
# vLLM loads (with --self-test once: each way of breaking the export it must catch). Qwen2.5-VL: a
# data-free W8A8_DYNAMIC export of a transformers >= 4.52 checkpoint and a calibrated mixed-precision
# one (W8A16 vision MLP inputs, W8A8 static attention, W8A8_DYNAMIC text MLP) of a tied one, the
# same checks, the simulated logits of the second and the published names in both. Then every
# refusal: its one-line message, exit code, no output at either path, and no unit processed first.
set -euo pipefail
: "${VLMSLIM:?}" "${VLMSLIM_MKMODEL:?}" "${VS_BUILD_DIR:?}" "${VS_TEST_TMP:?}" "${VS_PYTHON:?}"
mkdir -p "$VS_TEST_TMP"
tmp=$(mktemp -d "$VS_TEST_TMP/ct.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# A copy of config $1 with a compressed_tensors_saver (part_file_size $3) writing to $2 after its ascendv1_saver.
with_ct() {
  sed "s|^      part_file_size: 0\$|      part_file_size: 0\n    - type: \"compressed_tensors_saver\"\n      part_file_size: $3\n      save_path: \"$2\"|" "$1"
}

check_pair() { # $1 compressed-tensors dir, $2 ascendv1 dir, $3 global format, [$4 --self-test]
  "$VS_PYTHON" tests/tools/compare_ct_ascendv1.py "$1" "$2" || fail "$1: not the model of $2"
  "$VS_PYTHON" tests/tools/check_compressed_tensors.py ${4:-} "$1" || fail "$1: not what vLLM loads"
  [ -f "$1/tokenizer.json" ] && [ -f "$1/tokenizer_config.json" ] && [ -f "$1/preprocessor_config.json" ] &&
    { [ -f "$1/chat_template.json" ] || grep -q '"chat_template"' "$1/tokenizer_config.json"; } || fail "$1: side files missing"
  [ ! -e "$1/quant_model_description.json" ] || fail "$1: holds ascendv1's description"
  "$VS_PYTHON" - "$1/config.json" "$3" <<'PY' || fail "$1/config.json: quantization_config"
import json, sys
c = json.load(open(sys.argv[1]))
q = c["quantization_config"]
assert q["format"] == sys.argv[2], q["format"]
assert "lm_head" in q["ignore"] or "language_model.lm_head" in q["ignore"]  # the checkpoint's head (InternVL's)
targets = [t for g in q["config_groups"].values() for t in g["targets"]]
# one group: the class name, as llm-compressor writes it; several: names and regexes only
assert targets == ["Linear"] if len(q["config_groups"]) == 1 else "Linear" not in targets, targets
assert len(targets) == len(set(targets)) and not set(targets) & set(q["ignore"]), targets
PY
}

# 1. calibrated MoE: static asymmetric W8A8 and dynamic experts
moe=$tmp/moe
"$VLMSLIM_MKMODEL" --family qwen3_vl_moe --preset tiny --dtype bf16 --seed 21 --out "$moe" >/dev/null
with_ct tests/data/configs/moe_w8a8_static.yaml "$tmp/moe-ct" 0 >"$tmp/moe.yaml"
"$VLMSLIM" quant --model_path "$moe" --save_path "$tmp/moe-a" --model_type Qwen3-VL-30B-A3B \
  --config_path "$tmp/moe.yaml" --calib_inputs tests/golden/calib/moe_static.inputs --quiet >/dev/null
check_pair "$tmp/moe-ct" "$tmp/moe-a" int-quantized --self-test
[ -f "$tmp/moe-ct/model.safetensors" ] && [ ! -e "$tmp/moe-ct/model.safetensors.index.json" ] ||
  fail "moe: part_file_size 0 is not one model.safetensors"
grep -q '"symmetric": false' "$tmp/moe-ct/config.json" || fail "moe: no asymmetric static group"

# 2. data-free dense, sharded (64 KiB shards in both exports)
dense=$tmp/dense
"$VLMSLIM_MKMODEL" --family qwen3_vl --preset tiny --dtype bf16 --seed 5 --out "$dense" >/dev/null
with_ct tests/data/configs/dense_dynamic.yaml "$tmp/dense-ct" 1 >"$tmp/dense.yaml"
grep -q compressed_tensors_saver "$tmp/dense.yaml" || fail "dense_dynamic.yaml: no saver inserted"
VLMSLIM_PART_FILE_BYTES=65536 "$VLMSLIM" quant --model_path "$dense" --save_path "$tmp/dense-a" \
  --model_type Qwen3-VL-4B-Instruct --config_path "$tmp/dense.yaml" --quiet >/dev/null
check_pair "$tmp/dense-ct" "$tmp/dense-a" int-quantized
[ -f "$tmp/dense-ct/model.safetensors.index.json" ] && ls "$tmp/dense-ct" | grep -q '^model-00002-of-' ||
  fail "dense: not sharded as model-0000i-of-0000N.safetensors"

# 3. W8A16 vision MLP inputs, W8A8 static attention, W8A8_DYNAMIC elsewhere in the text model (a
#    mixed-precision export); the quantized model of each export, simulated as its engine reads it (int8 weights × scales,
#    activations fake-quantized per the scheme): the same logits within 1e-5 of the largest
dl=$tmp/dl
"$VLMSLIM_MKMODEL" --family qwen3_vl --preset tiny --dtype f16 --seed 23 --deepstack 0,1 --tie --out "$dl" >/dev/null
# mixed_config NAME W8A16_PATTERN DYNAMIC_PATTERN: $tmp/NAME.yaml, W8A16 on the first pattern, W8A8
# static (asymmetric) on the attention, W8A8_DYNAMIC on the second; ascendv1 + compressed-tensors
# at $tmp/NAME-ct
mixed_config() {
  cat >"$tmp/$1.yaml" <<YAML
apiversion: multimodal_vlm_modelslim_v1
spec:
  process:
    - type: "linear_quant"
      qconfig:
        act: {scope: "per_tensor", dtype: "float", symmetric: True, method: "none"}
        weight: {scope: "per_channel", dtype: "int8", symmetric: True, method: "minmax"}
      include: ["$2"]
    - type: "linear_quant"
      qconfig:
        act: {scope: "per_tensor", dtype: "int8", symmetric: False, method: "minmax"}
        weight: {scope: "per_channel", dtype: "int8", symmetric: True, method: "minmax"}
      include: ["*attn.qkv", "*attn.proj", "*self_attn.*"]
    - type: "linear_quant"
      qconfig:
        act: {scope: "per_token", dtype: "int8", symmetric: True, method: "minmax"}
        weight: {scope: "per_channel", dtype: "int8", symmetric: True, method: "minmax"}
      include: ["$3"]
  save:
    - type: "ascendv1_saver"
      part_file_size: 0
    - type: "compressed_tensors_saver"
      save_path: "$tmp/$1-ct"
YAML
}
mixed_config dl "*blocks.*.mlp.linear_fc1" "model.language_model.*"
"$VLMSLIM" quant --model_path "$dl" --save_path "$tmp/dl-a" --model_type Qwen3-VL-4B-Instruct \
  --config_path "$tmp/dl.yaml" --calib_inputs tests/golden/calib/dense_static_float.inputs --quiet >/dev/null
check_pair "$tmp/dl-ct" "$tmp/dl-a" mixed-precision --self-test
same_logits() { # $1 float model, $2 compressed-tensors dir, $3 ascendv1 dir, $4 label, [$5 model inputs]
  local line d m
  line=$("$VS_BUILD_DIR/tests/tools/vs-fakequant-logits" "$1" "$2" "${5:-tests/golden/calib/dense_static_float.inputs}" \
    "$2-work" "$3")
  echo "$4, compressed-tensors against ascendv1: $line"
  read -r d m < <(sed -n 's/^max abs logit difference \(.*\) of max |logit| \(.*\)$/\1 \2/p' <<<"$line")
  awk -v d="$d" -v m="$m" 'BEGIN { exit !(m > 0 && d <= 1e-5 * m) }' || fail "$4: logits differ: $line"
}
same_logits "$dl" "$tmp/dl-ct" "$tmp/dl-a" "dense W8A8 static + dynamic + W8A16"

# 4. W8A16 (pack-quantized) beside float vision Linears: a mixed-precision export
sed 's/part_file_size: 4$/part_file_size: 0/' tests/data/configs/dense_w8a16.yaml >"$tmp/w16-base.yaml"
with_ct "$tmp/w16-base.yaml" "$tmp/w16-ct" 0 >"$tmp/w16.yaml"
grep -q compressed_tensors_saver "$tmp/w16.yaml" || fail "dense_w8a16.yaml: no saver inserted"
"$VLMSLIM" quant --model_path "$dl" --save_path "$tmp/w16-a" --model_type Qwen3-VL-4B-Instruct \
  --config_path "$tmp/w16.yaml" --quiet >/dev/null
check_pair "$tmp/w16-ct" "$tmp/w16-a" pack-quantized
same_logits "$dl" "$tmp/w16-ct" "$tmp/w16-a" "dense W8A16"
# W8A16 experts (vLLM's WNA16 fused-MoE methods) beside W8A8_DYNAMIC attention
cat >"$tmp/m16.yaml" <<YAML
apiversion: multimodal_vlm_modelslim_v1
spec:
  process:
    - type: "linear_quant"
      qconfig:
        act: {scope: "per_tensor", dtype: "float", symmetric: True, method: "none"}
        weight: {scope: "per_channel", dtype: "int8", symmetric: True, method: "minmax"}
      include: ["*mlp.experts.*"]
    - type: "linear_quant"
      qconfig:
        act: {scope: "per_token", dtype: "int8", symmetric: True, method: "minmax"}
        weight: {scope: "per_channel", dtype: "int8", symmetric: True, method: "minmax"}
      include: ["*self_attn.*"]
  save:
    - type: "ascendv1_saver"
    - type: "compressed_tensors_saver"
      save_path: "$tmp/m16-ct"
YAML
"$VLMSLIM" quant --model_path "$moe" --save_path "$tmp/m16-a" --model_type Qwen3-VL-30B-A3B \
  --config_path "$tmp/m16.yaml" --quiet >/dev/null
check_pair "$tmp/m16-ct" "$tmp/m16-a" mixed-precision

# 5. Qwen2.5-VL (vLLM's Qwen2_5_VLForConditionalGeneration: visual.* as is, model.* and lm_head under
#    language_model.; the vision gate_proj/up_proj fused as mlp.gate_up_proj, attn.qkv one layer)
q25_names() { # $1 compressed-tensors dir: the published names (docs/qwen2_5_vl.md §4.3), tensors and config
  "$VS_PYTHON" - "$1" <<'PY' || fail "$1: not the published Qwen2.5-VL names"
import json, os, struct, sys
d = sys.argv[1]
names = []
for f in os.listdir(d):
    if f.endswith(".safetensors"):
        with open(os.path.join(d, f), "rb") as fh:
            names += [k for k in json.loads(fh.read(struct.unpack("<Q", fh.read(8))[0])) if k != "__metadata__"]
q = json.load(open(os.path.join(d, "config.json")))["quantization_config"]
names += q["ignore"] + [t for g in q["config_groups"].values() for t in g["targets"] if t != "Linear"]
bad = [n for n in names if not n.startswith(("visual.", "model.layers.", "model.embed_tokens.", "model.norm.", "lm_head"))]
assert names and not bad, bad[:5]
assert any(n.startswith("visual.blocks.0.mlp.gate_proj") for n in names), "no vision gate_proj"
PY
}
q25=$tmp/q25
"$VLMSLIM_MKMODEL" --family qwen2_5_vl --layout new --dtype f32 --seed 41 --out "$q25" >/dev/null
cat >"$tmp/q25.yaml" <<YAML
apiversion: multimodal_vlm_modelslim_v1
spec:
  process:
    - type: "linear_quant"
      qconfig:
        act: {scope: "per_token", dtype: "int8", symmetric: True, method: "minmax"}
        weight: {scope: "per_channel", dtype: "int8", symmetric: True, method: "minmax"}
      include: ["*"]
      exclude: ["*merger*", "visual.blocks.*.mlp.down_proj", "model.layers.*.mlp.down_proj"]
  save:
    - type: "ascendv1_saver"
      part_file_size: 0
    - type: "compressed_tensors_saver"
      save_path: "$tmp/q25-ct"
YAML
"$VLMSLIM" quant --model_path "$q25" --save_path "$tmp/q25-a" --model_type Qwen2.5-VL-7B-Instruct \
  --config_path "$tmp/q25.yaml" --quiet >/dev/null
check_pair "$tmp/q25-ct" "$tmp/q25-a" int-quantized
q25_names "$tmp/q25-ct"
grep -q '"text_config"' "$tmp/q25-ct/config.json" || fail "q25: the checkpoint's text_config not kept"
q25t=$tmp/q25t
"$VLMSLIM_MKMODEL" --family qwen2_5_vl --dtype bf16 --seed 43 --tie --out "$q25t" >/dev/null
mixed_config q25m "visual.blocks.*.mlp.{gate,up}_proj" "model.layers.*"
"$VLMSLIM" quant --model_path "$q25t" --save_path "$tmp/q25m-a" --model_type Qwen2.5-VL-3B-Instruct \
  --config_path "$tmp/q25m.yaml" --calib_inputs tests/golden/forward_cmd/qwen25_bf16/inputs --quiet >/dev/null
check_pair "$tmp/q25m-ct" "$tmp/q25m-a" mixed-precision --self-test
q25_names "$tmp/q25m-ct"
same_logits "$q25t" "$tmp/q25m-ct" "$tmp/q25m-a" "Qwen2.5-VL W8A16 + W8A8 static + dynamic" \
  tests/golden/forward_cmd/qwen25_bf16/inputs

# 5a. InternVL (original layout): W8A16 vision MLP, W8A8 static attention, W8A8_DYNAMIC text MLP;
#     mlp1 kept float (vLLM builds it of plain nn.Linear) and listed in ignore with the
#     checkpoint's head, language_model.lm_head
ivl=$tmp/ivl
"$VLMSLIM_MKMODEL" --family internvl --dtype bf16 --seed 45 --out "$ivl" >/dev/null
mixed_config ivlm "vision_model.encoder.layers.*.mlp.*" "*"
"$VLMSLIM" quant --model_path "$ivl" --save_path "$tmp/ivlm-a" --model_type InternVL3_5-8B \
  --config_path "$tmp/ivlm.yaml" --calib_inputs tests/golden/forward_cmd/ivl_bf16/inputs --quiet >/dev/null 2>"$tmp/ivlm.log"
check_pair "$tmp/ivlm-ct" "$tmp/ivlm-a" mixed-precision --self-test
"$VS_PYTHON" - "$tmp/ivlm-ct/config.json" <<'PY' || fail "internvl: ignore list"
import json, sys
ignore = json.load(open(sys.argv[1]))["quantization_config"]["ignore"]
assert {"mlp1.1", "mlp1.3", "language_model.lm_head"} <= set(ignore) and "lm_head" not in ignore, ignore
PY
same_logits "$ivl" "$tmp/ivlm-ct" "$tmp/ivlm-a" "InternVL W8A16 + W8A8 static + dynamic" tests/golden/forward_cmd/ivl_bf16/inputs

# 5b. W8A16 on shapes no vLLM W8A16 GPU kernel takes (vision MLP width 100: not a multiple of 16,
#     as Qwen2.5-VL's 3420 is not): a warning once per shape, the export still written; a float16
#     model (vLLM's Exllama kernel takes it) gets none
for dt in bf16 f16; do
  "$VLMSLIM_MKMODEL" --family qwen2_5_vl --dtype $dt --seed 44 --vision-intermediate 100 --out "$tmp/q25w-$dt" >/dev/null
  cat >"$tmp/q25w.yaml" <<YAML
apiversion: multimodal_vlm_modelslim_v1
spec:
  process:
    - type: linear_quant
      qconfig:
        act: {scope: per_tensor, dtype: float, symmetric: True, method: none}
        weight: {scope: per_channel, dtype: int8, symmetric: True, method: minmax}
      include: ["visual.blocks.*.mlp.*"]
  save:
    - type: compressed_tensors_saver
YAML
  "$VLMSLIM" quant --model_path "$tmp/q25w-$dt" --save_path "$tmp/q25w-$dt-ct" --model_type Qwen2.5-VL-7B-Instruct \
    --config_path "$tmp/q25w.yaml" --quiet >/dev/null 2>"$tmp/q25w.log" || fail "q25w $dt: $(cat "$tmp/q25w.log")"
  n=$(grep -c 'no vLLM W8A16 GPU kernel takes this shape' "$tmp/q25w.log" || true)
  want=0; [ $dt = bf16 ] && want=2
  if [ "$n" -ne "$want" ] || [ ! -f "$tmp/q25w-$dt-ct/config.json" ]; then
    fail "q25w $dt: $n kernel warning(s), expected $want (one per shape); log: $(cat "$tmp/q25w.log")"
  elif [ $dt = bf16 ]; then
    grep -q 'visual.blocks.0.mlp.gate_proj (and every W8A16 Linear of shape \[100 x 64\])' "$tmp/q25w.log" &&
      grep -q 'visual.blocks.0.mlp.down_proj (and every W8A16 Linear of shape \[64 x 100\])' "$tmp/q25w.log" ||
      fail "q25w: the warnings do not name the first Linear of each shape: $(cat "$tmp/q25w.log")"
    echo "ok: W8A16 shapes without a vLLM kernel: $(head -1 "$tmp/q25w.log")"
  fi
done

# 6. refusals
expect_error() { # rc, message, config text, model, model_type
  local rc=0 out=$tmp/err-out ct=$tmp/err-ct
  rm -rf "$out" "$ct"
  printf '%s\n' "$3" | sed "s|CT_PATH|$ct|" >"$tmp/err.yaml"
  "$VLMSLIM" quant --model_path "$4" --save_path "$out" --model_type "$5" --config_path "$tmp/err.yaml" \
    --calib_inputs tests/golden/calib/moe_static.inputs >/dev/null 2>"$tmp/stderr" || rc=$?
  local err; err=$(grep '^vlmslim: error:' "$tmp/stderr" || true)
  if [ "$rc" -ne "$1" ] || [ "$(printf '%s\n' "$err" | grep -c .)" -ne 1 ] || [[ "$err" != *"$2"* ]]; then
    fail "rc=$rc (want $1): $(cat "$tmp/stderr")"$'\n'"      expected one error line containing: $2"
  elif [ -e "$out" ] || [ -e "$ct" ] || ls -a "$tmp" | grep -q 'vlmslim-tmp'; then
    fail "'$2': output left behind: $(ls -a "$tmp")"
  elif grep -q '\[1/[0-9]*\]\|calibration' "$tmp/stderr"; then
    fail "'$2': refused only after work had begun: $(cat "$tmp/stderr")"
  fi
}
head='apiversion: multimodal_vlm_modelslim_v1
spec:
  process:
    - type: "linear_quant"
      qconfig:
        act: {scope: "per_token", dtype: "int8", symmetric: True, method: "minmax"}
        weight: {scope: "per_channel", dtype: "int8", symmetric: True, method: "minmax"}
      include: ["model.language_model.*"]
      exclude: ["*mlp.gate"]'
ct_save='  save:
    - type: "ascendv1_saver"
    - type: "compressed_tensors_saver"
      save_path: "CT_PATH"'
odd=$tmp/odd
"$VLMSLIM_MKMODEL" --family qwen3_vl --preset tiny --intermediate 98 --out "$odd" >/dev/null
expect_error 1 "compressed_tensors_saver: model.language_model.layers.0.mlp.down_proj: W8A16 needs an input size divisible by 4 (vLLM's packed weight has in / 4 int32 columns), not 98" \
  "$(sed -n '1,/^  save:/p' tests/data/configs/dense_w8a16.yaml | sed '$d')
$ct_save" "$odd" Qwen3-VL-4B-Instruct
expect_error 1 "spec.process[0]: iter_smooth with symmetric: false adds biases to the norms, which vLLM's RMSNorm cannot hold; spec.save[1] (compressed_tensors_saver) cannot write it" \
  "apiversion: multimodal_vlm_modelslim_v1
spec:
  process:
    - {type: iter_smooth, symmetric: False}
$ct_save" "$dense" Qwen3-VL-4B-Instruct
expect_error 1 "compressed_tensors_saver: model.language_model.layers.0.mlp.experts.0.gate_proj: vLLM's int8 fused-MoE kernels take dynamic per-token activations only" \
  "$(sed -n '1,/^  save:/p' tests/data/configs/moe_w8a8_static_experts.yaml | sed '$d')
$ct_save" "$moe" Qwen3-VL-30B-A3B
expect_error 1 "compressed_tensors_saver: model.language_model.layers.0.self_attn.k_proj: W8A8_DYNAMIC, but another part of the layer vLLM fuses as model.language_model.layers.0.self_attn.qkv is float" \
  "$(printf '%s\n' "$head" | sed 's/exclude: \["\*mlp.gate"\]/exclude: ["*mlp.gate", "*q_proj"]/')
$ct_save" "$moe" Qwen3-VL-30B-A3B
expect_error 1 "spec.save[1]: a saver after the first needs a save_path (the first writes to --save_path)" \
  "$head
  save:
    - type: ascendv1_saver
    - type: compressed_tensors_saver" "$moe" Qwen3-VL-30B-A3B
expect_error 1 "spec.save[0].save_path: the first saver writes to --save_path" \
  "$head
  save:
    - {type: compressed_tensors_saver, save_path: CT_PATH}" "$moe" Qwen3-VL-30B-A3B
expect_error 1 "spec.save[2].save_path: '$tmp/err-ct' is spec.save[1]'s save_path too" \
  "$head
$ct_save
    - {type: compressed_tensors_saver, save_path: CT_PATH}" "$moe" Qwen3-VL-30B-A3B
expect_error 2 "spec.save[1].save_path $tmp/err-out: is --save_path too" \
  "$head
  save:
    - type: ascendv1_saver
    - {type: compressed_tensors_saver, save_path: $tmp/err-out}" "$moe" Qwen3-VL-30B-A3B
expect_error 1 "spec.save[0]: saver 'mindie_format_saver' is not available in this build of vlmslim (available: ascendv1_saver, compressed_tensors_saver)" \
  "$head
  save:
    - type: mindie_format_saver" "$moe" Qwen3-VL-30B-A3B
mkdir -p "$tmp/busy" && touch "$tmp/busy/x"
expect_error 2 "spec.save[1].save_path $tmp/busy: directory is not empty; choose another path or pass --overwrite" \
  "$head
  save:
    - type: ascendv1_saver
    - {type: compressed_tensors_saver, save_path: $tmp/busy}" "$moe" Qwen3-VL-30B-A3B

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "compressed-tensors export: OK"
