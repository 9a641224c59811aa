#!/usr/bin/env bash
# End to end: the default tiny Qwen3-VL-MoE quantized data-free with
# examples/configs/qwen3_vl_moe_w8a8_dynamic.yaml (the quick start's calibrated run itself is the
# `quickstart` case of tests/golden/calib/cases.txt, checked by test_quant_calib.sh).
# Compared with the golden export tests/golden/e2e/quickstart/ (see tests/e2e/golden_case.sh).
set -euo pipefail
source tests/e2e/golden_case.sh
vs_e2e_golden_case quickstart
