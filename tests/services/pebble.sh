#!/usr/bin/env bash
# Runs CMD ARGS... next to a private Pebble (Let's Encrypt's test ACME CA) on loopback.
#
#   tests/services/pebble.sh CMD [ARGS...]
#
# Starts pebble-challtestsrv as Pebble's DNS server (every name resolves to 127.0.0.1; its own
# challenge responders are disabled) and pebble with a generated config, waits until both answer,
# runs CMD with these variables, and always stops both by PID:
#   BASTION_TEST_PEBBLE_DIR       https://127.0.0.1:PORT/dir (the ACME directory)
#   BASTION_TEST_PEBBLE_MGMT      https://127.0.0.1:PORT (management API: /roots/0, /intermediates/0)
#   BASTION_TEST_PEBBLE_CA        PEM of the CA that signed Pebble's own TLS certificate
#   BASTION_TEST_ACME_HTTP_PORT   the port Pebble connects to for HTTP-01 (CMD listens there)
# The Debian package ships no test certificates, so the TLS CA and Pebble's certificate are made
# here with openssl.
set -euo pipefail

if [ "$#" -lt 1 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi
for tool in pebble pebble-challtestsrv openssl curl; do
  command -v "$tool" >/dev/null || { echo "pebble.sh: $tool not found (apt-get install pebble openssl curl)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/bastion-pebble.XXXXXX)
pebble_pid=""
dns_pid=""
cleanup() {
  local rc=$?
  for pid in $pebble_pid $dns_pid; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in $pebble_pid $dns_pid; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ]; then
    for log in "$work"/*.log; do
      [ -f "$log" ] || continue
      echo "---- $(basename "$log") (last 40 lines) ----" >&2
      tail -n 40 "$log" >&2
    done
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Free loopback ports: bound to port 0 by the kernel (python3), else random ports nobody
# answers on; released again for the services (a small race, fine on a test machine).
free_ports() {
  if command -v python3 >/dev/null; then
    python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
    return
  fi
  local ports=() port
  while [ "${#ports[@]}" -lt "$1" ]; do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && [[ " ${ports[*]} " != *" $port "* ]]; then
      ports+=("$port")
    fi
  done
  echo "${ports[*]}"
}
read -r acme_port mgmt_port http_port tls_port dns_port dns_mgmt_port <<<"$(free_ports 6)"

# A throwaway CA and Pebble's listener certificate for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=Bastion test CA for Pebble" -keyout "$work/tls-ca.key" -out "$work/tls-ca.pem" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$work/openssl.log"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
  -keyout "$work/pebble.key" -out "$work/pebble.csr" 2>>"$work/openssl.log"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' \
  >"$work/pebble.ext"
openssl x509 -req -in "$work/pebble.csr" -CA "$work/tls-ca.pem" -CAkey "$work/tls-ca.key" -CAcreateserial \
  -days 2 -extfile "$work/pebble.ext" -out "$work/pebble.pem" 2>>"$work/openssl.log"

cat >"$work/pebble-config.json" <<JSON
{
  "pebble": {
    "listenAddress": "127.0.0.1:$acme_port",
    "managementListenAddress": "127.0.0.1:$mgmt_port",
    "certificate": "$work/pebble.pem",
    "privateKey": "$work/pebble.key",
    "httpPort": $http_port,
    "tlsPort": $tls_port,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
JSON

# DNS only: A answers 127.0.0.1, no AAAA (so Pebble never tries ::1), no challenge responders.
pebble-challtestsrv -dns01 "127.0.0.1:$dns_port" -management "127.0.0.1:$dns_mgmt_port" \
  -http01 '' -https01 '' -tlsalpn01 '' -defaultIPv4 127.0.0.1 -defaultIPv6 '' >"$work/challtestsrv.log" 2>&1 &
dns_pid=$!

# PEBBLE_VA_NOSLEEP: validate at once; PEBBLE_WFE_NONCEREJECT=0: no random badNonce;
# PEBBLE_AUTHZREUSE=0: every order gets fresh authorizations, so every issuance really validates.
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
  pebble -config "$work/pebble-config.json" -dnsserver "127.0.0.1:$dns_port" >"$work/pebble.log" 2>&1 &
pebble_pid=$!

ready=0
for _ in $(seq 1 100); do  # at most ~10 s
  if ! kill -0 "$pebble_pid" 2>/dev/null || ! kill -0 "$dns_pid" 2>/dev/null; then
    echo "pebble.sh: a service exited during start-up" >&2
    exit 1
  fi
  if curl -fsS --max-time 1 --cacert "$work/tls-ca.pem" -o /dev/null "https://127.0.0.1:$acme_port/dir" 2>/dev/null &&
     curl -sS --max-time 1 -o /dev/null "http://127.0.0.1:$dns_mgmt_port/" 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.1
done
if [ "$ready" -ne 1 ]; then
  echo "pebble.sh: Pebble did not become ready" >&2
  exit 1
fi

export BASTION_TEST_PEBBLE_DIR="https://127.0.0.1:$acme_port/dir"
export BASTION_TEST_PEBBLE_MGMT="https://127.0.0.1:$mgmt_port"
export BASTION_TEST_PEBBLE_CA="$work/tls-ca.pem"
export BASTION_TEST_ACME_HTTP_PORT="$http_port"

set +e
"$@"
status=$?
set -e
exit "$status"
