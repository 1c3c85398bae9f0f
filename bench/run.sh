#!/usr/bin/env bash
# imagegate's load benchmark harness, one command (docs/benchmarks.md):
#
#   ./bench/run.sh            # 3 repeats × 10 s per measurement, about 30 minutes
#   ./bench/run.sh --quick    # 1 repeat × 2 s, about 2 minutes
#   ./bench/run.sh --profile  # CPU and heap profiles of imagegate and go-bare instead
#   ./bench/run.sh --baseline-rev HEAD   # also imagegate built from a git revision, as
#                                        # hop imagegate-baseline (before/after rows)
#
# Any other argument goes to loadbench (./bench/run.sh --quick -h lists them). It builds
# the harness and imagegate from this tree, installs what is missing (wrk and haproxy
# from Debian, opa with go install, into a cache outside the tree), runs everything on
# 127.0.0.1, and writes bench/out/<time>/{report.md,results.json} and the logs.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export BENCH_COMMAND="./bench/run.sh $*"
OPA_VERSION=${OPA_VERSION:-v1.22.2}

if ! command -v wrk >/dev/null || ! command -v haproxy >/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		log() { echo "bench: $*" >&2; }
		die() { echo "bench: ERROR: $*" >&2; exit 1; }
		source tests/lib/debian.sh
		block_service_starts bench/run.sh # the haproxy package would start its own
		apt_install haproxy wrk
		disable_service haproxy
		restore_policy # now: the harness sets its own exit trap below
		trap - EXIT INT TERM HUP
	else
		echo "bench: needs wrk and haproxy (apt-get install -y haproxy wrk)" >&2
		exit 1
	fi
fi

tools=${XDG_CACHE_HOME:-$HOME/.cache}/imagegate-bench/bin
mkdir -p "$tools"
opa=$(command -v opa || true)
if [ -z "$opa" ]; then
	opa=$tools/opa
	if [ ! -x "$opa" ]; then
		echo "bench: installing opa $OPA_VERSION into $tools" >&2
		GOBIN=$tools GOFLAGS= go install "github.com/open-policy-agent/opa@$OPA_VERSION"
	fi
fi

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/" ./cmd/imagegate ./bench/cmd/loadbench ./bench/cmd/cannedglance ./bench/cmd/barehop \
	./bench/cmd/sidecarhop ./bench/cmd/pprofgate

args=()
while [ $# -gt 0 ]; do
	case $1 in
	--baseline-rev | -baseline-rev)
		# imagegate as of a git revision, built from `git archive` (the work tree is not touched)
		mkdir -p "$bin/baseline-src"
		git archive "$2" | tar -x -C "$bin/baseline-src"
		(cd "$bin/baseline-src" && go build -o "$bin/imagegate-baseline" ./cmd/imagegate)
		args+=(-baseline "$bin/imagegate-baseline")
		shift 2
		;;
	*)
		args+=("$1")
		shift
		;;
	esac
done

out=$root/bench/out/$(date -u +%Y%m%dT%H%M%SZ)
"$bin/loadbench" -bin "$bin" -out "$out" -opa "$opa" -wrk-script "$root/bench/wrk/check.lua" ${args[@]+"${args[@]}"}
