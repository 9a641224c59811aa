#!/usr/bin/env bash
# `vlmslim inspect-inputs`: the model inputs of a calibration set (a folder with a per-image
# jsonl, real photos, odd sizes, EXIF rotation) equal those of the independent references
# (tests/golden/inputs/expected.json); the config and short-name routes; every bad input is one
# error line with no dump left behind.
set -euo pipefail
: "${VLMSLIM:?}" "${VLMSLIM_MKMODEL:?}" "${VS_TEST_TMP:?}"
py=${VS_PYTHON:-/usr/bin/python3}
mkdir -p "$VS_TEST_TMP"
tmp=$(mktemp -d "$VS_TEST_TMP/inspect-inputs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
source tests/golden/inputs/dataset.sh
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

model="$tmp/model"
"$VLMSLIM_MKMODEL" --family qwen3_vl_moe --out "$model"
mkdir "$tmp/data"
vs_inputs_dataset "$tmp/data"

# the dump against the references
"$VLMSLIM" inspect-inputs --model_path "$model" --dataset "$tmp/data" --default_text "$VS_INPUTS_DEFAULT_TEXT" \
  --dump "$tmp/dump" > "$tmp/out.txt" || fail "inspect-inputs exited $?"
"$py" tests/golden/inputs/check_dump.py "$tmp/dump" tests/golden/inputs/expected.json || fail "dump differs from the references"
grep -q '^sample 0: .*/palette4_37x23.png$' "$tmp/out.txt" || fail "sample 0 line: $(head -1 "$tmp/out.txt")"
grep -q '^  image 37x23 -> ' "$tmp/out.txt" || fail "image size line"
grep -q '^  image 640x479 -> 640x480, grid 1x30x40, 1200 patches$' "$tmp/out.txt" || fail "COCO image line"
grep -q '^  prompt: <|im_start|>user\\n<|vision_start|><|image_pad|><|vision_end|>What is in this picture?\\nAnswer in one word.<|im_end|>\\n<|im_start|>assistant\\n$' \
  "$tmp/out.txt" || fail "prompt line of sample 1: $(grep -m2 prompt "$tmp/out.txt" | tail -1)"
grep -q "^wrote 4 sample file(s) to $tmp/dump\$" "$tmp/out.txt" || fail "summary line"

# the same set for a Qwen2.5-VL checkpoint: patch 14 and factor 28, CLIP mean/std, its chat
# template's default system turn (tests/golden/inputs/expected_qwen2_5_vl.json)
"$VLMSLIM_MKMODEL" --family qwen2_5_vl --out "$tmp/q25" >/dev/null
"$VLMSLIM" inspect-inputs --model_path "$tmp/q25" --dataset "$tmp/data" --default_text "$VS_INPUTS_DEFAULT_TEXT" \
  --dump "$tmp/dump25" > "$tmp/out25.txt" || fail "inspect-inputs (qwen2_5_vl) exited $?"
"$py" tests/golden/inputs/check_dump.py "$tmp/dump25" tests/golden/inputs/expected_qwen2_5_vl.json ||
  fail "qwen2_5_vl dump differs from the references"
grep -q '^  image 640x479 -> 644x476, grid 1x34x46, 1564 patches$' "$tmp/out25.txt" || fail "qwen2_5_vl COCO image line"
grep -q '^  prompt: <|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n<|im_start|>user\\n' "$tmp/out25.txt" ||
  fail "qwen2_5_vl prompt line: $(grep -m1 prompt "$tmp/out25.txt")"

# the same set for an InternVL checkpoint: msModelSlim's tiles (no EXIF transpose, a thumbnail)
# and its query (tests/golden/inputs/expected_internvl.json)
"$VLMSLIM_MKMODEL" --family internvl --out "$tmp/ivl" >/dev/null
"$VLMSLIM" inspect-inputs --model_path "$tmp/ivl" --dataset "$tmp/data" --default_text "$VS_INPUTS_DEFAULT_TEXT" \
  --dump "$tmp/dumpivl" > "$tmp/outivl.txt" || fail "inspect-inputs (internvl) exited $?"
"$py" tests/golden/inputs/check_dump.py "$tmp/dumpivl" tests/golden/inputs/expected_internvl.json ||
  fail "internvl dump differs from the references"
grep -q '^  image 640x479 -> 224x168, grid 1x13x1, 13 tiles$' "$tmp/outivl.txt" || fail "internvl COCO image line: $(grep -m3 image "$tmp/outivl.txt")"
grep -q '^  prompt: <|im_start|>system\\n.*<|im_start|>user\\n<image>\\nWhat is in this picture' "$tmp/outivl.txt" ||
  fail "internvl prompt line: $(grep -m2 prompt "$tmp/outivl.txt" | tail -1)"

# the -HF layout: GotOcr2's tiles (EXIF applied), the chat template, InternVLProcessor's
# expansion (tests/golden/inputs/expected_internvl_hf.json)
"$VLMSLIM_MKMODEL" --family internvl --layout hf --out "$tmp/ivlhf" >/dev/null
"$VLMSLIM" inspect-inputs --model_path "$tmp/ivlhf" --dataset "$tmp/data" --default_text "$VS_INPUTS_DEFAULT_TEXT" \
  --dump "$tmp/dumpivlhf" > "$tmp/outivlhf.txt" || fail "inspect-inputs (internvl -HF) exited $?"
"$py" tests/golden/inputs/check_dump.py "$tmp/dumpivlhf" tests/golden/inputs/expected_internvl_hf.json ||
  fail "internvl -HF dump differs from the references"

# the same dataset through a config's spec.dataset and spec.default_text
cat > "$tmp/cfg.yaml" <<YAML
apiversion: multimodal_vlm_modelslim_v1
spec:
  process:
    - type: linear_quant
      qconfig:
        act: {scope: per_token, dtype: int8, symmetric: true, method: minmax}
        weight: {scope: per_channel, dtype: int8, symmetric: true, method: minmax}
  save:
    - type: ascendv1_saver
  dataset: $tmp/data
  default_text: "$VS_INPUTS_DEFAULT_TEXT"
YAML
"$VLMSLIM" inspect-inputs --model_path "$model" --config_path "$tmp/cfg.yaml" --dump "$tmp/dump2" > /dev/null \
  || fail "inspect-inputs --config_path exited $?"
for f in "$tmp"/dump/*; do cmp -s "$f" "$tmp/dump2/${f##*/}" || fail "--config_path: ${f##*/} differs"; done

# a short name resolved under the lab_calib directory
VLMSLIM_LAB_CALIB_DIR=../shared/data "$VLMSLIM" inspect-inputs --model_path "$model" --dataset calibImages \
  > "$tmp/short.txt" || fail "--dataset calibImages exited $?"
[ "$(grep -c '^sample ' "$tmp/short.txt")" -eq 2 ] || fail "--dataset calibImages: $(cat "$tmp/short.txt")"

# a tokenizer_config.json with an integer beyond 64 bits (as Llama's model_max_length) loads, as in Python
cp -r "$model" "$tmp/bigint"
sed -i 's/"model_max_length": [0-9]*/"model_max_length": 1000000000000000019884624838656/' "$tmp/bigint/tokenizer_config.json"
grep -q 1000000000000000019884624838656 "$tmp/bigint/tokenizer_config.json" || fail "bigint fixture not made"
"$VLMSLIM" inspect-inputs --model_path "$tmp/bigint" --dataset "$tmp/data" > /dev/null 2> "$tmp/bigint.err" ||
  fail "a 64-bit-overflowing tokenizer_config.json integer: $(cat "$tmp/bigint.err")"

# expect_error EXIT_CODE "fragment" ARGS...: one error line, and no dump directory or staging left
expect_error() {
  local want_rc=$1 want_msg=$2; shift 2
  local rc=0
  "$VLMSLIM" inspect-inputs "$@" > /dev/null 2> "$tmp/stderr" || rc=$?
  local err; err=$(grep '^vlmslim: error:' "$tmp/stderr" || true)
  if [ "$rc" -ne "$want_rc" ] || [ "$(printf '%s\n' "$err" | grep -c .)" -ne 1 ] || [[ "$err" != *"$want_msg"* ]]; then
    fail "inspect-inputs $* -> rc=$rc (want $want_rc), stderr: $(cat "$tmp/stderr") (want: $want_msg)"
  elif [ -e "$tmp/bad-dump" ] || ls -a "$tmp" | grep -q 'vlmslim-tmp'; then
    fail "inspect-inputs $* left output behind: $(ls -a "$tmp")"
  fi
}
d=(--dataset "$tmp/data" --dump "$tmp/bad-dump")
expect_error 2 "--model_path is required" "${d[@]}"
expect_error 2 "give one of --config_path and --dataset" --model_path "$model" --dump "$tmp/bad-dump"
expect_error 2 "give one of --config_path and --dataset" --model_path "$model" "${d[@]}" --config_path "$tmp/cfg.yaml"
expect_error 2 "--model_path $tmp/nope: does not exist" --model_path "$tmp/nope" "${d[@]}"
expect_error 2 "--dump $tmp/dump: directory is not empty" --model_path "$model" --dataset "$tmp/data" --dump "$tmp/dump"
expect_error 1 "no-such-set" --model_path "$model" --dataset "$tmp/no-such-set" --dump "$tmp/bad-dump"
"$VLMSLIM_MKMODEL" --family qwen3_vl_moe --vocab 64 --out "$tmp/notok"
expect_error 1 "$tmp/notok/tokenizer.json: not found" --model_path "$tmp/notok" "${d[@]}"
cp -r "$model" "$tmp/notpl"
rm -f "$tmp/notpl"/chat_template.json "$tmp/notpl"/chat_template.jinja
expect_error 1 "chat template" --model_path "$tmp/notpl" "${d[@]}"
# a sample whose image does not decode: the error names the sample and the file
mkdir "$tmp/baddata"
cp "$tmp/data/COCO_train2014_000000577589.jpg" tests/golden/vision/images/bad_truncated.jpg "$tmp/baddata/"
expect_error 1 "bad_truncated.jpg" --model_path "$model" --dataset "$tmp/baddata" --dump "$tmp/bad-dump"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "inspect-inputs: dump equals the references; config, short-name and error routes checked"
