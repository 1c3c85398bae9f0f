#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine (run as root, as CI does):
# OpenStack Glance for the end-to-end tests. Idempotent: installed packages are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
./tests/glance/install.sh
