#!/usr/bin/env bash
# The CPU speed picture in one run, everything side by side on the same machine state:
#   1. every ResNet-50 convolution shape: dense, im2col + SpMM and the path sprout takes,
#      forward and backward, at densities 0.2 / 0.1 / 0.05 (bench conv);
#   2. the ResNet-50 training step at batch 32: dense, ERK 0.1 and 0.05, each beside its
#      FLOP-ratio ideal (bench step), and Debian PyTorch's dense step on the same batch;
#   3. one Fashion-MNIST RigL epoch (density 0.1) quiet, then again while one other
#      process keeps a core busy (train.adapt_threads, the default, and the count fixed), with PyTorch's masked
#      RigL beside each.
# Usage: bench/cpu_speed.sh OUT_DIR [PARTS]   (PARTS: any of conv,step,fashion; default all)
# Needs build/bin/sprout (SPROUT_BIN overrides) and, for the peers, /usr/bin/python3 with torch.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${1:?usage: bench/cpu_speed.sh OUT_DIR [conv,step,fashion]}
PARTS=${2:-conv,step,fashion}
BIN=${SPROUT_BIN:-build/bin/sprout}
PY=/usr/bin/python3
THREADS=${SPROUT_BENCH_THREADS:-2}
mkdir -p "$OUT"
have_torch() { "$PY" -c "import torch, torchvision" 2>/dev/null; }
log() { echo "== $*" | tee -a "$OUT/log.txt"; }
{ echo "date: $(date -u +%FT%TZ)"; echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)";
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) usable, threads $THREADS";
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"; } > "$OUT/machine.txt"

if [[ $PARTS == *conv* ]]; then
  log "bench conv"
  "$BIN" bench conv --batch 8 --densities 0.2,0.1,0.05 --min-seconds 0.3 --json "$OUT/conv_resnet50.json" |
    tee "$OUT/conv_resnet50.txt"
  "$PY" scripts/conv_table.py "$OUT/conv_resnet50.json" > "$OUT/conv_resnet50.md"
fi

if [[ $PARTS == *step* ]]; then
  log "bench step resnet50 batch 32"
  "$BIN" bench step --model resnet50 --batch 32 --densities 1.0,0.1,0.05 --steps 2 \
    --json "$OUT/step_resnet50_b32.json" | tee "$OUT/step_resnet50_b32.txt"
  if have_torch; then
    log "PyTorch dense step batch 32"
    OMP_NUM_THREADS=$THREADS "$PY" bench/torch_resnet50_step.py --batch 32 --steps 2 --threads "$THREADS" |
      tee "$OUT/step_resnet50_b32_torch.json"
  fi
fi

fashion_epoch() {  # $1: run folder, then --set arguments
  local out=$1
  shift
  "$BIN" train --config configs/fashion_rigl.json --set train.epochs=1 "$@" --out "$out" --quiet > /dev/null
  "$PY" -c "import json,sys; s=json.load(open(sys.argv[1])); print(s['time']['seconds_per_epoch'], s['test_accuracy'])" \
    "$out/summary.json"
}
torch_rigl() {
  have_torch || { echo "skipped: no torch"; return; }
  "$PY" ../shared/peers/torch_cpu_fashion.py --epochs 1 --density 0.1 --threads "$THREADS" --methods rigl 2>/dev/null |
    tail -1 || echo "skipped: peer script not found"
}

if [[ $PARTS == *fashion* ]]; then
  log "Fashion-MNIST RigL 0.1, one epoch, quiet: seconds accuracy"
  fashion_epoch "$OUT/fashion_quiet" | tee "$OUT/fashion_quiet.txt"
  torch_rigl | tee "$OUT/fashion_quiet_torch.json"
  log "the same with one busy core, thread count fixed (train.adapt_threads=false)"
  ( while :; do :; done ) &
  BUSY=$!
  trap 'kill $BUSY 2>/dev/null || true' EXIT
  fashion_epoch "$OUT/fashion_loaded_fixed" --set train.adapt_threads=false | tee "$OUT/fashion_loaded_fixed.txt"
  log "the same with train.adapt_threads (the default: one thread fewer per busy core)"
  fashion_epoch "$OUT/fashion_loaded_adapt" | tee "$OUT/fashion_loaded_adapt.txt"
  torch_rigl | tee "$OUT/fashion_loaded_torch.json"
  kill $BUSY
  rm -rf "$OUT/fashion_quiet" "$OUT/fashion_loaded_fixed" "$OUT/fashion_loaded_adapt"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
