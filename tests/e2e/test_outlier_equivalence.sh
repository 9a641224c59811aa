#!/usr/bin/env bash
# Smoothing and QuaRot leave the float function unchanged: vs-check-outlier transforms a whole
# generated checkpoint with vlmslim's Qwen3-VL maps and math, reruns the forward pass (vision
# tower, every text layer, logits) on the inputs of the forward goldens and compares with the
# original run (rotated outputs times R; smoothed ones equal; --smooth-asym adds the asymmetric
# fold on the vision LayerNorms). Tied embeddings refuse QuaRot.
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
moe_outliers|moe_bf16|--smooth 0.9|--family qwen3_vl_moe --preset tiny --dtype f32 --seed 1 --outliers
dense_outliers|dense_f16_tied|--quarot 16|--family qwen3_vl --preset tiny --dtype f32 --seed 2 --deepstack 0,1 --head-dim 32 --outliers
moe|moe_bf16|--smooth-asym 0.9|--family qwen3_vl_moe --preset tiny --dtype f32 --seed 1
dense_outliers|dense_f16_tied|--smooth-asym 0.5|--family qwen3_vl --preset tiny --dtype f32 --seed 2 --deepstack 0,1 --outliers
CASES
[ "$n" -eq 13 ] || { echo "ran $n cases, expected 13"; exit 1; }

# vlmslim-mkmodel --outliers keeps the float function: the forward pass still matches the PyTorch
# golden of the checkpoint without outliers, while the norms' planted channels are 64 times larger
"$VLMSLIM_MKMODEL" --family qwen3_vl_moe --preset tiny --dtype bf16 --seed 1 --outliers --out "$tmp/planted"
"$VS_BUILD_DIR/tests/tools/vs-check-forward" "$tmp/planted" tests/golden/forward/moe_bf16.safetensors
"$VLMSLIM_MKMODEL" --family qwen3_vl_moe --preset tiny --dtype bf16 --seed 1 --out "$tmp/plain"
if cmp -s "$tmp/plain/model.safetensors" "$tmp/planted/model.safetensors"; then
  echo "--outliers changed nothing"; exit 1
fi
if [ -n "${VS_PYTHON:-}" ] && "$VS_PYTHON" -c 'import numpy' 2>/dev/null; then
  "$VS_PYTHON" - "$tmp/plain" "$tmp/planted" <<'PY'
import sys
sys.path.insert(0, "tests/reference")
from safetensors_np import read_file
a, _ = read_file(sys.argv[1] + "/model.safetensors")
b, _ = read_file(sys.argv[2] + "/model.safetensors")
for name in ("model.language_model.layers.0.input_layernorm.weight", "model.visual.blocks.0.norm1.bias"):
    x, y = a[name].to_f32(), b[name].to_f32()
    for c in range(x.shape[0]):
        want = x[c] * (64 if c % 16 == 5 else 1)
        assert y[c] == want, (name, c, y[c], want)
q = "model.language_model.layers.1.self_attn.q_proj.weight"
x, y = a[q].to_f32(), b[q].to_f32()
assert (y[:, 5] * 64 == x[:, 5]).all() and (y[:, 4] == x[:, 4]).all(), q
print("outliers planted: norm channels c % 16 == 5 times 64, the q_proj columns divided by 64")
PY
fi
if "$VLMSLIM_MKMODEL" --family qwen3_vl --dtype f16 --outliers --out "$tmp/f16" 2> "$tmp/err"; then
  echo "--outliers with f16 should fail"; exit 1
fi
grep -q -- "--outliers needs --dtype bf16 or f32" "$tmp/err" || { cat "$tmp/err"; exit 1; }

# QuaRot on tied word embeddings is refused with one line naming the reason
"$VLMSLIM_MKMODEL" --family qwen3_vl --preset tiny --dtype f32 --seed 2 --tie --out "$tmp/tied"
if "$check" "$tmp/tied" tests/golden/forward/dense_f16_tied.safetensors "$tmp/tied.out" --quarot 8 2> "$tmp/err"; then
  echo "quarot on a tied checkpoint should fail"; exit 1
fi
grep -q "quarot cannot rotate a model with tie_word_embeddings: true" "$tmp/err" || { cat "$tmp/err"; exit 1; }
echo "tied embeddings refused: $(cat "$tmp/err")"
