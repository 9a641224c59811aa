#!/usr/bin/env bash
# Smoothing and QuaRot leave the float function unchanged: vs-check-outlier transforms a whole
# generated checkpoint with vlmslim's Qwen3-VL maps and math, reruns the forward pass (vision
# tower, every text layer, logits) on the inputs of the forward goldens and compares with the
# original run (rotated outputs times R; smoothed ones equal). Tied embeddings refuse QuaRot.
set -euo pipefail
: "${VLMSLIM_MKMODEL:?}" "${VS_BUILD_DIR:?}" "${VS_TEST_TMP:?}"
mkdir -p "$VS_TEST_TMP"
tmp=$(mktemp -d "$VS_TEST_TMP/outlier.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
check="$VS_BUILD_DIR/tests/tools/vs-check-outlier"
n=0
# name | inputs (tests/golden/forward/<inputs>.safetensors) | transform | mkmodel arguments
while IFS='|' read -r name inputs transform mkargs; do
  [ -n "$name" ] || continue
  n=$((n + 1))
  "$VLMSLIM_MKMODEL" $mkargs --out "$tmp/$name"
  echo "== $name: $transform"
  "$check" "$tmp/$name" "tests/golden/forward/$inputs.safetensors" "$tmp/$name.out$n" $transform
done <<'CASES'
moe|moe_bf16|--quarot 8|--family qwen3_vl_moe --preset tiny --dtype f32 --seed 1
moe|moe_bf16|--smooth 0.9|--family qwen3_vl_moe --preset tiny --dtype f32 --seed 1
moe_hd32|moe_bf16|--quarot -1|--family qwen3_vl_moe --preset tiny --dtype f32 --seed 1 --head-dim 32
moe_hd32|moe_bf16|--quarot 16|--family qwen3_vl_moe --preset tiny --dtype f32 --seed 1 --head-dim 32
moe_dense0|moe_f32_sharded_mixed|--quarot 8|--family qwen3_vl_moe --preset tiny --dtype f32 --seed 3 --shards 2 --mlp-only-layers 0
moe_dense0|moe_f32_sharded_mixed|--smooth 0.9|--family qwen3_vl_moe --preset tiny --dtype f32 --seed 3 --shards 2 --mlp-only-layers 0
dense|dense_f16_tied|--quarot -1|--family qwen3_vl --preset tiny --dtype f32 --seed 2 --deepstack 0,1 --head-dim 32
dense|dense_f16_tied|--smooth 0.5|--family qwen3_vl --preset tiny --dtype f32 --seed 2 --deepstack 0,1 --head-dim 32
dense_tied|dense_f16_tied|--smooth 0.9|--family qwen3_vl --preset tiny --dtype f32 --seed 2 --deepstack 0,1 --tie
CASES
[ "$n" -eq 9 ] || { echo "ran $n cases, expected 9"; exit 1; }

# QuaRot on tied word embeddings is refused with one line naming the reason
"$VLMSLIM_MKMODEL" --family qwen3_vl --preset tiny --dtype f32 --seed 2 --tie --out "$tmp/tied"
if "$check" "$tmp/tied" tests/golden/forward/dense_f16_tied.safetensors "$tmp/tied.out" --quarot 8 2> "$tmp/err"; then
  echo "quarot on a tied checkpoint should fail"; exit 1
fi
grep -q "quarot cannot rotate a model with tie_word_embeddings: true" "$tmp/err" || { cat "$tmp/err"; exit 1; }
echo "tied embeddings refused: $(cat "$tmp/err")"
