#!/usr/bin/env python3
"""Checks a `docker-compose config` rendering of deploy/compose (used by compose_test.sh)."""
import argparse
import os
import re
import sys

import yaml

SECRET_WORDS = re.compile(r"PASS|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE", re.I)
INTERNAL_ONLY = ["postgres", "redis", "prometheus", "alertmanager", "grafana", "agent"]
EXPECTED = ["bastion", "postgres", "redis", "prometheus", "alertmanager", "grafana", "agent"]

errors = []


def check(cond, message):
    if not cond:
        errors.append(message)


def parse_port(entry):
    """Returns (host_ip, published, target) for the short or long syntax."""
    if isinstance(entry, dict):
        return entry.get("host_ip", ""), str(entry.get("published", "")), str(entry.get("target", ""))
    text = str(entry).split("/")[0]
    parts = text.rsplit(":", 2)
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return "", "", parts[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rendered", required=True)
    ap.add_argument("--values", required=True)
    ap.add_argument("--secrets-dir", required=True)
    ap.add_argument("--compose-dir", required=True)
    ap.add_argument("--host-ports", required=True)
    ap.add_argument("--host-ip", required=True)
    args = ap.parse_args()

    text = open(args.rendered).read()
    doc = yaml.safe_load(text)
    services = doc.get("services", {})

    # 1. No secret value anywhere in the rendered configuration.
    for value in open(args.values).read().split():
        check(value not in text, "a secret value appears in the rendered compose configuration")

    # 2. Every service present.
    for name in EXPECTED:
        check(name in services, f"service {name} is missing")

    # 3. Secrets: files only, from the overridable folder, each with a placeholder example.
    secrets = doc.get("secrets", {})
    check(secrets, "no top-level secrets")
    secrets_dir = os.path.realpath(args.secrets_dir)
    for name, spec in secrets.items():
        path = spec.get("file", "")
        check(os.path.realpath(os.path.dirname(path)) == secrets_dir,
              f"secret {name} is not read from BASTION_SECRETS_DIR ({path})")
        example = os.path.join(args.compose_dir, "secrets", name + ".example")
        check(os.path.isfile(example), f"secret {name} has no placeholder {example}")
        if os.path.isfile(example):
            body = open(example).read()
            check("CHANGE-ME" in body, f"{example} does not say CHANGE-ME")
            check("PRIVATE KEY-----" not in body, f"{example} holds a private key")
    gitignore = os.path.join(args.compose_dir, "secrets", ".gitignore")
    check(os.path.isfile(gitignore) and "!*.example" in open(gitignore).read(),
          "deploy/compose/secrets/.gitignore must ignore everything but *.example")

    # 4. Environment: anything secret-looking is a *_FILE path, never a value.
    for name, svc in services.items():
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
        for key, value in env.items():
            if SECRET_WORDS.search(key):
                check(key.endswith("_FILE") and str(value).startswith("/run/secrets/"),
                      f"{name}: environment {key} must be a *_FILE path under /run/secrets")
        for arg in ("build",):
            build = svc.get(arg) or {}
            check(not (isinstance(build, dict) and build.get("args")), f"{name}: build args are not allowed")

    # 5. Published ports: bastion only, 80/443 -> 8080/8443.
    expected_host = set(args.host_ports.split(","))
    for name, svc in services.items():
        ports = svc.get("ports") or []
        if name != "bastion":
            check(not ports, f"{name} publishes ports {ports}: only bastion may")
            continue
        mapping = {}
        for entry in ports:
            host_ip, published, target = parse_port(entry)
            mapping[published] = target
            check(host_ip in (args.host_ip, "") if args.host_ip == "0.0.0.0" else host_ip == args.host_ip,
                  f"bastion publishes on {host_ip or 'all addresses'}, expected {args.host_ip}")
        check(set(mapping) == expected_host, f"bastion publishes {sorted(mapping)}, expected {sorted(expected_host)}")
        https, http = sorted(expected_host, key=int)[1], sorted(expected_host, key=int)[0]
        check(mapping.get(https) == "8443" and mapping.get(http) == "8080",
              f"bastion port mapping {mapping}: expected {http}->8080 and {https}->8443")
        check("8123" not in mapping.values(), "the admin port is published")

    # 6. Bastion hardening.
    b = services.get("bastion", {})
    check(b.get("read_only") is True, "bastion: read_only must be true")
    check("ALL" in (b.get("cap_drop") or []), "bastion: cap_drop must contain ALL")
    check(not b.get("cap_add"), "bastion: no cap_add")
    check("no-new-privileges:true" in (b.get("security_opt") or []), "bastion: security_opt no-new-privileges:true")
    check(str(b.get("user")) == "1001:1001", f"bastion: user must be 1001:1001, got {b.get('user')}")
    check(any(str(t).split(":")[0] == "/tmp" for t in (b.get("tmpfs") or [])), "bastion: tmpfs /tmp")
    check(not b.get("privileged"), "bastion: privileged")
    check(b.get("mem_limit") and b.get("cpus"), "bastion: mem_limit and cpus (docker-compose 1.29)")
    limits = ((b.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    check(limits.get("memory") and limits.get("cpus"), "bastion: deploy.resources.limits")
    check(bool(b.get("healthcheck", {}).get("test")), "bastion: healthcheck")
    check(b.get("stop_signal") == "SIGTERM", "bastion: stop_signal SIGTERM")
    check(any(str(v).split(":")[1] == "/var/lib/bastion" for v in b.get("volumes", []) if ":" in str(v)),
          "bastion: /var/lib/bastion volume")

    # 7. Every service: healthcheck, restart policy, no-new-privileges, limits.
    for name, svc in services.items():
        check(bool((svc.get("healthcheck") or {}).get("test")), f"{name}: healthcheck")
        check(svc.get("restart") in ("unless-stopped", "always", "on-failure", "no"), f"{name}: restart policy")
        check("no-new-privileges:true" in (svc.get("security_opt") or []), f"{name}: no-new-privileges")
        check(svc.get("mem_limit"), f"{name}: mem_limit")
        check(not svc.get("privileged"), f"{name}: privileged")
        check(svc.get("network_mode") != "host", f"{name}: host network")

    # 8. Networks: the backing services never sit on a network with a way out, except
    #    alertmanager's dedicated outbound one; bastion reaches them over internal networks.
    networks = doc.get("networks", {})
    internal = {n for n, spec in networks.items() if (spec or {}).get("internal") is True}
    check({"backend", "monitoring"} <= internal, f"backend and monitoring must be internal, internal: {sorted(internal)}")
    for name in INTERNAL_ONLY:
        nets = set((services.get(name, {}).get("networks") or {}))
        external = nets - internal - ({"outbound"} if name == "alertmanager" else set())
        check(not external, f"{name} is on non-internal network(s) {sorted(external)}")
    check("edge" in (b.get("networks") or {}) and "edge" not in internal, "bastion: edge network for its ports")

    # 9. Monitoring configuration comes from deploy/prometheus, deploy/alertmanager, deploy/grafana.
    deploy_dir = os.path.realpath(os.path.join(args.compose_dir, ".."))
    mounts = {name: [str(v).split(":")[0] for v in svc.get("volumes") or []] for name, svc in services.items()}
    for name, rel in (("prometheus", "prometheus/prometheus.yml"), ("prometheus", "prometheus/alerts.yml"),
                      ("alertmanager", "alertmanager/alertmanager.yml"), ("grafana", "grafana/provisioning")):
        want = os.path.join(deploy_dir, rel)
        check(any(os.path.realpath(m) == want for m in mounts.get(name, [])), f"{name} does not mount deploy/{rel}")

    if errors:
        for e in errors:
            print(f"  - {e}", file=sys.stderr)
        return 1
    print(f"compose_check: {args.rendered}: {len(services)} services OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
