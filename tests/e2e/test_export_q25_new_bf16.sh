#!/usr/bin/env bash
# End to end: Qwen2.5-VL in transformers >= 4.52's layout, bf16, 2 input shards, exported under its
# published names (tests/data/configs/qwen2_5_vl_mixed.yaml: W8A16 down_projs, W8A8_DYNAMIC
# elsewhere, float merger). Compared with tests/golden/e2e/q25_new_bf16/ (see golden_case.sh).
set -euo pipefail
source tests/e2e/golden_case.sh
vs_e2e_golden_case q25_new_bf16
