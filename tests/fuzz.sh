#!/usr/bin/env bash
# Runs every fuzz target of the module for a bounded time each (default 10s).
# A crash fails the run; its input is kept under testdata/fuzz/ and becomes a test case.
set -euo pipefail
fuzztime=${1:-10s}
cd "$(dirname "$0")/.."
status=0
while read -r pkg; do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "fuzz $pkg $target ($fuzztime)"
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" > /tmp/imagegate-fuzz.log 2>&1; then
      cat /tmp/imagegate-fuzz.log
      status=1
    fi
  done
done < <(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u | sed 's#^\.#github.com/imagegate/imagegate#')
exit $status
