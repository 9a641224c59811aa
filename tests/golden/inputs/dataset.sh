# The calibration set of the model-input tests, shared by make_golden.sh and
# tests/e2e/test_inspect_inputs.sh (sourced by bash, paths relative to the repository root):
# msModelSlim's two COCO photos, a palette PNG of odd size and an EXIF-rotated JPEG, with a
# prompts.jsonl naming two of them; the other two are appended with the default text.
#
# vs_inputs_dataset DIR   fills DIR (which must exist)
# VS_INPUTS_DEFAULT_TEXT  the --default_text the tests pass
VS_INPUTS_DEFAULT_TEXT="Describe this image in detail."

vs_inputs_dataset() {
  local dir=$1 coco=../shared/data/calibImages
  [ -f "$coco/COCO_train2014_000000577589.jpg" ] || { echo "missing $coco (the shared calibration photos)" >&2; return 1; }
  cp "$coco/COCO_train2014_000000577589.jpg" "$coco/COCO_train2014_000000577592.jpg" "$dir/"
  cp tests/golden/vision/images/palette4_37x23.png tests/golden/vision/images/exif6_13x7.jpg "$dir/"
  cat > "$dir/prompts.jsonl" <<'JSONL'
{"image": "palette4_37x23.png", "text": "Name the colours: {red}, \"quoted\", 中文 and 🙂."}
{"image": "COCO_train2014_000000577592.jpg", "text": "What is in this picture?\nAnswer in one word."}
JSONL
}
