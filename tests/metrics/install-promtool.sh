#!/usr/bin/env bash
# Install promtool (Debian's prometheus package) for imagegate's metrics test, which runs
# `promtool check metrics` on a scrape of /metrics. Idempotent and non-interactive; run as
# root.
#
#   tests/metrics/install-promtool.sh
#
# Does nothing when promtool is already on PATH. Otherwise it blocks service starts with
# a temporary /usr/sbin/policy-rc.d (the package would start a Prometheus server on
# 0.0.0.0:9090, the port of imagegate's admin listener), installs the package without its
# recommendations (no node exporter), and makes sure no packaged prometheus service is
# left running or enabled. Only /usr/bin/promtool is used.
set -euo pipefail

log() { echo "install-promtool.sh: $*" >&2; }
die() { echo "install-promtool.sh: ERROR: $*" >&2; exit 1; }

if command -v promtool >/dev/null; then
  log "promtool already installed ($(promtool --version 2>&1 | head -1)); nothing to do"
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (it calls apt-get install); try: sudo $0"
command -v apt-get >/dev/null || die "apt-get not found: this script needs Debian/Ubuntu (package prometheus ships promtool)"

# shellcheck source=../lib/debian.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/debian.sh"
start=$(date +%s)

block_service_starts tests/metrics/install-promtool.sh
apt_install prometheus
command -v promtool >/dev/null || die "promtool still missing after apt-get install prometheus"
# The packaged server must be neither running nor enabled.
disable_service prometheus

log "done in $(( $(date +%s) - start ))s: $(promtool --version 2>&1 | head -1)"
