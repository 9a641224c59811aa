#!/usr/bin/env bash
# `vlmslim forward --inputs DIR --dump DIR` against the PyTorch reference's dumps of the same
# model-input files: committed goldens always, and a fresh reference run when python3 has torch.
# Then its error paths: a bad input file, a missing --inputs directory, an unwritable --dump;
# and --dataset against --inputs of the same samples.
set -euo pipefail
: "${VLMSLIM:?}" "${VLMSLIM_MKMODEL:?}" "${VS_BUILD_DIR:?}" "${VS_TEST_TMP:?}"
mkdir -p "$VS_TEST_TMP"
tmp=$(mktemp -d "$VS_TEST_TMP/forward_cmd.XXXXXX")
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
cmp="$VS_BUILD_DIR/tests/tools/vs-compare-tensors"
live=0
if [ -n "${VS_PYTHON:-}" ] && "$VS_PYTHON" -c 'import torch, numpy' 2>/dev/null; then live=1; fi
type=Qwen3-VL-30B-A3B
while read -r name grids mkargs; do
  [ -n "$name" ] || continue
  g=tests/golden/forward_cmd/$name
  [ -d "$g/ref" ] || { echo "missing $g: run tests/golden/forward_cmd/make_golden.sh BUILD_DIR"; exit 1; }
  ref=tests/reference/qwen3_vl_torch.py
  case "$mkargs" in
    *qwen3_vl_moe*) type=Qwen3-VL-30B-A3B ;;
    *qwen2_5_vl*) type=Qwen2.5-VL-7B-Instruct ref=tests/reference/qwen2_5_vl_torch.py ;;
    *"--layout hf"*) type=InternVL3_5-8B-HF ref=tests/reference/internvl_torch.py ;;
    *internvl*) type=InternVL3_5-8B ref=tests/reference/internvl_torch.py ;;
    *) type=Qwen3-VL-8B-Instruct ;;
  esac
  "$VLMSLIM_MKMODEL" $mkargs --out "$tmp/$name"
  "$VLMSLIM" forward --model_path "$tmp/$name" --model_type "$type" --inputs "$g/inputs" --dump "$tmp/$name.dump" \
    --spill_budget_mb 0 | tee "$tmp/$name.log"
  grep -q "^sample 0: next tokens: " "$tmp/$name.log"
  for f in "$g"/ref/sample_*.safetensors; do
    echo "== $name $(basename "$f") (golden)"; "$cmp" "$tmp/$name.dump/$(basename "$f")" "$f"
  done
  if [ "$live" = 1 ]; then
    "$VS_PYTHON" "$ref" dump "$tmp/$name" "$g/inputs" "$tmp/$name.live"
    for f in "$tmp/$name.live"/sample_*.safetensors; do
      echo "== $name $(basename "$f") (live PyTorch reference)"; "$cmp" "$tmp/$name.dump/$(basename "$f")" "$f"
    done
  fi
done < tests/golden/forward_cmd/cases.txt

model="$tmp/dense_f16_tied"
inputs=tests/golden/forward_cmd/dense_f16_tied/inputs
expect_error() { # expected-substring, then the command
  local want=$1; shift
  if "$@" >"$tmp/out" 2>"$tmp/err"; then echo "FAIL: succeeded: $*"; exit 1; fi
  [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -qF -- "$want" "$tmp/err" || { echo "FAIL: expected one line with '$want', got:"; cat "$tmp/err"; exit 1; }
  echo "ok: $want"
}
mkdir "$tmp/bad"; cp "$inputs/sample_0.safetensors" "$tmp/bad/"; head -c 100 "$inputs/sample_0.safetensors" > "$tmp/bad/sample_1.safetensors"
expect_error "$tmp/bad/sample_1.safetensors" "$VLMSLIM" forward --model_path "$model" --model_type Qwen3-VL-8B-Instruct \
  --inputs "$tmp/bad" --dump "$tmp/d1"
[ ! -e "$tmp/d1/sample_0.safetensors" ] || { echo "FAIL: partial dump left behind"; exit 1; }
expect_error "--inputs $tmp/none: does not exist" "$VLMSLIM" forward --model_path "$model" --model_type Qwen3-VL-8B-Instruct \
  --inputs "$tmp/none" --dump "$tmp/d2"
mkdir "$tmp/empty"
expect_error "holds no sample_0.safetensors" "$VLMSLIM" forward --model_path "$model" --model_type Qwen3-VL-8B-Instruct \
  --inputs "$tmp/empty" --dump "$tmp/d2"
mkdir "$tmp/ro"; chmod a-w "$tmp/ro"
if [ "$(id -u)" != 0 ]; then
  expect_error "$tmp/ro" "$VLMSLIM" forward --model_path "$model" --model_type Qwen3-VL-8B-Instruct --inputs "$inputs" --dump "$tmp/ro"
fi
expect_error "--dump is required" "$VLMSLIM" forward --model_path "$model" --model_type Qwen3-VL-8B-Instruct --inputs "$inputs"
touch "$tmp/a-file"
expect_error "--dump $tmp/a-file/dump" "$VLMSLIM" forward --model_path "$model" --model_type Qwen3-VL-8B-Instruct \
  --inputs "$inputs" --dump "$tmp/a-file/dump"

# --dataset: the samples built by vlmslim (tests/golden/inputs/dataset.sh) give the same dump as
# their inspect-inputs files given with --inputs; with torch, those files through the reference too
m=$tmp/moe_bf16
mkdir "$tmp/ds"
(source tests/golden/inputs/dataset.sh; vs_inputs_dataset "$tmp/ds")
"$VLMSLIM" forward --model_path "$m" --model_type Qwen3-VL-30B-A3B --dataset "$tmp/ds" --dump "$tmp/ds.dump" --quiet
"$VLMSLIM" inspect-inputs --model_path "$m" --dataset "$tmp/ds" --dump "$tmp/ds.inputs" >/dev/null 2>&1
"$VLMSLIM" forward --model_path "$m" --model_type Qwen3-VL-30B-A3B --inputs "$tmp/ds.inputs" --dump "$tmp/ds.dump2" --quiet >/dev/null
diff -r "$tmp/ds.dump" "$tmp/ds.dump2" || { echo "FAIL: --dataset and --inputs dumps differ"; exit 1; }
echo "ok: --dataset equals --inputs of the same samples"
if [ "$live" = 1 ]; then
  "$VS_PYTHON" tests/reference/qwen3_vl_torch.py dump "$m" "$tmp/ds.inputs" "$tmp/ds.live"
  for f in "$tmp/ds.live"/sample_*.safetensors; do
    echo "== dataset $(basename "$f") (live PyTorch reference)"; "$cmp" "$tmp/ds.dump/$(basename "$f")" "$f"
  done
fi
expect_error "--dataset: Dataset path does not exist: $tmp/no-dataset" "$VLMSLIM" forward --model_path "$m" \
  --model_type Qwen3-VL-30B-A3B --dataset "$tmp/no-dataset" --dump "$tmp/d3"
expect_error "give one of --dataset and --inputs" "$VLMSLIM" forward --model_path "$m" --model_type Qwen3-VL-30B-A3B \
  --dataset "$tmp/ds" --inputs "$inputs" --dump "$tmp/d3"
echo "all forward checks passed"
