# Sourced by bench/quant_calib.sh and bench/eval_vs_quant.sh: builds vlmslim, then in a fresh
# $work (removed at exit) a generated bf16 Qwen3-VL-MoE ($work/model: the bench preset's
# dimensions with 8 experts) and $n model-input files ($work/in, generated 448x336 images);
# sets $tokens (per sample) and $bytes (the checkpoint's size) and warms the page cache.
./scripts/build.sh >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/vlmslim-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
build/vlmslim-mkmodel --family qwen3_vl_moe --preset bench --experts 8 --out "$work/model" >/dev/null
mkdir "$work/in"
for i in $(seq 0 $((n - 1))); do
  build/tests/tools/vs-make-inputs "$work/model" "$work/in/sample_$i.safetensors" gen:448x336 $((i + 1)) > "$work/in.log"
done
tokens=$(sed -n 's/.*, \([0-9]*\) tokens$/\1/p' "$work/in.log")
bytes=$(cat "$work"/model/*.safetensors | wc -c)
cat "$work"/model/*.safetensors > /dev/null   # warm the page cache
