"""Live assertions against a running Prometheus and Alertmanager (started by run.sh).

  live_check.py rules PROM_URL TIMEOUT_S
      Polls /api/v1/rules until every alert rule of alerts.yml is pending or firing and the
      recorder-drop alert fires; checks that below-threshold series raised nothing.
  live_check.py alertmanager AM_URL HOOK_LOG TIMEOUT_S
      Waits for Prometheus' firing BastionRecorderDropping to reach the webhook (with the
      bearer token: the receiver refuses others), then posts a critical and a warning alert of
      the same alertname/upstream and checks the warning is inhibited.
"""
import json
import sys
import time
import urllib.request

EXPECTED = {  # alert rule -> labels that must be among its active alerts
    "BastionDown": {"instance": "DEAD"},
    "BastionUpstreamDown": {"upstream": "broken"},
    "BastionUpstreamRestartLoop": {"upstream": "broken"},
    "BastionUpstreamMemoryHigh": {"upstream": "healthy", "replica": "0"},
    "BastionUpstreamMemoryGrowth": {"upstream": "leaky"},
    "BastionToolLatencyHigh": {"tool": "slow"},
    "BastionToolErrorRate": {"upstream": "broken"},
    "BastionHttpServerErrors": {"listener": "public"},
    "BastionRecorderDropping": {},
    "BastionRecorderSpooling": {},
    "BastionRecorderQueueBacklog": {},
    "BastionRateLimitedSurge": {"zone": "mcp_api"},
    "BastionAuthFailureSurge": {"reason": "invalid_token"},
}
FORBIDDEN = [  # (rule, labels) that must never be active: below their threshold
    ("BastionToolErrorRate", {"upstream": "healthy"}),
    ("BastionToolLatencyHigh", {"tool": "fast"}),
    ("BastionUpstreamMemoryHigh", {"replica": "1"}),
    ("BastionUpstreamMemoryGrowth", {"upstream": "healthy"}),
    ("BastionUpstreamDown", {"upstream": "healthy"}),
    ("BastionUpstreamRestartLoop", {"upstream": "healthy"}),
    ("BastionRateLimitedSurge", {"zone": "quiet"}),
    ("BastionAuthFailureSurge", {"reason": "expired"}),
    ("BastionHttpServerErrors", {"listener": "admin"}),
    ("BastionDown", {"instance": "LIVE"}),
]


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def matches(alert, labels):
    return all(alert["labels"].get(k) == v for k, v in labels.items())


def rules(prom, timeout, live, dead):
    subst = {"LIVE": live, "DEAD": dead}
    expected = {n: {k: subst.get(v, v) for k, v in l.items()} for n, l in EXPECTED.items()}
    forbidden = [(n, {k: subst.get(v, v) for k, v in l.items()}) for n, l in FORBIDDEN]
    deadline = time.monotonic() + timeout
    start = time.monotonic()
    while True:
        data = get(f"{prom}/api/v1/rules?type=alert")["data"]["groups"]
        by_name = {}
        for g in data:
            for r in g["rules"]:
                by_name.setdefault(r["name"], []).extend(r.get("alerts", []))
                if r.get("health") == "err":
                    sys.exit(f"rule {r['name']} health {r.get('health')}: {r.get('lastError')}")
        missing = [n for n in by_name if n not in expected]
        if missing:
            sys.exit(f"live_check: rules without a live expectation: {missing}")
        waiting = [n for n, l in expected.items()
                   if not any(matches(a, l) and a["state"] in ("pending", "firing") for a in by_name.get(n, []))]
        dropping_fires = any(a["state"] == "firing" for a in by_name.get("BastionRecorderDropping", []))
        if not waiting and dropping_fires:
            break
        if time.monotonic() > deadline:
            sys.exit(f"live_check: after {timeout}s still inactive: {waiting}"
                     f"{'' if dropping_fires else ' (BastionRecorderDropping not firing)'}")
        time.sleep(1)
    for n, l in forbidden:
        bad = [a for a in by_name.get(n, []) if matches(a, l)]
        if bad:
            sys.exit(f"live_check: {n} active for a below-threshold series: {bad[0]['labels']}")
    states = {n: sorted({a["state"] for a in by_name[n]}) for n in sorted(by_name)}
    print(f"live_check: all {len(by_name)} alert rules active after {time.monotonic() - start:.1f}s")
    for n, s in states.items():
        print(f"    {n}: {'/'.join(s)}")


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status


def alertmanager(am, hook_log, timeout):
    deadline = time.monotonic() + timeout
    start = time.monotonic()
    delivered = None
    while delivered is None:
        try:
            with open(hook_log) as f:
                for line in f:
                    msg = json.loads(line)
                    if any(a["labels"].get("alertname") == "BastionRecorderDropping" for a in msg["alerts"]):
                        delivered = msg
        except FileNotFoundError:
            pass
        if delivered is None:
            if time.monotonic() > deadline:
                sys.exit(f"live_check: no BastionRecorderDropping at the webhook after {timeout}s")
            time.sleep(0.5)
    if delivered["receiver"] != "ops-critical" or delivered["status"] != "firing":
        sys.exit(f"live_check: delivered to {delivered['receiver']} ({delivered['status']}), want ops-critical")
    print(f"live_check: webhook got BastionRecorderDropping via ops-critical after {time.monotonic() - start:.1f}s")

    # Inhibition: critical mutes the warning of the same alertname and upstream only.
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    common = {"alertname": "BastionToolErrorRate", "instance": "bastion:8123"}
    alerts = [
        {"labels": {**common, "upstream": "x", "severity": "critical"}, "startsAt": now},
        {"labels": {**common, "upstream": "x", "severity": "warning"}, "startsAt": now},
        {"labels": {**common, "upstream": "y", "severity": "warning"}, "startsAt": now},
    ]
    post(f"{am}/api/v2/alerts", alerts)
    while True:
        got = get(f"{am}/api/v2/alerts?filter=alertname%3D%22BastionToolErrorRate%22")
        state = {(a["labels"]["upstream"], a["labels"]["severity"]): a["status"]["state"] for a in got}
        want = {("x", "critical"): "active", ("x", "warning"): "suppressed", ("y", "warning"): "active"}
        if state == want:
            break
        if time.monotonic() > deadline:
            sys.exit(f"live_check: inhibition: got {state}, want {want}")
        time.sleep(0.5)
    print("live_check: critical inhibits the warning of the same alertname/upstream, not of another upstream")


if sys.argv[1] == "rules":
    rules(sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5])
elif sys.argv[1] == "alertmanager":
    alertmanager(sys.argv[2], sys.argv[3], float(sys.argv[4]))
else:
    sys.exit("usage: live_check.py rules|alertmanager ...")
