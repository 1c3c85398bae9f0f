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

# shellcheck source=../lib/debian.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/debian.sh"
start=$(date +%s)

block_service_starts tests/glance/install.sh

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

log "installing glance-api and python3-glanceclient (1-3 minutes)"
apt_install glance-api python3-glanceclient

[[ -x /usr/bin/glance-api ]] || die "/usr/bin/glance-api still missing after apt-get install"
[[ -x /usr/bin/glance-manage ]] || die "/usr/bin/glance-manage missing after apt-get install"

# --- make sure the packaged service is neither running nor enabled ------------
disable_service glance-api
if [[ -s /run/glance/glance-api.pid ]]; then
  pid=$(cat /run/glance/glance-api.pid)
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping packaged glance-api (pid $pid)"
    kill "$pid" 2>/dev/null || true
  fi
fi

log "done in $(( $(date +%s) - start ))s: $(/usr/bin/glance-api --version 2>&1 | tail -1)"
