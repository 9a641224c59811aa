#!/usr/bin/env bash
# Benchmark: data-free W8A8_DYNAMIC quantization of a generated ~2 GB bf16 Qwen3-VL-MoE
# checkpoint. Reports input throughput (bf16 read -> int8 + scales written), and peak RSS
# against the bound 1.5 x largest unit (bf16) + 200 MB; as a side-by-side reference in the same
# run it times reading the same files from the page cache (cat > /dev/null) and copying them
# (cp), so the ratio says how close the quantizer is to plain I/O on this machine.
# Results: bench/results/quant_datafree.txt (or $1).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/results/quant_datafree.txt}
./scripts/build.sh >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/vlmslim-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
build/vlmslim-mkmodel --family qwen3_vl_moe --preset bench --out "$work/model"
bytes=$(cat "$work"/model/*.safetensors | wc -c)

now() { date +%s.%N; }
cat "$work"/model/*.safetensors > /dev/null           # warm the page cache
t0=$(now); cat "$work"/model/*.safetensors > /dev/null; t1=$(now)
mkdir "$work/copy"; t2=$(now); cp "$work"/model/*.safetensors "$work/copy/"; sync; t3=$(now)
rm -rf "$work/copy"

t4=$(now)
build/vlmslim quant --model_path "$work/model" --save_path "$work/out" --model_type Qwen3-VL-30B-A3B \
  --config_path examples/configs/qwen3_vl_moe_w8a8_dynamic.yaml --device cpu --log_level warning \
  > "$work/log"
sync; t5=$(now)

read_mb=$(sed -n 's/.*read \([0-9.]*\) MB of weights.*/\1/p' "$work/log")
largest_mb=$(sed -n 's/.*largest unit \([0-9.]*\) MB.*/\1/p' "$work/log")
rss_mb=$(sed -n 's/.*peak RSS \([0-9.]*\) MB.*/\1/p' "$work/log")
awk -v bytes="$bytes" -v tr="$t0 $t1" -v tc="$t2 $t3" -v tq="$t4 $t5" -v read_mb="$read_mb" -v largest="$largest_mb" -v rss="$rss_mb" \
    -v cpu="$(nproc)" -v date="$(date -u +%Y-%m-%d)" 'BEGIN {
  split(tr, a, " "); tr = a[2] - a[1]; split(tc, a, " "); tc = a[2] - a[1]; split(tq, a, " "); tq = a[2] - a[1];
  gbq = read_mb / 1000 / tq; gbr = bytes / 1e9 / tr; gbc = bytes / 1e9 / tc;
  limit = 1.5 * largest + 200;
  printf "benchmark: data-free W8A8_DYNAMIC quantization (vlmslim quant), %s, %d cores\n", date, cpu;
  printf "checkpoint: generated Qwen3-VL-MoE bf16, %.2f GB of safetensors\n", bytes / 1e9;
  printf "vlmslim quant:        %7.2f s  %6.2f GB/s of bf16 input (end to end, incl. write + sync)\n", tq, gbq;
  printf "cat (page cache):     %7.2f s  %6.2f GB/s   ratio vlmslim/cat = %.2f\n", tr, gbr, gbq / gbr;
  printf "cp + sync:            %7.2f s  %6.2f GB/s   ratio vlmslim/cp  = %.2f\n", tc, gbc, gbq / gbc;
  printf "peak RSS:             %7.1f MB (largest unit %.1f MB bf16; bound 1.5 x unit + 200 MB = %.1f MB): %s\n",
         rss, largest, limit, rss < limit ? "within bound" : "OVER BOUND";
}' | tee "$out"
