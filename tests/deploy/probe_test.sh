#!/bin/sh
# deploy/docker/bastion-admin-probe against a real bastion: an admin listener with a token
# answers the probe only with the token; a wrong token, a non-2xx path (/readyz with no
# upstream) and a closed port all fail. Needs a built bastion (skips otherwise).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
probe=$root/deploy/docker/bastion-admin-probe
fail() { echo "probe_test: FAIL: $*" >&2; exit 1; }
command -v bash >/dev/null 2>&1 || fail "bash is required by the probe"

bin=$("$here/find_bastion.sh")
if [ -z "$bin" ]; then
  echo "probe_test: SKIP (no built bastion: build a preset first)"
  exit 0
fi

tmp=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
chmod 0755 "$tmp"   # bastion started as root drops to nobody, which must reach data_dir
token="adm-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$token" >"$tmp/admin_token"
chmod 0600 "$tmp/admin_token"
printf 'not-the-token-at-all\n' >"$tmp/wrong_token"
cat >"$tmp/bastion.yaml" <<YAML
run_as: nobody
data_dir: $tmp/data
listen:
  public: {address: "127.0.0.1:0"}
  admin: {address: "127.0.0.1:0", token_file: $tmp/admin_token}
rate_limits: []
store: off
log: {level: warn, format: text}
YAML
"$bin" check-config -c "$tmp/bastion.yaml" >/dev/null || fail "check-config of the test config"

# The ready file is a FIFO: reading it waits for the moment bastion serves (no polling).
mkfifo "$tmp/ready"
"$bin" serve -c "$tmp/bastion.yaml" --ready-file "$tmp/ready" >"$tmp/log" 2>&1 &
pid=$!
ready=$(timeout 30 head -n1 "$tmp/ready") || { cat "$tmp/log" >&2; fail "bastion did not become ready"; }
admin=$(printf '%s' "$ready" | python3 -c 'import json,sys; print(json.load(sys.stdin)["admin"])')
[ -n "$admin" ] || fail "no admin address in the ready file: $ready"

expect() {  # expect pass|fail DESCRIPTION -- env assignments and probe args follow
  want=$1
  what=$2
  shift 2
  if env "$@" timeout 15 "$probe" "${PROBE_PATH:-/healthz}" >"$tmp/out" 2>&1; then got=pass; else got=fail; fi
  [ "$got" = "$want" ] || { cat "$tmp/out" >&2; fail "$what: expected $want, got $got"; }
  echo "probe_test: ok - $what ($(tail -n1 "$tmp/out"))"
}
expect pass "/healthz with the admin token" BASTION_ADMIN_ADDRESS="$admin" BASTION_ADMIN_TOKEN_FILE="$tmp/admin_token"
expect fail "/healthz without a token" BASTION_ADMIN_ADDRESS="$admin"
expect fail "/healthz with a wrong token" BASTION_ADMIN_ADDRESS="$admin" BASTION_ADMIN_TOKEN_FILE="$tmp/wrong_token"
expect fail "/healthz with a missing token file" BASTION_ADMIN_ADDRESS="$admin" BASTION_ADMIN_TOKEN_FILE="$tmp/nope"
printf '%s' "$token" >"$tmp/admin_token_no_newline"
expect pass "a token file without a final newline" BASTION_ADMIN_ADDRESS="$admin" \
  BASTION_ADMIN_TOKEN_FILE="$tmp/admin_token_no_newline"
mkdir "$tmp/creds" && cp "$tmp/admin_token" "$tmp/creds/admin_token"
expect pass "credential:NAME token" BASTION_ADMIN_ADDRESS="$admin" CREDENTIALS_DIRECTORY="$tmp/creds" \
  BASTION_ADMIN_TOKEN_FILE=credential:admin_token
PROBE_PATH=/readyz expect fail "/readyz with no upstream (503)" BASTION_ADMIN_ADDRESS="$admin" \
  BASTION_ADMIN_TOKEN_FILE="$tmp/admin_token"
# A port nothing listens on: take one from the kernel and close it again.
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
expect fail "a closed port" BASTION_ADMIN_ADDRESS="127.0.0.1:$closed"
if grep -q -- "$token" "$tmp/log"; then fail "the admin token appears in bastion's log"; fi
echo "probe_test: PASS"
