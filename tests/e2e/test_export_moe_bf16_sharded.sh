#!/usr/bin/env bash
# End to end: Qwen3-VL-MoE, bf16, checkpoint in 3 shards with a dense layer and a quantization_config;
# first-matching-entry-wins precedence (tests/data/configs/moe_first_wins.yaml), part_file_size 4.
# Compared with the golden export tests/golden/e2e/moe_bf16_sharded/ (see tests/e2e/golden_case.sh).
set -euo pipefail
source tests/e2e/golden_case.sh
vs_e2e_golden_case moe_bf16_sharded
