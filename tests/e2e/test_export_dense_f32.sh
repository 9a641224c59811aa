#!/usr/bin/env bash
# End to end: Qwen3-VL dense, f32, no DeepStack; W8A16 only (tests/data/configs/dense_w8a16.yaml), part_file_size 4.
# Compared with the golden export tests/golden/e2e/dense_f32/ (see tests/e2e/golden_case.sh).
set -euo pipefail
source tests/e2e/golden_case.sh
vs_e2e_golden_case dense_f32
