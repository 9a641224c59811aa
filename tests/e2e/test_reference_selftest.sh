#!/usr/bin/env bash
# The numpy reference (tests/reference/) against hand-computed values: quantization math,
# include/exclude matching, bf16 conversion, safetensors reading and writing. Skipped (with a
# note, exit 0) when $VS_PYTHON lacks numpy or PyYAML; the golden exports keep the C tests
# independent of Python.
set -euo pipefail
if [ -z "${VS_PYTHON:-}" ] || ! "$VS_PYTHON" -c 'import numpy, yaml' 2>/dev/null; then
  echo "note: ${VS_PYTHON:-python3} without numpy/PyYAML: reference self-test skipped"
  exit 0
fi
"$VS_PYTHON" tests/reference/selftest.py
