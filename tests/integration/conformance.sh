#!/bin/sh
# Runs the official MCP conformance suite (pinned) for one spec revision through Bastion.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
node="$here/node_modules/.bin/node"
if [ ! -x "$node" ]; then
  echo "missing test peers: run 'npm ci' in tests/integration (scripts/test.sh does it)" >&2
  exit 1
fi
exec "$node" "$here/conformance.mjs" "$@"
