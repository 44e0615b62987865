#!/usr/bin/env bash
# Copies what a bare GPU machine lacks into .deps/ (git-ignored) so gpu-check.sh can
# build there: the header-only nlohmann_json and CLI11, Debian's GoogleTest sources,
# and the Fashion-MNIST files. Also copies ../shared/peers to .peers/ for the
# side-by-side PyTorch baselines.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rm -rf .deps && mkdir -p .deps/include
cp -r /usr/include/nlohmann .deps/include/
cp -r /usr/include/CLI .deps/include/
cp -r /usr/src/googletest .deps/googletest
mkdir -p .deps/fashion-mnist
cp /usr/share/datasets/fashion-mnist/*.gz .deps/fashion-mnist/
if [ -d ../shared/peers ]; then rm -rf .peers && cp -r ../shared/peers .peers; fi
du -sh .deps .peers 2>/dev/null
