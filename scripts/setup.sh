#!/usr/bin/env bash
# Installs the Debian packages lfm2.cpp needs to build and test (Debian bookworm). Idempotent:
# packages already present are left alone, and nothing runs when all are there.
#
#   scripts/setup.sh          build + test dependencies
#   scripts/setup.sh --fuzz   also clang and its sanitizer runtimes (for the libFuzzer targets)
set -euo pipefail

packages=(
  g++ cmake make pkg-config          # toolchain
  libhwy-dev                         # Highway: SIMD kernels with runtime dispatch
  nlohmann-json3-dev                 # JSON (configs, safetensors headers, tokenizer.json, requests)
  libpcre2-dev                       # Unicode regex for the tokenizer's pre-tokenizer
  libgtest-dev                       # GoogleTest
  python3 python3-numpy              # test references and tools (never at run time)
  python3-jinja2                     # differential test of our Jinja interpreter
  wamerican                          # /usr/share/dict/words: the demo model's English check
)
for arg in "$@"; do
  case "$arg" in
    --fuzz) packages+=(clang libclang-rt-14-dev) ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends "${missing[@]}" </dev/null; then
  $sudo apt-get update -q </dev/null
  $sudo apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
fi
