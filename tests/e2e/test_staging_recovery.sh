#!/usr/bin/env bash
# The staging directory an export is assembled in (`.<name>.vlmslim-tmp-XXXXXX` beside
# --save_path) is owned by its run through a lock file inside it: a run killed with SIGKILL leaves
# it behind, and the next run to the same --save_path removes it, saying so; a directory a live run
# holds is never touched, and a second run to that --save_path refuses at once.
set -euo pipefail
: "${VLMSLIM:?}" "${VLMSLIM_MKMODEL:?}" "${VLMSLIM_MKCALIB:?}" "${VS_TEST_TMP:?}"
mkdir -p "$VS_TEST_TMP"
tmp=$(mktemp -d "$VS_TEST_TMP/staging.XXXXXX")
holder= pid=
cleanup() {
  [ -n "$holder" ] && kill "$holder" 2>/dev/null || true
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

model="$tmp/Qwen3-VL-MoE-tiny"
"$VLMSLIM_MKMODEL" --family qwen3_vl_moe --preset tiny --dtype f32 --head-dim 32 --out "$model" >/dev/null
# The quick start's best practice; 64 images make a run long enough to be caught while it works.
"$VLMSLIM_MKCALIB" --out "$tmp/lab_calib/calibImages" --images 64 >/dev/null
export VLMSLIM_LAB_CALIB_DIR="$tmp/lab_calib"
run=(--model_path "$model" --model_type Qwen3-VL-30B-A3B --quant_type w8a8 --quiet) # the quick start's run
quant() { "$VLMSLIM" quant "${run[@]}" --save_path "$1"; }
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# wait_for GLOB: polls (up to 60 s) until a path matches.
wait_for() {
  for _ in $(seq 6000); do compgen -G "$1" >/dev/null && return 0; sleep 0.01; done
  return 1
}
# export_complete DIR: every file a finished export has, and no lock file of its staging.
export_complete() {
  [ -f "$1/quant_model_description.json" ] && compgen -G "$1/quant_model_weights*.safetensors" >/dev/null \
    && [ -f "$1/Qwen3-VL-30B-A3B_best_practice.yaml" ] && [ -f "$1/config.json" ] \
    && ! ls -A "$1" | grep -q lock
}

# (a) kill -9 while running, then run again.
mkdir "$tmp/a"
"$VLMSLIM" quant "${run[@]}" --save_path "$tmp/a/out" >/dev/null 2>"$tmp/a.stderr" & pid=$!
if ! wait_for "$tmp/a/.out.vlmslim-tmp-*"; then fail "(a) no staging directory appeared"; fi
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true; pid=
stale=$(compgen -G "$tmp/a/.out.vlmslim-tmp-*" || true)
if [ -z "$stale" ] || [ -e "$tmp/a/out" ]; then
  fail "(a) the killed run left no staging directory (or finished first): $(ls -A "$tmp/a")"
else
  rc=0; quant "$tmp/a/out" >/dev/null 2>"$tmp/a2.stderr" || rc=$?
  line=$(grep -F "$stale" "$tmp/a2.stderr" || true)
  if [ "$rc" -ne 0 ]; then fail "(a) the second run failed (rc=$rc)"; cat "$tmp/a2.stderr"; fi
  if [ "$(printf '%s\n' "$line" | grep -c .)" -ne 1 ] || [[ "$line" != *"left by an interrupted run"* ]]; then
    fail "(a) expected one stderr line naming $stale as left by an interrupted run, got:"; cat "$tmp/a2.stderr"
  fi
  [ -e "$stale" ] && fail "(a) the stale staging directory $stale is still there"
  export_complete "$tmp/a/out" || fail "(a) the export is incomplete: $(ls -A "$tmp/a/out" 2>&1)"
  left=$(ls -A "$tmp/a" | grep -v -x -e out -e out.quant_report.json || true)
  [ -n "$left" ] && fail "(a) left beside the export: $left"
fi

# (b) a staging directory whose lock another process holds is a live run's: a run to the same
# --save_path refuses at once, naming it, and leaves it alone.
mkdir -p "$tmp/b/.out.vlmslim-tmp-AbC123"
echo partial > "$tmp/b/.out.vlmslim-tmp-AbC123/quant_model_weights.safetensors"
live="$tmp/b/.out.vlmslim-tmp-AbC123"
(exec 9>"$live/.vlmslim-lock"; flock 9; touch "$tmp/b.locked"; exec sleep 120) & holder=$!
wait_for "$tmp/b.locked" || fail "(b) flock did not take the lock"
rc=0; timeout 60 "$VLMSLIM" quant "${run[@]}" --save_path "$tmp/b/out" >/dev/null 2>"$tmp/b.stderr" || rc=$?
err=$(grep '^vlmslim: error:' "$tmp/b.stderr" || true)
want="--save_path $tmp/b/out: another vlmslim run is writing it (its staging directory $live is locked); wait for it to finish or choose another path"
if [ "$rc" -ne 2 ] || [ "$err" != "vlmslim: error: $want" ]; then
  fail "(b) rc=$rc (want 2), stderr:"; cat "$tmp/b.stderr"; echo "      want: $want"
fi
[ "$(cat "$live/quant_model_weights.safetensors" 2>/dev/null)" = partial ] || fail "(b) the live run's directory was touched"
left=$(ls -A "$tmp/b" | grep -v -x -e .out.vlmslim-tmp-AbC123 || true)
[ -n "$left" ] && fail "(b) the refused run left: $left"
# Once its holder is gone the directory is stale and the next run reclaims it.
kill "$holder"; wait "$holder" 2>/dev/null || true; holder=
rc=0; quant "$tmp/b/out" >/dev/null 2>"$tmp/b2.stderr" || rc=$?
if [ "$rc" -ne 0 ] || [ -e "$live" ] || ! grep -qF "$live" "$tmp/b2.stderr" || ! export_complete "$tmp/b/out"; then
  fail "(b) after the holder ended: rc=$rc, $(ls -A "$tmp/b"), stderr:"; cat "$tmp/b2.stderr"
fi

# (c) two real runs to one --save_path: the second, started while the first works (stopped, so
# that it cannot finish first), refuses; the first then completes.
mkdir "$tmp/c"
"$VLMSLIM" quant "${run[@]}" --save_path "$tmp/c/out" >/dev/null 2>"$tmp/c1.stderr" & pid=$!
# its lock file is made, and the lock on the name it claims under released
if wait_for "$tmp/c/.out.vlmslim-tmp-*/.vlmslim-lock"; then
  kill -STOP "$pid"
  for _ in $(seq 1000); do
    [ -e "$tmp/c/.out.vlmslim-lock" ] || break
    kill -CONT "$pid"; sleep 0.001; kill -STOP "$pid"
  done
  first=$(compgen -G "$tmp/c/.out.vlmslim-tmp-*")
  rc=0; timeout 60 "$VLMSLIM" quant "${run[@]}" --save_path "$tmp/c/out" >/dev/null 2>"$tmp/c2.stderr" || rc=$?
  if [ "$rc" -ne 2 ] || ! grep -qF "its staging directory $first is locked" "$tmp/c2.stderr"; then
    fail "(c) the second run: rc=$rc, stderr:"; cat "$tmp/c2.stderr"
  fi
  [ -d "$first" ] || fail "(c) the second run removed the first's directory"
  kill -CONT "$pid"
else
  fail "(c) the first run made no locked staging directory"
fi
rc=0; wait "$pid" || rc=$?; pid=
if [ "$rc" -ne 0 ] || ! export_complete "$tmp/c/out"; then fail "(c) the first run: rc=$rc"; cat "$tmp/c1.stderr"; fi

# (d) inspect-inputs --dump stages the same way: refused while a live run holds the staging
# directory of the same --dump, reclaimed once it is stale.
mkdir -p "$tmp/d/.dump.vlmslim-tmp-XyZ789"
live="$tmp/d/.dump.vlmslim-tmp-XyZ789"
(exec 9>"$live/.vlmslim-lock"; flock 9; touch "$tmp/d.locked"; exec sleep 120) & holder=$!
wait_for "$tmp/d.locked" || fail "(d) flock did not take the lock"
inspect=(inspect-inputs --model_path "$model" --dataset "$tmp/lab_calib/calibImages" --dump "$tmp/d/dump")
rc=0; timeout 60 "$VLMSLIM" "${inspect[@]}" >/dev/null 2>"$tmp/d.stderr" || rc=$?
want="vlmslim: error: --dump $tmp/d/dump: another vlmslim run is writing it (its staging directory $live is locked); wait for it to finish or choose another path"
if [ "$rc" -ne 2 ] || [ "$(grep '^vlmslim: error:' "$tmp/d.stderr")" != "$want" ] || [ ! -d "$live" ] \
   || [ "$(ls -A "$tmp/d")" != .dump.vlmslim-tmp-XyZ789 ]; then
  fail "(d) inspect-inputs with a live staging: rc=$rc, $(ls -A "$tmp/d"), stderr:"; cat "$tmp/d.stderr"
fi
kill "$holder"; wait "$holder" 2>/dev/null || true; holder=
rc=0; "$VLMSLIM" "${inspect[@]}" >/dev/null 2>"$tmp/d2.stderr" || rc=$?
if [ "$rc" -ne 0 ] || [ "$(ls -A "$tmp/d")" != dump ] || [ ! -f "$tmp/d/dump/sample_0.safetensors" ] \
   || ls -A "$tmp/d/dump" | grep -q lock || ! grep -q "removed $live: a staging directory left by an interrupted run" "$tmp/d2.stderr"; then
  fail "(d) inspect-inputs after the holder ended: rc=$rc, $(ls -A "$tmp/d"), stderr:"; cat "$tmp/d2.stderr"
fi

if [ "$failures" -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "staging directories: stale ones reclaimed, live ones respected"
