#!/usr/bin/env bash
# Installs the Debian packages sprout builds and runs with, when any is missing, and
# configures + builds into build/. Sourced by train.sh and test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SPROUT_PACKAGES=(cmake ninja-build g++ nlohmann-json3-dev libcli11-dev libgtest-dev googletest
                 libbenchmark-dev libopenmpi-dev openmpi-bin libopenblas-dev libopenblas-openmp-dev zlib1g-dev libturbojpeg0-dev libjpeg62-turbo-dev
                 dataset-fashion-mnist)
missing=()
for p in "${SPROUT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  cmd="apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    $cmd >/dev/null
  else
    echo "setup: missing packages; run as root:" >&2
    echo "  sudo apt-get update && sudo $cmd" >&2
    exit 1
  fi
fi

# Optional cross-check tools (tests skip, saying why, without them): the Python
# safetensors reader and Debian's PyTorch as an independent reference.
if command -v python3 >/dev/null && ! python3 -c "import safetensors, numpy" 2>/dev/null; then
  python3 -m pip install -q safetensors numpy >/dev/null 2>&1 || echo "setup: pip could not install safetensors (its test will skip)" >&2
fi
if [ "$(id -u)" = 0 ] && ! dpkg-query -W -f='${Status}' python3-torchvision 2>/dev/null | grep -q "install ok installed"; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-torch python3-torchvision \
    python3-numpy >/dev/null 2>&1 || echo "setup: python3-torch/torchvision not installed (PyTorch cross-checks will skip)" >&2
fi
# The PyTorch round trip (python/sprout_torch.py) reads safetensors with Debian's python3.
if [ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c "import safetensors" 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && ! /usr/bin/python3 -m pip --version >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip >/dev/null 2>&1 || true
  fi
  /usr/bin/python3 -m pip install -q --break-system-packages safetensors >/dev/null 2>&1 ||
    echo "setup: safetensors not installed for /usr/bin/python3 (the PyTorch round-trip tests will skip)" >&2
fi
# Headless Chromium renders `sprout report`'s page in its test.
if [ "$(id -u)" = 0 ] && ! command -v chromium >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 ||
    echo "setup: chromium not installed (the report rendering test will skip)" >&2
fi

jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${SPROUT_CMAKE_ARGS:-} >/dev/null
ninja -C build -j "$jobs"
