#!/usr/bin/env bash
# End to end: a small Qwen3-VL-MoE written as several output shards (VLMSLIM_PART_FILE_BYTES=40000,
# the testing override of part_file_size): shard names, the shard rule and the index.
# Compared with the golden export tests/golden/e2e/moe_multishard_out/ (see tests/e2e/golden_case.sh).
set -euo pipefail
source tests/e2e/golden_case.sh
vs_e2e_golden_case moe_multishard_out
