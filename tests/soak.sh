#!/usr/bin/env bash
# Soak and load: runs the real imagegate in front of the in-memory image API for
# DURATION with TENANTS tenants (each with its own token and images) under wrk, sampling
# the admin metrics, then checks that
#   - no request answered 5xx (no fault is injected here) and wrk saw no socket errors;
#   - goroutines and memory did not grow between the first and the last fifth of the run;
#   - every request the proxy counted has its decision event in the log.
# Usage: tests/soak.sh [DURATION=30s] [TENANTS=500] [CONNECTIONS=32]
set -euo pipefail
duration=${1:-30s}
tenants=${2:-500}
conns=${3:-32}
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null; then
  apt-get install -y -q wrk >/dev/null 2>&1 || { echo "soak: wrk is needed (apt-get install wrk)"; exit 1; }
fi
work=$(mktemp -d /tmp/imagegate-soak.XXXXXX)
env_pid=""
ig_pid=""
sampler_pid=""
cleanup() {
  for pid in $sampler_pid $ig_pid $env_pid; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP_SOAK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/imagegate" ./cmd/imagegate
go build -o "$work/soakenv" ./tests/soak
"$work/soakenv" "$work" "$tenants" &
env_pid=$!
for _ in $(seq 100); do [ -f "$work/ready" ] && break; sleep 0.1; done
[ -f "$work/ready" ] || { echo "soak: the image API did not start"; exit 1; }

"$work/imagegate" serve --config "$work/imagegate.yaml" 2>"$work/imagegate.log" &
ig_pid=$!
listen=""
for _ in $(seq 100); do
  line=$(grep -m1 '"msg":"imagegate serving"' "$work/imagegate.log" || true)
  if [ -n "$line" ]; then
    listen=$(sed -E 's/.*"listen":"([^"]*)".*/\1/' <<<"$line")
    admin=$(sed -E 's/.*"admin_listen":"([^"]*)".*/\1/' <<<"$line")
    break
  fi
  sleep 0.1
done
[ -n "$listen" ] || { echo "soak: imagegate did not start"; cat "$work/imagegate.log"; exit 1; }

metrics() { curl -sf "http://$admin/metrics"; }
sample() {
  metrics | awk -v t="$(date +%s)" '
    $1=="go_goroutines"{g=$2} $1=="go_memstats_heap_inuse_bytes"{h=$2} $1=="process_resident_memory_bytes"{r=$2}
    END{printf "%s %d %d %d\n", t, g, h, r}'
}
( while true; do sample >>"$work/samples.txt"; sleep 5; done ) &
sampler_pid=$!

echo "soak: $duration, $tenants tenants, $conns connections, proxy $listen"
wrk -t2 -c"$conns" -d"$duration" --timeout 10s --latency -s tests/soak.lua "http://$listen" -- "$work/tokens.txt" | tee "$work/wrk.txt"
sleep 1
sample >>"$work/samples.txt"
kill "$sampler_pid"; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=""
metrics >"$work/metrics.txt"

kill -TERM "$ig_pid"
if ! wait "$ig_pid"; then echo "soak: imagegate did not exit cleanly"; tail -20 "$work/imagegate.log"; exit 1; fi
ig_pid=""

requests=$(awk '/^imagegate_requests_total\{/{s+=$2} END{printf "%d", s}' "$work/metrics.txt")
fivexx=$(awk '/^imagegate_requests_total\{/ && /code="5/{s+=$2} END{printf "%d", s}' "$work/metrics.txt")
dropped=$(awk '/^imagegate_decision_log_dropped_total/{s+=$2} END{printf "%d", s}' "$work/metrics.txt")
events=$(wc -l <"$work/decisions.jsonl")
wrk5xx=$(sed -nE 's/^wrk statuses: .*5xx=([0-9]+).*/\1/p' "$work/wrk.txt")
wrkerr=$(sed -nE 's/^wrk errors: connect=([0-9]+) read=([0-9]+) write=([0-9]+) timeout=([0-9]+).*/\1 \2 \3 \4/p' "$work/wrk.txt" | awk '{print $1+$2+$3+$4}')

# Growth: median of the first fifth of the samples (after the first) against the last fifth.
read -r g0 g1 h0 h1 r0 r1 < <(awk '
  {t[NR]=$1; g[NR]=$2; h[NR]=$3; r[NR]=$4}
  function med(a, from, to,   n, i, j, v, tmp) { n=0; for (i=from; i<=to; i++) v[++n]=a[i];
    for (i=1;i<=n;i++) for (j=i+1;j<=n;j++) if (v[j]<v[i]) {tmp=v[i]; v[i]=v[j]; v[j]=tmp}
    return v[int((n+1)/2)] }
  END { k=int((NR-1)/5); if (k<1) k=1;
    printf "%d %d %d %d %d %d\n", med(g,2,1+k), med(g,NR-k+1,NR), med(h,2,1+k), med(h,NR-k+1,NR), med(r,2,1+k), med(r,NR-k+1,NR) }' "$work/samples.txt")

echo "soak summary"
echo "  requests counted by the proxy: $requests (decision events: $events, dropped: $dropped)"
echo "  5xx: proxy $fivexx, wrk $wrk5xx; wrk socket errors: $wrkerr"
echo "  goroutines: $g0 -> $g1; heap in use: $((h0 >> 20)) MiB -> $((h1 >> 20)) MiB; RSS: $((r0 >> 20)) MiB -> $((r1 >> 20)) MiB (first fifth -> last fifth, $(wc -l <"$work/samples.txt") samples)"
awk '/^imagegate_requests_total\{/{match($0, /code="[0-9]+"/); c=substr($0, RSTART+6, 3); s[c]+=$2} END{printf "  by status:"; for (c in s) printf " %s=%d", c, s[c]; printf "\n"}' "$work/metrics.txt"

fail=0
[ "$requests" -gt 0 ] || { echo "FAIL: no requests"; fail=1; }
[ "$fivexx" -eq 0 ] && [ "${wrk5xx:-0}" -eq 0 ] || { echo "FAIL: 5xx answers"; fail=1; }
[ "${wrkerr:-0}" -eq 0 ] || { echo "FAIL: wrk socket errors"; fail=1; }
[ "$events" -eq "$requests" ] && [ "$dropped" -eq 0 ] || { echo "FAIL: $requests requests but $events decision events ($dropped dropped)"; fail=1; }
[ "$g1" -le $((g0 + g0 / 5 + 20)) ] || { echo "FAIL: goroutines grew from $g0 to $g1"; fail=1; }
[ "$h1" -le $((h0 + h0 / 2 + (16 << 20))) ] || { echo "FAIL: heap grew from $h0 to $h1"; fail=1; }
[ "$r1" -le $((r0 + r0 / 2 + (32 << 20))) ] || { echo "FAIL: RSS grew from $r0 to $r1"; fail=1; }
if [ $fail -eq 0 ]; then echo "soak: PASS"; else echo "soak: FAIL"; fi
exit $fail
