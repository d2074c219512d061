#!/bin/sh
# Renders deploy/compose/docker-compose.yml (and with the CI override) with docker-compose and
# checks the result: valid, no secret value anywhere in it, only bastion publishes ports and
# only 80/443, bastion hardened (read-only, cap_drop ALL, no-new-privileges, uid 1001), the
# backing services on internal networks, secrets only as files.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
compose_dir=$root/deploy/compose
fail() { echo "compose_test: FAIL: $*" >&2; exit 1; }

command -v docker-compose >/dev/null 2>&1 ||
  fail "docker-compose is not installed (Debian: apt-get install docker-compose)"
command -v python3 >/dev/null 2>&1 || fail "python3 is required"
python3 -c 'import yaml' 2>/dev/null || fail "python3 yaml module is required (apt-get install python3-yaml)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# Throw-away secret files with random values; BASTION_SECRETS_DIR points the compose file at them.
secrets_dir=$tmp/secrets
mkdir -m 0700 "$secrets_dir"
: >"$tmp/values"
for name in bastion_tokens bastion_admin_token postgres_password redis_password \
            grafana_admin_password tls_cert tls_key; do
  value="s3cr3t-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
  printf '%s\n' "$value" >"$secrets_dir/$name"
  printf '%s\n' "$value" >>"$tmp/values"
done

render() {
  out=$1
  shift
  if ! (cd "$compose_dir" && BASTION_SECRETS_DIR=$secrets_dir timeout 120 docker-compose "$@" config) \
      >"$out" 2>"$tmp/stderr"; then
    cat "$tmp/stderr" >&2
    fail "docker-compose $* config failed"
  fi
}

# Production file, defaults.
(unset BASTION_BIND_ADDRESS BASTION_HTTP_PORT BASTION_HTTPS_PORT 2>/dev/null || true
 render "$tmp/base.yml" -f docker-compose.yml)
# CI override; published ports move through variables (overrides merge port lists).
(BASTION_BIND_ADDRESS=127.0.0.1 BASTION_HTTPS_PORT=18443 BASTION_HTTP_PORT=18080 \
 render "$tmp/test.yml" -f docker-compose.yml -f docker-compose.test.yml)

python3 "$here/compose_check.py" --rendered "$tmp/base.yml" --values "$tmp/values" \
  --secrets-dir "$secrets_dir" --compose-dir "$compose_dir" --host-ports 80,443 --host-ip 0.0.0.0 ||
  fail "checks on docker-compose.yml"
python3 "$here/compose_check.py" --rendered "$tmp/test.yml" --values "$tmp/values" \
  --secrets-dir "$secrets_dir" --compose-dir "$compose_dir" --host-ports 18080,18443 --host-ip 127.0.0.1 ||
  fail "checks on docker-compose.yml + docker-compose.test.yml"

# The config the stack mounts must be valid for the binary, when one is built.
bin=$("$here/find_bastion.sh")
if [ -n "$bin" ]; then
  for cfg in bastion.container.yaml bastion.yaml; do
    "$bin" check-config -c "$root/deploy/config/$cfg" >/dev/null || fail "$bin check-config rejects deploy/config/$cfg (a stale build? rebuild, or set BASTION_BIN)"
  done
  echo "compose_test: deploy/config/*.yaml valid for $bin"
else
  echo "compose_test: no built bastion binary: check-config of deploy/config skipped"
fi
echo "compose_test: PASS"
