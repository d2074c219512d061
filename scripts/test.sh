#!/bin/sh
# The whole suite: install what is missing (Debian packages, the pinned npm test peers), build,
# then run unit, integration and conformance tests, every fuzz target for a bounded time, the
# unit and integration tests again under AddressSanitizer + UndefinedBehaviorSanitizer, and the
# threaded ones under ThreadSanitizer.
#   test.sh            everything
#   test.sh --quick    the dev build only (no sanitizer passes)
#   test.sh --keep-objects   keep each build tree whole (by default a tree's objects and archives
#                      are deleted once its tests pass, so the four trees fit a small disk at once;
#                      ccache still holds the objects, and the binaries stay)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# As root, Bastion drops to `nobody` and then runs the test agents from this tree: `nobody` must
# be able to reach it. A clone under a private home (e.g. /root) is copied somewhere it can.
if [ "$(id -u)" = 0 ] && [ -z "${BASTION_TEST_COPY:-}" ] &&
   ! runuser -u nobody -- test -x "$root/scripts/test.sh" 2>/dev/null; then
  copy=/var/tmp/bastion-test
  echo "this clone is not reachable by 'nobody'; testing a copy in $copy"
  rm -rf "$copy" && mkdir -p "$copy" && chmod 755 "$copy"
  tar -C "$root" --exclude=./build --exclude=./tests/integration/node_modules --exclude=./loadtest/node_modules --exclude=./bench/peers/node_modules \
    -cf - . | tar -C "$copy" -xf -
  chmod -R a+rX "$copy"
  BASTION_TEST_COPY=1 exec "$copy/scripts/test.sh" "$@"
fi
quick=0
keep_objects=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --keep-objects) keep_objects=1 ;;
    *) echo "test.sh: unknown option $arg (known: --quick, --keep-objects)" >&2; exit 2 ;;
  esac
done

"$root/scripts/install-deps.sh" --test
(cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
# Artillery (loadtest/): its optional browser engine must not download browsers.
(cd loadtest && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
# The stdio front doors the benchmark compares Bastion with (bench_smoke_peers).
(cd bench/peers && npm ci --no-audit --no-fund --loglevel=error)

# Each step says how much disk is left: a full disk shows up as a compiler's "No space left on device".
step() { printf '\n== %s (%s) ==\n' "$*" "$(df -h . | awk 'NR == 2 { print $4 " free" }')"; }
# A tree whose tests passed keeps only what later steps run: its binaries.
thin() {
  [ "$keep_objects" = 1 ] || find "build/$1" \( -name '*.o' -o -name '*.a' \) -type f -delete
}

step "dev build"
cmake --preset dev >/dev/null
cmake --build --preset dev
step "dev tests (unit, integration, conformance)"
ctest --preset dev
thin dev

step "fuzz: every libFuzzer target for a bounded time (clang, ASan + UBSan)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
ctest --preset fuzz
thin fuzz

if [ "$quick" = 0 ]; then
  step "asan-ubsan build"
  cmake --preset asan-ubsan >/dev/null
  cmake --build --preset asan-ubsan
  step "asan-ubsan tests (unit, integration)"
  # Suites that measure wall-clock behaviour or drive external scanners run once, in the dev build.
  ctest --preset asan-ubsan -LE "conformance|slow"
  thin asan-ubsan
  # ThreadSanitizer: only the tests labelled tsan (threaded code, the binary under concurrent clients).
  step "tsan build (tests labelled tsan)"
  cmake --preset tsan >/dev/null
  cmake --build --preset tsan
  step "tsan tests"
  ctest --preset tsan
  thin tsan
fi
step "all tests passed"
