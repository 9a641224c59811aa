#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/, -DVS_FUZZ=ON, clang) in build-fuzz/ and runs each for
# SECONDS seconds on a copy of its seed corpus (fuzz/corpus/<harness>/ stays as committed).
# Prints per harness the executions, final corpus size and coverage; exits non-zero if any
# harness crashed, leaked, hit a UBSan report or a timeout (the log and the input that did it
# are named in the output).
#
#   scripts/fuzz.sh SECONDS [HARNESS...]      e.g. scripts/fuzz.sh 60 jinja image
#
# VS_FUZZ_JOBS harnesses run at a time (default 1); VS_FUZZ_BUILD_DIR overrides build-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:?usage: scripts/fuzz.sh SECONDS [HARNESS...]}
shift
build=${VS_FUZZ_BUILD_DIR:-build-fuzz}
jobs=${VS_FUZZ_JOBS:-1}

if [ $# -gt 0 ]; then
  harnesses=("$@")
else
  harnesses=()
  for f in fuzz/fuzz_*.c; do
    h=$(basename "$f" .c)
    [ "$h" = fuzz_util ] || harnesses+=("${h#fuzz_}")
  done
fi

mkdir -p "$build"
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVS_FUZZ=ON \
  -DVS_WERROR=ON -DBUILD_TESTING=OFF >"$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 1; }
if ! cmake --build "$build" -j"$(nproc)" --target fuzz_harnesses >"$build/build.log" 2>&1; then
  cat "$build/build.log"
  exit 1
fi

run_one() { # harness
  local h=$1 dir=$build/fuzz-run/$1
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp fuzz/corpus/"$h"/* "$dir/corpus/"
  local rc=0
  OMP_NUM_THREADS=1 UBSAN_OPTIONS=print_stacktrace=1 "$build/fuzz/fuzz_$h" "$dir/corpus" \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" >"$dir/log" 2>&1 || rc=$?
  echo "$rc" >"$dir/rc"
}

running=0
for h in "${harnesses[@]}"; do
  [ -x "$build/fuzz/fuzz_$h" ] || { echo "no harness fuzz_$h" >&2; exit 2; }
  run_one "$h" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

failed=0
printf '%-20s %8s %12s %8s %8s %8s  %s\n' harness seconds executions corpus cov ft result
for h in "${harnesses[@]}"; do
  dir=$build/fuzz-run/$h
  log=$dir/log
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corpus=$(find "$dir/corpus" -type f | wc -l)
  if [ "$(cat "$dir/rc")" = 0 ]; then
    result=ok
  else
    result="FAILED (log: $log)"
    failed=1
  fi
  printf '%-20s %8s %12s %8s %8s %8s  %s\n' "$h" "$secs" "${execs:-?}" "$corpus" "${cov:-?}" "${ft:-?}" "$result"
  if [ "$result" != ok ]; then
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*Test unit written to|.*ALARM)' "$log" | sed 's/^/    /' | head -n 8
  fi
done
exit "$failed"
