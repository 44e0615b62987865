#!/usr/bin/env bash
# Installs clang with libFuzzer's runtime and OpenMP, and the packages a CPU build and
# its tests need, when any is missing, the way setup.sh installs its packages; sets
# SPROUT_CLANG_ARGS, the CMake arguments of a clang CPU build. Sourced by fuzz.sh and
# test.sh --sanitize.
SPROUT_CLANG_PACKAGES=(clang-14 libclang-rt-14-dev libomp-14-dev cmake ninja-build nlohmann-json3-dev
                       libcli11-dev libgtest-dev googletest libopenblas-dev libopenblas-openmp-dev zlib1g-dev
                       libturbojpeg0-dev)
missing=()
for p in "${SPROUT_CLANG_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup-clang: missing packages; run as root:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "setup-clang: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
SPROUT_CLANG_ARGS=(-G Ninja -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DSPROUT_CUDA=OFF)
# An `if`, not `&&`: as the last command of a sourced file a failed test would make the
# `source` itself fail, and end the caller under `set -e` without a word.
if command -v ccache >/dev/null; then
  SPROUT_CLANG_ARGS+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
