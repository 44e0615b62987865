#!/usr/bin/env bash
# The GPU suite, for a machine with an NVIDIA GPU (sm_90 by default): builds with CUDA
# from what scripts/stage-gpu-deps.sh put in .deps/, runs every test (GPU ones
# included), a Fashion-MNIST RigL run on the GPU, the kernel benchmarks,
# compute-sanitizer memcheck on the CUDA parity tests, a short run of every config
# (synthetic data for ImageNet and CIFAR), the training-step benchmarks,
# and the PyTorch masked baseline beside sprout, most important first. The whole run
# keeps to GPU_CHECK_BUDGET_S seconds (default 540): a stage that no longer fits is
# skipped and says so, and the results are always collected. Results land in $OUT
# (default out/gpu-check): results.json (everything measured), ctest.log,
# sanitizer.log, train.log, build.log, progress.log, bench.txt, configs.log.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-out/gpu-check}
mkdir -p "$OUT"
deps=$PWD/.deps
arch=${SPROUT_CUDA_ARCHITECTURES:-90}
stage() { echo "== $(date +%T) +${SECONDS}s $*" | tee -a "$OUT/progress.log"; }
budget=${GPU_CHECK_BUDGET_S:-540}
# Seconds a stage may take: its own limit, or what is left before the collection (30 s).
limit() { local left=$((budget - 30 - SECONDS)); [ "$left" -lt "$1" ] && echo "$left" || echo "$1"; }
# True when at least $1 seconds are left; otherwise logs the skip.
fits() {
  [ "$(limit "$1")" -ge "$1" ] && return 0
  echo "   skipped: $2 needs ${1}s, $((budget - 30 - SECONDS))s left" | tee -a "$OUT/progress.log"
  return 1
}

stage "configure + build (sm_$arch)"
args=(-DSPROUT_CUDA=ON -DSPROUT_CUDA_ARCHITECTURES="$arch" -DCMAKE_BUILD_TYPE=Release)
[ -d "$deps/include" ] && args+=(-DSPROUT_JSON_INCLUDE="$deps/include" -DSPROUT_CLI11_INCLUDE="$deps/include")
[ -d "$deps/googletest" ] && args+=(-DSPROUT_GTEST_SOURCE="$deps/googletest")
if ! { cmake -S . -B build-gpu -G Ninja "${args[@]}" && ninja -C build-gpu -j "$(nproc)"; } >"$OUT/build.log" 2>&1; then
  tail -40 "$OUT/build.log"
  echo "error: the CUDA build failed (see build.log)"
  exit 1
fi
grep -E "warning" "$OUT/build.log" | head -20
bin=build-gpu/bin
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv >"$OUT/gpu.txt" 2>&1

data=/usr/share/datasets/fashion-mnist
[ -f "$data/train-images-idx3-ubyte.gz" ] || data=$deps/fashion-mnist
# Without zlib the loader reads plain IDX files: unpack them beside the build.
if ! grep -q "zlib=TRUE" "$OUT/build.log" && [ -f "$data/train-images-idx3-ubyte.gz" ]; then
  plain=$PWD/build-gpu/fashion-mnist
  mkdir -p "$plain"
  for f in "$data"/*.gz; do
    python3 -c 'import gzip, shutil, sys; shutil.copyfileobj(gzip.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
      "$f" "$plain/$(basename "$f" .gz)" || gzip -dc "$f" >"$plain/$(basename "$f" .gz)"
  done
  data=$plain
fi
export SPROUT_FASHION_ROOT=$data

stage "ctest"
(cd build-gpu && timeout "$(limit 300)" ctest -j 8 --timeout 300 --output-on-failure) >"$OUT/ctest.log" 2>&1
ctest_rc=$?
tail -5 "$OUT/ctest.log"

stage "Fashion-MNIST RigL on the GPU"
if fits 60 "the RigL run"; then
  timeout "$(limit 240)" "$bin/sprout" train --config configs/fashion_rigl.json --set data.root="$data" \
    --device cuda --out "$OUT/rigl" >"$OUT/train.log" 2>&1 || echo "rigl run failed: $(tail -2 "$OUT/train.log")"
fi

stage "kernel benchmarks"
for b in spmm sddmm sparse_linear topology; do
  fits 30 "bench $b" || continue
  timeout "$(limit 90)" "$bin/sprout" bench "$b" --device cuda --json "$OUT/bench_$b.json" >"$OUT/bench_$b.txt" 2>&1 \
    || echo "bench $b failed: $(tail -2 "$OUT/bench_$b.txt")"
done

stage "compute-sanitizer memcheck on the CUDA parity tests"
san_rc=-1
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
if [ -x "$sanitizer" ]; then
  : >"$OUT/sanitizer.log"
  san_rc=0
  for t in test_kernels test_engine_ops test_engine_sparse test_engine_nn test_engine_optim test_engine_sparsity; do
    [ -x "$bin/$t" ] || continue
    fits 30 "memcheck of $t" || { san_rc=-2; continue; }
    # Exact-size allocations, freed at once: the caching allocator would hide overruns.
    SPROUT_CUDA_ALLOC_EXACT=1 timeout "$(limit 120)" "$sanitizer" --tool memcheck --error-exitcode 3 "$bin/$t" \
      --gtest_filter='*Cuda*:*cuda*:*Gpu*' >>"$OUT/sanitizer.log" 2>&1 || san_rc=$?
  done
  grep -E "ERROR SUMMARY" "$OUT/sanitizer.log" | sort | uniq -c
fi

stage "a short run of every config on the GPU"
: >"$OUT/configs.log"
for c in configs/*.json; do
  name=$(basename "$c" .json)
  fits 20 "the $name run" || break
  case "$name" in
    fashion_*) extra=(--set data.root="$data" --set train.max_steps=20) ;;
    imagenet_*) extra=(--set data.name=synthetic --set 'data.options={"shape":[3,224,224],"classes":1000,"size":256}'
                       --set train.max_steps=3 --set train.batch_size=64 --set train.eval_batch_size=64
                       --set data.workers=4) ;;
    cifar*) extra=(--set data.name=synthetic --set 'data.options={"shape":[3,32,32],"classes":10,"size":512}'
                   --set train.max_steps=5 --set data.workers=4) ;;
    *) extra=(--set train.max_steps=5) ;;
  esac
  if timeout "$(limit 60)" "$bin/sprout" train --config "$c" "${extra[@]}" --device cuda --quiet \
      --out "$OUT/cfg_$name" >"$OUT/cfg.txt" 2>&1; then
    python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); print("ok", sys.argv[2], "steps", s["steps"],
      "density %.4f" % s["density"], "accuracy %.4f" % s["test_accuracy"], "device", s["device"])' \
      "$OUT/cfg_$name/summary.json" "$name" >>"$OUT/configs.log" 2>&1 || echo "ok $name" >>"$OUT/configs.log"
  else
    echo "FAILED $name: $(tail -2 "$OUT/cfg.txt" | tr '\n' ' ')" >>"$OUT/configs.log"
  fi
  rm -rf "$OUT/cfg_$name"
done
rm -f "$OUT/cfg.txt"
grep -c "^ok" "$OUT/configs.log" | sed 's/^/   configs ok: /'

stage "training-step benchmarks and memory"
if fits 60 "the ResNet-50 step bench"; then
  timeout "$(limit 150)" "$bin/sprout" bench step --model resnet50 --batch 64 --densities 1.0,0.1 --steps 10 \
    --device cuda --json "$OUT/bench_step_resnet50.json" >"$OUT/bench_step.txt" 2>&1 \
    || echo "step bench failed: $(tail -2 "$OUT/bench_step.txt")"
fi
if fits 30 "the MLP step bench"; then
  timeout "$(limit 60)" "$bin/sprout" bench step --model mlp --batch 128 --densities 1.0,0.1 --steps 50 \
    --device cuda --json "$OUT/bench_step_mlp.json" >>"$OUT/bench_step.txt" 2>&1 || true
fi
if fits 30 "the ResNet-50 memory report"; then
  timeout "$(limit 60)" "$bin/sprout" memory --model resnet50 --density 0.1 --batch 64 --device cuda --json \
    >"$OUT/memory_resnet50.json" 2>>"$OUT/bench_step.txt" || true
fi

stage "dense Fashion-MNIST MLP on the GPU"
if fits 60 "the dense run"; then
  timeout "$(limit 150)" "$bin/sprout" train --config configs/fashion_mlp_dense.json --set data.root="$data" \
    --device cuda --out "$OUT/dense" >>"$OUT/train.log" 2>&1 || echo "dense run failed"
fi

stage "PyTorch masked baseline"
if [ -f .peers/torch_masked_baseline.py ] && python3 -c "import torch, torchvision" 2>/dev/null; then
  if fits 60 "the ResNet-50 peer"; then
    timeout "$(limit 120)" python3 .peers/torch_masked_baseline.py --model resnet50 --batch 64 --density 0.1 \
      --precision fp32 >"$OUT/peer.jsonl" 2>"$OUT/peer.err" || true
  fi
  if fits 30 "the MLP peer"; then
    timeout "$(limit 60)" python3 .peers/torch_masked_baseline.py --model mlp --batch 128 --density 0.1 \
      >>"$OUT/peer.jsonl" 2>>"$OUT/peer.err" || true
  fi
fi

stage "collect"
python3 - "$OUT" "$ctest_rc" "$san_rc" <<'PY'
import json, os, subprocess, sys, datetime
out, ctest_rc, san_rc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def load(name):
    p = os.path.join(out, name)
    try:
        return json.load(open(p))
    except Exception:
        return None
def lines(name):
    p = os.path.join(out, name)
    return [json.loads(l) for l in open(p) if l.strip().startswith("{")] if os.path.exists(p) else []
summary_line = ""
if os.path.exists(os.path.join(out, "ctest.log")):
    for l in open(os.path.join(out, "ctest.log")):
        if "tests passed" in l:
            summary_line = l.strip()
r = {
    "date": datetime.datetime.utcnow().isoformat() + "Z",
    "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
    "gpu": open(os.path.join(out, "gpu.txt")).read().strip() if os.path.exists(os.path.join(out, "gpu.txt")) else "",
    "command": "scripts/gpu-check.sh",
    "ctest": {"exit_code": ctest_rc, "summary": summary_line},
    "sanitizer_exit_code": san_rc,
    "bench": {b: load(f"bench_{b}.json") for b in ("spmm", "sddmm", "sparse_linear", "topology")},
    "step_resnet50": load("bench_step_resnet50.json"),
    "step_mlp": load("bench_step_mlp.json"),
    "memory_resnet50": load("memory_resnet50.json"),
    "rigl_summary": load("rigl/summary.json"),
    "dense_summary": load("dense/summary.json"),
    "peer": lines("peer.jsonl"),
    "configs": [l.strip() for l in open(os.path.join(out, "configs.log"))] if os.path.exists(os.path.join(out, "configs.log")) else [],
}
for k in ("rigl_summary", "dense_summary"):
    if r[k]:
        r[k].pop("config", None)
json.dump(r, open(os.path.join(out, "results.json"), "w"), indent=1)
print(json.dumps({"ctest": r["ctest"], "sanitizer": san_rc,
                  "rigl_acc": (r["rigl_summary"] or {}).get("test_accuracy"),
                  "dense_acc": (r["dense_summary"] or {}).get("test_accuracy")}))
PY
# Keep what comes back to a few files.
rm -rf "$OUT/rigl" "$OUT/dense" "$OUT"/bench_*.json "$OUT"/memory_resnet50.json "$OUT"/peer.jsonl
cat "$OUT"/bench_*.txt > "$OUT/bench.txt" 2>/dev/null; rm -f "$OUT"/bench_*.txt "$OUT"/gpu.txt "$OUT"/peer.err
ls -la "$OUT"
