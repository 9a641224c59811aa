#!/usr/bin/env bash
# vs-compare-export (tests/tools/compare_export.c) on golden exports and mutated copies of them:
# every kind of difference is found, reported with the file/tensor/key at fault, and makes the
# exit status 1; usage errors give 2; legitimate differences (a rounding tie, float noise
# within 1e-6, JSON re-formatting) are accepted. The value-level cases edit tensors with numpy
# and are skipped without it; the rest needs only bash and coreutils.
set -euo pipefail
: "${VS_BUILD_DIR:?}" "${VS_TEST_TMP:?}"
compare=$VS_BUILD_DIR/tests/tools/vs-compare-export
[ -x "$compare" ] || { echo "FAIL: $compare not built"; exit 1; }
single=tests/golden/e2e/moe_bf16          # part_file_size 0: one weights file
sharded=tests/golden/e2e/moe_bf16_sharded # part_file_size 4: a shard + index
for d in "$single" "$sharded"; do
  [ -f "$d/quant_model_description.json" ] || { echo "FAIL: golden $d missing (tests/golden/e2e/make_golden.sh)"; exit 1; }
done
mkdir -p "$VS_TEST_TMP"
tmp=$(mktemp -d "$VS_TEST_TMP/compare-export.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export LC_ALL=C
failures=0

# expect RC "fragment" ACTUAL EXPECTED [options]: runs the tool, checks status and output.
expect() {
  local want_rc=$1 want=$2 rc=0; shift 2
  "$compare" "$@" >"$tmp/out" 2>&1 || rc=$?
  if [ "$rc" -ne "$want_rc" ] || ! grep -qF -- "$want" "$tmp/out"; then
    echo "FAIL: vs-compare-export $* -> rc=$rc (want $want_rc), output:"; cat "$tmp/out"
    echo "      expected to contain: $want"
    failures=$((failures + 1))
  fi
}
# fresh NAME BASE: a writable copy of a golden export
fresh() { rm -rf "${tmp:?}/$1"; cp -r "$2" "$tmp/$1"; chmod -R u+w "$tmp/$1"; }

# equal
expect 0 "OK: 160 tensors" "$single" "$single"
fresh a "$sharded"
expect 0 "0 int8 element(s) off by one" "$tmp/a" "$sharded" --ties "$sharded.ties.json"

# usage
expect 2 "usage:" "$single"
expect 2 "usage:" "$single" "$single" "$single"
expect 2 "usage:" --bogus "$single" "$single"
expect 2 "usage:" --max-report 0 "$single" "$single"
expect 2 "$tmp/nope: not a directory" "$tmp/nope" "$single"
echo '[1,' > "$tmp/bad_ties.json"
expect 2 "bad_ties.json: line" --ties "$tmp/bad_ties.json" "$single" "$single"

# file sets
fresh a "$single"; rm "$tmp/a/tokenizer_config.json"; echo x > "$tmp/a/extra.txt"
expect 1 "tokenizer_config.json: missing (expected file)" "$tmp/a" "$single"
expect 1 "extra.txt: not expected (extra file)" "$tmp/a" "$single"
expect 1 "extra.txt: not expected (extra file)" "$tmp/a" "$single"
expect 1 "quant_model_weights.safetensors: not expected" "$tmp/a" "$sharded"   # single vs shards
expect 1 "quant_model_weights-00001-of-00001.safetensors: missing" "$tmp/a" "$sharded"

# side files: bytes, or the same JSON document formatted differently
fresh a "$single"
sed -i 's/"top_k": 20/"top_k": 21/' "$tmp/a/generation_config.json"
expect 1 "generation_config.json: contents differ" "$tmp/a" "$single"
fresh a "$single"
sed -i 's/^  /    /' "$tmp/a/config.json"
expect 0 "note: config.json: same JSON document, formatted differently" "$tmp/a" "$single"
fresh a "$single"
printf 'extra line\n' >> "$tmp/a/Qwen3-VL-30B-A3B_best_practice.yaml"
expect 1 "Qwen3-VL-30B-A3B_best_practice.yaml: contents differ" "$tmp/a" "$single"

# description
fresh a "$single"
sed -i '0,/"W8A16"/s//"W8A8"/' "$tmp/a/quant_model_description.json"
expect 1 '"model.visual.blocks.0.attn.qkv.weight": actual "W8A8", expected "W8A16"' "$tmp/a" "$single"
fresh a "$single"
sed -i 's/"model_quant_type": "W8A8_DYNAMIC"/"model_quant_type": "W8A16"/' "$tmp/a/quant_model_description.json"
expect 1 '"model_quant_type": actual "W8A16", expected "W8A8_DYNAMIC"' "$tmp/a" "$single"
fresh a "$single"
sed -i 's/"lm_head.weight": "FLOAT"/"lm_head.weighx": "FLOAT"/' "$tmp/a/quant_model_description.json"
expect 1 '"lm_head.weighx": "FLOAT" is not expected' "$tmp/a" "$single"
expect 1 "quant_model_description.json: tensor 'lm_head.weight' has no entry" "$tmp/a" "$single"
expect 1 "entry 'lm_head.weighx' names no tensor of the weight files" "$tmp/a" "$single"

# safetensors: names, dtypes, malformed files (same-length header edits keep offsets valid)
fresh a "$single"
sed -i '0,/"lm_head.weight"/s//"lm_head.weighx"/' "$tmp/a/quant_model_weights.safetensors"
expect 1 "weights: tensor 'lm_head.weighx' (in quant_model_weights.safetensors) is not expected" "$tmp/a" "$single"
expect 1 "weights: tensor 'lm_head.weight' is missing (expected in quant_model_weights.safetensors)" "$tmp/a" "$single"
fresh a "$single"
sed -i '0,/"dtype":"F32"/s//"dtype":"I32"/' "$tmp/a/quant_model_weights.safetensors"
expect 1 ": actual I32 [" "$tmp/a" "$single"
fresh a "$single"
sed -i '0,/"dtype":"BF16"/s//"dtype":"BF17"/' "$tmp/a/quant_model_weights.safetensors"
expect 1 "missing or unknown dtype" "$tmp/a" "$single"
fresh a "$single"
truncate -s 4 "$tmp/a/quant_model_weights.safetensors"
expect 1 "shorter than the 8-byte header length" "$tmp/a" "$single"
fresh a "$single"
truncate -s 200000 "$tmp/a/quant_model_weights.safetensors"
expect 1 "do not hold" "$tmp/a" "$single"
fresh a "$single"
printf '\xff\xff\xff\x7f\x00\x00\x00\x00' | dd of="$tmp/a/quant_model_weights.safetensors" conv=notrunc status=none
expect 1 "runs past the end of the file" "$tmp/a" "$single"
fresh a "$single"
printf 'junk' >> "$tmp/a/quant_model_weights.safetensors"
expect 1 "data area has" "$tmp/a" "$single"
# the last bytes belong to lm_head.weight (the reference writes the tail last)
fresh a "$single"
size=$(stat -c %s "$tmp/a/quant_model_weights.safetensors")
printf '\x7f' | dd of="$tmp/a/quant_model_weights.safetensors" bs=1 seek=$((size - 1)) conv=notrunc status=none
expect 1 "lm_head.weight: element 20479: actual" "$tmp/a" "$single"

# the shard index
fresh a "$sharded"
sed -i '0,/"quant_model_weights-00001-of-00001.safetensors"/s//"quant_model_weights-00009-of-00009.safetensors"/' \
  "$tmp/a/quant_model_weights.safetensors.index.json"
expect 1 "weight_map names file quant_model_weights-00009-of-00009.safetensors, which does not exist" "$tmp/a" "$sharded"
expect 1 "but it is in quant_model_weights-00001-of-00001.safetensors" "$tmp/a" "$sharded"
expect 1 "quant_model_weights.safetensors.index.json: differs" "$tmp/a" "$sharded"
fresh a "$sharded"
sed -i 's/"total_size": \([0-9]*\)/"total_size": 1\1/' "$tmp/a/quant_model_weights.safetensors.index.json"
expect 1 "but the shards hold" "$tmp/a" "$sharded"

# --max-report limits what is printed, not what is counted
fresh a "$single"
rm "$tmp/a/"*.json
expect 1 "further differences not shown" --max-report 2 "$tmp/a" "$single"

# values: int8 ties, float tolerance (needs numpy to edit tensors)
if [ -n "${VS_PYTHON:-}" ] && "$VS_PYTHON" -c 'import numpy' 2>/dev/null; then
  # edit DIR TENSOR INDEX DELTA|*FACTOR: changes one element in place
  edit() {
    "$VS_PYTHON" - "$@" <<'PY'
import sys
sys.path.insert(0, "tests/reference")
import numpy as np, safetensors_np as st
d, name, idx, delta = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
path = d + "/quant_model_weights.safetensors"
ts, _ = st.read_file(path)
a = ts[name].array.reshape(-1)
if delta.startswith("*"):
    a[idx] = np.float32(a[idx]) * np.float32(float(delta[1:]))
else:
    a[idx] = a[idx] + int(delta)
st.write_file(path, list(ts.items()))
PY
  }
  tie_tensor=$(sed -n '2s/^"\([^"]*\)".*/\1/p' "$single.ties.json")
  tie_index=$(sed -n '2s/^[^[]*\[\([0-9]*\).*/\1/p' "$single.ties.json")
  fresh a "$single"; edit "$tmp/a" "$tie_tensor" "$tie_index" 1
  expect 0 "1 int8 element(s) off by one at rounding ties" --ties "$single.ties.json" "$tmp/a" "$single"
  expect 1 "$tie_tensor: element $tie_index: actual" "$tmp/a" "$single"   # no --ties: exact
  fresh a "$single"; edit "$tmp/a" "$tie_tensor" "$tie_index" 2
  expect 1 "$tie_tensor: element $tie_index: actual" --ties "$single.ties.json" "$tmp/a" "$single"
  fresh a "$single"; edit "$tmp/a" "$tie_tensor" $((tie_index + 1)) 1
  expect 1 "(off by one where the reference marks no rounding tie)" --ties "$single.ties.json" "$tmp/a" "$single"
  scale=model.visual.blocks.0.attn.qkv.weight_scale
  fresh a "$single"; edit "$tmp/a" "$scale" 3 '*1.0000005'
  expect 0 "OK: 160 tensors" "$tmp/a" "$single"
  fresh a "$single"; edit "$tmp/a" "$scale" 3 '*1.000002'
  expect 1 "$scale: element 3: actual" "$tmp/a" "$single"
else
  echo "note: ${VS_PYTHON:-python3} without numpy: value-edit cases skipped"
fi

if [ "$failures" -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "all vs-compare-export cases passed"
