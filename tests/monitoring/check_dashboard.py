"""Checks deploy/grafana: the dashboard is well-formed Grafana JSON and every query uses only
the metric names of ARCHITECTURE.md §8 (bastion_*), the supervisor's, process_*, up and ALERTS.

usage: check_dashboard.py DASHBOARD_JSON DATASOURCE_PROVISIONING_YML DASHBOARD_PROVIDER_YML
"""
import json
import re
import sys

import yaml

ALLOWED = {
    "bastion_http_requests_total", "bastion_tool_calls_total", "bastion_rate_limited_total",
    "bastion_auth_failures_total", "bastion_upstream_up", "bastion_upstream_restarts_total",
    "bastion_upstream_memory_bytes", "bastion_recorder_queue_depth", "bastion_recorder_spooled_total",
    "bastion_recorder_dropped_total", "up", "ALERTS",
    # Beyond §8: the supervisor's view (docs/operations.md).
    "bastion_upstream_replicas", "bastion_supervisor_actions_total", "bastion_upstream_memory_forecast_seconds",
}
HISTOGRAMS = {"bastion_http_request_duration_seconds", "bastion_tool_call_duration_seconds"}
for h in HISTOGRAMS:
    ALLOWED |= {h + "_bucket", h + "_sum", h + "_count"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
            "bool", "offset", "inf", "nan"}
errors = []


def check(cond, msg):
    if not cond:
        errors.append(msg)


def metric_names(expr):
    """Metric names a PromQL expression selects (label matchers, grouping and ranges removed)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)                      # string literals
    e = re.sub(r"\{[^}]*\}", " ", e)                                   # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)                                  # ranges
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\b\d+(\.\d+)?(e[+-]?\d+)?\b", " ", e)                # numbers
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        after = e[m.end():].lstrip()
        if after.startswith("("):                                      # a function
            continue
        if m.group(0).lower() in KEYWORDS:
            continue
        names.add(m.group(0))
    return names


def check_expr(where, expr):
    names = metric_names(expr)
    check(names, f"{where}: no metric in {expr!r}")
    for n in names:
        check(n in ALLOWED or n.startswith("process_"), f"{where}: unknown metric {n!r} in {expr!r}")


def main():
    dash = json.load(open(sys.argv[1]))
    ds = yaml.safe_load(open(sys.argv[2]))["datasources"]
    provider = yaml.safe_load(open(sys.argv[3]))["providers"]
    uids = {d["uid"] for d in ds if d["type"] == "prometheus"}
    check(len(uids) == 1, f"expected one prometheus data source, got {uids}")
    check(provider and provider[0]["type"] == "file" and provider[0]["options"]["path"],
          "dashboard provider: type file with a path")

    check(isinstance(dash.get("schemaVersion"), int) and 36 <= dash["schemaVersion"] <= 41,
          f"schemaVersion {dash.get('schemaVersion')}")
    for key in ("uid", "title", "panels", "templating", "time"):
        check(key in dash, f"dashboard lacks {key}")
    check(dash.get("id") is None, "provisioned dashboards must not carry a numeric id")

    variables = {v["name"]: v for v in dash["templating"]["list"]}
    check("upstream" in variables, "no templated upstream variable")
    for name, v in variables.items():
        check(v.get("datasource", {}).get("uid") in uids, f"variable {name}: datasource uid")
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", q)
        check(m is not None, f"variable {name}: label_values query expected, got {q!r}")
        if m:
            check_expr(f"variable {name}", m.group(1))

    ids, seen_exprs, used_upstream = set(), [], False
    panels = [p for p in dash["panels"]]
    panels += [c for p in dash["panels"] if p["type"] == "row" for c in p.get("panels", [])]
    for p in panels:
        where = f"panel {p.get('id')} {p.get('title')!r}"
        check(isinstance(p.get("id"), int) and p["id"] not in ids, f"{where}: unique integer id")
        ids.add(p.get("id"))
        g = p.get("gridPos", {})
        check(all(isinstance(g.get(k), int) for k in "hwxy") and g["x"] + g["w"] <= 24, f"{where}: gridPos")
        if p["type"] == "row":
            continue
        check(p["type"] in {"timeseries", "stat", "gauge", "table", "state-timeline", "bargauge"}, f"{where}: type")
        check(p.get("datasource", {}).get("uid") in uids, f"{where}: datasource uid")
        check(p.get("targets"), f"{where}: no targets")
        refs = set()
        for t in p.get("targets", []):
            check(t.get("datasource", {}).get("uid") in uids, f"{where}: target datasource uid")
            check(t.get("refId") not in refs, f"{where}: duplicate refId")
            refs.add(t.get("refId"))
            check_expr(where, t["expr"])
            seen_exprs.append(t["expr"])
            used_upstream |= "$upstream" in t["expr"]
    for a in dash.get("annotations", {}).get("list", []):
        if a.get("expr"):
            check(a.get("datasource", {}).get("uid") in uids, f"annotation {a.get('name')}: datasource uid")
            check_expr(f"annotation {a.get('name')}", a["expr"])
    check(used_upstream, "no panel filters on $upstream")

    # The panels the dashboard promises.
    joined = "\n".join(seen_exprs)
    for needle in ["bastion_http_requests_total", 'status!="ok"', "histogram_quantile(0.5,",
                   "histogram_quantile(0.95,", "histogram_quantile(0.99,", "by (le, tool)",
                   "bastion_tool_calls_total", "bastion_upstream_up", "bastion_upstream_memory_bytes",
                   "bastion_upstream_restarts_total", "bastion_rate_limited_total",
                   "bastion_auth_failures_total", "bastion_recorder_queue_depth",
                   "bastion_recorder_spooled_total", "bastion_recorder_dropped_total",
                   "process_cpu_seconds_total", "process_resident_memory_bytes"]:
        check(needle in joined, f"no panel query contains {needle}")

    # The metric-name check itself must reject strangers.
    check(metric_names('sum by (le) (rate(foo_total{a="b"}[5m])) / bar') == {"foo_total", "bar"},
          "metric_names self-test")

    if errors:
        for e in errors:
            print(f"  - {e}", file=sys.stderr)
        return 1
    print(f"check_dashboard: {len(panels)} panels, {len(seen_exprs)} queries OK")
    return 0


sys.exit(main())
