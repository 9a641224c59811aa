#!/usr/bin/env bash
# End to end: Qwen2.5-VL published layout, f16, tied embeddings (lm_head written as a copy),
# 300000-byte output parts (tests/data/configs/qwen2_5_vl_mixed.yaml). Compared with
# tests/golden/e2e/q25_tied_f16/ (see golden_case.sh).
set -euo pipefail
source tests/e2e/golden_case.sh
vs_e2e_golden_case q25_tied_f16
