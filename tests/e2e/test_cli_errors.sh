#!/usr/bin/env bash
# Every bad input of `vlmslim quant` gives one clear error line, a non-zero exit status, and
# leaves no output that looks complete.
set -euo pipefail
: "${VLMSLIM:?}" "${VLMSLIM_MKMODEL:?}" "${VS_TEST_TMP:?}"
mkdir -p "$VS_TEST_TMP"
tmp=$(mktemp -d "$VS_TEST_TMP/cli-errors.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

moe="$tmp/moe"; dense="$tmp/dense"; sharded="$tmp/sharded"
"$VLMSLIM_MKMODEL" --family qwen3_vl_moe --preset tiny --out "$moe"
"$VLMSLIM_MKMODEL" --family qwen3_vl --preset tiny --out "$dense"
"$VLMSLIM_MKMODEL" --family qwen3_vl_moe --preset tiny --shards 3 --out "$sharded"
cfg=examples/configs/qwen3_vl_moe_w8a8_dynamic.yaml
failures=0

# expect_error EXIT_CODE "message fragment" ARGS... : runs vlmslim quant, checks the status, that
# stderr holds the fragment on one error line, and that nothing appeared at --save_path.
expect_error() {
  local want_rc=$1 want_msg=$2; shift 2
  local save="$tmp/out-$RANDOM$RANDOM" rc=0
  "$VLMSLIM" quant --save_path "$save" "$@" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
  local err; err=$(grep '^vlmslim: error:' "$tmp/stderr" || true)
  if [ "$rc" -ne "$want_rc" ] || [ "$(printf '%s\n' "$err" | grep -c .)" -ne 1 ] || [[ "$err" != *"$want_msg"* ]]; then
    echo "FAIL: quant $* -> rc=$rc (want $want_rc), stderr:"; cat "$tmp/stderr"
    echo "      expected one error line containing: $want_msg"
    failures=$((failures + 1))
  elif [ -e "$save" ] || ls -a "$tmp" | grep -q 'vlmslim-tmp'; then
    echo "FAIL: quant $* left output behind: $(ls -a "$tmp")"
    failures=$((failures + 1))
  fi
}

m=(--model_path "$moe")
t=(--model_type Qwen3-VL-30B-A3B)

expect_error 2 "unknown --model_type 'Qwen9'" "${m[@]}" --model_type Qwen9 --config_path "$cfg"
expect_error 2 "Qwen3-VL-30B-A3B" "${m[@]}" --model_type Qwen9 --config_path "$cfg"   # lists the names
expect_error 1 "CPU only; use --device cpu" "${m[@]}" "${t[@]}" --config_path "$cfg" --device npu
expect_error 1 "CPU only" "${m[@]}" "${t[@]}" --config_path "$cfg" --device cuda:0
expect_error 2 "Invalid device type: 'tpu'" "${m[@]}" "${t[@]}" --config_path "$cfg" --device tpu
expect_error 2 "device string cannot be empty" "${m[@]}" "${t[@]}" --config_path "$cfg" --device " "
expect_error 2 "Invalid device indices format" "${m[@]}" "${t[@]}" --config_path "$cfg" --device cpu:x
expect_error 2 "only one can be provided" "${m[@]}" "${t[@]}" --config_path "$cfg" --quant_type w8a8
expect_error 2 "--model_path is required" "${t[@]}" --config_path "$cfg"
expect_error 2 "does not exist" --model_path "$tmp/nope" "${t[@]}" --config_path "$cfg"
expect_error 2 "is not a directory" --model_path "$moe/config.json" "${t[@]}" --config_path "$cfg"
expect_error 2 "--model_type is required" "${m[@]}" --config_path "$cfg"
expect_error 2 "expected True or False" "${m[@]}" "${t[@]}" --config_path "$cfg" --trust_remote_code yes
expect_error 2 "unknown option '--foo'" "${m[@]}" "${t[@]}" --config_path "$cfg" --foo 1
expect_error 2 "needs a value" "${m[@]}" "${t[@]}" --config_path
expect_error 2 "--config_path $tmp/none.yaml: does not exist" "${m[@]}" "${t[@]}" --config_path "$tmp/none.yaml"
expect_error 2 "w3a3" "${m[@]}" "${t[@]}" --quant_type w3a3

# save_path problems
mkdir -p "$tmp/full"; echo x > "$tmp/full/file"
rc=0; "$VLMSLIM" quant "${m[@]}" "${t[@]}" --config_path "$cfg" --save_path "$tmp/full" 2>"$tmp/stderr" || rc=$?
if [ "$rc" -ne 2 ] || ! grep -q "directory is not empty; choose another path or pass --overwrite" "$tmp/stderr" \
   || [ "$(cat "$tmp/full/file")" != x ]; then
  echo "FAIL: non-empty save_path"; cat "$tmp/stderr"; failures=$((failures + 1)); fi
echo x > "$tmp/afile"
rc=0; "$VLMSLIM" quant "${m[@]}" "${t[@]}" --config_path "$cfg" --save_path "$tmp/afile" 2>"$tmp/stderr" || rc=$?
if [ "$rc" -ne 2 ] || ! grep -q "exists and is not a directory" "$tmp/stderr"; then
  echo "FAIL: save_path is a file"; cat "$tmp/stderr"; failures=$((failures + 1)); fi
rc=0; "$VLMSLIM" quant "${m[@]}" "${t[@]}" --config_path "$cfg" --save_path "$tmp/afile/sub/out" 2>"$tmp/stderr" || rc=$?
if [ "$rc" -eq 0 ] || ! grep -q "cannot create directory" "$tmp/stderr"; then
  echo "FAIL: unwritable save_path parent"; cat "$tmp/stderr"; failures=$((failures + 1)); fi
rc=0; "$VLMSLIM" quant "${m[@]}" "${t[@]}" --config_path "$cfg" --save_path "$moe" 2>"$tmp/stderr" || rc=$?
if [ "$rc" -ne 2 ]; then echo "FAIL: save_path = model_path accepted"; failures=$((failures + 1)); fi
# --overwrite replaces a non-empty save_path
"$VLMSLIM" quant "${m[@]}" "${t[@]}" --config_path "$cfg" --save_path "$tmp/full" --overwrite --log_level error >/dev/null
if [ -e "$tmp/full/file" ] || [ ! -f "$tmp/full/quant_model_description.json" ]; then
  echo "FAIL: --overwrite did not replace the directory"; failures=$((failures + 1)); fi

# configs
printf 'apiversion: multimodal_vlm_modelslim_v1\nspec:\n  process:\n    - type: linear_quant\n      bogus: 1\n' > "$tmp/unknown_key.yaml"
expect_error 1 "spec.process[0].bogus" "${m[@]}" "${t[@]}" --config_path "$tmp/unknown_key.yaml"
printf 'apiversion: multimodal_vlm_modelslim_v1\nspec:\n  save:\n    - type: bogus_saver\n' > "$tmp/unknown_saver.yaml"
expect_error 1 "spec.save[0].type: unknown saver type 'bogus_saver' (expected one of: ascendv1_saver, ascendv1_saver_distributed, mindie_format_saver, compressed_tensors_saver)" \
  "${m[@]}" "${t[@]}" --config_path "$tmp/unknown_saver.yaml"
printf 'apiversion: multimodal_vlm_modelslim_v1\nspec: [unclosed\n' > "$tmp/syntax.yaml"
expect_error 1 "syntax.yaml:" "${m[@]}" "${t[@]}" --config_path "$tmp/syntax.yaml"
sed 's/scope: "per_token"/scope: "per_tensor"/' "$cfg" > "$tmp/static.yaml"   # W8A8 static: its dataset must exist
expect_error 1 "static.yaml: spec.dataset: Dataset path does not exist: calibImages" "${m[@]}" "${t[@]}" --config_path "$tmp/static.yaml"
sed '0,/method: "minmax"/s//method: "histogram"/' "$tmp/static.yaml" > "$tmp/histogram.yaml"   # act histogram: W8A8 static too
expect_error 1 "histogram.yaml: spec.dataset: Dataset path does not exist: calibImages" "${m[@]}" "${t[@]}" --config_path "$tmp/histogram.yaml"
sed '0,/method: "minmax"/s//method: "histogram"/' "$cfg" > "$tmp/histogram_token.yaml"   # histogram is per_tensor only
expect_error 1 "method 'histogram'" "${m[@]}" "${t[@]}" --config_path "$tmp/histogram_token.yaml"
# the shipped configs rotate with block_size 32: more than this fixture's head_dim of 16
expect_error 1 "spec.process[0] (model family 'qwen3_vl_moe'): BLOCK_HADAMARD_SHIFTED rotation: block_size 32 must be -1 or a power of two dividing 16" \
  "${m[@]}" "${t[@]}" --config_path ../shared/data/msmodelslim_configs/qwen3_vl_moe/qwen3_vl_moe_w8a8.yaml
expect_error 1 "BLOCK_HADAMARD_SHIFTED rotation: block_size 32 must be -1 or a power of two dividing 16" \
  "${m[@]}" "${t[@]}" --quant_type w8a8
printf 'apiversion: multimodal_vlm_modelslim_v1\nspec:\n  process:\n    - type: "flex_smooth_quant"\n  save:\n    - type: "ascendv1_saver"\n' \
  > "$tmp/flex.yaml"
expect_error 1 "spec.process[0]: processor 'flex_smooth_quant' is not available in this build" "${m[@]}" "${t[@]}" \
  --config_path "$tmp/flex.yaml"

# checkpoints
expect_error 1 "model_type is 'qwen3_vl' but --model_type Qwen3-VL-30B-A3B expects a 'qwen3_vl_moe' checkpoint" \
  --model_path "$dense" "${t[@]}" --config_path "$cfg"
cp -r "$moe" "$tmp/truncated"; truncate -s 100 "$tmp/truncated/model.safetensors"
expect_error 1 "model.safetensors" --model_path "$tmp/truncated" "${t[@]}" --config_path "$cfg"
cp -r "$sharded" "$tmp/missing_shard"; rm "$tmp/missing_shard/model-00002-of-00003.safetensors"
expect_error 1 "model-00002-of-00003.safetensors" --model_path "$tmp/missing_shard" "${t[@]}" --config_path "$cfg"
# a failure after most units were written (the tail's shape is wrong) still leaves nothing
cp -r "$moe" "$tmp/late_failure"
sed -i 's/"vocab_size": \([0-9]*\)/"vocab_size": 7/' "$tmp/late_failure/config.json"
expect_error 1 "embed_tokens.weight" --model_path "$tmp/late_failure" "${t[@]}" --config_path "$cfg"

if [ "$failures" -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "all CLI error cases passed"
