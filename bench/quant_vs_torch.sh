#!/usr/bin/env bash
# Benchmark: calibrated W8A8 `vlmslim quant` against the independent PyTorch pipeline
# (tests/reference/calib_torch.py) on the same checkpoint and model-input files, side by side in
# one run, for two generated bf16 checkpoints:
#   dense  Qwen3-VL-2B dimensions (vision 24 x 1024, text hidden 2048, 16/8 heads, intermediate
#          6144, tied embeddings) with 4 text layers; examples/configs/qwen3_vl_w8a8_static.yaml
#   moe    Qwen3-VL-30B-A3B dimensions (vision 27 x 1152, text hidden 2048, 32/4 heads, 128
#          experts of 768, top-8) with 2 text layers; examples/configs/qwen3_vl_moe_w8a8_static.yaml
#   q25    Qwen2.5-VL-7B dimensions (vision 32 x 1280 with window attention, text hidden 3584,
#          28/4 heads, intermediate 18944) with 2 text layers; tests/data/configs/qwen2_5_vl_w8a8_static.yaml
# calibrated on 8 images of vlmslim-mkcalib (built into model inputs by `vlmslim inspect-inputs`).
# Reports vlmslim's time split (load / forward / quantize / write), both wall times, the ratio and
# both peak RSS; then vlmslim again with --compute bf16 (docs/compute.md), its time against the
# fp32 run and the reference, and its peak RSS against the bound for units held in bf16. Results: bench/results/quant_vs_torch.txt (or $1). $VS_BENCH_VISION_DEPTH and
# $VS_BENCH_EXPERTS shrink the vision tower and the expert count (the PyTorch reference holds the
# whole model and every unit's activations in memory and needs more than 24 GiB at full size). $VS_BENCH_CASES narrows the
# cases ("dense moe"; "tiny" is a smoke test of the script); $VS_BENCH_IMAGES changes the image count;
# VS_BENCH_REFERENCE=0 runs vlmslim alone (full sizes). VS_BENCH_CONFIG=shipped runs msModelSlim's
# own configs instead (../shared/data/msmodelslim_configs: QuaRot + iter_smooth, then W8A8; the
# dense checkpoint then unties its embeddings, which QuaRot needs). Needs /usr/bin/python3 with torch.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/results/quant_vs_torch.txt}
cases=${VS_BENCH_CASES:-dense moe}
images=${VS_BENCH_IMAGES:-8}
reference=${VS_BENCH_REFERENCE:-1}
shipped=../shared/data/msmodelslim_configs
[ "${VS_BENCH_CONFIG:-}" != shipped ] || [ -d "$shipped" ] || { echo "quant_vs_torch.sh: no $shipped" >&2; exit 1; }
py=${VS_PYTHON:-/usr/bin/python3}
./scripts/build.sh >/dev/null
[ "$reference" = 0 ] || "$py" -c 'import torch' || { echo "quant_vs_torch.sh: $py has no torch (Debian: python3-torch)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/vlmslim-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
build/vlmslim-mkcalib --out "$work/calib" --images "$images"

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
rss_mb() { awk '{ printf "%.1f", $1 / 1024 }' "$1"; }

{
  echo "benchmark: calibrated W8A8 vlmslim quant vs the PyTorch reference pipeline, $(date -u +%Y-%m-%d), $(nproc) cores"
  echo "calibration: $images vlmslim-mkcalib images (PNG/JPEG, 96x288 .. 400x200), default text for the last"
  # the units the bf16 and int8 products run on (docs/compute.md): figures differ across them
  echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); bf16/int8 units: $(grep -o -w -E 'amx_bf16|amx_int8|avx512_bf16|avx512_vnni|avx_vnni' /proc/cpuinfo | sort -u | tr '\n' ' ')"
} > "$work/result.txt"
for c in $cases; do
  case $c in
    dense)
      family=qwen3_vl; type=Qwen3-VL-2B-Instruct; cfg=examples/configs/qwen3_vl_w8a8_static.yaml
      mk=(--family qwen3_vl --preset bench --vision-depth "${VS_BENCH_VISION_DEPTH:-24}" --vision-hidden 1024 --vision-heads 16
          --vision-intermediate 4096 --deepstack 1,3,5 --hidden 2048 --layers 4 --heads 16 --kv-heads 8
          --head-dim 128 --intermediate 6144 --tie) ;;
    moe)
      family=qwen3_vl_moe; type=Qwen3-VL-30B-A3B; cfg=examples/configs/qwen3_vl_moe_w8a8_static.yaml
      mk=(--family qwen3_vl_moe --preset bench --vision-depth "${VS_BENCH_VISION_DEPTH:-27}" --vision-hidden 1152
          --vision-heads 16 --vision-intermediate 4304 --deepstack 1,3,5 --layers 2 --experts "${VS_BENCH_EXPERTS:-128}"
          --topk 8) ;;
    q25)
      family=qwen2_5_vl; type=Qwen2.5-VL-7B-Instruct; cfg=tests/data/configs/qwen2_5_vl_w8a8_static.yaml
      vd=${VS_BENCH_VISION_DEPTH:-32}
      mk=(--family qwen2_5_vl --preset bench --vision-depth "$vd" --fullatt "$((vd / 4 - 1)),$((vd / 2 - 1)),$((3 * vd / 4 - 1)),$((vd - 1))"
          --hidden 3584 --layers 2 --heads 28 --kv-heads 4 --intermediate 18944 --vocab 152064) ;;
    tiny) # a smoke test of this script
      family=qwen3_vl_moe; type=Qwen3-VL-30B-A3B; cfg=examples/configs/qwen3_vl_moe_w8a8_static.yaml
      mk=(--family qwen3_vl_moe) ;;
    *) echo "quant_vs_torch.sh: unknown case $c" >&2; exit 2 ;;
  esac
  if [ "${VS_BENCH_CONFIG:-}" = shipped ]; then
    case $family in
      qwen3_vl) cfg=$shipped/qwen3_vl/qwen3_vl_w8a8.yaml
        untied=(); for a in "${mk[@]}"; do [ "$a" = --tie ] || untied+=("$a"); done; mk=("${untied[@]}") ;;
      qwen3_vl_moe) cfg=$shipped/qwen3_vl_moe/qwen3_vl_moe_w8a8.yaml ;;
      *) echo "quant_vs_torch.sh: no shipped config for $family" >&2; exit 2 ;;
    esac
  fi
  rm -rf "$work/model" "$work/inputs" "$work/vs" "$work/vsb" "$work/ref"
  build/vlmslim-mkmodel "${mk[@]}" --out "$work/model" >/dev/null
  build/vlmslim inspect-inputs --model_path "$work/model" --dataset "$work/calib" --dump "$work/inputs" > "$work/inputs.log"
  tokens=$(awk '/tokens:/ { n += $2 } END { print n }' "$work/inputs.log")
  gb=$(cat "$work"/model/*.safetensors | wc -c | awk '{ printf "%.2f", $1 / 1e9 }')
  cat "$work"/model/*.safetensors > /dev/null   # both runs start from the page cache

  t0=$(now)
  /usr/bin/time -f "%M" -o "$work/vs.rss" build/vlmslim quant --model_path "$work/model" --save_path "$work/vs" \
    --model_type "$type" --config_path "$cfg" --calib_inputs "$work/inputs" --device cpu --quiet > "$work/vs.log"
  t1=$(now)
  tb0=$(now)
  /usr/bin/time -f "%M" -o "$work/vsb.rss" build/vlmslim quant --model_path "$work/model" --save_path "$work/vsb" \
    --model_type "$type" --config_path "$cfg" --calib_inputs "$work/inputs" --device cpu --compute bf16 --quiet > "$work/vsb.log"
  tb1=$(now)
  t2=$(now)
  if [ "$reference" = 1 ]; then
    /usr/bin/time -f "%M" -o "$work/ref.rss" "$py" tests/reference/calib_torch.py --model_path "$work/model" \
      --config_path "$cfg" --model_type "$type" --inputs "$work/inputs" --save_path "$work/ref" --ties-out "$work/ties.json" > "$work/ref.log" 2>&1 \
      || { cat "$work/ref.log" >&2; exit 1; }
  fi
  t3=$(now)
  split=$(sed -n 's/^  time: //p' "$work/vs.log")
  split_b=$(sed -n 's/^  time: //p' "$work/vsb.log")
  unit_f32=$(sed -n 's/.*largest unit [0-9.]* MB (\([0-9.]*\) MB in float32).*/\1/p' "$work/vs.log")
  carried=$(sed -n 's/.*carried activations at most \([0-9.]*\) MB.*/\1/p' "$work/vs.log")
  unit_mb=$(sed -n 's/.*largest unit \([0-9.]*\) MB.*/\1/p' "$work/vs.log")
  held=$(sed -n 's/.*a calibrated unit held at most \([0-9.]*\) MB.*/\1/p' "$work/vs.log")
  held_b=$(sed -n 's/.*a calibrated unit held at most \([0-9.]*\) MB.*/\1/p' "$work/vsb.log")
  # Quantized propagation lets an activation within float32 noise of a rounding boundary round
  # differently in the two implementations (docs/design.md), so exports are compared at 1e-3.
  if [ "$reference" = 0 ]; then
    same="not compared"
  elif build/tests/tools/vs-compare-export --rtol 1e-3 --quant-bias-rtol 1e-3 --ties "$work/ties.json" "$work/vs" "$work/ref" > "$work/cmp.log" 2>&1; then
    same="equal within 1e-3 relative"
  else
    same="differ: $(grep -c . "$work/cmp.log") lines from vs-compare-export, first: $(sed -n 2p "$work/cmp.log" | cut -c1-120)"
  fi
  awk -v c="$c" -v fam="$family" -v mkargs="${mk[*]}" -v gb="$gb" -v tok="$tokens" -v tv="$(secs "$t0" "$t1")" -v tr="$(secs "$t2" "$t3")" \
      -v rv="$(rss_mb "$work/vs.rss")" -v rr="$([ "$reference" = 0 ] || rss_mb "$work/ref.rss")" -v tsplit="$split" -v same="$same" \
      -v uf="$unit_f32" -v ca="$carried" -v ref="$reference" -v tb="$(secs "$tb0" "$tb1")" -v rb="$(rss_mb "$work/vsb.rss")" \
      -v tsplitb="$split_b" -v um="$unit_mb" -v hd="$held" -v hb="$held_b" -v cfg="$cfg" 'BEGIN {
    printf "%s (%s, %.2f GB bf16, %d tokens in all; mkmodel %s; %s):\n", c, fam, gb, tok, mkargs, cfg;
    printf "  vlmslim quant      %8.2f s   peak RSS %8.1f MB   (%s)\n", tv, rv, tsplit;
    if (ref == 1)
      printf "  PyTorch reference  %8.2f s   peak RSS %8.1f MB\n", tr, rr;
    else
      printf "  PyTorch reference  not run ($VS_BENCH_REFERENCE=0)\n";
    bound = 1.2 * (uf + ca);
    printf "  vlmslim peak RSS bound 1.2 x (largest unit in float32 %.1f MB + carried activations %.1f MB) = %.1f MB (MB of 10^6 bytes; RSS above in MiB): %s\n",
           uf, ca, bound, rv * 1.048576 <= bound ? "within" : "over";
    if (ref == 1)
      printf "  ratio reference/vlmslim = %.2f; exports %s\n", tr / tv, same;
    printf "  vlmslim --compute bf16 %8.2f s   peak RSS %8.1f MB   (%s)\n", tb, rb, tsplitb;
    # bf16 units multiply the checkpoint bf16 weights in place: the bound is what a calibrated
    # unit held (or the largest unit checkpoint bytes, mapped while it is written) + activations
    bb = 1.2 * ((hb > um ? hb : um) + ca);
    printf "  a calibrated unit held at most %.1f MB in fp32, %.1f MB in bf16; bf16 peak RSS bound 1.2 x (max(held, largest unit %.1f MB) + carried %.1f MB) = %.1f MB: %s; bf16/fp32 peak RSS = %.2f\n",
           hd, hb, um, ca, bb, rb * 1.048576 <= bb ? "within" : "over", rb / rv;
    printf "  ratio fp32/bf16 = %.2f", tv / tb;
    if (ref == 1)
      printf ", reference/bf16 = %.2f", tr / tb;
    printf "\n";
  }' >> "$work/result.txt"
done
tee "$out" < "$work/result.txt"
