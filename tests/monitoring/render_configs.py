"""Rewrites the production monitoring configs for the tests, leaving everything else as is.

  render_configs.py prometheus SRC DST TOKEN_FILE [TARGET DEAD_TARGET PROM_ADDR AM_ADDR]
      The bearer token path becomes TOKEN_FILE. With the live arguments, bastion:8123 becomes
      TARGET (plus DEAD_TARGET, a closed port, so BastionDown has something to see), intervals
      drop to 1s, Prometheus scrapes itself at PROM_ADDR, and alerts go to AM_ADDR.
  render_configs.py alertmanager SRC DST TOKEN_FILE [HOOK_URL]
      Every webhook credentials_file becomes TOKEN_FILE (and every URL HOOK_URL when given).
"""
import sys

import yaml


def fail(msg):
    sys.exit(f"render_configs: {msg}")


def prometheus(src, dst, token_file, live):
    cfg = yaml.safe_load(open(src))
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    bastion = jobs.get("bastion") or fail("no bastion job")
    auth = bastion.get("authorization") or fail("bastion job has no authorization")
    if auth.get("credentials_file") != "/run/secrets/bastion_admin_token":
        fail("bastion job does not read /run/secrets/bastion_admin_token")
    auth["credentials_file"] = token_file
    if live:
        target, dead, prom_addr, am_addr = live
        cfg["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
        bastion["static_configs"] = [{"targets": [target, dead], "labels": {"service": "bastion"}}]
        jobs["prometheus"]["static_configs"] = [{"targets": [prom_addr]}]
        jobs["alertmanager"]["static_configs"] = [{"targets": [am_addr]}]
        cfg["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": [am_addr]}]
    yaml.safe_dump(cfg, open(dst, "w"), sort_keys=False)


def alertmanager(src, dst, token_file, hook_url):
    cfg = yaml.safe_load(open(src))
    hooks = [w for r in cfg["receivers"] for w in r.get("webhook_configs", [])]
    if not hooks:
        fail("no webhook receivers")
    for w in hooks:
        w["http_config"]["authorization"]["credentials_file"] = token_file
        if hook_url:
            w["url"] = hook_url
    yaml.safe_dump(cfg, open(dst, "w"), sort_keys=False)


if sys.argv[1] == "prometheus":
    prometheus(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:9] if len(sys.argv) > 5 else None)
elif sys.argv[1] == "alertmanager":
    alertmanager(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else None)
else:
    fail("mode must be prometheus or alertmanager")
