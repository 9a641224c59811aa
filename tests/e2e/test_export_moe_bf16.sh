#!/usr/bin/env bash
# End to end: Qwen3-VL-MoE, bf16, single-file checkpoint; W8A8_DYNAMIC experts + W8A16 attention (tests/data/configs/moe_dynamic.yaml), part_file_size 0.
# Compared with the golden export tests/golden/e2e/moe_bf16/ (see tests/e2e/golden_case.sh).
set -euo pipefail
source tests/e2e/golden_case.sh
vs_e2e_golden_case moe_bf16
