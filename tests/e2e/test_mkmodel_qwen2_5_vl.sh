#!/usr/bin/env bash
# vlmslim-mkmodel --family qwen2_5_vl (tools/mkmodel.c): synthetic Qwen2.5-VL checkpoints in the
# published layout (transformers < 4.52) and with --layout new (transformers >= 4.52), tied and
# untied, bf16 and f32, single-file and sharded, checked independently by
# tests/reference/check_checkpoint.py; deterministic; --outliers plants the same outliers as for
# Qwen3-VL; the chat template renders as Qwen2.5-VL Instruct's; bad arguments give one error line
# and exit status 2.
set -euo pipefail
: "${VLMSLIM_MKMODEL:?}" "${VS_TEST_TMP:?}"
mkdir -p "$VS_TEST_TMP"
tmp=$(mktemp -d "$VS_TEST_TMP/mkmodel_qwen2_5_vl.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mk=$VLMSLIM_MKMODEL
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
digest() { "$mk" "$@" --verbose | sed -n 's/.*, digest \([0-9a-f]*\)$/\1/p'; }
fam=(--family qwen2_5_vl)

# determinism: same arguments -> the same bytes; the digest ignores the file layout
d1=$(digest "${fam[@]}" --out "$tmp/a")
d2=$(digest "${fam[@]}" --out "$tmp/b")
[ -n "$d1" ] && [ "$d1" = "$d2" ] || fail "digest not stable: '$d1' vs '$d2'"
for f in "$tmp"/a/*; do cmp -s "$f" "$tmp/b/$(basename "$f")" || fail "$(basename "$f") differs between two runs"; done
d3=$(digest "${fam[@]}" --out "$tmp/c" --shards 3)
[ "$d1" = "$d3" ] || fail "digest depends on --shards: $d1 vs $d3"
d4=$(digest "${fam[@]}" --out "$tmp/d" --seed 7)
[ "$d1" != "$d4" ] || fail "--seed 7 gives the same weights as --seed 0"
[ "$(cat "$tmp/a/config.json")" = "$(cat "$tmp/d/config.json")" ] || fail "config.json depends on --seed"
d5=$(digest "${fam[@]}" --out "$tmp/n" --layout new)
[ -n "$d5" ] && [ "$d1" != "$d5" ] || fail "--layout new gives the published layout's weights"
"$mk" "${fam[@]}" --out "$tmp/a" --verbose | grep -q ": qwen2_5_vl, 81 tensors, 804736 bytes of BF16 weights in 1 file(s)," \
  || fail "--verbose: $("$mk" "${fam[@]}" --out "$tmp/a" --verbose)"
# the same family table entry for the Qwen3-VL families: the three digests differ
dq=$(digest --family qwen3_vl --out "$tmp/q3")
[ -n "$dq" ] && [ "$dq" != "$d1" ] || fail "qwen3_vl and qwen2_5_vl give the same digest"

# files
[ "$(cd "$tmp/a" && ls | tr '\n' ' ')" = "README.md chat_template.json config.json generation_config.json model.safetensors preprocessor_config.json tokenizer.json tokenizer_config.json " ] \
  || fail "file set of a single-file checkpoint: $(ls "$tmp/a")"
[ "$(cd "$tmp/c" && ls model* | tr '\n' ' ')" = "model-00001-of-00003.safetensors model-00002-of-00003.safetensors model-00003-of-00003.safetensors model.safetensors.index.json " ] \
  || fail "file set of --shards 3: $(ls "$tmp/c")"
grep -q '^# Synthetic Qwen2.5-VL checkpoint$' "$tmp/a/README.md" || fail "README.md title"
grep -q '"model_type": "qwen2_5_vl"' "$tmp/a/config.json" || fail "config.json model_type"
grep -q '"Qwen2_5_VLForConditionalGeneration"' "$tmp/a/config.json" || fail "config.json architectures"
grep -q '"text_config"' "$tmp/a/config.json" && fail "published layout has a text_config"
grep -q '"model_type": "qwen2_5_vl_text"' "$tmp/n/config.json" || fail "--layout new: text_config.model_type"
# the tokenizer's added tokens take the last 26 ids of the small vocabulary; config.json follows
grep -q '"vision_token_id": 305,' "$tmp/a/config.json" && grep -q '"image_token_id": 306,' "$tmp/a/config.json" \
  || fail "config.json vision / image token ids"
# mrope_section: [t, h, h], h = floor(3/8 * head_dim/2): [2, 3, 3] for the tiny 16, [16, 24, 24] for 128
mrope() { "${VS_PYTHON:-python3}" -c 'import json, sys; c = json.load(open(sys.argv[1])); print(c.get("text_config", c)["rope_scaling"]["mrope_section"])' "$1/config.json"; }
[ "$(mrope "$tmp/a")" = "[2, 3, 3]" ] || fail "tiny mrope_section $(mrope "$tmp/a")"
"$mk" "${fam[@]}" --out "$tmp/h128" --hidden 256 --heads 2 --kv-heads 1 --layers 1 --vision-depth 1 --fullatt 0
[ "$(mrope "$tmp/h128")" = "[16, 24, 24]" ] || fail "head_dim 128 mrope_section $(mrope "$tmp/h128")"
"$mk" "${fam[@]}" --out "$tmp/h80" --hidden 160 --heads 2 --kv-heads 2 --layers 1 --vision-depth 1 --fullatt ""
[ "$(mrope "$tmp/h80")" = "[10, 15, 15]" ] || fail "head_dim 80 mrope_section $(mrope "$tmp/h80")"
grep -q '"fullatt_block_indexes": \[\]' "$tmp/h80/config.json" || fail "--fullatt '': fullatt_block_indexes"
size=$(stat -c %s "$tmp/a/model.safetensors")
[ "$size" -gt 100000 ] && [ "$size" -lt 1000000 ] || fail "tiny preset is $size bytes"

# the chat template: upstream's text (docs/qwen2_5_vl_chat_template.jinja), which renders (Jinja2 as
# transformers configures it) what the Qwen2.5-VL golden cases expect
"${VS_PYTHON:-python3}" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["chat_template"] != open(sys.argv[2]).read())' \
  "$tmp/a/chat_template.json" docs/qwen2_5_vl_chat_template.jinja \
  || fail "chat_template.json is not docs/qwen2_5_vl_chat_template.jinja"
if [ -n "${VS_PYTHON:-}" ] && "$VS_PYTHON" -c 'import jinja2' 2>/dev/null; then
  "$VS_PYTHON" - "$tmp/a/chat_template.json" <<'EOF' || fail "chat_template.json does not render as the qwen2_5_vl golden cases"
import json, sys
sys.path.insert(0, "tests/golden/chat_template")
import gen_golden_jinja2 as g
template = json.load(open(sys.argv[1]))["chat_template"]
golden = json.load(open("tests/golden/chat_template/golden_jinja2.json"))
cases = [c for c in json.load(open("tests/golden/chat_template/cases.json"))["cases"] if c.get("template") == "qwen2_5_vl"]
assert cases
bad = 0
for c in cases:
    v = {"messages": c["messages"], "tools": None, "documents": None,
         "add_generation_prompt": c["add_generation_prompt"], **c.get("extra", {})}
    if g.environment().from_string(template).render(**v) != golden[c["name"]]["out"]:
        print("chat template: case %s renders differently" % c["name"])
        bad += 1
sys.exit(1 if bad else 0)
EOF
else
  echo "note: ${VS_PYTHON:-python3} without jinja2: chat template rendering not checked"
fi

# an earlier output is replaced, whatever its family
"$mk" "${fam[@]}" --out "$tmp/q3"
grep -q '"model_type": "qwen2_5_vl"' "$tmp/q3/config.json" || fail "qwen2_5_vl over a qwen3_vl output"

# errors: exit status 2 and one line "vlmslim-mkmodel: error: ..."
expect_usage() {
  local want=$1 rc=0; shift
  "$mk" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  if [ "$rc" -ne 2 ] || [ "$(wc -l < "$tmp/err")" -ne 1 ] || ! grep -qF "vlmslim-mkmodel: error: $want" "$tmp/err"; then
    fail "mkmodel $* -> rc=$rc, stderr: $(cat "$tmp/err") (want: $want)"
  fi
}
o=(--out "$tmp/e")
expect_usage "--family llama: expected qwen3_vl_moe or qwen3_vl (Qwen3-VL), or qwen2_5_vl (Qwen2.5-VL)" --family llama "${o[@]}"
expect_usage "--layout old: expected published or new" "${fam[@]}" "${o[@]}" --layout old
expect_usage "--layout: not an option of --family qwen3_vl" --family qwen3_vl "${o[@]}" --layout new
expect_usage "--window-size: not an option of --family qwen3_vl_moe" --family qwen3_vl_moe "${o[@]}" --window-size 56
expect_usage "--fullatt: not an option of --family qwen3_vl" --family qwen3_vl "${o[@]}" --fullatt 1
expect_usage "--deepstack: not an option of --family qwen2_5_vl" "${fam[@]}" "${o[@]}" --deepstack 1
expect_usage "--num-position-embeddings: not an option of --family qwen2_5_vl" "${fam[@]}" "${o[@]}" --num-position-embeddings 16
expect_usage "--experts: not an option of --family qwen2_5_vl" "${fam[@]}" "${o[@]}" --experts 4
expect_usage "--head-dim 32: qwen2_5_vl has no head_dim key, it is --hidden / --heads = 16" "${fam[@]}" "${o[@]}" --head-dim 32
expect_usage "--hidden 62 is not a multiple of --heads 4 (head_dim is hidden / heads)" "${fam[@]}" "${o[@]}" --hidden 62
expect_usage "head_dim 9 (--hidden / --heads) must be even" "${fam[@]}" "${o[@]}" --hidden 36
expect_usage "--heads 3 is not a multiple of --kv-heads 2" "${fam[@]}" "${o[@]}" --heads 3
expect_usage "--window-size 50 is not a multiple of 28" "${fam[@]}" "${o[@]}" --window-size 50
expect_usage "--window-size 0: expected an integer in [1, 1048576]" "${fam[@]}" "${o[@]}" --window-size 0
expect_usage "--fullatt 4: not a block index below --vision-depth 4" "${fam[@]}" "${o[@]}" --fullatt 1,4
expect_usage "--fullatt 1,x: 'x' is not an integer in [0, 1048576]" "${fam[@]}" "${o[@]}" --fullatt 1,x
expect_usage "--vision-hidden 30 is not a multiple of --vision-heads 4" "${fam[@]}" "${o[@]}" --vision-hidden 30 --vision-heads 4
expect_usage "--outliers needs --dtype bf16 or f32" "${fam[@]}" "${o[@]}" --outliers --dtype f16
expect_usage "--preset huge: expected tiny or bench" "${fam[@]}" "${o[@]}" --preset huge
[ ! -e "$tmp/e" ] || fail "a usage error created --out"
"$mk" --help | grep -q -- "--family qwen3_vl_moe|qwen3_vl|qwen2_5_vl" || fail "--help"
# --head-dim agreeing with --hidden / --heads is accepted
"$mk" "${fam[@]}" --out "$tmp/hd" --head-dim 16 || fail "--head-dim 16 (= 64 / 4) refused"

if [ -n "${VS_PYTHON:-}" ] && "$VS_PYTHON" -c 'import numpy, yaml' 2>/dev/null; then
  check() { "$VS_PYTHON" tests/reference/check_checkpoint.py "$@" || fail "check_checkpoint.py $*"; }
  # both layouts x tied / untied x bf16 / f32, sharded (and single-file for the first of each layout)
  for layout in published new; do
    for tie in "" --tie; do
      for dtype in bf16 f32; do
        dir="$tmp/m.$layout$tie.$dtype"
        "$mk" "${fam[@]}" --out "$dir" --layout "$layout" $tie --dtype "$dtype" --shards 3
        check "$dir" --shards 3
      done
    done
    "$mk" "${fam[@]}" --out "$tmp/s.$layout" --layout "$layout"
    check "$tmp/s.$layout"
  done
  check "$tmp/a"
  check "$tmp/d"
  check "$tmp/h128"
  check "$tmp/h80"
  "$mk" "${fam[@]}" --out "$tmp/v1" --layout new --dtype f16 --quant-config-in-config --vision-depth 2 --fullatt "" \
    --window-size 112 --layers 3 --heads 8 --kv-heads 8 --hidden 128 --shards 2
  check "$tmp/v1" --shards 2
  [ "$(grep -c '"quantization_config"' "$tmp/v1/config.json")" -eq 2 ] || fail "--layout new --quant-config-in-config: two quantization_config"
  "$mk" "${fam[@]}" --out "$tmp/v2" --vocab 64 --tie   # no tokenizer: Qwen's real ids
  check "$tmp/v2"
  grep -q '"vision_token_id": 151654,' "$tmp/v2/config.json" || fail "--vocab 64: vision_token_id"

  # the checker is not vacuous: it rejects a wrong rope_scaling, a missing tensor and a stray one
  "$mk" "${fam[@]}" --out "$tmp/bad1"
  "$VS_PYTHON" -c 'import json, sys; p = sys.argv[1] + "/config.json"; c = json.load(open(p)); c["rope_scaling"]["type"] = "default"; json.dump(c, open(p, "w"), indent=2)' "$tmp/bad1"
  "$VS_PYTHON" tests/reference/check_checkpoint.py "$tmp/bad1" 2>/dev/null && fail "check_checkpoint.py accepts rope_scaling type default in the published layout"
  "$mk" "${fam[@]}" --out "$tmp/bad2" --layout new --vision-depth 3 --fullatt 1
  "$VS_PYTHON" -c 'import json, sys; p = sys.argv[1] + "/config.json"; c = json.load(open(p)); c["vision_config"]["depth"] = 4; json.dump(c, open(p, "w"), indent=2, sort_keys=True)' "$tmp/bad2"
  "$VS_PYTHON" tests/reference/check_checkpoint.py "$tmp/bad2" 2>/dev/null && fail "check_checkpoint.py accepts a missing vision block"
  "$VS_PYTHON" -c 'import json, sys; p = sys.argv[1] + "/config.json"; c = json.load(open(p)); c["vision_config"]["depth"] = 2; json.dump(c, open(p, "w"), indent=2, sort_keys=True)' "$tmp/bad2"
  "$VS_PYTHON" tests/reference/check_checkpoint.py "$tmp/bad2" 2>/dev/null && fail "check_checkpoint.py accepts an extra vision block"

  # --outliers: the norms that feed only Linears (vision norm1 / norm2, input_layernorm,
  # post_attention_layernorm, the final norm when lm_head is untied) have channels c % 16 == 5
  # times 64, the input columns of the Linears they feed (qkv, vision and text gate/up, q/k/v,
  # lm_head) divided by 64; nothing else changes (the merger's ln_q is regrouped 2x2 before mlp.0,
  # and is left alone as Qwen3-VL's merger norm is)
  for layout in published new; do
    for tie in "" --tie; do
      "$mk" "${fam[@]}" --out "$tmp/o.plain" --layout "$layout" $tie --dtype f32
      "$mk" "${fam[@]}" --out "$tmp/o.out" --layout "$layout" $tie --dtype f32 --outliers
      "$VS_PYTHON" - "$tmp/o.plain" "$tmp/o.out" "$layout" "$tie" <<'EOF' || fail "--outliers ($layout $tie)"
import sys
import numpy as np
sys.path.insert(0, "tests/reference")
import safetensors_np as st
plain, out = (st.load_checkpoint(d)[0] for d in sys.argv[1:3])
txt = "model." if sys.argv[3] == "published" else "model.language_model."
tied = sys.argv[4] == "--tie"
norms = (".norm1.weight", ".norm2.weight", ".input_layernorm.weight", ".post_attention_layernorm.weight")
readers = (".attn.qkv.weight", ".mlp.gate_proj.weight", ".mlp.up_proj.weight", ".self_attn.q_proj.weight",
           ".self_attn.k_proj.weight", ".self_attn.v_proj.weight")
assert sorted(plain) == sorted(out)
bad, planted = [], 0
for name in plain:
    x, y = plain[name].to_f32(), out[name].to_f32()
    want = x.copy()
    cols = np.arange(x.shape[-1]) % 16 == 5
    if name.endswith(norms) or (name == txt + "norm.weight" and not tied):
        want[..., cols] *= 64
        planted += 1
    elif name.endswith(readers) or (name == "lm_head.weight"):
        want[..., cols] /= 64
        planted += 1
    if not np.array_equal(want, y):
        bad.append(name)
print("outliers: %d tensors planted, %d differ from the rule%s" % (planted, len(bad), (": %s" % bad[:4]) if bad else ""))
sys.exit(1 if bad or not planted else 0)
EOF
    done
  done
else
  echo "note: ${VS_PYTHON:-python3} without numpy/PyYAML: check_checkpoint.py skipped"
fi

if [ "$failures" -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "all vlmslim-mkmodel --family qwen2_5_vl checks passed"
