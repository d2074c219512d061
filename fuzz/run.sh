#!/bin/sh
# Long fuzzing runs: fuzz/run.sh [SECONDS] [TARGET...]  (default 600 s, every target in turn).
# Builds the fuzz preset, keeps the grown corpus in build/fuzz/fuzz/corpus/<target>, writes
# crashes to build/fuzz/fuzz/artifacts/. A crash becomes a regression seed in fuzz/corpus/ and a
# unit test beside the module it found a bug in.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-600}
[ $# -gt 0 ] && shift
cmake --preset fuzz -DFUZZ_SECONDS="$seconds" >/dev/null
cmake --build --preset fuzz
if [ $# -eq 0 ]; then
  ctest --preset fuzz
else
  for t in "$@"; do ctest --preset fuzz -R "^$t\$"; done
fi
