#!/usr/bin/env bash
# vlmslim-mkmodel (tools/mkmodel.c): the generated checkpoints are deterministic, laid out as
# Hugging Face lays them out (checked independently by tests/reference/check_checkpoint.py when
# numpy is available), and bad arguments give one error line and exit status 2.
set -euo pipefail
: "${VLMSLIM_MKMODEL:?}" "${VS_TEST_TMP:?}"
mkdir -p "$VS_TEST_TMP"
tmp=$(mktemp -d "$VS_TEST_TMP/mkmodel.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mk=$VLMSLIM_MKMODEL
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
digest() { "$mk" "$@" --verbose | sed -n 's/.*, digest \([0-9a-f]*\)$/\1/p'; }

# determinism: same arguments -> the same bytes; the digest ignores the file layout
d1=$(digest --family qwen3_vl_moe --out "$tmp/a")
d2=$(digest --family qwen3_vl_moe --out "$tmp/b")
[ -n "$d1" ] && [ "$d1" = "$d2" ] || fail "digest not stable: '$d1' vs '$d2'"
for f in "$tmp"/a/*; do cmp -s "$f" "$tmp/b/$(basename "$f")" || fail "$(basename "$f") differs between two runs"; done
d3=$(digest --family qwen3_vl_moe --out "$tmp/c" --shards 3)
[ "$d1" = "$d3" ] || fail "digest depends on --shards: $d1 vs $d3"
d4=$(digest --family qwen3_vl_moe --out "$tmp/d" --seed 7)
[ "$d1" != "$d4" ] || fail "--seed 7 gives the same weights as --seed 0"
cmp -s "$tmp/a/model.safetensors" "$tmp/d/model.safetensors" && fail "--seed 7 gives the same file"
[ "$(cat "$tmp/a/config.json")" = "$(cat "$tmp/d/config.json")" ] || fail "config.json depends on --seed"

# files
[ "$(cd "$tmp/a" && ls | tr '\n' ' ')" = "README.md chat_template.json config.json generation_config.json model.safetensors preprocessor_config.json tokenizer.json tokenizer_config.json " ] \
  || fail "file set of a single-file checkpoint: $(ls "$tmp/a")"
[ "$(cd "$tmp/c" && ls model* | tr '\n' ' ')" = "model-00001-of-00003.safetensors model-00002-of-00003.safetensors model-00003-of-00003.safetensors model.safetensors.index.json " ] \
  || fail "file set of --shards 3: $(ls "$tmp/c")"
"$mk" --family qwen3_vl_moe --out "$tmp/s1" --shards 1
[ -f "$tmp/s1/model-00001-of-00001.safetensors" ] && [ -f "$tmp/s1/model.safetensors.index.json" ] || fail "--shards 1: $(ls "$tmp/s1")"
"${VS_PYTHON:-python3}" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["chat_template"] != open(sys.argv[2]).read())' \
  "$tmp/a/chat_template.json" tests/golden/chat_template/templates/qwen3_vl.jinja \
  || fail "chat_template.json is not tests/golden/chat_template/templates/qwen3_vl.jinja"
grep -q '"model_type": "qwen3_vl_moe"' "$tmp/a/config.json" || fail "config.json model_type"
grep -q '"Qwen3VLMoeForConditionalGeneration"' "$tmp/a/config.json" || fail "config.json architectures"
# the tokenizer's added tokens take the last 26 ids of the small vocabulary; config.json follows
grep -q '"image_token_id": 306' "$tmp/a/config.json" || fail "config.json image_token_id"
grep -q '"vocab_size": 320' "$tmp/a/config.json" || fail "config.json vocab_size"
grep -q '"id": 306,' "$tmp/a/tokenizer.json" && grep -q '"content": "<|image_pad|>"' "$tmp/a/tokenizer.json" \
  || fail "tokenizer.json: <|image_pad|>"
# below 314 ids there is no room for a tokenizer: none, and Qwen's real ids
"$mk" --family qwen3_vl_moe --out "$tmp/v64" --vocab 64
[ -e "$tmp/v64/tokenizer.json" ] && fail "--vocab 64 wrote a tokenizer.json"
grep -q '"image_token_id": 151655' "$tmp/v64/config.json" || fail "--vocab 64: config.json image_token_id"
# a vocabulary with room for the real ids keeps them
"$mk" --family qwen3_vl --out "$tmp/vbig" --vocab 151936 --hidden 8 --heads 1 --kv-heads 1 --head-dim 8 --layers 1
grep -q '"image_token_id": 151655' "$tmp/vbig/config.json" || fail "--vocab 151936: config.json image_token_id"
grep -q '"id": 151655,' "$tmp/vbig/tokenizer.json" || fail "--vocab 151936: tokenizer.json <|image_pad|> id"
grep -q quantization_config "$tmp/a/config.json" && fail "quantization_config without --quant-config-in-config"
"$mk" --family qwen3_vl --out "$tmp/tied" --tie --dtype f16 --quant-config-in-config
grep -q '"tie_word_embeddings": true' "$tmp/tied/config.json" || fail "--tie: config.json"
grep -q '"torch_dtype": "float16"' "$tmp/tied/config.json" || fail "--dtype f16: torch_dtype"
[ "$(grep -c '"quantization_config"' "$tmp/tied/config.json")" -eq 2 ] || fail "--quant-config-in-config: two quantization_config"
grep -q 'lm_head.weight' "$tmp/tied/model.safetensors" && fail "--tie: lm_head.weight written"
grep -q 'lm_head.weight' "$tmp/a/model.safetensors" || fail "untied: lm_head.weight missing"
grep -q '"Qwen3VLForConditionalGeneration"' "$tmp/tied/config.json" || fail "dense architectures"
size=$(stat -c %s "$tmp/a/model.safetensors")
[ "$size" -gt 100000 ] && [ "$size" -lt 1000000 ] || fail "tiny preset is $size bytes"

# an earlier output is replaced; a foreign non-empty directory is refused
"$mk" --family qwen3_vl_moe --out "$tmp/c"   # was sharded: the shards and index must go
[ "$(cd "$tmp/c" && ls model* | tr '\n' ' ')" = "model.safetensors " ] || fail "rerun left $(ls "$tmp/c")"
mkdir "$tmp/foreign"; echo keep > "$tmp/foreign/notes.txt"
rc=0; "$mk" --family qwen3_vl --out "$tmp/foreign" 2>"$tmp/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "not empty and not an earlier vlmslim-mkmodel output" "$tmp/err" \
  && [ "$(cat "$tmp/foreign/notes.txt")" = keep ] || fail "foreign --out: rc=$rc $(cat "$tmp/err")"

# errors: exit status 2 and one line "vlmslim-mkmodel: error: ..."
expect_usage() {
  local want=$1 rc=0; shift
  "$mk" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  if [ "$rc" -ne 2 ] || [ "$(wc -l < "$tmp/err")" -ne 1 ] || ! grep -qF "vlmslim-mkmodel: error: $want" "$tmp/err"; then
    fail "mkmodel $* -> rc=$rc, stderr: $(cat "$tmp/err") (want: $want)"
  fi
}
o=(--out "$tmp/e")
expect_usage "--family is required" "${o[@]}"
expect_usage "--family llama: expected qwen3_vl_moe or qwen3_vl" --family llama "${o[@]}"
expect_usage "--out is required" --family qwen3_vl
expect_usage "--dtype fp8: expected bf16, f16 or f32" --family qwen3_vl "${o[@]}" --dtype fp8
expect_usage "--preset huge: expected tiny or bench" --family qwen3_vl "${o[@]}" --preset huge
expect_usage "--hidden 0: expected an integer in [1, 1048576]" --family qwen3_vl "${o[@]}" --hidden 0
expect_usage "--layers x: expected an integer" --family qwen3_vl "${o[@]}" --layers x
expect_usage "--seed -1: expected an integer" --family qwen3_vl "${o[@]}" --seed -1
expect_usage "option --hidden needs a value" --family qwen3_vl "${o[@]}" --hidden
expect_usage "unknown option '--bogus'" --family qwen3_vl "${o[@]}" --bogus
expect_usage "unexpected argument 'extra'" --family qwen3_vl "${o[@]}" extra
expect_usage "--num-position-embeddings 15 is not a square" --family qwen3_vl "${o[@]}" --num-position-embeddings 15
expect_usage "--deepstack 2: not a block index below --vision-depth 2" --family qwen3_vl "${o[@]}" --deepstack 2
expect_usage "--deepstack 1,x: 'x' is not an integer in [0, 1048576]" --family qwen3_vl "${o[@]}" --deepstack 1,x
expect_usage "--vision-hidden 30 is not a multiple of --vision-heads 4" --family qwen3_vl "${o[@]}" --vision-hidden 30 --vision-heads 4
expect_usage "--heads 3 is not a multiple of --kv-heads 2" --family qwen3_vl "${o[@]}" --heads 3
expect_usage "--head-dim 15 must be even" --family qwen3_vl "${o[@]}" --head-dim 15
expect_usage "--topk 5 exceeds --experts 4" --family qwen3_vl_moe "${o[@]}" --topk 5
expect_usage "--mlp-only-layers 2: not a layer index below --layers 2" --family qwen3_vl_moe "${o[@]}" --mlp-only-layers 2
expect_usage "--shards 500: the 64 tensors cannot be split into exactly 500 files" --family qwen3_vl_moe "${o[@]}" --shards 500
expect_usage "the requested dimensions give more than 64 GiB of weights" --family qwen3_vl "${o[@]}" --vocab 1048576 --hidden 65536
[ ! -e "$tmp/e" ] || fail "a usage error created --out"
echo x > "$tmp/file"
expect_usage "--out $tmp/file: exists and is not a directory" --family qwen3_vl --out "$tmp/file"
"$mk" --help | grep -q "usage: vlmslim-mkmodel" || fail "--help"

# qwen2_5_vl: tests/e2e/test_mkmodel_qwen2_5_vl.sh

# independent layout check of several variants
if [ -n "${VS_PYTHON:-}" ] && "$VS_PYTHON" -c 'import numpy, yaml' 2>/dev/null; then
  check() { "$VS_PYTHON" tests/reference/check_checkpoint.py "$@" || fail "check_checkpoint.py $*"; }
  check "$tmp/a"
  check "$tmp/d"
  check "$tmp/tied"
  "$mk" --family qwen3_vl_moe --out "$tmp/v1" --shards 3 --layers 4 --mlp-only-layers 0 --decoder-sparse-step 2 --dtype f32
  check "$tmp/v1" --shards 3
  "$mk" --family qwen3_vl --out "$tmp/v2" --deepstack "" --vision-depth 3 --heads 8 --kv-heads 8 --head-dim 8 --dtype bf16
  check "$tmp/v2"
  "$mk" --family qwen3_vl_moe --out "$tmp/v3" --deepstack 0,1,2 --vision-depth 3 --experts 6 --topk 3 --dtype f16 --tie
  check "$tmp/v3"
else
  echo "note: ${VS_PYTHON:-python3} without numpy/PyYAML: check_checkpoint.py skipped"
fi

if [ "$failures" -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "all vlmslim-mkmodel checks passed"
