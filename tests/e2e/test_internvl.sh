#!/usr/bin/env bash
# InternVL3.5 (original layout) through `vlmslim quant` on vlmslim-mkmodel checkpoints:
# - the export's names are the checkpoint's (vision_model.*, mlp1.*, language_model.*), which
#   msModelSlim writes and vLLM's InternVLChatModel loads; mlp1 stays float whatever the patterns
#   say (msModelSlim never visits it, vLLM builds it of plain nn.Linear);
# - data-free W8A8_DYNAMIC and calibrated W8A8 static exports, `vlmslim eval` of one;
# - msModelSlim's own best practice (lab_practice/internvl3_5/internvl_w8a8.yaml: a `group`, QuaRot
#   and iter_smooth) on the two COCO photos, tiled as msModelSlim tiles them;
# - float equivalence of the family's smoothing subgraphs and QuaRot maps: the transformed float
#   model (nothing quantized) computes the original logits;
# - the family's refusals and config.json errors: one error line, exit 1, nothing written;
# - transformers' layout (the -HF checkpoints): the same forward, its own export names, float
#   equivalence, its best practice, the display name that must say the layout.
set -euo pipefail
: "${VLMSLIM:?}" "${VLMSLIM_MKMODEL:?}" "${VS_BUILD_DIR:?}" "${VS_TEST_TMP:?}"
source tests/e2e/helpers.sh
mkdir -p "$VS_TEST_TMP"
tmp=$(mktemp -d "$VS_TEST_TMP/internvl.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
cmp_t="$VS_BUILD_DIR/tests/tools/vs-compare-tensors"
type=InternVL3_5-8B
inputs=tests/golden/forward_cmd/ivl_bf16/inputs # any tiny InternVL checkpoint's model inputs (3 tiles)
quant() { "$VLMSLIM" quant --model_type "$type" --device cpu --quiet "$@" >/dev/null; }
desc_has() { grep -qF "\"$2\": \"$3\"" "$1/quant_model_description.json"; }

"$VLMSLIM_MKMODEL" --family internvl --dtype f32 --seed 61 --out "$tmp/f32" >/dev/null

# 1. names, data-free and calibrated
quant --model_path "$tmp/f32" --save_path "$tmp/dyn" --config_path tests/data/configs/dense_dynamic.yaml
desc_has "$tmp/dyn" vision_model.encoder.layers.0.attn.qkv.weight W8A8_DYNAMIC &&
  desc_has "$tmp/dyn" vision_model.encoder.layers.1.mlp.fc2.weight W8A8_DYNAMIC &&
  desc_has "$tmp/dyn" language_model.model.layers.1.self_attn.o_proj.weight W8A8_DYNAMIC &&
  desc_has "$tmp/dyn" language_model.model.layers.0.mlp.down_proj.weight W8A8_DYNAMIC &&
  desc_has "$tmp/dyn" mlp1.1.weight FLOAT && desc_has "$tmp/dyn" mlp1.3.bias FLOAT &&
  desc_has "$tmp/dyn" language_model.lm_head.weight FLOAT &&
  desc_has "$tmp/dyn" vision_model.embeddings.position_embedding FLOAT || fail "dynamic export: names or types"
grep -q '"model\.\|"lm_head\|"visual' "$tmp/dyn/quant_model_description.json" && fail "dynamic export: names of another layout"
quant --model_path "$tmp/f32" --save_path "$tmp/static" --config_path tests/data/configs/dense_w8a8_static.yaml \
  --calib_inputs "$inputs"
desc_has "$tmp/static" language_model.model.layers.0.self_attn.v_proj.input_scale W8A8 &&
  desc_has "$tmp/static" vision_model.encoder.layers.1.attn.qkv.deq_scale W8A8 && desc_has "$tmp/static" mlp1.1.weight FLOAT ||
  fail "static export: names or types"
"$VLMSLIM" eval --model_path "$tmp/f32" --quant_path "$tmp/static" --model_type "$type" --calib_inputs "$inputs" \
  --quiet > "$tmp/eval.txt" 2>&1 || fail "eval of the static export: $(cat "$tmp/eval.txt")"
grep -q "^vlmslim: eval: good" "$tmp/eval.txt" || fail "eval verdict: $(head -3 "$tmp/eval.txt")"

# 2. float equivalence: every transform, nothing quantized (block 16 = head_dim of the tiny preset)
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
# the transforms did act: smoothing rescales the norms, QuaRot rotates the projector's output
changed() { # export, tensor[, the float checkpoint]
  local out
  out=$("$cmp_t" --only "$2" "$1/quant_model_weights-00001-of-00001.safetensors" "${3:-$tmp/f32}/model.safetensors" 2>&1 || true)
  grep -q "^$2 *max |diff| .*: MISMATCH$" <<<"$out"
}
changed "$tmp/smooth" language_model.model.layers.0.input_layernorm.weight || fail "smooth: input_layernorm not rescaled"
changed "$tmp/quarot" mlp1.3.bias || fail "quarot: mlp1.3 not rotated"
changed "$tmp/quarot" language_model.lm_head.weight || fail "quarot: lm_head not rotated"

# 3. msModelSlim's best practice, unchanged, on its calibration photos (head_dim 32 for block_size 32)
"$VLMSLIM_MKMODEL" --family internvl --dtype bf16 --head-dim 32 --seed 62 --out "$tmp/bf16" >/dev/null
VLMSLIM_LAB_CALIB_DIR=../shared/data "$VLMSLIM" quant --model_path "$tmp/bf16" --save_path "$tmp/bp" \
  --model_type InternVL3_5-38B --quant_type w8a8 --device cpu > "$tmp/bp.log" 2>&1 || fail "best practice: $(cat "$tmp/bp.log")"
grep -q 'matched no Linear' "$tmp/bp.log" && fail "best practice: $(grep 'matched no' "$tmp/bp.log")"
grep -q 'calibration: 2 sample(s)' "$tmp/bp.log" || fail "best practice: not calibrated on the two photos"
desc_has "$tmp/bp" vision_model.encoder.layers.0.mlp.fc1.weight FLOAT &&
  desc_has "$tmp/bp" language_model.model.layers.1.mlp.down_proj.weight FLOAT &&
  desc_has "$tmp/bp" vision_model.encoder.layers.0.attn.qkv.weight W8A8 &&
  desc_has "$tmp/bp" language_model.model.layers.0.mlp.gate_proj.input_offset W8A8 &&
  [ -f "$tmp/bp/InternVL3_5-38B_best_practice.yaml" ] && [ -f "$tmp/bp/optional/quarot.safetensors" ] ||
  fail "best practice: export"

# 4. errors
e() { # name, message, quant arguments
  local name=$1 want=$2; shift 2
  vs_expect_error "$name" "$want" "$tmp/$name.out" "$VLMSLIM" quant --model_type "$type" --save_path "$tmp/$name.out" \
    --quiet "$@" || failures=$((failures + 1))
}
# config_case NAME KEY JSON "message": the f32 checkpoint with config.json's dotted KEY set (null: removed)
config_case() {
  rm -rf "${tmp:?}/$1"; cp -r "$tmp/f32" "$tmp/$1"
  python3 - "$tmp/$1/config.json" "$2" "$3" <<'PY'
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
  e "$1" "$tmp/$1/config.json: $4" --model_path "$tmp/$1" --config_path tests/data/configs/dense_dynamic.yaml
}
config_case internlm2 llm_config.model_type '"internlm2"' \
  "llm_config.model_type: 'internlm2' is not supported (vlmslim's InternVL text model is Qwen3)"
config_case ps_v1 ps_version '"v1"' "ps_version: 'v1' is not supported (InternVL2.5 and later shuffle with v2)"
config_case select_layer select_layer -4 "select_layer: -4 is not supported"
config_case image_size force_image_size 50 "force_image_size (50) is not a positive multiple of vision_config.patch_size (14)"
config_case ratio downsample_ratio 0.3 "downsample_ratio: 0.3 is not 1/k for a k dividing the 4 patches of a tile side"
config_case vnorm vision_config.norm_type '"batch_norm"' "vision_config.norm_type: 'batch_norm' is not supported"
config_case vact vision_config.hidden_act '"relu"' "vision_config.hidden_act: 'relu' is not supported (InternViT's MLP is GELU)"
config_case rope llm_config.rope_scaling '{"rope_type": "yarn", "factor": 4}' \
  "llm_config.rope_scaling: only plain RoPE (null) is supported"
config_case bias llm_config.attention_bias true "llm_config.attention_bias: true is not supported"
config_case layers_more llm_config.num_hidden_layers 3 \
  "llm_config.num_hidden_layers (3) is more than the 2 layers the checkpoint has (language_model.model.layers.*)"
# another model_type; transformers' (internvl) read as its layout, which has text_config
config_case other_type model_type '"internvl2"' "model_type is 'internvl2' but --model_type $type expects a 'internvl_chat' checkpoint"
type=InternVL3_5-8B-HF config_case hf_keys model_type '"internvl"' "text_config: required key is missing"
e tied_quarot "(model family 'internvl3_5_dense'): quarot cannot rotate a model with tie_word_embeddings: true" \
  --model_path "$( "$VLMSLIM_MKMODEL" --family internvl --tie --out "$tmp/tied" >/dev/null; echo "$tmp/tied")" \
  --config_path "$tmp/quarot.yaml" --calib_inputs "$inputs"
# a tokenizer without <IMG_CONTEXT>: no way to place image features
rm -rf "$tmp/noctx"; cp -r "$tmp/f32" "$tmp/noctx"
sed -i 's/<IMG_CONTEXT>/<IMG_CTX>/g' "$tmp/noctx/tokenizer.json"
e no_context "$tmp/noctx/tokenizer.json: has no <IMG_CONTEXT> added token" --model_path "$tmp/noctx" \
  --config_path tests/data/configs/dense_dynamic.yaml
# too many tiles for the text model's positions: 13 tiles of the COCO photo are 52 image tokens
rm -rf "$tmp/short"; cp -r "$tmp/f32" "$tmp/short"
python3 -c 'import json,sys; p=sys.argv[1]; c=json.load(open(p)); c["llm_config"]["max_position_embeddings"]=64; json.dump(c,open(p,"w"))' \
  "$tmp/short/config.json"
mkdir -p "$tmp/photo"; cp ../shared/data/calibImages/COCO_train2014_000000577589.jpg "$tmp/photo/"
sed "s|^  save:|  dataset: $tmp/photo\n  save:|" "$tmp/smooth.yaml" > "$tmp/budget.yaml"
e budget "tiles x 4 image tokens) exceed $tmp/short/config.json llm_config.max_position_embeddings 64" \
  --model_path "$tmp/short" --config_path "$tmp/budget.yaml"
# an image smaller than one tile is tiled by its aspect ratio all the same (a 37x23 one into 3 x 2
# tiles and the thumbnail), as InternVL's load_image does; its pixels are in expected_internvl.json
mkdir -p "$tmp/small"; cp tests/golden/vision/images/palette4_37x23.png "$tmp/small/"
"$VLMSLIM" inspect-inputs --model_path "$tmp/f32" --dataset "$tmp/small" > "$tmp/small.txt" ||
  fail "a 37x23 image: $(cat "$tmp/small.txt")"
grep -q '^  image 37x23 -> 168x112, grid 1x7x1, 7 tiles$' "$tmp/small.txt" || fail "a 37x23 image: $(cat "$tmp/small.txt")"

# 5. transformers' layout (the -HF checkpoints), the same weights under its names: the same forward
#    within float32 rounding (bit for bit with OpenBLAS's SkylakeX kernels; its Haswell ones sum the
#    fused qkv GEMM and the split q/k/v ones in other orders: 5e-7 of the largest value), exports under its own names (q/k/v apart, the projector kept float), float
#    equivalence of the transforms, its best practice, and the display name that says the layout
"$VLMSLIM_MKMODEL" --family internvl --layout hf --dtype f32 --seed 61 --out "$tmp/hf" >/dev/null
"$VLMSLIM" forward --model_path "$tmp/hf" --model_type InternVL3_5-8B-HF --inputs "$inputs" --dump "$tmp/d_hf" --quiet >/dev/null
for s in 0 1; do
  echo "== -HF layout sample $s: the original layout's outputs"
  "$cmp_t" "$tmp/d_hf/sample_$s.safetensors" "$tmp/d0/sample_$s.safetensors" 2e-6 || fail "-HF layout: forward differs"
done
type=InternVL3_5-8B-HF quant --model_path "$tmp/hf" --save_path "$tmp/hf_dyn" --config_path tests/data/configs/dense_dynamic.yaml
desc_has "$tmp/hf_dyn" model.vision_tower.encoder.layer.0.attention.k_proj.weight W8A8_DYNAMIC &&
  desc_has "$tmp/hf_dyn" model.vision_tower.encoder.layer.1.attention.projection_layer.weight W8A8_DYNAMIC &&
  desc_has "$tmp/hf_dyn" model.multi_modal_projector.linear_1.weight FLOAT &&
  desc_has "$tmp/hf_dyn" model.language_model.layers.0.mlp.down_proj.weight FLOAT && # the config names it so
  desc_has "$tmp/hf_dyn" lm_head.weight FLOAT || fail "-HF dynamic export: names or types"
proc=both # QuaRot and iter_smooth together
"$VLMSLIM" quant --model_path "$tmp/hf" --save_path "$tmp/hf_$proc" --model_type InternVL3_5-8B-HF \
  --config_path "$tmp/$proc.yaml" --calib_inputs "$inputs" --quiet >/dev/null 2>"$tmp/hf_$proc.log" || fail "-HF $proc: $(cat "$tmp/hf_$proc.log")"
"$VLMSLIM" forward --model_path "$tmp/hf_$proc" --model_type InternVL3_5-8B-HF --inputs "$inputs" --dump "$tmp/d_hf_$proc" \
  --quiet >/dev/null
for s in 0 1; do
  echo "== -HF $proc sample $s: logits of the transformed float model"
  "$cmp_t" --only logits "$tmp/d_hf_$proc/sample_$s.safetensors" "$tmp/d0/sample_$s.safetensors" || fail "-HF $proc: logits changed"
done
changed "$tmp/hf_both" model.multi_modal_projector.linear_2.bias "$tmp/hf" || fail "-HF quarot: linear_2 not rotated"
"$VLMSLIM_MKMODEL" --family internvl --layout hf --dtype bf16 --head-dim 32 --seed 62 --out "$tmp/hf_bf16" >/dev/null
VLMSLIM_LAB_CALIB_DIR=../shared/data "$VLMSLIM" quant --model_path "$tmp/hf_bf16" --save_path "$tmp/hf_bp" \
  --model_type InternVL3_5-38B-HF --quant_type w8a8 --device cpu > "$tmp/hf_bp.log" 2>&1 || fail "-HF best practice: $(cat "$tmp/hf_bp.log")"
grep -q 'internvl_hf_w8a8.yaml' "$tmp/hf_bp.log" && ! grep -q 'matched no Linear' "$tmp/hf_bp.log" ||
  fail "-HF best practice: $(grep -m2 'practice\|matched' "$tmp/hf_bp.log")"
desc_has "$tmp/hf_bp" model.vision_tower.encoder.layer.0.mlp.fc1.weight FLOAT &&
  desc_has "$tmp/hf_bp" model.language_model.layers.1.mlp.down_proj.weight FLOAT &&
  desc_has "$tmp/hf_bp" model.vision_tower.encoder.layer.0.attention.v_proj.weight W8A8 || fail "-HF best practice: export"
e hf_name "$tmp/hf/config.json: model_type 'internvl' is transformers' InternVL layout, but --model_type InternVL3_5-8B names the original one; use InternVL3_5-8B-HF" \
  --model_path "$tmp/hf" --config_path tests/data/configs/dense_dynamic.yaml
type=InternVL3_5-8B-HF e original_name "$tmp/f32/config.json: model_type 'internvl_chat' is the original InternVL layout, but --model_type InternVL3_5-8B-HF names the -HF one; use InternVL3_5-8B" \
  --model_path "$tmp/f32" --config_path tests/data/configs/dense_dynamic.yaml

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "internvl: names, data-free, calibrated, best practice, float equivalence and errors checked"
