# Helpers shared by the end-to-end scripts (sourced; not a test of its own).

# vs_expect_error NAME MESSAGE ABSENT CMD...: CMD must exit with status 1 ($VS_EXPECT_RC when
# set, e.g. 2 for a usage error) and print exactly one
# "vlmslim: error:" line, containing MESSAGE, and the path ABSENT (empty: none) must not exist
# afterwards (no partial output). Prints "ok: NAME: <the line>" or "FAIL: ..." and returns 1 on
# failure.
vs_expect_error() {
  local name=$1 msg=$2 absent=$3 want=${VS_EXPECT_RC:-1} rc=0 err errf
  shift 3
  errf=$(mktemp)
  "$@" >/dev/null 2>"$errf" || rc=$?
  err=$(grep '^vlmslim: error:' "$errf" || true)
  if [ "$rc" -ne "$want" ] || [ "$(printf '%s\n' "$err" | grep -c .)" -ne 1 ] || [[ "$err" != *"$msg"* ]]; then
    echo "FAIL: $name: rc=$rc: $(cat "$errf")"
    echo "      expected one error line containing: $msg"
    rm -f "$errf"
    return 1
  fi
  rm -f "$errf"
  if [ -n "$absent" ] && [ -e "$absent" ]; then
    echo "FAIL: $name: $absent left behind"
    return 1
  fi
  echo "ok: $name: $err"
}
