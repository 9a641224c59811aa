# Sourced by the tests/e2e/test_export_*.sh scripts (not a test itself): runs one golden case
# of tests/golden/e2e/cases.sh end to end.
#
#   1. vlmslim-mkmodel generates the fixture; its content digest must equal the one recorded
#      with the golden (tests/golden/e2e/<case>.fixture), else the generator drifted;
#   2. [VLMSLIM_PART_FILE_BYTES=<n>] vlmslim quant --model_path <fixture> --save_path <out>
#                    --model_type <type> --config_path <config> --device cpu
#   3. every file of the export has mode 0600, and no checkpoint-only file (README.md,
#      model*.safetensors, model.safetensors.index.json) was copied;
#   4. vs-compare-export --ties <case>.ties.json <out> tests/golden/e2e/<case>;
#   5. if $VS_PYTHON has numpy and PyYAML: the numpy reference runs live on the fresh fixture,
#      vlmslim's export is compared with it, and it is compared with the golden (so the
#      reference and the goldens cannot drift apart unnoticed).
# A missing golden is a failure, never a skip.

set -euo pipefail

vs_e2e_golden_case() {
  local case=$1
  : "${VLMSLIM:?}" "${VLMSLIM_MKMODEL:?}" "${VS_BUILD_DIR:?}" "${VS_TEST_TMP:?}"
  source tests/golden/e2e/cases.sh
  vs_case "$case"
  local golden=tests/golden/e2e/$case
  local compare=$VS_BUILD_DIR/tests/tools/vs-compare-export
  if [ ! -f "$golden/quant_model_description.json" ] || [ ! -f "$golden.ties.json" ] || [ ! -f "$golden.fixture" ]; then
    echo "FAIL: golden export $golden (with $golden.ties.json and $golden.fixture) is missing;" \
         "generate it with tests/golden/e2e/make_golden.sh BUILD_DIR $case"
    return 1
  fi
  [ -x "$compare" ] || { echo "FAIL: $compare not built (cmake --build $VS_BUILD_DIR)"; return 1; }
  mkdir -p "$VS_TEST_TMP"
  local tmp; tmp=$(mktemp -d "$VS_TEST_TMP/e2e-$case.XXXXXX")
  trap "rm -rf '$tmp'" EXIT

  echo "== $case: vlmslim-mkmodel ${VS_CASE_MKMODEL[*]}"
  local digest
  digest=$("$VLMSLIM_MKMODEL" "${VS_CASE_MKMODEL[@]}" --out "$tmp/model" --verbose | sed -n 's/.*, digest \([0-9a-f]*\)$/\1/p')
  if [ "$digest" != "$(cat "$golden.fixture")" ]; then
    echo "FAIL: generator drift: the fixture's digest is '$digest', the golden was made from $(cat "$golden.fixture");"
    echo "      if vlmslim-mkmodel changed on purpose, regenerate: tests/golden/e2e/make_golden.sh BUILD_DIR $case"
    return 1
  fi

  echo "== $case: ${VS_CASE_PART_BYTES:+VLMSLIM_PART_FILE_BYTES=$VS_CASE_PART_BYTES }vlmslim quant" \
       "--model_type $VS_CASE_TYPE --config_path $VS_CASE_CONFIG"
  VLMSLIM_PART_FILE_BYTES=$VS_CASE_PART_BYTES "$VLMSLIM" quant --model_path "$tmp/model" --save_path "$tmp/out" \
    --model_type "$VS_CASE_TYPE" --config_path "$VS_CASE_CONFIG" --device cpu

  local failures=0 bad
  bad=$(find "$tmp/out" -type f ! -perm 0600 -printf '%m %P\n')
  if [ -n "$bad" ]; then echo "FAIL: export files without mode 0600:"; echo "$bad"; failures=$((failures + 1)); fi
  for f in README.md model.safetensors model.safetensors.index.json model-00001-of-00003.safetensors; do
    if [ -e "$tmp/out/$f" ]; then echo "FAIL: $f copied into the export"; failures=$((failures + 1)); fi
  done

  echo "== $case: compare with the golden export"
  "$compare" --ties "$golden.ties.json" "$tmp/out" "$golden" || failures=$((failures + 1))

  if [ -n "${VS_PYTHON:-}" ] && "$VS_PYTHON" -c 'import numpy, yaml' 2>/dev/null; then
    echo "== $case: numpy reference on the fresh fixture"
    "$VS_PYTHON" tests/reference/ascendv1_reference.py --model_path "$tmp/model" --config_path "$VS_CASE_CONFIG" \
      --model_type "$VS_CASE_TYPE" --save_path "$tmp/ref" --ties-out "$tmp/ref.ties.json" \
      ${VS_CASE_PART_BYTES:+--part-bytes "$VS_CASE_PART_BYTES"}
    "$compare" --ties "$tmp/ref.ties.json" "$tmp/out" "$tmp/ref" || failures=$((failures + 1))
    echo "== $case: live reference vs golden (must be identical)"
    "$compare" "$tmp/ref" "$golden" || failures=$((failures + 1))
    cmp -s "$tmp/ref.ties.json" "$golden.ties.json" || { echo "FAIL: $golden.ties.json differs from the live reference's"; failures=$((failures + 1)); }
  else
    echo "note: ${VS_PYTHON:-python3} without numpy/PyYAML: live reference check skipped (golden check done)"
  fi

  if [ "$failures" -ne 0 ]; then echo "$case: $failures failure(s)"; return 1; fi
  echo "$case: export matches"
}
