#!/usr/bin/env bash
# Regenerates tests/golden/inputs/expected.json, the model inputs of the calibration set of
# dataset.sh for the tiny generated checkpoint, with the independent references (PIL + numpy for
# the images, @huggingface/jinja + @huggingface/tokenizers for the prompts), never with vlmslim.
# usage: tests/golden/inputs/make_golden.sh [BUILD_DIR [FAMILY]]   (needs /usr/bin/python3 with
# numpy and PIL, node, and tests/golden/tokenizer/fetch.sh + tests/golden/chat_template/fetch.sh
# run). FAMILY qwen3_vl_moe (the default) writes expected.json; qwen2_5_vl expected_qwen2_5_vl.json
# (patch 14, CLIP mean/std, its chat template with the default system prompt); internvl
# expected_internvl.json (tests/reference/internvl_torch.py's tiles with PIL and numpy, and
# msModelSlim's query, tokenized by @huggingface/tokenizers); internvl_hf expected_internvl_hf.json
# (the -HF layout: GotOcr2's tiles, the chat template and InternVLProcessor's expansion).
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
if [ "$family" = internvl_hf ]; then
  "$build/vlmslim-mkmodel" --family internvl --layout hf --out "$tmp/model"
else
  "$build/vlmslim-mkmodel" --family "$family" --out "$tmp/model"
fi
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
if [ "$family" = internvl ] || [ "$family" = internvl_hf ]; then
  ivl=tests/reference/internvl_torch.py
  "$py" "$ivl" pixels "$tmp/model" "$tmp"/data/*.jpg "$tmp"/data/*.png | "$py" -c '
import json, sys
out = [{"image": p["image"], "grid": [1, p["tiles"], 1], "patches": p["tiles"], "patch_dim": p["shape"][1],
        "sha256": p["pixel_values_sha"]} for p in map(json.loads, sys.stdin) if p]
json.dump(out, sys.stdout)' > "$tmp/pixels.json"
fi
if [ "$family" = internvl ]; then # msModelSlim's query (the -HF layout: the chat template's prompt)
  per_tile=$("$py" -c 'import json,sys; c=json.load(open(sys.argv[1])); s=c["force_image_size"] // c["vision_config"]["patch_size"]
print(int(s * s * c["downsample_ratio"] ** 2))' "$tmp/model/config.json")
  "$py" - "$tmp/samples.json" "$tmp/pixels.json" "$ivl" "$per_tile" > "$tmp/samples_prompted.json" <<'PY'
import json, subprocess, sys
samples, pixels, ivl, per_tile = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
tiles = {p["image"]: p["patches"] for p in json.load(open(pixels))}
out = []
for s in json.load(open(samples)):
    q = subprocess.run([sys.executable, ivl, "prompt", s["text"], "--tiles", str(tiles[s["image"]]),
                        "--tokens-per-tile", per_tile], check=True, capture_output=True).stdout.decode()
    out.append(dict(s, prompt=q))
json.dump(out, sys.stdout, ensure_ascii=False)
PY
  mv "$tmp/samples_prompted.json" "$tmp/samples.json"
elif [ "$family" != internvl_hf ]; then
  "$py" tests/golden/inputs/reference_pixels.py "$tmp/model/preprocessor_config.json" "$tmp"/data/*.jpg "$tmp"/data/*.png > "$tmp/pixels.json"
fi
node tests/golden/inputs/reference_ids.mjs "$tmp/model" "$tmp/samples.json" "$tmp/pixels.json" > "$tmp/ids.json"
"$py" - "$tmp/ids.json" "$tmp/pixels.json" > "$expected" <<'PY'
import json, sys
ids, pixels = json.load(open(sys.argv[1])), {p["image"]: p for p in json.load(open(sys.argv[2]))}
out = [dict(s, **{k: v for k, v in pixels[s["image"]].items() if k != "image"}) for s in ids]
sys.stdout.write("[\n" + ",\n".join(json.dumps(s, ensure_ascii=False) for s in out) + "\n]\n")
PY
echo "make_golden.sh: $expected: $("$py" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$expected") samples"
