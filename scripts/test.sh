#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite with ctest.
# --sanitize: the suite instead runs from a CPU build under AddressSanitizer and
# UndefinedBehaviorSanitizer in build-asan/, where any finding fails its test. Further
# arguments go to ctest (e.g. -L data to run one test binary's cases).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
sanitize=0
if [ "${1:-}" = "--sanitize" ]; then
  sanitize=1
  shift
fi
if [ $sanitize = 0 ]; then
  source scripts/setup.sh
  cd build
  ctest --output-on-failure -j "$(nproc)" "$@"
  exit
fi

# clang at -O1 with line tables: a third of gcc -O3's compile time under the sanitizers,
# and stacks that name the line.
source scripts/setup-clang.sh
cmake -S . -B build-asan "${SPROUT_CLANG_ARGS[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" -DSPROUT_SANITIZE=address,undefined >/dev/null
ninja -C build-asan -j "$(nproc)"
cd build-asan
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
ctest --output-on-failure -j "$(nproc)" "$@"
