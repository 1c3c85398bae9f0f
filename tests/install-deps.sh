#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine (run as root, as CI does):
# OpenStack Glance for the end-to-end tests, and promtool (Debian's prometheus package) for
# the metrics test. Idempotent: installed packages are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
./tests/glance/install.sh
./tests/metrics/install-promtool.sh
# wrk drives tests/soak.sh (make soak, and its smoke run in make test).
if ! command -v wrk >/dev/null; then
  log() { echo "install-deps.sh: $*" >&2; }
  die() { echo "install-deps.sh: ERROR: $*" >&2; exit 1; }
  source tests/lib/debian.sh
  apt_install wrk
fi
