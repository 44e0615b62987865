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

source scripts/setup-clang.sh
cmake -S . -B build-fuzz "${SPROUT_CLANG_ARGS[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPROUT_FUZZ=ON \
  -DSPROUT_BUILD_TESTS=OFF >/dev/null
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
