#!/usr/bin/env python3
"""Offline checks of deploy/k8s (used by k8s_test.sh). Writes the ConfigMap's bastion.yaml to
the path given as second argument, for bastion check-config."""
import glob
import os
import sys

import yaml

k8s_dir, config_out = sys.argv[1], sys.argv[2]
errors = []


def check(cond, message):
    if not cond:
        errors.append(message)


objects = {}
for path in sorted(glob.glob(os.path.join(k8s_dir, "*.yaml"))):
    try:
        docs = [d for d in yaml.safe_load_all(open(path)) if d is not None]
    except yaml.YAMLError as e:
        errors.append(f"{path}: does not parse: {e}")
        continue
    check(docs, f"{path}: empty")
    for d in docs:
        name = os.path.basename(path)
        check(isinstance(d, dict), f"{name}: not a mapping")
        if not isinstance(d, dict):
            continue
        check(d.get("apiVersion"), f"{name}: apiVersion missing")
        check(d.get("kind"), f"{name}: kind missing")
        if d.get("kind") != "Kustomization":
            check((d.get("metadata") or {}).get("name"), f"{name}: metadata.name missing")
        objects.setdefault(d.get("kind"), []).append((name, d))

for kind in ("Namespace", "Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler",
             "PodDisruptionBudget", "NetworkPolicy", "Kustomization", "ServiceAccount"):
    check(kind in objects, f"no {kind}")

# Kustomization lists every manifest except the adapter example (other namespace).
kust = objects.get("Kustomization", [(None, {})])[0][1]
listed = set(kust.get("resources", []))
for path in glob.glob(os.path.join(k8s_dir, "*.yaml")):
    base = os.path.basename(path)
    if base in ("kustomization.yaml", "prometheus-adapter-rules.yaml"):
        continue
    check(base in listed, f"kustomization.yaml does not list {base}")
for r in listed:
    check(os.path.isfile(os.path.join(k8s_dir, r)), f"kustomization.yaml lists missing {r}")

# Deployment.
dep = objects.get("Deployment", [(None, {})])[0][1]
pod = (dep.get("spec") or {}).get("template", {}).get("spec", {})
psc = pod.get("securityContext") or {}
check(psc.get("runAsNonRoot") is True, "pod runAsNonRoot")
check(psc.get("runAsUser") == 1001 and psc.get("runAsGroup") == 1001 and psc.get("fsGroup") == 1001,
      "pod runAsUser/runAsGroup/fsGroup 1001")
check((psc.get("seccompProfile") or {}).get("type") == "RuntimeDefault", "pod seccompProfile RuntimeDefault")
check(pod.get("automountServiceAccountToken") is False, "automountServiceAccountToken false")
containers = pod.get("containers") or []
check(len(containers) == 1, "one container")
c = containers[0] if containers else {}
sc = c.get("securityContext") or {}
check(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
check(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation false")
check((sc.get("capabilities") or {}).get("drop") == ["ALL"], "capabilities drop ALL")
check(not (sc.get("capabilities") or {}).get("add"), "no added capabilities")
check(sc.get("privileged") in (None, False), "not privileged")
res = c.get("resources") or {}
for part in ("requests", "limits"):
    for r in ("cpu", "memory"):
        check((res.get(part) or {}).get(r), f"resources.{part}.{r}")
live, ready = c.get("livenessProbe") or {}, c.get("readinessProbe") or {}
check((live.get("httpGet") or {}).get("path") == "/healthz", "liveness probes /healthz")
check((live.get("httpGet") or {}).get("scheme") == "HTTPS", "liveness over HTTPS (the public port is TLS)")
ready_cmd = " ".join((ready.get("exec") or {}).get("command") or [])
check("/readyz" in ready_cmd or (ready.get("httpGet") or {}).get("path") == "/readyz", "readiness probes /readyz")
env = {e["name"]: e.get("value") for e in c.get("env") or []}
for k, v in env.items():
    check(not any(w in k.upper() for w in ("PASSWORD", "TOKEN", "SECRET")) or k.endswith("_FILE"),
          f"env {k} looks like a secret value")
    check("valueFrom" not in str(v), f"env {k}")
volumes = {v["name"]: v for v in pod.get("volumes") or []}
secret_names = {v["secret"]["secretName"] for v in volumes.values() if "secret" in v}
check({"bastion-secrets", "bastion-tls"} <= secret_names, f"Secret volumes bastion-secrets and bastion-tls, got {secret_names}")
check(any("configMap" in v for v in volumes.values()), "ConfigMap volume")
mounts = {m["mountPath"]: m for m in c.get("volumeMounts") or []}
check("/var/lib/bastion" in mounts and "/tmp" in mounts, "writable /var/lib/bastion and /tmp mounts")
ports = {p["containerPort"] for p in c.get("ports") or []}
check({8443, 8080, 8123} <= ports, f"container ports, got {ports}")

# HPA, PDB, NetworkPolicy.
hpa = objects.get("HorizontalPodAutoscaler", [(None, {})])[0][1]
check(hpa.get("apiVersion") == "autoscaling/v2", "HPA autoscaling/v2")
metrics = (hpa.get("spec") or {}).get("metrics") or []
check(any(m.get("type") == "Resource" and m["resource"]["name"] == "cpu" for m in metrics), "HPA on CPU")
check(any(m.get("type") == "Pods" and m["pods"]["metric"]["name"] == "bastion_http_requests_per_second"
          for m in metrics), "HPA on bastion_http_requests_per_second")
adapter = [d for _, d in objects.get("ConfigMap", []) if "prometheus-adapter" in d["metadata"]["name"]]
check(adapter and "bastion_http_requests_per_second" in str(adapter[0].get("data")), "adapter rule ConfigMap")
pdb = objects.get("PodDisruptionBudget", [(None, {})])[0][1]
check(pdb.get("apiVersion") == "policy/v1", "PDB policy/v1")
np = objects.get("NetworkPolicy", [(None, {})])[0][1]
spec = np.get("spec") or {}
check(set(spec.get("policyTypes") or []) == {"Ingress", "Egress"}, "NetworkPolicy covers Ingress and Egress")
for rule in spec.get("ingress") or []:
    rports = {p["port"] for p in rule.get("ports") or []}
    if 8123 in rports:
        check(rule.get("from") and all("namespaceSelector" in f for f in rule["from"]),
              "the admin port is open to the monitoring namespace only")
        check(rports == {8123}, "the admin rule admits only 8123")
    else:
        check(rports <= {8443, 8080}, f"public ingress admits only 8443/8080, got {rports}")
egress_ports = {p["port"] for rule in spec.get("egress") or [] for p in rule.get("ports") or []}
check({53, 5432, 6379} <= egress_ports, f"egress to DNS, PostgreSQL, Redis, got {egress_ports}")

# Secrets: referenced, never shipped.
check("Secret" not in objects, "a Secret object is shipped: document `kubectl create secret` instead")
cms = [d for _, d in objects.get("ConfigMap", []) if d["metadata"]["name"] == "bastion-config"]
check(cms and "bastion.yaml" in cms[0].get("data", {}), "bastion-config ConfigMap with bastion.yaml")
if cms:
    open(config_out, "w").write(cms[0]["data"]["bastion.yaml"])

if errors:
    for e in errors:
        print(f"  - {e}", file=sys.stderr)
    sys.exit(1)
print(f"k8s_check: {sum(len(v) for v in objects.values())} objects OK")
