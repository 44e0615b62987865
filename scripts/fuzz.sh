#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/) with clang, ASan and UBSan into build-fuzz/ and
# runs each for SECONDS seconds (default 60) from its seed corpus in fuzz/corpus/.
# Prints executions and crashes per harness; exits non-zero when any harness crashed
# (the input is kept in fuzz/crashes/). More arguments name the harnesses to run
# (idx cifar jpeg config checkpoint); default all. New corpus entries stay in
# build-fuzz/corpus/, so later runs start where earlier ones stopped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${1:-60}
shift || true
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
  for f in fuzz/fuzz_*.cpp; do harnesses+=("$(basename "$f" .cpp | sed 's/^fuzz_//')"); done
fi

# Beyond what setup.sh installs, the fuzz build needs clang with its libFuzzer runtime
# and OpenMP; installed the way setup.sh installs its packages.
FUZZ_PACKAGES=(clang-14 libclang-rt-14-dev libomp-14-dev cmake ninja-build nlohmann-json3-dev libcli11-dev
               libopenblas-dev libopenblas-openmp-dev zlib1g-dev libturbojpeg0-dev)
missing=()
for p in "${FUZZ_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "fuzz: missing packages; run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "fuzz: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 \
  -DCMAKE_CXX_COMPILER=clang++-14 -DSPROUT_FUZZ=ON -DSPROUT_CUDA=OFF -DSPROUT_BUILD_TESTS=OFF \
  "${launcher[@]}" >/dev/null
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
ninja -C build-fuzz -j "$(nproc)" "${targets[@]}"

mkdir -p fuzz/crashes build-fuzz/logs
failed=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
for h in "${harnesses[@]}"; do
  log=build-fuzz/logs/$h.log
  mkdir -p "build-fuzz/corpus/$h"
  rc=0
  build-fuzz/bin/fuzz_"$h" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="fuzz/crashes/$h-" "build-fuzz/corpus/$h" "fuzz/corpus/$h" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ "$rc" = 0 ]; then
    echo "fuzz $h: ${execs:-?} executions in ${seconds} s, 0 crashes"
  else
    failed=1
    echo "fuzz $h: ${execs:-?} executions, CRASH (exit $rc); input and log:"
    grep -h "Test unit written to" "$log" || true
    tail -n 60 "$log"
  fi
done
exit $failed
