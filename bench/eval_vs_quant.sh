#!/usr/bin/env bash
# Benchmark: vlmslim eval against the calibrated quantization it measures, side by side in one
# run, on bench/quant_calib.sh's checkpoint (a generated bf16 Qwen3-VL-MoE, bench preset, 8
# experts) and N samples (generated 448x336 images):
#   quant       examples/configs/qwen3_vl_moe_w8a8_static.yaml (W8A8 static, calibrated)
#   eval        vlmslim eval of that export on the same samples (float and quantized model, one
#               pass each per unit, then the logits of every position)
#   eval + gen  the same with --max_new_tokens 4 (every token recomputes both models)
# Results: bench/results/eval.txt (or $1). Samples: $VS_BENCH_SAMPLES (default 4). With chromium
# installed, a screenshot of the HTML report goes to bench/results/eval_report.png.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/results/eval.txt}
n=${VS_BENCH_SAMPLES:-4}
source bench/moe_setup.sh

now() { date +%s.%N; }
run() { # name, then the command; prints its seconds and peak RSS in MB
  local name=$1 t0 t1; shift
  t0=$(now)
  /usr/bin/time -f "%M" -o "$work/$name.rss" "$@" > "$work/$name.log" 2>&1 || { cat "$work/$name.log" >&2; exit 1; }
  t1=$(now)
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') $(awk '{ printf "%.1f", $1 / 1024 }' "$work/$name.rss")"
}
read -r t_q rss_q < <(run quant build/vlmslim quant --model_path "$work/model" --model_type Qwen3-VL-30B-A3B \
  --save_path "$work/q" --config_path examples/configs/qwen3_vl_moe_w8a8_static.yaml --calib_inputs "$work/in" --quiet)
ev=(build/vlmslim eval --model_path "$work/model" --quant_path "$work/q" --calib_inputs "$work/in")
read -r t_e rss_e < <(run eval "${ev[@]}" --report "$work/e.json")
read -r t_g rss_g < <(run gen "${ev[@]}" --report "$work/g.json" --max_new_tokens 4)
summary=$(sed -n 's/^  KL divergence: //p; s/^  top-1 agreement //p' "$work/eval.log" | paste -sd ';' -)
awk -v n="$n" -v tok="$tokens" -v gb="$bytes" -v tq="$t_q" -v te="$t_e" -v tg="$t_g" -v rq="$rss_q" -v re="$rss_e" \
    -v rg="$rss_g" -v s="$summary" -v cpu="$(nproc)" -v date="$(date -u +%Y-%m-%d)" 'BEGIN {
  printf "benchmark: vlmslim eval vs the calibrated quantization it measures, %s, %d cores\n", date, cpu;
  printf "checkpoint: generated Qwen3-VL-MoE bf16 (bench preset, 8 experts), %.2f GB; %d samples of %d tokens (448x336 images)\n", gb / 1e9, n, tok;
  printf "quant, calibrated W8A8 static:    %8.2f s    peak RSS %7.1f MB\n", tq, rq;
  printf "eval:                             %8.2f s    peak RSS %7.1f MB   ratio eval/quant = %.2f\n", te, re, te / tq;
  printf "eval --max_new_tokens 4:          %8.2f s    peak RSS %7.1f MB   ratio eval+gen/eval = %.2f\n", tg, rg, tg / te;
  printf "eval result: %s\n", s;
}' | tee "$out"
if command -v chromium >/dev/null; then
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=960,2000 \
    --screenshot="$(dirname "$out")/eval_report.png" "file://$work/g.html" >/dev/null 2>&1 &&
    echo "screenshot: $(dirname "$out")/eval_report.png"
fi
