#!/bin/sh
# The rules of nftables.conf with ufw (Ubuntu and Debian hosts that use ufw instead).
#   ufw.sh [--dry-run]     --dry-run prints the ufw commands instead of running them
# Idempotent: ufw skips rules it already has, and the defaults are simply set again.
# ufw's own before.rules already accept loopback, established/related traffic and the ICMP
# and ICMPv6 messages IPv4/IPv6 need; IPv6 rules follow when IPV6=yes in /etc/default/ufw.
set -eu

dry_run=0
case "${1:-}" in
  --dry-run|-n) dry_run=1 ;;
  "") ;;
  -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--dry-run]" >&2; exit 2 ;;
esac

if [ "$dry_run" = 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "ufw.sh: run as root (or with --dry-run)" >&2; exit 1; fi
  command -v ufw >/dev/null 2>&1 || { echo "ufw.sh: ufw is not installed (apt-get install ufw)" >&2; exit 1; }
fi

# Dry run prints each command quoted for the shell, so it can be pasted or re-run as printed.
run() {
  if [ "$dry_run" = 1 ]; then
    line="ufw"
    for arg in "$@"; do
      case $arg in
        *[!A-Za-z0-9_./:=-]*) line="$line '$(printf '%s' "$arg" | sed "s/'/'\\\\''/g")'" ;;
        *) line="$line $arg" ;;
      esac
    done
    echo "$line"
  else
    ufw "$@"
  fi
}

run default deny incoming
run default allow outgoing
# Explicit, logged denies first: the same ports the nftables rules drop with counters.
run deny log 5432/tcp comment 'bastion: postgresql never public'
run deny log 6379/tcp comment 'bastion: redis never public'
run deny log 8123/tcp comment 'bastion: admin listener never public'
# `limit` also rate-limits SSH (6 new connections in 30 s per address).
run limit 22/tcp comment 'ssh'
run allow 80/tcp comment 'bastion: http (ACME, redirect to https)'
run allow 443/tcp comment 'bastion: https'
run --force enable
if [ "$dry_run" = 0 ]; then ufw status verbose; fi
