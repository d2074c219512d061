#!/bin/sh
# Quick start: install what is missing, build, and run `bastion serve` on its embedded default:
# the demo agent behind http://127.0.0.1:8080/mcp, admin on 127.0.0.1:8123, data in ./bastion-data.
# As root the binaries are installed to /usr/local/bin first: Bastion drops to `nobody` before
# it serves, and `nobody` must be able to run the demo agent wherever this clone lives.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
"$root/scripts/install-deps.sh"
cmake --preset release >/dev/null
cmake --build --preset release --target bastion bastion-demo-agent
if [ "$(id -u)" = 0 ]; then
  cmake --install build/release --prefix /usr/local >/dev/null
  bin=/usr/local/bin/bastion
  # Bastion drops to `nobody` after binding; its data must live where nobody can reach it
  # (not under /root): ./bastion-data becomes /var/lib/bastion/bastion-data.
  install -d -m 0755 /var/lib/bastion
  cd /var/lib/bastion
else
  bin="$root/build/release/src/app/bastion"
fi
echo "bastion: MCP on http://127.0.0.1:8080/mcp (demo agent at /mcp/demo), admin on http://127.0.0.1:8123"
exec "$bin" serve "$@"
