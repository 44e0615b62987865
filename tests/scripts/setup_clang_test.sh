#!/usr/bin/env bash
# scripts/setup-clang.sh sourced under `set -euo pipefail`, as test.sh --sanitize and
# fuzz.sh source it: it must return 0 whether or not ccache is on PATH, and add the ccache
# launcher only when it is. A stand-in dpkg-query reports every package installed, so
# nothing is installed. Usage: setup_clang_test.sh
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$root/tests/scripts/expect.sh"

mkdir -p "$tmp/bin"
printf '#!/bin/sh\nprintf "install ok installed"\n' >"$tmp/bin/dpkg-query"
chmod +x "$tmp/bin/dpkg-query"
ln -s "$(command -v grep)" "$tmp/bin/grep"
source_it() {  # prints the CMake arguments the sourced file sets
  PATH="$tmp/bin" "$BASH" -c 'set -euo pipefail; source "$1"; echo "args: ${SPROUT_CLANG_ARGS[*]}"' _ \
    "$root/scripts/setup-clang.sh"
}

out=$(source_it)
expect "sourcing without ccache returns 0" test $? = 0
expect "the arguments are set without ccache" grep -q "CMAKE_CXX_COMPILER=clang++-14" <<<"$out"
expect "no ccache launcher without ccache" test "$(grep -c ccache <<<"$out")" = 0

printf '#!/bin/sh\nexit 0\n' >"$tmp/bin/ccache"
chmod +x "$tmp/bin/ccache"
out=$(source_it)
expect "sourcing with ccache returns 0" test $? = 0
expect "the ccache launcher with ccache" grep -q "CMAKE_CXX_COMPILER_LAUNCHER=ccache" <<<"$out"

finish
