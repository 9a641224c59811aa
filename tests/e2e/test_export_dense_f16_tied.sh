#!/usr/bin/env bash
# End to end: Qwen3-VL dense, f16, tied embeddings (lm_head written as a copy of embed_tokens);
# W8A8_DYNAMIC with msModelSlim's excludes (tests/data/configs/dense_dynamic.yaml), part_file_size 0.
# Compared with the golden export tests/golden/e2e/dense_f16_tied/ (see tests/e2e/golden_case.sh).
set -euo pipefail
source tests/e2e/golden_case.sh
vs_e2e_golden_case dense_f16_tied
