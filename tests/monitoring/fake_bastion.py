"""Stand-in for Bastion's admin listener and for an Alertmanager webhook receiver.

GET /metrics (bearer token required, 401 otherwise) serves the ARCHITECTURE.md §8 metrics with
values that cross every alert threshold of deploy/prometheus/alerts.yml, next to series that stay
below them. Counters grow with time since start so that rate()/increase() see traffic. rate()
over [5m] of a series only seconds old is about increase / 300 s, so the rates compared with an
absolute threshold (rate limiting, auth failures) are large to cross it within seconds.
POST /hook (bearer token required) appends the JSON body to HOOK_LOG, one line per request.

usage: fake_bastion.py PORT TOKEN_FILE HOOK_LOG PORT_READY_FILE
"""
import http.server
import json
import sys
import time

port, token_file, hook_log, ready_file = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
with open(token_file) as f:
    TOKEN = f.read().strip()
T0 = time.monotonic()
MAX_BODY = 1 << 20


def metrics_text() -> str:
    t = time.monotonic() - T0 + 1.0  # seconds since start, > 0
    out = []

    def add(name, labels, value):
        lbl = ",".join(f'{k}="{v}"' for k, v in labels.items())
        out.append(f"{name}{{{lbl}}} {value:.6f}" if lbl else f"{name} {value:.6f}")

    def typ(name, kind):
        out.append(f"# HELP {name} Test value for {name}.")
        out.append(f"# TYPE {name} {kind}")

    typ("bastion_http_requests_total", "counter")
    add("bastion_http_requests_total", {"listener": "public", "code": "200"}, 80 * t)
    add("bastion_http_requests_total", {"listener": "public", "code": "502"}, 20 * t)
    add("bastion_http_requests_total", {"listener": "admin", "code": "200"}, 10 * t)
    typ("bastion_http_request_duration_seconds", "histogram")
    for le, n in (("0.1", 90), ("1", 100), ("+Inf", 100)):
        add("bastion_http_request_duration_seconds_bucket", {"listener": "public", "le": le}, n * t)
    add("bastion_http_request_duration_seconds_sum", {"listener": "public"}, 5 * t)
    add("bastion_http_request_duration_seconds_count", {"listener": "public"}, 100 * t)

    typ("bastion_tool_calls_total", "counter")
    add("bastion_tool_calls_total", {"upstream": "broken", "tool": "echo", "status": "ok"}, 5 * t)
    add("bastion_tool_calls_total", {"upstream": "broken", "tool": "echo", "status": "error"}, 5 * t)
    add("bastion_tool_calls_total", {"upstream": "healthy", "tool": "echo", "status": "ok"}, 99 * t)
    add("bastion_tool_calls_total", {"upstream": "healthy", "tool": "echo", "status": "error"}, 1 * t)

    typ("bastion_tool_call_duration_seconds", "histogram")
    # slow: all calls between 5 and 10 s (p95 9.75 s); fast: all under 0.1 s.
    for tool, buckets in (("slow", (("0.1", 0), ("5", 0), ("10", 10), ("+Inf", 10))),
                          ("fast", (("0.1", 10), ("5", 10), ("10", 10), ("+Inf", 10)))):
        for le, n in buckets:
            add("bastion_tool_call_duration_seconds_bucket", {"upstream": "healthy", "tool": tool, "le": le}, n * t)
        add("bastion_tool_call_duration_seconds_sum", {"upstream": "healthy", "tool": tool}, (7 if tool == "slow" else 0.05) * 10 * t)
        add("bastion_tool_call_duration_seconds_count", {"upstream": "healthy", "tool": tool}, 10 * t)

    typ("bastion_rate_limited_total", "counter")
    add("bastion_rate_limited_total", {"zone": "mcp_api"}, 1000 * t)
    add("bastion_rate_limited_total", {"zone": "quiet"}, 0.01 * t)
    typ("bastion_auth_failures_total", "counter")
    add("bastion_auth_failures_total", {"reason": "invalid_token"}, 500 * t)
    add("bastion_auth_failures_total", {"reason": "expired"}, 0.01 * t)

    typ("bastion_upstream_up", "gauge")
    add("bastion_upstream_up", {"upstream": "broken"}, 0)
    add("bastion_upstream_up", {"upstream": "healthy"}, 1)
    typ("bastion_upstream_restarts_total", "counter")
    add("bastion_upstream_restarts_total", {"upstream": "broken", "reason": "crash"}, 2 * t)
    add("bastion_upstream_restarts_total", {"upstream": "healthy", "reason": "crash"}, 0)
    typ("bastion_upstream_memory_bytes", "gauge")
    add("bastion_upstream_memory_bytes", {"upstream": "healthy", "replica": "0"}, 1.6e9)
    add("bastion_upstream_memory_bytes", {"upstream": "healthy", "replica": "1"}, 1.0e9)
    # 1 GB growing 1 MB/s: below 1.5 GB now, above in 30 minutes.
    add("bastion_upstream_memory_bytes", {"upstream": "leaky", "replica": "0"}, 1.0e9 + 1e6 * t)

    typ("bastion_recorder_queue_depth", "gauge")
    add("bastion_recorder_queue_depth", {}, 90000)
    typ("bastion_recorder_spooled_total", "counter")
    add("bastion_recorder_spooled_total", {}, 10 * t)
    typ("bastion_recorder_dropped_total", "counter")
    add("bastion_recorder_dropped_total", {}, 1 * t)

    typ("process_cpu_seconds_total", "counter")
    add("process_cpu_seconds_total", {}, 0.05 * t)
    typ("process_resident_memory_bytes", "gauge")
    add("process_resident_memory_bytes", {}, 5e7)
    return "\n".join(out) + "\n"


class Handler(http.server.BaseHTTPRequestHandler):
    def authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {TOKEN}":
            return True
        self.send_response(401)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def do_GET(self):
        if self.path != "/metrics":
            self.send_error(404)
            return
        if not self.authorized():
            return
        body = metrics_text().encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        if self.path != "/hook":
            self.send_error(404)
            return
        if not self.authorized():
            return
        length = min(int(self.headers.get("Content-Length", "0")), MAX_BODY)
        body = json.loads(self.rfile.read(length))
        with open(hook_log, "a") as f:
            f.write(json.dumps(body) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.timeout = 5
with open(ready_file, "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
