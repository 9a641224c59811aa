#!/usr/bin/env bash
# Qwen2.5-VL through `vlmslim quant` on vlmslim-mkmodel checkpoints:
# - the export's names are the published ones (visual.*, model.layers.*), which msModelSlim writes
#   and vLLM Ascend looks up, from a checkpoint in either name layout; the two layouts of one model
#   give the same export byte for byte (with numpy, which renames the tensors);
# - data-free W8A8_DYNAMIC and calibrated W8A8 static exports;
# - the family's best practices (--quant_type w8a8);
# - float equivalence of msModelSlim's smoothing subgraphs (iter_smooth, smooth_quant) and QuaRot maps for the family: the
#   transformed float model (nothing quantized) computes the original logits;
# - a config.json in transformers 5's form (text_config, rope_parameters) reads as the published one;
# - the family's refusals and config.json errors: one error line, exit 1, nothing written.
set -euo pipefail
: "${VLMSLIM:?}" "${VLMSLIM_MKMODEL:?}" "${VLMSLIM_MKCALIB:?}" "${VS_BUILD_DIR:?}" "${VS_TEST_TMP:?}"
mkdir -p "$VS_TEST_TMP"
tmp=$(mktemp -d "$VS_TEST_TMP/qwen2_5_vl.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
cmp_t="$VS_BUILD_DIR/tests/tools/vs-compare-tensors"
type=Qwen2.5-VL-7B-Instruct
inputs=tests/golden/forward_cmd/qwen25_bf16/inputs # any tiny Qwen2.5-VL checkpoint's model inputs
quant() { "$VLMSLIM" quant --model_type "$type" --device cpu --quiet "$@" >/dev/null; }

"$VLMSLIM_MKMODEL" --family qwen2_5_vl --dtype f32 --seed 21 --out "$tmp/f32" >/dev/null

# 1. names, data-free and calibrated
quant --model_path "$tmp/f32" --save_path "$tmp/dyn" --config_path tests/data/configs/dense_dynamic.yaml
desc=$tmp/dyn/quant_model_description.json
grep -q '"visual.blocks.0.attn.qkv.weight": "W8A8_DYNAMIC"' "$desc" &&
  grep -q '"model.layers.1.self_attn.q_proj.bias": "FLOAT"' "$desc" && grep -q '"lm_head.weight"' "$desc" ||
  fail "dynamic export: names or types"
grep -q 'language_model\|"model.visual' "$desc" && fail "dynamic export: transformers >= 4.52 names in the description"
quant --model_path "$tmp/f32" --save_path "$tmp/static" --config_path tests/data/configs/dense_w8a8_static.yaml \
  --calib_inputs "$inputs"
grep -q '"model.layers.0.self_attn.v_proj.input_scale": "W8A8"' "$tmp/static/quant_model_description.json" &&
  grep -q '"visual.blocks.3.mlp.down_proj.deq_scale": "W8A8"' "$tmp/static/quant_model_description.json" &&
  grep -q '"visual.merger.mlp.0.weight_scale": "W8A16"' "$tmp/static/quant_model_description.json" ||
  fail "static export: names or types"

# 2. one model in both layouts: the same export
py=${VS_PYTHON:-}
if [ -n "$py" ] && "$py" -c 'import numpy' 2>/dev/null; then
  mkdir "$tmp/new"
  cp "$tmp/f32"/*.json "$tmp/new/"
  "$py" - "$tmp/f32/model.safetensors" "$tmp/new/model.safetensors" <<'PY'
import sys
sys.path.insert(0, "tests/reference")
import safetensors_np as st
src, dst = sys.argv[1:]
ren = lambda k: ("model." + k if k.startswith("visual.") else
                 "model.language_model." + k[len("model."):] if k.startswith("model.") else k)
st.write_file(dst, [(ren(k), t) for k, t in sorted(st.read_file(src)[0].items())])
PY
  quant --model_path "$tmp/new" --save_path "$tmp/dyn_new" --config_path tests/data/configs/dense_dynamic.yaml
  for f in "$tmp/dyn"/*.safetensors "$tmp/dyn"/*.json; do
    case "$f" in */config.json) continue ;; esac # config.json is the input's own
    cmp -s "$f" "$tmp/dyn_new/$(basename "$f")" || fail "layouts give different $(basename "$f")"
  done
else
  echo "note: ${py:-python3} without numpy: the two-layout comparison skipped"
fi

# 3. float equivalence: every transform, nothing quantized
"$VLMSLIM" forward --model_path "$tmp/f32" --model_type "$type" --inputs "$inputs" --dump "$tmp/d0" --quiet >/dev/null
for proc in smooth sq quarot both; do
  smooth='    - {type: iter_smooth, alpha: 0.9, scale_min: 1e-5, symmetric: True, enable_subgraph_type: [norm-linear, linear-linear, ov, up-down], include: ["*"]}'
  rot='    - {type: quarot, block_size: 16}'
  case $proc in smooth) steps=$smooth ;; sq) steps='    - type: smooth_quant' ;; quarot) steps=$rot ;; both) steps="$rot"$'\n'"$smooth" ;; esac
  cat > "$tmp/$proc.yaml" <<YAML
apiversion: multimodal_vlm_modelslim_v1
spec:
  process:
$steps
    - type: linear_quant
      qconfig:
        act: {scope: per_tensor, dtype: int8, symmetric: False, method: minmax}
        weight: {scope: per_channel, dtype: int8, symmetric: True, method: minmax}
      include: ["none"]
  save:
    - type: ascendv1_saver
YAML
  "$VLMSLIM" quant --model_path "$tmp/f32" --save_path "$tmp/$proc" --model_type "$type" --config_path "$tmp/$proc.yaml" \
    --calib_inputs "$inputs" --quiet >/dev/null 2>"$tmp/$proc.log" || { fail "$proc: $(cat "$tmp/$proc.log")"; continue; }
  "$VLMSLIM" forward --model_path "$tmp/$proc" --model_type "$type" --inputs "$inputs" --dump "$tmp/d_$proc" --quiet >/dev/null
  for s in 0 1; do
    echo "== $proc sample $s: logits of the transformed float model"
    "$cmp_t" --only logits "$tmp/d_$proc/sample_$s.safetensors" "$tmp/d0/sample_$s.safetensors" || fail "$proc: logits changed"
  done
done
# the transforms did act: smoothing rescales the norms, QuaRot rotates the merger's output (the
# tensor is there in both files, with other values)
changed() { # export, tensor
  local out
  out=$("$cmp_t" --only "$2" "$1/quant_model_weights-00001-of-00001.safetensors" "$tmp/f32/model.safetensors" 2>&1 || true)
  grep -q "^$2 *max |diff| .*: MISMATCH$" <<<"$out"
}
changed "$tmp/smooth" model.layers.0.input_layernorm.weight || fail "smooth: input_layernorm not rescaled"
changed "$tmp/quarot" visual.merger.mlp.2.bias || fail "quarot: merger.mlp.2 not rotated"

# 3b. a config.json as transformers 5 writes it: the text fields in text_config, rope_scaling and
# rope_theta as rope_parameters {rope_type, mrope_section, rope_theta}; the same forward, and its
# rope_theta is the one used (a different value changes the logits)
v5() { # dir, rope_theta
  rm -rf "${tmp:?}/$1"; cp -r "$tmp/f32" "$tmp/$1"
  python3 - "$tmp/$1/config.json" "$2" <<'PY'
import json, sys
path, theta = sys.argv[1], float(sys.argv[2])
c = json.load(open(path))
text = {k: c.pop(k) for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                              "num_key_value_heads", "rms_norm_eps", "vocab_size", "hidden_act")}
rope = c.pop("rope_scaling")
del c["rope_theta"]
text["rope_parameters"] = {"rope_type": "default", "mrope_section": rope["mrope_section"], "rope_theta": theta}
c["text_config"] = text
json.dump(c, open(path, "w"), indent=2)
PY
}
v5 v5 1000000
v5 v5_theta 10000
for d in v5 v5_theta; do
  "$VLMSLIM" forward --model_path "$tmp/$d" --model_type "$type" --inputs "$inputs" --dump "$tmp/d_$d" --quiet >/dev/null ||
    fail "$d: forward"
done
echo "== transformers 5 config.json: the logits of the published one"
"$cmp_t" --only logits "$tmp/d_v5/sample_0.safetensors" "$tmp/d0/sample_0.safetensors" || fail "v5 config: logits changed"
"$cmp_t" --only logits "$tmp/d_v5_theta/sample_0.safetensors" "$tmp/d0/sample_0.safetensors" >/dev/null 2>&1 &&
  fail "v5 config: rope_parameters.rope_theta 10000 not used"

# 4. the best practices (lab_practice/qwen2_5_vl/) on generated calibration images: QuaRot and
# iter_smooth for the untied sizes, iter_smooth alone for the 3B (tied); pattern names as exported
"$VLMSLIM_MKCALIB" --out "$tmp/lab/calibImages" >/dev/null
"$VLMSLIM_MKMODEL" --family qwen2_5_vl --hidden 128 --heads 4 --out "$tmp/bf16" >/dev/null # head_dim 32 for block_size 32
"$VLMSLIM_MKMODEL" --family qwen2_5_vl --tie --out "$tmp/tied" >/dev/null
VLMSLIM_LAB_CALIB_DIR=$tmp/lab "$VLMSLIM" quant --model_path "$tmp/bf16" --save_path "$tmp/bp7b" --model_type Qwen2.5-VL-7B-Instruct \
  --quant_type w8a8 --device cpu --quiet >/dev/null 2>"$tmp/bp.log" || fail "best practice 7B: $(cat "$tmp/bp.log")"
grep -q 'matched no Linear' "$tmp/bp.log" && fail "best practice 7B: $(grep 'matched no' "$tmp/bp.log")"
grep -q '"model.layers.0.mlp.down_proj.weight": "FLOAT"' "$tmp/bp7b/quant_model_description.json" &&
  grep -q '"visual.blocks.0.mlp.gate_proj.weight": "W8A8"' "$tmp/bp7b/quant_model_description.json" &&
  [ -f "$tmp/bp7b/Qwen2.5-VL-7B-Instruct_best_practice.yaml" ] || fail "best practice 7B: export"
VLMSLIM_LAB_CALIB_DIR=$tmp/lab "$VLMSLIM" quant --model_path "$tmp/tied" --save_path "$tmp/bp3b" --model_type Qwen2.5-VL-3B-Instruct \
  --quant_type w8a8 --device cpu --quiet >/dev/null 2>"$tmp/bp.log" || fail "best practice 3B: $(cat "$tmp/bp.log")"

# 5. errors
expect_error() { # name, message, quant arguments
  local name=$1 want=$2 rc=0; shift 2
  "$VLMSLIM" quant --model_type "$type" --save_path "$tmp/$name.out" --quiet "$@" >/dev/null 2>"$tmp/err" || rc=$?
  local err; err=$(grep '^vlmslim: error:' "$tmp/err" || true)
  if [ "$rc" -ne 1 ] || [ "$(printf '%s\n' "$err" | grep -c .)" -ne 1 ] || [[ "$err" != *"$want"* ]]; then
    fail "$name: rc=$rc: $(cat "$tmp/err")"$'\n'"      expected one error line containing: $want"
  elif [ -e "$tmp/$name.out" ] || ls -a "$tmp" | grep -q "\.$name\.out\.vlmslim-tmp"; then
    fail "$name: output left behind"
  else
    echo "ok: $name: $err"
  fi
}
expect_error tied_quarot "(model family 'qwen2_5_vl'): quarot cannot rotate a model with tie_word_embeddings: true" \
  --model_path "$tmp/tied" --config_path "$tmp/quarot.yaml" --calib_inputs "$inputs"
# the other family's --model_type, both ways, before any work
type=Qwen3-VL-8B-Instruct expect_error wrong_family "$tmp/f32/config.json: model_type is 'qwen2_5_vl' but --model_type Qwen3-VL-8B-Instruct expects a 'qwen3_vl' checkpoint" \
  --model_path "$tmp/f32" --config_path tests/data/configs/dense_dynamic.yaml
"$VLMSLIM_MKMODEL" --family qwen3_vl --out "$tmp/q3" >/dev/null
expect_error wrong_family_q3 "$tmp/q3/config.json: model_type is 'qwen3_vl' but --model_type Qwen2.5-VL-7B-Instruct expects a 'qwen2_5_vl' checkpoint" \
  --model_path "$tmp/q3" --config_path tests/data/configs/dense_dynamic.yaml
# config_case NAME KEY JSON "message": the f32 checkpoint with config.json's dotted KEY set
config_case() {
  rm -rf "${tmp:?}/$1"; cp -r "$tmp/f32" "$tmp/$1"
  "${py:-python3}" - "$tmp/$1/config.json" "$2" "$3" <<'PY'
import json, sys
path, key, value = sys.argv[1:]
config = json.load(open(path))
*parents, last = key.split(".")
obj = config
for k in parents:
    obj = obj[k]
obj[last] = json.loads(value)
json.dump(config, open(path, "w"), indent=2)
PY
  expect_error "$1" "$tmp/$1/config.json: $4" --model_path "$tmp/$1" --config_path tests/data/configs/dense_dynamic.yaml
}
config_case vision_act vision_config.hidden_act '"gelu"' "vision_config.hidden_act: 'gelu' is not supported (Qwen2.5-VL uses silu)"
config_case text_act hidden_act '"relu"' "hidden_act: 'relu' is not supported (Qwen2.5-VL uses silu)"
config_case fullatt_range vision_config.fullatt_block_indexes '[1, 9]' \
  "vision_config.fullatt_block_indexes[1] = 9 is outside 0..3"
config_case window_small vision_config.window_size 14 \
  "vision_config.window_size (14) is smaller than one merged patch (patch_size x spatial_merge_size = 28 pixels)"
config_case heads_hidden num_attention_heads 5 "num_attention_heads (5) does not divide hidden_size (64)"
config_case mrope rope_scaling.mrope_section '[4, 2, 3]' \
  "rope_scaling.mrope_section: expected three non-negative integers summing to head_dim/2 = 8"
config_case rope_type rope_scaling.type '"yarn"' "rope_scaling.type: 'yarn' is not supported (only default / mrope RoPE)"
# (v5: transformers 5's text_config, made in section 3b)
rm -rf "$tmp/v5_sec"; cp -r "$tmp/v5" "$tmp/v5_sec"
python3 -c 'import json,sys; p=sys.argv[1]; c=json.load(open(p)); c["text_config"]["rope_parameters"]["mrope_section"]=[8,0,1]; json.dump(c,open(p,"w"))' "$tmp/v5_sec/config.json"
expect_error v5_sec "$tmp/v5_sec/config.json: text_config.rope_parameters.mrope_section: expected three non-negative integers summing to head_dim/2 = 8" \
  --model_path "$tmp/v5_sec" --config_path tests/data/configs/dense_dynamic.yaml
config_case layers_more num_hidden_layers 3 "num_hidden_layers (3) is more than the 2 layers the checkpoint has (model.layers.*)"
config_case depth_more vision_config.depth 5 "vision_config.depth (5) is more than the 4 blocks the checkpoint has (visual.blocks.*)"
config_case hidden_zero hidden_size 0 "hidden_size: must be a positive integer, got 0"
# a tensor of the wrong shape is named as the checkpoint names it (here transformers >= 4.52's)
if [ -d "$tmp/new" ]; then
  bias=model.language_model.layers.0.self_attn.q_proj.bias # F32 [64]
  rm -rf "$tmp/shape"; cp -r "$tmp/new" "$tmp/shape"
  begin=$("$py" -c 'import json,struct,sys; b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]; print(json.loads(b[8:8+n])[sys.argv[2]]["data_offsets"][0])' "$tmp/shape/model.safetensors" "$bias")
  "$py" tests/tools/st_header.py "$tmp/shape/model.safetensors" set "$bias" shape '[32]'
  "$py" tests/tools/st_header.py "$tmp/shape/model.safetensors" set "$bias" data_offsets "[$begin, $((begin + 128))]"
  expect_error shape "tensor '$bias' is F32 [32] but $tmp/shape/config.json implies a float tensor of shape [64]" \
    --model_path "$tmp/shape" --config_path tests/data/configs/dense_dynamic.yaml
fi

if [ "$failures" -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "all Qwen2.5-VL checks passed"
