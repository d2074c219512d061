#!/usr/bin/env python3
"""Static checks of the Dockerfile and .dockerignore (used by dockerfile_test.sh).

Prints the runtime stage's apt packages on the last line as `RUNTIME_PACKAGES: a b c`."""
import fnmatch
import json
import os
import re
import subprocess
import sys

root = sys.argv[1]
errors = []


def check(cond, message):
    if not cond:
        errors.append(message)


# ---- Dockerfile: logical lines (continuations joined, comments dropped) split into stages.
lines, current = [], ""
for raw in open(os.path.join(root, "Dockerfile")):
    stripped = raw.strip()
    if stripped.startswith("#") or not stripped:
        continue
    if stripped.endswith("\\"):
        current += stripped[:-1] + " "
        continue
    lines.append(current + stripped)
    current = ""
stages = []
for line in lines:
    instr, _, rest = line.partition(" ")
    instr = instr.upper()
    if instr == "FROM":
        stages.append({"from": rest.split()[0], "name": rest.split()[-1] if " AS " in rest.upper() else "", "lines": []})
    elif stages:
        stages[-1]["lines"].append((instr, rest.strip()))
    else:
        check(instr == "ARG", f"instruction before the first FROM: {instr}")

check(len(stages) >= 2, "the Dockerfile must be multi-stage (build, runtime)")
build, final = stages[0], stages[-1]
check(build["from"] == "debian:12", f"build stage must be FROM debian:12, is {build['from']}")
check(final["from"] == "debian:12-slim", f"runtime stage must be FROM debian:12-slim, is {final['from']}")


def instrs(stage, name):
    return [rest for instr, rest in stage["lines"] if instr == name]


users = instrs(final, "USER")
check(users and users[-1] == "1001:1001", f"the final stage's last USER must be 1001:1001, got {users}")
check(instrs(final, "HEALTHCHECK") and "CMD" in instrs(final, "HEALTHCHECK")[-1], "HEALTHCHECK CMD in the runtime stage")
hc = instrs(final, "HEALTHCHECK")[-1] if instrs(final, "HEALTHCHECK") else ""
check("127.0.0.1" in hc or "/healthz" in hc, "HEALTHCHECK must probe the local admin /healthz")
check(instrs(final, "STOPSIGNAL") == ["SIGTERM"], "STOPSIGNAL SIGTERM")
expose = " ".join(instrs(final, "EXPOSE")).split()
check(set(expose) == {"8443", "8080"}, f"EXPOSE 8443 8080, got {expose}")
check(instrs(final, "ENTRYPOINT") and json.loads(instrs(final, "ENTRYPOINT")[-1]) == ["bastion"], 'ENTRYPOINT ["bastion"]')
check(instrs(final, "CMD") and json.loads(instrs(final, "CMD")[-1]) == ["serve", "-c", "/etc/bastion/bastion.yaml"],
      'CMD ["serve","-c","/etc/bastion/bastion.yaml"]')
check(any("/var/lib/bastion" in v for v in instrs(final, "VOLUME")), "VOLUME /var/lib/bastion")
labels = " ".join(instrs(final, "LABEL"))
for key in ("title", "description", "version", "revision", "source", "licenses"):
    check(f"org.opencontainers.image.{key}=" in labels, f"LABEL org.opencontainers.image.{key}")
runs = " ".join(instrs(final, "RUN"))
check("useradd" in runs and "--uid 1001" in runs and "--gid 1001" in runs, "a bastion user and group 1001")
check(re.search(r"install -d -o 1001 -g 1001 [^&]*/var/lib/bastion", runs), "/var/lib/bastion owned by 1001")
check("--no-install-recommends" in runs and "rm -rf /var/lib/apt/lists" in runs, "apt without recommends, lists removed")

# No secrets in ENV or ARG: names and values.
secret_name = re.compile(r"PASS|SECRET|TOKEN|PRIVATE|CREDENTIAL|(^|_)KEY($|_)", re.I)
secret_value = re.compile(r"-----BEGIN|bst_[A-Za-z0-9]|eyJ[A-Za-z0-9_-]+\.|[A-Fa-f0-9]{32,}|://[^/\s:@]+:[^/\s@]+@")
for stage in stages:
    for instr, rest in stage["lines"]:
        if instr not in ("ENV", "ARG"):
            continue
        for pair in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)(?:=(\"[^\"]*\"|\S*))?", rest):
            name, value = pair
            check(not secret_name.search(name), f"{instr} {name}: a secret-looking name (secrets are files)")
            check(not secret_value.search(value), f"{instr} {name}: a secret-looking value")
for stage in stages:
    for instr, rest in stage["lines"]:
        check(not (instr == "ADD" and re.search(r"https?://", rest)), "ADD from a URL")
        check(not (instr == "RUN" and re.search(r"\b(curl|wget)\b", rest)), "no download in RUN (Debian packages only)")

# COPY sources the build needs exist; the probe is executable.
for stage in stages:
    for instr, rest in stage["lines"]:
        if instr != "COPY" or "--from=" in rest:
            continue
        srcs = [a for a in rest.split() if not a.startswith("--")][:-1]
        for s in srcs:
            check(os.path.exists(os.path.join(root, s)), f"COPY source {s} does not exist")
probe = os.path.join(root, "deploy/docker/bastion-admin-probe")
check(os.access(probe, os.X_OK), "deploy/docker/bastion-admin-probe must be executable")

# The build stage's packages are the build dependencies of scripts/install-deps.sh.
deps_text = open(os.path.join(root, "scripts/install-deps.sh")).read()
m = re.search(r'packages="([^"]*)"', deps_text)
install_deps = set(m.group(1).split()) if m else set()
build_runs = " ".join(instrs(build, "RUN"))
build_pkgs = set(re.findall(r"\b(lib[a-z0-9.+-]+-dev|build-essential|cmake|ninja-build|pkg-config)\b", build_runs))
check(build_pkgs, "the build stage installs no packages")
for p in sorted(build_pkgs - install_deps):
    check(False, f"build stage package {p} is not in scripts/install-deps.sh")
for p in sorted(p for p in install_deps if p.endswith("-dev") and p not in build_pkgs
                and not re.match(r"lib(gtest|gmock|benchmark)-dev", p)):
    check(False, f"build dependency {p} of scripts/install-deps.sh is missing from the build stage")

runtime_pkgs = []
for run in instrs(final, "RUN"):
    m = re.search(r"apt-get install ([^&]*)", run)
    if m:
        runtime_pkgs += [w for w in m.group(1).split() if not w.startswith("-")]
check(runtime_pkgs, "the runtime stage installs no packages")
check(not [p for p in runtime_pkgs if p.endswith("-dev")], "a -dev package in the runtime stage")

# ---- .dockerignore: the patterns, and what they do to the repository's files.
ignore_path = os.path.join(root, ".dockerignore")
patterns = [l.strip() for l in open(ignore_path) if l.strip() and not l.strip().startswith("#")]
for required in (".git", "build/", "**/node_modules", ".env*", "*.pem", "*.key", "secrets/", "bastion-data/"):
    check(required in patterns, f".dockerignore lacks {required}")


def to_regex(pattern):
    # Docker's rules: paths relative to the context, '**' any number of directories,
    # '*' and '?' within one path element; a match on a directory excludes its contents.
    p = pattern.lstrip("/").rstrip("/")
    out, i = "", 0
    while i < len(p):
        if p.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif p.startswith("**", i):
            out += ".*"
            i += 2
        elif p[i] == "*":
            out += "[^/]*"
            i += 1
        elif p[i] == "?":
            out += "[^/]"
            i += 1
        elif p[i] == "[":
            j = p.index("]", i)
            out += p[i:j + 1]
            i = j + 1
        else:
            out += re.escape(p[i])
            i += 1
    return re.compile("^" + out + "$")


compiled = [(p.startswith("!"), to_regex(p[1:] if p.startswith("!") else p)) for p in patterns]


def excluded(path):
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    result = False
    for negate, rx in compiled:
        if any(rx.match(pre) for pre in prefixes):
            result = not negate
    return result


if len(sys.argv) > 2 and sys.argv[2] == "--context":
    # Lists the files `docker build` would send (for a dry run of the build stage).
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        rel = "" if rel == "." else rel + "/"
        dirnames[:] = [d for d in dirnames if not excluded(rel + d)]
        for f in filenames:
            if not excluded(rel + f):
                print(rel + f)
    sys.exit(0)

needed = ["CMakeLists.txt", "CMakePresets.json", "cmake/BastionTargets.cmake", "src/app/main.cpp",
          "src/core/config.cpp", "src/core/secrets.cpp", "agents/demo/CMakeLists.txt",
          "deploy/config/bastion.container.yaml", "deploy/docker/bastion-admin-probe"]
for f in needed:
    check(not excluded(f), f".dockerignore excludes {f}, which the build needs")
for f in [".git/config", "build/dev/src/app/bastion", "tests/integration/node_modules/x/index.js", ".env",
          ".env.production", "server.pem", "deploy/x/tls.key", "secrets/token", "deploy/compose/secrets/postgres_password",
          "bastion-data/interactions.db", "deploy/compose/secrets/tls_key"]:
    check(excluded(f), f".dockerignore lets {f} into the build context")
try:
    tracked = subprocess.run(["git", "-C", root, "ls-files"], capture_output=True, text=True, check=True).stdout.split()
    for f in tracked:
        if f.startswith(("src/", "cmake/", "agents/")) and excluded(f):
            check(False, f".dockerignore excludes tracked source {f}")
except (OSError, subprocess.CalledProcessError):
    pass

if errors:
    for e in errors:
        print(f"  - {e}", file=sys.stderr)
    sys.exit(1)
print("RUNTIME_PACKAGES: " + " ".join(runtime_pkgs))
