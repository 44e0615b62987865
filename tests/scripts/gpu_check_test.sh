#!/usr/bin/env bash
# scripts/gpu-check.sh without a GPU: the plan for a budget, argument errors, every GPU
# stage saying that no device is present, and the sanitizer stage's bookkeeping (clean,
# errors, timeout, unsupported device, nothing found) through a stand-in
# compute-sanitizer. Usage: gpu_check_test.sh BUILD_DIR (an already built tree).
set -uo pipefail
build=$(cd "${1:?usage: gpu_check_test.sh BUILD_DIR}" && pwd)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
check=$root/scripts/gpu-check.sh
source "$root/tests/scripts/expect.sh"
has() { grep -qE -- "$2" "$1"; }

# The default plan fits 540 s with the build, ctest and the sanitizer in it.
"$check" --plan >"$tmp/plan.txt"
expect "plan exits 0" test $? = 0
for s in build ctest sanitizer; do expect "plan runs $s" has "$tmp/plan.txt" "^$s .* runs:"; done
planned=$(grep -oE "^planned: [0-9]+" "$tmp/plan.txt" | grep -oE "[0-9]+")
expect "plan fits 540 s (planned ${planned:-?})" test "${planned:-999}" -le 540
"$check" --plan --budget 200 >"$tmp/plan200.txt"
expect "a 200 s plan drops the sanitizer" has "$tmp/plan200.txt" "^sanitizer .* skipped, over budget"
expect "a 200 s plan keeps the build" has "$tmp/plan200.txt" "^build .* runs:"

# Bad arguments: one error line, exit 2.
"$check" --budget soon >"$tmp/bad.txt" 2>&1
expect "a bad budget exits 2" test $? = 2
expect "a bad budget says error:" has "$tmp/bad.txt" "^error: gpu-check: --budget"

# No GPU: every GPU stage says so, the configure line is logged, results.json is written.
OUT=$tmp/nogpu GPU_CHECK_BUILD_DIR=$build GPU_CHECK_FORCE_GPU=0 "$check" --skip ctest --budget 200 >"$tmp/nogpu.txt" 2>&1
expect "a run without a GPU exits 0" test $? = 0
expect "7 stages skipped for no GPU" test "$(grep -c 'skipped: no GPU device present' "$tmp/nogpu/progress.log")" = 7
expect "ctest not selected" has "$tmp/nogpu/progress.log" "not selected"
expect "configure line logged" has "$tmp/nogpu/progress.log" "configure: sprout: CUDA="
expect "results.json says no GPU" python3 -c 'import json, sys; r = json.load(open(sys.argv[1]));
gpu = ("sanitizer", "rigl", "kernels", "step", "configs", "dense", "peer")
assert r["gpu_present"] is False and r["stages"]["ctest"] == "not selected", r
assert all(r["stages"][s] == "no GPU" for s in gpu) and r["stages"]["build"] == "ok", r["stages"]' \
  "$tmp/nogpu/results.json"

# The sanitizer stage through a stand-in: one outcome per filter, the rest clean.
fake=$tmp/compute-sanitizer
cat >"$fake" <<'EOF'
#!/usr/bin/env bash
# Stand-in for compute-sanitizer: --tool memcheck --error-exitcode 3 BINARY --gtest_filter=F
bin=$5; filter=${6#--gtest_filter=}
case "$(basename "$bin") $filter" in
  "test_engine_ops CudaParity.*") echo "========= Invalid __global__ write"; echo "========= ERROR SUMMARY: 2 errors"; exit 3 ;;
  "test_engine_ops GateDyReluCudaParity.*") sleep 30 ;;
  "test_engine_ops */cuda") echo "========= Error: Device not supported"; exit 1 ;;
  "test_data "*) echo "[==========] 0 tests from 0 test suites ran."; echo "========= ERROR SUMMARY: 0 errors"; exit 0 ;;
  *) echo "[==========] 3 tests from 1 test suite ran."; echo "========= ERROR SUMMARY: 0 errors"; exit 0 ;;
esac
EOF
chmod +x "$fake"
OUT=$tmp/san GPU_CHECK_BUILD_DIR=$build GPU_CHECK_FORCE_GPU=1 GPU_CHECK_SANITIZER=$fake GPU_CHECK_RUN_LIMIT_S=3 \
  "$check" --only sanitizer --budget 200 >"$tmp/san.txt" 2>&1
expect "sanitizer: kernel suite first and clean" bash -c "grep '^RESULT' '$tmp/san/sanitizer.log' | head -1 | grep -q '^RESULT test_kernels SparseKernels.EveryCuda\* clean'"
expect "sanitizer: errors counted" has "$tmp/san/sanitizer.log" "^RESULT test_engine_ops CudaParity\.\* errors:2 "
expect "sanitizer: timeout apart from errors" has "$tmp/san/sanitizer.log" "^RESULT test_engine_ops GateDyReluCudaParity\.\* timeout "
expect "sanitizer: unsupported device" has "$tmp/san/sanitizer.log" "^RESULT test_engine_ops \*/cuda unsupported-device "
expect "sanitizer: nothing matched is said" has "$tmp/san/sanitizer.log" "^RESULT test_data .* no-tests-matched "
expect "sanitizer: every run reported" test "$(grep -c '^RESULT' "$tmp/san/sanitizer.log")" = 9
expect "sanitizer: stage failed" has "$tmp/san/progress.log" "sanitizer: failed"
expect "sanitizer: in results.json" python3 -c 'import json, sys; r = json.load(open(sys.argv[1]));
assert len(r["sanitizer"]) == 9 and r["sanitizer"][1]["result"] == "errors:2", r["sanitizer"]' "$tmp/san/results.json"

# A sanitizer that is not there is said, not skipped.
OUT=$tmp/nosan GPU_CHECK_BUILD_DIR=$build GPU_CHECK_FORCE_GPU=1 GPU_CHECK_SANITIZER=$tmp/none \
  "$check" --only sanitizer --budget 200 >"$tmp/nosan.txt" 2>&1
expect "missing sanitizer said" has "$tmp/nosan/progress.log" "compute-sanitizer not found .*memcheck did not run"
expect "missing sanitizer fails the stage" has "$tmp/nosan/progress.log" "sanitizer: failed \(2\)"

# A stage that no longer fits the budget says so at run time.
OUT=$tmp/short GPU_CHECK_BUILD_DIR=$build GPU_CHECK_FORCE_GPU=1 GPU_CHECK_SANITIZER=$fake \
  "$check" --only sanitizer --budget 100 >"$tmp/short.txt" 2>&1
expect "over budget said" has "$tmp/short/progress.log" "skipped: needs ~120s, [0-9]+s left"

finish
