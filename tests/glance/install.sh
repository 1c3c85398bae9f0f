#!/usr/bin/env bash
# Install OpenStack Glance (Debian bookworm: glance-api 25.1) for imagegate's
# end-to-end tests. Idempotent and non-interactive; run as root.
#
#   tests/glance/install.sh
#
# Does nothing when /usr/bin/glance-api and /usr/bin/glance are already there.
# Otherwise it preseeds debconf (no DB / RabbitMQ / Keystone / endpoint setup),
# blocks service starts with a temporary /usr/sbin/policy-rc.d (the package's
# own service would listen on 0.0.0.0:9292 with an everyone-is-admin
# pipeline), installs the packages, and makes sure no packaged glance-api
# service is left running or enabled. The tests start their own glance-api
# with tests/glance/start.sh.
set -euo pipefail

log() { echo "install.sh: $*" >&2; }
die() { echo "install.sh: ERROR: $*" >&2; exit 1; }

if [[ -x /usr/bin/glance-api && -x /usr/bin/glance ]]; then
  log "glance-api already installed ($(dpkg-query -W -f='${Version}' glance-api 2>/dev/null || echo '?')); nothing to do"
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (it calls apt-get install); try: sudo $0"
command -v apt-get >/dev/null || die "apt-get not found: this script needs Debian/Ubuntu (Debian bookworm ships glance-api 25.1)"

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
printf '#!/bin/sh\n# temporary, from imagegate tests/glance/install.sh\nexit 101\n' >"$POLICY"
chmod 0755 "$POLICY"

# --- debconf answers: configure nothing ---------------------------------------
if command -v debconf-set-selections >/dev/null; then
  debconf-set-selections <<'EOF'
glance-common glance/configure_db boolean false
glance-common glance/configure_rabbit boolean false
glance-common glance/configure_ksat boolean false
glance-api glance/configure_api-endpoint boolean false
EOF
else
  log "debconf-set-selections missing; relying on DEBIAN_FRONTEND=noninteractive"
fi

# --- apt-get update only when the package is unknown --------------------------
candidate() { apt-cache policy glance-api 2>/dev/null | awk '/Candidate:/ {print $2}'; }
updated=false
apt_update() {
  log "running apt-get update"
  apt-get update -q || die "apt-get update failed (are Debian's package mirrors reachable?)"
  updated=true
}
cand=$(candidate)
if [[ -z $cand || $cand == "(none)" ]]; then
  log "glance-api not in the package lists"
  apt_update
  cand=$(candidate)
  [[ -n $cand && $cand != "(none)" ]] || die "no installable glance-api package found after apt-get update (needs Debian bookworm 'main')"
fi

install_pkgs() {
  apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    glance-api python3-glanceclient
}
log "installing glance-api $cand and python3-glanceclient (1-3 minutes)"
if ! install_pkgs; then
  $updated && die "apt-get install glance-api python3-glanceclient failed; see the output above"
  # Stale package lists (a superseded version gone from the mirror): refresh once.
  log "apt-get install failed; retrying once after apt-get update"
  apt_update
  install_pkgs || die "apt-get install glance-api python3-glanceclient failed; see the output above"
fi

[[ -x /usr/bin/glance-api ]] || die "/usr/bin/glance-api still missing after apt-get install"
[[ -x /usr/bin/glance-manage ]] || die "/usr/bin/glance-manage missing after apt-get install"

# --- make sure the packaged service is neither running nor enabled ------------
if [[ -d /run/systemd/system ]]; then
  systemctl disable --now glance-api.service >/dev/null 2>&1 || true
else
  # No systemd as PID 1: stop via the init script (it uses its own pid file),
  # then take it out of the runlevels.
  if [[ -x /etc/init.d/glance-api ]]; then
    /etc/init.d/glance-api stop >/dev/null 2>&1 || true
  fi
  systemctl disable glance-api.service >/dev/null 2>&1 || true
fi
if command -v update-rc.d >/dev/null && [[ -e /etc/init.d/glance-api ]]; then
  update-rc.d glance-api disable >/dev/null 2>&1 || true
fi
if [[ -s /run/glance/glance-api.pid ]]; then
  pid=$(cat /run/glance/glance-api.pid)
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping packaged glance-api (pid $pid)"
    kill "$pid" 2>/dev/null || true
  fi
fi

log "done in $(( $(date +%s) - start ))s: $(/usr/bin/glance-api --version 2>&1 | tail -1)"
