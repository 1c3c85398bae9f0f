#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine (run as root, as CI does):
# OpenStack Glance for the end-to-end tests, and promtool (Debian's prometheus package) for
# the metrics test. Idempotent: installed packages are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
./tests/glance/install.sh
./tests/metrics/install-promtool.sh
# wrk drives tests/soak.sh (make soak, and its smoke run in make test).
command -v wrk >/dev/null || apt-get install -y -q wrk || { apt-get update -q && apt-get install -y -q wrk; }
