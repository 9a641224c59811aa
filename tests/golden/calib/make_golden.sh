#!/usr/bin/env bash
# Regenerates the calibrated-export goldens with the independent PyTorch reference
# (tests/reference/calib_torch.py), never with vlmslim. For each line of cases.txt
# (name|mkmodel args|config|model type|inputs|propagate[|extra vs-compare-export options, used by
# tests/e2e/test_quant_calib.sh]; lines starting with # are comments) it writes
#   tests/golden/calib/<name>.inputs/   model-input files (qwen3_vl_torch.py / qwen2_5_vl_torch.py inputs) when the
#                                       inputs field is a list of grids; for tiles=N1,N2,... (InternVL)
#                                       one sample per entry with one image of Ni tiles of random
#                                       pixels (internvl_torch.py inputs --tiles Ni --seed 9+i, its
#                                       sample_0), then one text-only sample (the first call's
#                                       sample_1); for images=A,B,... (paths
#                                       under the shared data directory, or gen:WxH) the files are
#                                       made by vs-make-inputs at test time and not committed; for
#                                       `dataset` the config's spec.dataset names the calibration set
#                                       of tests/golden/inputs/dataset.sh under $VLMSLIM_LAB_CALIB_DIR
#                                       and the files are what `vlmslim inspect-inputs --dump` writes
#   tests/golden/calib/<name>/          the expected export
#   tests/golden/calib/<name>.ties.json int8 weights at near rounding ties
#   tests/golden/calib/<name>.fixture   the generator's digest of the fixture
#   tests/golden/calib/<name>.report.json  each quantized Linear's relative output error, measured
#                                       on every 4th row (moe_static also .report_every_row.json)
# usage: tests/golden/calib/make_golden.sh [BUILD_DIR]; needs /usr/bin/python3 with numpy,
# torch and PyYAML ($PYTHON), and the shared data (../shared/data, or $VS_SHARED_DATA).
set -euo pipefail
cd "$(dirname "$0")/../../.."
source tests/blas_core.sh  # the OpenBLAS kernels the tests pin
build=${1:-build}
py=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vlmslim-calib-golden.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
while IFS='|' read -r name mkargs config type grids propagate _compare; do
  case "$name" in ''|'#'*) continue ;; esac  # blank lines, comments
  [ -z "${ONLY:-}" ] || [ "$ONLY" = "$name" ] || continue
  g=tests/golden/calib/$name
  rm -rf "$g" "$g.inputs"
  "$build/vlmslim-mkmodel" $mkargs --out "$tmp/$name" --verbose | sed -n 's/.*, digest \([0-9a-f]*\)$/\1/p' > "$g.fixture"
  inputs=$g.inputs
  case "$grids" in
    images=*) inputs=$tmp/$name.inputs
      tests/golden/calib/make_image_inputs.sh "$build" "$tmp/$name" "${grids#images=}" "$inputs" ;;
    dataset) inputs=$tmp/$name.inputs
      mkdir -p "$tmp/lab/vs_test_calib_dataset"
      (source tests/golden/inputs/dataset.sh; vs_inputs_dataset "$tmp/lab/vs_test_calib_dataset")
      VLMSLIM_DATA_DIR=. VLMSLIM_LAB_CALIB_DIR=$tmp/lab "$build/vlmslim" inspect-inputs --model_path "$tmp/$name" \
        --config_path "$config" --dump "$inputs" >/dev/null 2>&1 ;;
    mkcalib) # the quick start: vlmslim-mkcalib's set as the config's dataset (calibImages)
      inputs=$tmp/$name.inputs
      rm -rf "$tmp/lab/calibImages"; mkdir -p "$tmp/lab"
      "$build/vlmslim-mkcalib" --out "$tmp/lab/calibImages"
      VLMSLIM_DATA_DIR=. VLMSLIM_LAB_CALIB_DIR=$tmp/lab "$build/vlmslim" inspect-inputs --model_path "$tmp/$name" \
        --config_path "$config" --dump "$inputs" >/dev/null 2>&1 ;;
    tiles=*) # InternVL: sample_<i> one image of the i-th count of tiles, then a text-only sample
      IFS=',' read -ra counts <<< "${grids#tiles=}"
      mkdir -p "$inputs"
      for i in "${!counts[@]}"; do
        "$py" tests/reference/internvl_torch.py inputs "$tmp/$name" "$tmp/$name.tiles$i" --tiles "${counts[$i]}" --seed $((9 + i))
        mv "$tmp/$name.tiles$i/sample_0.safetensors" "$inputs/sample_$i.safetensors"
      done
      mv "$tmp/$name.tiles0/sample_1.safetensors" "$inputs/sample_${#counts[@]}.safetensors" ;;
    *) ref=tests/reference/qwen3_vl_torch.py
      case "$mkargs" in *qwen2_5_vl*) ref=tests/reference/qwen2_5_vl_torch.py ;; esac
      "$py" "$ref" inputs "$tmp/$name" "$inputs" --grids "$grids" --seed 9 ;;
  esac
  "$py" tests/reference/calib_torch.py --model_path "$tmp/$name" --config_path "$config" --model_type "$type" \
    --inputs "$inputs" --save_path "$g" --propagate "$propagate" --ties-out "$g.ties.json" \
    --report-out "$g.report.json"
  if [ "$name" = moe_static ]; then # the report measured on every row (--report_stride 1)
    "$py" tests/reference/calib_torch.py --model_path "$tmp/$name" --config_path "$config" --model_type "$type" \
      --inputs "$inputs" --save_path "$tmp/every_row" --propagate "$propagate" \
      --report-out "$g.report_every_row.json" --report-stride 1
  fi
  find "$g" -type f -exec chmod 644 {} +
  echo "make_golden.sh: $name: $(ls "$g" | wc -l) files, $(du -sk "$g" | cut -f1) KB"
done < tests/golden/calib/cases.txt
