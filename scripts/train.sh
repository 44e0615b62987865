#!/usr/bin/env bash
# Installs what is missing, builds, and runs the default training job on the GPU
# when one answers, else on the CPU. Extra arguments go to `sprout train`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
config=${SPROUT_CONFIG:-configs/fashion_rigl.json}
[ -f "$config" ] || config=configs/fashion_mlp_dense.json
out=${SPROUT_OUT:-runs/default}
./build/bin/sprout train --config "$config" --device auto --out "$out" "$@"
if command -v python3 >/dev/null && [ -f "$out/summary.json" ]; then
  python3 scripts/summary_table.py "$out/summary.json" || true
fi
