#!/bin/sh
# Static checks of the Dockerfile and .dockerignore (no Docker engine needed), hadolint when it
# is installed, and: every shared library the built binaries load comes from a package the
# runtime stage installs (or from debian:12-slim itself, or as a dependency of one of them).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
fail() { echo "dockerfile_test: FAIL: $*" >&2; exit 1; }
command -v python3 >/dev/null 2>&1 || fail "python3 is required"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

python3 "$here/dockerfile_check.py" "$root" >"$tmp/check.out" || fail "static checks (see above)"
runtime_packages=$(sed -n 's/^RUNTIME_PACKAGES: //p' "$tmp/check.out")
echo "dockerfile_test: static checks passed; runtime packages: $runtime_packages"

if command -v hadolint >/dev/null 2>&1; then
  hadolint --failure-threshold error "$root/Dockerfile" || fail "hadolint"
  echo "dockerfile_test: hadolint passed"
else
  echo "dockerfile_test: SKIP hadolint (not installed; not in Debian 12)"
fi
if command -v shellcheck >/dev/null 2>&1; then
  shellcheck "$root/deploy/docker/bastion-admin-probe" || fail "shellcheck deploy/docker/bastion-admin-probe"
fi

# Runtime libraries. Packages of debian:12-slim itself (Essential and apt's own dependencies).
base_packages="libc6 libgcc-s1 libstdc++6 zlib1g libzstd1 liblzma5 libbz2-1.0 libcrypt1 libselinux1 libpcre2-8-0 libacl1 libattr1 libcap2 libgmp10 libudev1 libsystemd0 liblz4-1 libgcrypt20 libgpg-error0 libmd0 libtinfo6 libxxhash0 libseccomp2"
bin=$("$here/find_bastion.sh")
if [ -z "$bin" ]; then
  echo "dockerfile_test: SKIP runtime library check (no built bastion: build a preset first)"
  echo "dockerfile_test: PASS"
  exit 0
fi
command -v dpkg >/dev/null 2>&1 || fail "dpkg is required for the runtime library check"
agent=$(dirname "$bin")/../../agents/demo/bastion-demo-agent

# The dependency closure of the listed packages, from the local apt cache.
closure=""
if command -v apt-cache >/dev/null 2>&1; then
  # shellcheck disable=SC2086
  closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances $runtime_packages 2>/dev/null | sed -n 's/^ *\(Pre\)\{0,1\}Depends: //p; /^[a-z0-9]/p' |
    sed 's/[<>]//g; s/:any$//; s/:amd64$//' | sort -u | tr '\n' ' ')
fi
package_of() {
  # ldd prints /lib/... paths; dpkg may know the file under /lib or /usr/lib (merged /usr).
  lib=$1
  for candidate in "$lib" "$(readlink -f "$lib")" "/usr$lib" "${lib#/usr}"; do
    owner=$(dpkg -S "$candidate" 2>/dev/null | head -n1 | cut -d: -f1) || true
    if [ -n "$owner" ]; then echo "$owner"; return 0; fi
  done
  owner=$(dpkg -S "*/$(basename "$lib")" 2>/dev/null | head -n1 | cut -d: -f1) || true
  echo "$owner"
}
in_list() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }

checked=0
for exe in "$bin" "$agent"; do
  [ -x "$exe" ] || continue
  # Libraries the executable names itself must come from a listed package or the base image.
  needed=$(readelf -d "$exe" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  ldd "$exe" >"$tmp/ldd" || fail "ldd $exe"
  grep -q 'not found' "$tmp/ldd" && fail "ldd $exe: a library is not found"
  # shellcheck disable=SC2013 # paths from ldd have no spaces
  for lib in $(awk '$2 == "=>" && $3 ~ /^\// {print $3}' "$tmp/ldd"); do
    pkg=$(package_of "$lib")
    [ -n "$pkg" ] || fail "$(basename "$exe"): no Debian package owns $lib"
    name=$(basename "$lib")
    direct=0
    for n in $needed; do [ "$n" = "$name" ] && direct=1; done
    if in_list "$pkg" "$runtime_packages" || in_list "$pkg" "$base_packages"; then
      :
    elif [ "$direct" = 0 ] && in_list "$pkg" "$closure"; then
      :  # pulled in by a listed package
    else
      fail "$(basename "$exe") needs $name from package $pkg, which the Dockerfile's runtime stage does not install"
    fi
    checked=$((checked + 1))
  done
done
echo "dockerfile_test: $checked runtime libraries of $(basename "$bin") (and the demo agent) map to the runtime stage's packages"
echo "dockerfile_test: PASS"
