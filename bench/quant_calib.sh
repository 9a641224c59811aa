#!/usr/bin/env bash
# Benchmark: calibrated W8A8 static quantization against the data-free run of the same
# checkpoint, side by side in one run. A generated bf16 Qwen3-VL-MoE (the bench preset's
# dimensions with 8 experts) and N samples (generated 448x336 images, synthetic prompts):
#   data-free   W8A8_DYNAMIC everywhere (no forward pass)
#   calibrated  examples/configs/qwen3_vl_moe_w8a8_static.yaml (statistics, quantized
#               propagation and error measurement passes per unit)
#   spilled     the same with every carried activation spilled to disk (--spill_budget_mb 0)
#   forward     vlmslim forward over the same samples (float, one pass per unit)
# Results: bench/results/quant_calib.txt (or $1). Samples: $VS_BENCH_SAMPLES (default 4).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/results/quant_calib.txt}
n=${VS_BENCH_SAMPLES:-4}
source bench/moe_setup.sh

now() { date +%s.%N; }
run() { # name, then the command; prints its seconds and the peak RSS (MB) of its summary
  local name=$1 t0 t1; shift
  t0=$(now); "$@" > "$work/$name.log" 2>&1 || { cat "$work/$name.log" >&2; exit 1; }; t1=$(now)
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') $(sed -n 's/.*peak RSS \([0-9.]*\) MB.*/\1/p' "$work/$name.log" | tail -1)"
}
q() { shift; build/vlmslim quant --model_path "$work/model" --model_type Qwen3-VL-30B-A3B --device cpu --quiet "$@"; }
read -r t_free rss_free < <(run free q free --save_path "$work/free" --config_path examples/configs/qwen3_vl_moe_w8a8_dynamic.yaml)
read -r t_cal rss_cal < <(run cal q cal --save_path "$work/cal" --config_path examples/configs/qwen3_vl_moe_w8a8_static.yaml \
  --calib_inputs "$work/in")
read -r t_spill rss_spill < <(run spill q spill --save_path "$work/spill" --config_path examples/configs/qwen3_vl_moe_w8a8_static.yaml \
  --calib_inputs "$work/in" --spill_budget_mb 0)
t0=$(now)
/usr/bin/time -f "%M" -o "$work/fwd.rss" build/vlmslim forward --model_path "$work/model" --model_type Qwen3-VL-30B-A3B \
  --inputs "$work/in" --dump "$work/dump" --quiet > "$work/fwd.log"
t1=$(now)
t_fwd=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
rss_fwd=$(awk '{ printf "%.1f", $1 / 1024 }' "$work/fwd.rss")
same=$(diff -r "$work/cal" "$work/spill" >/dev/null && echo "byte-identical" || echo "DIFFERENT")
awk -v n="$n" -v tok="$tokens" -v gb="$bytes" -v tf="$t_free" -v tc="$t_cal" -v ts="$t_spill" -v tw="$t_fwd" \
    -v rf="$rss_free" -v rc="$rss_cal" -v rs="$rss_spill" -v rw="$rss_fwd" -v same="$same" \
    -v cpu="$(nproc)" -v date="$(date -u +%Y-%m-%d)" 'BEGIN {
  printf "benchmark: calibrated W8A8 static vs data-free quantization (vlmslim quant), %s, %d cores\n", date, cpu;
  printf "checkpoint: generated Qwen3-VL-MoE bf16 (bench preset, 8 experts), %.2f GB; %d samples of %d tokens (448x336 images)\n", gb / 1e9, n, tok;
  printf "data-free W8A8_DYNAMIC:       %8.2f s                      peak RSS %7.1f MB\n", tf, rf;
  printf "calibrated W8A8 static:       %8.2f s  %6.2f samples/s    peak RSS %7.1f MB   ratio calibrated/data-free = %.1f\n", tc, n / tc, rc, tc / tf;
  printf "  with every state spilled:   %8.2f s                      peak RSS %7.1f MB   ratio spilled/in-memory = %.2f; export %s\n", ts, rs, ts / tc, same;
  printf "vlmslim forward (float):      %8.2f s  %6.2f samples/s    peak RSS %7.1f MB   ratio calibrated/forward = %.1f\n", tw, n / tw, rw, tc / tw;
}' | tee "$out"
