#!/bin/sh
# Quick start: install what is missing, build, and run `bastion serve` on its embedded default:
# the demo agent behind http://127.0.0.1:8080/mcp, admin on 127.0.0.1:8123, data in ./bastion-data.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
"$root/scripts/install-deps.sh"
cmake --preset release >/dev/null
cmake --build --preset release --target bastion bastion-demo-agent
exec "$root/build/release/src/app/bastion" serve "$@"
