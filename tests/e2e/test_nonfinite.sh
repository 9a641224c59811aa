#!/usr/bin/env bash
# Non-finite values never reach an export: a NaN or infinity in a checkpoint tensor is refused when
# the tensor is converted or viewed (one line naming the file, the tensor and how many), and
# activations that become non-finite stop the run naming the sample, the unit and the Linear where
# they first appear. Before, one NaN in a q_proj of the quick start's model corrupted the heap
# (the MoE routing counted tokens for expert -1). Every case leaves nothing at --save_path.
set -euo pipefail
: "${VLMSLIM:?}" "${VLMSLIM_MKMODEL:?}" "${VLMSLIM_MKCALIB:?}" "${VS_TEST_TMP:?}"
mkdir -p "$VS_TEST_TMP"
tmp=$(mktemp -d "$VS_TEST_TMP/nonfinite.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
"$VLMSLIM_MKCALIB" --out "$tmp/lab/calibImages" >/dev/null
export VLMSLIM_LAB_CALIB_DIR=$tmp/lab

# poke MODEL_DIR TENSOR ELEMENT HEXBITS: overwrites one element of a tensor of model.safetensors
poke() {
  python3 - "$@" <<'PY'
import json, struct, sys
d, name, elem, bits = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
p = d + "/model.safetensors"
b = bytearray(open(p, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
t = json.loads(b[8:8 + n])[name]
size = {"F32": 4, "BF16": 2, "F16": 2}[t["dtype"]]
raw = bytes.fromhex(bits)
assert len(raw) == size, (t["dtype"], bits)
at = 8 + n + t["data_offsets"][0] + elem * size
b[at:at + size] = raw
open(p, "wb").write(b)
PY
}

# expect_error NAME "message" ARGS...: vlmslim quant fails with exit 1, one error line holding the
# message, no crash, nothing at --save_path and no staging directory left.
expect_error() {
  local name=$1 want=$2; shift 2
  local save="$tmp/$name.out" rc=0
  "$VLMSLIM" quant --save_path "$save" --model_type Qwen3-VL-30B-A3B --device cpu --quiet "$@" \
    >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
  local err; err=$(grep '^vlmslim: error:' "$tmp/stderr" || true)
  if [ "$rc" -ne 1 ] || [ "$(printf '%s\n' "$err" | grep -c .)" -ne 1 ] || [[ "$err" != *"$want"* ]]; then
    echo "FAIL: $name: rc=$rc, stderr:"; cat "$tmp/stderr"
    echo "      expected one error line containing: $want"
    failures=$((failures + 1))
  elif [ -e "$save" ] || ls -a "$tmp" | grep -q "\.$name\.out\.vlmslim-tmp"; then
    echo "FAIL: $name: left output behind"; failures=$((failures + 1))
  else
    echo "ok: $name: $err"
  fi
}

mk() { "$VLMSLIM_MKMODEL" --family qwen3_vl_moe --preset tiny --head-dim 32 "$@" >/dev/null; }

# the issue's case: the quick start's model (float32) with one NaN in a q_proj, the quick start's quant
mk --dtype f32 --out "$tmp/nan_q"
poke "$tmp/nan_q" model.language_model.layers.0.self_attn.q_proj.weight 5 0000c07f
q="model.language_model.layers.0.self_attn.q_proj.weight"
expect_error nan_q_w8a8 "$tmp/nan_q/model.safetensors: tensor '$q': 1 non-finite value(s) (first: NaN at element 5)" \
  --model_path "$tmp/nan_q" --quant_type w8a8
# the same data-free (W8A8 dynamic, no outlier processor): found when the weight is quantized
expect_error nan_q_dynamic "$q" --model_path "$tmp/nan_q" --config_path examples/configs/qwen3_vl_moe_w8a8_dynamic.yaml
# an infinity in a fused bf16 expert tensor: named with the expert's view of it
mk --dtype bf16 --out "$tmp/inf_expert"
poke "$tmp/inf_expert" model.language_model.layers.1.mlp.experts.gate_up_proj 3 807f
expect_error inf_expert "tensor 'model.language_model.layers.1.mlp.experts.gate_up_proj' (as 'model.language_model.layers.1.mlp.experts.0.gate_proj.weight'): 1 non-finite value(s) (first: infinity at element" \
  --model_path "$tmp/inf_expert" --quant_type w8a8
# the same with --compute bf16, which multiplies a bf16 checkpoint's weights in place: the same error
expect_error inf_expert_bf16 "tensor 'model.language_model.layers.1.mlp.experts.gate_up_proj' (as 'model.language_model.layers.1.mlp.experts.0.gate_proj.weight'): 1 non-finite value(s) (first: infinity at element" \
  --model_path "$tmp/inf_expert" --quant_type w8a8 --compute bf16
# a NaN in the token embedding row of a token every prompt has (<|im_start|>, the first one)
mk --dtype bf16 --out "$tmp/nan_embed"
im_start=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print([a["id"] for a in t["added_tokens"] if a["content"]=="<|im_start|>"][0])' "$tmp/nan_embed/tokenizer.json")
hidden=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["text_config"]["hidden_size"])' "$tmp/nan_embed/config.json")
poke "$tmp/nan_embed" model.language_model.embed_tokens.weight $((im_start * hidden + 2)) c07f
expect_error nan_embed "tensor 'model.language_model.embed_tokens.weight': 1 non-finite value(s) (first: NaN at element $((im_start * hidden + 2)))" \
  --model_path "$tmp/nan_embed" --quant_type w8a8
# finite weights whose activations overflow: a norm weight at bf16's largest value
mk --dtype bf16 --out "$tmp/overflow"
for i in 0 1 2 3 4 5 6 7; do poke "$tmp/overflow" model.language_model.layers.1.post_attention_layernorm.weight $i 7f7f; done
expect_error overflow "sample 0: model.language_model.layers.1: Linear 'model.language_model.layers.1." \
  --model_path "$tmp/overflow" --quant_type w8a8
grep -q "non-finite value(s) (first: infinity at row" "$tmp/stderr" ||
  { echo "FAIL: overflow: the error does not say where the infinity is"; failures=$((failures + 1)); }
expect_error overflow_bf16 "sample 0: model.language_model.layers.1: Linear 'model.language_model.layers.1." \
  --model_path "$tmp/overflow" --quant_type w8a8 --compute bf16
grep -q "non-finite value(s) (first: infinity at row" "$tmp/stderr" ||
  { echo "FAIL: overflow: the error does not say where the infinity is"; failures=$((failures + 1)); }

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all non-finite cases refused"
