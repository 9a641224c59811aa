#!/usr/bin/env bash
# Regenerates the golden exports of the end-to-end tests with the independent numpy reference
# (tests/reference/ascendv1_reference.py), never with vlmslim itself. For each case of
# cases.sh it generates the fixture with the built vlmslim-mkmodel and writes
#   tests/golden/e2e/<case>/            the expected export
#   tests/golden/e2e/<case>.ties.json   int8 elements at near rounding ties (vs-compare-export --ties)
#   tests/golden/e2e/<case>.fixture     the generator's content digest of the fixture
#
# usage: tests/golden/e2e/make_golden.sh [BUILD_DIR] [CASE...]   (BUILD_DIR default: build)
# needs python3 with numpy and PyYAML ($PYTHON, default /usr/bin/python3).
set -euo pipefail
cd "$(dirname "$0")/../../.."
source tests/blas_core.sh  # the OpenBLAS kernels the tests pin
build=${1:-build}
shift || true
python=${PYTHON:-/usr/bin/python3}
mkmodel=$build/vlmslim-mkmodel
[ -x "$mkmodel" ] || { echo "make_golden.sh: $mkmodel not found; build first (cmake --build $build)" >&2; exit 1; }
"$python" -c 'import numpy, yaml' || { echo "make_golden.sh: $python needs numpy and PyYAML" >&2; exit 1; }
source tests/golden/e2e/cases.sh
cases=${*:-$VS_E2E_CASES}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vlmslim-golden.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for c in $cases; do
  vs_case "$c"
  golden=tests/golden/e2e/$c
  "$mkmodel" "${VS_CASE_MKMODEL[@]}" --out "$tmp/$c-model" --verbose \
    | sed -n 's/.*, digest \([0-9a-f]*\)$/\1/p' > "$golden.fixture.tmp"
  [ -s "$golden.fixture.tmp" ] || { echo "make_golden.sh: $c: no digest from vlmslim-mkmodel" >&2; exit 1; }
  rm -rf "$golden" "$tmp/$c-export"
  "$python" tests/reference/ascendv1_reference.py --model_path "$tmp/$c-model" \
    --config_path "$VS_CASE_CONFIG" --model_type "$VS_CASE_TYPE" --save_path "$tmp/$c-export" \
    --ties-out "$golden.ties.json" ${VS_CASE_PART_BYTES:+--part-bytes "$VS_CASE_PART_BYTES"}
  mv "$tmp/$c-export" "$golden"
  chmod 644 "$golden"/*
  mv "$golden.fixture.tmp" "$golden.fixture"
  echo "make_golden.sh: $c: $(ls "$golden" | wc -l) files, $(du -sk "$golden" | cut -f1) KB, digest $(cat "$golden.fixture")"
done
