#!/usr/bin/env bash
# vlmslim-mkcalib: a deterministic synthetic calibration set that the dataset loader and the
# image processor accept; its usage errors.
set -euo pipefail
: "${VLMSLIM:?}" "${VLMSLIM_MKMODEL:?}" "${VLMSLIM_MKCALIB:?}" "${VS_TEST_TMP:?}"
mkdir -p "$VS_TEST_TMP"
tmp=$(mktemp -d "$VS_TEST_TMP/mkcalib.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

"$VLMSLIM_MKCALIB" --out "$tmp/a"
"$VLMSLIM_MKCALIB" --out "$tmp/b"
"$VLMSLIM_MKCALIB" --out "$tmp/c" --seed 3 --images 6
[ "$(cd "$tmp/a" && ls | tr '\n' ' ')" = "image_00.png image_01.jpg image_02.png image_03.jpg prompts.jsonl " ] \
  || fail "file set: $(ls "$tmp/a")"
for f in "$tmp"/a/*; do cmp -s "$f" "$tmp/b/${f##*/}" || fail "${f##*/} differs between two runs"; done
cmp -s "$tmp/a/image_00.png" "$tmp/c/image_00.png" && fail "--seed 3 gives the same image"
[ "$(wc -l < "$tmp/a/prompts.jsonl")" -eq 3 ] || fail "prompts.jsonl: $(cat "$tmp/a/prompts.jsonl")"
[ "$(wc -l < "$tmp/c/prompts.jsonl")" -eq 5 ] || fail "--images 6: prompts.jsonl"

"$VLMSLIM_MKMODEL" --family qwen3_vl --out "$tmp/model"
"$VLMSLIM" inspect-inputs --model_path "$tmp/model" --dataset "$tmp/a" > "$tmp/out.txt" 2> "$tmp/err.txt" \
  || fail "inspect-inputs on the set: $(cat "$tmp/err.txt")"
[ "$(grep -c '^sample ' "$tmp/out.txt")" -eq 4 ] || fail "inspect-inputs saw $(grep -c '^sample ' "$tmp/out.txt") samples"
grep -q 'image 320x240 -> 320x256, grid 1x16x20' "$tmp/out.txt" || fail "image_00 size line: $(grep -m1 image "$tmp/out.txt")"

expect_usage() {
  local want=$1; shift
  local rc=0
  "$VLMSLIM_MKCALIB" "$@" > /dev/null 2> "$tmp/err.txt" || rc=$?
  [ "$rc" -ne 0 ] && grep -q -- "$want" "$tmp/err.txt" || fail "mkcalib $* -> rc=$rc, stderr: $(cat "$tmp/err.txt") (want: $want)"
}
expect_usage "directory is not empty" --out "$tmp/a"
expect_usage "--images 0: expected 1..64" --out "$tmp/d" --images 0
expect_usage "--seed x" --out "$tmp/d" --seed x
expect_usage "usage:" --images 2

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "mkcalib: deterministic set accepted by the dataset loader and image processor"
