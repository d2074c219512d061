#!/bin/sh
# Tests of the monitoring configuration (deploy/prometheus, deploy/alertmanager, deploy/grafana):
#   1. promtool check config / check rules, promtool test rules (tests/monitoring/alerts_test.yml)
#      and a mutation pass: each threshold moved up or down must make the unit tests fail;
#   2. amtool check-config;
#   3. the Grafana provisioning and dashboard (JSON, metric names, data source uid);
#   4. live: a real prometheus scrapes a fake Bastion admin listener (bearer token required)
#      whose metrics cross every threshold; all alert rules must become pending/firing within
#      LIVE_TIMEOUT s and below-threshold series must not; the firing recorder-drop alert must
#      reach a real prometheus-alertmanager and its webhook (bearer token), and a critical alert
#      must inhibit the warning of the same alertname/upstream.
# Needs: promtool, prometheus, amtool, prometheus-alertmanager, curl, python3 with yaml.
# Usage: sh tests/monitoring/run.sh   (from anywhere; ~30 s)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
deploy="$root/deploy"
LIVE_TIMEOUT=${LIVE_TIMEOUT:-60}
tmp=$(mktemp -d)
pids=""

cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    for p in $pids; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$p" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# wait_http URL SECONDS: until URL answers 2xx (bounded).
wait_http() {
    i=0
    while ! curl -sf -o /dev/null --max-time 1 "$1"; do
        i=$((i + 1))
        [ $i -le $(($2 * 5)) ] || return 1
        sleep 0.2
    done
}

for tool in promtool prometheus amtool prometheus-alertmanager curl python3; do
    command -v "$tool" >/dev/null || fail "$tool not installed"
done
python3 -c 'import yaml' || fail "python3 yaml module missing (Debian: python3-yaml)"

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$tmp/token"
chmod 0400 "$tmp/token"

# --- 1. Prometheus --------------------------------------------------------------------------
step "promtool check config (credentials_file rewritten to a temp token)"
mkdir "$tmp/prom"
cp "$deploy/prometheus/alerts.yml" "$tmp/prom/alerts.yml"
python3 "$here/render_configs.py" prometheus "$deploy/prometheus/prometheus.yml" "$tmp/prom/prometheus.yml" "$tmp/token"
timeout 30 promtool check config --lint=all --lint-fatal "$tmp/prom/prometheus.yml"
timeout 30 promtool check config --syntax-only "$deploy/prometheus/prometheus.yml"

step "promtool check rules"
timeout 30 promtool check rules --lint=all --lint-fatal "$deploy/prometheus/alerts.yml"

step "promtool test rules"
(cd "$here" && timeout 60 promtool test rules alerts_test.yml)

step "mutations: every moved threshold must break the unit tests"
mkdir -p "$tmp/mut/deploy/prometheus" "$tmp/mut/tests/monitoring"
cp "$here/alerts_test.yml" "$tmp/mut/tests/monitoring/"
killed=0
while IFS='|' read -r what expr; do
    [ -n "$what" ] || continue
    sed "$expr" "$deploy/prometheus/alerts.yml" > "$tmp/mut/deploy/prometheus/alerts.yml"
    cmp -s "$tmp/mut/deploy/prometheus/alerts.yml" "$deploy/prometheus/alerts.yml" && fail "mutation '$what' changed nothing"
    if (cd "$tmp/mut/tests/monitoring" && timeout 60 promtool test rules alerts_test.yml >/dev/null 2>&1); then
        fail "unit tests still pass with mutation: $what"
    fi
    killed=$((killed + 1))
done <<'MUTATIONS'
memory threshold up|s/memory_bytes > 1\.5e9$/memory_bytes > 1.7e9/
memory threshold down|s/memory_bytes > 1\.5e9$/memory_bytes > 1.3e9/
memory for longer|0,/for: 5m/s//for: 10m/
prediction horizon shorter|s/\[15m\], 1800)/[15m], 600)/
prediction threshold down|s/1800) > 1\.5e9/1800) > 1.2e9/
latency threshold up|s/^          ) > 5$/          ) > 10/
latency threshold down|s/^          ) > 5$/          ) > 3/
latency quantile|s/histogram_quantile(0\.95,/histogram_quantile(0.5,/
error rate up|s/> 0\.05$/> 0.15/
error rate down|s/> 0\.05$/> 0.02/
error status filter|s/status!="ok"/status="error"/
upstream down|s/bastion_upstream_up == 0/bastion_upstream_up < 0/
upstream down for|/alert: BastionUpstreamDown/,/for:/s/for: 1m/for: 5m/
restart loop threshold down|s/\[10m\])) > 3/[10m])) > 2/
recorder drops|s/dropped_total\[5m\]) > 0/dropped_total[5m]) > 5/
queue backlog down|s/queue_depth > 10000/queue_depth > 5000/
bastion down job|s/up{job="bastion"} == 0/up == 0/
MUTATIONS
echo "  $killed mutations detected by the unit tests"

# --- 2. Alertmanager ------------------------------------------------------------------------
step "amtool check-config"
timeout 30 amtool check-config "$deploy/alertmanager/alertmanager.yml"
python3 "$here/render_configs.py" alertmanager "$deploy/alertmanager/alertmanager.yml" "$tmp/am-check.yml" "$tmp/token"
timeout 30 amtool check-config "$tmp/am-check.yml" >/dev/null

# --- 3. Grafana -----------------------------------------------------------------------------
step "Grafana provisioning and dashboard"
python3 -m json.tool "$deploy/grafana/dashboards/bastion.json" >/dev/null
python3 "$here/check_dashboard.py" "$deploy/grafana/dashboards/bastion.json" \
    "$deploy/grafana/provisioning/datasources/prometheus.yml" \
    "$deploy/grafana/provisioning/dashboards/bastion.yml"

# --- 4. Live --------------------------------------------------------------------------------
step "live: fake bastion, prometheus, alertmanager on loopback"
python3 "$here/fake_bastion.py" 0 "$tmp/token" "$tmp/hook.log" "$tmp/fake.port" 2>"$tmp/fake.err" &
pids="$pids $!"
i=0
while [ ! -s "$tmp/fake.port" ]; do
    i=$((i + 1)); [ $i -le 50 ] || fail "fake bastion did not start: $(cat "$tmp/fake.err")"; sleep 0.1
done
fake_port=$(cat "$tmp/fake.port")
# The metrics endpoint refuses requests without the token, as Bastion's admin listener does.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$fake_port/metrics")
[ "$code" = 401 ] || fail "fake bastion answered $code without a token"
curl -sf --max-time 2 -H "Authorization: Bearer $(cat "$tmp/token")" "http://127.0.0.1:$fake_port/metrics" \
    | timeout 10 promtool check metrics

am_port=$(free_port)
mkdir "$tmp/am-data"
python3 "$here/render_configs.py" alertmanager "$deploy/alertmanager/alertmanager.yml" "$tmp/am.yml" \
    "$tmp/token" "http://127.0.0.1:$fake_port/hook"
prometheus-alertmanager --config.file="$tmp/am.yml" --storage.path="$tmp/am-data" \
    --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= --log.level=warn \
    >"$tmp/am.log" 2>&1 &
pids="$pids $!"

prom_port=$(free_port)
dead_port=$(free_port)   # nothing listens there: BastionDown's target
mkdir "$tmp/live" "$tmp/live/data"
cp "$deploy/prometheus/alerts.yml" "$tmp/live/alerts.yml"
python3 "$here/render_configs.py" prometheus "$deploy/prometheus/prometheus.yml" "$tmp/live/prometheus.yml" \
    "$tmp/token" "127.0.0.1:$fake_port" "127.0.0.1:$dead_port" "127.0.0.1:$prom_port" "127.0.0.1:$am_port"
prometheus --config.file="$tmp/live/prometheus.yml" --storage.tsdb.path="$tmp/live/data" \
    --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$tmp/prom.log" 2>&1 &
pids="$pids $!"

wait_http "http://127.0.0.1:$am_port/-/ready" 20 || { cat "$tmp/am.log" >&2; fail "alertmanager not ready"; }
wait_http "http://127.0.0.1:$prom_port/-/ready" 30 || { cat "$tmp/prom.log" >&2; fail "prometheus not ready"; }

step "live: alert rules become pending/firing (<= ${LIVE_TIMEOUT}s)"
started=$(date +%s)
if ! timeout $((LIVE_TIMEOUT + 10)) python3 "$here/live_check.py" rules "http://127.0.0.1:$prom_port" "$LIVE_TIMEOUT" \
        "127.0.0.1:$fake_port" "127.0.0.1:$dead_port"; then
    tail -20 "$tmp/prom.log" >&2
    fail "live rules"
fi
# The scrape of the fake bastion used the token (a 401 would make its up 0).
curl -sf --max-time 5 "http://127.0.0.1:$prom_port/api/v1/query" \
    --data-urlencode "query=up{job=\"bastion\",instance=\"127.0.0.1:$fake_port\"} == 1" \
    | grep -q '"result":\[{' || fail "prometheus did not scrape the fake bastion with its token"

step "live: alertmanager routing, webhook with bearer token, inhibition"
if ! timeout $((LIVE_TIMEOUT + 10)) python3 "$here/live_check.py" alertmanager "http://127.0.0.1:$am_port" \
        "$tmp/hook.log" "$LIVE_TIMEOUT"; then
    tail -20 "$tmp/am.log" >&2
    fail "live alertmanager"
fi
echo "  live phase took $(( $(date +%s) - started ))s"

printf '\nmonitoring: all checks passed\n'
