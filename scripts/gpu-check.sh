#!/usr/bin/env bash
# The GPU suite, for a machine with an NVIDIA GPU (sm_90 by default), as stages, most
# important first: the CUDA build (from what scripts/stage-gpu-deps.sh put in .deps/),
# every test, compute-sanitizer on the CUDA suites, a Fashion-MNIST RigL run, the kernel
# and training-step benchmarks, a short run of every config, a dense run and the PyTorch
# masked baseline. Each stage has an estimate (seconds on 16 cores and an H200); a stage
# runs only while its estimate fits what is left of the budget, and otherwise says why
# it did not. A stage that needs a GPU says so when none is present.
#
#   scripts/gpu-check.sh [--plan] [--budget S] [--only a,b] [--skip a,b]
#     --plan      print the stages that fit the budget, with their estimates, and exit
#     --budget S  seconds for the whole run (default GPU_CHECK_BUDGET_S or 540: fits a
#                 10-minute command with the build)
#     --only/--skip  stage names (see --plan)
#   GPU_CHECK_BUILD_DIR=dir  use an already built tree (the build stage only logs it)
#   GPU_CHECK_SANITIZER=path  compute-sanitizer to use; GPU_CHECK_RUN_LIMIT_S caps each
#   command's seconds; GPU_CHECK_FORCE_GPU=1 / 0 runs the GPU stages / skips them whatever
#   nvidia-smi says (to test this script); OUT (default out/gpu-check).
#
# Results land in $OUT (at most 8 files come back from the device machine):
# results.json, progress.log, build.log, ctest.log, sanitizer.log, train.log, bench.txt,
# configs.log.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# name estimate_s needs_gpu description
STAGES=(
  "build 150 0 configure and build with CUDA"
  "ctest 120 0 every test, the GPU ones included"
  "sanitizer 120 1 compute-sanitizer memcheck, kernel suites first, one filter per run"
  "rigl 60 1 Fashion-MNIST RigL on the GPU"
  "kernels 60 1 kernel benchmarks: spmm, sddmm, sparse_linear, topology"
  "step 120 1 training-step benchmarks and the ResNet-50 memory report"
  "configs 90 1 a short run of every config"
  "dense 60 1 dense Fashion-MNIST MLP on the GPU"
  "peer 120 1 the PyTorch masked baseline beside sprout"
)
COLLECT_S=20  # kept back for the collection at the end

plan_only=0
budget=${GPU_CHECK_BUDGET_S:-540}
only=""
skip=""
while [ $# -gt 0 ]; do
  case "$1" in
    --plan) plan_only=1 ;;
    --budget) budget=${2:?--budget needs seconds}; shift ;;
    --only) only=${2:?--only needs stage names}; shift ;;
    --skip) skip=${2:?--skip needs stage names}; shift ;;
    *) echo "error: gpu-check: unknown argument '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done
case "$budget" in ''|*[!0-9]*) echo "error: gpu-check: --budget must be whole seconds, got '$budget'" >&2; exit 2 ;; esac

selected() {  # $1: stage name
  [ -n "$only" ] && [[ ",$only," != *",$1,"* ]] && return 1
  [[ ",$skip," == *",$1,"* ]] && return 1
  return 0
}

if [ "$plan_only" = 1 ]; then
  at=0
  printf "%-10s %9s %9s  %s\n" stage "estimate" "starts at" "plan (budget ${budget}s, ${COLLECT_S}s kept for the collection)"
  for s in "${STAGES[@]}"; do
    read -r name est gpu desc <<<"$s"
    if ! selected "$name"; then printf "%-10s %8ss %9s  not selected: %s\n" "$name" "$est" "-" "$desc"; continue; fi
    if [ $((at + est)) -le $((budget - COLLECT_S)) ]; then
      printf "%-10s %8ss %8ss  runs: %s\n" "$name" "$est" "$at" "$desc"
      at=$((at + est))
    else
      printf "%-10s %8ss %9s  skipped, over budget: %s\n" "$name" "$est" "-" "$desc"
    fi
  done
  printf "%-10s %8ss %8ss  collect results.json\n" collect "$COLLECT_S" "$at"
  echo "planned: $((at + COLLECT_S))s of ${budget}s"
  exit 0
fi

OUT=${OUT:-out/gpu-check}
mkdir -p "$OUT"
: >"$OUT/progress.log"
deps=$PWD/.deps
arch=${SPROUT_CUDA_ARCHITECTURES:-90}
build=${GPU_CHECK_BUILD_DIR:-build-gpu}
bin=$build/bin
log() { echo "$*" | tee -a "$OUT/progress.log"; }
# Seconds a command may take: its own limit (capped by GPU_CHECK_RUN_LIMIT_S), or what
# is left before the collection.
limit() {
  local left=$((budget - COLLECT_S - SECONDS)) own=$1
  [ -n "${GPU_CHECK_RUN_LIMIT_S:-}" ] && [ "$GPU_CHECK_RUN_LIMIT_S" -lt "$own" ] && own=$GPU_CHECK_RUN_LIMIT_S
  [ "$left" -lt "$own" ] && echo "$left" || echo "$own"
}
# True when at least $1 seconds are left; otherwise logs the skip of $2.
fits() {
  [ "$((budget - COLLECT_S - SECONDS))" -ge "$1" ] && return 0
  log "   skipped: $2 needs ${1}s, $((budget - COLLECT_S - SECONDS))s left"
  return 1
}
# True while the current stage is inside its estimate; otherwise logs the skip of $1.
in_stage_time() {
  [ "$SECONDS" -lt "$stage_deadline" ] && return 0
  log "   skipped: $1 (the stage's ${est}s are used up)"
  return 1
}
have_gpu=0
case "${GPU_CHECK_FORCE_GPU:-}" in
  1) have_gpu=1 ;;
  0) ;;
  *) nvidia-smi -L 2>/dev/null | grep -q "^GPU " && have_gpu=1 ;;
esac

source scripts/gpu-check-stages.sh

declare -A status
for s in "${STAGES[@]}"; do
  read -r name est gpu desc <<<"$s"
  log "== $(date +%T) +${SECONDS}s $name: $desc"
  if ! selected "$name"; then status[$name]="not selected"; log "   not selected"; continue; fi
  if [ "$gpu" = 1 ] && [ "$have_gpu" = 0 ]; then
    status[$name]="no GPU"; log "   skipped: no GPU device present (nvidia-smi lists none)"; continue
  fi
  if [ $((budget - COLLECT_S - SECONDS)) -lt "$est" ]; then
    status[$name]="over budget"; log "   skipped: needs ~${est}s, $((budget - COLLECT_S - SECONDS))s left"; continue
  fi
  [ "$name" = build ] || [ -n "${data:-}" ] || prepare_data
  stage_deadline=$((SECONDS + est))  # stages made of many runs stop starting new ones after it
  "stage_$name"
  rc=$?
  status[$name]=$([ "$rc" = 0 ] && echo ok || echo "failed ($rc)")
  log "   $name: ${status[$name]} after $((SECONDS))s"
  if [ "$name" = build ] && [ "$rc" != 0 ]; then log "error: the CUDA build failed (see build.log)"; break; fi
done

log "== $(date +%T) +${SECONDS}s collect"
stage_summary=""
for s in "${STAGES[@]}"; do
  read -r name _ <<<"$s"
  stage_summary+="$name=${status[$name]:-not reached};"
done
python3 scripts/gpu_check_collect.py "$OUT" "$stage_summary" "$have_gpu"
# Keep what comes back to the listed files.
rm -rf "$OUT/rigl" "$OUT/dense" "$OUT"/bench_*.json "$OUT"/memory_resnet50.json "$OUT"/peer.jsonl
cat "$OUT"/bench_*.txt >"$OUT/bench.txt" 2>/dev/null; rm -f "$OUT"/bench_*.txt "$OUT"/gpu.txt "$OUT"/peer.err
ls -la "$OUT"
# The exit code: the build and the tests; the other stages report in results.json.
[[ "${status[build]:-} ${status[ctest]:-}" != *failed* ]]
