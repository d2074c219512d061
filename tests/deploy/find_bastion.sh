#!/bin/sh
# Prints the bastion binary the deploy tests use: $BASTION_BIN, else the newest of the release
# and dev preset builds; prints nothing when none is built.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ -n "${BASTION_BIN:-}" ]; then
  [ -x "$BASTION_BIN" ] || { echo "BASTION_BIN=$BASTION_BIN is not executable" >&2; exit 1; }
  echo "$BASTION_BIN"
  exit 0
fi
newest=""
for candidate in "$root/build/release/src/app/bastion" "$root/build/dev/src/app/bastion"; do
  [ -x "$candidate" ] || continue
  # shellcheck disable=SC3013 # -nt: dash and bash have it
  if [ -z "$newest" ] || [ "$candidate" -nt "$newest" ]; then newest=$candidate; fi
done
echo "$newest"
