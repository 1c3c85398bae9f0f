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

export DEBIAN_FRONTEND=noninteractive
start=$(date +%s)

# --- temporary policy-rc.d (restored/removed on any exit) -------------------
POLICY=/usr/sbin/policy-rc.d
POLICY_BACKUP=""
if [[ -e $POLICY ]]; then
  POLICY_BACKUP=$(mktemp /tmp/policy-rc.d.backup.XXXXXX)
  cp -p "$POLICY" "$POLICY_BACKUP"
fi
restore_policy() {
  if [[ -n $POLICY_BACKUP ]]; then
    cp -p "$POLICY_BACKUP" "$POLICY" && rm -f "$POLICY_BACKUP"
  else
    rm -f "$POLICY"
  fi
}
trap restore_policy EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
printf '#!/bin/sh\n# temporary, from imagegate tests/metrics/install-promtool.sh\nexit 101\n' >"$POLICY"
chmod 0755 "$POLICY"

# --- apt-get update only when the package is unknown --------------------------
candidate() { apt-cache policy prometheus 2>/dev/null | awk '/Candidate:/ {print $2}'; }
updated=false
apt_update() {
  log "running apt-get update"
  apt-get update -q || die "apt-get update failed (are Debian's package mirrors reachable?)"
  updated=true
}
cand=$(candidate)
if [[ -z $cand || $cand == "(none)" ]]; then
  log "prometheus not in the package lists"
  apt_update
  cand=$(candidate)
  [[ -n $cand && $cand != "(none)" ]] || die "no installable prometheus package found after apt-get update"
fi

install_pkgs() {
  apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    prometheus
}
log "installing prometheus $cand for promtool (about 20 MB)"
if ! install_pkgs; then
  $updated && die "apt-get install prometheus failed; see the output above"
  # Stale package lists (a superseded version gone from the mirror): refresh once.
  log "apt-get install failed; retrying once after apt-get update"
  apt_update
  install_pkgs || die "apt-get install prometheus failed; see the output above"
fi

command -v promtool >/dev/null || die "promtool still missing after apt-get install prometheus"

# --- make sure the packaged server is neither running nor enabled -------------
if [[ -d /run/systemd/system ]]; then
  systemctl disable --now prometheus.service >/dev/null 2>&1 || true
else
  if [[ -x /etc/init.d/prometheus ]]; then
    /etc/init.d/prometheus stop >/dev/null 2>&1 || true
  fi
  systemctl disable prometheus.service >/dev/null 2>&1 || true
fi
if command -v update-rc.d >/dev/null && [[ -e /etc/init.d/prometheus ]]; then
  update-rc.d prometheus disable >/dev/null 2>&1 || true
fi

log "done in $(( $(date +%s) - start ))s: $(promtool --version 2>&1 | head -1)"
