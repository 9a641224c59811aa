# Sourced by tests/golden/eval/make_golden.sh and tests/e2e/test_eval.sh.
# vs_eval_case NAME SOURCE GRIDS sets, for a line of tests/golden/eval/cases.txt,
#   VS_EVAL_MKMODEL  the generator arguments of the fixture (an array)
#   VS_EVAL_EXPORT   the golden export evaluated
#   VS_EVAL_INPUTS   the model-input files
#   VS_EVAL_FIXTURE  the file holding the fixture's digest
#   VS_EVAL_CONFIG   (source ct:BASE) the config the export was made with: GRIDS, or BASE's
#                    calibrated case's config with its saver made compressed_tensors_saver
# Sources: calib, e2e (the suites' golden exports), ct:BASE (a compressed-tensors export of the
# calib case BASE's fixture and samples, tests/golden/eval/ct/NAME).
vs_eval_case() {
  local name=$1 source=$2 line
  VS_EVAL_EXPORT=tests/golden/$source/$name
  VS_EVAL_FIXTURE=tests/golden/$source/$name.fixture
  case "$source" in
    calib)
      line=$(grep "^$name|" tests/golden/calib/cases.txt)
      read -r -a VS_EVAL_MKMODEL <<<"$(cut -d'|' -f2 <<<"$line")"
      VS_EVAL_INPUTS=tests/golden/calib/$name.inputs ;;
    ct:*)
      line=$(grep "^${source#ct:}|" tests/golden/calib/cases.txt)
      read -r -a VS_EVAL_MKMODEL <<<"$(cut -d'|' -f2 <<<"$line")"
      VS_EVAL_INPUTS=tests/golden/calib/${source#ct:}.inputs
      VS_EVAL_EXPORT=tests/golden/eval/ct/$name
      VS_EVAL_FIXTURE=tests/golden/calib/${source#ct:}.fixture
      VS_EVAL_CONFIG=${3:-$(cut -d'|' -f3 <<<"$line")} ;;
    e2e)
      source tests/golden/e2e/cases.sh
      vs_case "$name"
      VS_EVAL_MKMODEL=("${VS_CASE_MKMODEL[@]}")
      VS_EVAL_INPUTS=tests/golden/eval/$name.inputs ;;
    *) echo "vs_eval_case: $name: unknown source '$source'" >&2; return 1 ;;
  esac
}
