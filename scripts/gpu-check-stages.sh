# The stages of scripts/gpu-check.sh, one function each (sourced by it: uses its $OUT,
# $bin, $build, $deps, $arch, log, limit, fits and in_stage_time). A stage returns non-zero when what
# it checks failed; it logs every part it could not run and why.

stage_build() {
  if [ -n "${GPU_CHECK_BUILD_DIR:-}" ]; then
    log "   using the existing build in $build (not rebuilt)"
  else
    local args=(-DSPROUT_CUDA=ON -DSPROUT_CUDA_ARCHITECTURES="$arch" -DCMAKE_BUILD_TYPE=Release)
    [ -d "$deps/include" ] && args+=(-DSPROUT_JSON_INCLUDE="$deps/include" -DSPROUT_CLI11_INCLUDE="$deps/include")
    [ -d "$deps/googletest" ] && args+=(-DSPROUT_GTEST_SOURCE="$deps/googletest")
    if ! { cmake -S . -B "$build" -G Ninja "${args[@]}" && ninja -C "$build" -j "$(nproc)"; } >"$OUT/build.log" 2>&1; then
      tail -40 "$OUT/build.log"
      return 1
    fi
    grep -E "warning" "$OUT/build.log" | head -20
  fi
  log "   configure: $(cat "$build/sprout-config.txt" 2>/dev/null || echo "unknown ($build/sprout-config.txt missing)")"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv >"$OUT/gpu.txt" 2>&1
  return 0
}

# Fashion-MNIST for the tests and runs: Debian's files, the staged copy, or plain IDX
# files unpacked beside the build when it has no zlib.
prepare_data() {
  data=/usr/share/datasets/fashion-mnist
  [ -f "$data/train-images-idx3-ubyte.gz" ] || data=$deps/fashion-mnist
  if ! grep -Eq "zlib=(ON|TRUE|1) " "$build/sprout-config.txt" 2>/dev/null && [ -f "$data/train-images-idx3-ubyte.gz" ]; then
    local plain=$PWD/$build/fashion-mnist f
    mkdir -p "$plain"
    for f in "$data"/*.gz; do
      python3 -c 'import gzip, shutil, sys; shutil.copyfileobj(gzip.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
        "$f" "$plain/$(basename "$f" .gz)" || gzip -dc "$f" >"$plain/$(basename "$f" .gz)"
    done
    data=$plain
  fi
  export SPROUT_FASHION_ROOT=$data
}

stage_ctest() {
  (cd "$build" && timeout -k 10 "$(limit 300)" ctest -j 8 --timeout 300 --output-on-failure) >"$OUT/ctest.log" 2>&1
  local rc=$?
  tail -5 "$OUT/ctest.log"
  [ "$rc" = 124 ] && log "   ctest timed out after $(limit 300)s"
  return "$rc"
}

# The memcheck runs, kernel suites first: binary|gtest filter|seconds. CudaSteadyState
# counts device mallocs, which exact-size allocation makes on purpose, so it stays out.
SANITIZER_RUNS=(
  "test_kernels|SparseKernels.EveryCuda*|90"
  "test_engine_ops|CudaParity.*|120"
  "test_engine_ops|GateDyReluCudaParity.*|60"
  "test_engine_ops|*/cuda|120"
  "test_engine_sparse|*/cuda:*Cuda*|60"
  "test_engine_nn|*/cuda:*Cuda*|60"
  "test_data|*/cuda:*Cuda*|60"
  "test_engine_sparsity|CudaMethodParity.*|180"
  "test_engine_ops|SparseConvImplicitCuda.*:GrowCuda.*:BnActCuda.*|90"
)

# compute-sanitizer wherever the toolkit keeps it; empty when there is none.
find_sanitizer() {
  local c
  for c in "${GPU_CHECK_SANITIZER:-}" "$(command -v compute-sanitizer 2>/dev/null)" \
           /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer \
           ${CUDA_HOME:+"$CUDA_HOME/bin/compute-sanitizer" "$CUDA_HOME/compute-sanitizer/compute-sanitizer"}; do
    [ -n "$c" ] && [ -f "$c" ] && [ -x "$c" ] && { echo "$c"; return; }
  done
  [ -n "${GPU_CHECK_SANITIZER:-}" ] && return  # an explicit choice that is missing is not searched around
  find /usr/local /opt -maxdepth 5 -name compute-sanitizer -type f -perm -u+x 2>/dev/null | head -1
}

# One word (and detail) for a memcheck run from its exit code and output.
classify_memcheck() {  # $1: exit code, $2: output file
  local rc=$1 f=$2 errors
  errors=$(grep -oE "ERROR SUMMARY: [0-9]+" "$f" | tail -1 | grep -oE "[0-9]+$")
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then echo "timeout"
  elif grep -qiE "device not supported|not supported on this device" "$f"; then echo "unsupported-device"
  elif [ "$rc" = 3 ] || [ "${errors:-0}" -gt 0 ]; then echo "errors:${errors:-?}"
  elif grep -qE "^\[==========\] 0 tests from" "$f"; then echo "no-tests-matched"
  elif [ "$rc" != 0 ]; then echo "test-failure:rc$rc"
  elif [ -z "$errors" ]; then echo "no-summary"
  else echo "clean"
  fi
}

stage_sanitizer() {
  : >"$OUT/sanitizer.log"
  local san
  san=$(find_sanitizer)
  if [ -z "$san" ]; then
    log "   compute-sanitizer not found (${GPU_CHECK_SANITIZER:-PATH, /usr/local/cuda*, /opt}): memcheck did not run"
    return 2
  fi
  log "   $san, exact-size device allocations (SPROUT_CUDA_ALLOC_EXACT=1)"
  local bad=0 r t filter lim start rc result
  for r in "${SANITIZER_RUNS[@]}"; do
    IFS='|' read -r t filter lim <<<"$r"
    if [ ! -x "$bin/$t" ]; then log "   memcheck $t '$filter': not built"; bad=1; continue; fi
    { in_stage_time "memcheck of $t '$filter'" && fits 15 "memcheck of $t '$filter'"; } || { bad=1; continue; }
    start=$SECONDS
    echo "### $t --gtest_filter=$filter" >>"$OUT/sanitizer.log"
    SPROUT_CUDA_ALLOC_EXACT=1 timeout -k 5 "$(limit "$lim")" "$san" --tool memcheck --error-exitcode 3 \
      "$bin/$t" --gtest_filter="$filter" >"$OUT/sanitizer_run.txt" 2>&1
    rc=$?
    result=$(classify_memcheck "$rc" "$OUT/sanitizer_run.txt")
    cat "$OUT/sanitizer_run.txt" >>"$OUT/sanitizer.log"
    echo "RESULT $t $filter $result $((SECONDS - start))s" >>"$OUT/sanitizer.log"
    log "   memcheck $t '$filter': $result ($((SECONDS - start))s)"
    [ "$result" = clean ] || bad=1
  done
  rm -f "$OUT/sanitizer_run.txt"
  return "$bad"
}

stage_rigl() {
  timeout "$(limit 240)" "$bin/sprout" train --config configs/fashion_rigl.json --set data.root="$data" \
    --device cuda --out "$OUT/rigl" >"$OUT/train.log" 2>&1 || { log "   rigl run failed: $(tail -2 "$OUT/train.log")"; return 1; }
}

stage_kernels() {
  local b bad=0
  for b in spmm sddmm sparse_linear topology; do
    fits 15 "bench $b" || { bad=1; continue; }
    timeout "$(limit 90)" "$bin/sprout" bench "$b" --device cuda --json "$OUT/bench_$b.json" >"$OUT/bench_$b.txt" 2>&1 \
      || { log "   bench $b failed: $(tail -2 "$OUT/bench_$b.txt")"; bad=1; }
  done
  return "$bad"
}

stage_step() {
  local bad=0
  if fits 60 "the ResNet-50 step bench"; then
    timeout "$(limit 150)" "$bin/sprout" bench step --model resnet50 --batch 64 --densities 1.0,0.1 --steps 10 \
      --device cuda --json "$OUT/bench_step_resnet50.json" >"$OUT/bench_step.txt" 2>&1 \
      || { log "   step bench failed: $(tail -2 "$OUT/bench_step.txt")"; bad=1; }
  fi
  if fits 30 "the MLP step bench"; then
    timeout "$(limit 60)" "$bin/sprout" bench step --model mlp --batch 128 --densities 1.0,0.1 --steps 50 \
      --device cuda --json "$OUT/bench_step_mlp.json" >>"$OUT/bench_step.txt" 2>&1 || bad=1
  fi
  if fits 20 "the ResNet-50 memory report"; then
    timeout "$(limit 60)" "$bin/sprout" memory --model resnet50 --density 0.1 --batch 64 --device cuda --json \
      >"$OUT/memory_resnet50.json" 2>>"$OUT/bench_step.txt" || bad=1
  fi
  return "$bad"
}

# The extra options of a config's short run in the array `extra`: synthetic data for
# ImageNet and CIFAR.
config_overrides() {
  case "$1" in
    fashion_*) extra=(--set data.root="$data" --set train.max_steps=20) ;;
    imagenet_*) extra=(--set data.name=synthetic --set 'data.options={"shape":[3,224,224],"classes":1000,"size":256}'
                       --set train.max_steps=3 --set train.batch_size=64 --set train.eval_batch_size=64
                       --set data.workers=4) ;;
    cifar*) extra=(--set data.name=synthetic --set 'data.options={"shape":[3,32,32],"classes":10,"size":512}'
                   --set train.max_steps=5 --set data.workers=4) ;;
    *) extra=(--set train.max_steps=5) ;;
  esac
}

stage_configs() {
  : >"$OUT/configs.log"
  local c name bad=0 extra
  for c in configs/*.json; do
    name=$(basename "$c" .json)
    { in_stage_time "the $name run" && fits 15 "the $name run"; } || { echo "SKIPPED $name: out of time" >>"$OUT/configs.log"; bad=1; continue; }
    config_overrides "$name"
    if timeout "$(limit 60)" "$bin/sprout" train --config "$c" "${extra[@]}" --device cuda --quiet \
        --out "$OUT/cfg_$name" >"$OUT/cfg.txt" 2>&1; then
      python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); print("ok", sys.argv[2], "steps", s["steps"],
        "density %.4f" % s["density"], "accuracy %.4f" % s["test_accuracy"], "device", s["device"])' \
        "$OUT/cfg_$name/summary.json" "$name" >>"$OUT/configs.log" 2>&1 || echo "ok $name" >>"$OUT/configs.log"
    else
      echo "FAILED $name: $(tail -2 "$OUT/cfg.txt" | tr '\n' ' ')" >>"$OUT/configs.log"
      bad=1
    fi
    rm -rf "$OUT/cfg_$name"
  done
  rm -f "$OUT/cfg.txt"
  log "   configs ok: $(grep -c '^ok' "$OUT/configs.log") of $(ls configs/*.json | wc -l)"
  return "$bad"
}

stage_dense() {
  timeout "$(limit 150)" "$bin/sprout" train --config configs/fashion_mlp_dense.json --set data.root="$data" \
    --device cuda --out "$OUT/dense" >>"$OUT/train.log" 2>&1 || { log "   dense run failed"; return 1; }
}

stage_peer() {
  if [ ! -f .peers/torch_masked_baseline.py ]; then log "   .peers/torch_masked_baseline.py missing (run scripts/stage-gpu-deps.sh)"; return 2; fi
  if ! python3 -c "import torch, torchvision" 2>/dev/null; then log "   no torch/torchvision in python3"; return 2; fi
  if fits 60 "the ResNet-50 peer"; then
    timeout "$(limit 120)" python3 .peers/torch_masked_baseline.py --model resnet50 --batch 64 --density 0.1 \
      --precision fp32 >"$OUT/peer.jsonl" 2>"$OUT/peer.err" || log "   ResNet-50 peer failed: $(tail -1 "$OUT/peer.err")"
  fi
  if fits 30 "the MLP peer"; then
    timeout "$(limit 60)" python3 .peers/torch_masked_baseline.py --model mlp --batch 128 --density 0.1 \
      >>"$OUT/peer.jsonl" 2>>"$OUT/peer.err" || log "   MLP peer failed"
  fi
}
