#!/usr/bin/env bash
# The OpenBLAS kernel set the tests and the golden scripts pin (OPENBLAS_CORETYPE). Run, it prints
# the set's name, or nothing where this CPU cannot run it (tests/CMakeLists.txt); sourced, it
# exports OPENBLAS_CORETYPE, or warns (the golden scripts).
#
# OpenBLAS picks its kernels by CPU model (Haswell, SkylakeX, Cooperlake, Zen...), and each sums a
# dot product in its own order. vlmslim and the PyTorch reference share Debian's OpenBLAS, so on one
# machine they agree bit for bit; across kernel sets a float32 sum moves in its last bits, and in a
# few golden cases that flips a rounding sitting at a near tie (a float16 bias one step apart, a
# quant_bias a few units apart, a quantized activation one step, moving a later scale by 1e-3). The
# committed goldens reproduce bit for bit with the Haswell kernels (AVX2 + FMA), which every x86-64
# machine of the last decade runs, AVX-512 ones included: pinned to them, they all agree.
# Elsewhere the comparisons' own tolerances are all there is, and those few cases may differ.
vs_blas_core() {
  local flags f
  flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null) || return 0
  for f in avx2 fma; do
    [[ " ${flags#*:} " == *" $f "* ]] || return 0
  done
  echo Haswell
}
vs_blas_core_name=$(vs_blas_core)
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  [ -z "$vs_blas_core_name" ] || echo "$vs_blas_core_name"
elif [ -n "$vs_blas_core_name" ]; then
  export OPENBLAS_CORETYPE=$vs_blas_core_name
else
  echo "warning: this CPU cannot run the OpenBLAS kernels the goldens reproduce with (tests/blas_core.sh)" >&2
fi
