#!/usr/bin/env bash
# End to end: The README quick start (scripts/quickstart.sh): the default tiny Qwen3-VL-MoE quantized with
# examples/configs/qwen3_vl_moe_w8a8_dynamic.yaml.
# Compared with the golden export tests/golden/e2e/quickstart/ (see tests/e2e/golden_case.sh).
set -euo pipefail
source tests/e2e/golden_case.sh
vs_e2e_golden_case quickstart
