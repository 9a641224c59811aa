#!/usr/bin/env bash
# Regenerates tests/golden/inputs/expected.json, the model inputs of the calibration set of
# dataset.sh for the tiny generated checkpoint, with the independent references (PIL + numpy for
# the images, @huggingface/jinja + @huggingface/tokenizers for the prompts), never with vlmslim.
# usage: tests/golden/inputs/make_golden.sh [BUILD_DIR [FAMILY]]   (needs /usr/bin/python3 with
# numpy and PIL, node, and tests/golden/tokenizer/fetch.sh + tests/golden/chat_template/fetch.sh
# run). FAMILY qwen3_vl_moe (the default) writes expected.json; qwen2_5_vl expected_qwen2_5_vl.json
# (patch 14, CLIP mean/std, its chat template with the default system prompt).
set -euo pipefail
cd "$(dirname "$0")/../../.."
build=${1:-build}
family=${2:-qwen3_vl_moe}
expected=tests/golden/inputs/expected.json
[ "$family" = qwen3_vl_moe ] || expected=tests/golden/inputs/expected_$family.json
py=${VS_PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vlmslim-inputs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
source tests/golden/inputs/dataset.sh
"$build/vlmslim-mkmodel" --family "$family" --out "$tmp/model"
mkdir "$tmp/data"
vs_inputs_dataset "$tmp/data"
# msModelSlim's order for a folder with one jsonl (spec §3.3): the jsonl's entries in file
# order, then the images it does not name, sorted, with the default text
"$py" - "$tmp/data" "$VS_INPUTS_DEFAULT_TEXT" > "$tmp/samples.json" <<'PY'
import json, os, sys
d, default = sys.argv[1], sys.argv[2]
entries = [json.loads(l) for l in open(os.path.join(d, "prompts.jsonl")) if l.strip()]
named = {e["image"] for e in entries}
rest = sorted(f for f in os.listdir(d) if f.lower().endswith((".jpg", ".png")) and f not in named)
json.dump([{"image": e["image"], "text": e["text"]} for e in entries] +
          [{"image": f, "text": default} for f in rest], sys.stdout)
PY
"$py" tests/golden/inputs/reference_pixels.py "$tmp/model/preprocessor_config.json" "$tmp"/data/*.jpg "$tmp"/data/*.png > "$tmp/pixels.json"
node tests/golden/inputs/reference_ids.mjs "$tmp/model" "$tmp/samples.json" "$tmp/pixels.json" > "$tmp/ids.json"
"$py" - "$tmp/ids.json" "$tmp/pixels.json" > "$expected" <<'PY'
import json, sys
ids, pixels = json.load(open(sys.argv[1])), {p["image"]: p for p in json.load(open(sys.argv[2]))}
out = [dict(s, **{k: v for k, v in pixels[s["image"]].items() if k != "image"}) for s in ids]
sys.stdout.write("[\n" + ",\n".join(json.dumps(s, ensure_ascii=False) for s in out) + "\n]\n")
PY
echo "make_golden.sh: $expected: $("$py" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$expected") samples"
