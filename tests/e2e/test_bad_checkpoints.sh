#!/usr/bin/env bash
# Malformed checkpoints are refused before anything is sized by them: a config.json key the
# shape math reads (a non-positive or non-integer value, one too large for an int, heads that
# do not divide, top-k above the experts, more layers than the checkpoint has, ...), a
# safetensors header that does not describe its data (overflowing shape, offsets outside the
# file, overlapping tensors, ...) and a tensor whose shape is not the one config.json implies.
# Each case, on the quick start's MoE model or a dense one, exits 1 with one error line naming
# config.json and the key, or the file and the tensor; nothing is left at --save_path.
set -euo pipefail
: "${VLMSLIM:?}" "${VLMSLIM_MKMODEL:?}" "${VLMSLIM_MKCALIB:?}" "${VS_TEST_TMP:?}"
mkdir -p "$VS_TEST_TMP"
tmp=$(mktemp -d "$VS_TEST_TMP/bad_checkpoints.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
st_header="python3 tests/tools/st_header.py"
"$VLMSLIM_MKCALIB" --out "$tmp/lab/calibImages" >/dev/null
export VLMSLIM_LAB_CALIB_DIR=$tmp/lab

# the quick start's model and a dense one
"$VLMSLIM_MKMODEL" --family qwen3_vl_moe --preset tiny --dtype f32 --head-dim 32 --out "$tmp/moe" >/dev/null
"$VLMSLIM_MKMODEL" --family qwen3_vl --preset tiny --dtype bf16 --out "$tmp/dense" >/dev/null

# edit NAME BASE KEY JSON: a copy of BASE as $tmp/NAME with config.json's dotted KEY set to JSON
# (or removed for DELETE)
edit() {
  rm -rf "${tmp:?}/$1"
  cp -r "$tmp/$2" "$tmp/$1"
  python3 - "$tmp/$1/config.json" "$3" "$4" <<'PY'
import json, sys
path, key, value = sys.argv[1:]
config = json.load(open(path))
*parents, last = key.split(".")
obj = config
for k in parents:
    obj = obj[k]
if value == "DELETE":
    del obj[last]
else:
    obj[last] = json.loads(value)
json.dump(config, open(path, "w"), indent=2)
PY
}

# copy NAME BASE: a plain copy, for header edits
copy() { rm -rf "${tmp:?}/$1"; cp -r "$tmp/$2" "$tmp/$1"; }

# check NAME RC "message": one error line holding the message, exit 1 (not a crash), nothing at
# the output path and no staging directory left
check() {
  local name=$1 rc=$2 want=$3 out=$tmp/$1.out
  local err; err=$(grep '^vlmslim: error:' "$tmp/stderr" || true)
  if [ "$rc" -ne 1 ] || [ "$(printf '%s\n' "$err" | grep -c .)" -ne 1 ] || [[ "$err" != *"$want"* ]]; then
    echo "FAIL: $name: rc=$rc, stderr:"; tail -n 5 "$tmp/stderr"
    echo "      expected one error line containing: $want"
    failures=$((failures + 1))
  elif [ -e "$out" ] || ls -a "$tmp" | grep -q "\.$name\.out\.vlmslim-tmp"; then
    echo "FAIL: $name: left output behind"; failures=$((failures + 1))
  else
    echo "ok: $name: $err"
  fi
}

# quant NAME "message": vlmslim quant of $tmp/NAME (data-free W8A8 dynamic, or the quick start's
# calibrated W8A8 with QUANT=w8a8)
quant() {
  local name=$1 want=$2 rc=0 model_type config
  if grep -q '"qwen3_vl_moe"' "$tmp/$name/config.json"; then
    model_type=Qwen3-VL-30B-A3B config=examples/configs/qwen3_vl_moe_w8a8_dynamic.yaml
  else
    model_type=Qwen3-VL-8B-Instruct config=tests/data/configs/dense_dynamic.yaml
  fi
  local how=(--config_path "$config")
  [ "${QUANT:-}" = w8a8 ] && how=(--quant_type w8a8)
  "$VLMSLIM" quant --model_path "$tmp/$name" --save_path "$tmp/$name.out" --model_type "$model_type" \
    --device cpu --quiet "${how[@]}" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
  check "$name" "$rc" "$want"
}

# forward NAME "message": vlmslim forward of $tmp/NAME (the MoE model) over the calibration images
forward() {
  local name=$1 want=$2 rc=0
  "$VLMSLIM" forward --model_path "$tmp/$name" --model_type Qwen3-VL-30B-A3B --dataset calibImages \
    --dump "$tmp/$name.dump" --quiet >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
  check "$name" "$rc" "$want"
}

# config_case NAME BASE KEY JSON "message"
config_case() {
  edit "$1" "$2" "$3" "$4"
  quant "$1" "$tmp/$1/config.json: $5"
}

# ---- config.json ----
config_case hidden_zero moe text_config.hidden_size 0 "text_config.hidden_size: must be a positive integer, got 0"
config_case hidden_negative moe text_config.hidden_size -1 "text_config.hidden_size: must be a positive integer, got -1"
config_case hidden_1e30 moe text_config.hidden_size 1e30 "text_config.hidden_size: expected an integer"
config_case hidden_string moe text_config.hidden_size '"abc"' "text_config.hidden_size: expected an integer"
config_case hidden_fraction moe text_config.hidden_size 3.5 "text_config.hidden_size: expected an integer"
config_case hidden_over_int moe text_config.hidden_size 3000000000 "text_config.hidden_size: 3000000000 is too large (at most 2147483647)"
config_case hidden_missing moe text_config.hidden_size DELETE "text_config.hidden_size: required key is missing"
config_case dense_hidden_zero dense text_config.hidden_size 0 "text_config.hidden_size: must be a positive integer, got 0"
config_case heads_not_dividing moe text_config.num_attention_heads 7 \
  "text_config.num_key_value_heads (2) does not divide text_config.num_attention_heads (7)"
config_case kv_heads_not_dividing moe text_config.num_key_value_heads 3 \
  "text_config.num_key_value_heads (3) does not divide text_config.num_attention_heads (4)"
config_case kv_heads_zero dense text_config.num_key_value_heads 0 "text_config.num_key_value_heads: must be a positive integer, got 0"
config_case head_dim_zero moe text_config.head_dim 0 "text_config.head_dim: must be a positive integer, got 0"
edit head_dim_odd moe text_config.head_dim 33 # 33/2 = 16 still matches the mrope sections
quant head_dim_odd "$tmp/head_dim_odd/config.json: text_config.head_dim (33) must be even"
config_case dense_intermediate_zero dense text_config.intermediate_size 0 "text_config.intermediate_size: must be a positive integer, got 0"
config_case experts_zero moe text_config.num_experts 0 "text_config.num_experts: must be a positive integer, got 0"
config_case topk_zero moe text_config.num_experts_per_tok 0 "text_config.num_experts_per_tok: must be a positive integer, got 0"
config_case topk_over_experts moe text_config.num_experts_per_tok 5 \
  "text_config.num_experts_per_tok (5) is more than text_config.num_experts (4)"
# the same with calibration, where the router's top-k runs
QUANT=w8a8 config_case topk_over_experts_calib moe text_config.num_experts_per_tok 5 \
  "text_config.num_experts_per_tok (5) is more than text_config.num_experts (4)"
config_case layers_zero moe text_config.num_hidden_layers 0 "text_config.num_hidden_layers: must be a positive integer, got 0"
config_case layers_1e9 moe text_config.num_hidden_layers 1000000000 \
  "text_config.num_hidden_layers (1000000000) is more than the 2 layers the checkpoint has (model.language_model.layers.*)"
config_case dense_layers_one_more dense text_config.num_hidden_layers 3 \
  "text_config.num_hidden_layers (3) is more than the 2 layers the checkpoint has (model.language_model.layers.*)"
config_case vocab_zero moe text_config.vocab_size 0 "text_config.vocab_size: must be a positive integer, got 0"
config_case mrope_sum moe text_config.rope_scaling.mrope_section '[6, 5, 6]' \
  "text_config.rope_scaling.mrope_section: expected three non-negative integers summing to head_dim/2 = 16"
config_case mrope_negative moe text_config.rope_scaling.mrope_section '[20, -2, -2]' \
  "text_config.rope_scaling.mrope_section: expected three non-negative integers summing to head_dim/2 = 16"
config_case rope_type_yarn moe text_config.rope_scaling.rope_type '"yarn"' \
  "text_config.rope_scaling.rope_type: 'yarn' is not supported (only default / mrope RoPE)"
config_case rope_theta_zero dense text_config.rope_theta 0 "rope_theta must be positive"
# transformers 5's form: rope_scaling and rope_theta as text_config.rope_parameters, whose
# rope_theta is the one used; calibrated (the attention runs): the same export as the published
# form, and another export with another rope_theta
v5_rope() { # name, rope_theta
  rm -rf "${tmp:?}/$1"; cp -r "$tmp/dense" "$tmp/$1"
  python3 - "$tmp/$1/config.json" "$2" <<'PY'
import json, sys
path, theta = sys.argv[1], float(sys.argv[2])
c = json.load(open(path))
tc = c["text_config"]
tc["rope_parameters"] = dict(tc.pop("rope_scaling"), rope_theta=theta)
del tc["rope_theta"]
json.dump(c, open(path, "w"), indent=2)
PY
}
theta=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["text_config"]["rope_theta"])' "$tmp/dense/config.json")
v5_rope dense_v5 "$theta"
v5_rope dense_v5_theta 10000
rm -rf "$tmp/dense.w8a8"; cp -r "$tmp/dense" "$tmp/dense.w8a8"
for d in dense.w8a8 dense_v5 dense_v5_theta; do
  "$VLMSLIM" quant --model_path "$tmp/$d" --save_path "$tmp/$d.x" --model_type Qwen3-VL-4B-Instruct --quant_type w8a8 \
    --device cpu --quiet >/dev/null 2>"$tmp/stderr" || { echo "FAIL: $d: $(cat "$tmp/stderr")"; failures=$((failures + 1)); }
done
if diff -r -x config.json "$tmp/dense.w8a8.x" "$tmp/dense_v5.x" >/dev/null &&
   ! diff -r -x config.json "$tmp/dense.w8a8.x" "$tmp/dense_v5_theta.x" >/dev/null; then
  echo "ok: transformers 5 rope_parameters: the published form's export; its rope_theta is used"
else
  echo "FAIL: transformers 5 rope_parameters"; failures=$((failures + 1))
fi
config_case vision_depth_zero moe vision_config.depth 0 "vision_config.depth: must be a positive integer, got 0"
config_case vision_depth_one_more dense vision_config.depth 3 \
  "vision_config.depth (3) is more than the 2 blocks the checkpoint has (model.visual.blocks.*)"
config_case patch_zero moe vision_config.patch_size 0 "vision_config.patch_size: must be a positive integer, got 0"
config_case merge_zero moe vision_config.spatial_merge_size 0 "vision_config.spatial_merge_size: must be a positive integer, got 0"
config_case temporal_zero dense vision_config.temporal_patch_size 0 "vision_config.temporal_patch_size: must be a positive integer, got 0"
config_case vision_heads_not_dividing moe vision_config.num_heads 3 \
  "vision_config.num_heads (3) does not divide vision_config.hidden_size (32)"
# 32 / 16 = 2: the shapes still match, the vision rope would leave half its table unset
config_case vision_head_dim_odd_quarter moe vision_config.num_heads 16 \
  "vision_config.hidden_size / num_heads (32 / 16) must be a multiple of 4 (the vision rotary embedding splits a head in four)"
config_case position_embeddings_not_square moe vision_config.num_position_embeddings 15 \
  "vision_config.num_position_embeddings (15) is not the square of an integer"
config_case merge_overflow moe vision_config.spatial_merge_size 2000000000 \
  "vision_config.hidden_size * spatial_merge_size^2 (32 * 2000000000^2) does not fit in 64 bits"
config_case patch_overflow moe vision_config.patch_size 2000000000 \
  "vision_config.in_channels * temporal_patch_size * patch_size^2 (3 * 2 * 2000000000^2) does not fit in 64 bits"
config_case deepstack_out_of_range moe vision_config.deepstack_visual_indexes '[5]' \
  "vision_config.deepstack_visual_indexes[0] = 5 is outside 0..1"
config_case deepstack_more_than_mergers moe vision_config.deepstack_visual_indexes '[0, 1]' \
  "vision_config.deepstack_visual_indexes lists 2 layers but the checkpoint has 1 deepstack mergers"

# ---- safetensors headers ----
q=model.language_model.layers.0.self_attn.q_proj.weight # F32 [128, 64], 32768 bytes
q_begin=$(python3 -c 'import json,struct,sys; b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]; print(json.loads(b[8:8+n])[sys.argv[2]]["data_offsets"][0])' "$tmp/moe/model.safetensors" "$q")
data_size=$(python3 -c 'import os,struct,sys; p=sys.argv[1]; print(os.path.getsize(p) - 8 - struct.unpack("<Q",open(p,"rb").read(8))[0])' "$tmp/moe/model.safetensors")
# header_case NAME TENSOR FIELD JSON "message" (after "<file>: tensor '<TENSOR>': ")
header_case() {
  copy "$1" moe
  $st_header "$tmp/$1/model.safetensors" set "$2" "$3" "$4"
  quant "$1" "$tmp/$1/model.safetensors: tensor '$2': $5"
}
header_case shape_overflow "$q" shape '[4294967296, 4294967296, 16]' \
  "data_offsets [$q_begin, $((q_begin + 32768))] span 32768 bytes but shape [4294967296, 4294967296, 16] x F32 needs at least 2^63"
header_case shape_negative "$q" shape '[-128, 64]' "shape[0] must be a non-negative integer"
header_case shape_span_mismatch "$q" shape '[129, 64]' \
  "data_offsets [$q_begin, $((q_begin + 32768))] span 32768 bytes but shape [129, 64] x F32 needs 33024"
header_case offsets_beyond_file "$q" data_offsets "[$q_begin, 99999999]" "data_offsets [$q_begin, 99999999] outside the data area of"
header_case offsets_reversed "$q" data_offsets "[$((q_begin + 32768)), $q_begin]" \
  "data_offsets [$((q_begin + 32768)), $q_begin] outside the data area of $data_size bytes (end before begin)"
header_case dtype_unknown "$q" dtype '"F17"' "unknown dtype 'F17'"
copy overlap moe
$st_header "$tmp/overlap/model.safetensors" set model.language_model.layers.0.self_attn.k_proj.weight data_offsets \
  "[$q_begin, $((q_begin + 16384))]"
quant overlap "overlap in the data area"
copy header_too_long moe
$st_header "$tmp/header_too_long/model.safetensors" length 99999999
quant header_too_long "$tmp/header_too_long/model.safetensors: header length 99999999 exceeds the file size"

# ---- tensor shapes against config.json ----
# shape_case NAME TENSOR SHAPE BYTES: TENSOR's header entry becomes SHAPE over its first BYTES
shape_case() {
  copy "$1" "${BASE:-moe}"
  local begin
  begin=$(python3 -c 'import json,struct,sys; b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]; print(json.loads(b[8:8+n])[sys.argv[2]]["data_offsets"][0])' "$tmp/$1/model.safetensors" "$2")
  $st_header "$tmp/$1/model.safetensors" set "$2" shape "$3"
  $st_header "$tmp/$1/model.safetensors" set "$2" data_offsets "[$begin, $((begin + $4))]"
}
shape_case q_rows "$q" '[64, 128]' 32768
quant q_rows "$tmp/q_rows/model.safetensors: tensor '$q' is F32 [64, 128] but $tmp/q_rows/config.json implies a float tensor of shape [128, 64]"
BASE=dense shape_case dense_down_cols model.language_model.layers.1.mlp.down_proj.weight '[64, 95]' $((64 * 95 * 2))
quant dense_down_cols "tensor 'model.language_model.layers.1.mlp.down_proj.weight' is BF16 [64, 95] but $tmp/dense_down_cols/config.json implies a float tensor of shape [64, 96]"
experts=model.language_model.layers.1.mlp.experts.gate_up_proj # [4, 64, 64]
shape_case experts_swapped "$experts" '[64, 4, 64]' $((4 * 64 * 64 * 4))
quant experts_swapped "tensor '$experts' must be a float tensor of shape [4, 64, 64] (num_experts, in, out)"
# the forward reads the embeddings and the head by the config's dimensions: rows wider than
# hidden_size overran the hidden states, a head with fewer rows than vocab_size was read past
shape_case embed_wide model.language_model.embed_tokens.weight '[310, 66]' $((310 * 66 * 4))
forward embed_wide "tensor 'model.language_model.embed_tokens.weight' is F32 [310, 66] but $tmp/embed_wide/config.json implies a float tensor of shape [320, 64]"
shape_case head_short lm_head.weight '[160, 64]' $((160 * 64 * 4))
forward head_short "tensor 'lm_head.weight' is F32 [160, 64] but $tmp/head_short/config.json implies a float tensor of shape [320, 64]"
QUANT=w8a8 quant head_short "tensor 'lm_head.weight' is F32 [160, 64] but $tmp/head_short/config.json implies a float tensor of shape [320, 64]"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all malformed checkpoints refused"
