#!/bin/sh
# Offline validation of deploy/k8s: every YAML parses, each object is well formed, the
# Deployment is locked down (non-root 1001, read-only root, no privilege escalation, no
# capabilities, RuntimeDefault seccomp, probes, resources), HPA/PDB/NetworkPolicy as designed;
# the ConfigMap's config passes bastion check-config; kustomize builds when kubectl is there.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
k8s=$root/deploy/k8s
fail() { echo "k8s_test: FAIL: $*" >&2; exit 1; }
command -v python3 >/dev/null 2>&1 || fail "python3 is required"
python3 -c 'import yaml' 2>/dev/null || fail "python3 yaml module is required (apt-get install python3-yaml)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

python3 "$here/k8s_check.py" "$k8s" "$tmp/bastion.yaml" || fail "manifest checks (see above)"

bin=$("$here/find_bastion.sh")
if [ -n "$bin" ]; then
  "$bin" check-config -c "$tmp/bastion.yaml" >/dev/null || fail "$bin check-config rejects the ConfigMap's bastion.yaml (a stale build? rebuild, or set BASTION_BIN)"
  echo "k8s_test: ok - the ConfigMap's bastion.yaml is valid"
else
  echo "k8s_test: SKIP check-config of the ConfigMap (no built bastion)"
fi

if command -v kubectl >/dev/null 2>&1; then
  # kustomize renders offline; `kubectl create --dry-run=client` would need an API server
  # for discovery (and would try localhost:8080 without a kubeconfig), so it is not used.
  timeout 60 kubectl kustomize "$k8s" >"$tmp/rendered.yaml" 2>"$tmp/err" || { cat "$tmp/err" >&2; fail "kubectl kustomize"; }
  python3 - "$tmp/rendered.yaml" <<'PY' || fail "kustomize output"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
bad = [d["kind"] + "/" + d["metadata"]["name"] for d in docs
       if d["kind"] != "Namespace" and d["metadata"].get("namespace") != "bastion"]
assert not bad, f"objects outside namespace bastion: {bad}"
print(f"k8s_test: ok - kubectl kustomize renders {len(docs)} objects")
PY
else
  echo "k8s_test: SKIP kubectl kustomize (kubectl not installed)"
fi
echo "k8s_test: PASS"
