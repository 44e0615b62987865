# The shell tests' shared checks, sourced: a temporary folder $tmp removed on exit, and
# expect WHAT COMMAND... which prints ok / FAILED and counts failures; end a test with
# `finish`, which exits non-zero when any check failed.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
expect() {  # $1: what, then a command that must succeed
  local what=$1; shift
  if "$@"; then echo "ok: $what"; else echo "FAILED: $what"; failures=$((failures + 1)); fi
}
finish() {
  echo "$failures failure(s)"
  [ "$failures" = 0 ]
}
