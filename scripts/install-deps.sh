#!/bin/sh
# Installs what Bastion needs from Debian 12 packages (skips what is already there).
#   install-deps.sh          build and runtime dependencies
#   install-deps.sh --test   also the test tools (Node.js/npm for the MCP peers)
set -eu
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

packages="build-essential cmake ninja-build ccache pkg-config git ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libssl-dev
  libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev libsqlite3-dev libpq-dev libhiredis-dev
  libgtest-dev libgmock-dev libbenchmark-dev"
if [ "$want_test" = 1 ]; then
  packages="$packages curl procps wrk postgresql redis-server pebble sslscan testssl.sh slowhttptest
    prometheus prometheus-alertmanager docker-compose nftables iproute2 python3-yaml
    jq sqlite3 openssl postgresql-client redis-tools clang libclang-rt-14-dev nginx"
  command -v node >/dev/null 2>&1 || packages="$packages nodejs"
  command -v npm >/dev/null 2>&1 || packages="$packages npm"
fi

missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing packages:$missing (run as root, or install them)" >&2
    exit 1
  fi
  echo "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $missing
fi
