#!/bin/sh
# Loads deploy/firewall/nftables.conf into a fresh network namespace joined to this one by a
# veth pair, starts listeners in it on 22, 80, 443, 5432, 6379, 8123 (and 9090, an unlisted
# port), connects to each from outside with a 1 s timeout and checks that only 22/80/443 get
# through, that the explicit drops counted the attempts, and that the blocked services still
# answer on the namespace's loopback (so the firewall, not a missing listener, stopped them).
# Also checks deploy/firewall/ufw.sh --dry-run. Root only (ip netns); cleans up in a trap.
#
# Listeners are pluggable: FW_LISTEN_CMD_<port> is a shell command run inside the namespace
# that must listen on 0.0.0.0:<port> (e.g. FW_LISTEN_CMD_5432="su postgres -c '...'"); the
# default is a small python3 TCP server. FW_READY_TIMEOUT bounds the wait for each (seconds).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rules=${FW_RULES:-$root/deploy/firewall/nftables.conf}
fail() { echo "firewall_netns_test: FAIL: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "needs root (ip netns, nft)"
for tool in ip nft python3 ss; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is required (Debian: iproute2, nftables, python3)"
done

open_ports="22 80 443"
blocked_ports="5432 6379 8123"
other_port=9090
ns="bfw$$"
veth_host="vbfw$$h"
veth_ns="vbfw$$n"
tmp=$(mktemp -d)
pids=""

cleanup() {
  for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
  if ip netns list 2>/dev/null | grep -qw "$ns"; then
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  fi
  ip link del "$veth_host" 2>/dev/null || true
  for p in $pids; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# ---- ufw.sh: the same policy in ufw commands.
sh "$root/deploy/firewall/ufw.sh" --dry-run >"$tmp/ufw" || fail "ufw.sh --dry-run"
for want in "default deny incoming" "default allow outgoing" "deny log 5432/tcp" "deny log 6379/tcp" \
            "deny log 8123/tcp" "22/tcp" "allow 80/tcp" "allow 443/tcp" "--force enable"; do
  grep -q -- "$want" "$tmp/ufw" || fail "ufw.sh --dry-run does not run 'ufw $want'"
done
if command -v ufw >/dev/null 2>&1; then
  # ufw's own --dry-run parses each rule without touching the firewall.
  grep -v -- '--force enable' "$tmp/ufw" | sed 's/^ufw //' | while IFS= read -r rule; do
    eval "set -- $rule"
    ufw --dry-run "$@" >/dev/null 2>&1 || fail "ufw rejects: ufw $rule"
  done
  echo "firewall_netns_test: ok - ufw.sh rules accepted by ufw --dry-run"
else
  echo "firewall_netns_test: ok - ufw.sh --dry-run (ufw not installed: syntax not checked by ufw)"
fi

# ---- A /30 in 10.200.0.0/16 that no interface here uses yet.
net=""
start=$(( $$ % 250 + 1 ))
i=0
while [ $i -lt 250 ]; do
  x=$(( (start + i) % 250 + 1 ))
  if ! ip -4 -o addr show | grep -q " 10\.200\.$x\."; then net=$x; break; fi
  i=$((i + 1))
done
[ -n "$net" ] || fail "no free 10.200.x.0/30"
host_ip=10.200.$net.1
ns_ip=10.200.$net.2

ip netns add "$ns"
ip link add "$veth_host" type veth peer name "$veth_ns"
ip link set "$veth_ns" netns "$ns"
ip addr add "$host_ip/30" dev "$veth_host"
ip link set "$veth_host" up
ip netns exec "$ns" ip addr add "$ns_ip/30" dev "$veth_ns"
ip netns exec "$ns" ip link set "$veth_ns" up
ip netns exec "$ns" ip link set lo up

# ---- The rules: syntax, then loaded twice (a reload must replace, not duplicate, the table).
ip netns exec "$ns" nft -c -f "$rules" || fail "nft -c rejects $rules"
ip netns exec "$ns" nft -f "$rules" || fail "nft -f $rules"
ip netns exec "$ns" nft -f "$rules" || fail "loading $rules a second time"
tables=$(ip netns exec "$ns" nft list tables | grep -c 'table inet filter' || true)
[ "$tables" = 1 ] || fail "expected one 'table inet filter' after two loads, found $tables"
drops=$(ip netns exec "$ns" nft list chain inet filter input | grep -c 'tcp dport 5432' || true)
[ "$drops" = 1 ] || fail "the 5432 rule appears $drops times after two loads"

# ---- Listeners.
listener_py='
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(16)
while True:
    c, _ = s.accept()
    c.close()
'
for port in $open_ports $blocked_ports $other_port; do
  cmd=$(eval "printf '%s' \"\${FW_LISTEN_CMD_$port:-}\"")
  if [ -n "$cmd" ]; then
    ip netns exec "$ns" sh -c "$cmd" >"$tmp/listener.$port.log" 2>&1 &
  else
    ip netns exec "$ns" python3 -c "$listener_py" "$port" >"$tmp/listener.$port.log" 2>&1 &
  fi
  pids="$pids $!"
done
# Wait (bounded) until each port is in LISTEN inside the namespace.
deadline=$(( $(date +%s) + ${FW_READY_TIMEOUT:-20} ))
for port in $open_ports $blocked_ports $other_port; do
  until ip netns exec "$ns" ss -Hltn "sport = :$port" | grep -q LISTEN; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      cat "$tmp/listener.$port.log" >&2
      fail "nothing listens on $port inside the namespace"
    fi
    sleep 0.1
  done
done

counter() {  # packets counted by the named counter
  ip netns exec "$ns" nft list counter inet filter "$1" | sed -n 's/.*packets \([0-9]*\).*/\1/p'
}
connect() {  # connect HOST PORT -> prints open | timeout | refused | error:...
  python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(1.0)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("open")
except socket.timeout:
    print("timeout")
except ConnectionRefusedError:
    print("refused")
except OSError as e:
    print("error:" + e.__class__.__name__)
finally:
    s.close()
PY
}

before_postgres=$(counter drop_postgres)
before_redis=$(counter drop_redis)
before_admin=$(counter drop_admin)
before_policy=$(counter drop_policy)

for port in $open_ports; do
  result=$(connect "$ns_ip" "$port")
  [ "$result" = open ] || fail "port $port should be reachable from outside, got $result"
  echo "firewall_netns_test: ok - $ns_ip:$port reachable"
done
for port in $blocked_ports $other_port; do
  result=$(connect "$ns_ip" "$port")
  case $result in
    timeout|refused) echo "firewall_netns_test: ok - $ns_ip:$port blocked ($result)" ;;
    *) fail "port $port must be blocked from outside, got $result" ;;
  esac
  # Control: the service is there, on the namespace's own loopback.
  inside=$(ip netns exec "$ns" sh -c "$(printf 'python3 -c %s 127.0.0.1 %s' "'import socket,sys; s=socket.create_connection((sys.argv[1],int(sys.argv[2])),1); print(\"open\")'" "$port")" 2>/dev/null || echo closed)
  [ "$inside" = open ] || fail "port $port does not answer on the namespace's loopback: the test proves nothing"
done

check_counter() {
  name=$1; before=$2
  after=$(counter "$name")
  if [ -z "$after" ] || [ "$after" -le "$before" ]; then
    fail "counter $name did not increase ($before -> ${after:-?})"
  fi
  echo "firewall_netns_test: ok - counter $name $before -> $after"
}
check_counter drop_postgres "$before_postgres"
check_counter drop_redis "$before_redis"
check_counter drop_admin "$before_admin"
check_counter drop_policy "$before_policy"

if command -v ping >/dev/null 2>&1; then
  ping -c 1 -W 1 "$ns_ip" >/dev/null 2>&1 || fail "ICMP echo to $ns_ip is dropped"
  echo "firewall_netns_test: ok - ICMP echo answered"
fi
echo "firewall_netns_test: PASS"
