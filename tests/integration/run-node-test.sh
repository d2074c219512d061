#!/bin/sh
# Runs one node:test file with the pinned Node 22 from this folder's node_modules.
# Usage: run-node-test.sh FILE.test.mjs   (BASTION_BIN and BASTION_DEMO_AGENT in the environment)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
node="$here/node_modules/.bin/node"
if [ ! -x "$node" ]; then
  echo "missing test peers: run 'npm ci' in tests/integration (scripts/test.sh does it)" >&2
  exit 1
fi
exec "$node" --test --test-timeout=120000 --test-reporter=spec "$here/$1"
