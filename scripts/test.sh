#!/bin/sh
# The whole suite: install what is missing (Debian packages, the pinned npm test peers), build,
# then run unit, integration and conformance tests, and the unit and integration tests again
# under AddressSanitizer + UndefinedBehaviorSanitizer.
#   test.sh            everything
#   test.sh --quick    the dev build only (no sanitizer pass)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
quick=0
[ "${1:-}" = "--quick" ] && quick=1

"$root/scripts/install-deps.sh" --test
(cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)

step() { printf '\n== %s ==\n' "$*"; }

step "dev build"
cmake --preset dev >/dev/null
cmake --build --preset dev
step "dev tests (unit, integration, conformance)"
ctest --preset dev

if [ "$quick" = 0 ]; then
  step "asan-ubsan build"
  cmake --preset asan-ubsan >/dev/null
  cmake --build --preset asan-ubsan
  step "asan-ubsan tests (unit, integration)"
  ctest --preset asan-ubsan -LE conformance
fi
step "all tests passed"
