#!/usr/bin/env bash
# Regenerates the --compute bf16 goldens with the independent PyTorch reference
# (tests/reference/calib_torch.py --compute bf16), never with vlmslim. Each line of cases.txt
# (name|comparison) names a case of tests/golden/calib/cases.txt, whose fixture, config, model
# type, committed inputs and propagation it takes; it writes
#   tests/golden/compute/<name>/            the expected export
#   tests/golden/compute/<name>.ties.json   int8 weights at near rounding ties
#   tests/golden/compute/<name>.report.json each quantized Linear's relative output error
# usage: tests/golden/compute/make_golden.sh [BUILD_DIR]; needs /usr/bin/python3 with numpy,
# torch and PyYAML ($PYTHON), and the shared data (../shared/data).
set -euo pipefail
cd "$(dirname "$0")/../../.."
source tests/blas_core.sh  # the OpenBLAS kernels the tests pin
build=${1:-build}
py=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vlmslim-compute-golden.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
while IFS='|' read -r name _comparison; do
  [ -z "${ONLY:-}" ] || [ "$ONLY" = "$name" ] || continue
  [ -n "$name" ] || continue
  IFS='|' read -r _ mkargs config type _grids propagate _ <<<"$(grep "^$name|" tests/golden/calib/cases.txt)"
  g=tests/golden/compute/$name
  rm -rf "$g"
  "$build/vlmslim-mkmodel" $mkargs --out "$tmp/$name" >/dev/null
  "$py" tests/reference/calib_torch.py --model_path "$tmp/$name" --config_path "$config" --model_type "$type" \
    --inputs "tests/golden/calib/$name.inputs" --save_path "$g" --propagate "$propagate" --compute bf16 \
    --ties-out "$g.ties.json" --report-out "$g.report.json"
  find "$g" -type f -exec chmod 644 {} +
  echo "make_golden.sh: $name: $(ls "$g" | wc -l) files, $(du -sk "$g" | cut -f1) KB"
done < tests/golden/compute/cases.txt
