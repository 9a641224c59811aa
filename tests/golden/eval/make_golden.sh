#!/usr/bin/env bash
# Regenerates the `vlmslim eval` goldens with the independent PyTorch reference
# (tests/reference/eval_torch.py), never with vlmslim. For each line of cases.txt
# (name|source|grids|max_new_tokens): the export is the golden tests/golden/<source>/<name> of the calibrated
# (calib) or data-free (e2e) suites, its fixture made with that suite's generator arguments; the
# samples are the calib case's committed inputs, or (e2e) model-input files made here for the
# grids and committed as tests/golden/eval/<name>.inputs; with max_new_tokens, the greedy
# continuations too; for a ct:BASE source the compressed-tensors export itself is made first, by
# vlmslim quant with the case's config (its saver made compressed_tensors_saver) on BASE's samples,
# and committed as tests/golden/eval/ct/<name>: the thing evaluated, not a result.
# Writes tests/golden/eval/<name>.json; and for each case named in bf16_cases.txt the same with
# --compute bf16 (docs/compute.md), tests/golden/eval/bf16/<name>.json.
# usage: tests/golden/eval/make_golden.sh [BUILD_DIR]; needs /usr/bin/python3 with numpy and torch.
set -euo pipefail
cd "$(dirname "$0")/../../.."
source tests/blas_core.sh  # the OpenBLAS kernels the tests pin
build=${1:-build}
py=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vlmslim-eval-golden.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
source tests/golden/eval/case.sh
while IFS='|' read -r name source grids max_new; do
  [ -z "${ONLY:-}" ] || [ "$ONLY" = "$name" ] || continue
  [ -n "$name" ] || continue
  vs_eval_case "$name" "$source" "$grids"
  "$build/vlmslim-mkmodel" "${VS_EVAL_MKMODEL[@]}" --out "$tmp/$name" >/dev/null
  if [ "$source" = e2e ]; then
    rm -rf "$VS_EVAL_INPUTS"
    ref=tests/reference/qwen3_vl_torch.py
    case "${VS_EVAL_MKMODEL[*]}" in *qwen2_5_vl*) ref=tests/reference/qwen2_5_vl_torch.py ;; esac
    "$py" "$ref" inputs "$tmp/$name" "$VS_EVAL_INPUTS" --grids "$grids" --seed 9
  fi
  if [[ "$source" == ct:* ]]; then
    sed 's/type: "ascendv1_saver"/type: "compressed_tensors_saver"/; s/part_file_size: [0-9]*/part_file_size: 0/' \
      "$VS_EVAL_CONFIG" >"$tmp/$name.yaml"
    model_type=$(grep "^${source#ct:}|" tests/golden/calib/cases.txt | cut -d'|' -f4)
    rm -rf "$VS_EVAL_EXPORT"
    "$build/vlmslim" quant --model_path "$tmp/$name" --save_path "$VS_EVAL_EXPORT" --model_type "$model_type" \
      --config_path "$tmp/$name.yaml" --calib_inputs "$VS_EVAL_INPUTS" --no_report --quiet
  fi
  gen=(); [ -z "$max_new" ] || gen=(--max-new-tokens "$max_new")
  "$py" tests/reference/eval_torch.py "$tmp/$name" "$VS_EVAL_EXPORT" "$VS_EVAL_INPUTS" tests/golden/eval/$name.json "${gen[@]}"
  echo "make_golden.sh: $name: $(python3 -c "import json,sys; s=json.load(open(sys.argv[1]))['summary']; print('mean KL %.3g, top-1 %.3f' % (s['kl_mean'], s['top1_agreement']))" tests/golden/eval/$name.json)"
done < tests/golden/eval/cases.txt
while read -r name; do
  [ -z "${ONLY:-}" ] || [ "$ONLY" = "$name" ] || continue
  IFS='|' read -r _ source grids _ <<<"$(grep "^$name|" tests/golden/eval/cases.txt)"
  vs_eval_case "$name" "$source" "$grids"
  "$build/vlmslim-mkmodel" "${VS_EVAL_MKMODEL[@]}" --out "$tmp/$name.bf16" >/dev/null
  "$py" tests/reference/eval_torch.py "$tmp/$name.bf16" "$VS_EVAL_EXPORT" "$VS_EVAL_INPUTS" tests/golden/eval/bf16/$name.json \
    --compute bf16
  echo "make_golden.sh: bf16/$name done"
done < tests/golden/eval/bf16_cases.txt
